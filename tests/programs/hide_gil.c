/* A preload library for the tests: placed before libbetapool.so in
 * LD_PRELOAD, it forwards CPython's mutex and cond initialisations, so that
 * betapool sees them come from outside the Python image and cannot find
 * the GIL - as with a CPython whose GIL it does not understand. */
#include <dlfcn.h>
#include <pthread.h>

__attribute__((visibility("default"))) int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int (*next)(pthread_mutex_t *, const pthread_mutexattr_t *) =
        (int (*)(pthread_mutex_t *, const pthread_mutexattr_t *))dlsym(RTLD_NEXT, "pthread_mutex_init");
    int r = next(m, a);
    __asm__ volatile("" ::: "memory"); /* keep this a call, not a tail jump */
    return r;
}

__attribute__((visibility("default"))) int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    int (*next)(pthread_cond_t *, const pthread_condattr_t *) =
        (int (*)(pthread_cond_t *, const pthread_condattr_t *))dlvsym(RTLD_NEXT, "pthread_cond_init", "GLIBC_2.3.2");
    int r = next(c, a);
    __asm__ volatile("" ::: "memory");
    return r;
}
