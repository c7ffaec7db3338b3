/*
 * log.c - logging sink (see include/ranpipe/log.h).
 */
#include "ranpipe/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <llama.h>

static _Atomic int log_level = RP_LOG_INFO;
static rp_log_fn log_fn;
static void *log_ud;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

static void default_sink(enum rp_log_level level, const char *msg, void *ud)
{
    (void)ud;
    char line[4096];
    int n = snprintf(line, sizeof(line), "ranpipe: %s%s%s\n",
                     level == RP_LOG_INFO ? "" : level_names[level], level == RP_LOG_INFO ? "" : ": ",
                     msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    fwrite(line, 1, (size_t)n, stderr);
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
