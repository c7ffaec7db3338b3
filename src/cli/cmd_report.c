/*
 * cmd_report.c - `ranpipe report`: a run's summary.json rendered again as
 * report.html (include/ranpipe/report.h does the work).
 *
 * A run writes both files itself; this command is for a report lost or
 * deleted, one made by an older ranpipe, or one wanted somewhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ranpipe/log.h"
#include "ranpipe/report.h"

void rp_cmd_report_help(void)
{
    printf("usage: ranpipe report [OPTIONS] OUT\n"
           "\n"
           "Renders OUT/summary.json, the summary a run leaves in its output directory,\n"
           "as OUT/report.html: one self-contained HTML page (no network access, no\n"
           "JavaScript needed) with the run's status and totals, its bottleneck, alerts,\n"
           "the quality score distribution, rejection reasons, the tier mix, throughput\n"
           "over time, stage busy shares, a table of documents (at most %d rows) and\n"
           "sample pairs. OUT may also name a summary file directly; report.html is then\n"
           "written beside it. The page is written to a temporary file and renamed, so\n"
           "an existing report is replaced only by a complete one.\n"
           "\n"
           "Options:\n"
           "  -o, --out FILE   write the page to FILE instead (\"-\" for standard output;\n"
           "                   a device or FIFO is written into, not replaced)\n"
           "  -q, --quiet      no message on success; only errors\n"
           "  -h, --help       show this help\n"
           "\n"
           "The summary's format (schema \"%s\"): docs/schemas/summary.schema.json;\n"
           "the page: docs/report.md.\n"
           "\n"
           "Exit status: 0 when the report was written, 1 when the summary is missing,\n"
           "is not valid JSON or is not a %s summary, or the page could not\n"
           "be written, 2 for a usage error.\n",
           RP_REPORT_MAX_DOCUMENTS, RP_REPORT_SCHEMA, RP_REPORT_SCHEMA);
}

static const struct option report_options[] = {
    {"out", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Writes the page for the summary at in to dest, which is "-" (standard
 * output) or not a regular file (a device or FIFO: /dev/stdout, a pipe),
 * so it is written straight into, not replaced. */
static enum rp_err write_stream(const char *in, const char *dest, struct rp_error *err)
{
    json_t *s = NULL;
    enum rp_err rc = rp_report_load(in, &s, err);
    if (rc)
        return rc;
    struct rp_buf html;
    rp_buf_init(&html, RP_REPORT_MAX_HTML);
    rc = rp_report_render(s, &html, err);
    bool is_stdout = strcmp(dest, "-") == 0;
    FILE *f = NULL;
    if (!rc) {
        f = is_stdout ? stdout : fopen(dest, "w");
        if (!f)
            rc = rp_error_set(err, RP_ERR_IO, "cannot open '%s': %s", dest, strerror(errno));
    }
    if (!rc && (fwrite(html.data, 1, html.len, f) != html.len || fflush(f) != 0))
        rc = rp_error_set(err, RP_ERR_IO, "cannot write the report to %s%s%s",
                          is_stdout ? "standard output" : "'", is_stdout ? "" : dest,
                          is_stdout ? "" : "'");
    if (f && !is_stdout && fclose(f) != 0 && !rc)
        rc = rp_error_set(err, RP_ERR_IO, "cannot write the report to '%s'", dest);
    rp_buf_release(&html);
    json_decref(s);
    return rc;
}

int rp_cmd_report(int argc, char **argv)
{
    const char *out = NULL;
    bool quiet = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:qh", report_options, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg)
                return rp_cli_usage_error("report", "-o needs a file name");
            out = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            rp_cmd_report_help();
            return RP_EXIT_OK;
        default:
            return rp_cli_bad_option("report", c, argv);
        }
    }
    if (optind >= argc)
        return rp_cli_usage_error("report",
                                  "name the run's output directory (or its summary.json)");
    if (argc - optind > 1)
        return rp_cli_usage_error("report", "one run at a time, not '%s' and '%s'", argv[optind],
                                  argv[optind + 1]);
    const char *arg = argv[optind];

    /* OUT is a directory (OUT/summary.json) or the summary file itself. */
    struct rp_buf in, html;
    rp_buf_init(&in, 4096);
    rp_buf_init(&html, 4096);
    struct stat st;
    bool is_file = stat(arg, &st) == 0 && !S_ISDIR(st.st_mode);
    int status = RP_EXIT_OK;
    if (is_file) {
        const char *slash = strrchr(arg, '/');
        if (rp_buf_adds(&in, arg) ||
            (slash ? rp_buf_add(&html, arg, (size_t)(slash - arg + 1)) : RP_OK) ||
            rp_buf_adds(&html, "report.html"))
            status = rp_cli_usage_error("report", "path too long: '%s'", arg);
    } else {
        size_t n = strlen(arg);
        const char *sep = n && arg[n - 1] == '/' ? "" : "/";
        if (rp_buf_addf(&in, "%s%ssummary.json", arg, sep) ||
            rp_buf_addf(&html, "%s%sreport.html", arg, sep))
            status = rp_cli_usage_error("report", "path too long: '%s'", arg);
    }
    if (status != RP_EXIT_OK)
        goto out;
    const char *dest = out ? out : html.data;

    struct rp_error err;
    rp_error_clear(&err);
    /* Standard output, a device or a FIFO is written into; a file is replaced. */
    bool to_stdout = strcmp(dest, "-") == 0;
    struct stat ost;
    bool stream =
        to_stdout || (stat(dest, &ost) == 0 && !S_ISREG(ost.st_mode) && !S_ISDIR(ost.st_mode));
    enum rp_err rc =
        stream ? write_stream(in.data, dest, &err) : rp_report_write_file(in.data, dest, &err);
    if (rc) {
        fprintf(stderr, "ranpipe report: %s\n", err.msg[0] ? err.msg : rp_strerror(rc));
        if (rc == RP_ERR_NOENT && !is_file)
            fprintf(stderr, "ranpipe report: name the output directory of a run ('ranpipe run "
                            "INPUT -o OUT' leaves OUT/summary.json) or a summary file\n");
        status = RP_EXIT_FAIL;
        goto out;
    }
    if (!quiet && !to_stdout && rp_log_get_level() <= RP_LOG_INFO)
        fprintf(stderr, "ranpipe report: wrote %s\n", dest);
out:
    rp_buf_release(&in);
    rp_buf_release(&html);
    return status;
}
