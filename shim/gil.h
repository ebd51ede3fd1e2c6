/* gil.c: which objects are the GIL, and the take/drop rules. */
#ifndef BETAPOOL_GIL_H
#define BETAPOOL_GIL_H

#include <stdalign.h>

#include "common.h"
#include "cpython.h" /* the GIL struct's layout: BP_GIL_*_OFFSET, BP_GIL_*_FROM_COND */
#include "threads.h"

/* Read by every pthread_mutex_lock and at every take; written when a GIL
 * is found, forgotten or checked. Aligned: nothing another module writes
 * (the monitor's run, the API's metrics_lock) shares its line, and the
 * holder, written at every take, has the second line to itself. */
struct bp_gil {
    alignas(64) _Atomic(void *) cond; /* C */
    _Atomic(void *) mutex;         /* M  = C + 48 */
    _Atomic(void *) switch_mutex;  /* SM = C + 136 */
    _Atomic int found;
    _Atomic int claimed;           /* one GIL is (being) followed: see gil.c */
    _Atomic int foreign_gils;      /* more GILs seen (sub-interpreters), ever */
    _Atomic int others;            /* slots of bp_gil_others in use or used (the hooks look that far) */
    _Atomic int others_untracked;  /* more GILs than bp_gil_others holds */
    _Atomic int disabled;          /* a free-threaded CPython: BP_FT_GIL_OFF or BP_FT_GIL_ON */
    _Atomic int layout_checks;     /* takes still to verify (see gil.c) */
    _Atomic int layout_failed;
    /* The thread that took the GIL last (it holds it, or held it last), for
     * the priority: a favoured waiter cuts its wait only behind a computing
     * holder, one that is not brief. Written at every completed take. */
    alignas(64) _Atomic(struct bp_thread *) holder;
};
_Static_assert(sizeof(struct bp_gil) == 128, "bp_gil: the found GIL's line, then the holder's");
extern struct bp_gil bp_gil BP_HIDDEN;
/* The conds of the other GILs followed (NULL: a free slot): sub-interpreters
 * with a GIL of their own (3.12+), learned at their create_gil, forgotten
 * at their destroy_gil. Their threads' takes and drops follow the same
 * rules; the gate, the priority and affinity act on the main GIL only. */
#define BP_OTHER_GILS 16
extern _Atomic(void *) bp_gil_others[BP_OTHER_GILS] BP_HIDDEN;
void bp_gil_note_cond_destroy(void *c) BP_HIDDEN;
/* bp_gil.disabled: a free-threaded build, observed only (gil_check.c). */
enum { BP_FT_NONE = 0, BP_FT_GIL_OFF = 1, BP_FT_GIL_ON = 2 };
/* CPython's own `locked` flag, stable while M is held: take_gil sets it and
 * drop_gil clears it, both under M. (The first takes check that this is
 * the flag: bp_gil_check_take.) */
static inline int bp_gil_locked(void)
{
    const char *c = atomic_load_explicit(&bp_gil.cond, memory_order_relaxed);
    return c && *(const volatile int *)(const void *)(c + BP_GIL_LOCKED_FROM_COND) != 0;
}
/* The priority's bound, ns; 0: off. Set once at start. */
extern uint64_t bp_priority_ns BP_HIDDEN;
/* Stop following the GIL: its layout is not what betapool expects. */
void bp_gil_forget(void) BP_HIDDEN;
/* After a take completed (unlock(SM) by the new holder), CPython's own
 * `locked` flag must be set; returns 0 when the layout is refuted. */
int bp_gil_check_take(void) BP_HIDDEN;
void bp_gil_note_mutex_init(void *m) BP_HIDDEN;
void bp_gil_note_cond_init(void *c) BP_HIDDEN;
void bp_gil_reset(void) BP_HIDDEN;
/* "found", "not_found", or for a free-threaded build "disabled" (its GIL
 * off) or "enabled" (on), as the log says. */
const char *bp_gil_state(void) BP_HIDDEN;

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

#endif
