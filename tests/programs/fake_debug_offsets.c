/* A preload library for the tests: its constructor rewrites the header of
 * CPython's debug offsets (the start of _PyRuntime, 3.13+), which CPython
 * itself never reads, so that betapool meets a CPython it cannot be given
 * here:
 *   FAKE_DEBUG_VERSION=0x031000f0   the version field (a 3.16 it does not know)
 *   FAKE_DEBUG_FREE_THREADED=1      the free_threaded flag
 * In a default build the first field of the GIL struct is `interval` (the
 * switch interval, µs) where a free-threaded build has `enabled`: a program
 * under FAKE_DEBUG_FREE_THREADED turns its "GIL" off and on with
 * sys.setswitchinterval (2**32 µs reads as 0). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void fake(void)
{
    char *rt = dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (!rt || memcmp(rt, "xdebugpy", 8) != 0)
        return;
    const char *v = getenv("FAKE_DEBUG_VERSION");
    if (v) {
        uint64_t x = strtoull(v, NULL, 0);
        memcpy(rt + 8, &x, sizeof x);
    }
    const char *ft = getenv("FAKE_DEBUG_FREE_THREADED");
    if (ft) {
        uint64_t x = strtoull(ft, NULL, 0);
        memcpy(rt + 16, &x, sizeof x);
    }
}
