/* From per-thread records to one interval's figures: each thread's sample is
 * the difference between two readings of its record, and the interval's
 * figures add the samples up by the role each thread plays. */
#include "sampling.h"

static uint64_t since(uint64_t now, uint64_t then)
{
    return now >= then ? now - then : 0;
}

void bp_sample_take(struct bp_seen *seen, const struct bp_times *tm, uint64_t end, uint64_t cpu_ns,
                    uint64_t forced, uint64_t favoured, struct bp_sample *out)
{
    uint64_t delta[PH_COUNT];
    int active = 0;
    for (int p = 0; p < PH_COUNT; p++) {
        delta[p] = since(tm->acc_ns[p], seen->acc_ns[p]);
        if (p != PH_OUTSIDE && delta[p])
            active = 1;
    }
    uint64_t cpu_d = since(cpu_ns, seen->cpu_ns);
    if (cpu_d)
        active = 1;
    bp_figures_from(&out->f, end > seen->ns ? end - seen->ns : 0, cpu_d, delta);
    out->forced = since(forced, seen->forced);
    out->favoured = since(favoured, seen->favoured);
    out->takes = since(tm->takes, seen->takes);
    out->cond_waits = since(tm->cond_waits, seen->cond_waits);
    out->active = active;
    for (int p = 0; p < PH_COUNT; p++)
        seen->acc_ns[p] = tm->acc_ns[p];
    seen->cpu_ns = cpu_ns;
    seen->ns = end;
    seen->forced = forced;
    seen->favoured = favoured;
    seen->takes = tm->takes;
    seen->cond_waits = tm->cond_waits;
}

int bp_sample_counts(int python, const struct bp_times *tm)
{
    return python || tm->takes > 0;
}

void bp_sample_lifetime(uint64_t start_ns, const struct bp_times *tm, uint64_t end, uint64_t cpu_ns,
                        struct bp_figures *out)
{
    bp_figures_from(out, end > start_ns ? end - start_ns : 0, cpu_ns, tm->acc_ns);
}

enum bp_role bp_role_of(const struct bp_thread *t)
{
    if (atomic_load_explicit(&t->other_gil_seen, memory_order_relaxed))
        return ROLE_OTHER_GIL;
    if (t->python && t->via != VIA_MAIN)
        return atomic_load_explicit(&t->brief, memory_order_relaxed) ? ROLE_BRIEF : ROLE_WORKER;
    return t->via == VIA_MAIN ? ROLE_MAIN : ROLE_OTHER;
}

void bp_tally_add(struct bp_tally *tl, const struct bp_sample *s, enum bp_role role)
{
    bp_figures_add(&tl->proc, &s->f);
    if (role != ROLE_OTHER_GIL) {
        bp_figures_add(&tl->gil, &s->f);
        tl->takes += s->takes;
        tl->cond_waits += s->cond_waits;
    }
    tl->forced += s->forced;
    tl->favoured += s->favoured;
    if (role == ROLE_WORKER || role == ROLE_BRIEF) {
        if (role == ROLE_WORKER)
            bp_figures_add(&tl->workers, &s->f);
        tl->workers_forced += s->forced;
    } else if (role == ROLE_MAIN) {
        bp_figures_add(&tl->main_thread, &s->f);
    }
}

double bp_average_waiting(const struct bp_figures *f, uint64_t span_ns)
{
    return span_ns ? (double)(f->wait_ns + f->parked_ns) / (double)span_ns : 0.0;
}

/* The controller's K and gate see the computing workers only: the main
 * thread and brief threads are never parked, and their sleeps or waits say
 * nothing about the others'. GIL affinity sees every thread of the main
 * GIL (not those that took a sub-interpreter's own: they are never pinned). */
struct bp_interval bp_interval_of(const struct bp_tally *tl, uint64_t span_ns, const struct bp_cpus *cpus)
{
    return (struct bp_interval){
        .span_ns = span_ns,
        .beta_io = bp_beta_io(&tl->workers),
        .demand = bp_average_waiting(&tl->workers, span_ns),
        .forced = tl->workers_forced,
        .main_waiting = span_ns ? (double)tl->main_thread.wait_ns / (double)span_ns : 0.0,
        .takes = tl->takes,
        .cond_waits = tl->cond_waits,
        .cpu_ns = tl->gil.cpu_ns,
        .held_ns = tl->gil.held_ns,
        .waiting = bp_average_waiting(&tl->gil, span_ns),
        .pinned = cpus->pinned,
        .others = cpus->others < 0.0 ? 0.0 : cpus->others, /* loads unknown: no reason to move */
    };
}
