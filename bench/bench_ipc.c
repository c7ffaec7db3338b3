/*
 * bench_ipc.c - round trip of an empty request between the coordinator and
 * a model worker: the shared-memory channel (a real `ranpipe worker --echo`
 * process, started the way the llama backend starts it) against its peer,
 * a pair of pipes to a forked echo process, in the same run.
 *
 *   ranpipe-bench-ipc RANPIPE_BIN [N]      (N round trips, default 10^6)
 *
 * Prints p50 / p99 / p99.9 / max in microseconds for each and the ratio.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ranpipe/channel.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct pct {
    double p50, p99, p999, max;
};

static struct pct percentiles(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    struct pct p = {
        .p50 = (double)v[n / 2] / 1e3,
        .p99 = (double)v[(size_t)((double)n * 0.99)] / 1e3,
        .p999 = (double)v[(size_t)((double)n * 0.999)] / 1e3,
        .max = (double)v[n - 1] / 1e3,
    };
    return p;
}

static int bench_channel(const char *exe, size_t n, uint64_t *rtt, struct pct *out)
{
    struct rp_error err;
    struct rp_channel_params cp = rp_channel_default_params();
    cp.slot_bytes = 4096;
    struct rp_channel *ch = rp_channel_create(&cp, &err);
    if (!ch) {
        fprintf(stderr, "bench-ipc: %s\n", err.msg);
        return 1;
    }
    int mfd, rfd, sfd;
    rp_channel_fds(ch, &mfd, &rfd, &sfd);
    char fds[64];
    snprintf(fds, sizeof(fds), "%d,%d,%d", mfd, rfd, sfd);
    pid_t pid = fork();
    if (pid == 0) {
        int f[3] = {mfd, rfd, sfd};
        for (int i = 0; i < 3; i++)
            fcntl(f[i], F_SETFD, 0);
        execl(exe, exe, "worker", "--echo", "--fds", fds, (char *)NULL);
        _exit(127);
    }
    struct rp_msg m;
    /* READY first. */
    if (!rp_channel_wait(ch, false, 0, 10000) || !rp_channel_recv(ch, false, &m) || m.kind != RP_MSG_READY) {
        fprintf(stderr, "bench-ipc: the echo worker did not start (%s)\n", exe);
        kill(pid, SIGKILL);
        return 1;
    }
    for (size_t i = 0; i < n + 10000; i++) {
        struct rp_msg ping = {.kind = RP_MSG_PING, .slot = 1, .id = i};
        uint64_t t0 = now_ns();
        rp_channel_send(ch, false, &ping);
        while (!rp_channel_recv(ch, false, &m))
            rp_channel_wait(ch, false, 2000, 1000);
        uint64_t dt = now_ns() - t0;
        if (m.kind != RP_MSG_PONG || m.id != i) {
            fprintf(stderr, "bench-ipc: wrong answer\n");
            return 1;
        }
        if (i >= 10000) /* warm-up excluded */
            rtt[i - 10000] = dt;
    }
    struct rp_msg bye = {.kind = RP_MSG_SHUTDOWN};
    rp_channel_send(ch, false, &bye);
    waitpid(pid, NULL, 0);
    rp_channel_free(ch);
    *out = percentiles(rtt, n);
    return 0;
}

static int bench_pipes(size_t n, uint64_t *rtt, struct pct *out)
{
    int to[2], from[2];
    if (pipe(to) || pipe(from))
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        char buf[64];
        for (;;) {
            ssize_t r = read(to[0], buf, sizeof(buf));
            if (r <= 0)
                _exit(0);
            if (write(from[1], buf, (size_t)r) != r)
                _exit(1);
        }
    }
    close(to[0]);
    close(from[1]);
    char msg[64] = {0};
    for (size_t i = 0; i < n + 10000; i++) {
        uint64_t t0 = now_ns();
        if (write(to[1], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
            return 1;
        size_t got = 0;
        while (got < sizeof(msg)) {
            ssize_t r = read(from[0], msg + got, sizeof(msg) - got);
            if (r <= 0)
                return 1;
            got += (size_t)r;
        }
        uint64_t dt = now_ns() - t0;
        if (i >= 10000)
            rtt[i - 10000] = dt;
    }
    close(to[1]);
    waitpid(pid, NULL, 0);
    close(from[0]);
    *out = percentiles(rtt, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ranpipe-bench-ipc RANPIPE_BIN [N]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1000000;
    if (n < 1000)
        n = 1000;
    uint64_t *rtt = malloc(n * sizeof(*rtt));
    if (!rtt)
        return 1;
    struct pct shm, pip;
    if (bench_channel(argv[1], n, rtt, &shm) || bench_pipes(n, rtt, &pip))
        return 1;
    printf("IPC round trip of an empty request, %zu messages (after 10000 warm-up)\n", n);
    printf("%-26s %9s %9s %9s %9s\n", "", "p50 us", "p99 us", "p99.9 us", "max us");
    printf("%-26s %9.2f %9.2f %9.2f %9.1f\n", "shared-memory channel", shm.p50, shm.p99, shm.p999, shm.max);
    printf("%-26s %9.2f %9.2f %9.2f %9.1f\n", "pipes (peer)", pip.p50, pip.p99, pip.p999, pip.max);
    printf("ratio pipes/channel: p50 %.1fx, p99 %.1fx; goal p99 < 20 us: %s\n", pip.p50 / shm.p50,
           pip.p99 / shm.p99, shm.p99 < 20.0 ? "met" : "MISSED");
    free(rtt);
    return 0;
}
