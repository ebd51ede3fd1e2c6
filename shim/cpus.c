/* The CPUs a process can really use: its affinity mask, the cpuset of its
 * cgroup, and its cgroup's CPU quota (cpu.max). A container limited to 1.5
 * CPUs is not a 16-CPU machine, and a process that may use one CPU only has
 * nothing to gain from GIL affinity.
 *
 * The parsers are pure (unit-tested on text); bp_cpus_read reads the files
 * under a root directory (/sys/fs/cgroup, or a fake tree in the tests). Only
 * cgroup v2 is read: /proc/self/cgroup's "0::/path" line. Under cgroup v1 the
 * cpuset is already in the affinity mask (the kernel keeps the mask inside
 * it) and the quota is not read: the note says so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

int bp_cpulist_parse(const char *s, cpu_set_t *out)
{
    CPU_ZERO(out);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\n' || !*p)
        return 0; /* an empty list: no CPU */
    for (;;) {
        char *e;
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        unsigned long lo = strtoul(p, &e, 10), hi = lo;
        if (errno || e == p || lo >= CPU_SETSIZE)
            return -1;
        p = e;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -1;
            hi = strtoul(p, &e, 10);
            if (errno || e == p || hi >= CPU_SETSIZE || hi < lo)
                return -1;
            p = e;
        }
        for (unsigned long c = lo; c <= hi; c++)
            CPU_SET(c, out);
        if (*p == ',') {
            p++;
            continue;
        }
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        return *p ? -1 : 0;
    }
}

int bp_cpumax_parse(const char *s, double *cpus)
{
    /* "max 100000" (no quota) or "150000 100000" (1.5 CPUs). */
    while (*s == ' ')
        s++;
    char *e;
    unsigned long long quota = 0;
    int unlimited = 0;
    if (!strncmp(s, "max", 3)) {
        unlimited = 1;
        e = (char *)s + 3;
    } else {
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        quota = strtoull(s, &e, 10);
        if (errno || e == s)
            return -1;
    }
    if (*e != ' ')
        return -1;
    s = e + 1;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long period = strtoull(s, &e, 10);
    if (errno || e == s || period == 0)
        return -1;
    while (*e == ' ' || *e == '\n')
        e++;
    if (*e)
        return -1;
    *cpus = unlimited ? 0.0 : (double)quota / (double)period;
    if (!unlimited && *cpus <= 0.0)
        return -1;
    return 0;
}

int bp_cgroup_v2_path(const char *text, char *out, size_t n)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "0::", 3))
            continue;
        p += 3;
        size_t len = strcspn(p, "\n");
        if (len == 0 || p[0] != '/' || len >= n)
            return -1;
        memcpy(out, p, len);
        out[len] = 0;
        /* No way up out of the tree: a ".." component is refused. */
        for (const char *c = out; (c = strstr(c, "..")); c += 2)
            if ((c == out || c[-1] == '/') && (c[2] == '/' || !c[2]))
                return -1;
        return 0;
    }
    return -1;
}

static int read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t r;
    while (len < n - 1 && (r = read(fd, buf + len, n - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = 0;
    return 0;
}

double bp_cpu_others(int cpu, double busy, double ours, int pinned_cpu, int n, const struct bp_reg_view *reg)
{
    if (n < 1)
        n = 1;
    double mine = pinned_cpu >= 0 ? (cpu == pinned_cpu ? ours : 0.0) : ours / n;
    double theirs = 0.0;
    for (int k = 0; reg && reg->coord == COORD_OK && k < reg->n && k < BP_REG_OTHERS; k++)
        theirs += reg->o[k].cpu == cpu ? reg->o[k].load : reg->o[k].cpu < 0 ? reg->o[k].load / n : 0.0;
    double others = busy - mine - theirs;
    return others > 0.0 ? others : 0.0;
}

void bp_cpus_usable(const cpu_set_t *mask, const cpu_set_t *cpuset, int have_cpuset, double quota,
                    struct bp_usable *out)
{
    CPU_ZERO(&out->set);
    if (have_cpuset)
        CPU_AND(&out->set, mask, cpuset);
    else
        out->set = *mask;
    out->count = CPU_COUNT(&out->set);
    out->quota = quota;
    if (out->count < 2)
        snprintf(out->why, sizeof out->why, "the process may run on %d cpu%s only%s: affinity has nothing to give",
                 out->count, out->count == 1 ? "" : "s", have_cpuset ? " (affinity mask and cgroup cpuset)" : "");
    else if (quota > 0.0 && quota < 2.0)
        snprintf(out->why, sizeof out->why,
                 "the cgroup's cpu.max allows %.2f cpus: one cpu is all it may use, affinity has nothing to give",
                 quota);
    else
        out->why[0] = 0;
    out->usable = out->why[0] == 0;
}

int bp_cpus_read(const char *root, const char *proc_cgroup, const cpu_set_t *mask, struct bp_usable *out)
{
    char text[4096], rel[1024], path[1400], buf[8192];
    cpu_set_t cpuset;
    int have_cpuset = 0, v2 = 0;
    double quota = 0.0;
    CPU_ZERO(&cpuset);
    if (read_small(proc_cgroup, text, sizeof text) == 0 && bp_cgroup_v2_path(text, rel, sizeof rel) == 0) {
        v2 = 1;
        /* The leaf's effective cpuset is the one that applies; the quotas
         * of every level up to the root all apply: the least is the limit. */
        size_t len = strlen(rel);
        for (;;) {
            snprintf(path, sizeof path, "%s%s/cpuset.cpus.effective", root, len > 1 ? rel : "");
            if (!have_cpuset && read_small(path, buf, sizeof buf) == 0 && bp_cpulist_parse(buf, &cpuset) == 0 &&
                CPU_COUNT(&cpuset) > 0)
                have_cpuset = 1;
            snprintf(path, sizeof path, "%s%s/cpu.max", root, len > 1 ? rel : "");
            double q;
            if (read_small(path, buf, sizeof buf) == 0 && bp_cpumax_parse(buf, &q) == 0 && q > 0.0 &&
                (quota == 0.0 || q < quota))
                quota = q;
            if (len <= 1)
                break;
            char *slash = strrchr(rel, '/');
            if (!slash)
                break;
            *slash = 0;
            len = strlen(rel);
            if (len == 0) {
                rel[0] = '/';
                rel[1] = 0;
                len = 1;
            }
        }
    }
    bp_cpus_usable(mask, &cpuset, have_cpuset, quota, out);
    return v2 ? 0 : -1;
}
