/*
 * llama.c - continuous batching over libllama (see include/ranpipe/llm.h).
 *
 * Design: n_parallel slots, one llama sequence id each. Every step builds
 * one llama_batch: first the last sampled token of each generating slot,
 * then as many prompt tokens of prefilling slots as fit in n_batch (long
 * prompts are prefilled over several steps next to running generations).
 * Logits are requested only where a token will be sampled. After decode,
 * each generating slot samples; a slot that finishes hands its request back
 * and frees its KV cells (llama_memory_seq_rm), and the slot is refilled
 * from the caller before the next step.
 *
 * A grammar-constrained request also stops as soon as the JSON value it
 * produces is complete (bracket depth back to zero outside strings), which
 * saves the full grammar pass that would be needed to sample end-of-text.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm_int.h"
#include "ranpipe/log.h"

struct rp_llama {
    struct rp_llama_params params;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    int n_vocab;
    char name[256];
    const char *tmpl; /* model's chat template, or "chatml" */
    struct rp__vocab_index ix;
};

enum slot_state { SLOT_IDLE, SLOT_PREFILL, SLOT_GEN };

struct slot {
    enum slot_state state;
    struct rp_gen_request *req;
    llama_token *prompt;
    int n_prompt;
    int n_prefilled; /* prompt tokens already in the batch */
    int n_past;      /* position of the next token */
    int max_tokens;
    llama_token last; /* token to feed next (GEN) */
    int i_batch;      /* index of this slot's logits in the batch, -1 none */
    struct rp__sampler sampler;
    bool has_sampler;
    /* JSON completion tracking for grammar requests */
    int depth;
    bool in_string, escape, started;
    double t0;
};

struct rp_llama_params rp_llama_default_params(void)
{
    struct rp_llama_params p = {
        .model_path = NULL,
        .n_ctx_seq = 4096,
        .n_parallel = 4,
        .n_threads = 0,
        .n_batch = 512,
        .n_ubatch = 512,
        .n_gpu_layers = RP_GPU_LAYERS_AUTO,
    };
    return p;
}

struct rp_sampling rp_sampling_default(void)
{
    struct rp_sampling s = {.temperature = 0.7f, .top_k = 40, .top_p = 0.9f, .max_tokens = 0};
    return s;
}

void rp_gen_request_init(struct rp_gen_request *r)
{
    memset(r, 0, sizeof(*r));
    rp_buf_init(&r->text, 1u << 20);
}

void rp_gen_request_release(struct rp_gen_request *r)
{
    rp_buf_release(&r->text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;

static void backend_init(void)
{
    rp_log_route_llama();
    llama_backend_init();
}

void rp__llama_backend_init(void)
{
    pthread_once(&backend_once, backend_init);
}

int rp__llama_threads(int n_threads)
{
    if (n_threads > 0)
        return n_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A model larger than the memory available is paged from disk on every
 * token: say so before the user waits for it. */
static void warn_if_too_big(const char *path, bool gpu)
{
    struct stat sb;
    if (gpu || stat(path, &sb) != 0)
        return;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return;
    double avail = (double)pages * (double)page;
    if ((double)sb.st_size > avail * 0.9)
        rp_warn("model '%s' (%.1f GB) is larger than the free memory (%.1f GB): expect it to be slow",
                path, (double)sb.st_size / 1e9, avail / 1e9);
}

struct llama_model *rp__llama_model_load(const char *path, bool vocab_only, int n_gpu_layers,
                                         struct rp_error *err)
{
    if (!path || !*path) {
        rp_error_set(err, RP_ERR_INVAL, "no model path given");
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        rp_error_set(err, RP_ERR_NOENT, "cannot open model '%s': no such readable file", path);
        return NULL;
    }
    rp__llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = vocab_only;
    if (!vocab_only) {
        int ngl = n_gpu_layers;
        if (ngl == RP_GPU_LAYERS_AUTO)
            ngl = llama_supports_gpu_offload() ? -1 : 0;
        mp.n_gpu_layers = ngl < 0 ? 999 : ngl;
        warn_if_too_big(path, ngl != 0);
    }
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model)
        rp_error_set(err, RP_ERR_MODEL,
                     "cannot load model '%s': not a GGUF model llama.cpp can read (see the log "
                     "above with --log-level debug)",
                     path);
    return model;
}

/* Opens model_path with its vocabulary (and its weights unless
 * vocab_only) into a new rp_llama whose params are p; names it. */
static struct rp_llama *open_model(const char *model_path, const struct rp_llama_params *p,
                                   bool vocab_only, struct rp_error *err)
{
    struct llama_model *model = rp__llama_model_load(model_path, vocab_only, p->n_gpu_layers, err);
    if (!model)
        return NULL;
    struct rp_llama *m = calloc(1, sizeof(*m));
    if (!m) {
        llama_model_free(model);
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->params = *p;
    m->params.model_path = model_path;
    m->model = model;
    m->vocab = llama_model_get_vocab(m->model);
    m->n_vocab = llama_vocab_n_tokens(m->vocab);
    if (llama_model_meta_val_str(m->model, "general.name", m->name, sizeof(m->name)) <= 0) {
        const char *base = strrchr(model_path, '/');
        snprintf(m->name, sizeof(m->name), "%s", base ? base + 1 : model_path);
    }
    return m;
}

struct rp_llama *rp_llama_new(const struct rp_llama_params *params, struct rp_error *err)
{
    struct rp_llama *m = open_model(params->model_path, params, false, err);
    if (!m)
        return NULL;
    m->params.n_threads = rp__llama_threads(m->params.n_threads);
    if (m->params.n_parallel < 1)
        m->params.n_parallel = 1;
    if (m->params.n_batch < m->params.n_parallel)
        m->params.n_batch = m->params.n_parallel;
    if (m->params.n_ubatch <= 0 || m->params.n_ubatch > m->params.n_batch)
        m->params.n_ubatch = m->params.n_batch;

    if (!rp__vocab_index_build(&m->ix, m->vocab)) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }

    struct llama_context_params cp = llama_context_default_params();
    cp.n_seq_max = (uint32_t)m->params.n_parallel;
    cp.n_ctx = (uint32_t)(m->params.n_ctx_seq * m->params.n_parallel);
    cp.n_batch = (uint32_t)m->params.n_batch;
    cp.n_ubatch = (uint32_t)m->params.n_ubatch;
    cp.n_threads = m->params.n_threads;
    cp.n_threads_batch = m->params.n_threads;
    cp.no_perf = true;
    /* One KV stream for all sequences: with one stream per sequence, a batch
     * that mixes sequences is split into several compute passes. Each
     * request is kept within n_ctx_seq by slot_prepare(), so they all fit. */
    cp.kv_unified = true;
    m->ctx = llama_init_from_model(m->model, cp);
    if (!m->ctx) {
        rp_error_set(err, RP_ERR_MODEL,
                     "cannot create a context for '%s' (%d sequences x %d tokens): not enough memory?",
                     params->model_path, m->params.n_parallel, m->params.n_ctx_seq);
        goto fail;
    }

    m->tmpl = llama_model_chat_template(m->model, NULL);
    if (!m->tmpl) {
        rp_warn("model '%s' has no chat template; using ChatML", params->model_path);
        m->tmpl = "chatml";
    }
    rp_debug("loaded '%s': %d-token vocabulary, %d sequences x %d tokens, %d threads", m->name,
             m->n_vocab, m->params.n_parallel, m->params.n_ctx_seq, m->params.n_threads);
    return m;
fail:
    rp_llama_free(m);
    return NULL;
}

struct rp_llama *rp_llama_tokenizer_new(const char *model_path, struct rp_error *err)
{
    struct rp_llama_params p = rp_llama_default_params();
    return open_model(model_path, &p, true, err);
}

void rp_llama_free(struct rp_llama *m)
{
    if (!m)
        return;
    if (m->ctx)
        llama_free(m->ctx);
    if (m->model)
        llama_model_free(m->model);
    rp__vocab_index_release(&m->ix);
    free(m);
}

const char *rp_llama_model_name(const struct rp_llama *m)
{
    return m->name;
}

const struct rp_llama_params *rp_llama_params(const struct rp_llama *m)
{
    return &m->params;
}

size_t rp_llama_count_tokens(const char *s, size_t n, void *ud)
{
    const struct rp_llama *m = ud;
    if (n == 0)
        return 0;
    if (n > INT32_MAX)
        return n; /* cannot tokenize in one call; bytes bound tokens */
    llama_token small[256];
    int32_t r = llama_tokenize(m->vocab, s, (int32_t)n, small, 256, false, false);
    return r < 0 ? (size_t)-r : (size_t)r;
}

enum rp_err rp_llama_format_chat(const struct rp_llama *m, const char *system, const char *user,
                                 struct rp_buf *out, struct rp_error *err)
{
    struct llama_chat_message msgs[2];
    size_t n = 0, total = 0;
    if (system) {
        msgs[n].role = "system";
        msgs[n].content = system;
        total += strlen(system);
        n++;
    }
    msgs[n].role = "user";
    msgs[n].content = user;
    total += strlen(user);
    n++;
    size_t want = 2 * total + 256;
    for (int attempt = 0; attempt < 2; attempt++) {
        rp_buf_reset(out);
        if (want > INT32_MAX || rp_buf_grow(out, want))
            return rp_error_set(err, RP_ERR_TOOBIG, "prompt too large");
        int32_t r = llama_chat_apply_template(m->tmpl, msgs, n, true, out->data, (int32_t)want);
        if (r < 0)
            return rp_error_set(err, RP_ERR_MODEL,
                                "the chat template of '%s' is not one llama.cpp can apply", m->name);
        if ((size_t)r < want) {
            out->len = (size_t)r;
            out->data[r] = '\0';
            return RP_OK;
        }
        want = (size_t)r + 1;
    }
    return rp_error_set(err, RP_ERR_MODEL, "chat template output kept growing");
}

/* Tokenizes the formatted prompt of a request into the slot. */
static enum rp_err slot_prepare(struct rp_llama *m, struct slot *sl, const struct rp_sampling *sp,
                                struct rp_buf *scratch)
{
    struct rp_gen_request *req = sl->req;
    enum rp_err e = rp_llama_format_chat(m, req->system, req->user, scratch, &req->err);
    if (e)
        return e;
    if (scratch->len > INT32_MAX / 2)
        return rp_error_set(&req->err, RP_ERR_CONTEXT, "prompt too large");
    int32_t cap = (int32_t)scratch->len + 16;
    sl->prompt = malloc((size_t)cap * sizeof(*sl->prompt));
    if (!sl->prompt)
        return rp_error_set(&req->err, RP_ERR_NOMEM, "out of memory");
    int32_t n = llama_tokenize(m->vocab, scratch->data, (int32_t)scratch->len, sl->prompt, cap, true, true);
    if (n < 0)
        return rp_error_set(&req->err, RP_ERR_MODEL, "cannot tokenize the prompt");
    sl->n_prompt = n;
    req->n_prompt_tokens = n;
    int max_tokens = req->max_tokens > 0 ? req->max_tokens : sp->max_tokens > 0 ? sp->max_tokens : 1024;
    int room = m->params.n_ctx_seq - n;
    if (room < 16)
        return rp_error_set(&req->err, RP_ERR_CONTEXT,
                            "prompt of %d tokens does not fit a %d-token context with room to answer",
                            n, m->params.n_ctx_seq);
    sl->max_tokens = max_tokens < room ? max_tokens : room;

    struct llama_sampler *g = NULL;
    if (req->grammar) {
        g = llama_sampler_init_grammar(m->vocab, req->grammar, "root");
        if (!g)
            return rp_error_set(&req->err, RP_ERR_INVAL, "the GBNF grammar does not parse");
    }
    if (rp__sampler_init(&sl->sampler, g, &m->ix, req->seed, m->n_vocab, sp))
        return rp_error_set(&req->err, RP_ERR_NOMEM, "out of memory");
    sl->has_sampler = true;
    return RP_OK;
}

/* Hands the slot's request back and frees the slot's KV cells (sequence seq). */
static void slot_finish(struct rp_llama *m, struct slot *sl, int seq, enum rp_finish why,
                        rp_gen_done_fn done, void *ud, struct rp_gen_stats *st)
{
    struct rp_gen_request *req = sl->req;
    req->finish = why;
    req->seconds = now_s() - sl->t0;
    if (sl->has_sampler)
        rp__sampler_release(&sl->sampler);
    free(sl->prompt);
    if (sl->n_past > 0 || sl->n_prefilled > 0)
        llama_memory_seq_rm(llama_get_memory(m->ctx), (llama_seq_id)seq, -1, -1);
    if (st) {
        st->requests++;
        st->prompt_tokens += (uint64_t)req->n_prompt_tokens;
        st->gen_tokens += (uint64_t)req->n_gen_tokens;
        st->grammar_fallbacks += (uint64_t)req->n_grammar_fallbacks;
    }
    memset(sl, 0, sizeof(*sl));
    sl->state = SLOT_IDLE;
    sl->i_batch = -1;
    done(req, ud);
}

/* Tracks whether the JSON text produced so far is a complete value. */
static bool json_complete(struct slot *sl, const char *piece, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = piece[i];
        if (sl->in_string) {
            if (sl->escape)
                sl->escape = false;
            else if (c == '\\')
                sl->escape = true;
            else if (c == '"')
                sl->in_string = false;
            continue;
        }
        if (c == '"') {
            sl->in_string = true;
        } else if (c == '[' || c == '{') {
            sl->depth++;
            sl->started = true;
        } else if (c == ']' || c == '}') {
            sl->depth--;
            if (sl->started && sl->depth == 0)
                return true;
        }
    }
    return false;
}

enum rp_err rp_llama_run(struct rp_llama *m, const struct rp_sampling *sampling, rp_gen_next_fn next,
                         rp_gen_done_fn done, void *ud, struct rp_gen_stats *stats,
                         struct rp_error *err)
{
    struct rp_sampling sp = sampling ? *sampling : rp_sampling_default();
    const int n_slots = m->params.n_parallel;
    const int n_batch = m->params.n_batch;
    struct slot *slots = calloc((size_t)n_slots, sizeof(*slots));
    struct llama_batch batch = llama_batch_init(n_batch, 0, 1);
    struct rp_buf scratch;
    rp_buf_init(&scratch, 64u << 20);
    enum rp_err rc = RP_OK;
    double t_start = now_s();
    bool source_done = false;
    if (!slots) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n_slots; i++)
        slots[i].i_batch = -1;
    llama_memory_clear(llama_get_memory(m->ctx), true);

    for (;;) {
        /* 1. Fill idle slots. Block only when nothing at all is in flight. */
        int active = 0;
        for (int i = 0; i < n_slots; i++)
            active += slots[i].state != SLOT_IDLE;
        for (int i = 0; i < n_slots && !source_done; i++) {
            struct slot *sl = &slots[i];
            if (sl->state != SLOT_IDLE)
                continue;
            struct rp_gen_request *req = next(active == 0, ud);
            if (!req) {
                if (active == 0)
                    source_done = true;
                break;
            }
            rp_buf_reset(&req->text);
            rp_error_clear(&req->err);
            req->n_gen_tokens = req->n_prompt_tokens = req->n_grammar_fallbacks = 0;
            sl->req = req;
            sl->t0 = now_s();
            sl->i_batch = -1;
            if (slot_prepare(m, sl, &sp, &scratch)) {
                slot_finish(m, sl, i, RP_FINISH_ERROR, done, ud, stats);
                i--; /* try this slot again with the next request */
                continue;
            }
            sl->state = SLOT_PREFILL;
            active++;
        }
        if (active == 0) {
            if (source_done)
                break;
            continue;
        }

        /* 2. Build the batch: generating slots first, then prompt pieces. */
        batch.n_tokens = 0;
        for (int i = 0; i < n_slots; i++) {
            struct slot *sl = &slots[i];
            sl->i_batch = -1;
            if (sl->state != SLOT_GEN)
                continue;
            int k = batch.n_tokens++;
            batch.token[k] = sl->last;
            batch.pos[k] = sl->n_past++;
            batch.n_seq_id[k] = 1;
            batch.seq_id[k][0] = i;
            batch.logits[k] = 1;
            sl->i_batch = k;
        }
        for (int i = 0; i < n_slots && batch.n_tokens < n_batch; i++) {
            struct slot *sl = &slots[i];
            if (sl->state != SLOT_PREFILL)
                continue;
            while (sl->n_prefilled < sl->n_prompt && batch.n_tokens < n_batch) {
                int k = batch.n_tokens++;
                batch.token[k] = sl->prompt[sl->n_prefilled++];
                batch.pos[k] = sl->n_past++;
                batch.n_seq_id[k] = 1;
                batch.seq_id[k][0] = i;
                batch.logits[k] = sl->n_prefilled == sl->n_prompt;
                if (batch.logits[k])
                    sl->i_batch = k;
            }
        }

        /* 3. Decode. */
        double t0 = now_s();
        int32_t dr = llama_decode(m->ctx, batch);
        double t1 = now_s();
        if (stats) {
            stats->decode_calls++;
            stats->decode_seconds += t1 - t0;
        }
        if (dr != 0) {
            rc = rp_error_set(err, dr == 1 ? RP_ERR_CONTEXT : RP_ERR_MODEL,
                              "llama_decode failed with status %d (%s)", (int)dr,
                              dr == 1 ? "no room in the KV cache" : "compute error");
            for (int i = 0; i < n_slots; i++) {
                if (slots[i].state == SLOT_IDLE)
                    continue;
                rp_error_set(&slots[i].req->err, rc, "%s", err ? err->msg : "decode failed");
                slot_finish(m, &slots[i], i, RP_FINISH_ERROR, done, ud, stats);
            }
            goto out;
        }

        /* 4. Sample for every slot that has logits. */
        for (int i = 0; i < n_slots; i++) {
            struct slot *sl = &slots[i];
            if (sl->i_batch < 0)
                continue;
            if (sl->state == SLOT_PREFILL)
                sl->state = SLOT_GEN;
            const float *logits = llama_get_logits_ith(m->ctx, sl->i_batch);
            bool fallback = false;
            llama_token tok = logits ? rp__sampler_sample(&sl->sampler, &sp, logits, m->n_vocab, &fallback)
                                     : -1;
            sl->req->n_grammar_fallbacks += fallback;
            if (tok < 0) {
                rp_error_set(&sl->req->err, RP_ERR_MODEL,
                             logits ? "the grammar allows no next token" : "no logits for the sequence");
                slot_finish(m, sl, i, RP_FINISH_ERROR, done, ud, stats);
                continue;
            }
            if (llama_vocab_is_eog(m->vocab, tok)) {
                slot_finish(m, sl, i, RP_FINISH_STOP, done, ud, stats);
                continue;
            }
            const char *piece = m->ix.text + m->ix.text_off[tok];
            size_t pn = m->ix.text_off[tok + 1] - m->ix.text_off[tok];
            if (rp_buf_add(&sl->req->text, piece, pn)) {
                rp_error_set(&sl->req->err, RP_ERR_TOOBIG, "output over the 1 MiB limit");
                slot_finish(m, sl, i, RP_FINISH_ERROR, done, ud, stats);
                continue;
            }
            sl->req->n_gen_tokens++;
            sl->last = tok;
            if (sl->req->grammar && json_complete(sl, piece, pn)) {
                slot_finish(m, sl, i, RP_FINISH_STOP, done, ud, stats);
                continue;
            }
            if (sl->req->n_gen_tokens >= sl->max_tokens)
                slot_finish(m, sl, i, RP_FINISH_LENGTH, done, ud, stats);
        }
        if (stats)
            stats->sample_seconds += now_s() - t1;
    }
out:
    if (stats)
        stats->wall_seconds += now_s() - t_start;
    rp_buf_release(&scratch);
    llama_batch_free(batch);
    free(slots);
    return rc;
}
