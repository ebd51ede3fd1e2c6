/* The controller as a pure function: feed it intervals, read its decisions. */
#include <criterion/criterion.h>
#include <string.h>

#include "bp.h"

static struct bp_controller ctl;

static void start(int min, int max, int hysteresis, double alpha)
{
    struct bp_controller_params p = {.min = min, .max = max, .hysteresis = hysteresis, .alpha = alpha, .danger = 0.3};
    bp_controller_init(&ctl, &p);
}

Test(controller, starts_at_min)
{
    start(2, 8, 3, 0.2);
    cr_expect_eq(ctl.k, 2);
}

Test(controller, veto_holds_on_low_beta_io_with_demand)
{
    start(1, 8, 1, 1.0);
    for (int i = 0; i < 20; i++) {
        struct bp_decision d = bp_controller_step(&ctl, 0.05, 63);
        cr_expect_eq(d.action, ACTION_VETO);
        cr_expect_eq(d.k_after, 1);
        cr_expect(strstr(d.reason, "veto") != NULL);
    }
}

Test(controller, scales_up_on_high_beta_io_with_demand)
{
    start(1, 8, 1, 1.0);
    struct bp_decision d = bp_controller_step(&ctl, 0.9, 10);
    cr_expect_eq(d.action, ACTION_SCALE_UP);
    cr_expect_eq(d.k_before, 1);
    cr_expect_eq(d.k_after, 2);
}

Test(controller, scales_down_without_demand)
{
    start(1, 8, 1, 1.0);
    bp_controller_step(&ctl, 0.9, 10);
    bp_controller_step(&ctl, 0.9, 10);
    cr_expect_eq(ctl.k, 4);
    struct bp_decision d = bp_controller_step(&ctl, 0.9, 0);
    cr_expect_eq(d.action, ACTION_SCALE_DOWN);
    cr_expect_eq(d.k_after, 3);
}

Test(controller, hysteresis_needs_consecutive_signals)
{
    start(1, 8, 3, 1.0);
    cr_expect_eq(bp_controller_step(&ctl, 0.9, 5).action, ACTION_HOLD);
    cr_expect_eq(bp_controller_step(&ctl, 0.9, 5).action, ACTION_HOLD);
    /* A veto in between breaks the run. */
    cr_expect_eq(bp_controller_step(&ctl, 0.1, 5).action, ACTION_VETO);
    cr_expect_eq(bp_controller_step(&ctl, 0.9, 5).action, ACTION_HOLD);
    cr_expect_eq(bp_controller_step(&ctl, 0.9, 5).action, ACTION_HOLD);
    struct bp_decision d = bp_controller_step(&ctl, 0.9, 5);
    cr_expect_eq(d.action, ACTION_SCALE_UP);
    cr_expect_eq(d.k_after, 2);
    /* And the count starts again after a move. */
    cr_expect_eq(bp_controller_step(&ctl, 0.9, 5).action, ACTION_HOLD);
}

Test(controller, scales_up_by_doubling_and_down_by_one)
{
    start(1, 12, 1, 1.0);
    int want_up[] = {2, 4, 8, 12, 12};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(bp_controller_step(&ctl, 0.9, 50).k_after, want_up[i], "step %d", i);
    int want_down[] = {11, 10, 9};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(bp_controller_step(&ctl, 0.9, 0).k_after, want_down[i], "step %d", i);
}

Test(controller, stays_within_bounds)
{
    start(2, 3, 1, 1.0);
    for (int i = 0; i < 10; i++)
        bp_controller_step(&ctl, 0.9, 5);
    cr_expect_eq(ctl.k, 3);
    struct bp_decision d = bp_controller_step(&ctl, 0.9, 5);
    cr_expect_eq(d.action, ACTION_HOLD);
    cr_expect_str_eq(d.reason, "at max_workers");
    for (int i = 0; i < 10; i++)
        bp_controller_step(&ctl, 0.9, 0);
    cr_expect_eq(ctl.k, 2);
}

Test(controller, smoothing_is_an_ewma)
{
    start(1, 8, 3, 0.2);
    struct bp_decision d = bp_controller_step(&ctl, 1.0, 1);
    cr_expect_float_eq(d.beta_io, 1.0, 1e-12); /* the first value seeds it */
    d = bp_controller_step(&ctl, 0.0, 1);
    cr_expect_float_eq(d.beta_io, 0.8, 1e-12);
    d = bp_controller_step(&ctl, 0.0, 1);
    cr_expect_float_eq(d.beta_io, 0.64, 1e-12);
    /* One low interval does not flip a high smoothed value into a veto. */
    start(1, 8, 3, 0.2);
    bp_controller_step(&ctl, 0.9, 1);
    cr_expect_eq(bp_controller_step(&ctl, 0.0, 1).action, ACTION_HOLD);
}

/* ---- GIL affinity ---- */

#define MS 1000000ull

/* One interval of 100 ms in which Python threads used `cpu` ms of CPU, `held`
 * of them holding the GIL, with `waiting` threads waiting for it on average. */
static enum bp_action aff(struct bp_affinity_rule *r, int pinned, uint64_t cpu, uint64_t held, double waiting,
                          double others)
{
    struct bp_affinity_in in = {.pinned = pinned, .interval_ns = 100 * MS, .cpu_ns = cpu * MS,
                                .held_ns = held * MS, .waiting = waiting, .others = others};
    char why[160];
    return bp_affinity_step(r, &in, why, sizeof why);
}

Test(affinity, pins_a_gil_bound_pool_after_hysteresis)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 3, 0.2);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_PIN);
    /* Pinned and still GIL-bound: it stays. */
    for (int i = 0; i < 10; i++)
        cr_expect_eq(aff(&r, 1, 100, 90, 40, 0.0), ACTION_HOLD);
}

Test(affinity, never_pins_native_code_that_runs_outside_the_gil)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 3, 0.2);
    for (int i = 0; i < 20; i++) /* hashlib: 180 ms of CPU, 20 under the GIL */
        cr_expect_eq(aff(&r, 0, 180, 20, 6, 0.0), ACTION_HOLD);
}

Test(affinity, sleeps_and_io_do_not_argue_against_a_pin)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 1, 0.2);
    /* The seed's tasks: most wall time asleep, the CPU time under the GIL. */
    cr_expect_eq(aff(&r, 0, 100, 83, 200, 0.0), ACTION_PIN);
}

Test(affinity, unpins_when_nobody_waits_or_native_code_grows)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 2, 1.0);
    cr_expect_eq(aff(&r, 1, 100, 90, 0.3, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 1, 100, 90, 0.3, 0.0), ACTION_UNPIN);
    bp_affinity_rule_init(&r, 2, 1.0);
    cr_expect_eq(aff(&r, 1, 100, 90, 8, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 1, 100, 20, 8, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 1, 100, 20, 8, 0.0), ACTION_UNPIN);
}

Test(affinity, a_contested_cpu_is_left_and_not_retaken_at_once)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 1, 0.2);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_PIN);
    cr_expect_eq(aff(&r, 1, 40, 36, 40, 0.7), ACTION_UNPIN);
    for (int i = 0; i < BP_PIN_BACKOFF; i++)
        cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_HOLD);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.0), ACTION_PIN);
    /* Every CPU busy with others: no pin. */
    bp_affinity_rule_init(&r, 1, 0.2);
    cr_expect_eq(aff(&r, 0, 100, 90, 40, 0.8), ACTION_HOLD);
}

Test(affinity, an_idle_interval_does_not_move_the_native_share)
{
    struct bp_affinity_rule r;
    bp_affinity_rule_init(&r, 1, 1.0);
    aff(&r, 0, 100, 90, 0, 0.0);
    cr_expect_float_eq(r.native, 0.1, 1e-9);
    aff(&r, 0, 2, 0, 0, 0.0); /* 2 ms of CPU in 100 ms: too little to judge */
    cr_expect_float_eq(r.native, 0.1, 1e-9);
}
