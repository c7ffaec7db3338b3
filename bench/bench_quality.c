/*
 * bench_quality.c - how well and how fast the assessor separates good QA
 * pairs from bad ones (make bench-quality).
 *
 *   ranpipe-bench-quality LABELED.jsonl [--threshold X] [--pair-threshold X] [--min-support X] [--verbose] [--speed N]
 *
 * Accuracy: every record of the labeled set (tests/data/quality/) goes
 * through the same assessor `ranpipe assess` uses (scorer + near-duplicate
 * removal, no judge, no embedding model). "Bad" is the positive class: a
 * rejected bad pair is a true positive. Prints precision, recall and F1 at
 * the configured threshold, ROC AUC of (1 - score), the confusion by defect
 * type, a threshold sweep, and the same figures for the two halves of the
 * set (odd and even records) so tuning on one half can be checked on the
 * other.
 *
 * Speed: N records (default 20000) with 1 kB contexts made from the labeled
 * set's contexts, each record with a context of its own (the worst case:
 * nothing is shared), scored on one thread; prints records/s and its ratio
 * to the goal of 5000 records/s per core.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ranpipe/assess.h"

struct rec {
    char *id, *context, *question, *answer, *defect;
    bool bad;
    double score;
    bool rejected;
    char reasons[512];
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *dupstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static int cmp_badness(const void *a, const void *b)
{
    const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;
    return (x->score > y->score) - (x->score < y->score);
}

/* ROC AUC of "bad" ranked by low score, ties counted half (Mann-Whitney). */
static double auc(struct rec *r, size_t n, int half)
{
    struct rec **v = malloc(n * sizeof *v);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (half < 0 || (int)(i % 2) == half)
            v[m++] = &r[i];
    qsort(v, m, sizeof *v, cmp_badness);
    double pos = 0, neg = 0, sum_ranks = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j]->score == v[i]->score)
            j++;
        double rank = (double)(i + j + 1) / 2.0; /* 1-based average rank, ascending score */
        for (size_t k = i; k < j; k++) {
            if (v[k]->bad) {
                pos++;
                sum_ranks += (double)m + 1 - rank; /* rank by descending badness */
            } else {
                neg++;
            }
        }
        i = j;
    }
    free(v);
    if (pos == 0 || neg == 0)
        return NAN;
    return (sum_ranks - pos * (pos + 1) / 2) / (pos * neg);
}

static void pr(struct rec *r, size_t n, int half, const char *label)
{
    size_t tp = 0, fp = 0, fn = 0, tn = 0;
    for (size_t i = 0; i < n; i++) {
        if (half >= 0 && (int)(i % 2) != half)
            continue;
        if (r[i].bad && r[i].rejected)
            tp++;
        else if (!r[i].bad && r[i].rejected)
            fp++;
        else if (r[i].bad)
            fn++;
        else
            tn++;
    }
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 0, rc = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    printf("%-12s records %4zu  bad-pair precision %.3f  recall %.3f  F1 %.3f  AUC %.3f  (tp %zu fp %zu fn %zu "
           "tn %zu)\n",
           label, tp + fp + fn + tn, p, rc, p + rc > 0 ? 2 * p * rc / (p + rc) : 0, auc(r, n, half), tp, fp, fn,
           tn);
}

static int assess_all(struct rec *r, size_t n, const struct rp_assess_params *ap)
{
    struct rp_error err = {0};
    struct rp_assessor *as = rp_assessor_new(ap, &err);
    if (!as) {
        fprintf(stderr, "bench-quality: %s\n", err.msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct rp_assess_item it = {.context = r[i].context, .question = r[i].question, .answer = r[i].answer,
                                    .id = r[i].id};
        struct rp_quality q;
        if (rp_assessor_check(as, &it, &q, &err) != RP_ERR_OK) {
            fprintf(stderr, "bench-quality: %s\n", err.msg);
            rp_assessor_free(as);
            return -1;
        }
        r[i].score = q.score;
        r[i].rejected = !q.accept;
        size_t used = 0;
        r[i].reasons[0] = '\0';
        for (size_t k = 0; k < q.n_reasons && used + 4 < sizeof r[i].reasons; k++) {
            int w = snprintf(r[i].reasons + used, sizeof r[i].reasons - used, "%s%s", k ? " | " : "", q.reasons[k]);
            if (w > 0)
                used += (size_t)w;
        }
    }
    rp_assessor_free(as);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    double threshold = -1, dedup_threshold = -1, min_support = -1;
    bool verbose = false;
    size_t speed_n = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            threshold = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--pair-threshold") && i + 1 < argc)
            dedup_threshold = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--min-support") && i + 1 < argc)
            min_support = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else if (!strcmp(argv[i], "--speed") && i + 1 < argc)
            speed_n = strtoul(argv[++i], NULL, 10);
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: ranpipe-bench-quality LABELED.jsonl [--threshold X] [--pair-threshold X] [--min-support X] [--verbose] [--speed N]\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    struct rec *r = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            r = realloc(r, cap * sizeof *r);
        }
        struct rec *x = &r[n++];
        memset(x, 0, sizeof *x);
        x->id = dupstr(o, "id");
        x->context = dupstr(o, "context");
        x->question = dupstr(o, "question");
        x->answer = dupstr(o, "answer");
        x->defect = dupstr(o, "defect");
        const char *label = json_string_value(json_object_get(o, "label"));
        x->bad = label && !strcmp(label, "bad");
        json_decref(o);
    }
    free(line);
    fclose(f);

    struct rp_assess_params ap = rp_assess_default_params();
    if (threshold >= 0)
        ap.quality.threshold = threshold;
    if (dedup_threshold > 0)
        ap.dedup_pair_threshold = dedup_threshold;
    if (min_support >= 0)
        ap.quality.min_support = min_support;
    if (assess_all(r, n, &ap))
        return 1;
    printf("labeled set: %s, threshold %.2f (no judge, no embedding model)\n", path, ap.quality.threshold);
    pr(r, n, -1, "all");
    pr(r, n, 0, "odd lines");
    pr(r, n, 1, "even lines");

    /* Confusion by defect type. */
    printf("\nby defect type (rejected / total):\n");
    const char *types[] = {"hallucinated_value", "hallucinated_identifier", "ungrounded_claim", "contradicts_context",
                           "unanswerable_question", "malformed", "trivial", "near_duplicate", ""};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t tot = 0, rej = 0;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(r[i].defect, types[t])) {
                tot++;
                rej += r[i].rejected;
            }
        printf("  %-24s %3zu / %3zu\n", types[t][0] ? types[t] : "(good pairs)", rej, tot);
    }
    if (verbose) {
        printf("\nmisclassified:\n");
        for (size_t i = 0; i < n; i++)
            if (r[i].bad != r[i].rejected)
                printf("  %s %s score %.3f: %s\n    Q: %s\n    A: %s\n", r[i].id,
                       r[i].bad ? r[i].defect : "good", r[i].score, r[i].reasons, r[i].question, r[i].answer);
    }
    printf("\nthreshold sweep (all records):\n");
    for (double t = 0.2; t <= 0.91; t += 0.1) {
        struct rp_assess_params sp = ap;
        sp.quality.threshold = t;
        if (assess_all(r, n, &sp))
            return 1;
        char label[32];
        snprintf(label, sizeof label, "t=%.1f", t);
        pr(r, n, -1, label);
    }

    /* Speed: 1 kB contexts, one per record. */
    size_t nctx = 0;
    char **ctxs = malloc(n * sizeof *ctxs);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && !strcmp(r[i].context, r[i - 1].context))
            continue;
        char *c = malloc(1025);
        size_t len = strlen(r[i].context), k = 0;
        while (k < 1024) {
            size_t take = len < 1024 - k ? len : 1024 - k;
            memcpy(c + k, r[i].context, take);
            k += take;
            if (k < 1024)
                c[k++] = ' ';
        }
        c[1024] = '\0';
        ctxs[nctx++] = c;
    }
    struct rp_assess_params sp = rp_assess_default_params();
    sp.expected_records = speed_n;
    struct rp_error err = {0};
    struct rp_assessor *as = rp_assessor_new(&sp, &err);
    double t0 = now();
    size_t accepted = 0;
    for (size_t i = 0; i < speed_n; i++) {
        struct rec *x = &r[i % n];
        /* A context of its own: the 1 kB text with the record number in front. */
        char *c = ctxs[i % nctx];
        char head[16];
        int hl = snprintf(head, sizeof head, "%zu ", i);
        memcpy(c, head, (size_t)hl);
        char q[1024];
        snprintf(q, sizeof q, "%s (%zu)", x->question, i); /* distinct questions: dedup does its full work */
        struct rp_assess_item it = {.context = c, .question = q, .answer = x->answer, .id = x->id};
        struct rp_quality qq;
        rp_assessor_check(as, &it, &qq, &err);
        accepted += qq.accept;
    }
    double secs = now() - t0;
    rp_assessor_free(as);
    printf("\nspeed: %zu records with 1 kB contexts (each its own) in %.2f s on one thread: %.0f records/s = %.2fx "
           "the goal of 5000/s per core (%zu accepted)\n",
           speed_n, secs, (double)speed_n / secs, (double)speed_n / secs / 5000.0, accepted);
    for (size_t i = 0; i < nctx; i++)
        free(ctxs[i]);
    free(ctxs);
    for (size_t i = 0; i < n; i++) {
        free(r[i].id);
        free(r[i].context);
        free(r[i].question);
        free(r[i].answer);
        free(r[i].defect);
    }
    free(r);
    return 0;
}
