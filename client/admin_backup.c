/*
 * admin_backup.c -- hot backup, verification and restore of a dossierd
 * store (see admin_backup.h).
 *
 * The LMDB work is store.c's (store_backup, store_open_readonly), the
 * audit log's checks are audit.c's (audit_open's rollback and fork
 * detection, audit_root, audit_verify), the decryption is the vault's:
 * this file only sequences them, hashes files and words the verdicts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "admin_backup.h"
#include "admin_manifest.h"
#include "admin_say.h"
#include "audit.h"
#include "buf.h"
#include "crypto.h"
#include "devpki.h"
#include "err.h"
#include "fsutil.h"
#include "keyring.h"
#include "store.h"
#include "vault.h"

#define complain admin_complain

static int pathf(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a path into |out| (PATH_MAX bytes); -ENAMETOOLONG, said. */
static int
pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) {
        complain("path too long / chemin trop long");
        return -ENAMETOOLONG;
    }
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Creates directory |dir| (0700), or accepts an existing empty one. */
static int
dir_fresh(const char *dir)
{
    struct dirent *de;
    DIR *d;
    int rc;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST) {
        rc = -errno;
        complain("cannot create the directory %1$s: %2$s / impossible de "
                 "créer le répertoire %1$s",
                 dir, err_str(rc));
        return rc;
    }
    if ((d = opendir(dir)) == NULL) {
        rc = -errno;
        complain("%1$s exists and cannot be read: %2$s / %1$s existe et "
                 "est illisible",
                 dir, err_str(rc));
        return rc;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            closedir(d);
            complain("%1$s exists and is not empty; refusing to write into "
                     "it / %1$s existe et n'est pas vide ; refus d'y écrire",
                     dir);
            return ERR_EXISTS;
        }
    }
    closedir(d);
    return 0;
}

/* Copies |src| to the new file |dst| (mode |mode|, never replacing one),
 * synced.  Returns 0 or a negative errno (-ENOENT: no |src|), unsaid. */
static int
file_copy(const char *src, const char *dst, mode_t mode)
{
    char *b;
    ssize_t k;
    int in, out, rc = 0;

    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    if ((b = malloc(1 << 20)) == NULL)
        rc = -ENOMEM;
    while (rc == 0) {
        k = read(in, b, 1 << 20);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0)
            break;
        for (ssize_t w = 0, n; w < k; w += n) {
            n = write(out, b + w, (size_t)(k - w));
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }
            if (n < 0) {
                rc = -errno;
                break;
            }
        }
    }
    free(b);
    if (rc == 0 && fsync(out) != 0)
        rc = -errno;
    if (close(out) != 0 && rc == 0)
        rc = -errno;
    close(in);
    if (rc != 0)
        (void)unlink(dst);
    else
        rc = fsutil_sync_parent(dst);
    return rc;
}

/* Opens the audit log of |s| with the key of |keys|; |checkpoint| (may
 * be NULL) is the checkpoint file it must extend. */
static int
audit_of(struct store *s, const char *keys, const char *checkpoint,
         struct audit **out)
{
    char key[PATH_MAX];
    int rc;

    if ((rc = pathf(key, "%s/" AUDIT_KEY_FILE, keys)) != 0)
        return rc;
    return audit_open(s, NULL, key, checkpoint, out);
}

/* --- backup ------------------------------------------------------------- */

/* Copies the live store |live| into |dir| (created).  Says what failed. */
static int
store_copy(const char *live, const char *dir, const char *what)
{
    struct store *s = NULL;
    int rc;

    if ((rc = dir_fresh(dir)) != 0)
        return rc;
    if ((rc = store_open_readonly(live, false, &s)) != 0) {
        complain("cannot open the %1$s in %2$s: %3$s / impossible d'ouvrir "
                 "%1$s dans %2$s",
                 what, live, err_str(rc));
        return rc;
    }
    rc = store_backup(s, dir);
    store_close(s);
    if (rc != 0)
        complain("cannot copy the %1$s in %2$s to %3$s: %4$s / impossible "
                 "de copier %1$s de %2$s vers %3$s",
                 what, live, dir, err_str(rc));
    return rc;
}

static int
manifest_add(struct manifest *m, const char *bdir, const char *name)
{
    struct manifest_file *f = &m->files[m->nfiles];
    char path[PATH_MAX];
    int rc;

    if ((rc = pathf(path, "%s/%s", bdir, name)) != 0)
        return rc;
    if ((rc = manifest_file_hash(path, &f->size, f->sha256)) != 0) {
        complain("cannot read %1$s: %2$s / impossible de lire %1$s", path,
                 err_str(rc));
        return rc;
    }
    snprintf(f->name, sizeof(f->name), "%s", name);
    m->nfiles++;
    return 0;
}

int
admin_backup_make(const struct admin_backup_args *a)
{
    char p[PATH_MAX], q[PATH_MAX], ks[PATH_MAX], text[MANIFEST_TEXT_MAX];
    char sighex[2 * MANIFEST_SIG_LEN + 2], root[65];
    uint8_t sig[AUDIT_SIG_LEN];
    struct manifest m;
    struct store *copy = NULL;
    struct store_txn *t = NULL;
    struct audit *au = NULL;
    struct timespec wall;
    bool have_cp = false;
    double t0 = now_s();
    size_t len;
    int rc;

    memset(&m, 0, sizeof(m));
    if (a->keystore_dir != NULL)
        snprintf(ks, sizeof(ks), "%s", a->keystore_dir);
    else if ((rc = pathf(ks, "%s/keystore", a->keys_dir)) != 0)
        return rc;
    if ((rc = dir_fresh(a->backup_dir)) != 0)
        return rc;
    /* 1. The checkpoint file, before the log it vouches for is copied. */
    if ((rc = pathf(p, "%s/" AUDIT_CHECKPOINT_FILE, a->keys_dir)) != 0 ||
        (rc = pathf(q, "%s/audit-checkpoint", a->backup_dir)) != 0)
        return rc;
    rc = file_copy(p, q, 0600);
    if (rc == 0) {
        have_cp = true;
    } else if (rc != -ENOENT) {
        complain("cannot copy %1$s: %2$s / impossible de copier %1$s", p,
                 err_str(rc));
        return rc;
    }
    /* 2. The data store, then 3. the key store. */
    if ((rc = pathf(p, "%s/data", a->backup_dir)) != 0 ||
        (rc = store_copy(a->data_dir, p, "data store")) != 0)
        return rc;
    if ((rc = pathf(q, "%s/keystore", a->backup_dir)) != 0 ||
        (rc = store_copy(ks, q, "data-key store")) != 0)
        return rc;
    /* The audit log of the copy: its size and root go in the manifest. */
    if ((rc = store_open_readonly(p, true, &copy)) != 0) {
        complain("the copy in %1$s does not open: %2$s / la copie dans %1$s "
                 "ne s'ouvre pas",
                 p, err_str(rc));
        goto out;
    }
    if ((rc = audit_of(copy, a->keys_dir, NULL, &au)) != 0) {
        complain("cannot open the audit log of the copy with the audit key "
                 "of %1$s: %2$s / impossible d'ouvrir le journal d'audit de "
                 "la copie avec la clé d'audit de %1$s",
                 a->keys_dir, err_str(rc));
        goto out;
    }
    if ((rc = store_txn_begin(copy, STORE_TXN_READ, NULL, &t)) != 0 ||
        (rc = audit_size(au, t, &m.tree_size)) != 0 ||
        (rc = audit_root(au, t, m.tree_size, m.root)) != 0) {
        complain("cannot read the audit log of the copy: %1$s / impossible "
                 "de lire le journal d'audit de la copie",
                 err_str(rc));
        goto out;
    }
    store_txn_abort(t);
    t = NULL;
    if ((rc = manifest_add(&m, a->backup_dir, "data/data.mdb")) != 0 ||
        (rc = manifest_add(&m, a->backup_dir, "keystore/data.mdb")) != 0 ||
        (have_cp &&
         (rc = manifest_add(&m, a->backup_dir, "audit-checkpoint")) != 0))
        goto out;
    if ((rc = pathf(p, "%s/" AUDIT_PUB_FILE, a->keys_dir)) != 0)
        goto out;
    if ((rc = manifest_sig_check(p, NULL, 0, NULL, m.key_id)) != 0) {
        complain("%1$s holds no Ed25519 public key: %2$s / %1$s ne contient "
                 "pas de clé publique Ed25519",
                 p, err_str(rc));
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &wall);
    m.created_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    len = manifest_format(&m, text);
    if ((rc = audit_sign(au, text, len, sig)) != 0) {
        complain("cannot sign the manifest with the audit key / impossible "
                 "de signer le manifeste avec la clé d'audit");
        goto out;
    }
    admin_hex(sig, sizeof(sig), sighex);
    strcat(sighex, "\n");
    /* The signature first: a manifest without one is refused, so a backup
     * cut short never looks whole. */
    if ((rc = pathf(p, "%s/" MANIFEST_SIG_NAME, a->backup_dir)) != 0 ||
        (rc = pathf(q, "%s/" MANIFEST_NAME, a->backup_dir)) != 0)
        goto out;
    if ((rc = devpki_text_save(p, sighex)) != 0 ||
        (rc = devpki_text_save(q, text)) != 0) {
        complain("cannot write the manifest in %1$s: %2$s / impossible "
                 "d'écrire le manifeste dans %1$s",
                 a->backup_dir, err_str(rc));
        goto out;
    }
    admin_hex(m.root, 32, root);
    printf(ADMIN_PROG ": backup in %1$s / sauvegarde dans %1$s\n",
           a->backup_dir);
    for (size_t i = 0; i < m.nfiles; i++)
        printf("  %-18s %12" PRIu64 " bytes / octets\n", m.files[i].name,
               m.files[i].size);
    printf("  audit log / journal d'audit: %" PRIu64 " entries / entrées, "
           "root / racine %s\n",
           m.tree_size, root);
    printf("  manifest signed with the audit key / manifeste signé avec la "
           "clé d'audit (%.2f s)\n",
           now_s() - t0);
out:
    store_txn_abort(t);
    audit_close(au);
    store_close(copy);
    if (rc != 0)
        complain("the backup in %1$s is incomplete: remove it / la "
                 "sauvegarde dans %1$s est incomplète : supprimez-la",
                 a->backup_dir);
    return rc;
}

/* --- verification ----------------------------------------------------- */

/* What a verification opened, for restore to go on with. */
struct checked {
    struct manifest m;
    struct store *copy;
    struct store *keys;
    struct keyring *kr;
};

static void
checked_close(struct checked *c)
{
    store_close(c->keys);
    store_close(c->copy);
    keyring_free(c->kr);
    memset(c, 0, sizeof(*c));
}

/* The manifest, its signature and the files' hashes. */
static int
check_manifest(const struct admin_backup_args *a, struct manifest *m,
               bool *have_cp)
{
    char p[PATH_MAX], text[MANIFEST_TEXT_MAX + 1], sigtxt[200];
    uint8_t sig[MANIFEST_SIG_LEN], kid[MANIFEST_KEY_ID_LEN];
    size_t len, slen;
    int rc, bad;

    if ((rc = pathf(p, "%s/" MANIFEST_NAME, a->backup_dir)) != 0)
        return rc;
    if ((rc = manifest_read_small(p, text, MANIFEST_TEXT_MAX, &len)) != 0) {
        complain("refused: cannot read the manifest %1$s: %2$s (not a "
                 "backup, or an incomplete one) / refusé : manifeste %1$s "
                 "illisible (pas une sauvegarde, ou une incomplète)",
                 p, err_str(rc));
        return rc;
    }
    if ((rc = pathf(p, "%s/" MANIFEST_SIG_NAME, a->backup_dir)) != 0)
        return rc;
    if ((rc = manifest_read_small(p, sigtxt, sizeof(sigtxt) - 1, &slen)) !=
        0) {
        complain("refused: cannot read the signature %1$s: %2$s / refusé : "
                 "signature %1$s illisible",
                 p, err_str(rc));
        return rc;
    }
    sigtxt[strcspn(sigtxt, "\n")] = '\0';
    if (!admin_unhex(sigtxt, sizeof(sig), sig)) {
        complain("refused: %1$s is not 128 hex digits / refusé : %1$s ne "
                 "contient pas 128 chiffres hexadécimaux",
                 p);
        return ERR_CORRUPT;
    }
    if ((rc = pathf(p, "%s/" AUDIT_PUB_FILE, a->keys_dir)) != 0)
        return rc;
    rc = manifest_sig_check(p, text, len, sig, kid);
    if (rc == ERR_CORRUPT) {
        complain("refused: the manifest's signature does not verify with "
                 "%1$s: the manifest was edited, or signed with another "
                 "key / refusé : la signature du manifeste ne se vérifie pas "
                 "avec %1$s : manifeste modifié, ou signé par une autre clé",
                 p);
        return rc;
    }
    if (rc != 0) {
        complain("cannot use the audit public key %1$s: %2$s / clé publique "
                 "d'audit %1$s inutilisable",
                 p, err_str(rc));
        return rc;
    }
    printf("  ok: manifest signature (Ed25519, %s) / signature du "
           "manifeste\n",
           p);
    if ((rc = manifest_parse(text, len, m, &bad)) != 0) {
        complain("refused: the manifest is malformed at line %1$d / refusé : "
                 "manifeste mal formé ligne %1$d",
                 bad);
        return rc;
    }
    if (memcmp(kid, m->key_id, sizeof(kid)) != 0) {
        complain("refused: the manifest names another audit key / refusé : "
                 "le manifeste nomme une autre clé d'audit");
        return ERR_CORRUPT;
    }
    if (manifest_file_find(m, "data/data.mdb") == NULL ||
        manifest_file_find(m, "keystore/data.mdb") == NULL) {
        complain("refused: the manifest does not list both stores / refusé : "
                 "le manifeste ne cite pas les deux bases");
        return ERR_CORRUPT;
    }
    *have_cp = manifest_file_find(m, "audit-checkpoint") != NULL;
    if ((rc = pathf(p, "%s/audit-checkpoint", a->backup_dir)) != 0)
        return rc;
    if (!*have_cp && access(p, F_OK) == 0) {
        complain("refused: %1$s is not in the manifest / refusé : %1$s "
                 "n'est pas dans le manifeste",
                 p);
        return ERR_CORRUPT;
    }
    for (size_t i = 0; i < m->nfiles; i++) {
        const struct manifest_file *f = &m->files[i];
        uint8_t sha[32];
        uint64_t size;

        if ((rc = pathf(p, "%s/%s", a->backup_dir, f->name)) != 0)
            return rc;
        if ((rc = manifest_file_hash(p, &size, sha)) != 0) {
            complain("refused: cannot read %1$s: %2$s / refusé : %1$s "
                     "illisible",
                     p, err_str(rc));
            return rc;
        }
        if (size != f->size || memcmp(sha, f->sha256, 32) != 0) {
            complain("refused: %1$s differs from the manifest (%2$" PRIu64
                     " bytes, manifest %3$" PRIu64
                     "; SHA-256 %4$s): the file was altered / refusé : "
                     "%1$s diffère du manifeste : le fichier a été modifié",
                     p, size, f->size,
                     memcmp(sha, f->sha256, 32) != 0 ? "differs" : "equal");
            return ERR_CORRUPT;
        }
        printf("  ok: %s, %" PRIu64 " bytes, SHA-256 as in the manifest / "
               "conforme au manifeste\n",
               f->name, size);
    }
    return 0;
}

/* The audit log of the copy: size, root, every hash, own checkpoint. */
static int
check_audit(const struct admin_backup_args *a, struct checked *c, bool have_cp)
{
    char cp[PATH_MAX], root[65];
    uint8_t r[32];
    uint64_t size = 0, bad = 0;
    struct store_txn *t = NULL;
    struct audit *au = NULL;
    int rc;

    if ((rc = pathf(cp, "%s/audit-checkpoint", a->backup_dir)) != 0)
        return rc;
    if ((rc = audit_of(c->copy, a->keys_dir, have_cp ? cp : NULL, &au)) !=
        0) {
        complain("refused: the audit log of the backup does not open or "
                 "does not extend the checkpoint saved with it: %1$s / "
                 "refusé : le journal d'audit de la sauvegarde ne s'ouvre "
                 "pas ou ne prolonge pas le point de contrôle sauvegardé",
                 err_str(rc));
        return rc;
    }
    if ((rc = store_txn_begin(c->copy, STORE_TXN_READ, NULL, &t)) != 0 ||
        (rc = audit_size(au, t, &size)) != 0)
        goto fail;
    if (size != c->m.tree_size) {
        complain("refused: the audit log holds %1$" PRIu64
                 " entries, the manifest says %2$" PRIu64
                 " / refusé : le journal compte %1$" PRIu64
                 " entrées, le manifeste %2$" PRIu64,
                 size, c->m.tree_size);
        rc = ERR_CORRUPT;
        goto out;
    }
    if ((rc = audit_root(au, t, size, r)) != 0)
        goto fail;
    if (memcmp(r, c->m.root, 32) != 0) {
        complain("refused: the audit log's Merkle root differs from the "
                 "manifest's / refusé : la racine de Merkle du journal "
                 "diffère de celle du manifeste");
        rc = ERR_CORRUPT;
        goto out;
    }
    admin_hex(r, 32, root);
    printf("  ok: audit log of %" PRIu64 " entries, root %s as in the "
           "manifest / journal d'audit, racine conforme\n",
           size, root);
    if ((rc = audit_verify(au, t, &bad)) != 0) {
        complain("refused: audit entry %1$" PRIu64
                 " or a subtree above it fails its hash / refusé : l'entrée "
                 "d'audit %1$" PRIu64 " ou un sous-arbre ne correspond pas "
                 "à son empreinte",
                 bad);
        goto out;
    }
    printf("  ok: every audit entry and subtree hash recomputed / chaque "
           "empreinte du journal recalculée%s\n",
           have_cp ? "; extends its saved checkpoint / prolonge le point de "
                     "contrôle sauvegardé"
                   : "");
    goto out;
fail:
    complain("refused: cannot read the audit log of the backup: %1$s / "
             "refusé : journal d'audit de la sauvegarde illisible",
             err_str(rc));
out:
    store_txn_abort(t);
    audit_close(au);
    return rc;
}

/* The ids of every person of the copy, into |*ids| (caller frees). */
static int
person_ids(struct store *s, struct vault_id **ids, size_t *n)
{
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    struct vault_id *v = NULL;
    size_t cap = 0;
    int rc;

    *ids = NULL;
    *n = 0;
    if ((rc = store_txn_begin(s, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_PERSONS, NULL, 0, &cur)) != 0) {
        store_txn_abort(t);
        return rc;
    }
    while ((rc = store_cursor_next(cur, &e)) == 0) {
        if (e.key_len != VAULT_ID_LEN)
            continue;
        if (*n == cap) {
            void *p = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
            if (p == NULL) {
                rc = -ENOMEM;
                break;
            }
            v = p;
        }
        memcpy(v[(*n)++].b, e.key, VAULT_ID_LEN);
    }
    store_txn_abort(t);
    if (rc != ERR_NOTFOUND) {
        free(v);
        *n = 0;
        return rc;
    }
    *ids = v;
    return 0;
}

/* One document version: every chunk opens and the content hashes to its
 * recorded SHA-256 and size. */
static int
check_doc(struct vault *v, const struct vault_person *p,
          const Dossier__V1__DocumentMeta *meta, uint64_t *bytes)
{
    struct crypto_sha256 h;
    struct vault_doc d;
    struct buf b;
    uint8_t sha[32];
    uint64_t total = 0;
    int rc;

    if ((rc = vault_doc_open(v, p, meta->document_id, (uint32_t)meta->version,
                             &d)) != 0)
        return rc;
    buf_init(&b);
    if ((rc = crypto_sha256_init(&h)) != 0) {
        vault_doc_close(&d);
        return rc;
    }
    for (uint32_t i = 0; i < d.chunks && rc == 0; i++) {
        size_t len = vault_doc_chunk_len(&d, i);
        uint8_t *out;

        buf_reset(&b);
        if ((out = buf_space(&b, len)) == NULL)
            rc = -ENOMEM;
        else if ((rc = vault_doc_chunk(v, p, &d, i, out)) == 0) {
            total += len;
            rc = crypto_sha256_update(&h, out, len);
        }
    }
    if (rc == 0)
        rc = crypto_sha256_final(&h, sha);
    crypto_sha256_close(&h);
    buf_wipe(&b);
    vault_doc_close(&d);
    if (rc == 0 && (total != (uint64_t)meta->size || meta->sha256.len != 32 ||
                    memcmp(sha, meta->sha256.data, 32) != 0))
        rc = ERR_CORRUPT;
    *bytes += total;
    return rc;
}

/* Every version of every document of every person decrypts whole. */
static int
check_documents(const struct admin_backup_args *a, struct checked *c)
{
    struct vault *v = NULL;
    struct vault_id *ids = NULL;
    size_t n = 0, docs = 0, erased = 0;
    uint64_t bytes = 0;
    char ks[PATH_MAX], sid[VAULT_ID_STR];
    int rc;

    if ((rc = pathf(ks, "%s/keystore", a->backup_dir)) != 0)
        return rc;
    if ((rc = keyring_load(a->keys_dir, &c->kr)) != 0) {
        complain("cannot load the master keys of %1$s: %2$s / impossible de "
                 "charger les clés maîtresses de %1$s",
                 a->keys_dir, err_str(rc));
        return rc;
    }
    if ((rc = store_open_readonly(ks, true, &c->keys)) != 0) {
        complain("refused: the data-key store copy %1$s does not open: %2$s "
                 "/ refusé : la copie des clés de données %1$s ne s'ouvre "
                 "pas",
                 ks, err_str(rc));
        return rc;
    }
    if ((rc = vault_open(c->copy, c->keys, NULL, c->kr, NULL, UINT64_MAX,
                         &v)) != 0 ||
        (rc = person_ids(c->copy, &ids, &n)) != 0) {
        complain("refused: cannot read the dossiers of the backup: %1$s / "
                 "refusé : dossiers de la sauvegarde illisibles",
                 err_str(rc));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        Dossier__V1__DocumentMeta **metas = NULL;
        struct vault_person p;
        size_t nm = 0;

        rc = vault_person_open(v, &ids[i], &p);
        if (rc == ERR_NOTFOUND) {
            erased++; /* DEK gone: erased (crypto-shredded) */
            rc = 0;
            continue;
        }
        vault_id_format(&ids[i], sid);
        if (rc != 0) {
            complain("refused: the data key of dossier %1$s does not unwrap "
                     "with the master keys of %2$s: %3$s / refusé : la clé "
                     "du dossier %1$s ne se déchiffre pas",
                     sid, a->keys_dir, err_str(rc));
            goto out;
        }
        rc = vault_doc_list(v, &p, NULL, true, &metas, &nm);
        for (size_t j = 0; rc == 0 && j < nm; j++) {
            if ((rc = check_doc(v, &p, metas[j], &bytes)) != 0)
                complain("refused: document %1$s version %2$d of dossier "
                         "%3$s does not decrypt to its SHA-256: %4$s / "
                         "refusé : le document %1$s version %2$d du dossier "
                         "%3$s ne se déchiffre pas conformément",
                         metas[j]->document_id, (int)metas[j]->version, sid,
                         err_str(rc));
            docs++;
        }
        if (rc != 0 && nm == 0)
            complain("refused: the documents of dossier %1$s cannot be "
                     "listed: %2$s / refusé : documents du dossier %1$s "
                     "illisibles",
                     sid, err_str(rc));
        for (size_t j = 0; j < nm; j++)
            dossier__v1__document_meta__free_unpacked(metas[j], NULL);
        free(metas);
        vault_person_close(&p);
        if (rc != 0)
            goto out;
    }
    printf("  ok: %zu dossiers, %zu document versions (%" PRIu64
           " bytes) decrypted to their SHA-256 with the master keys; %zu "
           "erased / dossiers, versions de documents déchiffrées et "
           "vérifiées ; effacés\n",
           n - erased, docs, bytes, erased);
out:
    free(ids);
    vault_close(v);
    return rc;
}

/* Every check of verify-backup; |c| holds what was opened. */
static int
backup_check(const struct admin_backup_args *a, struct checked *c)
{
    char p[PATH_MAX];
    bool have_cp = false;
    int rc;

    memset(c, 0, sizeof(*c));
    if ((rc = check_manifest(a, &c->m, &have_cp)) != 0)
        return rc;
    if ((rc = pathf(p, "%s/data", a->backup_dir)) != 0)
        return rc;
    if ((rc = store_open_readonly(p, true, &c->copy)) != 0) {
        complain("refused: the data store copy %1$s does not open: %2$s / "
                 "refusé : la copie de la base %1$s ne s'ouvre pas",
                 p, err_str(rc));
        return rc;
    }
    printf("  ok: the data store copy opens read-only / la copie s'ouvre en "
           "lecture seule\n");
    if ((rc = check_audit(a, c, have_cp)) != 0)
        return rc;
    return check_documents(a, c);
}

int
admin_backup_verify(const struct admin_backup_args *a)
{
    struct checked c;
    int rc;

    printf(ADMIN_PROG ": verifying / vérification de %s\n", a->backup_dir);
    rc = backup_check(a, &c);
    checked_close(&c);
    if (rc == 0)
        printf(ADMIN_PROG ": backup verified / sauvegarde vérifiée\n");
    return rc;
}

/* --- restore -------------------------------------------------------------
 */

/* Copies |bdir|/|name|/data.mdb into the new store directory |dest|. */
static int
restore_store(const char *bdir, const char *name, const char *dest)
{
    char src[PATH_MAX], dst[PATH_MAX];
    int rc;

    if ((rc = pathf(src, "%s/%s/data.mdb", bdir, name)) != 0 ||
        (rc = pathf(dst, "%s/data.mdb", dest)) != 0 ||
        (rc = dir_fresh(dest)) != 0)
        return rc;
    if ((rc = file_copy(src, dst, 0600)) != 0)
        complain("cannot copy %1$s to %2$s: %3$s / impossible de copier %1$s "
                 "vers %2$s",
                 src, dst, err_str(rc));
    else
        printf("  restored / restauré: %s\n", dst);
    return rc;
}

int
admin_backup_restore(const struct admin_backup_args *a)
{
    char cp[PATH_MAX];
    struct checked c;
    struct audit *au = NULL;
    int rc;

    printf(ADMIN_PROG ": verifying / vérification de %s\n", a->backup_dir);
    if ((rc = backup_check(a, &c)) != 0)
        goto out;
    /* The daemon's own rollback and fork check, against the last
     * checkpoint it handed out: a restore must not undo the log. */
    if ((rc = pathf(cp, "%s/" AUDIT_CHECKPOINT_FILE, a->keys_dir)) != 0)
        goto out;
    if ((rc = audit_of(c.copy, a->keys_dir, cp, &au)) != 0) {
        complain("refused: the backup's audit log (%1$" PRIu64
                 " entries) does not extend the last checkpoint in %2$s: the "
                 "backup is older than the log the daemon last vouched for, "
                 "or a fork; restoring it would roll back the audit log. "
                 "Restore a newer backup / refusé : le journal d'audit de la "
                 "sauvegarde (%1$" PRIu64 " entrées) ne prolonge pas le "
                 "dernier point de contrôle de %2$s : sauvegarde plus "
                 "ancienne que le journal attesté, ou divergente ; la "
                 "restaurer ferait reculer le journal. Restaurez une "
                 "sauvegarde plus récente",
                 c.m.tree_size, cp);
        goto out;
    }
    printf("  ok: the audit log extends the last checkpoint of %s / le "
           "journal prolonge le dernier point de contrôle\n",
           a->keys_dir);
    audit_close(au);
    au = NULL;
    if ((rc = restore_store(a->backup_dir, "data", a->data_dir)) != 0 ||
        (rc = restore_store(a->backup_dir, "keystore", a->keystore_dir)) != 0)
        goto out;
    printf(ADMIN_PROG ": restored; start dossierd with --data %1$s "
                      "--keystore %2$s --keys %3$s / restauré ; démarrez "
                      "dossierd avec ces options\n",
           a->data_dir, a->keystore_dir, a->keys_dir);
out:
    audit_close(au);
    checked_close(&c);
    return rc;
}
