/*
 * markdown.c - Markdown (CommonMark + GFM tables) with YAML front-matter.
 *
 * The front-matter, when the file starts with a "---" line, is cut off and
 * parsed with libyaml into document metadata. The rest goes to cmark-gfm
 * with the table extension; the AST is walked once: headings open
 * sections, paragraphs / lists / code / tables become blocks. Lists are
 * flattened to "- item" lines indented by depth; recursion is bounded by
 * params->max_depth.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include "ingest_int.h"
#include "ranpipe/log.h"

struct md_walk {
    struct rp_doc *doc;
    const struct rp_ingest_params *params;
    size_t line_offset; /* lines taken by the front-matter */
    struct rp_error *err;
    struct rp_buf text;
};

static size_t node_line(struct md_walk *w, cmark_node *n)
{
    int l = cmark_node_get_start_line(n);
    return l > 0 ? (size_t)l + w->line_offset : 0;
}

/* Appends the plain text of an inline subtree. */
static enum rp_err inline_text(struct md_walk *w, cmark_node *n, int depth, struct rp_buf *out)
{
    if (depth > w->params->max_depth)
        return rp_error_set(w->err, RP_ERR_TOOBIG, "inline nesting deeper than %d",
                            w->params->max_depth);
    enum rp_err e = RP_OK;
    for (cmark_node *c = cmark_node_first_child(n); c && !e; c = cmark_node_next(c)) {
        switch (cmark_node_get_type(c)) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE: {
            const char *lit = cmark_node_get_literal(c);
            if (lit)
                e = rp_buf_adds(out, lit);
            break;
        }
        case CMARK_NODE_SOFTBREAK:
            e = rp_buf_addc(out, ' ');
            break;
        case CMARK_NODE_LINEBREAK:
            e = rp_buf_addc(out, '\n');
            break;
        case CMARK_NODE_HTML_INLINE:
            break;
        default:
            e = inline_text(w, c, depth + 1, out);
            break;
        }
    }
    return e;
}

static enum rp_err add_text_block(struct md_walk *w, enum rp_block_type type, cmark_node *n)
{
    rp_buf_rtrim(&w->text);
    if (w->text.len == 0)
        return RP_OK;
    if (!rp_doc_add_block(w->doc, type, w->text.data, w->text.len, node_line(w, n)))
        return rp_error_set(w->err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

static enum rp_err list_text(struct md_walk *w, cmark_node *list, int depth);

static bool is_table(cmark_node *n)
{
    const char *ts = cmark_node_get_type_string(n);
    return ts && strcmp(ts, "table") == 0;
}

/* Appends the text of one block inside a list item: each line indented,
 * the first prefixed with marker (then reset to the continuation indent). */
static enum rp_err item_block(struct md_walk *w, cmark_node *c, int depth, const char **marker)
{
    if (depth > w->params->max_depth)
        return rp_error_set(w->err, RP_ERR_TOOBIG, "list nesting deeper than %d",
                            w->params->max_depth);
    enum rp_err e = RP_OK;
    cmark_node_type t = cmark_node_get_type(c);
    if (t == CMARK_NODE_LIST)
        return list_text(w, c, depth + 1);
    if (t == CMARK_NODE_BLOCK_QUOTE) {
        for (cmark_node *q = cmark_node_first_child(c); q && !e; q = cmark_node_next(q))
            e = item_block(w, q, depth + 1, marker);
        return e;
    }
    if (is_table(c)) {
        /* One line per row, cells joined like a rendered table. */
        struct rp_buf cell;
        rp_buf_init(&cell, RP_BUF_NO_CAP);
        for (cmark_node *row = cmark_node_first_child(c); row && !e; row = cmark_node_next(row)) {
            for (int i = 0; i < depth && !e; i++)
                e = rp_buf_adds(&w->text, "  ");
            if (!e)
                e = rp_buf_adds(&w->text, *marker);
            *marker = "  ";
            int first = 1;
            for (cmark_node *k = cmark_node_first_child(row); k && !e; k = cmark_node_next(k)) {
                rp_buf_reset(&cell);
                e = inline_text(w, k, 0, &cell);
                if (!e && !first)
                    e = rp_buf_adds(&w->text, " | ");
                if (!e)
                    e = rp_buf_add(&w->text, cell.data, cell.len);
                first = 0;
            }
            if (!e)
                e = rp_buf_addc(&w->text, '\n');
        }
        rp_buf_release(&cell);
        return e;
    }
    for (int i = 0; i < depth && !e; i++)
        e = rp_buf_adds(&w->text, "  ");
    if (!e)
        e = rp_buf_adds(&w->text, *marker);
    *marker = "  ";
    if (!e) {
        if (t == CMARK_NODE_CODE_BLOCK) {
            const char *lit = cmark_node_get_literal(c);
            e = rp_buf_adds(&w->text, lit ? lit : "");
            rp_buf_rtrim(&w->text);
        } else {
            e = inline_text(w, c, 0, &w->text);
        }
    }
    if (!e)
        e = rp_buf_addc(&w->text, '\n');
    return e;
}

/* Appends list items of list node n to w->text as indented "- " lines. */
static enum rp_err list_text(struct md_walk *w, cmark_node *list, int depth)
{
    if (depth > w->params->max_depth)
        return rp_error_set(w->err, RP_ERR_TOOBIG, "list nesting deeper than %d",
                            w->params->max_depth);
    enum rp_err e = RP_OK;
    int ordered = cmark_node_get_list_type(list) == CMARK_ORDERED_LIST;
    int number = cmark_node_get_list_start(list);
    char numbered[32];
    for (cmark_node *item = cmark_node_first_child(list); item && !e; item = cmark_node_next(item)) {
        snprintf(numbered, sizeof(numbered), "%d. ", number);
        const char *marker = ordered ? numbered : "- ";
        for (cmark_node *c = cmark_node_first_child(item); c && !e; c = cmark_node_next(c))
            e = item_block(w, c, depth, &marker);
        number++;
    }
    return e;
}

static enum rp_err table_block(struct md_walk *w, cmark_node *table)
{
    struct rp_table_builder tb;
    rp_table_builder_init(&tb);
    struct rp_buf cell;
    rp_buf_init(&cell, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (cmark_node *row = cmark_node_first_child(table); row && !e; row = cmark_node_next(row)) {
        if (cmark_gfm_extensions_get_table_row_is_header(row))
            tb.n_header = tb.n_rows + 1;
        for (cmark_node *c = cmark_node_first_child(row); c && !e; c = cmark_node_next(c)) {
            rp_buf_reset(&cell);
            e = inline_text(w, c, 0, &cell);
            if (!e)
                e = rp_table_builder_cell(&tb, cell.data, cell.len);
        }
        if (!e)
            e = rp_table_builder_end_row(&tb);
    }
    if (!e && tb.n_rows && !rp_doc_add_table(w->doc, &tb, node_line(w, table)))
        e = rp_error_set(w->err, RP_ERR_NOMEM, "out of memory");
    if (e && w->err && w->err->code == RP_OK)
        rp_error_set(w->err, e, "%s", rp_strerror(e));
    rp_table_builder_release(&tb);
    rp_buf_release(&cell);
    return e;
}

static enum rp_err walk_blocks(struct md_walk *w, cmark_node *parent, int depth)
{
    if (depth > w->params->max_depth)
        return rp_error_set(w->err, RP_ERR_TOOBIG, "block nesting deeper than %d",
                            w->params->max_depth);
    enum rp_err e = RP_OK;
    for (cmark_node *n = cmark_node_first_child(parent); n && !e; n = cmark_node_next(n)) {
        rp_buf_reset(&w->text);
        cmark_node_type t = cmark_node_get_type(n);
        switch (t) {
        case CMARK_NODE_HEADING: {
            e = inline_text(w, n, 0, &w->text);
            if (e)
                break;
            rp_buf_rtrim(&w->text);
            int level = cmark_node_get_heading_level(n);
            if (rp_doc_add_section(w->doc, w->text.data, w->text.len, level, node_line(w, n)) < 0)
                e = rp_error_set(w->err, RP_ERR_NOMEM, "out of memory");
            break;
        }
        case CMARK_NODE_PARAGRAPH:
            e = inline_text(w, n, 0, &w->text);
            if (!e)
                e = add_text_block(w, RP_BLOCK_PARAGRAPH, n);
            break;
        case CMARK_NODE_LIST:
            e = list_text(w, n, 0);
            if (!e)
                e = add_text_block(w, RP_BLOCK_LIST, n);
            break;
        case CMARK_NODE_CODE_BLOCK: {
            const char *lit = cmark_node_get_literal(n);
            e = rp_buf_adds(&w->text, lit ? lit : "");
            if (!e)
                e = add_text_block(w, RP_BLOCK_CODE, n);
            break;
        }
        case CMARK_NODE_BLOCK_QUOTE:
            e = walk_blocks(w, n, depth + 1);
            break;
        default:
            if (is_table(n))
                e = table_block(w, n);
            /* Thematic breaks and raw HTML blocks carry no text we keep. */
            break;
        }
        if (e && w->err && w->err->code == RP_OK)
            rp_error_set(w->err, e, "%s", rp_strerror(e));
    }
    return e;
}

/* Finds a front-matter block: "---" on the first line, closed by a "---" or
 * "..." line. Sets the YAML span and where the Markdown starts. */
static int find_front_matter(const char *data, size_t len, size_t *yaml_start, size_t *yaml_len,
                             size_t *body_start, size_t *lines)
{
    size_t first_eol;
    if (len >= 4 && memcmp(data, "---\n", 4) == 0)
        first_eol = 4;
    else if (len >= 5 && memcmp(data, "---\r\n", 5) == 0)
        first_eol = 5;
    else
        return 0;
    size_t n_lines = 1;
    size_t pos = first_eol, line_start = first_eol;
    const char *line;
    size_t l;
    while (rp_next_line(data, len, &pos, &line, &l)) {
        n_lines++;
        if (l == 3 && (memcmp(line, "---", 3) == 0 || memcmp(line, "...", 3) == 0)) {
            *yaml_start = first_eol;
            *yaml_len = line_start - first_eol;
            *body_start = pos;
            *lines = n_lines;
            return 1;
        }
        line_start = pos;
    }
    return 0;
}

/* Where the next piece of Markdown may end: the start of the first ATX
 * heading line ("# ..." with at most 3 spaces before it, outside fenced
 * code) at or after min_len bytes; len when there is none. A document is
 * parsed piece by piece so that cmark's syntax tree - about 14 times the
 * size of the text it holds - only ever holds one piece. A heading closes
 * every open block, so cutting before one changes nothing but link
 * reference definitions, which do not cross pieces (technical exports
 * hardly use them). */
static size_t next_cut(const char *data, size_t len, size_t min_len)
{
    size_t pos = 0;
    const char *line;
    size_t n;
    char fence = 0;
    size_t fence_len = 0;
    while (pos < len) {
        size_t start = pos;
        if (!rp_next_line(data, len, &pos, &line, &n))
            break;
        size_t i = 0;
        while (i < n && i < 4 && line[i] == ' ')
            i++;
        if (i >= 4)
            continue; /* indented code, or a continuation */
        size_t run = 0;
        while (i + run < n && (line[i + run] == '`' || line[i + run] == '~') &&
               line[i + run] == line[i])
            run++;
        if (run >= 3) {
            if (!fence) {
                fence = line[i];
                fence_len = run;
            } else if (line[i] == fence && run >= fence_len) {
                fence = 0;
            }
            continue;
        }
        if (!fence && start >= min_len && i < n && line[i] == '#')
            return start;
    }
    return len;
}

#define MD_PIECE_MIN (256u << 10)

static size_t count_lines(const char *s, size_t n)
{
    size_t lines = 0;
    for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))) != NULL; p++)
        lines++;
    return lines;
}

enum rp_err rp__parse_markdown(struct rp_doc *doc, const char *data, size_t len,
                               const struct rp_ingest_params *params, struct rp_error *err)
{
    struct md_walk w = {.doc = doc, .params = params, .err = err};
    rp_buf_init(&w.text, RP_BUF_NO_CAP);
    rp_error_clear(err);
    enum rp_err e = RP_OK;
    cmark_parser *parser = NULL;
    cmark_node *root = NULL;

    size_t ys, yl, body, lines;
    if (find_front_matter(data, len, &ys, &yl, &body, &lines)) {
        e = rp__parse_front_matter(doc, data + ys, yl, params, err);
        if (e)
            goto out;
        data += body;
        len -= body;
        w.line_offset = lines;
    }

    cmark_gfm_core_extensions_ensure_registered();
    cmark_syntax_extension *table = cmark_find_syntax_extension("table");
    while (len > 0) {
        size_t piece = next_cut(data, len, MD_PIECE_MIN);
        parser = cmark_parser_new(CMARK_OPT_DEFAULT);
        if (!parser) {
            e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (table)
            cmark_parser_attach_syntax_extension(parser, table);
        cmark_parser_feed(parser, data, piece);
        root = cmark_parser_finish(parser);
        if (!root) {
            e = rp_error_set(err, RP_ERR_PARSE, "markdown parser failed");
            goto out;
        }
        e = walk_blocks(&w, root, 0);
        if (e)
            goto out;
        cmark_node_free(root);
        cmark_parser_free(parser);
        root = NULL;
        parser = NULL;
        w.line_offset += count_lines(data, piece);
        data += piece;
        len -= piece;
    }

    const char *title = rp_doc_get_meta(doc, "title");
    if (!title) {
        for (size_t i = 1; i < doc->n_sections; i++) {
            if (doc->sections[i].level == 1) {
                title = doc->sections[i].title;
                break;
            }
        }
    }
    if (title)
        doc->title = title;
out:
    if (root)
        cmark_node_free(root);
    if (parser)
        cmark_parser_free(parser);
    rp_buf_release(&w.text);
    return e;
}
