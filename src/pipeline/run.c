/*
 * run.c - the dataset run (see include/ranpipe/run.h).
 *
 * Threads: the ingest thread parses and chunks files in input order and
 * pushes one doc_item per file (parsed, or failed with its reason) into a
 * bounded queue. The calling thread turns documents into jobs - one for
 * the document's extractive pairs, one per chunk for an LLM tier - hands
 * chunk jobs to the router, and takes finished requests from the `done`
 * queue that the backends' threads push onto. Jobs finish out of order, so
 * finished jobs wait in a reorder window and are written in the order they
 * were made: the output order depends only on the inputs.
 */
#include "ranpipe/run.h"

#include <errno.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/assess.h"
#include "ranpipe/chunk.h"
#include "ranpipe/complexity.h"
#include "pipeline/monitor.h"
#include "ranpipe/dataset.h"
#include "ranpipe/embed.h"
#include "ranpipe/extract.h"
#include "ranpipe/fs.h"
#include "ranpipe/hash.h"
#include "ranpipe/judge.h"
#include "ranpipe/ingest.h"
#include "ranpipe/llm.h"
#include "ranpipe/log.h"
#include "ranpipe/prompt.h"
#include "ranpipe/qa.h"
#include "ranpipe/queue.h"
#include "ranpipe/store.h"
#include "ranpipe/adapt.h"

struct doc_item {
    char *path;
    struct rp_doc *doc; /* NULL when the file failed */
    struct rp_chunk_list chunks;
    struct rp_error err;
    size_t refs; /* jobs not yet written */
    char content_hash[17]; /* of the file's bytes (an archive's for its members) */
    int64_t size, mtime;
    int64_t store_id;      /* the document's id in the store */
    float *complexity;     /* each chunk's complexity score, computed once */
    size_t mon_row;        /* its row in the monitor's per-document table */
};

enum outcome {
    OUT_NONE,
    OUT_GENERATED, /* req holds the output of tier */
    OUT_EXTRACT,   /* the document's extractive pairs */
    OUT_PENDING,   /* no LLM tier configured */
    OUT_DEAD,      /* no tier could do it: reasons */
    OUT_FAILED,    /* the request itself failed (too long, ...): req.err */
};

struct job {
    struct rp_gen_request req;
    struct doc_item *di;
    size_t chunk;
    uint64_t seq;
    float complexity;
    int tier;          /* current tier, -1 while unrouted */
    int home;          /* the tier it was first routed to */
    uint32_t tried;    /* tiers that failed it */
    bool escalated;
    bool adapted;      /* history once picked another tier than the thresholds */
    bool in_flight;
    double deadline;
    enum outcome out;
    struct rp_buf user, grammar, schema;
    struct rp_buf reasons;    /* why earlier tiers did not do it */
    struct rp_buf first_raw;  /* the output an escalation replaced */
    struct {                  /* the attempt an escalation replaced, for the history */
        int tier;             /* -1: none */
        bool from_cache;
        double seconds;
        int n_prompt_tokens, n_gen_tokens;
    } below;
    struct rp_extract_list ex;
    struct rp_qa_list pairs;  /* the output parsed once (OUT_GENERATED) */
    struct rp_quality_ctx *qctx; /* the chunk's text indexed for the scorer, once */
    struct rp_error perr;     /* why it did not parse */
    bool parse_failed;
    bool from_cache;          /* req was answered by the store's cache */
    struct job *hit_next;     /* dispatch's list of cache hits */
    char cache_key_params[512]; /* the generation parameters of the request */
    struct job *next;         /* waiting list */
};

struct tier_ctx {
    struct rp_prompt_set *prompts;
    char model[256];
    char identity[512]; /* what the cache keys on: model file and its size and time, or server and model */
};

struct run {
    const struct rp_run_params *p;
    const struct rp_config *cfg;
    struct rp_run_summary *sum;
    struct rp_path_list files;
    struct rp_queue *q;    /* ingest -> run */
    struct rp_queue *done; /* backends -> run */
    struct rp_dataset *ds;
    struct rp_assessor *as;  /* every pair passes it, in output order */
    struct rp_embedder *emb; /* quality.embed_model, or NULL */
    struct rp_judge *judge;  /* quality.judge's tier, or NULL */
    struct rp_store *store;  /* OUT/ranpipe.db: documents, cache, records, history (main thread only) */
    int64_t run_id;
    uint64_t *dead;          /* chunks earlier runs could not do: hash of path and chunk id, sorted */
    size_t n_dead, cap_dead;
    struct rp_adapt *adapt;  /* routing learned from the store's history (route.adaptive), or NULL */
    double last_score;       /* of the pair assess_and_write() saw last */
    char read_path[4096];    /* the file ingest read last, and its bytes' hash (note_read) */
    uint64_t read_hash;
    char last_hashed[4096];  /* the ingest thread's last hashed file, and its hash */
    char last_hash[17];
    int64_t last_size, last_mtime;
    struct rp_router *router;
    struct rp_llama *tok;  /* tokenizer of the first llama tier's model, or NULL */
    struct tier_ctx tiers[RP_RUN_MAX_TIERS];
    bool has_llm;
    struct mon *mon;       /* NULL without monitoring */
    double ingest_mark;    /* ingest thread: end of its last wait */
    double loop_mark;      /* main thread: the generate stage's state accounted up to here */
    double gauges_at;      /* main thread: when the queue and breaker gauges were last set */
    uint32_t last_full;    /* tiers dispatch() found without room, in its last pass */
    bool gen_busy, gen_full, gen_starved; /* the generate stage's state at loop_mark */
    bool has_extractive; /* tier 0 is the extractive tier */

    struct job *wait_head, *wait_tail; /* jobs waiting for a tier */
    size_t n_waiting, n_in_flight;
    bool ingest_done;

    uint64_t next_seq;   /* seq of the next job made */
    uint64_t next_write; /* seq of the next job to write */
    struct job **window; /* made-but-unwritten jobs, index seq - next_write */
    size_t window_cap;
    double t_first_submit, t_last_done;
    double stop_at;      /* > 0 once a stop was asked: the drain deadline */

    struct rp_error fail_err; /* first failure that ends the run */
    bool failed;
};

struct rp_run_params rp_run_default_params(void)
{
    struct rp_run_params p = {.out_dir = "out", .queue_docs = 4, .progress = RP_PROGRESS_OFF};
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
    free(di->complexity);
    rp_chunk_list_release(&di->chunks);
    rp_doc_free(di->doc);
    free(di->path);
    free(di);
}

static void note_failure(struct run *r, enum rp_err e, const struct rp_error *err)
{
    if (e && !r->failed) {
        r->failed = true;
        r->fail_err = *err;
        if (!r->fail_err.code)
            r->fail_err.code = e;
    }
}

/* ---- ingest thread ---- */

/* The content hash of the file a document came from (an archive's
 * members: the archive's, mixed with the member's name), so a rerun tells
 * new, changed and unchanged inputs apart. Runs on the ingest thread; an
 * archive is read once for all its members. */
static void hash_source(struct run *r, struct doc_item *di)
{
    char file[4096];
    const char *bang = strstr(di->path, "!/");
    size_t n = bang ? (size_t)(bang - di->path) : strlen(di->path);
    if (n >= sizeof(file))
        n = sizeof(file) - 1;
    memcpy(file, di->path, n);
    file[n] = '\0';
    if (strcmp(file, r->last_hashed) != 0) {
        struct stat st;
        struct rp_buf b;
        struct rp_error e;
        uint64_t h = 0;
        r->last_size = r->last_mtime = 0;
        if (stat(file, &st) == 0) {
            r->last_size = (int64_t)st.st_size;
            r->last_mtime = (int64_t)st.st_mtime;
        }
        rp_buf_init(&b, r->cfg->ingest.max_file_bytes ? r->cfg->ingest.max_file_bytes : RP_BUF_NO_CAP);
        if (strcmp(file, r->read_path) == 0)
            h = r->read_hash; /* ingest read it: hashed then (note_read) */
        else if (rp_buf_read_file(&b, file, &e) == RP_OK) /* a file ingest refused unread */
            h = rp_hash64(b.data, b.len);
        else /* unreadable: ingest reports it; size and time still tell changes apart */
            h = rp_hash64_seeded(&r->last_mtime, sizeof(r->last_mtime), (uint64_t)r->last_size);
        rp_buf_release(&b);
        rp_hash_hex(h, r->last_hash);
        snprintf(r->last_hashed, sizeof(r->last_hashed), "%s", file);
    }
    di->size = r->last_size;
    di->mtime = r->last_mtime;
    if (bang) {
        uint64_t h = rp_hash64_seeded(di->path, strlen(di->path), strtoull(r->last_hash, NULL, 16));
        rp_hash_hex(h, di->content_hash);
    } else {
        memcpy(di->content_hash, r->last_hash, sizeof(di->content_hash));
    }
}

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
    if (r->store)
        hash_source(r, di);
    rp_chunk_list_init(&di->chunks);
    di->doc = doc;
    if (!doc) {
        di->err = *err;
    } else if (rp_chunk_doc(doc, &r->cfg->chunk, r->tok ? rp_llama_count_tokens : NULL, r->tok,
                            &di->chunks, &di->err)) {
        rp_error_prefix(&di->err, "cannot chunk '%s': ", path);
        rp_doc_free(di->doc);
        di->doc = NULL;
    }
    mon_ingested(r->mon, di->doc ? di->chunks.n : 0);
    double t = now_s();
    enum rp_err pushed = rp_queue_push(r->q, di);
    double t2 = now_s();
    mon_stage_time(r->mon, MON_INGEST, t - r->ingest_mark, 0, t2 - t);
    r->ingest_mark = t2;
    if (pushed != RP_OK) {
        doc_item_free(di); /* the run was stopped */
        return RP_ERR_CANCELLED;
    }
    return RP_OK;
}

/* Ingest's read hook: the content hash of the bytes it read, so the file
 * is not read a second time for it (ingest thread). */
static void note_read(const char *path, const char *data, size_t len, void *ud)
{
    struct run *r = ud;
    snprintf(r->read_path, sizeof(r->read_path), "%s", path);
    r->read_hash = rp_hash64(data, len);
}

static void *ingest_main(void *arg)
{
    struct run *r = arg;
    struct rp_ingest_params ip = r->cfg->ingest;
    if (r->store) {
        ip.on_read = note_read;
        ip.on_read_ud = r;
    }
    r->ingest_mark = now_s();
    for (size_t i = 0; i < r->files.n; i++)
        if (rp_ingest_path(r->files.paths[i], &ip, ingest_sink, r) != RP_OK)
            break;
    mon_stage_time(r->mon, MON_INGEST, now_s() - r->ingest_mark, 0, 0);
    mon_ingest_done(r->mon);
    rp_queue_close(r->q);
    return NULL;
}

/* ---- jobs ---- */

static struct rp_origin origin_of(const struct run *r, const struct job *j)
{
    const struct doc_item *di = j->di;
    struct rp_origin o = {.source = di->path, .complexity = -1};
    if (di->doc && j->chunk < di->chunks.n) {
        o.title = di->doc->title;
        const struct rp_chunk *c = &di->chunks.items[j->chunk];
        o.section = c->heading_path;
        o.chunk_index = c->index;
        o.chunk_hash = c->hash;
        o.seed = rp_hash64_seeded(&r->cfg->seed, sizeof(r->cfg->seed), c->hash);
        o.complexity = j->complexity;
    } else if (di->doc) {
        o.title = di->doc->title;
    }
    if (j->tier >= 0 && j->out == OUT_GENERATED) {
        o.tier = r->cfg->tiers[j->tier].name;
        o.model = r->tiers[j->tier].model[0] ? r->tiers[j->tier].model : NULL;
        o.prompt_version = rp_prompt_set_version(r->tiers[j->tier].prompts);
    }
    return o;
}

static struct job *job_new(struct run *r, struct doc_item *di, size_t chunk)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    rp_gen_request_init(&j->req);
    rp_buf_init(&j->user, RP_BUF_NO_CAP);
    rp_buf_init(&j->grammar, RP_BUF_NO_CAP);
    rp_buf_init(&j->schema, RP_BUF_NO_CAP);
    rp_buf_init(&j->reasons, RP_BUF_NO_CAP);
    rp_buf_init(&j->first_raw, RP_BUF_NO_CAP);
    rp_extract_list_init(&j->ex);
    rp_qa_list_init(&j->pairs);
    j->di = di;
    j->chunk = chunk;
    j->tier = j->home = j->below.tier = -1;
    j->req.ud = j;
    di->refs++;
    return j;
}

static void job_free(struct run *r, struct job *j)
{
    if (--j->di->refs == 0)
        doc_item_free(j->di);
    (void)r;
    rp_buf_release(&j->user);
    rp_buf_release(&j->grammar);
    rp_buf_release(&j->schema);
    rp_buf_release(&j->reasons);
    rp_buf_release(&j->first_raw);
    rp_extract_list_release(&j->ex);
    rp_qa_list_release(&j->pairs);
    rp_quality_ctx_free(j->qctx);
    rp_gen_request_release(&j->req);
    free(j);
}

/* Puts j into the reorder window under the next sequence number. */
static bool window_add(struct run *r, struct job *j)
{
    size_t live = (size_t)(r->next_seq - r->next_write);
    if (live == r->window_cap) {
        size_t cap = r->window_cap ? r->window_cap * 2 : 64;
        struct job **w = realloc(r->window, cap * sizeof(*w));
        if (!w)
            return false;
        memset(w + r->window_cap, 0, (cap - r->window_cap) * sizeof(*w));
        r->window = w;
        r->window_cap = cap;
    }
    j->seq = r->next_seq++;
    r->window[live] = j;
    return true;
}

static void add_reason(struct job *j, const char *tier, const char *why)
{
    if (j->reasons.len)
        rp_buf_adds(&j->reasons, "; ");
    rp_buf_addf(&j->reasons, "%s: %s", tier, why);
}

/* Fills the request's inputs for tier t (prompt, grammar, schema). */
static enum rp_err prepare(struct run *r, struct job *j, int t, struct rp_error *err)
{
    const struct rp_tier_config *tc = &r->cfg->tiers[t];
    const struct rp_chunk *c = &j->di->chunks.items[j->chunk];
    int n_pairs = rp_prompt_pairs_for(&tc->shape, c->n_tokens);
    struct rp_origin o = origin_of(r, j);
    rp_buf_reset(&j->user);
    rp_buf_reset(&j->grammar);
    rp_buf_reset(&j->schema);
    enum rp_err e = rp_prompt_set_user(r->tiers[t].prompts, j->di->doc->title, c->heading_path, c->text,
                                       n_pairs, o.seed, &j->user, err);
    if (!e)
        e = rp_prompt_qa_grammar(&tc->shape, n_pairs, &j->grammar);
    if (!e)
        e = rp_prompt_qa_json_schema(&tc->shape, n_pairs, &j->schema);
    if (e) {
        if (!err->msg[0])
            rp_error_set(err, e, "cannot build the prompt");
        return e;
    }
    rp_buf_release(&j->req.text);
    rp_gen_request_init(&j->req);
    j->from_cache = false;
    j->req.ud = j;
    j->req.system = rp_prompt_set_system(r->tiers[t].prompts);
    j->req.user = j->user.data;
    j->req.grammar = j->grammar.data;
    j->req.json_schema = j->schema.data;
    j->req.seed = o.seed;
    j->req.max_tokens = rp_prompt_max_tokens(&tc->shape, n_pairs);
    if (tc->sampling.max_tokens > 0 && tc->sampling.max_tokens < j->req.max_tokens)
        j->req.max_tokens = tc->sampling.max_tokens;
    /* What the output depends on besides the chunk, model and prompt
     * version: the whole request as sent, and the sampling. */
    uint64_t hp = rp_hash64(j->user.data, j->user.len);
    if (j->req.system)
        hp = rp_hash64_seeded(j->req.system, strlen(j->req.system), hp);
    hp = rp_hash64_seeded(j->grammar.data ? j->grammar.data : "", j->grammar.len, hp);
    snprintf(j->cache_key_params, sizeof(j->cache_key_params),
             "temperature=%.4f top_k=%d top_p=%.4f max_tokens=%d seed=%016llx request=%016llx",
             (double)tc->sampling.temperature, tc->sampling.top_k, (double)tc->sampling.top_p, j->req.max_tokens,
             (unsigned long long)j->req.seed, (unsigned long long)hp);
    return RP_OK;
}

/* The generation-cache key of j's request to its tier. chunk_hex holds
 * the chunk id the key borrows. */
static void cache_key(const struct run *r, const struct job *j, struct rp_store_gen_key *k, char chunk_hex[17])
{
    rp_hash_hex(j->di->chunks.items[j->chunk].hash, chunk_hex);
    k->chunk_id = chunk_hex;
    k->model = r->tiers[j->tier].identity;
    k->prompt_version = rp_prompt_set_version(r->tiers[j->tier].prompts);
    k->params = j->cache_key_params;
}

/* Answers j from the store's cache when it can: true with req filled as
 * the backend would have. */
static bool cache_answer(struct run *r, struct job *j)
{
    if (!r->store || r->p->no_cache)
        return false;
    struct rp_store_gen_key k;
    char chunk_hex[17];
    cache_key(r, j, &k, chunk_hex);
    char *out = NULL;
    struct rp_store_gen_stats st;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = rp_store_cache_get(r->store, &k, &out, &st, &err);
    if (e == RP_ERR_NOENT)
        return false;
    if (e) {
        rp_warn("%s (generating instead)", err.msg);
        return false;
    }
    rp_buf_reset(&j->req.text);
    bool ok = rp_buf_add(&j->req.text, out, strlen(out)) == RP_OK;
    free(out);
    if (!ok)
        return false;
    j->req.n_prompt_tokens = (int)st.n_prompt_tokens;
    j->req.n_gen_tokens = (int)st.n_gen_tokens;
    j->req.seconds = st.seconds;
    j->req.finish = RP_FINISH_STOP;
    rp_error_clear(&j->req.err);
    j->from_cache = true;
    return true;
}

static void wait_push(struct run *r, struct job *j)
{
    j->next = NULL;
    if (r->wait_tail)
        r->wait_tail->next = j;
    else
        r->wait_head = j;
    r->wait_tail = j;
    r->n_waiting++;
}

static void finish_job(struct run *r, struct job *j, enum outcome out);
static void handle_done(struct run *r, struct job *j);

/* The tier for a job: the router's static choice (complexity thresholds,
 * breakers), or with route.adaptive the cheapest tier the history predicts
 * to reach the target pass rate (the static choice while a tier has too
 * little history). Called again on every dispatch pass while the job's
 * tier is full, so the summary counts the job, not the calls. */
static int pick_tier(struct run *r, struct job *j)
{
    int tier = rp_router_pick(r->router, j->complexity, j->tried);
    if (!r->adapt || tier < 0)
        return tier;
    uint32_t allowed = 0;
    for (size_t i = 0; i < r->cfg->n_tiers; i++)
        if (r->cfg->tiers[i].kind != RP_BACKEND_EXTRACTIVE && !(j->tried & (1u << i)))
            allowed |= 1u << i;
    enum rp_adapt_why why;
    int t = rp_adapt_choose(r->adapt, j->complexity, r->cfg->route.target, allowed, tier, &why);
    if (t >= 0 && t != tier && !j->adapted) {
        j->adapted = true;
        rp_debug("chunk %zu of '%s' (complexity %.2f): history picks tier '%s' over '%s' (%s)", j->chunk,
                 j->di->path, (double)j->complexity, r->cfg->tiers[t].name, r->cfg->tiers[tier].name,
                 rp_adapt_why_name(why));
        r->sum->adaptive_picks++;
    }
    return t >= 0 ? t : tier;
}

/* Tries to hand waiting jobs to their tiers, in order. A job whose tier is
 * full waits; one that no tier can take becomes a dead letter. */
static void dispatch(struct run *r)
{
    struct job **pp = &r->wait_head;
    struct job *prev = NULL;
    struct job *hits = NULL; /* answered from the cache: handled after the pass */
    uint32_t full = 0; /* tiers found without room in this pass */
    double t = now_s();
    while (*pp) {
        struct job *j = *pp;
        bool taken = false, gone = false;
        if (t > j->deadline) {
            char why[96];
            snprintf(why, sizeof(why), "no tier answered within the %.0f s deadline",
                     r->cfg->retry.deadline_s);
            add_reason(j, "deadline", why);
            gone = true;
        }
        while (!taken && !gone) {
            int tier = j->tier >= 0 ? j->tier : pick_tier(r, j);
            if (tier < 0) {
                /* Every tier failed this job, or the untried ones are all down for now. */
                uint32_t all = 0;
                for (size_t i = 0; i < r->cfg->n_tiers; i++)
                    if (r->cfg->tiers[i].kind != RP_BACKEND_EXTRACTIVE)
                        all |= 1u << i;
                if ((j->tried & all) == all)
                    gone = true;
                break;
            }
            if (full & (1u << tier))
                break;
            if (j->tier != tier || !j->req.user) {
                struct rp_error perr;
                rp_error_clear(&perr);
                if (prepare(r, j, tier, &perr)) {
                    rp_gen_request_release(&j->req);
                    rp_gen_request_init(&j->req);
                    j->req.ud = j;
                    j->req.err = perr;
                    j->tier = tier;
                    finish_job(r, j, OUT_FAILED);
                    gone = true;
                    taken = true;
                    break;
                }
                if (j->home < 0)
                    j->home = tier;
                else if (tier != j->home && !j->escalated)
                    r->sum->fallbacks++;
                j->tier = tier;
            }
            bool failed = false;
            struct rp_error serr;
            rp_error_clear(&serr);
            if (cache_answer(r, j)) {
                j->in_flight = true;
                r->n_in_flight++;
                j->hit_next = hits;
                hits = j;
                taken = true;
            } else if (rp_router_submit(r->router, tier, &j->req, &failed, &serr)) {
                if (r->t_first_submit == 0)
                    r->t_first_submit = now_s();
                j->in_flight = true;
                r->n_in_flight++;
                taken = true;
            } else if (failed) {
                add_reason(j, r->cfg->tiers[tier].name, serr.msg);
                j->tried |= 1u << tier;
                j->tier = -1;
            } else {
                full |= 1u << tier;
                break;
            }
        }
        if (taken || gone) {
            *pp = j->next;
            if (r->wait_tail == j)
                r->wait_tail = prev;
            r->n_waiting--;
            if (gone && j->out == OUT_NONE)
                finish_job(r, j, OUT_DEAD);
        } else {
            prev = j;
            pp = &j->next;
        }
    }
    r->last_full = full;
    /* In the order they were taken (the list is reversed). */
    struct job *rev = NULL;
    while (hits) {
        struct job *n = hits->hit_next;
        hits->hit_next = rev;
        rev = hits;
        hits = n;
    }
    while (rev) {
        struct job *n = rev->hit_next;
        handle_done(r, rev);
        rev = n;
    }
}

/* ---- writing, in the order jobs were made ---- */

/* The text the job's chunk holds ("" when there is none). */
static const char *chunk_text(const struct job *j)
{
    const struct doc_item *di = j->di;
    if (di->doc && j->chunk < di->chunks.n && di->chunks.items[j->chunk].text)
        return di->chunks.items[j->chunk].text;
    return "";
}

/* The job's chunk indexed for the scorer, built on first use and kept:
 * the escalation decision and the writer score against the same text.
 * NULL when out of memory. */
static const struct rp_quality_ctx *job_qctx(struct job *j)
{
    if (!j->qctx) {
        const char *context = chunk_text(j);
        j->qctx = rp_quality_ctx_new(context, strlen(context));
    }
    return j->qctx;
}

/* Joins the assessment's reasons into one line for the rejects file. */
static void join_reasons(const struct rp_quality *q, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < q->n_reasons && used + 3 < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? "; " : "", q->reasons[i]);
        if (w < 0)
            break;
        used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
    }
}

/* Runs the assessor on one pair and writes it to the dataset (accepted) or
 * to the rejects file with every reason (stage "assess"). */
/* Keeps the record in the store (an id seen before is not added twice). */
static enum rp_err store_record(struct run *r, const struct job *j, size_t chunk, const struct rp_origin *o,
                                const char *id, const char *question, const char *answer, const char *type,
                                const struct rp_quality *q, struct rp_error *err)
{
    if (!r->store || !j->di->store_id || chunk >= j->di->chunks.n)
        return RP_OK;
    char chunk_hex[17];
    rp_hash_hex(j->di->chunks.items[chunk].hash, chunk_hex);
    json_t *qj = rp_quality_to_json(q);
    char *qs = qj ? json_dumps(qj, JSON_COMPACT) : NULL;
    json_decref(qj);
    char reasons[2048];
    join_reasons(q, reasons, sizeof(reasons));
    struct rp_store_record rec = {.pair_id = id, .run_id = r->run_id, .document_id = j->di->store_id,
                                  .chunk_index = (int)chunk, .chunk_id = chunk_hex, .question = question,
                                  .answer = answer, .type = type, .tier = j->tier >= 0 ? j->tier : 0,
                                  .model = o->model, .verdict = q->accept ? RP_STORE_ACCEPT : RP_STORE_REJECT,
                                  .score = q->score, .quality_json = qs, .reasons = reasons[0] ? reasons : NULL};
    enum rp_err e = rp_store_record_insert(r->store, &rec, NULL, err);
    free(qs);
    return e;
}

static enum rp_err assess_and_write(struct run *r, const struct job *j, size_t chunk, struct rp_origin *o,
                                    const struct rp_quality_ctx *qctx, const char *context, size_t k,
                                    const char *question, const char *answer, const char *type, bool *accepted,
                                    struct rp_error *err)
{
    char id[17];
    rp_dataset_pair_id(o, k, question, id);
    struct rp_assess_item it = {.ctx = qctx, .context = context, .question = question, .answer = answer,
                                .id = id, .source = o->source};
    struct rp_quality q;
    enum rp_err e = rp_assessor_check(r->as, &it, &q, err);
    if (e)
        return e;
    *accepted = q.accept;
    r->last_score = q.score;
    mon_pair(r->mon, j->di->mon_row, o->rule ? 0 : j->tier, id, o->source, question, answer, &q);
    e = store_record(r, j, chunk, o, id, question, answer, type, &q, err);
    if (e)
        return e;
    o->quality = &q;
    if (q.accept) {
        e = rp_dataset_add_pair(r->ds, o, k, question, answer, type, err);
    } else {
        char reason[2048];
        join_reasons(&q, reason, sizeof(reason));
        r->sum->quality_rejects++;
        e = rp_dataset_add_reject(r->ds, o, "assess", reason, question, answer, NULL, err);
    }
    o->quality = NULL;
    return e;
}

/* Appends what routing learns from: one attempt of tier on the job's chunk
 * (attempt 0 first, 1 after an escalation). */
static enum rp_err add_history(struct run *r, const struct job *j, int attempt, int tier,
                               const char *model, double seconds, int n_prompt_tokens,
                               int n_gen_tokens, int accepted, double mean_quality,
                               struct rp_error *err)
{
    char chunk_hex[17];
    rp_hash_hex(j->di->chunks.items[j->chunk].hash, chunk_hex);
    struct rp_store_history h = {.run_id = r->run_id,
                                 .chunk_id = chunk_hex,
                                 .attempt = attempt,
                                 .complexity = j->complexity,
                                 .tier = tier,
                                 .model = model,
                                 .latency_s = seconds,
                                 .n_prompt_tokens = n_prompt_tokens,
                                 .n_gen_tokens = n_gen_tokens,
                                 .accepted = accepted,
                                 .mean_quality = mean_quality};
    return rp_store_history_append(r->store, &h, err);
}

static void write_generated(struct run *r, struct job *j, struct rp_origin *o, struct rp_error *err)
{
    struct rp_gen_request *req = &j->req;
    enum rp_err e = RP_OK;
    struct rp_run_tier_summary *ts = &r->sum->tiers[j->tier];
    if (j->first_raw.len) {
        mon_reject(r->mon, j->di->mon_row, "escalate", "no usable pair from the tier below");
        e = rp_dataset_add_reject(r->ds, o, "escalate", "no usable pair from the tier below; retried on this tier",
                                  NULL, NULL, j->first_raw.data, err);
    }
    const struct rp_qa_list pairs = j->pairs;
    if (!e && j->parse_failed) {
        char reason[RP_ERROR_MSG_MAX + 64];
        if (req->finish == RP_FINISH_LENGTH)
            snprintf(reason, sizeof(reason), "output cut off at %d tokens: %s", req->n_gen_tokens,
                     j->perr.msg);
        else
            snprintf(reason, sizeof(reason), "%s", j->perr.msg);
        mon_reject(r->mon, j->di->mon_row, "parse", reason);
        e = rp_dataset_add_reject(r->ds, o, "parse", reason, NULL, NULL, req->text.data, err);
    }
    size_t good = 0, n_scored = 0;
    double score_sum = 0;
    const char *context = chunk_text(j);
    const struct rp_quality_ctx *qctx = pairs.n ? job_qctx(j) : NULL;
    if (pairs.n && !qctx)
        e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < pairs.n && !e; k++) {
        const struct rp_qa_pair *qa = &pairs.items[k];
        if (qa->reject) {
            mon_reject(r->mon, j->di->mon_row, "parse", qa->reject);
            e = rp_dataset_add_reject(r->ds, o, "parse", qa->reject, qa->question, qa->answer, NULL, err);
        } else {
            bool ok;
            e = assess_and_write(r, j, j->chunk, o, qctx, context, k, qa->question, qa->answer, qa->type, &ok,
                                 err);
            good += ok;
            n_scored++;
            score_sum += r->last_score;
        }
    }
    ts->chunks++;
    ts->pairs += good;
    mon_chunk_done(r->mon, j->di->mon_row, j->tier);
    if (!e && r->store && !j->from_cache)
        e = add_history(r, j, j->escalated ? 1 : 0, j->tier, o->model, req->seconds,
                        req->n_prompt_tokens, req->n_gen_tokens, (int)good,
                        n_scored ? score_sum / (double)n_scored : 0, err);
    note_failure(r, e, err);
}

static void write_job(struct run *r, struct job *j)
{
    struct rp_origin o = origin_of(r, j);
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err e = RP_OK;
    if (j->below.tier >= 0 && !j->below.from_cache && r->store && j->chunk < j->di->chunks.n) {
        /* The tier below gave no usable pair: a failed attempt routing must
         * learn from, whatever became of the chunk on the tier above. */
        int t = j->below.tier;
        e = add_history(r, j, 0, t, r->tiers[t].model[0] ? r->tiers[t].model : NULL,
                        j->below.seconds, j->below.n_prompt_tokens, j->below.n_gen_tokens, 0, 0,
                        &err);
    }
    switch (e ? OUT_NONE : j->out) {
    case OUT_GENERATED:
        write_generated(r, j, &o, &err);
        break;
    case OUT_EXTRACT:
        for (size_t k = 0; k < j->ex.n && !e; k++) {
            const struct rp_extract_pair *x = &j->ex.items[k];
            /* The chunk holding the pair's source block names its section. */
            struct job cj = *j;
            cj.chunk = SIZE_MAX;
            for (size_t c = 0; c < j->di->chunks.n; c++) {
                const struct rp_chunk *ch = &j->di->chunks.items[c];
                if (x->block >= ch->first_block && x->block <= ch->last_block) {
                    cj.chunk = c;
                    break;
                }
            }
            struct rp_origin xo = origin_of(r, &cj);
            xo.complexity = -1;
            xo.tier = "extractive";
            xo.rule = x->rule;
            xo.evidence = x->evidence;
            /* Held to the same checks, against the text it was taken from
             * (questions name the document: its title is context too). */
            struct rp_buf ctx;
            rp_buf_init(&ctx, RP_BUF_NO_CAP);
            if ((xo.title && (rp_buf_add(&ctx, xo.title, strlen(xo.title)) || rp_buf_add(&ctx, "\n", 1))) ||
                (x->evidence && rp_buf_add(&ctx, x->evidence, strlen(x->evidence))) || rp_buf_add(&ctx, "", 1)) {
                rp_buf_release(&ctx);
                e = rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
                break;
            }
            bool ok;
            e = assess_and_write(r, j, cj.chunk, &xo, NULL, ctx.data, k, x->question, x->answer, x->type, &ok,
                                 &err);
            rp_buf_release(&ctx);
            r->sum->extractive_pairs += ok;
            r->sum->tiers[0].pairs += ok;
        }
        break;
    case OUT_PENDING:
        mon_chunk_done(r->mon, j->di->mon_row, -1);
        e = rp_dataset_add_pending(r->ds, &o, "no LLM tier configured", &err);
        break;
    case OUT_DEAD:
        r->sum->dead_letters++;
        mon_chunk_done(r->mon, j->di->mon_row, -1);
        mon_dead_letter(r->mon, j->di->mon_row);
        mon_reject(r->mon, j->di->mon_row, "dead-letter", j->reasons.len ? j->reasons.data : "no tier could take it");
        if (r->store && j->di->store_id && j->chunk < j->di->chunks.n)
            e = rp_store_chunk_fail(r->store, j->di->store_id, (int)j->chunk,
                                    j->reasons.len ? j->reasons.data : "no tier could take it", &err);
        if (e)
            break;
        e = rp_dataset_add_reject(r->ds, &o, "dead-letter",
                                  j->reasons.len ? j->reasons.data : "no tier could take it", NULL, NULL,
                                  NULL, &err);
        break;
    case OUT_FAILED:
        r->sum->requests_failed++;
        mon_chunk_done(r->mon, j->di->mon_row, -1);
        mon_reject(r->mon, j->di->mon_row, "generate", j->req.err.msg);
        e = rp_dataset_add_reject(r->ds, &o, "generate", j->req.err.msg, NULL, NULL,
                                  j->req.text.len ? j->req.text.data : NULL, &err);
        break;
    case OUT_NONE:
        break;
    }
    note_failure(r, e, &err);
    job_free(r, j);
}

static void flush_window_timed(struct run *r);

/* Writing is the assess stage's work: its time is measured. */
static void flush_window(struct run *r)
{
    double t = r->mon ? now_s() : 0;
    flush_window_timed(r);
    if (r->mon)
        mon_stage_time(r->mon, MON_ASSESS, now_s() - t, 0, 0);
}

static void flush_window_timed(struct run *r)
{
    size_t n = 0;
    size_t live = (size_t)(r->next_seq - r->next_write);
    while (n < live && r->window[n] && r->window[n]->out != OUT_NONE && !r->window[n]->in_flight)
        n++;
    struct rp_error err;
    rp_error_clear(&err);
    bool tx = n && r->store && !r->failed;
    if (tx && rp_store_begin(r->store, &err) != RP_OK) {
        note_failure(r, err.code ? err.code : RP_ERR_IO, &err);
        tx = false;
    }
    for (size_t i = 0; i < n; i++)
        write_job(r, r->window[i]);
    /* The jobs' records, history and dead letters are in together, or not at all. */
    if (tx && !r->failed && rp_store_commit(r->store, &err) != RP_OK)
        note_failure(r, err.code ? err.code : RP_ERR_IO, &err);
    else if (tx && r->failed)
        rp_store_rollback(r->store, NULL);
    if (n) {
        memmove(r->window, r->window + n, (live - n) * sizeof(*r->window));
        memset(r->window + live - n, 0, n * sizeof(*r->window));
        r->next_write += n;
    }
}

static void finish_job(struct run *r, struct job *j, enum outcome out)
{
    j->out = out;
    j->in_flight = false;
    (void)r;
}

/* ---- completions ---- */

struct done_msg {
    struct rp_gen_request *req;
    int tier;
};

static void on_backend_done(struct rp_gen_request *req, int tier, void *ud)
{
    struct run *r = ud;
    struct job *j = req->ud;
    (void)tier; /* the job knows its tier */
    /* Capacity covers every request the backends can hold: never blocks. */
    rp_queue_push(r->done, j);
}

/* Parses the job's output once, for the escalation decision and the writer;
 * true when at least one pair passes the scorer's checks (near-duplicates
 * are decided later, in output order). */
static bool parse_output(struct run *r, struct job *j)
{
    rp_qa_list_release(&j->pairs);
    rp_qa_list_init(&j->pairs);
    rp_error_clear(&j->perr);
    j->parse_failed = rp_qa_parse(j->req.text.data, j->req.text.len, &j->pairs, &j->perr) != RP_OK;
    bool usable = false;
    for (size_t k = 0; k < j->pairs.n && !usable; k++) {
        const struct rp_qa_pair *qa = &j->pairs.items[k];
        if (qa->reject)
            continue;
        const struct rp_quality_ctx *qctx = job_qctx(j);
        if (!qctx)
            return true; /* out of memory: let the writer report it */
        struct rp_quality q;
        rp_quality_assess(&r->cfg->quality.scorer, qctx, qa->question, qa->answer, NULL, &q);
        usable = q.accept;
    }
    return usable;
}

static void handle_done(struct run *r, struct job *j)
{
    r->n_in_flight--;
    r->t_last_done = now_s();
    int t = j->tier;
    const char *tname = r->cfg->tiers[t].name;
    struct rp_gen_request *req = &j->req;
    struct rp_run_tier_summary *ts = &r->sum->tiers[t];
    if (j->from_cache) {
        /* No backend was asked: nothing for its breaker or its token counts. */
        j->in_flight = false;
        r->sum->cache_hits++;
        mon_request(r->mon, t, true, true, 0, 0, 0);
        goto generated;
    }
    mon_request(r->mon, t, req->finish != RP_FINISH_ERROR, false, req->seconds, req->n_prompt_tokens,
                req->n_gen_tokens);
    ts->prompt_tokens += (uint64_t)(req->n_prompt_tokens > 0 ? req->n_prompt_tokens : 0);
    ts->gen_tokens += (uint64_t)(req->n_gen_tokens > 0 ? req->n_gen_tokens : 0);
    if (!r->tiers[t].model[0]) {
        struct rp_tier_stats st;
        rp_router_tier_stats(r->router, t, &st);
        snprintf(r->tiers[t].model, sizeof(r->tiers[t].model), "%s", st.model);
    }
    j->in_flight = false;
    if (req->finish == RP_FINISH_ERROR &&
        (req->err.code == RP_ERR_BACKEND || req->err.code == RP_ERR_CANCELLED)) {
        /* The tier failed, not the chunk: another tier may do it. */
        rp_router_record(r->router, t, false);
        ts->failed++;
        add_reason(j, tname, req->err.msg);
        j->tried |= 1u << t;
        j->tier = -1;
        wait_push(r, j);
        return;
    }
    rp_router_record(r->router, t, true);
    if (req->finish == RP_FINISH_ERROR) {
        finish_job(r, j, OUT_FAILED);
        return;
    }
    if (r->store) {
        /* Kept whatever its quality: the same request will get the same answer. */
        struct rp_store_gen_key k;
        char chunk_hex[17];
        cache_key(r, j, &k, chunk_hex);
        struct rp_store_gen_stats st = {.tier = t,
                                        .n_prompt_tokens = req->n_prompt_tokens,
                                        .n_gen_tokens = req->n_gen_tokens,
                                        .seconds = req->seconds};
        struct rp_error err;
        rp_error_clear(&err);
        if (rp_store_cache_put(r->store, &k, req->text.data ? req->text.data : "", &st, &err) != RP_OK)
            rp_warn("%s", err.msg);
    }
generated:
    if (!parse_output(r, j) && r->cfg->escalate && !j->escalated) {
        int up = rp_router_next_up(r->router, t, j->tried);
        if (up >= 0) {
            rp_debug("'%s' chunk %zu: no usable pair from tier '%s'; escalating to '%s'", j->di->path,
                     j->chunk, tname, r->cfg->tiers[up].name);
            r->sum->escalations++;
            j->escalated = true;
            rp_buf_reset(&j->first_raw);
            rp_buf_add(&j->first_raw, req->text.data, req->text.len);
            j->below.tier = t;
            j->below.from_cache = j->from_cache;
            j->below.seconds = req->seconds;
            j->below.n_prompt_tokens = req->n_prompt_tokens;
            j->below.n_gen_tokens = req->n_gen_tokens;
            j->tier = up;
            j->req.user = NULL; /* rebuilt for the new tier */
            wait_push(r, j);
            return;
        }
    }
    finish_job(r, j, OUT_GENERATED);
}

/* ---- taking documents ---- */

static uint64_t failed_key(const char *path, const char *chunk_id)
{
    uint64_t h = rp_hash64(path, strlen(path));
    return rp_hash64_seeded(chunk_id, strlen(chunk_id), h);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int note_failed(const struct rp_store_failure *f, void *ud)
{
    struct run *r = ud;
    if (f->chunk_index < 0 || !f->chunk_id)
        return 0; /* files are read again every run */
    if (r->n_dead == r->cap_dead) {
        size_t cap = r->cap_dead ? r->cap_dead * 2 : 64;
        uint64_t *p = realloc(r->dead, cap * sizeof(*p));
        if (!p)
            return 1;
        r->dead = p;
        r->cap_dead = cap;
    }
    r->dead[r->n_dead++] = failed_key(f->path, f->chunk_id);
    return 0;
}

/* The chunks earlier runs could not generate for (dead letters): without
 * --retry-failed they stay dead letters instead of being tried again. */
static enum rp_err load_failed(struct run *r, struct rp_error *err)
{
    enum rp_err e = rp_store_failures_foreach(r->store, note_failed, r, err);
    if (e == RP_ERR_CANCELLED)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (!e && r->n_dead)
        qsort(r->dead, r->n_dead, sizeof(*r->dead), cmp_u64);
    return e;
}

static bool failed_before(const struct run *r, const struct doc_item *di, size_t chunk)
{
    if (!r->n_dead || r->p->retry_failed)
        return false;
    char id[17];
    rp_hash_hex(di->chunks.items[chunk].hash, id);
    uint64_t k = failed_key(di->path, id);
    return bsearch(&k, r->dead, r->n_dead, sizeof(k), cmp_u64) != NULL;
}

/* Records the document and its chunks in the store, in one transaction,
 * and counts it as new, changed or unchanged since the last run. */
static void store_doc(struct run *r, struct doc_item *di)
{
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_store_document d = {.path = di->path, .content_hash = di->content_hash, .size = di->size,
                                  .mtime = di->mtime};
    enum rp_store_change ch;
    enum rp_err e = rp_store_document_upsert(r->store, r->run_id, &d, &di->store_id, &ch, NULL, &err);
    if (!e) {
        if (ch == RP_STORE_NEW)
            r->sum->docs_new++;
        else if (ch == RP_STORE_CHANGED)
            r->sum->docs_changed++;
        else
            r->sum->docs_unchanged++;
    }
    if (!e && !di->doc)
        e = rp_store_document_fail(r->store, di->store_id, di->err.msg, &err);
    for (size_t c = 0; !e && di->doc && c < di->chunks.n; c++) {
        const struct rp_chunk *k = &di->chunks.items[c];
        char id[17];
        rp_hash_hex(k->hash, id);
        struct rp_store_chunk sc = {.document_id = di->store_id, .index = (int)c, .chunk_id = id,
                                    .heading_path = k->heading_path ? k->heading_path : "",
                                    .tokens = (int)k->n_tokens, .complexity = di->complexity[c],
                                    .text = k->text ? k->text : ""};
        e = rp_store_chunk_upsert(r->store, &sc, NULL, &err);
    }
    if (!e && di->doc)
        e = rp_store_chunks_trim(r->store, di->store_id, (int)di->chunks.n, &err);
    if (e) {
        di->store_id = 0;
        note_failure(r, e, &err); /* take_doc() rolls its transaction back */
    }
}

static void take_doc_in_tx(struct run *r, struct doc_item *di);

/* A document, its chunks and the output lines they make (chunks.jsonl, an
 * ingest reject) go into the store in one transaction. */
static void take_doc(struct run *r, struct doc_item *di)
{
    struct rp_error err;
    rp_error_clear(&err);
    bool tx = r->store && !r->failed;
    if (tx && rp_store_begin(r->store, &err) != RP_OK) {
        note_failure(r, err.code ? err.code : RP_ERR_IO, &err);
        tx = false;
    }
    take_doc_in_tx(r, di);
    if (tx && !r->failed && rp_store_commit(r->store, &err) != RP_OK)
        note_failure(r, err.code ? err.code : RP_ERR_IO, &err);
    else if (tx && r->failed)
        rp_store_rollback(r->store, NULL);
}

/* Taking a document is the route stage's work: its time is measured. */
static void take_doc_timed(struct run *r, struct doc_item *di)
{
    double t = r->mon ? now_s() : 0;
    take_doc(r, di);
    if (r->mon)
        mon_stage_time(r->mon, MON_ROUTE, now_s() - t, 0, 0);
}

static void take_doc_in_tx(struct run *r, struct doc_item *di)
{
    struct rp_error err;
    rp_error_clear(&err);
    if (di->doc && di->chunks.n) {
        /* Scored once: the store keeps it and the router routes by it. */
        di->complexity = malloc(di->chunks.n * sizeof(*di->complexity));
        if (!di->complexity) {
            rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
            note_failure(r, RP_ERR_NOMEM, &err);
            doc_item_free(di);
            return;
        }
        for (size_t c = 0; c < di->chunks.n; c++) {
            struct rp_complexity cx;
            rp_complexity_chunk(di->doc, &di->chunks.items[c], &r->cfg->complexity, &cx);
            di->complexity[c] = cx.score;
        }
    }
    if (r->store)
        store_doc(r, di);
    di->mon_row = mon_doc(r->mon, di->path, di->doc ? NULL : di->err.msg, di->doc ? di->chunks.n : 0);
    if (!di->doc) {
        r->sum->docs_failed++;
        rp_warn("%s", di->err.msg);
        mon_reject(r->mon, di->mon_row, "ingest", di->err.msg);
        struct rp_origin o = {.source = di->path, .complexity = -1};
        note_failure(r, rp_dataset_add_reject(r->ds, &o, "ingest", di->err.msg, NULL, NULL, NULL, &err),
                     &err);
        doc_item_free(di);
        return;
    }
    r->sum->docs++;
    r->sum->chunks += di->chunks.n;
    rp_debug("'%s': %zu blocks, %zu chunks", di->path, di->doc->n_blocks, di->chunks.n);
    di->refs = 1; /* held while its jobs are made */

    /* The extractive tier: pairs straight from the document's structure. */
    struct job *x = r->has_extractive ? job_new(r, di, SIZE_MAX) : NULL;
    if (!r->has_extractive) {
        /* no extractive tier configured */
    } else if (!x || !window_add(r, x)) {
        if (x)
            job_free(r, x);
        rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
        note_failure(r, RP_ERR_NOMEM, &err);
    } else {
        struct rp_extract_params xp = rp_extract_default_params();
        if (rp_extract_doc(di->doc, &xp, &x->ex, &err) != RP_OK)
            rp_warn("'%s': extractive tier: %s", di->path, err.msg);
        finish_job(r, x, OUT_EXTRACT);
    }

    for (size_t c = 0; c < di->chunks.n && !r->failed; c++) {
        struct job *j = job_new(r, di, c);
        if (!j || !window_add(r, j)) {
            if (j)
                job_free(r, j);
            rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
            note_failure(r, RP_ERR_NOMEM, &err);
            break;
        }
        j->complexity = di->complexity[c];
        j->deadline = now_s() + r->cfg->retry.deadline_s;
        struct rp_origin o = origin_of(r, j);
        note_failure(r,
                     rp_dataset_add_chunk(r->ds, &o, di->chunks.items[c].text, di->chunks.items[c].n_tokens,
                                          &err),
                     &err);
        if (!r->has_llm) {
            finish_job(r, j, OUT_PENDING);
        } else if (failed_before(r, di, c)) {
            add_reason(j, "earlier run", "no tier could do it ('ranpipe status' lists it; --retry-failed tries again)");
            finish_job(r, j, OUT_DEAD);
        } else {
            wait_push(r, j);
        }
    }
    if (--di->refs == 0)
        doc_item_free(di);
}

/* Documents are taken while the waiting list is short: enough to keep
 * every backend full without holding the whole input in memory. */
static size_t want_waiting(const struct run *r)
{
    size_t cap = 0;
    for (size_t i = 0; i < r->cfg->n_tiers; i++)
        cap += rp_router_capacity(r->router, (int)i);
    return cap + 8;
}

/* A stop was asked (SIGINT/SIGTERM): take no more documents, hand out no
 * more requests, and give the ones in flight until the drain deadline to
 * finish - their answers go into the cache, so a rerun resumes from them. */
static bool stopping(struct run *r)
{
    if (!r->stop_at && r->p->stop && *r->p->stop) {
        double drain = r->p->drain_s > 0 ? r->p->drain_s : 5.0;
        r->stop_at = now_s() + drain;
        r->sum->interrupted = true;
        rp_warn("stopping: %zu requests in flight get %.0f s to finish; run again with the same output "
                "directory to resume",
                r->n_in_flight, drain);
        rp_queue_close(r->q); /* the ingest thread stops at its next document */
        r->ingest_done = true;
    }
    return r->stop_at > 0;
}

/* Where the generate stage's time went since the last turn of the loop,
 * and now and then the queue and breaker gauges. */
static void account(struct run *r)
{
    if (!r->mon)
        return;
    double t = now_s();
    /* The state found at the last mark held until now (the loop waited in it). */
    if (r->loop_mark > 0)
        mon_gen_state(r->mon, t - r->loop_mark, r->gen_busy, r->gen_full, r->gen_starved);
    r->loop_mark = t;
    r->gen_busy = r->n_in_flight > 0;
    r->gen_full = r->n_waiting > 0 && r->last_full != 0;
    r->gen_starved = r->has_llm && r->n_waiting == 0 && !r->ingest_done;
    if (t - r->gauges_at >= 0.5) {
        r->gauges_at = t;
        struct rp_tier_stats st[RP_RUN_MAX_TIERS];
        size_t n = r->cfg->n_tiers < RP_RUN_MAX_TIERS ? r->cfg->n_tiers : RP_RUN_MAX_TIERS;
        for (size_t i = 0; i < n; i++) {
            memset(&st[i], 0, sizeof(st[i]));
            if (r->router && r->cfg->tiers[i].kind != RP_BACKEND_EXTRACTIVE)
                rp_router_tier_stats(r->router, (int)i, &st[i]);
        }
        mon_gauges(r->mon, r->n_waiting, r->n_in_flight, st, n);
    }
}

static void loop(struct run *r)
{
    size_t low = want_waiting(r);
    while (!r->failed) {
        if (stopping(r)) {
            flush_window(r);
            if (r->n_in_flight == 0 || now_s() > r->stop_at)
                break;
            struct job *j = rp_queue_pop_timeout(r->done, 100);
            while (j) {
                handle_done(r, j);
                j = rp_queue_try_pop(r->done);
            }
            continue;
        }
        /* Intake. */
        while (!r->ingest_done && r->n_waiting < low) {
            bool idle = r->n_in_flight == 0 && r->n_waiting == 0;
            double tw = idle && r->mon ? now_s() : 0;
            struct doc_item *di = idle ? rp_queue_pop(r->q) : rp_queue_try_pop(r->q);
            if (idle && r->mon)
                mon_stage_time(r->mon, MON_ROUTE, 0, now_s() - tw, 0);
            if (!di) {
                if (idle)
                    r->ingest_done = true; /* closed and drained */
                break;
            }
            take_doc_timed(r, di);
        }
        dispatch(r);
        flush_window(r);
        account(r);
        if (r->ingest_done && r->n_waiting == 0 && r->n_in_flight == 0)
            break;
        /* Wait for a completion (or, when nothing runs, a moment for a tier
         * to come back from an open breaker). */
        struct job *j = NULL;
        if (r->n_in_flight)
            j = rp_queue_pop_timeout(r->done, r->ingest_done ? 200 : 20);
        else if (r->n_waiting) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        while (j) {
            handle_done(r, j);
            j = rp_queue_try_pop(r->done);
        }
    }
}

/* ---- set-up ---- */

static enum rp_err setup_tiers(struct run *r, struct rp_error *err)
{
    const struct rp_config *cfg = r->cfg;
    if (cfg->n_tiers > RP_RUN_MAX_TIERS)
        return rp_error_set(err, RP_ERR_CONFIG, "at most %d tiers", RP_RUN_MAX_TIERS);
    r->sum->n_tiers = cfg->n_tiers;
    for (size_t i = 0; i < cfg->n_tiers; i++) {
        const struct rp_tier_config *t = &cfg->tiers[i];
        snprintf(r->sum->tiers[i].name, sizeof(r->sum->tiers[i].name), "%s", t->name);
        r->sum->tiers[i].kind = rp_backend_kind_name(t->kind);
        if (t->kind == RP_BACKEND_EXTRACTIVE)
            continue;
        r->has_llm = true;
        enum rp_err e = rp_prompt_set_load(t->system_prompt, t->prompt_template, &r->tiers[i].prompts, err);
        if (e) {
            rp_error_prefix(err, "tier '%s': ", t->name);
            return e;
        }
        if (t->kind == RP_BACKEND_LLAMA && !r->tok) {
            r->tok = rp_llama_tokenizer_new(t->model, err);
            if (!r->tok) {
                rp_error_prefix(err, "tier '%s': ", t->name);
                return err->code ? err->code : RP_ERR_MODEL;
            }
        }
        /* The model's identity for the generation cache, and its name for
         * the records, known before any request (a rerun answered wholly
         * from the cache names the same model). */
        struct tier_ctx *tc = &r->tiers[i];
        if (t->kind == RP_BACKEND_LLAMA) {
            /* The file's name, size and time: hashing a model of gigabytes
             * at every start would cost more than it saves. */
            struct stat st;
            bool have = stat(t->model, &st) == 0;
            const char *base = strrchr(t->model, '/');
            snprintf(tc->identity, sizeof(tc->identity), "llama:%s:%lld:%lld", base ? base + 1 : t->model,
                     have ? (long long)st.st_size : -1LL, have ? (long long)st.st_mtime : -1LL);
            /* The first llama tier's vocabulary is loaded already (r->tok). */
            const struct rp_llama_params *tp = r->tok ? rp_llama_params(r->tok) : NULL;
            struct rp_llama *vocab = NULL;
            const struct rp_llama *named = r->tok;
            if (!tp || !tp->model_path || strcmp(tp->model_path, t->model) != 0)
                named = vocab = rp_llama_tokenizer_new(t->model, err);
            if (named)
                snprintf(tc->model, sizeof(tc->model), "%s", rp_llama_model_name(named));
            rp_llama_free(vocab);
            rp_error_clear(err);
        } else {
            snprintf(tc->identity, sizeof(tc->identity), "openai:%s@%s", t->api_model ? t->api_model : "",
                     t->n_base_urls ? t->base_urls[0] : "");
            snprintf(tc->model, sizeof(tc->model), "%s", t->api_model ? t->api_model : "default");
        }
    }
    r->has_extractive = cfg->n_tiers > 0 && cfg->tiers[0].kind == RP_BACKEND_EXTRACTIVE;
    struct rp_router_params rp = {
        .config = cfg,
        .exe = r->p->exe,
        .memory_budget_mb = r->p->memory_budget_mb,
    };
    r->router = rp_router_new(&rp, on_backend_done, r, err);
    if (!r->router)
        return err->code ? err->code : RP_ERR_BACKEND;
    size_t cap = 16;
    for (size_t i = 0; i < cfg->n_tiers; i++)
        cap += rp_router_capacity(r->router, (int)i);
    r->done = rp_queue_new(cap);
    if (!r->done)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

/* Every output line goes into the store too, in the transaction of the
 * records it comes from: the store can rebuild every output file. */
static enum rp_err keep_line(const char *file, size_t seq, const char *line, size_t len, void *ud,
                             struct rp_error *err)
{
    struct run *r = ud;
    return rp_store_output_add(r->store, r->run_id, file, (int64_t)seq, line, len, err);
}

/* OUT/conflicts.jsonl's lines: parameters that accepted pairs give
 * different defaults or ranges. Kept in the store (in the caller's
 * transaction) and in *text for the file. */
static enum rp_err conflict_lines(struct run *r, char **text, size_t *len, struct rp_error *err)
{
    FILE *f = open_memstream(text, len);
    if (!f)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    rp_assessor_write_conflicts(r->as, f);
    if (fclose(f) != 0)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    size_t pos = 0, n, seq = 0;
    const char *line;
    enum rp_err e = RP_OK;
    while (!e && rp_next_line(*text, *len, &pos, &line, &n))
        if (n)
            e = rp_store_output_add(r->store, r->run_id, "conflicts.jsonl", (int64_t)seq++, line, n, err);
    return e;
}

/* Writes OUT/conflicts.jsonl whole, then renames it into place. */
static enum rp_err write_conflicts(struct run *r, const char *text, size_t len, struct rp_error *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/conflicts.jsonl", r->p->out_dir);
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return rp_error_set(err, RP_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    if ((len && fwrite(text, 1, len, f) != len) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return RP_OK;
}

/* The end of a run that went through: the store first (conflict lines,
 * deleted documents, the run's lines marked complete, the run done, in
 * one transaction), then the files renamed into place. A crash between
 * the two leaves the store ahead of the files: `ranpipe export --rebuild`
 * or the next run puts them right. */
static enum rp_err finish_outputs(struct run *r, struct rp_error *err)
{
    char *conflicts = NULL;
    size_t clen = 0;
    int64_t gone = 0;
    enum rp_err e = rp_store_begin(r->store, err);
    if (!e)
        e = conflict_lines(r, &conflicts, &clen, err);
    if (!e)
        e = rp_store_documents_mark_deleted(r->store, r->run_id, &gone, err);
    if (!e)
        e = rp_store_outputs_complete(r->store, r->run_id, err);
    if (!e)
        e = rp_store_run_finish(r->store, r->run_id, RP_STORE_RUN_DONE, err);
    if (!e)
        e = rp_store_commit(r->store, err);
    if (e)
        rp_store_rollback(r->store, NULL);
    r->sum->docs_deleted = (size_t)gone;
    if (!e)
        e = rp_dataset_commit(r->ds, err);
    if (!e)
        e = write_conflicts(r, conflicts ? conflicts : "", clen, err);
    free(conflicts);
    return e;
}

enum rp_err rp_run(const struct rp_run_params *params, struct rp_run_summary *summary,
                   struct rp_error *err)
{
    double t0 = now_s();
    memset(summary, 0, sizeof(*summary));
    struct run r = {.p = params, .cfg = params->config, .sum = summary};
    rp_path_list_init(&r.files);
    enum rp_err rc = RP_OK;
    pthread_t ingest;
    bool ingest_started = false;

    if (!params->config)
        return rp_error_set(err, RP_ERR_CONFIG, "no configuration given");
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
    rc = setup_tiers(&r, err);
    if (rc)
        goto out;
    struct rp_assess_params ap = rp_assess_default_params();
    ap.quality = r.cfg->quality.scorer;
    ap.dedup = r.cfg->quality.dedup;
    ap.dedup_threshold = r.cfg->quality.dedup_threshold;
    ap.dedup_pair_threshold = r.cfg->quality.dedup_pair_threshold;
    if (r.cfg->quality.embed_model) {
        struct rp_embed_params ep = rp_embed_default_params();
        ep.model = r.cfg->quality.embed_model;
        r.emb = rp_embedder_new(&ep, err);
        if (!r.emb) {
            rc = err->code ? err->code : RP_ERR_MODEL;
            goto out;
        }
        ap.embedder = r.emb;
    }
    if (r.cfg->quality.judge) {
        /* Config loading checked that the tier exists and is an LLM tier. */
        const struct rp_tier_config *jt = rp_config_tier(r.cfg, r.cfg->quality.judge);
        struct rp_judge_params jp = rp_judge_default_params();
        jp.seed = r.cfg->seed;
        jp.retry = &r.cfg->retry;
        r.judge = jt ? rp_judge_new(jt, params->exe, &jp, err) : NULL;
        if (!r.judge) {
            if (!jt)
                rp_error_set(err, RP_ERR_CONFIG, "quality.judge: no tier is called '%s'", r.cfg->quality.judge);
            rc = err->code ? err->code : RP_ERR_BACKEND;
            goto out;
        }
        ap.judge = rp_judge_fn_strict;
        ap.judge_ud = r.judge;
        rp_info("judge: tier '%s' rates the pairs the other checks accept", jt->name);
        /* Two llama processes that each take every core slow both down
         * many times over (their threads spin waiting for each other). */
        bool other_llama = false;
        for (size_t i = 0; i < r.cfg->n_tiers; i++)
            other_llama |= r.cfg->tiers[i].kind == RP_BACKEND_LLAMA;
        if (jt->kind == RP_BACKEND_LLAMA && jt->llama.n_threads == 0 && other_llama)
            rp_warn("judge: tier '%s' runs its own llama worker with a thread per core next to the generating "
                    "workers; set 'threads' on the llama tiers so that together they fit the cores",
                    jt->name);
    }
    r.as = rp_assessor_new(&ap, err);
    if (!r.as) {
        rc = err->code ? err->code : RP_ERR_NOMEM;
        goto out;
    }
    r.ds = rp_dataset_open(params->out_dir, err);
    if (!r.ds) {
        rc = err->code ? err->code : RP_ERR_IO;
        goto out;
    }
    {
        /* The run's state, kept across runs: what a rerun resumes from. */
        char db[4096];
        snprintf(db, sizeof(db), "%s/ranpipe.db", params->out_dir);
        rc = rp_store_open(db, NULL, &r.store, err);
        if (!rc) {
            char cfg_hash[17];
            uint64_t h = rp_hash64_seeded(&r.cfg->seed, sizeof(r.cfg->seed), (uint64_t)r.cfg->n_tiers);
            for (size_t i = 0; i < r.cfg->n_tiers; i++)
                h = rp_hash64_seeded(r.tiers[i].identity, strlen(r.tiers[i].identity), h);
            rp_hash_hex(h, cfg_hash);
            rc = rp_store_run_start(r.store, cfg_hash, &r.run_id, err);
        }
        if (!rc) {
            rp_dataset_on_line(r.ds, keep_line, &r);
            rc = load_failed(&r, err);
        }
        if (!rc && r.cfg->route.adaptive) {
            size_t skipped = 0;
            r.adapt = rp_adapt_from_store(r.store, (int)r.cfg->n_tiers, NULL, &skipped, err);
            if (!r.adapt)
                rc = err->code ? err->code : RP_ERR_NOMEM;
        }
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < r.cfg->n_tiers; i++) {
        const struct rp_tier_config *t = &r.cfg->tiers[i];
        if (t->kind == RP_BACKEND_LLAMA)
            rp_info("tier '%s': llama, model '%s', %d worker(s) x %d parallel sequences, up to complexity %.2f",
                    t->name, t->model, t->workers > 0 ? t->workers : 1, t->llama.n_parallel,
                    (double)t->max_complexity);
        else if (t->kind == RP_BACKEND_OPENAI)
            rp_info("tier '%s': openai, %s%s, up to complexity %.2f", t->name, t->base_urls[0],
                    t->n_base_urls > 1 ? " (and more)" : "", (double)t->max_complexity);
    }
    rp_info("%zu input file%s", r.files.n, r.files.n == 1 ? "" : "s");

    if (!params->no_monitor) {
        struct mon_params mp = {.cfg = r.cfg, .metrics = params->metrics, .progress = params->progress,
                                .inputs = params->inputs, .n_inputs = params->n_inputs,
                                .out_dir = params->out_dir, .has_llm = r.has_llm};
        r.mon = mon_new(&mp);
        if (!r.mon) {
            rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        mon_files(r.mon, r.files.n);
        mon_start(r.mon);
    }
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

    loop(&r);
    if (r.failed) {
        rc = r.fail_err.code ? r.fail_err.code : RP_ERR_IO;
        *err = r.fail_err;
    }
    if (!rc && summary->interrupted)
        rc = rp_error_set(err, RP_ERR_CANCELLED,
                          "interrupted; the output files were left as they were (run again with the same output "
                          "directory to resume)");
    if (!rc) {
        rc = finish_outputs(&r, err);
    } else if (r.store) {
        struct rp_error ferr;
        rp_error_clear(&ferr);
        enum rp_store_run_status st = summary->interrupted ? RP_STORE_RUN_INTERRUPTED : RP_STORE_RUN_FAILED;
        if (rp_store_run_finish(r.store, r.run_id, st, &ferr) != RP_OK)
            rp_warn("%s", ferr.msg);
    }
    {
        struct rp_assess_stats st;
        rp_assessor_stats(r.as, &st);
        summary->duplicates = st.duplicates;
        summary->conflicts = st.conflicts;
    }
    summary->pairs = rp_dataset_n_pairs(r.ds);
    summary->rejects = rp_dataset_n_rejects(r.ds);
    summary->pending = rp_dataset_n_pending(r.ds);
out:
    if (r.q)
        rp_queue_close(r.q);
    if (ingest_started) {
        pthread_join(ingest, NULL);
        struct doc_item *di;
        while ((di = rp_queue_try_pop(r.q)) != NULL)
            doc_item_free(di);
    }
    /* Stopping the backends finishes what they hold (cancelled). */
    if (r.router) {
        for (size_t i = 0; i < r.cfg->n_tiers; i++)
            rp_router_tier_stats(r.router, (int)i, &summary->tiers[i].stats);
        rp_router_free(r.router);
    }
    for (size_t i = 0; i < summary->n_tiers; i++) {
        summary->requests_failed += summary->tiers[i].failed;
        summary->prompt_tokens += summary->tiers[i].prompt_tokens;
        summary->gen_tokens += summary->tiers[i].gen_tokens;
    }
    if (r.t_first_submit > 0 && r.t_last_done > r.t_first_submit)
        summary->gen_seconds = r.t_last_done - r.t_first_submit;
    if (r.mon) {
        /* summary.json and report.html: whatever became of the run. */
        summary->seconds = now_s() - t0;
        struct rp_error merr;
        rp_error_clear(&merr);
        const char *status = summary->interrupted ? "interrupted" : rc ? "failed" : "complete";
        struct rp_tier_stats st[RP_RUN_MAX_TIERS];
        for (size_t i = 0; i < summary->n_tiers && i < RP_RUN_MAX_TIERS; i++)
            st[i] = summary->tiers[i].stats;
        mon_gauges(r.mon, r.n_waiting, r.n_in_flight, st, summary->n_tiers);
        if (mon_finish(r.mon, summary, status, &merr) != RP_OK)
            rp_warn("%s", merr.msg);
    }
    /* Jobs still around exist only when the run failed midway. */
    if (r.done) {
        struct job *j;
        while ((j = rp_queue_try_pop(r.done)) != NULL)
            j->in_flight = false;
    }
    for (size_t i = 0; i < (size_t)(r.next_seq - r.next_write); i++)
        if (r.window[i])
            job_free(&r, r.window[i]);
    free(r.window);
    rp_queue_free(r.q);
    rp_queue_free(r.done);
    for (size_t i = 0; i < RP_RUN_MAX_TIERS; i++)
        rp_prompt_set_free(r.tiers[i].prompts);
    rp_llama_free(r.tok);
    rp_dataset_free(r.ds);
    rp_assessor_free(r.as);
    rp_store_close(r.store);
    free(r.dead);
    rp_adapt_free(r.adapt);
    mon_free(r.mon);
    rp_judge_free(r.judge);
    rp_embedder_free(r.emb);
    rp_path_list_release(&r.files);
    summary->seconds = now_s() - t0;
    return rc;
}
