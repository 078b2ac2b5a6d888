/*
 * admin_manifest.h -- the signed manifest of a dossierd backup.
 *
 * A backup directory holds the copy of the data store (data/data.mdb),
 * the copy of the data-key store (keystore/data.mdb), the audit
 * checkpoint file as it was when the backup began (audit-checkpoint, when
 * the daemon had handed one out), and MANIFEST with MANIFEST.sig.  The
 * manifest is text, one record a line, each ended by "\n", in this order:
 *
 *     dossierd backup v1
 *     created_unix_ms <decimal>
 *     audit_tree_size <decimal>
 *     audit_root <64 hex digits: the Merkle root of that many entries>
 *     audit_key_id <16 hex digits: SHA-256 of the audit public key's
 *                   DER SubjectPublicKeyInfo, first 8 bytes>
 *     file <name> <size in bytes> <SHA-256, 64 hex digits>   (1 to 3)
 *
 * with names among data/data.mdb, keystore/data.mdb, audit-checkpoint.
 * MANIFEST.sig is the Ed25519 signature of the audit key over the exact
 * bytes of MANIFEST, as 128 hex digits and a newline.  The first line
 * differs from a checkpoint's ("dossierd checkpoint v1"), so one signed
 * text can never pass for the other.
 *
 * This module formats, parses, hashes and verifies; it does not copy
 * stores (admin_backup.c does) nor sign (audit_sign holds the key).
 */
#ifndef DOSSIER_ADMIN_MANIFEST_H
#define DOSSIER_ADMIN_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_SIG_NAME "MANIFEST.sig"
#define MANIFEST_MAGIC "dossierd backup v1"
#define MANIFEST_FILES_MAX 3
#define MANIFEST_TEXT_MAX 1024
#define MANIFEST_SIG_LEN 64
#define MANIFEST_KEY_ID_LEN 8

struct manifest_file {
    char name[32];
    uint64_t size;
    uint8_t sha256[32];
};

struct manifest {
    int64_t created_ms;
    uint64_t tree_size;
    uint8_t root[32];
    uint8_t key_id[MANIFEST_KEY_ID_LEN];
    struct manifest_file files[MANIFEST_FILES_MAX];
    size_t nfiles;
};

/* The text of |m| into |out| (MANIFEST_TEXT_MAX bytes) with its NUL;
 * returns its length. */
size_t manifest_format(const struct manifest *m, char *out);

/*
 * Parses |len| bytes of |text| into |*m|.  Returns 0, or ERR_CORRUPT with
 * |*bad_line| (1-based) set to the first line that is not as above (an
 * unknown or repeated file name, a number with a sign or leading zeros,
 * hex of the wrong length, anything after the last line).
 */
int manifest_parse(const char *text, size_t len, struct manifest *m,
                   int *bad_line);

/* The file record named |name| of |m|, or NULL. */
const struct manifest_file *manifest_file_find(const struct manifest *m,
                                               const char *name);

/* Size and SHA-256 of the file at |path|, read in 1 MiB pieces.  Returns
 * 0, or a negative errno, or -ENOMEM. */
int manifest_file_hash(const char *path, uint64_t *size, uint8_t sha[32]);

/*
 * Loads the Ed25519 public key of |pub_path| (PEM) and computes its key
 * id; with |sig| not NULL, also checks |sig| over |msg| (|len| bytes).
 * Returns 0, ERR_KEY (no Ed25519 public key in the file), ERR_CORRUPT
 * (the signature does not verify), or a negative errno.
 */
int manifest_sig_check(const char *pub_path, const void *msg, size_t len,
                       const uint8_t sig[MANIFEST_SIG_LEN],
                       uint8_t key_id[MANIFEST_KEY_ID_LEN]);

/* Reads the whole small file |path| (at most |max| bytes) into |buf|
 * (|max| + 1 bytes, NUL-terminated) and its length into |*len|.  Returns
 * 0, ERR_TOOBIG or a negative errno. */
int manifest_read_small(const char *path, char *buf, size_t max, size_t *len);

#endif
