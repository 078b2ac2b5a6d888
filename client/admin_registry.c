/*
 * admin_registry.c -- the registry of principals and the revocation list
 * (see admin_registry.h).
 *
 * Both files are small (a line per principal): each change reads the
 * whole file, edits it in memory and writes it back under a temporary
 * name, synced, renamed (devpki_text_save), so that the daemon, reading
 * revoked-principals at a SIGHUP, sees the old list or the new one.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "admin_registry.h"
#include "admin_say.h"
#include "devpki.h"
#include "err.h"
#include "policy.h"
#include "principal.h"

#define complain admin_complain
#define LIST_MAX (1 << 20) /* as the daemon's limit on the denylist */
#define LINE_MAX_LEN 600

/* The lines of a small text file; a missing file has none. */
struct lines {
    char **v;
    size_t n;
};

static void
lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int
lines_add(struct lines *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

    if (v == NULL)
        return -ENOMEM;
    l->v = v;
    if ((v[l->n] = strdup(s)) == NULL)
        return -ENOMEM;
    l->n++;
    return 0;
}

static int
lines_read(const char *path, struct lines *l)
{
    char buf[LINE_MAX_LEN + 2];
    long total = 0;
    FILE *f;
    int rc = 0;

    l->v = NULL;
    l->n = 0;
    if ((f = fopen(path, "re")) == NULL) {
        if (errno == ENOENT)
            return 0;
        rc = -errno;
        complain("cannot read %1$s: %2$s / impossible de lire %1$s", path,
                 err_str(rc));
        return rc;
    }
    while (fgets(buf, sizeof(buf), f) != NULL) {
        total += (long)strlen(buf);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (total > LIST_MAX) {
            complain("%1$s is over 1 MiB / %1$s dépasse 1 Mio", path);
            rc = ERR_TOOBIG;
            break;
        }
        if ((rc = lines_add(l, buf)) != 0)
            break;
    }
    fclose(f);
    if (rc != 0)
        lines_free(l);
    return rc;
}

static int
lines_write(const char *path, const struct lines *l)
{
    size_t len = 1;
    char *text, *p;
    int rc;

    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    if ((text = malloc(len)) == NULL)
        return -ENOMEM;
    p = text;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->v[i]);
        memcpy(p, l->v[i], k);
        p[k] = '\n';
        p += k + 1;
    }
    *p = '\0';
    rc = devpki_text_save(path, text);
    free(text);
    if (rc != 0)
        complain("cannot write %1$s: %2$s / impossible d'écrire %1$s", path,
                 err_str(rc));
    return rc;
}

/* The index of the registry line of |uri|, or -1. */
static long
registry_find(const struct lines *l, const char *uri)
{
    size_t n = strlen(uri);

    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], uri, n) == 0 && l->v[i][n] == ' ')
            return (long)i;
    return -1;
}

static void
utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
registry_path(const char *dir, const char *name, char out[PATH_MAX])
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
        complain("path too long / chemin trop long");
        return -ENAMETOOLONG;
    }
    return 0;
}

static const char registry_header[] =
    "# dossier-admin registry of principals: uri state source not-after "
    "sha256 registered";

/* Sets the registry line of |uri| to |line|. */
static int
registry_set(const char *dir, const char *uri, const char *line)
{
    char path[PATH_MAX];
    struct lines l;
    long i;
    int rc;

    if ((rc = registry_path(dir, REGISTRY_FILE, path)) != 0 ||
        (rc = lines_read(path, &l)) != 0)
        return rc;
    if (l.n == 0 && (rc = lines_add(&l, registry_header)) != 0)
        goto out;
    if ((i = registry_find(&l, uri)) >= 0) {
        char *s = strdup(line);
        if (s == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        free(l.v[i]);
        l.v[i] = s;
    } else if ((rc = lines_add(&l, line)) != 0) {
        goto out;
    }
    rc = lines_write(path, &l);
out:
    lines_free(&l);
    return rc;
}

/* True when |uri| is in revoked-principals. */
static bool
denylisted(const struct lines *deny, const char *uri)
{
    for (size_t i = 0; i < deny->n; i++)
        if (strcmp(deny->v[i], uri) == 0)
            return true;
    return false;
}

/* Checks an external certificate: names |uri|, verifies against ca.crt. */
static int
external_check(const char *dir, const char *td, const char *uri, X509 *cert,
               const char *cert_path)
{
    char ca_path[PATH_MAX];
    struct principal p;
    X509_STORE *st = NULL;
    X509_STORE_CTX *ctx = NULL;
    int rc;

    if ((rc = principal_from_cert(cert, td, &p)) != 0 ||
        strcmp(p.uri, uri) != 0) {
        complain("%1$s does not name %2$s as its one URI SAN / %1$s ne "
                 "nomme pas %2$s comme unique URI SAN",
                 cert_path, uri);
        return ERR_INVALID;
    }
    if ((rc = registry_path(dir, "ca.crt", ca_path)) != 0)
        return rc;
    rc = ERR_INVALID;
    if ((st = X509_STORE_new()) == NULL ||
        X509_STORE_load_file(st, ca_path) != 1 ||
        (ctx = X509_STORE_CTX_new()) == NULL ||
        X509_STORE_CTX_init(ctx, st, cert, NULL) != 1) {
        complain("cannot load the CA file %1$s / impossible de charger le "
                 "fichier d'AC %1$s",
                 ca_path);
        goto out;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx) != 1) {
        complain("%1$s does not verify against %2$s (%3$s): add its CA to "
                 "%2$s first, then SIGHUP dossierd / %1$s ne se vérifie pas "
                 "avec %2$s : ajoutez d'abord son AC à %2$s",
                 cert_path, ca_path,
                 X509_verify_cert_error_string(
                     X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return rc;
}

int
admin_registry_check_new(const char *keys_dir, const char *uri)
{
    char deny_path[PATH_MAX];
    struct lines deny;
    bool revoked;
    int rc;

    if ((rc = registry_path(keys_dir, POLICY_DENYLIST_FILE, deny_path)) != 0 ||
        (rc = lines_read(deny_path, &deny)) != 0)
        return rc;
    revoked = denylisted(&deny, uri);
    lines_free(&deny);
    if (!revoked)
        return 0;
    complain("%1$s was revoked; a revoked principal is not registered "
             "again: give the new one another id / %1$s a été révoqué ; "
             "donnez un autre identifiant au nouveau",
             uri);
    return ERR_DENIED;
}

int
admin_registry_add(const char *keys_dir, const char *trust_domain,
                   const char *uri, const char *source,
                   const char *cert_path)
{
    char line[LINE_MAX_LEN], until[16], when[32], fp[65];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    X509 *cert = NULL;
    struct tm tm;
    int rc;

    if ((rc = admin_registry_check_new(keys_dir, uri)) != 0)
        return rc;
    if ((rc = devpki_cert_load(cert_path, &cert)) != 0) {
        complain("%1$s holds no PEM certificate: %2$s / %1$s ne contient pas "
                 "de certificat PEM",
                 cert_path, err_str(rc));
        return rc;
    }
    if (strcmp(source, "external") == 0 &&
        (rc = external_check(keys_dir, trust_domain, uri, cert, cert_path)) !=
            0)
        goto out;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1 ||
        strftime(until, sizeof(until), "%Y-%m-%d", &tm) == 0)
        snprintf(until, sizeof(until), "?");
    X509_digest(cert, EVP_sha256(), md, &mdlen);
    admin_hex(md, mdlen == 32 ? 32 : 0, fp);
    utc_now(when);
    snprintf(line, sizeof(line), "%s active %s %s %s %s", uri, source, until,
             fp, when);
    if ((rc = registry_set(keys_dir, uri, line)) == 0)
        printf(ADMIN_PROG ": registered / enregistré %s (%s, until / "
                          "jusqu'au %s)\n",
               uri, source, until);
out:
    X509_free(cert);
    return rc;
}

int
admin_registry_list(const char *keys_dir, const char *kind)
{
    char path[PATH_MAX], deny_path[PATH_MAX], pat[64] = "";
    struct lines l, deny;
    size_t shown = 0;
    int rc;

    if ((rc = registry_path(keys_dir, REGISTRY_FILE, path)) != 0 ||
        (rc = registry_path(keys_dir, POLICY_DENYLIST_FILE, deny_path)) !=
            0 ||
        (rc = lines_read(path, &l)) != 0)
        return rc;
    if ((rc = lines_read(deny_path, &deny)) != 0) {
        lines_free(&l);
        return rc;
    }
    if (kind != NULL)
        snprintf(pat, sizeof(pat), "/%s/", kind);
    printf("%-56s %-8s %-9s %-10s %s\n", "principal", "state", "source",
           "until", "registered");
    for (size_t i = 0; i < l.n; i++) {
        char uri[300], state[16], source[16], until[16], fp[80], when[40];

        if (l.v[i][0] == '#' || l.v[i][0] == '\0')
            continue;
        if (sscanf(l.v[i], "%299s %15s %15s %15s %79s %39s", uri, state,
                   source, until, fp, when) != 6)
            continue;
        if (pat[0] != '\0' &&
            strstr(uri + (strncmp(uri, "spiffe://", 9) == 0 ? 9 : 0), pat) ==
                NULL)
            continue;
        /* The denylist is what the daemon obeys: it wins. */
        if (denylisted(&deny, uri))
            snprintf(state, sizeof(state), "revoked");
        printf("%-56s %-8s %-9s %-10s %s\n", uri, state, source, until, when);
        shown++;
    }
    printf("%zu principal(s) / principal(aux); %zu revoked in %s / "
           "révoqué(s)\n",
           shown, deny.n, POLICY_DENYLIST_FILE);
    lines_free(&deny);
    lines_free(&l);
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
admin_registry_revoke(const char *keys_dir, const char *uri)
{
    char deny_path[PATH_MAX], path[PATH_MAX], line[LINE_MAX_LEN], when[32];
    struct lines deny, reg;
    long i;
    int rc;

    if ((rc = registry_path(keys_dir, POLICY_DENYLIST_FILE, deny_path)) != 0 ||
        (rc = registry_path(keys_dir, REGISTRY_FILE, path)) != 0 ||
        (rc = lines_read(deny_path, &deny)) != 0)
        return rc;
    if (!denylisted(&deny, uri)) {
        /* Comments and blank lines sort first; the daemon skips them. */
        if ((rc = lines_add(&deny, uri)) != 0) {
            lines_free(&deny);
            return rc;
        }
        qsort(deny.v, deny.n, sizeof(*deny.v), cmp_str);
        rc = lines_write(deny_path, &deny);
    }
    lines_free(&deny);
    if (rc != 0)
        return rc;
    if ((rc = lines_read(path, &reg)) != 0)
        return rc;
    utc_now(when);
    if ((i = registry_find(&reg, uri)) >= 0) {
        char u[300], state[16], source[16], until[16], fp[80], old[40];

        if (sscanf(reg.v[i], "%299s %15s %15s %15s %79s %39s", u, state,
                   source, until, fp, old) == 6)
            snprintf(line, sizeof(line), "%s revoked %s %s %s %s", uri,
                     source, until, fp, when);
        else
            snprintf(line, sizeof(line), "%s revoked unknown ? - %s", uri,
                     when);
    } else {
        snprintf(line, sizeof(line), "%s revoked unknown ? - %s", uri, when);
    }
    lines_free(&reg);
    if ((rc = registry_set(keys_dir, uri, line)) == 0)
        printf(ADMIN_PROG ": revoked / révoqué %s (in / dans %s)\n", uri,
               deny_path);
    return rc;
}
