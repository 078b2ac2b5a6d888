/*
 * policy.c -- access decisions (see policy.h).
 *
 * policy_check() has one switch per kind of principal, each answering for
 * every action, so that a new action is denied everywhere until someone
 * writes its rule.  policy_decide_txn() adds what the data says: the
 * consents an agency holds, the mandates a delegate holds, read in the
 * caller's transaction so that a revocation committed before it is always
 * seen, and a one-shot consent is spent in the same transaction as the
 * read it allows.
 *
 * When several grants could explain a refusal, the sentence returned is
 * the one of the grant that came closest (policy_fit): "consent c.. was
 * revoked" says more than "no consent covers this type" when the revoked
 * consent did cover it.  Sentences name ids, type codes and purpose codes
 * (validated by the handlers), never what a record holds of the person.
 *
 * The denylist of revoked principals is the one piece of state: set from
 * the loop (start, SIGHUP), read from any thread, under a mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "policy.h"
#include "store.h"

static const char *const action_names[] = {
    [POLICY_ENROL] = "enrol",
    [POLICY_FIND_BY_NIR] = "find-by-nir",
    [POLICY_SITUATION_READ] = "situation-read",
    [POLICY_SITUATION_UPDATE] = "situation-update",
    [POLICY_EXPORT] = "export",
    [POLICY_ERASE] = "erase",
    [POLICY_DOC_PUT] = "document-put",
    [POLICY_DOC_READ] = "document-read",
    [POLICY_DOC_LIST] = "document-list",
    [POLICY_DOC_CHECK] = "document-check",
    [POLICY_FACT_PUT] = "fact-put",
    [POLICY_FACT_READ] = "fact-read",
    [POLICY_CONSENT_GRANT] = "consent-grant",
    [POLICY_CONSENT_REVOKE] = "consent-revoke",
    [POLICY_CONSENT_LIST] = "consent-list",
    [POLICY_MANDATE_GRANT] = "mandate-grant",
    [POLICY_MANDATE_REVOKE] = "mandate-revoke",
    [POLICY_MANDATE_LIST] = "mandate-list",
    [POLICY_EVENTS_WATCH] = "events-watch",
};

const char *
policy_action_name(enum policy_action act)
{
    if ((size_t)act < sizeof(action_names) / sizeof(action_names[0]) &&
        action_names[act] != NULL)
        return action_names[act];
    return "unknown";
}

/* Sets |*why| and returns ERR_DENIED. */
static int
deny(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return ERR_DENIED;
}

static bool
same_id(const struct vault_id *a, const struct vault_id *b)
{
    return a != NULL && b != NULL && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* A person acts on the dossier linked to their certificate, and on no
 * other; enrolment, look-up by NIR and facts are not theirs. */
static int
policy_person(enum policy_action act, const struct vault_id *dossier,
              const struct vault_id *own, const char **why)
{
    switch (act) {
    case POLICY_SITUATION_READ:
    case POLICY_SITUATION_UPDATE:
    case POLICY_EXPORT:
    case POLICY_ERASE:
    case POLICY_DOC_PUT:
    case POLICY_DOC_READ:
    case POLICY_DOC_LIST:
    case POLICY_DOC_CHECK:
    case POLICY_FACT_READ:
    case POLICY_CONSENT_GRANT:
    case POLICY_CONSENT_REVOKE:
    case POLICY_CONSENT_LIST:
    case POLICY_MANDATE_GRANT:
    case POLICY_MANDATE_REVOKE:
    case POLICY_MANDATE_LIST:
        if (own == NULL)
            return deny(why, "no dossier is linked to this person's "
                             "certificate");
        if (!same_id(dossier, own))
            return deny(why, "a person acts on their own dossier only");
        return 0;
    case POLICY_ENROL:
        return deny(why, "only an operator or a delegate may enrol a person");
    case POLICY_FIND_BY_NIR:
        return deny(why, "only an agency may look a dossier up by NIR");
    case POLICY_FACT_PUT:
        return deny(why, "only an agency may publish facts");
    case POLICY_EVENTS_WATCH:
        return deny(why, "only an agency watches events; a person sees who "
                         "was told of what with Audit.Query");
    }
    return deny(why, "this action is not allowed");
}

/* An agency deposits on any dossier and reads only under consent (decided
 * on data by policy_decide_txn). */
static int
policy_agency(enum policy_action act, const char **why)
{
    switch (act) {
    case POLICY_FIND_BY_NIR:
    case POLICY_DOC_PUT:
    case POLICY_FACT_PUT:
    case POLICY_DOC_READ:
    case POLICY_DOC_LIST:
    case POLICY_FACT_READ:
    case POLICY_CONSENT_LIST:
    case POLICY_EVENTS_WATCH:
        return 0;
    case POLICY_DOC_CHECK:
        return deny(why, "an agency reads a document with Get, which checks "
                         "its integrity; CheckIntegrity is for the person "
                         "and their delegates");
    case POLICY_SITUATION_READ:
    case POLICY_SITUATION_UPDATE:
        return deny(why, "an agency does not read or change a person's "
                         "situation: no consent covers it");
    case POLICY_EXPORT:
    case POLICY_ERASE:
        return deny(why, "only the person may export or erase their "
                         "dossier");
    case POLICY_ENROL:
        return deny(why, "only an operator or a delegate may enrol a person");
    case POLICY_CONSENT_GRANT:
    case POLICY_CONSENT_REVOKE:
        return deny(why, "only the person, or a delegate under a mandate "
                         "allowing grant-consent, grants or revokes consent");
    case POLICY_MANDATE_GRANT:
    case POLICY_MANDATE_REVOKE:
    case POLICY_MANDATE_LIST:
        return deny(why, "mandates are between a person and their "
                         "delegates");
    }
    return deny(why, "this action is not allowed");
}

/* A delegate enrols, and acts for a person under a mandate (decided on
 * data); its own mandates it lists and gives up. */
static int
policy_delegate(enum policy_action act, const char **why)
{
    if (act == POLICY_ENROL || act == POLICY_MANDATE_LIST ||
        act == POLICY_MANDATE_REVOKE || policy_mandate_action(act) != NULL)
        return 0;
    switch (act) {
    case POLICY_MANDATE_GRANT:
        return deny(why, "only the person grants a mandate");
    case POLICY_EXPORT:
    case POLICY_ERASE:
        return deny(why, "only the person may export or erase their "
                         "dossier");
    case POLICY_FIND_BY_NIR:
        return deny(why, "only an agency may look a dossier up by NIR");
    case POLICY_FACT_PUT:
        return deny(why, "only an agency may publish facts");
    case POLICY_EVENTS_WATCH:
        return deny(why, "only an agency watches events");
    default:
        break;
    }
    return deny(why, "no mandate allows a delegate this action");
}

int
policy_check(const struct principal *who, enum policy_action act,
             const struct vault_id *dossier, const struct vault_id *own,
             const char **why)
{
    if (who == NULL)
        return deny(why, "no authenticated principal");
    if (policy_denylisted(who->uri))
        return deny(why, "this principal has been revoked by the operator");
    switch (who->kind) {
    case PRINCIPAL_PERSON:
        return policy_person(act, dossier, own, why);
    case PRINCIPAL_AGENCY:
        return policy_agency(act, why);
    case PRINCIPAL_ADMIN:
        if (act == POLICY_ENROL)
            return 0;
        return deny(why, "an operator manages principals and keys and "
                         "enrols persons; it reads no dossier");
    case PRINCIPAL_DELEGATE:
        return policy_delegate(act, why);
    case PRINCIPAL_AUDITOR:
        return deny(why, "an auditor reviews the audit log and reads no "
                         "dossier");
    case PRINCIPAL_NONE:
        break;
    }
    return deny(why, "unknown kind of principal");
}

bool
policy_needs_grants(const struct principal *who, enum policy_action act)
{
    if (who == NULL)
        return false;
    if (who->kind == PRINCIPAL_AGENCY)
        return act == POLICY_DOC_READ || act == POLICY_DOC_LIST ||
               act == POLICY_FACT_READ;
    if (who->kind == PRINCIPAL_DELEGATE)
        return policy_mandate_action(act) != NULL;
    return false;
}

/* --- rules on records --------------------------------------------------------
 */

void
policy_time_format(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

void
policy_agency_kind(const char *agency_id, char *out, size_t len)
{
    size_t n = strcspn(agency_id, "-");

    if (len == 0)
        return;
    if (n >= len)
        n = len - 1;
    memcpy(out, agency_id, n);
    out[n] = '\0';
}

static bool
in_list(char *const *v, size_t n, const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

bool
policy_consent_for(const Dossier__V1__Consent *c,
                   const struct principal *agency)
{
    char kind[PRINCIPAL_ID_MAX];

    if (agency == NULL || agency->kind != PRINCIPAL_AGENCY)
        return false;
    if (c->agency != NULL && c->agency[0] != '\0')
        return strcmp(c->agency, agency->uri) == 0;
    if (c->agency_kind == NULL || c->agency_kind[0] == '\0')
        return false;
    policy_agency_kind(agency->id, kind, sizeof(kind));
    return strcmp(c->agency_kind, kind) == 0;
}

bool
policy_consent_covers(const Dossier__V1__Consent *c,
                      const struct policy_object *o)
{
    if (o->fact)
        return in_list(c->fact_types, c->n_fact_types, o->type);
    return in_list(c->document_types, c->n_document_types, o->type) ||
           in_list(c->document_ids, c->n_document_ids, o->doc_id);
}

/* Writes the sentence for an object not covered by |what| ("consent c.."
 * or "mandate m.."). */
static void
not_covered(char *why, size_t len, const char *what,
            const struct policy_object *o)
{
    if (o->type != NULL)
        snprintf(why, len, "%s does not cover %s %s", what,
                 o->fact ? "fact type" : "type", o->type);
    else if (o->doc_id != NULL)
        snprintf(why, len, "%s does not cover document %s", what, o->doc_id);
    else
        snprintf(why, len, "%s covers only some types", what);
}

enum policy_fit
policy_consent_fit(const Dossier__V1__Consent *c, const struct policy_object *o,
                   const char *purpose, const char *case_ref, int64_t now,
                   char *why, size_t len)
{
    char what[64], when[32];
    char scratch[8];

    if (why == NULL) {
        why = scratch;
        len = sizeof(scratch);
    }
    snprintf(what, sizeof(what), "consent %s", c->consent_id);
    if (o != NULL && !policy_consent_covers(c, o)) {
        not_covered(why, len, what, o);
        return POLICY_FIT_NOT_COVERED;
    }
    if (purpose == NULL || purpose[0] == '\0') {
        snprintf(why, len, "no purpose given: %s is for purpose %s", what,
                 c->purpose_code);
        return POLICY_FIT_PURPOSE;
    }
    if (strcmp(purpose, c->purpose_code) != 0) {
        snprintf(why, len, "purpose %s is not the purpose of %s (%s)", purpose,
                 what, c->purpose_code);
        return POLICY_FIT_PURPOSE;
    }
    if (c->case_reference != NULL && c->case_reference[0] != '\0' &&
        (case_ref == NULL || strcmp(case_ref, c->case_reference) != 0)) {
        snprintf(why, len,
                 "the case reference is not the one %s was given "
                 "for",
                 what);
        return POLICY_FIT_CASE;
    }
    if (c->revoked) {
        policy_time_format(c->revoked_unix, when);
        snprintf(why, len, "%s was revoked on %s", what, when);
        return POLICY_FIT_STATE;
    }
    if (c->one_shot && c->spent) {
        policy_time_format(c->spent_unix, when);
        snprintf(why, len, "one-shot %s was already used on %s", what, when);
        return POLICY_FIT_STATE;
    }
    if (now >= c->valid_until_unix) {
        policy_time_format(c->valid_until_unix, when);
        snprintf(why, len, "%s expired on %s", what, when);
        return POLICY_FIT_STATE;
    }
    if (now < c->valid_from_unix) {
        policy_time_format(c->valid_from_unix, when);
        snprintf(why, len, "%s is valid only from %s", what, when);
        return POLICY_FIT_STATE;
    }
    return POLICY_FIT_OK;
}

const char *
policy_mandate_action(enum policy_action act)
{
    switch (act) {
    case POLICY_DOC_PUT:
        return "deposit";
    case POLICY_DOC_READ:
    case POLICY_DOC_LIST:
    case POLICY_DOC_CHECK:
    case POLICY_FACT_READ:
    case POLICY_SITUATION_READ:
    case POLICY_CONSENT_LIST:
        return "read";
    case POLICY_CONSENT_GRANT:
    case POLICY_CONSENT_REVOKE:
        return "grant-consent";
    case POLICY_SITUATION_UPDATE:
        return "declare";
    default:
        return NULL;
    }
}

static bool
mandate_allows(const Dossier__V1__Mandate *m, enum policy_action act)
{
    const char *need = policy_mandate_action(act);

    if (need == NULL)
        return false;
    if (in_list(m->actions, m->n_actions, need))
        return true;
    /* Who may grant consent may see the consents it would add to. */
    return act == POLICY_CONSENT_LIST &&
           in_list(m->actions, m->n_actions, "grant-consent");
}

enum policy_fit
policy_mandate_fit(const Dossier__V1__Mandate *m, enum policy_action act,
                   const struct policy_object *o, int64_t now, char *why,
                   size_t len)
{
    static const struct policy_object everything = {false, NULL, NULL};
    char what[64], when[32];
    char scratch[8];
    bool every = in_list(m->document_types, m->n_document_types, "*");

    if (why == NULL) {
        why = scratch;
        len = sizeof(scratch);
    }
    snprintf(what, sizeof(what), "mandate %s", m->mandate_id);
    if (!mandate_allows(m, act)) {
        snprintf(why, len, "%s does not allow %s", what,
                 policy_mandate_action(act) != NULL ? policy_mandate_action(act)
                                                    : policy_action_name(act));
        return POLICY_FIT_NOT_COVERED;
    }
    /* The situation is no document type: only a mandate for every type
     * covers it. */
    if (act == POLICY_SITUATION_READ || act == POLICY_SITUATION_UPDATE)
        o = &everything;
    if (o != NULL && !every &&
        (o->type == NULL ||
         !in_list(m->document_types, m->n_document_types, o->type))) {
        if (act == POLICY_SITUATION_READ || act == POLICY_SITUATION_UPDATE)
            snprintf(why, len,
                     "%s covers only some document types, not the "
                     "situation",
                     what);
        else
            not_covered(why, len, what, o);
        return POLICY_FIT_PURPOSE;
    }
    if (m->revoked) {
        policy_time_format(m->revoked_unix, when);
        snprintf(why, len, "%s was revoked on %s", what, when);
        return POLICY_FIT_STATE;
    }
    if (now >= m->valid_until_unix) {
        policy_time_format(m->valid_until_unix, when);
        snprintf(why, len, "%s expired on %s", what, when);
        return POLICY_FIT_STATE;
    }
    if (now < m->valid_from_unix) {
        policy_time_format(m->valid_from_unix, when);
        snprintf(why, len, "%s is valid only from %s", what, when);
        return POLICY_FIT_STATE;
    }
    return POLICY_FIT_OK;
}

/* --- decisions
 * ------------------------------------------------------------------ */

void
policy_decision_clear(struct policy_decision *d)
{
    free(d->allowed);
    memset(d, 0, sizeof(*d));
}

static bool
is_list_act(enum policy_action act)
{
    return act == POLICY_DOC_LIST || act == POLICY_FACT_READ;
}

/* Appends " id" to the decision's basis once. */
static void
basis_add(struct policy_decision *d, const char *id)
{
    size_t n = strlen(d->basis);

    if (strstr(d->basis, id) != NULL)
        return;
    snprintf(d->basis + n, sizeof(d->basis) - n, " %s", id);
}

/* Keeps the sentence of the closest refusal so far. */
struct best {
    int fit; /* -1: nothing seen */
    char why[POLICY_WHY_MAX];
};

static void
best_note(struct best *b, enum policy_fit fit, const char *why)
{
    if ((int)fit > b->fit) {
        b->fit = (int)fit;
        snprintf(b->why, sizeof(b->why), "%s", why);
    }
}

/* The consent that lets |o| (NULL: anything) be read, standing ones
 * first; -1 if none, with the closest refusal noted in |b|. */
static ssize_t
consent_pick(Dossier__V1__Consent **v, size_t n, const struct policy_object *o,
             const struct policy_request *r, int64_t now, struct best *b)
{
    char why[POLICY_WHY_MAX];
    ssize_t shot = -1;

    for (size_t i = 0; i < n; i++) {
        enum policy_fit fit = policy_consent_fit(
            v[i], o, r->purpose_code, r->case_reference, now, why, sizeof(why));
        if (fit != POLICY_FIT_OK) {
            best_note(b, fit, why);
            continue;
        }
        if (!v[i]->one_shot)
            return (ssize_t)i;
        if (shot < 0)
            shot = (ssize_t)i;
    }
    return shot;
}

/* "no consent of agency caf-75 covers type X in this dossier", or the
 * closest refusal. */
static void
consent_refusal(struct policy_decision *d, const struct best *b,
                const struct principal *who, const struct policy_object *o)
{
    if (b->fit > POLICY_FIT_NOT_COVERED) {
        snprintf(d->why, sizeof(d->why), "%s", b->why);
        return;
    }
    if (o == NULL)
        snprintf(d->why, sizeof(d->why),
                 "agency %s holds no consent for this dossier", who->id);
    else if (o->type != NULL)
        snprintf(d->why, sizeof(d->why),
                 "no consent of agency %s covers %s %s in this dossier",
                 who->id, o->fact ? "fact type" : "type", o->type);
    else
        snprintf(d->why, sizeof(d->why),
                 "no consent of agency %s covers document %s in this dossier",
                 who->id, o->doc_id != NULL ? o->doc_id : "?");
}

static int
decide_agency(struct store_txn *t, const struct policy_request *r,
              struct policy_decision *d, int64_t now)
{
    const struct principal *who = r->who;
    Dossier__V1__Consent **v = NULL;
    struct policy_object filter = {r->act == POLICY_FACT_READ, r->type_filter,
                                   NULL};
    struct best b = {-1, ""};
    bool *used = NULL;
    char kind[PRINCIPAL_ID_MAX];
    size_t n = 0;
    ssize_t k;
    int rc;

    if (r->consent_id != NULL && r->consent_id[0] != '\0') {
        Dossier__V1__Consent *one = NULL;

        rc = vault_consent_get_txn(t, r->person, r->consent_id, &one);
        if (rc == ERR_NOTFOUND || rc == ERR_INVALID ||
            (rc == 0 && !policy_consent_for(one, who))) {
            if (one != NULL)
                dossier__v1__consent__free_unpacked(one, NULL);
            snprintf(d->why, sizeof(d->why),
                     "basis.consent_id names no consent of this agency for "
                     "this dossier");
            return ERR_DENIED;
        }
        if (rc != 0)
            return rc;
        if ((v = malloc(sizeof(*v))) == NULL) {
            dossier__v1__consent__free_unpacked(one, NULL);
            return -ENOMEM;
        }
        v[0] = one;
        n = 1;
    } else {
        policy_agency_kind(who->id, kind, sizeof(kind));
        if ((rc = vault_consents_held_txn(t, r->person, who->uri, kind, &v,
                                          &n)) != 0)
            return rc;
    }
    /* The index says who holds what; the sealed record has the last word. */
    for (size_t i = 0; i < n;) {
        if (policy_consent_for(v[i], who)) {
            i++;
            continue;
        }
        dossier__v1__consent__free_unpacked(v[i], NULL);
        v[i] = v[--n];
    }
    if (n > 0 && (used = calloc(n, sizeof(*used))) == NULL) {
        rc = -ENOMEM;
        goto out;
    }

    if (is_list_act(r->act)) {
        const struct policy_object *fo =
            r->type_filter != NULL && r->type_filter[0] != '\0' ? &filter
                                                                : NULL;
        /* May the agency list at all (for this purpose, this type)? */
        if (consent_pick(v, n, fo, r, now, &b) < 0) {
            consent_refusal(d, &b, who, fo);
            rc = ERR_DENIED;
            goto out;
        }
        for (size_t i = 0; i < r->n_objects; i++) {
            struct best ignore = {-1, ""};
            k = consent_pick(v, n, &r->objects[i], r, now, &ignore);
            if (k >= 0) {
                d->allowed[i] = true;
                d->n_allowed++;
                used[k] = true;
            }
        }
    } else {
        if (r->n_objects == 0) {
            rc = ERR_DENIED;
            snprintf(d->why, sizeof(d->why), "nothing to decide on");
            goto out;
        }
        for (size_t i = 0; i < r->n_objects; i++) {
            k = consent_pick(v, n, &r->objects[i], r, now, &b);
            if (k < 0) {
                consent_refusal(d, &b, who, &r->objects[i]);
                rc = ERR_DENIED;
                goto out;
            }
            d->allowed[i] = true;
            d->n_allowed++;
            used[k] = true;
        }
    }

    /* Spend the one-shot consents relied on, in this transaction: if it
     * does not commit, neither the read nor the spending happened. */
    rc = 0;
    snprintf(d->basis, sizeof(d->basis), "consent");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!used[i])
            continue;
        if (d->consent_id[0] == '\0')
            snprintf(d->consent_id, sizeof(d->consent_id), "%s",
                     v[i]->consent_id);
        basis_add(d, v[i]->consent_id);
        if (v[i]->one_shot && !r->no_spend) {
            v[i]->spent = true;
            v[i]->spent_unix = now;
            rc = vault_consent_put_txn(t, r->person, v[i]);
            d->n_spent++;
        }
    }
    if (d->consent_id[0] == '\0')
        snprintf(d->basis, sizeof(d->basis),
                 "consent (none needed: nothing "
                 "to show)");
out:
    free(used);
    vault_consents_free(v, n);
    return rc;
}

/* The mandate that lets the act be done on |o|; -1 if none. */
static ssize_t
mandate_pick(Dossier__V1__Mandate **v, size_t n, enum policy_action act,
             const struct policy_object *o, int64_t now, struct best *b)
{
    char why[POLICY_WHY_MAX];

    for (size_t i = 0; i < n; i++) {
        enum policy_fit fit =
            policy_mandate_fit(v[i], act, o, now, why, sizeof(why));
        if (fit == POLICY_FIT_OK)
            return (ssize_t)i;
        best_note(b, fit, why);
    }
    return -1;
}

static void
mandate_refusal(struct policy_decision *d, const struct best *b,
                const struct principal *who, enum policy_action act)
{
    if (b->fit > POLICY_FIT_NOT_COVERED)
        snprintf(d->why, sizeof(d->why), "%s", b->why);
    else
        snprintf(d->why, sizeof(d->why),
                 "no mandate of delegate %s for this person allows %s", who->id,
                 policy_mandate_action(act));
}

static int
decide_delegate(struct store_txn *t, const struct policy_request *r,
                struct policy_decision *d, int64_t now)
{
    const struct principal *who = r->who;
    Dossier__V1__Mandate **v = NULL;
    struct policy_object filter = {r->act == POLICY_FACT_READ, r->type_filter,
                                   NULL};
    struct best b = {-1, ""};
    char dossier[VAULT_ID_STR];
    ssize_t k, first = -1;
    size_t n = 0;
    int rc;

    if ((rc = vault_mandates_held_txn(t, r->person, who->uri, &v, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n;) {
        if (strcmp(v[i]->delegate, who->uri) == 0) {
            i++;
            continue;
        }
        dossier__v1__mandate__free_unpacked(v[i], NULL);
        v[i] = v[--n];
    }
    if (is_list_act(r->act) || r->n_objects == 0) {
        const struct policy_object *fo =
            r->type_filter != NULL && r->type_filter[0] != '\0' ? &filter
                                                                : NULL;
        if ((first = mandate_pick(v, n, r->act, fo, now, &b)) < 0) {
            mandate_refusal(d, &b, who, r->act);
            rc = ERR_DENIED;
            goto out;
        }
        for (size_t i = 0; i < r->n_objects; i++) {
            struct best ignore = {-1, ""};
            if (mandate_pick(v, n, r->act, &r->objects[i], now, &ignore) >= 0) {
                d->allowed[i] = true;
                d->n_allowed++;
            }
        }
    } else {
        for (size_t i = 0; i < r->n_objects; i++) {
            k = mandate_pick(v, n, r->act, &r->objects[i], now, &b);
            if (k < 0) {
                mandate_refusal(d, &b, who, r->act);
                rc = ERR_DENIED;
                goto out;
            }
            if (first < 0)
                first = k;
            d->allowed[i] = true;
            d->n_allowed++;
        }
    }
    vault_id_format(&r->person->id, dossier);
    snprintf(d->mandate_id, sizeof(d->mandate_id), "%s", v[first]->mandate_id);
    snprintf(d->basis, sizeof(d->basis), "mandate %s", d->mandate_id);
    snprintf(d->on_behalf_of, sizeof(d->on_behalf_of), "%s", dossier);
    snprintf(d->chain, sizeof(d->chain), "%s -> dossier %s (mandate %s)",
             who->uri, dossier, d->mandate_id);
    rc = 0;
out:
    vault_mandates_free(v, n);
    return rc;
}

int
policy_decide_txn(struct store_txn *t, const struct policy_request *r,
                  struct policy_decision *d)
{
    int64_t now = r->now != 0 ? r->now : (int64_t)time(NULL);
    const char *why = NULL;
    int rc;

    memset(d, 0, sizeof(*d));
    if (r->n_objects > 0 &&
        (d->allowed = calloc(r->n_objects, sizeof(*d->allowed))) == NULL)
        return -ENOMEM;
    if (r->person == NULL || !r->person->open) {
        snprintf(d->why, sizeof(d->why), "no dossier to decide on");
        return ERR_DENIED;
    }
    if (policy_check(r->who, r->act, &r->person->id, r->own, &why) != 0) {
        snprintf(d->why, sizeof(d->why), "%s", why);
        return ERR_DENIED;
    }
    if (!policy_needs_grants(r->who, r->act)) {
        /* The role decides alone: the person on their own dossier, an
         * agency depositing. */
        for (size_t i = 0; i < r->n_objects; i++)
            d->allowed[i] = true;
        d->n_allowed = r->n_objects;
        snprintf(d->basis, sizeof(d->basis), "%s",
                 r->who->kind == PRINCIPAL_PERSON ? "owner" : "role");
        return 0;
    }
    if (r->who->kind == PRINCIPAL_AGENCY)
        rc = decide_agency(t, r, d, now);
    else
        rc = decide_delegate(t, r, d, now);
    if (rc != 0) {
        for (size_t i = 0; i < r->n_objects; i++)
            d->allowed[i] = false;
        d->n_allowed = 0;
        d->basis[0] = '\0';
    }
    return rc;
}

/* --- denylist
 * ------------------------------------------------------------------ */

static pthread_mutex_t deny_mu = PTHREAD_MUTEX_INITIALIZER;
static char **deny_v;
static size_t deny_n;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int
policy_denylist_set(const char *text, size_t len, const char *trust_domain,
                    int *bad_line)
{
    char **v = NULL, **old;
    size_t n = 0, oldn, pos = 0;
    int line = 0;

    while (pos < len) {
        const char *s = text + pos;
        size_t l = 0, a, z;
        struct principal p;

        while (pos + l < len && s[l] != '\n')
            l++;
        pos += l + 1;
        line++;
        for (a = 0; a < l && (s[a] == ' ' || s[a] == '\t'); a++)
            ;
        for (z = l;
             z > a && (s[z - 1] == ' ' || s[z - 1] == '\t' || s[z - 1] == '\r');
             z--)
            ;
        if (z == a || s[a] == '#')
            continue;
        if (principal_parse(s + a, z - a, trust_domain, &p) != 0) {
            if (bad_line != NULL)
                *bad_line = line;
            strs_free(v, n);
            return ERR_INVALID;
        }
        void *np = realloc(v, (n + 1) * sizeof(*v));
        if (np == NULL || (((char **)np)[n] = strdup(p.uri)) == NULL) {
            strs_free(np != NULL ? np : v, n);
            return -ENOMEM;
        }
        v = np;
        n++;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_str);
    pthread_mutex_lock(&deny_mu);
    old = deny_v;
    oldn = deny_n;
    deny_v = v;
    deny_n = n;
    pthread_mutex_unlock(&deny_mu);
    strs_free(old, oldn);
    return 0;
}

int
policy_denylist_load(const char *path, const char *trust_domain)
{
    struct stat st;
    char *text = NULL;
    ssize_t got = 0;
    int fd, rc, bad = 0;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT) {
            log_info("no %s file: no principal is revoked",
                     POLICY_DENYLIST_FILE);
            return policy_denylist_set("", 0, trust_domain, NULL);
        }
        rc = -errno;
        log_warnx("cannot read %s: %s", POLICY_DENYLIST_FILE, err_str(rc));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (st.st_size > (1 << 20)) {
        log_warnx("%s is over 1 MiB", POLICY_DENYLIST_FILE);
        rc = ERR_TOOBIG;
        goto out;
    }
    if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < st.st_size) {
        ssize_t k = read(fd, text + got, (size_t)(st.st_size - got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            goto out;
        }
        if (k == 0)
            break;
        got += k;
    }
    rc = policy_denylist_set(text, (size_t)got, trust_domain, &bad);
    if (rc == ERR_INVALID)
        log_warnx("%s line %d: not a principal URI of trust domain %s",
                  POLICY_DENYLIST_FILE, bad, trust_domain);
    else if (rc == 0)
        log_info("revoked principals loaded count=%zu",
                 policy_denylist_count());
out:
    free(text);
    close(fd);
    return rc;
}

bool
policy_denylisted(const char *uri)
{
    bool found;

    if (uri == NULL)
        return false;
    pthread_mutex_lock(&deny_mu);
    found = deny_n > 0 &&
            bsearch(&uri, deny_v, deny_n, sizeof(*deny_v), cmp_str) != NULL;
    pthread_mutex_unlock(&deny_mu);
    return found;
}

size_t
policy_denylist_count(void)
{
    size_t n;

    pthread_mutex_lock(&deny_mu);
    n = deny_n;
    pthread_mutex_unlock(&deny_mu);
    return n;
}

void
policy_denylist_clear(void)
{
    pthread_mutex_lock(&deny_mu);
    strs_free(deny_v, deny_n);
    deny_v = NULL;
    deny_n = 0;
    pthread_mutex_unlock(&deny_mu);
}
