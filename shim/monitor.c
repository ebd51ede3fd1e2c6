/* The shim's own thread: every interval it reads each thread's record
 * (sampling.c), has the controller decide on the interval's figures, acts,
 * and has every record written (report.c). It also recycles the slots of
 * threads that ended. It is invisible to Python (not created through
 * CPython) and runs with signals blocked. The exit's last tick is run from
 * finish.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "act.h"
#include "affinity.h"
#include "api.h"
#include "clock.h"
#include "controller.h"
#include "gil.h"
#include "gil_check.h"
#include "log.h"
#include "monitor.h"
#include "options.h"
#include "registry.h"
#include "real.h"
#include "report.h"
#include "sampling.h"
#include "threads.h"

/* Everything the monitor writes is guarded by this lock: the exit path and
 * the monitor's own ticks never interleave. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int mon_stop;
static struct bp_controller ctl;
static struct bp_run run;
static uint64_t last_tick_ns;

/* Stop throttling and following the GIL, and say why, once. */
static void give_up_gil(const char *why)
{
    bp_gil_forget();
    struct bp_decision d = bp_stand_down(&ctl, atomic_load(&bp_aff.cpu) >= 0);
    bp_act(&d, 0);
    bp_registry_release(); /* nothing more is decided: hold no CPU */
    bp_note("warning", why);
    /* Someone who asked for acting hears it; verbose runs see the note. */
    if (!bp_opt(OPT_VERBOSE) && bp_opt(OPT_MODE) == MODE_AUTO && bp_options[OPT_MODE].from_env)
        bp_warn("%s", why);
}

/* Decide on the interval's figures, act, count and log. With affinity, the
 * CPU registry is read first (and stays locked, when in use, until bp_act
 * has written this process's entry): which CPUs other processes hold is
 * the controller's input, like the loads. */
static struct bp_reg_view reg_view;

static void decide(uint64_t now, uint64_t span, const struct bp_tally *tl)
{
    struct bp_cpus cpus = {.pinned = atomic_load(&bp_aff.cpu) >= 0, .others = -1.0};
    struct bp_interval in = bp_interval_of(tl, span, &cpus);
    if (ctl.params.affinity) {
        bp_registry_begin(&reg_view);
        bp_affinity_view(now, &reg_view, &in);
    }
    struct bp_decision d = bp_decide(&ctl, &in);
    bp_act(&d, ctl.params.affinity);
    bp_report_decision(now, &d, &run);
}

/* One thread's record at this tick: its start, its sample, its exit. */
static void visit(struct bp_thread *t, int st, uint64_t now, struct bp_json *exit_json, struct bp_tally *tl)
{
    if (!t->start_logged) {
        t->start_logged = 1;
        run.threads_started++;
        run.python_threads += t->python;
        bp_report_thread("thread_start", t, NULL, now);
    }
    uint64_t end = st == SLOT_EXITED ? t->exit_ns : now;
    struct bp_times tm;
    bp_thread_read(t, end, &tm);
    uint64_t cpu = st == SLOT_EXITED ? t->exit_cpu_ns : bp_thread_cpu_ns(t->tid);
    /* Counters the owner bumps; the exit's store of state publishes them. */
    struct bp_sample s;
    bp_sample_take(&t->seen, &tm, end, cpu, atomic_load_explicit(&t->forced, memory_order_relaxed),
                   atomic_load_explicit(&t->favoured, memory_order_relaxed), &s);
    int counts = bp_sample_counts(t->python, &tm);
    if (counts) {
        bp_tally_add(tl, &s, bp_role_of(t));
        if (s.active && s.f.wall_ns)
            bp_report_sample(now, t->tid, &s);
    }
    struct bp_figures life;
    bp_sample_lifetime(t->start_ns, &tm, end, cpu, &life);
    if (st == SLOT_EXITED) {
        run.threads_exited++;
        bp_report_thread("thread_exit", t, counts ? &life : NULL, now);
        if (counts)
            bp_figures_add(&run.ended, &life);
        bp_thread_release(t);
        return;
    }
    if (counts) {
        tl->alive++;
        tl->waiting += tm.phase == PH_WAIT;
        bp_figures_add(&tl->lives, &life);
    }
    if (exit_json)
        bp_report_exit_thread(exit_json, t, counts ? &life : NULL);
}

/* One pass over the table. final: the process is exiting, and exit_json,
 * when there is a log, the exit record being written. */
static void tick(uint64_t now, int final, struct bp_json *exit_json, struct bp_figures *lives)
{
    struct bp_tally tl = {0};
    char why[300];
    if (bp_gil_verify(why, sizeof why))
        give_up_gil(why);
    bp_report_opening(now);
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        int st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == SLOT_LIVE || st == SLOT_EXITED)
            visit(t, st, now, final ? exit_json : NULL, &tl);
    }
    int acting = bp_opt(OPT_MODE) == MODE_AUTO;
    bp_report_process(now, &tl, acting, ctl.shut);
    run.forced += tl.forced;
    run.favoured += tl.favoured;
    run.takes += tl.takes;
    run.cond_waits += tl.cond_waits;
    run.held_ns += tl.proc.held_ns;
    run.wait_ns += tl.proc.wait_ns;
    /* Nothing is decided once the GIL is no longer followed. */
    if (acting && !final && atomic_load(&bp_gil.found))
        decide(now, now > last_tick_ns ? now - last_tick_ns : 0, &tl);
    last_tick_ns = now;
    bp_log_flush();
    run.ticks++;
    bp_metrics_publish(now, &tl, &run, &ctl);
    if (BP_UNLIKELY(bp_options[OPT_METRICS_DIR].value) && !final)
        bp_report_metrics_file(&tl, &run);
    if (lives)
        *lives = tl.lives;
}

/* The exit path (finish.c): stop the loop, hold its lock, run the last
 * tick with the exit record open. */
void bp_monitor_stop(void)
{
    atomic_store(&mon_stop, 1);
}

int bp_monitor_lock(int try_only)
{
    return try_only ? bp_real.mutex_trylock(&mon_lock) : bp_real.mutex_lock(&mon_lock);
}

void bp_monitor_unlock(void)
{
    bp_real.mutex_unlock(&mon_lock);
}

const struct bp_run *bp_monitor_last_tick(uint64_t now, struct bp_json *exit_json, struct bp_figures *lives)
{
    tick(now, 1, exit_json, lives);
    return &run;
}

static void *monitor_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "betapool");
    uint64_t interval = (uint64_t)bp_opt(OPT_INTERVAL_MS) * 1000000u;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    /* The CPUs' loads from now: the first decision knows which CPU others
     * keep busy (a process beside one confined with taskset -c 0 must not
     * pin onto cpu 0 for want of a first reading). */
    if (bp_opt(OPT_MODE) == MODE_AUTO && ctl.params.affinity)
        bp_affinity_view(bp_now_ns(), NULL, NULL);
    while (!atomic_load(&mon_stop)) {
        /* The first ticks come four times as often: a pool of one or two
         * seconds is pinned and gated 75 ms sooner. The figures are rates
         * and averages over the span, so a short span decides alike. */
        uint64_t ns = (uint64_t)next.tv_nsec + (run.ticks < BP_FIRST_TICKS ? interval / 4 : interval);
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        bp_clock_refine(interval);
        bp_real.mutex_lock(&mon_lock);
        if (!atomic_load(&mon_stop))
            tick(bp_now_ns(), 0, NULL, NULL);
        bp_real.mutex_unlock(&mon_lock);
        /* A program whose last thread ends with pthread_exit ends when its
         * thread count reaches zero: ours must not keep it alive. Returning
         * lets glibc end the process, as without us. */
        if (bp_threads_alone())
            break;
    }
    return NULL;
}

/* Runs once per process (and once in a fork child): monitor_ensure. */
static int monitor_start(void)
{
    struct bp_controller_params p = {
        .min = (int)bp_opt(OPT_MIN_WORKERS),
        .max = (int)bp_opt(OPT_MAX_WORKERS),
        .hysteresis = (int)bp_opt(OPT_HYSTERESIS),
        .alpha = bp_optf(OPT_EWMA_ALPHA),
        .danger = bp_optf(OPT_GIL_DANGER),
        .gate = bp_opt(OPT_GATE) == CHOICE_AUTO,
        .affinity = bp_opt(OPT_AFFINITY) == CHOICE_AUTO && bp_aff.usable,
    };
    if (bp_opt(OPT_AFFINITY) == CHOICE_AUTO && !bp_aff.usable)
        snprintf(p.no_affinity, sizeof p.no_affinity, "%s", bp_aff.why);
    bp_controller_init(&ctl, &p);
    last_tick_ns = bp_now_ns();
    return bp_real_own_thread(monitor_main, 256 * 1024);
}

/* The shim's thread starts with the process's first Python thread: a
 * single-threaded program stays single-threaded (CPython 3.12+ warns at
 * os.fork() in a process with more than one thread, and counts ours). */
static _Atomic int mon_started;

int bp_monitor_ensure(void)
{
    if (BP_LIKELY(atomic_load_explicit(&mon_started, memory_order_acquire)))
        return 0;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&mon_started, &expected, 1))
        return 0;
    if (monitor_start())
        bp_warn("cannot start betapool's thread: no samples, decisions or log until exit");
    return 1;
}

void bp_monitor_after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&mon_lock, &fresh, sizeof fresh);
    atomic_store(&mon_started, 0);
    atomic_store(&mon_stop, 0);
    bp_registry_after_fork_child();
    uint64_t ticks = run.ticks; /* kept: a child's first ticks come at the full interval */
    memset(&run, 0, sizeof run);
    run.ticks = ticks;
}
