/*
 * svc.c -- the steps the dossier.v1 handlers share (see svc.h).
 *
 * Every handler goes through the same gate: resolve the dossier from the
 * certificate or the request, ask policy.c, open the person's key.  Doing
 * it here keeps the answers the same across services (same codes, same
 * sentences) and keeps personal values out of them: messages name fields
 * and ids, never what the caller sent.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "store.h"
#include "audit.h"
#include "svc.h"
#include "writer.h"

static struct svc_ctx svc_context;

void
svc__ctx_set(const struct svc_ctx *ctx)
{
    svc_context = *ctx;
    if (svc_context.max_document == 0)
        svc_context.max_document = SVC_MAX_DOCUMENT_DEFAULT;
}

const struct svc_ctx *
svc__ctx(void)
{
    return &svc_context;
}

/* The dossier linked to the caller's certificate, if the caller is a
 * person with one.  Returns 0, ERR_NOTFOUND, or another vault error. */
static int
svc_own(struct call *c, struct vault_id *own)
{
    const struct principal *who = call_principal(c);

    if (who->kind != PRINCIPAL_PERSON)
        return ERR_NOTFOUND;
    return vault_person_find_principal(svc_context.vault, who->id, own);
}

int
svc__deny(struct call *c, enum policy_action act,
          const struct vault_id *dossier, const char *why)
{
    char id[VAULT_ID_STR] = "-", who[PRINCIPAL_LOG_MAX];

    if (dossier != NULL)
        vault_id_format(dossier, id);
    log_info("denied principal=%s action=%s dossier=%s reason=\"%s\"",
             principal_log_name(call_principal(c), who), policy_action_name(act), id, why);
    call_finish(c, RPC_PERMISSION_DENIED, "%s", why);
    return ERR_DENIED;
}

int
svc__dossier(struct call *c, const char *dossier_id, enum policy_action act,
             struct vault_id *out)
{
    const struct principal *who = call_principal(c);
    const struct vault_id *target = out;
    struct vault_id own;
    bool have_own = false;
    const char *why = NULL;
    int rc;

    if (who->kind == PRINCIPAL_PERSON) {
        rc = svc_own(c, &own);
        if (rc == 0)
            have_own = true;
        else if (rc != ERR_NOTFOUND)
            return svc__fail(c, rc, "finding the caller's dossier");
    }
    if (dossier_id != NULL && dossier_id[0] != '\0') {
        if (vault_id_parse(dossier_id, out) != 0) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "dossier_id: not a dossier id");
            return ERR_INVALID;
        }
    } else if (have_own) {
        *out = own;
    } else if (who->kind == PRINCIPAL_PERSON) {
        /* No dossier named and none linked: let the policy say so. */
        memset(out, 0, sizeof(*out));
        target = NULL;
    } else {
        call_finish(c, RPC_INVALID_ARGUMENT, "dossier_id: required");
        return ERR_INVALID;
    }
    /* The entry names the dossier the call is about, allowed or not, so
     * the person sees refused attempts on it too. */
    if (target != NULL) {
        char id[VAULT_ID_STR];
        vault_id_format(target, id);
        call_audit_set(c, CALL_AUDIT_DOSSIER, id);
    }
    if (policy_check(who, act, target, have_own ? &own : NULL, &why) != 0)
        return svc__deny(c, act, target, why);
    return 0;
}

int
svc__own(struct call *c, struct vault_id *own)
{
    return svc_own(c, own);
}

bool
svc__purpose_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SVC_PURPOSE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

bool
svc__text_ok(const char *s, size_t max, bool need)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n > max || (n == 0 && need))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int
svc__basis(struct call *c, const Dossier__V1__Basis *b,
           struct policy_request *r)
{
    const struct principal *who = call_principal(c);
    const char *purpose = b != NULL ? b->purpose_code : "";
    const char *cref = b != NULL ? b->case_reference : "";
    const char *cid = b != NULL ? b->consent_id : "";

    if (purpose[0] == '\0' && who->kind == PRINCIPAL_AGENCY) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "basis.purpose_code: an agency states the purpose of "
                    "each read");
        return ERR_INVALID;
    }
    if (purpose[0] != '\0' && !svc__purpose_ok(purpose)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "basis.purpose_code: 1 to %d characters of A-Z a-z 0-9 "
                    ". _ -",
                    SVC_PURPOSE_MAX);
        return ERR_INVALID;
    }
    if (!svc__text_ok(cref, SVC_CASE_REF_MAX, false)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "basis.case_reference: at most %d bytes, no control "
                    "characters",
                    SVC_CASE_REF_MAX);
        return ERR_INVALID;
    }
    if (cid[0] != '\0' && strlen(cid) != VAULT_ID_STR - 1) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "basis.consent_id: not a consent id");
        return ERR_INVALID;
    }
    r->purpose_code = purpose;
    r->case_reference = cref;
    r->consent_id = cid;
    return 0;
}

/* --- decisions ---------------------------------------------------------- */

/* A decision travelling to the writer and back. */
struct svc_decide {
    struct call *c;
    struct principal who;
    struct vault_person p; /* copy; wiped in svc_decide_free */
    struct vault_id own;
    bool have_own;
    char purpose[SVC_PURPOSE_MAX + 1];
    char case_ref[SVC_CASE_REF_MAX + 1];
    char consent_id[VAULT_ID_STR];
    char type_filter[CATALOG_CODE_MAX + 1];
    struct policy_request r;
    struct policy_decision d;
    int decided; /* policy_decide_txn's answer */
    svc_decided_fn *fn;
    void *arg;
    /* The audit entry, made with the decision in the same transaction.
     * Strings copied from the call on the loop; the writer thread adds
     * the outcome and basis. */
    char action[128];
    char dossier[VAULT_ID_STR];
    char object[96]; /* the document asked for, as noted by the handler */
    char chain[PRINCIPAL_URI_MAX + VAULT_ID_STR + 2];
};

/* Copies |src| (NULL: "") into |dst| of |len| > 0 bytes, cut to fit. */
static void
copy_str(char *dst, size_t len, const char *src)
{
    size_t n;

    if (src == NULL)
        src = "";
    n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
svc_decide_free(struct svc_decide *op)
{
    policy_decision_clear(&op->d);
    vault_person_close(&op->p);
    free(op);
}

/*
 * Writer thread.  The decision is an outcome even when it refuses: the
 * operation then keeps its writes (none today; the audit entry of the
 * refusal, once the audit log joins this operation, appended here in the
 * same |t|), and only a store error drops them.
 */
static int
svc_decide_run(struct store_txn *t, void *arg)
{
    struct svc_decide *op = arg;
    struct audit_entry e;
    uint64_t index;
    int rc;

    /* Repeatable (writer_submit_repeatable): a run drops what an
     * earlier one decided. */
    policy_decision_clear(&op->d);
    op->decided = policy_decide_txn(t, &op->r, &op->d);
    if (op->decided != 0 && op->decided != ERR_DENIED)
        return op->decided;
    /* The trace of the decision commits with it, or neither does: no
     * document byte leaves without its entry, and a one-shot consent is
     * never spent by a read that left no trace. */
    memset(&e, 0, sizeof(e));
    e.principal = op->who.uri;
    e.action = op->action;
    e.dossier_id = op->dossier;
    e.object_id = op->object;
    e.purpose_code = op->purpose;
    e.case_reference = op->case_ref;
    e.on_behalf_of = "";
    e.basis = "";
    if (op->decided == 0) {
        e.outcome = AUDIT_GRANTED;
        e.reason = "";
        if (op->d.mandate_id[0] != '\0') {
            e.basis = op->d.mandate_id;
            snprintf(op->chain, sizeof(op->chain), "%s>%s", op->who.uri,
                     op->d.on_behalf_of);
            e.on_behalf_of = op->chain;
        } else if (op->d.consent_id[0] != '\0') {
            e.basis = op->d.basis + strlen("consent ");
        }
    } else {
        e.outcome = AUDIT_DENIED;
        e.reason = op->d.why;
    }
    if ((rc = audit_append(svc_context.audit, t, &e, &index)) != 0)
        return rc;
    return 0;
}

/*
 * Notes for the call's audit entry what a decision relied on: the
 * dossier, the basis (consent ids or mandate id), the purpose and case
 * reference of the request, and under a mandate the chain
 * "delegate-uri>dossier" as on_behalf_of.  Ids and codes only.
 */
static void
svc_audit_note(struct call *c, const struct policy_request *r,
               const struct policy_decision *d)
{
    char id[VAULT_ID_STR], chain[PRINCIPAL_URI_MAX + VAULT_ID_STR + 2];

    vault_id_format(&r->person->id, id);
    call_audit_set(c, CALL_AUDIT_DOSSIER, id);
    if (r->purpose_code != NULL)
        call_audit_set(c, CALL_AUDIT_PURPOSE, r->purpose_code);
    if (r->case_reference != NULL)
        call_audit_set(c, CALL_AUDIT_CASE, r->case_reference);
    if (d == NULL)
        return;
    if (d->mandate_id[0] != '\0') {
        call_audit_set(c, CALL_AUDIT_BASIS, d->mandate_id);
        snprintf(chain, sizeof(chain), "%s>%s", call_principal(c)->uri,
                 d->on_behalf_of);
        call_audit_set(c, CALL_AUDIT_ON_BEHALF_OF, chain);
    } else if (d->consent_id[0] != '\0') {
        call_audit_set(c, CALL_AUDIT_BASIS, d->basis + strlen("consent "));
    }
}

static void
svc_decide_done(void *arg, int status)
{
    struct svc_decide *op = arg;
    struct call *c = op->c;

    svc_audit_note(c, &op->r, status == 0 ? &op->d : NULL);
    /* The entry is durable: what the decision allows may now be sent. */
    if (status == 0)
        call_audit_recorded(c);

    if (status != 0) {
        svc__fail(c, status, "deciding on access");
        op->fn(c, op->arg, status, NULL);
    } else if (op->decided == ERR_DENIED) {
        svc__deny(c, op->r.act, &op->p.id, op->d.why);
        op->fn(c, op->arg, ERR_DENIED, &op->d);
    } else {
        op->fn(c, op->arg, 0, &op->d);
    }
    svc_decide_free(op);
    call_unref(c);
}

int
svc__decide(struct call *c, const struct policy_request *r, svc_decided_fn *fn,
            void *arg)
{
    struct svc_decide *op = calloc(1, sizeof(*op));
    int rc;

    if (op == NULL)
        return svc__fail(c, -ENOMEM, "deciding on access");
    op->c = c;
    op->who = *call_principal(c);
    op->p = *r->person;
    op->have_own = svc_own(c, &op->own) == 0;
    copy_str(op->purpose, sizeof(op->purpose), r->purpose_code);
    copy_str(op->case_ref, sizeof(op->case_ref), r->case_reference);
    copy_str(op->consent_id, sizeof(op->consent_id), r->consent_id);
    copy_str(op->type_filter, sizeof(op->type_filter), r->type_filter);
    op->r = *r;
    op->r.who = &op->who;
    op->r.person = &op->p;
    op->r.own = op->have_own ? &op->own : NULL;
    op->r.purpose_code = op->purpose;
    op->r.case_reference = op->case_ref;
    op->r.consent_id = op->consent_id;
    op->r.type_filter = op->type_filter;
    op->fn = fn;
    op->arg = arg;
    {
        const char *path = call_method(c)->path;
        const char *svc = strrchr(path, '.'), *slash = strrchr(path, '/');
        if (svc != NULL && slash != NULL && slash > svc) {
            /* "Service.Method", cut to fit, without printf (every call
             * that is decided on comes here). */
            size_t sl = (size_t)(slash - svc - 1);

            if (sl > sizeof(op->action) - 2)
                sl = sizeof(op->action) - 2;
            memcpy(op->action, svc + 1, sl);
            op->action[sl] = '.';
            copy_str(op->action + sl + 1, sizeof(op->action) - sl - 1,
                     slash + 1);
        } else {
            copy_str(op->action, sizeof(op->action), path);
        }
    }
    vault_id_format(&r->person->id, op->dossier);
    copy_str(op->object, sizeof(op->object),
             call_audit_get(c, CALL_AUDIT_OBJECT));
    call_ref(c);
    rc = writer_submit_repeatable(vault_writer(svc_context.vault),
                                  svc_decide_run, svc_decide_done, op);
    if (rc != 0) {
        call_unref(c);
        svc_decide_free(op);
        return svc__fail(c, rc, "deciding on access");
    }
    return 0;
}

int
svc__decide_now(struct call *c, const struct policy_request *r,
                struct policy_decision *d)
{
    struct policy_request q = *r;
    struct store_txn *t = NULL;
    struct vault_id own;
    int rc;

    q.who = call_principal(c);
    q.own = svc_own(c, &own) == 0 ? &own : NULL;
    if (policy_needs_grants(q.who, q.act) &&
        (rc = vault_read_begin(svc_context.vault, &t)) != 0)
        return svc__fail(c, rc, "deciding on access");
    q.no_spend = true; /* a read transaction spends nothing */
    rc = policy_decide_txn(t, &q, d);
    if (t != NULL)
        store_txn_abort(t);
    svc_audit_note(c, &q, rc == 0 || rc == ERR_DENIED ? d : NULL);
    if (rc == ERR_DENIED)
        return svc__deny(c, q.act, &r->person->id, d->why);
    if (rc != 0)
        return svc__fail(c, rc, "deciding on access");
    return 0;
}

int
svc__open(struct call *c, const struct vault_id *id, struct vault_person *p)
{
    int rc = vault_person_open(svc_context.vault, id, p);

    if (rc == ERR_NOTFOUND) {
        call_finish(c, RPC_NOT_FOUND, "no such dossier");
        return rc;
    }
    if (rc != 0)
        return svc__fail(c, rc, "opening the dossier's key");
    return 0;
}

int
svc__fail(struct call *c, int rc, const char *what)
{
    const char *m = call_method(c) != NULL ? call_method(c)->path : "?";

    switch (rc) {
    case -ECANCELED:
        break;
    case ERR_FULL:
    case -ENOSPC:
        log_warnx("method=%s store full while %s", m, what);
        call_finish(c, RPC_RESOURCE_EXHAUSTED, "the store is full");
        break;
    case ERR_CORRUPT:
        log_warnx("method=%s integrity failure while %s", m, what);
        call_finish(c, RPC_DATA_LOSS,
                    "stored data failed its integrity "
                    "check while %s",
                    what);
        break;
    case ERR_NOTFOUND:
        call_finish(c, RPC_NOT_FOUND, "not found while %s", what);
        break;
    case ERR_UNAVAILABLE:
        call_finish(c, RPC_UNAVAILABLE, "the server is shutting down, retry");
        break;
    case -ENOMEM:
        log_warnx("method=%s out of memory while %s", m, what);
        call_finish(c, RPC_RESOURCE_EXHAUSTED, "out of memory, retry later");
        break;
    default:
        log_warnx("method=%s failed while %s: %s", m, what, err_str(rc));
        call_finish(c, RPC_INTERNAL, "internal error while %s", what);
        break;
    }
    return rc;
}

void
svc__answer(struct call *c, const ProtobufCMessage *msg)
{
    int rc = call_send_msg(c, msg);

    if (rc == 0)
        call_finish(c, RPC_OK, NULL);
    else
        svc__fail(c, rc, "sending the answer");
}

static int
days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

bool
svc__date_unset(const Dossier__V1__Date *d)
{
    return d == NULL || (d->year == 0 && d->month == 0 && d->day == 0);
}

bool
svc__date_valid(const Dossier__V1__Date *d)
{
    return d != NULL && d->year >= 1900 && d->year <= 9999 && d->month >= 1 &&
           d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month);
}

int
svc__date_cmp(const Dossier__V1__Date *a, const Dossier__V1__Date *b)
{
    if (a->year != b->year)
        return a->year < b->year ? -1 : 1;
    if (a->month != b->month)
        return a->month < b->month ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return 0;
}

void
svc__today(Dossier__V1__Date *out)
{
    time_t now = time(NULL);
    struct tm tm;

    dossier__v1__date__init(out);
    if (localtime_r(&now, &tm) == NULL)
        gmtime_r(&now, &tm);
    out->year = tm.tm_year + 1900;
    out->month = tm.tm_mon + 1;
    out->day = tm.tm_mday;
}

int
svc__check_date(struct call *c, const char *name, const Dossier__V1__Date *d,
                bool required)
{
    if (svc__date_unset(d)) {
        if (!required)
            return 0;
        call_finish(c, RPC_INVALID_ARGUMENT, "%s: required", name);
        return ERR_INVALID;
    }
    if (!svc__date_valid(d)) {
        call_finish(c, RPC_INVALID_ARGUMENT, "%s: not a valid date", name);
        return ERR_INVALID;
    }
    return 0;
}

bool
svc__str_ok(const char *s, size_t max, bool need)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n <= max && (n > 0 || !need);
}

/* A situation's fields (svc.h). */
int
svc__situation_check(struct call *c, const char *field,
                const Dossier__V1__Situation *s)
{
    const Dossier__V1__Address *a = s->address;
    char name[96];

    if (a != NULL && (!svc__str_ok(a->line1, SVC_ADDR_MAX, false) ||
                      !svc__str_ok(a->line2, SVC_ADDR_MAX, false) ||
                      !svc__str_ok(a->postal_code, SVC_SHORT_MAX, false) ||
                      !svc__str_ok(a->city, SVC_ADDR_MAX, false) ||
                      !svc__str_ok(a->country, SVC_SHORT_MAX, false))) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "%s.address: a line or city is over %d bytes, or the "
                    "postal code or country over %d",
                    field, SVC_ADDR_MAX, SVC_SHORT_MAX);
        return ERR_INVALID;
    }
    if (s->n_household > SVC_HOUSEHOLD_MAX) {
        call_finish(c, RPC_INVALID_ARGUMENT, "%s.household: at most %d members",
                    field, SVC_HOUSEHOLD_MAX);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < s->n_household; i++) {
        const Dossier__V1__HouseholdMember *m = s->household[i];

        if (!svc__str_ok(m->given_name, SVC_NAME_MAX, false) ||
            !svc__str_ok(m->family_name, SVC_NAME_MAX, false) ||
            !svc__str_ok(m->relation, SVC_SHORT_MAX, false)) {
            call_finish(c, RPC_INVALID_ARGUMENT,
                        "%s.household[%zu]: names are at most %d bytes, the "
                        "relation at most %d",
                        field, i, SVC_NAME_MAX, SVC_SHORT_MAX);
            return ERR_INVALID;
        }
        snprintf(name, sizeof(name), "%s.household[%zu].birth_date", field, i);
        if (svc__check_date(c, name, m->birth_date, false) != 0)
            return ERR_INVALID;
    }
    snprintf(name, sizeof(name), "%s.effective", field);
    return svc__check_date(c, name, s->effective, false);
}
