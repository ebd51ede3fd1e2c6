/* figures.c: how a span of a thread's (or the process's) time divides, and
 * the ratios betapool reports, from one set of times. */
#ifndef BETAPOOL_FIGURES_H
#define BETAPOOL_FIGURES_H

#include "common.h"
#include "threads.h"

/* The figures, in the log's order: X(member, the log's key, in the stats
 * table). Every record that carries figures (sample, thread_exit, the exit
 * record's threads and totals), the stats table and the Python package's
 * _schema.py come from this list. */
#define BP_FIGURE_FIELDS(X)                                                                                        \
    X(wall_ns, "wall_ms", 1)                                                                                       \
    X(cpu_ns, "cpu_ms", 1)                                                                                         \
    X(held_ns, "gil_held_ms", 1)                                                                                   \
    X(wait_ns, "gil_wait_ms", 1)                                                                                   \
    X(idle_ns, "idle_ms", 1)                                                                                       \
    X(blocked_ns, "blocked_ms", 1)                                                                                 \
    X(parked_ns, "parked_ms", 0)
/* The ratios written after them: X(the log's key, function). */
#define BP_FIGURE_RATIOS(X)                                                                                        \
    X("beta", bp_beta)                                                                                             \
    X("beta_io", bp_beta_io)
/* The phases beta_io leaves out of a thread's active time (waiting for the
 * GIL, parked, idle): X(member). */
#define BP_BETA_IO_OFF(X) X(wait_ns) X(parked_ns) X(idle_ns)

#define BP_FIGURE_MEMBER(member, key, in_table) uint64_t member;
struct bp_figures {
    BP_FIGURE_FIELDS(BP_FIGURE_MEMBER)
};
#undef BP_FIGURE_MEMBER

/* The seed's: 1 - cpu/wall, within [0, 1]. */
double bp_beta(const struct bp_figures *f) BP_HIDDEN;
/* beta_io = (active - held) / active, active = wall - the BP_BETA_IO_OFF
 * phases: the blocked share of active time, within [0, 1] (0 when active is
 * 0). The one definition: docs/log-format.md and _schema.py say the same. */
double bp_beta_io(const struct bp_figures *f) BP_HIDDEN;
double bp_wait_share(const struct bp_figures *f) BP_HIDDEN;
void bp_figures_add(struct bp_figures *sum, const struct bp_figures *f) BP_HIDDEN;
/* Build figures from phase deltas and a wall time; blocked is what is left. */
void bp_figures_from(struct bp_figures *f, uint64_t wall_ns, uint64_t cpu_ns,
                     const uint64_t delta_ns[PH_COUNT]) BP_HIDDEN;

#endif
