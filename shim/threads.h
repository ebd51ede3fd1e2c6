/* threads.c: one record per thread, written by its owner only; the phases
 * a thread's time is split into. */
#ifndef BETAPOOL_THREADS_H
#define BETAPOOL_THREADS_H

#include <stdalign.h>
#include <stddef.h>
#include <sys/types.h>

#include "common.h"

/* Where a thread's time is going right now. Every nanosecond of a thread's
 * life is in exactly one phase; "outside" is time blocked outside the GIL. */
enum bp_phase {
    PH_OUTSIDE = 0, /* I/O, sleep, native code with the GIL released */
    PH_WAIT,        /* waiting to take the GIL (incl. the forced-switch wait) */
    PH_HELD,        /* holding the GIL: running Python */
    PH_IDLE,        /* waiting on a Python lock/queue with the GIL released */
    PH_PARKED,      /* held at betapool's gate (mode auto, the gate shut) */
    PH_COUNT
};

/* How a thread was recognised as CPython's (the log's "via"). */
enum bp_via { VIA_NONE = 0, VIA_MAIN, VIA_START_ROUTINE, VIA_START_NEW_THREAD, VIA_START_JOINABLE };
const char *bp_via_name(int via) BP_HIDDEN;

enum bp_slot_state { SLOT_FREE = 0, SLOT_RESERVED, SLOT_LIVE, SLOT_EXITED };

/* What the monitor saw of a thread at its last sample (sampling.c): the
 * next sample is the difference. */
struct bp_seen {
    uint64_t ns;            /* end of the last sampled interval */
    uint64_t cpu_ns;
    uint64_t acc_ns[PH_COUNT];
    uint64_t forced, favoured;
    uint64_t takes, cond_waits;
};

/* One record per thread, in three groups by who writes them, each starting
 * a cache line of its own: a line one thread writes and others write too
 * moves between their CPUs at every write. The owner writes its group at
 * every GIL take and drop, so nothing another thread writes shares its
 * lines (waiters' `forced` and `asked` once shared the second, the gate's
 * `park_word` the owner's `after_idle`). 384 bytes. */
struct bp_thread {
    /* ---- 1. The thread itself, on its hot path (two lines) ----
     * Its times: written by the owner at every GIL event, read by the
     * monitor through the sequence counter (a seqlock: odd while changing). */
    alignas(64) _Atomic uint32_t seq;
    _Atomic uint32_t phase;
    _Atomic uint64_t phase_start_ns;
    _Atomic uint64_t acc_ns[PH_COUNT];
    /* A holder's drop under way since then (set at its lock(M)), while the
     * phase still says PH_HELD and handover_ns > phase_start_ns: readers
     * count the time since as PH_WAIT, and the drop's end settles both in
     * one change (bp_phase_set_via). One write at the drop's start instead
     * of a phase change. */
    _Atomic uint64_t handover_ns;
    _Atomic uint64_t takes;    /* completed GIL takes */
    /* Waits on the main GIL's cond inside its takes: one per wake-up that
     * found the GIL held again (a timeout, or a signal another thread beat
     * it to). Far more than the takes that waited: a convoy of waiters. */
    _Atomic uint64_t cond_waits;
    _Atomic uint64_t favoured; /* its GIL waits betapool shortened (the priority, hooks.c) */
    /* The GIL rules (gil.c, gil_rules.h), written by the owner only. */
    uint8_t gil_step;       /* where it is inside a take or drop: enum bp_gil_step */
    /* The GIL of its current (or last) take: 0 the main interpreter's,
     * i > 0 bp_gil_others[i - 1] (a sub-interpreter's own). */
    uint8_t gil_other;
    /* How its last hold went. A thread is brief while its last hold was
     * shorter than BP_BRIEF_HOLD_NS and ended of its own accord: it is
     * never parked, and it may be favoured. Read by other threads' waits
     * (see bp_gil.holder), the gate and the monitor. */
    _Atomic uint8_t brief;
    /* Set at its first take of another GIL, never cleared: it computes in
     * parallel with the main GIL's threads, so it is never pinned with
     * them nor parked by their gate (read by the monitor and affinity). */
    _Atomic uint8_t other_gil_seen;
    uint32_t asked_seen;    /* `asked` at the end of the last hold */
    uint64_t hold_start_ns; /* when the current (or last) hold began */
    uint64_t hold_ns;       /* length of the last hold */
    uint64_t drop_ns;       /* when it ended */
    /* The gate's owner side (gate.c), at every gated take. */
    uint8_t has_slot;       /* holds one of the gate's K slots */
    uint8_t after_idle;     /* waited idle since its last take: new work */
    /* Read at every gated take, set before the thread runs. */
    uint8_t python;         /* CPython started this thread */
    uint8_t via;            /* enum bp_via */

    /* ---- 2. Written by other threads (one line) ----
     * Waiters ask the holder to let go (hooks.c's timedwait): */
    alignas(64) _Atomic uint64_t forced; /* waiters' full switch intervals that asked this thread, holding, to let go */
    _Atomic uint32_t asked;    /* waiters' timeouts, favoured ones too, that asked it to let go */
    /* The gate (gate.c): the thread hands itself a slot or is handed one. */
    _Atomic uint32_t park_word; /* futex: waiting, handed a slot, gate open */
    struct bp_thread *q_next, *q_prev; /* the gate's queue, under its lock */
    uint8_t q_class;                   /* which of the gate's queues */
    /* GIL affinity (affinity.c, on the monitor's thread; the owner at a
     * pin given back). */
    _Atomic uint8_t aff;        /* enum bp_aff_state */
    uint8_t inherit_pin;        /* created by a thread betapool had pinned */
    uint32_t next_free;         /* free-list link (threads.c), while the slot is free */

    /* ---- 3. Identity and the monitor (three lines: the monitor's view of
     * the GIL takes and cond waits, 16 bytes, went past the second) ----
     * Set by the creator before the thread runs, or by the thread at its
     * start and exit. */
    alignas(64) _Atomic int state; /* enum bp_slot_state */
    pid_t tid;
    uint64_t start_ns;
    uint64_t exit_ns;
    uint64_t exit_cpu_ns;
    void *(*start_routine)(void *);
    void *start_arg;
    /* Monitor-private bookkeeping (monitor.c, sampling.c). */
    uint8_t start_logged;
    struct bp_seen seen;
};
/* A field added to a group that no longer fits moves the groups after it
 * and grows every record: say so here when it is meant. (Meant: 320 -> 384
 * bytes for seen.takes and seen.cond_waits, the convoy's measure.) */
_Static_assert(offsetof(struct bp_thread, forced) == 128 && offsetof(struct bp_thread, state) == 192 &&
                   sizeof(struct bp_thread) == 384,
               "the thread record's groups: two lines, one, three");
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
/* In a fork child: every record but the forking thread's is dropped; that
 * one's times start again at now (the child's thread is a new task). */
void bp_threads_after_fork_child(uint64_t now) BP_HIDDEN;
/* A thread's CPU time by its id, 0 when it is gone. */
uint64_t bp_thread_cpu_ns(pid_t tid) BP_HIDDEN;
/* Is the calling thread the process's last one (a leader that ended with
 * pthread_exit stays counted as a zombie)? */
int bp_threads_alone(void) BP_HIDDEN;

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
    uint64_t takes, cond_waits;
    uint32_t phase;
};
void bp_thread_read(const struct bp_thread *t, uint64_t now, struct bp_times *out) BP_HIDDEN;

#endif
