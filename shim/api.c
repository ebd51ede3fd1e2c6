/* The public API (include/betapool.h). */
#include <string.h>

#include "../include/betapool.h"
#include "bp.h"

#define API __attribute__((visibility("default")))

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
        .gate_shut = atomic_load(&bp_gate.enabled) ? 1 : 0,
        .gate = (int32_t)bp_opt(OPT_GATE),
        .priority = (int32_t)bp_opt(OPT_PRIORITY),
        .gate_shuts = p.decisions[ACTION_SHUT],
        .gate_opens = p.decisions[ACTION_OPEN],
        .forced_switches = p.forced,
        .favoured_waits = p.favoured,
        .gil_held_ns = p.gil_held_ns,
        .gil_wait_ns = p.gil_wait_ns,
        .sampled_unix_ns = p.ticks ? unix_ns_at(p.tick_ns) : 0,
    };
    memcpy(out, &m, m.size);
    return (int)m.size;
}
