/* The shim's own thread: every interval it reads each thread's record
 * (sampling.c), has the controller decide on the interval's figures, acts,
 * and has every record written (report.c). It also recycles the slots of
 * threads that ended. It is invisible to Python (not created through
 * CPython) and runs with signals blocked. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "affinity.h"
#include "clock.h"
#include "controller.h"
#include "gate.h"
#include "gil.h"
#include "log.h"
#include "monitor.h"
#include "options.h"
#include "python.h"
#include "real.h"
#include "report.h"
#include "sampling.h"
#include "threads.h"

/* Everything the monitor writes is guarded by this lock: the exit path and
 * the monitor's own ticks never interleave. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int mon_stop;
static _Atomic int restart_in_child; /* set in a fork child that may log */
static int start_written;
static int gil_note_written;
static int layout_confirmed;
static struct bp_controller ctl;
static struct bp_run run;
static uint64_t last_tick_ns;

/* Stop throttling and following the GIL, and say why, once. */
static void give_up_gil(const char *why)
{
    bp_gil_forget();
    ctl.shut = 0;
    bp_gate_open();
    if (atomic_load(&bp_aff.cpu) >= 0)
        bp_affinity_unpin();
    bp_note("warning", why);
    /* Someone who asked for acting hears it; verbose runs see the note. */
    if (!bp_opt(OPT_VERBOSE) && bp_opt(OPT_MODE) == MODE_AUTO && bp_options[OPT_MODE].from_env)
        bp_warn("%s", why);
}

/* The first tick after the GIL is found: confirm its layout where CPython
 * publishes it (3.13+), and notice a free-threaded build. */
static void confirm_layout(void)
{
    if (layout_confirmed)
        return;
    void *cond = atomic_load(&bp_gil.cond);
    int free_threaded = 0;
    char why[200] = "";
    int ok = bp_python_cross_check(cond, &free_threaded, why, sizeof why);
    if (free_threaded) {
        atomic_store(&bp_gil.disabled, 1);
        layout_confirmed = 1;
        if (cond)
            give_up_gil("free-threaded CPython without a GIL: betapool observes thread starts only");
        else
            bp_note("info", "free-threaded CPython without a GIL: betapool observes thread starts only");
        return;
    }
    if (!cond)
        return;
    layout_confirmed = 1;
    if (ok == 2)
        bp_note("info", "the GIL's place agrees with CPython's own debug offsets");
    if (!ok) {
        char msg[300];
        snprintf(msg, sizeof msg, "the GIL's layout is not the one betapool knows (%s): it follows and throttles nothing", why);
        give_up_gil(msg);
    }
}

/* What is known of the GIL, said once: in the start record and the notes. */
static void check_gil(uint64_t now)
{
    confirm_layout();
    if (atomic_load(&bp_gil.layout_failed)) {
        atomic_store(&bp_gil.layout_failed, 0);
        give_up_gil("the GIL did not behave as the layout betapool knows (its lock flag was clear after a "
                    "take): betapool follows and throttles nothing");
    }
    if (!start_written) {
        bp_report_start(now);
        start_written = 1;
        gil_note_written = atomic_load(&bp_gil.found);
        if (!gil_note_written) {
            bp_note("warning", "the GIL was not found (an unknown CPython?): betapool observes thread "
                               "starts only and throttles nothing");
            gil_note_written = 1;
        }
    }
    if (!gil_note_written && atomic_load(&bp_gil.found)) {
        bp_note("info", "the GIL was found after the start record");
        gil_note_written = 1;
    }
    bp_report_notes(now);
}

/* The one place that acts on a decision. */
static void apply(const struct bp_decision *d, int least_cpu)
{
    atomic_store(&bp_gate.k, d->k_after);
    if (d->shut_after && !d->shut_before)
        bp_gate_configure(1, d->k_after);
    else if (!d->shut_after && d->shut_before)
        bp_gate_open(); /* wakes every parked thread */
    if (d->pin == ACTION_PIN) {
        if (least_cpu < 0) {
            for (least_cpu = CPU_SETSIZE - 1; least_cpu > 0 && !CPU_ISSET(least_cpu, &bp_aff.allowed); least_cpu--)
                ;
        }
        bp_affinity_pin(least_cpu, d->shut_after);
    } else if (d->pin == ACTION_UNPIN) {
        bp_affinity_unpin();
    } else if (atomic_load(&bp_aff.cpu) >= 0) {
        bp_affinity_follow(d->shut_after);
    }
}

/* Decide on the interval's figures, act, count and log. */
static void decide(uint64_t now, uint64_t span, const struct bp_tally *tl)
{
    double here = -1.0, least_others = -1.0;
    int least = -1;
    if (ctl.params.affinity)
        bp_affinity_loads(now, &here, &least, &least_others);
    int cpu = atomic_load(&bp_aff.cpu);
    struct bp_interval in = bp_interval_of(tl, span, cpu >= 0, cpu >= 0 ? here : least_others);
    struct bp_decision d = bp_decide(&ctl, &in);
    apply(&d, least);
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
    }
    if (exit_json)
        bp_report_exit_thread(exit_json, t, counts ? &life : NULL);
}

/* One pass over the table. final: the process is exiting, and exit_json,
 * when there is a log, the exit record being written. */
static void tick(uint64_t now, int final, struct bp_json *exit_json)
{
    struct bp_tally tl = {0};
    check_gil(now);
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
    /* Nothing is decided once the GIL is no longer followed. */
    if (acting && !final && atomic_load(&bp_gil.found))
        decide(now, now > last_tick_ns ? now - last_tick_ns : 0, &tl);
    last_tick_ns = now;
    bp_log_flush();
    run.ticks++;
    bp_metrics_publish(&tl, &run, &ctl);
}

/* The figures of the threads alive now, over their lives. */
static void alive_totals(struct bp_figures *sum, uint64_t now)
{
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        if (atomic_load_explicit(&t->state, memory_order_acquire) != SLOT_LIVE)
            continue;
        struct bp_times tm;
        bp_thread_read(t, now, &tm);
        if (!bp_sample_counts(t->python, &tm))
            continue;
        struct bp_figures life;
        bp_sample_lifetime(t->start_ns, &tm, now, bp_thread_cpu_ns(t->tid), &life);
        bp_figures_add(sum, &life);
    }
}

void bp_monitor_stop_and_finish(void)
{
    atomic_store(&mon_stop, 1);
    /* The gate is not opened: parks are bounded, and waking parked daemon
     * threads while CPython tears itself down only lets them run into a
     * finalized interpreter (CPython 3.10 can crash there). */
    atomic_store(&bp_gate.enabled, 0);
    if (!bp_log_enabled() && !bp_opt(OPT_STATS))
        return;
    bp_real.mutex_lock(&mon_lock);
    uint64_t now = bp_now_ns();
    /* The exit record lists the threads alive now; tick() fills it. */
    struct bp_json *ej = bp_log_enabled() ? bp_report_exit_begin(now) : NULL;
    tick(now, 1, ej);
    struct bp_figures tot = run.ended;
    alive_totals(&tot, now);
    if (ej) {
        bp_report_exit_end(ej, now, &run, &tot);
        bp_log_close();
    }
    if (bp_opt(OPT_STATS))
        bp_report_stats(now, &run, &tot);
    bp_real.mutex_unlock(&mon_lock);
}

static void *monitor_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "betapool");
    uint64_t interval = (uint64_t)bp_opt(OPT_INTERVAL_MS) * 1000000u;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
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
            tick(bp_now_ns(), 0, NULL);
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
    bp_controller_init(&ctl, &p);
    last_tick_ns = bp_now_ns();
    sigset_t all, old;
    pthread_t th;
    pthread_attr_t attr;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = bp_real.pthread_create(&th, &attr, monitor_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}

/* The shim's thread starts with the process's first Python thread: a
 * single-threaded program stays single-threaded (CPython 3.12+ warns at
 * os.fork() in a process with more than one thread, and counts ours). */
static _Atomic int mon_started;

void bp_monitor_ensure(void)
{
    if (BP_LIKELY(atomic_load_explicit(&mon_started, memory_order_acquire)))
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&mon_started, &expected, 1))
        return;
    if (monitor_start())
        bp_warn("cannot start betapool's thread: no samples, decisions or log until exit");
}

/* In a fork child: the parent's monitor thread is gone and its log is the
 * parent's. A child whose log path names its pid (%p) gets a log of its own
 * when it first starts a thread (and with it a monitor); any other child
 * writes nothing. Called from pthread_create. */
void bp_monitor_reopen_in_child(void)
{
    if (BP_LIKELY(!atomic_load_explicit(&restart_in_child, memory_order_relaxed)))
        return;
    atomic_store(&restart_in_child, 0);
    char used[600], err[700];
    if (bp_log_open(bp_options[OPT_LOG].path, used, sizeof used, err, sizeof err) == 0)
        start_written = 0;
}

void bp_monitor_after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&mon_lock, &fresh, sizeof fresh);
    atomic_store(&mon_started, 0);
    atomic_store(&mon_stop, 0);
    uint64_t ticks = run.ticks; /* kept: a child's first ticks come at the full interval */
    memset(&run, 0, sizeof run);
    run.ticks = ticks;
    atomic_store(&restart_in_child, bp_options[OPT_LOG].value && strstr(bp_options[OPT_LOG].path, "%p"));
}
