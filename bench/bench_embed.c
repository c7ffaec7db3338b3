/*
 * bench_embed.c - embedding throughput: texts per second when each text is
 * embedded alone (batch size 1, the peer) against batches of 32 texts, in
 * the same run, on each model given.
 *
 *   ranpipe-bench-embed [-t THREADS] [-n TEXTS] [-r ROUNDS] MODEL.gguf...
 *
 * The texts imitate what the quality scorer embeds for each QA pair: a
 * question (about 20 tokens), an answer (about 40) and the context they
 * were drawn from (about 250), in that rotation. Each round embeds all
 * texts at batch size 1 and then at 32 (after one warm-up round); the best
 * round of each is reported, with the ratio b32/b1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ranpipe/buf.h"
#include "ranpipe/embed.h"
#include "ranpipe/llm.h"
#include "ranpipe/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const words[] = {
    "the",      "UE",        "gNB",        "cell",       "RSRP",      "handover",  "measurement",
    "report",   "threshold", "carrier",    "PUSCH",      "power",     "control",   "neighbour",
    "relation", "timer",     "configured", "dBm",        "beam",      "SSB",       "bandwidth",
    "part",     "scheduler", "allocates",  "resource",   "blocks",    "when",      "event",
    "A3",       "triggers",  "offset",     "hysteresis", "is",        "applied",   "to",
    "serving",  "and",       "target",     "cells",      "parameter", "qRxLevMin", "sets",
    "minimum",  "receive",   "level",      "for",        "camping",   "on",        "frequency",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

/* Text i: a question, an answer or a context by turns, of pseudo-random words. */
static int make_text(struct rp_buf *b, size_t i)
{
    static const int n_words[3] = {14, 28, 180}; /* about 20, 40, 250 tokens */
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
    int n = n_words[i % 3];
    for (int w = 0; w < n; w++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (rp_buf_addf(b, "%s%s", w ? " " : "", words[x % N_WORDS]))
            return -1;
        if (w % 12 == 11 && rp_buf_addf(b, "."))
            return -1;
    }
    return rp_buf_addf(b, i % 3 == 0 ? "?" : ".") ? -1 : 0;
}

/* Seconds to embed all n texts in batches of bs. */
static double run(struct rp_embedder *e, const char *const *t, const size_t *lens, size_t n,
                  size_t bs, float *out)
{
    struct rp_error err;
    double t0 = now_s();
    for (size_t i = 0; i < n; i += bs) {
        size_t k = n - i < bs ? n - i : bs;
        if (rp_embed_batch(e, t + i, lens + i, k, out + i * (size_t)rp_embedder_dim(e), &err)) {
            fprintf(stderr, "bench-embed: %s\n", err.msg);
            exit(1);
        }
    }
    return now_s() - t0;
}

static int bench_model(const char *model, int threads, size_t n, int rounds)
{
    struct rp_error err;
    struct rp_embed_params p = rp_embed_default_params();
    p.model = model;
    p.n_threads = threads;
    double t_load = now_s();
    struct rp_embedder *e = rp_embedder_new(&p, &err);
    if (!e) {
        fprintf(stderr, "bench-embed: %s\n", err.msg);
        return 1;
    }
    t_load = now_s() - t_load;
    struct rp_llama *tk = rp_llama_tokenizer_new(model, &err);
    if (!tk) {
        fprintf(stderr, "bench-embed: %s\n", err.msg);
        rp_embedder_free(e);
        return 1;
    }
    struct rp_buf *bufs = calloc(n, sizeof(*bufs));
    const char **t = calloc(n, sizeof(*t));
    size_t *lens = calloc(n, sizeof(*lens));
    float *out = calloc(n * (size_t)rp_embedder_dim(e), sizeof(float));
    if (!bufs || !t || !lens || !out) {
        fprintf(stderr, "bench-embed: out of memory\n");
        exit(1);
    }
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        rp_buf_init(&bufs[i], RP_BUF_NO_CAP);
        if (make_text(&bufs[i], i)) {
            fprintf(stderr, "bench-embed: out of memory\n");
            exit(1);
        }
        t[i] = bufs[i].data;
        lens[i] = bufs[i].len;
        tokens += rp_llama_count_tokens(t[i], lens[i], tk);
    }

    run(e, t, lens, n, 32, out); /* warm-up */
    double best1 = 1e300, best32 = 1e300;
    for (int r = 0; r < rounds; r++) {
        double s1 = run(e, t, lens, n, 1, out);
        double s32 = run(e, t, lens, n, 32, out);
        best1 = s1 < best1 ? s1 : best1;
        best32 = s32 < best32 ? s32 : best32;
    }
    const char *base = strrchr(model, '/');
    printf("%s: dim %d, %s pooling, load %.2f s; %zu texts, %.1f tokens/text; best of %d rounds\n",
           base ? base + 1 : model, rp_embedder_dim(e), rp_embedder_pooling(e), t_load, n,
           (double)tokens / (double)n, rounds);
    printf("  batch  1: %8.1f texts/s (%8.0f tokens/s)\n", (double)n / best1,
           (double)tokens / best1);
    printf("  batch 32: %8.1f texts/s (%8.0f tokens/s)\n", (double)n / best32,
           (double)tokens / best32);
    printf("  ratio b32/b1: %.2f\n", best1 / best32);

    for (size_t i = 0; i < n; i++)
        rp_buf_release(&bufs[i]);
    free(bufs);
    free(t);
    free(lens);
    free(out);
    rp_llama_free(tk);
    rp_embedder_free(e);
    return 0;
}

static int parse_int(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1 << 20) {
        fprintf(stderr, "bench-embed: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int threads = 0, n = 96, rounds = 3, c;
    while ((c = getopt(argc, argv, "t:n:r:")) != -1) {
        switch (c) {
        case 't':
            threads = parse_int(optarg, "thread count");
            break;
        case 'n':
            n = parse_int(optarg, "text count");
            break;
        case 'r':
            rounds = parse_int(optarg, "round count");
            break;
        default:
            fprintf(stderr, "usage: ranpipe-bench-embed [-t THREADS] [-n TEXTS] [-r ROUNDS] "
                            "MODEL.gguf...\n");
            return 2;
        }
    }
    if (optind >= argc || n < 1 || rounds < 1) {
        fprintf(stderr,
                "usage: ranpipe-bench-embed [-t THREADS] [-n TEXTS] [-r ROUNDS] MODEL.gguf...\n");
        return 2;
    }
    rp_log_set_level(RP_LOG_ERROR);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("ranpipe-bench-embed: %d threads (%ld cores)\n", threads > 0 ? threads : (int)cores,
           cores);
    for (int i = optind; i < argc; i++)
        if (bench_model(argv[i], threads, (size_t)n, rounds))
            return 1;
    return 0;
}
