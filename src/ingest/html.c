/*
 * html.c - HTML pages (ELEX feature descriptions, exported help pages).
 *
 * libxml2's HTML parser builds the tree: it recovers from broken markup the
 * way browsers do, converts the page's charset (BOM or <meta charset>) to
 * UTF-8 and decodes entities. The tree is then walked once, without
 * recursion: the walk follows child/next/parent pointers and keeps an
 * explicit stack of open elements, so nesting costs heap, never C stack,
 * and the stack is bounded by params->max_depth. libxml2 itself stops
 * building the tree at xmlParserMaxDepth (256) levels; it says so only in
 * an error, so a halted parse is reported instead of silently losing the
 * rest of the page.
 *
 * Contexts. The outermost structural element - a heading, a list (ul, ol,
 * dl), a <pre> or a data table - owns all text below it until it closes:
 * anything nested inside (a table in a list item, a list in a cell, a
 * nested table) contributes its text to that block instead of opening a
 * block of its own, with block boundaries turned into spaces (headings,
 * cells) or continuation lines (lists). Outside them (the "flow"), every
 * block-level boundary ends the current paragraph, so text directly inside
 * div/section/body between blocks becomes paragraphs of its own: text is
 * never lost silently.
 *
 * Whitespace is collapsed as a browser does: a run of spaces becomes one
 * space that is written lazily, only when visible text follows on the same
 * line. Line prefixes of list blocks (newline, indentation, "- " or "1. "
 * marker, ": " after a dt) are pending the same way, so empty items and
 * trailing boundaries leave nothing behind. <br> is a newline in a
 * paragraph, a continuation line in a list item, a space in a heading or
 * a cell.
 *
 * Boilerplate. script, style, nav, forms and the like are dropped with
 * their content, and so is what a browser would not show (the hidden
 * attribute, display:none, visibility:hidden). So are block elements whose
 * class or id has a part (split at whitespace, '-' and '_') naming
 * navigation or a footer ("nav", "menu", "breadcrumb", "footer", ...) or
 * whose ARIA role is navigation, and footer/aside (role contentinfo)
 * outside article/main. Page headers (<header> or role banner outside
 * article/main, or a class or id part "header" there) keep only their
 * headings: dropping them whole would lose the page's H1 when it sits in
 * <div class="header">. The class rules never apply to inline elements (a
 * link inside a sentence keeps its words), to headings, or inside data
 * tables (class="table-header-cell" is a header cell, not page chrome).
 *
 * Tables. A table becomes an rp_table unless it is a layout table (role
 * presentation/none, a heading anywhere inside, or at most one cell of its
 * own): then its cells are plain flow containers. Header rows are the leading rows in
 * <thead> or made only of <th>. colspan and rowspan repeat the cell's text
 * so that every row stays self-contained and columns stay aligned. Size
 * caps keep span expansion from turning a small page into a huge table.
 *
 * All strings handed to the document are valid UTF-8 (libxml2 converts,
 * and anything it lets through is repaired with U+FFFD). A NUL byte
 * without a UTF-16/32 byte-order mark means the file is binary: refused.
 *
 * libxml2 prints some complaints (charset conversion errors) through its
 * generic error handler, straight to stderr, whatever the parser options
 * say. During a parse both of its error handlers (thread-local in libxml2)
 * point at our debug log, and are put back afterwards. The handlers also
 * notice a failed charset conversion: libxml2 2.9 then ends the page at
 * the first bad byte. The page is converted again with iconv, each bad
 * byte replaced with U+FFFD, and the UTF-8 result parsed with the charset
 * declaration ignored - the rest of the page is kept, marked where bytes
 * were wrong.
 */
#include <assert.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "ingest_int.h"
#include "ranpipe/log.h"
#include "ranpipe/utf8.h"

/* Caps on a data table after colspan/rowspan expansion. */
#define HTML_MAX_COLS 1000
#define HTML_MAX_CELLS ((size_t)2000000)
#define HTML_MAX_COLSPAN 1000  /* as in the HTML standard */
#define HTML_MAX_ROWSPAN 65534 /* as in the HTML standard */

/* What an element does to the walk. */
enum role {
    R_INLINE, /* text flows through: b, code, span, a, unknown elements */
    R_BLOCK,  /* a paragraph boundary at both ends */
    R_ROOT,   /* html, body: a block that the boilerplate rules never drop */
    R_DROP,   /* dropped with its content */
    R_HEAD,
    R_TITLE,
    R_META,
    R_BR,
    R_HEADING,
    R_LIST, /* ul, ol, menu, dir */
    R_DL,
    R_LI,
    R_DT,
    R_DD,
    R_PRE,
    R_TABLE,
    R_THEAD,
    R_TSECT, /* tbody, tfoot */
    R_TR,
    R_CELL,
    R_CAPTION,
    R_SECTIONING, /* article, main: their header/footer are content */
    R_HEADER,
    R_FOOTER, /* footer, aside */
};

/* Sorted by name (checked once at start-up). */
static const struct {
    const char *name;
    unsigned char role;
} roles[] = {
    {"address", R_BLOCK},
    {"article", R_SECTIONING},
    {"aside", R_FOOTER},
    {"audio", R_DROP},
    {"blockquote", R_BLOCK},
    {"body", R_ROOT},
    {"br", R_BR},
    {"button", R_DROP},
    {"canvas", R_DROP},
    {"caption", R_CAPTION},
    {"center", R_BLOCK},
    {"datalist", R_DROP},
    {"dd", R_DD},
    {"details", R_BLOCK},
    {"dialog", R_BLOCK},
    {"dir", R_LIST},
    {"div", R_BLOCK},
    {"dl", R_DL},
    {"dt", R_DT},
    {"embed", R_DROP},
    {"fieldset", R_BLOCK},
    {"figcaption", R_BLOCK},
    {"figure", R_BLOCK},
    {"footer", R_FOOTER},
    {"form", R_DROP},
    {"frame", R_DROP},
    {"frameset", R_DROP},
    {"h1", R_HEADING},
    {"h2", R_HEADING},
    {"h3", R_HEADING},
    {"h4", R_HEADING},
    {"h5", R_HEADING},
    {"h6", R_HEADING},
    {"head", R_HEAD},
    {"header", R_HEADER},
    {"hgroup", R_BLOCK},
    {"hr", R_BLOCK},
    {"html", R_ROOT},
    {"iframe", R_DROP},
    {"legend", R_BLOCK},
    {"li", R_LI},
    {"listing", R_PRE},
    {"main", R_SECTIONING},
    {"menu", R_LIST},
    {"meta", R_META},
    {"nav", R_DROP},
    {"noframes", R_DROP},
    {"noscript", R_DROP},
    {"object", R_DROP},
    {"ol", R_LIST},
    {"p", R_BLOCK},
    {"plaintext", R_PRE},
    {"pre", R_PRE},
    {"script", R_DROP},
    {"section", R_BLOCK},
    {"select", R_DROP},
    {"style", R_DROP},
    {"summary", R_BLOCK},
    {"svg", R_DROP},
    {"table", R_TABLE},
    {"tbody", R_TSECT},
    {"td", R_CELL},
    {"template", R_DROP},
    {"textarea", R_DROP},
    {"tfoot", R_TSECT},
    {"th", R_CELL},
    {"thead", R_THEAD},
    {"title", R_TITLE},
    {"tr", R_TR},
    {"ul", R_LIST},
    {"video", R_DROP},
    {"xmp", R_PRE},
};

#define N_ROLES (sizeof(roles) / sizeof(roles[0]))

static enum role role_of(const xmlNode *n)
{
    const char *name = (const char *)n->name;
    if (!name)
        return R_INLINE;
    size_t lo = 0, hi = N_ROLES;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, roles[mid].name);
        if (c == 0)
            return (enum role)roles[mid].role;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return R_INLINE;
}

/* libxml2 wants xmlInitParser() once before threads use it; the role
 * table must be sorted for the binary search above. */
static pthread_once_t html_once = PTHREAD_ONCE_INIT;

static void html_init(void)
{
    xmlInitParser();
    for (size_t i = 1; i < N_ROLES; i++)
        assert(strcmp(roles[i - 1].name, roles[i].name) < 0);
}

/* What libxml2's error handlers saw during one parse. */
struct xml_errors {
    bool conversion_failed; /* the charset conversion hit bad bytes */
};

/* Receives libxml2's messages during a parse (often in fragments). */
static void html_libxml_message(void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void html_libxml_message(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    if (rp_log_get_level() > RP_LOG_DEBUG)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    if (n)
        rp_debug("libxml2: %.*s", (int)n, msg);
}

/* Structured errors: recoverable markup errors are the normal case for
 * HTML and are not logged; charset and I/O errors and fatal ones are. */
static void html_libxml_error(void *ctx, xmlErrorPtr error)
{
    struct xml_errors *seen = ctx;
    if (!error)
        return;
    bool conversion = (error->domain == XML_FROM_I18N && error->code == XML_I18N_CONV_FAILED) ||
                      (error->domain == XML_FROM_IO && error->code == XML_IO_ENCODER);
    if (conversion && seen)
        seen->conversion_failed = true;
    if ((conversion || error->domain == XML_FROM_I18N || error->domain == XML_FROM_IO ||
         error->level == XML_ERR_FATAL) &&
        error->message)
        html_libxml_message(NULL, "%s", error->message);
}

/* Converts in[0..len) from charset to UTF-8 into out, each byte that is
 * not valid there replaced with U+FFFD (counted in *bad). RP_ERR_UNSUPPORTED
 * when iconv does not know charset. */
static enum rp_err convert_lossy(const char *charset, const char *in, size_t len,
                                 struct rp_buf *out, size_t *bad)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return RP_ERR_UNSUPPORTED;
    enum rp_err e = RP_OK;
    char *ip = (char *)in; /* iconv's prototype; it does not write the input */
    size_t il = len;
    char chunk[4096];
    bool flushed = false;
    *bad = 0;
    while (!e && !flushed) {
        char *op = chunk;
        size_t ol = sizeof(chunk), r;
        if (il) {
            r = iconv(cd, &ip, &il, &op, &ol);
        } else { /* the end: write out any pending shift sequence */
            r = iconv(cd, NULL, NULL, &op, &ol);
            flushed = r != (size_t)-1;
        }
        int saved = errno;
        e = rp_buf_add(out, chunk, (size_t)(op - chunk));
        if (e || r != (size_t)-1 || saved == E2BIG)
            continue;
        if ((saved == EILSEQ || saved == EINVAL) && il > 0) {
            e = rp_buf_add(out, "\xEF\xBF\xBD", 3);
            ip++;
            il--;
            (*bad)++;
            iconv(cd, NULL, NULL, NULL, NULL); /* back to the initial shift state */
        } else {
            e = RP_ERR_PARSE;
        }
    }
    iconv_close(cd);
    return e;
}

/* ---- attributes and small string helpers ---- */

/* The value of attribute name of n, borrowed from the tree: "" for an
 * attribute without a value, NULL when absent. */
static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && strcasecmp((const char *)a->name, name) == 0) {
            const xmlNode *c = a->children;
            return c && c->content ? (const char *)c->content : "";
        }
    }
    return NULL;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Bytes of the whitespace character at s[0..n): ASCII whitespace or a
 * no-break space (a browser shows it as a space; matching "20 MHz" needs
 * a plain one). 0 when s starts with something else. */
static size_t space_len(const char *s, size_t n)
{
    if (is_ws(s[0]))
        return 1;
    if (n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0)
        return 2;
    return 0;
}

/* A soft hyphen is invisible unless a line breaks there: drop it. */
static bool is_soft_hyphen(const char *s, size_t n)
{
    return n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xAD;
}

/* Appends s to out with whitespace runs collapsed to one space and no
 * space at either end of what it adds (titles, metadata values). */
static enum rp_err collapse_into(struct rp_buf *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool space = false;
    enum rp_err e = RP_OK;
    while (i < n && !e) {
        size_t w = space_len(s + i, n - i);
        if (w) {
            space = true;
            i += w;
            continue;
        }
        if (is_soft_hyphen(s + i, n - i)) {
            i += 2;
            continue;
        }
        if (space && out->len > 0)
            e = rp_buf_addc(out, ' ');
        space = false;
        if (!e)
            e = rp_buf_addc(out, s[i]);
        i++;
    }
    return e;
}

/* Parses a non-negative attribute number ("3", " 2 "); dflt when missing
 * or malformed, clamped to [lo, hi]. */
static unsigned long attr_number(const char *s, unsigned long dflt, unsigned long lo,
                                 unsigned long hi)
{
    if (!s)
        return dflt;
    while (is_ws(*s))
        s++;
    if (*s < '0' || *s > '9')
        return dflt;
    unsigned long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > hi)
            return hi;
    }
    return v < lo ? lo : v;
}

/* Does the class/id value s have a part (split at whitespace, '-' and
 * '_') equal to one of words, ignoring case? */
static bool has_part(const char *s, const char *const *words)
{
    while (*s) {
        while (*s && (is_ws(*s) || *s == '-' || *s == '_'))
            s++;
        const char *start = s;
        while (*s && !is_ws(*s) && *s != '-' && *s != '_')
            s++;
        size_t n = (size_t)(s - start);
        for (const char *const *w = words; n && *w; w++)
            if (strlen(*w) == n && strncasecmp(start, *w, n) == 0)
                return true;
    }
    return false;
}

static const char *const chrome_words[] = {
    "nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs", "footer", NULL,
};
static const char *const header_words[] = {"header", NULL};

/* style="display: none" or "visibility: hidden". */
static bool style_hides(const char *s)
{
    static const struct {
        const char *prop, *value;
    } rules[] = {{"display", "none"}, {"visibility", "hidden"}};
    for (const char *p = s; *p; p++) {
        for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
            size_t pl = strlen(rules[r].prop), vl = strlen(rules[r].value);
            if (strncasecmp(p, rules[r].prop, pl) != 0)
                continue;
            const char *q = p + pl;
            while (is_ws(*q))
                q++;
            if (*q != ':')
                continue;
            q++;
            while (is_ws(*q))
                q++;
            if (strncasecmp(q, rules[r].value, vl) == 0)
                return true;
        }
    }
    return false;
}

static size_t line_of(const xmlNode *n)
{
    long l = xmlGetLineNo(n);
    return l > 0 ? (size_t)l : 0;
}

/* The element before n among its siblings, skipping text and comments. */
static const xmlNode *prev_element(const xmlNode *n)
{
    for (const xmlNode *p = n->prev; p; p = p->prev)
        if (p->type == XML_ELEMENT_NODE)
            return p;
    return NULL;
}

/* ---- the walk ---- */

enum ctx {
    CTX_FLOW,    /* paragraphs between blocks */
    CTX_HEADING, /* a section title */
    CTX_PRE,     /* a code block: whitespace kept */
    CTX_LIST,    /* one list block for a top-level ul/ol/dl */
    CTX_TABLE,   /* a data table */
};

/* A line prefix waiting for visible text; a stronger kind replaces a
 * weaker one (a new item's marker wins over the break after the last). */
enum pend_kind {
    PEND_NONE,
    PEND_SEP,   /* " | " between cells of a table inside a list item */
    PEND_BREAK, /* a continuation line */
    PEND_MARK,  /* a new item: "- ", "1. ", a dt line, ": " before a dd */
};

/* Frame flags: what entering an element did, undone when it is left. */
enum {
    F_CTX = 1 << 0,      /* opened the current context */
    F_BLOCK = 1 << 1,    /* a boundary when it ends */
    F_HEAD = 1 << 2,     /* <head> */
    F_SECT = 1 << 3,     /* <article>, <main> */
    F_HEADONLY = 1 << 4, /* a page header: only its headings are kept */
    F_LEVEL = 1 << 5,    /* a nested list level */
    F_RAW = 1 << 6,      /* <pre> inside a list item */
    F_ROW = 1 << 7,      /* a row of the data table */
    F_CELL = 1 << 8,     /* a cell of the data table */
    F_THEAD = 1 << 9,
    F_TNEST = 1 << 10, /* a table nested in the data table */
    F_CAPTION = 1 << 11,
};

struct frame {
    const xmlNode *node;
    unsigned flags;
};

struct list_level {
    enum role kind; /* R_LIST or R_DL */
    bool ordered;
    long number; /* the next item's number */
};

struct span {
    char *text;  /* malloc'd copy of the spanning cell's text */
    size_t left; /* rows it still covers */
};

struct html_walk {
    struct rp_doc *doc;
    const struct rp_ingest_params *params;
    struct rp_error *err;

    struct frame *frames; /* open elements, outermost first */
    size_t n_frames, cap_frames;
    int head, sectioning, headonly; /* open <head>, article/main, page headers */

    enum ctx ctx;
    int heading_level;
    size_t ctx_line;  /* source line of the element that opened ctx */
    size_t line;      /* source line of the node being visited */
    size_t elem_line; /* source line of the last start tag */

    /* The text of the block being built (paragraph, heading, code, list,
     * or the current table cell / caption / stray table text). */
    struct rp_buf text;
    size_t block_line;
    bool pending_space;
    bool line_has_text; /* visible text since the last line start */
    struct rp_buf pend; /* pending line prefix */
    enum pend_kind pend_kind;

    struct list_level *levels;
    size_t n_levels, cap_levels;
    int raw; /* open <pre> inside a list */

    struct rp_table_builder tb;
    int table_nest; /* 1 in the data table, more in tables nested in it */
    int thead;
    bool in_row, in_cell, in_caption;
    bool row_all_th;
    size_t row_cells; /* real cells in the current row */
    size_t col;       /* next column of the current row */
    size_t max_cols;
    size_t table_bytes;
    struct span *spans;
    size_t n_spans;

    struct rp_buf scratch; /* UTF-8 repair, metadata keys */
    struct rp_buf title;
    bool have_title, have_lang;
    int first_h1; /* section index, -1 until one is seen */
};

static enum rp_err nomem(struct html_walk *w)
{
    return rp_error_set(w->err, RP_ERR_NOMEM, "out of memory");
}

/* Points *s / *n at a valid UTF-8 version of the text: itself when it is
 * already valid, else a repaired copy in w->scratch. */
static enum rp_err utf8_clean(struct html_walk *w, const char **s, size_t *n)
{
    if (rp_utf8_valid(*s, *n, NULL))
        return RP_OK;
    rp_buf_reset(&w->scratch);
    if (rp_utf8_repair(*s, *n, &w->scratch))
        return nomem(w);
    *s = w->scratch.data;
    *n = w->scratch.len;
    return RP_OK;
}

static void reset_text(struct html_walk *w)
{
    rp_buf_reset(&w->text);
    rp_buf_reset(&w->pend);
    w->pend_kind = PEND_NONE;
    w->pending_space = false;
    w->line_has_text = false;
    w->block_line = 0;
}

/* Adds w->text as a block of type (trimmed; code keeps its indentation)
 * and starts a new one. Empty text adds nothing. */
static enum rp_err emit_block(struct html_walk *w, enum rp_block_type type, size_t line)
{
    const char *s = w->text.data;
    size_t n = w->text.len;
    if (type == RP_BLOCK_CODE) {
        /* Leading blank lines go (a browser drops the newline after
         * <pre>), the first line's indentation stays. */
        size_t i = 0, line_start = 0;
        while (i < n && is_ws(s[i])) {
            if (s[i] == '\n')
                line_start = i + 1;
            i++;
        }
        s += i == n ? n : line_start;
        n -= i == n ? n : line_start;
    } else {
        while (n && is_ws(*s)) {
            s++;
            n--;
        }
    }
    while (n && is_ws(s[n - 1]))
        n--;
    enum rp_err e = RP_OK;
    if (n) {
        e = utf8_clean(w, &s, &n);
        if (!e && !rp_doc_add_block(w->doc, type, s, n, line))
            e = nomem(w);
    }
    reset_text(w);
    return e;
}

static enum rp_err flush_para(struct html_walk *w)
{
    return emit_block(w, RP_BLOCK_PARAGRAPH, w->block_line);
}

/* Makes prefix + indent spaces + marker the pending line prefix, unless a
 * stronger one is already pending (one of the same kind is replaced: the
 * break after a nested list takes the outer item's indentation).
 * Separators and breaks only follow text on the current line. */
static enum rp_err set_pend(struct html_walk *w, enum pend_kind kind, const char *prefix,
                            size_t indent, const char *marker)
{
    if (kind < w->pend_kind)
        return RP_OK;
    if (kind != PEND_MARK && !w->line_has_text)
        return RP_OK;
    rp_buf_reset(&w->pend);
    enum rp_err e = rp_buf_adds(&w->pend, prefix);
    for (size_t i = 0; i < indent && !e; i++)
        e = rp_buf_addc(&w->pend, ' ');
    if (!e)
        e = rp_buf_adds(&w->pend, marker);
    if (e)
        return nomem(w);
    w->pend_kind = kind;
    return RP_OK;
}

/* Indentation of the current list level's continuation lines. */
static size_t cont_indent(const struct html_walk *w)
{
    return w->n_levels ? 2 * (w->n_levels - 1) + 2 : 0;
}

/* Appends s[0..n) as visible text: after the pending prefix, or after one
 * space when whitespace came before and the line already has text. */
static enum rp_err put_word(struct html_walk *w, const char *s, size_t n)
{
    enum rp_err e = RP_OK;
    if (w->pend_kind != PEND_NONE) {
        const char *p = w->pend.data;
        size_t pl = w->pend.len;
        if (w->text.len == 0)
            while (pl && *p == '\n') {
                p++;
                pl--;
            }
        e = rp_buf_add(&w->text, p, pl);
        rp_buf_reset(&w->pend);
        w->pend_kind = PEND_NONE;
    } else if (w->pending_space && w->line_has_text) {
        e = rp_buf_addc(&w->text, ' ');
    }
    w->pending_space = false;
    if (!e)
        e = rp_buf_add(&w->text, s, n);
    if (e)
        return nomem(w);
    w->line_has_text = true;
    if (w->block_line == 0)
        w->block_line = w->line;
    return RP_OK;
}

/* Appends text with whitespace collapsed. */
static enum rp_err put_text(struct html_walk *w, const char *s, size_t n)
{
    size_t i = 0;
    enum rp_err e = RP_OK;
    while (i < n && !e) {
        size_t sp = space_len(s + i, n - i);
        if (sp) {
            w->pending_space = true;
            i += sp;
            continue;
        }
        if (is_soft_hyphen(s + i, n - i)) {
            i += 2;
            continue;
        }
        size_t j = i;
        while (j < n && !space_len(s + j, n - j) && !is_soft_hyphen(s + j, n - j))
            j++;
        e = put_word(w, s + i, j - i);
        i = j;
    }
    return e;
}

/* Preformatted text inside a list item: lines kept as they are, each on a
 * continuation line of the item. */
static enum rp_err put_raw_in_list(struct html_walk *w, const char *s, size_t n)
{
    enum rp_err e = RP_OK;
    size_t i = 0;
    while (i < n && !e) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, seg = end - i;
        if (seg && s[i + seg - 1] == '\r')
            seg--;
        if (seg)
            e = put_word(w, s + i, seg);
        if (!e && nl)
            e = set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
        i = nl ? end + 1 : n;
    }
    return e;
}

static enum rp_err put_raw(struct html_walk *w, const char *s, size_t n)
{
    enum rp_err e = RP_OK;
    if (w->block_line == 0)
        w->block_line = w->line;
    for (size_t i = 0; i < n && !e; i++)
        if (s[i] != '\r')
            e = rp_buf_addc(&w->text, s[i]);
    return e ? nomem(w) : RP_OK;
}

/* A block-level boundary inside the current context. */
static enum rp_err boundary(struct html_walk *w)
{
    switch (w->ctx) {
    case CTX_FLOW:
        return flush_para(w);
    case CTX_LIST:
        return set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
    case CTX_HEADING:
    case CTX_TABLE:
        w->pending_space = true;
        return RP_OK;
    case CTX_PRE:
        break;
    }
    return RP_OK;
}

/* Sets w->line to the line of the first visible character of text node n.
 * libxml2 stamps a text node with the line where its first chunk of
 * characters ended (chunks end at 1000 bytes and at entities), so the
 * node's start lies between two lower bounds: that line minus all the
 * node's newlines, and the last start tag before it. */
static void text_line(struct html_walk *w, const xmlNode *n, const char *s, size_t len)
{
    size_t newlines = 0, leading = 0;
    bool visible = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            newlines++;
            if (!visible)
                leading++;
        } else if (!is_ws(s[i])) {
            visible = true;
        }
    }
    size_t end = line_of(n);
    size_t start = end > newlines ? end - newlines : 0;
    if (w->elem_line > start)
        start = w->elem_line;
    w->line = start ? start + leading : 0;
}

static enum rp_err visit_text(struct html_walk *w, const xmlNode *n)
{
    const char *s = (const char *)n->content;
    if (!s || w->head || (w->headonly && w->ctx != CTX_HEADING))
        return RP_OK;
    size_t len = strlen(s);
    text_line(w, n, s, len);
    if (w->ctx == CTX_PRE)
        return put_raw(w, s, len);
    if (w->ctx == CTX_LIST && w->raw)
        return put_raw_in_list(w, s, len);
    return put_text(w, s, len);
}

/* ---- lists ---- */

static enum rp_err push_level(struct html_walk *w, const xmlNode *n, enum role kind)
{
    if (w->n_levels == w->cap_levels) {
        size_t cap = w->cap_levels ? w->cap_levels * 2 : 8;
        struct list_level *l = realloc(w->levels, cap * sizeof(*l));
        if (!l)
            return nomem(w);
        w->levels = l;
        w->cap_levels = cap;
    }
    struct list_level *l = &w->levels[w->n_levels++];
    l->kind = kind;
    l->ordered = strcmp((const char *)n->name, "ol") == 0;
    l->number = (long)attr_number(attr(n, "start"), 1, 0, 1000000000);
    return RP_OK;
}

/* An li, dt or dd inside a list context: its line prefix. */
static enum rp_err list_item(struct html_walk *w, const xmlNode *n, enum role r)
{
    size_t indent = w->n_levels ? 2 * (w->n_levels - 1) : 0;
    struct list_level *lvl = w->n_levels ? &w->levels[w->n_levels - 1] : NULL;
    if (r == R_LI) {
        char marker[32] = "- ";
        if (lvl && lvl->ordered && lvl->kind == R_LIST) {
            /* Written digit by digit: no sprintf. */
            char digits[24];
            size_t k = 0;
            unsigned long v = (unsigned long)lvl->number;
            do {
                digits[k++] = (char)('0' + v % 10);
                v /= 10;
            } while (v && k < sizeof(digits));
            size_t m = 0;
            while (k)
                marker[m++] = digits[--k];
            marker[m++] = '.';
            marker[m++] = ' ';
            marker[m] = '\0';
            lvl->number++;
        }
        return set_pend(w, PEND_MARK, "\n", indent, marker);
    }
    /* dt / dd: "term: definition", several terms joined by ", ". */
    const xmlNode *prev = prev_element(n);
    bool after_dt = prev && strcmp((const char *)prev->name, "dt") == 0 &&
                    w->pend_kind == PEND_NONE && w->line_has_text;
    if (after_dt)
        return set_pend(w, PEND_MARK, r == R_DT ? ", " : ": ", 0, "");
    /* A second definition of the same term: a continuation line. */
    bool after_dd = prev && strcmp((const char *)prev->name, "dd") == 0 && r == R_DD;
    return set_pend(w, PEND_MARK, "\n", after_dd ? indent + 2 : indent, "");
}

/* ---- tables ---- */

/* Is the table at n laid out for looks rather than data? role
 * presentation/none, a heading anywhere inside, or at most one cell of
 * its own (cells of nested tables do not count: a one-cell frame around
 * a data table is layout, and the data table is judged when reached). */
static bool is_layout_table(const xmlNode *table)
{
    const char *role = attr(table, "role");
    if (role && (strcasecmp(role, "presentation") == 0 || strcasecmp(role, "none") == 0))
        return true;
    size_t cells = 0;
    int nested = 0; /* tables open below this one */
    const xmlNode *n = table->children;
    while (n) {
        bool down = false;
        if (n->type == XML_ELEMENT_NODE) {
            enum role r = role_of(n);
            if (r == R_HEADING)
                return true;
            if (r == R_CELL && nested == 0)
                cells++;
            if (n->children && r != R_DROP) {
                down = true;
                nested += r == R_TABLE;
            }
        }
        if (down) {
            n = n->children;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            if (n == table)
                n = NULL;
            else
                nested -= role_of(n) == R_TABLE;
        }
        if (n)
            n = n->next;
    }
    return cells <= 1;
}

/* Adds one cell to the current row of the data table. */
static enum rp_err table_cell(struct html_walk *w, const char *s, size_t n)
{
    if (w->col >= HTML_MAX_COLS)
        return rp_error_set(w->err, RP_ERR_TOOBIG, "HTML table wider than %d columns",
                            HTML_MAX_COLS);
    size_t limit = 2 * w->params->max_file_bytes + ((size_t)1 << 20);
    w->table_bytes += n + 1;
    if (w->table_bytes > limit)
        return rp_error_set(w->err, RP_ERR_TOOBIG,
                            "HTML table text over %zu bytes once colspan and rowspan are "
                            "expanded",
                            limit);
    if (rp_table_builder_cell(&w->tb, s, n))
        return nomem(w);
    w->col++;
    if (w->col > w->max_cols)
        w->max_cols = w->col;
    return RP_OK;
}

/* Cells of earlier rows' rowspans that cover the current column. */
static enum rp_err table_fill_spans(struct html_walk *w)
{
    enum rp_err e = RP_OK;
    while (!e && w->col < w->n_spans && w->spans[w->col].left > 0) {
        struct span *sp = &w->spans[w->col];
        sp->left--;
        e = table_cell(w, sp->text, strlen(sp->text));
    }
    return e;
}

/* Remembers that column col holds text for rows more rows. */
static enum rp_err table_set_span(struct html_walk *w, size_t col, const char *s, size_t n,
                                  size_t rows)
{
    if (col >= w->n_spans) {
        size_t cap = col + 1;
        struct span *sp = realloc(w->spans, cap * sizeof(*sp));
        if (!sp)
            return nomem(w);
        memset(sp + w->n_spans, 0, (cap - w->n_spans) * sizeof(*sp));
        w->spans = sp;
        w->n_spans = cap;
    }
    struct span *sp = &w->spans[col];
    free(sp->text);
    sp->text = malloc(n + 1);
    if (!sp->text) {
        sp->left = 0;
        return nomem(w);
    }
    memcpy(sp->text, s, n);
    sp->text[n] = '\0';
    sp->left = rows;
    return RP_OK;
}

static void table_free_spans(struct html_walk *w)
{
    for (size_t i = 0; i < w->n_spans; i++)
        free(w->spans[i].text);
    free(w->spans);
    w->spans = NULL;
    w->n_spans = 0;
}

static void table_begin_row(struct html_walk *w)
{
    w->in_row = true;
    w->row_all_th = true;
    w->row_cells = 0;
    w->col = 0;
}

static enum rp_err table_end_row(struct html_walk *w)
{
    enum rp_err e = RP_OK;
    /* Rowspans from above that reach past this row's last cell. */
    size_t last = 0;
    bool any = false;
    for (size_t c = w->col; c < w->n_spans; c++)
        if (w->spans[c].left > 0) {
            last = c;
            any = true;
        }
    while (!e && any && w->col <= last) {
        if (w->col < w->n_spans && w->spans[w->col].left > 0)
            e = table_fill_spans(w);
        else
            e = table_cell(w, "", 0);
    }
    if (!e && w->tb.cur_row_len > 0) {
        bool header = w->thead > 0 || (w->row_cells > 0 && w->row_all_th);
        if (header && w->tb.n_header == w->tb.n_rows)
            w->tb.n_header++;
        if (rp_table_builder_end_row(&w->tb))
            e = nomem(w);
        else if (w->tb.n_rows * w->max_cols > HTML_MAX_CELLS)
            e = rp_error_set(w->err, RP_ERR_TOOBIG, "HTML table larger than %zu cells",
                             HTML_MAX_CELLS);
    }
    w->in_row = false;
    w->col = 0;
    return e;
}

static enum rp_err table_begin_cell(struct html_walk *w, const xmlNode *n)
{
    enum rp_err e = RP_OK;
    if (!w->in_row)
        table_begin_row(w);
    /* Text between cells (outside any cell) becomes a paragraph before
     * the table rather than being glued to the next cell. */
    e = flush_para(w);
    if (e)
        return e;
    w->in_cell = true;
    if (strcmp((const char *)n->name, "th") != 0)
        w->row_all_th = false;
    w->row_cells++;
    return table_fill_spans(w);
}

static enum rp_err table_end_cell(struct html_walk *w, const xmlNode *n)
{
    const char *s = w->text.data;
    size_t len = w->text.len;
    enum rp_err e = utf8_clean(w, &s, &len);
    /* The cell text may live in w->scratch; copy it before anything else
     * uses that buffer. */
    char *copy = NULL;
    if (!e) {
        copy = malloc(len + 1);
        if (!copy)
            e = nomem(w);
        else {
            memcpy(copy, s, len);
            copy[len] = '\0';
        }
    }
    size_t colspan = attr_number(attr(n, "colspan"), 1, 1, HTML_MAX_COLSPAN);
    size_t rowspan = attr_number(attr(n, "rowspan"), 1, 1, HTML_MAX_ROWSPAN);
    for (size_t k = 0; k < colspan && !e; k++) {
        size_t col = w->col;
        e = table_cell(w, copy, len);
        if (!e && rowspan > 1)
            e = table_set_span(w, col, copy, len, rowspan - 1);
    }
    free(copy);
    reset_text(w);
    w->in_cell = false;
    return e;
}

static enum rp_err table_open(struct html_walk *w)
{
    rp_table_builder_init(&w->tb);
    w->table_nest = 1;
    w->thead = 0;
    w->in_row = w->in_cell = w->in_caption = false;
    w->max_cols = 0;
    w->table_bytes = 0;
    w->col = 0;
    return RP_OK;
}

static enum rp_err table_close(struct html_walk *w)
{
    enum rp_err e = flush_para(w); /* stray text after the last cell */
    if (!e && w->in_row)
        e = table_end_row(w);
    if (!e && rp_table_builder_end_row(&w->tb))
        e = nomem(w);
    if (!e && w->tb.n_rows > 0 && !rp_doc_add_table(w->doc, &w->tb, w->ctx_line))
        e = nomem(w);
    rp_table_builder_release(&w->tb);
    table_free_spans(w);
    w->table_nest = 0;
    return e;
}

/* ---- entering and leaving elements ---- */

static enum rp_err close_ctx(struct html_walk *w)
{
    enum rp_err e = RP_OK;
    switch (w->ctx) {
    case CTX_HEADING: {
        const char *s = w->text.data;
        size_t n = w->text.len;
        while (n && is_ws(s[n - 1]))
            n--;
        if (n) {
            e = utf8_clean(w, &s, &n);
            int idx = e ? -1 : rp_doc_add_section(w->doc, s, n, w->heading_level, w->ctx_line);
            if (!e && idx < 0)
                e = nomem(w);
            if (!e && w->heading_level == 1 && w->first_h1 < 0)
                w->first_h1 = idx;
        }
        reset_text(w);
        break;
    }
    case CTX_LIST:
        e = emit_block(w, RP_BLOCK_LIST, w->ctx_line);
        w->n_levels = 0;
        break;
    case CTX_PRE:
        e = emit_block(w, RP_BLOCK_CODE, w->ctx_line);
        break;
    case CTX_TABLE:
        e = table_close(w);
        break;
    case CTX_FLOW:
        break;
    }
    w->ctx = CTX_FLOW;
    return e;
}

static enum rp_err open_ctx(struct html_walk *w, enum ctx ctx, const xmlNode *n)
{
    enum rp_err e = flush_para(w);
    w->ctx = ctx;
    w->ctx_line = line_of(n);
    w->block_line = w->ctx_line;
    return e;
}

static enum rp_err push_frame(struct html_walk *w, const xmlNode *n, unsigned flags)
{
    if (w->n_frames >= (size_t)(w->params->max_depth > 0 ? w->params->max_depth : 0))
        return rp_error_set(w->err, RP_ERR_TOOBIG, "HTML nested deeper than %d levels",
                            w->params->max_depth);
    if (w->n_frames == w->cap_frames) {
        size_t cap = w->cap_frames ? w->cap_frames * 2 : 32;
        struct frame *f = realloc(w->frames, cap * sizeof(*f));
        if (!f)
            return nomem(w);
        w->frames = f;
        w->cap_frames = cap;
    }
    w->frames[w->n_frames].node = n;
    w->frames[w->n_frames].flags = flags;
    w->n_frames++;
    if (flags & F_HEAD)
        w->head++;
    if (flags & F_SECT)
        w->sectioning++;
    if (flags & F_HEADONLY)
        w->headonly++;
    if (flags & F_RAW)
        w->raw++;
    if (flags & F_THEAD)
        w->thead++;
    if (flags & F_TNEST)
        w->table_nest++;
    return RP_OK;
}

static enum rp_err leave(struct html_walk *w)
{
    struct frame f = w->frames[--w->n_frames];
    enum rp_err e = RP_OK;
    if (f.flags & F_CTX) {
        e = close_ctx(w);
    } else {
        if (f.flags & F_CELL)
            e = table_end_cell(w, f.node);
        if (!e && (f.flags & F_ROW))
            e = table_end_row(w);
        if (!e && (f.flags & F_CAPTION)) {
            w->in_caption = false;
            e = flush_para(w);
        }
        if (f.flags & F_LEVEL)
            w->n_levels--;
        if (f.flags & F_RAW)
            w->raw--;
        if (f.flags & F_THEAD)
            w->thead--;
        if (f.flags & F_TNEST)
            w->table_nest--;
        if (!e && (f.flags & F_BLOCK))
            e = boundary(w);
    }
    if (f.flags & F_HEAD)
        w->head--;
    if (f.flags & F_SECT)
        w->sectioning--;
    if (f.flags & F_HEADONLY)
        w->headonly--;
    return e;
}

static enum rp_err do_title(struct html_walk *w, const xmlNode *n)
{
    if (w->have_title)
        return RP_OK;
    for (const xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            if ((w->title.len && rp_buf_addc(&w->title, ' ')) ||
                collapse_into(&w->title, (const char *)c->content))
                return nomem(w);
        }
    rp_buf_rtrim(&w->title);
    w->have_title = w->title.len > 0;
    return RP_OK;
}

/* Sets metadata key (lower-cased, trimmed) to value (whitespace collapsed). */
static enum rp_err set_meta(struct html_walk *w, const char *key, const char *value)
{
    struct rp_buf k, v;
    rp_buf_init(&k, RP_BUF_NO_CAP);
    rp_buf_init(&v, RP_BUF_NO_CAP);
    enum rp_err e = collapse_into(&k, key);
    for (size_t i = 0; i < k.len; i++)
        k.data[i] = ascii_lower(k.data[i]);
    if (!e)
        e = collapse_into(&v, value);
    if (!e && k.len && v.len) {
        if (!rp_utf8_valid(k.data, k.len, NULL)) {
            rp_buf_reset(&w->scratch);
            e = rp_utf8_repair(k.data, k.len, &w->scratch);
            rp_buf_reset(&k);
            if (!e)
                e = rp_buf_add(&k, w->scratch.data, w->scratch.len);
        }
        if (!e && !rp_utf8_valid(v.data, v.len, NULL)) {
            rp_buf_reset(&w->scratch);
            e = rp_utf8_repair(v.data, v.len, &w->scratch);
            rp_buf_reset(&v);
            if (!e)
                e = rp_buf_add(&v, w->scratch.data, w->scratch.len);
        }
        if (!e)
            e = rp_doc_set_meta(w->doc, k.data, v.data);
    }
    rp_buf_release(&k);
    rp_buf_release(&v);
    return e ? nomem(w) : RP_OK;
}

/* Boilerplate by class, id or ARIA role: 2 drop, 1 keep only headings,
 * 0 keep. */
static int chrome_kind(const struct html_walk *w, const xmlNode *n)
{
    const char *vals[2] = {attr(n, "class"), attr(n, "id")};
    for (size_t i = 0; i < 2; i++)
        if (vals[i] && has_part(vals[i], chrome_words))
            return 2;
    const char *role = attr(n, "role");
    if (role && strcasecmp(role, "navigation") == 0)
        return 2;
    if (w->sectioning > 0)
        return 0;
    if (role && strcasecmp(role, "contentinfo") == 0)
        return 2;
    if (role && strcasecmp(role, "banner") == 0)
        return 1;
    for (size_t i = 0; i < 2; i++)
        if (vals[i] && has_part(vals[i], header_words))
            return 1;
    return 0;
}

static enum rp_err enter_flow(struct html_walk *w, const xmlNode *n, enum role r, unsigned flags)
{
    enum rp_err e = RP_OK;
    switch (r) {
    case R_HEADING:
        w->heading_level = n->name[1] - '0';
        e = open_ctx(w, CTX_HEADING, n);
        return e ? e : push_frame(w, n, flags | F_CTX);
    case R_LIST:
    case R_DL:
        e = open_ctx(w, CTX_LIST, n);
        if (!e)
            e = push_level(w, n, r);
        return e ? e : push_frame(w, n, flags | F_CTX);
    case R_PRE:
        e = open_ctx(w, CTX_PRE, n);
        return e ? e : push_frame(w, n, flags | F_CTX);
    case R_TABLE: /* a data table: layout tables come here as R_BLOCK */
        e = open_ctx(w, CTX_TABLE, n);
        if (!e)
            e = table_open(w);
        return e ? e : push_frame(w, n, flags | F_CTX);
    case R_BR:
        return set_pend(w, PEND_BREAK, "\n", 0, "");
    case R_INLINE:
    case R_HEAD:
        return push_frame(w, n, flags);
    default:
        break;
    }
    /* Every other element is a paragraph boundary. */
    e = flush_para(w);
    return e ? e : push_frame(w, n, flags | F_BLOCK);
}

static enum rp_err enter_list(struct html_walk *w, const xmlNode *n, enum role r, unsigned flags)
{
    enum rp_err e = RP_OK;
    switch (r) {
    case R_LIST:
    case R_DL:
        e = set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
        if (!e)
            e = push_level(w, n, r);
        return e ? e : push_frame(w, n, flags | F_LEVEL | F_BLOCK);
    case R_LI:
    case R_DT:
    case R_DD:
        e = list_item(w, n, r);
        return e ? e : push_frame(w, n, flags | (r == R_LI ? F_BLOCK : 0));
    case R_PRE:
        e = set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
        return e ? e : push_frame(w, n, flags | F_RAW | F_BLOCK);
    case R_CELL:
        e = set_pend(w, PEND_SEP, " | ", 0, "");
        return e ? e : push_frame(w, n, flags);
    case R_BR:
        return set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
    case R_INLINE:
    case R_HEAD:
        return push_frame(w, n, flags);
    default:
        e = set_pend(w, PEND_BREAK, "\n", cont_indent(w), "");
        return e ? e : push_frame(w, n, flags | F_BLOCK);
    }
}

static enum rp_err enter_table(struct html_walk *w, const xmlNode *n, enum role r, unsigned flags)
{
    enum rp_err e = RP_OK;
    if (w->table_nest == 1 && !w->in_cell && !w->in_caption) {
        switch (r) {
        case R_TR:
            if (w->in_row)
                e = table_end_row(w);
            if (!e)
                table_begin_row(w);
            return e ? e : push_frame(w, n, flags | F_ROW);
        case R_CELL:
            e = table_begin_cell(w, n);
            return e ? e : push_frame(w, n, flags | F_CELL);
        case R_CAPTION:
            e = flush_para(w);
            w->in_caption = true;
            return e ? e : push_frame(w, n, flags | F_CAPTION);
        case R_THEAD:
            return push_frame(w, n, flags | F_THEAD);
        default:
            break;
        }
    }
    if (r == R_TABLE)
        flags |= F_TNEST;
    if (r == R_BR) {
        w->pending_space = true;
        return RP_OK;
    }
    if (r == R_INLINE || r == R_HEAD)
        return push_frame(w, n, flags);
    w->pending_space = true;
    return push_frame(w, n, flags | F_BLOCK);
}

static enum rp_err enter(struct html_walk *w, const xmlNode *n)
{
    enum role r = role_of(n);
    w->line = w->elem_line = line_of(n);
    if (r == R_DROP)
        return RP_OK;
    if (r == R_META) {
        const char *name = attr(n, "name"), *content = attr(n, "content");
        return name && content ? set_meta(w, name, content) : RP_OK;
    }
    if (r == R_TITLE)
        return do_title(w, n);
    if (r == R_ROOT && !w->have_lang) {
        const char *lang = attr(n, "lang");
        if (!lang || !*lang)
            lang = attr(n, "xml:lang"); /* the HTML parser keeps the prefix */
        if (lang && *lang) {
            w->have_lang = true;
            enum rp_err e = set_meta(w, "language", lang);
            if (e)
                return e;
        }
    }
    bool table_part = w->ctx == CTX_TABLE && (r == R_TR || r == R_CELL);
    if (!w->head && !table_part) {
        const char *style = attr(n, "style");
        if (attr(n, "hidden") || (style && style_hides(style)))
            return RP_OK;
    }

    /* A layout table is a plain container of blocks. */
    if (r == R_TABLE && w->ctx == CTX_FLOW && is_layout_table(n))
        r = R_BLOCK;

    unsigned flags = 0;
    if (r == R_HEAD)
        flags |= F_HEAD;
    if (r == R_SECTIONING)
        flags |= F_SECT;
    if (w->ctx == CTX_FLOW || w->ctx == CTX_LIST) {
        /* Page chrome, judged on block elements only (and on the parts
         * of layout tables, which are in the flow). */
        bool flow = w->ctx == CTX_FLOW;
        bool judged =
            r == R_BLOCK || r == R_LIST || r == R_DL || r == R_LI || r == R_DT || r == R_DD ||
            r == R_PRE || r == R_HEADER || r == R_FOOTER ||
            (flow && (r == R_TR || r == R_CELL || r == R_CAPTION || r == R_THEAD || r == R_TSECT));
        int kind = judged ? chrome_kind(w, n) : 0;
        if (w->sectioning == 0 && r == R_FOOTER)
            kind = 2;
        if (w->sectioning == 0 && r == R_HEADER && kind == 0)
            kind = 1;
        if (kind == 1 && !flow)
            kind = 0; /* <li class="list-header"> is an item */
        if (kind == 2)
            return RP_OK;
        if (kind == 1)
            flags |= F_HEADONLY;
    }
    if ((w->headonly > 0 || (flags & F_HEADONLY)) && w->ctx != CTX_HEADING && r != R_HEADING) {
        /* Inside a page header: look for headings, keep nothing else. */
        enum rp_err e = RP_OK;
        if ((flags & F_HEADONLY) && w->ctx == CTX_FLOW) {
            e = flush_para(w);
            flags |= F_BLOCK;
        }
        return e ? e : push_frame(w, n, flags);
    }
    switch (w->ctx) {
    case CTX_FLOW:
        return enter_flow(w, n, r, flags);
    case CTX_LIST:
        return enter_list(w, n, r, flags);
    case CTX_TABLE:
        return enter_table(w, n, r, flags);
    case CTX_HEADING:
        if (r == R_BR) {
            w->pending_space = true;
            return RP_OK;
        }
        if (r != R_INLINE) {
            w->pending_space = true;
            flags |= F_BLOCK;
        }
        return push_frame(w, n, flags);
    case CTX_PRE:
        if (r == R_BR)
            return rp_buf_addc(&w->text, '\n') ? nomem(w) : RP_OK;
        return push_frame(w, n, flags);
    }
    return RP_OK;
}

/* Walks the tree below root without recursion: down to the first child,
 * along to the next sibling, up through the parents (leaving them) when
 * a level is done. Only elements on the frame stack are descended. */
static enum rp_err walk_tree(struct html_walk *w, const xmlNode *root)
{
    enum rp_err e = RP_OK;
    const xmlNode *n = root->children;
    while (n && !e) {
        bool descended = false;
        if (n->type == XML_ELEMENT_NODE) {
            size_t before = w->n_frames;
            e = enter(w, n);
            descended = !e && w->n_frames > before;
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            e = visit_text(w, n);
        }
        if (e)
            break;
        if (descended && n->children) {
            n = n->children;
            continue;
        }
        if (descended)
            e = leave(w);
        while (!e && n && !n->next) {
            n = n->parent;
            if (!n || n == root)
                n = NULL;
            else
                e = leave(w);
        }
        if (n)
            n = n->next;
    }
    return e;
}

/* A UTF-16/32 page has NUL bytes; anything else with one is binary. */
static bool has_wide_bom(const unsigned char *d, size_t len)
{
    return (len >= 2 && ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == 0xFE && d[1] == 0xFF))) ||
           (len >= 4 && d[0] == 0 && d[1] == 0 && d[2] == 0xFE && d[3] == 0xFF);
}

enum rp_err rp__parse_html(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err)
{
    struct html_walk w;
    memset(&w, 0, sizeof(w));
    w.doc = doc;
    w.params = params;
    w.err = err;
    w.first_h1 = -1;
    rp_buf_init(&w.text, RP_BUF_NO_CAP);
    rp_buf_init(&w.pend, RP_BUF_NO_CAP);
    rp_buf_init(&w.scratch, RP_BUF_NO_CAP);
    rp_buf_init(&w.title, RP_BUF_NO_CAP);
    rp_table_builder_init(&w.tb);
    htmlParserCtxtPtr ctxt = NULL;
    htmlDocPtr tree = NULL;
    xmlGenericErrorFunc old_generic = NULL;
    xmlStructuredErrorFunc old_structured = NULL;
    void *old_generic_ctx = NULL, *old_structured_ctx = NULL;
    bool handlers_set = false;
    struct xml_errors seen = {false};
    struct rp_buf utf8; /* the page converted by us, when libxml2 could not */
    rp_buf_init(&utf8, len > ((size_t)INT_MAX - 64) / 4 ? (size_t)INT_MAX : 4 * len + 64);
    enum rp_err e = RP_OK;
    rp_error_clear(err);

    if (len > (size_t)INT_MAX) {
        e = rp_error_set(err, RP_ERR_TOOBIG, "%zu bytes is more than the HTML parser takes", len);
        goto out;
    }
    const char *nul = memchr(data, '\0', len);
    if (nul && !has_wide_bom((const unsigned char *)data, len)) {
        e = rp_error_set(err, RP_ERR_PARSE, "binary content (NUL byte at offset %zu)",
                         (size_t)(nul - data));
        goto out;
    }
    pthread_once(&html_once, html_init);
    old_generic = xmlGenericError;
    old_generic_ctx = xmlGenericErrorContext;
    old_structured = xmlStructuredError;
    old_structured_ctx = xmlStructuredErrorContext;
    handlers_set = true;
    xmlSetGenericErrorFunc(NULL, html_libxml_message);
    xmlSetStructuredErrorFunc(&seen, html_libxml_error);
    ctxt = htmlNewParserCtxt();
    if (!ctxt) {
        e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const int options = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                        HTML_PARSE_NOWARNING | HTML_PARSE_COMPACT;
    tree = htmlCtxtReadMemory(ctxt, data, (int)len, doc->path, NULL, options);
    if (!ctxt->disableSAX && seen.conversion_failed) {
        /* The page stops at the first byte its charset cannot convert:
         * convert it ourselves, bad bytes marked, and parse that. */
        const char *charset = tree && tree->encoding ? (const char *)tree->encoding : NULL;
        size_t bad = 0;
        enum rp_err ce =
            charset ? convert_lossy(charset, data, len, &utf8, &bad) : RP_ERR_UNSUPPORTED;
        if (ce) {
            e = rp_error_set(err,
                             ce == RP_ERR_NOMEM    ? RP_ERR_NOMEM
                             : ce == RP_ERR_TOOBIG ? RP_ERR_TOOBIG
                                                   : RP_ERR_PARSE,
                             "bytes that are not valid in the page's charset '%s', which iconv "
                             "cannot convert either",
                             charset ? charset : "unknown");
            goto out;
        }
        rp_debug("'%s': %zu bytes not valid in charset '%s' replaced with U+FFFD", doc->path, bad,
                 charset);
        xmlFreeDoc(tree);
        seen.conversion_failed = false;
        tree = htmlCtxtReadMemory(ctxt, utf8.data, (int)utf8.len, doc->path, "UTF-8",
                                  options | HTML_PARSE_IGNORE_ENC);
        if (seen.conversion_failed) {
            e = rp_error_set(err, RP_ERR_PARSE, "the page cannot be converted to UTF-8");
            goto out;
        }
    }
    if (ctxt->disableSAX) {
        /* libxml2 halted: the tree stops where it did, so the rest of the
         * page would be lost without a word. */
        const xmlError *xe = xmlCtxtGetLastError(ctxt);
        const char *msg = xe && xe->message ? xe->message : "unknown error";
        if (strstr(msg, "depth")) {
            int lim = params->max_depth < (int)xmlParserMaxDepth ? params->max_depth
                                                                 : (int)xmlParserMaxDepth;
            e = rp_error_set(err, RP_ERR_TOOBIG, "HTML nested deeper than %d levels", lim);
        } else if (strstr(msg, "huge text")) {
            e = rp_error_set(err, RP_ERR_TOOBIG,
                             "HTML text run longer than the parser's limit (10000000 bytes)");
        } else {
            size_t ml = strlen(msg);
            while (ml && is_ws(msg[ml - 1]))
                ml--;
            e = rp_error_set(err, xe && xe->code == XML_ERR_NO_MEMORY ? RP_ERR_NOMEM : RP_ERR_PARSE,
                             "HTML parser stopped: %.*s", (int)ml, msg);
        }
        goto out;
    }
    if (!tree)
        goto out; /* empty input: an empty document */

    e = walk_tree(&w, (const xmlNode *)tree);
    if (!e)
        e = flush_para(&w);
    if (e)
        goto out;
    if (w.have_title) {
        const char *s = w.title.data;
        size_t n = w.title.len;
        e = utf8_clean(&w, &s, &n);
        const char *t = e ? NULL : rp_arena_strndup(&doc->arena, s, n);
        if (!e && !t)
            e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        if (t)
            doc->title = t;
    } else if (w.first_h1 >= 0) {
        doc->title = doc->sections[w.first_h1].title;
    }
out:
    if (e && err && err->code == RP_OK)
        rp_error_set(err, e, "%s", rp_strerror(e));
    rp_table_builder_release(&w.tb);
    table_free_spans(&w);
    free(w.frames);
    free(w.levels);
    rp_buf_release(&w.text);
    rp_buf_release(&w.pend);
    rp_buf_release(&w.scratch);
    rp_buf_release(&w.title);
    if (tree)
        xmlFreeDoc(tree);
    if (ctxt)
        htmlFreeParserCtxt(ctxt);
    rp_buf_release(&utf8);
    if (handlers_set) {
        xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
        xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
    }
    return e;
}
