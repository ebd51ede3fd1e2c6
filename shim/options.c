/* Every BETAPOOL_* variable, in one table. A bad value is reported once and
 * the documented default is used; nothing here ever stops the host. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp.h"

static const char *const mode_choices[] = {"off", "observe", NULL};

struct bp_option bp_options[OPT_COUNT] = {
    [OPT_MODE] = {"mode", OPT_CHOICE, MODE_OBSERVE, 0, 0, mode_choices,
                  "off: pass every call through untouched; observe: measure and log, change nothing"},
    [OPT_LOG] = {"log", OPT_PATH, 0, 0, 0, NULL,
                 "JSON Lines log path; %p is replaced by the process id; unset: no log"},
    [OPT_INTERVAL_MS] = {"interval_ms", OPT_INT, 100, 10, 60000, NULL,
                         "how often the shim's thread samples the threads and writes the log (ms)"},
    [OPT_VERBOSE] = {"verbose", OPT_BOOL, 0, 0, 1, NULL,
                     "print every option and what betapool found at start, on stderr"},
    [OPT_STATS] = {"stats", OPT_BOOL, 0, 0, 1, NULL, "print a table of the run on stderr at exit"},
};

int bp_parse_long(const char *s, long *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int bp_parse_bool(const char *s, long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static void env_name(const struct bp_option *o, char *buf, size_t n)
{
    size_t i = 0;
    const char *prefix = "BETAPOOL_";
    for (; *prefix && i + 1 < n; prefix++)
        buf[i++] = *prefix;
    for (const char *p = o->name; *p && i + 1 < n; p++)
        buf[i++] = (char)toupper((unsigned char)*p);
    buf[i] = 0;
}

static void describe_default(const struct bp_option *o, char *buf, size_t n)
{
    switch (o->type) {
    case OPT_CHOICE:
        snprintf(buf, n, "%s", o->choices[o->def]);
        break;
    case OPT_PATH:
        snprintf(buf, n, "unset");
        break;
    case OPT_BOOL:
        snprintf(buf, n, "%ld", o->def);
        break;
    default:
        snprintf(buf, n, "%ld", o->def);
    }
}

static int parse_value(struct bp_option *o, const char *s, char *why, size_t whyn)
{
    long v;
    switch (o->type) {
    case OPT_BOOL:
        if (bp_parse_bool(s, &v)) {
            snprintf(why, whyn, "expected 1/0, true/false, yes/no or on/off");
            return -1;
        }
        o->value = v;
        return 0;
    case OPT_INT:
        if (bp_parse_long(s, &v)) {
            snprintf(why, whyn, "expected a whole number from %ld to %ld", o->min, o->max);
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(why, whyn, "out of range %ld..%ld", o->min, o->max);
            return -1;
        }
        o->value = v;
        return 0;
    case OPT_CHOICE:
        for (long i = 0; o->choices[i]; i++) {
            if (!strcasecmp(s, o->choices[i])) {
                o->value = i;
                return 0;
            }
        }
        {
            size_t len = 0;
            len += (size_t)snprintf(why, whyn, "expected one of");
            for (long i = 0; o->choices[i] && len < whyn; i++)
                len += (size_t)snprintf(why + len, whyn - len, " %s", o->choices[i]);
        }
        return -1;
    case OPT_PATH:
        if (!*s) {
            snprintf(why, whyn, "empty path");
            return -1;
        }
        if (strlen(s) >= sizeof o->path) {
            snprintf(why, whyn, "path longer than %zu bytes", sizeof o->path - 1);
            return -1;
        }
        strcpy(o->path, s);
        o->value = 1;
        return 0;
    }
    return -1;
}

void bp_options_load(const char *(*getenv_fn)(const char *), void (*warn)(const char *msg))
{
    for (int i = 0; i < OPT_COUNT; i++) {
        struct bp_option *o = &bp_options[i];
        char name[64], why[160], def[64], msg[1024];
        o->value = o->def;
        o->path[0] = 0;
        o->from_env = 0;
        env_name(o, name, sizeof name);
        const char *s = getenv_fn(name);
        if (!s)
            continue;
        if (parse_value(o, s, why, sizeof why) == 0) {
            o->from_env = 1;
            continue;
        }
        o->value = o->def;
        o->path[0] = 0;
        describe_default(o, def, sizeof def);
        snprintf(msg, sizeof msg, "%s=\"%.200s\" is not valid (%s); using the default, %s", name, s,
                 why, def);
        warn(msg);
    }
}

/* The option's value as JSON (a string or a number). */
int bp_option_format(const struct bp_option *o, char *buf, size_t n)
{
    switch (o->type) {
    case OPT_CHOICE:
        return snprintf(buf, n, "\"%s\"", o->choices[o->value]);
    case OPT_PATH:
        if (!o->value)
            return snprintf(buf, n, "null");
        {
            /* Quote the path for JSON: escape quotes, backslashes, controls. */
            size_t len = 0;
            if (n < 3)
                return -1;
            buf[len++] = '"';
            for (const char *p = o->path; *p && len + 8 < n; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == '"' || c == '\\') {
                    buf[len++] = '\\';
                    buf[len++] = (char)c;
                } else if (c < 0x20) {
                    len += (size_t)snprintf(buf + len, n - len, "\\u%04x", c);
                } else {
                    buf[len++] = (char)c;
                }
            }
            buf[len++] = '"';
            buf[len] = 0;
            return (int)len;
        }
    default:
        return snprintf(buf, n, "%ld", o->value);
    }
}
