/*
 * cmd_run.c - `ranpipe run`: the whole job on files and directories.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/log.h"
#include "ranpipe/config.h"
#include "ranpipe/metrics.h"
#include "ranpipe/metrics_http.h"
#include "ranpipe/run.h"

void rp_cmd_run_help(void)
{
    struct rp_llama_params lp = rp_llama_default_params();
    struct rp_sampling sp = rp_sampling_default();
    struct rp_chunk_params cp = rp_chunk_default_params();
    struct rp_qa_shape qs = rp_qa_shape_default();
    fputs("usage: ranpipe run [OPTIONS] INPUT...\n"
           "\n"
           "Reads every supported file in INPUT (files or directories, recursively),\n"
           "splits the documents into section-aware chunks, and makes question-answer\n"
           "pairs: the extractive tier takes them straight from parameter tables,\n"
           "counter lists and definitions (no model); each chunk also goes to the\n"
           "smallest LLM tier whose complexity range covers it - a GGUF model run by\n"
           "`ranpipe worker` processes (--model), or an OpenAI-compatible server\n"
           "(--endpoint: llama-server, vLLM, Ollama, ...). A tier that fails opens its\n"
           "circuit breaker and its chunks go to the next tier. Every pair is\n"
           "checked against its source (structure, grounding of each identifier and\n"
           "number, support, contradictions, near-duplicates; optionally an embedding\n"
           "model and an LLM judge: the config's quality section, docs/quality.md)\n"
           "before it is written. Writes\n"
           "  OUT/dataset.jsonl  accepted pairs in chat 'messages' format, with\n"
           "                     metadata (source, tier, model, quality, entities)\n"
           "  OUT/rejects.jsonl  files, chunks and pairs that failed, with the reason\n"
           "                     (stage 'assess': pairs the checks rejected;\n"
           "                     'dead-letter': chunks no tier could do)\n"
           "  OUT/chunks.jsonl   the chunks the pairs were made from\n"
           "  OUT/pending.jsonl  chunks waiting for an LLM tier (a run without one)\n"
           "  OUT/conflicts.jsonl parameters given different defaults or ranges\n"
           "Without --model, --endpoint or a config with an LLM tier, only the\n"
           "extractive tier runs; run again with a model to generate for the rest.\n"
           "Inputs: Markdown (.md, .markdown; YAML front-matter, tables), plain text\n"
           "(.txt, .text), HTML (.html, .htm, .xhtml; Ericsson ELEX pages), CSV\n"
           "parameter tables (.csv, .tsv), Word (.docx; 3GPP specifications), PDF\n"
           "(.pdf) and ZIP archives of these (.zip; each document in it is read).\n"
           "The format is taken from the file's content first, then its name.\n"
           "Files that cannot be read are listed in rejects.jsonl with the reason.\n"
           "\n", stdout);
    printf("Options:\n"
           "  -o, --out DIR          output directory (default: out); its ranpipe.db keeps\n"
           "                         the run's state: running again with the same DIR\n"
           "                         answers every generation already made from its cache\n"
           "      --no-cache         generate again what the cache holds (and refresh it)\n"
           "      --watch            after the run, wait for input files to appear or\n"
           "                         change and run again over them (only new work is\n"
           "                         generated: the cache has the rest), until Ctrl-C\n"
           "      --retry-failed     try again the chunks earlier runs made dead letters\n"
           "                         ('ranpipe status OUT' lists them; otherwise they\n"
           "                         stay dead letters)\n"
           "  -c, --config FILE      tiers, chunking, limits, breaker and retry policy,\n"
           "                         quality checks\n"
           "                         (YAML; see examples/ranpipe.yaml, docs/config.md)\n"
           "  -m, --model PATH       GGUF model for a 'small' llama tier\n"
           "                         (default: $RANPIPE_MODEL)\n"
           "  -e, --endpoint URL     OpenAI-compatible server for an LLM tier, e.g.\n"
           "                         http://127.0.0.1:8080 (with --model: the 'medium' tier)\n"
           "      --memory-budget MB llama models resident at once; the least recently\n"
           "                         used idle one is unloaded to load another (default: no limit)\n"
           "Options that override every llama tier:\n"
           "  -w, --workers N        worker processes per tier (default: 1)\n"
           "      --ctx N            context tokens per sequence (default: %d)\n"
           "  -p, --parallel N       sequences generated together per worker (default: %d)\n"
           "  -t, --threads N        CPU threads per worker (default: cores / workers)\n"
           "      --batch N          tokens per decode step (default: %d)\n"
           "      --gpu-layers N     layers to offload with a GPU build of llama.cpp;\n"
           "                         -1 for all, auto: all when a GPU build finds a\n"
           "                         device (default: auto)\n"
           "Options that override every LLM tier:\n"
           "      --pairs N          maximum pairs per chunk (default: %d)\n"
           "      --max-tokens N     cap on generated tokens per chunk (default: as the\n"
           "                         grammar needs)\n"
           "      --temperature F    sampling temperature, 0 for greedy (default: %.2g)\n"
           "      --top-k N          (default: %d)\n"
           "      --top-p F          (default: %.2g)\n"
           "Other options:\n"
           "      --chunk-tokens N   maximum tokens per chunk (default: %zu)\n"
           "      --chunk-overlap N  tokens repeated between chunks of one section (default: %zu)\n"
           "      --seed N           run seed, mixed with each chunk's hash (default: 24301)\n"
           "      --log-level L      debug, info, warn, error (default: info)\n"
           "      --log-format F     text or json lines (default: text)\n"
           "      --progress MODE    live progress on standard error: auto (a live\n"
           "                         display on a terminal, a line every\n"
           "                         monitor.progress_interval seconds otherwise), tty,\n"
           "                         plain or off (default: auto; off with -q)\n"
           "      --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
           "                         while the run lasts (ADDR defaults to 127.0.0.1;\n"
           "                         port 0 picks a free one)\n"
           "      --no-monitor       no progress, metrics, alerts, summary.json or\n"
           "                         report.html\n"
           "  -q, --quiet            only warnings and errors\n"
           "  -h, --help             show this help\n"
           "\n"
           "SIGINT or SIGTERM (Ctrl-C) stops the run: no new requests, the ones in\n"
           "flight get 5 s to finish (their answers are kept in OUT/ranpipe.db), the\n"
           "output files are left as they were, and the exit status is 130. Running\n"
           "again with the same -o resumes. A second signal ends the process at once.\n",
           lp.n_ctx_seq, lp.n_parallel, lp.n_batch, qs.max_pairs, (double)sp.temperature,
           sp.top_k, (double)sp.top_p, cp.max_tokens, cp.overlap_tokens);
    fputs("Export options (once the run's files are written, also write OUT/export-F/\n"
          "as 'ranpipe export OUT --format F' does; see 'ranpipe export --help'):\n"
          "      --format F         messages, sharegpt, alpaca, completions or text\n"
          "      --split T/V/E      percent of documents in train, valid and test, e.g.\n"
          "                         80/10/10 (default: 100/0/0, all in train.jsonl)\n"
          "      --system-prompt TEXT, --system-prompt-file FILE\n"
          "                         system prompt for every pair (default: none)\n"
          "      --metadata keep|strip  pair id and metadata on each line (default: keep)\n"
          "\n"
          "Exit status: 0 when the run completed (failed files and chunks are in\n"
          "rejects.jsonl), 1 when it could not run (bad config, unreadable input,\n"
          "unwritable output) or its --format export failed, 2 for a usage error.\n",
          stdout);
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
    OPT_MEMORY,
    OPT_NO_CACHE,
    OPT_RETRY_FAILED,
    OPT_WATCH,
    OPT_METRICS,
    OPT_PROGRESS,
    OPT_NO_MONITOR,
};

static const struct option run_options[] = {
    RP_CLI_EXPORT_OPTIONS,
    {"out", required_argument, NULL, 'o'},
    {"config", required_argument, NULL, 'c'},
    {"model", required_argument, NULL, 'm'},
    {"endpoint", required_argument, NULL, 'e'},
    {"memory-budget", required_argument, NULL, OPT_MEMORY},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"no-monitor", no_argument, NULL, OPT_NO_MONITOR},
    {"workers", required_argument, NULL, 'w'},
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
    RP_CLI_LOG_OPTIONS,
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Command-line settings that override the configuration; -1 / NaN: not given. */
struct overrides {
    long workers, ctx, parallel, threads, batch, gpu_layers;
    long chunk_tokens, chunk_overlap, pairs, max_tokens, top_k;
    float temperature, top_p;
    bool has_temperature, has_top_p, has_seed;
    uint64_t seed;
};

static void apply_overrides(struct rp_config *c, const struct overrides *o)
{
    for (size_t i = 0; i < c->n_tiers; i++) {
        struct rp_tier_config *t = &c->tiers[i];
        if (t->kind == RP_BACKEND_EXTRACTIVE)
            continue;
        if (t->kind == RP_BACKEND_LLAMA) {
            if (o->workers > 0)
                t->workers = (int)o->workers;
            if (o->ctx > 0)
                t->llama.n_ctx_seq = (int)o->ctx;
            if (o->parallel > 0)
                t->llama.n_parallel = (int)o->parallel;
            if (o->threads > 0)
                t->llama.n_threads = (int)o->threads;
            if (o->batch > 0)
                t->llama.n_batch = t->llama.n_ubatch = (int)o->batch;
            if (o->gpu_layers != -3)
                t->llama.n_gpu_layers = (int)o->gpu_layers;
        }
        if (o->pairs > 0)
            t->shape.max_pairs = (int)o->pairs;
        if (o->max_tokens > 0)
            t->sampling.max_tokens = (int)o->max_tokens;
        if (o->top_k >= 0)
            t->sampling.top_k = (int)o->top_k;
        if (o->has_temperature)
            t->sampling.temperature = o->temperature;
        if (o->has_top_p)
            t->sampling.top_p = o->top_p;
    }
    if (o->chunk_tokens > 0) {
        c->chunk.max_tokens = (size_t)o->chunk_tokens;
        if (c->chunk.min_tokens > c->chunk.max_tokens / 2)
            c->chunk.min_tokens = c->chunk.max_tokens / 2;
    }
    if (o->chunk_overlap >= 0)
        c->chunk.overlap_tokens = (size_t)o->chunk_overlap;
    if (o->has_seed)
        c->seed = o->seed;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The end-of-run summary, through the log (info lines: JSON with
 * --log-format json). */
static void print_summary(const struct rp_run_params *p, const struct rp_run_summary *s)
{
    rp_info("%zu file%s: %zu read, %zu failed; %zu chunks; %zu pairs written (%zu extractive), %zu rejects",
            s->files, s->files == 1 ? "" : "s", s->docs, s->docs_failed, s->chunks, s->pairs, s->extractive_pairs,
            s->rejects);
    for (size_t i = 0; i < s->n_tiers; i++) {
        const struct rp_run_tier_summary *t = &s->tiers[i];
        if (strcmp(t->kind, "extractive") == 0)
            continue;
        char loads[128] = "";
        if (t->stats.loads)
            snprintf(loads, sizeof(loads), "; model loaded %llu time(s), %.2f s", (unsigned long long)t->stats.loads,
                     t->stats.load_seconds);
        rp_info("tier '%s' (%s%s%s): %zu chunks, %zu pairs, %zu failed requests, %llu generated tokens; "
                "breaker %s (opened %llu times)%s",
                t->name, t->kind, t->stats.model[0] ? ", " : "", t->stats.model, t->chunks, t->pairs, t->failed,
                (unsigned long long)t->gen_tokens, rp_breaker_state_name(t->stats.breaker),
                (unsigned long long)t->stats.breaker_opens, loads);
    }
    if (s->gen_seconds > 0)
        rp_info("generation: %llu prompt + %llu generated tokens in %.1f s (%.1f generated tokens/s)",
                (unsigned long long)s->prompt_tokens, (unsigned long long)s->gen_tokens, s->gen_seconds,
                (double)s->gen_tokens / s->gen_seconds);
    rp_info("inputs since the last run in %s: %zu new, %zu changed, %zu unchanged, %zu deleted; "
            "%zu generations from the cache",
            p->out_dir, s->docs_new, s->docs_changed, s->docs_unchanged, s->docs_deleted, s->cache_hits);
    if (s->adaptive_picks)
        rp_info("routing history sent %zu chunks to another tier than the thresholds would", s->adaptive_picks);
    rp_info("quality: %zu pairs rejected by the assessor (%zu near-duplicates), %zu parameters with "
            "conflicting values (%s/conflicts.jsonl)",
            s->quality_rejects, s->duplicates, s->conflicts, p->out_dir);
    if (s->fallbacks || s->escalations || s->dead_letters)
        rp_info("%zu chunks fell back to another tier, %zu escalated, %zu dead letters", s->fallbacks,
                s->escalations, s->dead_letters);
    if (s->bottleneck[0])
        rp_info("bottleneck: %s", s->bottleneck);
    if (s->alerts)
        rp_info("%zu alert%s raised (see the warnings above and %s/report.html)", s->alerts,
                s->alerts == 1 ? "" : "s", p->out_dir);
    rp_info("wrote %s/dataset.jsonl, %s/rejects.jsonl, %s/chunks.jsonl in %.1f s", p->out_dir, p->out_dir,
            p->out_dir, s->seconds);
    if (!p->no_monitor)
        rp_info("report: %s/report.html (summary: %s/summary.json)", p->out_dir, p->out_dir);
    if (s->pending) {
        rp_info("%zu chunks wait for an LLM tier (listed in %s/pending.jsonl): run again with", s->pending,
                p->out_dir);
        rp_info("  --model PATH.gguf (a local GGUF model), --endpoint URL (an OpenAI-compatible");
        rp_info("  server), or --config FILE with an LLM tier to generate their pairs");
    }
}

int rp_cmd_run(int argc, char **argv)
{
    struct rp_run_params p = rp_run_default_params();
    const char *model = getenv("RANPIPE_MODEL");
    if (model && !*model)
        model = NULL;
    const char *endpoint = NULL, *config_path = NULL;
    bool model_given = false, watch = false, progress_given = false;
    const char *metrics_addr = NULL;
    p.progress = RP_PROGRESS_AUTO;
    struct overrides o = {.workers = -1, .ctx = -1, .parallel = -1, .threads = -1, .batch = -1,
                          .gpu_layers = -3, .chunk_tokens = -1, .chunk_overlap = -1, .pairs = -1,
                          .max_tokens = -1, .top_k = -1};
    struct rp_cli_export xo; /* --format: export after the run */
    rp_cli_export_init(&xo, "run");
    long v;
    float f;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:c:m:e:w:p:t:qh", run_options, NULL)) != -1) {
        switch (c) {
        case 'o':
            p.out_dir = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'm':
            model = optarg;
            model_given = true;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case OPT_NO_CACHE:
            p.no_cache = true;
            break;
        case OPT_RETRY_FAILED:
            p.retry_failed = true;
            break;
        case OPT_WATCH:
            watch = true;
            break;
        case OPT_MEMORY:
            if (!rp_cli_opt_long("run", "--memory-budget", optarg, 0, 1L << 30, &v))
                return RP_EXIT_USAGE;
            p.memory_budget_mb = (size_t)v;
            break;
        case 'w':
            if (!rp_cli_opt_long("run", "--workers", optarg, 1, 64, &o.workers))
                return RP_EXIT_USAGE;
            break;
        case OPT_CTX:
            if (!rp_cli_opt_long("run", "--ctx", optarg, 256, 1 << 20, &o.ctx))
                return RP_EXIT_USAGE;
            break;
        case 'p':
            if (!rp_cli_opt_long("run", "--parallel", optarg, 1, 256, &o.parallel))
                return RP_EXIT_USAGE;
            break;
        case 't':
            if (!rp_cli_opt_long("run", "--threads", optarg, 1, 1024, &o.threads))
                return RP_EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (!rp_cli_opt_long("run", "--batch", optarg, 1, 1 << 16, &o.batch))
                return RP_EXIT_USAGE;
            break;
        case OPT_GPU_LAYERS:
            if (strcmp(optarg, "auto") == 0)
                o.gpu_layers = RP_GPU_LAYERS_AUTO;
            else if (!rp_cli_opt_long("run", "--gpu-layers", optarg, -1, 10000, &o.gpu_layers))
                return RP_EXIT_USAGE;
            break;
        case OPT_CHUNK_TOKENS:
            if (!rp_cli_opt_long("run", "--chunk-tokens", optarg, 16, 1 << 20, &o.chunk_tokens))
                return RP_EXIT_USAGE;
            break;
        case OPT_CHUNK_OVERLAP:
            if (!rp_cli_opt_long("run", "--chunk-overlap", optarg, 0, 1 << 20, &o.chunk_overlap))
                return RP_EXIT_USAGE;
            break;
        case OPT_PAIRS:
            if (!rp_cli_opt_long("run", "--pairs", optarg, 1, 20, &o.pairs))
                return RP_EXIT_USAGE;
            break;
        case OPT_MAX_TOKENS:
            if (!rp_cli_opt_long("run", "--max-tokens", optarg, 16, 1 << 20, &o.max_tokens))
                return RP_EXIT_USAGE;
            break;
        case OPT_TEMPERATURE:
            if (!rp_cli_opt_float("run", "--temperature", optarg, 0, 10, &f))
                return RP_EXIT_USAGE;
            o.temperature = f;
            o.has_temperature = true;
            break;
        case OPT_TOP_K:
            if (!rp_cli_opt_long("run", "--top-k", optarg, 0, 1 << 20, &o.top_k))
                return RP_EXIT_USAGE;
            break;
        case OPT_TOP_P:
            if (!rp_cli_opt_float("run", "--top-p", optarg, 0, 1, &f))
                return RP_EXIT_USAGE;
            o.top_p = f;
            o.has_top_p = true;
            break;
        case OPT_SEED:
            if (!rp_cli_parse_u64(optarg, &o.seed))
                return rp_cli_usage_error("run", "--seed needs a non-negative number, not '%s'", optarg);
            o.has_seed = true;
            break;
        case RP_CLI_OPT_LOG_LEVEL:
        case RP_CLI_OPT_LOG_FORMAT:
            if (!rp_cli_log_option("run", c, optarg))
                return RP_EXIT_USAGE;
            break;
        case 'q':
            rp_log_set_level(RP_LOG_WARN);
            if (!progress_given)
                p.progress = RP_PROGRESS_OFF;
            break;
        case OPT_METRICS:
            metrics_addr = optarg;
            break;
        case OPT_PROGRESS:
            if (!rp_cli_parse_progress(optarg, &p.progress))
                return rp_cli_usage_error("run", "--progress takes auto, tty, plain or off, not '%s'", optarg);
            progress_given = true;
            break;
        case OPT_NO_MONITOR:
            p.no_monitor = true;
            break;
        case RP_CLI_OPT_FORMAT:
        case RP_CLI_OPT_SPLIT:
        case RP_CLI_OPT_SYSTEM_PROMPT:
        case RP_CLI_OPT_SYSTEM_PROMPT_FILE:
        case RP_CLI_OPT_METADATA:
            if (!rp_cli_export_option(&xo, c, optarg))
                return RP_EXIT_USAGE;
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
    if (config_path && (model_given || endpoint))
        return rp_cli_usage_error("run", "--config describes the tiers: give --model/--endpoint in it, "
                                         "not on the command line");
    int status = rp_cli_export_prepare(&xo, false);
    if (status != RP_EXIT_OK) {
        rp_cli_export_release(&xo);
        return status;
    }
    p.inputs = (const char *const *)(argv + optind);
    p.n_inputs = (size_t)(argc - optind);

    struct rp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = config_path ? rp_config_load(config_path, &cfg, &err)
                                 : rp_config_default(&cfg, model, endpoint, &err);
    if (rc) {
        fprintf(stderr, "ranpipe run: %s\n", err.msg[0] ? err.msg : rp_strerror(rc));
        rp_cli_export_release(&xo);
        return RP_EXIT_FAIL;
    }
    apply_overrides(&cfg, &o);
    p.config = &cfg;

    /* SIGINT/SIGTERM: drain and stop, ready to resume; a second one ends
     * the process at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    p.stop = &stop_requested;

    /* /metrics: served for the whole command (every --watch pass counts
     * into the same registry). */
    struct rp_metrics *metrics = NULL;
    struct rp_metrics_server *server = NULL;
    if (metrics_addr) {
        if (p.no_monitor) {
            rp_config_release(&cfg);
            rp_cli_export_release(&xo);
            return rp_cli_usage_error("run", "--metrics needs monitoring: leave out --no-monitor");
        }
        metrics = rp_metrics_new();
        server = metrics ? rp_metrics_serve(metrics, metrics_addr, &err) : NULL;
        if (!server) {
            fprintf(stderr, "ranpipe run: %s\n", metrics ? err.msg : "out of memory");
            rp_metrics_free(metrics);
            rp_config_release(&cfg);
            rp_cli_export_release(&xo);
            return RP_EXIT_FAIL;
        }
        const char *colon = strrchr(metrics_addr, ':');
        int host_len = colon ? (int)(colon - metrics_addr) : 0;
        rp_info("metrics: http://%.*s:%d/metrics (Prometheus text format)", host_len ? host_len : 9,
                host_len ? metrics_addr : "127.0.0.1", rp_metrics_server_port(server));
        p.metrics = metrics;
    }

    struct rp_run_summary sum;
    for (unsigned pass = 1;; pass++) {
        /* With --watch the inputs are watched from before the pass reads
         * them, so nothing written meanwhile is missed. */
        struct rp_cli_watch *w = watch ? rp_cli_watch_new(p.inputs, p.n_inputs) : NULL;
        if (watch && !w) {
            status = RP_EXIT_FAIL;
            break;
        }
        rc = rp_run(&p, &sum, &err);
        if (rc == RP_ERR_CANCELLED && sum.interrupted) {
            if (rp_log_get_level() <= RP_LOG_INFO)
                print_summary(&p, &sum);
            fprintf(stderr, "ranpipe run: %s\n", err.msg);
            rp_cli_watch_free(w);
            status = RP_EXIT_INTERRUPTED;
            break;
        }
        if (rc) {
            fprintf(stderr, "ranpipe run: %s\n", err.msg[0] ? err.msg : rp_strerror(rc));
            rp_cli_watch_free(w);
            status = RP_EXIT_FAIL;
            break;
        }
        if (rp_log_get_level() <= RP_LOG_INFO)
            print_summary(&p, &sum);
        else if (sum.pending)
            fprintf(stderr, "ranpipe: %zu chunks wait for an LLM tier (%s/pending.jsonl): run again with --model or --endpoint\n",
                    sum.pending, p.out_dir);
        if (xo.format_given)
            status = rp_cli_export_write(&xo, p.out_dir);
        if (!w)
            break;
        rp_info("pass %u done; watching the inputs for changes (Ctrl-C stops)", pass);
        int changed = rp_cli_watch_wait(w, &stop_requested);
        rp_cli_watch_free(w);
        if (changed < 0)
            status = RP_EXIT_FAIL;
        if (changed <= 0)
            break;
        rp_info("inputs changed: pass %u", pass + 1);
    }
    rp_metrics_server_stop(server);
    rp_metrics_free(metrics);
    rp_config_release(&cfg);
    rp_cli_export_release(&xo);
    return status;
}
