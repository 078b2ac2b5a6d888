/*
 * svc_audit.h -- the audit log at the gRPC edge (see svc_audit.c).
 */
#ifndef DOSSIER_SVC_AUDIT_H
#define DOSSIER_SVC_AUDIT_H

#include <stddef.h>

#include "call.h"

struct audit;
struct audit_entry;
struct server;
struct store;
struct vault;

/*
 * Registers dossier.v1.Audit on |s| and makes |a| the server's audit
 * hook, so that every call of a dossier service is recorded (call.h, enum
 * call_audit_mode).  |a|, |store| (the data store the log lives in) and |v|
 * are not owned and must outlive the server.  Returns 0 or an error of
 * server_register.  Loop thread, before server_run().
 */
int svc_audit_register(struct server *s, struct audit *a, struct store *store,
                       struct vault *v);

/*
 * Fills |e| for call |c| with |outcome| (AUDIT_GRANTED...) and |reason|,
 * from its principal, method and the values noted with call_audit_set().
 * |action| (|action_size| bytes) holds the action name.  The strings point
 * into |c| and |action|: use |e| before either changes.  For handlers that
 * append the entry themselves, in the transaction of the access.
 */
void svc_audit__entry(struct call *c, const char *outcome, const char *reason,
                      struct audit_entry *e, char *action, size_t action_size);

#endif
