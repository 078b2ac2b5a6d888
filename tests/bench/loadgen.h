/*
 * loadgen.h -- the pieces of dossier-loadgen shared by its files.
 *
 * dossier-loadgen drives HTTP/2 over TLS with a client certificate:
 * gRPC calls of any method (request bodies framed by the tool) or plain
 * GETs, from N connections with M concurrent streams each, spread over T
 * threads with one epoll loop each.  loadgen.c owns the options, the
 * workers, pacing and the report; lg_conn.c owns one connection (socket,
 * OpenSSL on the socket, nghttp2 client session) and its streams.  It is
 * a measuring tool, not a client library: it checks statuses but never
 * decodes the messages it receives.
 */
#ifndef DOSSIER_LOADGEN_H
#define DOSSIER_LOADGEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "hist.h"

/* One request body, ready to send (gRPC-framed when the call is gRPC). */
struct lg_body {
    uint8_t *data;
    size_t len;
};

struct lg_config {
    char host[256];
    int port;
    char sni[256];
    char authority[300];
    char path[1024];
    bool grpc;           /* POST application/grpc; else GET */
    struct lg_body *bodies; /* used in turn, one per request */
    size_t nbodies;
    int conns, streams, threads;
    uint64_t requests;   /* 0: by duration */
    double duration;     /* seconds, when requests == 0 */
    double warmup;       /* seconds not recorded at the start */
    double rate;         /* requests/s over all threads; 0: closed loop */
    double hold;         /* > 0: open connections, hold them idle, exit */
    int window_bits;     /* our stream and connection windows: 2^n - 1 */
    int connect_parallel; /* handshakes in flight at once, per thread */
    SSL_CTX *ssl_ctx;
    const char *save;    /* append every ok response's DATA to this file */
};

struct lg_worker;

/* A stream in flight (a slot of its connection). */
struct lg_stream {
    struct lg_conn *conn;
    const struct lg_body *body;
    size_t body_off;
    uint64_t t0;       /* intended start (ns, CLOCK_MONOTONIC) */
    uint64_t sent;     /* when it was handed to its connection */
    uint64_t rx;       /* DATA bytes received */
    uint8_t *keep;     /* --save: the DATA received, kept until the end */
    size_t keeplen, keepcap;
    int32_t id;
    int http;          /* :status, 0 until seen */
    int grpc;          /* grpc-status, -1 until seen */
    bool used;
};

enum lg_conn_state {
    LG_CONNECTING,
    LG_HANDSHAKE,
    LG_H2,     /* preface sent, waiting for the server's SETTINGS */
    LG_READY,  /* server SETTINGS seen: streams may start */
    LG_CLOSED,
};

struct lg_conn {
    struct lg_worker *w;
    int fd;
    SSL *ssl;
    nghttp2_session *session;
    enum lg_conn_state state;
    uint32_t events;       /* epoll events registered */
    bool read_wants_write; /* SSL_read asked for a write */
    bool dirty;            /* in the worker's flush list */
    bool was_ready;        /* reached LG_READY once */
    uint8_t *out;
    size_t outlen, outoff, outcap;
    int active;            /* streams in flight */
    int max_streams;       /* min(our M, the server's limit) */
    struct lg_stream *slots;
};

/* Counters of one worker, summed by the report. */
struct lg_counts {
    uint64_t started, ok, fail_http, fail_grpc, fail_reset, fail_conn;
    uint64_t fail_timeout;         /* in flight when the wait ended */
    uint64_t rx_bytes, tx_bytes;   /* DATA payload bytes (recorded only) */
    uint64_t recorded;             /* ok and in the measured window */
    uint64_t last_done_ns;
};

struct lg_worker {
    int id;
    const struct lg_config *cfg;
    int epfd, tfd;
    uint64_t timer_at; /* what tfd is armed for (0: not armed) */
    struct lg_conn *conns;
    int nconns, nready, nfailed, nconnecting, nnext;
    struct lg_conn **dirty;
    int ndirty;
    size_t next_body;
    int rr;                 /* round-robin start for the open loop */
    struct hist hist;       /* latency of ok requests, ns */
    struct hist send_hist;  /* open loop: from due to handed over, ns */
    struct lg_counts n;
    bool submitting;        /* may start new requests */
    uint64_t measure_from;  /* requests started before are not recorded */
    /* Open loop: due start times not yet sent (ring). */
    uint64_t *backlog;
    size_t bl_head, bl_len, bl_cap;
    uint64_t dropped;
    FILE *save;             /* --save, one file per worker (.N) */
    char first_error[256];
    char grpc_message[208];  /* the last grpc-message header seen */
    uint8_t rbuf[64 * 1024];
};

/* Shared by every worker. */
extern _Atomic int64_t lg_remaining; /* requests left to start */

uint64_t lg_now_ns(void);

/* lg_conn.c.  Each returns 0 or -1 after closing the connection (the
 * streams it had in flight are counted as resets). */
int lg_conn_start(struct lg_worker *w, struct lg_conn *c);
void lg_conn_on_event(struct lg_conn *c, uint32_t events);
int lg_conn_flush(struct lg_conn *c);
/* Starts one request on |c| with intended start |t0|; false when the
 * connection has no free stream or is not ready. */
bool lg_conn_submit(struct lg_conn *c, uint64_t t0);
void lg_conn_close(struct lg_conn *c, const char *why);
void lg_conn_mark_dirty(struct lg_conn *c);

/* loadgen.c: called by lg_conn.c when a stream ends or a connection is
 * ready or closed. */
void lg_worker_stream_done(struct lg_worker *w, struct lg_stream *s,
                           uint32_t error_code);
void lg_worker_conn_ready(struct lg_worker *w, struct lg_conn *c);
void lg_worker_conn_closed(struct lg_worker *w, struct lg_conn *c);
void lg_worker_error(struct lg_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
