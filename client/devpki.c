/*
 * devpki.c -- keys and X.509 certificates for dossier-admin (see devpki.h).
 *
 * Everything goes through OpenSSL 3.0's C API (EVP_PKEY, X509, X509V3);
 * nothing runs the openssl command.  Files are written the one safe way:
 * a temporary file created with O_EXCL in the target directory, the PEM
 * written and fsync'd, then a rename, then an fsync of the directory, so
 * a crash leaves either the old state or the whole new file, never half a
 * key.  Private keys are encoded in secure-heap memory BIOs that OpenSSL
 * wipes when they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "devpki.h"
#include "fsutil.h"
#include "err.h"

#define SERIAL_BYTES 16

/* --- key generation ------------------------------------------------------ */

int
devpki_key_new(EVP_PKEY **out)
{
    *out = EVP_EC_gen("P-256");
    return *out != NULL ? 0 : ERR_KEY;
}

/* --- certificate building ------------------------------------------------ */

/* A positive serial of exactly SERIAL_BYTES bytes: the top bit is cleared
 * so that it is positive, the next one set so that DER never shortens it. */
static int
cert_set_serial(X509 *x)
{
    unsigned char b[SERIAL_BYTES];
    BIGNUM *bn = NULL;
    int rc = ERR_KEY;

    if (RAND_bytes(b, sizeof(b)) != 1)
        goto fail;
    b[0] = (b[0] & 0x7f) | 0x40;
    if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
        goto fail;
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto fail;
    rc = 0;
fail:
    BN_free(bn);
    return rc;
}

/* Adds one extension written in OpenSSL's configuration syntax.  Only
 * constant strings from this file go through here: names chosen by the
 * operator go through cert_add_san, never through the config parser. */
static int
cert_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext;
    int ok;

    if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
        return ERR_KEY;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : ERR_KEY;
}

/* Appends one general name of |type| parsed from |value| to |gens|. */
static int
san_push(GENERAL_NAMES *gens, int type, const char *value)
{
    GENERAL_NAME *g;

    if ((g = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0)) == NULL)
        return type == GEN_IPADD ? ERR_INVALID : ERR_KEY;
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return -ENOMEM;
    }
    return 0;
}

/* The subjectAltName extension from the DNS names, IP addresses and URI
 * of |spec|; none at all adds nothing (the CA has no SAN). */
static int
cert_add_san(X509 *x, const struct devpki_spec *spec)
{
    GENERAL_NAMES *gens;
    int rc = 0;

    if (spec->n_dns == 0 && spec->n_ips == 0 && spec->uri == NULL)
        return 0;
    if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
        return -ENOMEM;
    for (size_t i = 0; rc == 0 && i < spec->n_dns; i++)
        rc = san_push(gens, GEN_DNS, spec->dns[i]);
    for (size_t i = 0; rc == 0 && i < spec->n_ips; i++)
        rc = san_push(gens, GEN_IPADD, spec->ips[i]);
    if (rc == 0 && spec->uri != NULL)
        rc = san_push(gens, GEN_URI, spec->uri);
    if (rc == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                                     X509V3_ADD_DEFAULT) != 1)
        rc = ERR_KEY;
    GENERAL_NAMES_free(gens);
    return rc;
}

/* basicConstraints, keyUsage, extendedKeyUsage and the key identifiers
 * for |profile|.  The subject key identifier goes first: the authority
 * key identifier of a self-signed certificate is copied from it. */
static int
cert_add_profile(X509 *x, X509V3_CTX *ctx, enum devpki_profile profile)
{
    int rc;

    if (profile == DEVPKI_CA) {
        if ((rc = cert_add_ext(x, ctx, NID_basic_constraints,
                               "critical,CA:TRUE,pathlen:0")) != 0 ||
            (rc = cert_add_ext(x, ctx, NID_key_usage,
                               "critical,keyCertSign,cRLSign")) != 0)
            return rc;
    } else {
        if ((rc = cert_add_ext(x, ctx, NID_basic_constraints,
                               "critical,CA:FALSE")) != 0 ||
            (rc = cert_add_ext(x, ctx, NID_key_usage,
                               "critical,digitalSignature")) != 0 ||
            (rc = cert_add_ext(x, ctx, NID_ext_key_usage,
                               profile == DEVPKI_SERVER ? "serverAuth"
                                                        : "clientAuth")) != 0)
            return rc;
    }
    if ((rc = cert_add_ext(x, ctx, NID_subject_key_identifier, "hash")) != 0)
        return rc;
    return cert_add_ext(x, ctx, NID_authority_key_identifier, "keyid:always");
}

/* Validity from one hour ago (clock skew between hosts) to |days| from
 * now, capped at the issuer's own notAfter. */
static int
cert_set_validity(X509 *x, int days, X509 *issuer)
{
    if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
        return ERR_KEY;
    if (issuer != NULL &&
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) >
            0 &&
        X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1)
        return ERR_KEY;
    return 0;
}

int
devpki_cert_new(const struct devpki_spec *spec, EVP_PKEY *key, X509 *issuer,
                EVP_PKEY *issuer_key, X509 **out)
{
    X509 *x = NULL;
    X509V3_CTX ctx;
    size_t cn_len;
    int rc = ERR_KEY;

    *out = NULL;
    cn_len = spec->common_name != NULL ? strlen(spec->common_name) : 0;
    if (cn_len == 0 || (issuer == NULL) != (issuer_key == NULL))
        return ERR_INVALID;
    if (cn_len > DEVPKI_CN_MAX)
        cn_len = DEVPKI_CN_MAX;
    if ((x = X509_new()) == NULL)
        return -ENOMEM;
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        (rc = cert_set_serial(x)) != 0 ||
        (rc = cert_set_validity(x, spec->days, issuer)) != 0)
        goto fail;
    rc = ERR_KEY;
    if (X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
                                   MBSTRING_UTF8,
                                   (const unsigned char *)spec->common_name,
                                   (int)cn_len, -1, 0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)) !=
            1 ||
        X509_set_pubkey(x, key) != 1)
        goto fail;

    /* The context names the issuer (itself when self-signed) so that the
     * authority key identifier can be taken from it. */
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    if (X509V3_set_issuer_pkey(&ctx, issuer_key ? issuer_key : key) != 1)
        goto fail;
    if ((rc = cert_add_profile(x, &ctx, spec->profile)) != 0 ||
        (rc = cert_add_san(x, spec)) != 0)
        goto fail;
    rc = ERR_KEY;
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        goto fail;
    *out = x;
    return 0;
fail:
    X509_free(x);
    return rc;
}

/* --- loading ------------------------------------------------------------- */

/* Refuses to prompt for a passphrase: encrypted keys are not supported. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

int
devpki_key_load(const char *path, EVP_PKEY **out)
{
    struct stat st;
    BIO *bio = NULL;
    int fd, rc;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return errno == ELOOP ? ERR_DENIED : -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = ERR_DENIED;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
        goto fail;
    rc = -ENOMEM;
    if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL)
        goto fail;
    fd = -1; /* the BIO owns it now */
    rc = ERR_KEY;
    if ((*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) ==
        NULL)
        goto fail;
    rc = 0;
fail:
    BIO_free(bio);
    if (fd >= 0)
        close(fd);
    return rc;
}

int
devpki_cert_load(const char *path, X509 **out)
{
    BIO *bio;
    int fd;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return *out != NULL ? 0 : ERR_KEY;
}

/* --- atomic PEM files ---------------------------------------------------- */

/* Encodes an object into |bio|; returns 1 on success like OpenSSL. */
typedef int pem_encode_fn(BIO *bio, const void *obj);

static int
encode_key(BIO *bio, const void *obj)
{
    return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)obj, NULL, NULL, 0, NULL,
                                    NULL);
}

static int
encode_cert(BIO *bio, const void *obj)
{
    return PEM_write_bio_X509(bio, (X509 *)obj);
}

static int
encode_text(BIO *bio, const void *obj)
{
    const char *s = obj;

    return BIO_write(bio, s, (int)strlen(s)) == (int)strlen(s);
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}
/* Moves |tmp| to |path|.  Without |replace| the move fails with EEXIST
 * when |path| exists, atomically: renameat2(RENAME_NOREPLACE), or link
 * then unlink on file systems that lack it. */
static int
move_into_place(const char *tmp, const char *path, bool replace)
{
    if (replace)
        return rename(tmp, path) == 0 ? 0 : -errno;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    if (link(tmp, path) != 0)
        return -errno;
    (void)unlink(tmp);
    return 0;
}

/*
 * Writes |obj| encoded by |encode| to |path| with exactly |mode| (umask
 * aside), through a temporary file in the same directory.  |secret| keeps
 * the encoding in secure memory, wiped when freed.
 */
static int
file_write_atomic(const char *path, mode_t mode, bool replace, bool secret,
                  pem_encode_fn *encode, const void *obj)
{
    char dir[4096], tmp[4096 + 64];
    const char *base, *slash;
    unsigned char rnd[4];
    BIO *mem = NULL;
    char *data;
    long len;
    int fd = -1, rc;

    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if ((size_t)(slash - path) >= sizeof(dir))
        return -ENAMETOOLONG;
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (*base == '\0')
        return -EISDIR;

    rc = -ENOMEM;
    if ((mem = BIO_new(secret ? BIO_s_secmem() : BIO_s_mem())) == NULL)
        goto fail;
    rc = ERR_KEY;
    if (encode(mem, obj) != 1)
        goto fail;
    len = BIO_get_mem_data(mem, &data);

    /* A fresh random name each try: O_EXCL never follows or reuses a file
     * someone else put there. */
    for (int tries = 0; fd < 0; tries++) {
        rc = ERR_KEY;
        if (tries == 8 || RAND_bytes(rnd, sizeof(rnd)) != 1)
            goto fail;
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%02x%02x%02x%02x",
                             dir, base, rnd[0], rnd[1], rnd[2],
                             rnd[3]) >= sizeof(tmp)) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  mode & 0600);
        if (fd < 0 && errno != EEXIST) {
            rc = -errno;
            goto fail;
        }
    }
    /* fchmod: the mode must not depend on the caller's umask. */
    if (fchmod(fd, mode) != 0) {
        rc = -errno;
        goto fail_tmp;
    }
    if ((rc = write_all(fd, data, (size_t)len)) != 0)
        goto fail_tmp;
    if (fsync(fd) != 0) {
        rc = -errno;
        goto fail_tmp;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = -errno;
        goto fail_tmp;
    }
    fd = -1;
    if ((rc = move_into_place(tmp, path, replace)) != 0) {
        if (rc == -EEXIST)
            rc = ERR_EXISTS;
        goto fail_tmp;
    }
    rc = fsutil_sync_dir(dir);
    BIO_free(mem);
    return rc;
fail_tmp:
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
fail:
    BIO_free(mem);
    return rc;
}

int
devpki_key_save(const char *path, EVP_PKEY *key)
{
    return file_write_atomic(path, 0600, false, true, encode_key, key);
}

int
devpki_cert_save(const char *path, X509 *cert)
{
    return file_write_atomic(path, 0644, true, false, encode_cert, cert);
}

int
devpki_text_save(const char *path, const char *text)
{
    return file_write_atomic(path, 0644, true, false, encode_text, text);
}
