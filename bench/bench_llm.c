/*
 * bench_llm.c - the generation engine through the llama backend: model
 * worker processes (`ranpipe worker`) fed over the shared-memory channel,
 * driven the way the pipeline's generation stage drives them.
 *
 *   ranpipe-bench-llm --model GGUF --exe RANPIPE [--parallel P] [--requests R]
 *                     [--prompt PP] [--gen TG] [--threads T] [--grammar on|off]
 *                     [--ctx N] [--inproc]
 *       Starts a backend with one worker (P sequences, default 8; T threads,
 *       default 2; context per sequence N, default what the requests need),
 *       waits for the model, then submits R requests (default 2P) of about
 *       PP prompt tokens (default 128) with max_tokens TG (default 64), at
 *       most 2P in flight (the backend's capacity), and
 *       prints the aggregate generated tokens/s (the sum of n_gen_tokens over
 *       the wall time from the first submit to the last done) and the
 *       per-request latency p50. --grammar on gives every request the QA
 *       grammar (rp_prompt_qa_grammar, one pair). --inproc runs the same
 *       requests through rp_llama_run in this process instead (no worker,
 *       no channel) and prints the engine's own counters: decode calls,
 *       decode and sampling time.
 *
 *   ranpipe-bench-llm --switch --model A --model-b B --exe RANPIPE [--parallel P]
 *                     [--prompt PP] [--threads T] [--ctx N] [--rounds N]
 *       Model switch, with a run's parallel sequences and context (4 x 4096)
 *       unless given: a backend on A runs one request and is stopped (its
 *       worker exits: the model is unloaded); then a backend on B is started
 *       and a max_tokens=1 request is submitted at once; the time from the
 *       start to its response is the switch's first token. Then B -> A.
 *       One untimed round first, so the page cache holds both files.
 *
 * The last line of each mode is "RESULT key=value ...", for bench_llm.sh.
 * Sampling is the backend's default (temperature 0.7, top-k 40, top-p 0.9),
 * as in a run. On random weights a sequence may draw end-of-text before
 * TG; such requests are counted and reported ("early"), and the figure
 * counts the tokens actually generated.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/backend.h"
#include "ranpipe/backend_llama.h"
#include "ranpipe/buf.h"
#include "ranpipe/llm.h"
#include "ranpipe/log.h"
#include "ranpipe/prompt.h"

struct opts {
    const char *model, *model_b, *exe;
    int parallel, requests, prompt, gen, threads, ctx, rounds;
    bool grammar, inproc, sw;
};

struct job {
    struct rp_gen_request req;
    double t_submit, t_done;
};

struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n_done;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A user message of about n_tokens tokens with the Qwen tokenizer: common
 * English words, one token each with their leading space, rotated by seed
 * so that requests differ. The chat template adds about 10 tokens. */
static enum rp_err make_prompt(int n_tokens, unsigned seed, struct rp_buf *out)
{
    static const char *const words[] = {
        "the",   "cell",   "uses",  "a",     "new",   "carrier", "when", "load",    "is",
        "high",  "and",    "each",  "user",  "can",   "move",    "to",   "another", "band",
        "if",    "signal", "drops", "below", "this",  "level",   "for",  "more",    "than",
        "one",   "second", "so",    "that",  "power", "stays",   "low",  "in",      "all",
        "other", "cases",  "we",    "keep",  "it",
    };
    const size_t nw = sizeof(words) / sizeof(words[0]);
    int n = n_tokens > 12 ? n_tokens - 10 : 2;
    enum rp_err e = RP_OK;
    for (int i = 0; i < n && !e; i++)
        e = rp_buf_addf(out, "%s%s", i ? " " : "", words[(seed + (unsigned)i) % nw]);
    return e;
}

static void on_done(struct rp_gen_request *req, void *ud)
{
    struct run *r = ud;
    struct job *j = req->ud;
    j->t_done = now_s();
    pthread_mutex_lock(&r->mu);
    r->n_done++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static struct rp_llama_backend_params backend_params(const struct opts *o, const char *model)
{
    struct rp_llama_backend_params p = rp_llama_backend_default_params();
    p.llama.model_path = model;
    p.llama.n_parallel = o->parallel;
    p.llama.n_threads = o->threads;
    p.llama.n_ctx_seq = o->ctx;
    p.exe = o->exe;
    p.workers = 1;
    return p;
}

/* Sets up R requests (prompts and grammar owned by the caller's buffers). */
static struct job *make_jobs(const struct opts *o, int n, int max_tokens, struct rp_buf *prompts,
                             const char *grammar)
{
    struct job *jobs = calloc((size_t)n, sizeof(*jobs));
    if (!jobs)
        return NULL;
    for (int i = 0; i < n; i++) {
        rp_buf_init(&prompts[i], 1u << 20);
        if (make_prompt(o->prompt, (unsigned)i * 7u, &prompts[i])) {
            for (int k = 0; k <= i; k++)
                rp_buf_release(&prompts[k]);
            free(jobs);
            return NULL;
        }
        rp_gen_request_init(&jobs[i].req);
        jobs[i].req.user = prompts[i].data;
        jobs[i].req.grammar = grammar;
        jobs[i].req.seed = (uint64_t)i + 1;
        jobs[i].req.max_tokens = max_tokens;
        jobs[i].req.ud = &jobs[i];
    }
    return jobs;
}

struct summary {
    unsigned long long gen, prompt;
    int early, errors, fallbacks;
    double wall, p50, slot_p50;
};

static int summarize(const struct opts *o, struct job *jobs, int n, double t0, double t1,
                     struct summary *s)
{
    memset(s, 0, sizeof(*s));
    double *lat = calloc((size_t)n, sizeof(*lat));
    double *slot = calloc((size_t)n, sizeof(*slot));
    if (!lat || !slot) {
        free(lat);
        free(slot);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        struct rp_gen_request *r = &jobs[i].req;
        if (r->finish == RP_FINISH_ERROR) {
            if (!s->errors)
                fprintf(stderr, "bench-llm: request %d failed: %s\n", i, r->err.msg);
            s->errors++;
        }
        s->gen += (unsigned long long)r->n_gen_tokens;
        s->prompt += (unsigned long long)r->n_prompt_tokens;
        s->fallbacks += r->n_grammar_fallbacks;
        if (r->n_gen_tokens < o->gen)
            s->early++;
        lat[i] = jobs[i].t_done - jobs[i].t_submit;
        slot[i] = r->seconds;
    }
    s->wall = t1 - t0;
    s->p50 = median(lat, (size_t)n);
    s->slot_p50 = median(slot, (size_t)n);
    free(lat);
    free(slot);
    return s->errors ? 1 : 0;
}

static void print_summary(const struct opts *o, const char *how, const struct summary *s, int n,
                          const struct rp_gen_stats *st)
{
    double tps = s->wall > 0 ? (double)s->gen / s->wall : 0;
    double pavg = n ? (double)s->prompt / n : 0;
    double gavg = n ? (double)s->gen / n : 0;
    printf("%s, %d parallel, %d threads, grammar %s: %d requests, %.1f prompt + %.1f generated "
           "tokens each (max %d; %d ended early), %llu generated in %.2f s: %.1f tok/s; "
           "latency p50 %.2f s (in a slot %.2f s)\n",
           how, o->parallel, o->threads, o->grammar ? "on" : "off", n, pavg, gavg, o->gen, s->early,
           s->gen, s->wall, tps, s->p50, s->slot_p50);
    if (st)
        printf(
            "engine: %llu decode calls, decode %.2f s, sampling %.2f s (%llu grammar fallbacks), "
            "rp_llama_run %.2f s\n",
            (unsigned long long)st->decode_calls, st->decode_seconds, st->sample_seconds,
            (unsigned long long)st->grammar_fallbacks, st->wall_seconds);
    printf("RESULT tps=%.2f gen=%llu requests=%d early=%d prompt_avg=%.1f gen_avg=%.1f wall=%.3f "
           "p50=%.3f slot_p50=%.3f fallbacks=%d",
           tps, s->gen, n, s->early, pavg, gavg, s->wall, s->p50, s->slot_p50, s->fallbacks);
    if (st)
        printf(" decode_calls=%llu decode_s=%.3f sample_s=%.3f",
               (unsigned long long)st->decode_calls, st->decode_seconds, st->sample_seconds);
    printf("\n");
}

/* ---- throughput through the worker backend ---- */

static int bench_backend(const struct opts *o, struct job *jobs, int n)
{
    struct run r = {.n_done = 0};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_llama_backend_params p = backend_params(o, o->model);
    struct rp_backend *b = rp_backend_llama_new(&p, on_done, &r, &err);
    int rc = 1;
    if (!b || rp_backend_start(b, &err)) {
        fprintf(stderr, "bench-llm: %s\n", err.msg);
        goto out;
    }
    if (!rp_backend_llama_wait_ready(b, 1, 300)) {
        fprintf(stderr, "bench-llm: the worker did not load '%s'\n", o->model);
        goto out;
    }
    struct rp_llama_backend_stats bs;
    rp_backend_llama_stats(b, &bs);
    fprintf(stderr, "bench-llm: worker loaded '%s' in %.2f s\n", bs.model, bs.last_load_seconds);

    size_t cap = rp_backend_capacity(b);
    int next = 0;
    double t0 = now_s();
    pthread_mutex_lock(&r.mu);
    while (r.n_done < (size_t)n) {
        /* Keep the backend full: the pipeline's stage does the same. */
        while (next < n && rp_backend_in_flight(b) < cap) {
            jobs[next].t_submit = now_s();
            if (rp_backend_submit(b, &jobs[next].req)) {
                fprintf(stderr, "bench-llm: the backend refused a request\n");
                pthread_mutex_unlock(&r.mu);
                goto out;
            }
            next++;
        }
        pthread_cond_wait(&r.cv, &r.mu);
    }
    pthread_mutex_unlock(&r.mu);
    double t1 = 0;
    for (int i = 0; i < n; i++)
        t1 = jobs[i].t_done > t1 ? jobs[i].t_done : t1;
    struct summary s;
    rc = summarize(o, jobs, n, t0, t1, &s);
    print_summary(o, "ranpipe (llama backend, 1 worker)", &s, n, NULL);
out:
    rp_backend_free(b);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

/* ---- the same requests through rp_llama_run in this process ---- */

struct feed {
    struct job *jobs;
    int n, next;
};

static struct rp_gen_request *feed_next(bool block, void *ud)
{
    struct feed *f = ud;
    if (f->next >= f->n)
        return NULL;
    struct job *j = &f->jobs[f->next++];
    j->t_submit = now_s();
    return &j->req;
}

static void feed_done(struct rp_gen_request *req, void *ud)
{
    struct job *j = req->ud;
    j->t_done = now_s();
}

static int bench_inproc(const struct opts *o, struct job *jobs, int n)
{
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_llama_params lp = rp_llama_default_params();
    lp.model_path = o->model;
    lp.n_parallel = o->parallel;
    lp.n_threads = o->threads;
    lp.n_ctx_seq = o->ctx;
    struct rp_llama *m = rp_llama_new(&lp, &err);
    if (!m) {
        fprintf(stderr, "bench-llm: %s\n", err.msg);
        return 1;
    }
    struct rp_sampling sp = rp_sampling_default();
    struct feed f = {.jobs = jobs, .n = n};
    struct rp_gen_stats st = {0};
    double t0 = now_s();
    enum rp_err rc = rp_llama_run(m, &sp, feed_next, feed_done, &f, &st, &err);
    double t1 = now_s();
    rp_llama_free(m);
    if (rc) {
        fprintf(stderr, "bench-llm: %s\n", err.msg);
        return 1;
    }
    struct summary s;
    int bad = summarize(o, jobs, n, t0, t1, &s);
    /* All requests are taken at t0 here: latency is time in the engine. */
    print_summary(o, "in-process rp_llama_run", &s, n, &st);
    return bad;
}

/* ---- model switch ---- */

struct switch_result {
    double unload, first_token, load;
};

/* Runs one request on a backend (already started) and waits for it. */
static int one_request(struct rp_backend *b, struct run *r, struct job *j)
{
    rp_buf_reset(&j->req.text);
    rp_error_clear(&j->req.err);
    j->req.finish = RP_FINISH_NONE;
    pthread_mutex_lock(&r->mu);
    size_t want = r->n_done + 1;
    j->t_submit = now_s();
    if (rp_backend_submit(b, &j->req)) {
        pthread_mutex_unlock(&r->mu);
        fprintf(stderr, "bench-llm: the backend refused a request\n");
        return 1;
    }
    while (r->n_done < want)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    if (j->req.finish == RP_FINISH_ERROR) {
        fprintf(stderr, "bench-llm: %s\n", j->req.err.msg);
        return 1;
    }
    return 0;
}

/* Model `from` serves one request and is unloaded; `to` is started and its
 * first max_tokens=1 response timed from the start. */
static int switch_once(const struct opts *o, const char *from, const char *to, struct job *j,
                       struct switch_result *res)
{
    struct run r = {.n_done = 0};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    struct rp_error err;
    rp_error_clear(&err);
    int rc = 1;
    struct rp_llama_backend_params pa = backend_params(o, from), pb = backend_params(o, to);
    struct rp_backend *a = rp_backend_llama_new(&pa, on_done, &r, &err), *b = NULL;
    if (!a || rp_backend_start(a, &err)) {
        fprintf(stderr, "bench-llm: %s\n", err.msg);
        goto out;
    }
    if (one_request(a, &r, j))
        goto out;
    double t0 = now_s();
    rp_backend_free(a); /* SHUTDOWN; the worker exits and its model is gone */
    a = NULL;
    double t1 = now_s();
    b = rp_backend_llama_new(&pb, on_done, &r, &err);
    if (!b || rp_backend_start(b, &err)) {
        fprintf(stderr, "bench-llm: %s\n", err.msg);
        goto out;
    }
    if (one_request(b, &r, j)) /* waits in the backend until the worker is READY */
        goto out;
    double t2 = now_s();
    struct rp_llama_backend_stats bs;
    rp_backend_llama_stats(b, &bs);
    res->unload = t1 - t0;
    res->first_token = t2 - t1;
    res->load = bs.last_load_seconds;
    rc = 0;
out:
    rp_backend_free(a);
    rp_backend_free(b);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int bench_switch(const struct opts *o)
{
    struct rp_buf prompt;
    struct job *j = make_jobs(o, 1, 1, &prompt, NULL);
    if (!j) {
        fprintf(stderr, "bench-llm: out of memory\n");
        return 1;
    }
    const char *m[2] = {o->model, o->model_b};
    int rc = 0;
    double worst = 0;
    struct switch_result res;
    /* Untimed: both files into the page cache, both directions once. */
    for (int d = 0; d < 2 && !rc; d++)
        rc = switch_once(o, m[d], m[1 - d], j, &res);
    for (int round = 0; round < o->rounds && !rc; round++) {
        for (int d = 0; d < 2 && !rc; d++) {
            rc = switch_once(o, m[d], m[1 - d], j, &res);
            if (rc)
                break;
            printf("switch %s -> %s: unload %.3f s, then start to first token %.3f s "
                   "(worker spawn to READY %.3f s; %d prompt tokens)\n",
                   base_name(m[d]), base_name(m[1 - d]), res.unload, res.first_token, res.load,
                   j->req.n_prompt_tokens);
            printf("RESULT switch=%d round=%d unload=%.3f first_token=%.3f load=%.3f\n", d, round,
                   res.unload, res.first_token, res.load);
            worst = res.first_token > worst ? res.first_token : worst;
        }
    }
    if (!rc)
        printf("worst first token after a switch: %.3f s (goal < 1 s)\n", worst);
    rp_gen_request_release(&j->req);
    rp_buf_release(&prompt);
    free(j);
    return rc;
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: ranpipe-bench-llm --model GGUF --exe RANPIPE [--parallel P] [--requests R]\n"
            "                         [--prompt PP] [--gen TG] [--threads T] [--grammar on|off]\n"
            "                         [--ctx N] [--inproc]\n"
            "       ranpipe-bench-llm --switch --model A --model-b B --exe RANPIPE [--parallel P]\n"
            "                         [--prompt PP] [--threads T] [--ctx N] [--rounds N]\n");
}

static bool parse_int(const char *name, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench-llm: %s must be %d..%d, not '%s'\n", name, lo, hi, s);
        return false;
    }
    *out = (int)v;
    return true;
}

enum {
    O_MODEL = 256,
    O_MODEL_B,
    O_EXE,
    O_PAR,
    O_REQ,
    O_PROMPT,
    O_GEN,
    O_THR,
    O_GRAMMAR,
    O_CTX,
    O_INPROC,
    O_SWITCH,
    O_ROUNDS,
    O_LOG
};

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"model-b", required_argument, NULL, O_MODEL_B},
        {"exe", required_argument, NULL, O_EXE},
        {"parallel", required_argument, NULL, O_PAR},
        {"requests", required_argument, NULL, O_REQ},
        {"prompt", required_argument, NULL, O_PROMPT},
        {"gen", required_argument, NULL, O_GEN},
        {"threads", required_argument, NULL, O_THR},
        {"grammar", required_argument, NULL, O_GRAMMAR},
        {"ctx", required_argument, NULL, O_CTX},
        {"inproc", no_argument, NULL, O_INPROC},
        {"switch", no_argument, NULL, O_SWITCH},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"log-level", required_argument, NULL, O_LOG},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.parallel = 0,
                     .requests = 0,
                     .prompt = 128,
                     .gen = 64,
                     .threads = 2,
                     .ctx = 0,
                     .rounds = 2};
    enum rp_log_level level = RP_LOG_WARN;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_MODEL:
            o.model = optarg;
            break;
        case O_MODEL_B:
            o.model_b = optarg;
            break;
        case O_EXE:
            o.exe = optarg;
            break;
        case O_PAR:
            ok = parse_int("--parallel", optarg, 1, 256, &o.parallel);
            break;
        case O_REQ:
            ok = parse_int("--requests", optarg, 1, 1 << 20, &o.requests);
            break;
        case O_PROMPT:
            ok = parse_int("--prompt", optarg, 4, 1 << 16, &o.prompt);
            break;
        case O_GEN:
            ok = parse_int("--gen", optarg, 1, 1 << 16, &o.gen);
            break;
        case O_THR:
            ok = parse_int("--threads", optarg, 0, 1024, &o.threads);
            break;
        case O_CTX:
            ok = parse_int("--ctx", optarg, 256, 1 << 20, &o.ctx);
            break;
        case O_ROUNDS:
            ok = parse_int("--rounds", optarg, 1, 100, &o.rounds);
            break;
        case O_INPROC:
            o.inproc = true;
            break;
        case O_SWITCH:
            o.sw = true;
            break;
        case O_GRAMMAR:
            ok = !strcmp(optarg, "on") || !strcmp(optarg, "off");
            o.grammar = !strcmp(optarg, "on");
            break;
        case O_LOG:
            ok = rp_log_parse_level(optarg, &level);
            break;
        default:
            ok = false;
        }
        if (!ok) {
            usage();
            return 2;
        }
    }
    if (optind < argc || !o.model || (!o.exe && !o.inproc) || (o.sw && !o.model_b)) {
        usage();
        return 2;
    }
    rp_log_set_level(level);
    if (o.parallel == 0) /* a run's default for the switch */
        o.parallel = o.sw ? rp_llama_default_params().n_parallel : 8;
    if (o.requests == 0)
        o.requests = 2 * o.parallel;
    if (o.ctx == 0) {
        /* The run's default for the switch; for throughput, what the requests
         * need (as batched-bench's -c), rounded to the worker's 256 steps. */
        o.ctx =
            o.sw ? rp_llama_default_params().n_ctx_seq : (o.prompt + o.gen + 64 + 255) / 256 * 256;
    }
    if (o.sw)
        return bench_switch(&o);

    struct rp_buf grammar;
    rp_buf_init(&grammar, 1u << 20);
    struct rp_qa_shape shape = rp_qa_shape_default();
    if (o.grammar && rp_prompt_qa_grammar(&shape, 1, &grammar)) {
        fprintf(stderr, "bench-llm: cannot build the grammar\n");
        return 1;
    }
    struct rp_buf *prompts = calloc((size_t)o.requests, sizeof(*prompts));
    struct job *jobs =
        prompts ? make_jobs(&o, o.requests, o.gen, prompts, o.grammar ? grammar.data : NULL) : NULL;
    if (!jobs) {
        fprintf(stderr, "bench-llm: out of memory\n");
        return 1;
    }
    int rc = o.inproc ? bench_inproc(&o, jobs, o.requests) : bench_backend(&o, jobs, o.requests);
    for (int i = 0; i < o.requests; i++) {
        rp_gen_request_release(&jobs[i].req);
        rp_buf_release(&prompts[i]);
    }
    free(jobs);
    free(prompts);
    rp_buf_release(&grammar);
    return rc;
}
