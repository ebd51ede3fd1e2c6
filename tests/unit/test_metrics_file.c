/* BETAPOOL_METRICS_DIR: the Prometheus text, the program's name, and the
 * file's writing (temporary file, rename, symlinks, one report). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metrics_file.h"

static const struct bp_prom_sample sample = {
    .pid = 4242,
    .program = "app.py",
    .gil_wait_ns = 1234567890123ull,
    .gil_held_ns = 5000000001ull,
    .threads = 17,
    .parks = 99,
    .forced_switches = 18446744073709551615ull,
    .pinned = 1,
    .realtime_ns = 1700000000123456789ull,
};

static const char *const names[] = {
    "betapool_gil_wait_seconds_total", "betapool_gil_held_seconds_total", "betapool_threads",
    "betapool_parks_total", "betapool_forced_switches_total", "betapool_pinned",
    "betapool_last_update_timestamp_seconds",
};

/* The sample line of a metric: "NAME{...} VALUE". */
static const char *sample_line(const char *text, const char *name, char *out, size_t n)
{
    char want[128];
    snprintf(want, sizeof want, "\n%s{", name);
    const char *p = strstr(text, want);
    if (!p)
        return NULL;
    p++;
    size_t len = strcspn(p, "\n");
    snprintf(out, n, "%.*s", (int)len, p);
    return out;
}

Test(metrics_file, every_metric_has_help_type_and_one_sample)
{
    char buf[8192];
    int n = bp_prom_format(buf, sizeof buf, &sample);
    cr_assert(n > 0);
    cr_expect_eq((size_t)n, strlen(buf));
    cr_expect_eq(buf[n - 1], '\n');
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[160], line[512];
        const char *type = strstr(names[i], "_total") ? "counter" : "gauge";
        snprintf(want, sizeof want, "# HELP %s ", names[i]);
        cr_expect(strstr(buf, want), "%s has no HELP", names[i]);
        snprintf(want, sizeof want, "# TYPE %s %s\n", names[i], type);
        cr_expect(strstr(buf, want), "%s is not a %s", names[i], type);
        cr_expect(sample_line(buf, names[i], line, sizeof line), "%s has no sample", names[i]);
    }
    /* 7 metrics, three lines each, nothing else. */
    int lines = 0;
    for (const char *p = buf; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 21);
}

Test(metrics_file, numbers_are_exact_seconds_and_counts)
{
    char buf[8192], line[512];
    cr_assert(bp_prom_format(buf, sizeof buf, &sample) > 0);
    const char *labels = "{pid=\"4242\",program=\"app.py\"} ";
    struct {
        const char *name, *value;
    } want[] = {
        {"betapool_gil_wait_seconds_total", "1234.567890123"},
        {"betapool_gil_held_seconds_total", "5.000000001"},
        {"betapool_threads", "17"},
        {"betapool_parks_total", "99"},
        {"betapool_forced_switches_total", "18446744073709551615"},
        {"betapool_pinned", "1"},
        {"betapool_last_update_timestamp_seconds", "1700000000.123456789"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char expect[512];
        snprintf(expect, sizeof expect, "%s%s%s", want[i].name, labels, want[i].value);
        cr_assert(sample_line(buf, want[i].name, line, sizeof line));
        cr_expect_str_eq(line, expect);
    }
    struct bp_prom_sample zero = {.pid = 1, .program = "x", .pinned = 0};
    cr_assert(bp_prom_format(buf, sizeof buf, &zero) > 0);
    cr_expect_str_eq(sample_line(buf, "betapool_gil_wait_seconds_total", line, sizeof line),
                     "betapool_gil_wait_seconds_total{pid=\"1\",program=\"x\"} 0.000000000");
    cr_expect_str_eq(sample_line(buf, "betapool_pinned", line, sizeof line),
                     "betapool_pinned{pid=\"1\",program=\"x\"} 0");
}

Test(metrics_file, label_values_are_escaped_and_utf8)
{
    char buf[8192], line[512];
    struct bp_prom_sample s = sample;
    /* backslash, quote, newline; é and € kept; a lone 0xff and an overlong
     * '/' (0xc0 0xaf) become U+FFFD. */
    s.program = "a\\b\"c\nd \xc3\xa9\xe2\x82\xac \xff \xc0\xaf";
    cr_assert(bp_prom_format(buf, sizeof buf, &s) > 0);
    cr_assert(sample_line(buf, "betapool_threads", line, sizeof line));
    cr_expect_str_eq(line, "betapool_threads{pid=\"4242\",program=\"a\\\\b\\\"c\\nd \xc3\xa9\xe2\x82\xac "
                           "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\"} 17");
    s.program = NULL;
    cr_assert(bp_prom_format(buf, sizeof buf, &s) > 0);
    cr_expect_str_eq(sample_line(buf, "betapool_threads", line, sizeof line),
                     "betapool_threads{pid=\"4242\",program=\"\"} 17");
}

Test(metrics_file, too_small_a_buffer_is_refused)
{
    char buf[8192];
    int n = bp_prom_format(buf, sizeof buf, &sample);
    cr_assert(n > 0);
    cr_expect_eq(bp_prom_format(buf, (size_t)n - 1, &sample), -1);
    cr_expect_eq(bp_prom_format(buf, (size_t)n, &sample), n);
}

static const char *program(const char *cmdline, size_t len)
{
    static char out[256];
    bp_prom_program_name(cmdline, len, out, sizeof out);
    return out;
}
#define PROGRAM(lit) program(lit, sizeof lit - 1)

Test(metrics_file, program_name_from_the_command_line)
{
    cr_expect_str_eq(PROGRAM("/usr/bin/python3.11\0/srv/app/server.py\0--port\0" "80\0"), "server.py");
    cr_expect_str_eq(PROGRAM("python3\0-u\0-X\0importtime\0-W\0ignore\0app.py\0"), "app.py");
    cr_expect_str_eq(PROGRAM("python3\0-m\0http.server\0" "8000\0"), "http.server");
    cr_expect_str_eq(PROGRAM("python3\0-Bmhttp.server\0"), "http.server");
    cr_expect_str_eq(PROGRAM("python3\0-c\0import x\0"), "python3");
    cr_expect_str_eq(PROGRAM("python3\0-Ic\0import x\0"), "python3");
    cr_expect_str_eq(PROGRAM("/usr/bin/python3\0"), "python3");
    cr_expect_str_eq(PROGRAM("python3\0-\0"), "python3");
    cr_expect_str_eq(PROGRAM("python3\0--\0a.py\0"), "a.py");
    cr_expect_str_eq(PROGRAM("python3\0--check-hash-based-pycs\0always\0b.py\0"), "b.py");
    /* Not an interpreter: the executable (uwsgi, an embedding program). */
    cr_expect_str_eq(PROGRAM("/opt/bin/uwsgi\0--ini\0x.ini\0"), "uwsgi");
    /* Nothing, and a last argument cut short (not NUL-terminated). */
    cr_expect_str_eq(program("", 0), "");
    cr_expect_str_eq(program("python3\0scr", 11), "python3");
    char small[4];
    bp_prom_program_name("python3\0server.py\0", 18, small, sizeof small);
    cr_expect_str_eq(small, "ser");
}

/* ---- the file ---- */

static int notes;
static char last_note[1024];

static void note(const char *level, const char *msg)
{
    notes++;
    snprintf(last_note, sizeof last_note, "%s: %s", level, msg);
}

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/bp-metrics-XXXXXX");
    cr_assert(mkdtemp(dir));
    notes = 0;
}

static void path(char *out, size_t n, const char *fmt)
{
    snprintf(out, n, fmt, dir, (int)getpid());
}

static char *slurp(const char *p)
{
    static char buf[8192];
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static struct bp_prom_sample own(void)
{
    struct bp_prom_sample s = sample;
    s.pid = (int)getpid();
    return s;
}

Test(metrics_file, written_whole_then_removed)
{
    make_dir();
    char final[128], tmp[128], want[8192];
    path(final, sizeof final, "%s/betapool-%d.prom");
    path(tmp, sizeof tmp, "%s/.betapool-%d.prom.tmp");
    struct bp_prom_sample s = own();
    bp_metrics_file_write(dir, &s, note);
    cr_assert_eq(bp_prom_format(want, sizeof want, &s) > 0, 1);
    const char *got = slurp(final);
    cr_assert(got, "no %s", final);
    cr_expect_str_eq(got, want);
    cr_expect_eq(access(tmp, F_OK), -1, "the temporary file is left");
    struct stat st;
    cr_assert_eq(stat(final, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    cr_expect_eq(st.st_mode & 0777, 0644 & ~mask);
    s.threads = 3;
    bp_metrics_file_write(dir, &s, note);
    cr_expect(strstr(slurp(final), "betapool_threads{pid=") && strstr(slurp(final), "} 3\n"));
    cr_expect_eq(notes, 0, "%s", last_note);
    bp_metrics_file_remove(dir);
    cr_expect_eq(access(final, F_OK), -1);
    rmdir(dir);
}

Test(metrics_file, symlinks_at_either_name_are_not_followed)
{
    make_dir();
    char final[128], tmp[128], victim[128];
    path(final, sizeof final, "%s/betapool-%d.prom");
    path(tmp, sizeof tmp, "%s/.betapool-%d.prom.tmp");
    snprintf(victim, sizeof victim, "%s/victim", dir);
    int fd = open(victim, O_WRONLY | O_CREAT, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "keep\n", 5), 5);
    close(fd);
    cr_assert_eq(symlink(victim, tmp), 0);
    cr_assert_eq(symlink(victim, final), 0);
    struct bp_prom_sample s = own();
    bp_metrics_file_write(dir, &s, note);
    cr_expect_str_eq(slurp(victim), "keep\n");
    struct stat st;
    cr_assert_eq(lstat(final, &st), 0);
    cr_expect(S_ISREG(st.st_mode), "the final name is still a symlink");
    cr_expect(strstr(slurp(final), "betapool_threads"));
    cr_expect_eq(notes, 0, "%s", last_note);
    bp_metrics_file_remove(dir);
    unlink(victim);
    rmdir(dir);
}

Test(metrics_file, a_missing_directory_is_reported_once)
{
    make_dir();
    char gone[128];
    snprintf(gone, sizeof gone, "%s/not-there", dir);
    struct bp_prom_sample s = own();
    for (int i = 0; i < 5; i++)
        bp_metrics_file_write(gone, &s, note);
    cr_expect_eq(notes, 1);
    cr_expect(strstr(last_note, "warning: cannot create the metrics file") && strstr(last_note, "not-there"),
              "%s", last_note);
    cr_expect(strstr(last_note, strerror(ENOENT)), "%s", last_note);
    /* Created later, it is used; removing what was never written is a no-op. */
    cr_assert_eq(mkdir(gone, 0700), 0);
    bp_metrics_file_write(gone, &s, note);
    char final[160];
    snprintf(final, sizeof final, "%s/betapool-%d.prom", gone, (int)getpid());
    cr_expect_eq(access(final, F_OK), 0);
    cr_expect_eq(notes, 1);
    bp_metrics_file_remove(gone);
    cr_expect_eq(access(final, F_OK), -1);
    rmdir(gone);
    rmdir(dir);
}

Test(metrics_file, another_pids_file_is_never_removed)
{
    make_dir();
    struct bp_prom_sample s = own();
    s.pid = (int)getpid() + 1; /* as if written before a fork, by the parent */
    bp_metrics_file_write(dir, &s, note);
    char parent[128];
    snprintf(parent, sizeof parent, "%s/betapool-%d.prom", dir, s.pid);
    cr_assert_eq(access(parent, F_OK), 0);
    bp_metrics_file_remove(dir);
    cr_expect_eq(access(parent, F_OK), 0, "the parent's file was removed");
    unlink(parent);
    rmdir(dir);
}

static int dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    cr_assert(pid > 0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    return (int)pid;
}

static void touch(const char *name, time_t mtime)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    cr_assert(fd >= 0, "%s", p);
    close(fd);
    struct timespec t[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static int exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return lstat(p, &st) == 0;
}

Test(metrics_file, the_sweep_removes_only_old_files_of_gone_processes)
{
    make_dir();
    time_t now = time(NULL);
    char gone_old[64], gone_new[64], alive_old[64], other[64], link[64], target[sizeof dir + 16];
    int dead = dead_pid();
    snprintf(gone_old, sizeof gone_old, "betapool-%d.prom", dead);
    snprintf(gone_new, sizeof gone_new, "betapool-%d.prom", dead_pid());
    snprintf(alive_old, sizeof alive_old, "betapool-%d.prom", (int)getppid());
    snprintf(other, sizeof other, "betapool-%d.prom.bak", dead);
    snprintf(link, sizeof link, "betapool-%d.prom", dead_pid());
    snprintf(target, sizeof target, "%s/target", dir);
    touch(gone_old, now - 121);
    touch(gone_new, now - 100);
    touch(alive_old, now - 1000);
    touch(other, now - 1000);
    touch("target", now - 1000);
    char lp[256];
    snprintf(lp, sizeof lp, "%s/%s", dir, link);
    cr_assert_eq(symlink(target, lp), 0);
    cr_expect_eq(bp_metrics_file_sweep(dir, (uint64_t)now, 120), 1);
    cr_expect_not(exists(gone_old), "a gone process's old file is left");
    cr_expect(exists(gone_new), "a file younger than the age was removed");
    cr_expect(exists(alive_old), "a live process's file was removed");
    cr_expect(exists(other) && exists("target") && exists(link), "another name was removed");
    /* A writer sweeps at its first write. */
    touch(gone_new, now - 1000);
    struct bp_prom_sample s = own();
    s.realtime_ns = (uint64_t)now * 1000000000u;
    bp_metrics_file_write(dir, &s, note);
    cr_expect_not(exists(gone_new));
    bp_metrics_file_remove(dir);
    char p[256];
    const char *left[] = {alive_old, other, link, "target"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, left[i]);
        unlink(p);
    }
    cr_expect_eq(rmdir(dir), 0);
}
