/* affinity.c: moving Python threads onto one CPU and back. */
#ifndef BETAPOOL_AFFINITY_H
#define BETAPOOL_AFFINITY_H

#include <sched.h>

#include "common.h"
#include "threads.h"

struct bp_affinity {
    _Atomic int cpu;      /* the CPU the Python threads share now; -1: none */
    _Atomic int ever;     /* some thread was pinned in this process */
    int usable;           /* the process may use two CPUs or more (mask, cpuset, quota) */
    char why[160];        /* why not */
    cpu_set_t allowed;    /* the process's CPUs when it started */
    cpu_set_t pin;        /* the one CPU, while pinned */
};
extern struct bp_affinity bp_aff BP_HIDDEN;
void bp_affinity_init(void) BP_HIDDEN;
/* The monitor's side: the usable CPUs, who holds each (the registry's view,
 * NULL: none) and other processes' loads since the last call, into the
 * controller's input; then pin, unpin, and pin the Python threads that
 * started since. */
struct bp_interval;
struct bp_reg_view;
void bp_affinity_view(uint64_t now, const struct bp_reg_view *reg, struct bp_interval *in) BP_HIDDEN;
/* (in NULL: take the first reading of the loads only.) */
double bp_affinity_ours(void) BP_HIDDEN; /* the process's CPU use over the last interval, in CPUs */
/* spare_brief: leave brief threads on every CPU (the gate is shut: some
 * threads compute on the pinned CPU). */
int bp_affinity_pin(int cpu, int spare_brief) BP_HIDDEN; /* threads moved */
void bp_affinity_unpin(void) BP_HIDDEN;
void bp_affinity_follow(int spare_brief) BP_HIDDEN;
/* A new thread's side, and what must not inherit a pin: exec, spawn, fork. */
void bp_affinity_thread_start(struct bp_thread *t) BP_HIDDEN;
int bp_affinity_release_self(void) BP_HIDDEN; /* 1: this thread was pinned; its mask is back */
void bp_affinity_retake_self(void) BP_HIDDEN;
void bp_affinity_after_fork_child(void) BP_HIDDEN;

#endif
