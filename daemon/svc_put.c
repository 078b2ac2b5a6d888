/*
 * svc_put.c -- Documents.Put: a deposit as a client stream.
 *
 * The first message carries the metadata, checked in full before anything
 * is stored; each following message carries content, handed at once to
 * vault_upload_write().  Memory stays bounded whatever the size: while
 * more than SVC_PUT_PENDING_MAX bytes wait for the writer the call stops
 * granting the client flow-control window (call_pause_recv), and the
 * completion of a write resumes it.  Content beyond the declared size is
 * refused as soon as it arrives.
 *
 * Completions of writes need no reference on the call: the vault calls
 * them only until vault_upload_free(), which runs before the deposit
 * state (the call's data) is freed.  They may come several times per
 * vault_upload_write() (once per chunk handed to the writer) or at once
 * from inside it, so they only act on state (pause, failure), never
 * count.  On half-close the deposit is finished at once: the writer runs
 * operations in order, so the finish sees every chunk queued before it.
 * The finish holds a reference on the call until its completion, and the
 * deposit is never freed while it is in flight (freeing would queue the
 * removal of chunks behind a commit that uses them).  A deposit that ends
 * any other way (error, cancel, peer gone) is freed with
 * vault_upload_free(), which removes the chunks already written: nothing
 * half-deposited ever shows.
 *
 * The flow-control window is always given back before the call finishes,
 * so that bytes held while paused are not lost to the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "dossier/v1/documents.pb-c.h"

#include "call.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "svc.h"
#include "svc_documents.h"
#include "svc_put.h"

#define FILE_NAME_MAX 255
#define MEDIA_TYPE_MAX 127
#define SHA256_LEN 32

struct put {
    struct call *c;
    struct vault_person p;  /* wiped in put_free */
    struct vault_upload *u; /* NULL until the metadata is accepted */
    struct vault_id id;
    uint64_t declared; /* size announced in the metadata */
    uint64_t received; /* content bytes accepted so far */
    const char *why;   /* vault_upload_finish's reason */
    bool finishing;    /* the finish is in flight or done */
    bool paused;
};

static void
put_free(void *data)
{
    struct put *w = data;

    vault_upload_free(w->u);
    vault_person_close(&w->p);
    free(w);
}

/* Gives the window back, so that a finished call leaves the connection's
 * flow control as it found it. */
static void
put_unpause(struct put *w)
{
    if (w != NULL && w->paused) {
        w->paused = false;
        call_pause_recv(w->c, false);
    }
}

static void
put_invalid(struct call *c, struct put *w, const char *msg)
{
    put_unpause(w);
    call_finish(c, RPC_INVALID_ARGUMENT, "%s", msg);
}

static void
put_fail(struct put *w, int rc, const char *what)
{
    put_unpause(w);
    svc__fail(w->c, rc, what);
}

/* True if |s| is a file name we accept: 1..255 bytes, no '/', no control
 * character (and no NUL: protobuf-c strings stop there). */
static bool
file_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > FILE_NAME_MAX || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/*
 * Checks the metadata of a deposit.  On error finishes the call and
 * returns it.  Needs no storage: everything here is about the request.
 */
static int
put_meta_check(struct call *c, const Dossier__V1__DocumentMeta *m)
{
    const struct svc_ctx *ctx = svc__ctx();

    if (!catalog_code_valid(m->type)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "type: a catalogue code is required");
        return ERR_INVALID;
    }
    if (catalog_find(ctx->catalog, m->type) == NULL) {
        /* Type codes are not personal: the caller's code may be shown. */
        call_finish(c, RPC_INVALID_ARGUMENT, "type: unknown document type %s",
                    m->type);
        return ERR_INVALID;
    }
    if (svc__check_date(c, "issued", m->issued, true) != 0 ||
        svc__check_date(c, "valid_until", m->valid_until, false) != 0)
        return ERR_INVALID;
    if (!svc__date_unset(m->valid_until) &&
        svc__date_cmp(m->valid_until, m->issued) < 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "valid_until is before issued");
        return ERR_INVALID;
    }
    if (!file_name_ok(m->file_name)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "file_name: 1 to %d bytes, without '/' or control "
                    "characters",
                    FILE_NAME_MAX);
        return ERR_INVALID;
    }
    if (!svc__str_ok(m->media_type, MEDIA_TYPE_MAX, true)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "media_type: required, at most %d bytes", MEDIA_TYPE_MAX);
        return ERR_INVALID;
    }
    if (m->size < 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "size: must not be negative");
        return ERR_INVALID;
    }
    if ((uint64_t)m->size > ctx->max_document) {
        call_finish(c, RPC_RESOURCE_EXHAUSTED,
                    "size: over the limit of %llu bytes",
                    (unsigned long long)ctx->max_document);
        return ERR_TOOBIG;
    }
    if (m->sha256.len != 0 && m->sha256.len != SHA256_LEN) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "sha256: %d bytes when given, not %zu", SHA256_LEN,
                    m->sha256.len);
        return ERR_INVALID;
    }
    if (!svc__str_ok(m->supersedes, VAULT_ID_STR, false)) {
        call_finish(c, RPC_INVALID_ARGUMENT, "supersedes: not a document id");
        return ERR_INVALID;
    }
    return 0;
}

/* The first message: checks the metadata and begins the deposit. */
static void
put_begin(struct call *c, const Dossier__V1__DocumentMeta *m)
{
    struct policy_request r = {0};
    struct policy_object obj = {0};
    struct policy_decision d = {0};
    struct put *w;
    int rc;

    if ((w = calloc(1, sizeof(*w))) == NULL) {
        svc__fail(c, -ENOMEM, "starting the deposit");
        return;
    }
    w->c = c;
    call_set_data(c, w, put_free);
    if (svc__dossier(c, m->dossier_id, POLICY_DOC_PUT, &w->id) != 0 ||
        put_meta_check(c, m) != 0 || svc__open(c, &w->id, &w->p) != 0)
        return;
    /* A delegate deposits under a mandate for "deposit" and this type. */
    obj.type = m->type;
    r.act = POLICY_DOC_PUT;
    r.person = &w->p;
    r.objects = &obj;
    r.n_objects = 1;
    rc = svc__decide_now(c, &r, &d);
    if (rc == 0 && d.mandate_id[0] != '\0')
        log_info("deposit under %s by=%s chain=\"%s\"", d.basis,
                 call_principal(c)->uri, d.chain);
    policy_decision_clear(&d);
    if (rc != 0)
        return;
    w->declared = (uint64_t)m->size;
    rc = vault_upload_begin(svc__ctx()->vault, &w->p, m, call_principal(c)->uri,
                            &w->u);
    switch (rc) {
    case 0:
        break;
    case ERR_NOTFOUND:
        call_finish(c, RPC_NOT_FOUND,
                    "supersedes: no such document in this dossier");
        break;
    case ERR_INVALID:
        call_finish(c, RPC_INVALID_ARGUMENT, "supersedes: not a document id");
        break;
    default:
        svc__fail(c, rc, "starting the deposit");
        break;
    }
}

/* Some content is written (or failed): any number of times per
 * vault_upload_write(), possibly from inside it. */
static void
put_wrote(void *arg, int status)
{
    struct put *w = arg;

    if (call_is_done(w->c))
        put_unpause(w);
    else if (status != 0)
        put_fail(w, status, "writing the document");
    else if (w->paused && vault_upload_pending(w->u) <= SVC_PUT_PENDING_MAX)
        put_unpause(w);
}

/* A content message: bounded, then handed to the writer. */
static void
put_chunk(struct call *c, struct put *w, const ProtobufCBinaryData *data)
{
    int rc;

    if (data->len == 0)
        return;
    if (data->len > w->declared - w->received) {
        put_invalid(c, w, "content is longer than the declared size");
        return;
    }
    rc = vault_upload_write(w->u, data->data, data->len, put_wrote, w);
    if (rc != 0) {
        if (rc == ERR_TOOBIG) {
            put_unpause(w);
            call_finish(c, RPC_RESOURCE_EXHAUSTED,
                        "size: over the limit of %llu bytes",
                        (unsigned long long)svc__ctx()->max_document);
        } else {
            put_fail(w, rc, "writing the document");
        }
        return;
    }
    w->received += data->len;
    if (call_is_done(c))
        return; /* a completion run from inside the write failed it */
    if (!w->paused && vault_upload_pending(w->u) > SVC_PUT_PENDING_MAX) {
        log_debug("deposit paused pending=%zu received=%llu",
                  vault_upload_pending(w->u), (unsigned long long)w->received);
        w->paused = true;
        call_pause_recv(c, true);
    }
}

void
svc__put_message(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__PutDocumentRequest *req;
    struct put *w = call_data(c);

    if (call_is_done(c))
        return;
    req = dossier__v1__put_document_request__unpack(NULL, len, msg);
    if (req == NULL) {
        put_invalid(c, w, "PutDocumentRequest does not parse");
        return;
    }
    switch (req->part_case) {
    case DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_META:
        if (w != NULL)
            put_invalid(c, w, "meta: only in the first message");
        else
            put_begin(c, req->meta);
        break;
    case DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_CHUNK:
        if (w == NULL || w->u == NULL)
            put_invalid(c, w, "the first message must carry meta");
        else
            put_chunk(c, w, &req->chunk);
        break;
    default:
        put_invalid(c, w,
                    w == NULL ? "the first message must carry meta"
                              : "a message carries neither meta nor "
                                "chunk");
        break;
    }
    dossier__v1__put_document_request__free_unpacked(req, NULL);
}

/* The deposit is durable (or failed). */
static void
put_finished(void *arg, int status)
{
    struct put *w = arg;
    struct call *c = w->c;
    Dossier__V1__PutDocumentResponse resp =
        DOSSIER__V1__PUT_DOCUMENT_RESPONSE__INIT;
    const Dossier__V1__DocumentMeta *m;
    char id[VAULT_ID_STR];

    put_unpause(w);
    if (status == ERR_INVALID) {
        call_finish(c, RPC_INVALID_ARGUMENT, "%s",
                    w->why != NULL ? w->why : "content does not match meta");
    } else if (status != 0) {
        svc__fail(c, status, "storing the document");
    } else {
        m = vault_upload_meta(w->u);
        vault_id_format(&w->id, id);
        log_info("deposited dossier=%s document=%s version=%d type=%s "
                 "size=%lld by=%s",
                 id, m->document_id, m->version, m->type, (long long)m->size,
                 call_principal(c)->uri);
        call_audit_set(c, CALL_AUDIT_OBJECT, m->document_id);
        resp.meta = (Dossier__V1__DocumentMeta *)m;
        svc__answer(c, &resp.base);
    }
    call_unref(c);
}

/* All content is written: checks size and digest and commits. */
static void
put_finish(struct put *w)
{
    struct call *c = w->c;
    int rc;

    w->finishing = true;
    call_ref(c);
    w->why = NULL;
    rc = vault_upload_finish(w->u, &w->why, put_finished, w);
    if (rc == 0)
        return;
    /* Nothing in flight: the deposit may be freed with the call. */
    w->finishing = false;
    put_unpause(w);
    if (rc == ERR_INVALID)
        call_finish(c, RPC_INVALID_ARGUMENT, "%s",
                    w->why != NULL ? w->why : "content does not match meta");
    else
        svc__fail(c, rc, "storing the document");
    call_unref(c);
}

void
svc__put_half_close(struct call *c)
{
    struct put *w = call_data(c);

    if (call_is_done(c))
        return;
    if (w == NULL || w->u == NULL) {
        put_invalid(c, w, "the first message must carry meta");
        return;
    }
    put_finish(w);
}

void
svc__put_cancel(struct call *c)
{
    struct put *w = call_data(c);

    if (w == NULL)
        return;
    put_unpause(w);
    /* Unless a finish is in flight (it holds a reference, and put_free
     * runs after it), the chunks can go now. */
    if (!w->finishing) {
        vault_upload_free(w->u);
        w->u = NULL;
    }
}
