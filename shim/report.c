/* Everything betapool writes: the log's records, the stats table on stderr,
 * the notes queued for the log, and the metrics the API returns. The figures
 * come measured (sampling.c) and decided (controller.c); here they are only
 * written. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "affinity.h"
#include "clock.h"
#include "gate.h"
#include "gil.h"
#include "metrics_file.h"
#include "options.h"
#include "python.h"
#include "real.h"
#include "report.h"

uint64_t bp_t0_ns;

static char line[1 << 14];

static uint64_t since_start(uint64_t now)
{
    return now > bp_t0_ns ? now - bp_t0_ns : 0;
}

/* Records go to the log only: those written every tick (a sample per
 * thread, the process's) are not even formatted without one. Formatting a
 * sample took ~9,000 instructions a thread a tick, 80% of the shim's own
 * thread's work in a pool of 100 threads (callgrind, the seed's workload). */
static void emit(struct bp_json *j)
{
    bp_json_end(j);
    bp_log_write(j->buf, j->len);
}

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

/* ---- the records of a run ---- */

static void write_start(uint64_t now)
{
    struct bp_json j;
    bp_python_read_version();
    bp_json_begin(&j, line, sizeof line, "start", since_start(now));
    bp_json_int(&j, "schema", BP_SCHEMA);
    bp_json_str(&j, "version", BP_VERSION);
    bp_json_int(&j, "pid", getpid());
    bp_json_str(&j, "python", bp_python.version);
    bp_json_str(&j, "gil", bp_gil_state());
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
}

static int start_written, gil_note_written, others_note_written;
static _Atomic int restart_in_child; /* set in a fork child that may log */

void bp_report_opening(uint64_t now)
{
    if (!start_written) {
        write_start(now);
        start_written = 1;
        /* A free-threaded build said what it is (gil_check.c). */
        gil_note_written = atomic_load(&bp_gil.found) || atomic_load(&bp_gil.disabled);
        if (!gil_note_written && bp_python.arrived_running) {
            /* Recognised at a thread start: its GIL was made before. */
            bp_note("warning", "the GIL was not found: the Python image arrived after start and made its GIL "
                               "before betapool recognised the image: betapool observes threads only and "
                               "throttles nothing");
            gil_note_written = 1;
        } else if (!gil_note_written) {
            bp_note("warning", "the GIL was not found (an unknown CPython?): betapool observes thread "
                               "starts only and throttles nothing");
            gil_note_written = 1;
        }
    }
    if (!others_note_written && atomic_load(&bp_gil.foreign_gils) > 0 && atomic_load(&bp_gil.found)) {
        bp_note("info", "a sub-interpreter made a GIL of its own: each such GIL is followed on its own, and "
                        "the threads that take one are never pinned with the main GIL's threads nor parked "
                        "by its gate");
        others_note_written = 1;
    }
    if (!gil_note_written && atomic_load(&bp_gil.found)) {
        bp_note("info", "the GIL was found after the start record");
        gil_note_written = 1;
    }
    write_notes(now);
}

/* In a fork child: the parent's monitor thread is gone and its log is the
 * parent's. A child whose log path names its pid (%p) gets a log of its own
 * when it first starts a thread (and with it a monitor); any other child
 * writes nothing. Called from pthread_create. */
int bp_report_reopen_in_child(void)
{
    if (BP_LIKELY(!atomic_load_explicit(&restart_in_child, memory_order_relaxed)))
        return 0;
    atomic_store(&restart_in_child, 0);
    char used[600], err[700];
    if (bp_log_open(bp_options[OPT_LOG].path, used, sizeof used, err, sizeof err))
        return 0;
    start_written = 0;
    return 1;
}

static void thread_identity(struct bp_json *j, const struct bp_thread *t, const struct bp_figures *f)
{
    bp_json_int(j, "tid", t->tid);
    bp_json_bool(j, "python", t->python);
    bp_json_str(j, "via", bp_via_name(t->via));
    if (atomic_load_explicit(&t->other_gil_seen, memory_order_relaxed))
        bp_json_bool(j, "other_gil", 1);
    if (f)
        bp_json_figures(j, f);
}

void bp_report_thread(const char *event, const struct bp_thread *t, const struct bp_figures *f, uint64_t now)
{
    if (!bp_log_enabled())
        return; /* the log is its only reader: nothing to format */
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, event, since_start(now));
    thread_identity(&j, t, f);
    emit(&j);
}

void bp_report_sample(uint64_t now, pid_t tid, const struct bp_sample *s)
{
    if (!bp_log_enabled())
        return; /* the log is its only reader: nothing to format */
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, "sample", since_start(now));
    bp_json_int(&j, "tid", tid);
    bp_json_figures(&j, &s->f);
    if (s->forced)
        bp_json_int(&j, "forced", (long long)s->forced);
    if (s->favoured)
        bp_json_int(&j, "favoured", (long long)s->favoured);
    emit(&j);
}

void bp_report_process(uint64_t now, const struct bp_tally *tl, int acting, int shut)
{
    if (!bp_log_enabled())
        return; /* the log is its only reader: nothing to format */
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, "process", since_start(now));
    bp_json_int(&j, "threads", tl->alive);
    bp_json_ratio(&j, "beta", bp_beta(&tl->proc));
    bp_json_ratio(&j, "beta_io", bp_beta_io(&tl->proc));
    bp_json_ratio(&j, "gil_wait_share", bp_wait_share(&tl->proc));
    bp_json_int(&j, "gil_waiting", tl->waiting);
    bp_json_int(&j, "forced", (long long)tl->forced);
    bp_json_int(&j, "favoured", (long long)tl->favoured);
    bp_json_int(&j, "takes", (long long)tl->takes);
    bp_json_int(&j, "cond_waits", (long long)tl->cond_waits);
    if (acting) {
        bp_json_str(&j, "gate", bp_gate_state_name(shut)); /* as decided: the exit opens it */
        bp_json_int(&j, "k", atomic_load(&bp_gate.k));
        bp_json_int(&j, "parked", atomic_load(&bp_gate.parked));
        bp_json_int(&j, "parks", (long long)atomic_load(&bp_gate.parks));
        bp_json_int(&j, "park_overruns", (long long)atomic_load(&bp_gate.overruns));
        bp_json_int(&j, "cpu", atomic_load(&bp_aff.cpu));
    }
    emit(&j);
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
    bp_json_str(&j, "gate", bp_gate_state_name(d->shut_after));
    bp_json_str(&j, "gate_was", bp_gate_state_name(d->shut_before));
    bp_json_str(&j, "signal", bp_signal_name(d->signal));
    bp_json_fixed2(&j, "forced_per_s", d->forced_per_s);
    bp_json_str(&j, "gate_reason", d->gate_reason);
    bp_json_str(&j, "pin", bp_pin_action_name(d->pin));
    bp_json_int(&j, "cpu", atomic_load(&bp_aff.cpu));
    bp_json_ratio(&j, "native_share", d->native);
    bp_json_fixed2(&j, "waiting", d->waiting);
    bp_json_str(&j, "pin_reason", d->pin_reason);
    emit(&j);
}

static char last_reason[160], last_pin_reason[160];
static int last_action = -1, last_signal = -1;

void bp_report_decision(uint64_t now, const struct bp_decision *d, struct bp_run *run)
{
    run->decisions[d->action]++;
    if (d->shut_after != d->shut_before)
        run->decisions[d->shut_after ? ACTION_GATE_SHUT : ACTION_GATE_OPEN]++;
    if (d->pin != PIN_STAY)
        run->decisions[bp_pin_counted(d->pin)]++;
    /* Every change is logged; a steady state when its reason changes. */
    int changed = d->k_after != d->k_before || d->shut_after != d->shut_before || d->pin != PIN_STAY;
    if (changed || d->action != ACTION_HOLD || last_action != (int)d->action || last_signal != (int)d->signal ||
        strcmp(d->reason, last_reason) || strncmp(d->pin_reason, last_pin_reason, 24))
        write_decision(now, d);
    last_action = (int)d->action;
    last_signal = (int)d->signal;
    snprintf(last_reason, sizeof last_reason, "%s", d->reason);
    snprintf(last_pin_reason, sizeof last_pin_reason, "%s", d->pin_reason); /* its first words: what argues */
}

void bp_report_metrics_file(const struct bp_tally *tl, const struct bp_run *run)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct bp_prom_sample s = {
        .pid = (int)getpid(), .gil_wait_ns = run->wait_ns, .gil_held_ns = run->held_ns, .threads = tl->alive,
        .parks = atomic_load(&bp_gate.parks), .forced_switches = run->forced,
        .pinned = atomic_load(&bp_aff.cpu) >= 0,
        .realtime_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec,
    };
    bp_metrics_file_write(bp_options[OPT_METRICS_DIR].path, &s, bp_note);
}

/* ---- the exit record and the stats table ---- */

static char exit_buf[4 << 20];
static struct bp_json exit_json;

struct bp_json *bp_report_exit_begin(uint64_t now)
{
    bp_json_begin(&exit_json, exit_buf, sizeof exit_buf, "exit", since_start(now));
    bp_json_open(&exit_json, "threads", '[');
    return &exit_json;
}

/* Every thread whose start was logged and whose exit was not is in the exit
 * record's list, with figures where they count (as in its thread_exit): the
 * log accounts for each thread. */
void bp_report_exit_thread(struct bp_json *j, const struct bp_thread *t, const struct bp_figures *f)
{
    bp_json_open(j, NULL, '{');
    thread_identity(j, t, f);
    bp_json_close(j, '}');
}

static void exit_counts(struct bp_json *j, const struct bp_run *run, const struct bp_figures *tot, int untracked)
{
    bp_json_int(j, "threads_started", (long long)run->threads_started);
    bp_json_int(j, "threads_exited", (long long)run->threads_exited);
    bp_json_int(j, "python_threads", (long long)run->python_threads);
    if (untracked)
        bp_json_int(j, "threads_untracked", (long long)atomic_load(&bp_threads_untracked));
    bp_json_open(j, "totals", '{');
    bp_json_figures(j, tot);
    bp_json_ratio(j, "gil_wait_share", bp_wait_share(tot));
    bp_json_close(j, '}');
    bp_json_int(j, "forced", (long long)run->forced);
    bp_json_int(j, "favoured", (long long)run->favoured);
    bp_json_int(j, "takes", (long long)run->takes);
    bp_json_int(j, "cond_waits", (long long)run->cond_waits);
    if (bp_opt(OPT_MODE) != MODE_AUTO)
        return;
    bp_json_open(j, "decisions", '{');
    for (int a = 0; a < ACTION_COUNT; a++)
        bp_json_int(j, bp_action_name((enum bp_action)a), (long long)run->decisions[a]);
    bp_json_close(j, '}');
    bp_json_int(j, "parks", (long long)atomic_load(&bp_gate.parks));
    bp_json_int(j, "park_overruns", (long long)atomic_load(&bp_gate.overruns));
    bp_json_int(j, "boosts", (long long)atomic_load(&bp_gate.boosts));
}

void bp_report_exit_end(struct bp_json *j, uint64_t now, const struct bp_run *run, const struct bp_figures *tot)
{
    bp_json_close(j, ']');
    exit_counts(j, run, tot, 1);
    /* An exit record too large for its buffer still ends the log validly:
     * its thread list is dropped, the totals are kept. */
    if (j->overflow) {
        bp_json_begin(j, exit_buf, sizeof exit_buf, "exit", since_start(now));
        exit_counts(j, run, tot, 0);
        bp_json_bool(j, "threads_truncated", 1);
    }
    emit(j);
}

/* Appends to a fixed buffer; what does not fit is cut. */
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = *n + (size_t)k < cap - 1 ? *n + (size_t)k : cap - 1;
}

/* The table's columns are the figures that have one (BP_FIGURE_FIELDS), then
 * the ratios; its decisions are BP_ACTIONS, in order. */
void bp_report_stats(uint64_t now, const struct bp_run *run, const struct bp_figures *tot)
{
    char buf[2048];
    size_t n = 0, cap = sizeof buf;
    add(buf, cap, &n, "betapool: pid %d, python %s, mode %s, gil %s, %.3f s\n", (int)getpid(), bp_python.version,
        bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)], bp_gil_state(), (double)since_start(now) / 1e9);
    add(buf, cap, &n, "betapool: threads started %llu (python %llu), ended %llu, untracked %llu\n",
        (unsigned long long)run->threads_started, (unsigned long long)run->python_threads,
        (unsigned long long)run->threads_exited, (unsigned long long)atomic_load(&bp_threads_untracked));
#define HEAD(member, key, in_table) if (in_table) add(buf, cap, &n, " %12s", key);
#define CELL(member, key, in_table) if (in_table) add(buf, cap, &n, " %12.1f", (double)tot->member / 1e6);
#define RATIO_HEAD(key, fn) add(buf, cap, &n, " %7s", key);
#define RATIO_CELL(key, fn) add(buf, cap, &n, " %7.3f", fn(tot));
    add(buf, cap, &n, "betapool:");
    BP_FIGURE_FIELDS(HEAD)
    BP_FIGURE_RATIOS(RATIO_HEAD)
    add(buf, cap, &n, "\nbetapool:");
    BP_FIGURE_FIELDS(CELL)
    BP_FIGURE_RATIOS(RATIO_CELL)
    add(buf, cap, &n, "\n");
#undef HEAD
#undef CELL
#undef RATIO_HEAD
#undef RATIO_CELL
    if (bp_opt(OPT_MODE) == MODE_AUTO) {
        add(buf, cap, &n, "betapool: K %d (min %ld, max %ld); decisions:", atomic_load(&bp_gate.k),
            bp_opt(OPT_MIN_WORKERS), bp_opt(OPT_MAX_WORKERS));
        for (int a = 0; a < ACTION_COUNT; a++)
            add(buf, cap, &n, "%s %s %llu", a ? "," : "", bp_action_name((enum bp_action)a),
                (unsigned long long)run->decisions[a]);
        add(buf, cap, &n, "; parks %llu, overruns %llu; forced switches %llu, favoured waits %llu\n",
            (unsigned long long)atomic_load(&bp_gate.parks), (unsigned long long)atomic_load(&bp_gate.overruns),
            (unsigned long long)run->forced, (unsigned long long)run->favoured);
    }
    ssize_t w = write(2, buf, n);
    (void)w;
}

void bp_report_finish(struct bp_json *ej, uint64_t now, const struct bp_run *run, const struct bp_figures *lives)
{
    struct bp_figures tot = *lives;
    bp_figures_add(&tot, &run->ended);
    if (ej) {
        bp_report_exit_end(ej, now, run, &tot);
        bp_log_close();
    }
    if (bp_opt(OPT_STATS))
        bp_report_stats(now, run, &tot);
}

void bp_report_after_fork_child(uint64_t now)
{
    notes_head = notes_tail = 0;
    atomic_flag_clear(&notes_lock);
    last_action = last_signal = -1;
    bp_t0_ns = now;
    atomic_store(&restart_in_child, bp_options[OPT_LOG].value && strstr(bp_options[OPT_LOG].path, "%p"));
}
