/* The directed hand-off's state and counts (handoff.h). */
#include "handoff.h"

struct bp_handoff bp_handoff;
int bp_handoff_on;
int bp_handoff_ask_at_once;

uint64_t bp_wait_bucket_top(int b)
{
    if (b < 4)
        return (uint64_t)b;
    if (b >= BP_WAIT_BUCKETS - 1)
        return UINT64_MAX;
    int lg = b / 4 + 1, sub = b % 4;
    return ((uint64_t)(5 + sub) << (lg - 2)) - 1;
}

uint64_t bp_wait_percentile(const uint64_t hist[BP_WAIT_BUCKETS], double p)
{
    uint64_t n = 0;
    for (int b = 0; b < BP_WAIT_BUCKETS; b++)
        n += hist[b];
    if (!n)
        return 0;
    /* The smallest bucket at which at least p of the waits are counted. */
    double want = p * (double)n;
    uint64_t seen = 0;
    for (int b = 0; b < BP_WAIT_BUCKETS; b++) {
        seen += hist[b];
        if (hist[b] && (double)seen >= want)
            return bp_wait_bucket_top(b);
    }
    return bp_wait_bucket_top(BP_WAIT_BUCKETS - 1);
}

void bp_handoff_served(enum bp_waiter_class c, uint64_t wait_ns)
{
    atomic_fetch_add_explicit(&bp_handoff.served[c], 1, memory_order_relaxed);
    if (c == WAITER_INTERACTIVE) {
        atomic_fetch_add_explicit(&bp_handoff.interactive_wait[bp_wait_bucket(wait_ns)], 1, memory_order_relaxed);
        return;
    }
    uint64_t max = atomic_load_explicit(&bp_handoff.computing_wait_max_ns, memory_order_relaxed);
    while (wait_ns > max && !atomic_compare_exchange_weak_explicit(&bp_handoff.computing_wait_max_ns, &max, wait_ns,
                                                                    memory_order_relaxed, memory_order_relaxed))
        ;
}

void bp_handoff_read(struct bp_handoff_counts *out)
{
    for (int c = 0; c < WAITER_CLASS_COUNT; c++)
        out->served[c] = atomic_load_explicit(&bp_handoff.served[c], memory_order_relaxed);
    out->held_back = atomic_load_explicit(&bp_handoff.held_back, memory_order_relaxed);
    out->passed_over = atomic_load_explicit(&bp_handoff.passed_over, memory_order_relaxed);
    out->computing_wait_max_ns = atomic_load_explicit(&bp_handoff.computing_wait_max_ns, memory_order_relaxed);
    for (int b = 0; b < BP_WAIT_BUCKETS; b++)
        out->interactive_wait[b] = atomic_load_explicit(&bp_handoff.interactive_wait[b], memory_order_relaxed);
}

void bp_handoff_after_fork_child(void)
{
    for (int c = 0; c < WAITER_CLASS_COUNT; c++)
        atomic_store(&bp_handoff.waiting[c], 0);
    atomic_store(&bp_handoff.urgent, 0);
    atomic_store(&bp_handoff.wake_all, 0);
}
