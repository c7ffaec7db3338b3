/*
 * llama_workers.c - the `llama` backend: worker processes fed over shared
 * memory (see include/ranpipe/backend_llama.h).
 *
 * One backend thread does everything that touches the workers: it spawns
 * them, polls their response eventfds (and the submit eventfd), writes
 * requests into channel slots, reads responses, reaps dead workers and
 * restarts them. submit() only appends to a locked list and wakes the
 * thread, so it never blocks on a worker.
 *
 * Lost work: every request handed to a worker stays in that worker's
 * in-flight table (by slot) until its response is read. When the worker
 * dies, the table's requests go back to the front of the pending list in
 * the order they were first sent, and are sent again to whichever worker
 * is ready next. A request is finished (done called) exactly once: by a
 * response, by a failure of the whole backend, or by stop().
 */
#define _GNU_SOURCE
#include "ranpipe/backend_llama.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc_int.h"
#include "ranpipe/buf.h"
#include "ranpipe/log.h"

enum wstate { W_DOWN, W_STARTING, W_READY };

struct held {
    struct rp_gen_request *req;
    uint64_t id; /* order of first submission */
};

struct worker {
    int idx;
    pid_t pid;
    enum wstate state;
    struct rp_channel *ch;
    double t_spawn;
    struct held *slots;   /* in flight, by channel slot (NULL req: free) */
    uint32_t *free_slots; /* stack of free slot numbers */
    uint32_t n_free;
    uint32_t n_inflight;
};

struct lb {
    struct rp_llama_backend_params p;
    char *model_path;
    char *exe;
    struct rp_backend *b;

    pthread_t thread;
    bool started;
    int wake_fd; /* eventfd: submissions and stop */

    pthread_mutex_t mu;
    struct held *inbox; /* submitted, not yet seen by the thread */
    size_t n_inbox, cap_inbox;
    bool stopping;
    atomic_size_t in_flight;
    atomic_bool failed;
    struct rp_llama_backend_stats st; /* under mu */

    /* backend thread only */
    struct worker *w;
    int n_w;
    uint32_t per_worker; /* requests in flight per worker at most */
    struct held *pending; /* deque: waiting for a worker */
    size_t pend_head, pend_n, pend_cap;
    uint64_t next_id;
    double *deaths; /* times of recent deaths, ring */
    size_t n_deaths;
    char last_death[256];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct rp_llama_backend_params rp_llama_backend_default_params(void)
{
    struct rp_llama_backend_params p = {
        .llama = rp_llama_default_params(),
        .sampling = rp_sampling_default(),
        .workers = 1,
        .max_restarts = 3,
        .restart_window_s = 60,
        .ready_timeout_s = 300,
        .channel = rp_channel_default_params(),
    };
    return p;
}

/* ---- the pending deque (backend thread) ---- */

static bool pend_grow(struct lb *l)
{
    if (l->pend_n < l->pend_cap)
        return true;
    size_t cap = l->pend_cap ? l->pend_cap * 2 : 64;
    struct held *n = malloc(cap * sizeof(*n));
    if (!n)
        return false;
    for (size_t i = 0; i < l->pend_n; i++)
        n[i] = l->pending[(l->pend_head + i) % l->pend_cap];
    free(l->pending);
    l->pending = n;
    l->pend_cap = cap;
    l->pend_head = 0;
    return true;
}

static bool pend_push_back(struct lb *l, struct held h)
{
    if (!pend_grow(l))
        return false;
    l->pending[(l->pend_head + l->pend_n) % l->pend_cap] = h;
    l->pend_n++;
    return true;
}

static bool pend_push_front(struct lb *l, struct held h)
{
    if (!pend_grow(l))
        return false;
    l->pend_head = (l->pend_head + l->pend_cap - 1) % l->pend_cap;
    l->pending[l->pend_head] = h;
    l->pend_n++;
    return true;
}

static struct held pend_pop(struct lb *l)
{
    struct held h = l->pending[l->pend_head];
    l->pend_head = (l->pend_head + 1) % l->pend_cap;
    l->pend_n--;
    return h;
}

/* ---- finishing requests ---- */

static void finish(struct lb *l, struct rp_gen_request *req)
{
    atomic_fetch_sub(&l->in_flight, 1);
    pthread_mutex_lock(&l->mu);
    l->st.completed++;
    pthread_mutex_unlock(&l->mu);
    l->b->done(req, l->b->done_ud);
}

static void finish_error(struct lb *l, struct rp_gen_request *req, enum rp_err code, const char *msg)
{
    req->finish = RP_FINISH_ERROR;
    rp_error_set(&req->err, code, "%s: %s", l->b->name, msg);
    finish(l, req);
}

/* Finishes every request the backend holds (pending and in flight). */
static void finish_all(struct lb *l, enum rp_err code, const char *msg)
{
    for (int i = 0; i < l->n_w; i++) {
        struct worker *w = &l->w[i];
        if (!w->slots)
            continue;
        for (uint32_t s = 0; s < rp_channel_slots(w->ch); s++) {
            if (w->slots[s].req) {
                finish_error(l, w->slots[s].req, code, msg);
                w->slots[s].req = NULL;
            }
        }
        w->n_inflight = 0;
    }
    while (l->pend_n) {
        struct held h = pend_pop(l);
        finish_error(l, h.req, code, msg);
    }
    pthread_mutex_lock(&l->mu);
    struct held *in = l->inbox;
    size_t n = l->n_inbox;
    l->inbox = NULL;
    l->n_inbox = l->cap_inbox = 0;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++)
        finish_error(l, in[i].req, code, msg);
    free(in);
}

/* ---- workers ---- */

static const char *level_name(void)
{
    switch (rp_log_get_level()) {
    case RP_LOG_DEBUG:
        return "debug";
    case RP_LOG_INFO:
        return "info";
    case RP_LOG_WARN:
        return "warn";
    default:
        return "error";
    }
}

/* Worker pids are read by other threads (tests, stats): written under mu. */
static void set_pid(struct lb *l, struct worker *w, pid_t pid)
{
    pthread_mutex_lock(&l->mu);
    w->pid = pid;
    pthread_mutex_unlock(&l->mu);
}

static void worker_release(struct lb *l, struct worker *w)
{
    if (w->state == W_READY) {
        pthread_mutex_lock(&l->mu);
        l->st.ready_workers--;
        pthread_mutex_unlock(&l->mu);
    }
    rp_channel_free(w->ch);
    w->ch = NULL;
    free(w->slots);
    w->slots = NULL;
    free(w->free_slots);
    w->free_slots = NULL;
    w->n_free = w->n_inflight = 0;
    set_pid(l, w, -1);
    w->state = W_DOWN;
}

static int fmt_arg(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fmt_arg(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

static enum rp_err worker_spawn(struct lb *l, struct worker *w, struct rp_error *err)
{
    w->ch = rp_channel_create(&l->p.channel, err);
    if (!w->ch)
        return err->code;
    uint32_t ns = rp_channel_slots(w->ch);
    w->slots = calloc(ns, sizeof(*w->slots));
    w->free_slots = malloc(ns * sizeof(*w->free_slots));
    if (!w->slots || !w->free_slots) {
        worker_release(l, w);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    w->n_free = 0;
    for (uint32_t s = ns - 1; s >= 1; s--) /* slot 0 is the control slot */
        w->free_slots[w->n_free++] = s;

    int mfd, rfd, sfd;
    rp_channel_fds(w->ch, &mfd, &rfd, &sfd);
    const struct rp_llama_params *lp = &l->p.llama;
    int threads = lp->n_threads;
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = (int)(cores > 0 ? cores : 1) / (l->n_w > 0 ? l->n_w : 1);
        if (threads < 1)
            threads = 1;
    }
    char a_fds[64], a_ctx[24], a_par[24], a_thr[24], a_bat[24], a_gpu[24], a_tmp[32], a_tk[24],
        a_tp[32], a_mt[24];
    fmt_arg(a_fds, sizeof(a_fds), "%d,%d,%d", mfd, rfd, sfd);
    fmt_arg(a_ctx, sizeof(a_ctx), "%d", lp->n_ctx_seq);
    fmt_arg(a_par, sizeof(a_par), "%d", lp->n_parallel);
    fmt_arg(a_thr, sizeof(a_thr), "%d", threads);
    fmt_arg(a_bat, sizeof(a_bat), "%d", lp->n_batch);
    if (lp->n_gpu_layers == RP_GPU_LAYERS_AUTO)
        fmt_arg(a_gpu, sizeof(a_gpu), "auto");
    else
        fmt_arg(a_gpu, sizeof(a_gpu), "%d", lp->n_gpu_layers);
    fmt_arg(a_tmp, sizeof(a_tmp), "%.9g", (double)l->p.sampling.temperature);
    fmt_arg(a_tk, sizeof(a_tk), "%d", l->p.sampling.top_k);
    fmt_arg(a_tp, sizeof(a_tp), "%.9g", (double)l->p.sampling.top_p);
    fmt_arg(a_mt, sizeof(a_mt), "%d", l->p.sampling.max_tokens);
    char *argv[] = {l->exe, "worker", "--fds", a_fds, "--model", l->model_path, "--ctx", a_ctx,
                    "--parallel", a_par, "--threads", a_thr, "--batch", a_bat, "--gpu-layers", a_gpu,
                    "--temperature", a_tmp, "--top-k", a_tk, "--top-p", a_tp, "--max-tokens", a_mt,
                    "--log-level", (char *)level_name(), "--log-format",
                    rp_log_get_format() == RP_LOG_FORMAT_JSON ? "json" : "text", NULL};

    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        worker_release(l, w);
        return rp_error_set(err, RP_ERR_IO, "cannot start a worker: fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. The channel's
         * descriptors are close-on-exec in the coordinator; keep them. */
        int fds[3] = {mfd, rfd, sfd};
        for (int i = 0; i < 3; i++)
            if (fcntl(fds[i], F_SETFD, 0) < 0)
                _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(l->exe, argv);
        _exit(127);
    }
    set_pid(l, w, pid);
    w->state = W_STARTING;
    w->t_spawn = now_s();
    pthread_mutex_lock(&l->mu);
    l->st.spawns++;
    pthread_mutex_unlock(&l->mu);
    rp_debug("%s: worker %d started (pid %d)", l->b->name, w->idx, (int)pid);
    return RP_OK;
}

static void describe_status(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, n, "stopped");
}

/* Puts a dead worker's requests back at the front of the queue, oldest first. */
static void requeue(struct lb *l, struct worker *w)
{
    uint32_t ns = rp_channel_slots(w->ch);
    struct held *tmp = malloc(ns * sizeof(*tmp));
    size_t n = 0;
    for (uint32_t s = 0; s < ns; s++) {
        if (!w->slots[s].req)
            continue;
        if (tmp) {
            tmp[n++] = w->slots[s];
        } else {
            finish_error(l, w->slots[s].req, RP_ERR_NOMEM, "out of memory re-queueing a request");
        }
        w->slots[s].req = NULL;
    }
    /* Insertion sort by id, newest first, so pushing to the front leaves the oldest first. */
    for (size_t i = 1; i < n; i++) {
        struct held h = tmp[i];
        size_t j = i;
        while (j > 0 && tmp[j - 1].id < h.id) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = h;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pend_push_front(l, tmp[i]))
            finish_error(l, tmp[i].req, RP_ERR_NOMEM, "out of memory re-queueing a request");
    }
    pthread_mutex_lock(&l->mu);
    l->st.requeued += n;
    pthread_mutex_unlock(&l->mu);
    free(tmp);
}

/* The backend gives up: too many deaths, or a model that cannot load. */
static void give_up(struct lb *l, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", why);
    rp_errorf("%s: %s", l->b->name, msg);
    atomic_store(&l->failed, true);
    pthread_mutex_lock(&l->mu);
    l->st.failed = 1;
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_w; i++) {
        struct worker *w = &l->w[i];
        if (w->pid > 0) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
        }
        if (w->ch)
            requeue(l, w);
        worker_release(l, w);
    }
    finish_all(l, RP_ERR_BACKEND, msg);
}

/* A worker is gone (reaped with status, or killed by us). */
static void on_death(struct lb *l, struct worker *w, const char *how)
{
    double t = now_s();
    snprintf(l->last_death, sizeof(l->last_death), "worker %d (pid %d) %s", w->idx, (int)w->pid, how);
    rp_warn("%s: %s; %u request(s) re-queued", l->b->name, l->last_death, w->n_inflight);
    pthread_mutex_lock(&l->mu);
    l->st.deaths++;
    pthread_mutex_unlock(&l->mu);
    requeue(l, w);
    worker_release(l, w);

    /* Deaths within the window decide whether to try again. */
    size_t keep = 0;
    for (size_t i = 0; i < l->n_deaths; i++)
        if (t - l->deaths[i] <= l->p.restart_window_s)
            l->deaths[keep++] = l->deaths[i];
    l->n_deaths = keep;
    if (l->n_deaths < (size_t)l->p.max_restarts + 1)
        l->deaths[l->n_deaths++] = t;
    if (l->n_deaths > (size_t)l->p.max_restarts) {
        char why[400];
        snprintf(why, sizeof(why), "giving up on model '%s' after %zu worker deaths within %.0f s (last: %s)",
                 l->model_path, l->n_deaths, l->p.restart_window_s, l->last_death);
        give_up(l, why);
        return;
    }
    struct rp_error err;
    rp_error_clear(&err);
    if (worker_spawn(l, w, &err)) {
        char why[400];
        snprintf(why, sizeof(why), "cannot restart a worker: %s", err.msg);
        give_up(l, why);
    }
}

static void reap(struct lb *l)
{
    for (int i = 0; i < l->n_w && !atomic_load(&l->failed); i++) {
        struct worker *w = &l->w[i];
        if (w->pid <= 0)
            continue;
        int status;
        pid_t r = waitpid(w->pid, &status, WNOHANG);
        if (r == w->pid) {
            char how[128];
            describe_status(status, how, sizeof(how));
            on_death(l, w, how);
        } else if (w->state == W_STARTING && now_s() - w->t_spawn > l->p.ready_timeout_s) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
            char how[128];
            snprintf(how, sizeof(how), "did not load its model within %.0f s", l->p.ready_timeout_s);
            on_death(l, w, how);
        }
    }
}

/* Reads everything a worker has sent. */
static void drain(struct lb *l, struct worker *w)
{
    struct rp_msg m;
    while (w->ch && rp_channel_recv(w->ch, false, &m)) {
        if (m.kind == RP_MSG_READY) {
            const char *name = rp_channel_slot(w->ch, RP__CONTROL_SLOT);
            w->state = W_READY;
            pthread_mutex_lock(&l->mu);
            snprintf(l->st.model, sizeof(l->st.model), "%.*s", (int)strnlen(name, m.len), name);
            l->st.last_load_seconds = now_s() - w->t_spawn;
            l->st.ready_workers++;
            pthread_mutex_unlock(&l->mu);
            rp_debug("%s: worker %d ready in %.2f s", l->b->name, w->idx, now_s() - w->t_spawn);
        } else if (m.kind == RP_MSG_FATAL) {
            const char *text = rp_channel_slot(w->ch, RP__CONTROL_SLOT);
            char why[512];
            snprintf(why, sizeof(why), "worker %d: %.*s", w->idx, (int)strnlen(text, m.len), text);
            if (w->state == W_STARTING) {
                /* The model cannot load: restarting would fail the same way. */
                give_up(l, why);
                return;
            }
            rp_warn("%s: %s", l->b->name, why);
        } else if (m.kind == RP_MSG_RESPONSE) {
            if (m.slot == RP__CONTROL_SLOT || m.slot >= rp_channel_slots(w->ch) || !w->slots[m.slot].req ||
                w->slots[m.slot].id != m.id) {
                rp_warn("%s: worker %d answered an unknown request (slot %u)", l->b->name, w->idx, m.slot);
                continue;
            }
            struct rp_gen_request *req = w->slots[m.slot].req;
            w->slots[m.slot].req = NULL;
            w->free_slots[w->n_free++] = m.slot;
            w->n_inflight--;
            req->finish = (enum rp_finish)m.finish;
            req->n_prompt_tokens = m.n_prompt;
            req->n_gen_tokens = m.n_gen;
            req->n_grammar_fallbacks = m.n_fallbacks;
            req->seconds = (double)m.t_ns * 1e-9;
            if (m.len > rp_channel_slot_bytes(w->ch) ||
                rp__ipc_read_response(rp_channel_slot(w->ch, m.slot), m.len, req)) {
                req->finish = RP_FINISH_ERROR;
                rp_error_set(&req->err, RP_ERR_BACKEND, "%s: malformed response from worker %d",
                             l->b->name, w->idx);
            } else if (m.status && !req->err.code) {
                req->err.code = (enum rp_err)m.status;
            }
            finish(l, req);
        }
        /* PONG: only the IPC benchmark pings, on its own channel. */
    }
}

/* Hands pending requests to ready workers, least loaded first. */
static void assign(struct lb *l)
{
    while (l->pend_n) {
        struct worker *best = NULL;
        for (int i = 0; i < l->n_w; i++) {
            struct worker *w = &l->w[i];
            if (w->state != W_READY || w->n_inflight >= l->per_worker || !w->n_free)
                continue;
            if (!best || w->n_inflight < best->n_inflight)
                best = w;
        }
        if (!best)
            return;
        struct held h = pend_pop(l);
        uint32_t slot = best->free_slots[best->n_free - 1];
        uint32_t len = 0;
        if (rp__ipc_write_request(rp_channel_slot(best->ch, slot), rp_channel_slot_bytes(best->ch), h.req,
                                  &len)) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the prompt does not fit a channel slot (%u bytes)",
                     rp_channel_slot_bytes(best->ch));
            finish_error(l, h.req, RP_ERR_TOOBIG, msg);
            continue;
        }
        best->n_free--;
        best->slots[slot] = h;
        best->n_inflight++;
        struct rp_msg m = {.kind = RP_MSG_REQUEST, .slot = slot, .id = h.id, .len = len};
        rp_channel_send(best->ch, false, &m); /* cannot be full: one entry per slot */
    }
}

static void take_inbox(struct lb *l, bool *stopping)
{
    uint64_t v;
    ssize_t n = read(l->wake_fd, &v, sizeof(v));
    (void)n;
    pthread_mutex_lock(&l->mu);
    struct held *in = l->inbox;
    size_t k = l->n_inbox;
    l->inbox = NULL;
    l->n_inbox = l->cap_inbox = 0;
    *stopping = l->stopping;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < k; i++) {
        in[i].id = l->next_id++;
        if (!pend_push_back(l, in[i]))
            finish_error(l, in[i].req, RP_ERR_NOMEM, "out of memory queueing a request");
    }
    free(in);
}

static void shutdown_workers(struct lb *l)
{
    for (int i = 0; i < l->n_w; i++) {
        struct worker *w = &l->w[i];
        if (w->pid > 0 && w->ch) {
            struct rp_msg m = {.kind = RP_MSG_SHUTDOWN};
            rp_channel_send(w->ch, false, &m);
        }
    }
    /* In-flight sequences of a SHUTDOWN worker still finish; we do not wait for them. */
    double until = now_s() + 2.0;
    for (int i = 0; i < l->n_w; i++) {
        struct worker *w = &l->w[i];
        if (w->pid <= 0)
            continue;
        for (;;) {
            pid_t r = waitpid(w->pid, NULL, WNOHANG);
            if (r == w->pid || r < 0)
                break;
            if (now_s() > until) {
                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                break;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        set_pid(l, w, -1);
    }
}

static void *backend_thread(void *arg)
{
    struct lb *l = arg;
    struct pollfd *pfd = calloc((size_t)l->n_w + 1, sizeof(*pfd));
    double last_reap = 0;
    bool stopping = false;
    for (;;) {
        take_inbox(l, &stopping);
        if (stopping)
            break;
        for (int i = 0; i < l->n_w; i++)
            drain(l, &l->w[i]);
        double t = now_s();
        if (t - last_reap >= 0.1 || atomic_load(&l->failed)) {
            reap(l);
            last_reap = t;
        }
        if (atomic_load(&l->failed)) {
            finish_all(l, RP_ERR_BACKEND, l->last_death[0] ? l->last_death : "backend failed");
        } else {
            assign(l);
        }

        /* Sleep until a worker answers, a request arrives, or it is time to reap. */
        int np = 0;
        bool ready = false;
        pfd[np++] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
        int armed[64];
        int n_armed = 0;
        for (int i = 0; i < l->n_w; i++) {
            struct worker *w = &l->w[i];
            if (!w->ch)
                continue;
            if (!rp_channel_arm(w->ch, false)) {
                ready = true;
                continue;
            }
            if (n_armed < 64)
                armed[n_armed++] = i;
            pfd[np++] = (struct pollfd){.fd = rp_channel_wait_fd(w->ch, false), .events = POLLIN};
        }
        if (!ready && pfd)
            poll(pfd, (nfds_t)np, 100);
        for (int k = 0; k < n_armed; k++)
            if (l->w[armed[k]].ch)
                rp_channel_disarm(l->w[armed[k]].ch, false);
    }
    free(pfd);
    for (int i = 0; i < l->n_w; i++)
        drain(l, &l->w[i]);
    finish_all(l, RP_ERR_CANCELLED, "stopped");
    shutdown_workers(l);
    for (int i = 0; i < l->n_w; i++)
        worker_release(l, &l->w[i]);
    pthread_mutex_lock(&l->mu);
    l->st.ready_workers = 0;
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- the backend interface ---- */

static enum rp_err lb_start(struct rp_backend *b, struct rp_error *err)
{
    struct lb *l = b->impl;
    if (l->started)
        return RP_OK;
    /* A backend that gave up starts from a clean slate (the router's half-open probe). */
    atomic_store(&l->failed, false);
    l->n_deaths = 0;
    l->last_death[0] = '\0';
    pthread_mutex_lock(&l->mu);
    l->st.failed = 0;
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_w; i++) {
        enum rp_err rc = worker_spawn(l, &l->w[i], err);
        if (rc) {
            for (int j = 0; j < i; j++) {
                kill(l->w[j].pid, SIGKILL);
                waitpid(l->w[j].pid, NULL, 0);
                worker_release(l, &l->w[j]);
            }
            rp_error_prefix(err, "%s: ", b->name);
            return rc;
        }
    }
    int rc = pthread_create(&l->thread, NULL, backend_thread, l);
    if (rc) {
        for (int j = 0; j < l->n_w; j++) {
            kill(l->w[j].pid, SIGKILL);
            waitpid(l->w[j].pid, NULL, 0);
            worker_release(l, &l->w[j]);
        }
        return rp_error_set(err, RP_ERR_IO, "%s: cannot start the backend thread: %s", b->name, strerror(rc));
    }
    l->started = true;
    return RP_OK;
}

static size_t lb_capacity(const struct rp_backend *b)
{
    const struct lb *l = b->impl;
    return (size_t)l->n_w * l->per_worker;
}

static size_t lb_in_flight(const struct rp_backend *b)
{
    struct lb *l = b->impl;
    return atomic_load(&l->in_flight);
}

static void wake(struct lb *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wake_fd, &one, sizeof(one));
    (void)n;
}

static enum rp_err lb_submit(struct rp_backend *b, struct rp_gen_request *req)
{
    struct lb *l = b->impl;
    if (atomic_load(&l->failed))
        return RP_ERR_BACKEND;
    pthread_mutex_lock(&l->mu);
    if (l->stopping || !l->started || atomic_load(&l->in_flight) >= lb_capacity(b) ||
        !rp_vec_reserve((void **)&l->inbox, &l->cap_inbox, l->n_inbox, sizeof(*l->inbox))) {
        pthread_mutex_unlock(&l->mu);
        return RP_ERR_BACKEND;
    }
    l->inbox[l->n_inbox++] = (struct held){.req = req};
    atomic_fetch_add(&l->in_flight, 1);
    l->st.submitted++;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    return RP_OK;
}

static void lb_stop(struct rp_backend *b)
{
    struct lb *l = b->impl;
    if (!l->started)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    pthread_join(l->thread, NULL);
    l->started = false;
    pthread_mutex_lock(&l->mu);
    l->stopping = false; /* may be started again (model residency) */
    pthread_mutex_unlock(&l->mu);
}

static void lb_free(struct rp_backend *b)
{
    struct lb *l = b->impl;
    close(l->wake_fd);
    pthread_mutex_destroy(&l->mu);
    free(l->inbox);
    free(l->pending);
    free(l->deaths);
    free(l->w);
    free(l->model_path);
    free(l->exe);
    free(l);
    free(b);
}

static const struct rp_backend_ops llama_ops = {
    .kind = "llama",
    .start = lb_start,
    .submit = lb_submit,
    .capacity = lb_capacity,
    .in_flight = lb_in_flight,
    .stop = lb_stop,
    .free = lb_free,
};

struct rp_backend *rp_backend_llama_new(const struct rp_llama_backend_params *p, rp_backend_done_fn done,
                                        void *done_ud, struct rp_error *err)
{
    if (!p->llama.model_path || !*p->llama.model_path) {
        rp_error_set(err, RP_ERR_INVAL, "llama backend: no model path");
        return NULL;
    }
    if (p->workers < 1 || p->workers > 64) {
        rp_error_set(err, RP_ERR_INVAL, "llama backend: workers must be 1..64, not %d", p->workers);
        return NULL;
    }
    struct rp_backend *b = calloc(1, sizeof(*b));
    struct lb *l = calloc(1, sizeof(*l));
    if (!b || !l) {
        free(b);
        free(l);
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    b->ops = &llama_ops;
    b->impl = l;
    b->done = done;
    b->done_ud = done_ud;
    snprintf(b->name, sizeof(b->name), "llama");
    l->b = b;
    l->p = *p;
    l->model_path = strdup(p->llama.model_path);
    l->p.llama.model_path = l->model_path;
    if (p->exe) {
        l->exe = strdup(p->exe);
    } else {
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            l->exe = strdup(buf);
        }
    }
    l->p.exe = l->exe;
    l->n_w = p->workers;
    l->w = calloc((size_t)p->workers, sizeof(*l->w));
    l->deaths = calloc((size_t)(p->max_restarts > 0 ? p->max_restarts : 0) + 2, sizeof(*l->deaths));
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&l->mu, NULL);
    atomic_init(&l->in_flight, 0);
    atomic_init(&l->failed, false);
    if (!l->model_path || !l->exe || !l->w || !l->deaths || l->wake_fd < 0) {
        if (l->wake_fd < 0)
            l->wake_fd = eventfd(0, 0); /* so lb_free may close something */
        rp_error_set(err, RP_ERR_NOMEM, "llama backend: cannot set up (%s)",
                     !l->exe ? "cannot find the ranpipe binary" : "out of resources");
        lb_free(b);
        return NULL;
    }
    for (int i = 0; i < l->n_w; i++) {
        l->w[i].idx = i;
        l->w[i].pid = -1;
        l->w[i].state = W_DOWN;
    }
    /* Twice the worker's parallel sequences: the next requests wait in the
     * worker's ring and join the batch the moment a sequence ends. */
    uint32_t per = (uint32_t)(p->llama.n_parallel > 0 ? p->llama.n_parallel : 1) * 2u;
    uint32_t usable = p->channel.slots > 1 ? p->channel.slots - 1 : 1;
    l->per_worker = per < usable ? per : usable;
    return b;
}

void rp_backend_llama_set_name(struct rp_backend *b, const char *name)
{
    snprintf(b->name, sizeof(b->name), "%s", name);
}

void rp_backend_llama_stats(struct rp_backend *b, struct rp_llama_backend_stats *out)
{
    struct lb *l = b->impl;
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    pthread_mutex_unlock(&l->mu);
}

pid_t rp_backend_llama_worker_pid(struct rp_backend *b, int i)
{
    struct lb *l = b->impl;
    if (i < 0 || i >= l->n_w)
        return -1;
    pthread_mutex_lock(&l->mu);
    pid_t pid = l->w[i].pid;
    pthread_mutex_unlock(&l->mu);
    return pid;
}

bool rp_backend_llama_wait_ready(struct rp_backend *b, int n, double timeout_s)
{
    struct lb *l = b->impl;
    double until = now_s() + timeout_s;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int ready = l->st.ready_workers;
        int failed = l->st.failed;
        pthread_mutex_unlock(&l->mu);
        if (ready >= n)
            return true;
        if (failed || now_s() > until)
            return false;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
