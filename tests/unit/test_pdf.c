/*
 * test_pdf.c - the PDF parser (src/ingest/pdf.c) on documents drawn at
 * test time, and on hostile files.
 *
 * The documents are written in ranpipe-mkpdf's markup (tools/mkpdf.c) and
 * drawn by the tool named in $RANPIPE_MKPDF (the test fails with a message
 * saying so when it is not set), so every expected heading, paragraph,
 * list, table and page number is known from the markup. Other files are
 * made here: encrypted and turned copies with $QPDF (skipped with a note
 * when qpdf is missing), a page without text with cairo, and PDFs written
 * byte by byte with the base-14 fonts: a word-processor-like layout with
 * tab-set numbers and two columns, a form-XObject text bomb, a PDF without
 * pages.
 *
 * All files go to one private directory made with mkdtemp under
 * $RANPIPE_TEST_TMP (or /tmp) by the group setup and removed by the group
 * teardown. Tests keep their document in *state, so the teardown frees it
 * even when an assertion fails half-way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <poppler.h>

#include "ranpipe/buf.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

static char tmp_dir[512];

/* ---- helpers ---- */

static int group_setup(void **state)
{
    (void)state;
    const char *root = getenv("RANPIPE_TEST_TMP");
    int w = snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_pdf.XXXXXX", root && *root ? root : "/tmp");
    if (w <= 0 || (size_t)w >= sizeof(tmp_dir) || !mkdtemp(tmp_dir))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
    return 0;
}

static int free_doc_state(void **state)
{
    rp_doc_free(*state);
    *state = NULL;
    return 0;
}

/* path = tmp_dir/name */
static void tmp_path(char *out, size_t size, const char *name)
{
    int w = snprintf(out, size, "%s/%s", tmp_dir, name);
    assert_true(w > 0 && (size_t)w < size);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Runs argv (argv[0] is a path) and returns its exit status, -1 when it
 * could not run or died from a signal. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *mkpdf_tool(void)
{
    const char *t = getenv("RANPIPE_MKPDF");
    if (!t || !*t)
        fail_msg("RANPIPE_MKPDF is not set: these tests draw their PDFs with ranpipe-mkpdf "
                 "(built from tools/mkpdf.c); run them through ctest");
    return t;
}

/* Draws markup into tmp_dir/name.pdf with ranpipe-mkpdf and the extra
 * options (NULL-terminated); out receives the PDF's path. */
static void draw(const char *name, const char *markup, char *out, size_t size, ...)
{
    char src[1024];
    char txt[600];
    snprintf(txt, sizeof(txt), "%s.txt", name);
    tmp_path(src, sizeof(src), txt);
    write_file(src, markup, strlen(markup));
    int w = snprintf(out, size, "%s/%s.pdf", tmp_dir, name);
    assert_true(w > 0 && (size_t)w < size);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)mkpdf_tool();
    argv[n++] = src;
    argv[n++] = out;
    va_list ap;
    va_start(ap, size);
    const char *opt;
    while ((opt = va_arg(ap, const char *)) && n < 15)
        argv[n++] = (char *)opt;
    va_end(ap);
    argv[n] = NULL;
    int rc = run(argv);
    if (rc != 0)
        fail_msg("ranpipe-mkpdf failed on %s (exit %d)", src, rc);
}

static void read_all(const char *path, struct rp_buf *b)
{
    struct rp_error err;
    rp_buf_init(b, RP_BUF_NO_CAP);
    if (rp_buf_read_file(b, path, &err) != RP_OK)
        fail_msg("%s", err.msg);
}

/* Parses the PDF at path with params (NULL: defaults); fails the test on
 * error. */
static struct rp_doc *parse_pdf(const char *path, const struct rp_ingest_params *params)
{
    struct rp_buf b;
    read_all(path, &b);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    enum rp_err e = rp_ingest_buffer(path, RP_FORMAT_PDF, b.data, b.len, params, &doc, &err);
    rp_buf_release(&b);
    if (e != RP_OK)
        fail_msg("cannot parse %s: %s", path, err.msg);
    return doc;
}

/* Parses data expecting a failure; returns the code and leaves the message in err. */
static enum rp_err parse_fail(const char *data, size_t len, const struct rp_ingest_params *params,
                              struct rp_error *err)
{
    struct rp_doc *doc = NULL;
    enum rp_err e = rp_ingest_buffer("bad.pdf", RP_FORMAT_PDF, data, len, params, &doc, err);
    assert_null(doc);
    assert_int_not_equal(e, RP_OK);
    assert_int_equal(err->code, e);
    assert_non_null(strstr(err->msg, "cannot ingest 'bad.pdf': "));
    return e;
}

static int section_by_title(const struct rp_doc *doc, const char *title)
{
    for (size_t i = 0; i < doc->n_sections; i++)
        if (strcmp(doc->sections[i].title, title) == 0)
            return (int)i;
    fail_msg("no section titled '%s'", title);
    return -1;
}

/* The block whose text contains needle, failing when there is none. */
static const struct rp_block *block_with(const struct rp_doc *doc, const char *needle)
{
    for (size_t i = 0; i < doc->n_blocks; i++)
        if (strstr(doc->blocks[i].text, needle))
            return &doc->blocks[i];
    fail_msg("no block contains '%s'", needle);
    return NULL;
}

static size_t count_blocks(const struct rp_doc *doc, enum rp_block_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->n_blocks; i++)
        n += doc->blocks[i].type == t;
    return n;
}

/* No block and no section title contains s. */
static void assert_nowhere(const struct rp_doc *doc, const char *s)
{
    for (size_t i = 0; i < doc->n_blocks; i++)
        if (strstr(doc->blocks[i].text, s))
            fail_msg("block %zu contains '%s': %s", i, s, doc->blocks[i].text);
    for (size_t i = 0; i < doc->n_sections; i++)
        if (strstr(doc->sections[i].title, s))
            fail_msg("section %zu contains '%s'", i, s);
}

/* Words for filler text: lower-case, no full stops, so that a paragraph
 * can run over a page break. */
static const char *const words[] = {"the",     "gnodeb", "measures",  "uplink", "interference",
                                    "on",      "every",  "resource",  "block",  "and",
                                    "reports", "it",     "to",        "the",    "scheduler",
                                    "which",   "adapts", "modulation", "and",   "power"};

/* Appends n filler words to b. */
static void filler(struct rp_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_int_equal(rp_buf_addc(b, ' '), RP_OK);
        assert_int_equal(rp_buf_adds(b, words[i % (sizeof(words) / sizeof(words[0]))]), RP_OK);
    }
}

/* ---- structure ---- */

static void pdf_heading_levels(void **state)
{
    char pdf[1024];
    draw("levels",
         "# Carrier Aggregation\n\n"
         "Intro text.\n\n"
         "## Downlink\n\n"
         "Downlink text.\n\n"
         "### Component Carriers\n\n"
         "Carrier text.\n\n"
         "## Uplink\n\n"
         "Uplink text.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_int_equal(doc->format, RP_FORMAT_PDF);
    assert_int_equal(doc->n_sections, 5);
    int ca = section_by_title(doc, "Carrier Aggregation");
    int dl = section_by_title(doc, "Downlink");
    int cc = section_by_title(doc, "Component Carriers");
    int ul = section_by_title(doc, "Uplink");
    assert_int_equal(doc->sections[ca].level, 1);
    assert_int_equal(doc->sections[dl].level, 2);
    assert_int_equal(doc->sections[cc].level, 3);
    assert_int_equal(doc->sections[ul].level, 2);
    assert_int_equal(doc->sections[ca].parent, -1);
    assert_int_equal(doc->sections[dl].parent, ca);
    assert_int_equal(doc->sections[cc].parent, dl);
    assert_int_equal(doc->sections[ul].parent, ca);
    /* No PDF title property: the first level-1 heading is the title. */
    assert_string_equal(doc->title, "Carrier Aggregation");
    assert_null(rp_doc_get_meta(doc, "title"));
    assert_int_equal(block_with(doc, "Carrier text.")->section, cc);
    assert_int_equal(doc->n_blocks, 4);
    for (size_t i = 0; i < doc->n_blocks; i++) {
        assert_int_equal(doc->blocks[i].type, RP_BLOCK_PARAGRAPH);
        assert_int_equal(doc->blocks[i].page, 1);
        assert_int_equal(doc->blocks[i].line, 0);
    }
}

static void pdf_numbered_bold_headings(void **state)
{
    char pdf[1024];
    /* Numbered headings at body size, only bold: their level comes from
     * the numbering depth. A bold line without numbering, and a plain
     * numbered line inside a paragraph, stay text. */
    draw("numbered",
         "# RRC Procedures\n\n"
         "#### 5.3 Connection control\n\n"
         "General text about connection control.\n\n"
         "#### 5.3.3 RRC connection establishment\n\n"
         "The UE initiates the procedure when upper layers request it.\n"
         "5 attempts are made at most before the UE gives up.\n\n"
         "#### 5.3.3.1 General\n\n"
         "Details.\n\n"
         "#### Note on timers\n\n"
         "Timer T300 supervises the procedure.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    int top = section_by_title(doc, "RRC Procedures");
    int s53 = section_by_title(doc, "5.3 Connection control");
    int s533 = section_by_title(doc, "5.3.3 RRC connection establishment");
    int s5331 = section_by_title(doc, "5.3.3.1 General");
    assert_int_equal(doc->sections[top].level, 1);
    assert_int_equal(doc->sections[s53].level, 2);
    assert_int_equal(doc->sections[s533].level, 3);
    assert_int_equal(doc->sections[s5331].level, 4);
    assert_int_equal(doc->sections[s533].parent, s53);
    assert_int_equal(doc->sections[s5331].parent, s533);
    assert_int_equal(doc->n_sections, 5);
    const struct rp_block *b = block_with(doc, "upper layers");
    assert_string_equal(b->text, "The UE initiates the procedure when upper layers request it. 5 "
                                 "attempts are made at most before the UE gives up.");
    assert_int_equal(b->section, s533);
    assert_int_equal(block_with(doc, "Note on timers")->type, RP_BLOCK_PARAGRAPH);
}

static void pdf_numbered_size_headings_share_levels(void **state)
{
    char pdf[1024];
    /* Numbered headings by size (16 and 13 pt under a 20 pt title) and a
     * bold numbered one at body size: the numbering depth lines up. */
    draw("mixed",
         "# Feature Guide\n\n"
         "## 1 Introduction\n\n"
         "Text one.\n\n"
         "### 1.1 Scope\n\n"
         "Text two.\n\n"
         "#### 1.1.1 Limits\n\n"
         "Text three.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_int_equal(doc->sections[section_by_title(doc, "Feature Guide")].level, 1);
    assert_int_equal(doc->sections[section_by_title(doc, "1 Introduction")].level, 2);
    assert_int_equal(doc->sections[section_by_title(doc, "1.1 Scope")].level, 3);
    int lim = section_by_title(doc, "1.1.1 Limits");
    assert_int_equal(doc->sections[lim].level, 4);
    assert_int_equal(doc->sections[lim].parent, section_by_title(doc, "1.1 Scope"));
}

static void pdf_paragraphs_wrap_and_hyphens(void **state)
{
    char pdf[1024];
    /* Long words with hyphenation points: some line ends inside one of
     * them with a hyphen, which the parser must take out again. */
    struct rp_buf m, want;
    rp_buf_init(&m, RP_BUF_NO_CAP);
    rp_buf_init(&want, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&m, "# Hyphens\n\n"), RP_OK);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(rp_buf_adds(&m, "The inter\\-frequency hand\\-over mea\\-sure\\-ment con\\-"
                                         "fi\\-gu\\-ra\\-tion is ap\\-plied. "),
                         RP_OK);
        assert_int_equal(rp_buf_adds(&want, "The interfrequency handover measurement configuration "
                                            "is applied. "),
                         RP_OK);
    }
    rp_buf_rtrim(&want);
    assert_int_equal(rp_buf_adds(&m, "\n\nA second paragraph follows.\n"), RP_OK);
    draw("hyphens", m.data, pdf, sizeof(pdf), NULL);

    /* The drawing does break words: some line of the page ends in "-". */
    struct rp_buf raw;
    read_all(pdf, &raw);
    GBytes *bytes = g_bytes_new(raw.data, raw.len);
    rp_buf_release(&raw);
    PopplerDocument *pd = poppler_document_new_from_bytes(bytes, NULL, NULL);
    assert_non_null(pd);
    PopplerPage *pp = poppler_document_get_page(pd, 0);
    char *text = poppler_page_get_text(pp);
    assert_non_null(strstr(text, "-\n"));
    g_free(text);
    g_object_unref(pp);
    g_object_unref(pd);
    g_bytes_unref(bytes);

    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_int_equal(doc->n_blocks, 2);
    assert_string_equal(doc->blocks[0].text, want.data);
    assert_string_equal(doc->blocks[1].text, "A second paragraph follows.");
    rp_buf_release(&m);
    rp_buf_release(&want);
}

static void pdf_list_table_code(void **state)
{
    char pdf[1024];
    draw("blocks",
         "# Cell Configuration\n\n"
         "Before the list.\n\n"
         "- The first item is long enough to wrap onto a second line of the page, because it "
         "keeps on describing the neighbour relation in detail.\n"
         "- Second item\n"
         "- Third item\n\n"
         "|Parameter|Type|Default|Unit|\n"
         "|---|---|---|---|\n"
         "|qRxLevMin|Int32|-140|dBm|\n"
         "|sleepThresholdLow|Int32|10|%|\n"
         "|cellReservedForOperatorUse|Enum|NOT_RESERVED||\n\n"
         "```\n"
         "cmedit get NR01 NRCellDU.(administrativeState)\n"
         "if locked:\n"
         "    cmedit set NR01 NRCellDU=1 administrativeState=UNLOCKED\n"
         "```\n\n"
         "1. Check the state.\n"
         "2. Unlock the cell.\n\n"
         "After the blocks.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_int_equal(count_blocks(doc, RP_BLOCK_LIST), 2);
    const struct rp_block *list = block_with(doc, "Second item");
    assert_int_equal(list->type, RP_BLOCK_LIST);
    assert_string_equal(list->text,
                        "- The first item is long enough to wrap onto a second line of the page, "
                        "because it keeps on describing the neighbour relation in detail.\n"
                        "- Second item\n"
                        "- Third item");
    const struct rp_block *num = block_with(doc, "Unlock the cell");
    assert_int_equal(num->type, RP_BLOCK_LIST);
    assert_string_equal(num->text, "1. Check the state.\n2. Unlock the cell.");

    assert_int_equal(count_blocks(doc, RP_BLOCK_TABLE), 1);
    const struct rp_block *tb = block_with(doc, "qRxLevMin");
    assert_int_equal(tb->type, RP_BLOCK_TABLE);
    const struct rp_table *t = tb->table;
    assert_non_null(t);
    assert_int_equal(t->n_rows, 4);
    assert_int_equal(t->n_cols, 4);
    assert_int_equal(t->n_header, 1);
    static const char *const cells[] = {
        "Parameter", "Type",  "Default",      "Unit", "qRxLevMin",
        "Int32",     "-140",  "dBm",          "sleepThresholdLow",
        "Int32",     "10",    "%",            "cellReservedForOperatorUse",
        "Enum",      "NOT_RESERVED", "",
    };
    for (size_t i = 0; i < 16; i++)
        assert_string_equal(t->cells[i], cells[i]);

    assert_int_equal(count_blocks(doc, RP_BLOCK_CODE), 1);
    const struct rp_block *code = block_with(doc, "cmedit get");
    assert_int_equal(code->type, RP_BLOCK_CODE);
    assert_string_equal(code->text, "cmedit get NR01 NRCellDU.(administrativeState)\n"
                                    "if locked:\n"
                                    "    cmedit set NR01 NRCellDU=1 administrativeState=UNLOCKED");

    /* Reading order is kept. */
    const struct rp_block *first = &doc->blocks[0];
    assert_string_equal(first->text, "Before the list.");
    assert_true(list < tb && tb < code && code < num);
    assert_string_equal(doc->blocks[doc->n_blocks - 1].text, "After the blocks.");
    for (size_t i = 0; i < doc->n_blocks; i++)
        assert_int_equal(doc->blocks[i].section, 1);
}

static void pdf_running_headers_and_page_numbers(void **state)
{
    char pdf[1024];
    /* Five pages, with a running header and "Page N of 5" footers. Each
     * page carries a marker paragraph that names its page. */
    struct rp_buf m;
    rp_buf_init(&m, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&m, "# Mobility Guide\n\n"), RP_OK);
    for (int p = 1; p <= 5; p++) {
        if (p > 1)
            assert_int_equal(rp_buf_adds(&m, "\\f\n"), RP_OK);
        assert_int_equal(rp_buf_addf(&m, "## Part %d\n\nMarker paragraph for page %d.\n\n", p, p),
                         RP_OK);
        filler(&m, 60);
        assert_int_equal(rp_buf_adds(&m, ".\n\n"), RP_OK);
    }
    draw("running", m.data, pdf, sizeof(pdf), "--pages-header", "ACME RAN Library 23.Q4", NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_nowhere(doc, "ACME");
    assert_nowhere(doc, "Page ");
    assert_string_equal(rp_doc_get_meta(doc, "pages"), "5");
    assert_null(rp_doc_get_meta(doc, "truncated_pages"));
    for (int p = 1; p <= 5; p++) {
        char marker[64];
        snprintf(marker, sizeof(marker), "Marker paragraph for page %d.", p);
        const struct rp_block *b = block_with(doc, marker);
        assert_string_equal(b->text, marker);
        assert_int_equal(b->page, p);
        assert_int_equal(b[1].page, p); /* the filler after it */
        snprintf(marker, sizeof(marker), "Part %d", p);
        assert_int_equal(b->section, section_by_title(doc, marker));
    }
    for (size_t i = 0; i < doc->n_blocks; i++) {
        assert_true(doc->blocks[i].page >= 1 && doc->blocks[i].page <= 5);
        if (i)
            assert_true(doc->blocks[i].page >= doc->blocks[i - 1].page);
    }
    rp_buf_release(&m);
}

static void pdf_dash_footers_removed(void **state)
{
    char pdf[1024];
    struct rp_buf m;
    rp_buf_init(&m, RP_BUF_NO_CAP);
    for (int p = 1; p <= 3; p++) {
        if (p > 1)
            assert_int_equal(rp_buf_adds(&m, "\\f\n"), RP_OK);
        assert_int_equal(rp_buf_addf(&m, "Text of page %d.\n\n", p), RP_OK);
    }
    draw("dash", m.data, pdf, sizeof(pdf), "--footer", "dash", NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    /* The header is the file name here (no title, no heading). */
    assert_nowhere(doc, "dash.txt");
    assert_nowhere(doc, "- 1 -");
    assert_int_equal(doc->n_blocks, 3);
    for (int p = 1; p <= 3; p++) {
        char want[32];
        snprintf(want, sizeof(want), "Text of page %d.", p);
        assert_string_equal(doc->blocks[p - 1].text, want);
        assert_int_equal(doc->blocks[p - 1].page, p);
    }
    rp_buf_release(&m);
}

static void pdf_paragraph_across_page_break(void **state)
{
    char pdf[1024];
    /* A paragraph of lower-case filler without full stops runs over the
     * end of page 1: it stays one block, on the page where it starts. */
    struct rp_buf m, want;
    rp_buf_init(&m, RP_BUF_NO_CAP);
    rp_buf_init(&want, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&m, "# Long Paragraph\n\nOpening sentence.\n\n"), RP_OK);
    filler(&want, 1200);
    assert_int_equal(rp_buf_add(&m, want.data, want.len), RP_OK);
    assert_int_equal(rp_buf_adds(&m, "\n\nClosing sentence.\n"), RP_OK);
    draw("across", m.data, pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_true(strtol(rp_doc_get_meta(doc, "pages"), NULL, 10) >= 2);
    assert_int_equal(doc->n_blocks, 3);
    assert_string_equal(doc->blocks[1].text, want.data);
    assert_int_equal(doc->blocks[1].page, 1);
    assert_string_equal(doc->blocks[2].text, "Closing sentence.");
    assert_true(doc->blocks[2].page >= 2);
    rp_buf_release(&m);
    rp_buf_release(&want);
}

static void pdf_metadata(void **state)
{
    char pdf[1024];
    draw("meta",
         "%% title: Energy Saving Overview\n"
         "%% author: RAN Docs\n"
         "%% subject: Cell sleep\n"
         "%% keywords: energy, NR\n"
         "# A Heading That Is Not The Title\n\n"
         "Body.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_string_equal(doc->title, "Energy Saving Overview");
    assert_string_equal(rp_doc_get_meta(doc, "title"), "Energy Saving Overview");
    assert_string_equal(rp_doc_get_meta(doc, "author"), "RAN Docs");
    assert_string_equal(rp_doc_get_meta(doc, "subject"), "Cell sleep");
    assert_string_equal(rp_doc_get_meta(doc, "keywords"), "energy, NR");
    assert_string_equal(rp_doc_get_meta(doc, "creator"), "ranpipe-mkpdf");
    assert_string_equal(rp_doc_get_meta(doc, "pages"), "1");
    /* One page: the running header (the title) and footer are still
     * recognised and dropped. */
    assert_int_equal(doc->n_blocks, 1);
    assert_string_equal(doc->blocks[0].text, "Body.");
}

static void pdf_without_font_size_variation(void **state)
{
    char pdf[1024];
    /* Body text only, no header or footer: no headings appear. */
    draw("flat",
         "Plain paragraph number one with some text.\n\n"
         "Plain paragraph number two with some more text.\n\n"
         "Plain paragraph number three.\n",
         pdf, sizeof(pdf), "--no-header", NULL);
    struct rp_doc *doc = parse_pdf(pdf, NULL);
    *state = doc;
    assert_int_equal(doc->n_sections, 1);
    assert_int_equal(doc->n_blocks, 3);
    assert_string_equal(doc->blocks[0].text, "Plain paragraph number one with some text.");
    assert_string_equal(doc->blocks[2].text, "Plain paragraph number three.");
    assert_non_null(strstr(pdf, doc->title)); /* the file name */
}

static void pdf_ingest_file_by_content(void **state)
{
    char pdf[1024], renamed[1024];
    draw("sniff", "# Sniffed\n\nA PDF named .txt is still read as a PDF.\n", pdf, sizeof(pdf),
         NULL);
    tmp_path(renamed, sizeof(renamed), "sniffed.txt");
    assert_int_equal(rename(pdf, renamed), 0);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(rp_ingest_file(renamed, NULL, &doc, &err), RP_OK);
    *state = doc;
    assert_int_equal(doc->format, RP_FORMAT_PDF);
    assert_string_equal(doc->title, "Sniffed");
}

/* ---- hostile input ---- */

static void hostile_encrypted(void **state)
{
    (void)state;
    const char *qpdf = getenv("QPDF");
    if (!qpdf || !*qpdf || access(qpdf, X_OK) != 0) {
        print_message("# skipped: qpdf not found (QPDF unset), no encrypted PDF to test\n");
        skip();
    }
    char pdf[1024], enc[1024], open_enc[1024];
    draw("plain", "# Secret\n\nHidden text.\n", pdf, sizeof(pdf), NULL);
    tmp_path(enc, sizeof(enc), "encrypted.pdf");
    tmp_path(open_enc, sizeof(open_enc), "open.pdf");
    char *argv[] = {(char *)qpdf, "--encrypt", "user", "owner", "256", "--", pdf, enc, NULL};
    assert_int_equal(run(argv), 0);
    struct rp_buf b;
    read_all(enc, &b);
    struct rp_error err;
    assert_int_equal(parse_fail(b.data, b.len, NULL, &err), RP_ERR_UNSUPPORTED);
    assert_string_equal(err.msg, "cannot ingest 'bad.pdf': encrypted PDF: a password is required");
    rp_buf_release(&b);

    /* Encrypted with an empty user password: readable without one. */
    char *argv2[] = {(char *)qpdf, "--encrypt", "", "owner", "256", "--", pdf, open_enc, NULL};
    assert_int_equal(run(argv2), 0);
    struct rp_doc *doc = parse_pdf(open_enc, NULL);
    assert_string_equal(block_with(doc, "Hidden")->text, "Hidden text.");
    rp_doc_free(doc);
}

static void pdf_turned_pages(void **state)
{
    (void)state;
    const char *qpdf = getenv("QPDF");
    if (!qpdf || !*qpdf || access(qpdf, X_OK) != 0) {
        print_message("# skipped: qpdf not found (QPDF unset), no turned pages to test\n");
        skip();
    }
    /* The same document with its pages turned by /Rotate reads the same:
     * same sections, same blocks in the same order, same pages. */
    char pdf[1024];
    draw("upright",
         "# Turned Pages\n\n"
         "Opening paragraph.\n\n"
         "- first item\n- second item\n\n"
         "|Counter|Unit|\n|pmCellSleepTime|s|\n|pmCellSleepEntry|-|\n\n"
         "```\ncmedit get NR01 NRCellDU\n```\n\n"
         "## 1 After\n\nClosing paragraph.\n",
         pdf, sizeof(pdf), NULL);
    struct rp_doc *want = parse_pdf(pdf, NULL);
    static const char *const turns[] = {"+90", "+180", "+270"};
    for (size_t k = 0; k < 3; k++) {
        char turned[1024], opt[32];
        snprintf(opt, sizeof(opt), "--rotate=%s", turns[k]);
        tmp_path(turned, sizeof(turned), "turned.pdf");
        char *argv[] = {(char *)qpdf, opt, pdf, turned, NULL};
        assert_int_equal(run(argv), 0);
        struct rp_doc *got = parse_pdf(turned, NULL);
        assert_int_equal(got->n_sections, want->n_sections);
        for (size_t i = 0; i < want->n_sections; i++) {
            assert_string_equal(got->sections[i].title, want->sections[i].title);
            assert_int_equal(got->sections[i].level, want->sections[i].level);
        }
        assert_int_equal(got->n_blocks, want->n_blocks);
        for (size_t i = 0; i < want->n_blocks; i++) {
            assert_int_equal(got->blocks[i].type, want->blocks[i].type);
            assert_string_equal(got->blocks[i].text, want->blocks[i].text);
            assert_int_equal(got->blocks[i].page, want->blocks[i].page);
        }
        rp_doc_free(got);
    }
    assert_int_equal(count_blocks(want, RP_BLOCK_TABLE), 1);
    assert_int_equal(count_blocks(want, RP_BLOCK_LIST), 1);
    assert_int_equal(count_blocks(want, RP_BLOCK_CODE), 1);
    rp_doc_free(want);
}

static void hostile_truncated_and_garbage(void **state)
{
    (void)state;
    char pdf[1024];
    draw("cut", "# Cut\n\nThis file is cut in half.\n", pdf, sizeof(pdf), NULL);
    struct rp_buf b;
    read_all(pdf, &b);
    struct rp_error err;
    /* Cut in half: no cross-reference table, no trailer. */
    assert_int_equal(parse_fail(b.data, b.len / 2, NULL, &err), RP_ERR_PARSE);
    assert_non_null(strstr(err.msg, "damaged"));
    /* Only the first bytes. */
    assert_int_equal(parse_fail(b.data, 20, NULL, &err), RP_ERR_PARSE);
    rp_buf_release(&b);
    /* Garbage after a valid header. */
    const char garbage[] = "%PDF-1.7\n\x01\x02 obj << /Type /Pages /Kids [ 1 0 R >> stream\n\xff";
    assert_int_equal(parse_fail(garbage, sizeof(garbage) - 1, NULL, &err), RP_ERR_PARSE);
    assert_int_equal(parse_fail("%PDF-1.7", 8, NULL, &err), RP_ERR_PARSE);
    assert_int_equal(parse_fail("", 0, NULL, &err), RP_ERR_PARSE);
}

/* Writes a PDF whose objects are given, with a correct cross-reference
 * table, into b. */
static void build_pdf(struct rp_buf *b, const char *const *objs, size_t n)
{
    size_t offs[16];
    assert_true(n <= 16);
    rp_buf_init(b, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(b, "%PDF-1.7\n"), RP_OK);
    for (size_t i = 0; i < n; i++) {
        offs[i] = b->len;
        assert_int_equal(rp_buf_addf(b, "%zu 0 obj\n%s\nendobj\n", i + 1, objs[i]), RP_OK);
    }
    size_t xref = b->len;
    assert_int_equal(rp_buf_addf(b, "xref\n0 %zu\n0000000000 65535 f \n", n + 1), RP_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rp_buf_addf(b, "%010zu 00000 n \n", offs[i]), RP_OK);
    assert_int_equal(rp_buf_addf(b, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
                                 n + 1, xref),
                     RP_OK);
}

/* Appends a text-showing operation to a content stream. */
static void show(struct rp_buf *c, const char *font, double size, double x, double y,
                 const char *text)
{
    assert_int_equal(rp_buf_addf(c, "BT /%s %g Tf %g %g Td (%s) Tj ET\n", font, size, x, y, text),
                     RP_OK);
}

static void pdf_no_false_tables(void **state)
{
    /* Written by hand with the base-14 fonts, laid out like a word
     * processor would: list markers and section numbers set apart from
     * their text by a tab, and two columns of prose. None of it is a
     * table. */
    struct rp_buf c;
    rp_buf_init(&c, RP_BUF_NO_CAP);
    show(&c, "F2", 11, 60, 780, "5.3");
    show(&c, "F2", 11, 110, 780, "Connection control");
    show(&c, "F2", 11, 60, 762, "5.3.1");
    show(&c, "F2", 11, 110, 762, "General");
    show(&c, "F1", 10, 60, 740, "The procedures below apply to every cell.");
    show(&c, "F1", 10, 60, 715, "1.");
    show(&c, "F1", 10, 90, 715, "Check the state");
    show(&c, "F1", 10, 60, 702, "2.");
    show(&c, "F1", 10, 90, 702, "Unlock the cell");
    static const char *const prose[] = {
        "the scheduler assigns resource blocks to every",
        "user equipment according to the reported channel",
        "quality and the buffer status of each bearer",
        "so that the cell throughput and fairness are",
        "balanced over the whole measurement period",
    };
    for (int i = 0; i < 5; i++) {
        show(&c, "F1", 10, 60, 670 - 12 * i, prose[i]);
        show(&c, "F1", 10, 320, 670 - 12 * i, prose[4 - i]);
    }
    char contents[8192];
    snprintf(contents, sizeof(contents), "<< /Length %zu >>\nstream\n%sendstream", c.len, c.data);
    rp_buf_release(&c);
    const char *const objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R "
        "/F2 6 0 R >> >> /Contents 4 0 R >>",
        contents,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    };
    struct rp_buf b;
    build_pdf(&b, objs, 6);
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(rp_ingest_buffer("hand.pdf", RP_FORMAT_PDF, b.data, b.len, NULL, &doc, &err),
                     RP_OK);
    rp_buf_release(&b);
    *state = doc;
    assert_int_equal(count_blocks(doc, RP_BLOCK_TABLE), 0);
    int s53 = section_by_title(doc, "5.3 Connection control");
    int s531 = section_by_title(doc, "5.3.1 General");
    assert_int_equal(doc->sections[s53].level, 2);
    assert_int_equal(doc->sections[s531].level, 3);
    assert_int_equal(doc->sections[s531].parent, s53);
    const struct rp_block *list = block_with(doc, "Check the state");
    assert_int_equal(list->type, RP_BLOCK_LIST);
    assert_string_equal(list->text, "1. Check the state\n2. Unlock the cell");
    /* The columns are read one after the other. */
    assert_string_equal(block_with(doc, "scheduler assigns")->text,
                        "the scheduler assigns resource blocks to every user equipment according "
                        "to the reported channel quality and the buffer status of each bearer so "
                        "that the cell throughput and fairness are balanced over the whole "
                        "measurement period");
}

static void hostile_text_bomb(void **state)
{
    (void)state;
    /* A form XObject drawn 50 times by another drawn 50 times by the
     * page: 2500 copies of its text from a file of about 1 KiB. The text
     * is capped at four times max_file_bytes. */
    static const char x1_body[] = "BT /F1 10 Tf 20 800 Td (Bomb text line) Tj ET\n";
    struct rp_buf x2_body, page_body;
    rp_buf_init(&x2_body, RP_BUF_NO_CAP);
    rp_buf_init(&page_body, RP_BUF_NO_CAP);
    for (int i = 0; i < 50; i++) {
        /* Each copy a little further on: poppler drops a glyph drawn
         * again on top of itself. */
        assert_int_equal(rp_buf_adds(&x2_body, "1 0 0 1 0 -15 cm /X1 Do\n"), RP_OK);
        assert_int_equal(rp_buf_adds(&page_body, "1 0 0 1 9 0 cm /X2 Do\n"), RP_OK);
    }
    char x1[512], x2[2048], contents[2048];
#define FORM "<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << %s >> " \
             "/Length %zu >>\nstream\n%sendstream"
    snprintf(x1, sizeof(x1), FORM, "/Font << /F1 7 0 R >>", strlen(x1_body), x1_body);
    snprintf(x2, sizeof(x2), FORM, "/XObject << /X1 5 0 R >>", x2_body.len, x2_body.data);
#undef FORM
    snprintf(contents, sizeof(contents), "<< /Length %zu >>\nstream\n%sendstream", page_body.len,
             page_body.data);
    const char *const objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X2 6 0 R "
        ">> >> /Contents 4 0 R >>",
        contents,
        x1,
        x2,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    };
    struct rp_buf b;
    build_pdf(&b, objs, 7);
    rp_buf_release(&x2_body);
    rp_buf_release(&page_body);
    struct rp_ingest_params params = rp_ingest_default_params();
    params.max_file_bytes = 4096;
    assert_true(b.len < params.max_file_bytes);
    struct rp_error err;
    assert_int_equal(parse_fail(b.data, b.len, &params, &err), RP_ERR_TOOBIG);
    assert_non_null(strstr(err.msg, "the text is larger than 16384 bytes"));
    /* With room for it, the same file reads (the copies overlap into
     * nonsense; the point is only that nothing else stops it). */
    params.max_file_bytes = 1u << 20;
    struct rp_doc *doc = NULL;
    assert_int_equal(rp_ingest_buffer("bomb.pdf", RP_FORMAT_PDF, b.data, b.len, &params, &doc, &err),
                     RP_OK);
    assert_true(doc->n_blocks > 0);
    rp_doc_free(doc);
    rp_buf_release(&b);
}

static void hostile_zero_pages(void **state)
{
    (void)state;
    static const char *const objs[] = {"<< /Type /Catalog /Pages 2 0 R >>",
                                       "<< /Type /Pages /Kids [] /Count 0 >>"};
    struct rp_buf b;
    build_pdf(&b, objs, 2);
    struct rp_error err;
    assert_int_equal(parse_fail(b.data, b.len, NULL, &err), RP_ERR_PARSE);
    assert_string_equal(err.msg, "cannot ingest 'bad.pdf': the PDF has no pages");
    rp_buf_release(&b);
}

static void hostile_page_without_text(void **state)
{
    (void)state;
    /* A hand-written page with an empty content stream, and one drawn by
     * cairo with a rectangle only (what a scanned page looks like to a
     * text extractor): no text at all is an error that says so. */
    static const char *const objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        "<< /Length 0 >>\nstream\n\nendstream",
    };
    struct rp_buf b;
    build_pdf(&b, objs, 4);
    struct rp_error err;
    assert_int_equal(parse_fail(b.data, b.len, NULL, &err), RP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "no text on its 1 page"));
    rp_buf_release(&b);

    char path[1024];
    tmp_path(path, sizeof(path), "image-only.pdf");
    cairo_surface_t *sf = cairo_pdf_surface_create(path, 595.0, 842.0);
    cairo_t *cr = cairo_create(sf);
    cairo_rectangle(cr, 50, 50, 400, 300);
    cairo_fill(cr);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(sf);
    assert_int_equal(cairo_surface_status(sf), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(sf);
    read_all(path, &b);
    assert_int_equal(parse_fail(b.data, b.len, NULL, &err), RP_ERR_UNSUPPORTED);
    rp_buf_release(&b);
}

static void hostile_page_limit(void **state)
{
    char pdf[1024];
    /* 30 pages, read with max_pages = 4: the first four are read and the
     * document says it was truncated. */
    struct rp_buf m;
    rp_buf_init(&m, RP_BUF_NO_CAP);
    for (int p = 1; p <= 30; p++) {
        if (p > 1)
            assert_int_equal(rp_buf_adds(&m, "\\f\n"), RP_OK);
        assert_int_equal(rp_buf_addf(&m, "Page body %d.\n", p), RP_OK);
    }
    draw("many", m.data, pdf, sizeof(pdf), NULL);
    rp_buf_release(&m);
    struct rp_ingest_params params = rp_ingest_default_params();
    params.max_pages = 4;
    struct rp_doc *doc = parse_pdf(pdf, &params);
    *state = doc;
    assert_string_equal(rp_doc_get_meta(doc, "pages"), "30");
    assert_string_equal(rp_doc_get_meta(doc, "truncated_pages"), "4");
    assert_int_equal(doc->n_blocks, 4);
    assert_string_equal(doc->blocks[3].text, "Page body 4.");
    assert_int_equal(doc->blocks[3].page, 4);
    /* A limit of zero or less reads one page rather than none. */
    params.max_pages = 0;
    struct rp_doc *one = parse_pdf(pdf, &params);
    assert_int_equal(one->n_blocks, 1);
    assert_string_equal(rp_doc_get_meta(one, "truncated_pages"), "1");
    rp_doc_free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(pdf_heading_levels, free_doc_state),
        cmocka_unit_test_teardown(pdf_numbered_bold_headings, free_doc_state),
        cmocka_unit_test_teardown(pdf_numbered_size_headings_share_levels, free_doc_state),
        cmocka_unit_test_teardown(pdf_paragraphs_wrap_and_hyphens, free_doc_state),
        cmocka_unit_test_teardown(pdf_list_table_code, free_doc_state),
        cmocka_unit_test_teardown(pdf_running_headers_and_page_numbers, free_doc_state),
        cmocka_unit_test_teardown(pdf_dash_footers_removed, free_doc_state),
        cmocka_unit_test_teardown(pdf_paragraph_across_page_break, free_doc_state),
        cmocka_unit_test_teardown(pdf_metadata, free_doc_state),
        cmocka_unit_test_teardown(pdf_without_font_size_variation, free_doc_state),
        cmocka_unit_test_teardown(pdf_ingest_file_by_content, free_doc_state),
        cmocka_unit_test(pdf_turned_pages),
        cmocka_unit_test_teardown(pdf_no_false_tables, free_doc_state),
        cmocka_unit_test(hostile_encrypted),
        cmocka_unit_test(hostile_truncated_and_garbage),
        cmocka_unit_test(hostile_text_bomb),
        cmocka_unit_test(hostile_zero_pages),
        cmocka_unit_test(hostile_page_without_text),
        cmocka_unit_test_teardown(hostile_page_limit, free_doc_state),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
