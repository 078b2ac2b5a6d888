/*
 * svc_health.h -- the standard gRPC health service (grpc.health.v1.Health),
 * so that stock probes (grpc_health_probe, Kubernetes, HAProxy) can ask
 * whether the daemon serves.
 *
 * The known names are "" (the whole server) and every service of the
 * embedded descriptor set that the server serves (svc_reflection_served():
 * enabled by the configuration and registered).  Each is SERVING until a
 * drain begins, then NOT_SERVING.  The module keeps the open Watch calls
 * and ends them when the server drains; it knows nothing of what the other
 * services do.
 */
#ifndef DOSSIER_SVC_HEALTH_H
#define DOSSIER_SVC_HEALTH_H

struct server;

/*
 * Registers grpc.health.v1.Health/Check and /Watch on |s| and a drain hook
 * that sends NOT_SERVING to every watcher and finishes its call with OK.
 *
 * Check answers SERVING or NOT_SERVING for a known name and the status
 * NOT_FOUND for any other, as the health protocol asks.  Watch sends the
 * current status at once (SERVICE_UNKNOWN for an unknown name) and again
 * whenever it changes, and stays open until the drain or the client ends
 * it.  A request that does not parse gets INVALID_ARGUMENT.
 *
 * Returns 0, ERR_INVALID if the embedded descriptor set does not parse,
 * ERR_EXISTS if a path is already registered, -ENOSPC if the server has no
 * room for another drain hook, or -ENOMEM.  On error the server may be
 * left with some of the methods registered: the caller is expected to
 * give up starting.  Loop thread, before server_run().
 */
int svc_health_register(struct server *s);

#endif
