/*
 * cmd_assess.c - `ranpipe assess`: quality scores for existing QA pairs.
 *
 * Reads JSON Lines records with "context", "question" and "answer" (other
 * fields are kept as they are), and writes each record back with a
 * "quality" object, in input order, through the same assessor `ranpipe run`
 * uses. Consecutive records with the same context share its index.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ranpipe/assess.h"
#include "ranpipe/config.h"
#include "ranpipe/embed.h"
#include "ranpipe/judge.h"
#include "ranpipe/log.h"

void rp_cmd_assess_help(void)
{
    struct rp_assess_params d = rp_assess_default_params();
    printf("usage: ranpipe assess [OPTIONS] IN.jsonl\n"
           "\n"
           "Scores question-answer pairs against their contexts. Each line of IN.jsonl\n"
           "is a JSON object with \"context\", \"question\" and \"answer\" (other fields are\n"
           "kept). Each record is written back with a \"quality\" object:\n"
           "  score     0-1, the weighted checks times a penalty per hard defect\n"
           "  verdict   \"accept\" or \"reject\"\n"
           "  reasons   why it was rejected (empty when accepted)\n"
           "  checks    sub-scores: structure, grounding, support, answerable,\n"
           "            consistency, semantic and judge (null when not measured)\n"
           "Near-duplicates across the file are rejected, naming the earlier record's\n"
           "\"id\" (or #N, its 0-based line among the records, when it has none).\n"
           "docs/quality.md describes every check.\n"
           "\n"
           "Options:\n"
           "  -o, --out FILE             write the records here (default: standard output)\n"
           "  -c, --config FILE          take the quality settings from this config file\n"
           "      --threshold X          accept at or above this score (default: %.2f)\n"
           "      --no-dedup             keep near-duplicates\n"
           "      --dedup-threshold X    similarity of two questions that makes a\n"
           "                             near-duplicate (default: %.2f)\n"
           "      --dedup-pair-threshold X  the same for question + answer (default: %.2f)\n"
           "      --embed-model PATH     GGUF embedding model for the semantic check\n"
           "      --judge-model PATH     LLM judge: a GGUF model run in a worker process\n"
           "      --judge-endpoint URL   LLM judge: an OpenAI-compatible server\n"
           "      --judge TIER           LLM judge: this tier of --config (default: the\n"
           "                             config's quality.judge); the judge rates only\n"
           "                             the pairs the other checks accept\n"
           "      --conflicts FILE       write parameters given different defaults or\n"
           "                             ranges by accepted records (JSON Lines)\n"
           "      --log-level L          debug, info, warn, error (default: info)\n"
           "      --log-format F         text or json lines (default: text)\n"
           "  -q, --quiet                no summary on standard error\n"
           "  -h, --help                 show this help\n"
           "\n"
           "Exit status: 0 when every line was assessed, 1 when a line could not be read\n"
           "(each is reported as FILE:LINE: reason and the others are still written),\n"
           "2 for a usage error.\n",
           d.quality.threshold, d.dedup_threshold, d.dedup_pair_threshold);
}

enum { OPT_JUDGE_MODEL = 300, OPT_JUDGE_ENDPOINT, OPT_JUDGE };
enum { OPT_THRESHOLD = 256, OPT_NO_DEDUP, OPT_DEDUP_THRESHOLD, OPT_DEDUP_PAIR_THRESHOLD, OPT_EMBED_MODEL, OPT_CONFLICTS };

static const struct option assess_options[] = {
    {"out", required_argument, NULL, 'o'},
    {"config", required_argument, NULL, 'c'},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
    {"dedup-threshold", required_argument, NULL, OPT_DEDUP_THRESHOLD},
    {"dedup-pair-threshold", required_argument, NULL, OPT_DEDUP_PAIR_THRESHOLD},
    {"embed-model", required_argument, NULL, OPT_EMBED_MODEL},
    {"judge-model", required_argument, NULL, OPT_JUDGE_MODEL},
    {"judge-endpoint", required_argument, NULL, OPT_JUDGE_ENDPOINT},
    {"judge", required_argument, NULL, OPT_JUDGE},
    {"conflicts", required_argument, NULL, OPT_CONFLICTS},
    RP_CLI_LOG_OPTIONS,
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *str_field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

struct assess_run {
    const char *in_path;
    FILE *out;
    struct rp_assessor *as;
    char *last_context;
    struct rp_quality_ctx *ctx;
    size_t bad_lines;
    size_t written;    /* records written so far: #N names the record written N-th, from 0 */
    size_t incomplete; /* records without context, question or answer (rejected here) */
};

/* Assesses one line; false only on a fatal error (out of memory, output
 * failure, a failing embedding model). */
static bool assess_line(struct assess_run *r, const char *line, size_t len, size_t lineno)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        rp_log(RP_LOG_ERROR, "%s:%zu: %s", r->in_path, lineno,
               o ? "not a JSON object" : jerr.text);
        json_decref(o);
        r->bad_lines++;
        return true;
    }
    const char *context = str_field(o, "context");
    const char *question = str_field(o, "question");
    const char *answer = str_field(o, "answer");
    struct rp_quality q;
    if (!context || !question || !answer) {
        /* Kept, and rejected with the reason: nothing is dropped. */
        memset(&q, 0, offsetof(struct rp_quality, text));
        q.semantic = q.judge = -1;
        rp_quality_add_reason(&q, "malformed: the record has no string \"%s\"",
                              !context ? "context" : !question ? "question" : "answer");
        rp_log(RP_LOG_WARN, "%s:%zu: no string \"%s\"; the record is rejected", r->in_path, lineno,
               !context ? "context" : !question ? "question" : "answer");
        r->incomplete++;
    } else {
        if (!r->last_context || strcmp(r->last_context, context) != 0) {
            rp_quality_ctx_free(r->ctx);
            free(r->last_context);
            r->ctx = rp_quality_ctx_new(context, strlen(context));
            r->last_context = strdup(context);
            if (!r->ctx || !r->last_context) {
                rp_log(RP_LOG_ERROR, "assess: out of memory");
                json_decref(o);
                return false;
            }
        }
        json_t *idv = json_object_get(o, "id");
        char idbuf[32];
        const char *id = idbuf;
        if (json_is_string(idv))
            id = json_string_value(idv);
        else if (json_is_integer(idv))
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(idv));
        else /* the assessor's own #N would skip the records it never saw */
            snprintf(idbuf, sizeof idbuf, "#%zu", r->written);
        const char *source = str_field(o, "source");
        json_t *meta = json_object_get(o, "metadata");
        if (!source && json_is_object(meta))
            source = str_field(meta, "source");
        struct rp_assess_item it = {.ctx = r->ctx, .context = context, .question = question, .answer = answer,
                                    .id = id, .source = source};
        struct rp_error err = {0};
        if (rp_assessor_check(r->as, &it, &q, &err) != RP_ERR_OK) {
            rp_log(RP_LOG_ERROR, "%s:%zu: %s", r->in_path, lineno, err.msg);
            json_decref(o);
            return false;
        }
    }
    json_object_set_new(o, "quality", rp_quality_to_json(&q));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) {
        rp_log(RP_LOG_ERROR, "assess: out of memory");
        return false;
    }
    bool wrote = fputs(s, r->out) >= 0 && fputc('\n', r->out) != EOF;
    free(s);
    r->written++;
    if (!wrote)
        rp_log(RP_LOG_ERROR, "assess: cannot write the output: %s", strerror(errno));
    return wrote;
}

int rp_cmd_assess(int argc, char **argv)
{
    const char *out_path = NULL, *config_path = NULL, *embed_model = NULL, *conflicts_path = NULL;
    const char *judge_model = NULL, *judge_endpoint = NULL, *judge_tier = NULL;
    struct rp_assess_params ap = rp_assess_default_params();
    bool quiet = false, no_dedup = false;
    float threshold = -1, dedup_threshold = -1, dedup_pair_threshold = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:c:qh", assess_options, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'c': config_path = optarg; break;
        case OPT_THRESHOLD:
            if (!rp_cli_opt_float("assess", "--threshold", optarg, 0, 1, &threshold))
                return RP_EXIT_USAGE;
            break;
        case OPT_NO_DEDUP: no_dedup = true; break;
        case OPT_DEDUP_THRESHOLD:
            if (!rp_cli_opt_float("assess", "--dedup-threshold", optarg, 0.05f, 1, &dedup_threshold))
                return RP_EXIT_USAGE;
            break;
        case OPT_DEDUP_PAIR_THRESHOLD:
            if (!rp_cli_opt_float("assess", "--dedup-pair-threshold", optarg, 0.05f, 1, &dedup_pair_threshold))
                return RP_EXIT_USAGE;
            break;
        case OPT_EMBED_MODEL: embed_model = optarg; break;
        case OPT_JUDGE_MODEL: judge_model = optarg; break;
        case OPT_JUDGE_ENDPOINT: judge_endpoint = optarg; break;
        case OPT_JUDGE: judge_tier = optarg; break;
        case OPT_CONFLICTS: conflicts_path = optarg; break;
        case RP_CLI_OPT_LOG_LEVEL:
        case RP_CLI_OPT_LOG_FORMAT:
            if (!rp_cli_log_option("assess", c, optarg))
                return RP_EXIT_USAGE;
            break;
        case 'q': quiet = true; break;
        case 'h': rp_cmd_assess_help(); return RP_EXIT_OK;
        default: return rp_cli_bad_option("assess", c, argv);
        }
    }
    if (optind + 1 != argc)
        return rp_cli_usage_error("assess", optind == argc ? "no input file given" : "give one input file");
    const char *in_path = argv[optind];
    if (!!judge_model + !!judge_endpoint + !!judge_tier > 1)
        return rp_cli_usage_error("assess", "give one of --judge-model, --judge-endpoint and --judge");
    if (judge_tier && !config_path)
        return rp_cli_usage_error("assess", "--judge names a tier of --config FILE");

    struct rp_error err = {0};
    struct rp_config cfg = {0};
    if (config_path) {
        if (rp_config_load(config_path, &cfg, &err) != RP_ERR_OK) {
            rp_log(RP_LOG_ERROR, "%s", err.msg);
            return RP_EXIT_FAIL;
        }
        ap.quality = cfg.quality.scorer;
        ap.dedup = cfg.quality.dedup;
        ap.dedup_threshold = cfg.quality.dedup_threshold;
        ap.dedup_pair_threshold = cfg.quality.dedup_pair_threshold;
        if (!embed_model)
            embed_model = cfg.quality.embed_model;
        if (!judge_tier && !judge_model && !judge_endpoint)
            judge_tier = cfg.quality.judge;
    }
    if (threshold >= 0)
        ap.quality.threshold = threshold;
    if (dedup_threshold >= 0)
        ap.dedup_threshold = dedup_threshold;
    if (dedup_pair_threshold >= 0)
        ap.dedup_pair_threshold = dedup_pair_threshold;
    if (no_dedup)
        ap.dedup = false;

    int rc = RP_EXIT_FAIL;
    FILE *in = NULL, *out = NULL, *cf = NULL;
    struct rp_embedder *emb = NULL;
    struct rp_judge *judge = NULL;
    struct rp_config jcfg = {0};
    struct assess_run r = {.in_path = in_path};
    char *line = NULL;
    size_t cap = 0;
    in = fopen(in_path, "r");
    if (!in) {
        rp_log(RP_LOG_ERROR, "cannot open '%s': %s", in_path, strerror(errno));
        goto out;
    }
    if (embed_model) {
        struct rp_embed_params ep = rp_embed_default_params();
        ep.model = embed_model;
        emb = rp_embedder_new(&ep, &err);
        if (!emb) {
            rp_log(RP_LOG_ERROR, "%s", err.msg);
            goto out;
        }
        ap.embedder = emb;
    }
    if (judge_model || judge_endpoint || judge_tier) {
        const struct rp_tier_config *jt = NULL;
        if (judge_tier) {
            jt = rp_config_tier(&cfg, judge_tier);
            if (!jt || jt->kind == RP_BACKEND_EXTRACTIVE) {
                rp_log(RP_LOG_ERROR, "%s: %s '%s'", config_path, jt ? "the judge must be an LLM tier, not" : "no tier is called",
                       judge_tier);
                goto out;
            }
        } else {
            /* The same tier `run --model` / `run --endpoint` would make. */
            if (rp_config_default(&jcfg, judge_model, judge_endpoint, &err) != RP_ERR_OK) {
                rp_log(RP_LOG_ERROR, "%s", err.msg);
                goto out;
            }
            jt = rp_config_tier(&jcfg, "small");
        }
        struct rp_judge_params jp = rp_judge_default_params();
        judge = jt ? rp_judge_new(jt, NULL, &jp, &err) : NULL;
        if (!judge) {
            rp_log(RP_LOG_ERROR, "judge: %s", err.msg);
            goto out;
        }
        ap.judge = rp_judge_fn_strict;
        ap.judge_ud = judge;
    }
    r.as = rp_assessor_new(&ap, &err);
    if (!r.as) {
        rp_log(RP_LOG_ERROR, "%s", err.msg);
        goto out;
    }
    out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        rp_log(RP_LOG_ERROR, "cannot create '%s': %s", out_path, strerror(errno));
        goto out;
    }
    r.out = out;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t n;
    size_t lineno = 0;
    bool fatal = false;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t k = 0;
        if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(line, line + 3, len - 3); /* a UTF-8 byte order mark */
            len -= 3;
        }
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len)
            continue; /* blank lines */
        if (!assess_line(&r, line, len, lineno)) {
            fatal = true;
            break;
        }
    }
    if (ferror(in)) {
        rp_log(RP_LOG_ERROR, "cannot read '%s': %s", in_path, strerror(errno));
        fatal = true;
    }
    if (out != stdout && fclose(out) != 0) {
        rp_log(RP_LOG_ERROR, "cannot write '%s': %s", out_path, strerror(errno));
        fatal = true;
    } else if (out == stdout && fflush(stdout) != 0) {
        fatal = true;
    }
    out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (conflicts_path) {
        cf = fopen(conflicts_path, "w");
        if (!cf) {
            rp_log(RP_LOG_ERROR, "cannot create '%s': %s", conflicts_path, strerror(errno));
            fatal = true;
        } else {
            rp_assessor_write_conflicts(r.as, cf);
            if (fclose(cf) != 0)
                fatal = true;
            cf = NULL;
        }
    }
    struct rp_assess_stats st;
    rp_assessor_stats(r.as, &st);
    if (!quiet) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr,
                "assess: %zu records: %zu accepted, %zu rejected (%zu structural, %zu hallucinated, %zu "
                "unsupported, %zu contradicting, %zu unanswerable, %zu near-duplicates); %zu parameter "
                "conflicts; %zu unreadable lines; %.0f records/s\n",
                st.records + r.incomplete, st.accepted, st.rejected + r.incomplete, st.structural + r.incomplete,
                st.hallucinated, st.unsupported,
                st.contradictions, st.unanswerable, st.duplicates, st.conflicts, r.bad_lines,
                secs > 0 ? (double)st.records / secs : 0.0);
    }
    rc = fatal || r.bad_lines ? RP_EXIT_FAIL : RP_EXIT_OK;
out:
    free(line);
    if (in)
        fclose(in);
    if (out && out != stdout)
        fclose(out);
    rp_assessor_free(r.as);
    rp_quality_ctx_free(r.ctx);
    free(r.last_context);
    rp_embedder_free(emb);
    rp_judge_free(judge);
    rp_config_release(&jcfg);
    rp_config_release(&cfg);
    return rc;
}
