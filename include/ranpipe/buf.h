/*
 * buf.h - growable byte buffer with a hard size cap, and a bump arena.
 *
 * struct rp_buf keeps its contents NUL-terminated at all times, so buf.data
 * can be passed to C string functions. Growth past the cap fails with
 * RP_ERR_TOOBIG instead of allocating, which is how untrusted input is kept
 * from taking all memory. An embedded rp_buf is set up with rp_buf_init()
 * and released with rp_buf_release().
 *
 * struct rp_arena hands out memory that is freed all at once, e.g. every
 * string of one parsed document.
 *
 * Thread contract: a buffer or arena belongs to one thread at a time.
 */
#ifndef RANPIPE_BUF_H
#define RANPIPE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/error.h"

#define RP_BUF_NO_CAP ((size_t)-1)

struct rp_buf {
    char *data; /* NUL-terminated; never NULL after init */
    size_t len;
    size_t alloc;
    size_t cap; /* maximum len; RP_BUF_NO_CAP for none */
};

/* Sets up an empty buffer whose length may not exceed cap. */
void rp_buf_init(struct rp_buf *b, size_t cap);
/* Frees the contents; the buffer may be initialised again. */
void rp_buf_release(struct rp_buf *b);
/* Empties the buffer, keeping its memory. */
void rp_buf_reset(struct rp_buf *b);
/* Makes room for extra more bytes (plus the NUL). RP_ERR_TOOBIG past the cap. */
enum rp_err rp_buf_grow(struct rp_buf *b, size_t extra);
enum rp_err rp_buf_add(struct rp_buf *b, const void *data, size_t n);
enum rp_err rp_buf_adds(struct rp_buf *b, const char *s);
enum rp_err rp_buf_addc(struct rp_buf *b, char c);
enum rp_err rp_buf_addf(struct rp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
enum rp_err rp_buf_vaddf(struct rp_buf *b, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
/* Shortens the buffer to len bytes (no-op if already shorter). */
void rp_buf_truncate(struct rp_buf *b, size_t len);
/* Removes trailing ASCII whitespace. */
void rp_buf_rtrim(struct rp_buf *b);
/* Returns the contents as a new malloc'd string (caller frees) and leaves the
 * buffer empty and initialised with the same cap. */
char *rp_buf_detach(struct rp_buf *b);

/* Reads a whole file into b (appending), failing with RP_ERR_TOOBIG when it
 * would exceed the buffer's cap. Errors name the path. */
enum rp_err rp_buf_read_file(struct rp_buf *b, const char *path, struct rp_error *err);

/* Makes room in a malloc'd vector *items (of *cap elements of size sz) for
 * element n, growing it by half (min 16) when full. false when out of
 * memory (the vector is unchanged). */
bool rp_vec_reserve(void **items, size_t *cap, size_t n, size_t sz);

/* Text lines: returns the line of data[0..len) that starts at *pos without
 * its "\n" or "\r\n" in *line / *n, and moves *pos past it; false once *pos
 * has reached len. */
bool rp_next_line(const char *data, size_t len, size_t *pos, const char **line, size_t *n);

struct rp_arena_block;

struct rp_arena {
    struct rp_arena_block *head;
    size_t used_total; /* bytes handed out, for accounting */
};

void rp_arena_init(struct rp_arena *a);
/* Frees every allocation made from the arena at once. */
void rp_arena_release(struct rp_arena *a);
/* Returns n bytes aligned for any type, owned by the arena; NULL if out of memory. */
void *rp_arena_alloc(struct rp_arena *a, size_t n);
/* Copies n bytes of s into the arena and NUL-terminates them. */
char *rp_arena_strndup(struct rp_arena *a, const char *s, size_t n);
char *rp_arena_strdup(struct rp_arena *a, const char *s);

#endif /* RANPIPE_BUF_H */
