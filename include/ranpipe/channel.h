/*
 * channel.h - a shared-memory channel between the coordinator and one model
 * worker process.
 *
 * One memfd holds a header, two single-producer / single-consumer rings of
 * fixed-size descriptors (requests coordinator -> worker, responses worker
 * -> coordinator) and a pool of payload slots. A request's strings are
 * written once into its slot; the worker reads them there and writes the
 * response into the same slot. Only descriptors (64 bytes) travel through
 * the rings, nothing goes through a pipe. Each ring has an eventfd: the
 * consumer spins briefly, then announces that it sleeps and blocks on the
 * eventfd; the producer writes the eventfd only when the consumer sleeps,
 * so a busy channel makes no system calls.
 *
 * The slot pool is managed by the coordinator alone (which slots are free
 * is its private state); the worker only reads and writes slots it was
 * handed in a descriptor.
 *
 * Thread contract: each ring has one producer thread and one consumer
 * thread (possibly in different processes). rp_channel_* calls on one side
 * belong to one thread.
 */
#ifndef RANPIPE_CHANNEL_H
#define RANPIPE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/error.h"

enum rp_msg_kind {
    RP_MSG_REQUEST = 1, /* coordinator -> worker: generate (payload in the slot) */
    RP_MSG_SHUTDOWN,    /* coordinator -> worker: finish what is in flight, exit */
    RP_MSG_PING,        /* coordinator -> worker: answer at once with PONG (latency probe) */
    RP_MSG_READY,       /* worker -> coordinator: model loaded (slot 0 holds its name) */
    RP_MSG_RESPONSE,    /* worker -> coordinator: a request finished (payload in its slot) */
    RP_MSG_PONG,
    RP_MSG_FATAL,       /* worker -> coordinator: cannot go on (slot 0 holds the reason) */
};

/* One ring entry: 64 bytes, so a descriptor is one cache line. */
struct rp_msg {
    uint32_t kind;
    uint32_t slot;     /* payload slot, when the message has one */
    uint64_t id;       /* the coordinator's request id, echoed back */
    uint32_t len;      /* payload bytes used in the slot */
    int32_t status;    /* responses: enum rp_err of the request (0: ok) */
    uint32_t finish;   /* responses: enum rp_finish */
    int32_t n_prompt;  /* responses: token counts */
    int32_t n_gen;
    int32_t n_fallbacks;
    uint64_t t_ns;     /* responses: worker time on the request; pings: send time */
    uint8_t pad[16];
};

struct rp_channel_params {
    uint32_t slots;      /* payload slots = requests in flight at most (power of two, default 64) */
    uint32_t slot_bytes; /* bytes per slot (default 256 KiB) */
};

struct rp_channel_params rp_channel_default_params(void);

struct rp_channel;

/* Creates a channel (memfd + mapping + two eventfds), coordinator side. */
struct rp_channel *rp_channel_create(const struct rp_channel_params *p, struct rp_error *err);
/* Maps a channel whose descriptors a worker inherited, worker side. */
struct rp_channel *rp_channel_attach(int memfd, int req_efd, int resp_efd, struct rp_error *err);
/* Unmaps and closes; NULL is a no-op. */
void rp_channel_free(struct rp_channel *ch);

/* The three descriptors to hand to a worker (inherited across exec). */
void rp_channel_fds(const struct rp_channel *ch, int *memfd, int *req_efd, int *resp_efd);
/* The descriptor that becomes readable when responses arrive (coordinator)
 * or requests arrive (worker), for poll(); see rp_channel_arm(). */
int rp_channel_wait_fd(const struct rp_channel *ch, bool worker);

uint32_t rp_channel_slots(const struct rp_channel *ch);
uint32_t rp_channel_slot_bytes(const struct rp_channel *ch);
/* The payload bytes of slot i (slot_bytes long), in shared memory. */
char *rp_channel_slot(struct rp_channel *ch, uint32_t i);

/* Sends m to the other side: requests from the coordinator, responses from
 * the worker. Never blocks: RP_ERR_TOOBIG when the ring is full (cannot
 * happen when each message uses a distinct slot, the ring being as deep as
 * the pool). */
enum rp_err rp_channel_send(struct rp_channel *ch, bool worker, const struct rp_msg *m);
/* Takes the next message for this side without blocking; false if none. */
bool rp_channel_recv(struct rp_channel *ch, bool worker, struct rp_msg *out);
/* Before blocking in poll() on rp_channel_wait_fd(): announces the sleep and
 * returns false if a message arrived meanwhile (then do not sleep). After
 * the wait, call rp_channel_disarm() (it also drains the eventfd). */
bool rp_channel_arm(struct rp_channel *ch, bool worker);
void rp_channel_disarm(struct rp_channel *ch, bool worker);
/* Blocks until a message for this side is there, up to timeout_ms (-1:
 * forever): spins for spin_us first, then sleeps on the eventfd. Returns
 * true when a message is ready. */
bool rp_channel_wait(struct rp_channel *ch, bool worker, int spin_us, int timeout_ms);

#endif /* RANPIPE_CHANNEL_H */
