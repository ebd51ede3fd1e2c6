/* hooks.c: the interposers. */
#ifndef BETAPOOL_HOOKS_H
#define BETAPOOL_HOOKS_H

#include <pthread.h>

#include "common.h"

/* The hooks do their work only when set (shim.c sets it once this is a
 * CPython process betapool measures). */
extern _Atomic int bp_active BP_HIDDEN;

/* Our own thread-start hooks (hooks_threads.c), by hidden aliases: a plain
 * reference to the exported name would bind to the executable's definition
 * when it has one (python.c asks which one is bound). */
unsigned long bp_own_start_new_thread(void (*func)(void *), void *arg) BP_HIDDEN;
int bp_own_start_joinable_thread(void (*func)(void *), void *arg, void *ident, void *handle) BP_HIDDEN;

/* hooks_subinterp.c: pthread_mutex_lock and unlock when sub-interpreters
 * have GILs of their own (bp_gil.others): the same take/drop rules on the
 * GIL m belongs to, or the real call. */
int bp_other_gil_lock(pthread_mutex_t *m) BP_HIDDEN;
int bp_other_gil_unlock(pthread_mutex_t *m) BP_HIDDEN;

/* hooks_cond.c: a take that starts with M got and the GIL free while a
 * waiter of a higher class waits leaves it to that one (the directed
 * hand-off). Returns 1 when the thread waited. */
struct bp_thread;
int bp_handoff_take_begin(struct bp_thread *t, pthread_mutex_t *m, uint64_t now) BP_HIDDEN;

#endif
