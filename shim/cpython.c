/* Reading CPython's debug offsets (cpython.h) from a runtime image: pure
 * functions of the bytes they are given, so that the unit tests can lay out
 * a synthetic _PyRuntime of each version. Run once on the shim's own thread
 * (python.c), never from a hook. */
#include <stdio.h>
#include <string.h>

#include "cpython.h"

static uint64_t u64_at(const char *p, size_t off)
{
    uint64_t x;
    memcpy(&x, p + off, sizeof x);
    return x;
}

static const char *ptr_at(const char *p, size_t off)
{
    const char *x;
    memcpy(&x, p + off, sizeof x);
    return x;
}

void bp_cpython_read(const char *rt, struct bp_cpython_view *v)
{
    memset(v, 0, sizeof *v);
    if (!rt || memcmp(rt, BP_DEBUG_COOKIE, BP_DEBUG_COOKIE_LEN) != 0)
        return; /* before 3.13: no table */
    v->has_offsets = 1;
    v->version_hex = u64_at(rt, BP_DEBUG_VERSION_AT);
    v->major = (unsigned)(v->version_hex >> 24) & 0xff;
    v->minor = (unsigned)(v->version_hex >> 16) & 0xff;
    v->free_threaded = u64_at(rt, BP_DEBUG_FREE_THREADED_AT) != 0;
    if (v->major != 3)
        return;
    for (size_t i = 0; i < sizeof bp_debug_layouts / sizeof bp_debug_layouts[0]; i++)
        if (v->minor >= bp_debug_layouts[i].first_minor && v->minor <= bp_debug_layouts[i].last_minor)
            v->layout = &bp_debug_layouts[i];
}

int bp_cpython_locate(const char *rt, struct bp_cpython_view *v, char *why, size_t n)
{
    const struct bp_debug_layout *L = v->layout;
    if (!L) {
        snprintf(why, n, "no known layout for CPython %u.%u", v->major, v->minor);
        return 0;
    }
    uint64_t rt_size = u64_at(rt, L->runtime_size);
    uint64_t head_off = u64_at(rt, L->interpreters_head);
    uint64_t interp_size = u64_at(rt, L->interp_size);
    uint64_t next_off = u64_at(rt, L->interp_next);
    uint64_t gil_ptr_off = u64_at(rt, L->interp_ceval_gil);
    uint64_t own_gil_off = u64_at(rt, L->interp_gil);
    /* Every offset must fall inside the structure it is an offset into. */
    if (head_off + sizeof(void *) > rt_size || next_off + sizeof(void *) > interp_size ||
        gil_ptr_off + sizeof(void *) > interp_size || own_gil_off >= interp_size) {
        snprintf(why, n, "CPython's debug offsets are out of range (interpreters_head %llu of %llu)",
                 (unsigned long long)head_off, (unsigned long long)rt_size);
        return 0;
    }
    /* Since 3.12 the main interpreter is part of _PyRuntime itself, and the
     * last of the list (the newest is at its head): the one node whose
     * memory is never freed, so the shim may read it at any time. */
    const char *interp = ptr_at(rt, head_off);
    for (int hops = 0; interp && hops < 64; hops++) {
        if (interp >= rt && interp + interp_size <= rt + rt_size)
            break;
        interp = ptr_at(interp, next_off);
    }
    if (!ptr_at(rt, head_off)) {
        snprintf(why, n, "no interpreter yet");
        return 0;
    }
    if (!interp || !(interp >= rt && interp + interp_size <= rt + rt_size)) {
        snprintf(why, n, "no interpreter inside _PyRuntime");
        return 0;
    }
    uint64_t locked_off = u64_at(rt, L->interp_gil_locked);
    uint64_t enabled_off = u64_at(rt, L->gil_enabled);
    if (locked_off < own_gil_off || locked_off + sizeof(int) > interp_size ||
        own_gil_off + enabled_off + sizeof(int) > interp_size) {
        snprintf(why, n, "CPython's debug offsets put the GIL's fields outside its struct");
        return 0;
    }
    const char *gil = ptr_at(interp, gil_ptr_off);
    if (gil != interp + own_gil_off) {
        /* The main interpreter always uses its own GIL struct. */
        snprintf(why, n, "the main interpreter's GIL pointer %p is not its own GIL struct %p", (const void *)gil,
                 (const void *)(interp + own_gil_off));
        return 0;
    }
    v->main_interp = interp;
    v->gil = gil;
    v->locked_in_gil = (size_t)(locked_off - own_gil_off);
    v->enabled_in_gil = (size_t)enabled_off;
    return 1;
}

enum bp_layout_verdict bp_cpython_check_cond(const struct bp_cpython_view *v, const void *cond, char *why, size_t n)
{
    if (!v->gil || !cond)
        return BP_LAYOUT_UNCHECKED;
    const char *locked = v->gil + v->locked_in_gil;
    const char *expected = (const char *)cond + BP_GIL_LOCKED_FROM_COND;
    if (locked != expected) {
        snprintf(why, n, "CPython's debug offsets put the GIL's lock flag at %p, betapool expected %p",
                 (const void *)locked, (const void *)expected);
        return BP_LAYOUT_REFUTED;
    }
    return BP_LAYOUT_CONFIRMED;
}

int bp_cpython_gil_enabled(const struct bp_cpython_view *v)
{
    if (!v->gil || !v->free_threaded)
        return -1;
    /* An int CPython writes atomically; a relaxed read of it is all that is
     * needed to report it. */
    int enabled;
    memcpy(&enabled, v->gil + v->enabled_in_gil, sizeof enabled);
    return enabled != 0;
}
