/* monitor.c: the shim's own thread, its start, and the exit's last tick. */
#ifndef BETAPOOL_MONITOR_H
#define BETAPOOL_MONITOR_H

#include "common.h"

/* Start it once, with the first Python thread. */
void bp_monitor_ensure(void) BP_HIDDEN;
/* At exit: the last tick, the exit record and the stats table. */
void bp_monitor_stop_and_finish(void) BP_HIDDEN;
/* _exit, _Exit: the last records and the CPU given back (bounded), in the
 * process whose shim's thread or log this is only. */
void bp_monitor_exit_now(void) BP_HIDDEN;
/* This process writes its own log or runs its own shim's thread. */
void bp_monitor_set_owner(void) BP_HIDDEN;
/* In a fork child, from shim.c: no monitor thread, nothing counted yet. */
void bp_monitor_after_fork_child(void) BP_HIDDEN;

#endif
