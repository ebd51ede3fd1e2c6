/* cpus.c: the CPUs a process can use (affinity mask, cgroup v2 cpuset and
 * cpu.max), and other processes' share of each. Parsers pure, unit-tested. */
#ifndef BETAPOOL_CPUS_H
#define BETAPOOL_CPUS_H

#include <sched.h>
#include <stddef.h>

#include "common.h"
#include "registry.h" /* struct bp_reg_view: the registry's claims and loads */

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
/* Other processes' share of CPU cpu over an interval in which it was busy
 * `busy` (CPUs) and this process used `ours` (pinned to pinned_cpu, or -1:
 * spread over n CPUs): what is left once this process and those in the
 * registry are taken out (a holder's load on its own CPU, an unpinned
 * one's spread over n). Never below 0. */
double bp_cpu_others(int cpu, double busy, double ours, int pinned_cpu, int n, const struct bp_reg_view *reg) BP_HIDDEN;

#endif
