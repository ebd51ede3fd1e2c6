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
    bp_image_at(entry, &bp_python.image);
    atomic_store_explicit(&bp_python.is_python, 1, memory_order_release);
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

/* A symbol of the Python image, as that image defines it (never our own
 * hook of the same name): read from its symbol table where the image is
 * known, else the loader's next definition after ours (a libpython loaded
 * with RTLD_GLOBAL after start, not recognised). */
void *bp_python_symbol(const char *name)
{
    if (atomic_load_explicit(&bp_python.is_python, memory_order_acquire) && bp_python.image.map)
        return bp_image_symbol(&bp_python.image, name);
    return dlsym(RTLD_NEXT, name);
}

/* ---- a Python that arrives after start ----
 *
 * A host that dlopens libpython (uWSGI's python plugin, a C program) starts
 * without one: the constructor finds no Python and the shim waits. Hooks
 * that a Python image calls before it needs betapool ask here with their
 * caller's address: pthread_mutex_init and pthread_cond_init (create_gil
 * calls both, so the GIL is seen being made), pthread_create (its start
 * routine) and CPython's thread-start entry points. An image is Python when
 * it exports PyThread_start_new_thread, as at start. The answer comes from
 * memory alone (image.c); images found not to be Python are remembered, so
 * a program that never loads Python pays one compare per such call. */
_Atomic int bp_python_waiting;

#define NOT_PYTHON 8
static _Atomic(void *) not_python_map[NOT_PYTHON];
static _Atomic uintptr_t not_python_lo[NOT_PYTHON], not_python_hi[NOT_PYTHON];
static _Atomic unsigned not_python_next;

int bp_python_arrive(const void *addr, const char *where)
{
    if (atomic_load_explicit(&bp_python.is_python, memory_order_acquire))
        return 1;
    struct bp_image img;
    if (!bp_image_at(addr, &img))
        return 0;
    for (int i = 0; i < NOT_PYTHON; i++)
        if (atomic_load_explicit(&not_python_map[i], memory_order_relaxed) == img.map &&
            atomic_load_explicit(&not_python_lo[i], memory_order_relaxed) == img.lo &&
            atomic_load_explicit(&not_python_hi[i], memory_order_relaxed) == img.hi)
            return 0; /* (an image unloaded and another at its place differs in one of these) */
    if (!bp_image_symbol(&img, "PyThread_start_new_thread")) {
        unsigned i = atomic_fetch_add_explicit(&not_python_next, 1, memory_order_relaxed) % NOT_PYTHON;
        atomic_store_explicit(&not_python_lo[i], img.lo, memory_order_relaxed);
        atomic_store_explicit(&not_python_hi[i], img.hi, memory_order_relaxed);
        atomic_store_explicit(&not_python_map[i], img.map, memory_order_relaxed);
        return 0;
    }
    /* One thread publishes; another finding the same image meanwhile
     * waits for nothing and simply sees it next time. */
    static _Atomic int claimed;
    int unclaimed = 0;
    if (!atomic_compare_exchange_strong(&claimed, &unclaimed, 1))
        return 0;
    bp_python.image = img;
    bp_python.late = 1;
    bp_python.arrived_at = where;
    /* Seen first starting a thread, not making its locks: it was running,
     * its GIL made already. */
    bp_python.arrived_running = strcmp(where, "pthread_mutex_init") != 0 && strcmp(where, "pthread_cond_init") != 0;
    snprintf(bp_python.version, sizeof bp_python.version, "unknown");
    /* lo before hi: a reader (bp_in_python) that sees the new end sees
     * the new start, and never a range from 0. */
    atomic_store_explicit(&bp_python.text_lo, img.lo, memory_order_relaxed);
    atomic_store_explicit(&bp_python.text_hi, img.hi, memory_order_release);
    atomic_store_explicit(&bp_python.is_python, 1, memory_order_release);
    atomic_store_explicit(&bp_python_waiting, 0, memory_order_relaxed);
    bp_shim_activate();
    return 1;
}

/* The version, read from data (Py_Version, 3.11+) or from Py_GetVersion,
 * which only formats constants; called from the shim's own thread. */
void bp_python_read_version(void)
{
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");
    if (!hex)
        hex = bp_python_symbol("Py_Version"); /* a libpython loaded RTLD_LOCAL */
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
    if (!get_version)
        get_version = (const char *(*)(void))bp_python_symbol("Py_GetVersion");
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
    if (!rt)
        rt = bp_python_symbol("_PyRuntime"); /* a libpython loaded RTLD_LOCAL */
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
