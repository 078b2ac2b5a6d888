/*
 * svc.h -- what the dossier.v1 services share: their context, and the
 * steps every handler takes (find the caller's dossier, ask the policy,
 * open the person, turn a vault error into a status).
 *
 * The services (svc_persons.c, svc_documents.c, svc_export.c,
 * svc_grants.c) keep no state of their own beyond their calls: the vault
 * and the catalogue come from the context given at registration.  Nothing
 * here logs or returns a personal value: ids, type codes and principal
 * URIs only.
 *
 * Access is decided in two steps (policy.h): svc__dossier() applies the
 * role rules on the loop; then every read of documents or facts goes
 * through svc__decide(), a writer operation that reads the consents or
 * mandates in the writer's transaction (where a one-shot consent is
 * spent, and where the audit entry of the read belongs), and only its
 * completion lets content out.  Acts that spend nothing (a delegate's
 * deposit, check or situation read) use svc__decide_now().
 */
#ifndef DOSSIER_SVC_H
#define DOSSIER_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "call.h"
#include "dossier/v1/common.pb-c.h"
#include "policy.h"
#include "vault.h"

struct audit;
struct catalog;

#define SVC_MAX_DOCUMENT_DEFAULT (50ull * 1024 * 1024) /* 50 MiB */
#define SVC_PURPOSE_MAX 64   /* bytes of a purpose code */
#define SVC_CASE_REF_MAX 128 /* bytes of a case reference */
#define SVC_NAME_MAX 200     /* bytes of a name */
#define SVC_ADDR_MAX 200     /* bytes of an address line or city */
#define SVC_SHORT_MAX 64     /* bytes of a code, postal code, country */
#define SVC_HOUSEHOLD_MAX 32 /* members of a household */

/*
 * What the dossier.v1 handlers work on, given to svc_persons_register()
 * and svc_documents_register() and copied into a static there: the daemon
 * runs one server per process, and handlers reach it without a lookup.
 * |vault| and |catalog| are not owned and must outlive the server.
 * |max_document| is the largest document content accepted, in bytes; 0
 * means SVC_MAX_DOCUMENT_DEFAULT.
 */
struct svc_ctx {
    struct vault *vault;
    const struct catalog *catalog;
    struct audit *audit;   /* decisions append their entry (svc__decide) */
    uint64_t max_document; /* bytes, default 50 MiB */
};

/* --- for the svc_*.c files only -------------------------------------- */

/* Copies |ctx| into the process's context (the last call wins). */
void svc__ctx_set(const struct svc_ctx *ctx);

/* The context in force; never NULL once a service is registered. */
const struct svc_ctx *svc__ctx(void);

/*
 * Finds the dossier a request is about and asks the policy whether the
 * caller may do |act| on it (before any object is known).  A person's
 * dossier is the one linked to their certificate; |dossier_id| (may be
 * "" or NULL) must then be empty or that one.  Anyone else must name it.
 * On success fills |*out| and returns 0.  Otherwise it has finished the
 * call (INVALID_ARGUMENT "dossier_id: ...", PERMISSION_DENIED) and returns
 * the error.  Does not check that the dossier exists (svc__open does).
 * Loop thread.
 */
int svc__dossier(struct call *c, const char *dossier_id, enum policy_action act,
                 struct vault_id *out);

/*
 * Checks the Basis of a read and puts it in |r| (purpose_code,
 * case_reference, consent_id point into |b|, valid while it is).  An
 * agency must state its purpose: INVALID_ARGUMENT "basis.purpose_code:
 * ..." otherwise.  On error finishes the call and returns ERR_INVALID.
 */
int svc__basis(struct call *c, const Dossier__V1__Basis *b,
               struct policy_request *r);

/* Called on the loop when a decision is made: |status| is 0 (allowed:
 * |d| says on what basis, and for a list which objects), ERR_DENIED (the
 * call was finished with PERMISSION_DENIED and d->why) or another error
 * (the call was finished with it; |d| is NULL).  |d| is valid during the
 * callback only.  The callback releases what it holds; the call may be
 * done already (call_is_done) if the client went away. */
typedef void svc_decided_fn(struct call *c, void *arg, int status,
                            const struct policy_decision *d);

/*
 * Decides |r| for the caller on the writer thread, in a transaction of
 * the writer's batch (policy_decide_txn), and runs |fn| on the loop once
 * that transaction is durable: a one-shot consent spent by the decision is
 * spent before any byte is shown, and a revocation committed before the
 * decision is always seen.  r->who and r->own are the caller's (ignored
 * in |r|); r->person is copied (the copy is wiped after); the strings of
 * |r| are copied; r->objects and what they point to must stay valid until
 * |fn| runs.  Holds a reference on |c| until then.
 *
 * Returns 0 (|fn| will run), or an error after finishing the call (|fn|
 * will not run).  Loop thread.
 */
int svc__decide(struct call *c, const struct policy_request *r,
                svc_decided_fn *fn, void *arg);

/*
 * The same decision at once, in a read transaction of the loop: for acts
 * that spend nothing (a delegate's deposit, check, situation read...).
 * Roles that need no grant are answered without reading.  Fills |*d|
 * (the caller clears it).  Returns 0, or ERR_DENIED / an error after
 * finishing the call.  Loop thread.
 */
int svc__decide_now(struct call *c, const struct policy_request *r,
                    struct policy_decision *d);

/* The dossier linked to the caller's certificate (persons only): 0,
 * ERR_NOTFOUND, or a vault error. */
int svc__own(struct call *c, struct vault_id *own);

/* Checks a situation's fields; on error finishes the call with
 * INVALID_ARGUMENT and returns ERR_INVALID.  |field| prefixes the names
 * in messages ("situation"). */
int svc__situation_check(struct call *c, const char *field,
                         const Dossier__V1__Situation *s);

/* Finishes the call with PERMISSION_DENIED and |why|, and logs the
 * denial (principal URI, action, dossier id).  Returns ERR_DENIED. */
int svc__deny(struct call *c, enum policy_action act,
              const struct vault_id *dossier, const char *why);

/* Opens |id|'s DEK into |p|.  On error finishes the call (NOT_FOUND "no
 * such dossier", DATA_LOSS, INTERNAL) and returns the error. */
int svc__open(struct call *c, const struct vault_id *id,
              struct vault_person *p);

/*
 * Finishes the call for an error |rc| from the vault while doing |what|
 * ("reading the document"): ERR_FULL and -ENOSPC -> RESOURCE_EXHAUSTED
 * "the store is full", ERR_CORRUPT -> DATA_LOSS, ERR_NOTFOUND ->
 * NOT_FOUND, -ECANCELED -> nothing; anything else is logged and answered
 * INTERNAL without detail.  Returns |rc|.
 */
int svc__fail(struct call *c, int rc, const char *what);

/* Sends |msg| and finishes OK; on a send error finishes with it. */
void svc__answer(struct call *c, const ProtobufCMessage *msg);

/* True if |d| is a real calendar date (1900-01-01 .. 9999-12-31). */
bool svc__date_valid(const Dossier__V1__Date *d);

/* True if |d| is absent or all zero (proto3 "not set"). */
bool svc__date_unset(const Dossier__V1__Date *d);

/* Orders two dates: <0, 0, >0. */
int svc__date_cmp(const Dossier__V1__Date *a, const Dossier__V1__Date *b);

/* Today's date in the daemon's local time zone. */
void svc__today(Dossier__V1__Date *out);

/* Checks an optional date field named |name|; on error finishes the call
 * with INVALID_ARGUMENT "<name>: not a valid date" and returns ERR_INVALID. */
int svc__check_date(struct call *c, const char *name,
                    const Dossier__V1__Date *d, bool required);

/* True if |s| is at most |max| bytes, and, when |need| is set, not empty. */
bool svc__str_ok(const char *s, size_t max, bool need);

/* True if |s| is a purpose code that may be quoted back in messages:
 * 1 to SVC_PURPOSE_MAX characters of A-Z a-z 0-9 . _ - */
bool svc__purpose_ok(const char *s);

/* As svc__str_ok, and without control characters (one line of text). */
bool svc__text_ok(const char *s, size_t max, bool need);

#endif
