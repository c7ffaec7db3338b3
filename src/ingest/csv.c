/*
 * csv.c - CSV and TSV files: parameter tables exported from spreadsheets
 * and OSS tools.
 *
 * The whole file becomes one table block in the preamble section, its
 * first record the header row; the document is titled after the file name
 * without its extension, and the block keeps the line the header starts on.
 *
 * The reader follows RFC 4180 (quoted fields with doubled quotes, commas
 * and line breaks inside quotes, CRLF or LF) with the tolerance real files
 * need: the delimiter is taken from Excel's "sep=;" first line, else ".tsv"
 * means tab, else it is the most frequent of comma, semicolon and tab in
 * the header line (outside quotes); text after a closing quote is kept;
 * blank lines and rows with only empty cells are skipped; short rows are
 * padded and long rows keep their extra cells. A quote left open at the
 * end of the file is an error naming the line it opened on. Fields,
 * columns and cells are capped so a hostile file fails with a clear
 * message instead of exhausting memory.
 *
 * Memory. A CSV file is little else than its cells, so each cell is
 * stored once: trimmed as the table builder would, packed back to back
 * into pieces of the document's arena (no per-string malloc or alignment),
 * and the value of the cell above it in the same column is shared instead
 * of copied, which is what MO class, type and unit columns repeat. The
 * table is then laid out over those strings and rendered once as the
 * block text; parameter records (params.c) point at the same cells.
 *
 * The input is NUL-terminated, valid UTF-8 without a byte-order mark
 * (rp_ingest_buffer() sees to that), so no byte here needs decoding.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest_int.h"

#define CSV_MAX_COLS 1000
#define CSV_MAX_FIELD ((size_t)1 << 20)
#define CSV_MAX_CELLS ((size_t)4 << 20)
#define POOL_PIECE ((size_t)16 << 10) /* cell strings are packed into arena pieces this big */

struct csv {
    const char *data;
    size_t len;
    size_t pos;
    size_t line; /* 1-based line of data[pos] */
    char delim;
    struct rp_doc *doc;
    struct rp_buf field;
    /* The cells kept so far, row after row: strings in the document's
     * arena, pointers in a malloc'd vector (laid out as the table at the
     * end, when the widest row is known). */
    const char **cells;
    size_t n_cells, cap_cells;
    size_t *row_len; /* cells in each kept row */
    size_t n_rows, cap_rows;
    size_t row_start;  /* the current row's first cell in cells */
    size_t row_bytes;  /* the current row's string bytes */
    size_t cell_bytes; /* string bytes of the kept rows, to size the rendering */
    size_t n_fields;   /* fields read, for the cell cap */
    char *pool;        /* free space in the current arena piece */
    size_t pool_left;
    const char *empty; /* the document's one empty string, shared by empty cells */
    struct rp_error *err;
};

/* True when path ends in ".tsv" (any case). */
static bool is_tsv(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n >= 4 && strcasecmp(path + n - 4, ".tsv") == 0;
}

/* Excel's "sep=X" first line: sets *delim and returns the length of the
 * line with its line break, or 0 when there is none. */
static size_t sep_line(const char *data, size_t len, char *delim)
{
    if (len < 5 || strncasecmp(data, "sep=", 4) != 0)
        return 0;
    char c = data[4];
    if (c == '"' || c == '\r' || c == '\n')
        return 0;
    size_t i = 5;
    while (i < len && data[i] != '\n' && data[i] != '\r')
        i++;
    if (i < len && data[i] == '\r')
        i++;
    if (i < len && data[i] == '\n')
        i++;
    *delim = c;
    return i;
}

/* The most frequent candidate delimiter in the first record from start,
 * outside quotes; comma when there is none (a one-column file). */
static char sniff_delimiter(const char *data, size_t len, size_t start)
{
    static const char cand[] = {',', ';', '\t'};
    size_t count[sizeof(cand)] = {0};
    bool quoted = false;
    for (size_t i = start; i < len; i++) {
        char c = data[i];
        if (c == '"') {
            quoted = !quoted;
        } else if (!quoted) {
            if (c == '\n' || c == '\r')
                break;
            for (size_t k = 0; k < sizeof(cand); k++)
                count[k] += c == cand[k];
        }
    }
    size_t best = 0;
    for (size_t k = 1; k < sizeof(cand); k++)
        if (count[k] > count[best])
            best = k;
    return cand[best];
}

/* Turns a failed append to the field into a message. */
static enum rp_err field_error(struct csv *c, enum rp_err e, size_t start_line)
{
    if (e == RP_ERR_TOOBIG)
        return rp_error_set(c->err, RP_ERR_TOOBIG, "a field on line %zu is longer than %zu bytes",
                            start_line, CSV_MAX_FIELD);
    return rp_error_set(c->err, e, "out of memory");
}

/* Appends data[from, to) to the current field, within the field cap. */
static enum rp_err field_add(struct csv *c, size_t from, size_t to, size_t start_line)
{
    enum rp_err e = rp_buf_add(&c->field, c->data + from, to - from);
    return e ? field_error(c, e, start_line) : RP_OK;
}

/* Reads one field at c->pos into c->field, stopping before the delimiter,
 * the line break or the end. */
static enum rp_err read_field(struct csv *c)
{
    rp_buf_reset(&c->field);
    size_t start_line = c->line;
    enum rp_err e = RP_OK;
    if (c->pos < c->len && c->data[c->pos] == '"') {
        c->pos++;
        for (;;) {
            size_t from = c->pos;
            while (c->pos < c->len && c->data[c->pos] != '"' && c->data[c->pos] != '\r' &&
                   c->data[c->pos] != '\n')
                c->pos++;
            if ((e = field_add(c, from, c->pos, start_line)))
                return e;
            if (c->pos >= c->len)
                return rp_error_set(c->err, RP_ERR_PARSE,
                                    "unterminated quoted field starting on line %zu", start_line);
            char ch = c->data[c->pos];
            if (ch == '"') {
                if (c->pos + 1 < c->len && c->data[c->pos + 1] == '"') {
                    if ((e = field_add(c, c->pos, c->pos + 1, start_line)))
                        return e;
                    c->pos += 2;
                    continue;
                }
                c->pos++;
                break;
            }
            /* A line break inside quotes: kept as "\n" whatever its form. */
            c->pos += ch == '\r' && c->pos + 1 < c->len && c->data[c->pos + 1] == '\n' ? 2 : 1;
            c->line++;
            if ((e = rp_buf_addc(&c->field, '\n')))
                return field_error(c, e, start_line);
        }
    }
    /* Unquoted text, or what follows a closing quote ("ab"c reads abc). */
    size_t from = c->pos;
    while (c->pos < c->len && c->data[c->pos] != c->delim && c->data[c->pos] != '\r' &&
           c->data[c->pos] != '\n')
        c->pos++;
    return field_add(c, from, c->pos, start_line);
}

static enum rp_err nomem(struct csv *c)
{
    return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
}


static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Copies s[0..n) NUL-terminated into the current arena piece, taking a new
 * piece when it is full; a long string gets an arena allocation of its own
 * so that no piece is left mostly empty. */
static const char *pool_copy(struct csv *c, const char *s, size_t n)
{
    if (n + 1 > c->pool_left) {
        if (n + 1 > POOL_PIECE / 4)
            return rp_arena_strndup(&c->doc->arena, s, n);
        char *piece = rp_arena_alloc(&c->doc->arena, POOL_PIECE);
        if (!piece)
            return NULL;
        c->pool = piece;
        c->pool_left = POOL_PIECE;
    }
    char *d = c->pool;
    memcpy(d, s, n);
    d[n] = '\0';
    c->pool += n + 1;
    c->pool_left -= n + 1;
    return d;
}

/* Adds the field in c->field, trimmed of surrounding whitespace, as the
 * next cell of the current row; *has_text tells whether anything is left. */
static enum rp_err add_cell(struct csv *c, bool *has_text)
{
    const char *s = c->field.data;
    size_t n = c->field.len;
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *has_text = n > 0;
    if (!rp_vec_reserve((void **)&c->cells, &c->cap_cells, c->n_cells, sizeof(*c->cells)))
        return nomem(c);
    const char *cell = NULL;
    if (n == 0) {
        if (!c->empty && !(c->empty = rp_arena_strndup(&c->doc->arena, "", 0)))
            return nomem(c);
        cell = c->empty;
    } else if (c->n_rows > 0) {
        /* The same text as the cell above: share it. */
        size_t col = c->n_cells - c->row_start, above_len = c->row_len[c->n_rows - 1];
        if (col < above_len) {
            const char *above = c->cells[c->row_start - above_len + col];
            if (strncmp(above, s, n) == 0 && above[n] == '\0')
                cell = above;
        }
    }
    if (!cell && !(cell = pool_copy(c, s, n)))
        return nomem(c);
    c->cells[c->n_cells++] = cell;
    c->row_bytes += n;
    return RP_OK;
}

/* Keeps the current row, or forgets it when keep is false (its cells are
 * all empty, so no arena space is lost). */
static enum rp_err end_row(struct csv *c, bool keep)
{
    size_t n = c->n_cells - c->row_start;
    if (!keep || n == 0) {
        c->n_cells = c->row_start;
        c->row_bytes = 0;
        return RP_OK;
    }
    if (!rp_vec_reserve((void **)&c->row_len, &c->cap_rows, c->n_rows, sizeof(*c->row_len)))
        return nomem(c);
    c->row_len[c->n_rows++] = n;
    c->row_start = c->n_cells;
    c->cell_bytes += c->row_bytes;
    c->row_bytes = 0;
    return RP_OK;
}

/* Reads one record starting at c->pos (not on a blank line). */
static enum rp_err read_record(struct csv *c)
{
    size_t row_line = c->line;
    size_t n_fields = 0;
    bool any_text = false;
    enum rp_err e;
    for (;;) {
        if ((e = read_field(c)))
            return e;
        if (++n_fields > CSV_MAX_COLS)
            return rp_error_set(c->err, RP_ERR_TOOBIG, "line %zu has more than %d fields", row_line,
                                CSV_MAX_COLS);
        if (++c->n_fields > CSV_MAX_CELLS)
            return rp_error_set(c->err, RP_ERR_TOOBIG, "more than %zu cells in one file",
                                CSV_MAX_CELLS);
        bool has_text;
        if ((e = add_cell(c, &has_text)))
            return e;
        any_text = any_text || has_text;
        if (c->pos < c->len && c->data[c->pos] == c->delim) {
            c->pos++;
            continue;
        }
        break;
    }
    if (c->pos < c->len && c->data[c->pos] == '\r')
        c->pos++;
    if (c->pos < c->len && c->data[c->pos] == '\n')
        c->pos++;
    c->line++;
    return end_row(c, any_text);
}

/* Lays the rows read out as the document's table block (first row the
 * header, short rows padded with ""), rendered as rp_doc_add_table()
 * renders tables. The cell vectors are freed on the way. */
static enum rp_err add_table(struct csv *c, size_t line)
{
    struct rp_doc *doc = c->doc;
    size_t n_rows = c->n_rows, n_cols = 0;
    for (size_t r = 0; r < n_rows; r++)
        if (c->row_len[r] > n_cols)
            n_cols = c->row_len[r];
    if (n_cols > SIZE_MAX / sizeof(char *) / n_rows)
        return nomem(c);
    struct rp_table *t = rp_arena_alloc(&doc->arena, sizeof(*t));
    const char **cells = rp_arena_alloc(&doc->arena, n_rows * n_cols * sizeof(*cells));
    if (!t || !cells)
        return nomem(c);
    if (!c->empty && n_rows * n_cols > c->n_cells &&
        !(c->empty = rp_arena_strndup(&doc->arena, "", 0)))
        return nomem(c);
    size_t k = 0;
    for (size_t r = 0; r < n_rows; r++)
        for (size_t col = 0; col < n_cols; col++)
            cells[r * n_cols + col] = col < c->row_len[r] ? c->cells[k++] : c->empty;
    t->n_rows = n_rows;
    t->n_cols = n_cols;
    t->n_header = 1;
    t->cells = cells;
    free(c->cells);
    free(c->row_len);
    c->cells = NULL;
    c->row_len = NULL;
    c->n_cells = c->cap_cells = c->n_rows = c->cap_rows = 0;

    /* The text: every row's cells joined by " | ", rows by "\n". Sized
     * up front so the buffer is written once. */
    struct rp_buf text;
    rp_buf_init(&text, RP_BUF_NO_CAP);
    size_t row_extra = 3 * (n_cols - 1) + 1;
    enum rp_err e = RP_OK;
    if (n_rows > (SIZE_MAX - c->cell_bytes) / row_extra)
        e = RP_ERR_NOMEM;
    if (!e)
        e = rp_buf_grow(&text, c->cell_bytes + n_rows * row_extra);
    if (!e)
        e = rp_table_render(t, 0, n_rows - 1, &text);
    struct rp_block *blk = NULL;
    if (!e && (blk = rp_doc_add_block(doc, RP_BLOCK_TABLE, text.data, text.len, line)))
        blk->table = t;
    rp_buf_release(&text);
    return blk ? RP_OK : nomem(c);
}

enum rp_err rp__parse_csv(struct rp_doc *doc, const char *data, size_t len,
                          const struct rp_ingest_params *params, struct rp_error *err)
{
    (void)params;
    struct csv c = {.data = data, .len = len, .line = 1, .doc = doc, .err = err};
    rp_buf_init(&c.field, CSV_MAX_FIELD);
    rp_error_clear(err);
    enum rp_err e = RP_OK;

    /* The title: the file name without its extension. */
    const char *dot = strrchr(doc->title, '.');
    if (dot && dot != doc->title) {
        const char *t = rp_arena_strndup(&doc->arena, doc->title, (size_t)(dot - doc->title));
        if (!t) {
            e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        doc->title = t;
    }

    size_t skip = sep_line(data, len, &c.delim);
    if (skip) {
        c.pos = skip;
        c.line = 2;
    } else {
        c.delim = is_tsv(doc->path) ? '\t' : '\0';
    }
    size_t header_line = 0;
    while (c.pos < len) {
        char ch = data[c.pos];
        if (ch == '\n' || ch == '\r') { /* a blank line */
            c.pos += ch == '\r' && c.pos + 1 < len && data[c.pos + 1] == '\n' ? 2 : 1;
            c.line++;
            continue;
        }
        if (!c.delim)
            c.delim = sniff_delimiter(data, len, c.pos);
        size_t rows = c.n_rows, line = c.line;
        if ((e = read_record(&c)))
            goto out;
        if (rows == 0 && c.n_rows == 1)
            header_line = line;
    }
    rp_buf_release(&c.field); /* before the table is laid out: one buffer less at the peak */
    if (c.n_rows)
        e = add_table(&c, header_line);
out:
    free(c.cells);
    free(c.row_len);
    rp_buf_release(&c.field);
    return e;
}
