/*
 * metrics_int.h - what the metrics module shares with its tests.
 *
 * rp__metrics_parse_addr is the address parser of rp_metrics_serve (see
 * include/ranpipe/metrics_http.h for the accepted forms), exposed so that
 * tests can check where an address resolves without listening on it: a
 * server on 127.0.0.1 and one on 0.0.0.0 answer the same local scrape.
 */
#ifndef RANPIPE_METRICS_INT_H
#define RANPIPE_METRICS_INT_H

#include <stddef.h>
#include <sys/socket.h>

#include "ranpipe/error.h"

/* Fills *ss / *len from addr and writes the address as messages show it
 * ("127.0.0.1:9464", "[::1]:9464") into shown. RP_ERR_INVAL (err names
 * addr) when it does not parse. */
enum rp_err rp__metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
                                   char *shown, size_t shown_n, struct rp_error *err);

#endif /* RANPIPE_METRICS_INT_H */
