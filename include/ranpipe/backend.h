/*
 * backend.h - where generation requests go: one interface, several kinds.
 *
 *   llama   model worker processes (`ranpipe worker`) that link libllama,
 *           fed over a shared-memory ring (backend_llama.c)
 *   openai  any OpenAI-compatible /v1/chat/completions endpoint(s), over
 *           libcurl multi (backend_openai.c)
 *
 * A backend runs its own thread(s) or processes. submit() hands a request
 * over without blocking; when the request is finished - generated, failed,
 * or cancelled by stop() - the backend calls the done callback exactly
 * once, from one of its own threads, and gives the request back. The
 * caller typically pushes it onto a queue read by its own stage thread.
 *
 * Thread contract: submit(), in_flight() and healthy() may be called from
 * any thread; start(), stop() and free() from the owner only.
 */
#ifndef RANPIPE_BACKEND_H
#define RANPIPE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/error.h"
#include "ranpipe/llm.h"

struct rp_backend;

/* Called once per submitted request, from a backend thread; the callee
 * owns req again. req->finish and req->err say what happened; a request
 * the backend could not run at all has finish RP_FINISH_ERROR and err.code
 * RP_ERR_BACKEND (retry elsewhere) or RP_ERR_CANCELLED (stopped). */
typedef void (*rp_backend_done_fn)(struct rp_gen_request *req, void *ud);

struct rp_backend_ops {
    const char *kind; /* "llama", "openai" */
    /* Starts threads / processes; done will be called from them. */
    enum rp_err (*start)(struct rp_backend *b, struct rp_error *err);
    /* Takes req until done is called. RP_ERR_BACKEND when the backend is
     * full (in_flight == capacity) or stopped: req is not taken. */
    enum rp_err (*submit)(struct rp_backend *b, struct rp_gen_request *req);
    /* Requests the backend can hold at once (its parallel sequences, or
     * its max concurrent HTTP requests). */
    size_t (*capacity)(const struct rp_backend *b);
    size_t (*in_flight)(const struct rp_backend *b);
    /* Finishes every request still held with RP_ERR_CANCELLED and stops
     * the threads; idempotent. */
    void (*stop)(struct rp_backend *b);
    void (*free)(struct rp_backend *b);
};

struct rp_backend {
    const struct rp_backend_ops *ops;
    void *impl;
    char name[64]; /* the tier's name, for messages */
    rp_backend_done_fn done;
    void *done_ud;
};

static inline enum rp_err rp_backend_start(struct rp_backend *b, struct rp_error *err)
{
    return b->ops->start(b, err);
}
static inline enum rp_err rp_backend_submit(struct rp_backend *b, struct rp_gen_request *req)
{
    return b->ops->submit(b, req);
}
static inline size_t rp_backend_capacity(const struct rp_backend *b)
{
    return b->ops->capacity(b);
}
static inline size_t rp_backend_in_flight(const struct rp_backend *b)
{
    return b->ops->in_flight(b);
}
static inline void rp_backend_stop(struct rp_backend *b)
{
    b->ops->stop(b);
}
/* Stops and frees; NULL is a no-op. */
static inline void rp_backend_free(struct rp_backend *b)
{
    if (b) {
        b->ops->stop(b);
        b->ops->free(b);
    }
}

#endif /* RANPIPE_BACKEND_H */
