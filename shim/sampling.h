/* sampling.c: what each thread's record gained over one interval, and the
 * interval's figures over every thread. Pure: no clock, no globals. */
#ifndef BETAPOOL_SAMPLING_H
#define BETAPOOL_SAMPLING_H

#include "common.h"
#include "controller.h"
#include "figures.h"
#include "threads.h"

/* One thread's share of an interval. */
struct bp_sample {
    struct bp_figures f;
    uint64_t forced, favoured; /* waiters' requests it was made to yield to; waits betapool shortened */
    uint64_t takes, cond_waits; /* GIL takes completed; waits on the GIL's cond (threads.h) */
    int active;                /* it did more than stay blocked outside the GIL */
};

/* The sample of a record read as tm at time end, with its CPU clock and its
 * counters, against what was seen last time; seen becomes this reading. */
void bp_sample_take(struct bp_seen *seen, const struct bp_times *tm, uint64_t end, uint64_t cpu_ns,
                    uint64_t forced, uint64_t favoured, struct bp_sample *out) BP_HIDDEN;

/* Does a thread count in the figures? CPython's threads, and any other
 * thread once it took the GIL (a foreign PyGILState_Ensure caller). */
int bp_sample_counts(int python, const struct bp_times *tm) BP_HIDDEN;

/* A thread's figures from its start to end. */
void bp_sample_lifetime(uint64_t start_ns, const struct bp_times *tm, uint64_t end, uint64_t cpu_ns,
                        struct bp_figures *out) BP_HIDDEN;

/* Who a thread is to the controller. K and the gate are about the computing
 * workers, the only ones the gate parks: a socket handler's sleeps beside CPU
 * threads must not raise their beta_io. */
enum bp_role {
    ROLE_OTHER = 0, /* not CPython's: counted in the process's figures only */
    ROLE_WORKER,    /* a Python thread but the main one, computing */
    ROLE_BRIEF,     /* a Python thread but the main one, holding the GIL briefly */
    ROLE_MAIN,      /* the main thread */
    ROLE_OTHER_GIL, /* it took a sub-interpreter's own GIL: the process's figures only, none of the main GIL's */
};

enum bp_role bp_role_of(const struct bp_thread *t) BP_HIDDEN;

/* One interval over every counted thread. */
struct bp_tally {
    struct bp_figures proc, workers, main_thread;
    struct bp_figures gil; /* the main GIL's threads: every counted one but ROLE_OTHER_GIL's */
    uint64_t forced, workers_forced, favoured;
    uint64_t takes, cond_waits; /* the main GIL's threads */
    unsigned alive, waiting; /* counted live threads; of them, waiting for the GIL */
    struct bp_figures lives; /* the counted live threads over their lives so far */
};
void bp_tally_add(struct bp_tally *tl, const struct bp_sample *s, enum bp_role role) BP_HIDDEN;

/* Threads waiting for the GIL or parked, on average over span_ns. */
double bp_average_waiting(const struct bp_figures *f, uint64_t span_ns) BP_HIDDEN;

/* Whether the Python threads share one CPU now, and the other processes'
 * share of it (negative when unknown). The CPUs a pin could go to are the
 * monitor's view (bp_affinity_view), added after. */
struct bp_cpus {
    int pinned;
    double others;
};
/* The controller's input from one interval. */
struct bp_interval bp_interval_of(const struct bp_tally *tl, uint64_t span_ns, const struct bp_cpus *cpus) BP_HIDDEN;

#endif
