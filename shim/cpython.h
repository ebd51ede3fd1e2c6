/* cpython.h: CPython's own layout, as betapool relies on it, in one place
 * and keyed by version. Everything betapool reads or assumes about
 * CPython's structures is here; cpython.c reads them (pure functions over a
 * runtime image, unit-tested on synthetic ones), python.c points them at
 * the live process.
 *
 * Sources: CPython's Include/internal/pycore_gil.h and
 * Include/internal/pycore_debug_offsets.h for 3.13, 3.14 and 3.15, checked
 * against Debian's python3.11, 3.14.10, 3.15.2 and pyenv's 3.10-3.13
 * (x86-64, glibc). */
#ifndef BETAPOOL_CPYTHON_H
#define BETAPOOL_CPYTHON_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* ---- The GIL: struct _gil_runtime_state (pycore_gil.h) -----------------
 * The same in 3.10 through 3.15, one struct per GIL:
 *
 *   [free-threaded builds only: int enabled; 4 bytes of padding]
 *   unsigned long interval;        the switch interval, µs
 *   last_holder;                   a pointer
 *   int locked;                    (+4 padding) 1 while a thread holds it
 *   unsigned long switch_number;   completed switches
 *   pthread_cond_t cond;           C:  48 bytes
 *   pthread_mutex_t mutex;         M:  40 bytes
 *   pthread_cond_t switch_cond;    SC: 48 bytes
 *   pthread_mutex_t switch_mutex;  SM: 40 bytes
 *
 * betapool finds the GIL by its cond (create_gil initialises M and SM,
 * then C and SC), so every offset is from C and holds for both builds. */
#define BP_GIL_LOCKED_FROM_COND (-16)
#define BP_GIL_SWITCH_NUMBER_FROM_COND (-8)
#define BP_GIL_MUTEX_OFFSET 48
/* SC: never followed (nothing is learned from it), but create_gil inits it
 * right after C: a cond init there is not the GIL's. */
#define BP_GIL_SWITCH_COND_OFFSET 88
#define BP_GIL_SWITCH_MUTEX_OFFSET 136
/* Where C is from the struct's start: after `enabled` in a free-threaded build. */
#define BP_GIL_COND_IN_STRUCT 32
#define BP_GIL_COND_IN_STRUCT_FREE_THREADED 40

/* ---- _Py_DebugOffsets: the table CPython 3.13+ puts at the start of -----
 * _PyRuntime for debuggers. Its first fields are the same in every version:
 *
 *   char cookie[8] = "xdebugpy"; uint64_t version (PY_VERSION_HEX);
 *   uint64_t free_threaded; then struct runtime_state { size, finalizing,
 *   interpreters_head }, then struct interpreter_state {...}
 *
 * Every field is a uint64_t offset into the structure it names, except
 * gil_runtime_state_enabled, which is an offset into the GIL struct (0:
 * `enabled` leads it; present only in free-threaded builds). */
#define BP_DEBUG_COOKIE "xdebugpy"
#define BP_DEBUG_COOKIE_LEN 8
#define BP_DEBUG_VERSION_AT 8
#define BP_DEBUG_FREE_THREADED_AT 16

/* Where, inside _Py_DebugOffsets, the fields betapool reads are, by version.
 * interpreter_state begins at 48 in all: size, id, next, threads_head, then
 * 3.13: gc, imports_modules, sysdict, builtins, ceval_gil, gil_runtime_state,
 *       gil_runtime_state_enabled, gil_runtime_state_locked, ..._holder;
 * 3.14 and 3.15 insert threads_main after threads_head, so from gc on
 *       every field is 8 bytes later. */
struct bp_debug_layout {
    unsigned first_minor, last_minor; /* 3.first_minor .. 3.last_minor */
    uint16_t runtime_size;            /* runtime_state.size: sizeof(_PyRuntimeState) */
    uint16_t interpreters_head;       /* runtime_state.interpreters_head */
    uint16_t interp_size;             /* interpreter_state.size */
    uint16_t interp_next;             /* interpreter_state.next */
    uint16_t interp_ceval_gil;        /* interpreter_state.ceval_gil: the GIL in use (a pointer) */
    uint16_t interp_gil;              /* interpreter_state.gil_runtime_state: its own GIL struct */
    uint16_t gil_enabled;             /* interpreter_state.gil_runtime_state_enabled */
    uint16_t interp_gil_locked;       /* interpreter_state.gil_runtime_state_locked */
    uint16_t interp_gil_holder;       /* interpreter_state.gil_runtime_state_holder */
};

static const struct bp_debug_layout bp_debug_layouts[] = {
    {.first_minor = 13, .last_minor = 13, .runtime_size = 24, .interpreters_head = 40, .interp_size = 48,
     .interp_next = 64, .interp_ceval_gil = 112, .interp_gil = 120, .gil_enabled = 128, .interp_gil_locked = 136,
     .interp_gil_holder = 144},
    {.first_minor = 14, .last_minor = 15, .runtime_size = 24, .interpreters_head = 40, .interp_size = 48,
     .interp_next = 64, .interp_ceval_gil = 120, .interp_gil = 128, .gil_enabled = 136, .interp_gil_locked = 144,
     .interp_gil_holder = 152},
};
/* The bytes of _PyRuntime the reader needs to see: the longest prefix. */
#define BP_DEBUG_PREFIX 160

/* ---- Reading a runtime image (cpython.c) -------------------------------- */
enum bp_layout_verdict {
    BP_LAYOUT_REFUTED = 0,   /* CPython's offsets put the GIL elsewhere */
    BP_LAYOUT_UNCHECKED = 1, /* nothing to compare with: the first takes decide */
    BP_LAYOUT_CONFIRMED = 2, /* CPython's offsets agree with the GIL found */
};

struct bp_cpython_view {
    int has_offsets;                     /* the cookie is there: 3.13 or newer */
    uint64_t version_hex;                /* PY_VERSION_HEX from the table */
    unsigned major, minor;
    const struct bp_debug_layout *layout; /* NULL: a version betapool does not know */
    int free_threaded;
    const char *main_interp; /* the main interpreter (inside _PyRuntime), once located */
    const char *gil;         /* the GIL struct it uses, once located */
    size_t locked_in_gil;    /* where `locked` is in it */
    size_t enabled_in_gil;   /* where `enabled` is in it (free-threaded) */
};

/* What rt (the start of _PyRuntime) says of itself: the cookie, version,
 * build and layout. Reads BP_DEBUG_PREFIX bytes at most; follows no pointer. */
void bp_cpython_read(const char *rt, struct bp_cpython_view *v) BP_HIDDEN;
/* Known layouts only: finds the main interpreter (the one inside
 * _PyRuntime, the last of the list) and the GIL it uses. Returns 1, or 0
 * with why. */
int bp_cpython_locate(const char *rt, struct bp_cpython_view *v, char *why, size_t n) BP_HIDDEN;
/* Whether the GIL betapool found by its cond is the located one. */
enum bp_layout_verdict bp_cpython_check_cond(const struct bp_cpython_view *v, const void *cond, char *why,
                                             size_t n) BP_HIDDEN;
/* A located free-threaded build: 1 when its GIL is on (PYTHON_GIL=1, or an
 * extension that needs it), 0 when off; -1 when not known. */
int bp_cpython_gil_enabled(const struct bp_cpython_view *v) BP_HIDDEN;

#endif
