/* The CPU registry's file: the check of its bytes, and whether a process
 * an entry names still runs (/proc/PID/stat: its start time defeats pid
 * reuse). Everything here treats the file as input from other processes
 * (registry.c says how it is opened, locked and written). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry_file.h"

int bp_reg_check(const void *buf, size_t len, char *why, size_t n)
{
    const struct bp_reg_file *f = buf;
    if (len != BP_REG_SIZE) {
        snprintf(why, n, "size %zu, not %d", len, BP_REG_SIZE);
        return -1;
    }
    if (memcmp(f->magic, BP_REG_MAGIC, sizeof f->magic) || f->version != BP_REG_VERSION || f->slots != BP_REG_SLOTS) {
        snprintf(why, n, "not a betapool registry of version %u", BP_REG_VERSION);
        return -1;
    }
    for (int i = 0; i < BP_REG_SLOTS; i++) {
        const struct bp_reg_entry *e = &f->e[i];
        if (e->pid == 0) {
            if (e->cpu || e->start || e->load || e->stamp || e->reserved) {
                snprintf(why, n, "slot %d: a free slot with data", i);
                return -1;
            }
            continue;
        }
        if (e->pid < 0 || e->pid > BP_PID_MAX || e->cpu < -1 || e->cpu >= CPU_SETSIZE ||
            e->load > 1000u * CPU_SETSIZE || e->start == 0 || e->reserved) {
            snprintf(why, n, "slot %d: out of bounds (pid %d, cpu %d, load %u)", i, (int)e->pid, (int)e->cpu,
                     (unsigned)e->load);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (f->e[j].pid == e->pid) {
                snprintf(why, n, "slots %d and %d: pid %d twice", j, i, (int)e->pid);
                return -1;
            }
    }
    return 0;
}

uint64_t bp_stat_start_time(const char *s)
{
    /* Fields count after the ')' that ends the command name (which may
     * hold spaces and parentheses); the start time is field 22. */
    const char *p = strrchr(s, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22; field++) {
        if (*p != ' ')
            return 0;
        p++;
        p += strcspn(p, " \n");
    }
    if (*p != ' ')
        return 0;
    p++;
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(p, &e, 10);
    if (errno || (*e != ' ' && *e != '\n' && *e))
        return 0;
    return (uint64_t)v;
}

int bp_reg_alive(int pid, uint64_t start)
{
    char path[48], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? 0 : 1; /* unknown: keep its claim */
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return 0; /* it ended while we read */
    buf[len] = 0;
    uint64_t st = bp_stat_start_time(buf);
    if (!st)
        return 1;
    /* A zombie has ended: its threads run nowhere. */
    const char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
        return 0;
    return st == start;
}

uint64_t bp_reg_own_start(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return 0;
    buf[len] = 0;
    return bp_stat_start_time(buf);
}
