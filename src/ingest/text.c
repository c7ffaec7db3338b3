/*
 * text.c - plain text: paragraphs split by blank lines, headings recovered
 * from section numbering ("4.2.1 Configuration") and from underlines
 * ("=====" level 1, "-----" level 2), bullet and numbered lists.
 *
 * The file is cut into runs of non-blank lines; each run is classified as
 * a whole: one short numbered line is a heading, a line over an underline
 * is a heading (and the rest of the run continues as text), a run whose
 * every line starts with a list marker is a list, anything else is one
 * paragraph with its lines joined by spaces.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"

struct line {
    const char *s;
    size_t n;
    size_t lineno;
};

static int is_blank(const struct line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!isspace((unsigned char)l->s[i]))
            return 0;
    return 1;
}

/* "=====" -> 1, "-----" -> 2, else 0. */
static int underline_level(const struct line *l)
{
    size_t i = 0, n = l->n;
    while (n > 0 && isspace((unsigned char)l->s[n - 1]))
        n--;
    if (n < 3)
        return 0;
    char c = l->s[0];
    if (c != '=' && c != '-')
        return 0;
    for (i = 0; i < n; i++)
        if (l->s[i] != c)
            return 0;
    return c == '=' ? 1 : 2;
}

/* Numbered heading: "4", "4.2", "4.2.1" (optionally with a trailing dot)
 * then a space and a title starting with a letter, short, without a final
 * sentence punctuation mark. Returns the level and the title span. */
static int numbered_heading(const struct line *l, const char **title, size_t *title_len)
{
    size_t i = 0, n = l->n;
    while (n > 0 && isspace((unsigned char)l->s[n - 1]))
        n--;
    if (n == 0 || n > 100 || !isdigit((unsigned char)l->s[0]))
        return 0;
    int level = 1;
    while (i < n) {
        size_t d = 0;
        while (i < n && isdigit((unsigned char)l->s[i]) && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || (i < n && isdigit((unsigned char)l->s[i])))
            return 0;
        if (i < n && l->s[i] == '.' && i + 1 < n && isdigit((unsigned char)l->s[i + 1])) {
            i++;
            level++;
            continue;
        }
        break;
    }
    if (i < n && l->s[i] == '.')
        i++;
    if (i >= n || (l->s[i] != ' ' && l->s[i] != '\t'))
        return 0;
    while (i < n && (l->s[i] == ' ' || l->s[i] == '\t'))
        i++;
    if (i >= n || !isupper((unsigned char)l->s[i]))
        return 0;
    char last = l->s[n - 1];
    if (last == '.' || last == ',' || last == ';' || last == ':')
        return 0;
    if (level > 6)
        level = 6;
    *title = l->s;
    *title_len = n;
    return level;
}

static int is_indented(const struct line *l)
{
    return l->n > 0 && (l->s[0] == ' ' || l->s[0] == '\t');
}

static int list_marker(const struct line *l)
{
    size_t i = 0;
    while (i < l->n && (l->s[i] == ' ' || l->s[i] == '\t'))
        i++;
    if (i + 1 < l->n && (l->s[i] == '-' || l->s[i] == '*' || l->s[i] == '+') && l->s[i + 1] == ' ')
        return 1;
    if (i + 3 < l->n && memcmp(l->s + i, "\xE2\x80\xA2 ", 4) == 0) /* U+2022 bullet */
        return 1;
    size_t d = 0;
    while (i < l->n && isdigit((unsigned char)l->s[i]) && d < 3) {
        i++;
        d++;
    }
    if (d > 0 && i + 1 < l->n && (l->s[i] == '.' || l->s[i] == ')') && l->s[i + 1] == ' ')
        return 1;
    return 0;
}

static enum rp_err add_heading(struct rp_doc *doc, const char *s, size_t n, int level,
                               size_t lineno, struct rp_error *err)
{
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (rp_doc_add_section(doc, s, n, level, lineno) < 0)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

/* Emits lines [a, b) of a run as one block. */
static enum rp_err emit_run(struct rp_doc *doc, const struct line *lines, size_t a, size_t b,
                            struct rp_buf *tmp, struct rp_error *err)
{
    if (a >= b)
        return RP_OK;
    /* A list: the first line has a marker, the others have one or are
     * indented continuations. */
    int all_list = list_marker(&lines[a]);
    for (size_t i = a + 1; i < b && all_list; i++)
        all_list = list_marker(&lines[i]) || is_indented(&lines[i]);
    rp_buf_reset(tmp);
    enum rp_err e = RP_OK;
    for (size_t i = a; i < b && !e; i++) {
        const struct line *l = &lines[i];
        size_t s = 0, n = l->n;
        if (!all_list)
            while (s < n && isspace((unsigned char)l->s[s]))
                s++;
        while (n > s && isspace((unsigned char)l->s[n - 1]))
            n--;
        if (i > a)
            e = rp_buf_addc(tmp, all_list ? '\n' : ' ');
        if (!e)
            e = rp_buf_add(tmp, l->s + s, n - s);
    }
    if (e)
        return rp_error_set(err, e, "%s", rp_strerror(e));
    if (!rp_doc_add_block(doc, all_list ? RP_BLOCK_LIST : RP_BLOCK_PARAGRAPH, tmp->data, tmp->len,
                          lines[a].lineno))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

static enum rp_err classify_run(struct rp_doc *doc, const struct line *lines, size_t a, size_t b,
                                struct rp_buf *tmp, struct rp_error *err)
{
    enum rp_err e = RP_OK;
    while (a < b && !e) {
        const char *title;
        size_t tlen;
        int level;
        /* Title over an underline. */
        if (b - a >= 2 && (level = underline_level(&lines[a + 1])) > 0 && !list_marker(&lines[a])) {
            e = add_heading(doc, lines[a].s, lines[a].n, level, lines[a].lineno, err);
            a += 2;
            continue;
        }
        /* A numbered heading line, alone or at the top of a run. */
        if ((level = numbered_heading(&lines[a], &title, &tlen)) > 0 &&
            (b - a == 1 || (!list_marker(&lines[a + 1]) && !is_indented(&lines[a + 1])))) {
            e = add_heading(doc, title, tlen, level, lines[a].lineno, err);
            a += 1;
            continue;
        }
        return emit_run(doc, lines, a, b, tmp, err);
    }
    return e;
}

enum rp_err rp__parse_text(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err)
{
    (void)params;
    struct line *lines = NULL;
    size_t n_lines = 0, cap = 0;
    struct rp_buf tmp;
    rp_buf_init(&tmp, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;

    size_t pos = 0, lineno = 1;
    const char *ls;
    size_t ln;
    while (rp_next_line(data, len, &pos, &ls, &ln)) {
        if (n_lines == cap) {
            cap = cap ? cap * 2 : 256;
            struct line *p = realloc(lines, cap * sizeof(*lines));
            if (!p) {
                e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
                goto out;
            }
            lines = p;
        }
        lines[n_lines].s = ls;
        lines[n_lines].n = ln;
        lines[n_lines].lineno = lineno++;
        n_lines++;
    }

    size_t run = 0;
    for (size_t i = 0; i <= n_lines && !e; i++) {
        if (i == n_lines || is_blank(&lines[i])) {
            e = classify_run(doc, lines, run, i, &tmp, err);
            run = i + 1;
        }
    }
    /* The first heading is the title when no text comes before it. */
    if (!e && doc->n_sections > 1 && (doc->n_blocks == 0 || doc->blocks[0].section >= 1))
        doc->title = doc->sections[1].title;
out:
    free(lines);
    rp_buf_release(&tmp);
    return e;
}
