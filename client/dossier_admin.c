/*
 * dossier_admin.c -- dossier-admin, the operator's tool.
 *
 * Reads the command line, checks every name the operator gives (principal
 * kinds and ids, trust domain, host names, addresses) and drives devpki.c,
 * which makes the keys and certificates: a development PKI for `make run`
 * and the tests (init-dev), one more principal certificate (issue), a
 * server certificate for another host (issue-server).  The operator's
 * other jobs have a file each: the registry of principals and revocation
 * (admin_registry.c), hot backups, their verification and restore
 * (admin_backup.c), the status of keys and stores (admin_status.c).
 *
 * It never prints key material, never overwrites a private key, and says
 * each error once, in English and French, where it is found; commands
 * return 0 or a negative code and main turns that into the exit status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "admin_backup.h"
#include "admin_registry.h"
#include "admin_say.h"
#include "admin_status.h"
#include "devpki.h"
#include "err.h"
#include "keyring.h"
#include "log.h"
#include "store.h"

#define PROG "dossier-admin"
#define DEFAULT_TRUST_DOMAIN "dossier.test"
#define DEFAULT_DAYS 825
#define MAX_DAYS 3650
#define ID_MAX 127           /* as principal.h: 1..127 characters */
#define TRUST_DOMAIN_MAX 127 /* fits server_config.trust_domain */
#define URI_MAX 255          /* fits PRINCIPAL_URI_MAX with its NUL */
#define MAX_IPS 16

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *const kinds[] = {"person", "agency", "delegate", "auditor",
                                    "admin"};

/* The principals of the demonstration data.  An agency id starts with its
 * kind of agency (caf-, cpam-) so that a consent can name all of a kind. */
static const struct {
    const char *kind, *id;
} demo_principals[] = {
    {"person", "demo"},       {"agency", "caf-75"},
    {"agency", "cpam-69"},    {"delegate", "france-services-demo"},
    {"auditor", "cnil-demo"}, {"admin", "ops"},
};

static const char usage_text[] =
    "usage: " PROG " COMMAND [OPTIONS]\n"
    "utilisation : " PROG " COMMANDE [OPTIONS]\n"
    "\n"
    "  init-dev --dir DIR [--trust-domain DOMAIN] [--days N]\n"
    "      Make a development CA, a server certificate for localhost and one\n"
    "      client certificate per demo principal in DIR; does nothing if\n"
    "      DIR/ca.crt exists.\n"
    "      Crée une AC de développement, un certificat serveur pour localhost\n"
    "      et un certificat client par principal de démonstration dans DIR ;\n"
    "      ne fait rien si DIR/ca.crt existe.\n"
    "\n"
    "      It also makes the data keys master-1.key and pepper.key, and the\n"
    "      audit signing key audit.key (Ed25519) with its public half\n"
    "      audit.pub for auditors, when missing. / Crée aussi les clés de\n"
    "      données master-1.key et pepper.key, et la clé de signature du\n"
    "      journal d'audit audit.key (Ed25519) avec sa moitié publique\n"
    "      audit.pub pour les auditeurs, si elles manquent.\n"
    "\n"
    "  keygen-master --dir DIR\n"
    "      Make the next master key (master-N.key); SIGHUP makes dossierd\n"
    "      re-wrap every data key under it, online.\n"
    "      Crée la clé maîtresse suivante ; SIGHUP fait rechiffrer par\n"
    "      dossierd toutes les clés de données avec elle, sans arrêt.\n"
    "\n"
    "  issue --dir DIR --kind KIND --id ID [--trust-domain DOMAIN] [--days N]\n"
    "        [--out-dir OUT]\n"
    "      Issue OUT/KIND-ID.crt and .key for spiffe://DOMAIN/KIND/ID, signed\n"
    "      by DIR/ca.key.  KIND: person, agency, delegate, auditor, admin;\n"
    "      ID: 1 to 127 characters among A-Z a-z 0-9 . _ -\n"
    "      Émet OUT/KIND-ID.crt et .key pour spiffe://DOMAINE/KIND/ID, signés\n"
    "      par DIR/ca.key.\n"
    "\n"
    "  issue-server --dir DIR --name HOST [--ip ADDR]... [--days N]\n"
    "        [--out-dir OUT]\n"
    "      Issue OUT/server-HOST.crt and .key for the host name HOST (and\n"
    "      each address ADDR), signed by DIR/ca.key.\n"
    "      Émet OUT/server-HOST.crt et .key pour le nom d'hôte HOST (et\n"
    "      chaque adresse ADDR), signés par DIR/ca.key.\n"
    "\n"
    "  init --dir DIR --data DATA [--keystore KS]\n"
    "      Make the data and audit keys of DIR that are missing and create\n"
    "      the empty data store DATA and data-key store KS (default\n"
    "      DIR/keystore).  Crée les clés manquantes et les bases vides.\n"
    "\n"
    "  register --dir DIR --kind KIND --id ID [--cert FILE] [--days N]\n"
    "        [--out-dir OUT] [--trust-domain DOMAIN]\n"
    "      Register a principal (agency, delegate = aidant, auditor, admin,\n"
    "      person) in DIR/principals: with --cert, the certificate of an\n"
    "      external CA (it must name spiffe://DOMAIN/KIND/ID and verify\n"
    "      against DIR/ca.crt); without, one issued as by issue.\n"
    "      Enregistre un principal : certificat d'une AC externe avec\n"
    "      --cert, sinon émis par l'AC de DIR.\n"
    "\n"
    "  list --dir DIR [--kind KIND]\n"
    "      List the registered principals and their state.  Liste les\n"
    "      principaux enregistrés et leur état.\n"
    "\n"
    "  revoke --dir DIR --kind KIND --id ID [--trust-domain D] [--pid PID]\n"
    "      Add the principal to DIR/revoked-principals (refused on every\n"
    "      request once dossierd reloads: SIGHUP, sent to PID if given).\n"
    "      Révoque le principal (refusé à chaque requête après SIGHUP).\n"
    "\n"
    "  rotate-master --dir DIR [--pid PID]\n"
    "      keygen-master, then SIGHUP to PID (or says to send it): dossierd\n"
    "      re-wraps every data key online.  Rotation de la clé maîtresse.\n"
    "\n"
    "  backup --dir DIR --data DATA [--keystore KS] --backup OUT\n"
    "      Hot backup while dossierd serves: consistent copies of the data\n"
    "      store and the data-key store, the audit checkpoint, and a\n"
    "      manifest (sizes, SHA-256, audit tree size and root) signed with\n"
    "      DIR/audit.key.  Sauvegarde à chaud avec manifeste signé.\n"
    "\n"
    "  verify-backup --dir DIR --backup OUT\n"
    "      Check the signature, the hashes, the audit log (root, every\n"
    "      hash) and that every document decrypts with DIR's master keys.\n"
    "      Vérifie une sauvegarde.\n"
    "\n"
    "  restore --dir DIR --backup OUT --data NEWDATA --keystore NEWKS\n"
    "      Verify, refuse a backup whose audit log does not extend\n"
    "      DIR/audit-checkpoint, then copy the stores to new paths.\n"
    "      Vérifie puis restaure ; refuse une sauvegarde dont le journal ne\n"
    "      prolonge pas le dernier point de contrôle.\n"
    "\n"
    "  status --dir DIR [--data DATA] [--keystore KS]\n"
    "      Keys (ids, ages, modes, expiry) and stores (size, map use,\n"
    "      entries).  État des clés et des bases.\n"
    "\n"
    "Defaults / valeurs par défaut : --trust-domain dossier.test for "
    "init-dev,\n"
    "the content of DIR/trust-domain for issue; --days 825; --out-dir DIR.\n"
    "Keys are written mode 0600 and never overwritten.\n"
    "Les clés sont écrites en mode 0600 et ne sont jamais écrasées.\n"
    "Exit status / code de sortie : 0 success / succès, 1 failure / échec,\n"
    "2 usage error / erreur d'utilisation.\n";

/* --- messages ------------------------------------------------------------ */

/* One error line on stderr (admin_say.h): the English sentence, " / ",
 * then the French one, with positional arguments (%1$s) used in both. */
#define complain admin_complain

/* " (OpenSSL: reason)" for the last queued OpenSSL error, or "", and
 * empties the queue.  Static storage: use before the next call. */
static const char *
ssl_reason(void)
{
    static char s[300];
    unsigned long e = ERR_peek_last_error();

    s[0] = '\0';
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);

        snprintf(s, sizeof(s), " (OpenSSL: %s)", r ? r : "unknown error");
    }
    ERR_clear_error();
    return s;
}

/* Says why |path| could not be read or (|writing|) written; |rc| comes
 * from devpki.h or an errno. */
static void
complain_file(const char *path, int rc, bool writing)
{
    if (rc == ERR_EXISTS)
        complain("%1$s already exists; refusing to overwrite it / "
                 "%1$s existe déjà ; refus de l'écraser",
                 path);
    else if (rc == ERR_DENIED)
        complain("%1$s is readable by group or others or is not a regular "
                 "file; run chmod 600 %1$s / %1$s est lisible par le groupe "
                 "ou les autres, ou n'est pas un fichier ordinaire ; "
                 "faites chmod 600 %1$s",
                 path);
    else if (rc == ERR_KEY && !writing)
        complain("%1$s holds no usable PEM key or certificate%2$s / "
                 "%1$s ne contient ni clé ni certificat PEM utilisable",
                 path, ssl_reason());
    else if (writing)
        complain("cannot write %1$s: %2$s%3$s / impossible d'écrire %1$s", path,
                 err_str(rc), ssl_reason());
    else
        complain("cannot read %1$s: %2$s / impossible de lire %1$s", path,
                 err_str(rc));
}

/* Formats a path into |out| (PATH_MAX bytes).  Returns 0 or
 * -ENAMETOOLONG, said. */
static int path_fmt(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) {
        complain("path too long under the given directory / "
                 "chemin trop long sous le répertoire donné");
        return -ENAMETOOLONG;
    }
    return 0;
}

/* --- names the operator gives --------------------------------------------- */

static bool
kind_valid(const char *s)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(s, kinds[i]) == 0)
            return true;
    return false;
}

/* A principal id, as principal.h accepts it; "." and ".." are refused
 * too, since SPIFFE forbids them as path segments. */
static bool
id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ID_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == n;
}

/* A SPIFFE trust domain: lower-case letters, digits, '.', '_', '-'. */
static bool
trust_domain_valid(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= TRUST_DOMAIN_MAX && s[0] != '.' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* A DNS host name: dot-separated labels of 1..63 letters, digits and
 * inner hyphens, 253 characters at most.  No wildcards. */
static bool
host_valid(const char *s)
{
    size_t n = strlen(s), label = 0;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

static bool
ip_valid(const char *s)
{
    unsigned char b[16];

    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Reads the one-line DIR/trust-domain into |out| (TRUST_DOMAIN_MAX + 1
 * bytes).  Returns 0, or ERR_CONFIG / a negative errno, said. */
static int
trust_domain_read(const char *dir, char *out)
{
    char path[PATH_MAX], line[TRUST_DOMAIN_MAX + 3];
    FILE *f;
    int rc;

    if ((rc = path_fmt(path, "%s/trust-domain", dir)) != 0)
        return rc;
    if ((f = fopen(path, "re")) == NULL) {
        rc = -errno;
        complain("cannot read %1$s: %2$s; pass --trust-domain / "
                 "impossible de lire %1$s ; indiquez --trust-domain",
                 path, err_str(rc));
        return rc;
    }
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!trust_domain_valid(line)) {
        complain("%1$s does not hold a valid trust domain / "
                 "%1$s ne contient pas de domaine de confiance valide",
                 path);
        return ERR_CONFIG;
    }
    memcpy(out, line, strlen(line) + 1);
    return 0;
}

/* --- files and directories ------------------------------------------------ */

/* Creates |dir| (mode 0700) and its missing parents (0755), like
 * mkdir -p.  An existing directory is left as it is.  Returns 0 or a
 * negative errno, said. */
static int
dir_make(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    int rc;

    if ((rc = path_fmt(p, "%s", dir)) != 0)
        return rc;
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            goto fail;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        goto fail;
    if (stat(p, &st) != 0)
        goto fail;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        goto fail;
    }
    return 0;
fail:
    rc = -errno;
    complain("cannot create the directory %1$s: %2$s / "
             "impossible de créer le répertoire %1$s",
             p, err_str(rc));
    return rc;
}

/* Returns 0 if nothing is at |path|, 1 if something is, or a negative
 * errno (said). */
static int
path_exists(const char *path)
{
    struct stat st;
    int rc;

    if (lstat(path, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    rc = -errno;
    complain_file(path, rc, false);
    return rc;
}

/* Refuses, with a message, if <dir>/<stem>.key or .crt exists already. */
static int
leaf_absent(const char *dir, const char *stem)
{
    static const char *const exts[] = {"key", "crt"};
    char path[PATH_MAX];
    int rc;

    for (size_t i = 0; i < 2; i++) {
        if ((rc = path_fmt(path, "%s/%s.%s", dir, stem, exts[i])) != 0 ||
            (rc = path_exists(path)) < 0)
            return rc;
        if (rc == 1) {
            complain_file(path, ERR_EXISTS, true);
            return ERR_EXISTS;
        }
    }
    return 0;
}

/* --- certificates ----------------------------------------------------------
 */

/* The names that go with one principal. */
struct principal_names {
    char uri[URI_MAX + 1];  /* spiffe://<trust-domain>/<kind>/<id> */
    char cn[ID_MAX + 16];   /* <kind>/<id> */
    char stem[ID_MAX + 16]; /* <kind>-<id>, the file name */
};

static int
principal_names_make(struct principal_names *pn, const char *trust_domain,
                     const char *kind, const char *id)
{
    int n = snprintf(pn->uri, sizeof(pn->uri), "spiffe://%s/%s/%s",
                     trust_domain, kind, id);

    if (n < 0 || (size_t)n >= sizeof(pn->uri)) {
        complain("spiffe://%1$s/%2$s/%3$s is longer than %4$d characters / "
                 "spiffe://%1$s/%2$s/%3$s dépasse %4$d caractères",
                 trust_domain, kind, id, URI_MAX);
        return ERR_INVALID;
    }
    snprintf(pn->cn, sizeof(pn->cn), "%s/%s", kind, id);
    snprintf(pn->stem, sizeof(pn->stem), "%s-%s", kind, id);
    return 0;
}

/*
 * Makes a key and a certificate as |spec| says, signed by |ca|/|ca_key|,
 * and writes <dir>/<stem>.key then <dir>/<stem>.crt.  If the certificate
 * cannot be written, the key just written is removed again so that a new
 * attempt is not refused.  Prints one line naming the certificate.
 */
static int
leaf_make(const char *dir, const char *stem, const struct devpki_spec *spec,
          X509 *ca, EVP_PKEY *ca_key)
{
    char kpath[PATH_MAX], cpath[PATH_MAX], until[32];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    struct tm tm;
    int rc;

    if ((rc = path_fmt(kpath, "%s/%s.key", dir, stem)) != 0 ||
        (rc = path_fmt(cpath, "%s/%s.crt", dir, stem)) != 0)
        return rc;
    if ((rc = devpki_key_new(&key)) != 0) {
        complain("cannot generate a key%1$s / impossible de générer une clé",
                 ssl_reason());
        goto fail;
    }
    if ((rc = devpki_cert_new(spec, key, ca, ca_key, &cert)) != 0) {
        complain("cannot make the certificate %1$s: %2$s%3$s / "
                 "impossible de créer le certificat %1$s",
                 cpath, err_str(rc), ssl_reason());
        goto fail;
    }
    if ((rc = devpki_key_save(kpath, key)) != 0) {
        complain_file(kpath, rc, true);
        goto fail;
    }
    if ((rc = devpki_cert_save(cpath, cert)) != 0) {
        complain_file(cpath, rc, true);
        (void)unlink(kpath);
        goto fail;
    }
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1 ||
        strftime(until, sizeof(until), "%Y-%m-%d", &tm) == 0)
        snprintf(until, sizeof(until), "?");
    printf("  %s  %s  (until / jusqu'au %s)\n", cpath,
           spec->uri ? spec->uri : spec->common_name, until);
fail:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* A client certificate for the principal |kind|/|id|, in |dir|. */
static int
principal_make(const char *dir, const char *trust_domain, const char *kind,
               const char *id, int days, X509 *ca, EVP_PKEY *ca_key)
{
    struct principal_names pn;
    struct devpki_spec spec = {.profile = DEVPKI_CLIENT, .days = days};
    int rc;

    if ((rc = principal_names_make(&pn, trust_domain, kind, id)) != 0)
        return rc;
    spec.common_name = pn.cn;
    spec.uri = pn.uri;
    return leaf_make(dir, pn.stem, &spec, ca, ca_key);
}

/* Loads DIR/ca.crt and DIR/ca.key and checks that they belong together
 * and make a CA.  The caller frees both. */
static int
ca_load(const char *dir, X509 **ca, EVP_PKEY **ca_key)
{
    char cpath[PATH_MAX], kpath[PATH_MAX];
    int rc;

    *ca = NULL;
    *ca_key = NULL;
    if ((rc = path_fmt(cpath, "%s/ca.crt", dir)) != 0 ||
        (rc = path_fmt(kpath, "%s/ca.key", dir)) != 0)
        return rc;
    if ((rc = devpki_cert_load(cpath, ca)) != 0) {
        complain_file(cpath, rc, false);
        goto fail;
    }
    if ((rc = devpki_key_load(kpath, ca_key)) != 0) {
        complain_file(kpath, rc, false);
        goto fail;
    }
    rc = ERR_KEY;
    if (X509_check_ca(*ca) < 1) {
        complain("%1$s is not a CA certificate / "
                 "%1$s n'est pas un certificat d'AC",
                 cpath);
        goto fail;
    }
    if (X509_check_private_key(*ca, *ca_key) != 1) {
        complain("%1$s does not match %2$s / %1$s ne correspond pas à %2$s",
                 kpath, cpath);
        goto fail;
    }
    return 0;
fail:
    ERR_clear_error();
    X509_free(*ca);
    EVP_PKEY_free(*ca_key);
    *ca = NULL;
    *ca_key = NULL;
    return rc;
}

/* --- commands ----------------------------------------------------------------
 */

struct opts {
    const char *dir, *trust_domain, *kind, *id, *out_dir, *name;
    const char *data, *keystore, *backup, *cert;
    long pid; /* --pid: the dossierd to send SIGHUP, 0 if not given */
    const char *ips[MAX_IPS];
    size_t n_ips;
    int days;
    unsigned seen; /* 1 << (option value - 1) for each option given */
};

/* Before anything is written, every file of the set must be missing:
 * DIR/ca.crt is written last, so a run that stopped half-way leaves a set
 * without it, which this refuses instead of mixing two CAs. */
static int
init_dev_check_absent(const char *dir)
{
    static const char *const single[] = {"ca.key", "trust-domain", "server.key",
                                         "server.crt"};
    const size_t n_single = sizeof(single) / sizeof(single[0]);
    const size_t n_demo = sizeof(demo_principals) / sizeof(demo_principals[0]);
    char path[PATH_MAX];
    int rc;

    for (size_t i = 0; i < n_single + 2 * n_demo; i++) {
        if (i < n_single)
            rc = path_fmt(path, "%s/%s", dir, single[i]);
        else
            rc = path_fmt(path, "%s/%s-%s.%s", dir,
                          demo_principals[(i - n_single) / 2].kind,
                          demo_principals[(i - n_single) / 2].id,
                          (i - n_single) % 2 ? "crt" : "key");
        if (rc != 0 || (rc = path_exists(path)) < 0)
            return rc;
        if (rc == 1) {
            complain("%1$s exists but %2$s/ca.crt does not: remove the "
                     "partial key set in %2$s and run init-dev again / "
                     "%1$s existe mais pas %2$s/ca.crt : supprimez le jeu "
                     "de clés incomplet de %2$s et relancez init-dev",
                     path, dir);
            return ERR_EXISTS;
        }
    }
    return 0;
}

/*
 * Makes DIR/audit.key, the Ed25519 key that signs the audit log's
 * checkpoints (PKCS#8 PEM, mode 0600, written atomically and never over an
 * existing file), if missing, and DIR/audit.pub, its public key in PEM for
 * the auditors who verify checkpoints, if missing (from the existing key
 * when there is one).  A key that is there is never replaced: checkpoints
 * already handed out are signed with it.
 */
static int
audit_keys_make(const char *dir)
{
    char key_path[PATH_MAX], pub_path[PATH_MAX];
    EVP_PKEY *key = NULL;
    BIO *mem = NULL;
    char *pem;
    int rc, have_key, have_pub;

    if ((rc = path_fmt(key_path, "%s/audit.key", dir)) != 0 ||
        (rc = path_fmt(pub_path, "%s/audit.pub", dir)) != 0)
        return rc;
    if ((have_key = path_exists(key_path)) < 0)
        return have_key;
    if ((have_pub = path_exists(pub_path)) < 0)
        return have_pub;
    if (have_key && have_pub)
        return 0;
    if (have_key) {
        if ((rc = devpki_key_load(key_path, &key)) != 0) {
            complain_file(key_path, rc, false);
            return rc;
        }
    } else {
        if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
            complain("cannot make the audit key%1$s / impossible de créer "
                     "la clé d'audit",
                     ssl_reason());
            return ERR_KEY;
        }
        if ((rc = devpki_key_save(key_path, key)) != 0) {
            complain_file(key_path, rc, true);
            goto fail;
        }
        printf("  %s\n", key_path);
    }
    /* The public key as NUL-terminated PEM text. */
    rc = ERR_KEY;
    if ((mem = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_PUBKEY(mem, key) != 1 || BIO_write(mem, "", 1) != 1 ||
        BIO_get_mem_data(mem, &pem) <= 0) {
        complain("cannot write the audit public key%1$s / impossible "
                 "d'écrire la clé publique d'audit",
                 ssl_reason());
        goto fail;
    }
    if ((rc = devpki_text_save(pub_path, pem)) != 0) {
        complain_file(pub_path, rc, true);
        goto fail;
    }
    printf("  %s\n", pub_path);
fail:
    BIO_free(mem);
    EVP_PKEY_free(key);
    return rc;
}

/*
 * Makes the data keys of DIR that are missing: master-1.key (wraps every
 * person's data key), pepper.key (keys the NIR look-up hash), and the
 * audit signing key (audit_keys_make).  Existing keys are never touched:
 * replacing one would make the dossiers that depend on it unreadable.
 */
static int
data_keys_make(const char *dir)
{
    static const char *const names[] = {"master-1.key", "pepper.key"};
    char path[PATH_MAX];
    int rc;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((rc = path_fmt(path, "%s/%s", dir, names[i])) != 0 ||
            (rc = path_exists(path)) < 0)
            return rc;
        if (rc == 1)
            continue;
        if ((rc = keyring_generate_file(path)) != 0) {
            complain_file(path, rc, true);
            return rc;
        }
        printf("  %s\n", path);
    }
    return audit_keys_make(dir);
}

/* keygen-master: the next master key, for an online rotation. */
static int
cmd_keygen_master(const struct opts *o)
{
    struct keyring *kr = NULL;
    char path[PATH_MAX];
    uint32_t next;
    int rc;

    if ((rc = keyring_load(o->dir, &kr)) != 0) {
        complain("cannot load the keys of %1$s / impossible de charger les "
                 "clés de %1$s",
                 o->dir);
        return rc;
    }
    next = keyring_master_current_id(kr) + 1;
    keyring_free(kr);
    if ((rc = path_fmt(path, "%s/master-%u.key", o->dir, next)) != 0)
        return rc;
    if ((rc = keyring_generate_file(path)) != 0) {
        complain_file(path, rc, true);
        return rc;
    }
    printf(PROG ": new master key %1$s; send SIGHUP to dossierd to re-wrap "
                "every data key under it / nouvelle clé maîtresse %1$s ; "
                "envoyez SIGHUP à dossierd pour rechiffrer toutes les clés "
                "de données avec elle\n",
           path);
    return 0;
}

static int
cmd_init_dev(const struct opts *o)
{
    static const char *const dns[] = {"localhost"};
    static const char *const ips[] = {"127.0.0.1", "::1"};
    const char *td = o->trust_domain ? o->trust_domain : DEFAULT_TRUST_DOMAIN;
    struct devpki_spec ca_spec = {.profile = DEVPKI_CA,
                                  .common_name = "dossierd development CA",
                                  .days = o->days};
    struct devpki_spec server_spec = {.profile = DEVPKI_SERVER,
                                      .common_name = "localhost",
                                      .days = o->days,
                                      .dns = dns,
                                      .n_dns = 1,
                                      .ips = ips,
                                      .n_ips = 2};
    char ca_crt[PATH_MAX], ca_key_path[PATH_MAX], td_path[PATH_MAX];
    char td_line[TRUST_DOMAIN_MAX + 2];
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL;
    int rc;

    if ((rc = dir_make(o->dir)) != 0 ||
        (rc = path_fmt(ca_crt, "%s/ca.crt", o->dir)) != 0 ||
        (rc = path_fmt(ca_key_path, "%s/ca.key", o->dir)) != 0 ||
        (rc = path_fmt(td_path, "%s/trust-domain", o->dir)) != 0 ||
        (rc = path_exists(ca_crt)) < 0)
        return rc;
    if (rc == 1) {
        printf(PROG ": %1$s already exists, nothing to do / "
                    "%1$s existe déjà, rien à faire\n",
               ca_crt);
        return data_keys_make(o->dir);
    }
    if ((rc = init_dev_check_absent(o->dir)) != 0)
        return rc;

    printf(PROG ": making development keys in %1$s for %2$s / "
                "création des clés de développement dans %1$s pour %2$s\n",
           o->dir, td);
    if ((rc = devpki_key_new(&ca_key)) != 0 ||
        (rc = devpki_cert_new(&ca_spec, ca_key, NULL, NULL, &ca)) != 0) {
        complain("cannot make the development CA%1$s / "
                 "impossible de créer l'AC de développement",
                 ssl_reason());
        goto fail;
    }
    if ((rc = devpki_key_save(ca_key_path, ca_key)) != 0) {
        complain_file(ca_key_path, rc, true);
        goto fail;
    }
    if ((rc = leaf_make(o->dir, "server", &server_spec, ca, ca_key)) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof(demo_principals) / sizeof(demo_principals[0]);
         i++)
        if ((rc = principal_make(o->dir, td, demo_principals[i].kind,
                                 demo_principals[i].id, o->days, ca, ca_key)) !=
            0)
            goto fail;
    snprintf(td_line, sizeof(td_line), "%s\n", td);
    if ((rc = devpki_text_save(td_path, td_line)) != 0) {
        complain_file(td_path, rc, true);
        goto fail;
    }
    /* Last: its presence means the whole set is there (see above). */
    if ((rc = devpki_cert_save(ca_crt, ca)) != 0) {
        complain_file(ca_crt, rc, true);
        goto fail;
    }
    printf("  %s  %s\n", ca_crt, ca_spec.common_name);
    rc = data_keys_make(o->dir);
fail:
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

static int
cmd_issue(const struct opts *o)
{
    const char *out = o->out_dir ? o->out_dir : o->dir;
    char td[TRUST_DOMAIN_MAX + 1];
    struct principal_names pn;
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL;
    int rc;

    if (o->trust_domain != NULL)
        snprintf(td, sizeof(td), "%s", o->trust_domain);
    else if ((rc = trust_domain_read(o->dir, td)) != 0)
        return rc;
    if ((rc = principal_names_make(&pn, td, o->kind, o->id)) != 0 ||
        (rc = ca_load(o->dir, &ca, &ca_key)) != 0)
        return rc;
    if ((rc = dir_make(out)) != 0 || (rc = leaf_absent(out, pn.stem)) != 0)
        goto fail;
    rc = principal_make(out, td, o->kind, o->id, o->days, ca, ca_key);
fail:
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

static int
cmd_issue_server(const struct opts *o)
{
    const char *out = o->out_dir ? o->out_dir : o->dir;
    struct devpki_spec spec = {.profile = DEVPKI_SERVER,
                               .common_name = o->name,
                               .days = o->days,
                               .dns = &o->name,
                               .n_dns = 1,
                               .ips = o->ips,
                               .n_ips = o->n_ips};
    char stem[300];
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL;
    int rc;

    snprintf(stem, sizeof(stem), "server-%s", o->name);
    if ((rc = ca_load(o->dir, &ca, &ca_key)) != 0)
        return rc;
    if ((rc = dir_make(out)) != 0 || (rc = leaf_absent(out, stem)) != 0)
        goto fail;
    rc = leaf_make(out, stem, &spec, ca, ca_key);
fail:
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

/* --- command line -------------------------------------------------------- */

/* Option values are 1..8 so that bit (value - 1) of opts.seen marks each
 * one; long_opts[value - 1] is its name. */
enum {
    OPT_DIR = 1,
    OPT_TRUST_DOMAIN,
    OPT_DAYS,
    OPT_KIND,
    OPT_ID,
    OPT_OUT_DIR,
    OPT_NAME,
    OPT_IP,
    OPT_DATA,
    OPT_KEYSTORE,
    OPT_BACKUP,
    OPT_CERT,
    OPT_PID,
    OPT_HELP,
};
#define BIT(v) (1u << ((v)-1))

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"trust-domain", required_argument, NULL, OPT_TRUST_DOMAIN},
    {"days", required_argument, NULL, OPT_DAYS},
    {"kind", required_argument, NULL, OPT_KIND},
    {"id", required_argument, NULL, OPT_ID},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"name", required_argument, NULL, OPT_NAME},
    {"ip", required_argument, NULL, OPT_IP},
    {"data", required_argument, NULL, OPT_DATA},
    {"keystore", required_argument, NULL, OPT_KEYSTORE},
    {"backup", required_argument, NULL, OPT_BACKUP},
    {"cert", required_argument, NULL, OPT_CERT},
    {"pid", required_argument, NULL, OPT_PID},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* --- the operator's commands --------------------------------------------- */

/* Tells dossierd to reload (SIGHUP), or the operator to. */
static int
daemon_reload(long pid, const char *what)
{
    if (pid == 0) {
        printf(PROG ": send SIGHUP to dossierd (systemctl reload dossierd, "
                    "or kill -HUP PID) so that it takes %1$s / envoyez "
                    "SIGHUP à dossierd pour qu'il prenne en compte %1$s\n",
               what);
        return 0;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        int rc = -errno;
        complain("cannot send SIGHUP to process %1$ld: %2$s; send it "
                 "yourself / impossible d'envoyer SIGHUP au processus "
                 "%1$ld ; envoyez-le vous-même",
                 pid, err_str(rc));
        return rc;
    }
    printf(PROG ": SIGHUP sent to dossierd (pid %1$ld): it takes %2$s / "
                "SIGHUP envoyé à dossierd\n",
           pid, what);
    return 0;
}

/* init: the data keys and empty stores of a new installation. */
static int
cmd_init(const struct opts *o)
{
    char ks[PATH_MAX];
    struct store *s = NULL;
    int rc;

    if ((rc = dir_make(o->dir)) != 0 || (rc = data_keys_make(o->dir)) != 0)
        return rc;
    if (o->keystore != NULL)
        snprintf(ks, sizeof(ks), "%s", o->keystore);
    else if ((rc = path_fmt(ks, "%s/keystore", o->dir)) != 0)
        return rc;
    if ((rc = store_open(ks, 64u << 20, &s)) != 0) {
        complain("cannot create the data-key store %1$s: %2$s / impossible "
                 "de créer la base des clés %1$s",
                 ks, err_str(rc));
        return rc;
    }
    store_close(s);
    printf("  %s\n", ks);
    if ((rc = store_open(o->data, 0, &s)) != 0) {
        complain("cannot create the data store %1$s: %2$s / impossible de "
                 "créer la base %1$s",
                 o->data, err_str(rc));
        return rc;
    }
    store_close(s);
    printf("  %s\n", o->data);
    printf(PROG ": store ready; the CA and server certificate go in %1$s "
                "(ca.crt, server.crt, server.key) / base prête ; l'AC et le "
                "certificat serveur vont dans %1$s\n",
           o->dir);
    return 0;
}

/* The trust domain: --trust-domain, else DIR/trust-domain. */
static int
trust_domain_get(const struct opts *o, char td[TRUST_DOMAIN_MAX + 1])
{
    if (o->trust_domain != NULL) {
        snprintf(td, TRUST_DOMAIN_MAX + 1, "%s", o->trust_domain);
        return 0;
    }
    return trust_domain_read(o->dir, td);
}

static int
cmd_register(const struct opts *o)
{
    char td[TRUST_DOMAIN_MAX + 1], crt[PATH_MAX];
    struct principal_names pn;
    int rc;

    if ((rc = trust_domain_get(o, td)) != 0 ||
        (rc = principal_names_make(&pn, td, o->kind, o->id)) != 0)
        return rc;
    if (o->cert != NULL) {
        if ((o->seen & (BIT(OPT_DAYS) | BIT(OPT_OUT_DIR))) != 0) {
            complain("--days and --out-dir are for issued certificates, not "
                     "with --cert / --days et --out-dir ne vont pas avec "
                     "--cert");
            return ERR_INVALID;
        }
        return admin_registry_add(o->dir, td, pn.uri, "external", o->cert);
    }
    if ((rc = admin_registry_check_new(o->dir, pn.uri)) != 0 ||
        (rc = cmd_issue(o)) != 0 ||
        (rc = path_fmt(crt, "%s/%s.crt", o->out_dir ? o->out_dir : o->dir,
                       pn.stem)) != 0)
        return rc;
    return admin_registry_add(o->dir, td, pn.uri, "issued", crt);
}

static int
cmd_list(const struct opts *o)
{
    return admin_registry_list(o->dir, o->kind);
}

static int
cmd_revoke(const struct opts *o)
{
    char td[TRUST_DOMAIN_MAX + 1];
    struct principal_names pn;
    int rc;

    if ((rc = trust_domain_get(o, td)) != 0 ||
        (rc = principal_names_make(&pn, td, o->kind, o->id)) != 0 ||
        (rc = admin_registry_revoke(o->dir, pn.uri)) != 0)
        return rc;
    return daemon_reload(o->pid, "the revocation / la révocation");
}

static int
cmd_rotate_master(const struct opts *o)
{
    int rc;

    if ((rc = cmd_keygen_master(o)) != 0)
        return rc;
    if (o->pid == 0)
        return 0; /* keygen-master said to send SIGHUP */
    return daemon_reload(o->pid, "the new master key / la nouvelle clé "
                                 "maîtresse");
}

static int
cmd_backup(const struct opts *o)
{
    struct admin_backup_args a = {.keys_dir = o->dir,
                                  .data_dir = o->data,
                                  .keystore_dir = o->keystore,
                                  .backup_dir = o->backup};

    return admin_backup_make(&a);
}

static int
cmd_verify_backup(const struct opts *o)
{
    struct admin_backup_args a = {.keys_dir = o->dir,
                                  .backup_dir = o->backup};

    return admin_backup_verify(&a);
}

static int
cmd_restore(const struct opts *o)
{
    struct admin_backup_args a = {.keys_dir = o->dir,
                                  .data_dir = o->data,
                                  .keystore_dir = o->keystore,
                                  .backup_dir = o->backup};

    return admin_backup_restore(&a);
}

static int
cmd_status(const struct opts *o)
{
    return admin_status_print(o->dir, o->data, o->keystore);
}

static const struct command {
    const char *name;
    int (*run)(const struct opts *o);
    unsigned required, allowed;
} commands[] = {
    {"init-dev", cmd_init_dev, BIT(OPT_DIR),
     BIT(OPT_DIR) | BIT(OPT_TRUST_DOMAIN) | BIT(OPT_DAYS)},
    {"issue", cmd_issue, BIT(OPT_DIR) | BIT(OPT_KIND) | BIT(OPT_ID),
     BIT(OPT_DIR) | BIT(OPT_TRUST_DOMAIN) | BIT(OPT_DAYS) | BIT(OPT_KIND) |
         BIT(OPT_ID) | BIT(OPT_OUT_DIR)},
    {"issue-server", cmd_issue_server, BIT(OPT_DIR) | BIT(OPT_NAME),
     BIT(OPT_DIR) | BIT(OPT_DAYS) | BIT(OPT_NAME) | BIT(OPT_IP) |
         BIT(OPT_OUT_DIR)},
    {"keygen-master", cmd_keygen_master, BIT(OPT_DIR), BIT(OPT_DIR)},
    {"init", cmd_init, BIT(OPT_DIR) | BIT(OPT_DATA),
     BIT(OPT_DIR) | BIT(OPT_DATA) | BIT(OPT_KEYSTORE)},
    {"register", cmd_register, BIT(OPT_DIR) | BIT(OPT_KIND) | BIT(OPT_ID),
     BIT(OPT_DIR) | BIT(OPT_KIND) | BIT(OPT_ID) | BIT(OPT_CERT) |
         BIT(OPT_DAYS) | BIT(OPT_OUT_DIR) | BIT(OPT_TRUST_DOMAIN)},
    {"list", cmd_list, BIT(OPT_DIR), BIT(OPT_DIR) | BIT(OPT_KIND)},
    {"revoke", cmd_revoke, BIT(OPT_DIR) | BIT(OPT_KIND) | BIT(OPT_ID),
     BIT(OPT_DIR) | BIT(OPT_KIND) | BIT(OPT_ID) | BIT(OPT_TRUST_DOMAIN) |
         BIT(OPT_PID)},
    {"rotate-master", cmd_rotate_master, BIT(OPT_DIR),
     BIT(OPT_DIR) | BIT(OPT_PID)},
    {"backup", cmd_backup, BIT(OPT_DIR) | BIT(OPT_DATA) | BIT(OPT_BACKUP),
     BIT(OPT_DIR) | BIT(OPT_DATA) | BIT(OPT_KEYSTORE) | BIT(OPT_BACKUP)},
    {"verify-backup", cmd_verify_backup, BIT(OPT_DIR) | BIT(OPT_BACKUP),
     BIT(OPT_DIR) | BIT(OPT_BACKUP)},
    {"restore", cmd_restore,
     BIT(OPT_DIR) | BIT(OPT_BACKUP) | BIT(OPT_DATA) | BIT(OPT_KEYSTORE),
     BIT(OPT_DIR) | BIT(OPT_BACKUP) | BIT(OPT_DATA) | BIT(OPT_KEYSTORE)},
    {"status", cmd_status, BIT(OPT_DIR),
     BIT(OPT_DIR) | BIT(OPT_DATA) | BIT(OPT_KEYSTORE)},
};

/* Drops trailing slashes ("keys/dev/" -> "keys/dev"; "/" stays). */
static void
strip_slashes(char *s)
{
    size_t n = strlen(s);

    while (n > 1 && s[n - 1] == '/')
        s[--n] = '\0';
}

/* Checks the value |arg| of option |opt| and stores it in |o|.  Returns
 * false after saying what is wrong. */
static bool
opt_store(struct opts *o, int opt, char *arg)
{
    char *end;
    long days;

    switch (opt) {
    case OPT_DIR:
    case OPT_OUT_DIR:
    case OPT_DATA:
    case OPT_KEYSTORE:
    case OPT_BACKUP:
        if (*arg == '\0') {
            complain("--%1$s needs a directory / --%1$s attend un répertoire",
                     long_opts[opt - 1].name);
            return false;
        }
        strip_slashes(arg);
        *(opt == OPT_DIR        ? &o->dir
          : opt == OPT_OUT_DIR  ? &o->out_dir
          : opt == OPT_DATA     ? &o->data
          : opt == OPT_KEYSTORE ? &o->keystore
                                : &o->backup) = arg;
        return true;
    case OPT_CERT:
        if (*arg == '\0') {
            complain("--cert needs a file / --cert attend un fichier");
            return false;
        }
        o->cert = arg;
        return true;
    case OPT_PID:
        errno = 0;
        o->pid = strtol(arg, &end, 10);
        if (errno == 0 && end != arg && *end == '\0' && o->pid > 1 &&
            o->pid <= INT_MAX)
            return true;
        complain("invalid --pid '%1$s': the process id of dossierd / --pid "
                 "'%1$s' invalide : le numéro de processus de dossierd",
                 arg);
        return false;
    case OPT_TRUST_DOMAIN:
        o->trust_domain = arg;
        if (trust_domain_valid(arg))
            return true;
        complain("invalid trust domain '%1$s': 1 to %2$d characters among "
                 "a-z 0-9 . _ - / domaine de confiance '%1$s' invalide : "
                 "1 à %2$d caractères parmi a-z 0-9 . _ -",
                 arg, TRUST_DOMAIN_MAX);
        return false;
    case OPT_DAYS:
        errno = 0;
        days = strtol(arg, &end, 10);
        if (errno == 0 && end != arg && *end == '\0' && days >= 1 &&
            days <= MAX_DAYS) {
            o->days = (int)days;
            return true;
        }
        complain("invalid --days '%1$s': a whole number from 1 to %2$d / "
                 "--days '%1$s' invalide : un nombre entier de 1 à %2$d",
                 arg, MAX_DAYS);
        return false;
    case OPT_KIND:
        o->kind = arg;
        if (kind_valid(arg))
            return true;
        complain("unknown kind '%1$s': expected person, agency, delegate, "
                 "auditor or admin / type '%1$s' inconnu : person, agency, "
                 "delegate, auditor ou admin attendu",
                 arg);
        return false;
    case OPT_ID:
        o->id = arg;
        if (id_valid(arg))
            return true;
        complain("invalid id '%1$s': 1 to %2$d characters among A-Z a-z 0-9 "
                 ". _ - (not . or ..) / identifiant '%1$s' invalide : 1 à "
                 "%2$d caractères parmi A-Z a-z 0-9 . _ - (ni . ni ..)",
                 arg, ID_MAX);
        return false;
    case OPT_NAME:
        o->name = arg;
        if (host_valid(arg))
            return true;
        complain("invalid host name '%1$s' / nom d'hôte '%1$s' invalide", arg);
        return false;
    case OPT_IP:
        if (o->n_ips == MAX_IPS) {
            complain("at most %1$d --ip / au plus %1$d --ip", MAX_IPS);
            return false;
        }
        if (!ip_valid(arg)) {
            complain("invalid IP address '%1$s' / adresse IP '%1$s' invalide",
                     arg);
            return false;
        }
        o->ips[o->n_ips++] = arg;
        return true;
    }
    return false;
}

/* Parses the options after the command name.  Returns 0, 1 for --help,
 * or -1 after saying what is wrong. */
static int
opts_parse(const struct command *cmd, int argc, char **argv, struct opts *o)
{
    unsigned missing, extra;
    int c;

    memset(o, 0, sizeof(*o));
    o->days = DEFAULT_DAYS;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP)
            return 1;
        if (c == ':') {
            complain("%1$s needs a value / %1$s attend une valeur",
                     argv[optind - 1]);
            return -1;
        }
        if (c == '?') {
            complain("unknown option %1$s; try " PROG " --help / "
                     "option %1$s inconnue ; essayez " PROG " --help",
                     argv[optind - 1]);
            return -1;
        }
        if ((o->seen & BIT(c)) != 0 && c != OPT_IP) {
            complain("--%1$s given twice / --%1$s donné deux fois",
                     long_opts[c - 1].name);
            return -1;
        }
        o->seen |= BIT(c);
        if (!opt_store(o, c, optarg))
            return -1;
    }
    if (optind < argc) {
        complain("unexpected argument '%1$s' / argument inattendu '%1$s'",
                 argv[optind]);
        return -1;
    }
    extra = o->seen & ~cmd->allowed;
    missing = cmd->required & ~o->seen;
    for (int v = OPT_DIR; v < OPT_HELP; v++) {
        if ((extra & BIT(v)) != 0) {
            complain("%1$s does not take --%2$s / %1$s n'accepte pas --%2$s",
                     cmd->name, long_opts[v - 1].name);
            return -1;
        }
        if ((missing & BIT(v)) != 0) {
            complain("%1$s needs --%2$s / %1$s exige --%2$s", cmd->name,
                     long_opts[v - 1].name);
            return -1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const struct command *cmd = NULL;
    struct opts o;
    int rc;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    /* The modules' own log lines: only their warnings, next to ours. */
    log_set_level(LOG_LVL_WARN);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        complain("unknown command '%1$s'; try " PROG " --help / "
                 "commande '%1$s' inconnue ; essayez " PROG " --help",
                 argv[1]);
        return EXIT_USAGE;
    }
    /* getopt sees the command name as its argv[0]. */
    rc = opts_parse(cmd, argc - 1, argv + 1, &o);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (rc < 0)
        return EXIT_USAGE;
    rc = cmd->run(&o);
    fflush(stdout);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
