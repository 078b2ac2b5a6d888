/*
 * conn.c -- one client connection: socket, TLS, HTTP/2 (see conn.h).
 *
 * The life of a connection:
 *   HANDSHAKE  TLS handshake; the client certificate is verified by
 *              OpenSSL and its URI SAN must name a principal of our trust
 *              domain.  A refusal is logged with its reason and the peer
 *              gets a TLS alert (or a plain HTTP 400 if it spoke HTTP).
 *   OPEN       HTTP/2 frames flow both ways through h2.c.
 *   closing    handles are closing; the struct is freed when both the
 *              socket and the timer have closed.
 * A timer bounds the time from accept to the client's HTTP/2 preface, so
 * half-open handshakes cannot pile up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "conn.h"
#include "err.h"
#include "h2.h"
#include "log.h"
#include "principal.h"
#include "server.h"
#include "tls.h"

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_TLS_BATCH (64 * 1024) /* ciphertext per socket write */

enum conn_state { CONN_HANDSHAKE, CONN_OPEN };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_check_t wake; /* conn_wake: one flush after this loop pass */
    struct server *server;
    struct tls_conn *tls;
    struct h2 *h2;
    struct principal principal;
    enum conn_state state;
    size_t wq_bytes;      /* bytes handed to uv_write, not yet written */
    int handles;          /* open libuv handles; free at zero */
    bool closing;
    bool close_after_write; /* close once the write queue is empty */
    bool reading;
    bool in_h2;           /* inside an nghttp2 call: no re-entry */
    struct conn *prev, *next; /* the server's list */
    bool flushing;
    bool flush_again;
    char peer[64];
};

/* One socket write: the buffer TLS wrote its records into, taken whole. */
struct conn_write {
    uv_write_t req;
    struct conn *conn;
    struct buf data;
};

#define CONN_TRIM_MS 1000 /* idle time before the buffers go back */

static void conn_flush(struct conn *c);
static void conn_timeout(uv_timer_t *t);
static void conn_read_start(struct conn *c);

static void
conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    if (--c->handles == 0) {
        struct conn **head = server__conns(c->server);
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            *head = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        server__conn_gone(c->server);
        free(c);
    }
}

void
conn_close(struct conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (why != NULL) {
        char who[PRINCIPAL_LOG_MAX];

        log_debug("connection closed peer=%s principal=%s reason=\"%s\"",
                  c->peer, principal_log_name(&c->principal, who), why);
    }
    /* Cancel calls first: their handlers may still look at the server. */
    h2_free(c->h2);
    c->h2 = NULL;
    tls_conn_free(c->tls);
    c->tls = NULL;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->wake, conn_handle_closed);
}

static void
conn_write_done(uv_write_t *req, int status)
{
    struct conn_write *w = (struct conn_write *)req;
    struct conn *c = w->conn;

    c->wq_bytes -= buf_size(&w->data);
    buf_free(&w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    if (c->close_after_write && c->wq_bytes == 0) {
        conn_close(c, NULL);
        return;
    }
    if (c->wq_bytes < CONN_WQ_HIGH / 2) {
        conn_flush(c);
        if (!c->closing && !c->reading && c->wq_bytes < CONN_WQ_HIGH / 2)
            conn_read_start(c);
    }
}

/* Writes |*data| to the socket, which owns it from now on (it is freed
 * once written, or here on failure). */
static int
conn_write_buf(struct conn *c, struct buf *data)
{
    struct conn_write *w;
    uv_buf_t b;
    int rc;

    if ((w = malloc(sizeof(*w))) == NULL) {
        buf_free(data);
        return -ENOMEM;
    }
    w->conn = c;
    w->data = *data;
    b = uv_buf_init((char *)buf_peek(&w->data), (unsigned)buf_size(&w->data));
    if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
                       conn_write_done)) != 0) {
        buf_free(&w->data);
        free(w);
        return rc;
    }
    c->wq_bytes += buf_size(&w->data);
    return 0;
}

/*
 * Writes the ciphertext TLS has ready to the socket, without a copy.
 * When no earlier write is queued, it goes straight from TLS's buffer
 * (uv_try_write), which keeps its memory for the next records: most such
 * writes complete at once, and a uv_write that completes still costs a
 * request, a callback on the next loop pass and, in libuv 1.44, an
 * epoll_ctl to take the POLLOUT interest it never needed back.  What the
 * socket does not take (or all of it, when writes are queued, which
 * uv_try_write refuses so that the order holds) goes to one uv_write
 * that takes TLS's buffer.  An error of the socket comes back through
 * that uv_write too.
 */
static int
conn_push(struct conn *c)
{
    struct buf out;
    size_t n = tls_conn_output_pending(c->tls);

    if (n == 0)
        return 0;
    if (c->wq_bytes == 0) {
        uv_buf_t b = uv_buf_init((char *)tls_conn_output_peek(c->tls),
                                 (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

        if (w > 0) {
            tls_conn_output_consume(c->tls, (size_t)w);
            if ((size_t)w == n)
                return 0;
        }
    }
    tls_conn_output_take(c->tls, &out);
    return conn_write_buf(c, &out);
}

/*
 * HTTP/2 output is gathered into records of up to CONN_RECORD bytes of
 * plaintext: nghttp2 hands it out a frame at a time (a 1 KiB answer is
 * four frames: headers, two messages, trailers), and each SSL_write is a
 * record of its own, with its seal and its 22 bytes of overhead.
 */
#define CONN_RECORD 16384 /* TLS's largest record plaintext */

/* Encrypts |n| bytes of HTTP/2 output, writing to the socket once a
 * CONN_TLS_BATCH of ciphertext is waiting. */
static int
conn_seal(struct conn *c, const uint8_t *p, size_t n)
{
    int rc = tls_conn_write(c->tls, p, n);

    if (rc == 0 && tls_conn_output_pending(c->tls) >= CONN_TLS_BATCH)
        rc = conn_push(c);
    return rc;
}

/*
 * Produces HTTP/2 output while the socket's queue has room, encrypts it
 * and writes it.  Re-entrant calls (a handler sending from on_writable)
 * only ask for another round.
 */
static void
conn_flush(struct conn *c)
{
    uint8_t rec[CONN_RECORD];
    size_t nrec = 0;
    const uint8_t *p;
    ssize_t n;
    int rc = 0;

    if (c->closing)
        return;
    if (c->flushing || c->in_h2) {
        c->flush_again = true;
        return;
    }
    c->flushing = true;
    do {
        c->flush_again = false;
        while (c->h2 != NULL && c->wq_bytes + nrec +
                                        tls_conn_output_pending(c->tls) <
                                    CONN_WQ_HIGH) {
            c->in_h2 = true;
            n = h2_produce(c->h2, &p); /* valid until the next produce */
            c->in_h2 = false;
            if (n < 0) {
                rc = (int)n;
                break;
            }
            if (n == 0)
                break;
            if (nrec > 0 && nrec + (size_t)n > sizeof(rec)) {
                if ((rc = conn_seal(c, rec, nrec)) != 0)
                    break;
                nrec = 0;
            }
            if ((size_t)n >= sizeof(rec)) {
                if ((rc = conn_seal(c, p, (size_t)n)) != 0)
                    break;
            } else {
                memcpy(rec + nrec, p, (size_t)n);
                nrec += (size_t)n;
            }
        }
        if (rc == 0 && nrec > 0)
            rc = conn_seal(c, rec, nrec);
        nrec = 0;
        if (rc == 0 && c->h2 != NULL)
            h2_run_writable(c->h2);
    } while (rc == 0 && c->flush_again && !c->closing);
    c->flushing = false;
    if (c->closing)
        return;
    if (rc == 0)
        rc = conn_push(c);
    if (rc != 0) {
        conn_close(c, rc == ERR_PROTO ? h2_error(c->h2) : err_str(rc));
        return;
    }
    if (c->h2 != NULL && !h2_alive(c->h2)) {
        if (c->wq_bytes == 0)
            conn_close(c, h2_error(c->h2));
        else
            c->close_after_write = true;
        return;
    }
    /* A peer that does not read its answers stops being read. */
    if (c->reading && c->wq_bytes >= CONN_WQ_HIGH) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    /* Idle now: in CONN_TRIM_MS, if still idle, the buffers go back. */
    if (c->h2 != NULL && h2_open_calls(c->h2) == 0 &&
        h2_preface_seen(c->h2))
        uv_timer_start(&c->timer, conn_timeout, CONN_TRIM_MS, 0);
}

/* The check phase of the loop pass in which conn_wake was called. */
static void
conn_on_wake(uv_check_t *h)
{
    struct conn *c = h->data;

    uv_check_stop(h);
    conn_flush(c);
}

/*
 * A handler's answer does not go out at once: the flush waits for the
 * check phase of this loop pass, after every callback of the pass (a
 * whole batch of the writer's completions, all the frames of one read),
 * so that the answers of many streams leave in one TLS write and one
 * socket write instead of one each for every message, header block and
 * trailer (make bench measured 5 write(2) calls per 1 KiB fetch before).
 * No latency is added: the check phase ends the same pass.
 */
void
conn_wake(struct conn *c)
{
    if (c->closing)
        return;
    /* From a handler run by the flush itself (h2_run_writable): another
     * round of it.  A check started now would wait for the next pass,
     * and nothing may wake the loop for it: the socket took everything
     * and the peer waits for the rest of an answer. */
    if (c->flushing) {
        c->flush_again = true;
        return;
    }
    if (uv_is_active((uv_handle_t *)&c->wake))
        return;
    uv_check_start(&c->wake, conn_on_wake);
}

/* Sends what TLS has (an alert, an HTTP error) and closes afterwards. */
static void
conn_refuse(struct conn *c, const char *why)
{
    static const char http400[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\n"
        "Content-Length: 88\r\n\r\n"
        "This port speaks gRPC over TLS with a client certificate "
        "(mutual TLS), not plain HTTP.\n";

    log_info("connection refused peer=%s reason=\"%s\"", c->peer, why);
    if (tls_conn_saw_plain_http(c->tls)) {
        struct buf b;

        buf_init(&b);
        if (buf_append(&b, http400, sizeof(http400) - 1) == 0)
            (void)conn_write_buf(c, &b);
    } else if (conn_push(c) != 0) {
        conn_close(c, why);
        return;
    }
    if (c->wq_bytes == 0) {
        conn_close(c, why);
        return;
    }
    c->close_after_write = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* The handshake is done: name the principal and start HTTP/2. */
static int
conn_open(struct conn *c)
{
    const struct server_config *cfg = server_config(c->server);
    int rc;

    c->state = CONN_OPEN;
    if ((c->h2 = h2_new(c, c->server)) == NULL)
        return -ENOMEM;
    rc = principal_from_cert(tls_conn_peer_cert(c->tls), cfg->trust_domain,
                             &c->principal);
    if (rc != 0) {
        static char why[256];
        snprintf(why, sizeof(why),
                 "client certificate has no valid spiffe://%s/<kind>/<id> URI "
                 "SAN",
                 cfg->trust_domain);
        log_info("connection refused peer=%s reason=\"%s\"", c->peer, why);
        h2_refuse(c->h2, why);
        return 0;
    }
    {
        char who[PRINCIPAL_LOG_MAX];

        log_debug("connection open peer=%s principal=%s", c->peer,
                  principal_log_name(&c->principal, who));
    }
    return 0;
}

static void
conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    buf->base = (char *)server__read_buffer(c->server);
    buf->len = CONN_READ_CHUNK;
}

static void
conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    uint8_t *plain = server__plain_buffer(c->server);
    ssize_t n;
    int rc;

    if (c->closing)
        return;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    if (tls_conn_feed(c->tls, buf->base, (size_t)nread) != 0) {
        conn_close(c, "out of memory");
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        rc = tls_conn_handshake(c->tls);
        if (rc < 0) {
            conn_refuse(c, tls_conn_error(c->tls));
            return;
        }
        if (rc == 0) {
            if (conn_push(c) != 0)
                conn_close(c, "write failed");
            return;
        }
        if (conn_open(c) != 0) {
            conn_close(c, "out of memory");
            return;
        }
    }
    /* Decrypt everything buffered and hand it to HTTP/2. */
    for (;;) {
        n = tls_conn_read(c->tls, plain, CONN_READ_CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            conn_close(c, n == -EPIPE ? "peer closed" : tls_conn_error(c->tls));
            return;
        }
        c->in_h2 = true;
        rc = h2_feed(c->h2, plain, (size_t)n);
        c->in_h2 = false;
        if (c->closing)
            return;
        if (rc != 0) {
            /* Let the GOAWAY out if there is one, then close. */
            char who[PRINCIPAL_LOG_MAX];

            log_info("connection error peer=%s principal=%s reason=\"%s\"",
                     c->peer, principal_log_name(&c->principal, who),
                     h2_error(c->h2));
            conn_flush(c);
            if (!c->closing) {
                if (c->wq_bytes == 0)
                    conn_close(c, NULL);
                else
                    c->close_after_write = true;
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading = false;
            }
            return;
        }
    }
    conn_flush(c);
}

static void
conn_read_start(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) == 0)
        c->reading = true;
}

/*
 * The timer: until the preface, the handshake's time bound; after it,
 * armed whenever the connection falls idle, it gives the TLS and HTTP/2
 * buffers back if it still is (an idle connection's memory: ~54 KiB
 * down to ~39).  Not at once: a caller making one call at a time would
 * pay the page faults at every call.
 */
static void
conn_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->closing)
        return;
    if (c->h2 == NULL || !h2_preface_seen(c->h2)) {
        conn_close(c, "handshake timeout");
        return;
    }
    if (h2_open_calls(c->h2) == 0) {
        tls_conn_trim(c->tls);
        h2_trim(c->h2);
    }
}

int
conn_accept(struct server *s, uv_stream_t *listener, struct tls_ctx *ctx)
{
    const struct server_config *cfg = server_config(s);
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    struct conn *c;
    int rc;

    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -ENOMEM;
    c->server = s;
    c->tcp.data = c->timer.data = c;
    if ((rc = uv_tcp_init(server_loop(s), &c->tcp)) != 0) {
        free(c);
        return rc;
    }
    c->handles = 1;
    uv_timer_init(server_loop(s), &c->timer);
    uv_check_init(server_loop(s), &c->wake);
    c->wake.data = c;
    c->handles = 3;
    c->next = *server__conns(s);
    if (c->next != NULL)
        c->next->prev = c;
    *server__conns(s) = c;
    server__conn_added(s);
    if ((rc = uv_accept(listener, (uv_stream_t *)&c->tcp)) != 0) {
        conn_close(c, uv_strerror(rc));
        return rc;
    }
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
    }
    if (server__conn_count(s) > cfg->max_connections) {
        log_warnx("too many connections, refusing peer=%s max=%u", c->peer,
                  cfg->max_connections);
        conn_close(c, "too many connections");
        return 0;
    }
    if ((c->tls = tls_conn_new(ctx, NULL)) == NULL) {
        conn_close(c, "out of memory");
        return -ENOMEM;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, conn_timeout, cfg->handshake_timeout_ms, 0);
    conn_read_start(c);
    return 0;
}

void
conn_drain(struct conn *c)
{
    if (c->closing)
        return;
    if (c->state == CONN_HANDSHAKE || c->h2 == NULL) {
        conn_close(c, "draining");
        return;
    }
    h2_goaway(c->h2);
    conn_flush(c);
}

const struct principal *
conn_principal(const struct conn *c)
{
    return &c->principal;
}

struct conn *
conn_next(const struct conn *c)
{
    return c->next;
}

struct server *
conn_server(const struct conn *c)
{
    return c->server;
}
