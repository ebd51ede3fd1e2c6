/* The gate: in enforce mode at most K Python worker threads may hold a slot,
 * and only a slot holder may take the GIL. The others park here, outside the
 * GIL, on a futex of their own, in arrival order. A released slot is handed
 * straight to the oldest parked thread, so none can jump the queue.
 *
 * Who never parks: the main thread, threads CPython did not start, and any
 * thread's first take (Thread.start() waits for it). Every park is bounded
 * by park_max_ms; a thread that reaches the bound passes without a slot (an
 * overrun, counted): Python code that spins on a flag set by a parked thread
 * must not hang.
 *
 * When a slot is given back: at a GIL drop when more slots are out than K,
 * when this thread's recent GIL releases lasted longer than slot_keep_us, or
 * when threads are parked and it has held its slot for a quantum; whenever
 * it starts waiting on a Python lock or queue; at its exit. A thread whose
 * releases are short (small reads, socket round trips) keeps its slot across
 * them and pays no futex call per blocking call. */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bp.h"

struct bp_gate bp_gate;

enum { WORD_WAITING = 0, WORD_HANDED = 1, WORD_OPEN = 2 };

/* A thread holding its slot this long hands it on at its next drop when
 * others are parked: CPython's own switch interval. */
#define SLOT_QUANTUM_NS 5000000u

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
/* Two FIFO queues: [0] threads in the middle of their work, [1] threads
 * starting new work. */
static struct bp_thread *q_head[2], *q_tail[2];

static void lock_q(void)
{
    bp_real.mutex_lock(&qlock);
}

static void unlock_q(void)
{
    bp_real.mutex_unlock(&qlock);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val, uint64_t rel_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(rel_ns / 1000000000u), .tv_nsec = (long)(rel_ns % 1000000000u)};
    int saved = errno;
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
    errno = saved;
}

void bp_gate_configure(int enabled, int k)
{
    atomic_store(&bp_gate.k, k);
    atomic_store(&bp_gate.enabled, enabled);
}

/* The queues are doubly linked: an overrun or a boost takes a thread out of
 * the middle or the end of a queue thousands long in constant time. */
static void unlink_waiter(struct bp_thread *t)
{
    int c = t->q_class;
    if (t->q_prev)
        t->q_prev->q_next = t->q_next;
    else
        q_head[c] = t->q_next;
    if (t->q_next)
        t->q_next->q_prev = t->q_prev;
    else
        q_tail[c] = t->q_prev;
    t->q_next = t->q_prev = NULL;
}

static void push_waiter(struct bp_thread *t, int c)
{
    t->q_class = (uint8_t)c;
    t->q_next = NULL;
    t->q_prev = q_tail[c];
    if (q_tail[c])
        q_tail[c]->q_next = t;
    else
        q_head[c] = t;
    q_tail[c] = t;
}

static struct bp_thread *pop_waiter(void)
{
    for (int c = 0; c < 2; c++) {
        struct bp_thread *t = q_head[c];
        if (t) {
            unlink_waiter(t);
            return t;
        }
    }
    return NULL;
}

/* Called at the start of a GIL take by a thread without a slot. */
void bp_gate_enter(struct bp_thread *t, uint64_t now)
{
    int cls = t->after_idle ? 1 : 0;
    lock_q();
    if (!q_head[0] && !q_head[1] &&
        atomic_load_explicit(&bp_gate.in_use, memory_order_relaxed) <
            atomic_load_explicit(&bp_gate.k, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&bp_gate.in_use, 1, memory_order_relaxed);
        unlock_q();
        t->has_slot = 1;
        t->slot_since_ns = now;
        return;
    }
    atomic_store_explicit(&t->park_word, WORD_WAITING, memory_order_relaxed);
    push_waiter(t, cls);
    atomic_fetch_add_explicit(&bp_gate.parked, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bp_gate.parks, 1, memory_order_relaxed);
    unlock_q();

    bp_phase_set(t, PH_PARKED, now);
    uint64_t deadline = now + (uint64_t)bp_opt(OPT_PARK_MAX_MS) * 1000000u;
    uint64_t at = now;
    while (atomic_load_explicit(&t->park_word, memory_order_acquire) == WORD_WAITING && at < deadline) {
        futex_wait(&t->park_word, WORD_WAITING, deadline - at);
        at = bp_now_ns();
    }

    lock_q();
    uint32_t word = atomic_load_explicit(&t->park_word, memory_order_acquire);
    if (word == WORD_WAITING) {
        unlink_waiter(t);
        atomic_fetch_add_explicit(&bp_gate.overruns, 1, memory_order_relaxed);
    }
    atomic_fetch_sub_explicit(&bp_gate.parked, 1, memory_order_relaxed);
    unlock_q();
    if (word == WORD_HANDED) {
        t->has_slot = 1;
        t->slot_since_ns = at;
    }
    bp_phase_set(t, PH_OUTSIDE, at);
}

/* An exempt thread (the main thread) starts waiting on a Python lock while
 * workers are parked: the lock's holder may well be the worker parked last
 * (it was stopped at its next take). Let that one through at once, over the
 * limit; its slot goes back at its next release. Without this the main
 * thread's ThreadPoolExecutor.submit waited behind the whole queue
 * (measured: 5 of 6 s of submit time spent in one lock). */
void bp_gate_boost(void)
{
    struct bp_thread *t = NULL;
    lock_q();
    for (int c = 1; c >= 0 && !t; c--) {
        t = q_tail[c];
        if (t)
            unlink_waiter(t);
    }
    if (t) {
        atomic_fetch_add_explicit(&bp_gate.in_use, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&bp_gate.boosts, 1, memory_order_relaxed);
        atomic_store_explicit(&t->park_word, WORD_HANDED, memory_order_release);
    }
    unlock_q();
    if (t)
        futex_wake(&t->park_word);
}

void bp_gate_release(struct bp_thread *t)
{
    struct bp_thread *next = NULL;
    t->has_slot = 0;
    lock_q();
    if (atomic_load_explicit(&bp_gate.in_use, memory_order_relaxed) <=
            atomic_load_explicit(&bp_gate.k, memory_order_relaxed) &&
        (next = pop_waiter()) != NULL) {
        /* The slot passes on: in_use is unchanged. */
        atomic_store_explicit(&next->park_word, WORD_HANDED, memory_order_release);
    } else {
        atomic_fetch_sub_explicit(&bp_gate.in_use, 1, memory_order_relaxed);
    }
    unlock_q();
    if (next)
        futex_wake(&next->park_word);
}

void bp_gate_after_drop(struct bp_thread *t, uint64_t now)
{
    if (!t->has_slot)
        return;
    int over = atomic_load_explicit(&bp_gate.in_use, memory_order_relaxed) >
               atomic_load_explicit(&bp_gate.k, memory_order_relaxed);
    int waiting = atomic_load_explicit(&bp_gate.parked, memory_order_relaxed) > 0;
    /* A thread whose releases are long gives its slot back even when nobody
     * is parked yet: one that arrives while it sleeps must not wait for it
     * to wake (and releasing to nobody costs no system call). */
    if (over || t->outside_ewma_ns > (uint64_t)bp_opt(OPT_SLOT_KEEP_US) * 1000u ||
        (waiting && now - t->slot_since_ns > SLOT_QUANTUM_NS))
        bp_gate_release(t);
}

/* Take-start bookkeeping for every thread: how long it was outside. */
void bp_gate_note_outside(struct bp_thread *t, uint64_t outside_ns)
{
    /* EWMA with weight 1/4 on the newest: a few long waits move it. */
    t->outside_ewma_ns = (t->outside_ewma_ns * 3 + outside_ns) / 4;
}

/* At exit: nobody waits any more. */
void bp_gate_open(void)
{
    atomic_store(&bp_gate.enabled, 0);
    lock_q();
    struct bp_thread *t;
    while ((t = pop_waiter()) != NULL) {
        atomic_store_explicit(&t->park_word, WORD_OPEN, memory_order_release);
        futex_wake(&t->park_word);
    }
    unlock_q();
}

/* In a fork child only the forking thread lives: no queue, and the slots
 * out are its own. */
void bp_gate_after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&qlock, &fresh, sizeof fresh);
    q_head[0] = q_head[1] = q_tail[0] = q_tail[1] = NULL;
    atomic_store(&bp_gate.parked, 0);
    atomic_store(&bp_gate.in_use, bp_self && bp_self->has_slot ? 1 : 0);
}
