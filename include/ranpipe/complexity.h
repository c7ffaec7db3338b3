/*
 * complexity.h - how hard a chunk is to turn into good QA pairs.
 *
 * Features are measured on a chunk's text (and the document's structure);
 * the score is a weighted sum of the features, each first mapped to 0..1,
 * divided by the sum of the weights (negative weights count as 0),
 * clamped to 0..1. The router sends low scores to small models and high
 * scores to large ones. Weights and normalisers come from config.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_COMPLEXITY_H
#define RANPIPE_COMPLEXITY_H

#include <stddef.h>

#include "ranpipe/chunk.h"
#include "ranpipe/doc.h"

struct rp_complexity_params {
    /* weights of the normalised features (need not sum to 1; the score is
     * divided by their sum) */
    float w_length, w_params, w_counters, w_terms, w_numeric, w_tables, w_depth, w_domain;
    size_t length_norm_tokens; /* tokens at which the length feature reaches 1 */
    float density_norm;        /* entities per 100 tokens at which a density feature reaches 1 */
    int depth_norm;            /* section depth at which the depth feature reaches 1 */
};

/* The defaults, and why they are what they are, are described at the top
 * of src/analyze/complexity.c. */
struct rp_complexity_params rp_complexity_default_params(void);

struct rp_complexity {
    size_t tokens;
    /* per 100 tokens */
    float param_density;   /* parameters */
    float counter_density; /* counters */
    float term_density;    /* acronyms, spec references, product codes */
    float numeric_density; /* values with units */
    float table_share;     /* 0..1: share of the text in tables */
    int depth;             /* section depth of the chunk's heading path */
    float domain;          /* 0..1: share of words that are RAN terms (glossary, entities) */
    float score;           /* 0..1 */
};

/* Measures one chunk of doc (both borrowed; doc may be NULL) into out.
 * params NULL means the defaults. Entities are found in the chunk text
 * with rp_entities_find(); should that run out of memory the entity
 * features are 0 and the others are still measured. */
void rp_complexity_chunk(const struct rp_doc *doc, const struct rp_chunk *chunk,
                         const struct rp_complexity_params *params, struct rp_complexity *out);
/* The document's figures (doc and chunks borrowed; params NULL for the
 * defaults): tokens is the total of its chunks, depth the rounded mean,
 * every other field (score included) the token-weighted mean of its
 * chunks' figures. All zero for no chunks. */
void rp_complexity_doc(const struct rp_doc *doc, const struct rp_chunk_list *chunks,
                       const struct rp_complexity_params *params, struct rp_complexity *out);

#endif /* RANPIPE_COMPLEXITY_H */
