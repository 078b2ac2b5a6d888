/*
 * vault_docs.c -- documents of the encrypted dossier: deposits in chunks,
 * version chains, reads chunk by chunk (see vault.h).
 *
 * A deposit writes an UPLOADS record and its chunks through the writer as
 * the content arrives (so memory holds at most what is in flight), then
 * one last operation checks that every chunk is there and commits the
 * metadata: the document becomes visible whole, in one transaction, or
 * not at all.  Chunks of a deposit that never finished are removed at the
 * next start (vault.c) or when the deposit is abandoned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "be.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "vault.h"
#include "vault_int.h"
#include "writer.h"

#define DOC_KEY_LEN (2 * VAULT_ID_LEN + 4)   /* id | doc | version */
#define CHUNK_KEY_LEN (2 * VAULT_ID_LEN + 4) /* id | blob | n */

struct vault_upload {
    struct vault *v;
    struct vault_person person; /* copy: the writer thread seals with it */
    struct vault_id doc;
    uint8_t blob[VAULT_ID_LEN];
    uint32_t version;
    Dossier__V1__DocumentMeta *meta; /* what will be stored */
    struct buf partial;              /* content not yet a whole chunk */
    uint32_t next_chunk;
    uint64_t received;
    size_t pending; /* bytes handed to the writer, not yet written */
    int chunk_error; /* first chunk write that failed (writer thread) */
    struct crypto_sha256 sha;
    uint8_t digest[32];
    int refs;       /* the owner's, and one per operation in flight */
    bool finishing; /* vault_upload_finish queued the commit */
    bool committed; /* the metadata is durable */
    bool released;  /* the owner called vault_upload_free */
};

/* --- keys and AAD ------------------------------------------------------ */

static size_t
doc_key(uint8_t *key, const struct vault_id *id, const struct vault_id *doc,
        uint32_t version)
{
    uint8_t be[4];

    be_put32(be, version);
    return vault__key(key, id, doc->b, VAULT_ID_LEN, be, 4);
}

static size_t
chunk_key(uint8_t *key, const struct vault_id *id, const uint8_t *blob,
          uint32_t n)
{
    uint8_t be[4];

    be_put32(be, n);
    return vault__key(key, id, blob, VAULT_ID_LEN, be, 4);
}

/* The metadata is bound to its person, document, version and blob. */
static size_t
meta_aad(uint8_t *aad, const struct vault_id *id, const struct vault_id *doc,
         uint32_t version, const uint8_t *blob)
{
    uint8_t tail[4 + VAULT_ID_LEN];

    be_put32(tail, version);
    memcpy(tail + 4, blob, VAULT_ID_LEN);
    return vault__aad(aad, 'M', id, doc->b, VAULT_ID_LEN, tail, sizeof(tail));
}

static size_t
chunk_aad(uint8_t *aad, const struct vault_id *id, const uint8_t *blob,
          uint32_t n)
{
    uint8_t be[4];

    be_put32(be, n);
    return vault__aad(aad, 'C', id, blob, VAULT_ID_LEN, be, 4);
}

/* --- the upload object -------------------------------------------------- */

static void
upload_unref(struct vault_upload *u)
{
    if (--u->refs > 0)
        return;
    vault_person_close(&u->person);
    buf_wipe(&u->partial);
    crypto_sha256_close(&u->sha);
    if (u->meta != NULL)
        dossier__v1__document_meta__free_unpacked(u->meta, NULL);
    free(u);
}

/* A deep copy of |m| made through the wire format: simplest correct way to
 * own every string of a protobuf-c message. */
static Dossier__V1__DocumentMeta *
meta_copy(const Dossier__V1__DocumentMeta *m)
{
    size_t n = dossier__v1__document_meta__get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    Dossier__V1__DocumentMeta *c;

    if (p == NULL)
        return NULL;
    dossier__v1__document_meta__pack(m, p);
    c = dossier__v1__document_meta__unpack(NULL, n, p);
    free(p);
    return c;
}

/* Replaces a string field of an unpacked message: protobuf-c points unset
 * strings at a shared empty string that must not be freed. */
static int
meta_set_str(char **field, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return -ENOMEM;
    if (*field != NULL && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

/* Latest version of |doc| in |t|: 0 if none. */
static int
doc_latest(struct store_txn *t, const struct vault_id *id,
           const struct vault_id *doc, uint32_t *version)
{
    uint8_t prefix[2 * VAULT_ID_LEN];
    size_t plen = vault__key(prefix, id, doc->b, VAULT_ID_LEN, NULL, 0);
    struct store_entry e;
    int rc;

    *version = 0;
    rc = store_last(t, STORE_DB_DOCS, prefix, plen, &e);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (e.key_len != DOC_KEY_LEN)
        return ERR_CORRUPT;
    *version = be_get32((const uint8_t *)e.key + plen);
    return 0;
}

struct upload_op {
    struct vault_upload *u;
    uint32_t n;          /* chunk index */
    struct buf plain;    /* chunk plaintext (wiped) */
    vault_done_fn *done; /* the caller's, may be NULL */
    void *arg;
};

static struct upload_op *
upload_op_new(struct vault_upload *u, vault_done_fn *done, void *arg)
{
    struct upload_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return NULL;
    op->u = u;
    op->done = done;
    op->arg = arg;
    buf_init(&op->plain);
    u->refs++;
    return op;
}

static void
upload_op_done(void *arg, int status)
{
    struct upload_op *op = arg;
    struct vault_upload *u = op->u;

    u->pending -= buf_size(&op->plain);
    if (op->done != NULL && !u->released)
        op->done(op->arg, status);
    buf_wipe(&op->plain);
    free(op);
    upload_unref(u);
}

/* Writer thread: the UPLOADS record that marks the deposit unfinished. */
static int
upload_begin_run(struct store_txn *t, void *arg)
{
    struct upload_op *op = arg;
    struct vault_upload *u = op->u;
    Dossier__Internal__UploadRecord rec = DOSSIER__INTERNAL__UPLOAD_RECORD__INIT;
    uint8_t key[2 * VAULT_ID_LEN], val[32];
    size_t klen = vault__key(key, &u->person.id, u->blob, VAULT_ID_LEN, NULL, 0);

    rec.started_unix = vault__now();
    return store_put(t, STORE_DB_UPLOADS, key, klen, val,
                     dossier__internal__upload_record__pack(&rec, val), 0);
}

/* Writer thread: seal one chunk and store it. */
static int
upload_chunk_run(struct store_txn *t, void *arg)
{
    struct upload_op *op = arg;
    struct vault_upload *u = op->u;
    uint8_t key[CHUNK_KEY_LEN], aad[64];
    size_t klen = chunk_key(key, &u->person.id, u->blob, op->n);
    size_t alen = chunk_aad(aad, &u->person.id, u->blob, op->n);
    struct buf sealed;
    int rc;

    buf_init(&sealed);
    rc = crypto_seal_buf(u->person.dek, aad, alen, buf_peek(&op->plain),
                     buf_size(&op->plain), &sealed);
    if (rc == 0)
        rc = store_put(t, STORE_DB_CHUNKS, key, klen, buf_peek(&sealed),
                       buf_size(&sealed), 0);
    buf_free(&sealed);
    return rc;
}

int
vault_upload_begin(struct vault *v, const struct vault_person *p,
                   const Dossier__V1__DocumentMeta *meta, const char *issuer,
                   struct vault_upload **out)
{
    struct vault_upload *u;
    struct upload_op *op;
    struct store_txn *t;
    char idstr[VAULT_ID_STR];
    int rc;

    if ((u = calloc(1, sizeof(*u))) == NULL)
        return -ENOMEM;
    u->v = v;
    u->refs = 1;
    u->person = *p;
    buf_init(&u->partial);
    if ((rc = crypto_sha256_init(&u->sha)) != 0)
        goto fail_nosha;
    if ((rc = crypto_random(u->blob, VAULT_ID_LEN)) != 0)
        goto fail;
    if (meta->supersedes != NULL && meta->supersedes[0] != '\0') {
        if ((rc = vault__id_parse(meta->supersedes, 'p', &u->doc)) != 0)
            goto fail;
        if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
            goto fail;
        rc = doc_latest(t, &p->id, &u->doc, &u->version);
        store_txn_abort(t);
        if (rc == 0 && u->version == 0)
            rc = ERR_NOTFOUND;
        if (rc != 0)
            goto fail;
        u->version++;
    } else {
        if ((rc = crypto_random(u->doc.b, VAULT_ID_LEN)) != 0)
            goto fail;
        u->version = 1;
    }
    if ((u->meta = meta_copy(meta)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    vault__id_format(&u->doc, 'p', idstr);
    if ((rc = meta_set_str(&u->meta->document_id, idstr)) != 0 ||
        (rc = meta_set_str(&u->meta->issuer, issuer)) != 0)
        goto fail;
    vault_id_format(&p->id, idstr);
    if ((rc = meta_set_str(&u->meta->dossier_id, idstr)) != 0)
        goto fail;
    u->meta->version = (int32_t)u->version;
    if ((op = upload_op_new(u, NULL, NULL)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = writer_submit(v->writer, upload_begin_run, upload_op_done,
                            op)) != 0) {
        free(op);
        u->refs--;
        goto fail;
    }
    *out = u;
    return 0;

fail:
    /* fallthrough: the hash context exists */
fail_nosha:
    u->refs = 1;
    upload_unref(u);
    return rc;
}

/* Hands |len| bytes of |data| to the writer as chunk u->next_chunk. */
static int
upload_submit_chunk(struct vault_upload *u, const uint8_t *data, size_t len,
                    vault_done_fn *done, void *arg)
{
    struct upload_op *op = upload_op_new(u, done, arg);
    int rc;

    if (op == NULL)
        return -ENOMEM;
    op->n = u->next_chunk;
    if ((rc = buf_append(&op->plain, data, len)) != 0 ||
        (rc = writer_submit(u->v->writer, upload_chunk_run, upload_op_done,
                            op)) != 0) {
        buf_wipe(&op->plain);
        free(op);
        u->refs--;
        return rc;
    }
    u->next_chunk++;
    u->pending += len;
    return 0;
}

int
vault_upload_write(struct vault_upload *u, const uint8_t *data, size_t len,
                   vault_done_fn *done, void *arg)
{
    bool submitted = false;
    int rc;

    if (u->received + len > u->v->max_document)
        return ERR_TOOBIG;
    u->received += len;
    if ((rc = crypto_sha256_update(&u->sha, data, len)) != 0)
        return rc;
    while (len > 0) {
        size_t have = buf_size(&u->partial);
        size_t take = VAULT_CHUNK - have < len ? VAULT_CHUNK - have : len;

        if (have == 0 && take == VAULT_CHUNK) {
            /* A whole chunk straight from the caller's bytes. */
            rc = upload_submit_chunk(u, data, take, done, arg);
            submitted = true;
        } else {
            rc = buf_append(&u->partial, data, take);
            if (rc == 0 && buf_size(&u->partial) == VAULT_CHUNK) {
                rc = upload_submit_chunk(u, buf_peek(&u->partial),
                                         VAULT_CHUNK, done, arg);
                buf_reset(&u->partial);
                submitted = true;
            }
        }
        if (rc != 0)
            return rc;
        data += take;
        len -= take;
    }
    /* Nothing went to the writer: the bytes are buffered, so the caller's
     * piece is "written" as far as memory accounting goes. */
    if (!submitted && done != NULL)
        done(arg, 0);
    return 0;
}

size_t
vault_upload_pending(const struct vault_upload *u)
{
    return u->pending + buf_size(&u->partial);
}

struct finish_op {
    struct vault_upload *u;
    struct buf sealed_meta;
    uint32_t chunks;
    vault_done_fn *done;
    void *arg;
};

/* Writer thread: every chunk must be there (an earlier batch may have
 * failed), then the envelope, the superseded flag, and the end of the
 * UPLOADS record, all in this one child transaction. */
static int
upload_finish_run(struct store_txn *t, void *arg)
{
    struct finish_op *op = arg;
    struct vault_upload *u = op->u;
    Dossier__Internal__DocRecord rec = DOSSIER__INTERNAL__DOC_RECORD__INIT;
    uint8_t key[DOC_KEY_LEN], ckey[CHUNK_KEY_LEN], ukey[2 * VAULT_ID_LEN];
    const void *val;
    size_t vl, klen, n;
    uint8_t *packed;
    int rc;

    if (u->chunk_error != 0)
        return u->chunk_error;
    for (uint32_t i = 0; i < op->chunks; i++) {
        klen = chunk_key(ckey, &u->person.id, u->blob, i);
        if ((rc = store_get(t, STORE_DB_CHUNKS, ckey, klen, &val, &vl)) != 0)
            /* Written once, then lost with a batch whose commit failed
             * (a full store, most likely): the deposit cannot end whole. */
            return rc == ERR_NOTFOUND ? ERR_FULL : rc;
    }
    rec.sealed_meta.data = (uint8_t *)buf_peek(&op->sealed_meta);
    rec.sealed_meta.len = buf_size(&op->sealed_meta);
    rec.chunks = op->chunks;
    rec.blob_id.data = u->blob;
    rec.blob_id.len = VAULT_ID_LEN;
    n = dossier__internal__doc_record__get_packed_size(&rec);
    if ((packed = malloc(n)) == NULL)
        return -ENOMEM;
    dossier__internal__doc_record__pack(&rec, packed);
    klen = doc_key(key, &u->person.id, &u->doc, u->version);
    /* No overwrite: two deposits raced to the same next version. */
    rc = store_put(t, STORE_DB_DOCS, key, klen, packed, n, STORE_PUT_NOOVERWRITE);
    free(packed);
    if (rc != 0)
        return rc;
    klen = vault__key(ukey, &u->person.id, u->blob, VAULT_ID_LEN, NULL, 0);
    rc = store_del(t, STORE_DB_UPLOADS, ukey, klen);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return rc;
    {
        struct vault_change ch = {
            .kind = VAULT_CHANGE_DOCUMENT,
            .object_id = u->meta->document_id,
            .type = u->meta->type,
            .version = (int64_t)u->version,
            .life_event = "",
        };
        return vault__changed(u->v, t, &u->person, &u->person.id, &ch);
    }
}

static void upload_abort_queue(struct vault_upload *u);

static void
upload_finish_done(void *arg, int status)
{
    struct finish_op *op = arg;
    struct vault_upload *u = op->u;

    u->finishing = false;
    if (status == 0)
        u->committed = true;
    if (!u->released)
        op->done(op->arg, status);
    else if (status != 0)
        upload_abort_queue(u); /* abandoned while its commit failed */
    buf_free(&op->sealed_meta);
    free(op);
    upload_unref(u);
}

int
vault_upload_finish(struct vault_upload *u, const char **why,
                    vault_done_fn *done, void *arg)
{
    static char reason[160];
    struct finish_op *op;
    uint8_t aad[96];
    size_t alen;
    int rc;

    *why = NULL;
    if ((rc = crypto_sha256_final(&u->sha, u->digest)) != 0)
        return rc;
    if ((uint64_t)u->meta->size != u->received) {
        snprintf(reason, sizeof(reason),
                 "declared size %lld does not match the content of %llu bytes",
                 (long long)u->meta->size, (unsigned long long)u->received);
        *why = reason;
        return ERR_INVALID;
    }
    if (u->meta->sha256.len > 0 &&
        (u->meta->sha256.len != 32 ||
         memcmp(u->meta->sha256.data, u->digest, 32) != 0)) {
        *why = "the content does not match the declared sha256";
        return ERR_INVALID;
    }
    if (buf_size(&u->partial) > 0) {
        rc = upload_submit_chunk(u, buf_peek(&u->partial),
                                 buf_size(&u->partial), NULL, NULL);
        buf_reset(&u->partial);
        if (rc != 0)
            return rc;
    }
    free(u->meta->sha256.data);
    if ((u->meta->sha256.data = malloc(32)) == NULL)
        return -ENOMEM;
    memcpy(u->meta->sha256.data, u->digest, 32);
    u->meta->sha256.len = 32;
    u->meta->deposited_unix = vault__now();

    if ((op = calloc(1, sizeof(*op))) == NULL)
        return -ENOMEM;
    op->u = u;
    op->chunks = u->next_chunk;
    op->done = done;
    op->arg = arg;
    buf_init(&op->sealed_meta);
    alen = meta_aad(aad, &u->person.id, &u->doc, u->version, u->blob);
    if ((rc = vault__seal_msg(&u->person, aad, alen, &u->meta->base,
                              &op->sealed_meta)) != 0 ||
        (rc = writer_submit(u->v->writer, upload_finish_run,
                            upload_finish_done, op)) != 0) {
        buf_free(&op->sealed_meta);
        free(op);
        return rc;
    }
    u->refs++;
    u->finishing = true;
    return 0;
}

const Dossier__V1__DocumentMeta *
vault_upload_meta(const struct vault_upload *u)
{
    return u->meta;
}

/* Writer thread: an abandoned deposit's chunks and record go away. */
static int
upload_abort_run(struct store_txn *t, void *arg)
{
    struct upload_op *op = arg;
    struct vault_upload *u = op->u;
    uint8_t key[2 * VAULT_ID_LEN];
    size_t klen = vault__key(key, &u->person.id, u->blob, VAULT_ID_LEN, NULL, 0);
    int rc;

    if ((rc = vault__del_prefix(t, STORE_DB_CHUNKS, key, klen)) != 0)
        return rc;
    rc = store_del(t, STORE_DB_UPLOADS, key, klen);
    return rc == ERR_NOTFOUND ? 0 : rc;
}

/* Queues the removal of an abandoned deposit's chunks, after every chunk
 * of it (the writer runs in order).  If it cannot be queued, the next
 * start removes them. */
static void
upload_abort_queue(struct vault_upload *u)
{
    struct upload_op *op = upload_op_new(u, NULL, NULL);

    if (op != NULL &&
        writer_submit(u->v->writer, upload_abort_run, upload_op_done, op) !=
            0) {
        free(op);
        u->refs--;
    }
}

void
vault_upload_free(struct vault_upload *u)
{
    if (u == NULL)
        return;
    u->released = true;
    /* A commit in flight decides: if it fails, its done removes the
     * chunks; if it succeeds, the document is whole and stays. */
    if (!u->committed && !u->finishing)
        upload_abort_queue(u);
    upload_unref(u);
}

/* --- reading ------------------------------------------------------------ */

/* Decodes the envelope at |key| and opens its metadata into |d|. */
static int
doc_open_record(const struct vault_person *p, const struct vault_id *doc,
                uint32_t version, const void *val, size_t vl,
                struct vault_doc *d)
{
    Dossier__Internal__DocRecord *rec;
    uint8_t aad[96];
    size_t alen;
    int rc;

    memset(d, 0, sizeof(*d));
    if ((rec = dossier__internal__doc_record__unpack(NULL, vl, val)) == NULL)
        return ERR_CORRUPT;
    if (rec->blob_id.len != VAULT_ID_LEN) {
        dossier__internal__doc_record__free_unpacked(rec, NULL);
        return ERR_CORRUPT;
    }
    memcpy(d->blob, rec->blob_id.data, VAULT_ID_LEN);
    d->chunks = rec->chunks;
    alen = meta_aad(aad, &p->id, doc, version, d->blob);
    rc = vault__open_msg(p, aad, alen, rec->sealed_meta.data,
                         rec->sealed_meta.len,
                         &dossier__v1__document_meta__descriptor,
                         (ProtobufCMessage **)&d->meta);
    dossier__internal__doc_record__free_unpacked(rec, NULL);
    /* The chunk count is in clear: it must agree with the sealed size. */
    if (rc == 0 && (uint64_t)d->chunks !=
                       ((uint64_t)d->meta->size + VAULT_CHUNK - 1) / VAULT_CHUNK) {
        vault_doc_close(d);
        return ERR_CORRUPT;
    }
    return rc;
}

int
vault_doc_open(struct vault *v, const struct vault_person *p,
               const char *doc_id, uint32_t version, struct vault_doc *out)
{
    struct vault_id doc;
    struct store_txn *t;
    uint8_t key[DOC_KEY_LEN];
    const void *val;
    size_t vl, klen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (vault__id_parse(doc_id, 'p', &doc) != 0)
        return ERR_INVALID;
    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if (version == 0 && (rc = doc_latest(t, &p->id, &doc, &version)) == 0 &&
        version == 0)
        rc = ERR_NOTFOUND;
    if (rc == 0) {
        klen = doc_key(key, &p->id, &doc, version);
        rc = store_get(t, STORE_DB_DOCS, key, klen, &val, &vl);
    }
    if (rc == 0)
        rc = doc_open_record(p, &doc, version, val, vl, out);
    store_txn_abort(t);
    return rc;
}

void
vault_doc_close(struct vault_doc *d)
{
    if (d->meta != NULL)
        dossier__v1__document_meta__free_unpacked(d->meta, NULL);
    memset(d, 0, sizeof(*d));
}

size_t
vault_doc_chunk_len(const struct vault_doc *d, uint32_t n)
{
    uint64_t off = (uint64_t)n * VAULT_CHUNK;
    uint64_t size = (uint64_t)d->meta->size;

    if (n >= d->chunks || off >= size)
        return 0;
    return size - off < VAULT_CHUNK ? (size_t)(size - off) : VAULT_CHUNK;
}

int
vault_doc_chunk(struct vault *v, const struct vault_person *p,
                const struct vault_doc *d, uint32_t n, uint8_t *out)
{
    struct store_txn *t;
    uint8_t key[CHUNK_KEY_LEN], aad[64];
    const void *val;
    size_t vl;
    size_t klen = chunk_key(key, &p->id, d->blob, n);
    size_t alen = chunk_aad(aad, &p->id, d->blob, n);
    size_t want = vault_doc_chunk_len(d, n);
    int rc;

    if (n >= d->chunks)
        return ERR_NOTFOUND;
    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    rc = store_get(t, STORE_DB_CHUNKS, key, klen, &val, &vl);
    /* Checked before decrypting: |out| has room for |want| bytes only. */
    if (rc == 0 && crypto_open_len(vl) != want)
        rc = ERR_CORRUPT;
    if (rc == 0)
        rc = crypto_open(p->dek, aad, alen, val, vl, out, NULL);
    store_txn_abort(t);
    return rc;
}

int
vault_doc_list(struct vault *v, const struct vault_person *p, const char *type,
               bool all, Dossier__V1__DocumentMeta ***out, size_t *n)
{
    Dossier__V1__DocumentMeta **arr = NULL;
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    size_t cnt = 0;
    int rc;

    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_DOCS, p->id.b, VAULT_ID_LEN,
                                &cur)) != 0) {
        store_txn_abort(t);
        return rc;
    }
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        struct vault_doc d;
        struct vault_id doc;
        uint32_t version, latest;

        if (e.key_len != DOC_KEY_LEN) {
            rc = ERR_CORRUPT;
            break;
        }
        memcpy(doc.b, (const uint8_t *)e.key + VAULT_ID_LEN, VAULT_ID_LEN);
        version = be_get32((const uint8_t *)e.key + 2 * VAULT_ID_LEN);
        /* A version is current when no later one exists: derived from the
         * keys, never from a flag a flipped byte could change. */
        if (!all) {
            if ((rc = doc_latest(t, &p->id, &doc, &latest)) != 0)
                break;
            if (version != latest)
                continue;
        }
        rc = doc_open_record(p, &doc, version, e.val, e.val_len, &d);
        if (rc != 0)
            break;
        if (type != NULL && type[0] != '\0' && strcmp(d.meta->type, type) != 0) {
            vault_doc_close(&d);
            continue;
        }
        void *np = realloc(arr, (cnt + 1) * sizeof(*arr));
        if (np == NULL) {
            vault_doc_close(&d);
            rc = -ENOMEM;
            break;
        }
        arr = np;
        arr[cnt++] = d.meta;
    }
    store_cursor_close(cur);
    store_txn_abort(t);
    if (rc == ERR_NOTFOUND)
        rc = 0;
    if (rc != 0) {
        for (size_t i = 0; i < cnt; i++)
            dossier__v1__document_meta__free_unpacked(arr[i], NULL);
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}
