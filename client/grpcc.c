/*
 * grpcc.c -- blocking gRPC client over nghttp2 and tls.h (see grpcc.h).
 *
 * The socket is non-blocking; every wait is one poll(2) loop (pump) that
 * moves ciphertext both ways: what nghttp2 wants to send goes through
 * the TLS session into |out| and to the socket, and what the socket
 * gives goes through TLS into nghttp2.  Reading never stops while we
 * write, so a server that answers before the upload ends is heard.
 *
 * Response DATA is copied into the call's |in| buffer as it arrives (we
 * must copy nghttp2's chunks before the callback returns); messages are
 * cut from it by their 5-byte prefix when the caller asks for one, and
 * pumping stops as soon as one is whole, so memory stays near the HTTP/2
 * window whatever the size of a download.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "be.h"
#include "err.h"
#include "grpcc.h"
#include "rpc.h"
#include "tls.h"

#define SEND_HIGH_WATER (512 * 1024)
#define STREAM_WINDOW (4 * 1024 * 1024)
#define CONN_WINDOW (16 * 1024 * 1024)
#define MAX_MESSAGE (64 * 1024 * 1024)

struct grpcc_call {
    struct grpcc *g;
    int32_t stream_id;
    int64_t deadline; /* monotonic ms, 0 none */
    struct buf out;   /* framed request bytes not yet given to nghttp2 */
    bool send_closed;
    bool deferred;    /* the data provider returned DEFERRED */
    struct buf in;    /* response DATA not yet cut into messages */
    bool closed;      /* the stream closed */
    uint32_t rst_code;
    int http_status;
    bool have_grpc_status;
    int grpc_status;
    char grpc_message[512];
    bool bad_message; /* a response message over the limit or unparsable */
};

struct grpcc {
    int fd;
    struct tls_ctx *ctx;
    struct tls_conn *tls;
    nghttp2_session *h2;
    struct buf out; /* ciphertext not yet written */
    char authority[300];
    struct grpcc_call *call;
    enum grpcc_fail fail; /* sticky: the connection is dead */
    char detail[256];
};

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
conn_fail(struct grpcc *g, enum grpcc_fail f, const char *detail)
{
    if (g->fail != GRPCC_OK)
        return;
    g->fail = f;
    snprintf(g->detail, sizeof(g->detail), "%s", detail);
}

/* --- nghttp2 callbacks ----------------------------------------------------- */

static ssize_t
data_read(nghttp2_session *s, int32_t id, uint8_t *dst, size_t len,
          uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    struct grpcc_call *c = src->ptr;
    size_t n = buf_size(&c->out);

    if (n > len)
        n = len;
    if (n > 0) {
        memcpy(dst, buf_peek(&c->out), n);
        buf_consume(&c->out, n);
    }
    if (buf_size(&c->out) == 0) {
        if (c->send_closed) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
            c->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
          size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
          void *arg)
{
    struct grpcc *g = arg;
    struct grpcc_call *c = g->call;
    char v[512];

    if (c == NULL || f->hd.stream_id != c->stream_id)
        return 0;
    snprintf(v, sizeof(v), "%.*s", (int)valuelen, (const char *)value);
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        c->http_status = atoi(v);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        c->have_grpc_status = true;
        c->grpc_status = atoi(v);
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        rpc_pct_decode(v, c->grpc_message, sizeof(c->grpc_message));
    }
    return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
        size_t len, void *arg)
{
    struct grpcc *g = arg;
    struct grpcc_call *c = g->call;

    if (c == NULL || id != c->stream_id)
        return 0;
    if (buf_append(&c->in, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
    struct grpcc *g = arg;
    struct grpcc_call *c = g->call;

    if (c != NULL && id == c->stream_id) {
        c->closed = true;
        c->rst_code = code;
    }
    return 0;
}

/* --- the pump -------------------------------------------------------------- */

/* Moves what nghttp2 wants to send into TLS, and TLS output into |out|. */
static int
produce(struct grpcc *g)
{
    while (buf_size(&g->out) < SEND_HIGH_WATER &&
           nghttp2_session_want_write(g->h2)) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(g->h2, &p);

        if (n < 0) {
            conn_fail(g, GRPCC_PROTO, nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0)
            break;
        if (tls_conn_write(g->tls, p, (size_t)n) != 0) {
            conn_fail(g, GRPCC_TLS, tls_conn_error(g->tls));
            return -1;
        }
        while (tls_conn_output_pending(g->tls) > 0) {
            uint8_t *sp = buf_space(&g->out, 16384);
            if (sp == NULL) {
                conn_fail(g, GRPCC_NOMEM, "out of memory");
                return -1;
            }
            buf_commit(&g->out, tls_conn_output_read(g->tls, sp, 16384));
        }
    }
    return 0;
}

/* Takes pending TLS output (handshake) into |out|. */
static int
tls_drain(struct grpcc *g)
{
    while (tls_conn_output_pending(g->tls) > 0) {
        uint8_t *sp = buf_space(&g->out, 16384);
        if (sp == NULL)
            return -1;
        buf_commit(&g->out, tls_conn_output_read(g->tls, sp, 16384));
    }
    return 0;
}

/* Decrypts what TLS holds and feeds nghttp2 (after the handshake). */
static int
consume(struct grpcc *g)
{
    uint8_t plain[16384];

    for (;;) {
        ssize_t n = tls_conn_read(g->tls, plain, sizeof(plain));
        if (n == 0)
            return 0;
        if (n == -EPIPE) {
            conn_fail(g, GRPCC_CLOSED, "the server closed the connection");
            return -1;
        }
        if (n < 0) {
            conn_fail(g, GRPCC_TLS, tls_conn_error(g->tls));
            return -1;
        }
        ssize_t r = nghttp2_session_mem_recv(g->h2, plain, (size_t)n);
        if (r < 0) {
            conn_fail(g, GRPCC_PROTO, nghttp2_strerror((int)r));
            return -1;
        }
    }
}

/*
 * One round: writes what can be written, waits up to |wait_ms| (-1:
 * forever) for the socket, reads what came.  |handshaking| feeds TLS
 * only.  Returns 0, or -1 once the connection has failed.
 */
static int
pump(struct grpcc *g, int wait_ms, bool handshaking)
{
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    uint8_t in[65536];
    int rc;

    if (g->fail != GRPCC_OK)
        return -1;
    if (!handshaking && produce(g) != 0)
        return -1;
    if (buf_size(&g->out) > 0)
        p.events |= POLLOUT;
    rc = poll(&p, 1, wait_ms);
    if (rc < 0 && errno != EINTR) {
        conn_fail(g, GRPCC_CLOSED, strerror(errno));
        return -1;
    }
    if (rc <= 0)
        return 0;
    if (p.revents & POLLOUT) {
        ssize_t n = write(g->fd, buf_peek(&g->out), buf_size(&g->out));
        if (n > 0)
            buf_consume(&g->out, (size_t)n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_fail(g, GRPCC_CLOSED, strerror(errno));
            return -1;
        }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(g->fd, in, sizeof(in));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_fail(g, GRPCC_CLOSED, n == 0 ? "connection closed"
                                              : strerror(errno));
            return -1;
        }
        if (n > 0) {
            if (tls_conn_feed(g->tls, in, (size_t)n) != 0) {
                conn_fail(g, GRPCC_NOMEM, "out of memory");
                return -1;
            }
            if (!handshaking && consume(g) != 0)
                return -1;
        }
    }
    return 0;
}

/* Wait time for poll from a deadline (0: none). */
static int
wait_for(int64_t deadline)
{
    int64_t left;

    if (deadline == 0)
        return 1000;
    left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 1000 ? 1000 : (int)left;
}

/* --- connection ------------------------------------------------------------ */

static int
tcp_connect(struct grpcc *g, const struct grpcc_conf *conf, int64_t deadline)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc, last = ECONNREFUSED;

    rc = getaddrinfo(conf->host, conf->port, &hints, &res);
    if (rc != 0) {
        conn_fail(g, GRPCC_RESOLVE, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                                           SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
            errno != EINPROGRESS) {
            last = errno;
            close(fd);
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof(err);
        int64_t left = deadline - now_ms();
        rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc <= 0) {
            last = ETIMEDOUT;
            close(fd);
            continue;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            last = err;
            close(fd);
            continue;
        }
        g->fd = fd;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    conn_fail(g, last == ECONNREFUSED ? GRPCC_REFUSED : GRPCC_UNREACH,
              strerror(last));
    return -1;
}

static int
handshake(struct grpcc *g, int64_t deadline)
{
    for (;;) {
        int rc = tls_conn_handshake(g->tls);

        if (tls_drain(g) != 0) {
            conn_fail(g, GRPCC_NOMEM, "out of memory");
            return -1;
        }
        if (rc == 1)
            break;
        if (rc < 0) {
            conn_fail(g, GRPCC_TLS, tls_conn_error(g->tls));
            /* Let the alert reach the server, best effort. */
            (void)!write(g->fd, buf_peek(&g->out), buf_size(&g->out));
            return -1;
        }
        if (now_ms() >= deadline) {
            conn_fail(g, GRPCC_TIMEOUT, "TLS handshake timed out");
            return -1;
        }
        if (pump(g, wait_for(deadline), true) != 0)
            return -1;
    }
    return 0;
}

static int
session_new(struct grpcc *g)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    int rc;

    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    rc = nghttp2_session_client_new(&g->h2, cbs, g);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    if (nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv,
                                sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(g->h2, NGHTTP2_FLAG_NONE, 0,
                                              CONN_WINDOW) != 0)
        return -1;
    return 0;
}

int
grpcc_open(const struct grpcc_conf *conf, struct grpcc **out,
           struct grpcc_status *st)
{
    struct grpcc *g = calloc(1, sizeof(*g));
    int64_t deadline;
    int err = 0;

    memset(st, 0, sizeof(*st));
    st->code = RPC_UNAVAILABLE;
    if (g == NULL) {
        st->fail = GRPCC_NOMEM;
        return -1;
    }
    g->fd = -1;
    buf_init(&g->out);
    deadline = now_ms() + (conf->connect_timeout_ms > 0
                               ? conf->connect_timeout_ms
                               : 10000);
    if (strchr(conf->host, ':') != NULL)
        snprintf(g->authority, sizeof(g->authority), "[%s]:%s", conf->host,
                 conf->port);
    else
        snprintf(g->authority, sizeof(g->authority), "%s:%s", conf->host,
                 conf->port);
    g->ctx = tls_ctx_new_client(conf->cert, conf->key, conf->ca, &err);
    if (g->ctx == NULL) {
        conn_fail(g, GRPCC_TLS_SETUP, err_str(err));
        goto fail;
    }
    g->tls = tls_conn_new(g->ctx, conf->server_name);
    if (g->tls == NULL) {
        conn_fail(g, GRPCC_NOMEM, "out of memory");
        goto fail;
    }
    if (tcp_connect(g, conf, deadline) != 0 || handshake(g, deadline) != 0)
        goto fail;
    if (session_new(g) != 0) {
        conn_fail(g, GRPCC_NOMEM, "HTTP/2 session set-up failed");
        goto fail;
    }
    *out = g;
    return 0;

fail:
    st->fail = g->fail;
    snprintf(st->message, sizeof(st->message), "%s", g->detail);
    grpcc_free(g);
    return -1;
}

void
grpcc_free(struct grpcc *g)
{
    if (g == NULL)
        return;
    if (g->h2 != NULL && g->fail == GRPCC_OK) {
        nghttp2_session_terminate_session(g->h2, NGHTTP2_NO_ERROR);
        if (produce(g) == 0 && buf_size(&g->out) > 0)
            (void)!write(g->fd, buf_peek(&g->out), buf_size(&g->out));
    }
    nghttp2_session_del(g->h2);
    tls_conn_free(g->tls);
    tls_ctx_unref(g->ctx);
    if (g->fd >= 0)
        close(g->fd);
    buf_free(&g->out);
    free(g);
}

/* --- calls ----------------------------------------------------------------- */

#define NV(n, v)                                                               \
    {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                 \
     NGHTTP2_NV_FLAG_NONE}

struct grpcc_call *
grpcc_call_start(struct grpcc *g, const char *path, int timeout_ms)
{
    struct grpcc_call *c;
    char tmo[32];
    nghttp2_data_provider dp;

    if (g->call != NULL || g->fail != GRPCC_OK)
        return NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return NULL;
    c->g = g;
    buf_init(&c->out);
    buf_init(&c->in);
    snprintf(tmo, sizeof(tmo), "%dm", timeout_ms);
    nghttp2_nv hdrs[] = {
        NV(":method", "POST"),
        NV(":scheme", "https"),
        NV(":path", path),
        NV(":authority", g->authority),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("user-agent", "dossier-cli/1"),
        NV("grpc-timeout", tmo),
    };
    size_t nh = sizeof(hdrs) / sizeof(hdrs[0]) - (timeout_ms > 0 ? 0 : 1);

    dp.source.ptr = c;
    dp.read_callback = data_read;
    g->call = c;
    c->stream_id = nghttp2_submit_request(g->h2, NULL, hdrs, nh, &dp, NULL);
    if (c->stream_id < 0) {
        g->call = NULL;
        free(c);
        return NULL;
    }
    c->deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    return c;
}

static bool
call_expired(struct grpcc_call *c)
{
    return c->deadline != 0 && now_ms() >= c->deadline;
}

static void
call_resume(struct grpcc_call *c)
{
    if (c->deferred && !c->closed) {
        c->deferred = false;
        nghttp2_session_resume_data(c->g->h2, c->stream_id);
    }
}

int
grpcc_call_send(struct grpcc_call *c, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *p;

    if (c->closed)
        return 1;
    if ((p = buf_space(&c->out, RPC_PREFIX_LEN + len)) == NULL) {
        conn_fail(c->g, GRPCC_NOMEM, "out of memory");
        return -1;
    }
    rpc_prefix_encode(p, (uint32_t)len);
    protobuf_c_message_pack(msg, p + RPC_PREFIX_LEN);
    buf_commit(&c->out, RPC_PREFIX_LEN + len);
    call_resume(c);
    while (!c->closed && buf_size(&c->out) > SEND_HIGH_WATER) {
        if (call_expired(c)) {
            conn_fail(c->g, GRPCC_TIMEOUT, "deadline exceeded");
            return -1;
        }
        if (pump(c->g, wait_for(c->deadline), false) != 0)
            return -1;
    }
    return c->closed ? 1 : 0;
}

void
grpcc_call_close_send(struct grpcc_call *c)
{
    c->send_closed = true;
    call_resume(c);
}

/* A whole message in |c->in|: its length, or -1 if not yet (or -2 when
 * the prefix is unacceptable). */
static ssize_t
whole_message(struct grpcc_call *c)
{
    const uint8_t *p = buf_peek(&c->in);
    uint32_t len;

    if (buf_size(&c->in) < RPC_PREFIX_LEN)
        return -1;
    len = be_get32(p + 1);
    if (p[0] != 0 || len > MAX_MESSAGE)
        return -2;
    if (buf_size(&c->in) < RPC_PREFIX_LEN + (size_t)len)
        return -1;
    return len;
}

int
grpcc_call_recv(struct grpcc_call *c, const ProtobufCMessageDescriptor *desc,
                ProtobufCMessage **out, struct buf *raw)
{
    ssize_t len;

    *out = NULL;
    for (;;) {
        len = whole_message(c);
        if (len >= 0 || len == -2)
            break;
        if (c->closed)
            return buf_size(&c->in) == 0 ? 0 : (c->bad_message = true, -1);
        if (call_expired(c)) {
            conn_fail(c->g, GRPCC_TIMEOUT, "deadline exceeded");
            return -1;
        }
        if (pump(c->g, wait_for(c->deadline), false) != 0)
            return -1;
    }
    if (len == -2) {
        c->bad_message = true;
        return -1;
    }
    const uint8_t *body = buf_peek(&c->in) + RPC_PREFIX_LEN;
    if (raw != NULL && buf_append(raw, body, (size_t)len) != 0) {
        conn_fail(c->g, GRPCC_NOMEM, "out of memory");
        return -1;
    }
    *out = protobuf_c_message_unpack(desc, NULL, (size_t)len, body);
    buf_consume(&c->in, RPC_PREFIX_LEN + (size_t)len);
    if (*out == NULL) {
        c->bad_message = true;
        return -1;
    }
    return 1;
}

int
grpcc_call_finish(struct grpcc_call *c, struct grpcc_status *st)
{
    struct grpcc *g = c->g;

    memset(st, 0, sizeof(*st));
    if (!c->closed && !c->bad_message) {
        /* Nothing more to send: the server ends the call. */
        grpcc_call_close_send(c);
        while (!c->closed && g->fail == GRPCC_OK) {
            if (call_expired(c)) {
                conn_fail(g, GRPCC_TIMEOUT, "deadline exceeded");
                break;
            }
            if (pump(g, wait_for(c->deadline), false) != 0)
                break;
        }
    }
    if (c->bad_message) {
        st->code = RPC_INTERNAL;
        st->fail = GRPCC_PROTO;
        snprintf(st->message, sizeof(st->message),
                 "a response message does not parse");
        if (!c->closed)
            nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, c->stream_id,
                                      NGHTTP2_CANCEL);
    } else if (!c->closed) {
        st->fail = g->fail;
        st->code = g->fail == GRPCC_TIMEOUT ? RPC_DEADLINE_EXCEEDED
                                             : RPC_UNAVAILABLE;
        snprintf(st->message, sizeof(st->message), "%s", g->detail);
        if (g->fail == GRPCC_TIMEOUT) {
            /* The connection is still good; only this call is dropped. */
            g->fail = GRPCC_OK;
            nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, c->stream_id,
                                      NGHTTP2_CANCEL);
        }
    } else if (c->have_grpc_status) {
        st->code = c->grpc_status;
        snprintf(st->message, sizeof(st->message), "%s", c->grpc_message);
    } else if (c->http_status != 0 && c->http_status != 200) {
        st->code = c->http_status == 503 ? RPC_UNAVAILABLE : RPC_UNKNOWN;
        snprintf(st->message, sizeof(st->message), "HTTP status %d",
                 c->http_status);
    } else {
        st->code = RPC_UNAVAILABLE;
        st->fail = GRPCC_CLOSED;
        snprintf(st->message, sizeof(st->message),
                 "the call ended without a status (HTTP/2 code %u)",
                 c->rst_code);
    }
    g->call = NULL;
    buf_wipe(&c->out);
    buf_wipe(&c->in);
    free(c);
    return st->code;
}

void
grpcc_call_cancel(struct grpcc_call *c)
{
    struct grpcc *g = c->g;

    if (!c->closed && g->fail == GRPCC_OK) {
        nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, c->stream_id,
                                  NGHTTP2_CANCEL);
        if (produce(g) == 0)
            while (buf_size(&g->out) > 0 && pump(g, 1000, false) == 0)
                ;
    }
    g->call = NULL;
    buf_wipe(&c->out);
    buf_wipe(&c->in);
    free(c);
}

int
grpcc_unary(struct grpcc *g, const char *path, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
            int timeout_ms, struct grpcc_status *st)
{
    struct grpcc_call *c = grpcc_call_start(g, path, timeout_ms);
    ProtobufCMessage *m = NULL, *extra = NULL;
    int rc;

    *resp = NULL;
    if (c == NULL) {
        memset(st, 0, sizeof(*st));
        st->code = RPC_UNAVAILABLE;
        st->fail = g->fail != GRPCC_OK ? g->fail : GRPCC_NOMEM;
        snprintf(st->message, sizeof(st->message), "%s", g->detail);
        return st->code;
    }
    if (grpcc_call_send(c, req) == 0)
        grpcc_call_close_send(c);
    rc = grpcc_call_recv(c, desc, &m, NULL);
    if (rc == 1 && grpcc_call_recv(c, desc, &extra, NULL) == 1)
        protobuf_c_message_free_unpacked(extra, NULL);
    if (grpcc_call_finish(c, st) == RPC_OK && m == NULL) {
        st->code = RPC_INTERNAL;
        snprintf(st->message, sizeof(st->message), "no response message");
    }
    if (st->code != RPC_OK) {
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        return st->code;
    }
    *resp = m;
    return RPC_OK;
}
