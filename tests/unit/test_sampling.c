/* Sampling as pure functions: two readings of a record make one sample; the
 * samples of an interval make the controller's input. */
#include <criterion/criterion.h>
#include <string.h>

#include "sampling.h"

#define MS 1000000ull

Test(sampling, a_sample_is_the_difference_between_two_readings)
{
    struct bp_seen seen = {.ns = 100 * MS, .cpu_ns = 10 * MS, .acc_ns = {[PH_HELD] = 10 * MS}, .forced = 3};
    struct bp_times tm = {.acc_ns = {[PH_HELD] = 40 * MS, [PH_WAIT] = 50 * MS}, .takes = 9};
    struct bp_sample s;
    bp_sample_take(&seen, &tm, 200 * MS, 40 * MS, 7, 1, &s);
    cr_expect_eq(s.f.wall_ns, 100 * MS);
    cr_expect_eq(s.f.cpu_ns, 30 * MS);
    cr_expect_eq(s.f.held_ns, 30 * MS);
    cr_expect_eq(s.f.wait_ns, 50 * MS);
    cr_expect_eq(s.f.blocked_ns, 20 * MS);
    cr_expect_eq(s.forced, 4);
    cr_expect_eq(s.favoured, 1);
    cr_expect(s.active);
    /* What was seen is now this reading: the next sample starts here. */
    cr_expect_eq(seen.ns, 200 * MS);
    cr_expect_eq(seen.cpu_ns, 40 * MS);
    cr_expect_eq(seen.acc_ns[PH_WAIT], 50 * MS);
    cr_expect_eq(seen.forced, 7);
    bp_sample_take(&seen, &tm, 300 * MS, 40 * MS, 7, 1, &s);
    cr_expect(!s.active, "blocked outside the GIL the whole interval, no CPU");
    cr_expect_eq(s.f.blocked_ns, 100 * MS);
}

Test(sampling, takes_and_cond_waits_are_counted_per_interval)
{
    struct bp_seen seen = {.ns = 100 * MS, .takes = 5, .cond_waits = 2};
    struct bp_times tm = {.takes = 9, .cond_waits = 14};
    struct bp_sample s;
    bp_sample_take(&seen, &tm, 200 * MS, 0, 0, 0, &s);
    cr_expect_eq(s.takes, 4);
    cr_expect_eq(s.cond_waits, 12);
    cr_expect_eq(seen.takes, 9);
    cr_expect_eq(seen.cond_waits, 14);
    bp_sample_take(&seen, &tm, 300 * MS, 0, 0, 0, &s);
    cr_expect_eq(s.takes, 0, "nothing new since the last reading");
    cr_expect_eq(s.cond_waits, 0);
    /* The tally adds the main GIL's threads, whatever their role, and
     * leaves out a thread that took a sub-interpreter's own GIL. */
    struct bp_tally tl = {0};
    struct bp_sample worker = {.takes = 3, .cond_waits = 7}, main_thread = {.takes = 2, .cond_waits = 1},
                     sub = {.takes = 50, .cond_waits = 50};
    bp_tally_add(&tl, &worker, ROLE_WORKER);
    bp_tally_add(&tl, &worker, ROLE_BRIEF);
    bp_tally_add(&tl, &main_thread, ROLE_MAIN);
    bp_tally_add(&tl, &sub, ROLE_OTHER_GIL);
    cr_expect_eq(tl.takes, 8);
    cr_expect_eq(tl.cond_waits, 15);
}

Test(sampling, counters_that_went_back_give_zero_not_a_wrap)
{
    struct bp_seen seen = {.ns = 100 * MS, .cpu_ns = 50 * MS, .acc_ns = {[PH_HELD] = 60 * MS}, .forced = 9};
    seen.takes = 8;
    seen.cond_waits = 4;
    struct bp_times tm = {.acc_ns = {[PH_HELD] = 10 * MS}, .takes = 3, .cond_waits = 1};
    struct bp_sample s;
    bp_sample_take(&seen, &tm, 90 * MS, 10 * MS, 2, 0, &s);
    cr_expect_eq(s.takes, 0);
    cr_expect_eq(s.cond_waits, 0);
    cr_expect_eq(s.f.wall_ns, 0);
    cr_expect_eq(s.f.cpu_ns, 0);
    cr_expect_eq(s.f.held_ns, 0);
    cr_expect_eq(s.forced, 0);
}

Test(sampling, foreign_threads_count_once_they_took_the_gil)
{
    struct bp_times none = {.takes = 0}, took = {.takes = 1};
    cr_expect(bp_sample_counts(1, &none));
    cr_expect(!bp_sample_counts(0, &none));
    cr_expect(bp_sample_counts(0, &took));
}

static struct bp_sample sample(uint64_t held, uint64_t wait, uint64_t parked, uint64_t forced)
{
    struct bp_sample s = {.forced = forced, .active = 1};
    uint64_t d[PH_COUNT] = {[PH_HELD] = held * MS, [PH_WAIT] = wait * MS, [PH_PARKED] = parked * MS};
    bp_figures_from(&s.f, 100 * MS, held * MS, d);
    return s;
}

Test(sampling, the_controller_sees_computing_workers_for_k_and_every_thread_for_the_cpu)
{
    struct bp_tally tl = {0};
    struct bp_sample worker = sample(30, 60, 10, 5), brief = sample(1, 1, 0, 2), main_thread = sample(5, 40, 0, 0);
    bp_tally_add(&tl, &worker, ROLE_WORKER);
    bp_tally_add(&tl, &worker, ROLE_WORKER);
    bp_tally_add(&tl, &brief, ROLE_BRIEF);
    bp_tally_add(&tl, &main_thread, ROLE_MAIN);
    tl.takes = 40;
    tl.cond_waits = 90;
    struct bp_cpus cpus = {.pinned = 0, .others = -1.0};
    struct bp_interval in = bp_interval_of(&tl, 100 * MS, &cpus);
    cr_expect_eq(in.takes, 40);
    cr_expect_eq(in.cond_waits, 90);
    /* Demand: the two workers' waits and parks, not the brief one's. */
    cr_expect_float_eq(in.demand, 1.4, 1e-9);
    cr_expect_float_eq(in.beta_io, 0.0, 1e-9);
    /* Forced switches: every worker's, brief ones too. */
    cr_expect_eq(in.forced, 12);
    cr_expect_float_eq(in.main_waiting, 0.4, 1e-9);
    /* Affinity sees everyone. */
    cr_expect_eq(in.cpu_ns, 66 * MS);
    cr_expect_eq(in.held_ns, 66 * MS);
    cr_expect_float_eq(in.waiting, (60 + 10 + 60 + 10 + 1 + 40) / 100.0, 1e-9);
    cr_expect_float_eq(in.others, 0.0, 1e-9, "loads unknown: no reason to move");
}

Test(sampling, a_thread_of_another_gil_is_in_the_process_figures_only)
{
    struct bp_tally tl = {0};
    struct bp_sample worker = sample(30, 60, 10, 5), sub = sample(90, 5, 0, 0);
    bp_tally_add(&tl, &worker, ROLE_WORKER);
    bp_tally_add(&tl, &sub, ROLE_OTHER_GIL);
    struct bp_cpus cpus = {.pinned = 0, .others = -1.0};
    struct bp_interval in = bp_interval_of(&tl, 100 * MS, &cpus);
    /* K, the gate and the CPU see the main GIL's worker alone. */
    cr_expect_float_eq(in.demand, 0.7, 1e-9);
    cr_expect_eq(in.forced, 5);
    cr_expect_eq(in.cpu_ns, 30 * MS);
    cr_expect_eq(in.held_ns, 30 * MS);
    cr_expect_float_eq(in.waiting, 0.7, 1e-9);
    /* The process's figures count it. */
    cr_expect_eq(tl.proc.held_ns, 120 * MS);
    cr_expect_eq(tl.forced, 5);
}
