/*
 * server.h -- the daemon's network side: listener, connections, methods,
 * signals and graceful drain, all on one libuv loop.
 *
 * Services register their methods before server_run(); the transport
 * routes each call to them by path and answers UNIMPLEMENTED for any
 * other path.  Knows nothing of what the services do.
 */
#ifndef DOSSIER_SERVER_H
#define DOSSIER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "call.h"

struct server_config {
    char listen_host[64];       /* "127.0.0.1" */
    int listen_port;            /* 7443 */
    char trust_domain[128];     /* "dossier.test" */
    char cert_file[4096];       /* server certificate chain (PEM) */
    char key_file[4096];        /* its private key (PEM, mode 0600) */
    char ca_file[4096];         /* CA that signs client certificates */
    char data_dir[4096];
    size_t max_message;         /* largest gRPC message, default 4 MiB */
    uint32_t max_streams;       /* concurrent streams per connection */
    uint32_t max_header_list;   /* bytes of headers per request */
    uint32_t stream_window;     /* HTTP/2 initial stream window */
    uint32_t conn_window;       /* HTTP/2 connection window */
    uint32_t max_connections;   /* beyond this, new ones are closed */
    uint64_t handshake_timeout_ms; /* TLS + HTTP/2 preface */
    uint64_t drain_timeout_ms;  /* SIGTERM: time given to calls in flight */
    bool diag;                  /* serve dossier.v1.Diag */
};

struct server;

/* Fills |cfg| with the defaults. */
void server_config_defaults(struct server_config *cfg);

/*
 * Creates a server on |loop| with a copy of |cfg|: loads the TLS material
 * (refusing a private key readable by group or others) and binds the
 * listening socket.  Returns the server, or NULL with |*err| set to a
 * project code (ERR_KEY, ERR_CONFIG) or a negative errno, the reason
 * already logged.
 */
struct server *server_new(uv_loop_t *loop, const struct server_config *cfg,
                          int *err);

/* Registers |m| (not copied: it must outlive the server).  Returns 0,
 * ERR_EXISTS for a path already registered, or -ENOMEM. */
int server_register(struct server *s, const struct method *m);

/* The method registered under |path| (|len| bytes), or NULL. */
const struct method *server_method(const struct server *s, const char *path,
                                   size_t len);

/* False for services that the configuration turns off (dossier.v1.Diag
 * without the diag option); true for any other name. */
bool server_service_enabled(const struct server *s, const char *service);

/*
 * The audit hook: records the entry of call |c| finishing with |status|
 * and |message| (plain text), then calls |done|(c, rc) on the loop once it
 * is durable (rc 0) or could not be made so.  Returns 0, or an error if
 * nothing was queued (|done| then never runs).  Set once, before
 * server_run(); without a hook calls are not held.
 */
typedef void server_audit_done_fn(struct call *c, int rc);
typedef int server_audit_fn(void *arg, struct call *c, int status,
                            const char *message, server_audit_done_fn *done);
void server_set_audit(struct server *s, server_audit_fn *fn, void *arg);

/* The hook and its argument (NULL when none). */
server_audit_fn *server_audit(const struct server *s, void **arg);

/* The configuration in force.  Valid for the server's lifetime. */
const struct server_config *server_config(const struct server *s);

/* The loop the server runs on. */
uv_loop_t *server_loop(const struct server *s);

/* True once a drain has begun (SIGTERM/SIGINT). */
bool server_is_draining(const struct server *s);

/* Called when a drain begins, so that long-lived calls (health Watch,
 * event streams) can finish.  At most 8 hooks; returns 0 or -ENOSPC. */
typedef void server_hook_fn(struct server *s, void *arg);
int server_on_drain(struct server *s, server_hook_fn *fn, void *arg);

/* Called on SIGHUP after the TLS material is reloaded, so that other
 * modules reload theirs (master keys).  At most 8 hooks; 0 or -ENOSPC. */
int server_on_reload(struct server *s, server_hook_fn *fn, void *arg);

/*
 * Starts accepting, installs the SIGTERM/SIGINT (drain) and SIGHUP
 * (reload certificates and CA) handlers, and runs the loop until the drain
 * ends, on the calling thread, which asks the scheduler for slices of
 * SERVER_LOOP_SLICE_NS (server__loop_slice).  Returns 0 or a negative
 * errno.
 */
int server_run(struct server *s);

/*
 * The scheduler slice the loop thread asks for.  The loop works in short
 * bursts (a read, a writer's report) and every answer waits for it: on
 * Linux 6.12 and later (EEVDF custom slices, sched_setattr's
 * sched_runtime for SCHED_OTHER) a shorter slice lets it run sooner when
 * it wakes on a busy machine, for the same share of the CPU.  Older
 * kernels take the request and ignore it.
 */
#define SERVER_LOOP_SLICE_NS 100000ull /* 100 us: the kernel's least */

/* sched_setattr(2)'s argument as the kernel lays it out (its first
 * version, which every kernel with the call takes): glibc has no wrapper,
 * and <linux/sched/types.h> clashes with <sched.h>. */
struct server_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

/*
 * Asks for SERVER_LOOP_SLICE_NS slices for the calling thread, keeping
 * its policy and nice value (a thread under another policy than
 * SCHED_OTHER is left as it is).  Returns 0, or a negative errno (a
 * seccomp filter or a kernel without sched_setattr): the thread then
 * runs as before.  Exposed for tests.
 */
int server__loop_slice(void);

/* Closes every handle and frees the server.  server_free(NULL) is a no-op. */
void server_free(struct server *s);

/* --- for conn.c only --------------------------------------------------- */
struct conn;
/* The head of the server's list of connections (linked through conn.c). */
struct conn **server__conns(struct server *s);
/* Counts a connection in and out; the last one out ends a drain. */
void server__conn_added(struct server *s);
void server__conn_gone(struct server *s);
size_t server__conn_count(const struct server *s);
/* Scratch buffers of 64 KiB for socket reads and decrypted bytes: the loop
 * is single-threaded and both are consumed before the read callback
 * returns. */
uint8_t *server__read_buffer(struct server *s);
uint8_t *server__plain_buffer(struct server *s);

#endif
