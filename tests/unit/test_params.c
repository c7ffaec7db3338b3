/*
 * test_params.c - parameter records from tables (src/ingest/params.c).
 *
 * The examples under examples/ (read from $RANPIPE_SOURCE_DIR) must give
 * their parameter tables as records; Markdown tables written here cover
 * the loose header matching, "MO.attribute" names, missing values and
 * tables that are not parameter tables. rp__params_from_tables() is also
 * called directly on a hand-built document with two header rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

/* ---- helpers ---- */

static struct rp_doc *example(const char *rel)
{
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/examples/docs/%s", src && *src ? src : ".", rel);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_file(path, NULL, &doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    return doc;
}

static struct rp_doc *parse_md(const char *text)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_buffer("t.md", RP_FORMAT_MARKDOWN, text, strlen(text), NULL, &doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    return doc;
}

/* Compares a possibly missing field. */
static void assert_field(const char *got, const char *want)
{
    if (!want) {
        if (got)
            fail_msg("want NULL, got '%s'", got);
        return;
    }
    if (!got)
        fail_msg("want '%s', got NULL", want);
    assert_string_equal(got, want);
}

static void assert_param(const struct rp_param *p, const char *mo, const char *name,
                         const char *type, const char *range, const char *dflt, const char *unit)
{
    assert_field(p->mo_class, mo);
    assert_field(p->name, name);
    assert_field(p->type, type);
    assert_field(p->range, range);
    assert_field(p->default_value, dflt);
    assert_field(p->unit, unit);
}

static int free_doc_state(void **state)
{
    rp_doc_free(*state);
    *state = NULL;
    return 0;
}

/* ---- examples ---- */

static void markdown_example(void **state)
{
    struct rp_doc *doc = *state = example("features/uplink-power-control.md");
    assert_int_equal(doc->n_params, 5);
    const struct rp_param *p = doc->params;
    assert_param(&p[0], "EUtranCellFDD", "pZeroNominalPusch", "Int32", "-126..24", "-103", "dBm");
    assert_string_equal(p[0].description, "Nominal PUSCH power P0 per PRB broadcast in SIB2.");
    assert_param(&p[1], "EUtranCellFDD", "pZeroNominalPucch", "Int32", "-127..-96", "-117", "dBm");
    assert_param(&p[2], "EUtranCellFDD", "alpha", "Enum", "0, 4..10", "8", "0.1");
    assert_param(&p[3], "EUtranCellFDD", "sinrTargetPusch", "Int32", "-10..30", "10", "dB");
    assert_param(&p[4], "EUtranCellFDD", "tpcMaxStep", "Int32", "1..3", "3", "dB");
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(p[i].row, i);
        assert_int_equal(p[i].block, p[0].block);
    }
    assert_int_equal(doc->blocks[p[0].block].type, RP_BLOCK_TABLE);
}

static void csv_example(void **state)
{
    struct rp_doc *doc = *state = example("parameters/nr-cell-parameters.csv");
    assert_int_equal(doc->n_params, 7);
    const struct rp_param *p = doc->params;
    assert_param(&p[0], "NRCellDU", "ssbPeriodicity", "Enum", "5, 10, 20, 40, 80, 160", "20", "ms");
    assert_param(&p[3], "NRCellDU", "qRxLevMin", "Int32", "-140..-44", "-140", "dBm");
    assert_string_equal(p[3].description,
                        "Minimum required RX level in the cell, broadcast in SIB1.");
    assert_param(&p[4], "NRCellCU", "transmitSib2", "Boolean", "true, false", "true", NULL);
    assert_param(&p[6], "NRCellDU", "bandListManual", "Int32[]", "1..1024", NULL, NULL);
    assert_int_equal(p[6].block, 0);
    assert_int_equal(p[6].row, 6);
}

static void anr_example(void **state)
{
    struct rp_doc *doc = *state = example("features/automatic-neighbour-relations.md");
    assert_int_equal(doc->n_params, 4);
    const struct rp_param *p = doc->params;
    assert_param(&p[0], "AnrFunction", "removeNrelTime", "Int32", "1..10000", "168", "h");
    assert_param(&p[1], "AnrFunction", "maxNoPciReportsEvent", "Int32", "1..100", "30", NULL);
    assert_param(&p[3], "EUtranCellRelation", "isRemoveAllowed", "Boolean", "true, false", "true",
                 NULL);
    assert_null(p[0].description); /* no description column */
}

/* ---- header matching ---- */

static void loose_headers(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_md("| Managed Object | Attribute Name | Data Type | Value Range (dBm) | Default "
                 "Value | Units | Comment |\n"
                 "|---|---|---|---|---|---|---|\n"
                 "| NRCellDU | qRxLevMin | Int32 | -140..-44 | -140 | dBm | Minimum level. |\n");
    assert_int_equal(doc->n_params, 1);
    assert_param(&doc->params[0], "NRCellDU", "qRxLevMin", "Int32", "-140..-44", "-140", "dBm");
    assert_string_equal(doc->params[0].description, "Minimum level.");
    rp_doc_free(doc);

    doc = parse_md("| mo-type | PARAMETER_NAME | allowed values | default | desc |\n"
                   "|---|---|---|---|---|\n"
                   "| EUtranCellTDD | tddMode | TDD_1, TDD_2 | — | Frame structure. |\n");
    assert_int_equal(doc->n_params, 1);
    assert_param(&doc->params[0], "EUtranCellTDD", "tddMode", NULL, "TDD_1, TDD_2", NULL, NULL);
    assert_string_equal(doc->params[0].description, "Frame structure.");
    rp_doc_free(doc);

    /* "Class" and "Parameter", "Values", "Description" (first column of a role wins). */
    doc = parse_md("| Class | Parameter | Values | Description | Name |\n"
                   "|---|---|---|---|---|\n"
                   "| GNBDUFunction | gNBId | 0..4294967295 | The gNB identity. | other |\n");
    assert_int_equal(doc->n_params, 1);
    assert_param(&doc->params[0], "GNBDUFunction", "gNBId", NULL, "0..4294967295", NULL, NULL);
    rp_doc_free(doc);
}

static void qualified_names(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md("| Parameter | Default | Unit |\n"
                                  "|---|---|---|\n"
                                  "| EUtranCellFDD.qRxLevMin | -140 | dBm |\n"
                                  "| plainName | 1 | - |\n"
                                  "| lower.case | 2 | |\n"
                                  "| - | 3 | s |\n"
                                  "| | 4 | s |\n"
                                  "| A.b.c | 5 | |\n"
                                  "| NRCellDU.ssbPeriodicity | 20 | ms |\n");
    assert_int_equal(doc->n_params, 5);
    assert_param(&doc->params[0], "EUtranCellFDD", "qRxLevMin", NULL, NULL, "-140", "dBm");
    assert_param(&doc->params[1], NULL, "plainName", NULL, NULL, "1", NULL);
    assert_param(&doc->params[2], NULL, "lower.case", NULL, NULL, "2", NULL);
    assert_param(&doc->params[3], NULL, "A.b.c", NULL, NULL, "5", NULL);
    assert_param(&doc->params[4], "NRCellDU", "ssbPeriodicity", NULL, NULL, "20", "ms");
    /* Rows count body rows, skipped ones included. */
    assert_int_equal(doc->params[3].row, 5);
    assert_int_equal(doc->params[4].row, 6);
    rp_doc_free(doc);

    /* With an MO column the name stays as written. */
    doc = parse_md("| MO | Parameter |\n|---|---|\n| NRCellDU | NRCellDU.qRxLevMin |\n");
    assert_int_equal(doc->n_params, 1);
    assert_param(&doc->params[0], "NRCellDU", "NRCellDU.qRxLevMin", NULL, NULL, NULL, NULL);
    rp_doc_free(doc);
}

static void not_parameter_tables(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md("| Feature | Release | Status |\n|---|---|---|\n"
                                  "| ANR | 24.Q2 | GA |\n\n"
                                  "| Name | Value |\n|---|---|\n| alpha | 8 |\n\n"
                                  "| Parameter |\n|---|\n| alpha |\n\n"
                                  "| Type | Unit |\n|---|---|\n| Int32 | dB |\n");
    assert_int_equal(doc->n_blocks, 4);
    assert_int_equal(doc->n_params, 0);
    rp_doc_free(doc);
    /* A parameter table next to others: only its rows, with its block index. */
    doc = parse_md("Intro.\n\n| Feature | Release |\n|---|---|\n| ANR | 24.Q2 |\n\n"
                   "| Name | Description |\n|---|---|\n| pmAnrPciConflict | PCI conflicts. |\n");
    assert_int_equal(doc->n_params, 1);
    assert_int_equal(doc->params[0].block, 2);
    assert_int_equal(doc->params[0].row, 0);
    assert_string_equal(doc->params[0].description, "PCI conflicts.");
    rp_doc_free(doc);
}

/* ---- direct call ---- */

static void add_row(struct rp_table_builder *tb, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rp_table_builder_cell(tb, cells[i], strlen(cells[i])), RP_OK);
    assert_int_equal(rp_table_builder_end_row(tb), RP_OK);
}

static void two_header_rows(void **state)
{
    struct rp_doc *doc = *state = rp_doc_new("x.docx", RP_FORMAT_DOCX);
    assert_non_null(doc);
    struct rp_table_builder tb;
    rp_table_builder_init(&tb);
    add_row(&tb, (const char *[]){"Identity", "Identity", "Value (see note)"}, 3);
    add_row(&tb, (const char *[]){"MO Class", "Attribute", "Default"}, 3);
    add_row(&tb, (const char *[]){"NRCellDU", "ssbPeriodicity", "20"}, 3);
    add_row(&tb, (const char *[]){"NRCellDU", "ssbOffset"}, 2);
    tb.n_header = 2;
    assert_non_null(rp_doc_add_table(doc, &tb, 0));
    /* A table without a header row: its first row is read as one. */
    rp_table_builder_init(&tb);
    add_row(&tb, (const char *[]){"Parameter", "Unit"}, 2);
    add_row(&tb, (const char *[]){"tpcMaxStep", "dB"}, 2);
    tb.n_header = 0;
    assert_non_null(rp_doc_add_table(doc, &tb, 0));
    struct rp_error err;
    assert_int_equal(rp__params_from_tables(doc, &err), RP_OK);
    assert_int_equal(doc->n_params, 3);
    assert_param(&doc->params[0], "NRCellDU", "ssbPeriodicity", NULL, NULL, "20", NULL);
    assert_param(&doc->params[1], "NRCellDU", "ssbOffset", NULL, NULL, NULL, NULL);
    assert_int_equal(doc->params[1].row, 1);
    assert_param(&doc->params[2], NULL, "tpcMaxStep", NULL, NULL, NULL, "dB");
    assert_int_equal(doc->params[2].block, 1);
    assert_int_equal(doc->params[2].row, 0);
}

/* ---- records share the table's strings ---- */

/* The cell of table block b in body row r under the header named col. */
static const char *body_cell(const struct rp_doc *doc, int b, size_t r, const char *col)
{
    const struct rp_table *t = doc->blocks[b].table;
    assert_non_null(t);
    for (size_t c = 0; c < t->n_cols; c++)
        if (strcmp(t->cells[c], col) == 0)
            return t->cells[(t->n_header + r) * t->n_cols + c];
    fail_msg("no column '%s'", col);
    return NULL;
}

static void fields_are_cells(void **state)
{
    struct rp_doc *doc = *state = example("parameters/nr-cell-parameters.csv");
    assert_int_equal(doc->n_params, 7);
    for (size_t i = 0; i < doc->n_params; i++) {
        const struct rp_param *p = &doc->params[i];
        /* The very pointers, not copies. */
        assert_ptr_equal(p->mo_class, body_cell(doc, p->block, p->row, "MO Class"));
        assert_ptr_equal(p->name, body_cell(doc, p->block, p->row, "Parameter"));
        assert_ptr_equal(p->type, body_cell(doc, p->block, p->row, "Type"));
        assert_ptr_equal(p->description, body_cell(doc, p->block, p->row, "Description"));
    }
    assert_null(doc->params[6].default_value); /* a "-" cell is no value */
}

static void qualified_names_share_cells(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_md("| Parameter | Unit |\n|---|---|\n"
                                  "| EUtranCellFDD.qRxLevMin | dBm |\n"
                                  "| EUtranCellFDD.qQualMin | dB |\n"
                                  "| NRCellDU.ssbPeriodicity | ms |\n");
    assert_int_equal(doc->n_params, 3);
    const struct rp_param *p = doc->params;
    /* The attribute is the tail of its cell; the MO class is stored once
     * for the rows that share it. */
    assert_ptr_equal(p[0].name,
                     body_cell(doc, p[0].block, 0, "Parameter") + strlen("EUtranCellFDD."));
    assert_ptr_equal(p[0].unit, body_cell(doc, p[0].block, 0, "Unit"));
    assert_ptr_equal(p[0].mo_class, p[1].mo_class);
    assert_string_equal(p[1].mo_class, "EUtranCellFDD");
    assert_string_equal(p[1].name, "qQualMin");
    assert_string_equal(p[2].mo_class, "NRCellDU");
    assert_string_equal(p[2].name, "ssbPeriodicity");
    rp_doc_free(doc);
}

static void add_param_copies_nothing(void **state)
{
    struct rp_doc *doc = *state = rp_doc_new("x.csv", RP_FORMAT_CSV);
    assert_non_null(doc);
    const char *name = rp_arena_strdup(&doc->arena, "qRxLevMin");
    assert_non_null(name);
    struct rp_param p = {.name = name, .unit = "dBm", .block = 0, .row = 3};
    assert_int_equal(rp_doc_add_param(doc, &p), RP_OK);
    assert_int_equal(doc->n_params, 1);
    assert_ptr_equal(doc->params[0].name, name);
    assert_ptr_equal(doc->params[0].unit, p.unit);
    assert_null(doc->params[0].mo_class);
    assert_int_equal(doc->params[0].row, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(markdown_example, free_doc_state),
        cmocka_unit_test_teardown(csv_example, free_doc_state),
        cmocka_unit_test_teardown(anr_example, free_doc_state),
        cmocka_unit_test(loose_headers),
        cmocka_unit_test(qualified_names),
        cmocka_unit_test(not_parameter_tables),
        cmocka_unit_test_teardown(two_header_rows, free_doc_state),
        cmocka_unit_test_teardown(fields_are_cells, free_doc_state),
        cmocka_unit_test(qualified_names_share_cells),
        cmocka_unit_test_teardown(add_param_copies_nothing, free_doc_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
