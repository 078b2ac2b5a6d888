/*
 * crypto.h -- the one module that does cryptography on data.
 *
 * Seals and opens values with AES-256-GCM and additional authenticated
 * data, makes random bytes and random opaque ids, computes HMAC-SHA256 and
 * SHA-256 (one-shot and streaming), compares secrets in constant time and
 * wipes them.  Everything goes through OpenSSL's EVP interface; OpenSSL
 * error codes are translated here and nowhere else.
 *
 * It deliberately knows nothing of keys' origin or meaning (keyring.h
 * loads and uses master and pepper keys), of what the additional data
 * binds (the vault builds it), nor of the store.  It keeps no state: every
 * function may run on any thread, concurrently, as long as the buffers
 * passed to one call are not modified by another thread during the call.
 *
 * Sealed format (version 1), CRYPTO_SEAL_OVERHEAD bytes more than the
 * plaintext:
 *
 *     +---------+----------------+----------------+------------+
 *     | 0x01    | nonce (12)     | ciphertext (n) | tag (16)   |
 *     +---------+----------------+----------------+------------+
 *
 * The version byte is authenticated too (it is fed to GCM as the first
 * byte of the additional data), so it cannot be changed to make a future
 * format reinterpret a sealed value.
 *
 * Why random 96-bit nonces are safe here.  GCM fails catastrophically if a
 * (key, nonce) pair ever repeats.  With nonces drawn at random from 2^96,
 * the chance of any repeat among q seals under one key is about
 * q^2 / 2^97; NIST SP 800-38D (8.3) caps random-nonce use at 2^32 seals per
 * key, which keeps that below 2^-33.  Each person has their own data key
 * (DEK), and a person's dossier is sealed in 64 KiB chunks plus a few
 * records per document: even a person with a million documents stays
 * several orders of magnitude below 2^32 seals.  The master key seals only
 * DEKs (one per person and per rotation): at 70 million persons that is
 * ~2^26 seals, also far below the limit, and rotation starts a new key.
 * The limit to respect: never seal more than 2^32 values under one key;
 * a caller that could approach it (a key shared by all persons for bulk
 * data, say) must rotate keys or use another construction.
 */
#ifndef DOSSIER_CRYPTO_H
#define DOSSIER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CRYPTO_KEY_LEN 32 /* AES-256 */
#define CRYPTO_SEAL_VERSION 1
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (1 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN) /* 29 */
/* Largest plaintext (and largest additional data) one seal takes: 1 GiB.
 * Stored values are chunks of at most tens of KiB; the bound keeps every
 * length inside OpenSSL's int and far inside GCM's 2^36-byte limit. */
#define CRYPTO_SEAL_MAX ((size_t)1 << 30)

#define CRYPTO_HASH_LEN 32 /* SHA-256 and HMAC-SHA256 output */

/* Random opaque ids: 128 random bits. */
#define CRYPTO_ID_LEN 16
/* Printable length of an id (26 Crockford base32 digits) and its NUL. */
#define CRYPTO_ID_CHARS 26
#define CRYPTO_ID_STR (CRYPTO_ID_CHARS + 1)

/*
 * Fills |n| bytes at |out| from OpenSSL's CSPRNG (RAND_bytes).
 *
 * Returns 0, or -EIO if the generator failed (logged; |out| is then
 * wiped, never left half-random).  Any thread.
 */
int crypto_random(void *out, size_t n);

/*
 * Seals |pt| (|ptlen| bytes) under |key| with the additional data |aad|
 * (|aadlen| bytes, may be NULL when 0) into |out|, which must hold
 * |ptlen| + CRYPTO_SEAL_OVERHEAD bytes and must not overlap |pt|.  A fresh
 * random nonce is drawn for every call.
 *
 * Returns 0, ERR_TOOBIG (|ptlen| or |aadlen| over CRYPTO_SEAL_MAX), -EIO
 * (the generator or the cipher failed, logged) or -ENOMEM.  On failure
 * |out| is wiped.  Any thread.
 */
int crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                size_t aadlen, const void *pt, size_t ptlen, uint8_t *out);

/*
 * Opens |sealed| (|len| bytes, as made by crypto_seal with the same |key|
 * and the same |aad|) into |out|, which must hold |len| -
 * CRYPTO_SEAL_OVERHEAD bytes (crypto_open_len) and must not overlap
 * |sealed|.  |*ptlen|, if not NULL, receives the plaintext length.
 *
 * Returns 0, ERR_CORRUPT (authentication failed: wrong key, wrong |aad|,
 * any altered byte; or malformed input: shorter than the overhead, unknown
 * version, longer than a seal can be), or -ENOMEM / -EIO (the cipher could
 * not run, logged).  On any failure no plaintext is left in |out|:
 * whatever was decrypted before the tag check is wiped.  ERR_CORRUPT is
 * not logged: the caller knows which record failed and logs its id.
 * Any thread.
 */
int crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                size_t aadlen, const void *sealed, size_t len, uint8_t *out,
                size_t *ptlen);

/* Plaintext length of a sealed value of |len| bytes, or 0 if |len| is
 * shorter than CRYPTO_SEAL_OVERHEAD.  Any thread. */
size_t crypto_open_len(size_t len);

/*
 * crypto_seal that appends the sealed value to |out| (its unread bytes
 * are kept).  Returns as crypto_seal; on failure |out| is unchanged (the
 * space it may have reserved holds no secret).
 */
int crypto_seal_buf(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                    size_t aadlen, const void *pt, size_t ptlen,
                    struct buf *out);

/*
 * crypto_open that appends the plaintext to |out|, which the caller owns
 * and must wipe (buf_wipe) when done.  Returns as crypto_open; on failure
 * |out| holds what it held before and the bytes written past its end are
 * wiped.
 */
int crypto_open_buf(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                    size_t aadlen, const void *sealed, size_t len,
                    struct buf *out);

/*
 * Fills |id| with CRYPTO_ID_LEN random bytes.  Returns as crypto_random.
 */
int crypto_id_new(uint8_t id[CRYPTO_ID_LEN]);

/*
 * Writes the printable form of |id| into |out|: the 128-bit id read as a
 * big-endian number, written as 26 lowercase Crockford base32 digits
 * (0-9 a-h j k m n p-t v-z: no i, l, o, u, so nothing reads as another
 * digit), NUL-terminated; the first digit is 0-7.  This is the canonical
 * form: it is what ids look like in logs, in JSON and on paper.  Any
 * grouping for display ("01hq-3k...") is the caller's; crypto_id_decode
 * reads it back.  Any thread.
 */
void crypto_id_encode(const uint8_t id[CRYPTO_ID_LEN], char out[CRYPTO_ID_STR]);

/*
 * Parses an id typed by a person: Crockford base32, case-insensitive;
 * '-' and ' ' anywhere are ignored (grouped forms); i and l read as 1,
 * o as 0 (Crockford's rule for what people mistype).  Exactly 26 digits
 * must remain, the first 0-7.
 *
 * Returns 0 with |id| filled, or ERR_INVALID (|id| then unspecified).
 * Any thread.
 */
int crypto_id_decode(const char *s, uint8_t id[CRYPTO_ID_LEN]);

/*
 * HMAC-SHA256 of |data| (|len| bytes) under |key| (|keylen| bytes) into
 * |out|.  Returns 0, -ENOMEM or -EIO (logged); |out| is wiped on failure.
 * Any thread.
 */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
                       size_t len, uint8_t out[CRYPTO_HASH_LEN]);

/*
 * SHA-256 of |data| (|len| bytes) into |out|.  Returns 0, -ENOMEM or -EIO
 * (logged).  Any thread.
 */
int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_HASH_LEN]);

/*
 * Streaming SHA-256, for contents that arrive in pieces (a document being
 * deposited).  One owner at a time.  Use:
 *
 *     struct crypto_sha256 h;
 *     crypto_sha256_init(&h);      then crypto_sha256_update(&h, ...)...
 *     crypto_sha256_final(&h, out);
 *     crypto_sha256_close(&h);     always, also after a failure
 *
 * crypto_sha256_close releases the state; it is a no-op on a state that
 * is closed already (final closes it), zeroed, or whose init failed.
 */
struct crypto_sha256 {
    void *ctx; /* EVP_MD_CTX, NULL when closed */
};

/* Returns 0, -ENOMEM or -EIO (logged). */
int crypto_sha256_init(struct crypto_sha256 *h);
/* Returns 0 or -EIO (logged; also if |h| is closed). */
int crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len);
/* Writes the digest of everything updated so far and releases the state
 * (as crypto_sha256_close: further updates are an error, -EIO, until the
 * next init).  Returns 0, or -EIO (logged; also if |h| is closed). */
int crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_HASH_LEN]);
void crypto_sha256_close(struct crypto_sha256 *h);

/*
 * True if the |n| bytes at |a| and |b| are equal, in a time that depends
 * only on |n| (for MACs, hashes used as keys, tokens).  Any thread.
 */
bool crypto_equal(const void *a, const void *b, size_t n);

/* Overwrites |n| bytes at |p| with zeros in a way the compiler cannot
 * remove (OPENSSL_cleanse).  |p| may be NULL when |n| is 0.  Any thread. */
void crypto_wipe(void *p, size_t n);

#endif
