/* options.c: every BETAPOOL_* variable, in one table. */
#ifndef BETAPOOL_OPTIONS_H
#define BETAPOOL_OPTIONS_H

#include "common.h"

enum bp_mode { MODE_OFF = 0, MODE_OBSERVE, MODE_AUTO };
enum bp_auto_choice { CHOICE_OFF = 0, CHOICE_AUTO }; /* BETAPOOL_AFFINITY, _GATE, _PRIORITY, _HANDOFF */
enum bp_clock_mode { CLOCKSEL_AUTO = 0, CLOCKSEL_MONOTONIC };
enum bp_handoff_choice { HANDOFF_OFF = 0, HANDOFF_AUTO, HANDOFF_DIRECTED, HANDOFF_ASK }; /* BETAPOOL_HANDOFF */
enum bp_opt_type { OPT_BOOL, OPT_INT, OPT_FLOAT, OPT_CHOICE, OPT_PATH };
struct bp_option {
    const char *name;       /* in the log's start record */
    const char *env;        /* the environment variable */
    enum bp_opt_type type;
    long def, min, max;     /* OPT_INT, OPT_BOOL, OPT_CHOICE (index) */
    double fdef, fmin, fmax; /* OPT_FLOAT */
    const char *const *choices; /* OPT_CHOICE: NULL-terminated, value = index */
    const char *alias;      /* OPT_CHOICE: an older name accepted for alias_value */
    long alias_value;
    const char *doc;
    long value;
    double fvalue;
    int from_env;           /* set by the environment (valid) */
    char path[512];         /* OPT_PATH */
};
enum bp_opt_id {
    OPT_MODE, OPT_LOG, OPT_INTERVAL_MS, OPT_VERBOSE, OPT_STATS,
    OPT_MIN_WORKERS, OPT_MAX_WORKERS, OPT_GIL_DANGER, OPT_EWMA_ALPHA, OPT_HYSTERESIS,
    OPT_PARK_MAX_MS, OPT_AFFINITY, OPT_GATE, OPT_PRIORITY, OPT_PRIORITY_US, OPT_HANDOFF, OPT_CLOCK, OPT_METRICS_DIR, OPT_REGISTRY,
    OPT_COUNT
};
extern struct bp_option bp_options[OPT_COUNT] BP_HIDDEN;
/* getenv_fn lets tests feed values; warn receives each warning line. */
void bp_options_load(const char *(*getenv_fn)(const char *),
                     void (*warn)(const char *msg)) BP_HIDDEN;
static inline long bp_opt(enum bp_opt_id id) { return bp_options[id].value; }
int bp_option_format(const struct bp_option *o, char *buf, size_t n) BP_HIDDEN;
int bp_parse_long(const char *s, long *out) BP_HIDDEN;
int bp_parse_bool(const char *s, long *out) BP_HIDDEN;
int bp_parse_double(const char *s, double *out) BP_HIDDEN;
static inline double bp_optf(enum bp_opt_id id) { return bp_options[id].fvalue; }

#endif
