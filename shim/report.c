/* Everything betapool writes: the log's records, the stats table on stderr,
 * the notes queued for the log, and the metrics the API returns. The figures
 * come measured (sampling.c) and decided (controller.c); here they are only
 * written. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "affinity.h"
#include "clock.h"
#include "gate.h"
#include "gil.h"
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

void bp_report_notes(uint64_t now)
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

void bp_report_start(uint64_t now)
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

static void thread_identity(struct bp_json *j, const struct bp_thread *t, const struct bp_figures *f)
{
    bp_json_int(j, "tid", t->tid);
    bp_json_bool(j, "python", t->python);
    bp_json_str(j, "via", bp_via_name(t->via));
    if (f)
        bp_json_figures(j, f);
}

void bp_report_thread(const char *event, const struct bp_thread *t, const struct bp_figures *f, uint64_t now)
{
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, event, since_start(now));
    thread_identity(&j, t, f);
    emit(&j);
}

void bp_report_sample(uint64_t now, pid_t tid, const struct bp_sample *s)
{
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
    struct bp_json j;
    bp_json_begin(&j, line, sizeof line, "process", since_start(now));
    bp_json_int(&j, "threads", tl->alive);
    bp_json_ratio(&j, "beta", bp_beta(&tl->proc));
    bp_json_ratio(&j, "beta_io", bp_beta_io(&tl->proc));
    bp_json_ratio(&j, "gil_wait_share", bp_wait_share(&tl->proc));
    bp_json_int(&j, "gil_waiting", tl->waiting);
    bp_json_int(&j, "forced", (long long)tl->forced);
    bp_json_int(&j, "favoured", (long long)tl->favoured);
    if (acting) {
        bp_json_str(&j, "gate", shut ? "shut" : "open"); /* as decided: the exit opens it */
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

static char last_reason[160];
static int last_action = -1, last_signal = -1;

void bp_report_decision(uint64_t now, const struct bp_decision *d, struct bp_run *run)
{
    run->decisions[d->action]++;
    if (d->shut_after != d->shut_before)
        run->decisions[d->shut_after ? ACTION_SHUT : ACTION_OPEN]++;
    if (d->pin != ACTION_HOLD)
        run->decisions[d->pin]++;
    /* Every change is logged; a steady state when its reason changes. */
    int changed = d->k_after != d->k_before || d->shut_after != d->shut_before || d->pin != ACTION_HOLD;
    if (changed || d->action != ACTION_HOLD || last_action != (int)d->action || last_signal != (int)d->signal ||
        strcmp(d->reason, last_reason))
        write_decision(now, d);
    last_action = (int)d->action;
    last_signal = (int)d->signal;
    snprintf(last_reason, sizeof last_reason, "%s", d->reason);
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

void bp_report_stats(uint64_t now, const struct bp_run *run, const struct bp_figures *tot)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "betapool: pid %d, python %s, mode %s, gil %s, %.3f s\n"
                     "betapool: threads started %llu (python %llu), ended %llu, untracked %llu\n"
                     "betapool: %12s %12s %12s %12s %12s %12s %7s %7s\n"
                     "betapool: %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %7.3f %7.3f\n",
                     (int)getpid(), bp_python.version, bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)],
                     bp_gil_state(), (double)since_start(now) / 1e9, (unsigned long long)run->threads_started,
                     (unsigned long long)run->python_threads, (unsigned long long)run->threads_exited,
                     (unsigned long long)atomic_load(&bp_threads_untracked), "wall_ms", "cpu_ms",
                     "gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "beta", "beta_io",
                     (double)tot->wall_ns / 1e6, (double)tot->cpu_ns / 1e6, (double)tot->held_ns / 1e6,
                     (double)tot->wait_ns / 1e6, (double)tot->idle_ns / 1e6, (double)tot->blocked_ns / 1e6,
                     bp_beta(tot), bp_beta_io(tot));
    const uint64_t *dc = run->decisions;
    if (n > 0 && n < (int)sizeof buf && bp_opt(OPT_MODE) == MODE_AUTO)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "betapool: K %d (min %ld, max %ld); decisions: scale_up %llu, scale_down %llu, veto %llu, "
                      "hold %llu, pin %llu, unpin %llu, gate_shut %llu, gate_open %llu; parks %llu, overruns %llu; "
                      "forced switches %llu, favoured waits %llu\n",
                      atomic_load(&bp_gate.k), bp_opt(OPT_MIN_WORKERS), bp_opt(OPT_MAX_WORKERS),
                      (unsigned long long)dc[ACTION_SCALE_UP], (unsigned long long)dc[ACTION_SCALE_DOWN],
                      (unsigned long long)dc[ACTION_VETO], (unsigned long long)dc[ACTION_HOLD],
                      (unsigned long long)dc[ACTION_PIN], (unsigned long long)dc[ACTION_UNPIN],
                      (unsigned long long)dc[ACTION_SHUT], (unsigned long long)dc[ACTION_OPEN],
                      (unsigned long long)atomic_load(&bp_gate.parks), (unsigned long long)atomic_load(&bp_gate.overruns),
                      (unsigned long long)run->forced, (unsigned long long)run->favoured);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
}

/* ---- the metrics ---- */

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bp_published published = {.pinned_cpu = -1};

void bp_metrics_publish(const struct bp_tally *tl, const struct bp_run *run, const struct bp_controller *ctl)
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
    bp_real.mutex_unlock(&metrics_lock);
}

void bp_metrics_read(struct bp_published *out)
{
    bp_real.mutex_lock(&metrics_lock);
    *out = published;
    bp_real.mutex_unlock(&metrics_lock);
}

void bp_report_after_fork_child(uint64_t now)
{
    notes_head = notes_tail = 0;
    atomic_flag_clear(&notes_lock);
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&metrics_lock, &fresh, sizeof fresh);
    last_action = last_signal = -1;
    bp_t0_ns = now;
}
