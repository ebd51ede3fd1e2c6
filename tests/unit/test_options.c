#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "options.h"

/* A fake environment: NAME=VALUE pairs. */
static const char *const *fake_env;
static char warnings[8][1024];
static int nwarn;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *p = fake_env; p && *p; p++)
        if (!strncmp(*p, name, n) && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

static void collect(const char *msg)
{
    if (nwarn < 8)
        snprintf(warnings[nwarn], sizeof warnings[0], "%s", msg);
    nwarn++;
}

static int warned(const char *needle)
{
    for (int i = 0; i < nwarn && i < 8; i++)
        if (strstr(warnings[i], needle))
            return 1;
    return 0;
}

static void load(const char *const *env)
{
    fake_env = env;
    nwarn = 0;
    bp_options_load(fake_getenv, collect);
}

Test(options, defaults_without_environment)
{
    load(NULL);
    cr_expect_eq(nwarn, 0);
    cr_expect_eq(bp_opt(OPT_MODE), MODE_AUTO);
    cr_expect_eq(bp_opt(OPT_GATE), CHOICE_AUTO);
    cr_expect_eq(bp_opt(OPT_PRIORITY), CHOICE_AUTO);
    cr_expect_eq(bp_opt(OPT_PRIORITY_US), 100);
    cr_expect_eq(bp_opt(OPT_MIN_WORKERS), 2);
    cr_expect_eq(bp_opt(OPT_INTERVAL_MS), 100);
    cr_expect_eq(bp_opt(OPT_VERBOSE), 0);
    cr_expect_eq(bp_opt(OPT_LOG), 0);
    cr_expect_float_eq(bp_optf(OPT_GIL_DANGER), 0.3, 1e-12);
    cr_expect_float_eq(bp_optf(OPT_EWMA_ALPHA), 0.2, 1e-12);
    cr_expect_eq(bp_opt(OPT_HYSTERESIS), 3);
}

Test(options, valid_values_are_taken)
{
    const char *env[] = {"BETAPOOL_MODE=OFF", "BETAPOOL_INTERVAL_MS= 250 ", "BETAPOOL_VERBOSE=yes",
                         "BETAPOOL_STATS=on", "BETAPOOL_LOG=/tmp/x-%p.jsonl", NULL};
    load(env);
    cr_expect_eq(nwarn, 0);
    cr_expect_eq(bp_opt(OPT_MODE), MODE_OFF);
    cr_expect_eq(bp_opt(OPT_INTERVAL_MS), 250);
    cr_expect_eq(bp_opt(OPT_VERBOSE), 1);
    cr_expect_eq(bp_opt(OPT_STATS), 1);
    cr_expect_str_eq(bp_options[OPT_LOG].path, "/tmp/x-%p.jsonl");
    cr_expect(bp_options[OPT_MODE].from_env);
}

Test(options, each_bad_value_warns_once_and_keeps_default)
{
    const char *env[] = {"BETAPOOL_MODE=fast", "BETAPOOL_INTERVAL_MS=-5", "BETAPOOL_VERBOSE=2",
                         "BETAPOOL_STATS=", "BETAPOOL_LOG=", NULL};
    load(env);
    cr_expect_eq(nwarn, 5);
    cr_expect_eq(bp_opt(OPT_MODE), MODE_AUTO);
    cr_expect_eq(bp_opt(OPT_INTERVAL_MS), 100);
    cr_expect_eq(bp_opt(OPT_VERBOSE), 0);
    cr_expect_eq(bp_opt(OPT_LOG), 0);
    cr_expect(warned("BETAPOOL_MODE=\"fast\" is not valid (expected one of off observe auto); using the default, auto"));
    cr_expect(warned("BETAPOOL_INTERVAL_MS=\"-5\" is not valid (out of range 10..60000)"));
    cr_expect(warned("BETAPOOL_LOG=\"\" is not valid (empty path)"));
    cr_expect(warned("BETAPOOL_VERBOSE=\"2\""));
}

Test(options, enforce_is_the_old_name_of_auto)
{
    const char *env[] = {"BETAPOOL_MODE=Enforce", "BETAPOOL_PRIORITY=off", "BETAPOOL_PRIORITY_US=5", NULL};
    load(env);
    cr_expect_eq(bp_opt(OPT_MODE), MODE_AUTO);
    cr_expect(bp_options[OPT_MODE].from_env);
    cr_expect_eq(bp_opt(OPT_PRIORITY), CHOICE_OFF);
    cr_expect_eq(nwarn, 1, "priority_us below its range warns");
    cr_expect_eq(bp_opt(OPT_PRIORITY_US), 100);
    char buf[64];
    bp_option_format(&bp_options[OPT_MODE], buf, sizeof buf);
    cr_expect_str_eq(buf, "\"auto\"", "the log names the mode by its name");
}

Test(options, overflow_and_trailing_garbage_are_rejected)
{
    const char *env1[] = {"BETAPOOL_INTERVAL_MS=99999999999999999999999", NULL};
    load(env1);
    cr_expect_eq(nwarn, 1);
    cr_expect_eq(bp_opt(OPT_INTERVAL_MS), 100);
    const char *env2[] = {"BETAPOOL_INTERVAL_MS=100ms", NULL};
    load(env2);
    cr_expect_eq(nwarn, 1);
    const char *env3[] = {"BETAPOOL_INTERVAL_MS=0x20", NULL};
    load(env3);
    cr_expect_eq(nwarn, 1);
}

Test(options, parse_helpers)
{
    long v;
    cr_expect_eq(bp_parse_long("42", &v), 0);
    cr_expect_eq(v, 42);
    cr_expect_eq(bp_parse_long("", &v), -1);
    cr_expect_eq(bp_parse_long("  ", &v), -1);
    cr_expect_eq(bp_parse_long("4 2", &v), -1);
    cr_expect_eq(bp_parse_bool("TRUE", &v), 0);
    cr_expect_eq(v, 1);
    cr_expect_eq(bp_parse_bool("Off", &v), 0);
    cr_expect_eq(v, 0);
    cr_expect_eq(bp_parse_bool("maybe", &v), -1);
}

Test(options, format_quotes_paths_for_json)
{
    const char *env[] = {"BETAPOOL_LOG=/tmp/a\"b\\c", NULL};
    load(env);
    char buf[128];
    bp_option_format(&bp_options[OPT_LOG], buf, sizeof buf);
    cr_expect_str_eq(buf, "\"/tmp/a\\\"b\\\\c\"");
    bp_option_format(&bp_options[OPT_MODE], buf, sizeof buf);
    cr_expect_str_eq(buf, "\"auto\"");
    load(NULL);
    bp_option_format(&bp_options[OPT_LOG], buf, sizeof buf);
    cr_expect_str_eq(buf, "null");
}

Test(options, floats_are_parsed_without_the_locale)
{
    const char *env[] = {"BETAPOOL_GIL_DANGER=0.45", "BETAPOOL_EWMA_ALPHA=1", NULL};
    load(env);
    cr_expect_eq(nwarn, 0);
    cr_expect_float_eq(bp_optf(OPT_GIL_DANGER), 0.45, 1e-12);
    cr_expect_float_eq(bp_optf(OPT_EWMA_ALPHA), 1.0, 1e-12);
    char buf[32];
    bp_option_format(&bp_options[OPT_GIL_DANGER], buf, sizeof buf);
    cr_expect_str_eq(buf, "0.450");
    const char *bad[] = {"BETAPOOL_GIL_DANGER=0,4", "BETAPOOL_EWMA_ALPHA=0", NULL};
    load(bad);
    cr_expect_eq(nwarn, 2, "0,4 is not a number here; alpha 0 is out of range");
    const char *exp[] = {"BETAPOOL_GIL_DANGER=1e-1", NULL};
    load(exp);
    cr_expect_eq(nwarn, 1);
    const char *bad2[] = {"BETAPOOL_GIL_DANGER=1.5", "BETAPOOL_EWMA_ALPHA=.", NULL};
    load(bad2);
    cr_expect_eq(nwarn, 2);
    cr_expect_float_eq(bp_optf(OPT_GIL_DANGER), 0.3, 1e-12);
}

Test(options, min_above_max_uses_both_defaults)
{
    const char *env[] = {"BETAPOOL_MIN_WORKERS=10", "BETAPOOL_MAX_WORKERS=4", NULL};
    load(env);
    cr_expect_eq(nwarn, 1);
    cr_expect(warned("BETAPOOL_MIN_WORKERS=10 is above BETAPOOL_MAX_WORKERS=4"));
    cr_expect_eq(bp_opt(OPT_MIN_WORKERS), bp_options[OPT_MIN_WORKERS].def);
    cr_expect_eq(bp_opt(OPT_MAX_WORKERS), bp_options[OPT_MAX_WORKERS].def);
}
