/*
 * bench_http_driver.c - drives the openai backend against a server for
 * bench/bench_http.sh: M requests of the same shape (different seeds),
 * at most N in flight, and prints the tokens the server reports.
 *
 *   ranpipe-bench-http --url http://127.0.0.1:8080/v1 [--url ...] -n M -c N
 *                      [--max-tokens T] [--prompt TEXT] [--schema JSON]
 *
 * Output (one line, for the script):
 *   requests=M ok=K prompt_tokens=P completion_tokens=C seconds=S tok_s=R
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranpipe/backend_openai.h"

struct state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done, ok;
    char first_error[RP_ERROR_MSG_MAX];
};

static void on_done(struct rp_gen_request *req, void *ud)
{
    struct state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->done++;
    if (req->finish == RP_FINISH_ERROR) {
        if (!s->first_error[0])
            snprintf(s->first_error, sizeof(s->first_error), "%s", req->err.msg);
    } else {
        s->ok++;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0) {
        fprintf(stderr, "ranpipe-bench-http: %s: expected a positive integer, got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *urls[8];
    size_t n_urls = 0;
    long n_req = 16, conc = 4, max_tokens = 64;
    const char *prompt = "Write one question and its answer about the LTE uplink power control "
                         "parameter pZeroNominalPusch, as a JSON array of objects with the keys "
                         "question and answer.";
    const char *schema = NULL;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "ranpipe-bench-http: '%s' needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--url") == 0 && n_urls < sizeof(urls) / sizeof(urls[0]))
            urls[n_urls++] = v;
        else if (strcmp(a, "-n") == 0)
            n_req = parse_long(v, "-n");
        else if (strcmp(a, "-c") == 0)
            conc = parse_long(v, "-c");
        else if (strcmp(a, "--max-tokens") == 0)
            max_tokens = parse_long(v, "--max-tokens");
        else if (strcmp(a, "--prompt") == 0)
            prompt = v;
        else if (strcmp(a, "--schema") == 0)
            schema = v;
        else {
            fprintf(stderr, "ranpipe-bench-http: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (n_urls == 0) {
        fprintf(stderr, "ranpipe-bench-http: --url is required\n");
        return 2;
    }

    struct state st = {.done = 0};
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    struct rp_openai_params p = rp_openai_default_params();
    p.base_urls = urls;
    p.n_base_urls = n_urls;
    p.max_concurrent = (int)conc;
    p.sampling.max_tokens = (int)max_tokens;
    struct rp_error err;
    struct rp_backend *b = NULL;
    if (rp_backend_openai_new("bench", &p, on_done, &st, &b, &err) || rp_backend_start(b, &err)) {
        fprintf(stderr, "ranpipe-bench-http: %s\n", err.msg);
        rp_backend_free(b);
        return 1;
    }
    struct rp_gen_request *reqs = calloc((size_t)n_req, sizeof(*reqs));
    if (!reqs) {
        fprintf(stderr, "ranpipe-bench-http: out of memory\n");
        rp_backend_free(b);
        return 1;
    }
    double t0 = now_s();
    for (long i = 0; i < n_req; i++) {
        struct rp_gen_request *r = &reqs[i];
        rp_gen_request_init(r);
        r->system = "You write question-answer pairs about telecom documentation.";
        r->user = prompt;
        r->json_schema = schema;
        r->seed = (uint64_t)i + 1;
        r->max_tokens = (int)max_tokens;
        pthread_mutex_lock(&st.mu);
        while (rp_backend_in_flight(b) >= rp_backend_capacity(b))
            pthread_cond_wait(&st.cv, &st.mu);
        pthread_mutex_unlock(&st.mu);
        if (rp_backend_submit(b, r) != RP_OK) {
            fprintf(stderr, "ranpipe-bench-http: submit failed\n");
            break;
        }
    }
    pthread_mutex_lock(&st.mu);
    while (st.done < (size_t)n_req)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);
    double secs = now_s() - t0;

    struct rp_openai_stats s;
    rp_backend_openai_stats(b, &s);
    rp_backend_free(b);
    for (long i = 0; i < n_req; i++)
        rp_gen_request_release(&reqs[i]);
    free(reqs);
    if (st.first_error[0])
        fprintf(stderr, "ranpipe-bench-http: first error: %s\n", st.first_error);
    printf("requests=%ld ok=%zu prompt_tokens=%llu completion_tokens=%llu seconds=%.3f "
           "tok_s=%.2f\n",
           n_req, st.ok, (unsigned long long)s.prompt_tokens,
           (unsigned long long)s.completion_tokens, secs,
           secs > 0 ? (double)s.completion_tokens / secs : 0.0);
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    return st.ok == (size_t)n_req ? 0 : 1;
}
