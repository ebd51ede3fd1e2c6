/* The public API (include/betapool.h). */
#include "../include/betapool.h"
#include "bp.h"

__attribute__((visibility("default"))) const char *betapool_version(void)
{
    return BP_VERSION;
}
