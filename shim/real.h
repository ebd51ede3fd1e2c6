/* real.c: the functions betapool interposes, resolved in one place. */
#ifndef BETAPOOL_REAL_H
#define BETAPOOL_REAL_H

#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "common.h"

struct bp_real {
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
    int (*mutex_lock)(pthread_mutex_t *);
    int (*mutex_trylock)(pthread_mutex_t *);
    int (*mutex_unlock)(pthread_mutex_t *);
    int (*cond_init)(pthread_cond_t *, const pthread_condattr_t *);
    int (*cond_signal)(pthread_cond_t *);
    int (*cond_broadcast)(pthread_cond_t *); /* not hooked: the priority's hand-over */
    int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    int (*sem_wait)(sem_t *);
    int (*sem_timedwait)(sem_t *, const struct timespec *);
    int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                       char *const[], char *const[]);
    int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);
    int (*system)(const char *);
    FILE *(*popen)(const char *, const char *);
    void (*exit_)(int);  /* _exit */
    void (*Exit_)(int);  /* _Exit */
    unsigned long (*start_new_thread)(void (*)(void *), void *);
    int (*start_joinable_thread)(void (*)(void *), void *, void *, void *);
    _Atomic int resolved;
};
extern struct bp_real bp_real BP_HIDDEN;
void bp_real_resolve(void) BP_HIDDEN;
static inline void bp_real_ensure(void)
{
    if (BP_UNLIKELY(!atomic_load_explicit(&bp_real.resolved, memory_order_acquire)))
        bp_real_resolve();
}

#endif
