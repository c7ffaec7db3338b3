/*
 * test_assessor.c - the assessor (include/ranpipe/assess.h): the scorer,
 * the judge, near-duplicate removal and cross-record consistency, one
 * record at a time.
 *
 * Near-duplicates: a reworded pair names the first one's id, a pair the
 * scorer rejects is never an original, pairs on one template about
 * different parameters stay apart, dedup off keeps everything.
 * Consistency: two accepted pairs that give one parameter different
 * defaults or ranges make one conflict line (read back with jansson).
 * Then the counts, the quality JSON object, the judge callback (a test
 * double that records its calls) and the memory held.
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

#include <jansson.h>

#include "ranpipe/assess.h"
#include "ranpipe/error.h"
#include "ranpipe/quality.h"

/* ---- contexts ---- */

static const char CELL[] =
    "The parameter qRxLevMin sets the minimum required RX level in the cell for cell "
    "reselection, with a default of -140 dBm. The parameter qQualMin sets the minimum required "
    "quality level in the cell, with a default of -18 dB. The timer t320 keeps the dedicated "
    "priorities for 30 minutes after the UE leaves the connected state.";

/* Two documents that disagree on qRxLevMin. */
static const char DOC_A[] =
    "EUtranCellFDD.qRxLevMin sets the minimum required RX level in the cell, with a range of "
    "-156..-44 dBm and a default of -140 dBm.";
static const char DOC_B[] =
    "EUtranCellFDD.qRxLevMin sets the minimum required RX level in the cell, with a range of "
    "-140..-44 dBm and a default of -130 dBm.";

/* ---- helpers ---- */

static struct rp_assessor *new_assessor(const struct rp_assess_params *p)
{
    struct rp_assess_params d = rp_assess_default_params();
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_assessor *a = rp_assessor_new(p ? p : &d, &err);
    if (!a)
        fail_msg("rp_assessor_new: %s", err.msg);
    return a;
}

static void print_reasons(const struct rp_quality *q)
{
    fprintf(stderr, "# score %.3f %s\n", q->score, q->accept ? "accept" : "reject");
    for (size_t i = 0; i < q->n_reasons; i++)
        fprintf(stderr, "#   reason: %s\n", q->reasons[i]);
}

/* Checks one record with its context indexed for the call. */
static void check_src(struct rp_assessor *a, const char *context, const char *id,
                      const char *source, const char *question, const char *answer,
                      struct rp_quality *out)
{
    struct rp_assess_item it = {.ctx = NULL,
                                .context = context,
                                .question = question,
                                .answer = answer,
                                .id = id,
                                .source = source};
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_assessor_check(a, &it, out, &err) != RP_OK)
        fail_msg("rp_assessor_check: %s", err.msg);
}

static void check(struct rp_assessor *a, const char *id, const char *question, const char *answer,
                  struct rp_quality *out)
{
    check_src(a, CELL, id, NULL, question, answer, out);
}

static bool has_reason(const struct rp_quality *q, const char *sub)
{
    for (size_t i = 0; i < q->n_reasons; i++)
        if (strstr(q->reasons[i], sub))
            return true;
    return false;
}

#define assert_reason(q, sub)                                                                      \
    do {                                                                                           \
        if (!has_reason((q), (sub))) {                                                             \
            print_reasons(q);                                                                      \
            fail_msg("no reason contains '%s'", (sub));                                            \
        }                                                                                          \
    } while (0)

#define assert_accepted(q)                                                                         \
    do {                                                                                           \
        if (!(q)->accept || (q)->n_reasons) {                                                      \
            print_reasons(q);                                                                      \
            fail_msg("expected a clean accept");                                                   \
        }                                                                                          \
    } while (0)

#define assert_rejected(q)                                                                         \
    do {                                                                                           \
        if ((q)->accept) {                                                                         \
            print_reasons(q);                                                                      \
            fail_msg("expected a reject");                                                         \
        }                                                                                          \
    } while (0)

/* The conflicts written so far, as a JSON array of the lines' objects. */
static json_t *conflicts(const struct rp_assessor *a, size_t *n_written)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *n_written = rp_assessor_write_conflicts(a, f);
    rewind(f);
    json_t *arr = json_array();
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        assert_true(n > 0 && line[n - 1] == '\n'); /* one object per line */
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!o)
            fail_msg("conflict line is not JSON (%s): %s", e.text, line);
        assert_true(json_is_object(o));
        json_array_append_new(arr, o);
    }
    fclose(f);
    assert_int_equal(json_array_size(arr), *n_written);
    return arr;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("'%s' is not a string", k);
    return json_string_value(v);
}

/* ---- near-duplicates ---- */

static const char Q_A[] = "What is the default value of qRxLevMin in the cell?";
static const char A_A[] = "The default value of qRxLevMin, the minimum required RX level in the "
                          "cell for cell reselection, is -140 dBm.";

/* 12 words: one inserted gives a question similarity of 0.85. */
static const char Q_LONG[] =
    "What is the default value of the qRxLevMin parameter in the cell for cell reselection?";
static const char Q_LONG2[] =
    "What is the default value of the qRxLevMin parameter in the cell used for cell reselection?";

static void reworded_pair_is_duplicate(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check(a, "L001", Q_LONG, A_A, &q);
    assert_accepted(&q);
    /* One word inserted into the question (question index). */
    check(a, "L002", Q_LONG2, A_A, &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 'L001'");
    assert_reason(&q, "question similarity 0.85");
    /* The scorer's sub-scores are kept: only the verdict changes. */
    assert_true(q.score > 0.9);
    assert_int_equal(q.n_reasons, 1);
    /* An unrelated question on the same context is no duplicate. */
    check(a, "L003", "How long does the timer t320 keep the dedicated priorities?",
          "The timer t320 keeps the dedicated priorities for 30 minutes after the UE leaves the "
          "connected state.",
          &q);
    assert_accepted(&q);
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.accepted, 2);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.duplicates, 1);
    rp_assessor_free(a);

    /* Another question with the same answer (question + answer index). */
    a = new_assessor(NULL);
    check(a, "L101", Q_A, A_A, &q);
    assert_accepted(&q);
    check(a, "L102", "Which default does qRxLevMin have in the cell?", A_A, &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 'L101'");
    assert_reason(&q, "question+answer similarity");
    rp_assessor_stats(a, &st);
    assert_int_equal(st.duplicates, 1);
    rp_assessor_free(a);
}

/* A record that is itself a duplicate is no original: a later copy of it
 * names the accepted record it duplicates (assess.h: "over every pair
 * accepted so far"). */
static void duplicate_of_a_duplicate_names_the_original(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check(a, "A", Q_A, A_A, &q);
    assert_accepted(&q);
    check(a, "B", "Which default does qRxLevMin have in the cell?", A_A, &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 'A'");
    /* B's question again, with another wording of the answer. */
    check(a, "C", "Which default does qRxLevMin have in the cell?",
          "qRxLevMin has a default of -140 dBm.", &q);
    assert_rejected(&q);
    if (has_reason(&q, "'B'")) {
        print_reasons(&q);
        fail_msg("C is named a duplicate of B, which was rejected (not in the dataset)");
    }
    assert_reason(&q, "near duplicate of 'A'");
    rp_assessor_free(a);
}

/* A text without words is not added to a dedup index (dedup.h); the
 * assessor's map from index records to ids must not count it either. */
static void wordless_question_keeps_ids_in_step(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    /* Whatever the scorer makes of it, it must not shift the names. */
    check(a, "P0", "?????????????", "The timer t320 keeps the dedicated priorities for 30 minutes.",
          &q);
    check(a, "P1", Q_LONG, A_A, &q);
    assert_accepted(&q);
    check(a, "P2", Q_LONG2, "qRxLevMin is -140 dBm by default in the cell.", &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 'P1' (question similarity 0.85)");
    rp_assessor_free(a);
}

static void rejected_pair_not_indexed(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    static const char qq[] = "What is the default value of qQualMin in the cell?";
    /* Rejected by the scorer: a hallucinated value. */
    check(a, "bad", qq, "The default value of qQualMin is -20 dB.", &q);
    assert_rejected(&q);
    assert_reason(&q, "hallucinated value '-20 dB'");
    /* The same question with a correct answer is not its duplicate. */
    check(a, "good", qq, "The default value of qQualMin is -18 dB.", &q);
    assert_accepted(&q);

    /* The identical pair, first against a context that lacks the value. */
    static const char other[] = "The parameter qRxLevMin sets the minimum required RX level in the "
                                "cell for cell reselection.";
    static const char q2[] = "What is the minimum required RX level in the cell for qRxLevMin?";
    static const char a2[] = "qRxLevMin sets the minimum required RX level in the cell, -140 dBm "
                             "by default.";
    check_src(a, other, "x1", NULL, q2, a2, &q);
    assert_rejected(&q);
    check_src(a, CELL, "x2", NULL, q2, a2, &q);
    assert_accepted(&q);
    /* Now it is indexed. */
    check_src(a, CELL, "x3", NULL, q2, a2, &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 'x2'");

    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.records, 5);
    assert_int_equal(st.accepted, 2);
    assert_int_equal(st.duplicates, 1);
    rp_assessor_free(a);
}

static void templates_about_different_parameters(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check(a, "t1", "What is the default value of qRxLevMin?",
          "The default value of qRxLevMin is -140 dBm.", &q);
    assert_accepted(&q);
    /* Another identifier and number, same template. */
    check(a, "t2", "What is the default value of qQualMin?",
          "The default value of qQualMin is -18 dB.", &q);
    assert_accepted(&q);
    /* A long template where one identifier is well below the question
     * threshold's one-word distance (dedup.h: 13+ words). */
    static const char ctx2[] =
        "In the serving cell of the eNodeB the parameter sIntraSearch sets the threshold for "
        "intra-frequency measurements, with a default of 62 dB. In the serving cell of the "
        "eNodeB the parameter sNonIntraSearch sets the threshold for inter-frequency "
        "measurements, with a default of 8 dB.";
    check_src(a, ctx2, "t3", NULL,
              "In the serving cell of the eNodeB, what does the parameter sIntraSearch set "
              "and what is its default value?",
              "sIntraSearch sets the threshold for intra-frequency measurements, with a default of "
              "62 dB.",
              &q);
    assert_accepted(&q);
    check_src(a, ctx2, "t4", NULL,
              "In the serving cell of the eNodeB, what does the parameter sNonIntraSearch set "
              "and what is its default value?",
              "sNonIntraSearch sets the threshold for inter-frequency measurements, with a default "
              "of 8 dB.",
              &q);
    assert_accepted(&q);
    /* The same parameter and number, reworded: a duplicate. */
    check(a, "t5", "What is the default value of qRxLevMin, in dBm?",
          "The default value of qRxLevMin is -140 dBm.", &q);
    assert_rejected(&q);
    assert_reason(&q, "near duplicate of 't1'");
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.duplicates, 1);
    rp_assessor_free(a);
}

static void dedup_off_keeps_duplicates(void **state)
{
    (void)state;
    struct rp_assess_params p = rp_assess_default_params();
    p.dedup = false;
    struct rp_assessor *a = new_assessor(&p);
    struct rp_quality q;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%d", i);
        check(a, id, Q_A, A_A, &q);
        assert_accepted(&q);
    }
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.duplicates, 0);
    rp_assessor_free(a);
}

static void ids_default_to_record_number(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check(a, NULL, "How long does the timer t320 keep the dedicated priorities?",
          "The timer t320 keeps them for 30 minutes.", &q);
    assert_accepted(&q);
    check(a, NULL, Q_A, A_A, &q);
    assert_accepted(&q);
    check(a, NULL, Q_A, A_A, &q);
    assert_reason(&q, "near duplicate of '#1'");
    rp_assessor_free(a);
}

static void dedup_thresholds(void **state)
{
    (void)state;
    /* Strict thresholds: the one-word change is no longer a duplicate. */
    struct rp_assess_params p = rp_assess_default_params();
    p.dedup_threshold = 1.0;
    p.dedup_pair_threshold = 1.0;
    struct rp_assessor *a = new_assessor(&p);
    struct rp_quality q;
    check(a, "L001", Q_LONG, A_A, &q);
    assert_accepted(&q);
    check(a, "L002", Q_LONG2, A_A, &q);
    assert_accepted(&q);
    check(a, "L003", Q_LONG, A_A, &q); /* identical: still one */
    assert_reason(&q, "near duplicate of 'L001'");
    rp_assessor_free(a);

    /* Out of range: refused. */
    struct rp_error err;
    p.dedup_threshold = 1.5;
    assert_null(rp_assessor_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);
    p.dedup_threshold = 0.8;
    p.dedup_pair_threshold = 0;
    assert_null(rp_assessor_new(&p, &err));
    assert_int_equal(err.code, RP_ERR_INVAL);
    rp_assessor_free(NULL);
}

/* ---- consistency ---- */

static void default_conflict(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check_src(a, DOC_A, "P1", "docA.pdf", "What is the default value of EUtranCellFDD.qRxLevMin?",
              "The default value of EUtranCellFDD.qRxLevMin is -140 dBm.", &q);
    assert_accepted(&q);
    size_t n;
    json_t *c = conflicts(a, &n);
    assert_int_equal(n, 0);
    json_decref(c);
    check_src(a, DOC_B, "P2", "docB.pdf", "What is qRxLevMin's default?",
              "qRxLevMin has a default of -130 dBm.", &q);
    assert_accepted(&q); /* a conflict is reported, not rejected */

    c = conflicts(a, &n);
    assert_int_equal(n, 1);
    json_t *o = json_array_get(c, 0);
    assert_int_equal(json_object_size(o), 3);
    assert_string_equal(jstr(o, "identifier"), "qRxLevMin");
    assert_string_equal(jstr(o, "attribute"), "default");
    json_t *vs = json_object_get(o, "values");
    assert_true(json_is_array(vs));
    assert_int_equal(json_array_size(vs), 2);
    json_t *v0 = json_array_get(vs, 0), *v1 = json_array_get(vs, 1);
    assert_string_equal(jstr(v0, "value"), "-140");
    assert_string_equal(jstr(v0, "id"), "P1");
    assert_string_equal(jstr(v0, "source"), "docA.pdf");
    assert_string_equal(jstr(v1, "value"), "-130");
    assert_string_equal(jstr(v1, "id"), "P2");
    assert_string_equal(jstr(v1, "source"), "docB.pdf");
    json_decref(c);

    /* The same default once more: no new value, still one conflict. */
    check_src(a, DOC_A, "P3", "docC.pdf", "Which default does the qRxLevMin attribute have?",
              "EUtranCellFDD.qRxLevMin has a default of -140 dBm.", &q);
    assert_accepted(&q);
    c = conflicts(a, &n);
    assert_int_equal(n, 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(c, 0), "values")), 2);
    json_decref(c);
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.conflicts, 1);
    rp_assessor_free(a);
}

static void same_default_no_conflict(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check_src(a, DOC_A, "P1", "docA.pdf", "What is the default value of EUtranCellFDD.qRxLevMin?",
              "The default value of EUtranCellFDD.qRxLevMin is -140 dBm.", &q);
    assert_accepted(&q);
    check_src(a, DOC_A, "P2", "docA2.pdf", "Which value does qRxLevMin take by default?",
              "qRxLevMin has a default of -140 dBm.", &q);
    assert_accepted(&q);
    /* A rejected pair makes no claim. */
    check_src(a, DOC_A, "P3", "docA.pdf", "What is the default of qRxLevMin?",
              "qRxLevMin has a default of -130 dBm.", &q);
    assert_rejected(&q);
    size_t n;
    json_t *c = conflicts(a, &n);
    assert_int_equal(n, 0);
    json_decref(c);
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.conflicts, 0);
    rp_assessor_free(a);
}

static void range_conflict(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check_src(a, DOC_A, "R1", "docA.pdf", "What is the range of EUtranCellFDD.qRxLevMin?",
              "The range of EUtranCellFDD.qRxLevMin is -156 to -44 dBm.", &q);
    assert_accepted(&q);
    check_src(a, DOC_B, "R2", "docB.pdf", "Which range does qRxLevMin have?",
              "qRxLevMin has a range of -140 to -44 dBm.", &q);
    assert_accepted(&q);
    size_t n;
    json_t *c = conflicts(a, &n);
    assert_int_equal(n, 1);
    json_t *o = json_array_get(c, 0);
    assert_string_equal(jstr(o, "identifier"), "qRxLevMin");
    assert_string_equal(jstr(o, "attribute"), "range");
    json_t *vs = json_object_get(o, "values");
    assert_int_equal(json_array_size(vs), 2);
    assert_string_equal(jstr(json_array_get(vs, 0), "value"), "-156..-44");
    assert_string_equal(jstr(json_array_get(vs, 0), "id"), "R1");
    assert_string_equal(jstr(json_array_get(vs, 1), "value"), "-140..-44");
    assert_string_equal(jstr(json_array_get(vs, 1), "id"), "R2");
    json_decref(c);
    rp_assessor_free(a);
}

/* One sentence with both a default and a range: each claim takes its own
 * numbers. Two correct pairs from one document are no conflict. */
static void default_and_range_in_one_sentence(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check_src(a, DOC_A, "P1", "docA.pdf", "What is the default value of EUtranCellFDD.qRxLevMin?",
              "EUtranCellFDD.qRxLevMin has a default of -140 dBm within the range -156..-44 dBm.",
              &q);
    assert_accepted(&q);
    check_src(a, DOC_A, "P2", "docA.pdf", "What is the range of qRxLevMin?",
              "The range of qRxLevMin is -156 to -44 dBm.", &q);
    assert_accepted(&q);
    check_src(a, DOC_A, "P3", "docA.pdf", "Which default does qRxLevMin have?",
              "qRxLevMin is -140 dBm by default.", &q);
    assert_accepted(&q);
    size_t n;
    json_t *c = conflicts(a, &n);
    if (n != 0) {
        char *d = json_dumps(c, JSON_COMPACT);
        fprintf(stderr, "# conflicts: %s\n", d);
        free(d);
    }
    json_decref(c);
    assert_int_equal(n, 0);
    /* ... while a document that disagrees on either is. */
    check_src(a, DOC_B, "P4", "docB.pdf", "What does qRxLevMin default to?",
              "qRxLevMin defaults to -130 dBm, within the range -140..-44 dBm.", &q);
    assert_accepted(&q);
    c = conflicts(a, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(c, i);
        json_t *vs = json_object_get(o, "values");
        assert_int_equal(json_array_size(vs), 2);
        const char *attr = jstr(o, "attribute");
        const char *v0 = jstr(json_array_get(vs, 0), "value");
        const char *v1 = jstr(json_array_get(vs, 1), "value");
        if (strcmp(attr, "default") == 0) {
            assert_string_equal(v0, "-140");
            assert_string_equal(v1, "-130");
        } else {
            assert_string_equal(attr, "range");
            assert_string_equal(v0, "-156..-44");
            assert_string_equal(v1, "-140..-44");
        }
        assert_string_equal(jstr(json_array_get(vs, 1), "id"), "P4");
    }
    json_decref(c);
    rp_assessor_free(a);
}

/* ---- counts, JSON, judge, memory ---- */

static void stats_count_kinds(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.records, 0);
    check(a, "ok", Q_A, A_A, &q);                                                   /* accepted */
    check(a, "s", "What is the title of this document?", "It is about cells.", &q); /* structural */
    check(a, "h", "What is the default value of qQualMin?",
          "The default value of qQualMin is -20 dB.", &q); /* hallucinated */
    check(a, "u", "What does qQualMin set?",
          "qQualMin sets the minimum required quality level in the cell. Operators usually tune it "
          "weekly using drive tests and customer complaints.",
          &q); /* unsupported */
    check(a, "n", "What is the default value of qOffsetFreq?",
          "The context does not specify the default value.", &q); /* unanswerable */
    check(a, "c",
          "Does the timer t320 keep the dedicated priorities after the UE leaves the "
          "connected state?",
          "The timer t320 keeps the dedicated priorities after the UE leaves the idle state.",
          &q);                     /* contradiction: idle vs connected */
    check(a, "dup", Q_A, A_A, &q); /* duplicate */
    rp_assessor_stats(a, &st);
    assert_int_equal(st.records, 7);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.rejected, 6);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.structural, 1);
    assert_true(st.hallucinated >= 1);
    assert_true(st.unsupported >= 1);
    assert_int_equal(st.unanswerable, 1);
    assert_int_equal(st.contradictions, 1);
    assert_int_equal(st.judged_poor, 0);
    assert_int_equal(st.conflicts, 0);
    assert_int_equal(st.accepted + st.rejected, st.records);
    rp_assessor_free(a);
}

static void quality_json_shape(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality q;
    check(a, "ok", Q_A, A_A, &q);
    json_t *o = rp_quality_to_json(&q);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 4);
    assert_true(json_is_real(json_object_get(o, "score")));
    assert_true(json_real_value(json_object_get(o, "score")) == 1.0);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "accept");
    assert_true(json_is_array(json_object_get(o, "reasons")));
    assert_int_equal(json_array_size(json_object_get(o, "reasons")), 0);
    json_t *c = json_object_get(o, "checks");
    assert_true(json_is_object(c));
    static const char *const keys[] = {"structure", "grounding", "support", "answerable",
                                       "consistency"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(c, keys[i]);
        if (!json_is_real(v))
            fail_msg("checks.%s is not a number", keys[i]);
        assert_true(json_real_value(v) >= 0 && json_real_value(v) <= 1);
    }
    assert_true(json_is_null(json_object_get(c, "semantic")));
    assert_true(json_is_null(json_object_get(c, "judge")));
    assert_int_equal(json_object_size(c), 7);
    json_decref(o);

    /* A rejected pair: every reason, in order; the score rounded to 3 places. */
    check(a, "bad", "What is the default value of qQualMin?",
          "As an AI, the default value of qQualMin is -20 dB.", &q);
    o = rp_quality_to_json(&q);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "reject");
    json_t *r = json_object_get(o, "reasons");
    assert_int_equal(json_array_size(r), q.n_reasons);
    for (size_t i = 0; i < q.n_reasons; i++)
        assert_string_equal(json_string_value(json_array_get(r, i)), q.reasons[i]);
    double s = json_real_value(json_object_get(o, "score"));
    assert_true(s >= 0 && s < 0.5);
    assert_true(fabs(s * 1000 - round(s * 1000)) < 1e-6);
    json_decref(o);

    /* Measured semantic and judge values are numbers. */
    q.semantic = 0.71234;
    q.judge = 0.5;
    o = rp_quality_to_json(&q);
    c = json_object_get(o, "checks");
    assert_true(json_is_real(json_object_get(c, "semantic")));
    assert_true(json_real_value(json_object_get(c, "semantic")) == 0.712);
    assert_true(json_real_value(json_object_get(c, "judge")) == 0.5);
    json_decref(o);
    rp_assessor_free(a);
}

struct judge_double {
    int calls;
    double score; /* what it answers */
    const char *why;
    char last_question[256], last_context[64];
};

static double judge_fn(void *ud, const char *context, const char *question, const char *answer,
                       char *why, size_t cap)
{
    struct judge_double *j = ud;
    j->calls++;
    assert_non_null(context);
    assert_non_null(answer);
    snprintf(j->last_question, sizeof j->last_question, "%s", question);
    snprintf(j->last_context, sizeof j->last_context, "%s", context);
    if (j->why)
        snprintf(why, cap, "%s", j->why);
    return j->score;
}

static void judge_only_for_accepted(void **state)
{
    (void)state;
    struct judge_double j = {.score = 0.9};
    struct rp_assess_params p = rp_assess_default_params();
    p.judge = judge_fn;
    p.judge_ud = &j;
    struct rp_assessor *a = new_assessor(&p);
    struct rp_quality q;
    /* A pair the checks reject is not judged. */
    check(a, "bad", "What is the default value of qQualMin?",
          "The default value of qQualMin is -20 dB.", &q);
    assert_rejected(&q);
    assert_int_equal(j.calls, 0);
    assert_true(q.judge < 0);
    check(a, "bad2", Q_A, "N/A", &q);
    assert_int_equal(j.calls, 0);

    /* A good pair is, with the context, question and answer. */
    check(a, "good", Q_A, A_A, &q);
    assert_int_equal(j.calls, 1);
    assert_string_equal(j.last_question, Q_A);
    assert_true(strncmp(j.last_context, CELL, sizeof j.last_context - 1) == 0);
    assert_accepted(&q);
    assert_true(q.judge > 0.89 && q.judge < 0.91);
    json_t *o = rp_quality_to_json(&q);
    assert_true(json_real_value(json_object_get(json_object_get(o, "checks"), "judge")) == 0.9);
    json_decref(o);

    /* A low score rejects, with the judge's reason. */
    j.score = 0.2;
    j.why = "the answer gives the default of another parameter";
    check(a, "poor", "What is the default value of qQualMin?",
          "The default value of qQualMin is -18 dB.", &q);
    assert_int_equal(j.calls, 2);
    assert_rejected(&q);
    assert_reason(&q, "judge: the answer gives the default of another parameter");
    assert_true(q.judge < 0.5);
    /* A judge that cannot answer (< 0): scored without it. */
    j.score = -1;
    j.why = NULL;
    check(a, "nojudge", "How long does the timer t320 keep the dedicated priorities?",
          "The timer t320 keeps them for 30 minutes.", &q);
    assert_int_equal(j.calls, 3);
    assert_accepted(&q);
    assert_true(q.judge < 0);
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.judged_poor, 1);
    assert_int_equal(st.accepted, 2);
    rp_assessor_free(a);
}

static void memory_grows_with_records(void **state)
{
    (void)state;
    struct rp_assess_params p = rp_assess_default_params();
    p.expected_records = 16;
    struct rp_assessor *a = new_assessor(&p);
    size_t m0 = rp_assessor_memory(a);
    assert_true(m0 > 0);
    struct rp_quality q;
    char ctx[256], qq[128], aa[128], id[16];
    size_t m_prev = m0, grew = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(ctx, sizeof ctx,
                 "The parameter param%dMax sets the largest value of the counter, with a default "
                 "of %d.",
                 i, 1000 + i);
        snprintf(qq, sizeof qq, "What is the default value of param%dMax?", i);
        snprintf(aa, sizeof aa, "The default value of param%dMax is %d.", i, 1000 + i);
        snprintf(id, sizeof id, "m%d", i);
        check_src(a, ctx, id, "doc.pdf", qq, aa, &q);
        if (!q.accept) {
            print_reasons(&q);
            fail_msg("record %d rejected", i);
        }
        size_t m = rp_assessor_memory(a);
        assert_true(m >= m_prev); /* never shrinks */
        grew += m > m_prev;
        m_prev = m;
    }
    struct rp_assess_stats st;
    rp_assessor_stats(a, &st);
    assert_int_equal(st.accepted, 3000);
    assert_int_equal(st.duplicates, 0);
    /* Ids, claims and both dedup indexes: well over 100 bytes a record. */
    assert_true(m_prev > m0 + 3000 * 100);
    assert_true(grew >= 5);
    print_message("# memory: %zu bytes empty, %zu after 3000 records (%.0f bytes/record)\n", m0,
                  m_prev, (double)(m_prev - m0) / 3000);
    rp_assessor_free(a);

    /* Without dedup nothing is indexed: only the claims grow. */
    p.dedup = false;
    a = new_assessor(&p);
    m0 = rp_assessor_memory(a);
    check(a, "x", Q_A, A_A, &q);
    assert_true(rp_assessor_memory(a) >= m0);
    assert_true(rp_assessor_memory(a) < m_prev / 10);
    rp_assessor_free(a);
}

/* A caller's context index is used as it is; the text is for the judge. */
static void shared_context_index(void **state)
{
    (void)state;
    struct rp_assessor *a = new_assessor(NULL);
    struct rp_quality_ctx *c = rp_quality_ctx_new(CELL, strlen(CELL));
    assert_non_null(c);
    struct rp_assess_item it = {
        .ctx = c, .context = NULL, .question = Q_A, .answer = A_A, .id = "s1"};
    struct rp_quality q;
    struct rp_error err;
    assert_int_equal(rp_assessor_check(a, &it, &q, &err), RP_OK);
    assert_accepted(&q);
    it.question = "What is the default value of qQualMin?";
    it.answer = "The default value of qQualMin is -18 dB.";
    it.id = "s2";
    assert_int_equal(rp_assessor_check(a, &it, &q, &err), RP_OK);
    assert_accepted(&q);
    /* NULL question and answer: rejected, not a crash. */
    it.question = it.answer = NULL;
    it.id = NULL;
    assert_int_equal(rp_assessor_check(a, &it, &q, &err), RP_OK);
    assert_rejected(&q);
    rp_quality_ctx_free(c);
    rp_assessor_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reworded_pair_is_duplicate),
        cmocka_unit_test(duplicate_of_a_duplicate_names_the_original),
        cmocka_unit_test(wordless_question_keeps_ids_in_step),
        cmocka_unit_test(rejected_pair_not_indexed),
        cmocka_unit_test(templates_about_different_parameters),
        cmocka_unit_test(dedup_off_keeps_duplicates),
        cmocka_unit_test(ids_default_to_record_number),
        cmocka_unit_test(dedup_thresholds),
        cmocka_unit_test(default_conflict),
        cmocka_unit_test(same_default_no_conflict),
        cmocka_unit_test(range_conflict),
        cmocka_unit_test(default_and_range_in_one_sentence),
        cmocka_unit_test(stats_count_kinds),
        cmocka_unit_test(quality_json_shape),
        cmocka_unit_test(judge_only_for_accepted),
        cmocka_unit_test(memory_grows_with_records),
        cmocka_unit_test(shared_context_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
