/* The clock: the TSC-to-nanoseconds arithmetic, the steering that keeps the
 * mapping near CLOCK_MONOTONIC without ever stepping it back, the latch
 * readers go through, and the real calibration on this machine. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

#define GHZ_2_5_MULT ((uint64_t)((1ull << 32) / 2.5)) /* 0.4 ns per tick */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

Test(clock, mult_from_two_points)
{
    /* 2.5 GHz: 2.5e9 ticks in a second. */
    uint64_t m = bp_clock_mult(2500000000ull, 1000000000ull);
    cr_expect_eq(m, GHZ_2_5_MULT);
    cr_expect_eq(bp_tsc_to_ns(m, 0, 2500000000ull), 999999999, "got %llu",
                 (unsigned long long)bp_tsc_to_ns(m, 0, 2500000000ull));
    /* 1 GHz: a tick is a nanosecond. */
    cr_expect_eq(bp_clock_mult(123456789, 123456789), 1ull << 32);
    /* Nonsense measurements give no rate. */
    cr_expect_eq(bp_clock_mult(0, 1000), 0);
    cr_expect_eq(bp_clock_mult(1000, 0), 0);
    cr_expect_eq(bp_clock_mult(1000000, 10), 0);   /* 100 GHz */
    cr_expect_eq(bp_clock_mult(10, 1000000), 0);   /* 10 MHz */
}

Test(clock, conversion_of_large_counts_does_not_overflow)
{
    /* A TSC that has run for years (2^62 ticks at 3 GHz is ~48 years). */
    uint64_t m = bp_clock_mult(3000000000ull, 1000000000ull);
    uint64_t tsc = 1ull << 62;
    uint64_t ns = bp_tsc_to_ns(m, 0, tsc);
    double expect = (double)tsc / 3.0;
    cr_expect(ns > expect * 0.999999 && ns < expect * 1.000001, "%llu vs %.0f", (unsigned long long)ns, expect);
}

Test(clock, offset_through_a_point)
{
    uint64_t s = 42;
    for (int i = 0; i < 1000; i++) {
        uint64_t mult = GHZ_2_5_MULT + lcg(&s) % 1000000 - 500000;
        uint64_t tsc = lcg(&s), ns = lcg(&s);
        uint64_t off = bp_clock_offset_through(mult, tsc, ns);
        cr_assert_eq(bp_tsc_to_ns(mult, off, tsc), ns);
    }
}

/* The mapping as the shim's thread would run it: a TSC whose true rate is
 * not the first estimate, CLOCK_MONOTONIC as the truth, steered every
 * interval. */
struct sim {
    uint64_t mult, offset;
    double true_ns_per_tick;
};

static uint64_t truth(const struct sim *s, uint64_t tsc)
{
    return (uint64_t)((double)tsc * s->true_ns_per_tick);
}

Test(clock, steer_is_continuous_and_removes_an_eighth_of_the_error_per_horizon)
{
    struct sim s = {.true_ns_per_tick = 0.4};
    uint64_t tsc = 5000000000ull;
    /* A first rate 0.1% too fast, through the truth at tsc. */
    s.mult = (uint64_t)(GHZ_2_5_MULT * 1.001);
    s.offset = bp_clock_offset_through(s.mult, tsc, truth(&s, tsc));
    const uint64_t horizon = 100000000; /* 100 ms */
    tsc += 250000000;                   /* 100 ms of ticks later */
    uint64_t before = bp_tsc_to_ns(s.mult, s.offset, tsc);
    int64_t err = (int64_t)(before - truth(&s, tsc));
    cr_expect(err > 90000 && err < 110000, "the first rate drifted %lld ns in 100 ms", (long long)err);
    uint64_t nm, no;
    /* The long-run rate, as measured from the anchor (exact here). */
    bp_clock_steer(s.mult, s.offset, tsc, truth(&s, tsc), GHZ_2_5_MULT, horizon, &nm, &no);
    int64_t jump = (int64_t)(bp_tsc_to_ns(nm, no, tsc) - before);
    cr_expect(jump >= -1 && jump <= 1, "the mapping jumped %lld ns", (long long)jump);
    uint64_t later = tsc + 250000000;
    int64_t left = (int64_t)(bp_tsc_to_ns(nm, no, later) - truth(&s, later));
    cr_expect(left > err * 7 / 8 - 100 && left < err * 7 / 8 + 100, "%lld ns of error left after the horizon, from %lld",
              (long long)left, (long long)err);
    cr_expect(nm < GHZ_2_5_MULT, "a mapping ahead must run slower than the rate for a while");
}

Test(clock, steer_never_steps_back_and_catches_up_forward)
{
    const uint64_t horizon = 100000000;
    uint64_t mult = GHZ_2_5_MULT, tsc = 1000000000ull, nm, no;
    /* Ahead by 1 s (far more than the bound removes in a horizon): slows
     * down by at most the bound, continuously. */
    uint64_t off = bp_clock_offset_through(mult, tsc, 2000000000ull);
    bp_clock_steer(mult, off, tsc, 1000000000ull, mult, horizon, &nm, &no);
    cr_expect_eq(bp_tsc_to_ns(nm, no, tsc), bp_tsc_to_ns(mult, off, tsc));
    double ratio = (double)nm / (double)mult;
    cr_expect(ratio > 1.0 - BP_CLOCK_SLEW_MAX - 1e-9 && ratio < 1.0 - BP_CLOCK_SLEW_MAX + 1e-9, "ratio %f", ratio);
    /* Behind by 1 s: one step forward onto CLOCK_MONOTONIC. */
    off = bp_clock_offset_through(mult, tsc, 1000000000ull);
    bp_clock_steer(mult, off, tsc, 2000000000ull, mult, horizon, &nm, &no);
    cr_expect_eq(bp_tsc_to_ns(nm, no, tsc), 2000000000ull);
    cr_expect_eq(nm, mult);
}

Test(clock, a_run_of_steers_is_monotonic_and_stays_near_the_truth)
{
    /* 1,000 intervals of 10 ms; the true rate wanders by up to 200 ppm
     * (CLOCK_MONOTONIC slewed by NTP), measurements carry up to 50 ns of
     * noise, and one interval in ten comes three times late (a busy
     * machine). The mapping must never decrease and, once the first rough
     * rate is forgotten, stay within 50 us. */
    uint64_t seed = 7;
    struct sim s = {.true_ns_per_tick = 1.0 / 2.9};
    uint64_t tsc = 1ull << 40;
    double truth_ns = 1e12;
    s.mult = bp_clock_mult(29000, 10000); /* a rough first rate */
    s.offset = bp_clock_offset_through(s.mult, tsc, (uint64_t)truth_ns);
    uint64_t anchor_tsc = tsc, anchor_ns = (uint64_t)truth_ns, last = 0;
    int64_t worst = 0;
    for (int i = 0; i < 1000; i++) {
        double rate = (1.0 / 2.9) * (1.0 + ((double)(lcg(&seed) % 401) - 200.0) * 1e-6);
        /* Within the interval, read the mapping at a few points. */
        double span = i % 10 == 9 ? 30e6 : 10e6;
        uint64_t step = (uint64_t)(span / rate);
        for (int k = 1; k <= 4; k++) {
            uint64_t v = bp_tsc_to_ns(s.mult, s.offset, tsc + step * (uint64_t)k / 4);
            cr_assert(v >= last, "interval %d: %llu after %llu", i, (unsigned long long)v, (unsigned long long)last);
            last = v;
        }
        tsc += step;
        truth_ns += span;
        uint64_t measured = (uint64_t)truth_ns + lcg(&seed) % 101 - 50;
        uint64_t mult = bp_clock_mult(tsc - anchor_tsc, measured - anchor_ns);
        cr_assert_neq(mult, 0);
        uint64_t nm, no;
        bp_clock_steer(s.mult, s.offset, tsc, measured, mult, 10000000, &nm, &no);
        uint64_t here = bp_tsc_to_ns(nm, no, tsc);
        cr_assert(here >= last);
        last = here;
        s.mult = nm;
        s.offset = no;
        int64_t err = (int64_t)(here - (uint64_t)truth_ns);
        if (i >= 50) {
            worst = err > worst ? err : -err > worst ? -err : worst;
            cr_assert(err > -50000 && err < 50000, "interval %d: %lld ns off", i, (long long)err);
        }
    }
    cr_log_info("worst distance to the truth after 50 intervals: %lld ns", (long long)worst);
}

/* The latch: readers never see a torn scale. The writer publishes scales
 * that all map the same point ahead to the same time; a reader that mixed
 * the mult of one with the offset of another would see a time far off. */
static _Atomic int stop_readers;
static _Atomic uint64_t bad_reads, reads_done;
#define LATCH_TSC 1000000000000ull

static void *latch_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_readers)) {
        for (;;) {
            uint32_t s = atomic_load_explicit(&bp_clock.seq, memory_order_acquire);
            const struct bp_clock_scale *sc = &bp_clock.scale[s & 1];
            uint64_t mult = atomic_load_explicit(&sc->mult, memory_order_relaxed);
            uint64_t offset = atomic_load_explicit(&sc->offset, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&bp_clock.seq, memory_order_relaxed) != s)
                continue;
            uint64_t v = bp_tsc_to_ns(mult, offset, LATCH_TSC);
            if (v != 5000000000000ull)
                atomic_fetch_add(&bad_reads, 1);
            atomic_fetch_add(&reads_done, 1);
            break;
        }
    }
    return NULL;
}

Test(clock, latch_readers_never_see_a_torn_scale)
{
    uint32_t saved = atomic_load(&bp_clock.seq);
    struct bp_clock_scale saved_scale[2];
    for (int i = 0; i < 2; i++) {
        saved_scale[i].mult = atomic_load(&bp_clock.scale[i].mult);
        saved_scale[i].offset = atomic_load(&bp_clock.scale[i].offset);
    }
    bp_clock_publish(1ull << 32, bp_clock_offset_through(1ull << 32, LATCH_TSC, 5000000000000ull));
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, latch_reader, NULL);
    uint64_t seed = 3;
    /* Until the readers have read plenty while the writer ran (bounded). */
    uint64_t deadline = bp_mono_ns() + 5000000000ull;
    for (int i = 0; i < 200000 || (atomic_load(&reads_done) < 200000 && bp_mono_ns() < deadline); i++) {
        uint64_t mult = (1ull << 31) + lcg(&seed) % (1ull << 33);
        bp_clock_publish(mult, bp_clock_offset_through(mult, LATCH_TSC, 5000000000000ull));
    }
    atomic_store(&stop_readers, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(atomic_load(&bad_reads), 0, "%llu torn reads of %llu", (unsigned long long)atomic_load(&bad_reads),
                 (unsigned long long)atomic_load(&reads_done));
    cr_expect_geq(atomic_load(&reads_done), 200000);
    for (int i = 0; i < 2; i++) {
        atomic_store(&bp_clock.scale[i].mult, saved_scale[i].mult);
        atomic_store(&bp_clock.scale[i].offset, saved_scale[i].offset);
    }
    atomic_store(&bp_clock.seq, saved);
}

/* The real thing on this machine: whichever clock the kernel's word picks,
 * bp_now_ns stays within 100 us of CLOCK_MONOTONIC across a calibration,
 * refinements and 50 ms of sleep, and never goes back. */
Test(clock, calibrated_clock_follows_monotonic)
{
    bp_clock_init(1);
    const char *name = bp_clock_name();
    cr_expect(strcmp(name, "tsc") == 0 || strcmp(name, "monotonic") == 0, "%s", name);
    uint64_t last = 0;
    int64_t worst = 0;
    for (int i = 0; i < 10; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        if (i % 3 == 2)
            bp_clock_refine(5000000);
        uint64_t a = bp_mono_ns(), v = bp_now_ns(), b = bp_mono_ns();
        cr_expect(v >= last, "went back: %llu after %llu", (unsigned long long)v, (unsigned long long)last);
        last = v;
        int64_t off = v < a ? (int64_t)(v - a) : v > b ? (int64_t)(v - b) : 0;
        worst = off > worst ? off : -off > worst ? -off : worst;
        cr_expect(off > -100000 && off < 100000, "%s: %lld ns from CLOCK_MONOTONIC", name, (long long)off);
    }
    cr_log_info("%s: at most %lld ns from CLOCK_MONOTONIC", name, (long long)worst);
    /* Forced onto CLOCK_MONOTONIC, it reads CLOCK_MONOTONIC. */
    uint32_t saved = atomic_load(&bp_clock.seq);
    atomic_fetch_or(&bp_clock.seq, BP_CLOCK_MONO);
    cr_expect_str_eq(bp_clock_name(), "monotonic");
    uint64_t a = bp_mono_ns(), v = bp_now_ns(), b = bp_mono_ns();
    cr_expect(v >= a && v <= b);
    atomic_store(&bp_clock.seq, saved);
}
