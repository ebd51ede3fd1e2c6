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
#include "finish.h"
#include "gate.h"
#include "gil.h"
#include "handoff.h"
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
    bp_finish_after_fork_child();
    bp_affinity_after_fork_child();
    bp_gate_after_fork_child();
    bp_handoff_after_fork_child();
    bp_threads_after_fork_child(now);
}

/* Everything that makes betapool measure and act in a CPython process:
 * options, clock, log, the calling thread's record. Once per process: from
 * the constructor when Python is there at start, else from the hook that
 * first sees a Python image that arrived later (python.c), on the thread
 * that called into it - the Python image's own call (creating its GIL,
 * say), never an allocator's. */
static _Atomic int activation; /* 0: not yet, 1: under way, 2: done */

void bp_shim_activate(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&activation, &expected, 1))
        return;
    bp_options_load(env, warn_option);
    bp_clock_init(bp_opt(OPT_CLOCK) == CLOCKSEL_AUTO);
    if (bp_opt(OPT_VERBOSE))
        print_options();
    if (bp_opt(OPT_MODE) == MODE_OFF) {
        if (bp_opt(OPT_VERBOSE))
            bp_say("mode off: every call passes through");
        atomic_store(&activation, 2);
        return;
    }
    struct bp_thread *main_thread = bp_thread_reserve();
    if (!main_thread) {
        atomic_store(&activation, 2);
        return;
    }
    uint64_t now = bp_now_ns();
    main_thread->python = 1;
    main_thread->via = VIA_MAIN;
    bp_self = main_thread;
    bp_thread_begin(main_thread, bp_python.late ? now : bp_t0_ns);
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
    /* The gate starts open: the controller shuts it when parking pays. */
    bp_gate_configure(0, (int)bp_opt(OPT_MIN_WORKERS));
    if (bp_opt(OPT_MODE) == MODE_AUTO && bp_opt(OPT_PRIORITY) == CHOICE_AUTO)
        bp_priority_ns = (uint64_t)bp_opt(OPT_PRIORITY_US) * 1000u;
    bp_handoff_on = bp_opt(OPT_HANDOFF) == HANDOFF_AUTO || bp_opt(OPT_HANDOFF) == HANDOFF_DIRECTED;
    bp_handoff_ask_at_once = bp_opt(OPT_HANDOFF) == HANDOFF_AUTO || bp_opt(OPT_HANDOFF) == HANDOFF_ASK;
    bp_affinity_init();
    bp_registry_init(bp_options[OPT_REGISTRY].value ? bp_options[OPT_REGISTRY].path : NULL, bp_note);
    bp_finish_set_owner();
    if (bp_opt(OPT_VERBOSE) && bp_opt(OPT_MODE) == MODE_AUTO && bp_opt(OPT_AFFINITY) == CHOICE_AUTO &&
        !bp_aff.usable)
        bp_say("the process may run on one CPU only: affinity has nothing to do");
    if (bp_python.late) {
        char msg[200];
        snprintf(msg, sizeof msg, "the Python image arrived after start (dlopen): betapool recognised it at %s "
                 "and measures from there", bp_python.arrived_at);
        bp_note("info", msg);
    }
    atomic_store(&bp_active, 1);
    atomic_store(&activation, 2);
    if (bp_opt(OPT_VERBOSE))
        bp_say("python image found%s; measuring (mode %s)", bp_python.late ? " after start" : "",
               bp_options[OPT_MODE].choices[bp_opt(OPT_MODE)]);
}

__attribute__((constructor)) static void bp_init(void)
{
    bp_real_ensure();
    bp_t0_ns = bp_now_ns();
    /* Registered in every process: a Python that arrives later is
     * activated inside a hook, where registering would allocate. */
    pthread_atfork(NULL, NULL, after_fork_child);
    bp_python_detect();
    if (!bp_python.is_python) {
        /* Not CPython, yet: invisible until a Python image arrives. */
        atomic_store(&bp_python_waiting, 1);
        return;
    }
    bp_shim_activate();
}

__attribute__((destructor)) static void bp_fini(void)
{
    if (atomic_load(&bp_active))
        bp_finish_at_exit();
}
