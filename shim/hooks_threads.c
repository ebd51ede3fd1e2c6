/* The interposers that see threads come and go, and wait: pthread_create
 * (a thread's record, and whether CPython started it), CPython's own
 * thread-start entry points, and the semaphores Python's locks and queues
 * wait on (a thread idle, not blocked in I/O). Thin, as every hook: no
 * allocation, no loader lock, no logging, no Python. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "affinity.h"
#include "clock.h"
#include "finish.h"
#include "gate.h"
#include "hooks.h"
#include "monitor.h"
#include "python.h"
#include "real.h"
#include "report.h"
#include "threads.h"

#define HOOK __attribute__((visibility("default")))
#define CALLER() __builtin_return_address(0)

/* Set by the CPython thread-start hooks for the pthread_create they make. */
static __thread __attribute__((tls_model("initial-exec"))) uint8_t start_via;

/* ---- thread start and exit ---- */

static void thread_finish(void *arg)
{
    struct bp_thread *t = arg;
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    if (t->has_slot)
        bp_gate_release(t);
    bp_thread_end(t, bp_now_ns(), (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec);
    bp_self = NULL;
}

static void *thread_trampoline(void *arg)
{
    struct bp_thread *t = arg;
    void *(*fn)(void *) = t->start_routine;
    void *fn_arg = t->start_arg;
    void *ret;
    bp_self = t;
    bp_thread_begin(t, bp_now_ns());
    bp_affinity_thread_start(t);
    /* Runs on return, pthread_exit (CPython's exit at finalization) and
     * cancellation alike. */
    pthread_cleanup_push(thread_finish, t);
    ret = fn(fn_arg);
    pthread_cleanup_pop(1);
    return ret;
}

HOOK int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    uint8_t via = start_via;
    start_via = 0;
    /* A Python that arrived after start, seen starting a thread (its GIL
     * made before betapool saw it: the log says so). */
    if (BP_UNLIKELY(atomic_load_explicit(&bp_python_waiting, memory_order_relaxed)) &&
        !bp_python_arrive((const void *)fn, "pthread_create"))
        bp_python_arrive(CALLER(), "pthread_create");
    if (!atomic_load_explicit(&bp_active, memory_order_relaxed))
        return bp_real.pthread_create(th, attr, fn, arg);
    if (BP_UNLIKELY(bp_report_reopen_in_child()))
        bp_finish_set_owner(); /* its _exit writes this log's exit record */
    struct bp_thread *t = bp_thread_reserve();
    if (!t)
        return bp_real.pthread_create(th, attr, fn, arg);
    int in_image = bp_in_python((const void *)fn);
    t->python = via || in_image;
    t->via = via ? via : (in_image ? VIA_START_ROUTINE : VIA_NONE);
    t->start_routine = fn;
    t->start_arg = arg;
    struct bp_thread *self = bp_self;
    t->inherit_pin = self && atomic_load_explicit(&self->aff, memory_order_relaxed) == AFF_PINNED;
    /* In a host that loaded Python later, its own threads run the Python
     * code (uWSGI's request threads): the first one starts the monitor. */
    if ((t->python || bp_python.late) && bp_monitor_ensure())
        bp_finish_set_owner(); /* its _exit writes the last records */
    int rc = bp_real.pthread_create(th, attr, thread_trampoline, t);
    if (rc)
        bp_thread_release(t);
    return rc;
}

/* CPython's own entry points, where its build lets calls reach us. They
 * only mark the pthread_create they are about to make. */
HOOK unsigned long PyThread_start_new_thread(void (*func)(void *), void *arg)
{
    if (BP_UNLIKELY(atomic_load_explicit(&bp_python_waiting, memory_order_relaxed)))
        bp_python_arrive(CALLER(), "PyThread_start_new_thread");
    bp_python.hooked_start_new = 1;
    int outer = start_via == 0;
    if (outer)
        start_via = VIA_START_NEW_THREAD;
    unsigned long r = bp_real.start_new_thread(func, arg);
    if (outer)
        start_via = 0;
    return r;
}

/* Our own definitions' addresses, which a plain reference would not give
 * where the executable defines the same names (it comes first). */
extern __typeof__(PyThread_start_new_thread) bp_own_start_new_thread
    __attribute__((alias("PyThread_start_new_thread"), visibility("hidden")));

HOOK int PyThread_start_joinable_thread(void (*func)(void *), void *arg, void *ident, void *handle)
{
    if (BP_UNLIKELY(atomic_load_explicit(&bp_python_waiting, memory_order_relaxed)))
        bp_python_arrive(CALLER(), "PyThread_start_joinable_thread");
    bp_python.hooked_start_joinable = 1;
    int outer = start_via == 0;
    if (outer)
        start_via = VIA_START_JOINABLE;
    int r = bp_real.start_joinable_thread(func, arg, ident, handle);
    if (outer)
        start_via = 0;
    return r;
}

extern __typeof__(PyThread_start_joinable_thread) bp_own_start_joinable_thread
    __attribute__((alias("PyThread_start_joinable_thread"), visibility("hidden")));

/* ---- Python-level waits: locks, queues, events, conditions ---- */

/* A wait on a semaphore made by CPython while this thread is outside the
 * GIL is a Python thread waiting for work or a lock: idle, not I/O. */
static inline struct bp_thread *idle_begin(const void *caller)
{
    struct bp_thread *t = bp_self;
    if (!t || !bp_in_python(caller) ||
        atomic_load_explicit(&t->phase, memory_order_relaxed) != PH_OUTSIDE)
        return NULL;
    /* A worker waiting for work must not keep others from the GIL; the
     * main thread waiting on a lock may be waiting for a parked worker. */
    if (t->has_slot)
        bp_gate_release(t);
    else if (t->via == VIA_MAIN && atomic_load_explicit(&bp_gate.parked, memory_order_relaxed) > 0)
        bp_gate_boost();
    bp_phase_set(t, PH_IDLE, bp_now_ns());
    return t;
}

static inline void idle_end(struct bp_thread *t)
{
    if (t) {
        bp_phase_set(t, PH_OUTSIDE, bp_now_ns());
        t->after_idle = 1; /* its next take starts new work */
    }
}

HOOK int sem_wait(sem_t *s)
{
    struct bp_thread *t = idle_begin(CALLER());
    int r = bp_real.sem_wait(s);
    idle_end(t);
    return r;
}

HOOK int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    struct bp_thread *t = idle_begin(CALLER());
    int r = bp_real.sem_timedwait(s, abstime);
    idle_end(t);
    return r;
}

HOOK int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
    struct bp_thread *t = idle_begin(CALLER());
    int r = bp_real.sem_clockwait(s, clock, abstime);
    idle_end(t);
    return r;
}
