/*
 * test_openai.c - the openai backend (include/ranpipe/backend_openai.h)
 * against tests/fake_openai.py, which fails on command, and then against a
 * real llama-server running the tiny fixture model.
 *
 * Each request's user message carries the fake server's markers (@mode,
 * @fails, @id, @sleep); GET /stats tells what the server saw: requests per
 * mode and per base path, the most concurrent requests, arrival times per
 * @id (for the backoff), the Authorization header and the last body.
 *
 * The done callback runs on the backend's thread, so it only records (under
 * a mutex); cmocka assertions run on the main thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "backend/backend_int.h"
#include "ranpipe/backend_openai.h"
#include "fake_openai.h"

#define KEY_ENV "RANPIPE_TEST_OPENAI_KEY"
#define KEY "sk-test-0123456789abcdef"
#define SCHEMA                                                                                     \
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"question\":{\"type\":"   \
    "\"string\"},\"answer\":{\"type\":\"string\"}},\"required\":[\"question\",\"answer\"]}}"

/* ---- helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long long stat_int(json_t *s, const char *table, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(s, table), key));
}

/* ---- requests and their completion ---- */

struct call {
    struct rp_gen_request req;
    int done_calls; /* under the collector's mutex */
    char user[256];
};

struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done;
    struct rp_backend *resubmit_to; /* set: done submits the request again ... */
    int resubmits_left;             /* ... this many times */
    int resubmit_failures;
};

static void on_done(struct rp_gen_request *req, void *ud)
{
    struct collector *c = ud;
    struct call *call = req->ud;
    pthread_mutex_lock(&c->mu);
    call->done_calls++;
    c->done++;
    bool again = c->resubmit_to && c->resubmits_left > 0;
    if (again)
        c->resubmits_left--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    /* The backend is full (capacity 1) until this request came back. */
    if (again && rp_backend_submit(c->resubmit_to, req) != RP_OK) {
        pthread_mutex_lock(&c->mu);
        c->resubmit_failures++;
        pthread_mutex_unlock(&c->mu);
    }
}

static void collector_init(struct collector *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->done = 0;
    c->resubmit_to = NULL;
    c->resubmits_left = 0;
    c->resubmit_failures = 0;
}

static void collector_release(struct collector *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Waits until n requests are done; fails after timeout_s. */
static void wait_done(struct collector *c, size_t n, double timeout_s)
{
    double end = now_s() + timeout_s;
    pthread_mutex_lock(&c->mu);
    while (c->done < n && now_s() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    size_t done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (done < n)
        fail_msg("only %zu of %zu requests finished within %.1f s", done, n, timeout_s);
}

static void call_init(struct call *c, const char *user, const char *schema)
{
    memset(c, 0, sizeof(*c));
    rp_gen_request_init(&c->req);
    snprintf(c->user, sizeof(c->user), "%s", user);
    c->req.system = "You write QA pairs as JSON.";
    c->req.user = c->user;
    c->req.json_schema = schema;
    c->req.seed = 42;
    c->req.ud = c;
}

static int done_calls(struct collector *col, struct call *c)
{
    pthread_mutex_lock(&col->mu);
    int n = c->done_calls;
    pthread_mutex_unlock(&col->mu);
    return n;
}

static struct rp_openai_params fast_params(const char *const *urls, size_t n)
{
    struct rp_openai_params p = rp_openai_default_params();
    p.base_urls = urls;
    p.n_base_urls = n;
    p.model = "fake-model";
    p.max_concurrent = 4;
    p.timeout_s = 10;
    p.base_delay_s = 0.1;
    p.max_delay_s = 5;
    return p;
}

static struct rp_backend *start_backend(const struct rp_openai_params *p, struct collector *c)
{
    struct rp_backend *b = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_backend_openai_new("test", p, on_done, c, &b, &err) != RP_OK)
        fail_msg("new: %s", err.msg);
    if (rp_backend_start(b, &err) != RP_OK)
        fail_msg("start: %s", err.msg);
    return b;
}

/* Runs n calls on one fake base path and waits for them. */
static struct rp_backend *run_calls(struct rp_openai_params *p, struct call *calls, size_t n,
                                    struct collector *col, double timeout_s)
{
    struct rp_backend *b = start_backend(p, col);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rp_backend_submit(b, &calls[i].req), RP_OK);
    wait_done(col, n, timeout_s);
    return b;
}

/* ---- the fake server's faults ---- */

static void test_ok_request_shape(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1/");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.sampling.top_k = 40;
    p.sampling.temperature = 0.7f;
    p.sampling.max_tokens = 99;
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=ok write pairs", SCHEMA);
    c.req.seed = 7;
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.finish, RP_FINISH_STOP);
    assert_int_equal(c.req.err.code, RP_OK);
    assert_int_equal(c.req.n_prompt_tokens, 11);
    assert_int_equal(c.req.n_gen_tokens, 7);
    json_t *qa = json_loads(c.req.text.data, 0, NULL);
    assert_true(json_is_array(qa));
    assert_string_equal(json_string_value(json_object_get(json_array_get(qa, 0), "question")),
                        "What does pZeroNominalPusch set?");
    json_decref(qa);

    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "paths", "/v1"), 1);
    json_t *body = json_object_get(s, "last_body");
    assert_string_equal(json_string_value(json_object_get(body, "model")), "fake-model");
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "@mode=ok write pairs");
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 99);
    assert_int_equal(json_integer_value(json_object_get(body, "top_k")), 40);
    assert_int_equal(json_integer_value(json_object_get(body, "seed")), 7);
    assert_true(json_real_value(json_object_get(body, "temperature")) == 0.7);
    json_t *rf = json_object_get(body, "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
    json_t *js = json_object_get(rf, "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "qa");
    assert_true(json_is_true(json_object_get(js, "strict")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(js, "schema"), "type")),
                        "array");
    assert_true(json_is_null(json_object_get(s, "authorization")));
    json_decref(s);

    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.prompt_tokens, 11);
    assert_int_equal(st.completion_tokens, 7);
    assert_int_equal(rp_backend_in_flight(b), 0);
    rp_backend_free(b);
    assert_int_equal(done_calls(&col, &c), 1);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* <think>, a fence and prose: the JSON value is extracted when a schema was
 * asked for; without one the content comes back as sent. */
static void test_think_and_fence(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    struct call c[2];
    call_init(&c[0], "@mode=think", SCHEMA);
    call_init(&c[1], "@mode=think", NULL);
    struct rp_backend *b = run_calls(&p, c, 2, &col, 10);
    assert_int_equal(c[0].req.finish, RP_FINISH_STOP);
    assert_int_equal(c[0].req.text.data[0], '[');
    assert_int_equal(c[0].req.text.data[c[0].req.text.len - 1], ']');
    json_t *qa = json_loads(c[0].req.text.data, 0, NULL);
    assert_int_equal(json_array_size(qa), 1);
    json_decref(qa);
    assert_non_null(strstr(c[1].req.text.data, "<think>"));
    assert_non_null(strstr(c[1].req.text.data, "```json"));
    rp_backend_free(b);
    for (int i = 0; i < 2; i++)
        rp_gen_request_release(&c[i].req);
    collector_release(&col);
}

static void test_length_finish(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=length", NULL);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.finish, RP_FINISH_LENGTH);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* 429 with Retry-After: 1 wins over a 0.1 s backoff; then ok. */
static void test_retry_after_429(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=429 @fails=1 @id=r429", SCHEMA);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.finish, RP_FINISH_STOP);
    assert_int_equal(c.req.err.code, RP_OK);
    json_t *s = rp_test_fake_stats();
    json_t *t = json_object_get(json_object_get(s, "times"), "r429");
    assert_int_equal(json_array_size(t), 2);
    double gap = json_real_value(json_array_get(t, 1)) - json_real_value(json_array_get(t, 0));
    assert_true(gap >= 0.95);
    assert_true(gap < 3.0);
    json_decref(s);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.http_errors, 1);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* 500, 503 and a body cut short, twice each: the third attempt succeeds,
 * after backoffs of about 0.1 and 0.2 s (jittered down to half). */
static void test_retry_transient(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    static const char *const ids[] = {"r500", "r503", "rtrunc"};
    struct call c[3];
    call_init(&c[0], "@mode=500 @fails=2 @id=r500", SCHEMA);
    call_init(&c[1], "@mode=503 @fails=2 @id=r503", SCHEMA);
    call_init(&c[2], "@mode=truncated @fails=2 @id=rtrunc", SCHEMA);
    struct rp_backend *b = run_calls(&p, c, 3, &col, 15);
    json_t *s = rp_test_fake_stats();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].req.err.code, RP_OK);
        assert_int_equal(c[i].req.finish, RP_FINISH_STOP);
        assert_int_equal(c[i].req.n_gen_tokens, 7);
        json_t *t = json_object_get(json_object_get(s, "times"), ids[i]);
        assert_int_equal(json_array_size(t), 3);
        double t0 = json_real_value(json_array_get(t, 0));
        double t1 = json_real_value(json_array_get(t, 1));
        double t2 = json_real_value(json_array_get(t, 2));
        assert_true(t1 - t0 >= 0.045);
        assert_true(t2 - t1 >= 0.095);
        assert_true(t2 - t0 < 3.0);
    }
    json_decref(s);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.completed, 3);
    assert_int_equal(st.attempts, 9);
    assert_int_equal(st.retries, 6);
    assert_int_equal(st.http_errors, 4);
    assert_int_equal(st.transport_errors, 2);
    rp_backend_free(b);
    for (int i = 0; i < 3; i++)
        rp_gen_request_release(&c[i].req);
    collector_release(&col);
}

/* Always 503: three attempts, then an error that names the URL, the status
 * and the body. */
static void test_retries_exhausted(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128], shown[160];
    rp_test_fake_url(url, sizeof(url), "/v1");
    snprintf(shown, sizeof(shown), "%s/chat/completions", url);
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=503 @id=always503", SCHEMA);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.finish, RP_FINISH_ERROR);
    assert_int_equal(c.req.err.code, RP_ERR_BACKEND);
    assert_non_null(strstr(c.req.err.msg, shown));
    assert_non_null(strstr(c.req.err.msg, "HTTP 503"));
    assert_non_null(strstr(c.req.err.msg, "server trouble 503"));
    assert_non_null(strstr(c.req.err.msg, "3 attempts"));
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "modes", "503"), 3);
    json_decref(s);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.failed, 1);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* A server slower than timeout_s: two attempts time out, then RP_ERR_BACKEND. */
static void test_timeout(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.timeout_s = 0.3;
    p.attempts = 2;
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=slow @sleep=2 @id=slow", SCHEMA);
    double t0 = now_s();
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    double took = now_s() - t0;
    assert_int_equal(c.req.finish, RP_FINISH_ERROR);
    assert_int_equal(c.req.err.code, RP_ERR_BACKEND);
    assert_non_null(strstr(c.req.err.msg, "imeout"));
    assert_non_null(strstr(c.req.err.msg, "2 attempts"));
    assert_true(took >= 0.6);
    assert_true(took < 1.9);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.transport_errors, 2);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* A 200 whose body is not JSON is an error with the reason, not retried. */
static void test_malformed(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=malformed", SCHEMA);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.finish, RP_FINISH_ERROR);
    assert_int_equal(c.req.err.code, RP_ERR_BACKEND);
    assert_non_null(strstr(c.req.err.msg, "HTTP 200"));
    assert_non_null(strstr(c.req.err.msg, "not JSON"));
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "modes", "malformed"), 1);
    json_decref(s);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* The key goes out as a Bearer token; a 401 is not retried and its body,
 * which echoes the header, reaches the message with the key redacted. */
static void test_api_key(void **state)
{
    (void)state;
    rp_test_fake_reset();
    setenv(KEY_ENV, KEY, 1);
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.api_key_env = KEY_ENV;
    struct collector col;
    collector_init(&col);
    struct call c[2];
    call_init(&c[0], "@mode=ok", NULL);
    call_init(&c[1], "@mode=401 @id=k401", NULL);
    struct rp_backend *b = start_backend(&p, &col);
    assert_int_equal(rp_backend_submit(b, &c[0].req), RP_OK);
    wait_done(&col, 1, 10);
    json_t *s = rp_test_fake_stats();
    assert_string_equal(json_string_value(json_object_get(s, "authorization")), "Bearer " KEY);
    json_decref(s);
    assert_int_equal(rp_backend_submit(b, &c[1].req), RP_OK);
    wait_done(&col, 2, 10);
    assert_int_equal(c[0].req.err.code, RP_OK);
    assert_int_equal(c[1].req.err.code, RP_ERR_BACKEND);
    assert_non_null(strstr(c[1].req.err.msg, "HTTP 401"));
    assert_non_null(strstr(c[1].req.err.msg, "invalid api key: Bearer ***"));
    assert_null(strstr(c[1].req.err.msg, KEY));
    assert_null(strstr(c[1].req.err.msg, "0123456789abcdef"));
    s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "modes", "401"), 1);
    json_decref(s);
    rp_backend_free(b);
    unsetenv(KEY_ENV);
    for (int i = 0; i < 2; i++)
        rp_gen_request_release(&c[i].req);
    collector_release(&col);
}

/* A base URL that refuses response_format gets it once, then never again. */
static void test_response_format_fallback(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/norf/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.max_concurrent = 1;
    struct collector col;
    collector_init(&col);
    struct call c[3];
    for (int i = 0; i < 3; i++)
        call_init(&c[i], "@mode=ok", SCHEMA);
    struct rp_backend *b = run_calls(&p, c, 1, &col, 10);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(rp_backend_submit(b, &c[i].req), RP_OK);
        wait_done(&col, (size_t)i + 1, 10);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].req.err.code, RP_OK);
        assert_int_equal(c[i].req.text.data[0], '[');
    }
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "paths", "/norf/v1"), 4);
    assert_int_equal(stat_int(s, "with_format", "/norf/v1"), 1);
    json_decref(s);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.format_fallbacks, 1);
    assert_int_equal(st.retries, 0);
    rp_backend_free(b);
    for (int i = 0; i < 3; i++)
        rp_gen_request_release(&c[i].req);
    collector_release(&col);
}

/* Two base URLs, two slots each: both get requests, neither more than two
 * at a time, and a full backend refuses more. */
static void test_two_urls_and_capacity(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char a[128], bu[128];
    rp_test_fake_url(a, sizeof(a), "/a/v1");
    rp_test_fake_url(bu, sizeof(bu), "/b/v1");
    const char *urls[] = {a, bu};
    struct rp_openai_params p = fast_params(urls, 2);
    p.max_concurrent = 2;
    struct collector col;
    collector_init(&col);
    struct call c[9];
    for (int i = 0; i < 9; i++)
        call_init(&c[i], "@mode=ok @sleep=0.3", NULL);
    struct rp_backend *b = start_backend(&p, &col);
    assert_int_equal(rp_backend_capacity(b), 4);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++)
            assert_int_equal(rp_backend_submit(b, &c[round * 4 + i].req), RP_OK);
        assert_int_equal(rp_backend_in_flight(b), 4);
        assert_int_equal(rp_backend_submit(b, &c[8].req), RP_ERR_BACKEND);
        wait_done(&col, (size_t)(round + 1) * 4, 10);
    }
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "paths", "/a/v1"), 4);
    assert_int_equal(stat_int(s, "paths", "/b/v1"), 4);
    assert_int_equal(stat_int(s, "concurrent_max", "/a/v1"), 2);
    assert_int_equal(stat_int(s, "concurrent_max", "/b/v1"), 2);
    json_decref(s);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(c[i].req.err.code, RP_OK);
        assert_int_equal(done_calls(&col, &c[i]), 1);
    }
    assert_int_equal(done_calls(&col, &c[8]), 0);
    rp_backend_free(b);
    for (int i = 0; i < 9; i++)
        rp_gen_request_release(&c[i].req);
    collector_release(&col);
}

/* With two base URLs, the try after a failure goes to the other one. */
static void test_retry_other_url(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char a[128], bu[128];
    rp_test_fake_url(a, sizeof(a), "/a/v1");
    rp_test_fake_url(bu, sizeof(bu), "/b/v1");
    const char *urls[] = {a, bu};
    struct rp_openai_params p = fast_params(urls, 2);
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=500 @fails=1 @id=other", NULL);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    assert_int_equal(c.req.err.code, RP_OK);
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "paths", "/a/v1"), 1);
    assert_int_equal(stat_int(s, "paths", "/b/v1"), 1);
    json_decref(s);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* stop() finishes running transfers and backoff sleepers with
 * RP_ERR_CANCELLED at once, each exactly once; later submits are refused. */
static void test_stop_cancels(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.base_delay_s = 20;
    p.max_delay_s = 30;
    struct collector col;
    collector_init(&col);
    struct call c[4];
    call_init(&c[0], "@mode=slow @sleep=5 @id=s1", NULL);
    call_init(&c[1], "@mode=slow @sleep=5 @id=s2", NULL);
    call_init(&c[2], "@mode=503 @id=sleeper", NULL);
    call_init(&c[3], "@mode=ok", NULL);
    struct rp_backend *b = start_backend(&p, &col);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rp_backend_submit(b, &c[i].req), RP_OK);
    /* Wait until the server has seen all three (the 503 one now sleeps). */
    for (int i = 0; i < 200; i++) {
        json_t *s = rp_test_fake_stats();
        long long n = json_integer_value(json_object_get(s, "requests"));
        json_decref(s);
        if (n >= 3)
            break;
        rp_test_sleep_ms(20);
    }
    rp_test_sleep_ms(100);
    assert_int_equal(rp_backend_in_flight(b), 3);
    double t0 = now_s();
    rp_backend_stop(b);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(rp_backend_in_flight(b), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(done_calls(&col, &c[i]), 1);
        assert_int_equal(c[i].req.finish, RP_FINISH_ERROR);
        assert_int_equal(c[i].req.err.code, RP_ERR_CANCELLED);
    }
    assert_int_equal(rp_backend_submit(b, &c[3].req), RP_ERR_BACKEND);
    rp_backend_stop(b); /* idempotent */
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    assert_int_equal(st.cancelled, 3);
    rp_backend_free(b);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(done_calls(&col, &c[i]), i < 3 ? 1 : 0);
        rp_gen_request_release(&c[i].req);
    }
    collector_release(&col);
}

/* done may submit again at once: the request's slot is free by then. */
static void test_submit_from_done(void **state)
{
    (void)state;
    rp_test_fake_reset();
    char url[128];
    rp_test_fake_url(url, sizeof(url), "/v1");
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.max_concurrent = 1;
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "@mode=ok", NULL);
    struct rp_backend *b = start_backend(&p, &col);
    pthread_mutex_lock(&col.mu);
    col.resubmit_to = b;
    col.resubmits_left = 4;
    pthread_mutex_unlock(&col.mu);
    assert_int_equal(rp_backend_submit(b, &c.req), RP_OK);
    wait_done(&col, 5, 10);
    rp_backend_free(b);
    assert_int_equal(done_calls(&col, &c), 5);
    assert_int_equal(col.resubmit_failures, 0);
    json_t *s = rp_test_fake_stats();
    assert_int_equal(stat_int(s, "paths", "/v1"), 5);
    json_decref(s);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

/* Nothing listens on the port: connect errors are retried, then reported. */
static void test_connect_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
    const char *urls[] = {url};
    struct rp_openai_params p = fast_params(urls, 1);
    p.base_delay_s = 0.01;
    struct collector col;
    collector_init(&col);
    struct call c;
    call_init(&c, "hello", NULL);
    struct rp_backend *b = run_calls(&p, &c, 1, &col, 10);
    close(fd);
    assert_int_equal(c.req.err.code, RP_ERR_BACKEND);
    assert_non_null(strstr(c.req.err.msg, url));
    assert_non_null(strstr(c.req.err.msg, "3 attempts"));
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    collector_release(&col);
}

static void test_bad_params(void **state)
{
    (void)state;
    struct collector col;
    collector_init(&col);
    struct rp_backend dummy;
    struct rp_backend *b = &dummy;
    struct rp_error err;
    struct rp_openai_params p = rp_openai_default_params();
    assert_int_equal(rp_backend_openai_new("t", &p, on_done, &col, &b, &err), RP_ERR_INVAL);
    assert_null(b);
    const char *urls[] = {"ftp://example.org/v1"};
    p.base_urls = urls;
    p.n_base_urls = 1;
    assert_int_equal(rp_backend_openai_new("t", &p, on_done, &col, &b, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, "'ftp://example.org/v1'"));
    urls[0] = "http://user:secret@127.0.0.1:1/v1";
    p.max_concurrent = 0;
    assert_int_equal(rp_backend_openai_new("t", &p, on_done, &col, &b, &err), RP_ERR_INVAL);
    /* Created but never started: free is fine, submit is refused. */
    p.max_concurrent = 2;
    assert_int_equal(rp_backend_openai_new("t", &p, on_done, &col, &b, &err), RP_OK);
    assert_int_equal(rp_backend_capacity(b), 2);
    struct call c;
    call_init(&c, "hello", NULL);
    assert_int_equal(rp_backend_submit(b, &c.req), RP_ERR_BACKEND);
    rp_backend_free(b);
    rp_gen_request_release(&c.req);
    rp_backend_free(NULL);
    collector_release(&col);
}

static void test_params_from_tier(void **state)
{
    (void)state;
    char *urls[] = {"http://h1:8080/v1", "http://h2:8080/v1"};
    struct rp_tier_config t = {.name = "medium", .kind = RP_BACKEND_OPENAI};
    t.base_urls = urls;
    t.n_base_urls = 2;
    t.api_model = "qwen3-8b";
    t.api_key_env = "KEY";
    t.max_concurrent = 3;
    t.timeout_s = 42;
    t.sampling = rp_sampling_default();
    struct rp_retry_params r = {
        .attempts = 5, .base_delay_s = 1, .max_delay_s = 9, .deadline_s = 99};
    struct rp_openai_params p;
    struct rp_error err;
    assert_int_equal(rp_openai_params_from_tier(&t, &r, &p, &err), RP_OK);
    assert_int_equal(p.n_base_urls, 2);
    assert_string_equal(p.base_urls[1], "http://h2:8080/v1");
    assert_string_equal(p.model, "qwen3-8b");
    assert_int_equal(p.max_concurrent, 3);
    assert_true(p.timeout_s == 42);
    assert_int_equal(p.attempts, 5);
    assert_true(p.max_delay_s == 9);
    t.kind = RP_BACKEND_LLAMA;
    assert_int_equal(rp_openai_params_from_tier(&t, NULL, &p, &err), RP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "'medium'"));
}

/* ---- tolerant JSON extraction ---- */

static void expect_extract(const char *text, const char *want)
{
    size_t off = 99, n = 99;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp__json_extract(text, strlen(text), &off, &n, &err);
    if (rc != RP_OK)
        fail_msg("no value in '%s': %s", text, err.msg);
    if (n != strlen(want) || memcmp(text + off, want, n) != 0)
        fail_msg("'%s': got '%.*s', want '%s'", text, (int)n, text + off, want);
}

static void expect_no_value(const char *text, const char *reason)
{
    size_t off, n;
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp__json_extract(text, strlen(text), &off, &n, &err), RP_ERR_PARSE);
    if (!strstr(err.msg, reason))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, reason);
}

static void test_json_extract(void **state)
{
    (void)state;
    expect_extract("[1,2]", "[1,2]");
    expect_extract("  {\"a\": [1, {\"b\": \"]}\"}]}  trailing", "{\"a\": [1, {\"b\": \"]}\"}]}");
    expect_extract("<think>maybe [1] or {\"x\":1}</think>\n[{\"q\":\"a\"}]", "[{\"q\":\"a\"}]");
    expect_extract("reasoning [2] here</think>{\"q\": 1}", "{\"q\": 1}");
    expect_extract("As noted in [1], here:\n```json\n[{\"q\": \"a\\\"]\"}]\n```\nbye",
                   "[{\"q\": \"a\\\"]\"}]");
    expect_extract("```\n{\"a\":1}\n```", "{\"a\":1}");
    expect_extract("Sure [see below]! {'bad': 1} then {\"good\": true}", "{\"good\": true}");
    expect_extract("<think>a</think> x <think>b [9]</think> [3]", "[3]");
    expect_extract("{\"a\": {\"b\": [1, 2, {\"c\": null}]}}",
                   "{\"a\": {\"b\": [1, 2, {\"c\": null}]}}");
    expect_no_value("", "no JSON value");
    expect_no_value("no json at all", "no JSON value");
    expect_no_value("<think>[1, 2]", "no JSON value");
    expect_no_value("[{\"q\": \"a\"}, {\"q\": ", "cut off");
    expect_no_value("```json\n[{\"q\": \"a\"\n```", "cut off");
    /* Deep nesting is bounded, not a stack overflow. */
    char deep[3000];
    memset(deep, '[', 1500);
    memset(deep + 1500, ']', 1499);
    deep[2999] = '\0';
    size_t off, n;
    (void)rp__json_extract(deep, strlen(deep), &off, &n, NULL);
}

/* ---- a real llama-server ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void print_log_tail(const char *path)
{
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    if (rp_buf_read_file(&b, path, NULL) == RP_OK)
        fprintf(stderr, "--- %s (end) ---\n%s\n", path, b.data + (b.len > 3000 ? b.len - 3000 : 0));
    rp_buf_release(&b);
}

static void test_llama_server(void **state)
{
    (void)state;
    const char *server = getenv("RANPIPE_LLAMA_SERVER");
    const char *model = getenv("RANPIPE_TINY_MODEL");
    if (!server || !*server || access(server, X_OK) != 0)
        fail_msg("llama-server not found (RANPIPE_LLAMA_SERVER='%s'); build it with "
                 "scripts/build-llama.sh tools (make llama-tools)",
                 server ? server : "");
    if (!model || access(model, R_OK) != 0)
        fail_msg("the tiny model is missing (RANPIPE_TINY_MODEL='%s')", model ? model : "");
    const char *tmp = getenv("RANPIPE_TEST_TMP");
    char log[4096];
    snprintf(log, sizeof(log), "%s/test_openai.llama-server.%d.log", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    int port = free_port();
    assert_true(port > 0);
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    char *argv[] = {(char *)server, "-m",   (char *)model, "--host",     "127.0.0.1",
                    "--port",       port_s, "-np",         "4",          "-c",
                    "4096",         "-t",   "2",           "--no-webui", NULL};
    FILE *lf = fopen(log, "w");
    assert_non_null(lf);
    pid_t pid = rp_test_spawn(argv, fileno(lf), fileno(lf));
    fclose(lf);
    assert_true(pid > 0);

    char health[128];
    snprintf(health, sizeof(health), "http://127.0.0.1:%d/health", port);
    struct rp_buf hb;
    rp_buf_init(&hb, RP_BUF_NO_CAP);
    bool up = false;
    for (double end = now_s() + 120; !up && now_s() < end;) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        up = rp_test_http(health, NULL, &hb) == 200;
        if (!up)
            rp_test_sleep_ms(200);
    }
    rp_buf_release(&hb);
    if (!up) {
        print_log_tail(log);
        rp_test_kill_wait(pid);
        fail_msg("llama-server did not come up on port %d (log: %s)", port, log);
    }

    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
    const char *urls[] = {url};
    struct rp_openai_params p = rp_openai_default_params();
    p.base_urls = urls;
    p.n_base_urls = 1;
    p.max_concurrent = 8;
    p.timeout_s = 240;
    struct collector col;
    collector_init(&col);
    struct call c[8];
    struct rp_backend *b = start_backend(&p, &col);
    for (int i = 0; i < 8; i++) {
        call_init(&c[i], "Write one question and answer about the parameter qRxLevMin.", SCHEMA);
        c[i].req.seed = (uint64_t)i + 1;
        c[i].req.max_tokens = 32;
        assert_int_equal(rp_backend_submit(b, &c[i].req), RP_OK);
    }
    wait_done(&col, 8, 280);
    struct rp_openai_stats st;
    rp_backend_openai_stats(b, &st);
    rp_backend_free(b);
    rp_test_kill_wait(pid);
    uint64_t gen = 0;
    for (int i = 0; i < 8; i++) {
        if (c[i].req.finish == RP_FINISH_ERROR) {
            print_log_tail(log);
            fail_msg("request %d failed: %s", i, c[i].req.err.msg);
        }
        assert_true(c[i].req.finish == RP_FINISH_STOP || c[i].req.finish == RP_FINISH_LENGTH);
        assert_true(c[i].req.n_prompt_tokens > 0);
        assert_true(c[i].req.n_gen_tokens > 0 && c[i].req.n_gen_tokens <= 32);
        assert_true(c[i].req.text.len > 0);
        gen += (uint64_t)c[i].req.n_gen_tokens;
        assert_int_equal(done_calls(&col, &c[i]), 1);
        rp_gen_request_release(&c[i].req);
    }
    assert_int_equal(st.completed, 8);
    assert_int_equal(st.completion_tokens, gen);
    assert_int_equal(st.format_fallbacks, 0);
    collector_release(&col);
    remove(log);
}

int main(void)
{
    const struct CMUnitTest fake[] = {
        cmocka_unit_test(test_json_extract),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_params_from_tier),
        cmocka_unit_test(test_ok_request_shape),
        cmocka_unit_test(test_think_and_fence),
        cmocka_unit_test(test_length_finish),
        cmocka_unit_test(test_retry_after_429),
        cmocka_unit_test(test_retry_transient),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_response_format_fallback),
        cmocka_unit_test(test_two_urls_and_capacity),
        cmocka_unit_test(test_retry_other_url),
        cmocka_unit_test(test_stop_cancels),
        cmocka_unit_test(test_submit_from_done),
        cmocka_unit_test(test_connect_refused),
    };
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_llama_server),
    };
    signal(SIGPIPE, SIG_IGN);
    /* Every server here is local: a proxy in the environment must not take the requests. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    int failed =
        cmocka_run_group_tests_name("openai_fake", fake, rp_test_fake_start, rp_test_fake_stop);
    failed += cmocka_run_group_tests_name("openai_llama_server", real, NULL, NULL);
    return failed;
}
