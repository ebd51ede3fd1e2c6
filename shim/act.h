/* act.c: the one place a decision is acted on. */
#ifndef BETAPOOL_ACT_H
#define BETAPOOL_ACT_H

#include "common.h"
#include "controller.h"

/* K and the gate (gate.c), then the CPU (affinity.c). */
void bp_act(const struct bp_decision *d) BP_HIDDEN;

#endif
