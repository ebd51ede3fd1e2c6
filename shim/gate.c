/* The gate: while it is shut at most K Python worker threads may hold a slot,
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
 * A slot counts a thread that holds or waits for the GIL, nothing else: it
 * goes back at every GIL release, whenever the thread starts waiting on a
 * Python lock or queue, and at its exit. A slot kept across a blocking call
 * made a thread wait for one blocked in I/O - a socket's echo parked behind
 * the client waiting for that very echo. Giving it back costs a futex wake
 * only when a thread is parked; otherwise a lock and a decrement. */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "gate.h"
#include "options.h"
#include "real.h"
#include "threads.h"

struct bp_gate bp_gate;

enum { WORD_WAITING = 0, WORD_HANDED = 1, WORD_OPEN = 2 };

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

void bp_gate_configure(int shut, int k)
{
    atomic_store(&bp_gate.k, k);
    atomic_store(&bp_gate.shut, shut);
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
int bp_gate_enter(struct bp_thread *t, uint64_t now)
{
    int cls = t->after_idle ? 1 : 0;
    lock_q();
    if (!q_head[0] && !q_head[1] &&
        atomic_load_explicit(&bp_gate.in_use, memory_order_relaxed) <
            atomic_load_explicit(&bp_gate.k, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&bp_gate.in_use, 1, memory_order_relaxed);
        unlock_q();
        t->has_slot = 1;
        return 0;
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
    if (word == WORD_HANDED)
        t->has_slot = 1;
    bp_phase_set(t, PH_OUTSIDE, at);
    return 1;
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

void bp_gate_stop(void)
{
    atomic_store(&bp_gate.shut, 0);
}

void bp_gate_open(void)
{
    atomic_store(&bp_gate.shut, 0);
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
