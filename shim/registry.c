/* The machine-wide CPU registry: processes under betapool agree on CPUs.
 *
 * Each process decides alone which CPU its Python threads share; two that
 * pick the same one put two GILs on one CPU and lose (two gunicorn workers
 * both pinned to cpu 1 ran at 0.61-0.81x stock). The registry says which
 * CPUs other processes hold, so each claims a free one, or none.
 *
 * It is one file per user (processes of one user can only move their own
 * threads and see each other's /proc entries; another user's claims could
 * neither be checked nor trusted): BETAPOOL_REGISTRY, else
 * $XDG_RUNTIME_DIR/betapool-cpus, else /dev/shm/betapool-cpus-UID. It is
 * input from other processes, so it is untrusted:
 * - opened with O_NOFOLLOW (never through a symlink), created with O_EXCL
 *   and mode 0600; used only while fstat says a regular file, owned by us,
 *   no group or other permission, of the registry's size;
 * - every field is bounds-checked at every read; a corrupt file means no
 *   coordination (one note in the log), never a wrong pin;
 * - every entry is checked against /proc: a process that is gone, or whose
 *   pid now names a younger process (its start time differs), holds
 *   nothing, and its entry is cleared (kill -9 frees its CPU at the next
 *   interval of any other process).
 * Updates are read-modify-write under flock(LOCK_EX), taken only on the
 * shim's own thread (and at exit), with LOCK_NB and a few 1 ms retries:
 * a busy lock skips coordination for one interval, it never blocks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

static char reg_path[512];
static int reg_fd = -1;
static int reg_locked;
static int reg_slot = -1;        /* our entry, while we have one */
static uint64_t self_start;      /* our start time, read once per process */
static int self_pid;
static char note_said[200];      /* the last reason given for no coordination */
static struct bp_reg_file file;  /* the copy read under the lock */
static void (*note_fn)(const char *level, const char *msg);

#define LOCK_TRIES 10

void bp_registry_init(const char *path_option, void (*note)(const char *level, const char *msg))
{
    note_fn = note;
    if (path_option && *path_option) {
        snprintf(reg_path, sizeof reg_path, "%s", path_option);
        return;
    }
    const char *run = secure_getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (run && run[0] == '/' && strlen(run) < sizeof reg_path - 32 && stat(run, &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == geteuid() && (st.st_mode & 077) == 0)
        snprintf(reg_path, sizeof reg_path, "%s/betapool-cpus", run);
    else
        snprintf(reg_path, sizeof reg_path, "/dev/shm/betapool-cpus-%u", (unsigned)geteuid());
}

const char *bp_registry_path(void)
{
    return reg_path;
}

/* Once per reason: no coordination, and why. */
static void no_coordination(const char *why)
{
    if (!strcmp(note_said, why))
        return;
    snprintf(note_said, sizeof note_said, "%s", why);
    char msg[240];
    snprintf(msg, sizeof msg, "cpu registry %.100s: %.80s; no coordination with other processes", reg_path, why);
    if (note_fn)
        note_fn("warning", msg);
}

static void close_fd(void)
{
    if (reg_fd >= 0)
        close(reg_fd);
    reg_fd = -1;
    reg_locked = 0;
    reg_slot = -1;
}

static int open_fd(void)
{
    if (reg_fd >= 0)
        return 0;
    if (!reg_path[0])
        return -1;
    int created = 0;
    int fd = open(reg_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        fd = open(reg_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        created = fd >= 0;
        if (fd < 0 && errno == EEXIST)
            fd = open(reg_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    }
    if (fd < 0) {
        char why[120];
        snprintf(why, sizeof why, "cannot open it (%s)", errno == ELOOP ? "a symlink" : strerror(errno));
        no_coordination(why);
        return -1;
    }
    if (created && fchmod(fd, 0600)) {
        close(fd);
        no_coordination("cannot set its mode");
        return -1;
    }
    reg_fd = fd;
    return 0;
}

/* The file is ours, regular, private, and (once created) of its size. */
static int trusted(char *why, size_t n)
{
    struct stat st;
    if (fstat(reg_fd, &st)) {
        snprintf(why, n, "cannot stat it");
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, n, "not a regular file");
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, n, "owned by uid %u, not this process's %u", (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(why, n, "mode %03o lets others write or read it", (unsigned)(st.st_mode & 0777));
        return -1;
    }
    if (st.st_size != 0 && st.st_size != BP_REG_SIZE) {
        snprintf(why, n, "size %lld, not %d", (long long)st.st_size, BP_REG_SIZE);
        return -1;
    }
    return st.st_size == 0 ? 1 : 0;
}

static int lock_bounded(void)
{
    for (int i = 0; i < LOCK_TRIES; i++) {
        if (flock(reg_fd, LOCK_EX | LOCK_NB) == 0) {
            reg_locked = 1;
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 1;
}

static void unlock(void)
{
    if (reg_locked)
        flock(reg_fd, LOCK_UN);
    reg_locked = 0;
}

static int write_entry(int i)
{
    off_t at = (off_t)offsetof(struct bp_reg_file, e) + (off_t)i * (off_t)sizeof file.e[0];
    return pwrite(reg_fd, &file.e[i], sizeof file.e[i], at) == (ssize_t)sizeof file.e[i] ? 0 : -1;
}

void bp_registry_begin(struct bp_reg_view *v)
{
    v->coord = COORD_NONE;
    v->n = 0;
    v->reclaimed = 0;
    int pid = getpid();
    if (pid != self_pid || !self_start) {
        self_pid = pid;
        self_start = bp_reg_own_start();
        reg_slot = -1;
    }
    if (!self_start || open_fd())
        return;
    char why[160];
    int fresh = trusted(why, sizeof why);
    if (fresh < 0) {
        no_coordination(why);
        close_fd();
        return;
    }
    int l = lock_bounded();
    if (l) {
        if (l > 0)
            v->coord = COORD_BUSY;
        else
            no_coordination("cannot lock it");
        return;
    }
    fresh = trusted(why, sizeof why); /* again, under the lock: a creator may have sized it */
    if (fresh < 0) {
        unlock();
        no_coordination(why);
        close_fd();
        return;
    }
    if (fresh) {
        /* Empty: we created it, or its creator stopped before sizing it. */
        memset(&file, 0, sizeof file);
        memcpy(file.magic, BP_REG_MAGIC, sizeof file.magic);
        file.version = BP_REG_VERSION;
        file.slots = BP_REG_SLOTS;
        char page[BP_REG_SIZE] = {0};
        memcpy(page, &file, sizeof file);
        if (pwrite(reg_fd, page, sizeof page, 0) != (ssize_t)sizeof page) {
            unlock();
            no_coordination("cannot write it");
            return;
        }
    } else {
        char page[BP_REG_SIZE];
        if (pread(reg_fd, page, sizeof page, 0) != (ssize_t)sizeof page) {
            unlock();
            no_coordination("cannot read it");
            return;
        }
        if (bp_reg_check(page, sizeof page, why, sizeof why)) {
            unlock();
            char msg[sizeof why + 64];
            snprintf(msg, sizeof msg, "corrupt (%s); remove it to coordinate again", why);
            no_coordination(msg);
            return;
        }
        memcpy(&file, page, sizeof file);
    }
    reg_slot = -1;
    for (int i = 0; i < BP_REG_SLOTS; i++) {
        struct bp_reg_entry *e = &file.e[i];
        if (!e->pid)
            continue;
        if (e->pid == pid && e->start == self_start) {
            reg_slot = i;
            continue;
        }
        if (!bp_reg_alive(e->pid, e->start)) {
            memset(e, 0, sizeof *e);
            if (write_entry(i) == 0)
                v->reclaimed++;
            continue;
        }
        if (v->n < BP_REG_OTHERS)
            v->o[v->n++] = (struct bp_reg_other){.pid = e->pid, .cpu = e->cpu, .load = e->load / 1000.0};
    }
    note_said[0] = 0; /* usable again: a later failure is worth a note */
    v->coord = COORD_OK;
}

void bp_registry_commit(int cpu, double load)
{
    if (!reg_locked)
        return;
    if (reg_slot < 0) {
        for (int i = 0; i < BP_REG_SLOTS && reg_slot < 0; i++)
            if (!file.e[i].pid)
                reg_slot = i;
    }
    if (reg_slot >= 0) {
        struct bp_reg_entry *e = &file.e[reg_slot];
        if (load < 0.0)
            load = 0.0;
        if (load > CPU_SETSIZE)
            load = CPU_SETSIZE;
        *e = (struct bp_reg_entry){.pid = self_pid, .cpu = cpu, .start = self_start,
                                   .load = (uint32_t)(load * 1000.0 + 0.5), .stamp = (uint64_t)time(NULL)};
        if (write_entry(reg_slot))
            reg_slot = -1;
    }
    unlock();
}

void bp_registry_release(void)
{
    if (reg_fd < 0 || reg_slot < 0 || getpid() != self_pid)
        return;
    if (!reg_locked && lock_bounded())
        return; /* its claim is reclaimed when the others find it gone */
    struct bp_reg_entry e;
    off_t at = (off_t)offsetof(struct bp_reg_file, e) + (off_t)reg_slot * (off_t)sizeof e;
    /* Clear it only if it is still ours. */
    if (pread(reg_fd, &e, sizeof e, at) == (ssize_t)sizeof e && e.pid == self_pid && e.start == self_start) {
        memset(&file.e[reg_slot], 0, sizeof file.e[reg_slot]);
        write_entry(reg_slot);
    }
    reg_slot = -1;
    unlock();
}

void bp_registry_after_fork_child(void)
{
    /* Closing our descriptor leaves the parent's lock alone (the parent
     * holds the same open file); flock or LOCK_UN on it would not. */
    if (reg_fd >= 0)
        close(reg_fd);
    reg_fd = -1;
    reg_locked = 0;
    reg_slot = -1;
    self_pid = 0;
    self_start = 0;
    note_said[0] = 0;
}
