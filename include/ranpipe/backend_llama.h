/*
 * backend_llama.h - the `llama` backend: GGUF models served by worker
 * processes (`ranpipe worker`), one model each, over shared memory.
 *
 * A backend thread owns the workers: it spawns them (fork + exec of the
 * ranpipe binary with the channel's descriptors inherited), waits for
 * their READY, hands each submitted request to the least-loaded ready
 * worker (request strings written once into a channel slot), reads
 * responses, and calls the done callback. A worker that dies (killed,
 * crashed, model failed) is reaped, its in-flight requests are re-queued
 * at the front - nothing is lost - and it is restarted; after max_restarts
 * deaths within restart_window_s the backend gives up: every request it
 * holds is finished with RP_ERR_BACKEND so the router can go elsewhere.
 *
 * Thread contract: as backend.h.
 */
#ifndef RANPIPE_BACKEND_LLAMA_H
#define RANPIPE_BACKEND_LLAMA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ranpipe/backend.h"
#include "ranpipe/channel.h"
#include "ranpipe/llm.h"

struct rp_llama_backend_params {
    struct rp_llama_params llama; /* model_path required */
    struct rp_sampling sampling;
    int workers;                  /* processes, one model each (default 1) */
    const char *exe;              /* the ranpipe binary to exec; NULL: this process's own */
    int max_restarts;             /* deaths within the window before giving up (default 3) */
    double restart_window_s;      /* (default 60) */
    double ready_timeout_s;       /* a worker must load its model within this (default 300) */
    struct rp_channel_params channel;
};

struct rp_llama_backend_params rp_llama_backend_default_params(void);

/* Returns a backend (not started) or NULL with err set. */
struct rp_backend *rp_backend_llama_new(const struct rp_llama_backend_params *p,
                                        rp_backend_done_fn done, void *done_ud,
                                        struct rp_error *err);

struct rp_llama_backend_stats {
    uint64_t submitted, completed, requeued;
    uint64_t spawns, deaths;
    int ready_workers;
    int failed;              /* gave up after too many deaths */
    double last_load_seconds; /* spawn to READY of the last worker that came up */
    char model[256];         /* the model's name, from READY */
};

void rp_backend_llama_stats(struct rp_backend *b, struct rp_llama_backend_stats *out);
/* Names the backend in messages (the tier's name; default "llama"). */
void rp_backend_llama_set_name(struct rp_backend *b, const char *name);

/* Waits until n workers have loaded their model; false on timeout or when
 * the backend gave up. */
bool rp_backend_llama_wait_ready(struct rp_backend *b, int n, double timeout_s);

/* The process id of worker i, or -1 (tests use it to kill a worker). */
pid_t rp_backend_llama_worker_pid(struct rp_backend *b, int i);

#endif /* RANPIPE_BACKEND_LLAMA_H */
