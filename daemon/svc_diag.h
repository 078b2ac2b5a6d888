/*
 * svc_diag.h -- dossier.v1.Diag, one RPC of each gRPC shape, for checking
 * the transport end to end (proto/dossier/v1/diag.proto).
 *
 * It holds no data, reads nothing from disk and never touches personal
 * data; it is served only when the "diag" option is on.
 */
#ifndef DOSSIER_SVC_DIAG_H
#define DOSSIER_SVC_DIAG_H

struct server;

/* Limits of the service, part of its contract with test clients. */
#define DIAG_MAX_DELAY_MS 60000u                  /* Echo delay_ms cap */
#define DIAG_DEFAULT_CHUNK (64u * 1024)           /* chunk_bytes 0 */
#define DIAG_MAX_CHUNK (1024u * 1024)             /* chunk_bytes cap */
#define DIAG_MAX_DOWNLOAD (1024ull * 1024 * 1024) /* total_bytes limit */
#define DIAG_ECHO_QUEUE_MAX (64u * 1024 * 1024)   /* EchoStream backlog */

/*
 * Registers dossier.v1.Diag on |s| if server_config(s)->diag is true;
 * otherwise does nothing and returns 0.
 *
 *   Echo        unary: the payload back, with the caller's principal URI;
 *               delay_ms > 0 answers after that delay (capped at
 *               DIAG_MAX_DELAY_MS), on a loop timer.
 *   Download    server stream: total_bytes (at most DIAG_MAX_DOWNLOAD, or
 *               INVALID_ARGUMENT) in chunks of chunk_bytes (0: 64 KiB;
 *               capped at 1 MiB); the byte at offset i is (seed + i) % 251,
 *               computed without overflow.  Sent as the peer reads, one
 *               chunk in memory at a time.
 *   Upload      client stream: byte and message counts and SHA-256 of all
 *               the data, answered on half-close.
 *   EchoStream  bidi: one EchoResponse per EchoRequest at once (delay_ms is
 *               ignored); OK on half-close.  A client that sends without
 *               reading gets RESOURCE_EXHAUSTED once DIAG_ECHO_QUEUE_MAX
 *               bytes wait for it.
 *
 * A request that does not parse gets INVALID_ARGUMENT.  Returns 0,
 * ERR_EXISTS if a path is already registered, or -ENOMEM.  Loop thread,
 * before server_run().
 */
int svc_diag_register(struct server *s);

#endif
