/*
 * test_router.c - tier choice, fallback, circuit breakers, and model
 * residency under a memory budget (two llama tiers with real workers
 * serving the tiny fixture model).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ranpipe/router.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void load_config(const char *yaml, struct rp_config *c)
{
    struct rp_error err;
    rp_error_clear(&err);
    memset(c, 0, sizeof(*c));
    if (rp_config_parse("t.yaml", yaml, strlen(yaml), c, &err))
        fail_msg("config: %s", err.msg);
}

static void no_done(struct rp_gen_request *req, int tier, void *ud)
{
    (void)req;
    (void)tier;
    (void)ud;
}

static const char *three_tiers =
    "breaker:\n  failures: 3\n  cooldown_s: 0.2\n  half_open_probes: 1\n"
    "tiers:\n"
    "  - {name: extractive, backend: extractive}\n"
    "  - {name: small, backend: openai, base_url: 'http://127.0.0.1:9', max_complexity: 0.3}\n"
    "  - {name: medium, backend: openai, base_url: 'http://127.0.0.1:9', max_complexity: 0.7}\n"
    "  - {name: large, backend: openai, base_url: 'http://127.0.0.1:9'}\n";

static void test_pick_by_complexity_and_fallback(void **state)
{
    (void)state;
    struct rp_config c;
    load_config(three_tiers, &c);
    struct rp_router_params p = {.config = &c};
    struct rp_error err;
    struct rp_router *r = rp_router_new(&p, no_done, NULL, &err);
    assert_non_null(r);
    assert_true(rp_router_has_llm(r));
    assert_int_equal(rp_router_pick(r, 0.0f, 0), 1);
    assert_int_equal(rp_router_pick(r, 0.3f, 0), 1);
    assert_int_equal(rp_router_pick(r, 0.31f, 0), 2);
    assert_int_equal(rp_router_pick(r, 0.9f, 0), 3);
    assert_int_equal(rp_router_pick(r, 1.0f, 0), 3);
    /* Excluded (already failed) tiers: up first, then down. */
    assert_int_equal(rp_router_pick(r, 0.1f, 1u << 1), 2);
    assert_int_equal(rp_router_pick(r, 0.5f, 1u << 2), 3);
    assert_int_equal(rp_router_pick(r, 0.9f, 1u << 3), 2);
    assert_int_equal(rp_router_pick(r, 0.9f, (1u << 3) | (1u << 2)), 1);
    assert_int_equal(rp_router_pick(r, 0.9f, 0xe), -1);
    assert_int_equal(rp_router_next_up(r, 1, 0), 2);
    assert_int_equal(rp_router_next_up(r, 3, 0), -1);
    assert_int_equal(rp_router_next_up(r, 1, 1u << 2), 3);
    rp_router_free(r);
    rp_config_release(&c);
}

static void test_breaker_states(void **state)
{
    (void)state;
    struct rp_config c;
    load_config(three_tiers, &c);
    struct rp_router_params p = {.config = &c};
    struct rp_error err;
    struct rp_router *r = rp_router_new(&p, no_done, NULL, &err);
    assert_non_null(r);
    struct rp_tier_stats st;

    /* Two failures and a success: still closed (consecutive count resets). */
    rp_router_record(r, 1, false);
    rp_router_record(r, 1, false);
    rp_router_record(r, 1, true);
    rp_router_record(r, 1, false);
    rp_router_record(r, 1, false);
    rp_router_tier_stats(r, 1, &st);
    assert_int_equal(st.breaker, RP_BREAKER_CLOSED);
    /* The third consecutive failure opens it: the chunk goes up a tier. */
    rp_router_record(r, 1, false);
    rp_router_tier_stats(r, 1, &st);
    assert_int_equal(st.breaker, RP_BREAKER_OPEN);
    assert_int_equal(st.breaker_opens, 1);
    assert_false(rp_router_available(r, 1));
    assert_int_equal(rp_router_pick(r, 0.1f, 0), 2);

    /* After the cooldown: half-open, one probe. Its failure opens it again. */
    sleep_ms(250);
    assert_true(rp_router_available(r, 1));
    rp_router_tier_stats(r, 1, &st);
    assert_int_equal(st.breaker, RP_BREAKER_HALF_OPEN);
    assert_int_equal(rp_router_pick(r, 0.1f, 0), 1);
    rp_router_record(r, 1, false);
    rp_router_tier_stats(r, 1, &st);
    assert_int_equal(st.breaker, RP_BREAKER_OPEN);
    assert_int_equal(st.breaker_opens, 2);

    /* Half-open again; a success closes it. */
    sleep_ms(250);
    assert_true(rp_router_available(r, 1));
    rp_router_record(r, 1, true);
    rp_router_tier_stats(r, 1, &st);
    assert_int_equal(st.breaker, RP_BREAKER_CLOSED);
    assert_int_equal(rp_router_pick(r, 0.1f, 0), 1);
    rp_router_free(r);
    rp_config_release(&c);
}

/* ---- residency: two llama tiers, a budget that holds one model ---- */

struct done_box {
    pthread_mutex_t mu;
    int done[2];
};

static void count_done(struct rp_gen_request *req, int tier, void *ud)
{
    (void)req;
    struct done_box *b = ud;
    pthread_mutex_lock(&b->mu);
    b->done[tier - 1]++;
    pthread_mutex_unlock(&b->mu);
}

static int done_of(struct done_box *b, int i)
{
    pthread_mutex_lock(&b->mu);
    int d = b->done[i];
    pthread_mutex_unlock(&b->mu);
    return d;
}

static void test_residency_lru_unload(void **state)
{
    (void)state;
    const char *model = getenv("RANPIPE_TINY_MODEL");
    const char *bin = getenv("RANPIPE_BIN");
    assert_non_null(model);
    assert_non_null(bin);
    const char *th = getenv("RANPIPE_TEST_THREADS");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "tiers:\n"
             "  - {name: extractive, backend: extractive}\n"
             "  - {name: small, backend: llama, model: '%s', parallel: 1, context: 512, threads: %s,"
             " max_complexity: 0.5}\n"
             "  - {name: medium, backend: llama, model: '%s', parallel: 1, context: 512, threads: %s}\n",
             model, th && *th ? th : "2", model, th && *th ? th : "2");
    struct rp_config c;
    load_config(yaml, &c);
    struct stat sb;
    assert_int_equal(stat(model, &sb), 0);
    size_t mb = (size_t)(sb.st_size / (1024 * 1024)) + 1;
    struct rp_router_params p = {.config = &c, .exe = bin, .memory_budget_mb = mb + mb / 10 + 2};
    static struct done_box box = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_router *r = rp_router_new(&p, count_done, &box, &err);
    assert_non_null(r);

    struct rp_gen_request a, b;
    rp_gen_request_init(&a);
    rp_gen_request_init(&b);
    a.user = b.user = "EUtranCellFDD.qRxLevMin is -140 dBm.";
    a.max_tokens = b.max_tokens = 4;
    bool failed = false;
    assert_true(rp_router_submit(r, 1, &a, &failed, &err));
    /* The medium model does not fit while small is busy: it waits. */
    assert_false(rp_router_submit(r, 2, &b, &failed, &err));
    assert_false(failed);
    for (int i = 0; i < 60000 && done_of(&box, 0) < 1; i++)
        sleep_ms(1);
    assert_int_equal(done_of(&box, 0), 1);
    /* Small is idle now: it is unloaded to load medium. */
    assert_true(rp_router_submit(r, 2, &b, &failed, &err));
    for (int i = 0; i < 60000 && done_of(&box, 1) < 1; i++)
        sleep_ms(1);
    assert_int_equal(done_of(&box, 1), 1);
    assert_int_not_equal(b.finish, RP_FINISH_ERROR);
    struct rp_tier_stats s1, s2;
    rp_router_tier_stats(r, 1, &s1);
    rp_router_tier_stats(r, 2, &s2);
    assert_int_equal(s1.loads, 1);
    assert_int_equal(s1.unloads, 1);
    assert_false(s1.resident);
    assert_int_equal(s2.loads, 1);
    assert_true(s2.resident);
    assert_true(s2.load_seconds > 0 && s2.load_seconds < 60);
    rp_router_free(r);
    rp_gen_request_release(&a);
    rp_gen_request_release(&b);
    rp_config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_by_complexity_and_fallback),
        cmocka_unit_test(test_breaker_states),
        cmocka_unit_test(test_residency_lru_unload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
