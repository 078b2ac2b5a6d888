/*
 * svc_grants.c -- dossier.v1.Consents and dossier.v1.Mandates (see
 * svc_grants.h), and the SIGHUP reload of the revoked principals.
 *
 * Each handler checks every field before anything is stored, asks the
 * policy (svc.c, policy.c) and hands the record to vault_grants.c.  A
 * delegate's grant or revocation of consent is decided twice: at once on
 * the loop, for a clear answer and to learn the mandate it relies on, and
 * again inside the writer's transaction that stores it, so that a mandate
 * revoked in between is seen.  The records handed to the vault are the
 * unpacked requests themselves, completed with the server's fields and
 * kept in a pending record until the write is durable.
 *
 * An agency sees of a consent what it needs to rely on it: who granted it
 * and who revoked it (principal URIs of the person or of a delegate) are
 * left out of its lists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "crypto.h"
#include "dossier/v1/consents.pb-c.h"

#include "audit.h"
#include "call.h"
#include "err.h"
#include "log.h"
#include "policy.h"
#include "rpc.h"
#include "server.h"
#include "svc.h"
#include "svc_grants.h"

#define GRANT_ITEMS_MAX 64   /* types or ids per consent or mandate */
#define PURPOSE_TEXT_MAX 500 /* bytes */
#define AGENCY_KIND_MAX 32

/* --- small helpers ----------------------------------------------------------
 */

/* Replaces a string field of an unpacked message by a copy of |v|. */
static int
set_str(char **field, const char *v)
{
    char *copy = strdup(v != NULL ? v : "");

    if (copy == NULL)
        return -ENOMEM;
    if (*field != NULL && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

static int64_t
now_unix(void)
{
    return (int64_t)time(NULL);
}

/* The caller's principal parsed as |kind| of this server's trust domain. */
static bool
uri_is(struct call *c, const char *uri, enum principal_kind kind,
       struct principal *out)
{
    const char *td = server_config(call_server(c))->trust_domain;

    return uri != NULL && principal_parse(uri, strlen(uri), td, out) == 0 &&
           out->kind == kind;
}

static bool
kind_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > AGENCY_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Checks a list of type codes named |field|: known to the catalogue
 * (|catalogue|), or only well formed (fact types); "*" when |star|. */
static int
codes_check(struct call *c, const char *field, char **v, size_t n,
            bool catalogue, bool star)
{
    if (n > GRANT_ITEMS_MAX) {
        call_finish(c, RPC_INVALID_ARGUMENT, "%s: at most %d", field,
                    GRANT_ITEMS_MAX);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (star && strcmp(v[i], "*") == 0)
            continue;
        if (!catalog_code_valid(v[i])) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "%s[%zu]: 1 to %d characters of a-z 0-9 -", field, i,
                        CATALOG_CODE_MAX);
            return ERR_INVALID;
        }
        if (catalogue && catalog_find(svc__ctx()->catalog, v[i]) == NULL) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "%s[%zu]: unknown document type %s", field, i, v[i]);
            return ERR_INVALID;
        }
    }
    return 0;
}

/* A dossier id named by an agency or a delegate for what it holds: "" is
 * every dossier (|*out| NULL). */
static int
held_dossier(struct call *c, const char *s, struct vault_id *buf,
             const struct vault_id **out)
{
    *out = NULL;
    if (s == NULL || s[0] == '\0')
        return 0;
    if (vault_id_parse(s, buf) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "dossier_id: not a dossier id");
        return ERR_INVALID;
    }
    *out = buf;
    return 0;
}

static bool
consent_active(const Dossier__V1__Consent *x, int64_t now)
{
    return !x->revoked && !(x->one_shot && x->spent) &&
           now >= x->valid_from_unix && now < x->valid_until_unix;
}

static bool
mandate_active(const Dossier__V1__Mandate *m, int64_t now)
{
    return !m->revoked && now >= m->valid_from_unix &&
           now < m->valid_until_unix;
}

/* --- pending writes ----------------------------------------------------------
 */

/*
 * A grant or revocation in flight: the call it answers, the opened person
 * (copied again by the vault), the request (whose record the vault reads
 * until done) and, for a delegate, what the writer-side check decides on.
 */
struct pending {
    struct call *c;
    struct principal who;
    struct vault_person p;
    struct vault_id id;
    ProtobufCMessage *req;
    struct policy_object *objs;
    size_t nobjs;
    enum policy_action act;
    struct policy_decision d; /* the writer-side check's */
    char obj_id[VAULT_ID_STR];
};

static struct pending *
pending_new(struct call *c, ProtobufCMessage *req, enum policy_action act)
{
    struct pending *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->c = c;
    w->who = *call_principal(c);
    w->req = req;
    w->act = act;
    call_ref(c);
    return w;
}

static void
pending_end(struct pending *w)
{
    policy_decision_clear(&w->d);
    vault_person_close(&w->p);
    free(w->objs);
    if (w->req != NULL)
        protobuf_c_message_free_unpacked(w->req, NULL);
    call_unref(w->c);
    free(w);
}

/*
 * Writer thread: the delegate's mandate must still allow the act, now, in
 * the transaction that stores the grant or the revocation.
 */
static int
pending_check(struct store_txn *t, const struct vault_person *p,
              const ProtobufCMessage *rec, void *arg)
{
    struct pending *w = arg;
    struct policy_request r = {0};

    (void)rec;
    r.who = &w->who;
    r.act = w->act;
    r.person = p;
    r.objects = w->objs;
    r.n_objects = w->nobjs;
    r.no_spend = true;
    policy_decision_clear(&w->d);
    return policy_decide_txn(t, &r, &w->d);
}

/* Writer thread: a delegate gives up only a mandate it holds. */
static int
mandate_own_check(struct store_txn *t, const struct vault_person *p,
                  const ProtobufCMessage *rec, void *arg)
{
    struct pending *w = arg;
    const Dossier__V1__Mandate *m = (const Dossier__V1__Mandate *)rec;

    (void)t;
    (void)p;
    if (w->who.kind == PRINCIPAL_DELEGATE &&
        strcmp(m->delegate, w->who.uri) != 0) {
        snprintf(w->d.why, sizeof(w->d.why),
                 "a delegate gives up only its own mandates");
        return ERR_DENIED;
    }
    return 0;
}

/* --- receipts ----------------------------------------------------------------
 */

/* Appends "name: value\n", with '\\' and control characters escaped so
 * that the text stays one line per field whatever a value holds. */
static int
receipt_line(struct buf *b, const char *name, const char *value)
{
    char esc[8];
    int rc;

    if ((rc = buf_append(b, name, strlen(name))) != 0 ||
        (rc = buf_append(b, ": ", 2)) != 0)
        return rc;
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if (*s == '\\')
            rc = buf_append(b, "\\\\", 2);
        else if (*s < 0x20 || *s == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", *s);
            rc = buf_append(b, esc, 4);
        } else
            rc = buf_append(b, s, 1);
        if (rc != 0)
            return rc;
    }
    return buf_append(b, "\n", 1);
}

static int
receipt_list(struct buf *b, const char *name, char **v, size_t n)
{
    struct buf joined;
    int rc = 0;

    buf_init(&joined);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = buf_append(&joined, ",", 1);
        if (rc == 0)
            rc = buf_append(&joined, v[i], strlen(v[i]));
    }
    if (rc == 0)
        rc = buf_append(&joined, "", 1); /* NUL */
    if (rc == 0)
        rc = receipt_line(b, name, (const char *)buf_peek(&joined));
    buf_free(&joined);
    return rc;
}

static int
receipt_time(struct buf *b, const char *name, int64_t t)
{
    char when[32], line[64];

    policy_time_format(t, when);
    snprintf(line, sizeof(line), "%s (%lld)", when, (long long)t);
    return receipt_line(b, name, line);
}

/*
 * The canonical text of consent |x|: fixed fields in a fixed order, so
 * that the same consent always gives the same bytes (and digest).  The
 * lead's audit key signs these bytes once it exists.
 */
static int
receipt_make(const Dossier__V1__Consent *x, struct buf *b)
{
    int rc;

    if ((rc = buf_append(b, "dossier-consent-receipt v1\n", 27)) != 0 ||
        (rc = receipt_line(b, "consent_id", x->consent_id)) != 0 ||
        (rc = receipt_line(b, "dossier_id", x->dossier_id)) != 0 ||
        (rc = receipt_line(b, "to_agency", x->agency)) != 0 ||
        (rc = receipt_line(b, "to_agency_kind", x->agency_kind)) != 0 ||
        (rc = receipt_list(b, "document_types", x->document_types,
                           x->n_document_types)) != 0 ||
        (rc = receipt_list(b, "fact_types", x->fact_types, x->n_fact_types)) !=
            0 ||
        (rc = receipt_list(b, "document_ids", x->document_ids,
                           x->n_document_ids)) != 0 ||
        /* Only when granted, so that earlier receipts keep their bytes. */
        (x->situation &&
         (rc = receipt_line(b, "situation", "yes")) != 0) ||
        (rc = receipt_line(b, "purpose_code", x->purpose_code)) != 0 ||
        (rc = receipt_line(b, "purpose_text", x->purpose_text)) != 0 ||
        (rc = receipt_line(b, "case_reference", x->case_reference)) != 0 ||
        (rc = receipt_time(b, "valid_from", x->valid_from_unix)) != 0 ||
        (rc = receipt_time(b, "valid_until", x->valid_until_unix)) != 0 ||
        (rc = receipt_line(b, "one_shot", x->one_shot ? "yes" : "no")) != 0 ||
        (rc = receipt_time(b, "granted_at", x->granted_unix)) != 0 ||
        (rc = receipt_line(b, "granted_by", x->granted_by)) != 0 ||
        (rc = receipt_line(b, "mandate_id", x->mandate_id)) != 0)
        return rc;
    return 0;
}

/* --- Consents.Grant ----------------------------------------------------------
 */

/* Checks the consent asked for; on error finishes the call. */
static int
consent_check(struct call *c, const Dossier__V1__Consent *x, int64_t now)
{
    struct principal ag;
    bool one = x->agency[0] != '\0', kind = x->agency_kind[0] != '\0';

    if (one == kind) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.agency or consent.agency_kind: exactly one is "
                    "required");
        return ERR_INVALID;
    }
    if (one && !uri_is(c, x->agency, PRINCIPAL_AGENCY, &ag)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.agency: not an agency principal URI of this "
                    "trust domain");
        return ERR_INVALID;
    }
    if (kind && !kind_ok(x->agency_kind)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.agency_kind: 1 to %d characters of a-z 0-9",
                    AGENCY_KIND_MAX);
        return ERR_INVALID;
    }
    if (x->n_document_types + x->n_fact_types + x->n_document_ids == 0 &&
        !x->situation) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.document_types, fact_types, document_ids or "
                    "situation: at least one is required");
        return ERR_INVALID;
    }
    if (codes_check(c, "consent.document_types", x->document_types,
                    x->n_document_types, true, false) != 0 ||
        codes_check(c, "consent.fact_types", x->fact_types, x->n_fact_types,
                    false, false) != 0)
        return ERR_INVALID;
    if (x->n_document_ids > GRANT_ITEMS_MAX) {
        call_finish(c, RPC_INVALID_ARGUMENT, "consent.document_ids: at most %d",
                    GRANT_ITEMS_MAX);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < x->n_document_ids; i++) {
        struct vault_id doc;
        if (vault_document_id_parse(x->document_ids[i], &doc) != 0) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "consent.document_ids[%zu]: not a document id", i);
            return ERR_INVALID;
        }
    }
    if (!svc__purpose_ok(x->purpose_code)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.purpose_code: 1 to %d characters of A-Z a-z 0-9 "
                    ". _ -",
                    SVC_PURPOSE_MAX);
        return ERR_INVALID;
    }
    if (!svc__text_ok(x->case_reference, SVC_CASE_REF_MAX, false)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.case_reference: at most %d bytes, one line",
                    SVC_CASE_REF_MAX);
        return ERR_INVALID;
    }
    if (!svc__text_ok(x->purpose_text, PURPOSE_TEXT_MAX, true)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.purpose_text: required, at most %d bytes, one "
                    "line",
                    PURPOSE_TEXT_MAX);
        return ERR_INVALID;
    }
    if (x->valid_from_unix < 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.valid_from_unix: must not be negative");
        return ERR_INVALID;
    }
    if (x->valid_until_unix == 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.valid_until_unix: required");
        return ERR_INVALID;
    }
    if (x->valid_until_unix <= now) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.valid_until_unix: must be in the future");
        return ERR_INVALID;
    }
    if (x->valid_from_unix != 0 && x->valid_until_unix <= x->valid_from_unix) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "consent.valid_until_unix: must be after valid_from_unix");
        return ERR_INVALID;
    }
    return 0;
}

/* What a delegate's grant of |x| is about, for its mandate's types. */
static int
consent_objects(struct pending *w, const Dossier__V1__Consent *x)
{
    size_t n = x->n_document_types + x->n_fact_types + x->n_document_ids + 1,
           k = 0;

    if ((w->objs = calloc(n, sizeof(*w->objs))) == NULL)
        return -ENOMEM;
    /* The situation is no document type: only a mandate for every type
     * covers it (an object without a type). */
    if (x->situation)
        k++;
    for (size_t i = 0; i < x->n_document_types; i++)
        w->objs[k++].type = x->document_types[i];
    for (size_t i = 0; i < x->n_fact_types; i++) {
        w->objs[k].fact = true;
        w->objs[k++].type = x->fact_types[i];
    }
    for (size_t i = 0; i < x->n_document_ids; i++)
        w->objs[k++].doc_id = x->document_ids[i];
    w->nobjs = k;
    return 0;
}

static void
consent_granted(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__GrantConsentRequest *req =
        (Dossier__V1__GrantConsentRequest *)w->req;
    Dossier__V1__GrantConsentResponse resp =
        DOSSIER__V1__GRANT_CONSENT_RESPONSE__INIT;
    Dossier__V1__Consent *x = req->consent;
    uint8_t digest[CRYPTO_HASH_LEN], signature[AUDIT_SIG_LEN];
    struct buf receipt;
    int rc;

    buf_init(&receipt);
    if (status == ERR_DENIED) {
        svc__deny(w->c, POLICY_CONSENT_GRANT, &w->id, w->d.why);
    } else if (status != 0) {
        svc__fail(w->c, status, "storing the consent");
    } else {
        log_info("consent granted dossier=%s consent=%s to=%s%s purpose=%s "
                 "by=%s%s%s",
                 x->dossier_id, x->consent_id,
                 x->agency[0] ? x->agency : "kind:", x->agency_kind,
                 x->purpose_code, w->who.uri,
                 x->mandate_id[0] ? " mandate=" : "", x->mandate_id);
        if ((rc = receipt_make(x, &receipt)) != 0 ||
            (rc = crypto_sha256(buf_peek(&receipt), buf_size(&receipt),
                                digest)) != 0 ||
            (rc = audit_sign(svc__ctx()->audit, buf_peek(&receipt),
                             buf_size(&receipt), signature)) != 0) {
            /* Durable already: say so rather than hide the consent. */
            svc__fail(w->c, rc, "making the consent receipt");
        } else {
            resp.consent = x;
            resp.receipt.data = (uint8_t *)buf_peek(&receipt);
            resp.receipt.len = buf_size(&receipt);
            resp.receipt_sha256.data = digest;
            resp.receipt_sha256.len = sizeof(digest);
            resp.receipt_signature.data = signature;
            resp.receipt_signature.len = sizeof(signature);
            svc__answer(w->c, &resp.base);
        }
    }
    buf_free(&receipt);
    pending_end(w);
}

static void
consents_grant(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GrantConsentRequest *req;
    Dossier__V1__Consent *x;
    struct policy_request r = {0};
    struct policy_decision d = {0};
    struct pending *w = NULL;
    char cid[VAULT_ID_STR], did[VAULT_ID_STR];
    int64_t now = now_unix();
    struct vault_id id;
    int rc;

    req = dossier__v1__grant_consent_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "GrantConsentRequest does not parse");
        return;
    }
    if ((x = req->consent) == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "consent: required");
        goto out;
    }
    if (svc__dossier(c, x->dossier_id, POLICY_CONSENT_GRANT, &id) != 0 ||
        consent_check(c, x, now) != 0)
        goto out;
    if ((w = pending_new(c, &req->base, POLICY_CONSENT_GRANT)) == NULL) {
        svc__fail(c, -ENOMEM, "storing the consent");
        goto out;
    }
    req = NULL; /* the pending record owns it now */
    w->id = id;
    if (svc__open(c, &id, &w->p) != 0 || consent_objects(w, x) != 0)
        goto fail_nomsg;
    /* A delegate: a mandate allowing grant-consent for these types. */
    r.act = POLICY_CONSENT_GRANT;
    r.person = &w->p;
    r.objects = w->objs;
    r.n_objects = w->nobjs;
    rc = svc__decide_now(c, &r, &d);
    if (rc != 0) {
        policy_decision_clear(&d);
        goto end;
    }
    vault_id_format(&id, did);
    if ((rc = vault_consent_id_new(cid)) != 0 ||
        (rc = set_str(&x->consent_id, cid)) != 0 ||
        (rc = set_str(&x->dossier_id, did)) != 0 ||
        (rc = set_str(&x->granted_by, w->who.uri)) != 0 ||
        (rc = set_str(&x->mandate_id, d.mandate_id)) != 0 ||
        (rc = set_str(&x->revoked_by, "")) != 0) {
        policy_decision_clear(&d);
        svc__fail(c, rc, "storing the consent");
        goto end;
    }
    call_audit_set(c, CALL_AUDIT_OBJECT, cid);
    policy_decision_clear(&d);
    x->granted_unix = now;
    if (x->valid_from_unix == 0)
        x->valid_from_unix = now;
    x->revoked = false;
    x->revoked_unix = 0;
    x->spent = false;
    x->spent_unix = 0;
    rc = vault_consent_grant(svc__ctx()->vault, &w->p, x,
                             w->who.kind == PRINCIPAL_DELEGATE ? pending_check
                                                               : NULL,
                             w, consent_granted, w);
    if (rc == 0)
        return;
    svc__fail(c, rc, "storing the consent");
    goto end;
fail_nomsg:
    if (!call_is_done(c))
        svc__fail(c, -ENOMEM, "storing the consent");
end:
    pending_end(w);
    return;
out:
    if (req != NULL)
        dossier__v1__grant_consent_request__free_unpacked(req, NULL);
}

/* --- Consents.Revoke
 * ---------------------------------------------------------- */

static void
consent_revoked(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__RevokeConsentResponse resp =
        DOSSIER__V1__REVOKE_CONSENT_RESPONSE__INIT;
    char did[VAULT_ID_STR];

    if (status == ERR_NOTFOUND) {
        call_finish(w->c, RPC_NOT_FOUND, "no consent %s in this dossier",
                    w->obj_id);
    } else if (status == ERR_DENIED) {
        svc__deny(w->c, POLICY_CONSENT_REVOKE, &w->id, w->d.why);
    } else if (status != 0) {
        svc__fail(w->c, status, "revoking the consent");
    } else {
        vault_id_format(&w->id, did);
        log_info("consent revoked dossier=%s consent=%s by=%s", did, w->obj_id,
                 w->who.uri);
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
consents_revoke(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__RevokeConsentRequest *req;
    struct policy_request r = {0};
    struct policy_decision d = {0};
    struct pending *w = NULL;
    struct vault_id id, cid;
    int rc;

    req = dossier__v1__revoke_consent_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "RevokeConsentRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_CONSENT_REVOKE, &id) != 0)
        goto out;
    if (vault_consent_id_parse(req->consent_id, &cid) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "consent_id: not a consent id");
        goto out;
    }
    if ((w = pending_new(c, NULL, POLICY_CONSENT_REVOKE)) == NULL) {
        svc__fail(c, -ENOMEM, "revoking the consent");
        goto out;
    }
    w->id = id;
    snprintf(w->obj_id, sizeof(w->obj_id), "%s", req->consent_id);
    call_audit_set(c, CALL_AUDIT_OBJECT, w->obj_id);
    if (svc__open(c, &id, &w->p) != 0)
        goto end;
    r.act = POLICY_CONSENT_REVOKE;
    r.person = &w->p;
    rc = svc__decide_now(c, &r, &d);
    policy_decision_clear(&d);
    if (rc != 0)
        goto end;
    rc = vault_consent_revoke(svc__ctx()->vault, &w->p, w->obj_id, w->who.uri,
                              w->who.kind == PRINCIPAL_DELEGATE ? pending_check
                                                                : NULL,
                              w, consent_revoked, w);
    if (rc == 0)
        goto out;
    svc__fail(c, rc, "revoking the consent");
end:
    pending_end(w);
out:
    dossier__v1__revoke_consent_request__free_unpacked(req, NULL);
}

/* --- Consents.List
 * ------------------------------------------------------------- */

/* Answers the consents of |v| that are in force (all if |inactive|); for
 * an agency, without who granted or revoked them. */
static void
consents_answer(struct call *c, Dossier__V1__Consent **v, size_t n,
                bool inactive, bool agency)
{
    Dossier__V1__ListConsentsResponse resp =
        DOSSIER__V1__LIST_CONSENTS_RESPONSE__INIT;
    const struct principal *who = call_principal(c);
    int64_t now = now_unix();
    size_t k = 0;

    if (n > 0 && (resp.consents = calloc(n, sizeof(*resp.consents))) == NULL) {
        svc__fail(c, -ENOMEM, "listing the consents");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (agency && !policy_consent_for(v[i], who))
            continue;
        if (!inactive && !consent_active(v[i], now))
            continue;
        if (agency && (set_str(&v[i]->granted_by, "") != 0 ||
                       set_str(&v[i]->revoked_by, "") != 0 ||
                       set_str(&v[i]->mandate_id, "") != 0)) {
            free(resp.consents);
            svc__fail(c, -ENOMEM, "listing the consents");
            return;
        }
        resp.consents[k++] = v[i];
    }
    resp.n_consents = k;
    svc__answer(c, &resp.base);
    free(resp.consents);
}

static void
consents_list(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ListConsentsRequest *req;
    const struct principal *who = call_principal(c);
    Dossier__V1__Consent **v = NULL;
    struct policy_request r = {0};
    struct policy_decision d = {0};
    struct vault_person p = {0};
    const struct vault_id *only;
    const char *why = NULL;
    char kind[PRINCIPAL_ID_MAX];
    struct vault_id id;
    size_t n = 0;
    int rc;

    req = dossier__v1__list_consents_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ListConsentsRequest does not parse");
        return;
    }
    if (who->kind == PRINCIPAL_AGENCY) {
        /* What this agency holds, by its URI or its kind, and nothing
         * else: the index is keyed by them. */
        if (policy_check(who, POLICY_CONSENT_LIST, NULL, NULL, &why) != 0) {
            svc__deny(c, POLICY_CONSENT_LIST, NULL, why);
            goto out;
        }
        if (held_dossier(c, req->dossier_id, &id, &only) != 0)
            goto out;
        policy_agency_kind(who->id, kind, sizeof(kind));
        rc = vault_consent_list_held(svc__ctx()->vault, who->uri, kind, only,
                                     SVC_GRANTS_LIST_MAX, &v, &n);
        if (rc != 0) {
            svc__fail(c, rc, "listing the consents");
            goto out;
        }
        consents_answer(c, v, n, req->include_inactive, true);
        goto out;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_CONSENT_LIST, &id) != 0 ||
        svc__open(c, &id, &p) != 0)
        goto out;
    r.act = POLICY_CONSENT_LIST;
    r.person = &p;
    if (svc__decide_now(c, &r, &d) != 0)
        goto out;
    if ((rc = vault_consent_list(svc__ctx()->vault, &p, &v, &n)) != 0) {
        svc__fail(c, rc, "listing the consents");
        goto out;
    }
    consents_answer(c, v, n, req->include_inactive, false);
out:
    policy_decision_clear(&d);
    vault_consents_free(v, n);
    vault_person_close(&p);
    dossier__v1__list_consents_request__free_unpacked(req, NULL);
}

/* --- Mandates.Grant
 * ------------------------------------------------------------ */

static int
mandate_check(struct call *c, const Dossier__V1__Mandate *m, int64_t now)
{
    static const char *const actions[] = {"deposit", "read", "grant-consent",
                                          "declare"};
    const size_t nactions = sizeof(actions) / sizeof(actions[0]);
    struct principal del;
    int64_t from = m->valid_from_unix != 0 ? m->valid_from_unix : now;

    if (!uri_is(c, m->delegate, PRINCIPAL_DELEGATE, &del)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.delegate: not a delegate principal URI of this "
                    "trust domain");
        return ERR_INVALID;
    }
    if (m->n_actions == 0 || m->n_actions > nactions) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.actions: one to four of deposit, read, "
                    "grant-consent, declare");
        return ERR_INVALID;
    }
    for (size_t i = 0; i < m->n_actions; i++) {
        bool known = false;
        for (size_t k = 0; k < nactions; k++)
            known = known || strcmp(m->actions[i], actions[k]) == 0;
        if (!known) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "mandate.actions[%zu]: not one of deposit, read, "
                        "grant-consent, declare",
                        i);
            return ERR_INVALID;
        }
    }
    if (m->n_document_types == 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.document_types: at least one catalogue code, or "
                    "\"*\" for every type");
        return ERR_INVALID;
    }
    if (codes_check(c, "mandate.document_types", m->document_types,
                    m->n_document_types, true, true) != 0)
        return ERR_INVALID;
    if (m->valid_from_unix < 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.valid_from_unix: must not be negative");
        return ERR_INVALID;
    }
    if (m->valid_until_unix == 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.valid_until_unix: required");
        return ERR_INVALID;
    }
    if (m->valid_until_unix - from < POLICY_MANDATE_MIN_SECONDS ||
        m->valid_until_unix - from > POLICY_MANDATE_MAX_SECONDS) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.valid_until_unix: a mandate lasts from one day "
                    "to one year after valid_from_unix (%d to %d seconds)",
                    POLICY_MANDATE_MIN_SECONDS, POLICY_MANDATE_MAX_SECONDS);
        return ERR_INVALID;
    }
    if (m->valid_until_unix <= now) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "mandate.valid_until_unix: must be in the future");
        return ERR_INVALID;
    }
    return 0;
}

static void
mandate_granted(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__GrantMandateRequest *req =
        (Dossier__V1__GrantMandateRequest *)w->req;
    Dossier__V1__GrantMandateResponse resp =
        DOSSIER__V1__GRANT_MANDATE_RESPONSE__INIT;
    Dossier__V1__Mandate *m = req->mandate;

    if (status != 0) {
        svc__fail(w->c, status, "storing the mandate");
    } else {
        log_info("mandate granted dossier=%s mandate=%s delegate=%s",
                 m->dossier_id, m->mandate_id, m->delegate);
        resp.mandate = m;
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
mandates_grant(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GrantMandateRequest *req;
    Dossier__V1__Mandate *m;
    struct pending *w;
    char mid[VAULT_ID_STR], did[VAULT_ID_STR];
    struct principal del;
    int64_t now = now_unix();
    struct vault_id id;
    int rc;

    req = dossier__v1__grant_mandate_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "GrantMandateRequest does not parse");
        return;
    }
    if ((m = req->mandate) == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "mandate: required");
        dossier__v1__grant_mandate_request__free_unpacked(req, NULL);
        return;
    }
    if (svc__dossier(c, m->dossier_id, POLICY_MANDATE_GRANT, &id) != 0 ||
        mandate_check(c, m, now) != 0) {
        dossier__v1__grant_mandate_request__free_unpacked(req, NULL);
        return;
    }
    if ((w = pending_new(c, &req->base, POLICY_MANDATE_GRANT)) == NULL) {
        svc__fail(c, -ENOMEM, "storing the mandate");
        dossier__v1__grant_mandate_request__free_unpacked(req, NULL);
        return;
    }
    w->id = id;
    if (svc__open(c, &id, &w->p) != 0)
        goto end;
    uri_is(c, m->delegate, PRINCIPAL_DELEGATE, &del); /* one spelling */
    vault_id_format(&id, did);
    if ((rc = vault_mandate_id_new(mid)) != 0 ||
        (rc = set_str(&m->mandate_id, mid)) != 0 ||
        (rc = set_str(&m->dossier_id, did)) != 0 ||
        (rc = set_str(&m->delegate, del.uri)) != 0 ||
        (rc = set_str(&m->revoked_by, "")) != 0) {
        svc__fail(c, rc, "storing the mandate");
        goto end;
    }
    call_audit_set(c, CALL_AUDIT_OBJECT, mid);
    if (m->valid_from_unix == 0)
        m->valid_from_unix = now;
    m->granted_unix = now;
    m->revoked = false;
    m->revoked_unix = 0;
    rc = vault_mandate_grant(svc__ctx()->vault, &w->p, m, NULL, NULL,
                             mandate_granted, w);
    if (rc == 0)
        return;
    svc__fail(c, rc, "storing the mandate");
end:
    pending_end(w);
}

/* --- Mandates.Revoke
 * ----------------------------------------------------------- */

static void
mandate_revoked(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__RevokeMandateResponse resp =
        DOSSIER__V1__REVOKE_MANDATE_RESPONSE__INIT;
    char did[VAULT_ID_STR];

    if (status == ERR_NOTFOUND) {
        call_finish(w->c, RPC_NOT_FOUND, "no mandate %s in this dossier",
                    w->obj_id);
    } else if (status == ERR_DENIED) {
        svc__deny(w->c, POLICY_MANDATE_REVOKE, &w->id, w->d.why);
    } else if (status != 0) {
        svc__fail(w->c, status, "revoking the mandate");
    } else {
        vault_id_format(&w->id, did);
        log_info("mandate revoked dossier=%s mandate=%s by=%s", did, w->obj_id,
                 w->who.uri);
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
mandates_revoke(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__RevokeMandateRequest *req;
    struct pending *w;
    struct vault_id id, mid;
    int rc;

    req = dossier__v1__revoke_mandate_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "RevokeMandateRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_MANDATE_REVOKE, &id) != 0)
        goto out;
    if (vault_mandate_id_parse(req->mandate_id, &mid) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "mandate_id: not a mandate id");
        goto out;
    }
    if ((w = pending_new(c, NULL, POLICY_MANDATE_REVOKE)) == NULL) {
        svc__fail(c, -ENOMEM, "revoking the mandate");
        goto out;
    }
    w->id = id;
    snprintf(w->obj_id, sizeof(w->obj_id), "%s", req->mandate_id);
    call_audit_set(c, CALL_AUDIT_OBJECT, w->obj_id);
    if (svc__open(c, &id, &w->p) != 0) {
        pending_end(w);
        goto out;
    }
    rc = vault_mandate_revoke(svc__ctx()->vault, &w->p, w->obj_id, w->who.uri,
                              mandate_own_check, w, mandate_revoked, w);
    if (rc != 0) {
        svc__fail(c, rc, "revoking the mandate");
        pending_end(w);
    }
out:
    dossier__v1__revoke_mandate_request__free_unpacked(req, NULL);
}

/* --- Mandates.List
 * ------------------------------------------------------------- */

static void
mandates_answer(struct call *c, Dossier__V1__Mandate **v, size_t n,
                bool inactive, const char *only_delegate)
{
    Dossier__V1__ListMandatesResponse resp =
        DOSSIER__V1__LIST_MANDATES_RESPONSE__INIT;
    int64_t now = now_unix();
    size_t k = 0;

    if (n > 0 && (resp.mandates = calloc(n, sizeof(*resp.mandates))) == NULL) {
        svc__fail(c, -ENOMEM, "listing the mandates");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (only_delegate != NULL && strcmp(v[i]->delegate, only_delegate) != 0)
            continue;
        if (!inactive && !mandate_active(v[i], now))
            continue;
        resp.mandates[k++] = v[i];
    }
    resp.n_mandates = k;
    svc__answer(c, &resp.base);
    free(resp.mandates);
}

static void
mandates_list(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ListMandatesRequest *req;
    const struct principal *who = call_principal(c);
    Dossier__V1__Mandate **v = NULL;
    struct vault_person p = {0};
    const struct vault_id *only;
    const char *why = NULL;
    struct vault_id id;
    size_t n = 0;
    int rc;

    req = dossier__v1__list_mandates_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ListMandatesRequest does not parse");
        return;
    }
    if (who->kind == PRINCIPAL_DELEGATE) {
        if (policy_check(who, POLICY_MANDATE_LIST, NULL, NULL, &why) != 0) {
            svc__deny(c, POLICY_MANDATE_LIST, NULL, why);
            goto out;
        }
        if (held_dossier(c, req->dossier_id, &id, &only) != 0)
            goto out;
        rc = vault_mandate_list_held(svc__ctx()->vault, who->uri, only,
                                     SVC_GRANTS_LIST_MAX, &v, &n);
        if (rc != 0) {
            svc__fail(c, rc, "listing the mandates");
            goto out;
        }
        mandates_answer(c, v, n, req->include_inactive, who->uri);
        goto out;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_MANDATE_LIST, &id) != 0 ||
        svc__open(c, &id, &p) != 0)
        goto out;
    if ((rc = vault_mandate_list(svc__ctx()->vault, &p, &v, &n)) != 0) {
        svc__fail(c, rc, "listing the mandates");
        goto out;
    }
    mandates_answer(c, v, n, req->include_inactive, NULL);
out:
    vault_mandates_free(v, n);
    vault_person_close(&p);
    dossier__v1__list_mandates_request__free_unpacked(req, NULL);
}

/* --- registration and the denylist
 * ---------------------------------------------- */

static char denylist_path[4096];
static char denylist_td[128];

/* SIGHUP: the operator may have revoked (or restored) principals.  A bad
 * file keeps the list in force (policy_denylist_load logs why). */
static void
grants_reload(struct server *s, void *arg)
{
    (void)s;
    (void)arg;
    if (denylist_path[0] != '\0' &&
        policy_denylist_load(denylist_path, denylist_td) != 0)
        log_warnx("keeping the revoked principals in force");
}

static const struct method grants_methods[] = {
    {.path = "/dossier.v1.Consents/Grant",
     .kind = CALL_UNARY,
     .on_message = consents_grant},
    {.path = "/dossier.v1.Consents/Revoke",
     .kind = CALL_UNARY,
     .on_message = consents_revoke},
    {.path = "/dossier.v1.Consents/List",
     .kind = CALL_UNARY,
     .on_message = consents_list},
    {.path = "/dossier.v1.Mandates/Grant",
     .kind = CALL_UNARY,
     .on_message = mandates_grant},
    {.path = "/dossier.v1.Mandates/Revoke",
     .kind = CALL_UNARY,
     .on_message = mandates_revoke},
    {.path = "/dossier.v1.Mandates/List",
     .kind = CALL_UNARY,
     .on_message = mandates_list},
};

int
svc_grants_register(struct server *s, const struct svc_ctx *ctx,
                    const char *keys_dir)
{
    int rc;

    svc__ctx_set(ctx);
    for (size_t i = 0; i < sizeof(grants_methods) / sizeof(grants_methods[0]);
         i++)
        if ((rc = server_register(s, &grants_methods[i])) != 0)
            return rc;
    if (keys_dir == NULL)
        return 0;
    if (snprintf(denylist_path, sizeof(denylist_path), "%s/%s", keys_dir,
                 POLICY_DENYLIST_FILE) >= (int)sizeof(denylist_path) ||
        snprintf(denylist_td, sizeof(denylist_td), "%s",
                 server_config(s)->trust_domain) >= (int)sizeof(denylist_td))
        return ERR_CONFIG;
    rc = policy_denylist_load(denylist_path, denylist_td);
    if (rc != 0)
        return rc == -ENOMEM ? rc : ERR_CONFIG;
    return server_on_reload(s, grants_reload, NULL);
}
