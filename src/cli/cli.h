/*
 * cli.h - what the command-line front end's files share.
 *
 * Exit codes: 0 success, 1 the command failed, 2 usage error (unknown
 * option, bad value): the message is one line on stderr.
 */
#ifndef RANPIPE_CLI_H
#define RANPIPE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#define RP_EXIT_OK 0
#define RP_EXIT_FAIL 1
#define RP_EXIT_USAGE 2

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
int rp_cmd_worker(int argc, char **argv);
void rp_cmd_worker_help(void);

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

#endif /* RANPIPE_CLI_H */
