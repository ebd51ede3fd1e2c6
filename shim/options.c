/* Every BETAPOOL_* variable, in one table. A bad value is reported once and
 * the documented default is used; nothing here ever stops the host. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"

static const char *const mode_choices[] = {"off", "observe", "auto", NULL};
static const char *const auto_choices[] = {"off", "auto", NULL};
static const char *const clock_choices[] = {"auto", "monotonic", NULL};
static const char *const handoff_choices[] = {"off", "auto", "directed", "ask", NULL};

/* Defaults are the measured ones, here only: the build writes them into the
 * Python package's _schema.py (schema.c), whence `betapool run --help` and
 * the log reader take them; README's table lists the same
 * (test_wrapper.py holds it to this table). */
struct bp_option bp_options[OPT_COUNT] = {
    /* auto by default: it acts only where the measurements say acting pays
     * (README, "What betapool does by default"). enforce, the name of the
     * acting mode in earlier versions, means auto. */
    [OPT_MODE] = {.name = "mode", .env = "BETAPOOL_MODE", .type = OPT_CHOICE, .def = MODE_AUTO, .choices = mode_choices,
                  .alias = "enforce", .alias_value = MODE_AUTO,
                  .doc = "off: pass every call through; observe: measure and log only; "
                         "auto: also act (GIL affinity, the gate, the GIL priority) where it pays"},
    [OPT_LOG] = {.name = "log", .env = "BETAPOOL_LOG", .type = OPT_PATH,
                 .doc = "JSON Lines log path; %p is replaced by the process id; unset: no log"},
    [OPT_INTERVAL_MS] = {.name = "interval_ms", .env = "BETAPOOL_INTERVAL_MS", .type = OPT_INT, .def = 100, .min = 10, .max = 60000,
                         .doc = "how often the shim's thread samples, decides and logs (ms)"},
    [OPT_VERBOSE] = {.name = "verbose", .env = "BETAPOOL_VERBOSE", .type = OPT_BOOL, .max = 1,
                     .doc = "print every option and what betapool found, on stderr"},
    [OPT_STATS] = {.name = "stats", .env = "BETAPOOL_STATS", .type = OPT_BOOL, .max = 1,
                   .doc = "print a table of the run on stderr at exit"},
    /* Two: one computing thread holds the GIL while one waits, and the
     * waiter's timeout rotates them in CPython's own slices. With one, the
     * holder is never asked to let go and the others wait for the park bound. */
    [OPT_MIN_WORKERS] = {.name = "min_workers", .env = "BETAPOOL_MIN_WORKERS", .type = OPT_INT, .def = 2, .min = 1, .max = 4096,
                         .doc = "fewest computing worker threads admitted to the GIL while the gate is shut"},
    [OPT_MAX_WORKERS] = {.name = "max_workers", .env = "BETAPOOL_MAX_WORKERS", .type = OPT_INT, .def = 8, .min = 1, .max = 4096,
                         .doc = "most computing worker threads admitted to the GIL while the gate is shut"},
    [OPT_GIL_DANGER] = {.name = "gil_danger", .env = "BETAPOOL_GIL_DANGER", .type = OPT_FLOAT, .fdef = 0.3, .fmin = 0.0, .fmax = 1.0,
                        .doc = "beta_io at or below which the veto brings K down"},
    [OPT_EWMA_ALPHA] = {.name = "ewma_alpha", .env = "BETAPOOL_EWMA_ALPHA", .type = OPT_FLOAT, .fdef = 0.2, .fmin = 0.01, .fmax = 1.0,
                        .doc = "smoothing of beta_io, weight of the newest interval"},
    [OPT_HYSTERESIS] = {.name = "hysteresis", .env = "BETAPOOL_HYSTERESIS", .type = OPT_INT, .def = 3, .min = 1, .max = 100,
                        .doc = "consecutive intervals that must agree before K moves"},
    [OPT_PARK_MAX_MS] = {.name = "park_max_ms", .env = "BETAPOOL_PARK_MAX_MS", .type = OPT_INT, .def = 1000, .min = 1, .max = 10000,
                         .doc = "longest a thread waits at the gate before it passes anyway (ms)"},
    [OPT_AFFINITY] = {.name = "affinity", .env = "BETAPOOL_AFFINITY", .type = OPT_CHOICE, .def = CHOICE_AUTO,
                      .choices = auto_choices,
                      .doc = "auto: while Python threads wait for the GIL and compute under it, keep them on one "
                             "CPU; off: never change a thread's CPU affinity"},
    [OPT_GATE] = {.name = "gate", .env = "BETAPOOL_GATE", .type = OPT_CHOICE, .def = CHOICE_AUTO, .choices = auto_choices,
                  .doc = "auto: park surplus computing workers outside the GIL while workers are forced off it; "
                         "off: never park"},
    [OPT_PRIORITY] = {.name = "priority", .env = "BETAPOOL_PRIORITY", .type = OPT_CHOICE, .def = CHOICE_AUTO,
                      .choices = auto_choices,
                      .doc = "auto: a thread that holds the GIL briefly and blocks outside it gets it within "
                             "priority_us; off: CPython's own 5 ms slices for everyone"},
    [OPT_PRIORITY_US] = {.name = "priority_us", .env = "BETAPOOL_PRIORITY_US", .type = OPT_INT, .def = 100, .min = 10,
                         .max = 5000,
                         .doc = "how long a favoured thread waits for the GIL before the holder is asked to let go (us)"},
    [OPT_HANDOFF] = {.name = "handoff", .env = "BETAPOOL_HANDOFF", .type = OPT_CHOICE, .def = HANDOFF_OFF,
                     .choices = handoff_choices,
                     .doc = "with the priority on, auto: a favoured wait asks the holder at once, and the free GIL "
                            "goes to the waiter whose turn it is (threads waiting 50 ms, then interactive ones, then "
                            "computing ones); directed: the latter only; ask: the former only; off: neither"},
    [OPT_REGISTRY] = {.name = "registry", .env = "BETAPOOL_REGISTRY", .type = OPT_PATH,
                      .doc = "the CPU registry processes under betapool share (affinity); unset: "
                             "$XDG_RUNTIME_DIR/betapool-cpus, else /dev/shm/betapool-cpus-UID"},
    [OPT_CLOCK] = {.name = "clock", .env = "BETAPOOL_CLOCK", .type = OPT_CHOICE, .def = CLOCKSEL_AUTO, .choices = clock_choices,
                   .doc = "auto: the TSC where the kernel keeps time with an invariant one, else CLOCK_MONOTONIC; "
                          "monotonic: always CLOCK_MONOTONIC"},
    [OPT_METRICS_DIR] = {.name = "metrics_dir", .env = "BETAPOOL_METRICS_DIR", .type = OPT_PATH,
                         .doc = "directory where the process keeps betapool-PID.prom current for Prometheus "
                                "(node_exporter's textfile collector); unset: no file"},
};

int bp_parse_long(const char *s, long *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int bp_parse_double(const char *s, double *out)
{
    /* Locale-independent: digits, one '.', no exponent, no sign but '-'. */
    while (isspace((unsigned char)*s))
        s++;
    int neg = 0, digits = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    double v = 0.0, scale = 1.0;
    for (; isdigit((unsigned char)*s); s++, digits++)
        v = v * 10.0 + (*s - '0');
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++, digits++)
            v += (*s - '0') * (scale /= 10.0);
    while (isspace((unsigned char)*s))
        s++;
    if (!digits || *s || v > 1e9)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

int bp_parse_bool(const char *s, long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static void describe_default(const struct bp_option *o, char *buf, size_t n)
{
    switch (o->type) {
    case OPT_CHOICE:
        snprintf(buf, n, "%s", o->choices[o->def]);
        break;
    case OPT_PATH:
        snprintf(buf, n, "unset");
        break;
    case OPT_FLOAT:
        snprintf(buf, n, "%.2f", o->fdef);
        break;
    case OPT_BOOL:
        snprintf(buf, n, "%ld", o->def);
        break;
    default:
        snprintf(buf, n, "%ld", o->def);
    }
}

static int parse_value(struct bp_option *o, const char *s, char *why, size_t whyn)
{
    long v;
    switch (o->type) {
    case OPT_BOOL:
        if (bp_parse_bool(s, &v)) {
            snprintf(why, whyn, "expected 1/0, true/false, yes/no or on/off");
            return -1;
        }
        o->value = v;
        return 0;
    case OPT_INT:
        if (bp_parse_long(s, &v)) {
            snprintf(why, whyn, "expected a whole number from %ld to %ld", o->min, o->max);
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(why, whyn, "out of range %ld..%ld", o->min, o->max);
            return -1;
        }
        o->value = v;
        return 0;
    case OPT_FLOAT: {
        double d;
        if (bp_parse_double(s, &d)) {
            snprintf(why, whyn, "expected a number from %.2f to %.2f", o->fmin, o->fmax);
            return -1;
        }
        if (d < o->fmin || d > o->fmax) {
            snprintf(why, whyn, "out of range %.2f..%.2f", o->fmin, o->fmax);
            return -1;
        }
        o->fvalue = d;
        return 0;
    }
    case OPT_CHOICE:
        for (long i = 0; o->choices[i]; i++) {
            if (!strcasecmp(s, o->choices[i])) {
                o->value = i;
                return 0;
            }
        }
        if (o->alias && !strcasecmp(s, o->alias)) {
            o->value = o->alias_value;
            return 0;
        }
        {
            size_t len = 0;
            len += (size_t)snprintf(why, whyn, "expected one of");
            for (long i = 0; o->choices[i] && len < whyn; i++)
                len += (size_t)snprintf(why + len, whyn - len, " %s", o->choices[i]);
        }
        return -1;
    case OPT_PATH:
        if (!*s) {
            snprintf(why, whyn, "empty path");
            return -1;
        }
        if (strlen(s) >= sizeof o->path) {
            snprintf(why, whyn, "path longer than %zu bytes", sizeof o->path - 1);
            return -1;
        }
        strcpy(o->path, s);
        o->value = 1;
        return 0;
    }
    return -1;
}

void bp_options_load(const char *(*getenv_fn)(const char *), void (*warn)(const char *msg))
{
    for (int i = 0; i < OPT_COUNT; i++) {
        struct bp_option *o = &bp_options[i];
        char why[160], def[64], msg[1024];
        o->value = o->def;
        o->fvalue = o->fdef;
        o->path[0] = 0;
        o->from_env = 0;
        const char *s = getenv_fn(o->env);
        if (!s)
            continue;
        if (parse_value(o, s, why, sizeof why) == 0) {
            o->from_env = 1;
            continue;
        }
        o->value = o->def;
        o->fvalue = o->fdef;
        o->path[0] = 0;
        describe_default(o, def, sizeof def);
        snprintf(msg, sizeof msg, "%s=\"%.200s\" is not valid (%s); using the default, %s", o->env, s,
                 why, def);
        warn(msg);
    }
    struct bp_option *lo = &bp_options[OPT_MIN_WORKERS], *hi = &bp_options[OPT_MAX_WORKERS];
    if (lo->value > hi->value) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "BETAPOOL_MIN_WORKERS=%ld is above BETAPOOL_MAX_WORKERS=%ld; using the defaults, %ld and %ld",
                 lo->value, hi->value, lo->def, hi->def);
        warn(msg);
        lo->value = lo->def;
        hi->value = hi->def;
        lo->from_env = hi->from_env = 0;
    }
}

/* The option's value as JSON (a string or a number). */
int bp_option_format(const struct bp_option *o, char *buf, size_t n)
{
    switch (o->type) {
    case OPT_CHOICE:
        return snprintf(buf, n, "\"%s\"", o->choices[o->value]);
    case OPT_PATH:
        if (!o->value)
            return snprintf(buf, n, "null");
        {
            /* Quote the path for JSON: escape quotes, backslashes, controls. */
            size_t len = 0;
            if (n < 3)
                return -1;
            buf[len++] = '"';
            for (const char *p = o->path; *p && len + 8 < n; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == '"' || c == '\\') {
                    buf[len++] = '\\';
                    buf[len++] = (char)c;
                } else if (c < 0x20) {
                    len += (size_t)snprintf(buf + len, n - len, "\\u%04x", c);
                } else {
                    buf[len++] = (char)c;
                }
            }
            buf[len++] = '"';
            buf[len] = 0;
            return (int)len;
        }
    case OPT_FLOAT: {
        /* Printed from integers: the host's locale may use a comma. */
        long v = (long)(o->fvalue * 1000.0 + 0.5);
        return snprintf(buf, n, "%ld.%03ld", v / 1000, v % 1000);
    }
    default:
        return snprintf(buf, n, "%ld", o->value);
    }
}
