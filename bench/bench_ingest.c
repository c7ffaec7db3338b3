/*
 * bench_ingest.c - ingest + chunk + entity throughput, and peak memory per file.
 *
 *   ranpipe-bench-ingest [--threads N] [--seconds S] FILE...
 *       Reads the files into memory, then parses (format sniffed as in a run,
 *       archives walked, parameter records and entities found) and chunks
 *       them (estimated tokens) over and over for about S seconds (default 3)
 *       with N threads (default 1), and prints MB/s per format.
 *   ranpipe-bench-ingest --memory FILE
 *       Parses and chunks FILE once and prints its size and how much the
 *       process's peak resident memory grew while doing it.
 *
 * Timing covers what a run does with a file after reading it; the bytes
 * are read once beforehand so the disk is not measured.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ingest/ingest_int.h"
#include "ranpipe/chunk.h"
#include "ranpipe/log.h"

struct input {
    const char *path;
    enum rp_doc_format fmt;
    struct rp_buf data;
};

struct shared {
    struct input *in;
    size_t n;
    double seconds;
    atomic_size_t next;
    atomic_int stop;
    /* per format: bytes processed, files processed */
    atomic_ullong bytes[RP_FORMAT_ZIP + 1];
    atomic_ullong files[RP_FORMAT_ZIP + 1];
    atomic_ullong failures;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static enum rp_err chunk_and_free(struct rp_doc *doc, const struct rp_error *err, const char *path,
                                  void *ud)
{
    (void)path;
    struct shared *sh = ud;
    if (!doc) {
        if (atomic_fetch_add(&sh->failures, 1) == 0)
            fprintf(stderr, "bench-ingest: %s\n", err->msg);
        return RP_OK;
    }
    struct rp_chunk_list chunks;
    rp_chunk_list_init(&chunks);
    struct rp_error cerr;
    struct rp_chunk_params cp = rp_chunk_default_params();
    rp_chunk_doc(doc, &cp, NULL, NULL, &chunks, &cerr);
    rp_chunk_list_release(&chunks);
    rp_doc_free(doc);
    return RP_OK;
}

static void process(struct shared *sh, const struct input *in)
{
    struct rp_ingest_params p = rp_ingest_default_params();
    rp__ingest_data(in->path, in->fmt, in->data.data, in->data.len, &p, 0, chunk_and_free, sh);
}

static void *worker(void *arg)
{
    struct shared *sh = arg;
    while (!atomic_load(&sh->stop)) {
        size_t i = atomic_fetch_add(&sh->next, 1) % sh->n;
        const struct input *in = &sh->in[i];
        process(sh, in);
        atomic_fetch_add(&sh->bytes[in->fmt], in->data.len);
        atomic_fetch_add(&sh->files[in->fmt], 1);
    }
    return NULL;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int load(struct input *in, const char *path)
{
    struct rp_error err;
    in->path = path;
    rp_buf_init(&in->data, (size_t)1 << 31);
    if (rp_buf_read_file(&in->data, path, &err)) {
        fprintf(stderr, "bench-ingest: %s\n", err.msg);
        return -1;
    }
    in->fmt = rp_ingest_sniff(path, in->data.data, in->data.len);
    if (in->fmt == RP_FORMAT_UNKNOWN) {
        fprintf(stderr, "bench-ingest: '%s': unknown format\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rp_log_set_level(RP_LOG_ERROR);
    int threads = 1;
    double seconds = 3;
    int i = 1;
    if (argc == 3 && strcmp(argv[1], "--memory") == 0) {
        struct input in;
        long before = maxrss_kb();
        if (load(&in, argv[2]))
            return 1;
        long loaded = maxrss_kb();
        struct shared sh = {.in = &in, .n = 1};
        process(&sh, &in);
        long after = maxrss_kb();
        /* size, growth while parsing, growth including the file's own bytes */
        printf("%zu %ld %ld\n", in.data.len, (after - loaded) * 1024, (after - before) * 1024);
        rp_buf_release(&in.data);
        return sh.failures ? 1 : 0;
    }
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: ranpipe-bench-ingest [--threads N] [--seconds S] FILE...\n"
                            "       ranpipe-bench-ingest --memory FILE\n");
            return 2;
        }
    }
    if (i >= argc || threads < 1 || threads > 256 || seconds <= 0) {
        fprintf(stderr, "usage: ranpipe-bench-ingest [--threads N] [--seconds S] FILE...\n");
        return 2;
    }
    size_t n = (size_t)(argc - i);
    struct input *in = calloc(n, sizeof(*in));
    if (!in)
        return 1;
    for (size_t k = 0; k < n; k++)
        if (load(&in[k], argv[i + (int)k]))
            return 1;
    struct shared *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return 1;
    sh->in = in;
    sh->n = n;
    pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
    double t0 = now_s();
    for (int t = 0; t < threads; t++)
        pthread_create(&tids[t], NULL, worker, sh);
    while (now_s() - t0 < seconds) {
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    atomic_store(&sh->stop, 1);
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    double el = now_s() - t0;
    for (int f = 0; f <= RP_FORMAT_ZIP; f++) {
        unsigned long long b = atomic_load(&sh->bytes[f]);
        if (!b)
            continue;
        printf("%-8s %d thread%s %8.1f MB/s  (%llu files, %.1f MB in %.2f s)\n",
               rp_doc_format_name((enum rp_doc_format)f), threads, threads == 1 ? " " : "s",
               (double)b / 1e6 / el, atomic_load(&sh->files[f]), (double)b / 1e6, el);
    }
    for (size_t k = 0; k < n; k++)
        rp_buf_release(&in[k].data);
    free(in);
    free(sh);
    free(tids);
    return 0;
}
