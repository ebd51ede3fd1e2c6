/* Prometheus's text exposition format for betapool's figures (pure; the
 * file is written by metrics_file.c). */
#ifndef BETAPOOL_PROM_TEXT_H
#define BETAPOOL_PROM_TEXT_H

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

#endif
