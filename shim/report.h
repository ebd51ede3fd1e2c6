/* report.c: every record of the log, the notes anyone may queue, and the
 * metrics file's sample (the stats table on stderr: stats.c). Only the
 * shim's own thread and the exit path call it (bp_note excepted). */
#ifndef BETAPOOL_REPORT_H
#define BETAPOOL_REPORT_H

#include "common.h"
#include "controller.h"
#include "figures.h"
#include "log.h"
#include "sampling.h"
#include "threads.h"

/* When betapool started in this process: the log's times count from here. */
extern uint64_t bp_t0_ns BP_HIDDEN;

/* What the run counted so far: the exit record and the stats table. */
struct bp_run {
    uint64_t threads_started, threads_exited, python_threads;
    struct bp_figures ended;             /* the threads that ended */
    uint64_t decisions[ACTION_COUNT];
    uint64_t forced, favoured;           /* over the run, every thread */
    uint64_t takes, cond_waits;          /* over the run, the main GIL's threads */
    uint64_t held_ns, wait_ns;           /* GIL held and waited for, over the run, every thread */
    uint64_t ticks;
};

/* A note, queued by any thread but a hook and written by the monitor. */
void bp_note(const char *level, const char *msg) BP_HIDDEN;

/* At every tick: the start record once per log (and what is known of the
 * GIL, as a note), then the notes queued since. */
void bp_report_opening(uint64_t now) BP_HIDDEN;
/* In a fork child, at its first thread start: a log of its own if its path
 * names the pid (its start record then comes at the next tick). Returns 1
 * when it opened one. */
int bp_report_reopen_in_child(void) BP_HIDDEN;
/* thread_start (f NULL) or thread_exit (f NULL when the thread does not count). */
void bp_report_thread(const char *event, const struct bp_thread *t, const struct bp_figures *f, uint64_t now) BP_HIDDEN;
void bp_report_sample(uint64_t now, pid_t tid, const struct bp_sample *s) BP_HIDDEN;
/* The process record; acting: mode auto, with the gate as decided. */
void bp_report_process(uint64_t now, const struct bp_tally *tl, int acting, int shut) BP_HIDDEN;
/* Counts the interval's decisions in run; logs them when something changed
 * or the reason did. */
void bp_report_decision(uint64_t now, const struct bp_decision *d, struct bp_run *run) BP_HIDDEN;

/* BETAPOOL_METRICS_DIR's file, from the tick's tally and the run's totals
 * (metrics_file.c). */
void bp_report_metrics_file(const struct bp_tally *tl, const struct bp_run *run) BP_HIDDEN;

/* The exit record: begun with its list of live threads open, each added,
 * then ended with the run's counts and written. */
struct bp_json *bp_report_exit_begin(uint64_t now) BP_HIDDEN;
void bp_report_exit_thread(struct bp_json *j, const struct bp_thread *t, const struct bp_figures *f) BP_HIDDEN;
void bp_report_exit_end(struct bp_json *j, uint64_t now, const struct bp_run *run, const struct bp_figures *tot) BP_HIDDEN;
/* In a fork child: no notes, times from now, maybe a log of its own. */
void bp_report_after_fork_child(uint64_t now) BP_HIDDEN;

#endif
