/*
 * test_adapt.c - the adaptive routing model: learning a small tier's
 * complexity limit from synthetic history, the static fallback, the prior,
 * numeric safety, persistence, determinism and order independence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/adapt.h"

enum { EXTRACTIVE, SMALL, MEDIUM, LARGE, N_TIERS };
static const char *const names[N_TIERS] = {"extractive", "small", "medium", "large"};

/* splitmix64: a fixed, portable sequence so every run sees the same history. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

struct obs {
    int tier;
    double c, pass, cost;
};

/* The history: small passes 95% below complexity 0.6 and 10% above,
 * costs about 1; medium passes 90% everywhere and costs about 5. */
static size_t step_history(struct obs *o, size_t max)
{
    uint64_t s = 42;
    size_t n = 0;
    for (int i = 0; i < 2000 && n < max; i++) {
        double c = rng_unit(&s);
        double pr = c < 0.6 ? 0.95 : 0.10;
        o[n++] = (struct obs){SMALL, c, rng_unit(&s) < pr ? 1.0 : 0.0, 0.9 + 0.2 * rng_unit(&s)};
    }
    for (int i = 0; i < 1000 && n < max; i++) {
        double c = rng_unit(&s);
        o[n++] = (struct obs){MEDIUM, c, rng_unit(&s) < 0.9 ? 1.0 : 0.0, 4.5 + rng_unit(&s)};
    }
    return n;
}

static struct rp_adapt *fit(const struct obs *o, size_t n, const size_t *order)
{
    struct rp_error err;
    struct rp_adapt *a = rp_adapt_new(N_TIERS, NULL, &err);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++) {
        const struct obs *x = &o[order ? order[i] : i];
        assert_int_equal(rp_adapt_observe(a, x->tier, x->c, x->pass, x->cost, &err), RP_OK);
    }
    return a;
}

static double pass_at(const struct rp_adapt *a, int tier, double c)
{
    double p = -1.0;
    assert_int_equal(rp_adapt_predict(a, tier, c, &p, NULL, NULL), RP_OK);
    return p;
}

static struct obs hist[3000];

static void test_learns_small_tier_limit(void **state)
{
    (void)state;
    size_t n = step_history(hist, 3000);
    struct rp_adapt *a = fit(hist, n, NULL);
    uint32_t allowed = 1u << SMALL | 1u << MEDIUM;
    enum rp_adapt_why why;

    /* A static configuration that trusts small up to 0.9 picks small for
     * both; history says otherwise for 0.8. */
    assert_int_equal(rp_adapt_choose(a, 0.3, 0.8, allowed, SMALL, &why), SMALL);
    assert_int_equal(why, RP_ADAPT_WHY_TARGET);
    assert_int_equal(rp_adapt_choose(a, 0.8, 0.8, allowed, SMALL, &why), MEDIUM);
    assert_int_equal(why, RP_ADAPT_WHY_TARGET);

    double th[N_TIERS];
    rp_adapt_thresholds(a, 0.8, th, N_TIERS);
    assert_true(fabs(th[SMALL] - 0.6) <= 0.1);
    assert_true(th[MEDIUM] == 1.0);

    /* Unobserved tiers sit at the prior (0.5): never reaching 0.8. */
    assert_true(th[EXTRACTIVE] == -1.0);

    double p, cost_s, cost_m;
    assert_int_equal(rp_adapt_predict(a, SMALL, 0.3, &p, &cost_s, NULL), RP_OK);
    assert_true(p > 0.85);
    assert_int_equal(rp_adapt_predict(a, SMALL, 0.8, &p, NULL, NULL), RP_OK);
    assert_true(p < 0.3);
    assert_int_equal(rp_adapt_predict(a, MEDIUM, 0.3, &p, &cost_m, NULL), RP_OK);
    assert_true(p > 0.8 && p < 1.0);
    assert_true(cost_m > 4.0 * cost_s);

    /* A target that nobody reaches: the highest predicted pass rate. */
    assert_int_equal(rp_adapt_choose(a, 0.3, 0.99, allowed, SMALL, &why), SMALL);
    assert_int_equal(why, RP_ADAPT_WHY_BEST);
    assert_int_equal(rp_adapt_choose(a, 0.9, 0.99, allowed, SMALL, &why), MEDIUM);
    assert_int_equal(why, RP_ADAPT_WHY_BEST);

    /* The curve is non-increasing everywhere. */
    double prev = 2.0;
    for (int i = 0; i <= 1000; i++) {
        double q = pass_at(a, SMALL, i / 1000.0);
        assert_true(q <= prev + 1e-15);
        prev = q;
    }

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    rp_adapt_describe(a, names, 0.8, f);
    fclose(f);
    fputs(buf, stdout);
    assert_non_null(strstr(buf, "small"));
    assert_non_null(strstr(buf, "static routing")); /* extractive, large: no data */
    free(buf);
    rp_adapt_free(a);
}

static void test_no_data_falls_back_to_static(void **state)
{
    (void)state;
    struct rp_adapt *a = rp_adapt_new(N_TIERS, NULL, NULL);
    assert_non_null(a);
    enum rp_adapt_why why = RP_ADAPT_WHY_BEST;
    assert_int_equal(rp_adapt_choose(a, 0.5, 0.8, 0xF, MEDIUM, &why), MEDIUM);
    assert_int_equal(why, RP_ADAPT_WHY_STATIC);
    assert_int_equal(rp_adapt_choose(a, 0.5, 0.8, 0xF, -1, &why), -1);
    assert_int_equal(why, RP_ADAPT_WHY_STATIC);
    double p, cost;
    assert_int_equal(rp_adapt_predict(a, LARGE, 0.7, &p, &cost, NULL), RP_OK);
    assert_true(p == 0.5 && cost == 0.0);

    /* Known tiers only outside the allowed mask: still static. */
    size_t n = step_history(hist, 3000);
    rp_adapt_free(a);
    a = fit(hist, n, NULL);
    assert_int_equal(rp_adapt_choose(a, 0.8, 0.8, 1u << LARGE, LARGE, &why), LARGE);
    assert_int_equal(why, RP_ADAPT_WHY_STATIC);
    /* A cheaper (lower) unknown static choice gathers history first. */
    assert_int_equal(rp_adapt_choose(a, 0.3, 0.8, 0xF, EXTRACTIVE, &why), EXTRACTIVE);
    assert_int_equal(why, RP_ADAPT_WHY_STATIC);
    /* An unknown tier above the learned pick does not displace it. */
    assert_int_equal(rp_adapt_choose(a, 0.3, 0.8, 0xF, LARGE, &why), SMALL);
    assert_int_equal(why, RP_ADAPT_WHY_TARGET);
    rp_adapt_free(a);
}

static void test_few_observations_stay_near_prior(void **state)
{
    (void)state;
    struct rp_adapt_params p = rp_adapt_default_params();
    struct rp_adapt *a = rp_adapt_new(2, &p, NULL);
    assert_non_null(a);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rp_adapt_observe(a, 0, 0.5, 0.0, 1.0, NULL), RP_OK);
    for (int i = 0; i <= 10; i++)
        assert_true(fabs(pass_at(a, 0, i / 10.0) - p.prior_pass) < 0.15);
    assert_true(pass_at(a, 1, 0.5) == p.prior_pass);
    enum rp_adapt_why why;
    assert_int_equal(rp_adapt_choose(a, 0.5, 0.4, 3u, 1, &why), 1);
    assert_int_equal(why, RP_ADAPT_WHY_STATIC);
    rp_adapt_free(a);
}

static void test_noisy_data_stays_finite(void **state)
{
    (void)state;
    struct rp_adapt *a = rp_adapt_new(2, NULL, NULL);
    assert_non_null(a);
    uint64_t s = 7;
    for (int i = 0; i < 5000; i++) {
        double c = rng_unit(&s);
        /* monotone trend plus heavy noise, fractional passes */
        double pr = 0.9 - 0.6 * c + 0.3 * (rng_unit(&s) - 0.5);
        double frac = pr < 0 ? 0 : pr > 1 ? 1 : pr;
        assert_int_equal(rp_adapt_observe(a, 0, c, frac, rng_unit(&s) * 1e6, NULL), RP_OK);
        /* alternating all-pass / all-fail in neighbouring bins */
        double c2 = (double)(i % 20) / 20.0 + 0.01;
        assert_int_equal(rp_adapt_observe(a, 1, c2, (i % 2) ? 1.0 : 0.0, 0.0, NULL), RP_OK);
    }
    /* out-of-range complexities are clamped, huge costs accepted */
    assert_int_equal(rp_adapt_observe(a, 0, -INFINITY, 1.0, 1e300, NULL), RP_OK);
    assert_int_equal(rp_adapt_observe(a, 0, INFINITY, 0.0, 1e300, NULL), RP_OK);
    assert_int_equal(rp_adapt_observe(a, 0, 7.0, 0.0, 0.0, NULL), RP_OK);
    /* bad input is refused and changes nothing */
    uint64_t before = rp_adapt_observations(a, 0);
    struct rp_error err;
    assert_int_equal(rp_adapt_observe(a, 0, NAN, 1.0, 1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, 0, 0.5, NAN, 1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, 0, 0.5, 1.5, 1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, 0, 0.5, 1.0, -1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, 0, 0.5, 1.0, INFINITY, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, 2, 0.5, 1.0, 1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observe(a, -1, 0.5, 1.0, 1.0, &err), RP_ERR_INVAL);
    assert_int_equal(rp_adapt_observations(a, 0), before);
    assert_int_equal(rp_adapt_predict(a, 5, 0.5, NULL, NULL, &err), RP_ERR_INVAL);

    for (int t = 0; t < 2; t++) {
        double prev = 2.0;
        for (int i = -10; i <= 1010; i++) {
            double p, cost;
            assert_int_equal(rp_adapt_predict(a, t, i / 1000.0, &p, &cost, NULL), RP_OK);
            assert_true(isfinite(p) && p >= 0.0 && p <= 1.0);
            assert_true(isfinite(cost) && cost >= 0.0);
            assert_true(p <= prev + 1e-15);
            prev = p;
        }
    }
    /* the trend is recovered roughly: about 0.9 at 0, 0.3 at 1 */
    assert_true(fabs(pass_at(a, 0, 0.0) - 0.9) < 0.1);
    assert_true(fabs(pass_at(a, 0, 1.0) - 0.3) < 0.1);
    double th[2];
    rp_adapt_thresholds(a, 0.6, th, 2);
    assert_true(isfinite(th[0]) && isfinite(th[1]));
    assert_true(fabs(th[0] - 0.5) < 0.1);
    rp_adapt_free(a);
}

static char *save_string(const struct rp_adapt *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct rp_error err;
    assert_int_equal(rp_adapt_save(a, f, &err), RP_OK);
    fclose(f);
    return buf;
}

static void assert_same_predictions(const struct rp_adapt *a, const struct rp_adapt *b, double tol)
{
    assert_int_equal(rp_adapt_n_tiers(a), rp_adapt_n_tiers(b));
    for (int t = 0; t < rp_adapt_n_tiers(a); t++) {
        assert_int_equal(rp_adapt_observations(a, t), rp_adapt_observations(b, t));
        for (int i = 0; i <= 200; i++) {
            double pa, ca, pb, cb;
            assert_int_equal(rp_adapt_predict(a, t, i / 200.0, &pa, &ca, NULL), RP_OK);
            assert_int_equal(rp_adapt_predict(b, t, i / 200.0, &pb, &cb, NULL), RP_OK);
            if (tol == 0.0) {
                assert_true(pa == pb && ca == cb);
            } else {
                assert_true(fabs(pa - pb) <= tol);
                assert_true(fabs(ca - cb) <= tol * (1.0 + fabs(ca)));
            }
        }
    }
    double ta[N_TIERS], tb[N_TIERS];
    rp_adapt_thresholds(a, 0.8, ta, N_TIERS);
    rp_adapt_thresholds(b, 0.8, tb, N_TIERS);
    for (int t = 0; t < rp_adapt_n_tiers(a); t++)
        assert_true(fabs(ta[t] - tb[t]) <= tol);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    size_t n = step_history(hist, 3000);
    struct rp_adapt *a = fit(hist, n, NULL);
    /* fractional passes and costs that need all 17 digits */
    assert_int_equal(rp_adapt_observe(a, LARGE, 0.123456789, 1.0 / 3.0, 0.1 + 0.2, NULL), RP_OK);
    char *doc = save_string(a);

    FILE *f = fmemopen(doc, strlen(doc), "r");
    assert_non_null(f);
    struct rp_error err;
    struct rp_adapt *b = rp_adapt_load(f, NULL, &err);
    fclose(f);
    assert_non_null(b);
    assert_same_predictions(a, b, 0.0);
    char *doc2 = save_string(b);
    assert_string_equal(doc, doc2);

    /* malformed documents are refused with RP_ERR_PARSE */
    static const char *bad[] = {
        "",
        "{}",
        "{\"format\":\"ranpipe-adapt\",\"version\":2,\"n_bins\":1,\"tiers\":[[[0,0,0]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":2,\"tiers\":[[[0,0,0]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":1,\"tiers\":[[[1,2,0]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":1,\"tiers\":[[[1.5,1,0]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":1,\"tiers\":[[[1,1,-1]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":1,\"tiers\":[[[1,1]]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":0,\"tiers\":[[]]}",
        "{\"format\":\"ranpipe-adapt\",\"version\":1,\"n_bins\":1,\"tiers\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fmemopen((void *)bad[i], strlen(bad[i]) + 1, "r");
        assert_non_null(f);
        struct rp_adapt *c = rp_adapt_load(f, NULL, &err);
        fclose(f);
        if (c)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, RP_ERR_PARSE);
    }
    free(doc);
    free(doc2);
    rp_adapt_free(a);
    rp_adapt_free(b);
}

static void test_deterministic_and_order_independent(void **state)
{
    (void)state;
    size_t n = step_history(hist, 3000);
    struct rp_adapt *a = fit(hist, n, NULL);
    struct rp_adapt *b = fit(hist, n, NULL);
    char *da = save_string(a), *db = save_string(b);
    assert_string_equal(da, db); /* the same history, the same model, bit for bit */
    assert_same_predictions(a, b, 0.0);

    size_t *order = malloc(n * sizeof(*order));
    assert_non_null(order);
    for (size_t i = 0; i < n; i++)
        order[i] = n - 1 - i;
    struct rp_adapt *r = fit(hist, n, order);
    assert_same_predictions(a, r, 1e-9);

    uint64_t s = 99; /* Fisher-Yates shuffle */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next(&s) % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct rp_adapt *sh = fit(hist, n, order);
    assert_same_predictions(a, sh, 1e-9);

    free(order);
    free(da);
    free(db);
    rp_adapt_free(a);
    rp_adapt_free(b);
    rp_adapt_free(r);
    rp_adapt_free(sh);
}

static void test_bad_params(void **state)
{
    (void)state;
    struct rp_error err;
    assert_null(rp_adapt_new(0, NULL, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);
    assert_null(rp_adapt_new(RP_ADAPT_MAX_TIERS + 1, NULL, &err));
    struct rp_adapt_params p = rp_adapt_default_params();
    p.n_bins = 0;
    assert_null(rp_adapt_new(2, &p, &err));
    p = rp_adapt_default_params();
    p.bin_strength = 0.0;
    assert_null(rp_adapt_new(2, &p, &err));
    p = rp_adapt_default_params();
    p.prior_pass = NAN;
    assert_null(rp_adapt_new(2, &p, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);
    rp_adapt_free(NULL);
    assert_string_equal(rp_adapt_why_name(RP_ADAPT_WHY_TARGET), "target");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_small_tier_limit),
        cmocka_unit_test(test_no_data_falls_back_to_static),
        cmocka_unit_test(test_few_observations_stay_near_prior),
        cmocka_unit_test(test_noisy_data_stays_finite),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_deterministic_and_order_independent),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
