/*
 * cli.c - helpers shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/log.h"

int rp_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ranpipe%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'ranpipe%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
    va_end(ap);
    return RP_EXIT_USAGE;
}

int rp_cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return rp_cli_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        return rp_cli_usage_error(cmd, "unknown option '-%c'", optopt);
    /* A long option: show it without any "=value" part. */
    const char *eq = strchr(arg, '=');
    int len = eq ? (int)(eq - arg) : (int)strlen(arg);
    if (optopt)
        return rp_cli_usage_error(cmd, "option '%.*s' takes no value", len, arg);
    return rp_cli_usage_error(cmd, "unknown option '%.*s'", len, arg);
}

bool rp_cli_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool rp_cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool rp_cli_parse_float(const char *s, float min, float max, float *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || isnan(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool rp_cli_opt_long(const char *cmd, const char *opt, const char *val, long min, long max,
                     long *out)
{
    if (rp_cli_parse_long(val, min, max, out))
        return true;
    rp_cli_usage_error(cmd, "%s needs a number from %ld to %ld, not '%s'", opt, min, max, val);
    return false;
}

bool rp_cli_opt_float(const char *cmd, const char *opt, const char *val, float min, float max,
                      float *out)
{
    if (rp_cli_parse_float(val, min, max, out))
        return true;
    rp_cli_usage_error(cmd, "%s needs a number from %g to %g, not '%s'", opt, (double)min,
                       (double)max, val);
    return false;
}

bool rp_cli_set_log_level(const char *s)
{
    enum rp_log_level l;
    if (!rp_log_parse_level(s, &l))
        return false;
    rp_log_set_level(l);
    return true;
}

bool rp_cli_log_option(const char *cmd, int opt, const char *val)
{
    if (opt == RP_CLI_OPT_LOG_LEVEL) {
        if (rp_cli_set_log_level(val))
            return true;
        rp_cli_usage_error(cmd, "unknown log level '%s' (debug, info, warn, error)", val);
        return false;
    }
    enum rp_log_format f;
    if (!rp_log_parse_format(val, &f)) {
        rp_cli_usage_error(cmd, "unknown log format '%s' (text, json)", val);
        return false;
    }
    rp_log_set_format(f);
    return true;
}

void rp_cli_log_env(void)
{
    const char *s = getenv("RANPIPE_LOG_FORMAT");
    enum rp_log_format f;
    if (s && *s) {
        if (rp_log_parse_format(s, &f))
            rp_log_set_format(f);
        else
            rp_warn("ignoring RANPIPE_LOG_FORMAT='%s': not text or json", s);
    }
    s = getenv("RANPIPE_LOG_LEVEL");
    if (s && *s && !rp_cli_set_log_level(s))
        rp_warn("ignoring RANPIPE_LOG_LEVEL='%s': not debug, info, warn, error or none", s);
}

bool rp_cli_parse_progress(const char *s, enum rp_progress_mode *out)
{
    static const struct {
        const char *name;
        enum rp_progress_mode mode;
    } modes[] = {{"auto", RP_PROGRESS_AUTO},
                 {"tty", RP_PROGRESS_TTY},
                 {"plain", RP_PROGRESS_PLAIN},
                 {"off", RP_PROGRESS_OFF}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    return false;
}
