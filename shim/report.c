/* Everything betapool writes to its log: the records, the notes queued for
 * it, and BETAPOOL_METRICS_DIR's sample (stats.c prints the table on
 * stderr). The figures
 * come measured (sampling.c) and decided (controller.c); here they are only
 * written. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "affinity.h"
#include "clock.h"
#include "gate.h"
#include "gil.h"
#include "handoff.h"
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
    bp_json_fixed2(&j, "rewaits", d->rewaits);
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

/* ---- the exit record ---- */

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
    /* The directed hand-off: who was handed the GIL after waiting on its
     * cond, how long the interactive waited (bucket tops, 25% apart), the
     * longest a computing (or due) waiter waited, and the hold-backs. */
    struct bp_handoff_counts h;
    bp_handoff_read(&h);
    bp_json_open(j, "handoff", '{');
    bp_json_open(j, "served", '{');
    for (int c = 0; c < WAITER_CLASS_COUNT; c++)
        bp_json_int(j, bp_waiter_class_name((enum bp_waiter_class)c), (long long)h.served[c]);
    bp_json_close(j, '}');
    bp_json_int(j, "interactive_wait_p50_us", (long long)(bp_wait_percentile(h.interactive_wait, 0.50) / 1000u));
    bp_json_int(j, "interactive_wait_p99_us", (long long)(bp_wait_percentile(h.interactive_wait, 0.99) / 1000u));
    bp_json_int(j, "computing_wait_max_us", (long long)(h.computing_wait_max_ns / 1000u));
    bp_json_int(j, "held_back", (long long)h.held_back);
    bp_json_int(j, "passed_over", (long long)h.passed_over);
    bp_json_close(j, '}');
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

void bp_report_after_fork_child(uint64_t now)
{
    notes_head = notes_tail = 0;
    atomic_flag_clear(&notes_lock);
    last_action = last_signal = -1;
    bp_t0_ns = now;
    atomic_store(&restart_in_child, bp_options[OPT_LOG].value && strstr(bp_options[OPT_LOG].path, "%p"));
}
