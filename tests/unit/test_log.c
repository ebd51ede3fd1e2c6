#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

Test(log, record_has_event_and_time_and_fixed_point_numbers)
{
    char buf[512];
    struct bp_json j;
    bp_json_begin(&j, buf, sizeof buf, "sample", 1234567890ull);
    bp_json_int(&j, "tid", 42);
    bp_json_ms(&j, "wall_ms", 100000000ull);
    bp_json_ms(&j, "gil_held_ms", 1234567ull);
    bp_json_ratio(&j, "beta", 0.12345);
    bp_json_ratio(&j, "beta_io", 1.5);
    bp_json_ratio(&j, "nan", 0.0 / 0.0);
    bp_json_bool(&j, "python", 1);
    cr_expect_eq(bp_json_end(&j), 0);
    buf[j.len] = 0;
    cr_expect_str_eq(buf,
                     "{\"event\":\"sample\",\"t\":1.234567,\"tid\":42,\"wall_ms\":100.000,"
                     "\"gil_held_ms\":1.235,\"beta\":0.1235,\"beta_io\":1.0000,\"nan\":0.0000,"
                     "\"python\":true}\n");
}

Test(log, strings_are_escaped_and_nesting_works)
{
    char buf[512];
    struct bp_json j;
    bp_json_begin(&j, buf, sizeof buf, "start", 0);
    bp_json_str(&j, "msg", "a\"b\\c\nd");
    bp_json_open(&j, "hooks", '[');
    bp_json_str(&j, NULL, "x");
    bp_json_str(&j, NULL, "y");
    bp_json_close(&j, ']');
    bp_json_open(&j, "options", '{');
    bp_json_int(&j, "n", 1);
    bp_json_close(&j, '}');
    bp_json_end(&j);
    buf[j.len] = 0;
    cr_expect_str_eq(buf, "{\"event\":\"start\",\"t\":0.000000,\"msg\":\"a\\\"b\\\\c\\u000ad\","
                          "\"hooks\":[\"x\",\"y\"],\"options\":{\"n\":1}}\n");
}

Test(log, overflow_still_ends_the_line)
{
    char buf[40];
    struct bp_json j;
    bp_json_begin(&j, buf, sizeof buf, "sample", 0);
    bp_json_str(&j, "long", "0123456789012345678901234567890123456789");
    cr_expect_eq(bp_json_end(&j), -1);
    cr_expect(j.len <= sizeof buf);
    cr_expect_eq(buf[j.len - 1], '\n');
}

Test(log, open_expands_pid_and_is_owner_only)
{
    char dir[] = "/tmp/bp-unit-XXXXXX";
    cr_assert(mkdtemp(dir));
    char pattern[128], used[256], err[256], expect[256];
    snprintf(pattern, sizeof pattern, "%s/run-%%p.jsonl", dir);
    snprintf(expect, sizeof expect, "%s/run-%d.jsonl", dir, (int)getpid());
    cr_assert_eq(bp_log_open(pattern, used, sizeof used, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(used, expect);
    bp_log_write("x\n", 2);
    bp_log_close();
    struct stat st;
    cr_assert_eq(stat(used, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_expect_eq(st.st_size, 2);
    unlink(used);
    rmdir(dir);
}

Test(log, refuses_symlinks_and_directories)
{
    char dir[] = "/tmp/bp-unit-XXXXXX";
    cr_assert(mkdtemp(dir));
    char link_path[128], target[128], used[256], err[256];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link_path, sizeof link_path, "%s/log", dir);
    cr_assert_eq(symlink(target, link_path), 0);
    cr_expect_neq(bp_log_open(link_path, used, sizeof used, err, sizeof err), 0);
    cr_expect_eq(access(target, F_OK), -1, "nothing may be written through the link");
    cr_expect_neq(bp_log_open(dir, used, sizeof used, err, sizeof err), 0);
    unlink(link_path);
    rmdir(dir);
}

Test(log, averages_keep_two_decimals_and_are_not_clamped_to_one)
{
    char buf[256];
    struct bp_json j;
    bp_json_begin(&j, buf, sizeof buf, "decision", 0);
    bp_json_fixed2(&j, "demand", 17.256);
    bp_json_fixed2(&j, "low", 0.004);
    bp_json_fixed2(&j, "neg", -3.0);
    bp_json_fixed2(&j, "nan", 0.0 / 0.0);
    cr_expect_eq(bp_json_end(&j), 0);
    buf[j.len] = 0;
    cr_expect_str_eq(buf, "{\"event\":\"decision\",\"t\":0.000000,\"demand\":17.26,\"low\":0.00,"
                          "\"neg\":0.00,\"nan\":0.00}\n");
}
