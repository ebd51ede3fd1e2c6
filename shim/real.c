/* Resolving the real functions behind every hook, in one place.
 *
 * Hooks call bp_real_ensure() first, so a call that arrives before the
 * constructor (another library's constructor creating a thread, say) still
 * reaches the real function. Resolution is idempotent: threads that race
 * here store the same pointers. */
#include <dlfcn.h>

#include "real.h"

struct bp_real bp_real;

/* pthread_cond_* exist in two versions; CPython binds the 2.3.2 ones, and
 * the 2.2.5 compatibility versions crash it at create_gil. */
#define COND_VERSION "GLIBC_2.3.2"

static void *next_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void bp_real_resolve(void)
{
    /* dlsym may allocate, and an interposed allocator may lock a mutex:
     * that nested hook finds a NULL pointer and uses its fallback. */
    static __thread __attribute__((tls_model("initial-exec"))) int resolving;
    if (resolving)
        return;
    resolving = 1;
    bp_real.pthread_create = next_sym("pthread_create");
    bp_real.mutex_init = next_sym("pthread_mutex_init");
    bp_real.mutex_lock = next_sym("pthread_mutex_lock");
    bp_real.mutex_trylock = next_sym("pthread_mutex_trylock");
    bp_real.mutex_unlock = next_sym("pthread_mutex_unlock");
    bp_real.cond_init = dlvsym(RTLD_NEXT, "pthread_cond_init", COND_VERSION);
    bp_real.cond_signal = dlvsym(RTLD_NEXT, "pthread_cond_signal", COND_VERSION);
    bp_real.cond_broadcast = dlvsym(RTLD_NEXT, "pthread_cond_broadcast", COND_VERSION);
    bp_real.cond_timedwait = dlvsym(RTLD_NEXT, "pthread_cond_timedwait", COND_VERSION);
    bp_real.sem_wait = next_sym("sem_wait");
    bp_real.sem_timedwait = next_sym("sem_timedwait");
    bp_real.sem_clockwait = next_sym("sem_clockwait");
    bp_real.execve = next_sym("execve");
    bp_real.execv = next_sym("execv");
    bp_real.execvp = next_sym("execvp");
    bp_real.execvpe = next_sym("execvpe");
    bp_real.posix_spawn = next_sym("posix_spawn");
    bp_real.posix_spawnp = next_sym("posix_spawnp");
    bp_real.system = next_sym("system");
    bp_real.popen = next_sym("popen");
    bp_real.exit_ = next_sym("_exit");
    bp_real.Exit_ = next_sym("_Exit");
    /* The CPython entry points may be absent (not Python), or defined by the
     * executable, which comes before us in the lookup order: RTLD_NEXT does
     * not see it, and then our hook is never the bound definition anyway. */
    bp_real.start_new_thread = next_sym("PyThread_start_new_thread");
    bp_real.start_joinable_thread = next_sym("PyThread_start_joinable_thread");
    atomic_store_explicit(&bp_real.resolved, 1, memory_order_release);
    resolving = 0;
}
