/* gate.c: at most K worker threads may take the GIL. */
#ifndef BETAPOOL_GATE_H
#define BETAPOOL_GATE_H

#include <stdalign.h>

#include "common.h"
#include "controller.h"
#include "threads.h"

/* shut is read at every take; the rest is written by the monitor every
 * tick (k) and by gated threads: apart on a line of their own. */
struct bp_gate {
    alignas(64) _Atomic int shut; /* threads may be parked */
    alignas(64) _Atomic int k;
    _Atomic int in_use;           /* slots held */
    _Atomic int parked;           /* threads waiting at the gate now */
    _Atomic uint64_t parks;       /* parks so far */
    _Atomic uint64_t overruns;    /* parks that reached park_max_ms */
    _Atomic uint64_t boosts;      /* parked threads let through for the main thread */
};
extern struct bp_gate bp_gate BP_HIDDEN;
void bp_gate_configure(int shut, int k) BP_HIDDEN;
/* Returns 1 when the thread was parked (its phase then restarted at the
 * end of the park), 0 when it got a slot at once. */
int bp_gate_enter(struct bp_thread *t, uint64_t now) BP_HIDDEN;
void bp_gate_release(struct bp_thread *t) BP_HIDDEN;
void bp_gate_boost(void) BP_HIDDEN;
/* Open: nobody parks, every parked thread goes on. */
void bp_gate_open(void) BP_HIDDEN;
/* At exit: nobody parks any more; the parked run out their bound. */
void bp_gate_stop(void) BP_HIDDEN;
void bp_gate_after_fork_child(void) BP_HIDDEN;
/* May the gate park this thread at all (bp_policy_parkable)? */
static inline int bp_gate_applies(const struct bp_thread *t)
{
    return bp_policy_parkable(atomic_load_explicit(&t->brief, memory_order_relaxed), t->python, t->via == VIA_MAIN,
                              atomic_load_explicit(&t->takes, memory_order_relaxed),
                              atomic_load_explicit(&t->other_gil_seen, memory_order_relaxed));
}

#endif
