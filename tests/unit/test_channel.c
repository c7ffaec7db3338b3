/*
 * test_channel.c - the shared-memory channel between coordinator and
 * worker: ring order, fullness, payload layout, and wakeups across a real
 * fork (the child sleeps on the eventfd and must be woken every time).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc_int.h"
#include "ranpipe/channel.h"

static struct rp_channel *make(uint32_t slots, uint32_t bytes)
{
    struct rp_channel_params p = rp_channel_default_params();
    p.slots = slots;
    p.slot_bytes = bytes;
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_channel *ch = rp_channel_create(&p, &err);
    if (!ch)
        fail_msg("rp_channel_create: %s", err.msg);
    return ch;
}

static void test_ring_order_and_full(void **state)
{
    (void)state;
    struct rp_channel *ch = make(8, 4096);
    assert_int_equal(rp_channel_slots(ch), 8);
    struct rp_msg m = {0}, got;
    assert_false(rp_channel_recv(ch, true, &got));
    /* Three laps of the ring, filling it each time. */
    for (int lap = 0; lap < 3; lap++) {
        for (uint64_t i = 0; i < 8; i++) {
            m.kind = RP_MSG_REQUEST;
            m.id = (uint64_t)lap * 100 + i;
            m.slot = (uint32_t)i;
            assert_int_equal(rp_channel_send(ch, false, &m), RP_OK);
        }
        assert_int_equal(rp_channel_send(ch, false, &m), RP_ERR_TOOBIG);
        /* The worker side sees them in order; the coordinator side sees none. */
        assert_false(rp_channel_recv(ch, false, &got));
        for (uint64_t i = 0; i < 8; i++) {
            assert_true(rp_channel_recv(ch, true, &got));
            assert_int_equal(got.id, (uint64_t)lap * 100 + i);
            assert_int_equal(got.slot, i);
        }
        assert_false(rp_channel_recv(ch, true, &got));
    }
    /* Responses flow the other way. */
    m.kind = RP_MSG_RESPONSE;
    m.id = 7;
    assert_int_equal(rp_channel_send(ch, true, &m), RP_OK);
    assert_true(rp_channel_recv(ch, false, &got));
    assert_int_equal(got.kind, RP_MSG_RESPONSE);
    assert_int_equal(got.id, 7);
    rp_channel_free(ch);
}

static void test_payload_round_trip(void **state)
{
    (void)state;
    struct rp_channel *ch = make(4, 4096);
    char *slot = rp_channel_slot(ch, 1);
    struct rp_gen_request in;
    rp_gen_request_init(&in);
    in.system = "You write QA pairs.";
    in.user = "EUtranCellFDD.qRxLevMin is -140 dBm.";
    in.grammar = "root ::= \"x\"";
    in.seed = 0x1234567890ull;
    in.max_tokens = 77;
    uint32_t len = 0;
    assert_int_equal(rp__ipc_write_request(slot, 4096, &in, &len), RP_OK);
    assert_true(len > strlen(in.user));

    struct rp_gen_request out;
    rp_gen_request_init(&out);
    assert_true(rp__ipc_read_request(slot, len, &out));
    assert_string_equal(out.system, in.system);
    assert_string_equal(out.user, in.user);
    assert_string_equal(out.grammar, in.grammar);
    assert_int_equal(out.seed, in.seed);
    assert_int_equal(out.max_tokens, 77);
    /* The strings are read in place, not copied. */
    assert_true(out.user >= slot && out.user < slot + 4096);

    /* No system prompt, no grammar: NULL on the other side. */
    in.system = NULL;
    in.grammar = NULL;
    assert_int_equal(rp__ipc_write_request(slot, 4096, &in, &len), RP_OK);
    assert_true(rp__ipc_read_request(slot, len, &out));
    assert_null(out.system);
    assert_null(out.grammar);

    /* Truncated or lying headers are refused. */
    assert_false(rp__ipc_read_request(slot, 3, &out));
    assert_false(rp__ipc_read_request(slot, len - 1, &out));

    /* Too big for the slot. */
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    in.user = big;
    assert_int_equal(rp__ipc_write_request(slot, 4096, &in, &len), RP_ERR_TOOBIG);

    /* A response: text and error message come back as copies. */
    struct rp_gen_request w;
    rp_gen_request_init(&w);
    rp_buf_add(&w.text, "[{\"question\":\"q?\"}]", 19);
    rp_error_set(&w.err, RP_ERR_MODEL, "context full");
    rp__ipc_write_response(slot, 4096, &w, &len);
    struct rp_gen_request r;
    rp_gen_request_init(&r);
    assert_int_equal(rp__ipc_read_response(slot, len, &r), RP_OK);
    assert_int_equal(r.text.len, 19);
    assert_memory_equal(r.text.data, "[{\"question\":\"q?\"}]", 19);
    assert_string_equal(r.err.msg, "context full");
    assert_int_not_equal(rp__ipc_read_response(slot, 5, &r), RP_OK);
    rp_gen_request_release(&w);
    rp_gen_request_release(&r);
    rp_gen_request_release(&out);
    rp_gen_request_release(&in);
    rp_channel_free(ch);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The child answers every PING with a PONG carrying id+1 and a byte of the
 * slot incremented, sleeping on the eventfd between messages. */
static int child_echo(int mfd, int rfd, int sfd)
{
    struct rp_error err;
    struct rp_channel *ch = rp_channel_attach(mfd, rfd, sfd, &err);
    if (!ch)
        return 2;
    for (;;) {
        struct rp_msg m;
        while (rp_channel_recv(ch, true, &m)) {
            if (m.kind == RP_MSG_SHUTDOWN) {
                rp_channel_free(ch);
                return 0;
            }
            char *s = rp_channel_slot(ch, m.slot);
            s[0]++;
            m.kind = RP_MSG_PONG;
            m.id++;
            rp_channel_send(ch, true, &m);
        }
        /* No spinning: every wait sleeps, so every message needs a wakeup. */
        rp_channel_wait(ch, true, 0, 5000);
    }
}

static void test_wakeups_across_fork(void **state)
{
    (void)state;
    struct rp_channel *ch = make(16, 4096);
    int mfd, rfd, sfd;
    rp_channel_fds(ch, &mfd, &rfd, &sfd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_echo(mfd, rfd, sfd));

    char *slot = rp_channel_slot(ch, 3);
    slot[0] = 0;
    for (int i = 0; i < 2000; i++) {
        struct rp_msg m = {.kind = RP_MSG_PING, .slot = 3, .id = (uint64_t)i * 2};
        assert_int_equal(rp_channel_send(ch, false, &m), RP_OK);
        /* Every 100th round trip, let the child fall asleep first. */
        if (i % 100 == 0) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        uint64_t t0 = now_ns();
        struct rp_msg got;
        bool ok = false;
        while (!ok && now_ns() - t0 < 5000000000ull) {
            if (rp_channel_wait(ch, false, i % 2 ? 0 : 20, 1000))
                ok = rp_channel_recv(ch, false, &got);
        }
        assert_true(ok);
        assert_int_equal(got.kind, RP_MSG_PONG);
        assert_int_equal(got.id, (uint64_t)i * 2 + 1);
        assert_int_equal((unsigned char)slot[0], (unsigned char)(i + 1));
    }
    struct rp_msg bye = {.kind = RP_MSG_SHUTDOWN};
    assert_int_equal(rp_channel_send(ch, false, &bye), RP_OK);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    rp_channel_free(ch);
}

static void test_attach_rejects_garbage(void **state)
{
    (void)state;
    struct rp_error err;
    rp_error_clear(&err);
    /* A descriptor that is not a channel: a pipe. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_null(rp_channel_attach(p[0], p[1], p[1], &err));
    assert_true(err.code != RP_OK);
    assert_true(strlen(err.msg) > 0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_order_and_full),
        cmocka_unit_test(test_payload_round_trip),
        cmocka_unit_test(test_wakeups_across_fork),
        cmocka_unit_test(test_attach_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
