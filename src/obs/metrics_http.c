/*
 * metrics_http.c - the /metrics HTTP server (see include/ranpipe/metrics_http.h).
 *
 * We parse the address and create the listening socket ourselves and hand
 * it to libmicrohttpd (MHD_OPTION_LISTEN_SOCKET): MHD_start_daemon only
 * says "failed", while bind() says why (address in use, permission), and
 * this way the socket is close-on-exec from the start. MHD then runs one
 * internal polling thread that serves every connection; a render takes
 * well under a millisecond, so one thread is plenty, and a stuck client
 * cannot tie up more than one connection slot until its timeout.
 */
#include "ranpipe/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ranpipe/buf.h"
#include "ranpipe/log.h"
#include "obs/metrics_int.h"

#define SERVER_MAX_CONNECTIONS 16u
#define SERVER_TIMEOUT_S 10u
#define SERVER_CONN_MEMORY ((size_t)32 * 1024)
#define SERVER_BODY_CAP ((size_t)64 * 1024 * 1024)

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

struct rp_metrics_server {
    struct rp_metrics *m;
    struct MHD_Daemon *d;
    int port;
};

/* ---- addresses ---- */

static bool parse_port(const char *s, int *port)
{
    if (!*s || strlen(s) > 5)
        return false;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

enum rp_err rp__metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
                                   char *shown, size_t shown_n, struct rp_error *err)
{
    static const char forms[] = "expected PORT, :PORT, HOST:PORT or [IPv6]:PORT";
    char host[64] = "";
    const char *port_s;
    bool v6 = false;

    if (!addr || !*addr)
        return rp_error_set(err, RP_ERR_INVAL, "invalid metrics address '': %s", forms);
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return rp_error_set(err, RP_ERR_INVAL, "invalid metrics address '%s': %s", addr, forms);
        if ((size_t)(close - addr - 1) >= sizeof(host))
            return rp_error_set(err, RP_ERR_INVAL, "invalid metrics address '%s': host too long",
                                addr);
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        port_s = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon) {
            port_s = addr;
        } else {
            if (memchr(addr, ':', (size_t)(colon - addr)))
                return rp_error_set(err, RP_ERR_INVAL,
                                    "invalid metrics address '%s': write an IPv6 address in "
                                    "brackets, e.g. '[::1]:9464'",
                                    addr);
            if ((size_t)(colon - addr) >= sizeof(host))
                return rp_error_set(err, RP_ERR_INVAL,
                                    "invalid metrics address '%s': host too long", addr);
            memcpy(host, addr, (size_t)(colon - addr));
            host[colon - addr] = '\0';
            port_s = colon + 1;
        }
    }
    int port;
    if (!parse_port(port_s, &port))
        return rp_error_set(err, RP_ERR_INVAL,
                            "invalid metrics address '%s': the port must be a number from 0 to "
                            "65535 (%s)",
                            addr, forms);

    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return rp_error_set(err, RP_ERR_INVAL,
                                "invalid metrics address '%s': '%s' is not a numeric IPv6 address",
                                addr, host);
        *len = sizeof(*a6);
        snprintf(shown, shown_n, "[%s]:%d", host, port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (!host[0] || strcmp(host, "localhost") == 0)
            snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return rp_error_set(err, RP_ERR_INVAL,
                                "invalid metrics address '%s': the host must be a numeric "
                                "address or 'localhost'",
                                addr);
        *len = sizeof(*a4);
        snprintf(shown, shown_n, "%s:%d", host, port);
    }
    return RP_OK;
}

/* ---- requests ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
                             const char *type, bool allow)
{
    /* body is malloc'd; the response owns it from here (free() when sent). */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES && allow)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *text, bool allow)
{
    char *body = strdup(text);
    return body ? reply(conn, status, body, CONTENT_TYPE_TEXT, allow) : MHD_NO;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct rp_metrics_server *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", true);
    if (strcmp(url, "/") == 0)
        return reply_text(conn, MHD_HTTP_OK, "ranpipe: metrics are at /metrics\n", false);
    if (strcmp(url, "/metrics") != 0)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found; metrics are at /metrics\n", false);

    struct rp_buf b;
    rp_buf_init(&b, SERVER_BODY_CAP);
    enum rp_err rc = rp_metrics_render(s->m, &b);
    if (rc != RP_OK) {
        rp_buf_release(&b);
        rp_warn("metrics server: cannot render the metrics: %s", rp_strerror(rc));
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics\n",
                          false);
    }
    char *body = rp_buf_detach(&b);
    rp_buf_release(&b);
    if (!body)
        return MHD_NO;
    return reply(conn, MHD_HTTP_OK, body, CONTENT_TYPE_METRICS, false);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* Clients that go away mid-request are routine; keep them out of the run's log. */
    rp_debug("metrics server: %s", msg);
}

/* ---- lifecycle ---- */

struct rp_metrics_server *rp_metrics_serve(struct rp_metrics *m, const char *addr,
                                           struct rp_error *err)
{
    if (!m) {
        rp_error_set(err, RP_ERR_INVAL, "no metrics registry to serve");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char shown[96];
    if (rp__metrics_parse_addr(addr, &ss, &len, shown, sizeof(shown), err) != RP_OK)
        return NULL;

    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rp_error_set(err, RP_ERR_IO, "cannot listen on '%s': %s", shown, strerror(errno));
        return NULL;
    }
    int one = 1;
    /* Lets a restarted run take its port back while old connections linger
     * in TIME_WAIT; on Linux it never lets two listeners share a port. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot listen on '%s': %s", shown, strerror(errno));
        close(fd);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);

    struct rp_metrics_server *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        rp_error_set(err, RP_ERR_NOMEM, "cannot start the metrics server: out of memory");
        return NULL;
    }
    s->m = m;
    s->port = port;
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d =
        MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                         MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
                         SERVER_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, SERVER_TIMEOUT_S,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_CONN_MEMORY, MHD_OPTION_END);
    if (!s->d) {
        close(fd);
        free(s);
        rp_error_set(err, RP_ERR_IO, "cannot start the metrics server on '%s'", shown);
        return NULL;
    }
    rp_debug("metrics server: listening on '%s' (port %d)", shown, port);
    return s;
}

int rp_metrics_server_port(const struct rp_metrics_server *s)
{
    return s ? s->port : 0;
}

void rp_metrics_server_stop(struct rp_metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d); /* also closes the listening socket */
    free(s);
}
