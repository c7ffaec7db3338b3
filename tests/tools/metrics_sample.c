/*
 * metrics_sample.c - writes a sample of every kind of series the metrics
 * registry renders, for tests/tools/check_metrics.sh to validate with the
 * real Prometheus parsers (promtool, prometheus_client).
 *
 *   ranpipe-metrics-sample                  the exposition on stdout
 *   ranpipe-metrics-sample --serve ADDR     serves it on ADDR (see
 *                                           metrics_http.h), prints the
 *                                           /metrics URL as the first line
 *                                           and serves until stdin closes
 *
 * The sample holds what is easy to get wrong: label values with quotes,
 * backslashes and newlines, multi-line help, fractional and huge counters,
 * non-finite gauges, an empty histogram and the bucket presets.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ranpipe/buf.h"
#include "ranpipe/metrics.h"
#include "ranpipe/metrics_http.h"

static void fill(struct rp_metrics *m)
{
    struct rp_counter *c =
        rp_metrics_counter(m, "ranpipe_sample_pairs_total", "Pairs \"written\"\\ to the\ndataset",
                           "tier", "small", "format", "chatml", NULL);
    rp_counter_add(c, 1234);
    rp_counter_inc(rp_metrics_counter(m, "ranpipe_sample_pairs_total", "", "tier",
                                      "we\"ird\\ va\nlue", "format", "sharegpt", NULL));
    rp_counter_add(rp_metrics_counter(m, "ranpipe_sample_big_total", "A counter past 2^53", NULL),
                   (uint64_t)1 << 60);
    struct rp_counter *secs =
        rp_metrics_counter(m, "ranpipe_sample_busy_seconds_total", "Seconds spent busy", NULL);
    rp_counter_add_f(secs, 0.1);
    rp_counter_add_f(secs, 1e-9);

    rp_gauge_set(rp_metrics_gauge(m, "ranpipe_sample_queue_depth", "Items waiting", "queue",
                                  "generate", NULL),
                 12);
    rp_gauge_set(rp_metrics_gauge(m, "ranpipe_sample_ratio", "Odd values", "kind", "pinf", NULL),
                 INFINITY);
    rp_gauge_set(rp_metrics_gauge(m, "ranpipe_sample_ratio", "Odd values", "kind", "ninf", NULL),
                 -INFINITY);
    rp_gauge_set(rp_metrics_gauge(m, "ranpipe_sample_ratio", "Odd values", "kind", "nan", NULL),
                 NAN);
    rp_gauge_set(rp_metrics_gauge(m, "ranpipe_sample_ratio", "Odd values", "kind", "tiny", NULL),
                 -1.5e-300);

    struct rp_histogram *lat =
        rp_metrics_histogram(m, "ranpipe_sample_latency_seconds", "Generation latency",
                             rp_buckets_latency_s, RP_BUCKETS_LATENCY_S_N, "tier", "small", NULL);
    for (int i = 0; i < 1000; i++)
        rp_hist_observe(lat, (double)i * 0.001 * (double)(i % 7));
    rp_hist_observe(lat, 1e6);
    rp_metrics_histogram(m, "ranpipe_sample_latency_seconds", "", rp_buckets_latency_s,
                         RP_BUCKETS_LATENCY_S_N, "tier", "large", NULL);
    struct rp_histogram *tok = rp_metrics_histogram(m, "ranpipe_sample_tokens", "Tokens per answer",
                                                    rp_buckets_tokens, RP_BUCKETS_TOKENS_N, NULL);
    for (int i = 1; i < 10000; i *= 3)
        rp_hist_observe(tok, i);
    struct rp_histogram *q = rp_metrics_histogram(m, "ranpipe_sample_quality_score", "Quality",
                                                  rp_buckets_quality, RP_BUCKETS_QUALITY_N, NULL);
    for (int i = 0; i <= 100; i++)
        rp_hist_observe(q, i / 100.0);
}

int main(int argc, char **argv)
{
    struct rp_metrics *m = rp_metrics_new();
    if (!m)
        return 1;
    fill(m);
    int rc = 0;
    if (argc == 3 && strcmp(argv[1], "--serve") == 0) {
        struct rp_error err;
        struct rp_metrics_server *s = rp_metrics_serve(m, argv[2], &err);
        if (!s) {
            fprintf(stderr, "metrics-sample: %s\n", err.msg);
            rp_metrics_free(m);
            return 1;
        }
        printf("http://127.0.0.1:%d/metrics\n", rp_metrics_server_port(s));
        fflush(stdout);
        while (getchar() != EOF)
            ;
        rp_metrics_server_stop(s);
    } else if (argc == 1) {
        struct rp_buf b;
        rp_buf_init(&b, RP_BUF_NO_CAP);
        if (rp_metrics_render(m, &b) != RP_OK || fwrite(b.data, 1, b.len, stdout) != b.len)
            rc = 1;
        rp_buf_release(&b);
    } else {
        fprintf(stderr, "usage: %s [--serve ADDR]\n", argv[0]);
        rc = 2;
    }
    rp_metrics_free(m);
    return rc;
}
