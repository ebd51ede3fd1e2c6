/* figures.c: the ratios, from one set of times. */
#ifndef BETAPOOL_FIGURES_H
#define BETAPOOL_FIGURES_H

#include "common.h"
#include "threads.h"

struct bp_figures {
    uint64_t wall_ns, cpu_ns, held_ns, wait_ns, idle_ns, parked_ns, blocked_ns;
};
double bp_beta(const struct bp_figures *f) BP_HIDDEN;     /* the seed's: 1 - cpu/wall */
double bp_beta_io(const struct bp_figures *f) BP_HIDDEN;  /* blocked share of active time */
double bp_wait_share(const struct bp_figures *f) BP_HIDDEN;
void bp_figures_add(struct bp_figures *sum, const struct bp_figures *f) BP_HIDDEN;
/* Build figures from phase deltas and a wall time; blocked is what is left. */
void bp_figures_from(struct bp_figures *f, uint64_t wall_ns, uint64_t cpu_ns,
                     const uint64_t delta_ns[PH_COUNT]) BP_HIDDEN;

#endif
