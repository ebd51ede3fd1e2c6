/* The interposers' work on the other GILs: sub-interpreters with their
 * own (CPython 3.12+, PyInterpreterConfig_OWN_GIL). The same take/drop
 * rules, on the GIL a thread takes: its holds and waits count as holding
 * and waiting, whichever GIL. A thread engaged with one
 * GIL (taking, holding, dropping it) passes another's objects through. No
 * gate, no priority, no layout check here: those are the main GIL's. */
#include <pthread.h>

#include "affinity.h"
#include "clock.h"
#include "gate.h"
#include "gil.h"
#include "gil_rules.h"
#include "hooks.h"
#include "real.h"
#include "threads.h"

/* Which other GIL obj belongs to (its index + 1, 0: none), and whether it
 * is that GIL's mutex or switch mutex (*d). */
static inline int other_gil_of(const void *obj, uintptr_t *d)
{
    int n = atomic_load_explicit(&bp_gil.others, memory_order_relaxed);
    for (int i = 0; i < n && i < BP_OTHER_GILS; i++) {
        uintptr_t c = (uintptr_t)atomic_load_explicit(&bp_gil_others[i], memory_order_relaxed);
        *d = (uintptr_t)obj - c;
        if (c && (*d == BP_GIL_MUTEX_OFFSET || *d == BP_GIL_SWITCH_MUTEX_OFFSET))
            return i + 1;
    }
    return 0;
}

static inline int other_gil_locked(int idx)
{
    const char *c = atomic_load_explicit(&bp_gil_others[idx - 1], memory_order_relaxed);
    return c && *(const volatile int *)(const void *)(c + BP_GIL_LOCKED_FROM_COND) != 0;
}

/* A thread's first take of another GIL: from now on it computes beside the
 * main GIL's threads. Flag first, then give a pin back: the monitor pins,
 * then reads the flag (affinity.c), so one of the two sees the other. */
static __attribute__((noinline, cold)) void first_other_take(struct bp_thread *t)
{
    atomic_store(&t->other_gil_seen, 1);
    bp_affinity_release_self();
    if (t->has_slot)
        bp_gate_release(t);
}

/* Out of line (LTO would inline them): the hooks' common path keeps no
 * frame of its own. */
__attribute__((noinline)) int bp_other_gil_lock(pthread_mutex_t *m)
{
    struct bp_thread *t = bp_self;
    uintptr_t d;
    int idx;
    if (!t || !(idx = other_gil_of(m, &d)))
        return bp_real.mutex_lock(m);
    uint32_t ph = atomic_load_explicit(&t->phase, memory_order_relaxed);
    if (d == BP_GIL_MUTEX_OFFSET) {
        if (ph == PH_OUTSIDE) {
            if (BP_UNLIKELY(!atomic_load_explicit(&t->other_gil_seen, memory_order_relaxed)))
                first_other_take(t);
            t->gil_other = (uint8_t)idx;
            t->after_idle = 0;
            if (bp_real.mutex_trylock(m) == 0) {
                bp_gil_take_rule(t, other_gil_locked(idx) ? TAKE_MAY_WAIT : TAKE_FREE, bp_now_ns());
                return 0;
            }
            bp_gil_take_rule(t, TAKE_CONTENDED, bp_now_ns());
        } else if (t->gil_other == idx) {
            bp_gil_rule(t, EV_LOCK_MUTEX, bp_now_ns);
        }
    } else if (ph != PH_HELD && t->gil_other == idx) {
        bp_gil_rule(t, EV_LOCK_SWITCH, bp_now_ns);
    }
    return bp_real.mutex_lock(m);
}

__attribute__((noinline)) int bp_other_gil_unlock(pthread_mutex_t *m)
{
    struct bp_thread *t = bp_self;
    uintptr_t d;
    if (!t || t->gil_step == STEP_NONE || !t->gil_other || other_gil_of(m, &d) != t->gil_other)
        return bp_real.mutex_unlock(m);
    if (d == BP_GIL_MUTEX_OFFSET) {
        if (t->gil_step == STEP_DROP_BEGIN && !other_gil_locked(t->gil_other))
            bp_gil_rule(t, EV_GIL_RELEASED, bp_now_ns);
        int r = bp_real.mutex_unlock(m);
        bp_gil_rule(t, EV_UNLOCK_MUTEX, bp_now_ns);
        return r;
    }
    uint8_t step = t->gil_step;
    if (step == STEP_TAKEN_FREE || step == STEP_TAKEN_CHECK) {
        bp_gil_rule(t, EV_UNLOCK_SWITCH, bp_now_ns); /* counts the take; no layout check */
        return bp_real.mutex_unlock(m);
    }
    int r = bp_real.mutex_unlock(m);
    bp_gil_rule(t, EV_UNLOCK_SWITCH, bp_now_ns);
    return r;
}
