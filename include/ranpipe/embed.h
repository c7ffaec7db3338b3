/*
 * embed.h - text embeddings with llama.cpp (libllama C API), in process.
 *
 * The quality scorer compares a question with its context and an answer
 * with its context by the cosine of their embeddings. One struct
 * rp_embedder owns one embedding model and one llama context with
 * embeddings enabled. rp_embed_batch() tokenizes the texts, packs them into
 * as few llama_decode calls as the token budget (n_batch) allows - one
 * sequence per text, each at positions 0.., the cache cleared before each
 * call - reads each sequence's pooled vector and L2-normalises it. A text's
 * vector does not depend on the other texts of its batch: the sequences
 * attend only to themselves, and flash attention is off because llama.cpp's
 * CPU kernel for it rounds differently with the batch's shape (on the CPU
 * the vectors are then bit-identical; GPU backends also choose kernels by
 * batch size, so expect differences in the last bits there).
 *
 * Pooling: the model's own when its GGUF declares one (<arch>.pooling_type:
 * "last" for Qwen3-Embedding, "mean" or "cls" for BERT-style models); mean
 * pooling when it declares none, e.g. a generative model used as an
 * embedder (a warning says so: its vectors are a poor similarity measure).
 * A reranker (pooling "rank") is refused.
 *
 * Tokens: each text is tokenized with the special tokens its vocabulary
 * adds (Qwen3-Embedding appends <|endoftext|>, whose hidden state is the
 * embedding); special-token text inside a text is not parsed as special.
 * A text longer than n_ctx tokens is truncated to its first n_ctx tokens
 * (keeping an appended end token last, since last-token pooling reads it):
 * no error, a debug log line, and rp_embedder_truncated() counts it.
 * Embedding models that follow instructions (Qwen3-Embedding) expect the
 * query side to carry one ("Instruct: ...\nQuery: ..."): that is the
 * caller's text.
 *
 * Empty texts: a text of length 0 gets the zero vector (the model is not
 * run for it). rp_embed_cosine() of the zero vector with anything is 0, so
 * an empty answer is similar to nothing.
 *
 * Cost: llama.cpp computes the output logits of every token of a
 * decoder-only model in an embedding context too, and discards them
 * (ggml-org/llama.cpp#24713): n_batch x n_vocab floats in the output
 * buffer and again in the compute buffer - about 0.55 GB of memory at the
 * default 512 tokens with Qwen's 152k-token vocabulary - and a vocabulary
 * projection per token, a quarter of a 0.6B model's work. n_batch trades
 * that memory against fewer, larger decode calls.
 *
 * Thread contract: an rp_embedder is used by one thread at a time
 * (rp_embed_batch() reuses the embedder's context and scratch buffers);
 * different embedders may be used from different threads at once.
 * rp_embedder_dim(), rp_embedder_pooling() and rp_embedder_truncated()
 * read the embedder only; rp_embed_cosine() is pure.
 */
#ifndef RANPIPE_EMBED_H
#define RANPIPE_EMBED_H

#include <stddef.h>

#include "ranpipe/error.h"
#include "ranpipe/llm.h" /* RP_GPU_LAYERS_AUTO */

struct rp_embed_params {
    const char *model; /* GGUF file (borrowed; copied by rp_embedder_new) */
    int n_threads;     /* 0: all cores (default) */
    int n_ctx;         /* most tokens embedded per text; longer texts are truncated to
                        * their first n_ctx tokens (default 512; capped at the model's
                        * training context) */
    int gpu_layers;    /* layers offloaded to a GPU build; -1 all; RP_GPU_LAYERS_AUTO (the
                        * default): all when llama.cpp was built with a GPU backend that
                        * found a device, else none */
    int n_batch;       /* most tokens per llama_decode call (several texts share one);
                        * raised to n_ctx when smaller (default 512) */
};

struct rp_embed_params rp_embed_default_params(void);

struct rp_embedder;

/* Loads p->model and creates its embedding context. Returns a new embedder
 * (free it with rp_embedder_free), or NULL with err set naming the file
 * when the file is missing, is not a model llama.cpp can load, or has no
 * usable embedding output (an encoder-decoder model, a reranker, a context
 * that cannot be created). */
struct rp_embedder *rp_embedder_new(const struct rp_embed_params *p, struct rp_error *err);

/* Frees e and its model and context; NULL is a no-op. */
void rp_embedder_free(struct rp_embedder *e);

/* The number of floats in one embedding (> 0). */
int rp_embedder_dim(const struct rp_embedder *e);

/* The pooling in use: "mean", "cls" or "last" (static string). */
const char *rp_embedder_pooling(const struct rp_embedder *e);

/* Texts truncated to n_ctx tokens by this embedder so far. */
size_t rp_embedder_truncated(const struct rp_embedder *e);

/* Embeds the n texts texts[i][0..lens[i]) (lens NULL: NUL-terminated
 * texts) into out[i * dim .. (i + 1) * dim), each L2-normalised (unit
 * length; the zero vector for an empty text). out is caller-owned with room
 * for n * dim floats; texts and lens are borrowed for the call. The texts
 * are batched into one or a few llama_decode calls, one sequence per text.
 * Returns RP_OK, or an error with err set (RP_ERR_INVAL for a NULL text,
 * RP_ERR_MODEL naming the file when llama.cpp fails or the model gives no
 * or a non-finite vector); out is then partly written. */
enum rp_err rp_embed_batch(struct rp_embedder *e, const char *const *texts, const size_t *lens,
                           size_t n, float *out, struct rp_error *err);

/* Cosine similarity of a[0..dim) and b[0..dim) in [-1, 1]; 0 when either
 * is the zero vector. Does not assume unit length. */
float rp_embed_cosine(const float *a, const float *b, int dim);

#endif /* RANPIPE_EMBED_H */
