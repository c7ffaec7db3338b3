/*
 * llm_int.h - what the llm module's files share: loading models (one
 * backend initialisation per process, llama.cpp's log routed into ranpipe's)
 * and the per-sequence sampler.
 */
#ifndef RANPIPE_LLM_INT_H
#define RANPIPE_LLM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <llama.h>

#include "ranpipe/hash.h"
#include "ranpipe/llm.h"

/* Routes llama.cpp's and ggml's log into rp_log and initialises llama.cpp's
 * backends, once per process; safe to call from any thread, any number of
 * times. rp__llama_model_load() calls it. */
void rp__llama_backend_init(void);

/* Loads the GGUF model at path (borrowed): its vocabulary only, or its
 * weights too, with n_gpu_layers layers offloaded (-1 all,
 * RP_GPU_LAYERS_AUTO all when a GPU backend found a device, else none) and
 * a warning when the file is larger than the free memory. Returns a new
 * model (the caller frees it with llama_model_free), or NULL with err set
 * naming the file. Thread-safe. */
struct llama_model *rp__llama_model_load(const char *path, bool vocab_only, int n_gpu_layers,
                                         struct rp_error *err);

/* n_threads when > 0, else the number of online cores. */
int rp__llama_threads(int n_threads);

/* Tokens grouped by the first byte of their text, built once per model.
 * A grammar accepts a token only if it accepts the token's first byte, so
 * when the drawn token is rejected, one cheap check per first byte (with a
 * single-byte "probe" token) rules out most of the vocabulary before the
 * grammar looks at individual tokens. */
struct rp__vocab_index {
    int32_t *by_byte;    /* token ids ordered by first byte */
    int32_t start[257];  /* tokens with first byte b: by_byte[start[b] .. start[b+1]) */
    int32_t probe[256];  /* a token whose text is exactly byte b, or -1 */
    int32_t *other;      /* tokens with empty text or end-of-generation: always checked */
    size_t n_other;
    char *text;          /* each token's output text (special tokens not rendered) */
    uint32_t *text_off;  /* token t's text is text[text_off[t] .. text_off[t + 1]) */
};

/* Incremental UTF-8 validation of a sequence's output, token by token. */
struct rp__utf8 {
    uint8_t need;   /* continuation bytes still expected */
    uint8_t lo, hi; /* allowed range of the next continuation byte */
};

/* Advances st over s[0..n) and returns true when the bytes keep the output
 * valid UTF-8 (a sequence may stay open at the end); st is unchanged when
 * they do not. */
bool rp__utf8_step(struct rp__utf8 *st, const char *s, size_t n);

/* Builds the index for vocab; false when out of memory. */
bool rp__vocab_index_build(struct rp__vocab_index *ix, const struct llama_vocab *vocab);
void rp__vocab_index_release(struct rp__vocab_index *ix);

/* Samples one token from logits with top-k / temperature / top-p and the
 * sequence's own random generator, among tokens that keep the output valid
 * UTF-8 and, when grammar is set, that the grammar accepts: the drawn token
 * is checked, and the candidates are narrowed only if it is rejected.
 * Scratch space is reused between calls. */
/* A min-heap keeping the best `cap` (logit, token) pairs offered to it. */
struct rp__topk {
    float *val;
    int32_t *id;
    size_t alloc; /* room in val/id */
    size_t cap;   /* how many to keep this time (<= alloc) */
    size_t have;
};

struct rp__sampler {
    struct llama_sampler *grammar;    /* owned; NULL for free text */
    const struct rp__vocab_index *ix; /* borrowed */
    struct rp__utf8 utf8;
    struct rp_rng rng;
    struct rp__topk top;    /* the k candidates drawn from */
    struct rp__topk wide;   /* the best few hundred, for the grammar fallback */
    float *probs;
    llama_token_data *cand; /* n_vocab scratch for the grammar fallback */
};

/* Sets up a sampler; grammar (may be NULL) is taken over. */
enum rp_err rp__sampler_init(struct rp__sampler *s, struct llama_sampler *grammar,
                             const struct rp__vocab_index *ix, uint64_t seed, int n_vocab,
                             const struct rp_sampling *p);
void rp__sampler_release(struct rp__sampler *s);
/* Returns the sampled token, or -1 when no token is acceptable.
 * *fallback is set when the full grammar pass was needed. The token is
 * accepted into the grammar state. */
llama_token rp__sampler_sample(struct rp__sampler *s, const struct rp_sampling *p,
                               const float *logits, int n_vocab, bool *fallback);

#endif /* RANPIPE_LLM_INT_H */
