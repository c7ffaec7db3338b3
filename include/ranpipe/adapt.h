/*
 * adapt.h - adaptive routing: each tier's pass rate and cost as a function
 * of chunk complexity, learned from the run history.
 *
 * The static router (router.h) sends a chunk to the first tier whose
 * max_complexity covers its score. This module learns, from observations
 * (tier, complexity, passed, cost), how often each tier actually yields an
 * accepted pair at each complexity and what it costs, and picks the
 * cheapest tier predicted to reach a target pass rate. It sits beside the
 * router and changes nothing in it; the caller passes the static choice in
 * and gets it back whenever the history is too thin to decide.
 *
 * Model. Complexity [0, 1] is cut into n_bins equal bins. Each tier keeps,
 * per bin, three sums: observations n, passes s (a pass is 0..1: a bool,
 * or the fraction of a chunk's pairs accepted) and cost c. From them:
 *
 *   1. tier mean   m = (S + prior_strength * prior_pass) / (N + prior_strength)
 *                  (S, N: the tier's totals), so a tier with few
 *                  observations stays near prior_pass;
 *   2. bin means   q_b = (s_b + bin_strength * m) / (n_b + bin_strength),
 *                  a Beta posterior per bin whose prior is the tier mean,
 *                  so sparse bins borrow from the whole tier;
 *   3. isotonic    q is made non-increasing in complexity by pool-adjacent-
 *                  violators, weights n_b + bin_strength: a harder chunk is
 *                  assumed never more likely to pass, and where noise says
 *                  otherwise the bins are pooled (the weighted least-squares
 *                  monotone fit);
 *   4. curve       P(pass | c) interpolates linearly between bin centres
 *                  (flat beyond the outer centres), so it is continuous and
 *                  non-increasing.
 *
 * Cost per bin is shrunk the same way toward the tier's mean cost (no
 * monotonicity is imposed) and read at the bin holding c.
 *
 * Why bins and not a logistic regression: a tier's pass rate is often a
 * step (a small model copes up to some complexity, then collapses), which
 * one sigmoid slope fits badly where the threshold matters; bins with
 * Beta priors need no iteration, exp or log, cannot diverge, give NaN-free
 * results for any finite input, and their sufficient statistics are plain
 * sums, so the fit is independent of the order of observations (up to the
 * rounding of summed costs and fractional passes, far below 1e-9) and can
 * be stored and merged trivially.
 *
 * Choice rule (rp_adapt_choose). A tier is "known" when it has at least
 * min_observations observations. Among the allowed tiers:
 *   1. no known tier: the static choice (RP_ADAPT_WHY_STATIC);
 *   2. else the cheapest known tier (predicted cost at c, ties to the lower
 *      index) whose predicted pass rate reaches the target - unless the
 *      static choice is an allowed, unknown tier with a lower index (tiers
 *      are configured cheapest first): then the static choice, so that the
 *      cheaper tier gathers history (RP_ADAPT_WHY_TARGET or _STATIC);
 *   3. no known tier reaches the target: the static choice if it is an
 *      allowed unknown tier (it might), else the known tier with the
 *      highest predicted pass rate, ties to the lower index
 *      (RP_ADAPT_WHY_BEST).
 *
 * Persistence. rp_adapt_save() writes the per-bin sums as a small JSON
 * document (jansson, doubles with 17 significant digits, so a reload
 * predicts identically); rp_adapt_load() reads it back. Since the model is
 * only sums of observations, a history store may instead replay its rows
 * through rp_adapt_observe() in any order and get the same model.
 *
 * Thread contract: an rp_adapt is not locked; rp_adapt_observe() and
 * rp_adapt_free() need exclusive access, the const functions may run
 * concurrently with each other. The fit is refreshed inside observe, so
 * reads do no work beyond interpolation.
 */
#ifndef RANPIPE_ADAPT_H
#define RANPIPE_ADAPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ranpipe/error.h"

/* Tiers are addressed by bit in a uint32_t mask. */
#define RP_ADAPT_MAX_TIERS 32
#define RP_ADAPT_MAX_BINS 1000

struct rp_adapt_params {
    int n_bins;                /* complexity bins over [0, 1]; 20 */
    double prior_pass;         /* pass rate believed before any data; 0.5 */
    double prior_strength;     /* pseudo-observations behind prior_pass, per tier; 20 */
    double bin_strength;       /* pseudo-observations of the tier mean, per bin; 4 */
    uint64_t min_observations; /* below this a tier is "unknown" to choose(); 50 */
};

struct rp_adapt_params rp_adapt_default_params(void);

/* Why rp_adapt_choose() chose its tier. */
enum rp_adapt_why {
    RP_ADAPT_WHY_STATIC, /* too little history: the caller's static choice */
    RP_ADAPT_WHY_TARGET, /* the cheapest tier predicted to reach the target */
    RP_ADAPT_WHY_BEST,   /* none reaches it: the highest predicted pass rate */
};

struct rp_adapt;

/* A model of n_tiers (1..RP_ADAPT_MAX_TIERS) tiers with no observations.
 * p may be NULL for the defaults. Returns new (free with rp_adapt_free),
 * or NULL with err set (RP_ERR_INVAL for bad params, RP_ERR_NOMEM). */
struct rp_adapt *rp_adapt_new(int n_tiers, const struct rp_adapt_params *p, struct rp_error *err);
/* Frees a; NULL is a no-op. */
void rp_adapt_free(struct rp_adapt *a);

int rp_adapt_n_tiers(const struct rp_adapt *a);
/* Observations recorded for tier (0 if tier is out of range). */
uint64_t rp_adapt_observations(const struct rp_adapt *a, int tier);

/* Records one chunk generated on tier: its complexity (clamped to [0, 1]),
 * passed in [0, 1] (1/0 for a bool, or the fraction accepted) and its cost
 * (>= 0; seconds or tokens, but the same unit for every tier), and refits
 * that tier. RP_ERR_INVAL (model unchanged) for a tier out of range or a
 * non-finite or out-of-range value. */
enum rp_err rp_adapt_observe(struct rp_adapt *a, int tier, double complexity, double passed,
                             double cost, struct rp_error *err);

/* The fitted pass rate and cost of tier at complexity (clamped to [0, 1]);
 * either out pointer may be NULL. A tier with no data predicts prior_pass
 * and cost 0. RP_ERR_INVAL for a tier out of range or a NaN complexity. */
enum rp_err rp_adapt_predict(const struct rp_adapt *a, int tier, double complexity, double *p_pass,
                             double *cost, struct rp_error *err);

/* The tier for a chunk of this complexity by the rule in the file comment:
 * allowed is a mask of candidate tiers (bit i: tier i), static_choice the
 * static router's pick (returned as is, even -1, when history cannot
 * decide). why (may be NULL) says which branch decided. */
int rp_adapt_choose(const struct rp_adapt *a, double complexity, double target_pass_rate,
                    uint32_t allowed, int static_choice, enum rp_adapt_why *why);

/* The learned equivalent of each tier's max_complexity: out[i] (for the
 * first n tiers) is the highest complexity at which tier i's fitted pass
 * rate still reaches target, 1 if it reaches it everywhere, -1 if nowhere.
 * Computed for every tier whatever its number of observations; for display. */
void rp_adapt_thresholds(const struct rp_adapt *a, double target_pass_rate, double *out, int n);

/* Writes the model's observations as one JSON document (plus a newline) to
 * f (borrowed). RP_ERR_IO if writing fails. */
enum rp_err rp_adapt_save(const struct rp_adapt *a, FILE *f, struct rp_error *err);
/* Reads a document written by rp_adapt_save() from f (borrowed). The tier
 * and bin counts come from the document; the other fitting params from p
 * (NULL: defaults), so a changed configuration applies to old history.
 * Returns new, or NULL with err set (RP_ERR_PARSE for a malformed or
 * inconsistent document). */
struct rp_adapt *rp_adapt_load(FILE *f, const struct rp_adapt_params *p, struct rp_error *err);

/* Prints, per tier, the observations, the fitted pass rate at complexity
 * 0, 0.25, 0.5, 0.75 and 1, the mean cost and the learned threshold for
 * target, as an aligned table for `ranpipe history`. names (borrowed; may
 * be NULL, as may any entry) holds n_tiers tier names. */
void rp_adapt_describe(const struct rp_adapt *a, const char *const *names, double target_pass_rate,
                       FILE *f);

const char *rp_adapt_why_name(enum rp_adapt_why why);

struct rp_store;

/* Fits a model of n_tiers tiers from every history row of the store s
 * (borrowed): one observation per attempt, passed when it gave at least
 * one accepted pair, costing its latency in seconds. Rows of tiers >=
 * n_tiers are skipped and counted in *skipped (may be NULL). Returns a new
 * model, or NULL with err set. */
struct rp_adapt *rp_adapt_from_store(struct rp_store *s, int n_tiers, const struct rp_adapt_params *p,
                                     size_t *skipped, struct rp_error *err);

#endif /* RANPIPE_ADAPT_H */
