/* Checking that the GIL found is the GIL betapool knows, on the shim's own
 * thread: against CPython's own debug offsets where it publishes them
 * (3.13+), and by what the first takes saw (gil.c). What fails is given up:
 * betapool then observes thread starts only. */
#include <stdio.h>

#include "gil.h"
#include "gil_check.h"
#include "python.h"
#include "report.h"

static int layout_confirmed;

int bp_gil_verify(char *why, size_t n)
{
    if (!layout_confirmed) {
        void *cond = atomic_load(&bp_gil.cond);
        int free_threaded = 0;
        char detail[200] = "";
        int ok = bp_python_cross_check(cond, &free_threaded, detail, sizeof detail);
        if (free_threaded) {
            atomic_store(&bp_gil.disabled, 1);
            layout_confirmed = 1;
            const char *msg = "free-threaded CPython without a GIL: betapool observes thread starts only";
            if (cond) {
                snprintf(why, n, "%s", msg);
                return 1;
            }
            bp_note("info", msg);
        } else if (cond) {
            layout_confirmed = 1;
            if (ok == 2)
                bp_note("info", "the GIL's place agrees with CPython's own debug offsets");
            if (!ok) {
                snprintf(why, n, "the GIL's layout is not the one betapool knows (%s): it follows and throttles nothing",
                         detail);
                return 1;
            }
        }
    }
    if (atomic_load(&bp_gil.layout_failed)) {
        atomic_store(&bp_gil.layout_failed, 0);
        snprintf(why, n, "the GIL did not behave as the layout betapool knows (its lock flag was clear after a "
                         "take): betapool follows and throttles nothing");
        return 1;
    }
    return 0;
}
