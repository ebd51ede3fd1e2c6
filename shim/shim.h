/* shim.c: betapool's start and end in a process. */
#ifndef BETAPOOL_SHIM_H
#define BETAPOOL_SHIM_H

#include "common.h"

extern _Atomic int bp_active BP_HIDDEN;  /* hooks do their work only when set */
extern uint64_t bp_t0_ns BP_HIDDEN;

#endif
