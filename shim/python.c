/* Is this process CPython, and where is its image? Run once, from the
 * constructor, where taking the loader lock is allowed. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "gil.h"
#include "hooks.h"
#include "python.h"

struct bp_python bp_python;


struct find_text {
    uintptr_t addr, lo, hi;
};

static int find_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct find_text *ft = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        if (ft->addr >= lo && ft->addr < hi) {
            ft->lo = lo;
            ft->hi = hi;
            return 1;
        }
    }
    return 0;
}

/* The CPython thread-start entry point, wherever it is defined: RTLD_NEXT
 * finds it in a shared libpython, RTLD_DEFAULT in an executable that
 * exports it (Debian's python3.11), and never our own hook. */
static void *python_entry(const char *name, void *ours)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p)
        return p;
    p = dlsym(RTLD_DEFAULT, name);
    return p == ours ? NULL : p;
}

void bp_python_detect(void)
{
    void *entry = python_entry("PyThread_start_new_thread", (void *)bp_own_start_new_thread);
    if (!entry)
        return;
    struct find_text ft = {.addr = (uintptr_t)entry};
    if (!dl_iterate_phdr(find_segment, &ft))
        return;
    bp_python.text_lo = ft.lo;
    bp_python.text_hi = ft.hi;
    bp_python.is_python = 1;
    bp_python.hooked_start_new =
        dlsym(RTLD_DEFAULT, "PyThread_start_new_thread") == (void *)bp_own_start_new_thread;
    bp_python.hooked_start_joinable =
        python_entry("PyThread_start_joinable_thread", (void *)bp_own_start_joinable_thread) &&
        dlsym(RTLD_DEFAULT, "PyThread_start_joinable_thread") == (void *)bp_own_start_joinable_thread;
    snprintf(bp_python.version, sizeof bp_python.version, "unknown");
}

/* The version, read from data (Py_Version, 3.11+) or from Py_GetVersion,
 * which only formats constants; called from the shim's own thread. */
void bp_python_read_version(void)
{
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");
    if (hex && *hex) {
        unsigned long v = *hex;
        unsigned major = (v >> 24) & 0xff, minor = (v >> 16) & 0xff, micro = (v >> 8) & 0xff;
        unsigned level = (v >> 4) & 0xf, serial = v & 0xf;
        static const char *const levels[16] = {[0xa] = "a", [0xb] = "b", [0xc] = "rc"};
        if (level == 0xf || !levels[level])
            snprintf(bp_python.version, sizeof bp_python.version, "%u.%u.%u", major, minor, micro);
        else
            snprintf(bp_python.version, sizeof bp_python.version, "%u.%u.%u%s%u", major, minor, micro,
                     levels[level], serial);
        return;
    }
    const char *(*get_version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (get_version) {
        const char *s = get_version();
        size_t n = strcspn(s, " ");
        if (n >= sizeof bp_python.version)
            n = sizeof bp_python.version - 1;
        memcpy(bp_python.version, s, n);
        bp_python.version[n] = 0;
    }
}

/* Returns 2 when the offsets confirm the GIL, 1 when there is nothing to
 * compare with, 0 when they refute it.
 *
 * CPython 3.13 publishes the offsets of its own structures at the start of
 * _PyRuntime ("xdebugpy"), for debuggers. betapool reads the few it needs:
 * whether the build is free-threaded, and where the main interpreter's GIL
 * is. Only the 3.13 layout of that table is known here; other versions
 * pass (the runtime check of the first takes still applies). */
struct debug_offsets_313 {
    char cookie[8];
    uint64_t version;
    uint64_t free_threaded;
    struct {
        uint64_t size, finalizing, interpreters_head;
    } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins, ceval_gil,
            gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked, gil_runtime_state_holder;
    } interpreter_state;
};

int bp_python_cross_check(void *gil_cond, int *free_threaded, char *why, size_t n)
{
    *free_threaded = 0;
    const char *rt = dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (!rt || memcmp(rt, "xdebugpy", 8) != 0)
        return 1; /* before 3.13: nothing to compare with */
    struct debug_offsets_313 d;
    memcpy(&d, rt, sizeof d);
    if ((d.version >> 16) != 0x030d)
        return 1;
    *free_threaded = d.free_threaded != 0;
    if (*free_threaded || !gil_cond)
        return 1;
    if (d.runtime_state.interpreters_head >= d.runtime_state.size) {
        snprintf(why, n, "debug offsets out of range");
        return 0;
    }
    const char *interp;
    memcpy(&interp, rt + d.runtime_state.interpreters_head, sizeof interp);
    /* The newest interpreter is at the head; the main one is the last. */
    for (int hops = 0; interp && hops < 64; hops++) {
        const char *next;
        memcpy(&next, interp + d.interpreter_state.next, sizeof next);
        if (!next)
            break;
        interp = next;
    }
    if (!interp) {
        snprintf(why, n, "no interpreter yet");
        return 1;
    }
    const char *gil;
    memcpy(&gil, interp + d.interpreter_state.ceval_gil, sizeof gil);
    const char *locked = gil + (d.interpreter_state.gil_runtime_state_locked -
                                d.interpreter_state.gil_runtime_state);
    if (locked != (const char *)gil_cond + BP_GIL_LOCKED_FROM_COND) {
        snprintf(why, n, "CPython's debug offsets put the GIL's lock flag at %p, betapool expected %p",
                 (const void *)locked, (const void *)((const char *)gil_cond + BP_GIL_LOCKED_FROM_COND));
        return 0;
    }
    return 2;
}
