/* Is this process CPython, and where is its image? Run once, from the
 * constructor, where taking the loader lock is allowed. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "bp.h"

struct bp_python bp_python;

/* Our own hooks (hooks.c), by hidden aliases: a plain reference to the
 * exported name would bind to the executable's definition when it has one. */
unsigned long bp_own_start_new_thread(void (*func)(void *), void *arg) BP_HIDDEN;
int bp_own_start_joinable_thread(void (*func)(void *), void *arg, void *ident, void *handle) BP_HIDDEN;

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
