/*
 * h2.h -- the HTTP/2 server session of one connection (nghttp2 1.52).
 *
 * Turns frames into calls: validates request headers, maps :path to a
 * registered method, feeds DATA to the call and closes streams.  Sets the
 * SETTINGS we announce and counts the abuse nghttp2 itself does not stop
 * (CONTINUATION floods, rapid resets).  Knows nothing of sockets or TLS:
 * conn.c gives it plaintext and takes its output.
 */
#ifndef DOSSIER_H2_H
#define DOSSIER_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;
struct h2;
struct server;

/* A new session for |conn|; queues our SETTINGS.  NULL on -ENOMEM. */
struct h2 *h2_new(struct conn *conn, struct server *s);

/* Cancels every call still open and frees the session.  NULL is a no-op. */
void h2_free(struct h2 *h);

/*
 * Processes |len| bytes of plaintext from the peer.  Returns 0, or
 * ERR_PROTO when the connection must close (protocol error, flood), with
 * the reason in h2_error().
 */
int h2_feed(struct h2 *h, const uint8_t *data, size_t len);

/*
 * Produces the next piece of output.  Returns its length (0: nothing to
 * send now) with |*out| pointing into nghttp2's buffer, valid until the
 * next h2 call; or ERR_PROTO.
 */
ssize_t h2_produce(struct h2 *h, const uint8_t **out);

/* Runs the on_writable callbacks of calls whose queue drained. */
void h2_run_writable(struct h2 *h);

/* True while the session wants to read or write; false once both sides
 * are done (after GOAWAY and the last stream). */
bool h2_alive(const struct h2 *h);

/* Number of calls whose stream is still open. */
size_t h2_open_calls(const struct h2 *h);

/* Gives back the memory of the session's outgoing frame buffer when it
 * has no call open and nothing to send (else a no-op): an idle
 * connection's memory.  Not after every frame: it costs page faults. */
void h2_trim(struct h2 *h);

/* True once the peer's preface and first SETTINGS have arrived. */
bool h2_preface_seen(const struct h2 *h);

/* Graceful shutdown: the first call sends a shutdown notice; the second
 * the final GOAWAY with the last stream processed. */
void h2_goaway(struct h2 *h);

/* Refuses the connection before any stream: GOAWAY(INADEQUATE_SECURITY)
 * with |why| (static) as debug data, so the peer learns the reason. */
void h2_refuse(struct h2 *h, const char *why);

/* Why h2_feed or h2_produce failed (static string). */
const char *h2_error(const struct h2 *h);

/* --- for call.c ------------------------------------------------------- */

struct nghttp2_session;
struct nghttp2_session *h2__session(struct h2 *h);
struct conn *h2__conn(struct h2 *h);
struct call;
/* Queues |c| for its on_writable callback at the next h2_run_writable. */
void h2__want_writable(struct h2 *h, struct call *c);

#endif
