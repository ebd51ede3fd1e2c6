/* Start and end of betapool in a process: decide whether this is CPython,
 * read the options, register the main thread, open the log and start the
 * shim's thread; at exit, write the last records. In any other process the
 * shim stays inert: hooks pass straight through. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "affinity.h"
#include "api.h"
#include "clock.h"
#include "gate.h"
#include "gil.h"
#include "hooks.h"
#include "log.h"
#include "monitor.h"
#include "options.h"
#include "python.h"
#include "real.h"
#include "registry.h"
#include "report.h"
#include "threads.h"

static void warn_option(const char *msg)
{
    bp_warn("%s", msg);
}

static const char *env(const char *name)
{
    return secure_getenv(name);
}

static void print_options(void)
{
    for (int i = 0; i < OPT_COUNT; i++) {
        char val[600];
        bp_option_format(&bp_options[i], val, sizeof val);
        bp_say("option %-12s = %s%s", bp_options[i].name, val, bp_options[i].from_env ? "" : " (default)");
    }
}

/* In a fork child only the forking thread lives: every module forgets the
 * parent's other threads, locks and log. */
static void after_fork_child(void)
{
    if (!atomic_load(&bp_active))
        return;
    uint64_t now = bp_now_ns();
    bp_log_forget();
    bp_report_after_fork_child(now);
    bp_metrics_after_fork_child();
    bp_monitor_after_fork_child();
    bp_affinity_after_fork_child();
    bp_gate_after_fork_child();
    bp_threads_after_fork_child(now);
}

__attribute__((constructor)) static void bp_init(void)
{
    bp_real_ensure();
    bp_t0_ns = bp_now_ns();
    bp_python_detect();
    if (!bp_python.is_python)
        return; /* not CPython: invisible */
    bp_options_load(env, warn_option);
    bp_clock_init(bp_opt(OPT_CLOCK) == CLOCKSEL_AUTO);
    if (bp_opt(OPT_VERBOSE))
        print_options();
    if (bp_opt(OPT_MODE) == MODE_OFF) {
        if (bp_opt(OPT_VERBOSE))
            bp_say("mode off: every call passes through");
        return;
    }
    struct bp_thread *main_thread = bp_thread_reserve();
    if (!main_thread)
        return;
    main_thread->python = 1;
    main_thread->via = VIA_MAIN;
    bp_self = main_thread;
    bp_thread_begin(main_thread, bp_t0_ns);
    if (bp_options[OPT_LOG].value) {
        char used[600], err[700];
        if (bp_log_open(bp_options[OPT_LOG].path, used, sizeof used, err, sizeof err))
            bp_warn("%s; running on without a log", err);
        else if (strcmp(used, bp_options[OPT_LOG].path) && !strstr(bp_options[OPT_LOG].path, "%p")) {
            char msg[800];
            snprintf(msg, sizeof msg, "log path in use by another process; this one writes %s", used);
            bp_note("warning", msg);
            if (bp_opt(OPT_VERBOSE))
                bp_say("%s", msg);
        }
    }
    pthread_atfork(NULL, NULL, after_fork_child);
    /* The gate starts open: the controller shuts it when parking pays. */
    bp_gate_configure(0, (int)bp_opt(OPT_MIN_WORKERS));
    if (bp_opt(OPT_MODE) == MODE_AUTO && bp_opt(OPT_PRIORITY) == CHOICE_AUTO)
        bp_priority_ns = (uint64_t)bp_opt(OPT_PRIORITY_US) * 1000u;
    bp_affinity_init();
    bp_registry_init(bp_options[OPT_REGISTRY].value ? bp_options[OPT_REGISTRY].path : NULL, bp_note);
    bp_monitor_set_owner();
    if (bp_opt(OPT_VERBOSE) && bp_opt(OPT_MODE) == MODE_AUTO && bp_opt(OPT_AFFINITY) == CHOICE_AUTO &&
        !bp_aff.usable)
        bp_say("the process may run on one CPU only: affinity has nothing to do");
    atomic_store(&bp_active, 1);
    if (bp_opt(OPT_VERBOSE))
        bp_say("python image found; measuring (mode %s)", bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)]);
}

__attribute__((destructor)) static void bp_fini(void)
{
    if (atomic_load(&bp_active))
        bp_monitor_stop_and_finish();
}
