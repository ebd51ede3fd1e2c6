/* affinity.c: moving Python threads onto one CPU and back. */
#ifndef BETAPOOL_AFFINITY_H
#define BETAPOOL_AFFINITY_H

#include <sched.h>

#include "common.h"
#include "threads.h"

struct bp_affinity {
    _Atomic int cpu;      /* the CPU the Python threads share now; -1: none */
    _Atomic int ever;     /* some thread was pinned in this process */
    int usable;           /* the process may run on two CPUs or more */
    cpu_set_t allowed;    /* the process's CPUs when it started */
    cpu_set_t pin;        /* the one CPU, while pinned */
};
extern struct bp_affinity bp_aff BP_HIDDEN;
void bp_affinity_init(void) BP_HIDDEN;
/* The monitor's side: CPU loads since the last call (-1 when unknown), then
 * pin, unpin, and pin the Python threads that started since. */
void bp_affinity_loads(uint64_t now, double *others_here, int *least_cpu, double *others_least) BP_HIDDEN;
/* spare_brief: leave brief threads on every CPU (the gate is shut: some
 * threads compute on the pinned CPU). */
int bp_affinity_pin(int cpu, int spare_brief) BP_HIDDEN; /* threads moved */
void bp_affinity_unpin(void) BP_HIDDEN;
/* The highest CPU the process may use. */
int bp_affinity_last_cpu(void) BP_HIDDEN;
void bp_affinity_follow(int spare_brief) BP_HIDDEN;
/* A new thread's side, and what must not inherit a pin: exec, spawn, fork. */
void bp_affinity_thread_start(struct bp_thread *t) BP_HIDDEN;
int bp_affinity_release_self(void) BP_HIDDEN; /* 1: this thread was pinned; its mask is back */
void bp_affinity_retake_self(void) BP_HIDDEN;
void bp_affinity_after_fork_child(void) BP_HIDDEN;

#endif
