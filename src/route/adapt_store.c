/*
 * adapt_store.c - the routing model fitted from a store's history (see
 * rp_adapt_from_store() in include/ranpipe/adapt.h): each attempt of a
 * tier at a chunk is one observation, passed when it gave at least one
 * accepted pair, at the cost of its latency.
 */
#include "ranpipe/adapt.h"
#include "ranpipe/store.h"

struct fit {
    struct rp_adapt *a;
    int n_tiers;
    size_t skipped;
};

static int observe(const struct rp_store_history *h, void *ud)
{
    struct fit *f = ud;
    if (h->tier < 0 || h->tier >= f->n_tiers) {
        f->skipped++; /* a tier the current configuration does not have */
        return 0;
    }
    struct rp_error err;
    rp_error_clear(&err);
    double cost = h->latency_s >= 0 ? h->latency_s : 0;
    if (rp_adapt_observe(f->a, h->tier, h->complexity, h->accepted > 0 ? 1.0 : 0.0, cost, &err) != RP_OK)
        f->skipped++;
    return 0;
}

struct rp_adapt *rp_adapt_from_store(struct rp_store *s, int n_tiers, const struct rp_adapt_params *p,
                                     size_t *skipped, struct rp_error *err)
{
    struct fit f = {.a = rp_adapt_new(n_tiers, p, err), .n_tiers = n_tiers};
    if (!f.a)
        return NULL;
    if (rp_store_history_foreach(s, -1, observe, &f, err) != RP_OK) {
        rp_adapt_free(f.a);
        return NULL;
    }
    if (skipped)
        *skipped = f.skipped;
    return f.a;
}
