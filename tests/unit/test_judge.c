/*
 * test_judge.c - the LLM judge (include/ranpipe/judge.h): reading judges'
 * replies in every shape seen in the wild, then rating pairs end to end
 * against tests/fake_openai.py (modes judge, judgetext, garbage, malformed)
 * and against a llama tier serving the tiny random-weights fixture model
 * (RANPIPE_TINY_MODEL, workers run RANPIPE_BIN).
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

#include "fake_openai.h"
#include "ranpipe/assess.h"
#include "ranpipe/judge.h"

#define EPS 1e-9
#define NA -1.0 /* a score the reply does not give */

/* ---- rp_judge_parse ---- */

struct parse_case {
    const char *name;
    const char *text;
    enum rp_err rc;
    double acc, rel, cla, use, overall; /* expected when rc is RP_OK */
    const char *reason;                 /* expected reason (RP_OK) or a part of the message */
};

static const struct parse_case CASES[] = {
    {"clean JSON",
     "{\"reason\": \"Matches the table.\", \"accuracy\": 5, \"relevance\": 4, \"clarity\": 4, "
     "\"usefulness\": 3}",
     RP_OK, 1.0, 0.8, 0.8, 0.6, 0.8, "Matches the table."},
    {"floats on the 1-5 scale",
     "{\"accuracy\": 4.5, \"relevance\": 4.0, \"clarity\": 3.5, \"usefulness\": 5.0}", RP_OK, 0.9,
     0.8, 0.7, 1.0, 0.85, ""},
    {"strings: 4/5, 5, 3.5, 4 out of 5",
     "{\"accuracy\": \"4/5\", \"relevance\": \"5\", \"clarity\": \"3.5\", "
     "\"usefulness\": \"4 out of 5\"}",
     RP_OK, 0.8, 1.0, 0.7, 0.8, 0.825, ""},
    {"0-10 scale", "{\"accuracy\": 8, \"relevance\": 9, \"clarity\": 7, \"usefulness\": 6}", RP_OK,
     0.8, 0.9, 0.7, 0.6, 0.75, ""},
    {"one value above 5 puts every bare value out of 10", "{\"accuracy\": 8, \"clarity\": 4}",
     RP_OK, 0.8, NA, 0.4, NA, 0.6, ""},
    {"fractions", "{\"accuracy\": 0.9, \"relevance\": 1.0, \"clarity\": 0.75, \"usefulness\": 0.5}",
     RP_OK, 0.9, 1.0, 0.75, 0.5, 0.7875, ""},
    {"fenced, prose around",
     "Here is my evaluation:\n```json\n{\n  \"accuracy\": 4,\n  \"relevance\": 5,\n  "
     "\"clarity\": 4,\n  \"usefulness\": 4,\n  \"explanation\": \"Good.\"\n}\n```\nLet me know "
     "[if] you need more.",
     RP_OK, 0.8, 1.0, 0.8, 0.8, 0.85, "Good."},
    {"<think> block first, with decoy scores",
     "<think>Accuracy: 1/5? {\"accuracy\": 1} No, the value matches.</think>\n"
     "{\"accuracy\": 4, \"relevance\": 4, \"clarity\": 4, \"usefulness\": 4, \"reason\": \"ok\"}",
     RP_OK, 0.8, 0.8, 0.8, 0.8, 0.8, "ok"},
    {"lone </think> (the template opened the block)",
     "Let me check {\"accuracy\": 1}. Fine.\n</think>\n\n{\"accuracy\": 3, \"relevance\": 5}",
     RP_OK, 0.6, 1.0, NA, NA, 0.8, ""},
    {"prose before and after",
     "Sure! My rating is {\"accuracy\": 2, \"relevance\": 3, \"clarity\": 4, \"usefulness\": 5} "
     "as requested. Hope this helps.",
     RP_OK, 0.4, 0.6, 0.8, 1.0, 0.7, ""},
    {"plain-text lines",
     "Accuracy: 4/5\nRelevance: 5\nClarity: 4\nUsefulness: 3\nReason: Correct but terse.\n", RP_OK,
     0.8, 1.0, 0.8, 0.6, 0.8, "Correct but terse."},
    {"Markdown list, dashes, scale in parentheses, filler words",
     "- **Accuracy** (1-5): 4\n- **Relevance** \xe2\x80\x93 5\n- Clarity score: 3\n"
     "- Usefulness is 4 out of 5\n\n**Justification:** The default is right.",
     RP_OK, 0.8, 1.0, 0.6, 0.8, 0.8, "The default is right."},
    {"single Score: 8/10", "The answer is mostly correct.\nScore: 8/10", RP_OK, NA, NA, NA, NA, 0.8,
     ""},
    {"overall as a percentage", "Overall rating: 85%", RP_OK, NA, NA, NA, NA, 0.85, ""},
    {"JSON with only an overall score", "{\"score\": 4, \"explanation\": \"mostly right\"}", RP_OK,
     NA, NA, NA, NA, 0.8, "mostly right"},
    {"rubric scores win over an overall score",
     "{\"overall\": 2, \"accuracy\": 5, \"relevance\": 5}", RP_OK, 1.0, 1.0, NA, NA, 1.0, ""},
    {"missing keys", "{\"accuracy\": 4, \"clarity\": 2}", RP_OK, 0.8, NA, 0.4, NA, 0.6, ""},
    {"nested scores object, other key spellings",
     "{\"scores\": {\"Factual Accuracy\": 5, \"Relevancy\": 5, \"CLARITY\": 5, "
     "\"helpfulness\": 5}, \"reasoning\": \"fine\\nreally\"}",
     RP_OK, 1.0, 1.0, 1.0, 1.0, 1.0, "fine really"},
    {"list of criteria",
     "[{\"criterion\": \"accuracy\", \"score\": 2}, {\"criterion\": \"Relevance\", \"score\": 4}]",
     RP_OK, 0.4, 0.8, NA, NA, 0.6, ""},
    {"objects holding the score",
     "{\"accuracy\": {\"score\": 3, \"note\": \"x\"}, \"relevance\": {\"rating\": \"5/5\"}}", RP_OK,
     0.6, 1.0, NA, NA, 0.8, ""},
    {"JSON cut off: read as text",
     "{\"reason\": \"fine\", \"accuracy\": 4, \"relevance\": 5, \"clar", RP_OK, 0.8, 1.0, NA, NA,
     0.9, ""},
    {"a negative value is rejected, the rest counts", "{\"accuracy\": -1, \"relevance\": 4}", RP_OK,
     NA, 0.8, NA, NA, 0.8, ""},
    {"out of range: rejected, not clamped", "{\"accuracy\": \"7/5\", \"relevance\": 12}",
     RP_ERR_PARSE, 0, 0, 0, 0, 0, "accuracy value '7/5' is out of range"},
    {"garbage", "I am sorry, but I cannot evaluate this pair.", RP_ERR_PARSE, 0, 0, 0, 0, 0,
     "no score in the reply 'I am sorry"},
    {"a number inside a word is not a score", "Score: 3GPP TS 38.331 defines it.", RP_ERR_PARSE, 0,
     0, 0, 0, 0, "no score"},
    {"JSON without scores", "{\"answer\": \"yes\", \"confidence\": \"high\"}", RP_ERR_PARSE, 0, 0,
     0, 0, 0, "JSON has no accuracy"},
    {"empty", "", RP_ERR_PARSE, 0, 0, 0, 0, 0, "empty"},
    {"only a <think> block", "<think>Accuracy: 4/5</think>\n  ", RP_ERR_PARSE, 0, 0, 0, 0, 0,
     "empty outside <think> blocks"},
};

static void check_score(const char *name, const char *what, double got, double want)
{
    if (want < 0) {
        if (got >= 0)
            fail_msg("%s: %s is %g, expected missing", name, what, got);
    } else if (fabs(got - want) > EPS) {
        fail_msg("%s: %s is %g, expected %g", name, what, got, want);
    }
}

static void test_parse_shapes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct parse_case *c = &CASES[i];
        struct rp_judge_scores s;
        struct rp_error err;
        rp_error_clear(&err);
        enum rp_err rc = rp_judge_parse(c->text, strlen(c->text), &s, &err);
        if (rc != c->rc)
            fail_msg("%s: rc %d (%s), expected %d", c->name, rc, err.msg, c->rc);
        if (rc != RP_OK) {
            if (!strstr(err.msg, c->reason))
                fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->reason);
            assert_true(s.overall < 0 && s.accuracy < 0 && s.usefulness < 0);
            continue;
        }
        check_score(c->name, "accuracy", s.accuracy, c->acc);
        check_score(c->name, "relevance", s.relevance, c->rel);
        check_score(c->name, "clarity", s.clarity, c->cla);
        check_score(c->name, "usefulness", s.usefulness, c->use);
        check_score(c->name, "overall", s.overall, c->overall);
        if (strcmp(s.reason, c->reason) != 0)
            fail_msg("%s: reason '%s', expected '%s'", c->name, s.reason, c->reason);
    }
}

/* Not NUL-terminated input, a NULL text, and a reason longer than the
 * field, cut at a UTF-8 boundary. */
/* The score run and assess use: the mean, capped by accuracy. */
static void test_strict_score(void **state)
{
    (void)state;
    struct rp_judge_scores s;
    struct rp_error err;
    const char *low = "{\"accuracy\": 2, \"relevance\": 5, \"clarity\": 5, \"usefulness\": 5}";
    assert_int_equal(rp_judge_parse(low, strlen(low), &s, &err), RP_OK);
    assert_true(fabs(s.overall - 0.85) < EPS);
    assert_true(fabs(rp_judge_strict_score(&s) - 0.4) < EPS);
    const char *good = "{\"accuracy\": 5, \"relevance\": 4, \"clarity\": 4, \"usefulness\": 3}";
    assert_int_equal(rp_judge_parse(good, strlen(good), &s, &err), RP_OK);
    assert_true(fabs(rp_judge_strict_score(&s) - 0.8) < EPS);
    const char *only = "Score: 7/10";
    assert_int_equal(rp_judge_parse(only, strlen(only), &s, &err), RP_OK);
    assert_true(fabs(rp_judge_strict_score(&s) - 0.7) < EPS);
}

static void test_parse_edges(void **state)
{
    (void)state;
    struct rp_judge_scores s;
    struct rp_error err;
    const char *text = "{\"accuracy\": 5}{\"accuracy\": 1}";
    assert_int_equal(rp_judge_parse(text, 15, &s, &err), RP_OK);
    assert_true(fabs(s.accuracy - 1.0) < EPS);
    assert_int_equal(rp_judge_parse("Accuracy: 45", 11, &s, &err), RP_OK); /* "Accuracy: 4" */
    assert_true(fabs(s.overall - 0.8) < EPS);
    assert_int_equal(rp_judge_parse(NULL, 0, &s, &err), RP_ERR_PARSE);

    char big[1200];
    size_t k = (size_t)snprintf(big, sizeof(big), "{\"accuracy\": 3, \"reason\": \"");
    while (k + 16 < sizeof(big)) {
        memcpy(big + k, "\xc3\xa9t\xc3\xa9 ", 6); /* "été " */
        k += 6;
    }
    memcpy(big + k, "\"}", 3);
    assert_int_equal(rp_judge_parse(big, strlen(big), &s, &err), RP_OK);
    size_t n = strlen(s.reason);
    assert_true(n > 200 && n < sizeof(s.reason));
    /* Every character whole: the last byte is not a lead byte left alone. */
    unsigned char last = (unsigned char)s.reason[n - 1];
    assert_true(last < 0x80 || (last & 0xC0) == 0x80);
    if ((last & 0xC0) == 0x80)
        assert_int_equal((unsigned char)s.reason[n - 2], 0xc3);
}

/* ---- rp_judge_rate against the fake server ---- */

static const char CONTEXT[] =
    "qRxLevMin: the minimum required RX level in the cell, in dBm. Range -140 to -44, "
    "default -140.";
static const char QUESTION[] = "What is the default value of qRxLevMin?";
static const char ANSWER[] = "The default value of qRxLevMin is -140 dBm.";

/* An openai tier on the fake server's /v1. */
struct fake_tier {
    char url[128];
    char *urls[1];
    struct rp_tier_config t;
};

static void fake_tier_init(struct fake_tier *f)
{
    memset(f, 0, sizeof(*f));
    rp_test_fake_url(f->url, sizeof(f->url), "/v1");
    f->urls[0] = f->url;
    f->t.name = "big";
    f->t.kind = RP_BACKEND_OPENAI;
    f->t.base_urls = f->urls;
    f->t.n_base_urls = 1;
    f->t.api_model = "fake-judge";
    f->t.timeout_s = 10;
    f->t.sampling = rp_sampling_default();
}

static struct rp_judge *fake_judge(struct fake_tier *f, const struct rp_judge_params *p)
{
    fake_tier_init(f);
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_judge *j = rp_judge_new(&f->t, NULL, p, &err);
    if (!j)
        fail_msg("rp_judge_new: %s", err.msg);
    return j;
}

/* The seed the fake server received last. */
static long long last_seed(void)
{
    json_t *st = rp_test_fake_stats();
    long long seed = json_integer_value(json_object_get(json_object_get(st, "last_body"), "seed"));
    json_decref(st);
    return seed;
}

static void test_rate_fake_json(void **state)
{
    (void)state;
    rp_test_fake_reset();
    struct fake_tier f;
    struct rp_judge *j = fake_judge(&f, NULL);
    char ctx[512];
    snprintf(ctx, sizeof(ctx), "%s @mode=judge", CONTEXT);
    char why[256] = "";
    /* Through the assessor's callback type. */
    rp_judge_fn fn = rp_judge_fn_adapter;
    double v = fn(j, ctx, QUESTION, ANSWER, why, sizeof(why));
    assert_true(fabs(v - 0.8) < EPS); /* (5 + 4 + 4 + 3) / 4 / 5 */
    assert_string_equal(why, "accuracy 5/5, relevance 4/5, clarity 4/5, usefulness 3/5: Every "
                             "value matches the context.");

    /* What was asked: the rubric system prompt, the pair, the JSON Schema. */
    json_t *st = rp_test_fake_stats();
    json_t *body = json_object_get(st, "last_body");
    json_t *msgs = json_object_get(body, "messages");
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    assert_non_null(sys);
    assert_non_null(user);
    assert_non_null(strstr(sys, "radio access networks"));
    assert_non_null(strstr(sys, "accuracy"));
    assert_non_null(strstr(user, CONTEXT));
    assert_non_null(strstr(user, QUESTION));
    assert_non_null(strstr(user, ANSWER));
    assert_string_equal(json_string_value(json_object_get(body, "model")), "fake-judge");
    json_t *schema = json_object_get(
        json_object_get(json_object_get(body, "response_format"), "json_schema"), "schema");
    json_t *req = json_object_get(schema, "required");
    assert_int_equal(json_array_size(req), 5);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "reason");
    assert_string_equal(json_string_value(json_array_get(req, 1)), "accuracy");
    json_t *acc = json_object_get(json_object_get(schema, "properties"), "accuracy");
    assert_int_equal(json_integer_value(json_object_get(acc, "maximum")), 5);
    json_t *reason = json_object_get(json_object_get(schema, "properties"), "reason");
    assert_int_equal(json_integer_value(json_object_get(reason, "maxLength")), 256 - 96);
    assert_true(json_is_integer(json_object_get(body, "seed")));
    json_decref(st);

    /* The seed is the pair's: the same again, another for another answer. */
    long long s1 = last_seed();
    assert_true(fabs(rp_judge_rate(j, ctx, QUESTION, ANSWER, NULL, 0) - 0.8) < EPS);
    assert_true(last_seed() == s1);
    assert_true(fabs(rp_judge_rate(j, ctx, QUESTION, "It is -140 dBm.", why, sizeof(why)) - 0.8) <
                EPS);
    assert_true(last_seed() != s1);
    rp_judge_free(j);

    /* ... and moves with the judge's seed. */
    struct rp_judge_params p = rp_judge_default_params();
    p.seed = 7;
    j = fake_judge(&f, &p);
    assert_true(fabs(rp_judge_rate(j, ctx, QUESTION, ANSWER, why, sizeof(why)) - 0.8) < EPS);
    assert_true(last_seed() != s1);
    rp_judge_free(j);
}

/* The same rating as prose after a <think> block: the backend finds no
 * JSON and passes the text on; the reader takes the lines. */
static void test_rate_fake_text(void **state)
{
    (void)state;
    struct fake_tier f;
    struct rp_judge *j = fake_judge(&f, NULL);
    struct rp_judge_scores s;
    struct rp_error err;
    rp_error_clear(&err);
    char ctx[512];
    snprintf(ctx, sizeof(ctx), "%s @mode=judgetext", CONTEXT);
    assert_int_equal(rp_judge_rate_scores(j, ctx, QUESTION, ANSWER, &s, &err), RP_OK);
    assert_true(fabs(s.accuracy - 1.0) < EPS); /* not the 1/5 inside <think> */
    assert_true(fabs(s.usefulness - 0.6) < EPS);
    assert_true(fabs(s.overall - 0.8) < EPS);
    assert_string_equal(s.reason, "Every value matches the context.");
    rp_judge_free(j);
}

static void test_rate_fake_failures(void **state)
{
    (void)state;
    struct fake_tier f;
    struct rp_judge *j = fake_judge(&f, NULL);
    char ctx[512], why[256];

    /* A reply without a score. */
    snprintf(ctx, sizeof(ctx), "%s @mode=garbage", CONTEXT);
    assert_true(rp_judge_rate(j, ctx, QUESTION, ANSWER, why, sizeof(why)) < 0);
    assert_non_null(strstr(why, "judge 'big': no score in the reply 'I am sorry"));
    struct rp_judge_scores s;
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_judge_rate_scores(j, ctx, QUESTION, ANSWER, &s, &err), RP_ERR_PARSE);
    assert_true(s.overall < 0);

    /* A response that is not a completion: the backend fails the request. */
    snprintf(ctx, sizeof(ctx), "%s @mode=malformed", CONTEXT);
    why[0] = '\0';
    assert_true(rp_judge_rate(j, ctx, QUESTION, ANSWER, why, sizeof(why)) < 0);
    assert_non_null(strstr(why, "judge 'big': "));
    assert_int_equal(rp_judge_rate_scores(j, ctx, QUESTION, ANSWER, &s, &err), RP_ERR_BACKEND);

    /* A small why gets a cut, terminated line. */
    char small[12];
    snprintf(ctx, sizeof(ctx), "%s @mode=judge", CONTEXT);
    assert_true(rp_judge_rate(j, ctx, QUESTION, ANSWER, small, sizeof(small)) > 0);
    assert_string_equal(small, "accuracy 5/");
    rp_judge_free(j);
}

static void test_new_errors(void **state)
{
    (void)state;
    struct rp_tier_config t;
    memset(&t, 0, sizeof(t));
    t.name = "extractive";
    t.kind = RP_BACKEND_EXTRACTIVE;
    struct rp_error err;
    rp_error_clear(&err);
    assert_null(rp_judge_new(&t, NULL, NULL, &err));
    assert_int_equal(err.code, RP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "judge tier 'extractive'"));

    t.name = "nourl";
    t.kind = RP_BACKEND_OPENAI;
    assert_null(rp_judge_new(&t, NULL, NULL, &err));
    assert_int_equal(err.code, RP_ERR_CONFIG);

    t.name = "nomodel";
    t.kind = RP_BACKEND_LLAMA;
    assert_null(rp_judge_new(&t, NULL, NULL, &err));
    assert_int_equal(err.code, RP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "judge tier 'nomodel': no model"));
    rp_judge_free(NULL);
}

/* ---- rp_judge_rate with a llama tier and the tiny random model ----
 *
 * The model's weights are random, so what it writes is noise; but the
 * grammar admits only {"reason": "<printable ASCII>", "accuracy": 1-5, ...,
 * "usefulness": 1-5} and bounds the reason so the whole object fits in
 * max_tokens even at one token per character. Every reply therefore
 * parses: four scores from 1 to 5, so the overall score is k/20 for some k
 * from 4 to 20 - never a failure. And the pair's seed makes it repeat. */
static void test_rate_llama_tiny(void **state)
{
    (void)state;
    const char *m = getenv("RANPIPE_TINY_MODEL");
    const char *bin = getenv("RANPIPE_BIN");
    const char *threads = getenv("RANPIPE_TEST_THREADS");
    struct rp_tier_config t;
    memset(&t, 0, sizeof(t));
    t.name = "small";
    t.kind = RP_BACKEND_LLAMA;
    t.model = (char *)(m && *m ? m : "build/dev/models/tiny-qwen3-f16.gguf");
    t.llama = rp_llama_default_params();
    t.llama.model_path = t.model;
    t.llama.n_ctx_seq = 1024;
    t.llama.n_threads = threads && *threads ? (int)strtol(threads, NULL, 10) : 2;
    t.workers = 3; /* the judge uses one whatever the tier says */
    t.sampling = rp_sampling_default();

    struct rp_error err;
    rp_error_clear(&err);
    struct rp_judge *j = rp_judge_new(&t, bin && *bin ? bin : "build/dev/bin/ranpipe", NULL, &err);
    if (!j)
        fail_msg("rp_judge_new: %s", err.msg);
    double first = -1;
    for (int i = 0; i < 3; i++) {
        char why[256] = "";
        const char *answer = i == 1 ? "It is -140 dBm." : ANSWER;
        double v = rp_judge_rate(j, CONTEXT, QUESTION, answer, why, sizeof(why));
        if (v < 0)
            fail_msg("pair %d: %s", i, why);
        print_message("pair %d: %.2f (%s)\n", i, v, why);
        assert_true(v >= 0.2 - EPS && v <= 1.0 + EPS);
        assert_true(fabs(v * 20 - round(v * 20)) < 1e-6);
        assert_true(strncmp(why, "accuracy ", 9) == 0);
        assert_non_null(strstr(why, "usefulness "));
        if (i == 0)
            first = v;
        if (i == 2) /* the first pair again */
            assert_true(fabs(v - first) < EPS);
    }
    rp_judge_free(j);
}

int main(void)
{
    const struct CMUnitTest parse[] = {
        cmocka_unit_test(test_parse_shapes),
        cmocka_unit_test(test_parse_edges),
        cmocka_unit_test(test_strict_score),
        cmocka_unit_test(test_new_errors),
    };
    const struct CMUnitTest fake[] = {
        cmocka_unit_test(test_rate_fake_json),
        cmocka_unit_test(test_rate_fake_text),
        cmocka_unit_test(test_rate_fake_failures),
    };
    const struct CMUnitTest llama[] = {
        cmocka_unit_test(test_rate_llama_tiny),
    };
    int failed = cmocka_run_group_tests_name("parse", parse, NULL, NULL);
    failed += cmocka_run_group_tests_name("openai", fake, rp_test_fake_start, rp_test_fake_stop);
    failed += cmocka_run_group_tests_name("llama", llama, NULL, NULL);
    return failed;
}
