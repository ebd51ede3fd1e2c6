/* The controller: a pure function from what the monitor measured in one
 * interval to K, the number of worker threads admitted to the GIL.
 *
 * With demand (threads parked or waiting for the GIL, half a thread or more
 * on average over the interval): scale up only while
 * the smoothed beta_io is above the danger line - the workers spend their
 * time outside the GIL, so more of them can run - otherwise hold: the GIL
 * Safety Veto, more threads would only contend. Without demand: scale down.
 * K doubles (up to the maximum) or falls by one, and only after `hysteresis`
 * consecutive intervals agree. */
#include <stdio.h>

#include "bp.h"

const char *bp_action_name(enum bp_action a)
{
    static const char *const names[] = {"hold", "scale_up", "scale_down", "veto", "pin", "unpin"};
    return a < ACTION_COUNT ? names[a] : "hold";
}

void bp_controller_init(struct bp_controller *c, const struct bp_controller_params *p)
{
    c->params = *p;
    c->k = p->min;
    c->smoothed = 0.0;
    c->have_smoothed = 0;
    c->streak = 0;
    c->streak_dir = 0;
}

struct bp_decision bp_controller_step(struct bp_controller *c, double beta_io, double demand)
{
    const struct bp_controller_params *p = &c->params;
    struct bp_decision d = {.action = ACTION_HOLD, .k_before = c->k, .demand = demand};
    c->smoothed = c->have_smoothed ? p->alpha * beta_io + (1.0 - p->alpha) * c->smoothed : beta_io;
    c->have_smoothed = 1;
    d.beta_io = c->smoothed;

    int dir;
    if (demand >= BP_DEMAND_MIN && c->smoothed > p->danger)
        dir = +1;
    else if (demand >= BP_DEMAND_MIN)
        dir = 0; /* the veto */
    else
        dir = -1;

    if (dir == 0) {
        c->streak = 0;
        c->streak_dir = 0;
        d.action = ACTION_VETO;
        snprintf(d.reason, sizeof d.reason,
                 "veto: beta_io %.2f <= %.2f with %.1f threads waiting; more would only contend for the GIL",
                 c->smoothed, p->danger, demand);
    } else {
        c->streak = c->streak_dir == dir ? c->streak + 1 : 1;
        c->streak_dir = dir;
        /* Up by doubling (a pool of thousands must not wait a dozen
         * intervals for its first few slots), down one at a time. */
        int target = dir < 0 ? c->k - 1 : c->k >= p->max ? c->k + 1 : c->k * 2 < p->max ? c->k * 2 : p->max;
        if (target < p->min || target > p->max) {
            snprintf(d.reason, sizeof d.reason, "%s", dir > 0 ? "at max_workers" : "at min_workers");
        } else if (c->streak < p->hysteresis) {
            snprintf(d.reason, sizeof d.reason, "%s signal %d of %d", dir > 0 ? "scale-up" : "scale-down",
                     c->streak, p->hysteresis);
        } else {
            c->k = target;
            c->streak = 0;
            d.action = dir > 0 ? ACTION_SCALE_UP : ACTION_SCALE_DOWN;
            if (dir > 0)
                snprintf(d.reason, sizeof d.reason, "beta_io %.2f > %.2f with %.1f threads waiting",
                         c->smoothed, p->danger, demand);
            else
                snprintf(d.reason, sizeof d.reason, "no thread waiting for %d intervals", p->hysteresis);
        }
    }
    d.k_after = c->k;
    return d;
}

/* GIL affinity. Python threads that hand one GIL to each other run one at a
 * time whatever the CPUs: on one CPU the hand-over is a switch on the same
 * core, not a wake-up across cores. They belong together while
 *   - threads are waiting for the GIL, half a thread or more on average
 *     over the interval (otherwise there is nothing to gain),
 *   - their CPU time is spent holding it (native code that releases the GIL
 *     and computes, hashlib or numpy, needs the other CPUs), and
 *   - the CPU is not busy with other processes.
 * Sleeps and I/O do not count against a pin: they need no CPU. Either change
 * waits for `hysteresis` consecutive intervals; leaving a contested CPU
 * holds off the next pin for BP_PIN_BACKOFF intervals. */
void bp_affinity_rule_init(struct bp_affinity_rule *r, int hysteresis, double alpha)
{
    *r = (struct bp_affinity_rule){.hysteresis = hysteresis, .alpha = alpha};
}

enum bp_action bp_affinity_step(struct bp_affinity_rule *r, const struct bp_affinity_in *in, char *reason,
                                size_t n)
{
    /* The share outside the GIL means something only for a busy process. */
    if (in->cpu_ns * 20 >= in->interval_ns && in->cpu_ns > 0) {
        uint64_t outside = in->cpu_ns > in->held_ns ? in->cpu_ns - in->held_ns : 0;
        double share = (double)outside / (double)in->cpu_ns;
        r->native = r->have_native ? r->alpha * share + (1.0 - r->alpha) * r->native : share;
        r->have_native = 1;
    }
    const char *why = NULL; /* what argues against sharing one CPU */
    char buf[160];
    if (in->others > BP_OTHERS_MAX) {
        snprintf(buf, sizeof buf, "%s: other processes took %.0f%% of it", in->pinned ? "cpu contested" : "every cpu busy",
                 in->others * 100.0);
        why = buf;
    } else if (in->waiting < BP_DEMAND_MIN) {
        snprintf(buf, sizeof buf, "the GIL is not contended: %.2f threads waiting for it on average", in->waiting);
        why = buf;
    } else if (!r->have_native || r->native > BP_NATIVE_SHARE_MAX) {
        snprintf(buf, sizeof buf, "%.0f%% of the Python threads' cpu time is outside the GIL (parallel native code)",
                 r->native * 100.0);
        why = buf;
    }
    int wants_change = in->pinned ? why != NULL : why == NULL;
    if (!in->pinned && r->backoff > 0) {
        r->backoff--;
        wants_change = 0;
    }
    r->streak = wants_change ? r->streak + 1 : 0;
    if (r->streak < r->hysteresis) {
        snprintf(reason, n, "%s", why ? why : "");
        return ACTION_HOLD;
    }
    r->streak = 0;
    if (in->pinned) {
        if (in->others > BP_OTHERS_MAX)
            r->backoff = BP_PIN_BACKOFF;
        snprintf(reason, n, "%s", why);
        return ACTION_UNPIN;
    }
    snprintf(reason, n, "%.1f threads waiting for the GIL on average, %.0f%% of cpu time outside it: one cpu "
             "serves them", in->waiting, r->native * 100.0);
    return ACTION_PIN;
}
