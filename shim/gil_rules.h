/* The take/drop rules of gil.c, inline: each hook compiles only the rule
 * of its own event, with the clock read in place. gil.c's bp_gil_event and
 * bp_gil_take are the same rules out of line (the unit tests drive them).
 * Included by gil.c and hooks.c only. */
#ifndef BETAPOOL_GIL_RULES_H
#define BETAPOOL_GIL_RULES_H

#include "controller.h"
#include "gil.h"
#include "threads.h"

static inline __attribute__((always_inline)) void bp_gil_rule(struct bp_thread *t, enum bp_gil_event ev,
                                                              uint64_t (*now_fn)(void))
{
    uint32_t ph = atomic_load_explicit(&t->phase, memory_order_relaxed);
    switch (ev) {
    case EV_LOCK_MUTEX:
        if (ph == PH_HELD) {
            if (t->gil_step == STEP_DROP_BEGIN || t->gil_step == STEP_DROPPING)
                return; /* a nested lock */
            /* The holder starts its drop. The clock is read here, before
             * M is taken, to keep the read out of M's critical section.
             * The hold's length says whether the thread is brief, unless a
             * waiter asked it to let go (see the cond's timed wait). From
             * here the thread reads as waiting (handover_ns); its record
             * changes once, when the drop ends. */
            uint64_t now = now_fn();
            t->gil_step = STEP_DROP_BEGIN;
            t->hold_ns = now > t->hold_start_ns ? now - t->hold_start_ns : 0;
            t->drop_ns = now;
            uint32_t asked = atomic_load_explicit(&t->asked, memory_order_relaxed);
            atomic_store_explicit(&t->brief, bp_policy_brief(t->hold_ns, asked != t->asked_seen),
                                  memory_order_relaxed);
            t->asked_seen = asked;
            atomic_store_explicit(&t->handover_ns, now, memory_order_relaxed);
            return;
        }
        if (ph == PH_WAIT)
            return; /* a nested lock */
        t->gil_step = STEP_TAKING;
        bp_phase_set(t, PH_WAIT, now_fn());
        return;
    case EV_TIMEDWAIT_COND:
        if (ph != PH_WAIT)
            return;
        if (t->gil_step == STEP_TAKING)
            t->gil_step = STEP_TAKING_WAITED;
        atomic_store_explicit(&t->cond_waits, atomic_load_explicit(&t->cond_waits, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    case EV_LOCK_SWITCH:
        if (ph == PH_WAIT && t->gil_step != STEP_SWITCH_WAIT) {
            /* Take complete. A take that found M free and never waited
             * on C took no time worth a clock read: it holds from when it
             * asked. */
            uint64_t at = t->gil_step == STEP_TAKING_WAITED
                              ? now_fn()
                              : atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
            bp_phase_set(t, PH_HELD, at);
            t->hold_start_ns = at;
            if (!t->gil_other)
                atomic_store_explicit(&bp_gil.holder, t, memory_order_relaxed);
            atomic_store_explicit(&t->takes, atomic_load_explicit(&t->takes, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            t->gil_step = atomic_load_explicit(&bp_gil.layout_checks, memory_order_relaxed) > 0 ? STEP_TAKEN_CHECK
                                                                                                 : STEP_NONE;
        } else if (ph == PH_OUTSIDE) {
            /* After a requested drop: waiting for another thread to take
             * over is waiting on the GIL's account. (Not every requested
             * drop gets here: the next holder clears the request as it
             * takes, often before this check on another CPU. The waiter
             * that asked counts the request: see the cond's timed wait.)
             * Only drop_gil locks SM outside the GIL, right after its
             * unlock(M): the drop's end, read then, starts this wait too. */
            bp_phase_set(t, PH_WAIT, atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed));
            t->gil_step = STEP_SWITCH_WAIT;
        }
        return;
    case EV_UNLOCK_SWITCH:
        if (ph == PH_WAIT && t->gil_step == STEP_SWITCH_WAIT) {
            t->gil_step = STEP_NONE;
            bp_phase_set(t, PH_OUTSIDE, now_fn());
        } else if (ph == PH_HELD && t->gil_step == STEP_TAKEN_FREE) {
            /* The take that found everything free reached lock(SM): it
             * was one. */
            if (!t->gil_other)
                atomic_store_explicit(&bp_gil.holder, t, memory_order_relaxed);
            atomic_store_explicit(&t->takes, atomic_load_explicit(&t->takes, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            t->gil_step = STEP_NONE;
        } else if (t->gil_step == STEP_TAKEN_CHECK) {
            t->gil_step = STEP_NONE;
        }
        return;
    case EV_GIL_RELEASED:
        /* The holder's drop. From its lock(M) until its unlock(M) returns,
         * the thread is handing the GIL over: the wake-ups it makes may
         * preempt it, and that time is neither holding (the next holder
         * already may) nor blocked outside: it is on the GIL's account. */
        if (ph == PH_HELD && t->gil_step == STEP_DROP_BEGIN)
            t->gil_step = STEP_DROPPING;
        return;
    case EV_UNLOCK_MUTEX: /* seen after the real unlock returned */
        if (ph == PH_HELD && t->gil_step == STEP_DROPPING) {
            t->gil_step = STEP_NONE;
            bp_phase_set_via(t, PH_WAIT, atomic_load_explicit(&t->handover_ns, memory_order_relaxed), PH_OUTSIDE,
                             now_fn());
        } else if (ph == PH_HELD && t->gil_step == STEP_DROP_BEGIN) {
            /* The holder locked M for something else (3.13's pending
             * calls): it still holds the GIL, and held it all along. */
            t->gil_step = STEP_NONE;
            atomic_store_explicit(&t->handover_ns, 0, memory_order_relaxed);
        } else if ((ph == PH_WAIT && t->gil_step != STEP_SWITCH_WAIT) ||
                   (ph == PH_HELD && t->gil_step == STEP_TAKEN_FREE)) {
            /* lock(M) .. unlock(M) with no lock(SM): not a take. */
            t->gil_step = STEP_NONE;
            bp_phase_set(t, PH_OUTSIDE, now_fn());
        } else if (t->gil_step == STEP_TAKEN_CHECK) {
            t->gil_step = STEP_NONE; /* unlock(SM) was not seen: no check this time */
        }
        return;
    }
}

static inline __attribute__((always_inline)) void bp_gil_take_rule(struct bp_thread *t, enum bp_take how, uint64_t now)
{
    if (atomic_load_explicit(&t->phase, memory_order_relaxed) != PH_OUTSIDE)
        return;
    if (how == TAKE_FREE) {
        /* Nobody holds the GIL and this thread holds M: nobody can take
         * it first. Holding from now; its unlock(SM) counts the take. */
        t->gil_step = STEP_TAKEN_FREE;
        t->hold_start_ns = now;
        bp_phase_set(t, PH_HELD, now);
        return;
    }
    /* M busy, or the GIL held by another: this take waits (for M, or on
     * C), and its end needs a clock read of its own. */
    t->gil_step = STEP_TAKING_WAITED;
    (void)how;
    bp_phase_set(t, PH_WAIT, now);
}

#endif
