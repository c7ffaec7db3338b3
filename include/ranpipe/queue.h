/*
 * queue.h - bounded blocking queue of pointers between pipeline stages.
 *
 * A fixed-capacity ring guarded by one mutex and two condition variables.
 * A full queue blocks producers (backpressure: no stage can run ahead and
 * fill memory); closing the queue wakes everyone: producers get
 * RP_ERR_CANCELLED, consumers drain what is left and then get NULL.
 * The queue also measures how long producers waited on a full queue and
 * consumers on an empty one, which is how the run finds its bottleneck.
 *
 * Thread contract: every function may be called from any thread, except
 * rp_queue_free(), which must run after all users are done.
 * Ownership: the queue stores pointers; it never frees the items.
 */
#ifndef RANPIPE_QUEUE_H
#define RANPIPE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/error.h"

struct rp_queue;

struct rp_queue_stats {
    uint64_t pushed;
    uint64_t popped;
    uint64_t push_wait_ns; /* producers blocked on a full queue */
    uint64_t pop_wait_ns;  /* consumers blocked on an empty queue */
    size_t max_depth;
};

/* Returns a new queue holding at most capacity (>= 1) items, NULL on failure. */
struct rp_queue *rp_queue_new(size_t capacity);
/* Frees the queue (not its items); NULL is a no-op. */
void rp_queue_free(struct rp_queue *q);
/* Blocks while full. RP_ERR_CANCELLED once the queue is closed. */
enum rp_err rp_queue_push(struct rp_queue *q, void *item);
/* Blocks while empty and open; returns NULL once closed and drained. */
void *rp_queue_pop(struct rp_queue *q);
/* Like rp_queue_pop(), but gives up after timeout_ms: NULL then too. */
void *rp_queue_pop_timeout(struct rp_queue *q, int timeout_ms);
/* Returns an item without blocking, or NULL when empty. */
void *rp_queue_try_pop(struct rp_queue *q);
/* No more pushes; wakes all waiters. Idempotent. */
void rp_queue_close(struct rp_queue *q);
size_t rp_queue_depth(struct rp_queue *q);
void rp_queue_get_stats(struct rp_queue *q, struct rp_queue_stats *out);

#endif /* RANPIPE_QUEUE_H */
