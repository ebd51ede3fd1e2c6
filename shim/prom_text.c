/* Prometheus's text exposition format for one sample of betapool's
 * figures, formatted into a fixed buffer from integers (no allocation, no
 * locale), and the program's name for its label: pure functions, unit-tested
 * (tests/unit/test_metrics_file.c). metrics_file.c writes the text out. */
#include <stdio.h>
#include <string.h>
#include "prom_text.h"

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

    /* Each metric once: its name, type and help, then its one sample;
     * seconds (every nanosecond digit kept) or a count. */
    const struct {
        const char *name, *type, *help;
        int seconds;
        uint64_t value;
    } metrics[] = {
        {"betapool_gil_wait_seconds_total", "counter",
         "Time the process's Python threads spent waiting for the GIL.", 1, s->gil_wait_ns},
        {"betapool_gil_held_seconds_total", "counter",
         "Time the process's Python threads spent holding the GIL.", 1, s->gil_held_ns},
        {"betapool_threads", "gauge", "Python threads alive at the last sample.", 0, s->threads},
        {"betapool_parks_total", "counter",
         "Times a computing worker thread was parked at betapool's gate.", 0, s->parks},
        {"betapool_forced_switches_total", "counter",
         "Times a thread holding the GIL was asked to let go after a waiter's full switch interval.", 0,
         s->forced_switches},
        {"betapool_pinned", "gauge", "1 while betapool keeps the Python threads on one CPU, else 0.", 0,
         s->pinned ? 1 : 0},
        {"betapool_last_update_timestamp_seconds", "gauge",
         "Unix time of this file's last update; an old value means the process is gone.", 1, s->realtime_ns},
    };
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        header(&o, metrics[i].name, metrics[i].type, metrics[i].help);
        put(&o, labels, l.len);
        if (metrics[i].seconds)
            put_seconds(&o, metrics[i].value);
        else
            put_u64(&o, metrics[i].value);
        put(&o, "\n", 1);
    }
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
