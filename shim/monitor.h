/* monitor.c: the shim's own thread, its start, and its last tick. */
#ifndef BETAPOOL_MONITOR_H
#define BETAPOOL_MONITOR_H

#include <stdint.h>

#include "common.h"

struct bp_json;
struct bp_figures;
struct bp_run;

/* Start it once, with the first Python thread: 1 when this call started it
 * (the caller makes this process the owner of its exit path, finish.c). */
int bp_monitor_ensure(void) BP_HIDDEN;
/* For the exit path (finish.c): no tick after the one running; the lock
 * every tick holds (try_only: 0 or EBUSY at once); the last tick, with the
 * exit record (when there is a log) open, and the run it counted. */
void bp_monitor_stop(void) BP_HIDDEN;
int bp_monitor_lock(int try_only) BP_HIDDEN;
void bp_monitor_unlock(void) BP_HIDDEN;
const struct bp_run *bp_monitor_last_tick(uint64_t now, struct bp_json *exit_json,
                                          struct bp_figures *lives) BP_HIDDEN;
/* In a fork child, from shim.c: no monitor thread, nothing counted yet. */
void bp_monitor_after_fork_child(void) BP_HIDDEN;

#endif
