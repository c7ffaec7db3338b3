/*
 * dedup_int.h - test hooks of the near-duplicate detector.
 *
 * The detector picks its MinHash loop at run time (AVX2 where the CPU has
 * it, a portable one elsewhere); both must give the same numbers, or the
 * answers would depend on the machine. The test runs both side by side.
 *
 * Thread contract: as for the detector (one thread at a time).
 */
#ifndef RANPIPE_DEDUP_INT_H
#define RANPIPE_DEDUP_INT_H

#include <stdbool.h>

#include "ranpipe/dedup.h"

/* Makes d use the portable MinHash loop. Returns whether it was using
 * another one (false on a machine without AVX2 or outside x86-64). */
bool rp__dedup_use_portable(struct rp_dedup *d);

#endif /* RANPIPE_DEDUP_INT_H */
