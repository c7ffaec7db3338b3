/*
 * bench_dedup.c - near-duplicate removal at the scale of a large run: N
 * question/answer pairs through two detectors, one on the question (about
 * 12 words) and one on question + answer (about 60 words), as the pipeline
 * keeps them. The peer, in the same run, is exact-duplicate removal: XXH3 of
 * the raw text in an open-addressing set.
 *
 *   ranpipe-bench-dedup [N]      (default 10^6 pairs)
 *
 * Texts are generated from a seeded RAN vocabulary (tests/unit/synth_text.h);
 * 1% of the pairs are near-duplicates of an earlier pair (case and
 * punctuation noise, or one word inserted). Only the detector calls are
 * timed. Prints records/s per detector and for the peer, the bytes each
 * detector holds (rp_dedup_memory), the peak RSS of the process
 * (getrusage ru_maxrss), and both against the goal of 1 GB for the two.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <xxhash.h>

#include "ranpipe/dedup.h"
#include "ranpipe/hash.h"
#include "synth_text.h"

#define GOAL_BYTES 1e9

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Exact-duplicate peer: 64-bit hashes in linear probing, 0 marks empty. */
struct exact_set {
    uint64_t *slot;
    size_t cap;
};

static bool exact_check_add(struct exact_set *s, const char *text, size_t len)
{
    uint64_t h = XXH3_64bits(text, len) | 1u;
    for (size_t i = h % s->cap;; i = i + 1 == s->cap ? 0 : i + 1) {
        if (s->slot[i] == h)
            return true;
        if (!s->slot[i]) {
            s->slot[i] = h;
            return false;
        }
    }
}

/* Words of pair i: a question of 8-16 words and an answer of 36-60. */
static void pair_words(size_t i, struct synth_text *q, struct synth_text *a)
{
    struct rp_rng r;
    rp_rng_seed(&r, 0xBE7C4ull * 0x9E3779B97F4A7C15ull + i);
    synth_words(&r, 8 + rp_rng_next(&r) % 9, q);
    synth_words(&r, 36 + rp_rng_next(&r) % 25, a);
}

struct side {
    const char *name;
    struct rp_dedup *d;
    uint64_t ns;
    size_t dups;
};

static int run_one(struct side *s, const char *text, size_t len)
{
    struct rp_error err;
    bool dup;
    uint64_t t0 = now_ns();
    if (rp_dedup_check_add(s->d, text, len, &dup, NULL, NULL, &err) != RP_OK) {
        fprintf(stderr, "bench-dedup: %s\n", err.msg);
        return 1;
    }
    s->ns += now_ns() - t0;
    s->dups += dup;
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 1000) {
        fprintf(stderr, "usage: ranpipe-bench-dedup [N >= 1000]\n");
        return 2;
    }
    struct rp_error err;
    struct side q = {.name = "questions (~12 words)"}, qa = {.name = "question+answer (~60 words)"};
    q.d = rp_dedup_new(NULL, n, &err);
    qa.d = q.d ? rp_dedup_new(NULL, n, &err) : NULL;
    struct exact_set ex = {.cap = 2 * n};
    ex.slot = calloc(ex.cap, sizeof(uint64_t));
    if (!q.d || !qa.d || !ex.slot) {
        fprintf(stderr, "bench-dedup: %s\n", !ex.slot ? "out of memory" : err.msg);
        return 1;
    }

    struct rp_rng g;
    rp_rng_seed(&g, 1);
    static char qbuf[SYNTH_BUF], abuf[SYNTH_BUF], qabuf[2 * SYNTH_BUF];
    size_t planted = 0, q_words = 0, qa_words = 0, ex_dups = 0;
    uint64_t ex_ns = 0;
    for (size_t i = 0; i < n; i++) {
        struct synth_text tq, ta;
        unsigned style = SYNTH_QUESTION;
        if (i >= 1000 && rp_rng_uniform(&g) < 0.01) {
            pair_words((size_t)(rp_rng_next(&g) % i), &tq, &ta);
            if (rp_rng_next(&g) % 2) {
                style |= SYNTH_NOISE;
            } else {
                size_t at = (size_t)(rp_rng_next(&g) % tq.n);
                memmove(tq.w + at + 1, tq.w + at, (tq.n - at) * sizeof(tq.w[0]));
                tq.w[at] = synth_word(&g);
                tq.n++;
            }
            planted++;
        } else {
            pair_words(i, &tq, &ta);
        }
        size_t ql = synth_render(&tq, style, &g, qbuf);
        size_t al = synth_render(&ta, 0, &g, abuf);
        memcpy(qabuf, qbuf, ql);
        qabuf[ql] = ' ';
        memcpy(qabuf + ql + 1, abuf, al);
        q_words += tq.n;
        qa_words += tq.n + ta.n;
        if (run_one(&q, qbuf, ql) || run_one(&qa, qabuf, ql + 1 + al))
            return 1;
        uint64_t t0 = now_ns();
        ex_dups += exact_check_add(&ex, qabuf, ql + 1 + al);
        ex_ns += now_ns() - t0;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss * 1024.0;
    size_t mq = rp_dedup_memory(q.d), mqa = rp_dedup_memory(qa.d);
    printf("Near-duplicate removal: %zu pairs, %zu planted near-duplicates (1%%); "
           "mean words: question %.1f, question+answer %.1f\n",
           n, planted, (double)q_words / (double)n, (double)qa_words / (double)n);
    printf("%-30s %12s %9s %10s %10s %12s\n", "", "records/s", "us/rec", "dups", "held",
           "memory MB");
    struct side *sides[2] = {&q, &qa};
    for (int k = 0; k < 2; k++) {
        struct side *s = sides[k];
        size_t m = rp_dedup_memory(s->d);
        printf("%-30s %12.0f %9.2f %10zu %10zu %12.1f  (%.1f bytes/record)\n", s->name,
               (double)n / ((double)s->ns / 1e9), (double)s->ns / 1e3 / (double)n, s->dups,
               rp_dedup_count(s->d), (double)m / 1e6, (double)m / (double)rp_dedup_count(s->d));
    }
    printf("%-30s %12.0f %9.2f %10zu %10s %12.1f\n", "exact XXH3 set (peer, q+a)",
           (double)n / ((double)ex_ns / 1e9), (double)ex_ns / 1e3 / (double)n, ex_dups, "",
           (double)(ex.cap * sizeof(uint64_t)) / 1e6);
    printf("time ratio MinHash/exact on q+a: %.1fx; exact finds %zu of the %zu planted\n",
           (double)qa.ns / (double)ex_ns, ex_dups, planted);
    printf("two detectors hold %.1f MB = %.3f of the 1 GB goal; peak RSS %.1f MB = %.3f of it\n",
           (double)(mq + mqa) / 1e6, (double)(mq + mqa) / GOAL_BYTES, rss / 1e6, rss / GOAL_BYTES);
    rp_dedup_free(q.d);
    rp_dedup_free(qa.d);
    free(ex.slot);
    return 0;
}
