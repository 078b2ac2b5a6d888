/*
 * keyring.h -- the master and pepper keys, loaded from the keys directory.
 *
 * Files (each 32 random bytes written as 64 hex digits and a newline,
 * mode 0600 or stricter, as keyring_generate_file makes them):
 *
 *     master-<N>.key   a master key; N is its key id, decimal, 1..2^31,
 *                      without leading zeros.  Master keys wrap the
 *                      persons' data keys (DEKs).
 *     pepper.key       the key of the NIR look-up hash.
 *
 * The current master key is the one with the highest id: new DEKs are
 * wrapped with it.  Older master keys stay loaded to unwrap the DEKs they
 * wrapped until those are re-wrapped.
 *
 * Rotation: the operator adds master-<N+1>.key (dossier-admin) and sends
 * the daemon SIGHUP; the daemon calls keyring_load() again and swaps the
 * new keyring in, so the current id becomes N+1.  A background step
 * re-wraps every DEK under the new key (vault_rewrap_step); only once it
 * reports none left may the operator remove master-<N>.key.  Documents are
 * never re-encrypted: only the 65-byte wrapped DEKs change.
 *
 * What this module does not do: the cipher work (crypto.h), storing
 * wrapped DEKs (the vault), the audit signing key, TLS keys.  Key bytes
 * never leave it except as a DEK the caller asked to unwrap, and are
 * never logged: log lines name files and key ids.
 *
 * A loaded keyring is never modified: any number of threads may use one
 * at the same time.  keyring_free must not run while another thread uses
 * it (reload swaps the pointer, and frees the old keyring once no request
 * holds it).
 */
#ifndef DOSSIER_KEYRING_H
#define DOSSIER_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"

struct keyring;

#define KEYRING_KEY_LEN 32         /* every key: master, pepper, DEK */
#define KEYRING_ID_MAX 0x80000000u /* 2^31, the largest master key id */
/* A wrapped DEK: the 4-byte big-endian key id, then the sealed DEK. */
#define KEYRING_WRAPPED_LEN (4 + CRYPTO_SEAL_OVERHEAD + KEYRING_KEY_LEN)

/*
 * Loads every master-<N>.key and pepper.key of directory |dir| into a new
 * keyring, stored in |*out| (the caller frees it with keyring_free).
 * Other files of |dir| are ignored (TLS keys and certificates live there
 * too), and so are names starting with '.' (keyring_generate_file's
 * temporary files).
 *
 * Returns 0, or ERR_KEY, each failure logged with the file it concerns:
 * a key file failing tls_key_file_check (group or other may read it, or
 * not a regular file); a key file that is not exactly 64 hex digits and an
 * optional newline; a master-*.key name whose id is not a decimal number
 * in 1..2^31 without leading zeros; no master key or no pepper key in
 * |dir| ("run dossier-admin init-dev or keygen"); |dir| unreadable.
 * -ENOMEM if memory ran out.  |*out| is NULL on failure.
 * Any thread; reads files, so not on the loop thread once serving.
 */
int keyring_load(const char *dir, struct keyring **out);

/* Wipes every key and frees |kr|.  NULL is a no-op. */
void keyring_free(struct keyring *kr);

/* The id of the current master key (the highest loaded), >= 1. */
uint32_t keyring_master_current_id(const struct keyring *kr);

/* Whether master key |id| is loaded. */
bool keyring_has_master(const struct keyring *kr, uint32_t id);

/* Number of master keys loaded, >= 1. */
size_t keyring_master_count(const struct keyring *kr);

/*
 * Wraps |dek| for the person |person| (an opaque id of |personlen| bytes,
 * 1..64) with the current master key, appending KEYRING_WRAPPED_LEN bytes
 * to |out|: the key id (4 bytes, big-endian) then the sealed DEK.  The
 * additional data binds the result to |person| and to the key id, so a
 * wrapped DEK copied to another person, or relabelled with another key
 * id, fails to unwrap.
 *
 * Returns 0, ERR_INVALID (|personlen| out of range), -EIO or -ENOMEM
 * (|out| then unchanged).
 */
int keyring_wrap_dek(const struct keyring *kr, const void *person,
                     size_t personlen, const uint8_t dek[KEYRING_KEY_LEN],
                     struct buf *out);

/*
 * Unwraps |wrapped| (|len| bytes, from keyring_wrap_dek for the same
 * |person|) into |dek|, which the caller must wipe (crypto_wipe) when done.
 *
 * Returns 0; ERR_KEY if the master key that wrapped it is not loaded
 * (logged with its id: a key file was removed too early); ERR_CORRUPT if
 * |wrapped| is malformed or fails authentication (altered, or another
 * person's); ERR_INVALID (|personlen| out of range); -EIO or -ENOMEM.
 * |dek| is wiped on failure.
 */
int keyring_unwrap_dek(const struct keyring *kr, const void *person,
                       size_t personlen, const void *wrapped, size_t len,
                       uint8_t dek[KEYRING_KEY_LEN]);

/*
 * The id of the master key that wrapped |wrapped| (|len| bytes), read
 * from its prefix without unwrapping, or 0 if it is not the length of a
 * wrapped DEK or its id is out of range.  For rotation: a DEK whose id is
 * not keyring_master_current_id() needs re-wrapping.
 */
uint32_t keyring_wrapped_key_id(const void *wrapped, size_t len);

/*
 * The NIR look-up hash: HMAC-SHA256 under the pepper key of "nir:" and
 * the canonical form of |nir| (nir_normalize is applied here, so "1 84 ..."
 * and "184..." give one hash).  Without the pepper key the hash cannot be
 * recomputed from a guessed NIR, which a plain hash of a 15-digit number
 * would allow.
 *
 * Returns 0, ERR_INVALID (|nir| is not a valid NIR; not logged), -EIO or
 * -ENOMEM.  |out| is wiped on failure.
 */
int keyring_nir_hash(const struct keyring *kr, const char *nir,
                     uint8_t out[CRYPTO_HASH_LEN]);

/*
 * Another look-up hash under the pepper key: HMAC-SHA256 of |label| ":"
 * |value|, e.g. label "principal" for the certificate id a person's
 * dossier is reached by.  |label| must not be "nir" (keyring_nir_hash
 * owns that space) nor contain ':'.  Returns 0, ERR_INVALID or -ENOMEM;
 * |out| is wiped on failure.  Any thread.
 */
int keyring_lookup_hash(const struct keyring *kr, const char *label,
                        const char *value, uint8_t out[CRYPTO_HASH_LEN]);

/*
 * Makes a new key file at |path|: 32 random bytes as 64 lowercase hex
 * digits and a newline, mode 0600.  The file is written under a
 * temporary name (".<name>.XXXXXX" in the same directory), flushed with
 * fsync, then moved into place without ever replacing an existing file,
 * and the directory is synced: after a crash |path| either does not exist
 * or holds a whole key.
 *
 * Returns 0, ERR_EXISTS (|path| exists: it is never overwritten), or a
 * negative errno (logged with the path).  Used by dossier-admin; any
 * thread.
 */
int keyring_generate_file(const char *path);

#endif
