/*
 * run.h - one dataset run: ingest -> chunk -> generate -> parse -> write.
 *
 * Stages: an ingest thread reads and chunks the input files and hands
 * finished documents over a bounded queue to the generation stage, which
 * runs on the calling thread (it owns the llama context) and keeps every
 * sequence slot busy; pairs are written by the same thread in input order.
 * A file that fails to parse is written to rejects.jsonl with the reason and
 * the run goes on.
 *
 * Thread contract: rp_run() may be called from one thread at a time.
 */
#ifndef RANPIPE_RUN_H
#define RANPIPE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/chunk.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"
#include "ranpipe/llm.h"
#include "ranpipe/prompt.h"

struct rp_run_params {
    const char *const *inputs; /* files or directories (borrowed) */
    size_t n_inputs;
    const char *out_dir;
    struct rp_llama_params llama; /* llama.model_path NULL: no model configured */
    struct rp_sampling sampling;
    struct rp_chunk_params chunk;
    struct rp_qa_shape shape;
    struct rp_ingest_params ingest;
    uint64_t seed;        /* mixed with each chunk's hash into the request seed */
    size_t queue_docs;    /* documents buffered between ingest and generation (default 4) */
};

struct rp_run_params rp_run_default_params(void);

struct rp_run_summary {
    size_t files;         /* input files found */
    size_t docs;          /* parsed */
    size_t docs_failed;   /* unreadable, unsupported or unparsable (in rejects.jsonl) */
    size_t chunks;
    size_t requests_failed;
    size_t pairs;         /* written to dataset.jsonl */
    size_t rejects;       /* written to rejects.jsonl (including failed files) */
    struct rp_gen_stats gen;
    double seconds;
    char model[256];
};

/* Runs the whole job. Per-file and per-chunk failures are recorded in the
 * rejects file and counted in summary; the return value is an error only
 * when the run itself cannot go on (no model, unwritable output, ...). */
enum rp_err rp_run(const struct rp_run_params *params, struct rp_run_summary *summary,
                   struct rp_error *err);

#endif /* RANPIPE_RUN_H */
