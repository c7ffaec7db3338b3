/*
 * cli.h - what the command-line front end's files share.
 *
 * Exit codes: 0 success, 1 the command failed, 2 usage error (unknown
 * option, bad value): the message is one line on stderr.
 */
#ifndef RANPIPE_CLI_H
#define RANPIPE_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/export.h"
#include "ranpipe/progress.h"

#define RP_EXIT_OK 0
#define RP_EXIT_FAIL 1
#define RP_EXIT_USAGE 2
#define RP_EXIT_INTERRUPTED 130 /* stopped by SIGINT/SIGTERM, resumable */

struct rp_cli_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
    void (*help)(void);
};

extern const struct rp_cli_command rp_cli_commands[];

int rp_cmd_run(int argc, char **argv);
void rp_cmd_run_help(void);
int rp_cmd_inspect(int argc, char **argv);
void rp_cmd_inspect_help(void);
int rp_cmd_assess(int argc, char **argv);
void rp_cmd_assess_help(void);
int rp_cmd_status(int argc, char **argv);
void rp_cmd_status_help(void);
int rp_cmd_history(int argc, char **argv);
void rp_cmd_history_help(void);
int rp_cmd_worker(int argc, char **argv);
void rp_cmd_worker_help(void);
int rp_cmd_export(int argc, char **argv);
void rp_cmd_export_help(void);
int rp_cmd_report(int argc, char **argv);
void rp_cmd_report_help(void);

/* `run --watch` (watch.c): inotify on the inputs' directories. */
struct rp_cli_watch;
struct rp_cli_watch *rp_cli_watch_new(const char *const *inputs, size_t n);
void rp_cli_watch_free(struct rp_cli_watch *w);
/* Waits until an input changed (1: then quiet for half a second), *stop
 * is set (0), or an error (-1). */
int rp_cli_watch_wait(struct rp_cli_watch *w, volatile sig_atomic_t *stop);

/* Prints "ranpipe CMD: MESSAGE (see 'ranpipe CMD --help')" and returns 2. */
int rp_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Reports getopt_long's '?' / ':' result for argv as a usage error. */
int rp_cli_bad_option(const char *cmd, int c, char **argv);

/* Strict number parsing: the whole string, within [min, max]. */
bool rp_cli_parse_long(const char *s, long min, long max, long *out);
bool rp_cli_parse_u64(const char *s, uint64_t *out);
bool rp_cli_parse_float(const char *s, float min, float max, float *out);

/* Parse the value of option opt of command cmd; on a bad value print the
 * usage error ("--parallel needs a number from 1 to 256, not 'x'") and
 * return false (the caller exits with RP_EXIT_USAGE). */
bool rp_cli_opt_long(const char *cmd, const char *opt, const char *val, long min, long max,
                     long *out);
bool rp_cli_opt_float(const char *cmd, const char *opt, const char *val, float min, float max,
                      float *out);

/* Applies --log-level / --quiet style settings; false on a bad level. */
bool rp_cli_set_log_level(const char *s);

/*
 * --log-level L and --log-format text|json, taken by every command: a
 * command puts RP_CLI_LOG_OPTIONS in its getopt_long table and hands either
 * option's id and value to rp_cli_log_option(), which sets the level or the
 * format, or prints the usage error ("unknown log level 'x' (debug, info,
 * warn, error)", "unknown log format 'x' (text, json)") and returns false
 * (the caller exits with RP_EXIT_USAGE).
 */
enum { RP_CLI_OPT_LOG_LEVEL = 0x1100, RP_CLI_OPT_LOG_FORMAT };
#define RP_CLI_LOG_OPTIONS                                              \
    {"log-level", required_argument, NULL, RP_CLI_OPT_LOG_LEVEL},       \
        {"log-format", required_argument, NULL, RP_CLI_OPT_LOG_FORMAT}
bool rp_cli_log_option(const char *cmd, int opt, const char *val);

/* Applies $RANPIPE_LOG_LEVEL and $RANPIPE_LOG_FORMAT when set (main calls
 * it before a command parses its options, which override them). A bad value
 * is ignored with a warning. */
void rp_cli_log_env(void);

/* Parses a --progress value: "auto", "tty", "plain", "off"; false if unknown. */
bool rp_cli_parse_progress(const char *s, enum rp_progress_mode *out);

/*
 * Export options, shared by `ranpipe export` and `ranpipe run --format`
 * (cmd_export.c). A command puts RP_CLI_EXPORT_OPTIONS in its getopt_long
 * table, hands each RP_CLI_OPT_* it gets to rp_cli_export_option(), calls
 * rp_cli_export_prepare() once the options are parsed, and
 * rp_cli_export_write() to export a dataset.
 */
enum {
    RP_CLI_OPT_FORMAT = 0x1000,
    RP_CLI_OPT_SPLIT,
    RP_CLI_OPT_SYSTEM_PROMPT,
    RP_CLI_OPT_SYSTEM_PROMPT_FILE,
    RP_CLI_OPT_METADATA,
};

#define RP_CLI_EXPORT_OPTIONS                                                          \
    {"format", required_argument, NULL, RP_CLI_OPT_FORMAT},                            \
        {"split", required_argument, NULL, RP_CLI_OPT_SPLIT},                          \
        {"system-prompt", required_argument, NULL, RP_CLI_OPT_SYSTEM_PROMPT},          \
        {"system-prompt-file", required_argument, NULL, RP_CLI_OPT_SYSTEM_PROMPT_FILE}, \
        {"metadata", required_argument, NULL, RP_CLI_OPT_METADATA}

struct rp_cli_export {
    const char *cmd;               /* for messages: "export", "run" */
    struct rp_export_params params; /* system_prompt borrows argv or prompt_text */
    bool format_given;
    const char *needs_format;      /* the first other export option given */
    const char *prompt_file;       /* --system-prompt-file (argv) */
    struct rp_buf prompt_text;     /* its contents, read by rp_cli_export_prepare() */
    size_t bad_shown;              /* bad dataset lines printed so far */
};

void rp_cli_export_init(struct rp_cli_export *x, const char *cmd);
void rp_cli_export_release(struct rp_cli_export *x);
/* Takes one RP_CLI_OPT_* option and its value (borrowed: argv). false
 * after printing a usage error (the caller exits with RP_EXIT_USAGE). */
bool rp_cli_export_option(struct rp_cli_export *x, int opt, const char *val);
/* Checks the options together and reads --system-prompt-file. With
 * required, --format must be given; otherwise the other export options need
 * it. Returns RP_EXIT_OK, or the exit status after printing why not. */
int rp_cli_export_prepare(struct rp_cli_export *x, bool required);
/* Exports the dataset at input (a run's output directory or a dataset
 * file): bad lines as FILE:LINE on stderr, then a one-line summary (unless
 * the log level is above info) and warnings for empty splits. Returns the
 * exit status: RP_EXIT_FAIL when the export failed or any line was bad. */
int rp_cli_export_write(struct rp_cli_export *x, const char *input);

#endif /* RANPIPE_CLI_H */
