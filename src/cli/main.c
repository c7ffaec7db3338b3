/*
 * main.c - ranpipe's entry point: global options and subcommand dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/version.h"

const struct rp_cli_command rp_cli_commands[] = {
    {"run", "turn documents into a QA dataset (ingest, chunk, generate, write)", rp_cmd_run,
     rp_cmd_run_help},
    {"inspect", "show the document model, chunks and token counts of files", rp_cmd_inspect,
     rp_cmd_inspect_help},
    {"assess", "score existing QA pairs against their contexts (quality, near-duplicates)", rp_cmd_assess,
     rp_cmd_assess_help},
    {"export", "write a run's pairs in a trainer's format (or rebuild its files from the store)", rp_cmd_export,
     rp_cmd_export_help},
    {"report", "render a run's summary.json as a self-contained HTML page (report.html)",
     rp_cmd_report, rp_cmd_report_help},
    {"status", "show a run's state: records and dead letters with their reasons", rp_cmd_status,
     rp_cmd_status_help},
    {"history", "show what routing learned: pass rate and cost per tier over complexity", rp_cmd_history,
     rp_cmd_history_help},
    {"worker", "serve a model to a run over shared memory (run starts these)", rp_cmd_worker,
     rp_cmd_worker_help},
    {NULL, NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
    fprintf(f,
            "usage: ranpipe [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "ranpipe turns RAN and telecom documentation into grounded question-answer\n"
            "datasets for fine-tuning, generating with local GGUF models through llama.cpp.\n"
            "\n"
            "Commands:\n");
    for (const struct rp_cli_command *c = rp_cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n"
               "Options:\n"
               "  -h, --help     show this help\n"
               "  -V, --version  show the version\n"
               "\n"
               "'ranpipe COMMAND --help' describes a command. Example:\n"
               "  ranpipe run examples/docs/ -o out/ --model Qwen3-1.7B-Q4_K_M.gguf\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return RP_EXIT_USAGE;
    }
    const char *a = argv[1];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
        if (argc > 2 && strcmp(a, "help") == 0) {
            for (const struct rp_cli_command *c = rp_cli_commands; c->name; c++) {
                if (strcmp(c->name, argv[2]) == 0) {
                    c->help();
                    return RP_EXIT_OK;
                }
            }
            return rp_cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        }
        print_help(stdout);
        return RP_EXIT_OK;
    }
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
        printf("ranpipe %s\nbuilt with %s\n", RANPIPE_VERSION, RANPIPE_LLAMA_DESC);
        return RP_EXIT_OK;
    }
    if (a[0] == '-')
        return rp_cli_usage_error(NULL, "unknown option '%s'", a);
    for (const struct rp_cli_command *c = rp_cli_commands; c->name; c++) {
        if (strcmp(c->name, a) == 0) {
            rp_cli_log_env();
            return c->main(argc - 1, argv + 1);
        }
    }
    return rp_cli_usage_error(NULL, "unknown command '%s'", a);
}
