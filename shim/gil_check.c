/* Checking that the GIL found is the GIL betapool knows, on the shim's own
 * thread: against CPython's own debug offsets where it publishes them
 * (3.13+; their layout by version is cpython.h's), and by what the first
 * takes saw (gil.c). What fails is given up: betapool then observes thread
 * starts only. A free-threaded build is observed only, whether its GIL is
 * off or on, and a GIL it turns on or off at run time is noted. */
#include <stdio.h>

#include "gil.h"
#include "gil_check.h"
#include "python.h"
#include "report.h"

static int layout_confirmed;
static int ft_enabled = -1; /* a free-threaded build's GIL as last said: 1 on, 0 off */

static void free_threaded_start(void *cond, const struct bp_python_layout *L, char *why, size_t n, int *give_up)
{
    char msg[300];
    ft_enabled = L->gil_enabled;
    atomic_store(&bp_gil.disabled, L->gil_enabled > 0 ? BP_FT_GIL_ON : BP_FT_GIL_OFF);
    if (L->gil_enabled > 0)
        snprintf(msg, sizeof msg, "free-threaded CPython with its GIL enabled (PYTHON_GIL=1, or an extension "
                                  "that needs it): betapool observes thread starts only");
    else if (L->gil_enabled == 0)
        snprintf(msg, sizeof msg, "free-threaded CPython without a GIL: betapool observes thread starts only");
    else
        snprintf(msg, sizeof msg, "free-threaded CPython 3.%u (whether its GIL is on is not known to betapool): "
                                  "betapool observes thread starts only", L->minor);
    /* A GIL found is let go (give_up_gil notes why); otherwise a note. */
    if (cond) {
        snprintf(why, n, "%s", msg);
        *give_up = 1;
    } else {
        bp_note("info", msg);
    }
}

/* A free-threaded build, every tick: its GIL turned on or off at run time
 * is noted; betapool stays observe-only either way (docs/pythons.md). */
static int free_threaded_tick(char *why, size_t n)
{
    if (atomic_load(&bp_gil.found)) {
        /* A GIL struct created after the first look: not followed either. */
        snprintf(why, n, "free-threaded CPython: betapool observes thread starts only");
        return 1;
    }
    int on = bp_python_gil_enabled();
    if (on < 0 || on == ft_enabled)
        return 0;
    ft_enabled = on;
    atomic_store(&bp_gil.disabled, on ? BP_FT_GIL_ON : BP_FT_GIL_OFF);
    bp_note("info", on ? "the free-threaded CPython turned its GIL on at run time: betapool stays observe-only"
                       : "the free-threaded CPython turned its GIL off again: betapool stays observe-only");
    return 0;
}

int bp_gil_verify(char *why, size_t n)
{
    if (!layout_confirmed) {
        void *cond = atomic_load(&bp_gil.cond);
        struct bp_python_layout L;
        char detail[200] = "";
        bp_python_cross_check(cond, &L, detail, sizeof detail);
        if (L.free_threaded) {
            int give_up = 0;
            layout_confirmed = 1;
            free_threaded_start(cond, &L, why, n, &give_up);
            if (give_up)
                return 1;
        } else if (cond) {
            layout_confirmed = 1;
            if (L.unknown_version) {
                char msg[240];
                snprintf(msg, sizeof msg, "%s: the GIL's layout is checked by its first takes only", detail);
                bp_note("info", msg);
            }
            if (L.verdict == BP_LAYOUT_CONFIRMED)
                bp_note("info", "the GIL's place agrees with CPython's own debug offsets");
            if (L.verdict == BP_LAYOUT_REFUTED) {
                snprintf(why, n, "the GIL's layout is not the one betapool knows (%s): it follows and throttles nothing",
                         detail);
                return 1;
            }
        }
    } else if (atomic_load(&bp_gil.disabled)) {
        return free_threaded_tick(why, n);
    }
    if (atomic_load(&bp_gil.layout_failed)) {
        atomic_store(&bp_gil.layout_failed, 0);
        snprintf(why, n, "the GIL did not behave as the layout betapool knows (its lock flag was clear after a "
                         "take): betapool follows and throttles nothing");
        return 1;
    }
    return 0;
}
