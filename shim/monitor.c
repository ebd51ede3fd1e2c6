/* The shim's own thread: every interval it reads each thread's record and
 * CPU clock, writes the samples and the process record, logs thread starts
 * and exits, and recycles the slots of threads that ended. It is invisible
 * to Python (not created through CPython) and runs with signals blocked. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bp.h"
#include "metrics_file.h"
#include "registry.h"

/* Everything the monitor writes is guarded by this lock: the exit path and
 * the monitor's own ticks never interleave. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int mon_stop;
static _Atomic int restart_in_child; /* set in a fork child that may log */
static _Atomic int owner_pid;        /* the process whose shim's thread or log this is */
static int start_written;
static int gil_note_written;
static uint64_t threads_started, threads_exited, python_threads;
static struct bp_figures run_totals; /* threads that ended */
static char line[1 << 14];
static struct bp_controller ctl;
static uint64_t decisions[ACTION_COUNT];
static char last_reason[160], last_pin_reason[160];
static int last_action = -1, last_signal = -1;
static uint64_t last_tick_ns;
static uint64_t forced_total, favoured_total; /* over the run, every thread */
static uint64_t held_total, wait_total;

/* What betapool_get_metrics() returns: a copy made at each tick. */
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bp_published published = {.pinned_cpu = -1};

/* ---- notes: queued by anyone, written by the monitor ---- */
#define NOTES 8
static struct {
    char level[8];
    char msg[240];
} notes[NOTES];
static unsigned notes_head, notes_tail;
static atomic_flag notes_lock = ATOMIC_FLAG_INIT;

void bp_note(const char *level, const char *msg)
{
    while (atomic_flag_test_and_set_explicit(&notes_lock, memory_order_acquire))
        sched_yield();
    if (notes_tail - notes_head < NOTES) {
        unsigned i = notes_tail++ % NOTES;
        snprintf(notes[i].level, sizeof notes[i].level, "%s", level);
        snprintf(notes[i].msg, sizeof notes[i].msg, "%s", msg);
    }
    atomic_flag_clear_explicit(&notes_lock, memory_order_release);
}

static uint64_t since_start(uint64_t now)
{
    return now > bp_t0_ns ? now - bp_t0_ns : 0;
}

static void emit(struct bp_json *j)
{
    bp_json_end(j);
    bp_log_write(j->buf, j->len);
}

static void write_notes(uint64_t now)
{
    for (;;) {
        char level[8], msg[240];
        while (atomic_flag_test_and_set_explicit(&notes_lock, memory_order_acquire))
            sched_yield();
        int have = notes_head != notes_tail;
        if (have) {
            unsigned i = notes_head++ % NOTES;
            memcpy(level, notes[i].level, sizeof level);
            memcpy(msg, notes[i].msg, sizeof msg);
        }
        atomic_flag_clear_explicit(&notes_lock, memory_order_release);
        if (!have)
            return;
        if (bp_opt(OPT_VERBOSE)) {
            char out[300];
            int n = snprintf(out, sizeof out, "betapool: %s: %s\n", level, msg);
            ssize_t w = write(2, out, n < (int)sizeof out ? (size_t)n : sizeof out - 1);
            (void)w;
        }
        struct bp_json j;
        bp_json_begin(&j, line, sizeof line, "note", since_start(now));
        bp_json_str(&j, "level", level);
        bp_json_str(&j, "message", msg);
        emit(&j);
    }
}

static const char *gil_state(void)
{
    if (atomic_load(&bp_gil.disabled))
        return "disabled";
    return atomic_load(&bp_gil.found) ? "found" : "not_found";
}

/* Stop throttling and following the GIL, and say why, once. */
static void give_up_gil(const char *why)
{
    bp_gil_forget();
    ctl.shut = 0;
    bp_gate_open();
    if (atomic_load(&bp_aff.cpu) >= 0)
        bp_affinity_unpin();
    bp_registry_release(); /* nothing more is decided: hold no CPU */
    bp_note("warning", why);
    /* Someone who asked for acting hears it; verbose runs see the note. */
    if (!bp_opt(OPT_VERBOSE) && bp_opt(OPT_MODE) == MODE_AUTO && bp_options[OPT_MODE].from_env)
        bp_warn("%s", why);
}

/* The first tick after the GIL is found: confirm its layout where CPython
 * publishes it (3.13+), and notice a free-threaded build. */
static int layout_confirmed;
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

static void write_start(uint64_t now)
{
    struct bp_json j;
    bp_python_read_version();
    bp_json_begin(&j, line, sizeof line, "start", since_start(now));
    bp_json_int(&j, "schema", BP_SCHEMA);
    bp_json_str(&j, "version", BP_VERSION);
    bp_json_int(&j, "pid", getpid());
    bp_json_str(&j, "python", bp_python.version);
    bp_json_str(&j, "gil", gil_state());
    bp_json_str(&j, "clock", bp_clock_name());
    bp_json_open(&j, "hooks", '[');
    bp_json_str(&j, NULL, "pthread_create");
    if (bp_python.hooked_start_new)
        bp_json_str(&j, NULL, "PyThread_start_new_thread");
    if (bp_python.hooked_start_joinable)
        bp_json_str(&j, NULL, "PyThread_start_joinable_thread");
    bp_json_close(&j, ']');
    bp_json_str(&j, "mode", bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)]);
    bp_json_open(&j, "options", '{');
    for (int i = 0; i < OPT_COUNT; i++) {
        char val[600];
        bp_option_format(&bp_options[i], val, sizeof val);
        bp_json_key(&j, bp_options[i].name);
        bp_json_raw(&j, val);
    }
    bp_json_close(&j, '}');
    emit(&j);
    start_written = 1;
    gil_note_written = atomic_load(&bp_gil.found);
}

static uint64_t thread_cpu_ns(pid_t tid)
{
    /* The kernel's CPU clock of a thread by its id: a dead thread gives an
     * error, never a crash (pthread_getcpuclockid on a freed handle could). */
    clockid_t id = (clockid_t)((~(unsigned)tid) << 3) | 6;
    struct timespec ts;
    if (clock_gettime(id, &ts))
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_thread_event(const char *event, const struct bp_thread *t, const struct bp_figures *f,
                               uint64_t now)
{
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, event, since_start(now));
    bp_json_int(&j, "tid", t->tid);
    bp_json_bool(&j, "python", t->python);
    bp_json_str(&j, "via", bp_via_name(t->via));
    if (f)
        bp_json_figures(&j, f);
    emit(&j);
}

static int measured(const struct bp_thread *t, const struct bp_times *tm)
{
    return t->python || tm->takes > 0;
}

static void lifetime(const struct bp_thread *t, const struct bp_times *tm, uint64_t end, uint64_t cpu,
                     struct bp_figures *f)
{
    bp_figures_from(f, end > t->start_ns ? end - t->start_ns : 0, cpu, tm->acc_ns);
}

/* One record carries the interval's three decisions: K, the gate, the CPU. */
static void write_decision(uint64_t now, const struct bp_decision *d)
{
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, "decision", since_start(now));
    bp_json_str(&j, "action", bp_action_name(d->action));
    bp_json_int(&j, "k_before", d->k_before);
    bp_json_int(&j, "k_after", d->k_after);
    bp_json_ratio(&j, "beta_io", d->beta_io);
    bp_json_fixed2(&j, "demand", d->demand);
    bp_json_str(&j, "reason", d->reason);
    bp_json_str(&j, "gate", d->shut_after ? "shut" : "open");
    bp_json_str(&j, "gate_was", d->shut_before ? "shut" : "open");
    bp_json_str(&j, "signal", bp_signal_name(d->signal));
    bp_json_fixed2(&j, "forced_per_s", d->forced_per_s);
    bp_json_str(&j, "gate_reason", d->gate_reason);
    bp_json_str(&j, "pin", d->pin == ACTION_HOLD ? "stay" : bp_action_name(d->pin));
    bp_json_int(&j, "cpu", atomic_load(&bp_aff.cpu));
    bp_json_ratio(&j, "native_share", d->native);
    bp_json_fixed2(&j, "waiting", d->waiting);
    bp_json_str(&j, "pin_reason", d->pin_reason);
    emit(&j);
}

/* Threads waiting for the GIL or parked, on average over an interval. */
static double average_waiting(const struct bp_figures *f, uint64_t span)
{
    return span ? (double)(f->wait_ns + f->parked_ns) / (double)span : 0.0;
}

/* The one place that acts on a decision. The registry (locked since the
 * view was read, when in use) gets the process's entry first: the CPU it
 * now holds, or none; the threads move after the lock is let go. */
static void apply(const struct bp_decision *d)
{
    atomic_store(&bp_gate.k, d->k_after);
    if (d->shut_after && !d->shut_before)
        bp_gate_configure(1, d->k_after);
    else if (!d->shut_after && d->shut_before)
        bp_gate_open(); /* wakes every parked thread */
    if (ctl.params.affinity) {
        int held = d->pin == ACTION_PIN ? d->cpu : d->pin == ACTION_UNPIN ? -1 : atomic_load(&bp_aff.cpu);
        bp_registry_commit(held, bp_affinity_ours());
    }
    if (d->pin == ACTION_PIN && d->cpu >= 0) {
        bp_affinity_pin(d->cpu, d->shut_after);
    } else if (d->pin == ACTION_UNPIN) {
        bp_affinity_unpin();
    } else if (atomic_load(&bp_aff.cpu) >= 0) {
        bp_affinity_follow(d->shut_after);
    }
}

static struct bp_reg_view reg_view;

/* Decide on the interval's figures, act, count and log. */
static void decide(uint64_t now, uint64_t span, const struct bp_figures *proc, const struct bp_figures *workers,
                   uint64_t workers_forced, const struct bp_figures *main_thread)
{
    int cpu = atomic_load(&bp_aff.cpu);
    struct bp_interval in = {
        .span_ns = span,
        .beta_io = bp_beta_io(workers),
        .demand = average_waiting(workers, span),
        .forced = workers_forced,
        .exempt_waiting = span ? (double)main_thread->wait_ns / (double)span : 0.0,
        .cpu_ns = proc->cpu_ns,
        .held_ns = proc->held_ns,
        .waiting = average_waiting(proc, span),
        .pinned = cpu >= 0,
    };
    if (ctl.params.affinity) {
        bp_registry_begin(&reg_view); /* locked until apply's commit, when in use */
        bp_affinity_view(now, &reg_view, &in);
    }
    struct bp_decision d = bp_decide(&ctl, &in);
    apply(&d);
    decisions[d.action]++;
    if (d.shut_after != d.shut_before)
        decisions[d.shut_after ? ACTION_SHUT : ACTION_OPEN]++;
    if (d.pin != ACTION_HOLD)
        decisions[d.pin]++;
    /* Every change is logged; a steady state when its reason changes. */
    int changed = d.k_after != d.k_before || d.shut_after != d.shut_before || d.pin != ACTION_HOLD;
    if (changed || d.action != ACTION_HOLD || last_action != (int)d.action || last_signal != (int)d.signal ||
        strcmp(d.reason, last_reason) || strncmp(d.pin_reason, last_pin_reason, 24))
        write_decision(now, &d);
    last_action = (int)d.action;
    last_signal = (int)d.signal;
    snprintf(last_reason, sizeof last_reason, "%s", d.reason);
    snprintf(last_pin_reason, sizeof last_pin_reason, "%s", d.pin_reason); /* its first words: what argues */
}

/* BETAPOOL_METRICS_DIR's file, from the tick's totals (metrics_file.c). */
static void write_metrics_file(unsigned alive)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct bp_prom_sample s = {
        .pid = (int)getpid(), .gil_wait_ns = wait_total, .gil_held_ns = held_total, .threads = alive,
        .parks = atomic_load(&bp_gate.parks), .forced_switches = forced_total,
        .pinned = atomic_load(&bp_aff.cpu) >= 0,
        .realtime_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec,
    };
    bp_metrics_file_write(bp_options[OPT_METRICS_DIR].path, &s, bp_note);
}

/* One pass over the table. final: the process is exiting. */
static void tick(uint64_t now, int final, struct bp_json *exit_json)
{
    struct bp_figures proc = {0}, workers = {0}, main_thread = {0};
    unsigned alive = 0, waiting = 0;
    uint64_t forced = 0, workers_forced = 0, favoured = 0;
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);

    confirm_layout();
    if (atomic_load(&bp_gil.layout_failed)) {
        atomic_store(&bp_gil.layout_failed, 0);
        give_up_gil("the GIL did not behave as the layout betapool knows (its lock flag was clear after a "
                    "take): betapool follows and throttles nothing");
    }
    if (!start_written) {
        write_start(now);
        if (!atomic_load(&bp_gil.found)) {
            bp_note("warning", "the GIL was not found (an unknown CPython?): betapool observes thread "
                               "starts only and throttles nothing");
            gil_note_written = 1;
        }
    }
    if (!gil_note_written && atomic_load(&bp_gil.found)) {
        bp_note("info", "the GIL was found after the start record");
        gil_note_written = 1;
    }
    write_notes(now);

    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        int st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st != SLOT_LIVE && st != SLOT_EXITED)
            continue;
        if (!t->start_logged) {
            t->start_logged = 1;
            threads_started++;
            python_threads += t->python;
            write_thread_event("thread_start", t, NULL, now);
        }
        uint64_t end = st == SLOT_EXITED ? t->exit_ns : now;
        struct bp_times tm;
        bp_thread_read(t, end, &tm);
        uint64_t cpu = st == SLOT_EXITED ? t->exit_cpu_ns : thread_cpu_ns(t->tid);
        uint64_t delta[PH_COUNT];
        int active = 0;
        for (int p = 0; p < PH_COUNT; p++) {
            delta[p] = tm.acc_ns[p] >= t->last_acc_ns[p] ? tm.acc_ns[p] - t->last_acc_ns[p] : 0;
            if (p != PH_OUTSIDE && delta[p])
                active = 1;
        }
        uint64_t cpu_d = cpu >= t->last_cpu_ns ? cpu - t->last_cpu_ns : 0;
        if (cpu_d)
            active = 1;
        struct bp_figures f;
        bp_figures_from(&f, end > t->last_ns ? end - t->last_ns : 0, cpu_d, delta);
        /* Counters the owner bumps; the exit's store of state publishes them. */
        uint64_t fc = atomic_load_explicit(&t->forced, memory_order_relaxed);
        uint64_t fv = atomic_load_explicit(&t->favoured, memory_order_relaxed);
        uint64_t forced_d = fc >= t->last_forced ? fc - t->last_forced : 0;
        uint64_t favoured_d = fv >= t->last_favoured ? fv - t->last_favoured : 0;
        t->last_forced = fc;
        t->last_favoured = fv;
        int counts = measured(t, &tm);
        if (counts) {
            bp_figures_add(&proc, &f);
            forced += forced_d;
            favoured += favoured_d;
            if (t->python && t->via != VIA_MAIN) {
                /* K and the gate are about the computing workers, the
                 * only ones the gate parks: a socket handler's sleeps
                 * beside CPU threads must not raise their beta_io. */
                if (!atomic_load_explicit(&t->brief, memory_order_relaxed))
                    bp_figures_add(&workers, &f);
                workers_forced += forced_d;
            } else if (t->via == VIA_MAIN) {
                bp_figures_add(&main_thread, &f);
            }
            if (active && f.wall_ns) {
                struct bp_json j;
                bp_json_begin(&j, line, sizeof line, "sample", since_start(now));
                bp_json_int(&j, "tid", t->tid);
                bp_json_figures(&j, &f);
                if (forced_d)
                    bp_json_int(&j, "forced", (long long)forced_d);
                if (favoured_d)
                    bp_json_int(&j, "favoured", (long long)favoured_d);
                emit(&j);
            }
        }
        memcpy(t->last_acc_ns, tm.acc_ns, sizeof tm.acc_ns);
        t->last_cpu_ns = cpu;
        t->last_ns = end;

        struct bp_figures life;
        lifetime(t, &tm, end, cpu, &life);
        if (st == SLOT_EXITED) {
            threads_exited++;
            write_thread_event("thread_exit", t, counts ? &life : NULL, now);
            if (counts)
                bp_figures_add(&run_totals, &life);
            bp_thread_release(t);
        } else {
            if (counts) {
                alive++;
                waiting += tm.phase == PH_WAIT;
            }
            /* Every thread whose start was logged and whose exit was not is
             * in the exit record's list, with figures where they count (as
             * in its thread_exit): the log accounts for each thread. */
            if (final && exit_json) {
                bp_json_open(exit_json, NULL, '{');
                bp_json_int(exit_json, "tid", t->tid);
                bp_json_bool(exit_json, "python", t->python);
                bp_json_str(exit_json, "via", bp_via_name(t->via));
                if (counts)
                    bp_json_figures(exit_json, &life);
                bp_json_close(exit_json, '}');
            }
        }
    }

    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, "process", since_start(now));
    bp_json_int(&j, "threads", alive);
    bp_json_ratio(&j, "beta", bp_beta(&proc));
    bp_json_ratio(&j, "beta_io", bp_beta_io(&proc));
    bp_json_ratio(&j, "gil_wait_share", bp_wait_share(&proc));
    bp_json_int(&j, "gil_waiting", waiting);
    bp_json_int(&j, "forced", (long long)forced);
    bp_json_int(&j, "favoured", (long long)favoured);
    forced_total += forced;
    favoured_total += favoured;
    held_total += proc.held_ns;
    wait_total += proc.wait_ns;
    int acting = bp_opt(OPT_MODE) == MODE_AUTO;
    if (acting) {
        bp_json_str(&j, "gate", ctl.shut ? "shut" : "open"); /* as decided: the exit opens it */
        bp_json_int(&j, "k", atomic_load(&bp_gate.k));
        bp_json_int(&j, "parked", atomic_load(&bp_gate.parked));
        bp_json_int(&j, "parks", (long long)atomic_load(&bp_gate.parks));
        bp_json_int(&j, "park_overruns", (long long)atomic_load(&bp_gate.overruns));
        bp_json_int(&j, "cpu", atomic_load(&bp_aff.cpu));
    }
    emit(&j);

    /* The controller's K and gate see the computing workers only: the main
     * thread and brief threads are never parked, and their sleeps or waits
     * say nothing about the others'. GIL
     * affinity sees every Python thread. Nothing is decided once the GIL is
     * no longer followed. */
    if (acting && !final && atomic_load(&bp_gil.found))
        decide(now, now > last_tick_ns ? now - last_tick_ns : 0, &proc, &workers, workers_forced, &main_thread);
    last_tick_ns = now;
    bp_log_flush();

    bp_real.mutex_lock(&metrics_lock);
    published.threads = alive;
    published.gil_waiting = waiting;
    published.beta = bp_beta(&proc);
    published.beta_io = bp_beta_io(&proc);
    published.beta_io_smoothed = ctl.have_smoothed ? ctl.smoothed : published.beta_io;
    published.gil_wait_share = bp_wait_share(&proc);
    published.pinned_cpu = atomic_load(&bp_aff.cpu);
    published.threads_started = threads_started;
    published.threads_exited = threads_exited;
    for (int a = 0; a < ACTION_COUNT; a++)
        published.decisions[a] = decisions[a];
    published.ticks++;
    published.forced = forced_total;
    published.favoured = favoured_total;
    published.gil_held_ns = held_total;
    published.gil_wait_ns = wait_total;
    published.tick_ns = now;
    bp_real.mutex_unlock(&metrics_lock);
    if (BP_UNLIKELY(bp_options[OPT_METRICS_DIR].value) && !final)
        write_metrics_file(alive);
}

void bp_metrics_read(struct bp_published *out)
{
    bp_real.mutex_lock(&metrics_lock);
    *out = published;
    bp_real.mutex_unlock(&metrics_lock);
}

static void write_decision_counts(struct bp_json *j)
{
    bp_json_int(j, "forced", (long long)forced_total);
    bp_json_int(j, "favoured", (long long)favoured_total);
    if (bp_opt(OPT_MODE) != MODE_AUTO)
        return;
    bp_json_open(j, "decisions", '{');
    for (int a = 0; a < ACTION_COUNT; a++)
        bp_json_int(j, bp_action_name((enum bp_action)a), (long long)decisions[a]);
    bp_json_close(j, '}');
    bp_json_int(j, "parks", (long long)atomic_load(&bp_gate.parks));
    bp_json_int(j, "park_overruns", (long long)atomic_load(&bp_gate.overruns));
    bp_json_int(j, "boosts", (long long)atomic_load(&bp_gate.boosts));
}

/* ---- the exit record and the stats table ---- */

static char exit_buf[4 << 20];

static void alive_totals(struct bp_figures *sum, uint64_t now)
{
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        if (atomic_load_explicit(&t->state, memory_order_acquire) != SLOT_LIVE)
            continue;
        struct bp_times tm;
        bp_thread_read(t, now, &tm);
        if (!measured(t, &tm))
            continue;
        struct bp_figures life;
        lifetime(t, &tm, now, thread_cpu_ns(t->tid), &life);
        bp_figures_add(sum, &life);
    }
}

static void print_stats(const struct bp_figures *tot, uint64_t now)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "betapool: pid %d, python %s, mode %s, gil %s, %.3f s\n"
                     "betapool: threads started %llu (python %llu), ended %llu, untracked %llu\n"
                     "betapool: %12s %12s %12s %12s %12s %12s %7s %7s\n"
                     "betapool: %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %7.3f %7.3f\n",
                     (int)getpid(), bp_python.version, bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)],
                     gil_state(), (double)since_start(now) / 1e9, (unsigned long long)threads_started,
                     (unsigned long long)python_threads, (unsigned long long)threads_exited,
                     (unsigned long long)atomic_load(&bp_threads_untracked), "wall_ms", "cpu_ms",
                     "gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "beta", "beta_io",
                     (double)tot->wall_ns / 1e6, (double)tot->cpu_ns / 1e6, (double)tot->held_ns / 1e6,
                     (double)tot->wait_ns / 1e6, (double)tot->idle_ns / 1e6, (double)tot->blocked_ns / 1e6,
                     bp_beta(tot), bp_beta_io(tot));
    if (n > 0 && n < (int)sizeof buf && bp_opt(OPT_MODE) == MODE_AUTO)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "betapool: K %d (min %ld, max %ld); decisions: scale_up %llu, scale_down %llu, veto %llu, "
                      "hold %llu, pin %llu, unpin %llu, gate_shut %llu, gate_open %llu; parks %llu, overruns %llu; "
                      "forced switches %llu, favoured waits %llu\n",
                      atomic_load(&bp_gate.k), bp_opt(OPT_MIN_WORKERS), bp_opt(OPT_MAX_WORKERS),
                      (unsigned long long)decisions[ACTION_SCALE_UP],
                      (unsigned long long)decisions[ACTION_SCALE_DOWN], (unsigned long long)decisions[ACTION_VETO],
                      (unsigned long long)decisions[ACTION_HOLD], (unsigned long long)decisions[ACTION_PIN],
                      (unsigned long long)decisions[ACTION_UNPIN], (unsigned long long)decisions[ACTION_SHUT],
                      (unsigned long long)decisions[ACTION_OPEN], (unsigned long long)atomic_load(&bp_gate.parks),
                      (unsigned long long)atomic_load(&bp_gate.overruns), (unsigned long long)forced_total,
                      (unsigned long long)favoured_total);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
}

/* The last records, once per process: at exit (the destructor) or at
 * _exit. bounded: take the monitor's lock within ~1 s or write nothing
 * (the _exit path must never hang). */
static _Atomic int finished;

static int lock_monitor(int bounded)
{
    if (!bounded)
        return bp_real.mutex_lock(&mon_lock);
    for (int i = 0; i < 1000; i++) {
        if (bp_real.mutex_trylock(&mon_lock) == 0)
            return 0;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return -1;
}

static void finish(int bounded)
{
    if (!atomic_load(&bp_active) || atomic_exchange(&finished, 1))
        return;
    atomic_store(&mon_stop, 1);
    /* The gate is not opened: parks are bounded, and waking parked daemon
     * threads while CPython tears itself down only lets them run into a
     * finalized interpreter (CPython 3.10 can crash there). */
    atomic_store(&bp_gate.enabled, 0);
    if (lock_monitor(bounded))
        return; /* the claim is reclaimed by the others once this process is gone */
    bp_registry_release();
    if (bp_options[OPT_METRICS_DIR].value)
        bp_metrics_file_remove(bp_options[OPT_METRICS_DIR].path); /* under the lock: no tick renames a new one in after */
    if (!bp_log_enabled() && !bp_opt(OPT_STATS)) {
        bp_real.mutex_unlock(&mon_lock);
        return;
    }
    uint64_t now = bp_now_ns();
    if (bp_log_enabled()) {
        struct bp_json ej;
        /* The exit record lists the threads alive now; tick() fills it. */
        bp_json_begin(&ej, exit_buf, sizeof exit_buf, "exit", since_start(now));
        bp_json_open(&ej, "threads", '[');
        tick(now, 1, &ej);
        bp_json_close(&ej, ']');
        struct bp_figures tot = run_totals;
        alive_totals(&tot, now);
        bp_json_int(&ej, "threads_started", (long long)threads_started);
        bp_json_int(&ej, "threads_exited", (long long)threads_exited);
        bp_json_int(&ej, "python_threads", (long long)python_threads);
        bp_json_int(&ej, "threads_untracked", (long long)atomic_load(&bp_threads_untracked));
        bp_json_open(&ej, "totals", '{');
        bp_json_figures(&ej, &tot);
        bp_json_ratio(&ej, "gil_wait_share", bp_wait_share(&tot));
        bp_json_close(&ej, '}');
        write_decision_counts(&ej);
        /* An exit record too large for its buffer still ends the log
         * validly: its thread list is dropped, the totals are kept. */
        if (ej.overflow) {
            bp_json_begin(&ej, exit_buf, sizeof exit_buf, "exit", since_start(now));
            bp_json_int(&ej, "threads_started", (long long)threads_started);
            bp_json_int(&ej, "threads_exited", (long long)threads_exited);
            bp_json_int(&ej, "python_threads", (long long)python_threads);
            bp_json_open(&ej, "totals", '{');
            bp_json_figures(&ej, &tot);
            bp_json_ratio(&ej, "gil_wait_share", bp_wait_share(&tot));
            bp_json_close(&ej, '}');
            write_decision_counts(&ej);
            bp_json_bool(&ej, "threads_truncated", 1);
        }
        emit(&ej);
        bp_log_close();
        if (bp_opt(OPT_STATS))
            print_stats(&tot, now);
    } else if (bp_opt(OPT_STATS)) {
        tick(now, 1, NULL);
        struct bp_figures tot = run_totals;
        alive_totals(&tot, now);
        print_stats(&tot, now);
    }
    bp_real.mutex_unlock(&mon_lock);
}

void bp_monitor_stop_and_finish(void)
{
    finish(0);
}

/* _exit and _Exit (hooks.c): a process that leaves without exit's handlers
 * (os._exit: multiprocessing's children, many servers' workers) still
 * writes its exit record and gives its CPU back. Only in the process whose
 * shim's thread or log this is: the child of a fork or vfork that has
 * neither (subprocess's child before exec, say) passes straight through,
 * writing nothing and releasing nothing of its parent's. */
void bp_monitor_exit_now(void)
{
    int owner = atomic_load(&owner_pid);
    if (!owner || !atomic_load(&bp_active) || getpid() != owner)
        return;
    finish(1);
}

/* Is the shim's own thread the last one left? A program whose last thread
 * ends with pthread_exit (a C main() that does so, a forked child whose only
 * thread was not main) ends when its thread count reaches zero: glibc calls
 * exit(0) as the last thread goes. Our thread must not keep it alive. */
static int read_stat_field(const char *path, int field, char *out, size_t n)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = 0;
    /* Fields are counted after the ')' that ends the command name. */
    char *p = strrchr(buf, ')');
    for (int f = 2; p && f < field; f++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    snprintf(out, n, "%.*s", (int)strcspn(p + 1, " "), p + 1);
    return 0;
}

static int alone(void)
{
    char v[32], path[64];
    if (read_stat_field("/proc/self/stat", 20, v, sizeof v))
        return 0;
    int threads = atoi(v);
    if (threads == 1)
        return 1;
    if (threads != 2 || gettid() == getpid())
        return 0;
    /* A leader that ended with pthread_exit stays counted as a zombie. */
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    return read_stat_field(path, 3, v, sizeof v) == 0 && v[0] == 'Z';
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
        uint64_t ns = (uint64_t)next.tv_nsec + (published.ticks < BP_FIRST_TICKS ? interval / 4 : interval);
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        bp_clock_refine(interval);
        bp_real.mutex_lock(&mon_lock);
        if (!atomic_load(&mon_stop))
            tick(bp_now_ns(), 0, NULL);
        bp_real.mutex_unlock(&mon_lock);
        if (alone())
            break; /* returning lets glibc end the process, as without us */
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
    atomic_store(&owner_pid, getpid());
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
void bp_monitor_after_fork_child(void)
{
    if (BP_LIKELY(!atomic_load_explicit(&restart_in_child, memory_order_relaxed)))
        return;
    atomic_store(&restart_in_child, 0);
    char used[600], err[700];
    if (bp_log_open(bp_options[OPT_LOG].path, used, sizeof used, err, sizeof err) == 0) {
        start_written = 0;
        atomic_store(&owner_pid, getpid());
    }
}

void bp_monitor_set_owner(void)
{
    atomic_store(&owner_pid, getpid());
}

void bp_shim_fork_child(void) BP_HIDDEN;
void bp_shim_fork_child(void)
{
    bp_log_forget();
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&mon_lock, &fresh, sizeof fresh);
    atomic_store(&mon_started, 0);
    atomic_store(&mon_stop, 0);
    atomic_store(&finished, 0);
    atomic_store(&owner_pid, 0); /* until the child starts a shim's thread or a log of its own */
    bp_registry_after_fork_child();
    threads_started = threads_exited = python_threads = 0;
    memset(&run_totals, 0, sizeof run_totals);
    notes_head = notes_tail = 0;
    atomic_flag_clear(&notes_lock);
    memcpy(&metrics_lock, &fresh, sizeof fresh);
    memset(decisions, 0, sizeof decisions);
    last_action = last_signal = -1;
    forced_total = favoured_total = 0;
    held_total = wait_total = 0;
    bp_affinity_after_fork_child();
    bp_gate_after_fork_child();
    bp_threads_after_fork_child();
    /* The forking thread's record is kept; its start is this child's. */
    struct bp_thread *t = bp_self;
    uint64_t now = bp_now_ns();
    if (t) {
        uint32_t ph = atomic_load(&t->phase);
        t->start_logged = 0;
        t->start_ns = t->last_ns = now;
        t->last_cpu_ns = 0; /* the child's thread is a new task */
        for (int p = 0; p < PH_COUNT; p++) {
            atomic_store(&t->acc_ns[p], 0);
            t->last_acc_ns[p] = 0;
        }
        atomic_store(&t->forced, 0);
        atomic_store(&t->favoured, 0);
        t->last_forced = t->last_favoured = 0;
        atomic_store(&t->phase, ph);
        atomic_store(&t->phase_start_ns, now);
    }
    atomic_store(&restart_in_child, bp_options[OPT_LOG].value && strstr(bp_options[OPT_LOG].path, "%p"));
    bp_t0_ns = now;
}
