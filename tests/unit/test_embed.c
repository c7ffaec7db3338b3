/*
 * test_embed.c - text embeddings with the tiny embedding fixture model
 * (random weights, last-token pooling, EOS appended: the vectors mean
 * nothing, their shape and independence are what is checked) and, for the
 * mean-pooling fallback, the tiny generative model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/buf.h"
#include "ranpipe/embed.h"

static const char *embed_model(void)
{
    const char *p = getenv("RANPIPE_EMBED_MODEL");
    return p && *p ? p : "build/dev/models/tiny-embed.gguf";
}

static const char *tiny_model(void)
{
    const char *p = getenv("RANPIPE_TINY_MODEL");
    return p && *p ? p : "build/dev/models/tiny-qwen3-f16.gguf";
}

static const char *tmp_dir(void)
{
    const char *d = getenv("RANPIPE_TEST_TMP");
    return d && *d ? d : "/tmp";
}

static struct rp_embedder *load_with(const char *model, int n_ctx, int n_batch)
{
    struct rp_embed_params p = rp_embed_default_params();
    p.model = model;
    /* The tsan preset sets 1: ggml's own threads are invisible to TSan. */
    const char *t = getenv("RANPIPE_TEST_THREADS");
    p.n_threads = t && *t ? (int)strtol(t, NULL, 10) : 2;
    if (n_ctx > 0)
        p.n_ctx = n_ctx;
    if (n_batch > 0)
        p.n_batch = n_batch;
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_embedder *e = rp_embedder_new(&p, &err);
    if (!e)
        fail_msg("cannot load %s: %s", model, err.msg);
    return e;
}

static struct rp_embedder *load(void)
{
    return load_with(embed_model(), 0, 0);
}

static const char *const texts[] = {
    "The UE measures the reference signal received power (RSRP) of the serving cell.",
    "EUtranCellFDD.qRxLevMin = -140 dBm sets the minimum required receive level in the cell.",
    "Handover is triggered when event A3 holds for timeToTrigger milliseconds.",
    "The gNB-DU hosts the RLC, MAC and PHY layers; the gNB-CU hosts RRC and PDCP.",
    "PUSCH power control adjusts the UE transmit power with closed-loop TPC commands.",
    "Carrier aggregation combines component carriers to raise the peak data rate.",
    "x",
    "The SON function Automatic Neighbour Relation adds missing neighbours from UE reports.",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

static float norm(const float *v, int dim)
{
    double s = 0.0;
    for (int k = 0; k < dim; k++)
        s += (double)v[k] * (double)v[k];
    return (float)sqrt(s);
}

static float max_abs_diff(const float *a, const float *b, int dim)
{
    float m = 0.0f;
    for (int k = 0; k < dim; k++) {
        float d = fabsf(a[k] - b[k]);
        if (d > m)
            m = d;
    }
    return m;
}

static void embed_ok(struct rp_embedder *e, const char *const *t, const size_t *lens, size_t n,
                     float *out)
{
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp_embed_batch(e, t, lens, n, out, &err);
    if (rc != RP_OK)
        fail_msg("rp_embed_batch: %s", err.msg);
}

static void test_dim_and_pooling(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    assert_int_equal(rp_embedder_dim(e), 64); /* the tiny shape's d_model */
    assert_string_equal(rp_embedder_pooling(e), "last");
    assert_int_equal(rp_embedder_truncated(e), 0);
    rp_embedder_free(e);
    rp_embedder_free(NULL);
}

static void test_unit_length_and_self_cosine(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    int dim = rp_embedder_dim(e);
    float *out = calloc(N_TEXTS * (size_t)dim, sizeof(float));
    embed_ok(e, texts, NULL, N_TEXTS, out);
    for (size_t i = 0; i < N_TEXTS; i++) {
        const float *v = out + i * (size_t)dim;
        assert_float_equal(norm(v, dim), 1.0f, 1e-4f);
        assert_float_equal(rp_embed_cosine(v, v, dim), 1.0f, 1e-5f);
    }
    free(out);
    rp_embedder_free(e);
}

/* Each text's vector alone equals its vector among the others, whatever
 * the order, and however the batch is split into decode calls. */
static void test_batch_independence(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    float *alone = calloc(N_TEXTS * d, sizeof(float));
    float *together = calloc(N_TEXTS * d, sizeof(float));
    float *reversed = calloc(N_TEXTS * d, sizeof(float));
    for (size_t i = 0; i < N_TEXTS; i++)
        embed_ok(e, &texts[i], NULL, 1, alone + i * d);
    embed_ok(e, texts, NULL, N_TEXTS, together);
    const char *rev[N_TEXTS];
    for (size_t i = 0; i < N_TEXTS; i++)
        rev[i] = texts[N_TEXTS - 1 - i];
    embed_ok(e, rev, NULL, N_TEXTS, reversed);
    for (size_t i = 0; i < N_TEXTS; i++) {
        assert_true(max_abs_diff(alone + i * d, together + i * d, dim) < 1e-4f);
        assert_true(max_abs_diff(alone + i * d, reversed + (N_TEXTS - 1 - i) * d, dim) < 1e-4f);
    }
    rp_embedder_free(e);

    /* 32 tokens per call: the batch is split into several decode calls. */
    e = load_with(embed_model(), 32, 32);
    float *split = calloc(N_TEXTS * d, sizeof(float));
    embed_ok(e, texts, NULL, N_TEXTS, split);
    for (size_t i = 0; i < N_TEXTS; i++)
        assert_true(max_abs_diff(alone + i * d, split + i * d, dim) < 1e-4f);
    rp_embedder_free(e);
    free(alone);
    free(together);
    free(reversed);
    free(split);
}

static void test_different_texts_differ(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    float *out = calloc(N_TEXTS * d, sizeof(float));
    embed_ok(e, texts, NULL, N_TEXTS, out);
    for (size_t i = 0; i < N_TEXTS; i++)
        for (size_t j = i + 1; j < N_TEXTS; j++) {
            float c = rp_embed_cosine(out + i * d, out + j * d, dim);
            assert_true(c < 0.9999f);
            assert_true(max_abs_diff(out + i * d, out + j * d, dim) > 1e-3f);
        }
    free(out);
    rp_embedder_free(e);
}

/* Explicit lengths: a prefix of a text is a different text. */
static void test_lengths(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    const char *t[2] = {texts[0], texts[0]};
    size_t lens[2] = {strlen(texts[0]), 20};
    float *out = calloc(2 * d, sizeof(float));
    float *prefix = calloc(d, sizeof(float));
    embed_ok(e, t, lens, 2, out);
    char buf[21];
    memcpy(buf, texts[0], 20);
    buf[20] = '\0';
    const char *pt = buf;
    embed_ok(e, &pt, NULL, 1, prefix);
    assert_true(max_abs_diff(out + d, prefix, dim) < 1e-4f);
    assert_true(rp_embed_cosine(out, out + d, dim) < 0.9999f);
    free(out);
    free(prefix);
    rp_embedder_free(e);
}

/* A text longer than n_ctx tokens is cut to its first n_ctx tokens: two
 * long texts that differ only after their first few hundred tokens embed
 * the same, and neither is an error. */
static void test_long_text_truncated(void **state)
{
    (void)state;
    struct rp_embedder *e = load_with(embed_model(), 64, 0);
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    struct rp_buf a, b;
    rp_buf_init(&a, RP_BUF_NO_CAP);
    rp_buf_init(&b, RP_BUF_NO_CAP);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(rp_buf_addf(&a, "Cell %d reports RSRP %d dBm. ", i, -80 - i % 40), 0);
        assert_int_equal(rp_buf_addf(&b, "Cell %d reports RSRP %d dBm. ", i, -80 - i % 40), 0);
    }
    assert_int_equal(rp_buf_addf(&a, "The end is one thing."), 0);
    assert_int_equal(rp_buf_addf(&b, "The end is quite another thing, and longer."), 0);
    const char *t[3] = {a.data, b.data, texts[0]};
    float *out = calloc(3 * d, sizeof(float));
    embed_ok(e, t, NULL, 3, out);
    assert_int_equal(rp_embedder_truncated(e), 2);
    assert_float_equal(norm(out, dim), 1.0f, 1e-4f);
    assert_true(max_abs_diff(out, out + d, dim) < 1e-4f);
    /* The short text beside them is untouched. */
    float *alone = calloc(d, sizeof(float));
    embed_ok(e, &texts[0], NULL, 1, alone);
    assert_true(max_abs_diff(out + 2 * d, alone, dim) < 1e-4f);
    assert_int_equal(rp_embedder_truncated(e), 2);
    free(alone);
    free(out);
    rp_buf_release(&a);
    rp_buf_release(&b);
    rp_embedder_free(e);
}

/* An empty text is the zero vector, similar to nothing, and does not
 * disturb the texts around it. */
static void test_empty_text(void **state)
{
    (void)state;
    struct rp_embedder *e = load();
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    const char *t[3] = {texts[1], "", texts[2]};
    float *out = malloc(3 * d * sizeof(float));
    for (size_t k = 0; k < 3 * d; k++)
        out[k] = 42.0f;
    embed_ok(e, t, NULL, 3, out);
    for (size_t k = 0; k < d; k++)
        assert_true(out[d + k] == 0.0f);
    assert_true(rp_embed_cosine(out, out + d, dim) == 0.0f);
    assert_true(rp_embed_cosine(out + d, out + d, dim) == 0.0f);
    float *two = calloc(2 * d, sizeof(float));
    const char *t2[2] = {texts[1], texts[2]};
    embed_ok(e, t2, NULL, 2, two);
    assert_true(max_abs_diff(out, two, dim) < 1e-4f);
    assert_true(max_abs_diff(out + 2 * d, two + d, dim) < 1e-4f);

    /* A NULL text of length 0 is empty too; with a length it is an error. */
    const char *tn[1] = {NULL};
    size_t ln = 0;
    embed_ok(e, tn, &ln, 1, out);
    ln = 3;
    struct rp_error err;
    assert_int_equal(rp_embed_batch(e, tn, &ln, 1, out, &err), RP_ERR_INVAL);
    assert_int_equal(err.code, RP_ERR_INVAL);
    /* n == 0 does nothing. */
    assert_int_equal(rp_embed_batch(e, NULL, NULL, 0, NULL, &err), RP_OK);
    free(two);
    free(out);
    rp_embedder_free(e);
}

static void test_cosine(void **state)
{
    (void)state;
    float a[3] = {1, 0, 0}, b[3] = {0, 2, 0}, c[3] = {-3, 0, 0}, z[3] = {0, 0, 0}, f[3] = {2, 2, 0};
    assert_float_equal(rp_embed_cosine(a, a, 3), 1.0f, 1e-6f);
    assert_float_equal(rp_embed_cosine(a, b, 3), 0.0f, 1e-6f);
    assert_float_equal(rp_embed_cosine(a, c, 3), -1.0f, 1e-6f);
    assert_float_equal(rp_embed_cosine(a, f, 3), 0.70710678f, 1e-6f);
    assert_float_equal(rp_embed_cosine(a, z, 3), 0.0f, 0.0f);
}

/* Writes data to a new temporary file whose path goes into path. */
static void write_temp(const void *data, size_t n, char *path, size_t size)
{
    int w = snprintf(path, size, "%s/test_embed.XXXXXX", tmp_dir());
    assert_true(w > 0 && (size_t)w < size);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct rp_embed_params p = rp_embed_default_params();
    struct rp_error err;
    p.model = "/nonexistent/embed.gguf";
    assert_null(rp_embedder_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/embed.gguf"));

    p.model = NULL;
    assert_null(rp_embedder_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);

    char path[4096];
    static const char junk[] = "this is not a GGUF file\n";
    write_temp(junk, sizeof(junk) - 1, path, sizeof(path));
    p.model = path;
    assert_null(rp_embedder_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_MODEL);
    assert_non_null(strstr(err.msg, path));
    remove(path);

    /* A real model cut short: the header parses, the tensors are missing. */
    FILE *f = fopen(embed_model(), "rb");
    assert_non_null(f);
    size_t head_n = 256u << 10;
    char *head = malloc(head_n);
    head_n = fread(head, 1, head_n, f);
    fclose(f);
    assert_true(head_n > 0);
    write_temp(head, head_n, path, sizeof(path));
    free(head);
    assert_null(rp_embedder_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_MODEL);
    assert_non_null(strstr(err.msg, path));
    remove(path);
}

/* A model that declares no pooling (the generative tiny model) is embedded
 * with mean pooling. */
static void test_mean_fallback(void **state)
{
    (void)state;
    struct rp_embedder *e = load_with(tiny_model(), 0, 0);
    assert_string_equal(rp_embedder_pooling(e), "mean");
    int dim = rp_embedder_dim(e);
    size_t d = (size_t)dim;
    float *out = calloc(N_TEXTS * d, sizeof(float));
    float *alone = calloc(d, sizeof(float));
    embed_ok(e, texts, NULL, N_TEXTS, out);
    for (size_t i = 0; i < N_TEXTS; i++) {
        assert_float_equal(norm(out + i * d, dim), 1.0f, 1e-4f);
        embed_ok(e, &texts[i], NULL, 1, alone);
        assert_true(max_abs_diff(alone, out + i * d, dim) < 1e-4f);
    }
    assert_true(rp_embed_cosine(out, out + d, dim) < 0.9999f);
    free(alone);
    free(out);
    rp_embedder_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dim_and_pooling),
        cmocka_unit_test(test_unit_length_and_self_cosine),
        cmocka_unit_test(test_batch_independence),
        cmocka_unit_test(test_different_texts_differ),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_long_text_truncated),
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_mean_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
