/*
 * test_csv.c - the CSV/TSV parser (src/ingest/csv.c) through
 * rp_ingest_buffer() and rp_ingest_file().
 *
 * In-memory cases cover the dialects met in practice (comma, semicolon,
 * tab, Excel's "sep=" line, CRLF, a byte-order mark), quoting (doubled
 * quotes, line breaks and delimiters inside quotes), ragged rows, and the
 * failures (an unterminated quote, too many fields, an oversized field).
 * The example under examples/docs/parameters/ is read from
 * $RANPIPE_SOURCE_DIR.
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
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

/* ---- helpers ---- */

static struct rp_doc *parse_path(const char *path, const char *text)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = rp_ingest_buffer(path, RP_FORMAT_CSV, text, strlen(text), NULL, &doc, &err);
    if (e != RP_OK)
        fail_msg("cannot parse %s: %s (%s)", path, err.msg, rp_strerror(e));
    assert_non_null(doc);
    return doc;
}

static struct rp_doc *parse_csv(const char *text)
{
    return parse_path("tables/test.csv", text);
}

/* The one table of doc. */
static const struct rp_table *the_table(const struct rp_doc *doc)
{
    assert_int_equal(doc->n_blocks, 1);
    assert_int_equal(doc->blocks[0].type, RP_BLOCK_TABLE);
    assert_int_equal(doc->blocks[0].section, 0);
    assert_non_null(doc->blocks[0].table);
    return doc->blocks[0].table;
}

static const char *cell(const struct rp_table *t, size_t r, size_t c)
{
    assert_true(r < t->n_rows && c < t->n_cols);
    return t->cells[r * t->n_cols + c];
}

static void expect_error(const char *text, enum rp_err want, const char *needle)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    enum rp_err e =
        rp_ingest_buffer("tables/bad.csv", RP_FORMAT_CSV, text, strlen(text), NULL, &doc, &err);
    assert_null(doc);
    if (e != want || !strstr(err.msg, needle))
        fail_msg("want %s with '%s', got %s: %s", rp_strerror(want), needle, rp_strerror(e),
                 err.msg);
    assert_non_null(strstr(err.msg, "cannot ingest 'tables/bad.csv': "));
}

static int free_doc_state(void **state)
{
    rp_doc_free(*state);
    *state = NULL;
    return 0;
}

/* ---- cases ---- */

static void example_file(void **state)
{
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/examples/docs/parameters/nr-cell-parameters.csv",
             src && *src ? src : ".");
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_file(path, NULL, &doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    *state = doc;
    assert_int_equal(doc->format, RP_FORMAT_CSV);
    assert_string_equal(doc->title, "nr-cell-parameters");
    assert_int_equal(doc->n_sections, 1);
    const struct rp_table *t = the_table(doc);
    assert_int_equal(doc->blocks[0].line, 1);
    assert_int_equal(t->n_header, 1);
    assert_int_equal(t->n_rows, 8);
    assert_int_equal(t->n_cols, 7);
    assert_string_equal(cell(t, 0, 0), "MO Class");
    assert_string_equal(cell(t, 0, 6), "Description");
    assert_string_equal(cell(t, 1, 3), "5, 10, 20, 40, 80, 160");
    assert_string_equal(cell(t, 4, 6), "Minimum required RX level in the cell, broadcast in SIB1.");
    assert_string_equal(cell(t, 7, 1), "bandListManual");
    assert_non_null(
        strstr(doc->blocks[0].text,
               "MO Class | Parameter | Type | Range | Default | Unit | Description\n"
               "NRCellDU | ssbPeriodicity | Enum | 5, 10, 20, 40, 80, 160 | 20 | ms |"));
    assert_int_equal(doc->n_params, 7);
}

static void delimiters(void **state)
{
    (void)state;
    /* Semicolon (European Excel): commas are decimal marks. */
    struct rp_doc *doc = parse_csv("Parameter;Default;Unit\nalpha;0,8;-\nqRxLevMin;-140;dBm\n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_cols, 3);
    assert_string_equal(cell(t, 1, 1), "0,8");
    rp_doc_free(doc);
    /* Tab, sniffed from the header line of a .csv file. */
    doc = parse_csv("Parameter\tRange\tDescription\nqRxLevMin\t-140..-44\tMinimum level, in dBm\n");
    t = the_table(doc);
    assert_int_equal(t->n_cols, 3);
    assert_string_equal(cell(t, 1, 2), "Minimum level, in dBm");
    rp_doc_free(doc);
    /* .tsv means tab, whatever the header holds. */
    doc = parse_path("tables/units.tsv", "Name,Alias\tUnit\nx,y\tdB\n");
    t = the_table(doc);
    assert_string_equal(doc->title, "units");
    assert_int_equal(t->n_cols, 2);
    assert_string_equal(cell(t, 0, 0), "Name,Alias");
    assert_string_equal(cell(t, 1, 1), "dB");
    rp_doc_free(doc);
    /* Delimiters inside quotes do not count when sniffing. */
    doc = parse_csv("\"a;b;c;d\",e,f\n1,2,3\n");
    t = the_table(doc);
    assert_int_equal(t->n_cols, 3);
    assert_string_equal(cell(t, 0, 0), "a;b;c;d");
    rp_doc_free(doc);
    /* One column. */
    doc = parse_csv("Name\nalpha\nbeta\n");
    t = the_table(doc);
    assert_int_equal(t->n_cols, 1);
    assert_int_equal(t->n_rows, 3);
    rp_doc_free(doc);
}

static void excel_sep_line(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_csv("sep=;\r\nMO Class;Parameter;Default\r\nNRCellDU;ssbPeriodicity;20\r\n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(doc->blocks[0].line, 2);
    assert_int_equal(t->n_rows, 2);
    assert_int_equal(t->n_cols, 3);
    assert_string_equal(cell(t, 0, 0), "MO Class");
    assert_string_equal(cell(t, 1, 2), "20");
    rp_doc_free(doc);
    doc = parse_csv("SEP=|\na|b,c\n1|2\n");
    t = the_table(doc);
    assert_string_equal(cell(t, 0, 1), "b,c");
    rp_doc_free(doc);
    /* Only a sep line: an empty table, so no block. */
    doc = parse_csv("sep=,\n");
    assert_int_equal(doc->n_blocks, 0);
    rp_doc_free(doc);
}

static void quoting(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_csv("Parameter,Description,Note\n"               /* 1 */
                                   "alpha,\"Path-loss factor,\n"                /* 2 */
                                   "in tenths\",\"say \"\"hi\"\"\"\n"           /* 3 */
                                   "\"\",\"\"\"\",\"ab\"cd\n"                   /* 4 */
                                   "x\"y,\"  padded  \",\"\"\"quoted\"\"\"\n"); /* 5 */
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_rows, 4);
    assert_string_equal(cell(t, 1, 1), "Path-loss factor,\nin tenths");
    assert_string_equal(cell(t, 1, 2), "say \"hi\"");
    assert_string_equal(cell(t, 2, 0), "");
    assert_string_equal(cell(t, 2, 1), "\"");
    assert_string_equal(cell(t, 2, 2), "abcd");   /* text after a closing quote is kept */
    assert_string_equal(cell(t, 3, 0), "x\"y");   /* a quote inside a bare field is literal */
    assert_string_equal(cell(t, 3, 1), "padded"); /* cells are trimmed */
    assert_string_equal(cell(t, 3, 2), "\"quoted\"");
    rp_doc_free(doc);
}

static void line_endings_and_blank_lines(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_csv("\r\n\na,b\r\n\"x\r\ny\",2\r\n\r\n,\r\n  ,   \n3,4\r\n\r\n\n\n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(doc->blocks[0].line, 3); /* blank lines before the header */
    assert_int_equal(t->n_rows, 3);           /* rows of empty cells are skipped */
    assert_string_equal(cell(t, 1, 0), "x\ny");
    assert_string_equal(cell(t, 2, 1), "4");
    rp_doc_free(doc);
    /* No final line break; a trailing delimiter makes an empty last cell. */
    doc = parse_csv("a,b,\n1,2,");
    t = the_table(doc);
    assert_int_equal(t->n_cols, 3);
    assert_int_equal(t->n_rows, 2);
    assert_string_equal(cell(t, 1, 2), "");
    rp_doc_free(doc);
    /* Old Mac line ends. */
    doc = parse_csv("a,b\r1,2\r");
    t = the_table(doc);
    assert_int_equal(t->n_rows, 2);
    rp_doc_free(doc);
}

static void ragged_rows(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_csv("Parameter,Default,Unit\nshort\nlong,1,dB,extra,more\nok,2,ms\n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_rows, 4);
    assert_int_equal(t->n_cols, 5);
    assert_string_equal(cell(t, 0, 3), ""); /* the header is padded too */
    assert_string_equal(cell(t, 1, 1), "");
    assert_string_equal(cell(t, 2, 4), "more");
    assert_string_equal(cell(t, 3, 2), "ms");
    /* Records still come out for every named row. */
    assert_int_equal(doc->n_params, 3);
    assert_null(doc->params[0].default_value);
    rp_doc_free(doc);
}

static void bom_and_title(void **state)
{
    (void)state;
    struct rp_doc *doc =
        parse_path("dir/cell.params.v2.csv", "\xEF\xBB\xBFMO,Parameter\nNRCellDU,qRxLevMin\n");
    const struct rp_table *t = the_table(doc);
    assert_string_equal(cell(t, 0, 0), "MO");
    assert_string_equal(doc->title, "cell.params.v2");
    assert_int_equal(doc->n_params, 1);
    assert_string_equal(doc->params[0].mo_class, "NRCellDU");
    rp_doc_free(doc);
    doc = parse_path("noext", "a\n");
    assert_string_equal(doc->title, "noext");
    rp_doc_free(doc);
    doc = parse_path(".hidden", "a\n");
    assert_string_equal(doc->title, ".hidden");
    rp_doc_free(doc);
}

static void empty_and_header_only(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_csv("");
    assert_int_equal(doc->n_blocks, 0);
    assert_string_equal(doc->title, "test");
    rp_doc_free(doc);
    doc = parse_csv("\n\r\n\n");
    assert_int_equal(doc->n_blocks, 0);
    rp_doc_free(doc);
    doc = parse_csv("MO Class,Parameter,Default\n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_rows, 1);
    assert_int_equal(t->n_header, 1);
    assert_int_equal(doc->n_params, 0);
    assert_string_equal(doc->blocks[0].text, "MO Class | Parameter | Default");
    rp_doc_free(doc);
}

static void errors(void **state)
{
    (void)state;
    expect_error("a,b\n1,\"open\nstill open\n", RP_ERR_PARSE,
                 "unterminated quoted field starting on line 2");
    expect_error("a,b\n\"x\ny\",1\n\"\"\"\n", RP_ERR_PARSE,
                 "unterminated quoted field starting on line 4");
    expect_error("\"", RP_ERR_PARSE, "starting on line 1");
    /* Too many fields. */
    char *wide = malloc(4000);
    assert_non_null(wide);
    size_t n = 0;
    for (int i = 0; i < 1001; i++)
        wide[n++] = i ? ',' : 'x';
    wide[n++] = '\n';
    wide[n] = '\0';
    expect_error(wide, RP_ERR_TOOBIG, "line 1 has more than 1000 fields");
    free(wide);
    /* A field over the field cap (1 MiB), quoted or not. */
    size_t big = ((size_t)1 << 20) + 10;
    char *huge = malloc(big + 16);
    assert_non_null(huge);
    memcpy(huge, "a\n\"", 3);
    memset(huge + 3, 'x', big);
    memcpy(huge + 3 + big, "\"\n", 3);
    expect_error(huge, RP_ERR_TOOBIG, "a field on line 2 is longer than 1048576 bytes");
    huge[2] = 'y';
    expect_error(huge, RP_ERR_TOOBIG, "a field on line 2 is longer than");
    free(huge);
    /* Binary or broken text is refused before the parser. */
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(rp_ingest_buffer("t.csv", RP_FORMAT_CSV, "a,\0b", 4, NULL, &doc, &err),
                     RP_ERR_PARSE);
    assert_int_equal(rp_ingest_buffer("t.csv", RP_FORMAT_CSV, "a,\xff", 3, NULL, &doc, &err),
                     RP_ERR_PARSE);
}

/* Each cell is stored once: a value repeated from the cell above is the
 * same string, and records point at the cells. */
static void cells_stored_once(void **state)
{
    (void)state;
    struct rp_doc *doc = parse_csv("MO Class,Parameter,Unit\n"
                                   "NRCellDU,ssbPeriodicity,ms\n"
                                   ",,\n" /* skipped: the next row's "above" is row 1 */
                                   "NRCellDU,ssbOffset,ms\n"
                                   "NRCellCU,ms,dBm\n"
                                   "NRCellDU,x, dBm \n");
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_rows, 5);
    assert_ptr_equal(cell(t, 2, 0), cell(t, 1, 0));
    assert_ptr_equal(cell(t, 2, 2), cell(t, 1, 2));
    assert_ptr_not_equal(cell(t, 3, 0), cell(t, 2, 0));
    assert_string_equal(cell(t, 3, 1), "ms");       /* same text in another column: its own copy */
    assert_ptr_equal(cell(t, 4, 2), cell(t, 3, 2)); /* compared after trimming */
    assert_string_equal(cell(t, 4, 0), "NRCellDU");
    assert_int_equal(doc->n_params, 4);
    assert_ptr_equal(doc->params[1].mo_class, cell(t, 2, 0));
    assert_ptr_equal(doc->params[1].unit, cell(t, 1, 2));
    rp_doc_free(doc);
}

/* Many rows and long cells: strings packed across arena pieces come out
 * whole, and the rendered text matches the cells. */
static void many_rows_and_long_cells(void **state)
{
    (void)state;
    struct rp_buf in;
    rp_buf_init(&in, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&in, "Parameter,Default,Description\n"), RP_OK);
    char longcell[9000];
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(i % 7 == 0 ? 5000 + i : 10 + i % 50);
        for (size_t k = 0; k < n; k++)
            longcell[k] = (char)('a' + (k + (size_t)i) % 26);
        longcell[n] = '\0';
        assert_int_equal(rp_buf_addf(&in, "param%d,%d,%s\n", i, i % 3, longcell), RP_OK);
    }
    struct rp_doc *doc = parse_csv(in.data);
    const struct rp_table *t = the_table(doc);
    assert_int_equal(t->n_rows, 3001);
    for (int i = 0; i < 3000; i += 13) {
        size_t n = (size_t)(i % 7 == 0 ? 5000 + i : 10 + i % 50);
        const char *d = cell(t, (size_t)i + 1, 2);
        assert_int_equal(strlen(d), n);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(d[k], 'a' + (k + (size_t)i) % 26);
        char name[32];
        snprintf(name, sizeof(name), "param%d", i);
        assert_string_equal(cell(t, (size_t)i + 1, 0), name);
    }
    /* The block text is the table rendered. */
    struct rp_buf r;
    rp_buf_init(&r, RP_BUF_NO_CAP);
    assert_int_equal(rp_table_render(t, 0, t->n_rows - 1, &r), RP_OK);
    assert_int_equal(strlen(doc->blocks[0].text), r.len);
    assert_string_equal(doc->blocks[0].text, r.data);
    assert_int_equal(doc->n_params, 3000);
    rp_buf_release(&r);
    rp_doc_free(doc);
    rp_buf_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(example_file, free_doc_state),
        cmocka_unit_test(delimiters),
        cmocka_unit_test(excel_sep_line),
        cmocka_unit_test(quoting),
        cmocka_unit_test(line_endings_and_blank_lines),
        cmocka_unit_test(ragged_rows),
        cmocka_unit_test(bom_and_title),
        cmocka_unit_test(empty_and_header_only),
        cmocka_unit_test(errors),
        cmocka_unit_test(cells_stored_once),
        cmocka_unit_test(many_rows_and_long_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
