/*
 * test_html.c - the HTML parser (src/ingest/html.c) through
 * rp_ingest_buffer() / rp_ingest_file(): the ELEX example page, charsets
 * and entities, lists, definition lists, code, tables (spans, header rows,
 * nesting, captions, layout tables), text between blocks, page chrome,
 * and hostile input (deep nesting, binary and empty files).
 *
 * Tests that keep their document in *state free it in their teardown, so
 * a failed assertion does not leak it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/globals.h>
#include <libxml/xmlerror.h>

#include "ranpipe/buf.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"
#include "ranpipe/utf8.h"

/* ---- helpers ---- */

static struct rp_doc *parse_with(const char *html, size_t len, const struct rp_ingest_params *p)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = rp_ingest_buffer("pages/test.html", RP_FORMAT_HTML, html, len, p, &doc, &err);
    if (e != RP_OK)
        fail_msg("cannot parse: %s (%s)", err.msg, rp_strerror(e));
    assert_non_null(doc);
    return doc;
}

static struct rp_doc *parse(const char *html)
{
    return parse_with(html, strlen(html), NULL);
}

/* Parses html expecting a failure with code; returns nothing, checks the
 * message names the file and contains want. */
static void parse_fails(const char *html, size_t len, const struct rp_ingest_params *p,
                        enum rp_err code, const char *want)
{
    struct rp_doc *doc = (struct rp_doc *)1;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = rp_ingest_buffer("pages/bad.html", RP_FORMAT_HTML, html, len, p, &doc, &err);
    if (e != code)
        fail_msg("want %s, got %s: %s", rp_strerror(code), rp_strerror(e), err.msg);
    assert_null(doc);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.msg, "cannot ingest 'pages/bad.html': "));
    if (!strstr(err.msg, want))
        fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static int section_by_title(const struct rp_doc *doc, const char *title)
{
    for (size_t i = 0; i < doc->n_sections; i++)
        if (strcmp(doc->sections[i].title, title) == 0)
            return (int)i;
    fail_msg("no section titled '%s'", title);
    return -1;
}

static size_t count_blocks(const struct rp_doc *doc, enum rp_block_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->n_blocks; i++)
        n += doc->blocks[i].type == t;
    return n;
}

static const struct rp_block *nth_block(const struct rp_doc *doc, enum rp_block_type t, size_t nth)
{
    for (size_t i = 0; i < doc->n_blocks; i++)
        if (doc->blocks[i].type == t && nth-- == 0)
            return &doc->blocks[i];
    fail_msg("no %s block #%zu", rp_block_type_name(t), nth);
    return NULL;
}

/* Asserts the document's blocks are exactly these (type, text) pairs. */
struct want_block {
    enum rp_block_type type;
    const char *text;
};

static void assert_blocks(const struct rp_doc *doc, const struct want_block *want, size_t n)
{
    for (size_t i = 0; i < doc->n_blocks && i < n; i++) {
        if (doc->blocks[i].type != want[i].type || strcmp(doc->blocks[i].text, want[i].text) != 0)
            fail_msg("block %zu: got %s '%s', want %s '%s'", i,
                     rp_block_type_name(doc->blocks[i].type), doc->blocks[i].text,
                     rp_block_type_name(want[i].type), want[i].text);
    }
    if (doc->n_blocks != n) {
        for (size_t i = 0; i < doc->n_blocks; i++)
            print_message("# block %zu: %s '%s'\n", i, rp_block_type_name(doc->blocks[i].type),
                          doc->blocks[i].text);
        fail_msg("got %zu blocks, want %zu", doc->n_blocks, n);
    }
}

#define ASSERT_BLOCKS(doc, ...)                                                                    \
    do {                                                                                           \
        static const struct want_block want_[] = {__VA_ARGS__};                                    \
        assert_blocks(doc, want_, sizeof(want_) / sizeof(want_[0]));                               \
    } while (0)

/* Is needle anywhere in the document's text (title, metadata, sections,
 * blocks, cells)? */
static bool doc_contains(const struct rp_doc *doc, const char *needle)
{
    if (strstr(doc->title, needle))
        return true;
    for (size_t i = 0; i < doc->n_meta; i++)
        if (strstr(doc->meta[i].value, needle))
            return true;
    for (size_t i = 0; i < doc->n_sections; i++)
        if (strstr(doc->sections[i].title, needle))
            return true;
    for (size_t i = 0; i < doc->n_blocks; i++) {
        if (strstr(doc->blocks[i].text, needle))
            return true;
        const struct rp_table *t = doc->blocks[i].table;
        for (size_t k = 0; t && k < t->n_rows * t->n_cols; k++)
            if (strstr(t->cells[k], needle))
                return true;
    }
    return false;
}

/* Every string of the document is valid UTF-8. */
static void assert_doc_utf8(const struct rp_doc *doc)
{
    assert_true(rp_utf8_valid(doc->title, strlen(doc->title), NULL));
    for (size_t i = 0; i < doc->n_meta; i++) {
        assert_true(rp_utf8_valid(doc->meta[i].key, strlen(doc->meta[i].key), NULL));
        assert_true(rp_utf8_valid(doc->meta[i].value, strlen(doc->meta[i].value), NULL));
    }
    for (size_t i = 0; i < doc->n_sections; i++)
        assert_true(rp_utf8_valid(doc->sections[i].title, strlen(doc->sections[i].title), NULL));
    for (size_t i = 0; i < doc->n_blocks; i++)
        assert_true(rp_utf8_valid(doc->blocks[i].text, strlen(doc->blocks[i].text), NULL));
}

static void assert_row(const struct rp_table *t, size_t r, const char *const *cells, size_t n)
{
    assert_true(r < t->n_rows);
    assert_int_equal(t->n_cols, n);
    for (size_t c = 0; c < n; c++)
        if (strcmp(t->cells[r * t->n_cols + c], cells[c]) != 0)
            fail_msg("row %zu col %zu: got '%s', want '%s'", r, c, t->cells[r * t->n_cols + c],
                     cells[c]);
}

#define ASSERT_ROW(t, r, ...)                                                                      \
    do {                                                                                           \
        static const char *const cells_[] = {__VA_ARGS__};                                         \
        assert_row(t, r, cells_, sizeof(cells_) / sizeof(cells_[0]));                              \
    } while (0)

static int free_doc_state(void **state)
{
    rp_doc_free(*state);
    *state = NULL;
    return 0;
}

static char *repeat(const char *head, const char *rep, size_t n, const char *mid, const char *rep2,
                    size_t n2, const char *tail)
{
    size_t hl = strlen(head), rl = strlen(rep), ml = strlen(mid), r2 = strlen(rep2),
           tl = strlen(tail);
    char *s = malloc(hl + rl * n + ml + r2 * n2 + tl + 1);
    assert_non_null(s);
    char *p = s;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += rl)
        memcpy(p, rep, rl);
    memcpy(p, mid, ml);
    p += ml;
    for (size_t i = 0; i < n2; i++, p += r2)
        memcpy(p, rep2, r2);
    memcpy(p, tail, tl + 1);
    return s;
}

/* ---- the ELEX example ---- */

static void elex_example_page(void **state)
{
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/examples/docs/features/carrier-aggregation.html",
             src && *src ? src : ".");
    struct rp_doc *doc = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_ingest_file(path, NULL, &doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    *state = doc;
    assert_int_equal(doc->format, RP_FORMAT_HTML);
    assert_string_equal(doc->title, "Carrier Aggregation - Feature Description");
    assert_string_equal(rp_doc_get_meta(doc, "feature-id"), "FAJ 121 3046");
    assert_string_equal(rp_doc_get_meta(doc, "language"), "en");

    /* Sections: the H1 and its three H2s. */
    assert_int_equal(doc->n_sections, 5);
    int ca = section_by_title(doc, "Carrier Aggregation");
    int act = section_by_title(doc, "Activation");
    int par = section_by_title(doc, "Parameters");
    int cnt = section_by_title(doc, "Counters");
    assert_int_equal(doc->sections[ca].level, 1);
    assert_int_equal(doc->sections[ca].parent, -1);
    assert_int_equal(doc->sections[act].level, 2);
    assert_int_equal(doc->sections[act].parent, ca);
    assert_int_equal(doc->sections[par].parent, ca);
    assert_int_equal(doc->sections[cnt].parent, ca);
    assert_int_equal(doc->sections[ca].line, 12);

    /* Paragraphs: whitespace collapsed, inline code kept. */
    const struct rp_block *p0 = nth_block(doc, RP_BLOCK_PARAGRAPH, 0);
    assert_int_equal(p0->section, ca);
    assert_string_equal(p0->text,
                        "Carrier Aggregation (CA) lets one UE receive data on several component "
                        "carriers at the same time. The primary cell (PCell) carries the RRC "
                        "connection; up to four secondary cells (SCells) add downlink bandwidth. "
                        "With five 20 MHz carriers a UE can use up to 100 MHz, as defined in "
                        "3GPP TS 36.300 V16.2.0.");
    assert_int_equal(p0->line, 13);
    const struct rp_block *p1 = nth_block(doc, RP_BLOCK_PARAGRAPH, 1);
    assert_int_equal(p1->section, act);
    assert_non_null(strstr(p1->text, "exceeds caActivationThreshold and deactivated after "
                                     "sCellDeactivationTimer without scheduling."));

    /* The parameter table. */
    assert_int_equal(count_blocks(doc, RP_BLOCK_TABLE), 1);
    const struct rp_block *tb = nth_block(doc, RP_BLOCK_TABLE, 0);
    assert_int_equal(tb->section, par);
    assert_int_equal(tb->line, 24);
    const struct rp_table *t = tb->table;
    assert_non_null(t);
    assert_int_equal(t->n_header, 1);
    assert_int_equal(t->n_rows, 4);
    ASSERT_ROW(t, 0, "MO Class", "Attribute", "Range", "Default", "Unit");
    ASSERT_ROW(t, 1, "CarrierAggregationFunction", "caActivationThreshold", "0..100000", "2000",
               "bytes");
    ASSERT_ROW(t, 2, "CarrierAggregationFunction", "sCellDeactivationTimer",
               "rf2, rf4, rf8, rf16, rf32, rf64, rf128", "rf32", "radio frames");
    ASSERT_ROW(t, 3, "EUtranCellFDD", "sCellCandidate", "ALLOWED, NOT_ALLOWED", "ALLOWED", "-");

    /* The counters list. */
    assert_int_equal(count_blocks(doc, RP_BLOCK_LIST), 1);
    const struct rp_block *l = nth_block(doc, RP_BLOCK_LIST, 0);
    assert_int_equal(l->section, cnt);
    assert_string_equal(l->text,
                        "- pmCaConfiguredDlSum: sum of UEs configured with at least one SCell.\n"
                        "- pmCaActivatedDlSum: sum of UEs with at least one activated SCell.");

    /* Navigation, footer, script and style are gone. */
    assert_int_equal(doc->n_blocks, 4); /* two paragraphs, the table, the list */
    assert_false(doc_contains(doc, "Home"));
    assert_false(doc_contains(doc, "Contents"));
    assert_false(doc_contains(doc, "Copyright"));
    assert_false(doc_contains(doc, "console.log"));
    assert_false(doc_contains(doc, "font-family"));
    assert_doc_utf8(doc);
}

/* ---- text, entities, charsets ---- */

static void entities_and_whitespace(void **state)
{
    struct rp_doc *doc =
        parse("<p>  Ericsson &amp; 3GPP:\n\t&lt;qRxLevMin&gt; &quot;-140&quot;&nbsp;dBm "
              "&#8211; &eacute;t&eacute; &#x2265;5&#160;ms</p>"
              "<p>one<br>two <br> three<br><br>four</p>"
              "<p>bold<b>face</b> and <i>italic</i>, <a href=x>link</a>"
              "<span> span</span>.</p>"
              "<p>Carrier&shy;Aggregation</p>");
    *state = doc;
    ASSERT_BLOCKS(doc,
                  {RP_BLOCK_PARAGRAPH,
                   "Ericsson & 3GPP: <qRxLevMin> \"-140\" dBm \xE2\x80\x93 \xC3\xA9t\xC3\xA9 "
                   "\xE2\x89\xA5"
                   "5 ms"},
                  {RP_BLOCK_PARAGRAPH, "one\ntwo\nthree\nfour"},
                  {RP_BLOCK_PARAGRAPH, "boldface and italic, link span."},
                  {RP_BLOCK_PARAGRAPH, "CarrierAggregation"}, );
    /* No <title>, no <h1>: the file name. */
    assert_string_equal(doc->title, "test.html");
    assert_int_equal(doc->n_meta, 0);
}

static void charset_latin1(void **state)
{
    /* A Latin-1 page that says so is decoded to UTF-8. */
    static const char page[] =
        "<html lang=\"de\"><head><meta charset=\"iso-8859-1\">"
        "<title>Zellsperre f\xfcr LTE</title></head>"
        "<body><h1>\xc4nderungen</h1><p>caf\xe9 \xb1 5 \xb5s</p></body></html>";
    struct rp_doc *doc = parse_with(page, sizeof(page) - 1, NULL);
    *state = doc;
    assert_string_equal(doc->title, "Zellsperre f\xc3\xbcr LTE");
    assert_string_equal(rp_doc_get_meta(doc, "language"), "de");
    section_by_title(doc, "\xc3\x84nderungen");
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "caf\xc3\xa9 \xc2\xb1 5 \xc2\xb5s"}, );
    assert_doc_utf8(doc);
}

static void charset_others(void **state)
{
    (void)state;
    /* windows-1252 through the http-equiv form. */
    static const char cp1252[] =
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">"
        "<p>\x93quoted\x94 \x96 dash</p>";
    struct rp_doc *doc = parse_with(cp1252, sizeof(cp1252) - 1, NULL);
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x80\x93 dash"}, );
    rp_doc_free(doc);

    /* UTF-8 with a byte-order mark. */
    static const char bom[] = "\xEF\xBB\xBF<title>Caf\xC3\xA9</title><p>x</p>";
    doc = parse_with(bom, sizeof(bom) - 1, NULL);
    assert_string_equal(doc->title, "Caf\xC3\xA9");
    rp_doc_free(doc);

    /* UTF-16LE with a BOM: NUL bytes are fine there. */
    static const char u16[] = "\xFF\xFE<\0p\0>\0H\0\xE9\0<\0/\0p\0>\0";
    doc = parse_with(u16, sizeof(u16) - 1, NULL);
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "H\xC3\xA9"}, );
    rp_doc_free(doc);

    /* No declaration and bytes that are not UTF-8: whatever libxml2
     * guesses, the result is valid UTF-8. */
    static const char bad[] = "<p>caf\xe9 \xff\xfe \xed\xa0\x80 end</p>";
    doc = parse_with(bad, sizeof(bad) - 1, NULL);
    assert_int_equal(doc->n_blocks, 1);
    assert_non_null(strstr(doc->blocks[0].text, "end"));
    assert_doc_utf8(doc);
    rp_doc_free(doc);

    /* An unknown charset does not stop the parse. */
    doc = parse("<meta charset=\"x-no-such-charset\"><p>still here</p>");
    assert_true(doc_contains(doc, "still here"));
    rp_doc_free(doc);
}

/* A caller's own libxml2 error handler, to see that the parser puts it back. */
static int caller_handler_calls;

static void caller_handler(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
    caller_handler_calls++;
}

static void charset_bad_bytes(void **state)
{
    (void)state;
    /* libxml2 2.9 ends the page at the first byte its charset cannot
     * convert; the parser converts it again and keeps the rest. */
    static const char sjis[] = "<meta charset=\"shift_jis\"><p>first</p>"
                               "<p>bad \x81\x7f byte</p><p>\x93\xfa\x96\x7b after</p>";
    /* Nothing may reach stderr: run the parse with fd 2 on a file. */
    fflush(stderr);
    const char *tmp = getenv("RANPIPE_TEST_TMP");
    char path[4096];
    snprintf(path, sizeof(path), "%s/test_html_stderr.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    xmlSetGenericErrorFunc(NULL, caller_handler);
    caller_handler_calls = 0;
    struct rp_doc *doc = parse_with(sjis, sizeof(sjis) - 1, NULL);
    assert_true(xmlGenericError == caller_handler); /* put back */
    assert_int_equal(caller_handler_calls, 0);      /* and not called meanwhile */
    xmlSetGenericErrorFunc(NULL, NULL);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    off_t written = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(written, 0);

    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "first"},
                  {RP_BLOCK_PARAGRAPH, "bad \xEF\xBF\xBD\x7f byte"},
                  {RP_BLOCK_PARAGRAPH, "\xE6\x97\xA5\xE6\x9C\xAC after"}, );
    assert_doc_utf8(doc);
    rp_doc_free(doc);
}

/* ---- sections ---- */

static void headings_and_title(void **state)
{
    struct rp_doc *doc = parse("<body>intro text\n"
                               "<h2>Before</h2><p>a</p>\n"
                               "<h1>Cell <em>Sleep</em><br>Mode</h1><p>b</p>\n"
                               "<h3>Deep</h3>\n"
                               "<h2>   </h2>\n"
                               "<h6>Six</h6><h1>Second</h1></body>");
    *state = doc;
    /* No <title>: the first H1, even after an H2. */
    assert_string_equal(doc->title, "Cell Sleep Mode");
    int before = section_by_title(doc, "Before");
    int csm = section_by_title(doc, "Cell Sleep Mode");
    int deep = section_by_title(doc, "Deep");
    int six = section_by_title(doc, "Six");
    section_by_title(doc, "Second");
    assert_int_equal(doc->n_sections, 6); /* the empty H2 adds none */
    assert_int_equal(doc->sections[before].level, 2);
    assert_int_equal(doc->sections[csm].level, 1);
    assert_int_equal(doc->sections[deep].parent, csm);
    assert_int_equal(doc->sections[six].level, 6);
    assert_int_equal(doc->sections[six].parent, deep);
    assert_int_equal(doc->sections[deep].line, 4);
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "intro text"}, {RP_BLOCK_PARAGRAPH, "a"},
                  {RP_BLOCK_PARAGRAPH, "b"}, );
    assert_int_equal(doc->blocks[0].section, 0);
    assert_int_equal(doc->blocks[1].section, before);
    assert_int_equal(doc->blocks[2].section, csm);
}

static void metadata(void **state)
{
    struct rp_doc *doc = parse("<html xml:lang=\"sv\"><head><title>  Two\n  words </title>"
                               "<meta name=\"Description\" content=\"  Inter-frequency\n load "
                               "balancing \">"
                               "<meta name=\"keywords\" content=\"IFLB, LTE\">"
                               "<meta name=\"empty\" content=\"\">"
                               "<meta content=\"no name\">"
                               "<meta property=\"og:title\" content=\"ignored\">"
                               "</head><body><h1>Heading</h1></body></html>");
    *state = doc;
    assert_string_equal(doc->title, "Two words"); /* <title> wins over the H1 */
    assert_string_equal(rp_doc_get_meta(doc, "description"), "Inter-frequency load balancing");
    assert_string_equal(rp_doc_get_meta(doc, "keywords"), "IFLB, LTE");
    assert_string_equal(rp_doc_get_meta(doc, "language"), "sv");
    assert_null(rp_doc_get_meta(doc, "empty"));
    assert_int_equal(doc->n_meta, 3);
}

/* ---- lists ---- */

static void lists(void **state)
{
    struct rp_doc *doc = parse("<ul><li>first</li>\n"
                               "<li>second\n<ul><li>nested <b>bold</b></li>"
                               "<li><ol><li>deeper</li></ol></li></ul>tail of second</li>"
                               "<li><p>para one</p><p>para two</p></li>"
                               "<li></li><li>line<br>break</li></ul>\n"
                               "<ol start=\"3\"><li>three</li><li>four</li></ol>"
                               "<ol><li>Lock the cell<pre>cmedit set cell\n  "
                               "administrativeState=LOCKED</pre></li><li>Check</li></ol>");
    *state = doc;
    ASSERT_BLOCKS(doc,
                  {RP_BLOCK_LIST, "- first\n"
                                  "- second\n"
                                  "  - nested bold\n"
                                  "    1. deeper\n"
                                  "  tail of second\n"
                                  "- para one\n"
                                  "  para two\n"
                                  "- line\n"
                                  "  break"},
                  {RP_BLOCK_LIST, "3. three\n4. four"},
                  {RP_BLOCK_LIST, "1. Lock the cell\n"
                                  "  cmedit set cell\n"
                                  "    administrativeState=LOCKED\n"
                                  "2. Check"}, );
    assert_int_equal(doc->blocks[1].line, 4);
}

static void definition_lists(void **state)
{
    struct rp_doc *doc = parse("<dl><dt>PCell</dt><dd>Primary cell</dd>"
                               "<dt>SCell</dt> <dd>Secondary <em>cell</em></dd>"
                               "<dt>CA</dt><dt>carrier aggregation</dt><dd>several carriers</dd>"
                               "<dd>at the same time</dd>"
                               "<dt>Alone</dt>"
                               "<dt></dt><dd>no term</dd></dl>"
                               "<dd>stray definition</dd><li>stray item</li>");
    *state = doc;
    ASSERT_BLOCKS(doc,
                  {RP_BLOCK_LIST, "PCell: Primary cell\n"
                                  "SCell: Secondary cell\n"
                                  "CA, carrier aggregation: several carriers\n"
                                  "  at the same time\n"
                                  "Alone\n"
                                  "no term"},
                  {RP_BLOCK_PARAGRAPH, "stray definition"}, {RP_BLOCK_PARAGRAPH, "stray item"}, );
}

static void preformatted(void **state)
{
    struct rp_doc *doc = parse("<p>Run:</p><pre>\n"
                               "cmedit get * EUtranCellFDD.(qRxLevMin,\n"
                               "\tqQualMin)   \n"
                               "  indented  <b>bold</b><br>after br\n"
                               "\n</pre>"
                               "<pre>   </pre>"
                               "<pre>\n\n    first line indented\nsecond</pre>");
    *state = doc;
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "Run:"},
                  {RP_BLOCK_CODE, "cmedit get * EUtranCellFDD.(qRxLevMin,\n"
                                  "\tqQualMin)   \n"
                                  "  indented  bold\nafter br"},
                  {RP_BLOCK_CODE, "    first line indented\nsecond"}, );
}

/* ---- tables ---- */

static void table_spans_and_headers(void **state)
{
    struct rp_doc *doc =
        parse("<table>"
              "<tr><th colspan=\"2\">Parameter</th><th>Value</th></tr>"
              "<tr><th>MO</th><th>Name</th><th>Default</th></tr>"
              "<tr><td rowspan=\"2\">EUtranCellFDD</td><td>qRxLevMin</td><td>-140</td></tr>"
              "<tr><td>qQualMin</td><td>-34</td></tr>"
              "<tr><th>NRCellDU</th><td>ssbPeriodicity</td><td>20</td></tr>"
              "<tr><td colspan=0 rowspan=x>bad spans</td><td>b</td></tr>"
              "</table>");
    *state = doc;
    assert_int_equal(doc->n_blocks, 1);
    const struct rp_table *t = doc->blocks[0].table;
    assert_non_null(t);
    assert_int_equal(t->n_header, 2); /* rows made only of <th> */
    assert_int_equal(t->n_rows, 6);
    ASSERT_ROW(t, 0, "Parameter", "Parameter", "Value");
    ASSERT_ROW(t, 1, "MO", "Name", "Default");
    ASSERT_ROW(t, 2, "EUtranCellFDD", "qRxLevMin", "-140");
    ASSERT_ROW(t, 3, "EUtranCellFDD", "qQualMin", "-34"); /* the rowspan repeats */
    ASSERT_ROW(t, 4, "NRCellDU", "ssbPeriodicity", "20"); /* a row header is a body row */
    ASSERT_ROW(t, 5, "bad spans", "b", "");
    assert_non_null(strstr(doc->blocks[0].text, "EUtranCellFDD | qQualMin | -34"));
}

static void table_thead_caption_nested(void **state)
{
    struct rp_doc *doc = parse("<table class=\"params\">"
                               "<caption>Table 1 <b>Cell</b> parameters</caption>"
                               "<thead><tr><td class=\"table-header-cell\">Name</td>"
                               "<th id=\"col-header\">Range</th></tr></thead>"
                               "<tbody><tr><td>qRxLevMin</td><td><table><tr><td>-140</td>"
                               "<td>..</td></tr><tr><td>-44</td></tr></table></td></tr>"
                               "<tr><td><ul><li>a</li><li>b</li></ul></td>"
                               "<td><p>one</p><p>two<br>three</p></td></tr>"
                               "<tr><td class=\"nav\">kept: not page chrome</td><td>x</td></tr>"
                               "</tbody></table>");
    *state = doc;
    assert_int_equal(doc->n_blocks, 2);
    assert_int_equal(doc->blocks[0].type, RP_BLOCK_PARAGRAPH);
    assert_string_equal(doc->blocks[0].text, "Table 1 Cell parameters");
    const struct rp_table *t = doc->blocks[1].table;
    assert_non_null(t);
    assert_int_equal(t->n_header, 1); /* in <thead>, even with <td> */
    ASSERT_ROW(t, 0, "Name", "Range");
    ASSERT_ROW(t, 1, "qRxLevMin", "-140 .. -44"); /* the nested table's text */
    ASSERT_ROW(t, 2, "a b", "one two three");
    ASSERT_ROW(t, 3, "kept: not page chrome", "x");
}

static void table_layout_and_edge_cases(void **state)
{
    struct rp_doc *doc =
        parse("<table><tr><td class=\"nav\">Home | Back</td>"
              "<td><h2>Inside Layout</h2><p>layout body</p>"
              "<ul><li>item</li></ul></td></tr></table>"
              "<table><tr><td><b>Note:</b> a one-cell box.</td></tr></table>"
              "<table role=\"presentation\"><tr><td>p1</td><td>p2</td></tr></table>"
              "<table></table>"
              "<table><tr><td>a</td><td>b</td></tr>stray words<tr><td>c</td></tr>"
              "</table>"
              "<table width=\"100%\"><tr><td>Framed:<table><tr><th>K</th><th>V</th>"
              "</tr><tr><td>k1</td><td>v1</td></tr></table></td></tr></table>");
    *state = doc;
    section_by_title(doc, "Inside Layout");
    assert_false(doc_contains(doc, "Home"));
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "layout body"}, {RP_BLOCK_LIST, "- item"},
                  {RP_BLOCK_PARAGRAPH, "Note: a one-cell box."}, {RP_BLOCK_PARAGRAPH, "p1"},
                  {RP_BLOCK_PARAGRAPH, "p2"}, {RP_BLOCK_PARAGRAPH, "stray words"},
                  {RP_BLOCK_TABLE, "a | b\nc | "}, {RP_BLOCK_PARAGRAPH, "Framed:"},
                  {RP_BLOCK_TABLE, "K | V\nk1 | v1"}, );
    const struct rp_table *t = doc->blocks[6].table;
    assert_int_equal(t->n_header, 0);
    ASSERT_ROW(t, 1, "c", "");
    /* A one-cell frame around a data table is layout; the inner table is data. */
    t = doc->blocks[8].table;
    assert_int_equal(t->n_header, 1);
    ASSERT_ROW(t, 1, "k1", "v1");
}

static void table_in_list(void **state)
{
    struct rp_doc *doc = parse("<ul><li>Settings:<table><tr><th>Name</th><th>Value</th></tr>"
                               "<tr><td>alpha</td><td>8</td></tr><tr><td></td><td>9</td></tr>"
                               "</table></li></ul>");
    *state = doc;
    ASSERT_BLOCKS(doc, {RP_BLOCK_LIST, "- Settings:\n  Name | Value\n  alpha | 8\n  9"}, );
}

static void table_size_caps(void **state)
{
    (void)state;
    /* colspan is capped at 1000 and a row at 1000 columns: a few bytes
     * of markup cannot make a huge table. */
    char *wide = repeat("<table><tr>", "<td colspan=1000>x</td>", 3, "</tr></table>", "", 0, "");
    parse_fails(wide, strlen(wide), NULL, RP_ERR_TOOBIG, "wider than 1000 columns");
    free(wide);
    char *ok = repeat("<table><tr>", "<td colspan=100000>x</td>", 1,
                      "</tr><tr><td>y</td></tr></table>", "", 0, "");
    struct rp_doc *doc = parse(ok);
    assert_int_equal(doc->blocks[0].table->n_cols, 1000);
    rp_doc_free(doc);
    free(ok);
    /* Rows x columns is capped too. */
    char *tall =
        repeat("<table><tr>", "<td>c</td>", 1000, "</tr>", "<tr><td>r</td></tr>", 2100, "</table>");
    parse_fails(tall, strlen(tall), NULL, RP_ERR_TOOBIG, "larger than 2000000 cells");
    free(tall);
}

/* ---- flow text and page chrome ---- */

static void text_between_blocks(void **state)
{
    struct rp_doc *doc = parse("<body>loose body text<div>one<p>two</p>three<ul><li>x</li></ul>"
                               "four<section>five<article>six</article></section>seven</div>"
                               "<blockquote>quoted<p>inner</p></blockquote>"
                               "<div><span>inline</span> <a href=\"#\">still</a> one</div>"
                               "<hr>after rule</body>");
    *state = doc;
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "loose body text"}, {RP_BLOCK_PARAGRAPH, "one"},
                  {RP_BLOCK_PARAGRAPH, "two"}, {RP_BLOCK_PARAGRAPH, "three"},
                  {RP_BLOCK_LIST, "- x"}, {RP_BLOCK_PARAGRAPH, "four"},
                  {RP_BLOCK_PARAGRAPH, "five"}, {RP_BLOCK_PARAGRAPH, "six"},
                  {RP_BLOCK_PARAGRAPH, "seven"}, {RP_BLOCK_PARAGRAPH, "quoted"},
                  {RP_BLOCK_PARAGRAPH, "inner"}, {RP_BLOCK_PARAGRAPH, "inline still one"},
                  {RP_BLOCK_PARAGRAPH, "after rule"}, );
}

static void page_chrome(void **state)
{
    struct rp_doc *doc =
        parse("<body><header><a href=\"/\">Site logo</a><h1>Inter-Frequency Load Balancing</h1>"
              "<p>tagline</p><nav>nav in header</nav></header>"
              "<div id=\"breadcrumb\">Home &gt; LTE</div>"
              "<div class=\"top-menu_bar\">menu text</div>"
              "<ul class=\"site-nav\"><li>nav item</li></ul>"
              "<div role=\"navigation\">aria nav</div>"
              "<aside>related links</aside>"
              "<div class=\"page-header\"><h2>Overview</h2><span>header junk</span></div>"
              "<main><header><p>article header kept</p></header>"
              "<div class=\"section-header\">kept inside main</div>"
              "<p>See <a class=\"nav-link\" href=\"#\">load balancing</a> for details.</p>"
              "<div class=\"navigation-help\">dropped in main too</div>"
              "<p class=\"tableheader\">whole-word only: kept</p>"
              "<div class=\"menuitem-like\">kept: no part is a chrome word</div>"
              "<footer>article footer kept</footer></main>"
              "<div hidden>hidden text</div><p style=\"color:red; DISPLAY : none\">invisible</p>"
              "<p style=\"visibility:hidden\">also invisible</p>"
              "<form><label>Search</label><input value=\"q\"><button>Go</button></form>"
              "<noscript>enable js</noscript><template><p>tmpl</p></template>"
              "<svg><text>svg text</text><title>svg title</title></svg>"
              "<iframe>frame</iframe><select><option>opt</option></select>"
              "<div class=\"footer\">Copyright</div><footer>page footer</footer>"
              "<div id=\"site_footer\">more footer</div></body>");
    *state = doc;
    section_by_title(doc, "Inter-Frequency Load Balancing");
    section_by_title(doc, "Overview");
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "article header kept"},
                  {RP_BLOCK_PARAGRAPH, "kept inside main"},
                  {RP_BLOCK_PARAGRAPH, "See load balancing for details."},
                  {RP_BLOCK_PARAGRAPH, "whole-word only: kept"},
                  {RP_BLOCK_PARAGRAPH, "kept: no part is a chrome word"},
                  {RP_BLOCK_PARAGRAPH, "article footer kept"}, );
    assert_string_equal(doc->title, "Inter-Frequency Load Balancing");
}

/* ---- hostile input ---- */

static void deep_nesting(void **state)
{
    (void)state;
    /* 100000 nested divs: libxml2 stops building the tree at 256 levels,
     * our limit (64) is hit first; either way a clear error, no crash. */
    char *deep =
        repeat("<p>before</p>", "<div>", 100000, "inner", "</div>", 100000, "<p>after</p>");
    parse_fails(deep, strlen(deep), NULL, RP_ERR_TOOBIG, "HTML nested deeper than 64 levels");
    /* Allowing more than libxml2 builds: still an error, not a page cut
     * short at level 256 without a word. */
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_depth = 100000;
    parse_fails(deep, strlen(deep), &p, RP_ERR_TOOBIG, "HTML nested deeper than 256 levels");
    free(deep);

    /* Under both limits: all text is there. */
    p.max_depth = 250;
    char *ok = repeat("<p>before</p>", "<div>", 200, "inner", "</div>", 200, "<p>after</p>");
    struct rp_doc *doc = parse_with(ok, strlen(ok), &p);
    ASSERT_BLOCKS(doc, {RP_BLOCK_PARAGRAPH, "before"}, {RP_BLOCK_PARAGRAPH, "inner"},
                  {RP_BLOCK_PARAGRAPH, "after"}, );
    rp_doc_free(doc);
    /* The limit is a parameter: the same page fails under 100. */
    p.max_depth = 100;
    parse_fails(ok, strlen(ok), &p, RP_ERR_TOOBIG, "deeper than 100 levels");
    free(ok);

    /* Deep lists, tables and inline elements go through the same check. */
    static const char *const reps[][2] = {
        {"<ul><li>", "</li></ul>"}, {"<table><tr><td>", "</td></tr></table>"}, {"<b>", "</b>"},
        {"<dl><dd>", "</dd></dl>"}, {"<span><pre>", "</pre></span>"},
    };
    for (size_t i = 0; i < sizeof(reps) / sizeof(reps[0]); i++) {
        char *s = repeat("", reps[i][0], 5000, "x", reps[i][1], 5000, "");
        struct rp_doc *d = NULL;
        struct rp_error err;
        enum rp_err e = rp_ingest_buffer("deep.html", RP_FORMAT_HTML, s, strlen(s), NULL, &d, &err);
        if (e == RP_OK)
            rp_doc_free(d);
        else if (e != RP_ERR_TOOBIG)
            fail_msg("%s x 5000: %s", reps[i][0], err.msg);
        free(s);
    }
}

static void empty_and_garbage(void **state)
{
    (void)state;
    struct rp_doc *doc = parse("");
    assert_int_equal(doc->n_blocks, 0);
    assert_int_equal(doc->n_sections, 1);
    assert_string_equal(doc->title, "test.html");
    rp_doc_free(doc);
    doc = parse("  \n\t ");
    assert_int_equal(doc->n_blocks, 0);
    rp_doc_free(doc);
    doc = parse("<html><body></body></html>");
    assert_int_equal(doc->n_blocks, 0);
    rp_doc_free(doc);
    /* Broken markup is recovered, not refused. */
    doc = parse("<<<>>>&&&<p <b>unclosed <i>tags <table><tr><td>cell");
    assert_true(doc_contains(doc, "cell"));
    assert_doc_utf8(doc);
    rp_doc_free(doc);
    /* Not HTML at all: text, but valid UTF-8. */
    static const char junk[] = "\x01\x02\x89PNG\r\n\x1a\xff\xfe garbage \x80\x81";
    doc = parse_with(junk, sizeof(junk) - 1, NULL);
    assert_doc_utf8(doc);
    rp_doc_free(doc);
    /* NUL bytes without a UTF-16 byte-order mark: binary. */
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    parse_fails(png, sizeof(png) - 1, NULL, RP_ERR_PARSE, "binary content (NUL byte at offset 8)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(elex_example_page, free_doc_state),
        cmocka_unit_test_teardown(entities_and_whitespace, free_doc_state),
        cmocka_unit_test_teardown(charset_latin1, free_doc_state),
        cmocka_unit_test(charset_others),
        cmocka_unit_test(charset_bad_bytes),
        cmocka_unit_test_teardown(headings_and_title, free_doc_state),
        cmocka_unit_test_teardown(metadata, free_doc_state),
        cmocka_unit_test_teardown(lists, free_doc_state),
        cmocka_unit_test_teardown(definition_lists, free_doc_state),
        cmocka_unit_test_teardown(preformatted, free_doc_state),
        cmocka_unit_test_teardown(table_spans_and_headers, free_doc_state),
        cmocka_unit_test_teardown(table_thead_caption_nested, free_doc_state),
        cmocka_unit_test_teardown(table_layout_and_edge_cases, free_doc_state),
        cmocka_unit_test_teardown(table_in_list, free_doc_state),
        cmocka_unit_test(table_size_caps),
        cmocka_unit_test_teardown(text_between_blocks, free_doc_state),
        cmocka_unit_test_teardown(page_chrome, free_doc_state),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(empty_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
