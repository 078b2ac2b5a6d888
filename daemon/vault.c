/*
 * vault.c -- persons, situations, facts and keys of the encrypted dossier
 * (see vault.h).  Documents are in vault_docs.c.
 *
 * Record layout (all integers big-endian; ids are 16 random bytes):
 *   keys env   PERSONS[id]                    wrapped DEK (keyring)
 *   data env   PERSONS[id]                    PersonRecord (clear, no PII)
 *              NIR[hmac(pepper, "nir:"..)]    id
 *              NIR[hmac(pepper, "principal:"..)] id
 *              SITUATIONS[id | rev(8)]        sealed Situation
 *              DOCS[id | doc(16) | ver(4)]    DocRecord
 *              CHUNKS[id | blob(16) | n(4)]   sealed chunk
 *              FACTS[id | fact(16)]           sealed AgencyFact
 *              UPLOADS[id | blob(16)]         UploadRecord
 * Every seal's additional data starts with a record tag and the person's
 * id, then the object's key fields (vault__aad).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "be.h"
#include "catalog.h"
#include "crypto.h"
#include "err.h"
#include "internal/records.pb-c.h"
#include "keyring.h"
#include "log.h"
#include "store.h"
#include "vault.h"
#include "vault_int.h"
#include "writer.h"

/* --- ids ------------------------------------------------------------- */

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford */

void
vault__id_format(const struct vault_id *id, char kind, char out[VAULT_ID_STR])
{
    /* 128 bits -> 26 base32 digits (130 bits, top two zero), after the
     * letter that says what the id names.  b[0] is the top byte. */
    unsigned __int128 v = 0;

    for (int i = 0; i < 16; i++)
        v = (v << 8) | id->b[i];
    out[0] = kind;
    for (int i = 25; i >= 0; i--) {
        out[1 + i] = b32[(unsigned)(v & 31)];
        v >>= 5;
    }
    out[VAULT_ID_STR - 1] = '\0';
}

/* One more than the value of each base32 digit, 0 for any other byte
 * (lower case only, as formatted): ids are parsed on every call that
 * names a dossier or a document, a table beats a search per digit. */
static const uint8_t b32_values[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
    ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['g'] = 17, ['h'] = 18,
    ['j'] = 19, ['k'] = 20, ['m'] = 21, ['n'] = 22, ['p'] = 23, ['q'] = 24,
    ['r'] = 25, ['s'] = 26, ['t'] = 27, ['v'] = 28, ['w'] = 29, ['x'] = 30,
    ['y'] = 31, ['z'] = 32,
};

/* The value of base32 digit |c|, or -1. */
static int
b32_value(unsigned char c)
{
    return (int)b32_values[c] - 1;
}

int
vault__id_parse(const char *s, char kind, struct vault_id *out)
{
    unsigned __int128 v = 0;

    memset(out, 0, sizeof(*out));
    if (s == NULL || strlen(s) != VAULT_ID_STR - 1 || s[0] != kind)
        return ERR_INVALID;
    for (int i = 0; i < 26; i++) {
        int d = b32_value((unsigned char)s[1 + i]);

        if (d < 0)
            return ERR_INVALID;
        if (i == 0 && d > 7)
            return ERR_INVALID; /* 130 bits: the two top ones are zero */
        v = (v << 5) | (unsigned)d;
    }
    for (int i = 15; i >= 0; i--) {
        out->b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return 0;
}

void
vault_id_format(const struct vault_id *id, char out[VAULT_ID_STR])
{
    vault__id_format(id, 'd', out);
}

int
vault_id_parse(const char *s, struct vault_id *out)
{
    return vault__id_parse(s, 'd', out);
}

/* --- shared internals (vault_int.h) ----------------------------------- */

size_t
vault__key(uint8_t *key, const struct vault_id *id, const void *a, size_t alen,
           const void *b, size_t blen)
{
    size_t n = VAULT_ID_LEN;

    memcpy(key, id->b, VAULT_ID_LEN);
    if (alen > 0)
        memcpy(key + n, a, alen);
    n += alen;
    if (blen > 0)
        memcpy(key + n, b, blen);
    return n + blen;
}

size_t
vault__aad(uint8_t *aad, char tag, const struct vault_id *id, const void *a,
           size_t alen, const void *b, size_t blen)
{
    aad[0] = (uint8_t)tag;
    return 1 + vault__key(aad + 1, id, a, alen, b, blen);
}

int
vault__seal_msg(const struct vault_person *p, const uint8_t *aad,
                size_t aadlen, const ProtobufCMessage *m, struct buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *plain = malloc(n ? n : 1);
    int rc;

    if (plain == NULL)
        return -ENOMEM;
    protobuf_c_message_pack(m, plain);
    rc = crypto_seal_buf(p->dek, aad, aadlen, plain, n, out);
    OPENSSL_cleanse(plain, n);
    free(plain);
    return rc;
}

/* Stored records are small (hundreds of bytes): they are opened on the
 * stack, without an allocation, up to this size; larger ones in a buffer
 * of their own. */
#define VAULT_MSG_STACK 2048

int
vault__open_msg(const struct vault_person *p, const uint8_t *aad,
                size_t aadlen, const void *sealed, size_t len,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    uint8_t small[VAULT_MSG_STACK];
    struct buf plain;
    const uint8_t *pt = small;
    size_t ptlen = crypto_open_len(len), wipe = 0;
    int rc;

    buf_init(&plain);
    if (ptlen <= sizeof(small)) {
        /* crypto_open wipes what it wrote if it fails. */
        if ((rc = crypto_open(p->dek, aad, aadlen, sealed, len, small,
                              &ptlen)) != 0)
            goto done;
        wipe = ptlen;
    } else {
        if ((rc = crypto_open_buf(p->dek, aad, aadlen, sealed, len,
                                  &plain)) != 0)
            goto done;
        pt = buf_peek(&plain);
        ptlen = buf_size(&plain);
    }
    *out = protobuf_c_message_unpack(desc, NULL, ptlen, pt);
    /* Authentic bytes that do not parse: written by a bug, not a thief. */
    rc = *out != NULL ? 0 : ERR_CORRUPT;
done:
    crypto_wipe(small, wipe);
    buf_wipe(&plain);
    return rc;
}

int64_t
vault__now(void)
{
    return (int64_t)time(NULL);
}

/* --- open and close ---------------------------------------------------- */

static void vault_uploads_clear(struct vault *v);

int
vault__keys_begin(struct vault *v, struct store_txn **out)
{
    int rc;

    if (v->keys_batch == NULL &&
        (rc = store_txn_begin(v->keys, STORE_TXN_WRITE, NULL,
                              &v->keys_batch)) != 0)
        return rc;
    return store_txn_begin(v->keys, STORE_TXN_WRITE, v->keys_batch, out);
}

int
vault__keys_end(struct store_txn *t, int rc)
{
    if (rc != 0) {
        store_txn_abort(t);
        return rc;
    }
    return store_txn_commit(t);
}

/* The writer's batch-end hook: commits the batch's key-store writes
 * before the batch (one sync for all the enrolments and erasures of a
 * batch, rather than one each), or drops them with the batch. */
static int
vault_keys_batch_end(void *arg, bool commit)
{
    struct vault *v = arg;
    struct store_txn *t = v->keys_batch;

    v->keys_batch = NULL;
    if (t == NULL)
        return 0;
    if (!commit) {
        store_txn_abort(t);
        return 0;
    }
    return store_txn_commit(t);
}

int
vault_open(struct store *data, struct store *keys, struct writer *w,
           struct keyring *kr, const struct catalog *cat,
           uint64_t max_document, struct vault **out)
{
    struct vault *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return -ENOMEM;
    v->data = data;
    v->keys = keys;
    v->writer = w;
    v->keyring = kr;
    v->catalog = cat;
    v->max_document = max_document;
    vault_uploads_clear(v);
    if (w != NULL) /* offline tools (dossier-admin) open it without one */
        writer_on_batch_end(w, vault_keys_batch_end, v);
    *out = v;
    return 0;
}

void
vault_close(struct vault *v)
{
    /* After writer_free (main.c): no batch runs any more. */
    if (v != NULL && v->keys_batch != NULL)
        store_txn_abort(v->keys_batch);
    free(v);
}

void
vault_set_keyring(struct vault *v, struct keyring *kr)
{
    v->keyring = kr;
}

void
vault_set_change_hook(struct vault *v, vault_change_fn *fn, void *arg)
{
    v->change_fn = fn;
    v->change_arg = arg;
}

int
vault__changed(struct vault *v, struct store_txn *t,
               const struct vault_person *p, const struct vault_id *dossier,
               const struct vault_change *ch)
{
    if (v->change_fn == NULL)
        return 0;
    return v->change_fn(t, p, dossier, ch, v->change_arg);
}

/*
 * A crash in the middle of a deposit leaves its chunks and its UPLOADS
 * record, never its metadata: the document was never visible.  Remove
 * them before serving.
 */
static void
vault_uploads_clear(struct vault *v)
{
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    size_t n = 0;
    int rc;

    if (store_txn_begin(v->data, STORE_TXN_WRITE, NULL, &t) != 0)
        return;
    if (store_cursor_open(t, STORE_DB_UPLOADS, NULL, 0, &cur) != 0) {
        store_txn_abort(t);
        return;
    }
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        uint8_t key[2 * VAULT_ID_LEN];
        if (e.key_len != sizeof(key))
            continue;
        memcpy(key, e.key, sizeof(key));
        if ((rc = vault__del_prefix(t, STORE_DB_CHUNKS, key, sizeof(key))) !=
                0 ||
            (rc = store_cursor_del(cur)) != 0)
            break;
        n++;
    }
    store_cursor_close(cur);
    if (rc != ERR_NOTFOUND || n == 0) {
        store_txn_abort(t);
        return;
    }
    if (store_txn_commit(t) == 0)
        log_info("removed unfinished deposits left by a crash count=%zu", n);
}

int
vault__del_prefix(struct store_txn *t, enum store_db db, const uint8_t *prefix,
                  size_t plen)
{
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if ((rc = store_cursor_open(t, db, prefix, plen, &cur)) != 0)
        return rc;
    while ((rc = store_cursor_next(cur, &e)) == 0)
        if ((rc = store_cursor_del(cur)) != 0)
            break;
    store_cursor_close(cur);
    return rc == ERR_NOTFOUND ? 0 : rc;
}

/* --- persons ----------------------------------------------------------- */

/* The lookup key of a NIR or a certificate id: a keyed hash, so the store
 * never holds either in clear. */
static int
vault_lookup_key(struct vault *v, const char *what, const char *value,
                 uint8_t out[32])
{
    if (strcmp(what, "nir") == 0)
        return keyring_nir_hash(v->keyring, value, out);
    return keyring_lookup_hash(v->keyring, what, value, out);
}

static int
vault_lookup(struct vault *v, const char *what, const char *value,
             struct vault_id *out)
{
    struct store_txn *t;
    uint8_t key[32];
    const void *val;
    size_t vl;
    int rc;

    if ((rc = vault_lookup_key(v, what, value, key)) != 0)
        return rc;
    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    rc = store_get(t, STORE_DB_NIR, key, sizeof(key), &val, &vl);
    if (rc == 0 && vl != VAULT_ID_LEN)
        rc = ERR_CORRUPT;
    if (rc == 0)
        memcpy(out->b, val, VAULT_ID_LEN);
    store_txn_abort(t);
    return rc;
}

int
vault_person_find_nir(struct vault *v, const char *nir, struct vault_id *out)
{
    return vault_lookup(v, "nir", nir, out);
}

int
vault_person_find_principal(struct vault *v, const char *principal_id,
                            struct vault_id *out)
{
    return vault_lookup(v, "principal", principal_id, out);
}

/* Reads the PersonRecord of |id| in |t|; the caller frees it. */
int
vault__person_record(struct store_txn *t, const struct vault_id *id,
                     Dossier__Internal__PersonRecord **out)
{
    const void *val;
    size_t vl;
    int rc;

    if ((rc = store_get(t, STORE_DB_PERSONS, id->b, VAULT_ID_LEN, &val, &vl)) !=
        0)
        return rc;
    *out = dossier__internal__person_record__unpack(NULL, vl, val);
    return *out != NULL ? 0 : ERR_CORRUPT;
}

int
vault_person_open(struct vault *v, const struct vault_id *id,
                  struct vault_person *p)
{
    struct store_txn *t;
    const void *val;
    size_t vl;
    int rc;

    memset(p, 0, sizeof(*p));
    if ((rc = store_txn_begin(v->keys, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    rc = store_get(t, STORE_DB_PERSONS, id->b, VAULT_ID_LEN, &val, &vl);
    if (rc == 0)
        rc = keyring_unwrap_dek(v->keyring, id->b, VAULT_ID_LEN, val, vl,
                                p->dek);
    store_txn_abort(t);
    if (rc != 0) {
        OPENSSL_cleanse(p->dek, sizeof(p->dek));
        return rc;
    }
    p->id = *id;
    p->open = true;
    return 0;
}

void
vault_person_close(struct vault_person *p)
{
    OPENSSL_cleanse(p->dek, sizeof(p->dek));
    p->open = false;
}

/* An enrolment travelling to the writer: everything is sealed already. */
struct vault_enrol_op {
    struct vault *v;
    struct vault_id id;
    uint8_t nir_key[32];
    uint8_t principal_key[32];
    bool has_principal;
    struct buf wrapped_dek;
    struct buf person;    /* packed PersonRecord */
    struct buf situation; /* sealed Situation, revision 1 */
    vault_done_fn *done;
    void *arg;
};

static void
vault_enrol_op_free(struct vault_enrol_op *op)
{
    buf_free(&op->wrapped_dek);
    buf_free(&op->person);
    buf_free(&op->situation);
    free(op);
}

/* Writer thread: the DEK first, in the key store (durable before the
 * batch: vault__keys_begin); then the records, in the batch. */
static int
vault_enrol_run(struct store_txn *t, void *arg)
{
    struct vault_enrol_op *op = arg;
    uint8_t key[VAULT_ID_LEN + 8];
    const void *val;
    size_t vl;
    int rc;

    rc = store_get(t, STORE_DB_NIR, op->nir_key, 32, &val, &vl);
    if (rc == 0)
        return ERR_EXISTS;
    if (rc != ERR_NOTFOUND)
        return rc;
    if (op->has_principal &&
        store_get(t, STORE_DB_NIR, op->principal_key, 32, &val, &vl) == 0)
        return ERR_EXISTS;
    if ((rc = vault__keys_put(op->v, &op->id, buf_peek(&op->wrapped_dek),
                              buf_size(&op->wrapped_dek))) != 0)
        return rc;
    if ((rc = store_put(t, STORE_DB_PERSONS, op->id.b, VAULT_ID_LEN,
                        buf_peek(&op->person), buf_size(&op->person),
                        STORE_PUT_NOOVERWRITE)) != 0 ||
        (rc = store_put(t, STORE_DB_NIR, op->nir_key, 32, op->id.b,
                        VAULT_ID_LEN, STORE_PUT_NOOVERWRITE)) != 0)
        return rc;
    if (op->has_principal &&
        (rc = store_put(t, STORE_DB_NIR, op->principal_key, 32, op->id.b,
                        VAULT_ID_LEN, STORE_PUT_NOOVERWRITE)) != 0)
        return rc;
    be_put64(key + VAULT_ID_LEN, 1);
    memcpy(key, op->id.b, VAULT_ID_LEN);
    return store_put(t, STORE_DB_SITUATIONS, key, sizeof(key),
                     buf_peek(&op->situation), buf_size(&op->situation), 0);
}

static void
vault_enrol_done(void *arg, int status)
{
    struct vault_enrol_op *op = arg;

    op->done(op->arg, status);
    vault_enrol_op_free(op);
}

int
vault__keys_put(struct vault *v, const struct vault_id *id, const void *wrapped,
                size_t len)
{
    struct store_txn *t;
    int rc;

    if ((rc = vault__keys_begin(v, &t)) != 0)
        return rc;
    return vault__keys_end(
        t, store_put(t, STORE_DB_PERSONS, id->b, VAULT_ID_LEN, wrapped, len, 0));
}

int
vault_person_enrol(struct vault *v, const char *nir,
                   const Dossier__V1__EnrolRequest *req, struct vault_id *id,
                   vault_done_fn *done, void *arg)
{
    Dossier__Internal__PersonRecord rec = DOSSIER__INTERNAL__PERSON_RECORD__INIT;
    Dossier__Internal__IdentityRecord ident =
        DOSSIER__INTERNAL__IDENTITY_RECORD__INIT;
    Dossier__V1__Situation empty = DOSSIER__V1__SITUATION__INIT;
    const Dossier__V1__Situation *sit = req->situation ? req->situation : &empty;
    Dossier__V1__Situation s1;
    struct vault_person p;
    struct vault_enrol_op *op;
    struct buf sealed_ident;
    uint8_t aad[64], rev[8];
    size_t alen;
    int rc;

    if ((op = calloc(1, sizeof(*op))) == NULL)
        return -ENOMEM;
    buf_init(&sealed_ident);
    memset(&p, 0, sizeof(p));
    op->v = v;
    op->done = done;
    op->arg = arg;
    if ((rc = crypto_random(op->id.b, VAULT_ID_LEN)) != 0 ||
        (rc = crypto_random(p.dek, sizeof(p.dek))) != 0)
        goto fail;
    p.id = op->id;
    p.open = true;
    if ((rc = vault_lookup_key(v, "nir", nir, op->nir_key)) != 0)
        goto fail;
    if (req->person_principal_id != NULL && req->person_principal_id[0]) {
        op->has_principal = true;
        if ((rc = vault_lookup_key(v, "principal", req->person_principal_id,
                                   op->principal_key)) != 0)
            goto fail;
    }
    if ((rc = keyring_wrap_dek(v->keyring, op->id.b, VAULT_ID_LEN, p.dek,
                               &op->wrapped_dek)) != 0)
        goto fail;

    ident.nir = (char *)nir;
    ident.given_name = req->given_name;
    ident.family_name = req->family_name;
    if (req->birth_date != NULL) {
        ident.birth_year = req->birth_date->year;
        ident.birth_month = req->birth_date->month;
        ident.birth_day = req->birth_date->day;
    }
    alen = vault__aad(aad, 'I', &op->id, NULL, 0, NULL, 0);
    if ((rc = vault__seal_msg(&p, aad, alen, &ident.base, &sealed_ident)) != 0)
        goto fail;

    s1 = *sit;
    s1.revision = 1;
    be_put64(rev, 1);
    alen = vault__aad(aad, 'S', &op->id, rev, 8, NULL, 0);
    if ((rc = vault__seal_msg(&p, aad, alen, &s1.base, &op->situation)) != 0)
        goto fail;

    rec.created_unix = vault__now();
    rec.sealed_identity.data = (uint8_t *)buf_peek(&sealed_ident);
    rec.sealed_identity.len = buf_size(&sealed_ident);
    rec.situation_rev = 1;
    rec.nir_hash.data = op->nir_key;
    rec.nir_hash.len = 32;
    if (op->has_principal) {
        rec.principal_hash.data = op->principal_key;
        rec.principal_hash.len = 32;
    }
    {
        size_t n = dossier__internal__person_record__get_packed_size(&rec);
        uint8_t *dst = buf_space(&op->person, n);
        if (dst == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        dossier__internal__person_record__pack(&rec, dst);
        buf_commit(&op->person, n);
    }
    vault_person_close(&p);
    buf_free(&sealed_ident);
    *id = op->id;
    if ((rc = writer_submit(v->writer, vault_enrol_run, vault_enrol_done, op)) !=
        0) {
        vault_enrol_op_free(op);
        return rc;
    }
    return 0;

fail:
    vault_person_close(&p);
    buf_free(&sealed_ident);
    vault_enrol_op_free(op);
    return rc;
}

/* --- situation --------------------------------------------------------- */

int
vault_situation_get(struct vault *v, const struct vault_person *p,
                    bool history, Dossier__V1__GetSituationResponse **out)
{
    Dossier__V1__GetSituationResponse *r;
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if ((r = malloc(sizeof(*r))) == NULL)
        return -ENOMEM;
    dossier__v1__get_situation_response__init(r);
    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0) {
        free(r);
        return rc;
    }
    if ((rc = store_cursor_open(t, STORE_DB_SITUATIONS, p->id.b, VAULT_ID_LEN,
                                &cur)) != 0)
        goto done;
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        Dossier__V1__Situation *s = NULL;
        uint8_t aad[64];
        size_t alen;

        if (e.key_len != VAULT_ID_LEN + 8) {
            rc = ERR_CORRUPT;
            break;
        }
        alen = vault__aad(aad, 'S', &p->id,
                          (const uint8_t *)e.key + VAULT_ID_LEN, 8, NULL, 0);
        rc = vault__open_msg(p, aad, alen, e.val, e.val_len,
                             &dossier__v1__situation__descriptor,
                             (ProtobufCMessage **)&s);
        if (rc != 0)
            break;
        if (r->current != NULL) {
            if (history) {
                void *np = realloc(r->history,
                                   (r->n_history + 1) * sizeof(*r->history));
                if (np == NULL) {
                    dossier__v1__situation__free_unpacked(s, NULL);
                    rc = -ENOMEM;
                    break;
                }
                r->history = np;
                r->history[r->n_history++] = r->current;
            } else {
                dossier__v1__situation__free_unpacked(r->current, NULL);
            }
        }
        r->current = s;
    }
    if (rc == ERR_NOTFOUND)
        rc = 0;
    store_cursor_close(cur);
    if (rc == 0 && r->current == NULL)
        rc = ERR_NOTFOUND;
done:
    store_txn_abort(t);
    if (rc != 0) {
        dossier__v1__get_situation_response__free_unpacked(r, NULL);
        return rc;
    }
    *out = r;
    return 0;
}

struct vault_put_op {
    struct vault *v;
    struct vault_person p; /* situation: for the change hook; wiped */
    struct buf plain;      /* situation: packed, for the change hook; wiped */
    char life_event[64];
    enum store_db db;
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    struct buf val;
    struct vault_id person; /* for the situation revision bump */
    uint64_t rev;           /* situation: decided by the writer */
    uint64_t *rev_out;      /* situation: the caller's, set before done */
    vault_done_fn *done;
    void *arg;
};

static void
vault_put_op_free(struct vault_put_op *op)
{
    buf_free(&op->val);
    buf_wipe(&op->plain);
    vault_person_close(&op->p);
    free(op);
}

static void
vault_put_done(void *arg, int status)
{
    struct vault_put_op *op = arg;

    if (op->rev_out != NULL && status == 0)
        *op->rev_out = op->rev;
    op->done(op->arg, status);
    vault_put_op_free(op);
}

/*
 * Writer thread: a situation revision, and the person's pointer to it.
 * The revision is the stored one plus one, decided here, where updates
 * are serialised: two concurrent updates get two revisions, never one
 * key twice.  So the value is sealed here too (its additional data names
 * the revision).
 */
static int
vault_situation_run(struct store_txn *t, void *arg)
{
    struct vault_put_op *op = arg;
    Dossier__Internal__PersonRecord *rec;
    Dossier__V1__Situation *sit;
    uint8_t *dst, aad[64], be[8];
    size_t n, alen;
    int rc;

    if ((rc = vault__person_record(t, &op->person, &rec)) != 0)
        return rc;
    if (rec->erased_unix != 0) {
        dossier__internal__person_record__free_unpacked(rec, NULL);
        return ERR_NOTFOUND;
    }
    op->rev = rec->situation_rev + 1;
    rec->situation_rev = op->rev;
    n = dossier__internal__person_record__get_packed_size(rec);
    if ((dst = malloc(n)) == NULL) {
        dossier__internal__person_record__free_unpacked(rec, NULL);
        return -ENOMEM;
    }
    dossier__internal__person_record__pack(rec, dst);
    dossier__internal__person_record__free_unpacked(rec, NULL);
    rc = store_put(t, STORE_DB_PERSONS, op->person.b, VAULT_ID_LEN, dst, n, 0);
    free(dst);
    if (rc != 0)
        return rc;

    sit = dossier__v1__situation__unpack(NULL, buf_size(&op->plain),
                                         buf_peek(&op->plain));
    if (sit == NULL)
        return -ENOMEM; /* packed by us on the loop: only memory fails */
    sit->revision = (int64_t)op->rev;
    n = dossier__v1__situation__get_packed_size(sit);
    buf_wipe(&op->plain);
    if ((dst = buf_space(&op->plain, n ? n : 1)) == NULL) {
        dossier__v1__situation__free_unpacked(sit, NULL);
        return -ENOMEM;
    }
    buf_commit(&op->plain, dossier__v1__situation__pack(sit, dst));
    be_put64(be, op->rev);
    op->klen = vault__key(op->key, &op->person, be, 8, NULL, 0);
    alen = vault__aad(aad, 'S', &op->person, be, 8, NULL, 0);
    buf_free(&op->val);
    rc = vault__seal_msg(&op->p, aad, alen, &sit->base, &op->val);
    dossier__v1__situation__free_unpacked(sit, NULL);
    if (rc != 0)
        return rc;
    if ((rc = store_put(t, op->db, op->key, op->klen, buf_peek(&op->val),
                        buf_size(&op->val), STORE_PUT_NOOVERWRITE)) != 0)
        return rc;
    {
        struct vault_change ch = {
            .kind = VAULT_CHANGE_SITUATION,
            .object_id = "",
            .type = "",
            .version = (int64_t)op->rev,
            .life_event = op->life_event,
            .situation = buf_peek(&op->plain),
            .situation_len = buf_size(&op->plain),
        };
        return vault__changed(op->v, t, &op->p, &op->person, &ch);
    }
}

int
vault_situation_put(struct vault *v, const struct vault_person *p,
                    const Dossier__V1__Situation *s, const char *life_event,
                    uint64_t *rev, vault_done_fn *done, void *arg)
{
    struct vault_put_op *op;
    size_t plen;
    uint8_t *dst;
    int rc;

    if (life_event != NULL && strlen(life_event) >= sizeof(op->life_event))
        return ERR_INVALID;
    if ((op = calloc(1, sizeof(*op))) == NULL)
        return -ENOMEM;
    buf_init(&op->val);
    buf_init(&op->plain);
    op->v = v;
    op->p = *p;
    if (life_event != NULL)
        memcpy(op->life_event, life_event, strlen(life_event) + 1);
    op->db = STORE_DB_SITUATIONS;
    op->person = p->id;
    op->rev_out = rev;
    op->done = done;
    op->arg = arg;
    plen = dossier__v1__situation__get_packed_size(s);
    if ((dst = buf_space(&op->plain, plen ? plen : 1)) == NULL) {
        vault_put_op_free(op);
        return -ENOMEM;
    }
    buf_commit(&op->plain, dossier__v1__situation__pack(s, dst));
    if ((rc = writer_submit(v->writer, vault_situation_run, vault_put_done,
                            op)) != 0) {
        vault_put_op_free(op);
        return rc;
    }
    return 0;
}

/* --- agency data ------------------------------------------------------- */

static int
vault_plain_put_run(struct store_txn *t, void *arg)
{
    struct vault_put_op *op = arg;

    return store_put(t, op->db, op->key, op->klen, buf_peek(&op->val),
                     buf_size(&op->val), STORE_PUT_NOOVERWRITE);
}

int
vault_fact_put(struct vault *v, const struct vault_person *p,
               const Dossier__V1__AgencyFact *f, const char *issuer,
               char fact_id[VAULT_ID_STR], vault_done_fn *done, void *arg)
{
    Dossier__V1__AgencyFact copy = *f;
    struct vault_put_op *op;
    struct vault_id fid;
    uint8_t aad[64];
    size_t alen;
    int rc;

    if ((rc = crypto_random(fid.b, VAULT_ID_LEN)) != 0)
        return rc;
    if ((op = calloc(1, sizeof(*op))) == NULL)
        return -ENOMEM;
    buf_init(&op->val);
    op->db = STORE_DB_FACTS;
    op->done = done;
    op->arg = arg;
    op->klen = vault__key(op->key, &p->id, fid.b, VAULT_ID_LEN, NULL, 0);
    copy.issuer = (char *)issuer;
    copy.dossier_id = (char *)"";
    alen = vault__aad(aad, 'F', &p->id, fid.b, VAULT_ID_LEN, NULL, 0);
    if ((rc = vault__seal_msg(p, aad, alen, &copy.base, &op->val)) != 0 ||
        (rc = writer_submit(v->writer, vault_plain_put_run, vault_put_done,
                            op)) != 0) {
        buf_free(&op->val);
        free(op);
        return rc;
    }
    vault__id_format(&fid, 'f', fact_id);
    return 0;
}

/* Facts are sealed without their dossier id (it is in the key): put it
 * back for the caller. */
static int
fact_set_dossier(Dossier__V1__AgencyFact *f, const struct vault_id *id)
{
    char s[VAULT_ID_STR];
    char *copy;

    vault_id_format(id, s);
    if ((copy = strdup(s)) == NULL)
        return -ENOMEM;
    if (f->dossier_id != NULL && f->dossier_id != protobuf_c_empty_string)
        free(f->dossier_id);
    f->dossier_id = copy;
    return 0;
}

int
vault_fact_list(struct vault *v, const struct vault_person *p,
                const char *type, Dossier__V1__AgencyFact ***out, size_t *n)
{
    Dossier__V1__AgencyFact **arr = NULL;
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    size_t cnt = 0;
    int rc;

    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_FACTS, p->id.b, VAULT_ID_LEN,
                                &cur)) != 0) {
        store_txn_abort(t);
        return rc;
    }
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        Dossier__V1__AgencyFact *f = NULL;
        uint8_t aad[64];
        size_t alen;

        if (e.key_len != 2 * VAULT_ID_LEN) {
            rc = ERR_CORRUPT;
            break;
        }
        alen = vault__aad(aad, 'F', &p->id,
                          (const uint8_t *)e.key + VAULT_ID_LEN, VAULT_ID_LEN,
                          NULL, 0);
        if ((rc = vault__open_msg(p, aad, alen, e.val, e.val_len,
                                  &dossier__v1__agency_fact__descriptor,
                                  (ProtobufCMessage **)&f)) != 0)
            break;
        if (type != NULL && type[0] != '\0' && strcmp(f->type, type) != 0) {
            dossier__v1__agency_fact__free_unpacked(f, NULL);
        } else if (fact_set_dossier(f, &p->id) != 0) {
            dossier__v1__agency_fact__free_unpacked(f, NULL);
            rc = -ENOMEM;
            break;
        } else {
            void *np = realloc(arr, (cnt + 1) * sizeof(*arr));
            if (np == NULL) {
                dossier__v1__agency_fact__free_unpacked(f, NULL);
                rc = -ENOMEM;
                break;
            }
            arr = np;
            arr[cnt++] = f;
        }
    }
    store_cursor_close(cur);
    store_txn_abort(t);
    if (rc == ERR_NOTFOUND)
        rc = 0;
    if (rc != 0) {
        for (size_t i = 0; i < cnt; i++)
            dossier__v1__agency_fact__free_unpacked(arr[i], NULL);
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* --- erase ------------------------------------------------------------- */

struct vault_erase_op {
    struct vault *v;
    struct vault_id id;
    struct vault_person p; /* for the change hook; wiped */
    vault_done_fn *done;
    void *arg;
};

/* Writer thread.  The DEK goes first, in the key-store transaction of the
 * batch, which is durable before the batch's own commit: from then on
 * nothing of the person can be opened anywhere, even if the rest of the
 * erasure were lost. */
static int
vault_erase_run(struct store_txn *t, void *arg)
{
    struct vault_erase_op *op = arg;
    Dossier__Internal__PersonRecord *rec, erased =
                                              DOSSIER__INTERNAL__PERSON_RECORD__INIT;
    struct store_txn *kt;
    uint8_t *dst;
    size_t n;
    int rc;

    if ((rc = vault__person_record(t, &op->id, &rec)) != 0)
        return rc;
    if (rec->erased_unix != 0) {
        dossier__internal__person_record__free_unpacked(rec, NULL);
        return ERR_NOTFOUND;
    }
    {
        /* Told while the consents can still be read. */
        struct vault_change ch = {.kind = VAULT_CHANGE_ERASURE,
                                  .object_id = "",
                                  .type = "",
                                  .life_event = ""};

        if ((rc = vault__changed(op->v, t, op->p.open ? &op->p : NULL,
                                 &op->id, &ch)) != 0)
            goto out;
    }
    if ((rc = vault__keys_begin(op->v, &kt)) != 0)
        goto out;
    rc = store_del(kt, STORE_DB_PERSONS, op->id.b, VAULT_ID_LEN);
    if ((rc = vault__keys_end(kt, rc == ERR_NOTFOUND ? 0 : rc)) != 0)
        goto out;

    if (rec->nir_hash.len == 32)
        store_del(t, STORE_DB_NIR, rec->nir_hash.data, 32);
    if (rec->principal_hash.len == 32)
        store_del(t, STORE_DB_NIR, rec->principal_hash.data, 32);
    if ((rc = vault__del_prefix(t, STORE_DB_SITUATIONS, op->id.b,
                                VAULT_ID_LEN)) != 0 ||
        (rc = vault__del_prefix(t, STORE_DB_DOCS, op->id.b, VAULT_ID_LEN)) !=
            0 ||
        (rc = vault__del_prefix(t, STORE_DB_CHUNKS, op->id.b, VAULT_ID_LEN)) !=
            0 ||
        (rc = vault__del_prefix(t, STORE_DB_FACTS, op->id.b, VAULT_ID_LEN)) !=
            0 ||
        (rc = vault__del_prefix(t, STORE_DB_UPLOADS, op->id.b,
                                VAULT_ID_LEN)) != 0 ||
        (rc = vault_grants_erase_txn(t, &op->id)) != 0)
        goto out;
    /* What remains: the dossier existed, and when it was erased. */
    erased.created_unix = rec->created_unix;
    erased.erased_unix = vault__now();
    n = dossier__internal__person_record__get_packed_size(&erased);
    if ((dst = malloc(n ? n : 1)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    dossier__internal__person_record__pack(&erased, dst);
    rc = store_put(t, STORE_DB_PERSONS, op->id.b, VAULT_ID_LEN, dst, n, 0);
    free(dst);
out:
    dossier__internal__person_record__free_unpacked(rec, NULL);
    return rc;
}

static void
vault_erase_done(void *arg, int status)
{
    struct vault_erase_op *op = arg;

    op->done(op->arg, status);
    vault_person_close(&op->p);
    free(op);
}

int
vault_person_erase(struct vault *v, const struct vault_id *id,
                   vault_done_fn *done, void *arg)
{
    struct vault_erase_op *op = calloc(1, sizeof(*op));
    int rc;

    if (op == NULL)
        return -ENOMEM;
    op->v = v;
    op->id = *id;
    op->done = done;
    op->arg = arg;
    /* Without its key (already gone, or damaged) the person is erased all
     * the same; only the change hook sees no consents. */
    if (vault_person_open(v, id, &op->p) != 0)
        vault_person_close(&op->p);
    if ((rc = writer_submit(v->writer, vault_erase_run, vault_erase_done,
                            op)) != 0) {
        vault_person_close(&op->p);
        free(op);
    }
    return rc;
}

/* --- master-key rotation ----------------------------------------------- */

int
vault_rewrap_step(struct vault *v, const struct keyring *kr, size_t max,
                  size_t *done_out, size_t *left)
{
    uint32_t current = keyring_master_current_id(kr);
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    size_t done = 0, remaining = 0;
    int rc;

    /* In the batch's key-store transaction (vault__keys_begin): a
     * rotation step queued behind enrolments of the same batch sees their
     * keys, and its re-wraps are durable before the step is reported
     * done. */
    if ((rc = vault__keys_begin(v, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_PERSONS, NULL, 0, &cur)) != 0)
        return vault__keys_end(t, rc);
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        uint8_t dek[32], id[VAULT_ID_LEN];
        struct buf w;

        if (e.key_len != VAULT_ID_LEN ||
            keyring_wrapped_key_id(e.val, e.val_len) == current)
            continue;
        if (done == max) {
            remaining++;
            continue;
        }
        buf_init(&w);
        memcpy(id, e.key, VAULT_ID_LEN);
        rc = keyring_unwrap_dek(kr, id, VAULT_ID_LEN, e.val, e.val_len, dek);
        if (rc == 0)
            rc = keyring_wrap_dek(kr, id, VAULT_ID_LEN, dek, &w);
        OPENSSL_cleanse(dek, sizeof(dek));
        /* Same key, same length: the cursor stays where it is. */
        if (rc == 0)
            rc = store_put(t, STORE_DB_PERSONS, id, VAULT_ID_LEN, buf_peek(&w),
                           buf_size(&w), 0);
        buf_free(&w);
        if (rc != 0)
            break;
        done++;
    }
    store_cursor_close(cur);
    /* On an error the step's re-wraps are dropped (the keys stay wrapped
     * under their old master key): the next step does them again. */
    if ((rc = vault__keys_end(t, rc == ERR_NOTFOUND ? 0 : rc)) != 0)
        return rc;
    *left = remaining;
    *done_out = done;
    if (done > 0)
        log_info("re-wrapped data keys under master key id=%u count=%zu "
                 "left=%zu",
                 current, done, remaining);
    return 0;
}
