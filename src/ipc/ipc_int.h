/*
 * ipc_int.h - what the coordinator side (backend_llama.c) and the worker
 * side (worker.c) share: how a request and a response are laid out in a
 * channel slot.
 *
 * Request slot:  struct rp__req_hdr, then system, user and grammar, each
 *                NUL-terminated (system and grammar may be empty = none).
 * Response slot: struct rp__resp_hdr, then the generated text, then the
 *                error message (both NUL-terminated).
 * The worker reads a request's strings in place (no copy) and writes the
 * response over them once the request is finished.
 */
#ifndef RANPIPE_IPC_INT_H
#define RANPIPE_IPC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/channel.h"
#include "ranpipe/llm.h"
#include "ranpipe/worker.h"

struct rp__req_hdr {
    uint32_t system_len, user_len, grammar_len;
    int32_t max_tokens;
    uint64_t seed;
    uint32_t has_system, has_grammar;
};

struct rp__resp_hdr {
    uint32_t text_len;
    uint32_t msg_len;
};

/* Writes req's inputs into slot (cap bytes); *len is the bytes used.
 * RP_ERR_TOOBIG when they do not fit. */
enum rp_err rp__ipc_write_request(char *slot, size_t cap, const struct rp_gen_request *req,
                                  uint32_t *len);
/* Points req's inputs at the strings in slot (borrowed from the slot);
 * false when the slot does not hold a well-formed request. */
bool rp__ipc_read_request(const char *slot, size_t len, struct rp_gen_request *req);
/* Writes req's outputs (text, error message) into slot; text that does not
 * fit is cut and the request marked as failed with RP_ERR_TOOBIG. */
void rp__ipc_write_response(char *slot, size_t cap, struct rp_gen_request *req, uint32_t *len);
/* Copies a response's text and message from slot into req. */
enum rp_err rp__ipc_read_response(const char *slot, size_t len, struct rp_gen_request *req);

/* Slot 0 carries the worker's READY / FATAL text; requests use 1..slots-1. */
#define RP__CONTROL_SLOT 0u

#endif /* RANPIPE_IPC_INT_H */
