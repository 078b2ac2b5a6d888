/*
 * crypto.c -- AES-256-GCM seals, random ids, HMAC, SHA-256 (see crypto.h).
 *
 * Every OpenSSL call of the project that touches data goes through here.
 * OpenSSL reports failures on a per-thread error queue; a stale entry left
 * there would later make SSL_get_error() on the same thread report a TLS
 * failure that did not happen, so every failure path below empties the
 * queue (logging it when the failure is ours to report).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "err.h"
#include "log.h"

/*
 * AES-256-GCM and SHA-256, fetched from the provider once.  Passing
 * EVP_aes_256_gcm() or EVP_sha256() to an init makes OpenSSL 3 look the
 * implementation up again on every call, under a lock (an "implicit
 * fetch"): 5.5% of dossierd's CPU on a 1 KiB read in make bench, which
 * opens three seals and hashes several Merkle nodes.  Kept for the life
 * of the process; if a fetch fails, the implicit form is used.
 */
static pthread_once_t crypto_fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *crypto_gcm_fetched;
static EVP_MD *crypto_sha256_fetched;

static void
crypto_fetch(void)
{
    crypto_gcm_fetched = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    crypto_sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    ERR_clear_error(); /* a failed fetch falls back; see above */
}

static const EVP_CIPHER *
crypto_gcm(void)
{
    pthread_once(&crypto_fetch_once, crypto_fetch);
    return crypto_gcm_fetched ? crypto_gcm_fetched : EVP_aes_256_gcm();
}

static const EVP_MD *
crypto_md_sha256(void)
{
    pthread_once(&crypto_fetch_once, crypto_fetch);
    return crypto_sha256_fetched ? crypto_sha256_fetched : EVP_sha256();
}

/*
 * AES-256-GCM contexts per thread, made once, each keeping the schedule of
 * the last key it was given.  A context made and freed at each call cost
 * two allocations, the provider's context set-up and its wiping; and a key
 * given anew at each call costs the AES key expansion and GHASH's table:
 * 5.7% of the loop thread's time on 1 KiB reads, which open a dossier key
 * with the master key, then two or three seals with that dossier key.  So
 * each thread keeps CRYPTO_CTX_SLOTS contexts with the keys they hold; a
 * seal or open with one of those keys only sets the nonce, another key
 * takes the context used least recently.  The keys and schedules stay in
 * the thread's contexts until replaced or the thread's end (where they are
 * wiped), as the key ring stays in the process.  Seals and opens never
 * nest.  Each thread also keeps a SHA-256 context for crypto_sha256: the
 * audit log hashes two or three times per read, and a context made and
 * freed each time was a sixth of the writer thread's own instructions.
 */
#define CRYPTO_CTX_SLOTS 2

struct crypto_ctxs {
    EVP_CIPHER_CTX *ctx[CRYPTO_CTX_SLOTS];
    uint8_t key[CRYPTO_CTX_SLOTS][CRYPTO_KEY_LEN];
    bool keyed[CRYPTO_CTX_SLOTS]; /* key[i] is the one ctx[i] holds */
    unsigned recent;              /* the slot used last */
    EVP_MD_CTX *sha;              /* crypto_sha256's */
};

static pthread_once_t crypto_ctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t crypto_ctx_key;
static bool crypto_ctx_key_ok;

static void
crypto_ctxs_free(void *p)
{
    struct crypto_ctxs *cs = p;

    for (int i = 0; i < CRYPTO_CTX_SLOTS; i++)
        EVP_CIPHER_CTX_free(cs->ctx[i]); /* wipes it */
    EVP_MD_CTX_free(cs->sha);
    OPENSSL_cleanse(cs, sizeof(*cs));
    free(cs);
}

static void
crypto_ctx_key_make(void)
{
    crypto_ctx_key_ok = pthread_key_create(&crypto_ctx_key,
                                           crypto_ctxs_free) == 0;
}

/* This thread's contexts, each set for AES-256-GCM with CRYPTO_NONCE_LEN-
 * byte nonces and owned by the thread, or NULL when they cannot be made
 * (out of memory). */
static struct crypto_ctxs *
crypto_thread_ctxs(void)
{
    struct crypto_ctxs *cs;

    pthread_once(&crypto_ctx_once, crypto_ctx_key_make);
    if (!crypto_ctx_key_ok)
        return NULL;
    if ((cs = pthread_getspecific(crypto_ctx_key)) != NULL)
        return cs;
    if ((cs = calloc(1, sizeof(*cs))) == NULL)
        return NULL;
    for (int i = 0; i < CRYPTO_CTX_SLOTS; i++) {
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

        cs->ctx[i] = c;
        if (c == NULL ||
            EVP_CipherInit_ex(c, crypto_gcm(), NULL, NULL, NULL, 1) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, CRYPTO_NONCE_LEN,
                                NULL) != 1) {
            crypto_ctxs_free(cs);
            return NULL;
        }
    }
    if ((cs->sha = EVP_MD_CTX_new()) == NULL) {
        crypto_ctxs_free(cs);
        return NULL;
    }
    if (pthread_setspecific(crypto_ctx_key, cs) != 0) {
        crypto_ctxs_free(cs);
        return NULL;
    }
    return cs;
}

/*
 * A context of this thread ready to seal (|enc| 1) or open (0) with |key|
 * and |nonce|, into |*out|.  Returns 0, -ENOMEM (the thread's contexts
 * cannot be made) or -EIO (OpenSSL failed: its error queue says why).
 * The context's key is forgotten if the set-up fails, so a half-keyed
 * context is never taken for keyed.
 */
static int
crypto_gcm_ctx(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *nonce,
               int enc, EVP_CIPHER_CTX **out)
{
    struct crypto_ctxs *cs = crypto_thread_ctxs();
    unsigned i;

    if (cs == NULL)
        return -ENOMEM;
    for (i = 0; i < CRYPTO_CTX_SLOTS; i++)
        if (cs->keyed[i] && CRYPTO_memcmp(cs->key[i], key, CRYPTO_KEY_LEN) == 0)
            break;
    if (i < CRYPTO_CTX_SLOTS) {
        /* The schedule is there: only the nonce (and direction) change. */
        if (EVP_CipherInit_ex(cs->ctx[i], NULL, NULL, NULL, nonce, enc) != 1) {
            cs->keyed[i] = false;
            return -EIO;
        }
    } else {
        i = (cs->recent + 1) % CRYPTO_CTX_SLOTS; /* the least recent */
        cs->keyed[i] = false;
        if (EVP_CipherInit_ex(cs->ctx[i], NULL, NULL, key, nonce, enc) != 1)
            return -EIO;
        memcpy(cs->key[i], key, CRYPTO_KEY_LEN);
        cs->keyed[i] = true;
    }
    cs->recent = i;
    *out = cs->ctx[i];
    return 0;
}

/* The Crockford base32 alphabet, lowercase. */
static const char b32_digits[32] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Logs the OpenSSL error queue under |what| and empties it. */
static void
crypto_log_errors(const char *what)
{
    unsigned long e;
    char msg[256];
    bool any = false;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
        log_warnx("%s failed openssl=\"%s\"", what, msg);
        any = true;
    }
    if (!any)
        log_warnx("%s failed", what);
}

int
crypto_random(void *out, size_t n)
{
    uint8_t *p = out;
    size_t left = n;

    /* RAND_bytes takes an int: feed it in pieces. */
    while (left > 0) {
        int k = left > INT_MAX ? INT_MAX : (int)left;

        if (RAND_bytes(p, k) != 1) {
            crypto_log_errors("RAND_bytes");
            OPENSSL_cleanse(out, n);
            return -EIO;
        }
        p += k;
        left -= (size_t)k;
    }
    return 0;
}

int
crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
            const void *pt, size_t ptlen, uint8_t *out)
{
    static const uint8_t version = CRYPTO_SEAL_VERSION;
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *nonce = out + 1;
    uint8_t *ct = out + 1 + CRYPTO_NONCE_LEN;
    int n, rc;

    if (ptlen > CRYPTO_SEAL_MAX || aadlen > CRYPTO_SEAL_MAX)
        return ERR_TOOBIG;
    out[0] = CRYPTO_SEAL_VERSION;
    if ((rc = crypto_random(nonce, CRYPTO_NONCE_LEN)) != 0)
        goto fail;
    if ((rc = crypto_gcm_ctx(key, nonce, 1, &c)) != 0)
        goto fail_ssl;
    rc = -EIO;
    /* The version byte is the first byte of the additional data. */
    if (EVP_EncryptUpdate(c, NULL, &n, &version, 1) != 1)
        goto fail_ssl;
    if (aadlen > 0 && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
        goto fail_ssl;
    /* GCM is a stream mode: the update writes exactly ptlen bytes and the
     * final writes none. */
    if (ptlen > 0 && (EVP_EncryptUpdate(c, ct, &n, pt, (int)ptlen) != 1 ||
                      (size_t)n != ptlen))
        goto fail_ssl;
    if (EVP_EncryptFinal_ex(c, ct + ptlen, &n) != 1 || n != 0)
        goto fail_ssl;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN,
                            ct + ptlen) != 1)
        goto fail_ssl;
    return 0;

fail_ssl:
    crypto_log_errors("AES-256-GCM seal");
fail:
    OPENSSL_cleanse(out, ptlen + CRYPTO_SEAL_OVERHEAD);
    return rc;
}

size_t
crypto_open_len(size_t len)
{
    return len < CRYPTO_SEAL_OVERHEAD ? 0 : len - CRYPTO_SEAL_OVERHEAD;
}

int
crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
            const void *sealed, size_t len, uint8_t *out, size_t *ptlen)
{
    static const uint8_t version = CRYPTO_SEAL_VERSION;
    const uint8_t *s = sealed;
    const uint8_t *nonce, *ct;
    uint8_t tag[CRYPTO_TAG_LEN];
    EVP_CIPHER_CTX *c = NULL;
    size_t ctlen;
    int n, rc;

    /* Malformed input is indistinguishable from tampering for the caller:
     * both are ERR_CORRUPT, and nothing was decrypted yet. */
    if (len < CRYPTO_SEAL_OVERHEAD || s[0] != CRYPTO_SEAL_VERSION)
        return ERR_CORRUPT;
    ctlen = len - CRYPTO_SEAL_OVERHEAD;
    if (ctlen > CRYPTO_SEAL_MAX || aadlen > CRYPTO_SEAL_MAX)
        return ERR_CORRUPT;
    nonce = s + 1;
    ct = nonce + CRYPTO_NONCE_LEN;
    /* The ctrl call wants a writable tag. */
    memcpy(tag, ct + ctlen, CRYPTO_TAG_LEN);

    if ((rc = crypto_gcm_ctx(key, nonce, 0, &c)) != 0)
        goto fail_ssl;
    rc = -EIO;
    if (EVP_DecryptUpdate(c, NULL, &n, &version, 1) != 1)
        goto fail_ssl;
    if (aadlen > 0 && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
        goto fail_ssl;
    if (ctlen > 0 && (EVP_DecryptUpdate(c, out, &n, ct, (int)ctlen) != 1 ||
                      (size_t)n != ctlen))
        goto fail_ssl;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag) != 1)
        goto fail_ssl;
    /* Until this check passes, |out| holds unauthenticated plaintext that
     * must never reach the caller. */
    if (EVP_DecryptFinal_ex(c, out + ctlen, &n) != 1) {
        ERR_clear_error();
        rc = ERR_CORRUPT;
        goto fail;
    }
    if (ptlen != NULL)
        *ptlen = ctlen;
    return 0;

fail_ssl:
    crypto_log_errors("AES-256-GCM open");
fail:
    OPENSSL_cleanse(out, ctlen);
    return rc;
}

int
crypto_seal_buf(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                size_t aadlen, const void *pt, size_t ptlen, struct buf *out)
{
    uint8_t *p;
    int rc;

    if (ptlen > CRYPTO_SEAL_MAX || aadlen > CRYPTO_SEAL_MAX)
        return ERR_TOOBIG;
    if ((p = buf_space(out, ptlen + CRYPTO_SEAL_OVERHEAD)) == NULL)
        return -ENOMEM;
    if ((rc = crypto_seal(key, aad, aadlen, pt, ptlen, p)) != 0)
        return rc;
    buf_commit(out, ptlen + CRYPTO_SEAL_OVERHEAD);
    return 0;
}

int
crypto_open_buf(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
                size_t aadlen, const void *sealed, size_t len, struct buf *out)
{
    uint8_t empty, *p;
    size_t ptlen;
    int rc;

    if (len < CRYPTO_SEAL_OVERHEAD ||
        len - CRYPTO_SEAL_OVERHEAD > CRYPTO_SEAL_MAX)
        return ERR_CORRUPT;
    ptlen = len - CRYPTO_SEAL_OVERHEAD;
    /* An empty plaintext needs no room (and buf_space(b, 0) on an empty
     * buffer would point nowhere). */
    if (ptlen == 0)
        p = &empty;
    else if ((p = buf_space(out, ptlen)) == NULL)
        return -ENOMEM;
    /* crypto_open wipes what it wrote past the end on failure, and
     * nothing is committed. */
    if ((rc = crypto_open(key, aad, aadlen, sealed, len, p, NULL)) != 0)
        return rc;
    if (ptlen > 0)
        buf_commit(out, ptlen);
    return 0;
}

int
crypto_id_new(uint8_t id[CRYPTO_ID_LEN])
{
    return crypto_random(id, CRYPTO_ID_LEN);
}

/* Bit |k| (0 = least significant) of the big-endian 128-bit |id|. */
static unsigned
id_bit(const uint8_t id[CRYPTO_ID_LEN], unsigned k)
{
    return (id[CRYPTO_ID_LEN - 1 - k / 8] >> (k % 8)) & 1u;
}

void
crypto_id_encode(const uint8_t id[CRYPTO_ID_LEN], char out[CRYPTO_ID_STR])
{
    unsigned i, j;

    /* Digit i holds bits 5*(25-i) .. 5*(25-i)+4 of the number; the top
     * digit has only 3 bits (128 = 3 + 25 * 5), hence always 0-7. */
    for (i = 0; i < CRYPTO_ID_CHARS; i++) {
        unsigned lo = 5 * (CRYPTO_ID_CHARS - 1 - i);
        unsigned v = 0;

        for (j = 5; j-- > 0;)
            if (lo + j < 8 * CRYPTO_ID_LEN)
                v = (v << 1) | id_bit(id, lo + j);
            else
                v <<= 1;
        out[i] = b32_digits[v];
    }
    out[CRYPTO_ID_CHARS] = '\0';
}

/* Value of Crockford digit |c| (any case, with the i/l/o aliases), or -1. */
static int
b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    switch (c) {
    case 'i':
    case 'l':
        return 1;
    case 'o':
        return 0;
    case 'u':
        return -1;
    default:
        break;
    }
    for (int v = 0; v < 32; v++)
        if (b32_digits[v] == c)
            return v;
    return -1;
}

int
crypto_id_decode(const char *s, uint8_t id[CRYPTO_ID_LEN])
{
    unsigned ndigits = 0;

    memset(id, 0, CRYPTO_ID_LEN);
    for (; *s != '\0'; s++) {
        int v;

        if (*s == '-' || *s == ' ')
            continue;
        if ((v = b32_value(*s)) < 0 || ndigits == CRYPTO_ID_CHARS)
            return ERR_INVALID;
        /* 26 digits carry 130 bits: the first must fit in 3. */
        if (ndigits == 0 && v > 7)
            return ERR_INVALID;
        /* id = id * 32 + v, as a big-endian 128-bit number.  The top bits
         * shifted out are zero, guaranteed by the check above. */
        for (unsigned i = 0; i < CRYPTO_ID_LEN; i++) {
            unsigned next = i + 1 < CRYPTO_ID_LEN ? id[i + 1] : 0;

            id[i] = (uint8_t)((id[i] << 5) | (next >> 3));
        }
        id[CRYPTO_ID_LEN - 1] |= (uint8_t)v;
        ndigits++;
    }
    return ndigits == CRYPTO_ID_CHARS ? 0 : ERR_INVALID;
}

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                   uint8_t out[CRYPTO_HASH_LEN])
{
    size_t outlen = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len,
                  out, CRYPTO_HASH_LEN, &outlen) == NULL ||
        outlen != CRYPTO_HASH_LEN) {
        crypto_log_errors("HMAC-SHA256");
        OPENSSL_cleanse(out, CRYPTO_HASH_LEN);
        return -EIO;
    }
    return 0;
}

int
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_HASH_LEN])
{
    struct crypto_ctxs *cs = crypto_thread_ctxs();
    unsigned int n = 0;
    int ok;

    if (cs == NULL) /* out of memory: a context of its own */
        ok = EVP_Digest(data, len, out, &n, crypto_md_sha256(), NULL);
    else
        ok = EVP_DigestInit_ex(cs->sha, crypto_md_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(cs->sha, data, len) == 1 &&
             EVP_DigestFinal_ex(cs->sha, out, &n) == 1;
    if (ok != 1 || n != CRYPTO_HASH_LEN) {
        crypto_log_errors("SHA-256");
        return -EIO;
    }
    return 0;
}

int
crypto_sha256_init(struct crypto_sha256 *h)
{
    EVP_MD_CTX *c;

    h->ctx = NULL;
    if ((c = EVP_MD_CTX_new()) == NULL) {
        crypto_log_errors("SHA-256 init");
        return -ENOMEM;
    }
    if (EVP_DigestInit_ex(c, crypto_md_sha256(), NULL) != 1) {
        crypto_log_errors("SHA-256 init");
        EVP_MD_CTX_free(c);
        return -EIO;
    }
    h->ctx = c;
    return 0;
}

int
crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
    if (h->ctx == NULL) {
        log_warnx("SHA-256 update on a closed state");
        return -EIO;
    }
    if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1) {
        crypto_log_errors("SHA-256 update");
        return -EIO;
    }
    return 0;
}

int
crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_HASH_LEN])
{
    unsigned int n = 0;
    int rc = 0;

    if (h->ctx == NULL) {
        log_warnx("SHA-256 final on a closed state");
        return -EIO;
    }
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != CRYPTO_HASH_LEN) {
        crypto_log_errors("SHA-256 final");
        rc = -EIO;
    }
    /* A finished state cannot be updated: release it now. */
    crypto_sha256_close(h);
    return rc;
}

void
crypto_sha256_close(struct crypto_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_wipe(void *p, size_t n)
{
    if (n > 0)
        OPENSSL_cleanse(p, n);
}
