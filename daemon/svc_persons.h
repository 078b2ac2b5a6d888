/*
 * svc_persons.h -- dossier.v1.Persons (proto/dossier/v1/persons.proto):
 * enrol a person, find a dossier by NIR, read and update the situation,
 * export the whole dossier, erase it.
 *
 * The handlers decide nothing about rights themselves (policy.c does) and
 * keep nothing themselves (vault.c does).  Writes are answered only once
 * durable.  No NIR, name or address ever reaches a log line or an error
 * message: dossier ids and principal URIs only.
 */
#ifndef DOSSIER_SVC_PERSONS_H
#define DOSSIER_SVC_PERSONS_H

struct server;
struct svc_ctx;

/*
 * Registers the Persons methods on |s|, working on |ctx| (copied; its
 * vault and catalogue must outlive the server).
 *
 *   Enrol            unary, operator or delegate: NIR (checked, never
 *                    echoed), given and family names (1..200 bytes), an
 *                    optional person_principal_id ([A-Za-z0-9._-]{1,127})
 *                    linking the person's certificate; answers the dossier
 *                    id once durable, ALREADY_EXISTS if the NIR is known.
 *   FindByNir        unary, agency: the dossier id, or NOT_FOUND.
 *   GetSituation     unary, the person: current situation and, with
 *                    with_history, every revision.
 *   UpdateSituation  unary, the person: a new revision, answered durable.
 *   Export           server stream, the person: one tar archive
 *                    (manifest.json, situation.json, documents/...) in
 *                    ExportChunk pieces, produced as the client reads.
 *   Erase            unary, the person, confirm=true: crypto-shreds the
 *                    dossier; answered once durable.
 *
 * Bad input is INVALID_ARGUMENT naming the field; a caller the policy
 * refuses gets PERMISSION_DENIED saying what is missing.  Returns 0,
 * ERR_EXISTS if a path is already registered, or -ENOMEM.  Loop thread,
 * before server_run().
 */
int svc_persons_register(struct server *s, const struct svc_ctx *ctx);

#endif
