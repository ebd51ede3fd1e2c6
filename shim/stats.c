/* The stats table on stderr (BETAPOOL_STATS), once, at exit: the run's
 * totals in the figures' columns (BP_FIGURE_FIELDS, the ratios) and, in
 * mode auto, the decisions (BP_ACTIONS) and the gate's counts. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "gate.h"
#include "gil.h"
#include "options.h"
#include "python.h"
#include "stats.h"

/* Appends to a fixed buffer; what does not fit is cut. */
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = *n + (size_t)k < cap - 1 ? *n + (size_t)k : cap - 1;
}

/* The table's columns are the figures that have one (BP_FIGURE_FIELDS), then
 * the ratios; its decisions are BP_ACTIONS, in order. */
void bp_stats_print(uint64_t now, const struct bp_run *run, const struct bp_figures *tot)
{
    char buf[2048];
    size_t n = 0, cap = sizeof buf;
    add(buf, cap, &n, "betapool: pid %d, python %s, mode %s, gil %s, %.3f s\n", (int)getpid(), bp_python.version,
        bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)], bp_gil_state(), (double)(now > bp_t0_ns ? now - bp_t0_ns : 0) / 1e9);
    add(buf, cap, &n, "betapool: threads started %llu (python %llu), ended %llu, untracked %llu\n",
        (unsigned long long)run->threads_started, (unsigned long long)run->python_threads,
        (unsigned long long)run->threads_exited, (unsigned long long)atomic_load(&bp_threads_untracked));
#define HEAD(member, key, in_table) if (in_table) add(buf, cap, &n, " %12s", key);
#define CELL(member, key, in_table) if (in_table) add(buf, cap, &n, " %12.1f", (double)tot->member / 1e6);
#define RATIO_HEAD(key, fn) add(buf, cap, &n, " %7s", key);
#define RATIO_CELL(key, fn) add(buf, cap, &n, " %7.3f", fn(tot));
    add(buf, cap, &n, "betapool:");
    BP_FIGURE_FIELDS(HEAD)
    BP_FIGURE_RATIOS(RATIO_HEAD)
    add(buf, cap, &n, "\nbetapool:");
    BP_FIGURE_FIELDS(CELL)
    BP_FIGURE_RATIOS(RATIO_CELL)
    add(buf, cap, &n, "\n");
#undef HEAD
#undef CELL
#undef RATIO_HEAD
#undef RATIO_CELL
    if (bp_opt(OPT_MODE) == MODE_AUTO) {
        add(buf, cap, &n, "betapool: K %d (min %ld, max %ld); decisions:", atomic_load(&bp_gate.k),
            bp_opt(OPT_MIN_WORKERS), bp_opt(OPT_MAX_WORKERS));
        for (int a = 0; a < ACTION_COUNT; a++)
            add(buf, cap, &n, "%s %s %llu", a ? "," : "", bp_action_name((enum bp_action)a),
                (unsigned long long)run->decisions[a]);
        add(buf, cap, &n, "; parks %llu, overruns %llu; forced switches %llu, favoured waits %llu\n",
            (unsigned long long)atomic_load(&bp_gate.parks), (unsigned long long)atomic_load(&bp_gate.overruns),
            (unsigned long long)run->forced, (unsigned long long)run->favoured);
    }
    ssize_t w = write(2, buf, n);
    (void)w;
}
