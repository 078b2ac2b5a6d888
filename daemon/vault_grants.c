/*
 * vault_grants.c -- consents and mandates of the encrypted dossier: how
 * they are sealed, stored and indexed (see the grants section of vault.h).
 *
 * A consent or a mandate is a dossier.v1 message sealed with the person's
 * DEK, its additional data binding it to the person and to its own id
 * (tag 'A' for a consent, 'R' for a mandate: "représentation"), so a
 * record moved to another person or another id fails to open.  The GRANTS
 * index lets an agency or a delegate find what it holds without any
 * personal value in clear: principal URIs, agency kinds, opaque ids.
 *
 * This module decides nothing: whether a consent covers a read, or a
 * mandate an act, is policy.c's question.  Grants and revocations take an
 * optional check that runs inside the writer's transaction, so that the
 * caller can decide on exactly the state the write is made on.
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

#define TAG_CONSENT 'A'
#define TAG_MANDATE 'R'
#define GRANT_KEY_MAX STORE_KEY_MAX

/* --- ids, keys ----------------------------------------------------------- */

struct writer *
vault_writer(struct vault *v)
{
    return v->writer;
}

int
vault_read_begin(struct vault *v, struct store_txn **out)
{
    return store_txn_begin(v->data, STORE_TXN_READ, NULL, out);
}

int
vault_consent_id_parse(const char *s, struct vault_id *out)
{
    return vault__id_parse(s, 'c', out);
}

int
vault_mandate_id_parse(const char *s, struct vault_id *out)
{
    return vault__id_parse(s, 'm', out);
}

int
vault_document_id_parse(const char *s, struct vault_id *out)
{
    return vault__id_parse(s, 'p', out);
}

/*
 * The GRANTS key: |tag|, |who| and a NUL, then (when given) the dossier
 * and the object id.  Returns the length, or 0 if |who| is empty or too
 * long for a key.
 */
static size_t
grant_key(uint8_t *key, char tag, const char *who,
          const struct vault_id *dossier, const struct vault_id *obj)
{
    size_t wl = who != NULL ? strlen(who) : 0;
    size_t n = 0;

    if (wl == 0 || 2 + wl + 2 * VAULT_ID_LEN > GRANT_KEY_MAX)
        return 0;
    key[n++] = (uint8_t)tag;
    memcpy(key + n, who, wl);
    n += wl;
    key[n++] = 0;
    if (dossier != NULL) {
        memcpy(key + n, dossier->b, VAULT_ID_LEN);
        n += VAULT_ID_LEN;
    }
    if (obj != NULL) {
        memcpy(key + n, obj->b, VAULT_ID_LEN);
        n += VAULT_ID_LEN;
    }
    return n;
}

/* --- sealing ------------------------------------------------------------- */

static size_t
grant_aad(uint8_t *aad, char tag, const struct vault_id *person,
          const struct vault_id *obj)
{
    return vault__aad(aad, tag, person, obj->b, VAULT_ID_LEN, NULL, 0);
}

/* Reads and opens record |obj| of |db| in |t|. */
static int
grant_get(struct store_txn *t, enum store_db db, char tag,
          const struct vault_person *p, const struct vault_id *obj,
          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    uint8_t key[2 * VAULT_ID_LEN], aad[64];
    const void *val;
    size_t vl, klen, alen;
    int rc;

    klen = vault__key(key, &p->id, obj->b, VAULT_ID_LEN, NULL, 0);
    if ((rc = store_get(t, db, key, klen, &val, &vl)) != 0)
        return rc;
    alen = grant_aad(aad, tag, &p->id, obj);
    return vault__open_msg(p, aad, alen, val, vl, desc, out);
}

/* Seals |m| as record |obj| of |db| and puts it in |t|. */
static int
grant_put(struct store_txn *t, enum store_db db, char tag,
          const struct vault_person *p, const struct vault_id *obj,
          const ProtobufCMessage *m, unsigned flags)
{
    uint8_t key[2 * VAULT_ID_LEN], aad[64];
    struct buf sealed;
    size_t klen, alen;
    int rc;

    buf_init(&sealed);
    klen = vault__key(key, &p->id, obj->b, VAULT_ID_LEN, NULL, 0);
    alen = grant_aad(aad, tag, &p->id, obj);
    if ((rc = vault__seal_msg(p, aad, alen, m, &sealed)) == 0)
        rc = store_put(t, db, key, klen, buf_peek(&sealed), buf_size(&sealed),
                       flags);
    buf_free(&sealed);
    return rc;
}

/* --- grant and revoke on the writer ------------------------------------------
 */

enum grant_kind { GRANT_CONSENT, GRANT_MANDATE };

struct grant_op {
    struct vault *v;
    struct vault_person p; /* copy; wiped when the op ends */
    enum grant_kind kind;
    struct vault_id obj;
    const ProtobufCMessage *rec; /* grant: the caller's record */
    struct buf sealed;           /* grant: the record, sealed */
    uint8_t index[GRANT_KEY_MAX];
    size_t index_len;
    int64_t until;
    char by[256]; /* revoke: who */
    bool revoke;
    vault_grant_check_fn *check;
    void *check_arg;
    vault_done_fn *done;
    void *arg;
};

static void
grant_op_free(struct grant_op *op)
{
    buf_free(&op->sealed);
    vault_person_close(&op->p);
    free(op);
}

static void
grant_op_done(void *arg, int status)
{
    struct grant_op *op = arg;

    op->done(op->arg, status);
    grant_op_free(op);
}

static enum store_db
grant_db(enum grant_kind k)
{
    return k == GRANT_CONSENT ? STORE_DB_CONSENTS : STORE_DB_MANDATES;
}

static char
grant_tag(enum grant_kind k)
{
    return k == GRANT_CONSENT ? TAG_CONSENT : TAG_MANDATE;
}

static const ProtobufCMessageDescriptor *
grant_desc(enum grant_kind k)
{
    return k == GRANT_CONSENT ? &dossier__v1__consent__descriptor
                              : &dossier__v1__mandate__descriptor;
}

/* Writer thread: the record and its index entry, in one transaction. */
static int
grant_run(struct store_txn *t, void *arg)
{
    struct grant_op *op = arg;
    uint8_t key[2 * VAULT_ID_LEN], be[8];
    size_t klen;
    int rc;

    if (op->check != NULL &&
        (rc = op->check(t, &op->p, op->rec, op->check_arg)) != 0)
        return rc;
    klen = vault__key(key, &op->p.id, op->obj.b, VAULT_ID_LEN, NULL, 0);
    if ((rc = store_put(t, grant_db(op->kind), key, klen, buf_peek(&op->sealed),
                        buf_size(&op->sealed), STORE_PUT_NOOVERWRITE)) != 0)
        return rc;
    be_put64(be, (uint64_t)op->until);
    if ((rc = store_put(t, STORE_DB_GRANTS, op->index, op->index_len, be,
                        sizeof(be), 0)) != 0)
        return rc;
    if (op->kind == GRANT_CONSENT) {
        const Dossier__V1__Consent *c = (const Dossier__V1__Consent *)op->rec;
        struct vault_change ch = {.kind = VAULT_CHANGE_CONSENT_GRANTED,
                                  .object_id = c->consent_id,
                                  .type = "",
                                  .life_event = "",
                                  .consent = c};

        return vault__changed(op->v, t, &op->p, &op->p.id, &ch);
    }
    return 0;
}

/* Writer thread: opens the record, lets the caller check it, marks it
 * revoked (keeping a first revocation as it was) and writes it back. */
static int
revoke_run(struct store_txn *t, void *arg)
{
    struct grant_op *op = arg;
    ProtobufCMessage *m = NULL;
    int64_t now = vault__now();
    int rc;

    rc = grant_get(t, grant_db(op->kind), grant_tag(op->kind), &op->p, &op->obj,
                   grant_desc(op->kind), &m);
    if (rc != 0)
        return rc;
    if (op->check != NULL && (rc = op->check(t, &op->p, m, op->check_arg)) != 0)
        goto out;
    if (op->kind == GRANT_CONSENT) {
        Dossier__V1__Consent *c = (Dossier__V1__Consent *)m;
        if (c->revoked)
            goto out;
        c->revoked = true;
        c->revoked_unix = now;
        if (c->revoked_by != protobuf_c_empty_string)
            free(c->revoked_by);
        c->revoked_by = op->by;
        rc = grant_put(t, STORE_DB_CONSENTS, TAG_CONSENT, &op->p, &op->obj, m,
                       0);
        if (rc == 0) {
            struct vault_change ch = {.kind = VAULT_CHANGE_CONSENT_REVOKED,
                                      .object_id = c->consent_id,
                                      .type = "",
                                      .life_event = "",
                                      .consent = c};

            rc = vault__changed(op->v, t, &op->p, &op->p.id, &ch);
        }
        c->revoked_by = NULL; /* op->by is not the message's to free */
    } else {
        Dossier__V1__Mandate *md = (Dossier__V1__Mandate *)m;
        if (md->revoked)
            goto out;
        md->revoked = true;
        md->revoked_unix = now;
        if (md->revoked_by != protobuf_c_empty_string)
            free(md->revoked_by);
        md->revoked_by = op->by;
        rc = grant_put(t, STORE_DB_MANDATES, TAG_MANDATE, &op->p, &op->obj, m,
                       0);
        md->revoked_by = NULL;
    }
out:
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int
grant_submit(struct vault *v, const struct vault_person *p,
             enum grant_kind kind, const ProtobufCMessage *rec, const char *id,
             char tag, const char *who, int64_t until,
             vault_grant_check_fn *check, void *check_arg, vault_done_fn *done,
             void *arg)
{
    struct grant_op *op = calloc(1, sizeof(*op));
    uint8_t aad[64];
    size_t alen;
    int rc;

    if (op == NULL)
        return -ENOMEM;
    buf_init(&op->sealed);
    op->v = v;
    op->p = *p;
    op->kind = kind;
    op->rec = rec;
    op->until = until;
    op->check = check;
    op->check_arg = check_arg;
    op->done = done;
    op->arg = arg;
    if (vault__id_parse(id, kind == GRANT_CONSENT ? 'c' : 'm', &op->obj) != 0) {
        rc = ERR_INVALID;
        goto fail;
    }
    op->index_len = grant_key(op->index, tag, who, &p->id, &op->obj);
    if (op->index_len == 0) {
        rc = ERR_INVALID;
        goto fail;
    }
    alen = grant_aad(aad, grant_tag(kind), &p->id, &op->obj);
    if ((rc = vault__seal_msg(p, aad, alen, rec, &op->sealed)) != 0)
        goto fail;
    if ((rc = writer_submit(v->writer, grant_run, grant_op_done, op)) != 0)
        goto fail;
    return 0;
fail:
    grant_op_free(op);
    return rc;
}

static int
grant_id_new(char kind, char out[VAULT_ID_STR])
{
    struct vault_id id;
    int rc;

    if ((rc = crypto_random(id.b, VAULT_ID_LEN)) != 0)
        return rc;
    vault__id_format(&id, kind, out);
    return 0;
}

int
vault_consent_id_new(char out[VAULT_ID_STR])
{
    return grant_id_new('c', out);
}

int
vault_mandate_id_new(char out[VAULT_ID_STR])
{
    return grant_id_new('m', out);
}

int
vault_consent_grant(struct vault *v, const struct vault_person *p,
                    const Dossier__V1__Consent *c, vault_grant_check_fn *check,
                    void *check_arg, vault_done_fn *done, void *arg)
{
    bool one = c->agency != NULL && c->agency[0] != '\0';

    return grant_submit(v, p, GRANT_CONSENT, &c->base, c->consent_id,
                        one ? 'a' : 'k', one ? c->agency : c->agency_kind,
                        c->valid_until_unix, check, check_arg, done, arg);
}

int
vault_mandate_grant(struct vault *v, const struct vault_person *p,
                    const Dossier__V1__Mandate *m, vault_grant_check_fn *check,
                    void *check_arg, vault_done_fn *done, void *arg)
{
    return grant_submit(v, p, GRANT_MANDATE, &m->base, m->mandate_id, 'd',
                        m->delegate, m->valid_until_unix, check, check_arg,
                        done, arg);
}

static int
revoke_submit(struct vault *v, const struct vault_person *p,
              enum grant_kind kind, const char *id, const char *by,
              vault_grant_check_fn *check, void *check_arg, vault_done_fn *done,
              void *arg)
{
    struct grant_op *op;
    int rc;

    if ((op = calloc(1, sizeof(*op))) == NULL)
        return -ENOMEM;
    buf_init(&op->sealed);
    if (vault__id_parse(id, kind == GRANT_CONSENT ? 'c' : 'm', &op->obj) != 0 ||
        by == NULL || strlen(by) >= sizeof(op->by)) {
        free(op);
        return ERR_INVALID;
    }
    op->v = v;
    op->p = *p;
    op->kind = kind;
    op->revoke = true;
    memcpy(op->by, by, strlen(by) + 1);
    op->check = check;
    op->check_arg = check_arg;
    op->done = done;
    op->arg = arg;
    if ((rc = writer_submit(v->writer, revoke_run, grant_op_done, op)) != 0)
        grant_op_free(op);
    return rc;
}

int
vault_consent_revoke(struct vault *v, const struct vault_person *p,
                     const char *consent_id, const char *by,
                     vault_grant_check_fn *check, void *check_arg,
                     vault_done_fn *done, void *arg)
{
    return revoke_submit(v, p, GRANT_CONSENT, consent_id, by, check, check_arg,
                         done, arg);
}

int
vault_mandate_revoke(struct vault *v, const struct vault_person *p,
                     const char *mandate_id, const char *by,
                     vault_grant_check_fn *check, void *check_arg,
                     vault_done_fn *done, void *arg)
{
    return revoke_submit(v, p, GRANT_MANDATE, mandate_id, by, check, check_arg,
                         done, arg);
}

/* --- reading in a transaction ------------------------------------------------
 */

/* A growing array of unpacked messages. */
struct msgs {
    ProtobufCMessage **v;
    size_t n;
};

static int
msgs_add(struct msgs *a, ProtobufCMessage *m)
{
    void *np = realloc(a->v, (a->n + 1) * sizeof(*a->v));

    if (np == NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
        return -ENOMEM;
    }
    a->v = np;
    a->v[a->n++] = m;
    return 0;
}

static void
msgs_free(struct msgs *a)
{
    for (size_t i = 0; i < a->n; i++)
        protobuf_c_message_free_unpacked(a->v[i], NULL);
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

void
vault_consents_free(Dossier__V1__Consent **v, size_t n)
{
    struct msgs a = {(ProtobufCMessage **)v, n};

    msgs_free(&a);
}

void
vault_mandates_free(Dossier__V1__Mandate **v, size_t n)
{
    struct msgs a = {(ProtobufCMessage **)v, n};

    msgs_free(&a);
}

/* Replaces the dossier id inside an opened record by |p|'s (the key is
 * what binds it; the field is for the caller). */
static int
set_dossier(char **field, const struct vault_id *id)
{
    char s[VAULT_ID_STR];
    char *copy;

    vault_id_format(id, s);
    if ((copy = strdup(s)) == NULL)
        return -ENOMEM;
    if (*field != NULL && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

static int
fix_dossier(enum grant_kind kind, ProtobufCMessage *m,
            const struct vault_id *id)
{
    if (kind == GRANT_CONSENT)
        return set_dossier(&((Dossier__V1__Consent *)m)->dossier_id, id);
    return set_dossier(&((Dossier__V1__Mandate *)m)->dossier_id, id);
}

/*
 * Names |id| as the dossier of grant |m| and appends it to |a|, which then
 * owns it.  On failure (-ENOMEM) |m| is freed here, whichever step failed:
 * a failed strdup in fix_dossier used to leak it (found by make
 * alloc-fail).
 */
static int
msgs_add_named(struct msgs *a, enum grant_kind kind, ProtobufCMessage *m,
               const struct vault_id *id)
{
    int rc;

    if ((rc = fix_dossier(kind, m, id)) != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    return msgs_add(a, m); /* frees |m| on failure */
}

/*
 * Appends to |a| the records of |kind| that |p|'s dossier has under the
 * GRANTS prefix |tag| |who|.  Index entries whose record is gone are
 * skipped (they cannot be made by this module, but a partial restore
 * could leave one).
 */
static int
held_txn(struct store_txn *t, const struct vault_person *p,
         enum grant_kind kind, char tag, const char *who, struct msgs *a)
{
    uint8_t prefix[GRANT_KEY_MAX];
    size_t plen = grant_key(prefix, tag, who, &p->id, NULL);
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if (plen == 0)
        return 0;
    if ((rc = store_cursor_open(t, STORE_DB_GRANTS, prefix, plen, &cur)) != 0)
        return rc;
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        struct vault_id obj;
        ProtobufCMessage *m = NULL;

        if (e.key_len != plen + VAULT_ID_LEN) {
            rc = ERR_CORRUPT;
            break;
        }
        memcpy(obj.b, (const uint8_t *)e.key + plen, VAULT_ID_LEN);
        rc = grant_get(t, grant_db(kind), grant_tag(kind), p, &obj,
                       grant_desc(kind), &m);
        if (rc == ERR_NOTFOUND)
            continue;
        if (rc != 0) {
            if (m != NULL)
                protobuf_c_message_free_unpacked(m, NULL);
            break;
        }
        if ((rc = msgs_add_named(a, kind, m, &p->id)) != 0)
            break;
    }
    store_cursor_close(cur);
    return rc == ERR_NOTFOUND ? 0 : rc;
}

int
vault_consents_held_txn(struct store_txn *t, const struct vault_person *p,
                        const char *agency_uri, const char *agency_kind,
                        Dossier__V1__Consent ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = 0;

    if (agency_uri != NULL)
        rc = held_txn(t, p, GRANT_CONSENT, 'a', agency_uri, &a);
    if (rc == 0 && agency_kind != NULL)
        rc = held_txn(t, p, GRANT_CONSENT, 'k', agency_kind, &a);
    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Consent **)a.v;
    *n = a.n;
    return 0;
}

int
vault_mandates_held_txn(struct store_txn *t, const struct vault_person *p,
                        const char *delegate_uri, Dossier__V1__Mandate ***out,
                        size_t *n)
{
    struct msgs a = {0};
    int rc = held_txn(t, p, GRANT_MANDATE, 'd', delegate_uri, &a);

    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Mandate **)a.v;
    *n = a.n;
    return 0;
}

int
vault_consent_get_txn(struct store_txn *t, const struct vault_person *p,
                      const char *consent_id, Dossier__V1__Consent **out)
{
    struct vault_id obj;
    ProtobufCMessage *m = NULL;
    int rc;

    if (vault__id_parse(consent_id, 'c', &obj) != 0)
        return ERR_INVALID;
    rc = grant_get(t, STORE_DB_CONSENTS, TAG_CONSENT, p, &obj,
                   &dossier__v1__consent__descriptor, &m);
    if (rc == 0 && (rc = fix_dossier(GRANT_CONSENT, m, &p->id)) != 0)
        protobuf_c_message_free_unpacked(m, NULL);
    if (rc == 0)
        *out = (Dossier__V1__Consent *)m;
    return rc;
}

int
vault_consent_put_txn(struct store_txn *t, const struct vault_person *p,
                      const Dossier__V1__Consent *c)
{
    struct vault_id obj;

    if (vault__id_parse(c->consent_id, 'c', &obj) != 0)
        return ERR_INVALID;
    return grant_put(t, STORE_DB_CONSENTS, TAG_CONSENT, p, &obj, &c->base, 0);
}

/* --- lists on the loop
 * -------------------------------------------------------- */

/* Every record of |kind| of |p|'s dossier, in |t|. */
static int
list_all_txn(struct store_txn *t, const struct vault_person *p,
             enum grant_kind kind, struct msgs *a)
{
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if ((rc = store_cursor_open(t, grant_db(kind), p->id.b, VAULT_ID_LEN,
                                &cur)) != 0)
        return rc;
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        struct vault_id obj;
        ProtobufCMessage *m = NULL;
        uint8_t aad[64];
        size_t alen;

        if (e.key_len != 2 * VAULT_ID_LEN) {
            rc = ERR_CORRUPT;
            break;
        }
        memcpy(obj.b, (const uint8_t *)e.key + VAULT_ID_LEN, VAULT_ID_LEN);
        alen = grant_aad(aad, grant_tag(kind), &p->id, &obj);
        rc = vault__open_msg(p, aad, alen, e.val, e.val_len, grant_desc(kind),
                             &m);
        if (rc != 0) {
            if (m != NULL)
                protobuf_c_message_free_unpacked(m, NULL);
            break;
        }
        if ((rc = msgs_add_named(a, kind, m, &p->id)) != 0)
            break;
    }
    store_cursor_close(cur);
    return rc == ERR_NOTFOUND ? 0 : rc;
}

/* Every record of |kind| of |p|'s dossier, in a read transaction. */
static int
list_all(struct vault *v, const struct vault_person *p, enum grant_kind kind,
         struct msgs *a)
{
    struct store_txn *t;
    int rc;

    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    rc = list_all_txn(t, p, kind, a);
    store_txn_abort(t);
    return rc;
}

int
vault_consent_list_txn(struct store_txn *t, const struct vault_person *p,
                       Dossier__V1__Consent ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = list_all_txn(t, p, GRANT_CONSENT, &a);

    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Consent **)a.v;
    *n = a.n;
    return 0;
}

int
vault_consent_list(struct vault *v, const struct vault_person *p,
                   Dossier__V1__Consent ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = list_all(v, p, GRANT_CONSENT, &a);

    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Consent **)a.v;
    *n = a.n;
    return 0;
}

int
vault_mandate_list(struct vault *v, const struct vault_person *p,
                   Dossier__V1__Mandate ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = list_all(v, p, GRANT_MANDATE, &a);

    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Mandate **)a.v;
    *n = a.n;
    return 0;
}

/*
 * The records of |kind| under GRANTS prefix |tag| |who| across dossiers
 * (or |dossier|'s only), at most |max| in |a|.  The index is read first
 * (ids only), then each dossier's person is opened once: the keyring is
 * used outside any transaction.
 */
static int
list_held(struct vault *v, enum grant_kind kind, char tag, const char *who,
          const struct vault_id *dossier, size_t max, struct msgs *a)
{
    uint8_t prefix[GRANT_KEY_MAX];
    size_t plen = grant_key(prefix, tag, who, dossier, NULL);
    size_t base = dossier != NULL ? plen - VAULT_ID_LEN : plen;
    struct vault_id *ids = NULL; /* pairs: dossier, object */
    size_t nids = 0;
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    struct vault_person p = {0};
    int rc;

    if (plen == 0)
        return 0;
    if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_GRANTS, prefix, plen, &cur)) != 0) {
        store_txn_abort(t);
        return rc;
    }
    while (a->n + nids < max && (rc = store_cursor_next(cur, &e)) == 0) {
        void *np;

        if (e.key_len != base + 2 * VAULT_ID_LEN) {
            rc = ERR_CORRUPT;
            break;
        }
        if ((np = realloc(ids, (nids + 1) * 2 * sizeof(*ids))) == NULL) {
            rc = -ENOMEM;
            break;
        }
        ids = np;
        memcpy(ids[2 * nids].b, (const uint8_t *)e.key + base, VAULT_ID_LEN);
        memcpy(ids[2 * nids + 1].b,
               (const uint8_t *)e.key + base + VAULT_ID_LEN, VAULT_ID_LEN);
        nids++;
    }
    store_cursor_close(cur);
    store_txn_abort(t);
    if (rc != 0 && rc != ERR_NOTFOUND)
        goto out;
    rc = 0;
    for (size_t i = 0; i < nids && rc == 0; i++) {
        ProtobufCMessage *m = NULL;

        if (!p.open || memcmp(p.id.b, ids[2 * i].b, VAULT_ID_LEN) != 0) {
            vault_person_close(&p);
            rc = vault_person_open(v, &ids[2 * i], &p);
            if (rc == ERR_NOTFOUND) {
                /* Erased: its key is gone, and its grants with it. */
                rc = 0;
                continue;
            }
            if (rc != 0)
                break;
        }
        if ((rc = store_txn_begin(v->data, STORE_TXN_READ, NULL, &t)) != 0)
            break;
        rc = grant_get(t, grant_db(kind), grant_tag(kind), &p, &ids[2 * i + 1],
                       grant_desc(kind), &m);
        store_txn_abort(t);
        if (rc == ERR_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && (rc = fix_dossier(kind, m, &p.id)) != 0)
            protobuf_c_message_free_unpacked(m, NULL);
        if (rc == 0)
            rc = msgs_add(a, m);
    }
out:
    vault_person_close(&p);
    free(ids);
    return rc;
}

int
vault_consent_list_held(struct vault *v, const char *agency_uri,
                        const char *agency_kind, const struct vault_id *dossier,
                        size_t max, Dossier__V1__Consent ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = 0;

    if (agency_uri != NULL)
        rc = list_held(v, GRANT_CONSENT, 'a', agency_uri, dossier, max, &a);
    if (rc == 0 && agency_kind != NULL)
        rc = list_held(v, GRANT_CONSENT, 'k', agency_kind, dossier, max, &a);
    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Consent **)a.v;
    *n = a.n;
    return 0;
}

int
vault_mandate_list_held(struct vault *v, const char *delegate_uri,
                        const struct vault_id *dossier, size_t max,
                        Dossier__V1__Mandate ***out, size_t *n)
{
    struct msgs a = {0};
    int rc = list_held(v, GRANT_MANDATE, 'd', delegate_uri, dossier, max, &a);

    if (rc != 0) {
        msgs_free(&a);
        return rc;
    }
    *out = (Dossier__V1__Mandate **)a.v;
    *n = a.n;
    return 0;
}

/* --- erasure
 * ------------------------------------------------------------------- */

int
vault_grants_erase_txn(struct store_txn *t, const struct vault_id *id)
{
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if ((rc = vault__del_prefix(t, STORE_DB_CONSENTS, id->b, VAULT_ID_LEN)) !=
            0 ||
        (rc = vault__del_prefix(t, STORE_DB_MANDATES, id->b, VAULT_ID_LEN)) !=
            0)
        return rc;
    /* The index is keyed by holder first: every entry is looked at, and
     * those whose dossier part is |id| go.  Erasures are rare. */
    if ((rc = store_cursor_open(t, STORE_DB_GRANTS, NULL, 0, &cur)) != 0)
        return rc;
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        const uint8_t *k = e.key;

        if (e.key_len < 3 + 2 * VAULT_ID_LEN ||
            memcmp(k + e.key_len - 2 * VAULT_ID_LEN, id->b, VAULT_ID_LEN) != 0)
            continue;
        if ((rc = store_cursor_del(cur)) != 0)
            break;
    }
    store_cursor_close(cur);
    return rc == ERR_NOTFOUND ? 0 : rc;
}
