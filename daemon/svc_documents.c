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

/* --- Get / LatestValid: the stream ----------------------------------- */

struct docstream {
    struct vault_person p;
    struct vault_id id;
    struct vault_doc doc;
    bool doc_open;
    uint32_t chunk; /* next chunk to send */
    uint64_t bytes; /* content bytes sent */
    EVP_MD_CTX *md;
    struct buf plain; /* one chunk, wiped after each send */
};

static void
docstream_free(void *data)
{
    struct docstream *s = data;

    if (s->doc_open)
        vault_doc_close(&s->doc);
    EVP_MD_CTX_free(s->md);
    buf_wipe(&s->plain);
    vault_person_close(&s->p);
    free(s);
}

/* The call's stream state, with the person of |dossier| opened.  NULL
 * after finishing the call. */
static struct docstream *
docstream_new(struct call *c, const struct vault_id *dossier)
{
    struct docstream *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
        if (s != NULL)
            EVP_MD_CTX_free(s->md);
        free(s);
        svc__fail(c, -ENOMEM, "starting the stream");
        return NULL;
    }
    buf_init(&s->plain);
    s->id = *dossier;
    call_set_data(c, s, docstream_free);
    if (svc__open(c, dossier, &s->p) != 0)
        return NULL;
    return s;
}

/* Ends the stream: the content must match the recorded size and digest. */
static void
docstream_end(struct call *c, struct docstream *s)
{
    const Dossier__V1__DocumentMeta *m = s->doc.meta;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;

    call_want_writable(c, false);
    if (EVP_DigestFinal_ex(s->md, digest, &dlen) != 1) {
        call_finish(c, RPC_INTERNAL, "digest failed");
        return;
    }
    if (s->bytes != (uint64_t)m->size ||
        (m->sha256.len == SHA256_LEN &&
         (dlen != SHA256_LEN || memcmp(digest, m->sha256.data, dlen) != 0))) {
        log_warnx("document=%s version=%d content does not match its "
                  "metadata",
                  m->document_id, m->version);
        call_finish(c, RPC_DATA_LOSS, "document failed its integrity check");
        return;
    }
    call_finish(c, RPC_OK, NULL);
}

static void
docstream_pump(struct call *c)
{
    struct docstream *s = call_data(c);
    Dossier__V1__GetDocumentResponse msg =
        DOSSIER__V1__GET_DOCUMENT_RESPONSE__INIT;
    int rc;

    if (s == NULL || !s->doc_open || call_is_done(c))
        return;
    msg.part_case = DOSSIER__V1__GET_DOCUMENT_RESPONSE__PART_CHUNK;
    while (s->chunk < s->doc.chunks &&
           call_send_queued(c) < call_send_low_water(c)) {
        buf_reset(&s->plain);
        rc = vault_doc_chunk(svc__ctx()->vault, &s->p, &s->doc, s->chunk,
                             &s->plain);
        if (rc == ERR_CORRUPT || rc == ERR_NOTFOUND) {
            log_warnx("document=%s version=%d chunk=%u failed its integrity "
                      "check",
                      s->doc.meta->document_id, s->doc.meta->version, s->chunk);
            call_want_writable(c, false);
            call_finish(c, RPC_DATA_LOSS,
                        "document failed its integrity check");
            return;
        }
        if (rc == 0 && buf_size(&s->plain) > 0 &&
            EVP_DigestUpdate(s->md, buf_peek(&s->plain), buf_size(&s->plain)) !=
                1)
            rc = -ENOMEM;
        if (rc == 0) {
            msg.chunk.data = (uint8_t *)buf_peek(&s->plain);
            msg.chunk.len = buf_size(&s->plain);
            rc = call_send_msg(c, &msg.base);
        }
        /* call_send copied it: the plaintext need not stay here. */
        if (s->plain.data != NULL)
            OPENSSL_cleanse(s->plain.data, s->plain.cap);
        if (rc != 0) {
            call_want_writable(c, false);
            svc__fail(c, rc, "reading the document");
            return;
        }
        s->bytes += msg.chunk.len;
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
    log_info("read dossier=%s document=%s version=%d by=%s", id,
             s->doc.meta->document_id, s->doc.meta->version,
             call_principal(c)->uri);
    docstream_pump(c);
}

static void
docs_stream_cancel(struct call *c)
{
    call_want_writable(c, false);
}

static void
docs_get(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GetDocumentRequest *req;
    struct docstream *s;
    struct vault_id id;
    int rc;

    req = dossier__v1__get_document_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "GetDocumentRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_READ, &id) != 0)
        goto out;
    if (req->document_id[0] == '\0') {
        call_finish(c, RPC_INVALID_ARGUMENT, "document_id: required");
        goto out;
    }
    if ((s = docstream_new(c, &id)) == NULL)
        goto out;
    rc = vault_doc_open(svc__ctx()->vault, &s->p, req->document_id, 0, &s->doc);
    if (rc != 0) {
        doc_open_fail(c, rc);
        goto out;
    }
    s->doc_open = true;
    if (svc__check_issuer(c, POLICY_DOC_READ, &id, s->doc.meta->issuer) != 0)
        goto out;
    docstream_start(c, s);
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

static void
docs_latest_valid(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__LatestValidRequest *req;
    Dossier__V1__DocumentMeta **list = NULL, *m = NULL;
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
    if (m == NULL) {
        call_finish(c, RPC_NOT_FOUND, "no %s in this dossier", req->type);
        goto out;
    }
    if (svc__check_issuer(c, POLICY_DOC_READ, &id, m->issuer) != 0)
        goto out;
    svc__today(&today);
    if (!svc__date_unset(m->valid_until) &&
        svc__date_cmp(m->valid_until, &today) < 0) {
        call_finish(c, RPC_FAILED_PRECONDITION,
                    "the latest %s expired on %04d-%02d-%02d", req->type,
                    m->valid_until->year, m->valid_until->month,
                    m->valid_until->day);
        goto out;
    }
    rc = vault_doc_open(svc__ctx()->vault, &s->p, m->document_id,
                        (uint32_t)m->version, &s->doc);
    if (rc != 0) {
        doc_open_fail(c, rc);
        goto out;
    }
    s->doc_open = true;
    docstream_start(c, s);
out:
    free_metas(list, n);
    dossier__v1__latest_valid_request__free_unpacked(req, NULL);
}

/* --- List ------------------------------------------------------------ */

static void
docs_list(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ListDocumentsRequest *req;
    Dossier__V1__ListDocumentsResponse resp =
        DOSSIER__V1__LIST_DOCUMENTS_RESPONSE__INIT;
    Dossier__V1__DocumentMeta **list = NULL;
    struct vault_person p = {0};
    struct vault_id id;
    size_t n = 0, k = 0;
    int rc;

    req = dossier__v1__list_documents_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ListDocumentsRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_DOC_LIST, &id) != 0 ||
        type_filter_check(c, req->type, false) != 0 ||
        svc__open(c, &id, &p) != 0)
        goto out;
    rc = vault_doc_list(svc__ctx()->vault, &p,
                        req->type[0] != '\0' ? req->type : NULL,
                        req->all_versions, &list, &n);
    if (rc != 0) {
        svc__fail(c, rc, "listing the documents");
        goto out;
    }
    /* Keep only what the caller may read, in place: the array still owns
     * every element and frees them all below. */
    if (n > 0 &&
        (resp.documents = calloc(n, sizeof(*resp.documents))) == NULL) {
        svc__fail(c, -ENOMEM, "listing the documents");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (svc__may(c, POLICY_DOC_READ, &id, list[i]->issuer))
            resp.documents[k++] = list[i];
    resp.n_documents = k;
    svc__answer(c, &resp.base);
    free(resp.documents);
out:
    free_metas(list, n);
    vault_person_close(&p);
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
        buf_reset(&k->plain);
        rc = vault_doc_chunk(svc__ctx()->vault, &k->p, &k->doc, k->chunk,
                             &k->plain);
        if (rc == ERR_CORRUPT || rc == ERR_NOTFOUND) {
            check_answer(k, false, NULL);
            return;
        }
        if (rc == 0 && buf_size(&k->plain) > 0 &&
            EVP_DigestUpdate(k->md, buf_peek(&k->plain), buf_size(&k->plain)) !=
                1)
            rc = -ENOMEM;
        k->bytes += buf_size(&k->plain);
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
    if (svc__check_issuer(c, POLICY_DOC_CHECK, &id, k->doc.meta->issuer) != 0)
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
    Dossier__V1__GetFactsResponse resp = DOSSIER__V1__GET_FACTS_RESPONSE__INIT;
    Dossier__V1__AgencyFact **list = NULL;
    struct vault_person p = {0};
    struct vault_id id;
    size_t n = 0, k = 0;
    int rc;

    req = dossier__v1__get_facts_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "GetFactsRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_FACT_READ, &id) != 0)
        goto out;
    if (req->type[0] != '\0' && !catalog_code_valid(req->type)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "type: 1 to %d characters of a-z 0-9 -", CATALOG_CODE_MAX);
        goto out;
    }
    if (svc__open(c, &id, &p) != 0)
        goto out;
    rc = vault_fact_list(svc__ctx()->vault, &p,
                         req->type[0] != '\0' ? req->type : NULL, &list, &n);
    if (rc != 0) {
        svc__fail(c, rc, "listing the facts");
        goto out;
    }
    if (n > 0 && (resp.facts = calloc(n, sizeof(*resp.facts))) == NULL) {
        svc__fail(c, -ENOMEM, "listing the facts");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (svc__may(c, POLICY_FACT_READ, &id, list[i]->issuer))
            resp.facts[k++] = list[i];
    resp.n_facts = k;
    svc__answer(c, &resp.base);
    free(resp.facts);
out:
    free_facts(list, n);
    vault_person_close(&p);
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
        .kind = CALL_SERVER_STREAM,
        .on_message = docs_get,
        .on_writable = docstream_pump,
        .on_cancel = docs_stream_cancel,
    },
    {
        .path = "/dossier.v1.Documents/List",
        .kind = CALL_UNARY,
        .on_message = docs_list,
    },
    {
        .path = "/dossier.v1.Documents/LatestValid",
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
