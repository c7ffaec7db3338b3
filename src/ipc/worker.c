/*
 * worker.c - the model worker process's main loop (`ranpipe worker`).
 *
 * The worker maps the channel its coordinator created, loads its model,
 * says READY, and then runs rp_llama_run() with hooks that read requests
 * straight out of the channel slots (no copies: the strings are used in
 * place) and write each response back into its request's slot. While
 * nothing is in flight it sleeps on the channel's eventfd, waking every
 * second to notice a coordinator that died (it also asks the kernel for
 * SIGKILL when its parent exits). A SHUTDOWN message lets the sequences in
 * flight finish, then the loop ends.
 *
 * The echo mode loads no model and answers PINGs: the IPC benchmark.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "ipc_int.h"
#include "ranpipe/log.h"

struct job {
    struct rp_gen_request req;
    uint32_t slot;
    uint64_t id;
    uint64_t t0;
};

struct serve {
    struct rp_channel *ch;
    pid_t parent;
    int shutdown;
    int lost; /* the coordinator is gone */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void send_text(struct rp_channel *ch, enum rp_msg_kind kind, const char *text)
{
    char *slot = rp_channel_slot(ch, RP__CONTROL_SLOT);
    size_t cap = rp_channel_slot_bytes(ch);
    size_t n = strlen(text);
    if (n >= cap)
        n = cap - 1;
    memcpy(slot, text, n);
    slot[n] = '\0';
    struct rp_msg m = {.kind = kind, .slot = RP__CONTROL_SLOT, .len = (uint32_t)n + 1};
    rp_channel_send(ch, true, &m);
}

static void reply_pong(struct rp_channel *ch, const struct rp_msg *ping)
{
    struct rp_msg m = *ping;
    m.kind = RP_MSG_PONG;
    rp_channel_send(ch, true, &m);
}

/* rp_llama_run's source of requests. */
static struct rp_gen_request *next_request(bool block, void *ud)
{
    struct serve *s = ud;
    for (;;) {
        if (s->shutdown || s->lost)
            return NULL;
        struct rp_msg m;
        if (rp_channel_recv(s->ch, true, &m)) {
            if (m.kind == RP_MSG_PING) {
                reply_pong(s->ch, &m);
                continue;
            }
            if (m.kind == RP_MSG_SHUTDOWN) {
                s->shutdown = 1;
                return NULL;
            }
            if (m.kind != RP_MSG_REQUEST)
                continue;
            struct job *j = calloc(1, sizeof(*j));
            if (!j) {
                rp_errorf("worker: out of memory");
                s->lost = 1;
                return NULL;
            }
            rp_gen_request_init(&j->req);
            j->slot = m.slot;
            j->id = m.id;
            j->t0 = now_ns();
            j->req.ud = j;
            if (m.len > rp_channel_slot_bytes(s->ch) ||
                !rp__ipc_read_request(rp_channel_slot(s->ch, m.slot), m.len, &j->req)) {
                /* Answer at once: the coordinator sent something we cannot read. */
                j->req.finish = RP_FINISH_ERROR;
                rp_error_set(&j->req.err, RP_ERR_INVAL, "malformed request in slot %u", m.slot);
                uint32_t len;
                rp__ipc_write_response(rp_channel_slot(s->ch, j->slot), rp_channel_slot_bytes(s->ch),
                                       &j->req, &len);
                struct rp_msg r = {.kind = RP_MSG_RESPONSE, .slot = j->slot, .id = j->id, .len = len,
                                   .status = RP_ERR_INVAL, .finish = RP_FINISH_ERROR};
                rp_channel_send(s->ch, true, &r);
                rp_gen_request_release(&j->req);
                free(j);
                continue;
            }
            return &j->req;
        }
        if (!block)
            return NULL;
        if (!rp_channel_wait(s->ch, true, 50, 1000) && getppid() != s->parent)
            s->lost = 1;
    }
}

/* rp_llama_run's sink: the response goes into the request's own slot. */
static void request_done(struct rp_gen_request *req, void *ud)
{
    struct serve *s = ud;
    struct job *j = req->ud;
    uint32_t len = 0;
    rp__ipc_write_response(rp_channel_slot(s->ch, j->slot), rp_channel_slot_bytes(s->ch), req, &len);
    struct rp_msg m = {
        .kind = RP_MSG_RESPONSE,
        .slot = j->slot,
        .id = j->id,
        .len = len,
        .status = req->finish == RP_FINISH_ERROR ? (int32_t)(req->err.code ? req->err.code : RP_ERR_MODEL)
                                                 : RP_OK,
        .finish = (uint32_t)req->finish,
        .n_prompt = req->n_prompt_tokens,
        .n_gen = req->n_gen_tokens,
        .n_fallbacks = req->n_grammar_fallbacks,
        .t_ns = now_ns() - j->t0,
    };
    if (!s->lost)
        rp_channel_send(s->ch, true, &m);
    rp_gen_request_release(&j->req);
    free(j);
}

static int serve_echo(struct serve *s)
{
    send_text(s->ch, RP_MSG_READY, "echo");
    for (;;) {
        struct rp_msg m;
        while (rp_channel_recv(s->ch, true, &m)) {
            if (m.kind == RP_MSG_SHUTDOWN)
                return 0;
            if (m.kind == RP_MSG_PING)
                reply_pong(s->ch, &m);
        }
        if (!rp_channel_wait(s->ch, true, 200, 1000) && getppid() != s->parent)
            return 1;
    }
}

static int serve(struct rp_channel *ch, const struct rp_worker_params *p)
{
    struct serve s = {.ch = ch, .parent = getppid()};
    /* Die with the coordinator instead of holding a model nobody asks for. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != s.parent)
        return 1;
    if (p->echo)
        return serve_echo(&s);

    struct rp_error err;
    rp_error_clear(&err);
    struct rp_llama *m = rp_llama_new(&p->llama, &err);
    if (!m) {
        send_text(ch, RP_MSG_FATAL, err.msg);
        return 1;
    }
    send_text(ch, RP_MSG_READY, rp_llama_model_name(m));
    enum rp_err rc = rp_llama_run(m, &p->sampling, next_request, request_done, &s, NULL, &err);
    if (rc) {
        rp_errorf("worker: %s", err.msg);
        send_text(ch, RP_MSG_FATAL, err.msg);
    }
    rp_llama_free(m);
    return rc ? 1 : 0;
}

int rp_worker_main(int memfd, int req_efd, int resp_efd, const struct rp_worker_params *p)
{
    struct rp_error err;
    struct rp_channel *ch = rp_channel_attach(memfd, req_efd, resp_efd, &err);
    if (!ch) {
        rp_errorf("worker: %s", err.msg);
        return 1;
    }
    int rc = serve(ch, p);
    rp_channel_free(ch);
    return rc;
}
