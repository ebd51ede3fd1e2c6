/* gil_check.c: is the GIL betapool follows laid out as betapool knows? */
#ifndef BETAPOOL_GIL_CHECK_H
#define BETAPOOL_GIL_CHECK_H

#include "common.h"

/* Once the GIL is found, its place is compared with CPython's own debug
 * offsets (3.13+), once; a free-threaded build is noticed; the first takes'
 * check (bp_gil_check_take) is read. Returns 1 when betapool must stop
 * following the GIL, with why; what is only worth a note is queued. */
int bp_gil_verify(char *why, size_t n) BP_HIDDEN;

#endif
