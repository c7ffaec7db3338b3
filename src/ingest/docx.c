/*
 * docx.c - Word documents (.docx, Office Open XML), 3GPP specifications first.
 *
 * A DOCX file is a ZIP archive of XML parts. The archive is opened from
 * memory with libzip and five parts are read:
 *
 *   word/document.xml   the body (required), streamed
 *   word/styles.xml     style id -> name, basedOn, outline level
 *   word/numbering.xml  list formats (bullet or numbered) and start values
 *   docProps/core.xml   title, author, keywords, subject, revision
 *   docProps/custom.xml custom properties (pandoc puts front-matter here)
 *
 * Every part is inflated under two limits that count the bytes actually
 * inflated, never the sizes the archive declares: params->max_file_bytes,
 * and params->max_compression_ratio times the part's compressed size (a
 * zip bomb stops after a few megabytes).
 *
 * The body is streamed, because it is most of the file and a libxml2 tree
 * costs more than ten times the XML. libxml2's xmlTextReader pulls
 * word/document.xml from zip_fread() as it parses, so neither the inflated
 * XML nor its tree is ever whole in memory. The reader walks the block
 * structure (w:body, content controls, tracked insertions, tables) one
 * element at a time with a small stack of open containers; each paragraph
 * and each table row is expanded into a tree of its own, handled by the
 * tree code below and freed when the reader moves past it. So memory holds
 * the document model being built, one paragraph or row, the cells of the
 * table being read (rp_table_builder) and the pending list or code lines,
 * whatever the length of the body. The small parts are read whole and
 * parsed into trees: styles.xml is kept for the walk (style names are
 * resolved lazily from it), the others are loaded and freed at once.
 *
 * XML is parsed without entity expansion, network access or DTD loading,
 * and a part that carries a DOCTYPE at all is refused (the body as soon as
 * the reader meets it): Word never writes one, so it can only be an attack
 * (billion laughs, external entities).
 *
 * A failure is reported for the same reason whatever point of the stream
 * met it, as if every part had been read whole first: the body's own read
 * errors (damaged data, size cap, zip bomb) win, then its well-formedness,
 * then its DOCTYPE, then an error in an optional part, then a missing
 * w:body, then the limits of the walk (depth, row width). After any of
 * them the rest of the body is still parsed (after a DOCTYPE only
 * inflated), without building anything, to find an error that comes first
 * in that order.
 *
 * What a paragraph is follows from its style. Each paragraph style is
 * resolved once to a kind (heading, title, list item, code, table header,
 * ...) by a small table of style names (style_rules below: "heading N",
 * the 3GPP styles B1..B5, PL, TH, TAH, TAL, NO, EX, ..., pandoc's "Source
 * Code"), then by its outline level, then by the style it is based on. A
 * paragraph's own outline level or list numbering (w:numPr) overrides that.
 * 3GPP annex titles ("Annex A (normative): ...", in Heading 8 or 9) are
 * level-1 sections like the clauses that follow them.
 *
 * The body is walked once in document order. Headings open sections;
 * consecutive list paragraphs are gathered into one list block ("- " lines
 * indented two spaces per level, "1. " for numbered levels) and
 * consecutive code paragraphs into one code block; tables become table
 * blocks (grid spans repeat the cell text, vertically merged cells are
 * empty, nested tables are flattened into the cell text). Deleted text and
 * field instructions are dropped, insertions and field results kept.
 * Nesting is bounded by params->max_depth, counted the same way in the
 * streamed block structure and in the trees of paragraphs and rows.
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <zip.h>

#include "ingest_int.h"

#define W_NS "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define W_NS_STRICT "http://purl.oclc.org/ooxml/wordprocessingml/main"
#define M_NS "http://schemas.openxmlformats.org/officeDocument/2006/math"

/* Parts compress well; the ratio check starts past this much output so a
 * small, very regular part is never mistaken for a bomb. */
#define DOCX_RATIO_FLOOR ((size_t)1 << 20)
#define DOCX_READ_CHUNK 16384
#define DOCX_MAX_ROW_CELLS 1000
#define DOCX_MAX_GRID_SPAN 64 /* Word's grid has at most 63 columns */
#define DOCX_MAX_STYLES 10000
#define DOCX_MAX_NUMS 10000
#define DOCX_MAX_BASED_ON 16
#define DOCX_LEVELS 9
#define DOCX_FIELD_STACK 32

/* ---- paragraph kinds and the style table ---- */

enum para_kind {
    PK_BODY,       /* a paragraph block */
    PK_HEADING,    /* opens a section; level 1..9 */
    PK_TITLE,      /* the document title */
    PK_META,       /* a metadata value (subtitle, author, date) */
    PK_LIST,       /* a list item; level 1..9 */
    PK_CODE,       /* a line of a code block */
    PK_TABLE_HEAD, /* table header cell text (3GPP TAH) */
    PK_TABLE_TEXT, /* table cell text (3GPP TAL, TAC, TAR, TAN) */
    PK_SKIP,       /* generated text: table of contents entries */
};

/* A style name is compared case- and space-insensitively; '#' stands for
 * one digit 1-9, which gives the level when level is 0. */
struct style_rule {
    const char *name;
    enum para_kind kind;
    int level;
    const char *meta; /* PK_META: the metadata key */
};

static const struct style_rule style_rules[] = {
    {"heading #", PK_HEADING, 0, NULL},
    {"title", PK_TITLE, 0, NULL},
    {"subtitle", PK_META, 0, "subtitle"},
    {"author", PK_META, 0, "author"},
    {"date", PK_META, 0, "date"},
    {"toc #", PK_SKIP, 0, NULL},
    {"toc heading", PK_SKIP, 0, NULL},
    {"B#", PK_LIST, 0, NULL}, /* 3GPP bullets, one style per level */
    {"list bullet", PK_LIST, 1, NULL},
    {"list bullet #", PK_LIST, 0, NULL},
    {"list number", PK_LIST, 1, NULL},
    {"list number #", PK_LIST, 0, NULL},
    {"EX", PK_LIST, 1, NULL},          /* 3GPP references and definitions */
    {"EW", PK_LIST, 1, NULL},          /* 3GPP abbreviations */
    {"PL", PK_CODE, 0, NULL},          /* 3GPP program listing (ASN.1) */
    {"source code", PK_CODE, 0, NULL}, /* pandoc */
    {"html preformatted", PK_CODE, 0, NULL},
    {"plain text", PK_CODE, 0, NULL},
    {"TAH", PK_TABLE_HEAD, 0, NULL},
    {"TAL", PK_TABLE_TEXT, 0, NULL},
    {"TAC", PK_TABLE_TEXT, 0, NULL},
    {"TAR", PK_TABLE_TEXT, 0, NULL},
    {"TAN", PK_TABLE_TEXT, 0, NULL},
    /* Plain paragraphs, listed so that they do not inherit a kind from the
     * style they are based on (3GPP's NO is based on EX). */
    {"TH", PK_BODY, 0, NULL}, /* table heading */
    {"TF", PK_BODY, 0, NULL}, /* figure title */
    {"NO", PK_BODY, 0, NULL}, /* note */
    {"editorsnote", PK_BODY, 0, NULL},
    {"normal", PK_BODY, 0, NULL},
};

/* Level-1 headings that make a poor document title (3GPP boilerplate). */
static const char *const not_titles[] = {"foreword", "contents", "table of contents"};

/* numFmt values of numbered levels; anything else not listed is decimal. */
enum num_fmt {
    NF_BULLET,
    NF_DECIMAL,
    NF_LOWER_LETTER,
    NF_UPPER_LETTER,
    NF_LOWER_ROMAN,
    NF_UPPER_ROMAN
};

static const struct {
    const char *name;
    enum num_fmt fmt;
} num_fmts[] = {
    {"bullet", NF_BULLET},
    {"none", NF_BULLET},
    {"lowerLetter", NF_LOWER_LETTER},
    {"upperLetter", NF_UPPER_LETTER},
    {"lowerRoman", NF_LOWER_ROMAN},
    {"upperRoman", NF_UPPER_ROMAN},
};

struct docx_style {
    const char *id; /* borrowed from the styles.xml tree */
    const char *name;
    const char *based_on;
    int outline; /* w:outlineLvl, -1 when not set */
    int state;   /* 0 unresolved, 1 being resolved, 2 resolved */
    enum para_kind kind;
    int level;
    const char *meta;
};

/* One numbering instance (w:num) with its levels' formats and counters. */
struct docx_num {
    int id;
    enum num_fmt fmt[DOCX_LEVELS];
    int start[DOCX_LEVELS];
    int counter[DOCX_LEVELS];
    bool started[DOCX_LEVELS];
};

enum field_state { FIELD_INSTR, FIELD_RESULT };

struct docx {
    struct rp_doc *doc;
    const struct rp_ingest_params *params;
    struct rp_error *err;
    struct docx_style *styles; /* sorted by id */
    size_t n_styles;
    struct docx_num *nums; /* sorted by id */
    size_t n_nums;
    struct rp_buf group;       /* pending list or code lines */
    enum para_kind group_kind; /* PK_LIST, PK_CODE, or PK_BODY for none */
    enum field_state fields[DOCX_FIELD_STACK];
    int n_fields;      /* may exceed DOCX_FIELD_STACK; those count as instructions */
    const char *title; /* text of the first Title paragraph (arena) */
};

/* What a paragraph's properties say about it. */
struct para_info {
    enum para_kind kind;
    int level;
    const char *meta;
    struct docx_num *num; /* numbered list instance, or NULL */
    int ilvl;
};

/* ---- small helpers ---- */

static bool is_ns(const xmlNode *n, const char *href)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, href) == 0;
}

static bool is_wns(const xmlNode *n)
{
    return is_ns(n, W_NS) || is_ns(n, W_NS_STRICT);
}

/* True when n is the WordprocessingML element <w:local>. */
static bool is_w(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && is_wns(n) && strcmp((const char *)n->name, local) == 0;
}

/* The first child element <w:local> of n, or NULL. */
static xmlNode *w_child(const xmlNode *n, const char *local)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is_w(c, local))
            return c;
    return NULL;
}

/* The value of attribute w:local (or an unprefixed local) of n, borrowed
 * from the tree; NULL when absent. Attribute values hold no entity
 * references here (documents with a DTD are refused), so the value is its
 * one text child. */
static const char *w_attr(const xmlNode *n, const char *local)
{
    if (!n)
        return NULL;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, local) != 0)
            continue;
        if (a->ns && !(a->ns->href && (strcmp((const char *)a->ns->href, W_NS) == 0 ||
                                       strcmp((const char *)a->ns->href, W_NS_STRICT) == 0)))
            continue;
        if (!a->children)
            return "";
        if (a->children->type == XML_TEXT_NODE && a->children->content)
            return (const char *)a->children->content;
        return NULL;
    }
    return NULL;
}

/* w:val of the child <w:local> of n. */
static const char *child_val(const xmlNode *n, const char *local)
{
    return w_attr(w_child(n, local), "val");
}

/* An integer attribute value within [lo, hi], else dflt. */
static int parse_int(const char *s, long lo, long hi, int dflt)
{
    if (!s || !*s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return dflt;
    return (int)v;
}

/* An on/off property (<w:tblHeader/>, <w:vanish w:val="0"/>) of element n. */
static bool on_off(const xmlNode *n)
{
    if (!n)
        return false;
    const char *v = w_attr(n, "val");
    return !v || !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Collapses whitespace runs (tabs and breaks included) to one space and
 * trims both ends, in place. */
static void squeeze_spaces(struct rp_buf *b)
{
    size_t w = 0;
    bool space = false;
    for (size_t r = 0; r < b->len; r++) {
        char c = b->data[r];
        if (is_blank(c)) {
            space = w > 0;
            continue;
        }
        if (space)
            b->data[w++] = ' ';
        space = false;
        b->data[w++] = c;
    }
    rp_buf_truncate(b, w);
}

/* Removes leading and trailing whitespace, in place. */
static void trim(struct rp_buf *b)
{
    rp_buf_rtrim(b);
    size_t k = 0;
    while (k < b->len && is_blank(b->data[k]))
        k++;
    if (k) {
        memmove(b->data, b->data + k, b->len - k + 1);
        b->len -= k;
    }
}

static enum rp_err nomem(struct docx *d)
{
    return rp_error_set(d->err, RP_ERR_NOMEM, "out of memory");
}

static enum rp_err too_deep(struct docx *d)
{
    return rp_error_set(d->err, RP_ERR_TOOBIG, "word/document.xml is nested deeper than %d levels",
                        d->params->max_depth);
}

/* ---- the ZIP container ---- */

/* Copies a libzip message with its first letter in lower case. */
static void zip_msg(char *out, size_t size, const char *msg)
{
    snprintf(out, size, "%s", msg ? msg : "unknown error");
    if (isupper((unsigned char)out[0]) && islower((unsigned char)out[1]))
        out[0] = (char)tolower((unsigned char)out[0]);
}

/* A member being inflated, and the most it may expand to. */
struct part_input {
    zip_file_t *zf;   /* NULL when not open */
    const char *name; /* a static string */
    size_t total;     /* bytes inflated so far */
    double max_out;   /* params->max_compression_ratio x its compressed size */
    bool eof;
};

/* Opens member name of za into *in after the checks that need no data
 * (encryption, declared size). *found tells whether the member exists; a
 * missing member is not an error here. Close with part_close(). */
static enum rp_err part_open(struct docx *d, zip_t *za, size_t archive_len, const char *name,
                             struct part_input *in, bool *found)
{
    const struct rp_ingest_params *p = d->params;
    char msg[200];
    *in = (struct part_input){.name = name};
    *found = false;
    zip_int64_t idx = zip_name_locate(za, name, ZIP_FL_NOCASE);
    if (idx < 0)
        return RP_OK;
    *found = true;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0) {
        zip_msg(msg, sizeof(msg), zip_strerror(za));
        return rp_error_set(d->err, RP_ERR_PARSE, "cannot read %s: %s", name, msg);
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return rp_error_set(d->err, RP_ERR_UNSUPPORTED, "%s is encrypted", name);
    if ((st.valid & ZIP_STAT_SIZE) && st.size > p->max_file_bytes)
        return rp_error_set(d->err, RP_ERR_TOOBIG,
                            "%s is %llu bytes, larger than the %zu byte limit", name,
                            (unsigned long long)st.size, p->max_file_bytes);
    /* The compressed data cannot be larger than the archive itself. */
    double comp = (st.valid & ZIP_STAT_COMP_SIZE) ? (double)st.comp_size : (double)archive_len;
    if (comp > (double)archive_len)
        comp = (double)archive_len;
    if (comp < 1)
        comp = 1;
    in->max_out = p->max_compression_ratio * comp;
    in->zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!in->zf) {
        zip_msg(msg, sizeof(msg), zip_strerror(za));
        return rp_error_set(d->err, RP_ERR_PARSE, "cannot read %s: %s", name, msg);
    }
    return RP_OK;
}

/* Inflates up to size more bytes of in into buf; *n is 0 at the end. The
 * size cap and the ratio check apply to the bytes actually inflated so
 * far. Failures are described in err. */
static enum rp_err part_read(struct part_input *in, const struct rp_ingest_params *p, char *buf,
                             size_t size, size_t *n, struct rp_error *err)
{
    *n = 0;
    zip_int64_t got = zip_fread(in->zf, buf, size);
    if (got < 0) {
        char msg[200];
        zip_msg(msg, sizeof(msg), zip_file_strerror(in->zf));
        return rp_error_set(err, RP_ERR_PARSE, "cannot read %s: %s", in->name, msg);
    }
    if (got == 0) {
        in->eof = true;
        return RP_OK;
    }
    size_t total = in->total + (size_t)got;
    if (total > p->max_file_bytes)
        return rp_error_set(err, RP_ERR_TOOBIG, "%s is larger than the %zu byte limit", in->name,
                            p->max_file_bytes);
    if (total > DOCX_RATIO_FLOOR && (double)total > in->max_out)
        return rp_error_set(err, RP_ERR_TOOBIG,
                            "%s expands more than %g times its compressed size (a zip bomb?)",
                            in->name, p->max_compression_ratio);
    in->total = total;
    *n = (size_t)got;
    return RP_OK;
}

static void part_close(struct part_input *in)
{
    if (in->zf)
        zip_fclose(in->zf);
    in->zf = NULL;
}

/* Reads member name of za whole into out (reset first); *found as for
 * part_open(). */
static enum rp_err read_part(struct docx *d, zip_t *za, size_t archive_len, const char *name,
                             struct rp_buf *out, bool *found)
{
    struct part_input in;
    rp_buf_reset(out);
    enum rp_err e = part_open(d, za, archive_len, name, &in, found);
    char chunk[DOCX_READ_CHUNK];
    while (!e && in.zf && !in.eof) {
        size_t n;
        e = part_read(&in, d->params, chunk, sizeof(chunk), &n, d->err);
        enum rp_err add = e ? RP_OK : rp_buf_add(out, chunk, n);
        if (add == RP_ERR_TOOBIG)
            e = rp_error_set(d->err, RP_ERR_TOOBIG, "%s is larger than the %zu byte limit for it",
                             name, out->cap);
        else if (add)
            e = nomem(d);
    }
    part_close(&in);
    return e;
}

/* Sets err to say that part name is not well-formed; msg (may be NULL) is
 * libxml2's message. */
static enum rp_err not_well_formed(struct rp_error *err, const char *name, const char *msg,
                                   int line)
{
    char m[200];
    snprintf(m, sizeof(m), "%s", msg ? msg : "parse error");
    size_t n = strlen(m);
    while (n && is_blank(m[n - 1]))
        m[--n] = '\0';
    return rp_error_set(err, RP_ERR_PARSE, "%s is not well-formed XML (line %d: %s)", name, line,
                        m);
}

static enum rp_err has_doctype(struct rp_error *err, const char *name)
{
    return rp_error_set(err, RP_ERR_PARSE,
                        "%s has a DOCTYPE declaration, which Word documents never have", name);
}

/* Parses a small XML part safely: no entities expanded, nothing loaded
 * from the network or disk, no DOCTYPE accepted. *out is a new tree
 * (xmlFreeDoc). */
static enum rp_err parse_xml(struct docx *d, const struct rp_buf *b, const char *name, xmlDoc **out)
{
    *out = NULL;
    if (b->len > INT_MAX)
        return rp_error_set(d->err, RP_ERR_TOOBIG, "%s is too large to parse", name);
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return nomem(d);
    enum rp_err e = RP_OK;
    int opts = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xmlDoc *x = xmlCtxtReadMemory(ctxt, b->data, (int)b->len, name, NULL, opts);
    if (!x) {
        const xmlError *xe = xmlCtxtGetLastError(ctxt);
        e = not_well_formed(d->err, name, xe ? xe->message : NULL, xe ? xe->line : 0);
    } else if (x->intSubset || x->extSubset) {
        e = has_doctype(d->err, name);
    } else if (!xmlDocGetRootElement(x)) {
        e = rp_error_set(d->err, RP_ERR_PARSE, "%s has no root element", name);
    }
    if (e && x) {
        xmlFreeDoc(x);
        x = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    *out = x;
    return e;
}

/* Reads and parses one small part; *out stays NULL when it is missing. */
static enum rp_err load_part(struct docx *d, zip_t *za, size_t archive_len, const char *name,
                             struct rp_buf *tmp, xmlDoc **out)
{
    bool found;
    *out = NULL;
    enum rp_err e = read_part(d, za, archive_len, name, tmp, &found);
    if (!e && found)
        e = parse_xml(d, tmp, name, out);
    rp_buf_reset(tmp);
    return e;
}

/* ---- styles ---- */

/* Matches a style name against a rule pattern (see struct style_rule). */
static bool name_matches(const char *pat, const char *name, int *digit)
{
    for (;;) {
        while (*pat == ' ')
            pat++;
        while (*name == ' ')
            name++;
        if (!*pat || !*name)
            return !*pat && !*name;
        if (*pat == '#') {
            if (*name < '1' || *name > '9')
                return false;
            *digit = *name - '0';
        } else if (tolower((unsigned char)*pat) != tolower((unsigned char)*name)) {
            return false;
        }
        pat++;
        name++;
    }
}

static const struct style_rule *match_rule(const char *name, int *level)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(style_rules) / sizeof(style_rules[0]); i++) {
        int digit = 1;
        if (name_matches(style_rules[i].name, name, &digit)) {
            *level = style_rules[i].level ? style_rules[i].level : digit;
            return &style_rules[i];
        }
    }
    return NULL;
}

static int cmp_style(const void *a, const void *b)
{
    return strcmp(((const struct docx_style *)a)->id, ((const struct docx_style *)b)->id);
}

static struct docx_style *find_style(struct docx *d, const char *id)
{
    if (!id || !d->n_styles)
        return NULL;
    struct docx_style key = {.id = id};
    return bsearch(&key, d->styles, d->n_styles, sizeof(*d->styles), cmp_style);
}

/* Decides a style's kind: its name, else its outline level, else the style
 * it is based on (a bounded walk; a cycle makes it a plain paragraph). */
static void resolve_style(struct docx *d, struct docx_style *s, int hops)
{
    if (s->state == 2)
        return;
    s->kind = PK_BODY;
    s->level = 0;
    s->meta = NULL;
    if (s->state == 1 || hops > DOCX_MAX_BASED_ON)
        return; /* a cycle or a very long chain: leave it plain, unresolved */
    s->state = 1;
    int level = 0;
    const struct style_rule *r = match_rule(s->name, &level);
    if (!r)
        r = match_rule(s->id, &level);
    if (r) {
        s->kind = r->kind;
        s->level = level;
        s->meta = r->meta;
    } else if (s->outline >= 0 && s->outline < DOCX_LEVELS) {
        s->kind = PK_HEADING;
        s->level = s->outline + 1;
    } else if (s->outline < 0 && s->based_on) {
        struct docx_style *base = find_style(d, s->based_on);
        if (base && base != s) {
            resolve_style(d, base, hops + 1);
            if (base->state == 2) {
                s->kind = base->kind;
                s->level = base->level;
                s->meta = base->meta;
            }
        }
    }
    s->state = 2;
}

static enum rp_err load_styles(struct docx *d, xmlDoc *x)
{
    xmlNode *root = xmlDocGetRootElement(x);
    size_t n = 0;
    for (xmlNode *c = root->children; c; c = c->next)
        n += is_w(c, "style");
    if (n > DOCX_MAX_STYLES)
        n = DOCX_MAX_STYLES;
    if (!n)
        return RP_OK;
    d->styles = calloc(n, sizeof(*d->styles));
    if (!d->styles)
        return nomem(d);
    for (xmlNode *c = root->children; c && d->n_styles < n; c = c->next) {
        if (!is_w(c, "style"))
            continue;
        const char *type = w_attr(c, "type");
        const char *id = w_attr(c, "styleId");
        if (!id || (type && strcmp(type, "paragraph") != 0))
            continue;
        struct docx_style *s = &d->styles[d->n_styles++];
        s->id = id;
        s->name = child_val(c, "name");
        s->based_on = child_val(c, "basedOn");
        s->outline = parse_int(child_val(w_child(c, "pPr"), "outlineLvl"), 0, 9, -1);
    }
    qsort(d->styles, d->n_styles, sizeof(*d->styles), cmp_style);
    return RP_OK;
}

/* ---- numbering ---- */

static enum num_fmt parse_num_fmt(const char *v)
{
    if (!v)
        return NF_BULLET;
    for (size_t i = 0; i < sizeof(num_fmts) / sizeof(num_fmts[0]); i++)
        if (strcmp(v, num_fmts[i].name) == 0)
            return num_fmts[i].fmt;
    return NF_DECIMAL;
}

static int cmp_num(const void *a, const void *b)
{
    int x = ((const struct docx_num *)a)->id, y = ((const struct docx_num *)b)->id;
    return (x > y) - (x < y);
}

static struct docx_num *find_num(struct docx *d, int id)
{
    if (!d->n_nums)
        return NULL;
    struct docx_num key = {.id = id};
    return bsearch(&key, d->nums, d->n_nums, sizeof(*d->nums), cmp_num);
}

/* An abstract numbering definition, found by its id string. */
struct docx_abstract {
    const char *id;
    const xmlNode *node;
};

static int cmp_abstract(const void *a, const void *b)
{
    return strcmp(((const struct docx_abstract *)a)->id, ((const struct docx_abstract *)b)->id);
}

/* Fills num's level formats from the w:abstractNum with the given id. */
static void apply_abstract(const struct docx_abstract *abs, size_t n_abs, const char *abstract_id,
                           struct docx_num *num)
{
    if (!abstract_id || !n_abs)
        return;
    struct docx_abstract key = {.id = abstract_id};
    const struct docx_abstract *a = bsearch(&key, abs, n_abs, sizeof(*abs), cmp_abstract);
    if (!a)
        return;
    for (const xmlNode *l = a->node->children; l; l = l->next) {
        if (!is_w(l, "lvl"))
            continue;
        int ilvl = parse_int(w_attr(l, "ilvl"), 0, DOCX_LEVELS - 1, -1);
        if (ilvl < 0)
            continue;
        num->fmt[ilvl] = parse_num_fmt(child_val(l, "numFmt"));
        num->start[ilvl] = parse_int(child_val(l, "start"), 0, 32767, 1);
    }
}

static enum rp_err load_numbering(struct docx *d, xmlDoc *x)
{
    xmlNode *root = xmlDocGetRootElement(x);
    size_t n = 0, n_abs = 0;
    for (xmlNode *c = root->children; c; c = c->next) {
        n += is_w(c, "num");
        n_abs += is_w(c, "abstractNum");
    }
    if (n > DOCX_MAX_NUMS)
        n = DOCX_MAX_NUMS;
    if (n_abs > DOCX_MAX_NUMS)
        n_abs = DOCX_MAX_NUMS;
    if (!n)
        return RP_OK;
    struct docx_abstract *abs = calloc(n_abs ? n_abs : 1, sizeof(*abs));
    d->nums = calloc(n, sizeof(*d->nums));
    if (!abs || !d->nums) {
        free(abs);
        return nomem(d);
    }
    size_t k = 0;
    for (xmlNode *c = root->children; c && k < n_abs; c = c->next) {
        const char *id = is_w(c, "abstractNum") ? w_attr(c, "abstractNumId") : NULL;
        if (id)
            abs[k++] = (struct docx_abstract){id, c};
    }
    n_abs = k;
    qsort(abs, n_abs, sizeof(*abs), cmp_abstract);
    for (xmlNode *c = root->children; c && d->n_nums < n; c = c->next) {
        if (!is_w(c, "num"))
            continue;
        int id = parse_int(w_attr(c, "numId"), 1, INT_MAX, -1);
        if (id < 0)
            continue;
        struct docx_num *num = &d->nums[d->n_nums++];
        num->id = id;
        for (int i = 0; i < DOCX_LEVELS; i++) {
            num->fmt[i] = NF_BULLET;
            num->start[i] = 1;
        }
        apply_abstract(abs, n_abs, child_val(c, "abstractNumId"), num);
        for (xmlNode *o = c->children; o; o = o->next) {
            if (!is_w(o, "lvlOverride"))
                continue;
            int ilvl = parse_int(w_attr(o, "ilvl"), 0, DOCX_LEVELS - 1, -1);
            if (ilvl >= 0)
                num->start[ilvl] =
                    parse_int(child_val(o, "startOverride"), 0, 32767, num->start[ilvl]);
        }
    }
    free(abs);
    qsort(d->nums, d->n_nums, sizeof(*d->nums), cmp_num);
    return RP_OK;
}

/* Appends a number in the level's format ("3", "c", "iv"). */
static enum rp_err add_number(struct rp_buf *b, enum num_fmt fmt, int v)
{
    if ((fmt == NF_LOWER_LETTER || fmt == NF_UPPER_LETTER) && v >= 1) {
        /* Word's letters: a..z, then aa..zz, and so on. */
        char c = (char)((fmt == NF_LOWER_LETTER ? 'a' : 'A') + (v - 1) % 26);
        enum rp_err e = RP_OK;
        for (int i = 0; i <= (v - 1) / 26 && i < 32 && !e; i++)
            e = rp_buf_addc(b, c);
        return e;
    }
    if ((fmt == NF_LOWER_ROMAN || fmt == NF_UPPER_ROMAN) && v >= 1 && v < 4000) {
        static const struct {
            int value;
            const char *digits;
        } roman[] = {{1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"}, {100, "c"},
                     {90, "xc"},  {50, "l"},   {40, "xl"}, {10, "x"},   {9, "ix"},
                     {5, "v"},    {4, "iv"},   {1, "i"}};
        enum rp_err e = RP_OK;
        for (size_t i = 0; i < sizeof(roman) / sizeof(roman[0]) && !e; i++) {
            for (; v >= roman[i].value && !e; v -= roman[i].value)
                for (const char *s = roman[i].digits; *s && !e; s++)
                    e = rp_buf_addc(b,
                                    fmt == NF_UPPER_ROMAN ? (char)toupper((unsigned char)*s) : *s);
        }
        return e;
    }
    return rp_buf_addf(b, "%d", v);
}

/* ---- paragraphs ---- */

/* Reads a paragraph's style, outline level and numbering. */
static struct para_info para_info(struct docx *d, const xmlNode *p)
{
    struct para_info info = {.kind = PK_BODY};
    const xmlNode *ppr = w_child(p, "pPr");
    const char *style_id = child_val(ppr, "pStyle");
    struct docx_style *s = find_style(d, style_id);
    if (s) {
        resolve_style(d, s, 0);
        info.kind = s->kind;
        info.level = s->level;
        info.meta = s->meta;
    } else if (style_id) {
        /* A style missing from styles.xml: its id often is its name. */
        const struct style_rule *r = match_rule(style_id, &info.level);
        if (r) {
            info.kind = r->kind;
            info.meta = r->meta;
        }
    }
    int outline = parse_int(child_val(ppr, "outlineLvl"), 0, 9, -1);
    if (outline >= 0 && outline < DOCX_LEVELS) {
        info.kind = PK_HEADING;
        info.level = outline + 1;
    } else if (outline == 9 && info.kind == PK_HEADING) {
        info.kind = PK_BODY;
    }
    const xmlNode *numpr = w_child(ppr, "numPr");
    if (numpr && info.kind != PK_HEADING && info.kind != PK_TITLE && info.kind != PK_CODE &&
        info.kind != PK_SKIP) {
        int num_id = parse_int(child_val(numpr, "numId"), 0, INT_MAX, 0);
        int ilvl = parse_int(child_val(numpr, "ilvl"), 0, DOCX_LEVELS - 1, 0);
        if (num_id > 0) {
            if (info.kind != PK_LIST)
                info.level = ilvl + 1;
            info.kind = PK_LIST;
            info.num = find_num(d, num_id);
            info.ilvl = ilvl;
        }
    }
    return info;
}

static bool in_field_instructions(const struct docx *d)
{
    if (d->n_fields > DOCX_FIELD_STACK)
        return true;
    for (int i = 0; i < d->n_fields; i++)
        if (d->fields[i] == FIELD_INSTR)
            return true;
    return false;
}

/* Follows w:fldChar begin / separate / end. */
static void field_char(struct docx *d, const xmlNode *fc)
{
    const char *t = w_attr(fc, "fldCharType");
    if (!t)
        return;
    if (strcmp(t, "begin") == 0) {
        if (d->n_fields < DOCX_FIELD_STACK)
            d->fields[d->n_fields] = FIELD_INSTR;
        if (d->n_fields < INT_MAX)
            d->n_fields++;
    } else if (strcmp(t, "separate") == 0) {
        if (d->n_fields > 0 && d->n_fields <= DOCX_FIELD_STACK)
            d->fields[d->n_fields - 1] = FIELD_RESULT;
    } else if (strcmp(t, "end") == 0) {
        if (d->n_fields > 0)
            d->n_fields--;
    }
}

/* Appends the text children of element n. */
static enum rp_err add_text_children(const xmlNode *n, struct rp_buf *out)
{
    enum rp_err e = RP_OK;
    for (const xmlNode *t = n->children; t && !e; t = t->next)
        if ((t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) && t->content)
            e = rp_buf_adds(out, (const char *)t->content);
    return e;
}

/* Appends the text of an Office Math subtree (every m:t). */
static enum rp_err math_text(struct docx *d, const xmlNode *n, int depth, struct rp_buf *out)
{
    if (depth > d->params->max_depth)
        return too_deep(d);
    enum rp_err e = RP_OK;
    for (const xmlNode *c = n->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_ns(c, M_NS) && strcmp((const char *)c->name, "t") == 0)
            e = add_text_children(c, out);
        else
            e = math_text(d, c, depth + 1, out);
    }
    return e;
}

/* Appends the text of one run (w:r). */
static enum rp_err run_text(struct docx *d, const xmlNode *r, struct rp_buf *out)
{
    if (on_off(w_child(w_child(r, "rPr"), "vanish")))
        return RP_OK; /* hidden text */
    enum rp_err e = RP_OK;
    for (const xmlNode *c = r->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !is_wns(c))
            continue;
        const char *name = (const char *)c->name;
        if (strcmp(name, "t") == 0) {
            if (!in_field_instructions(d))
                e = add_text_children(c, out);
        } else if (strcmp(name, "tab") == 0 || strcmp(name, "ptab") == 0) {
            e = rp_buf_addc(out, '\t');
        } else if (strcmp(name, "br") == 0 || strcmp(name, "cr") == 0) {
            e = rp_buf_addc(out, '\n');
        } else if (strcmp(name, "noBreakHyphen") == 0) {
            e = rp_buf_addc(out, '-');
        } else if (strcmp(name, "fldChar") == 0) {
            field_char(d, c);
        }
        /* w:delText, w:instrText, w:delInstrText, w:sym, w:softHyphen,
         * drawings and references carry no text we keep. */
    }
    return e;
}

/* Appends the text of a paragraph's content: runs, and the containers that
 * hold runs (hyperlinks, insertions, fields, content controls, ...). */
static enum rp_err inline_text(struct docx *d, const xmlNode *n, int depth, struct rp_buf *out)
{
    if (depth > d->params->max_depth)
        return too_deep(d);
    enum rp_err e = RP_OK;
    for (const xmlNode *c = n->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_ns(c, M_NS)) {
            if (strcmp((const char *)c->name, "oMath") == 0 ||
                strcmp((const char *)c->name, "oMathPara") == 0)
                e = math_text(d, c, depth + 1, out);
            continue;
        }
        if (!is_wns(c))
            continue; /* mc:AlternateContent and other markup: drawings, not text */
        const char *name = (const char *)c->name;
        if (strcmp(name, "r") == 0)
            e = run_text(d, c, out);
        else if (strcmp(name, "sdt") == 0)
            e = inline_text(d, w_child(c, "sdtContent") ? w_child(c, "sdtContent") : c, depth + 1,
                            out);
        else if (strcmp(name, "hyperlink") == 0 || strcmp(name, "ins") == 0 ||
                 strcmp(name, "moveTo") == 0 || strcmp(name, "smartTag") == 0 ||
                 strcmp(name, "customXml") == 0 || strcmp(name, "fldSimple") == 0 ||
                 strcmp(name, "dir") == 0 || strcmp(name, "bdo") == 0)
            e = inline_text(d, c, depth + 1, out);
        /* w:del, w:moveFrom, w:pPr, bookmarks, comments: skipped. */
    }
    return e;
}

/* Collects one paragraph's text into out (reset first). A field whose
 * instructions never reach a separator ends with its paragraph. */
static enum rp_err para_text(struct docx *d, const xmlNode *p, int depth, struct rp_buf *out)
{
    rp_buf_reset(out);
    enum rp_err e = inline_text(d, p, depth, out);
    for (int i = 0; i < d->n_fields && i < DOCX_FIELD_STACK; i++)
        d->fields[i] = FIELD_RESULT;
    if (d->n_fields > DOCX_FIELD_STACK)
        d->n_fields = DOCX_FIELD_STACK;
    return e;
}

/* Adds the pending list or code block, if any. */
static enum rp_err flush_group(struct docx *d)
{
    enum para_kind kind = d->group_kind;
    d->group_kind = PK_BODY;
    rp_buf_rtrim(&d->group);
    size_t start = 0;
    if (kind == PK_CODE) /* leading blank lines of a listing */
        while (start < d->group.len && d->group.data[start] == '\n')
            start++;
    enum rp_err e = RP_OK;
    if (d->group.len > start &&
        !rp_doc_add_block(d->doc, kind == PK_CODE ? RP_BLOCK_CODE : RP_BLOCK_LIST,
                          d->group.data + start, d->group.len - start, 0))
        e = nomem(d);
    rp_buf_reset(&d->group);
    return e;
}

/* Removes a typed bullet that 3GPP writes into the item text ("-\t",
 * "•\t", "1>\t" for procedure steps): the list level says it already. */
static void strip_marker(struct rp_buf *b)
{
    static const char *const bullets[] = {"-",
                                          "*",
                                          "\xE2\x80\xA2",
                                          "\xE2\x80\x93",
                                          "\xE2\x80\x94",
                                          "\xC2\xB7",
                                          "\xE2\x96\xAA",
                                          "\xEF\x82\xA7"};
    size_t k = 0;
    for (size_t i = 0; i < sizeof(bullets) / sizeof(bullets[0]) && !k; i++) {
        size_t n = strlen(bullets[i]);
        if (b->len > n && memcmp(b->data, bullets[i], n) == 0 &&
            (b->data[n] == ' ' || b->data[n] == '\t'))
            k = n;
    }
    if (!k && b->len > 1 && b->data[0] == 'o' && b->data[1] == '\t')
        k = 1;
    if (!k) {
        size_t i = 0;
        while (i < b->len && i < 3 && isdigit((unsigned char)b->data[i]))
            i++;
        if (i > 0 && i + 1 < b->len && b->data[i] == '>' &&
            (b->data[i + 1] == ' ' || b->data[i + 1] == '\t'))
            k = i + 1;
    }
    if (!k)
        return;
    while (k < b->len && (b->data[k] == ' ' || b->data[k] == '\t'))
        k++;
    memmove(b->data, b->data + k, b->len - k + 1);
    b->len -= k;
}

/* Appends a list item to the pending list block. */
static enum rp_err add_list_item(struct docx *d, const struct para_info *info, struct rp_buf *text)
{
    enum rp_err e = RP_OK;
    if (d->group_kind != PK_LIST) {
        e = flush_group(d);
        d->group_kind = PK_LIST;
    }
    int level = info->level < 1 ? 1 : (info->level > DOCX_LEVELS ? DOCX_LEVELS : info->level);
    for (int i = 1; i < level && !e; i++)
        e = rp_buf_adds(&d->group, "  ");
    struct docx_num *num = info->num;
    if (!e && num && num->fmt[info->ilvl] != NF_BULLET) {
        int l = info->ilvl;
        if (num->started[l] && num->counter[l] < INT_MAX)
            num->counter[l]++;
        else if (!num->started[l])
            num->counter[l] = num->start[l];
        num->started[l] = true;
        for (int k = l + 1; k < DOCX_LEVELS; k++)
            num->started[k] = false; /* deeper levels restart */
        e = add_number(&d->group, num->fmt[l], num->counter[l]);
        if (!e)
            e = rp_buf_adds(&d->group, ". ");
    } else if (!e) {
        if (num)
            for (int k = info->ilvl + 1; k < DOCX_LEVELS; k++)
                num->started[k] = false;
        e = rp_buf_adds(&d->group, "- ");
    }
    /* A line break inside an item continues it, indented. */
    for (size_t i = 0; i < text->len && !e; i++) {
        if (text->data[i] == '\n') {
            e = rp_buf_addc(&d->group, '\n');
            for (int k = 0; k < level && !e; k++)
                e = rp_buf_adds(&d->group, "  ");
        } else {
            e = rp_buf_addc(&d->group, text->data[i]);
        }
    }
    if (!e)
        e = rp_buf_addc(&d->group, '\n');
    return e ? nomem(d) : RP_OK;
}

static bool is_not_title(const char *s)
{
    for (size_t i = 0; i < sizeof(not_titles) / sizeof(not_titles[0]); i++)
        if (strcasecmp(s, not_titles[i]) == 0)
            return true;
    return false;
}

static enum rp_err body_para(struct docx *d, const xmlNode *p, int depth, struct rp_buf *text)
{
    struct para_info info = para_info(d, p);
    enum rp_err e = para_text(d, p, depth, text);
    if (e)
        return e == RP_ERR_NOMEM ? nomem(d) : e;
    switch (info.kind) {
    case PK_SKIP:
        return RP_OK;
    case PK_CODE:
        if (d->group_kind != PK_CODE) {
            e = flush_group(d);
            d->group_kind = PK_CODE;
        }
        if (!e && (rp_buf_add(&d->group, text->data, text->len) || rp_buf_addc(&d->group, '\n')))
            e = nomem(d);
        return e;
    case PK_HEADING:
        squeeze_spaces(text);
        if (!text->len)
            return RP_OK;
        /* 3GPP specifications title their annexes in "Heading 8" or
         * "Heading 9" (styled like level 1); their clauses A.1... are
         * level 1 again, so the annex is a top-level section too. */
        if (info.level >= 8 && strncmp(text->data, "Annex ", 6) == 0)
            info.level = 1;
        e = flush_group(d);
        if (!e && rp_doc_add_section(d->doc, text->data, text->len, info.level, 0) < 0)
            e = nomem(d);
        return e;
    case PK_TITLE:
        squeeze_spaces(text);
        if (text->len && !d->title) {
            d->title = rp_arena_strdup(&d->doc->arena, text->data);
            if (!d->title)
                return nomem(d);
        }
        return RP_OK;
    case PK_META:
        squeeze_spaces(text);
        if (text->len && !rp_doc_get_meta(d->doc, info.meta) &&
            rp_doc_set_meta(d->doc, info.meta, text->data))
            return nomem(d);
        return RP_OK;
    case PK_LIST:
        trim(text);
        strip_marker(text);
        if (!text->len)
            return RP_OK;
        return add_list_item(d, &info, text);
    case PK_BODY:
    case PK_TABLE_HEAD:
    case PK_TABLE_TEXT:
        break;
    }
    trim(text);
    if (!text->len)
        return RP_OK; /* empty paragraphs neither add nor interrupt anything */
    e = flush_group(d);
    if (!e && !rp_doc_add_block(d->doc, RP_BLOCK_PARAGRAPH, text->data, text->len, 0))
        e = nomem(d);
    return e;
}

/* ---- tables ---- */

static enum rp_err cell_text(struct docx *d, const xmlNode *tc, int depth, struct rp_buf *out,
                             bool *tah);

/* Appends a nested table as text: one line per row, cells joined by " | ". */
static enum rp_err nested_table_text(struct docx *d, const xmlNode *tbl, int depth,
                                     struct rp_buf *out)
{
    if (depth > d->params->max_depth)
        return too_deep(d);
    struct rp_buf cell;
    rp_buf_init(&cell, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (const xmlNode *tr = tbl->children; tr && !e; tr = tr->next) {
        if (!is_w(tr, "tr"))
            continue;
        bool first = true;
        for (const xmlNode *tc = tr->children; tc && !e; tc = tc->next) {
            if (!is_w(tc, "tc"))
                continue;
            bool tah;
            rp_buf_reset(&cell);
            e = cell_text(d, tc, depth + 1, &cell, &tah);
            for (size_t i = 0; i < cell.len; i++)
                if (cell.data[i] == '\n')
                    cell.data[i] = ' ';
            if (!e && ((first && out->len && rp_buf_addc(out, '\n')) ||
                       (!first && rp_buf_adds(out, " | ")) || rp_buf_add(out, cell.data, cell.len)))
                e = nomem(d);
            first = false;
        }
    }
    rp_buf_release(&cell);
    return e;
}

/* Appends the block content of a cell (or a content control in it) to out:
 * paragraphs joined by newlines, nested tables flattened. *tah is set when
 * every paragraph with text is in a table-header style. */
static enum rp_err cell_blocks(struct docx *d, const xmlNode *parent, int depth, struct rp_buf *out,
                               bool *tah, bool *any)
{
    if (depth > d->params->max_depth)
        return too_deep(d);
    struct rp_buf text;
    rp_buf_init(&text, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (const xmlNode *c = parent->children; c && !e; c = c->next) {
        if (is_w(c, "p")) {
            struct para_info info = para_info(d, c);
            e = para_text(d, c, depth + 1, &text);
            if (e)
                break;
            trim(&text);
            if (!text.len)
                continue;
            *any = true;
            if (info.kind != PK_TABLE_HEAD)
                *tah = false;
            if ((out->len && rp_buf_addc(out, '\n')) || rp_buf_add(out, text.data, text.len))
                e = nomem(d);
        } else if (is_w(c, "tbl")) {
            *tah = false;
            e = nested_table_text(d, c, depth + 1, out);
        } else if (is_w(c, "sdt")) {
            const xmlNode *content = w_child(c, "sdtContent");
            if (content)
                e = cell_blocks(d, content, depth + 1, out, tah, any);
        } else if (is_w(c, "customXml") || is_w(c, "ins") || is_w(c, "moveTo")) {
            e = cell_blocks(d, c, depth + 1, out, tah, any);
        }
    }
    rp_buf_release(&text);
    return e;
}

static enum rp_err cell_text(struct docx *d, const xmlNode *tc, int depth, struct rp_buf *out,
                             bool *tah)
{
    bool any = false;
    *tah = true;
    enum rp_err e = cell_blocks(d, tc, depth, out, tah, &any);
    if (!any)
        *tah = false;
    return e;
}

/* Cells of one row into the builder; sets *tah when the row's text is all
 * in table-header style. */
static enum rp_err table_row(struct docx *d, const xmlNode *tr, int depth,
                             struct rp_table_builder *tb, bool *tah)
{
    struct rp_buf cell;
    rp_buf_init(&cell, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    size_t n_cells = 0;
    bool any_text = false;
    *tah = true;
    for (const xmlNode *tc = tr->children; tc && !e; tc = tc->next) {
        if (!is_w(tc, "tc"))
            continue; /* row-level content controls are rare; skipped */
        const xmlNode *tcpr = w_child(tc, "tcPr");
        int span = parse_int(child_val(tcpr, "gridSpan"), 1, INT_MAX, 1);
        if (span > DOCX_MAX_GRID_SPAN)
            span = DOCX_MAX_GRID_SPAN;
        const xmlNode *vmerge = w_child(tcpr, "vMerge");
        const char *vm = w_attr(vmerge, "val");
        bool cont = vmerge && (!vm || strcmp(vm, "continue") == 0);
        bool cell_tah;
        rp_buf_reset(&cell);
        e = cell_text(d, tc, depth + 1, &cell, &cell_tah);
        if (e)
            break;
        if (cont)
            rp_buf_reset(&cell);
        if (cell.len) {
            any_text = true;
            if (!cell_tah)
                *tah = false;
        }
        for (int k = 0; k < span && !e; k++) {
            if (++n_cells > DOCX_MAX_ROW_CELLS)
                e = rp_error_set(d->err, RP_ERR_TOOBIG, "a table row has more than %d cells",
                                 DOCX_MAX_ROW_CELLS);
            else if (rp_table_builder_cell(tb, cell.data, cell.len))
                e = nomem(d);
        }
    }
    if (!any_text) {
        /* A row of empty cells (spacing, or all merged from above) says
         * nothing: drop the cells it added. */
        *tah = false;
        for (; n_cells > 0 && tb->cur_row_len > 0; n_cells--) {
            free(tb->cells[--tb->n_cells]);
            tb->cur_row_len--;
        }
    }
    rp_buf_release(&cell);
    return e;
}

/* ---- document properties ---- */

/* docProps/core.xml: Dublin Core elements, matched by local name. */
static enum rp_err load_core(struct docx *d, xmlDoc *x)
{
    static const struct {
        const char *element;
        const char *key;
    } props[] = {
        {"title", "title"},     {"creator", "author"},    {"keywords", "keywords"},
        {"subject", "subject"}, {"revision", "revision"}, {"description", "description"},
    };
    struct rp_buf v;
    rp_buf_init(&v, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (xmlNode *c = xmlDocGetRootElement(x)->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]) && !e; i++) {
            if (strcmp((const char *)c->name, props[i].element) != 0)
                continue;
            rp_buf_reset(&v);
            if (add_text_children(c, &v))
                e = nomem(d);
            squeeze_spaces(&v);
            if (!e && v.len && rp_doc_set_meta(d->doc, props[i].key, v.data))
                e = nomem(d);
        }
    }
    rp_buf_release(&v);
    return e;
}

/* docProps/custom.xml: <property name="..."><vt:lpwstr>value</vt:lpwstr>.
 * Core properties win over custom ones of the same name. */
static enum rp_err load_custom(struct docx *d, xmlDoc *x)
{
    struct rp_buf v;
    rp_buf_init(&v, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (xmlNode *c = xmlDocGetRootElement(x)->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "property") != 0)
            continue;
        const char *name = w_attr(c, "name");
        if (!name || !*name || rp_doc_get_meta(d->doc, name))
            continue;
        rp_buf_reset(&v);
        for (xmlNode *val = c->children; val && !e; val = val->next)
            if (val->type == XML_ELEMENT_NODE && add_text_children(val, &v))
                e = nomem(d);
        squeeze_spaces(&v);
        if (!e && v.len && rp_doc_set_meta(d->doc, name, v.data))
            e = nomem(d);
    }
    rp_buf_release(&v);
    return e;
}

/* ---- the small parts ---- */

#define DOCX_SMALL_PART_MAX ((size_t)16 << 20)

/* Reads the optional parts: word/styles.xml into *styles (kept: style
 * records borrow its strings), numbering and document properties loaded
 * into d and freed at once. Returns the first failure. */
static enum rp_err load_small_parts(struct docx *d, zip_t *za, size_t archive_len, xmlDoc **styles)
{
    static const struct {
        const char *name;
        enum rp_err (*load)(struct docx *d, xmlDoc *x);
    } loaded[] = {
        {"word/numbering.xml", load_numbering},
        {"docProps/core.xml", load_core},
        {"docProps/custom.xml", load_custom},
    };
    /* These parts become whole trees (about 15x their size): real ones are
     * well under a megabyte, so anything past DOCX_SMALL_PART_MAX is refused. */
    struct rp_buf part;
    rp_buf_init(&part, d->params->max_file_bytes < DOCX_SMALL_PART_MAX ? d->params->max_file_bytes
                                                                        : DOCX_SMALL_PART_MAX);
    enum rp_err e = load_part(d, za, archive_len, "word/styles.xml", &part, styles);
    if (!e && *styles)
        e = load_styles(d, *styles);
    for (size_t i = 0; i < sizeof(loaded) / sizeof(loaded[0]) && !e; i++) {
        xmlDoc *x = NULL;
        e = load_part(d, za, archive_len, loaded[i].name, &part, &x);
        if (!e && x)
            e = loaded[i].load(d, x);
        xmlFreeDoc(x);
    }
    rp_buf_release(&part);
    return e;
}

/* ---- the body, streamed ---- */

/* What an open element is to the walk of the body. */
enum frame_kind {
    FR_DOCUMENT, /* w:document: its first w:body holds the blocks */
    FR_BLOCKS,   /* block content: w:body, w:sdtContent, w:customXml, w:ins, w:moveTo */
    FR_SDT,      /* a block-level content control: its first w:sdtContent holds blocks */
    FR_TABLE,    /* a block-level table: its rows are read one at a time */
};

struct frame {
    const xmlNode *node; /* the element: the reader keeps it while it is open */
    enum frame_kind kind;
    int depth; /* nesting depth as params->max_depth counts it */
    bool seen; /* FR_DOCUMENT: a w:body came; FR_SDT: a w:sdtContent came */
};

/* One pass over word/document.xml. */
struct body_stream {
    struct docx *d;
    xmlTextReader *reader;
    struct part_input in; /* the member, inflated as the reader asks */
    bool read_failed;     /* in failed, read_err says why */
    struct rp_error read_err;
    char xml_msg[200]; /* the error that stopped libxml2 ("" for none) */
    int xml_line;
    bool xml_fatal;       /* libxml2 stopped on an error */
    bool doctype;         /* the reader met a DOCTYPE and stopped */
    size_t unit;          /* bytes in a code unit: 2 in UTF-16, 4 in UCS-4, else 1 */
    bool cut;             /* a NUL character ended the XML (see stream_read) */
    bool has_body;        /* the root is w:document and has a w:body */
    bool walking;         /* false once the walk stopped: the rest is only checked */
    enum rp_err walk_err; /* why it stopped (details in d->err) */
    struct frame *frames; /* the open containers, innermost last */
    size_t n_frames, cap_frames;
    struct rp_table_builder tb; /* the block-level table being read */
    size_t marked, tah_rows;    /* its leading w:tblHeader rows and TAH rows */
    bool marked_open, tah_open;
    struct rp_buf text; /* paragraph text */
};

static void stream_init(struct body_stream *s, struct docx *d)
{
    memset(s, 0, sizeof(*s));
    s->d = d;
    s->in.name = "word/document.xml";
    s->unit = 1;
    rp_table_builder_init(&s->tb);
    rp_buf_init(&s->text, RP_BUF_NO_CAP);
}

static void stream_release(struct body_stream *s)
{
    if (s->reader)
        xmlFreeTextReader(s->reader);
    s->reader = NULL;
    part_close(&s->in);
    free(s->frames);
    s->frames = NULL;
    rp_table_builder_release(&s->tb);
    rp_buf_release(&s->text);
}

/* The size of a code unit of XML that starts with data[0..n): 2 for
 * UTF-16, 4 for UCS-4, else 1 (as libxml2 tells them apart). */
static size_t code_unit(const char *data, size_t n)
{
    if (n < 4)
        return 1;
    switch (xmlDetectCharEncoding((const unsigned char *)data, 4)) {
    case XML_CHAR_ENCODING_UTF16LE:
    case XML_CHAR_ENCODING_UTF16BE:
        return 2;
    case XML_CHAR_ENCODING_UCS4LE:
    case XML_CHAR_ENCODING_UCS4BE:
    case XML_CHAR_ENCODING_UCS4_2143:
    case XML_CHAR_ENCODING_UCS4_3412:
        return 4;
    default:
        return 1;
    }
}

/* The reader's input: the member, inflated under its limits. A failure is
 * kept in s->read_err and every later call fails too.
 *
 * The XML ends at its first NUL character, as it did when the member was
 * parsed whole from memory: libxml2 takes a NUL character for the end of
 * a buffer, so one after the root element (padding) ends the document and
 * one anywhere else is an error. The bytes behind it are still inflated
 * and checked by stream_drain(). In UTF-16 and UCS-4 a NUL character is a
 * whole code unit of zero bytes, so reads end on code unit boundaries. */
static int stream_read(void *ctx, char *buf, int len)
{
    struct body_stream *s = ctx;
    if (s->read_failed)
        return -1;
    if (len <= 0 || s->cut || s->in.eof)
        return 0;
    size_t size = (size_t)len, start = s->in.total;
    if ((start + size) % s->unit < size)
        size -= (start + size) % s->unit;
    size_t n;
    if (part_read(&s->in, s->d->params, buf, size, &n, &s->read_err)) {
        s->read_failed = true;
        return -1;
    }
    if (start == 0)
        s->unit = code_unit(buf, n);
    if (s->unit == 1) {
        const char *nul = memchr(buf, '\0', n);
        if (nul) {
            s->cut = true;
            return (int)(nul - buf);
        }
        return (int)n;
    }
    for (size_t i = (s->unit - start % s->unit) % s->unit; i + s->unit <= n; i += s->unit) {
        size_t k = 0;
        while (k < s->unit && buf[i + k] == '\0')
            k++;
        if (k == s->unit) {
            s->cut = true;
            return (int)i;
        }
    }
    return (int)n;
}

/* Inflates the rest of the member, unparsed, to meet a read error or a
 * limit that lies behind the point where parsing stopped. */
static void stream_drain(struct body_stream *s)
{
    char chunk[DOCX_READ_CHUNK];
    size_t n;
    while (!s->read_failed && !s->in.eof)
        if (part_read(&s->in, s->d->params, chunk, sizeof(chunk), &n, &s->read_err))
            s->read_failed = true;
}

/* Keeps the error that stopped libxml2: a fatal one, or the non-fatal
 * "memory" error of a huge text node. Warnings and namespace errors, which
 * do not stop it, are left out. */
static void stream_xml_error(void *arg, xmlErrorPtr xe)
{
    struct body_stream *s = arg;
    if (!xe || (xe->level != XML_ERR_FATAL && xe->code != XML_ERR_NO_MEMORY))
        return;
    snprintf(s->xml_msg, sizeof(s->xml_msg), "%s", xe->message ? xe->message : "parse error");
    s->xml_line = xe->line;
    s->xml_fatal = true;
}

/* Stops the walk: the rest of the body is parsed but not built. */
static void stream_stop(struct body_stream *s, enum rp_err e)
{
    s->walk_err = e;
    s->walking = false;
}

static enum rp_err table_start(struct body_stream *s)
{
    rp_table_builder_release(&s->tb);
    s->marked = s->tah_rows = 0;
    s->marked_open = s->tah_open = true;
    return flush_group(s->d);
}

/* Adds the table read so far. Header rows: the leading rows marked
 * w:tblHeader (repeated on each page), else the leading rows in 3GPP's TAH
 * style, else the first. */
static enum rp_err table_end(struct body_stream *s)
{
    enum rp_err e = RP_OK;
    if (s->tb.n_rows) {
        s->tb.n_header = s->marked ? s->marked : (s->tah_rows ? s->tah_rows : 1);
        if (!rp_doc_add_table(s->d->doc, &s->tb, 0))
            e = nomem(s->d);
    }
    rp_table_builder_release(&s->tb);
    return e;
}

/* Closes the innermost container. */
static void leave(struct body_stream *s)
{
    struct frame *f = &s->frames[--s->n_frames];
    if (f->kind == FR_TABLE) {
        enum rp_err e = table_end(s);
        if (e)
            stream_stop(s, e);
    }
}

/* Opens a container for element n, which the reader is on, and moves on.
 * Returns what the reader's move returned. */
static int enter(struct body_stream *s, const xmlNode *n, enum frame_kind kind, int depth)
{
    struct docx *d = s->d;
    enum rp_err e = RP_OK;
    if ((kind == FR_BLOCKS || kind == FR_TABLE) && depth > d->params->max_depth)
        e = too_deep(d);
    else if (kind == FR_TABLE)
        e = table_start(s);
    if (!e && s->n_frames == s->cap_frames) {
        size_t cap = s->cap_frames ? 2 * s->cap_frames : 16;
        struct frame *f = realloc(s->frames, cap * sizeof(*f));
        if (f) {
            s->frames = f;
            s->cap_frames = cap;
        } else {
            e = nomem(d);
        }
    }
    if (e) {
        stream_stop(s, e);
    } else {
        s->frames[s->n_frames++] = (struct frame){.node = n, .kind = kind, .depth = depth};
        if (xmlTextReaderIsEmptyElement(s->reader) == 1)
            leave(s); /* no end tag follows */
    }
    return xmlTextReaderRead(s->reader);
}

/* A block-level paragraph: expanded, handled as a tree, skipped past. */
static int block_para(struct body_stream *s, int depth)
{
    const xmlNode *p = xmlTextReaderExpand(s->reader);
    if (!p)
        return -1; /* the reader failed */
    enum rp_err e = body_para(s->d, p, depth, &s->text);
    if (e)
        stream_stop(s, e);
    return xmlTextReaderNext(s->reader);
}

/* A row of a block-level table, the same way. */
static int table_row_node(struct body_stream *s, int depth)
{
    const xmlNode *tr = xmlTextReaderExpand(s->reader);
    if (!tr)
        return -1;
    bool header = on_off(w_child(w_child(tr, "trPr"), "tblHeader"));
    bool tah;
    size_t before = s->tb.n_rows;
    enum rp_err e = table_row(s->d, tr, depth, &s->tb, &tah);
    if (!e && rp_table_builder_end_row(&s->tb))
        e = nomem(s->d);
    if (e) {
        stream_stop(s, e);
    } else if (s->tb.n_rows != before) { /* an empty row is dropped and does not count */
        s->marked_open = s->marked_open && header;
        s->tah_open = s->tah_open && tah;
        s->marked += s->marked_open;
        s->tah_rows += s->tah_open;
    }
    return xmlTextReaderNext(s->reader);
}

/* Handles the node the reader is on and moves on; returns what the
 * reader's move returned. Anything the walk does not look into is skipped
 * whole (its subtree is parsed, and freed as the reader passes it). */
static int stream_node(struct body_stream *s)
{
    xmlTextReader *r = s->reader;
    int type = xmlTextReaderNodeType(r);
    const xmlNode *n = xmlTextReaderCurrentNode(r);
    if (type == XML_READER_TYPE_END_ELEMENT) {
        if (s->n_frames && s->frames[s->n_frames - 1].node == n)
            leave(s);
        return xmlTextReaderRead(r);
    }
    if (type != XML_READER_TYPE_ELEMENT || !n)
        return xmlTextReaderRead(r); /* white space, comments between blocks */
    if (!s->n_frames) {
        /* The root: anything but w:document has no body. */
        return is_w(n, "document") ? enter(s, n, FR_DOCUMENT, 0) : xmlTextReaderNext(r);
    }
    struct frame *top = &s->frames[s->n_frames - 1];
    switch (top->kind) {
    case FR_DOCUMENT:
        if (!top->seen && is_w(n, "body")) {
            top->seen = s->has_body = true;
            return enter(s, n, FR_BLOCKS, 0);
        }
        break;
    case FR_BLOCKS:
        if (is_w(n, "p"))
            return block_para(s, top->depth + 1);
        if (is_w(n, "tbl"))
            return enter(s, n, FR_TABLE, top->depth + 1);
        if (is_w(n, "sdt"))
            return enter(s, n, FR_SDT, top->depth);
        if (is_w(n, "customXml") || is_w(n, "ins") || is_w(n, "moveTo"))
            return enter(s, n, FR_BLOCKS, top->depth + 1);
        break;
    case FR_SDT:
        if (!top->seen && is_w(n, "sdtContent")) {
            top->seen = true;
            return enter(s, n, FR_BLOCKS, top->depth + 1);
        }
        break;
    case FR_TABLE:
        if (is_w(n, "tr"))
            return table_row_node(s, top->depth + 1);
        break; /* table properties, grid, row-level controls: skipped */
    }
    return xmlTextReaderNext(r);
}

/* Parses word/document.xml (s->in, already open) to its end, building the
 * body into s->d while walk is true. Returns the first failure of the
 * member itself (read error, well-formedness, DOCTYPE), described in err;
 * the walk's own failure is left in s->walk_err. */
static enum rp_err stream_body(struct body_stream *s, bool walk, struct rp_error *err)
{
    s->walking = walk;
    int ret = -1;
    /* No XML_PARSE_NOBLANKS here: the reader feeds libxml2 in pieces, and
     * its guess whether white space is ignorable looks at the next bytes,
     * which may not have come yet. White space outside w:t and m:t is
     * never read anyway. */
    s->reader = xmlReaderForIO(stream_read, NULL, s, s->in.name, NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    bool made = s->reader != NULL;
    if (made) {
        xmlTextReaderSetStructuredErrorHandler(s->reader, stream_xml_error, s);
        ret = xmlTextReaderRead(s->reader);
        while (ret == 1) {
            if (xmlTextReaderNodeType(s->reader) == XML_READER_TYPE_DOCUMENT_TYPE) {
                s->doctype = true; /* refused before any entity is declared or used */
                break;
            }
            ret = s->walking ? stream_node(s) : xmlTextReaderRead(s->reader);
        }
        xmlFreeTextReader(s->reader);
        s->reader = NULL;
    }
    stream_drain(s);
    if (s->read_failed) {
        *err = s->read_err;
        return err->code;
    }
    if (!made)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (ret < 0 || s->xml_fatal)
        return not_well_formed(err, s->in.name, s->xml_msg[0] ? s->xml_msg : NULL, s->xml_line);
    if (s->doctype)
        return has_doctype(err, s->in.name);
    return RP_OK;
}

/* ---- entry point ---- */

enum rp_err rp__parse_docx(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err)
{
    /* Errors are kept apart until the end decides which one is reported:
     * the body's own, an optional part's, or the walk's. */
    struct rp_error first, parts_err, walk_err;
    rp_error_clear(&first);
    rp_error_clear(&parts_err);
    rp_error_clear(&walk_err);
    struct docx d = {.doc = doc, .params = params, .err = &first, .group_kind = PK_BODY};
    rp_buf_init(&d.group, RP_BUF_NO_CAP);
    struct body_stream s;
    stream_init(&s, &d);
    xmlDoc *styles = NULL;
    zip_t *za = NULL;
    enum rp_err e = RP_OK;
    rp_error_clear(err);
    xmlInitParser();

    if (len == 0) { /* libzip would open it as an empty archive */
        e = rp_error_set(&first, RP_ERR_PARSE, "not a valid DOCX (ZIP) file: the file is empty");
        goto out;
    }
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (src)
        za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!za) {
        char msg[200];
        zip_msg(msg, sizeof(msg), zip_error_strerror(&ze));
        e = rp_error_set(&first, RP_ERR_PARSE, "not a valid DOCX (ZIP) file: %s", msg);
        if (src)
            zip_source_free(src);
        zip_error_fini(&ze);
        goto out;
    }
    zip_error_fini(&ze);

    /* The body's member is opened first: what is wrong with it is reported
     * before anything wrong with the optional parts. */
    bool found;
    e = part_open(&d, za, len, s.in.name, &s.in, &found);
    if (!e && !found)
        e = rp_error_set(&first, RP_ERR_PARSE, "no %s: not a Word document", s.in.name);
    if (e)
        goto out;
    enum rp_err parts_e = load_small_parts(&d, za, len, &styles);
    if (parts_e) {
        parts_err = first;
        rp_error_clear(&first);
    }
    /* After a failed optional part the body is only checked, not built. */
    d.err = &walk_err;
    e = stream_body(&s, parts_e == RP_OK, &first);
    d.err = &first;
    if (!e && parts_e) {
        e = parts_e;
        first = parts_err;
    }
    if (!e && !s.has_body)
        e = rp_error_set(&first, RP_ERR_PARSE, "%s has no w:document/w:body", s.in.name);
    if (!e && s.walk_err) {
        e = s.walk_err;
        first = walk_err;
    }
    if (!e)
        e = flush_group(&d);
    if (e)
        goto out;

    /* Title: the document properties, the Title paragraph, the first
     * level-1 heading (unless boilerplate), else the file name. */
    const char *title = rp_doc_get_meta(doc, "title");
    if (!title)
        title = d.title;
    for (size_t i = 1; !title && i < doc->n_sections; i++)
        if (doc->sections[i].level == 1 && !is_not_title(doc->sections[i].title))
            title = doc->sections[i].title;
    if (title)
        doc->title = title;
out:
    if (e && first.code == RP_OK)
        rp_error_set(&first, e, "%s", rp_strerror(e));
    if (e && err)
        *err = first;
    stream_release(&s); /* closes the member before the archive goes */
    xmlFreeDoc(styles);
    if (za)
        zip_discard(za);
    free(d.styles);
    free(d.nums);
    rp_buf_release(&d.group);
    return e;
}
