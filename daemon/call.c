/*
 * call.c -- gRPC semantics on one HTTP/2 stream (see call.h).
 *
 * Validates the request headers, splits DATA into messages with the
 * rpc_reader, hands them to the method's handler, and writes the answer:
 * response headers, length-prefixed messages through an nghttp2 data
 * provider, then trailers that always carry grpc-status.  A call finished
 * before any message goes out is answered "Trailers-Only" (one HEADERS
 * frame).  Also owns the per-call deadline timer.  Does not read sockets
 * or TLS, and does not decide who may call what.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#define CALL_TRANSPORT
#include "call.h"
#include "conn.h"
#include "err.h"
#include "h2.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"
#include "server.h"

#define CALL_MAX_HEADERS 64
#define CALL_MAX_PATH 256
#define CALL_LOW_WATER (128 * 1024)
#define CALL_STATUS_MSG_MAX 512

struct call_header {
    char *name;
    char *value;
};

struct call {
    int refs;
    struct h2 *h2; /* NULL once the stream is closed */
    struct server *server;
    int32_t stream_id;
    struct principal principal;
    const struct method *method;

    /* Request headers. */
    char path[CALL_MAX_PATH];
    struct call_header headers[CALL_MAX_HEADERS];
    size_t nheaders;
    size_t header_bytes;
    bool post, grpc_content_type, compressed, bad_timeout;
    uint64_t timeout_ms;
    bool has_timeout;

    /* Request messages. */
    struct rpc_reader reader;
    uint64_t messages_in;
    bool client_done;
    bool recv_paused;
    size_t unconsumed; /* bytes received while paused, window not granted */

    /* Response. */
    struct buf out;
    bool headers_sent;
    bool deferred; /* the data provider is waiting for bytes */
    bool finished;
    bool closed;
    bool cancel_notified;
    bool want_writable;
    bool writable_queued;
    int status;
    char status_msg[CALL_STATUS_MSG_MAX]; /* percent-encoded */
    bool accept_identity;                 /* add grpc-accept-encoding */

    uv_timer_t deadline;
    bool timer_init;

    /* Audit (see enum call_audit_mode). */
    char *audit[CALL_AUDIT_NFIELDS];
    bool audited;     /* the handler recorded the access */
    bool hold;        /* answers wait for a durable audit entry */
    bool finishing;   /* call_finish waits for its audit entry */
    char *finish_msg; /* plain message kept while finishing */

    void *data;
    call_data_free_fn *data_free;

    uint64_t start_ns; /* request headers began (metrics) */
    bool counted;      /* metrics_call_observe has run */
    const char *http_status; /* a bare HTTP error answered, or NULL */
    char log_note[CALL_LOG_NOTE_MAX]; /* see call_log_note */
    struct log_kv note;               /* the text in log_note */
};

static void call_free(struct call *c);

#define MAKE_NV(n, v, vlen)                                                    \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen),                 \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

struct call *
call__new(struct h2 *h, int32_t stream_id, struct server *s,
          const struct principal *who)
{
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->h2 = h;
    c->server = s;
    c->stream_id = stream_id;
    c->principal = *who;
    c->start_ns = uv_hrtime();
    rpc_reader_init(&c->reader, server_config(s)->max_message);
    buf_init(&c->out);
    log_kv_init(&c->note, c->log_note, sizeof(c->log_note), 0);
    return c;
}

void
call_log_note(struct call *c, const char *fmt, ...)
{
    size_t room = c->note.cap - c->note.len;
    va_list ap;
    int n;

    if (room <= 2)
        return;
    log_kv_raw(&c->note, " ", 1);
    va_start(ap, fmt);
    n = vsnprintf(c->log_note + c->note.len, room - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        c->log_note[--c->note.len] = '\0';
        return;
    }
    c->note.len += (size_t)n < room - 2 ? (size_t)n : room - 2;
}

struct log_kv *
call_log_kv(struct call *c)
{
    return &c->note;
}

const struct principal *
call_principal(const struct call *c)
{
    return &c->principal;
}

const char *
call_header(const struct call *c, const char *name)
{
    for (size_t i = 0; i < c->nheaders; i++)
        if (strcmp(c->headers[i].name, name) == 0)
            return c->headers[i].value;
    return NULL;
}

const struct method *
call_method(const struct call *c)
{
    return c->method;
}

struct server *
call_server(const struct call *c)
{
    return c->server;
}

void
call_set_data(struct call *c, void *data, call_data_free_fn *free_fn)
{
    if (c->data != NULL && c->data_free != NULL)
        c->data_free(c->data);
    c->data = data;
    c->data_free = free_fn;
}

void *
call_data(const struct call *c)
{
    return c->data;
}

void
call_ref(struct call *c)
{
    c->refs++;
}

static void
call_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void
call_unref(struct call *c)
{
    if (--c->refs > 0)
        return;
    call_free(c);
}

static void
call_free(struct call *c)
{
    if (c->data != NULL && c->data_free != NULL)
        c->data_free(c->data);
    for (size_t i = 0; i < c->nheaders; i++) {
        free(c->headers[i].name);
        free(c->headers[i].value);
    }
    rpc_reader_close(&c->reader);
    buf_wipe(&c->out);
    for (int i = 0; i < CALL_AUDIT_NFIELDS; i++)
        free(c->audit[i]);
    free(c->finish_msg);
    if (c->timer_init) {
        /* The timer handle lives inside the call: free after it closes. */
        c->deadline.data = c;
        uv_close((uv_handle_t *)&c->deadline, call_timer_closed);
        return;
    }
    free(c);
}

bool
call_is_done(const struct call *c)
{
    return c->finished || c->finishing || c->closed;
}

void
call_audit_set(struct call *c, enum call_audit_field f, const char *v)
{
    free(c->audit[f]);
    c->audit[f] = v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

const char *
call_audit_get(const struct call *c, enum call_audit_field f)
{
    return c->audit[f] != NULL ? c->audit[f] : "";
}

size_t
call_send_queued(const struct call *c)
{
    return buf_size(&c->out);
}

size_t
call_send_low_water(const struct call *c)
{
    return CALL_LOW_WATER;
}

void
call_want_writable(struct call *c, bool want)
{
    c->want_writable = want;
    if (want && !c->writable_queued && c->h2 != NULL &&
        buf_size(&c->out) < CALL_LOW_WATER) {
        c->writable_queued = true;
        h2__want_writable(c->h2, c);
        conn_wake(h2__conn(c->h2));
    }
}

void
call__writable(struct call *c)
{
    c->writable_queued = false;
    if (call_is_done(c) || !c->want_writable ||
        buf_size(&c->out) >= CALL_LOW_WATER || c->method == NULL ||
        c->method->on_writable == NULL)
        return;
    c->method->on_writable(c);
}

/*
 * nghttp2 pulls response DATA from here.  When the queue is empty it either
 * ends the body (the call is finished: trailers follow) or defers until
 * call_send() or call_finish() resumes it.
 */
static ssize_t
call_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *dst,
               size_t length, uint32_t *flags, nghttp2_data_source *source,
               void *user_data)
{
    struct call *c = source->ptr;
    size_t n = buf_size(&c->out);

    if (n > length)
        n = length;
    if (n > 0) {
        memcpy(dst, buf_peek(&c->out), n);
        buf_consume(&c->out, n);
    }
    if (buf_size(&c->out) == 0 && c->finished) {
        char code[12];
        nghttp2_nv nv[3] = {
            MAKE_NV("grpc-status", code, 0),
            MAKE_NV("grpc-message", c->status_msg, strlen(c->status_msg)),
            MAKE_NV("grpc-accept-encoding", "identity", 8),
        };
        size_t nnv = 1;

        nv[0].valuelen = (size_t)snprintf(code, sizeof(code), "%d", c->status);
        if (c->status_msg[0] != '\0')
            nnv = 2;
        if (c->accept_identity)
            nv[nnv++] = nv[2];
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(session, stream_id, nv, nnv) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        c->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (c->want_writable && !c->writable_queued &&
        buf_size(&c->out) < CALL_LOW_WATER) {
        c->writable_queued = true;
        h2__want_writable(c->h2, c);
    }
    return (ssize_t)n;
}

/* Sends the response HEADERS with a body to follow. */
static int
call_submit_headers(struct call *c)
{
    nghttp2_nv nv[] = {
        MAKE_NV(":status", "200", 3),
        MAKE_NV("content-type", "application/grpc", 16),
        MAKE_NV("grpc-accept-encoding", "identity", 8),
    };
    nghttp2_data_provider prd;

    prd.source.ptr = c;
    prd.read_callback = call_data_read;
    if (nghttp2_submit_response(h2__session(c->h2), c->stream_id, nv,
                                sizeof(nv) / sizeof(nv[0]), &prd) != 0)
        return -ENOMEM;
    c->headers_sent = true;
    return 0;
}

/* Lets nghttp2 pull again after the queue grew or the call finished. */
static void
call_kick(struct call *c)
{
    if (c->deferred) {
        c->deferred = false;
        nghttp2_session_resume_data(h2__session(c->h2), c->stream_id);
    }
    conn_wake(h2__conn(c->h2));
}

/* Lets queued answers go, unless they wait for the audit log. */
static int
call_release(struct call *c)
{
    int rc;

    if (c->hold || buf_size(&c->out) == 0)
        return 0;
    if (!c->headers_sent && (rc = call_submit_headers(c)) != 0)
        return rc;
    call_kick(c);
    return 0;
}

void
call_audit_recorded(struct call *c)
{
    c->audited = true;
    c->hold = false;
    if (!call_is_done(c))
        call_release(c);
}

int
call_send(struct call *c, const uint8_t *msg, size_t len)
{
    uint8_t prefix[RPC_PREFIX_LEN];
    int rc;

    if (call_is_done(c))
        return -ECANCELED;
    if (len > UINT32_MAX)
        return ERR_TOOBIG;
    if ((rc = buf_reserve(&c->out, RPC_PREFIX_LEN + len)) != 0)
        return rc;
    rpc_prefix_encode(prefix, (uint32_t)len);
    buf_append(&c->out, prefix, sizeof(prefix));
    buf_append(&c->out, msg, len);
    return call_release(c);
}

uint8_t *
call_send_space(struct call *c, size_t len)
{
    uint8_t *p;

    if (call_is_done(c) || len > UINT32_MAX ||
        (p = buf_space(&c->out, RPC_PREFIX_LEN + len)) == NULL)
        return NULL;
    rpc_prefix_encode(p, (uint32_t)len);
    return p + RPC_PREFIX_LEN;
}

int
call_send_commit(struct call *c, size_t len)
{
    if (call_is_done(c))
        return -ECANCELED;
    buf_commit(&c->out, RPC_PREFIX_LEN + len);
    return call_release(c);
}

int
call_send_msg(struct call *c, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *p;

    if (call_is_done(c))
        return -ECANCELED;
    if (len > UINT32_MAX)
        return ERR_TOOBIG;
    if ((p = call_send_space(c, len)) == NULL)
        return -ENOMEM;
    protobuf_c_message_pack(msg, p);
    return call_send_commit(c, len);
}

/* The handler learns, once, that its call ended without it. */
static void
call_notify_cancel(struct call *c)
{
    if (c->cancel_notified)
        return;
    c->cancel_notified = true;
    if (c->method != NULL && c->method->on_cancel != NULL) {
        call_ref(c);
        c->method->on_cancel(c);
        call_unref(c);
    }
}

static void
call_stop_timer(struct call *c)
{
    if (c->timer_init)
        uv_timer_stop(&c->deadline);
}

/* Sends the status: queued messages first, then trailers (or one
 * Trailers-Only HEADERS frame when nothing was sent). */
/* Counts the call once, with the status its client sees. */
static void
call_count(struct call *c, int status)
{
    if (c->counted)
        return;
    c->counted = true;
    metrics_call_observe(c->method != NULL ? c->method->path : NULL, status,
                         uv_hrtime() - c->start_ns);
}

static void
call_finish_now(struct call *c, int status, const char *msg)
{
    call_count(c, status);
    c->finished = true;
    c->hold = false;
    c->status = status;
    c->status_msg[0] = '\0';
    if (msg != NULL && msg[0] != '\0')
        rpc_pct_encode(msg, c->status_msg, sizeof(c->status_msg));
    call_stop_timer(c);
    if (c->closed)
        return;
    if (!c->headers_sent && buf_size(&c->out) > 0 &&
        call_submit_headers(c) != 0)
        buf_reset(&c->out);
    if (!c->headers_sent) {
        /* Trailers-Only: one HEADERS frame with END_STREAM. */
        char code[12];
        nghttp2_nv nv[5] = {
            MAKE_NV(":status", "200", 3),
            MAKE_NV("content-type", "application/grpc", 16),
            MAKE_NV("grpc-status", code, 0),
            MAKE_NV("grpc-message", c->status_msg, strlen(c->status_msg)),
            MAKE_NV("grpc-accept-encoding", "identity", 8),
        };
        size_t nnv = 3;

        nv[2].valuelen = (size_t)snprintf(code, sizeof(code), "%d", status);
        if (c->status_msg[0] != '\0')
            nnv = 4;
        if (c->accept_identity)
            nv[nnv++] = nv[4];
        c->headers_sent = true;
        if (nghttp2_submit_response(h2__session(c->h2), c->stream_id, nv, nnv,
                                    NULL) != 0)
            nghttp2_submit_rst_stream(h2__session(c->h2), NGHTTP2_FLAG_NONE,
                                      c->stream_id, NGHTTP2_INTERNAL_ERROR);
        conn_wake(h2__conn(c->h2));
        return;
    }
    call_kick(c);
}

/* The audit entry of a finishing call is durable (rc 0) or failed. */
static void
call_audit_finished(struct call *c, int rc)
{
    int status = c->status;

    c->finishing = false;
    if (rc != 0 && !c->audited) {
        /* Fail closed: nothing of an answer whose trace failed leaves.  An
         * error answer carries nothing, so it keeps its own status (a put
         * into a full store stays RESOURCE_EXHAUSTED). */
        log_warnx("audit entry not durable, answer withheld path=%s: %s",
                  c->path, err_str(rc));
        buf_reset(&c->out);
        if (status == RPC_OK) {
            free(c->finish_msg);
            c->finish_msg = strdup(
                rc == ERR_FULL ? "the store is full: the access could not be "
                                 "recorded in the audit log; nothing was sent"
                               : "the access could not be recorded in the "
                                 "audit log; nothing was sent, retry later");
            status = rc == ERR_FULL ? RPC_RESOURCE_EXHAUSTED : RPC_UNAVAILABLE;
        }
    }
    call_finish_now(c, status, c->finish_msg);
    call_unref(c);
}

/* True when finishing |c| with |status| needs an audit entry first. */
static bool
call_needs_entry(const struct call *c, int status)
{
    if (c->method == NULL || c->method->audit == CALL_AUDIT_NONE)
        return false;
    /* The handler's own entry already says granted or denied. */
    if (c->method->audit == CALL_AUDIT_HANDLER && c->audited &&
        (status == RPC_OK || status == RPC_PERMISSION_DENIED))
        return false;
    return true;
}

/* Cuts a UTF-8 sequence that truncation left incomplete at the end of
 * |s|: messages go to the audit log and to clients as UTF-8 text. */
static void
call_utf8_trim(char *s)
{
    size_t len = strlen(s), i = len, cont = 0;
    unsigned char lead;
    size_t need;

    while (i > 0 && cont < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0x80)
        return;
    need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    if (cont < need)
        s[i - 1] = '\0';
}

static int
call_vfinish(struct call *c, int status, const char *fmt, va_list ap)
{
    char msg[CALL_STATUS_MSG_MAX / 3];
    server_audit_fn *hook;
    void *arg;

    if (call_is_done(c))
        return -ECANCELED;
    msg[0] = '\0';
    if (fmt != NULL && vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
        call_utf8_trim(msg);
    hook = server_audit(c->server, &arg);
    if (hook == NULL || !call_needs_entry(c, status)) {
        call_finish_now(c, status, msg);
        return 0;
    }
    c->finishing = true;
    c->status = status;
    free(c->finish_msg);
    c->finish_msg = strdup(msg);
    call_stop_timer(c);
    call_ref(c);
    if (hook(arg, c, status, msg, call_audit_finished) != 0)
        call_audit_finished(c, -EIO);
    return 0;
}

int
call_finish(struct call *c, int status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = call_vfinish(c, status, fmt, ap);
    va_end(ap);
    return rc;
}

int
call_fail(struct call *c, int err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = call_vfinish(c, rpc_status_from_err(err), fmt, ap);
    va_end(ap);
    return rc;
}

/* Copies a header name or value into a new C string; NULL on -ENOMEM. */
static char *
call_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool
call_header_is(const uint8_t *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && memcmp(name, want, nlen) == 0;
}

int
call__header(struct call *c, const uint8_t *name, size_t nlen,
             const uint8_t *value, size_t vlen)
{
    c->header_bytes += nlen + vlen + 32; /* RFC 9113 accounting */
    if (c->header_bytes > server_config(c->server)->max_header_list)
        return ERR_TOOBIG;

    if (nlen > 0 && name[0] == ':') {
        if (call_header_is(name, nlen, ":method"))
            c->post = vlen == 4 && memcmp(value, "POST", 4) == 0;
        else if (call_header_is(name, nlen, ":path")) {
            size_t n = vlen < CALL_MAX_PATH - 1 ? vlen : CALL_MAX_PATH - 1;
            memcpy(c->path, value, n);
            c->path[n] = '\0';
        }
        return 0;
    }
    if (call_header_is(name, nlen, "content-type")) {
        /* "application/grpc", optionally followed by "+proto" or ";...". */
        static const char ct[] = "application/grpc";
        c->grpc_content_type =
            vlen >= sizeof(ct) - 1 && memcmp(value, ct, sizeof(ct) - 1) == 0 &&
            (vlen == sizeof(ct) - 1 || value[sizeof(ct) - 1] == '+' ||
             value[sizeof(ct) - 1] == ';');
        return 0;
    }
    if (call_header_is(name, nlen, "grpc-timeout")) {
        c->has_timeout =
            rpc_timeout_parse((const char *)value, vlen, &c->timeout_ms) == 0;
        c->bad_timeout = !c->has_timeout;
        return 0;
    }
    if (call_header_is(name, nlen, "grpc-encoding")) {
        c->compressed = !(vlen == 8 && memcmp(value, "identity", 8) == 0);
        return 0;
    }
    if (call_header_is(name, nlen, "te") ||
        call_header_is(name, nlen, "grpc-accept-encoding") ||
        call_header_is(name, nlen, "accept-encoding"))
        return 0;
    /* Custom metadata, kept for the handler (bounded in number). */
    if (c->nheaders == CALL_MAX_HEADERS)
        return 0;
    if ((c->headers[c->nheaders].name = call_strndup(name, nlen)) == NULL)
        return -ENOMEM;
    if ((c->headers[c->nheaders].value = call_strndup(value, vlen)) == NULL) {
        free(c->headers[c->nheaders].name);
        return -ENOMEM;
    }
    c->nheaders++;
    return 0;
}

static void
call_deadline_fired(uv_timer_t *t)
{
    struct call *c = (struct call *)((char *)t - offsetof(struct call, deadline));

    if (call_is_done(c))
        return;
    call_ref(c);
    log_debug("deadline exceeded stream=%d path=%s", c->stream_id, c->path);
    call_finish(c, RPC_DEADLINE_EXCEEDED, "deadline exceeded");
    call_notify_cancel(c);
    call_unref(c);
}

/* Answers a request that is not gRPC at all with a bare HTTP status. */
static void
call_http_error(struct call *c, const char *status)
{
    nghttp2_nv nv[] = {MAKE_NV(":status", status, 3)};

    c->finished = c->headers_sent = true;
    c->http_status = status;
    nghttp2_submit_response(h2__session(c->h2), c->stream_id, nv, 1, NULL);
}

void
call__start(struct call *c)
{
    struct server *s = c->server;

    if (!c->post) {
        call_http_error(c, "405");
        return;
    }
    if (!c->grpc_content_type) {
        call_http_error(c, "415");
        return;
    }
    c->method = server_method(s, c->path, strlen(c->path));
    if (c->method == NULL) {
        call_finish(c, RPC_UNIMPLEMENTED, "unknown method %s", c->path);
        return;
    }
    if (server_is_draining(s)) {
        call_finish(c, RPC_UNAVAILABLE, "server is shutting down, retry");
        return;
    }
    if (c->compressed) {
        c->accept_identity = true;
        call_finish(c, RPC_UNIMPLEMENTED,
                    "compressed messages are not supported; use identity");
        return;
    }
    if (c->bad_timeout) {
        call_finish(c, RPC_INTERNAL, "malformed grpc-timeout header");
        return;
    }
    {
        void *arg;
        c->hold = server_audit(s, &arg) != NULL &&
                  c->method->audit != CALL_AUDIT_NONE;
    }
    if (c->has_timeout) {
        uv_timer_init(server_loop(s), &c->deadline);
        c->timer_init = true;
        uv_timer_start(&c->deadline, call_deadline_fired, c->timeout_ms, 0);
    }
}

static int
call_on_message(void *arg, const uint8_t *msg, size_t len)
{
    struct call *c = arg;
    bool single = c->method->kind == CALL_UNARY ||
                  c->method->kind == CALL_SERVER_STREAM;

    if (call_is_done(c))
        return 0;
    if (single && c->messages_in > 0) {
        call_finish(c, RPC_INTERNAL,
                    "more than one request message for a unary method");
        /* Ended without its handler, which may hold it (a health Watch
         * registered by the first message did, forever). */
        call_notify_cancel(c);
        return 0;
    }
    c->messages_in++;
    c->method->on_message(c, msg, len);
    return 0;
}

void
call_pause_recv(struct call *c, bool pause)
{
    c->recv_paused = pause;
    if (!pause && c->unconsumed > 0 && c->h2 != NULL) {
        nghttp2_session_consume(h2__session(c->h2), c->stream_id,
                                c->unconsumed);
        c->unconsumed = 0;
        conn_wake(h2__conn(c->h2));
    }
}

/* Grants the window back for |len| bytes, now or when reading resumes.
 * |h| is the session the bytes came in on: the stream may have closed
 * meanwhile, and the connection window must be given back all the same. */
static void
call_consume(struct call *c, struct h2 *h, size_t len)
{
    if (c->recv_paused && !call_is_done(c))
        c->unconsumed += len;
    else
        nghttp2_session_consume(h2__session(h), c->stream_id, len);
}

void
call__data(struct call *c, const uint8_t *data, size_t len)
{
    struct h2 *h = c->h2;
    int rc;

    if (call_is_done(c) || c->method == NULL) {
        call_consume(c, h, len);
        return; /* already answered: the rest of the body is ignored */
    }
    call_ref(c);
    rc = rpc_reader_feed(&c->reader, data, len, call_on_message, c);
    switch (rc) {
    case 0:
        break;
    case ERR_TOOBIG:
        call_finish(c, RPC_RESOURCE_EXHAUSTED,
                    "message of %u bytes is over the limit of %zu bytes",
                    c->reader.msg_len, c->reader.max);
        break;
    case ERR_COMPRESSED:
        c->accept_identity = true;
        call_finish(c, RPC_UNIMPLEMENTED,
                    "compressed messages are not supported; use identity");
        break;
    default:
        call_fail(c, rc, "malformed message framing: %s", err_str(rc));
        break;
    }
    if (rc != 0)
        call_notify_cancel(c);
    call_consume(c, h, len);
    call_unref(c);
}

void
call__end_stream(struct call *c)
{
    c->client_done = true;
    if (call_is_done(c) || c->method == NULL)
        return;
    call_ref(c);
    if (!rpc_reader_idle(&c->reader)) {
        call_finish(c, RPC_INTERNAL, "request ended inside a message");
        call_notify_cancel(c);
    } else if ((c->method->kind == CALL_UNARY ||
                c->method->kind == CALL_SERVER_STREAM) &&
               c->messages_in == 0) {
        call_finish(c, RPC_INTERNAL, "no request message for a unary method");
        call_notify_cancel(c);
    } else if (c->method->on_half_close != NULL) {
        c->method->on_half_close(c);
    }
    call_unref(c);
}

bool
call__client_done(const struct call *c)
{
    return c->client_done;
}

/*
 * The one log line of a call, when its stream closes: the method (only a
 * registered one: an unknown path is the client's text), the principal,
 * the outcome (the gRPC status sent, a bare HTTP error, or CANCELLED with
 * the HTTP/2 error code when the stream was reset before an answer) and
 * the time from the request headers to the close.  Never the status
 * message nor any request content.
 */
static void
call_log_end(const struct call *c, bool was_finished, uint32_t error_code)
{
    char text[LOG_TEXT_MAX], who[PRINCIPAL_LOG_MAX], frac[4];
    struct log_kv l;
    uint64_t us;

    /* Built without printf: this line is written for every call. */
    if (!log_enabled(LOG_LVL_INFO))
        return;
    us = (uv_hrtime() - c->start_ns) / 1000;
    log_kv_init(&l, text, sizeof(text), 0);
    log_kv_raw(&l, "call", 4);
    log_kv_str(&l, "method", c->method != NULL ? c->method->path : "unknown");
    log_kv_str(&l, "principal", principal_log_name(&c->principal, who));
    if (c->http_status != NULL) {
        log_kv_str(&l, "status", "HTTP_");
        log_kv_raw(&l, c->http_status, strlen(c->http_status));
    } else if (was_finished) {
        log_kv_str(&l, "status", rpc_status_name(c->status));
        log_kv_i64(&l, "code", c->status);
    } else {
        log_kv_str(&l, "status", "CANCELLED");
        log_kv_i64(&l, "code", RPC_CANCELLED);
        log_kv_i64(&l, "reset", error_code);
    }
    log_kv_i64(&l, "ms", (int64_t)(us / 1000));
    frac[0] = '.';
    frac[1] = (char)('0' + us % 1000 / 100);
    frac[2] = (char)('0' + us % 100 / 10);
    frac[3] = (char)('0' + us % 10);
    log_kv_raw(&l, frac, sizeof(frac));
    log_kv_i64(&l, "messages_in", (int64_t)c->messages_in);
    log_kv_i64(&l, "stream", c->stream_id);
    log_kv_raw(&l, c->note.buf, c->note.len);
    log_kv_print(LOG_LVL_INFO, "call", &l);
}

void
call__closed(struct call *c, uint32_t error_code)
{
    bool was_finished = c->finished;

    c->closed = true;
    call_stop_timer(c);
    if (c->unconsumed > 0) {
        /* The stream is gone; its share of the connection window is not. */
        nghttp2_session_consume(h2__session(c->h2), c->stream_id,
                                c->unconsumed);
        c->unconsumed = 0;
    }
    call_log_end(c, was_finished, error_code);
    if (!was_finished) {
        call_count(c, RPC_CANCELLED);
        call_notify_cancel(c);
    }
    c->h2 = NULL;
    call_unref(c);
}
