/* CPython's debug offsets (shim/cpython.c) read from synthetic runtime
 * images: a byte buffer laid out as _PyRuntime begins in each version, its
 * _Py_DebugOffsets table filled in field by field from the version's own
 * field order (pycore_debug_offsets.h), independently of the byte offsets
 * shim/cpython.h keeps, then a main interpreter inside the buffer with its
 * GIL struct, default or free-threaded. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpython.h"

/* interpreter_state's fields in declaration order, by version. */
static const char *const interp_313[] = {"size", "id", "next", "threads_head", "gc", "imports_modules", "sysdict",
                                         "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled",
                                         "gil_runtime_state_locked", "gil_runtime_state_holder", NULL};
static const char *const interp_314[] = {"size", "id", "next", "threads_head", "threads_main", "gc",
                                         "imports_modules", "sysdict", "builtins", "ceval_gil",
                                         "gil_runtime_state", "gil_runtime_state_enabled",
                                         "gil_runtime_state_locked", "gil_runtime_state_holder",
                                         "code_object_generation", "tlbc_generation", NULL};

/* The runtime image's own layout (any values CPython could have). */
#define RT_SIZE 65536
#define HEAD_AT 808       /* runtime_state.interpreters_head */
#define MAIN_AT 8192      /* the main interpreter, inside _PyRuntime */
#define INTERP_SIZE 20000
#define NEXT_AT 7264
#define CEVAL_GIL_AT 16
#define GIL_AT 7784       /* interpreter_state._gil */

struct image {
    char *rt;
    char *main;
    char *gil;  /* the main interpreter's GIL struct */
    char *cond; /* its cond, where betapool would find it */
};

static void put(char *p, size_t off, uint64_t v)
{
    memcpy(p + off, &v, sizeof v);
}

static void put_ptr(char *p, size_t off, const void *v)
{
    memcpy(p + off, &v, sizeof v);
}

/* Lays out a _PyRuntime of CPython 3.minor: fields names the version's
 * interpreter_state order; free-threaded puts `enabled` first in the GIL. */
static struct image make_image(unsigned minor, const char *const *fields, int free_threaded)
{
    struct image im;
    im.rt = aligned_alloc(64, RT_SIZE);
    cr_assert_not_null(im.rt);
    memset(im.rt, 0, RT_SIZE);
    memcpy(im.rt, "xdebugpy", 8);
    put(im.rt, 8, 0x03000000ull | (uint64_t)minor << 16 | 0x02f0);
    put(im.rt, 16, (uint64_t)free_threaded);
    /* runtime_state: size, finalizing, interpreters_head */
    put(im.rt, 24, RT_SIZE);
    put(im.rt, 32, HEAD_AT - 24);
    put(im.rt, 40, HEAD_AT);
    /* the GIL struct: [enabled], interval, last_holder, locked, switch_number, cond */
    size_t lead = free_threaded ? 8 : 0;
    for (int i = 0; fields[i]; i++) {
        uint64_t v = 0;
        const char *f = fields[i];
        if (!strcmp(f, "size"))
            v = INTERP_SIZE;
        else if (!strcmp(f, "next"))
            v = NEXT_AT;
        else if (!strcmp(f, "ceval_gil"))
            v = CEVAL_GIL_AT;
        else if (!strcmp(f, "gil_runtime_state"))
            v = GIL_AT;
        else if (!strcmp(f, "gil_runtime_state_enabled"))
            v = 0; /* an offset into the GIL struct: `enabled` leads it */
        else if (!strcmp(f, "gil_runtime_state_locked"))
            v = GIL_AT + lead + 16;
        else if (!strcmp(f, "gil_runtime_state_holder"))
            v = GIL_AT + lead + 8;
        else
            v = 100 + 8 * (uint64_t)i; /* fields betapool does not read */
        put(im.rt, 48 + 8 * (size_t)i, v);
    }
    im.main = im.rt + MAIN_AT;
    im.gil = im.main + GIL_AT;
    im.cond = im.gil + lead + 32;
    put_ptr(im.rt, HEAD_AT, im.main);
    put_ptr(im.main, NEXT_AT, NULL);
    put_ptr(im.main, CEVAL_GIL_AT, im.gil);
    return im;
}

static void check_version(unsigned minor, const char *const *fields, int free_threaded)
{
    struct image im = make_image(minor, fields, free_threaded);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(v.has_offsets, 1);
    cr_assert_eq(v.major, 3);
    cr_assert_eq(v.minor, minor);
    cr_assert_eq(v.free_threaded, free_threaded);
    cr_assert_not_null(v.layout, "3.%u has a known layout", minor);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 1, "3.%u: %s", minor, why);
    cr_assert_eq(v.main_interp, im.main);
    cr_assert_eq(v.gil, im.gil);
    cr_assert_eq(bp_cpython_check_cond(&v, im.cond, why, sizeof why), BP_LAYOUT_CONFIRMED, "3.%u%s: %s", minor,
                 free_threaded ? "t" : "", why);
    /* A cond 8 bytes off (the other build's place) is not this GIL. */
    const char *other = free_threaded ? im.cond - 8 : im.cond + 8;
    cr_assert_eq(bp_cpython_check_cond(&v, other, why, sizeof why), BP_LAYOUT_REFUTED);
    cr_assert(strstr(why, "lock flag"), "why: %s", why);
    if (free_threaded) {
        cr_assert_eq(bp_cpython_gil_enabled(&v), 0, "3.%ut starts with its GIL off", minor);
        int on = 1; /* PYTHON_GIL=1: _PyEval_EnableGILPermanently */
        memcpy(im.gil, &on, sizeof on);
        cr_assert_eq(bp_cpython_gil_enabled(&v), 1);
        on = 0x7fffffff;
        memcpy(im.gil, &on, sizeof on);
        cr_assert_eq(bp_cpython_gil_enabled(&v), 1);
    } else {
        cr_assert_eq(bp_cpython_gil_enabled(&v), -1, "a default build has no `enabled`");
    }
    free(im.rt);
}

Test(cpython, layout_313) { check_version(13, interp_313, 0); }
Test(cpython, layout_314) { check_version(14, interp_314, 0); }
Test(cpython, layout_315) { check_version(15, interp_314, 0); }
Test(cpython, free_threaded_313t) { check_version(13, interp_313, 1); }
Test(cpython, free_threaded_314t) { check_version(14, interp_314, 1); }
Test(cpython, free_threaded_315t) { check_version(15, interp_314, 1); }

/* The version keys the layout: 3.14's table read as 3.13's finds the GIL
 * pointer in the wrong field and refuses. */
Test(cpython, a_314_image_claiming_313_is_refused)
{
    struct image im = make_image(13, interp_314, 0);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    int located = bp_cpython_locate(im.rt, &v, why, sizeof why);
    if (located)
        cr_assert_neq(bp_cpython_check_cond(&v, im.cond, why, sizeof why), BP_LAYOUT_CONFIRMED);
    else
        cr_assert(why[0], "a reason is given");
    free(im.rt);
}

/* A version newer than betapool knows: its flag is read (the table's first
 * fields are the same in every version), nothing else. */
Test(cpython, unknown_newer_version_is_not_walked)
{
    struct image im = make_image(16, interp_314, 1);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(v.has_offsets, 1);
    cr_assert_eq(v.minor, 16);
    cr_assert_null(v.layout);
    cr_assert_eq(v.free_threaded, 1);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 0);
    cr_assert(strstr(why, "3.16"), "why: %s", why);
    cr_assert_null(v.gil);
    cr_assert_eq(bp_cpython_check_cond(&v, im.cond, why, sizeof why), BP_LAYOUT_UNCHECKED);
    cr_assert_eq(bp_cpython_gil_enabled(&v), -1);
    free(im.rt);
}

/* 3.10-3.12 have no table. */
Test(cpython, no_cookie_no_offsets)
{
    struct image im = make_image(14, interp_314, 0);
    memcpy(im.rt, "notdebug", 8);
    struct bp_cpython_view v;
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(v.has_offsets, 0);
    cr_assert_null(v.layout);
    bp_cpython_read(NULL, &v);
    cr_assert_eq(v.has_offsets, 0);
    free(im.rt);
}

/* A sub-interpreter is at the head of the list; the main one, last, is the
 * one inside _PyRuntime. */
Test(cpython, main_interpreter_is_found_behind_a_subinterpreter)
{
    struct image im = make_image(14, interp_314, 0);
    char *sub = calloc(1, INTERP_SIZE);
    cr_assert_not_null(sub);
    put_ptr(sub, NEXT_AT, im.main);
    put_ptr(sub, CEVAL_GIL_AT, sub + GIL_AT);
    put_ptr(im.rt, HEAD_AT, sub);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 1, "%s", why);
    cr_assert_eq(v.main_interp, im.main);
    cr_assert_eq(bp_cpython_check_cond(&v, im.cond, why, sizeof why), BP_LAYOUT_CONFIRMED);
    /* ... and a list that never reaches _PyRuntime is refused. */
    put_ptr(sub, NEXT_AT, NULL);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 0);
    cr_assert(strstr(why, "inside"), "why: %s", why);
    free(sub);
    free(im.rt);
}

Test(cpython, offsets_out_of_range_are_refused)
{
    struct image im = make_image(15, interp_314, 0);
    put(im.rt, 40, RT_SIZE); /* interpreters_head past the runtime's end */
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 0);
    cr_assert(strstr(why, "out of range"), "why: %s", why);
    free(im.rt);
}

Test(cpython, no_interpreter_yet)
{
    struct image im = make_image(13, interp_313, 0);
    put_ptr(im.rt, HEAD_AT, NULL);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 0);
    cr_assert(strstr(why, "no interpreter"), "why: %s", why);
    free(im.rt);
}

/* The main interpreter uses its own GIL struct; a pointer elsewhere means
 * the offsets are not what they claim. */
Test(cpython, gil_pointer_elsewhere_is_refused)
{
    struct image im = make_image(15, interp_314, 0);
    put_ptr(im.main, CEVAL_GIL_AT, im.main + 64);
    struct bp_cpython_view v;
    char why[200] = "";
    bp_cpython_read(im.rt, &v);
    cr_assert_eq(bp_cpython_locate(im.rt, &v, why, sizeof why), 0);
    cr_assert(strstr(why, "own GIL"), "why: %s", why);
    free(im.rt);
}
