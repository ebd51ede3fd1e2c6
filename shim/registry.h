/* The usable CPUs (cpus.c) and the machine-wide CPU registry (registry.c).
 * Parsers and checks are pure and unit-tested; the rest runs on the shim's
 * own thread only (and at exit). */
#ifndef BETAPOOL_REGISTRY_H
#define BETAPOOL_REGISTRY_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"
#include "registry_file.h"

/* ---- cpus.c ---- */
struct bp_usable {
    cpu_set_t set; /* the affinity mask, within the cgroup's cpuset */
    int count;
    double quota;  /* cpu.max in CPUs; 0: no quota */
    int usable;    /* two CPUs or more, and a quota of two or more */
    char why[160]; /* when not usable */
};
/* "0-3,5\n" -> set; 0, or -1 for anything else. */
int bp_cpulist_parse(const char *s, cpu_set_t *out) BP_HIDDEN;
/* cpu.max: "max 100000" -> 0 (no quota), "150000 100000" -> 1.5; -1 if garbage. */
int bp_cpumax_parse(const char *s, double *cpus) BP_HIDDEN;
/* /proc/self/cgroup's cgroup v2 path ("0::/a/b"); -1 if none or unsafe. */
int bp_cgroup_v2_path(const char *text, char *out, size_t n) BP_HIDDEN;
/* Combine what was read. */
void bp_cpus_usable(const cpu_set_t *mask, const cpu_set_t *cpuset, int have_cpuset, double quota,
                    struct bp_usable *out) BP_HIDDEN;
/* Read root (e.g. /sys/fs/cgroup) as proc_cgroup places the process;
 * returns 0 when a cgroup v2 path was found, -1 otherwise (out is filled
 * from the mask alone then). */
int bp_cpus_read(const char *root, const char *proc_cgroup, const cpu_set_t *mask, struct bp_usable *out) BP_HIDDEN;

/* ---- registry.c ----
 *
 * One file per user (registry_file.h: its layout and checks), one entry per
 * process under betapool whose shim's thread runs with affinity on. */
/* The monitor's side. */
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
/* Other processes' share of CPU cpu over an interval in which it was busy
 * `busy` (CPUs) and this process used `ours` (pinned to pinned_cpu, or -1:
 * spread over n CPUs): what is left once this process and those in the
 * registry are taken out (a holder's load on its own CPU, an unpinned
 * one's spread over n). Never below 0. */
double bp_cpu_others(int cpu, double busy, double ours, int pinned_cpu, int n, const struct bp_reg_view *reg) BP_HIDDEN;
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
