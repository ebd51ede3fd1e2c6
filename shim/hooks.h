/* hooks.c: the interposers. */
#ifndef BETAPOOL_HOOKS_H
#define BETAPOOL_HOOKS_H

#include "common.h"

/* The hooks do their work only when set (shim.c sets it once this is a
 * CPython process betapool measures). */
extern _Atomic int bp_active BP_HIDDEN;

#endif
