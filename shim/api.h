/* api.c: the public API (include/betapool.h) and what it reads. */
#ifndef BETAPOOL_API_H
#define BETAPOOL_API_H

#include "common.h"
#include "controller.h"
#include "report.h"
#include "sampling.h"

/* What betapool_get_metrics() returns: a copy made at each tick. */
struct bp_published {
    unsigned threads, gil_waiting;
    double beta, beta_io, beta_io_smoothed, gil_wait_share;
    uint64_t threads_started, threads_exited;
    uint64_t decisions[ACTION_COUNT];
    uint64_t ticks;
    int pinned_cpu;
    uint64_t forced, favoured, gil_held_ns, gil_wait_ns; /* over the run */
    uint64_t tick_ns; /* when the last tick sampled (bp_now_ns) */
};
void bp_metrics_publish(uint64_t now, const struct bp_tally *tl, const struct bp_run *run,
                        const struct bp_controller *ctl) BP_HIDDEN;
void bp_metrics_read(struct bp_published *out) BP_HIDDEN;
void bp_metrics_after_fork_child(void) BP_HIDDEN;

#endif
