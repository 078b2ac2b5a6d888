/*
 * tls.c -- TLS sessions over OpenSSL memory BIOs (see tls.h).
 *
 * The network side: ciphertext read from the socket is written into a
 * memory BIO, |rbio|; ciphertext to send is appended by a sink BIO of our
 * own straight into |out|, a buffer the connection takes whole as its next
 * socket write (tls_conn_output_take), so no byte is copied out of OpenSSL
 * a second time.  This file
 * decides the protocol policy (versions, suites, ALPN, client certificates)
 * and turns OpenSSL's error queue into one short phrase; it does not know
 * who the peer is (principal.c) or how bytes reach it (conn.c, the
 * clients).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "log.h"
#include "principal.h"
#include "tls.h"

/* TLS 1.2 only with forward secrecy and AEAD; TLS 1.3 suites are all AEAD. */
#define TLS12_CIPHERS                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static const unsigned char alpn_h2[] = {2, 'h', '2'};

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    int refs; /* only touched on the owning thread */
    bool server;
    char trust_domain[128];
};

struct tls_conn {
    struct tls_ctx *ctx;
    SSL *ssl;
    BIO *rbio;      /* network -> OpenSSL */
    struct buf out; /* OpenSSL -> network, filled by the sink BIO */
    size_t out_room; /* the room the last output taken had grown to */
    const char *error;
    bool plain_http;
};

int
tls_key_file_check(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode)) {
        log_warnx("key file is not a regular file path=%s", path);
        return ERR_KEY;
    }
    if ((st.st_mode & 077) != 0) {
        log_warnx("refusing private key readable by group or others "
                  "path=%s mode=%04o (chmod 600 it)",
                  path, (unsigned)(st.st_mode & 07777));
        return ERR_KEY;
    }
    return 0;
}

/* Logs the OpenSSL error queue under |what| and empties it. */
static void
tls_log_errors(const char *what)
{
    unsigned long e;
    char msg[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
        log_warnx("%s openssl=\"%s\"", what, msg);
    }
}

/* The server picks "h2" or refuses the handshake: gRPC needs HTTP/2. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned char *sel;

    if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof(alpn_h2), in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/*
 * OpenSSL has verified the chain; the leaf must also carry our kind of
 * identity.  Failing here sends a bad_certificate alert during the
 * handshake, which clients report and do not retry in a loop.
 */
static int
tls_verify_principal(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl;
    struct tls_ctx *ctx;
    struct principal who;

    if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return preverify_ok;
    ssl = X509_STORE_CTX_get_ex_data(store,
                                     SSL_get_ex_data_X509_STORE_CTX_idx());
    ctx = ssl != NULL ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (ctx == NULL)
        return 0;
    if (principal_from_cert(X509_STORE_CTX_get_current_cert(store),
                            ctx->trust_domain, &who) != 0) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

/* gRPC needs HTTP/2: a ClientHello that offers no ALPN at all is refused
 * with the alert that says so (the select callback never sees it). */
static int
tls_client_hello(SSL *ssl, int *alert, void *arg)
{
    const unsigned char *ext;
    size_t len;

    if (SSL_client_hello_get0_ext(
            ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
            &len) != 1) {
        *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

static SSL_CTX *
tls_ctx_common(const SSL_METHOD *method, const char *cert, const char *key,
               const char *ca, int *err)
{
    SSL_CTX *ctx;
    int rc;

    if ((rc = tls_key_file_check(key)) != 0) {
        if (rc != ERR_KEY)
            log_warnx("cannot read private key path=%s: %s", key,
                      err_str(rc));
        *err = rc;
        return NULL;
    }
    if ((ctx = SSL_CTX_new(method)) == NULL) {
        tls_log_errors("SSL_CTX_new");
        *err = -ENOMEM;
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_TICKET);
    /* No SSL_MODE_RELEASE_BUFFERS: it frees a connection's record
     * buffers (about 34 KiB) each time they drain and allocates them again
     * at the next record, so every read and write of a busy connection
     * cost a large malloc and free (malloc_consolidate and unlink_chunk
     * were 2.5% of the loop thread on 1 KiB reads).  The buffers go back
     * when the connection falls idle instead (tls_conn_trim): most of the
     * thousands of agencies' connections of a busy day are idle (make
     * bench, scenario 7). */
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
        goto fail_tls;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        log_warnx("cannot load certificate path=%s", cert);
        goto fail_key;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_warnx("cannot load private key or it does not match the "
                  "certificate path=%s",
                  key);
        goto fail_key;
    }
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        log_warnx("cannot load CA path=%s", ca);
        goto fail_key;
    }
    return ctx;

fail_key:
    tls_log_errors("tls");
    SSL_CTX_free(ctx);
    *err = ERR_KEY;
    return NULL;
fail_tls:
    tls_log_errors("tls");
    SSL_CTX_free(ctx);
    *err = ERR_TLS;
    return NULL;
}

static struct tls_ctx *
tls_ctx_wrap(SSL_CTX *ssl_ctx, bool server, int *err)
{
    struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL) {
        SSL_CTX_free(ssl_ctx);
        *err = -ENOMEM;
        return NULL;
    }
    ctx->ssl_ctx = ssl_ctx;
    ctx->refs = 1;
    ctx->server = server;
    return ctx;
}

struct tls_ctx *
tls_ctx_new_server(const char *cert, const char *key, const char *ca,
                   const char *trust_domain, int *err)
{
    STACK_OF(X509_NAME) *names;
    struct tls_ctx *wrapped;
    SSL_CTX *ctx;

    if ((ctx = tls_ctx_common(TLS_server_method(), cert, key, ca, err)) ==
        NULL)
        return NULL;
    /* No session resumption: every connection proves its certificate. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       tls_verify_principal);
    if ((names = SSL_load_client_CA_file(ca)) != NULL)
        SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
    SSL_CTX_set_client_hello_cb(ctx, tls_client_hello, NULL);
    if ((wrapped = tls_ctx_wrap(ctx, true, err)) == NULL)
        return NULL;
    snprintf(wrapped->trust_domain, sizeof(wrapped->trust_domain), "%s",
             trust_domain);
    SSL_CTX_set_app_data(ctx, wrapped);
    return wrapped;
}

struct tls_ctx *
tls_ctx_new_client(const char *cert, const char *key, const char *ca, int *err)
{
    SSL_CTX *ctx;

    if ((ctx = tls_ctx_common(TLS_client_method(), cert, key, ca, err)) ==
        NULL)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
        SSL_CTX_free(ctx);
        *err = -ENOMEM;
        return NULL;
    }
    return tls_ctx_wrap(ctx, false, err);
}

void
tls_ctx_unref(struct tls_ctx *ctx)
{
    if (ctx == NULL || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* --- the sink BIO: OpenSSL's output appended to the session's |out| --- */

static BIO_METHOD *sink_method;
static pthread_once_t sink_once = PTHREAD_ONCE_INIT;

static int
sink_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct tls_conn *t = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    /* A new output starts with the room the last one needed: a stream of
     * large answers then never grows (and copies) its buffer. */
    if (t->out.cap == 0 && t->out_room > len &&
        buf_reserve(&t->out, t->out_room) != 0)
        return 0;
    if (buf_append(&t->out, data, len) != 0)
        return 0;
    *written = len;
    return 1;
}

static long
sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct tls_conn *t = BIO_get_data(b);

    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
        return t != NULL ? (long)buf_size(&t->out) : 0;
    default:
        return 0;
    }
}

static int
sink_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void
sink_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "dossierd TLS output");

    if (m == NULL || BIO_meth_set_write_ex(m, sink_write) != 1 ||
        BIO_meth_set_ctrl(m, sink_ctrl) != 1 ||
        BIO_meth_set_create(m, sink_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    sink_method = m;
}

/* A sink BIO writing into |t|'s output, or NULL. */
static BIO *
sink_new(struct tls_conn *t)
{
    BIO *b;

    pthread_once(&sink_once, sink_method_make);
    if (sink_method == NULL || (b = BIO_new(sink_method)) == NULL)
        return NULL;
    BIO_set_data(b, t);
    return b;
}

/* --- sessions ----------------------------------------------------------- */

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, const char *server_name)
{
    BIO *wbio;

    struct tls_conn *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->error = "no error";
    if ((t->ssl = SSL_new(ctx->ssl_ctx)) == NULL)
        goto fail;
    buf_init(&t->out);
    t->rbio = BIO_new(BIO_s_mem());
    wbio = sink_new(t);
    if (t->rbio == NULL || wbio == NULL) {
        BIO_free(t->rbio);
        BIO_free(wbio);
        goto fail;
    }
    /* An empty read BIO means "want more", not end of file. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, wbio);
    if (ctx->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name != NULL) {
            SSL_set_tlsext_host_name(t->ssl, server_name);
            X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
            if (X509_VERIFY_PARAM_set1_ip_asc(vp, server_name) != 1)
                SSL_set1_host(t->ssl, server_name);
        }
    }
    ctx->refs++;
    t->ctx = ctx;
    return t;

fail:
    SSL_free(t->ssl);
    free(t);
    return NULL;
}

void
tls_conn_free(struct tls_conn *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    buf_free(&t->out);
    tls_ctx_unref(t->ctx);
    free(t);
}

int
tls_conn_feed(struct tls_conn *t, const void *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t w;
        if (BIO_write_ex(t->rbio, (const char *)data + done, len - done,
                         &w) != 1)
            return -ENOMEM;
        done += w;
    }
    return 0;
}

/* Names the reason of a failed handshake in a short phrase. */
static const char *
tls_failure_reason(struct tls_conn *t)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_REASON(e);
    long vr = SSL_get_verify_result(t->ssl);

    switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return "no client certificate";
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_CALLBACK_FAILED:
        return "no ALPN h2";
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
        t->plain_http = true;
        return "plaintext HTTP on the TLS port";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_UNKNOWN_PROTOCOL:
        return "not TLS 1.2 or 1.3";
    case SSL_R_NO_SHARED_CIPHER:
        return "no shared cipher (ECDHE with AEAD required)";
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
        break;
    default:
        if (vr == X509_V_OK)
            return "handshake failure";
    }
    switch (vr) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "certificate not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "certificate from an unknown CA";
    case X509_V_ERR_CERT_REVOKED:
        return "certificate revoked";
    case X509_V_ERR_APPLICATION_VERIFICATION:
        return "client certificate names no principal of our trust domain "
               "(URI SAN spiffe://<trust-domain>/<kind>/<id> required)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "server name mismatch";
    default:
        return "certificate verification failed";
    }
}

int
tls_conn_handshake(struct tls_conn *t)
{
    const unsigned char *alpn;
    unsigned int alpn_len;
    int rc;

    if (SSL_is_init_finished(t->ssl))
        return 1;
    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (rc != 1) {
        switch (SSL_get_error(t->ssl, rc)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0;
        default:
            t->error = tls_failure_reason(t);
            ERR_clear_error();
            return ERR_TLS;
        }
    }
    /* A peer that sent no ALPN at all never reached the select callback. */
    SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        t->error = "no ALPN h2";
        return ERR_TLS;
    }
    return 1;
}

ssize_t
tls_conn_read(struct tls_conn *t, void *out, size_t len)
{
    size_t got = 0;

    ERR_clear_error();
    if (SSL_read_ex(t->ssl, out, len, &got) == 1)
        return (ssize_t)got;
    switch (SSL_get_error(t->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -EPIPE;
    default:
        t->error = "bad TLS record";
        ERR_clear_error();
        return ERR_TLS;
    }
}

int
tls_conn_write(struct tls_conn *t, const void *data, size_t len)
{
    size_t done = 0;

    ERR_clear_error();
    while (done < len) {
        size_t w = 0;
        if (SSL_write_ex(t->ssl, (const char *)data + done, len - done,
                         &w) != 1) {
            t->error = "TLS write failed";
            ERR_clear_error();
            return ERR_TLS;
        }
        done += w;
    }
    return 0;
}

void
tls_conn_shutdown(struct tls_conn *t)
{
    ERR_clear_error();
    if (SSL_is_init_finished(t->ssl))
        (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

size_t
tls_conn_output_pending(const struct tls_conn *t)
{
    return buf_size(&t->out);
}

/* A fresh, empty memory BIO in place of the read BIO once it is drained
 * and holds a buffer (BIO_s_mem keeps its largest size forever). */
static void
tls_rbio_trim(struct tls_conn *t)
{
    BUF_MEM *bm = NULL;
    BIO *fresh;

    if (BIO_ctrl_pending(t->rbio) != 0 ||
        BIO_get_mem_ptr(t->rbio, &bm) != 1 || bm == NULL || bm->max == 0)
        return;
    if ((fresh = BIO_new(BIO_s_mem())) == NULL)
        return; /* keep the old one: nothing is lost */
    BIO_set_mem_eof_return(fresh, -1);
    SSL_set0_rbio(t->ssl, fresh); /* frees the old one */
    t->rbio = fresh;
}

void
tls_conn_trim(struct tls_conn *t)
{
    if (!SSL_is_init_finished(t->ssl))
        return;
    tls_rbio_trim(t);
    /* Refused (0) while a record is half read or written: kept then. */
    (void)SSL_free_buffers(t->ssl);
    if (buf_size(&t->out) == 0)
        buf_free(&t->out);
    t->out_room = 0;
}

const uint8_t *
tls_conn_output_peek(const struct tls_conn *t)
{
    return buf_peek(&t->out);
}

void
tls_conn_output_consume(struct tls_conn *t, size_t n)
{
    size_t have = buf_size(&t->out);

    buf_consume(&t->out, n < have ? n : have);
}

size_t
tls_conn_output_read(struct tls_conn *t, void *out, size_t len)
{
    size_t n = buf_size(&t->out);

    if (n > len)
        n = len;
    if (n > 0) {
        memcpy(out, buf_peek(&t->out), n);
        buf_consume(&t->out, n);
    }
    return n;
}

void
tls_conn_output_take(struct tls_conn *t, struct buf *out)
{
    *out = t->out;
    t->out_room = t->out.cap;
    buf_init(&t->out);
}

bool
tls_conn_saw_plain_http(const struct tls_conn *t)
{
    return t->plain_http;
}

X509 *
tls_conn_peer_cert(const struct tls_conn *t)
{
    return SSL_get0_peer_certificate(t->ssl);
}

const char *
tls_conn_error(const struct tls_conn *t)
{
    return t->error;
}
