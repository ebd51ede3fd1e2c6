/* The per-thread table: a fixed array of records, recycled through a free
 * list, so memory stays bounded however many threads come and go. A slot is
 * reserved by pthread_create, made live by the thread itself, marked exited
 * by the thread's last act, and freed by the monitor once it has logged the
 * exit. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "threads.h"

struct bp_thread bp_threads[BP_MAX_THREADS];
_Atomic uint32_t bp_threads_high;
_Atomic uint64_t bp_threads_untracked;
__thread __attribute__((tls_model("initial-exec"))) struct bp_thread *bp_self;

const char *bp_via_name(int via)
{
    switch (via) {
    case VIA_MAIN:
        return "main";
    case VIA_START_ROUTINE:
        return "start_routine";
    case VIA_START_NEW_THREAD:
        return "PyThread_start_new_thread";
    case VIA_START_JOINABLE:
        return "PyThread_start_joinable_thread";
    default:
        return "none";
    }
}

#define NO_SLOT UINT32_MAX
/* The free list is short work under a spinlock of our own: pthread mutexes
 * are what we interpose, and thread creation is never a hot path. */
static atomic_flag free_lock = ATOMIC_FLAG_INIT;
static uint32_t free_head = NO_SLOT;

static void lock_free_list(void)
{
    while (atomic_flag_test_and_set_explicit(&free_lock, memory_order_acquire))
        sched_yield();
}

static void unlock_free_list(void)
{
    atomic_flag_clear_explicit(&free_lock, memory_order_release);
}

struct bp_thread *bp_thread_reserve(void)
{
    uint32_t i;
    lock_free_list();
    if (free_head != NO_SLOT) {
        i = free_head;
        free_head = bp_threads[i].next_free;
    } else {
        i = atomic_load_explicit(&bp_threads_high, memory_order_relaxed);
        if (i >= BP_MAX_THREADS) {
            unlock_free_list();
            atomic_fetch_add_explicit(&bp_threads_untracked, 1, memory_order_relaxed);
            return NULL;
        }
        atomic_store_explicit(&bp_threads_high, i + 1, memory_order_release);
    }
    unlock_free_list();
    struct bp_thread *t = &bp_threads[i];
    /* The slot is ours alone until it is published as live. */
    atomic_store_explicit(&t->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&t->phase, PH_OUTSIDE, memory_order_relaxed);
    atomic_store_explicit(&t->phase_start_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&t->handover_ns, 0, memory_order_relaxed);
    for (int p = 0; p < PH_COUNT; p++) {
        atomic_store_explicit(&t->acc_ns[p], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&t->takes, 0, memory_order_relaxed);
    atomic_store_explicit(&t->cond_waits, 0, memory_order_relaxed);
    atomic_store_explicit(&t->forced, 0, memory_order_relaxed);
    atomic_store_explicit(&t->favoured, 0, memory_order_relaxed);
    atomic_store_explicit(&t->asked, 0, memory_order_relaxed);
    t->asked_seen = 0;
    t->gil_step = 0; /* no take or drop under way (gil.h) */
    t->gil_other = 0;
    atomic_store_explicit(&t->other_gil_seen, 0, memory_order_relaxed);
    atomic_store_explicit(&t->brief, 1, memory_order_relaxed); /* until a hold says otherwise */
    t->hold_start_ns = t->hold_ns = t->drop_ns = 0;
    t->has_slot = 0;
    t->after_idle = 0;
    t->q_next = t->q_prev = NULL;
    t->python = 0;
    t->via = VIA_NONE;
    t->tid = 0;
    t->start_ns = t->exit_ns = t->exit_cpu_ns = 0;
    t->start_routine = NULL;
    t->start_arg = NULL;
    t->start_logged = 0;
    memset(&t->seen, 0, sizeof t->seen);
    atomic_store_explicit(&t->aff, AFF_UNKNOWN, memory_order_relaxed);
    t->inherit_pin = 0;
    atomic_store_explicit(&t->state, SLOT_RESERVED, memory_order_release);
    return t;
}

void bp_thread_release(struct bp_thread *t)
{
    uint32_t i = (uint32_t)(t - bp_threads);
    atomic_store_explicit(&t->state, SLOT_FREE, memory_order_release);
    lock_free_list();
    t->next_free = free_head;
    free_head = i;
    unlock_free_list();
}

void bp_thread_begin(struct bp_thread *t, uint64_t now)
{
    t->tid = gettid();
    t->start_ns = now;
    t->seen.ns = now;
    atomic_store_explicit(&t->phase_start_ns, now, memory_order_relaxed);
    atomic_store_explicit(&t->state, SLOT_LIVE, memory_order_release);
}

void bp_thread_end(struct bp_thread *t, uint64_t now, uint64_t cpu_ns)
{
    bp_phase_set(t, PH_OUTSIDE, now);
    t->exit_ns = now;
    t->exit_cpu_ns = cpu_ns;
    atomic_store_explicit(&t->state, SLOT_EXITED, memory_order_release);
}

void bp_thread_read(const struct bp_thread *t, uint64_t now, struct bp_times *out)
{
    for (;;) {
        uint32_t s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
        if (s1 & 1) {
            sched_yield();
            continue;
        }
        for (int p = 0; p < PH_COUNT; p++)
            out->acc_ns[p] = atomic_load_explicit(&t->acc_ns[p], memory_order_relaxed);
        out->phase = atomic_load_explicit(&t->phase, memory_order_relaxed);
        uint64_t start = atomic_load_explicit(&t->phase_start_ns, memory_order_relaxed);
        uint64_t handover = atomic_load_explicit(&t->handover_ns, memory_order_relaxed);
        out->takes = atomic_load_explicit(&t->takes, memory_order_relaxed);
        out->cond_waits = atomic_load_explicit(&t->cond_waits, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&t->seq, memory_order_relaxed) != s1)
            continue;
        if (out->phase == PH_HELD && handover > start) {
            /* In a drop since handover: held until then, waiting since. */
            uint64_t mid = handover < now ? handover : now;
            if (mid > start)
                out->acc_ns[PH_HELD] += mid - start;
            if (now > handover)
                out->acc_ns[PH_WAIT] += now - handover;
            out->phase = PH_WAIT;
        } else if (out->phase < PH_COUNT && now > start) {
            out->acc_ns[out->phase] += now - start;
        }
        return;
    }
}

/* In the child of fork() only the forking thread lives on: every other slot
 * is dropped without a log record (they belong to the parent). The forking
 * thread's record is kept; its start is this child's. */
void bp_threads_after_fork_child(uint64_t now)
{
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_relaxed);
    free_head = NO_SLOT;
    atomic_flag_clear(&free_lock);
    for (uint32_t i = high; i-- > 0;) {
        struct bp_thread *t = &bp_threads[i];
        if (t == bp_self) {
            t->tid = gettid();
            continue;
        }
        atomic_store_explicit(&t->state, SLOT_FREE, memory_order_relaxed);
        t->next_free = free_head;
        free_head = i;
    }
    struct bp_thread *t = bp_self;
    if (t) {
        uint32_t ph = atomic_load(&t->phase);
        t->start_logged = 0;
        t->start_ns = now;
        memset(&t->seen, 0, sizeof t->seen); /* the child's thread is a new task */
        t->seen.ns = now;
        t->seen.takes = atomic_load(&t->takes); /* the parent's, not the child's */
        t->seen.cond_waits = atomic_load(&t->cond_waits);
        for (int p = 0; p < PH_COUNT; p++)
            atomic_store(&t->acc_ns[p], 0);
        atomic_store(&t->forced, 0);
        atomic_store(&t->favoured, 0);
        atomic_store(&t->phase, ph);
        atomic_store(&t->phase_start_ns, now);
    }
}

uint64_t bp_thread_cpu_ns(pid_t tid)
{
    /* The kernel's CPU clock of a thread by its id: a dead thread gives an
     * error, never a crash (pthread_getcpuclockid on a freed handle could). */
    clockid_t id = (clockid_t)((~(unsigned)tid) << 3) | 6;
    struct timespec ts;
    if (clock_gettime(id, &ts))
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One field of a /proc stat file, counted after the ')' that ends the
 * command name. */
static int read_stat_field(const char *path, int field, char *out, size_t n)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    for (int f = 2; p && f < field; f++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    snprintf(out, n, "%.*s", (int)strcspn(p + 1, " "), p + 1);
    return 0;
}

int bp_threads_alone(void)
{
    char v[32], path[64];
    if (read_stat_field("/proc/self/stat", 20, v, sizeof v))
        return 0;
    int threads = atoi(v);
    if (threads == 1)
        return 1;
    if (threads != 2 || gettid() == getpid())
        return 0;
    /* A leader that ended with pthread_exit stays counted as a zombie. */
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    return read_stat_field(path, 3, v, sizeof v) == 0 && v[0] == 'Z';
}
