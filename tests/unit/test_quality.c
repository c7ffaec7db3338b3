/*
 * test_quality.c - the scorer (include/ranpipe/quality.h).
 *
 * One test per check, each on a small hand-written RAN context: the
 * verdict, the sub-score the check lowers, the counter of its kind of
 * defect, and that a reason names the culprit (the identifier, the number,
 * the word). A good paraphrased answer on the same context is accepted,
 * so each rejection is the check's doing. Then the things no check owns:
 * number spellings that must be accepted, the optional semantic and judge
 * values, rp_quality_add_reason(), rp_quality_language(), NULL, garbage,
 * invalid UTF-8 and very long inputs, and one context index shared by
 * many pairs and by threads.
 *
 * A struct rp_quality's reasons point into its own text[], so results are
 * filled in place (never returned by value).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/quality.h"

/* ---- contexts ---- */

/* Cell reselection, with parameters, defaults, ranges, a counter, a spec
 * reference, an effect, a negation and a message name. */
static const char CELL[] =
    "EUtranCellFDD.qRxLevMin sets the minimum required RX level in the cell for cell "
    "reselection, with a range of -156..-44 dBm and a default of -140 dBm. "
    "The parameter qQualMin sets the minimum required quality level in the cell, with a range "
    "of -34..-3 dB and a default of -18 dB. "
    "Cell reselection to a neighbour cell is enabled by default. "
    "The counter pmRrcConnEstabSucc is stepped for each successful RRC connection "
    "establishment. "
    "The reselection procedure is defined in 3GPP TS 38.331. "
    "Discontinuous Reception reduces the power consumption of the UE. "
    "Relations whose isRemoveAllowed attribute is false are never removed by the eNodeB. "
    "During the handover the source node sends the SN STATUS TRANSFER message to the target "
    "node.";

static const char Q_DEFAULT[] = "What is the default value of qRxLevMin?";
static const char A_DEFAULT[] = "The default value of qRxLevMin is -140 dBm.";

/* ---- helpers ---- */

static struct rp_quality_ctx *ctx_of(const char *text)
{
    struct rp_quality_ctx *c = rp_quality_ctx_new(text, strlen(text));
    assert_non_null(c);
    return c;
}

/* Scores q/a against text (indexed for this call) with params p (NULL: the
 * defaults) into *out. */
static void assess_p(const struct rp_quality_params *p, const char *text, const char *q,
                     const char *a, const struct rp_quality_extra *x, struct rp_quality *out)
{
    struct rp_quality_params d = rp_quality_default_params();
    struct rp_quality_ctx *c = ctx_of(text);
    rp_quality_assess(p ? p : &d, c, q, a, x, out);
    rp_quality_ctx_free(c);
}

static void assess(const char *text, const char *q, const char *a, struct rp_quality *out)
{
    assess_p(NULL, text, q, a, NULL, out);
}

static void print_reasons(const struct rp_quality *q)
{
    fprintf(stderr,
            "# score %.3f %s (structure %.2f grounding %.2f support %.2f answerable %.2f "
            "consistency %.2f)\n",
            q->score, q->accept ? "accept" : "reject", q->structure, q->grounding, q->support,
            q->answerable, q->consistency);
    for (size_t i = 0; i < q->n_reasons; i++)
        fprintf(stderr, "#   reason: %s\n", q->reasons[i]);
}

static bool has_reason(const struct rp_quality *q, const char *sub)
{
    for (size_t i = 0; i < q->n_reasons; i++)
        if (strstr(q->reasons[i], sub))
            return true;
    return false;
}

/* One reason contains every string of subs (NULL-terminated). */
static bool has_reason_all(const struct rp_quality *q, const char *const *subs)
{
    for (size_t i = 0; i < q->n_reasons; i++) {
        bool all = true;
        for (const char *const *s = subs; *s && all; s++)
            all = strstr(q->reasons[i], *s) != NULL;
        if (all)
            return true;
    }
    return false;
}

#define assert_reason(q, ...)                                                                      \
    do {                                                                                           \
        const char *const subs_[] = {__VA_ARGS__, NULL};                                           \
        if (!has_reason_all((q), subs_)) {                                                         \
            print_reasons(q);                                                                      \
            fail_msg("no reason contains every one of: %s%s%s", subs_[0], subs_[1] ? ", " : "",    \
                     subs_[1] ? subs_[1] : "");                                                    \
        }                                                                                          \
    } while (0)

#define assert_no_reason(q, sub)                                                                   \
    do {                                                                                           \
        if (has_reason((q), (sub))) {                                                              \
            print_reasons(q);                                                                      \
            fail_msg("a reason contains '%s'", (sub));                                             \
        }                                                                                          \
    } while (0)

#define assert_verdict(q, want)                                                                    \
    do {                                                                                           \
        if ((q)->accept != (want)) {                                                               \
            print_reasons(q);                                                                      \
            fail_msg("expected %s, got %s", (want) ? "accept" : "reject",                          \
                     (q)->accept ? "accept" : "reject");                                           \
        }                                                                                          \
    } while (0)

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 1e-9)
        fail_msg("expected %.6f, got %.6f", want, got);
}

/* An accepted pair: the threshold reached, no reason, nothing counted. */
static void assert_clean_accept(const struct rp_quality *q)
{
    assert_verdict(q, true);
    if (q->n_reasons != 0) {
        print_reasons(q);
        fail_msg("an accepted pair has %zu reasons", q->n_reasons);
    }
    assert_true(q->score >= rp_quality_default_params().threshold);
    assert_int_equal(q->n_structural + q->n_hallucinated + q->n_contradictions + q->n_evasive +
                         q->n_unsupported + q->n_unanswerable,
                     0);
}

/* Every field in range and every reason a string inside text[]. */
static void assert_sane(const struct rp_quality *q)
{
    assert_false(isnan(q->score));
    assert_true(q->score >= 0 && q->score <= 1);
    const double subs[] = {q->structure, q->grounding, q->support, q->answerable, q->consistency};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        assert_false(isnan(subs[i]));
        assert_true(subs[i] >= 0 && subs[i] <= 1);
    }
    assert_true(q->n_reasons <= RP_QUALITY_MAX_REASONS);
    for (size_t i = 0; i < q->n_reasons; i++) {
        assert_true(q->reasons[i] >= q->text && q->reasons[i] < q->text + sizeof q->text);
        assert_non_null(
            memchr(q->reasons[i], '\0', (size_t)(q->text + sizeof q->text - q->reasons[i])));
    }
    if (q->accept)
        assert_int_equal(q->n_reasons, 0);
    else
        assert_true(q->n_reasons > 0);
}

/* A structural defect: rejected, structure lowered by one hard factor per
 * defect, and a reason containing sub. */
static void assert_structural(const struct rp_quality *q, const char *sub)
{
    assert_verdict(q, false);
    assert_true(q->n_structural >= 1);
    assert_true(q->structure <= rp_quality_default_params().hard_factor + 1e-9);
    assert_reason(q, sub);
    assert_sane(q);
}

/* ---- the reference: a good pair is accepted ---- */

static void good_paraphrase_accepted(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "What is the default value of EUtranCellFDD.qRxLevMin?",
           "The minimum required RX level qRxLevMin defaults to -140 dBm.", &q);
    assert_clean_accept(&q);
    assert_near(q.score, 1.0);
    assert_near(q.structure, 1.0);
    assert_near(q.grounding, 1.0);
    assert_near(q.consistency, 1.0);
    assert_true(q.semantic < 0); /* not measured */
    assert_true(q.judge < 0);

    /* Reworded, two clauses, the unit and the sign as written. */
    assess(CELL, "what does qQualMin set",
           "qQualMin sets the minimum quality level required in the cell; by default it is -18 dB.",
           &q);
    assert_clean_accept(&q);
    /* An imperative question. */
    assess(CELL,
           "Name the counter that is stepped for each successful RRC connection establishment.",
           "pmRrcConnEstabSucc is stepped each time an RRC connection establishment succeeds.", &q);
    assert_clean_accept(&q);
    /* A correct negative answer is not a contradiction. */
    assess(CELL, "Does the eNodeB remove relations whose isRemoveAllowed attribute is false?",
           "No, the eNodeB never removes relations whose isRemoveAllowed attribute is false.", &q);
    assert_clean_accept(&q);
}

/* ---- structure ---- */

static void not_a_question(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "The default value of qRxLevMin.", A_DEFAULT, &q);
    assert_structural(&q, "not a question");
    /* The same words as a question are fine. */
    assess(CELL, "The default value of qRxLevMin?", A_DEFAULT, &q);
    assert_no_reason(&q, "not a question");
    /* Question marks alone are no question. */
    assess(CELL, "?????????????", A_DEFAULT, &q);
    assert_structural(&q, "the question has no words");
    assess(CELL, "... \xE2\x80\x94 ???", A_DEFAULT, &q);
    assert_structural(&q, "the question has no words");
}

static void question_too_short_or_long(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "Default?", A_DEFAULT, &q);
    assert_structural(&q, "too short (8 characters, at least 10)");

    char longq[512];
    snprintf(longq, sizeof longq, "%s", "What is the default value of qRxLevMin");
    while (strlen(longq) < 420)
        strcat(longq, " in the cell");
    strcat(longq, "?");
    assess(CELL, longq, A_DEFAULT, &q);
    char want[64];
    snprintf(want, sizeof want, "too long (%zu characters, at most 400)", strlen(longq));
    assert_structural(&q, want);

    /* The bounds are parameters. */
    struct rp_quality_params p = rp_quality_default_params();
    p.question_max_chars = 1000;
    assess_p(&p, CELL, longq, A_DEFAULT, NULL, &q);
    assert_no_reason(&q, "too long");
    p.question_min_chars = 50;
    assess_p(&p, CELL, Q_DEFAULT, A_DEFAULT, NULL, &q);
    assert_structural(&q, "too short (39 characters, at least 50)");
}

static void answer_too_long(void **state)
{
    (void)state;
    struct rp_quality q;
    char *a = malloc(3200);
    assert_non_null(a);
    a[0] = '\0';
    while (strlen(a) + sizeof A_DEFAULT < 3100)
        strcat(strcat(a, A_DEFAULT), " ");
    strcat(a, A_DEFAULT);
    assess(CELL, Q_DEFAULT, a, &q);
    char want[64];
    snprintf(want, sizeof want, "answer is too long (%zu characters, at most 3000)", strlen(a));
    assert_structural(&q, want);
    struct rp_quality_params p = rp_quality_default_params();
    p.answer_max_chars = 4000;
    assess_p(&p, CELL, Q_DEFAULT, a, NULL, &q);
    assert_no_reason(&q, "too long");
    free(a);
}

static void trivial_questions(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "What is the title of this document?", "It is about cell reselection.", &q);
    assert_structural(&q, "trivial");
    assert_reason(&q, "trivial", "title of");
    assess(CELL, "What does the document describe?",
           "It describes qRxLevMin and qQualMin for cell reselection.", &q);
    assert_structural(&q, "trivial");
    assert_reason(&q, "trivial", "what does the document");
    assess(CELL, "What is this section about?", "Cell reselection and its parameters.", &q);
    assert_structural(&q, "trivial");
}

static void answer_cut_off(void **state)
{
    (void)state;
    struct rp_quality q;
    /* No final punctuation. */
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -140 dBm and the range", &q);
    assert_structural(&q, "cut off mid-sentence");
    /* Ends with a comma. */
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -140 dBm,", &q);
    assert_structural(&q, "cut off mid-sentence");
    /* Ends with an ellipsis, ASCII or U+2026. */
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -140 dBm...", &q);
    assert_structural(&q, "cut off mid-sentence");
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -140 dBm\xE2\x80\xA6", &q);
    assert_structural(&q, "cut off mid-sentence");
    /* A short answer needs no full stop; trailing blanks do not matter. */
    assess(CELL, Q_DEFAULT, "-140 dBm", &q);
    assert_no_reason(&q, "cut off");
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -140 dBm. \n", &q);
    assert_clean_accept(&q);
}

static void answer_repeats_question(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, Q_DEFAULT, "What is the default value of qRxLevMin?", &q);
    assert_structural(&q, "repeats the question");
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin.", &q);
    assert_structural(&q, "repeats the question");
}

static void assistant_artefacts(void **state)
{
    (void)state;
    static const struct {
        const char *answer, *hit;
    } cases[] = {
        {"As an AI language model, I can say that the default value of qRxLevMin is -140 dBm.",
         "'as an ai'"},
        {"According to the text provided, the default value of qRxLevMin is -140 dBm.",
         "'according to the text'"},
        {"```\nThe default value of qRxLevMin is -140 dBm.\n```", "'```'"},
        {"{\"question\": \"What is the default value of qRxLevMin?\", \"answer\": \"-140 dBm\"}",
         "'\"question\"'"},
        {"<think>The user asks about qRxLevMin.</think> The default value of qRxLevMin is -140 "
         "dBm.",
         "'<think>'"},
        {"Based on the context, the default value of qRxLevMin is -140 dBm.",
         "'based on the context'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rp_quality q;
        assess(CELL, Q_DEFAULT, cases[i].answer, &q);
        assert_structural(&q, "assistant artefact");
        assert_reason(&q, "assistant artefact", cases[i].hit);
    }
}

static void placeholder_answer(void **state)
{
    (void)state;
    static const char *const answers[] = {"N/A", "n/a.", " TBD ", "None."};
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        struct rp_quality q;
        assess(CELL, Q_DEFAULT, answers[i], &q);
        assert_structural(&q, "placeholder");
    }
    struct rp_quality q;
    assess(CELL, Q_DEFAULT, "N/A", &q);
    assert_reason(&q, "placeholder ('n/a')");
    assess(CELL, Q_DEFAULT, "", &q);
    assert_structural(&q, "the answer is empty");
    assess(CELL, Q_DEFAULT, "  \n ", &q);
    assert_structural(&q, "the answer is empty");
}

static void language_mismatch(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, Q_DEFAULT,
           "Der Standardwert von qRxLevMin ist -140 dBm und wird in der Zelle verwendet.", &q);
    assert_structural(&q, "the answer is in 'de', the source in 'en'");
    assess(CELL, Q_DEFAULT, "Standardvärdet för qRxLevMin är -140 dBm och det används i cellen.",
           &q);
    assert_structural(&q, "the answer is in 'sv', the source in 'en'");
    /* A German answer to a German context is no mismatch. */
    static const char de[] =
        "Der Parameter qRxLevMin ist der minimale Empfangspegel in der Zelle "
        "und der Standardwert ist -140 dBm. Er wird von dem Betreiber gesetzt.";
    assess(de, "Was ist der Standardwert von qRxLevMin?",
           "Der Standardwert von qRxLevMin ist -140 dBm und der Betreiber setzt ihn.", &q);
    assert_no_reason(&q, "the answer is in");
    assert_near(q.structure, 1.0);
}

/* ---- grounding ---- */

static void hallucinated_identifier(void **state)
{
    (void)state;
    struct rp_quality q;
    /* A parameter that extends the real one. */
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMinOffset is -140 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated identifier 'qRxLevMinOffset'");
    assert_true(q.n_hallucinated >= 1);
    assert_true(q.grounding < 1.0);
    assert_near(q.structure, 1.0);

    /* The wrong counter of a pair. */
    assess(CELL, "Which counter is stepped for each successful RRC connection establishment?",
           "The counter pmRrcConnEstabAtt is stepped for each successful RRC connection "
           "establishment.",
           &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated identifier 'pmRrcConnEstabAtt'");
    assert_true(q.grounding < 1.0);
    assess(CELL, "Which counter is stepped for each successful RRC connection establishment?",
           "The counter pmRrcConnEstabSucc is stepped for each successful RRC connection "
           "establishment.",
           &q);
    assert_clean_accept(&q);

    /* A message name in capitals. */
    assess(CELL, "Which message does the source node send to the target node during the handover?",
           "The source node sends the SN STATUS UPDATE message to the target node.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated identifier 'SN STATUS UPDATE'");
    assert_true(q.n_hallucinated >= 1);
    assess(CELL, "Which message does the source node send to the target node during the handover?",
           "The source node sends the SN STATUS TRANSFER message to the target node.", &q);
    assert_clean_accept(&q);
}

static void hallucinated_value(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -130 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated value '-130 dBm'");
    assert_true(q.n_hallucinated >= 1);
    assert_true(q.grounding < 1.0);

    /* A spec reference is a number too. */
    assess(CELL, "Which specification defines the reselection procedure?",
           "The reselection procedure is defined in 3GPP TS 38.413.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated value '38.413'");
    assert_true(q.grounding < 1.0);
    assess(CELL, "Which specification defines the reselection procedure?",
           "The reselection procedure is defined in 3GPP TS 38.331.", &q);
    assert_clean_accept(&q);

    /* Large numbers are compared digit by digit, not to 9 significant digits. */
    static const char big[] = "The counter pmRrcConnMax can count up to 4294967295 connections "
                              "before it wraps around to zero.";
    static const char qb[] = "How far can pmRrcConnMax count?";
    assess(big, qb, "pmRrcConnMax can count up to 4294967295 connections before it wraps around.",
           &q);
    assert_clean_accept(&q);
    assess(big, qb, "pmRrcConnMax can count up to 4294967296 connections before it wraps around.",
           &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated value '4294967296'");
}

static void value_of_another_thing(void **state)
{
    (void)state;
    struct rp_quality q;
    /* qRxLevMin's default given as qQualMin's. */
    assess(CELL, "What is the default value of qQualMin?",
           "The default value of qQualMin is -140 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated value '-140'", "'qQualMin'");
    assert_int_equal(q.n_hallucinated, 1);
    assess(CELL, "What is the default value of qQualMin?",
           "The default value of qQualMin is -18 dB.", &q);
    assert_clean_accept(&q);

    /* The end of the allowed range given as the default. */
    assess(CELL, Q_DEFAULT, "The default value of qRxLevMin is -44 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "hallucinated value '-44'", "as a default");
    assert_int_equal(q.n_hallucinated, 1);
    /* The range itself is fine. */
    assess(CELL, "What is the range of qRxLevMin?", "qRxLevMin ranges from -156 to -44 dBm.", &q);
    assert_clean_accept(&q);
}

static void numbers_normalised(void **state)
{
    (void)state;
    struct rp_quality q;
    static const char *const minus_ctx =
        "The parameter qRxLevMin sets the minimum required RX level in the cell, with a default "
        "of \xE2\x88\x92"
        "140 dBm and a range of \xE2\x88\x92"
        "156..\xE2\x88\x92"
        "44 dBm.";
    static const char *const ascii_ctx =
        "The parameter qRxLevMin sets the minimum required RX level in the cell, with a default "
        "of -140 dBm and a range of -156..-44 dBm.";
    /* U+2212 in the context, ASCII in the answer, and the other way round. */
    assess(minus_ctx, Q_DEFAULT, A_DEFAULT, &q);
    assert_clean_accept(&q);
    assess(ascii_ctx, Q_DEFAULT,
           "The default value of qRxLevMin is \xE2\x88\x92"
           "140 dBm.",
           &q);
    assert_clean_accept(&q);
    /* ... but U+2212 still is a sign: +130 is not -140, nor -130. */
    assess(minus_ctx, Q_DEFAULT,
           "The default value of qRxLevMin is \xE2\x88\x92"
           "130 dBm.",
           &q);
    assert_reason(&q, "hallucinated value '-130 dBm'");

    static const char *const joined =
        "The hysteresis parameter hysA3Offset adds 3dB to the A3 offset before the event "
        "triggers, and the timer t304 runs for 1000 ms. The UE keeps 2 measurement gaps.";
    static const char *const spaced =
        "The hysteresis parameter hysA3Offset adds 3 dB to the A3 offset before the event "
        "triggers, and the timer t304 runs for 1,000 ms. The UE keeps two measurement gaps.";
    static const char *const q_hys = "How much does hysA3Offset add to the A3 offset?";
    static const char *const q_t304 = "How long does the timer t304 run?";
    static const char *const q_gaps = "How many measurement gaps does the UE keep?";
    /* "3dB" vs "3 dB". */
    assess(spaced, q_hys, "hysA3Offset adds 3dB to the A3 offset before the event triggers.", &q);
    assert_clean_accept(&q);
    assess(joined, q_hys, "hysA3Offset adds 3 dB to the A3 offset before the event triggers.", &q);
    assert_clean_accept(&q);
    /* "two" vs "2". */
    assess(spaced, q_gaps, "The UE keeps 2 measurement gaps.", &q);
    assert_clean_accept(&q);
    assess(joined, q_gaps, "The UE keeps two measurement gaps.", &q);
    assert_clean_accept(&q);
    /* "1,000" vs "1000" (text_int.h: they are the same number). */
    assess(spaced, q_t304, "The timer t304 runs for 1000 ms.", &q);
    assert_clean_accept(&q);
    assess(joined, q_t304, "The timer t304 runs for 1,000 ms.", &q);
    assert_clean_accept(&q);
    /* A thousands separator joins one number: "1,000" does not ground "1" or "0". */
    assess(spaced, q_t304, "The timer t304 runs for 1 ms.", &q);
    assert_reason(&q, "hallucinated value '1 ms'");
    assess(spaced, q_t304, "The timer t304 runs for 0 ms.", &q);
    assert_reason(&q, "hallucinated value '0 ms'");
    /* But "2" is not "5". */
    assess(joined, q_gaps, "The UE keeps 5 measurement gaps.", &q);
    assert_reason(&q, "hallucinated value '5'");
}

static void acronym_expanded_by_glossary(void **state)
{
    (void)state;
    struct rp_quality q;
    /* The context spells DRX out; the glossary knows the expansion. */
    static const char ctx[] = "Discontinuous Reception lets the UE switch off its receiver between "
                              "paging occasions, which reduces the power consumption of the UE.";
    static const char qq[] = "Why does the UE switch off its receiver between paging occasions?";
    assess(ctx, qq,
           "DRX lets the UE switch off its receiver between paging occasions, which reduces its "
           "power consumption.",
           &q);
    assert_clean_accept(&q);
    assert_near(q.grounding, 1.0);
    assert_no_reason(&q, "DRX");
    /* An acronym neither in the context nor expanded there lowers grounding. */
    assess(ctx, qq,
           "PDCP lets the UE switch off its receiver between paging occasions, which reduces its "
           "power consumption.",
           &q);
    assert_true(q.grounding < 1.0);
}

/* ---- support, consistency, answerability ---- */

static void ungrounded_claim(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "What does qRxLevMin set?",
           "qRxLevMin sets the minimum required RX level in the cell. Operators usually tune it "
           "weekly using drive tests and customer complaints.",
           &q);
    assert_verdict(&q, false);
    assert_reason(&q, "ungrounded claim: sentence 2", "Operators", "weekly");
    assert_true(q.n_unsupported >= 1);
    assert_true(q.support < rp_quality_default_params().min_support);
    assert_near(q.grounding, 1.0);
    /* The first sentence alone is fine. */
    assess(CELL, "What does qRxLevMin set?",
           "qRxLevMin sets the minimum required RX level in the cell.", &q);
    assert_clean_accept(&q);
    /* min_support is a parameter: at 0 nothing is an ungrounded claim. */
    struct rp_quality_params p = rp_quality_default_params();
    p.min_support = 0;
    assess_p(&p, CELL, "What does qRxLevMin set?",
             "qRxLevMin sets the minimum required RX level in the cell. Operators usually tune "
             "it weekly using drive tests and customer complaints.",
             NULL, &q);
    assert_no_reason(&q, "ungrounded claim");
    assert_int_equal(q.n_unsupported, 0);
}

static void contradiction(void **state)
{
    (void)state;
    struct rp_quality q;
    /* enabled vs disabled. */
    assess(CELL, "Is cell reselection to a neighbour cell enabled by default?",
           "No, cell reselection to a neighbour cell is disabled by default.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "contradicts the context", "'disabled'", "'enabled'");
    assert_true(q.n_contradictions >= 1);
    assert_true(q.consistency < 1.0);
    assess(CELL, "Is cell reselection to a neighbour cell enabled by default?",
           "Yes, cell reselection to a neighbour cell is enabled by default.", &q);
    assert_clean_accept(&q);

    /* "increases X" where the context says "reduces X". */
    assess(CELL, "What does Discontinuous Reception do to the power consumption of the UE?",
           "Discontinuous Reception increases the power consumption of the UE.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "contradicts the context", "'increases'", "'reduces'");
    assert_true(q.consistency < 1.0);
    assess(CELL, "What does Discontinuous Reception do to the power consumption of the UE?",
           "Discontinuous Reception reduces the power consumption of the UE.", &q);
    assert_clean_accept(&q);

    /* "Yes" where the context says "never". */
    assess(CELL, "Can the eNodeB remove relations whose isRemoveAllowed attribute is false?",
           "Yes.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "contradicts the context", "yes", "negation");
    assert_true(q.consistency < 1.0);
    assess(CELL, "Can the eNodeB remove relations whose isRemoveAllowed attribute is false?",
           "Yes, the eNodeB removes relations whose isRemoveAllowed attribute is false.", &q);
    assert_reason(&q, "contradicts the context");
    /* "Yes" where the context says "not"; "No" there is right. */
    static const char lb[] = "Inter-frequency load balancing moves UEs between the carriers of one "
                             "eNodeB. Inter-frequency load balancing does not apply to TDD cells.";
    static const char qlb[] = "Does inter-frequency load balancing apply to TDD cells?";
    assess(lb, qlb, "Yes.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "contradicts the context", "yes", "negation");
    assess(lb, qlb, "No, it does not apply to TDD cells.", &q);
    assert_clean_accept(&q);
    assess(lb, "Does inter-frequency load balancing move UEs between the carriers of one eNodeB?",
           "Yes.", &q);
    assert_clean_accept(&q);
    /* "Yes" is fine where the context has no negation. */
    assess(CELL, "Is cell reselection to a neighbour cell enabled by default?", "Yes.", &q);
    assert_int_equal(q.n_contradictions, 0);
}

static void evasive_answer(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, Q_DEFAULT, "The context does not specify the default value of qRxLevMin.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "unanswerable: the answer says the context does not give it",
                  "'does not specify'");
    assert_int_equal(q.n_evasive, 1);
    assess(CELL, Q_DEFAULT, "This information is not mentioned in the text.", &q);
    assert_verdict(&q, false);
    assert_true(q.n_evasive >= 1);
}

static void unanswerable_question(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, "What is the default value of qOffsetFreq?",
           "The default value of qOffsetFreq is -140 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "unanswerable: the question asks about identifier 'qOffsetFreq'");
    assert_true(q.n_unanswerable >= 1);
    assert_true(q.answerable < 1.0);
    /* A question made of words the context lacks. */
    assess(CELL, "Which vendor manufactures the antenna tilt motors for rooftop sites?",
           "The default value of qRxLevMin is -140 dBm.", &q);
    assert_verdict(&q, false);
    assert_reason(&q, "unanswerable: the context does not cover the question", "vendor");
    assert_true(q.answerable < 0.5);
}

/* ---- the score ---- */

static void null_inputs(void **state)
{
    (void)state;
    struct rp_quality q;
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality_ctx *c = ctx_of(CELL);
    rp_quality_assess(&p, c, NULL, NULL, NULL, &q);
    assert_verdict(&q, false);
    assert_reason(&q, "the question is empty");
    assert_reason(&q, "the answer is empty");
    assert_sane(&q);
    rp_quality_assess(&p, c, NULL, A_DEFAULT, NULL, &q);
    assert_reason(&q, "the question is empty");
    assert_sane(&q);
    rp_quality_assess(&p, c, Q_DEFAULT, NULL, NULL, &q);
    assert_reason(&q, "the answer is empty");
    assert_sane(&q);
    rp_quality_ctx_free(c);
    rp_quality_ctx_free(NULL);

    /* An empty context: nothing is grounded. */
    c = rp_quality_ctx_new("", 0);
    assert_non_null(c);
    rp_quality_assess(&p, c, Q_DEFAULT, A_DEFAULT, NULL, &q);
    assert_verdict(&q, false);
    assert_sane(&q);
    rp_quality_ctx_free(c);
    c = rp_quality_ctx_new(NULL, 0);
    assert_non_null(c);
    rp_quality_assess(&p, c, Q_DEFAULT, A_DEFAULT, NULL, &q);
    assert_verdict(&q, false);
    rp_quality_ctx_free(c);
}

static void extra_measurements(void **state)
{
    (void)state;
    struct rp_quality base, q;
    assess(CELL, Q_DEFAULT, A_DEFAULT, &base);
    assert_clean_accept(&base);
    assert_near(base.score, 1.0);

    /* Semantic similarity: the mean of the two cosines, weighted w_semantic. */
    struct rp_quality_extra x = {.semantic_question = 0.6, .semantic_answer = 0.2, .judge = -1};
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.semantic, 0.4);
    assert_true(q.judge < 0);
    assert_near(q.score, (3 + 2 + 1 + 1 * 0.4) / 7.0);
    assert_clean_accept(&q);
    /* One cosine only; negative cosines count as 0. */
    x = (struct rp_quality_extra){.semantic_question = -2, .semantic_answer = -0.5, .judge = -1};
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.semantic, 0.0);
    assert_near(q.score, 6 / 7.0);
    /* Neither: as without extra. */
    x = (struct rp_quality_extra){.semantic_question = -2, .semantic_answer = -2, .judge = -1};
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_true(q.semantic < 0);
    assert_near(q.score, base.score);

    /* The judge: weighted w_judge; below 0.5 it rejects with its reason. */
    x = (struct rp_quality_extra){.semantic_question = -2, .semantic_answer = -2, .judge = 0.8};
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.judge, 0.8);
    assert_near(q.score, (6 + 2 * 0.8) / 8.0);
    assert_clean_accept(&q);
    x.judge = 0.2;
    x.judge_reason = "the default is stated for the wrong cell type";
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.judge, 0.2);
    assert_verdict(&q, false);
    assert_reason(&q, "judge: the default is stated for the wrong cell type");
    assert_true(q.score < base.score);
    x.judge_reason = NULL;
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_verdict(&q, false);
    assert_reason(&q, "judge:");
    /* Above 1 counts as 1. */
    x.judge = 1.5;
    assess_p(NULL, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.judge, 1.0);
    assert_near(q.score, 1.0);

    /* A weight of 0 takes a check out of the score. */
    struct rp_quality_params p = rp_quality_default_params();
    p.w_judge = 0;
    x.judge = 0.6;
    assess_p(&p, CELL, Q_DEFAULT, A_DEFAULT, &x, &q);
    assert_near(q.score, 1.0);
}

static void threshold_and_hard_factor(void **state)
{
    (void)state;
    struct rp_quality q;
    /* A good pair whose answerable is below 1 ("A3" is not in the question's context words). */
    static const char *const qq = "What is the default value of qRxLevMin in the serving cell?";
    assess(CELL, qq, A_DEFAULT, &q);
    assert_verdict(&q, true);
    double s = q.score;
    struct rp_quality_params p = rp_quality_default_params();
    p.threshold = s;
    assess_p(&p, CELL, qq, A_DEFAULT, NULL, &q);
    assert_verdict(&q, true); /* at the threshold: accepted */
    p.threshold = 1.0;
    if (s < 1.0) {
        assess_p(&p, CELL, qq, A_DEFAULT, NULL, &q);
        assert_verdict(&q, false);
        assert_reason(&q, "below the threshold 1.00");
    }
    /* A threshold of 0 accepts no pair with a hard defect. */
    p.threshold = 0;
    assess_p(&p, CELL, Q_DEFAULT, "The default value of qRxLevMin is -130 dBm.", NULL, &q);
    assert_verdict(&q, false);

    /* One hard defect multiplies the score by hard_factor, two by its square. */
    p = rp_quality_default_params();
    p.hard_factor = 0.25;
    assess_p(&p, CELL, "The default value of qRxLevMin.", A_DEFAULT, NULL, &q);
    assert_int_equal(q.n_structural, 1);
    assert_near(q.structure, 0.25);
    assert_near(q.score, 0.25);
    assess_p(&p, CELL, "Default.", A_DEFAULT, NULL, &q); /* not a question, too short */
    assert_int_equal(q.n_structural, 2);
    assert_near(q.score, 0.0625);
}

static void add_reason_rejects(void **state)
{
    (void)state;
    struct rp_quality q;
    assess(CELL, Q_DEFAULT, A_DEFAULT, &q);
    assert_clean_accept(&q);
    rp_quality_add_reason(&q, "near duplicate of '%s' (question similarity %.2f)", "L001", 0.91);
    assert_verdict(&q, false);
    assert_int_equal(q.n_reasons, 1);
    assert_string_equal(q.reasons[0], "near duplicate of 'L001' (question similarity 0.91)");
    /* Appended after the scorer's own reasons. */
    assess(CELL, Q_DEFAULT, "N/A", &q);
    size_t n = q.n_reasons;
    rp_quality_add_reason(&q, "extra %d", 7);
    assert_int_equal(q.n_reasons, n + 1);
    assert_string_equal(q.reasons[n], "extra 7");
    assert_reason(&q, "placeholder");

    /* Many long reasons: capped, truncated, every one a string in text[]. */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assess(CELL, Q_DEFAULT, A_DEFAULT, &q);
    for (int i = 0; i < 40; i++)
        rp_quality_add_reason(&q, "%d %s", i, big);
    assert_verdict(&q, false);
    assert_true(q.n_reasons >= 1 && q.n_reasons <= RP_QUALITY_MAX_REASONS);
    assert_sane(&q);
    assert_true(strncmp(q.reasons[0], "0 xxx", 5) == 0);
}

/* quality.h: a result is copied with rp_quality_copy(); the copy's
 * reasons are its own, whatever happens to the original. */
static void result_may_be_copied(void **state)
{
    (void)state;
    static struct rp_quality a, b;
    assess(CELL, Q_DEFAULT, "N/A", &a);
    assert_true(a.n_reasons >= 1);
    char want[256];
    snprintf(want, sizeof want, "%s", a.reasons[0]);
    rp_quality_copy(&b, &a);
    /* The original is reused: the copy's reasons must not change. */
    assess(CELL, "What is the title of this document?", "It is about cell reselection.", &a);
    if (strcmp(b.reasons[0], want) != 0 ||
        !(b.reasons[0] >= b.text && b.reasons[0] < b.text + sizeof b.text))
        fail_msg("a copy's reasons point into the original's text[]: the copy's first reason "
                 "now reads '%s', was '%s'",
                 b.reasons[0], want);
}

static void languages(void **state)
{
    (void)state;
    static const struct {
        const char *text, *lang;
    } cases[] = {
        {"The parameter is set by the operator and it is used for the selection of the cell when "
         "the UE is in idle mode.",
         "en"},
        {"Der Parameter wird von dem Betreiber gesetzt und ist für die Auswahl der Zelle nicht "
         "erforderlich.",
         "de"},
        {"Le paramètre est défini par l'opérateur et il est utilisé pour la sélection de la "
         "cellule dans les réseaux.",
         "fr"},
        {"El parámetro es configurado por el operador y se usa para la selección de la celda con "
         "los valores por defecto.",
         "es"},
        {"Parametern sätts av operatören och den används för val av cell när terminalen är i "
         "viloläge och det är inte ett krav.",
         "sv"},
        {"Il parametro è impostato dall'operatore e viene usato per la selezione della cella che "
         "non è sempre una delle celle vicine.",
         "it"},
        {"O parâmetro é definido pelo operador e é usado para a seleção da célula que não está em "
         "uma das listas dos vizinhos.",
         "pt"},
        {"该参数由运营商设置，用于空闲模式下的小区重选。", "zh"},
        {"このパラメータはオペレータによって設定され、セルの再選択に使用されます。", "ja"},
        {"Этот параметр задаётся оператором и используется для повторного выбора соты.", "ru"},
        {"이 파라미터는 운영자가 설정하며 셀 재선택에 사용됩니다.", "ko"},
        {"يتم ضبط هذه المعلمة من قبل المشغل وتستخدم لإعادة اختيار الخلية.", "ar"},
        {"qRxLevMin -140 dBm", ""},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = rp_quality_language(cases[i].text, strlen(cases[i].text));
        assert_non_null(got);
        if (strcmp(got, cases[i].lang) != 0)
            fail_msg("'%.40s...': expected '%s', got '%s'", cases[i].text, cases[i].lang, got);
    }
    /* Only len bytes are read: the English prefix of a German text. */
    static const char mixed[] =
        "The cell is in the list and the UE is idle. Der Parameter wird von "
        "dem Betreiber gesetzt und ist nicht für die Zelle.";
    assert_string_equal(rp_quality_language(mixed, 44), "en");
    assert_string_equal(rp_quality_language(NULL, 0), "");
}

/* ---- hostile input ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void garbage_does_not_crash(void **state)
{
    (void)state;
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality q;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 200; round++) {
        /* A context of random bytes (NULs included) and a NUL-terminated pair. */
        size_t cn = (size_t)(rng_next(&seed) % 3000);
        char *ctx = malloc(cn + 1);
        char qs[300], as[600];
        assert_non_null(ctx);
        for (size_t i = 0; i < cn; i++)
            ctx[i] = (char)(rng_next(&seed) & 0xFF);
        size_t qn = (size_t)(rng_next(&seed) % (sizeof qs - 1));
        size_t an = (size_t)(rng_next(&seed) % (sizeof as - 1));
        for (size_t i = 0; i < qn; i++)
            qs[i] = (char)(1 + rng_next(&seed) % 255);
        for (size_t i = 0; i < an; i++)
            as[i] = (char)(1 + rng_next(&seed) % 255);
        qs[qn] = as[an] = '\0';
        /* Every other round: the answer is a slice of the context. */
        if ((round & 1) && cn > 10) {
            size_t k = an < cn ? an : cn;
            for (size_t i = 0; i < k; i++)
                as[i] = ctx[i] ? ctx[i] : ' ';
            as[k] = '\0';
        }
        struct rp_quality_ctx *c = rp_quality_ctx_new(ctx, cn);
        assert_non_null(c);
        rp_quality_assess(&p, c, qs, as, NULL, &q);
        assert_sane(&q);
        rp_quality_ctx_free(c);
        free(ctx);
    }
    /* Invalid UTF-8: lone continuation bytes, truncated sequences (also at the
     * very end, where a reader could run past it), overlong forms. */
    static const char *const bad[] = {
        "\x80\x80 qRxLevMin \xBF?",
        "What is \xE2\x88 the default?\xE2",
        "What is the default value of qRxLevMin \xC2",
        "\xF0\x9F\x98 -140 dBm \xE2\x80",
        "\xC0\xAF\xE0\x80\xAF qRxLevMin is -140 dBm.\xE2\x88",
        "\xFF\xFE\xFD\xFC",
        "\xE3\x81",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rp_quality_ctx *c = rp_quality_ctx_new(bad[i], strlen(bad[i]));
        assert_non_null(c);
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            rp_quality_assess(&p, c, bad[j], bad[i], NULL, &q);
            assert_sane(&q);
        }
        rp_quality_ctx_free(c);
        (void)rp_quality_language(bad[i], strlen(bad[i]));
        /* Cut before the end of the string: only len bytes may be read. */
        size_t n = strlen(bad[i]);
        char *cut = malloc(n);
        assert_non_null(cut);
        memcpy(cut, bad[i], n); /* no NUL: ASan sees a read past len */
        (void)rp_quality_language(cut, n);
        c = rp_quality_ctx_new(cut, n);
        assert_non_null(c);
        rp_quality_assess(&p, c, Q_DEFAULT, A_DEFAULT, NULL, &q);
        assert_sane(&q);
        rp_quality_ctx_free(c);
        free(cut);
    }
    /* The good pair against CELL with invalid bytes around it still works. */
    assess(CELL, "\xFF What is the default value of qRxLevMin?", A_DEFAULT, &q);
    assert_sane(&q);
}

/* quality.h: the index covers context[0..len), NUL bytes included (text
 * extracted from a PDF may hold some): what follows a NUL still counts. */
static void context_with_nul_bytes(void **state)
{
    (void)state;
    static const char ctx[] = "Page 3\0\0 of 9. During the handover the source node sends the "
                              "SN STATUS TRANSFER message to the target node. Discontinuous "
                              "Reception reduces the power consumption of the UE.";
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality_ctx *c = rp_quality_ctx_new(ctx, sizeof ctx - 1);
    assert_non_null(c);
    struct rp_quality q;
    rp_quality_assess(&p, c,
                      "Which message does the source node send to the target node during the "
                      "handover?",
                      "The source node sends the SN STATUS TRANSFER message to the target node.",
                      NULL, &q);
    assert_clean_accept(&q);
    rp_quality_assess(&p, c, "What does Discontinuous Reception reduce?",
                      "DRX reduces the power consumption of the UE.", NULL, &q);
    assert_clean_accept(&q);
    assert_near(q.grounding, 1.0);
    rp_quality_ctx_free(c);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void very_long_inputs(void **state)
{
    (void)state;
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality q;
    /* A 100 KB answer: one sentence repeated. */
    size_t an = 100 * 1024;
    char *a = malloc(an + 1);
    assert_non_null(a);
    size_t k = 0, sl = strlen(A_DEFAULT);
    while (k + sl + 1 <= an) {
        memcpy(a + k, A_DEFAULT, sl);
        a[k + sl] = ' ';
        k += sl + 1;
    }
    a[k] = '\0';
    double t0 = now_s();
    assess(CELL, Q_DEFAULT, a, &q);
    double t_answer = now_s() - t0;
    assert_structural(&q, "answer is too long");

    /* A 1 MB context: CELL repeated, a good pair still accepted. */
    size_t cn = 1024 * 1024;
    char *ctx = malloc(cn);
    assert_non_null(ctx);
    size_t cl = strlen(CELL);
    for (size_t i = 0; i < cn; i += cl + 1) {
        size_t m = i + cl + 1 <= cn ? cl : cn - i;
        memcpy(ctx + i, CELL, m);
        if (i + m < cn)
            ctx[i + m] = '\n';
    }
    t0 = now_s();
    struct rp_quality_ctx *c = rp_quality_ctx_new(ctx, cn);
    assert_non_null(c);
    double t_index = now_s() - t0;
    t0 = now_s();
    rp_quality_assess(&p, c, Q_DEFAULT, A_DEFAULT, NULL, &q);
    double t_pair = now_s() - t0;
    assert_clean_accept(&q);
    /* Both at once. */
    t0 = now_s();
    rp_quality_assess(&p, c, Q_DEFAULT, a, NULL, &q);
    double t_both = now_s() - t0;
    assert_structural(&q, "answer is too long");
    /* A question of 100 KB too. */
    a[an / 2] = '\0';
    rp_quality_assess(&p, c, a, A_DEFAULT, NULL, &q);
    assert_structural(&q, "question is too long");
    print_message("# 100 KB answer %.3f s; 1 MB context: index %.3f s, pair %.3f s, "
                  "100 KB answer %.3f s\n",
                  t_answer, t_index, t_pair, t_both);
    rp_quality_ctx_free(c);
    free(ctx);
    free(a);
}

/* ---- the index ---- */

static void shared_index_same_as_fresh(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"What is the default value of EUtranCellFDD.qRxLevMin?",
         "The minimum required RX level qRxLevMin defaults to -140 dBm."},
        {Q_DEFAULT, "The default value of qRxLevMin is -130 dBm."},
        {Q_DEFAULT, "The default value of qRxLevMinOffset is -140 dBm."},
        {"What is the default value of qQualMin?", "The default value of qQualMin is -140 dBm."},
        {Q_DEFAULT, "The default value of qRxLevMin is -44 dBm."},
        {"Is cell reselection to a neighbour cell enabled by default?",
         "No, cell reselection to a neighbour cell is disabled by default."},
        {"Can the eNodeB remove relations whose isRemoveAllowed attribute is false?", "Yes."},
        {Q_DEFAULT, "The context does not specify the default value of qRxLevMin."},
        {"What is the default value of qOffsetFreq?", "The default value of qOffsetFreq is 0 dB."},
        {"What is the title of this document?", "It is about cell reselection."},
        {Q_DEFAULT, "N/A"},
        {Q_DEFAULT, "As an AI language model, I think it is -140 dBm."},
        {"Which specification defines the reselection procedure?",
         "The reselection procedure is defined in 3GPP TS 38.413."},
        {"What does qRxLevMin set?",
         "qRxLevMin sets the minimum required RX level in the cell. Operators usually tune it "
         "weekly using drive tests."},
        {NULL, NULL},
        {Q_DEFAULT, A_DEFAULT},
    };
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality_ctx *shared = ctx_of(CELL);
    struct rp_quality a, b;
    /* Many rounds over the shared index, in both orders. */
    for (int round = 0; round < 20; round++) {
        for (size_t j = 0; j < sizeof pairs / sizeof pairs[0]; j++) {
            size_t i = (round & 1) ? sizeof pairs / sizeof pairs[0] - 1 - j : j;
            struct rp_quality_ctx *fresh = ctx_of(CELL);
            rp_quality_assess(&p, shared, pairs[i][0], pairs[i][1], NULL, &a);
            rp_quality_assess(&p, fresh, pairs[i][0], pairs[i][1], NULL, &b);
            rp_quality_ctx_free(fresh);
            assert_true(a.accept == b.accept);
            assert_near(a.score, b.score);
            assert_near(a.grounding, b.grounding);
            assert_near(a.support, b.support);
            assert_near(a.answerable, b.answerable);
            assert_near(a.consistency, b.consistency);
            assert_int_equal(a.n_reasons, b.n_reasons);
            for (size_t r = 0; r < a.n_reasons; r++)
                assert_string_equal(a.reasons[r], b.reasons[r]);
        }
    }
    rp_quality_ctx_free(shared);
}

/* quality.h: an index is read-only after creation and may be shared by
 * threads; rp_quality_assess() is reentrant. Threads scoring the same
 * pairs on one index get what one thread got (TSan runs this too). */
#define N_THREADS 4

static const char *const thread_pairs[][2] = {
    {Q_DEFAULT, A_DEFAULT},
    {Q_DEFAULT, "The default value of qRxLevMin is -130 dBm."},
    {"What is the default value of qQualMin?", "The default value of qQualMin is -140 dBm."},
    {"Is cell reselection to a neighbour cell enabled by default?",
     "No, cell reselection to a neighbour cell is disabled by default."},
    {Q_DEFAULT, "Der Standardwert von qRxLevMin ist -140 dBm und wird in der Zelle verwendet."},
    {Q_DEFAULT, "The context does not specify the default value of qRxLevMin."},
};
#define N_THREAD_PAIRS (sizeof thread_pairs / sizeof thread_pairs[0])

struct thread_job {
    const struct rp_quality_ctx *ctx;
    double score[N_THREAD_PAIRS];
    bool accept[N_THREAD_PAIRS];
    char first_reason[N_THREAD_PAIRS][128];
    bool differs;
};

static void score_all(const struct rp_quality_ctx *c, struct thread_job *j, bool compare)
{
    struct rp_quality_params p = rp_quality_default_params();
    struct rp_quality q;
    for (size_t i = 0; i < N_THREAD_PAIRS; i++) {
        rp_quality_assess(&p, c, thread_pairs[i][0], thread_pairs[i][1], NULL, &q);
        char r[128];
        snprintf(r, sizeof r, "%s", q.n_reasons ? q.reasons[0] : "");
        if (!compare) {
            j->score[i] = q.score;
            j->accept[i] = q.accept;
            memcpy(j->first_reason[i], r, sizeof r);
        } else if (q.score != j->score[i] || q.accept != j->accept[i] ||
                   strcmp(r, j->first_reason[i]) != 0) {
            j->differs = true;
        }
    }
}

static void *thread_main(void *arg)
{
    struct thread_job *j = arg;
    for (int round = 0; round < 200; round++)
        score_all(j->ctx, j, true);
    return NULL;
}

static void shared_index_across_threads(void **state)
{
    (void)state;
    struct rp_quality_ctx *c = ctx_of(CELL);
    struct thread_job ref = {.ctx = c};
    score_all(c, &ref, false);
    struct thread_job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = ref;
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < N_THREADS; t++)
        assert_false(jobs[t].differs);
    rp_quality_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_paraphrase_accepted),
        cmocka_unit_test(not_a_question),
        cmocka_unit_test(question_too_short_or_long),
        cmocka_unit_test(answer_too_long),
        cmocka_unit_test(trivial_questions),
        cmocka_unit_test(answer_cut_off),
        cmocka_unit_test(answer_repeats_question),
        cmocka_unit_test(assistant_artefacts),
        cmocka_unit_test(placeholder_answer),
        cmocka_unit_test(language_mismatch),
        cmocka_unit_test(hallucinated_identifier),
        cmocka_unit_test(hallucinated_value),
        cmocka_unit_test(value_of_another_thing),
        cmocka_unit_test(numbers_normalised),
        cmocka_unit_test(acronym_expanded_by_glossary),
        cmocka_unit_test(ungrounded_claim),
        cmocka_unit_test(contradiction),
        cmocka_unit_test(evasive_answer),
        cmocka_unit_test(unanswerable_question),
        cmocka_unit_test(null_inputs),
        cmocka_unit_test(extra_measurements),
        cmocka_unit_test(threshold_and_hard_factor),
        cmocka_unit_test(add_reason_rejects),
        cmocka_unit_test(result_may_be_copied),
        cmocka_unit_test(languages),
        cmocka_unit_test(garbage_does_not_crash),
        cmocka_unit_test(context_with_nul_bytes),
        cmocka_unit_test(very_long_inputs),
        cmocka_unit_test(shared_index_same_as_fresh),
        cmocka_unit_test(shared_index_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
