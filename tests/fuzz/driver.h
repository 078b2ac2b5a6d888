/*
 * driver.h -- an in-process dossierd for fuzzers and fault loops.
 *
 * Opens everything main.c opens (keyring, catalogue, key store, data
 * store, writer, audit log, vault, event log, server, every service) in a fresh
 * temporary directory, with real keys made by dossier-admin init-dev, and
 * runs calls through the real transport: an nghttp2 client session in
 * this process talks HTTP/2 to the daemon's own h2.c session, whose calls
 * go through call.c to the registered handlers.  Only the socket and TLS
 * are left out (conn.c is replaced by a shim in driver.c that hands
 * h2.c its principal): the connection is bytes in memory.
 *
 * Fixtures made at open: two dossiers (one linked to the person-demo
 * certificate), a document deposited by agency caf-75, a consent of the
 * person to caf-75 and a mandate to the France Services delegate.  A
 * message may name them with 27-byte placeholders that drv_call replaces
 * before sending: "@@D0" (then any 23 bytes) the person's dossier, "@@D1"
 * the other one, "@@C0" the document, "@@K0" the consent, "@@M0" the
 * mandate.
 *
 * Single-threaded use only (the daemon's loop runs inside drv_call).
 */
#ifndef DOSSIER_FUZZ_DRIVER_H
#define DOSSIER_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct drv;

/* The callers the driver can play, by index. */
enum drv_who {
    DRV_PERSON,     /* person/demo, owner of dossier D0 */
    DRV_AGENCY,     /* agency/caf-75, holds consent K0 */
    DRV_AGENCY2,    /* agency/cpam-69, no consent */
    DRV_DELEGATE,   /* delegate/france-services-demo, mandate M0 */
    DRV_AUDITOR,    /* auditor/cnil-demo */
    DRV_ADMIN,      /* admin/ops */
    DRV_STRANGER,   /* person/nobody, no dossier */
    DRV_WHO_COUNT
};

/* Every method path the daemon serves (and the Events ones, which it may
 * not serve yet: they answer UNIMPLEMENTED then). */
extern const char *const drv_methods[];
extern const size_t drv_nmethods;

struct drv_msg {
    const uint8_t *data;
    size_t len;
};

struct drv_result {
    int status;        /* grpc-status, or -1 if none came */
    int http_status;   /* :status, or 0 */
    char message[256]; /* grpc-message (percent-encoded, cut) */
    bool reset;        /* the server reset the stream */
    bool conn_error;   /* the daemon's h2 session failed (connection lost) */
    bool open;         /* still open when nothing more could happen
                        * (a Watch stream): closed by the driver */
    size_t messages;   /* response messages */
    uint8_t first[8192]; /* the first response message (cut) */
    size_t first_len;
};

/*
 * Opens a daemon in a new temporary directory (under /dev/shm when
 * writable: LMDB syncs cost nothing there).  |admin| is the path of
 * dossier-admin (NULL: $DOSSIER_ADMIN, else build/bin/dossier-admin).
 * Returns 0 or an error, with a line on stderr.
 */
int drv_open(const char *admin, struct drv **out);

/* Stops everything and removes the directory. */
void drv_close(struct drv *d);

/*
 * Calls |path| as |who| with the |n| request messages |msgs| (each framed
 * here, placeholders replaced), then END_STREAM, and runs the daemon until
 * the call is over.  Fills |*res|.  Returns 0, or -ENOMEM.
 */
int drv_call(struct drv *d, const char *path, enum drv_who who,
             const struct drv_msg *msgs, size_t n, struct drv_result *res);

/*
 * Splits a fuzz_requests input (driver.h's format: byte 0 the method,
 * byte 1 the caller, then messages each prefixed by a 2-byte big-endian
 * length, cut to what is left) into |*path|, |*who| and at most |max|
 * messages pointing into |data|.  Returns the message count, or -1 if the
 * input is shorter than 2 bytes.
 */
int drv_input_parse(const uint8_t *data, size_t size, const char **path,
                    enum drv_who *who, struct drv_msg *msgs, size_t max);

/* Non-zero while the driver's client code runs on this thread (its
 * nghttp2 session): a fault injector leaves those allocations alone. */
extern _Thread_local int drv_in_client;

/* How long a call may go without anything to exchange before the driver
 * takes it as waiting for its client (a Watch) and closes the connection
 * (default 300 ms; the fuzzer uses less). */
void drv_set_idle(struct drv *d, unsigned ms);

/* Hooks around the request, for fault loops: |before| runs just before
 * the first request byte reaches the daemon, |after| when the call is
 * over and the daemon idle again. */
void drv_set_hooks(struct drv *d, void (*before)(void), void (*after)(void));

#endif
