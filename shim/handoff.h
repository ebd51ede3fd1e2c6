/* handoff.c: the directed hand-off's state and its counts. Which waiter
 * goes first is decided by bp_policy_class and bp_policy_hold_back
 * (controller.h); the hooks act on it (hooks.c, the GIL cond's waits) and
 * count here what happened. */
#ifndef BETAPOOL_HANDOFF_H
#define BETAPOOL_HANDOFF_H

#include "common.h"
#include "controller.h"

/* Interactive waits, in buckets of a quarter of a power of two of ns
 * (25% apart): 0-3 ns one each, then [4..8), [8..16), ... in four steps
 * each, the last bucket open-ended (from 2^33 ns, 8.6 s). */
#define BP_WAIT_BUCKETS 128

struct bp_handoff {
    /* Favoured waits while the hand-off is off (its drops wake every
     * waiter then, as before the hand-off was directed): read by every
     * pthread_cond_signal in the process, on a line of its own. */
    _Alignas(64) _Atomic int wake_all;
    /* Now: the main GIL's cond waiters of each class, and of the
     * interactive and due classes together (changed under the GIL's
     * mutex). */
    _Alignas(64) _Atomic int waiting[WAITER_CLASS_COUNT];
    _Atomic int urgent;
    /* Counts over the run. */
    _Alignas(64) _Atomic uint64_t served[WAITER_CLASS_COUNT]; /* hand-overs to a waiter of each class */
    _Atomic uint64_t held_back;                  /* waits that left the free GIL to a higher class */
    _Atomic uint64_t passed_over;                /* hand-overs taken past a waiting higher class (off, or
                                                  * held back BP_HOLD_BACK_NS already) */
    _Atomic uint64_t computing_wait_max_ns;      /* the longest wait of a computing or due waiter served */
    _Atomic uint64_t interactive_wait[BP_WAIT_BUCKETS];
};
extern struct bp_handoff bp_handoff BP_HIDDEN;
/* BETAPOOL_HANDOFF: the hand-off is directed (auto, directed), and a
 * favoured take's first wait asks the holder at once (auto). Set once at
 * start. */
extern int bp_handoff_on BP_HIDDEN;
extern int bp_handoff_ask_at_once BP_HIDDEN;

static inline int bp_wait_bucket(uint64_t ns)
{
    if (ns < 4)
        return (int)ns;
    int lg = 63 - __builtin_clzll(ns);
    int b = (lg - 1) * 4 + (int)((ns >> (lg - 2)) & 3);
    return b < BP_WAIT_BUCKETS ? b : BP_WAIT_BUCKETS - 1;
}
/* The largest wait bucket b holds (UINT64_MAX for the last). */
uint64_t bp_wait_bucket_top(int b) BP_HIDDEN;
/* The wait at or below which share p (0-1) of the counted waits lie, as the
 * top of its bucket; 0 when none was counted. */
uint64_t bp_wait_percentile(const uint64_t hist[BP_WAIT_BUCKETS], double p) BP_HIDDEN;

/* A waiter of class c was handed the GIL after waiting wait_ns (hooks). */
void bp_handoff_served(enum bp_waiter_class c, uint64_t wait_ns) BP_HIDDEN;
/* A copy of the counts (the report). */
struct bp_handoff_counts {
    uint64_t served[WAITER_CLASS_COUNT];
    uint64_t held_back, passed_over, computing_wait_max_ns;
    uint64_t interactive_wait[BP_WAIT_BUCKETS];
};
void bp_handoff_read(struct bp_handoff_counts *out) BP_HIDDEN;
/* In a fork child nobody waits. */
void bp_handoff_after_fork_child(void) BP_HIDDEN;

#endif
