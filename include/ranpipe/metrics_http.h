/*
 * metrics_http.h - a small HTTP server for Prometheus to scrape a registry.
 *
 * rp_metrics_serve() listens on one address and answers from a thread of
 * its own (libmicrohttpd's internal polling thread):
 *
 *   GET or HEAD /metrics  200, the registry in the text exposition format,
 *                         Content-Type: text/plain; version=0.0.4; charset=utf-8
 *   GET or HEAD /         200, a line of text pointing to /metrics
 *   other paths           404
 *   other methods         405 (with Allow: GET, HEAD)
 *
 * It is built so that it cannot take the run down: few connections at
 * once, a timeout for idle or slow clients, a small memory limit per
 * connection, a size cap on the response, and no request body is read.
 * The listening socket is close-on-exec, so model workers started by the
 * run do not inherit it.
 *
 * Addresses ("addr"):
 *   "9464", ":9464"        127.0.0.1, port 9464
 *   "HOST:9464"            HOST is a numeric IPv4 address or "localhost";
 *                          "0.0.0.0:9464" listens on every interface, and
 *                          only when written so
 *   "[IPv6]:9464"          a numeric IPv6 address, e.g. "[::1]:9464"
 * Port 0 picks a free port; rp_metrics_server_port() tells which.
 *
 * Thread contract: serve and stop from one thread (any); the registry must
 * outlive the server. Renders run on the server's thread (and so do the
 * registry's collect hooks).
 */
#ifndef RANPIPE_METRICS_HTTP_H
#define RANPIPE_METRICS_HTTP_H

#include "ranpipe/error.h"
#include "ranpipe/metrics.h"

struct rp_metrics_server;

/* Starts serving m (borrowed) on addr. Returns a new server, or NULL with
 * err set: RP_ERR_INVAL for an address that does not parse (named in the
 * message), RP_ERR_IO when it cannot listen there ("cannot listen on
 * '127.0.0.1:9464': address already in use"), RP_ERR_NOMEM. */
struct rp_metrics_server *rp_metrics_serve(struct rp_metrics *m, const char *addr,
                                           struct rp_error *err);

/* The port the server listens on (the one picked, for port 0). */
int rp_metrics_server_port(const struct rp_metrics_server *s);

/* Stops the server: closes the socket and its connections and joins its
 * thread. NULL is a no-op. */
void rp_metrics_server_stop(struct rp_metrics_server *s);

#endif /* RANPIPE_METRICS_HTTP_H */
