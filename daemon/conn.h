/*
 * conn.h -- one accepted TCP connection: socket, TLS and its HTTP/2
 * session, on the server's libuv loop.
 *
 * Owns the byte pump: ciphertext from the socket into TLS, plaintext into
 * h2, and back.  Writes are bounded: HTTP/2 output is produced only while
 * fewer than CONN_WQ_HIGH bytes wait in the socket's write queue, and the
 * socket is not read while that queue is full, so a peer that does not read
 * cannot make the daemon buffer without limit.
 */
#ifndef DOSSIER_CONN_H
#define DOSSIER_CONN_H

#include <stdbool.h>

#include <uv.h>

#include "principal.h"

struct conn;
struct server;
struct tls_ctx;

/* Bytes in the socket's write queue above which no more output is made. */
#define CONN_WQ_HIGH (256 * 1024)

/*
 * Accepts a pending connection on |listener| for |s|, with TLS context
 * |ctx|.  Returns 0 or a negative errno (the connection is then dropped).
 */
int conn_accept(struct server *s, uv_stream_t *listener, struct tls_ctx *ctx);

/* Schedules a flush of pending output (safe to call from any loop-thread
 * context, including nghttp2 callbacks): at the end of this loop pass, or,
 * from a handler the flush itself runs, as another round of that flush. */
void conn_wake(struct conn *c);

/* Begins a graceful close: GOAWAY, calls in flight go on.  Then the
 * connection closes itself once idle. */
void conn_drain(struct conn *c);

/* Closes the connection at once (calls are cancelled).  |why| is logged. */
void conn_close(struct conn *c, const char *why);

/* The peer's identity (valid while the connection lives). */
const struct principal *conn_principal(const struct conn *c);

/* The next connection in the server's list, or NULL. */
struct conn *conn_next(const struct conn *c);

/* The server the connection belongs to. */
struct server *conn_server(const struct conn *c);

#endif
