/* The real functions behind every hook, filled in one place.
 *
 * Every pointer in bp_real starts as a first-call stub of its own: the stub
 * resolves the whole table once (bp_real_ensure, idempotent: threads that
 * race here store the same pointers; the done flag is set after the work)
 * and then forwards the call. So a hook simply calls bp_real.X, whether the
 * call comes before betapool's constructor (another library's constructor
 * creating a thread), during it, or long after; the busiest hooks pay one
 * load. A function that cannot be had keeps its stub, and the stub's
 * fallback answers: glibc's own aliases for the mutex calls (needed while
 * dlsym itself reaches back into a mutex, an interposed allocator say), a
 * documented failure elsewhere.
 *
 * CPython's thread-start entry points are the exception in when, not in
 * how: they exist only once a Python image is loaded, which may be long
 * after start (a host that dlopens libpython). Their stubs look them up in
 * the Python image on every call until found. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "python.h"
#include "real.h"

/* pthread_cond_* exist in two versions; CPython binds the 2.3.2 ones, and
 * the 2.2.5 compatibility versions crash it at create_gil. */
#define COND_VERSION "GLIBC_2.3.2"

/* glibc's own exported aliases of the mutex calls, bound at link time: the
 * fallback while the table is being resolved on this very thread. */
int bp_libc_mutex_lock(pthread_mutex_t *);
int bp_libc_mutex_trylock(pthread_mutex_t *);
int bp_libc_mutex_unlock(pthread_mutex_t *);
int bp_libc_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
__asm__(".symver bp_libc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver bp_libc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver bp_libc_mutex_unlock, __pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(".symver bp_libc_mutex_init, __pthread_mutex_init@GLIBC_2.2.5");

#define P(...) (__VA_ARGS__)
/* The table: field, symbol, version (NULL: the default), return type,
 * parameters, arguments, the fallback's value. */
#define BP_REAL_LIBC(X)                                                                                           \
    X(pthread_create, "pthread_create", NULL, int,                                                              \
      P(pthread_t * a, const pthread_attr_t *b, void *(*c)(void *), void *d), P(a, b, c, d), EAGAIN)            \
    X(mutex_init, "pthread_mutex_init", NULL, int, P(pthread_mutex_t * a, const pthread_mutexattr_t *b), P(a, b), \
      bp_libc_mutex_init(a, b))                                                                                 \
    X(mutex_lock, "pthread_mutex_lock", NULL, int, P(pthread_mutex_t * a), P(a), bp_libc_mutex_lock(a))         \
    X(mutex_trylock, "pthread_mutex_trylock", NULL, int, P(pthread_mutex_t * a), P(a), bp_libc_mutex_trylock(a)) \
    X(mutex_unlock, "pthread_mutex_unlock", NULL, int, P(pthread_mutex_t * a), P(a), bp_libc_mutex_unlock(a))   \
    X(cond_init, "pthread_cond_init", COND_VERSION, int, P(pthread_cond_t * a, const pthread_condattr_t *b),     \
      P(a, b), EAGAIN)                                                                                          \
    X(cond_destroy, "pthread_cond_destroy", COND_VERSION, int, P(pthread_cond_t * a), P(a), 0)                  \
    X(cond_signal, "pthread_cond_signal", COND_VERSION, int, P(pthread_cond_t * a), P(a), EINVAL)               \
    X(cond_broadcast, "pthread_cond_broadcast", COND_VERSION, int, P(pthread_cond_t * a), P(a), EINVAL)         \
    X(cond_timedwait, "pthread_cond_timedwait", COND_VERSION, int,                                              \
      P(pthread_cond_t * a, pthread_mutex_t *b, const struct timespec *c), P(a, b, c), EINVAL)                  \
    X(sem_wait, "sem_wait", NULL, int, P(sem_t * a), P(a), (errno = ENOSYS, -1))                                \
    X(sem_timedwait, "sem_timedwait", NULL, int, P(sem_t * a, const struct timespec *b), P(a, b),               \
      (errno = ENOSYS, -1))                                                                                     \
    X(sem_clockwait, "sem_clockwait", NULL, int, P(sem_t * a, clockid_t b, const struct timespec *c),           \
      P(a, b, c), (errno = ENOSYS, -1))                                                                         \
    X(execve, "execve", NULL, int, P(const char *a, char *const b[], char *const c[]), P(a, b, c),              \
      (errno = ENOSYS, -1))                                                                                     \
    X(execv, "execv", NULL, int, P(const char *a, char *const b[]), P(a, b), (errno = ENOSYS, -1))             \
    X(execvp, "execvp", NULL, int, P(const char *a, char *const b[]), P(a, b), (errno = ENOSYS, -1))           \
    X(execvpe, "execvpe", NULL, int, P(const char *a, char *const b[], char *const c[]), P(a, b, c),            \
      (errno = ENOSYS, -1))                                                                                     \
    X(posix_spawn, "posix_spawn", NULL, int,                                                                    \
      P(pid_t * a, const char *b, const posix_spawn_file_actions_t *c, const posix_spawnattr_t *d,              \
        char *const e[], char *const f[]),                                                                      \
      P(a, b, c, d, e, f), ENOSYS)                                                                              \
    X(posix_spawnp, "posix_spawnp", NULL, int,                                                                  \
      P(pid_t * a, const char *b, const posix_spawn_file_actions_t *c, const posix_spawnattr_t *d,              \
        char *const e[], char *const f[]),                                                                      \
      P(a, b, c, d, e, f), ENOSYS)                                                                              \
    X(system, "system", NULL, int, P(const char *a), P(a), -1)                                                  \
    X(popen, "popen", NULL, FILE *, P(const char *a, const char *b), P(a, b), (errno = ENOSYS, (FILE *)NULL)) \
    X(dl_find_object, "_dl_find_object", NULL, int, P(void *a, void *b), P(a, b), -1)

/* The same for the calls that return nothing (the fallback ends the
 * process as they would). */
#define BP_REAL_LIBC_VOID(X)                                                                                      \
    X(exit_, "_exit", P(int a), P(a), syscall(SYS_exit_group, a))                                              \
    X(Exit_, "_Exit", P(int a), P(a), syscall(SYS_exit_group, a))

#define BP_REAL_PYTHON(X)                                                                                         \
    X(start_new_thread, "PyThread_start_new_thread", NULL, unsigned long, P(void (*a)(void *), void *b), P(a, b), \
      (unsigned long)-1 /* PYTHREAD_INVALID_THREAD_ID */)                                                       \
    X(start_joinable_thread, "PyThread_start_joinable_thread", NULL, int,                                       \
      P(void (*a)(void *), void *b, void *c, void *d), P(a, b, c, d), -1)

#define STUB_LIBC(field, sym, ver, ret, params, args, fallback)                                                   \
    static ret first_##field params                                                                            \
    {                                                                                                          \
        bp_real_ensure();                                                                                      \
        if (bp_real.field != first_##field)                                                                    \
            return bp_real.field args;                                                                         \
        return fallback;                                                                                       \
    }
BP_REAL_LIBC(STUB_LIBC)

#define STUB_VOID(field, sym, params, args, fallback)                                                             \
    static void first_##field params                                                                           \
    {                                                                                                          \
        bp_real_ensure();                                                                                      \
        if (bp_real.field != first_##field) {                                                                  \
            bp_real.field args;                                                                                \
            return;                                                                                            \
        }                                                                                                      \
        fallback;                                                                                              \
    }
BP_REAL_LIBC_VOID(STUB_VOID)

/* A CPython entry point is looked up in the Python image, once there is
 * one; a real one found stays. */
#define STUB_PYTHON(field, sym, ver, ret, params, args, fallback)                                                 \
    static ret first_##field params                                                                            \
    {                                                                                                          \
        void *p = bp_python_symbol(sym);                                                                       \
        if (p) {                                                                                               \
            bp_real.field = (ret(*) params)p;                                                                  \
            return bp_real.field args;                                                                         \
        }                                                                                                      \
        return fallback;                                                                                       \
    }
BP_REAL_PYTHON(STUB_PYTHON)

#define INIT(field, sym, ver, ret, params, args, fallback) .field = first_##field,
#define INIT_VOID(field, sym, params, args, fallback) .field = first_##field,
struct bp_real bp_real = {BP_REAL_LIBC(INIT) BP_REAL_LIBC_VOID(INIT_VOID) BP_REAL_PYTHON(INIT)};

static void *next_sym(const char *name, const char *version)
{
    return version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
}

void bp_real_resolve(void)
{
    /* dlsym may allocate, and an interposed allocator may lock a mutex:
     * that nested call finds its stub here and takes the fallback. */
    static __thread __attribute__((tls_model("initial-exec"))) int resolving;
    if (resolving)
        return;
    resolving = 1;
#define RESOLVE(field, sym, ver, ret, params, args, fallback)                                                     \
    {                                                                                                          \
        void *p = next_sym(sym, ver);                                                                          \
        if (p)                                                                                                 \
            bp_real.field = (ret(*) params)p;                                                                  \
    }
    BP_REAL_LIBC(RESOLVE)
#define RESOLVE_VOID(field, sym, params, args, fallback)                                                          \
    {                                                                                                          \
        void *p = next_sym(sym, NULL);                                                                         \
        if (p)                                                                                                 \
            bp_real.field = (void(*) params)p;                                                                 \
    }
    BP_REAL_LIBC_VOID(RESOLVE_VOID)
    atomic_store_explicit(&bp_real.resolved, 1, memory_order_release);
    resolving = 0;
}

int bp_real_own_thread(void *(*fn)(void *), size_t stack)
{
    sigset_t all, old;
    pthread_t th;
    pthread_attr_t attr;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = bp_real.pthread_create(&th, &attr, fn, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}
