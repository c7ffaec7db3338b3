/*
 * test_adapt_store.c - routing learned from a run store's history: a store
 * whose history says the small tier fails above complexity 0.6 while the
 * medium tier passes everywhere (at five times the cost) makes the model
 * that rp_adapt_from_store() fits - the one `ranpipe run` uses with
 * route.adaptive - send complex chunks to medium and simple ones to small.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ranpipe/adapt.h"
#include "ranpipe/hash.h"
#include "ranpipe/store.h"

static void learns_from_store_history(void **state)
{
    (void)state;
    char path[256];
    const char *tmp = getenv("RANPIPE_TEST_TMP");
    snprintf(path, sizeof(path), "%s/adapt-store-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(path);
    struct rp_store *s = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_store_open(path, NULL, &s, &err), RP_OK);
    int64_t run = 0;
    assert_int_equal(rp_store_run_start(s, "cfg", &run, &err), RP_OK);
    struct rp_rng rng;
    rp_rng_seed(&rng, 7);
    assert_int_equal(rp_store_begin(s, &err), RP_OK);
    for (int i = 0; i < 1500; i++) {
        double c = rp_rng_uniform(&rng);
        char id[17];
        rp_hash_hex((uint64_t)i + 1, id);
        /* Tier 1 (small): 95% below 0.6, 10% above; tier 2 (medium): 90%. */
        int small = (c < 0.6 ? rp_rng_uniform(&rng) < 0.95 : rp_rng_uniform(&rng) < 0.10) ? 2 : 0;
        int medium = rp_rng_uniform(&rng) < 0.9 ? 2 : 0;
        struct rp_store_history h = {.run_id = run, .chunk_id = id, .complexity = c, .tier = 1,
                                     .latency_s = 1.0, .accepted = small};
        assert_int_equal(rp_store_history_append(s, &h, &err), RP_OK);
        if (i % 2 == 0) {
            h.tier = 2;
            h.latency_s = 5.0;
            h.accepted = medium;
            assert_int_equal(rp_store_history_append(s, &h, &err), RP_OK);
        }
    }
    /* A row of a tier the configuration no longer has is skipped, not fatal. */
    struct rp_store_history old = {.run_id = run, .chunk_id = "0000000000000000", .complexity = 0.5, .tier = 7};
    assert_int_equal(rp_store_history_append(s, &old, &err), RP_OK);
    assert_int_equal(rp_store_commit(s, &err), RP_OK);

    size_t skipped = 0;
    struct rp_adapt *a = rp_adapt_from_store(s, 3, NULL, &skipped, &err);
    assert_non_null(a);
    assert_int_equal(skipped, 1);
    assert_int_equal(rp_adapt_observations(a, 1), 1500);
    assert_int_equal(rp_adapt_observations(a, 2), 750);
    enum rp_adapt_why why;
    uint32_t llm = (1u << 1) | (1u << 2);
    /* The static thresholds would send both to small (tier 1). */
    assert_int_equal(rp_adapt_choose(a, 0.3, 0.8, llm, 1, &why), 1);
    assert_int_equal(rp_adapt_choose(a, 0.85, 0.8, llm, 1, &why), 2);
    assert_int_equal(why, RP_ADAPT_WHY_TARGET);
    double th[3];
    rp_adapt_thresholds(a, 0.8, th, 3);
    assert_true(th[1] > 0.45 && th[1] < 0.7);
    rp_adapt_free(a);
    rp_store_close(s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_from_store_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
