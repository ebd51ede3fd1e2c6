/* stats.c: the stats table betapool prints on stderr at exit. */
#ifndef BETAPOOL_STATS_H
#define BETAPOOL_STATS_H

#include "common.h"
#include "figures.h"
#include "report.h"

/* The run's counts and its threads' totals (tot: the ended and the live
 * threads' figures over their lives), as of now. */
void bp_stats_print(uint64_t now, const struct bp_run *run, const struct bp_figures *tot) BP_HIDDEN;

#endif
