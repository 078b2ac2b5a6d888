/*
 * devpki.h -- keys and X.509 certificates for dossier-admin.
 *
 * Makes EC P-256 keys and the three kinds of certificate the project uses
 * (a CA, a TLS server, a TLS client named by its SPIFFE URI), loads them
 * back, and stores them in PEM files that appear atomically with the right
 * mode: private keys 0600 and never replaced, certificates 0644.
 *
 * It knows nothing of principals, trust domains or the command line: the
 * caller validates names and says what goes in each certificate.  It never
 * prints; every call returns a code and the caller words the message.
 * Private keys are written unencrypted (the daemon reads them at start-up
 * without a passphrase); their protection is the file mode.
 */
#ifndef DOSSIER_DEVPKI_H
#define DOSSIER_DEVPKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Longest common name put in a subject (RFC 5280 ub-common-name). */
#define DEVPKI_CN_MAX 64

enum devpki_profile {
    DEVPKI_CA,     /* CA:TRUE critical, keyCertSign and cRLSign */
    DEVPKI_SERVER, /* CA:FALSE, digitalSignature, EKU serverAuth */
    DEVPKI_CLIENT, /* CA:FALSE, digitalSignature, EKU clientAuth */
};

/* What goes in one certificate.  Nothing here is copied beyond the call. */
struct devpki_spec {
    enum devpki_profile profile;
    const char *common_name; /* cut to DEVPKI_CN_MAX bytes (ASCII) */
    int days;                /* valid from now - 1 h to now + days */
    const char *const *dns;  /* subjectAltName DNS names */
    size_t n_dns;
    const char *const *ips; /* subjectAltName IPv4/IPv6 addresses */
    size_t n_ips;
    const char *uri; /* subjectAltName URI, or NULL */
};

/*
 * Generates a new EC P-256 key into |*out|, which the caller frees with
 * EVP_PKEY_free().  Returns 0 or ERR_KEY (the OpenSSL error queue says
 * why).
 */
int devpki_key_new(EVP_PKEY **out);

/*
 * Builds and signs (ECDSA with SHA-256) a version 3 certificate for the
 * public half of |key| as |spec| describes, into |*out|, which the caller
 * frees with X509_free().  |issuer| and |issuer_key| sign it; both NULL
 * make it self-signed by |key|.  The serial number is 16 random bytes
 * (positive); subject and authority key identifiers are set.  The
 * certificate never outlives its issuer: notAfter is capped at the
 * issuer's.  Returns 0, ERR_INVALID (bad IP address or empty common
 * name), ERR_KEY (OpenSSL failed; see its error queue) or -ENOMEM.
 */
int devpki_cert_new(const struct devpki_spec *spec, EVP_PKEY *key, X509 *issuer,
                    EVP_PKEY *issuer_key, X509 **out);

/*
 * Loads the PEM private key at |path| into |*out| (caller frees).  The
 * file must be a regular file with no group or other permission bits, as
 * the daemon requires; an encrypted key is refused, never prompted for.
 * Returns 0, ERR_DENIED (mode too open, or not a regular file), ERR_KEY
 * (no usable key in the file) or a negative errno from open(2).
 */
int devpki_key_load(const char *path, EVP_PKEY **out);

/*
 * Loads the first PEM certificate at |path| into |*out| (caller frees).
 * Returns 0, ERR_KEY (no certificate in the file) or a negative errno.
 */
int devpki_cert_load(const char *path, X509 **out);

/*
 * Writes |key| (PKCS#8 PEM, unencrypted) to |path|, mode 0600.  The file
 * is written under a temporary name in the same directory, synced, then
 * renamed into place only if |path| does not exist yet.  Returns 0,
 * ERR_EXISTS (|path| exists and is left as it was), ERR_KEY or a negative
 * errno; on failure no temporary file is left behind.
 */
int devpki_key_save(const char *path, EVP_PKEY *key);

/*
 * Writes |cert| (PEM) to |path|, mode 0644, atomically as above; an
 * existing certificate is replaced.  Returns 0, ERR_KEY or a negative
 * errno.
 */
int devpki_cert_save(const char *path, X509 *cert);

/*
 * Writes the NUL-terminated |text| to |path|, mode 0644, atomically; an
 * existing file is replaced.  Returns 0 or a negative errno.
 */
int devpki_text_save(const char *path, const char *text);

#endif
