/*
 * quality.h - the scorer: checks one question-answer pair against the text
 * it was made from, and explains every rejection.
 *
 * Checks (each gives a sub-score in [0,1]; docs/quality.md has the details):
 *   structure   the question is a question; lengths within bounds; the
 *               answer is not cut off, does not repeat the question, has no
 *               assistant artefacts ("As an AI", "according to the text
 *               provided", markup, JSON fragments) and is in the source's
 *               language; the question is not trivial ("what is the title")
 *   grounding   every technical identifier (camelCase / dotted / snake_case
 *               names, names with digits, counters, MO classes, messages),
 *               every number (with its sign; spec references and product
 *               codes are numbers too) and every acronym in the answer is
 *               found in the context after normalisation; the missing ones
 *               are named in the reasons
 *   support     lexical support of each answer sentence: the share of its
 *               content words (stemmed) that the context contains; the
 *               weakest sentence counts
 *   answerable  the question's identifiers are in the context and most of
 *               its content words too; an answer that says the context does
 *               not give the answer fails here
 *   consistency the answer does not contradict the sentence of the context
 *               it matches best (antonyms such as enabled/disabled,
 *               uplink/downlink, increase/decrease; a negation the context
 *               does not have)
 *   semantic    cosine similarity question<->context and answer<->context
 *               from an embedding model, when the caller supplies them
 *   judge       an LLM judge's rubric score, when the caller supplies it
 * The combined score is the weighted mean of the sub-scores present,
 * multiplied by a factor below 1 for each hard defect (structural defect,
 * hallucinated identifier or number, contradiction, evasive answer). The
 * verdict is "accept" when the score reaches the threshold and no hard
 * defect was found.
 *
 * A context is indexed once (rp_quality_ctx_new) and may score any number
 * of pairs: a chunk's pairs share its index.
 *
 * Thread contract: a context index is read-only after creation and may be
 * shared by threads; rp_quality_assess() is reentrant.
 */
#ifndef RANPIPE_QUALITY_H
#define RANPIPE_QUALITY_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/error.h"

struct rp_quality_params {
    double threshold;          /* accept at or above; default 0.5 */
    size_t question_min_chars; /* default 10 */
    size_t question_max_chars; /* default 400 */
    size_t answer_min_chars;   /* default 2 */
    size_t answer_max_chars;   /* default 3000 */
    double min_support;        /* an answer sentence below this share of supported words is
                                  an ungrounded claim; default 0.6 */
    /* Weights of the combined score (need not sum to 1; absent checks drop out). */
    double w_grounding, w_support, w_answerable, w_semantic, w_judge;
    /* Factor applied once per hard defect (0..1); default 0.5. */
    double hard_factor;
};

struct rp_quality_params rp_quality_default_params(void);

/* Indexes context[0..len) (copied as needed; need not be NUL-terminated).
 * Returns NULL only when out of memory. */
struct rp_quality_ctx *rp_quality_ctx_new(const char *context, size_t len);
void rp_quality_ctx_free(struct rp_quality_ctx *c);

#define RP_QUALITY_MAX_REASONS 24

/* The result of one assessment. The reasons point into text[]; the struct
 * owns everything (no release needed). Copy it with rp_quality_copy(): a
 * plain assignment would leave the copy's reasons pointing into the
 * original. */
struct rp_quality {
    double score;
    bool accept;
    /* Sub-scores in [0,1]; semantic and judge are < 0 when not measured. */
    double structure, grounding, support, answerable, consistency, semantic, judge;
    size_t n_reasons;
    const char *reasons[RP_QUALITY_MAX_REASONS];
    /* The hard defects, by kind (counts): used by reports and tests. */
    unsigned n_structural, n_hallucinated, n_contradictions, n_evasive, n_unsupported, n_unanswerable;
    char text[4096];
};

/* Optional measurements made outside the scorer (pass NULL for none). */
struct rp_quality_extra {
    double semantic_question; /* cosine question<->context, < -1 for none */
    double semantic_answer;   /* cosine answer<->context, < -1 for none */
    double judge;             /* judge score in [0,1], < 0 for none */
    const char *judge_reason; /* the judge's explanation when it rejects, or NULL */
};

/* Scores question/answer (NUL-terminated, borrowed; NULL counts as empty)
 * against the indexed context and fills *out. Never fails. */
void rp_quality_assess(const struct rp_quality_params *p, const struct rp_quality_ctx *ctx,
                       const char *question, const char *answer, const struct rp_quality_extra *extra,
                       struct rp_quality *out);

/* Whether a judge score (>= 0; < 0 means not judged) rejects a pair: below
 * 0.5, a mean rubric rating under 2.5 of 5. */
bool rp_quality_judge_poor(double judge);

/* Copies *src into *dst, the reasons pointing into dst's own text[]. */
void rp_quality_copy(struct rp_quality *dst, const struct rp_quality *src);

/* Appends a reason to q (formatted; truncated to fit). Used by callers that
 * add their own checks (near-duplicates); a reason makes the verdict
 * "reject". */
void rp_quality_add_reason(struct rp_quality *q, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The language the scorer detects in text ("en", "de", "fr", "es", "sv",
 * "it", "pt", "zh", "ja", "ko", "ru", "ar") or "" when unsure. Static. */
const char *rp_quality_language(const char *text, size_t len);

#endif /* RANPIPE_QUALITY_H */
