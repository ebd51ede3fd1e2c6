/* controller.c: the decisions, each a pure function of what was measured.
 * Per interval (bp_decide): K, the gate and the CPU. Per GIL event, inline
 * for the hooks (bp_policy_*): whether a hold was brief, whether a thread
 * may be parked, whether a waiter is favoured. */
#ifndef BETAPOOL_CONTROLLER_H
#define BETAPOOL_CONTROLLER_H

#include "common.h"

/* The names below are the log's (docs/log-format.md); the Python package's
 * _schema.py is generated from these same lists at build time. */

/* What K did in an interval, then the other decisions the run counts (the
 * exit record's "decisions", the stats table). */
#define BP_ACTIONS(X)                                                                                              \
    X(ACTION_HOLD, "hold")                                                                                         \
    X(ACTION_SCALE_UP, "scale_up")                                                                                 \
    X(ACTION_SCALE_DOWN, "scale_down")                                                                             \
    X(ACTION_VETO, "veto")                                                                                         \
    X(ACTION_PIN, "pin")                                                                                           \
    X(ACTION_UNPIN, "unpin")                                                                                       \
    X(ACTION_GATE_SHUT, "gate_shut")                                                                               \
    X(ACTION_GATE_OPEN, "gate_open")
/* What the CPU decision did (a decision record's "pin"). */
#define BP_PIN_ACTIONS(X)                                                                                          \
    X(PIN_STAY, "stay")                                                                                            \
    X(PIN_PIN, "pin")                                                                                              \
    X(PIN_UNPIN, "unpin")
/* Why the gate is shut: the signal that says parking pays (a decision
 * record's "signal"). */
#define BP_SIGNALS(X)                                                                                              \
    X(SIGNAL_NONE, "none")                                                                                         \
    X(SIGNAL_FORCED_SWITCHES, "forced_switches")                                                                   \
    X(SIGNAL_MAIN_WAITING, "main_waiting")
/* The gate's two states ("gate", "gate_was"). */
#define BP_GATE_STATES(X)                                                                                          \
    X(GATE_OPEN, "open")                                                                                           \
    X(GATE_SHUT, "shut")

#define BP_ENUM_ITEM(id, name) id,
enum bp_action { BP_ACTIONS(BP_ENUM_ITEM) ACTION_COUNT };
enum bp_pin_action { BP_PIN_ACTIONS(BP_ENUM_ITEM) PIN_ACTION_COUNT };
enum bp_signal { BP_SIGNALS(BP_ENUM_ITEM) SIGNAL_COUNT };
enum bp_gate_state { BP_GATE_STATES(BP_ENUM_ITEM) GATE_STATE_COUNT };
const char *bp_action_name(enum bp_action a) BP_HIDDEN;
const char *bp_pin_action_name(enum bp_pin_action a) BP_HIDDEN;
const char *bp_signal_name(enum bp_signal s) BP_HIDDEN;
const char *bp_gate_state_name(int shut) BP_HIDDEN;
/* The action a CPU decision counts as (ACTION_HOLD: none). */
enum bp_action bp_pin_counted(enum bp_pin_action a) BP_HIDDEN;

/* Demand: threads parked or waiting for the GIL, on average over an interval;
 * below this, nobody is waiting. */
#define BP_DEMAND_MIN 0.5
/* Forced switches per second among the workers at or above which they are
 * computing under the GIL rather than giving it back on their own. One
 * computing thread with one waiter makes ~200/s (a 5 ms switch interval). */
#define BP_FORCED_PER_S 20.0
/* The main thread waiting for the GIL, on average, at or above which it is
 * kept waiting. */
#define BP_MAIN_WAITING_MIN 0.05
#define BP_NATIVE_SHARE_MAX 0.5  /* Python CPU time outside the GIL above this: parallel native code */
#define BP_OTHERS_MAX 0.25       /* other processes' share of a CPU above this: contested */
#define BP_PIN_BACKOFF 50        /* intervals without a pin after leaving a contested CPU */
#define BP_FIRST_TICKS 4         /* ticks at a quarter of the interval, at the start */

struct bp_controller_params {
    int min, max, hysteresis;
    double alpha, danger;
    int gate;     /* the gate may shut */
    int affinity; /* threads may be pinned */
    char no_affinity[160]; /* why not, when not by the option (one usable CPU) */
};
#define BP_VIEW_CPUS 256 /* CPUs the controller sees (the first usable ones) */
/* One interval's figures, as the monitor measured them. */
struct bp_interval {
    uint64_t span_ns;
    /* The workers: the Python threads but the main one. */
    double beta_io;
    double demand;          /* workers waiting for the GIL or parked, on average */
    uint64_t forced;        /* workers' holds ended because a waiter asked */
    double main_waiting;    /* the main thread waiting for the GIL, on average */
    uint64_t takes, cond_waits; /* the main GIL's takes and the waits on its cond in them, every thread */
    /* Every Python thread, for GIL affinity. */
    uint64_t cpu_ns, held_ns;
    double waiting;         /* waiting for the GIL or parked, on average */
    int pinned;
    double others;          /* pinned: other processes' share of our CPU (not counting processes
                             * under betapool that hold no CPU: they are in the registry) */
    /* Unpinned: the CPUs the process may use, who holds each and how busy
     * other processes keep it (the registry's and /proc/stat's view;
     * others 0 where the loads are unknown). */
    int coord;              /* enum bp_coord (registry.h): none (decide alone), ok, busy */
    int ncpus;
    struct bp_cpu_view {
        int cpu;
        int holder;         /* pid of the live process that holds it; 0: free */
        double others;      /* other processes' share of it, those under betapool holding no CPU aside */
    } cpus[BP_VIEW_CPUS];
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
    double rewaits;        /* waits on the GIL's cond per take: far above 1, a convoy (logged, not acted on) */
    char gate_reason[160];
    enum bp_pin_action pin;
    int pin_cpu;           /* PIN_PIN: the CPU */
    double native, waiting;
    char pin_reason[160];
};
void bp_controller_init(struct bp_controller *c, const struct bp_controller_params *p) BP_HIDDEN;
struct bp_decision bp_decide(struct bp_controller *c, const struct bp_interval *in) BP_HIDDEN;
/* The GIL is no longer followed: the gate opens and a pin ends, for good. */
struct bp_decision bp_stand_down(struct bp_controller *c, int pinned) BP_HIDDEN;

/* ---- per GIL event: pure, inline, for the hooks ---- */

/* A hold shorter than this that ended of its own accord is brief. */
#define BP_BRIEF_HOLD_NS 1000000u
/* A thread the gate never parks, waiting this long for the GIL, is
 * favoured (two of CPython's default switch intervals). */
#define BP_STARVING_NS 10000000u

/* A hold that ended: brief when short and no waiter asked it to let go (a
 * computing holder cut short by a favoured waiter must not look brief). */
static inline int bp_policy_brief(uint64_t hold_ns, int asked_to_let_go)
{
    return hold_ns < BP_BRIEF_HOLD_NS && !asked_to_let_go;
}

/* May this thread be parked at all? Only a computing one: its last hold
 * was long or ended because a waiter asked for the GIL. Never the main
 * thread, a thread CPython did not start, a thread before its first take,
 * a thread that holds the GIL briefly and blocks outside it (a socket
 * handler parked behind computing threads waits up to the park bound), or
 * a thread that took a sub-interpreter's own GIL (other_gil: it computes
 * in parallel with the main GIL's threads; the gate is the main GIL's). */
static inline int bp_policy_parkable(int brief, int python, int main_thread, uint64_t takes, int other_gil)
{
    return !brief && python && !main_thread && takes > 0 && !other_gil;
}

/* Who holds the GIL, to a waiter. */
enum bp_holder { HOLDER_NONE = 0, HOLDER_SELF, HOLDER_BRIEF, HOLDER_COMPUTING };

/* A thread about to wait for the GIL, as the priority sees it. */
struct bp_waiter {
    int gate_shut;         /* the controller saw workers computing until made to let go */
    int favoured_now;      /* threads in a favoured wait now */
    int parkable;          /* bp_policy_parkable */
    int brief;             /* its last hold was brief */
    uint64_t asked_ns;     /* when it asked for the GIL */
    uint64_t drop_ns;      /* when its last hold ended (0: never held) */
    uint64_t hold_ns;      /* how long that hold was */
    enum bp_holder holder;
};

/* The GIL priority: is this waiter favoured (its wait cut to the priority's
 * bound, so that a computing holder is asked to let go sooner)? Only while
 * the gate is shut, and one thread at a time: favouring every brief waiter
 * of a pool of hundreds behind a computing main thread made ten thousand
 * wake-ups a second (measured on the seed's pool). Only behind a computing
 * holder: a brief one lets go soon anyway. Favoured: a thread the gate never
 * parks that has waited BP_STARVING_NS already, whatever it is (behind the
 * admitted computing threads, which re-queue on the cond less often than a
 * waiter whose timeouts send it to the back, the main thread waited seconds:
 * measured, a socket client next to 4 CPU threads, 0 round trips in 4.5 s);
 * otherwise a brief thread, outside the GIL since its last hold at least a
 * quarter as long as it held it. A favoured thread that computes loses its
 * favour at the end of that hold (it is no longer brief). now_fn is called
 * only when the wait's length matters. */
static inline __attribute__((always_inline)) int bp_policy_favour(const struct bp_waiter *w,
                                                                  uint64_t (*now_fn)(void))
{
    if (!w->gate_shut || w->favoured_now > 0)
        return 0;
    int starving = !w->parkable && now_fn() - w->asked_ns >= BP_STARVING_NS;
    if (!starving &&
        (!w->brief || (w->drop_ns && (w->asked_ns < w->drop_ns || (w->asked_ns - w->drop_ns) * 4 < w->hold_ns))))
        return 0;
    return w->holder == HOLDER_COMPUTING;
}

/* ---- the directed hand-off: who takes the GIL when it is free ----
 * Every waiter on the GIL's cond is in one class, by how it behaved, never
 * by its role (the main thread is classified like any other):
 *   due          it has waited BP_DUE_NS (50 ms) already, whatever it is (the bound
 *                that keeps computing threads from starving);
 *   interactive  its last hold was brief and it blocked outside the GIL since
 *                for at least a quarter of that hold (a socket, a sleep, a
 *                lock, an event loop's poll);
 *   computing    the others (its last hold was long or cut short by a
 *                waiter: a handler that computed 50 ms is computing for that
 *                hold).
 * While a waiter of a higher class (due, then interactive) waits on the
 * cond, the free GIL is left to it: a lower-class waiter that wakes first
 * waits again, at most BP_HOLD_BACK_NS per wait (an overrun, counted). */
#define BP_WAITER_CLASSES(X)                                                                                       \
    X(WAITER_COMPUTING, "computing")                                                                               \
    X(WAITER_INTERACTIVE, "interactive")                                                                           \
    X(WAITER_DUE, "due")
enum bp_waiter_class { BP_WAITER_CLASSES(BP_ENUM_ITEM) WAITER_CLASS_COUNT };
const char *bp_waiter_class_name(enum bp_waiter_class c) BP_HIDDEN;
/* A waiter that has waited this long goes before every other class: ten
 * of CPython's default switch intervals. Not less: computing threads take
 * turns in 5 ms slices among themselves, and with a bound of two slices a
 * gunicorn worker's CPU handlers were due in a quarter of its hand-overs
 * (170 of 659) and went before the cheap requests (measured, gunicorn
 * -w 1 --threads 32). */
#define BP_DUE_NS 50000000u
/* The longest a waiter is held back at one hand-over. */
#define BP_HOLD_BACK_NS 1000000u

/* The class of a thread that asked for the GIL at asked_ns and is about to
 * wait on its cond at now; brief, hold_ns and drop_ns describe its last hold
 * (drop_ns 0: it never held the GIL). */
static inline enum bp_waiter_class bp_policy_class(int brief, uint64_t hold_ns, uint64_t drop_ns, uint64_t asked_ns,
                                                   uint64_t now)
{
    if (now > asked_ns && now - asked_ns >= BP_DUE_NS)
        return WAITER_DUE;
    if (brief && drop_ns && asked_ns >= drop_ns && (asked_ns - drop_ns) * 4 >= hold_ns)
        return WAITER_INTERACTIVE;
    return WAITER_COMPUTING;
}

/* The GIL is free and this waiter (of class mine, held back held_ns so far
 * in this wait) has it: does it leave it to a waiter of a higher class?
 * waiting[c]: waiters of class c on the cond now, this one not counted. */
static inline int bp_policy_hold_back(enum bp_waiter_class mine, const int waiting[WAITER_CLASS_COUNT],
                                      uint64_t held_ns)
{
    if (held_ns >= BP_HOLD_BACK_NS)
        return 0;
    for (int c = (int)mine + 1; c < WAITER_CLASS_COUNT; c++)
        if (waiting[c] > 0)
            return 1;
    return 0;
}

#endif
