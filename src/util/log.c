/*
 * log.c - logging sink (see include/ranpipe/log.h).
 *
 * The default sink builds the whole line (text or JSON) in a stack buffer
 * and writes it with one fwrite, holding the terminal lock and calling the
 * live display's hooks around it. The lock is uncontended unless threads
 * log at once, which is rare next to the cost of formatting a line.
 */
#include "ranpipe/log.h"
#include "ranpipe/utf8.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <llama.h>

static _Atomic int log_level = RP_LOG_INFO;
static _Atomic int log_format = RP_LOG_FORMAT_TEXT;
static rp_log_fn log_fn;
static void *log_ud;

/* The terminal lock and the hooks it guards. */
static pthread_mutex_t tty_mu = PTHREAD_MUTEX_INITIALIZER;
static rp_log_tty_fn tty_before, tty_after;
static void *tty_ud;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

const char *rp_log_level_name(enum rp_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "none";
}

size_t rp_log_format_json(char *buf, size_t cap, enum rp_log_level level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(buf, cap, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when,
                     ts.tv_nsec / 1000000L, rp_log_level_name(level));
    if (n < 0 || (size_t)n >= cap)
        return 0;
    size_t len = (size_t)n;
    const size_t tail = 4; /* "}\n and the NUL */
    const unsigned char *p = (const unsigned char *)msg;
    size_t left = strlen(msg);
    while (left > 0) {
        char esc[8];
        const char *out = esc;
        size_t out_len, used = 1;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            out_len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                              : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (named) {
                out = named;
                out_len = 2;
            } else {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                out_len = 6;
            }
        } else if (c < 0x80) {
            out = (const char *)p;
            out_len = 1;
        } else if ((used = rp_utf8_seq_len(p, left)) > 0) {
            out = (const char *)p;
            out_len = used;
        } else {
            out = "\xef\xbf\xbd"; /* U+FFFD for one bad byte */
            out_len = 3;
            used = 1;
        }
        if (len + out_len + tail > cap)
            break;
        memcpy(buf + len, out, out_len);
        len += out_len;
        p += used;
        left -= used;
    }
    memcpy(buf + len, "\"}\n", 4);
    return len + 3;
}

static void write_line(const char *line, size_t n)
{
    pthread_mutex_lock(&tty_mu);
    if (tty_before)
        tty_before(tty_ud);
    fwrite(line, 1, n, stderr);
    if (tty_after)
        tty_after(tty_ud);
    pthread_mutex_unlock(&tty_mu);
}

static void default_sink(enum rp_log_level level, const char *msg, void *ud)
{
    (void)ud;
    char line[8192];
    if (atomic_load(&log_format) == RP_LOG_FORMAT_JSON) {
        size_t n = rp_log_format_json(line, sizeof(line), level, msg);
        if (n > 0)
            write_line(line, n);
        return;
    }
    int n = snprintf(line, sizeof(line), "ranpipe: %s%s%s\n",
                     level == RP_LOG_INFO ? "" : level_names[level], level == RP_LOG_INFO ? "" : ": ",
                     msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    write_line(line, (size_t)n);
}

void rp_log_set_tty_hooks(rp_log_tty_fn before, rp_log_tty_fn after, void *ud)
{
    pthread_mutex_lock(&tty_mu);
    tty_before = before;
    tty_after = after;
    tty_ud = ud;
    pthread_mutex_unlock(&tty_mu);
}

bool rp_log_clear_tty_hooks(void *ud)
{
    pthread_mutex_lock(&tty_mu);
    bool mine = tty_ud == ud && (tty_before || tty_after);
    if (mine) {
        tty_before = tty_after = NULL;
        tty_ud = NULL;
    }
    pthread_mutex_unlock(&tty_mu);
    return mine;
}

void rp_log_tty_lock(void)
{
    pthread_mutex_lock(&tty_mu);
}

void rp_log_tty_unlock(void)
{
    pthread_mutex_unlock(&tty_mu);
}

void rp_log_set_format(enum rp_log_format format)
{
    atomic_store(&log_format, (int)format);
}

enum rp_log_format rp_log_get_format(void)
{
    return (enum rp_log_format)atomic_load(&log_format);
}

bool rp_log_parse_format(const char *s, enum rp_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = RP_LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = RP_LOG_FORMAT_JSON;
    else
        return false;
    return true;
}

void rp_log_set_level(enum rp_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum rp_log_level rp_log_get_level(void)
{
    return (enum rp_log_level)atomic_load(&log_level);
}

void rp_log_set_callback(rp_log_fn fn, void *ud)
{
    log_fn = fn;
    log_ud = ud;
}

bool rp_log_parse_level(const char *s, enum rp_log_level *out)
{
    static const struct {
        const char *name;
        enum rp_log_level level;
    } names[] = {{"debug", RP_LOG_DEBUG}, {"info", RP_LOG_INFO},   {"warn", RP_LOG_WARN},
                 {"warning", RP_LOG_WARN}, {"error", RP_LOG_ERROR}, {"none", RP_LOG_NONE}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

static void emit(enum rp_log_level level, const char *msg)
{
    if (log_fn)
        log_fn(level, msg, log_ud);
    else
        default_sink(level, msg, NULL);
}

void rp_log(enum rp_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level) || level >= RP_LOG_NONE)
        return;
    char msg[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg);
}

/* llama.cpp sends partial lines (and GGML_LOG_LEVEL_CONT continuations);
 * gather them per thread and emit whole lines. */
static _Thread_local char llama_line[2048];
static _Thread_local size_t llama_line_len;
static _Thread_local enum rp_log_level llama_line_level;

static void llama_log_cb(enum ggml_log_level glevel, const char *text, void *ud)
{
    (void)ud;
    enum rp_log_level level;
    switch (glevel) {
    case GGML_LOG_LEVEL_ERROR:
        level = RP_LOG_ERROR;
        break;
    case GGML_LOG_LEVEL_WARN:
        level = RP_LOG_WARN;
        break;
    case GGML_LOG_LEVEL_CONT:
        level = llama_line_level;
        break;
    default:
        level = RP_LOG_DEBUG;
        break;
    }
    llama_line_level = level;
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || llama_line_len + 1 >= sizeof(llama_line)) {
            llama_line[llama_line_len] = '\0';
            if (llama_line_len > 0 && (int)level >= atomic_load(&log_level))
                rp_log(level, "llama: %s", llama_line);
            llama_line_len = 0;
            if (*p == '\n')
                continue;
        }
        llama_line[llama_line_len++] = *p;
    }
}

void rp_log_route_llama(void)
{
    llama_log_set(llama_log_cb, NULL);
}
