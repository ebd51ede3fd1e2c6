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
    cr_expect_eq(ctl.k, 3);
    struct bp_decision d = bp_controller_step(&ctl, 0.9, 0);
    cr_expect_eq(d.action, ACTION_SCALE_DOWN);
    cr_expect_eq(d.k_after, 2);
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
