/* clock.c: betapool's nanoseconds. */
#ifndef BETAPOOL_CLOCK_H
#define BETAPOOL_CLOCK_H

#include <time.h>

#include "common.h"

/* Every time betapool records comes from bp_now_ns(). Where the kernel says
 * the TSC is invariant and uses it as its own clocksource, that is the TSC
 * converted by a scale the shim calibrates against CLOCK_MONOTONIC (at start,
 * then on the shim's own thread every interval, steering the mapping back to
 * CLOCK_MONOTONIC without ever stepping it back); everywhere else it is
 * CLOCK_MONOTONIC. A hook reads the TSC and multiplies; it never calls the
 * kernel's clock.
 *
 * The scale is published as a latch: two copies and a sequence number whose
 * low bit says which copy readers use; the writer changes the other copy
 * first, so the copy a reader picks is never the one being written, and a
 * reader retries only when the sequence moved under it. No state of the
 * writer (a fork in the middle of an update included) leaves readers
 * spinning. BP_CLOCK_MONO set in the sequence: CLOCK_MONOTONIC. */
struct bp_clock_scale {
    /* ns = (tsc * mult >> 32) + offset, modulo 2^64 */
    _Atomic uint64_t mult;
    _Atomic uint64_t offset;
};
struct bp_clock {
    _Atomic uint32_t seq;
    uint32_t pad;
    struct bp_clock_scale scale[2];
} __attribute__((aligned(64)));
#define BP_CLOCK_MONO 0x80000000u
extern struct bp_clock bp_clock BP_HIDDEN;

static inline uint64_t bp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bp_tsc_to_ns(uint64_t mult, uint64_t offset, uint64_t tsc)
{
    return (uint64_t)(((unsigned __int128)tsc * mult) >> 32) + offset;
}

#if defined(__x86_64__)
#define BP_HAVE_TSC 1
static inline uint64_t bp_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
#else
#define BP_HAVE_TSC 0
static inline uint64_t bp_rdtsc(void)
{
    return 0;
}
#endif

/* CLOCK_MONOTONIC out of line: the hooks that inline bp_now_ns need no
 * stack frame for it. */
uint64_t bp_clock_mono_ns(void) BP_HIDDEN;

static inline __attribute__((always_inline)) uint64_t bp_now_ns(void)
{
#if BP_HAVE_TSC
    for (;;) {
        uint32_t s = atomic_load_explicit(&bp_clock.seq, memory_order_acquire);
        if (BP_UNLIKELY(s & BP_CLOCK_MONO))
            break;
        const struct bp_clock_scale *sc = &bp_clock.scale[s & 1];
        uint64_t mult = atomic_load_explicit(&sc->mult, memory_order_relaxed);
        uint64_t offset = atomic_load_explicit(&sc->offset, memory_order_relaxed);
        uint64_t tsc = bp_rdtsc();
        atomic_thread_fence(memory_order_acquire);
        if (BP_LIKELY(atomic_load_explicit(&bp_clock.seq, memory_order_relaxed) == s))
            return bp_tsc_to_ns(mult, offset, tsc);
    }
#endif
    return bp_clock_mono_ns();
}

/* Which clock bp_now_ns() reads: "tsc" or "monotonic". */
const char *bp_clock_name(void) BP_HIDDEN;
/* At start, in a CPython process: use the TSC if the kernel vouches for it
 * and allow_tsc, calibrated against CLOCK_MONOTONIC. */
void bp_clock_init(int allow_tsc) BP_HIDDEN;
/* The shim's thread, every interval: refine the scale and steer it towards
 * CLOCK_MONOTONIC over the next interval_ns; go back to CLOCK_MONOTONIC if
 * the kernel stopped using the TSC. */
void bp_clock_refine(uint64_t interval_ns) BP_HIDDEN;

/* The calibration's arithmetic, pure (unit-tested). */
/* mult for a rate measured as ns_delta over tsc_delta ticks; 0 when absurd. */
uint64_t bp_clock_mult(uint64_t tsc_delta, uint64_t ns_delta) BP_HIDDEN;
/* The offset that makes (mult, offset) map tsc to ns. */
uint64_t bp_clock_offset_through(uint64_t mult, uint64_t tsc, uint64_t ns) BP_HIDDEN;
/* A new scale, continuous with cur at tsc, of the rate mult corrected so that
 * an eighth of cur's error against mono_ns (measured at tsc) is gone after
 * horizon_ns. The correction is bounded (BP_CLOCK_SLEW_MAX: durations read
 * while it applies are off by at most that share); a mapping that fell behind
 * by more steps forward onto mono_ns, never back. */
#define BP_CLOCK_SLEW_MAX 0.01
void bp_clock_steer(uint64_t cur_mult, uint64_t cur_offset, uint64_t tsc, uint64_t mono_ns, uint64_t mult,
                    uint64_t horizon_ns, uint64_t *new_mult, uint64_t *new_offset) BP_HIDDEN;
/* Publish a scale (one writer at a time). */
void bp_clock_publish(uint64_t mult, uint64_t offset) BP_HIDDEN;

#endif
