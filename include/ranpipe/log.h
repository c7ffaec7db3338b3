/*
 * log.h - one logging sink for ranpipe, llama.cpp and ggml.
 *
 * Messages go through a single callback (stderr by default). The level is
 * checked before any formatting happens, so disabled debug lines cost one
 * comparison. rp_log_route_llama() sends llama.cpp's and ggml's logs through
 * the same callback (llama.cpp INFO becomes ranpipe DEBUG: it is noisy).
 *
 * Thread contract: rp_log*() may be called from any thread; the default
 * sink writes each line with one fwrite. Set the level and callback before
 * starting threads.
 */
#ifndef RANPIPE_LOG_H
#define RANPIPE_LOG_H

#include <stdbool.h>

enum rp_log_level {
    RP_LOG_DEBUG = 0,
    RP_LOG_INFO = 1,
    RP_LOG_WARN = 2,
    RP_LOG_ERROR = 3,
    RP_LOG_NONE = 4,
};

/* Receives one complete message without a trailing newline. */
typedef void (*rp_log_fn)(enum rp_log_level level, const char *msg, void *ud);

void rp_log_set_level(enum rp_log_level level);
enum rp_log_level rp_log_get_level(void);
/* Installs fn (NULL restores the default stderr sink). */
void rp_log_set_callback(rp_log_fn fn, void *ud);
/* Parses "debug", "info", "warn", "error", "none"; false if unknown. */
bool rp_log_parse_level(const char *s, enum rp_log_level *out);

void rp_log(enum rp_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Routes llama.cpp and ggml log output into rp_log. Call once libllama is loaded. */
void rp_log_route_llama(void);

#define rp_debug(...) rp_log(RP_LOG_DEBUG, __VA_ARGS__)
#define rp_info(...) rp_log(RP_LOG_INFO, __VA_ARGS__)
#define rp_warn(...) rp_log(RP_LOG_WARN, __VA_ARGS__)
#define rp_errorf(...) rp_log(RP_LOG_ERROR, __VA_ARGS__)

#endif /* RANPIPE_LOG_H */
