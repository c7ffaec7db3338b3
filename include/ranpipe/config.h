/*
 * config.h - the run configuration: tiers and their backends, chunking,
 * complexity weights, routing policy, from a YAML file (libyaml).
 *
 * A configuration is a list of tiers in order of cost, e.g. "extractive",
 * "small", "medium", "large". Each tier has a backend kind and settings;
 * the router sends a chunk to the first LLM tier whose max_complexity is at
 * least the chunk's complexity score (the extractive tier runs on every
 * document). Everything has a default, so a run needs no file at all:
 * rp_config_default() with --model PATH gives [extractive, small(llama)],
 * with --endpoint URL [extractive, small(openai)], with neither just
 * [extractive].
 *
 * Errors name the file, line and column, and the key:
 *   "ranpipe.yaml:12:5: tiers[1].parallel: expected an integer from 1 to 256, got 'many'"
 * Unknown keys are errors (a typo must not be ignored silently).
 * API keys are never stored: a tier names the environment variable that
 * holds its key (api_key_env) and the key is read when a request is made.
 *
 * Ownership: rp_config_* functions fill a caller-owned struct rp_config;
 * every string in it is owned by it and freed by rp_config_release().
 * Thread contract: a loaded config is read-only and may be shared.
 */
#ifndef RANPIPE_CONFIG_H
#define RANPIPE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/chunk.h"
#include "ranpipe/complexity.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"
#include "ranpipe/llm.h"
#include "ranpipe/prompt.h"
#include "ranpipe/quality.h"

enum rp_backend_kind {
    RP_BACKEND_EXTRACTIVE, /* no model: pairs from parameter tables, definitions, ... */
    RP_BACKEND_LLAMA,      /* GGUF model in `ranpipe worker` processes */
    RP_BACKEND_OPENAI,     /* OpenAI-compatible HTTP endpoint(s) */
};

struct rp_tier_config {
    char *name;                /* unique, e.g. "small" */
    enum rp_backend_kind kind;
    float max_complexity;      /* route chunks scoring <= this here (default 1.0) */

    /* llama */
    char *model;               /* GGUF path ("~/" expanded) */
    struct rp_llama_params llama; /* model_path points at `model` */
    int workers;               /* worker processes (default 1) */
    size_t memory_budget_mb;   /* resident-model budget for this tier; 0: no limit */

    /* openai */
    char **base_urls;          /* e.g. "http://127.0.0.1:8080/v1" */
    size_t n_base_urls;
    char *api_model;           /* "model" field of the request */
    char *api_key_env;         /* environment variable holding the key, or NULL */
    int max_concurrent;        /* requests in flight per base URL (default 8) */
    double timeout_s;          /* per request (default 300) */

    /* generation, any LLM tier */
    struct rp_sampling sampling;
    struct rp_qa_shape shape;  /* pairs per chunk and their sizes */
    char *prompt_template;     /* file with the user prompt template, or NULL: built in */
    char *system_prompt;       /* file with the system prompt, or NULL: built in */
};

struct rp_breaker_params {
    int failures;              /* consecutive failures that open the breaker (default 5) */
    double cooldown_s;         /* open -> half-open after this long (default 30) */
    int half_open_probes;      /* requests let through when half-open (default 1) */
};

struct rp_retry_params {
    int attempts;              /* tries per request on one tier, the first included (default 3) */
    double base_delay_s;       /* first backoff (default 0.5), doubled each time, with jitter */
    double max_delay_s;        /* backoff cap (default 30) */
    double deadline_s;         /* a request's total time budget across tries (default 900) */
};

/* The quality section: the scorer's settings, near-duplicate removal, the
 * optional embedding model and judge. */
struct rp_quality_config {
    struct rp_quality_params scorer;
    int dedup;                 /* remove near-duplicates (default 1) */
    double dedup_threshold;    /* questions: Jaccard similarity of near-duplicates (default 0.8) */
    double dedup_pair_threshold; /* question + answer: the same (default 0.55) */
    char *embed_model;         /* GGUF embedding model for the semantic check, or NULL */
    char *judge;               /* name of the tier that judges accepted pairs, or NULL */
};

/* The route section: routing learned from the run history in OUT/ranpipe.db. */
struct rp_route_config {
    int adaptive;              /* pick tiers by their history (default 0: the static thresholds) */
    double target;             /* pass rate a tier must be predicted to reach (default 0.8) */
};

/* The monitor section: progress lines and alerts (docs/monitoring.md). */
struct rp_alert_config {
    double min_pass_rate;      /* warn when accepted / assessed pairs fall below (default 0.2; 0: never) */
    double max_error_rate;     /* warn when failed / finished requests rise above (default 0.25; 1: never) */
    int breaker_open;          /* warn when a tier's circuit breaker opens (default 1) */
    size_t min_samples;        /* pairs or requests seen before a rate may alert (default 20) */
};

struct rp_monitor_config {
    double progress_interval_s; /* seconds between plain progress lines (default 10) */
    struct rp_alert_config alerts;
};

struct rp_config {
    char *path;                /* the file it came from, or NULL for defaults */
    struct rp_tier_config *tiers;
    size_t n_tiers;
    struct rp_chunk_params chunk;
    struct rp_complexity_params complexity;
    struct rp_ingest_params ingest;
    struct rp_breaker_params breaker;
    struct rp_retry_params retry;
    struct rp_quality_config quality;
    struct rp_route_config route;
    struct rp_monitor_config monitor;
    int escalate;              /* retry a chunk whose pairs fail quality once on the next tier (default 1) */
    uint64_t seed;
};

/* Fills c with the defaults: the extractive tier, plus a "small" llama tier
 * on model_path and/or a "small" (or "medium" when both) openai tier on
 * endpoint (each may be NULL). */
enum rp_err rp_config_default(struct rp_config *c, const char *model_path, const char *endpoint,
                              struct rp_error *err);

/* Loads path into c (defaults for everything the file leaves out). On
 * failure c is left released and err says file:line:column and the key. */
enum rp_err rp_config_load(const char *path, struct rp_config *c, struct rp_error *err);

/* Same from a string (name is used in messages). */
enum rp_err rp_config_parse(const char *name, const char *yaml, size_t len, struct rp_config *c,
                            struct rp_error *err);

/* Frees everything c owns and zeroes it; a zeroed config is a no-op. */
void rp_config_release(struct rp_config *c);

/* The tier called name, or NULL. */
const struct rp_tier_config *rp_config_tier(const struct rp_config *c, const char *name);

const char *rp_backend_kind_name(enum rp_backend_kind k);

#endif /* RANPIPE_CONFIG_H */
