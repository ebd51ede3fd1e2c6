/* What one BETAPOOL_METRICS_DIR write costs (docs/prometheus.md): format,
 * create the temporary file, write, close, rename, as the shim's thread
 * does at each tick. Not a test.
 *
 * usage: bench_metrics_file DIR [N]    (DIR: a directory to write in) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "metrics_file.h"

static void note(const char *level, const char *msg)
{
    fprintf(stderr, "%s: %s\n", level, msg);
}

static double ns_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 5000;
    if (n < 1)
        n = 1;
    struct bp_prom_sample s = {.pid = (int)getpid(), .gil_wait_ns = 123456789, .gil_held_ns = 987654321,
                               .threads = 9, .parks = 3, .forced_switches = 77, .pinned = 1};
    struct timespec w0, w1, c0, c1, rt;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int i = 0; i < n; i++) {
        clock_gettime(CLOCK_REALTIME, &rt);
        s.realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
        s.gil_wait_ns += (uint64_t)i;
        bp_metrics_file_write(argv[1], &s, note);
    }
    clock_gettime(CLOCK_MONOTONIC, &w1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    bp_metrics_file_remove(argv[1]);
    printf("%d writes: %.1f us wall, %.1f us CPU each\n", n, ns_between(&w0, &w1) / n / 1e3,
           ns_between(&c0, &c1) / n / 1e3);
    return 0;
}
