/*
 * bench_metrics.c - cost of the metrics hot path (include/ranpipe/metrics.h)
 * against a plain non-atomic increment, its peer, in the same run.
 *
 *   ranpipe-bench-metrics [N]      (N operations per thread, default 2*10^7)
 *
 * One thread: a plain increment of a counter in memory, an update through a
 * NULL handle (monitoring off), rp_counter_add, rp_counter_add_f,
 * rp_hist_observe on the latency preset, and a plain (non-atomic)
 * histogram doing the same binary search as a second peer. Two threads:
 * both update one shared counter / histogram (the real case: two workers
 * counting the same thing) against plain increments of a counter per thread
 * (a shared plain counter would be a data race, not a peer). Prints ns per
 * operation per thread (best of 5 runs) and the ratio to the plain increment. Observed
 * values cycle through 4096 log-uniform latencies from 1 ms to 100 s.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ranpipe/metrics.h"

#define N_VALUES 4096

static double values[N_VALUES];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The peers: volatile so every increment is a load and a store to memory,
 * as it would be for a counter shared across a program. */
static volatile uint64_t plain_counter;
struct plain_hist {
    volatile uint64_t counts[RP_HIST_MAX_BUCKETS];
    volatile double sum;
};
static struct plain_hist plain_h;

/* Each thread's own plain counter, on its own cache line. */
struct padded {
    _Alignas(64) volatile uint64_t n;
};
static struct padded per_thread[2];

enum op { OP_PLAIN, OP_NULL, OP_ADD, OP_ADD_F, OP_OBSERVE, OP_PLAIN_HIST, OP_PLAIN_PER_THREAD };

struct job {
    enum op op;
    size_t n;
    int thread;
    struct rp_counter *c;
    struct rp_histogram *h;
    pthread_barrier_t *start;
    uint64_t ns; /* out: this thread's time for its n operations */
};

static void plain_observe(double v)
{
    size_t lo = 0, hi = RP_BUCKETS_LATENCY_S_N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= rp_buckets_latency_s[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    plain_h.counts[lo]++;
    plain_h.sum += v;
}

static void run_op(const struct job *j)
{
    size_t n = j->n;
    switch (j->op) {
    case OP_PLAIN:
        for (size_t i = 0; i < n; i++)
            plain_counter++;
        break;
    case OP_PLAIN_PER_THREAD:
        for (size_t i = 0; i < n; i++)
            per_thread[j->thread].n++;
        break;
    case OP_NULL: {
        /* Through a pointer the compiler cannot see is NULL. */
        struct rp_counter *volatile none = NULL;
        for (size_t i = 0; i < n; i++)
            rp_counter_add(none, 1);
        break;
    }
    case OP_ADD:
        for (size_t i = 0; i < n; i++)
            rp_counter_add(j->c, 1);
        break;
    case OP_ADD_F:
        for (size_t i = 0; i < n; i++)
            rp_counter_add_f(j->c, 0.5);
        break;
    case OP_OBSERVE:
        for (size_t i = 0; i < n; i++)
            rp_hist_observe(j->h, values[i & (N_VALUES - 1)]);
        break;
    case OP_PLAIN_HIST:
        for (size_t i = 0; i < n; i++)
            plain_observe(values[i & (N_VALUES - 1)]);
        break;
    }
}

static void *thread_main(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->start);
    /* Timed here, not by the main thread: on a loaded machine the main
     * thread may be descheduled while the workers already run. */
    uint64_t t0 = now_ns();
    run_op(j);
    j->ns = now_ns() - t0;
    return NULL;
}

/* ns per operation per thread, over `threads` threads doing n each (the
 * slowest thread's time). */
static double measure(enum op op, size_t n, int threads, struct rp_counter *c,
                      struct rp_histogram *h)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_t t[2];
    struct job jobs[2];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){op, n, i, c, h, &start, 0};
        if (pthread_create(&t[i], NULL, thread_main, &jobs[i]) != 0) {
            fprintf(stderr, "bench-metrics: cannot start a thread\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    uint64_t slowest = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].ns > slowest)
            slowest = jobs[i].ns;
    }
    pthread_barrier_destroy(&start);
    return (double)slowest / (double)n;
}

/* The best of RUNS runs: the machine is shared, and noise only adds. */
#define RUNS 5

static double best_of(enum op op, size_t n, int threads, struct rp_counter *c,
                      struct rp_histogram *h)
{
    double best = INFINITY;
    for (int r = 0; r < RUNS; r++) {
        double ns = measure(op, n, threads, c, h);
        if (ns < best)
            best = ns;
    }
    return best;
}

static void row(const char *name, double ns, double peer)
{
    printf("  %-40s %8.2f ns  %6.2fx\n", name, ns, ns / peer);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 20000000;
    if (n == 0) {
        fprintf(stderr, "usage: %s [N]\n", argv[0]);
        return 2;
    }
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (size_t i = 0; i < N_VALUES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values[i] = pow(10, -3 + 5 * (double)(x >> 11) / 9007199254740992.0);
    }
    struct rp_metrics *m = rp_metrics_new();
    struct rp_counter *c = rp_metrics_counter(m, "bench_ops_total", "ops", NULL);
    struct rp_counter *cf = rp_metrics_counter(m, "bench_busy_seconds_total", "s", NULL);
    struct rp_histogram *h = rp_metrics_histogram(
        m, "bench_latency_seconds", "latency", rp_buckets_latency_s, RP_BUCKETS_LATENCY_S_N, NULL);
    if (!c || !cf || !h)
        return 1;

    printf(
        "metrics hot path, %zu operations per thread, best of %d, ratio to the plain increment\n",
        n, RUNS);
    printf("one thread:\n");
    double plain = best_of(OP_PLAIN, n, 1, NULL, NULL);
    row("plain increment (peer)", plain, plain);
    row("rp_counter_add on a NULL handle", best_of(OP_NULL, n, 1, NULL, NULL), plain);
    row("rp_counter_add", best_of(OP_ADD, n, 1, c, NULL), plain);
    row("rp_counter_add_f", best_of(OP_ADD_F, n, 1, cf, NULL), plain);
    row("plain histogram, same search (peer)", best_of(OP_PLAIN_HIST, n, 1, NULL, NULL), plain);
    row("rp_hist_observe (15 buckets)", best_of(OP_OBSERVE, n, 1, NULL, h), plain);

    printf("two threads, one shared metric (ns per operation per thread):\n");
    double plain2 = best_of(OP_PLAIN_PER_THREAD, n, 2, NULL, NULL);
    row("plain increment, a counter each (peer)", plain2, plain2);
    row("rp_counter_add", best_of(OP_ADD, n, 2, c, NULL), plain2);
    row("rp_counter_add_f", best_of(OP_ADD_F, n, 2, cf, NULL), plain2);
    row("rp_hist_observe", best_of(OP_OBSERVE, n, 2, NULL, h), plain2);

    /* Every operation counted: the totals prove the loops ran. */
    struct rp_hist_snap s;
    rp_hist_snapshot(h, &s);
    printf("check: counter %.0f (want %.0f), histogram count %llu (want %.0f)\n",
           rp_counter_value(c), 3.0 * RUNS * (double)n, (unsigned long long)s.count,
           3.0 * RUNS * (double)n);
    rp_metrics_free(m);
    return 0;
}
