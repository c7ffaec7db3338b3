/*
 * fake_openai.h - runs tests/fake_openai.py for unit tests that talk to an
 * OpenAI-compatible server (test_openai, test_judge), and asks it what it
 * saw. Include it after cmocka.h; the test links libcurl and jansson
 * through ranpipe_core.
 *
 *   rp_test_fake_start()    spawns the server ($PYTHON3, the script under
 *                           $RANPIPE_SOURCE_DIR) and reads its port
 *   rp_test_fake_url()      "http://127.0.0.1:PORT" + path
 *   rp_test_fake_reset()    POST /reset: clears its counters
 *   rp_test_fake_stats()    GET /stats as JSON (new reference)
 *   rp_test_fake_stop()     SIGTERM, then SIGKILL after 5 s
 *
 * Thread contract: the main test thread only (one server per process).
 */
#ifndef RANPIPE_TEST_FAKE_OPENAI_H
#define RANPIPE_TEST_FAKE_OPENAI_H

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ranpipe/buf.h"

extern char **environ;

static pid_t rp_test_fake_pid = -1;
static int rp_test_fake_port;

static inline void rp_test_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static inline size_t rp_test__on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    return rp_buf_add(ud, data, size * nmemb) == RP_OK ? size * nmemb : 0;
}

/* GET (body NULL) or POST url into out; returns the HTTP status (0: no answer). */
static inline long rp_test_http(const char *url, const char *body, struct rp_buf *out)
{
    CURL *e = curl_easy_init();
    long status = 0;
    rp_buf_reset(out);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, rp_test__on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)out);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    return status;
}

static inline void rp_test_fake_url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", rp_test_fake_port, path);
}

static inline void rp_test_fake_reset(void)
{
    char url[128];
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    rp_test_fake_url(url, sizeof(url), "/reset");
    assert_int_equal(rp_test_http(url, "", &b), 200);
    rp_buf_release(&b);
}

/* The fake server's counters (caller decrefs). */
static inline json_t *rp_test_fake_stats(void)
{
    char url[128];
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    rp_test_fake_url(url, sizeof(url), "/stats");
    assert_int_equal(rp_test_http(url, NULL, &b), 200);
    json_t *s = json_loadb(b.data, b.len, 0, NULL);
    rp_buf_release(&b);
    assert_non_null(s);
    return s;
}

/* Spawns argv with stdout / stderr on the given descriptors (-1: inherited). */
static inline pid_t rp_test_spawn(char *const argv[], int out_fd, int err_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static inline void rp_test_kill_wait(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        rp_test_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A cmocka group setup: 0 once the server listens, -1 (with a message) if
 * it could not be started. Also initialises libcurl. */
static inline int rp_test_fake_start(void **state)
{
    (void)state;
    const char *py = getenv("PYTHON3");
    const char *src = getenv("RANPIPE_SOURCE_DIR");
    char script[4096];
    snprintf(script, sizeof(script), "%s/tests/fake_openai.py", src && *src ? src : ".");
    char *argv[] = {(char *)(py && *py ? py : "/usr/bin/python3"), script, NULL};
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    rp_test_fake_pid = rp_test_spawn(argv, fds[1], -1);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    if (rp_test_fake_pid < 0 || !f || !fgets(line, sizeof(line), f)) {
        fprintf(stderr, "cannot start %s %s\n", argv[0], script);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    rp_test_fake_port = (int)strtol(line, NULL, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return rp_test_fake_port > 0 ? 0 : -1;
}

static inline int rp_test_fake_stop(void **state)
{
    (void)state;
    rp_test_kill_wait(rp_test_fake_pid);
    return 0;
}

#endif /* RANPIPE_TEST_FAKE_OPENAI_H */
