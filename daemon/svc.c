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

#include "err.h"
#include "log.h"
#include "rpc.h"
#include "svc.h"

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
    char id[VAULT_ID_STR] = "-";

    if (dossier != NULL)
        vault_id_format(dossier, id);
    log_info("denied principal=%s action=%s dossier=%s", call_principal(c)->uri,
             policy_action_name(act), id);
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
    if (policy_check(who, act, target, NULL, have_own ? &own : NULL, &why) != 0)
        return svc__deny(c, act, target, why);
    return 0;
}

bool
svc__may(struct call *c, enum policy_action act, const struct vault_id *dossier,
         const char *issuer)
{
    struct vault_id own;
    bool have_own = svc_own(c, &own) == 0;

    return policy_check(call_principal(c), act, dossier, issuer,
                        have_own ? &own : NULL, NULL) == 0;
}

int
svc__check_issuer(struct call *c, enum policy_action act,
                  const struct vault_id *dossier, const char *issuer)
{
    struct vault_id own;
    bool have_own = svc_own(c, &own) == 0;
    const char *why = NULL;

    if (policy_check(call_principal(c), act, dossier, issuer,
                     have_own ? &own : NULL, &why) != 0)
        return svc__deny(c, act, dossier, why);
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
