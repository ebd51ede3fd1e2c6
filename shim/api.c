/* The public API (include/betapool.h): the version, and the metrics the
 * monitor publishes at each tick. */
#include <string.h>
#include <time.h>

#include "../include/betapool.h"
#include "affinity.h"
#include "api.h"
#include "clock.h"
#include "controller.h"
#include "gate.h"
#include "gil.h"
#include "hooks.h"
#include "options.h"
#include "real.h"

#define API __attribute__((visibility("default")))

/* ---- the copy the monitor makes at each tick ---- */

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bp_published published = {.pinned_cpu = -1};

void bp_metrics_publish(uint64_t now, const struct bp_tally *tl, const struct bp_run *run,
                        const struct bp_controller *ctl)
{
    bp_real.mutex_lock(&metrics_lock);
    published.threads = tl->alive;
    published.gil_waiting = tl->waiting;
    published.beta = bp_beta(&tl->proc);
    published.beta_io = bp_beta_io(&tl->proc);
    published.beta_io_smoothed = ctl->have_smoothed ? ctl->smoothed : published.beta_io;
    published.gil_wait_share = bp_wait_share(&tl->proc);
    published.pinned_cpu = atomic_load(&bp_aff.cpu);
    published.threads_started = run->threads_started;
    published.threads_exited = run->threads_exited;
    memcpy(published.decisions, run->decisions, sizeof published.decisions);
    published.ticks = run->ticks;
    published.forced = run->forced;
    published.favoured = run->favoured;
    published.gil_held_ns = run->held_ns;
    published.gil_wait_ns = run->wait_ns;
    published.tick_ns = now;
    bp_real.mutex_unlock(&metrics_lock);
}

void bp_metrics_read(struct bp_published *out)
{
    bp_real.mutex_lock(&metrics_lock);
    *out = published;
    bp_real.mutex_unlock(&metrics_lock);
}

void bp_metrics_after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&metrics_lock, &fresh, sizeof fresh);
}

/* ---- the API ---- */

API const char *betapool_version(void)
{
    return BP_VERSION;
}

/* A time of betapool's clock as wall-clock time, ns since the epoch. */
static uint64_t unix_ns_at(uint64_t t_ns)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t now = bp_now_ns(), ago = now > t_ns ? now - t_ns : 0;
    uint64_t unix_now = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    return unix_now > ago ? unix_now - ago : 0;
}

API int betapool_get_metrics(struct betapool_metrics *out, size_t size)
{
    if (!out || !atomic_load(&bp_active))
        return -1;
    struct bp_published p;
    bp_metrics_read(&p);
    struct betapool_metrics m = {
        .size = (uint32_t)(size < sizeof m ? size : sizeof m),
        .mode = (int32_t)bp_opt(OPT_MODE),
        .gil_found = atomic_load(&bp_gil.found),
        .python_threads = p.threads,
        .k = atomic_load(&bp_gate.k),
        .min_workers = (int32_t)bp_opt(OPT_MIN_WORKERS),
        .max_workers = (int32_t)bp_opt(OPT_MAX_WORKERS),
        .parked = (uint32_t)atomic_load(&bp_gate.parked),
        .gil_waiting = p.gil_waiting,
        .beta = p.beta,
        .beta_io = p.beta_io,
        .beta_io_smoothed = p.beta_io_smoothed,
        .gil_wait_share = p.gil_wait_share,
        .scale_ups = p.decisions[ACTION_SCALE_UP],
        .scale_downs = p.decisions[ACTION_SCALE_DOWN],
        .vetoes = p.decisions[ACTION_VETO],
        .holds = p.decisions[ACTION_HOLD],
        .parks = atomic_load(&bp_gate.parks),
        .park_overruns = atomic_load(&bp_gate.overruns),
        .threads_started = p.threads_started,
        .threads_exited = p.threads_exited,
        .samples = p.ticks,
        .pinned_cpu = p.pinned_cpu,
        .affinity = (int32_t)bp_opt(OPT_AFFINITY),
        .pins = p.decisions[ACTION_PIN],
        .unpins = p.decisions[ACTION_UNPIN],
        .gate_shut = atomic_load(&bp_gate.shut) ? 1 : 0,
        .gate = (int32_t)bp_opt(OPT_GATE),
        .priority = (int32_t)bp_opt(OPT_PRIORITY),
        .gate_shuts = p.decisions[ACTION_GATE_SHUT],
        .gate_opens = p.decisions[ACTION_GATE_OPEN],
        .forced_switches = p.forced,
        .favoured_waits = p.favoured,
        .gil_held_ns = p.gil_held_ns,
        .gil_wait_ns = p.gil_wait_ns,
        .sampled_unix_ns = p.ticks ? unix_ns_at(p.tick_ns) : 0,
    };
    memcpy(out, &m, m.size);
    return (int)m.size;
}

API int betapool_thread_times(struct betapool_thread_times *out, size_t size)
{
    const struct bp_thread *t = bp_self;
    if (!out || !t || !atomic_load_explicit(&bp_active, memory_order_relaxed) ||
        !atomic_load_explicit(&bp_gil.found, memory_order_acquire))
        return -1;
    uint64_t now = bp_now_ns();
    struct bp_times times;
    bp_thread_read(t, now, &times);
    struct betapool_thread_times r = {
        .size = (uint32_t)(size < sizeof r ? size : sizeof r),
        .now_ns = now,
        .gil_held_ns = times.acc_ns[PH_HELD],
        .gil_wait_ns = times.acc_ns[PH_WAIT],
        .idle_ns = times.acc_ns[PH_IDLE],
        .parked_ns = times.acc_ns[PH_PARKED],
        .outside_ns = times.acc_ns[PH_OUTSIDE],
    };
    memcpy(out, &r, r.size);
    return (int)r.size;
}
