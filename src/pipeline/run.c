/*
 * run.c - the dataset run (see include/ranpipe/run.h).
 *
 * Threads: the ingest thread parses and chunks files in input order and
 * pushes one doc_item per file (parsed, or failed with its reason) into a
 * bounded queue. The calling thread runs rp_llama_run(): its next() hook
 * turns queued chunks into generation jobs, its done() hook parses the
 * output. Jobs finish out of order (continuous batching), so finished jobs
 * wait in a small reorder window and are written in the order they were
 * issued: the dataset's order depends only on the inputs.
 */
#include "ranpipe/run.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/dataset.h"
#include "ranpipe/fs.h"
#include "ranpipe/hash.h"
#include "ranpipe/log.h"
#include "ranpipe/qa.h"
#include "ranpipe/queue.h"

struct doc_item {
    char *path;
    struct rp_doc *doc; /* NULL when the file failed */
    struct rp_chunk_list chunks;
    struct rp_error err;
    size_t next_chunk;   /* next chunk to issue */
    size_t outstanding;  /* issued jobs not yet written */
};

struct job {
    struct rp_gen_request req;
    struct doc_item *di;
    size_t chunk;
    uint64_t seq;
    bool finished;
    struct rp_buf user;
    struct rp_buf grammar;
};

struct run {
    const struct rp_run_params *p;
    struct rp_run_summary *sum;
    struct rp_path_list files;
    struct rp_queue *q;
    struct rp_dataset *ds;
    struct rp_llama *m;
    const char *model_name;

    struct doc_item *cur;
    uint64_t next_seq;   /* seq of the next job issued */
    uint64_t next_write; /* seq of the next job to write */
    struct job **window; /* finished-or-running jobs, index seq - next_write */
    size_t window_cap;

    struct rp_error write_err; /* first failure writing output: ends the run */
    bool failed;
};

struct rp_run_params rp_run_default_params(void)
{
    struct rp_run_params p = {
        .llama = rp_llama_default_params(),
        .sampling = rp_sampling_default(),
        .chunk = rp_chunk_default_params(),
        .shape = rp_qa_shape_default(),
        .ingest = rp_ingest_default_params(),
        .seed = 0x5eed,
        .queue_docs = 4,
    };
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void doc_item_free(struct doc_item *di)
{
    if (!di)
        return;
    rp_chunk_list_release(&di->chunks);
    rp_doc_free(di->doc);
    free(di->path);
    free(di);
}

/* ---- ingest thread ---- */

/* Receives each document (or failure) of one input and queues it. */
static enum rp_err ingest_sink(struct rp_doc *doc, const struct rp_error *err, const char *path,
                               void *ud)
{
    struct run *r = ud;
    struct doc_item *di = calloc(1, sizeof(*di));
    if (di)
        di->path = strdup(path);
    if (!di || !di->path) {
        free(di);
        rp_doc_free(doc);
        return RP_ERR_NOMEM;
    }
    rp_chunk_list_init(&di->chunks);
    di->doc = doc;
    if (!doc) {
        di->err = *err;
    } else if (rp_chunk_doc(doc, &r->p->chunk, rp_llama_count_tokens, r->m, &di->chunks, &di->err)) {
        rp_error_prefix(&di->err, "cannot chunk '%s': ", path);
        rp_doc_free(di->doc);
        di->doc = NULL;
    }
    if (rp_queue_push(r->q, di) != RP_OK) {
        doc_item_free(di); /* the run was stopped */
        return RP_ERR_CANCELLED;
    }
    return RP_OK;
}

static void *ingest_main(void *arg)
{
    struct run *r = arg;
    for (size_t i = 0; i < r->files.n; i++)
        if (rp_ingest_path(r->files.paths[i], &r->p->ingest, ingest_sink, r) != RP_OK)
            break;
    rp_queue_close(r->q);
    return NULL;
}

/* ---- writing, in issue order ---- */

static struct rp_origin origin_of(const struct run *r, const struct doc_item *di, size_t chunk)
{
    struct rp_origin o = {.source = di->path, .model = r->model_name};
    if (di->doc) {
        o.title = di->doc->title;
        const struct rp_chunk *c = &di->chunks.items[chunk];
        o.section = c->heading_path;
        o.chunk_index = c->index;
        o.chunk_hash = c->hash;
        o.seed = rp_hash64_seeded(&r->p->seed, sizeof(r->p->seed), c->hash);
    }
    return o;
}

static void note_write_error(struct run *r, enum rp_err e, const struct rp_error *err)
{
    if (e && !r->failed) {
        r->failed = true;
        r->write_err = *err;
    }
}

static void write_job(struct run *r, struct job *j)
{
    struct doc_item *di = j->di;
    struct rp_origin o = origin_of(r, di, j->chunk);
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = RP_OK;
    struct rp_gen_request *req = &j->req;
    if (req->finish == RP_FINISH_ERROR) {
        r->sum->requests_failed++;
        e = rp_dataset_add_reject(r->ds, &o, "generate", req->err.msg, NULL, NULL,
                                  req->text.len ? req->text.data : NULL, &err);
    } else {
        struct rp_qa_list pairs;
        rp_qa_list_init(&pairs);
        struct rp_error perr;
        rp_error_clear(&perr);
        if (rp_qa_parse(req->text.data, req->text.len, &pairs, &perr) != RP_OK) {
            char reason[RP_ERROR_MSG_MAX + 64];
            if (req->finish == RP_FINISH_LENGTH)
                snprintf(reason, sizeof(reason), "output cut off at %d tokens: %s", req->n_gen_tokens,
                         perr.msg);
            else
                snprintf(reason, sizeof(reason), "%s", perr.msg);
            e = rp_dataset_add_reject(r->ds, &o, "parse", reason, NULL, NULL, req->text.data, &err);
        }
        for (size_t k = 0; k < pairs.n && !e; k++) {
            const struct rp_qa_pair *qa = &pairs.items[k];
            if (qa->reject)
                e = rp_dataset_add_reject(r->ds, &o, "parse", qa->reject, qa->question, qa->answer,
                                          NULL, &err);
            else
                e = rp_dataset_add_pair(r->ds, &o, k, qa->question, qa->answer, qa->type, &err);
        }
        rp_qa_list_release(&pairs);
    }
    note_write_error(r, e, &err);
    if (--di->outstanding == 0 && di->next_chunk == di->chunks.n && di != r->cur)
        doc_item_free(di);
    rp_buf_release(&j->user);
    rp_buf_release(&j->grammar);
    rp_gen_request_release(&j->req);
    free(j);
}

static void flush_window(struct run *r)
{
    size_t n = 0;
    while (n < r->next_seq - r->next_write && r->window[n] && r->window[n]->finished)
        n++;
    for (size_t i = 0; i < n; i++)
        write_job(r, r->window[i]);
    if (n) {
        size_t live = (size_t)(r->next_seq - r->next_write) - n;
        memmove(r->window, r->window + n, live * sizeof(*r->window));
        memset(r->window + live, 0, n * sizeof(*r->window));
        r->next_write += n;
    }
}

static void on_done(struct rp_gen_request *req, void *ud)
{
    struct run *r = ud;
    struct job *j = req->ud;
    j->finished = true;
    flush_window(r);
}

/* ---- feeding the generator ---- */

/* Takes the next document from the queue; writes failures and chunk lists. */
static bool take_doc(struct run *r, bool block)
{
    for (;;) {
        struct doc_item *di = block ? rp_queue_pop(r->q) : rp_queue_try_pop(r->q);
        if (!di)
            return false;
        struct rp_error err;
        rp_error_clear(&err);
        if (!di->doc) {
            r->sum->docs_failed++;
            rp_warn("%s", di->err.msg);
            struct rp_origin o = {.source = di->path};
            note_write_error(r, rp_dataset_add_reject(r->ds, &o, "ingest", di->err.msg, NULL, NULL,
                                                      NULL, &err),
                             &err);
            doc_item_free(di);
            continue;
        }
        r->sum->docs++;
        r->sum->chunks += di->chunks.n;
        rp_debug("'%s': %zu blocks, %zu chunks", di->path, di->doc->n_blocks, di->chunks.n);
        for (size_t c = 0; c < di->chunks.n; c++) {
            struct rp_origin o = origin_of(r, di, c);
            note_write_error(r,
                             rp_dataset_add_chunk(r->ds, &o, di->chunks.items[c].text,
                                                  di->chunks.items[c].n_tokens, &err),
                             &err);
        }
        if (di->chunks.n == 0) {
            doc_item_free(di);
            continue;
        }
        r->cur = di;
        return true;
    }
}

static struct job *make_job(struct run *r, struct doc_item *di, size_t c)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    rp_gen_request_init(&j->req);
    rp_buf_init(&j->user, RP_BUF_NO_CAP);
    rp_buf_init(&j->grammar, RP_BUF_NO_CAP);
    j->di = di;
    j->chunk = c;
    const struct rp_chunk *ch = &di->chunks.items[c];
    int n_pairs = rp_prompt_pairs_for(&r->p->shape, ch->n_tokens);
    if (rp_prompt_qa_user(di->doc->title, ch->heading_path, ch->text, n_pairs, &j->user) ||
        rp_prompt_qa_grammar(&r->p->shape, n_pairs, &j->grammar)) {
        rp_buf_release(&j->user);
        rp_buf_release(&j->grammar);
        rp_gen_request_release(&j->req);
        free(j);
        return NULL;
    }
    struct rp_origin o = origin_of(r, di, c);
    j->req.system = rp_prompt_qa_system();
    j->req.user = j->user.data;
    j->req.grammar = j->grammar.data;
    j->req.seed = o.seed;
    j->req.max_tokens = rp_prompt_max_tokens(&r->p->shape, n_pairs);
    if (r->p->sampling.max_tokens > 0 && r->p->sampling.max_tokens < j->req.max_tokens)
        j->req.max_tokens = r->p->sampling.max_tokens;
    j->req.ud = j;
    return j;
}

static struct rp_gen_request *on_next(bool block, void *ud)
{
    struct run *r = ud;
    if (r->failed)
        return NULL;
    while (!r->cur || r->cur->next_chunk == r->cur->chunks.n) {
        if (r->cur && r->cur->outstanding == 0)
            doc_item_free(r->cur);
        r->cur = NULL;
        if (!take_doc(r, block))
            return NULL;
    }
    size_t live = (size_t)(r->next_seq - r->next_write);
    if (live == r->window_cap) {
        size_t cap = r->window_cap ? r->window_cap * 2 : 16;
        struct job **w = realloc(r->window, cap * sizeof(*w));
        if (!w)
            return NULL;
        memset(w + r->window_cap, 0, (cap - r->window_cap) * sizeof(*w));
        r->window = w;
        r->window_cap = cap;
    }
    struct job *j = make_job(r, r->cur, r->cur->next_chunk);
    if (!j) {
        r->failed = true;
        rp_error_set(&r->write_err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    j->seq = r->next_seq++;
    r->window[live] = j;
    r->cur->next_chunk++;
    r->cur->outstanding++;
    return &j->req;
}

enum rp_err rp_run(const struct rp_run_params *params, struct rp_run_summary *summary,
                   struct rp_error *err)
{
    double t0 = now_s();
    memset(summary, 0, sizeof(*summary));
    struct run r = {.p = params, .sum = summary};
    rp_path_list_init(&r.files);
    enum rp_err rc = RP_OK;
    pthread_t ingest;
    bool ingest_started = false;

    if (!params->llama.model_path)
        return rp_error_set(err, RP_ERR_CONFIG,
                            "no model configured: pass --model PATH.gguf (a GGUF file llama.cpp can "
                            "load) or set RANPIPE_MODEL");
    if (params->n_inputs == 0)
        return rp_error_set(err, RP_ERR_INVAL, "no input files or directories given");
    for (size_t i = 0; i < params->n_inputs; i++) {
        rc = rp_fs_collect(params->inputs[i], &r.files, err);
        if (rc)
            goto out;
    }
    summary->files = r.files.n;
    if (r.files.n == 0) {
        rc = rp_error_set(err, RP_ERR_NOENT, "no files found in the given inputs");
        goto out;
    }

    r.ds = rp_dataset_open(params->out_dir, err);
    if (!r.ds) {
        rc = err ? err->code : RP_ERR_IO;
        goto out;
    }
    r.m = rp_llama_new(&params->llama, err);
    if (!r.m) {
        rc = err ? err->code : RP_ERR_MODEL;
        goto out;
    }
    r.model_name = rp_llama_model_name(r.m);
    snprintf(summary->model, sizeof(summary->model), "%s", r.model_name);
    rp_info("model '%s': %d parallel sequences, %d threads; %zu input file%s", r.model_name,
            rp_llama_params(r.m)->n_parallel, rp_llama_params(r.m)->n_threads, r.files.n,
            r.files.n == 1 ? "" : "s");

    r.q = rp_queue_new(params->queue_docs ? params->queue_docs : 4);
    if (!r.q) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_create(&ingest, NULL, ingest_main, &r) != 0) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "cannot start the ingest thread");
        goto out;
    }
    ingest_started = true;

    rc = rp_llama_run(r.m, &params->sampling, on_next, on_done, &r, &summary->gen, err);
    if (!rc && r.failed) {
        rc = r.write_err.code ? r.write_err.code : RP_ERR_IO;
        if (err)
            *err = r.write_err;
    }
    rp_debug("generation: %.2f s decoding in %llu steps, %.2f s sampling, %.2f s wall",
             summary->gen.decode_seconds, (unsigned long long)summary->gen.decode_calls,
             summary->gen.sample_seconds, summary->gen.wall_seconds);
    if (!rc)
        rc = rp_dataset_commit(r.ds, err);
    summary->pairs = rp_dataset_n_pairs(r.ds);
    summary->rejects = rp_dataset_n_rejects(r.ds);
out:
    if (r.q)
        rp_queue_close(r.q);
    if (ingest_started) {
        pthread_join(ingest, NULL);
        struct doc_item *di;
        while ((di = rp_queue_try_pop(r.q)) != NULL)
            doc_item_free(di);
    }
    /* Jobs still in the window only exist when the run failed midway. */
    for (size_t i = 0; i < (size_t)(r.next_seq - r.next_write); i++) {
        struct job *j = r.window[i];
        if (!j)
            continue;
        if (--j->di->outstanding == 0 && j->di != r.cur)
            doc_item_free(j->di);
        rp_buf_release(&j->user);
        rp_buf_release(&j->grammar);
        rp_gen_request_release(&j->req);
        free(j);
    }
    free(r.window);
    if (r.cur)
        doc_item_free(r.cur);
    rp_queue_free(r.q);
    rp_llama_free(r.m);
    rp_dataset_free(r.ds);
    rp_path_list_release(&r.files);
    summary->seconds = now_s() - t0;
    return rc;
}
