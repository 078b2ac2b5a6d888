/*
 * tls.h -- TLS for the daemon and the clients, through OpenSSL memory BIOs.
 *
 * A tls_conn holds one TLS session and two memory BIOs: the caller feeds
 * it the ciphertext it read from the network and takes from it the
 * ciphertext to write.  It never touches a socket or an event loop, so it
 * works the same under libuv, in a blocking client or in a fuzzer.
 *
 * Policy (server and client alike): TLS 1.3, or 1.2 with ECDHE and AEAD
 * suites only; ALPN "h2" required; on the server a client certificate is
 * required and verified against the configured CA.
 */
#ifndef DOSSIER_TLS_H
#define DOSSIER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "buf.h"

struct tls_ctx;
struct tls_conn;

/*
 * Checks that the private key file |path| is a regular file readable by
 * its owner only (no group or other permission bits).  Returns 0, ERR_KEY
 * (mode too open, with a log line naming the file and its mode), or a
 * negative errno from stat(2).
 */
int tls_key_file_check(const char *path);

/*
 * Creates a server context from PEM files: |cert| (chain), |key| (its
 * private key, checked with tls_key_file_check) and |ca| (the CA bundle
 * that client certificates must chain to).  A client certificate must also
 * name a principal of |trust_domain| (principal_from_cert), else the
 * handshake fails with a bad_certificate alert: a client without an
 * identity learns it at once instead of retrying.  A ClientHello without
 * ALPN is refused with no_application_protocol.  Returns NULL on failure, with
 * the reason logged and |*err| set (ERR_KEY, ERR_TLS or a negative errno).
 * The context is reference-counted: each tls_conn holds a reference, so a
 * reload can replace the server's context while old connections go on.
 */
struct tls_ctx *tls_ctx_new_server(const char *cert, const char *key,
                                   const char *ca, const char *trust_domain,
                                   int *err);

/*
 * Creates a client context presenting |cert|/|key| and trusting |ca| for
 * the server.  Same returns as tls_ctx_new_server().
 */
struct tls_ctx *tls_ctx_new_client(const char *cert, const char *key,
                                   const char *ca, int *err);

/* Drops one reference; frees the context with the last.  NULL is a no-op. */
void tls_ctx_unref(struct tls_ctx *ctx);

/* A new session on |ctx| (takes a reference).  |server_name|, for clients
 * only, is sent as SNI and checked against the server certificate.
 * Returns NULL on -ENOMEM. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *server_name);

/* Frees the session and its reference to the context.  NULL is a no-op. */
void tls_conn_free(struct tls_conn *t);

/*
 * Feeds |len| bytes of ciphertext read from the network.  Returns 0 or
 * -ENOMEM.  Follow with tls_conn_handshake() or tls_conn_read().
 */
int tls_conn_feed(struct tls_conn *t, const void *data, size_t len);

/*
 * Advances the handshake.  Returns 1 when it has completed (and then the
 * ALPN and, on the server, the client certificate have been checked), 0
 * when it needs more input (send tls_conn_output_pending() bytes first),
 * or ERR_TLS with a short reason in tls_conn_error().
 */
int tls_conn_handshake(struct tls_conn *t);

/* Decrypts into |out| (|len| bytes).  Returns the byte count, 0 when no
 * whole record is buffered, -EPIPE on close_notify, or ERR_TLS. */
ssize_t tls_conn_read(struct tls_conn *t, void *out, size_t len);

/* Encrypts |len| bytes of plaintext into the output.  Returns 0, -ENOMEM
 * or ERR_TLS. */
int tls_conn_write(struct tls_conn *t, const void *data, size_t len);

/* Queues a close_notify alert. */
void tls_conn_shutdown(struct tls_conn *t);

/* Bytes of ciphertext waiting to be written to the network. */
size_t tls_conn_output_pending(const struct tls_conn *t);

/*
 * Gives the memory of the session's buffers back when they are drained:
 * its network buffers, and OpenSSL's record buffers (after the handshake
 * only; otherwise a no-op).  An idle connection keeps about 37 KiB in them
 * otherwise: call it when the connection has nothing in flight, not after
 * every record (the record buffers are allocated again at the next one).
 */
void tls_conn_trim(struct tls_conn *t);

/* Those bytes in place (tls_conn_output_pending() of them), valid until
 * the next call on |t|. */
const uint8_t *tls_conn_output_peek(const struct tls_conn *t);

/* Drops the first |n| (at most the pending count) of those bytes, written
 * from tls_conn_output_peek(); the output keeps its memory for the next
 * records. */
void tls_conn_output_consume(struct tls_conn *t, size_t n);

/* Moves up to |len| bytes of that ciphertext into |out|.  Returns the
 * count moved. */
size_t tls_conn_output_read(struct tls_conn *t, void *out, size_t len);

/* Hands all of that ciphertext over in |*out| (buf_size(out) bytes from
 * buf_peek(out)), which the caller frees with buf_free(): a socket write
 * straight from the buffer OpenSSL wrote into.  The session starts an
 * empty output of its own. */
void tls_conn_output_take(struct tls_conn *t, struct buf *out);

/* True when the handshake failed because the peer spoke plaintext HTTP
 * on the TLS port: the caller may answer with a plain HTTP error. */
bool tls_conn_saw_plain_http(const struct tls_conn *t);

/* The peer's certificate (not owned; valid until tls_conn_free), or NULL. */
X509 *tls_conn_peer_cert(const struct tls_conn *t);

/* Why the last call failed, in a short English phrase for logs and for the
 * peer ("no client certificate", "unknown CA", "certificate expired", "no
 * ALPN h2"...).  Static storage, never NULL. */
const char *tls_conn_error(const struct tls_conn *t);

#endif
