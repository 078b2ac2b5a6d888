/*
 * test_principal.c -- unit tests of principal.c: SPIFFE names accepted and
 * refused, and the URI SAN of certificates built here with OpenSSL.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "principal.h"
#include "suites.h"

#define TD "dossier.test"

#define N(a) ((int)(sizeof(a) / sizeof(*(a))))

/* True when |p| is all zero, as principal_parse() leaves it on error. */
static bool
principal_is_clear(const struct principal *p)
{
    static const struct principal zero;

    return memcmp(p, &zero, sizeof(zero)) == 0;
}

/* --- kinds -------------------------------------------------------------- */

START_TEST(test_principal_kinds)
{
    static const struct {
        enum principal_kind kind;
        const char *name;
    } kinds[] = {
        {PRINCIPAL_PERSON, "person"},     {PRINCIPAL_AGENCY, "agency"},
        {PRINCIPAL_DELEGATE, "delegate"}, {PRINCIPAL_AUDITOR, "auditor"},
        {PRINCIPAL_ADMIN, "admin"},
    };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        ck_assert_str_eq(principal_kind_name(kinds[i].kind), kinds[i].name);
        ck_assert_int_eq(principal_kind_parse(kinds[i].name), kinds[i].kind);
    }
    ck_assert_ptr_null(principal_kind_name(PRINCIPAL_NONE));
    ck_assert_ptr_null(principal_kind_name((enum principal_kind)99));
    ck_assert_int_eq(principal_kind_parse(""), PRINCIPAL_NONE);
    ck_assert_int_eq(principal_kind_parse("Person"), PRINCIPAL_NONE);
    ck_assert_int_eq(principal_kind_parse("persons"), PRINCIPAL_NONE);
    ck_assert_int_eq(principal_kind_parse("perso"), PRINCIPAL_NONE);
    ck_assert_int_eq(principal_kind_parse(NULL), PRINCIPAL_NONE);
}
END_TEST

/* --- principal_parse ---------------------------------------------------- */

static const struct {
    const char *uri;
    const char *td;
    enum principal_kind kind;
    const char *id;
    const char *norm; /* out->uri */
} parse_ok[] = {
    {"spiffe://dossier.test/person/jean-dupont", TD, PRINCIPAL_PERSON,
     "jean-dupont", "spiffe://dossier.test/person/jean-dupont"},
    {"spiffe://dossier.test/agency/caf-75", TD, PRINCIPAL_AGENCY, "caf-75",
     "spiffe://dossier.test/agency/caf-75"},
    {"spiffe://dossier.test/delegate/a.b_c-D9", TD, PRINCIPAL_DELEGATE,
     "a.b_c-D9", "spiffe://dossier.test/delegate/a.b_c-D9"},
    {"spiffe://dossier.test/auditor/CNIL", TD, PRINCIPAL_AUDITOR, "CNIL",
     "spiffe://dossier.test/auditor/CNIL"},
    {"spiffe://dossier.test/admin/root", TD, PRINCIPAL_ADMIN, "root",
     "spiffe://dossier.test/admin/root"},
    {"spiffe://dossier.test/person/x", TD, PRINCIPAL_PERSON, "x",
     "spiffe://dossier.test/person/x"},
    {"spiffe://dossier.test/person/-", TD, PRINCIPAL_PERSON, "-",
     "spiffe://dossier.test/person/-"},
    /* The trust domain is compared without case and stored in lower case;
     * the id keeps its case. */
    {"spiffe://DOSSIER.Test/person/Jean", TD, PRINCIPAL_PERSON, "Jean",
     "spiffe://dossier.test/person/Jean"},
    {"spiffe://dossier.test/person/x", "Dossier.TEST", PRINCIPAL_PERSON, "x",
     "spiffe://dossier.test/person/x"},
    {"spiffe://a-b_c.example/agency/1", "a-b_c.example", PRINCIPAL_AGENCY, "1",
     "spiffe://a-b_c.example/agency/1"},
};

START_TEST(test_principal_parse_valid)
{
    struct principal p;
    const char *uri = parse_ok[_i].uri;

    memset(&p, 0xa5, sizeof(p));
    ck_assert_msg(principal_parse(uri, strlen(uri), parse_ok[_i].td, &p) == 0,
                  "refused: %s", uri);
    ck_assert_int_eq(p.kind, parse_ok[_i].kind);
    ck_assert_str_eq(p.id, parse_ok[_i].id);
    ck_assert_str_eq(p.uri, parse_ok[_i].norm);
}
END_TEST

static const struct {
    const char *uri;
    size_t len; /* 0: strlen */
} parse_bad[] = {
    {"", 0},
    {"spiffe://", 0},
    /* scheme */
    {"SPIFFE://dossier.test/person/x", 0},
    {"Spiffe://dossier.test/person/x", 0},
    {"spiffe:/dossier.test/person/x", 0},
    {"spiffe:dossier.test/person/x", 0},
    {"https://dossier.test/person/x", 0},
    {" spiffe://dossier.test/person/x", 0},
    {"dossier.test/person/x", 0},
    /* trust domain */
    {"spiffe://other.test/person/x", 0},
    {"spiffe://dossier.test.evil/person/x", 0},
    {"spiffe://evil.dossier.test/person/x", 0},
    {"spiffe://dossier.tes/person/x", 0},
    {"spiffe://dossier/person/x", 0},
    {"spiffe:///person/x", 0},
    {"spiffe://dossier.test:443/person/x", 0},
    {"spiffe://user@dossier.test/person/x", 0},
    {"spiffe://dossier%2etest/person/x", 0},
    {"spiffe://dossier.test./person/x", 0},
    /* path shape */
    {"spiffe://dossier.test", 0},
    {"spiffe://dossier.test/", 0},
    {"spiffe://dossier.test/person", 0},
    {"spiffe://dossier.test/person/", 0},
    {"spiffe://dossier.test/person/x/", 0},
    {"spiffe://dossier.test/person/x/y", 0},
    {"spiffe://dossier.test//person/x", 0},
    {"spiffe://dossier.test/person//x", 0},
    {"spiffe://dossier.test//x", 0},
    {"spiffe://dossier.test/x", 0},
    /* kind */
    {"spiffe://dossier.test/robot/x", 0},
    {"spiffe://dossier.test/Person/x", 0},
    {"spiffe://dossier.test/persons/x", 0},
    {"spiffe://dossier.test/./person/x", 0},
    {"spiffe://dossier.test/../person/x", 0},
    /* id */
    {"spiffe://dossier.test/person/.", 0},
    {"spiffe://dossier.test/person/..", 0},
    {"spiffe://dossier.test/person/a%20b", 0},
    {"spiffe://dossier.test/person/%2e%2e", 0},
    {"spiffe://dossier.test/person/x?admin=1", 0},
    {"spiffe://dossier.test/person/x?", 0},
    {"spiffe://dossier.test/person/x#frag", 0},
    {"spiffe://dossier.test/person/x:1", 0},
    {"spiffe://dossier.test/person/a@b", 0},
    {"spiffe://dossier.test/person/a b", 0},
    {"spiffe://dossier.test/person/a+b", 0},
    {"spiffe://dossier.test/person/a\\b", 0},
    {"spiffe://dossier.test/person/x\n", 0},
    {"spiffe://dossier.test/person/\xc3\xa9", 0},
    {"spiffe://dossier.test/person/ab\0cd", 34},
    {"spiffe://dossier.test/person/x\0", 31},
    {"spiffe://dossier.test\0/person/x", 31},
};

START_TEST(test_principal_parse_invalid)
{
    struct principal p;
    const char *uri = parse_bad[_i].uri;
    size_t len = parse_bad[_i].len ? parse_bad[_i].len : strlen(uri);

    memset(&p, 0xa5, sizeof(p));
    ck_assert_msg(principal_parse(uri, len, TD, &p) == ERR_INVALID,
                  "accepted: %.*s", (int)len, uri);
    ck_assert(principal_is_clear(&p));
}
END_TEST

START_TEST(test_principal_parse_id_length)
{
    char uri[PRINCIPAL_URI_MAX + 64];
    struct principal p;
    size_t head;

    head = (size_t)snprintf(uri, sizeof(uri), "spiffe://" TD "/person/");
    memset(uri + head, 'a', 128);
    uri[head + 128] = '\0';
    ck_assert_int_eq(principal_parse(uri, head + 127, TD, &p), 0);
    ck_assert_uint_eq(strlen(p.id), 127);
    ck_assert_int_eq(principal_parse(uri, head + 128, TD, &p), ERR_INVALID);
    ck_assert(principal_is_clear(&p));
}
END_TEST

START_TEST(test_principal_parse_uri_too_long)
{
    char uri[PRINCIPAL_URI_MAX + 64];
    struct principal p;
    char td[200];

    /* A legal shape whose whole URI cannot be kept in out->uri. */
    memset(td, 'd', sizeof(td) - 1);
    td[sizeof(td) - 1] = '\0';
    snprintf(uri, sizeof(uri), "spiffe://%s/person/%s", td,
             "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvw");
    ck_assert_uint_ge(strlen(uri), PRINCIPAL_URI_MAX);
    ck_assert_int_eq(principal_parse(uri, strlen(uri), td, &p), ERR_INVALID);
    ck_assert(principal_is_clear(&p));
}
END_TEST

/* The longest URI kept is PRINCIPAL_URI_MAX - 1 bytes, with its NUL. */
START_TEST(test_principal_parse_uri_max)
{
    char uri[PRINCIPAL_URI_MAX + 1];
    char td[201];
    struct principal p;
    size_t head;

    memset(td, 'd', sizeof(td) - 1);
    td[sizeof(td) - 1] = '\0';
    head = (size_t)snprintf(uri, sizeof(uri), "spiffe://%s/person/", td);
    memset(uri + head, 'i', sizeof(uri) - 1 - head);
    uri[sizeof(uri) - 1] = '\0';
    ck_assert_int_eq(principal_parse(uri, PRINCIPAL_URI_MAX - 1, td, &p), 0);
    ck_assert_uint_eq(strlen(p.uri), PRINCIPAL_URI_MAX - 1);
    ck_assert_mem_eq(p.uri, uri, PRINCIPAL_URI_MAX - 1);
    ck_assert_int_eq(principal_parse(uri, PRINCIPAL_URI_MAX, td, &p),
                     ERR_INVALID);
    ck_assert(principal_is_clear(&p));
}
END_TEST

/* |len| bounds the input: the bytes after it are never looked at. */
START_TEST(test_principal_parse_not_nul_terminated)
{
    static const char uri[] = "spiffe://dossier.test/person/abc/../../x";
    struct principal p;

    ck_assert_int_eq(principal_parse(uri, 32, TD, &p), 0);
    ck_assert_str_eq(p.id, "abc");
    ck_assert_str_eq(p.uri, "spiffe://dossier.test/person/abc");
    ck_assert_int_eq(principal_parse(uri, 33, TD, &p), ERR_INVALID);
    ck_assert_int_eq(principal_parse(NULL, 0, TD, &p), ERR_INVALID);
    ck_assert_int_eq(principal_parse(uri, 32, NULL, &p), ERR_INVALID);
    ck_assert(principal_is_clear(&p));
}
END_TEST

/* --- principal_from_cert ------------------------------------------------ */

struct san {
    int type; /* GEN_URI, GEN_DNS, GEN_EMAIL */
    const char *value;
    size_t len; /* 0: strlen */
};

/* A self-signed shape without extensions yet; the key is kept for
 * cert_finish(). */
static X509 *
cert_new(EVP_PKEY **key)
{
    X509 *x = X509_new();
    X509_NAME *name;

    *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(*key);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    name = X509_get_subject_name(x);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"test",
                                                -1, -1, 0),
                     1);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_int_eq(X509_set_pubkey(x, *key), 1);
    return x;
}

/* Adds one subjectAltName extension holding |sans|, even if the
 * certificate already has one. */
static void
cert_add_sans(X509 *x, const struct san *sans, size_t n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

    ck_assert_ptr_nonnull(gens);
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        size_t len = sans[i].len ? sans[i].len : strlen(sans[i].value);

        ck_assert_ptr_nonnull(gn);
        ck_assert_ptr_nonnull(ia5);
        ck_assert_int_eq(ASN1_STRING_set(ia5, sans[i].value, (int)len), 1);
        GENERAL_NAME_set0_value(gn, sans[i].type, ia5);
        ck_assert_int_gt(sk_GENERAL_NAME_push(gens, gn), 0);
    }
    ck_assert_int_eq(
        X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND),
        1);
    GENERAL_NAMES_free(gens);
}

/* Signs |x| and returns it as a peer would send it: encoded to DER and
 * decoded again. */
static X509 *
cert_finish(X509 *x, EVP_PKEY *key)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    X509 *back;
    int len;

    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    len = i2d_X509(x, &der);
    ck_assert_int_gt(len, 0);
    p = der;
    back = d2i_X509(NULL, &p, len);
    ck_assert_ptr_nonnull(back);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
    return back;
}

/* A certificate with one SAN extension holding |sans| (none if n == 0). */
static X509 *
cert_with(const struct san *sans, size_t n)
{
    EVP_PKEY *key;
    X509 *x = cert_new(&key);

    if (n > 0)
        cert_add_sans(x, sans, n);
    return cert_finish(x, key);
}

static const struct {
    const char *what;
    struct san sans[3];
    size_t n;
    int want;
    enum principal_kind kind;
    const char *id;
} cert_cases[] = {
    {"one URI SAN",
     {{GEN_URI, "spiffe://dossier.test/person/jean-dupont", 0}},
     1,
     0,
     PRINCIPAL_PERSON,
     "jean-dupont"},
    {"a URI SAN beside DNS and email SANs",
     {{GEN_DNS, "client.dossier.test", 0},
      {GEN_URI, "spiffe://dossier.test/agency/caf-75", 0},
      {GEN_EMAIL, "ops@dossier.test", 0}},
     3,
     0,
     PRINCIPAL_AGENCY,
     "caf-75"},
    {"no SAN extension", {{0, NULL, 0}}, 0, ERR_NOTFOUND, PRINCIPAL_NONE, ""},
    {"a DNS SAN only",
     {{GEN_DNS, "client.dossier.test", 0}},
     1,
     ERR_NOTFOUND,
     PRINCIPAL_NONE,
     ""},
    {"a DNS SAN holding a SPIFFE name",
     {{GEN_DNS, "spiffe://dossier.test/admin/root", 0}},
     1,
     ERR_NOTFOUND,
     PRINCIPAL_NONE,
     ""},
    {"an email SAN only",
     {{GEN_EMAIL, "jean@dossier.test", 0}},
     1,
     ERR_NOTFOUND,
     PRINCIPAL_NONE,
     ""},
    {"two valid URI SANs",
     {{GEN_URI, "spiffe://dossier.test/person/a", 0},
      {GEN_URI, "spiffe://dossier.test/admin/root", 0}},
     2,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
    {"a valid URI SAN after an invalid one",
     {{GEN_URI, "https://dossier.test/", 0},
      {GEN_URI, "spiffe://dossier.test/person/a", 0}},
     2,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
    {"the wrong trust domain",
     {{GEN_URI, "spiffe://other.test/person/jean-dupont", 0}},
     1,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
    {"a malformed URI SAN",
     {{GEN_URI, "spiffe://dossier.test/person/../admin", 0}},
     1,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
    {"a NUL inside the URI SAN",
     {{GEN_URI, "spiffe://dossier.test/person/x\0.evil", 36}},
     1,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
    {"an empty URI SAN",
     {{GEN_URI, "", 0}},
     1,
     ERR_INVALID,
     PRINCIPAL_NONE,
     ""},
};

START_TEST(test_principal_from_cert)
{
    X509 *x = cert_with(cert_cases[_i].sans, cert_cases[_i].n);
    struct principal p;
    int rc;

    memset(&p, 0xa5, sizeof(p));
    rc = principal_from_cert(x, TD, &p);
    ck_assert_msg(rc == cert_cases[_i].want, "%s: got %d (%s), want %d",
                  cert_cases[_i].what, rc, err_str(rc), cert_cases[_i].want);
    if (rc == 0) {
        ck_assert_int_eq(p.kind, cert_cases[_i].kind);
        ck_assert_str_eq(p.id, cert_cases[_i].id);
    } else {
        ck_assert(principal_is_clear(&p));
    }
    X509_free(x);
}
END_TEST

/* RFC 5280 allows one instance of an extension: two subjectAltName
 * extensions, each with one valid URI, are refused rather than one being
 * picked. */
START_TEST(test_principal_from_cert_two_san_extensions)
{
    static const struct san a = {GEN_URI, "spiffe://dossier.test/person/a", 0};
    static const struct san b = {GEN_URI, "spiffe://dossier.test/admin/b", 0};
    EVP_PKEY *key;
    X509 *x = cert_new(&key);
    struct principal p;

    cert_add_sans(x, &a, 1);
    cert_add_sans(x, &b, 1);
    x = cert_finish(x, key);
    ck_assert_int_eq(X509_get_ext_count(x), 2);
    ck_assert_int_eq(principal_from_cert(x, TD, &p), ERR_INVALID);
    ck_assert(principal_is_clear(&p));
    X509_free(x);
}
END_TEST

START_TEST(test_principal_from_cert_null)
{
    struct principal p;

    memset(&p, 0xa5, sizeof(p));
    ck_assert_int_eq(principal_from_cert(NULL, TD, &p), ERR_NOTFOUND);
    ck_assert(principal_is_clear(&p));
}
END_TEST

/* The same certificate is accepted or refused by the configured trust
 * domain alone, compared without case. */
START_TEST(test_principal_from_cert_trust_domain)
{
    static const struct san s = {GEN_URI, "spiffe://Dossier.Test/auditor/c1",
                                 0};
    X509 *x = cert_with(&s, 1);
    struct principal p;

    ck_assert_int_eq(principal_from_cert(x, "dossier.test", &p), 0);
    ck_assert_int_eq(p.kind, PRINCIPAL_AUDITOR);
    ck_assert_str_eq(p.uri, "spiffe://dossier.test/auditor/c1");
    ck_assert_int_eq(principal_from_cert(x, "DOSSIER.TEST", &p), 0);
    ck_assert_int_eq(principal_from_cert(x, "other.test", &p), ERR_INVALID);
    ck_assert_int_eq(principal_from_cert(x, "dossier.test.", &p), ERR_INVALID);
    X509_free(x);
}
END_TEST

/* Logs name a person by a keyed hash, never by the id of the URI (which
 * may be the person's name); other principals by their URI. */
START_TEST(test_principal_log_name)
{
    struct principal a, b, ag;
    char ba[PRINCIPAL_LOG_MAX], bb[PRINCIPAL_LOG_MAX], bc[PRINCIPAL_LOG_MAX];
    const char *na, *na2, *nb;
    const char *ua = "spiffe://" TD "/person/jean-dupont";
    const char *ub = "spiffe://" TD "/person/marie-curie";
    const char *ug = "spiffe://" TD "/agency/caf-75";

    ck_assert_int_eq(principal_parse(ua, strlen(ua), TD, &a), 0);
    ck_assert_int_eq(principal_parse(ub, strlen(ub), TD, &b), 0);
    ck_assert_int_eq(principal_parse(ug, strlen(ug), TD, &ag), 0);
    na = principal_log_name(&a, ba);
    na2 = principal_log_name(&a, bc);
    nb = principal_log_name(&b, bb);
    ck_assert_int_eq(strlen(na), 7 + 16);
    ck_assert_int_eq(strncmp(na, "person:", 7), 0);
    ck_assert_int_eq(strspn(na + 7, "0123456789abcdef"), 16);
    ck_assert_ptr_null(strstr(na, "jean"));
    ck_assert_str_eq(na, na2);
    ck_assert_str_ne(na, nb);
    ck_assert_str_eq(principal_log_name(&ag, bc), ug);
    ck_assert_str_eq(principal_log_name(NULL, bc), "-");
}
END_TEST

Suite *
suite_principal(void)
{
    Suite *s = suite_create("principal");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_principal_kinds);
    tcase_add_loop_test(tc, test_principal_parse_valid, 0, N(parse_ok));
    tcase_add_loop_test(tc, test_principal_parse_invalid, 0, N(parse_bad));
    tcase_add_test(tc, test_principal_parse_id_length);
    tcase_add_test(tc, test_principal_parse_uri_too_long);
    tcase_add_test(tc, test_principal_parse_uri_max);
    tcase_add_test(tc, test_principal_parse_not_nul_terminated);
    tcase_add_test(tc, test_principal_log_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("cert");
    tcase_add_loop_test(tc, test_principal_from_cert, 0, N(cert_cases));
    tcase_add_test(tc, test_principal_from_cert_two_san_extensions);
    tcase_add_test(tc, test_principal_from_cert_null);
    tcase_add_test(tc, test_principal_from_cert_trust_domain);
    suite_add_tcase(s, tc);
    return s;
}
