/* The directed hand-off's rules (controller.h) and its wait buckets
 * (handoff.c): who goes first when the GIL is free, and how its waits are
 * counted. */
#include <criterion/criterion.h>

#include "controller.h"
#include "handoff.h"

#define US 1000ull
#define MS 1000000ull

/* A thread whose last hold was 0.4 ms and ended at 98 ms, that asked for
 * the GIL again at 100 ms (2 ms outside), waiting at 101 ms. */
Test(handoff_class, brief_holds_with_blocking_between_are_interactive)
{
    cr_expect_eq(bp_policy_class(1, 400 * US, 98 * MS, 100 * MS, 101 * MS), WAITER_INTERACTIVE);
}

Test(handoff_class, a_long_or_cut_short_hold_is_computing)
{
    /* bp_policy_brief said no: the hold was long, or a waiter asked it to
     * let go; out 2 ms or not, it computes. */
    cr_expect_eq(bp_policy_class(0, 400 * US, 98 * MS, 100 * MS, 101 * MS), WAITER_COMPUTING);
    cr_expect_eq(bp_policy_class(0, 50 * MS, 50 * MS, 100 * MS, 101 * MS), WAITER_COMPUTING);
}

Test(handoff_class, brief_but_barely_outside_is_computing)
{
    /* A 0.8 ms hold, then back for the GIL 0.1 ms later: outside less than
     * a quarter of its hold (a pool worker between short tasks). */
    cr_expect_eq(bp_policy_class(1, 800 * US, 99900 * US, 100 * MS, 101 * MS), WAITER_COMPUTING);
    /* Exactly a quarter counts. */
    cr_expect_eq(bp_policy_class(1, 800 * US, 99800 * US, 100 * MS, 101 * MS), WAITER_INTERACTIVE);
}

Test(handoff_class, a_thread_that_never_held_is_not_interactive)
{
    cr_expect_eq(bp_policy_class(1, 0, 0, 100 * MS, 101 * MS), WAITER_COMPUTING);
}

Test(handoff_class, waiting_the_bound_makes_any_thread_due)
{
    uint64_t asked = 100 * MS;
    cr_expect_eq(bp_policy_class(0, 50 * MS, 50 * MS, asked, asked + BP_DUE_NS), WAITER_DUE);
    cr_expect_eq(bp_policy_class(1, 400 * US, 98 * MS, asked, asked + BP_DUE_NS), WAITER_DUE);
    cr_expect_eq(bp_policy_class(0, 50 * MS, 50 * MS, asked, asked + BP_DUE_NS - 1), WAITER_COMPUTING);
    /* A clock that went back (another CPU's read) is not a long wait. */
    cr_expect_eq(bp_policy_class(0, 50 * MS, 50 * MS, asked, asked - 1), WAITER_COMPUTING);
}

Test(handoff_hold_back, a_lower_class_leaves_the_gil_to_a_higher_one)
{
    int none[WAITER_CLASS_COUNT] = {0};
    int inter[WAITER_CLASS_COUNT] = {[WAITER_INTERACTIVE] = 1};
    int due[WAITER_CLASS_COUNT] = {[WAITER_DUE] = 1};
    int comp[WAITER_CLASS_COUNT] = {[WAITER_COMPUTING] = 5};
    cr_expect(!bp_policy_hold_back(WAITER_COMPUTING, none, 0));
    cr_expect(!bp_policy_hold_back(WAITER_COMPUTING, comp, 0), "its own class: whoever wakes first");
    cr_expect(bp_policy_hold_back(WAITER_COMPUTING, inter, 0));
    cr_expect(bp_policy_hold_back(WAITER_COMPUTING, due, 0));
    cr_expect(!bp_policy_hold_back(WAITER_INTERACTIVE, inter, 0));
    cr_expect(bp_policy_hold_back(WAITER_INTERACTIVE, due, 0), "a due computing thread goes first");
    cr_expect(!bp_policy_hold_back(WAITER_DUE, due, 0));
    cr_expect(!bp_policy_hold_back(WAITER_DUE, inter, 0));
}

Test(handoff_hold_back, never_longer_than_the_bound)
{
    int inter[WAITER_CLASS_COUNT] = {[WAITER_INTERACTIVE] = 3};
    cr_expect(bp_policy_hold_back(WAITER_COMPUTING, inter, BP_HOLD_BACK_NS - 1));
    cr_expect(!bp_policy_hold_back(WAITER_COMPUTING, inter, BP_HOLD_BACK_NS));
}

Test(handoff_buckets, each_wait_lies_in_its_bucket)
{
    uint64_t vals[] = {0, 1, 3, 4, 5, 7, 8, 9, 10, 15, 16, 999, 1000, 1023, 1024, 123456789, 1ull << 32};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int b = bp_wait_bucket(vals[i]);
        cr_expect(vals[i] <= bp_wait_bucket_top(b), "%llu above its bucket %d's top", (unsigned long long)vals[i], b);
        if (b > 0)
            cr_expect(vals[i] > bp_wait_bucket_top(b - 1), "%llu fits bucket %d", (unsigned long long)vals[i], b - 1);
        /* 25% apart: a bucket's top is at most 5/4 of its values. */
        if (vals[i] >= 4)
            cr_expect(bp_wait_bucket_top(b) < vals[i] + vals[i] / 4 + 1, "%llu", (unsigned long long)vals[i]);
    }
    cr_expect_eq(bp_wait_bucket(UINT64_MAX), BP_WAIT_BUCKETS - 1);
    cr_expect_eq(bp_wait_bucket_top(BP_WAIT_BUCKETS - 1), UINT64_MAX);
}

Test(handoff_buckets, percentiles_are_bucket_tops)
{
    uint64_t hist[BP_WAIT_BUCKETS] = {0};
    cr_expect_eq(bp_wait_percentile(hist, 0.5), 0, "nothing counted");
    /* 98 waits of 100 us, 2 of 8 ms. */
    hist[bp_wait_bucket(100 * US)] = 98;
    hist[bp_wait_bucket(8 * MS)] = 2;
    uint64_t p50 = bp_wait_percentile(hist, 0.50), p99 = bp_wait_percentile(hist, 0.99);
    cr_expect(p50 >= 100 * US && p50 < 125 * US, "p50 %llu", (unsigned long long)p50);
    cr_expect(p99 >= 8 * MS && p99 < 10 * MS, "p99 %llu", (unsigned long long)p99);
    cr_expect_eq(bp_wait_percentile(hist, 0.98), p50, "98 of 100 are at 100 us");
}
