/* The Prometheus textfile (BETAPOOL_METRICS_DIR): formatted into a fixed
 * buffer from integers (no allocation, no locale), written to a temporary
 * file and renamed over the last one, so node_exporter never reads half a
 * file. See metrics_file.h and docs/prometheus.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "metrics_file.h"

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t len, cap;
    int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || o->len + n > o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t need;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (need > n)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

/* A label value: the format escapes backslash, double quote and line feed,
 * and wants UTF-8; a byte that is not UTF-8 becomes U+FFFD. */
static void put_label_value(struct out *o, const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t n = strlen(v);
    put(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\') {
            put(o, "\\\\", 2);
            i++;
        } else if (s[i] == '"') {
            put(o, "\\\"", 2);
            i++;
        } else if (s[i] == '\n') {
            put(o, "\\n", 2);
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k) {
                put(o, (const char *)s + i, k);
                i += k;
            } else {
                put(o, "\xef\xbf\xbd", 3);
                i++;
            }
        }
    }
    put(o, "\"", 1);
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    put(o, tmp, (size_t)n);
}

/* Nanoseconds as seconds, every digit kept. */
static void put_seconds(struct out *o, uint64_t ns)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
                     (unsigned long long)(ns % 1000000000u));
    put(o, tmp, (size_t)n);
}

static void header(struct out *o, const char *name, const char *type, const char *help)
{
    puts_(o, "# HELP ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, help);
    puts_(o, "\n# TYPE ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, type);
    put(o, "\n", 1);
    puts_(o, name);
}

int bp_prom_format(char *buf, size_t cap, const struct bp_prom_sample *s)
{
    struct out o = {.buf = buf, .cap = cap};
    /* The labels, once: every sample carries the same two. */
    char labels[1024];
    struct out l = {.buf = labels, .cap = sizeof labels};
    char pid[16];
    snprintf(pid, sizeof pid, "%d", s->pid);
    puts_(&l, "{pid=");
    put_label_value(&l, pid);
    puts_(&l, ",program=");
    put_label_value(&l, s->program ? s->program : "");
    puts_(&l, "} ");
    if (l.overflow)
        return -1;

    header(&o, "betapool_gil_wait_seconds_total", "counter",
           "Time the process's Python threads spent waiting for the GIL.");
    put(&o, labels, l.len);
    put_seconds(&o, s->gil_wait_ns);
    put(&o, "\n", 1);
    header(&o, "betapool_gil_held_seconds_total", "counter",
           "Time the process's Python threads spent holding the GIL.");
    put(&o, labels, l.len);
    put_seconds(&o, s->gil_held_ns);
    put(&o, "\n", 1);
    header(&o, "betapool_threads", "gauge", "Python threads alive at the last sample.");
    put(&o, labels, l.len);
    put_u64(&o, s->threads);
    put(&o, "\n", 1);
    header(&o, "betapool_parks_total", "counter",
           "Times a computing worker thread was parked at betapool's gate.");
    put(&o, labels, l.len);
    put_u64(&o, s->parks);
    put(&o, "\n", 1);
    header(&o, "betapool_forced_switches_total", "counter",
           "Times a thread holding the GIL was asked to let go after a waiter's full switch interval.");
    put(&o, labels, l.len);
    put_u64(&o, s->forced_switches);
    put(&o, "\n", 1);
    header(&o, "betapool_pinned", "gauge", "1 while betapool keeps the Python threads on one CPU, else 0.");
    put(&o, labels, l.len);
    put_u64(&o, s->pinned ? 1 : 0);
    put(&o, "\n", 1);
    header(&o, "betapool_last_update_timestamp_seconds", "gauge",
           "Unix time of this file's last update; an old value means the process is gone.");
    put(&o, labels, l.len);
    put_seconds(&o, s->realtime_ns);
    put(&o, "\n", 1);
    return o.overflow ? -1 : (int)o.len;
}

/* ---- the program's name ---- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void bp_prom_program_name(const char *cmdline, size_t len, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = 0;
    /* The arguments, at most 64: the name is among the first few. */
    const char *argv[64];
    int argc = 0;
    for (size_t i = 0; i < len && argc < 64;) {
        argv[argc++] = cmdline + i;
        const char *end = memchr(cmdline + i, 0, len - i);
        if (!end)
            break; /* the last one is not terminated: not taken */
        i = (size_t)(end - cmdline) + 1;
    }
    if (argc && !memchr(argv[argc - 1], 0, len - (size_t)(argv[argc - 1] - cmdline)))
        argc--;
    if (!argc)
        return;
    const char *name = base_name(argv[0]);
    if (!strncmp(name, "python", 6)) {
        /* CPython's own options: the script or module comes after them. */
        for (int i = 1; i < argc; i++) {
            const char *a = argv[i];
            if (a[0] != '-' || !a[1]) {
                if (strcmp(a, "-"))
                    name = base_name(a); /* the script ("-": stdin keeps the interpreter's name) */
                break;
            }
            if (a[1] == '-') {
                if (!a[2])
                    continue; /* "--": the script follows */
                if (!strcmp(a, "--check-hash-based-pycs"))
                    i++;
                continue;
            }
            /* A cluster of one-letter options; -c, -m, -W and -X end it. */
            const char *p = a + 1;
            for (; *p && !strchr("cmWX", *p); p++)
                ;
            if (*p == 'm') {
                const char *mod = p[1] ? p + 1 : (i + 1 < argc ? argv[i + 1] : "");
                if (*mod)
                    name = mod;
                break;
            }
            if (*p == 'c')
                break; /* a command has no name of its own */
            if ((*p == 'W' || *p == 'X') && !p[1])
                i++; /* its value is the next argument */
        }
    }
    snprintf(out, n, "%s", name);
}

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
