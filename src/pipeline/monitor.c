/*
 * monitor.c - a run's metrics, progress, alerts, bottleneck and summary
 * (see monitor.h).
 */
#include "pipeline/monitor.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ranpipe/dataset.h"
#include "ranpipe/fs.h"
#include "ranpipe/hash.h"
#include "ranpipe/log.h"
#include "ranpipe/report.h"
#include "ranpipe/version.h"
#include <stdarg.h>

#define MAX_TIERS RP_RUN_MAX_TIERS
#define MAX_SAMPLES 600     /* throughput points kept (halved when full) */
#define MAX_REASONS 200     /* distinct rejection reasons counted; the rest are "other" */
#define N_PAIR_SAMPLES 20   /* accepted and rejected pairs shown in the report */
#define SAMPLE_QUESTION_MAX 400 /* bytes of a sample's question and answer shown; */
#define SAMPLE_ANSWER_MAX 800   /* rejects.jsonl and dataset.jsonl have them whole */
#define SAMPLE_REASONS_MAX 8
#define MAX_ALERTS 256

static const char *const stage_names[MON__STAGES] = {"ingest", "route", "generate", "assess"};

struct tp_point {
    double t;
    uint64_t docs, chunks, pairs, rejects, gen_tokens;
};

struct doc_row {
    char *source;
    char *error;
    bool dead;
    uint64_t chunks, pairs, rejects;
    uint32_t tier_chunks[MAX_TIERS];
};

struct reason_count {
    uint64_t hash; /* of stage and reason: compared first */
    char stage[32];
    char reason[96];
    uint64_t count;
};

struct pair_sample {
    char *id, *source, *tier, *question, *answer, *stage, *reasons; /* reasons: '\n'-separated */
    double score;
};

/* An alert raised: what summary.json lists. */
struct alert {
    char key[96]; /* the alert's name, with its tier for a breaker */
    char message[256];
    double t;
};

/* One condition watched, with its ranpipe_alert_active series. */
enum { ALERT_PASS_RATE, ALERT_ERROR_RATE, ALERT_BREAKER /* + tier index */ };
struct alert_slot {
    char key[96];
    struct rp_gauge *active_g;
    bool active;
};

struct mon {
    struct mon_params p;
    struct rp_metrics *metrics;
    bool own_metrics;
    double t0;
    time_t wall0;
    _Atomic uint64_t docs_ingested; /* by the ingest thread, parsed or not */
    size_t n_tiers;

    /* metrics */
    struct rp_gauge *files_found, *waiting, *in_flight, *ingest_done_g;
    struct rp_counter *docs_ok, *docs_failed, *chunks, *chunks_done, *pairs_acc, *pairs_rej, *dead, *errors;
    struct rp_histogram *quality;
    struct rp_counter *stage_busy[MON__STAGES], *stage_wait_in[MON__STAGES], *stage_wait_out[MON__STAGES],
        *stage_items[MON__STAGES];
    struct rp_counter *gen_full, *gen_starved;
    struct rp_counter *t_req_ok[MAX_TIERS], *t_req_fail[MAX_TIERS], *t_req_cache[MAX_TIERS];
    struct rp_counter *t_prompt[MAX_TIERS], *t_gen[MAX_TIERS], *t_chunks[MAX_TIERS], *t_pairs[MAX_TIERS];
    struct rp_histogram *t_latency[MAX_TIERS];
    struct rp_gauge *t_breaker[MAX_TIERS];
    struct rp_counter *alerts_total;

    /* ticker thread */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* the ticker's wait, and the alert list */
    pthread_cond_t cond;
    bool stop;
    struct rp_progress *progress;
    struct tp_point *points;
    size_t n_points;
    double point_every; /* seconds between kept points (doubles when the list halves) */
    struct alert alerts[MAX_ALERTS];
    size_t n_alerts;
    struct alert_slot slots[ALERT_BREAKER + MAX_TIERS];

    /* main thread */
    struct doc_row *docs;
    size_t n_docs, cap_docs;
    struct reason_count *reasons;
    size_t n_reasons;
    uint64_t other_reasons;
    struct pair_sample acc[N_PAIR_SAMPLES], rej[N_PAIR_SAMPLES];
    uint64_t n_acc_seen, n_rej_seen;
    uint64_t rng;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t cval(const struct rp_counter *c)
{
    double v = rp_counter_value(c);
    return v > 0 ? (uint64_t)v : 0;
}

/* ---- set-up ---- */

static void register_metrics(struct mon *m)
{
    struct rp_metrics *r = m->metrics;
    m->files_found = rp_metrics_gauge(r, "ranpipe_input_files", "Input files the run found", NULL);
    m->ingest_done_g = rp_metrics_gauge(r, "ranpipe_ingest_done", "1 once every input file has been read", NULL);
    m->docs_ok = rp_metrics_counter(r, "ranpipe_documents_total", "Documents taken by the run", "status", "ok", NULL);
    m->docs_failed =
        rp_metrics_counter(r, "ranpipe_documents_total", "Documents taken by the run", "status", "failed", NULL);
    m->chunks = rp_metrics_counter(r, "ranpipe_chunks_total", "Chunks made from the documents", NULL);
    m->chunks_done = rp_metrics_counter(r, "ranpipe_chunks_done_total", "Chunks whose output is written", NULL);
    m->pairs_acc = rp_metrics_counter(r, "ranpipe_pairs_total", "Question-answer pairs assessed", "verdict",
                                      "accepted", NULL);
    m->pairs_rej = rp_metrics_counter(r, "ranpipe_pairs_total", "Question-answer pairs assessed", "verdict",
                                      "rejected", NULL);
    m->dead = rp_metrics_counter(r, "ranpipe_dead_letters_total", "Chunks no tier could generate for", NULL);
    m->errors = rp_metrics_counter(r, "ranpipe_errors_total",
                                   "Failed documents and failed generation requests", NULL);
    m->quality = rp_metrics_histogram(r, "ranpipe_quality_score", "Quality score of each assessed pair",
                                      rp_buckets_quality, RP_BUCKETS_QUALITY_N, NULL);
    m->waiting = rp_metrics_gauge(r, "ranpipe_queue_jobs", "Chunks waiting for a tier", "queue", "waiting", NULL);
    m->in_flight =
        rp_metrics_gauge(r, "ranpipe_queue_jobs", "Chunks waiting for a tier", "queue", "in_flight", NULL);
    for (int s = 0; s < MON__STAGES; s++) {
        const char *n = stage_names[s];
        m->stage_busy[s] = rp_metrics_counter(r, "ranpipe_stage_busy_seconds_total",
                                              "Time each stage spent working", "stage", n, NULL);
        m->stage_wait_in[s] = rp_metrics_counter(r, "ranpipe_stage_wait_seconds_total",
                                                 "Time each stage spent waiting on a queue", "stage", n, "queue",
                                                 "input", NULL);
        m->stage_wait_out[s] = rp_metrics_counter(r, "ranpipe_stage_wait_seconds_total",
                                                  "Time each stage spent waiting on a queue", "stage", n, "queue",
                                                  "output", NULL);
        m->stage_items[s] =
            rp_metrics_counter(r, "ranpipe_stage_items_total", "Items each stage finished", "stage", n, NULL);
    }
    m->gen_full = rp_metrics_counter(r, "ranpipe_generate_saturated_seconds_total",
                                     "Time chunks waited because every slot of their tier was busy", NULL);
    m->gen_starved = rp_metrics_counter(r, "ranpipe_generate_starved_seconds_total",
                                        "Time the backends had room but no chunk to work on", NULL);
    m->alerts_total = rp_metrics_counter(r, "ranpipe_alerts_total", "Alerts raised", NULL);
    snprintf(m->slots[ALERT_PASS_RATE].key, sizeof(m->slots[0].key), "pass_rate_low");
    snprintf(m->slots[ALERT_ERROR_RATE].key, sizeof(m->slots[0].key), "error_rate_high");
    const struct rp_config *cfg = m->p.cfg;
    m->n_tiers = cfg->n_tiers < MAX_TIERS ? cfg->n_tiers : MAX_TIERS;
    for (size_t i = 0; i < m->n_tiers; i++) {
        const char *t = cfg->tiers[i].name;
        m->t_chunks[i] = rp_metrics_counter(r, "ranpipe_tier_chunks_total", "Chunks whose pairs came from a tier",
                                            "tier", t, NULL);
        m->t_pairs[i] = rp_metrics_counter(r, "ranpipe_tier_pairs_total", "Accepted pairs a tier made", "tier", t,
                                           NULL);
        if (cfg->tiers[i].kind == RP_BACKEND_EXTRACTIVE)
            continue;
        m->t_req_ok[i] = rp_metrics_counter(r, "ranpipe_requests_total", "Generation requests that finished",
                                            "tier", t, "outcome", "ok", NULL);
        m->t_req_fail[i] = rp_metrics_counter(r, "ranpipe_requests_total", "Generation requests that finished",
                                              "tier", t, "outcome", "failed", NULL);
        m->t_req_cache[i] = rp_metrics_counter(r, "ranpipe_requests_total", "Generation requests that finished",
                                               "tier", t, "outcome", "cache", NULL);
        m->t_prompt[i] =
            rp_metrics_counter(r, "ranpipe_prompt_tokens_total", "Prompt tokens sent to a tier", "tier", t, NULL);
        m->t_gen[i] = rp_metrics_counter(r, "ranpipe_generated_tokens_total", "Tokens a tier generated", "tier",
                                         t, NULL);
        m->t_latency[i] = rp_metrics_histogram(r, "ranpipe_request_duration_seconds",
                                               "Time from a request's submission to its answer",
                                               rp_buckets_latency_s, RP_BUCKETS_LATENCY_S_N, "tier", t, NULL);
        m->t_breaker[i] = rp_metrics_gauge(r, "ranpipe_tier_breaker_state",
                                           "Circuit breaker: 0 closed, 1 half-open, 2 open", "tier", t, NULL);
        snprintf(m->slots[ALERT_BREAKER + i].key, sizeof(m->slots[0].key), "breaker_open:%s", t);
    }
    for (size_t i = 0; i < ALERT_BREAKER + m->n_tiers; i++)
        if (m->slots[i].key[0])
            m->slots[i].active_g = rp_metrics_gauge(r, "ranpipe_alert_active", "1 while an alert's condition holds",
                                                    "alert", m->slots[i].key, NULL);
}

struct mon *mon_new(const struct mon_params *p)
{
    struct mon *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->p = *p;
    m->t0 = now_s();
    m->wall0 = time(NULL);
    m->metrics = p->metrics;
    if (!m->metrics) {
        m->metrics = rp_metrics_new();
        m->own_metrics = true;
        if (!m->metrics) {
            free(m);
            return NULL;
        }
    }
    m->points = calloc(MAX_SAMPLES + 1, sizeof(*m->points));
    if (!m->points) {
        mon_free(m);
        return NULL;
    }
    m->point_every = 1.0;
    m->rng = (p->cfg->seed ^ 0x9e3779b97f4a7c15ull) | 1;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    register_metrics(m);
    struct rp_progress_params pp = rp_progress_default_params();
    pp.mode = p->progress;
    pp.plain_interval_s = p->cfg->monitor.progress_interval_s;
    if (p->progress != RP_PROGRESS_OFF)
        m->progress = rp_progress_new(&pp);
    return m;
}

static void sample_free(struct pair_sample *s)
{
    free(s->id);
    free(s->source);
    free(s->tier);
    free(s->question);
    free(s->answer);
    free(s->stage);
    free(s->reasons);
    memset(s, 0, sizeof(*s));
}

void mon_free(struct mon *m)
{
    if (!m)
        return;
    mon_stop(m);
    rp_progress_free(m->progress);
    for (size_t i = 0; i < m->n_docs; i++) {
        free(m->docs[i].source);
        free(m->docs[i].error);
    }
    free(m->docs);
    free(m->reasons);
    for (int i = 0; i < N_PAIR_SAMPLES; i++) {
        sample_free(&m->acc[i]);
        sample_free(&m->rej[i]);
    }
    free(m->points);
    if (m->own_metrics)
        rp_metrics_free(m->metrics);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}

/* ---- hooks ---- */

void mon_files(struct mon *m, size_t n)
{
    if (m)
        rp_gauge_set(m->files_found, (double)n);
}

void mon_ingested(struct mon *m, size_t n_chunks)
{
    if (!m)
        return;
    atomic_fetch_add_explicit(&m->docs_ingested, 1, memory_order_relaxed);
    rp_counter_add(m->chunks, n_chunks);
}

void mon_ingest_done(struct mon *m)
{
    if (m)
        rp_gauge_set(m->ingest_done_g, 1);
}

void mon_stage_time(struct mon *m, enum mon_stage s, double busy, double wait_in, double wait_out)
{
    if (!m)
        return;
    if (busy > 0)
        rp_counter_add_f(m->stage_busy[s], busy);
    if (wait_in > 0)
        rp_counter_add_f(m->stage_wait_in[s], wait_in);
    if (wait_out > 0)
        rp_counter_add_f(m->stage_wait_out[s], wait_out);
}

void mon_stage_items(struct mon *m, enum mon_stage s, uint64_t n)
{
    if (m)
        rp_counter_add(m->stage_items[s], n);
}

void mon_gen_state(struct mon *m, double dt, bool in_flight, bool full, bool starved)
{
    if (!m || dt <= 0)
        return;
    if (in_flight)
        rp_counter_add_f(m->stage_busy[MON_GENERATE], dt);
    if (full)
        rp_counter_add_f(m->gen_full, dt);
    if (starved) {
        rp_counter_add_f(m->gen_starved, dt);
        rp_counter_add_f(m->stage_wait_in[MON_GENERATE], dt);
    }
}

/* A copy of s cut to at most max bytes at a UTF-8 boundary, with "..."
 * (U+2026) after a cut. */
static char *dup_cut(const char *s, size_t max)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
    }
    char *d = malloc(n + (cut ? 3 : 0) + 1);
    if (d) {
        memcpy(d, s, n);
        if (cut)
            memcpy(d + n, "\xe2\x80\xa6", 3);
        d[n + (cut ? 3 : 0)] = '\0';
    }
    return d;
}

size_t mon_doc(struct mon *m, const char *source, const char *error, size_t n_chunks)
{
    if (!m)
        return SIZE_MAX;
    rp_counter_inc(error ? m->docs_failed : m->docs_ok);
    if (error)
        rp_counter_inc(m->errors);
    mon_stage_items(m, MON_INGEST, 1);
    mon_stage_items(m, MON_ROUTE, n_chunks);
    if (m->n_docs == m->cap_docs) {
        size_t cap = m->cap_docs ? m->cap_docs * 2 : 64;
        struct doc_row *d = realloc(m->docs, cap * sizeof(*d));
        if (!d)
            return SIZE_MAX;
        m->docs = d;
        m->cap_docs = cap;
    }
    struct doc_row *d = &m->docs[m->n_docs];
    memset(d, 0, sizeof(*d));
    d->source = dup_cut(source, 4096);
    d->error = error ? dup_cut(error, 1024) : NULL;
    if (!d->source)
        return SIZE_MAX;
    return m->n_docs++;
}

static struct doc_row *row(struct mon *m, size_t i)
{
    return m && i < m->n_docs ? &m->docs[i] : NULL;
}

void mon_request(struct mon *m, int tier, bool ok, bool cached, double seconds, int64_t prompt_tokens,
                 int64_t gen_tokens)
{
    if (!m || tier < 0 || (size_t)tier >= m->n_tiers)
        return;
    mon_stage_items(m, MON_GENERATE, 1);
    if (cached) {
        rp_counter_inc(m->t_req_cache[tier]);
        return;
    }
    rp_counter_inc(ok ? m->t_req_ok[tier] : m->t_req_fail[tier]);
    if (!ok)
        rp_counter_inc(m->errors);
    rp_hist_observe(m->t_latency[tier], seconds);
    rp_counter_add(m->t_prompt[tier], prompt_tokens > 0 ? (uint64_t)prompt_tokens : 0);
    rp_counter_add(m->t_gen[tier], gen_tokens > 0 ? (uint64_t)gen_tokens : 0);
}

void mon_chunk_done(struct mon *m, size_t doc_row, int tier)
{
    if (!m)
        return;
    rp_counter_inc(m->chunks_done);
    if (tier >= 0 && (size_t)tier < m->n_tiers)
        rp_counter_inc(m->t_chunks[tier]);
    struct doc_row *d = row(m, doc_row);
    if (d && tier >= 0 && tier < MAX_TIERS)
        d->tier_chunks[tier]++;
    if (d)
        d->chunks++;
}

void mon_dead_letter(struct mon *m, size_t doc_row)
{
    if (!m)
        return;
    rp_counter_inc(m->dead);
    struct doc_row *d = row(m, doc_row);
    if (d)
        d->dead = true;
}

/* A reason's kind, without the particulars (the identifier, the number,
 * the file): "hallucinated identifier 'x' (not in the context)" counts as
 * "hallucinated identifier". */
static void reason_key(const char *reason, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = reason ? reason : ""; *s && n + 1 < cap; s++) {
        if (*s == '\'' || *s == '"' || *s == '(' || *s == '[' || *s == '{' || *s == ';' || *s == '\n' ||
            (*s >= '0' && *s <= '9') || (*s == ':' && n > 0 && strchr(" \n", s[1]) == NULL))
            break;
        out[n++] = *s;
    }
    while (n > 0 && strchr(" :,.-/", out[n - 1]))
        n--;
    out[n] = '\0';
    if (n == 0 && cap >= sizeof("unspecified"))
        memcpy(out, "unspecified", sizeof("unspecified"));
}

/* Counts one rejection under (stage, key), key a reason_key(). */
static void count_key(struct mon *m, const char *stage, const char *key)
{
    uint64_t h = rp_hash64_seeded(key, strlen(key), rp_hash64(stage, strlen(stage)));
    for (size_t i = 0; i < m->n_reasons; i++) {
        if (m->reasons[i].hash == h && strcmp(m->reasons[i].stage, stage) == 0 &&
            strcmp(m->reasons[i].reason, key) == 0) {
            m->reasons[i].count++;
            return;
        }
    }
    if (m->n_reasons == MAX_REASONS) {
        m->other_reasons++;
        return;
    }
    if (!m->reasons) {
        m->reasons = calloc(MAX_REASONS, sizeof(*m->reasons));
        if (!m->reasons) {
            m->other_reasons++;
            return;
        }
    }
    struct reason_count *rc = &m->reasons[m->n_reasons++];
    rc->hash = h;
    snprintf(rc->stage, sizeof(rc->stage), "%s", stage);
    snprintf(rc->reason, sizeof(rc->reason), "%s", key);
    rc->count = 1;
}

static void count_reason(struct mon *m, const char *stage, const char *reason)
{
    char key[96];
    reason_key(reason, key, sizeof(key));
    count_key(m, stage, key);
}

static uint64_t next_rand(struct mon *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

/* Reservoir sampling: every pair has the same chance to be shown, and the
 * same run (seed) shows the same ones. */
static struct pair_sample *sample_slot(struct mon *m, struct pair_sample *set, uint64_t *seen)
{
    uint64_t k = (*seen)++;
    if (k < N_PAIR_SAMPLES)
        return &set[k];
    uint64_t j = next_rand(m) % (k + 1);
    return j < N_PAIR_SAMPLES ? &set[j] : NULL;
}

static const char *tier_name(const struct mon *m, int tier)
{
    return tier >= 0 && (size_t)tier < m->n_tiers ? m->p.cfg->tiers[tier].name : "extractive";
}

void mon_pair(struct mon *m, size_t doc_row, int tier, const char *id, const char *source, const char *question,
              const char *answer, const struct rp_quality *q)
{
    if (!m)
        return;
    rp_hist_observe(m->quality, q->score);
    rp_counter_inc(q->accept ? m->pairs_acc : m->pairs_rej);
    mon_stage_items(m, MON_ASSESS, 1);
    struct doc_row *d = row(m, doc_row);
    if (q->accept) {
        if (d)
            d->pairs++;
        if (tier >= 0 && (size_t)tier < m->n_tiers)
            rp_counter_inc(m->t_pairs[tier]);
    } else {
        if (d)
            d->rejects++;
        /* Each kind of defect once per pair. */
        char seen[RP_QUALITY_MAX_REASONS][96];
        size_t n_seen = 0;
        for (size_t i = 0; i < q->n_reasons && n_seen < RP_QUALITY_MAX_REASONS; i++) {
            char *key = seen[n_seen];
            reason_key(q->reasons[i], key, sizeof(seen[0]));
            bool dup = false;
            for (size_t k = 0; k < n_seen && !dup; k++)
                dup = strcmp(seen[k], key) == 0;
            if (dup)
                continue;
            n_seen++;
            count_key(m, "assess", key);
        }
        if (q->n_reasons == 0)
            count_reason(m, "assess", "score below the threshold");
    }
    struct pair_sample *s = q->accept ? sample_slot(m, m->acc, &m->n_acc_seen) : sample_slot(m, m->rej, &m->n_rej_seen);
    if (!s)
        return;
    sample_free(s);
    s->id = dup_cut(id, 64);
    s->source = dup_cut(source, 1024);
    s->tier = dup_cut(tier_name(m, tier), 64);
    s->question = dup_cut(question, SAMPLE_QUESTION_MAX);
    s->answer = dup_cut(answer, SAMPLE_ANSWER_MAX);
    s->score = q->score;
    if (!q->accept) {
        s->stage = dup_cut("assess", 16);
        size_t shown = q->n_reasons < SAMPLE_REASONS_MAX ? q->n_reasons : SAMPLE_REASONS_MAX;
        char more[96] = "";
        if (shown < q->n_reasons)
            snprintf(more, sizeof(more), "and %zu more reasons (rejects.jsonl has them all)", q->n_reasons - shown);
        size_t len = strlen(more) + 1;
        for (size_t i = 0; i < shown; i++)
            len += strlen(q->reasons[i]) + 1;
        s->reasons = malloc(len + 1);
        if (s->reasons) {
            size_t at = 0;
            for (size_t i = 0; i < shown; i++) {
                size_t n = strlen(q->reasons[i]);
                memcpy(s->reasons + at, q->reasons[i], n);
                at += n;
                s->reasons[at++] = '\n';
            }
            size_t n = strlen(more);
            memcpy(s->reasons + at, more, n);
            at += n;
            s->reasons[at] = '\0';
        }
    }
}

void mon_reject(struct mon *m, size_t doc_row, const char *stage, const char *reason)
{
    if (!m)
        return;
    struct doc_row *d = row(m, doc_row);
    if (d)
        d->rejects++;
    count_reason(m, stage, reason);
}

void mon_gauges(struct mon *m, size_t waiting, size_t in_flight, const struct rp_tier_stats *st, size_t n_tiers)
{
    if (!m)
        return;
    rp_gauge_set(m->waiting, (double)waiting);
    rp_gauge_set(m->in_flight, (double)in_flight);
    for (size_t i = 0; i < n_tiers && i < m->n_tiers; i++)
        rp_gauge_set(m->t_breaker[i], st[i].breaker == RP_BREAKER_OPEN        ? 2
                                      : st[i].breaker == RP_BREAKER_HALF_OPEN ? 1
                                                                              : 0);
}

/* ---- the ticker: progress, throughput, alerts ---- */

static void snapshot(struct mon *m, double t, struct rp_progress_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->elapsed_s = t;
    s->docs_done = cval(m->docs_ok) + cval(m->docs_failed);
    double files = rp_gauge_value(m->files_found);
    uint64_t ingested = atomic_load_explicit(&m->docs_ingested, memory_order_relaxed);
    s->docs_total = s->docs_done > ingested ? s->docs_done : ingested;
    if (!(rp_gauge_value(m->ingest_done_g) > 0) && files > (double)s->docs_total)
        s->docs_total = (uint64_t)files; /* archives may hold more */
    s->totals_final = rp_gauge_value(m->ingest_done_g) > 0;
    s->chunks_done = cval(m->chunks_done);
    s->chunks_total = cval(m->chunks);
    s->pairs_accepted = cval(m->pairs_acc);
    s->pairs_rejected = cval(m->pairs_rej);
    s->errors = cval(m->errors);
    for (size_t i = 0; i < m->n_tiers; i++) {
        s->gen_tokens += cval(m->t_gen[i]);
        s->cache_hits += cval(m->t_req_cache[i]);
        if (s->n_tiers < RP_PROGRESS_MAX_TIERS) {
            double b = rp_gauge_value(m->t_breaker[i]);
            s->tiers[s->n_tiers++] = (struct rp_progress_tier){
                .name = m->p.cfg->tiers[i].name,
                .chunks = cval(m->t_chunks[i]),
                .pairs = cval(m->t_pairs[i]),
                .health = b >= 2 ? "open" : b >= 1 ? "degraded" : "ok",
            };
        }
    }
}

static void add_point(struct mon *m, double t, bool force)
{
    if (!force && m->n_points && t - m->points[m->n_points - 1].t < m->point_every)
        return;
    if (m->n_points == MAX_SAMPLES) {
        /* Keep every other point; sample half as often from now on. */
        size_t k = 0;
        for (size_t i = 1; i < m->n_points; i += 2)
            m->points[k++] = m->points[i];
        m->n_points = k;
        m->point_every *= 2;
    }
    struct tp_point *p = &m->points[m->n_points++];
    p->t = t;
    p->docs = cval(m->docs_ok) + cval(m->docs_failed);
    p->chunks = cval(m->chunks_done);
    p->pairs = cval(m->pairs_acc);
    p->rejects = cval(m->pairs_rej);
    p->gen_tokens = 0;
    for (size_t i = 0; i < m->n_tiers; i++)
        p->gen_tokens += cval(m->t_gen[i]);
}

/* Alert slot i's condition now true or false: logged and counted when it
 * becomes true, re-armed when it clears. Caller holds m->lock. */
static void alert_state(struct mon *m, size_t i, bool on, double t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static void alert_state(struct mon *m, size_t i, bool on, double t, const char *fmt, ...)
{
    struct alert_slot *sl = &m->slots[i];
    if (on == sl->active)
        return;
    sl->active = on;
    rp_gauge_set(sl->active_g, on ? 1 : 0);
    if (!on)
        return;
    rp_counter_inc(m->alerts_total);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rp_warn("alert %s: %s", sl->key, msg);
    if (m->n_alerts < MAX_ALERTS) {
        struct alert *a = &m->alerts[m->n_alerts++];
        memcpy(a->key, sl->key, sizeof(a->key)); /* same size, NUL-terminated */
        snprintf(a->message, sizeof(a->message), "%s", msg);
        a->t = t;
    }
}

static void check_alerts(struct mon *m, double t)
{
    const struct rp_alert_config *ac = &m->p.cfg->monitor.alerts;
    uint64_t acc = cval(m->pairs_acc), rej = cval(m->pairs_rej);
    uint64_t ok = 0, failed = 0;
    for (size_t i = 0; i < m->n_tiers; i++) {
        ok += cval(m->t_req_ok[i]);
        failed += cval(m->t_req_fail[i]);
    }
    pthread_mutex_lock(&m->lock);
    double pass = acc + rej ? (double)acc / (double)(acc + rej) : 1.0;
    alert_state(m, ALERT_PASS_RATE,
                ac->min_pass_rate > 0 && acc + rej >= ac->min_samples && pass < ac->min_pass_rate, t,
                "%.0f%% of %llu assessed pairs passed (alert below %.0f%%)", 100 * pass,
                (unsigned long long)(acc + rej), 100 * ac->min_pass_rate);
    double er = ok + failed ? (double)failed / (double)(ok + failed) : 0.0;
    alert_state(m, ALERT_ERROR_RATE,
                ac->max_error_rate < 1 && ok + failed >= ac->min_samples && er > ac->max_error_rate, t,
                "%.0f%% of %llu generation requests failed (alert above %.0f%%)", 100 * er,
                (unsigned long long)(ok + failed), 100 * ac->max_error_rate);
    for (size_t i = 0; i < m->n_tiers; i++) {
        if (!m->t_breaker[i])
            continue;
        alert_state(m, ALERT_BREAKER + i, ac->breaker_open && rp_gauge_value(m->t_breaker[i]) >= 2, t,
                    "tier '%s': circuit breaker open, its backend keeps failing; chunks go to other tiers or wait",
                    m->p.cfg->tiers[i].name);
    }
    pthread_mutex_unlock(&m->lock);
}

static void *ticker(void *arg)
{
    struct mon *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->lock);
        double t = now_s() - m->t0;
        add_point(m, t, false);
        check_alerts(m, t);
        if (m->progress) {
            struct rp_progress_snapshot s;
            snapshot(m, t, &s);
            rp_progress_update(m->progress, &s);
        }
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

void mon_start(struct mon *m)
{
    if (!m || m->started)
        return;
    add_point(m, 0, true);
    m->started = pthread_create(&m->thread, NULL, ticker, m) == 0;
    if (!m->started)
        rp_warn("cannot start the monitor thread: no live progress or alerts for this run");
}

void mon_stop(struct mon *m)
{
    if (!m || !m->started)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    m->started = false;
}

/* ---- the end: bottleneck and summary ---- */

struct stage_times {
    double busy[MON__STAGES], wait_in[MON__STAGES], wait_out[MON__STAGES];
    double full, starved;
};

static void read_times(const struct mon *m, struct stage_times *st)
{
    for (int s = 0; s < MON__STAGES; s++) {
        st->busy[s] = rp_counter_value(m->stage_busy[s]);
        st->wait_in[s] = rp_counter_value(m->stage_wait_in[s]);
        st->wait_out[s] = rp_counter_value(m->stage_wait_out[s]);
    }
    st->full = rp_counter_value(m->gen_full);
    st->starved = rp_counter_value(m->gen_starved);
}

/* Names the stage that limited throughput, from where time went over the
 * run's wall time T:
 *  - generate backend-bound: chunks waited for a busy tier most of the time;
 *  - ingest: generation (or, without LLM tiers, the writer) waited for
 *    input while ingest was busy;
 *  - assess/route cpu-bound: the main thread was busy most of the time;
 *  - ingest output-blocked would mean the queue after it was full: the
 *    stage after it is named instead. */
static void bottleneck(const struct mon *m, double T, const struct stage_times *st, char *stage, size_t scap,
                       const char **kind, char *reason, size_t rcap)
{
    if (T <= 0)
        T = 1e-9;
    double full = st->full / T, starved = st->starved / T;
    double ingest_busy = st->busy[MON_INGEST] / T, ingest_blocked = st->wait_out[MON_INGEST] / T;
    double main_busy = (st->busy[MON_ROUTE] + st->busy[MON_ASSESS]) / T;
    double assess = st->busy[MON_ASSESS] / T, route = st->busy[MON_ROUTE] / T;
    if (m->p.has_llm && full >= 0.5) {
        snprintf(stage, scap, "generate");
        *kind = "backend-bound";
        snprintf(reason, rcap,
                 "generate: backend-bound; its input queue was full %.0f%% of the time (chunks waited for a "
                 "free slot); more workers, parallel sequences or servers would help",
                 100 * full);
    } else if (main_busy >= 0.6) {
        bool a = assess >= route;
        snprintf(stage, scap, "%s", a ? "assess" : "route");
        *kind = "cpu-bound";
        snprintf(reason, rcap, "%s: cpu-bound; the main thread was busy %.0f%% of the time (assess and write %.0f%%, "
                               "complexity and the store %.0f%%)",
                 a ? "assess" : "route", 100 * main_busy, 100 * assess, 100 * route);
    } else if (m->p.has_llm && starved >= 0.3 && ingest_busy >= 0.5) {
        snprintf(stage, scap, "ingest");
        *kind = "cpu-bound";
        snprintf(reason, rcap,
                 "ingest: cpu-bound; the backends waited for chunks %.0f%% of the time while ingest was busy "
                 "%.0f%%",
                 100 * starved, 100 * ingest_busy);
    } else if (!m->p.has_llm && ingest_busy >= 0.5 && ingest_blocked < 0.3) {
        snprintf(stage, scap, "ingest");
        *kind = "cpu-bound";
        snprintf(reason, rcap, "ingest: cpu-bound; reading and parsing took %.0f%% of the run", 100 * ingest_busy);
    } else if (ingest_blocked >= 0.5) {
        snprintf(stage, scap, "%s", m->p.has_llm ? "generate" : "assess");
        *kind = "output-blocked";
        snprintf(reason, rcap, "ingest: blocked %.0f%% of the time on a full queue: the stages after it set the pace",
                 100 * ingest_blocked);
    } else {
        snprintf(stage, scap, "none");
        *kind = "none";
        snprintf(reason, rcap,
                 "no single stage limited throughput (generate busy %.0f%%, saturated %.0f%%, starved %.0f%%; ingest "
                 "busy %.0f%%; main thread busy %.0f%%)",
                 100 * st->busy[MON_GENERATE] / T, 100 * full, 100 * starved, 100 * ingest_busy, 100 * main_busy);
    }
}

static json_t *jnum(double v)
{
    return json_real(isfinite(v) ? v : 0.0);
}

static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *sample_json(const struct pair_sample *s, bool rejected)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", rp_json_text(s->id));
    json_object_set_new(o, "source", rp_json_text(s->source));
    json_object_set_new(o, "tier", rp_json_text(s->tier));
    json_object_set_new(o, "score", jnum(s->score));
    json_object_set_new(o, "question", rp_json_text(s->question));
    json_object_set_new(o, "answer", rp_json_text(s->answer));
    if (rejected) {
        json_object_set_new(o, "stage", rp_json_text(s->stage ? s->stage : "assess"));
        json_t *r = json_array();
        for (const char *p = s->reasons ? s->reasons : ""; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            json_t *one = json_stringn(p, n);
            json_array_append_new(r, one ? one : rp_json_text(""));
            p += n + (nl ? 1 : 0);
        }
        json_object_set_new(o, "reasons", r);
    }
    return o;
}

static int cmp_reason(const void *a, const void *b)
{
    const struct reason_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->stage, y->stage);
    return c ? c : strcmp(x->reason, y->reason);
}

static json_t *summary_json(struct mon *m, const struct rp_run_summary *sum, const char *status, double T,
                            const struct stage_times *st, const char *bstage, const char *bkind,
                            const char *breason)
{
    json_t *o = json_object();
    char t0[32], t1[32];
    iso_time(m->wall0, t0);
    iso_time(time(NULL), t1);
    json_object_set_new(o, "schema", json_string("ranpipe-summary/1"));
    json_object_set_new(o, "ranpipe_version", json_string(RANPIPE_VERSION));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "started_at", json_string(t0));
    json_object_set_new(o, "finished_at", json_string(t1));
    json_object_set_new(o, "seconds", jnum(T));
    json_t *in = json_array();
    for (size_t i = 0; i < m->p.n_inputs; i++)
        json_array_append_new(in, rp_json_text(m->p.inputs[i]));
    json_object_set_new(o, "inputs", in);
    json_object_set_new(o, "out_dir", rp_json_text(m->p.out_dir));

    json_t *tot = json_object();
#define TOT(k, v) json_object_set_new(tot, k, json_integer((json_int_t)(v)))
    TOT("files", sum->files);
    TOT("docs", sum->docs);
    TOT("docs_failed", sum->docs_failed);
    TOT("chunks", sum->chunks);
    TOT("pairs", sum->pairs);
    TOT("extractive_pairs", sum->extractive_pairs);
    TOT("rejects", sum->rejects);
    TOT("quality_rejects", sum->quality_rejects);
    TOT("duplicates", sum->duplicates);
    TOT("conflicts", sum->conflicts);
    TOT("pending", sum->pending);
    TOT("dead_letters", sum->dead_letters);
    TOT("cache_hits", sum->cache_hits);
    TOT("requests_failed", sum->requests_failed);
    TOT("fallbacks", sum->fallbacks);
    TOT("escalations", sum->escalations);
    TOT("prompt_tokens", sum->prompt_tokens);
    TOT("gen_tokens", sum->gen_tokens);
    TOT("docs_new", sum->docs_new);
    TOT("docs_changed", sum->docs_changed);
    TOT("docs_unchanged", sum->docs_unchanged);
    TOT("docs_deleted", sum->docs_deleted);
#undef TOT
    json_object_set_new(o, "totals", tot);

    double Tp = T > 0 ? T : 1e-9;
    json_t *rates = json_object();
    json_object_set_new(rates, "docs_per_hour", jnum((double)(sum->docs + sum->docs_failed) * 3600 / Tp));
    json_object_set_new(rates, "chunks_per_second", jnum((double)sum->chunks / Tp));
    json_object_set_new(rates, "pairs_per_hour", jnum((double)sum->pairs * 3600 / Tp));
    json_object_set_new(rates, "gen_tokens_per_second",
                        jnum(sum->gen_seconds > 0 ? (double)sum->gen_tokens / sum->gen_seconds : 0));
    json_object_set_new(o, "rates", rates);

    json_t *tiers = json_array();
    for (size_t i = 0; i < sum->n_tiers && i < m->n_tiers; i++) {
        const struct rp_run_tier_summary *ts = &sum->tiers[i];
        json_t *t = json_object();
        json_object_set_new(t, "name", rp_json_text(ts->name));
        json_object_set_new(t, "kind", rp_json_text(ts->kind ? ts->kind : "extractive"));
        json_object_set_new(t, "chunks", json_integer((json_int_t)ts->chunks));
        json_object_set_new(t, "pairs", json_integer((json_int_t)ts->pairs));
        json_object_set_new(t, "failed", json_integer((json_int_t)ts->failed));
        json_object_set_new(t, "prompt_tokens", json_integer((json_int_t)ts->prompt_tokens));
        json_object_set_new(t, "gen_tokens", json_integer((json_int_t)ts->gen_tokens));
        struct rp_hist_snap hs;
        rp_hist_snapshot(m->t_latency[i], &hs);
        json_t *lat = json_object();
        json_object_set_new(lat, "count", json_integer((json_int_t)hs.count));
        json_object_set_new(lat, "sum", jnum(hs.sum));
        json_object_set_new(lat, "p50", jnum(hs.count ? rp_hist_quantile(&hs, 0.5) : 0));
        json_object_set_new(lat, "p95", jnum(hs.count ? rp_hist_quantile(&hs, 0.95) : 0));
        json_object_set_new(t, "latency_seconds", lat);
        json_object_set_new(t, "breaker",
                            json_string(ts->stats.breaker == RP_BREAKER_OPEN        ? "open"
                                        : ts->stats.breaker == RP_BREAKER_HALF_OPEN ? "half-open"
                                                                                    : "closed"));
        json_array_append_new(tiers, t);
    }
    json_object_set_new(o, "tiers", tiers);

    json_t *stages = json_array();
    for (int s = 0; s < MON__STAGES; s++) {
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(stage_names[s]));
        json_object_set_new(j, "items", json_integer((json_int_t)cval(m->stage_items[s])));
        json_object_set_new(j, "busy_seconds", jnum(st->busy[s]));
        json_object_set_new(j, "wait_input_seconds", jnum(st->wait_in[s]));
        json_object_set_new(j, "wait_output_seconds", jnum(st->wait_out[s]));
        double share = st->busy[s] / Tp;
        json_object_set_new(j, "busy_share", jnum(share > 1 ? 1 : share));
        json_array_append_new(stages, j);
    }
    json_object_set_new(o, "stages", stages);

    json_t *b = json_object();
    json_object_set_new(b, "stage", json_string(bstage));
    json_object_set_new(b, "kind", json_string(bkind));
    json_object_set_new(b, "reason", rp_json_text(breason));
    json_object_set_new(o, "bottleneck", b);

    json_t *q = json_object();
    json_object_set_new(q, "threshold", jnum(m->p.cfg->quality.scorer.threshold));
    json_object_set_new(q, "accepted", json_integer((json_int_t)cval(m->pairs_acc)));
    json_object_set_new(q, "rejected", json_integer((json_int_t)cval(m->pairs_rej)));
    struct rp_hist_snap qs;
    rp_hist_snapshot(m->quality, &qs);
    json_t *hb = json_array(), *hc = json_array();
    for (size_t i = 0; i < qs.n_bounds; i++) {
        json_array_append_new(hb, jnum(qs.bounds[i]));
        /* Scores are at most 1: the +Inf bucket is empty, added to the last one all the same. */
        uint64_t c = qs.counts[i] + (i + 1 == qs.n_bounds ? qs.counts[qs.n_bounds] : 0);
        json_array_append_new(hc, json_integer((json_int_t)c));
    }
    json_t *hist = json_object();
    json_object_set_new(hist, "bounds", hb);
    json_object_set_new(hist, "counts", hc);
    json_object_set_new(q, "score_histogram", hist);
    json_object_set_new(o, "quality", q);

    json_t *rr = json_array();
    if (m->n_reasons)
        qsort(m->reasons, m->n_reasons, sizeof(*m->reasons), cmp_reason);
    for (size_t i = 0; i < m->n_reasons; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "stage", rp_json_text(m->reasons[i].stage));
        json_object_set_new(r, "reason", rp_json_text(m->reasons[i].reason));
        json_object_set_new(r, "count", json_integer((json_int_t)m->reasons[i].count));
        json_array_append_new(rr, r);
    }
    if (m->other_reasons) {
        json_t *r = json_object();
        json_object_set_new(r, "stage", json_string("any"));
        json_object_set_new(r, "reason", json_string("other"));
        json_object_set_new(r, "count", json_integer((json_int_t)m->other_reasons));
        json_array_append_new(rr, r);
    }
    json_object_set_new(o, "reject_reasons", rr);

    json_t *tp = json_array();
    for (size_t i = 0; i < m->n_points; i++) {
        const struct tp_point *p = &m->points[i];
        json_t *j = json_object();
        json_object_set_new(j, "t", jnum(p->t));
        json_object_set_new(j, "docs", json_integer((json_int_t)p->docs));
        json_object_set_new(j, "chunks", json_integer((json_int_t)p->chunks));
        json_object_set_new(j, "pairs", json_integer((json_int_t)p->pairs));
        json_object_set_new(j, "rejects", json_integer((json_int_t)p->rejects));
        json_object_set_new(j, "gen_tokens", json_integer((json_int_t)p->gen_tokens));
        json_array_append_new(tp, j);
    }
    json_object_set_new(o, "throughput", tp);

    json_t *docs = json_array();
    for (size_t i = 0; i < m->n_docs; i++) {
        const struct doc_row *d = &m->docs[i];
        json_t *j = json_object();
        json_object_set_new(j, "source", rp_json_text(d->source));
        json_object_set_new(j, "status", json_string(d->error ? "failed" : d->dead ? "dead-letter" : "ok"));
        json_object_set_new(j, "chunks", json_integer((json_int_t)d->chunks));
        json_object_set_new(j, "pairs", json_integer((json_int_t)d->pairs));
        json_object_set_new(j, "rejects", json_integer((json_int_t)d->rejects));
        json_t *tm = json_object();
        for (size_t t = 0; t < m->n_tiers; t++)
            if (d->tier_chunks[t])
                json_object_set_new(tm, m->p.cfg->tiers[t].name, json_integer((json_int_t)d->tier_chunks[t]));
        json_object_set_new(j, "tiers", tm);
        if (d->error)
            json_object_set_new(j, "error", rp_json_text(d->error));
        json_array_append_new(docs, j);
    }
    json_object_set_new(o, "documents", docs);

    json_t *samples = json_object(), *sa = json_array(), *sr = json_array();
    for (int i = 0; i < N_PAIR_SAMPLES; i++) {
        if (m->acc[i].id)
            json_array_append_new(sa, sample_json(&m->acc[i], false));
        if (m->rej[i].id)
            json_array_append_new(sr, sample_json(&m->rej[i], true));
    }
    json_object_set_new(samples, "accepted", sa);
    json_object_set_new(samples, "rejected", sr);
    json_object_set_new(o, "samples", samples);

    json_t *al = json_array();
    for (size_t i = 0; i < m->n_alerts; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "name", json_string(m->alerts[i].key));
        json_object_set_new(a, "level", json_string("warning"));
        json_object_set_new(a, "message", rp_json_text(m->alerts[i].message));
        json_object_set_new(a, "t", jnum(m->alerts[i].t));
        json_array_append_new(al, a);
    }
    json_object_set_new(o, "alerts", al);
    json_t *mj = rp_metrics_to_json(m->metrics);
    if (mj)
        json_object_set_new(o, "metrics", mj);
    return o;
}

enum rp_err mon_finish(struct mon *m, struct rp_run_summary *sum, const char *status, struct rp_error *err)
{
    if (!m)
        return RP_OK;
    mon_stop(m);
    double T = now_s() - m->t0;
    add_point(m, T, true);
    check_alerts(m, T);
    if (m->progress) {
        struct rp_progress_snapshot s;
        snapshot(m, T, &s);
        s.totals_final = true;
        rp_progress_finish(m->progress, &s);
    }
    struct stage_times st;
    read_times(m, &st);
    char bstage[32], breason[sizeof(sum->bottleneck)];
    const char *bkind;
    bottleneck(m, T, &st, bstage, sizeof(bstage), &bkind, breason, sizeof(breason));
    snprintf(sum->bottleneck, sizeof(sum->bottleneck), "%s", breason);
    sum->alerts = m->n_alerts;

    json_t *o = summary_json(m, sum, status, T, &st, bstage, bkind, breason);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
    if (!text) {
        json_decref(o);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot encode summary.json: out of memory");
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/summary.json", m->p.out_dir);
    enum rp_err e = rp_fs_write_atomic(path, text, strlen(text), err);
    free(text);
    /* The page from the same object (what `ranpipe report` makes from the file). */
    struct rp_buf html;
    rp_buf_init(&html, RP_BUF_NO_CAP);
    if (!e)
        e = rp_report_render(o, &html, err);
    snprintf(path, sizeof(path), "%s/report.html", m->p.out_dir);
    if (!e)
        e = rp_fs_write_atomic(path, html.data, html.len, err);
    rp_buf_release(&html);
    json_decref(o);
    return e;
}
