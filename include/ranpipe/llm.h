/*
 * llm.h - in-process generation with llama.cpp (libllama C API).
 *
 * One struct rp_llama owns one model and one context and decodes many
 * sequences together (continuous batching): requests are pulled from the
 * caller whenever a sequence slot is free, their prompts are prefilled in
 * pieces alongside the running sequences, each sequence samples with its
 * own seed and (optionally) its own GBNF grammar, and a finished sequence's
 * KV cells are freed at once so the next request can take the slot.
 *
 * Grammar cost: with a 152k-token vocabulary, checking every candidate
 * against a grammar costs milliseconds per token. Each step samples first
 * and checks only the chosen token; the full grammar pass runs only when
 * that token is rejected.
 *
 * Thread contract: an rp_llama is used by one thread at a time (the thread
 * that calls rp_llama_run owns the context); rp_llama_count_tokens may be
 * called from other threads concurrently (tokenizing is read-only).
 */
#ifndef RANPIPE_LLM_H
#define RANPIPE_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

#define RP_GPU_LAYERS_AUTO (-2)

struct rp_llama_params {
    const char *model_path; /* GGUF file (borrowed) */
    int n_ctx_seq;          /* context tokens per sequence (default 4096) */
    int n_parallel;         /* sequences decoded together (default 4) */
    int n_threads;          /* 0: all cores */
    int n_batch;            /* tokens per llama_decode call (default 512) */
    int n_ubatch;           /* physical batch (default 512) */
    int n_gpu_layers;       /* layers offloaded to a GPU build; -1 all; RP_GPU_LAYERS_AUTO
                             * (the default): all when llama.cpp was built with a GPU
                             * backend that found a device, else none */
};

struct rp_llama_params rp_llama_default_params(void);

struct rp_sampling {
    float temperature; /* <= 0: greedy (default 0.7) */
    int top_k;         /* default 40; <= 0: whole vocabulary */
    float top_p;       /* default 0.9 */
    int max_tokens;    /* for requests that set none; 0: 1024 (default 0) */
};

struct rp_sampling rp_sampling_default(void);

enum rp_finish {
    RP_FINISH_NONE,
    RP_FINISH_STOP,   /* end-of-generation token, or the grammar's root completed */
    RP_FINISH_LENGTH, /* max_tokens reached */
    RP_FINISH_ERROR,  /* see err */
};

struct rp_gen_request {
    /* Inputs, borrowed until the request is handed to the done callback. */
    const char *system;  /* may be NULL */
    const char *user;
    const char *grammar; /* GBNF with a "root" rule; NULL for free text */
    const char *json_schema; /* the same shape as a JSON Schema, for HTTP backends
                              * (response_format); NULL for free text */
    uint64_t seed;
    int max_tokens;      /* 0: use the sampling default */
    void *ud;            /* the caller's */

    /* Outputs, valid in the done callback. rp_gen_request_init() sets them
     * up; rp_gen_request_release() frees text. */
    struct rp_buf text;
    int n_prompt_tokens;
    int n_gen_tokens;
    int n_grammar_fallbacks; /* tokens that needed the full grammar pass */
    enum rp_finish finish;
    struct rp_error err;
    double seconds; /* from taking a slot to finishing */
};

void rp_gen_request_init(struct rp_gen_request *r);
void rp_gen_request_release(struct rp_gen_request *r);

struct rp_gen_stats {
    uint64_t requests;
    uint64_t prompt_tokens;
    uint64_t gen_tokens;
    uint64_t decode_calls;
    uint64_t grammar_fallbacks;
    double decode_seconds;
    double sample_seconds;
    double wall_seconds;
};

struct rp_llama;

/* Loads the model and creates a context for n_parallel sequences of
 * n_ctx_seq tokens. Returns NULL with err set (naming the file) on failure. */
struct rp_llama *rp_llama_new(const struct rp_llama_params *params, struct rp_error *err);
void rp_llama_free(struct rp_llama *m);

/* Loads only the model's vocabulary (no weights, no context): enough for
 * rp_llama_count_tokens() and rp_llama_model_name(), e.g. to size chunks
 * in the coordinator while the model itself runs in worker processes. */
struct rp_llama *rp_llama_tokenizer_new(const char *model_path, struct rp_error *err);

/* A short model identity: general.name, else the file name. */
const char *rp_llama_model_name(const struct rp_llama *m);
/* The parameters in effect (threads resolved). */
const struct rp_llama_params *rp_llama_params(const struct rp_llama *m);

/* Tokens in s[0..n) with the model's tokenizer (no special tokens added). */
size_t rp_llama_count_tokens(const char *s, size_t n, void *m);

/* Called when a slot is free. With block=false return a request if one is
 * ready, else NULL. With block=true nothing is in flight: wait for the next
 * request, or return NULL when there will be no more (the run then ends). */
typedef struct rp_gen_request *(*rp_gen_next_fn)(bool block, void *ud);
/* Called once per request taken, finished or failed; the callee owns it again. */
typedef void (*rp_gen_done_fn)(struct rp_gen_request *req, void *ud);

/* Decodes requests until next() returns NULL with nothing in flight. A
 * failure of one request (prompt too long, bad grammar) finishes that
 * request with RP_FINISH_ERROR; a failure of the context itself ends the
 * run with an error after finishing every in-flight request with it.
 * stats (may be NULL) accumulates. */
enum rp_err rp_llama_run(struct rp_llama *m, const struct rp_sampling *sampling, rp_gen_next_fn next,
                         rp_gen_done_fn done, void *ud, struct rp_gen_stats *stats,
                         struct rp_error *err);

/* Formats a system + user message with the model's chat template (ChatML
 * when the model has none) and an open assistant turn, into out. */
enum rp_err rp_llama_format_chat(const struct rp_llama *m, const char *system, const char *user,
                                 struct rp_buf *out, struct rp_error *err);

#endif /* RANPIPE_LLM_H */
