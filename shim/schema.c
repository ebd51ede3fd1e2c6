/* Writes the Python package's _schema.py at build time, from the lists the
 * shim's own writer uses (figures.h, controller.h, common.h): the log's
 * figures, the names of its actions, signals and gate states, and beta and
 * beta_io as figures.c computes them; and every BETAPOOL_* variable with its
 * default and bounds, from options.c's table. Not part of the library. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "figures.h"
#include "options.h"

struct field {
    size_t offset;
    const char *key;
};

#define FIELD(member, key, in_table) {offsetof(struct bp_figures, member), key},
static const struct field fields[] = {BP_FIGURE_FIELDS(FIELD)};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *key_of(size_t offset)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].offset == offset)
            return fields[i].key;
    return NULL;
}

static void tuple(const char *name, const char *const *items, size_t n, const char *comment)
{
    printf("\n# %s\n%s = (", comment, name);
    for (size_t i = 0; i < n; i++)
        printf("%s\"%s\"", i ? ", " : "", items[i]);
    printf("%s)\n", n == 1 ? "," : "");
}

#define NAME(id, name) name,
#define RATIO_KEY(key, fn) key,
#define OFF_KEY(member) key_of(offsetof(struct bp_figures, member)),
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A double as Python reads it back: the fewest digits that round-trip, and a
 * point (0.0, not 0). */
static const char *py_float(double x, char *buf, size_t n)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (!strpbrk(buf, ".e"))
        strncat(buf, ".0", n - strlen(buf) - 1);
    return buf;
}

/* OPTIONS: {variable: {"name", "type", "default", "min", "max", "choices"}};
 * a path's default is None (unset). */
static void options(void)
{
    static const char *const types[] = {[OPT_BOOL] = "bool", [OPT_INT] = "int", [OPT_FLOAT] = "float",
                                        [OPT_CHOICE] = "choice", [OPT_PATH] = "path"};
    printf("\n# Every BETAPOOL_* variable (shim/options.c's table, in its order): its\n"
           "# name in the start record, type, default, bounds and choices.\nOPTIONS = {\n");
    for (int i = 0; i < OPT_COUNT; i++) {
        const struct bp_option *o = &bp_options[i];
        printf("    \"%s\": {\"name\": \"%s\", \"type\": \"%s\", ", o->env, o->name, types[o->type]);
        switch (o->type) {
        case OPT_BOOL:
        case OPT_INT:
            printf("\"default\": %ld, \"min\": %ld, \"max\": %ld, \"choices\": None},\n", o->def, o->min, o->max);
            break;
        case OPT_FLOAT:
        {
            char d[32], lo[32], hi[32];
            printf("\"default\": %s, \"min\": %s, \"max\": %s, \"choices\": None},\n", py_float(o->fdef, d, sizeof d),
                   py_float(o->fmin, lo, sizeof lo), py_float(o->fmax, hi, sizeof hi));
            break;
        }
        case OPT_CHOICE:
            printf("\"default\": \"%s\", \"min\": None, \"max\": None, \"choices\": (", o->choices[o->def]);
            for (int c = 0; o->choices[c]; c++)
                printf("%s\"%s\"", c ? ", " : "", o->choices[c]);
            printf(")},\n");
            break;
        case OPT_PATH:
            printf("\"default\": None, \"min\": None, \"max\": None, \"choices\": None},\n");
            break;
        }
    }
    printf("}\n");
}

int main(void)
{
    const char *figure_fields[NFIELDS];
    for (size_t i = 0; i < NFIELDS; i++)
        figure_fields[i] = fields[i].key;
    static const char *const ratios[] = {BP_FIGURE_RATIOS(RATIO_KEY)};
    const char *off[] = {BP_BETA_IO_OFF(OFF_KEY)};
    static const char *const actions[] = {BP_ACTIONS(NAME)};
    static const char *const pin_actions[] = {BP_PIN_ACTIONS(NAME)};
    static const char *const signals[] = {BP_SIGNALS(NAME)};
    static const char *const gate_states[] = {BP_GATE_STATES(NAME)};

    printf("\"\"\"The log's vocabulary, written at build time from the lists the shim's\n"
           "writer uses (shim/figures.h, shim/controller.h, shim/common.h) and the\n"
           "option table (shim/options.c). Do not edit: change those and rebuild.\"\"\"\n");
    printf("\nVERSION = \"%s\"\n", BP_VERSION);
    printf("# The log's schema, in its start record.\nSCHEMA = %d\n", BP_SCHEMA);
    tuple("FIGURE_FIELDS", figure_fields, NFIELDS,
          "A thread's or the process's figures, milliseconds, in the log's order\n"
          "# (sample, thread_exit, the exit record's threads and totals).");
    tuple("FIGURE_RATIOS", ratios, COUNT(ratios), "The ratios written after the figures.");
    tuple("ACTIONS", actions, COUNT(actions),
          "The decisions a run counts (the exit record's \"decisions\"); a decision\n"
          "# record's \"action\" is one of the first four (K's).");
    tuple("PIN_ACTIONS", pin_actions, COUNT(pin_actions), "A decision record's \"pin\".");
    tuple("SIGNALS", signals, COUNT(signals), "A decision record's \"signal\": why the gate is shut.");
    tuple("GATE_STATES", gate_states, COUNT(gate_states), "A decision record's \"gate\" and \"gate_was\".");
    tuple("BETA_IO_OFF", off, COUNT(off), "The figures beta_io leaves out of a thread's active time.");
    options();
    printf("\n\ndef beta(fig):\n"
           "    \"\"\"The seed's beta, 1 - cpu/wall within [0, 1], of figures in the log's\n"
           "    keys (missing ones count 0), as the shim computes it.\"\"\"\n"
           "    wall = fig.get(\"%s\") or 0.0\n"
           "    if wall <= 0:\n"
           "        return 0.0\n"
           "    return min(1.0, max(0.0, 1.0 - (fig.get(\"%s\") or 0.0) / wall))\n",
           key_of(offsetof(struct bp_figures, wall_ns)), key_of(offsetof(struct bp_figures, cpu_ns)));
    printf("\n\ndef beta_io(fig):\n"
           "    \"\"\"beta_io = (active - held) / active, active = wall minus BETA_IO_OFF:\n"
           "    the blocked share of active time, within [0, 1] (0 when active is 0),\n"
           "    as the shim computes it.\"\"\"\n"
           "    wall = fig.get(\"%s\") or 0.0\n"
           "    off = sum(fig.get(k) or 0.0 for k in BETA_IO_OFF)\n"
           "    held = fig.get(\"%s\") or 0.0\n"
           "    active = wall - off\n"
           "    if active <= 0 or active <= held:\n"
           "        return 0.0\n"
           "    return (active - held) / active\n",
           key_of(offsetof(struct bp_figures, wall_ns)), key_of(offsetof(struct bp_figures, held_ns)));
    return 0;
}
