/*
 * hash.h - content hashes and a small deterministic random generator.
 *
 * Hashes are XXH3-64 (libxxhash): stable across runs and machines, used for
 * chunk identity, record ids and per-request seeds. rp_rng is splitmix64:
 * tiny, fast and fully determined by its seed, which is what reproducible
 * sampling needs.
 *
 * Thread contract: all functions are reentrant; an rp_rng belongs to one thread.
 */
#ifndef RANPIPE_HASH_H
#define RANPIPE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t rp_hash64(const void *data, size_t n);
/* Hash of data seeded with a previous hash: for hashing several parts in order. */
uint64_t rp_hash64_seeded(const void *data, size_t n, uint64_t seed);
/* Writes h as 16 lower-case hex digits plus NUL into out[17]. */
void rp_hash_hex(uint64_t h, char out[17]);

struct rp_rng {
    uint64_t state;
};

void rp_rng_seed(struct rp_rng *r, uint64_t seed);
uint64_t rp_rng_next(struct rp_rng *r);
/* Uniform double in [0, 1). */
double rp_rng_uniform(struct rp_rng *r);

#endif /* RANPIPE_HASH_H */
