/*
 * admin_backup.h -- hot backups of a dossierd store: make, verify,
 * restore (dossier-admin backup, verify-backup, restore).
 *
 * A backup is a directory (admin_manifest.h): compacted copies of the data
 * store and of the data-key store taken while the daemon serves, the
 * audit checkpoint file as it was before the copies, and a manifest
 * signed with the audit key.  The copies are taken in this order:
 * checkpoint file, data store, key store.  The checkpoint first: the log
 * copied later can only be longer, so the copy extends it.  The data
 * store before the key store: every person in the data copy was enrolled
 * (DEK written) before it, so the key copy holds that DEK -- unless the
 * person was erased in between, which is what erasure means for backups
 * too.  Each copy is one LMDB read transaction (store_backup): the daemon
 * is never blocked, and its writer never reuses the pages being copied.
 *
 * Verification trusts nothing in the directory but the audit public key
 * and the master keys of the keys directory: the manifest's signature,
 * every file's size and SHA-256, the copy opened read-only (no lock file
 * made), the audit log's size and Merkle root recomputed against the
 * manifest, every stored subtree hash and entry leaf hash (audit_verify),
 * the log extending the backup's own checkpoint (audit_open), and every
 * version of every document decrypted, chunk by chunk, to its recorded
 * size and SHA-256.  Restoring verifies first, then refuses a backup whose
 * log does not extend the last checkpoint of the keys directory (the same
 * rollback and fork check the daemon makes at start, audit_open), then
 * copies the stores to paths that must not hold a store yet.
 *
 * Each call prints what it checked on stdout ("ok: ..." lines) and says
 * every refusal once on stderr, in English and French.  Returns 0 or an
 * error code (err.h or a negative errno).
 */
#ifndef DOSSIER_ADMIN_BACKUP_H
#define DOSSIER_ADMIN_BACKUP_H

struct admin_backup_args {
    const char *keys_dir;     /* audit.key, audit.pub, master keys */
    const char *data_dir;     /* backup: the live store; restore: target */
    const char *keystore_dir; /* backup: the live key store; restore:
                                 target (required) */
    const char *backup_dir;   /* the backup directory */
};

int admin_backup_make(const struct admin_backup_args *a);
int admin_backup_verify(const struct admin_backup_args *a);
int admin_backup_restore(const struct admin_backup_args *a);

#endif
