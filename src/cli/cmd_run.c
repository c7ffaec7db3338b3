/*
 * cmd_run.c - `ranpipe run`: the whole job on files and directories.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/log.h"
#include "ranpipe/run.h"

void rp_cmd_run_help(void)
{
    struct rp_run_params d = rp_run_default_params();
    printf("usage: ranpipe run [OPTIONS] INPUT...\n"
           "\n"
           "Reads every supported file in INPUT (files or directories, recursively),\n"
           "splits the documents into section-aware chunks, asks a local GGUF model for\n"
           "question-answer pairs about each chunk (grammar-constrained JSON), and writes\n"
           "  OUT/dataset.jsonl  pairs in chat 'messages' format, with metadata\n"
           "  OUT/rejects.jsonl  files, chunks and pairs that failed, with the reason\n"
           "  OUT/chunks.jsonl   the chunks the pairs were made from\n"
           "Inputs: Markdown (.md, .markdown; YAML front-matter, tables), plain text\n"
           "(.txt, .text), HTML (.html, .htm, .xhtml; Ericsson ELEX pages), CSV\n"
           "parameter tables (.csv, .tsv), Word (.docx; 3GPP specifications), PDF\n"
           "(.pdf) and ZIP archives of these (.zip; each document in it is read).\n"
           "The format is taken from the file's content first, then its name.\n"
           "Files that cannot be read are listed in rejects.jsonl with the reason.\n"
           "\n"
           "Options:\n"
           "  -o, --out DIR          output directory (default: out)\n"
           "  -m, --model PATH       GGUF model file (default: $RANPIPE_MODEL); required\n"
           "      --ctx N            context tokens per sequence (default: %d)\n"
           "  -p, --parallel N       sequences generated together (default: %d)\n"
           "  -t, --threads N        CPU threads (default: all cores)\n"
           "      --batch N          tokens per decode step (default: %d)\n"
           "      --gpu-layers N     layers to offload with a GPU build of llama.cpp;\n"
           "                         -1 for all (default: %d)\n"
           "      --chunk-tokens N   maximum tokens per chunk (default: %zu)\n"
           "      --chunk-overlap N  tokens repeated between chunks of one section (default: %zu)\n"
           "      --pairs N          maximum pairs per chunk (default: %d)\n"
           "      --max-tokens N     cap on generated tokens per chunk (default: as the\n"
           "                         grammar needs)\n"
           "      --temperature F    sampling temperature, 0 for greedy (default: %.2g)\n"
           "      --top-k N          (default: %d)\n"
           "      --top-p F          (default: %.2g)\n"
           "      --seed N           run seed, mixed with each chunk's hash (default: %llu)\n"
           "      --log-level L      debug, info, warn, error (default: info)\n"
           "  -q, --quiet            only warnings and errors\n"
           "  -h, --help             show this help\n"
           "\n"
           "Exit status: 0 when the run completed (failed files are in rejects.jsonl),\n"
           "1 when it could not run (no model, unreadable input, unwritable output),\n"
           "2 for a usage error.\n",
           d.llama.n_ctx_seq, d.llama.n_parallel, d.llama.n_batch, d.llama.n_gpu_layers,
           d.chunk.max_tokens, d.chunk.overlap_tokens, d.shape.max_pairs,
           (double)d.sampling.temperature, d.sampling.top_k, (double)d.sampling.top_p,
           (unsigned long long)d.seed);
}

enum {
    OPT_CTX = 256,
    OPT_BATCH,
    OPT_GPU_LAYERS,
    OPT_CHUNK_TOKENS,
    OPT_CHUNK_OVERLAP,
    OPT_PAIRS,
    OPT_MAX_TOKENS,
    OPT_TEMPERATURE,
    OPT_TOP_K,
    OPT_TOP_P,
    OPT_SEED,
    OPT_LOG_LEVEL,
};

static const struct option run_options[] = {
    {"out", required_argument, NULL, 'o'},
    {"model", required_argument, NULL, 'm'},
    {"ctx", required_argument, NULL, OPT_CTX},
    {"parallel", required_argument, NULL, 'p'},
    {"threads", required_argument, NULL, 't'},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"gpu-layers", required_argument, NULL, OPT_GPU_LAYERS},
    {"chunk-tokens", required_argument, NULL, OPT_CHUNK_TOKENS},
    {"chunk-overlap", required_argument, NULL, OPT_CHUNK_OVERLAP},
    {"pairs", required_argument, NULL, OPT_PAIRS},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"top-k", required_argument, NULL, OPT_TOP_K},
    {"top-p", required_argument, NULL, OPT_TOP_P},
    {"seed", required_argument, NULL, OPT_SEED},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_summary(const struct rp_run_params *p, const struct rp_run_summary *s)
{
    const struct rp_gen_stats *g = &s->gen;
    fprintf(stderr,
            "ranpipe: %zu file%s: %zu read, %zu failed; %zu chunks; %zu pairs written, %zu "
            "rejects\n",
            s->files, s->files == 1 ? "" : "s", s->docs, s->docs_failed, s->chunks, s->pairs,
            s->rejects);
    if (g->requests)
        fprintf(stderr,
                "ranpipe: %s: %llu requests, %llu prompt + %llu generated tokens in %.1f s "
                "(%.1f generated tokens/s; %llu grammar fallbacks)\n",
                s->model, (unsigned long long)g->requests, (unsigned long long)g->prompt_tokens,
                (unsigned long long)g->gen_tokens, g->wall_seconds,
                g->wall_seconds > 0 ? (double)g->gen_tokens / g->wall_seconds : 0.0,
                (unsigned long long)g->grammar_fallbacks);
    fprintf(stderr, "ranpipe: wrote %s/dataset.jsonl, %s/rejects.jsonl, %s/chunks.jsonl in %.1f s\n",
            p->out_dir, p->out_dir, p->out_dir, s->seconds);
}

int rp_cmd_run(int argc, char **argv)
{
    struct rp_run_params p = rp_run_default_params();
    p.out_dir = "out";
    p.llama.model_path = getenv("RANPIPE_MODEL");
    if (p.llama.model_path && !*p.llama.model_path)
        p.llama.model_path = NULL;
    long v;
    float f;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:m:p:t:qh", run_options, NULL)) != -1) {
        switch (c) {
        case 'o':
            p.out_dir = optarg;
            break;
        case 'm':
            p.llama.model_path = optarg;
            break;
        case OPT_CTX:
            if (!rp_cli_opt_long("run", "--ctx", optarg, 256, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.llama.n_ctx_seq = (int)v;
            break;
        case 'p':
            if (!rp_cli_opt_long("run", "--parallel", optarg, 1, 256, &v))
                return RP_EXIT_USAGE;
            p.llama.n_parallel = (int)v;
            break;
        case 't':
            if (!rp_cli_opt_long("run", "--threads", optarg, 1, 1024, &v))
                return RP_EXIT_USAGE;
            p.llama.n_threads = (int)v;
            break;
        case OPT_BATCH:
            if (!rp_cli_opt_long("run", "--batch", optarg, 1, 1 << 16, &v))
                return RP_EXIT_USAGE;
            p.llama.n_batch = (int)v;
            p.llama.n_ubatch = (int)v;
            break;
        case OPT_GPU_LAYERS:
            if (!rp_cli_opt_long("run", "--gpu-layers", optarg, -1, 10000, &v))
                return RP_EXIT_USAGE;
            p.llama.n_gpu_layers = (int)v;
            break;
        case OPT_CHUNK_TOKENS:
            if (!rp_cli_opt_long("run", "--chunk-tokens", optarg, 16, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.chunk.max_tokens = (size_t)v;
            if (p.chunk.min_tokens > p.chunk.max_tokens / 2)
                p.chunk.min_tokens = p.chunk.max_tokens / 2;
            break;
        case OPT_CHUNK_OVERLAP:
            if (!rp_cli_opt_long("run", "--chunk-overlap", optarg, 0, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.chunk.overlap_tokens = (size_t)v;
            break;
        case OPT_PAIRS:
            if (!rp_cli_opt_long("run", "--pairs", optarg, 1, 20, &v))
                return RP_EXIT_USAGE;
            p.shape.max_pairs = (int)v;
            break;
        case OPT_MAX_TOKENS:
            if (!rp_cli_opt_long("run", "--max-tokens", optarg, 16, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.sampling.max_tokens = (int)v;
            break;
        case OPT_TEMPERATURE:
            if (!rp_cli_opt_float("run", "--temperature", optarg, 0, 10, &f))
                return RP_EXIT_USAGE;
            p.sampling.temperature = f;
            break;
        case OPT_TOP_K:
            if (!rp_cli_opt_long("run", "--top-k", optarg, 0, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.sampling.top_k = (int)v;
            break;
        case OPT_TOP_P:
            if (!rp_cli_opt_float("run", "--top-p", optarg, 0, 1, &f))
                return RP_EXIT_USAGE;
            p.sampling.top_p = f;
            break;
        case OPT_SEED:
            if (!rp_cli_parse_u64(optarg, &p.seed))
                return rp_cli_usage_error("run", "--seed needs a non-negative number, not '%s'", optarg);
            break;
        case OPT_LOG_LEVEL:
            if (!rp_cli_set_log_level(optarg))
                return rp_cli_usage_error("run", "unknown log level '%s' (debug, info, warn, error)", optarg);
            break;
        case 'q':
            rp_log_set_level(RP_LOG_WARN);
            break;
        case 'h':
            rp_cmd_run_help();
            return RP_EXIT_OK;
        default:
            return rp_cli_bad_option("run", c, argv);
        }
    }
    if (optind >= argc)
        return rp_cli_usage_error("run", "no input given: name files or directories to read");
    p.inputs = (const char *const *)(argv + optind);
    p.n_inputs = (size_t)(argc - optind);

    struct rp_run_summary sum;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp_run(&p, &sum, &err);
    if (rc) {
        fprintf(stderr, "ranpipe run: %s\n", err.msg[0] ? err.msg : rp_strerror(rc));
        return RP_EXIT_FAIL;
    }
    if (rp_log_get_level() <= RP_LOG_INFO)
        print_summary(&p, &sum);
    return RP_EXIT_OK;
}
