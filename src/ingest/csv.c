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
 * padded and long rows keep their extra cells (the table builder does
 * both). A quote left open at the end of the file is an error naming the
 * line it opened on. Fields, columns and cells are capped so a hostile
 * file fails with a clear message instead of exhausting memory.
 *
 * The input is NUL-terminated, valid UTF-8 without a byte-order mark
 * (rp_ingest_buffer() sees to that), so no byte here needs decoding.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest_int.h"

#define CSV_MAX_COLS 1000
#define CSV_MAX_FIELD ((size_t)1 << 20)
#define CSV_MAX_CELLS ((size_t)4 << 20)

struct csv {
    const char *data;
    size_t len;
    size_t pos;
    size_t line; /* 1-based line of data[pos] */
    char delim;
    struct rp_table_builder tb;
    struct rp_buf field;
    size_t n_cells;
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

/* Forgets the cells of the builder's current (unfinished) row. */
static void drop_row(struct rp_table_builder *tb)
{
    while (tb->cur_row_len > 0) {
        free(tb->cells[--tb->n_cells]);
        tb->cur_row_len--;
    }
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
        if (++c->n_cells > CSV_MAX_CELLS)
            return rp_error_set(c->err, RP_ERR_TOOBIG, "more than %zu cells in one file",
                                CSV_MAX_CELLS);
        if (rp_table_builder_cell(&c->tb, c->field.data, c->field.len))
            return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        any_text = any_text || c->tb.cells[c->tb.n_cells - 1][0] != '\0';
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
    if (!any_text) {
        drop_row(&c->tb);
        return RP_OK;
    }
    if (rp_table_builder_end_row(&c->tb))
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

enum rp_err rp__parse_csv(struct rp_doc *doc, const char *data, size_t len,
                          const struct rp_ingest_params *params, struct rp_error *err)
{
    (void)params;
    struct csv c = {.data = data, .len = len, .line = 1, .err = err};
    rp_table_builder_init(&c.tb);
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
        size_t rows = c.tb.n_rows, line = c.line;
        if ((e = read_record(&c)))
            goto out;
        if (rows == 0 && c.tb.n_rows == 1)
            header_line = line;
    }
    if (c.tb.n_rows) {
        c.tb.n_header = 1;
        if (!rp_doc_add_table(doc, &c.tb, header_line))
            e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
out:
    rp_table_builder_release(&c.tb);
    rp_buf_release(&c.field);
    return e;
}
