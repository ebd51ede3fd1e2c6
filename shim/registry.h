/* registry.c: the machine-wide CPU registry. Its checks are pure and
 * unit-tested (registry_file.h); the rest runs on the shim's own thread
 * only (and at exit). */
#ifndef BETAPOOL_REGISTRY_H
#define BETAPOOL_REGISTRY_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"
#include "registry_file.h"

/* One file per user (registry_file.h: its layout and checks), one entry per
 * process under betapool whose shim's thread runs with affinity on. What a
 * read of it gives the monitor: */
enum bp_coord { COORD_NONE = 0, COORD_OK, COORD_BUSY };
struct bp_reg_other {
    int pid, cpu;
    double load; /* CPUs */
};
#define BP_REG_OTHERS 64
struct bp_reg_view {
    enum bp_coord coord;
    int n;
    struct bp_reg_other o[BP_REG_OTHERS]; /* other live processes, in slot order */
    int reclaimed;                        /* dead processes' entries cleared by this read */
};
/* Where the registry is: BETAPOOL_REGISTRY, else the user's runtime dir,
 * else /dev/shm with the uid in the name; note says why the registry cannot
 * be used, once per reason. Called at start. */
void bp_registry_init(const char *path_option, void (*note)(const char *level, const char *msg)) BP_HIDDEN;
const char *bp_registry_path(void) BP_HIDDEN;
/* Lock (a bounded wait), read, check, reclaim dead processes' entries.
 * With COORD_OK the lock is held until bp_registry_commit. A note says why
 * once when the registry cannot be used. */
void bp_registry_begin(struct bp_reg_view *v) BP_HIDDEN;
/* Write this process's entry (cpu -1: holds none) and unlock. */
void bp_registry_commit(int cpu, double load) BP_HIDDEN;
/* At exit: remove this process's entry (bounded wait; never blocks long). */
void bp_registry_release(void) BP_HIDDEN;
/* In a fork child: the parent's file and entry are the parent's. */
void bp_registry_after_fork_child(void) BP_HIDDEN;

#endif
