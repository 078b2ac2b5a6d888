/*
 * admin_status.c -- dossier-admin status (see admin_status.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "admin_say.h"
#include "admin_status.h"
#include "devpki.h"
#include "err.h"
#include "keyring.h"
#include "store.h"

#define complain admin_complain

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True for files whose secrecy the mode protects. */
static bool
secret_file(const char *name)
{
    size_t n = strlen(name);

    return n > 4 && strcmp(name + n - 4, ".key") == 0;
}

static int
print_keys(const char *dir)
{
    char *names[512], path[PATH_MAX];
    size_t n = 0;
    struct dirent *de;
    time_t now = time(NULL);
    int rc = 0;
    DIR *d;

    if ((d = opendir(dir)) == NULL) {
        rc = -errno;
        complain("cannot read the keys directory %1$s: %2$s / impossible de "
                 "lire le répertoire des clés %1$s",
                 dir, err_str(rc));
        return rc;
    }
    while ((de = readdir(d)) != NULL && n < 512) {
        size_t l = strlen(de->d_name);

        if (de->d_name[0] == '.')
            continue;
        if ((l > 4 && (strcmp(de->d_name + l - 4, ".key") == 0 ||
                       strcmp(de->d_name + l - 4, ".crt") == 0 ||
                       strcmp(de->d_name + l - 4, ".pub") == 0)) ||
            strcmp(de->d_name, "audit-checkpoint") == 0 ||
            strcmp(de->d_name, "revoked-principals") == 0 ||
            strcmp(de->d_name, "principals") == 0 ||
            strcmp(de->d_name, "trust-domain") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_name);
    printf("keys / clés: %s\n", dir);
    printf("  %-40s %-5s %-10s %s\n", "file / fichier", "mode", "age (days)",
           "");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        char extra[128] = "";

        if (names[i] == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0)
            continue;
        if (strlen(names[i]) > 4 &&
            strcmp(names[i] + strlen(names[i]) - 4, ".crt") == 0) {
            X509 *c = NULL;
            struct tm tm;

            if (devpki_cert_load(path, &c) == 0 &&
                ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm) == 1)
                strftime(extra, sizeof(extra), "expires / expire le %Y-%m-%d",
                         &tm);
            X509_free(c);
            ERR_clear_error();
        }
        if (secret_file(names[i]) && (st.st_mode & 077) != 0) {
            snprintf(extra, sizeof(extra),
                     "OPEN TO GROUP/OTHERS: chmod 600 / OUVERT : chmod 600");
            rc = ERR_DENIED;
        }
        printf("  %-40s %04o  %-10.1f %s\n", names[i],
               (unsigned)(st.st_mode & 07777),
               (double)(now - st.st_mtime) / 86400.0, extra);
        free(names[i]);
    }
    if (rc != 0)
        complain("a key file is readable by group or others; the daemon "
                 "refuses it / une clé est lisible par le groupe ou les "
                 "autres ; le démon la refuse");
    return rc;
}

/* How many DEKs each master key id wraps, from the key store. */
static int
print_dek_ids(struct store *ks, uint32_t current)
{
    struct {
        uint32_t id;
        uint64_t n;
    } ids[64];
    size_t nids = 0;
    uint64_t other = 0;
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    int rc;

    if ((rc = store_txn_begin(ks, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_PERSONS, NULL, 0, &cur)) != 0) {
        store_txn_abort(t);
        return rc;
    }
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        uint32_t id = keyring_wrapped_key_id(e.val, e.val_len);
        size_t i;

        for (i = 0; i < nids && ids[i].id != id; i++)
            ;
        if (i == nids) {
            if (nids == 64) {
                other++;
                continue;
            }
            ids[nids].id = id;
            ids[nids++].n = 0;
        }
        ids[i].n++;
    }
    store_txn_abort(t);
    printf("  data keys by master key / clés de données par clé maîtresse:");
    if (nids == 0)
        printf(" none / aucune");
    for (size_t i = 0; i < nids; i++)
        printf(" master-%u: %" PRIu64 "%s", ids[i].id, ids[i].n,
               ids[i].id == current ? " (current / courante)" : "");
    if (other > 0)
        printf(" other: %" PRIu64, other);
    printf("\n");
    return rc == ERR_NOTFOUND ? 0 : rc;
}

static int
print_store(const char *label, const char *dir, struct store **out)
{
    struct store_stat st;
    struct store *s = NULL;
    int rc;

    if ((rc = store_open_readonly(dir, false, &s)) != 0 ||
        (rc = store_stat(s, &st)) != 0) {
        complain("cannot open the %1$s in %2$s: %3$s / impossible d'ouvrir "
                 "%1$s dans %2$s",
                 label, dir, err_str(rc));
        store_close(s);
        return rc;
    }
    printf("%s: %s\n", label, dir);
    if (st.format != STORE_FORMAT_VERSION)
        printf("  format %u, older than %u: dossierd converts it at its next "
               "start / format plus ancien : dossierd le convertit à son "
               "prochain démarrage\n",
               st.format, STORE_FORMAT_VERSION);
    else
        printf("  format %u\n", st.format);
    printf("  map size / taille max: %" PRIu64 " bytes; in use / utilisés: "
           "%" PRIu64 " (%.2f%%); file / fichier: %" PRIu64
           "; reserve: %" PRIu64 "%s\n",
           st.map_size, st.used_bytes,
           st.map_size ? 100.0 * (double)st.used_bytes / (double)st.map_size
                       : 0.0,
           st.high_water, st.reserve_bytes,
           st.puts_refused ? "; FULL: new records refused / PLEINE" : "");
    printf("  entries / enregistrements:");
    for (int i = 0; i < STORE_DB_COUNT; i++)
        if (st.entries[i] > 0)
            printf(" %s=%" PRIu64, store_db_name((enum store_db)i),
                   st.entries[i]);
    printf("\n");
    if (out != NULL)
        *out = s;
    else
        store_close(s);
    return 0;
}

int
admin_status_print(const char *keys_dir, const char *data_dir,
                   const char *keystore_dir)
{
    char ks[PATH_MAX];
    struct keyring *kr = NULL;
    struct store *k = NULL;
    uint32_t current = 0;
    int rc, rc2;

    rc = print_keys(keys_dir);
    if ((rc2 = keyring_load(keys_dir, &kr)) == 0) {
        current = keyring_master_current_id(kr);
        printf("  master keys loaded / clés maîtresses chargées: %zu, "
               "current / courante: master-%u\n",
               keyring_master_count(kr), current);
        keyring_free(kr);
    } else {
        complain("the master and pepper keys of %1$s do not load: %2$s / "
                 "les clés de %1$s ne se chargent pas",
                 keys_dir, err_str(rc2));
        rc = rc ? rc : rc2;
    }
    if (keystore_dir == NULL &&
        snprintf(ks, sizeof(ks), "%s/keystore", keys_dir) < (int)sizeof(ks))
        keystore_dir = ks;
    if ((rc2 = print_store("data-key store / base des clés", keystore_dir,
                           &k)) == 0) {
        if ((rc2 = print_dek_ids(k, current)) != 0)
            complain("cannot read the data-key store: %1$s / base des clés "
                     "illisible",
                     err_str(rc2));
        store_close(k);
    }
    rc = rc ? rc : rc2;
    if (data_dir != NULL) {
        rc2 = print_store("data store / base des dossiers", data_dir, NULL);
        rc = rc ? rc : rc2;
    }
    return rc;
}
