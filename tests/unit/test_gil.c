/* The take/drop rules fed the event sequences CPython produces. Time is a
 * fake clock the test advances. */
#include <criterion/criterion.h>
#include <string.h>

#include "gil.h"
#include "threads.h"

static uint64_t fake_now;
static int clock_reads;
static uint64_t now_fn(void)
{
    clock_reads++;
    return fake_now;
}

static struct bp_thread *fresh(void)
{
    static struct bp_thread t;
    memset(&t, 0, sizeof t);
    fake_now = 1000;
    clock_reads = 0;
    atomic_store(&t.phase_start_ns, fake_now);
    return &t;
}

static uint64_t acc(struct bp_thread *t, int ph)
{
    return atomic_load(&t->acc_ns[ph]);
}

/* take_gil when the GIL is free: lock(M), lock(SM), unlock(SM), unlock(M). */
static void take_uncontended(struct bp_thread *t)
{
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
}

/* drop_gil without a drop request: lock(M), signal(C), unlock(M). The
 * drop is complete when unlock(M) returns. */
static void drop(struct bp_thread *t)
{
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    bp_gil_event(t, EV_GIL_RELEASED, now_fn);
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
}

Test(gil, uncontended_take_and_drop_split_time)
{
    struct bp_thread *t = fresh();
    fake_now = 3000; /* 2000 ns outside */
    take_uncontended(t);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD);
    cr_expect_eq(atomic_load(&t->takes), 1);
    cr_expect_eq(atomic_load(&t->cond_waits), 0);
    fake_now = 10000; /* 7000 ns holding */
    drop(t);
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(acc(t, PH_OUTSIDE), 2000);
    cr_expect_eq(acc(t, PH_HELD), 7000);
    cr_expect_eq(acc(t, PH_WAIT), 0);
    /* One read to start the take, two for the drop (its start and end):
     * none to finish a take that found the GIL free. */
    cr_expect_eq(clock_reads, 3);
}

Test(gil, contended_take_counts_wait)
{
    struct bp_thread *t = fresh();
    fake_now = 2000;
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    fake_now = 2500;
    bp_gil_event(t, EV_TIMEDWAIT_COND, now_fn);
    fake_now = 7000;
    bp_gil_event(t, EV_TIMEDWAIT_COND, now_fn);
    fake_now = 9000;
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD);
    cr_expect_eq(acc(t, PH_WAIT), 7000);
    /* One take, two waits on the cond (a timeout, then the wait that got it). */
    cr_expect_eq(atomic_load(&t->takes), 1);
    cr_expect_eq(atomic_load(&t->cond_waits), 2);
    fake_now = 10000;
    drop(t);
    cr_expect_eq(acc(t, PH_HELD), 1000);
}

Test(gil, forced_switch_wait_counts_as_gil_wait)
{
    struct bp_thread *t = fresh();
    take_uncontended(t);
    fake_now = 5000;
    drop(t);
    /* After a drop request: lock(SM), wait(SC, SM), unlock(SM). */
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_WAIT);
    fake_now = 5600;
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(acc(t, PH_WAIT), 600);
    cr_expect_eq(atomic_load(&t->takes), 1);
}

Test(gil, lock_without_switch_lock_is_not_a_take)
{
    /* 3.13's pending-call path: lock(M), unlock(M) by a non-holder. */
    struct bp_thread *t = fresh();
    fake_now = 4000;
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    fake_now = 4100;
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(atomic_load(&t->takes), 0);
    cr_expect_eq(acc(t, PH_HELD), 0);
}

Test(gil, holder_events_that_are_not_drops_change_nothing)
{
    struct bp_thread *t = fresh();
    take_uncontended(t);
    fake_now = 3000;
    /* The holder locks and unlocks M (no signal): still holding. */
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    fake_now = 3100;
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD);
    cr_expect_eq(atomic_load(&t->takes), 1);
    /* A signal by a thread not holding is not a drop. */
    struct bp_thread other;
    memset(&other, 0, sizeof other);
    bp_gil_event(&other, EV_GIL_RELEASED, now_fn);
    cr_expect_eq(atomic_load(&other.phase), PH_OUTSIDE);
}

Test(gil, read_counts_the_current_phase)
{
    struct bp_thread *t = fresh();
    fake_now = 2000;
    take_uncontended(t);
    struct bp_times tm;
    bp_thread_read(t, 5000, &tm);
    cr_expect_eq(tm.acc_ns[PH_HELD], 3000);
    cr_expect_eq(tm.acc_ns[PH_OUTSIDE], 1000);
    cr_expect_eq(tm.phase, PH_HELD);
}

Test(gil, finds_the_gil_from_its_init_pattern)
{
    bp_gil_reset();
    static char gil[256];
    char *c = gil + 32;
    bp_gil_note_mutex_init(c + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(c + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(c + BP_GIL_SWITCH_COND_OFFSET); /* not C: no match */
    cr_expect_eq(atomic_load(&bp_gil.found), 0);
    bp_gil_note_cond_init(c);
    cr_expect_eq(atomic_load(&bp_gil.found), 1);
    cr_expect_eq(atomic_load(&bp_gil.mutex), (void *)(c + 48));
    cr_expect_eq(atomic_load(&bp_gil.switch_mutex), (void *)(c + 136));
    /* Re-created in place: still the same GIL, not a foreign one. */
    bp_gil_note_cond_init(c);
    cr_expect_eq(atomic_load(&bp_gil.foreign_gils), 0);
    /* A second GIL elsewhere is counted and left alone. */
    static char gil2[256];
    bp_gil_note_mutex_init(gil2 + 48);
    bp_gil_note_mutex_init(gil2 + 136);
    bp_gil_note_cond_init(gil2);
    cr_expect_eq(atomic_load(&bp_gil.foreign_gils), 1);
    cr_expect_eq(atomic_load(&bp_gil.cond), (void *)c);
}

Test(gil, unrelated_cond_init_is_ignored)
{
    bp_gil_reset();
    static char obj[256];
    bp_gil_note_mutex_init(obj + 48);
    bp_gil_note_cond_init(obj); /* only one of the two mutexes */
    cr_expect_eq(atomic_load(&bp_gil.found), 0);
}

Test(gil, the_hand_over_at_a_drop_is_gil_wait)
{
    struct bp_thread *t = fresh();
    take_uncontended(t);
    fake_now = 2000;
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    /* Read from another thread, the drop is GIL wait from its start. */
    struct bp_times tm;
    bp_thread_read(t, 2300, &tm);
    cr_expect_eq(tm.phase, PH_WAIT);
    cr_expect_eq(tm.acc_ns[PH_HELD], 1000);
    cr_expect_eq(tm.acc_ns[PH_WAIT], 300);
    clock_reads = 0;
    bp_gil_event(t, EV_GIL_RELEASED, now_fn);
    cr_expect_eq(clock_reads, 0, "no clock read inside the GIL mutex");
    bp_thread_read(t, 2400, &tm);
    cr_expect_eq(tm.phase, PH_WAIT);
    fake_now = 2700; /* preempted while waking the next holder */
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(acc(t, PH_HELD), 1000);
    cr_expect_eq(acc(t, PH_WAIT), 700);
    cr_expect_eq(acc(t, PH_OUTSIDE), 0);
}

Test(gil, a_take_that_waited_for_the_mutex_holds_from_when_it_got_it)
{
    struct bp_thread *t = fresh();
    bp_gil_take(t, TAKE_CONTENDED, 2000); /* lock(M) found M busy */
    fake_now = 2600;
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD);
    cr_expect_eq(acc(t, PH_WAIT), 600);
}

Test(gil, layout_check_reads_cpythons_lock_flag)
{
    bp_gil_reset();
    static _Alignas(64) char gil[256];
    char *c = gil + 32;
    bp_gil_note_mutex_init(c + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(c + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(c);
    cr_assert_eq(atomic_load(&bp_gil.found), 1);
    int *locked = (int *)(void *)(c + BP_GIL_LOCKED_FROM_COND);
    *locked = 1; /* as take_gil leaves it */
    cr_expect_eq(bp_gil_check_take(), 1);
    cr_expect_eq(atomic_load(&bp_gil.layout_failed), 0);
    *locked = 0; /* a struct laid out differently */
    cr_expect_eq(bp_gil_check_take(), 0);
    cr_expect_eq(atomic_load(&bp_gil.layout_failed), 1);
    bp_gil_forget();
    cr_expect_eq(atomic_load(&bp_gil.found), 0);
    cr_expect_eq(atomic_load(&bp_gil.mutex), NULL);
    /* Checks stop after a bounded number of takes. */
    bp_gil_reset();
    bp_gil_note_mutex_init(c + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(c + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(c);
    *locked = 1;
    for (int i = 0; i < 32; i++)
        cr_expect_eq(bp_gil_check_take(), 1);
    *locked = 0;
    cr_expect_eq(bp_gil_check_take(), 1, "past its budget the check costs nothing and says nothing");
}

Test(gil, a_gil_given_up_is_not_replaced_by_a_later_one)
{
    bp_gil_reset();
    static char gil[256], later[256];
    bp_gil_note_mutex_init(gil + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(gil + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(gil);
    cr_assert_eq(atomic_load(&bp_gil.found), 1);
    bp_gil_forget(); /* its layout check failed */
    bp_gil_note_mutex_init(later + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(later + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(later);
    cr_expect_eq(atomic_load(&bp_gil.found), 0);
    cr_expect_eq(atomic_load(&bp_gil.mutex), NULL);
    cr_expect_eq(atomic_load(&bp_gil.foreign_gils), 1);
}

/* The hooks' own take starts (bp_gil_take), as they see them after
 * trylock(M) and CPython's locked flag. */
Test(gil, a_take_that_finds_everything_free_holds_at_once)
{
    struct bp_thread *t = fresh();
    fake_now = 3000;
    bp_gil_take(t, TAKE_FREE, fake_now);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD, "held from lock(M)");
    cr_expect_eq(atomic_load(&t->takes), 0, "counted only once it reached lock(SM)");
    /* lock(SM) by a holder passes the hooks by; unlock(SM) counts it. */
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->takes), 1);
    cr_expect_eq(t->gil_step, STEP_NONE, "the take's unlock(M) has nothing left to do");
    cr_expect_eq(clock_reads, 0, "the take's start was its only clock read (given by the hook)");
    fake_now = 10000;
    drop(t);
    cr_expect_eq(acc(t, PH_OUTSIDE), 2000);
    cr_expect_eq(acc(t, PH_HELD), 7000);
    cr_expect_eq(acc(t, PH_WAIT), 0);
}

Test(gil, a_free_take_that_never_reached_lock_switch_was_not_one)
{
    struct bp_thread *t = fresh();
    fake_now = 3000;
    bp_gil_take(t, TAKE_FREE, fake_now);
    fake_now = 3100;
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(atomic_load(&t->takes), 0);
    cr_expect_eq(t->gil_step, STEP_NONE);
}

Test(gil, a_take_behind_a_holder_waits_until_lock_switch)
{
    struct bp_thread *t = fresh();
    fake_now = 3000;
    bp_gil_take(t, TAKE_MAY_WAIT, fake_now);
    cr_expect_eq(atomic_load(&t->phase), PH_WAIT);
    /* Even if the cond's timed wait is not seen, the take's end is read. */
    fake_now = 8000;
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    cr_expect_eq(atomic_load(&t->phase), PH_HELD);
    cr_expect_eq(acc(t, PH_WAIT), 5000);
    cr_expect_eq(atomic_load(&t->takes), 1);
    /* A contended M is the same. */
    struct bp_thread *u = fresh();
    fake_now = 2000;
    bp_gil_take(u, TAKE_CONTENDED, fake_now);
    fake_now = 2600;
    bp_gil_event(u, EV_LOCK_SWITCH, now_fn);
    cr_expect_eq(acc(u, PH_WAIT), 600);
}

Test(gil, a_drop_is_one_record_change)
{
    struct bp_thread *t = fresh();
    take_uncontended(t);
    uint32_t seq_before = atomic_load(&t->seq);
    fake_now = 4000;
    bp_gil_event(t, EV_LOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->seq), seq_before, "the drop's start writes no phase change");
    bp_gil_event(t, EV_GIL_RELEASED, now_fn);
    fake_now = 4500;
    bp_gil_event(t, EV_UNLOCK_MUTEX, now_fn);
    cr_expect_eq(atomic_load(&t->seq), seq_before + 2, "one change at its end");
    cr_expect_eq(atomic_load(&t->phase), PH_OUTSIDE);
    cr_expect_eq(acc(t, PH_HELD), 3000);
    cr_expect_eq(acc(t, PH_WAIT), 500);
    /* A holder that locks M and lets go of nothing still holds, all along. */
    struct bp_thread *u = fresh();
    take_uncontended(u);
    fake_now = 2000;
    bp_gil_event(u, EV_LOCK_MUTEX, now_fn);
    fake_now = 2100;
    bp_gil_event(u, EV_UNLOCK_MUTEX, now_fn);
    struct bp_times tm;
    bp_thread_read(u, 3000, &tm);
    cr_expect_eq(tm.phase, PH_HELD);
    cr_expect_eq(tm.acc_ns[PH_HELD], 2000);
    cr_expect_eq(tm.acc_ns[PH_WAIT], 0);
}

Test(gil, the_forced_switch_wait_starts_where_the_drop_ended_without_a_clock_read)
{
    struct bp_thread *t = fresh();
    take_uncontended(t);
    fake_now = 5000;
    drop(t);
    clock_reads = 0;
    fake_now = 5040; /* lock(SM) comes a few instructions after the drop */
    bp_gil_event(t, EV_LOCK_SWITCH, now_fn);
    cr_expect_eq(clock_reads, 0);
    fake_now = 5600;
    bp_gil_event(t, EV_UNLOCK_SWITCH, now_fn);
    cr_expect_eq(acc(t, PH_WAIT), 600);
    cr_expect_eq(acc(t, PH_OUTSIDE), 0, "not a nanosecond outside between the drop and the wait");
}
