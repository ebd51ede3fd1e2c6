/* python.c: is this CPython, and which image is it. */
#ifndef BETAPOOL_PYTHON_H
#define BETAPOOL_PYTHON_H

#include "common.h"

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
/* 3.13: CPython's own debug offsets. Returns 2 when they confirm the GIL
 * found, 1 when there is nothing to compare, 0 when they refute it; sets
 * *free_threaded. */
int bp_python_cross_check(void *gil_cond, int *free_threaded, char *why, size_t n) BP_HIDDEN;
static inline int bp_in_python(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    return a >= bp_python.text_lo && a < bp_python.text_hi;
}

#endif
