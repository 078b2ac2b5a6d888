/*
 * svc_persons.c -- dossier.v1.Persons: Enrol, FindByNir, GetSituation,
 * UpdateSituation, Erase (Export is in svc_export.c).
 *
 * Each handler parses its request, checks every field before anything is
 * stored, asks the policy through svc.c, and calls the vault.  Writes
 * complete later, on the loop, when the writer's batch is durable: the
 * handler then holds a reference on the call and keeps what the vault
 * works on (the opened person) in a small "pending" record freed in the
 * completion.  A call cancelled meanwhile simply finds call_finish()
 * refusing (-ECANCELED); the write itself goes through, as a client that
 * went away cannot undo a durable change anyway.
 *
 * Personal values (NIR, names, addresses) are checked but never quoted in
 * an answer or a log line; the NIR is wiped from memory once used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dossier/v1/persons.pb-c.h"

#include "call.h"
#include "err.h"
#include "log.h"
#include "nir.h"
#include "policy.h"
#include "rpc.h"
#include "server.h"
#include "svc.h"
#include "svc_export.h"
#include "svc_persons.h"

#define NAME_MAX_BYTES SVC_NAME_MAX
#define SHORT_MAX_BYTES SVC_SHORT_MAX

/* A write in flight: the call it answers and what the vault works on. */
struct pending {
    struct call *c;
    struct vault_person p; /* wiped in pending_end() */
    struct vault_id id;
    uint64_t rev;
};

static struct pending *
pending_new(struct call *c)
{
    struct pending *w = calloc(1, sizeof(*w));

    if (w != NULL) {
        w->c = c;
        call_ref(c);
    }
    return w;
}

static void
pending_end(struct pending *w)
{
    vault_person_close(&w->p);
    call_unref(w->c);
    free(w);
}

/* Wipes a string of the request that holds personal data. */
static void
wipe_str(char *s)
{
    if (s != NULL && s != protobuf_c_empty_string)
        OPENSSL_cleanse(s, strlen(s));
}

/* [A-Za-z0-9._-]{1,127}, not "." nor "..": what principal_parse accepts as
 * an id, so that the certificate can reach the dossier. */
static bool
principal_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= PRINCIPAL_ID_MAX || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* --- Enrol ----------------------------------------------------------- */

static void
enrol_done(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__EnrolResponse resp = DOSSIER__V1__ENROL_RESPONSE__INIT;
    char id[VAULT_ID_STR];

    if (status == ERR_EXISTS) {
        call_finish(w->c, RPC_ALREADY_EXISTS,
                    "a dossier already exists for this NIR");
    } else if (status != 0) {
        svc__fail(w->c, status, "enrolling the person");
    } else {
        vault_id_format(&w->id, id);
        char who[PRINCIPAL_LOG_MAX];

        log_info("enrolled dossier=%s by=%s", id,
                 principal_log_name(call_principal(w->c), who));
        call_audit_set(w->c, CALL_AUDIT_DOSSIER, id);
        resp.dossier_id = id;
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
persons_enrol(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__EnrolRequest *req;
    char nir[NIR_STR];
    const char *why = NULL;
    struct vault_id other;
    struct pending *w;
    int rc;

    req = dossier__v1__enrol_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "EnrolRequest does not parse");
        return;
    }
    if (policy_check(call_principal(c), POLICY_ENROL, NULL, NULL, &why) != 0) {
        svc__deny(c, POLICY_ENROL, NULL, why);
        goto out;
    }
    if (nir_normalize(req->nir, nir, &why) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "nir: %s", why);
        goto out;
    }
    if (!svc__str_ok(req->given_name, NAME_MAX_BYTES, true) ||
        !svc__str_ok(req->family_name, NAME_MAX_BYTES, true)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "given_name and family_name: required, at most %d bytes",
                    NAME_MAX_BYTES);
        goto out;
    }
    if (svc__check_date(c, "birth_date", req->birth_date, false) != 0)
        goto out;
    if (req->situation != NULL &&
        svc__situation_check(c, "situation", req->situation) != 0)
        goto out;
    if (req->person_principal_id[0] != '\0' &&
        !principal_id_ok(req->person_principal_id)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "person_principal_id: 1 to 127 characters of "
                    "A-Z a-z 0-9 . _ -");
        goto out;
    }
    /* The vault answers ERR_EXISTS for a known NIR and for a certificate
     * id already linked alike; tell the second apart first, so that the
     * message is right (a race between two enrolments is still refused,
     * with the NIR message). */
    if (req->person_principal_id[0] != '\0' &&
        vault_person_find_principal(svc__ctx()->vault, req->person_principal_id,
                                    &other) == 0) {
        call_finish(c, RPC_ALREADY_EXISTS,
                    "person_principal_id: already linked to a dossier");
        goto out;
    }
    if ((w = pending_new(c)) == NULL) {
        svc__fail(c, -ENOMEM, "enrolling the person");
        goto out;
    }
    rc = vault_person_enrol(svc__ctx()->vault, nir, req, &w->id, enrol_done, w);
    if (rc != 0) {
        /* A call that fails never runs its callback. */
        if (rc == ERR_EXISTS)
            call_finish(c, RPC_ALREADY_EXISTS,
                        "a dossier already exists for this NIR");
        else
            svc__fail(c, rc, "enrolling the person");
        pending_end(w);
    }
out:
    OPENSSL_cleanse(nir, sizeof(nir));
    wipe_str(req->nir);
    dossier__v1__enrol_request__free_unpacked(req, NULL);
}

/* --- FindByNir ------------------------------------------------------- */

static void
persons_find_by_nir(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__FindByNirRequest *req;
    Dossier__V1__FindByNirResponse resp =
        DOSSIER__V1__FIND_BY_NIR_RESPONSE__INIT;
    char nir[NIR_STR] = "";
    char id[VAULT_ID_STR];
    struct policy_request r = {0};
    const char *why = NULL;
    struct vault_id vid;
    int rc;

    req = dossier__v1__find_by_nir_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "FindByNirRequest does not parse");
        return;
    }
    if (policy_check(call_principal(c), POLICY_FIND_BY_NIR, NULL, NULL,
                     &why) != 0) {
        svc__deny(c, POLICY_FIND_BY_NIR, NULL, why);
        goto out;
    }
    /* A lookup is an access like a read: the agency states why, and the
     * entry says it (a consent id, meaningless before the dossier is
     * known, is only checked for its form). */
    if (svc__basis(c, req->basis, &r) != 0)
        goto out;
    call_audit_set(c, CALL_AUDIT_PURPOSE, r.purpose_code);
    call_audit_set(c, CALL_AUDIT_CASE, r.case_reference);
    if (nir_normalize(req->nir, nir, &why) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "nir: %s", why);
        goto out;
    }
    rc = vault_person_find_nir(svc__ctx()->vault, nir, &vid);
    if (rc == ERR_NOTFOUND) {
        call_finish(c, RPC_NOT_FOUND, "no dossier for this NIR");
        goto out;
    }
    if (rc != 0) {
        svc__fail(c, rc, "looking the NIR up");
        goto out;
    }
    vault_id_format(&vid, id);
    /* The entry made at finish names the dossier found, so that the
     * person (whose Query is by dossier) and an auditor see who looked
     * their NIR up.  Never the NIR itself. */
    call_audit_set(c, CALL_AUDIT_DOSSIER, id);
    resp.dossier_id = id;
    svc__answer(c, &resp.base);
out:
    OPENSSL_cleanse(nir, sizeof(nir));
    wipe_str(req->nir);
    dossier__v1__find_by_nir_request__free_unpacked(req, NULL);
}

/* --- GetSituation ---------------------------------------------------- */

static void
persons_get_situation(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__GetSituationRequest *req;
    Dossier__V1__GetSituationResponse *resp = NULL;
    struct policy_request r = {0};
    struct policy_decision d = {0};
    struct vault_person p = {0};
    struct vault_id id;
    int rc;

    req = dossier__v1__get_situation_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "GetSituationRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_SITUATION_READ, &id) != 0 ||
        svc__open(c, &id, &p) != 0)
        goto out;
    /* A delegate reads the situation under a "read" mandate for every
     * type. */
    r.act = POLICY_SITUATION_READ;
    r.person = &p;
    if (svc__decide_now(c, &r, &d) != 0)
        goto out;
    rc = vault_situation_get(svc__ctx()->vault, &p, req->with_history, &resp);
    if (rc != 0) {
        svc__fail(c, rc, "reading the situation");
        goto out;
    }
    svc__answer(c, &resp->base);
    dossier__v1__get_situation_response__free_unpacked(resp, NULL);
out:
    policy_decision_clear(&d);
    vault_person_close(&p);
    dossier__v1__get_situation_request__free_unpacked(req, NULL);
}

/* --- UpdateSituation ------------------------------------------------- */

static void
update_done(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__UpdateSituationResponse resp =
        DOSSIER__V1__UPDATE_SITUATION_RESPONSE__INIT;
    char id[VAULT_ID_STR];

    if (status != 0) {
        svc__fail(w->c, status, "recording the situation");
    } else {
        vault_id_format(&w->id, id);
        log_info("situation dossier=%s revision=%llu", id,
                 (unsigned long long)w->rev);
        resp.revision = (int64_t)w->rev;
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
persons_update_situation(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__UpdateSituationRequest *req;
    struct policy_request r = {0};
    struct policy_decision d = {0};
    struct pending *w = NULL;
    struct vault_id id;
    int rc;

    req = dossier__v1__update_situation_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "UpdateSituationRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_SITUATION_UPDATE, &id) != 0)
        goto out;
    if (req->situation == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "situation: required");
        goto out;
    }
    if (svc__situation_check(c, "situation", req->situation) != 0)
        goto out;
    if (!svc__str_ok(req->life_event, SHORT_MAX_BYTES, false)) {
        call_finish(c, RPC_INVALID_ARGUMENT, "life_event: at most %d bytes",
                    SHORT_MAX_BYTES);
        goto out;
    }
    if ((w = pending_new(c)) == NULL) {
        svc__fail(c, -ENOMEM, "recording the situation");
        goto out;
    }
    w->id = id;
    if (svc__open(c, &id, &w->p) != 0) {
        pending_end(w);
        goto out;
    }
    /* A delegate changes the situation under a "declare" mandate for
     * every type. */
    r.act = POLICY_SITUATION_UPDATE;
    r.person = &w->p;
    rc = svc__decide_now(c, &r, &d);
    policy_decision_clear(&d);
    if (rc != 0) {
        pending_end(w);
        goto out;
    }
    rc = vault_situation_put(svc__ctx()->vault, &w->p, req->situation,
                             req->life_event, &w->rev, update_done, w);
    if (rc != 0) {
        svc__fail(c, rc, "recording the situation");
        pending_end(w);
    }
out:
    dossier__v1__update_situation_request__free_unpacked(req, NULL);
}

/* --- Erase ----------------------------------------------------------- */

static void
erase_done(void *arg, int status)
{
    struct pending *w = arg;
    Dossier__V1__EraseResponse resp = DOSSIER__V1__ERASE_RESPONSE__INIT;
    char id[VAULT_ID_STR];

    vault_id_format(&w->id, id);
    call_audit_set(w->c, CALL_AUDIT_DOSSIER, id);
    if (status == ERR_NOTFOUND) {
        call_finish(w->c, RPC_NOT_FOUND, "no such dossier");
    } else if (status != 0) {
        svc__fail(w->c, status, "erasing the dossier");
    } else {
        char who[PRINCIPAL_LOG_MAX];

        log_info("erased dossier=%s by=%s", id,
                 principal_log_name(call_principal(w->c), who));
        svc__answer(w->c, &resp.base);
    }
    pending_end(w);
}

static void
persons_erase(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__EraseRequest *req;
    struct pending *w;
    struct vault_id id;
    int rc;

    req = dossier__v1__erase_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "EraseRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_ERASE, &id) != 0)
        goto out;
    if (!req->confirm) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "confirm must be true to erase a dossier");
        goto out;
    }
    if ((w = pending_new(c)) == NULL) {
        svc__fail(c, -ENOMEM, "erasing the dossier");
        goto out;
    }
    w->id = id;
    rc = vault_person_erase(svc__ctx()->vault, &id, erase_done, w);
    if (rc != 0) {
        if (rc == ERR_NOTFOUND)
            call_finish(c, RPC_NOT_FOUND, "no such dossier");
        else
            svc__fail(c, rc, "erasing the dossier");
        pending_end(w);
    }
out:
    dossier__v1__erase_request__free_unpacked(req, NULL);
}

/* --- registration ---------------------------------------------------- */

static const struct method persons_methods[] = {
    {
        .path = "/dossier.v1.Persons/Enrol",
        .kind = CALL_UNARY,
        .on_message = persons_enrol,
    },
    {
        .path = "/dossier.v1.Persons/FindByNir",
        .kind = CALL_UNARY,
        .on_message = persons_find_by_nir,
    },
    {
        .path = "/dossier.v1.Persons/GetSituation",
        .kind = CALL_UNARY,
        .on_message = persons_get_situation,
    },
    {
        .path = "/dossier.v1.Persons/UpdateSituation",
        .kind = CALL_UNARY,
        .on_message = persons_update_situation,
    },
    {
        .path = "/dossier.v1.Persons/Export",
        .kind = CALL_SERVER_STREAM,
        .audit = CALL_AUDIT_HANDLER, /* recorded before the first byte */
        .on_message = svc__export_start,
        .on_writable = svc__export_writable,
        .on_cancel = svc__export_cancel,
    },
    {
        .path = "/dossier.v1.Persons/Erase",
        .kind = CALL_UNARY,
        .on_message = persons_erase,
    },
};

int
svc_persons_register(struct server *s, const struct svc_ctx *ctx)
{
    int rc;

    svc__ctx_set(ctx);
    for (size_t i = 0; i < sizeof(persons_methods) / sizeof(persons_methods[0]);
         i++)
        if ((rc = server_register(s, &persons_methods[i])) != 0)
            return rc;
    return 0;
}
