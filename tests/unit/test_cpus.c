/* The CPUs a process can really use: cpu lists, cpu.max, /proc/self/cgroup,
 * and a fake cgroup v2 tree in a temporary directory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpus.h"

static cpu_set_t set_of(const char *list)
{
    cpu_set_t s;
    cr_assert_eq(bp_cpulist_parse(list, &s), 0, "%s", list);
    return s;
}

Test(cpus, cpu_lists)
{
    cpu_set_t s = set_of("0-3,5\n");
    cr_expect_eq(CPU_COUNT(&s), 5);
    cr_expect(CPU_ISSET(5, &s) && !CPU_ISSET(4, &s));
    s = set_of("7");
    cr_expect_eq(CPU_COUNT(&s), 1);
    s = set_of("\n");
    cr_expect_eq(CPU_COUNT(&s), 0);
    const char *bad[] = {"a", "1-", "3-1", "1,,2", "-1", "1 2", "99999", "0-99999", "1-2x", ","};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(bp_cpulist_parse(bad[i], &s), -1, "%s", bad[i]);
}

Test(cpus, cpu_max)
{
    double q = -1;
    cr_expect_eq(bp_cpumax_parse("max 100000\n", &q), 0);
    cr_expect_float_eq(q, 0.0, 1e-12);
    cr_expect_eq(bp_cpumax_parse("150000 100000\n", &q), 0);
    cr_expect_float_eq(q, 1.5, 1e-12);
    cr_expect_eq(bp_cpumax_parse("50000 100000", &q), 0);
    cr_expect_float_eq(q, 0.5, 1e-12);
    const char *bad[] = {"", "max", "100000", "1 0", "x 100000", "0 100000", "-5 100000", "10 10 10", "max  1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(bp_cpumax_parse(bad[i], &q), -1, "%s", bad[i]);
}

Test(cpus, proc_self_cgroup)
{
    char p[256];
    cr_expect_eq(bp_cgroup_v2_path("0::/user.slice/app.scope\n", p, sizeof p), 0);
    cr_expect_str_eq(p, "/user.slice/app.scope");
    /* v1 lines first, then the unified one. */
    cr_expect_eq(bp_cgroup_v2_path("12:cpuset:/x\n4:cpu,cpuacct:/y\n0::/z\n", p, sizeof p), 0);
    cr_expect_str_eq(p, "/z");
    cr_expect_eq(bp_cgroup_v2_path("0::/\n", p, sizeof p), 0);
    cr_expect_str_eq(p, "/");
    cr_expect_eq(bp_cgroup_v2_path("12:cpuset:/x\n", p, sizeof p), -1, "v1 only");
    cr_expect_eq(bp_cgroup_v2_path("0::/a/../../etc\n", p, sizeof p), -1, "no way up");
    cr_expect_eq(bp_cgroup_v2_path("0::relative\n", p, sizeof p), -1);
    cr_expect_eq(bp_cgroup_v2_path("", p, sizeof p), -1);
}

/* ---- a fake tree ---- */

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
}

static void tree(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/bp-cgroup.XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    cr_assert(mkdtemp(root));
    dir("a");
    dir("a/b");
    put("cpuset.cpus.effective", "0-7\n");
    put("proc_cgroup", "0::/a/b\n");
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_expect_eq(system(cmd), 0);
}

static struct bp_usable read_tree(const char *mask)
{
    struct bp_usable c;
    char proc[256];
    cpu_set_t m = set_of(mask);
    snprintf(proc, sizeof proc, "%s/proc_cgroup", root);
    cr_expect_eq(bp_cpus_read(root, proc, &m, &c), 0);
    return c;
}

Test(cpus, the_leaf_cpuset_and_the_least_quota_up_the_tree, .init = tree, .fini = cleanup)
{
    put("a/b/cpuset.cpus.effective", "2-3\n");
    put("a/b/cpu.max", "max 100000\n");
    put("a/cpu.max", "300000 100000\n");
    struct bp_usable c = read_tree("0-7");
    cr_expect_eq(c.count, 2);
    cr_expect(CPU_ISSET(2, &c.set) && CPU_ISSET(3, &c.set));
    cr_expect_float_eq(c.quota, 3.0, 1e-9);
    cr_expect(c.usable, "%s", c.why);
}

Test(cpus, a_quota_under_two_cpus_leaves_nothing_to_give, .init = tree, .fini = cleanup)
{
    put("a/b/cpu.max", "150000 100000\n");
    put("a/cpu.max", "400000 100000\n");
    struct bp_usable c = read_tree("0-7");
    cr_expect_eq(c.count, 8, "no cpuset below the root: the root's 0-7");
    cr_expect_float_eq(c.quota, 1.5, 1e-9);
    cr_expect_not(c.usable);
    cr_expect(strstr(c.why, "cpu.max allows 1.50 cpus") != NULL, "%s", c.why);
}

Test(cpus, the_mask_within_the_cpuset, .init = tree, .fini = cleanup)
{
    put("a/cpuset.cpus.effective", "0-1\n");
    struct bp_usable c = read_tree("1-5");
    cr_expect_eq(c.count, 1, "the mask 1-5 within the cpuset 0-1: cpu 1");
    cr_expect_not(c.usable);
    cr_expect(strstr(c.why, "1 cpu only") != NULL, "%s", c.why);
    c = read_tree("0-5");
    cr_expect_eq(c.count, 2);
    cr_expect(c.usable);
}

Test(cpus, taskset_to_one_cpu_is_not_usable, .init = tree, .fini = cleanup)
{
    struct bp_usable c = read_tree("0");
    cr_expect_not(c.usable);
}

Test(cpus, garbage_files_are_ignored, .init = tree, .fini = cleanup)
{
    put("a/b/cpuset.cpus.effective", "garbage\n");
    put("a/b/cpu.max", "-1 -1\n");
    struct bp_usable c = read_tree("0-3");
    cr_expect_eq(c.count, 4, "the root's cpuset, the mask within it");
    cr_expect_float_eq(c.quota, 0.0, 1e-9);
    cr_expect(c.usable);
}

Test(cpus, others_leave_out_this_process_and_the_registrys)
{
    struct bp_reg_view v = {.coord = COORD_OK, .n = 2};
    v.o[0] = (struct bp_reg_other){.pid = 10, .cpu = 1, .load = 0.9};  /* holds cpu 1 */
    v.o[1] = (struct bp_reg_other){.pid = 11, .cpu = -1, .load = 1.0}; /* holds none: half on each */
    /* We hold cpu 0 and used 0.5 of it; it was busy 1.0: 0.5 was the unpinned one's. */
    cr_expect_float_eq(bp_cpu_others(0, 1.0, 0.5, 0, 2, &v), 0.0, 1e-9);
    /* cpu 1: 0.9 the holder's, 0.5 the unpinned one's, none ours: busy 1.0 leaves nothing. */
    cr_expect_float_eq(bp_cpu_others(1, 1.0, 0.5, 0, 2, &v), 0.0, 1e-9);
    /* Unpinned, a CPU busy 1.0 of which 0.3 is ours and 0.5 the unpinned one's: 0.2 others. */
    cr_expect_float_eq(bp_cpu_others(0, 1.0, 0.6, -1, 2, &v), 0.2, 1e-9);
    /* No registry: everything not ours is others'. */
    v.coord = COORD_NONE;
    cr_expect_float_eq(bp_cpu_others(1, 1.0, 0.5, 0, 2, &v), 1.0, 1e-9);
    cr_expect_float_eq(bp_cpu_others(1, 1.0, 0.5, 0, 2, NULL), 1.0, 1e-9);
}

Test(cpus, no_cgroup_v2_keeps_the_mask)
{
    struct bp_usable c;
    cpu_set_t m = set_of("0-1");
    cr_expect_eq(bp_cpus_read("/nonexistent-bp-root", "/nonexistent-bp-cgroup", &m, &c), -1);
    cr_expect_eq(c.count, 2);
    cr_expect(c.usable);
}
