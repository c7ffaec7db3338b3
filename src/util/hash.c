/*
 * hash.c - XXH3 wrappers and splitmix64 (see include/ranpipe/hash.h).
 */
#include "ranpipe/hash.h"

#include <xxhash.h>

uint64_t rp_hash64(const void *data, size_t n)
{
    return XXH3_64bits(data, n);
}

uint64_t rp_hash64_seeded(const void *data, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, n, seed);
}

void rp_hash_hex(uint64_t h, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[h & 0xF];
        h >>= 4;
    }
    out[16] = '\0';
}

void rp_rng_seed(struct rp_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t rp_rng_next(struct rp_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rp_rng_uniform(struct rp_rng *r)
{
    return (double)(rp_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
