/*
 * test_crypto.c -- unit tests of crypto.c: seal and open round trips, the
 * documented sealed format (checked with raw EVP), every kind of
 * tampering (each byte flipped, truncation, extension, wrong key, wrong
 * additional data), the struct buf forms, printable ids, and known-answer
 * vectors for HMAC-SHA256 (RFC 4231) and SHA-256 (FIPS 180-2).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "suites.h"

static const uint8_t key1[CRYPTO_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t key2[CRYPTO_KEY_LEN] = {0x01}; /* differs from key1 */
static const char aad1[] = "person|doc|v1|chunk0";

/* A deterministic plaintext of |n| bytes. */
static void
fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

START_TEST(test_crypto_seal_open_round_trip)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 65536};
    size_t n = lens[_i];
    uint8_t *pt = malloc(n + 1), *sealed = malloc(n + CRYPTO_SEAL_OVERHEAD);
    uint8_t *out = malloc(n + 1);
    size_t outlen = 12345;

    fill(pt, n, (unsigned)n);
    ck_assert_int_eq(crypto_seal(key1, aad1, strlen(aad1), pt, n, sealed), 0);
    ck_assert_uint_eq(sealed[0], CRYPTO_SEAL_VERSION);
    ck_assert_uint_eq(crypto_open_len(n + CRYPTO_SEAL_OVERHEAD), n);
    ck_assert_int_eq(crypto_open(key1, aad1, strlen(aad1), sealed,
                                 n + CRYPTO_SEAL_OVERHEAD, out, &outlen),
                     0);
    ck_assert_uint_eq(outlen, n);
    if (n > 0) {
        ck_assert_mem_eq(out, pt, n);
        /* The ciphertext is not the plaintext. */
        ck_assert(memcmp(sealed + 1 + CRYPTO_NONCE_LEN, pt, n) != 0 || n < 4);
    }
    free(pt);
    free(sealed);
    free(out);
}
END_TEST

START_TEST(test_crypto_seal_no_aad)
{
    uint8_t sealed[5 + CRYPTO_SEAL_OVERHEAD], out[5];

    ck_assert_int_eq(crypto_seal(key1, NULL, 0, "hello", 5, sealed), 0);
    ck_assert_int_eq(
        crypto_open(key1, NULL, 0, sealed, sizeof(sealed), out, NULL), 0);
    ck_assert_mem_eq(out, "hello", 5);
    /* Empty additional data is not the same as one byte of it. */
    ck_assert_int_eq(
        crypto_open(key1, "", 1, sealed, sizeof(sealed), out, NULL),
        ERR_CORRUPT);
}
END_TEST

/* Each seal draws a new nonce: the same plaintext never gives the same
 * bytes twice. */
START_TEST(test_crypto_seal_fresh_nonce)
{
    uint8_t a[32 + CRYPTO_SEAL_OVERHEAD], b[32 + CRYPTO_SEAL_OVERHEAD];
    uint8_t pt[32] = {0};

    ck_assert_int_eq(crypto_seal(key1, aad1, 3, pt, 32, a), 0);
    ck_assert_int_eq(crypto_seal(key1, aad1, 3, pt, 32, b), 0);
    ck_assert(memcmp(a + 1, b + 1, CRYPTO_NONCE_LEN) != 0);
    ck_assert(memcmp(a + 1 + CRYPTO_NONCE_LEN, b + 1 + CRYPTO_NONCE_LEN, 32) !=
              0);
}
END_TEST

/* The documented format, opened with raw EVP: version 1, nonce,
 * ciphertext, tag, and the version byte authenticated before the caller's
 * additional data. */
START_TEST(test_crypto_seal_format_matches_header)
{
    const char *msg = "pièce justificative";
    size_t n = strlen(msg);
    uint8_t sealed[64 + CRYPTO_SEAL_OVERHEAD], out[64], tag[16];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int k;

    ck_assert_int_eq(crypto_seal(key1, aad1, strlen(aad1), msg, n, sealed), 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(
        EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, sealed + 1), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, NULL, &k, sealed, 1), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, NULL, &k, (const uint8_t *)aad1,
                                       (int)strlen(aad1)),
                     1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, out, &k, sealed + 13, (int)n), 1);
    memcpy(tag, sealed + 13 + n, 16);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag), 1);
    ck_assert_int_eq(EVP_DecryptFinal_ex(c, out + n, &k), 1);
    ck_assert_mem_eq(out, msg, n);
    EVP_CIPHER_CTX_free(c);
}
END_TEST

/* Flipping any bit of any byte -- version, nonce, ciphertext or tag --
 * is ERR_CORRUPT, and no plaintext is left in the output. */
START_TEST(test_crypto_open_every_byte_flipped)
{
    enum { N = 40 };
    uint8_t pt[N], sealed[N + CRYPTO_SEAL_OVERHEAD], out[N];
    static const uint8_t masks[] = {0x01, 0x80, 0xff};

    fill(pt, N, 7);
    ck_assert_int_eq(crypto_seal(key1, aad1, strlen(aad1), pt, N, sealed), 0);
    for (size_t i = 0; i < sizeof(sealed); i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            sealed[i] ^= masks[m];
            memset(out, 0xa5, sizeof(out));
            ck_assert_msg(crypto_open(key1, aad1, strlen(aad1), sealed,
                                      sizeof(sealed), out, NULL) == ERR_CORRUPT,
                          "byte %zu mask %02x accepted", i, masks[m]);
            ck_assert_msg(all_zero(out, N) ||
                              (i == 0 && out[0] == 0xa5), /* not decrypted */
                          "plaintext left after byte %zu", i);
            sealed[i] ^= masks[m];
        }
    }
    /* Untouched, it still opens. */
    ck_assert_int_eq(crypto_open(key1, aad1, strlen(aad1), sealed,
                                 sizeof(sealed), out, NULL),
                     0);
    ck_assert_mem_eq(out, pt, N);
}
END_TEST

START_TEST(test_crypto_open_wrong_aad_or_key)
{
    uint8_t sealed[10 + CRYPTO_SEAL_OVERHEAD], out[10];
    char aad[sizeof(aad1)];

    ck_assert_int_eq(
        crypto_seal(key1, aad1, strlen(aad1), "0123456789", 10, sealed), 0);
    /* Each byte of the additional data counts. */
    for (size_t i = 0; i < strlen(aad1); i++) {
        memcpy(aad, aad1, sizeof(aad1));
        aad[i] ^= 1;
        ck_assert_int_eq(crypto_open(key1, aad, strlen(aad1), sealed,
                                     sizeof(sealed), out, NULL),
                         ERR_CORRUPT);
        ck_assert(all_zero(out, sizeof(out)));
    }
    /* Shorter, longer, none. */
    ck_assert_int_eq(crypto_open(key1, aad1, strlen(aad1) - 1, sealed,
                                 sizeof(sealed), out, NULL),
                     ERR_CORRUPT);
    ck_assert_int_eq(crypto_open(key1, aad1, strlen(aad1) + 1, sealed,
                                 sizeof(sealed), out, NULL),
                     ERR_CORRUPT);
    ck_assert_int_eq(
        crypto_open(key1, NULL, 0, sealed, sizeof(sealed), out, NULL),
        ERR_CORRUPT);
    /* Another key. */
    ck_assert_int_eq(crypto_open(key2, aad1, strlen(aad1), sealed,
                                 sizeof(sealed), out, NULL),
                     ERR_CORRUPT);
    ck_assert(all_zero(out, sizeof(out)));
}
END_TEST

/* Each thread keeps the schedules of its last keys (crypto.c): seals and
 * opens that alternate between more keys than it keeps, keys differing by
 * one bit, directions, and threads, must each use exactly their own key. */
#define KEYS_N 3
static uint8_t keys_n[KEYS_N][CRYPTO_KEY_LEN];
static uint8_t sealed_n[KEYS_N][8 + CRYPTO_SEAL_OVERHEAD];

static void
open_each_with_each(void)
{
    uint8_t out[8];

    for (int k = 0; k < KEYS_N; k++)
        for (int j = 0; j < KEYS_N; j++) {
            int rc = crypto_open(keys_n[j], aad1, strlen(aad1), sealed_n[k],
                                 sizeof(sealed_n[k]), out, NULL);

            ck_assert_int_eq(rc, j == k ? 0 : ERR_CORRUPT);
            if (j == k)
                ck_assert_mem_eq(out, "secret:", 7);
        }
}

static void *
open_in_thread(void *arg)
{
    (void)arg;
    open_each_with_each();
    return NULL;
}

START_TEST(test_crypto_keys_interleaved)
{
    /* Sequences of key indexes: repeated, alternating, round robin over
     * more keys than a thread keeps, and back. */
    static const int seq[] = {0, 0, 1, 0, 1, 2, 0, 1, 2, 2, 1, 0, 2, 0, 1};
    uint8_t out[8], pt[8];
    pthread_t th;

    for (int k = 0; k < KEYS_N; k++) {
        memcpy(keys_n[k], key1, CRYPTO_KEY_LEN);
        keys_n[k][CRYPTO_KEY_LEN - 1] ^= (uint8_t)k; /* one bit apart */
    }
    memcpy(pt, "secret:", 7);
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        int k = seq[i];

        pt[7] = (uint8_t)i;
        ck_assert_int_eq(crypto_seal(keys_n[k], aad1, strlen(aad1), pt,
                                     sizeof(pt), sealed_n[k]),
                         0);
        /* Open with the previous key first, then its own. */
        ck_assert_int_eq(crypto_open(keys_n[(k + 1) % KEYS_N], aad1,
                                     strlen(aad1), sealed_n[k],
                                     sizeof(sealed_n[k]), out, NULL),
                         ERR_CORRUPT);
        ck_assert_int_eq(crypto_open(keys_n[k], aad1, strlen(aad1),
                                     sealed_n[k], sizeof(sealed_n[k]), out,
                                     NULL),
                         0);
        ck_assert_mem_eq(out, pt, sizeof(pt));
    }
    open_each_with_each();
    /* Seals of this thread open in another, with its own contexts. */
    ck_assert_int_eq(pthread_create(&th, NULL, open_in_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}
END_TEST

START_TEST(test_crypto_open_truncated_or_extended)
{
    uint8_t sealed[20 + CRYPTO_SEAL_OVERHEAD + 1], out[21];

    ck_assert_int_eq(
        crypto_seal(key1, aad1, 4, "abcdefghijklmnopqrst", 20, sealed), 0);
    for (size_t len = 0; len < 20 + CRYPTO_SEAL_OVERHEAD; len++)
        ck_assert_msg(crypto_open(key1, aad1, 4, sealed, len, out, NULL) ==
                          ERR_CORRUPT,
                      "truncated to %zu accepted", len);
    sealed[20 + CRYPTO_SEAL_OVERHEAD] = 0;
    ck_assert_int_eq(crypto_open(key1, aad1, 4, sealed,
                                 20 + CRYPTO_SEAL_OVERHEAD + 1, out, NULL),
                     ERR_CORRUPT);
    ck_assert_uint_eq(crypto_open_len(CRYPTO_SEAL_OVERHEAD - 1), 0);
}
END_TEST

START_TEST(test_crypto_seal_too_big)
{
    uint8_t pt[1] = {0}, out[CRYPTO_SEAL_OVERHEAD + 1];
    struct buf b;

    /* Refused before any byte is read. */
    ck_assert_int_eq(crypto_seal(key1, NULL, 0, pt, CRYPTO_SEAL_MAX + 1, out),
                     ERR_TOOBIG);
    ck_assert_int_eq(crypto_seal(key1, pt, CRYPTO_SEAL_MAX + 1, pt, 1, out),
                     ERR_TOOBIG);
    buf_init(&b);
    ck_assert_int_eq(
        crypto_seal_buf(key1, NULL, 0, pt, CRYPTO_SEAL_MAX + 1, &b),
        ERR_TOOBIG);
    ck_assert_uint_eq(buf_size(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_crypto_buf_forms)
{
    struct buf sealed, plain;
    size_t before;

    buf_init(&sealed);
    buf_init(&plain);
    ck_assert_int_eq(buf_append(&sealed, "HDR", 3), 0);
    ck_assert_int_eq(
        crypto_seal_buf(key1, aad1, strlen(aad1), "secret", 6, &sealed), 0);
    ck_assert_uint_eq(buf_size(&sealed), 3 + 6 + CRYPTO_SEAL_OVERHEAD);
    ck_assert_mem_eq(buf_peek(&sealed), "HDR", 3);

    ck_assert_int_eq(buf_append(&plain, "pre:", 4), 0);
    ck_assert_int_eq(crypto_open_buf(key1, aad1, strlen(aad1),
                                     buf_peek(&sealed) + 3,
                                     6 + CRYPTO_SEAL_OVERHEAD, &plain),
                     0);
    ck_assert_uint_eq(buf_size(&plain), 10);
    ck_assert_mem_eq(buf_peek(&plain), "pre:secret", 10);

    /* A failed open leaves the buffer as it was, and wipes the bytes it
     * wrote past its end. */
    before = buf_size(&plain);
    sealed.data[sealed.off + 3 + 5] ^= 0x40;
    ck_assert_int_eq(crypto_open_buf(key1, aad1, strlen(aad1),
                                     buf_peek(&sealed) + 3,
                                     6 + CRYPTO_SEAL_OVERHEAD, &plain),
                     ERR_CORRUPT);
    ck_assert_uint_eq(buf_size(&plain), before);
    ck_assert_mem_eq(buf_peek(&plain), "pre:secret", 10);
    ck_assert(all_zero(plain.data + plain.len, 6));
    ck_assert_int_eq(
        crypto_open_buf(key1, aad1, strlen(aad1), buf_peek(&sealed), 5, &plain),
        ERR_CORRUPT);
    ck_assert_uint_eq(buf_size(&plain), before);
    buf_free(&sealed);
    buf_wipe(&plain);
}
END_TEST

START_TEST(test_crypto_buf_empty_plaintext)
{
    struct buf sealed, plain;

    buf_init(&sealed);
    buf_init(&plain);
    ck_assert_int_eq(crypto_seal_buf(key1, "x", 1, NULL, 0, &sealed), 0);
    ck_assert_uint_eq(buf_size(&sealed), CRYPTO_SEAL_OVERHEAD);
    ck_assert_int_eq(crypto_open_buf(key1, "x", 1, buf_peek(&sealed),
                                     buf_size(&sealed), &plain),
                     0);
    ck_assert_uint_eq(buf_size(&plain), 0);
    ck_assert_int_eq(crypto_open_buf(key1, "y", 1, buf_peek(&sealed),
                                     buf_size(&sealed), &plain),
                     ERR_CORRUPT);
    buf_free(&sealed);
    buf_free(&plain);
}
END_TEST

/* Expected strings computed independently (Python int -> base32). */
START_TEST(test_crypto_id_encode_vectors)
{
    uint8_t id[CRYPTO_ID_LEN];
    char s[CRYPTO_ID_STR];

    memset(id, 0, sizeof(id));
    crypto_id_encode(id, s);
    ck_assert_str_eq(s, "00000000000000000000000000");
    id[15] = 1;
    crypto_id_encode(id, s);
    ck_assert_str_eq(s, "00000000000000000000000001");
    memset(id, 0, sizeof(id));
    id[0] = 0x80;
    crypto_id_encode(id, s);
    ck_assert_str_eq(s, "40000000000000000000000000");
    memset(id, 0xff, sizeof(id));
    crypto_id_encode(id, s);
    ck_assert_str_eq(s, "7zzzzzzzzzzzzzzzzzzzzzzzzz");
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)i;
    crypto_id_encode(id, s);
    ck_assert_str_eq(s, "00041061050r3gg28a1c60t3gf");
    ck_assert_uint_eq(strlen(s), CRYPTO_ID_CHARS);
}
END_TEST

START_TEST(test_crypto_id_round_trip_random)
{
    uint8_t id[CRYPTO_ID_LEN], back[CRYPTO_ID_LEN], prev[CRYPTO_ID_LEN];
    char s[CRYPTO_ID_STR];

    memset(prev, 0, sizeof(prev));
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(crypto_id_new(id), 0);
        ck_assert(memcmp(id, prev, sizeof(id)) != 0);
        crypto_id_encode(id, s);
        ck_assert_uint_eq(strlen(s), CRYPTO_ID_CHARS);
        ck_assert(s[0] >= '0' && s[0] <= '7');
        ck_assert_ptr_null(strpbrk(s, "ilouILOU"));
        ck_assert_int_eq(crypto_id_decode(s, back), 0);
        ck_assert_mem_eq(back, id, sizeof(id));
        memcpy(prev, id, sizeof(id));
    }
}
END_TEST

/* What a person types at a counter: grouped, uppercase, with the letters
 * people confuse with digits. */
START_TEST(test_crypto_id_decode_typed_forms)
{
    uint8_t id[CRYPTO_ID_LEN], want[CRYPTO_ID_LEN];

    for (int i = 0; i < 16; i++)
        want[i] = (uint8_t)i;
    ck_assert_int_eq(crypto_id_decode("00041061050R3GG28A1C60T3GF", id), 0);
    ck_assert_mem_eq(id, want, 16);
    ck_assert_int_eq(crypto_id_decode("0004-1061-050r-3gg2-8a1c-60t3-gf", id),
                     0);
    ck_assert_mem_eq(id, want, 16);
    ck_assert_int_eq(crypto_id_decode("OOO41O61O5Or3gg28a1c6Ot3gf", id), 0);
    ck_assert_mem_eq(id, want, 16);
    ck_assert_int_eq(crypto_id_decode(" 00041 06105 0r3gg 28a1c 60t3g f ", id),
                     0);
    ck_assert_mem_eq(id, want, 16);
    memset(want, 0, 16);
    want[15] = 0x21; /* "11" = 1*32 + 1 */
    ck_assert_int_eq(crypto_id_decode("000000000000000000000000iL", id), 0);
    ck_assert_mem_eq(id, want, 16);
}
END_TEST

START_TEST(test_crypto_id_decode_refuses)
{
    static const char *bad[] = {
        "",
        "0000000000000000000000000",   /* 25 digits */
        "000000000000000000000000000", /* 27 */
        "80000000000000000000000000",  /* over 128 bits */
        "z0000000000000000000000000",
        "0000000000000000000000000u", /* u is not a digit */
        "0000000000000000000000000*",
        "000000000000000000000000_0",
        "0000000000000000000000000\xc3\xa9",
        "00000000000000000000000000\t",
        "----------",
    };
    uint8_t id[CRYPTO_ID_LEN];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(crypto_id_decode(bad[i], id) == ERR_INVALID,
                      "accepted \"%s\"", bad[i]);
}
END_TEST

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block). */
START_TEST(test_crypto_hmac_sha256_rfc4231)
{
    uint8_t key[131], out[CRYPTO_HASH_LEN];
    char h[2 * CRYPTO_HASH_LEN + 1];

    memset(key, 0x0b, 20);
    ck_assert_int_eq(crypto_hmac_sha256(key, 20, "Hi There", 8, out), 0);
    hex(out, sizeof(out), h);
    ck_assert_str_eq(
        h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    ck_assert_int_eq(
        crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out),
        0);
    hex(out, sizeof(out), h);
    ck_assert_str_eq(
        h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(key, 0xaa, sizeof(key));
    ck_assert_int_eq(
        crypto_hmac_sha256(key, sizeof(key),
                           "Test Using Larger Than Block-Size Key - Hash Key "
                           "First",
                           54, out),
        0);
    hex(out, sizeof(out), h);
    ck_assert_str_eq(
        h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_crypto_sha256_vectors)
{
    uint8_t out[CRYPTO_HASH_LEN];
    char h[2 * CRYPTO_HASH_LEN + 1];

    ck_assert_int_eq(crypto_sha256("abc", 3, out), 0);
    hex(out, sizeof(out), h);
    ck_assert_str_eq(
        h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(crypto_sha256(NULL, 0, out), 0);
    hex(out, sizeof(out), h);
    ck_assert_str_eq(
        h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* Streaming over any split gives the one-shot digest. */
START_TEST(test_crypto_sha256_streaming)
{
    enum { N = 100000 };
    static const size_t steps[] = {1, 7, 64, 1000, 65536, N};
    uint8_t *data = malloc(N), one[CRYPTO_HASH_LEN], two[CRYPTO_HASH_LEN];
    struct crypto_sha256 h;

    fill(data, N, 3);
    ck_assert_int_eq(crypto_sha256(data, N, one), 0);
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        ck_assert_int_eq(crypto_sha256_init(&h), 0);
        for (size_t off = 0; off < N; off += steps[s]) {
            size_t k = N - off < steps[s] ? N - off : steps[s];

            ck_assert_int_eq(crypto_sha256_update(&h, data + off, k), 0);
        }
        ck_assert_int_eq(crypto_sha256_update(&h, NULL, 0), 0);
        ck_assert_int_eq(crypto_sha256_final(&h, two), 0);
        ck_assert_mem_eq(one, two, sizeof(one));
        crypto_sha256_close(&h); /* harmless after final */
    }
    /* Final released the state: updating it now is an error (logged), and
     * closing it is harmless, twice. */
    ck_assert_int_eq(crypto_sha256_update(&h, data, 1), -EIO);
    ck_assert_int_eq(crypto_sha256_final(&h, two), -EIO);
    crypto_sha256_close(&h);
    crypto_sha256_close(&h);
    /* Abandoned half-way: close alone frees it (checked by ASan). */
    ck_assert_int_eq(crypto_sha256_init(&h), 0);
    ck_assert_int_eq(crypto_sha256_update(&h, data, 10), 0);
    crypto_sha256_close(&h);
    free(data);
}
END_TEST

START_TEST(test_crypto_equal_and_wipe)
{
    uint8_t a[33], b[33];

    fill(a, sizeof(a), 1);
    memcpy(b, a, sizeof(a));
    ck_assert(crypto_equal(a, b, sizeof(a)));
    ck_assert(crypto_equal(a, b, 0));
    for (size_t i = 0; i < sizeof(a); i++) {
        b[i] ^= 0x10;
        ck_assert(!crypto_equal(a, b, sizeof(a)));
        b[i] ^= 0x10;
    }
    crypto_wipe(a, sizeof(a));
    ck_assert(all_zero(a, sizeof(a)));
    crypto_wipe(NULL, 0);
}
END_TEST

START_TEST(test_crypto_random_fills)
{
    uint8_t a[64], b[64];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ck_assert_int_eq(crypto_random(a, sizeof(a)), 0);
    ck_assert_int_eq(crypto_random(b, sizeof(b)), 0);
    ck_assert(!all_zero(a, sizeof(a)));
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(crypto_random(NULL, 0), 0);
}
END_TEST

Suite *
suite_crypto(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("seal");

    tcase_add_loop_test(tc, test_crypto_seal_open_round_trip, 0, 7);
    tcase_add_test(tc, test_crypto_seal_no_aad);
    tcase_add_test(tc, test_crypto_seal_fresh_nonce);
    tcase_add_test(tc, test_crypto_seal_format_matches_header);
    tcase_add_test(tc, test_crypto_open_every_byte_flipped);
    tcase_add_test(tc, test_crypto_open_wrong_aad_or_key);
    tcase_add_test(tc, test_crypto_keys_interleaved);
    tcase_add_test(tc, test_crypto_open_truncated_or_extended);
    tcase_add_test(tc, test_crypto_seal_too_big);
    tcase_add_test(tc, test_crypto_buf_forms);
    tcase_add_test(tc, test_crypto_buf_empty_plaintext);
    suite_add_tcase(s, tc);

    tc = tcase_create("ids");
    tcase_add_test(tc, test_crypto_id_encode_vectors);
    tcase_add_test(tc, test_crypto_id_round_trip_random);
    tcase_add_test(tc, test_crypto_id_decode_typed_forms);
    tcase_add_test(tc, test_crypto_id_decode_refuses);
    suite_add_tcase(s, tc);

    tc = tcase_create("hashes");
    tcase_add_test(tc, test_crypto_hmac_sha256_rfc4231);
    tcase_add_test(tc, test_crypto_sha256_vectors);
    tcase_add_test(tc, test_crypto_sha256_streaming);
    tcase_add_test(tc, test_crypto_equal_and_wipe);
    tcase_add_test(tc, test_crypto_random_fills);
    suite_add_tcase(s, tc);
    return s;
}
