/* The Prometheus textfile (BETAPOOL_METRICS_DIR): the text (prom_text.c)
 * written to a temporary file and renamed over the last one, so
 * node_exporter never reads half a file. See metrics_file.h and
 * docs/prometheus.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "metrics_file.h"

/* ---- the file ---- */

static int written_pid;   /* the process that wrote the file, 0: none */
static int reported;      /* a failure was reported (once per process) */
static char program[256];
static int program_pid;
static uint64_t swept_s;  /* the last sweep, Unix seconds; 0: none yet */

static void read_program(void)
{
    char buf[4096];
    ssize_t len = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        len = read(fd, buf, sizeof buf);
        close(fd);
    }
    bp_prom_program_name(buf, len > 0 ? (size_t)len : 0, program, sizeof program);
}

static int paths(const char *dir, int pid, char *final, char *tmp, size_t n)
{
    int a = snprintf(final, n, "%s/betapool-%d.prom", dir, pid);
    /* Not *.prom: the textfile collector reads only those. */
    int b = snprintf(tmp, n, "%s/.betapool-%d.prom.tmp", dir, pid);
    return a > 0 && b > 0 && (size_t)a < n && (size_t)b < n ? 0 : -1;
}

static void fail(const char *what, const char *path, int err, void (*note)(const char *, const char *))
{
    if (reported)
        return;
    reported = 1;
    char msg[900];
    snprintf(msg, sizeof msg, "cannot %s the metrics file %s: %s; the program runs on without it", what, path,
             strerror(err));
    note("warning", msg);
}

/* The temporary file is created new (O_EXCL), so an existing name (a
 * symlink planted there, or the leftover of a process of the same pid that
 * died mid-write) is never opened or followed. Its mode is 0644 less the
 * umask: node_exporter usually runs as its own user and must read it, and
 * what it holds (counts, times, the program's base name) is no more than
 * /proc tells any user; a stricter umask keeps it private. */
static int create_tmp(const char *tmp)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    int fd = open(tmp, flags, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* removes a link, never its target */
        fd = open(tmp, flags, 0644);
    return fd;
}

/* "betapool-PID.prom" exactly: its pid, else 0. */
static int file_pid(const char *name)
{
    if (strncmp(name, "betapool-", 9))
        return 0;
    long pid = 0;
    const char *p = name + 9;
    for (; *p >= '0' && *p <= '9' && pid < 1 << 30; p++)
        pid = pid * 10 + (*p - '0');
    return p > name + 9 && !strcmp(p, ".prom") ? (int)pid : 0;
}

int bp_metrics_file_sweep(const char *dir, uint64_t now_s, uint64_t min_age_s)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int removed = 0;
    /* getdents64 into a fixed buffer: opendir would allocate. */
    char buf[8192] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            const char *rec = buf + off;
            unsigned short reclen;
            memcpy(&reclen, rec + 16, sizeof reclen); /* d_ino, d_off, d_reclen, d_type, d_name */
            const char *name = rec + 19;
            off += reclen;
            int pid = file_pid(name);
            struct stat st;
            if (pid <= 0 || pid == (int)getpid() || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) ||
                !S_ISREG(st.st_mode) || st.st_uid != geteuid())
                continue;
            if (st.st_mtime < 0 || now_s < (uint64_t)st.st_mtime + min_age_s)
                continue; /* recent: its writer may live in another pid namespace */
            if (kill(pid, 0) == 0 || errno != ESRCH)
                continue;
            removed += unlinkat(fd, name, 0) == 0;
        }
    }
    close(fd);
    return removed;
}

void bp_metrics_file_write(const char *dir, const struct bp_prom_sample *s,
                           void (*note)(const char *level, const char *msg))
{
    char final[700], tmp[700], text[8192];
    struct bp_prom_sample with_name = *s;
    if (!with_name.program) {
        if (program_pid != s->pid) { /* once per process, a fork child included */
            read_program();
            program_pid = s->pid;
        }
        with_name.program = program;
    }
    if (paths(dir, s->pid, final, tmp, sizeof final)) {
        fail("name", dir, ENAMETOOLONG, note);
        return;
    }
    int len = bp_prom_format(text, sizeof text, &with_name);
    if (len < 0) {
        fail("format", final, EOVERFLOW, note);
        return;
    }
    int fd = create_tmp(tmp);
    if (fd < 0) {
        fail("create", tmp, errno, note);
        return;
    }
    for (int done = 0; done < len;) {
        ssize_t w = write(fd, text + done, (size_t)(len - done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            fail("write", tmp, err, note);
            return;
        }
        done += (int)w;
    }
    if (close(fd)) {
        int err = errno;
        unlink(tmp);
        fail("write", tmp, err, note);
        return;
    }
    /* rename(2) replaces the final name itself, whatever it is (a symlink
     * planted there included): it never follows it. */
    if (rename(tmp, final)) {
        int err = errno;
        unlink(tmp);
        fail("replace", final, err, note);
        return;
    }
    written_pid = s->pid;
    uint64_t now_s = s->realtime_ns / 1000000000u;
    if (now_s >= swept_s + BP_METRICS_SWEEP_S || now_s < swept_s) {
        swept_s = now_s;
        bp_metrics_file_sweep(dir, now_s, BP_METRICS_STALE_S);
    }
}

void bp_metrics_file_remove(const char *dir)
{
    char final[700], tmp[700];
    int pid = (int)getpid();
    if (written_pid != pid || paths(dir, pid, final, tmp, sizeof final))
        return;
    unlink(final);
    written_pid = 0;
}
