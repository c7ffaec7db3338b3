/*
 * cmd_export.c - `ranpipe export`: a run's dataset in the format a trainer
 * reads, split by document (include/ranpipe/export.h does the work).
 *
 * The export options live here too, for `ranpipe run --format`, which
 * exports the same way once its files are committed (see cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/log.h"
#include "ranpipe/store.h"
#include "ranpipe/utf8.h"

/* Bad dataset lines printed before the rest are only counted. */
#define BAD_LINES_SHOWN 20
/* Largest --system-prompt-file. */
#define PROMPT_FILE_MAX (1u << 20)

void rp_cmd_export_help(void)
{
    printf("usage: ranpipe export --format F [OPTIONS] OUT\n"
           "       ranpipe export --rebuild [--unfinished] OUT\n"
           "\n"
           "Converts the pairs of a run into the JSON Lines a trainer reads, and splits\n"
           "them by document into training, validation and test files. The pairs come\n"
           "from the run's store, OUT/ranpipe.db (the last run that finished), or from\n"
           "OUT/dataset.jsonl when there is no store, or from a dataset file named\n"
           "directly:\n"
           "  DIR/train.jsonl   every pair, without --split\n"
           "  DIR/valid.jsonl   with --split, when its share is above 0\n"
           "  DIR/test.jsonl    with --split, when its share is above 0\n"
           "DIR is OUT/export-F/ (beside the file when OUT names a dataset file)\n"
           "unless -o names another. Files are written as NAME.partial and renamed\n"
           "when complete; a valid.jsonl or test.jsonl left in DIR by an earlier\n"
           "export is removed when this one has no such split.\n"
           "\n"
           "Formats (Q: question, A: answer, S: system prompt):\n"
           "  messages     {\"messages\":[{\"role\":\"user\",\"content\":Q},\n"
           "               {\"role\":\"assistant\",\"content\":A}]}\n"
           "               (OpenAI fine-tuning, MLX-LM chat; S: a first \"system\" message)\n"
           "  sharegpt     {\"conversations\":[{\"from\":\"human\",\"value\":Q},\n"
           "               {\"from\":\"gpt\",\"value\":A}]}\n"
           "               (LLaMA-Factory, Axolotl; S: a first \"system\" turn)\n"
           "  alpaca       {\"instruction\":Q,\"input\":\"\",\"output\":A}\n"
           "               (LLaMA-Factory; S: a \"system\" key)\n"
           "  completions  {\"prompt\":Q,\"completion\":A}\n"
           "               (MLX-LM completions, OpenAI legacy; S: \"S\\n\\nQ\" as the prompt)\n"
           "  text         {\"text\":\"Question: Q\\nAnswer: A\"}\n"
           "               (MLX-LM text; S: \"S\\n\\n\" before it)\n"
           "JSON Schemas: docs/schemas/F.schema.json; more in docs/export.md.\n"
           "\n"
           "With --rebuild, rewrites the run's own files in OUT (dataset.jsonl,\n"
           "rejects.jsonl, chunks.jsonl, pending.jsonl, conflicts.jsonl) line for line\n"
           "from OUT/ranpipe.db: the files of the last run that finished. With\n"
           "--unfinished too, those of the last run even when it was stopped or killed:\n"
           "every line it had committed.\n"
           "\n"
           "Options:\n");
    printf("      --format F               messages, sharegpt, alpaca, completions or text\n"
           "                               (required, except with --rebuild)\n"
           "  -o, --out DIR                output directory (default: OUT/export-F)\n"
           "      --from store|file        read the pairs from OUT/ranpipe.db or from\n"
           "                               OUT/dataset.jsonl (default: the store when\n"
           "                               there is one)\n"
           "      --rebuild                rebuild OUT's output files from its store\n"
           "      --unfinished             with --rebuild: from the last run even if it\n"
           "                               did not finish\n"
           "      --split T/V/E            whole percentages of documents in train, valid\n"
           "                               and test, adding up to 100, e.g. 80/10/10\n"
           "                               (default: 100/0/0, all in train.jsonl)\n"
           "      --system-prompt TEXT     system prompt for every pair (default: none)\n"
           "      --system-prompt-file FILE  the system prompt from a UTF-8 file\n"
           "                               (trailing whitespace dropped; at most 1 MiB)\n"
           "      --metadata keep|strip    keep: each line also has the pair's \"id\" and\n"
           "                               \"metadata\" as in dataset.jsonl (default);\n"
           "                               strip: only the format's own keys\n"
           "      --seed N                 split seed (default: 0)\n"
           "      --log-level L            debug, info, warn, error (default: info)\n"
           "      --log-format F           text or json lines (default: text)\n"
           "  -q, --quiet                  no summary; only warnings and errors\n"
           "  -h, --help                   show this help\n"
           "\n"
           "Splits: each document (a pair's metadata.source) is hashed with the seed to\n"
           "a point in [0,1) and goes to train below T%%, valid below T+V%%, test above.\n"
           "So no document is in two splits, the same dataset and seed always give the\n"
           "same files, and documents added later never move the ones already placed;\n"
           "another seed places them differently. Shares count documents, not pairs:\n"
           "with few documents a split can come out empty, which is warned about\n"
           "(MLX-LM needs a non-empty valid.jsonl).\n"
           "\n"
           "Exit status: 0 when every pair was exported, 1 when the export failed or\n"
           "a line of the dataset could not be read (each is reported as FILE:LINE\n"
           "and skipped; the other pairs are exported), 2 for a usage error.\n");
}

/* ---- export options (shared with `ranpipe run`) ---- */

void rp_cli_export_init(struct rp_cli_export *x, const char *cmd)
{
    memset(x, 0, sizeof(*x));
    x->cmd = cmd;
    x->params = rp_export_default_params();
    rp_buf_init(&x->prompt_text, PROMPT_FILE_MAX);
}

void rp_cli_export_release(struct rp_cli_export *x)
{
    rp_buf_release(&x->prompt_text);
}

bool rp_cli_export_option(struct rp_cli_export *x, int opt, const char *val)
{
    const char *name = NULL;
    switch (opt) {
    case RP_CLI_OPT_FORMAT:
        if (!rp_export_format_parse(val, &x->params.format)) {
            rp_cli_usage_error(x->cmd,
                               "unknown format '%s' (messages, sharegpt, alpaca, completions, "
                               "text)",
                               val);
            return false;
        }
        x->format_given = true;
        return true;
    case RP_CLI_OPT_SPLIT:
        name = "--split";
        if (!rp_export_split_parse(val, x->params.split)) {
            rp_cli_usage_error(x->cmd,
                               "--split needs three whole percentages that add up to 100, "
                               "as in 80/10/10, not '%s'",
                               val);
            return false;
        }
        break;
    case RP_CLI_OPT_SYSTEM_PROMPT:
    case RP_CLI_OPT_SYSTEM_PROMPT_FILE: {
        bool file = opt == RP_CLI_OPT_SYSTEM_PROMPT_FILE;
        name = file ? "--system-prompt-file" : "--system-prompt";
        if (x->params.system_prompt || x->prompt_file) {
            rp_cli_usage_error(x->cmd, "give one system prompt (--system-prompt or "
                                       "--system-prompt-file, once)");
            return false;
        }
        if (!*val || (!file && val[strspn(val, " \t\r\n")] == '\0')) {
            rp_cli_usage_error(x->cmd, "%s needs %s", name, file ? "a file" : "text");
            return false;
        }
        if (!file && !rp_utf8_valid(val, strlen(val), NULL)) {
            rp_cli_usage_error(x->cmd, "--system-prompt is not valid UTF-8");
            return false;
        }
        if (file)
            x->prompt_file = val;
        else
            x->params.system_prompt = val;
        break;
    }
    case RP_CLI_OPT_METADATA:
        name = "--metadata";
        if (strcmp(val, "keep") == 0) {
            x->params.keep_metadata = true;
        } else if (strcmp(val, "strip") == 0) {
            x->params.keep_metadata = false;
        } else {
            rp_cli_usage_error(x->cmd, "--metadata is keep or strip, not '%s'", val);
            return false;
        }
        break;
    default:
        rp_cli_usage_error(x->cmd, "unknown export option");
        return false;
    }
    if (!x->needs_format)
        x->needs_format = name;
    return true;
}

int rp_cli_export_prepare(struct rp_cli_export *x, bool required)
{
    if (!x->format_given && required)
        return rp_cli_usage_error(x->cmd, "name the format with --format: messages, sharegpt, "
                                          "alpaca, completions or text");
    if (!x->format_given && x->needs_format)
        return rp_cli_usage_error(x->cmd, "%s belongs to an export: give --format too",
                                  x->needs_format);
    if (!x->prompt_file)
        return RP_EXIT_OK;
    struct rp_error err;
    rp_error_clear(&err);
    rp_buf_reset(&x->prompt_text);
    if (rp_buf_read_file(&x->prompt_text, x->prompt_file, &err)) {
        fprintf(stderr, "ranpipe %s: %s\n", x->cmd, err.msg);
        return RP_EXIT_FAIL;
    }
    rp_buf_rtrim(&x->prompt_text);
    const char *why = NULL;
    if (x->prompt_text.data[strspn(x->prompt_text.data, " \t\r\n")] == '\0')
        why = "it is empty";
    else if (strlen(x->prompt_text.data) != x->prompt_text.len)
        why = "it holds a NUL byte";
    else if (!rp_utf8_valid(x->prompt_text.data, x->prompt_text.len, NULL))
        why = "it is not valid UTF-8";
    if (why) {
        fprintf(stderr, "ranpipe %s: cannot use '%s' as the system prompt: %s\n", x->cmd,
                x->prompt_file, why);
        return RP_EXIT_FAIL;
    }
    x->params.system_prompt = x->prompt_text.data;
    return RP_EXIT_OK;
}

static void print_bad_line(const char *path, size_t line, const char *reason, void *ud)
{
    struct rp_cli_export *x = ud;
    if (x->bad_shown < BAD_LINES_SHOWN)
        fprintf(stderr, "ranpipe %s: %s:%zu: %s (line skipped)\n", x->cmd, path, line, reason);
    else if (x->bad_shown == BAD_LINES_SHOWN)
        fprintf(stderr, "ranpipe %s: more bad lines in '%s' are counted, not shown\n", x->cmd,
                path);
    x->bad_shown++;
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int rp_cli_export_write(struct rp_cli_export *x, const char *input)
{
    struct rp_export_params p = x->params;
    p.on_bad_line = print_bad_line;
    p.ud = x;
    x->bad_shown = 0;
    struct rp_export_summary s;
    struct rp_error err;
    enum rp_err rc = rp_export_run(input, &p, &s, &err);
    if (rc) {
        fprintf(stderr, "ranpipe %s: %s\n", x->cmd, err.msg[0] ? err.msg : rp_strerror(rc));
        if (rc == RP_ERR_NOENT)
            fprintf(stderr,
                    "ranpipe %s: name the output directory of a run (it holds "
                    "dataset.jsonl: 'ranpipe run INPUT -o OUT' writes one) or a "
                    "dataset file\n",
                    x->cmd);
        return RP_EXIT_FAIL;
    }
    if (rp_log_get_level() <= RP_LOG_INFO) {
        char splits[512];
        size_t used = 0;
        for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
            if (!s.written[i])
                continue;
            int w = snprintf(splits + used, sizeof(splits) - used, "%s%s.jsonl %zu %s from %zu %s",
                             used ? ", " : "", rp_export_split_name(i), s.split_pairs[i],
                             plural(s.split_pairs[i], "pair", "pairs"), s.split_docs[i],
                             plural(s.split_docs[i], "document", "documents"));
            if (w > 0 && (size_t)w < sizeof(splits) - used)
                used += (size_t)w;
        }
        fprintf(stderr, "ranpipe %s: %zu %s from %zu %s as %s in %s (read from %s): %s", x->cmd, s.pairs,
                plural(s.pairs, "pair", "pairs"), s.docs, plural(s.docs, "document", "documents"),
                rp_export_format_name(p.format), s.dir, s.from, splits);
        if (s.bad_lines)
            fprintf(stderr, "; %zu bad %s skipped", s.bad_lines,
                    plural(s.bad_lines, "line", "lines"));
        fputc('\n', stderr);
    }
    if (s.pairs == 0) {
        fprintf(stderr, "ranpipe %s: warning: no pairs to export\n", x->cmd);
    } else {
        for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
            if (!s.written[i] || s.split_pairs[i])
                continue;
            fprintf(
                stderr,
                "ranpipe %s: warning: %s.jsonl is empty: none of the %zu %s fell in its %u%%%s; "
                "more documents, a larger share or another split seed (ranpipe export "
                "--seed N) can fill it\n",
                x->cmd, rp_export_split_name(i), s.docs, plural(s.docs, "document", "documents"),
                p.split[i],
                i == RP_EXPORT_SPLIT_VALID ? " (MLX-LM needs a non-empty valid.jsonl)" : "");
        }
    }
    return s.bad_lines ? RP_EXIT_FAIL : RP_EXIT_OK;
}

/* ---- the command ---- */

enum { OPT_SEED = 256, OPT_FROM, OPT_REBUILD, OPT_UNFINISHED };

static const struct option export_options[] = {
    RP_CLI_EXPORT_OPTIONS,
    {"out", required_argument, NULL, 'o'},
    {"from", required_argument, NULL, OPT_FROM},
    {"rebuild", no_argument, NULL, OPT_REBUILD},
    {"unfinished", no_argument, NULL, OPT_UNFINISHED},
    {"seed", required_argument, NULL, OPT_SEED},
    RP_CLI_LOG_OPTIONS,
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* `export --rebuild`: the run's own files again, from its store. */
static int rebuild(const char *out_dir, bool unfinished)
{
    struct rp_export_rebuild_summary s;
    struct rp_error err;
    if (rp_export_rebuild(out_dir, unfinished, &s, &err) != RP_OK) {
        fprintf(stderr, "ranpipe export: %s\n", err.msg);
        return RP_EXIT_FAIL;
    }
    if (rp_log_get_level() <= RP_LOG_INFO) {
        fprintf(stderr, "ranpipe export: rebuilt %s from run %lld of %s/ranpipe.db%s:", out_dir,
                (long long)s.run_id, out_dir, s.complete ? "" : " (unfinished: the lines it committed)");
        for (int i = 0; i < RP_EXPORT_REBUILD_FILES; i++)
            fprintf(stderr, "%s %s %zu %s", i ? "," : "", rp_store_output_files[i], s.lines[i],
                    plural(s.lines[i], "line", "lines"));
        fputc('\n', stderr);
    }
    return RP_EXIT_OK;
}

int rp_cmd_export(int argc, char **argv)
{
    struct rp_cli_export x;
    rp_cli_export_init(&x, "export");
    int status = RP_EXIT_OK;
    bool do_rebuild = false, unfinished = false;
    int c;
    opterr = 0;
    optind = 1;
    while (status == RP_EXIT_OK &&
           (c = getopt_long(argc, argv, ":o:qh", export_options, NULL)) != -1) {
        switch (c) {
        case RP_CLI_OPT_FORMAT:
        case RP_CLI_OPT_SPLIT:
        case RP_CLI_OPT_SYSTEM_PROMPT:
        case RP_CLI_OPT_SYSTEM_PROMPT_FILE:
        case RP_CLI_OPT_METADATA:
            if (!rp_cli_export_option(&x, c, optarg))
                status = RP_EXIT_USAGE;
            break;
        case 'o':
            x.params.out_dir = optarg;
            break;
        case OPT_FROM:
            if (strcmp(optarg, "store") == 0)
                x.params.source = RP_EXPORT_SOURCE_STORE;
            else if (strcmp(optarg, "file") == 0)
                x.params.source = RP_EXPORT_SOURCE_FILE;
            else
                status = rp_cli_usage_error("export", "--from takes 'store' or 'file', not '%s'", optarg);
            break;
        case OPT_REBUILD:
            do_rebuild = true;
            break;
        case OPT_UNFINISHED:
            unfinished = true;
            break;
        case OPT_SEED:
            if (!rp_cli_parse_u64(optarg, &x.params.seed))
                status = rp_cli_usage_error("export",
                                            "--seed needs a non-negative number, not '%s'", optarg);
            break;
        case RP_CLI_OPT_LOG_LEVEL:
        case RP_CLI_OPT_LOG_FORMAT:
            if (!rp_cli_log_option("export", c, optarg))
                status = RP_EXIT_USAGE;
            break;
        case 'q':
            rp_log_set_level(RP_LOG_WARN);
            break;
        case 'h':
            rp_cmd_export_help();
            goto out;
        default:
            status = rp_cli_bad_option("export", c, argv);
            break;
        }
    }
    if (status != RP_EXIT_OK)
        goto out;
    if (optind >= argc) {
        status =
            rp_cli_usage_error("export", "name the run's output directory (or its dataset file)");
        goto out;
    }
    if (argc - optind > 1) {
        status = rp_cli_usage_error("export", "one dataset at a time, not '%s' and '%s'",
                                    argv[optind], argv[optind + 1]);
        goto out;
    }
    if (unfinished && !do_rebuild) {
        status = rp_cli_usage_error("export", "--unfinished goes with --rebuild");
        goto out;
    }
    if (do_rebuild) {
        if (x.format_given || x.needs_format || x.params.out_dir || x.params.source != RP_EXPORT_SOURCE_AUTO) {
            status = rp_cli_usage_error("export", "--rebuild rewrites the run's own files: it takes no "
                                                  "--format, -o, --from or format options");
            goto out;
        }
        status = rebuild(argv[optind], unfinished);
        goto out;
    }
    status = rp_cli_export_prepare(&x, true);
    if (status == RP_EXIT_OK)
        status = rp_cli_export_write(&x, argv[optind]);
out:
    rp_cli_export_release(&x);
    return status;
}
