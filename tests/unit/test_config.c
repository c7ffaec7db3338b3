/*
 * test_config.c - the run configuration (include/ranpipe/config.h).
 *
 * Defaults without a file, the example file examples/ranpipe.yaml (found
 * through RANPIPE_SOURCE_DIR, which ctest sets), every value being stored,
 * and every kind of error with its exact "file:line:column: key: message"
 * text. Tests that change HOME put it back before they assert.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source_dir.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ranpipe/buf.h"
#include "ranpipe/config.h"
#include "ranpipe/error.h"

/* ---- helpers ---- */

/* What a test keeps for its teardown, so nothing leaks when an assertion
 * fails half-way. */
struct fixture {
    struct rp_config c;
    struct rp_error err;
    char *home; /* HOME before the test, restored by teardown */
    bool had_home;
    char dir[512]; /* a temporary directory, or "" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *h = getenv("HOME");
    f->had_home = h != NULL;
    f->home = h ? strdup(h) : NULL;
    rp_error_clear(&f->err);
    *state = f;
    return 0;
}

static void remove_tree(const char *dir);

static int teardown(void **state)
{
    struct fixture *f = *state;
    rp_config_release(&f->c);
    if (f->had_home)
        setenv("HOME", f->home, 1);
    else
        unsetenv("HOME");
    free(f->home);
    if (f->dir[0])
        remove_tree(f->dir);
    free(f);
    return 0;
}

static bool is_zeroed(const struct rp_config *c)
{
    static const struct rp_config zero;
    return memcmp(c, &zero, sizeof(zero)) == 0;
}

static void parse_ok(struct fixture *f, const char *yaml)
{
    rp_config_release(&f->c);
    if (rp_config_parse("t.yaml", yaml, strlen(yaml), &f->c, &f->err))
        fail_msg("cannot parse:\n%s\n%s", yaml, f->err.msg);
}

/* Parses yaml as "t.yaml" and checks that it fails with code and exactly
 * msg, leaving the config released. */
static void check_error(const char *yaml, enum rp_err code, const char *msg)
{
    struct rp_config c;
    struct rp_error err;
    memset(&c, 0xab, sizeof(c)); /* the callee must not rely on a zeroed config */
    rp_error_clear(&err);
    enum rp_err rc = rp_config_parse("t.yaml", yaml, strlen(yaml), &c, &err);
    if (rc != code || err.code != code || strcmp(err.msg, msg) != 0 || !is_zeroed(&c)) {
        if (rc == RP_OK)
            rp_config_release(&c);
        fail_msg("for:\n%s\nexpected %s: %s\ngot      %s: %s%s", yaml, rp_strerror(code), msg,
                 rp_strerror(rc), err.msg, is_zeroed(&c) ? "" : "\n(config not released)");
    }
}

static const char *source_dir(void)
{
    return rp_test_source_dir(__FILE__, "/tests/unit/test_config.c");
}

static void make_tmpdir(struct fixture *f)
{
    const char *base = getenv("RANPIPE_TEST_TMP");
    snprintf(f->dir, sizeof(f->dir), "%s/config-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir)) {
        f->dir[0] = '\0';
        fail_msg("cannot make a temporary directory");
    }
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        fail_msg("cannot write '%s'", path);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* What the tests put in a temporary directory. */
static void remove_tree(const char *dir)
{
    static const char *const names[] = {"big.yaml", "sub/ranpipe.yaml", "sub"};
    char p[1024];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        remove(p);
    }
    rmdir(dir);
}

/* Appends s to the string in buf[0..cap), failing the test when it does not fit. */
static void add(char *buf, size_t cap, const char *s)
{
    size_t len = strlen(buf);
    if ((size_t)snprintf(buf + len, cap - len, "%s", s) >= cap - len)
        fail_msg("test buffer too small");
}

static void assert_float_eq(double a, double b)
{
    if (fabs(a - b) > 1e-6)
        fail_msg("expected %g, got %g", b, a);
}

/* Compares the parts of c that every default config shares. */
static void assert_default_sections(const struct rp_config *c)
{
    struct rp_chunk_params ch = rp_chunk_default_params();
    struct rp_complexity_params cx = rp_complexity_default_params();
    struct rp_ingest_params in = rp_ingest_default_params();
    assert_int_equal(c->chunk.max_tokens, ch.max_tokens);
    assert_int_equal(c->chunk.min_tokens, ch.min_tokens);
    assert_int_equal(c->chunk.overlap_tokens, ch.overlap_tokens);
    assert_float_eq(c->complexity.w_length, cx.w_length);
    assert_float_eq(c->complexity.w_params, cx.w_params);
    assert_float_eq(c->complexity.w_counters, cx.w_counters);
    assert_float_eq(c->complexity.w_terms, cx.w_terms);
    assert_float_eq(c->complexity.w_numeric, cx.w_numeric);
    assert_float_eq(c->complexity.w_tables, cx.w_tables);
    assert_float_eq(c->complexity.w_depth, cx.w_depth);
    assert_float_eq(c->complexity.w_domain, cx.w_domain);
    assert_int_equal(c->complexity.length_norm_tokens, cx.length_norm_tokens);
    assert_float_eq(c->complexity.density_norm, cx.density_norm);
    assert_int_equal(c->complexity.depth_norm, cx.depth_norm);
    assert_int_equal(c->ingest.max_file_bytes, in.max_file_bytes);
    assert_int_equal(c->ingest.max_depth, in.max_depth);
    assert_int_equal(c->ingest.max_archive_members, in.max_archive_members);
    assert_int_equal(c->ingest.max_archive_bytes, in.max_archive_bytes);
    assert_float_eq(c->ingest.max_compression_ratio, in.max_compression_ratio);
    assert_int_equal(c->ingest.max_archive_depth, in.max_archive_depth);
    assert_int_equal(c->ingest.max_pages, in.max_pages);
    assert_int_equal(c->breaker.failures, 5);
    assert_float_eq(c->breaker.cooldown_s, 30.0);
    assert_int_equal(c->breaker.half_open_probes, 1);
    assert_int_equal(c->retry.attempts, 3);
    assert_float_eq(c->retry.base_delay_s, 0.5);
    assert_float_eq(c->retry.max_delay_s, 30.0);
    assert_float_eq(c->retry.deadline_s, 900.0);
    assert_int_equal(c->escalate, 1);
    assert_int_equal(c->seed, 0x5eed);
    struct rp_quality_params qp = rp_quality_default_params();
    assert_float_eq(c->quality.scorer.threshold, qp.threshold);
    assert_float_eq(c->quality.scorer.min_support, qp.min_support);
    assert_float_eq(c->quality.scorer.hard_factor, qp.hard_factor);
    assert_int_equal(c->quality.scorer.question_min_chars, qp.question_min_chars);
    assert_int_equal(c->quality.scorer.question_max_chars, qp.question_max_chars);
    assert_int_equal(c->quality.scorer.answer_min_chars, qp.answer_min_chars);
    assert_int_equal(c->quality.scorer.answer_max_chars, qp.answer_max_chars);
    assert_float_eq(c->quality.scorer.w_grounding, qp.w_grounding);
    assert_float_eq(c->quality.scorer.w_support, qp.w_support);
    assert_float_eq(c->quality.scorer.w_answerable, qp.w_answerable);
    assert_float_eq(c->quality.scorer.w_semantic, qp.w_semantic);
    assert_float_eq(c->quality.scorer.w_judge, qp.w_judge);
    assert_int_equal(c->quality.dedup, 1);
    assert_float_eq(c->quality.dedup_threshold, 0.8);
    assert_float_eq(c->quality.dedup_pair_threshold, 0.55);
    assert_null(c->quality.embed_model);
    assert_null(c->quality.judge);
    assert_int_equal(c->route.adaptive, 0);
    assert_float_eq(c->route.target, 0.8);
    assert_float_eq(c->monitor.progress_interval_s, 10.0);
    assert_float_eq(c->monitor.alerts.min_pass_rate, 0.2);
    assert_float_eq(c->monitor.alerts.max_error_rate, 0.25);
    assert_int_equal(c->monitor.alerts.breaker_open, 1);
    assert_int_equal(c->monitor.alerts.min_samples, 20);
}

/* The llama, sampling and QA-shape settings of t are the library defaults. */
static void assert_default_generation(const struct rp_tier_config *t, bool llama)
{
    struct rp_sampling s = rp_sampling_default();
    struct rp_qa_shape q = rp_qa_shape_default();
    assert_float_eq(t->sampling.temperature, s.temperature);
    assert_int_equal(t->sampling.top_k, s.top_k);
    assert_float_eq(t->sampling.top_p, s.top_p);
    assert_int_equal(t->sampling.max_tokens, s.max_tokens);
    assert_int_equal(t->shape.max_pairs, q.max_pairs);
    assert_int_equal(t->shape.tokens_per_pair, q.tokens_per_pair);
    assert_int_equal(t->shape.question_chars, q.question_chars);
    assert_int_equal(t->shape.answer_chars, q.answer_chars);
    assert_null(t->prompt_template);
    assert_null(t->system_prompt);
    if (llama) {
        struct rp_llama_params l = rp_llama_default_params();
        assert_int_equal(t->llama.n_ctx_seq, l.n_ctx_seq);
        assert_int_equal(t->llama.n_parallel, l.n_parallel);
        assert_int_equal(t->llama.n_threads, l.n_threads);
        assert_int_equal(t->llama.n_batch, l.n_batch);
        assert_int_equal(t->llama.n_ubatch, l.n_ubatch);
        assert_int_equal(t->llama.n_gpu_layers, l.n_gpu_layers);
        assert_int_equal(t->workers, 1);
        assert_int_equal(t->memory_budget_mb, 0);
        assert_ptr_equal(t->llama.model_path, t->model);
    }
}

/* ---- defaults ---- */

static void defaults_no_file(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rp_config_default(&f->c, NULL, NULL, &f->err), RP_OK);
    assert_null(f->c.path);
    assert_int_equal(f->c.n_tiers, 1);
    const struct rp_tier_config *t = &f->c.tiers[0];
    assert_string_equal(t->name, "extractive");
    assert_int_equal(t->kind, RP_BACKEND_EXTRACTIVE);
    assert_null(t->model);
    assert_null(t->base_urls);
    assert_default_sections(&f->c);
    assert_ptr_equal(rp_config_tier(&f->c, "extractive"), t);
    assert_null(rp_config_tier(&f->c, "small"));

    /* Empty strings count as not given. */
    rp_config_release(&f->c);
    assert_int_equal(rp_config_default(&f->c, "", "", &f->err), RP_OK);
    assert_int_equal(f->c.n_tiers, 1);
}

static void defaults_model(void **state)
{
    struct fixture *f = *state;
    setenv("HOME", "/home/tester", 1);
    assert_int_equal(rp_config_default(&f->c, "~/models/q.gguf", NULL, &f->err), RP_OK);
    assert_int_equal(f->c.n_tiers, 2);
    const struct rp_tier_config *t = rp_config_tier(&f->c, "small");
    assert_ptr_equal(t, &f->c.tiers[1]);
    assert_int_equal(t->kind, RP_BACKEND_LLAMA);
    assert_string_equal(t->model, "/home/tester/models/q.gguf");
    assert_float_eq(t->max_complexity, 1.0);
    assert_null(t->base_urls);
    assert_default_generation(t, true);
    assert_default_sections(&f->c);

    /* A relative path stays relative to the current directory. */
    rp_config_release(&f->c);
    assert_int_equal(rp_config_default(&f->c, "models/q.gguf", NULL, &f->err), RP_OK);
    assert_string_equal(f->c.tiers[1].model, "models/q.gguf");
    assert_ptr_equal(f->c.tiers[1].llama.model_path, f->c.tiers[1].model);
}

static void defaults_endpoint(void **state)
{
    struct fixture *f = *state;
    static const char *const cases[][2] = {
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"},
        {"http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"},
        {"http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"},
        {"http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1"},
        {"https://llm.example.com/v1/chat/completions", "https://llm.example.com/v1"},
        {"HTTP://host:1", "http://host:1/v1"},
        {"http://gw.example.com/openai/v2", "http://gw.example.com/openai/v2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rp_config_release(&f->c);
        assert_int_equal(rp_config_default(&f->c, NULL, cases[i][0], &f->err), RP_OK);
        assert_int_equal(f->c.n_tiers, 2);
        const struct rp_tier_config *t = &f->c.tiers[1];
        assert_string_equal(t->name, "small");
        assert_int_equal(t->kind, RP_BACKEND_OPENAI);
        assert_int_equal(t->n_base_urls, 1);
        assert_string_equal(t->base_urls[0], cases[i][1]);
        assert_null(t->api_model);
        assert_null(t->api_key_env);
        assert_null(t->model);
        assert_null(t->llama.model_path);
        assert_int_equal(t->max_concurrent, 8);
        assert_float_eq(t->timeout_s, 300.0);
        assert_float_eq(t->max_complexity, 1.0);
        assert_default_generation(t, false);
    }
}

static void defaults_both(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rp_config_default(&f->c, "/m/q.gguf", "http://h:8000", &f->err), RP_OK);
    assert_int_equal(f->c.n_tiers, 3);
    assert_string_equal(f->c.tiers[0].name, "extractive");
    assert_int_equal(f->c.tiers[0].kind, RP_BACKEND_EXTRACTIVE);
    assert_string_equal(f->c.tiers[1].name, "small");
    assert_int_equal(f->c.tiers[1].kind, RP_BACKEND_LLAMA);
    assert_string_equal(f->c.tiers[1].model, "/m/q.gguf");
    assert_string_equal(f->c.tiers[2].name, "medium");
    assert_int_equal(f->c.tiers[2].kind, RP_BACKEND_OPENAI);
    assert_string_equal(f->c.tiers[2].base_urls[0], "http://h:8000/v1");
    /* The small tier takes the easier half, the medium tier the rest. */
    assert_float_eq(f->c.tiers[1].max_complexity, 0.5);
    assert_float_eq(f->c.tiers[2].max_complexity, 1.0);
}

static void defaults_bad_input(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {"localhost:8080", "ftp://h/v1", "http://", "http://:80",
                                      "http://h /v1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&f->c, 0xab, sizeof(f->c));
        assert_int_equal(rp_config_default(&f->c, "/m.gguf", bad[i], &f->err), RP_ERR_INVAL);
        char want[256];
        snprintf(want, sizeof(want),
                 "invalid endpoint '%s': expected http://host:port or http://host:port/v1", bad[i]);
        assert_string_equal(f->err.msg, want);
        assert_true(is_zeroed(&f->c));
    }
    unsetenv("HOME");
    assert_int_equal(rp_config_default(&f->c, "~/m.gguf", NULL, &f->err), RP_ERR_INVAL);
    assert_string_equal(f->err.msg,
                        "invalid model path '~/m.gguf': cannot expand '~': HOME is not set");
    assert_true(is_zeroed(&f->c));
}

/* ---- files ---- */

static void example_file_loads(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/examples/ranpipe.yaml", source_dir());
    setenv("HOME", "/home/tester", 1);
    if (rp_config_load(path, &f->c, &f->err))
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->c.path, path);
    /* The example shows every section with its defaults. */
    assert_default_sections(&f->c);
    assert_int_equal(f->c.n_tiers, 3); /* "large" is commented out */

    const struct rp_tier_config *e = &f->c.tiers[0];
    assert_string_equal(e->name, "extractive");
    assert_int_equal(e->kind, RP_BACKEND_EXTRACTIVE);

    const struct rp_tier_config *s = rp_config_tier(&f->c, "small");
    assert_ptr_equal(s, &f->c.tiers[1]);
    assert_int_equal(s->kind, RP_BACKEND_LLAMA);
    assert_string_equal(s->model, "/home/tester/models/Qwen3-1.7B-Q8_0.gguf");
    assert_float_eq(s->max_complexity, 0.4);
    assert_default_generation(s, true);

    const struct rp_tier_config *m = rp_config_tier(&f->c, "medium");
    assert_ptr_equal(m, &f->c.tiers[2]);
    assert_int_equal(m->kind, RP_BACKEND_OPENAI);
    assert_float_eq(m->max_complexity, 1.0);
    assert_int_equal(m->n_base_urls, 2);
    assert_string_equal(m->base_urls[0], "http://127.0.0.1:8080/v1");
    assert_string_equal(m->base_urls[1], "http://127.0.0.1:8081/v1");
    assert_string_equal(m->api_model, "qwen3-8b");
    assert_null(m->api_key_env);
    assert_int_equal(m->max_concurrent, 8);
    assert_float_eq(m->timeout_s, 300.0);
    assert_null(m->model);
    assert_default_generation(m, false);
    assert_null(rp_config_tier(&f->c, "large"));
}

/* The commented-out "large" tier of the example is valid once uncommented. */
static void example_large_tier_uncommented(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/examples/ranpipe.yaml", source_dir());
    struct rp_buf in, out;
    rp_buf_init(&in, RP_BUF_NO_CAP);
    rp_buf_init(&out, RP_BUF_NO_CAP);
    if (rp_buf_read_file(&in, path, &f->err)) {
        rp_buf_release(&in);
        rp_buf_release(&out);
        fail_msg("%s", f->err.msg);
    }
    const char *start = strstr(in.data, "  # - name: large");
    size_t pos = 0, n;
    const char *line;
    bool ok = start != NULL;
    while (ok && rp_next_line(in.data, in.len, &pos, &line, &n)) {
        if (line >= start && n >= 4 && !strncmp(line, "  # ", 4))
            ok = !rp_buf_add(&out, "  ", 2) && !rp_buf_add(&out, line + 4, n - 4);
        else
            ok = !rp_buf_add(&out, line, n);
        ok = ok && !rp_buf_addc(&out, '\n');
    }
    setenv("HOME", "/home/tester", 1);
    enum rp_err rc =
        ok ? rp_config_parse("ranpipe.yaml", out.data, out.len, &f->c, &f->err) : RP_ERR_NOMEM;
    rp_buf_release(&in);
    rp_buf_release(&out);
    if (!start)
        fail_msg("the example has no commented-out large tier");
    if (rc)
        fail_msg("%s", f->err.msg);
    assert_int_equal(f->c.n_tiers, 4);
    const struct rp_tier_config *l = rp_config_tier(&f->c, "large");
    assert_ptr_equal(l, &f->c.tiers[3]);
    assert_int_equal(l->kind, RP_BACKEND_LLAMA);
    assert_string_equal(l->model, "/home/tester/models/Qwen3-30B-A3B-Q4_K_M.gguf");
    assert_float_eq(l->max_complexity, 1.0);
    assert_int_equal(l->llama.n_ctx_seq, 8192);
    assert_int_equal(l->llama.n_parallel, 2);
    assert_int_equal(l->llama.n_gpu_layers, -1);
    assert_int_equal(l->memory_budget_mb, 20000);
}

static void every_key_is_stored(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "seed: 18446744073709551615\n"
                "escalate: no\n"
                "chunk: {max_tokens: 512, min_tokens: 0, overlap_tokens: 0}\n"
                "complexity:\n"
                "  weights: {length: 0.1, params: 0.2, counters: 0.3, terms: 0.4,\n"
                "            numeric: 0.5, tables: 0.6, depth: 0.7, domain: 0.8}\n"
                "  length_norm_tokens: 1000\n"
                "  density_norm: 2.5\n"
                "  depth_norm: 8\n"
                "ingest:\n"
                "  max_file_bytes: 1024\n"
                "  max_depth: 10\n"
                "  max_archive_members: 11\n"
                "  max_archive_bytes: 4096\n"
                "  max_compression_ratio: 50\n"
                "  max_archive_depth: 0\n"
                "  max_pages: 12\n"
                "breaker: {failures: 2, cooldown_s: 1.5, half_open_probes: 3}\n"
                "retry: {attempts: 1, base_delay_s: 0, max_delay_s: 2, deadline_s: 60}\n"
                "tiers:\n"
                "  - name: ex\n"
                "    backend: extractive\n"
                "  - name: tiny-1\n"
                "    backend: llama\n"
                "    max_complexity: 0.25\n"
                "    model: /models/a.gguf\n"
                "    context: 2048\n"
                "    parallel: 16\n"
                "    threads: 6\n"
                "    batch: 1024\n"
                "    ubatch: 256\n"
                "    gpu_layers: -1\n"
                "    workers: 2\n"
                "    memory_budget_mb: 3000\n"
                "    temperature: 0\n"
                "    top_k: 0\n"
                "    top_p: 1\n"
                "    max_tokens: 2000\n"
                "    max_pairs: 5\n"
                "    tokens_per_pair: 80\n"
                "    question_chars: 100\n"
                "    answer_chars: 500\n"
                "    prompt_template: /p/user.txt\n"
                "    system_prompt: /p/system.txt\n"
                "  - name: remote_2\n"
                "    backend: openai\n"
                "    base_url: https://api.example.com\n"
                "    api_model: gpt-x\n"
                "    api_key_env: MY_KEY_1\n"
                "    max_concurrent: 32\n"
                "    timeout_s: 12.5\n"
                "    temperature: 1.25\n");
    const struct rp_config *c = &f->c;
    assert_string_equal(c->path, "t.yaml");
    assert_true(c->seed == UINT64_MAX);
    assert_int_equal(c->escalate, 0);
    assert_int_equal(c->chunk.max_tokens, 512);
    assert_int_equal(c->chunk.min_tokens, 0);
    assert_int_equal(c->chunk.overlap_tokens, 0);
    assert_float_eq(c->complexity.w_length, 0.1);
    assert_float_eq(c->complexity.w_params, 0.2);
    assert_float_eq(c->complexity.w_counters, 0.3);
    assert_float_eq(c->complexity.w_terms, 0.4);
    assert_float_eq(c->complexity.w_numeric, 0.5);
    assert_float_eq(c->complexity.w_tables, 0.6);
    assert_float_eq(c->complexity.w_depth, 0.7);
    assert_float_eq(c->complexity.w_domain, 0.8);
    assert_int_equal(c->complexity.length_norm_tokens, 1000);
    assert_float_eq(c->complexity.density_norm, 2.5);
    assert_int_equal(c->complexity.depth_norm, 8);
    assert_int_equal(c->ingest.max_file_bytes, 1024);
    assert_int_equal(c->ingest.max_depth, 10);
    assert_int_equal(c->ingest.max_archive_members, 11);
    assert_int_equal(c->ingest.max_archive_bytes, 4096);
    assert_float_eq(c->ingest.max_compression_ratio, 50);
    assert_int_equal(c->ingest.max_archive_depth, 0);
    assert_int_equal(c->ingest.max_pages, 12);
    assert_int_equal(c->breaker.failures, 2);
    assert_float_eq(c->breaker.cooldown_s, 1.5);
    assert_int_equal(c->breaker.half_open_probes, 3);
    assert_int_equal(c->retry.attempts, 1);
    assert_float_eq(c->retry.base_delay_s, 0);
    assert_float_eq(c->retry.max_delay_s, 2);
    assert_float_eq(c->retry.deadline_s, 60);

    assert_int_equal(c->n_tiers, 3);
    assert_string_equal(c->tiers[0].name, "ex");
    const struct rp_tier_config *l = &c->tiers[1];
    assert_string_equal(l->name, "tiny-1");
    assert_int_equal(l->kind, RP_BACKEND_LLAMA);
    assert_float_eq(l->max_complexity, 0.25);
    assert_string_equal(l->model, "/models/a.gguf");
    assert_ptr_equal(l->llama.model_path, l->model);
    assert_int_equal(l->llama.n_ctx_seq, 2048);
    assert_int_equal(l->llama.n_parallel, 16);
    assert_int_equal(l->llama.n_threads, 6);
    assert_int_equal(l->llama.n_batch, 1024);
    assert_int_equal(l->llama.n_ubatch, 256);
    assert_int_equal(l->llama.n_gpu_layers, -1);
    assert_int_equal(l->workers, 2);
    assert_int_equal(l->memory_budget_mb, 3000);
    assert_float_eq(l->sampling.temperature, 0);
    assert_int_equal(l->sampling.top_k, 0);
    assert_float_eq(l->sampling.top_p, 1);
    assert_int_equal(l->sampling.max_tokens, 2000);
    assert_int_equal(l->shape.max_pairs, 5);
    assert_int_equal(l->shape.tokens_per_pair, 80);
    assert_int_equal(l->shape.question_chars, 100);
    assert_int_equal(l->shape.answer_chars, 500);
    assert_string_equal(l->prompt_template, "/p/user.txt");
    assert_string_equal(l->system_prompt, "/p/system.txt");

    const struct rp_tier_config *o = &c->tiers[2];
    assert_string_equal(o->name, "remote_2");
    assert_int_equal(o->kind, RP_BACKEND_OPENAI);
    assert_float_eq(o->max_complexity, 1.0); /* the last LLM tier, none set */
    assert_int_equal(o->n_base_urls, 1);
    assert_string_equal(o->base_urls[0], "https://api.example.com/v1");
    assert_string_equal(o->api_model, "gpt-x");
    assert_string_equal(o->api_key_env, "MY_KEY_1");
    assert_int_equal(o->max_concurrent, 32);
    assert_float_eq(o->timeout_s, 12.5);
    assert_float_eq(o->sampling.temperature, 1.25);
    assert_int_equal(o->sampling.top_k, 40); /* the rest are the defaults */
}

static void every_quality_key_is_stored(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "quality:\n"
                "  threshold: 0.75\n"
                "  min_support: 0.4\n"
                "  hard_factor: 0.25\n"
                "  question_min_chars: 5\n"
                "  question_max_chars: 600\n"
                "  answer_min_chars: 3\n"
                "  answer_max_chars: 5000\n"
                "  weights: {grounding: 4, support: 0.5, answerable: 0, semantic: 1.5,\n"
                "            judge: 1000}\n"
                "  dedup: false\n"
                "  dedup_threshold: 0.9\n"
                "  dedup_pair_threshold: 1\n"
                "  embed_model: /models/embed.gguf\n"
                "  judge: big\n"
                "tiers:\n"
                "  - {name: e, backend: extractive}\n"
                "  - {name: big, backend: openai, base_url: 'http://h'}\n");
    const struct rp_quality_config *q = &f->c.quality;
    assert_float_eq(q->scorer.threshold, 0.75);
    assert_float_eq(q->scorer.min_support, 0.4);
    assert_float_eq(q->scorer.hard_factor, 0.25);
    assert_int_equal(q->scorer.question_min_chars, 5);
    assert_int_equal(q->scorer.question_max_chars, 600);
    assert_int_equal(q->scorer.answer_min_chars, 3);
    assert_int_equal(q->scorer.answer_max_chars, 5000);
    assert_float_eq(q->scorer.w_grounding, 4);
    assert_float_eq(q->scorer.w_support, 0.5);
    assert_float_eq(q->scorer.w_answerable, 0);
    assert_float_eq(q->scorer.w_semantic, 1.5);
    assert_float_eq(q->scorer.w_judge, 1000);
    assert_int_equal(q->dedup, 0);
    assert_float_eq(q->dedup_threshold, 0.9);
    assert_float_eq(q->dedup_pair_threshold, 1);
    assert_string_equal(q->embed_model, "/models/embed.gguf");
    assert_string_equal(q->judge, "big");
    /* The rest of the file is the defaults. */
    assert_int_equal(f->c.chunk.max_tokens, rp_chunk_default_params().max_tokens);

    /* A section of its own: the keys it leaves out keep their defaults;
     * the bounds are accepted. */
    parse_ok(f, "quality:\n  threshold: 1\n  question_min_chars: 400\n  hard_factor: 0\n"
                "  weights:\n    judge: 0\n");
    q = &f->c.quality;
    assert_float_eq(q->scorer.threshold, 1);
    assert_int_equal(q->scorer.question_min_chars, 400);
    assert_int_equal(q->scorer.question_max_chars, 400);
    assert_float_eq(q->scorer.hard_factor, 0);
    assert_float_eq(q->scorer.w_judge, 0);
    assert_float_eq(q->scorer.w_grounding, rp_quality_default_params().w_grounding);
    assert_float_eq(q->scorer.min_support, rp_quality_default_params().min_support);
    assert_int_equal(q->dedup, 1);
    assert_null(q->judge);
    parse_ok(f, "quality:\n  threshold: 0\n  dedup: no\n  embed_model: ~\n");
    assert_float_eq(f->c.quality.scorer.threshold, 0);
    assert_int_equal(f->c.quality.dedup, 0);
    assert_null(f->c.quality.embed_model);
}

static void empty_documents_are_defaults(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",    "# nothing but a comment\n", "---\n",
        "~\n", "chunk:\nretry: ~\n",        "---\nseed: 0x5eed\n...\n"};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct rp_config c;
        struct rp_error err;
        enum rp_err rc = rp_config_parse("t.yaml", docs[i], strlen(docs[i]), &c, &err);
        if (i == 5) {
            /* Hex is not a number here: decimal only. */
            assert_int_equal(rc, RP_ERR_CONFIG);
            assert_string_equal(err.msg, "t.yaml:2:1: seed: expected an integer from 0 to "
                                         "18446744073709551615, got '0x5eed'");
            continue;
        }
        if (rc)
            fail_msg("document %zu: %s", i, err.msg);
        assert_string_equal(c.path, "t.yaml");
        assert_int_equal(c.n_tiers, 1);
        assert_string_equal(c.tiers[0].name, "extractive");
        assert_default_sections(&c);
        rp_config_release(&c);
    }
}

static void anchors_and_booleans(void **state)
{
    struct fixture *f = *state;
    /* An anchor alone is harmless; only aliases are refused. */
    parse_ok(f, "seed: &s 7\nescalate: off\n");
    assert_int_equal(f->c.seed, 7);
    assert_int_equal(f->c.escalate, 0);
    parse_ok(f, "escalate: True\n");
    assert_int_equal(f->c.escalate, 1);
    parse_ok(f, "escalate: yes\n");
    assert_int_equal(f->c.escalate, 1);
}

/* ---- errors ---- */

static void header_example_message(void **state)
{
    (void)state;
    const char *yaml = "# run configuration\n"
                       "seed: 1\n"
                       "\n"
                       "chunk:\n"
                       "  max_tokens: 384\n"
                       "\n"
                       "tiers:\n"
                       "  - name: extractive\n"
                       "    backend: extractive\n"
                       "  - name: small\n"
                       "    backend: llama\n"
                       "    parallel: many\n"
                       "    model: q.gguf\n";
    struct rp_config c;
    struct rp_error err;
    assert_int_equal(rp_config_parse("ranpipe.yaml", yaml, strlen(yaml), &c, &err), RP_ERR_CONFIG);
    assert_int_equal(err.code, RP_ERR_CONFIG);
    assert_string_equal(err.msg, "ranpipe.yaml:12:5: tiers[1].parallel: expected an integer from "
                                 "1 to 256, got 'many'");
    assert_true(is_zeroed(&c));
}

struct error_case {
    const char *yaml;
    const char *msg;
};

#define LLAMA_TIER "tiers:\n  - name: s\n    backend: llama\n    model: m.gguf\n"
#define OPENAI_TIER "tiers:\n  - name: o\n    backend: openai\n    base_url: http://h\n"

static const struct error_case type_and_range_cases[] = {
    {"seed: [1]\n",
     "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got a list"},
    {"seed: -1\n",
     "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got '-1'"},
    {"seed: 18446744073709551616\n",
     "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got "
     "'18446744073709551616'"},
    {"seed: '5'\n", "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got the "
                    "quoted string '5'"},
    {"escalate: maybe\n", "t.yaml:1:1: escalate: expected true or false, got 'maybe'"},
    {"escalate: 1\n", "t.yaml:1:1: escalate: expected true or false, got '1'"},
    {"chunk:\n  max_tokens: 15\n",
     "t.yaml:2:3: chunk.max_tokens: expected an integer from 16 to 1048576, got '15'"},
    {"chunk:\n  max_tokens: 1048577\n",
     "t.yaml:2:3: chunk.max_tokens: expected an integer from 16 to 1048576, got '1048577'"},
    {"chunk:\n  max_tokens: 1.5\n",
     "t.yaml:2:3: chunk.max_tokens: expected an integer from 16 to 1048576, got '1.5'"},
    {"chunk: 5\n", "t.yaml:1:1: chunk: expected a mapping of settings, got '5'"},
    {"complexity:\n  density_norm: 0\n", "t.yaml:2:3: complexity.density_norm: expected a number "
                                         "greater than 0 and at most 1000, got '0'"},
    {"complexity:\n  weights:\n    tables: -1\n",
     "t.yaml:3:5: complexity.weights.tables: expected a number from 0 to 1000, got '-1'"},
    {"complexity:\n  depth_norm: 65\n",
     "t.yaml:2:3: complexity.depth_norm: expected an integer from 1 to 64, got '65'"},
    {"ingest:\n  max_compression_ratio: 0.5\n",
     "t.yaml:2:3: ingest.max_compression_ratio: expected a number from 1 to 1000000, got '0.5'"},
    {"ingest:\n  max_file_bytes: 0\n",
     "t.yaml:2:3: ingest.max_file_bytes: expected an integer from 1 to 1099511627776, got '0'"},
    {"retry:\n  deadline_s: .inf\n", "t.yaml:2:3: retry.deadline_s: expected a number greater than "
                                     "0 and at most 604800, got '.inf'"},
    {"retry:\n  attempts: 0x10\n",
     "t.yaml:2:3: retry.attempts: expected an integer from 1 to 100, got '0x10'"},
    {"breaker:\n  failures:\n",
     "t.yaml:2:3: breaker.failures: expected an integer from 1 to 1000, got nothing"},
    {"breaker:\n  cooldown_s: nan\n",
     "t.yaml:2:3: breaker.cooldown_s: expected a number from 0 to 86400, got 'nan'"},
    {LLAMA_TIER "    parallel: 0\n",
     "t.yaml:5:5: tiers[0].parallel: expected an integer from 1 to 256, got '0'"},
    {LLAMA_TIER "    parallel: 257\n",
     "t.yaml:5:5: tiers[0].parallel: expected an integer from 1 to 256, got '257'"},
    {LLAMA_TIER "    context: 255\n",
     "t.yaml:5:5: tiers[0].context: expected an integer from 256 to 1048576, got '255'"},
    {LLAMA_TIER "    gpu_layers: -2\n",
     "t.yaml:5:5: tiers[0].gpu_layers: expected an integer from -1 to 10000, got '-2'"},
    {LLAMA_TIER "    max_complexity: 1.01\n",
     "t.yaml:5:5: tiers[0].max_complexity: expected a number from 0 to 1, got '1.01'"},
    {LLAMA_TIER "    top_p: 2\n",
     "t.yaml:5:5: tiers[0].top_p: expected a number from 0 to 1, got '2'"},
    {LLAMA_TIER "    temperature: hot\n",
     "t.yaml:5:5: tiers[0].temperature: expected a number from 0 to 10, got 'hot'"},
    {LLAMA_TIER "    max_pairs: 21\n",
     "t.yaml:5:5: tiers[0].max_pairs: expected an integer from 1 to 20, got '21'"},
    {LLAMA_TIER "    model: [a, b]\n",
     "t.yaml:5:5: tiers[0].model: duplicate key (first at line 4)"},
    {OPENAI_TIER "    max_concurrent: 0\n",
     "t.yaml:5:5: tiers[0].max_concurrent: expected an integer from 1 to 1024, got '0'"},
    {OPENAI_TIER "    timeout_s: 0\n",
     "t.yaml:5:5: tiers[0].timeout_s: expected a number greater than 0 and at most 86400, got '0'"},
    {OPENAI_TIER "    api_model: ''\n",
     "t.yaml:5:5: tiers[0].api_model: expected a string, got the quoted string ''"},
    {OPENAI_TIER "    api_model: {a: 1}\n",
     "t.yaml:5:5: tiers[0].api_model: expected a string, got a mapping"},
    {"tiers:\n  - name: 'a b'\n    backend: extractive\n",
     "t.yaml:2:5: tiers[0].name: expected a tier name of letters, digits, '-' and '_' (at most "
     "32), "
     "got the quoted string 'a b'"},
    {"tiers:\n  - name: ~\n    backend: extractive\n",
     "t.yaml:2:5: tiers[0].name: expected a tier name, got nothing"},
    {"tiers:\n  - name: e\n    backend: gpt\n",
     "t.yaml:3:5: tiers[0].backend: expected extractive, llama or openai, got 'gpt'"},
};

static const struct error_case structure_cases[] = {
    {"- 1\n", "t.yaml:1:1: expected a mapping of settings at the top level, got a list"},
    {"just text\n", "t.yaml:1:1: expected a mapping of settings at the top level, got 'just text'"},
    {"seed: 1\nseed: 2\n", "t.yaml:2:1: seed: duplicate key (first at line 1)"},
    {"seed: 1\n---\nseed: 2\n", "t.yaml:2:1: only one YAML document is allowed"},
    {"seed: !!int 5\n", "t.yaml:1:7: seed: YAML tags are not allowed (tag:yaml.org,2002:int)"},
    {"chunk: !custom {max_tokens: 100}\n",
     "t.yaml:1:8: chunk: YAML tags are not allowed (!custom)"},
    {"seed: \"a\\0b\"\n", "t.yaml:1:7: seed: text may not contain NUL characters"},
    {"? [a]\n: 1\n", "t.yaml:1:3: a key must be a plain name, not a list"},
    {"seed: [1\n", "t.yaml:2:1: seed: invalid YAML: while parsing a flow sequence did not find "
                   "expected ',' or ']'"},
    {"tiers:\n  - name: a\n   backend: llama\n",
     "t.yaml:3:4: tiers: invalid YAML: while parsing a block collection did not find expected '-' "
     "indicator"},
    {"chunk:\n  max_tokens: 1\n    min_tokens: 2\n",
     "t.yaml:3:15: chunk: invalid YAML: mapping values are not allowed in this context"},
    {"seed: 1\n\tchunk: 2\n",
     "t.yaml:2:1: seed: invalid YAML: while scanning a plain scalar found a "
     "tab character that violates indentation"},
    {"@seed: 1\n", "t.yaml:1:1: invalid YAML: while scanning for the next token found character "
                   "that cannot start any token"},
    {"tiers: {a: 1}\n", "t.yaml:1:1: tiers: expected a list of tiers, got a mapping"},
    {"tiers: []\n", "t.yaml:1:1: tiers: expected at least one tier, got an empty list"},
    {"tiers:\n  - 5\n",
     "t.yaml:2:5: tiers[0]: expected a mapping with the tier's settings, got '5'"},
    {"tiers:\n  - name: x\n",
     "t.yaml:2:5: tiers[0]: missing 'backend' (extractive, llama or openai)"},
    {"tiers:\n  - backend: extractive\n", "t.yaml:2:5: tiers[0]: missing 'name'"},
    {"tiers:\n  - name: x\n    backend: llama\n",
     "t.yaml:2:5: tiers[0]: a llama tier needs 'model' (the GGUF file)"},
    {"tiers:\n  - name: x\n    backend: llama\n    model: ~\n",
     "t.yaml:2:5: tiers[0]: a llama tier needs 'model' (the GGUF file)"},
    {"tiers:\n  - name: x\n    backend: openai\n",
     "t.yaml:2:5: tiers[0]: an openai tier needs 'base_url' or 'base_urls'"},
    {OPENAI_TIER "    base_urls: [http://b]\n",
     "t.yaml:5:5: tiers[0].base_urls: give either base_url or base_urls, not both"},
    {"tiers:\n  - name: x\n    backend: openai\n    base_url: localhost:8080\n",
     "t.yaml:4:5: tiers[0].base_url: expected an http:// or https:// URL, got 'localhost:8080'"},
    {"tiers:\n  - name: x\n    backend: openai\n    base_urls:\n      - http://a\n      - "
     "ftp://b\n",
     "t.yaml:6:9: tiers[0].base_urls[1]: expected an http:// or https:// URL, got 'ftp://b'"},
    {"tiers:\n  - name: x\n    backend: openai\n    base_urls: []\n",
     "t.yaml:4:5: tiers[0].base_urls: expected a list of 1 to 64 URLs, got an empty list"},
    {"tiers:\n  - name: x\n    backend: openai\n    model: m.gguf\n    base_url: http://h\n",
     "t.yaml:4:5: tiers[0].model: 'model' is a setting of llama tiers, not of openai tiers"},
    {LLAMA_TIER "    base_url: http://h\n",
     "t.yaml:5:5: tiers[0].base_url: 'base_url' is a setting of openai tiers, not of llama tiers"},
    {"tiers:\n  - name: e\n    backend: extractive\n    temperature: 0.5\n",
     "t.yaml:4:5: tiers[0].temperature: 'temperature' is a setting of llama and openai tiers, not "
     "of extractive tiers"},
    {"tiers:\n  - {name: a, backend: llama, model: m}\n  - {name: a, backend: openai, base_url: "
     "'http://h'}\n",
     "t.yaml:3:6: tiers[1].name: duplicate tier name 'a' (also tiers[0])"},
    {"tiers:\n  - {name: s, backend: llama, model: m}\n  - {name: e, backend: extractive}\n",
     "t.yaml:3:5: tiers[1]: the extractive tier must be the first tier"},
    {"tiers:\n  - {name: e, backend: extractive}\n  - {name: f, backend: extractive}\n",
     "t.yaml:3:5: tiers[1]: only one extractive tier is allowed (also tiers[0])"},
    {"tiers:\n  - {name: s, backend: llama, model: m, max_complexity: 0.6}\n"
     "  - {name: m, backend: llama, model: m, max_complexity: 0.4}\n",
     "t.yaml:3:41: tiers[1].max_complexity: tier 'm' has max_complexity 0.4, below the 0.6 of tier "
     "'s' before it; LLM tiers must be in order of non-decreasing max_complexity"},
    {"tiers:\n  - {name: s, backend: llama, model: m, max_complexity: 0.6}\n"
     "  - {name: m, backend: llama, model: m}\n"
     "  - {name: l, backend: llama, model: m, max_complexity: 0.5}\n",
     "t.yaml:4:41: tiers[2].max_complexity: tier 'l' has max_complexity 0.5, below the 0.6 of tier "
     "'s' before it; LLM tiers must be in order of non-decreasing max_complexity"},
    {LLAMA_TIER "    batch: 256\n",
     "t.yaml:5:5: tiers[0].batch: ubatch (512) may not be larger than batch (256)"},
    {LLAMA_TIER "    ubatch: 1024\n",
     "t.yaml:5:5: tiers[0].ubatch: ubatch (1024) may not be larger than batch (512)"},
    {"chunk:\n  max_tokens: 32\n",
     "t.yaml:2:3: chunk.max_tokens: min_tokens (64) may not be larger than max_tokens (32)"},
    {"chunk:\n  min_tokens: 100\n  max_tokens: 90\n",
     "t.yaml:2:3: chunk.min_tokens: min_tokens (100) may not be larger than max_tokens (90)"},
    {"chunk:\n  overlap_tokens: 384\n", "t.yaml:2:3: chunk.overlap_tokens: overlap_tokens (384) "
                                        "must be smaller than max_tokens (384)"},
    {"retry:\n  base_delay_s: 60\n",
     "t.yaml:2:3: retry.base_delay_s: base_delay_s (60) may not be larger than max_delay_s (30)"},
    {"complexity:\n  weights: {length: 0, params: 0, counters: 0, terms: 0, numeric: 0, tables: "
     "0, depth: 0, domain: 0}\n",
     "t.yaml:2:3: complexity.weights: at least one weight must be above 0"},
    {"tiers:\n  - {name: s, backend: llama, model: ~bob/m.gguf}\n",
     "t.yaml:2:31: tiers[0].model: '~user' paths are not supported; write the whole path"},
    {"tiers:\n  - {name: s, backend: llama, model: ''}\n",
     "t.yaml:2:31: tiers[0].model: expected a file path, got the quoted string ''"},
};

static const struct error_case unknown_key_cases[] = {
    {"sed: 1\n", "t.yaml:1:1: sed: unknown key 'sed' (did you mean 'seed'?)"},
    {"colour: red\n", "t.yaml:1:1: colour: unknown key 'colour'"},
    {"teirs: []\n", "t.yaml:1:1: teirs: unknown key 'teirs' (did you mean 'tiers'?)"},
    {"chunk:\n  max_token: 100\n",
     "t.yaml:2:3: chunk.max_token: unknown key 'max_token' (did you mean 'max_tokens'?)"},
    {"complexity:\n  weights:\n    table: 1\n",
     "t.yaml:3:5: complexity.weights.table: unknown key 'table' (did you mean 'tables'?)"},
    {"ingest:\n  max_files: 1\n", "t.yaml:2:3: ingest.max_files: unknown key 'max_files'"},
    {LLAMA_TIER "    paralel: 2\n",
     "t.yaml:5:5: tiers[0].paralel: unknown key 'paralel' (did you mean 'parallel'?)"},
    {LLAMA_TIER "    gpu_layres: 2\n",
     "t.yaml:5:5: tiers[0].gpu_layres: unknown key 'gpu_layres' (did you mean 'gpu_layers'?)"},
    {OPENAI_TIER "    base_ulr: http://h\n",
     "t.yaml:5:5: tiers[0].base_ulr: unknown key 'base_ulr' (did you mean 'base_url'?)"},
    {OPENAI_TIER "    'quoted key': 1\n",
     "t.yaml:5:5: tiers[0].quoted key: unknown key 'quoted key'"},
};

static void run_cases(const struct error_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_error(cases[i].yaml, RP_ERR_CONFIG, cases[i].msg);
}

static void type_and_range_errors(void **state)
{
    (void)state;
    run_cases(type_and_range_cases, sizeof(type_and_range_cases) / sizeof(type_and_range_cases[0]));
}

static void structure_errors(void **state)
{
    (void)state;
    run_cases(structure_cases, sizeof(structure_cases) / sizeof(structure_cases[0]));
}

static void unknown_keys(void **state)
{
    (void)state;
    run_cases(unknown_key_cases, sizeof(unknown_key_cases) / sizeof(unknown_key_cases[0]));
}

static const struct error_case quality_cases[] = {
    {"quality:\n  threshold: 1.5\n",
     "t.yaml:2:3: quality.threshold: expected a number from 0 to 1, got '1.5'"},
    {"quality:\n  threshold: high\n",
     "t.yaml:2:3: quality.threshold: expected a number from 0 to 1, got 'high'"},
    {"quality:\n  min_support: -0.1\n",
     "t.yaml:2:3: quality.min_support: expected a number from 0 to 1, got '-0.1'"},
    {"quality:\n  hard_factor: 2\n",
     "t.yaml:2:3: quality.hard_factor: expected a number from 0 to 1, got '2'"},
    {"quality:\n  question_min_chars: -1\n",
     "t.yaml:2:3: quality.question_min_chars: expected an integer from 0 to 100000, got '-1'"},
    {"quality:\n  question_max_chars: 0\n",
     "t.yaml:2:3: quality.question_max_chars: expected an integer from 1 to 100000, got '0'"},
    {"quality:\n  answer_min_chars: 1.5\n",
     "t.yaml:2:3: quality.answer_min_chars: expected an integer from 0 to 1000000, got '1.5'"},
    {"quality:\n  answer_max_chars: 0\n",
     "t.yaml:2:3: quality.answer_max_chars: expected an integer from 1 to 1000000, got '0'"},
    {"quality:\n  weights:\n    grounding: -1\n",
     "t.yaml:3:5: quality.weights.grounding: expected a number from 0 to 1000, got '-1'"},
    {"quality:\n  weights:\n    judge: 1001\n",
     "t.yaml:3:5: quality.weights.judge: expected a number from 0 to 1000, got '1001'"},
    {"quality:\n  weights: 3\n",
     "t.yaml:2:3: quality.weights: expected a mapping of settings, got '3'"},
    {"quality:\n  dedup: maybe\n",
     "t.yaml:2:3: quality.dedup: expected true or false, got 'maybe'"},
    {"quality:\n  dedup_threshold: 0\n", "t.yaml:2:3: quality.dedup_threshold: expected a number "
                                         "greater than 0 and at most 1, got '0'"},
    {"quality:\n  dedup_pair_threshold: 1.01\n",
     "t.yaml:2:3: quality.dedup_pair_threshold: expected a number greater than 0 and at most 1, "
     "got '1.01'"},
    {"quality:\n  embed_model: ''\n",
     "t.yaml:2:3: quality.embed_model: expected a file path, got the quoted string ''"},
    {"quality:\n  judge: 'a b'\n",
     "t.yaml:2:3: quality.judge: expected a tier name of letters, digits, '-' and '_' (at most "
     "32), got the quoted string 'a b'"},
    {"quality: 5\n", "t.yaml:1:1: quality: expected a mapping of settings, got '5'"},
    {"quality:\n  treshold: 0.5\n",
     "t.yaml:2:3: quality.treshold: unknown key 'treshold' (did you mean 'threshold'?)"},
    {"quality:\n  weights:\n    grounds: 1\n",
     "t.yaml:3:5: quality.weights.grounds: unknown key 'grounds'"},
    /* The judge must name an LLM tier. */
    {"quality:\n  judge: big\n", "t.yaml:2:3: quality.judge: no tier is called 'big'"},
    {"quality:\n  judge: extractive\n",
     "t.yaml:2:3: quality.judge: tier 'extractive' is extractive; the judge must be an LLM tier"},
    {"tiers:\n  - {name: e, backend: extractive}\n  - {name: s, backend: llama, model: m}\n"
     "quality:\n  judge: e\n",
     "t.yaml:5:3: quality.judge: tier 'e' is extractive; the judge must be an LLM tier"},
    {"tiers:\n  - {name: s, backend: llama, model: m}\nquality:\n  judge: S\n",
     "t.yaml:4:3: quality.judge: no tier is called 'S'"},
    /* question_min_chars > question_max_chars, at whichever key the file set. */
    {"quality:\n  question_min_chars: 50\n  question_max_chars: 20\n",
     "t.yaml:2:3: quality.question_min_chars: question_min_chars (50) may not be larger than "
     "question_max_chars (20)"},
    {"quality:\n  question_max_chars: 5\n",
     "t.yaml:2:3: quality.question_max_chars: question_min_chars (10) may not be larger than "
     "question_max_chars (5)"},
    {"seed: 1\nquality:\n  threshold: 0.5\n  question_min_chars: 401\n",
     "t.yaml:4:3: quality.question_min_chars: question_min_chars (401) may not be larger than "
     "question_max_chars (400)"},
    {"quality:\n  answer_min_chars: 50\n  answer_max_chars: 20\n",
     "t.yaml:2:3: quality.answer_min_chars: answer_min_chars (50) may not be larger than "
     "answer_max_chars (20)"},
    {"route:\n  target: 0\n", "t.yaml:2:3: route.target: expected a number greater than 0 and at most 1, got '0'"},
    {"route:\n  adaptive: sometimes\n", "t.yaml:2:3: route.adaptive: expected true or false, got 'sometimes'"},
    {"monitor:\n  progress_interval: 0\n",
     "t.yaml:2:3: monitor.progress_interval: expected a number greater than 0 and at most 86400, got '0'"},
    {"monitor:\n  alerts:\n    min_pass_rate: 2\n",
     "t.yaml:3:5: monitor.alerts.min_pass_rate: expected a number from 0 to 1, got '2'"},
    {"monitor:\n  alerts:\n    loud: true\n", "t.yaml:3:5: monitor.alerts.loud: unknown key 'loud'"},
    /* The deterministic checks must count for something. */
    {"quality:\n  weights: {grounding: 0, support: 0, answerable: 0}\n",
     "t.yaml:2:3: quality.weights: grounding, support or answerable must weigh above 0 (the other "
     "checks are optional)"},
};

static void quality_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(quality_cases) / sizeof(quality_cases[0]); i++)
        check_error(quality_cases[i].yaml, RP_ERR_CONFIG, quality_cases[i].msg);
}

static void range_bounds_accepted(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "chunk: {max_tokens: 16, min_tokens: 16, overlap_tokens: 15}\n"
                "tiers:\n"
                "  - {name: a, backend: llama, model: m, parallel: 256, context: 256, "
                "gpu_layers: 10000, max_complexity: 0, top_p: 0, temperature: 10}\n"
                "  - {name: b, backend: llama, model: m, parallel: 1, context: 1048576, "
                "gpu_layers: -1, max_complexity: 1, top_p: 1, temperature: 0}\n");
    assert_int_equal(f->c.chunk.max_tokens, 16);
    assert_int_equal(f->c.chunk.min_tokens, 16);
    assert_int_equal(f->c.chunk.overlap_tokens, 15);
    assert_int_equal(f->c.tiers[0].llama.n_parallel, 256);
    assert_int_equal(f->c.tiers[0].llama.n_ctx_seq, 256);
    assert_int_equal(f->c.tiers[0].llama.n_gpu_layers, 10000);
    assert_float_eq(f->c.tiers[0].max_complexity, 0);
    assert_float_eq(f->c.tiers[0].sampling.temperature, 10);
    assert_int_equal(f->c.tiers[1].llama.n_parallel, 1);
    assert_int_equal(f->c.tiers[1].llama.n_ctx_seq, 1048576);
    assert_int_equal(f->c.tiers[1].llama.n_gpu_layers, -1);
    assert_float_eq(f->c.tiers[1].max_complexity, 1);
    assert_float_eq(f->c.tiers[1].sampling.top_p, 1);
    /* No extractive tier: the run uses the LLM tiers only. */
    assert_null(rp_config_tier(&f->c, "extractive"));
}

static void aliases_refused(void **state)
{
    (void)state;
    check_error("seed: &x 5\nescalate: *x\n", RP_ERR_CONFIG,
                "t.yaml:2:11: escalate: YAML aliases are not allowed (*x)");
    check_error("tiers:\n  - &t {name: a, backend: extractive}\n  - *t\n", RP_ERR_CONFIG,
                "t.yaml:3:5: tiers[1]: YAML aliases are not allowed (*t)");
    check_error("chunk: &c {max_tokens: 100}\n*c : 1\n", RP_ERR_CONFIG,
                "t.yaml:2:1: YAML aliases are not allowed (*c)");
    /* The billion laughs: refused at the first alias, nothing expanded. */
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    check_error(bomb, RP_ERR_CONFIG, "t.yaml:2:8: b[0]: YAML aliases are not allowed (*a)");
}

static void nesting_capped(void **state)
{
    (void)state;
    char yaml[256] = "seed: ";
    char want[512] = "t.yaml:1:22: seed";
    for (int i = 0; i < 20; i++)
        add(yaml, sizeof(yaml), "[");
    for (int i = 0; i < 20; i++)
        add(yaml, sizeof(yaml), "]");
    add(yaml, sizeof(yaml), "\n");
    for (int i = 0; i < 15; i++)
        add(want, sizeof(want), "[0]");
    add(want, sizeof(want), ": nested deeper than 16 levels");
    check_error(yaml, RP_ERR_CONFIG, want);
}

static void long_values_cut_between_characters(void **state)
{
    (void)state;
    char yaml[128] = "seed: a";
    char want[256] = "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got 'a";
    for (int i = 0; i < 30; i++)
        add(yaml, sizeof(yaml), "\xc3\xa9"); /* U+00E9, two bytes */
    add(yaml, sizeof(yaml), "\n");
    for (int i = 0; i < 19; i++) /* 1 + 19 * 2 bytes: the 20th would cross byte 40 */
        add(want, sizeof(want), "\xc3\xa9");
    add(want, sizeof(want), "...'");
    check_error(yaml, RP_ERR_CONFIG, want);
    /* Control characters are not copied into messages. */
    check_error("seed: \"a\\tb\"\n", RP_ERR_CONFIG,
                "t.yaml:1:1: seed: expected an integer from 0 to 18446744073709551615, got the "
                "quoted string 'a?b'");
}

static void too_many_tiers(void **state)
{
    (void)state;
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&b, "tiers:\n"), RP_OK);
    for (int i = 0; i < 17; i++)
        assert_int_equal(rp_buf_addf(&b, "  - {name: t%d, backend: llama, model: m}\n", i), RP_OK);
    struct rp_config c;
    struct rp_error err;
    enum rp_err rc = rp_config_parse("t.yaml", b.data, b.len, &c, &err);
    rp_buf_release(&b);
    assert_int_equal(rc, RP_ERR_CONFIG);
    assert_string_equal(err.msg, "t.yaml:1:1: tiers: at most 16 tiers are allowed, got 17");
}

static void api_keys_never_stored_or_echoed(void **state)
{
    (void)state;
    static const char *const yamls[] = {
        OPENAI_TIER "    api_key: sk-secret-123\n",
        OPENAI_TIER "    api_key_env: sk-secret-123\n",
        OPENAI_TIER "    api_key_env: 'Bearer sk-secret-123'\n",
    };
    static const char *const msgs[] = {
        "t.yaml:5:5: tiers[0].api_key: API keys are not read from configuration files; put the "
        "key in an environment variable and name it with api_key_env",
        "t.yaml:5:5: tiers[0].api_key_env: expected the name of an environment variable (letters, "
        "digits and '_'), not the key itself",
        "t.yaml:5:5: tiers[0].api_key_env: expected the name of an environment variable (letters, "
        "digits and '_'), not the key itself",
    };
    for (size_t i = 0; i < 3; i++) {
        check_error(yamls[i], RP_ERR_CONFIG, msgs[i]);
        assert_null(strstr(msgs[i], "secret"));
    }
}

static void max_complexity_spread(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "tiers:\n"
                "  - {name: e, backend: extractive}\n"
                "  - {name: a, backend: llama, model: m}\n"
                "  - {name: b, backend: llama, model: m}\n"
                "  - {name: c, backend: openai, base_url: 'http://h'}\n");
    assert_float_eq(f->c.tiers[0].max_complexity, 0);
    assert_float_eq(f->c.tiers[1].max_complexity, 1.0 / 3);
    assert_float_eq(f->c.tiers[2].max_complexity, 2.0 / 3);
    assert_float_eq(f->c.tiers[3].max_complexity, 1.0);

    parse_ok(f, "tiers:\n"
                "  - {name: a, backend: llama, model: m}\n"
                "  - {name: b, backend: llama, model: m, max_complexity: 0.8}\n"
                "  - {name: c, backend: llama, model: m}\n"
                "  - {name: d, backend: llama, model: m}\n");
    assert_float_eq(f->c.tiers[0].max_complexity, 0.4);
    assert_float_eq(f->c.tiers[1].max_complexity, 0.8);
    assert_float_eq(f->c.tiers[2].max_complexity, 0.9);
    assert_float_eq(f->c.tiers[3].max_complexity, 1.0);

    /* Equal values are in order; a last tier below 1.0 is the user's choice. */
    parse_ok(f, "tiers:\n"
                "  - {name: a, backend: llama, model: m, max_complexity: 0.5}\n"
                "  - {name: b, backend: llama, model: m, max_complexity: 0.5}\n"
                "  - {name: c, backend: llama, model: m, max_complexity: 0.7}\n");
    assert_float_eq(f->c.tiers[0].max_complexity, 0.5);
    assert_float_eq(f->c.tiers[1].max_complexity, 0.5);
    assert_float_eq(f->c.tiers[2].max_complexity, 0.7);
}

/* ---- paths ---- */

static void relative_paths_from_config_dir(void **state)
{
    struct fixture *f = *state;
    make_tmpdir(f);
    char sub[600], path[700];
    snprintf(sub, sizeof(sub), "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/ranpipe.yaml", sub);
    const char *yaml = "tiers:\n"
                       "  - name: s\n"
                       "    backend: llama\n"
                       "    model: models/q.gguf\n"
                       "    prompt_template: ../prompts/user.txt\n"
                       "    system_prompt: /etc/ranpipe/system.txt\n"
                       "quality:\n"
                       "  embed_model: emb/e.gguf\n";
    write_file(path, yaml, strlen(yaml));
    if (rp_config_load(path, &f->c, &f->err))
        fail_msg("%s", f->err.msg);
    char want[800];
    assert_string_equal(f->c.path, path);
    snprintf(want, sizeof(want), "%s/models/q.gguf", sub);
    assert_string_equal(f->c.tiers[0].model, want);
    assert_ptr_equal(f->c.tiers[0].llama.model_path, f->c.tiers[0].model);
    snprintf(want, sizeof(want), "%s/../prompts/user.txt", sub);
    assert_string_equal(f->c.tiers[0].prompt_template, want);
    assert_string_equal(f->c.tiers[0].system_prompt, "/etc/ranpipe/system.txt");
    snprintf(want, sizeof(want), "%s/emb/e.gguf", sub);
    assert_string_equal(f->c.quality.embed_model, want);

    /* Errors from a file name the path as given. */
    const char *bad = "tiers:\n  - name: s\n    backend: llama\n    model: m\n    workers: 0\n";
    write_file(path, bad, strlen(bad));
    rp_config_release(&f->c);
    assert_int_equal(rp_config_load(path, &f->c, &f->err), RP_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s:5:5: tiers[0].workers: expected an integer from 1 to 64, got '0'", path);
    assert_string_equal(f->err.msg, want);
    assert_true(is_zeroed(&f->c));

    /* A string has no directory: relative paths are left as they are. */
    parse_ok(f, "tiers:\n  - {name: s, backend: llama, model: models/q.gguf}\n");
    assert_string_equal(f->c.tiers[0].model, "models/q.gguf");
}

static void tilde_expanded_from_home(void **state)
{
    struct fixture *f = *state;
    setenv("HOME", "/home/tester/", 1);
    parse_ok(f, "tiers:\n"
                "  - name: s\n"
                "    backend: llama\n"
                "    model: ~/models/q.gguf\n"
                "    system_prompt: ~\n"
                "    prompt_template: '~'\n");
    assert_string_equal(f->c.tiers[0].model, "/home/tester/models/q.gguf");
    assert_null(f->c.tiers[0].system_prompt); /* a plain ~ is YAML's null */
    assert_string_equal(f->c.tiers[0].prompt_template, "/home/tester");

    setenv("HOME", "/", 1);
    parse_ok(f, "tiers:\n  - {name: s, backend: llama, model: ~/q.gguf}\n");
    assert_string_equal(f->c.tiers[0].model, "/q.gguf");

    unsetenv("HOME");
    check_error("tiers:\n  - {name: s, backend: llama, model: ~/q.gguf}\n", RP_ERR_CONFIG,
                "t.yaml:2:31: tiers[0].model: cannot expand '~': HOME is not set");
}

static void load_errors(void **state)
{
    struct fixture *f = *state;
    make_tmpdir(f);
    char path[700], want[800];
    snprintf(path, sizeof(path), "%s/missing.yaml", f->dir);
    memset(&f->c, 0xab, sizeof(f->c));
    assert_int_equal(rp_config_load(path, &f->c, &f->err), RP_ERR_NOENT);
    snprintf(want, sizeof(want), "cannot open '%s': No such file or directory", path);
    assert_string_equal(f->err.msg, want);
    assert_true(is_zeroed(&f->c));

    /* Larger than 1 MiB, even if it is all comments. */
    size_t big = ((size_t)1 << 20) + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    for (size_t i = 79; i < big; i += 80)
        text[i] = '\n';
    snprintf(path, sizeof(path), "%s/big.yaml", f->dir);
    write_file(path, text, big);
    assert_int_equal(rp_config_load(path, &f->c, &f->err), RP_ERR_TOOBIG);
    snprintf(want, sizeof(want), "cannot read '%s': larger than the 1048576 byte limit", path);
    assert_string_equal(f->err.msg, want);
    assert_true(is_zeroed(&f->c));
    enum rp_err rc = rp_config_parse("s.yaml", text, big, &f->c, &f->err);
    free(text);
    assert_int_equal(rc, RP_ERR_TOOBIG);
    assert_string_equal(f->err.msg,
                        "s.yaml: larger than the 1048576 byte limit of a configuration file");
    assert_true(is_zeroed(&f->c));

    /* Not UTF-8. */
    check_error("seed: \xff\n", RP_ERR_CONFIG,
                "t.yaml:1:7: invalid YAML: invalid leading UTF-8 octet");
}

/* ---- small functions ---- */

static void names_lookup_and_release(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(rp_backend_kind_name(RP_BACKEND_EXTRACTIVE), "extractive");
    assert_string_equal(rp_backend_kind_name(RP_BACKEND_LLAMA), "llama");
    assert_string_equal(rp_backend_kind_name(RP_BACKEND_OPENAI), "openai");
    assert_string_equal(rp_backend_kind_name((enum rp_backend_kind)42), "unknown");

    assert_null(rp_config_tier(NULL, "x"));
    assert_int_equal(rp_config_default(&f->c, "/m.gguf", NULL, &f->err), RP_OK);
    assert_null(rp_config_tier(&f->c, NULL));
    assert_null(rp_config_tier(&f->c, "medium"));
    assert_ptr_equal(rp_config_tier(&f->c, "small"), &f->c.tiers[1]);

    /* A string without a name or text: the defaults. */
    rp_config_release(&f->c);
    assert_int_equal(rp_config_parse(NULL, NULL, 0, &f->c, &f->err), RP_OK);
    assert_string_equal(f->c.path, "<config>");
    assert_int_equal(f->c.n_tiers, 1);

    rp_config_release(&f->c);
    assert_true(is_zeroed(&f->c));
    rp_config_release(&f->c); /* a zeroed config is a no-op */
    rp_config_release(NULL);
    assert_true(is_zeroed(&f->c));
}

static void gpu_layers_auto(void **state)
{
    (void)state;
    const char *yaml = "tiers:\n  - {name: a, backend: llama, model: m.gguf, gpu_layers: auto}\n"
                       "  - {name: b, backend: llama, model: m.gguf, gpu_layers: 12}\n"
                       "  - {name: c, backend: llama, model: m.gguf}\n";
    struct rp_config c;
    struct rp_error err;
    memset(&c, 0, sizeof(c));
    assert_int_equal(rp_config_parse("t.yaml", yaml, strlen(yaml), &c, &err), RP_OK);
    assert_int_equal(c.tiers[0].llama.n_gpu_layers, RP_GPU_LAYERS_AUTO);
    assert_int_equal(c.tiers[1].llama.n_gpu_layers, 12);
    assert_int_equal(c.tiers[2].llama.n_gpu_layers, RP_GPU_LAYERS_AUTO); /* the default */
    rp_config_release(&c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(defaults_no_file),
        cmocka_unit_test(gpu_layers_auto),
        T(defaults_model),
        T(defaults_endpoint),
        T(defaults_both),
        T(defaults_bad_input),
        T(example_file_loads),
        T(example_large_tier_uncommented),
        T(every_key_is_stored),
        T(every_quality_key_is_stored),
        T(quality_errors),
        T(empty_documents_are_defaults),
        T(anchors_and_booleans),
        T(header_example_message),
        T(type_and_range_errors),
        T(structure_errors),
        T(unknown_keys),
        T(range_bounds_accepted),
        T(aliases_refused),
        T(nesting_capped),
        T(long_values_cut_between_characters),
        T(too_many_tiers),
        T(api_keys_never_stored_or_echoed),
        T(max_complexity_spread),
        T(relative_paths_from_config_dir),
        T(tilde_expanded_from_home),
        T(load_errors),
        T(names_lookup_and_release),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
