/*
 * test_docx.c - the DOCX parser (src/ingest/docx.c) through
 * rp_ingest_buffer() and rp_ingest_file().
 *
 * Test documents are ZIP archives built in memory with libzip from XML
 * written here: a [Content_Types].xml, word/document.xml and, where a test
 * needs them, word/styles.xml, word/numbering.xml and docProps/core.xml.
 * Hostile cases (broken archives, entity bombs, zip bombs, deep nesting)
 * must fail with a clear message, never crash or hang. When $PANDOC is set
 * (the test harness sets it) a Markdown example is also converted to DOCX
 * by pandoc and read back. Files go to a private directory under
 * $RANPIPE_TEST_TMP (or /tmp), removed by the test that made it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zip.h>

#include "ranpipe/buf.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

/* ---- building documents ---- */

#define W_NS "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
#define DOC_HEAD XML_DECL "<w:document xmlns:w=\"" W_NS "\"><w:body>"
#define DOC_TAIL "<w:sectPr/></w:body></w:document>"
#define STYLES_HEAD XML_DECL "<w:styles xmlns:w=\"" W_NS "\">"
#define STYLES_TAIL "</w:styles>"

/* A paragraph of one run in a style. */
#define PS(style, text)                                                                            \
    "<w:p><w:pPr><w:pStyle w:val=\"" style "\"/></w:pPr><w:r><w:t xml:space=\"preserve\">" text    \
    "</w:t></w:r></w:p>"
/* A paragraph without a style. */
#define P(text) "<w:p><w:r><w:t xml:space=\"preserve\">" text "</w:t></w:r></w:p>"
/* A paragraph style definition. */
#define STYLE(id, name, extra)                                                                     \
    "<w:style w:type=\"paragraph\" w:styleId=\"" id "\"><w:name w:val=\"" name "\"/>" extra        \
    "</w:style>"
/* A table cell with one paragraph. */
#define TC(text) "<w:tc>" P(text) "</w:tc>"

/* clang-format off */
static const char content_types[] =
    XML_DECL
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
    "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
    "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
/* clang-format on */

struct part {
    const char *name;
    const char *data;
    size_t len; /* 0: strlen(data) */
};

/* Returns a malloc'd ZIP archive of the parts in *len. */
static char *make_zip(const struct part *parts, size_t n, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        size_t l = parts[i].len ? parts[i].len : strlen(parts[i].data);
        zip_source_t *s = zip_source_buffer(za, parts[i].data, l, 0);
        assert_non_null(s);
        assert_true(zip_file_add(za, parts[i].name, s, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
    zip_int64_t size = zip_source_tell(src);
    assert_true(size > 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
    char *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(zip_source_read(src, buf, (zip_uint64_t)size), size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    *len = (size_t)size;
    return buf;
}

/* A DOCX of document.xml plus optional styles, numbering and core parts. */
static char *make_docx(const char *document, const char *styles, const char *numbering,
                       const char *core, size_t *len)
{
    struct part parts[5];
    size_t n = 0;
    parts[n++] = (struct part){"[Content_Types].xml", content_types, 0};
    parts[n++] = (struct part){"word/document.xml", document, 0};
    if (styles)
        parts[n++] = (struct part){"word/styles.xml", styles, 0};
    if (numbering)
        parts[n++] = (struct part){"word/numbering.xml", numbering, 0};
    if (core)
        parts[n++] = (struct part){"docProps/core.xml", core, 0};
    return make_zip(parts, n, len);
}

static enum rp_err parse_bytes(const char *data, size_t len, const struct rp_ingest_params *params,
                               struct rp_doc **doc, struct rp_error *err)
{
    rp_error_clear(err);
    return rp_ingest_buffer("specs/test.docx", RP_FORMAT_DOCX, data, len, params, doc, err);
}

/* Parses a DOCX that must be accepted. */
static struct rp_doc *parse_docx(const char *document, const char *styles, const char *numbering,
                                 const char *core)
{
    size_t len;
    char *zip = make_docx(document, styles, numbering, core, &len);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    enum rp_err e = parse_bytes(zip, len, NULL, &doc, &err);
    free(zip);
    if (e != RP_OK)
        fail_msg("cannot parse test.docx: %s (%s)", err.msg, rp_strerror(e));
    assert_non_null(doc);
    assert_int_equal(doc->format, RP_FORMAT_DOCX);
    return doc;
}

/* Parses bytes that must be refused with code want and a message holding
 * every needle (NULL-terminated list). */
static void expect_failure(const char *data, size_t len, const struct rp_ingest_params *params,
                           enum rp_err want, ...)
{
    struct rp_doc *doc = NULL;
    struct rp_error err;
    enum rp_err e = parse_bytes(data, len, params, &doc, &err);
    assert_null(doc);
    if (e != want)
        fail_msg("want %s, got %s: %s", rp_strerror(want), rp_strerror(e), err.msg);
    assert_int_equal(err.code, want);
    assert_non_null(strstr(err.msg, "cannot ingest 'specs/test.docx': "));
    va_list ap;
    va_start(ap, want);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        if (!strstr(err.msg, needle))
            fail_msg("message '%s' lacks '%s'", err.msg, needle);
    va_end(ap);
}

static void expect_docx_failure(const char *document, enum rp_err want, const char *needle)
{
    size_t len;
    char *zip = make_docx(document, NULL, NULL, NULL, &len);
    expect_failure(zip, len, NULL, want, needle, (const char *)NULL);
    free(zip);
}

/* Writes v little-endian into p[0..4). */
static void put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
}

/* ---- looking at documents ---- */

static int section_by_title(const struct rp_doc *doc, const char *title)
{
    for (size_t i = 0; i < doc->n_sections; i++)
        if (strcmp(doc->sections[i].title, title) == 0)
            return (int)i;
    fail_msg("no section titled '%s'", title);
    return -1;
}

static const struct rp_block *nth_block(const struct rp_doc *doc, enum rp_block_type t, size_t nth)
{
    for (size_t i = 0; i < doc->n_blocks; i++)
        if (doc->blocks[i].type == t && nth-- == 0)
            return &doc->blocks[i];
    fail_msg("no %s block #%zu", rp_block_type_name(t), nth);
    return NULL;
}

static size_t count_blocks(const struct rp_doc *doc, enum rp_block_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->n_blocks; i++)
        n += doc->blocks[i].type == t;
    return n;
}

static const char *cell(const struct rp_table *t, size_t r, size_t c)
{
    assert_true(r < t->n_rows && c < t->n_cols);
    return t->cells[r * t->n_cols + c];
}

static void assert_path(const struct rp_doc *doc, int s, const char *want)
{
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_doc_heading_path(doc, s, &b), RP_OK);
    assert_string_equal(b.data, want);
    rp_buf_release(&b);
}

static int free_doc_state(void **state)
{
    rp_doc_free(*state);
    *state = NULL;
    return 0;
}

static const char *tmp_root(void)
{
    const char *d = getenv("RANPIPE_TEST_TMP");
    return d && *d ? d : "/tmp";
}

static void make_tmp_dir(char *dir, size_t size)
{
    int w = snprintf(dir, size, "%s/test_docx.XXXXXX", tmp_root());
    assert_true(w > 0 && (size_t)w < size);
    assert_non_null(mkdtemp(dir));
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Returns a malloc'd string: head, rep n times, tail. */
static char *repeat(const char *head, const char *rep, size_t n, const char *tail)
{
    size_t hl = strlen(head), rl = strlen(rep), tl = strlen(tail);
    char *s = malloc(hl + rl * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * rl, rep, rl);
    memcpy(s + hl + rl * n, tail, tl + 1);
    return s;
}

/* ---- headings ---- */

static void headings_by_style_name(void **state)
{
    /* Style ids are not names: "Kop1" is Dutch Word's "heading 1". */
    /* clang-format off */
    const char *styles =
        STYLES_HEAD
        STYLE("Normal", "Normal", "")
        STYLE("Kop1", "heading 1", "")
        STYLE("Kop2", "heading 2", "")
        STYLE("Custom3", "Heading 3", "")
        STYLE("BodyText", "Body Text", "")
        STYLES_TAIL;
    const char *document =
        DOC_HEAD
        P("Preamble text.")
        PS("Kop1", "5\tProcedures")
        PS("BodyText", "General text.")
        PS("Kop2", "5.3  Connection   control")
        PS("Custom3", "5.3.3 RRC connection establishment")
        PS("BodyText", "Deep text.")
        PS("Heading4", "5.3.3.1 Undeclared style id")
        PS("Kop1", "6 Protocol data units")
        PS("Kop2", "")
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, styles, NULL, NULL);
    assert_int_equal(doc->n_sections, 6);
    int s5 = section_by_title(doc, "5 Procedures");
    int s53 = section_by_title(doc, "5.3 Connection control");
    int s533 = section_by_title(doc, "5.3.3 RRC connection establishment");
    int s5331 = section_by_title(doc, "5.3.3.1 Undeclared style id");
    int s6 = section_by_title(doc, "6 Protocol data units");
    assert_int_equal(doc->sections[s5].level, 1);
    assert_int_equal(doc->sections[s53].level, 2);
    assert_int_equal(doc->sections[s533].level, 3);
    assert_int_equal(doc->sections[s5331].level, 4);
    assert_int_equal(doc->sections[s6].parent, -1);
    assert_path(doc, s5331,
                "5 Procedures > 5.3 Connection control > 5.3.3 RRC connection establishment > "
                "5.3.3.1 Undeclared style id");
    assert_int_equal(doc->n_blocks, 3);
    assert_string_equal(doc->blocks[0].text, "Preamble text.");
    assert_int_equal(doc->blocks[0].section, 0);
    assert_int_equal(doc->blocks[1].section, s5);
    assert_int_equal(doc->blocks[2].section, s533);
    /* No title anywhere else: the first level-1 heading. */
    assert_string_equal(doc->title, "5 Procedures");
}

static void headings_by_outline_level(void **state)
{
    /* clang-format off */
    const char *styles =
        STYLES_HEAD
        STYLE("Chapter", "Chapter", "<w:pPr><w:outlineLvl w:val=\"0\"/></w:pPr>")
        STYLE("ChapterBis", "Chapter Bis", "<w:basedOn w:val=\"Chapter\"/>")
        STYLE("Kop2", "heading 2", "")
        STYLE("SubKop", "Sub Kop", "<w:basedOn w:val=\"Kop2\"/>")
        STYLE("Loop1", "Loop One", "<w:basedOn w:val=\"Loop2\"/>")
        STYLE("Loop2", "Loop Two", "<w:basedOn w:val=\"Loop1\"/>")
        STYLE("Flat", "Flat", "<w:basedOn w:val=\"Kop2\"/><w:pPr><w:outlineLvl w:val=\"9\"/></w:pPr>")
        STYLES_TAIL;
    const char *document =
        DOC_HEAD
        PS("Foreword", "Not a heading: unknown style")
        PS("Chapter", "Annex A")
        PS("ChapterBis", "Annex B")
        "<w:p><w:pPr><w:outlineLvl w:val=\"2\"/></w:pPr><w:r><w:t>Direct level 3</w:t></w:r></w:p>"
        PS("SubKop", "Inherited level 2")
        PS("Loop1", "A cycle is a paragraph")
        PS("Flat", "Outline level 9 is body text")
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, styles, NULL, NULL);
    assert_int_equal(doc->n_sections, 5);
    assert_int_equal(doc->sections[section_by_title(doc, "Annex A")].level, 1);
    assert_int_equal(doc->sections[section_by_title(doc, "Annex B")].level, 1);
    assert_int_equal(doc->sections[section_by_title(doc, "Direct level 3")].level, 3);
    assert_int_equal(doc->sections[section_by_title(doc, "Inherited level 2")].level, 2);
    assert_int_equal(doc->n_blocks, 3);
    assert_string_equal(doc->blocks[0].text, "Not a heading: unknown style");
    assert_string_equal(doc->blocks[1].text, "A cycle is a paragraph");
    assert_string_equal(doc->blocks[2].text, "Outline level 9 is body text");
}

static void title_sources(void **state)
{
    (void)state;
    /* A Title paragraph is the title and no block. */
    struct rp_doc *doc = parse_docx(DOC_HEAD PS("Title", "NR; Radio Resource Control")
                                        PS("Heading1", "Foreword") P("Text.") DOC_TAIL,
                                    NULL, NULL, NULL);
    assert_string_equal(doc->title, "NR; Radio Resource Control");
    assert_int_equal(doc->n_blocks, 1);
    rp_doc_free(doc);
    /* Boilerplate headings are skipped; the file name is the last resort. */
    doc = parse_docx(DOC_HEAD PS("Heading1", "Foreword") PS("Heading1", "1 Scope") DOC_TAIL, NULL,
                     NULL, NULL);
    assert_string_equal(doc->title, "1 Scope");
    rp_doc_free(doc);
    doc = parse_docx(DOC_HEAD PS("Heading2", "Only level 2") DOC_TAIL, NULL, NULL, NULL);
    assert_string_equal(doc->title, "test.docx");
    rp_doc_free(doc);
}

/* ---- 3GPP styles ---- */

/* clang-format off */
static const char tgpp_styles[] =
    STYLES_HEAD
    STYLE("Normal", "Normal", "")
    STYLE("Heading1", "heading 1", "<w:pPr><w:outlineLvl w:val=\"0\"/></w:pPr>")
    STYLE("Heading4", "heading 4", "<w:basedOn w:val=\"Heading1\"/><w:pPr><w:outlineLvl w:val=\"3\"/></w:pPr>")
    STYLE("EX", "EX", "")
    STYLE("NO", "NO", "<w:basedOn w:val=\"EX\"/>")
    STYLE("B1", "B1", "<w:basedOn w:val=\"List\"/>")
    STYLE("B2", "B2", "<w:basedOn w:val=\"List2\"/>")
    STYLE("B3", "B3", "")
    STYLE("PL", "PL", "")
    STYLE("TH", "TH", "")
    STYLE("TAL", "TAL", "")
    STYLE("TAH", "TAH", "<w:basedOn w:val=\"TAL\"/>")
    STYLE("TAN", "TAN", "<w:basedOn w:val=\"TAL\"/>")
    STYLE("EditorsNote", "Editor's Note", "<w:basedOn w:val=\"NO\"/>")
    STYLE("TOC1", "toc 1", "")
    STYLES_TAIL;
/* clang-format on */

static void tgpp_lists_code_notes(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        PS("TOC1", "5.3.3\tRRC connection establishment\t12")
        PS("Heading4", "5.3.3.4\tReception of the RRCSetup by the UE")
        P("The UE shall perform the following actions upon reception of the RRCSetup:")
        PS("B1", "1&gt;\tif the RRCSetup is received in response to an RRCReestablishmentRequest:")
        PS("B2", "2&gt;\tdiscard any stored AS context;")
        PS("B2", "2&gt;\trelease radio resources for all established RBs;")
        PS("B3", "-\tthe third level keeps its text")
        PS("B1", "1&gt;\tset the content of the RRCSetupComplete message.")
        "<w:p/>"
        PS("NO", "NOTE:\tThe UE may ignore the field.")
        PS("EX", "[1]\t3GPP TR 21.905: \"Vocabulary for 3GPP Specifications\".")
        PS("EX", "[2]\t3GPP TS 38.300: \"NR; Overall description\".")
        PS("EditorsNote", "Editor's note: FFS whether T300 applies.")
        PS("TH", "Table 5.3.3.4-1: Timers")
        PS("PL", "-- ASN1START")
        PS("PL", "RRCSetup ::=\tSEQUENCE {")
        PS("PL", "")
        PS("PL", "    rrc-TransactionIdentifier   RRC-TransactionIdentifier")
        PS("PL", "}")
        PS("PL", "-- ASN1STOP")
        PS("TAL", "TAL outside a table is a paragraph")
        PS("Heading8", "Annex A (informative):\tChange history")
        PS("Heading1", "A.1\tGeneral")
        PS("Heading9", "Not an annex title")
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, tgpp_styles, NULL, NULL);
    assert_int_equal(doc->n_sections, 5); /* the TOC line is skipped */
    int annex = section_by_title(doc, "Annex A (informative): Change history");
    assert_int_equal(doc->sections[annex].level, 1);
    assert_int_equal(doc->sections[annex].parent, -1);
    assert_int_equal(doc->sections[section_by_title(doc, "A.1 General")].parent, -1);
    assert_int_equal(doc->sections[section_by_title(doc, "Not an annex title")].level, 9);
    assert_int_equal(doc->sections[1].level, 4);
    assert_string_equal(doc->sections[1].title, "5.3.3.4 Reception of the RRCSetup by the UE");
    assert_int_equal(count_blocks(doc, RP_BLOCK_LIST), 2);
    assert_string_equal(
        nth_block(doc, RP_BLOCK_LIST, 0)->text,
        "- if the RRCSetup is received in response to an RRCReestablishmentRequest:\n"
        "  - discard any stored AS context;\n"
        "  - release radio resources for all established RBs;\n"
        "    - the third level keeps its text\n"
        "- set the content of the RRCSetupComplete message.");
    assert_string_equal(nth_block(doc, RP_BLOCK_LIST, 1)->text,
                        "- [1]\t3GPP TR 21.905: \"Vocabulary for 3GPP Specifications\".\n"
                        "- [2]\t3GPP TS 38.300: \"NR; Overall description\".");
    assert_int_equal(count_blocks(doc, RP_BLOCK_CODE), 1);
    assert_string_equal(
        nth_block(doc, RP_BLOCK_CODE, 0)->text,
        "-- ASN1START\nRRCSetup ::=\tSEQUENCE {\n\n"
        "    rrc-TransactionIdentifier   RRC-TransactionIdentifier\n}\n-- ASN1STOP");
    /* Notes, editor's notes (based on NO, based on EX) and table titles are paragraphs. */
    assert_int_equal(count_blocks(doc, RP_BLOCK_PARAGRAPH), 5);
    assert_string_equal(nth_block(doc, RP_BLOCK_PARAGRAPH, 1)->text,
                        "NOTE:\tThe UE may ignore the field.");
    assert_string_equal(nth_block(doc, RP_BLOCK_PARAGRAPH, 2)->text,
                        "Editor's note: FFS whether T300 applies.");
    assert_string_equal(nth_block(doc, RP_BLOCK_PARAGRAPH, 3)->text, "Table 5.3.3.4-1: Timers");
    assert_string_equal(nth_block(doc, RP_BLOCK_PARAGRAPH, 4)->text,
                        "TAL outside a table is a paragraph");
    /* Order: paragraph, list, note, list, editor's note, TH, code, TAL. */
    assert_int_equal(doc->blocks[1].type, RP_BLOCK_LIST);
    assert_int_equal(doc->blocks[6].type, RP_BLOCK_CODE);
}

static void tgpp_table_header_style(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        PS("TH", "Table 6.3.2-1: Parameters")
        "<w:tbl><w:tr><w:tc>"
        PS("TAH", "Field")
        "</w:tc><w:tc>"
        PS("TAH", "Type")
        "</w:tc><w:tc>"
        PS("TAH", "Range")
        "</w:tc><w:tc>"
        PS("TAH", "Default")
        "</w:tc></w:tr><w:tr><w:tc>"
        PS("TAL", "t300")
        "</w:tc><w:tc>"
        PS("TAL", "ENUMERATED")
        "</w:tc><w:tc>"
        PS("TAL", "ms100..ms2000")
        "</w:tc><w:tc>"
        PS("TAL", "ms1000")
        "</w:tc></w:tr><w:tr><w:tc>"
        PS("TAL", "n310")
        "</w:tc><w:tc>"
        PS("TAL", "ENUMERATED")
        "</w:tc><w:tc>"
        PS("TAL", "n1..n20")
        "</w:tc><w:tc>"
        PS("TAN", "-")
        "</w:tc></w:tr></w:tbl>"
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, tgpp_styles, NULL, NULL);
    const struct rp_block *b = nth_block(doc, RP_BLOCK_TABLE, 0);
    const struct rp_table *t = b->table;
    assert_int_equal(t->n_rows, 3);
    assert_int_equal(t->n_cols, 4);
    assert_int_equal(t->n_header, 1);
    assert_string_equal(cell(t, 0, 0), "Field");
    assert_string_equal(cell(t, 2, 2), "n1..n20");
    assert_string_equal(b->text, "Field | Type | Range | Default\n"
                                 "t300 | ENUMERATED | ms100..ms2000 | ms1000\n"
                                 "n310 | ENUMERATED | n1..n20 | -");
    /* "Field" is no parameter column: no records. */
    assert_int_equal(doc->n_params, 0);
}

/* ---- tables ---- */

static void tables_spans_merges_headers(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        "<w:tbl><w:tblPr><w:tblStyle w:val=\"Table\"/></w:tblPr>"
        "<w:tr><w:trPr><w:tblHeader/></w:trPr><w:tc><w:tcPr><w:gridSpan w:val=\"2\"/></w:tcPr>"
        P("Identity")
        "</w:tc>"
        TC("Value")
        "</w:tr><w:tr><w:trPr><w:tblHeader w:val=\"true\"/></w:trPr>"
        TC("MO Class")
        TC("Attribute")
        TC("Default")
        "</w:tr><w:tr><w:tc><w:tcPr><w:vMerge w:val=\"restart\"/></w:tcPr>"
        P("NRCellDU")
        "</w:tc>"
        TC("ssbPeriodicity")
        TC("20")
        "</w:tr><w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>"
        TC("qRxLevMin")
        "<w:tc>"
        P("-140")
        P("(dBm)")
        "</w:tc></w:tr>"
        "<w:tr><w:tc><w:tcPr><w:gridSpan w:val=\"99999999999\"/></w:tcPr><w:p/></w:tc></w:tr>"
        "</w:tbl>"
        /* A table whose first row is no header row: still the header. */
        "<w:tbl><w:tr><w:trPr><w:tblHeader w:val=\"0\"/></w:trPr>"
        TC("a")
        TC("b")
        "</w:tr><w:tr>"
        TC("c")
        "</w:tr></w:tbl>"
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, NULL, NULL, NULL);
    assert_int_equal(count_blocks(doc, RP_BLOCK_TABLE), 2);
    const struct rp_table *t = nth_block(doc, RP_BLOCK_TABLE, 0)->table;
    /* The row of empty cells is dropped; an absurd grid span counts as 1. */
    assert_int_equal(t->n_rows, 4);
    assert_int_equal(t->n_cols, 3);
    assert_int_equal(t->n_header, 2);
    assert_string_equal(cell(t, 0, 0), "Identity");
    assert_string_equal(cell(t, 0, 1), "Identity"); /* the span repeats the text */
    assert_string_equal(cell(t, 0, 2), "Value");
    assert_string_equal(cell(t, 2, 0), "NRCellDU");
    assert_string_equal(cell(t, 3, 0), ""); /* vMerge continue */
    assert_string_equal(cell(t, 3, 2), "-140\n(dBm)");
    /* The bottom header row names the parameter columns. */
    assert_int_equal(doc->n_params, 2);
    assert_string_equal(doc->params[0].mo_class, "NRCellDU");
    assert_string_equal(doc->params[0].name, "ssbPeriodicity");
    assert_string_equal(doc->params[0].default_value, "20");
    assert_null(doc->params[1].mo_class);
    assert_string_equal(doc->params[1].name, "qRxLevMin");
    const struct rp_table *t2 = nth_block(doc, RP_BLOCK_TABLE, 1)->table;
    assert_int_equal(t2->n_header, 1);
    assert_int_equal(t2->n_rows, 2);
    assert_string_equal(cell(t2, 1, 1), "");
}

static void tables_nested(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        "<w:tbl><w:tr>"
        TC("Message")
        TC("Content")
        "</w:tr><w:tr>"
        TC("RRCSetup")
        "<w:tc>"
        P("Contains:")
        "<w:tbl><w:tr>"
        TC("IE")
        TC("Need")
        "</w:tr><w:tr>"
        TC("masterCellGroup")
        TC("M")
        "</w:tr></w:tbl>"
        P("End.")
        "</w:tc></w:tr></w:tbl>"
        P("After the table.")
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, NULL, NULL, NULL);
    assert_int_equal(doc->n_blocks, 2);
    const struct rp_table *t = nth_block(doc, RP_BLOCK_TABLE, 0)->table;
    assert_int_equal(t->n_rows, 2);
    assert_int_equal(t->n_cols, 2);
    assert_string_equal(cell(t, 1, 1), "Contains:\nIE | Need\nmasterCellGroup | M\nEnd.");
    assert_string_equal(doc->blocks[1].text, "After the table.");
}

/* ---- runs ---- */

static void runs_revisions_fields_breaks(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        /* Tracked changes: deletions dropped, insertions kept. */
        "<w:p><w:r><w:t xml:space=\"preserve\">The timer is </w:t></w:r>"
        "<w:del w:id=\"1\" w:author=\"x\"><w:r><w:delText>T310</w:delText></w:r></w:del>"
        "<w:ins w:id=\"2\" w:author=\"x\"><w:r><w:t>T311</w:t></w:r></w:ins>"
        "<w:r><w:delText>gone</w:delText><w:t>.</w:t></w:r></w:p>"
        /* A complex field: instructions skipped, result kept; a simple field. */
        "<w:p><w:r><w:t xml:space=\"preserve\">See clause </w:t></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r>"
        "<w:r><w:instrText xml:space=\"preserve\"> REF _Ref123 \\h </w:instrText></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>5.3.3</w:t></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>"
        "<w:r><w:t xml:space=\"preserve\"> and page </w:t></w:r>"
        "<w:fldSimple w:instr=\" PAGE \"><w:r><w:t>7</w:t></w:r></w:fldSimple></w:p>"
        /* Tabs, breaks, hyphens, symbols, hidden text, hyperlinks, content controls. */
        "<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:cr/><w:t>d</w:t>"
        "<w:noBreakHyphen/><w:t>e</w:t><w:sym w:font=\"Symbol\" w:char=\"F0B7\"/><w:softHyphen/>"
        "<w:t>f</w:t></w:r><w:r><w:rPr><w:vanish/></w:rPr><w:t>hidden</w:t></w:r>"
        "<w:r><w:rPr><w:vanish w:val=\"false\"/></w:rPr><w:t>g</w:t></w:r>"
        "<w:hyperlink w:anchor=\"x\"><w:r><w:t>h</w:t></w:r></w:hyperlink>"
        "<w:sdt><w:sdtPr/><w:sdtContent><w:r><w:t>i</w:t></w:r></w:sdtContent></w:sdt>"
        "<w:smartTag><w:r><w:t>j</w:t></w:r></w:smartTag></w:p>"
        /* A whole deleted paragraph's text, and a block-level content control. */
        "<w:p><w:del w:id=\"3\" w:author=\"x\"><w:r><w:delText>All gone.</w:delText></w:r></w:del></w:p>"
        "<w:sdt><w:sdtContent>"
        P("In a content control.")
        "</w:sdtContent></w:sdt>"
        /* A field begun and never separated ends with its paragraph. */
        "<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:t>skipped</w:t></w:r></w:p>"
        P("Next paragraph survives.")
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, NULL, NULL, NULL);
    assert_int_equal(doc->n_blocks, 5);
    assert_string_equal(doc->blocks[0].text, "The timer is T311.");
    assert_string_equal(doc->blocks[1].text, "See clause 5.3.3 and page 7");
    assert_string_equal(doc->blocks[2].text, "a\tb\nc\nd-efghij");
    assert_string_equal(doc->blocks[3].text, "In a content control.");
    assert_string_equal(doc->blocks[4].text, "Next paragraph survives.");
}

static void math_meta_and_containers(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        PS("Subtitle", "Radio  Resource Control")
        PS("Author", "MCC")
        PS("Date", "2024-03")
        PS("Author", "A second author is ignored")
        /* Office Math: the text of every m:t. */
        "<w:p><w:r><w:t xml:space=\"preserve\">Power: </w:t></w:r>"
        "<m:oMath xmlns:m=\"http://schemas.openxmlformats.org/officeDocument/2006/math\">"
        "<m:sSub><m:e><m:r><m:t>P</m:t></m:r></m:e><m:sub><m:r><m:t>0</m:t></m:r></m:sub></m:sSub>"
        "<m:r><m:t>+&#945;PL</m:t></m:r></m:oMath></w:p>"
        /* Drawings and other namespaces carry no text. */
        "<w:p xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\">"
        "<mc:AlternateContent><mc:Fallback><w:r><w:t>drawing</w:t></w:r></mc:Fallback>"
        "</mc:AlternateContent><w:r><w:t>Text.</w:t></w:r></w:p>"
        /* A list item with a line break continues indented. */
        "<w:p><w:pPr><w:pStyle w:val=\"B1\"/></w:pPr><w:r><w:t>-\tfirst line</w:t><w:br/>"
        "<w:t>second line</w:t></w:r></w:p>"
        /* Block-level custom XML and insertions hold paragraphs. */
        "<w:customXml w:element=\"x\">"
        P("In custom XML.")
        "</w:customXml><w:ins w:id=\"1\">"
        P("Inserted paragraph.")
        "</w:ins>"
        /* Content controls in cells; a wide span is clamped to 64 columns. */
        "<w:tbl><w:tr><w:tc><w:sdt><w:sdtContent>"
        P("In a cell control.")
        "</w:sdtContent></w:sdt></w:tc><w:tc><w:tcPr><w:gridSpan w:val=\"100\"/></w:tcPr>"
        P("wide")
        "</w:tc></w:tr></w:tbl>"
        DOC_TAIL;
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, NULL, NULL, NULL);
    assert_string_equal(rp_doc_get_meta(doc, "subtitle"), "Radio Resource Control");
    assert_string_equal(rp_doc_get_meta(doc, "author"), "MCC");
    assert_string_equal(rp_doc_get_meta(doc, "date"), "2024-03");
    assert_int_equal(doc->n_blocks, 6);
    assert_string_equal(doc->blocks[0].text, "Power: P0+\xCE\xB1PL");
    assert_string_equal(doc->blocks[1].text, "Text.");
    assert_string_equal(doc->blocks[2].text, "- first line\n  second line");
    assert_string_equal(doc->blocks[3].text, "In custom XML.");
    assert_string_equal(doc->blocks[4].text, "Inserted paragraph.");
    const struct rp_table *t = doc->blocks[5].table;
    assert_int_equal(t->n_cols, 65);
    assert_string_equal(cell(t, 0, 0), "In a cell control.");
    assert_string_equal(cell(t, 0, 64), "wide");
}

/* ---- numbering ---- */

static void numbering_lists(void **state)
{
    /* clang-format off */
    const char *numbering =
        XML_DECL "<w:numbering xmlns:w=\"" W_NS "\">"
        "<w:abstractNum w:abstractNumId=\"0\">"
        "<w:lvl w:ilvl=\"0\"><w:start w:val=\"1\"/><w:numFmt w:val=\"decimal\"/></w:lvl>"
        "<w:lvl w:ilvl=\"1\"><w:start w:val=\"1\"/><w:numFmt w:val=\"lowerLetter\"/></w:lvl>"
        "<w:lvl w:ilvl=\"2\"><w:numFmt w:val=\"bullet\"/></w:lvl></w:abstractNum>"
        "<w:abstractNum w:abstractNumId=\"1\">"
        "<w:lvl w:ilvl=\"0\"><w:numFmt w:val=\"bullet\"/></w:lvl>"
        "<w:lvl w:ilvl=\"1\"><w:numFmt w:val=\"upperRoman\"/></w:lvl></w:abstractNum>"
        "<w:num w:numId=\"1\"><w:abstractNumId w:val=\"0\"/></w:num>"
        "<w:num w:numId=\"2\"><w:abstractNumId w:val=\"1\"/>"
        "<w:lvlOverride w:ilvl=\"1\"><w:startOverride w:val=\"3\"/></w:lvlOverride></w:num>"
        "</w:numbering>";
    /* clang-format on */
#define LI(num, lvl, text)                                                                         \
    "<w:p><w:pPr><w:pStyle w:val=\"ListParagraph\"/><w:numPr><w:ilvl w:val=\"" lvl "\"/>"          \
    "<w:numId w:val=\"" num "\"/></w:numPr></w:pPr><w:r><w:t>" text "</w:t></w:r></w:p>"
    /* clang-format off */
    const char *document =
        DOC_HEAD
        P("Steps:")
        LI("1", "0", "Lock the cell")
        LI("1", "1", "check")
        LI("1", "1", "wait")
        LI("1", "2", "really")
        LI("1", "0", "Unlock the cell")
        LI("1", "1", "again")
        "<w:p/>"
        LI("9", "0", "unknown numbering is a bullet")
        P("Bullets:")
        LI("2", "0", "one")
        LI("2", "1", "three")
        LI("2", "1", "four")
        LI("0", "0", "numId 0 is no list")
        DOC_TAIL;
    /* clang-format on */
#undef LI
    struct rp_doc *doc = *state = parse_docx(document, NULL, numbering, NULL);
    assert_int_equal(count_blocks(doc, RP_BLOCK_LIST), 2);
    assert_string_equal(nth_block(doc, RP_BLOCK_LIST, 0)->text,
                        "1. Lock the cell\n  a. check\n  b. wait\n    - really\n"
                        "2. Unlock the cell\n  a. again\n- unknown numbering is a bullet");
    assert_string_equal(nth_block(doc, RP_BLOCK_LIST, 1)->text, "- one\n  III. three\n  IV. four");
    assert_string_equal(doc->blocks[doc->n_blocks - 1].text, "numId 0 is no list");
    assert_int_equal(doc->blocks[doc->n_blocks - 1].type, RP_BLOCK_PARAGRAPH);
}

/* ---- metadata ---- */

static void core_properties(void **state)
{
    /* clang-format off */
    const char *core =
        XML_DECL
        "<cp:coreProperties "
        "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\">"
        "<dc:title>3GPP TS 38.331  V17.0.0</dc:title><dc:creator>MCC</dc:creator>"
        "<cp:keywords>NR, RRC</cp:keywords><dc:subject>Radio Resource Control</dc:subject>"
        "<cp:revision>12</cp:revision><dc:description></dc:description>"
        "<dcterms:created>2022-03-01T00:00:00Z</dcterms:created></cp:coreProperties>";
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(
        DOC_HEAD PS("Title", "A Title paragraph loses") P("x") DOC_TAIL, NULL, NULL, core);
    assert_string_equal(doc->title, "3GPP TS 38.331 V17.0.0");
    assert_string_equal(rp_doc_get_meta(doc, "title"), "3GPP TS 38.331 V17.0.0");
    assert_string_equal(rp_doc_get_meta(doc, "author"), "MCC");
    assert_string_equal(rp_doc_get_meta(doc, "keywords"), "NR, RRC");
    assert_string_equal(rp_doc_get_meta(doc, "subject"), "Radio Resource Control");
    assert_string_equal(rp_doc_get_meta(doc, "revision"), "12");
    assert_null(rp_doc_get_meta(doc, "description")); /* empty values are left out */
    assert_null(rp_doc_get_meta(doc, "created"));
    assert_int_equal(doc->n_meta, 5);
}

static void minimal_and_empty_documents(void **state)
{
    (void)state;
    /* No styles, no properties, an empty body. */
    struct rp_doc *doc = parse_docx(DOC_HEAD DOC_TAIL, NULL, NULL, NULL);
    assert_int_equal(doc->n_blocks, 0);
    assert_int_equal(doc->n_sections, 1);
    assert_string_equal(doc->title, "test.docx");
    rp_doc_free(doc);
    /* Strict OOXML namespace and a part name in other case. */
    /* clang-format off */
    const char *strict =
        XML_DECL
        "<w:document xmlns:w=\"http://purl.oclc.org/ooxml/wordprocessingml/main\"><w:body>"
        P("Strict.")
        "</w:body></w:document>";
    /* clang-format on */
    struct part parts[] = {{"[Content_Types].xml", content_types, 0},
                           {"Word/Document.xml", strict, 0}};
    size_t len;
    char *zip = make_zip(parts, 2, &len);
    struct rp_error err;
    assert_int_equal(parse_bytes(zip, len, NULL, &doc, &err), RP_OK);
    assert_int_equal(doc->n_blocks, 1);
    assert_string_equal(doc->blocks[0].text, "Strict.");
    rp_doc_free(doc);
    free(zip);
}

/* ---- streaming: the body is read one paragraph or table row at a time ---- */

static void addf(struct rp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void addf(struct rp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    assert_int_equal(rp_buf_vaddf(b, fmt, ap), RP_OK);
    va_end(ap);
}

static void streamed_long_body(void **state)
{
    /* Far more XML than libzip and libxml2 read at once: headings, lists,
     * code and tables cross every read boundary and come out whole. */
    enum { N = 1500 };
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
#define CLAUSE                                                                                     \
    PS("Heading1", "%d Clause")                                                                    \
    P("Text of clause %d, long enough to take some room in the stream.")                           \
    PS("B1", "-\tfirst item %d")                                                                   \
    PS("B2", "-\tsecond item %d")                                                                  \
    PS("PL", "code line %d")                                                                       \
    "<w:tbl><w:tblPr/><w:tr>" TC("Name") TC("Value") "</w:tr><w:tr>" TC("n%d")                     \
        TC("%d") "</w:tr></w:tbl>"
    addf(&b, "%s", DOC_HEAD);
    for (int i = 0; i < N; i++)
        addf(&b, CLAUSE, i, i, i, i, i, i, i);
#undef CLAUSE
    addf(&b, "%s", DOC_TAIL);
    struct rp_doc *doc = *state = parse_docx(b.data, tgpp_styles, NULL, NULL);
    rp_buf_release(&b);
    assert_int_equal(doc->n_sections, N + 1);
    assert_int_equal(doc->n_blocks, 4 * N);
    assert_string_equal(doc->title, "0 Clause");
    char want[200];
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof(want), "%d Clause", i);
        assert_string_equal(doc->sections[i + 1].title, want);
        assert_int_equal(doc->sections[i + 1].level, 1);
        const struct rp_block *blk = &doc->blocks[4 * i];
        assert_int_equal(blk[0].section, i + 1);
        snprintf(want, sizeof(want),
                 "Text of clause %d, long enough to take some room in the stream.", i);
        assert_string_equal(blk[0].text, want);
        assert_int_equal(blk[1].type, RP_BLOCK_LIST);
        snprintf(want, sizeof(want), "- first item %d\n  - second item %d", i, i);
        assert_string_equal(blk[1].text, want);
        assert_int_equal(blk[2].type, RP_BLOCK_CODE);
        snprintf(want, sizeof(want), "code line %d", i);
        assert_string_equal(blk[2].text, want);
        assert_int_equal(blk[3].type, RP_BLOCK_TABLE);
        assert_int_equal(blk[3].table->n_header, 1);
        snprintf(want, sizeof(want), "Name | Value\nn%d | %d", i, i);
        assert_string_equal(blk[3].text, want);
    }
}

static void streamed_containers(void **state)
{
    /* clang-format off */
    const char *document =
        DOC_HEAD
        "Text and <!-- comments --> between blocks are no blocks."
        "<w:tbl/><w:tbl></w:tbl><w:sdt/><w:customXml/><w:ins></w:ins>"
        "<w:sdt><w:sdtPr><w:alias w:val=\"x\"/></w:sdtPr><w:sdtContent/></w:sdt>"
        "<w:sdt><w:sdtContent>"
        P("First content.")
        "</w:sdtContent><w:sdtContent>"
        P("A second content is ignored.")
        "</w:sdtContent></w:sdt>"
        /* Rows are read one at a time; a row inside a row-level control is skipped. */
        "<w:ins><w:sdt><w:sdtContent><w:tbl><w:tblPr/><w:tblGrid/>"
        "<w:tr>" TC("a") TC("b") "</w:tr>"
        "<w:sdt><w:sdtContent><w:tr>" TC("in a row control") "</w:tr></w:sdtContent></w:sdt>"
        "<w:tr>" TC("c") TC("d") "</w:tr>"
        "</w:tbl></w:sdtContent></w:sdt></w:ins>"
        "<w:unknown>"
        P("Inside an unknown element.")
        "</w:unknown>"
        P("Last.")
        "<w:sectPr/></w:body><w:body>"
        P("A second body is ignored.")
        "</w:body></w:document>";
    /* clang-format on */
    struct rp_doc *doc = *state = parse_docx(document, NULL, NULL, NULL);
    assert_int_equal(doc->n_blocks, 3);
    assert_string_equal(doc->blocks[0].text, "First content.");
    assert_int_equal(doc->blocks[1].type, RP_BLOCK_TABLE);
    assert_string_equal(doc->blocks[1].text, "a | b\nc | d");
    assert_string_equal(doc->blocks[2].text, "Last.");
}

/* ---- hostile input ---- */

static void hostile_not_a_zip(void **state)
{
    (void)state;
    expect_failure("", 0, NULL, RP_ERR_PARSE, "not a valid DOCX (ZIP) file: ", (const char *)NULL);
    const char garbage[] = "PK\x03\x04 this is not really an archive at all, just bytes";
    expect_failure(garbage, sizeof(garbage) - 1, NULL, RP_ERR_PARSE, "not a valid DOCX (ZIP) file",
                   (const char *)NULL);
    unsigned char noise[4096];
    unsigned s = 12345;
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
    expect_failure((const char *)noise, sizeof(noise), NULL, RP_ERR_PARSE,
                   "not a valid DOCX (ZIP) file", (const char *)NULL);
    /* A truncated archive: its central directory is gone. */
    size_t len;
    char *zip = make_docx(DOC_HEAD P("Some text that makes the archive longer.") DOC_TAIL, NULL,
                          NULL, NULL, &len);
    for (size_t cut = len - 1; cut > 0; cut = cut > 64 ? cut - 64 : 0)
        expect_failure(zip, cut, NULL, RP_ERR_PARSE, "not a valid DOCX (ZIP) file",
                       (const char *)NULL);
    free(zip);
    /* A damaged member: document.xml first, one byte of its data changed. */
    struct part parts[] = {
        {"word/document.xml", DOC_HEAD P("Damaged text, long enough to deflate.") DOC_TAIL, 0},
        {"[Content_Types].xml", content_types, 0}};
    zip = make_zip(parts, 2, &len);
    size_t data_at = 30 + (size_t)(unsigned char)zip[26] + ((size_t)(unsigned char)zip[27] << 8) +
                     (size_t)(unsigned char)zip[28] + ((size_t)(unsigned char)zip[29] << 8);
    zip[data_at + 10] ^= 0x55;
    expect_failure(zip, len, NULL, RP_ERR_PARSE,
                   "cannot read word/document.xml: ", (const char *)NULL);
    free(zip);
}

static void hostile_no_document_part(void **state)
{
    (void)state;
    struct part parts[] = {{"[Content_Types].xml", content_types, 0},
                           {"xl/workbook.xml", XML_DECL "<workbook/>", 0}};
    size_t len;
    char *zip = make_zip(parts, 2, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "no word/document.xml: not a Word document",
                   (const char *)NULL);
    free(zip);
}

static void hostile_malformed_xml(void **state)
{
    (void)state;
    expect_docx_failure(DOC_HEAD "<w:p><w:r><w:t>unclosed</w:r></w:p>" DOC_TAIL, RP_ERR_PARSE,
                        "word/document.xml is not well-formed XML (line 2");
    expect_docx_failure("", RP_ERR_PARSE, "word/document.xml is not well-formed XML");
    expect_docx_failure("\xff\xfe garbage", RP_ERR_PARSE, "is not well-formed XML");
    expect_docx_failure(XML_DECL "<other/>", RP_ERR_PARSE, "has no w:document/w:body");
    /* A broken optional part is an error too. */
    size_t len;
    char *zip = make_docx(DOC_HEAD DOC_TAIL, STYLES_HEAD "<w:style>", NULL, NULL, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "word/styles.xml is not well-formed XML",
                   (const char *)NULL);
    free(zip);
}

static void hostile_entities(void **state)
{
    (void)state;
    /* clang-format off */
    const char *laughs =
        XML_DECL
        "<!DOCTYPE w:document [\n"
        "<!ENTITY a \"lollollollollollollollollollol\">\n"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
        "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
        "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
        "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
        "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
        "<!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
        "<!ENTITY j \"&i;&i;&i;&i;&i;&i;&i;&i;&i;&i;\">\n"
        "]>\n"
        "<w:document xmlns:w=\"" W_NS "\"><w:body>"
        "<w:p><w:r><w:t>&j;&j;&j;&j;</w:t></w:r></w:p>"
        "</w:body></w:document>";
    /* clang-format on */
    clock_t t0 = clock();
    expect_docx_failure(laughs, RP_ERR_PARSE, "word/document.xml");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    /* External entities are neither loaded nor accepted. */
    /* clang-format off */
    const char *xxe =
        XML_DECL
        "<!DOCTYPE w:document [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<w:document xmlns:w=\"" W_NS "\"><w:body>"
        "<w:p><w:r><w:t>&x;</w:t></w:r></w:p>"
        "</w:body></w:document>";
    /* clang-format on */
    expect_docx_failure(xxe, RP_ERR_PARSE, "DOCTYPE");
    /* Any DOCTYPE at all, even a harmless one. */
    expect_docx_failure(XML_DECL "<!DOCTYPE w:document><w:document xmlns:w=\"" W_NS
                                 "\"><w:body/></w:document>",
                        RP_ERR_PARSE, "word/document.xml has a DOCTYPE declaration");
}

static void hostile_zip_bomb(void **state)
{
    (void)state;
    /* 60 MiB of spaces deflate to about 60 KiB: a ratio near 1000. */
    size_t n = (size_t)60 << 20;
    char *big = repeat(DOC_HEAD "<w:p><w:r><w:t>", " ", n, "</w:t></w:r></w:p>" DOC_TAIL);
    struct part parts[] = {{"[Content_Types].xml", content_types, 0},
                           {"word/document.xml", big, 0}};
    size_t len;
    char *zip = make_zip(parts, 2, &len);
    assert_true(len < ((size_t)1 << 20));
    expect_failure(zip, len, NULL, RP_ERR_TOOBIG, "word/document.xml expands more than 200 times",
                   "zip bomb", (const char *)NULL);
    /* Without the ratio check, the size cap stops it. */
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_compression_ratio = 1e9;
    p.max_file_bytes = (size_t)16 << 20;
    expect_failure(zip, len, &p, RP_ERR_TOOBIG,
                   "word/document.xml is 62914773 bytes, larger than the 16777216 byte limit",
                   (const char *)NULL);
    free(zip);
    /* Declared sizes are not trusted: the archive says 1000 bytes. */
    struct part first[] = {{"word/document.xml", big, 0},
                           {"[Content_Types].xml", content_types, 0}};
    zip = make_zip(first, 2, &len);
    free(big);
    put_le32(zip + 22, 1000); /* the local header */
    char *central = NULL;
    for (size_t i = 0; i + 4 <= len && !central; i++)
        if (memcmp(zip + i, "PK\x01\x02", 4) == 0)
            central = zip + i;
    assert_non_null(central);
    put_le32(central + 24, 1000); /* the central directory */
    expect_failure(zip, len, &p, RP_ERR_TOOBIG,
                   "word/document.xml is larger than the 16777216 byte limit", (const char *)NULL);
    expect_failure(zip, len, NULL, RP_ERR_TOOBIG, "word/document.xml expands more than 200 times",
                   (const char *)NULL);
    free(zip);
    /* The same for an optional part. */
    big = repeat(STYLES_HEAD, " ", (size_t)8 << 20, STYLES_TAIL);
    zip = make_docx(DOC_HEAD DOC_TAIL, big, NULL, NULL, &len);
    free(big);
    expect_failure(zip, len, NULL, RP_ERR_TOOBIG, "word/styles.xml expands", (const char *)NULL);
    free(zip);
}

static void hostile_deep_nesting(void **state)
{
    (void)state;
    /* Tables nested 40 deep: past params->max_depth (64) in the walk. */
    char *open = repeat("", "<w:tbl><w:tr><w:tc>", 40, "");
    char *close = repeat("<w:p/>", "</w:tc></w:tr></w:tbl><w:p/>", 40, "");
    size_t doc_len = strlen(DOC_HEAD) + strlen(open) + strlen(close) + strlen(DOC_TAIL) + 1;
    char *document = malloc(doc_len);
    assert_non_null(document);
    snprintf(document, doc_len, "%s%s%s%s", DOC_HEAD, open, close, DOC_TAIL);
    expect_docx_failure(document, RP_ERR_TOOBIG, "nested deeper than 64 levels");
    /* With a higher limit the same document is fine. */
    size_t len;
    char *zip = make_docx(document, NULL, NULL, NULL, &len);
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_depth = 200;
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(parse_bytes(zip, len, &p, &doc, &err), RP_OK);
    rp_doc_free(doc);
    free(zip);
    free(document);
    free(open);
    free(close);

    /* Inline containers nested 100 deep. */
    open = repeat(DOC_HEAD "<w:p>", "<w:hyperlink>", 100, "<w:r><w:t>x</w:t></w:r>");
    close = repeat(open, "</w:hyperlink>", 100, "</w:p>" DOC_TAIL);
    expect_docx_failure(close, RP_ERR_TOOBIG, "nested deeper than 64 levels");
    free(open);
    free(close);
    /* Elements nested 5000 deep: libxml2's own depth limit refuses them. */
    open = repeat(DOC_HEAD "<w:p>", "<w:ins>", 5000, "");
    close = repeat(open, "</w:ins>", 5000, "</w:p>" DOC_TAIL);
    expect_docx_failure(close, RP_ERR_PARSE, "word/document.xml is not well-formed XML");
    free(open);
    free(close);
    /* Rows wider than any real table. */
    open = repeat(DOC_HEAD "<w:tbl><w:tr>",
                  "<w:tc><w:tcPr><w:gridSpan w:val=\"60\"/></w:tcPr><w:p/></w:tc>", 20,
                  "</w:tr></w:tbl>" DOC_TAIL);
    expect_docx_failure(open, RP_ERR_TOOBIG, "a table row has more than 1000 cells");
    free(open);
}

static void hostile_failure_order(void **state)
{
    (void)state;
    /* The body is parsed as it is inflated, yet a failure is reported for
     * the same reason as if every part had been read whole first: the
     * member's own read errors, then well-formedness, then a DOCTYPE, then
     * a broken optional part, then a missing body, then the walk's limits. */
    size_t len;
    char *big = repeat(DOC_HEAD "<w:p></w:r>", " ", (size_t)8 << 20, "</w:p>" DOC_TAIL);
    char *zip = make_docx(big, NULL, NULL, NULL, &len);
    free(big);
    expect_failure(zip, len, NULL, RP_ERR_TOOBIG, "word/document.xml expands more than 200 times",
                   (const char *)NULL);
    free(zip);
    big = repeat(XML_DECL "<!DOCTYPE w:document><w:document xmlns:w=\"" W_NS
                          "\"><w:body><w:p><w:r><w:t>",
                 " ", (size_t)8 << 20, "</w:t></w:r></w:p>" DOC_TAIL);
    zip = make_docx(big, NULL, NULL, NULL, &len);
    free(big);
    expect_failure(zip, len, NULL, RP_ERR_TOOBIG, "word/document.xml expands more than 200 times",
                   (const char *)NULL);
    free(zip);

    /* Too deep early, not well-formed late. */
    char *open = repeat(DOC_HEAD "<w:p>", "<w:hyperlink>", 100, "<w:r><w:t>x</w:t></w:r>");
    char *deep = repeat(open, "</w:hyperlink>", 100, "</w:p>" DOC_TAIL);
    char *deep_bad = repeat(open, "</w:hyperlink>", 100, "</w:p><w:p></w:r></w:p>" DOC_TAIL);
    free(open);
    expect_docx_failure(deep_bad, RP_ERR_PARSE, "word/document.xml is not well-formed XML (line 2");
    /* A broken optional part comes after the body's own errors, before the walk's. */
    const char *bad_styles = STYLES_HEAD "<w:style>";
    zip = make_docx(deep_bad, bad_styles, NULL, NULL, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "word/document.xml is not well-formed XML",
                   (const char *)NULL);
    free(zip);
    zip = make_docx(deep, bad_styles, NULL, NULL, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "word/styles.xml is not well-formed XML",
                   (const char *)NULL);
    free(zip);
    zip = make_docx(XML_DECL "<w:document xmlns:w=\"" W_NS "\"/>", bad_styles, NULL, NULL, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "word/styles.xml is not well-formed XML",
                   (const char *)NULL);
    free(zip);
    free(deep);
    free(deep_bad);
}

static void hostile_after_the_root(void **state)
{
    (void)state;
    /* Comments after the root element are fine, anything else is not, however far behind. */
    char *tail =
        repeat(DOC_HEAD P("Text.") DOC_TAIL, "<!-- a comment after the document -->", 2000, "");
    struct rp_doc *doc = parse_docx(tail, NULL, NULL, NULL);
    assert_int_equal(doc->n_blocks, 1);
    rp_doc_free(doc);
    free(tail);
    tail = repeat(DOC_HEAD P("Text.") DOC_TAIL, "<!-- a comment after the document -->", 2000,
                  "<w:p/>");
    expect_docx_failure(tail, RP_ERR_PARSE, "word/document.xml is not well-formed XML");
    free(tail);
    /* The XML ends at a NUL character, as libxml2 reads a buffer: NUL
     * padding after the root element is accepted, a NUL inside it is not. */
    static const char padded[] = DOC_HEAD P("Padded.") DOC_TAIL "\0\0\0\0 and anything";
    static const char inside[] = DOC_HEAD P("Before.") "\0" P("After.") DOC_TAIL;
    struct part parts[] = {{"[Content_Types].xml", content_types, 0},
                           {"word/document.xml", padded, sizeof(padded) - 1}};
    size_t len;
    char *zip = make_zip(parts, 2, &len);
    struct rp_error err;
    assert_int_equal(parse_bytes(zip, len, NULL, &doc, &err), RP_OK);
    assert_int_equal(doc->n_blocks, 1);
    assert_string_equal(doc->blocks[0].text, "Padded.");
    rp_doc_free(doc);
    free(zip);
    parts[1] = (struct part){"word/document.xml", inside, sizeof(inside) - 1};
    zip = make_zip(parts, 2, &len);
    expect_failure(zip, len, NULL, RP_ERR_PARSE, "word/document.xml is not well-formed XML",
                   (const char *)NULL);
    free(zip);
}

/* ---- files ---- */

static void file_ingest_and_encrypted(void **state)
{
    (void)state;
    char dir[512], path[600];
    make_tmp_dir(dir, sizeof(dir));
    size_t len;
    char *zip = make_docx(DOC_HEAD PS("Heading1", "From a file") P("Body.") DOC_TAIL, NULL, NULL,
                          NULL, &len);
    snprintf(path, sizeof(path), "%s/spec.docx", dir);
    write_file(path, zip, len);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(rp_ingest_file(path, NULL, &doc, &err), RP_OK);
    assert_int_equal(doc->format, RP_FORMAT_DOCX);
    assert_string_equal(doc->title, "From a file");
    rp_doc_free(doc);
    assert_int_equal(remove(path), 0);
    free(zip);

    /* A password-protected Word file is an OLE compound file, not a ZIP:
     * the sniffer refuses it before the DOCX parser sees it. */
    unsigned char ole[1536] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    snprintf(path, sizeof(path), "%s/protected.docx", dir);
    write_file(path, ole, sizeof(ole));
    doc = NULL;
    enum rp_err e = rp_ingest_file(path, NULL, &doc, &err);
    assert_int_not_equal(e, RP_OK);
    assert_null(doc);
    assert_non_null(strstr(err.msg, path));
    print_message("OLE/encrypted .docx via rp_ingest_file: %s: %s\n", rp_strerror(e), err.msg);
    assert_int_equal(remove(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Runs argv (no shell); returns its exit status, -1 when it did not run. */
static int run_command(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void pandoc_uplink_power_control(void **state)
{
    const char *pandoc = getenv("PANDOC");
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    if (!pandoc || !*pandoc || !src || !*src || pandoc[0] != '/') {
        print_message("PANDOC or RANPIPE_SOURCE_DIR not set: skipped\n");
        skip();
    }
    char dir[512], in[1024], out[1024];
    make_tmp_dir(dir, sizeof(dir));
    snprintf(in, sizeof(in), "%s/examples/docs/features/uplink-power-control.md", src);
    snprintf(out, sizeof(out), "%s/uplink-power-control.docx", dir);
    char *argv[] = {(char *)pandoc, "-f", "markdown", "-t", "docx", "-o", out, in, NULL};
    assert_int_equal(run_command(argv), 0);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    enum rp_err e = rp_ingest_file(out, NULL, &doc, &err);
    remove(out);
    rmdir(dir);
    if (e)
        fail_msg("%s", err.msg);
    *state = doc;
    assert_string_equal(doc->title, "Uplink Power Control for LTE");
    assert_string_equal(rp_doc_get_meta(doc, "title"), "Uplink Power Control for LTE");
    assert_string_equal(rp_doc_get_meta(doc, "keywords"), "power control, PUSCH, PUCCH, TPC");
    assert_string_equal(rp_doc_get_meta(doc, "feature_id"), "FAJ 121 0814"); /* custom.xml */
    int top = section_by_title(doc, "Uplink Power Control for LTE");
    assert_int_equal(doc->sections[top].level, 1);
    int params = section_by_title(doc, "Parameters");
    assert_int_equal(doc->sections[params].level, 2);
    assert_int_equal(doc->sections[params].parent, top);
    section_by_title(doc, "Engineering Guidelines");
    /* The parameter table and its records. */
    const struct rp_block *tb = nth_block(doc, RP_BLOCK_TABLE, 0);
    assert_int_equal(tb->section, params);
    assert_int_equal(tb->table->n_header, 1);
    assert_int_equal(tb->table->n_rows, 6);
    assert_int_equal(tb->table->n_cols, 7);
    assert_string_equal(cell(tb->table, 0, 1), "Attribute");
    assert_int_equal(doc->n_params, 5);
    assert_string_equal(doc->params[0].mo_class, "EUtranCellFDD");
    assert_string_equal(doc->params[0].name, "pZeroNominalPusch");
    assert_string_equal(doc->params[0].default_value, "-103");
    assert_string_equal(doc->params[0].unit, "dBm");
    /* Lists (bullets and numbers) and code. */
    const struct rp_block *counters = nth_block(doc, RP_BLOCK_LIST, 0);
    assert_non_null(strstr(counters->text, "- pmUlPowerLimitedUe: number of UEs"));
    const struct rp_block *steps = nth_block(doc, RP_BLOCK_LIST, 1);
    assert_true(strncmp(steps->text, "1. Start from the default alpha", 31) == 0);
    assert_non_null(strstr(steps->text, "\n3. If pmRadioRecInterferencePwr"));
    assert_int_equal(count_blocks(doc, RP_BLOCK_CODE), 2);
    assert_true(strncmp(nth_block(doc, RP_BLOCK_CODE, 1)->text, "cmedit get ", 11) == 0);
}

/* styles.xml becomes a whole tree: a huge one is refused by its own cap
 * (16 MiB), even when the data barely compresses (no zip-bomb ratio). */
static void hostile_huge_styles_part(void **state)
{
    (void)state;
    size_t n = (17u << 20);
    char *styles = malloc(n + 256);
    assert_non_null(styles);
    size_t len = (size_t)snprintf(styles, 256, "%s<!--", STYLES_HEAD);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        styles[len++] = (char)('a' + x % 26);
    }
    memcpy(styles + len, "--></w:styles>", 15);
    size_t zlen;
    char *zip = make_docx(DOC_HEAD P("Body text.") "</w:body></w:document>", styles, NULL, NULL, &zlen);
    free(styles);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(parse_bytes(zip, zlen, NULL, &doc, &err), RP_ERR_TOOBIG);
    assert_null(doc);
    assert_non_null(strstr(err.msg, "word/styles.xml is larger than the 16777216 byte limit"));
    free(zip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_huge_styles_part),
        cmocka_unit_test_teardown(headings_by_style_name, free_doc_state),
        cmocka_unit_test_teardown(headings_by_outline_level, free_doc_state),
        cmocka_unit_test(title_sources),
        cmocka_unit_test_teardown(tgpp_lists_code_notes, free_doc_state),
        cmocka_unit_test_teardown(tgpp_table_header_style, free_doc_state),
        cmocka_unit_test_teardown(tables_spans_merges_headers, free_doc_state),
        cmocka_unit_test_teardown(tables_nested, free_doc_state),
        cmocka_unit_test_teardown(runs_revisions_fields_breaks, free_doc_state),
        cmocka_unit_test_teardown(math_meta_and_containers, free_doc_state),
        cmocka_unit_test_teardown(numbering_lists, free_doc_state),
        cmocka_unit_test_teardown(core_properties, free_doc_state),
        cmocka_unit_test(minimal_and_empty_documents),
        cmocka_unit_test_teardown(streamed_long_body, free_doc_state),
        cmocka_unit_test_teardown(streamed_containers, free_doc_state),
        cmocka_unit_test(hostile_not_a_zip),
        cmocka_unit_test(hostile_no_document_part),
        cmocka_unit_test(hostile_malformed_xml),
        cmocka_unit_test(hostile_entities),
        cmocka_unit_test(hostile_zip_bomb),
        cmocka_unit_test(hostile_deep_nesting),
        cmocka_unit_test(hostile_failure_order),
        cmocka_unit_test(hostile_after_the_root),
        cmocka_unit_test(file_ingest_and_encrypted),
        cmocka_unit_test_teardown(pandoc_uplink_power_control, free_doc_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
