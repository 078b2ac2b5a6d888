/*
 * h2.c -- the nghttp2 server session of one connection (see h2.h).
 *
 * Written against nghttp2 1.52 (the pre-1.60 names: nghttp2_data_provider,
 * nghttp2_session_mem_send).  nghttp2 parses frames, keeps HPACK state and
 * flow control; this file maps streams to calls and adds the limits that
 * protect the daemon from abusive peers:
 *  - a bound on CONTINUATION frames per header block, so a peer cannot
 *    keep a header block open forever;
 *  - a token bucket on RST_STREAM frames received (the "rapid reset"
 *    attack opens and cancels streams faster than work can be dropped);
 *  - a bound on header list bytes per request (in call.c).
 * A peer that trips one gets GOAWAY(ENHANCE_YOUR_CALM) and is closed.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#define CALL_TRANSPORT
#include "call.h"
#include "conn.h"
#include "err.h"
#include "h2.h"
#include "log.h"
#include "server.h"

#define H2_MAX_CONTINUATIONS 16
#define H2_RST_BURST 400.0   /* resets a peer may send at once */
#define H2_RST_PER_SEC 200.0 /* and then per second */
#define H2_LASTING_MAX 4      /* lasting mapped blocks tracked (h2_trim) */

struct h2 {
    nghttp2_session *session;
    struct conn *conn;
    struct server *server;
    const char *error;
    struct call **calls; /* open streams' calls */
    size_t ncalls, calls_cap;
    struct call **writable; /* calls waiting for on_writable */
    size_t nwritable, writable_cap;
    unsigned continuations;
    double rst_tokens;
    uint64_t rst_last_ms;
    int goaway_step; /* 0 none, 1 notice sent, 2 final sent */
    bool preface_seen;
    /* nghttp2's allocator for this session (see h2_mem_malloc), and the
     * mapped blocks it made with the session, kept for its whole life
     * (its outgoing frame buffer), which h2_trim gives back. */
    nghttp2_mem mem;
    bool creating;
    void *lasting[H2_LASTING_MAX];
    size_t nlasting;
};

/*
 * nghttp2's allocator.  Each session keeps an outgoing frame buffer of
 * 16 KiB for its whole life; from malloc it lands on pages the heap has
 * already touched, so it cost every idle connection 16 KiB even though
 * the SETTINGS exchange writes only its first page.  Blocks of
 * H2_MEM_MAP_MIN and more are therefore pages mapped for them alone
 * (adjacent mappings merge: no cost in mappings): pages never written stay
 * out of memory, and h2_trim gives back those of the frame buffer once a
 * connection is idle again.  Smaller blocks come from malloc.  Every block
 * is preceded by its size, which free needs.
 */
#define H2_MEM_HDR 16 /* keeps the block 16-aligned, as malloc's are */
#define H2_MEM_MAP_MIN (16u << 10)

static void *
h2_mem_malloc(size_t size, void *user)
{
    struct h2 *h = user;
    uint8_t *p;

    if (size > SIZE_MAX - H2_MEM_HDR)
        return NULL;
    if (size >= H2_MEM_MAP_MIN) {
        p = mmap(NULL, size + H2_MEM_HDR, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        if (h->creating && h->nlasting < H2_LASTING_MAX)
            h->lasting[h->nlasting++] = p;
    } else if ((p = malloc(size + H2_MEM_HDR)) == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    return p + H2_MEM_HDR;
}

static size_t
h2_mem_size(const void *ptr)
{
    size_t size;

    memcpy(&size, (const uint8_t *)ptr - H2_MEM_HDR, sizeof(size));
    return size;
}

static void
h2_mem_free(void *ptr, void *user)
{
    struct h2 *h = user;
    uint8_t *p;
    size_t size;

    if (ptr == NULL)
        return;
    p = (uint8_t *)ptr - H2_MEM_HDR;
    size = h2_mem_size(ptr);
    if (size >= H2_MEM_MAP_MIN) {
        for (size_t i = 0; i < h->nlasting; i++)
            if (h->lasting[i] == p)
                h->lasting[i] = h->lasting[--h->nlasting];
        munmap(p, size + H2_MEM_HDR);
    } else {
        free(p);
    }
}

static void *
h2_mem_calloc(size_t n, size_t size, void *user)
{
    size_t total;
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    total = n * size;
    if ((p = h2_mem_malloc(total, user)) != NULL && total < H2_MEM_MAP_MIN)
        memset(p, 0, total); /* mapped pages are zero already */
    return p;
}

static void *
h2_mem_realloc(void *ptr, size_t size, void *user)
{
    size_t old;
    void *p;

    if (ptr == NULL)
        return h2_mem_malloc(size, user);
    old = h2_mem_size(ptr);
    if ((p = h2_mem_malloc(size, user)) == NULL)
        return NULL;
    memcpy(p, ptr, old < size ? old : size);
    h2_mem_free(ptr, user);
    return p;
}

static int
h2_grow(struct call ***arr, size_t *cap, size_t need)
{
    struct call **p;
    size_t ncap;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    if ((p = realloc(*arr, ncap * sizeof(*p))) == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static void
h2_calls_remove(struct h2 *h, struct call *c)
{
    for (size_t i = 0; i < h->ncalls; i++) {
        if (h->calls[i] == c) {
            h->calls[i] = h->calls[--h->ncalls];
            return;
        }
    }
}

/* Ends the connection for abuse: GOAWAY with ENHANCE_YOUR_CALM. */
static int
h2_calm(struct h2 *h, const char *why)
{
    if (h->error == NULL) {
        char who[PRINCIPAL_LOG_MAX];

        h->error = why;
        log_warnx("peer misbehaves, closing reason=\"%s\" principal=%s", why,
                  principal_log_name(conn_principal(h->conn), who));
        nghttp2_session_terminate_session(h->session,
                                          NGHTTP2_ENHANCE_YOUR_CALM);
    }
    return 0;
}

static int
h2_on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd,
                  void *user_data)
{
    struct h2 *h = user_data;

    if (hd->type == NGHTTP2_HEADERS)
        h->continuations = 0;
    else if (hd->type == NGHTTP2_CONTINUATION &&
             ++h->continuations > H2_MAX_CONTINUATIONS) {
        h2_calm(h, "CONTINUATION flood");
        /* Stop parsing this header block right away. */
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int
h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                    void *user_data)
{
    struct h2 *h = user_data;
    struct call *c;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (h2_grow(&h->calls, &h->calls_cap, h->ncalls + 1) != 0 ||
        (c = call__new(h, frame->hd.stream_id, h->server,
                       conn_principal(h->conn))) == NULL) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                  frame->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
        return 0;
    }
    h->calls[h->ncalls++] = c;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, c);
    return 0;
}

static int
h2_on_header(nghttp2_session *session, const nghttp2_frame *frame,
             const uint8_t *name, size_t namelen, const uint8_t *value,
             size_t valuelen, uint8_t flags, void *user_data)
{
    struct call *c;

    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (c == NULL)
        return 0;
    if (call__header(c, name, namelen, value, valuelen) != 0)
        /* Too many header bytes: reset this stream only. */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static void
h2_count_rst(struct h2 *h)
{
    uint64_t now = uv_now(server_loop(h->server));

    h->rst_tokens += (double)(now - h->rst_last_ms) * H2_RST_PER_SEC / 1000.0;
    if (h->rst_tokens > H2_RST_BURST)
        h->rst_tokens = H2_RST_BURST;
    h->rst_last_ms = now;
    h->rst_tokens -= 1.0;
    if (h->rst_tokens < 0)
        h2_calm(h, "rapid reset flood");
}

static int
h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    struct h2 *h = user_data;
    struct call *c = NULL;

    if (frame->hd.stream_id != 0)
        c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        h->preface_seen = true;
        break;
    case NGHTTP2_RST_STREAM:
        h2_count_rst(h);
        break;
    case NGHTTP2_HEADERS:
        if (c != NULL && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            call__start(c);
        if (c != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            call__end_stream(c);
        break;
    case NGHTTP2_DATA:
        if (c != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            call__end_stream(c);
        break;
    default:
        break;
    }
    return 0;
}

static int
h2_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                 const uint8_t *data, size_t len, void *user_data)
{
    struct call *c = nghttp2_session_get_stream_user_data(session, stream_id);

    /* Flow control is ours (no automatic WINDOW_UPDATE): the call grants
     * the window back as it consumes; data for no call is consumed now. */
    if (c != NULL)
        call__data(c, data, len);
    else
        nghttp2_session_consume(session, stream_id, len);
    return 0;
}

/*
 * Once our response has ended the stream on our side, a client still
 * sending (an oversized or rejected upload) is told to stop with
 * RST_STREAM(NO_ERROR), as RFC 9113 section 8.1 allows.
 */
static int
h2_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    struct call *c;

    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (c != NULL && !call__client_done(c))
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                  frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int
h2_on_stream_close(nghttp2_session *session, int32_t stream_id,
                   uint32_t error_code, void *user_data)
{
    struct h2 *h = user_data;
    struct call *c = nghttp2_session_get_stream_user_data(session, stream_id);

    if (c == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    h2_calls_remove(h, c);
    call__closed(c, error_code);
    return 0;
}

struct h2 *
h2_new(struct conn *conn, struct server *s)
{
    const struct server_config *cfg = server_config(s);
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    struct h2 *h;
    int rc;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };

    if ((h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    h->conn = conn;
    h->server = s;
    h->rst_tokens = H2_RST_BURST;
    h->rst_last_ms = uv_now(server_loop(s));
    if (nghttp2_session_callbacks_new(&cbs) != 0 ||
        nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs,
                                                          h2_on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cbs, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
                                                              h2_on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, h2_on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                           h2_on_stream_close);
    /* Closed streams kept for priority bookkeeping cost memory per reset. */
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    h->mem = (nghttp2_mem){h, h2_mem_malloc, h2_mem_free, h2_mem_calloc,
                           h2_mem_realloc};
    h->creating = true;
    rc = nghttp2_session_server_new3(&h->session, cbs, h, opt, &h->mem);
    h->creating = false;
    if (rc != 0)
        goto fail;
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv,
                                sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)cfg->conn_window) != 0) {
        h2_free(h);
        return NULL;
    }
    return h;

fail:
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    free(h);
    return NULL;
}

void
h2_free(struct h2 *h)
{
    if (h == NULL)
        return;
    /* nghttp2_session_del() does not report stream closes: do it here so
     * every handler hears of its cancellation. */
    while (h->ncalls > 0) {
        struct call *c = h->calls[--h->ncalls];
        call__closed(c, NGHTTP2_CANCEL);
    }
    for (size_t i = 0; i < h->nwritable; i++)
        call_unref(h->writable[i]);
    nghttp2_session_del(h->session);
    free(h->calls);
    free(h->writable);
    free(h);
}

int
h2_feed(struct h2 *h, const uint8_t *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(h->session, data, len);

    if (n < 0) {
        if (h->error == NULL)
            h->error = nghttp2_strerror((int)n);
        return ERR_PROTO;
    }
    return 0;
}

ssize_t
h2_produce(struct h2 *h, const uint8_t **out)
{
    ssize_t n = nghttp2_session_mem_send(h->session, out);

    if (n < 0) {
        if (h->error == NULL)
            h->error = nghttp2_strerror((int)n);
        return ERR_PROTO;
    }
    return n;
}

void
h2__want_writable(struct h2 *h, struct call *c)
{
    if (h2_grow(&h->writable, &h->writable_cap, h->nwritable + 1) != 0)
        return; /* the handler will be woken by its next send instead */
    call_ref(c);
    h->writable[h->nwritable++] = c;
}

void
h2_run_writable(struct h2 *h)
{
    /* Handlers may queue more entries while we run: take the batch. */
    while (h->nwritable > 0) {
        struct call *c = h->writable[0];
        memmove(h->writable, h->writable + 1,
                (h->nwritable - 1) * sizeof(*h->writable));
        h->nwritable--;
        call__writable(c);
        call_unref(c);
    }
}

bool
h2_alive(const struct h2 *h)
{
    if (h->goaway_step == 2 && h->ncalls == 0 &&
        !nghttp2_session_want_write(h->session))
        return false;
    return nghttp2_session_want_read(h->session) ||
           nghttp2_session_want_write(h->session);
}

size_t
h2_open_calls(const struct h2 *h)
{
    return h->ncalls;
}

void
h2_trim(struct h2 *h)
{
    long page = sysconf(_SC_PAGESIZE);

    /* Nothing queued and no frame half sent: the frame buffer holds no
     * byte that is still wanted, and its first page (the block's header
     * and nghttp2's own) is kept. */
    if (h->ncalls != 0 || nghttp2_session_want_write(h->session) || page <= 0)
        return;
    for (size_t i = 0; i < h->nlasting; i++) {
        uint8_t *p = h->lasting[i];
        size_t len = h2_mem_size(p + H2_MEM_HDR) + H2_MEM_HDR;

        if (len > (size_t)page)
            madvise(p + page, len - (size_t)page, MADV_DONTNEED);
    }
}

bool
h2_preface_seen(const struct h2 *h)
{
    return h->preface_seen;
}

void
h2_goaway(struct h2 *h)
{
    if (h->goaway_step == 0) {
        nghttp2_submit_shutdown_notice(h->session);
        h->goaway_step = 1;
    } else if (h->goaway_step == 1) {
        nghttp2_submit_goaway(
            h->session, NGHTTP2_FLAG_NONE,
            nghttp2_session_get_last_proc_stream_id(h->session),
            NGHTTP2_NO_ERROR, (const uint8_t *)"draining", 8);
        h->goaway_step = 2;
    }
}

void
h2_refuse(struct h2 *h, const char *why)
{
    h->error = why;
    nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, 0,
                          NGHTTP2_INADEQUATE_SECURITY, (const uint8_t *)why,
                          strlen(why));
    h->goaway_step = 2;
}

const char *
h2_error(const struct h2 *h)
{
    return h->error != NULL ? h->error : "no error";
}

struct nghttp2_session *
h2__session(struct h2 *h)
{
    return h->session;
}

struct conn *
h2__conn(struct h2 *h)
{
    return h->conn;
}
