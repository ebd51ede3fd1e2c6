/* The interposers of calls that start another program or process: exec,
 * posix_spawn, system, popen. None of them may hand a pinned thread's CPU
 * on (affinity.c). And of the calls that end the process without exit's
 * handlers: _exit, _Exit. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "affinity.h"
#include "hooks.h"
#include "finish.h"
#include "real.h"

#define HOOK __attribute__((visibility("default")))

/* exec keeps the mask: the new program gets the process's mask back first.
 * These run in the child of vfork too, where nothing may be written. */
HOOK int execve(const char *path, char *const argv[], char *const envp[])
{
    bp_affinity_release_self();
    return bp_real.execve(path, argv, envp);
}

HOOK int execv(const char *path, char *const argv[])
{
    bp_affinity_release_self();
    return bp_real.execv(path, argv);
}

HOOK int execvp(const char *file, char *const argv[])
{
    bp_affinity_release_self();
    return bp_real.execvp(file, argv);
}

HOOK int execvpe(const char *file, char *const argv[], char *const envp[])
{
    bp_affinity_release_self();
    return bp_real.execvpe(file, argv, envp);
}

/* posix_spawn, system and popen start their child inside libc, out of
 * reach: the calling thread lends it the process's mask for the call. */
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                     char *const[], char *const[]);

static int spawn_unpinned(spawn_fn *fn, pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    int lent = bp_affinity_release_self();
    int r = fn(pid, path, actions, attr, argv, envp);
    if (lent)
        bp_affinity_retake_self();
    return r;
}

HOOK int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn_unpinned(bp_real.posix_spawn, pid, path, actions, attr, argv, envp);
}

HOOK int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                      const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn_unpinned(bp_real.posix_spawnp, pid, file, actions, attr, argv, envp);
}

HOOK int system(const char *command)
{
    int lent = bp_affinity_release_self();
    int r = bp_real.system(command);
    if (lent)
        bp_affinity_retake_self();
    return r;
}

HOOK FILE *popen(const char *command, const char *type)
{
    int lent = bp_affinity_release_self();
    FILE *r = bp_real.popen(command, type);
    if (lent)
        bp_affinity_retake_self();
    return r;
}

/* ---- _exit and _Exit: the last records and the CPU given back ---- */

/* The program's way of ending is kept: the records are written (bounded,
 * finish.c) and then the real function ends the process with its status.
 * No signal handler is installed anywhere: a SIGTERM the program handles
 * in Python ends through exit or _exit, both seen; one it leaves to the
 * kernel ends the process at once, and its CPU is reclaimed by the others. */
HOOK void _exit(int status)
{
    bp_real_ensure();
    bp_finish_exit_now();
    if (bp_real.exit_)
        bp_real.exit_(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

HOOK void _Exit(int status)
{
    bp_real_ensure();
    bp_finish_exit_now();
    if (bp_real.Exit_)
        bp_real.Exit_(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}
