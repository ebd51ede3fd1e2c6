/* The controller as a pure function: feed it intervals, read its decisions
 * on K, the gate and the CPU. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "controller.h"

#define MS 1000000ull

static struct bp_controller ctl;

static void start_with(int min, int max, int hysteresis, double alpha, int gate, int affinity)
{
    struct bp_controller_params p = {.min = min, .max = max, .hysteresis = hysteresis, .alpha = alpha,
                                      .danger = 0.3, .gate = gate, .affinity = affinity};
    bp_controller_init(&ctl, &p);
}

static void start(int min, int max, int hysteresis, double alpha)
{
    start_with(min, max, hysteresis, alpha, 1, 1);
}

/* A 100 ms interval with nothing in it but what the arguments say. */
static struct bp_interval quiet(void)
{
    return (struct bp_interval){.span_ns = 100 * MS};
}

/* K's inputs alone: workers' beta_io and demand, nobody forced off the GIL. */
static struct bp_decision step(double beta_io, double demand)
{
    struct bp_interval in = quiet();
    in.beta_io = beta_io;
    in.demand = demand;
    return bp_decide(&ctl, &in);
}

/* ---- K: the veto ---- */

Test(controller, starts_at_min)
{
    start(2, 8, 3, 0.2);
    cr_expect_eq(ctl.k, 2);
}

Test(controller, veto_keeps_k_at_its_floor_on_low_beta_io_with_demand)
{
    start(1, 8, 1, 1.0);
    for (int i = 0; i < 20; i++) {
        struct bp_decision d = step(0.05, 63);
        cr_expect_eq(d.action, ACTION_VETO);
        cr_expect_eq(d.k_after, 1);
        cr_expect(strstr(d.reason, "veto") != NULL);
    }
}

Test(controller, k_falls_under_the_veto_when_the_work_turns_cpu_bound)
{
    /* An I/O phase grows K to the maximum ... */
    start(2, 16, 1, 1.0);
    for (int i = 0; i < 6; i++)
        step(0.9, 40);
    cr_expect_eq(ctl.k, 16);
    /* ... and the first CPU-bound intervals halve it back to the floor. */
    int want[] = {8, 4, 2, 2};
    for (int i = 0; i < 4; i++) {
        struct bp_decision d = step(0.05, 40);
        cr_expect_eq(d.action, ACTION_VETO, "step %d", i);
        cr_expect_eq(d.k_after, want[i], "step %d", i);
    }
    cr_expect(strstr(step(0.05, 40).reason, "K falls") == NULL, "no fall at the floor");
}

Test(controller, scales_up_on_high_beta_io_with_demand)
{
    start(1, 8, 1, 1.0);
    struct bp_decision d = step(0.9, 10);
    cr_expect_eq(d.action, ACTION_SCALE_UP);
    cr_expect_eq(d.k_before, 1);
    cr_expect_eq(d.k_after, 2);
}

Test(controller, scales_down_without_demand)
{
    start(1, 8, 1, 1.0);
    step(0.9, 10);
    step(0.9, 10);
    cr_expect_eq(ctl.k, 4);
    struct bp_decision d = step(0.9, 0);
    cr_expect_eq(d.action, ACTION_SCALE_DOWN);
    cr_expect_eq(d.k_after, 3);
}

Test(controller, hysteresis_needs_consecutive_signals)
{
    start(1, 8, 3, 1.0);
    cr_expect_eq(step(0.9, 5).action, ACTION_HOLD);
    cr_expect_eq(step(0.9, 5).action, ACTION_HOLD);
    /* A veto in between breaks the run. */
    cr_expect_eq(step(0.1, 5).action, ACTION_VETO);
    cr_expect_eq(step(0.9, 5).action, ACTION_HOLD);
    cr_expect_eq(step(0.9, 5).action, ACTION_HOLD);
    struct bp_decision d = step(0.9, 5);
    cr_expect_eq(d.action, ACTION_SCALE_UP);
    cr_expect_eq(d.k_after, 2);
    /* And the count starts again after a move. */
    cr_expect_eq(step(0.9, 5).action, ACTION_HOLD);
}

Test(controller, scales_up_by_doubling_and_down_by_one)
{
    start(1, 12, 1, 1.0);
    int want_up[] = {2, 4, 8, 12, 12};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(step(0.9, 50).k_after, want_up[i], "step %d", i);
    int want_down[] = {11, 10, 9};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(step(0.9, 0).k_after, want_down[i], "step %d", i);
}

Test(controller, stays_within_bounds)
{
    start(2, 3, 1, 1.0);
    for (int i = 0; i < 10; i++)
        step(0.9, 5);
    cr_expect_eq(ctl.k, 3);
    struct bp_decision d = step(0.9, 5);
    cr_expect_eq(d.action, ACTION_HOLD);
    cr_expect_str_eq(d.reason, "at max_workers");
    for (int i = 0; i < 10; i++)
        step(0.9, 0);
    cr_expect_eq(ctl.k, 2);
    cr_expect_str_eq(step(0.9, 0).reason, "at min_workers");
}

Test(controller, smoothing_is_an_ewma)
{
    start(1, 8, 3, 0.2);
    struct bp_decision d = step(1.0, 1);
    cr_expect_float_eq(d.beta_io, 1.0, 1e-12); /* the first value seeds it */
    d = step(0.0, 1);
    cr_expect_float_eq(d.beta_io, 0.8, 1e-12);
    d = step(0.0, 1);
    cr_expect_float_eq(d.beta_io, 0.64, 1e-12);
    /* One low interval does not flip a high smoothed value into a veto. */
    start(1, 8, 3, 0.2);
    step(0.9, 1);
    cr_expect_eq(step(0.0, 1).action, ACTION_HOLD);
}

/* ---- the gate ---- */

/* An interval of workers at beta_io 0.05 with `demand` waiting, `forced`
 * of their holds ended by a waiter, the main thread waiting `main_wait` of
 * the time. */
static struct bp_decision gate_step(double demand, uint64_t forced, double main_wait)
{
    struct bp_interval in = quiet();
    in.beta_io = 0.05;
    in.demand = demand;
    in.forced = forced;
    in.main_waiting = main_wait;
    return bp_decide(&ctl, &in);
}

Test(gate, starts_open)
{
    start(2, 8, 3, 0.2);
    cr_expect_eq(ctl.shut, 0);
}

Test(gate, forced_switches_with_waiting_workers_shut_it_at_once)
{
    start(2, 8, 3, 0.2);
    /* A pure-Python pool: ~200 forced switches/s, 63 workers waiting. */
    struct bp_decision d = gate_step(63, 20, 0);
    cr_expect_eq(d.shut_before, 0);
    cr_expect_eq(d.shut_after, 1);
    cr_expect_eq(d.signal, SIGNAL_FORCED_SWITCHES);
    cr_expect_float_eq(d.forced_per_s, 200.0, 1e-9);
    cr_expect(strstr(d.gate_reason, "forced") != NULL, "%s", d.gate_reason);
}

Test(gate, the_main_thread_kept_waiting_shuts_it)
{
    start(2, 8, 3, 0.2);
    /* Two computing workers (nobody parked), the main thread waiting 30%. */
    struct bp_decision d = gate_step(0.3, 20, 0.3);
    cr_expect_eq(d.shut_after, 1);
    cr_expect_eq(d.signal, SIGNAL_MAIN_WAITING);
    cr_expect(strstr(d.gate_reason, "main thread") != NULL, "%s", d.gate_reason);
}

Test(gate, threads_that_let_go_on_their_own_keep_it_open)
{
    start(2, 8, 1, 0.2);
    /* The seed's pool: hundreds waiting, but holds of 40 us end by
     * themselves: one forced switch in 100 ms is 10/s, under the line. */
    for (int i = 0; i < 10; i++) {
        struct bp_decision d = gate_step(200, 1, 0.5);
        cr_expect_eq(d.shut_after, 0, "interval %d", i);
        cr_expect_eq(d.signal, SIGNAL_NONE);
        cr_expect(strstr(d.gate_reason, "on their own") != NULL, "%s", d.gate_reason);
    }
}

Test(gate, the_waits_per_take_are_logged_and_change_nothing)
{
    start(2, 8, 1, 0.2);
    /* Debian's 3.14, the seed's pool of 256 on one CPU: 1.8 waits on the
     * GIL's cond per take, brief workers, nobody forced off. */
    struct bp_interval in = quiet();
    in.beta_io = 0.9;
    in.waiting = 100;
    in.forced = 1;
    in.takes = 700;
    in.cond_waits = 1260;
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_float_eq(d.rewaits, 1.8, 1e-9);
    cr_expect_eq(d.shut_after, 0);
    cr_expect_eq(d.signal, SIGNAL_NONE);
    in.takes = 0;
    cr_expect_float_eq(bp_decide(&ctl, &in).rewaits, 0.0, 1e-9, "no take: no rate");
}

Test(gate, forced_switches_without_anyone_waiting_do_not_shut_it)
{
    start(2, 8, 1, 0.2);
    struct bp_decision d = gate_step(0.2, 20, 0.0);
    cr_expect_eq(d.shut_after, 0);
    cr_expect(strstr(d.gate_reason, "nobody waits") != NULL, "%s", d.gate_reason);
}

Test(gate, opens_after_hysteresis_calm_intervals)
{
    start(2, 8, 3, 0.2);
    cr_expect_eq(gate_step(63, 20, 0).shut_after, 1);
    cr_expect_eq(gate_step(10, 0, 0).shut_after, 1);
    cr_expect_eq(gate_step(10, 0, 0).shut_after, 1);
    /* A signal in between starts the count again. */
    cr_expect_eq(gate_step(63, 20, 0).shut_after, 1);
    cr_expect_eq(gate_step(10, 0, 0).shut_after, 1);
    cr_expect_eq(gate_step(10, 0, 0).shut_after, 1);
    struct bp_decision d = gate_step(10, 0, 0);
    cr_expect_eq(d.shut_before, 1);
    cr_expect_eq(d.shut_after, 0);
}

Test(gate, the_rate_is_per_second_whatever_the_interval)
{
    start(2, 8, 1, 0.2);
    struct bp_interval in = quiet();
    in.span_ns = 1000 * MS; /* a 1 s interval: 15 forced switches is 15/s */
    in.demand = 5;
    in.forced = 15;
    cr_expect_eq(bp_decide(&ctl, &in).shut_after, 0);
    in.forced = 25;
    cr_expect_eq(bp_decide(&ctl, &in).shut_after, 1);
}

Test(gate, off_never_shuts)
{
    start_with(2, 8, 1, 0.2, 0, 1);
    struct bp_decision d = gate_step(63, 50, 0.5);
    cr_expect_eq(d.shut_after, 0);
    cr_expect(strstr(d.gate_reason, "off") != NULL);
}

/* ---- GIL affinity ---- */

/* One interval of 100 ms in which Python threads used `cpu` ms of CPU, `held`
 * of them holding the GIL, with `waiting` threads waiting for it on average. */
static struct bp_interval aff_in(int pinned, uint64_t cpu, uint64_t held, double waiting, double others)
{
    /* Two CPUs, both kept `others` busy by other processes, held by nobody,
     * no registry (the process decides alone). */
    struct bp_interval in = {.span_ns = 100 * MS, .cpu_ns = cpu * MS, .held_ns = held * MS, .waiting = waiting,
                             .pinned = pinned, .others = others, .ncpus = 2};
    in.cpus[0] = (struct bp_cpu_view){.cpu = 0, .others = others};
    in.cpus[1] = (struct bp_cpu_view){.cpu = 1, .others = others};
    return in;
}

static enum bp_pin_action aff(int pinned, uint64_t cpu, uint64_t held, double waiting, double others)
{
    struct bp_interval in = aff_in(pinned, cpu, held, waiting, others);
    return bp_decide(&ctl, &in).pin;
}

Test(affinity, pins_a_gil_bound_pool_on_the_first_interval)
{
    start(2, 8, 3, 0.2);
    cr_expect_eq(aff(0, 100, 90, 40, 0.0), PIN_PIN);
    /* Pinned and still GIL-bound: it stays. */
    for (int i = 0; i < 10; i++)
        cr_expect_eq(aff(1, 100, 90, 40, 0.0), PIN_STAY);
}

Test(affinity, never_pins_native_code_that_runs_outside_the_gil)
{
    start(2, 8, 3, 0.2);
    for (int i = 0; i < 20; i++) /* hashlib: 180 ms of CPU, 20 under the GIL */
        cr_expect_eq(aff(0, 180, 20, 6, 0.0), PIN_STAY);
}

Test(affinity, sleeps_and_io_do_not_argue_against_a_pin)
{
    start(2, 8, 1, 0.2);
    /* The seed's tasks: most wall time asleep, the CPU time under the GIL. */
    cr_expect_eq(aff(0, 100, 83, 200, 0.0), PIN_PIN);
}

Test(affinity, unpins_after_hysteresis_when_nobody_waits_or_native_code_grows)
{
    start(2, 8, 2, 1.0);
    cr_expect_eq(aff(1, 100, 90, 0.3, 0.0), PIN_STAY);
    cr_expect_eq(aff(1, 100, 90, 0.3, 0.0), PIN_UNPIN);
    start(2, 8, 2, 1.0);
    cr_expect_eq(aff(1, 100, 90, 8, 0.0), PIN_STAY);
    cr_expect_eq(aff(1, 100, 20, 8, 0.0), PIN_STAY);
    cr_expect_eq(aff(1, 100, 20, 8, 0.0), PIN_UNPIN);
}

Test(affinity, a_contested_cpu_is_left_and_not_retaken_at_once)
{
    start(2, 8, 1, 0.2);
    cr_expect_eq(aff(0, 100, 90, 40, 0.0), PIN_PIN);
    cr_expect_eq(aff(1, 40, 36, 40, 0.7), PIN_UNPIN);
    for (int i = 0; i < BP_PIN_BACKOFF; i++)
        cr_expect_eq(aff(0, 100, 90, 40, 0.0), PIN_STAY);
    cr_expect_eq(aff(0, 100, 90, 40, 0.0), PIN_PIN);
    /* Every CPU busy with others: no pin. */
    start(2, 8, 1, 0.2);
    cr_expect_eq(aff(0, 100, 90, 40, 0.8), PIN_STAY);
}

Test(affinity, an_idle_interval_does_not_move_the_native_share)
{
    start(2, 8, 1, 1.0);
    aff(0, 100, 90, 0, 0.0);
    cr_expect_float_eq(ctl.native, 0.1, 1e-9);
    aff(0, 2, 0, 0, 0.0); /* 2 ms of CPU in 100 ms: too little to judge */
    cr_expect_float_eq(ctl.native, 0.1, 1e-9);
}

Test(affinity, off_never_pins)
{
    start_with(2, 8, 1, 0.2, 1, 0);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(aff(0, 100, 90, 40, 0.0), PIN_STAY);
}

/* ---- one decision carries all three ---- */

Test(decision, a_cpu_pool_gets_k_down_the_gate_shut_and_a_pin_in_one_interval)
{
    start(2, 8, 3, 0.2);
    ctl.k = 8;
    struct bp_interval in = aff_in(0, 100, 97, 62, 0.0);
    in.beta_io = 0.02;
    in.demand = 62;
    in.forced = 20;
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.action, ACTION_VETO);
    cr_expect_eq(d.k_before, 8);
    cr_expect_eq(d.k_after, 4);
    cr_expect_eq(d.shut_after, 1);
    cr_expect_eq(d.pin, PIN_PIN);
    cr_expect(d.reason[0] && d.gate_reason[0] && d.pin_reason[0], "every decision has its reason");
}

Test(decision, action_names_cover_every_action)
{
    cr_expect_str_eq(bp_action_name(ACTION_GATE_SHUT), "gate_shut");
    cr_expect_str_eq(bp_action_name(ACTION_GATE_OPEN), "gate_open");
    cr_expect_str_eq(bp_action_name(ACTION_COUNT), "hold");
    cr_expect_str_eq(bp_signal_name(SIGNAL_FORCED_SWITCHES), "forced_switches");
    cr_expect_str_eq(bp_signal_name(SIGNAL_MAIN_WAITING), "main_waiting");
}

/* ---- where a pin goes, and standing down ---- */

Test(affinity, a_pin_goes_to_the_least_busy_free_cpu_else_the_last_one)
{
    start(2, 8, 3, 0.2);
    struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
    in.ncpus = 4;
    for (int i = 0; i < 4; i++)
        in.cpus[i] = (struct bp_cpu_view){.cpu = 2 * i + 1, .others = 0.2 - 0.01 * i};
    in.cpus[3].holder = 77; /* the least busy, but held */
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_PIN);
    cr_expect_eq(d.pin_cpu, 5);
    start(2, 8, 3, 0.2);
    for (int i = 0; i < 4; i++)
        in.cpus[i].others = 0.0; /* the loads unknown */
    in.cpus[3].holder = 0;
    d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_PIN);
    cr_expect_eq(d.pin_cpu, 7);
    /* No pin, no CPU. */
    start(2, 8, 3, 0.2);
    in.waiting = 0.1;
    d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_STAY);
    cr_expect_eq(d.pin_cpu, -1);
}

/* ---- GIL affinity among processes: the registry's view ---- */

Test(affinity, claims_the_free_cpu_and_says_who_holds_the_other)
{
    start(2, 8, 3, 0.2);
    struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
    in.coord = 1;
    in.cpus[0].holder = 1234;
    in.cpus[1].others = 0.1; /* busier, but free */
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_PIN);
    cr_expect_eq(d.pin_cpu, 1);
    cr_expect(strstr(d.pin_reason, "claimed cpu 1; cpu 0 held by pid 1234") == d.pin_reason, "%s", d.pin_reason);
}

Test(affinity, never_doubles_up_when_every_cpu_is_held)
{
    start(2, 8, 1, 0.2);
    for (int i = 0; i < 20; i++) {
        struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
        in.coord = 1;
        in.cpus[0].holder = 11;
        in.cpus[1].holder = 22;
        struct bp_decision d = bp_decide(&ctl, &in);
        cr_expect_eq(d.pin, PIN_STAY);
        cr_expect(strstr(d.pin_reason, "every usable cpu is held (cpu 0 held by pid 11, cpu 1 by pid 22)") != NULL,
                  "%s", d.pin_reason);
    }
    /* One of them goes: its CPU is claimed at once. */
    struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
    in.coord = 1;
    in.cpus[0].holder = 11;
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_PIN);
    cr_expect_eq(d.pin_cpu, 1);
}

Test(affinity, a_busy_registry_defers_the_pin_one_interval)
{
    start(2, 8, 1, 0.2);
    struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
    in.coord = 2;
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_STAY);
    cr_expect(strstr(d.pin_reason, "registry was busy") != NULL, "%s", d.pin_reason);
    in.coord = 1;
    cr_expect_eq(bp_decide(&ctl, &in).pin, PIN_PIN);
}

Test(affinity, not_gil_bound_says_so_before_the_cpus)
{
    start(2, 8, 1, 0.2);
    struct bp_interval in = aff_in(0, 100, 90, 0.1, 0.0);
    in.coord = 1;
    in.cpus[0].holder = 11;
    in.cpus[1].holder = 22;
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect(strstr(d.pin_reason, "not contended") != NULL, "%s", d.pin_reason);
}

Test(affinity, one_usable_cpu_gives_its_reason)
{
    struct bp_controller_params p = {.min = 2, .max = 8, .hysteresis = 1, .alpha = 0.2, .danger = 0.3, .gate = 1};
    snprintf(p.no_affinity, sizeof p.no_affinity, "the cgroup's cpu.max allows 1.50 cpus");
    bp_controller_init(&ctl, &p);
    struct bp_interval in = aff_in(0, 100, 90, 40, 0.0);
    struct bp_decision d = bp_decide(&ctl, &in);
    cr_expect_eq(d.pin, PIN_STAY);
    cr_expect_str_eq(d.pin_reason, "the cgroup's cpu.max allows 1.50 cpus");
}

Test(affinity, a_pinned_process_stays_beside_unpinned_ones_under_betapool)
{
    /* Their load is not "others" (the monitor leaves it out): no unpin. */
    start(2, 8, 1, 0.2);
    for (int i = 0; i < 10; i++) {
        struct bp_interval in = aff_in(1, 100, 90, 40, 0.05);
        in.coord = 1;
        in.cpus[1].holder = 22;
        cr_expect_eq(bp_decide(&ctl, &in).pin, PIN_STAY);
    }
}

Test(decision, standing_down_opens_the_gate_and_ends_a_pin)
{
    start(2, 8, 3, 0.2);
    gate_step(5, 5, 0.0);
    cr_assert_eq(ctl.shut, 1);
    struct bp_decision d = bp_stand_down(&ctl, 1);
    cr_expect_eq(d.shut_before, 1);
    cr_expect_eq(d.shut_after, 0);
    cr_expect_eq(ctl.shut, 0);
    cr_expect_eq(d.pin, PIN_UNPIN);
    cr_expect_eq(d.k_after, d.k_before);
    d = bp_stand_down(&ctl, 0);
    cr_expect_eq(d.shut_before, 0);
    cr_expect_eq(d.pin, PIN_STAY);
}

Test(decision, pin_and_gate_names_are_the_logs)
{
    cr_expect_str_eq(bp_pin_action_name(PIN_STAY), "stay");
    cr_expect_str_eq(bp_pin_action_name(PIN_PIN), "pin");
    cr_expect_str_eq(bp_pin_action_name(PIN_UNPIN), "unpin");
    cr_expect_str_eq(bp_gate_state_name(0), "open");
    cr_expect_str_eq(bp_gate_state_name(1), "shut");
    cr_expect_eq(bp_pin_counted(PIN_STAY), ACTION_HOLD);
    cr_expect_eq(bp_pin_counted(PIN_PIN), ACTION_PIN);
    cr_expect_eq(bp_pin_counted(PIN_UNPIN), ACTION_UNPIN);
}

/* ---- the per-event policies the hooks consult ---- */

Test(policy, a_hold_is_brief_when_short_and_not_cut_short)
{
    cr_expect(bp_policy_brief(BP_BRIEF_HOLD_NS - 1, 0));
    cr_expect(!bp_policy_brief(BP_BRIEF_HOLD_NS, 0));
    cr_expect(!bp_policy_brief(10, 1), "a waiter asked it to let go: computing");
}

Test(policy, only_computing_workers_after_their_first_take_are_parkable)
{
    cr_expect(bp_policy_parkable(0, 1, 0, 1, 0));
    cr_expect(!bp_policy_parkable(1, 1, 0, 1, 0), "brief");
    cr_expect(!bp_policy_parkable(0, 0, 0, 1, 0), "not CPython's");
    cr_expect(!bp_policy_parkable(0, 1, 1, 1, 0), "the main thread");
    cr_expect(!bp_policy_parkable(0, 1, 0, 0, 0), "its first take");
    cr_expect(!bp_policy_parkable(0, 1, 0, 1, 1), "it took a sub-interpreter's own GIL");
}

static uint64_t fake_now;
static uint64_t read_fake_now(void)
{
    return fake_now;
}

/* A brief worker that asked at 100 ms, its last hold 0.4 ms ending at 98 ms,
 * behind a computing holder, with the gate shut. */
static struct bp_waiter waiter(void)
{
    fake_now = 101 * MS;
    return (struct bp_waiter){.gate_shut = 1, .parkable = 0, .brief = 1, .asked_ns = 100 * MS,
                              .drop_ns = 98 * MS, .hold_ns = MS / 2 - MS / 10, .holder = HOLDER_COMPUTING};
}

Test(policy, a_brief_waiter_behind_a_computing_holder_is_favoured)
{
    struct bp_waiter w = waiter();
    cr_expect(bp_policy_favour(&w, read_fake_now));
}

Test(policy, favour_needs_the_gate_shut_and_nobody_favoured_already)
{
    struct bp_waiter w = waiter();
    w.gate_shut = 0;
    cr_expect(!bp_policy_favour(&w, read_fake_now));
    w = waiter();
    w.favoured_now = 1;
    cr_expect(!bp_policy_favour(&w, read_fake_now));
}

Test(policy, favour_only_behind_a_computing_holder)
{
    enum bp_holder others[] = {HOLDER_NONE, HOLDER_SELF, HOLDER_BRIEF};
    for (unsigned i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct bp_waiter w = waiter();
        w.holder = others[i];
        cr_expect(!bp_policy_favour(&w, read_fake_now), "holder %u", i);
    }
}

Test(policy, a_brief_thread_must_be_out_a_quarter_of_its_hold)
{
    struct bp_waiter w = waiter();
    w.hold_ns = 9 * MS; /* out 2 ms after a 9 ms hold: less than a quarter */
    cr_expect(!bp_policy_favour(&w, read_fake_now));
    w.hold_ns = 8 * MS; /* exactly a quarter */
    cr_expect(bp_policy_favour(&w, read_fake_now));
    w = waiter();
    w.brief = 0;
    cr_expect(!bp_policy_favour(&w, read_fake_now), "a computing, parkable-or-not thread not yet starving");
}

Test(policy, a_starving_exempt_thread_is_favoured_whatever_it_is)
{
    struct bp_waiter w = waiter();
    w.brief = 0;
    fake_now = w.asked_ns + BP_STARVING_NS;
    cr_expect(bp_policy_favour(&w, read_fake_now));
    w.parkable = 1; /* a worker the gate may park never starves into favour */
    cr_expect(!bp_policy_favour(&w, read_fake_now));
    w.parkable = 0;
    fake_now = w.asked_ns + BP_STARVING_NS - 1;
    cr_expect(!bp_policy_favour(&w, read_fake_now));
}
