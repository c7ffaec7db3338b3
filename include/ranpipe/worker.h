/*
 * worker.h - model worker processes: `ranpipe worker` serves one model to
 * one coordinator over a shared-memory channel (channel.h).
 *
 * The coordinator (backend_llama.c) creates the channel, starts
 * `ranpipe worker --fds MEM,REQ,RESP --model PATH ...` with the three
 * descriptors inherited, and sends requests; the worker answers READY once
 * its model is loaded (or FATAL with the reason), then serves requests with
 * continuous batching until SHUTDOWN or its coordinator exits.
 *
 * Thread contract: rp_worker_main() runs the whole process's work on the
 * calling thread.
 */
#ifndef RANPIPE_WORKER_H
#define RANPIPE_WORKER_H

#include "ranpipe/llm.h"

struct rp_worker_params {
    struct rp_llama_params llama; /* model_path set, unless echo */
    struct rp_sampling sampling;
    int echo;                     /* no model: answer PINGs only (IPC benchmark) */
};

/* Attaches to the channel given by the three descriptors and serves it.
 * Returns the process exit status (0 after SHUTDOWN). */
int rp_worker_main(int memfd, int req_efd, int resp_efd, const struct rp_worker_params *p);

#endif /* RANPIPE_WORKER_H */
