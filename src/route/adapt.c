/*
 * adapt.c - per-tier pass rate and cost by complexity, learned from
 * history (see include/ranpipe/adapt.h for the model and the choice rule).
 *
 * Each tier holds its per-bin sums and the fitted curve derived from them;
 * observe() refits the one tier it touched (O(n_bins), no allocation), so
 * the const readers only interpolate.
 */
#include "ranpipe/adapt.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bin {
    double n;    /* observations (a count, kept as double for the sums) */
    double pass; /* sum of pass values */
    double cost; /* sum of costs */
};

struct tier {
    struct bin *bins;
    uint64_t n;    /* observations */
    double *p_fit; /* fitted pass rate per bin: non-increasing */
    double *c_fit; /* fitted cost per bin */
    double mean_cost;
};

struct rp_adapt {
    struct rp_adapt_params p;
    int n_tiers;
    struct tier *tiers;
    double *scratch_v, *scratch_w; /* PAV blocks: value, weight */
    int *scratch_len;              /* PAV blocks: bins pooled */
};

struct rp_adapt_params rp_adapt_default_params(void)
{
    return (struct rp_adapt_params){
        .n_bins = 20,
        .prior_pass = 0.5,
        .prior_strength = 20.0,
        .bin_strength = 4.0,
        .min_observations = 50,
    };
}

const char *rp_adapt_why_name(enum rp_adapt_why why)
{
    switch (why) {
    case RP_ADAPT_WHY_STATIC:
        return "static";
    case RP_ADAPT_WHY_TARGET:
        return "target";
    case RP_ADAPT_WHY_BEST:
        return "best";
    }
    return "?";
}

static enum rp_err check_params(const struct rp_adapt_params *p, struct rp_error *err)
{
    if (p->n_bins < 1 || p->n_bins > RP_ADAPT_MAX_BINS)
        return rp_error_set(err, RP_ERR_INVAL, "adapt: n_bins %d is not in 1..%d", p->n_bins,
                            RP_ADAPT_MAX_BINS);
    if (!(p->prior_pass >= 0.0 && p->prior_pass <= 1.0))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: prior_pass %g is not in [0, 1]",
                            p->prior_pass);
    /* Both strengths must be positive: they keep every denominator above 0. */
    if (!(p->prior_strength > 0.0 && isfinite(p->prior_strength)))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: prior_strength %g is not positive",
                            p->prior_strength);
    if (!(p->bin_strength > 0.0 && isfinite(p->bin_strength)))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: bin_strength %g is not positive",
                            p->bin_strength);
    return RP_OK;
}

static void fit_tier(struct rp_adapt *a, struct tier *t);

struct rp_adapt *rp_adapt_new(int n_tiers, const struct rp_adapt_params *p, struct rp_error *err)
{
    struct rp_adapt_params params = p ? *p : rp_adapt_default_params();
    if (n_tiers < 1 || n_tiers > RP_ADAPT_MAX_TIERS) {
        rp_error_set(err, RP_ERR_INVAL, "adapt: %d tiers is not in 1..%d", n_tiers,
                     RP_ADAPT_MAX_TIERS);
        return NULL;
    }
    if (check_params(&params, err))
        return NULL;

    struct rp_adapt *a = calloc(1, sizeof(*a));
    if (!a)
        goto nomem;
    a->p = params;
    a->n_tiers = n_tiers;
    size_t nb = (size_t)params.n_bins;
    a->tiers = calloc((size_t)n_tiers, sizeof(*a->tiers));
    a->scratch_v = calloc(nb, sizeof(double));
    a->scratch_w = calloc(nb, sizeof(double));
    a->scratch_len = calloc(nb, sizeof(int));
    if (!a->tiers || !a->scratch_v || !a->scratch_w || !a->scratch_len)
        goto nomem;
    for (int i = 0; i < n_tiers; i++) {
        struct tier *t = &a->tiers[i];
        t->bins = calloc(nb, sizeof(*t->bins));
        t->p_fit = calloc(nb, sizeof(double));
        t->c_fit = calloc(nb, sizeof(double));
        if (!t->bins || !t->p_fit || !t->c_fit)
            goto nomem;
        fit_tier(a, t);
    }
    return a;

nomem:
    rp_adapt_free(a);
    rp_error_set(err, RP_ERR_NOMEM, "adapt: out of memory");
    return NULL;
}

void rp_adapt_free(struct rp_adapt *a)
{
    if (!a)
        return;
    if (a->tiers) {
        for (int i = 0; i < a->n_tiers; i++) {
            free(a->tiers[i].bins);
            free(a->tiers[i].p_fit);
            free(a->tiers[i].c_fit);
        }
    }
    free(a->tiers);
    free(a->scratch_v);
    free(a->scratch_w);
    free(a->scratch_len);
    free(a);
}

int rp_adapt_n_tiers(const struct rp_adapt *a)
{
    return a->n_tiers;
}

uint64_t rp_adapt_observations(const struct rp_adapt *a, int tier)
{
    if (tier < 0 || tier >= a->n_tiers)
        return 0;
    return a->tiers[tier].n;
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* The bin holding complexity c in [0, 1]; 1 belongs to the last bin. */
static int bin_of(const struct rp_adapt *a, double c)
{
    int b = (int)(c * a->p.n_bins);
    return b >= a->p.n_bins ? a->p.n_bins - 1 : b;
}

/* Refits tier t from its sums: shrinkage to the tier mean, then pool-
 * adjacent-violators for a non-increasing pass curve. Every division has a
 * denominator of at least one of the (positive) strengths. */
static void fit_tier(struct rp_adapt *a, struct tier *t)
{
    int nb = a->p.n_bins;
    double N = 0.0, S = 0.0, C = 0.0;
    for (int b = 0; b < nb; b++) {
        N += t->bins[b].n;
        S += t->bins[b].pass;
        C += t->bins[b].cost;
    }
    double m = (S + a->p.prior_strength * a->p.prior_pass) / (N + a->p.prior_strength);
    t->mean_cost = N > 0.0 ? C / N : 0.0;

    /* PAV: blocks of pooled bins on a stack; merge while the new block's
     * value exceeds the previous block's (the curve must not rise). */
    double *v = a->scratch_v, *w = a->scratch_w;
    int *len = a->scratch_len;
    int top = 0;
    for (int b = 0; b < nb; b++) {
        const struct bin *x = &t->bins[b];
        double k = a->p.bin_strength;
        v[top] = (x->pass + k * m) / (x->n + k);
        w[top] = x->n + k;
        len[top] = 1;
        top++;
        while (top > 1 && v[top - 1] > v[top - 2]) {
            double ww = w[top - 2] + w[top - 1];
            v[top - 2] = (v[top - 2] * w[top - 2] + v[top - 1] * w[top - 1]) / ww;
            w[top - 2] = ww;
            len[top - 2] += len[top - 1];
            top--;
        }
    }
    int b = 0;
    for (int i = 0; i < top; i++)
        for (int j = 0; j < len[i]; j++)
            t->p_fit[b++] = clamp01(v[i]);

    for (b = 0; b < nb; b++) {
        const struct bin *x = &t->bins[b];
        double k = a->p.bin_strength;
        t->c_fit[b] = (x->cost + k * t->mean_cost) / (x->n + k);
    }
}

enum rp_err rp_adapt_observe(struct rp_adapt *a, int tier, double complexity, double passed,
                             double cost, struct rp_error *err)
{
    if (tier < 0 || tier >= a->n_tiers)
        return rp_error_set(err, RP_ERR_INVAL, "adapt: tier %d is not in 0..%d", tier,
                            a->n_tiers - 1);
    if (isnan(complexity))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: complexity is not a number");
    if (!(passed >= 0.0 && passed <= 1.0))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: pass value %g is not in [0, 1]", passed);
    if (!(cost >= 0.0 && isfinite(cost)))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: cost %g is not finite and >= 0", cost);

    struct tier *t = &a->tiers[tier];
    struct bin *x = &t->bins[bin_of(a, clamp01(complexity))];
    x->n += 1.0;
    x->pass += passed;
    x->cost += cost;
    t->n++;
    fit_tier(a, t);
    return RP_OK;
}

/* The curve y (one value per bin) at complexity c: linear between bin
 * centres, flat beyond the outer ones. */
static double interp(const struct rp_adapt *a, const double *y, double c)
{
    int nb = a->p.n_bins;
    double pos = c * nb - 0.5; /* in units of bins, 0 at the first centre */
    if (pos <= 0.0)
        return y[0];
    if (pos >= nb - 1)
        return y[nb - 1];
    int i = (int)pos;
    double f = pos - i;
    return y[i] + (y[i + 1] - y[i]) * f;
}

static double predict_pass(const struct rp_adapt *a, int tier, double c)
{
    return clamp01(interp(a, a->tiers[tier].p_fit, clamp01(c)));
}

static double predict_cost(const struct rp_adapt *a, int tier, double c)
{
    return a->tiers[tier].c_fit[bin_of(a, clamp01(c))];
}

enum rp_err rp_adapt_predict(const struct rp_adapt *a, int tier, double complexity, double *p_pass,
                             double *cost, struct rp_error *err)
{
    if (tier < 0 || tier >= a->n_tiers)
        return rp_error_set(err, RP_ERR_INVAL, "adapt: tier %d is not in 0..%d", tier,
                            a->n_tiers - 1);
    if (isnan(complexity))
        return rp_error_set(err, RP_ERR_INVAL, "adapt: complexity is not a number");
    if (p_pass)
        *p_pass = predict_pass(a, tier, complexity);
    if (cost)
        *cost = predict_cost(a, tier, complexity);
    return RP_OK;
}

int rp_adapt_choose(const struct rp_adapt *a, double complexity, double target_pass_rate,
                    uint32_t allowed, int static_choice, enum rp_adapt_why *why)
{
    enum rp_adapt_why dummy;
    if (!why)
        why = &dummy;
    *why = RP_ADAPT_WHY_STATIC;
    if (isnan(complexity) || isnan(target_pass_rate))
        return static_choice;

    bool static_unknown = static_choice >= 0 && static_choice < a->n_tiers &&
                          (allowed >> static_choice & 1u) &&
                          a->tiers[static_choice].n < a->p.min_observations;
    int cheapest = -1, best = -1;
    double cheapest_cost = 0.0, best_p = 0.0;
    for (int i = 0; i < a->n_tiers; i++) {
        if (!(allowed >> i & 1u) || a->tiers[i].n < a->p.min_observations)
            continue;
        double p = predict_pass(a, i, complexity);
        if (best < 0 || p > best_p) {
            best = i;
            best_p = p;
        }
        if (p >= target_pass_rate) {
            double c = predict_cost(a, i, complexity);
            if (cheapest < 0 || c < cheapest_cost) {
                cheapest = i;
                cheapest_cost = c;
            }
        }
    }
    if (best < 0)
        return static_choice; /* no known tier */
    if (cheapest >= 0) {
        if (static_unknown && static_choice < cheapest)
            return static_choice; /* let the cheaper tier gather history */
        *why = RP_ADAPT_WHY_TARGET;
        return cheapest;
    }
    if (static_unknown)
        return static_choice;
    *why = RP_ADAPT_WHY_BEST;
    return best;
}

/* The highest c in [0, 1] with the fitted curve >= target (the curve is
 * non-increasing and piecewise linear between bin centres). */
static double threshold(const struct rp_adapt *a, int tier, double target)
{
    const double *y = a->tiers[tier].p_fit;
    int nb = a->p.n_bins;
    if (!(y[0] >= target))
        return -1.0;
    if (y[nb - 1] >= target)
        return 1.0;
    /* First bin whose value falls below target; the crossing lies between
     * its centre and the previous one (y[0] >= target, so b >= 1). */
    int b = 1;
    while (y[b] >= target)
        b++;
    double c0 = (b - 0.5) / nb, c1 = (b + 0.5) / nb;
    double d = y[b - 1] - y[b]; /* > 0 */
    double f = (y[b - 1] - target) / d;
    return clamp01(c0 + (c1 - c0) * f);
}

void rp_adapt_thresholds(const struct rp_adapt *a, double target_pass_rate, double *out, int n)
{
    for (int i = 0; i < n && i < a->n_tiers; i++)
        out[i] = isnan(target_pass_rate) ? -1.0 : threshold(a, i, target_pass_rate);
}

/* ---- persistence ---- */

#define ADAPT_FORMAT "ranpipe-adapt"
#define ADAPT_VERSION 1

enum rp_err rp_adapt_save(const struct rp_adapt *a, FILE *f, struct rp_error *err)
{
    enum rp_err rc = RP_OK;
    json_t *root = json_object(), *tiers = json_array();
    if (!root || !tiers) {
        json_decref(tiers);
        rc = rp_error_set(err, RP_ERR_NOMEM, "adapt: out of memory");
        goto out;
    }
    json_object_set_new(root, "format", json_string(ADAPT_FORMAT));
    json_object_set_new(root, "version", json_integer(ADAPT_VERSION));
    json_object_set_new(root, "n_bins", json_integer(a->p.n_bins));
    json_object_set_new(root, "tiers", tiers);
    for (int i = 0; i < a->n_tiers; i++) {
        const struct tier *t = &a->tiers[i];
        /* Each bin as [n, pass, cost]; empty bins too, so positions are bins. */
        json_t *bins = json_array();
        if (!bins || json_array_append_new(tiers, bins)) {
            rc = rp_error_set(err, RP_ERR_NOMEM, "adapt: out of memory");
            goto out;
        }
        for (int b = 0; b < a->p.n_bins; b++) {
            json_t *e = json_pack("[f,f,f]", t->bins[b].n, t->bins[b].pass, t->bins[b].cost);
            if (!e || json_array_append_new(bins, e)) {
                rc = rp_error_set(err, RP_ERR_NOMEM, "adapt: out of memory");
                goto out;
            }
        }
    }
    /* 17 significant digits: doubles read back bit for bit. */
    if (json_dumpf(root, f, JSON_COMPACT | JSON_REAL_PRECISION(17)) || fputc('\n', f) == EOF ||
        fflush(f)) {
        rc = rp_error_set(err, RP_ERR_IO, "adapt: cannot write the model");
        goto out;
    }
out:
    json_decref(root);
    return rc;
}

struct rp_adapt *rp_adapt_load(FILE *f, const struct rp_adapt_params *p, struct rp_error *err)
{
    struct rp_adapt *a = NULL;
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root) {
        rp_error_set(err, RP_ERR_PARSE, "adapt: model: %s (line %d)", jerr.text, jerr.line);
        goto out;
    }
    const char *format = json_string_value(json_object_get(root, "format"));
    json_t *version = json_object_get(root, "version");
    json_t *nbins = json_object_get(root, "n_bins");
    json_t *tiers = json_object_get(root, "tiers");
    if (!format || strcmp(format, ADAPT_FORMAT) != 0 || !json_is_integer(version) ||
        json_integer_value(version) != ADAPT_VERSION || !json_is_integer(nbins) ||
        !json_is_array(tiers)) {
        rp_error_set(err, RP_ERR_PARSE, "adapt: model: not a '%s' document of version %d",
                     ADAPT_FORMAT, ADAPT_VERSION);
        goto out;
    }
    json_int_t nb = json_integer_value(nbins);
    size_t nt = json_array_size(tiers);
    if (nb < 1 || nb > RP_ADAPT_MAX_BINS || nt < 1 || nt > RP_ADAPT_MAX_TIERS) {
        rp_error_set(err, RP_ERR_PARSE, "adapt: model: %lld bins, %zu tiers out of range",
                     (long long)nb, nt);
        goto out;
    }
    struct rp_adapt_params params = p ? *p : rp_adapt_default_params();
    params.n_bins = (int)nb;
    a = rp_adapt_new((int)nt, &params, err);
    if (!a)
        goto out;
    for (size_t i = 0; i < nt; i++) {
        json_t *bins = json_array_get(tiers, i);
        struct tier *t = &a->tiers[i];
        if (!json_is_array(bins) || json_array_size(bins) != (size_t)nb) {
            rp_error_set(err, RP_ERR_PARSE, "adapt: model: tier %zu does not have %lld bins", i,
                         (long long)nb);
            goto fail;
        }
        double total = 0.0;
        for (json_int_t b = 0; b < nb; b++) {
            json_t *e = json_array_get(bins, (size_t)b);
            double n, pass, cost;
            if (json_unpack(e, "[FFF!]", &n, &pass, &cost) || !(n >= 0.0 && n <= 1e15) ||
                n != floor(n) || !(pass >= 0.0 && pass <= n) || !(cost >= 0.0 && isfinite(cost))) {
                rp_error_set(err, RP_ERR_PARSE, "adapt: model: tier %zu bin %lld is malformed", i,
                             (long long)b);
                goto fail;
            }
            t->bins[b] = (struct bin){.n = n, .pass = pass, .cost = cost};
            total += n;
        }
        t->n = (uint64_t)total;
        fit_tier(a, t);
    }
    goto out;
fail:
    rp_adapt_free(a);
    a = NULL;
out:
    json_decref(root);
    return a;
}

/* ---- description ---- */

void rp_adapt_describe(const struct rp_adapt *a, const char *const *names, double target_pass_rate,
                       FILE *f)
{
    static const double at[] = {0.0, 0.25, 0.5, 0.75, 1.0};
    fprintf(f, "%-12s %8s  %-29s %12s %9s\n", "tier", "obs", "P(pass) at c=0 .25 .5 .75 1",
            "mean cost", "c max");
    for (int i = 0; i < a->n_tiers; i++) {
        const char *name = names && names[i] ? names[i] : NULL;
        char fallback[24];
        if (!name) {
            snprintf(fallback, sizeof(fallback), "tier %d", i);
            name = fallback;
        }
        fprintf(f, "%-12s %8llu ", name, (unsigned long long)a->tiers[i].n);
        for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++)
            fprintf(f, " %5.2f", predict_pass(a, i, at[k]));
        fprintf(f, " %12.4g", a->tiers[i].mean_cost);
        double th = threshold(a, i, target_pass_rate);
        if (th < 0.0)
            fprintf(f, " %9s", "none");
        else
            fprintf(f, " %9.2f", th);
        if (a->tiers[i].n < a->p.min_observations)
            fprintf(f, "  (under %llu observations: static routing)",
                    (unsigned long long)a->p.min_observations);
        fputc('\n', f);
    }
    fprintf(f, "target pass rate %.2f; c max: highest complexity predicted to reach it\n",
            target_pass_rate);
}
