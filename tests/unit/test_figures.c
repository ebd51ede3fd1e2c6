#include <criterion/criterion.h>

#include "figures.h"
#include "threads.h"

#define MS 1000000ull

Test(figures, pure_cpu_thread_waiting_for_the_gil)
{
    /* 100 ms: 25 held, 75 waiting for the GIL; CPU 25 ms. The seed's beta
     * calls it mostly blocked; beta_io sees no I/O at all. */
    uint64_t d[PH_COUNT] = {[PH_HELD] = 25 * MS, [PH_WAIT] = 75 * MS};
    struct bp_figures f;
    bp_figures_from(&f, 100 * MS, 25 * MS, d);
    cr_expect_eq(f.blocked_ns, 0);
    cr_expect_float_eq(bp_beta(&f), 0.75, 1e-9);
    cr_expect_float_eq(bp_beta_io(&f), 0.0, 1e-9);
    cr_expect_float_eq(bp_wait_share(&f), 0.75, 1e-9);
}

Test(figures, sleep_bound_thread)
{
    uint64_t d[PH_COUNT] = {[PH_HELD] = 2 * MS, [PH_WAIT] = 1 * MS};
    struct bp_figures f;
    bp_figures_from(&f, 100 * MS, 2 * MS, d);
    cr_expect_eq(f.blocked_ns, 97 * MS);
    cr_expect_float_eq(bp_beta_io(&f), 97.0 / 99.0, 1e-9);
}

Test(figures, idle_and_parked_are_not_active)
{
    uint64_t d[PH_COUNT] = {[PH_HELD] = 10 * MS, [PH_IDLE] = 50 * MS, [PH_PARKED] = 20 * MS};
    struct bp_figures f;
    bp_figures_from(&f, 100 * MS, 10 * MS, d);
    cr_expect_eq(f.blocked_ns, 20 * MS);
    cr_expect_float_eq(bp_beta_io(&f), 20.0 / 30.0, 1e-9);
}

Test(figures, edge_cases)
{
    struct bp_figures z = {0};
    cr_expect_float_eq(bp_beta(&z), 0.0, 1e-12);
    cr_expect_float_eq(bp_beta_io(&z), 0.0, 1e-12);
    cr_expect_float_eq(bp_wait_share(&z), 0.0, 1e-12);
    /* All idle: no active time, beta_io 0. */
    uint64_t d[PH_COUNT] = {[PH_IDLE] = 100 * MS};
    struct bp_figures f;
    bp_figures_from(&f, 100 * MS, 0, d);
    cr_expect_float_eq(bp_beta_io(&f), 0.0, 1e-12);
    /* Phases a little over the wall: wall grows, blocked is 0. */
    uint64_t over[PH_COUNT] = {[PH_HELD] = 101 * MS};
    bp_figures_from(&f, 100 * MS, 120 * MS, over);
    cr_expect_eq(f.wall_ns, 101 * MS);
    cr_expect_eq(f.blocked_ns, 0);
    cr_expect_float_eq(bp_beta(&f), 0.0, 1e-12); /* clamped */
}

Test(figures, sums_add_componentwise)
{
    struct bp_figures a = {.wall_ns = 10, .cpu_ns = 5, .held_ns = 4, .wait_ns = 3, .idle_ns = 2, .blocked_ns = 1};
    struct bp_figures s = {0};
    bp_figures_add(&s, &a);
    bp_figures_add(&s, &a);
    cr_expect_eq(s.wall_ns, 20);
    cr_expect_eq(s.cpu_ns, 10);
    cr_expect_eq(s.held_ns, 8);
    cr_expect_eq(s.wait_ns, 6);
    cr_expect_eq(s.idle_ns, 4);
    cr_expect_eq(s.blocked_ns, 2);
}
