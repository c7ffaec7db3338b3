/*
 * utf8.h - UTF-8 validation and repair.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_UTF8_H
#define RANPIPE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

/* Returns true when s[0..n) is valid UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF); otherwise false and the byte offset of the
 * first bad sequence in *bad_at (may be NULL). */
bool rp_utf8_valid(const char *s, size_t n, size_t *bad_at);
/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 when it is
 * invalid: no overlong forms, surrogates or code points above U+10FFFF. */
size_t rp_utf8_seq_len(const unsigned char *s, size_t n);

/* Appends s[0..n) to out with every invalid sequence replaced by U+FFFD
 * and NUL bytes dropped, so the result can go into JSON. */
enum rp_err rp_utf8_repair(const char *s, size_t n, struct rp_buf *out);

#endif /* RANPIPE_UTF8_H */
