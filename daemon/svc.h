/*
 * svc.h -- what the dossier.v1 services share: their context, and the
 * steps every handler takes (find the caller's dossier, ask the policy,
 * open the person, turn a vault error into a status).
 *
 * The services (svc_persons.c, svc_documents.c, svc_export.c) keep no
 * state of their own beyond their calls: the vault and the catalogue come
 * from the context given at registration.  Nothing here logs or returns a
 * personal value: ids, type codes and principal URIs only.
 */
#ifndef DOSSIER_SVC_H
#define DOSSIER_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "call.h"
#include "dossier/v1/common.pb-c.h"
#include "policy.h"
#include "vault.h"

struct catalog;

#define SVC_MAX_DOCUMENT_DEFAULT (50ull * 1024 * 1024) /* 50 MiB */

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

/* Asks the policy again once the |issuer| of the object is known.  On
 * denial finishes the call with PERMISSION_DENIED and returns ERR_DENIED. */
int svc__check_issuer(struct call *c, enum policy_action act,
                      const struct vault_id *dossier, const char *issuer);

/* As policy_check() for the caller, without finishing the call: used to
 * filter lists.  True when allowed. */
bool svc__may(struct call *c, enum policy_action act,
              const struct vault_id *dossier, const char *issuer);

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

#endif
