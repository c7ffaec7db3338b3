/*
 * error.c - error codes and messages (see include/ranpipe/error.h).
 */
#include "ranpipe/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_strings[] = {
#define RP__ERR_STR(name, str) str,
    RP_ERR_MAP(RP__ERR_STR)
#undef RP__ERR_STR
};

const char *rp_strerror(enum rp_err code)
{
    if ((int)code < 0 || code >= RP_ERR__COUNT)
        return "unknown error";
    return err_strings[code];
}

enum rp_err rp_error_set(struct rp_error *err, enum rp_err code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void rp_error_clear(struct rp_error *err)
{
    if (!err)
        return;
    err->code = RP_OK;
    err->msg[0] = '\0';
}

void rp_error_prefix(struct rp_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* Shift the message right and put the prefix in front, truncating the
     * message's end when the two do not fit. */
    size_t plen = (size_t)n < sizeof(prefix) ? (size_t)n : sizeof(prefix) - 1;
    if (plen > sizeof(err->msg) - 1)
        plen = sizeof(err->msg) - 1;
    size_t mlen = strlen(err->msg);
    if (plen + mlen > sizeof(err->msg) - 1)
        mlen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}
