/*
 * queue.c - bounded blocking queue (see include/ranpipe/queue.h).
 */
#include "ranpipe/queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rp_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **ring;
    size_t cap, head, len;
    bool closed;
    struct rp_queue_stats stats;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct rp_queue *rp_queue_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    struct rp_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ring = calloc(capacity, sizeof(*q->ring));
    if (!q->ring) {
        free(q);
        return NULL;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

void rp_queue_free(struct rp_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

enum rp_err rp_queue_push(struct rp_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    if (q->len == q->cap && !q->closed) {
        uint64_t t0 = now_ns();
        while (q->len == q->cap && !q->closed)
            pthread_cond_wait(&q->not_full, &q->mu);
        q->stats.push_wait_ns += now_ns() - t0;
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return RP_ERR_CANCELLED;
    }
    q->ring[(q->head + q->len) % q->cap] = item;
    q->len++;
    q->stats.pushed++;
    if (q->len > q->stats.max_depth)
        q->stats.max_depth = q->len;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return RP_OK;
}

static void *take_locked(struct rp_queue *q)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->stats.popped++;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *rp_queue_pop(struct rp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    if (q->len == 0 && !q->closed) {
        uint64_t t0 = now_ns();
        while (q->len == 0 && !q->closed)
            pthread_cond_wait(&q->not_empty, &q->mu);
        q->stats.pop_wait_ns += now_ns() - t0;
    }
    void *item = q->len ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return item;
}

void *rp_queue_pop_timeout(struct rp_queue *q, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    if (q->len == 0 && !q->closed) {
        uint64_t t0 = now_ns();
        while (q->len == 0 && !q->closed)
            if (pthread_cond_timedwait(&q->not_empty, &q->mu, &until) != 0)
                break;
        q->stats.pop_wait_ns += now_ns() - t0;
    }
    void *item = q->len ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return item;
}

void *rp_queue_try_pop(struct rp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    void *item = q->len ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return item;
}

void rp_queue_close(struct rp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t rp_queue_depth(struct rp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void rp_queue_get_stats(struct rp_queue *q, struct rp_queue_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->stats;
    pthread_mutex_unlock(&q->mu);
}
