/* Internal declarations shared by the shim's files. Data flows one way:
 * hooks.c -> threads.c records -> monitor.c (the shim's own thread) -> log.c,
 * with gil.c holding the GIL's identity and the per-thread take/drop rules. */
#ifndef BETAPOOL_BP_H
#define BETAPOOL_BP_H

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define BP_VERSION "0.1.0"
#define BP_SCHEMA 2
#define BP_HIDDEN __attribute__((visibility("hidden")))
#define BP_LIKELY(x) __builtin_expect(!!(x), 1)
#define BP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- real.c: the functions betapool interposes, resolved in one place ---- */
struct bp_real {
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
    int (*mutex_lock)(pthread_mutex_t *);
    int (*mutex_trylock)(pthread_mutex_t *);
    int (*mutex_unlock)(pthread_mutex_t *);
    int (*cond_init)(pthread_cond_t *, const pthread_condattr_t *);
    int (*cond_signal)(pthread_cond_t *);
    int (*cond_broadcast)(pthread_cond_t *); /* not hooked: the priority's hand-over */
    int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    int (*sem_wait)(sem_t *);
    int (*sem_timedwait)(sem_t *, const struct timespec *);
    int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                       char *const[], char *const[]);
    int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);
    int (*system)(const char *);
    FILE *(*popen)(const char *, const char *);
    void (*exit_)(int);  /* _exit */
    void (*Exit_)(int);  /* _Exit */
    unsigned long (*start_new_thread)(void (*)(void *), void *);
    int (*start_joinable_thread)(void (*)(void *), void *, void *, void *);
    _Atomic int resolved;
};
extern struct bp_real bp_real BP_HIDDEN;
void bp_real_resolve(void) BP_HIDDEN;
static inline void bp_real_ensure(void)
{
    if (BP_UNLIKELY(!atomic_load_explicit(&bp_real.resolved, memory_order_acquire)))
        bp_real_resolve();
}

/* ---- clock.c: betapool's nanoseconds ----
 *
 * Every time betapool records comes from bp_now_ns(). Where the kernel says
 * the TSC is invariant and uses it as its own clocksource, that is the TSC
 * converted by a scale the shim calibrates against CLOCK_MONOTONIC (at start,
 * then on the shim's own thread every interval, steering the mapping back to
 * CLOCK_MONOTONIC without ever stepping it back); everywhere else it is
 * CLOCK_MONOTONIC. A hook reads the TSC and multiplies; it never calls the
 * kernel's clock.
 *
 * The scale is published as a latch: two copies and a sequence number whose
 * low bit says which copy readers use; the writer changes the other copy
 * first, so the copy a reader picks is never the one being written, and a
 * reader retries only when the sequence moved under it. No state of the
 * writer (a fork in the middle of an update included) leaves readers
 * spinning. BP_CLOCK_MONO set in the sequence: CLOCK_MONOTONIC. */
struct bp_clock_scale {
    /* ns = (tsc * mult >> 32) + offset, modulo 2^64 */
    _Atomic uint64_t mult;
    _Atomic uint64_t offset;
};
struct bp_clock {
    _Atomic uint32_t seq;
    uint32_t pad;
    struct bp_clock_scale scale[2];
} __attribute__((aligned(64)));
#define BP_CLOCK_MONO 0x80000000u
extern struct bp_clock bp_clock BP_HIDDEN;

static inline uint64_t bp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bp_tsc_to_ns(uint64_t mult, uint64_t offset, uint64_t tsc)
{
    return (uint64_t)(((unsigned __int128)tsc * mult) >> 32) + offset;
}

#if defined(__x86_64__)
#define BP_HAVE_TSC 1
static inline uint64_t bp_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
#else
#define BP_HAVE_TSC 0
static inline uint64_t bp_rdtsc(void)
{
    return 0;
}
#endif

/* CLOCK_MONOTONIC out of line: the hooks that inline bp_now_ns need no
 * stack frame for it. */
uint64_t bp_clock_mono_ns(void) BP_HIDDEN;

static inline __attribute__((always_inline)) uint64_t bp_now_ns(void)
{
#if BP_HAVE_TSC
    for (;;) {
        uint32_t s = atomic_load_explicit(&bp_clock.seq, memory_order_acquire);
        if (BP_UNLIKELY(s & BP_CLOCK_MONO))
            break;
        const struct bp_clock_scale *sc = &bp_clock.scale[s & 1];
        uint64_t mult = atomic_load_explicit(&sc->mult, memory_order_relaxed);
        uint64_t offset = atomic_load_explicit(&sc->offset, memory_order_relaxed);
        uint64_t tsc = bp_rdtsc();
        atomic_thread_fence(memory_order_acquire);
        if (BP_LIKELY(atomic_load_explicit(&bp_clock.seq, memory_order_relaxed) == s))
            return bp_tsc_to_ns(mult, offset, tsc);
    }
#endif
    return bp_clock_mono_ns();
}

/* Which clock bp_now_ns() reads: "tsc" or "monotonic". */
const char *bp_clock_name(void) BP_HIDDEN;
/* At start, in a CPython process: use the TSC if the kernel vouches for it
 * and allow_tsc, calibrated against CLOCK_MONOTONIC. */
void bp_clock_init(int allow_tsc) BP_HIDDEN;
/* The shim's thread, every interval: refine the scale and steer it towards
 * CLOCK_MONOTONIC over the next interval_ns; go back to CLOCK_MONOTONIC if
 * the kernel stopped using the TSC. */
void bp_clock_refine(uint64_t interval_ns) BP_HIDDEN;

/* The calibration's arithmetic, pure (unit-tested). */
/* mult for a rate measured as ns_delta over tsc_delta ticks; 0 when absurd. */
uint64_t bp_clock_mult(uint64_t tsc_delta, uint64_t ns_delta) BP_HIDDEN;
/* The offset that makes (mult, offset) map tsc to ns. */
uint64_t bp_clock_offset_through(uint64_t mult, uint64_t tsc, uint64_t ns) BP_HIDDEN;
/* A new scale, continuous with cur at tsc, of the rate mult corrected so that
 * an eighth of cur's error against mono_ns (measured at tsc) is gone after
 * horizon_ns. The correction is bounded (BP_CLOCK_SLEW_MAX: durations read
 * while it applies are off by at most that share); a mapping that fell behind
 * by more steps forward onto mono_ns, never back. */
#define BP_CLOCK_SLEW_MAX 0.01
void bp_clock_steer(uint64_t cur_mult, uint64_t cur_offset, uint64_t tsc, uint64_t mono_ns, uint64_t mult,
                    uint64_t horizon_ns, uint64_t *new_mult, uint64_t *new_offset) BP_HIDDEN;
/* Publish a scale (one writer at a time). */
void bp_clock_publish(uint64_t mult, uint64_t offset) BP_HIDDEN;

/* ---- threads.c: one record per thread, written by its owner only ---- */

/* Where a thread's time is going right now. Every nanosecond of a thread's
 * life is in exactly one phase; "outside" is time blocked outside the GIL. */
enum bp_phase {
    PH_OUTSIDE = 0, /* I/O, sleep, native code with the GIL released */
    PH_WAIT,        /* waiting to take the GIL (incl. the forced-switch wait) */
    PH_HELD,        /* holding the GIL: running Python */
    PH_IDLE,        /* waiting on a Python lock/queue with the GIL released */
    PH_PARKED,      /* held at betapool's gate (enforce mode) */
    PH_COUNT
};

/* How a thread was recognised as CPython's (the log's "via"). */
enum bp_via { VIA_NONE = 0, VIA_MAIN, VIA_START_ROUTINE, VIA_START_NEW_THREAD, VIA_START_JOINABLE };
const char *bp_via_name(int via) BP_HIDDEN;

enum bp_slot_state { SLOT_FREE = 0, SLOT_RESERVED, SLOT_LIVE, SLOT_EXITED };

struct bp_thread {
    /* Written by the owning thread on every GIL event; read by the monitor
     * through the sequence counter (a seqlock: odd while changing). */
    _Atomic uint32_t seq;
    _Atomic uint32_t phase;
    _Atomic uint64_t phase_start_ns;
    _Atomic uint64_t acc_ns[PH_COUNT];
    /* A holder's drop under way since then (set at its lock(M)), while the
     * phase still says PH_HELD and handover_ns > phase_start_ns: readers
     * count the time since as PH_WAIT, and the drop's end settles both in
     * one change (bp_phase_set_via). One write at the drop's start instead
     * of a phase change. */
    _Atomic uint64_t handover_ns;
    _Atomic uint64_t takes; /* completed GIL takes */
    _Atomic uint64_t forced;   /* waiters' full switch intervals that asked this thread, holding, to let go */
    _Atomic uint64_t favoured; /* GIL waits betapool shortened (the priority) */
    _Atomic uint32_t asked;    /* waiters' timeouts, favoured ones too, that asked it to let go */
    /* Owner-private: where the thread is inside a take or drop (gil.c). */
    uint8_t gil_step;       /* enum bp_gil_step */
    /* Owner-private: how its last hold went (gil.c). A thread is brief
     * while its last hold was shorter than BP_BRIEF_HOLD_NS and ended of
     * its own accord: it is never parked, and it may be favoured. */
    _Atomic uint8_t brief;  /* read by other threads' waits: see bp_gil_holder */
    uint64_t hold_start_ns; /* when the current (or last) hold began */
    uint64_t hold_ns;       /* length of the last hold */
    uint64_t drop_ns;       /* when it ended */
    uint32_t asked_seen;    /* `asked` at the end of the last hold */
    /* Identity, set before the thread runs or at its start/exit. */
    _Atomic int state;      /* enum bp_slot_state */
    uint8_t python;         /* CPython started this thread */
    uint8_t via;            /* enum bp_via */
    pid_t tid;
    uint64_t start_ns;
    uint64_t exit_ns;
    uint64_t exit_cpu_ns;
    void *(*start_routine)(void *);
    void *start_arg;
    /* Monitor-private bookkeeping. */
    uint8_t start_logged;
    uint64_t last_ns;       /* end of the last sampled interval */
    uint64_t last_cpu_ns;
    uint64_t last_acc_ns[PH_COUNT];
    uint64_t last_forced, last_favoured;
    uint32_t next_free;     /* free-list link */
    /* The gate (enforce mode): owner-written except park_word and q_next. */
    uint8_t has_slot;
    uint8_t after_idle;       /* waited idle since its last take: new work */
    _Atomic uint32_t park_word; /* futex: waiting, handed a slot, gate open */
    struct bp_thread *q_next, *q_prev; /* the gate's queue, under its lock */
    uint8_t q_class;                   /* which of the gate's queues */
    /* GIL affinity (affinity.c). */
    _Atomic uint8_t aff;        /* enum bp_aff_state */
    uint8_t inherit_pin;        /* created by a thread betapool had pinned */
} __attribute__((aligned(64)));
enum bp_aff_state { AFF_UNKNOWN = 0, AFF_PINNED, AFF_LEFT_ALONE };

#define BP_MAX_THREADS 8192
extern struct bp_thread bp_threads[BP_MAX_THREADS] BP_HIDDEN;
extern _Atomic uint32_t bp_threads_high BP_HIDDEN;     /* slots ever used */
extern _Atomic uint64_t bp_threads_untracked BP_HIDDEN; /* table was full */
extern __thread struct bp_thread *bp_self BP_HIDDEN;

struct bp_thread *bp_thread_reserve(void) BP_HIDDEN;
void bp_thread_release(struct bp_thread *t) BP_HIDDEN;
void bp_thread_begin(struct bp_thread *t, uint64_t now) BP_HIDDEN;
void bp_thread_end(struct bp_thread *t, uint64_t now, uint64_t cpu_ns) BP_HIDDEN;
void bp_threads_after_fork_child(void) BP_HIDDEN;

/* Move the owner's thread to a new phase at time now (owner only). */
static inline __attribute__((always_inline)) void bp_phase_set(struct bp_thread *t, enum bp_phase ph, uint64_t now)
{
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    uint32_t old = atomic_load_explicit(&t->phase, memory_order_relaxed);
    uint64_t start = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
    if (BP_UNLIKELY(now < start))
        now = start; /* never back: the phase that ends took no time */
    atomic_store_explicit(&t->acc_ns[old], atomic_load_explicit(&t->acc_ns[old], memory_order_relaxed) + (now - start),
                          memory_order_relaxed);
    atomic_store_explicit(&t->phase, (uint32_t)ph, memory_order_relaxed);
    atomic_store_explicit(&t->phase_start_ns, now, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 2, memory_order_release);
}

/* Two changes in one (owner only): the phase that ends, ended at via_ns;
 * from then until now the thread was in phase via; from now it is in ph. */
static inline __attribute__((always_inline)) void bp_phase_set_via(struct bp_thread *t, enum bp_phase via,
                                                                   uint64_t via_ns, enum bp_phase ph, uint64_t now)
{
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    uint32_t old = atomic_load_explicit(&t->phase, memory_order_relaxed);
    uint64_t start = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
    if (BP_UNLIKELY(via_ns < start))
        via_ns = start;
    if (BP_UNLIKELY(now < via_ns))
        now = via_ns;
    atomic_store_explicit(&t->acc_ns[old], atomic_load_explicit(&t->acc_ns[old], memory_order_relaxed) + (via_ns - start),
                          memory_order_relaxed);
    atomic_store_explicit(&t->acc_ns[via], atomic_load_explicit(&t->acc_ns[via], memory_order_relaxed) + (now - via_ns),
                          memory_order_relaxed);
    atomic_store_explicit(&t->phase, (uint32_t)ph, memory_order_relaxed);
    atomic_store_explicit(&t->phase_start_ns, now, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 2, memory_order_release);
}

/* A consistent copy of a record's times, with the current phase counted up
 * to now. Safe from any thread. */
struct bp_times {
    uint64_t acc_ns[PH_COUNT];
    uint64_t takes;
    uint32_t phase;
};
void bp_thread_read(const struct bp_thread *t, uint64_t now, struct bp_times *out) BP_HIDDEN;

/* ---- figures.c: the ratios, from one set of times ---- */
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

/* ---- gil.c: which objects are the GIL, and the take/drop rules ---- */
struct bp_gil {
    _Atomic(void *) cond;          /* C */
    _Atomic(void *) mutex;         /* M  = C + 48 */
    _Atomic(void *) switch_cond;   /* SC = C + 88 */
    _Atomic(void *) switch_mutex;  /* SM = C + 136 */
    _Atomic int found;
    _Atomic int claimed;           /* one GIL is (being) followed: see gil.c */
    _Atomic int foreign_gils;      /* more GILs seen (sub-interpreters) */
    _Atomic int disabled;          /* a free-threaded CPython without a GIL */
    _Atomic int layout_checks;     /* takes still to verify (see gil.c) */
    _Atomic int layout_failed;
};
extern struct bp_gil bp_gil BP_HIDDEN;
/* Offset of the GIL struct's `locked` flag from its cond (x86-64 glibc):
 * interval, last_holder, locked, switch_number, then cond. */
#define BP_GIL_LOCKED_FROM_COND (-16)
#define BP_GIL_SWITCH_NUMBER_FROM_COND (-8)
/* The thread that took the GIL last (it holds it, or held it last), for
 * the priority: a favoured waiter cuts its wait only behind a computing
 * holder, one that is not brief. Written at every completed take. */
extern _Atomic(struct bp_thread *) bp_gil_holder BP_HIDDEN;
/* The priority's bound, ns; 0: off. Set once at start. */
extern uint64_t bp_priority_ns BP_HIDDEN;
/* Stop following the GIL: its layout is not what betapool expects. */
void bp_gil_forget(void) BP_HIDDEN;
/* After a take completed (unlock(SM) by the new holder), CPython's own
 * `locked` flag must be set; returns 0 when the layout is refuted. */
int bp_gil_check_take(void) BP_HIDDEN;
#define BP_GIL_MUTEX_OFFSET 48
#define BP_GIL_SWITCH_COND_OFFSET 88
#define BP_GIL_SWITCH_MUTEX_OFFSET 136
void bp_gil_note_mutex_init(void *m) BP_HIDDEN;
void bp_gil_note_cond_init(void *c) BP_HIDDEN;
void bp_gil_reset(void) BP_HIDDEN;

enum bp_gil_step {
    STEP_NONE = 0,
    STEP_TAKING,        /* lock(M) seen, GIL not yet ours */
    STEP_TAKING_WAITED, /* ... and it had to wait on C */
    STEP_SWITCH_WAIT,   /* after a requested drop, until the next holder takes */
    STEP_DROP_BEGIN,    /* lock(M) by the holder (PH_WAIT from here) */
    STEP_DROPPING,      /* ... then it let the GIL go; the drop ends when unlock(M) returns */
    STEP_TAKEN_FREE,    /* lock(M) found M and the GIL free: holding; unlock(SM) counts the take */
    STEP_TAKEN_CHECK,   /* a take complete, CPython's flag to check at unlock(SM) (bp_gil_check_take) */
};

/* The online take/drop rules, one call per event seen on a GIL object. */
enum bp_gil_event {
    EV_LOCK_MUTEX,        /* lock(M) */
    EV_MUTEX_CONTENDED,   /* ... and M was not free at once */
    EV_UNLOCK_MUTEX,      /* unlock(M), after it returned */
    EV_LOCK_SWITCH,       /* lock(SM) */
    EV_UNLOCK_SWITCH,     /* unlock(SM), after it returned */
    EV_GIL_RELEASED,      /* the holder let the GIL go under M (CPython's flag cleared) */
    EV_TIMEDWAIT_COND,    /* timedwait(C, M) */
};
/* now_fn is called only when the event needs the time. */
void bp_gil_event(struct bp_thread *t, enum bp_gil_event ev, uint64_t (*now_fn)(void)) BP_HIDDEN;
/* lock(M) by a thread outside the GIL, at time now, once it is known how
 * the take starts: M and the GIL free (it cannot wait: held from now), M
 * got but the GIL held by another (it will wait on C), or M busy. */
enum bp_take { TAKE_FREE, TAKE_MAY_WAIT, TAKE_CONTENDED };
void bp_gil_take(struct bp_thread *t, enum bp_take how, uint64_t now) BP_HIDDEN;

/* ---- gate.c: at most K worker threads may take the GIL ---- */
struct bp_gate {
    _Atomic int enabled;
    _Atomic int k;
    _Atomic int in_use;           /* slots held */
    _Atomic int parked;           /* threads waiting at the gate now */
    _Atomic uint64_t parks;       /* parks so far */
    _Atomic uint64_t overruns;    /* parks that reached park_max_ms */
    _Atomic uint64_t boosts;      /* parked threads let through for the main thread */
};
extern struct bp_gate bp_gate BP_HIDDEN;
void bp_gate_configure(int enabled, int k) BP_HIDDEN;
/* Returns 1 when the thread was parked (its phase then restarted at the
 * end of the park), 0 when it got a slot at once. */
int bp_gate_enter(struct bp_thread *t, uint64_t now) BP_HIDDEN;
void bp_gate_release(struct bp_thread *t) BP_HIDDEN;
void bp_gate_boost(void) BP_HIDDEN;
void bp_gate_open(void) BP_HIDDEN;
void bp_gate_after_fork_child(void) BP_HIDDEN;
/* May this thread be parked at all? Only a computing one: its last hold
 * was long or ended because a waiter asked for the GIL. Never the main
 * thread, a thread CPython did not start, a thread before its first take,
 * or a thread that holds the GIL briefly and blocks outside it (a socket
 * handler parked behind computing threads waits up to the park bound). */
static inline int bp_gate_applies(const struct bp_thread *t)
{
    return !atomic_load_explicit(&t->brief, memory_order_relaxed) && t->python && t->via != VIA_MAIN &&
           atomic_load_explicit(&t->takes, memory_order_relaxed) > 0;
}

/* ---- controller.c: one decision per interval, a pure function ---- */
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
    double exempt_waiting;  /* the main thread waiting for the GIL, on average */
    /* Every Python thread, for GIL affinity. */
    uint64_t cpu_ns, held_ns;
    double waiting;         /* waiting for the GIL or parked, on average */
    int pinned;
    double others;          /* pinned: other processes' share of our CPU (not counting processes
                             * under betapool that hold no CPU: they are in the registry) */
    /* Unpinned: the CPUs the process may use, who holds each and how busy
     * other processes keep it (the registry's and /proc/stat's view). */
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
    char gate_reason[160];
    enum bp_action pin;    /* pin, unpin or hold */
    int cpu;               /* pin: the CPU to claim */
    double native, waiting;
    char pin_reason[160];
};
void bp_controller_init(struct bp_controller *c, const struct bp_controller_params *p) BP_HIDDEN;
struct bp_decision bp_decide(struct bp_controller *c, const struct bp_interval *in) BP_HIDDEN;

/* ---- affinity.c: moving Python threads onto one CPU and back ---- */
struct bp_affinity {
    _Atomic int cpu;      /* the CPU the Python threads share now; -1: none */
    _Atomic int ever;     /* some thread was pinned in this process */
    int usable;           /* the process may use two CPUs or more (mask, cpuset, quota) */
    char why[160];        /* why not */
    cpu_set_t allowed;    /* the process's CPUs when it started */
    cpu_set_t pin;        /* the one CPU, while pinned */
};
extern struct bp_affinity bp_aff BP_HIDDEN;
void bp_affinity_init(void) BP_HIDDEN;
/* The monitor's side: the usable CPUs, who holds each (the registry's view,
 * NULL: none) and other processes' loads since the last call, into the
 * controller's input; then pin, unpin, and pin the Python threads that
 * started since. */
struct bp_reg_view;
void bp_affinity_view(uint64_t now, const struct bp_reg_view *reg, struct bp_interval *in) BP_HIDDEN;
double bp_affinity_ours(void) BP_HIDDEN; /* the process's CPU use over the last interval, in CPUs */
/* spare_brief: leave brief threads on every CPU (the gate is shut: some
 * threads compute on the pinned CPU). */
int bp_affinity_pin(int cpu, int spare_brief) BP_HIDDEN; /* threads moved */
void bp_affinity_unpin(void) BP_HIDDEN;
void bp_affinity_follow(int spare_brief) BP_HIDDEN;
/* A new thread's side, and what must not inherit a pin: exec, spawn, fork. */
void bp_affinity_thread_start(struct bp_thread *t) BP_HIDDEN;
int bp_affinity_release_self(void) BP_HIDDEN; /* 1: this thread was pinned; its mask is back */
void bp_affinity_retake_self(void) BP_HIDDEN;
void bp_affinity_after_fork_child(void) BP_HIDDEN;

/* ---- python.c: is this CPython, and which image is it ---- */
struct bp_python {
    int is_python;
    uintptr_t text_lo, text_hi;   /* the executable segment of the Python image */
    char version[32];
    int hooked_start_new;         /* our PyThread_start_new_thread is the bound one */
    int hooked_start_joinable;
};
extern struct bp_python bp_python BP_HIDDEN;
void bp_python_detect(void) BP_HIDDEN;
void bp_python_read_version(void) BP_HIDDEN;
/* 3.13: CPython's own debug offsets. Returns 2 when they confirm the GIL
 * found, 1 when there is nothing to compare, 0 when they refute it; sets
 * *free_threaded. */
int bp_python_cross_check(void *gil_cond, int *free_threaded, char *why, size_t n) BP_HIDDEN;
static inline int bp_in_python(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    return a >= bp_python.text_lo && a < bp_python.text_hi;
}

/* ---- options.c ---- */
enum bp_mode { MODE_OFF = 0, MODE_OBSERVE, MODE_AUTO };
enum bp_auto_choice { CHOICE_OFF = 0, CHOICE_AUTO }; /* BETAPOOL_AFFINITY, _GATE, _PRIORITY */
enum bp_clock_mode { CLOCKSEL_AUTO = 0, CLOCKSEL_MONOTONIC };
enum bp_opt_type { OPT_BOOL, OPT_INT, OPT_FLOAT, OPT_CHOICE, OPT_PATH };
struct bp_option {
    const char *name;       /* in the log's start record */
    const char *env;        /* the environment variable */
    enum bp_opt_type type;
    long def, min, max;     /* OPT_INT, OPT_BOOL, OPT_CHOICE (index) */
    double fdef, fmin, fmax; /* OPT_FLOAT */
    const char *const *choices; /* OPT_CHOICE: NULL-terminated, value = index */
    const char *alias;      /* OPT_CHOICE: an older name accepted for alias_value */
    long alias_value;
    const char *doc;
    long value;
    double fvalue;
    int from_env;           /* set by the environment (valid) */
    char path[512];         /* OPT_PATH */
};
enum bp_opt_id {
    OPT_MODE, OPT_LOG, OPT_INTERVAL_MS, OPT_VERBOSE, OPT_STATS,
    OPT_MIN_WORKERS, OPT_MAX_WORKERS, OPT_GIL_DANGER, OPT_EWMA_ALPHA, OPT_HYSTERESIS,
    OPT_PARK_MAX_MS, OPT_AFFINITY, OPT_GATE, OPT_PRIORITY, OPT_PRIORITY_US, OPT_CLOCK, OPT_METRICS_DIR, OPT_REGISTRY,
    OPT_COUNT
};
extern struct bp_option bp_options[OPT_COUNT] BP_HIDDEN;
/* getenv_fn lets tests feed values; warn receives each warning line. */
void bp_options_load(const char *(*getenv_fn)(const char *),
                     void (*warn)(const char *msg)) BP_HIDDEN;
static inline long bp_opt(enum bp_opt_id id) { return bp_options[id].value; }
int bp_option_format(const struct bp_option *o, char *buf, size_t n) BP_HIDDEN;
int bp_parse_long(const char *s, long *out) BP_HIDDEN;
int bp_parse_bool(const char *s, long *out) BP_HIDDEN;
int bp_parse_double(const char *s, double *out) BP_HIDDEN;
static inline double bp_optf(enum bp_opt_id id) { return bp_options[id].fvalue; }

/* ---- log.c: JSON lines into a fixed buffer ---- */
struct bp_json {
    char *buf;
    size_t len, cap;
    int need_comma;
    int overflow;
};
void bp_json_begin(struct bp_json *j, char *buf, size_t cap, const char *event, uint64_t t_ns) BP_HIDDEN;
void bp_json_key(struct bp_json *j, const char *key) BP_HIDDEN;
void bp_json_raw(struct bp_json *j, const char *s) BP_HIDDEN;
void bp_json_str(struct bp_json *j, const char *key, const char *val) BP_HIDDEN;
void bp_json_int(struct bp_json *j, const char *key, long long v) BP_HIDDEN;
void bp_json_bool(struct bp_json *j, const char *key, int v) BP_HIDDEN;
void bp_json_ms(struct bp_json *j, const char *key, uint64_t ns) BP_HIDDEN;
void bp_json_ratio(struct bp_json *j, const char *key, double r) BP_HIDDEN; /* 0..1, 4 decimals */
void bp_json_fixed2(struct bp_json *j, const char *key, double v) BP_HIDDEN;  /* >= 0, 2 decimals */
void bp_json_open(struct bp_json *j, const char *key, char bracket) BP_HIDDEN;
void bp_json_close(struct bp_json *j, char bracket) BP_HIDDEN;
int bp_json_end(struct bp_json *j) BP_HIDDEN; /* appends "}\n"; 0 if it fit */
void bp_json_figures(struct bp_json *j, const struct bp_figures *f) BP_HIDDEN;

int bp_log_open(const char *pattern, char *used_path, size_t n, char *err, size_t errn) BP_HIDDEN;
void bp_log_write(const char *s, size_t n) BP_HIDDEN;
void bp_log_flush(void) BP_HIDDEN;
void bp_log_close(void) BP_HIDDEN;
int bp_log_enabled(void) BP_HIDDEN;
void bp_log_forget(void) BP_HIDDEN; /* in a forked child: drop the parent's log */

/* ---- shim.c / monitor.c ---- */
extern _Atomic int bp_active BP_HIDDEN;  /* hooks do their work only when set */
extern uint64_t bp_t0_ns BP_HIDDEN;
void bp_warn(const char *fmt, ...) BP_HIDDEN __attribute__((format(printf, 1, 2)));
void bp_say(const char *fmt, ...) BP_HIDDEN __attribute__((format(printf, 1, 2)));
void bp_monitor_ensure(void) BP_HIDDEN; /* start it once, with the first Python thread */

void bp_monitor_stop_and_finish(void) BP_HIDDEN;
void bp_monitor_exit_now(void) BP_HIDDEN;  /* _exit, _Exit: the last records, bounded */
void bp_monitor_set_owner(void) BP_HIDDEN; /* at start: this process's log and shim's thread */
void bp_monitor_after_fork_child(void) BP_HIDDEN;
void bp_note(const char *level, const char *msg) BP_HIDDEN; /* queued, written by the monitor */
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
void bp_metrics_read(struct bp_published *out) BP_HIDDEN;

#endif
