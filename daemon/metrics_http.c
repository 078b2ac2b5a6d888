/*
 * metrics_http.c -- GET /metrics over HTTP/1.1 on loopback (see
 * metrics_http.h).
 *
 * One struct per connection holds its TCP handle, its idle timer and the
 * request bytes read so far; the connection is freed when both handles
 * have closed.  The answer is built whole (the exposition is small),
 * written with one uv_write, then the write side is shut down and the
 * connection closed: no keep-alive, so no request framing beyond the end
 * of the first header block is ever needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

struct metrics_http {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct metrics_sources src;
    struct mconn *conns;
    size_t nconns;
    bool stopped;
};

struct mconn {
    struct metrics_http *h;
    struct mconn *next, **pprev;
    uv_tcp_t tcp;
    uv_timer_t idle;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct buf out;
    size_t len;
    int open_handles;
    bool closing, answered;
    char req[METRICS_HTTP_REQUEST_MAX];
};

static void
mconn_handle_closed(uv_handle_t *hd)
{
    struct mconn *c = hd->data;

    if (--c->open_handles > 0)
        return;
    buf_free(&c->out);
    free(c);
}

static void
mconn_close(struct mconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->pprev != NULL) {
        *c->pprev = c->next;
        if (c->next != NULL)
            c->next->pprev = c->pprev;
        c->h->nconns--;
    }
    uv_timer_stop(&c->idle);
    uv_close((uv_handle_t *)&c->tcp, mconn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, mconn_handle_closed);
}

static void
mconn_idle(uv_timer_t *t)
{
    mconn_close(t->data);
}

static void
mconn_shut(uv_shutdown_t *r, int status)
{
    mconn_close(r->data);
}

static void
mconn_written(uv_write_t *w, int status)
{
    struct mconn *c = w->data;

    if (status != 0 || c->closing) {
        mconn_close(c);
        return;
    }
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, mconn_shut) != 0)
        mconn_close(c);
}

/* Queues the whole answer: status line, headers and |body|. */
static void
mconn_answer(struct mconn *c, const char *status, const char *ctype,
             const uint8_t *body, size_t blen, bool head)
{
    char hdr[256];
    int n;
    uv_buf_t b;

    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    n = snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                 status, ctype, blen);
    buf_reset(&c->out);
    if (buf_append(&c->out, hdr, (size_t)n) != 0 ||
        (!head && blen > 0 && buf_append(&c->out, body, blen) != 0)) {
        mconn_close(c);
        return;
    }
    b = uv_buf_init((char *)buf_peek(&c->out), (unsigned)buf_size(&c->out));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, mconn_written) != 0)
        mconn_close(c);
}

static void
mconn_error(struct mconn *c, const char *status, const char *text)
{
    mconn_answer(c, status, "text/plain; charset=utf-8", (const uint8_t *)text,
                 strlen(text), false);
}

/* The request is whole in c->req[0..c->len): answer it. */
static void
mconn_serve(struct mconn *c)
{
    char *sp1, *sp2, *eol;
    size_t mlen, tlen;
    bool head;

    eol = memchr(c->req, '\n', c->len);
    sp1 = memchr(c->req, ' ', c->len);
    if (eol == NULL || sp1 == NULL || sp1 > eol) {
        mconn_error(c, "400 Bad Request", "malformed request line\n");
        return;
    }
    sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (sp2 == NULL || (size_t)(eol - sp2) < 9 ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        mconn_error(c, "400 Bad Request", "malformed request line\n");
        return;
    }
    mlen = (size_t)(sp1 - c->req);
    tlen = (size_t)(sp2 - sp1 - 1);
    head = mlen == 4 && memcmp(c->req, "HEAD", 4) == 0;
    if (!head && !(mlen == 3 && memcmp(c->req, "GET", 3) == 0)) {
        mconn_error(c, "405 Method Not Allowed", "only GET /metrics\n");
        return;
    }
    if (!(tlen >= 8 && memcmp(sp1 + 1, "/metrics", 8) == 0 &&
          (tlen == 8 || sp1[9] == '?'))) {
        mconn_error(c, "404 Not Found", "only GET /metrics\n");
        return;
    }
    {
        struct buf body;

        buf_init(&body);
        metrics_scrape_counted();
        if (metrics_render(&c->h->src, &body) != 0) {
            buf_free(&body);
            mconn_error(c, "500 Internal Server Error", "out of memory\n");
            return;
        }
        mconn_answer(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
                     buf_peek(&body), buf_size(&body), head);
        buf_free(&body);
    }
}

static void
mconn_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    struct mconn *c = hd->data;

    /* A request that fills the buffer without ending is refused (431). */
    b->base = c->req + c->len;
    b->len = sizeof(c->req) - c->len;
}

/* True once the header block has ended ("\r\n\r\n", or "\n\n"). */
static bool
mconn_request_whole(const struct mconn *c)
{
    for (size_t i = 1; i < c->len; i++)
        if (c->req[i] == '\n' &&
            (c->req[i - 1] == '\n' ||
             (i >= 3 && c->req[i - 1] == '\r' && c->req[i - 2] == '\n' &&
              c->req[i - 3] == '\r')))
            return true;
    return false;
}

static void
mconn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct mconn *c = s->data;

    if (c->closing || c->answered)
        return;
    if (n < 0) {
        mconn_close(c);
        return;
    }
    c->len += (size_t)n;
    if (mconn_request_whole(c)) {
        mconn_serve(c);
        return;
    }
    if (c->len == sizeof(c->req))
        mconn_error(c, "431 Request Header Fields Too Large",
                    "request over 8192 bytes\n");
}

static void
metrics_http_accept(uv_stream_t *l, int status)
{
    struct metrics_http *h = l->data;
    struct mconn *c;

    if (status < 0 || h->stopped)
        return;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return;
    c->h = h;
    buf_init(&c->out);
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->open_handles = 2;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
        h->nconns >= METRICS_HTTP_CONNS) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, mconn_handle_closed);
        uv_close((uv_handle_t *)&c->idle, mconn_handle_closed);
        return;
    }
    c->next = h->conns;
    if (c->next != NULL)
        c->next->pprev = &c->next;
    c->pprev = &h->conns;
    h->conns = c;
    h->nconns++;
    uv_timer_start(&c->idle, mconn_idle, METRICS_HTTP_IDLE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, mconn_alloc, mconn_read) != 0)
        mconn_close(c);
}

static void
metrics_http_listener_closed(uv_handle_t *hd)
{
    free(hd->data);
}

/* Loopback only: 127.0.0.0/8 or ::1. */
static bool
loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >>
                24) == 127;
    if (a->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(
            &((const struct sockaddr_in6 *)a)->sin6_addr);
    return false;
}

int
metrics_http_start(uv_loop_t *loop, const char *host, int port,
                   const struct metrics_sources *src,
                   struct metrics_http **out)
{
    struct sockaddr_storage addr;
    struct metrics_http *h;
    int rc;

    *out = NULL;
    memset(&addr, 0, sizeof(addr));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        log_warnx("bad metrics address host=%s", host);
        return ERR_CONFIG;
    }
    if (!loopback(&addr)) {
        log_warnx("metrics address host=%s is not a loopback address: the "
                  "metrics endpoint has no TLS nor authentication, so it "
                  "only listens on 127.0.0.1 or ::1",
                  host);
        return ERR_CONFIG;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return -ENOMEM;
    h->loop = loop;
    h->src = *src;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    if ((rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&h->listener, 64,
                        metrics_http_accept)) != 0) {
        log_warnx("cannot listen for metrics host=%s port=%d: %s", host, port,
                  uv_strerror(rc));
        uv_close((uv_handle_t *)&h->listener, metrics_http_listener_closed);
        return rc;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    *out = h;
    return 0;
}

void
metrics_http_stop(struct metrics_http *h)
{
    if (h == NULL || h->stopped)
        return;
    h->stopped = true;
    while (h->conns != NULL)
        mconn_close(h->conns);
    uv_close((uv_handle_t *)&h->listener, metrics_http_listener_closed);
}
