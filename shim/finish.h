/* finish.c: the last records, once per process, at exit or at _exit. */
#ifndef BETAPOOL_FINISH_H
#define BETAPOOL_FINISH_H

#include "common.h"

/* At exit (the destructor): the last tick, the exit record and the stats
 * table. */
void bp_finish_at_exit(void) BP_HIDDEN;
/* _exit, _Exit: the last records and the CPU given back (bounded), in the
 * process whose shim's thread or log this is only. */
void bp_finish_exit_now(void) BP_HIDDEN;
/* This process writes its own log or runs its own shim's thread. */
void bp_finish_set_owner(void) BP_HIDDEN;
/* In a fork child, from shim.c: not finished, and no owner until the child
 * starts a shim's thread or a log of its own. */
void bp_finish_after_fork_child(void) BP_HIDDEN;

#endif
