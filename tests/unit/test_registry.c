/* The CPU registry is input from other processes: every field checked,
 * garbage of every shape refused without a crash, and a file that is not
 * ours (a symlink, another mode, another size) never used. Also: claims,
 * reclaiming dead processes' entries, a busy lock that never blocks. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

/* The registry's notes (the shim's log in the library), collected here. */
static char notes[8][240];
static int nnotes;
static void collect_note(const char *level, const char *msg)
{
    (void)level;
    if (nnotes < 8)
        snprintf(notes[nnotes], sizeof notes[0], "%s", msg);
    nnotes++;
}

static int noted(const char *needle)
{
    for (int i = 0; i < nnotes && i < 8; i++)
        if (strstr(notes[i], needle))
            return 1;
    return 0;
}

static struct bp_reg_file valid(void)
{
    struct bp_reg_file f;
    memset(&f, 0, sizeof f);
    memcpy(f.magic, BP_REG_MAGIC, sizeof f.magic);
    f.version = BP_REG_VERSION;
    f.slots = BP_REG_SLOTS;
    return f;
}

static int check(const struct bp_reg_file *f)
{
    char page[BP_REG_SIZE] = {0}, why[160];
    memcpy(page, f, sizeof *f);
    return bp_reg_check(page, sizeof page, why, sizeof why);
}

Test(registry, a_valid_file_passes)
{
    struct bp_reg_file f = valid();
    cr_expect_eq(check(&f), 0);
    f.e[3] = (struct bp_reg_entry){.pid = 1234, .cpu = 1, .start = 99, .load = 1000};
    f.e[5] = (struct bp_reg_entry){.pid = 1235, .cpu = -1, .start = 98};
    cr_expect_eq(check(&f), 0);
}

Test(registry, every_field_is_bounds_checked)
{
    struct bp_reg_entry bad[] = {
        {.pid = -5, .cpu = 0, .start = 1},
        {.pid = BP_PID_MAX + 1, .cpu = 0, .start = 1},
        {.pid = 10, .cpu = CPU_SETSIZE, .start = 1},
        {.pid = 10, .cpu = -2, .start = 1},
        {.pid = 10, .cpu = 0, .start = 0},
        {.pid = 10, .cpu = 0, .start = 1, .load = 1000u * CPU_SETSIZE + 1},
        {.pid = 10, .cpu = 0, .start = 1, .reserved = 7},
        {.pid = 0, .cpu = 3},
        {.pid = 0, .stamp = 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct bp_reg_file f = valid();
        f.e[BP_REG_SLOTS - 1] = bad[i];
        cr_expect_eq(check(&f), -1, "case %zu", i);
    }
    struct bp_reg_file f = valid();
    f.e[0] = (struct bp_reg_entry){.pid = 10, .cpu = 0, .start = 1};
    f.e[9] = (struct bp_reg_entry){.pid = 10, .cpu = 1, .start = 1};
    cr_expect_eq(check(&f), -1, "a pid twice");
    f = valid();
    f.version = 2;
    cr_expect_eq(check(&f), -1);
    f = valid();
    f.slots = 1000;
    cr_expect_eq(check(&f), -1);
    f = valid();
    f.magic[0] = 'X';
    cr_expect_eq(check(&f), -1);
    char why[160], small[16] = {0};
    cr_expect_eq(bp_reg_check(small, sizeof small, why, sizeof why), -1);
}

/* Garbage of every shape: random pages, and valid pages with random bytes
 * changed. Never a crash; whatever passes is within bounds. */
Test(registry, garbage_never_passes_out_of_bounds)
{
    unsigned seed = 12345;
    char page[BP_REG_SIZE], why[160];
    int passed = 0;
    for (int round = 0; round < 20000; round++) {
        if (round % 2) {
            for (size_t i = 0; i < sizeof page; i++)
                page[i] = (char)rand_r(&seed);
        } else {
            struct bp_reg_file f = valid();
            for (int i = 0; i < 5; i++)
                f.e[rand_r(&seed) % BP_REG_SLOTS] =
                    (struct bp_reg_entry){.pid = rand_r(&seed) % 5000 + 1, .cpu = rand_r(&seed) % 8 - 1,
                                          .start = (uint64_t)rand_r(&seed) + 1};
            memset(page, 0, sizeof page);
            memcpy(page, &f, sizeof f);
            int flips = rand_r(&seed) % 4;
            for (int i = 0; i < flips; i++)
                page[rand_r(&seed) % sizeof page] = (char)rand_r(&seed);
        }
        if (bp_reg_check(page, sizeof page, why, sizeof why))
            continue;
        passed++;
        const struct bp_reg_file *f = (const void *)page;
        for (int i = 0; i < BP_REG_SLOTS; i++) {
            const struct bp_reg_entry *e = &f->e[i];
            if (!e->pid)
                continue;
            cr_assert(e->pid > 0 && e->pid <= BP_PID_MAX && e->cpu >= -1 && e->cpu < CPU_SETSIZE && e->start);
        }
    }
    cr_expect_gt(passed, 0, "some mutated pages are still valid");
}

Test(registry, start_time_from_proc_stat)
{
    cr_expect_eq(bp_stat_start_time("42 (python3) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20\n"), 777u);
    /* A command name with spaces and parentheses. */
    cr_expect_eq(bp_stat_start_time("42 (a) b (c)) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5551 19\n"), 5551u);
    cr_expect_eq(bp_stat_start_time("42 (x) S 1 2 3\n"), 0u, "truncated");
    cr_expect_eq(bp_stat_start_time("garbage"), 0u);
    cr_expect_eq(bp_stat_start_time(""), 0u);
    cr_expect_eq(bp_stat_start_time("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -4 1\n"), 0u);
}

/* ---- the file itself ---- */

static char dir[64], path[128];

static void tmpdir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bp-reg.XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cpus", dir);
    bp_registry_init(path, collect_note);
    nnotes = 0;
}

static void cleanup(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static struct bp_reg_file read_back(void)
{
    struct bp_reg_file f;
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &f, sizeof f, 0), (ssize_t)sizeof f);
    close(fd);
    return f;
}

static void write_file(const struct bp_reg_file *f, size_t size, mode_t mode)
{
    char page[2 * BP_REG_SIZE] = {0};
    memcpy(page, f, sizeof *f);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, page, size), (ssize_t)size);
    fchmod(fd, mode);
    close(fd);
}

static uint64_t start_of(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    return bp_stat_start_time(buf);
}

Test(registry, created_private_then_claims_and_releases, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_view v;
    bp_registry_begin(&v);
    cr_assert_eq(v.coord, COORD_OK, "%s", notes[0]);
    cr_expect_eq(v.n, 0);
    bp_registry_commit(1, 0.9);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_expect(S_ISREG(st.st_mode));
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_expect_eq(st.st_size, BP_REG_SIZE);
    struct bp_reg_file f = read_back();
    char why[160];
    char page[BP_REG_SIZE] = {0};
    memcpy(page, &f, sizeof f);
    cr_expect_eq(bp_reg_check(page, sizeof page, why, sizeof why), 0, "%s", why);
    cr_expect_eq(f.e[0].pid, getpid());
    cr_expect_eq(f.e[0].cpu, 1);
    cr_expect_eq(f.e[0].load, 900u);
    cr_expect_eq(f.e[0].start, start_of(getpid()));
    /* The next interval finds its own entry, not another process's. */
    bp_registry_begin(&v);
    cr_expect_eq(v.coord, COORD_OK);
    cr_expect_eq(v.n, 0);
    bp_registry_commit(-1, 0.1);
    f = read_back();
    cr_expect_eq(f.e[0].cpu, -1);
    bp_registry_release();
    f = read_back();
    cr_expect_eq(f.e[0].pid, 0, "released at exit");
    cr_expect_eq(nnotes, 0);
}

Test(registry, dead_and_reused_pids_are_reclaimed_live_ones_kept, .init = tmpdir, .fini = cleanup)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    cr_assert_gt(child, 0);
    uint64_t child_start = start_of(child);
    waitpid(child, NULL, 0); /* gone now */
    pid_t parent = getppid();
    struct bp_reg_file f = valid();
    f.e[0] = (struct bp_reg_entry){.pid = child, .cpu = 0, .start = child_start ? child_start : 1};
    f.e[1] = (struct bp_reg_entry){.pid = parent, .cpu = 1, .start = start_of(parent), .load = 1000};
    f.e[2] = (struct bp_reg_entry){.pid = parent == 1 ? 2 : 1, .cpu = 2, .start = 1}; /* pid 1's start is not 1 */
    write_file(&f, BP_REG_SIZE, 0600);
    struct bp_reg_view v;
    bp_registry_begin(&v);
    cr_assert_eq(v.coord, COORD_OK);
    cr_expect_eq(v.reclaimed, 2, "the dead child and the reused pid");
    cr_expect_eq(v.n, 1);
    cr_expect_eq(v.o[0].pid, parent);
    cr_expect_eq(v.o[0].cpu, 1);
    cr_expect_float_eq(v.o[0].load, 1.0, 1e-9);
    bp_registry_commit(0, 1.0);
    f = read_back();
    cr_expect_eq(f.e[0].pid, getpid(), "the freed slot is ours now");
    cr_expect_eq(f.e[1].pid, parent);
    cr_expect_eq(f.e[2].pid, 0);
}

static void expect_no_coordination(const char *why)
{
    struct bp_reg_view v;
    bp_registry_begin(&v);
    cr_expect_eq(v.coord, COORD_NONE, "%s", why);
    cr_expect(noted(why), "a note saying '%s' (got '%s')", why, nnotes ? notes[0] : "none");
    /* Said once, not at every interval. */
    int before = nnotes;
    bp_registry_begin(&v);
    cr_expect_eq(nnotes, before);
}

Test(registry, a_symlink_is_never_followed, .init = tmpdir, .fini = cleanup)
{
    char target[160];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    cr_assert_eq(symlink(target, path), 0);
    expect_no_coordination("symlink");
    cr_expect_neq(access(target, F_OK), 0, "nothing created through the link");
}

Test(registry, a_file_others_may_write_is_not_trusted, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_file f = valid();
    write_file(&f, BP_REG_SIZE, 0666);
    expect_no_coordination("mode 666");
}

Test(registry, a_file_of_another_size_is_not_used, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_file f = valid();
    write_file(&f, 100, 0600);
    expect_no_coordination("size 100");
}

Test(registry, a_directory_is_not_used, .init = tmpdir, .fini = cleanup)
{
    cr_assert_eq(mkdir(path, 0700), 0);
    struct bp_reg_view v;
    bp_registry_begin(&v);
    cr_expect_eq(v.coord, COORD_NONE);
    cr_expect_eq(nnotes, 1);
}

Test(registry, corrupt_content_means_no_coordination, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_file f = valid();
    f.e[4] = (struct bp_reg_entry){.pid = 77, .cpu = 9999, .start = 1};
    write_file(&f, BP_REG_SIZE, 0600);
    expect_no_coordination("corrupt");
    bp_registry_commit(1, 1.0); /* not locked: writes nothing */
    struct bp_reg_file g = read_back();
    cr_expect_eq(memcmp(&f, &g, sizeof f), 0, "left as it was");
}

Test(registry, a_busy_lock_is_waited_for_briefly_never_long, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_view v;
    bp_registry_begin(&v); /* creates it */
    bp_registry_commit(-1, 0.0);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    bp_registry_begin(&v);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    cr_expect_eq(v.coord, COORD_BUSY);
    cr_expect_lt(ms, 1000.0, "waited %.1f ms", ms);
    flock(fd, LOCK_UN);
    close(fd);
    bp_registry_begin(&v);
    cr_expect_eq(v.coord, COORD_OK);
    bp_registry_commit(-1, 0.0);
}

Test(registry, a_fork_child_has_no_claim_and_cannot_release_the_parents, .init = tmpdir, .fini = cleanup)
{
    struct bp_reg_view v;
    bp_registry_begin(&v);
    bp_registry_commit(1, 1.0);
    pid_t child = fork();
    if (child == 0) {
        bp_registry_after_fork_child();
        bp_registry_release();          /* nothing of the parent's */
        struct bp_reg_view cv;
        bp_registry_begin(&cv);         /* its own view: the parent holds cpu 1 */
        int ok = cv.coord == COORD_OK && cv.n == 1 && cv.o[0].pid == getppid() && cv.o[0].cpu == 1;
        bp_registry_commit(-1, 0.0);    /* its own entry, holding nothing */
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child saw the parent's claim as another's");
    struct bp_reg_file f = read_back();
    cr_expect_eq(f.e[0].pid, getpid());
    cr_expect_eq(f.e[0].cpu, 1, "the parent's claim survives the child");
    cr_expect_eq(f.e[1].pid, child);
    cr_expect_eq(f.e[1].cpu, -1);
    bp_registry_begin(&v);
    cr_expect_eq(v.reclaimed, 1, "the child's entry, once it is gone");
    bp_registry_commit(1, 1.0);
}
