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
    /* A free-threaded build (3.13t+) is observed only, from its start: its
     * GIL is never claimed (gil.c), so nothing is followed before the
     * shim's thread looks (gil_check.c). The flag is static data, read
     * here where dlsym is allowed. */
    struct bp_cpython_view v;
    bp_cpython_read(dlsym(RTLD_DEFAULT, "_PyRuntime"), &v);
    if (v.free_threaded)
        atomic_store(&bp_gil.disabled, BP_FT_GIL_OFF);
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

/* CPython's own debug offsets (3.13+, cpython.h), read once the GIL is
 * found or the first tick passed; the view is kept for
 * bp_python_gil_enabled, which reads only the main interpreter's GIL
 * struct: static memory inside _PyRuntime, never freed. */
static struct bp_cpython_view view;

void bp_python_cross_check(void *gil_cond, struct bp_python_layout *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    out->verdict = BP_LAYOUT_UNCHECKED;
    out->gil_enabled = -1;
    const char *rt = dlsym(RTLD_DEFAULT, "_PyRuntime");
    bp_cpython_read(rt, &view);
    if (!view.has_offsets)
        return; /* before 3.13: nothing to compare with */
    out->minor = view.minor;
    out->free_threaded = view.free_threaded;
    if (!view.layout) {
        out->unknown_version = 1;
        snprintf(why, n, "CPython %u.%u's debug offsets are not known to betapool", view.major, view.minor);
        /* Its free_threaded flag is still read: the table's first fields
         * are the same in every version. */
        return;
    }
    if (!bp_cpython_locate(rt, &view, why, n))
        return;
    out->gil_enabled = bp_cpython_gil_enabled(&view);
    if (!out->free_threaded)
        out->verdict = bp_cpython_check_cond(&view, gil_cond, why, n);
}

int bp_python_gil_enabled(void)
{
    return bp_cpython_gil_enabled(&view);
}
