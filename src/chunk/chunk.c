/*
 * chunk.c - section-aware chunker (see include/ranpipe/chunk.h).
 *
 * The chunker keeps one open chunk (text + running token count) and feeds
 * it "pieces": whole blocks when they fit, else sentences or lines, and for
 * tables groups of rows under a repeated header. The running count adds the
 * pieces' counts (plus one per separator); the stored count is measured on
 * the final text.
 */
#include "ranpipe/chunk.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/hash.h"

struct rp_chunk_params rp_chunk_default_params(void)
{
    struct rp_chunk_params p = {.max_tokens = 384, .min_tokens = 64, .overlap_tokens = 32};
    return p;
}

size_t rp_token_estimate(const char *s, size_t n)
{
    size_t tokens = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t') {
            i++; /* a space joins the following word's token */
            continue;
        }
        if (isdigit(c)) {
            tokens++; /* Qwen splits numbers into single digits */
            i++;
            continue;
        }
        if (isalpha(c) || c >= 0x80) {
            size_t start = i;
            size_t ascii_run = 0, other = 0;
            while (i < n && (isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)) {
                if ((unsigned char)s[i] < 0x80)
                    ascii_run++;
                else if (((unsigned char)s[i] & 0xC0) != 0x80)
                    other++; /* count code points, not bytes */
                i++;
            }
            (void)start;
            /* English words: about one token per 6 letters, at least one;
             * camelCase identifiers split at humps, so they cost more. */
            size_t humps = 0;
            for (size_t k = start + 1; k < i; k++)
                if (isupper((unsigned char)s[k]) && islower((unsigned char)s[k - 1]))
                    humps++;
            size_t word = ascii_run ? 1 + (ascii_run - 1) / 6 : 0;
            if (humps + 1 > word)
                word = humps + 1;
            tokens += word + other;
            continue;
        }
        if (c == '\n') {
            /* runs of newlines are one token */
            while (i < n && s[i] == '\n')
                i++;
            tokens++;
            continue;
        }
        tokens++; /* punctuation and symbols */
        i++;
    }
    return tokens;
}

size_t rp_token_estimate_fn(const char *s, size_t n, void *ud)
{
    (void)ud;
    return rp_token_estimate(s, n);
}

void rp_chunk_list_init(struct rp_chunk_list *l)
{
    l->items = NULL;
    l->n = l->cap = 0;
    rp_arena_init(&l->arena);
}

void rp_chunk_list_release(struct rp_chunk_list *l)
{
    free(l->items);
    rp_arena_release(&l->arena);
    rp_chunk_list_init(l);
}

struct chunker {
    const struct rp_doc *doc;
    const struct rp_chunk_params *p;
    rp_token_count_fn count;
    void *ud;
    struct rp_chunk_list *out;
    struct rp_error *err;

    struct rp_buf cur;
    size_t cur_tokens;
    int cur_section;  /* section the open chunk started in, -1 when empty */
    int last_section; /* section of the last piece added */
    size_t cur_line;
    int cur_page;
    int cur_first, cur_last; /* blocks whose text is in the open chunk, -1 none */
    size_t index; /* next chunk index within the document */
    const char *pending_title; /* heading of a small section merged into the open chunk */
    struct rp_buf tmp;
};

static size_t count(struct chunker *c, const char *s, size_t n)
{
    return c->count(s, n, c->ud);
}

static enum rp_err flush(struct chunker *c)
{
    rp_buf_rtrim(&c->cur);
    if (c->cur.len == 0) {
        c->cur_section = -1;
        return RP_OK;
    }
    struct rp_chunk_list *l = c->out;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct rp_chunk *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        l->items = items;
        l->cap = cap;
    }
    rp_buf_reset(&c->tmp);
    if (rp_doc_heading_path(c->doc, c->cur_section, &c->tmp))
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    struct rp_chunk *ch = &l->items[l->n];
    ch->index = c->index;
    ch->section = c->cur_section;
    ch->heading_path = rp_arena_strndup(&l->arena, c->tmp.data, c->tmp.len);
    ch->text = rp_arena_strndup(&l->arena, c->cur.data, c->cur.len);
    if (!ch->heading_path || !ch->text)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    ch->n_tokens = count(c, c->cur.data, c->cur.len);
    ch->line = c->cur_line;
    ch->page = c->cur_page;
    ch->first_block = c->cur_first;
    ch->last_block = c->cur_last;
    c->cur_first = c->cur_last = -1;
    uint64_t h = rp_hash64(ch->heading_path, strlen(ch->heading_path));
    ch->hash = rp_hash64_seeded(ch->text, c->cur.len, h);
    l->n++;
    c->index++;
    rp_buf_reset(&c->cur);
    c->cur_tokens = 0;
    c->cur_section = -1;
    return RP_OK;
}

/* Keeps the last sentences of the open chunk, up to overlap_tokens, as the
 * start of the next one. Called right after a size-driven flush. */
static enum rp_err start_with_overlap(struct chunker *c, const char *prev, size_t prev_len,
                                      int section)
{
    if (c->p->overlap_tokens == 0 || prev_len == 0)
        return RP_OK;
    size_t best = prev_len; /* start offset of the kept tail */
    for (size_t i = prev_len; i-- > 1;) {
        bool boundary = prev[i] == '\n' ||
                        (prev[i] == ' ' && (prev[i - 1] == '.' || prev[i - 1] == '?' ||
                                            prev[i - 1] == '!' || prev[i - 1] == ':'));
        if (!boundary)
            continue;
        size_t start = i + 1;
        if (count(c, prev + start, prev_len - start) > c->p->overlap_tokens)
            break;
        best = start;
    }
    while (best < prev_len && (prev[best] == '\n' || prev[best] == ' '))
        best++;
    if (best >= prev_len)
        return RP_OK;
    if (rp_buf_add(&c->cur, prev + best, prev_len - best))
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->cur_tokens = count(c, c->cur.data, c->cur.len);
    c->cur_section = section;
    return RP_OK;
}

static void open_chunk(struct chunker *c, const struct rp_block *b)
{
    int bi = (int)(b - c->doc->blocks);
    if (c->cur_first < 0)
        c->cur_first = bi;
    c->cur_last = bi;
    if (c->cur_section < 0) {
        c->cur_section = b->section;
        c->cur_line = b->line;
        c->cur_page = b->page;
    }
}

/* Whether s[0..n) (tokens by itself) fits after sep in the open chunk.
 * Token counts are not exactly additive (a tokenizer may merge across the
 * join), so near the limit the joined text is measured. */
static bool fits(struct chunker *c, const char *sep, const char *s, size_t n, size_t tokens)
{
    if (c->cur.len == 0)
        return true;
    if (c->cur_tokens + tokens + 1 + 4 <= c->p->max_tokens)
        return true;
    if (c->cur_tokens + tokens > c->p->max_tokens + 4)
        return false;
    rp_buf_reset(&c->tmp);
    if (rp_buf_add(&c->tmp, c->cur.data, c->cur.len) || rp_buf_adds(&c->tmp, sep) ||
        rp_buf_add(&c->tmp, s, n))
        return false;
    return count(c, c->tmp.data, c->tmp.len) <= c->p->max_tokens;
}

/* Appends sep (unless the chunk is empty) and s[0..n), then measures. */
static enum rp_err append(struct chunker *c, const char *sep, const char *s, size_t n)
{
    if ((c->cur.len > 0 && rp_buf_adds(&c->cur, sep)) || rp_buf_add(&c->cur, s, n))
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->cur_tokens = count(c, c->cur.data, c->cur.len);
    return RP_OK;
}

/* Adds one piece of prose (never split further here). */
static enum rp_err add_piece(struct chunker *c, const struct rp_block *b, const char *s, size_t n,
                             size_t tokens, const char *sep, bool overlap)
{
    if (c->pending_title) {
        /* A merged section's heading goes in with its first piece, or the
         * chunk ends and the section starts the next one (its heading is
         * then in the heading path). */
        const char *title = c->pending_title;
        c->pending_title = NULL;
        struct rp_buf joined;
        rp_buf_init(&joined, RP_BUF_NO_CAP);
        enum rp_err e = RP_OK;
        if (rp_buf_adds(&joined, title) || rp_buf_adds(&joined, "\n\n") || rp_buf_add(&joined, s, n))
            e = rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        bool ok = !e && fits(c, sep, joined.data, joined.len, count(c, joined.data, joined.len));
        if (ok) {
            open_chunk(c, b);
            e = append(c, sep, joined.data, joined.len);
            c->last_section = b->section;
        }
        rp_buf_release(&joined);
        if (e || ok)
            return e;
        e = flush(c);
        if (e)
            return e;
    }
    if (!fits(c, sep, s, n, tokens)) {
        struct rp_buf prev;
        rp_buf_init(&prev, RP_BUF_NO_CAP);
        enum rp_err e = overlap ? rp_buf_add(&prev, c->cur.data, c->cur.len) : RP_OK;
        int section = c->cur_section;
        if (!e)
            e = flush(c);
        if (!e && overlap) {
            rp_buf_rtrim(&prev);
            e = start_with_overlap(c, prev.data, prev.len, section);
        }
        rp_buf_release(&prev);
        if (e)
            return e;
        /* The overlap itself may leave no room for this piece. */
        if (c->cur.len > 0 && !fits(c, sep, s, n, tokens)) {
            rp_buf_reset(&c->cur);
            c->cur_tokens = 0;
            c->cur_section = -1;
        }
    }
    open_chunk(c, b);
    enum rp_err e = append(c, sep, s, n);
    c->last_section = b->section;
    return e;
}

static bool is_abbrev(const char *s, size_t end)
{
    static const char *const abbrevs[] = {"e.g", "i.e", "etc", "Fig", "fig", "No", "no",
                                          "vs",  "Ref", "ref", "approx", "Sec", "cf"};
    for (size_t k = 0; k < sizeof(abbrevs) / sizeof(abbrevs[0]); k++) {
        size_t l = strlen(abbrevs[k]);
        if (end >= l && memcmp(s + end - l, abbrevs[k], l) == 0 &&
            (end == l || !isalpha((unsigned char)s[end - l - 1])))
            return true;
    }
    return false;
}

/* Length of the next sentence (or line, for lists and code) of s[0..n). */
static size_t next_sentence(const char *s, size_t n, bool by_line)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            return i + 1;
        if (by_line)
            continue;
        if ((s[i] == '.' || s[i] == '?' || s[i] == '!') && i + 1 < n && s[i + 1] == ' ' &&
            !(s[i] == '.' && is_abbrev(s, i)))
            return i + 2;
    }
    return n;
}

/* Splits an over-long piece between words into parts of at most max tokens. */
static enum rp_err add_words(struct chunker *c, const struct rp_block *b, const char *s, size_t n)
{
    size_t start = 0;
    while (start < n) {
        size_t end = start, last_ok = start;
        while (end < n) {
            size_t sp = end;
            while (sp < n && s[sp] != ' ')
                sp++;
            if (count(c, s + start, sp - start) > c->p->max_tokens && last_ok > start)
                break;
            last_ok = sp;
            end = sp < n ? sp + 1 : n;
            if (count(c, s + start, sp - start) > c->p->max_tokens)
                break; /* a single "word" over the limit: keep it whole */
        }
        size_t len = last_ok - start;
        enum rp_err e = add_piece(c, b, s + start, len, count(c, s + start, len), " ", false);
        if (e)
            return e;
        start = last_ok;
        while (start < n && s[start] == ' ')
            start++;
    }
    return RP_OK;
}

static enum rp_err add_prose(struct chunker *c, const struct rp_block *b)
{
    const char *s = b->text;
    size_t n = strlen(s);
    size_t tokens = count(c, s, n);
    if (tokens <= c->p->max_tokens)
        return add_piece(c, b, s, n, tokens, "\n\n", true);
    bool by_line = b->type != RP_BLOCK_PARAGRAPH;
    const char *sep = "\n\n";
    size_t off = 0;
    while (off < n) {
        size_t len = next_sentence(s + off, n - off, by_line);
        size_t plen = len;
        while (plen > 0 && (s[off + plen - 1] == ' ' || s[off + plen - 1] == '\n'))
            plen--;
        if (plen > 0) {
            size_t t = count(c, s + off, plen);
            enum rp_err e = t > c->p->max_tokens ? add_words(c, b, s + off, plen)
                                                 : add_piece(c, b, s + off, plen, t, sep, true);
            if (e)
                return e;
            sep = by_line ? "\n" : " ";
        }
        off += len;
    }
    return RP_OK;
}

static enum rp_err add_table(struct chunker *c, const struct rp_block *b)
{
    const struct rp_table *t = b->table;
    size_t text_tokens = count(c, b->text, strlen(b->text));
    if (!t || text_tokens <= c->p->max_tokens)
        return add_piece(c, b, b->text, strlen(b->text), text_tokens, "\n\n", false);

    /* Too big for any chunk: split between rows, header repeated. */
    c->pending_title = NULL;
    enum rp_err e = flush(c);
    if (e)
        return e;
    size_t body = t->n_rows - t->n_header;
    size_t row = 0;
    while (row < body) {
        size_t n_rows = 1;
        for (;;) {
            if (row + n_rows >= body)
                break;
            rp_buf_reset(&c->tmp);
            if (rp_table_render(t, row, n_rows + 1, &c->tmp))
                return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
            if (count(c, c->tmp.data, c->tmp.len) > c->p->max_tokens)
                break;
            n_rows++;
        }
        rp_buf_reset(&c->tmp);
        if (rp_table_render(t, row, n_rows, &c->tmp))
            return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        open_chunk(c, b);
        if (rp_buf_add(&c->cur, c->tmp.data, c->tmp.len))
            return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        c->last_section = b->section;
        e = flush(c);
        if (e)
            return e;
        row += n_rows;
    }
    return RP_OK;
}

enum rp_err rp_chunk_doc(const struct rp_doc *doc, const struct rp_chunk_params *params,
                         rp_token_count_fn count_fn, void *count_ud, struct rp_chunk_list *out,
                         struct rp_error *err)
{
    struct rp_chunk_params defaults = rp_chunk_default_params();
    if (!params)
        params = &defaults;
    if (params->max_tokens < 16)
        return rp_error_set(err, RP_ERR_INVAL, "chunk size of %zu tokens is too small (minimum 16)",
                            params->max_tokens);
    struct chunker c = {
        .doc = doc,
        .p = params,
        .count = count_fn ? count_fn : rp_token_estimate_fn,
        .ud = count_ud,
        .out = out,
        .err = err,
        .cur_section = -1,
        .last_section = -1,
        .cur_first = -1,
        .cur_last = -1,
    };
    rp_buf_init(&c.cur, RP_BUF_NO_CAP);
    rp_buf_init(&c.tmp, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    for (size_t i = 0; i < doc->n_blocks && !e; i++) {
        const struct rp_block *b = &doc->blocks[i];
        if (c.cur.len > 0 && b->section != c.last_section) {
            const char *title = doc->sections[b->section].title;
            if (c.cur_tokens >= params->min_tokens ||
                !fits(&c, "\n\n", title, strlen(title), count(&c, title, strlen(title)))) {
                e = flush(&c);
            } else if (title[0]) {
                /* Merge a small section into the next one, keeping its heading. */
                c.pending_title = title;
            }
            if (e)
                break;
        }
        e = b->type == RP_BLOCK_TABLE ? add_table(&c, b) : add_prose(&c, b);
    }
    if (!e)
        e = flush(&c);
    rp_buf_release(&c.cur);
    rp_buf_release(&c.tmp);
    return e;
}
