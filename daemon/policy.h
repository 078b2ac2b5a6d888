/*
 * policy.h -- who may do what: the one place where access is decided.
 *
 * Every service handler asks policy_check() before it touches a dossier,
 * and again, once it knows the issuer, before it lets a document or fact
 * out.  The rules today are by role only (deny by default):
 *
 *   admin, delegate  enrol persons; nothing else (a delegate acts for a
 *                    person only under a mandate, not implemented yet)
 *   agency           find a dossier by NIR; put documents and facts on any
 *                    dossier; read (get, list, latest valid, facts) only
 *                    what it issued itself, until consent is implemented
 *   person           everything on their own dossier (the one linked to
 *                    their certificate), nothing on any other
 *   auditor          no document, no dossier
 *
 * Consents and mandates will extend this module, not the handlers.  It
 * knows nothing of gRPC or of the vault's storage: the caller resolves
 * the dossiers and gives the ids.  Pure functions: any thread.
 */
#ifndef DOSSIER_POLICY_H
#define DOSSIER_POLICY_H

#include "principal.h"
#include "vault.h"

enum policy_action {
    POLICY_ENROL,            /* Persons.Enrol */
    POLICY_FIND_BY_NIR,      /* Persons.FindByNir */
    POLICY_SITUATION_READ,   /* Persons.GetSituation */
    POLICY_SITUATION_UPDATE, /* Persons.UpdateSituation */
    POLICY_EXPORT,           /* Persons.Export */
    POLICY_ERASE,            /* Persons.Erase */
    POLICY_DOC_PUT,          /* Documents.Put */
    POLICY_DOC_READ,         /* Get, LatestValid, each List item */
    POLICY_DOC_LIST,         /* List (items checked as DOC_READ) */
    POLICY_DOC_CHECK,        /* CheckIntegrity */
    POLICY_FACT_PUT,         /* PutFact */
    POLICY_FACT_READ,        /* GetFacts, each fact */
};

/* "enrol", "find-by-nir", ...: a stable name for logs. */
const char *policy_action_name(enum policy_action act);

/*
 * Decides whether |who| may do |act| on dossier |dossier|.
 *
 * |dossier| is the dossier the request is about (NULL for Enrol and
 * FindByNir, which name none).  |issuer| is the principal URI of the
 * document or fact about to be shown, or NULL when the handler asks
 * before it knows the object (then only what the role allows at all is
 * checked; ask again with the issuer before any content leaves).
 * |own| is the dossier linked to |who|'s certificate when |who| is a
 * person (vault_person_find_principal), NULL if none or not a person.
 *
 * Returns 0, or ERR_DENIED with |*why| (if |why| is not NULL) set to a
 * static English sentence saying what is missing, fit for the caller
 * ("an agency reads only documents it issued until consent is
 * implemented"); it names no personal value.
 */
int policy_check(const struct principal *who, enum policy_action act,
                 const struct vault_id *dossier, const char *issuer,
                 const struct vault_id *own, const char **why);

#endif
