/*
 * call.h -- one gRPC call, as a service handler sees it.
 *
 * The transport (h2.c) turns each HTTP/2 stream whose path names a
 * registered method into a call, checks its headers, frames its messages
 * and enforces its deadline; handlers only see whole request messages and
 * answer with whole response messages and a final status.  All of it runs
 * on the loop thread.  A handler that needs to block (disk, heavy crypto)
 * takes a reference with call_ref(), does its work off the loop (a writer
 * operation, writer.h, for anything that writes; uv_queue_work() for the
 * rest), and comes back on the loop to send and finish.  Calls of the
 * dossier services are recorded in the audit log before their answer
 * leaves (enum call_audit_mode below).
 *
 * Lifetime: a call lives until its stream is closed *and* every reference
 * is dropped.  Once the stream is gone (peer reset, deadline, connection
 * lost) the handler's on_cancel runs once, and call_send()/call_finish()
 * return -ECANCELED without doing anything.
 */
#ifndef DOSSIER_CALL_H
#define DOSSIER_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "principal.h"

struct call;
struct server;

enum call_kind {
    CALL_UNARY,         /* one request, one response */
    CALL_SERVER_STREAM, /* one request, any number of responses */
    CALL_CLIENT_STREAM, /* any number of requests, one response */
    CALL_BIDI,          /* any number both ways */
};

/* A request message arrived: |msg| (|len| bytes) is valid during the call
 * only.  For unary and server-streaming methods the transport guarantees
 * exactly one message (it answers INTERNAL itself otherwise). */
typedef void call_msg_fn(struct call *c, const uint8_t *msg, size_t len);

/* The client has sent its last message (half-close). */
typedef void call_half_close_fn(struct call *c);

/* The response queue fell under call_send_low_water(): a streaming handler
 * may send more.  Only called after call_want_writable(c, true). */
typedef void call_writable_fn(struct call *c);

/* The call ended before the handler finished it (peer reset, deadline,
 * connection lost, drain timeout, or the transport answered an error such
 * as an oversized message): drop any work in flight, or let it end and
 * see -ECANCELED.  Runs at most once, and never after the handler's own
 * call_finish(). */
typedef void call_cancel_fn(struct call *c);

/* Called once when the call is freed, to release call_data(). */
typedef void call_data_free_fn(void *data);

/*
 * How a call reaches the audit log (audit.h).  Every call of a dossier
 * service is recorded; what varies is when:
 *  CALL_AUDIT_FINISH   one entry when the handler finishes, with the
 *                      outcome taken from the status; nothing of the answer
 *                      (not even headers) leaves before that entry is
 *                      durable, and if it cannot be made durable the caller
 *                      gets UNAVAILABLE instead of the answer.  The default.
 *  CALL_AUDIT_HANDLER  the handler records the access itself before it
 *                      sends anything (a document read: the consent check
 *                      and the entry in one transaction) and then calls
 *                      call_audit_recorded(); a failure at the end adds an
 *                      entry with the error.
 *  CALL_AUDIT_NONE     no entry: health, reflection and diagnostics, which
 *                      touch no dossier.
 */
enum call_audit_mode { CALL_AUDIT_FINISH = 0, CALL_AUDIT_HANDLER, CALL_AUDIT_NONE };

/* What a handler tells the log about its call, as it learns it. */
enum call_audit_field {
    CALL_AUDIT_DOSSIER,      /* pseudonymous dossier id */
    CALL_AUDIT_OBJECT,       /* document, consent, mandate id */
    CALL_AUDIT_BASIS,        /* consent or mandate id relied on */
    CALL_AUDIT_PURPOSE,      /* purpose (finalité) code */
    CALL_AUDIT_CASE,         /* the agency's case reference */
    CALL_AUDIT_ON_BEHALF_OF, /* mandate chain "delegate>dossier" */
    CALL_AUDIT_NFIELDS
};

struct method {
    const char *path; /* "/dossier.v1.Documents/Get" */
    enum call_kind kind;
    enum call_audit_mode audit;
    call_msg_fn *on_message;         /* required */
    call_half_close_fn *on_half_close; /* optional */
    call_writable_fn *on_writable;   /* optional */
    call_cancel_fn *on_cancel;       /* optional */
};

/* Longest text call_log_note() keeps for one call (the rest is cut). */
#define CALL_LOG_NOTE_MAX 192

/*
 * Adds " key=value..." (printf |fmt|) to the call's one log line, written
 * when the call ends (method, principal, status, duration, then the
 * notes), so that a call costs one log line whatever its handler adds.
 * Ids and counts only: never personal data or key material.  Text beyond
 * CALL_LOG_NOTE_MAX is cut.  Loop thread.
 */
void call_log_note(struct call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct log_kv;

/* The call's notes (what call_log_note adds), for log_kv_* to append
 * pairs to without printf, under call_log_note's rules (ids and counts
 * only; cut at CALL_LOG_NOTE_MAX).  Valid for the call's lifetime.  Loop
 * thread. */
struct log_kv *call_log_kv(struct call *c);

/* The identity proven by the caller's certificate; never NULL.  Valid for
 * the call's lifetime. */
const struct principal *call_principal(const struct call *c);

/* The value of request metadata |name| (lower-case), or NULL.  Valid for
 * the call's lifetime. */
const char *call_header(const struct call *c, const char *name);

/* The method being called.  Valid for the call's lifetime. */
const struct method *call_method(const struct call *c);

/* The server the call belongs to (for its configuration and services). */
struct server *call_server(const struct call *c);

/* Notes |value| (copied; NULL or "" clears) for the call's audit entry.
 * Never personal data: ids, codes and references only. */
void call_audit_set(struct call *c, enum call_audit_field f, const char *v);

/* The value noted for |f|, or "" (valid until the next call_audit_set). */
const char *call_audit_get(const struct call *c, enum call_audit_field f);

/* CALL_AUDIT_HANDLER: the access is durably recorded; answers may flow. */
void call_audit_recorded(struct call *c);

/* Per-call handler state; |free_fn| (may be NULL) runs when the call is
 * freed.  Setting it again frees the previous data first. */
void call_set_data(struct call *c, void *data, call_data_free_fn *free_fn);
void *call_data(const struct call *c);

/* Keep the call alive across asynchronous work; each call_ref() needs one
 * call_unref(). */
void call_ref(struct call *c);
void call_unref(struct call *c);

/* True once the call can no longer send: finished or cancelled. */
bool call_is_done(const struct call *c);

/*
 * Queues one response message of |len| bytes (copied).  Returns 0,
 * -ECANCELED if the call is done, ERR_TOOBIG if |len| does not fit the
 * 32-bit length prefix, or -ENOMEM.  (The server's max_message bounds what
 * it receives; what it sends is bounded by the handler.)  Never blocks: a streaming handler watches
 * call_send_queued() and waits for on_writable before queueing more.
 */
int call_send(struct call *c, const uint8_t *msg, size_t len);

/* Packs |msg| with protobuf-c and queues it, as call_send(). */
int call_send_msg(struct call *c, const ProtobufCMessage *msg);

/*
 * For a message the handler writes in place (decrypting into it, say,
 * rather than into a buffer of its own first): room for exactly |len|
 * bytes at the end of the send queue, or NULL if the call is done, |len|
 * does not fit the length prefix, or memory is short.  Nothing is queued
 * until call_send_commit(c, len); a handler that gives up just does not
 * commit, and the room is reused.  Valid until the next call_send*.
 * call_send_commit returns as call_send() (-ECANCELED if the call ended
 * in between: nothing is sent).
 */
uint8_t *call_send_space(struct call *c, size_t len);
int call_send_commit(struct call *c, size_t len);

/* Bytes queued for this call and not yet handed to HTTP/2. */
size_t call_send_queued(const struct call *c);

/* The queue level under which on_writable fires, and above which a
 * streaming handler should stop queueing. */
size_t call_send_low_water(const struct call *c);

/* Asks for (or stops asking for) on_writable calls. */
void call_want_writable(struct call *c, bool want);

/*
 * Stops (|pause| true) or resumes granting the client HTTP/2 flow-control
 * window for this call's requests.  While paused, bytes already granted
 * (at most the stream window) still arrive and are delivered; then the
 * client blocks.  A client-streaming handler whose messages go to work off
 * the loop pauses while that work is behind, so memory stays bounded.
 */
void call_pause_recv(struct call *c, bool pause);

/*
 * Ends the call: queued messages are sent, then trailers carrying
 * |status| and, if |fmt| is not NULL, the formatted message (percent-
 * encoded on the wire; say what is wrong, never a path or a secret).
 * When the method's audit mode asks for an entry, the answer waits until
 * that entry is durable; if it cannot be made durable, an OK answer is
 * replaced by UNAVAILABLE (RESOURCE_EXHAUSTED when the store is full) and
 * its queued messages are dropped.  Returns 0 or -ECANCELED.  After it,
 * call_send() returns -ECANCELED.
 */
int call_finish(struct call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Finishes with the status derived from the project error |err| and
 * |fmt| as message. */
int call_fail(struct call *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* --- for h2.c only ----------------------------------------------------- */
#ifdef CALL_TRANSPORT

struct h2;

/* A new call for a request stream; the transport holds the first
 * reference until call__closed().  NULL on -ENOMEM. */
struct call *call__new(struct h2 *h, int32_t stream_id, struct server *s,
                       const struct principal *who);

/* One request header.  Returns 0, or ERR_TOOBIG when the header list
 * exceeds the configured size (the transport then resets the stream). */
int call__header(struct call *c, const uint8_t *name, size_t nlen,
                 const uint8_t *value, size_t vlen);

/* The request headers are complete: validate them and route the call. */
void call__start(struct call *c);

/* DATA bytes of the request stream. */
void call__data(struct call *c, const uint8_t *data, size_t len);

/* The client sent END_STREAM. */
void call__end_stream(struct call *c);

/* True when the client has half-closed. */
bool call__client_done(const struct call *c);

/* The stream is closed (|error_code| is the HTTP/2 code, 0 for a clean
 * end): cancels the handler if it had not finished, and drops the
 * transport's reference. */
void call__closed(struct call *c, uint32_t error_code);

/* Runs on_writable if the call still wants it. */
void call__writable(struct call *c);

#endif
#endif
