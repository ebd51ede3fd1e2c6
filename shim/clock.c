/* betapool's clock: the TSC where the kernel vouches for it, converted to
 * nanoseconds by a scale calibrated against CLOCK_MONOTONIC; CLOCK_MONOTONIC
 * everywhere else. See clock.h for the reader (bp_now_ns) and the latch.
 *
 * Calibration: at start, two (TSC, CLOCK_MONOTONIC) pairs some tens of
 * microseconds apart give the first rate; every interval the shim's thread
 * measures the rate again over the whole run since start (ever more exact)
 * and steers the mapping so that its distance to CLOCK_MONOTONIC is gone by
 * the next interval, continuously: the mapping never jumps, and never goes
 * back. A single-threaded program (no shim thread) keeps the first scale:
 * its durations are off by the first rate's error (~1e-3), the same for
 * every phase, so shares and beta_io do not move. */
#include <stdio.h>
#include <string.h>

#include "clock.h"

struct bp_clock bp_clock = {.seq = BP_CLOCK_MONO};

/* The writer's own state: only bp_clock_init and then the shim's thread. */
static uint64_t anchor_tsc, anchor_ns;  /* the first calibration pair */
static uint64_t checked_ns;             /* last look at the clocksource */

#define CALIBRATE_MIN_NS 50000u    /* first rate over at least 50 us ... */
#define CALIBRATE_WIDTHS 1000u     /* ... and 1000 times a pair's uncertainty */
#define CALIBRATE_MAX_NS 2000000u  /* ... but never more than 2 ms */
#define RECHECK_NS 1000000000u     /* look at the kernel's clocksource every second */

uint64_t bp_clock_mono_ns(void)
{
    return bp_mono_ns();
}

const char *bp_clock_name(void)
{
    return atomic_load_explicit(&bp_clock.seq, memory_order_relaxed) & BP_CLOCK_MONO ? "monotonic" : "tsc";
}

uint64_t bp_clock_mult(uint64_t tsc_delta, uint64_t ns_delta)
{
    /* A TSC between 50 MHz and 20 GHz, or the measurement is wrong. */
    if (tsc_delta == 0 || ns_delta == 0 || tsc_delta / 20 > ns_delta || ns_delta / 20 > tsc_delta)
        return 0;
    return (uint64_t)(((unsigned __int128)ns_delta << 32) / tsc_delta);
}

uint64_t bp_clock_offset_through(uint64_t mult, uint64_t tsc, uint64_t ns)
{
    return ns - bp_tsc_to_ns(mult, 0, tsc);
}

void bp_clock_steer(uint64_t cur_mult, uint64_t cur_offset, uint64_t tsc, uint64_t mono_ns, uint64_t mult,
                    uint64_t horizon_ns, uint64_t *new_mult, uint64_t *new_offset)
{
    uint64_t at = bp_tsc_to_ns(cur_mult, cur_offset, tsc);
    int64_t err = (int64_t)(at - mono_ns); /* > 0: ahead of CLOCK_MONOTONIC */
    /* An eighth of the error per horizon: a refinement that comes late
     * (a busy machine) must not overshoot into the other direction. */
    double corr = horizon_ns ? (double)err / (8.0 * (double)horizon_ns) : 0.0;
    if (corr < -BP_CLOCK_SLEW_MAX) {
        /* Far behind (the first rate was poor, or the machine slept the
         * process): catch up in one step forward. */
        *new_mult = mult;
        *new_offset = bp_clock_offset_through(mult, tsc, mono_ns);
        return;
    }
    if (corr > BP_CLOCK_SLEW_MAX)
        corr = BP_CLOCK_SLEW_MAX; /* far ahead: slow down, never step back */
    *new_mult = (uint64_t)((double)mult * (1.0 - corr));
    *new_offset = bp_clock_offset_through(*new_mult, tsc, at);
}

void bp_clock_publish(uint64_t mult, uint64_t offset)
{
    uint32_t s = atomic_load_explicit(&bp_clock.seq, memory_order_relaxed);
    struct bp_clock_scale *next = &bp_clock.scale[(s + 1) & 1];
    /* Readers use scale[s & 1]; the other copy is free to change. */
    atomic_store_explicit(&next->mult, mult, memory_order_relaxed);
    atomic_store_explicit(&next->offset, offset, memory_order_relaxed);
    atomic_store_explicit(&bp_clock.seq, (s + 1) & ~BP_CLOCK_MONO, memory_order_release);
}

static void fall_back(void)
{
    atomic_fetch_or_explicit(&bp_clock.seq, BP_CLOCK_MONO, memory_order_release);
}

/* A TSC reading and the CLOCK_MONOTONIC time it stands for: the middle of
 * the narrowest of a few brackets. */
static uint64_t read_pair(uint64_t *tsc, uint64_t *width)
{
    uint64_t best = UINT64_MAX, mid = 0;
    /* A preemption inside a bracket widens it: the narrowest of 16. */
    for (int i = 0; i < 16; i++) {
        uint64_t a = bp_mono_ns();
        uint64_t t = bp_rdtsc();
        uint64_t b = bp_mono_ns();
        if (b >= a && b - a < best) {
            best = b - a;
            mid = a + (b - a) / 2;
            *tsc = t;
        }
    }
    *width = best;
    return mid;
}

static int has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = line; (p = strstr(p, word)) != NULL; p += n)
        if ((p == line || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* The kernel says the TSC is invariant (constant rate, running in every
 * C-state) and keeps time with it (so it found it in step across CPUs). */
static int kernel_uses_tsc(void)
{
    char buf[64] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "tsc\n") == 0;
    fclose(f);
    return ok;
}

static int tsc_invariant(void)
{
    static char line[8192];
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    int ok = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) == 0) {
            ok = has_word(line, "constant_tsc") && has_word(line, "nonstop_tsc");
            break; /* the first CPU's flags say it */
        }
    }
    fclose(f);
    return ok;
}

void bp_clock_init(int allow_tsc)
{
    if (!BP_HAVE_TSC || !allow_tsc || !tsc_invariant() || !kernel_uses_tsc())
        return;
    uint64_t t0, w0, t1, w1;
    uint64_t n0 = read_pair(&t0, &w0), n1;
    for (;;) {
        n1 = read_pair(&t1, &w1);
        uint64_t span = n1 - n0, width = w0 > w1 ? w0 : w1;
        if (n1 < n0)
            return;
        if (span >= CALIBRATE_MAX_NS || (span >= CALIBRATE_MIN_NS && span >= CALIBRATE_WIDTHS * width))
            break;
    }
    uint64_t mult = bp_clock_mult(t1 - t0, n1 - n0);
    if (!mult || t1 <= t0)
        return; /* a TSC that does not behave: CLOCK_MONOTONIC */
    anchor_tsc = t0;
    anchor_ns = n0;
    checked_ns = n1;
    bp_clock_publish(mult, bp_clock_offset_through(mult, t1, n1));
}

void bp_clock_refine(uint64_t interval_ns)
{
    uint32_t s = atomic_load_explicit(&bp_clock.seq, memory_order_relaxed);
    if (s & BP_CLOCK_MONO)
        return;
    uint64_t tsc, width;
    uint64_t mono = read_pair(&tsc, &width);
    if (mono - checked_ns >= RECHECK_NS) {
        checked_ns = mono;
        if (!kernel_uses_tsc()) {
            fall_back(); /* the kernel gave the TSC up (found it unstable) */
            return;
        }
    }
    uint64_t mult = bp_clock_mult(tsc - anchor_tsc, mono - anchor_ns);
    if (!mult || tsc <= anchor_tsc) {
        fall_back();
        return;
    }
    const struct bp_clock_scale *cur = &bp_clock.scale[s & 1];
    uint64_t new_mult, new_offset;
    bp_clock_steer(atomic_load_explicit(&cur->mult, memory_order_relaxed),
                   atomic_load_explicit(&cur->offset, memory_order_relaxed), tsc, mono, mult, interval_ns,
                   &new_mult, &new_offset);
    bp_clock_publish(new_mult, new_offset);
}
