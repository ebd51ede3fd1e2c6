/* The interposers on the GIL's objects. Each one is thin: it recognises the
 * GIL's four objects by comparing addresses, hands the event to the calling
 * thread's take/drop rules (gil_rules.h), and calls the real function. No
 * allocation, no loader lock, no logging, no Python. The other interposers:
 * hooks_threads.c (thread start, Python-level waits) and hooks_process.c
 * (exec, spawn); sub-interpreters' own GILs: hooks_subinterp.c; the
 * GIL's cond (the priority and the directed hand-off): hooks_cond.c. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "clock.h"
#include "controller.h"
#include "gate.h"
#include "gil.h"
#include "gil_rules.h"
#include "handoff.h"
#include "hooks.h"
#include "python.h"
#include "real.h"
#include "threads.h"

#define HOOK __attribute__((visibility("default")))
#define CALLER() __builtin_return_address(0)

_Atomic int bp_active;

/* ---- the GIL's objects ---- */

HOOK int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    int r = bp_real.mutex_init(m, attr);
    /* create_gil initialises the GIL's mutexes first: a Python that
     * arrived after start is recognised here, in time to see its GIL made. */
    if (BP_UNLIKELY(atomic_load_explicit(&bp_python_waiting, memory_order_relaxed)))
        bp_python_arrive(CALLER(), "pthread_mutex_init");
    if (atomic_load_explicit(&bp_active, memory_order_relaxed) && bp_in_python(CALLER()))
        bp_gil_note_mutex_init(m);
    return r;
}

HOOK int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
    int r = bp_real.cond_init(c, attr);
    if (BP_UNLIKELY(atomic_load_explicit(&bp_python_waiting, memory_order_relaxed)))
        bp_python_arrive(CALLER(), "pthread_cond_init");
    if (r == 0 && atomic_load_explicit(&bp_active, memory_order_relaxed) && bp_in_python(CALLER()))
        bp_gil_note_cond_init(c);
    return r;
}

/* A sub-interpreter's GIL destroyed (destroy_gil): forget it. */
HOOK int pthread_cond_destroy(pthread_cond_t *c)
{
    if (BP_UNLIKELY(atomic_load_explicit(&bp_gil.others, memory_order_relaxed)))
        bp_gil_note_cond_destroy(c);
    return bp_real.cond_destroy(c);
}

/* Every pthread_mutex_lock and unlock in the process comes through here,
 * so the way past betapool is kept short. The GIL's four objects lie within
 * 176 bytes of its cond: one subtraction and one compare send a call on
 * any other object straight to the real function, without a frame of ours
 * (with no GIL found the cond is NULL and nothing is near it). A call on
 * the GIL's mutexes goes further only when the calling thread's take/drop
 * rules need it: lock(M) always (a take or a drop starts), lock(SM) unless
 * the thread holds the GIL, an unlock only while a take or a drop is under
 * way (gil_step). */
#define GIL_SPAN ((uintptr_t)BP_GIL_SWITCH_MUTEX_OFFSET + sizeof(pthread_mutex_t))
static inline uintptr_t gil_distance(const void *obj)
{
    return (uintptr_t)obj - (uintptr_t)atomic_load_explicit(&bp_gil.cond, memory_order_relaxed);
}

/* lock(M) by a thread outside the GIL, with the gate in force: a worker
 * without a slot may be parked here first, outside the GIL. */
static __attribute__((noinline)) int take_begin_gated(struct bp_thread *t, pthread_mutex_t *m)
{
    uint64_t now = bp_now_ns();
    /* After a park the take starts when the park ended; a slot got at once
     * changes nothing (the phase still starts where the thread left the
     * GIL, and a take is never backdated before now). */
    if (!t->has_slot && bp_gate_applies(t) && bp_gate_enter(t, now))
        now = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
    t->after_idle = 0;
    if (bp_real.mutex_trylock(m) == 0) {
        /* Held back (the directed hand-off), the take waited: its end is
         * timed at lock(SM) as a take that waited on C. */
        int waited = BP_UNLIKELY(atomic_load_explicit(&bp_handoff.urgent, memory_order_relaxed) > 0) &&
                     bp_handoff_take_begin(t, m, now);
        bp_gil_take_rule(t, waited || bp_gil_locked() ? TAKE_MAY_WAIT : TAKE_FREE, now);
        return 0;
    }
    bp_gil_take_rule(t, TAKE_CONTENDED, now);
    int r = bp_real.mutex_lock(m);
    if (r == 0 && BP_UNLIKELY(atomic_load_explicit(&bp_handoff.urgent, memory_order_relaxed) > 0))
        bp_handoff_take_begin(t, m, now);
    return r;
}

/* lock(M) by a thread outside the GIL starts a take; by the holder, a
 * drop. M free and the GIL not held: the take cannot wait, it holds from
 * now (one phase change, not two). The take's clock is read once M's
 * trylock has answered: nothing is live across the call but t and m. */
static __attribute__((noinline)) int gil_mutex_lock(struct bp_thread *t, pthread_mutex_t *m)
{
    if (BP_LIKELY(m == atomic_load_explicit(&bp_gil.mutex, memory_order_relaxed))) {
        if (atomic_load_explicit(&t->phase, memory_order_relaxed) == PH_OUTSIDE) {
            t->gil_other = 0;
            if (atomic_load_explicit(&bp_gate.shut, memory_order_relaxed))
                return take_begin_gated(t, m);
            t->after_idle = 0;
            if (bp_real.mutex_trylock(m) == 0) {
                bp_gil_take_rule(t, bp_gil_locked() ? TAKE_MAY_WAIT : TAKE_FREE, bp_now_ns());
                return 0;
            }
            bp_gil_take_rule(t, TAKE_CONTENDED, bp_now_ns());
        } else if (!t->gil_other) {
            bp_gil_rule(t, EV_LOCK_MUTEX, bp_now_ns);
        }
    }
    return bp_real.mutex_lock(m);
}

/* lock(SM) by a thread not holding the GIL: a take completes, or a drop's
 * forced-switch wait begins. */
static __attribute__((noinline)) int gil_switch_lock(struct bp_thread *t, pthread_mutex_t *m)
{
    if (BP_LIKELY(m == atomic_load_explicit(&bp_gil.switch_mutex, memory_order_relaxed)))
        bp_gil_rule(t, EV_LOCK_SWITCH, bp_now_ns);
    return bp_real.mutex_lock(m);
}

HOOK int pthread_mutex_lock(pthread_mutex_t *m)
{
    uintptr_t d = gil_distance(m);
    if (BP_UNLIKELY(d < GIL_SPAN)) {
        struct bp_thread *t = bp_self;
        if (t) {
            if (d == BP_GIL_MUTEX_OFFSET)
                return gil_mutex_lock(t, m);
            if (d == BP_GIL_SWITCH_MUTEX_OFFSET && atomic_load_explicit(&t->phase, memory_order_relaxed) != PH_HELD &&
                !t->gil_other)
                return gil_switch_lock(t, m);
        }
    } else if (BP_UNLIKELY(atomic_load_explicit(&bp_gil.others, memory_order_relaxed))) {
        return bp_other_gil_lock(m);
    }
    return bp_real.mutex_lock(m);
}

/* An unlock of the GIL's mutexes while a take or a drop is under way.
 * Whether a holder let the GIL go is read before the real unlock, while M
 * is still held: drop_gil clears the flag under M, a holder that locked M
 * for something else (3.13's pending calls) leaves it set. The end of a
 * drop or of a forced-switch wait is seen after the real unlock returned;
 * a take is counted (and its layout checked) before. */
static __attribute__((noinline)) int gil_mutex_unlock(struct bp_thread *t, pthread_mutex_t *m)
{
    if (BP_UNLIKELY(m != atomic_load_explicit(&bp_gil.mutex, memory_order_relaxed)))
        return bp_real.mutex_unlock(m);
    if (t->gil_step == STEP_DROP_BEGIN && !bp_gil_locked())
        bp_gil_rule(t, EV_GIL_RELEASED, bp_now_ns);
    int dropping = t->gil_step == STEP_DROPPING;
    int r = bp_real.mutex_unlock(m);
    bp_gil_rule(t, EV_UNLOCK_MUTEX, bp_now_ns);
    if (dropping && BP_UNLIKELY(t->has_slot) && atomic_load_explicit(&t->phase, memory_order_relaxed) == PH_OUTSIDE)
        bp_gate_release(t); /* out of the GIL: its slot is free */
    return r;
}

static __attribute__((noinline)) int gil_switch_unlock_after(struct bp_thread *t, pthread_mutex_t *m)
{
    int r = bp_real.mutex_unlock(m);
    bp_gil_rule(t, EV_UNLOCK_SWITCH, bp_now_ns);
    return r;
}

static __attribute__((noinline)) int gil_switch_unlock(struct bp_thread *t, pthread_mutex_t *m)
{
    if (BP_UNLIKELY(m != atomic_load_explicit(&bp_gil.switch_mutex, memory_order_relaxed)))
        return bp_real.mutex_unlock(m);
    uint8_t step = t->gil_step;
    if (step != STEP_TAKEN_FREE && step != STEP_TAKEN_CHECK)
        return gil_switch_unlock_after(t, m);
    if (BP_UNLIKELY(atomic_load_explicit(&bp_gil.layout_checks, memory_order_relaxed) > 0) && !bp_gil_check_take()) {
        /* Not the layout we know: stop following this GIL. The monitor
         * says so and opens the gate. */
        bp_gil_forget();
        t->gil_step = STEP_NONE;
    } else {
        bp_gil_rule(t, EV_UNLOCK_SWITCH, bp_now_ns);
    }
    return bp_real.mutex_unlock(m);
}

HOOK int pthread_mutex_unlock(pthread_mutex_t *m)
{
    uintptr_t d = gil_distance(m);
    if (BP_UNLIKELY(d < GIL_SPAN)) {
        struct bp_thread *t = bp_self;
        if (t && t->gil_step != STEP_NONE && !t->gil_other) {
            if (d == BP_GIL_MUTEX_OFFSET)
                return gil_mutex_unlock(t, m);
            if (d == BP_GIL_SWITCH_MUTEX_OFFSET)
                return gil_switch_unlock(t, m);
        }
    } else if (BP_UNLIKELY(atomic_load_explicit(&bp_gil.others, memory_order_relaxed))) {
        return bp_other_gil_unlock(m);
    }
    return bp_real.mutex_unlock(m);
}
