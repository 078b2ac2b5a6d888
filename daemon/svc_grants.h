/*
 * svc_grants.h -- dossier.v1.Consents and dossier.v1.Mandates
 * (proto/dossier/v1/consents.proto): what a person lets agencies read,
 * and lets delegates do, and the operator's list of revoked principals.
 *
 * Who may grant, revoke or list is policy.c's decision; the records are
 * vault_grants.c's.  Grants and revocations are answered once durable;
 * a revocation is in force for every decision made after it committed
 * (decisions are made in the writer's transactions, in order).  Error
 * messages name fields and ids, never a personal value.
 */
#ifndef DOSSIER_SVC_GRANTS_H
#define DOSSIER_SVC_GRANTS_H

struct server;
struct svc_ctx;

/* The most records one List answers (an agency may hold many). */
#define SVC_GRANTS_LIST_MAX 1000

/*
 * Registers the Consents and Mandates methods on |s|, working on |ctx|
 * (copied; its vault and catalogue must outlive the server), and loads
 * the denylist of revoked principals from |keys_dir|/revoked-principals
 * (policy.h; a missing file is an empty list; NULL |keys_dir|: none),
 * reloaded on SIGHUP (a bad file on reload keeps the list in force).
 *
 *   Consents.Grant    the person (dossier_id empty or theirs), or a
 *                     delegate under a mandate allowing "grant-consent"
 *                     for the consent's types: exactly one of agency (an
 *                     agency URI of this trust domain) and agency_kind
 *                     ([a-z0-9]{1,32}); at least one document type
 *                     (catalogue), fact type or document id (at most 64
 *                     each); purpose_code ([A-Za-z0-9._-]{1,64}) and
 *                     purpose_text (1..500 bytes); optional case
 *                     reference (128); valid_until required and in the
 *                     future, after valid_from (0: now).  Answers the
 *                     stored consent and its receipt (canonical text and
 *                     its SHA-256; signature empty until the audit key
 *                     signs receipts).
 *   Consents.Revoke   the person, or a delegate allowed to grant consent.
 *   Consents.List     the person: their dossier's; a delegate: the
 *                     dossier's, under a "read" or "grant-consent"
 *                     mandate; an agency: those it holds, by URI or kind
 *                     (all dossiers, or dossier_id's).  In force only,
 *                     unless include_inactive.
 *   Mandates.Grant    the person: delegate (a delegate URI of this trust
 *                     domain), actions among deposit, read,
 *                     grant-consent, document types (catalogue codes or
 *                     "*"), valid_from (0: now; may be in the past, as the
 *                     date of a paper mandate) and valid_until: one day
 *                     to one year after valid_from, in the future.
 *   Mandates.Revoke   the person; or the delegate giving up its own.
 *   Mandates.List     the person: their dossier's; a delegate: those it
 *                     holds (all dossiers, or dossier_id's).
 *
 * Returns 0, ERR_EXISTS if a path is already registered, ERR_CONFIG if
 * the denylist file is malformed (logged with its line), or -ENOMEM.
 * Loop thread, before server_run().
 */
int svc_grants_register(struct server *s, const struct svc_ctx *ctx,
                        const char *keys_dir);

#endif
