/*
 * test_queue.c - the bounded blocking queue (include/ranpipe/queue.h).
 *
 * Worker threads never call cmocka assertions (a failing one would longjmp
 * across threads); they record what they saw and the main thread checks it
 * after joining them. Sleeps are only used to give a thread time to block;
 * no result depends on them, so the test is deterministic and clean under
 * ThreadSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/error.h"
#include "ranpipe/queue.h"

/* ---- helpers ---- */

static void *item(uintptr_t v)
{
    return (void *)v;
}

static uintptr_t value(void *p)
{
    return (uintptr_t)p;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits (polling) until depth reaches want; fails after ~10 s. */
static void wait_depth(struct rp_queue *q, size_t want)
{
    for (int i = 0; i < 10000; i++) {
        if (rp_queue_depth(q) == want)
            return;
        sleep_ms(1);
    }
    fail_msg("queue depth never reached %zu (is %zu)", want, rp_queue_depth(q));
}

/* Waits (polling) until *counter reaches want; fails after ~10 s. */
static void wait_counter(atomic_size_t *counter, size_t want)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(counter) >= want)
            return;
        sleep_ms(1);
    }
    fail_msg("counter never reached %zu (is %zu)", want, atomic_load(counter));
}

/* ---- single-threaded behaviour ---- */

static void new_and_free(void **state)
{
    (void)state;
    assert_null(rp_queue_new(0));
    rp_queue_free(NULL);
    struct rp_queue *q = rp_queue_new(1);
    assert_non_null(q);
    assert_int_equal(rp_queue_depth(q), 0);
    struct rp_queue_stats st;
    memset(&st, 0xFF, sizeof(st));
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 0);
    assert_int_equal(st.popped, 0);
    assert_int_equal(st.max_depth, 0);
    assert_int_equal(st.push_wait_ns, 0);
    assert_int_equal(st.pop_wait_ns, 0);
    rp_queue_free(q);
}

static void fifo_order(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(8);
    assert_non_null(q);
    for (uintptr_t i = 1; i <= 8; i++)
        assert_int_equal(rp_queue_push(q, item(i)), RP_OK);
    assert_int_equal(rp_queue_depth(q), 8);
    for (uintptr_t i = 1; i <= 8; i++)
        assert_int_equal(value(rp_queue_pop(q)), i);
    assert_int_equal(rp_queue_depth(q), 0);

    /* Interleaved pushes and pops wrap the ring many times over. */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 200; round++) {
        int n_push = 1 + round % 7;
        for (int k = 0; k < n_push && rp_queue_depth(q) < 8; k++)
            assert_int_equal(rp_queue_push(q, item(next_in++)), RP_OK);
        int n_pop = 1 + (round * 3) % 5;
        for (int k = 0; k < n_pop && rp_queue_depth(q) > 0; k++)
            assert_int_equal(value(rp_queue_pop(q)), next_out++);
    }
    while (rp_queue_depth(q) > 0)
        assert_int_equal(value(rp_queue_try_pop(q)), next_out++);
    assert_int_equal(next_in, next_out);

    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 8 + (next_in - 1));
    assert_int_equal(st.popped, st.pushed);
    assert_int_equal(st.max_depth, 8);
    rp_queue_free(q);
}

static void try_pop(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(4);
    assert_non_null(q);
    assert_null(rp_queue_try_pop(q));
    assert_int_equal(rp_queue_push(q, item(5)), RP_OK);
    assert_int_equal(rp_queue_push(q, item(6)), RP_OK);
    assert_int_equal(value(rp_queue_try_pop(q)), 5);
    assert_int_equal(value(rp_queue_try_pop(q)), 6);
    assert_null(rp_queue_try_pop(q));
    /* After close, remaining items are still handed out. */
    assert_int_equal(rp_queue_push(q, item(7)), RP_OK);
    rp_queue_close(q);
    assert_int_equal(value(rp_queue_try_pop(q)), 7);
    assert_null(rp_queue_try_pop(q));
    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 3);
    assert_int_equal(st.popped, 3);
    assert_int_equal(st.max_depth, 2);
    rp_queue_free(q);
}

static void close_drains_then_null(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(4);
    assert_non_null(q);
    assert_int_equal(rp_queue_push(q, item(1)), RP_OK);
    assert_int_equal(rp_queue_push(q, item(2)), RP_OK);
    rp_queue_close(q);
    rp_queue_close(q); /* idempotent */
    assert_int_equal(rp_queue_push(q, item(3)), RP_ERR_CANCELLED);
    assert_int_equal(rp_queue_depth(q), 2);
    assert_int_equal(value(rp_queue_pop(q)), 1);
    assert_int_equal(value(rp_queue_pop(q)), 2);
    /* Closed and drained: pop returns at once. */
    assert_null(rp_queue_pop(q));
    assert_null(rp_queue_pop(q));
    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 2); /* the refused push is not counted */
    assert_int_equal(st.popped, 2);
    rp_queue_free(q);
}

/* ---- backpressure ---- */

struct producer_arg {
    struct rp_queue *q;
    uintptr_t first, n;
    atomic_size_t done; /* pushes that returned */
    enum rp_err last;
};

static void *producer(void *p)
{
    struct producer_arg *a = p;
    for (uintptr_t i = 0; i < a->n; i++) {
        a->last = rp_queue_push(a->q, item(a->first + i));
        if (a->last != RP_OK)
            break;
        atomic_fetch_add(&a->done, 1);
    }
    return NULL;
}

static void capacity_blocks_producer(void **state)
{
    (void)state;
    const size_t cap = 3;
    struct rp_queue *q = rp_queue_new(cap);
    assert_non_null(q);
    struct producer_arg a = {.q = q, .first = 1, .n = 10, .last = RP_OK};
    atomic_init(&a.done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, &a), 0);

    /* The producer fills the queue and then blocks on the next push. */
    wait_counter(&a.done, cap);
    wait_depth(q, cap);
    sleep_ms(50); /* time for a broken queue to take a fourth item */
    assert_int_equal(atomic_load(&a.done), cap);
    assert_int_equal(rp_queue_depth(q), cap);

    /* Each pop lets exactly one more push through. */
    uintptr_t expect = 1;
    for (size_t k = 1; k <= 10 - cap; k++) {
        assert_int_equal(value(rp_queue_pop(q)), expect++);
        wait_counter(&a.done, cap + k);
        if (k < 10 - cap) {
            sleep_ms(5);
            assert_int_equal(atomic_load(&a.done), cap + k);
        }
        assert_true(rp_queue_depth(q) <= cap);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.last, RP_OK);
    while (expect <= 10)
        assert_int_equal(value(rp_queue_pop(q)), expect++);

    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 10);
    assert_int_equal(st.popped, 10);
    assert_int_equal(st.max_depth, cap);
    assert_true(st.push_wait_ns > 0); /* the producer did wait */
    rp_queue_free(q);
}

/* ---- many producers and consumers ---- */

enum { N_PRODUCERS = 4, N_CONSUMERS = 4, PER_PRODUCER = 20000, CAPACITY = 16 };

struct consumer_arg {
    struct rp_queue *q;
    unsigned char *seen;             /* per item: times this consumer got it */
    uintptr_t last_seq[N_PRODUCERS]; /* last sequence number from each producer */
    size_t n;
    size_t out_of_order;
    size_t bad_values;
};

static void *consumer(void *p)
{
    struct consumer_arg *a = p;
    void *it;
    while ((it = rp_queue_pop(a->q)) != NULL) {
        uintptr_t v = value(it) - 1; /* items are 1-based so none is NULL */
        if (v >= (uintptr_t)N_PRODUCERS * PER_PRODUCER) {
            a->bad_values++;
            continue;
        }
        a->seen[v]++;
        a->n++;
        /* One FIFO queue: each producer's items reach any one consumer in
         * the order they were pushed. */
        size_t prod = v / PER_PRODUCER;
        uintptr_t seq = v % PER_PRODUCER + 1;
        if (seq <= a->last_seq[prod])
            a->out_of_order++;
        a->last_seq[prod] = seq;
    }
    return NULL;
}

static void many_producers_many_consumers(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(CAPACITY);
    assert_non_null(q);
    const size_t total = (size_t)N_PRODUCERS * PER_PRODUCER;
    struct producer_arg pa[N_PRODUCERS];
    struct consumer_arg ca[N_CONSUMERS];
    pthread_t pt[N_PRODUCERS], ct[N_CONSUMERS];
    for (int c = 0; c < N_CONSUMERS; c++) {
        memset(&ca[c], 0, sizeof(ca[c]));
        ca[c].q = q;
        ca[c].seen = calloc(total, 1);
        assert_non_null(ca[c].seen);
        assert_int_equal(pthread_create(&ct[c], NULL, consumer, &ca[c]), 0);
    }
    for (int p = 0; p < N_PRODUCERS; p++) {
        pa[p].q = q;
        pa[p].first = (uintptr_t)p * PER_PRODUCER + 1;
        pa[p].n = PER_PRODUCER;
        pa[p].last = RP_OK;
        atomic_init(&pa[p].done, 0);
        assert_int_equal(pthread_create(&pt[p], NULL, producer, &pa[p]), 0);
    }
    for (int p = 0; p < N_PRODUCERS; p++)
        assert_int_equal(pthread_join(pt[p], NULL), 0);
    /* Every push succeeded; now let the consumers drain and stop. */
    rp_queue_close(q);
    for (int c = 0; c < N_CONSUMERS; c++)
        assert_int_equal(pthread_join(ct[c], NULL), 0);

    size_t received = 0;
    for (int p = 0; p < N_PRODUCERS; p++) {
        assert_int_equal(pa[p].last, RP_OK);
        assert_int_equal(atomic_load(&pa[p].done), PER_PRODUCER);
    }
    for (int c = 0; c < N_CONSUMERS; c++) {
        assert_int_equal(ca[c].bad_values, 0);
        assert_int_equal(ca[c].out_of_order, 0);
        received += ca[c].n;
    }
    assert_int_equal(received, total);
    /* Every item exactly once across all consumers. */
    uint64_t sum = 0;
    for (size_t v = 0; v < total; v++) {
        unsigned times = 0;
        for (int c = 0; c < N_CONSUMERS; c++)
            times += ca[c].seen[v];
        if (times != 1)
            fail_msg("item %zu received %u times", v + 1, times);
        sum += v + 1;
    }
    assert_int_equal(sum, (uint64_t)total * (total + 1) / 2);

    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, total);
    assert_int_equal(st.popped, total);
    assert_true(st.max_depth >= 1);
    assert_true(st.max_depth <= CAPACITY);
    assert_int_equal(rp_queue_depth(q), 0);
    for (int c = 0; c < N_CONSUMERS; c++)
        free(ca[c].seen);
    rp_queue_free(q);
}

/* ---- close wakes waiters ---- */

struct popper_arg {
    struct rp_queue *q;
    atomic_size_t *started;
    void *got;
    bool returned;
};

static void *popper(void *p)
{
    struct popper_arg *a = p;
    atomic_fetch_add(a->started, 1);
    a->got = rp_queue_pop(a->q);
    a->returned = true;
    return NULL;
}

static void close_wakes_blocked_consumers(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(4);
    assert_non_null(q);
    enum { N = 3 };
    atomic_size_t started;
    atomic_init(&started, 0);
    struct popper_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct popper_arg){.q = q, .started = &started, .got = item(99)};
        assert_int_equal(pthread_create(&t[i], NULL, popper, &a[i]), 0);
    }
    wait_counter(&started, N);
    sleep_ms(50); /* time for the consumers to block in pop */
    rp_queue_close(q);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(a[i].returned);
        assert_null(a[i].got);
    }
    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.popped, 0);
    rp_queue_free(q);
}

static void close_wakes_blocked_producers(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(1);
    assert_non_null(q);
    assert_int_equal(rp_queue_push(q, item(1)), RP_OK); /* now full */
    enum { N = 3 };
    struct producer_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i].q = q;
        a[i].first = 100 + (uintptr_t)i;
        a[i].n = 1;
        a[i].last = RP_OK;
        atomic_init(&a[i].done, 0);
        assert_int_equal(pthread_create(&t[i], NULL, producer, &a[i]), 0);
    }
    sleep_ms(50); /* time for the producers to block in push */
    for (int i = 0; i < N; i++)
        assert_int_equal(atomic_load(&a[i].done), 0);
    rp_queue_close(q);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(a[i].last, RP_ERR_CANCELLED);
        assert_int_equal(atomic_load(&a[i].done), 0);
    }
    /* The item pushed before the close is still there, then NULL. */
    assert_int_equal(value(rp_queue_pop(q)), 1);
    assert_null(rp_queue_pop(q));
    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 1);
    assert_int_equal(st.max_depth, 1);
    rp_queue_free(q);
}

/* A blocked consumer is woken by a push, not only by close. */
static void push_wakes_blocked_consumer(void **state)
{
    (void)state;
    struct rp_queue *q = rp_queue_new(2);
    assert_non_null(q);
    atomic_size_t started;
    atomic_init(&started, 0);
    struct popper_arg a = {.q = q, .started = &started};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, popper, &a), 0);
    wait_counter(&started, 1);
    sleep_ms(20); /* time for it to block */
    assert_int_equal(rp_queue_push(q, item(42)), RP_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(value(a.got), 42);
    struct rp_queue_stats st;
    rp_queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 1);
    assert_int_equal(st.popped, 1);
    rp_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_and_free),
        cmocka_unit_test(fifo_order),
        cmocka_unit_test(try_pop),
        cmocka_unit_test(close_drains_then_null),
        cmocka_unit_test(capacity_blocks_producer),
        cmocka_unit_test(many_producers_many_consumers),
        cmocka_unit_test(close_wakes_blocked_consumers),
        cmocka_unit_test(close_wakes_blocked_producers),
        cmocka_unit_test(push_wakes_blocked_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
