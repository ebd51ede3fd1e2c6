/* python.c: is this CPython, and which image is it. */
#ifndef BETAPOOL_PYTHON_H
#define BETAPOOL_PYTHON_H

#include "common.h"
#include "cpython.h"

/* image.c: loaded images, read without the loader lock. */
struct bp_image {
    uintptr_t lo, hi; /* the image's mapping */
    void *map;        /* its struct link_map */
};
/* The image holding addr; 0 when none (or glibc lacks _dl_find_object). */
int bp_image_at(const void *addr, struct bp_image *out) BP_HIDDEN;
/* The address of name as the image itself defines it; NULL if it does not. */
void *bp_image_symbol(const struct bp_image *img, const char *name) BP_HIDDEN;

struct bp_python {
    _Atomic int is_python;
    _Atomic uintptr_t text_lo, text_hi; /* the Python image (its executable segment, or its whole mapping) */
    struct bp_image image;        /* where known: its symbols are read from it */
    int late;                     /* it arrived after start (dlopen) */
    const char *arrived_at;       /* ... and was recognised in this hook */
    int arrived_running;          /* ... at a thread start: its GIL was made before */
    char version[32];
    _Atomic int hooked_start_new; /* our PyThread_start_new_thread is the bound one (or was called) */
    _Atomic int hooked_start_joinable;
};
extern struct bp_python bp_python BP_HIDDEN;
void bp_python_detect(void) BP_HIDDEN;
void bp_python_read_version(void) BP_HIDDEN;
/* A symbol of the Python image itself (not betapool's hook of that name). */
void *bp_python_symbol(const char *name) BP_HIDDEN;
/* Set while no Python is known and one may still arrive (by dlopen). */
extern _Atomic int bp_python_waiting BP_HIDDEN;
/* Is addr in a Python image that arrived after start? Recognises it (once)
 * when so, in the hook named where, and starts betapool (shim.c); 1 when a
 * Python is known. Lock-free; for the hooks. */
int bp_python_arrive(const void *addr, const char *where) BP_HIDDEN;
/* shim.c: once per process, options, clock, log, the calling thread's record. */
void bp_shim_activate(void) BP_HIDDEN;
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
    uintptr_t hi = atomic_load_explicit(&bp_python.text_hi, memory_order_acquire);
    return a >= atomic_load_explicit(&bp_python.text_lo, memory_order_relaxed) && a < hi;
}

#endif
