/*
 * assess.h - the assessor: everything that decides whether a pair enters
 * the dataset, shared by `ranpipe assess` and `ranpipe run`.
 *
 * For each pair, in order:
 *   1. the scorer (quality.h): structure, grounding, support, answerability,
 *      consistency with the context;
 *   2. semantic similarity question<->context and answer<->context, when an
 *      embedding model is given;
 *   3. the LLM judge, when a judge function is given;
 *   4. near-duplicate removal (dedup.h) over every pair accepted so far, on
 *      the question and on question+answer: a later near-duplicate is
 *      rejected naming the earlier record's id;
 *   5. cross-record consistency: accepted pairs that give one parameter
 *      different defaults or ranges are reported (not rejected: which one is
 *      right needs a person).
 *
 * Memory per accepted record: the two dedup indexes (see dedup.h), the
 * record id (its length + 1 + 8 bytes) and, for claims about parameters,
 * one entry per claim.
 *
 * Thread contract: one thread at a time per assessor.
 */
#ifndef RANPIPE_ASSESS_H
#define RANPIPE_ASSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ranpipe/error.h"
#include "ranpipe/quality.h"

struct rp_embedder;

/* The LLM judge: rates question/answer against context and returns a score
 * in [0,1], or < 0 when it could not (the pair is then scored without it).
 * why (cap bytes) receives a short explanation. */
typedef double (*rp_judge_fn)(void *ud, const char *context, const char *question, const char *answer, char *why,
                              size_t cap);

struct rp_assess_params {
    struct rp_quality_params quality;
    bool dedup;             /* default true */
    double dedup_threshold; /* questions: Jaccard similarity that makes a near-duplicate; default 0.8 */
    double dedup_pair_threshold; /* question + answer: the same; default 0.55 (longer texts, and a
                                    reworded question with the same answer is a duplicate) */
    size_t expected_records; /* sizes the dedup tables; default 100000 (they grow) */
    struct rp_embedder *embedder; /* borrowed; NULL: no semantic check */
    rp_judge_fn judge;            /* NULL: no judge */
    void *judge_ud;
};

struct rp_assess_params rp_assess_default_params(void);

struct rp_assessor;

struct rp_assessor *rp_assessor_new(const struct rp_assess_params *p, struct rp_error *err);
void rp_assessor_free(struct rp_assessor *a);

/* One record to assess. All strings borrowed, NUL-terminated. ctx may be
 * NULL (the context is then indexed for this call alone); context is needed
 * only for the embedding model and the judge. */
struct rp_assess_item {
    const struct rp_quality_ctx *ctx;
    const char *context;
    const char *question, *answer;
    const char *id;     /* named by later duplicates; may be NULL ("#N" is used) */
    const char *source; /* the document, for consistency reports; may be NULL */
};

/* Assesses one record into *out. Errors only on out-of-memory or a failing
 * embedding model (err says which). */
enum rp_err rp_assessor_check(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality *out,
                              struct rp_error *err);

/* Counts so far. */
struct rp_assess_stats {
    size_t records, accepted, rejected, duplicates, conflicts;
    size_t structural, hallucinated, unsupported, contradictions, unanswerable, judged_poor;
};
void rp_assessor_stats(const struct rp_assessor *a, struct rp_assess_stats *out);
/* Bytes held by the dedup indexes, ids and claims. */
size_t rp_assessor_memory(const struct rp_assessor *a);

/* Writes the consistency conflicts found so far, one JSON object per line:
 * {"identifier":..,"attribute":"default"|"range","values":[{"value":..,
 * "id":..,"source":..},..]}. Returns the number written. */
size_t rp_assessor_write_conflicts(const struct rp_assessor *a, FILE *f);

/* The quality object written with each record (jansson json_t *, new
 * reference): {"score","verdict","reasons":[..],"checks":{..}}. */
void *rp_quality_to_json(const struct rp_quality *q);

#endif /* RANPIPE_ASSESS_H */
