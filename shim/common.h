/* What every file of the shim shares: the version, the log's schema, and
 * the attributes the code is written with. */
#ifndef BETAPOOL_COMMON_H
#define BETAPOOL_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BP_VERSION "0.1.0"
#define BP_SCHEMA 2
#define BP_HIDDEN __attribute__((visibility("hidden")))
#define BP_LIKELY(x) __builtin_expect(!!(x), 1)
#define BP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
