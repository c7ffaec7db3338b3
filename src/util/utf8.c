/*
 * utf8.c - UTF-8 validation and repair (see include/ranpipe/utf8.h).
 */
#include "ranpipe/utf8.h"

size_t rp_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

bool rp_utf8_valid(const char *str, size_t n, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t l = rp_utf8_seq_len(s + i, n - i);
        if (!l) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += l;
    }
    return true;
}

enum rp_err rp_utf8_repair(const char *str, size_t n, struct rp_buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* run: start of the current valid stretch */
    enum rp_err e = RP_OK;
    while (i < n && !e) {
        size_t l = s[i] ? rp_utf8_seq_len(s + i, n - i) : 0;
        if (l) {
            i += l;
            continue;
        }
        e = rp_buf_add(out, str + run, i - run);
        if (!e && s[i])
            e = rp_buf_adds(out, "\xEF\xBF\xBD");
        i++;
        run = i;
    }
    if (!e)
        e = rp_buf_add(out, str + run, i - run);
    return e;
}
