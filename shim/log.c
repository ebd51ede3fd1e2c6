/* The log: JSON Lines formatted into fixed buffers (no allocation, no
 * locale: numbers are printed from integers) and written with write(2).
 * Only the shim's own thread and the exit path write here. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "figures.h"
#include "log.h"

static void put(struct bp_json *j, const char *s, size_t n)
{
    if (j->len + n + 3 > j->cap) { /* keep room for "}\n" */
        j->overflow = 1;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static void puts_(struct bp_json *j, const char *s)
{
    put(j, s, strlen(s));
}

static void put_escaped(struct bp_json *j, const char *s)
{
    put(j, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(j, tmp, 2);
        } else if (c < 0x20) {
            int n = snprintf(tmp, sizeof tmp, "\\u%04x", c);
            put(j, tmp, (size_t)n);
        } else {
            put(j, (const char *)&c, 1);
        }
    }
    put(j, "\"", 1);
}

void bp_json_key(struct bp_json *j, const char *key)
{
    if (j->need_comma)
        put(j, ",", 1);
    j->need_comma = 1;
    if (key) {
        put_escaped(j, key);
        put(j, ":", 1);
    }
}

void bp_json_begin(struct bp_json *j, char *buf, size_t cap, const char *event, uint64_t t_ns)
{
    j->buf = buf;
    j->cap = cap;
    j->len = 0;
    j->need_comma = 0;
    j->overflow = 0;
    put(j, "{", 1);
    bp_json_str(j, "event", event);
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%llu.%06llu", (unsigned long long)(t_ns / 1000000000u),
                     (unsigned long long)(t_ns % 1000000000u / 1000u));
    bp_json_key(j, "t");
    put(j, tmp, (size_t)n);
}

void bp_json_raw(struct bp_json *j, const char *s)
{
    puts_(j, s);
}

void bp_json_str(struct bp_json *j, const char *key, const char *val)
{
    bp_json_key(j, key);
    if (val)
        put_escaped(j, val);
    else
        puts_(j, "null");
}

void bp_json_int(struct bp_json *j, const char *key, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    bp_json_key(j, key);
    put(j, tmp, (size_t)n);
}

void bp_json_bool(struct bp_json *j, const char *key, int v)
{
    bp_json_key(j, key);
    puts_(j, v ? "true" : "false");
}

/* Nanoseconds as milliseconds with three decimals. */
void bp_json_ms(struct bp_json *j, const char *key, uint64_t ns)
{
    char tmp[32];
    uint64_t us = (ns + 500) / 1000;
    int n = snprintf(tmp, sizeof tmp, "%llu.%03llu", (unsigned long long)(us / 1000),
                     (unsigned long long)(us % 1000));
    bp_json_key(j, key);
    put(j, tmp, (size_t)n);
}

/* A ratio in [0, 1] with four decimals. */
void bp_json_ratio(struct bp_json *j, const char *key, double r)
{
    char tmp[16];
    if (!(r >= 0.0)) /* also catches NaN */
        r = 0.0;
    if (r > 1.0)
        r = 1.0;
    unsigned v = (unsigned)(r * 10000.0 + 0.5);
    int n = snprintf(tmp, sizeof tmp, "%u.%04u", v / 10000, v % 10000);
    bp_json_key(j, key);
    put(j, tmp, (size_t)n);
}

/* A non-negative quantity with two decimals (an average count of threads). */
void bp_json_fixed2(struct bp_json *j, const char *key, double v)
{
    char tmp[32];
    if (!(v >= 0.0))
        v = 0.0;
    if (v > 1e12)
        v = 1e12;
    unsigned long long x = (unsigned long long)(v * 100.0 + 0.5);
    int n = snprintf(tmp, sizeof tmp, "%llu.%02llu", x / 100, x % 100);
    bp_json_key(j, key);
    put(j, tmp, (size_t)n);
}

void bp_json_open(struct bp_json *j, const char *key, char bracket)
{
    bp_json_key(j, key);
    put(j, &bracket, 1);
    j->need_comma = 0;
}

void bp_json_close(struct bp_json *j, char bracket)
{
    put(j, &bracket, 1);
    j->need_comma = 1;
}

int bp_json_end(struct bp_json *j)
{
    /* put() always leaves room for these two bytes. */
    j->buf[j->len++] = '}';
    j->buf[j->len++] = '\n';
    return j->overflow ? -1 : 0;
}

void bp_json_figures(struct bp_json *j, const struct bp_figures *f)
{
#define BP_WRITE_FIGURE(member, key, in_table) bp_json_ms(j, key, f->member);
#define BP_WRITE_RATIO(key, fn) bp_json_ratio(j, key, fn(f));
    BP_FIGURE_FIELDS(BP_WRITE_FIGURE)
    BP_FIGURE_RATIOS(BP_WRITE_RATIO)
#undef BP_WRITE_FIGURE
#undef BP_WRITE_RATIO
}

/* ---- stderr ---- */

/* One line on stderr, in a single write(2). */
static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1200];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
}

void bp_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("betapool: warning: ", fmt, ap);
    va_end(ap);
}

void bp_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("betapool: ", fmt, ap);
    va_end(ap);
}

/* ---- the file ---- */

static int log_fd = -1;
static char out_buf[1 << 16];
static size_t out_len;

static void write_all(const char *s, size_t n)
{
    while (n > 0 && log_fd >= 0) {
        ssize_t w = write(log_fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* Disk full, a file that takes no writes: say so once, stop
             * logging, and let the host run on. */
            bp_warn("cannot write the log: %s; no more log records", w < 0 ? strerror(errno) : "no progress");
            close(log_fd);
            log_fd = -1;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

void bp_log_flush(void)
{
    write_all(out_buf, out_len);
    out_len = 0;
}

void bp_log_write(const char *s, size_t n)
{
    if (log_fd < 0)
        return;
    if (out_len + n > sizeof out_buf)
        bp_log_flush();
    if (n > sizeof out_buf) {
        write_all(s, n);
        return;
    }
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

int bp_log_enabled(void)
{
    return log_fd >= 0;
}

void bp_log_close(void)
{
    bp_log_flush();
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}

void bp_log_forget(void)
{
    /* The parent owns the buffered lines and the file: drop both. */
    out_len = 0;
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}

/* Expand %p to the pid and %% to %. */
static int expand(const char *pattern, char *out, size_t n)
{
    size_t len = 0;
    for (const char *p = pattern; *p; p++) {
        char tmp[24];
        const char *add = tmp;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(tmp, sizeof tmp, "%d", (int)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            tmp[0] = '%';
            tmp[1] = 0;
            p++;
        } else {
            tmp[0] = *p;
            tmp[1] = 0;
        }
        size_t k = strlen(add);
        if (len + k + 1 > n)
            return -1;
        memcpy(out + len, add, k);
        len += k;
    }
    out[len] = 0;
    return 0;
}

/* Open the log for this process: owner-only, close-on-exec, never through a
 * symlink. A file another live process is writing (a child that inherited
 * the same BETAPOOL_LOG) is left to it: this process writes PATH.PID. */
int bp_log_open(const char *pattern, char *used, size_t n, char *err, size_t errn)
{
    if (expand(pattern, used, n)) {
        snprintf(err, errn, "log path too long");
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(used, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0) {
            snprintf(err, errn, "cannot open log %s: %s", used, strerror(errno));
            return -1;
        }
        struct stat st;
        if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
            close(fd);
            snprintf(err, errn, "log %s is not a regular file", used);
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (ftruncate(fd, 0) != 0) {
                /* Appending beats losing the run. */
            }
            log_fd = fd;
            out_len = 0;
            return 0;
        }
        close(fd);
        if (attempt == 0) {
            size_t len = strlen(used);
            if (len + 24 > n) {
                snprintf(err, errn, "log %s is in use by another process", used);
                return -1;
            }
            snprintf(used + len, n - len, ".%d", (int)getpid());
        }
    }
    snprintf(err, errn, "log %s is in use by another process", used);
    return -1;
}
