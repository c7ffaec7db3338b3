/*
 * embed.c - text embeddings over libllama (see include/ranpipe/embed.h).
 *
 * Design: one llama context with embeddings on, a unified KV cache of
 * n_batch cells and n_batch tokens per decode call (n_ubatch = n_batch, so
 * a call is one compute pass: llama.cpp pools per pass, and a sequence
 * split over two passes would get the second half's pooled vector). The
 * texts are tokenized one by one into a llama_batch, each as its own
 * sequence from position 0; when the next text does not fit (tokens or
 * sequence ids), the batch is decoded and the pooled vector of each of its
 * sequences is normalised into the caller's array. The cache is cleared
 * before every decode: nothing is shared between calls.
 *
 * The pooling type is passed to the context explicitly: the model's
 * declared one, read from its GGUF metadata, or mean when it has none
 * (llama.cpp alone would then return no pooled vector at all).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"
#include "ranpipe/embed.h"
#include "ranpipe/log.h"

struct rp_embedder {
    struct rp_embed_params params; /* params.model points at path */
    char *path;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    enum llama_pooling_type pooling;
    int dim;
    int n_seq_max;  /* sequences (texts) per decode call */
    bool keep_last; /* the vocabulary appends an end token (EOS/SEP) */
    struct llama_batch batch;
    size_t *batch_text; /* text index of each sequence in the batch */
    int n_seqs;         /* sequences in the batch */
    llama_token *tok;   /* one text's tokens */
    size_t tok_cap;
    size_t n_truncated;
};

struct rp_embed_params rp_embed_default_params(void)
{
    struct rp_embed_params p = {
        .model = NULL,
        .n_threads = 0,
        .n_ctx = 512,
        .gpu_layers = RP_GPU_LAYERS_AUTO,
        .n_batch = 512,
    };
    return p;
}

static const char *pooling_name(enum llama_pooling_type t)
{
    switch (t) {
    case LLAMA_POOLING_TYPE_MEAN:
        return "mean";
    case LLAMA_POOLING_TYPE_CLS:
        return "cls";
    case LLAMA_POOLING_TYPE_LAST:
        return "last";
    default:
        return "none";
    }
}

/* The pooling type the model's GGUF declares (<arch>.pooling_type), or
 * LLAMA_POOLING_TYPE_UNSPECIFIED when it declares none. */
static enum llama_pooling_type declared_pooling(const struct llama_model *model)
{
    char arch[64], key[96], val[32];
    if (llama_model_meta_val_str(model, "general.architecture", arch, sizeof(arch)) <= 0)
        return LLAMA_POOLING_TYPE_UNSPECIFIED;
    snprintf(key, sizeof(key), "%s.pooling_type", arch);
    if (llama_model_meta_val_str(model, key, val, sizeof(val)) <= 0)
        return LLAMA_POOLING_TYPE_UNSPECIFIED;
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < LLAMA_POOLING_TYPE_NONE || v > LLAMA_POOLING_TYPE_RANK)
        return LLAMA_POOLING_TYPE_UNSPECIFIED;
    return (enum llama_pooling_type)v;
}

/* Chooses the pooling for e->model; RP_OK or an error naming the file. */
static enum rp_err choose_pooling(struct rp_embedder *e, struct rp_error *err)
{
    enum llama_pooling_type t = declared_pooling(e->model);
    switch (t) {
    case LLAMA_POOLING_TYPE_MEAN:
    case LLAMA_POOLING_TYPE_CLS:
    case LLAMA_POOLING_TYPE_LAST:
        e->pooling = t;
        return RP_OK;
    case LLAMA_POOLING_TYPE_RANK:
        return rp_error_set(err, RP_ERR_MODEL,
                            "model '%s' is a reranker (pooling 'rank'), not an embedding model",
                            e->path);
    default:
        rp_warn("model '%s' declares no pooling type (not an embedding model?): using mean pooling",
                e->path);
        e->pooling = LLAMA_POOLING_TYPE_MEAN;
        return RP_OK;
    }
}

struct rp_embedder *rp_embedder_new(const struct rp_embed_params *p, struct rp_error *err)
{
    struct rp_embedder *e = calloc(1, sizeof(*e));
    if (!e) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->params = *p;
    e->path = p->model ? strdup(p->model) : NULL;
    if (p->model && !e->path) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    e->params.model = e->path;
    e->model = rp__llama_model_load(e->path, false, p->gpu_layers, err);
    if (!e->model)
        goto fail;
    e->vocab = llama_model_get_vocab(e->model);
    if (llama_model_has_encoder(e->model) && llama_model_has_decoder(e->model)) {
        rp_error_set(err, RP_ERR_MODEL,
                     "model '%s' is an encoder-decoder model: it has no embedding output", e->path);
        goto fail;
    }
    e->dim = llama_model_n_embd_out(e->model);
    if (e->dim <= 0) {
        rp_error_set(err, RP_ERR_MODEL, "model '%s' has no embedding output", e->path);
        goto fail;
    }
    if (choose_pooling(e, err))
        goto fail;

    e->params.n_threads = rp__llama_threads(p->n_threads);
    if (e->params.n_ctx <= 0)
        e->params.n_ctx = rp_embed_default_params().n_ctx;
    int n_train = llama_model_n_ctx_train(e->model);
    if (n_train > 0 && e->params.n_ctx > n_train) {
        rp_warn("model '%s' was trained on %d tokens: embedding at most %d tokens per text, not %d",
                e->path, n_train, n_train, e->params.n_ctx);
        e->params.n_ctx = n_train;
    }
    if (e->params.n_batch < e->params.n_ctx)
        e->params.n_batch = e->params.n_ctx;
    size_t max_seq = llama_max_parallel_sequences();
    e->n_seq_max = (size_t)e->params.n_batch < max_seq ? e->params.n_batch : (int)max_seq;
    e->keep_last = llama_vocab_get_add_eos(e->vocab) || llama_vocab_get_add_sep(e->vocab);

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)e->params.n_batch;
    cp.n_batch = (uint32_t)e->params.n_batch;
    cp.n_ubatch = (uint32_t)e->params.n_batch; /* one compute pass per call: see the top */
    cp.n_seq_max = (uint32_t)e->n_seq_max;
    cp.n_threads = e->params.n_threads;
    cp.n_threads_batch = e->params.n_threads;
    cp.embeddings = true;
    cp.pooling_type = e->pooling;
    cp.kv_unified = true; /* one stream: a batch of many sequences is one pass */
    cp.no_perf = true;
    /* llama.cpp's CPU flash-attention kernel rounds differently with the
     * batch's shape: a text's vector moved by up to 6e-4 between being
     * embedded alone and among others. Without it they are identical. */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    e->ctx = llama_init_from_model(e->model, cp);
    if (!e->ctx) {
        rp_error_set(err, RP_ERR_MODEL,
                     "cannot create an embedding context for '%s' (%d tokens per call): not enough "
                     "memory?",
                     e->path, e->params.n_batch);
        goto fail;
    }
    e->batch = llama_batch_init(e->params.n_batch, 0, 1);
    e->batch_text = malloc((size_t)e->n_seq_max * sizeof(*e->batch_text));
    if (!e->batch.token || !e->batch_text) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rp_debug("embedder '%s': dim %d, %s pooling, %d tokens per text, %d per call, %d threads",
             e->path, e->dim, pooling_name(e->pooling), e->params.n_ctx, e->params.n_batch,
             e->params.n_threads);
    return e;
fail:
    rp_embedder_free(e);
    return NULL;
}

void rp_embedder_free(struct rp_embedder *e)
{
    if (!e)
        return;
    if (e->batch.token)
        llama_batch_free(e->batch);
    if (e->ctx)
        llama_free(e->ctx);
    if (e->model)
        llama_model_free(e->model);
    free(e->batch_text);
    free(e->tok);
    free(e->path);
    free(e);
}

int rp_embedder_dim(const struct rp_embedder *e)
{
    return e->dim;
}

const char *rp_embedder_pooling(const struct rp_embedder *e)
{
    return pooling_name(e->pooling);
}

size_t rp_embedder_truncated(const struct rp_embedder *e)
{
    return e->n_truncated;
}

/* Tokenizes s[0..n), text number index, into e->tok[0..*n_tok), truncated
 * to n_ctx tokens. */
static enum rp_err tokenize(struct rp_embedder *e, const char *s, size_t n, size_t index,
                            int *n_tok, struct rp_error *err)
{
    if (n > INT32_MAX / 2)
        return rp_error_set(err, RP_ERR_TOOBIG, "text %zu is too large to tokenize (%zu bytes)",
                            index, n);
    /* Tokens never outnumber bytes, plus the special tokens added. */
    size_t want = n + 8;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (want > e->tok_cap) {
            llama_token *t = realloc(e->tok, want * sizeof(*t));
            if (!t)
                return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            e->tok = t;
            e->tok_cap = want;
        }
        int32_t r =
            llama_tokenize(e->vocab, s, (int32_t)n, e->tok, (int32_t)e->tok_cap, true, false);
        if (r >= 0) {
            int n_ctx = e->params.n_ctx;
            if (r > n_ctx) {
                if (e->keep_last)
                    e->tok[n_ctx - 1] = e->tok[r - 1];
                rp_debug("embedder: text %zu has %d tokens; embedding its first %d", index, (int)r,
                         n_ctx);
                e->n_truncated++;
                r = n_ctx;
            }
            *n_tok = (int)r;
            return RP_OK;
        }
        want = (size_t) - (int64_t)r;
    }
    return rp_error_set(err, RP_ERR_MODEL, "cannot tokenize text %zu for '%s'", index, e->path);
}

/* Writes the L2-normalised v[0..dim) to out. */
static bool normalise(const float *v, float *out, int dim)
{
    double ss = 0.0;
    for (int k = 0; k < dim; k++)
        ss += (double)v[k] * (double)v[k];
    if (!isfinite(ss))
        return false;
    double inv = ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
    for (int k = 0; k < dim; k++)
        out[k] = (float)((double)v[k] * inv);
    return true;
}

/* Decodes the batch and stores each sequence's vector; empties the batch. */
static enum rp_err flush(struct rp_embedder *e, float *out, struct rp_error *err)
{
    if (e->n_seqs == 0)
        return RP_OK;
    /* Cells not in this call's sequences are masked; their stale values are
     * never read, so the cache's memory need not be zeroed. */
    llama_memory_clear(llama_get_memory(e->ctx), false);
    int32_t dr = llama_decode(e->ctx, e->batch);
    enum rp_err rc = RP_OK;
    if (dr != 0) {
        rc = rp_error_set(err, RP_ERR_MODEL,
                          "llama_decode failed for '%s' with status %d (%d texts, %d tokens)",
                          e->path, (int)dr, e->n_seqs, (int)e->batch.n_tokens);
        goto out;
    }
    for (int s = 0; s < e->n_seqs; s++) {
        size_t i = e->batch_text[s];
        const float *v = llama_get_embeddings_seq(e->ctx, (llama_seq_id)s);
        if (!v) {
            rc = rp_error_set(err, RP_ERR_MODEL, "model '%s' gave no embedding for text %zu",
                              e->path, i);
            goto out;
        }
        if (!normalise(v, out + i * (size_t)e->dim, e->dim)) {
            rc = rp_error_set(err, RP_ERR_MODEL,
                              "model '%s' gave a non-finite embedding for text %zu", e->path, i);
            goto out;
        }
    }
out:
    e->batch.n_tokens = 0;
    e->n_seqs = 0;
    return rc;
}

enum rp_err rp_embed_batch(struct rp_embedder *e, const char *const *texts, const size_t *lens,
                           size_t n, float *out, struct rp_error *err)
{
    if (n == 0)
        return RP_OK;
    if (!texts || !out)
        return rp_error_set(err, RP_ERR_INVAL, "no texts or no output array");
    e->batch.n_tokens = 0;
    e->n_seqs = 0;
    const size_t dim = (size_t)e->dim;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : texts[i] ? strlen(texts[i]) : 0;
        if (!texts[i] && len > 0)
            return rp_error_set(err, RP_ERR_INVAL, "text %zu is NULL", i);
        if (len == 0) {
            memset(out + i * dim, 0, dim * sizeof(*out));
            continue;
        }
        int nt = 0;
        enum rp_err rc = tokenize(e, texts[i], len, i, &nt, err);
        if (rc)
            return rc;
        if (nt == 0) { /* cannot happen for non-empty text, but is not an error */
            memset(out + i * dim, 0, dim * sizeof(*out));
            continue;
        }
        if (e->batch.n_tokens + nt > e->params.n_batch || e->n_seqs == e->n_seq_max) {
            rc = flush(e, out, err);
            if (rc)
                return rc;
        }
        int s = e->n_seqs++;
        e->batch_text[s] = i;
        for (int k = 0; k < nt; k++) {
            int b = e->batch.n_tokens++;
            e->batch.token[b] = e->tok[k];
            e->batch.pos[b] = k;
            e->batch.n_seq_id[b] = 1;
            e->batch.seq_id[b][0] = s;
            e->batch.logits[b] = 1; /* an embedding context outputs every token */
        }
    }
    return flush(e, out, err);
}

float rp_embed_cosine(const float *a, const float *b, int dim)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int k = 0; k < dim; k++) {
        ab += (double)a[k] * (double)b[k];
        aa += (double)a[k] * (double)a[k];
        bb += (double)b[k] * (double)b[k];
    }
    if (aa <= 0.0 || bb <= 0.0)
        return 0.0f;
    double c = ab / (sqrt(aa) * sqrt(bb));
    return (float)(c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c);
}
