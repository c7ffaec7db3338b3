/*
 * buf.c - growable capped buffer and bump arena (see include/ranpipe/buf.h).
 */
#include "ranpipe/buf.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_string[1];

void rp_buf_init(struct rp_buf *b, size_t cap)
{
    b->data = empty_string;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void rp_buf_release(struct rp_buf *b)
{
    if (b->alloc)
        free(b->data);
    rp_buf_init(b, b->cap);
}

void rp_buf_reset(struct rp_buf *b)
{
    b->len = 0;
    if (b->alloc)
        b->data[0] = '\0';
}

enum rp_err rp_buf_grow(struct rp_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return RP_ERR_TOOBIG;
    if (extra >= SIZE_MAX - b->len)
        return RP_ERR_NOMEM; /* len + extra + 1 would wrap */
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return RP_OK;
    size_t alloc = b->alloc ? b->alloc : 64;
    while (alloc < need)
        alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
    char *p = realloc(b->alloc ? b->data : NULL, alloc);
    if (!p)
        return RP_ERR_NOMEM;
    if (!b->alloc)
        p[0] = '\0';
    b->data = p;
    b->alloc = alloc;
    return RP_OK;
}

enum rp_err rp_buf_add(struct rp_buf *b, const void *data, size_t n)
{
    enum rp_err e = rp_buf_grow(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RP_OK;
}

enum rp_err rp_buf_adds(struct rp_buf *b, const char *s)
{
    return rp_buf_add(b, s, strlen(s));
}

enum rp_err rp_buf_addc(struct rp_buf *b, char c)
{
    return rp_buf_add(b, &c, 1);
}

enum rp_err rp_buf_vaddf(struct rp_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0)
        return RP_ERR_INVAL;
    if ((size_t)n < sizeof(small))
        return rp_buf_add(b, small, (size_t)n);
    enum rp_err e = rp_buf_grow(b, (size_t)n);
    if (e)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RP_OK;
}

enum rp_err rp_buf_addf(struct rp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum rp_err e = rp_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return e;
}

void rp_buf_truncate(struct rp_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

void rp_buf_rtrim(struct rp_buf *b)
{
    size_t n = b->len;
    while (n > 0 && (b->data[n - 1] == ' ' || b->data[n - 1] == '\t' || b->data[n - 1] == '\n' ||
                     b->data[n - 1] == '\r'))
        n--;
    rp_buf_truncate(b, n);
}

char *rp_buf_detach(struct rp_buf *b)
{
    char *s;
    if (b->alloc) {
        s = b->data;
    } else {
        s = malloc(1);
        if (s)
            s[0] = '\0';
    }
    rp_buf_init(b, b->cap);
    return s;
}

enum rp_err rp_buf_read_file(struct rp_buf *b, const char *path, struct rp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot open '%s': %s",
                            path, strerror(errno));
    enum rp_err rc = RP_OK;
    char chunk[65536];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n > 0) {
            enum rp_err e = rp_buf_add(b, chunk, n);
            if (e == RP_ERR_TOOBIG) {
                rc = rp_error_set(err, e, "cannot read '%s': larger than the %zu byte limit", path,
                                  b->cap);
                goto out;
            }
            if (e) {
                rc = rp_error_set(err, e, "cannot read '%s': %s", path, rp_strerror(e));
                goto out;
            }
        }
        if (n < sizeof(chunk)) {
            if (ferror(f))
                rc = rp_error_set(err, RP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
    }
out:
    fclose(f);
    return rc;
}

bool rp_vec_reserve(void **items, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    /* Grow by half: document vectors are much of the ingest's memory. */
    size_t ncap = *cap ? *cap + *cap / 2 : 16;
    if (ncap <= n)
        ncap = n + 1;
    if (sz == 0 || ncap > SIZE_MAX / sz)
        return false;
    void *p = realloc(*items, ncap * sz);
    if (!p)
        return false;
    *items = p;
    *cap = ncap;
    return true;
}

bool rp_next_line(const char *data, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return false;
    const char *start = data + *pos;
    const char *eol = memchr(start, '\n', len - *pos);
    size_t l = eol ? (size_t)(eol - start) : len - *pos;
    *pos += eol ? l + 1 : l;
    if (l > 0 && start[l - 1] == '\r')
        l--;
    *line = start;
    *n = l;
    return true;
}

/* ---- arena ---- */

struct rp_arena_block {
    struct rp_arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char mem[];
};

#define ARENA_BLOCK_MIN (64 * 1024)

void rp_arena_init(struct rp_arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void rp_arena_release(struct rp_arena *a)
{
    struct rp_arena_block *blk = a->head;
    while (blk) {
        struct rp_arena_block *next = blk->next;
        free(blk);
        blk = next;
    }
    rp_arena_init(a);
}

void *rp_arena_alloc(struct rp_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX - align - sizeof(struct rp_arena_block))
        return NULL;
    n = (n + align - 1) & ~(align - 1);
    struct rp_arena_block *blk = a->head;
    if (!blk || blk->size - blk->used < n) {
        size_t size = n > ARENA_BLOCK_MIN ? n : ARENA_BLOCK_MIN;
        blk = malloc(sizeof(*blk) + size);
        if (!blk)
            return NULL;
        blk->size = size;
        blk->used = 0;
        /* A big one-off allocation goes behind the current block so the
         * current block's free space is not wasted. */
        if (a->head && n > ARENA_BLOCK_MIN) {
            blk->next = a->head->next;
            a->head->next = blk;
        } else {
            blk->next = a->head;
            a->head = blk;
        }
    }
    void *p = blk->mem + blk->used;
    blk->used += n;
    a->used_total += n;
    return p;
}

char *rp_arena_strndup(struct rp_arena *a, const char *s, size_t n)
{
    char *p = rp_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rp_arena_strdup(struct rp_arena *a, const char *s)
{
    return rp_arena_strndup(a, s, strlen(s));
}
