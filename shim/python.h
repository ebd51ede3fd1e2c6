/* python.c: is this CPython, and which image is it. */
#ifndef BETAPOOL_PYTHON_H
#define BETAPOOL_PYTHON_H

#include "common.h"
#include "cpython.h"

struct bp_python {
    int is_python;
    uintptr_t text_lo, text_hi;   /* the executable segment of the Python image */
    char version[32];
    int hooked_start_new;         /* our PyThread_start_new_thread is the bound one */
    int hooked_start_joinable;
};
extern struct bp_python bp_python BP_HIDDEN;
void bp_python_detect(void) BP_HIDDEN;
void bp_python_read_version(void) BP_HIDDEN;
/* What CPython's own debug offsets (3.13+) say of the GIL found (its cond,
 * or NULL): the verdict, whether the build is free-threaded and, if so,
 * whether its GIL is on; a version with offsets betapool does not know is
 * left to the first takes (unknown_version). On the shim's own thread. */
struct bp_python_layout {
    enum bp_layout_verdict verdict;
    int free_threaded;
    int gil_enabled;     /* free-threaded: 1 on, 0 off, -1 not known */
    int unknown_version; /* the offsets' layout is not in cpython.h */
    unsigned minor;
};
void bp_python_cross_check(void *gil_cond, struct bp_python_layout *out, char *why, size_t n) BP_HIDDEN;
/* After bp_python_cross_check located it: whether a free-threaded build's
 * GIL is on now (1), off (0), or not known (-1). */
int bp_python_gil_enabled(void) BP_HIDDEN;
static inline int bp_in_python(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    return a >= bp_python.text_lo && a < bp_python.text_hi;
}

#endif
