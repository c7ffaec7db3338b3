/*
 * judge.h - the LLM judge: an LLM tier rates a question/answer pair against
 * the context it was generated from, for the assessor (assess.h).
 *
 * The judge asks the tier's model, as a strict telecom reviewer, for four
 * scores on a 1-5 rubric and a one-sentence reason, as one JSON object:
 *
 *   accuracy    every fact and value in the answer matches the context
 *   relevance   the answer answers the question
 *   clarity     the pair reads clearly and stands on its own
 *   usefulness  the pair helps train a RAN engineering assistant
 *
 * The reply is constrained (a GBNF grammar for llama tiers, a JSON Schema in
 * response_format for openai tiers) and is then read by rp_judge_parse(),
 * which also copes with models or servers that ignore the constraint:
 * fences, <think> blocks, prose, strings such as "4/5", other scales, and
 * plain "Accuracy: 4/5" lines. A score s on a scale whose top is T counts
 * as s / T, so the rubric's 4 is 0.8, the same as "4/5", "8/10" and "80%";
 * the overall score is the mean of the rubric scores found. See
 * docs/quality.md, "The LLM judge".
 *
 * A judge owns its own backend (llama: one worker process decoding one
 * sequence; openai: the tier's endpoints), separate from any router.
 *
 * Thread contract: rp_judge_parse() is reentrant. A struct rp_judge serves
 * one rate call at a time: the caller serialises rp_judge_rate() /
 * rp_judge_rate_scores() / rp_judge_fn_adapter() on one judge (the
 * assessor does, being single-threaded). rp_judge_new() and rp_judge_free()
 * are called by the owner with no rate call in progress.
 */
#ifndef RANPIPE_JUDGE_H
#define RANPIPE_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/config.h"
#include "ranpipe/error.h"

/* Names the rubric prompt, grammar and schema; changes when any of them
 * does, so a cache of judgements can key on it. */
#define RP_JUDGE_VERSION "judge-v1"

/* What the judge said about one pair. */
struct rp_judge_scores {
    double accuracy, relevance, clarity, usefulness; /* each in [0,1], < 0 when missing */
    double overall;                                  /* in [0,1] */
    char reason[256]; /* the judge's explanation (possibly empty), NUL-terminated, one line */
};

/* Reads a judge's reply text[0..len) (borrowed) into *out.
 *
 * Where the scores are looked for, in order:
 *   1. the first JSON value in the text (rp__json_extract: <think> blocks,
 *      ``` fences and prose around it are skipped): keys accuracy
 *      (correctness, faithfulness), relevance (relevancy), clarity,
 *      usefulness (helpfulness, utility) and overall (score, rating, total),
 *      compared without case, spaces, '_' or '-'; also inside one nested
 *      object ({"scores": {...}}), as {"accuracy": {"score": 4}}, and as a
 *      list of {"criterion": "accuracy", "score": 4}. The reason comes from
 *      reason, reasoning, explanation, justification, rationale, comment or
 *      feedback;
 *   2. when that finds no score (no JSON, JSON cut off, JSON without these
 *      keys), the text outside <think> blocks, scanned for a label word
 *      followed on the same line by a number: "Accuracy: 4/5",
 *      "**Relevance** - 5", "Clarity (1-5): 4", "Overall score: 8/10",
 *      "Score: 80%". Separators (: = - * _ | " ' and dashes), the filler
 *      words "score", "rating" and "is", and a parenthesised scale are
 *      skipped; a scale written there ("(1-10)", "(out of 10)") is the
 *      value's denominator. A "Reason:" (explanation, justification,
 *      rationale) line gives the reason.
 *
 * Values: JSON numbers, or strings and text holding a number, optionally
 * followed by "/D", "out of D" or "%". The rule that normalises them to
 * [0,1]:
 *   - with a denominator D: v / D ("4/5" -> 0.8, "7/10" -> 0.7);
 *   - with "%": v / 100;
 *   - a bare number takes its scale from the bare numbers of the whole
 *     reply: out of 10 when any of them is above 5 ("Accuracy: 8" -> 0.8,
 *     and then "Clarity: 4" -> 0.4 too); fractions (as they are) when none
 *     is above 1 and at least one is written with a decimal point
 *     ("0.75", "1.0"); else the rubric's 1-5, out of 5 ("4" -> 0.8,
 *     "4.5" -> 0.9).
 *   - a value below 0 or above its scale (above 10 for a bare number,
 *     "7/5", "120%") is rejected, not clamped: it says the scale was
 *     misread, so that score counts as missing.
 *
 * out->overall is the mean of the rubric scores found (any of the four);
 * when there is none, the overall value of the reply ("Score: 8/10").
 * Returns RP_OK, or RP_ERR_PARSE with err saying why (no score at all,
 * naming a rejected value when there was one); *out is then zeroed with
 * every score -1. */
enum rp_err rp_judge_parse(const char *text, size_t len, struct rp_judge_scores *out,
                           struct rp_error *err);

struct rp_retry_params;

struct rp_judge_params {
    int max_tokens;    /* reply budget (default 256); the grammar and schema bound the
                        * reason to max_tokens - 96 characters (16..240), so even a reply
                        * that spends one token per character fits */
    uint64_t seed;     /* mixed with a hash of question and answer: each pair gets its own,
                        * reproducible seed (default 0) */
    float temperature; /* sampling temperature (default 0.2: low, so a pair's rating varies
                        * little; the seed makes it reproducible); < 0: the tier's own */
    const struct rp_retry_params *retry; /* openai tiers' retry policy (borrowed during
                                          * rp_judge_new); NULL: the backend's defaults */
};

struct rp_judge_params rp_judge_default_params(void);

struct rp_judge;

/* Starts a backend for tier (a llama or openai tier; borrowed for this call
 * only) and returns a new judge, or NULL with err set: RP_ERR_CONFIG for an
 * extractive tier or a tier without a model / URL, else the backend's
 * error. exe is the ranpipe binary that llama workers run (borrowed; NULL:
 * this process's own), as struct rp_run_params.exe. For a llama tier this
 * waits until the worker has loaded its model (at most 300 s), so a model
 * that cannot load fails here rather than on every pair. p may be NULL for
 * the defaults. The caller frees the judge with rp_judge_free(). */
struct rp_judge *rp_judge_new(const struct rp_tier_config *tier, const char *exe,
                              const struct rp_judge_params *p, struct rp_error *err);

/* Stops the backend and frees the judge; NULL is a no-op. */
void rp_judge_free(struct rp_judge *j);

/* Rates one pair (strings borrowed; NULL counts as empty): builds the
 * rubric prompt, submits one request, waits for it, and parses the reply
 * into *out. The backend's code when the request failed (RP_ERR_BACKEND,
 * or e.g. RP_ERR_CONTEXT for a prompt longer than a llama tier's context;
 * err has the backend's message), RP_ERR_PARSE when the reply held no score (err says why, with
 * an excerpt of the reply), RP_ERR_TOOBIG / RP_ERR_NOMEM when the prompt
 * could not be built. */
enum rp_err rp_judge_rate_scores(struct rp_judge *j, const char *context, const char *question,
                                 const char *answer, struct rp_judge_scores *out,
                                 struct rp_error *err);

/* Rates one pair and returns the overall score in [0,1], or -1 when the
 * judge could not rate it. why (cap bytes, may be NULL when cap is 0)
 * receives one line: the scores and the judge's reason,
 * "accuracy 4/5, relevance 5/5, clarity 4/5, usefulness 3/5: <reason>",
 * or, on failure, what went wrong ("judge 'big': backend failure: ...").
 * Blocks until the tier answers. */
double rp_judge_rate(struct rp_judge *j, const char *context, const char *question,
                     const char *answer, char *why, size_t cap);

/* rp_judge_rate() with the signature of rp_judge_fn (assess.h): ud is the
 * struct rp_judge *. Set rp_assess_params.judge = rp_judge_fn_adapter and
 * .judge_ud = the judge. */
/* The score ranpipe uses: the overall mean, but never above accuracy, so a
 * wrong value (accuracy 2 of 5 = 0.4) rejects the pair however well it
 * reads. < 0 when overall is missing. */
double rp_judge_strict_score(const struct rp_judge_scores *s);
/* Like rp_judge_fn_adapter(), scoring with rp_judge_strict_score(): what
 * `ranpipe run` and `ranpipe assess` use. */
double rp_judge_fn_strict(void *ud, const char *context, const char *question, const char *answer, char *why,
                          size_t cap);
double rp_judge_fn_adapter(void *ud, const char *context, const char *question, const char *answer,
                           char *why, size_t cap);

#endif /* RANPIPE_JUDGE_H */
