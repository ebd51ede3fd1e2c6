/* controller.c: one decision per interval, a pure function. */
#ifndef BETAPOOL_CONTROLLER_H
#define BETAPOOL_CONTROLLER_H

#include "common.h"

enum bp_action { ACTION_HOLD = 0, ACTION_SCALE_UP, ACTION_SCALE_DOWN, ACTION_VETO, ACTION_PIN, ACTION_UNPIN,
                 ACTION_SHUT, ACTION_OPEN, ACTION_COUNT };
const char *bp_action_name(enum bp_action a) BP_HIDDEN;
/* Why the gate is shut: the signal that says parking pays. */
enum bp_signal { SIGNAL_NONE = 0, SIGNAL_FORCED, SIGNAL_EXEMPT_WAITING };
const char *bp_signal_name(enum bp_signal s) BP_HIDDEN;

/* Demand: threads parked or waiting for the GIL, on average over an interval;
 * below this, nobody is waiting. */
#define BP_DEMAND_MIN 0.5
/* Forced switches per second among the workers at or above which they are
 * computing under the GIL rather than giving it back on their own. One
 * computing thread with one waiter makes ~200/s (a 5 ms switch interval). */
#define BP_FORCED_PER_S 20.0
/* Threads the gate never parks (the main thread, brief holders) waiting
 * for the GIL, on average, at or above which they are kept waiting. */
#define BP_EXEMPT_WAITING_MIN 0.05
/* A hold shorter than this that ended of its own accord is brief. */
#define BP_BRIEF_HOLD_NS 1000000u
/* A thread the gate never parks, waiting this long for the GIL, is
 * favoured (two of CPython's default switch intervals). */
#define BP_STARVING_NS 10000000u
#define BP_NATIVE_SHARE_MAX 0.5  /* Python CPU time outside the GIL above this: parallel native code */
#define BP_OTHERS_MAX 0.25       /* other processes' share of a CPU above this: contested */
#define BP_PIN_BACKOFF 50        /* intervals without a pin after leaving a contested CPU */
#define BP_FIRST_TICKS 4         /* ticks at a quarter of the interval, at the start */

struct bp_controller_params {
    int min, max, hysteresis;
    double alpha, danger;
    int gate;     /* the gate may shut */
    int affinity; /* threads may be pinned */
};
/* One interval's figures, as the monitor measured them. */
struct bp_interval {
    uint64_t span_ns;
    /* The workers: the Python threads but the main one. */
    double beta_io;
    double demand;          /* workers waiting for the GIL or parked, on average */
    uint64_t forced;        /* workers' holds ended because a waiter asked */
    double exempt_waiting;  /* the main thread waiting for the GIL, on average */
    /* Every Python thread, for GIL affinity. */
    uint64_t cpu_ns, held_ns;
    double waiting;         /* waiting for the GIL or parked, on average */
    int pinned;
    double others;          /* pinned: other processes' share of our CPU; else of the least busy one */
};
struct bp_controller {
    struct bp_controller_params params;
    int k;
    double smoothed;
    int have_smoothed;
    int streak, streak_dir;
    int shut;      /* the gate */
    int calm;      /* consecutive intervals without a reason to keep it shut */
    double native; /* smoothed share of the Python threads' CPU time outside the GIL */
    int have_native;
    int pin_streak; /* consecutive intervals asking for the CPU to change */
    int backoff;    /* intervals left before another pin is allowed */
};
/* K, the gate and the CPU, each with its reason. */
struct bp_decision {
    enum bp_action action; /* K's: hold, scale_up, scale_down or veto */
    int k_before, k_after;
    double beta_io;        /* smoothed */
    double demand;
    char reason[160];
    int shut_before, shut_after;
    enum bp_signal signal;
    double forced_per_s;
    char gate_reason[160];
    enum bp_action pin;    /* pin, unpin or hold */
    double native, waiting;
    char pin_reason[160];
};
void bp_controller_init(struct bp_controller *c, const struct bp_controller_params *p) BP_HIDDEN;
struct bp_decision bp_decide(struct bp_controller *c, const struct bp_interval *in) BP_HIDDEN;

#endif
