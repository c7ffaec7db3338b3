/*
 * doc.c - the document model (see include/ranpipe/doc.h).
 */
#include "ranpipe/doc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/hash.h"

/* An open-addressing set of strings in the document's arena. */
struct rp__strset {
    const char **slot;
    size_t cap, n;
};


struct rp_doc *rp_doc_new(const char *path, enum rp_doc_format format)
{
    struct rp_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    rp_arena_init(&doc->arena);
    doc->format = format;
    doc->path = rp_arena_strdup(&doc->arena, path ? path : "");
    const char *base = path ? strrchr(path, '/') : NULL;
    doc->title = doc->path ? rp_arena_strdup(&doc->arena, base ? base + 1 : (path ? path : "")) : NULL;
    if (!doc->path || !doc->title || rp_doc_add_section(doc, "", 0, 0, 0) != 0) {
        rp_doc_free(doc);
        return NULL;
    }
    return doc;
}

void rp_doc_free(struct rp_doc *doc)
{
    if (!doc)
        return;
    free(doc->meta);
    free(doc->sections);
    free(doc->blocks);
    free(doc->params);
    free(doc->entities);
    if (doc->expansions)
        free(doc->expansions->slot);
    free(doc->expansions);
    rp_arena_release(&doc->arena);
    free(doc);
}

int rp_doc_add_section(struct rp_doc *doc, const char *title, size_t title_len, int level,
                       size_t line)
{
    if (!rp_vec_reserve((void **)&doc->sections, &doc->cap_sections, doc->n_sections,
                    sizeof(*doc->sections)))
        return -1;
    const char *t = rp_arena_strndup(&doc->arena, title, title_len);
    if (!t)
        return -1;
    int parent = -1;
    /* The preamble (section 0) encloses nothing: top-level headings get -1. */
    for (int i = (int)doc->n_sections - 1; i > 0; i = doc->sections[i].parent) {
        if (doc->sections[i].level < level) {
            parent = i;
            break;
        }
    }
    struct rp_section *s = &doc->sections[doc->n_sections];
    s->title = t;
    s->level = level;
    s->parent = parent;
    s->line = line;
    return (int)doc->n_sections++;
}

struct rp_block *rp_doc_add_block(struct rp_doc *doc, enum rp_block_type type, const char *text,
                                  size_t text_len, size_t line)
{
    if (!rp_vec_reserve((void **)&doc->blocks, &doc->cap_blocks, doc->n_blocks, sizeof(*doc->blocks)))
        return NULL;
    const char *t = rp_arena_strndup(&doc->arena, text, text_len);
    if (!t)
        return NULL;
    struct rp_block *b = &doc->blocks[doc->n_blocks++];
    memset(b, 0, sizeof(*b));
    b->type = type;
    b->section = (int)doc->n_sections - 1;
    b->text = t;
    b->line = line;
    return b;
}

enum rp_err rp_doc_set_meta(struct rp_doc *doc, const char *key, const char *value)
{
    const char *v = rp_arena_strdup(&doc->arena, value);
    if (!v)
        return RP_ERR_NOMEM;
    for (size_t i = 0; i < doc->n_meta; i++) {
        if (strcmp(doc->meta[i].key, key) == 0) {
            doc->meta[i].value = v;
            return RP_OK;
        }
    }
    if (!rp_vec_reserve((void **)&doc->meta, &doc->cap_meta, doc->n_meta, sizeof(*doc->meta)))
        return RP_ERR_NOMEM;
    const char *k = rp_arena_strdup(&doc->arena, key);
    if (!k)
        return RP_ERR_NOMEM;
    doc->meta[doc->n_meta].key = k;
    doc->meta[doc->n_meta].value = v;
    doc->n_meta++;
    return RP_OK;
}

const char *rp_doc_get_meta(const struct rp_doc *doc, const char *key)
{
    for (size_t i = 0; i < doc->n_meta; i++)
        if (strcmp(doc->meta[i].key, key) == 0)
            return doc->meta[i].value;
    return NULL;
}

enum rp_err rp_doc_heading_path(const struct rp_doc *doc, int s, struct rp_buf *out)
{
    int chain[64];
    int n = 0;
    for (int i = s; i > 0 && n < 64; i = doc->sections[i].parent)
        if (doc->sections[i].title[0])
            chain[n++] = i;
    enum rp_err e = RP_OK;
    for (int i = n - 1; i >= 0 && !e; i--) {
        if (i != n - 1)
            e = rp_buf_adds(out, " > ");
        if (!e)
            e = rp_buf_adds(out, doc->sections[chain[i]].title);
    }
    return e;
}

/* Copies s into the arena; NULL stays NULL. Sets *fail when out of memory. */
static const char *copy_opt(struct rp_doc *doc, const char *s, int *fail)
{
    if (!s)
        return NULL;
    const char *c = rp_arena_strdup(&doc->arena, s);
    if (!c)
        *fail = 1;
    return c;
}

enum rp_err rp_doc_add_param(struct rp_doc *doc, const struct rp_param *p)
{
    /* No copies: the fields are the table's own cells (see doc.h). */
    if (!rp_vec_reserve((void **)&doc->params, &doc->cap_params, doc->n_params, sizeof(*doc->params)))
        return RP_ERR_NOMEM;
    doc->params[doc->n_params++] = *p;
    return RP_OK;
}

/* Returns the document's copy of s, making one the first time. */
static const char *intern(struct rp_doc *doc, const char *s)
{
    struct rp__strset *set = doc->expansions;
    if (!set) {
        set = doc->expansions = calloc(1, sizeof(*set));
        if (!set)
            return NULL;
    }
    if (set->n * 2 >= set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        const char **slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return NULL;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t h = (size_t)rp_hash64(set->slot[i], strlen(set->slot[i])) & (cap - 1);
            while (slot[h])
                h = (h + 1) & (cap - 1);
            slot[h] = set->slot[i];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    size_t n = strlen(s);
    size_t h = (size_t)rp_hash64(s, n) & (set->cap - 1);
    while (set->slot[h]) {
        if (strcmp(set->slot[h], s) == 0)
            return set->slot[h];
        h = (h + 1) & (set->cap - 1);
    }
    const char *c = rp_arena_strndup(&doc->arena, s, n);
    if (c) {
        set->slot[h] = c;
        set->n++;
    }
    return c;
}

enum rp_err rp_doc_add_entity(struct rp_doc *doc, const struct rp_entity *e)
{
    if (!rp_vec_reserve((void **)&doc->entities, &doc->cap_entities, doc->n_entities,
                    sizeof(*doc->entities)))
        return RP_ERR_NOMEM;
    int fail = 0;
    struct rp_entity c = *e;
    c.text = copy_opt(doc, e->text, &fail);
    if (e->norm && e->text && strcmp(e->norm, e->text) == 0)
        c.norm = c.text;
    else
        c.norm = copy_opt(doc, e->norm, &fail);
    if (e->expansion && !(c.expansion = intern(doc, e->expansion)))
        fail = 1;
    if (fail)
        return RP_ERR_NOMEM;
    doc->entities[doc->n_entities++] = c;
    return RP_OK;
}

/* ---- tables ---- */

void rp_table_builder_init(struct rp_table_builder *tb)
{
    memset(tb, 0, sizeof(*tb));
}

void rp_table_builder_release(struct rp_table_builder *tb)
{
    for (size_t i = 0; i < tb->n_cells; i++)
        free(tb->cells[i]);
    free(tb->cells);
    free(tb->row_len);
    rp_table_builder_init(tb);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

enum rp_err rp_table_builder_cell(struct rp_table_builder *tb, const char *s, size_t n)
{
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (!rp_vec_reserve((void **)&tb->cells, &tb->cap_cells, tb->n_cells, sizeof(*tb->cells)))
        return RP_ERR_NOMEM;
    char *c = malloc(n + 1);
    if (!c)
        return RP_ERR_NOMEM;
    memcpy(c, s, n);
    c[n] = '\0';
    tb->cells[tb->n_cells++] = c;
    tb->cur_row_len++;
    return RP_OK;
}

enum rp_err rp_table_builder_end_row(struct rp_table_builder *tb)
{
    if (tb->cur_row_len == 0)
        return RP_OK;
    if (!rp_vec_reserve((void **)&tb->row_len, &tb->cap_rows, tb->n_rows, sizeof(*tb->row_len)))
        return RP_ERR_NOMEM;
    tb->row_len[tb->n_rows++] = tb->cur_row_len;
    tb->cur_row_len = 0;
    return RP_OK;
}

struct rp_block *rp_doc_add_table(struct rp_doc *doc, struct rp_table_builder *tb, size_t line)
{
    struct rp_block *blk = NULL;
    struct rp_buf text;
    rp_buf_init(&text, RP_BUF_NO_CAP);
    if (rp_table_builder_end_row(tb) || tb->n_rows == 0)
        goto out;
    size_t n_cols = 0;
    for (size_t r = 0; r < tb->n_rows; r++)
        if (tb->row_len[r] > n_cols)
            n_cols = tb->row_len[r];
    if (n_cols > SIZE_MAX / sizeof(char *) / tb->n_rows)
        goto out;
    struct rp_table *t = rp_arena_alloc(&doc->arena, sizeof(*t));
    if (!t)
        goto out;
    t->n_rows = tb->n_rows;
    t->n_cols = n_cols;
    t->n_header = tb->n_header < tb->n_rows ? tb->n_header : tb->n_rows;
    t->cells = rp_arena_alloc(&doc->arena, tb->n_rows * n_cols * sizeof(*t->cells));
    if (!t->cells)
        goto out;
    /* The strings go into one arena allocation, back to back (one by one,
     * the arena would align each to 16 bytes), and every empty cell,
     * padding included, is the same "". The rendered text's length is
     * known from them, so its buffer is sized once. */
    size_t bytes = 1, text_len = 0;
    for (size_t k = 0; k < tb->n_cells; k++) {
        size_t n = strlen(tb->cells[k]);
        bytes += n ? n + 1 : 0;
        text_len += n;
    }
    char *pool = rp_arena_alloc(&doc->arena, bytes);
    if (!pool)
        goto out;
    const char *empty = pool;
    *pool++ = '\0';
    size_t k = 0;
    for (size_t r = 0; r < tb->n_rows; r++) {
        for (size_t c = 0; c < n_cols; c++) {
            const char *src = c < tb->row_len[r] ? tb->cells[k + c] : "";
            size_t n = strlen(src);
            if (n == 0) {
                t->cells[r * n_cols + c] = empty;
                continue;
            }
            memcpy(pool, src, n + 1);
            t->cells[r * n_cols + c] = pool;
            pool += n + 1;
        }
        k += tb->row_len[r];
    }
    text_len += tb->n_rows * (3 * (n_cols - 1) + 1);
    if (rp_buf_grow(&text, text_len) || rp_table_render(t, 0, t->n_rows - t->n_header, &text))
        goto out;
    blk = rp_doc_add_block(doc, RP_BLOCK_TABLE, text.data, text.len, line);
    if (blk)
        blk->table = t;
out:
    rp_buf_release(&text);
    rp_table_builder_release(tb);
    return blk;
}

static enum rp_err render_row(const struct rp_table *t, size_t r, struct rp_buf *out)
{
    enum rp_err e = RP_OK;
    for (size_t c = 0; c < t->n_cols && !e; c++) {
        if (c)
            e = rp_buf_adds(out, " | ");
        if (!e)
            e = rp_buf_adds(out, t->cells[r * t->n_cols + c]);
    }
    if (!e)
        e = rp_buf_addc(out, '\n');
    return e;
}

enum rp_err rp_table_render(const struct rp_table *t, size_t first_row, size_t n_rows,
                            struct rp_buf *out)
{
    enum rp_err e = RP_OK;
    for (size_t r = 0; r < t->n_header && !e; r++)
        e = render_row(t, r, out);
    size_t body = t->n_rows - t->n_header;
    for (size_t i = first_row; i < first_row + n_rows && i < body && !e; i++)
        e = render_row(t, t->n_header + i, out);
    if (!e && out->len && out->data[out->len - 1] == '\n')
        rp_buf_truncate(out, out->len - 1);
    return e;
}

const char *rp_doc_format_name(enum rp_doc_format f)
{
    switch (f) {
    case RP_FORMAT_MARKDOWN:
        return "markdown";
    case RP_FORMAT_TEXT:
        return "text";
    case RP_FORMAT_HTML:
        return "html";
    case RP_FORMAT_CSV:
        return "csv";
    case RP_FORMAT_DOCX:
        return "docx";
    case RP_FORMAT_PDF:
        return "pdf";
    case RP_FORMAT_ZIP:
        return "zip";
    case RP_FORMAT_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *rp_block_type_name(enum rp_block_type t)
{
    switch (t) {
    case RP_BLOCK_PARAGRAPH:
        return "paragraph";
    case RP_BLOCK_TABLE:
        return "table";
    case RP_BLOCK_LIST:
        return "list";
    case RP_BLOCK_CODE:
        return "code";
    }
    return "unknown";
}

const char *rp_entity_type_name(enum rp_entity_type t)
{
    static const char *const names[RP_ENTITY__COUNT] = {
        "parameter", "counter", "spec_ref", "product_code", "acronym", "value", "command",
    };
    return (int)t >= 0 && t < RP_ENTITY__COUNT ? names[t] : "unknown";
}
