/* BETAPOOL_METRICS_DIR: the process's figures as DIR/betapool-PID.prom, in
 * Prometheus's text exposition format, for node_exporter's textfile
 * collector. Only the shim's own thread writes it (each tick); the exit
 * path removes it. The text itself comes from prom_text.c. */
#ifndef BETAPOOL_METRICS_FILE_H
#define BETAPOOL_METRICS_FILE_H

#include <stdint.h>

#include "prom_text.h"

/* The shim's thread, each tick: write DIR/betapool-PID.prom by way of a
 * temporary file in DIR and rename(2). The first failure is passed to
 * note("warning", ...) once per process; the host runs on, and later ticks
 * try again quietly (a directory created later is used). */
void bp_metrics_file_write(const char *dir, const struct bp_prom_sample *s,
                           void (*note)(const char *level, const char *msg)) __attribute__((visibility("hidden")));

/* Files left by processes that could not remove theirs (killed by a signal,
 * ended with os._exit as multiprocessing's children are): every
 * BP_METRICS_SWEEP_S, the writer removes from DIR each betapool-PID.prom
 * that is a regular file of this user, unchanged for min_age_s, whose pid
 * is no process here. The age spares a live writer in another pid namespace
 * sharing DIR: every writer rewrites its file at least every 60 s (the
 * longest BETAPOOL_INTERVAL_MS). Returns the files removed. */
#define BP_METRICS_SWEEP_S 10
#define BP_METRICS_STALE_S 120
int bp_metrics_file_sweep(const char *dir, uint64_t now_s, uint64_t min_age_s) __attribute__((visibility("hidden")));

/* The exit path: remove the file this process wrote, if it wrote one (a
 * fork child never removes its parent's). */
void bp_metrics_file_remove(const char *dir) __attribute__((visibility("hidden")));

#endif
