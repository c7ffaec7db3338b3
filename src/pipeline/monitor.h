/*
 * monitor.h - what a run measures about itself, for the people watching it
 * (internal to the pipeline; docs/monitoring.md is the user's view).
 *
 * The run calls these hooks from its threads; every hook is a no-op on a
 * NULL monitor, which is what a run without monitoring passes. Counts go
 * into a metrics registry (lock-free atomics: metrics.h), which /metrics
 * serves and a ticker thread reads about once a second to draw the
 * progress display, record throughput over time and raise alerts. The
 * per-document table, rejection reasons and sample pairs are kept by the
 * run's main thread only. At the end mon_finish() names the bottleneck and
 * writes OUT/summary.json and OUT/report.html.
 *
 * Thread contract: mon_stage_time(), mon_ingested(), mon_ingest_done() and
 * the metrics hooks (mon_request(), mon_gauges()) may be called from any
 * thread; mon_doc(), mon_pair(),
 * mon_reject(), mon_chunk_done() and mon_gen_state() from the run's main
 * thread only; mon_new/start/stop/finish/free from the thread that owns
 * the run.
 */
#ifndef RANPIPE_PIPELINE_MONITOR_H
#define RANPIPE_PIPELINE_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/config.h"
#include "ranpipe/error.h"
#include "ranpipe/metrics.h"
#include "ranpipe/progress.h"
#include "ranpipe/quality.h"
#include "ranpipe/router.h"
#include "ranpipe/run.h"

enum mon_stage {
    MON_INGEST,   /* ingest thread: reading, parsing, chunking */
    MON_ROUTE,    /* main thread: complexity, the store, jobs */
    MON_GENERATE, /* the backends: requests in flight */
    MON_ASSESS,   /* main thread: assessing, writing, committing */
    MON__STAGES
};

struct mon_params {
    const struct rp_config *cfg;
    struct rp_metrics *metrics;     /* borrowed; NULL: the monitor makes its own */
    enum rp_progress_mode progress; /* the live display */
    const char *const *inputs;
    size_t n_inputs;
    const char *out_dir;
    bool has_llm;
};

struct mon;

/* NULL when out of memory. */
struct mon *mon_new(const struct mon_params *p);
void mon_free(struct mon *m);

/* The ticker thread: progress, throughput samples, alerts. */
void mon_start(struct mon *m);
void mon_stop(struct mon *m);

/* Files found by the run (the documents' total while ingest goes on). */
void mon_files(struct mon *m, size_t n);
/* A document read by the ingest thread (parsed or not) and its chunks:
 * the totals progress counts against. */
void mon_ingested(struct mon *m, size_t n_chunks);
/* Ingest is done (ingest thread): the totals no longer grow. */
void mon_ingest_done(struct mon *m);

/* Time a stage spent: busy, waiting for input, blocked on its output. */
void mon_stage_time(struct mon *m, enum mon_stage s, double busy, double wait_in, double wait_out);
void mon_stage_items(struct mon *m, enum mon_stage s, uint64_t n);
/* The generate stage's state over the last dt seconds (main thread, each
 * turn of its loop): requests in flight; jobs waiting for a full tier (its
 * input queue full); nothing to hand a backend with room (starved). */
void mon_gen_state(struct mon *m, double dt, bool in_flight, bool full, bool starved);

/* A document taken: its row in the per-document table (SIZE_MAX when not
 * kept). error is NULL for a parsed document. */
size_t mon_doc(struct mon *m, const char *source, const char *error, size_t n_chunks);
/* A request finished on tier (from the cache: no backend asked). */
void mon_request(struct mon *m, int tier, bool ok, bool cached, double seconds, int64_t prompt_tokens,
                 int64_t gen_tokens);
/* A chunk written (its pairs came from tier; -1 for none). */
void mon_chunk_done(struct mon *m, size_t doc_row, int tier);
/* An assessed pair, accepted or rejected (q->accept). */
void mon_pair(struct mon *m, size_t doc_row, int tier, const char *id, const char *source, const char *question,
              const char *answer, const struct rp_quality *q);
/* A reject from another stage (parse, generate, dead-letter, ingest...). */
void mon_reject(struct mon *m, size_t doc_row, const char *stage, const char *reason);
/* A chunk became a dead letter. */
void mon_dead_letter(struct mon *m, size_t doc_row);
/* Queue depths and the tiers' breakers (main thread, now and then). */
void mon_gauges(struct mon *m, size_t waiting, size_t in_flight, const struct rp_tier_stats *st, size_t n_tiers);

/* The end: evaluates the alerts once more, names the bottleneck (into
 * sum->bottleneck), writes OUT/summary.json and OUT/report.html. status:
 * "complete", "interrupted" or "failed". */
enum rp_err mon_finish(struct mon *m, struct rp_run_summary *sum, const char *status, struct rp_error *err);

#endif /* RANPIPE_PIPELINE_MONITOR_H */
