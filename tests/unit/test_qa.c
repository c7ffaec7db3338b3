/*
 * test_qa.c - parsing QA pairs out of model output, and the QA prompt and
 * its grammar (include/ranpipe/qa.h, prompt.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"
#include "ranpipe/prompt.h"
#include "ranpipe/qa.h"

/* ---- helpers ---- */

/* Each test's list and buffer, released by the teardown even when an
 * assertion fails. */
struct fixture {
    struct rp_qa_list list;
    struct rp_buf buf;
    struct rp_error err;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rp_qa_list_init(&f->list);
    rp_buf_init(&f->buf, RP_BUF_NO_CAP);
    rp_error_clear(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rp_qa_list_release(&f->list);
    rp_buf_release(&f->buf);
    free(f);
    return 0;
}

static enum rp_err parse(struct fixture *f, const char *text)
{
    rp_error_clear(&f->err);
    return rp_qa_parse(text, strlen(text), &f->list, &f->err);
}

static void parse_ok(struct fixture *f, const char *text)
{
    enum rp_err e = parse(f, text);
    if (e != RP_OK)
        fail_msg("parse failed (%s): %s\ninput: %s", rp_strerror(e), f->err.msg, text);
}

static void assert_pair(const struct rp_qa_pair *p, const char *q, const char *a, const char *type)
{
    assert_non_null(p->question);
    assert_non_null(p->answer);
    assert_non_null(p->type);
    assert_string_equal(p->question, q);
    assert_string_equal(p->answer, a);
    assert_string_equal(p->type, type);
    assert_null(p->reject);
}

static void assert_parse_error(struct fixture *f, const char *text)
{
    enum rp_err e = parse(f, text);
    if (e != RP_ERR_PARSE)
        fail_msg("want a parse error, got %s (%zu items)\ninput: %s", rp_strerror(e), f->list.n,
                 text);
    assert_int_equal(f->err.code, RP_ERR_PARSE);
    assert_true(strlen(f->err.msg) > 0);
}

#define PAIR1                                                                                      \
    "{\"question\": \"What is qRxLevMin?\", \"answer\": \"The minimum RX level.\", "               \
    "\"type\": \"definition\"}"
#define PAIR2                                                                                      \
    "{\"question\": \"What unit is qRxLevMin in?\", \"answer\": \"dBm\", "                         \
    "\"type\": \"parameter\"}"

static void check_two_pairs(const struct fixture *f)
{
    assert_int_equal(f->list.n, 2);
    assert_pair(&f->list.items[0], "What is qRxLevMin?", "The minimum RX level.", "definition");
    assert_pair(&f->list.items[1], "What unit is qRxLevMin in?", "dBm", "parameter");
}

/* ---- rp_qa_parse ---- */

static void plain_array(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[" PAIR1 ", " PAIR2 "]");
    check_two_pairs(f);
}

static void fenced_array_with_prose(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "Here are the pairs you asked for [as JSON]:\n\n"
                "```json\n[" PAIR1 ",\n " PAIR2 "]\n```\n\n"
                "Let me know if you need more {or fewer} questions.");
    check_two_pairs(f);
}

static void think_block_before_json(void **state)
{
    struct fixture *f = *state;
    /* The think block holds brackets and even a JSON-looking array. */
    parse_ok(f, "<think>The user wants [pairs]. Maybe [{\"question\": \"draft\"}]? "
                "No, write them properly.</think>\n[" PAIR1 ", " PAIR2 "]");
    check_two_pairs(f);
}

static void two_think_blocks(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "<think>first [1]</think>text<think>second {}</think>[" PAIR1 "]");
    assert_int_equal(f->list.n, 1);
    assert_pair(&f->list.items[0], "What is qRxLevMin?", "The minimum RX level.", "definition");
}

static void unclosed_think_is_an_error(void **state)
{
    struct fixture *f = *state;
    /* The model never closed its reasoning: whatever JSON is inside is a
     * draft, not the answer. */
    assert_parse_error(f, "<think>Let me draft: [" PAIR1 "] and then I will");
    assert_int_equal(f->list.n, 0);
}

static void pairs_wrapper_object(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "{\"pairs\": [" PAIR1 ", " PAIR2 "]}");
    check_two_pairs(f);
    rp_qa_list_release(&f->list);
    /* Other wrapper keys models use. */
    parse_ok(f, "{\"note\": \"x\", \"qa_pairs\": [" PAIR1 "]}");
    assert_int_equal(f->list.n, 1);
}

static void single_object(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "Sure! " PAIR1 " Hope this helps.");
    assert_int_equal(f->list.n, 1);
    assert_pair(&f->list.items[0], "What is qRxLevMin?", "The minimum RX level.", "definition");
}

static void appends_to_existing_list(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[" PAIR1 "]");
    parse_ok(f, "[" PAIR2 "]");
    check_two_pairs(f);
}

static void missing_answer_kept_with_reason(void **state)
{
    struct fixture *f = *state;
    parse_ok(f,
             "[" PAIR1 ", {\"question\": \"What is RSRP?\", \"type\": \"definition\"}, " PAIR2 "]");
    assert_int_equal(f->list.n, 3);
    assert_null(f->list.items[0].reject);
    assert_null(f->list.items[2].reject);
    const struct rp_qa_pair *p = &f->list.items[1];
    assert_non_null(p->reject);
    assert_non_null(strstr(p->reject, "2")); /* names the item (1-based) */
    assert_non_null(strstr(p->reject, "answer"));
    assert_string_equal(p->question, "What is RSRP?");
    assert_null(p->answer);
    assert_string_equal(p->type, "definition");
}

static void missing_or_blank_question_kept_with_reason(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[{\"answer\": \"dBm\"}, {\"question\": \"  \\n \", \"answer\": \"x\"}, "
                "{\"question\": 42, \"answer\": \"x\"}]");
    assert_int_equal(f->list.n, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct rp_qa_pair *p = &f->list.items[i];
        assert_non_null(p->reject);
        assert_null(p->question);
        assert_non_null(strstr(p->reject, "question"));
        char num[8];
        snprintf(num, sizeof(num), "%zu", i + 1);
        assert_non_null(strstr(p->reject, num));
        assert_string_equal(p->type, "unspecified");
    }
}

static void non_object_item(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[" PAIR1 ", \"just a string\", 7, null, [1]]");
    assert_int_equal(f->list.n, 5);
    assert_null(f->list.items[0].reject);
    for (size_t i = 1; i < 5; i++) {
        const struct rp_qa_pair *p = &f->list.items[i];
        assert_non_null(p->reject);
        char num[8];
        snprintf(num, sizeof(num), "%zu", i + 1);
        assert_non_null(strstr(p->reject, num));
        assert_non_null(strstr(p->reject, "object"));
        assert_null(p->question);
        assert_null(p->answer);
        assert_string_equal(p->type, "unspecified");
    }
}

static void missing_type_is_unspecified(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[{\"question\": \"Q one?\", \"answer\": \"A one.\"}, "
                "{\"question\": \"Q two?\", \"answer\": \"A two.\", \"type\": \"\"}, "
                "{\"question\": \"Q three?\", \"answer\": \"A three.\", \"type\": 3}]");
    assert_int_equal(f->list.n, 3);
    assert_pair(&f->list.items[0], "Q one?", "A one.", "unspecified");
    assert_pair(&f->list.items[1], "Q two?", "A two.", "unspecified");
    assert_pair(&f->list.items[2], "Q three?", "A three.", "unspecified");
}

static void whitespace_trimmed(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[{\"question\": \"  \\n\\tWhat is PCI?\\r\\n \", "
                "\"answer\": \"\\n Physical Cell Identity, 0..503.  \", "
                "\"type\": \" factual \"}]");
    assert_int_equal(f->list.n, 1);
    /* Inner whitespace stays. */
    assert_pair(&f->list.items[0], "What is PCI?", "Physical Cell Identity, 0..503.", "factual");
}

static void unicode_strings(void **state)
{
    struct fixture *f = *state;
    parse_ok(f, "[{\"question\": \"Was ist \\u00dcberlast?\", \"answer\": \"\xC3\x9c"
                "berlast \\u2192 Drosselung\", \"type\": \"definition\"}]");
    assert_int_equal(f->list.n, 1);
    assert_string_equal(f->list.items[0].question, "Was ist \xC3\x9c"
                                                   "berlast?");
    assert_string_equal(f->list.items[0].answer, "\xC3\x9c"
                                                 "berlast \xE2\x86\x92 Drosselung");
}

static void empty_array_is_an_error(void **state)
{
    struct fixture *f = *state;
    assert_parse_error(f, "[]");
    assert_int_equal(f->list.n, 0);
    assert_parse_error(f, "```json\n[ ]\n```");
    assert_parse_error(f, "{\"pairs\": []}");
    assert_int_equal(f->list.n, 0);
}

static void no_json_is_an_error(void **state)
{
    struct fixture *f = *state;
    assert_parse_error(f, "I cannot write questions about this text.");
    assert_int_equal(f->list.n, 0);
    assert_parse_error(f, "");
    assert_parse_error(f, "<think>only thinking</think>");
    assert_parse_error(f, "[not json] {nor this}");
    assert_int_equal(f->list.n, 0);
}

static void truncated_json_is_an_error(void **state)
{
    struct fixture *f = *state;
    /* Cut in the middle of the first string. */
    assert_parse_error(f, "[{\"question\": \"What is qRxLev");
    assert_int_equal(f->list.n, 0);
    assert_parse_error(f, "```json\n[{\"question\": \"What is qRxLevMin?\", \"answer\": \"The min");
    assert_int_equal(f->list.n, 0);
}

static void truncated_after_complete_pair_is_an_error(void **state)
{
    struct fixture *f = *state;
    /* Generations that ran out of tokens after a complete first pair: in
     * the second pair's string, or just before the closing ']'. The array
     * as a whole is broken; the parser must not salvage the first object it
     * finds inside it as if it were the whole output. */
    static const char *const cut[] = {
        "[" PAIR1 ", {\"question\": \"What unit is qRx",
        "[" PAIR1 ", " PAIR2,
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        rp_qa_list_release(&f->list);
        enum rp_err e = parse(f, cut[i]);
        /* Fixed bug, kept as a regression test: out/qa.c rp_qa_parse() tries json_loadb() at every '[' and
         * '{'; when the array fails to parse it moves on to the '{' of the
         * first pair inside it, which parses (JSON_DISABLE_EOF_CHECK), so a
         * truncated array comes back as RP_OK with one valid pair and the
         * truncation (and every later pair) goes unnoticed. */
        if (e != RP_ERR_PARSE)
            fail_msg("case %zu: want a parse error, got %s with %zu item(s)", i, rp_strerror(e),
                     f->list.n);
    }
}

/* ---- prompt.h ---- */

static void pairs_for_bounds(void **state)
{
    (void)state;
    struct rp_qa_shape s = rp_qa_shape_default();
    assert_int_equal(s.max_pairs, 3);
    assert_int_equal(s.tokens_per_pair, 120);
    static const size_t tokens[] = {0, 1, 59, 60, 119, 179, 180, 300, 384, 1000, 100000};
    int last = 0;
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        int n = rp_prompt_pairs_for(&s, tokens[i]);
        assert_true(n >= 1 && n <= s.max_pairs);
        assert_true(n >= last); /* more text, never fewer pairs */
        last = n;
    }
    assert_int_equal(rp_prompt_pairs_for(&s, 0), 1);
    assert_int_equal(rp_prompt_pairs_for(&s, 240), 2);
    assert_int_equal(rp_prompt_pairs_for(&s, 100000), 3);

    s.max_pairs = 8;
    s.tokens_per_pair = 50;
    assert_int_equal(rp_prompt_pairs_for(&s, 200), 4);
    assert_int_equal(rp_prompt_pairs_for(&s, 10000), 8);
    s.max_pairs = 1;
    assert_int_equal(rp_prompt_pairs_for(&s, 10000), 1);
    /* A zero rate falls back to the default rather than dividing by it. */
    s.max_pairs = 3;
    s.tokens_per_pair = 0;
    assert_int_equal(rp_prompt_pairs_for(&s, 240), 2);
}

static void grammar_shape(void **state)
{
    struct fixture *f = *state;
    struct rp_qa_shape s = rp_qa_shape_default();
    for (int n = 1; n <= 5; n++) {
        rp_buf_reset(&f->buf);
        assert_int_equal(rp_prompt_qa_grammar(&s, n, &f->buf), RP_OK);
        const char *g = f->buf.data;
        assert_non_null(strstr(g, "root ::="));
        assert_non_null(strstr(g, "pair ::="));
        char rep[32];
        snprintf(rep, sizeof(rep), "{0,%d}", n - 1);
        if (n > 1)
            assert_non_null(strstr(g, rep));
        else
            assert_null(strstr(g, "(\",\" ws pair)"));
        /* Every type is allowed. */
        for (int t = 0; rp_qa_types[t]; t++) {
            char quoted[64];
            snprintf(quoted, sizeof(quoted), "\\\"%s\\\"", rp_qa_types[t]);
            if (!strstr(g, quoted))
                fail_msg("grammar lacks type %s:\n%s", rp_qa_types[t], g);
        }
        /* The string lengths are bounded by the shape. */
        snprintf(rep, sizeof(rep), "{8,%d}", s.question_chars);
        assert_non_null(strstr(g, rep));
        snprintf(rep, sizeof(rep), "{1,%d}", s.answer_chars);
        assert_non_null(strstr(g, rep));
        /* Every rule referenced is defined. */
        static const char *const rules[] = {"pair", "question", "answer", "char", "qtype", "ws"};
        for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
            char def[32];
            snprintf(def, sizeof(def), "\n%s ::=", rules[r]);
            if (!strstr(g, def))
                fail_msg("rule %s is not defined:\n%s", rules[r], g);
        }
    }
    /* Fewer than one pair is asked as one. */
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_grammar(&s, 0, &f->buf), RP_OK);
    assert_non_null(strstr(f->buf.data, "root ::="));
}

static void qa_types_list(void **state)
{
    (void)state;
    size_t n = 0;
    for (; rp_qa_types[n]; n++) {
        assert_true(strlen(rp_qa_types[n]) > 0);
        assert_string_not_equal(rp_qa_types[n], "unspecified");
    }
    assert_int_equal(n, 5);
}

static void user_prompt_contents(void **state)
{
    struct fixture *f = *state;
    const char *text = "qRxLevMin sets the minimum required RX level in the cell, in dBm.";
    assert_int_equal(
        rp_prompt_qa_user("LTE Idle Mode", "Cell Selection > Parameters", text, 2, &f->buf), RP_OK);
    const char *p = f->buf.data;
    const char *title = strstr(p, "LTE Idle Mode");
    const char *section = strstr(p, "Cell Selection > Parameters");
    const char *body = strstr(p, text);
    assert_non_null(title);
    assert_non_null(section);
    assert_non_null(body);
    assert_true(title < section && section < body);
    assert_non_null(strstr(p, "(2 in all)"));
    for (int t = 0; rp_qa_types[t]; t++)
        assert_non_null(strstr(p, rp_qa_types[t]));

    /* Empty title and section are left out; one pair is singular. */
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_user("", "", "Some text.", 1, &f->buf), RP_OK);
    assert_non_null(strstr(f->buf.data, "Some text."));
    assert_null(strstr(f->buf.data, "Document:"));
    assert_null(strstr(f->buf.data, "Section:"));
    assert_non_null(strstr(f->buf.data, "(1 in all)"));
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_user(NULL, NULL, "Other text.", 3, &f->buf), RP_OK);
    assert_non_null(strstr(f->buf.data, "Other text."));

    /* A chunk longer than any internal format buffer comes through whole. */
    struct rp_buf big;
    rp_buf_init(&big, RP_BUF_NO_CAP);
    for (int i = 0; i < 500; i++)
        assert_int_equal(rp_buf_addf(&big, "word%d ", i), RP_OK);
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_user("T", "S", big.data, 3, &f->buf), RP_OK);
    assert_non_null(strstr(f->buf.data, big.data));
    rp_buf_release(&big);

    assert_non_null(rp_prompt_qa_system());
    assert_true(strlen(rp_prompt_qa_system()) > 20);
}

static void max_tokens_grows_with_pairs(void **state)
{
    (void)state;
    struct rp_qa_shape s = rp_qa_shape_default();
    int one = rp_prompt_max_tokens(&s, 1);
    int three = rp_prompt_max_tokens(&s, 3);
    /* At least every character of both strings for every pair. */
    assert_true(one >= s.question_chars + s.answer_chars);
    assert_true(three >= 3 * (s.question_chars + s.answer_chars));
    assert_true(three > one);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(plain_array),
        T(fenced_array_with_prose),
        T(think_block_before_json),
        T(two_think_blocks),
        T(unclosed_think_is_an_error),
        T(pairs_wrapper_object),
        T(single_object),
        T(appends_to_existing_list),
        T(missing_answer_kept_with_reason),
        T(missing_or_blank_question_kept_with_reason),
        T(non_object_item),
        T(missing_type_is_unspecified),
        T(whitespace_trimmed),
        T(unicode_strings),
        T(empty_array_is_an_error),
        T(no_json_is_an_error),
        T(truncated_json_is_an_error),
        T(truncated_after_complete_pair_is_an_error),
        cmocka_unit_test(pairs_for_bounds),
        T(grammar_shape),
        cmocka_unit_test(qa_types_list),
        T(user_prompt_contents),
        cmocka_unit_test(max_tokens_grows_with_pairs),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
