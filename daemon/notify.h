/*
 * notify.h -- service state notifications to the service manager, in the
 * sd_notify(3) protocol, without libsystemd.
 *
 * When systemd starts a Type=notify service it sets NOTIFY_SOCKET to the
 * path of a datagram socket (or "@name" for the abstract namespace); one
 * datagram of newline-separated VAR=value assignments tells it the
 * service is READY=1, RELOADING=1 or STOPPING=1.  Without NOTIFY_SOCKET
 * every call is a no-op, so the daemon behaves the same outside systemd.
 * Does not unset NOTIFY_SOCKET, does not do the watchdog nor pass file
 * descriptors.
 */
#ifndef DOSSIER_NOTIFY_H
#define DOSSIER_NOTIFY_H

/*
 * Sends |state| (e.g. "READY=1\nSTATUS=serving") as one datagram to the
 * socket named by NOTIFY_SOCKET.  Returns 0 when sent or when there is no
 * NOTIFY_SOCKET, -EINVAL for an address that is neither a path nor
 * "@name" (or too long), or the negative errno of socket(2)/sendto(2).
 * Never blocks for long (a datagram to a local socket); any thread.
 */
int notify_send(const char *state);

/* The service is up: READY=1 with a STATUS= line naming |what|. */
void notify_ready(const char *what);

/* A reload begins: RELOADING=1 and MONOTONIC_USEC=<now> (what systemd
 * 253's Type=notify-reload expects; older versions ignore it).  Follow
 * with notify_ready() once the reload is done. */
void notify_reloading(void);

/* A drain begins: STOPPING=1. */
void notify_stopping(void);

#endif
