/* The last records, once per process: at exit (the destructor) or at _exit
 * (hooks_process.c). The monitor is stopped, its lock taken (bounded at
 * _exit), its last tick run with the exit record open, and the CPU this
 * process holds in the registry given back. */
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "finish.h"
#include "gate.h"
#include "hooks.h"
#include "log.h"
#include "metrics_file.h"
#include "monitor.h"
#include "options.h"
#include "registry.h"
#include "report.h"
#include "stats.h"

static _Atomic int finished;
static _Atomic int owner_pid; /* the process whose shim's thread or log this is */

/* bounded: take the monitor's lock within about a second or write nothing
 * (the _exit path must never hang). */
static int lock_monitor(int bounded)
{
    if (!bounded)
        return bp_monitor_lock(0);
    for (int i = 0; i < 1000; i++) {
        if (bp_monitor_lock(1) == 0)
            return 0;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return -1;
}

static void finish(int bounded)
{
    if (atomic_exchange(&finished, 1))
        return;
    bp_monitor_stop();
    /* The gate is not opened: parks are bounded, and waking parked daemon
     * threads while CPython tears itself down only lets them run into a
     * finalized interpreter (CPython 3.10 can crash there). */
    bp_gate_stop();
    if (lock_monitor(bounded))
        return; /* its CPU is reclaimed by the others once this process is gone */
    bp_registry_release();
    int reports = bp_log_enabled() || bp_opt(OPT_STATS);
    if (bp_options[OPT_METRICS_DIR].value) /* under the lock: no tick renames a new one in after */
        bp_metrics_file_remove(bp_options[OPT_METRICS_DIR].path);
    if (reports) {
        uint64_t now = bp_now_ns();
        /* The exit record lists the threads alive now; the last tick fills it. */
        struct bp_json *ej = bp_log_enabled() ? bp_report_exit_begin(now) : NULL;
        struct bp_figures lives = {0};
        const struct bp_run *run = bp_monitor_last_tick(now, ej, &lives);
        struct bp_figures tot = lives; /* every thread's, over its life */
        bp_figures_add(&tot, &run->ended);
        if (ej) {
            bp_report_exit_end(ej, now, run, &tot);
            bp_log_close();
        }
        if (bp_opt(OPT_STATS))
            bp_stats_print(now, run, &tot);
    }
    bp_monitor_unlock();
}

void bp_finish_at_exit(void)
{
    finish(0);
}

/* A process that leaves without exit's handlers (os._exit:
 * multiprocessing's children, many servers' workers) still writes its exit
 * record and gives its CPU back. Only in the process whose shim's thread or
 * log this is: the child of a fork or vfork that has neither (subprocess's
 * child before exec) passes straight through, writing nothing and
 * releasing nothing of its parent's. */
void bp_finish_exit_now(void)
{
    int owner = atomic_load(&owner_pid);
    if (!owner || !atomic_load(&bp_active) || getpid() != owner)
        return;
    finish(1);
}

void bp_finish_set_owner(void)
{
    atomic_store(&owner_pid, getpid());
}

void bp_finish_after_fork_child(void)
{
    atomic_store(&finished, 0);
    atomic_store(&owner_pid, 0);
}
