/* registry_file.c: the CPU registry's file as it lies on disk, and the
 * checks of what other processes wrote in it. Pure but for the reads of
 * /proc; unit-tested. */
#ifndef BETAPOOL_REGISTRY_FILE_H
#define BETAPOOL_REGISTRY_FILE_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* One file per user, fixed size: a header and BP_REG_SLOTS entries, one per
 * process under betapool whose shim's thread runs with affinity on. An
 * entry says which CPU the process holds (-1: none) and how much CPU it
 * used in its last interval. Every field is checked on every read. */
#define BP_REG_MAGIC "BPCPUS01"
#define BP_REG_VERSION 1u
#define BP_REG_SLOTS 127
#define BP_REG_SIZE 4096
#define BP_PID_MAX 4194304 /* the kernel's PID_MAX_LIMIT on 64-bit */
struct bp_reg_entry {
    int32_t pid;      /* 0: free */
    int32_t cpu;      /* held CPU, or -1 */
    uint64_t start;   /* the process's start time (/proc/PID/stat field 22): defeats pid reuse */
    uint32_t load;    /* CPU used over its last interval, thousandths of one CPU */
    uint32_t reserved;
    uint64_t stamp;   /* seconds since the epoch of its last update (for people reading it) */
};
struct bp_reg_file {
    char magic[8];
    uint32_t version;
    uint32_t slots;
    struct bp_reg_entry e[BP_REG_SLOTS];
};
_Static_assert(sizeof(struct bp_reg_file) <= BP_REG_SIZE, "registry layout");

/* Check a file's bytes: 0 when every field is within bounds (a free slot is
 * all zero), -1 with why. */
int bp_reg_check(const void *buf, size_t len, char *why, size_t n) BP_HIDDEN;
/* A process's start time from the text of /proc/PID/stat; 0 if unreadable. */
uint64_t bp_stat_start_time(const char *stat_text) BP_HIDDEN;
/* 1: process pid runs and started at start (or /proc cannot tell: its
 * claim is kept); 0: it is gone, a zombie, or pid names another process. */
int bp_reg_alive(int pid, uint64_t start) BP_HIDDEN;
/* This process's start time; 0 if /proc cannot tell. */
uint64_t bp_reg_own_start(void) BP_HIDDEN;

#endif
