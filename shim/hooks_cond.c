/* The interposers on the GIL's cond: the priority (a favoured waiter's
 * wait cut short, so that CPython asks the holder to let go sooner) and the
 * directed hand-off (at a drop, the free GIL goes to the waiter whose turn
 * it is). Both act through CPython's own cond and mutex, on its own waits;
 * who is favoured and who goes first are decided in controller.h. */
#include <errno.h>
#include <stdalign.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "controller.h"
#include "gate.h"
#include "gil.h"
#include "handoff.h"
#include "real.h"
#include "threads.h"

#define HOOK __attribute__((visibility("default")))

/* Threads in a wait the priority shortened (see favour()). */
static alignas(64) _Atomic int favoured_now; /* read by every favour() */
/* The take (by when it began) whose holder this thread has asked to let go
 * already (see favour()). */
static __thread uint64_t asked_for_take;

/* The GIL's cond is signalled by the holder's drop (and its switch cond by
 * a take): nothing to record there (the drop's release is read from
 * CPython's flag at unlock(M)). With the hand-off off, while a favoured
 * thread waits, the drop wakes every waiter, not the one waiting longest
 * (a computing thread the gate admitted), so that the favoured one can
 * take the GIL. With the hand-off directed, the drop wakes one, and a
 * waiter that leaves the GIL to a higher class passes the wake on
 * (hold_back): a few wake-ups, not one per waiter of a pool. */
HOOK int pthread_cond_signal(pthread_cond_t *c)
{
    if (BP_UNLIKELY(atomic_load_explicit(&bp_handoff.wake_all, memory_order_relaxed) > 0) &&
        (void *)c == atomic_load_explicit(&bp_gil.cond, memory_order_relaxed))
        return bp_real.cond_broadcast(c);
    return bp_real.cond_signal(c);
}

/* The GIL priority's mechanics (who is favoured: bp_policy_favour).
 * take_gil waits on the GIL's cond until a deadline one switch interval
 * away; when it passes with no switch meanwhile, the waiter asks the holder
 * to let go. A favoured waiter gets a deadline bp_priority_ns away instead,
 * one thread at a time (favoured_now). With the directed hand-off, the
 * first wait of a favoured take gets a deadline that has passed already:
 * CPython's own timed-out wait then asks the holder at once, from the
 * waiter, as at any timeout; the later waits of the take, bp_priority_ns. CPython's deadline is on
 * CLOCK_MONOTONIC (its conds are made so); one that does not look like it
 * is left alone. */
static enum bp_holder holder_for(const struct bp_thread *t)
{
    struct bp_thread *h = atomic_load_explicit(&bp_gil.holder, memory_order_relaxed);
    if (!h)
        return HOLDER_NONE;
    if (h == t)
        return HOLDER_SELF;
    return atomic_load_explicit(&h->brief, memory_order_relaxed) ? HOLDER_BRIEF : HOLDER_COMPUTING;
}

static int favour(struct bp_thread *t, const struct timespec *abstime, struct timespec *sooner)
{
    struct bp_waiter w = {
        .gate_shut = atomic_load_explicit(&bp_gate.shut, memory_order_relaxed),
        .favoured_now = atomic_load_explicit(&favoured_now, memory_order_relaxed),
        .parkable = bp_gate_applies(t),
        .brief = atomic_load_explicit(&t->brief, memory_order_relaxed),
        .asked_ns = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed),
        .drop_ns = t->drop_ns,
        .hold_ns = t->hold_ns,
        .holder = holder_for(t),
    };
    if (!bp_policy_favour(&w, bp_now_ns))
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    int first = bp_handoff_ask_at_once && w.asked_ns != asked_for_take;
    uint64_t want = now_ns + (first ? 0 : bp_priority_ns);
    if (abstime->tv_sec < 0 || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000)
        return 0;
    uint64_t given = (uint64_t)abstime->tv_sec * 1000000000u + (uint64_t)abstime->tv_nsec;
    if (given <= want || given - now_ns > 10000000000u)
        return 0; /* sooner already, or not a monotonic deadline */
    if (atomic_fetch_add_explicit(&favoured_now, 1, memory_order_relaxed) > 0) {
        atomic_fetch_sub_explicit(&favoured_now, 1, memory_order_relaxed);
        return 0; /* another thread got there first */
    }
    if (!bp_handoff_on)
        atomic_fetch_add_explicit(&bp_handoff.wake_all, 1, memory_order_relaxed);
    if (first)
        asked_for_take = w.asked_ns;
    sooner->tv_sec = (time_t)(want / 1000000000u);
    sooner->tv_nsec = (long)(want % 1000000000u);
    atomic_store_explicit(&t->favoured, atomic_load_explicit(&t->favoured, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return 1;
}

/* The directed hand-off (who goes first: bp_policy_class and
 * bp_policy_hold_back). The wait is CPython's own, on its cond under its
 * mutex; only its end changes: a waiter that wakes to a free GIL while one
 * of a higher class still waits on the cond waits again (and passes the
 * drop's wake on: hold_back), so that CPython's take_gil, which takes
 * the GIL as soon as it finds it free, runs in the thread whose turn it is.
 * The counts of waiters per class change under M, so a waiter holding M
 * reads them exactly. Each wait is held back BP_HOLD_BACK_NS at most. */
static void class_enter(enum bp_waiter_class cls)
{
    atomic_fetch_add_explicit(&bp_handoff.waiting[cls], 1, memory_order_relaxed);
    if (cls != WAITER_COMPUTING)
        atomic_fetch_add_explicit(&bp_handoff.urgent, 1, memory_order_relaxed);
}

static void class_leave(enum bp_waiter_class cls)
{
    atomic_fetch_sub_explicit(&bp_handoff.waiting[cls], 1, memory_order_relaxed);
    if (cls != WAITER_COMPUTING)
        atomic_fetch_sub_explicit(&bp_handoff.urgent, 1, memory_order_relaxed);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The GIL is free and this thread (of class cls) holds M: while a waiter
 * of a higher class waits on the cond, wait on it again, BP_HOLD_BACK_NS
 * at most (and never past deadline, when one is given). Returns 1 when the
 * GIL was taken meanwhile (*r: the last wait's result), 0 when this thread
 * is to take it. */
static int hold_back(enum bp_waiter_class cls, pthread_cond_t *c, pthread_mutex_t *m,
                     const struct timespec *deadline, int *r)
{
    uint64_t start = 0, held = 0;
    for (;;) {
        int waiting[WAITER_CLASS_COUNT];
        for (int k = 0; k < WAITER_CLASS_COUNT; k++)
            waiting[k] = atomic_load_explicit(&bp_handoff.waiting[k], memory_order_relaxed);
        if (!bp_handoff_on || !bp_policy_hold_back(cls, waiting, held)) {
            /* Taken past a waiter of a higher class: the hand-off off, or
             * the hold-back's bound reached. */
            if (bp_policy_hold_back(cls, waiting, 0))
                atomic_fetch_add_explicit(&bp_handoff.passed_over, 1, memory_order_relaxed);
            return 0;
        }
        uint64_t now = mono_ns();
        if (!start) {
            start = now;
            atomic_fetch_add_explicit(&bp_handoff.held_back, 1, memory_order_relaxed);
        }
        uint64_t until = start + BP_HOLD_BACK_NS;
        if (deadline && deadline->tv_sec >= 0 && deadline->tv_nsec >= 0 && deadline->tv_nsec < 1000000000) {
            uint64_t given = (uint64_t)deadline->tv_sec * 1000000000u + (uint64_t)deadline->tv_nsec;
            if (given > now && given < until)
                until = given;
        }
        struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u), .tv_nsec = (long)(until % 1000000000u)};
        /* The drop woke this thread, or another one: pass a wake on to
         * the next waiter (glibc wakes the longest waiting first; the
         * higher class is reached after the few computing waiters the
         * gate admitted at most, each passing it on). */
        bp_real.cond_signal(c);
        class_enter(cls);
        *r = bp_real.cond_timedwait(c, m, &ts);
        class_leave(cls);
        if (bp_gil_locked())
            return 1; /* the higher class took it */
        held = mono_ns() - start;
    }
}

static __attribute__((noinline)) int directed_wait(struct bp_thread *t, pthread_cond_t *c, pthread_mutex_t *m,
                                                   const struct timespec *deadline)
{
    uint64_t asked = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
    enum bp_waiter_class cls =
        bp_policy_class(atomic_load_explicit(&t->brief, memory_order_relaxed), t->hold_ns, t->drop_ns, asked,
                        bp_now_ns());
    class_enter(cls);
    int r = bp_real.cond_timedwait(c, m, deadline);
    class_leave(cls);
    if (bp_gil_locked() || hold_back(cls, c, m, deadline, &r))
        return r; /* not free: CPython waits again */
    bp_handoff_served(cls, bp_now_ns() - asked);
    return r;
}

/* A take that starts (lock(M) got, the gate shut) and finds the GIL free
 * while a waiter of a higher class waits on the cond, woken by the drop
 * (a thread the gate just let through, or a holder back for the GIL):
 * left alone it would take the GIL before the woken waiter gets M. It
 * waits on the cond instead, as its take would if the GIL were held. */
int bp_handoff_take_begin(struct bp_thread *t, pthread_mutex_t *m, uint64_t now)
{
    void *c = atomic_load_explicit(&bp_gil.cond, memory_order_relaxed);
    if (!c || !bp_priority_ns || !bp_handoff_on || bp_gil_locked())
        return 0;
    enum bp_waiter_class cls =
        bp_policy_class(atomic_load_explicit(&t->brief, memory_order_relaxed), t->hold_ns, t->drop_ns, now, now);
    uint64_t before = atomic_load_explicit(&bp_handoff.held_back, memory_order_relaxed);
    int r;
    hold_back(cls, c, m, NULL, &r);
    return atomic_load_explicit(&bp_handoff.held_back, memory_order_relaxed) != before;
}

HOOK int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
    struct bp_thread *t;
    void *g = atomic_load_explicit(&bp_gil.cond, memory_order_relaxed);
    if (BP_LIKELY((void *)c != g) || !g || !(t = bp_self))
        return bp_real.cond_timedwait(c, m, abstime);
    bp_gil_event(t, EV_TIMEDWAIT_COND, bp_now_ns);
    /* M is held here and again on return: CPython's own switch count and
     * lock flag are stable to read. A timeout with the GIL still held and
     * no switch since is CPython's cue to ask the holder to let go; the
     * holder is the thread that took it last. Every such request marks the
     * holder's hold as not brief (a computing holder cut short by a
     * favoured waiter must not look brief and lose the next waiter its
     * favour: measured, one CPU thread next to a socket client, every
     * other round trip waited a full switch interval). Only a full switch
     * interval's counts as forced, the gate's signal: a favoured wait's
     * early timeout says nothing about how long the holder holds. */
    const char *gil = (const char *)c;
    unsigned long switches = *(const volatile unsigned long *)(const void *)(gil + BP_GIL_SWITCH_NUMBER_FROM_COND);
    struct timespec sooner;
    int favoured = bp_priority_ns && favour(t, abstime, &sooner);
    const struct timespec *until = favoured ? &sooner : abstime;
    int r = bp_priority_ns && atomic_load_explicit(&bp_gate.shut, memory_order_relaxed)
                ? directed_wait(t, c, m, until)
                : bp_real.cond_timedwait(c, m, until);
    if (favoured) {
        atomic_fetch_sub_explicit(&favoured_now, 1, memory_order_relaxed);
        if (!bp_handoff_on)
            atomic_fetch_sub_explicit(&bp_handoff.wake_all, 1, memory_order_relaxed);
    }
    if (r == ETIMEDOUT && *(const volatile int *)(const void *)(gil + BP_GIL_LOCKED_FROM_COND) == 1 &&
        *(const volatile unsigned long *)(const void *)(gil + BP_GIL_SWITCH_NUMBER_FROM_COND) == switches) {
        struct bp_thread *h = atomic_load_explicit(&bp_gil.holder, memory_order_relaxed);
        if (h && h != t) {
            atomic_fetch_add_explicit(&h->asked, 1, memory_order_relaxed);
            if (!favoured)
                atomic_fetch_add_explicit(&h->forced, 1, memory_order_relaxed);
        }
    }
    return r;
}
