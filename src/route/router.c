/*
 * router.c - tiers, their backends and circuit breakers (see
 * include/ranpipe/router.h).
 */
#include "ranpipe/router.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ranpipe/backend_llama.h"
#include "ranpipe/backend_openai.h"
#include "ranpipe/log.h"

struct tier {
    struct rp_router *r;
    int index;
    const struct rp_tier_config *cfg;
    struct rp_backend *b; /* NULL for the extractive tier */
    bool started;
    size_t mem_mb;        /* llama: what its resident workers are counted as */
    double last_used;

    /* breaker */
    enum rp_breaker_state state;
    int consecutive_failures;
    double opened_at;
    int probes_left;
    int probes_in_flight;

    struct rp_tier_stats st;
};

struct rp_router {
    struct rp_router_params p;
    struct tier *tiers;
    int n;
    bool has_llm;
    rp_router_done_fn done;
    void *ud;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *rp_breaker_state_name(enum rp_breaker_state s)
{
    switch (s) {
    case RP_BREAKER_CLOSED:
        return "closed";
    case RP_BREAKER_OPEN:
        return "open";
    case RP_BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "?";
}

static void backend_done(struct rp_gen_request *req, void *ud)
{
    struct tier *t = ud;
    t->r->done(req, t->index, t->r->ud);
}

/* What a llama tier's resident model is counted as: its GGUF file for each
 * worker (weights are read into each process), plus a tenth for the KV
 * cache and compute buffers. */
static size_t llama_footprint_mb(const struct rp_tier_config *c)
{
    struct stat sb;
    size_t file_mb = 0;
    if (c->model && stat(c->model, &sb) == 0)
        file_mb = (size_t)(sb.st_size / (1024 * 1024)) + 1;
    size_t workers = c->workers > 0 ? (size_t)c->workers : 1;
    return file_mb * workers + file_mb * workers / 10;
}

static enum rp_err make_backend(struct rp_router *r, struct tier *t, struct rp_error *err)
{
    const struct rp_tier_config *c = t->cfg;
    if (c->kind == RP_BACKEND_LLAMA) {
        struct rp_llama_backend_params lp = rp_llama_backend_default_params();
        lp.llama = c->llama;
        lp.llama.model_path = c->model;
        lp.sampling = c->sampling;
        lp.workers = c->workers > 0 ? c->workers : 1;
        lp.exe = r->p.exe;
        t->b = rp_backend_llama_new(&lp, backend_done, t, err);
        if (!t->b)
            return err->code;
        rp_backend_llama_set_name(t->b, c->name);
        t->mem_mb = llama_footprint_mb(c);
        return RP_OK;
    }
    if (c->kind == RP_BACKEND_OPENAI) {
        struct rp_openai_params op;
        enum rp_err e = rp_openai_params_from_tier(c, &r->p.config->retry, &op, err);
        if (e)
            return e;
        e = rp_backend_openai_new(c->name, &op, backend_done, t, &t->b, err);
        if (!e)
            snprintf(t->st.model, sizeof(t->st.model), "%s", c->api_model ? c->api_model : "default");
        return e;
    }
    return RP_OK;
}

struct rp_router *rp_router_new(const struct rp_router_params *p, rp_router_done_fn done, void *ud,
                                struct rp_error *err)
{
    const struct rp_config *cfg = p->config;
    if (cfg->n_tiers > 32) {
        rp_error_set(err, RP_ERR_CONFIG, "at most 32 tiers, not %zu", cfg->n_tiers);
        return NULL;
    }
    struct rp_router *r = calloc(1, sizeof(*r));
    if (r)
        r->tiers = calloc(cfg->n_tiers ? cfg->n_tiers : 1, sizeof(*r->tiers));
    if (!r || !r->tiers) {
        free(r);
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->p = *p;
    r->done = done;
    r->ud = ud;
    r->n = (int)cfg->n_tiers;
    for (int i = 0; i < r->n; i++) {
        struct tier *t = &r->tiers[i];
        t->r = r;
        t->index = i;
        t->cfg = &cfg->tiers[i];
        if (t->cfg->kind != RP_BACKEND_EXTRACTIVE)
            r->has_llm = true;
        if (make_backend(r, t, err)) {
            rp_error_prefix(err, "tier '%s': ", t->cfg->name);
            rp_router_free(r);
            return NULL;
        }
    }
    return r;
}

void rp_router_free(struct rp_router *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        rp_backend_free(r->tiers[i].b);
    free(r->tiers);
    free(r);
}

bool rp_router_has_llm(const struct rp_router *r)
{
    return r->has_llm;
}

/* Moves an open breaker to half-open once its cooldown has passed. */
static void breaker_tick(struct rp_router *r, struct tier *t)
{
    if (t->state == RP_BREAKER_OPEN && now_s() - t->opened_at >= r->p.config->breaker.cooldown_s) {
        t->state = RP_BREAKER_HALF_OPEN;
        t->probes_left = r->p.config->breaker.half_open_probes > 0 ? r->p.config->breaker.half_open_probes : 1;
        t->probes_in_flight = 0;
        rp_info("tier '%s': breaker half-open, trying %d request(s)", t->cfg->name, t->probes_left);
        /* A llama backend that gave up is started afresh for the probe. */
        if (t->cfg->kind == RP_BACKEND_LLAMA && t->started) {
            struct rp_llama_backend_stats ls;
            rp_backend_llama_stats(t->b, &ls);
            if (ls.failed) {
                rp_backend_stop(t->b);
                t->started = false;
            }
        }
    }
}

bool rp_router_available(struct rp_router *r, int tier)
{
    if (tier < 0 || tier >= r->n)
        return false;
    struct tier *t = &r->tiers[tier];
    if (!t->b)
        return false;
    breaker_tick(r, t);
    if (t->state == RP_BREAKER_OPEN)
        return false;
    if (t->state == RP_BREAKER_HALF_OPEN)
        return t->probes_left > 0 || t->probes_in_flight > 0;
    return true;
}

int rp_router_pick(struct rp_router *r, float complexity, uint32_t exclude)
{
    int home = -1;
    for (int i = 0; i < r->n; i++) {
        if (!r->tiers[i].b)
            continue;
        home = i;
        if (complexity <= r->tiers[i].cfg->max_complexity)
            break;
    }
    if (home < 0)
        return -1;
    /* The home tier, then the tiers above it, then those below. */
    for (int i = home; i < r->n; i++)
        if (!(exclude & (1u << i)) && r->tiers[i].b && rp_router_available(r, i))
            return i;
    for (int i = home - 1; i >= 0; i--)
        if (!(exclude & (1u << i)) && r->tiers[i].b && rp_router_available(r, i))
            return i;
    return -1;
}

int rp_router_next_up(struct rp_router *r, int tier, uint32_t exclude)
{
    for (int i = tier + 1; i < r->n; i++)
        if (!(exclude & (1u << i)) && r->tiers[i].b && rp_router_available(r, i))
            return i;
    return -1;
}

static size_t resident_mb(const struct rp_router *r)
{
    size_t mb = 0;
    for (int i = 0; i < r->n; i++)
        if (r->tiers[i].started && r->tiers[i].cfg->kind == RP_BACKEND_LLAMA)
            mb += r->tiers[i].mem_mb;
    return mb;
}

static void unload(struct tier *t)
{
    rp_backend_stop(t->b);
    t->started = false;
    t->st.unloads++;
    rp_info("tier '%s': model unloaded to make room (%zu MB)", t->cfg->name, t->mem_mb);
}

/* Makes room for t under the memory budget by unloading idle llama tiers,
 * least recently used first. false when the others are busy. */
static bool make_room(struct rp_router *r, struct tier *t)
{
    size_t budget = r->p.memory_budget_mb;
    if (!budget || t->cfg->kind != RP_BACKEND_LLAMA)
        return true;
    while (resident_mb(r) + t->mem_mb > budget) {
        struct tier *lru = NULL;
        for (int i = 0; i < r->n; i++) {
            struct tier *o = &r->tiers[i];
            if (o == t || !o->started || o->cfg->kind != RP_BACKEND_LLAMA || rp_backend_in_flight(o->b))
                continue;
            if (!lru || o->last_used < lru->last_used)
                lru = o;
        }
        if (!lru) {
            /* Nothing idle to unload; alone it must still be allowed to run. */
            return resident_mb(r) == 0;
        }
        unload(lru);
    }
    return true;
}

static void breaker_open(struct rp_router *r, struct tier *t, const char *why)
{
    t->state = RP_BREAKER_OPEN;
    t->opened_at = now_s();
    t->st.breaker_opens++;
    rp_warn("tier '%s': breaker open for %.0f s (%s)", t->cfg->name, r->p.config->breaker.cooldown_s, why);
}

bool rp_router_submit(struct rp_router *r, int tier, struct rp_gen_request *req, bool *failed,
                      struct rp_error *err)
{
    *failed = false;
    struct tier *t = &r->tiers[tier];
    if (!rp_router_available(r, tier))
        return false;
    if (t->state == RP_BREAKER_HALF_OPEN && t->probes_left <= 0)
        return false; /* wait for the probe's verdict */
    if (!t->started) {
        if (!make_room(r, t))
            return false;
        double t0 = now_s();
        if (rp_backend_start(t->b, err)) {
            breaker_open(r, t, err->msg);
            *failed = true;
            return false;
        }
        t->started = true;
        t->st.loads++;
        if (t->cfg->kind == RP_BACKEND_LLAMA)
            rp_info("tier '%s': starting %d worker(s) for '%s' (%.2f s to spawn)", t->cfg->name,
                    t->cfg->workers > 0 ? t->cfg->workers : 1, t->cfg->model, now_s() - t0);
    }
    if (rp_backend_in_flight(t->b) >= rp_backend_capacity(t->b))
        return false;
    if (rp_backend_submit(t->b, req) != RP_OK) {
        /* Room but refused: the backend has failed (e.g. its workers kept dying). */
        rp_error_set(err, RP_ERR_BACKEND, "tier '%s' refused the request: its backend has failed",
                     t->cfg->name);
        breaker_open(r, t, "its backend has failed");
        *failed = true;
        return false;
    }
    if (t->state == RP_BREAKER_HALF_OPEN) {
        t->probes_left--;
        t->probes_in_flight++;
    }
    t->last_used = now_s();
    t->st.submitted++;
    return true;
}

size_t rp_router_in_flight(const struct rp_router *r, int tier)
{
    const struct tier *t = &r->tiers[tier];
    return t->b && t->started ? rp_backend_in_flight(t->b) : 0;
}

size_t rp_router_capacity(const struct rp_router *r, int tier)
{
    const struct tier *t = &r->tiers[tier];
    return t->b ? rp_backend_capacity(t->b) : 0;
}

void rp_router_record(struct rp_router *r, int tier, bool ok)
{
    struct tier *t = &r->tiers[tier];
    t->last_used = now_s();
    if (t->state == RP_BREAKER_HALF_OPEN && t->probes_in_flight > 0)
        t->probes_in_flight--;
    if (ok) {
        t->st.succeeded++;
        t->consecutive_failures = 0;
        if (t->state == RP_BREAKER_HALF_OPEN) {
            t->state = RP_BREAKER_CLOSED;
            rp_info("tier '%s': breaker closed again", t->cfg->name);
        }
        return;
    }
    t->st.failed++;
    t->consecutive_failures++;
    int limit = r->p.config->breaker.failures > 0 ? r->p.config->breaker.failures : 1;
    if (t->state == RP_BREAKER_HALF_OPEN) {
        breaker_open(r, t, "the probe failed");
    } else if (t->state == RP_BREAKER_CLOSED && t->consecutive_failures >= limit) {
        char why[64];
        snprintf(why, sizeof(why), "%d consecutive failures", t->consecutive_failures);
        breaker_open(r, t, why);
    }
}

void rp_router_tier_stats(const struct rp_router *r, int tier, struct rp_tier_stats *out)
{
    const struct tier *t = &r->tiers[tier];
    *out = t->st;
    out->breaker = t->state;
    out->resident = t->started;
    if (t->cfg->kind == RP_BACKEND_LLAMA && t->b) {
        struct rp_llama_backend_stats ls;
        rp_backend_llama_stats(t->b, &ls);
        if (ls.model[0])
            snprintf(out->model, sizeof(out->model), "%s", ls.model);
        out->load_seconds = ls.last_load_seconds;
    }
}
