/*
 * grpcc.h -- a small blocking gRPC client: HTTP/2 (nghttp2) over TLS
 * (tls.h, OpenSSL memory BIOs) on one TCP socket, for the `dossier`
 * command.
 *
 * One connection carries one call at a time, which is all a command line
 * needs.  Calls may stream both ways: messages are framed with rpc.h,
 * flow control is nghttp2's, and the socket is non-blocking under poll(2)
 * so that a large upload never stops reading what the server says (a
 * server that refuses a deposit early is heard at once).
 *
 * What it deliberately does not do: retries, name resolution beyond
 * getaddrinfo, compression, several calls in parallel, or any wording for
 * people: it returns codes, and the caller (cli.c) says what they mean.
 */
#ifndef DOSSIER_GRPCC_H
#define DOSSIER_GRPCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "buf.h"

struct grpcc;
struct grpcc_call;

/* Where to connect and as whom.  Strings are copied by grpcc_open. */
struct grpcc_conf {
    const char *host;        /* "127.0.0.1", "localhost", "::1" */
    const char *port;        /* "7443" */
    const char *server_name; /* checked against the server certificate */
    const char *cert, *key;  /* the principal's certificate and key (PEM) */
    const char *ca;          /* the CA the server certificate chains to */
    int connect_timeout_ms;  /* TCP connect and TLS handshake */
};

/* Why a connection failed (grpcc_open) or broke (during a call). */
enum grpcc_fail {
    GRPCC_OK = 0,
    GRPCC_RESOLVE,   /* the host name does not resolve */
    GRPCC_REFUSED,   /* nobody listens there (ECONNREFUSED) */
    GRPCC_UNREACH,   /* network unreachable, connect timed out */
    GRPCC_TLS_SETUP, /* our certificate, key or CA could not be used */
    GRPCC_TLS,       /* the handshake failed (see detail) */
    GRPCC_CLOSED,    /* the server closed the connection */
    GRPCC_PROTO,     /* the server broke HTTP/2 or gRPC framing */
    GRPCC_TIMEOUT,   /* the call's deadline passed */
    GRPCC_NOMEM,
};

/* The outcome of a call: a gRPC status, or a transport failure. */
struct grpcc_status {
    int code;              /* gRPC status (rpc.h); RPC_UNAVAILABLE on fail */
    enum grpcc_fail fail;  /* GRPCC_OK unless the transport failed */
    char message[512];     /* grpc-message, decoded; or a transport detail */
};

/*
 * Connects to |conf|'s server and completes the TLS handshake and the
 * HTTP/2 preface.  On success stores a new connection in |*out| (free it
 * with grpcc_free) and returns 0.  On failure returns -1 with |st->fail|
 * and |st->message| saying why (st->code is RPC_UNAVAILABLE).  Blocks up to
 * |conf->connect_timeout_ms|.
 */
int grpcc_open(const struct grpcc_conf *conf, struct grpcc **out,
               struct grpcc_status *st);

/* Sends GOAWAY, closes the socket, frees everything.  NULL is a no-op. */
void grpcc_free(struct grpcc *g);

/*
 * Starts a call of |path| ("/dossier.v1.Documents/List") with a deadline
 * of |timeout_ms| (0: none).  Returns the call, or NULL on -ENOMEM or when
 * a call is already running on |g|.  The request stays open for
 * grpcc_call_send until grpcc_call_close_send.
 */
struct grpcc_call *grpcc_call_start(struct grpcc *g, const char *path,
                                    int timeout_ms);

/*
 * Frames and queues |msg| and sends while more than a few hundred KiB
 * are queued.  Returns 0; 1 when the call has already ended (the server
 * answered early: read the status with grpcc_call_finish); -1 when the
 * transport failed (grpcc_call_finish says how).
 */
int grpcc_call_send(struct grpcc_call *c, const ProtobufCMessage *msg);

/* Ends the request stream (END_STREAM after the queued messages). */
void grpcc_call_close_send(struct grpcc_call *c);

/*
 * Waits for the next response message and unpacks it with |desc| into
 * |*out| (the caller frees it with protobuf_c_message_free_unpacked).
 * If |raw| is not NULL, the message bytes (without prefix) are also
 * appended to it.  Returns 1 with a message, 0 at the end of the response
 * stream, -1 on failure (a transport failure, a message that does not
 * parse or is over the limit: grpcc_call_finish says which).
 */
int grpcc_call_recv(struct grpcc_call *c,
                    const ProtobufCMessageDescriptor *desc,
                    ProtobufCMessage **out, struct buf *raw);

/*
 * Waits for the end of the call and fills |st|.  Returns st->code (0 is
 * OK).  Frees the call: |c| is invalid afterwards.
 */
int grpcc_call_finish(struct grpcc_call *c, struct grpcc_status *st);

/* Cancels the call (RST_STREAM CANCEL) and frees it.  For a watch the
 * person stops. */
void grpcc_call_cancel(struct grpcc_call *c);

/*
 * One unary call: sends |req|, expects one response of |desc| into
 * |*resp| (NULL unless OK).  Returns the gRPC status code, |st| filled.
 */
int grpcc_unary(struct grpcc *g, const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                int timeout_ms, struct grpcc_status *st);

#endif
