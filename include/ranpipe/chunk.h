/*
 * chunk.h - section-aware chunking measured in model tokens.
 *
 * Blocks are packed in reading order into chunks of at most max_tokens.
 * A new chunk starts at every section boundary unless the chunk so far is
 * smaller than min_tokens (then the next section's heading is written into
 * the chunk text so no structure is lost). A paragraph too long for one
 * chunk is split between sentences; a table is split between rows and its
 * header rows are repeated in every part; a chunk cut for size starts with
 * up to overlap_tokens of the previous chunk's last sentences. Every chunk
 * carries the heading path of the section it starts in.
 *
 * Token counts come from a caller-supplied counter (the model's tokenizer
 * when a model is loaded) or from rp_token_estimate().
 *
 * Thread contract: reentrant when the counter is.
 */
#ifndef RANPIPE_CHUNK_H
#define RANPIPE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"

struct rp_chunk_params {
    size_t max_tokens;     /* default 384 */
    size_t min_tokens;     /* default 64: smaller sections merge with the next */
    size_t overlap_tokens; /* default 32 */
};

struct rp_chunk_params rp_chunk_default_params(void);

/* Counts the tokens of s[0..n). */
typedef size_t (*rp_token_count_fn)(const char *s, size_t n, void *ud);

/* A calibrated estimate of Qwen-tokenizer tokens without a model: words
 * and punctuation as pieces, long words split, digits one token each. */
size_t rp_token_estimate(const char *s, size_t n);
/* rp_token_count_fn adapter for rp_token_estimate (ud unused). */
size_t rp_token_estimate_fn(const char *s, size_t n, void *ud);

struct rp_chunk {
    size_t index;             /* position in the document */
    int section;              /* section the chunk starts in */
    const char *heading_path; /* "A > B > C", "" for the preamble */
    const char *text;
    size_t n_tokens;          /* tokens of text */
    size_t line;              /* source line of the first block, 0 if unknown */
    int page;                 /* page of the first block, 0 if unknown */
    int first_block, last_block; /* the document blocks whose text it holds (an
                                  * overlap from the previous chunk aside) */
    uint64_t hash;            /* XXH3 of heading path and text: the chunk's identity */
};

struct rp_chunk_list {
    struct rp_chunk *items; /* malloc'd */
    size_t n, cap;
    struct rp_arena arena;  /* strings */
};

void rp_chunk_list_init(struct rp_chunk_list *l);
void rp_chunk_list_release(struct rp_chunk_list *l);

/* Appends the chunks of doc (borrowed) to out. count may be NULL for the
 * estimate. */
enum rp_err rp_chunk_doc(const struct rp_doc *doc, const struct rp_chunk_params *params,
                         rp_token_count_fn count, void *count_ud, struct rp_chunk_list *out,
                         struct rp_error *err);

#endif /* RANPIPE_CHUNK_H */
