/*
 * pdf.c - PDF documents through poppler-glib: text lines with their
 * geometry and fonts, turned back into headings, paragraphs, lists,
 * tables and code.
 *
 * A PDF has no paragraphs or headings, only glyphs placed on pages, so the
 * structure is recovered from how the text looks. The parser works in
 * passes over all pages read:
 *
 *  1. Lines. For each page, poppler_page_get_text() gives the text in
 *     reading order, poppler_page_get_text_layout() one rectangle per
 *     character of that text and poppler_page_get_text_attributes() the
 *     font name and size of character ranges. Each text line keeps its
 *     bounding box, its dominant font size (by characters), whether it is
 *     mostly bold or monospaced, and its segments: the pieces between gaps
 *     wider than 1.5 em, which is what separates table columns. On a page
 *     whose text runs downwards, upwards or right to left (turned with
 *     /Rotate, or drawn turned; the direction is voted by consecutive
 *     characters) the boxes are turned upright first, and the lines are
 *     put in position order, since poppler's order is unreliable there.
 *  2. Running headers and footers. A line among the first or last three of
 *     its page, in the outer tenth of the page, is removed when its text
 *     with digits normalised repeats on at least half of the pages (and on
 *     two at least), or when it is a lone page number ("12", "- 12 -",
 *     "Page 3 of 9"). A one-page document shows no repetition: there the
 *     first (last) line is removed when it is in the band, no larger than
 *     the next line and far apart from it.
 *  3. Tables. The lines of a page are grouped into physical rows by their
 *     vertical position, which also reassembles what poppler reads column
 *     by column. Two or more consecutive rows that each have two or more
 *     segments, whose segments fall into the same two or more column
 *     ranges, whose first row fills every column and whose cells are short
 *     (at most five words on average, which keeps two-column prose out)
 *     become a table with the first row as header. A false table is worse
 *     than a paragraph, so any doubt leaves the lines alone. Rows whose
 *     first cell is a list marker or a section number ("1.", "•", "5.3.3")
 *     are a list or headings set with a tab: each becomes one line again.
 *     A table goes among the other blocks before the first line below it.
 *  4. Headings. The body size is the most common font size by characters
 *     of regular weight. Short lines clearly larger (15 %) are headings,
 *     their level the rank of their size (largest = 1). Bold short lines
 *     at body size that start with section numbering ("5.3.3 RRC
 *     connection establishment") are headings too, their level the
 *     numbering depth, shifted like the numbered headings found by size
 *     when there are any, so that both kinds fit one tree. A numbered line
 *     in plain weight is a heading only when it stands alone between
 *     paragraph gaps ("2 Procedure").
 *  5. Blocks, in reading order. Monospaced lines become code (indentation
 *     recovered from their x offset); lines starting with a bullet ("•",
 *     "-", "–", "o", ...) or an item number start list items, and indented
 *     lines after them continue the item; other lines are joined into
 *     paragraphs (a line-end hyphen before a lower-case letter is removed),
 *     and a new paragraph starts at a vertical gap over 1.3 times the
 *     document's usual line pitch or at a change of font size. A paragraph
 *     whose last line has no final punctuation continues on the next page
 *     when that page starts with a lower-case word. Every block gets the
 *     1-based page it starts on; PDF blocks have no line numbers.
 *
 * Limits. params->max_pages pages are read; a longer document is read up
 * to that page and marked with the metadata "truncated_pages" (the number
 * of pages read) next to "pages" (the page count of the file). Truncating
 * rather than failing keeps what is usually the most useful part of a long
 * specification, and the mark lets reports say so. Extracted text is
 * capped at four times max_file_bytes (and below 4 GiB, so that lines
 * keep 32-bit offsets): a compressed content stream, or a form drawn
 * again and again, can turn a small file into a lot of text (the check
 * comes before poppler is asked for the layout). An encrypted
 * file that needs a password, a damaged file poppler cannot open, a file
 * without pages and a file without any text (scanned pages) fail with a
 * message saying which.
 *
 * Geometry is in points with y growing downwards, as poppler reports it.
 * Every number taken from the file is checked for being finite before it
 * is used. Two-column page layouts are not taken apart: poppler's reading
 * order handles their text, but tables and running headers assume one
 * column.
 *
 * Cost. poppler does most of the work: drawing each page into its text
 * page (glyphs, words, reading order), which poppler_page_get_text()
 * triggers and the page object caches for the layout and attribute calls;
 * each of the three calls then walks that text page once more. Everything
 * poppler holds for a page (text page, text, boxes, attributes) is freed
 * before the next page is read. What the later passes need of the whole
 * document is kept compact: the text, a 72-byte record per line, and
 * segments only for the lines that wide gaps split (until the tables are
 * found).
 *
 * Thread contract: reentrant; documents are never shared between threads.
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <poppler.h>

#include "ingest_int.h"

#define BAND_FRACTION 0.10 /* running headers and footers: outer tenth of the page */
#define BAND_LINES 3       /* ... among the first or last three lines */
#define SEG_GAP_EM 1.5     /* a gap this wide (in em) splits a line into segments */
#define HEADING_RATIO 1.15 /* "clearly larger" than the body size */
#define HEADING_MAX 200    /* bytes: longer lines are no headings */
#define PARA_GAP 1.3       /* a baseline step over this many line pitches breaks a paragraph */
#define ISOLATED_MAX 100   /* bytes: plain numbered headings are short */
#define TABLE_MAX_WORDS 5.0
#define TABLE_MAX_COLS 32
#define MAX_LEVEL 6
#define TEXT_MAX ((size_t)UINT32_MAX - 1) /* bytes of text, whatever max_file_bytes says */

enum role {
    ROLE_BODY,
    ROLE_DROP,    /* running header/footer, page number */
    ROLE_TABLE,   /* part of a table region */
    ROLE_HEADING, /* level in line->level */
};

/* A piece of a line between wide gaps: text[off, off+len) of the context. */
struct seg {
    size_t off, len;
    double x0, x1;
};

/* One per text line of the document, all kept until the blocks are made:
 * with the text, the bulk of the parser's memory, so it is kept small
 * (72 bytes): offsets are 32-bit (the text stays under TEXT_MAX) and the
 * small fields are packed. */
struct line {
    double x0, y0, x1, y1;
    double size;       /* dominant font size, 0 when unknown */
    double cw;         /* mean character width */
    uint32_t off, len; /* text in ctx->text, trimmed, single spaces */
    uint32_t seg;      /* its segments in ctx->segs when more than one (until
                        * the tables are found); one segment is the line itself */
    uint32_t n_seg;
    int page;     /* 1-based */
    uint8_t role; /* enum role */
    int8_t level; /* ROLE_HEADING: 1..MAX_LEVEL */
    bool bold, mono;
};

struct page {
    double height;
    size_t first, n; /* its lines */
};

struct table {
    int page;
    size_t first_line, last_line; /* its lines' span in reading order */
    size_t anchor;                /* it goes before this line (see place_tables) */
    double x0, x1, y1;            /* left, right, bottom */
    struct rp_table_builder tb;
};

struct ctx {
    struct rp_doc *doc;
    struct rp_error *err;
    struct rp_buf text; /* the text of every line, capped */
    struct line *lines;
    size_t n_lines, cap_lines;
    struct seg *segs;
    size_t n_segs, cap_segs;
    struct page *pages;
    int n_pages;
    struct table *tables;
    size_t n_tables, cap_tables;
    struct run *runs; /* the font runs of the page being read (kept for the next page) */
    size_t cap_runs;
    double body;  /* body font size */
    double pitch; /* usual baseline step of body text, as a multiple of the font size */
};

/* ---- small helpers ---- */

static enum rp_err nomem(struct ctx *c)
{
    return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
}


/* Gives back the room of a malloc'd vector past n elements (it stays as
 * it is when realloc fails, which does no harm). */
static void shrink(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n == 0 || n >= *cap)
        return;
    void *p = realloc(*v, n * sz);
    if (p) {
        *v = p;
        *cap = n;
    }
}

/* A number from the file: finite and within a sane range, else 0 (the
 * comparison is false for NaN and the infinities too). */
static inline double sane(double v)
{
    return fabs(v) < 1e6 ? v : 0.0;
}

static const char *line_text(const struct ctx *c, const struct line *l)
{
    return c->text.data + l->off;
}

static double height(const struct line *l)
{
    return l->y1 - l->y0;
}

/* Case-insensitive ASCII substring test. */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == w[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static bool is_bold_font(const char *name)
{
    return name && (has_word(name, "bold") || has_word(name, "black") || has_word(name, "heavy") ||
                    has_word(name, "semibold") || has_word(name, "demi"));
}

static bool is_mono_font(const char *name)
{
    return name && (has_word(name, "mono") || has_word(name, "courier") ||
                    has_word(name, "consol") || has_word(name, "typewriter") ||
                    has_word(name, "fixed") || has_word(name, "code"));
}

static bool same_size(double a, double b)
{
    return fabs(a - b) <= 0.05 * (a > b ? a : b) + 0.1;
}

/* ---- pass 1: lines ---- */

/* A font run from the text attributes: characters [start, end]. */
struct run {
    long start, end;
    double size;
    bool bold, mono;
};

static int run_cmp(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The line being built from characters. */
struct builder {
    bool open;
    bool pending_space;
    size_t line_chars, bold_chars, mono_chars;
    double sizes[4];
    size_t size_count[4];
    double prev_x0, prev_x1, prev_size;
    struct line l;
    struct seg s;
};

static bool is_space_char(gunichar u)
{
    return u == ' ' || u == '\t' || u == '\r' || u == 0xA0 || (u >= 0x2000 && u <= 0x200B) ||
           u == 0x3000 || u == 0x202F;
}

static enum rp_err end_seg(struct ctx *c, struct builder *b)
{
    b->s.len = c->text.len - b->s.off;
    if (!rp_vec_reserve((void **)&c->segs, &c->cap_segs, c->n_segs, sizeof(*c->segs)))
        return nomem(c);
    c->segs[c->n_segs++] = b->s;
    b->l.n_seg++;
    return RP_OK;
}

static enum rp_err end_line(struct ctx *c, struct builder *b)
{
    if (!b->open)
        return RP_OK;
    enum rp_err e = end_seg(c, b);
    if (e)
        return e;
    struct line *l = &b->l;
    l->len = c->text.len - l->off;
    /* Most lines are one segment, which is the line itself: only lines
     * split by wide gaps keep theirs. */
    if (l->n_seg == 1)
        c->n_segs--;
    size_t best = 0;
    for (size_t i = 1; i < 4; i++)
        if (b->size_count[i] > b->size_count[best])
            best = i;
    l->size = b->sizes[best];
    l->bold = b->bold_chars * 5 >= b->line_chars * 4; /* 80 % */
    l->mono = b->mono_chars * 5 >= b->line_chars * 4;
    l->cw = b->line_chars ? (l->x1 - l->x0) / (double)b->line_chars : 0;
    if (!rp_vec_reserve((void **)&c->lines, &c->cap_lines, c->n_lines, sizeof(*c->lines)))
        return nomem(c);
    c->lines[c->n_lines++] = *l;
    /* Lines are kept NUL-separated in the text buffer so each can be
     * read as a C string. */
    if ((e = rp_buf_addc(&c->text, '\0')))
        return rp_error_set(c->err, e, "the text is larger than %zu bytes", c->text.cap);
    b->open = false;
    return RP_OK;
}

/* Appends p[0..n) to the text buffer: the common case here, growth and
 * the cap in rp_buf_add(). This runs for every character of the file, so
 * it is worth the look at struct rp_buf's documented fields. */
static inline enum rp_err text_add(struct rp_buf *t, const char *p, size_t n)
{
    if (n < t->alloc - t->len && n <= t->cap - t->len) {
        memcpy(t->data + t->len, p, n);
        t->len += n;
        t->data[t->len] = '\0';
        return RP_OK;
    }
    return rp_buf_add(t, p, n);
}

/* The character at p in valid UTF-8; *n receives its length in bytes. */
static inline gunichar utf8_char(const unsigned char *p, size_t *n)
{
    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if (p[0] < 0xE0) {
        *n = 2;
        return (gunichar)(p[0] & 0x1F) << 6 | (gunichar)(p[1] & 0x3F);
    }
    if (p[0] < 0xF0) {
        *n = 3;
        return (gunichar)(p[0] & 0x0F) << 12 | (gunichar)(p[1] & 0x3F) << 6 |
               (gunichar)(p[2] & 0x3F);
    }
    *n = 4;
    return (gunichar)(p[0] & 0x07) << 18 | (gunichar)(p[1] & 0x3F) << 12 |
           (gunichar)(p[2] & 0x3F) << 6 | (gunichar)(p[3] & 0x3F);
}

/* Adds one visible character with its box and font. */
static enum rp_err add_char(struct ctx *c, struct builder *b, int page, const char *p, size_t n,
                            const PopplerRectangle *r, const struct run *f)
{
    double x0 = sane(r->x1), y0 = sane(r->y1), x1 = sane(r->x2), y1 = sane(r->y2);
    if (x1 < x0) {
        double t = x0;
        x0 = x1;
        x1 = t;
    }
    if (y1 < y0) {
        double t = y0;
        y0 = y1;
        y1 = t;
    }
    double size = f ? f->size : 0;
    enum rp_err e = RP_OK;
    if (!b->open) {
        memset(b, 0, sizeof(*b));
        b->open = true;
        b->l.page = page;
        b->l.off = c->text.len;
        b->l.x0 = x0;
        b->l.y0 = y0;
        b->l.x1 = x1;
        b->l.y1 = y1;
        b->l.seg = c->n_segs;
        b->s.off = c->text.len;
        b->s.x0 = x0;
        b->s.x1 = x1;
    } else {
        double em = size > b->prev_size ? size : b->prev_size;
        if (em <= 0)
            em = 10;
        bool gap = x0 - b->prev_x1 > SEG_GAP_EM * em || x0 < b->prev_x0 - em;
        if (gap) {
            if ((e = end_seg(c, b)))
                return e;
        }
        if (gap || b->pending_space)
            e = text_add(&c->text, " ", 1);
        if (gap) {
            b->s.off = c->text.len;
            b->s.x0 = x0;
            b->s.x1 = x1;
        }
    }
    b->pending_space = false;
    if (!e)
        e = text_add(&c->text, p, n);
    if (e)
        return rp_error_set(c->err, e, "the text is larger than %zu bytes", c->text.cap);
    if (x0 < b->l.x0)
        b->l.x0 = x0;
    if (x1 > b->l.x1)
        b->l.x1 = x1;
    if (y0 < b->l.y0)
        b->l.y0 = y0;
    if (y1 > b->l.y1)
        b->l.y1 = y1;
    if (x0 < b->s.x0)
        b->s.x0 = x0;
    if (x1 > b->s.x1)
        b->s.x1 = x1;
    b->prev_x0 = x0;
    b->prev_x1 = x1;
    b->prev_size = size;
    b->line_chars++;
    if (f && f->bold)
        b->bold_chars++;
    if (f && f->mono)
        b->mono_chars++;
    size_t i = 0;
    while (i < 4 && b->size_count[i] && !same_size(b->sizes[i], size))
        i++;
    if (i == 4)
        i = 3; /* a fifth size on one line: count it with the last */
    if (b->size_count[i] == 0)
        b->sizes[i] = size;
    b->size_count[i]++;
    return RP_OK;
}

/* The direction text runs in on a page, voted by consecutive characters
 * of the same line: 0 left to right, 1 downwards (a page turned by 90
 * degrees), 2 right to left (180), 3 upwards (270). */
static int text_direction(const char *text, const PopplerRectangle *r, guint n)
{
    size_t votes[4] = {0};
    long k = 0;
    double px = 0, py = 0;
    bool have = false;
    for (const char *p = text; *p && (size_t)k < n; p = g_utf8_next_char(p), k++) {
        if (*p == '\n' || *p == ' ') { /* ASCII: no need to decode */
            have = have && *p == ' ';
            continue;
        }
        double x = (sane(r[k].x1) + sane(r[k].x2)) / 2, y = (sane(r[k].y1) + sane(r[k].y2)) / 2;
        if (have) {
            double dx = x - px, dy = y - py;
            votes[fabs(dx) >= fabs(dy) ? (dx >= 0 ? 0 : 2) : (dy >= 0 ? 1 : 3)]++;
        }
        px = x;
        py = y;
        have = true;
    }
    int best = 0;
    for (int d = 1; d < 4; d++)
        if (votes[d] > votes[best])
            best = d;
    return best;
}

/* Turns the character boxes of a page whose text runs in direction dir
 * (page size w x h as shown) so that it runs left to right, top to
 * bottom; *height receives the height of the page so turned. */
static void upright(PopplerRectangle *r, guint n, int dir, double w, double h, double *height)
{
    *height = dir == 1 || dir == 3 ? w : h;
    for (guint i = 0; i < n && dir != 0; i++) {
        double x0 = r[i].x1 < r[i].x2 ? r[i].x1 : r[i].x2, x1 = r[i].x1 < r[i].x2 ? r[i].x2 : r[i].x1;
        double y0 = r[i].y1 < r[i].y2 ? r[i].y1 : r[i].y2, y1 = r[i].y1 < r[i].y2 ? r[i].y2 : r[i].y1;
        switch (dir) {
        case 1: /* downwards: x' = y, y' = w - x */
            r[i] = (PopplerRectangle){y0, w - x1, y1, w - x0};
            break;
        case 2: /* right to left: x' = w - x, y' = h - y */
            r[i] = (PopplerRectangle){w - x1, h - y1, w - x0, h - y0};
            break;
        default: /* upwards: x' = h - y, y' = x */
            r[i] = (PopplerRectangle){h - y1, x0, h - y0, x1};
            break;
        }
    }
}

/* Lines by position: top to bottom, then left to right. */
static int line_pos_cmp(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    long xy = lround(x->y0), yy = lround(y->y0); /* whole points: a consistent order */
    if (xy != yy)
        return xy < yy ? -1 : 1;
    if (x->x0 != y->x0)
        return x->x0 < y->x0 ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Reads the lines of one page (page size w x h); *height receives the
 * page height in the upright orientation its text is read in. */
static enum rp_err read_page(struct ctx *c, PopplerPage *pp, int page, double w, double h,
                             double *height)
{
    /* Three calls, each a walk over poppler's text of the page (which the
     * first one builds and the page object keeps): nothing else gives the
     * characters, their boxes and their fonts. */
    char *text = poppler_page_get_text(pp);
    PopplerRectangle *rects = NULL;
    guint n_rects = 0;
    GList *attrs = NULL;
    size_t n_runs = 0;
    enum rp_err e = RP_OK;
    int dir = 0;
    size_t first = c->n_lines;
    *height = h;
    if (!text || !*text)
        goto out;
    /* Refuse a text bomb before asking poppler for its layout. */
    size_t len = strlen(text);
    if (len > c->text.cap - c->text.len) {
        e = rp_error_set(c->err, RP_ERR_TOOBIG, "the text is larger than %zu bytes", c->text.cap);
        goto out;
    }
    if (!g_utf8_validate(text, (gssize)len, NULL)) {
        char *valid = g_utf8_make_valid(text, (gssize)len);
        g_free(text);
        text = valid;
    }
    if (!poppler_page_get_text_layout(pp, &rects, &n_rects)) {
        g_free(rects);
        rects = NULL;
        n_rects = 0;
    }
    dir = text_direction(text, rects, n_rects);
    upright(rects, n_rects, dir, w, h, height);
    attrs = poppler_page_get_text_attributes(pp);
    const char *last_font = NULL; /* runs of one font in a row are common */
    bool last_bold = false, last_mono = false;
    for (GList *it = attrs; it; it = it->next) {
        const PopplerTextAttributes *a = it->data;
        if (!a)
            continue;
        if (!rp_vec_reserve((void **)&c->runs, &c->cap_runs, n_runs, sizeof(*c->runs))) {
            e = nomem(c);
            goto out;
        }
        if (!last_font || !a->font_name || strcmp(a->font_name, last_font) != 0) {
            last_bold = is_bold_font(a->font_name);
            last_mono = is_mono_font(a->font_name);
        }
        last_font = a->font_name;
        struct run *r = &c->runs[n_runs++];
        double size = sane(a->font_size);
        r->start = a->start_index;
        r->end = a->end_index;
        r->size = size > 0 && size < 1000 ? size : 0;
        r->bold = last_bold;
        r->mono = last_mono;
    }
    const struct run *runs = c->runs;
    /* poppler lists the runs in order; sorting is only a safeguard. */
    bool sorted = true;
    for (size_t i = 1; i < n_runs && sorted; i++)
        sorted = runs[i - 1].start <= runs[i].start;
    if (!sorted)
        qsort(c->runs, n_runs, sizeof(*c->runs), run_cmp);

    struct builder b = {0};
    PopplerRectangle none = {0, 0, 0, 0};
    size_t cur = 0, n = 0;
    long k = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && !e; p += n, k++) {
        gunichar u = utf8_char(p, &n);
        if (u == '\n') {
            e = end_line(c, &b);
            continue;
        }
        if (is_space_char(u)) {
            b.pending_space = b.open;
            continue;
        }
        if (u < 0x20 || u == 0x7F || (u >= 0x80 && u < 0xA0) || u == 0xFEFF)
            continue;
        while (cur < n_runs && runs[cur].end < k)
            cur++;
        const struct run *f = cur < n_runs && runs[cur].start <= k ? &runs[cur] : NULL;
        const PopplerRectangle *r = (size_t)k < n_rects ? &rects[k] : &none;
        e = add_char(c, &b, page, (const char *)p, n, r, f);
    }
    if (!e)
        e = end_line(c, &b);
    /* poppler's reading order is unreliable on turned pages (it can run
     * backwards); those are taken as one column and read top to bottom. */
    if (!e && dir != 0)
        qsort(c->lines + first, c->n_lines - first, sizeof(*c->lines), line_pos_cmp);
out:
    poppler_page_free_text_attributes(attrs);
    g_free(rects);
    g_free(text);
    return e;
}

/* ---- pass 2: running headers and footers ---- */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* s is a number, optionally with the given prefix (case-insensitive). */
static const char *skip_number(const char *s)
{
    if (!is_digit(*s))
        return NULL;
    while (is_digit(*s))
        s++;
    return s;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

/* "-", en dash or em dash. */
static const char *skip_dash(const char *s)
{
    if (*s == '-')
        return s + 1;
    if (strncmp(s, "\xE2\x80\x93", 3) == 0 || strncmp(s, "\xE2\x80\x94", 3) == 0)
        return s + 3;
    return NULL;
}

/* "12", "- 12 -", "Page 3", "Page 3 of 9", "3 of 9", "3 / 9", "[12]". */
static bool is_page_number(const char *s)
{
    const char *p = s, *q;
    if ((q = skip_dash(p))) {
        p = skip_number(skip_spaces(q));
        if (!p)
            return false;
        p = skip_spaces(p);
        return (q = skip_dash(p)) && *q == '\0';
    }
    if (*p == '[' || *p == '(') {
        p = skip_number(p + 1);
        return p && (*p == ']' || *p == ')') && p[1] == '\0';
    }
    if (strncasecmp(p, "page ", 5) == 0)
        p = skip_spaces(p + 5);
    if (!(p = skip_number(p)))
        return false;
    if (*p == '\0')
        return true;
    p = skip_spaces(p);
    if (strncasecmp(p, "of ", 3) == 0)
        p += 3;
    else if (*p == '/')
        p++;
    else
        return false;
    p = skip_number(skip_spaces(p));
    return p && *p == '\0';
}

struct band_line {
    size_t line;
    int page;
    int band; /* 0 top, 1 bottom */
    char *key;
};

static int band_cmp(const void *a, const void *b)
{
    const struct band_line *x = a, *y = b;
    if (x->band != y->band)
        return x->band - y->band;
    int k = strcmp(x->key, y->key);
    if (k)
        return k;
    return x->page - y->page;
}

/* The comparison key of a band line: ASCII lower-cased, digit runs as "#". */
static char *band_key(const char *s)
{
    size_t n = strlen(s);
    char *k = malloc(n + 1);
    if (!k)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i])) {
            k[j++] = '#';
            while (i + 1 < n && is_digit(s[i + 1]))
                i++;
        } else {
            k[j++] = (char)tolower((unsigned char)s[i]);
        }
    }
    k[j] = '\0';
    return k;
}

/* Lines of one page ordered by their top. */
struct yref {
    double y;
    size_t line;
};

static int yref_cmp(const void *a, const void *b)
{
    const struct yref *x = a, *y = b;
    if (x->y != y->y)
        return x->y < y->y ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* A one-page document cannot show repetition; there the first line (or
 * the last), in the band, no larger than its neighbour and set apart from
 * it by over 2.5 times its height, is taken for a running header (footer).
 * ys holds the page's n lines in y order; i is the line in question. */
static bool lone_band_line(const struct ctx *c, const struct yref *ys, size_t n, size_t i)
{
    if (n < 2 || (i != 0 && i != n - 1))
        return false;
    const struct line *l = &c->lines[ys[i].line];
    const struct line *o = &c->lines[ys[i == 0 ? 1 : n - 2].line];
    double gap = i == 0 ? o->y0 - l->y1 : l->y0 - o->y1;
    return gap > 2.5 * height(l) && l->size <= o->size + 0.1;
}

static enum rp_err drop_running_lines(struct ctx *c)
{
    struct band_line *cand = NULL;
    size_t n_cand = 0, cap_cand = 0;
    struct yref *ys = NULL;
    size_t cap_ys = 0;
    enum rp_err e = RP_OK;

    for (int pg = 0; pg < c->n_pages && !e; pg++) {
        const struct page *P = &c->pages[pg];
        if (P->n == 0)
            continue;
        if (P->n > cap_ys) {
            free(ys);
            cap_ys = P->n;
            if (!(ys = malloc(cap_ys * sizeof(*ys)))) {
                e = nomem(c);
                break;
            }
        }
        for (size_t i = 0; i < P->n; i++) {
            ys[i].y = c->lines[P->first + i].y0;
            ys[i].line = P->first + i;
        }
        qsort(ys, P->n, sizeof(*ys), yref_cmp);
        double h = P->height;
        for (size_t i = 0; i < P->n && !e; i++) {
            const struct line *l = &c->lines[ys[i].line];
            int band = -1;
            if (i < BAND_LINES && l->y1 <= h * BAND_FRACTION)
                band = 0;
            else if (i + BAND_LINES >= P->n && l->y0 >= h * (1.0 - BAND_FRACTION))
                band = 1;
            if (band < 0)
                continue;
            if (is_page_number(line_text(c, l)) || (c->n_pages == 1 && lone_band_line(c, ys, P->n, i))) {
                c->lines[ys[i].line].role = ROLE_DROP;
                continue;
            }
            if (!rp_vec_reserve((void **)&cand, &cap_cand, n_cand, sizeof(*cand))) {
                e = nomem(c);
                break;
            }
            char *key = band_key(line_text(c, l));
            if (!key) {
                e = nomem(c);
                break;
            }
            cand[n_cand++] = (struct band_line){ys[i].line, l->page, band, key};
        }
    }
    if (!e && n_cand) {
        qsort(cand, n_cand, sizeof(*cand), band_cmp);
        int need = (c->n_pages + 1) / 2;
        if (need < 2)
            need = 2;
        for (size_t i = 0; i < n_cand;) {
            size_t j = i;
            int pages = 0, last = -1;
            while (j < n_cand && cand[j].band == cand[i].band &&
                   strcmp(cand[j].key, cand[i].key) == 0) {
                if (cand[j].page != last)
                    pages++;
                last = cand[j].page;
                j++;
            }
            if (pages >= need)
                for (size_t k = i; k < j; k++)
                    c->lines[cand[k].line].role = ROLE_DROP;
            i = j;
        }
    }
    for (size_t i = 0; i < n_cand; i++)
        free(cand[i].key);
    free(cand);
    free(ys);
    return e;
}

/* ---- pass 3: tables ---- */

/* A segment placed in a physical row: its x range and text, and its line.
 * (Ties in x go by text offset, which is the order segments were read.) */
struct xseg {
    double x0, x1;
    size_t off, len, line;
};

static int xseg_cmp(const void *a, const void *b)
{
    const struct xseg *x = a, *y = b;
    if (x->x0 != y->x0)
        return x->x0 < y->x0 ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

struct prow {
    size_t first, n; /* its segments in the page's xseg array */
    double y0, y1, size;
    bool multi;
};

static size_t count_words(const char *s, size_t n)
{
    size_t w = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        bool sp = s[i] == ' ';
        if (!sp && !in)
            w++;
        in = !sp;
    }
    return w;
}

/* A cell that is only a list marker or a section number: "•", "-", "3.",
 * "a)", "5.3.3". A "table" whose first column holds nothing else is a
 * list or a run of headings set with a tab. */
static bool is_marker_cell(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (n == 1 && (s[0] == '-' || s[0] == '*' || s[0] == 'o'))
        return true;
    if ((unsigned char)s[0] >= 0xE2 && n <= 3)
        return true; /* one symbol: a bullet glyph */
    size_t i = 0;
    if (n == 2 && islower((unsigned char)s[0]) && s[1] == ')')
        return true;
    while (i < n && (is_digit(s[i]) || (s[i] == '.' && i > 0) || (s[i] == ')' && i == n - 1)))
        i++;
    return i == n && is_digit(s[0]);
}

/* Lines of a page that were rewritten by merge_rows(): reading-order
 * span and horizontal extent. */
struct window {
    size_t lo, hi;
    double x0, x1;
    bool used;
};

static int size_t_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Rows [a, b) whose first cell is a list marker or a section number are a
 * list or headings set with a tab, which poppler often reads column by
 * column ("1.", "2.", then both texts). Each row becomes one line again:
 * its segments joined left to right, written into the row's reading-order
 * slots top to bottom (the slots left over are dropped). The slots' span
 * is added to w, to be put in position order afterwards. */
static enum rp_err merge_rows(struct ctx *c, const struct prow *rows, size_t a, size_t b,
                              const struct xseg *xs, struct window *w)
{
    size_t n = 0;
    for (size_t r = a; r < b; r++)
        n += rows[r].n;
    size_t *slots = malloc(n * sizeof(*slots));
    if (!slots)
        return nomem(c);
    size_t k = 0;
    for (size_t r = a; r < b; r++)
        for (size_t i = 0; i < rows[r].n; i++)
            slots[k++] = xs[rows[r].first + i].line;
    qsort(slots, n, sizeof(*slots), size_t_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || slots[i] != slots[m - 1])
            slots[m++] = slots[i];
    struct rp_buf row;
    rp_buf_init(&row, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (size_t r = a; r < b && !e; r++) {
        const struct prow *R = &rows[r];
        size_t bold = 0;
        double x0 = xs[R->first].x0, x1 = xs[R->first].x1;
        rp_buf_reset(&row);
        for (size_t i = 0; i < R->n && !e; i++) {
            const struct xseg *x = &xs[R->first + i];
            if (i)
                e = rp_buf_addc(&row, ' ');
            if (!e)
                e = rp_buf_add(&row, c->text.data + x->off, x->len);
            if (c->lines[x->line].bold)
                bold += x->len;
            if (x->x0 < x0)
                x0 = x->x0;
            if (x->x1 > x1)
                x1 = x->x1;
        }
        struct line *l = &c->lines[slots[r - a]];
        size_t off = c->text.len;
        if (!e)
            e = rp_buf_add(&c->text, row.data, row.len);
        if (!e)
            e = rp_buf_addc(&c->text, '\0');
        if (e) {
            e = e == RP_ERR_TOOBIG ? rp_error_set(c->err, e, "the text is larger than %zu bytes",
                                                  c->text.cap)
                                   : nomem(c);
            break;
        }
        l->off = off;
        l->len = row.len;
        l->x0 = x0;
        l->x1 = x1;
        l->y0 = R->y0;
        l->y1 = R->y1;
        l->size = R->size;
        l->bold = bold * 5 >= row.len * 4;
        l->mono = false;
        l->cw = row.len ? (x1 - x0) / (double)row.len : 0;
        l->n_seg = 0;
    }
    for (size_t i = b - a; i < m && !e; i++)
        c->lines[slots[i]].role = ROLE_DROP;
    if (!e && m) {
        if (!w->used) {
            w->lo = slots[0];
            w->hi = slots[m - 1];
            w->x0 = c->lines[slots[0]].x0;
            w->x1 = c->lines[slots[0]].x1;
            w->used = true;
        }
        for (size_t i = 0; i < m; i++) {
            const struct line *l = &c->lines[slots[i]];
            if (slots[i] < w->lo)
                w->lo = slots[i];
            if (slots[i] > w->hi)
                w->hi = slots[i];
            if (l->role != ROLE_DROP && l->x0 < w->x0)
                w->x0 = l->x0;
            if (l->role != ROLE_DROP && l->x1 > w->x1)
                w->x1 = l->x1;
        }
    }
    rp_buf_release(&row);
    free(slots);
    return e;
}

/* Tries to turn rows [a, b) of a page into a table; all validation is
 * here. xs holds every row's segments sorted by x within the row. */
static enum rp_err try_table(struct ctx *c, const struct prow *rows, size_t a, size_t b,
                             const struct xseg *xs, struct window *w)
{
    bool markers = true;
    for (size_t r = a; r < b && markers; r++) {
        const struct xseg *x = &xs[rows[r].first];
        markers = is_marker_cell(c->text.data + x->off, x->len);
    }
    if (markers)
        return merge_rows(c, rows, a, b, xs, w);
    if (b - a < 2)
        return RP_OK;
    /* Column ranges: the union of every segment's x range. */
    size_t n_all = 0;
    for (size_t r = a; r < b; r++)
        n_all += rows[r].n;
    struct xseg *all = malloc(n_all * sizeof(*all));
    double *col0 = NULL, *col1 = NULL;
    size_t *filled = NULL;
    enum rp_err e = RP_OK;
    struct rp_table_builder tb;
    rp_table_builder_init(&tb);
    struct rp_buf cell;
    rp_buf_init(&cell, RP_BUF_NO_CAP);
    if (!all) {
        e = nomem(c);
        goto out;
    }
    size_t k = 0;
    for (size_t r = a; r < b; r++)
        for (size_t i = 0; i < rows[r].n; i++)
            all[k++] = xs[rows[r].first + i];
    qsort(all, n_all, sizeof(*all), xseg_cmp);
    col0 = malloc(n_all * sizeof(*col0));
    col1 = malloc(n_all * sizeof(*col1));
    filled = calloc(n_all, sizeof(*filled));
    if (!col0 || !col1 || !filled) {
        e = nomem(c);
        goto out;
    }
    size_t n_cols = 0;
    double slack = 0.5 * rows[a].size;
    for (size_t i = 0; i < n_all; i++) {
        if (n_cols && all[i].x0 < col1[n_cols - 1] + slack) {
            if (all[i].x1 > col1[n_cols - 1])
                col1[n_cols - 1] = all[i].x1;
            continue;
        }
        col0[n_cols] = all[i].x0;
        col1[n_cols] = all[i].x1;
        n_cols++;
    }
    if (n_cols < 2 || n_cols > TABLE_MAX_COLS)
        goto out;
    /* Every row: two filled cells at least; the header row: all. Cells
     * short on average. */
    size_t words = 0, cells = 0;
    for (size_t r = a; r < b; r++) {
        memset(filled, 0, n_cols * sizeof(*filled));
        size_t n_filled = 0;
        for (size_t i = 0; i < rows[r].n; i++) {
            const struct xseg *x = &xs[rows[r].first + i];
            size_t col = 0;
            while (col + 1 < n_cols && x->x0 >= col0[col + 1])
                col++;
            if (!filled[col]++)
                n_filled++;
            words += count_words(c->text.data + x->off, x->len);
        }
        cells += n_filled;
        if (n_filled < 2 || (r == a && n_filled < n_cols))
            goto out;
        if (!same_size(rows[r].size, rows[a].size))
            goto out;
    }
    if ((double)words > TABLE_MAX_WORDS * (double)cells)
        goto out;

    /* It is a table: build it, and mark its lines. */
    size_t first_line = (size_t)-1;
    for (size_t r = a; r < b && !e; r++) {
        size_t i = 0;
        for (size_t col = 0; col < n_cols && !e; col++) {
            rp_buf_reset(&cell);
            while (i < rows[r].n && !e) {
                const struct xseg *x = &xs[rows[r].first + i];
                if (col + 1 < n_cols && x->x0 >= col0[col + 1])
                    break;
                if (cell.len)
                    e = rp_buf_addc(&cell, ' ');
                if (!e)
                    e = rp_buf_add(&cell, c->text.data + x->off, x->len);
                if (x->line < first_line)
                    first_line = x->line;
                i++;
            }
            if (!e)
                e = rp_table_builder_cell(&tb, cell.data, cell.len);
        }
        if (!e)
            e = rp_table_builder_end_row(&tb);
    }
    if (e) {
        e = nomem(c);
        goto out;
    }
    tb.n_header = 1;
    if (!rp_vec_reserve((void **)&c->tables, &c->cap_tables, c->n_tables, sizeof(*c->tables))) {
        e = nomem(c);
        goto out;
    }
    struct table *t = &c->tables[c->n_tables];
    memset(t, 0, sizeof(*t));
    t->first_line = first_line;
    t->page = c->lines[first_line].page;
    t->x0 = col0[0];
    t->x1 = col1[n_cols - 1];
    for (size_t r = a; r < b; r++) {
        for (size_t i = 0; i < rows[r].n; i++) {
            size_t li = xs[rows[r].first + i].line;
            if (li > t->last_line)
                t->last_line = li;
        }
        if (rows[r].y1 > t->y1)
            t->y1 = rows[r].y1;
    }
    t->tb = tb;
    rp_table_builder_init(&tb);
    for (size_t r = a; r < b; r++)
        for (size_t i = 0; i < rows[r].n; i++) {
            c->lines[xs[rows[r].first + i].line].role = ROLE_TABLE;
        }
    c->n_tables++;
out:
    rp_buf_release(&cell);
    rp_table_builder_release(&tb);
    free(filled);
    free(col0);
    free(col1);
    free(all);
    return e;
}

static enum rp_err find_tables_on_page(struct ctx *c, const struct page *P)
{
    struct yref *ys = NULL;
    struct xseg *xs = NULL;
    struct prow *rows = NULL;
    enum rp_err e = RP_OK;
    size_t n = 0, n_xs = 0, n_rows = 0;
    struct window w = {0, 0, 0, 0, false};
    if (!(ys = malloc((P->n ? P->n : 1) * sizeof(*ys))))
        return nomem(c);
    size_t n_seg_total = 0;
    for (size_t i = 0; i < P->n; i++) {
        const struct line *l = &c->lines[P->first + i];
        if (l->role != ROLE_BODY || l->mono || height(l) <= 0)
            continue;
        ys[n].y = (l->y0 + l->y1) / 2;
        ys[n].line = P->first + i;
        n_seg_total += l->n_seg;
        n++;
    }
    if (n < 2)
        goto out;
    qsort(ys, n, sizeof(*ys), yref_cmp);
    xs = malloc(n_seg_total * sizeof(*xs));
    rows = malloc(n * sizeof(*rows));
    if (!xs || !rows) {
        e = nomem(c);
        goto out;
    }
    /* Physical rows: lines overlapping vertically by half the smaller
     * height at least. */
    for (size_t i = 0; i < n; i++) {
        const struct line *l = &c->lines[ys[i].line];
        struct prow *R = n_rows ? &rows[n_rows - 1] : NULL;
        bool join = false;
        if (R) {
            double ov = (l->y1 < R->y1 ? l->y1 : R->y1) - (l->y0 > R->y0 ? l->y0 : R->y0);
            double hmin = height(l) < R->y1 - R->y0 ? height(l) : R->y1 - R->y0;
            join = ov >= 0.5 * hmin;
        }
        if (!join) {
            R = &rows[n_rows++];
            R->first = n_xs;
            R->n = 0;
            R->y0 = l->y0;
            R->y1 = l->y1;
            R->size = l->size;
        }
        if (l->y0 < R->y0)
            R->y0 = l->y0;
        if (l->y1 > R->y1)
            R->y1 = l->y1;
        if (l->n_seg == 1) { /* the line itself (see end_line) */
            xs[n_xs++] = (struct xseg){l->x0, l->x1, l->off, l->len, ys[i].line};
        } else {
            for (size_t s = 0; s < l->n_seg; s++) {
                const struct seg *sg = &c->segs[l->seg + s];
                xs[n_xs++] = (struct xseg){sg->x0, sg->x1, sg->off, sg->len, ys[i].line};
            }
        }
        R->n += l->n_seg;
    }
    for (size_t r = 0; r < n_rows; r++) {
        struct prow *R = &rows[r];
        qsort(xs + R->first, R->n, sizeof(*xs), xseg_cmp);
        R->multi = R->n >= 2;
        for (size_t i = 1; i < R->n && R->multi; i++)
            if (xs[R->first + i].x0 < xs[R->first + i - 1].x1 - 0.5)
                R->multi = false; /* overlapping text: not columns */
    }
    /* Runs of consecutive multi-segment rows, close together. */
    for (size_t r = 0; r < n_rows && !e;) {
        if (!rows[r].multi) {
            r++;
            continue;
        }
        size_t s = r + 1;
        while (s < n_rows && rows[s].multi &&
               rows[s].y1 - rows[s - 1].y1 <= 2.5 * (rows[s].size > 0 ? rows[s].size : 10))
            s++;
        e = try_table(c, rows, r, s, xs, &w);
        r = s;
    }
    /* Rows put back together are put in position order with the lines
     * around them, when the stretch of reading order they span is one
     * column of text without tables. */
    if (!e && w.used) {
        bool clean = true;
        for (size_t i = w.lo; i <= w.hi && clean; i++) {
            const struct line *l = &c->lines[i];
            clean = l->role != ROLE_TABLE &&
                    (l->role == ROLE_DROP || (l->x1 >= w.x0 && l->x0 <= w.x1));
        }
        if (clean)
            qsort(c->lines + w.lo, w.hi - w.lo + 1, sizeof(*c->lines), line_pos_cmp);
    }
out:
    free(rows);
    free(xs);
    free(ys);
    return e;
}

/* Where each table goes among the other blocks. poppler's reading order
 * may read a table's columns apart, even on either side of a paragraph
 * above it, so its lines' span says little; the table goes before the
 * first line after its first one that lies below it (and overlaps it
 * horizontally, so the other column of a two-column page does not
 * count), or else after its last line. */
static void place_tables(struct ctx *c)
{
    for (size_t k = 0; k < c->n_tables; k++) {
        struct table *t = &c->tables[k];
        t->anchor = t->last_line + 1;
        for (size_t j = t->first_line + 1; j < c->n_lines && j < t->anchor; j++) {
            const struct line *l = &c->lines[j];
            if (l->page != t->page)
                break;
            if (l->role == ROLE_TABLE || l->role == ROLE_DROP || l->x1 < t->x0 || l->x0 > t->x1)
                continue;
            if (l->y0 >= t->y1 - 1.0) {
                t->anchor = j;
                break;
            }
        }
    }
}

static int anchor_cmp(const void *a, const void *b)
{
    const struct table *const *x = a, *const *y = b;
    if ((*x)->anchor != (*y)->anchor)
        return (*x)->anchor < (*y)->anchor ? -1 : 1;
    return *x < *y ? -1 : *x > *y;
}

/* ---- pass 4: headings ---- */

/* Section numbering at the start of s ("5", "5.3.3", "A.2", with an
 * optional final dot) followed by a space and a title starting with a
 * letter. Returns the depth, or 0. */
static int numbering_depth(const char *s)
{
    size_t i = 0;
    int depth = 0;
    if (isupper((unsigned char)s[0]) && s[1] == '.' && is_digit(s[2])) {
        i = 2; /* annex: "A.1" */
        depth = 1;
    }
    for (;;) {
        size_t d = 0;
        while (is_digit(s[i]) && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || is_digit(s[i]))
            return 0;
        depth++;
        if (s[i] == '.' && is_digit(s[i + 1])) {
            i++;
            continue;
        }
        break;
    }
    if (s[i] == '.')
        i++;
    if (s[i] != ' ')
        return 0;
    i++;
    if (!isalpha((unsigned char)s[i]))
        return 0;
    size_t n = strlen(s);
    char last = s[n - 1];
    if (last == '.' || last == ',' || last == ';' || last == ':')
        return 0;
    return depth > MAX_LEVEL ? MAX_LEVEL : depth;
}

/* The line before or after line i on the same page that is kept, or NULL. */
static const struct line *neighbour(const struct ctx *c, size_t i, int dir)
{
    const struct line *l = &c->lines[i];
    for (size_t k = i; dir < 0 ? k-- > 0 : ++k < c->n_lines;) {
        const struct line *n = &c->lines[k];
        if (n->page != l->page)
            return NULL;
        if (n->role != ROLE_DROP)
            return n;
    }
    return NULL;
}

/* A line standing alone: a paragraph gap (or the page edge) above and
 * below it. Plain-weight numbered lines are headings only like this, as
 * in plain text ("2 Procedure" between two paragraphs). */
static bool isolated(const struct ctx *c, size_t i)
{
    const struct line *l = &c->lines[i];
    double size = l->size > 0 ? l->size : 10;
    double gap = PARA_GAP * c->pitch * size;
    const struct line *p = neighbour(c, i, -1), *n = neighbour(c, i, +1);
    if (p && (l->y1 - p->y1 <= gap && l->y1 > p->y1))
        return false;
    if (n && (n->y1 - l->y1 <= gap && n->y1 > l->y1))
        return false;
    return true;
}

/* Font sizes keyed in half points. */
static long size_key(double size)
{
    return lround(size * 2.0);
}

struct size_count {
    long key;
    size_t n;
};

static enum rp_err classify_headings(struct ctx *c)
{
    /* The body size: most characters in regular weight (bold headings
     * would outweigh the body of a short document), or in any weight
     * when everything is bold. */
    struct size_count *h = NULL;
    size_t n_h = 0, cap_h = 0;
    enum rp_err e = RP_OK;
    bool any_regular = false;
    for (size_t i = 0; i < c->n_lines && !any_regular; i++)
        any_regular = c->lines[i].role != ROLE_DROP && c->lines[i].size > 0 && !c->lines[i].bold;
    for (size_t i = 0; i < c->n_lines; i++) {
        const struct line *l = &c->lines[i];
        if (l->role == ROLE_DROP || l->size <= 0 || (any_regular && l->bold))
            continue;
        long key = size_key(l->size);
        size_t j = 0;
        while (j < n_h && h[j].key != key)
            j++;
        if (j == n_h) {
            if (!rp_vec_reserve((void **)&h, &cap_h, n_h, sizeof(*h))) {
                free(h);
                return nomem(c);
            }
            h[n_h++] = (struct size_count){key, 0};
        }
        h[j].n += l->len;
    }
    size_t best = 0;
    for (size_t j = 1; j < n_h; j++)
        if (h[j].n > h[best].n || (h[j].n == h[best].n && h[j].key < h[best].key))
            best = j;
    c->body = n_h ? (double)h[best].key / 2.0 : 0;

    /* Heading sizes: distinct sizes of short lines clearly larger than
     * the body, ranked from the largest. */
    n_h = 0;
    for (size_t i = 0; i < c->n_lines && c->body > 0; i++) {
        struct line *l = &c->lines[i];
        if (l->role != ROLE_BODY || l->mono || l->len > HEADING_MAX ||
            l->size < c->body * HEADING_RATIO)
            continue;
        long key = size_key(l->size);
        size_t j = 0;
        while (j < n_h && h[j].key != key)
            j++;
        if (j == n_h) {
            if (!rp_vec_reserve((void **)&h, &cap_h, n_h, sizeof(*h))) {
                e = nomem(c);
                goto out;
            }
            h[n_h++] = (struct size_count){key, 0};
        }
        h[j].n++;
        l->role = ROLE_HEADING;
    }
    /* Rank: level = 1 + number of larger heading sizes. */
    int offset_votes[2 * MAX_LEVEL + 1] = {0};
    for (size_t i = 0; i < c->n_lines; i++) {
        struct line *l = &c->lines[i];
        if (l->role != ROLE_HEADING)
            continue;
        long key = size_key(l->size);
        int level = 1;
        for (size_t j = 0; j < n_h; j++)
            level += h[j].key > key;
        l->level = level > MAX_LEVEL ? MAX_LEVEL : level;
        int depth = numbering_depth(line_text(c, l));
        if (depth > 0)
            offset_votes[l->level - depth + MAX_LEVEL]++;
    }
    /* Bold numbered lines at (about) body size. */
    int offset = 0, best_votes = 0;
    for (int v = 0; v <= 2 * MAX_LEVEL; v++)
        if (offset_votes[v] > best_votes) {
            best_votes = offset_votes[v];
            offset = v - MAX_LEVEL;
        }
    for (size_t i = 0; i < c->n_lines && c->body > 0; i++) {
        struct line *l = &c->lines[i];
        if (l->role != ROLE_BODY || l->mono || l->len > HEADING_MAX ||
            l->size >= c->body * HEADING_RATIO || l->size < c->body * 0.9)
            continue;
        if (!l->bold && (l->len > ISOLATED_MAX || !isolated(c, i)))
            continue;
        int depth = numbering_depth(line_text(c, l));
        if (depth == 0)
            continue;
        int level = depth + offset;
        l->role = ROLE_HEADING;
        l->level = level < 1 ? 1 : level > MAX_LEVEL ? MAX_LEVEL : level;
    }
out:
    free(h);
    return e;
}

/* The usual baseline step of body lines, as a multiple of their size. */
static void estimate_pitch(struct ctx *c)
{
    size_t votes[41] = {0}; /* 0.90 .. 2.90 in steps of 0.05 */
    for (size_t i = 1; i < c->n_lines; i++) {
        const struct line *p = &c->lines[i - 1], *l = &c->lines[i];
        if (p->role != ROLE_BODY || l->role != ROLE_BODY || p->page != l->page || p->mono ||
            l->mono || l->size <= 0 || !same_size(p->size, l->size))
            continue;
        double r = (l->y1 - p->y1) / l->size;
        if (r < 0.9 || r > 2.0)
            continue;
        votes[lround((r - 0.9) * 20.0)]++;
    }
    size_t best = 0;
    for (size_t v = 1; v < 41; v++)
        if (votes[v] > votes[best])
            best = v;
    c->pitch = votes[best] ? 0.9 + (double)best / 20.0 : 1.35;
}

/* ---- pass 5: blocks ---- */

enum open_kind { OPEN_NONE, OPEN_PARA, OPEN_LIST, OPEN_CODE };

struct emitter {
    enum open_kind kind;
    struct rp_buf buf;
    int page;              /* page of the open block */
    const struct line *last;
    double item_x0;        /* x of the current list item's marker */
    double code_x0, code_cw;
};

enum marker {
    MARK_NONE,
    MARK_GLYPH,    /* a typographic bullet: always starts an item */
    MARK_ASCII,    /* "-", "*" or "o": also the start of a wrapped line now and then */
    MARK_NUMBERED, /* "1.", "2)", "a)" */
};

/* The list marker at the start of s; *len is the length of the marker and
 * the space after it. */
static enum marker list_marker(const char *s, size_t *len)
{
    static const char *const glyphs[] = {
        "\xE2\x80\xA2", /* • */
        "\xE2\x80\x93", /* – */
        "\xE2\x80\x94", /* — */
        "\xE2\x96\xAA", /* ▪ */
        "\xE2\x97\xA6", /* ◦ */
        "\xE2\x80\xA3", /* ‣ */
        "\xE2\x96\xA0", /* ■ */
        "\xEF\x82\xB7", /* U+F0B7, Symbol-font bullet */
        "\xEF\x82\xA7", /* U+F0A7, Wingdings bullet */
    };
    for (size_t i = 0; i < sizeof(glyphs) / sizeof(glyphs[0]); i++) {
        size_t n = strlen(glyphs[i]);
        if (strncmp(s, glyphs[i], n) == 0 && s[n] == ' ' && s[n + 1] != '\0') {
            *len = n + 1;
            return MARK_GLYPH;
        }
    }
    if ((s[0] == '-' || s[0] == '*' || s[0] == 'o') && s[1] == ' ' && s[2] != '\0') {
        *len = 2;
        return MARK_ASCII;
    }
    size_t i = 0;
    while (is_digit(s[i]) && i < 3)
        i++;
    if (i == 0 && islower((unsigned char)s[0]) && s[1] == ')')
        i = 1;
    if (i > 0 && (s[i] == '.' || s[i] == ')') && s[i + 1] == ' ' && s[i + 2] != '\0') {
        *len = i + 2;
        return MARK_NUMBERED;
    }
    *len = 0;
    return MARK_NONE;
}

static bool ends_sentence(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ')' || s[n - 1] == '"' || s[n - 1] == '\''))
        n--;
    return n > 0 && strchr(".!?:;", s[n - 1]) != NULL;
}

/* A line-end hyphen ("-", U+2010 or a soft hyphen) after a letter:
 * returns its length, else 0. */
static size_t trailing_hyphen(const char *s, size_t n)
{
    size_t h = 0;
    if (n >= 2 && s[n - 1] == '-')
        h = 1;
    else if (n >= 4 && memcmp(s + n - 3, "\xE2\x80\x90", 3) == 0)
        h = 3;
    else if (n >= 3 && memcmp(s + n - 2, "\xC2\xAD", 2) == 0)
        h = 2;
    if (!h || !isalpha((unsigned char)s[n - h - 1]))
        return 0;
    return h;
}

/* Appends text to the open block, joining a hyphenated word. */
static enum rp_err append_joined(struct rp_buf *b, const char *s, size_t n)
{
    if (b->len == 0)
        return rp_buf_add(b, s, n);
    size_t h = trailing_hyphen(b->data, b->len);
    if (h && islower((unsigned char)s[0])) {
        rp_buf_truncate(b, b->len - h);
        return rp_buf_add(b, s, n);
    }
    enum rp_err e = rp_buf_addc(b, ' ');
    return e ? e : rp_buf_add(b, s, n);
}

static enum rp_err flush(struct ctx *c, struct emitter *m)
{
    if (m->kind == OPEN_NONE)
        return RP_OK;
    enum rp_block_type t = m->kind == OPEN_PARA   ? RP_BLOCK_PARAGRAPH
                           : m->kind == OPEN_LIST ? RP_BLOCK_LIST
                                                  : RP_BLOCK_CODE;
    struct rp_block *blk = rp_doc_add_block(c->doc, t, m->buf.data, m->buf.len, 0);
    if (!blk)
        return nomem(c);
    blk->page = m->page;
    rp_buf_reset(&m->buf);
    m->kind = OPEN_NONE;
    m->last = NULL;
    return RP_OK;
}

/* Whether line l continues the open paragraph or list item. */
static bool continues(const struct ctx *c, const struct emitter *m, const struct line *l)
{
    const struct line *p = m->last;
    if (!p || !same_size(p->size, l->size))
        return false;
    if (p->page == l->page) {
        double step = l->y1 - p->y1;
        double size = l->size > 0 ? l->size : 10;
        return step > 0 && step <= PARA_GAP * c->pitch * size;
    }
    /* Across a page break: the sentence must go on. */
    if (l->page != p->page + 1)
        return false;
    const char *pt = line_text(c, p);
    const char *lt = line_text(c, l);
    return !ends_sentence(pt, p->len) && islower((unsigned char)lt[0]);
}

static enum rp_err open_block(struct ctx *c, struct emitter *m, enum open_kind k,
                              const struct line *l)
{
    enum rp_err e = flush(c, m);
    m->kind = k;
    m->page = l->page;
    return e;
}

static enum rp_err emit_line(struct ctx *c, struct emitter *m, size_t i)
{
    const struct line *l = &c->lines[i];
    const char *s = line_text(c, l);
    enum rp_err e = RP_OK;

    if (l->mono) {
        bool cont = m->kind == OPEN_CODE && m->last &&
                    (m->last->page != l->page ||
                     (l->y1 > m->last->y1 && l->y1 - m->last->y1 <= 2.5 * (l->size ? l->size : 10)));
        if (!cont) {
            if ((e = open_block(c, m, OPEN_CODE, l)))
                return e;
            m->code_x0 = l->x0;
            m->code_cw = l->cw > 0.5 ? l->cw : 6; /* about a 10 pt monospaced glyph */
        } else if ((e = rp_buf_addc(&m->buf, '\n'))) {
            return e;
        }
        double cols = (l->x0 - m->code_x0) / m->code_cw;
        long indent = cols > 0.5 ? lround(cols < 40 ? cols : 40) : 0;
        for (long k = 0; k < indent && !e; k++)
            e = rp_buf_addc(&m->buf, ' ');
        if (!e)
            e = rp_buf_add(&m->buf, s, l->len);
        m->last = l;
        return e;
    }

    size_t bl;
    enum marker mk = list_marker(s, &bl);
    /* "release\n16. The ..." or "from\n- 44 dBm": a marker other than a
     * bullet glyph inside a paragraph's sentence that goes on is no list
     * item. (Inside a list, every marker starts an item.) */
    if ((mk == MARK_NUMBERED || mk == MARK_ASCII) && m->kind == OPEN_PARA && continues(c, m, l) &&
        !ends_sentence(line_text(c, m->last), m->last->len))
        mk = MARK_NONE;
    if (mk != MARK_NONE) {
        if (m->kind != OPEN_LIST) {
            if ((e = open_block(c, m, OPEN_LIST, l)))
                return e;
        } else if ((e = rp_buf_addc(&m->buf, '\n'))) {
            return e;
        }
        /* Bullets become "- "; numbered items keep their number. */
        if (mk == MARK_NUMBERED)
            e = rp_buf_add(&m->buf, s, l->len);
        else if (!(e = rp_buf_adds(&m->buf, "- ")))
            e = rp_buf_add(&m->buf, s + bl, l->len - bl);
        m->item_x0 = l->x0;
        m->last = l;
        return e;
    }

    if (m->kind == OPEN_LIST && continues(c, m, l) &&
        (l->x0 > m->item_x0 + 0.5 * (l->size > 0 ? l->size : 10) || l->page != m->last->page)) {
        /* The current item goes on. */
        e = append_joined(&m->buf, s, l->len);
        m->last = l;
        return e;
    }
    if (m->kind == OPEN_PARA && continues(c, m, l)) {
        e = append_joined(&m->buf, s, l->len);
        m->last = l;
        return e;
    }
    if ((e = open_block(c, m, OPEN_PARA, l)))
        return e;
    e = rp_buf_add(&m->buf, s, l->len);
    m->last = l;
    return e;
}

static enum rp_err emit_blocks(struct ctx *c, int *first_h1)
{
    struct emitter m = {0};
    rp_buf_init(&m.buf, RP_BUF_NO_CAP);
    struct rp_buf title;
    rp_buf_init(&title, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    *first_h1 = -1;
    struct table **order = NULL;
    size_t next = 0;
    if (c->n_tables) {
        place_tables(c);
        if (!(order = malloc(c->n_tables * sizeof(*order)))) {
            e = nomem(c);
            goto out;
        }
        for (size_t k = 0; k < c->n_tables; k++)
            order[k] = &c->tables[k];
        qsort(order, c->n_tables, sizeof(*order), anchor_cmp);
    }
    for (size_t i = 0; i <= c->n_lines && !e; i++) {
        while (next < c->n_tables && order[next]->anchor <= i && !e) {
            struct table *t = order[next++];
            if ((e = flush(c, &m)))
                break;
            struct rp_block *blk = rp_doc_add_table(c->doc, &t->tb, 0);
            if (!blk)
                e = nomem(c);
            else
                blk->page = t->page;
        }
        if (e || i == c->n_lines)
            break;
        struct line *l = &c->lines[i];
        switch (l->role) {
        case ROLE_DROP:
            break;
        case ROLE_TABLE:
            break; /* the table goes in whole at its anchor */
        case ROLE_HEADING: {
            if ((e = flush(c, &m)))
                break;
            rp_buf_reset(&title);
            e = rp_buf_add(&title, line_text(c, l), l->len);
            /* A heading wrapped over several lines. */
            while (!e && i + 1 < c->n_lines) {
                const struct line *prev = &c->lines[i], *n = &c->lines[i + 1];
                if (n->role != ROLE_HEADING || n->level != l->level || n->page != l->page ||
                    n->y0 < prev->y1 - 0.5 || n->y0 - prev->y1 > 0.6 * l->size ||
                    numbering_depth(line_text(c, n)) > 0)
                    break;
                e = append_joined(&title, line_text(c, n), n->len);
                i++;
            }
            if (e)
                break;
            int s = rp_doc_add_section(c->doc, title.data, title.len, l->level, 0);
            if (s < 0)
                e = nomem(c);
            else if (l->level == 1 && *first_h1 < 0)
                *first_h1 = s;
            break;
        }
        case ROLE_BODY:
            e = emit_line(c, &m, i);
            if (e && c->err && c->err->code == RP_OK)
                e = rp_error_set(c->err, e, "%s", rp_strerror(e));
            break;
        }
    }
    if (!e)
        e = flush(c, &m);
out:
    free(order);
    rp_buf_release(&m.buf);
    rp_buf_release(&title);
    return e;
}

/* ---- the parser ---- */

/* Copies a metadata string from poppler (takes it: frees it). */
static enum rp_err take_meta(struct ctx *c, const char *key, char *value)
{
    enum rp_err e = RP_OK;
    if (value && g_utf8_validate(value, -1, NULL)) {
        char *v = g_strstrip(value);
        if (*v && rp_doc_set_meta(c->doc, key, v))
            e = nomem(c);
    }
    g_free(value);
    return e;
}

enum rp_err rp__parse_pdf(struct rp_doc *doc, const char *data, size_t len,
                          const struct rp_ingest_params *params, struct rp_error *err)
{
    struct ctx c = {0};
    c.doc = doc;
    c.err = err;
    size_t text_cap = params->max_file_bytes > TEXT_MAX / 4 ? TEXT_MAX : params->max_file_bytes * 4;
    rp_buf_init(&c.text, text_cap);
    GBytes *bytes = g_bytes_new_static(data, len);
    PopplerDocument *pd = NULL;
    GError *gerr = NULL;
    enum rp_err e = RP_OK;
    char num[32];

    pd = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    if (!pd) {
        if (gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
            e = rp_error_set(err, RP_ERR_UNSUPPORTED, "encrypted PDF: a password is required");
        else
            e = rp_error_set(err, RP_ERR_PARSE, "%s",
                             gerr && gerr->message ? gerr->message : "not a readable PDF");
        goto out;
    }
    int n_pages = poppler_document_get_n_pages(pd);
    if (n_pages <= 0) {
        e = rp_error_set(err, RP_ERR_PARSE, "the PDF has no pages");
        goto out;
    }
    int max_pages = params->max_pages > 0 ? params->max_pages : 1;
    int n_read = n_pages < max_pages ? n_pages : max_pages;
    if (!(c.pages = calloc((size_t)n_read, sizeof(*c.pages)))) {
        e = nomem(&c);
        goto out;
    }
    for (int i = 0; i < n_read && !e; i++) {
        PopplerPage *pp = poppler_document_get_page(pd, i);
        struct page *P = &c.pages[i];
        P->first = c.n_lines;
        c.n_pages = i + 1;
        if (!pp)
            continue; /* a broken page object: no text */
        double w = 0, h = 0;
        poppler_page_get_size(pp, &w, &h);
        e = read_page(&c, pp, i + 1, sane(w), sane(h), &h);
        g_object_unref(pp);
        P->n = c.n_lines - P->first;
        double ymax = 0;
        for (size_t k = P->first; k < c.n_lines; k++)
            if (c.lines[k].y1 > ymax)
                ymax = c.lines[k].y1;
        P->height = h > 0 ? h : ymax;
    }
    if (e)
        goto out;
    if (c.n_lines == 0) {
        e = rp_error_set(err, RP_ERR_UNSUPPORTED,
                         "no text on its %d page%s (a scanned PDF? OCR is not supported)", n_read,
                         n_read == 1 ? "" : "s");
        goto out;
    }
    /* No line is added after this; the spare room goes back before the
     * blocks are made, which is when memory peaks. */
    shrink((void **)&c.lines, &c.cap_lines, c.n_lines, sizeof(*c.lines));

    if ((e = drop_running_lines(&c)))
        goto out;
    for (int i = 0; i < c.n_pages && !e; i++)
        e = find_tables_on_page(&c, &c.pages[i]);
    if (e)
        goto out;
    /* The segments served the tables; the blocks are made without them,
     * and without adding text (merge_rows() was the last to). */
    free(c.segs);
    c.segs = NULL;
    c.n_segs = c.cap_segs = 0;
    if (c.text.alloc > c.text.len + 1)
        shrink((void **)&c.text.data, &c.text.alloc, c.text.len + 1, 1);
    estimate_pitch(&c);
    if ((e = classify_headings(&c)))
        goto out;
    int first_h1;
    if ((e = emit_blocks(&c, &first_h1)))
        goto out;

    /* Metadata and title. */
    if ((e = take_meta(&c, "title", poppler_document_get_title(pd))) ||
        (e = take_meta(&c, "author", poppler_document_get_author(pd))) ||
        (e = take_meta(&c, "subject", poppler_document_get_subject(pd))) ||
        (e = take_meta(&c, "keywords", poppler_document_get_keywords(pd))) ||
        (e = take_meta(&c, "creator", poppler_document_get_creator(pd))))
        goto out;
    snprintf(num, sizeof(num), "%d", n_pages);
    if (rp_doc_set_meta(doc, "pages", num)) {
        e = nomem(&c);
        goto out;
    }
    if (n_read < n_pages) {
        snprintf(num, sizeof(num), "%d", n_read);
        if (rp_doc_set_meta(doc, "truncated_pages", num)) {
            e = nomem(&c);
            goto out;
        }
    }
    const char *t = rp_doc_get_meta(doc, "title");
    if (t)
        doc->title = t;
    else if (first_h1 >= 0)
        doc->title = doc->sections[first_h1].title;
out:
    for (size_t i = 0; i < c.n_tables; i++)
        rp_table_builder_release(&c.tables[i].tb);
    free(c.tables);
    free(c.runs);
    free(c.pages);
    free(c.segs);
    free(c.lines);
    rp_buf_release(&c.text);
    if (pd)
        g_object_unref(pd);
    g_bytes_unref(bytes);
    if (gerr)
        g_error_free(gerr);
    return e;
}
