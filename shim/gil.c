/* Finding CPython's GIL and following each thread's takes and drops.
 *
 * The GIL is four pthread objects in one struct: cond C, mutex M = C+48,
 * switch_cond SC = C+88, switch_mutex SM = C+136 (x86-64 glibc sizes).
 * create_gil initialises M and SM, then C (and SC): a cond_init of C from the
 * Python image right after mutex inits of C+48 and C+136 identifies it.
 *
 * take_gil:  lock(M), timedwait(C, M) while another holds it, lock(SM),
 *            signal(SC), unlock(SM), unlock(M).
 * drop_gil:  lock(M), signal(C), unlock(M), and after a drop request
 *            lock(SM), maybe wait(SC, SM), unlock(SM).
 * The online rules, per thread: lock(M) while not holding starts a take;
 * lock(SM) during a take completes it; lock(M) by the holder starts a drop,
 * which let the GIL go if CPython's `locked` flag is clear before its
 * unlock(M) (3.13 also locks M for pending calls, leaving the flag set),
 * and is complete when that unlock(M) returns; lock(SM) after a drop starts
 * the forced-switch wait, ended by unlock(SM); unlock(M) during a take that
 * never reached lock(SM) was not a take.
 *
 * Only one thread holds the GIL at a time, and the accounting keeps it so:
 * the hand-over at either end of a hold is counted as waiting. */
#include "gil.h"
#include "gil_rules.h"
#include "threads.h"

struct bp_gil bp_gil;
_Alignas(64) uint64_t bp_priority_ns;

/* The last few mutexes the Python image initialised. CPython is single
 * threaded while it creates its GIL; a racing stranger only costs a miss. */
#define RECENT 4
static _Atomic(void *) recent_mutex[RECENT];
static _Atomic unsigned recent_next;

void bp_gil_note_mutex_init(void *m)
{
    unsigned i = atomic_fetch_add_explicit(&recent_next, 1, memory_order_relaxed);
    atomic_store_explicit(&recent_mutex[i % RECENT], m, memory_order_relaxed);
}

static int recently_initialised(void *m)
{
    for (int i = 0; i < RECENT; i++)
        if (atomic_load_explicit(&recent_mutex[i], memory_order_relaxed) == m)
            return 1;
    return 0;
}

_Atomic(void *) bp_gil_others[BP_OTHER_GILS];

static void note_other_gil(void *c)
{
    for (int i = 0; i < BP_OTHER_GILS; i++)
        if (atomic_load_explicit(&bp_gil_others[i], memory_order_relaxed) == c)
            return; /* re-created in place */
    for (int i = 0; i < BP_OTHER_GILS; i++) {
        void *free_slot = NULL;
        if (atomic_compare_exchange_strong(&bp_gil_others[i], &free_slot, c)) {
            int used = atomic_load(&bp_gil.others);
            while (used < i + 1 && !atomic_compare_exchange_weak(&bp_gil.others, &used, i + 1))
                ;
            return;
        }
    }
    atomic_fetch_add_explicit(&bp_gil.others_untracked, 1, memory_order_relaxed);
}

/* destroy_gil: a sub-interpreter's GIL is gone (its memory may become
 * anything): stop following it. Nobody holds or waits for it now. */
void bp_gil_note_cond_destroy(void *c)
{
    int n = atomic_load_explicit(&bp_gil.others, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        void *mine = c;
        if (atomic_compare_exchange_strong(&bp_gil_others[i], &mine, NULL))
            return;
    }
}

void bp_gil_note_cond_init(void *c)
{
    char *base = c;
    /* A free-threaded build is observed only: its GIL is never followed. */
    if (atomic_load_explicit(&bp_gil.disabled, memory_order_relaxed))
        return;
    if (!recently_initialised(base + BP_GIL_MUTEX_OFFSET) ||
        !recently_initialised(base + BP_GIL_SWITCH_MUTEX_OFFSET))
        return;
    void *known = atomic_load_explicit(&bp_gil.cond, memory_order_acquire);
    if (known == c)
        return; /* re-created in place (after fork) */
    /* The first GIL claims the fields; two noted at once (sub-interpreters
     * created in parallel) must not leave one's cond beside the other's
     * mutex. A GIL given up after a failed layout check keeps its claim, so
     * no later one is followed either. */
    int unclaimed = 0;
    if (known != NULL ||
        !atomic_compare_exchange_strong_explicit(&bp_gil.claimed, &unclaimed, 1, memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        /* A second GIL: a sub-interpreter with its own. Followed as
         * another GIL while the main one is (never after a failed layout
         * check: the same layout). */
        atomic_fetch_add_explicit(&bp_gil.foreign_gils, 1, memory_order_relaxed);
        if (known != NULL)
            note_other_gil(c);
        return;
    }
    atomic_store_explicit(&bp_gil.mutex, base + BP_GIL_MUTEX_OFFSET, memory_order_relaxed);
    atomic_store_explicit(&bp_gil.switch_mutex, base + BP_GIL_SWITCH_MUTEX_OFFSET, memory_order_relaxed);
    atomic_store_explicit(&bp_gil.layout_checks, 32, memory_order_relaxed);
    atomic_store_explicit(&bp_gil.cond, c, memory_order_release);
    atomic_store_explicit(&bp_gil.found, 1, memory_order_release);
}

void bp_gil_forget(void)
{
    atomic_store(&bp_gil.found, 0);
    atomic_store(&bp_gil.cond, NULL);
    atomic_store(&bp_gil.mutex, NULL);
    atomic_store(&bp_gil.switch_mutex, NULL);
    atomic_store(&bp_gil.layout_checks, 0);
}

/* The first takes are checked against CPython's own flag: a take that
 * completed leaves `locked` set. A GIL struct laid out differently (a
 * CPython betapool does not know) shows here before anything is throttled. */
int bp_gil_check_take(void)
{
    if (atomic_fetch_sub_explicit(&bp_gil.layout_checks, 1, memory_order_relaxed) <= 0)
        return 1;
    char *c = atomic_load_explicit(&bp_gil.cond, memory_order_acquire);
    if (!c)
        return 1;
    int locked = atomic_load_explicit((_Atomic int *)(void *)(c + BP_GIL_LOCKED_FROM_COND), memory_order_relaxed);
    if (locked == 1)
        return 1;
    atomic_store(&bp_gil.layout_failed, 1);
    return 0;
}

void bp_gil_reset(void)
{
    bp_gil_forget();
    atomic_store(&bp_gil.claimed, 0);
    atomic_store(&bp_gil.foreign_gils, 0);
    for (int i = 0; i < BP_OTHER_GILS; i++)
        atomic_store(&bp_gil_others[i], NULL);
    atomic_store(&bp_gil.others, 0);
    atomic_store(&bp_gil.others_untracked, 0);
    atomic_store(&bp_gil.disabled, 0);
    atomic_store(&bp_gil.layout_failed, 0);
    for (int i = 0; i < RECENT; i++)
        atomic_store(&recent_mutex[i], NULL);
}

const char *bp_gil_state(void)
{
    int ft = atomic_load(&bp_gil.disabled);
    if (ft)
        return ft == BP_FT_GIL_ON ? "enabled" : "disabled";
    return atomic_load(&bp_gil.found) ? "found" : "not_found";
}

void bp_gil_event(struct bp_thread *t, enum bp_gil_event ev, uint64_t (*now_fn)(void))
{
    bp_gil_rule(t, ev, now_fn);
}

void bp_gil_take(struct bp_thread *t, enum bp_take how, uint64_t now)
{
    bp_gil_take_rule(t, how, now);
}
