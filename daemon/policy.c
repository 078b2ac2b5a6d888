/*
 * policy.c -- access decisions by role (see policy.h).
 *
 * One switch per kind of principal, each answering for every action, so
 * that a new action is denied everywhere until someone writes its rule.
 * The sentences returned explain the rule that applied; they never name
 * the caller's or the person's data.
 */
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "policy.h"

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
 * other; enrolment and look-up by NIR are not theirs. */
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
    }
    return deny(why, "this action is not allowed");
}

/* An agency deposits on any dossier, and until consent exists reads back
 * only what it deposited itself. */
static int
policy_agency(const struct principal *who, enum policy_action act,
              const char *issuer, const char **why)
{
    switch (act) {
    case POLICY_FIND_BY_NIR:
    case POLICY_DOC_PUT:
    case POLICY_FACT_PUT:
    case POLICY_DOC_LIST:
        return 0;
    case POLICY_DOC_READ:
        if (issuer != NULL && strcmp(issuer, who->uri) != 0)
            return deny(why, "an agency reads only documents it issued "
                             "until consent is implemented");
        return 0;
    case POLICY_FACT_READ:
        if (issuer != NULL && strcmp(issuer, who->uri) != 0)
            return deny(why, "an agency reads only facts it published "
                             "until consent is implemented");
        return 0;
    case POLICY_DOC_CHECK:
        return deny(why, "an agency may not check a person's documents "
                         "until consent is implemented");
    case POLICY_SITUATION_READ:
    case POLICY_SITUATION_UPDATE:
        return deny(why, "an agency reads a person's situation only under "
                         "consent, which is not implemented yet");
    case POLICY_EXPORT:
    case POLICY_ERASE:
        return deny(why, "only the person may export or erase their "
                         "dossier");
    case POLICY_ENROL:
        return deny(why, "only an operator or a delegate may enrol a person");
    }
    return deny(why, "this action is not allowed");
}

int
policy_check(const struct principal *who, enum policy_action act,
             const struct vault_id *dossier, const char *issuer,
             const struct vault_id *own, const char **why)
{
    if (who == NULL)
        return deny(why, "no authenticated principal");
    switch (who->kind) {
    case PRINCIPAL_PERSON:
        return policy_person(act, dossier, own, why);
    case PRINCIPAL_AGENCY:
        return policy_agency(who, act, issuer, why);
    case PRINCIPAL_ADMIN:
        if (act == POLICY_ENROL)
            return 0;
        return deny(why, "an operator manages the service and reads no "
                         "dossier");
    case PRINCIPAL_DELEGATE:
        if (act == POLICY_ENROL)
            return 0;
        return deny(why, "a delegate acts for a person only under a "
                         "mandate, which is not implemented yet");
    case PRINCIPAL_AUDITOR:
        return deny(why, "an auditor reviews the audit log and reads no "
                         "dossier");
    case PRINCIPAL_NONE:
        break;
    }
    return deny(why, "unknown kind of principal");
}
