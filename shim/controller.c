/* The controller: one pure function from what the monitor measured in one
 * interval to three decisions, each with its reason. The monitor applies
 * them in one place.
 *
 * The gate: shut while parking pays. Workers that compute under the GIL
 * keep it until a waiter's timeout makes them let go (a forced switch):
 * every waiter wakes each switch interval for nothing, and every thread
 * that needs the GIL briefly queues behind them. Forced switches at
 * BP_FORCED_PER_S or more, with workers waiting (or the main thread kept
 * waiting), shut the gate at once; `hysteresis` calm intervals open it.
 * Workers that give the GIL back on their own (a short loop, then I/O)
 * keep the gate open: there parking only adds a wait of its own. Even shut,
 * the gate parks only computing threads (bp_gate_applies).
 *
 * K: the GIL Safety Veto. With demand and the smoothed beta_io at or below
 * the danger line, more threads only contend: K halves towards min_workers
 * at each such interval (the threads exist already; K grown during an I/O
 * phase must not stay). Above the line, with demand, K doubles after
 * `hysteresis` agreeing intervals; without demand it falls by one.
 *
 * GIL affinity: Python threads that hand one GIL to each other run one at a
 * time whatever the CPUs; on one CPU the hand-over is a switch on the same
 * core, not a wake-up across cores. They belong together while threads wait
 * for the GIL, their CPU time is spent holding it (native code that
 * releases it, hashlib or numpy, needs the other CPUs) and the CPU is not
 * busy with other processes. Sleeps and I/O need no CPU and do not count
 * against a pin. A pin is taken on the first interval that asks for it (a
 * short pool gets most of it); leaving one waits for `hysteresis`
 * intervals, and leaving a contested CPU holds off the next pin for
 * BP_PIN_BACKOFF intervals. */
#include <stdio.h>

#include "controller.h"

#define BP_NAME_ITEM(id, name) name,
static const char *const action_names[] = {BP_ACTIONS(BP_NAME_ITEM)};
static const char *const pin_action_names[] = {BP_PIN_ACTIONS(BP_NAME_ITEM)};
static const char *const signal_names[] = {BP_SIGNALS(BP_NAME_ITEM)};
static const char *const gate_state_names[] = {BP_GATE_STATES(BP_NAME_ITEM)};
static const char *const waiter_class_names[] = {BP_WAITER_CLASSES(BP_NAME_ITEM)};

const char *bp_action_name(enum bp_action a)
{
    return (unsigned)a < ACTION_COUNT ? action_names[a] : action_names[ACTION_HOLD];
}

const char *bp_pin_action_name(enum bp_pin_action a)
{
    return (unsigned)a < PIN_ACTION_COUNT ? pin_action_names[a] : pin_action_names[PIN_STAY];
}

const char *bp_signal_name(enum bp_signal s)
{
    return (unsigned)s < SIGNAL_COUNT ? signal_names[s] : signal_names[SIGNAL_NONE];
}

const char *bp_gate_state_name(int shut)
{
    return gate_state_names[shut ? GATE_SHUT : GATE_OPEN];
}

const char *bp_waiter_class_name(enum bp_waiter_class c)
{
    return (unsigned)c < WAITER_CLASS_COUNT ? waiter_class_names[c] : waiter_class_names[WAITER_COMPUTING];
}

enum bp_action bp_pin_counted(enum bp_pin_action a)
{
    return a == PIN_PIN ? ACTION_PIN : a == PIN_UNPIN ? ACTION_UNPIN : ACTION_HOLD;
}

void bp_controller_init(struct bp_controller *c, const struct bp_controller_params *p)
{
    *c = (struct bp_controller){.params = *p, .k = p->min};
}

static void decide_k(struct bp_controller *c, const struct bp_interval *in, struct bp_decision *d)
{
    const struct bp_controller_params *p = &c->params;
    int dir;
    if (in->demand >= BP_DEMAND_MIN && c->smoothed > p->danger)
        dir = +1;
    else if (in->demand >= BP_DEMAND_MIN)
        dir = 0; /* the veto */
    else
        dir = -1;

    if (dir == 0) {
        c->streak = 0;
        c->streak_dir = 0;
        d->action = ACTION_VETO;
        int target = c->k / 2 > p->min ? c->k / 2 : p->min;
        snprintf(d->reason, sizeof d->reason,
                 "veto: beta_io %.2f <= %.2f with %.1f threads waiting; more would only contend for the GIL%s",
                 c->smoothed, p->danger, in->demand, target < c->k ? ", K falls" : "");
        c->k = target;
        return;
    }
    c->streak = c->streak_dir == dir ? c->streak + 1 : 1;
    c->streak_dir = dir;
    /* Up by doubling (a pool of thousands must not wait a dozen intervals
     * for its first few slots), down one at a time. */
    int target = dir < 0 ? c->k - 1 : c->k * 2 < p->max ? c->k * 2 : p->max;
    if (target < p->min || target == c->k) {
        snprintf(d->reason, sizeof d->reason, "%s", dir > 0 ? "at max_workers" : "at min_workers");
    } else if (c->streak < p->hysteresis) {
        snprintf(d->reason, sizeof d->reason, "%s signal %d of %d", dir > 0 ? "scale-up" : "scale-down",
                 c->streak, p->hysteresis);
    } else {
        c->k = target;
        c->streak = 0;
        d->action = dir > 0 ? ACTION_SCALE_UP : ACTION_SCALE_DOWN;
        if (dir > 0)
            snprintf(d->reason, sizeof d->reason, "beta_io %.2f > %.2f with %.1f threads waiting", c->smoothed,
                     p->danger, in->demand);
        else
            snprintf(d->reason, sizeof d->reason, "no thread waiting for %d intervals", p->hysteresis);
    }
}

static void decide_gate(struct bp_controller *c, const struct bp_interval *in, struct bp_decision *d)
{
    double forced = in->span_ns ? (double)in->forced * 1e9 / (double)in->span_ns : 0.0;
    d->forced_per_s = forced;
    d->rewaits = in->takes ? (double)in->cond_waits / (double)in->takes : 0.0;
    d->signal = SIGNAL_NONE;
    if (!c->params.gate) {
        c->shut = 0;
        snprintf(d->gate_reason, sizeof d->gate_reason, "the gate is off (BETAPOOL_GATE=off)");
        return;
    }
    if (forced >= BP_FORCED_PER_S && in->demand >= BP_DEMAND_MIN)
        d->signal = SIGNAL_FORCED_SWITCHES;
    else if (forced >= BP_FORCED_PER_S && in->main_waiting >= BP_MAIN_WAITING_MIN)
        d->signal = SIGNAL_MAIN_WAITING;

    if (d->signal == SIGNAL_FORCED_SWITCHES) {
        snprintf(d->gate_reason, sizeof d->gate_reason,
                 "%.0f forced GIL switches/s among workers with %.1f waiting: they compute until made to let go",
                 forced, in->demand);
    } else if (d->signal == SIGNAL_MAIN_WAITING) {
        snprintf(d->gate_reason, sizeof d->gate_reason,
                 "the main thread waited for the GIL %.0f%% of the time behind workers forced off it %.0f times/s",
                 in->main_waiting * 100.0, forced);
    } else if (forced < BP_FORCED_PER_S) {
        snprintf(d->gate_reason, sizeof d->gate_reason,
                 "workers give the GIL back on their own (%.0f forced switches/s): parking would only add waits",
                 forced);
    } else {
        snprintf(d->gate_reason, sizeof d->gate_reason, "nobody waits for the GIL (%.2f workers on average)",
                 in->demand);
    }
    if (d->signal != SIGNAL_NONE) {
        c->shut = 1;
        c->calm = 0;
    } else if (c->shut && ++c->calm >= c->params.hysteresis) {
        c->shut = 0;
        c->calm = 0;
    }
}

/* Unpinned: the free CPU (held by no other process) that others keep least
 * busy, the last one among equals (all of them when the loads are
 * unknown); -1 if every CPU is held. */
static int free_cpu(const struct bp_interval *in)
{
    int best = -1;
    for (int i = 0; i < in->ncpus && i < BP_VIEW_CPUS; i++)
        if (!in->cpus[i].holder && (best < 0 || in->cpus[i].others <= in->cpus[best].others))
            best = i;
    return best;
}

/* "cpu 0 held by pid 1234, cpu 2 by pid 99" (the first four). */
static void holders(const struct bp_interval *in, char *buf, size_t n)
{
    size_t len = 0;
    int shown = 0;
    buf[0] = 0;
    for (int i = 0; i < in->ncpus && i < BP_VIEW_CPUS && len < n; i++) {
        if (!in->cpus[i].holder)
            continue;
        if (shown == 4) {
            snprintf(buf + len, n - len, ", ...");
            return;
        }
        int w = snprintf(buf + len, n - len, "%scpu %d %sby pid %d", shown ? ", " : "", in->cpus[i].cpu,
                         shown ? "" : "held ", in->cpus[i].holder);
        if (w < 0)
            return;
        len += (size_t)w;
        shown++;
    }
}

static void decide_pin(struct bp_controller *c, const struct bp_interval *in, struct bp_decision *d)
{
    /* The share outside the GIL means something only for a busy process. */
    if (in->cpu_ns * 20 >= in->span_ns && in->cpu_ns > 0) {
        uint64_t outside = in->cpu_ns > in->held_ns ? in->cpu_ns - in->held_ns : 0;
        double share = (double)outside / (double)in->cpu_ns;
        double a = c->params.alpha;
        c->native = c->have_native ? a * share + (1.0 - a) * c->native : share;
        c->have_native = 1;
    }
    d->native = c->native;
    d->waiting = in->waiting;
    d->pin = PIN_STAY;
    d->pin_cpu = -1;
    if (!c->params.affinity) {
        snprintf(d->pin_reason, sizeof d->pin_reason, "%s",
                 c->params.no_affinity[0] ? c->params.no_affinity : "affinity is off (BETAPOOL_AFFINITY=off)");
        return;
    }
    const char *why = NULL; /* what argues against sharing one CPU */
    char *buf = d->pin_reason;
    size_t n = sizeof d->pin_reason;
    char held[100];
    holders(in, held, sizeof held);
    int pick = in->pinned ? -1 : free_cpu(in);
    if (in->pinned && in->others > BP_OTHERS_MAX) {
        snprintf(buf, n, "cpu contested: other processes took %.0f%% of it", in->others * 100.0);
        why = buf;
    } else if (in->waiting < BP_DEMAND_MIN) {
        snprintf(buf, n, "the GIL is not contended: %.2f threads waiting for it on average", in->waiting);
        why = buf;
    } else if (!c->have_native || c->native > BP_NATIVE_SHARE_MAX) {
        snprintf(buf, n, "%.0f%% of the Python threads' cpu time is outside the GIL (parallel native code)",
                 c->native * 100.0);
        why = buf;
    } else if (!in->pinned && in->coord == 2) {
        snprintf(buf, n, "the cpu registry was busy: deciding at the next interval");
        why = buf;
    } else if (!in->pinned && pick < 0) {
        /* More GIL-bound processes than CPUs: two GILs on one CPU lose,
         * and the threads of one that holds none still run everywhere. */
        snprintf(buf, n, "every usable cpu is held (%s): two processes' GILs on one cpu would lose", held);
        why = buf;
    } else if (!in->pinned && in->cpus[pick].others > BP_OTHERS_MAX) {
        snprintf(buf, n, "every %scpu busy: other processes took %.0f%% of the least busy, cpu %d",
                 held[0] ? "free " : "", in->cpus[pick].others * 100.0, in->cpus[pick].cpu);
        why = buf;
    }
    int wants_change = in->pinned ? why != NULL : why == NULL;
    if (!in->pinned && c->backoff > 0) {
        c->backoff--;
        wants_change = 0;
    }
    c->pin_streak = wants_change ? c->pin_streak + 1 : 0;
    if (c->pin_streak < (in->pinned ? c->params.hysteresis : 1)) {
        if (!why)
            snprintf(buf, n, "%s", in->pinned ? "the Python threads share one cpu" : "");
        return;
    }
    c->pin_streak = 0;
    if (in->pinned) {
        if (in->others > BP_OTHERS_MAX)
            c->backoff = BP_PIN_BACKOFF;
        d->pin = PIN_UNPIN;
        return;
    }
    d->pin = PIN_PIN;
    d->pin_cpu = in->cpus[pick].cpu;
    snprintf(buf, n, "claimed cpu %d%s%s%s: %.1f threads waiting for the GIL, %.0f%% of cpu time outside it",
             d->pin_cpu, held[0] ? "; " : "", held, in->coord == 1 ? "" : " (no registry: least busy)",
             in->waiting, c->native * 100.0);
}

struct bp_decision bp_decide(struct bp_controller *c, const struct bp_interval *in)
{
    const struct bp_controller_params *p = &c->params;
    struct bp_decision d = {.action = ACTION_HOLD, .k_before = c->k, .demand = in->demand, .shut_before = c->shut,
                            .pin = PIN_STAY, .pin_cpu = -1};
    c->smoothed = c->have_smoothed ? p->alpha * in->beta_io + (1.0 - p->alpha) * c->smoothed : in->beta_io;
    c->have_smoothed = 1;
    d.beta_io = c->smoothed;
    decide_k(c, in, &d);
    decide_gate(c, in, &d);
    decide_pin(c, in, &d);
    d.k_after = c->k;
    d.shut_after = c->shut;
    return d;
}

struct bp_decision bp_stand_down(struct bp_controller *c, int pinned)
{
    struct bp_decision d = {.action = ACTION_HOLD, .k_before = c->k, .k_after = c->k, .shut_before = c->shut,
                            .pin = pinned ? PIN_UNPIN : PIN_STAY, .pin_cpu = -1};
    c->shut = 0;
    snprintf(d.reason, sizeof d.reason, "the GIL is no longer followed");
    return d;
}
