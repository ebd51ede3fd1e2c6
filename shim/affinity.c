/* GIL affinity's mechanics: moving the Python threads onto one CPU and back.
 * When to do it is bp_affinity_step's call (controller.c); the monitor acts.
 *
 * Only threads betapool recognised as Python threads move, and only while
 * their mask is the process's mask at start: a thread the program confined
 * itself is left alone, and so is every thread CPython did not create. An
 * unpin gives the process's mask back to the threads still on the chosen
 * CPU; one the program moved meanwhile keeps the mask it was given.
 *
 * Masks are inherited. A Python thread started by a pinned one follows the
 * pin (and is given the process's mask if the pin ended before it ran); any
 * other thread started by a pinned one gets the process's mask back at once,
 * and so does a process that a pinned thread forks, executes or spawns: only
 * Python threads ever run on one CPU because of betapool. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "controller.h"
#include "cpus.h"
#include "threads.h"

struct bp_affinity bp_aff = {.cpu = -1};
static struct bp_usable usable_cpus;

/* The CPUs the process may really use: its mask, its cgroup's cpuset and
 * quota (cpus.c). With one, or a quota under two CPUs, affinity has
 * nothing to give: bp_aff.usable is 0 and bp_aff.why says why. */
void bp_affinity_init(void)
{
    atomic_store(&bp_aff.cpu, -1);
    bp_aff.usable = 0;
    snprintf(bp_aff.why, sizeof bp_aff.why, "the process's affinity mask cannot be read");
    if (sched_getaffinity(0, sizeof bp_aff.allowed, &bp_aff.allowed) == 0) {
        bp_cpus_read("/sys/fs/cgroup", "/proc/self/cgroup", &bp_aff.allowed, &usable_cpus);
        bp_aff.usable = usable_cpus.usable;
        snprintf(bp_aff.why, sizeof bp_aff.why, "%s", usable_cpus.why);
    }
}

static int mask_of(pid_t tid, cpu_set_t *set)
{
    return sched_getaffinity(tid, sizeof *set, set);
}

static int set_mask(pid_t tid, const cpu_set_t *set)
{
    return sched_setaffinity(tid, sizeof *set, set);
}

/* A thread that took a sub-interpreter's GIL computes in parallel with the
 * main GIL's threads: it is never put on their CPU. */
static int live_python(const struct bp_thread *t)
{
    return atomic_load_explicit(&t->state, memory_order_acquire) == SLOT_LIVE && t->python &&
           !atomic_load(&t->other_gil_seen);
}

/* A pinned thread gets the process's mask back (and may be pinned again
 * later). */
static void release_one(struct bp_thread *t)
{
    cpu_set_t now;
    atomic_store(&t->aff, AFF_UNKNOWN);
    if (mask_of(t->tid, &now) == 0 && CPU_EQUAL(&now, &bp_aff.pin))
        set_mask(t->tid, &bp_aff.allowed);
}

/* A Python thread not yet looked at while pinned. Returns 1 if it moved. */
static int follow_one(struct bp_thread *t)
{
    cpu_set_t now;
    if (mask_of(t->tid, &now))
        return 0; /* it is ending */
    if (CPU_EQUAL(&now, &bp_aff.allowed) || (t->inherit_pin && CPU_COUNT(&now) == 1)) {
        if (set_mask(t->tid, &bp_aff.pin) == 0) {
            atomic_store(&t->aff, AFF_PINNED);
            /* It may have taken another GIL meanwhile (it sets its flag,
             * then gives a pin back; here the pin, then the flag). */
            if (atomic_load(&t->other_gil_seen)) {
                release_one(t);
                atomic_store(&t->aff, AFF_LEFT_ALONE);
                return 0;
            }
            return !CPU_EQUAL(&now, &bp_aff.pin);
        }
    }
    atomic_store(&t->aff, AFF_LEFT_ALONE);
    return 0;
}

/* Every live Python thread not yet looked at under this pin. With
 * spare_brief, brief threads stay on every CPU (and pinned ones that turned
 * brief get it back): next to computing threads on the one CPU, a thread
 * that wakes for the GIL briefly would wait for the CPU too (measured: the
 * main thread's 2 ms sleeps next to 32 computing workers overslept 3.6 ms
 * at the median pinned, 1.8 ms stock). Returns how many moved. */
static int follow_all(int spare_brief)
{
    int moved = 0;
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        if (!live_python(t))
            continue;
        int brief = spare_brief && atomic_load_explicit(&t->brief, memory_order_relaxed);
        int aff = atomic_load(&t->aff);
        if (brief && aff == AFF_PINNED)
            release_one(t);
        else if (!brief && aff == AFF_UNKNOWN)
            moved += follow_one(t);
    }
    return moved;
}

void bp_affinity_follow(int spare_brief)
{
    if (atomic_load(&bp_aff.cpu) >= 0)
        follow_all(spare_brief);
}

int bp_affinity_pin(int cpu, int spare_brief)
{
    CPU_ZERO(&bp_aff.pin);
    CPU_SET(cpu, &bp_aff.pin);
    atomic_store(&bp_aff.ever, 1);
    atomic_store(&bp_aff.cpu, cpu);
    return follow_all(spare_brief);
}

void bp_affinity_unpin(void)
{
    atomic_store(&bp_aff.cpu, -1); /* new threads see this before the walk can miss them */
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        if (!live_python(t))
            continue;
        int was = atomic_exchange(&t->aff, AFF_UNKNOWN);
        if (was == AFF_LEFT_ALONE || (was == AFF_UNKNOWN && !t->inherit_pin))
            continue;
        cpu_set_t now;
        if (mask_of(t->tid, &now) == 0 && CPU_EQUAL(&now, &bp_aff.pin))
            set_mask(t->tid, &bp_aff.allowed);
    }
}

/* In the new thread, right after it became live. */
void bp_affinity_thread_start(struct bp_thread *t)
{
    if (BP_LIKELY(!t->inherit_pin))
        return;
    if (!t->python) {
        set_mask(0, &bp_aff.allowed);
        return;
    }
    /* Live first, then read the pin: either the monitor's unpin walk sees
     * this thread, or this thread sees the unpin. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&bp_aff.cpu) < 0)
        set_mask(0, &bp_aff.allowed);
}

/* Before exec or spawn, and in a fork child. It writes no memory, so it is
 * safe in the child of vfork, which shares the parent's. */
int bp_affinity_release_self(void)
{
    if (BP_LIKELY(!atomic_load_explicit(&bp_aff.ever, memory_order_relaxed)))
        return 0;
    struct bp_thread *t = bp_self;
    if (!t || (atomic_load(&t->aff) != AFF_PINNED && !t->inherit_pin))
        return 0;
    cpu_set_t now;
    if (mask_of(0, &now) || !CPU_EQUAL(&now, &bp_aff.pin))
        return 0;
    return set_mask(0, &bp_aff.allowed) == 0;
}

/* After a spawn, in the thread that released its pin for it. */
void bp_affinity_retake_self(void)
{
    struct bp_thread *t = bp_self;
    if (t && atomic_load(&bp_aff.cpu) >= 0 && atomic_load(&t->aff) == AFF_PINNED)
        set_mask(0, &bp_aff.pin);
}

void bp_affinity_after_fork_child(void)
{
    bp_affinity_release_self();
    if (bp_self) {
        atomic_store(&bp_self->aff, AFF_UNKNOWN);
        bp_self->inherit_pin = 0;
    }
    atomic_store(&bp_aff.cpu, -1);
}

/* ---- CPU loads, from /proc/stat ---- */

static uint64_t prev_busy[CPU_SETSIZE], cur_busy[CPU_SETSIZE];
static uint64_t prev_ns, prev_proc_ns;
static int have_prev;
static char stat_buf[1 << 17];

/* Busy clock ticks per CPU: user, nice, system, irq, softirq. Not steal: on
 * a VM that is the hypervisor's, and pinning neither causes nor cures it.
 * Returns 0 when read. */
static int read_busy(void)
{
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t r;
    while (len < sizeof stat_buf - 1 && (r = read(fd, stat_buf + len, sizeof stat_buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    stat_buf[len] = 0;
    memset(cur_busy, 0, sizeof cur_busy);
    for (char *p = stat_buf; p && !strncmp(p, "cpu", 3); p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (p[3] < '0' || p[3] > '9')
            continue; /* the all-CPU line */
        char *e;
        unsigned long cpu = strtoul(p + 3, &e, 10);
        unsigned long long v[8] = {0};
        for (int i = 0; i < 8; i++)
            v[i] = strtoull(e, &e, 10);
        if (cpu < CPU_SETSIZE)
            cur_busy[cpu] = v[0] + v[1] + v[2] + v[5] + v[6];
    }
    return 0;
}

static double ours_last;

double bp_affinity_ours(void)
{
    return ours_last;
}

void bp_affinity_view(uint64_t now, const struct bp_reg_view *reg, struct bp_interval *in)
{
    struct bp_interval none;
    if (!in) { /* the first reading only */
        in = &none;
        in->ncpus = 0;
    }
    int pinned = atomic_load(&bp_aff.cpu);
    int n = usable_cpus.count > 0 ? usable_cpus.count : 1;
    in->coord = reg ? (int)reg->coord : COORD_NONE;
    in->ncpus = 0;
    in->others = 0.0;
    /* Every usable CPU, who holds it. */
    for (int c = 0; c < CPU_SETSIZE && in->ncpus < BP_VIEW_CPUS; c++) {
        if (!CPU_ISSET(c, &usable_cpus.set))
            continue;
        struct bp_cpu_view *v = &in->cpus[in->ncpus++];
        *v = (struct bp_cpu_view){.cpu = c};
        for (int i = 0; reg && reg->coord == COORD_OK && i < reg->n; i++)
            if (reg->o[i].cpu == c && !v->holder)
                v->holder = reg->o[i].pid;
    }
    struct timespec ts;
    if (read_busy() || clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
        return; /* loads unknown: no reason to move */
    uint64_t proc = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (have_prev && now > prev_ns) {
        double dt = (double)(now - prev_ns);
        double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);
        double ours = (double)(proc - prev_proc_ns) / dt;
        ours_last = ours;
        for (int i = 0; i < in->ncpus; i++) {
            struct bp_cpu_view *v = &in->cpus[i];
            int c = v->cpu;
            uint64_t ticks = cur_busy[c] >= prev_busy[c] ? cur_busy[c] - prev_busy[c] : 0;
            double busy = (double)ticks * tick_ns / dt;
            /* Not ours, nor of the processes in the registry: those
             * holding it, and a share of those holding no CPU (their
             * threads run everywhere, and they will hold one of their own
             * when one is free). */
            v->others = bp_cpu_others(c, busy, ours, pinned, n, reg);
            if (c == pinned)
                in->others = v->others;
        }
    }
    memcpy(prev_busy, cur_busy, sizeof prev_busy);
    prev_ns = now;
    prev_proc_ns = proc;
    have_prev = 1;
}
