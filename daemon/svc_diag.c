/*
 * svc_diag.c -- dossier.v1.Diag: Echo, Download, Upload, EchoStream.
 *
 * Each RPC exercises one thing of the transport: a unary answer that may
 * come late (deadlines, cancellation of pending work), a large server
 * stream that must follow the reader's pace (flow control, bounded
 * memory), a large client stream (framing across DATA frames), and a bidi
 * echo (interleaving).  The service keeps no data and logs no payload.
 *
 * Download never holds more than one chunk: it generates the next chunk
 * only when the call's queue is under its low-water mark, and otherwise
 * waits for on_writable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <uv.h>

#include "dossier/v1/diag.pb-c.h"

#include "call.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "svc_diag.h"

/* --- Echo ------------------------------------------------------------ */

/* Sends the EchoResponse for |payload| (|len| bytes). */
static int
diag_echo_send(struct call *c, const uint8_t *payload, size_t len)
{
    Dossier__V1__EchoResponse resp = DOSSIER__V1__ECHO_RESPONSE__INIT;
    const struct principal *p = call_principal(c);

    /* protobuf-c wants mutable pointers; packing only reads them. */
    resp.payload.data = (uint8_t *)payload;
    resp.payload.len = len;
    resp.principal = (char *)(p != NULL ? p->uri : "");
    return call_send_msg(c, &resp.base);
}

/* Answers a unary Echo and finishes the call. */
static void
diag_echo_answer(struct call *c, const uint8_t *payload, size_t len)
{
    int rc = diag_echo_send(c, payload, len);

    if (rc == 0)
        call_finish(c, RPC_OK, NULL);
    else if (rc != -ECANCELED)
        call_fail(c, rc, "echo answer failed: %s", err_str(rc));
}

/*
 * An Echo waiting for its delay.  It holds a reference on the call from
 * the moment the timer starts until the timer handle is closed; it is
 * freed in the close callback, never with the call (the handle must be
 * closed first).
 */
struct echo_wait {
    uv_timer_t timer;
    struct call *c;
    uint8_t *payload;
    size_t len;
    bool closing;
};

static void
echo_wait_closed(uv_handle_t *hd)
{
    struct echo_wait *w = hd->data;

    call_unref(w->c);
    free(w->payload);
    free(w);
}

static void
echo_wait_close(struct echo_wait *w)
{
    if (w->closing)
        return;
    w->closing = true;
    uv_timer_stop(&w->timer);
    call_set_data(w->c, NULL, NULL);
    uv_close((uv_handle_t *)&w->timer, echo_wait_closed);
}

static void
echo_wait_fired(uv_timer_t *t)
{
    struct echo_wait *w = t->data;

    if (!call_is_done(w->c))
        diag_echo_answer(w->c, w->payload, w->len);
    echo_wait_close(w);
}

static void
diag_echo(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__EchoRequest *req;
    struct echo_wait *w = NULL;
    uint32_t delay;
    int rc;

    req = dossier__v1__echo_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "EchoRequest does not parse");
        return;
    }
    delay = req->delay_ms;
    if (delay > DIAG_MAX_DELAY_MS)
        delay = DIAG_MAX_DELAY_MS;
    if (delay == 0) {
        diag_echo_answer(c, req->payload.data, req->payload.len);
        goto out;
    }

    /* The payload is copied: the unpacked request is freed below. */
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (req->payload.len > 0 &&
         (w->payload = malloc(req->payload.len)) == NULL)) {
        free(w);
        call_fail(c, -ENOMEM, "out of memory");
        goto out;
    }
    if (req->payload.len > 0)
        memcpy(w->payload, req->payload.data, req->payload.len);
    w->len = req->payload.len;
    w->c = c;
    if ((rc = uv_timer_init(server_loop(call_server(c)), &w->timer)) != 0) {
        /* A failed init leaves no handle to close. */
        free(w->payload);
        free(w);
        call_fail(c, rc, "cannot start the delay timer");
        goto out;
    }
    w->timer.data = w;
    call_ref(c);
    call_set_data(c, w, NULL);
    uv_timer_start(&w->timer, echo_wait_fired, delay, 0);
out:
    dossier__v1__echo_request__free_unpacked(req, NULL);
}

/* The deadline passed or the peer went away while we waited. */
static void
diag_echo_cancel(struct call *c)
{
    struct echo_wait *w = call_data(c);

    if (w != NULL)
        echo_wait_close(w);
}

/* --- Download -------------------------------------------------------- */

struct download {
    uint64_t total; /* bytes to send in all */
    uint64_t sent;  /* bytes queued so far */
    unsigned start; /* (seed + 0) % 251 */
    uint32_t chunk; /* bytes per message */
    uint8_t *buf;   /* one chunk */
};

static void
download_free(void *data)
{
    struct download *d = data;

    free(d->buf);
    free(d);
}

/*
 * Fills |out| (|n| bytes) with the content at absolute offset |off|: byte
 * i is (seed + i) % 251 in exact arithmetic (seed + i may not fit 64 bits,
 * hence the start value reduced once).  The pattern has period 251, so
 * after one period the buffer is copied onto itself in doubling steps.
 */
static void
download_fill(const struct download *d, uint64_t off, uint8_t *out, size_t n)
{
    unsigned v = (unsigned)((d->start + off % 251) % 251);
    size_t i, k;

    for (i = 0; i < n && i < 251; i++) {
        out[i] = (uint8_t)v;
        if (++v == 251)
            v = 0;
    }
    for (k = i; k < n; k *= 2)
        memcpy(out + k, out, k <= n - k ? k : n - k);
}

/* Queues chunks while the queue is low; asks for on_writable otherwise. */
static void
download_pump(struct call *c)
{
    struct download *d = call_data(c);
    Dossier__V1__DownloadChunk msg = DOSSIER__V1__DOWNLOAD_CHUNK__INIT;
    int rc;

    if (d == NULL || call_is_done(c))
        return;
    while (d->sent < d->total && call_send_queued(c) < call_send_low_water(c)) {
        uint64_t left = d->total - d->sent;
        size_t n = left < d->chunk ? (size_t)left : d->chunk;

        download_fill(d, d->sent, d->buf, n);
        msg.data.data = d->buf;
        msg.data.len = n;
        if ((rc = call_send_msg(c, &msg.base)) != 0) {
            call_want_writable(c, false);
            if (rc != -ECANCELED)
                call_fail(c, rc, "download failed: %s", err_str(rc));
            return;
        }
        d->sent += n;
    }
    if (d->sent == d->total) {
        call_want_writable(c, false);
        call_finish(c, RPC_OK, NULL);
    } else {
        call_want_writable(c, true);
    }
}

static void
diag_download(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__DownloadRequest *req;
    struct download *d = NULL;
    size_t max_chunk;
    uint32_t chunk;

    req = dossier__v1__download_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "DownloadRequest does not parse");
        return;
    }
    if (req->total_bytes > DIAG_MAX_DOWNLOAD) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "total_bytes %llu is over the limit of %llu bytes (1 GiB)",
                    (unsigned long long)req->total_bytes,
                    (unsigned long long)DIAG_MAX_DOWNLOAD);
        goto out;
    }
    chunk = req->chunk_bytes == 0 ? DIAG_DEFAULT_CHUNK : req->chunk_bytes;
    if (chunk > DIAG_MAX_CHUNK)
        chunk = DIAG_MAX_CHUNK;
    /* Keep each message under the configured maximum (a chunk message is
     * its data plus at most 6 bytes of tag and length). */
    max_chunk = server_config(call_server(c))->max_message;
    max_chunk = max_chunk > 16 ? max_chunk - 16 : 1;
    if (chunk > max_chunk)
        chunk = (uint32_t)max_chunk;
    if (req->total_bytes < chunk)
        chunk = (uint32_t)(req->total_bytes ? req->total_bytes : 1);

    if ((d = calloc(1, sizeof(*d))) == NULL ||
        (d->buf = malloc(chunk)) == NULL) {
        free(d);
        call_fail(c, -ENOMEM, "out of memory");
        goto out;
    }
    d->total = req->total_bytes;
    d->chunk = chunk;
    d->start = (unsigned)(req->seed % 251);
    call_set_data(c, d, download_free);
    download_pump(c);
out:
    dossier__v1__download_request__free_unpacked(req, NULL);
}

static void
diag_download_cancel(struct call *c)
{
    call_want_writable(c, false);
}

/* --- Upload ---------------------------------------------------------- */

struct upload {
    EVP_MD_CTX *md;
    uint64_t bytes;
    uint64_t messages;
};

static void
upload_free(void *data)
{
    struct upload *u = data;

    EVP_MD_CTX_free(u->md);
    free(u);
}

/* The call's upload state, created with the first message. */
static struct upload *
upload_get(struct call *c)
{
    struct upload *u = call_data(c);

    if (u != NULL)
        return u;
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return NULL;
    if ((u->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(u->md);
        free(u);
        return NULL;
    }
    call_set_data(c, u, upload_free);
    return u;
}

static void
diag_upload(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__UploadChunk *req;
    struct upload *u;

    if (call_is_done(c))
        return;
    if ((u = upload_get(c)) == NULL) {
        call_fail(c, -ENOMEM, "cannot start the digest");
        return;
    }
    req = dossier__v1__upload_chunk__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "UploadChunk does not parse");
        return;
    }
    if (req->data.len > 0 &&
        EVP_DigestUpdate(u->md, req->data.data, req->data.len) != 1) {
        call_finish(c, RPC_INTERNAL, "digest failed");
        goto out;
    }
    u->bytes += req->data.len;
    u->messages++;
out:
    dossier__v1__upload_chunk__free_unpacked(req, NULL);
}

static void
diag_upload_done(struct call *c)
{
    Dossier__V1__UploadSummary sum = DOSSIER__V1__UPLOAD_SUMMARY__INIT;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    struct upload *u;
    int rc;

    if (call_is_done(c))
        return;
    /* No message at all is a valid upload: zero bytes, SHA-256 of "". */
    if ((u = upload_get(c)) == NULL) {
        call_fail(c, -ENOMEM, "cannot start the digest");
        return;
    }
    if (EVP_DigestFinal_ex(u->md, digest, &dlen) != 1) {
        call_finish(c, RPC_INTERNAL, "digest failed");
        return;
    }
    sum.total_bytes = u->bytes;
    sum.messages = u->messages;
    sum.sha256.data = digest;
    sum.sha256.len = dlen;
    rc = call_send_msg(c, &sum.base);
    if (rc == 0)
        call_finish(c, RPC_OK, NULL);
    else if (rc != -ECANCELED)
        call_fail(c, rc, "upload answer failed: %s", err_str(rc));
}

/* --- EchoStream ------------------------------------------------------ */

static void
diag_echo_stream(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__EchoRequest *req;
    int rc;

    if (call_is_done(c))
        return;
    /* The transport reads requests as fast as they come; a client that
     * never reads its answers must not make us queue without end. */
    if (call_send_queued(c) > DIAG_ECHO_QUEUE_MAX) {
        call_finish(c, RPC_RESOURCE_EXHAUSTED,
                    "more than %u bytes of answers unread; read them",
                    DIAG_ECHO_QUEUE_MAX);
        return;
    }
    req = dossier__v1__echo_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "EchoRequest does not parse");
        return;
    }
    rc = diag_echo_send(c, req->payload.data, req->payload.len);
    if (rc != 0 && rc != -ECANCELED)
        call_fail(c, rc, "echo answer failed: %s", err_str(rc));
    dossier__v1__echo_request__free_unpacked(req, NULL);
}

static void
diag_echo_stream_done(struct call *c)
{
    if (!call_is_done(c))
        call_finish(c, RPC_OK, NULL);
}

/* --- registration ---------------------------------------------------- */

static const struct method diag_methods[] = {
    {
        .path = "/dossier.v1.Diag/Echo",
        .kind = CALL_UNARY,
        .audit = CALL_AUDIT_NONE, /* no dossier data */
        .on_message = diag_echo,
        .on_cancel = diag_echo_cancel,
    },
    {
        .path = "/dossier.v1.Diag/Download",
        .kind = CALL_SERVER_STREAM,
        .audit = CALL_AUDIT_NONE, /* no dossier data */
        .on_message = diag_download,
        .on_writable = download_pump,
        .on_cancel = diag_download_cancel,
    },
    {
        .path = "/dossier.v1.Diag/Upload",
        .kind = CALL_CLIENT_STREAM,
        .audit = CALL_AUDIT_NONE, /* no dossier data */
        .on_message = diag_upload,
        .on_half_close = diag_upload_done,
    },
    {
        .path = "/dossier.v1.Diag/EchoStream",
        .kind = CALL_BIDI,
        .audit = CALL_AUDIT_NONE, /* no dossier data */
        .on_message = diag_echo_stream,
        .on_half_close = diag_echo_stream_done,
    },
};

int
svc_diag_register(struct server *s)
{
    int rc;

    if (!server_config(s)->diag)
        return 0;
    for (size_t i = 0; i < sizeof(diag_methods) / sizeof(diag_methods[0]); i++)
        if ((rc = server_register(s, &diag_methods[i])) != 0)
            return rc;
    return 0;
}
