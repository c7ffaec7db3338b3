/*
 * run.h - one dataset run: ingest -> chunk -> route -> generate -> parse ->
 * write.
 *
 * Stages: an ingest thread reads and chunks the input files and hands
 * finished documents over a bounded queue to the calling thread, which
 *   - runs the extractive tier on each document (no model);
 *   - measures each chunk's complexity and routes it to an LLM tier
 *     (router.h): the smallest tier whose max_complexity covers it, the
 *     next ones when that tier's breaker is open;
 *   - keeps every tier's backend full (model workers or HTTP requests) and
 *     takes finished requests from a queue the backends push onto;
 *   - on a backend failure sends the chunk to another tier; when every
 *     tier failed (or the request's deadline passed) writes a dead letter
 *     with the reasons;
 *   - when a chunk's output yields no usable pair, escalates it once to the
 *     next tier up (config `escalate`);
 *   - writes pairs, rejects and chunks in input order (a reorder window),
 *     so the files depend only on the inputs, the config and the models.
 * With no LLM tier configured, every chunk is written to pending.jsonl (it
 * waits for a model); a later run with a model generates for them.
 *
 * Thread contract: rp_run() may be called from one thread at a time.
 */
#ifndef RANPIPE_RUN_H
#define RANPIPE_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/config.h"
#include "ranpipe/error.h"
#include "ranpipe/metrics.h"
#include "ranpipe/progress.h"
#include "ranpipe/router.h"

struct rp_run_params {
    const char *const *inputs; /* files or directories (borrowed) */
    size_t n_inputs;
    const char *out_dir;
    const struct rp_config *config; /* tiers, chunking, limits, seed (borrowed; required) */
    const char *exe;           /* ranpipe binary for model workers; NULL: this process's own */
    size_t memory_budget_mb;   /* llama models resident at once; 0: no limit */
    size_t queue_docs;         /* documents buffered between ingest and generation (default 4) */
    bool no_cache;             /* generate again even what OUT/ranpipe.db's cache holds */
    bool retry_failed;         /* try again the chunks earlier runs made dead letters */
    /* Set (by a signal handler) to stop the run: no new work, the requests
     * in flight get drain_s seconds (default 5), the output files are left
     * as they were, and rp_run returns RP_ERR_CANCELLED. NULL: never. */
    volatile sig_atomic_t *stop;
    double drain_s;
    /* Monitoring (docs/monitoring.md): the run counts into metrics (a
     * registry the caller may serve on /metrics; NULL: the run keeps its
     * own), draws progress on standard error (default OFF here; the CLI
     * says AUTO), raises the config's alerts, and writes OUT/summary.json
     * and OUT/report.html at the end. no_monitor turns all of it off. */
    struct rp_metrics *metrics;
    enum rp_progress_mode progress;
    bool no_monitor;
};

struct rp_run_params rp_run_default_params(void);

#define RP_RUN_MAX_TIERS 32

struct rp_run_tier_summary {
    char name[64];
    const char *kind;          /* "extractive", "llama", "openai" */
    size_t chunks;             /* chunks whose pairs came from this tier */
    size_t pairs;
    size_t failed;             /* requests that failed on it (backend failures) */
    uint64_t prompt_tokens, gen_tokens;
    struct rp_tier_stats stats;
};

struct rp_run_summary {
    size_t files;         /* input files found */
    size_t docs;          /* parsed */
    size_t docs_failed;   /* unreadable, unsupported or unparsable (in rejects.jsonl) */
    size_t chunks;
    size_t requests_failed; /* generation requests that failed (any tier) */
    size_t pairs;         /* written to dataset.jsonl */
    size_t extractive_pairs;
    size_t rejects;       /* written to rejects.jsonl (including failed files) */
    size_t pending;       /* chunks waiting for an LLM tier (pending.jsonl) */
    size_t dead_letters;  /* chunks no tier could generate for */
    size_t fallbacks;     /* chunks sent to another tier after a failure */
    size_t escalations;   /* chunks retried on the next tier for lack of usable pairs */
    size_t quality_rejects; /* pairs the assessor rejected (in rejects.jsonl, stage "assess") */
    size_t duplicates;    /* of those, near-duplicates of an earlier pair */
    size_t conflicts;     /* parameters given different defaults/ranges (conflicts.jsonl) */
    size_t cache_hits;    /* generations answered by the store's cache (no backend call) */
    size_t adaptive_picks; /* chunks routing history sent to another tier than the static choice */
    bool interrupted;     /* stopped through params->stop */
    char bottleneck[320]; /* the stage that limited throughput, and why (empty without monitoring) */
    size_t alerts;        /* alerts raised (logged as warnings, in summary.json) */
    size_t docs_new, docs_changed, docs_unchanged, docs_deleted; /* against the last run */
    uint64_t prompt_tokens, gen_tokens;
    double gen_seconds;   /* from the first request to the last response */
    double seconds;
    size_t n_tiers;
    struct rp_run_tier_summary tiers[RP_RUN_MAX_TIERS];
};

/* Runs the whole job. Per-file and per-chunk failures are recorded in the
 * rejects file and counted in summary; the return value is an error only
 * when the run itself cannot go on (bad config, unwritable output, ...). */
enum rp_err rp_run(const struct rp_run_params *params, struct rp_run_summary *summary,
                   struct rp_error *err);

#endif /* RANPIPE_RUN_H */
