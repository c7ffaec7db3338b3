/*
 * log.h - one logging sink for ranpipe, llama.cpp and ggml.
 *
 * Messages go through a single callback (stderr by default). The level is
 * checked before any formatting happens, so disabled debug lines cost one
 * comparison. rp_log_route_llama() sends llama.cpp's and ggml's logs through
 * the same callback (llama.cpp INFO becomes ranpipe DEBUG: it is noisy).
 *
 * Two line formats: text ("ranpipe: warning: MSG", as always) and JSON
 * lines ({"ts":"2026-11-26T23:17:21.123Z","level":"warning","msg":"MSG"},
 * the message escaped and any invalid UTF-8 replaced by U+FFFD), for log
 * collectors.
 *
 * Sharing the terminal with a live display (progress.h): the default sink
 * writes every line under one mutex, the terminal lock, and calls the
 * before/after hooks a display registers around the write: the display
 * erases itself, the line is written, the display redraws itself. The
 * display takes the same lock to redraw, so lines from any thread (llama.cpp's
 * included) come out whole and never inside the display's text.
 *
 * Thread contract: rp_log*() may be called from any thread; the default
 * sink writes each line with one fwrite under the terminal lock. Set the
 * level, format and callback before starting threads; the terminal hooks may
 * be set and cleared at any time.
 */
#ifndef RANPIPE_LOG_H
#define RANPIPE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum rp_log_level {
    RP_LOG_DEBUG = 0,
    RP_LOG_INFO = 1,
    RP_LOG_WARN = 2,
    RP_LOG_ERROR = 3,
    RP_LOG_NONE = 4,
};

enum rp_log_format {
    RP_LOG_FORMAT_TEXT = 0, /* "ranpipe: warning: MSG" (info lines: "ranpipe: MSG") */
    RP_LOG_FORMAT_JSON = 1, /* one JSON object per line: ts, level, msg */
};

/* Receives one complete message without a trailing newline. */
typedef void (*rp_log_fn)(enum rp_log_level level, const char *msg, void *ud);

void rp_log_set_level(enum rp_log_level level);
enum rp_log_level rp_log_get_level(void);
/* Installs fn (NULL restores the default stderr sink). */
void rp_log_set_callback(rp_log_fn fn, void *ud);
/* Parses "debug", "info", "warn", "error", "none"; false if unknown. */
bool rp_log_parse_level(const char *s, enum rp_log_level *out);

/* Line format of the default sink (a callback formats lines itself). */
void rp_log_set_format(enum rp_log_format format);
enum rp_log_format rp_log_get_format(void);
/* Parses "text", "json"; false if unknown. */
bool rp_log_parse_format(const char *s, enum rp_log_format *out);
/* "debug", "info", "warning", "error" (the names JSON lines carry). */
const char *rp_log_level_name(enum rp_log_level level);

/*
 * Formats msg as one JSON line (with the trailing newline) into buf:
 * {"ts":"<now, UTC, milliseconds>","level":"<name>","msg":"<msg>"}. Control
 * characters, quotes and backslashes are escaped, invalid UTF-8 becomes
 * U+FFFD; a message too long for cap is cut at a character boundary, and the
 * line stays valid JSON. Returns the length written (cap must be at least
 * 128; the result is NUL-terminated).
 */
size_t rp_log_format_json(char *buf, size_t cap, enum rp_log_level level, const char *msg);

/* Called with the terminal lock held, around each line the default sink
 * writes. They must not log, nor take the terminal lock. */
typedef void (*rp_log_tty_fn)(void *ud);
/* Installs the hooks (NULL, NULL to remove them). Takes the terminal lock,
 * so once it returns no line is between before() and after() of the old
 * hooks. */
void rp_log_set_tty_hooks(rp_log_tty_fn before, rp_log_tty_fn after, void *ud);
/* Removes the hooks if ud is the one they were installed with; returns
 * whether it did. For a display that may have been replaced by another. */
bool rp_log_clear_tty_hooks(void *ud);
/* The terminal lock, for a display that writes to the log's terminal
 * outside a hook. Not recursive. */
void rp_log_tty_lock(void);
void rp_log_tty_unlock(void);

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
