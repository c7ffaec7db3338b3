/*
 * metrics.c - the metrics registry (see include/ranpipe/metrics.h).
 *
 * Layout: the registry holds families in registration order; a family holds
 * its series (the handles) in registration order. Families, series and the
 * hook list only grow until rp_metrics_free, so a handle stays valid for
 * the registry's lifetime. Two locks:
 *
 *   render_mu  serialises renders and JSON exports, and is held while the
 *              collect hooks run (so hooks never run concurrently);
 *   mu         guards the lists; held by registration and by the walk of a
 *              render, never while a hook runs (a hook may register).
 *
 * Lock order: render_mu before mu.
 *
 * Each handle is allocated on its own 64-byte boundary with its atomics in
 * the first cache line, so two hot counters updated by different threads
 * never share a line. The cold fields (family, labels) live behind the
 * atomics and are only read by renders.
 *
 * A counter keeps integer adds and fractional adds apart (a fetch_add on a
 * uint64_t and a CAS loop on a double's bits) so that rp_counter_add stays
 * one atomic instruction and integer counts stay exact past 2^53.
 */
#include "ranpipe/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/log.h"
#include "ranpipe/utf8.h"

#define CACHE_LINE 64
/* Labels per series; more is a mistake worth a warning, not a malloc. */
#define MAX_LABELS 16

enum fam_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct label {
    char *name;
    char *value;
};

struct family;

/* The cold part of every series. */
struct series {
    struct family *fam;
    size_t n_labels;
    struct label *labels;
};

struct rp_counter {
    _Alignas(CACHE_LINE) _Atomic uint64_t n;
    _Atomic uint64_t fbits; /* fractional adds, as a double's bits */
    struct series s;
};

struct rp_gauge {
    _Alignas(CACHE_LINE) _Atomic uint64_t bits; /* the value, as a double's bits */
    struct series s;
};

struct rp_histogram {
    _Alignas(CACHE_LINE) _Atomic uint64_t sum_bits;
    size_t n_bounds;
    const double *bounds; /* the family's copy */
    struct series s;
    _Atomic uint64_t counts[]; /* n_bounds + 1, the last for +Inf */
};

struct family {
    char *name;
    char *help;
    enum fam_type type;
    size_t n_bounds;
    double bounds[RP_HIST_MAX_BUCKETS - 1];
    void **series; /* struct rp_counter / rp_gauge / rp_histogram */
    size_t n_series, cap_series;
};

struct hook {
    void (*fn)(void *ud);
    void *ud;
};

struct rp_metrics {
    pthread_mutex_t mu;
    pthread_mutex_t render_mu;
    struct family **fams;
    size_t n_fams, cap_fams;
    struct hook *hooks;
    size_t n_hooks, cap_hooks;
};

const double rp_buckets_latency_s[RP_BUCKETS_LATENCY_S_N] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300};
const double rp_buckets_tokens[RP_BUCKETS_TOKENS_N] = {1,   2,   4,   8,    16,   32,   64,
                                                       128, 256, 512, 1024, 2048, 4096, 8192};
/* Written out, not computed as i * 0.05: 3 * 0.05 is 0.15000000000000002. */
const double rp_buckets_quality[RP_BUCKETS_QUALITY_N] = {0.05, 0.1,  0.15, 0.2,  0.25, 0.3,  0.35,
                                                         0.4,  0.45, 0.5,  0.55, 0.6,  0.65, 0.7,
                                                         0.75, 0.8,  0.85, 0.9,  0.95, 1.0};

/* ---- double <-> bits ---- */

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, d2u(u2d(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* ---- hot path ---- */

void rp_counter_add(struct rp_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
}

void rp_counter_inc(struct rp_counter *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
}

void rp_counter_add_f(struct rp_counter *c, double v)
{
    if (c && v > 0 && isfinite(v))
        atomic_add_double(&c->fbits, v);
}

void rp_gauge_set(struct rp_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, d2u(v), memory_order_relaxed);
}

void rp_gauge_add(struct rp_gauge *g, double v)
{
    if (g)
        atomic_add_double(&g->bits, v);
}

/* Index of the bucket that holds v: the first bound >= v, or n for +Inf. */
static size_t bucket_of(const double *bounds, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void rp_hist_observe(struct rp_histogram *h, double v)
{
    if (!h || isnan(v))
        return;
    atomic_fetch_add_explicit(&h->counts[bucket_of(h->bounds, h->n_bounds, v)], 1,
                              memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

/* ---- reading ---- */

double rp_counter_value(const struct rp_counter *c)
{
    if (!c)
        return 0;
    return (double)atomic_load_explicit(&c->n, memory_order_relaxed) +
           u2d(atomic_load_explicit(&c->fbits, memory_order_relaxed));
}

double rp_gauge_value(const struct rp_gauge *g)
{
    return g ? u2d(atomic_load_explicit(&g->bits, memory_order_relaxed)) : 0;
}

void rp_hist_snapshot(const struct rp_histogram *h, struct rp_hist_snap *out)
{
    memset(out, 0, sizeof(*out));
    if (!h)
        return;
    out->n_bounds = h->n_bounds;
    memcpy(out->bounds, h->bounds, h->n_bounds * sizeof(double));
    for (size_t i = 0; i <= h->n_bounds; i++) {
        out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->count += out->counts[i];
    }
    out->sum = u2d(atomic_load_explicit(&h->sum_bits, memory_order_relaxed));
}

double rp_hist_quantile(const struct rp_hist_snap *s, double q)
{
    if (!s || s->count == 0 || !(q >= 0 && q <= 1))
        return NAN;
    double rank = q * (double)s->count;
    uint64_t below = 0; /* observations in the buckets before b */
    size_t b = 0;
    for (; b <= s->n_bounds; b++) {
        if (s->counts[b] > 0 && (double)(below + s->counts[b]) >= rank)
            break;
        below += s->counts[b];
    }
    if (b >= s->n_bounds) /* the +Inf bucket (or rounding past the end) */
        return s->n_bounds ? s->bounds[s->n_bounds - 1] : NAN;
    double end = s->bounds[b];
    double start = b > 0 ? s->bounds[b - 1] : 0;
    if (b == 0 && end <= 0)
        return end;
    return start + (end - start) * ((rank - (double)below) / (double)s->counts[b]);
}

/* ---- registration ---- */

static bool valid_metric_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (p > s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    if (!s || !*s || (s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (p > s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Labels as given to a registration call, borrowed from the caller. */
struct label_args {
    size_t n;
    const char *name[MAX_LABELS];
    const char *value[MAX_LABELS];
};

/* Reads the NULL-terminated pairs; false (with a warning) when they are
 * malformed. */
static bool read_labels(const char *metric, bool histogram, va_list ap, struct label_args *la)
{
    la->n = 0;
    for (;;) {
        const char *n = va_arg(ap, const char *);
        if (!n)
            return true;
        const char *v = va_arg(ap, const char *);
        if (!v) {
            rp_warn("metrics: refusing '%s': label '%s' has no value", metric, n);
            return false;
        }
        if (la->n == MAX_LABELS) {
            rp_warn("metrics: refusing '%s': more than %d labels", metric, MAX_LABELS);
            return false;
        }
        if (!valid_label_name(n)) {
            rp_warn("metrics: refusing '%s': invalid label name '%s'", metric, n);
            return false;
        }
        if (!rp_utf8_valid(v, strlen(v), NULL)) {
            rp_warn("metrics: refusing '%s': the value of label '%s' is not UTF-8", metric, n);
            return false;
        }
        if (histogram && strcmp(n, "le") == 0) {
            rp_warn("metrics: refusing '%s': a histogram may not use the label 'le'", metric);
            return false;
        }
        for (size_t i = 0; i < la->n; i++) {
            if (strcmp(la->name[i], n) == 0) {
                rp_warn("metrics: refusing '%s': label '%s' given twice", metric, n);
                return false;
            }
        }
        la->name[la->n] = n;
        la->value[la->n] = v;
        la->n++;
    }
}

static bool same_labels(const struct series *s, const struct label_args *la)
{
    if (s->n_labels != la->n)
        return false;
    for (size_t i = 0; i < la->n; i++) {
        size_t j = 0;
        while (j < s->n_labels && strcmp(s->labels[j].name, la->name[i]) != 0)
            j++;
        if (j == s->n_labels || strcmp(s->labels[j].value, la->value[i]) != 0)
            return false;
    }
    return true;
}

static struct series *series_of(struct family *f, void *h)
{
    switch (f->type) {
    case FAM_COUNTER:
        return &((struct rp_counter *)h)->s;
    case FAM_GAUGE:
        return &((struct rp_gauge *)h)->s;
    case FAM_HISTOGRAM:
        return &((struct rp_histogram *)h)->s;
    }
    return NULL;
}

static void series_release(struct series *s)
{
    for (size_t i = 0; i < s->n_labels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
}

static void family_free(struct family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_series; i++) {
        series_release(series_of(f, f->series[i]));
        free(f->series[i]);
    }
    free(f->series);
    free(f->name);
    free(f->help);
    free(f);
}

static struct family *find_family(struct rp_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_fams; i++)
        if (strcmp(m->fams[i]->name, name) == 0)
            return m->fams[i];
    return NULL;
}

/* true when a is b followed by one of a histogram's series suffixes. */
static bool is_hist_suffix_of(const char *a, const char *b)
{
    size_t nb = strlen(b);
    if (strncmp(a, b, nb) != 0)
        return false;
    return strcmp(a + nb, "_bucket") == 0 || strcmp(a + nb, "_sum") == 0 ||
           strcmp(a + nb, "_count") == 0;
}

/* The family a new series of this name and type may join: the existing one,
 * a new one (appended), or NULL with a warning. Called with m->mu held. */
static struct family *family_for(struct rp_metrics *m, enum fam_type type, const char *name,
                                 const char *help, const double *bounds, size_t n_bounds)
{
    struct family *f = find_family(m, name);
    if (f) {
        if (f->type != type) {
            rp_warn("metrics: refusing %s '%s': already registered as a %s", type_names[type], name,
                    type_names[f->type]);
            return NULL;
        }
        if (type == FAM_HISTOGRAM && (f->n_bounds != n_bounds ||
                                      memcmp(f->bounds, bounds, n_bounds * sizeof(double)) != 0)) {
            rp_warn("metrics: refusing histogram '%s': registered before with other buckets", name);
            return NULL;
        }
        return f;
    }
    for (size_t i = 0; i < m->n_fams; i++) {
        const struct family *o = m->fams[i];
        if ((o->type == FAM_HISTOGRAM && is_hist_suffix_of(name, o->name)) ||
            (type == FAM_HISTOGRAM && is_hist_suffix_of(o->name, name))) {
            rp_warn("metrics: refusing '%s': its series would clash with '%s'", name, o->name);
            return NULL;
        }
    }
    if (!rp_vec_reserve((void **)&m->fams, &m->cap_fams, m->n_fams, sizeof(*m->fams)))
        return NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->type = type;
    f->n_bounds = n_bounds;
    if (n_bounds)
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));
    if (!f->name || !f->help) {
        family_free(f);
        return NULL;
    }
    m->fams[m->n_fams++] = f;
    return f;
}

static void *alloc_handle(size_t size)
{
    size = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    void *p = aligned_alloc(CACHE_LINE, size);
    if (p)
        memset(p, 0, size);
    return p;
}

static void *register_series(struct rp_metrics *m, enum fam_type type, const char *name,
                             const char *help, const double *bounds, size_t n_bounds, va_list ap)
{
    if (!m)
        return NULL;
    if (!valid_metric_name(name)) {
        rp_warn("metrics: refusing %s '%s': invalid metric name", type_names[type],
                name ? name : "(null)");
        return NULL;
    }
    if (type == FAM_HISTOGRAM) {
        bool ok = bounds && n_bounds >= 1 && n_bounds < RP_HIST_MAX_BUCKETS;
        for (size_t i = 0; ok && i < n_bounds; i++)
            ok = isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]);
        if (!ok) {
            rp_warn("metrics: refusing histogram '%s': bounds must be 1 to %d finite values "
                    "in increasing order",
                    name, RP_HIST_MAX_BUCKETS - 1);
            return NULL;
        }
    }
    if (help && !rp_utf8_valid(help, strlen(help), NULL)) {
        rp_warn("metrics: refusing '%s': its help text is not UTF-8", name);
        return NULL;
    }
    struct label_args la;
    if (!read_labels(name, type == FAM_HISTOGRAM, ap, &la))
        return NULL;

    void *h = NULL;
    pthread_mutex_lock(&m->mu);
    struct family *f = family_for(m, type, name, help, bounds, n_bounds);
    if (!f)
        goto out;
    for (size_t i = 0; i < f->n_series; i++) {
        if (same_labels(series_of(f, f->series[i]), &la)) {
            h = f->series[i];
            goto out;
        }
    }
    if (!rp_vec_reserve((void **)&f->series, &f->cap_series, f->n_series, sizeof(*f->series)))
        goto nomem;
    switch (type) {
    case FAM_COUNTER:
        h = alloc_handle(sizeof(struct rp_counter));
        break;
    case FAM_GAUGE:
        h = alloc_handle(sizeof(struct rp_gauge));
        break;
    case FAM_HISTOGRAM:
        h = alloc_handle(sizeof(struct rp_histogram) + (n_bounds + 1) * sizeof(_Atomic uint64_t));
        if (h) {
            struct rp_histogram *hist = h;
            hist->n_bounds = n_bounds;
            hist->bounds = f->bounds;
        }
        break;
    }
    if (!h)
        goto nomem;
    struct series *s = series_of(f, h);
    s->fam = f;
    if (la.n) {
        s->labels = calloc(la.n, sizeof(*s->labels));
        if (!s->labels)
            goto nomem;
    }
    for (size_t i = 0; i < la.n; i++) {
        s->labels[i].name = strdup(la.name[i]);
        s->labels[i].value = strdup(la.value[i]);
        s->n_labels++;
        if (!s->labels[i].name || !s->labels[i].value)
            goto nomem;
    }
    f->series[f->n_series++] = h;
    goto out;
nomem:
    if (h) {
        series_release(series_of(f, h));
        free(h);
        h = NULL;
    }
    rp_warn("metrics: refusing '%s': out of memory", name);
out:
    /* A family created for a series that then failed stays, empty; renders
     * skip families without series. */
    pthread_mutex_unlock(&m->mu);
    return h;
}

struct rp_counter *rp_metrics_counter(struct rp_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct rp_counter *c = register_series(m, FAM_COUNTER, name, help, NULL, 0, ap);
    va_end(ap);
    return c;
}

struct rp_gauge *rp_metrics_gauge(struct rp_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct rp_gauge *g = register_series(m, FAM_GAUGE, name, help, NULL, 0, ap);
    va_end(ap);
    return g;
}

struct rp_histogram *rp_metrics_histogram(struct rp_metrics *m, const char *name, const char *help,
                                          const double *bounds, size_t n_bounds, ...)
{
    va_list ap;
    va_start(ap, n_bounds);
    struct rp_histogram *h = register_series(m, FAM_HISTOGRAM, name, help, bounds, n_bounds, ap);
    va_end(ap);
    return h;
}

/* ---- lifecycle and hooks ---- */

struct rp_metrics *rp_metrics_new(void)
{
    struct rp_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->render_mu, NULL);
    return m;
}

void rp_metrics_free(struct rp_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_fams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m->hooks);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->render_mu);
    free(m);
}

void rp_metrics_on_collect(struct rp_metrics *m, void (*fn)(void *ud), void *ud)
{
    if (!m || !fn)
        return;
    pthread_mutex_lock(&m->mu);
    if (rp_vec_reserve((void **)&m->hooks, &m->cap_hooks, m->n_hooks, sizeof(*m->hooks)))
        m->hooks[m->n_hooks++] = (struct hook){fn, ud};
    else
        rp_warn("metrics: cannot add a collect hook: out of memory");
    pthread_mutex_unlock(&m->mu);
}

/* Runs the hooks; called with render_mu held and mu not held. The hooks
 * registered so far are copied out first, since a hook may add one. */
static void run_hooks(struct rp_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_hooks;
    struct hook *copy = n ? malloc(n * sizeof(*copy)) : NULL;
    if (copy)
        memcpy(copy, m->hooks, n * sizeof(*copy));
    pthread_mutex_unlock(&m->mu);
    if (n && !copy) {
        rp_warn("metrics: collect hooks skipped: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        copy[i].fn(copy[i].ud);
    free(copy);
}

/* ---- text exposition ---- */

/* Formats v so that it parses back to the same double: integers without
 * an exponent, otherwise the shortest of %.15g..%.17g that round-trips,
 * and the spellings Prometheus uses for the non-finite values. ranpipe
 * never calls setlocale, so the decimal point is '.'. */
static void format_double(char *out, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
    } else if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e21) {
        snprintf(out, n, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, n, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static enum rp_err add_escaped(struct rp_buf *b, const char *s, bool quote)
{
    enum rp_err rc = RP_OK;
    for (; *s && rc == RP_OK; s++) {
        if (*s == '\\')
            rc = rp_buf_add(b, "\\\\", 2);
        else if (*s == '\n')
            rc = rp_buf_add(b, "\\n", 2);
        else if (quote && *s == '"')
            rc = rp_buf_add(b, "\\\"", 2);
        else
            rc = rp_buf_addc(b, *s);
    }
    return rc;
}

/* name[suffix]{labels[,le="..."]} value\n */
static enum rp_err add_sample(struct rp_buf *b, const struct family *f, const char *suffix,
                              const struct series *s, const char *le, const char *value)
{
    enum rp_err rc = rp_buf_addf(b, "%s%s", f->name, suffix);
    if (rc == RP_OK && (s->n_labels || le)) {
        rc = rp_buf_addc(b, '{');
        for (size_t i = 0; rc == RP_OK && i < s->n_labels; i++) {
            rc = rp_buf_addf(b, "%s%s=\"", i ? "," : "", s->labels[i].name);
            if (rc == RP_OK)
                rc = add_escaped(b, s->labels[i].value, true);
            if (rc == RP_OK)
                rc = rp_buf_addc(b, '"');
        }
        if (rc == RP_OK && le)
            rc = rp_buf_addf(b, "%sle=\"%s\"", s->n_labels ? "," : "", le);
        if (rc == RP_OK)
            rc = rp_buf_addc(b, '}');
    }
    if (rc == RP_OK)
        rc = rp_buf_addf(b, " %s\n", value);
    return rc;
}

static void counter_text(const struct rp_counter *c, char *out, size_t n)
{
    uint64_t i = atomic_load_explicit(&c->n, memory_order_relaxed);
    double f = u2d(atomic_load_explicit(&c->fbits, memory_order_relaxed));
    if (f == 0)
        snprintf(out, n, "%" PRIu64, i); /* exact past 2^53 */
    else
        format_double(out, n, (double)i + f);
}

static enum rp_err render_family(struct rp_buf *b, const struct family *f)
{
    char val[64], le[64];
    enum rp_err rc = RP_OK;
    if (f->help[0]) {
        rc = rp_buf_addf(b, "# HELP %s ", f->name);
        if (rc == RP_OK)
            rc = add_escaped(b, f->help, false);
        if (rc == RP_OK)
            rc = rp_buf_addc(b, '\n');
    }
    if (rc == RP_OK)
        rc = rp_buf_addf(b, "# TYPE %s %s\n", f->name, type_names[f->type]);
    for (size_t i = 0; rc == RP_OK && i < f->n_series; i++) {
        switch (f->type) {
        case FAM_COUNTER: {
            const struct rp_counter *c = f->series[i];
            counter_text(c, val, sizeof(val));
            rc = add_sample(b, f, "", &c->s, NULL, val);
            break;
        }
        case FAM_GAUGE: {
            const struct rp_gauge *g = f->series[i];
            format_double(val, sizeof(val), rp_gauge_value(g));
            rc = add_sample(b, f, "", &g->s, NULL, val);
            break;
        }
        case FAM_HISTOGRAM: {
            const struct rp_histogram *h = f->series[i];
            struct rp_hist_snap snap;
            rp_hist_snapshot(h, &snap);
            uint64_t cum = 0;
            for (size_t k = 0; rc == RP_OK && k <= snap.n_bounds; k++) {
                cum += snap.counts[k];
                if (k < snap.n_bounds)
                    format_double(le, sizeof(le), snap.bounds[k]);
                else
                    snprintf(le, sizeof(le), "+Inf");
                snprintf(val, sizeof(val), "%" PRIu64, cum);
                rc = add_sample(b, f, "_bucket", &h->s, le, val);
            }
            format_double(val, sizeof(val), snap.sum);
            if (rc == RP_OK)
                rc = add_sample(b, f, "_sum", &h->s, NULL, val);
            snprintf(val, sizeof(val), "%" PRIu64, snap.count);
            if (rc == RP_OK)
                rc = add_sample(b, f, "_count", &h->s, NULL, val);
            break;
        }
        }
    }
    return rc;
}

enum rp_err rp_metrics_render(struct rp_metrics *m, struct rp_buf *out)
{
    if (!m)
        return RP_ERR_INVAL;
    pthread_mutex_lock(&m->render_mu);
    run_hooks(m);
    enum rp_err rc = RP_OK;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; rc == RP_OK && i < m->n_fams; i++)
        if (m->fams[i]->n_series)
            rc = render_family(out, m->fams[i]);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->render_mu);
    return rc;
}

/* ---- JSON ---- */

static json_t *json_num(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) <= 9007199254740992.0) /* 2^53 */
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *json_u64(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

/* Label values and help were checked for UTF-8 at registration. */
static json_t *json_text(const char *s)
{
    return json_string(s);
}

static json_t *series_json(const struct family *f, const void *h)
{
    const struct series *s = series_of((struct family *)f, (void *)h);
    json_t *o = json_object(), *labels = json_object();
    int bad = !o || !labels;
    for (size_t i = 0; !bad && i < s->n_labels; i++)
        bad |= set_new(labels, s->labels[i].name, json_text(s->labels[i].value));
    if (!bad)
        bad |= json_object_set(o, "labels", labels);
    json_decref(labels);
    switch (f->type) {
    case FAM_COUNTER: {
        const struct rp_counter *c = h;
        double fr = u2d(atomic_load_explicit(&c->fbits, memory_order_relaxed));
        if (!bad)
            bad |= set_new(o, "value",
                           fr == 0 ? json_u64(atomic_load_explicit(&c->n, memory_order_relaxed))
                                   : json_num(rp_counter_value(c)));
        break;
    }
    case FAM_GAUGE:
        if (!bad)
            bad |= set_new(o, "value", json_num(rp_gauge_value(h)));
        break;
    case FAM_HISTOGRAM: {
        struct rp_hist_snap snap;
        rp_hist_snapshot(h, &snap);
        json_t *buckets = json_array();
        bad |= !buckets;
        uint64_t cum = 0;
        for (size_t k = 0; !bad && k <= snap.n_bounds; k++) {
            cum += snap.counts[k];
            json_t *bk = json_object();
            bad |= !bk;
            if (!bad)
                bad |= set_new(bk, "le",
                               k < snap.n_bounds ? json_num(snap.bounds[k]) : json_string("+Inf"));
            if (!bad)
                bad |= set_new(bk, "count", json_u64(cum));
            if (bk)
                bad |= json_array_append_new(buckets, bk);
        }
        if (!bad)
            bad |= json_object_set(o, "buckets", buckets);
        json_decref(buckets);
        if (!bad)
            bad |= set_new(o, "sum", json_num(snap.sum));
        if (!bad)
            bad |= set_new(o, "count", json_u64(snap.count));
        if (!bad && snap.count) {
            bad |= set_new(o, "p50", json_num(rp_hist_quantile(&snap, 0.5)));
            bad |= set_new(o, "p90", json_num(rp_hist_quantile(&snap, 0.9)));
            bad |= set_new(o, "p99", json_num(rp_hist_quantile(&snap, 0.99)));
        }
        break;
    }
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *rp_metrics_to_json(struct rp_metrics *m)
{
    if (!m)
        return NULL;
    json_t *root = json_object();
    if (!root)
        return NULL;
    pthread_mutex_lock(&m->render_mu);
    run_hooks(m);
    pthread_mutex_lock(&m->mu);
    int bad = 0;
    for (size_t i = 0; !bad && i < m->n_fams; i++) {
        const struct family *f = m->fams[i];
        if (!f->n_series)
            continue;
        json_t *fo = json_object(), *series = json_array();
        bad = !fo || !series;
        if (!bad)
            bad |= set_new(fo, "type", json_string(type_names[f->type]));
        if (!bad)
            bad |= set_new(fo, "help", json_text(f->help));
        for (size_t k = 0; !bad && k < f->n_series; k++) {
            json_t *so = series_json(f, f->series[k]);
            bad |= !so || json_array_append_new(series, so);
        }
        if (!bad)
            bad |= json_object_set(fo, "series", series);
        if (!bad)
            bad |= json_object_set(root, f->name, fo);
        json_decref(series);
        json_decref(fo);
    }
    if (bad) {
        json_decref(root);
        root = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->render_mu);
    return root;
}
