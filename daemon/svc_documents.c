/*
 * svc_documents.c -- dossier.v1.Documents: Get, List, LatestValid,
 * CheckIntegrity, PutFact, GetFacts (Put is in svc_put.c).
 *
 * Get and LatestValid share one server-stream pump: the metadata first,
 * then one message per stored chunk, produced only while the call's queue
 * is under its low-water mark and resumed from on_writable, so a 50 MiB
 * document never holds more than a chunk of plaintext.  The stream also
 * recomputes the SHA-256 as it goes: if the content does not add up to
 * the recorded size and digest the call ends with DATA_LOSS instead of OK.
 *
 * CheckIntegrity reads the whole document too, but has nobody to pace it,
 * so it works in slices of CHECK_SLICE chunks from an idle handle: the
 * loop serves other connections between slices.
 *
 * Every read asks the policy on the writer thread (svc__decide) before
 * anything of the dossier is shown, even whether a document exists: Get
 * and LatestValid decide on the document found (or on the id asked for,
 * when none is found, which only a consent naming that id allows), List
 * and GetFacts on every item, and only the decision's completion starts
 * the stream or answers.  An expired document is FAILED_PRECONDITION only
 * for a caller allowed to read it, and spends no one-shot consent.
 *
 * The person's key (struct vault_person) lives in the call's data and is
 * wiped when the call is freed, whatever way it ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <uv.h>

#include "catalog.h"
#include "dossier/v1/documents.pb-c.h"

#include "call.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "svc.h"
#include "svc_documents.h"
#include "svc_put.h"

#define SHA256_LEN 32
#define CHECK_SLICE 16 /* chunks (1 MiB) per loop turn in CheckIntegrity */
#define FACT_VALUE_MAX 4096

/* Finishes for an error of vault_doc_open(). */
static void
doc_open_fail(struct call *c, int rc)
{
    if (rc == ERR_NOTFOUND)
        call_finish(c, RPC_NOT_FOUND, "no such document");
    else if (rc == ERR_INVALID)
        call_finish(c, RPC_INVALID_ARGUMENT, "document_id: not a document id");
    else
        svc__fail(c, rc, "opening the document");
}

/* Checks an optional type filter: "" or a code of the catalogue. */
static int
type_filter_check(struct call *c, const char *type, bool required)
{
    if (type[0] == '\0' && !required)
        return 0;
    if (!catalog_code_valid(type)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    required ? "type: a catalogue code is required"
                             : "type: not a catalogue code");
        return ERR_INVALID;
    }
    if (catalog_find(svc__ctx()->catalog, type) == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "type: unknown document type %s",
                    type);
        return ERR_INVALID;
    }
    return 0;
}

static void
free_metas(Dossier__V1__DocumentMeta **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(&v[i]->base, NULL);
    free(v);
}

static void
free_facts(Dossier__V1__AgencyFact **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(&v[i]->base, NULL);
    free(v);
}

/* Notes what a read relied on (consent, mandate and chain) in the call's
 * log line; ids only.  The basis ("consent <id>") is quoted: it has a
 * blank. */
static void
docs_log_basis(struct call *c, const struct policy_decision *d)
{
    if (d->mandate_id[0] != '\0') {
        call_log_note(c, "under=\"%s\" chain=\"%s\"", d->basis, d->chain);
    } else if (d->consent_id[0] != '\0') {
        log_kv_quoted(call_log_kv(c), "under", d->basis);
        log_kv_i64(call_log_kv(c), "spent", (int64_t)d->n_spent);
    }
}

/* --- Get / LatestValid: the stream ----------------------------------- */

struct docstream {
    struct vault_person p;
    struct vault_id id;
    struct vault_doc doc;
    bool doc_open;
    /* What the policy decides on (strings kept here until it answers). */
    struct policy_object obj;
    char type[CATALOG_CODE_MAX + 1];
    char doc_id[VAULT_ID_STR];
    uint32_t version;        /* LatestValid: the version found */
    bool found;              /* LatestValid: a document of the type exists */
    Dossier__V1__Date until; /* LatestValid: its valid_until, if expired */
    bool expired;
    uint32_t chunk; /* next chunk to send */
    uint64_t bytes; /* content bytes sent */
};

static void
docstream_free(void *data)
{
    struct docstream *s = data;

    if (s->doc_open)
        vault_doc_close(&s->doc);
    vault_person_close(&s->p);
    free(s);
}

/* The call's stream state, with the person of |dossier| opened.  NULL
 * after finishing the call. */
static struct docstream *
docstream_new(struct call *c, const struct vault_id *dossier)
{
    struct docstream *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        svc__fail(c, -ENOMEM, "starting the stream");
        return NULL;
    }
    s->id = *dossier;
    call_set_data(c, s, docstream_free);
    if (svc__open(c, dossier, &s->p) != 0)
        return NULL;
    return s;
}

/*
 * Ends the stream.  The content's digest is not computed again here: each
 * chunk that opened is this version's chunk of its index and length
 * (vault_doc_chunk), and their count comes from the sealed size, so the
 * bytes sent are the bytes deposited, whose digest the upload checked and
 * the metadata sent first carries.  CheckIntegrity recomputes it.
 */
static void
docstream_end(struct call *c, struct docstream *s)
{
    const Dossier__V1__DocumentMeta *m = s->doc.meta;

    call_want_writable(c, false);
    if (s->bytes != (uint64_t)m->size) {
        log_warnx("document=%s version=%d content does not match its "
                  "metadata",
                  m->document_id, m->version);
        call_finish(c, RPC_DATA_LOSS, "document failed its integrity check");
        return;
    }
    call_finish(c, RPC_OK, NULL);
}

/* The GetDocumentResponse field that carries content (bytes chunk = 2). */
#define CHUNK_TAG ((DOSSIER__V1__GET_DOCUMENT_RESPONSE__PART_CHUNK << 3) | 2)

/* Writes the tag and length of a |len|-byte chunk field at |p| (room for
 * CHUNK_HEAD_MAX bytes), returning how many bytes that took.  Protobuf's
 * varint: 7 bits a byte, low first, the high bit set on all but the last. */
#define CHUNK_HEAD_MAX (1 + 5)
static size_t
chunk_head(uint8_t *p, uint32_t len)
{
    size_t n = 0;

    p[n++] = CHUNK_TAG;
    while (len >= 0x80) {
        p[n++] = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    p[n++] = (uint8_t)len;
    return n;
}

/*
 * Sends content while the call's queue is below its low water.  Each
 * chunk is a GetDocumentResponse made in place: its field head, then the
 * chunk decrypted straight into the send queue, with no copy between the
 * store and the HTTP/2 framing.
 */
static void
docstream_pump(struct call *c)
{
    struct docstream *s = call_data(c);
    uint8_t head[CHUNK_HEAD_MAX];
    size_t len, hlen;
    uint8_t *p;
    int rc;

    if (s == NULL || !s->doc_open || call_is_done(c))
        return;
    while (s->chunk < s->doc.chunks &&
           call_send_queued(c) < call_send_low_water(c)) {
        len = vault_doc_chunk_len(&s->doc, s->chunk);
        hlen = chunk_head(head, (uint32_t)len);
        if ((p = call_send_space(c, hlen + len)) == NULL)
            rc = -ENOMEM;
        else
            rc = vault_doc_chunk(svc__ctx()->vault, &s->p, &s->doc, s->chunk,
                                 p + hlen);
        if (rc == ERR_CORRUPT || rc == ERR_NOTFOUND) {
            log_warnx("document=%s version=%d chunk=%u failed its integrity "
                      "check",
                      s->doc.meta->document_id, s->doc.meta->version, s->chunk);
            call_want_writable(c, false);
            call_finish(c, RPC_DATA_LOSS,
                        "document failed its integrity check");
            return;
        }
        if (rc == 0) {
            memcpy(p, head, hlen);
            rc = call_send_commit(c, hlen + len);
        }
        if (rc != 0) {
            call_want_writable(c, false);
            svc__fail(c, rc, "reading the document");
            return;
        }
        s->bytes += len;
        s->chunk++;
    }
    if (s->chunk == s->doc.chunks)
        docstream_end(c, s);
    else
        call_want_writable(c, true);
}

/* Sends the metadata of the opened document and starts the content. */
static void
docstream_start(struct call *c, struct docstream *s)
{
    Dossier__V1__GetDocumentResponse msg =
        DOSSIER__V1__GET_DOCUMENT_RESPONSE__INIT;
    char id[VAULT_ID_STR];
    int rc;

    msg.part_case = DOSSIER__V1__GET_DOCUMENT_RESPONSE__PART_META;
    msg.meta = s->doc.meta;
    if ((rc = call_send_msg(c, &msg.base)) != 0) {
        svc__fail(c, rc, "sending the metadata");
        return;
    }
    vault_id_format(&s->id, id);
    log_kv_str(call_log_kv(c), "dossier", id);
    log_kv_str(call_log_kv(c), "document", s->doc.meta->document_id);
    log_kv_i64(call_log_kv(c), "version", s->doc.meta->version);
    docstream_pump(c);
}

static void
docs_stream_cancel(struct call *c)
{
    call_want_writable(c, false);
}

/* The policy answered for a Get whose document exists. */
static void
docs_get_decided(struct call *c, void *arg, int status,
                 const struct policy_decision *d)
{
    struct docstream *s = arg;

    if (status != 0 || call_is_done(c))
        return;
    if (!s->doc_open) {
        /* Allowed to read a document that is not there: only a consent
         * naming that very id allows it, so nothing leaks. */
        call_finish(c, RPC_NOT_FOUND, "no such document");
        return;
    }
    docs_log_basis(c, d);
    docstream_start(c, s);
}

static void
docs_get(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GetDocumentRequest *req;
    struct policy_request r = {0};
    struct docstream *s;
    struct vault_id id, doc;
    int rc;

    req = dossier__v1__get_document_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "GetDocumentRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_READ, &id) != 0 ||
        svc__basis(c, req->basis, &r) != 0)
        goto out;
    if (req->document_id[0] == '\0') {
        call_finish(c, RPC_INVALID_ARGUMENT, "document_id: required");
        goto out;
    }
    if (vault_document_id_parse(req->document_id, &doc) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "document_id: not a document id");
        goto out;
    }
    if ((s = docstream_new(c, &id)) == NULL)
        goto out;
    snprintf(s->doc_id, sizeof(s->doc_id), "%s", req->document_id);
    s->obj.doc_id = s->doc_id;
    call_audit_set(c, CALL_AUDIT_OBJECT, s->doc_id);
    rc = vault_doc_open(svc__ctx()->vault, &s->p, req->document_id, 0, &s->doc);
    if (rc == 0) {
        s->doc_open = true;
        snprintf(s->type, sizeof(s->type), "%s", s->doc.meta->type);
        s->obj.type = s->type;
    } else if (rc != ERR_NOTFOUND) {
        doc_open_fail(c, rc);
        goto out;
    }
    /* Whether the document exists or not, the policy answers first: an
     * agency without consent learns nothing, not even that. */
    call_audit_set(c, CALL_AUDIT_OBJECT, req->document_id);
    r.act = POLICY_DOC_READ;
    r.person = &s->p;
    r.objects = &s->obj;
    r.n_objects = 1;
    r.no_spend = !s->doc_open;
    svc__decide(c, &r, docs_get_decided, s);
out:
    dossier__v1__get_document_request__free_unpacked(req, NULL);
}

/* True if |a| is newer than |b|: later issued, then later deposit, then
 * higher version. */
static bool
meta_newer(const Dossier__V1__DocumentMeta *a,
           const Dossier__V1__DocumentMeta *b)
{
    int cmp = 0;

    if (!svc__date_unset(a->issued) && !svc__date_unset(b->issued))
        cmp = svc__date_cmp(a->issued, b->issued);
    if (cmp != 0)
        return cmp > 0;
    if (a->deposited_unix != b->deposited_unix)
        return a->deposited_unix > b->deposited_unix;
    return a->version > b->version;
}

/* The policy answered for a LatestValid: only now may the caller learn
 * whether there is such a document, and whether it has expired. */
static void
docs_latest_decided(struct call *c, void *arg, int status,
                    const struct policy_decision *d)
{
    struct docstream *s = arg;
    int rc;

    if (status != 0 || call_is_done(c))
        return;
    if (!s->found) {
        call_finish(c, RPC_NOT_FOUND, "no %s in this dossier", s->type);
        return;
    }
    if (s->expired) {
        call_finish(c, RPC_FAILED_PRECONDITION,
                    "the latest %s expired on %04d-%02d-%02d", s->type,
                    s->until.year, s->until.month, s->until.day);
        return;
    }
    rc = vault_doc_open(svc__ctx()->vault, &s->p, s->doc_id, s->version,
                        &s->doc);
    if (rc != 0) {
        doc_open_fail(c, rc);
        return;
    }
    s->doc_open = true;
    docs_log_basis(c, d);
    docstream_start(c, s);
}

static void
docs_latest_valid(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__LatestValidRequest *req;
    Dossier__V1__DocumentMeta **list = NULL, *m = NULL;
    struct policy_request r = {0};
    Dossier__V1__Date today;
    struct docstream *s;
    struct vault_id id;
    size_t n = 0;
    int rc;

    req = dossier__v1__latest_valid_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "LatestValidRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_READ, &id) != 0 ||
        svc__basis(c, req->basis, &r) != 0 ||
        type_filter_check(c, req->type, true) != 0 ||
        (s = docstream_new(c, &id)) == NULL)
        goto out;
    rc = vault_doc_list(svc__ctx()->vault, &s->p, req->type, false, &list, &n);
    if (rc != 0) {
        svc__fail(c, rc, "listing the documents");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (m == NULL || meta_newer(list[i], m))
            m = list[i];
    snprintf(s->type, sizeof(s->type), "%s", req->type);
    s->obj.type = s->type;
    if (m != NULL) {
        s->found = true;
        snprintf(s->doc_id, sizeof(s->doc_id), "%s", m->document_id);
        s->obj.doc_id = s->doc_id;
        call_audit_set(c, CALL_AUDIT_OBJECT, s->doc_id);
        s->version = (uint32_t)m->version;
        svc__today(&today);
        if (!svc__date_unset(m->valid_until) &&
            svc__date_cmp(m->valid_until, &today) < 0) {
            s->expired = true;
            s->until = *m->valid_until;
        }
    }
    r.act = POLICY_DOC_READ;
    r.person = &s->p;
    r.objects = &s->obj;
    r.n_objects = 1;
    r.no_spend = !s->found || s->expired; /* nothing will be read */
    svc__decide(c, &r, docs_latest_decided, s);
out:
    free_metas(list, n);
    dossier__v1__latest_valid_request__free_unpacked(req, NULL);
}

/* --- List and GetFacts: decided item by item ------------------------- */

/* A List or GetFacts waiting for the policy: the call's data. */
struct listing {
    struct vault_person p;
    bool facts;
    Dossier__V1__DocumentMeta **docs;
    Dossier__V1__AgencyFact **factv;
    size_t n;
    struct policy_object *objs;
    char type[CATALOG_CODE_MAX + 1];
};

static void
listing_free(void *data)
{
    struct listing *l = data;

    if (l->facts)
        free_facts(l->factv, l->n);
    else
        free_metas(l->docs, l->n);
    free(l->objs);
    vault_person_close(&l->p);
    free(l);
}

static void
listing_decided(struct call *c, void *arg, int status,
                const struct policy_decision *d)
{
    struct listing *l = arg;
    Dossier__V1__ListDocumentsResponse dresp =
        DOSSIER__V1__LIST_DOCUMENTS_RESPONSE__INIT;
    Dossier__V1__GetFactsResponse fresp = DOSSIER__V1__GET_FACTS_RESPONSE__INIT;
    void **keep;
    size_t k = 0;

    if (status != 0 || call_is_done(c))
        return;
    if (l->n > 0 && (keep = calloc(l->n, sizeof(*keep))) == NULL) {
        svc__fail(c, -ENOMEM, "listing");
        return;
    }
    if (l->n == 0)
        keep = NULL;
    /* Only what the decision allows; the arrays still own every item. */
    for (size_t i = 0; i < l->n; i++)
        if (d->allowed[i])
            keep[k++] = l->facts ? (void *)l->factv[i] : (void *)l->docs[i];
    docs_log_basis(c, d);
    if (l->facts) {
        fresp.facts = (Dossier__V1__AgencyFact **)keep;
        fresp.n_facts = k;
        svc__answer(c, &fresp.base);
    } else {
        dresp.documents = (Dossier__V1__DocumentMeta **)keep;
        dresp.n_documents = k;
        svc__answer(c, &dresp.base);
    }
    free(keep);
}

/* Asks the policy about every item of |l| (the call's data). */
static void
listing_decide(struct call *c, struct listing *l, struct policy_request *r)
{
    if (l->n > 0 && (l->objs = calloc(l->n, sizeof(*l->objs))) == NULL) {
        svc__fail(c, -ENOMEM, "listing");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        l->objs[i].fact = l->facts;
        if (l->facts) {
            l->objs[i].type = l->factv[i]->type;
        } else {
            l->objs[i].type = l->docs[i]->type;
            l->objs[i].doc_id = l->docs[i]->document_id;
        }
    }
    r->act = l->facts ? POLICY_FACT_READ : POLICY_DOC_LIST;
    r->person = &l->p;
    r->objects = l->objs;
    r->n_objects = l->n;
    r->type_filter = l->type[0] != '\0' ? l->type : NULL;
    svc__decide(c, r, listing_decided, l);
}

static struct listing *
listing_new(struct call *c, const struct vault_id *id, bool facts,
            const char *type)
{
    struct listing *l = calloc(1, sizeof(*l));

    if (l == NULL) {
        svc__fail(c, -ENOMEM, "listing");
        return NULL;
    }
    l->facts = facts;
    snprintf(l->type, sizeof(l->type), "%s", type);
    call_set_data(c, l, listing_free);
    if (svc__open(c, id, &l->p) != 0)
        return NULL;
    return l;
}

static void
docs_list(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ListDocumentsRequest *req;
    struct policy_request r = {0};
    struct listing *l;
    struct vault_id id;
    int rc;

    req = dossier__v1__list_documents_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ListDocumentsRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_LIST, &id) != 0 ||
        svc__basis(c, req->basis, &r) != 0 ||
        type_filter_check(c, req->type, false) != 0 ||
        (l = listing_new(c, &id, false, req->type)) == NULL)
        goto out;
    rc = vault_doc_list(svc__ctx()->vault, &l->p,
                        req->type[0] != '\0' ? req->type : NULL,
                        req->all_versions, &l->docs, &l->n);
    if (rc != 0) {
        svc__fail(c, rc, "listing the documents");
        goto out;
    }
    listing_decide(c, l, &r);
out:
    dossier__v1__list_documents_request__free_unpacked(req, NULL);
}

/* --- CheckIntegrity -------------------------------------------------- */

/*
 * A check in progress.  It holds a reference on the call from the moment
 * its idle handle starts until the handle is closed, and is freed in the
 * close callback, never with the call.
 */
struct check {
    uv_idle_t idle;
    struct call *c;
    struct vault_person p;
    struct vault_doc doc;
    bool doc_open;
    uint32_t chunk;
    uint64_t bytes;
    EVP_MD_CTX *md;
    struct buf plain;
    bool closing;
};

static void
check_closed(uv_handle_t *h)
{
    struct check *k = h->data;

    if (k->doc_open)
        vault_doc_close(&k->doc);
    EVP_MD_CTX_free(k->md);
    buf_wipe(&k->plain);
    vault_person_close(&k->p);
    call_unref(k->c);
    free(k);
}

static void
check_close(struct check *k)
{
    if (k->closing)
        return;
    k->closing = true;
    uv_idle_stop(&k->idle);
    call_set_data(k->c, NULL, NULL);
    uv_close((uv_handle_t *)&k->idle, check_closed);
}

/* Answers |intact|, with the digest when every chunk was read. */
static void
check_answer(struct check *k, bool intact, const uint8_t *digest)
{
    Dossier__V1__CheckIntegrityResponse resp =
        DOSSIER__V1__CHECK_INTEGRITY_RESPONSE__INIT;

    resp.intact = intact;
    if (digest != NULL) {
        resp.sha256.data = (uint8_t *)digest;
        resp.sha256.len = SHA256_LEN;
    }
    if (!intact)
        log_warnx("document=%s version=%d failed its integrity check",
                  k->doc.meta->document_id, k->doc.meta->version);
    svc__answer(k->c, &resp.base);
    check_close(k);
}

static void
check_slice(uv_idle_t *h)
{
    struct check *k = h->data;
    const Dossier__V1__DocumentMeta *m = k->doc.meta;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int rc;

    if (call_is_done(k->c)) {
        check_close(k);
        return;
    }
    for (int i = 0; i < CHECK_SLICE && k->chunk < k->doc.chunks; i++) {
        size_t len = vault_doc_chunk_len(&k->doc, k->chunk);
        uint8_t *p;

        buf_reset(&k->plain);
        if ((p = buf_space(&k->plain, len)) == NULL)
            rc = -ENOMEM;
        else
            rc = vault_doc_chunk(svc__ctx()->vault, &k->p, &k->doc, k->chunk,
                                 p);
        if (rc == ERR_CORRUPT || rc == ERR_NOTFOUND) {
            check_answer(k, false, NULL);
            return;
        }
        if (rc == 0 && EVP_DigestUpdate(k->md, p, len) != 1)
            rc = -ENOMEM;
        k->bytes += rc == 0 ? len : 0;
        if (k->plain.data != NULL)
            OPENSSL_cleanse(k->plain.data, k->plain.cap);
        if (rc != 0) {
            svc__fail(k->c, rc, "checking the document");
            check_close(k);
            return;
        }
        k->chunk++;
    }
    if (k->chunk < k->doc.chunks)
        return; /* the next slice on the next loop turn */
    if (EVP_DigestFinal_ex(k->md, digest, &dlen) != 1 || dlen != SHA256_LEN) {
        call_finish(k->c, RPC_INTERNAL, "digest failed");
        check_close(k);
        return;
    }
    check_answer(k,
                 k->bytes == (uint64_t)m->size && m->sha256.len == SHA256_LEN &&
                     memcmp(digest, m->sha256.data, SHA256_LEN) == 0,
                 digest);
}

static void
docs_check(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__CheckIntegrityRequest *req;
    struct policy_request r = {0};
    struct policy_object obj = {0};
    struct policy_decision d = {0};
    struct check *k = NULL;
    struct vault_id id;
    int rc;

    req = dossier__v1__check_integrity_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "CheckIntegrityRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_CHECK, &id) != 0)
        goto out;
    if (req->document_id[0] == '\0') {
        call_finish(c, RPC_INVALID_ARGUMENT, "document_id: required");
        goto out;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL ||
        (k->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(k->md, EVP_sha256(), NULL) != 1) {
        svc__fail(c, -ENOMEM, "checking the document");
        goto fail;
    }
    buf_init(&k->plain);
    if (svc__open(c, &id, &k->p) != 0)
        goto fail;
    rc = vault_doc_open(svc__ctx()->vault, &k->p, req->document_id, 0, &k->doc);
    if (rc != 0) {
        doc_open_fail(c, rc);
        goto fail;
    }
    k->doc_open = true;
    obj.type = k->doc.meta->type;
    obj.doc_id = k->doc.meta->document_id;
    r.act = POLICY_DOC_CHECK;
    r.person = &k->p;
    r.objects = &obj;
    r.n_objects = 1;
    rc = svc__decide_now(c, &r, &d);
    policy_decision_clear(&d);
    if (rc != 0)
        goto fail;
    if ((rc = uv_idle_init(server_loop(call_server(c)), &k->idle)) != 0) {
        svc__fail(c, rc, "checking the document");
        goto fail;
    }
    k->idle.data = k;
    k->c = c;
    call_ref(c);
    call_set_data(c, k, NULL);
    uv_idle_start(&k->idle, check_slice);
    goto out;
fail:
    /* No handle was started: release by hand. */
    if (k != NULL) {
        if (k->doc_open)
            vault_doc_close(&k->doc);
        EVP_MD_CTX_free(k->md);
        buf_wipe(&k->plain);
        vault_person_close(&k->p);
        free(k);
    }
out:
    dossier__v1__check_integrity_request__free_unpacked(req, NULL);
}

static void
docs_check_cancel(struct call *c)
{
    struct check *k = call_data(c);

    if (k != NULL)
        check_close(k);
}

/* --- PutFact --------------------------------------------------------- */

struct fact_put {
    struct call *c;
    struct vault_person p;
    struct vault_id id;
    char fact_id[VAULT_ID_STR];
};

static void
fact_put_done(void *arg, int status)
{
    struct fact_put *w = arg;
    Dossier__V1__PutFactResponse resp = DOSSIER__V1__PUT_FACT_RESPONSE__INIT;
    char id[VAULT_ID_STR];

    if (status != 0) {
        svc__fail(w->c, status, "storing the fact");
    } else {
        vault_id_format(&w->id, id);
        log_info("fact dossier=%s fact=%s by=%s", id, w->fact_id,
                 call_principal(w->c)->uri);
        resp.fact_id = w->fact_id;
        svc__answer(w->c, &resp.base);
    }
    vault_person_close(&w->p);
    call_unref(w->c);
    free(w);
}

/* Checks a fact; on error finishes the call and returns ERR_INVALID. */
static int
fact_check(struct call *c, const Dossier__V1__AgencyFact *f)
{
    if (!catalog_code_valid(f->type)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "type: 1 to %d characters of a-z 0-9 -", CATALOG_CODE_MAX);
        return ERR_INVALID;
    }
    if (!svc__str_ok(f->value, FACT_VALUE_MAX, true)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "value: required, at most %d bytes", FACT_VALUE_MAX);
        return ERR_INVALID;
    }
    if (svc__check_date(c, "effective", f->effective, false) != 0 ||
        svc__check_date(c, "valid_until", f->valid_until, false) != 0)
        return ERR_INVALID;
    if (!svc__date_unset(f->effective) && !svc__date_unset(f->valid_until) &&
        svc__date_cmp(f->valid_until, f->effective) < 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "valid_until is before effective");
        return ERR_INVALID;
    }
    return 0;
}

static void
docs_put_fact(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__PutFactRequest *req;
    struct fact_put *w = NULL;
    struct vault_id id;
    int rc;

    req = dossier__v1__put_fact_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "PutFactRequest does not parse");
        return;
    }
    if (req->fact == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "fact: required");
        goto out;
    }
    if (svc__dossier(c, req->fact->dossier_id, POLICY_FACT_PUT, &id) != 0 ||
        fact_check(c, req->fact) != 0)
        goto out;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        svc__fail(c, -ENOMEM, "storing the fact");
        goto out;
    }
    w->c = c;
    w->id = id;
    if (svc__open(c, &id, &w->p) != 0) {
        free(w);
        goto out;
    }
    call_ref(c);
    rc = vault_fact_put(svc__ctx()->vault, &w->p, req->fact,
                        call_principal(c)->uri, w->fact_id, fact_put_done, w);
    if (rc != 0) {
        svc__fail(c, rc, "storing the fact");
        vault_person_close(&w->p);
        call_unref(c);
        free(w);
    }
out:
    dossier__v1__put_fact_request__free_unpacked(req, NULL);
}

/* --- GetFacts -------------------------------------------------------- */

static void
docs_get_facts(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GetFactsRequest *req;
    struct policy_request r = {0};
    struct listing *l;
    struct vault_id id;
    int rc;

    req = dossier__v1__get_facts_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "GetFactsRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_FACT_READ, &id) != 0 ||
        svc__basis(c, req->basis, &r) != 0)
        goto out;
    if (req->type[0] != '\0' && !catalog_code_valid(req->type)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "type: 1 to %d characters of a-z 0-9 -", CATALOG_CODE_MAX);
        goto out;
    }
    if ((l = listing_new(c, &id, true, req->type)) == NULL)
        goto out;
    rc = vault_fact_list(svc__ctx()->vault, &l->p,
                         req->type[0] != '\0' ? req->type : NULL, &l->factv,
                         &l->n);
    if (rc != 0) {
        svc__fail(c, rc, "listing the facts");
        goto out;
    }
    listing_decide(c, l, &r);
out:
    dossier__v1__get_facts_request__free_unpacked(req, NULL);
}

/* --- registration ---------------------------------------------------- */

static const struct method documents_methods[] = {
    {
        .path = "/dossier.v1.Documents/Put",
        .kind = CALL_CLIENT_STREAM,
        .on_message = svc__put_message,
        .on_half_close = svc__put_half_close,
        .on_cancel = svc__put_cancel,
    },
    {
        .path = "/dossier.v1.Documents/Get",
        .audit = CALL_AUDIT_HANDLER, /* entry made with the decision */
        .kind = CALL_SERVER_STREAM,
        .on_message = docs_get,
        .on_writable = docstream_pump,
        .on_cancel = docs_stream_cancel,
    },
    {
        .path = "/dossier.v1.Documents/List",
        .audit = CALL_AUDIT_HANDLER, /* entry made with the decision */
        .kind = CALL_UNARY,
        .on_message = docs_list,
    },
    {
        .path = "/dossier.v1.Documents/LatestValid",
        .audit = CALL_AUDIT_HANDLER, /* entry made with the decision */
        .kind = CALL_SERVER_STREAM,
        .on_message = docs_latest_valid,
        .on_writable = docstream_pump,
        .on_cancel = docs_stream_cancel,
    },
    {
        .path = "/dossier.v1.Documents/CheckIntegrity",
        .kind = CALL_UNARY,
        .on_message = docs_check,
        .on_cancel = docs_check_cancel,
    },
    {
        .path = "/dossier.v1.Documents/PutFact",
        .kind = CALL_UNARY,
        .on_message = docs_put_fact,
    },
    {
        .path = "/dossier.v1.Documents/GetFacts",
        .audit = CALL_AUDIT_HANDLER, /* entry made with the decision */
        .kind = CALL_UNARY,
        .on_message = docs_get_facts,
    },
};

int
svc_documents_register(struct server *s, const struct svc_ctx *ctx)
{
    int rc;

    svc__ctx_set(ctx);
    for (size_t i = 0;
         i < sizeof(documents_methods) / sizeof(documents_methods[0]); i++)
        if ((rc = server_register(s, &documents_methods[i])) != 0)
            return rc;
    return 0;
}
