/* Acting on the controller's decision: the gate's K and state, then the
 * Python threads' CPU. What to do was decided (controller.c); here it is
 * only done. */
#include "act.h"
#include "affinity.h"
#include "gate.h"

void bp_act(const struct bp_decision *d)
{
    atomic_store(&bp_gate.k, d->k_after);
    if (d->shut_after && !d->shut_before)
        bp_gate_configure(1, d->k_after);
    else if (!d->shut_after && d->shut_before)
        bp_gate_open(); /* wakes every parked thread */
    if (d->pin == PIN_PIN)
        bp_affinity_pin(d->pin_cpu, d->shut_after);
    else if (d->pin == PIN_UNPIN)
        bp_affinity_unpin();
    else if (atomic_load(&bp_aff.cpu) >= 0)
        bp_affinity_follow(d->shut_after); /* threads started since */
}
