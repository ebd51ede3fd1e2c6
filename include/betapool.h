/* betapool: the public interface of libbetapool.so.
 *
 * A program runs with the library preloaded (LD_PRELOAD or the `betapool`
 * command). These functions let it ask what betapool sees; a program that
 * looks them up with dlsym (or ctypes) and finds nothing is simply not
 * running under betapool. */
#ifndef BETAPOOL_H
#define BETAPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* BETAPOOL_MODE_ENFORCE is an older name of mode 2 (auto), kept for programs
 * written against it. */
enum betapool_mode {
    BETAPOOL_MODE_OFF = 0,
    BETAPOOL_MODE_OBSERVE = 1,
    BETAPOOL_MODE_AUTO = 2,
    BETAPOOL_MODE_ENFORCE = BETAPOOL_MODE_AUTO
};

/* Fields are only ever added at the end: a caller built against an older
 * header passes its smaller size and gets the fields it knows. */
struct betapool_metrics {
    uint32_t size;              /* bytes filled in by the library */
    int32_t mode;               /* enum betapool_mode */
    int32_t gil_found;          /* 1: the GIL was found and is measured */
    uint32_t python_threads;    /* Python threads alive at the last sample */
    int32_t k;                  /* worker threads admitted to the GIL now */
    int32_t min_workers, max_workers;
    uint32_t parked;            /* threads waiting at the gate now */
    uint32_t gil_waiting;       /* threads waiting for the GIL at the last sample */
    double beta;                /* the seed's 1 - cpu/wall, last interval */
    double beta_io;             /* GIL-aware blocking ratio, last interval */
    double beta_io_smoothed;    /* what the controller decides on */
    double gil_wait_share;      /* GIL wait / wall, last interval */
    uint64_t scale_ups, scale_downs, vetoes, holds;
    uint64_t parks, park_overruns;
    uint64_t threads_started, threads_exited;
    uint64_t samples;           /* intervals sampled so far */
    /* Since 0.2: GIL affinity. */
    int32_t pinned_cpu;         /* the CPU the Python threads share now; -1: none */
    int32_t affinity;           /* 1: BETAPOOL_AFFINITY=auto */
    uint64_t pins, unpins;
    /* Since the default mode auto: the gate and the GIL priority. */
    int32_t gate_shut;          /* 1: surplus computing workers are being parked now */
    int32_t gate;               /* 1: BETAPOOL_GATE=auto */
    int32_t priority;           /* 1: BETAPOOL_PRIORITY=auto */
    uint64_t gate_shuts, gate_opens;    /* times the gate shut, and opened again */
    /* Since the Prometheus metrics: totals over the run at the last sample,
     * every measured thread, ended ones included. */
    uint64_t forced_switches;   /* holders asked to let go after a waiter's full switch interval */
    uint64_t favoured_waits;    /* GIL waits the priority shortened */
    uint64_t gil_held_ns;       /* time threads held the GIL */
    uint64_t gil_wait_ns;       /* time threads waited for it */
    uint64_t sampled_unix_ns;   /* when the last sample was taken, ns since the epoch; 0: none yet */
};

/* Fills *out with up to `size` bytes of the current metrics. Returns the
 * number of bytes written, or -1 when betapool is not active in this process
 * (not CPython, mode off) or out is NULL. */
int betapool_get_metrics(struct betapool_metrics *out, size_t size);

/* The calling thread's own times since it started, as betapool counts them
 * (every nanosecond of a thread's life is in exactly one of these). Read at
 * the start and the end of a task, the differences say how the task's time
 * went: holding the GIL, waiting for it, idle on a Python lock or queue,
 * parked at betapool's gate, or blocked outside the GIL (I/O, sleep, native
 * code that released it). Fields are only ever added at the end. */
struct betapool_thread_times {
    uint32_t size;              /* bytes filled in by the library */
    uint32_t pad;
    uint64_t now_ns;            /* betapool's clock (CLOCK_MONOTONIC's scale) when read */
    uint64_t gil_held_ns;
    uint64_t gil_wait_ns;
    uint64_t idle_ns;
    uint64_t parked_ns;
    uint64_t outside_ns;
};

/* Fills *out with up to `size` bytes of the calling thread's times. Returns
 * the number of bytes written, or -1 when betapool is not active, has not
 * found the GIL, does not follow this thread, or out is NULL. Cheap (no
 * system call, no lock): it reads the thread's own record. */
int betapool_thread_times(struct betapool_thread_times *out, size_t size);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *betapool_version(void);

#ifdef __cplusplus
}
#endif
#endif
