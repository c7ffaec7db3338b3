/*
 * test_backend_llama.c - the llama backend with real worker processes
 * (`ranpipe worker`, the binary in RANPIPE_BIN) serving the tiny fixture
 * model: requests round-trip, generation reproduces, a worker killed with
 * SIGKILL mid-run loses nothing, repeated deaths make the backend give up,
 * a model that cannot load fails fast, stop() cancels what is held.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ranpipe/backend_llama.h"
#include "ranpipe/prompt.h"

#define MAXR 64

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int calls[MAXR]; /* done calls per request: must end at exactly 1 */
    struct rp_gen_request reqs[MAXR];
};

static void on_done(struct rp_gen_request *req, void *ud)
{
    struct sink *s = ud;
    pthread_mutex_lock(&s->mu);
    s->calls[req - s->reqs]++;
    s->done++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sink_init(struct sink *s, int n, int max_tokens)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    static char users[MAXR][128];
    for (int i = 0; i < n; i++) {
        rp_gen_request_init(&s->reqs[i]);
        snprintf(users[i], sizeof(users[i]), "Request %d: EUtranCellFDD.qRxLevMin is -140 dBm.", i);
        s->reqs[i].system = rp_prompt_qa_system();
        s->reqs[i].user = users[i];
        s->reqs[i].seed = 1000u + (uint64_t)i;
        s->reqs[i].max_tokens = max_tokens;
    }
}

static void sink_release(struct sink *s, int n)
{
    for (int i = 0; i < n; i++)
        rp_gen_request_release(&s->reqs[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static bool wait_done(struct sink *s, int n, double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    pthread_mutex_lock(&s->mu);
    while (s->done < n) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
            break;
    }
    bool ok = s->done >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static int done_count(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    int d = s->done;
    pthread_mutex_unlock(&s->mu);
    return d;
}

static struct rp_llama_backend_params params(const char *model)
{
    struct rp_llama_backend_params p = rp_llama_backend_default_params();
    const char *m = getenv("RANPIPE_TINY_MODEL");
    p.llama.model_path = model ? model : (m && *m ? m : "build/dev/models/tiny-qwen3-f16.gguf");
    p.llama.n_parallel = 4;
    p.llama.n_ctx_seq = 512;
    const char *t = getenv("RANPIPE_TEST_THREADS");
    p.llama.n_threads = t && *t ? (int)strtol(t, NULL, 10) : 2;
    p.sampling.temperature = 0.8f;
    const char *bin = getenv("RANPIPE_BIN");
    p.exe = bin && *bin ? bin : "build/dev/bin/ranpipe";
    return p;
}

static struct rp_backend *start(const struct rp_llama_backend_params *p, struct sink *s)
{
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_backend *b = rp_backend_llama_new(p, on_done, s, &err);
    if (!b)
        fail_msg("rp_backend_llama_new: %s", err.msg);
    rp_backend_llama_set_name(b, "small");
    if (rp_backend_start(b, &err))
        fail_msg("start: %s", err.msg);
    return b;
}

static void submit_all(struct rp_backend *b, struct sink *s, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(rp_backend_submit(b, &s->reqs[i]), RP_OK);
}

static void test_round_trip_and_reproducible(void **state)
{
    (void)state;
    enum { N = 8 };
    struct rp_llama_backend_params p = params(NULL);
    static struct sink s1;
    sink_init(&s1, N, 24);
    struct rp_backend *b = start(&p, &s1);
    assert_int_equal(rp_backend_capacity(b), 8); /* 2 x parallel */
    submit_all(b, &s1, N);
    assert_true(wait_done(&s1, N, 120));
    for (int i = 0; i < N; i++) {
        assert_int_equal(s1.calls[i], 1);
        assert_int_not_equal(s1.reqs[i].finish, RP_FINISH_ERROR);
        assert_true(s1.reqs[i].n_gen_tokens > 0 && s1.reqs[i].n_gen_tokens <= 24);
        assert_true(s1.reqs[i].n_prompt_tokens > 10);
        assert_true(s1.reqs[i].text.len > 0);
    }
    struct rp_llama_backend_stats st;
    rp_backend_llama_stats(b, &st);
    assert_int_equal(st.completed, N);
    assert_int_equal(st.spawns, 1);
    assert_int_equal(st.deaths, 0);
    assert_non_null(strstr(st.model, "ranpipe-fixture-qwen3-tiny"));
    assert_int_equal(rp_backend_in_flight(b), 0);

    /* Seeds travel with the requests: the same request alone in the batch
     * gives the same text every time, whatever ran before it (freed KV
     * cells leave nothing behind). Sequences sharing a batch may differ in
     * the last bits of their logits with the batch's shape, so only solo
     * runs are compared. */
    static struct rp_buf first[4];
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 4; k++) {
            int i = round == 0 ? k : 3 - k;
            sink_release(&s1, N);
            sink_init(&s1, N, 24);
            assert_int_equal(rp_backend_submit(b, &s1.reqs[i]), RP_OK);
            assert_true(wait_done(&s1, 1, 120));
            if (round == 0) {
                rp_buf_init(&first[i], RP_BUF_NO_CAP);
                rp_buf_add(&first[i], s1.reqs[i].text.data, s1.reqs[i].text.len);
            } else {
                assert_int_equal(s1.reqs[i].text.len, first[i].len);
                assert_memory_equal(s1.reqs[i].text.data, first[i].data, first[i].len);
                rp_buf_release(&first[i]);
            }
        }
    }
    rp_backend_free(b);
    sink_release(&s1, N);
}

static void test_grammar_through_worker(void **state)
{
    (void)state;
    struct rp_llama_backend_params p = params(NULL);
    static struct sink s;
    sink_init(&s, 2, 200);
    struct rp_qa_shape shape = rp_qa_shape_default();
    shape.question_chars = 40;
    shape.answer_chars = 40;
    struct rp_buf g;
    rp_buf_init(&g, RP_BUF_NO_CAP);
    assert_int_equal(rp_prompt_qa_grammar(&shape, 1, &g), RP_OK);
    s.reqs[0].grammar = g.data;
    s.reqs[0].max_tokens = rp_prompt_max_tokens(&shape, 1);
    s.reqs[1].grammar = "root ::= ["; /* broken: that request fails, the worker lives */
    struct rp_backend *b = start(&p, &s);
    submit_all(b, &s, 2);
    assert_true(wait_done(&s, 2, 120));
    assert_int_not_equal(s.reqs[0].finish, RP_FINISH_ERROR);
    assert_true(s.reqs[0].text.len > 0);
    assert_int_equal(s.reqs[0].text.data[0], '[');
    assert_int_equal(s.reqs[1].finish, RP_FINISH_ERROR);
    assert_true(strlen(s.reqs[1].err.msg) > 0);
    struct rp_llama_backend_stats st;
    rp_backend_llama_stats(b, &st);
    assert_int_equal(st.deaths, 0);
    rp_backend_free(b);
    rp_buf_release(&g);
    sink_release(&s, 2);
}

/* SIGKILL the worker while requests are in flight: every request still
 * finishes, exactly once, and well. */
static void test_kill_loses_nothing(void **state)
{
    (void)state;
    enum { N = 24 };
    struct rp_llama_backend_params p = params(NULL);
    p.channel.slots = 64;
    static struct sink s;
    sink_init(&s, N, 48);
    struct rp_backend *b = start(&p, &s);
    assert_true(rp_backend_llama_wait_ready(b, 1, 120));
    /* Capacity is 8: submit as room appears, killing the worker twice. */
    int next = 0, kills = 0;
    while (done_count(&s) < N) {
        while (next < N && rp_backend_in_flight(b) < rp_backend_capacity(b))
            assert_int_equal(rp_backend_submit(b, &s.reqs[next++]), RP_OK);
        int d = done_count(&s);
        if ((kills == 0 && d >= 3) || (kills == 1 && d >= 12)) {
            pid_t pid = rp_backend_llama_worker_pid(b, 0);
            if (pid > 0 && rp_backend_in_flight(b) > 0) {
                assert_int_equal(kill(pid, SIGKILL), 0);
                kills++;
                /* Wait for the restart so the next kill hits the new worker. */
                for (int t = 0; t < 2000 && rp_backend_llama_worker_pid(b, 0) == pid; t++)
                    sleep_ms(1);
                assert_true(rp_backend_llama_wait_ready(b, 1, 120));
            }
        }
        sleep_ms(1);
    }
    assert_int_equal(kills, 2);
    for (int i = 0; i < N; i++) {
        assert_int_equal(s.calls[i], 1);
        if (s.reqs[i].finish == RP_FINISH_ERROR)
            fail_msg("request %d failed: %s", i, s.reqs[i].err.msg);
        assert_true(s.reqs[i].n_gen_tokens > 0);
    }
    struct rp_llama_backend_stats st;
    rp_backend_llama_stats(b, &st);
    assert_int_equal(st.deaths, 2);
    assert_int_equal(st.spawns, 3);
    assert_true(st.requeued >= 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.completed, N);
    rp_backend_free(b);
    sink_release(&s, N);
}

/* Deaths beyond max_restarts: the backend gives up, every held request
 * finishes with RP_ERR_BACKEND, later submissions are refused. */
static void test_repeated_deaths_give_up(void **state)
{
    (void)state;
    enum { N = 6 };
    struct rp_llama_backend_params p = params(NULL);
    p.max_restarts = 1;
    static struct sink s;
    sink_init(&s, N, 400);
    struct rp_backend *b = start(&p, &s);
    assert_true(rp_backend_llama_wait_ready(b, 1, 120));
    submit_all(b, &s, N);
    pid_t pid = rp_backend_llama_worker_pid(b, 0);
    assert_true(pid > 0);
    kill(pid, SIGKILL);
    /* The restarted worker (its pid is -1 between death and respawn) gets
     * the re-queued requests once ready: kill it with them in flight. */
    pid_t next = -1;
    for (int t = 0; t < 10000 && (next <= 0 || next == pid); t++) {
        sleep_ms(1);
        next = rp_backend_llama_worker_pid(b, 0);
    }
    assert_true(next > 0 && next != pid);
    assert_true(rp_backend_llama_wait_ready(b, 1, 120));
    kill(next, SIGKILL);
    assert_true(wait_done(&s, N, 60));
    int failed = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(s.calls[i], 1);
        if (s.reqs[i].finish == RP_FINISH_ERROR) {
            assert_int_equal(s.reqs[i].err.code, RP_ERR_BACKEND);
            assert_non_null(strstr(s.reqs[i].err.msg, "small: giving up"));
            assert_non_null(strstr(s.reqs[i].err.msg, "signal 9"));
            failed++;
        }
    }
    assert_true(failed > 0);
    struct rp_llama_backend_stats st;
    rp_backend_llama_stats(b, &st);
    assert_int_equal(st.failed, 1);
    struct rp_gen_request extra;
    rp_gen_request_init(&extra);
    extra.user = "x";
    assert_int_equal(rp_backend_submit(b, &extra), RP_ERR_BACKEND);
    rp_backend_free(b);
    sink_release(&s, N);
}

static void test_bad_model_fails_fast(void **state)
{
    (void)state;
    const char *dir = getenv("RANPIPE_TEST_TMP");
    char path[512];
    snprintf(path, sizeof(path), "%s/not-a-model.gguf", dir && *dir ? dir : "/tmp");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a GGUF file\n", f);
    fclose(f);
    struct rp_llama_backend_params p = params(path);
    static struct sink s;
    sink_init(&s, 2, 8);
    struct rp_backend *b = start(&p, &s);
    submit_all(b, &s, 2);
    assert_true(wait_done(&s, 2, 60));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.calls[i], 1);
        assert_int_equal(s.reqs[i].finish, RP_FINISH_ERROR);
        assert_int_equal(s.reqs[i].err.code, RP_ERR_BACKEND);
        assert_non_null(strstr(s.reqs[i].err.msg, "not-a-model.gguf"));
    }
    struct rp_llama_backend_stats st;
    rp_backend_llama_stats(b, &st);
    assert_int_equal(st.spawns, 1); /* not restarted: it would fail the same way */
    rp_backend_free(b);
    sink_release(&s, 2);
}

static void test_stop_cancels(void **state)
{
    (void)state;
    enum { N = 12 };
    struct rp_llama_backend_params p = params(NULL);
    static struct sink s;
    sink_init(&s, N, 400);
    struct rp_backend *b = start(&p, &s);
    for (int i = 0; i < 8; i++)
        assert_int_equal(rp_backend_submit(b, &s.reqs[i]), RP_OK);
    /* Full: the ninth is refused, not taken. */
    assert_int_equal(rp_backend_submit(b, &s.reqs[8]), RP_ERR_BACKEND);
    rp_backend_stop(b);
    assert_int_equal(done_count(&s), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(s.calls[i], 1);
        if (s.reqs[i].finish == RP_FINISH_ERROR)
            assert_int_equal(s.reqs[i].err.code, RP_ERR_CANCELLED);
    }
    assert_int_equal(s.calls[8], 0);
    assert_int_equal(rp_backend_in_flight(b), 0);
    /* Started again (a model brought back into memory), it serves again. */
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_backend_start(b, &err), RP_OK);
    s.reqs[8].max_tokens = 8;
    assert_int_equal(rp_backend_submit(b, &s.reqs[8]), RP_OK);
    assert_true(wait_done(&s, 9, 120));
    assert_int_not_equal(s.reqs[8].finish, RP_FINISH_ERROR);
    rp_backend_free(b);
    sink_release(&s, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_reproducible),
        cmocka_unit_test(test_grammar_through_worker),
        cmocka_unit_test(test_kill_loses_nothing),
        cmocka_unit_test(test_repeated_deaths_give_up),
        cmocka_unit_test(test_bad_model_fails_fast),
        cmocka_unit_test(test_stop_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
