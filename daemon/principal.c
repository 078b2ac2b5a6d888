/*
 * principal.c -- the SPIFFE name of a caller (see principal.h).
 *
 * Parses spiffe://<trust-domain>/<kind>/<id> strictly: a name either has
 * exactly the expected shape or is refused, with no normalisation of the
 * path (no percent-decoding, no "." or ".." resolution), so that one
 * principal has exactly one spelling.  Reads the URI SAN of a certificate
 * that tls.c has already verified; does not verify certificates itself and
 * decides nothing about rights.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "crypto.h"
#include "err.h"
#include "principal.h"

#define PRINCIPAL_SCHEME "spiffe://"
#define PRINCIPAL_SCHEME_LEN (sizeof(PRINCIPAL_SCHEME) - 1)

static const char *const principal_kind_names[] = {
    [PRINCIPAL_PERSON] = "person",     [PRINCIPAL_AGENCY] = "agency",
    [PRINCIPAL_DELEGATE] = "delegate", [PRINCIPAL_AUDITOR] = "auditor",
    [PRINCIPAL_ADMIN] = "admin",
};

#define PRINCIPAL_NKINDS                                                       \
    (sizeof(principal_kind_names) / sizeof(*principal_kind_names))

const char *
principal_kind_name(enum principal_kind kind)
{
    if ((size_t)kind >= PRINCIPAL_NKINDS)
        return NULL;
    return principal_kind_names[kind]; /* NULL for PRINCIPAL_NONE */
}

/* The kind spelled by the |len| bytes at |s|, or PRINCIPAL_NONE. */
static enum principal_kind
principal_kind_parse_n(const char *s, size_t len)
{
    for (size_t k = PRINCIPAL_PERSON; k < PRINCIPAL_NKINDS; k++) {
        const char *name = principal_kind_names[k];

        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return (enum principal_kind)k;
    }
    return PRINCIPAL_NONE;
}

enum principal_kind
principal_kind_parse(const char *s)
{
    if (s == NULL)
        return PRINCIPAL_NONE;
    return principal_kind_parse_n(s, strlen(s));
}

/*
 * The only bytes allowed after the scheme: letters, digits, '.', '_', '-'
 * and the '/' separators.  This one test already refuses percent-escapes,
 * query, fragment, port, userinfo, spaces, controls, NUL and non-ASCII.
 */
static bool
principal_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
principal_parse(const char *uri, size_t len, const char *trust_domain,
                struct principal *out)
{
    const char *p, *end, *td, *kind, *id;
    size_t td_len, kind_len, id_len;
    enum principal_kind k;

    memset(out, 0, sizeof(*out));
    if (uri == NULL || trust_domain == NULL)
        goto fail;
    /* out->uri keeps the whole name with its NUL. */
    if (len >= PRINCIPAL_URI_MAX || len < PRINCIPAL_SCHEME_LEN)
        goto fail;
    if (memcmp(uri, PRINCIPAL_SCHEME, PRINCIPAL_SCHEME_LEN) != 0)
        goto fail;
    end = uri + len;
    for (p = uri + PRINCIPAL_SCHEME_LEN; p < end; p++)
        if (*p != '/' && !principal_char_ok((unsigned char)*p))
            goto fail;

    /* Three non-empty segments: trust domain, kind, id. */
    td = uri + PRINCIPAL_SCHEME_LEN;
    if ((p = memchr(td, '/', (size_t)(end - td))) == NULL)
        goto fail;
    td_len = (size_t)(p - td);
    kind = p + 1;
    if ((p = memchr(kind, '/', (size_t)(end - kind))) == NULL)
        goto fail;
    kind_len = (size_t)(p - kind);
    id = p + 1;
    id_len = (size_t)(end - id);
    if (td_len == 0 || kind_len == 0 || id_len == 0)
        goto fail;
    if (memchr(id, '/', id_len) != NULL)
        goto fail; /* a fourth segment, or a trailing slash */

    if (strlen(trust_domain) != td_len ||
        strncasecmp(td, trust_domain, td_len) != 0)
        goto fail;
    if ((k = principal_kind_parse_n(kind, kind_len)) == PRINCIPAL_NONE)
        goto fail;
    if (id_len >= PRINCIPAL_ID_MAX)
        goto fail;
    if ((id_len == 1 && id[0] == '.') ||
        (id_len == 2 && id[0] == '.' && id[1] == '.'))
        goto fail;

    out->kind = k;
    memcpy(out->id, id, id_len);
    out->id[id_len] = '\0';
    /* The trust domain is stored in lower case, so that one principal has
     * one URI whatever the case its certificate used. */
    memcpy(out->uri, uri, len);
    out->uri[len] = '\0';
    for (size_t i = 0; i < td_len; i++) {
        char *c = out->uri + PRINCIPAL_SCHEME_LEN + i;

        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    return 0;

fail:
    memset(out, 0, sizeof(*out));
    return ERR_INVALID;
}

int
principal_from_cert(X509 *cert, const char *trust_domain, struct principal *out)
{
    GENERAL_NAMES *names = NULL;
    const ASN1_IA5STRING *uri = NULL;
    int crit = -1, nuri = 0, rc;

    memset(out, 0, sizeof(*out));
    if (cert == NULL) {
        rc = ERR_NOTFOUND;
        goto fail;
    }
    names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (names == NULL) {
        /* -1: no SAN extension.  -2: several, which RFC 5280 forbids; any
         * other value: the extension is there but does not decode. */
        rc = crit == -1 ? ERR_NOTFOUND : ERR_INVALID;
        goto fail;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type != GEN_URI)
            continue;
        /* Two URI SANs would make the caller two principals: refuse. */
        if (++nuri > 1) {
            rc = ERR_INVALID;
            goto fail;
        }
        uri = gn->d.uniformResourceIdentifier;
    }
    if (uri == NULL) {
        rc = ERR_NOTFOUND;
        goto fail;
    }
    /* The length is the IA5String's, so an embedded NUL is seen and
     * refused by principal_parse(), never silently cut at. */
    rc = principal_parse((const char *)ASN1_STRING_get0_data(uri),
                         (size_t)ASN1_STRING_length(uri), trust_domain, out);
    if (rc != 0)
        goto fail;
    GENERAL_NAMES_free(names);
    return 0;

fail:
    GENERAL_NAMES_free(names);
    memset(out, 0, sizeof(*out));
    return rc;
}

static uint8_t principal_log_key[32];
static bool principal_log_key_ok;
static pthread_once_t principal_log_once = PTHREAD_ONCE_INIT;

static void
principal_log_key_init(void)
{
    principal_log_key_ok =
        crypto_random(principal_log_key, sizeof(principal_log_key)) == 0;
}

const char *
principal_log_name(const struct principal *p, char out[PRINCIPAL_LOG_MAX])
{
    uint8_t mac[CRYPTO_HASH_LEN];

    if (p == NULL || p->kind == PRINCIPAL_NONE || p->uri[0] == '\0')
        return "-";
    if (p->kind != PRINCIPAL_PERSON)
        return p->uri;
    pthread_once(&principal_log_once, principal_log_key_init);
    if (!principal_log_key_ok ||
        crypto_hmac_sha256(principal_log_key, sizeof(principal_log_key),
                           p->uri, strlen(p->uri), mac) != 0)
        return "person:?";
    snprintf(out, PRINCIPAL_LOG_MAX,
             "person:%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]);
    return out;
}
