/*
 * svc_events.h -- dossier.v1.Events: agencies watch the changes their
 * consents cover; persons declare a life event once.
 */
#ifndef DOSSIER_SVC_EVENTS_H
#define DOSSIER_SVC_EVENTS_H

struct events;
struct server;
struct svc_ctx;

/*
 * Registers dossier.v1.Events on |s|:
 *   Watch            server stream, agencies only: the events of the
 *                    event log (events.h) meant for the caller, in
 *                    order, from a cursor ("": from now; "0": from the
 *                    oldest kept; a cursor older than the retention is
 *                    OUT_OF_RANGE).  Each event leaves only after its
 *                    consent was checked again and its audit entry (on
 *                    the person's dossier) is durable, in one writer
 *                    transaction.  Bounded per watcher: a watcher that
 *                    does not read stops being fed and loses nothing (it
 *                    resumes from its cursor).
 *   DeclareLifeEvent unary, the person: checks that the new situation is
 *                    the declared life event (lifeevent.h), records it as
 *                    a situation revision (one event, told to every agency
 *                    whose standing consent covers the situation) and
 *                    answers who will be told and which papers they will
 *                    expect.
 * |ctx| is as for svc_persons_register; |ev| is not owned and must
 * outlive the server.  Returns 0, ERR_EXISTS or -ENOMEM.  Loop thread,
 * before server_run().
 */
int svc_events_register(struct server *s, const struct svc_ctx *ctx,
                        struct events *ev);

#endif
