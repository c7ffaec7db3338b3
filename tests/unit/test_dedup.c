/*
 * test_dedup.c - the near-duplicate detector (include/ranpipe/dedup.h).
 *
 * Small cases check the contract text by text (what is a duplicate of what,
 * the similarities the header's formulas promise, empty texts, errors).
 * Statistical cases run seeded synthetic texts (synth_text.h), so their
 * outcome is the same on every run: false positives among 10^5 distinct
 * texts, recall of 1000 one-word edits of 20-word texts, and 10^6 records
 * with 1% planted near-duplicates in bounded memory (the slow one: it
 * prints its time).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/dedup.h"
#include "ranpipe/error.h"
#include "quality/dedup_int.h"
#include "ranpipe/hash.h"
#include "synth_text.h"

/* ---- helpers ---- */

struct res {
    bool dup;
    uint32_t of;
    double sim;
};

static struct res check_n(struct rp_dedup *d, const char *s, size_t n)
{
    struct res r = {0};
    struct rp_error err;
    assert_int_equal(rp_dedup_check_add(d, s, n, &r.dup, &r.of, &r.sim, &err), RP_OK);
    assert_int_equal(err.code, RP_OK);
    return r;
}

static struct res check(struct rp_dedup *d, const char *s)
{
    return check_n(d, s, strlen(s));
}

static struct rp_dedup *new_detector(const struct rp_dedup_params *p, size_t expected)
{
    struct rp_error err;
    struct rp_dedup *d = rp_dedup_new(p, expected, &err);
    if (!d)
        fail_msg("rp_dedup_new: %s", err.msg);
    return d;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seeded text number i of a stream: n_min..n_max words. */
static void text_words(uint64_t stream, size_t i, size_t n_min, size_t n_max, struct synth_text *t)
{
    struct rp_rng r;
    rp_rng_seed(&r, stream * 0x9E3779B97F4A7C15ull + i);
    size_t n = n_min + (size_t)(rp_rng_next(&r) % (n_max - n_min + 1));
    synth_words(&r, n, t);
}

/* A different word than w (same class: vocabulary or identifier). */
static uint16_t other_word(struct rp_rng *r, uint16_t w)
{
    for (;;) {
        uint16_t v = synth_word(r);
        if (v != w)
            return v;
    }
}

/* ---- parameters ---- */

static void defaults_and_banding(void **state)
{
    (void)state;
    struct rp_dedup_params p = rp_dedup_default_params();
    assert_true(p.threshold == 0.8);
    assert_int_equal(p.num_perm, 320);
    assert_int_equal(p.shingle, 2);
    assert_int_equal(p.bands, 0);
    assert_int_equal(p.rows, 0);

    struct rp_dedup *d = new_detector(NULL, 0);
    struct rp_dedup_params q = rp_dedup_get_params(d);
    assert_int_equal(q.bands, 11);
    assert_int_equal(q.rows, 5);
    assert_int_equal(rp_dedup_count(d), 0);
    assert_true(rp_dedup_memory(d) > 0);
    rp_dedup_free(d);
    rp_dedup_free(NULL);

    /* The automatic banding finds pairs at the threshold with P >= 0.985,
     * with at most 12 bands down to a threshold of 0.3. */
    for (double t = 0.3; t <= 0.96; t += 0.05) {
        p.threshold = t;
        d = new_detector(&p, 0);
        q = rp_dedup_get_params(d);
        double hit = 1.0 - pow(1.0 - pow(t, q.rows), q.bands);
        assert_true(q.bands >= 1 && (q.bands <= 12 || q.rows == 1));
        assert_true(hit >= 0.985);
        rp_dedup_free(d);
    }
}

static void invalid_params(void **state)
{
    (void)state;
    struct {
        double threshold;
        int num_perm, bands, rows, shingle;
    } bad[] = {
        {0.0, 256, 0, 0, 2},   {1.5, 256, 0, 0, 2}, {NAN, 256, 0, 0, 2}, {0.8, 48, 0, 0, 2},
        {0.8, 2048, 0, 0, 2},  {0.8, 256, 3, 0, 2}, {0.8, 256, 0, 4, 2}, {0.8, 256, 65, 5, 2},
        {0.8, 256, 10, 17, 2}, {0.8, 256, 0, 0, 0}, {0.8, 256, 0, 0, 5},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_dedup_params p = rp_dedup_default_params();
        p.threshold = bad[i].threshold;
        p.num_perm = bad[i].num_perm;
        p.bands = bad[i].bands;
        p.rows = bad[i].rows;
        p.shingle = bad[i].shingle;
        struct rp_error err;
        assert_null(rp_dedup_new(&p, 10, &err));
        assert_int_equal(err.code, RP_ERR_INVAL);
        assert_non_null(strstr(err.msg, "dedup: "));
    }
    struct rp_error err;
    assert_null(rp_dedup_new(NULL, (size_t)UINT32_MAX, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);

    struct rp_dedup *d = new_detector(NULL, 4);
    bool dup;
    assert_int_equal(rp_dedup_check_add(d, "x", 1, NULL, NULL, NULL, &err), RP_ERR_INVAL);
    assert_int_equal(rp_dedup_check_add(d, NULL, 3, &dup, NULL, NULL, &err), RP_ERR_INVAL);
    assert_int_equal(rp_dedup_check_add(NULL, "x", 1, &dup, NULL, NULL, &err), RP_ERR_INVAL);
    assert_int_equal(rp_dedup_count(d), 0);
    /* dup_of and similarity are optional. */
    assert_int_equal(rp_dedup_check_add(d, "x y", 3, &dup, NULL, NULL, NULL), RP_OK);
    assert_false(dup);
    assert_int_equal(rp_dedup_check_add(d, "X, y", 4, &dup, NULL, NULL, NULL), RP_OK);
    assert_true(dup);
    rp_dedup_free(d);
}

/* ---- the contract, text by text ---- */

static void exact_duplicates(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 8);
    const char *q0 = "What is the default value of qRxLevMin?";
    const char *q1 = "Which timer does the UE start when it detects a radio link failure?";
    const char *long_text =
        "The UE starts timer T310 upon detecting physical layer problems for the SpCell, that "
        "is upon receiving N310 consecutive out-of-sync indications from lower layers, and "
        "stops it upon receiving N311 consecutive in-sync indications or on handover.";
    struct res r = check(d, q0);
    assert_false(r.dup);
    assert_int_equal(r.of, 0);
    r = check(d, q1);
    assert_false(r.dup);
    assert_int_equal(r.of, 1);
    r = check(d, long_text); /* over 32 shingles: kept as a MinHash */
    assert_false(r.dup);
    assert_int_equal(r.of, 2);
    assert_int_equal(rp_dedup_count(d), 3);

    r = check(d, q1);
    assert_true(r.dup);
    assert_int_equal(r.of, 1);
    assert_true(r.sim == 1.0);
    r = check(d, q0);
    assert_true(r.dup);
    assert_int_equal(r.of, 0);
    assert_true(r.sim == 1.0);
    r = check(d, long_text);
    assert_true(r.dup);
    assert_int_equal(r.of, 2);
    assert_true(r.sim == 1.0);
    /* Duplicates are not added. */
    assert_int_equal(rp_dedup_count(d), 3);
    /* The text need not be NUL-terminated: only len bytes count. */
    char buf[64];
    memcpy(buf, q0, strlen(q0));
    memcpy(buf + strlen(q0), " and more words here", 21);
    r = check_n(d, buf, strlen(q0));
    assert_true(r.dup);
    assert_int_equal(r.of, 0);
    rp_dedup_free(d);
}

static void near_duplicates(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 8);
    assert_false(check(d, "What is the default value of qRxLevMin?").dup);
    assert_false(check(d, "How is the measurement gap configured for NR?").dup);
    const char *same_q[] = {
        "What is the default value of the qRxLevMin?", /* article inserted */
        "What is a default value of qRxLevMin?",       /* article changed */
        "what is the default value of qrxlevmin",      /* case, punctuation */
        "WHAT IS THE DEFAULT VALUE OF QRXLEVMIN???",
        "  What is the default-value of 'qRxLevMin' ?  ",
        "What\xc2\xa0is the default value of \xe2\x80\x9cqRxLevMin\xe2\x80\x9d\xe2\x80\x94?",
        "What is the default value of qRxLevMin",
    };
    for (size_t i = 0; i < sizeof(same_q) / sizeof(same_q[0]); i++) {
        struct res r = check(d, same_q[i]);
        if (!r.dup || r.of != 0 || r.sim != 1.0)
            fail_msg("'%s': dup %d of %u sim %.3f", same_q[i], r.dup, r.of, r.sim);
    }
    /* Inserting one word into a 10-word question: J = n/(n+2) = 10/12. */
    assert_false(check(d, "What default value does UE apply for qRxLevMin in SIB1?").dup);
    struct res r = check(d, "What default value does UE apply for qRxLevMin in NR SIB1?");
    assert_true(r.dup);
    assert_int_equal(r.of, 2);
    assert_true(fabs(r.sim - 10.0 / 12.0) < 1e-12);
    /* Hyphens separate words: "csi-RS-Index" is the three words "csi rs index". */
    assert_false(check(d, "Which report carries csi-RS-Index?").dup);
    r = check(d, "which report carries CSI RS index");
    assert_true(r.dup);
    assert_int_equal(r.of, 3);
    assert_int_equal(rp_dedup_count(d), 4);
    rp_dedup_free(d);
}

static void different_parameters(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 8);
    /* 6 words (articles not counted): one identifier apart, J = 5/8. */
    assert_false(check(d, "What is the default value of qRxLevMin?").dup);
    struct res r = check(d, "What is the default value of qQualMin?");
    assert_false(r.dup);
    assert_int_equal(r.of, 1);
    assert_true(r.sim == 0.0 || fabs(r.sim - 5.0 / 8.0) < 1e-12);

    /* 10 words, the identifier in the middle or at the end: J = 9/12. */
    assert_false(check(d, "What default value does UE apply for qRxLevMin in SIB1?").dup);
    r = check(d, "What default value does UE apply for qQualMin in SIB1?");
    assert_false(r.dup);
    assert_true(r.sim == 0.0 || fabs(r.sim - 0.75) < 1e-12);
    r = check(d, "What default value does UE apply for qRxLevMin in SIB2?");
    assert_false(r.dup);
    r = check(d, "What is the default value of qRxLevMin in the SIB1 message?");
    assert_false(r.dup);
    r = check(d, "What is the default value of qQualMin in the SIB1 message?");
    assert_false(r.dup);
    assert_int_equal(rp_dedup_count(d), 7);

    /* The same 10-word pair at a threshold of 0.7 shows the similarity is
     * exact for small texts: 0.75, as the header's formula says. */
    struct rp_dedup_params p = rp_dedup_default_params();
    p.threshold = 0.7;
    struct rp_dedup *d7 = new_detector(&p, 8);
    assert_false(check(d7, "What default value does UE apply for qRxLevMin in SIB1?").dup);
    r = check(d7, "What default value does UE apply for qQualMin in SIB1?");
    assert_true(r.dup);
    assert_true(fabs(r.sim - 0.75) < 1e-12);
    rp_dedup_free(d7);

    /* In a long sentence one identifier is a small part of the text: it is
     * a near-duplicate at 0.8 (33 words, some repeated: J about 0.9). */
    const char *l1 = "In idle mode the UE uses the default value of qRxLevMin broadcast in "
                     "SIB1 for cell selection when the serving cell does not signal another "
                     "value for the frequency it camps on and no offset is configured.";
    const char *l2 = "In idle mode the UE uses the default value of qQualMin broadcast in "
                     "SIB1 for cell selection when the serving cell does not signal another "
                     "value for the frequency it camps on and no offset is configured.";
    assert_false(check(d, l1).dup);
    r = check(d, l2);
    assert_true(r.dup);
    assert_int_equal(r.of, 7);
    assert_true(r.sim > 0.8 && r.sim < 1.0);
    rp_dedup_free(d);
}

static void template_questions_stay_apart(void **state)
{
    (void)state;
    /* 250 identifiers x 5 question templates, all distinct, each pair at
     * most one identifier or one template apart: none is a duplicate. */
    static const char *const templates[][2] = {
        {"What is the default value of ", "?"},
        {"What is the range of ", " in NR?"},
        {"Which message carries ", " to the UE?"},
        {"When does the UE apply ", " during cell reselection?"},
        {"How does the network configure ", " for each serving cell?"},
    };
    struct rp_dedup *d = new_detector(NULL, 1250);
    char id[64], q[256];
    size_t dups = 0;
    for (size_t t = 0; t < 5; t++)
        for (uint16_t i = 0; i < 250; i++) {
            synth_spell((uint16_t)(SYNTH_COMMON + i * 7), id, sizeof(id));
            snprintf(q, sizeof(q), "%s%s%s", templates[t][0], id, templates[t][1]);
            struct res r = check(d, q);
            if (r.dup) {
                dups++;
                print_message("# '%s' dup of %u (%.3f)\n", q, r.of, r.sim);
            }
        }
    assert_int_equal(dups, 0);
    assert_int_equal(rp_dedup_count(d), 1250);
    rp_dedup_free(d);
}

static void empty_texts(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 8);
    const char *empty[] = {"", "   ", "\t\n", "?!., --", "\xe2\x80\x94 \xe2\x80\xa6", "\xc2\xa0"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        for (int twice = 0; twice < 2; twice++) {
            struct res r = check(d, empty[i]);
            assert_false(r.dup);
            assert_int_equal(r.of, UINT32_MAX);
            assert_true(r.sim == 0.0);
        }
    }
    struct res r = check_n(d, NULL, 0);
    assert_false(r.dup);
    assert_int_equal(rp_dedup_count(d), 0);
    /* A text of articles only keeps them: "The" is a word then. */
    r = check(d, "The");
    assert_false(r.dup);
    assert_int_equal(r.of, 0);
    assert_true(check(d, "the.").dup);
    assert_false(check(d, "A").dup);
    /* Non-ASCII letters are word bytes, kept as they are. */
    assert_false(check(d, "Zelle \xc3\xa4ndern").dup);
    assert_true(check(d, "ZELLE \xc3\xa4ndern!").dup);
    assert_int_equal(rp_dedup_count(d), 3);
    rp_dedup_free(d);
}

static void first_occurrence_stays(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 8);
    /* B is a near-duplicate of A and is not added; C is close to B but
     * not to A, so C becomes a record of its own. */
    const char *a = "Which event triggers the measurement report for handover to a neighbour "
                    "cell that becomes offset better than the serving cell in NR?";
    const char *b = "Which event triggers the measurement report for handover to a neighbour "
                    "cell that becomes offset better than the primary cell in NR?";
    const char *c = "Which event triggers the measurement report for handover to a neighbour "
                    "gNB that becomes offset better than the primary gNB in LTE?";
    assert_false(check(d, a).dup);
    struct res r = check(d, b);
    assert_true(r.dup);
    assert_int_equal(r.of, 0);
    r = check(d, c);
    assert_false(r.dup);
    assert_int_equal(r.of, 1);
    assert_true(check(d, b).dup);
    assert_int_equal(rp_dedup_count(d), 2);
    rp_dedup_free(d);
}

/* ---- behaviour over many texts ---- */

static void deterministic_for_a_seed(void **state)
{
    (void)state;
    struct rp_dedup_params p = rp_dedup_default_params();
    p.seed = 42;
    struct rp_dedup *d1 = new_detector(&p, 100), *d2 = new_detector(&p, 100);
    struct rp_rng g;
    rp_rng_seed(&g, 5);
    char buf[SYNTH_BUF];
    for (size_t i = 0; i < 3000; i++) {
        struct synth_text t;
        /* Every third text repeats an earlier one with noise. */
        text_words(1, i % 3 == 2 ? i / 3 : i, 8, 40, &t);
        size_t n = synth_render(&t, i % 3 == 2 ? SYNTH_NOISE : 0, &g, buf);
        struct res r1 = check_n(d1, buf, n), r2 = check_n(d2, buf, n);
        assert_int_equal(r1.dup, r2.dup);
        assert_int_equal(r1.of, r2.of);
        assert_true(r1.sim == r2.sim);
    }
    assert_int_equal(rp_dedup_count(d1), rp_dedup_count(d2));
    assert_true(rp_dedup_count(d1) < 3000);
    rp_dedup_free(d1);
    rp_dedup_free(d2);
}

/* The vector and the portable MinHash loops give the same answers, so the
 * answers do not depend on the machine. */
static void same_on_every_machine(void **state)
{
    (void)state;
    struct rp_dedup *d1 = new_detector(NULL, 100), *d2 = new_detector(NULL, 100);
    if (!rp__dedup_use_portable(d2))
        print_message("# no vector MinHash on this machine: portable against portable\n");
    char buf[SYNTH_BUF];
    struct rp_rng g;
    rp_rng_seed(&g, 9);
    size_t dups = 0;
    for (size_t i = 0; i < 3000; i++) {
        struct synth_text t;
        text_words(8, i % 4 == 3 ? i / 4 : i, 5, 80, &t);
        if (i % 4 == 3)
            t.w[rp_rng_next(&g) % t.n] = 1; /* one word changed */
        size_t n = synth_render(&t, 0, NULL, buf);
        struct res r1 = check_n(d1, buf, n), r2 = check_n(d2, buf, n);
        assert_int_equal(r1.dup, r2.dup);
        assert_int_equal(r1.of, r2.of);
        assert_true(r1.sim == r2.sim);
        dups += r1.dup;
    }
    assert_true(dups > 300);
    rp_dedup_free(d1);
    rp_dedup_free(d2);
}

static void grows_past_expected(void **state)
{
    (void)state;
    struct rp_dedup *d = new_detector(NULL, 0);
    size_t m0 = rp_dedup_memory(d);
    char buf[SYNTH_BUF];
    const size_t n = 5000;
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(2, i, 6, 60, &t);
        struct res r = check_n(d, buf, synth_render(&t, 0, NULL, buf));
        assert_false(r.dup);
        assert_int_equal(r.of, i);
    }
    assert_int_equal(rp_dedup_count(d), n);
    assert_true(rp_dedup_memory(d) > m0);
    /* Every record is still found after the table and arrays grew. */
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(2, i, 6, 60, &t);
        struct res r = check_n(d, buf, synth_render(&t, SYNTH_QUESTION, NULL, buf));
        assert_true(r.dup);
        assert_int_equal(r.of, i);
    }
    rp_dedup_free(d);
}

static void bytes_per_record(void **state)
{
    (void)state;
    const size_t n = 20000;
    struct rp_dedup *d = new_detector(NULL, n);
    char buf[SYNTH_BUF];
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(3, i, 8, 60, &t);
        assert_false(check_n(d, buf, synth_render(&t, 0, NULL, buf)).dup);
    }
    double per = (double)rp_dedup_memory(d) / (double)n;
    print_message("# %.1f bytes per record at expected_records = %zu\n", per, n);
    /* 80 signature + 1 count + 11 slots x 8 bytes / 0.75, plus the fixed part. */
    assert_true(per >= 198.0 && per < 201.0);
    rp_dedup_free(d);
}

/* Texts of 60 distinct words with k words substituted (none adjacent):
 * J = (121 - 3k) / (121 + 3k). The 2-bit estimate must be unbiased over
 * many pairs and within a few standard errors for each. */
static void minhash_estimate_unbiased(void **state)
{
    (void)state;
    struct rp_dedup_params p = rp_dedup_default_params();
    p.threshold = 0.3;
    const int ks[] = {2, 4, 8, 14};
    for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
        int k = ks[ki];
        double truth = (121.0 - 3 * k) / (121.0 + 3 * k), sum = 0.0, worst = 0.0;
        const int pairs = 150;
        for (int pi = 0; pi < pairs; pi++) {
            p.seed = (uint64_t)(ki * 1000 + (size_t)pi);
            struct rp_dedup *d = new_detector(&p, 2);
            char a[2048], b[2048];
            size_t na = 0, nb = 0;
            for (int w = 0; w < 60; w++) {
                bool sub = w % 4 == 1 && w / 4 < k;
                na += (size_t)snprintf(a + na, sizeof(a) - na, "w%dx%d ", pi, w);
                nb += (size_t)snprintf(b + nb, sizeof(b) - nb, sub ? "v%dx%d " : "w%dx%d ", pi, w);
            }
            assert_false(check_n(d, a, na).dup);
            struct res r = check_n(d, b, nb);
            assert_true(r.dup);
            sum += r.sim;
            if (fabs(r.sim - truth) > worst)
                worst = fabs(r.sim - truth);
            rp_dedup_free(d);
        }
        double mean = sum / pairs;
        print_message("# J %.3f: mean estimate %.3f, worst error %.3f\n", truth, mean, worst);
        assert_true(fabs(mean - truth) < 0.01);
        assert_true(worst < 0.16); /* about 4 standard errors */
    }
}

static void false_positives_1e5(void **state)
{
    (void)state;
    const size_t n = 100000;
    struct rp_dedup *d = new_detector(NULL, n);
    char buf[SYNTH_BUF];
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(4, i, 8, 25, &t);
        if (check_n(d, buf, synth_render(&t, SYNTH_QUESTION, NULL, buf)).dup)
            dups++;
    }
    print_message("# %zu of %zu distinct texts taken for duplicates\n", dups, n);
    assert_true(dups * 1000 < n); /* < 0.1% */
    rp_dedup_free(d);
}

static void recall_one_word_in_20(void **state)
{
    (void)state;
    const size_t n = 1000;
    struct rp_dedup *d = new_detector(NULL, n);
    char buf[SYNTH_BUF];
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(5, i, 20, 20, &t);
        struct res r = check_n(d, buf, synth_render(&t, 0, NULL, buf));
        assert_false(r.dup);
        assert_int_equal(r.of, i);
    }
    struct rp_rng g;
    rp_rng_seed(&g, 55);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        text_words(5, i, 20, 20, &t);
        size_t at = (size_t)(rp_rng_next(&g) % t.n);
        t.w[at] = other_word(&g, t.w[at]);
        struct res r = check_n(d, buf, synth_render(&t, 0, NULL, buf));
        found += r.dup && r.of == i;
    }
    print_message("# recall %.1f%% (%zu of %zu one-word edits of 20-word texts)\n",
                  100.0 * (double)found / (double)n, found, n);
    assert_true(found * 100 >= n * 95);
    rp_dedup_free(d);
}

/* 10^6 records of 10-30 words; 1% are near-duplicates of an earlier
 * original: noisy case and punctuation, an article inserted, a word
 * inserted, or (in texts of 20 words or more) a word substituted. */
static void million_records(void **state)
{
    (void)state;
    const size_t n = 1000000;
    struct rp_dedup *d = new_detector(NULL, n);
    uint32_t *rep = malloc(n * sizeof(uint32_t));  /* record standing for text i */
    uint32_t *orig = malloc(n * sizeof(uint32_t)); /* planted: its original; else UINT32_MAX */
    assert_non_null(rep);
    assert_non_null(orig);
    struct rp_rng g;
    rp_rng_seed(&g, 6);
    char buf[SYNTH_BUF];
    size_t planted = 0, found = 0, originals = 0, false_pos = 0;
    size_t kinds[4] = {0}, kinds_found[4] = {0};
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        struct synth_text t;
        unsigned style = 0;
        int kind = -1;
        orig[i] = UINT32_MAX;
        if (i >= 1000 && rp_rng_uniform(&g) < 0.01) {
            size_t j;
            do
                j = (size_t)(rp_rng_next(&g) % i);
            while (orig[j] != UINT32_MAX);
            orig[i] = (uint32_t)j;
            text_words(7, j, 10, 30, &t);
            kind = (int)(rp_rng_next(&g) % 4);
            if (kind == 3 && t.n < 20)
                kind = 2;
            size_t at = (size_t)(rp_rng_next(&g) % t.n);
            if (kind == 0) {
                style = SYNTH_NOISE;
            } else if (kind == 1 || kind == 2) {
                memmove(t.w + at + 1, t.w + at, (t.n - at) * sizeof(t.w[0]));
                t.w[at] = kind == 1 ? 0 /* "the" */ : synth_word(&g);
                t.n++;
            } else {
                t.w[at] = other_word(&g, t.w[at]);
            }
        } else {
            text_words(7, i, 10, 30, &t);
        }
        struct res r = check_n(d, buf, synth_render(&t, style, &g, buf));
        rep[i] = r.of;
        if (orig[i] == UINT32_MAX) {
            originals++;
            false_pos += r.dup;
        } else {
            planted++;
            kinds[kind]++;
            if (r.dup && r.of == rep[orig[i]]) {
                found++;
                kinds_found[kind]++;
            }
        }
    }
    double secs = now_s() - t0;
    size_t mem = rp_dedup_memory(d);
    print_message("# %zu records in %.1f s (%.0f/s); %zu held, %.1f MB (%.1f bytes/record)\n", n,
                  secs, (double)n / secs, rp_dedup_count(d), (double)mem / 1e6,
                  (double)mem / (double)rp_dedup_count(d));
    print_message("# planted %zu, found %zu (%.2f%%): noise %zu/%zu, article %zu/%zu, "
                  "insert %zu/%zu, substitute %zu/%zu\n",
                  planted, found, 100.0 * (double)found / (double)planted, kinds_found[0], kinds[0],
                  kinds_found[1], kinds[1], kinds_found[2], kinds[2], kinds_found[3], kinds[3]);
    print_message("# false positives %zu of %zu (%.4f%%)\n", false_pos, originals,
                  100.0 * (double)false_pos / (double)originals);
    assert_true(planted > 9000);
    assert_true(found * 100 >= planted * 99);
    assert_true(false_pos * 1000 <= originals);
    assert_true(mem < 500u * 1000u * 1000u);
    free(rep);
    free(orig);
    rp_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_banding),
        cmocka_unit_test(invalid_params),
        cmocka_unit_test(exact_duplicates),
        cmocka_unit_test(near_duplicates),
        cmocka_unit_test(different_parameters),
        cmocka_unit_test(template_questions_stay_apart),
        cmocka_unit_test(empty_texts),
        cmocka_unit_test(first_occurrence_stays),
        cmocka_unit_test(deterministic_for_a_seed),
        cmocka_unit_test(same_on_every_machine),
        cmocka_unit_test(grows_past_expected),
        cmocka_unit_test(bytes_per_record),
        cmocka_unit_test(minhash_estimate_unbiased),
        cmocka_unit_test(false_positives_1e5),
        cmocka_unit_test(recall_one_word_in_20),
        cmocka_unit_test(million_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
