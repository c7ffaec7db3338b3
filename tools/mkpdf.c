/*
 * mkpdf.c - draws PDF test documents from a small line-oriented markup.
 *
 *   ranpipe-mkpdf IN.txt OUT.pdf [--no-header] [--pages-header TEXT] [--footer page|dash]
 *
 * The PDF parser (src/ingest/pdf.c) has to be tested on PDFs whose content
 * is known exactly; this tool turns a text file into an A4 PDF with cairo so
 * that tests and benchmarks can make such documents at run time instead of
 * committing binaries. The markup, one construct per line:
 *
 *   # Title / ## Section / ### Subsection   headings, bold, 20 / 16 / 13 pt
 *   #### 5.3.3 Text                          a bold heading at body size (10 pt)
 *   text lines                               a body paragraph (10 pt), lines joined
 *                                            and word-wrapped; blank lines separate
 *                                            paragraphs; "\-" inside a word marks
 *                                            where it may be hyphenated
 *   - item                                   a bullet item (drawn with a bullet)
 *   3. item                                  a numbered item (drawn with its number)
 *     indented text                          continues the list item above it
 *   Title over ===== (or -----)              a heading of level 1 (2), as in
 *                                            plain text files
 *   |a|b|c|                                  a table row; consecutive rows form a
 *                                            table drawn as aligned columns, the
 *                                            first row bold; "|---|---|" rows ignored
 *   ```  ...  ```                            a code block in DejaVu Sans Mono, 9 pt
 *   \f   (or a form feed alone on a line)    a page break
 *   %% key: value                            PDF metadata (title, author, subject,
 *                                            keywords), not drawn
 *
 * Every page gets a running header (the --pages-header text, else the
 * document title: the "%% title" value, else the first "# " heading, else
 * the input's file name) and a footer ("Page N of M", or "- N -" with
 * --footer dash); --no-header leaves both out.
 *
 * Design: the document is laid out twice with the same code. The first pass
 * draws into a PDF surface that discards its output, only to count the
 * pages (the footer needs M); the second draws the real file. Text is
 * placed with cairo's toy text API, which is enough for tests: the same
 * fonts, the same metrics and no hinting on a PDF surface make the layout
 * depend on the input alone. The creation and modification dates are
 * fixed, so the same input gives the same bytes. At exit cairo's font
 * caches and fontconfig's configuration are released, so that the tool
 * runs clean under LeakSanitizer in the sanitized builds that use it.
 *
 * Exit status: 0 written, 1 failure (I/O, cairo, invalid UTF-8), 2 usage.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"
#include "ranpipe/utf8.h"

#define PAGE_W 595.276 /* A4 in points */
#define PAGE_H 841.890
#define MARGIN_X 60.0
#define TOP 80.0     /* first baseline area starts here */
#define BOTTOM 770.0 /* no body text below this baseline */
#define BODY_PT 10.0
#define CODE_PT 9.0
#define BAND_PT 9.0 /* running header and footer */
#define FIXED_DATE "2024-01-01T00:00:00Z"

#define SANS "DejaVu Sans"
#define MONO "DejaVu Sans Mono"

enum footer_style { FOOTER_PAGE_OF, FOOTER_DASH };

struct opts {
    const char *in, *out;
    bool no_header;
    const char *pages_header;
    enum footer_style footer;
};

/* Layout state of one pass. */
struct pen {
    cairo_t *cr;
    double y;    /* baseline of the last line drawn (TOP when the page is empty) */
    int page;    /* 1-based */
    int n_pages; /* known in the second pass, 0 in the first */
    bool empty;  /* nothing drawn on this page yet */
    const struct opts *o;
    const char *header; /* running header text */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ranpipe-mkpdf IN.txt OUT.pdf [--no-header] [--pages-header TEXT]\n"
               "                     [--footer page|dash]\n"
               "Draws the markup in IN.txt as an A4 PDF (see tools/mkpdf.c for the markup).\n");
}

static void set_font(cairo_t *cr, const char *family, bool bold, double size)
{
    cairo_select_font_face(cr, family, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, s, &ext);
    return ext.x_advance;
}

static void draw_text(cairo_t *cr, double x, double y, const char *s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* Draws the running header and footer of the current page. */
static void draw_bands(struct pen *p)
{
    if (p->o->no_header)
        return;
    cairo_t *cr = p->cr;
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    set_font(cr, SANS, false, BAND_PT);
    draw_text(cr, MARGIN_X, 40.0, p->header);
    cairo_set_line_width(cr, 0.5);
    cairo_move_to(cr, MARGIN_X, 46.0);
    cairo_line_to(cr, PAGE_W - MARGIN_X, 46.0);
    cairo_stroke(cr);
    char foot[64];
    if (p->o->footer == FOOTER_DASH)
        snprintf(foot, sizeof(foot), "- %d -", p->page);
    else
        snprintf(foot, sizeof(foot), "Page %d of %d", p->page, p->n_pages);
    set_font(cr, SANS, false, BAND_PT);
    draw_text(cr, (PAGE_W - text_width(cr, foot)) / 2.0, PAGE_H - 36.0, foot);
    cairo_restore(cr);
}

static void new_page(struct pen *p)
{
    draw_bands(p);
    cairo_show_page(p->cr);
    p->page++;
    p->y = TOP;
    p->empty = true;
}

/* Moves down by gap (skipped at the top of a page) and then by a line of
 * the given height; breaks the page first when the line would not fit.
 * Returns the baseline to draw at. */
static double next_line(struct pen *p, double gap, double height)
{
    if (p->empty)
        gap = 0;
    if (p->y + gap + height > BOTTOM && !p->empty)
        new_page(p);
    if (p->empty)
        gap = 0;
    p->y += gap + height;
    p->empty = false;
    return p->y;
}

/* Breaks the page unless `need` more points fit below the cursor. */
static void keep_room(struct pen *p, double need)
{
    if (!p->empty && p->y + need > BOTTOM)
        new_page(p);
}

/* ---- text helpers ---- */

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Appends word w (with its "\-" marks) to line: without the marks. */
static enum rp_err add_clean(struct rp_buf *b, const char *w, size_t n)
{
    enum rp_err e = RP_OK;
    for (size_t i = 0; i < n && !e; i++) {
        if (w[i] == '\\' && i + 1 < n && w[i + 1] == '-') {
            i++;
            continue;
        }
        e = rp_buf_addc(b, w[i]);
    }
    return e;
}

/* One wrapped paragraph being drawn: where its lines go. */
struct wrap {
    struct pen *p;
    double x, width, lh, gap;
    const char *prefix; /* drawn at prefix_x on the first line (a bullet), or NULL */
    double prefix_x;
    bool first;
};

static void emit_line(struct wrap *w, const char *text)
{
    double y = next_line(w->p, w->first ? w->gap : 0.0, w->lh);
    if (w->first && w->prefix)
        draw_text(w->p->cr, w->prefix_x, y, w->prefix);
    draw_text(w->p->cr, w->x, y, text);
    w->first = false;
}

/* cand = line + (a space) + the first n bytes of word without marks + tail. */
static enum rp_err candidate(struct rp_buf *cand, const struct rp_buf *line, const char *word,
                             size_t n, const char *tail)
{
    rp_buf_reset(cand);
    enum rp_err e = rp_buf_add(cand, line->data, line->len);
    if (!e && line->len)
        e = rp_buf_addc(cand, ' ');
    if (!e)
        e = add_clean(cand, word, n);
    if (!e)
        e = rp_buf_adds(cand, tail);
    return e;
}

/* Draws text (one paragraph, words separated by spaces) wrapped to
 * w->width with the current font. A word that does not fit is hyphenated
 * at its last "\-" mark that fits; a word that fits nowhere overflows on a
 * line of its own. */
static enum rp_err draw_wrapped(struct wrap *w, const char *text)
{
    cairo_t *cr = w->p->cr;
    struct rp_buf line, cand;
    rp_buf_init(&line, RP_BUF_NO_CAP);
    rp_buf_init(&cand, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    const char *s = skip_spaces(text);
    while (*s && !e) {
        const char *word = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t n = (size_t)(s - word);
        s = skip_spaces(s);
        while (n > 0 && !e) {
            if ((e = candidate(&cand, &line, word, n, "")))
                break;
            if (text_width(cr, cand.data) <= w->width) {
                rp_buf_reset(&line);
                e = rp_buf_add(&line, cand.data, cand.len);
                break;
            }
            size_t cut = 0;
            for (size_t i = 1; i + 1 < n && !e; i++) {
                if (word[i] != '\\' || word[i + 1] != '-')
                    continue;
                e = candidate(&cand, &line, word, i, "-");
                if (!e && text_width(cr, cand.data) <= w->width)
                    cut = i;
            }
            if (e)
                break;
            if (cut > 0) {
                if ((e = candidate(&cand, &line, word, cut, "-")))
                    break;
                emit_line(w, cand.data);
                rp_buf_reset(&line);
                word += cut + 2;
                n -= cut + 2;
            } else if (line.len > 0) {
                emit_line(w, line.data);
                rp_buf_reset(&line);
            } else {
                e = add_clean(&line, word, n); /* overflows: nothing else to do */
                break;
            }
        }
    }
    if (!e && (line.len > 0 || w->first))
        emit_line(w, line.data);
    rp_buf_release(&line);
    rp_buf_release(&cand);
    return e;
}

/* ---- blocks ---- */

static enum rp_err draw_heading(struct pen *p, const char *text, int level)
{
    static const double size[] = {20.0, 16.0, 13.0, BODY_PT};
    double pt = size[level - 1];
    /* Keep the heading with at least two lines of what follows. */
    keep_room(p, pt * 1.8 + 2.0 * BODY_PT * 1.35);
    set_font(p->cr, SANS, true, pt);
    struct wrap w = {p, MARGIN_X, PAGE_W - 2 * MARGIN_X, pt * 1.3, pt * 0.9, NULL, 0, true};
    enum rp_err e = draw_wrapped(&w, text);
    p->y += pt * 0.3;
    return e;
}

static enum rp_err draw_paragraph(struct pen *p, const char *text)
{
    set_font(p->cr, SANS, false, BODY_PT);
    struct wrap w = {p, MARGIN_X, PAGE_W - 2 * MARGIN_X, BODY_PT * 1.35, BODY_PT * 0.7, NULL, 0,
                     true};
    return draw_wrapped(&w, text);
}

/* A list item: a bullet, or the item's number ("3."), then its text with
 * a hanging indent. */
static enum rp_err draw_item(struct pen *p, const char *marker, const char *text,
                             bool first_of_list)
{
    set_font(p->cr, SANS, false, BODY_PT);
    struct wrap w = {p,
                     MARGIN_X + 18.0,
                     PAGE_W - 2 * MARGIN_X - 18.0,
                     BODY_PT * 1.35,
                     first_of_list ? BODY_PT * 0.7 : 0.0,
                     marker,
                     MARGIN_X + 3.0,
                     true};
    return draw_wrapped(&w, text);
}

static enum rp_err draw_code(struct pen *p, char **lines, size_t n)
{
    set_font(p->cr, MONO, false, CODE_PT);
    for (size_t i = 0; i < n; i++) {
        double y = next_line(p, i == 0 ? BODY_PT * 0.7 : 0.0, CODE_PT * 1.3);
        draw_text(p->cr, MARGIN_X + 12.0, y, lines[i]);
    }
    return RP_OK;
}

/* A table: rows of cells (malloc'd strings), the first row bold. */
struct table {
    char **cells;
    size_t *row_start; /* index of each row's first cell; row r ends at row_start[r+1] */
    size_t n_rows, n_cells, cap_cells, cap_rows;
};

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->row_start);
    memset(t, 0, sizeof(*t));
}

static size_t row_len(const struct table *t, size_t r)
{
    size_t end = r + 1 < t->n_rows ? t->row_start[r + 1] : t->n_cells;
    return end - t->row_start[r];
}

/* Splits "|a|b|c|" into cells; separator rows ("|---|:--|") are skipped. */
static enum rp_err table_add_row(struct table *t, const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    size_t a = 1, end = n > 1 && s[n - 1] == '|' ? n - 1 : n;
    bool sep = true;
    for (size_t i = a; i < end; i++)
        if (!strchr("-:| \t", s[i]))
            sep = false;
    if (sep)
        return RP_OK;
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 8;
        size_t *q = realloc(t->row_start, cap * sizeof(*q));
        if (!q)
            return RP_ERR_NOMEM;
        t->row_start = q;
        t->cap_rows = cap;
    }
    t->row_start[t->n_rows++] = t->n_cells;
    while (a <= end) {
        size_t b = a;
        while (b < end && s[b] != '|')
            b++;
        size_t cs = a, ce = b;
        while (cs < ce && (s[cs] == ' ' || s[cs] == '\t'))
            cs++;
        while (ce > cs && (s[ce - 1] == ' ' || s[ce - 1] == '\t'))
            ce--;
        if (t->n_cells == t->cap_cells) {
            size_t cap = t->cap_cells ? t->cap_cells * 2 : 16;
            char **q = realloc(t->cells, cap * sizeof(*q));
            if (!q)
                return RP_ERR_NOMEM;
            t->cells = q;
            t->cap_cells = cap;
        }
        char *c = malloc(ce - cs + 1);
        if (!c)
            return RP_ERR_NOMEM;
        memcpy(c, s + cs, ce - cs);
        c[ce - cs] = '\0';
        t->cells[t->n_cells++] = c;
        a = b + 1;
    }
    return RP_OK;
}

static enum rp_err draw_table(struct pen *p, const struct table *t)
{
    if (t->n_rows == 0)
        return RP_OK;
    size_t n_cols = 0;
    for (size_t r = 0; r < t->n_rows; r++)
        if (row_len(t, r) > n_cols)
            n_cols = row_len(t, r);
    double *colw = calloc(n_cols, sizeof(*colw));
    if (!colw)
        return RP_ERR_NOMEM;
    /* Shrink the font until the columns fit the page (7 pt at least). */
    const double gutter = 18.0;
    double pt = BODY_PT;
    for (;;) {
        double total = 0;
        for (size_t c = 0; c < n_cols; c++)
            colw[c] = 0;
        for (size_t r = 0; r < t->n_rows; r++) {
            set_font(p->cr, SANS, r == 0, pt);
            for (size_t c = 0; c < row_len(t, r); c++) {
                double wd = text_width(p->cr, t->cells[t->row_start[r] + c]);
                if (wd > colw[c])
                    colw[c] = wd;
            }
        }
        for (size_t c = 0; c < n_cols; c++)
            total += colw[c] + (c + 1 < n_cols ? gutter : 0);
        if (total <= PAGE_W - 2 * MARGIN_X || pt <= 7.0)
            break;
        pt -= 0.5;
    }
    keep_room(p, BODY_PT * 0.7 + 2 * pt * 1.5);
    for (size_t r = 0; r < t->n_rows; r++) {
        double y = next_line(p, r == 0 ? BODY_PT * 0.7 : 0.0, pt * 1.5);
        set_font(p->cr, SANS, r == 0, pt);
        double x = MARGIN_X;
        for (size_t c = 0; c < row_len(t, r); c++) {
            draw_text(p->cr, x, y, t->cells[t->row_start[r] + c]);
            x += colw[c] + gutter;
        }
        if (r == 0) {
            cairo_set_line_width(p->cr, 0.5);
            cairo_move_to(p->cr, MARGIN_X, y + pt * 0.4);
            cairo_line_to(p->cr, x - gutter, y + pt * 0.4);
            cairo_stroke(p->cr);
        }
    }
    free(colw);
    return RP_OK;
}

/* ---- the document ---- */

enum line_kind {
    L_BLANK,
    L_TEXT,
    L_HEADING,
    L_BULLET,    /* "- item" */
    L_NUMBERED,  /* "3. item" */
    L_INDENTED,  /* text starting with blanks: continues a list item */
    L_UNDERLINE, /* "=====" or "-----": the line above is a heading */
    L_TABLE,
    L_FENCE,
    L_BREAK,
    L_META,
};

static enum line_kind classify(const char *s, size_t n, int *level)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == n)
        return L_BLANK;
    if ((n == 1 && s[0] == '\f') || (n == 2 && s[0] == '\\' && s[1] == 'f'))
        return L_BREAK;
    if (n >= 3 && memcmp(s, "```", 3) == 0)
        return L_FENCE;
    if (n >= 3 && memcmp(s, "%% ", 3) == 0)
        return L_META;
    size_t h = 0;
    while (h < n && h < 5 && s[h] == '#')
        h++;
    if (h >= 1 && h <= 4 && h < n && s[h] == ' ') {
        *level = (int)h;
        return L_HEADING;
    }
    if (n >= 2 && s[0] == '-' && s[1] == ' ')
        return L_BULLET;
    size_t d = 0;
    while (d < n && d < 3 && s[d] >= '0' && s[d] <= '9')
        d++;
    if (d > 0 && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ')
        return L_NUMBERED;
    if (s[i] == '|')
        return L_TABLE;
    if (n >= 3 && (s[0] == '=' || s[0] == '-')) {
        size_t j = 0;
        while (j < n && s[j] == s[0])
            j++;
        if (j == n)
            return L_UNDERLINE;
    }
    return i > 0 ? L_INDENTED : L_TEXT;
}

struct meta {
    const char *title, *author, *subject, *keywords; /* point into the input */
    size_t title_n, author_n, subject_n, keywords_n;
};

/* Reads "%% key: value" lines and the first "# " heading. */
static void scan_meta(const char *data, size_t len, struct meta *m, const char **h1, size_t *h1_n)
{
    size_t pos = 0;
    const char *s;
    size_t n;
    *h1 = NULL;
    *h1_n = 0;
    memset(m, 0, sizeof(*m));
    while (rp_next_line(data, len, &pos, &s, &n)) {
        int level = 0;
        enum line_kind k = classify(s, n, &level);
        if (k == L_HEADING && level == 1 && !*h1) {
            *h1 = s + 2;
            *h1_n = n - 2;
        }
        if (k != L_META)
            continue;
        static const char *const keys[] = {"title", "author", "subject", "keywords"};
        for (size_t j = 0; j < 4; j++) {
            size_t kl = strlen(keys[j]);
            if (n > 3 + kl && memcmp(s + 3, keys[j], kl) == 0 && s[3 + kl] == ':') {
                const char *v = skip_spaces(s + 4 + kl);
                size_t vn = n - (size_t)(v - s);
                const char **dst[] = {&m->title, &m->author, &m->subject, &m->keywords};
                size_t *dn[] = {&m->title_n, &m->author_n, &m->subject_n, &m->keywords_n};
                *dst[j] = v;
                *dn[j] = vn;
            }
        }
    }
}

/* Lays out and draws the whole document on cr; returns the page count in
 * *n_pages. Text strings come from a line buffer that is NUL-terminated
 * per line. */
static enum rp_err render(cairo_t *cr, const char *data, size_t len, const struct opts *o,
                          const char *header, int total_pages, int *n_pages)
{
    struct pen p = {cr, TOP, 1, total_pages, true, o, header};
    struct rp_buf para, cur;
    rp_buf_init(&para, RP_BUF_NO_CAP);
    rp_buf_init(&cur, RP_BUF_NO_CAP);
    struct table tbl = {0};
    char **code = NULL;
    size_t n_code = 0, cap_code = 0;
    bool in_code = false, in_list = false;
    struct rp_buf item; /* the list item being read (continuation lines join it) */
    rp_buf_init(&item, RP_BUF_NO_CAP);
    char marker[16] = "";
    bool have_item = false;
    size_t para_lines = 0;
    enum rp_err e = RP_OK;

    cairo_set_source_rgb(cr, 0, 0, 0);
    size_t pos = 0;
    const char *s;
    size_t n;
    bool more = true;
    while (more && !e) {
        more = rp_next_line(data, len, &pos, &s, &n);
        int level = 0;
        enum line_kind k = more ? classify(s, n, &level) : L_BLANK;
        if (in_code) {
            if (!more || k == L_FENCE) {
                e = draw_code(&p, code, n_code);
                for (size_t i = 0; i < n_code; i++)
                    free(code[i]);
                n_code = 0;
                in_code = false;
                continue;
            }
            if (n_code == cap_code) {
                size_t cap = cap_code ? cap_code * 2 : 16;
                char **q = realloc(code, cap * sizeof(*q));
                if (!q) {
                    e = RP_ERR_NOMEM;
                    break;
                }
                code = q;
                cap_code = cap;
            }
            /* Tabs become four spaces; the toy API draws no tabs. */
            rp_buf_reset(&cur);
            for (size_t i = 0; i < n && !e; i++)
                e = s[i] == '\t' ? rp_buf_adds(&cur, "    ") : rp_buf_addc(&cur, s[i]);
            if (!e && !(code[n_code] = rp_buf_detach(&cur)))
                e = RP_ERR_NOMEM;
            if (!e)
                n_code++;
            continue;
        }
        /* A setext underline turns a one-line paragraph into a heading. */
        if (k == L_UNDERLINE && para.len && para_lines == 1) {
            e = draw_heading(&p, para.data, s[0] == '=' ? 1 : 2);
            rp_buf_reset(&para);
            para_lines = 0;
            continue;
        }
        if (k == L_UNDERLINE)
            k = L_TEXT;
        /* An indented line continues a list item, else it is text. */
        if (k == L_INDENTED && have_item) {
            e = rp_buf_addc(&item, ' ');
            if (!e)
                e = rp_buf_add(&item, skip_spaces(s), n - (size_t)(skip_spaces(s) - s));
            continue;
        }
        if (k == L_INDENTED)
            k = L_TEXT;
        /* Whatever ends a paragraph, an item or a table flushes it. */
        if (k != L_TEXT && para.len) {
            e = draw_paragraph(&p, para.data);
            rp_buf_reset(&para);
            para_lines = 0;
        }
        if (!e && have_item) {
            e = draw_item(&p, marker, item.data, !in_list);
            rp_buf_reset(&item);
            have_item = false;
            in_list = true;
        }
        if (!e && k != L_TABLE && tbl.n_rows) {
            e = draw_table(&p, &tbl);
            table_free(&tbl);
        }
        if (e)
            break;
        if (k != L_BULLET && k != L_NUMBERED)
            in_list = false;
        switch (k) {
        case L_BLANK:
        case L_META:
        case L_UNDERLINE:
        case L_INDENTED:
            break;
        case L_TEXT:
            if (para.len)
                e = rp_buf_addc(&para, ' ');
            if (!e)
                e = rp_buf_add(&para, skip_spaces(s), n - (size_t)(skip_spaces(s) - s));
            para_lines++;
            break;
        case L_HEADING:
            rp_buf_reset(&cur);
            e = rp_buf_add(&cur, s + level + 1, n - (size_t)level - 1);
            if (!e)
                e = draw_heading(&p, cur.data, level);
            break;
        case L_BULLET:
            snprintf(marker, sizeof(marker), "%s", "\xE2\x80\xA2"); /* U+2022 bullet */
            e = rp_buf_add(&item, s + 2, n - 2);
            have_item = true;
            break;
        case L_NUMBERED: {
            size_t d = 0;
            while (s[d] != '.' && s[d] != ')')
                d++;
            snprintf(marker, sizeof(marker), "%.*s", (int)d + 1, s);
            e = rp_buf_add(&item, s + d + 2, n - d - 2);
            have_item = true;
            break;
        }
        case L_TABLE:
            e = table_add_row(&tbl, s, n);
            break;
        case L_FENCE:
            in_code = true;
            break;
        case L_BREAK:
            if (!p.empty)
                new_page(&p);
            break;
        }
    }
    if (!e) {
        draw_bands(&p);
        cairo_show_page(cr);
        *n_pages = p.page;
    }
    for (size_t i = 0; i < n_code; i++)
        free(code[i]);
    free(code);
    table_free(&tbl);
    rp_buf_release(&para);
    rp_buf_release(&item);
    rp_buf_release(&cur);
    return e;
}

static cairo_status_t discard(void *closure, const unsigned char *data, unsigned int length)
{
    (void)closure;
    (void)data;
    (void)length;
    return CAIRO_STATUS_SUCCESS;
}

/* Sets a metadata value from a (pointer, length) pair of the input. */
static void set_meta(cairo_surface_t *sf, cairo_pdf_metadata_t key, const char *v, size_t n)
{
    if (!v)
        return;
    char *z = malloc(n + 1);
    if (!z)
        return;
    memcpy(z, v, n);
    z[n] = '\0';
    cairo_pdf_surface_set_metadata(sf, key, z);
    free(z);
}

/* Draws one pass into sf; returns 0 or 1 after printing why. */
static int pass(cairo_surface_t *sf, const char *data, size_t len, const struct opts *o,
                const char *header, int total, int *n_pages)
{
    cairo_t *cr = cairo_create(sf);
    enum rp_err e = render(cr, data, len, o, header, total, n_pages);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(sf);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(sf);
    if (e) {
        fprintf(stderr, "ranpipe-mkpdf: cannot draw '%s': %s\n", o->in, rp_strerror(e));
        return 1;
    }
    if (st != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "ranpipe-mkpdf: cannot write '%s': %s\n", o->out,
                cairo_status_to_string(st));
        return 1;
    }
    return 0;
}

/* Drops cairo's font caches and fontconfig's configuration, which both
 * live until exit, so that LeakSanitizer sees a clean exit in the
 * sanitized builds (what cairo documents for leak checkers). FcFini is
 * looked up at run time: fontconfig is loaded as cairo's dependency, and
 * the tool does not link it itself. */
static void release_font_caches(void)
{
    cairo_debug_reset_static_data();
    void *fc = dlopen("libfontconfig.so.1", RTLD_LAZY);
    if (!fc)
        return;
    void (*fini)(void);
    void *sym = dlsym(fc, "FcFini");
    memcpy(&fini, &sym, sizeof(fini)); /* object to function pointer without a cast warning */
    if (sym)
        fini();
    dlclose(fc);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    o.footer = FOOTER_PAGE_OF;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-header") == 0) {
            o.no_header = true;
        } else if (strcmp(a, "--pages-header") == 0 || strcmp(a, "--footer") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ranpipe-mkpdf: %s needs a value\n", a);
                usage(stderr);
                return 2;
            }
            const char *v = argv[++i];
            if (a[2] == 'p') {
                o.pages_header = v;
            } else if (strcmp(v, "page") == 0) {
                o.footer = FOOTER_PAGE_OF;
            } else if (strcmp(v, "dash") == 0) {
                o.footer = FOOTER_DASH;
            } else {
                fprintf(stderr, "ranpipe-mkpdf: --footer must be 'page' or 'dash', not '%s'\n", v);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ranpipe-mkpdf: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!o.in) {
            o.in = a;
        } else if (!o.out) {
            o.out = a;
        } else {
            fprintf(stderr, "ranpipe-mkpdf: too many arguments ('%s')\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.in || !o.out) {
        usage(stderr);
        return 2;
    }

    int rc = 1;
    char *header = NULL;
    cairo_surface_t *sf = NULL;
    struct rp_buf in;
    rp_buf_init(&in, 64u << 20);
    struct rp_error err;
    if (rp_buf_read_file(&in, o.in, &err)) {
        fprintf(stderr, "ranpipe-mkpdf: %s\n", err.msg);
        goto out;
    }
    size_t bad;
    if (!rp_utf8_valid(in.data, in.len, &bad)) {
        fprintf(stderr, "ranpipe-mkpdf: cannot read '%s': invalid UTF-8 at byte %zu\n", o.in, bad);
        goto out;
    }
    struct meta m;
    const char *h1;
    size_t h1_n;
    scan_meta(in.data, in.len, &m, &h1, &h1_n);
    const char *hs = o.pages_header;
    size_t hn = hs ? strlen(hs) : 0;
    if (!hs && m.title) {
        hs = m.title;
        hn = m.title_n;
    } else if (!hs && h1) {
        hs = h1;
        hn = h1_n;
    } else if (!hs) {
        const char *slash = strrchr(o.in, '/');
        hs = slash ? slash + 1 : o.in;
        hn = strlen(hs);
    }
    if (!(header = malloc(hn + 1)))
        goto out;
    memcpy(header, hs, hn);
    header[hn] = '\0';

    /* Pass 1: count the pages. */
    int n_pages = 0, unused = 0;
    sf = cairo_pdf_surface_create_for_stream(discard, NULL, PAGE_W, PAGE_H);
    if (pass(sf, in.data, in.len, &o, header, 0, &n_pages))
        goto out;
    cairo_surface_destroy(sf);

    /* Pass 2: the file. */
    sf = cairo_pdf_surface_create(o.out, PAGE_W, PAGE_H);
    if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "ranpipe-mkpdf: cannot write '%s': %s\n", o.out,
                cairo_status_to_string(cairo_surface_status(sf)));
        goto out;
    }
    cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATE_DATE, FIXED_DATE);
    cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_MOD_DATE, FIXED_DATE);
    cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATOR, "ranpipe-mkpdf");
    set_meta(sf, CAIRO_PDF_METADATA_TITLE, m.title, m.title_n);
    set_meta(sf, CAIRO_PDF_METADATA_AUTHOR, m.author, m.author_n);
    set_meta(sf, CAIRO_PDF_METADATA_SUBJECT, m.subject, m.subject_n);
    set_meta(sf, CAIRO_PDF_METADATA_KEYWORDS, m.keywords, m.keywords_n);
    if (pass(sf, in.data, in.len, &o, header, n_pages, &unused))
        goto out;
    rc = 0;
out:
    cairo_surface_destroy(sf);
    release_font_caches();
    free(header);
    rp_buf_release(&in);
    return rc;
}
