/*
 * metrics.h - a registry of counters, gauges and histograms, rendered in the
 * Prometheus text exposition format (0.0.4) and as JSON.
 *
 * Registration is the cold path: it takes the registry's mutex, validates
 * names and returns a handle that lives as long as the registry. Updating a
 * handle is the hot path: lock-free C11 atomics with relaxed ordering, one
 * cache line per series, and every update function is a no-op on a NULL
 * handle. A subsystem therefore keeps plain handle pointers that stay NULL
 * when monitoring is off, and pays one branch per update for it.
 *
 * Names follow Prometheus: a metric name matches [a-zA-Z_:][a-zA-Z0-9_:]*, a
 * label name [a-zA-Z_][a-zA-Z0-9_]* and may not start with "__"; histograms
 * may not use the label "le"; label values and help are UTF-8. A family (one
 * name) has one type, one help text (the first one registered) and, for
 * histograms, one set of bucket bounds; its series are told apart by their
 * label values. A name that would collide with a histogram's
 * _bucket/_sum/_count series is refused too. Refused registrations return
 * NULL and log a warning through rp_warn, so a typo costs a metric, never
 * the run.
 *
 * Values are read without stopping writers: a render sees each atomic at
 * some moment during the render, not all of them at one instant. A
 * histogram's count is the sum of its buckets, so its _count always equals
 * its +Inf bucket in the same render.
 *
 * Thread contract: rp_metrics_new/free on one thread with no other user.
 * Everything else may be called from any thread at any time, including from
 * a collect hook (which runs under the render lock, so a hook must not call
 * rp_metrics_render or rp_metrics_to_json itself).
 */
#ifndef RANPIPE_METRICS_H
#define RANPIPE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

struct rp_metrics;
struct rp_counter;
struct rp_gauge;
struct rp_histogram;

/* Buckets per histogram including the implicit +Inf one, so a histogram has
 * at most RP_HIST_MAX_BUCKETS - 1 finite bounds. */
#define RP_HIST_MAX_BUCKETS 32

/* Returns a new, empty registry (NULL when out of memory). */
struct rp_metrics *rp_metrics_new(void);
/* Frees the registry and every handle it returned. NULL is a no-op. No
 * server (metrics_http.h) may still be serving it. */
void rp_metrics_free(struct rp_metrics *m);

/* ---- registration (cold path) ----
 *
 * name and help are copied; `...` is a NULL-terminated list of label
 * name/value pairs (const char *), also copied:
 *
 *   rp_metrics_counter(m, "ranpipe_pairs_total", "Pairs written to the dataset",
 *                      "tier", "small", NULL);
 *
 * The same name and label set (in any order) returns the same handle. NULL
 * (and a warning) for a NULL registry, an invalid name or label, a label
 * given twice, a label value or help that is not UTF-8, out of memory, or a
 * name already registered with another type (or, for histograms, other
 * bounds). The handle is owned by m. */
struct rp_counter *rp_metrics_counter(struct rp_metrics *m, const char *name, const char *help,
                                      ...);
struct rp_gauge *rp_metrics_gauge(struct rp_metrics *m, const char *name, const char *help, ...);
/* bounds: n_bounds finite upper bounds in strictly increasing order (copied),
 * 1 <= n_bounds < RP_HIST_MAX_BUCKETS; a bucket holds values v <= its bound
 * (and above the previous one), and a last bucket +Inf the rest. */
struct rp_histogram *rp_metrics_histogram(struct rp_metrics *m, const char *name, const char *help,
                                          const double *bounds, size_t n_bounds, ...);

/* ---- bucket presets (static arrays; pass with their _N count) ---- */

/* Latency in seconds, roughly exponential: 0.005, 0.01, 0.025, 0.05, 0.1,
 * 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300. */
extern const double rp_buckets_latency_s[];
#define RP_BUCKETS_LATENCY_S_N 15
/* Token counts, powers of two: 1, 2, 4, ..., 8192. */
extern const double rp_buckets_tokens[];
#define RP_BUCKETS_TOKENS_N 14
/* Quality scores in [0, 1], steps of 0.05: 0.05, 0.1, ..., 0.95, 1. */
extern const double rp_buckets_quality[];
#define RP_BUCKETS_QUALITY_N 20

/* ---- hot path: lock-free, no-ops on a NULL handle ---- */

void rp_counter_add(struct rp_counter *c, uint64_t n);
void rp_counter_inc(struct rp_counter *c);
/* Adds a fractional amount (e.g. to a *_seconds_total counter). Negative
 * and non-finite amounts are ignored: a counter never goes down. */
void rp_counter_add_f(struct rp_counter *c, double v);
void rp_gauge_set(struct rp_gauge *g, double v);
void rp_gauge_add(struct rp_gauge *g, double v);
/* Counts v in its bucket and adds it to the sum. NaN is ignored. */
void rp_hist_observe(struct rp_histogram *h, double v);

/* ---- reading ---- */

/* Current value; 0 for a NULL handle. */
double rp_counter_value(const struct rp_counter *c);
double rp_gauge_value(const struct rp_gauge *g);

/* A histogram's state at one read. counts[i] is the number of observations
 * in bucket i alone (not cumulative): bucket i holds bounds[i-1] < v <=
 * bounds[i], and counts[n_bounds] those above the last bound. */
struct rp_hist_snap {
    size_t n_bounds;
    double bounds[RP_HIST_MAX_BUCKETS - 1];
    uint64_t counts[RP_HIST_MAX_BUCKETS];
    uint64_t count; /* sum of counts[] */
    double sum;
};

/* Fills out (a NULL handle gives an empty snapshot with no bounds). */
void rp_hist_snapshot(const struct rp_histogram *h, struct rp_hist_snap *out);
/* The q-quantile (0 <= q <= 1) estimated like Prometheus' histogram_quantile:
 * linear interpolation inside the first non-empty bucket that reaches the
 * rank q * count; the first bucket starts at 0 (when its bound is not
 * positive, the bound itself is returned), and a rank in the +Inf bucket
 * returns the last finite bound. NaN when the snapshot is empty or q is
 * outside [0, 1]. */
double rp_hist_quantile(const struct rp_hist_snap *s, double q);

/* ---- collect hooks and export ---- */

/* Registers fn(ud), called before every render and JSON export, under the
 * render lock, in registration order: a place to copy state kept elsewhere
 * (queue depths, cache sizes) into gauges. ud is borrowed and must outlive
 * the registry. Ignored when m or fn is NULL or memory runs out. */
void rp_metrics_on_collect(struct rp_metrics *m, void (*fn)(void *ud), void *ud);

/* Appends every family in registration order to out in the Prometheus text
 * exposition format 0.0.4. Errors: out's own (RP_ERR_TOOBIG, RP_ERR_NOMEM);
 * RP_ERR_INVAL for a NULL registry. */
enum rp_err rp_metrics_render(struct rp_metrics *m, struct rp_buf *out);

/* Returns a new JSON object (caller decrefs), NULL when out of memory:
 *
 *   { "<family>": { "type": "counter"|"gauge"|"histogram", "help": "...",
 *                   "series": [ { "labels": {"tier": "small"}, "value": 12 }, ... ] } }
 *
 * A histogram series has "buckets": [{"le": 0.005, "count": 3}, ...,
 * {"le": "+Inf", "count": 9}] (cumulative, like the exposition), "sum",
 * "count", and "p50", "p90", "p99" when it holds any observation.
 * Non-finite numbers are the strings "+Inf", "-Inf" and "NaN". */
json_t *rp_metrics_to_json(struct rp_metrics *m);

#endif /* RANPIPE_METRICS_H */
