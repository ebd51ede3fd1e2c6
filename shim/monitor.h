/* monitor.c: the shim's own thread, and what it publishes. */
#ifndef BETAPOOL_MONITOR_H
#define BETAPOOL_MONITOR_H

#include "common.h"
#include "controller.h"

void bp_monitor_ensure(void) BP_HIDDEN; /* start it once, with the first Python thread */

void bp_monitor_stop_and_finish(void) BP_HIDDEN;
void bp_monitor_after_fork_child(void) BP_HIDDEN;
void bp_note(const char *level, const char *msg) BP_HIDDEN; /* queued, written by the monitor */
struct bp_published {
    unsigned threads, gil_waiting;
    double beta, beta_io, beta_io_smoothed, gil_wait_share;
    uint64_t threads_started, threads_exited;
    uint64_t decisions[ACTION_COUNT];
    uint64_t ticks;
    int pinned_cpu;
};
void bp_metrics_read(struct bp_published *out) BP_HIDDEN;
void bp_shim_fork_child(void) BP_HIDDEN;

#endif
