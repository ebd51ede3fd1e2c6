/* libFuzzer target for options.c: the BETAPOOL_* table, bp_options_load and
 * the value parsers it is built on.
 *
 * The input is text, split at '\n' into at most MAX_LINES lines. A line
 * "NAME=VALUE" is one variable of a fake environment that bp_options_load
 * reads through its getenv_fn (the first NAME wins, as with getenv); every
 * line and every VALUE also goes straight to bp_parse_long, bp_parse_bool
 * and bp_parse_double. After each call the target checks what options.c
 * promises -- every option inside its documented range or choices, the
 * value taken exactly when it is valid, a warning for each one that is not,
 * min_workers <= max_workers, a NUL-terminated path, a round-tripping JSON
 * rendering -- and abort()s when a promise breaks, so that libFuzzer saves
 * the input as a crash. Built with -Dfuzz=true (clang only), see
 * tests/meson.build; scripts/test runs it for a bounded time.
 *
 * Reproduce a crash: build-fuzz/tests/fuzz_options CRASH-FILE */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_LINES 16
#define PREFIX "BETAPOOL_"
#define PREFIX_LEN (sizeof PREFIX - 1)

static void fail(int line, const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_options.c:%d: broken: %s%s%s\n", line, what, detail ? " -- " : "",
            detail ? detail : "");
    abort();
}
#define CHECK(cond) ((cond) ? (void)0 : fail(__LINE__, #cond, NULL))
#define CHECK_AT(cond, detail) ((cond) ? (void)0 : fail(__LINE__, #cond, (detail)))

/* ---- reference parsers, written from the documented syntax ---- */

static int ascii_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int ascii_caseeq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

/* [space] [+-] digits [space], and it fits in a long. */
static int ref_long(const char *s, long *out)
{
    while (ascii_space((unsigned char)*s))
        s++;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!ascii_digit((unsigned char)*s))
        return -1;
    /* Accumulate negatively: LONG_MIN has no positive counterpart. */
    long v = 0;
    int overflow = 0;
    for (; ascii_digit((unsigned char)*s); s++)
        if (__builtin_mul_overflow(v, 10L, &v) || __builtin_sub_overflow(v, (long)(*s - '0'), &v))
            overflow = 1;
    while (ascii_space((unsigned char)*s))
        s++;
    if (*s || overflow)
        return -1;
    if (!neg && __builtin_mul_overflow(v, -1L, &v))
        return -1;
    *out = v;
    return 0;
}

static int ref_bool(const char *s, long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (ascii_caseeq(s, yes[i]))
            return *out = 1, 0;
        if (ascii_caseeq(s, no[i]))
            return *out = 0, 0;
    }
    return -1;
}

/* [space] [-] digits [. digits] [space], at least one digit, no exponent.
 * Returns the syntax's verdict; *x is strtod's correctly rounded reading of
 * the number (which the syntax check has made plain decimal). */
static int ref_double_syntax(const char *s, double *x)
{
    size_t digits = 0;
    while (ascii_space((unsigned char)*s))
        s++;
    const char *start = s;
    if (*s == '-')
        s++;
    for (; ascii_digit((unsigned char)*s); s++)
        digits++;
    if (*s == '.')
        for (s++; ascii_digit((unsigned char)*s); s++)
            digits++;
    while (ascii_space((unsigned char)*s))
        s++;
    if (*s || !digits)
        return -1;
    *x = strtod(start, NULL);
    return 0;
}

/* ---- the fake environment ---- */

struct var {
    char *name, *value;   /* what getenv_fn serves: exactly-sized heap copies */
    char *name_copy, *value_copy; /* ours, to check against after the load */
};
static struct var vars[MAX_LINES];
static int nvars;
static int env_empty;     /* serve nothing at all */
static int asked[OPT_COUNT];
static int nwarn;

static const char *copy_of(const char *name)
{
    for (int i = 0; i < nvars; i++)
        if (!strcmp(vars[i].name_copy, name))
            return vars[i].value_copy;
    return NULL;
}

static void env_name(const struct bp_option *o, char *buf, size_t n)
{
    CHECK(strlen(o->name) + PREFIX_LEN < n);
    size_t i = 0;
    memcpy(buf, PREFIX, PREFIX_LEN);
    i = PREFIX_LEN;
    for (const char *p = o->name; *p; p++)
        buf[i++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    buf[i] = 0;
}

static const char *fake_getenv(const char *name)
{
    CHECK(name != NULL);
    CHECK(strnlen(name, 128) < 128);
    int which = -1;
    for (int i = 0; i < OPT_COUNT; i++) {
        char want[128];
        env_name(&bp_options[i], want, sizeof want);
        if (!strcmp(want, name))
            which = i;
    }
    CHECK_AT(which >= 0, name); /* only the table's variables are read */
    asked[which]++;
    if (env_empty)
        return NULL;
    for (int i = 0; i < nvars; i++)
        if (!strcmp(vars[i].name, name))
            return vars[i].value;
    return NULL;
}

static void collect_warning(const char *msg)
{
    CHECK(msg != NULL);
    size_t len = strnlen(msg, 4096);
    CHECK(len < 1024); /* the warning buffer in options.c */
    CHECK_AT(!strncmp(msg, PREFIX, PREFIX_LEN), msg);
    nwarn++;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Each line NAME=VALUE becomes a variable; lines go into lines[]. */
static int split(const uint8_t *data, size_t size, char **lines)
{
    int nlines = 0;
    size_t pos = 0;
    nvars = 0;
    while (pos < size && nlines < MAX_LINES) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        const char *line = (const char *)data + pos;
        lines[nlines++] = dup_bytes(line, len);
        const char *eq = memchr(line, '=', len);
        if (eq) {
            struct var *v = &vars[nvars++];
            size_t nlen = (size_t)(eq - line), vlen = len - nlen - 1;
            v->name = dup_bytes(line, nlen);
            v->value = dup_bytes(eq + 1, vlen);
            v->name_copy = dup_bytes(line, nlen);
            v->value_copy = dup_bytes(eq + 1, vlen);
        }
        pos += len + 1;
    }
    return nlines;
}

/* ---- the checks ---- */

static void check_helpers(const char *s)
{
    const long sentinel = 0x5a5a5a5aL;
    long v = sentinel, ref = 0;
    int r = bp_parse_long(s, &v);
    CHECK(r == 0 || r == -1);
    int rr = ref_long(s, &ref);
    CHECK_AT((r == 0) == (rr == 0), s);
    CHECK_AT(r ? v == sentinel : v == ref, s);

    v = sentinel;
    r = bp_parse_bool(s, &v);
    CHECK(r == 0 || r == -1);
    rr = ref_bool(s, &ref);
    CHECK_AT((r == 0) == (rr == 0), s);
    CHECK_AT(r ? v == sentinel : v == ref, s);

    double d = 12345.5, x = 0;
    r = bp_parse_double(s, &d);
    CHECK(r == 0 || r == -1);
    rr = ref_double_syntax(s, &x);
    if (r) {
        CHECK(d == 12345.5);
        /* Refused: bad syntax, or beyond 1e9 (allowing for rounding). */
        CHECK_AT(rr != 0 || fabs(x) >= 1e9 * (1 - 1e-12), s);
        return;
    }
    CHECK_AT(rr == 0, s);
    CHECK_AT(isfinite(d) && fabs(d) <= 1e9, s);
    CHECK_AT(fabs(x) <= 1e9 * (1 + 1e-12), s);
    CHECK_AT(fabs(d - x) <= 1e-12 * fabs(x) + 1e-300, s);
    CHECK_AT(x == 0 || signbit(d) == signbit(x), s);
}

/* Is s a valid value for o, by the reference parsers? */
static int ref_valid(const struct bp_option *o, const char *s, long *v, double *f)
{
    switch (o->type) {
    case OPT_BOOL:
        return ref_bool(s, v) == 0;
    case OPT_INT:
        return ref_long(s, v) == 0 && *v >= o->min && *v <= o->max;
    case OPT_FLOAT:
        /* bp_parse_double itself is checked against strtod above; here the
         * question is whether the table's range is applied to its result. */
        return bp_parse_double(s, f) == 0 && *f >= o->fmin && *f <= o->fmax;
    case OPT_CHOICE:
        for (long i = 0; o->choices[i]; i++)
            if (ascii_caseeq(s, o->choices[i]))
                return *v = i, 1;
        /* An older name of one choice (BETAPOOL_MODE=enforce means auto). */
        if (o->alias && ascii_caseeq(s, o->alias))
            return *v = o->alias_value, 1;
        return 0;
    case OPT_PATH:
        return *s && strlen(s) < sizeof o->path;
    }
    fail(__LINE__, "unknown option type", o->name);
    return 0;
}

static long n_choices(const struct bp_option *o)
{
    long n = 0;
    while (o->choices[n])
        n++;
    return n;
}

/* The documented range, whatever the environment said. */
static void check_in_range(const struct bp_option *o)
{
    CHECK_AT(o->from_env == 0 || o->from_env == 1, o->name);
    CHECK_AT(memchr(o->path, 0, sizeof o->path) != NULL, o->name);
    switch (o->type) {
    case OPT_BOOL:
        CHECK_AT(o->value == 0 || o->value == 1, o->name);
        break;
    case OPT_INT:
        CHECK_AT(o->value >= o->min && o->value <= o->max, o->name);
        break;
    case OPT_FLOAT:
        CHECK_AT(isfinite(o->fvalue), o->name);
        CHECK_AT(o->fvalue >= o->fmin && o->fvalue <= o->fmax, o->name);
        break;
    case OPT_CHOICE:
        CHECK_AT(o->value >= 0 && o->value < n_choices(o), o->name);
        break;
    case OPT_PATH:
        CHECK_AT(o->value == 0 || o->value == 1, o->name);
        CHECK_AT(o->value == (o->path[0] != 0), o->name);
        break;
    default:
        fail(__LINE__, "unknown option type", o->name);
    }
}

static void check_default(const struct bp_option *o)
{
    CHECK_AT(!o->from_env, o->name);
    CHECK_AT(o->value == o->def, o->name);
    CHECK_AT(o->fvalue == o->fdef || (isnan(o->fvalue) && isnan(o->fdef)), o->name);
    CHECK_AT(o->path[0] == 0, o->name);
}

/* Undo the JSON string escaping bp_option_format applies to a path. */
static void check_json_string(const char *json, const char *want)
{
    size_t n = strlen(json), i = 1, k = 0;
    CHECK_AT(n >= 2 && json[0] == '"' && json[n - 1] == '"', json);
    for (; i + 1 < n; k++) {
        unsigned char c = (unsigned char)json[i];
        CHECK_AT(c >= 0x20, json);
        CHECK_AT(c != '"', json);
        unsigned char got;
        if (c == '\\') {
            char e = json[i + 1];
            if (e == '"' || e == '\\') {
                got = (unsigned char)e;
                i += 2;
            } else {
                CHECK_AT(e == 'u' && i + 6 < n, json);
                char hex[5] = {json[i + 2], json[i + 3], json[i + 4], json[i + 5], 0};
                char *end;
                unsigned long u = strtoul(hex, &end, 16);
                CHECK_AT(*end == 0 && u < 0x20, json);
                got = (unsigned char)u;
                i += 6;
            }
        } else {
            got = c;
            i++;
        }
        CHECK_AT(want[k] && (unsigned char)want[k] == got, json);
    }
    CHECK_AT(want[k] == 0, json);
}

static void check_format(const struct bp_option *o, size_t small)
{
    char big[8192];
    int n = bp_option_format(o, big, sizeof big);
    CHECK_AT(n >= 0 && (size_t)n < sizeof big, o->name);
    CHECK_AT(strlen(big) == (size_t)n, o->name);
    char *end;
    switch (o->type) {
    case OPT_CHOICE:
        CHECK_AT(big[0] == '"' && big[n - 1] == '"', big);
        CHECK_AT((size_t)n == strlen(o->choices[o->value]) + 2, big);
        CHECK_AT(!strncmp(big + 1, o->choices[o->value], (size_t)n - 2), big);
        break;
    case OPT_PATH:
        if (!o->value)
            CHECK_AT(!strcmp(big, "null"), big);
        else
            check_json_string(big, o->path);
        break;
    case OPT_FLOAT: {
        double x = strtod(big, &end);
        CHECK_AT(*end == 0 && fabs(x - o->fvalue) <= 0.0005 + 1e-12, big);
        break;
    }
    default: {
        long x = strtol(big, &end, 10);
        CHECK_AT(*end == 0 && x == o->value, big);
    }
    }
    /* A buffer too small: never a byte past it, always NUL-terminated. */
    char *buf = malloc(small ? small : 1);
    if (!buf)
        abort();
    memset(buf, 'x', small ? small : 1);
    n = bp_option_format(o, buf, small);
    if (small)
        CHECK_AT(n < 0 || memchr(buf, 0, small) != NULL, o->name);
    else
        CHECK_AT(buf[0] == 'x', o->name);
    free(buf);
}

struct snapshot {
    long value;
    double fvalue;
    int from_env;
    char path[sizeof bp_options[0].path];
};

static void snap(struct snapshot *s)
{
    for (int i = 0; i < OPT_COUNT; i++) {
        s[i].value = bp_options[i].value;
        s[i].fvalue = bp_options[i].fvalue;
        s[i].from_env = bp_options[i].from_env;
        memcpy(s[i].path, bp_options[i].path, sizeof s[i].path);
    }
}

static int load(int empty)
{
    env_empty = empty;
    nwarn = 0;
    memset(asked, 0, sizeof asked);
    bp_options_load(fake_getenv, collect_warning);
    for (int i = 0; i < OPT_COUNT; i++)
        CHECK_AT(asked[i] == 1, bp_options[i].name); /* each variable read once */
    return nwarn;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The table itself: names, and defaults inside their own ranges. */
    for (int i = 0; i < OPT_COUNT; i++) {
        struct bp_option *o = &bp_options[i];
        CHECK(o->name && *o->name && o->doc);
        if (o->type == OPT_CHOICE)
            CHECK_AT(o->choices && o->def >= 0 && o->def < n_choices(o), o->name);
        if (o->type == OPT_INT || o->type == OPT_BOOL)
            CHECK_AT(o->min <= o->def && o->def <= o->max, o->name);
        if (o->type == OPT_FLOAT)
            CHECK_AT(o->fmin <= o->fdef && o->fdef <= o->fmax, o->name);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[MAX_LINES];
    int nlines = split(data, size, lines);

    for (int i = 0; i < nlines; i++)
        check_helpers(lines[i]);
    for (int i = 0; i < nvars; i++)
        check_helpers(vars[i].value_copy);

    /* Nothing set: every default, no warning. */
    CHECK(load(1) == 0);
    for (int i = 0; i < OPT_COUNT; i++)
        check_default(&bp_options[i]);

    int warned = load(0);
    /* What getenv_fn served is gone: options.c must have kept copies. */
    for (int i = 0; i < nvars; i++) {
        free(vars[i].name);
        free(vars[i].value);
        vars[i].name = vars[i].value = NULL;
    }

    int invalid = 0;
    long ref_v[OPT_COUNT];
    double ref_f[OPT_COUNT];
    int valid[OPT_COUNT];
    for (int i = 0; i < OPT_COUNT; i++) {
        struct bp_option *o = &bp_options[i];
        char name[128];
        env_name(o, name, sizeof name);
        const char *s = copy_of(name);
        ref_v[i] = o->def;
        ref_f[i] = o->fdef;
        valid[i] = s && ref_valid(o, s, &ref_v[i], &ref_f[i]);
        if (s && !valid[i]) {
            ref_v[i] = o->def;
            ref_f[i] = o->fdef;
            invalid++;
        }
    }
    /* min_workers above max_workers: both back to their defaults. */
    int clash = ref_v[OPT_MIN_WORKERS] > ref_v[OPT_MAX_WORKERS];
    CHECK(warned == invalid + clash);

    for (int i = 0; i < OPT_COUNT; i++) {
        struct bp_option *o = &bp_options[i];
        check_in_range(o);
        int reset = clash && (i == OPT_MIN_WORKERS || i == OPT_MAX_WORKERS);
        if (!valid[i] || reset) {
            check_default(o);
            continue;
        }
        CHECK_AT(o->from_env, o->name);
        switch (o->type) {
        case OPT_FLOAT:
            CHECK_AT(o->fvalue == ref_f[i], o->name);
            break;
        case OPT_PATH: {
            char name[128];
            env_name(o, name, sizeof name);
            CHECK_AT(o->value == 1 && !strcmp(o->path, copy_of(name)), o->name);
            break;
        }
        default:
            CHECK_AT(o->value == ref_v[i], o->name);
        }
    }
    CHECK(bp_opt(OPT_MIN_WORKERS) <= bp_opt(OPT_MAX_WORKERS));

    for (int i = 0; i < OPT_COUNT; i++)
        check_format(&bp_options[i], (size * 7 + (size_t)i * 13) % 40);

    /* The same environment again gives the same options: no state kept. */
    struct snapshot first[OPT_COUNT], second[OPT_COUNT];
    snap(first);
    for (int i = 0; i < nvars; i++) {
        vars[i].name = dup_bytes(vars[i].name_copy, strlen(vars[i].name_copy));
        vars[i].value = dup_bytes(vars[i].value_copy, strlen(vars[i].value_copy));
    }
    CHECK(load(0) == warned);
    snap(second);
    for (int i = 0; i < OPT_COUNT; i++) {
        CHECK_AT(first[i].value == second[i].value && first[i].from_env == second[i].from_env &&
                     !strcmp(first[i].path, second[i].path),
                 bp_options[i].name);
        CHECK_AT(first[i].fvalue == second[i].fvalue, bp_options[i].name);
    }

    for (int i = 0; i < nvars; i++) {
        free(vars[i].name);
        free(vars[i].value);
        free(vars[i].name_copy);
        free(vars[i].value_copy);
    }
    for (int i = 0; i < nlines; i++)
        free(lines[i]);
    return 0;
}
