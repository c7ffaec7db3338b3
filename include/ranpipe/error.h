/*
 * error.h - ranpipe's error codes and the caller-owned error detail.
 *
 * Every fallible function returns an enum rp_err (RP_OK is 0) and, when the
 * caller passes one, fills a struct rp_error with the code and a message
 * that names the subject: "cannot open 'x.pdf': permission denied".
 * There is no global error state, so errors are safe across threads.
 *
 * Thread contract: all functions here are reentrant.
 */
#ifndef RANPIPE_ERROR_H
#define RANPIPE_ERROR_H

#include <stddef.h>

/* X-macro: name, string. Add new codes at the end. */
#define RP_ERR_MAP(X)                                                          \
    X(OK, "success")                                                           \
    X(NOMEM, "out of memory")                                                  \
    X(IO, "input/output error")                                                \
    X(NOENT, "no such file or directory")                                      \
    X(INVAL, "invalid argument")                                               \
    X(PARSE, "parse error")                                                    \
    X(TOOBIG, "input exceeds a size limit")                                    \
    X(UNSUPPORTED, "unsupported format")                                       \
    X(MODEL, "model error")                                                    \
    X(CONTEXT, "context window exceeded")                                      \
    X(BACKEND, "backend failure")                                              \
    X(CONFIG, "configuration error")                                           \
    X(CANCELLED, "cancelled")

enum rp_err {
#define RP__ERR_ENUM(name, str) RP_ERR_##name,
    RP_ERR_MAP(RP__ERR_ENUM)
#undef RP__ERR_ENUM
        RP_ERR__COUNT
};

#define RP_OK RP_ERR_OK

#define RP_ERROR_MSG_MAX 512

/* Detail of the last failure of one call. Embedded by value; no cleanup. */
struct rp_error {
    enum rp_err code;
    char msg[RP_ERROR_MSG_MAX];
};

/* Returns a static, lower-case description of code ("unknown error" if out of range). */
const char *rp_strerror(enum rp_err code);

/* Sets err (may be NULL) to code and a printf-style message; returns code,
 * so callers can write `return rp_error_set(err, RP_ERR_IO, "...", ...)`. */
enum rp_err rp_error_set(struct rp_error *err, enum rp_err code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err (may be NULL) to RP_OK and an empty message. */
void rp_error_clear(struct rp_error *err);

/* Prefixes err's message with a printf-style context ("'a.zip': " + msg).
 * Does nothing when err is NULL. */
void rp_error_prefix(struct rp_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* RANPIPE_ERROR_H */
