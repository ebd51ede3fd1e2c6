/* A concurrency stress of the core's shared state, for ThreadSanitizer
 * (scripts/test builds it in build-tsan, -Db_sanitize=thread). The Criterion
 * unit tests cannot run under TSan (Criterion's inheritable arena needs
 * address space TSan reserves: "Could not initialize inheritable arena",
 * Snaipe/Criterion#274), and they are single-threaded anyway.
 *
 * It plays the protocol threads.c documents, with real threads and random
 * timing: spawners reserve a slot and start a thread on it (pthread_create's
 * hook), each thread makes it live, moves through phases and marks it exited
 * (its own record only), and one monitor thread samples every live record
 * through the seqlock and frees exited ones. Meanwhile other threads report
 * mutex and cond inits to gil.c as CPython's create_gil would. It checks what
 * the monitor relies on -- a read is never torn, an exited thread's phases
 * add up to its life, every slot comes back -- and abort()s otherwise; TSan
 * reports any data race in the protocol.
 *
 * usage: stress_threads [threads per spawner] */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gil.h"
#include "threads.h"

#define SPAWNERS 3
#define IN_FLIGHT 6   /* threads a spawner keeps running at once */
#define GIL_NOTERS 2

static void fail(int line, const char *what)
{
    fprintf(stderr, "stress_threads.c:%d: broken: %s\n", line, what);
    abort();
}
#define CHECK(cond) ((cond) ? (void)0 : fail(__LINE__, #cond))

static _Atomic int spawners_done;
static _Atomic uint64_t started, exited_seen;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A thread started on a reserved slot, as hooks.c's start trampoline does. */
static void *worker(void *arg)
{
    struct bp_thread *t = arg;
    uint32_t seed = (uint32_t)(uintptr_t)t | 1u;
    bp_self = t;
    bp_thread_begin(t, bp_now_ns());
    int steps = (int)(rnd(&seed) % 200);
    for (int i = 0; i < steps; i++) {
        bp_phase_set(t, (enum bp_phase)(rnd(&seed) % PH_COUNT), bp_now_ns());
        if (rnd(&seed) % 16 == 0)
            sched_yield();
    }
    bp_thread_end(t, bp_now_ns(), (uint64_t)steps);
    bp_self = NULL;
    return NULL;
}

static void *spawner(void *arg)
{
    int n = *(int *)arg;
    pthread_t running[IN_FLIGHT];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k == IN_FLIGHT) {
            for (int j = 0; j < k; j++)
                CHECK(pthread_join(running[j], NULL) == 0);
            k = 0;
        }
        struct bp_thread *t = bp_thread_reserve();
        CHECK(t != NULL); /* far fewer than BP_MAX_THREADS at once */
        CHECK(atomic_load(&t->state) == SLOT_RESERVED);
        t->python = 1;
        t->via = VIA_START_ROUTINE;
        t->start_routine = worker;
        t->start_arg = t;
        if (pthread_create(&running[k], NULL, worker, t) != 0) {
            bp_thread_release(t); /* as the hook does when creation fails */
            continue;
        }
        k++;
        atomic_fetch_add(&started, 1);
    }
    for (int j = 0; j < k; j++)
        CHECK(pthread_join(running[j], NULL) == 0);
    atomic_fetch_add(&spawners_done, 1);
    return NULL;
}

static uint32_t last_phase[BP_MAX_THREADS]; /* monitor-private, per slot */

/* One sampling pass, as the monitor makes each interval. Returns the slots
 * still in use. */
static int sample(void)
{
    int in_use = 0;
    uint32_t high = atomic_load_explicit(&bp_threads_high, memory_order_acquire);
    CHECK(high <= BP_MAX_THREADS);
    for (uint32_t i = 0; i < high; i++) {
        struct bp_thread *t = &bp_threads[i];
        int st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == SLOT_RESERVED)
            in_use++;
        if (st != SLOT_LIVE && st != SLOT_EXITED)
            continue;
        in_use++;
        if (!t->start_logged) {
            t->start_logged = 1;
            CHECK(t->python == 1 && t->via == VIA_START_ROUTINE && t->start_arg == t);
            CHECK(t->tid > 0 && t->start_ns > 0);
        }
        uint64_t end = st == SLOT_EXITED ? t->exit_ns : bp_now_ns();
        struct bp_times tm;
        bp_thread_read(t, end, &tm);
        CHECK(tm.phase < PH_COUNT);
        /* A read counts the current phase up to `end`, which the owner's
         * own next timestamp may precede (the monitor clamps that); a phase
         * current in neither read was only ever added to. */
        uint64_t sum = 0;
        for (int p = 0; p < PH_COUNT; p++) {
            if (p != (int)tm.phase && p != (int)last_phase[i])
                CHECK(tm.acc_ns[p] >= t->seen.acc_ns[p]); /* no torn read */
            sum += tm.acc_ns[p];
        }
        if (st == SLOT_EXITED) {
            /* Every nanosecond of its life in exactly one phase. */
            CHECK(tm.phase == PH_OUTSIDE);
            CHECK(t->exit_ns >= t->start_ns && sum == t->exit_ns - t->start_ns);
            CHECK(t->exit_cpu_ns < 200);
            atomic_fetch_add(&exited_seen, 1);
            last_phase[i] = PH_OUTSIDE;
            bp_thread_release(t);
            continue;
        }
        memcpy(t->seen.acc_ns, tm.acc_ns, sizeof tm.acc_ns);
        last_phase[i] = tm.phase;
        t->seen.ns = end;
    }
    return in_use;
}

/* CPython's create_gil from several threads at once (sub-interpreters
 * with their own GIL): mutex inits of C+48 and C+136, then the cond init of
 * C. Each round every noter creates its own GIL at the same moment; whichever
 * is found, its four addresses must belong to one struct. */
#define GIL_ROUNDS 2000
struct fake_gil {
    char bytes[192];
};
static struct fake_gil gils[GIL_NOTERS];
static pthread_barrier_t gil_round;

static void *gil_noter(void *arg)
{
    int id = *(int *)arg;
    char *c = gils[id].bytes;
    for (int r = 0; r < GIL_ROUNDS; r++) {
        pthread_barrier_wait(&gil_round);
        bp_gil_note_mutex_init(c + BP_GIL_MUTEX_OFFSET);
        bp_gil_note_mutex_init(c + BP_GIL_SWITCH_MUTEX_OFFSET);
        bp_gil_note_cond_init(c);
        pthread_barrier_wait(&gil_round);
        if (atomic_load_explicit(&bp_gil.found, memory_order_acquire)) {
            char *known = atomic_load_explicit(&bp_gil.cond, memory_order_acquire);
            CHECK(known != NULL);
            CHECK(atomic_load_explicit(&bp_gil.mutex, memory_order_relaxed) ==
                  (void *)(known + BP_GIL_MUTEX_OFFSET));
            CHECK(atomic_load_explicit(&bp_gil.switch_mutex, memory_order_relaxed) ==
                  (void *)(known + BP_GIL_SWITCH_MUTEX_OFFSET));
        }
        pthread_barrier_wait(&gil_round);
        if (id == 0)
            bp_gil_reset(); /* as in a forked child: the next round starts blank */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int per = argc > 1 ? atoi(argv[1]) : 400;
    if (per <= 0)
        per = 400;
    pthread_t sp[SPAWNERS], gn[GIL_NOTERS];
    int ids[GIL_NOTERS];
    CHECK(pthread_barrier_init(&gil_round, NULL, GIL_NOTERS) == 0);
    for (int i = 0; i < SPAWNERS; i++)
        CHECK(pthread_create(&sp[i], NULL, spawner, &per) == 0);
    for (int i = 0; i < GIL_NOTERS; i++) {
        ids[i] = i;
        CHECK(pthread_create(&gn[i], NULL, gil_noter, &ids[i]) == 0);
    }
    /* This thread is the monitor. */
    for (;;) {
        int done = atomic_load(&spawners_done) == SPAWNERS;
        int in_use = sample();
        if (done && in_use == 0)
            break;
        sched_yield();
    }
    for (int i = 0; i < SPAWNERS; i++)
        CHECK(pthread_join(sp[i], NULL) == 0);
    for (int i = 0; i < GIL_NOTERS; i++)
        CHECK(pthread_join(gn[i], NULL) == 0);

    CHECK(atomic_load(&exited_seen) == atomic_load(&started));
    CHECK(atomic_load(&bp_threads_untracked) == 0);
    /* Every slot came back: the free list holds exactly the slots used. */
    uint32_t high = atomic_load(&bp_threads_high);
    CHECK(high < BP_MAX_THREADS);
    for (uint32_t i = 0; i < high; i++)
        CHECK(bp_thread_reserve() != NULL);
    CHECK(atomic_load(&bp_threads_high) == high);
    /* A racing stranger may have cost every GIL above a miss; one created
     * alone is always found. The first one found stays the GIL. */
    void *first = atomic_load(&bp_gil.cond);
    static struct fake_gil alone;
    bp_gil_note_mutex_init(alone.bytes + BP_GIL_MUTEX_OFFSET);
    bp_gil_note_mutex_init(alone.bytes + BP_GIL_SWITCH_MUTEX_OFFSET);
    bp_gil_note_cond_init(alone.bytes);
    CHECK(atomic_load(&bp_gil.found) == 1);
    CHECK(!first || atomic_load(&bp_gil.cond) == first);
    printf("stress_threads: %llu threads, %u slots, clean\n",
           (unsigned long long)atomic_load(&started), high);
    return 0;
}
