/*
 * lg_conn.c -- one connection of dossier-loadgen: a non-blocking socket,
 * OpenSSL reading and writing it directly, and an nghttp2 client session.
 *
 * Output goes through one buffer: nghttp2_session_mem_send fills it, and
 * SSL_write (partial writes allowed) drains it; while a write waits for
 * the socket, nothing is appended, so a retried SSL_write always gets the
 * same arguments, as OpenSSL requires.  Knows nothing of pacing or of the
 * report: stream ends go to the worker (loadgen.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "loadgen.h"

#define OUT_HIGH (64 * 1024) /* stop asking nghttp2 for more past this */

static void
conn_set_events(struct lg_conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};

    if (ev == c->events)
        return;
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

void
lg_conn_mark_dirty(struct lg_conn *c)
{
    if (!c->dirty && c->state != LG_CLOSED) {
        c->dirty = true;
        c->w->dirty[c->w->ndirty++] = c;
    }
}

void
lg_conn_close(struct lg_conn *c, const char *why)
{
    struct lg_worker *w = c->w;

    if (c->state == LG_CLOSED)
        return;
    if (why != NULL)
        lg_worker_error(w, "connection closed: %s", why);
    /* Closed first, so that a stream end reported below cannot start a
     * new request on this connection. */
    c->state = LG_CLOSED;
    for (int i = 0; c->slots != NULL && i < c->max_streams; i++) {
        if (c->slots[i].used) {
            c->slots[i].used = false;
            c->active--;
            lg_worker_stream_done(w, &c->slots[i], NGHTTP2_CONNECT_ERROR);
        }
    }
    if (c->session != NULL) {
        nghttp2_session_del(c->session);
        c->session = NULL;
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->out);
    c->out = NULL;
    c->outlen = c->outoff = c->outcap = 0;
    lg_worker_conn_closed(w, c);
}

/* --- nghttp2 callbacks ---------------------------------------------------- */

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
          const uint8_t *name, size_t namelen, const uint8_t *value,
          size_t valuelen, uint8_t flags, void *user_data)
{
    struct lg_conn *c = user_data;
    struct lg_stream *s;

    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        s->http = atoi((const char *)value);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        s->grpc = atoi((const char *)value);
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        /* Kept for the report of a failed call (grpc-status may come
         * before or after it). */
        snprintf(c->w->grpc_message, sizeof(c->w->grpc_message), "%.*s",
                 (int)(valuelen > 200 ? 200 : valuelen), (const char *)value);
    }
    return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
              const uint8_t *data, size_t len, void *user_data)
{
    struct lg_stream *s =
        nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL)
        return 0;
    s->rx += len;
    if (s->conn->w->save != NULL) {
        if (s->keeplen + len > s->keepcap) {
            size_t cap = s->keepcap ? s->keepcap * 2 : 4096;
            uint8_t *nb;
            while (cap < s->keeplen + len)
                cap *= 2;
            if ((nb = realloc(s->keep, cap)) == NULL)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            s->keep = nb;
            s->keepcap = cap;
        }
        memcpy(s->keep + s->keeplen, data, len);
        s->keeplen += len;
    }
    return 0;
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
              void *user_data)
{
    struct lg_conn *c = user_data;
    uint32_t lim;

    if (frame->hd.type == NGHTTP2_SETTINGS &&
        !(frame->hd.flags & NGHTTP2_FLAG_ACK) && c->state == LG_H2) {
        lim = nghttp2_session_get_remote_settings(
            session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        if ((int64_t)lim < c->max_streams)
            c->max_streams = (int)lim;
        c->state = LG_READY;
        c->was_ready = true;
        lg_worker_conn_ready(c->w, c);
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
        lg_worker_error(c->w, "GOAWAY from the server (error %u)",
                        frame->goaway.error_code);
    }
    return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id,
                uint32_t error_code, void *user_data)
{
    struct lg_conn *c = user_data;
    struct lg_stream *s =
        nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL || !s->used)
        return 0;
    s->used = false;
    c->active--;
    lg_worker_stream_done(c->w, s, error_code);
    return 0;
}

static ssize_t
body_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
          size_t length, uint32_t *data_flags, nghttp2_data_source *source,
          void *user_data)
{
    struct lg_stream *s = source->ptr;
    size_t left = s->body->len - s->body_off;
    size_t n = left < length ? left : length;

    memcpy(buf, s->body->data + s->body_off, n);
    s->body_off += n;
    if (s->body_off == s->body->len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static nghttp2_session_callbacks *
callbacks(void)
{
    static _Thread_local nghttp2_session_callbacks *cb;

    if (cb == NULL && nghttp2_session_callbacks_new(&cb) == 0) {
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
                                                             on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, on_stream_close);
    }
    return cb;
}

/* --- TLS and HTTP/2 set-up ------------------------------------------------ */

static int
conn_h2_begin(struct lg_conn *c)
{
    const struct lg_config *cfg = c->w->cfg;
    const unsigned char *alpn = NULL;
    unsigned alpnlen = 0;
    int32_t win = (int32_t)((1u << cfg->window_bits) - 1);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)win},
    };

    SSL_get0_alpn_selected(c->ssl, &alpn, &alpnlen);
    if (alpnlen != 2 || memcmp(alpn, "h2", 2) != 0) {
        lg_conn_close(c, "the server did not select ALPN h2");
        return -1;
    }
    if (nghttp2_session_client_new(&c->session, callbacks(), c) != 0 ||
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv,
                                sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE,
                                              0, win) != 0) {
        lg_conn_close(c, "cannot start the HTTP/2 session");
        return -1;
    }
    c->state = LG_H2;
    return lg_conn_flush(c);
}

static int
conn_handshake(struct lg_conn *c)
{
    int r = SSL_connect(c->ssl);
    char msg[256];

    if (r == 1) {
        conn_set_events(c, EPOLLIN);
        return conn_h2_begin(c);
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        conn_set_events(c, EPOLLIN);
        return 0;
    case SSL_ERROR_WANT_WRITE:
        conn_set_events(c, EPOLLIN | EPOLLOUT);
        return 0;
    default:
        snprintf(msg, sizeof(msg), "TLS handshake failed: %s",
                 ERR_reason_error_string(ERR_get_error())
                     ? ERR_reason_error_string(ERR_peek_last_error())
                     : "connection closed");
        ERR_clear_error();
        lg_conn_close(c, msg);
        return -1;
    }
}

int
lg_conn_start(struct lg_worker *w, struct lg_conn *c)
{
    const struct lg_config *cfg = w->cfg;
    struct sockaddr_in sa;
    struct epoll_event e;
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->w = w;
    c->fd = -1;
    c->max_streams = cfg->streams;
    c->state = LG_CONNECTING;
    c->slots = calloc((size_t)cfg->streams, sizeof(*c->slots));
    if (c->slots == NULL)
        goto fail;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->host, &sa.sin_addr) != 1)
        goto fail;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto fail;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
        errno != EINPROGRESS)
        goto fail;
    c->ssl = SSL_new(cfg->ssl_ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_set_tlsext_host_name(c->ssl, cfg->sni) != 1 ||
        SSL_set1_host(c->ssl, cfg->sni) != 1)
        goto fail;
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_connect_state(c->ssl);
    e.events = EPOLLOUT;
    e.data.ptr = c;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e) != 0)
        goto fail;
    c->events = EPOLLOUT;
    return 0;
fail:
    lg_worker_error(w, "cannot open a connection: %s", strerror(errno));
    lg_conn_close(c, NULL);
    return -1;
}

/* --- I/O ------------------------------------------------------------------ */

int
lg_conn_flush(struct lg_conn *c)
{
    const uint8_t *p;
    ssize_t n;
    int r;

    while (c->state == LG_H2 || c->state == LG_READY) {
        if (c->outoff < c->outlen) {
            ERR_clear_error();
            r = SSL_write(c->ssl, c->out + c->outoff,
                          (int)(c->outlen - c->outoff));
            if (r > 0) {
                c->outoff += (size_t)r;
                continue;
            }
            switch (SSL_get_error(c->ssl, r)) {
            case SSL_ERROR_WANT_WRITE:
                conn_set_events(c, EPOLLIN | EPOLLOUT);
                return 0;
            case SSL_ERROR_WANT_READ:
                return 0;
            default:
                lg_conn_close(c, "TLS write failed");
                return -1;
            }
        }
        c->outoff = c->outlen = 0;
        while (c->outlen < OUT_HIGH) {
            n = nghttp2_session_mem_send(c->session, &p);
            if (n < 0) {
                lg_conn_close(c, nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0)
                break;
            if (c->outlen + (size_t)n > c->outcap) {
                size_t cap = c->outcap ? c->outcap : 16384;
                uint8_t *nb;
                while (cap < c->outlen + (size_t)n)
                    cap *= 2;
                if ((nb = realloc(c->out, cap)) == NULL) {
                    lg_conn_close(c, "out of memory");
                    return -1;
                }
                c->out = nb;
                c->outcap = cap;
            }
            memcpy(c->out + c->outlen, p, (size_t)n);
            c->outlen += (size_t)n;
        }
        if (c->outlen == 0) {
            if (!c->read_wants_write)
                conn_set_events(c, EPOLLIN);
            return 0;
        }
    }
    return 0;
}

static int
conn_read(struct lg_conn *c)
{
    struct lg_worker *w = c->w;
    int r;

    c->read_wants_write = false;
    for (;;) {
        ERR_clear_error();
        r = SSL_read(c->ssl, w->rbuf, sizeof(w->rbuf));
        if (r > 0) {
            ssize_t m = nghttp2_session_mem_recv(c->session, w->rbuf,
                                                 (size_t)r);
            if (m < 0) {
                lg_conn_close(c, nghttp2_strerror((int)m));
                return -1;
            }
            if (c->state == LG_CLOSED)
                return -1;
            continue;
        }
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            return 0;
        case SSL_ERROR_WANT_WRITE:
            c->read_wants_write = true;
            conn_set_events(c, EPOLLIN | EPOLLOUT);
            return 0;
        case SSL_ERROR_ZERO_RETURN:
            lg_conn_close(c, "closed by the server");
            return -1;
        default:
            lg_conn_close(c, "TLS read failed or connection reset");
            return -1;
        }
    }
}

void
lg_conn_on_event(struct lg_conn *c, uint32_t events)
{
    int err = 0;
    socklen_t len = sizeof(err);

    switch (c->state) {
    case LG_CONNECTING:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
            err != 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "connect: %s", strerror(err));
            lg_conn_close(c, msg);
            return;
        }
        c->state = LG_HANDSHAKE;
        /* fall through */
    case LG_HANDSHAKE:
        conn_handshake(c);
        return;
    case LG_H2:
    case LG_READY:
        if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->read_wants_write)
            if (conn_read(c) != 0)
                return;
        lg_conn_flush(c);
        return;
    case LG_CLOSED:
        return;
    }
}

bool
lg_conn_submit(struct lg_conn *c, uint64_t t0)
{
    struct lg_worker *w = c->w;
    const struct lg_config *cfg = w->cfg;
    struct lg_stream *s = NULL;
    nghttp2_data_provider prd;
    int32_t id;
#define NV(n, v)                                                              \
    {                                                                         \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),             \
            NGHTTP2_NV_FLAG_NO_COPY_NAME                                      \
    }
    nghttp2_nv grpc_nv[] = {
        NV(":method", "POST"),
        NV(":scheme", "https"),
        NV(":path", cfg->path),
        NV(":authority", cfg->authority),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("user-agent", "dossier-loadgen"),
    };
    nghttp2_nv get_nv[] = {
        NV(":method", "GET"),
        NV(":scheme", "https"),
        NV(":path", cfg->path),
        NV(":authority", cfg->authority),
        NV("user-agent", "dossier-loadgen"),
    };
#undef NV

    if (c->state != LG_READY || c->active >= c->max_streams)
        return false;
    for (int i = 0; i < c->max_streams; i++) {
        if (!c->slots[i].used) {
            s = &c->slots[i];
            break;
        }
    }
    if (s == NULL)
        return false;
    free(s->keep);
    memset(s, 0, sizeof(*s));
    s->conn = c;
    s->grpc = -1;
    s->t0 = t0;
    s->sent = cfg->rate > 0 ? lg_now_ns() : t0;
    if (cfg->grpc) {
        s->body = &cfg->bodies[w->next_body++ % cfg->nbodies];
        prd.source.ptr = s;
        prd.read_callback = body_read;
        id = nghttp2_submit_request(c->session, NULL, grpc_nv,
                                    sizeof(grpc_nv) / sizeof(grpc_nv[0]),
                                    &prd, s);
    } else {
        id = nghttp2_submit_request(c->session, NULL, get_nv,
                                    sizeof(get_nv) / sizeof(get_nv[0]), NULL,
                                    s);
    }
    if (id < 0) {
        lg_worker_error(w, "submit: %s", nghttp2_strerror(id));
        return false;
    }
    s->id = id;
    s->used = true;
    c->active++;
    w->n.started++;
    lg_conn_mark_dirty(c);
    return true;
}
