/*
 * policy.h -- who may do what: the one place where access is decided.
 *
 * Deny by default.  Two steps:
 *
 *  - policy_check(), on the loop, before a handler touches a dossier: the
 *    rules of each role that need no data (a person acts on their own
 *    dossier only; an auditor or an operator reads no dossier; an agency
 *    deposits; the operator's denylist of revoked principals).  For acts
 *    that depend on a consent or a mandate (policy_needs_grants), its 0
 *    only means "possible": the handler must then ask policy_decide_txn().
 *
 *  - policy_decide_txn(), in a store transaction, usually the writer's
 *    (the same one that records the read): reads the person's consents or
 *    mandates, checks them at the current time, spends a one-shot consent,
 *    and answers which objects may be shown, on what basis (owner, consent
 *    ids, mandate id and the chain delegate -> person), or why not.
 *
 *   role      what it may do
 *   person    everything on the dossier linked to their certificate
 *   agency    look a dossier up by NIR; deposit documents and facts on
 *             any enrolled dossier; read (Get, List, LatestValid,
 *             GetFacts) only under a consent in force that covers the
 *             type, the document or the fact type, for the purpose code
 *             of the request's Basis; list the consents it holds
 *   delegate  enrol; act for a person only under a mandate in force:
 *             "deposit" (Put), "read" (Get, List, LatestValid, GetFacts,
 *             CheckIntegrity; GetSituation with a mandate for every
 *             type), "grant-consent" (grant, revoke, list consents),
 *             within the mandate's document types; list and give up its
 *             own mandates
 *   admin     enrol; no dossier content
 *   auditor   no dossier at all
 *
 * Knows nothing of gRPC; reads grants through vault.h.  The sentences it
 * returns say what is missing and name ids, type and purpose codes, never
 * a personal value.
 */
#ifndef DOSSIER_POLICY_H
#define DOSSIER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dossier/v1/consents.pb-c.h"
#include "principal.h"
#include "vault.h"

struct store_txn;

enum policy_action {
    POLICY_ENROL,            /* Persons.Enrol */
    POLICY_FIND_BY_NIR,      /* Persons.FindByNir */
    POLICY_SITUATION_READ,   /* Persons.GetSituation */
    POLICY_SITUATION_UPDATE, /* Persons.UpdateSituation */
    POLICY_EXPORT,           /* Persons.Export */
    POLICY_ERASE,            /* Persons.Erase */
    POLICY_DOC_PUT,          /* Documents.Put */
    POLICY_DOC_READ,         /* Get, LatestValid */
    POLICY_DOC_LIST,         /* List: each item is decided */
    POLICY_DOC_CHECK,        /* CheckIntegrity */
    POLICY_FACT_PUT,         /* PutFact */
    POLICY_FACT_READ,        /* GetFacts: each fact is decided */
    POLICY_CONSENT_GRANT,    /* Consents.Grant */
    POLICY_CONSENT_REVOKE,   /* Consents.Revoke */
    POLICY_CONSENT_LIST,     /* Consents.List */
    POLICY_MANDATE_GRANT,    /* Mandates.Grant */
    POLICY_MANDATE_REVOKE,   /* Mandates.Revoke */
    POLICY_MANDATE_LIST,     /* Mandates.List */
    POLICY_EVENTS_WATCH,     /* Events.Watch: no dossier; each event is
                                decided on its consent (events.h) */
};

/* "enrol", "document-read", ...: a stable name for logs. */
const char *policy_action_name(enum policy_action act);

/*
 * The loop-side decision: may |who| do |act| on dossier |dossier| at all?
 *
 * |dossier| is the dossier the request is about (NULL for Enrol and
 * FindByNir, which name none, and for an agency's or a delegate's list
 * of what it holds).  |own| is the dossier linked to |who|'s certificate
 * when |who| is a person (vault_person_find_principal), NULL otherwise.
 *
 * Returns 0, or ERR_DENIED with |*why| (if |why| is not NULL) set to a
 * static English sentence saying what is missing.  When
 * policy_needs_grants(who, act) is true, 0 is provisional: the decision
 * is policy_decide_txn's.  Any thread.
 */
int policy_check(const struct principal *who, enum policy_action act,
                 const struct vault_id *dossier, const struct vault_id *own,
                 const char **why);

/* True when |who| may do |act| only under a consent (agency reads) or a
 * mandate (delegate acts): policy_decide_txn must then decide. */
bool policy_needs_grants(const struct principal *who, enum policy_action act);

/* --- decisions on data --------------------------------------------------- */

/* Something a decision is about: a document (its type and id; either may
 * be NULL when unknown, e.g. a document id that names no document), or a
 * fact (its type). */
struct policy_object {
    bool fact;
    const char *type;
    const char *doc_id;
};

struct policy_request {
    const struct principal *who;
    enum policy_action act;
    const struct vault_person *person; /* opened: its DEK opens the grants */
    const struct vault_id *own;        /* as for policy_check */
    const char *purpose_code;          /* the request's Basis; "" or NULL */
    const char *case_reference;
    const char *consent_id;  /* Basis.consent_id: rely on that one only */
    const char *type_filter; /* a list's type filter, or NULL */
    const struct policy_object *objects;
    size_t n_objects;
    /* List acts (DOC_LIST, FACT_READ) decide each object and are allowed
     * when the caller may list at all; any other act needs every object. */
    bool no_spend; /* decide, but spend no one-shot consent (the read will
                      not happen: not found, expired) */
    int64_t now;   /* unix seconds; 0: the clock, when deciding */
};

#define POLICY_WHY_MAX 256
#define POLICY_BASIS_MAX 512

/*
 * What a decision says.  |why| when refused; otherwise |basis| ("owner",
 * "role", "consent c.. c..", "mandate m.."), the first consent relied on
 * or the mandate acted under, and under a mandate the person's dossier id
 * (|on_behalf_of|) and the chain "delegate-uri -> dossier d.. (mandate
 * m..)" for logs; the audit entry's on_behalf_of is "delegate-uri>d..".
 */
struct policy_decision {
    char why[POLICY_WHY_MAX];
    char basis[POLICY_BASIS_MAX];
    char consent_id[VAULT_ID_STR];
    char mandate_id[VAULT_ID_STR];
    char on_behalf_of[VAULT_ID_STR];
    char chain[PRINCIPAL_URI_MAX + 2 * VAULT_ID_STR + 32];
    bool *allowed;    /* per object (n_objects), owned; NULL if none */
    size_t n_allowed; /* objects allowed */
    size_t n_spent;   /* one-shot consents spent by this decision */
};

/* Frees what a decision owns; the decision may be reused after. */
void policy_decision_clear(struct policy_decision *d);

/*
 * Decides |r| on the grants stored in |t|, and fills |*d| (cleared
 * first; the caller clears it after use).
 *
 * For an agency: the consents of |r->person|'s dossier held by the agency
 * or its kind (or only r->consent_id) that are in force now (not revoked,
 * not expired, not yet valid, not a spent one-shot), whose purpose code is
 * r->purpose_code and whose case reference (when the consent has one) is
 * r->case_reference, and that cover each object (document type, document
 * id, or fact type).  Standing consents are preferred; a one-shot consent
 * relied on is marked spent in |t| (unless r->no_spend), so |t| must then
 * be a write transaction: the decision and the spending commit together.
 * For a delegate: a mandate in force for the dossier, held by the
 * delegate, whose actions include the act's and whose document types
 * cover each object's type ("*": every type).  For a person: their own
 * dossier.  Anything else is refused.
 *
 * Returns 0 (allowed: for list acts, d->allowed says which objects), or
 * ERR_DENIED with d->why saying what is missing ("no consent of agency
 * caf-75 covers type avis-imposition in this dossier", "consent c.. was
 * revoked on ...", "consent c.. expired on ...", "one-shot consent c..
 * was already used on ...", "purpose X is not the purpose of consent c..
 * (Y)"...), or an error of the store (ERR_CORRUPT, ERR_FULL, -ENOMEM...).
 * On the thread of |t| (the writer thread for the writer's transaction).
 */
int policy_decide_txn(struct store_txn *t, const struct policy_request *r,
                      struct policy_decision *d);

/* --- rules, exposed for tests ----------------------------------------------
 */

/* The kind of an agency id: up to its first '-' ("caf-75" -> "caf"), the
 * whole id if it has none.  Writes at most |len| bytes with the NUL. */
void policy_agency_kind(const char *agency_id, char *out, size_t len);

/* Whether consent |c| is addressed to |agency| (its URI, or its kind). */
bool policy_consent_for(const Dossier__V1__Consent *c,
                        const struct principal *agency);

/* Whether |c| covers |o| (by document type, document id or fact type). */
bool policy_consent_covers(const Dossier__V1__Consent *c,
                           const struct policy_object *o);

/*
 * How far consent |c| goes for reading |o| (NULL: any object) for
 * |purpose| and |case_ref| at |now|: POLICY_FIT_OK, or the first rule it
 * fails, the higher the closer to allowed.  |why| (|len| bytes, may be
 * NULL) gets the sentence.
 */
enum policy_fit {
    POLICY_FIT_NOT_COVERED = 0,
    POLICY_FIT_PURPOSE = 1,
    POLICY_FIT_CASE = 2,
    POLICY_FIT_STATE = 3, /* revoked, spent, expired, not yet valid */
    POLICY_FIT_OK = 4,
};
enum policy_fit policy_consent_fit(const Dossier__V1__Consent *c,
                                   const struct policy_object *o,
                                   const char *purpose, const char *case_ref,
                                   int64_t now, char *why, size_t len);

/* The mandate action ("deposit", "read", "grant-consent") an act needs,
 * or NULL if no mandate allows it. */
const char *policy_mandate_action(enum policy_action act);

/* As policy_consent_fit, for mandate |m| and act |act| on |o| (NULL: no
 * object; a NULL type is covered by "*" only). */
enum policy_fit policy_mandate_fit(const Dossier__V1__Mandate *m,
                                   enum policy_action act,
                                   const struct policy_object *o, int64_t now,
                                   char *why, size_t len);

#define POLICY_MANDATE_MIN_SECONDS (24 * 3600)       /* one day */
#define POLICY_MANDATE_MAX_SECONDS (366 * 24 * 3600) /* one year */

/* Formats |t| as "YYYY-MM-DD HH:MM:SS UTC" into |out| (32 bytes). */
void policy_time_format(int64_t t, char out[32]);

/* --- revoked principals ------------------------------------------------------
 */

/* The file of the keys directory listing revoked principals: one URI per
 * line; blank lines and lines starting with '#' are ignored. */
#define POLICY_DENYLIST_FILE "revoked-principals"

/*
 * Parses |text| (|len| bytes) as a denylist for |trust_domain| and, if
 * every line is a principal URI of that domain, makes it the list in
 * force (replacing the previous one).  Returns 0, ERR_INVALID with
 * |*bad_line| (1-based, may be NULL) set to the first bad line (the list
 * in force is unchanged), or -ENOMEM.  Any thread.
 */
int policy_denylist_set(const char *text, size_t len, const char *trust_domain,
                        int *bad_line);

/*
 * Loads |path| as policy_denylist_set; a missing file is an empty list.
 * Returns 0, ERR_INVALID (logged with the line number), ERR_TOOBIG (over
 * 1 MiB) or a negative errno (the list in force is then unchanged).
 * Reads a file: not on the loop thread while serving, except on SIGHUP.
 */
int policy_denylist_load(const char *path, const char *trust_domain);

/* Whether |uri| is in the list in force.  Any thread. */
bool policy_denylisted(const char *uri);

/* Number of principals in the list in force. */
size_t policy_denylist_count(void);

/* Frees the list in force (at exit, for leak checkers). */
void policy_denylist_clear(void);

#endif
