/*
 * test_metrics.c - the metrics registry (include/ranpipe/metrics.h) and its
 * /metrics HTTP server (include/ranpipe/metrics_http.h).
 *
 * Warnings of refused registrations are caught by a log callback installed
 * before any thread starts, so tests can count them. Worker threads never
 * call cmocka assertions (a failing one would longjmp across threads); they
 * only update metrics, and the main thread checks the totals after joining
 * them. The HTTP tests scrape with libcurl, with proxies switched off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "obs/metrics_int.h"
#include "ranpipe/buf.h"
#include "ranpipe/log.h"
#include "ranpipe/metrics.h"
#include "ranpipe/metrics_http.h"

/* ---- helpers ---- */

static atomic_int warnings;
static char last_warning[512];

static void capture_log(enum rp_log_level level, const char *msg, void *ud)
{
    if (level == RP_LOG_WARN) {
        atomic_fetch_add(&warnings, 1);
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

/* Asserts that expr is NULL and logged one warning that contains want. */
#define assert_refused(expr, want)                                                                 \
    do {                                                                                           \
        int w0_ = atomic_load(&warnings);                                                          \
        assert_null(expr);                                                                         \
        assert_int_equal(atomic_load(&warnings), w0_ + 1);                                         \
        assert_non_null(strstr(last_warning, want));                                               \
    } while (0)

static char *render(struct rp_metrics *m)
{
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_metrics_render(m, &b), RP_OK);
    return rp_buf_detach(&b);
}

/* ---- registration ---- */

static void registration_rules(void **state)
{
    struct rp_metrics *m = rp_metrics_new();
    assert_non_null(m);
    struct rp_counter *a =
        rp_metrics_counter(m, "rp_pairs_total", "Pairs", "tier", "small", "fmt", "chatml", NULL);
    assert_non_null(a);
    /* The same name and label set, in any order, is the same series. */
    assert_ptr_equal(
        rp_metrics_counter(m, "rp_pairs_total", "Pairs", "tier", "small", "fmt", "chatml", NULL),
        a);
    assert_ptr_equal(rp_metrics_counter(m, "rp_pairs_total", "other help", "fmt", "chatml", "tier",
                                        "small", NULL),
                     a);
    struct rp_counter *b =
        rp_metrics_counter(m, "rp_pairs_total", "Pairs", "tier", "large", "fmt", "chatml", NULL);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    struct rp_counter *plain = rp_metrics_counter(m, "rp_pairs_total", "Pairs", NULL);
    assert_non_null(plain);
    assert_ptr_not_equal(plain, a);

    /* Another type under a registered name. */
    assert_refused(rp_metrics_gauge(m, "rp_pairs_total", "x", NULL), "already registered");
    assert_refused(rp_metrics_histogram(m, "rp_pairs_total", "x", rp_buckets_tokens,
                                        RP_BUCKETS_TOKENS_N, NULL),
                   "already registered");

    /* Invalid names. */
    assert_refused(rp_metrics_counter(m, "1abc", "x", NULL), "invalid metric name");
    assert_refused(rp_metrics_counter(m, "a-b", "x", NULL), "invalid metric name");
    assert_refused(rp_metrics_counter(m, "", "x", NULL), "invalid metric name");
    assert_refused(rp_metrics_counter(m, NULL, "x", NULL), "invalid metric name");
    assert_refused(rp_metrics_gauge(m, "caf\xc3\xa9", "x", NULL), "invalid metric name");
    assert_non_null(rp_metrics_gauge(m, "ns:sub_name9", "colons are allowed", NULL));
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "__reserved", "v", NULL),
                   "invalid label name");
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "9lives", "v", NULL),
                   "invalid label name");
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "a:b", "v", NULL), "invalid label name");
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "tier", "a", "tier", "b", NULL),
                   "given twice");
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "tier", NULL), "has no value");
    assert_refused(rp_metrics_counter(m, "ok_total", "x", "tier", "a\xff", NULL), "not UTF-8");
    assert_refused(rp_metrics_counter(m, "ok_total", "bad \xc3(", NULL), "not UTF-8");
    assert_non_null(rp_metrics_counter(m, "ok_total", "caf\xc3\xa9", "tier", "\xc3\xa9", NULL));

    /* Histograms: bounds, the reserved label, other bounds for a family. */
    static const double bad1[] = {1, 1};
    static const double bad2[] = {2, 1};
    static const double bad3[] = {1, NAN};
    static const double bad4[] = {1, INFINITY};
    assert_refused(rp_metrics_histogram(m, "h1", "x", bad1, 2, NULL), "increasing");
    assert_refused(rp_metrics_histogram(m, "h1", "x", bad2, 2, NULL), "increasing");
    assert_refused(rp_metrics_histogram(m, "h1", "x", bad3, 2, NULL), "increasing");
    assert_refused(rp_metrics_histogram(m, "h1", "x", bad4, 2, NULL), "increasing");
    assert_refused(rp_metrics_histogram(m, "h1", "x", bad1, 0, NULL), "increasing");
    assert_refused(rp_metrics_histogram(m, "h1", "x", NULL, 3, NULL), "increasing");
    double many[RP_HIST_MAX_BUCKETS];
    for (int i = 0; i < RP_HIST_MAX_BUCKETS; i++)
        many[i] = i;
    assert_refused(rp_metrics_histogram(m, "h1", "x", many, RP_HIST_MAX_BUCKETS, NULL),
                   "increasing");
    assert_non_null(rp_metrics_histogram(m, "h_max", "x", many, RP_HIST_MAX_BUCKETS - 1, NULL));
    assert_refused(
        rp_metrics_histogram(m, "h1", "x", rp_buckets_tokens, RP_BUCKETS_TOKENS_N, "le", "1", NULL),
        "'le'");
    struct rp_histogram *h =
        rp_metrics_histogram(m, "rp_latency_seconds", "x", rp_buckets_latency_s,
                             RP_BUCKETS_LATENCY_S_N, "stage", "gen", NULL);
    assert_non_null(h);
    assert_ptr_equal(rp_metrics_histogram(m, "rp_latency_seconds", "x", rp_buckets_latency_s,
                                          RP_BUCKETS_LATENCY_S_N, "stage", "gen", NULL),
                     h);
    assert_non_null(rp_metrics_histogram(m, "rp_latency_seconds", "x", rp_buckets_latency_s,
                                         RP_BUCKETS_LATENCY_S_N, "stage", "judge", NULL));
    assert_refused(rp_metrics_histogram(m, "rp_latency_seconds", "x", rp_buckets_tokens,
                                        RP_BUCKETS_TOKENS_N, "stage", "other", NULL),
                   "other buckets");
    /* Names that would collide with a histogram's series. */
    assert_refused(rp_metrics_counter(m, "rp_latency_seconds_count", "x", NULL), "clash");
    assert_refused(rp_metrics_gauge(m, "rp_latency_seconds_bucket", "x", NULL), "clash");
    assert_non_null(rp_metrics_gauge(m, "rp_things_sum", "x", NULL));
    assert_refused(
        rp_metrics_histogram(m, "rp_things", "x", rp_buckets_tokens, RP_BUCKETS_TOKENS_N, NULL),
        "clash");

    assert_null(rp_metrics_counter(NULL, "rp_x_total", "x", NULL));
    rp_metrics_free(m);
}

static void presets_are_valid(void **state)
{
    struct {
        const double *b;
        size_t n;
        double first, last;
    } p[] = {
        {rp_buckets_latency_s, RP_BUCKETS_LATENCY_S_N, 0.005, 300},
        {rp_buckets_tokens, RP_BUCKETS_TOKENS_N, 1, 8192},
        {rp_buckets_quality, RP_BUCKETS_QUALITY_N, 0.05, 1.0},
    };
    struct rp_metrics *m = rp_metrics_new();
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        assert_true(p[i].b[0] == p[i].first);
        assert_true(p[i].b[p[i].n - 1] == p[i].last);
        char name[32];
        snprintf(name, sizeof(name), "preset_%zu", i);
        assert_non_null(rp_metrics_histogram(m, name, "x", p[i].b, p[i].n, NULL));
    }
    for (size_t i = 1; i < RP_BUCKETS_TOKENS_N; i++)
        assert_true(rp_buckets_tokens[i] == 2 * rp_buckets_tokens[i - 1]);
    /* Quality bounds are the decimal steps, not i * 0.05. */
    assert_true(rp_buckets_quality[2] == 0.15);
    assert_true(rp_buckets_quality[13] == 0.7);
    rp_metrics_free(m);
}

/* ---- values ---- */

static void counter_and_gauge_values(void **state)
{
    struct rp_metrics *m = rp_metrics_new();
    struct rp_counter *c = rp_metrics_counter(m, "rp_c_total", "c", NULL);
    struct rp_counter *s = rp_metrics_counter(m, "rp_busy_seconds_total", "s", NULL);
    struct rp_gauge *g = rp_metrics_gauge(m, "rp_g", "g", NULL);
    assert_true(rp_counter_value(c) == 0);
    rp_counter_inc(c);
    rp_counter_add(c, 41);
    assert_true(rp_counter_value(c) == 42);
    rp_counter_add_f(s, 0.25);
    rp_counter_add_f(s, 1.5);
    rp_counter_add_f(s, -3);       /* counters never go down */
    rp_counter_add_f(s, NAN);      /* ignored */
    rp_counter_add_f(s, INFINITY); /* ignored */
    rp_counter_add(s, 2);
    assert_true(rp_counter_value(s) == 3.75);
    assert_true(rp_gauge_value(g) == 0);
    rp_gauge_set(g, 5);
    rp_gauge_add(g, -7.5);
    assert_true(rp_gauge_value(g) == -2.5);
    rp_gauge_set(g, NAN);
    assert_true(isnan(rp_gauge_value(g)));
    rp_metrics_free(m);
}

static void bucket_boundaries_are_inclusive(void **state)
{
    static const double bounds[] = {-1, 1, 2, 5};
    struct rp_metrics *m = rp_metrics_new();
    struct rp_histogram *h = rp_metrics_histogram(m, "rp_h", "h", bounds, 4, NULL);
    struct rp_hist_snap snap;
    rp_hist_snapshot(h, &snap);
    assert_int_equal(snap.n_bounds, 4);
    assert_int_equal(snap.count, 0);

    static const struct {
        double v;
        size_t bucket;
    } cases[] = {
        {-INFINITY, 0}, {-3, 0}, {-1, 0},  {-0.5, 1}, {0, 1},        {1, 1},
        {1.0000001, 2}, {2, 2},  {2.5, 3}, {5, 3},    {5.000001, 4}, {INFINITY, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_hist_snap before, after;
        rp_hist_snapshot(h, &before);
        rp_hist_observe(h, cases[i].v);
        rp_hist_snapshot(h, &after);
        for (size_t k = 0; k <= 4; k++)
            assert_int_equal(after.counts[k] - before.counts[k], k == cases[i].bucket ? 1 : 0);
    }
    rp_hist_observe(h, NAN); /* ignored */
    rp_hist_snapshot(h, &snap);
    assert_int_equal(snap.count, 12);
    uint64_t want[] = {3, 3, 2, 2, 2};
    for (size_t k = 0; k <= 4; k++)
        assert_int_equal(snap.counts[k], want[k]);
    assert_true(isnan(snap.sum)); /* -Inf + Inf */
    for (size_t k = 0; k < 4; k++)
        assert_true(snap.bounds[k] == bounds[k]);

    struct rp_histogram *h2 = rp_metrics_histogram(m, "rp_h2", "h", bounds, 4, NULL);
    rp_hist_observe(h2, 0.5);
    rp_hist_observe(h2, 4);
    rp_hist_snapshot(h2, &snap);
    assert_true(snap.sum == 4.5);
    assert_int_equal(snap.count, 2);
    rp_metrics_free(m);
}

static void quantile_interpolates(void **state)
{
    struct rp_hist_snap s = {.n_bounds = 3, .bounds = {1, 2, 4}};
    assert_true(isnan(rp_hist_quantile(&s, 0.5))); /* empty */

    s.counts[1] = 10; /* ten observations in (1, 2] */
    s.count = 10;
    assert_true(rp_hist_quantile(&s, 0.5) == 1.5);
    assert_true(rp_hist_quantile(&s, 1) == 2);
    assert_true(rp_hist_quantile(&s, 0) == 1); /* the start of the first non-empty bucket */
    assert_true(isnan(rp_hist_quantile(&s, -0.1)));
    assert_true(isnan(rp_hist_quantile(&s, 1.1)));
    assert_true(isnan(rp_hist_quantile(&s, NAN)));

    /* 4 in [0, 1], 4 in (1, 2], 2 in (2, 4]: the first bucket starts at 0. */
    struct rp_hist_snap t = {
        .n_bounds = 3, .bounds = {1, 2, 4}, .counts = {4, 4, 2, 0}, .count = 10};
    assert_true(rp_hist_quantile(&t, 0.2) == 0.5);
    assert_true(rp_hist_quantile(&t, 0.6) == 1.5);
    assert_true(rp_hist_quantile(&t, 0.9) == 3);

    /* Ranks in the +Inf bucket answer the last finite bound. */
    struct rp_hist_snap u = {
        .n_bounds = 3, .bounds = {1, 2, 4}, .counts = {1, 0, 0, 9}, .count = 10};
    assert_true(rp_hist_quantile(&u, 0.99) == 4);
    assert_true(rp_hist_quantile(&u, 0.05) == 0.5);

    /* A first bound that is not positive is returned as is. */
    struct rp_hist_snap v = {.n_bounds = 2, .bounds = {-1, 1}, .counts = {5, 5, 0}, .count = 10};
    assert_true(rp_hist_quantile(&v, 0.3) == -1);
    assert_true(rp_hist_quantile(&v, 0.75) == 0);

    /* Through the registry. */
    struct rp_metrics *m = rp_metrics_new();
    struct rp_histogram *h =
        rp_metrics_histogram(m, "rp_q", "q", rp_buckets_tokens, RP_BUCKETS_TOKENS_N, NULL);
    for (int i = 0; i < 100; i++)
        rp_hist_observe(h, 100); /* (64, 128] */
    struct rp_hist_snap w;
    rp_hist_snapshot(h, &w);
    assert_true(rp_hist_quantile(&w, 0.5) == 96);
    assert_true(isnan(rp_hist_quantile(NULL, 0.5)));
    rp_metrics_free(m);
}

static void null_handles_are_noops(void **state)
{
    rp_counter_add(NULL, 1);
    rp_counter_inc(NULL);
    rp_counter_add_f(NULL, 1.5);
    rp_gauge_set(NULL, 1);
    rp_gauge_add(NULL, 1);
    rp_hist_observe(NULL, 1);
    assert_true(rp_counter_value(NULL) == 0);
    assert_true(rp_gauge_value(NULL) == 0);
    struct rp_hist_snap s;
    memset(&s, 0xff, sizeof(s));
    rp_hist_snapshot(NULL, &s);
    assert_int_equal(s.n_bounds, 0);
    assert_int_equal(s.count, 0);
    assert_true(isnan(rp_hist_quantile(&s, 0.5)));
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_metrics_render(NULL, &b), RP_ERR_INVAL);
    rp_buf_release(&b);
    assert_null(rp_metrics_to_json(NULL));
    rp_metrics_on_collect(NULL, NULL, NULL);
    rp_metrics_free(NULL);
    rp_metrics_server_stop(NULL);
    assert_int_equal(rp_metrics_server_port(NULL), 0);
}

/* ---- threads ---- */

#define N_THREADS 4
#define N_OPS 100000

struct hammer {
    struct rp_counter *c, *cf;
    struct rp_gauge *g;
    struct rp_histogram *h;
};

static void *hammer_thread(void *arg)
{
    struct hammer *hm = arg;
    for (int i = 0; i < N_OPS; i++) {
        rp_counter_inc(hm->c);
        rp_counter_add_f(hm->cf, 0.5);
        rp_gauge_add(hm->g, 1);
        rp_hist_observe(hm->h, (double)(i % 10));
    }
    return NULL;
}

static void threads_exact_totals(void **state)
{
    static const double bounds[] = {0, 2, 4, 8};
    struct rp_metrics *m = rp_metrics_new();
    struct hammer hm = {
        .c = rp_metrics_counter(m, "rp_ops_total", "ops", NULL),
        .cf = rp_metrics_counter(m, "rp_half_seconds_total", "s", NULL),
        .g = rp_metrics_gauge(m, "rp_level", "g", NULL),
        .h = rp_metrics_histogram(m, "rp_digits", "h", bounds, 4, NULL),
    };
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &hm), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    const double total = (double)N_THREADS * N_OPS;
    assert_true(rp_counter_value(hm.c) == total);
    assert_true(rp_counter_value(hm.cf) == total / 2);
    assert_true(rp_gauge_value(hm.g) == total);
    struct rp_hist_snap s;
    rp_hist_snapshot(hm.h, &s);
    assert_int_equal(s.count, N_THREADS * N_OPS);
    /* Digits 0..9 equally often: 0 | 1,2 | 3,4 | 5..8 | 9. */
    const uint64_t per_digit = N_THREADS * N_OPS / 10;
    assert_int_equal(s.counts[0], per_digit);
    assert_int_equal(s.counts[1], 2 * per_digit);
    assert_int_equal(s.counts[2], 2 * per_digit);
    assert_int_equal(s.counts[3], 4 * per_digit);
    assert_int_equal(s.counts[4], per_digit);
    assert_true(s.sum == 45.0 * (double)per_digit);
    rp_metrics_free(m);
}

struct churn {
    struct rp_metrics *m;
    int id;
};

/* Registers new series and updates them while another thread renders. */
static void *churn_thread(void *arg)
{
    struct churn *ch = arg;
    char v[16];
    for (int i = 0; i < 200; i++) {
        snprintf(v, sizeof(v), "%d-%d", ch->id, i % 50);
        rp_counter_inc(rp_metrics_counter(ch->m, "rp_churn_total", "c", "k", v, NULL));
        rp_hist_observe(rp_metrics_histogram(ch->m, "rp_churn_tokens", "h", rp_buckets_tokens,
                                             RP_BUCKETS_TOKENS_N, "k", v, NULL),
                        (double)i);
    }
    return NULL;
}

static void bump_hook(void *ud)
{
    rp_gauge_add(ud, 1);
}

static void render_while_registering(void **state)
{
    struct rp_metrics *m = rp_metrics_new();
    struct rp_gauge *renders = rp_metrics_gauge(m, "rp_renders", "hook calls", NULL);
    rp_metrics_on_collect(m, bump_hook, renders);
    struct churn ch[2] = {{m, 0}, {m, 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_thread, &ch[i]), 0);
    for (int i = 0; i < 20; i++) {
        char *text = render(m);
        assert_non_null(strstr(text, "# TYPE rp_renders gauge"));
        free(text);
        json_t *j = rp_metrics_to_json(m);
        assert_non_null(j);
        json_decref(j);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_true(rp_gauge_value(renders) == 40);
    char *text = render(m);
    assert_non_null(strstr(text, "rp_churn_total{k=\"1-49\"} 4\n"));
    free(text);
    rp_metrics_free(m);
}

/* ---- render ---- */

static const char expected_text[] =
    "# HELP rp_test_requests_total Requests \"handled\"\\\\ by tier\\nsecond line\n"
    "# TYPE rp_test_requests_total counter\n"
    "rp_test_requests_total{tier=\"sm\\\"a\\\\l\\nl\",code=\"200\"} 7\n"
    "rp_test_requests_total{tier=\"large\",code=\"500\"} 2.25\n"
    "# HELP rp_test_queue_depth Items waiting\n"
    "# TYPE rp_test_queue_depth gauge\n"
    "rp_test_queue_depth 3.5\n"
    "# TYPE rp_test_temperature gauge\n"
    "rp_test_temperature{probe=\"a\"} +Inf\n"
    "rp_test_temperature{probe=\"b\"} -Inf\n"
    "rp_test_temperature{probe=\"c\"} NaN\n"
    "# HELP rp_test_latency_seconds Latency\n"
    "# TYPE rp_test_latency_seconds histogram\n"
    "rp_test_latency_seconds_bucket{stage=\"gen\",le=\"0.25\"} 1\n"
    "rp_test_latency_seconds_bucket{stage=\"gen\",le=\"0.5\"} 3\n"
    "rp_test_latency_seconds_bucket{stage=\"gen\",le=\"1\"} 3\n"
    "rp_test_latency_seconds_bucket{stage=\"gen\",le=\"+Inf\"} 4\n"
    "rp_test_latency_seconds_sum{stage=\"gen\"} 3.125\n"
    "rp_test_latency_seconds_count{stage=\"gen\"} 4\n"
    "# HELP rp_test_empty Never observed\n"
    "# TYPE rp_test_empty histogram\n"
    "rp_test_empty_bucket{le=\"1\"} 0\n"
    "rp_test_empty_bucket{le=\"+Inf\"} 0\n"
    "rp_test_empty_sum 0\n"
    "rp_test_empty_count 0\n";

static struct rp_metrics *small_registry(void)
{
    static const double bounds[] = {0.25, 0.5, 1};
    struct rp_metrics *m = rp_metrics_new();
    const char *help = "Requests \"handled\"\\ by tier\nsecond line";
    rp_counter_add(rp_metrics_counter(m, "rp_test_requests_total", help, "tier", "sm\"a\\l\nl",
                                      "code", "200", NULL),
                   7);
    struct rp_counter *c2 =
        rp_metrics_counter(m, "rp_test_requests_total", help, "tier", "large", "code", "500", NULL);
    rp_counter_add(c2, 2);
    rp_counter_add_f(c2, 0.25);
    rp_gauge_set(rp_metrics_gauge(m, "rp_test_queue_depth", "Items waiting", NULL), 3.5);
    rp_gauge_set(rp_metrics_gauge(m, "rp_test_temperature", "", "probe", "a", NULL), INFINITY);
    rp_gauge_set(rp_metrics_gauge(m, "rp_test_temperature", "", "probe", "b", NULL), -INFINITY);
    rp_gauge_set(rp_metrics_gauge(m, "rp_test_temperature", "", "probe", "c", NULL), NAN);
    struct rp_histogram *h = rp_metrics_histogram(m, "rp_test_latency_seconds", "Latency", bounds,
                                                  3, "stage", "gen", NULL);
    rp_hist_observe(h, 0.25);
    rp_hist_observe(h, 0.375);
    rp_hist_observe(h, 0.5);
    rp_hist_observe(h, 2);
    rp_metrics_histogram(m, "rp_test_empty", "Never observed", bounds + 2, 1, NULL);
    return m;
}

static void render_exact_text(void **state)
{
    struct rp_metrics *m = small_registry();
    char *text = render(m);
    assert_string_equal(text, expected_text);
    free(text);

    /* render appends, and fails cleanly when the buffer's cap is too small */
    struct rp_buf b;
    rp_buf_init(&b, 100);
    assert_int_equal(rp_metrics_render(m, &b), RP_ERR_TOOBIG);
    rp_buf_release(&b);
    rp_metrics_free(m);

    /* An empty registry renders nothing. */
    m = rp_metrics_new();
    text = render(m);
    assert_string_equal(text, "");
    free(text);
    rp_metrics_free(m);
}

static void numbers_round_trip(void **state)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-42, "-42"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {1e-7, "1e-07"},
        {123456789012.0, "123456789012"},
        {1e20, "100000000000000000000"},
        {9007199254740993.0, "9007199254740992"},
        {2.5e300, "2.5e+300"},
        {5e-324, "4.94065645841247e-324"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_metrics *m = rp_metrics_new();
        rp_gauge_set(rp_metrics_gauge(m, "rp_n", "", NULL), cases[i].v);
        char *text = render(m);
        const char *val = strstr(text, "\nrp_n ") + 6;
        char want[64];
        snprintf(want, sizeof(want), "%s\n", cases[i].text);
        assert_string_equal(val, want);
        assert_true(strtod(val, NULL) == cases[i].v);
        free(text);
        rp_metrics_free(m);
    }
    /* Integer counters stay exact past 2^53. */
    struct rp_metrics *m = rp_metrics_new();
    rp_counter_add(rp_metrics_counter(m, "rp_big_total", "", NULL), UINT64_MAX - 1);
    char *text = render(m);
    assert_string_equal(text, "# TYPE rp_big_total counter\nrp_big_total 18446744073709551614\n");
    free(text);
    rp_metrics_free(m);
}

static int hook_calls;

static void count_hook(void *ud)
{
    hook_calls++;
    rp_gauge_set(ud, 17);
}

static void collect_hooks_run_before_export(void **state)
{
    struct rp_metrics *m = rp_metrics_new();
    struct rp_gauge *depth = rp_metrics_gauge(m, "rp_depth", "d", NULL);
    hook_calls = 0;
    rp_metrics_on_collect(m, count_hook, depth);
    rp_metrics_on_collect(m, NULL, NULL); /* ignored */
    char *text = render(m);
    assert_int_equal(hook_calls, 1);
    assert_non_null(strstr(text, "rp_depth 17\n"));
    free(text);
    json_t *j = rp_metrics_to_json(m);
    assert_int_equal(hook_calls, 2);
    json_decref(j);
    rp_metrics_free(m);
}

static void json_export(void **state)
{
    struct rp_metrics *m = small_registry();
    json_t *j = rp_metrics_to_json(m);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 5);

    json_t *req = json_object_get(j, "rp_test_requests_total");
    assert_string_equal(json_string_value(json_object_get(req, "type")), "counter");
    assert_string_equal(json_string_value(json_object_get(req, "help")),
                        "Requests \"handled\"\\ by tier\nsecond line");
    json_t *series = json_object_get(req, "series");
    assert_int_equal(json_array_size(series), 2);
    json_t *s0 = json_array_get(series, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s0, "labels"), "tier")),
                        "sm\"a\\l\nl");
    assert_int_equal(json_integer_value(json_object_get(s0, "value")), 7);
    assert_true(json_real_value(json_object_get(json_array_get(series, 1), "value")) == 2.25);

    json_t *temp = json_object_get(json_object_get(j, "rp_test_temperature"), "series");
    assert_string_equal(json_string_value(json_object_get(json_array_get(temp, 0), "value")),
                        "+Inf");
    assert_string_equal(json_string_value(json_object_get(json_array_get(temp, 2), "value")),
                        "NaN");

    json_t *lat = json_object_get(j, "rp_test_latency_seconds");
    assert_string_equal(json_string_value(json_object_get(lat, "type")), "histogram");
    json_t *h0 = json_array_get(json_object_get(lat, "series"), 0);
    json_t *buckets = json_object_get(h0, "buckets");
    assert_int_equal(json_array_size(buckets), 4);
    assert_true(json_real_value(json_object_get(json_array_get(buckets, 0), "le")) == 0.25);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(buckets, 1), "count")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(buckets, 3), "le")),
                        "+Inf");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(buckets, 3), "count")), 4);
    assert_int_equal(json_integer_value(json_object_get(h0, "count")), 4);
    assert_true(json_real_value(json_object_get(h0, "sum")) == 3.125);
    assert_non_null(json_object_get(h0, "p50"));
    assert_true(json_real_value(json_object_get(h0, "p50")) == 0.375); /* rank 2 in (0.25, 0.5] */
    json_t *e0 = json_array_get(json_object_get(json_object_get(j, "rp_test_empty"), "series"), 0);
    assert_null(json_object_get(e0, "p50"));
    assert_int_equal(json_integer_value(json_object_get(e0, "count")), 0);

    char *dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(dump);
    free(dump);
    json_decref(j);
    rp_metrics_free(m);
}

/* ---- HTTP ---- */

struct fetch {
    long status;
    char content_type[128];
    struct rp_buf body;
    curl_off_t content_length;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct rp_buf *b = ud;
    return rp_buf_add(b, p, size * n) == RP_OK ? size * n : 0;
}

static CURLcode fetch(int port, const char *method, const char *path, struct fetch *out)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(out, 0, sizeof(*out));
    rp_buf_init(&out->body, RP_BUF_NO_CAP);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(out->content_type, sizeof(out->content_type), "%s", ct ? ct : "");
        curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &out->content_length);
    }
    curl_easy_cleanup(c);
    return rc;
}

static void http_serves_metrics(void **state)
{
    struct rp_metrics *m = small_registry();
    struct rp_error err;
    struct rp_metrics_server *s = rp_metrics_serve(m, "127.0.0.1:0", &err);
    assert_non_null(s);
    int port = rp_metrics_server_port(s);
    assert_true(port > 0);

    struct fetch f;
    assert_int_equal(fetch(port, "GET", "/metrics", &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.content_type, "text/plain; version=0.0.4; charset=utf-8");
    char *want = render(m);
    assert_string_equal(f.body.data, want);
    assert_string_equal(f.body.data, expected_text);
    rp_buf_release(&f.body);

    assert_int_equal(fetch(port, "GET", "/metrics?x=1", &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    rp_buf_release(&f.body);

    assert_int_equal(fetch(port, "HEAD", "/metrics", &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(f.body.len, 0);
    assert_int_equal(f.content_length, strlen(want));
    rp_buf_release(&f.body);
    free(want);

    assert_int_equal(fetch(port, "GET", "/", &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    assert_non_null(strstr(f.body.data, "/metrics"));
    rp_buf_release(&f.body);

    const char *missing[] = {"/nope", "/metrics/", "/metricsx", "/favicon.ico"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        assert_int_equal(fetch(port, "GET", missing[i], &f), CURLE_OK);
        assert_int_equal(f.status, 404);
        rp_buf_release(&f.body);
    }
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_int_equal(fetch(port, methods[i], "/metrics", &f), CURLE_OK);
        assert_int_equal(f.status, 405);
        rp_buf_release(&f.body);
    }

    /* Live values: an update shows in the next scrape. */
    rp_gauge_set(rp_metrics_gauge(m, "rp_test_queue_depth", "Items waiting", NULL), 9);
    assert_int_equal(fetch(port, "GET", "/metrics", &f), CURLE_OK);
    assert_non_null(strstr(f.body.data, "\nrp_test_queue_depth 9\n"));
    rp_buf_release(&f.body);

    rp_metrics_server_stop(s);
    rp_metrics_free(m);
}

/* Connects a raw TCP socket to 127.0.0.1:port. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void http_survives_bad_clients(void **state)
{
    struct rp_metrics *m = small_registry();
    struct rp_error err;
    struct rp_metrics_server *s = rp_metrics_serve(m, "localhost:0", &err);
    assert_non_null(s);
    int port = rp_metrics_server_port(s);

    /* Garbage, a request line without end, and more idle connections than
     * the server takes; it keeps answering once they are gone. */
    int fds[24];
    for (int i = 0; i < 24; i++) {
        fds[i] = raw_connect(port);
        if (fds[i] >= 0 && i % 3 == 0) {
            static const char junk[] = "\x01\x02\xff garbage \r\n\r\n";
            ssize_t w = write(fds[i], junk, sizeof(junk) - 1);
            (void)w;
        } else if (fds[i] >= 0 && i % 3 == 1) {
            static const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x";
            ssize_t w = write(fds[i], partial, sizeof(partial) - 1);
            (void)w;
        }
    }
    for (int i = 0; i < 24; i++)
        if (fds[i] >= 0)
            close(fds[i]);

    struct fetch f;
    CURLcode rc = CURLE_COULDNT_CONNECT;
    for (int tries = 0; tries < 50 && rc != CURLE_OK; tries++) {
        rc = fetch(port, "GET", "/metrics", &f);
        if (rc != CURLE_OK) {
            rp_buf_release(&f.body);
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
        }
    }
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body.data, expected_text);
    rp_buf_release(&f.body);
    rp_metrics_server_stop(s);
    rp_metrics_free(m);
}

static void http_address_rules(void **state)
{
    static const struct {
        const char *addr;
        const char *shown;
    } good[] = {
        {"9464", "127.0.0.1:9464"},       {":9464", "127.0.0.1:9464"},
        {"localhost:1", "127.0.0.1:1"},   {"127.0.0.1:0", "127.0.0.1:0"},
        {"0.0.0.0:9464", "0.0.0.0:9464"}, {"10.1.2.3:65535", "10.1.2.3:65535"},
        {"[::1]:9464", "[::1]:9464"},     {"[::]:80", "[::]:80"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        char shown[96];
        struct rp_error err;
        assert_int_equal(
            rp__metrics_parse_addr(good[i].addr, &ss, &len, shown, sizeof(shown), &err), RP_OK);
        assert_string_equal(shown, good[i].shown);
    }
    /* The default host is loopback, never the wildcard. */
    struct sockaddr_storage ss;
    socklen_t len;
    char shown[96];
    struct rp_error err;
    assert_int_equal(rp__metrics_parse_addr("9464", &ss, &len, shown, sizeof(shown), &err), RP_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);

    static const struct {
        const char *addr;
        const char *why;
    } bad[] = {
        {"", "expected PORT"},
        {"abc", "port must be a number"},
        {"9464x", "port must be a number"},
        {":", "port must be a number"},
        {"127.0.0.1:", "port must be a number"},
        {"127.0.0.1:65536", "port must be a number"},
        {"127.0.0.1:-1", "port must be a number"},
        {"127.0.0.1:123456", "port must be a number"},
        {"example.com:80", "numeric address or 'localhost'"},
        {"1.2.3:80", "numeric address or 'localhost'"},
        {"::1:9464", "brackets"},
        {"[::1]", "expected PORT"},
        {"[::1]9464", "expected PORT"},
        {"[localhost]:80", "not a numeric IPv6 address"},
        {"[127.0.0.1]:80", "not a numeric IPv6 address"},
    };
    struct rp_metrics *m = rp_metrics_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(rp_metrics_serve(m, bad[i].addr, &err));
        assert_int_equal(err.code, RP_ERR_INVAL);
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i].addr);
        if (!strstr(err.msg, quoted) || !strstr(err.msg, bad[i].why))
            fail_msg("address '%s': unexpected message: %s", bad[i].addr, err.msg);
    }
    assert_null(rp_metrics_serve(NULL, "0", &err));
    assert_int_equal(err.code, RP_ERR_INVAL);
    rp_metrics_free(m);
}

static void http_port_in_use(void **state)
{
    struct rp_metrics *m = small_registry();
    struct rp_error err;
    struct rp_metrics_server *a = rp_metrics_serve(m, "127.0.0.1:0", &err);
    assert_non_null(a);
    int port = rp_metrics_server_port(a);
    char addr[32], want[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_null(rp_metrics_serve(m, addr, &err));
    assert_int_equal(err.code, RP_ERR_IO);
    snprintf(want, sizeof(want), "cannot listen on '%s': ", addr);
    if (!strstr(err.msg, want) || !strstr(err.msg, "in use"))
        fail_msg("unexpected message: %s", err.msg);
    /* The bare port form means the same address. */
    snprintf(addr, sizeof(addr), "%d", port);
    assert_null(rp_metrics_serve(m, addr, &err));
    assert_int_equal(err.code, RP_ERR_IO);

    /* Stopping closes the socket: the port can be taken again at once. */
    rp_metrics_server_stop(a);
    struct rp_metrics_server *b = rp_metrics_serve(m, addr, &err);
    if (!b)
        fail_msg("serving again on port %d: %s", port, err.msg);
    assert_int_equal(rp_metrics_server_port(b), port);
    struct fetch f;
    assert_int_equal(fetch(port, "GET", "/metrics", &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    rp_buf_release(&f.body);
    rp_metrics_server_stop(b);

    /* IPv6 loopback, where the machine has it. */
    struct rp_metrics_server *c = rp_metrics_serve(m, "[::1]:0", &err);
    if (c) {
        assert_true(rp_metrics_server_port(c) > 0);
        rp_metrics_server_stop(c);
    } else {
        print_message("# no IPv6 loopback here (%s); skipped that case\n", err.msg);
    }
    rp_metrics_free(m);
}

int main(void)
{
    rp_log_set_callback(capture_log, NULL);
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registration_rules),
        cmocka_unit_test(presets_are_valid),
        cmocka_unit_test(counter_and_gauge_values),
        cmocka_unit_test(bucket_boundaries_are_inclusive),
        cmocka_unit_test(quantile_interpolates),
        cmocka_unit_test(null_handles_are_noops),
        cmocka_unit_test(threads_exact_totals),
        cmocka_unit_test(render_while_registering),
        cmocka_unit_test(render_exact_text),
        cmocka_unit_test(numbers_round_trip),
        cmocka_unit_test(collect_hooks_run_before_export),
        cmocka_unit_test(json_export),
        cmocka_unit_test(http_serves_metrics),
        cmocka_unit_test(http_survives_bad_clients),
        cmocka_unit_test(http_address_rules),
        cmocka_unit_test(http_port_in_use),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
