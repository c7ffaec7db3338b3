/*
 * openai.c - the `openai` generation backend over libcurl multi (see
 * include/ranpipe/backend_openai.h for the behaviour).
 *
 * Design: one loop thread owns the multi handle and every job. A job is a
 * submitted request plus its easy handle, request body and response buffer;
 * it lives on exactly one list at a time:
 *
 *   incoming  submit() appends under the mutex; the loop moves it on
 *   waiting   loop-only, FIFO: new jobs and jobs sleeping out a backoff
 *   running   loop-only: added to the multi handle, on one base URL
 *
 * Each turn the loop takes the incoming jobs, starts every waiting job that
 * is due on the least-loaded base URL with a free slot, lets curl work, and
 * reaps finished transfers: a success or a permanent failure finishes the
 * job (done callback), a transient failure puts it back on waiting with a
 * due time. curl_multi_poll sleeps until a socket is ready, curl's own
 * timeout, the next backoff ends, or submit()/stop() wake it.
 *
 * The only state shared with other threads is the incoming list and the
 * stopping flag (under the mutex), in_flight and the stats (atomics).
 */
#include "ranpipe/backend_openai.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "backend_int.h"
#include "ranpipe/buf.h"
#include "ranpipe/log.h"
#include "ranpipe/version.h"

#define EXCERPT_BYTES 200
#define WAIT_MAX_MS 1000 /* the loop looks around at least this often */

/* ---- process-wide libcurl initialisation ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- types ---- */

struct url {
    char *endpoint; /* base URL + "/chat/completions" */
    char *shown;    /* endpoint without user:password@, for messages */
    int active;     /* transfers in flight (loop thread) */
    bool no_format; /* answered 400 to response_format (loop thread) */
};

struct job {
    struct job *prev, *next;
    struct rp_gen_request *req;
    json_t *schema; /* req->json_schema parsed, or NULL */
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* this attempt's request body */
    struct rp_buf resp;
    bool resp_too_big;
    bool sent_format; /* this attempt carried response_format */
    bool free_try;    /* the next attempt repeats one without response_format */
    int url;          /* base URL of the running or last attempt; -1 before the first */
    int tries;
    double submitted, not_before;
    char curl_err[CURL_ERROR_SIZE];
};

struct jlist {
    struct job *head, *tail;
};

struct stats {
    _Atomic uint64_t requests, completed, failed, cancelled, attempts, retries, http_errors,
        transport_errors, format_fallbacks, prompt_tokens, completion_tokens;
};

struct openai {
    struct rp_backend base;
    struct url *urls;
    size_t n_urls;
    char *model;
    char *key_env;             /* NULL: no key */
    struct rp_openai_params p; /* numbers only; the strings above are our copies */
    size_t capacity;

    CURLM *multi;
    pthread_t thread;
    bool started, joined; /* owner thread */

    pthread_mutex_t mu;
    struct job *in_head, *in_tail; /* under mu */
    bool accepting;                /* under mu: started and not stopping */
    bool stopping;                 /* under mu */

    atomic_size_t in_flight;
    struct stats stats;

    /* loop thread */
    struct jlist waiting, running;
    uint64_t rng;
    size_t rr; /* where the least-loaded search starts, to spread ties */
};

#define STAT_ADD(o, field, n)                                                                      \
    atomic_fetch_add_explicit(&(o)->stats.field, (n), memory_order_relaxed)

/* ---- small helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A uniform double in [0, 1) (xorshift64*, loop thread). */
static double rand01(struct openai *o)
{
    o->rng ^= o->rng >> 12;
    o->rng ^= o->rng << 25;
    o->rng ^= o->rng >> 27;
    return (double)((o->rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static void list_push(struct jlist *l, struct job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static void list_remove(struct jlist *l, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
}

/* The API key for this attempt, or NULL (the environment is read each
 * time so that a rotated key is picked up). */
static const char *api_key(const struct openai *o)
{
    if (!o->key_env)
        return NULL;
    const char *k = getenv(o->key_env);
    return k && k[0] ? k : NULL;
}

/* Overwrites every occurrence of the API key in b with asterisks. */
static void redact_key(const struct openai *o, struct rp_buf *b)
{
    const char *k = api_key(o);
    if (!k)
        return;
    size_t n = strlen(k);
    for (size_t i = 0; n && i + n <= b->len; i++) {
        if (memcmp(b->data + i, k, n) == 0) {
            memset(b->data + i, '*', n);
            i += n - 1;
        }
    }
}

/* A one-line excerpt of the response body for messages: control bytes
 * become single spaces, "..." marks a cut. */
static void body_excerpt(const struct rp_buf *b, char *out, size_t cap)
{
    size_t k = 0, i = 0;
    bool space = false;
    for (; i < b->len && k < EXCERPT_BYTES && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c < 0x20 || c == 0x7f) {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = false;
        out[k++] = (char)c;
    }
    if (i < b->len) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* The endpoint without "user:password@" (messages must not carry secrets). */
static char *shown_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *c = host; c < end; c++) {
        if (*c == '@')
            at = c;
    }
    if (!at)
        return dup_str(url);
    size_t pre = (size_t)(host - url);
    char *s = malloc(strlen(url) + 1);
    if (!s)
        return NULL;
    memcpy(s, url, pre);
    memcpy(s + pre, at + 1, strlen(at + 1) + 1);
    return s;
}

/* ---- finishing a job ---- */

static void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    json_decref(j->schema);
    rp_buf_release(&j->resp);
    free(j);
}

/* Frees the attempt's headers, wiping the one that carries the key. */
static void drop_headers(struct job *j)
{
    for (struct curl_slist *h = j->headers; h; h = h->next)
        memset(h->data, 0, strlen(h->data));
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    free(j->body);
    j->body = NULL;
}

/* Hands the request back: err code RP_OK means success (the outputs are
 * already set). msg is the error message when code is not RP_OK. */
static void job_finish(struct openai *o, struct job *j, enum rp_err code, const char *msg)
{
    struct rp_gen_request *req = j->req;
    req->seconds = now_s() - j->submitted;
    if (code == RP_OK) {
        rp_error_clear(&req->err);
        STAT_ADD(o, completed, 1);
    } else {
        req->finish = RP_FINISH_ERROR;
        rp_error_set(&req->err, code, "%s", msg);
        if (code == RP_ERR_CANCELLED)
            STAT_ADD(o, cancelled, 1);
        else
            STAT_ADD(o, failed, 1);
    }
    drop_headers(j);
    job_free(j);
    atomic_fetch_sub(&o->in_flight, 1);
    o->base.done(req, o->base.done_ud);
}

/* ---- building and starting an attempt ---- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct job *j = ud;
    size_t n = size * nmemb;
    if (rp_buf_add(&j->resp, data, n) != RP_OK) {
        j->resp_too_big = true;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

/* A float setting as the decimal the user wrote (0.7f, not 0.699999988). */
static double tidy(float x)
{
    return round((double)x * 1e6) / 1e6;
}

static enum rp_err build_body(struct openai *o, struct job *j, bool with_format, char **out)
{
    const struct rp_gen_request *req = j->req;
    const struct rp_sampling *sp = &o->p.sampling;
    int max_tokens = req->max_tokens > 0  ? req->max_tokens
                     : sp->max_tokens > 0 ? sp->max_tokens
                                          : 1024;
    json_t *root = json_object();
    json_t *msgs = json_array();
    int bad = !root || !msgs;
    if (!bad && req->system)
        bad |= json_array_append_new(
            msgs, json_pack("{s:s,s:s}", "role", "system", "content", req->system));
    if (!bad)
        bad |= json_array_append_new(msgs,
                                     json_pack("{s:s,s:s}", "role", "user", "content", req->user));
    if (!bad) {
        bad |= json_object_set_new(root, "model", json_string(o->model));
        bad |= json_object_set(root, "messages", msgs);
        bad |= json_object_set_new(root, "temperature",
                                   json_real(sp->temperature > 0 ? tidy(sp->temperature) : 0.0));
        if (sp->top_p > 0)
            bad |= json_object_set_new(root, "top_p", json_real(tidy(sp->top_p)));
        if (sp->top_k > 0)
            bad |= json_object_set_new(root, "top_k", json_integer(sp->top_k));
        bad |= json_object_set_new(root, "max_tokens", json_integer(max_tokens));
        /* Servers differ in seed width (llama.cpp: 32 bits, with 2^32 - 1
         * meaning "random"): keep it in [0, 2^31 - 1). */
        bad |=
            json_object_set_new(root, "seed", json_integer((json_int_t)(req->seed % 2147483647u)));
        bad |= json_object_set_new(root, "stream", json_false());
    }
    if (!bad && with_format) {
        json_t *rf = json_pack("{s:s,s:{s:s,s:O,s:b}}", "type", "json_schema", "json_schema",
                               "name", "qa", "schema", j->schema, "strict", 1);
        bad |= json_object_set_new(root, "response_format", rf);
    }
    *out = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(msgs);
    json_decref(root);
    return *out ? RP_OK : RP_ERR_NOMEM;
}

/* The least-loaded base URL with a free slot, avoiding `avoid` when another
 * has room; -1 when every URL is full. */
static int pick_url(struct openai *o, int avoid)
{
    int best = -1, best_score = 0;
    for (size_t k = 0; k < o->n_urls; k++) {
        size_t i = (o->rr + k) % o->n_urls;
        if (o->urls[i].active >= o->p.max_concurrent)
            continue;
        int score = o->urls[i].active;
        if ((int)i == avoid && o->n_urls > 1)
            score += o->p.max_concurrent + 1;
        if (best < 0 || score < best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    if (best >= 0)
        o->rr = (size_t)best + 1;
    return best;
}

/* Starts job j on base URL u. On failure j is finished. */
static void start_attempt(struct openai *o, struct job *j, int u)
{
    struct url *url = &o->urls[u];
    char msg[RP_ERROR_MSG_MAX];
    enum rp_err code = RP_ERR_NOMEM;
    j->sent_format = j->schema && !url->no_format;
    if (build_body(o, j, j->sent_format, &j->body) != RP_OK)
        goto fail;

    struct curl_slist *h = NULL, *t;
    const char *fixed[] = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (!(t = curl_slist_append(h, fixed[i])))
            goto fail_headers;
        h = t;
    }
    const char *key = api_key(o);
    if (key) {
        struct rp_buf auth;
        rp_buf_init(&auth, RP_BUF_NO_CAP);
        t = rp_buf_addf(&auth, "Authorization: Bearer %s", key) == RP_OK
                ? curl_slist_append(h, auth.data)
                : NULL;
        memset(auth.data, 0, auth.len);
        rp_buf_release(&auth);
        if (!t)
            goto fail_headers;
        h = t;
    }
    j->headers = h;

    if (j->easy)
        curl_easy_reset(j->easy);
    else if (!(j->easy = curl_easy_init()))
        goto fail;
    rp_buf_reset(&j->resp);
    j->resp_too_big = false;
    j->curl_err[0] = '\0';
    double conn = o->p.connect_timeout_s < o->p.timeout_s ? o->p.connect_timeout_s : o->p.timeout_s;
    CURL *e = j->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url->endpoint);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_POSTFIELDS, j->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->body));
    SET(CURLOPT_HTTPHEADER, j->headers);
    SET(CURLOPT_USERAGENT, "ranpipe/" RANPIPE_VERSION);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)j);
    SET(CURLOPT_PRIVATE, (void *)j);
    SET(CURLOPT_ERRORBUFFER, j->curl_err);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)ceil(o->p.timeout_s * 1000.0));
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(conn * 1000.0));
#undef SET
    if (rc != CURLE_OK) {
        code = RP_ERR_BACKEND;
        snprintf(msg, sizeof(msg), "'%s': cannot set up the request: %s", url->shown,
                 curl_easy_strerror(rc));
        job_finish(o, j, code, msg);
        return;
    }
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK)
        goto fail;

    if (j->free_try)
        j->free_try = false;
    else if (++j->tries > 1)
        STAT_ADD(o, retries, 1);
    STAT_ADD(o, attempts, 1);
    j->url = u;
    url->active++;
    list_push(&o->running, j);
    return;

fail_headers:
    j->headers = h; /* job_finish wipes and frees them */
fail:
    snprintf(msg, sizeof(msg), "'%s': out of memory", url->shown);
    job_finish(o, j, code, msg);
}

/* ---- handling a finished transfer ---- */

static bool transient_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static bool transient_curl(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_LOGIN_DENIED:
        return false;
    default:
        return true;
    }
}

/* Whether a 400 answer is about response_format (ASCII, case-insensitive). */
static bool refuses_format(const struct rp_buf *b)
{
    static const char *const words[] = {"response_format", "json_schema"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t n = strlen(words[w]);
        for (size_t i = 0; i + n <= b->len; i++) {
            size_t k = 0;
            while (k < n) {
                char c = b->data[i + k];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                if (c != words[w][k])
                    break;
                k++;
            }
            if (k == n)
                return true;
        }
    }
    return false;
}

/* Tries again later, or finishes j when the tries or the deadline are used
 * up. what describes the failure; retry_after is the server's wish in
 * seconds (0: none). */
static void retry_or_fail(struct openai *o, struct job *j, const char *what, double retry_after)
{
    char msg[RP_ERROR_MSG_MAX];
    if (j->tries >= o->p.attempts) {
        snprintf(msg, sizeof(msg), "%s (gave up after %d attempt%s)", what, j->tries,
                 j->tries == 1 ? "" : "s");
        job_finish(o, j, RP_ERR_BACKEND, msg);
        return;
    }
    double d = o->p.base_delay_s * pow(2.0, j->tries - 1);
    d *= 0.5 + 0.5 * rand01(o); /* jitter: spread the clients that failed together */
    if (retry_after > d)
        d = retry_after;
    if (d > o->p.max_delay_s)
        d = o->p.max_delay_s;
    double now = now_s();
    if (now + d - j->submitted > o->p.deadline_s) {
        snprintf(msg, sizeof(msg), "%s (gave up: deadline of %g s)", what, o->p.deadline_s);
        job_finish(o, j, RP_ERR_BACKEND, msg);
        return;
    }
    rp_debug("openai '%s': %s; try %d in %.2f s", o->base.name, what, j->tries + 1, d);
    j->not_before = now + d;
    list_push(&o->waiting, j);
}

/* Reads the completion out of a 2xx body into the request. On failure
 * writes a reason into why and returns false. */
static bool take_completion(struct openai *o, struct job *j, char *why, size_t cap)
{
    struct rp_gen_request *req = j->req;
    json_error_t jerr;
    json_t *root = json_loadb(j->resp.data, j->resp.len, 0, &jerr);
    bool ok = false;
    if (!root) {
        snprintf(why, cap, "the body is not JSON (%s at character %d)", jerr.text, jerr.position);
        return false;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    if (!json_is_string(content)) {
        snprintf(why, cap, "the body has no choices[0].message.content string");
        goto out;
    }
    const char *text = json_string_value(content);
    size_t len = json_string_length(content);
    size_t off = 0, n = len;
    if (req->json_schema || req->grammar) {
        if (rp__json_extract(text, len, &off, &n, NULL) != RP_OK) {
            off = 0;
            n = len;
        }
    }
    rp_buf_reset(&req->text);
    if (rp_buf_add(&req->text, text + off, n) != RP_OK) {
        snprintf(why, cap, "the reply (%zu bytes) is larger than the request's text buffer", n);
        goto out;
    }
    json_t *usage = json_object_get(root, "usage");
    json_int_t pt = json_integer_value(json_object_get(usage, "prompt_tokens"));
    json_int_t ct = json_integer_value(json_object_get(usage, "completion_tokens"));
    req->n_prompt_tokens = pt > 0 && pt < INT32_MAX ? (int)pt : 0;
    req->n_gen_tokens = ct > 0 && ct < INT32_MAX ? (int)ct : 0;
    STAT_ADD(o, prompt_tokens, (uint64_t)req->n_prompt_tokens);
    STAT_ADD(o, completion_tokens, (uint64_t)req->n_gen_tokens);
    const char *fr = json_string_value(json_object_get(choice, "finish_reason"));
    req->finish = fr && strcmp(fr, "length") == 0 ? RP_FINISH_LENGTH : RP_FINISH_STOP;
    ok = true;
out:
    json_decref(root);
    return ok;
}

static void transfer_done(struct openai *o, struct job *j, CURLcode res)
{
    struct url *url = &o->urls[j->url];
    char what[RP_ERROR_MSG_MAX], excerpt[EXCERPT_BYTES + 8];
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    drop_headers(j);
    redact_key(o, &j->resp);

    if (res != CURLE_OK) {
        if (j->resp_too_big) {
            snprintf(what, sizeof(what), "'%s': the response is larger than %zu bytes", url->shown,
                     o->p.max_response_bytes);
            job_finish(o, j, RP_ERR_BACKEND, what);
            return;
        }
        STAT_ADD(o, transport_errors, 1);
        if (status > 0)
            snprintf(what, sizeof(what), "'%s': HTTP %ld: %s%s%s", url->shown, status,
                     curl_easy_strerror(res), j->curl_err[0] ? ": " : "", j->curl_err);
        else
            snprintf(what, sizeof(what), "'%s': %s%s%s", url->shown, curl_easy_strerror(res),
                     j->curl_err[0] ? ": " : "", j->curl_err);
        if (transient_curl(res))
            retry_or_fail(o, j, what, 0);
        else
            job_finish(o, j, RP_ERR_BACKEND, what);
        return;
    }

    body_excerpt(&j->resp, excerpt, sizeof(excerpt));
    if (status < 200 || status > 299) {
        STAT_ADD(o, http_errors, 1);
        if ((status == 400 || status == 422) && j->sent_format && refuses_format(&j->resp)) {
            rp_info("openai '%s': '%s' does not take response_format; sending without it",
                    o->base.name, url->shown);
            url->no_format = true;
            STAT_ADD(o, format_fallbacks, 1);
            j->free_try = true;
            j->not_before = 0;
            list_push(&o->waiting, j);
            return;
        }
        snprintf(what, sizeof(what), "'%s': HTTP %ld: '%s'", url->shown, status, excerpt);
        if (!transient_status(status)) {
            job_finish(o, j, RP_ERR_BACKEND, what);
            return;
        }
        curl_off_t ra = 0;
        if (curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK || ra < 0)
            ra = 0;
        retry_or_fail(o, j, what, (double)ra);
        return;
    }

    char why[256];
    if (!take_completion(o, j, why, sizeof(why))) {
        snprintf(what, sizeof(what), "'%s': HTTP %ld: %s: '%s'", url->shown, status, why, excerpt);
        job_finish(o, j, RP_ERR_BACKEND, what);
        return;
    }
    job_finish(o, j, RP_OK, NULL);
}

/* ---- the loop ---- */

/* Starts every due waiting job while a base URL has room. Returns the
 * time the earliest job still sleeping is due (INFINITY: none). */
static double start_due(struct openai *o, double now)
{
    double next = INFINITY;
    struct job *j = o->waiting.head;
    while (j) {
        struct job *nx = j->next;
        if (j->not_before > now) {
            if (j->not_before < next)
                next = j->not_before;
        } else {
            int u = pick_url(o, j->url);
            if (u < 0)
                break; /* every URL full: a finished transfer wakes us */
            list_remove(&o->waiting, j);
            start_attempt(o, j, u);
        }
        j = nx;
    }
    return next;
}

/* A job just taken from submit(): resets the outputs, parses the schema. */
static void take_new(struct openai *o, struct job *j)
{
    struct rp_gen_request *req = j->req;
    rp_buf_init(&j->resp, o->p.max_response_bytes);
    j->url = -1;
    rp_buf_reset(&req->text);
    req->n_prompt_tokens = req->n_gen_tokens = req->n_grammar_fallbacks = 0;
    req->finish = RP_FINISH_NONE;
    rp_error_clear(&req->err);
    if (req->json_schema) {
        json_error_t jerr;
        j->schema = json_loads(req->json_schema, 0, &jerr);
        if (!j->schema) {
            char msg[RP_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "json_schema is not valid JSON: %s at character %d",
                     jerr.text, jerr.position);
            job_finish(o, j, RP_ERR_INVAL, msg);
            return;
        }
    }
    list_push(&o->waiting, j);
}

static void reap(struct openai *o)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(o->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct job *j = (struct job *)(void *)priv;
        curl_multi_remove_handle(o->multi, e);
        o->urls[j->url].active--;
        list_remove(&o->running, j);
        transfer_done(o, j, res);
    }
}

static void cancel_all(struct openai *o)
{
    char msg[RP_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "openai backend '%s' stopped", o->base.name);
    struct job *j;
    while ((j = o->running.head)) {
        curl_multi_remove_handle(o->multi, j->easy);
        o->urls[j->url].active--;
        list_remove(&o->running, j);
        job_finish(o, j, RP_ERR_CANCELLED, msg);
    }
    while ((j = o->waiting.head)) {
        list_remove(&o->waiting, j);
        job_finish(o, j, RP_ERR_CANCELLED, msg);
    }
    pthread_mutex_lock(&o->mu);
    j = o->in_head;
    o->in_head = o->in_tail = NULL;
    pthread_mutex_unlock(&o->mu);
    while (j) {
        struct job *nx = j->next;
        rp_buf_init(&j->resp, 0);
        job_finish(o, j, RP_ERR_CANCELLED, msg);
        j = nx;
    }
}

static void *loop_main(void *arg)
{
    struct openai *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        struct job *in = o->in_head;
        o->in_head = o->in_tail = NULL;
        bool stopping = o->stopping;
        pthread_mutex_unlock(&o->mu);
        while (in) {
            struct job *nx = in->next;
            take_new(o, in);
            in = nx;
        }
        if (stopping)
            break;

        double now = now_s();
        double due = start_due(o, now);
        int running = 0;
        curl_multi_perform(o->multi, &running);
        reap(o);

        /* Reaping may have queued retries or freed slots: look again now. */
        now = now_s();
        double due2 = start_due(o, now);
        if (due2 < due)
            due = due2;

        long wait = WAIT_MAX_MS;
        long curl_ms = -1;
        curl_multi_timeout(o->multi, &curl_ms);
        if (curl_ms >= 0 && curl_ms < wait)
            wait = curl_ms;
        if (due < INFINITY) {
            double ms = ceil((due - now) * 1000.0);
            if (ms < (double)wait)
                wait = ms > 0 ? (long)ms : 0;
        }
        curl_multi_poll(o->multi, NULL, 0, (int)wait, NULL);
    }
    cancel_all(o);
    return NULL;
}

/* ---- the interface ---- */

static enum rp_err oa_start(struct rp_backend *b, struct rp_error *err)
{
    struct openai *o = b->impl;
    if (o->started)
        return rp_error_set(err, RP_ERR_INVAL, "openai backend '%s' already started", b->name);
    pthread_mutex_lock(&o->mu);
    o->accepting = true;
    pthread_mutex_unlock(&o->mu);
    int rc = pthread_create(&o->thread, NULL, loop_main, o);
    if (rc != 0) {
        pthread_mutex_lock(&o->mu);
        o->accepting = false;
        pthread_mutex_unlock(&o->mu);
        return rp_error_set(err, RP_ERR_BACKEND, "openai backend '%s': cannot start its thread: %s",
                            b->name, strerror(rc));
    }
    o->started = true;
    return RP_OK;
}

static enum rp_err oa_submit(struct rp_backend *b, struct rp_gen_request *req)
{
    struct openai *o = b->impl;
    if (!req || !req->user)
        return RP_ERR_INVAL;
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return RP_ERR_NOMEM;
    j->req = req;
    j->submitted = now_s();
    pthread_mutex_lock(&o->mu);
    if (!o->accepting || atomic_load(&o->in_flight) >= o->capacity) {
        pthread_mutex_unlock(&o->mu);
        free(j);
        return RP_ERR_BACKEND;
    }
    atomic_fetch_add(&o->in_flight, 1);
    if (o->in_tail)
        o->in_tail->next = j;
    else
        o->in_head = j;
    o->in_tail = j;
    pthread_mutex_unlock(&o->mu);
    STAT_ADD(o, requests, 1);
    curl_multi_wakeup(o->multi);
    return RP_OK;
}

static size_t oa_capacity(const struct rp_backend *b)
{
    const struct openai *o = b->impl;
    return o->capacity;
}

static size_t oa_in_flight(const struct rp_backend *b)
{
    struct openai *o = b->impl;
    return atomic_load(&o->in_flight);
}

static void oa_stop(struct rp_backend *b)
{
    struct openai *o = b->impl;
    if (!o->started || o->joined)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    o->accepting = false;
    pthread_mutex_unlock(&o->mu);
    curl_multi_wakeup(o->multi);
    pthread_join(o->thread, NULL);
    o->joined = true;
}

static void oa_free(struct rp_backend *b)
{
    struct openai *o = b->impl;
    if (o->multi)
        curl_multi_cleanup(o->multi);
    for (size_t i = 0; i < o->n_urls; i++) {
        free(o->urls[i].endpoint);
        free(o->urls[i].shown);
    }
    free(o->urls);
    free(o->model);
    free(o->key_env);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

static const struct rp_backend_ops openai_ops = {
    .kind = "openai",
    .start = oa_start,
    .submit = oa_submit,
    .capacity = oa_capacity,
    .in_flight = oa_in_flight,
    .stop = oa_stop,
    .free = oa_free,
};

struct rp_openai_params rp_openai_default_params(void)
{
    struct rp_openai_params p = {
        .max_concurrent = 8,
        .timeout_s = 300,
        .connect_timeout_s = 10,
        .attempts = 3,
        .base_delay_s = 0.5,
        .max_delay_s = 30,
        .deadline_s = 900,
        .max_response_bytes = 16u << 20,
        .sampling = rp_sampling_default(),
    };
    return p;
}

enum rp_err rp_openai_params_from_tier(const struct rp_tier_config *t,
                                       const struct rp_retry_params *retry,
                                       struct rp_openai_params *out, struct rp_error *err)
{
    if (t->kind != RP_BACKEND_OPENAI)
        return rp_error_set(err, RP_ERR_CONFIG, "tier '%s' is not an openai tier",
                            t->name ? t->name : "?");
    if (t->n_base_urls == 0)
        return rp_error_set(err, RP_ERR_CONFIG, "tier '%s' has no base_urls",
                            t->name ? t->name : "?");
    *out = rp_openai_default_params();
    /* C has no implicit char ** -> const char *const * conversion. */
    out->base_urls = (const char *const *)t->base_urls;
    out->n_base_urls = t->n_base_urls;
    out->model = t->api_model;
    out->api_key_env = t->api_key_env;
    if (t->max_concurrent > 0)
        out->max_concurrent = t->max_concurrent;
    if (t->timeout_s > 0)
        out->timeout_s = t->timeout_s;
    out->sampling = t->sampling;
    if (retry) {
        if (retry->attempts > 0)
            out->attempts = retry->attempts;
        if (retry->base_delay_s >= 0)
            out->base_delay_s = retry->base_delay_s;
        if (retry->max_delay_s > 0)
            out->max_delay_s = retry->max_delay_s;
        if (retry->deadline_s > 0)
            out->deadline_s = retry->deadline_s;
    }
    return RP_OK;
}

enum rp_err rp_backend_openai_new(const char *name, const struct rp_openai_params *p,
                                  rp_backend_done_fn done, void *ud, struct rp_backend **out,
                                  struct rp_error *err)
{
    *out = NULL;
    if (!name)
        name = "openai";
    if (!p || !done || !p->base_urls || p->n_base_urls == 0)
        return rp_error_set(err, RP_ERR_INVAL, "openai backend '%s': no base URL", name);
    if (p->max_concurrent < 1 || p->attempts < 1 || !(p->timeout_s > 0) || !(p->timeout_s <= 1e6) ||
        !(p->connect_timeout_s > 0) || !(p->base_delay_s >= 0) || !(p->max_delay_s >= 0) ||
        !(p->deadline_s > 0) || p->max_response_bytes == 0)
        return rp_error_set(err, RP_ERR_INVAL,
                            "openai backend '%s': max_concurrent, attempts, the timeouts and "
                            "deadline_s must be positive (timeout_s at most 1e6)",
                            name);
    for (size_t i = 0; i < p->n_base_urls; i++) {
        const char *u = p->base_urls[i];
        if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
            return rp_error_set(err, RP_ERR_INVAL,
                                "openai backend '%s': base URL '%s' is not http:// or https://",
                                name, u ? u : "(null)");
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return rp_error_set(err, RP_ERR_BACKEND, "cannot initialise libcurl: %s",
                            curl_easy_strerror(curl_init_rc));

    struct openai *o = calloc(1, sizeof(*o));
    if (!o)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&o->mu, NULL);
    o->base.ops = &openai_ops;
    o->base.impl = o;
    snprintf(o->base.name, sizeof(o->base.name), "%s", name);
    o->base.done = done;
    o->base.done_ud = ud;
    o->p = *p;
    o->p.base_urls = NULL;
    o->p.model = o->p.api_key_env = NULL;
    o->capacity = p->n_base_urls * (size_t)p->max_concurrent;
    o->rng = (uint64_t)(now_s() * 1e9) ^ (uint64_t)(uintptr_t)o ^ 0x9e3779b97f4a7c15ull;
    if (!o->rng)
        o->rng = 1;
    atomic_init(&o->in_flight, 0);

    enum rp_err rc = RP_ERR_NOMEM;
    o->urls = calloc(p->n_base_urls, sizeof(*o->urls));
    o->model = dup_str(p->model ? p->model : "default");
    o->key_env = p->api_key_env && p->api_key_env[0] ? dup_str(p->api_key_env) : NULL;
    if (!o->urls || !o->model || (p->api_key_env && p->api_key_env[0] && !o->key_env))
        goto fail;
    o->n_urls = p->n_base_urls;
    for (size_t i = 0; i < o->n_urls; i++) {
        const char *u = p->base_urls[i];
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            n--;
        struct rp_buf b;
        rp_buf_init(&b, RP_BUF_NO_CAP);
        if (rp_buf_add(&b, u, n) || rp_buf_adds(&b, "/chat/completions")) {
            rp_buf_release(&b);
            goto fail;
        }
        o->urls[i].endpoint = rp_buf_detach(&b);
        rp_buf_release(&b);
        o->urls[i].shown = shown_url(o->urls[i].endpoint);
        if (!o->urls[i].endpoint || !o->urls[i].shown)
            goto fail;
    }
    o->multi = curl_multi_init();
    if (!o->multi) {
        rc = RP_ERR_BACKEND;
        goto fail;
    }
    *out = &o->base;
    return RP_OK;
fail:
    oa_free(&o->base);
    return rp_error_set(err, rc, "openai backend '%s': %s", name,
                        rc == RP_ERR_NOMEM ? "out of memory" : "cannot create a curl multi handle");
}

void rp_backend_openai_stats(const struct rp_backend *b, struct rp_openai_stats *out)
{
    struct openai *o = b->impl;
    struct stats *s = &o->stats;
    out->requests = atomic_load(&s->requests);
    out->completed = atomic_load(&s->completed);
    out->failed = atomic_load(&s->failed);
    out->cancelled = atomic_load(&s->cancelled);
    out->attempts = atomic_load(&s->attempts);
    out->retries = atomic_load(&s->retries);
    out->http_errors = atomic_load(&s->http_errors);
    out->transport_errors = atomic_load(&s->transport_errors);
    out->format_fallbacks = atomic_load(&s->format_fallbacks);
    out->prompt_tokens = atomic_load(&s->prompt_tokens);
    out->completion_tokens = atomic_load(&s->completion_tokens);
}
