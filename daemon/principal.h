/*
 * principal.h -- who is calling: the identity in a client certificate.
 *
 * Every caller is a principal named by the URI SAN of its TLS client
 * certificate, in SPIFFE form spiffe://<trust-domain>/<kind>/<id>.  This
 * module parses and checks that name; it decides nothing about rights
 * (that is the policy module's job).
 */
#ifndef DOSSIER_PRINCIPAL_H
#define DOSSIER_PRINCIPAL_H

#include <openssl/x509.h>

enum principal_kind {
    PRINCIPAL_NONE = 0,
    PRINCIPAL_PERSON,
    PRINCIPAL_AGENCY,
    PRINCIPAL_DELEGATE,
    PRINCIPAL_AUDITOR,
    PRINCIPAL_ADMIN,
};

#define PRINCIPAL_ID_MAX 128
#define PRINCIPAL_URI_MAX 256

struct principal {
    enum principal_kind kind;
    char id[PRINCIPAL_ID_MAX];   /* "caf-75", "jean-dupont"... */
    char uri[PRINCIPAL_URI_MAX]; /* the whole SPIFFE URI */
};

/* "person", "agency", ...; NULL for PRINCIPAL_NONE. */
const char *principal_kind_name(enum principal_kind kind);

/* The kind named |s|, or PRINCIPAL_NONE. */
enum principal_kind principal_kind_parse(const char *s);

/*
 * Parses |uri| (|len| bytes, not necessarily NUL-terminated) as
 * spiffe://<trust_domain>/<kind>/<id> into |*out|.  The trust domain must
 * equal |trust_domain| (case-insensitive, as SPIFFE says); kind must be one
 * of the five kinds; id is 1..127 characters of [A-Za-z0-9._-], neither
 * "." nor ".." (no path segments, no percent-escapes, no query, fragment,
 * port or userinfo, no NUL within |len|).  On success |out->uri| is the
 * URI with its trust domain in lower case, so that one principal has one
 * spelling.  Returns 0 or ERR_INVALID; |*out| is cleared on error.  Pure:
 * safe on any thread.
 */
int principal_parse(const char *uri, size_t len, const char *trust_domain,
                    struct principal *out);

/*
 * Finds the principal in |cert|: exactly one URI SAN must parse with
 * principal_parse(); other SAN types are ignored.  Returns 0, ERR_NOTFOUND
 * (|cert| NULL, or no URI SAN), or ERR_INVALID (a URI SAN of the wrong form
 * or trust domain, several URI SANs, or a SAN extension that is repeated
 * or does not decode).  |*out| is cleared on error.  Does not verify
 * |cert| (tls.c did) and does not take ownership of it.
 */
/* Size of the buffer principal_log_name() may write into. */
#define PRINCIPAL_LOG_MAX 24

/*
 * How logs name |p| (NULL or PRINCIPAL_NONE: "-").  Agencies, aidants,
 * auditors and operators by their URI; a person, whose id may be their
 * name, as "person:" and 16 hex digits of an HMAC-SHA256 of the URI under
 * a key drawn once per process: the lines of one person can be followed
 * within one run, and nothing in the log names them.  Returns |p->uri|,
 * a static string, or |out| (PRINCIPAL_LOG_MAX bytes), valid as long as
 * the one it is.  Any thread.
 */
const char *principal_log_name(const struct principal *p,
                               char out[PRINCIPAL_LOG_MAX]);

int principal_from_cert(X509 *cert, const char *trust_domain,
                        struct principal *out);

#endif
