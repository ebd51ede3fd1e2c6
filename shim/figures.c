/* The ratios betapool reports, computed from one set of times. */
#include "figures.h"

double bp_beta(const struct bp_figures *f)
{
    if (f->wall_ns == 0)
        return 0.0;
    double r = 1.0 - (double)f->cpu_ns / (double)f->wall_ns;
    /* A thread CPU clock read a little after the wall clock can exceed it. */
    return r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r);
}

double bp_beta_io(const struct bp_figures *f)
{
#define BP_OFF_TERM(member) +f->member
    uint64_t off = 0 BP_BETA_IO_OFF(BP_OFF_TERM);
#undef BP_OFF_TERM
    if (f->wall_ns <= off)
        return 0.0;
    uint64_t active = f->wall_ns - off;
    if (active <= f->held_ns)
        return 0.0;
    return (double)(active - f->held_ns) / (double)active;
}

double bp_wait_share(const struct bp_figures *f)
{
    return f->wall_ns ? (double)f->wait_ns / (double)f->wall_ns : 0.0;
}

void bp_figures_add(struct bp_figures *sum, const struct bp_figures *f)
{
#define BP_ADD(member, key, in_table) sum->member += f->member;
    BP_FIGURE_FIELDS(BP_ADD)
#undef BP_ADD
}

void bp_figures_from(struct bp_figures *f, uint64_t wall_ns, uint64_t cpu_ns,
                     const uint64_t delta_ns[PH_COUNT])
{
    f->wall_ns = wall_ns;
    f->cpu_ns = cpu_ns;
    f->held_ns = delta_ns[PH_HELD];
    f->wait_ns = delta_ns[PH_WAIT];
    f->idle_ns = delta_ns[PH_IDLE];
    f->parked_ns = delta_ns[PH_PARKED];
    uint64_t in = f->held_ns + f->wait_ns + f->idle_ns + f->parked_ns;
    /* Phases are read a moment apart from the wall clock: keep the parts
     * summing to the whole. */
    if (in > wall_ns)
        f->wall_ns = in;
    f->blocked_ns = f->wall_ns - in;
}
