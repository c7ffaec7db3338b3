/*
 * router.h - which tier generates a chunk, and the health of each tier.
 *
 * The router owns one backend per LLM tier of the configuration (llama
 * tiers: model worker processes; openai tiers: HTTP endpoints) and a
 * circuit breaker per tier:
 *
 *   closed     requests flow; `failures` consecutive failures open it
 *   open       the tier is skipped; after `cooldown_s` it turns half-open
 *   half-open  `half_open_probes` requests are let through: a success
 *              closes the breaker, a failure opens it again
 *
 * A llama backend that gave up (its workers kept dying) counts as a
 * failure of each request it returned; when its breaker turns half-open
 * the router starts its workers afresh.
 *
 * Choice: rp_router_pick() returns the first LLM tier whose max_complexity
 * is at least the chunk's score and whose breaker lets requests through;
 * when that tier is unavailable it falls back to the next tiers up, then
 * to the tiers below - a bigger model is a better substitute than a
 * smaller one.
 *
 * Model residency: llama tiers are started when first needed. With a
 * memory budget (bytes of GGUF files resident at once, times their
 * workers), starting a tier that does not fit first stops the idle llama
 * tiers used least recently; a tier that cannot be made to fit while the
 * others are busy waits (RP_ERR_CANCELLED is never used for this: submit
 * returns false and the caller tries later).
 *
 * Thread contract: every rp_router_* call comes from one thread (the
 * run's); the done callback runs on backend threads and must only hand
 * the request over (e.g. push it onto a queue).
 */
#ifndef RANPIPE_ROUTER_H
#define RANPIPE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/backend.h"
#include "ranpipe/config.h"
#include "ranpipe/error.h"

enum rp_breaker_state { RP_BREAKER_CLOSED, RP_BREAKER_OPEN, RP_BREAKER_HALF_OPEN };

struct rp_router_params {
    const struct rp_config *config; /* borrowed; outlives the router */
    const char *exe;                /* ranpipe binary for llama workers; NULL: this one */
    size_t memory_budget_mb;        /* resident llama models at once; 0: no limit */
};

struct rp_tier_stats {
    uint64_t submitted, succeeded, failed;
    uint64_t breaker_opens;
    enum rp_breaker_state breaker;
    bool resident;          /* llama: workers started */
    uint64_t loads, unloads;
    double load_seconds;    /* llama: the last start until its first worker was ready */
    char model[256];        /* llama: the model's name once loaded; openai: api_model */
};

struct rp_router;

/* Called on a backend thread when a request submitted to tier finishes. */
typedef void (*rp_router_done_fn)(struct rp_gen_request *req, int tier, void *ud);

struct rp_router *rp_router_new(const struct rp_router_params *p, rp_router_done_fn done, void *ud,
                                struct rp_error *err);
/* Stops every backend (held requests finish with RP_ERR_CANCELLED) and frees. */
void rp_router_free(struct rp_router *r);

/* Whether the configuration has any LLM tier. */
bool rp_router_has_llm(const struct rp_router *r);

/* The tier for a chunk of this complexity, skipping the tiers in the
 * exclude mask (bit i: tier i) and those whose breaker is open; -1 when no
 * LLM tier can take it. */
int rp_router_pick(struct rp_router *r, float complexity, uint32_t exclude);
/* The next LLM tier above tier that is available and not excluded (for
 * escalation); -1 if none. */
int rp_router_next_up(struct rp_router *r, int tier, uint32_t exclude);

/* Hands req to tier. false when the tier has no room now (full, or its
 * model waits for memory): keep the request and try again after a
 * completion. A tier that cannot start at all opens its breaker and
 * returns false with *failed set; err says why. */
bool rp_router_submit(struct rp_router *r, int tier, struct rp_gen_request *req, bool *failed,
                      struct rp_error *err);

/* Requests in flight on tier, and how many it can hold. */
size_t rp_router_in_flight(const struct rp_router *r, int tier);
size_t rp_router_capacity(const struct rp_router *r, int tier);

/* Reports how a request on tier ended, for its breaker: ok, or a failure
 * of the backend (not of the request's content). */
void rp_router_record(struct rp_router *r, int tier, bool ok);
/* Whether tier's breaker lets a request through now. */
bool rp_router_available(struct rp_router *r, int tier);

void rp_router_tier_stats(const struct rp_router *r, int tier, struct rp_tier_stats *out);
const char *rp_breaker_state_name(enum rp_breaker_state s);

#endif /* RANPIPE_ROUTER_H */
