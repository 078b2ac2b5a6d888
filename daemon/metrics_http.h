/*
 * metrics_http.h -- the metrics endpoint: GET /metrics over plain
 * HTTP/1.1 on a loopback address, in the daemon's libuv loop.
 *
 * A deliberately small responder for a Prometheus server on the same
 * host (or a local agent that forwards): no TLS and no authentication,
 * so it only binds loopback addresses (127.0.0.0/8, ::1), and it serves
 * figures only, never personal data.  Each connection gets one answer
 * and is closed ("Connection: close"); a request is at most
 * METRICS_HTTP_REQUEST_MAX bytes of request line and headers, must
 * arrive within METRICS_HTTP_IDLE_MS of the connection, and at most
 * METRICS_HTTP_CONNS connections are served at once (more are closed at
 * accept).  Answers: 200 with the exposition (metrics.h) for GET or HEAD
 * of /metrics (a query string is ignored), 404 for another path, 405 for
 * another method, 400 for a malformed request, 431 for one too large.
 *
 * Threads: loop thread only.
 */
#ifndef DOSSIER_METRICS_HTTP_H
#define DOSSIER_METRICS_HTTP_H

#include <uv.h>

#include "metrics.h"

#define METRICS_HTTP_REQUEST_MAX 8192
#define METRICS_HTTP_IDLE_MS 10000
#define METRICS_HTTP_CONNS 16

struct metrics_http;

/*
 * Binds |host|:|port| on |loop| and starts answering.  |src| is copied
 * (its pointers are not owned and must outlive the endpoint).  On
 * success |*out| is the endpoint, stopped with metrics_http_stop().
 * Returns 0; ERR_CONFIG (|host| is not a loopback address, logged) or a
 * libuv error (cannot bind: logged with the address); -ENOMEM.
 */
int metrics_http_start(uv_loop_t *loop, const char *host, int port,
                       const struct metrics_sources *src,
                       struct metrics_http **out);

/*
 * Stops listening and closes every connection; the memory goes once the
 * loop has run the close callbacks.  metrics_http_stop(NULL) and a second
 * call are no-ops.
 */
void metrics_http_stop(struct metrics_http *h);

#endif
