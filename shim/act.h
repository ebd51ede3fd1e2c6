/* act.c: the one place a decision is acted on. */
#ifndef BETAPOOL_ACT_H
#define BETAPOOL_ACT_H

#include "common.h"
#include "controller.h"

/* K and the gate (gate.c), then the CPU: with affinity, this process's
 * entry in the CPU registry first (the CPU it holds now, or none; written
 * only while bp_registry_begin left the registry locked), then the threads
 * (affinity.c). */
void bp_act(const struct bp_decision *d, int affinity) BP_HIDDEN;

#endif
