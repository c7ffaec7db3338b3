/*
 * test_llm.c - continuous batching and grammar-constrained generation with
 * the tiny fixture model (random weights: the text is noise, the structure
 * is what is checked).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/llm.h"
#include "ranpipe/prompt.h"
#include "ranpipe/qa.h"

static const char *model_path(void)
{
    const char *p = getenv("RANPIPE_TINY_MODEL");
    return p && *p ? p : "build/dev/models/tiny-qwen3-f16.gguf";
}

static struct rp_llama *load(int n_parallel, int n_ctx_seq)
{
    struct rp_llama_params p = rp_llama_default_params();
    p.model_path = model_path();
    p.n_parallel = n_parallel;
    p.n_ctx_seq = n_ctx_seq;
    /* The tsan preset sets 1: ggml's own threads are invisible to TSan. */
    const char *t = getenv("RANPIPE_TEST_THREADS");
    p.n_threads = t && *t ? (int)strtol(t, NULL, 10) : 2;
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_llama *m = rp_llama_new(&p, &err);
    if (!m)
        fail_msg("cannot load %s: %s", p.model_path, err.msg);
    return m;
}

/* A list of requests fed to rp_llama_run in order. */
struct feed {
    struct rp_gen_request *reqs;
    size_t n, next, done;
    size_t order[64]; /* completion order */
};

static struct rp_gen_request *feed_next(bool block, void *ud)
{
    (void)block;
    struct feed *f = ud;
    return f->next < f->n ? &f->reqs[f->next++] : NULL;
}

static void feed_done(struct rp_gen_request *req, void *ud)
{
    struct feed *f = ud;
    if (f->done < 64)
        f->order[f->done] = (size_t)(req - f->reqs);
    f->done++;
}

static void run_feed(struct rp_llama *m, struct feed *f, const struct rp_sampling *s,
                     struct rp_gen_stats *st)
{
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_llama_run(m, s, feed_next, feed_done, f, st, &err), RP_OK);
    assert_int_equal(f->done, f->n);
}

static void test_load_and_template(void **state)
{
    (void)state;
    struct rp_llama *m = load(1, 512);
    assert_non_null(strstr(rp_llama_model_name(m), "ranpipe-fixture-qwen3-tiny"));
    assert_true(rp_llama_count_tokens("EUtranCellFDD.qRxLevMin = -140 dBm", 35, m) >= 8);
    assert_int_equal(rp_llama_count_tokens("", 0, m), 0);

    struct rp_buf out;
    rp_buf_init(&out, RP_BUF_NO_CAP);
    struct rp_error err;
    assert_int_equal(rp_llama_format_chat(m, "SYS", "Hello", &out, &err), RP_OK);
    assert_non_null(strstr(out.data, "<|im_start|>system\nSYS<|im_end|>"));
    assert_non_null(strstr(out.data, "<|im_start|>user\nHello<|im_end|>"));
    size_t tail = strlen("<|im_start|>assistant\n");
    assert_true(out.len >= tail);
    assert_string_equal(out.data + out.len - tail, "<|im_start|>assistant\n");
    rp_buf_release(&out);
    rp_llama_free(m);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct rp_llama_params p = rp_llama_default_params();
    struct rp_error err;
    p.model_path = "/nonexistent/model.gguf";
    assert_null(rp_llama_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));

    char path[] = "/tmp/ranpipe-not-a-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("this is not a GGUF file\n", f);
    fclose(f);
    p.model_path = path;
    assert_null(rp_llama_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_MODEL);
    assert_non_null(strstr(err.msg, path));
    remove(path);
}

/* Builds n grammar-constrained QA requests over short RAN-like texts. */
static struct rp_gen_request *qa_requests(size_t n, int n_pairs, struct rp_buf *users,
                                          struct rp_buf *grammar)
{
    struct rp_qa_shape shape = rp_qa_shape_default();
    shape.question_chars = 64;
    shape.answer_chars = 96;
    rp_buf_init(grammar, RP_BUF_NO_CAP);
    assert_int_equal(rp_prompt_qa_grammar(&shape, n_pairs, grammar), RP_OK);
    struct rp_gen_request *reqs = calloc(n, sizeof(*reqs));
    for (size_t i = 0; i < n; i++) {
        rp_buf_init(&users[i], RP_BUF_NO_CAP);
        char text[256];
        snprintf(text, sizeof(text),
                 "The parameter EUtranCellFDD.qRxLevMin%zu sets the minimum RX level to -%zu dBm.",
                 i, 100 + i);
        assert_int_equal(rp_prompt_qa_user("Cell selection", "Parameters", text, n_pairs, &users[i]),
                         RP_OK);
        rp_gen_request_init(&reqs[i]);
        reqs[i].system = rp_prompt_qa_system();
        reqs[i].user = users[i].data;
        reqs[i].grammar = grammar->data;
        reqs[i].seed = 1000 + i;
        reqs[i].max_tokens = rp_prompt_max_tokens(&shape, n_pairs);
    }
    return reqs;
}

static void free_requests(struct rp_gen_request *reqs, size_t n, struct rp_buf *users,
                          struct rp_buf *grammar)
{
    for (size_t i = 0; i < n; i++) {
        rp_gen_request_release(&reqs[i]);
        rp_buf_release(&users[i]);
    }
    rp_buf_release(grammar);
    free(reqs);
}

static void test_grammar_batched(void **state)
{
    (void)state;
    enum { N = 6 };
    struct rp_llama *m = load(4, 1024);
    struct rp_buf users[N], grammar;
    struct rp_gen_request *reqs = qa_requests(N, 2, users, &grammar);
    struct feed f = {.reqs = reqs, .n = N};
    struct rp_gen_stats st = {0};
    struct rp_sampling s = rp_sampling_default();
    run_feed(m, &f, &s, &st);

    assert_int_equal(st.requests, N);
    for (size_t i = 0; i < N; i++) {
        struct rp_gen_request *r = &reqs[i];
        assert_int_equal(r->finish, RP_FINISH_STOP);
        assert_true(r->n_gen_tokens > 0 && r->n_gen_tokens <= r->max_tokens);
        assert_true(r->n_grammar_fallbacks < r->n_gen_tokens); /* most tokens need one check */
        struct rp_qa_list pairs;
        rp_qa_list_init(&pairs);
        struct rp_error err;
        if (rp_qa_parse(r->text.data, r->text.len, &pairs, &err) != RP_OK)
            fail_msg("request %zu: %s\n%s", i, err.msg, r->text.data);
        assert_true(pairs.n >= 1 && pairs.n <= 2);
        for (size_t k = 0; k < pairs.n; k++) {
            assert_null(pairs.items[k].reject);
            assert_true(strlen(pairs.items[k].question) > 0);
            int known = 0;
            for (int t = 0; rp_qa_types[t]; t++)
                known |= strcmp(rp_qa_types[t], pairs.items[k].type) == 0;
            assert_true(known);
        }
        rp_qa_list_release(&pairs);
    }
    free_requests(reqs, N, users, &grammar);
    rp_llama_free(m);
}

static void test_deterministic(void **state)
{
    (void)state;
    enum { N = 3 };
    struct rp_llama *m = load(2, 1024);
    struct rp_sampling s = rp_sampling_default();
    char *first[N];
    for (int round = 0; round < 2; round++) {
        struct rp_buf users[N], grammar;
        struct rp_gen_request *reqs = qa_requests(N, 1, users, &grammar);
        struct feed f = {.reqs = reqs, .n = N};
        run_feed(m, &f, &s, NULL);
        for (size_t i = 0; i < N; i++) {
            if (round == 0)
                first[i] = strdup(reqs[i].text.data);
            else
                assert_string_equal(first[i], reqs[i].text.data);
        }
        free_requests(reqs, N, users, &grammar);
    }
    for (size_t i = 0; i < N; i++)
        free(first[i]);
    rp_llama_free(m);
}

static void test_request_failures(void **state)
{
    (void)state;
    struct rp_llama *m = load(2, 256);
    struct rp_buf big;
    rp_buf_init(&big, RP_BUF_NO_CAP);
    for (int i = 0; i < 400; i++)
        rp_buf_adds(&big, "pmRrcConnEstabSucc counts successful RRC setups. ");
    struct rp_gen_request reqs[4];
    for (int i = 0; i < 4; i++) {
        rp_gen_request_init(&reqs[i]);
        reqs[i].user = "Say something.";
        reqs[i].seed = (uint64_t)i;
    }
    reqs[0].user = big.data;             /* prompt longer than the context */
    reqs[1].grammar = "root ::= oops ::="; /* grammar that does not parse */
    reqs[2].max_tokens = 16;             /* free text, cut at 16 tokens */
    reqs[3].grammar = "root ::= \"[\" [a-z]{3} \"]\"";
    struct feed f = {.reqs = reqs, .n = 4};
    struct rp_sampling s = rp_sampling_default();
    run_feed(m, &f, &s, NULL);

    assert_int_equal(reqs[0].finish, RP_FINISH_ERROR);
    assert_int_equal(reqs[0].err.code, RP_ERR_CONTEXT);
    assert_non_null(strstr(reqs[0].err.msg, "does not fit"));
    assert_int_equal(reqs[1].finish, RP_FINISH_ERROR);
    assert_int_equal(reqs[1].err.code, RP_ERR_INVAL);
    assert_true(reqs[2].finish == RP_FINISH_LENGTH || reqs[2].finish == RP_FINISH_STOP);
    assert_true(reqs[2].n_gen_tokens <= 16);
    assert_int_equal(reqs[3].finish, RP_FINISH_STOP);
    assert_int_equal(reqs[3].text.len, 5);
    assert_int_equal(reqs[3].text.data[0], '[');
    assert_int_equal(reqs[3].text.data[4], ']');
    for (int i = 0; i < 4; i++)
        rp_gen_request_release(&reqs[i]);
    rp_buf_release(&big);
    rp_llama_free(m);
}

/* More requests than slots, with very different lengths: slots are reused
 * as soon as a sequence ends (continuous batching) and all finish. */
static void test_slot_reuse(void **state)
{
    (void)state;
    enum { N = 10 };
    struct rp_llama *m = load(3, 512);
    struct rp_gen_request reqs[N];
    for (int i = 0; i < N; i++) {
        rp_gen_request_init(&reqs[i]);
        reqs[i].user = "List some RAN counters.";
        reqs[i].seed = (uint64_t)i;
        reqs[i].max_tokens = i % 2 ? 40 : 4;
    }
    struct feed f = {.reqs = reqs, .n = N};
    struct rp_gen_stats st = {0};
    struct rp_sampling s = rp_sampling_default();
    run_feed(m, &f, &s, &st);
    /* A short request issued after long ones finishes before them. */
    size_t pos2 = 0, pos1 = 0;
    for (size_t i = 0; i < N; i++) {
        if (f.order[i] == 2)
            pos2 = i;
        if (f.order[i] == 1)
            pos1 = i;
    }
    assert_true(pos2 < pos1);
    for (int i = 0; i < N; i++) {
        assert_int_not_equal(reqs[i].finish, RP_FINISH_ERROR);
        assert_true(reqs[i].n_gen_tokens <= reqs[i].max_tokens);
        rp_gen_request_release(&reqs[i]);
    }
    assert_true(st.decode_calls < st.gen_tokens); /* several sequences per step */
    rp_llama_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_template), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_grammar_batched),   cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_request_failures),  cmocka_unit_test(test_slot_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
