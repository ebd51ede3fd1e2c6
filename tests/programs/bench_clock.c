/* What one clock read costs natively: bp_now_ns() on the clock betapool
 * picked (the TSC, converted, where the kernel vouches for it), against
 * clock_gettime(CLOCK_MONOTONIC) and a bare rdtsc. Prints ns per read,
 * the median of 11 rounds of 10^6 reads each, with the range.
 *
 *     build/tests/bench_clock        (run it under the heavy lock) */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

#define READS 1000000
#define ROUNDS 11

static volatile uint64_t sink;

static uint64_t read_now(void) { return bp_now_ns(); }
static uint64_t read_mono(void) { return bp_mono_ns(); }
static uint64_t read_tsc(void) { return bp_rdtsc(); }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const char *name, uint64_t (*fn)(void))
{
    double ns[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t a = bp_mono_ns(), acc = 0;
        for (int i = 0; i < READS; i++)
            acc += fn();
        uint64_t b = bp_mono_ns();
        sink = acc;
        ns[r] = (double)(b - a) / READS;
    }
    qsort(ns, ROUNDS, sizeof ns[0], cmp);
    printf("%-28s %6.2f ns per read [%.2f-%.2f]\n", name, ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1]);
}

int main(void)
{
    bp_clock_init(1);
    printf("betapool's clock here: %s\n", bp_clock_name());
    for (int pass = 0; pass < 2; pass++) {
        bench("bp_now_ns", read_now);
        bench("clock_gettime(MONOTONIC)", read_mono);
        if (BP_HAVE_TSC)
            bench("rdtsc alone", read_tsc);
    }
    return 0;
}
