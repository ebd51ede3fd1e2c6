/* BETAPOOL_METRICS_DIR: the process's figures as DIR/betapool-PID.prom, in
 * Prometheus's text exposition format, for node_exporter's textfile
 * collector. Only the shim's own thread writes it (each tick); the exit
 * path removes it. The formatting is pure and unit-tested. */
#ifndef BETAPOOL_METRICS_FILE_H
#define BETAPOOL_METRICS_FILE_H

#include <stddef.h>
#include <stdint.h>

/* One sample of the metrics, as the monitor's tick saw them. */
struct bp_prom_sample {
    int pid;
    const char *program;        /* label value, any bytes (escaped when written);
                                   NULL: the writer reads the process's own */
    uint64_t gil_wait_ns;       /* over the run, every measured thread */
    uint64_t gil_held_ns;
    unsigned threads;           /* Python threads alive at the sample */
    uint64_t parks;             /* gate parks so far */
    uint64_t forced_switches;   /* holders asked to let go after a waiter's full switch interval */
    int pinned;                 /* 1: the Python threads share one CPU now */
    uint64_t realtime_ns;       /* the update's wall-clock time (CLOCK_REALTIME) */
};

/* The file's text into buf. Returns its length, or -1 when buf is too
 * small (buf's content is then unusable). */
int bp_prom_format(char *buf, size_t cap, const struct bp_prom_sample *s) __attribute__((visibility("hidden")));

/* The program's name from a NUL-separated command line (/proc/self/cmdline):
 * for a Python interpreter, the script's base name, the module after -m, or
 * the interpreter's own name for -c, - and the interactive prompt; for any
 * other executable its base name. Always NUL-terminated ("" at worst). */
void bp_prom_program_name(const char *cmdline, size_t len, char *out, size_t n)
    __attribute__((visibility("hidden")));

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
