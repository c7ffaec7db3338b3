/*
 * test_extract.c - the extractive tier (src/extract/extract.c).
 *
 * Documents are written here as Markdown, CSV and HTML and parsed with
 * rp_ingest_buffer(), so the rules see exactly what the parsers make;
 * the expected questions, answers and evidence are spelled out in full.
 * Negative cases (pronoun subjects, glossary-only acronyms, procedure
 * steps, tables that are not parameter tables) must give nothing. Every
 * file under examples/ and tests/golden/ (read from $RANPIPE_SOURCE_DIR)
 * is run through as well, with the grounding checks of check_grounded();
 * RANPIPE_EXTRACT_DUMP=1 prints their pairs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/doc.h"
#include "ranpipe/entities.h"
#include "ranpipe/error.h"
#include "ranpipe/extract.h"
#include "ranpipe/ingest.h"
#include "ranpipe/utf8.h"

/* ---- helpers ---- */

static struct rp_doc *parse(const char *path, enum rp_doc_format f, const char *text)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_buffer(path, f, text, strlen(text), NULL, &doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    return doc;
}

static struct rp_doc *parse_md(const char *text)
{
    return parse("t.md", RP_FORMAT_MARKDOWN, text);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool contains_ci(const char *hay, const char *needle, size_t n)
{
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && lower((unsigned char)hay[i]) == lower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static bool same_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* Words the answer templates add; every other word of an answer must be
 * in its evidence. */
static const char *const TEMPLATE_WORDS[] = {
    "the",       "default", "value",   "of",   "is",        "are", "range",   "allowed",
    "values",    "unit",    "data",    "type", "which",     "mo",  "class",   "does",
    "parameter", "belong",  "belongs", "to",   "described", "as",  "counter", "measures",
    "stands",    "for",     "a",       "an",   NULL};

static bool template_word(const char *w, size_t n)
{
    for (size_t i = 0; TEMPLATE_WORDS[i]; i++) {
        size_t m = strlen(TEMPLATE_WORDS[i]);
        if (m != n)
            continue;
        size_t k = 0;
        while (k < n && lower((unsigned char)w[k]) == TEMPLATE_WORDS[i][k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* Does evidence consist of cells of body row `row` of table t, each
 * written "header: cell" (or just the cell under an empty header), in
 * column order, joined by "; "? */
static bool row_evidence_ok(const struct rp_table *t, size_t row, const char *ev)
{
    size_t first = t->n_header ? t->n_header : 1;
    size_t r = first + row;
    if (r >= t->n_rows)
        return false;
    const char *p = ev;
    for (size_t c = 0; c < t->n_cols && *p; c++) {
        const char *h = t->cells[(first - 1) * t->n_cols + c];
        const char *v = t->cells[r * t->n_cols + c];
        char part[8192];
        if (*h)
            snprintf(part, sizeof(part), "%s: %s", h, v);
        else
            snprintf(part, sizeof(part), "%s", v);
        size_t n = strlen(part);
        if (strncmp(p, part, n) == 0 && (p[n] == '\0' || strncmp(p + n, "; ", 2) == 0))
            p += p[n] ? n + 2 : n;
    }
    return *p == '\0';
}

/* The text a pair's block field points at. */
static const char *source_text(const struct rp_doc *doc, const struct rp_extract_pair *p)
{
    if (p->block >= 0) {
        assert_true((size_t)p->block < doc->n_blocks);
        return doc->blocks[p->block].text;
    }
    if (p->block == -1) {
        for (size_t s = 0; s < doc->n_sections; s++)
            if (strstr(doc->sections[s].title, p->evidence))
                return doc->sections[s].title;
        fail_msg("evidence '%s' is in no section title", p->evidence);
    }
    size_t k = (size_t)(-2 - p->block);
    assert_true(k < doc->n_meta);
    return doc->meta[k].value;
}

/*
 * The checks every pair of every document must pass: all fields set,
 * evidence taken from the document (a substring of its source text, or
 * the cells of its table row), every non-template word of the answer in
 * the evidence, no question twice.
 */
static void check_grounded(const struct rp_doc *doc, const struct rp_extract_list *l, size_t from)
{
    for (size_t i = from; i < l->n; i++) {
        const struct rp_extract_pair *p = &l->items[i];
        assert_non_null(p->question);
        assert_non_null(p->answer);
        assert_non_null(p->evidence);
        assert_non_null(p->type);
        assert_non_null(p->rule);
        assert_true(strlen(p->question) > 0 && strlen(p->question) <= 512);
        assert_true(strlen(p->answer) > 0 && strlen(p->answer) <= 1024);
        assert_true(strlen(p->evidence) > 0 && strlen(p->evidence) <= 4096);
        assert_int_equal(p->question[strlen(p->question) - 1], '?');
        const char *src = source_text(doc, p);
        bool table_rule =
            strcmp(p->rule, "counter-table") == 0 || strncmp(p->rule, "parameter-", 10) == 0;
        if (table_rule) {
            assert_int_equal(doc->blocks[p->block].type, RP_BLOCK_TABLE);
            if (!row_evidence_ok(doc->blocks[p->block].table, p->row, p->evidence))
                fail_msg("evidence '%s' is not row %zu of block %d", p->evidence, p->row, p->block);
        } else if (!strstr(src, p->evidence)) {
            fail_msg("evidence '%s' is not in its source '%s'", p->evidence, src);
        }
        for (const char *w = p->answer; *w;) {
            size_t n = 0;
            while (w[n] &&
                   (isalnum((unsigned char)w[n]) || w[n] == '_' || (unsigned char)w[n] >= 0x80))
                n++;
            if (n && !template_word(w, n) && !contains_ci(p->evidence, w, n))
                fail_msg("answer word '%.*s' of '%s' is not in the evidence '%s'", (int)n, w,
                         p->answer, p->evidence);
            w += n ? n : 1;
        }
        for (size_t j = from; j < i; j++)
            if (same_ci(l->items[j].question, p->question))
                fail_msg("question '%s' made twice", p->question);
        if (i > from && l->items[i - 1].block >= 0 && p->block >= 0)
            assert_true(l->items[i - 1].block <= p->block); /* document order */
    }
}

static void extract(const struct rp_doc *doc, const struct rp_extract_params *par,
                    struct rp_extract_list *l)
{
    struct rp_error err;
    rp_extract_list_init(l);
    if (rp_extract_doc(doc, par, l, &err) != RP_OK)
        fail_msg("%s", err.msg);
    check_grounded(doc, l, 0);
}

static void dump(const char *path, const struct rp_extract_list *l)
{
    const char *d = getenv("RANPIPE_EXTRACT_DUMP");
    if (!d || !*d)
        return;
    for (size_t i = 0; i < l->n; i++) {
        const struct rp_extract_pair *p = &l->items[i];
        printf("# %s [%s/%s b%d r%zu]\n#   Q: %s\n#   A: %s\n#   E: ", path, p->type, p->rule,
               p->block, p->row, p->question, p->answer);
        for (const char *e = p->evidence; *e; e++)
            fputs(*e == '\n' ? "\\n" : (char[2]){*e, 0}, stdout);
        putchar('\n');
    }
}

/* Finds the pair whose question is q, or fails. */
static const struct rp_extract_pair *find_q(const struct rp_extract_list *l, const char *q)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].question, q) == 0)
            return &l->items[i];
    fail_msg("no question '%s' (%zu pairs)", q, l->n);
    return NULL;
}

static bool has_q(const struct rp_extract_list *l, const char *q)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].question, q) == 0)
            return true;
    return false;
}

static void assert_pair(const struct rp_extract_pair *p, const char *rule, const char *a,
                        const char *ev)
{
    assert_string_equal(p->rule, rule);
    assert_string_equal(p->answer, a);
    assert_string_equal(p->evidence, ev);
}

/* ---- parameter records ---- */

static void test_parameter_table(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md(
        "# Idle Mode\n\n"
        "| MO Class | Parameter | Type | Range | Default | Unit | Description |\n"
        "|---|---|---|---|---|---|---|\n"
        "| EUtranCellFDD | qRxLevMin | Int32 | -140..-44 | -140 | dBm | Minimum required RX "
        "level in the cell. |\n"
        "| EUtranCellFDD | qQualMin | Int32 | -34..-3 dB | -34 dB | dB | Minimum quality. |\n"
        "| NRCellCU | t310 | Enum | ms0, ms50, ms1000 | ms1000 | ms | Radio link failure "
        "timer. |\n");
    struct rp_extract_list l;
    struct rp_extract_params par = rp_extract_default_params();
    par.max_per_param = 6;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 18);
    const char *ev0 = "MO Class: EUtranCellFDD; Parameter: qRxLevMin; Type: Int32; Range: "
                      "-140..-44; Default: -140; Unit: dBm; Description: Minimum required RX "
                      "level in the cell.";
    static const char *const want[6][3] = {
        {"What is the default value of EUtranCellFDD.qRxLevMin?", "parameter-default",
         "The default value of EUtranCellFDD.qRxLevMin is -140 dBm."},
        {"What is the value range of EUtranCellFDD.qRxLevMin?", "parameter-range",
         "The value range of EUtranCellFDD.qRxLevMin is -140..-44 dBm."},
        {"What is the unit of EUtranCellFDD.qRxLevMin?", "parameter-unit",
         "The unit of EUtranCellFDD.qRxLevMin is dBm."},
        {"What is the data type of EUtranCellFDD.qRxLevMin?", "parameter-type",
         "The data type of EUtranCellFDD.qRxLevMin is Int32."},
        {"Which MO class does the parameter qRxLevMin belong to?", "parameter-mo-class",
         "The parameter qRxLevMin belongs to the MO class EUtranCellFDD."},
        {"What is the description of the parameter EUtranCellFDD.qRxLevMin?",
         "parameter-description",
         "The parameter EUtranCellFDD.qRxLevMin is described as: Minimum required RX level in "
         "the cell."},
    };
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(l.items[i].question, want[i][0]);
        assert_pair(&l.items[i], want[i][1], want[i][2], ev0);
        assert_string_equal(l.items[i].type, "parameter");
        assert_int_equal(l.items[i].block, 0);
        assert_int_equal(l.items[i].row, 0);
    }
    /* A value that carries its unit keeps it once; enumerated values get none. */
    assert_string_equal(find_q(&l, "What is the default value of EUtranCellFDD.qQualMin?")->answer,
                        "The default value of EUtranCellFDD.qQualMin is -34 dB.");
    assert_string_equal(find_q(&l, "What is the value range of EUtranCellFDD.qQualMin?")->answer,
                        "The value range of EUtranCellFDD.qQualMin is -34..-3 dB.");
    const struct rp_extract_pair *p = find_q(&l, "What is the default value of NRCellCU.t310?");
    assert_string_equal(p->answer, "The default value of NRCellCU.t310 is ms1000.");
    assert_int_equal(p->row, 2);
    assert_string_equal(find_q(&l, "What are the allowed values of NRCellCU.t310?")->answer,
                        "The allowed values of NRCellCU.t310 are ms0, ms50, ms1000.");
    rp_extract_list_release(&l);

    /* The default limit: four facts per record, in the stated order. */
    extract(doc, NULL, &l);
    assert_int_equal(l.n, 12);
    assert_string_equal(l.items[3].rule, "parameter-type");
    assert_string_equal(l.items[4].question,
                        "What is the default value of EUtranCellFDD.qQualMin?");
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

static void test_parameter_csv(void **state)
{
    (void)state;
    struct rp_doc *doc = parse("cells.csv", RP_FORMAT_CSV,
                               "Parameter,Default,Unit,Description\n"
                               "EUtranCellFDD.qRxLevMin,-140,dBm,\"Minimum RX level,\n"
                               "broadcast in SIB1.\"\n"
                               "NRCellDU.ssbPeriodicity,20,ms,Periodicity of the SSB burst.\n"
                               "bareName,5,,A parameter without an MO class.\n");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("cells.csv", &l);
    assert_int_equal(l.n, 10);
    assert_string_equal(l.items[0].question,
                        "What is the default value of EUtranCellFDD.qRxLevMin?");
    assert_pair(&l.items[0], "parameter-default",
                "The default value of EUtranCellFDD.qRxLevMin is -140 dBm.",
                "Parameter: EUtranCellFDD.qRxLevMin; Default: -140; Unit: dBm; Description: "
                "Minimum RX level,\nbroadcast in SIB1.");
    assert_string_equal(l.items[1].question, "What is the unit of EUtranCellFDD.qRxLevMin?");
    /* The MO class split off "Class.attribute" is asked about the bare name. */
    assert_string_equal(l.items[2].question,
                        "Which MO class does the parameter qRxLevMin belong to?");
    assert_string_equal(l.items[2].answer,
                        "The parameter qRxLevMin belongs to the MO class EUtranCellFDD.");
    assert_string_equal(l.items[3].question,
                        "What is the description of the parameter EUtranCellFDD.qRxLevMin?");
    assert_string_equal(l.items[3].answer, "The parameter EUtranCellFDD.qRxLevMin is described "
                                           "as: Minimum RX level, broadcast in SIB1.");
    assert_string_equal(l.items[4].question,
                        "What is the default value of NRCellDU.ssbPeriodicity?");
    assert_string_equal(l.items[4].answer,
                        "The default value of NRCellDU.ssbPeriodicity is 20 ms.");
    assert_int_equal(l.items[4].row, 1);
    assert_pair(&l.items[8], "parameter-default", "The default value of bareName is 5.",
                "Parameter: bareName; Default: 5; Description: A parameter without an MO class.");
    assert_string_equal(l.items[8].question, "What is the default value of bareName?");
    assert_int_equal(l.items[8].row, 2);
    assert_string_equal(l.items[9].rule, "parameter-description");
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

static void test_parameter_negatives(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md(
        /* Names and descriptions only: could be a list of features. */
        "| Name | Description |\n|---|---|\n"
        "| caMaxCells | Largest number of aggregated cells. |\n\n"
        /* Names that are no identifiers. */
        "| Parameter | Default |\n|---|---|\n| Carrier Aggregation | on |\n\n"
        /* Spanned cells repeat their text; resolutions are no units. */
        "| MO | Attribute | Range | Default | Unit |\n|---|---|---|---|---|\n"
        "| CellSleepFunction | sleepStartTime | 00:00..23:59, default 01:00 | 00:00..23:59, "
        "default 01:00 | - |\n"
        "| EUtranCellFDD | alpha | 0, 4..10 | 8 | 0.1 |\n"
        "| EUtranCellFDD | pmHoExeSucc | 0..100 | 0 | - |\n"
        "| EUtranCellTDD | alpha | 0, 4..10 | 8 | 0.1 |\n");
    struct rp_extract_list l;
    struct rp_extract_params par = rp_extract_default_params();
    par.max_per_param = 10;
    extract(doc, &par, &l);
    dump("negatives", &l);
    for (size_t i = 0; i < l.n; i++) {
        assert_null(strstr(l.items[i].question, "caMaxCells"));
        assert_null(strstr(l.items[i].question, "Carrier Aggregation"));
        assert_null(strstr(l.items[i].question, "value of CellSleepFunction.sleepStartTime"));
        assert_null(strstr(l.items[i].question, "range of CellSleepFunction.sleepStartTime"));
        assert_null(strstr(l.items[i].question, "pmHoExeSucc"));
        assert_null(strstr(l.items[i].question, "unit of"));
        /* alpha is in two classes: which one it belongs to has no answer. */
        assert_null(strstr(l.items[i].question, "parameter alpha belong"));
    }
    assert_int_equal(l.n, 5);
    assert_string_equal(l.items[0].question,
                        "Which MO class does the parameter sleepStartTime belong to?");
    assert_string_equal(l.items[1].question, "What is the default value of EUtranCellFDD.alpha?");
    assert_string_equal(l.items[2].question, "What is the value range of EUtranCellFDD.alpha?");
    assert_string_equal(l.items[2].answer, "The value range of EUtranCellFDD.alpha is 0, 4..10.");
    assert_string_equal(l.items[3].question, "What is the default value of EUtranCellTDD.alpha?");
    assert_int_equal(l.items[3].row, 3);
    rp_extract_list_release(&l);

    par.parameters = false;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 0);
    rp_extract_list_release(&l);
    par = rp_extract_default_params();
    par.max_per_param = 0;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 0);
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

/* ---- counters ---- */

static void test_counters(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md(
        "# Counters\n\n"
        "- `pmRrcConnEstabSucc`: successful RRC connection establishments in the cell.\n"
        "- pmRrcConnEstabAtt \xE2\x80\x93 Number of RRC connection establishment attempts.\n"
        "- pmHoPrepSucc - counts the successful handover preparations.\n"
        "- pmShort: Int32 only\n\n"
        "pmPagDiscarded: paging messages discarded by the node. The node steps it once per "
        "message.\n\n"
        "The conflict is counted in pmAnrPciConflict: it is reset daily by the node.\n\n"
        "| Counter | Type | Description |\n|---|---|---|\n"
        "| pmCellDowntimeAuto | Int32 | Time the cell was disabled automatically. |\n"
        "| pmRrcConnEstabSucc | Int32 | A second description of the same counter. |\n"
        "| - | - | - |\n\n"
        "| Name | Meaning |\n|---|---|\n"
        "| EUtranCellFDD.pmPdcpVolDlDrb | Total downlink PDCP data volume. |\n\n"
        "```\npmInCode: never read from code blocks at all.\n```\n");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("counters", &l);
    assert_int_equal(l.n, 6);
    assert_string_equal(l.items[0].question, "What does the counter pmRrcConnEstabSucc measure?");
    assert_pair(&l.items[0], "counter-list",
                "The counter pmRrcConnEstabSucc measures successful RRC connection "
                "establishments in the cell.",
                "pmRrcConnEstabSucc: successful RRC connection establishments in the cell.");
    assert_string_equal(l.items[0].type, "counter");
    assert_int_equal(l.items[0].block, 0);
    assert_string_equal(l.items[1].question, "What does the counter pmRrcConnEstabAtt measure?");
    assert_pair(&l.items[1], "counter-list",
                "The counter pmRrcConnEstabAtt measures the number of RRC connection "
                "establishment attempts.",
                "pmRrcConnEstabAtt \xE2\x80\x93 Number of RRC connection establishment attempts.");
    assert_pair(&l.items[2], "counter-list",
                "The counter pmHoPrepSucc counts the successful handover preparations.",
                "pmHoPrepSucc - counts the successful handover preparations.");
    /* In a paragraph the description ends with its sentence. */
    assert_string_equal(l.items[3].question, "What does the counter pmPagDiscarded measure?");
    assert_pair(&l.items[3], "counter-list",
                "The counter pmPagDiscarded measures paging messages discarded by the node.",
                "pmPagDiscarded: paging messages discarded by the node.");
    assert_int_equal(l.items[3].block, 1);
    /* Tables: the row's cells; the repeated counter is asked once. */
    assert_string_equal(l.items[4].question, "What does the counter pmCellDowntimeAuto measure?");
    assert_pair(&l.items[4], "counter-table",
                "The counter pmCellDowntimeAuto measures the time the cell was disabled "
                "automatically.",
                "Counter: pmCellDowntimeAuto; Type: Int32; Description: Time the cell was "
                "disabled automatically.");
    assert_int_equal(l.items[4].row, 0);
    assert_string_equal(l.items[5].question,
                        "What does the counter EUtranCellFDD.pmPdcpVolDlDrb measure?");
    assert_pair(&l.items[5], "counter-table",
                "The counter EUtranCellFDD.pmPdcpVolDlDrb measures the total downlink PDCP data "
                "volume.",
                "Name: EUtranCellFDD.pmPdcpVolDlDrb; Meaning: Total downlink PDCP data volume.");
    assert_false(has_q(&l, "What does the counter pmShort measure?"));
    assert_false(has_q(&l, "What does the counter pmAnrPciConflict measure?"));
    assert_false(has_q(&l, "What does the counter pmInCode measure?"));
    rp_extract_list_release(&l);

    struct rp_extract_params par = rp_extract_default_params();
    par.counters = false;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 0);
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

/* ---- acronyms ---- */

static void test_acronyms(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md(
        "---\ntitle: Automatic Neighbour Relations\n---\n\n"
        "# Automatic Neighbour Relations\n\n"
        "Automatic Neighbour Relations (ANR) builds the neighbour relation table from UE "
        "measurements. The UE reports cells to the eNB.\n\n"
        "## Conflicts\n\n"
        "Each cell has a PCI (Physical Cell Identity) between 0 and 503. Two neighbours with "
        "one PCI are a conflict that ANR resolves.\n\n"
        "- Up to four secondary cells (SCells) add bandwidth.\n"
        "- Mobility Robustness Optimisation (MRO) is not covered here.\n\n"
        "Automatic Neighbour Relations (ANR) again: the second definition is not asked.\n");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("acronyms", &l);
    assert_int_equal(l.n, 4);
    /* The title holds the expansion, so the question names no context. */
    assert_string_equal(l.items[0].question, "What does ANR stand for?");
    assert_pair(&l.items[0], "acronym", "ANR stands for Automatic Neighbour Relations.",
                "Automatic Neighbour Relations (ANR) builds the neighbour relation table from UE "
                "measurements.");
    assert_string_equal(l.items[0].type, "definition");
    assert_int_equal(l.items[0].block, 0);
    assert_string_equal(l.items[1].question,
                        "What does PCI stand for in Automatic Neighbour Relations?");
    assert_pair(&l.items[1], "acronym", "PCI stands for Physical Cell Identity.",
                "Each cell has a PCI (Physical Cell Identity) between 0 and 503.");
    assert_int_equal(l.items[1].block, 1);
    assert_string_equal(l.items[2].question,
                        "What does SCell stand for in Automatic Neighbour Relations?");
    assert_pair(&l.items[2], "acronym", "SCell stands for secondary cell.",
                "Up to four secondary cells (SCells) add bandwidth.");
    assert_string_equal(l.items[3].question,
                        "What does MRO stand for in Automatic Neighbour Relations?");
    assert_string_equal(l.items[3].evidence,
                        "Mobility Robustness Optimisation (MRO) is not covered here.");
    /* UE and eNB have glossary expansions only. */
    assert_false(has_q(&l, "What does UE stand for in Automatic Neighbour Relations?"));
    assert_false(has_q(&l, "What does eNB stand for in Automatic Neighbour Relations?"));
    rp_extract_list_release(&l);
    rp_doc_free(doc);

    /* Glossary-only acronyms, and brackets that hold something else. */
    doc = parse_md("# RAN Basics\n\nThe UE (User Equipment) attaches to the gNB. ANR, PCI and "
                   "SON are used by the RAN (see TS 32.511). The PUSCH (uplink) carries data.\n");
    extract(doc, NULL, &l);
    dump("glossary-only", &l);
    /* "UE (User Equipment)" is a definition written in the document. */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].question, "What does UE stand for in RAN Basics?");
    assert_string_equal(l.items[0].evidence, "The UE (User Equipment) attaches to the gNB.");
    rp_extract_list_release(&l);
    rp_doc_free(doc);

    /* Defined only in a title: the pair points at the section title. */
    doc = parse_md("# Overview\n\nIntro text.\n\n## Carrier Aggregation (CA)\n\nCA combines "
                   "carriers.\n");
    extract(doc, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].question, "What does CA stand for?");
    assert_int_equal(l.items[0].block, -1);
    assert_string_equal(l.items[0].evidence, "Carrier Aggregation (CA)");
    rp_extract_list_release(&l);
    struct rp_extract_params par = rp_extract_default_params();
    par.acronyms = false;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 0);
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

/* ---- definitions ---- */

static void test_definition_sentences(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_md("# Energy Saving\n\n"
                 "Cell Sleep Mode is a feature that switches capacity cells off at low traffic. It "
                 "wakes them up when the load rises.\n\n"
                 "It is a feature that saves energy in quiet hours of the day.\n\n"
                 "This is the most important setting of the whole feature set.\n\n"
                 "The feature is a licensed option of the baseband software.\n\n"
                 "Locking is a procedure that takes the cell out of service.\n\n"
                 "sleepThresholdLow is the load below which a capacity cell may go to sleep.\n\n"
                 "Energy Saving Mode is a mode.\n\n"
                 "Waking Up takes less than two seconds in all configurations.\n\n"
                 "Cell Sleep Mode is the feature described in this document.\n\n"
                 "In most networks, the coverage cell is a low-band cell that is always on.\n");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("sentences", &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].question, "What is Cell Sleep Mode?");
    assert_pair(&l.items[0], "definition-sentence",
                "Cell Sleep Mode is a feature that switches capacity cells off at low traffic.",
                "Cell Sleep Mode is a feature that switches capacity cells off at low traffic.");
    assert_int_equal(l.items[0].block, 0);
    assert_string_equal(l.items[1].question, "What is sleepThresholdLow?");
    assert_pair(&l.items[1], "definition-sentence",
                "sleepThresholdLow is the load below which a capacity cell may go to sleep.",
                "sleepThresholdLow is the load below which a capacity cell may go to sleep.");
    assert_int_equal(l.items[1].block, 5);
    rp_extract_list_release(&l);

    struct rp_extract_params par = rp_extract_default_params();
    par.definitions = false;
    extract(doc, &par, &l);
    assert_int_equal(l.n, 0);
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

static void test_definition_terms(void **state)
{
    (void)state;
    /* HTML definition list, in a "Terms" section. */
    struct rp_doc *doc =
        parse("t.html", RP_FORMAT_HTML,
              "<html><head><title>Load Balancing</title></head><body><h1>Load Balancing</h1>"
              "<p>Load balancing moves UEs between carriers.</p>"
              "<h2>Terms</h2><dl>"
              "<dt>Subscription ratio</dt><dd>Subscribed quanta of the UEs in a cell divided by "
              "its subscription capacity.</dd>"
              "<dt>Quanta</dt><dd>A unit of load that a UE bearer subscribes.</dd>"
              "<dt>administrativeState</dt><dd>LOCKED, UNLOCKED or SHUTTING_DOWN.</dd>"
              "</dl></body></html>");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("dl", &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].question, "What is Subscription ratio?");
    assert_pair(&l.items[0], "definition-term",
                "Subscription ratio: Subscribed quanta of the UEs in a cell divided by its "
                "subscription capacity.",
                "Subscription ratio: Subscribed quanta of the UEs in a cell divided by its "
                "subscription capacity.");
    assert_string_equal(l.items[1].question, "What is Quanta?");
    assert_pair(&l.items[1], "definition-term",
                "Quanta is a unit of load that a UE bearer subscribes.",
                "Quanta: A unit of load that a UE bearer subscribes.");
    rp_extract_list_release(&l);
    rp_doc_free(doc);

    doc = parse_md("# NR Basics\n\n"
                   "## 3.1 Definitions\n\n"
                   "numerology: corresponds to one subcarrier spacing in the frequency domain.\n\n"
                   "- cell group: a group of serving cells associated with one MAC entity.\n\n"
                   "## Features\n\n"
                   "- Carrier Aggregation: lets one UE receive data on several carriers.\n"
                   "- Dual Connectivity: lets one UE connect to two nodes at the same time.\n\n"
                   "## Procedure\n\n"
                   "1. Check the current state: run the command below on the node.\n"
                   "2. Lock the cell: set the administrative state to LOCKED.\n\n"
                   "- Note: the cell must be unlocked again after the maintenance window.\n"
                   "- Carrier Aggregation Extra: this list mixes shapes and gives nothing.\n"
                   "- Something without a colon at all in this item.\n\n"
                   "Note: a paragraph note is not a definition of anything at all.\n\n"
                   "Term One : The definition of term one from a Pandoc list.\n");
    extract(doc, NULL, &l);
    dump("terms", &l);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.items[0].question, "What is numerology?");
    assert_pair(&l.items[0], "definition-term",
                "numerology: corresponds to one subcarrier spacing in the frequency domain.",
                "numerology: corresponds to one subcarrier spacing in the frequency domain.");
    assert_string_equal(l.items[1].question, "What is cell group?");
    assert_string_equal(l.items[1].answer,
                        "cell group is a group of serving cells associated with one MAC entity.");
    assert_string_equal(l.items[2].question, "What is Carrier Aggregation?");
    assert_pair(&l.items[2], "definition-term",
                "Carrier Aggregation: lets one UE receive data on several carriers.",
                "Carrier Aggregation: lets one UE receive data on several carriers.");
    assert_string_equal(l.items[3].question, "What is Dual Connectivity?");
    assert_string_equal(l.items[4].question, "What is Term One?");
    assert_string_equal(l.items[4].answer,
                        "Term One is the definition of term one from a Pandoc list.");
    rp_extract_list_release(&l);
    rp_doc_free(doc);
}

/* ---- order, duplicates, appending ---- */

static void test_order_and_duplicates(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_md("# Feature\n\n"
                 "- pmFooBar: number of foo events in the cell.\n\n"
                 "Radio Link Failure (RLF) is detected by the UE.\n\n"
                 "| MO Class | Attribute | Default | Unit |\n|---|---|---|---|\n"
                 "| NRCellCU | t310 | 1000 | ms |\n| NRCellCU | t310 | 2000 | ms |\n\n"
                 "- pmFooBar: number of foo events in the cell, said again.\n");
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.items[0].rule, "counter-list");
    assert_string_equal(l.items[1].rule, "acronym");
    assert_string_equal(l.items[2].rule, "parameter-default");
    assert_string_equal(l.items[2].answer, "The default value of NRCellCU.t310 is 1000 ms.");
    assert_string_equal(l.items[3].rule, "parameter-unit");
    assert_string_equal(l.items[4].rule, "parameter-mo-class");
    /* A second document appends; its questions may repeat the first's. */
    size_t before = l.n;
    struct rp_error err;
    assert_int_equal(rp_extract_doc(doc, NULL, &l, &err), RP_OK);
    assert_int_equal(l.n, 2 * before);
    assert_string_equal(l.items[before].question, l.items[0].question);
    check_grounded(doc, &l, before);
    rp_extract_list_release(&l);
    assert_int_equal(rp_extract_doc(NULL, NULL, &l, &err), RP_ERR_INVAL);
    assert_int_equal(rp_extract_doc(doc, NULL, NULL, &err), RP_ERR_INVAL);
    rp_extract_list_release(NULL);
    rp_doc_free(doc);
}

/* ---- hostile shapes ---- */

static void add_row(struct rp_table_builder *tb, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rp_table_builder_cell(tb, cells[i], strlen(cells[i])), RP_OK);
    assert_int_equal(rp_table_builder_end_row(tb), RP_OK);
}

static void test_robustness(void **state)
{
    (void)state;
    struct rp_doc *doc = rp_doc_new("hand.md", RP_FORMAT_MARKDOWN);
    assert_non_null(doc);
    size_t big = 100000;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    for (size_t i = 0; i < big; i++)
        huge[i] = (i % 7 == 6) ? ' ' : 'x';
    huge[big] = '\0';

    /* A ragged table with a huge description and a huge default. */
    struct rp_table_builder tb;
    rp_table_builder_init(&tb);
    static const char *const head[] = {"MO Class", "Parameter", "Default", "Unit", "Description"};
    add_row(&tb, head, 5);
    const char *r1[] = {"NRCellDU", "hugeDesc", "1", "dB", huge};
    add_row(&tb, r1, 5);
    const char *r2[] = {"NRCellDU", "ragged"};
    add_row(&tb, r2, 2);
    const char *r3[] = {"NRCellDU", "hugeDefault", huge, "dB", "Short one."};
    add_row(&tb, r3, 5);
    tb.n_header = 1;
    struct rp_block *blk = rp_doc_add_table(doc, &tb, 1);
    assert_non_null(blk);
    rp_table_builder_release(&tb);
    const struct rp_table *t = doc->blocks[0].table;
    struct rp_param p = {.mo_class = t->cells[5],
                         .name = t->cells[6],
                         .default_value = t->cells[7],
                         .unit = t->cells[8],
                         .description = t->cells[9],
                         .block = 0,
                         .row = 0};
    assert_int_equal(rp_doc_add_param(doc, &p), RP_OK);
    struct rp_param p2 = {.mo_class = t->cells[10], .name = t->cells[11], .block = 0, .row = 1};
    assert_int_equal(rp_doc_add_param(doc, &p2), RP_OK);
    struct rp_param p3 = {.mo_class = t->cells[15],
                          .name = t->cells[16],
                          .default_value = t->cells[17],
                          .unit = t->cells[18],
                          .description = t->cells[19],
                          .block = 0,
                          .row = 2};
    assert_int_equal(rp_doc_add_param(doc, &p3), RP_OK);
    /* Records that point nowhere, or at the wrong row. */
    struct rp_param bad[] = {
        {.name = "ghost", .default_value = "1", .block = 7, .row = 0},
        {.name = "ghost2", .default_value = "1", .block = -3, .row = 0},
        {.name = t->cells[6], .default_value = "static", .block = 0, .row = 99},
        {.name = "notInRow", .default_value = t->cells[7], .block = 0, .row = 0},
        {.name = NULL, .default_value = "1", .block = 0, .row = 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rp_doc_add_param(doc, &bad[i]), RP_OK);

    /* Empty-ish blocks, a huge paragraph and list, a huge counter line. */
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_PARAGRAPH, "", 0, 2));
    static const char odd[] = "-\n- \n1.\n:\n: x";
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_LIST, odd, sizeof(odd) - 1, 3));
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_PARAGRAPH, huge, big, 4));
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_LIST, huge, big, 5));
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&b, "- pmHuge: "), RP_OK);
    assert_int_equal(rp_buf_adds(&b, huge), RP_OK);
    assert_int_equal(rp_buf_adds(&b, "\n- Big Term: "), RP_OK);
    assert_int_equal(rp_buf_adds(&b, huge), RP_OK);
    assert_int_equal(rp_buf_adds(&b, "\nCell Sleep Mode is a "), RP_OK);
    assert_int_equal(rp_buf_adds(&b, huge), RP_OK);
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_LIST, b.data, b.len, 6));
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_PARAGRAPH, b.data + 2, b.len - 2, 7));
    /* A long paragraph around an acronym definition; invalid UTF-8 elsewhere. */
    rp_buf_reset(&b);
    assert_int_equal(rp_buf_adds(&b, huge), RP_OK);
    assert_int_equal(rp_buf_adds(&b, " Automatic Neighbour Relations (ANR) "), RP_OK);
    assert_int_equal(rp_buf_adds(&b, huge), RP_OK);
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_PARAGRAPH, b.data, b.len, 8));
    static const char bad_utf8[] = "Bad \xC3 Byte (BB) and \xFF\xFE Bad Bytes (BB2).";
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_PARAGRAPH, bad_utf8, sizeof(bad_utf8) - 1, 9));
    /* A table block without a table, and an empty one. */
    assert_non_null(rp_doc_add_block(doc, RP_BLOCK_TABLE, "x | y", 5, 10));
    struct rp_block *empty = rp_doc_add_block(doc, RP_BLOCK_TABLE, "", 0, 11);
    assert_non_null(empty);
    static struct rp_table empty_table = {0, 0, 0, NULL};
    empty->table = &empty_table;
    struct rp_error err;
    assert_int_equal(rp_entities_scan(doc, &err), RP_OK);
    /* An entity whose position lies outside its text. */
    struct rp_entity e = {.text = "ANR",
                          .norm = "ANR",
                          .expansion = "Automatic Neighbour "
                                       "Relations",
                          .type = RP_ENTITY_ACRONYM,
                          .block = 1,
                          .section = 0,
                          .offset = 1000000,
                          .len = 3};
    assert_int_equal(rp_doc_add_entity(doc, &e), RP_OK);
    e.block = -1;
    e.section = 99;
    assert_int_equal(rp_doc_add_entity(doc, &e), RP_OK);
    e.block = -40;
    assert_int_equal(rp_doc_add_entity(doc, &e), RP_OK);

    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump("robustness", &l);
    for (size_t i = 0; i < l.n; i++) {
        assert_true(rp_utf8_valid(l.items[i].question, strlen(l.items[i].question), NULL));
        assert_true(rp_utf8_valid(l.items[i].answer, strlen(l.items[i].answer), NULL));
        assert_true(rp_utf8_valid(l.items[i].evidence, strlen(l.items[i].evidence), NULL));
        assert_null(strstr(l.items[i].question, "ghost"));
        assert_null(strstr(l.items[i].question, "notInRow"));
        assert_null(strstr(l.items[i].question, "pmHuge"));
        assert_null(strstr(l.items[i].question, "Big Term"));
    }
    const struct rp_extract_pair *d = find_q(&l, "What is the default value of NRCellDU.hugeDesc?");
    /* The row is too long for the evidence: only the cells the fact needs. */
    assert_string_equal(d->answer, "The default value of NRCellDU.hugeDesc is 1 dB.");
    assert_string_equal(d->evidence,
                        "MO Class: NRCellDU; Parameter: hugeDesc; Default: 1; Unit: dB");
    assert_false(has_q(&l, "What is the description of the parameter NRCellDU.hugeDesc?"));
    assert_false(has_q(&l, "What is the default value of NRCellDU.hugeDefault?"));
    d = find_q(&l, "What is the description of the parameter NRCellDU.hugeDefault?");
    assert_string_equal(d->evidence,
                        "MO Class: NRCellDU; Parameter: hugeDefault; Description: Short one.");
    const struct rp_extract_pair *a = find_q(&l, "What does ANR stand for?");
    assert_true(strlen(a->evidence) <= 600);
    assert_non_null(strstr(a->evidence, "Automatic Neighbour Relations (ANR)"));
    rp_extract_list_release(&l);
    rp_buf_release(&b);
    free(huge);
    rp_doc_free(doc);
}

/* ---- random documents ---- */

/* Documents stitched from the shapes the rules look for, in random order
 * (fixed seed): nothing may crash, leak or break the grounding checks. */
static void test_random_documents(void **state)
{
    (void)state;
    static const char *const tokens[] = {"pmFooBar",
                                         "pmX",
                                         "EUtranCellFDD.pmBaz",
                                         "`pmQuoted`",
                                         ": ",
                                         " - ",
                                         " \xE2\x80\x93 ",
                                         "(",
                                         ")",
                                         "ANR",
                                         "Automatic Neighbour Relations",
                                         "(ANR)",
                                         "PCI (Physical Cell Identity)",
                                         " is a ",
                                         " is the ",
                                         "It",
                                         "Cell Sleep Mode",
                                         "qRxLevMin",
                                         "numerology",
                                         ". ",
                                         ".",
                                         "\n",
                                         "\n\n",
                                         "- ",
                                         "1. ",
                                         "* ",
                                         "# Definitions\n",
                                         "## Terms\n",
                                         "# Title\n",
                                         "| ",
                                         " | ",
                                         "|---|---|\n",
                                         "| MO Class | Parameter | Default | Unit |\n",
                                         "| Counter | Description |\n",
                                         "NRCellDU",
                                         "-140",
                                         "dBm",
                                         "ms1000",
                                         "0..100",
                                         "a, b",
                                         "number of",
                                         "counts the",
                                         "events in the cell",
                                         "x",
                                         "  ",
                                         "e.g. ",
                                         "3A. ",
                                         "\xC3\xA9t\xC3\xA9",
                                         "```\n",
                                         "Term : ",
                                         "secondary cells (SCells)",
                                         "UE",
                                         "\t",
                                         "s",
                                         "-",
                                         "::",
                                         "(("};
    size_t nt = sizeof(tokens) / sizeof(tokens[0]);
    uint64_t seed = 0x9E3779B97F4A7C15u;
    size_t total = 0;
    for (int round = 0; round < 400; round++) {
        char text[4096];
        size_t len = 0;
        int n = 5 + (int)(seed % 120);
        for (int k = 0; k < n; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            const char *t = tokens[seed % nt];
            size_t tl = strlen(t);
            if (len + tl + 1 >= sizeof(text))
                break;
            memcpy(text + len, t, tl);
            len += tl;
        }
        text[len] = '\0';
        struct rp_doc *doc = NULL;
        struct rp_error err;
        enum rp_doc_format f = round % 4 == 3 ? RP_FORMAT_HTML : RP_FORMAT_MARKDOWN;
        if (rp_ingest_buffer(f == RP_FORMAT_HTML ? "r.html" : "r.md", f, text, len, NULL, &doc,
                             &err) != RP_OK)
            continue;
        struct rp_extract_list l;
        extract(doc, NULL, &l);
        total += l.n;
        dump("random", &l);
        rp_extract_list_release(&l);
        rp_doc_free(doc);
    }
    assert_true(total > 0);
}

/* ---- the corpus ---- */

struct sweep {
    size_t docs, pairs;
};

static enum rp_err sweep_sink(struct rp_doc *doc, const struct rp_error *err, const char *path,
                              void *ud)
{
    struct sweep *s = ud;
    if (!doc) {
        /* Formats this build cannot read are not this module's concern. */
        (void)err;
        return RP_OK;
    }
    struct rp_extract_list l;
    extract(doc, NULL, &l);
    dump(path, &l);
    s->docs++;
    s->pairs += l.n;
    rp_extract_list_release(&l);
    rp_doc_free(doc);
    return RP_OK;
}

static void sweep_dir(const char *dir, struct sweep *s)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0))
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (rp_ingest_path(path, NULL, sweep_sink, s) != RP_OK)
            fail_msg("cannot walk '%s'", path);
    }
    closedir(d);
}

static void test_corpus(void **state)
{
    (void)state;
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    char dir[1024];
    struct sweep ex = {0, 0}, gold = {0, 0};
    static const char *const sub[] = {"features", "parameters", "procedures"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(dir, sizeof(dir), "%s/examples/docs/%s", src && *src ? src : ".", sub[i]);
        sweep_dir(dir, &ex);
    }
    snprintf(dir, sizeof(dir), "%s/tests/golden", src && *src ? src : ".");
    sweep_dir(dir, &gold);
    if (getenv("RANPIPE_EXTRACT_DUMP"))
        printf("# examples: %zu docs, %zu pairs; golden: %zu docs, %zu pairs\n", ex.docs, ex.pairs,
               gold.docs, gold.pairs);
    assert_true(ex.docs >= 5);
    assert_true(ex.pairs >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_table),
        cmocka_unit_test(test_parameter_csv),
        cmocka_unit_test(test_parameter_negatives),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_acronyms),
        cmocka_unit_test(test_definition_sentences),
        cmocka_unit_test(test_definition_terms),
        cmocka_unit_test(test_order_and_duplicates),
        cmocka_unit_test(test_robustness),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
