/* The controller: a pure function from what the monitor measured in one
 * interval to K, the number of worker threads admitted to the GIL.
 *
 * With demand (threads parked or waiting for the GIL): scale up only while
 * the smoothed beta_io is above the danger line - the workers spend their
 * time outside the GIL, so more of them can run - otherwise hold: the GIL
 * Safety Veto, more threads would only contend. Without demand: scale down.
 * K moves one step, and only after `hysteresis` consecutive intervals agree. */
#include <stdio.h>

#include "bp.h"

const char *bp_action_name(enum bp_action a)
{
    static const char *const names[] = {"hold", "scale_up", "scale_down", "veto"};
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
    if (demand > 0.0 && c->smoothed > p->danger)
        dir = +1;
    else if (demand > 0.0)
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
        int target = c->k + dir;
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
