/* log.c: JSON lines into a fixed buffer, the log file, and betapool's
 * lines on stderr. */
#ifndef BETAPOOL_LOG_H
#define BETAPOOL_LOG_H

#include "common.h"
#include "figures.h"

struct bp_json {
    char *buf;
    size_t len, cap;
    int need_comma;
    int overflow;
};
void bp_json_begin(struct bp_json *j, char *buf, size_t cap, const char *event, uint64_t t_ns) BP_HIDDEN;
void bp_json_key(struct bp_json *j, const char *key) BP_HIDDEN;
void bp_json_raw(struct bp_json *j, const char *s) BP_HIDDEN;
void bp_json_str(struct bp_json *j, const char *key, const char *val) BP_HIDDEN;
void bp_json_int(struct bp_json *j, const char *key, long long v) BP_HIDDEN;
void bp_json_bool(struct bp_json *j, const char *key, int v) BP_HIDDEN;
void bp_json_ms(struct bp_json *j, const char *key, uint64_t ns) BP_HIDDEN;
void bp_json_ratio(struct bp_json *j, const char *key, double r) BP_HIDDEN; /* 0..1, 4 decimals */
void bp_json_fixed2(struct bp_json *j, const char *key, double v) BP_HIDDEN;  /* >= 0, 2 decimals */
void bp_json_open(struct bp_json *j, const char *key, char bracket) BP_HIDDEN;
void bp_json_close(struct bp_json *j, char bracket) BP_HIDDEN;
int bp_json_end(struct bp_json *j) BP_HIDDEN; /* appends "}\n"; 0 if it fit */
void bp_json_figures(struct bp_json *j, const struct bp_figures *f) BP_HIDDEN;

int bp_log_open(const char *pattern, char *used_path, size_t n, char *err, size_t errn) BP_HIDDEN;
void bp_log_write(const char *s, size_t n) BP_HIDDEN;
void bp_log_flush(void) BP_HIDDEN;
void bp_log_close(void) BP_HIDDEN;
int bp_log_enabled(void) BP_HIDDEN;
void bp_log_forget(void) BP_HIDDEN; /* in a forked child: drop the parent's log */

void bp_warn(const char *fmt, ...) BP_HIDDEN __attribute__((format(printf, 1, 2)));
void bp_say(const char *fmt, ...) BP_HIDDEN __attribute__((format(printf, 1, 2)));

#endif
