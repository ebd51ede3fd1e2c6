/* Acting on the controller's decision: the gate's K and state, then the
 * Python threads' CPU. What to do was decided (controller.c); here it is
 * only done. */
#include "act.h"
#include "affinity.h"
#include "gate.h"
#include "registry.h"

void bp_act(const struct bp_decision *d, int affinity)
{
    atomic_store(&bp_gate.k, d->k_after);
    if (d->shut_after && !d->shut_before)
        bp_gate_configure(1, d->k_after);
    else if (!d->shut_after && d->shut_before)
        bp_gate_open(); /* wakes every parked thread */
    if (affinity) {
        int held = d->pin == PIN_PIN ? d->pin_cpu : d->pin == PIN_UNPIN ? -1 : atomic_load(&bp_aff.cpu);
        bp_registry_commit(held, bp_affinity_ours());
    }
    if (d->pin == PIN_PIN && d->pin_cpu >= 0)
        bp_affinity_pin(d->pin_cpu, d->shut_after);
    else if (d->pin == PIN_UNPIN)
        bp_affinity_unpin();
    else if (atomic_load(&bp_aff.cpu) >= 0)
        bp_affinity_follow(d->shut_after); /* threads started since */
}
