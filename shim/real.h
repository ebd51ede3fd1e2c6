/* real.c: the functions betapool interposes, filled in one place. */
#ifndef BETAPOOL_REAL_H
#define BETAPOOL_REAL_H

#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "common.h"

/* Every pointer is always callable: until resolved it is a first-call stub
 * that resolves the table (or, for CPython's entry points, looks in the
 * Python image) and forwards, or answers with its fallback (real.c). */
struct bp_real {
    int (*_Atomic pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*_Atomic mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
    int (*_Atomic mutex_lock)(pthread_mutex_t *);
    int (*_Atomic mutex_trylock)(pthread_mutex_t *);
    int (*_Atomic mutex_unlock)(pthread_mutex_t *);
    int (*_Atomic cond_init)(pthread_cond_t *, const pthread_condattr_t *);
    int (*_Atomic cond_destroy)(pthread_cond_t *);
    int (*_Atomic cond_signal)(pthread_cond_t *);
    int (*_Atomic cond_broadcast)(pthread_cond_t *); /* not hooked: the priority's hand-over */
    int (*_Atomic cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    int (*_Atomic sem_wait)(sem_t *);
    int (*_Atomic sem_timedwait)(sem_t *, const struct timespec *);
    int (*_Atomic sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
    int (*_Atomic execve)(const char *, char *const[], char *const[]);
    int (*_Atomic execv)(const char *, char *const[]);
    int (*_Atomic execvp)(const char *, char *const[]);
    int (*_Atomic execvpe)(const char *, char *const[], char *const[]);
    int (*_Atomic posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                               const posix_spawnattr_t *, char *const[], char *const[]);
    int (*_Atomic posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                                const posix_spawnattr_t *, char *const[], char *const[]);
    int (*_Atomic system)(const char *);
    FILE *(*_Atomic popen)(const char *, const char *);
    void (*_Atomic exit_)(int); /* _exit */
    void (*_Atomic Exit_)(int); /* _Exit */
    unsigned long (*_Atomic start_new_thread)(void (*)(void *), void *);
    int (*_Atomic start_joinable_thread)(void (*)(void *), void *, void *, void *);
    int (*_Atomic dl_find_object)(void *, void *); /* not hooked: glibc 2.35+, image.c */
    _Atomic int resolved;
};
extern struct bp_real bp_real BP_HIDDEN;
void bp_real_resolve(void) BP_HIDDEN;
/* A thread of betapool's own, which the program never sees: made with the
 * real pthread_create (no record, no hook), detached, every signal blocked. */
int bp_real_own_thread(void *(*fn)(void *), size_t stack) BP_HIDDEN;
static inline void bp_real_ensure(void)
{
    if (BP_UNLIKELY(!atomic_load_explicit(&bp_real.resolved, memory_order_acquire)))
        bp_real_resolve();
}

#endif
