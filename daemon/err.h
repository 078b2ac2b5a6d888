/*
 * err.h -- the project's error codes.
 *
 * Functions that can fail return 0, a negative errno (-ENOMEM, -EIO...) or
 * one of the negative project codes below.  err_str() names any of them in
 * plain English for logs.  Library codes (OpenSSL, nghttp2, LMDB) are
 * translated into these once, in the module that owns the library; gRPC
 * statuses are derived from them only at the RPC edge (rpc_status_from_err).
 */
#ifndef DOSSIER_ERR_H
#define DOSSIER_ERR_H

enum {
    ERR_BASE = -20000,
    ERR_INVALID,      /* bad input from a caller */
    ERR_NOTFOUND,     /* no such object */
    ERR_EXISTS,       /* object already there */
    ERR_DENIED,       /* the principal may not do this */
    ERR_CORRUPT,      /* stored bytes failed authentication */
    ERR_TOOBIG,       /* over a configured limit */
    ERR_FULL,         /* store or disk full */
    ERR_EXPIRED,      /* past its validity */
    ERR_TLS,          /* TLS handshake or record failure */
    ERR_PROTO,        /* peer broke a protocol rule */
    ERR_COMPRESSED,   /* a compressed gRPC message (we speak identity) */
    ERR_UNAVAILABLE,  /* draining or shutting down */
    ERR_KEY,          /* unusable key material */
    ERR_CONFIG,       /* bad configuration */
    ERR_LAST
};

/*
 * Returns a static English description of |err| (0, a negative errno or a
 * project code).  Never NULL; safe from any thread.
 */
const char *err_str(int err);

#endif
