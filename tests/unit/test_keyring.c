/*
 * test_keyring.c -- unit tests of keyring.c in fresh mkdtemp directories:
 * key files made by keyring_generate_file (mode, format, never
 * overwritten), loading (current id = highest, numeric order, other files
 * ignored), every refusal (mode 0644, malformed hex, bad names, missing
 * master or pepper) with the log line naming the file, DEK wrap/unwrap
 * (round trip, another person, each byte flipped, relabelled key id,
 * unknown key id, rotation), and the NIR hash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "keyring.h"
#include "suites.h"
#include "testutil.h"

/* A known key, 00 01 .. 1f, as a key file holds it. */
static const char key_hex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
static const char pepper_hex[] =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n";

static char dir[128];

/*
 * Each test works in its own directory |dir| inside |base|, one base per
 * test case.  The base is removed by an unchecked teardown, which runs in
 * the runner even when a test fails (a failed test skips its checked
 * teardown), so no run leaves files behind.
 */
static char base[64];

static void
base_setup(void)
{
    testutil_mkdtemp(base, sizeof(base), NULL, "dossier-keyring");
}

static void
base_teardown(void)
{
    testutil_rmtree(base);
}

static void
dir_setup(void)
{
    testutil_mkdtemp(dir, sizeof(dir), base, "t");
}

static void
dir_teardown(void)
{
    testutil_rmtree(dir);
}

static const char *
path_of(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static void
put(const char *name, const char *content, mode_t mode)
{
    const char *path = path_of(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)),
                     (ssize_t)strlen(content));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static size_t
dir_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Loads |dir| expecting failure |want|; returns the log. */
static const char *
load_fails(int want)
{
    struct keyring *kr = (struct keyring *)&kr;
    const char *log;
    int rc;

    testutil_capture_begin(base);
    rc = keyring_load(dir, &kr);
    log = testutil_capture_end();
    ck_assert_msg(rc == want, "keyring_load: %d, want %d; log: %s", rc, want,
                  log);
    ck_assert_ptr_null(kr);
    return log;
}

static struct keyring *
load_ok(void)
{
    struct keyring *kr = NULL;

    ck_assert_int_eq(keyring_load(dir, &kr), 0);
    ck_assert_ptr_nonnull(kr);
    return kr;
}

START_TEST(test_keyring_generate_file)
{
    char text[80];
    struct stat st;
    int fd;
    ssize_t n;

    ck_assert_int_eq(keyring_generate_file(path_of("master-1.key")), 0);
    ck_assert_int_eq(stat(path_of("master-1.key"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    fd = open(path_of("master-1.key"), O_RDONLY);
    n = read(fd, text, sizeof(text));
    close(fd);
    ck_assert_int_eq(n, 65);
    ck_assert_int_eq(text[64], '\n');
    ck_assert_uint_eq(strspn(text, "0123456789abcdef"), 64);

    /* Never overwritten, and no temporary file is left behind. */
    put("pepper.key", key_hex, 0600);
    testutil_capture_begin(base);
    ck_assert_int_eq(keyring_generate_file(path_of("pepper.key")), ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(testutil_capture_end(), "pepper.key"));
    fd = open(path_of("pepper.key"), O_RDONLY);
    n = read(fd, text, sizeof(text));
    close(fd);
    ck_assert_int_eq(n, 65);
    ck_assert_mem_eq(text, key_hex, 65);
    ck_assert_uint_eq(dir_entries(), 2);

    /* Two generated keys differ. */
    ck_assert_int_eq(keyring_generate_file(path_of("master-2.key")), 0);
    {
        char a[65], b[65];

        fd = open(path_of("master-1.key"), O_RDONLY);
        ck_assert_int_eq(read(fd, a, 65), 65);
        close(fd);
        fd = open(path_of("master-2.key"), O_RDONLY);
        ck_assert_int_eq(read(fd, b, 65), 65);
        close(fd);
        ck_assert(memcmp(a, b, 64) != 0);
    }
    /* A directory that does not exist: an errno, nothing left behind. */
    testutil_capture_begin(base);
    ck_assert_int_eq(keyring_generate_file(path_of("nodir/master-1.key")),
                     -ENOENT);
    ck_assert_ptr_nonnull(strstr(testutil_capture_end(), "nodir/master-1.key"));
    ck_assert_uint_eq(dir_entries(), 3);
}
END_TEST

START_TEST(test_keyring_load_current_is_highest)
{
    struct keyring *kr;

    put("master-2.key", key_hex, 0600);
    put("master-10.key", key_hex, 0400);
    put("master-9.key", key_hex, 0600);
    put("pepper.key", pepper_hex, 0600);
    /* Not key files of ours: ignored whatever their mode. */
    put("ca.crt", "x", 0644);
    put("server.key", "x", 0644);
    put("master-3.key.bak", "x", 0644);
    put(".master-4.key.Ab12Cd", "x", 0644);
    put("README", "x", 0644);

    kr = load_ok();
    /* Numeric, not lexical, order: 10 > 9 > 2. */
    ck_assert_uint_eq(keyring_master_current_id(kr), 10);
    ck_assert_uint_eq(keyring_master_count(kr), 3);
    ck_assert(keyring_has_master(kr, 2));
    ck_assert(keyring_has_master(kr, 9));
    ck_assert(keyring_has_master(kr, 10));
    ck_assert(!keyring_has_master(kr, 3));
    ck_assert(!keyring_has_master(kr, 4));
    ck_assert(!keyring_has_master(kr, 0));
    keyring_free(kr);
    keyring_free(NULL);
}
END_TEST

START_TEST(test_keyring_load_highest_possible_id)
{
    struct keyring *kr;

    put("master-2147483648.key", key_hex, 0600);
    put("master-1.key", key_hex, 0600);
    put("pepper.key", pepper_hex, 0600);
    kr = load_ok();
    ck_assert_uint_eq(keyring_master_current_id(kr), KEYRING_ID_MAX);
    keyring_free(kr);
}
END_TEST

/* Key files readable by group or others are refused, naming the file. */
START_TEST(test_keyring_refuses_open_modes)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0601};
    const char *log;

    put("pepper.key", pepper_hex, 0600);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        put("master-1.key", key_hex, modes[i]);
        log = load_fails(ERR_KEY);
        ck_assert_ptr_nonnull(strstr(log, path_of("master-1.key")));
    }
    put("master-1.key", key_hex, 0600);
    put("pepper.key", pepper_hex, 0644);
    log = load_fails(ERR_KEY);
    ck_assert_ptr_nonnull(strstr(log, path_of("pepper.key")));
    put("pepper.key", pepper_hex, 0600);
    keyring_free(load_ok());
}
END_TEST

START_TEST(test_keyring_refuses_malformed_files)
{
    static const char *bad[] = {
        "",
        "\n",
        /* 63 digits */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
        /* a non-hex digit */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
        /* 66 digits */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n",
        /* two newlines */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        /* spaces */
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \n",
        /* a CR */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        /* 32 raw bytes are not the format */
        "0123456789abcdef0123456789abcdef",
    };
    const char *log;

    put("pepper.key", pepper_hex, 0600);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put("master-7.key", bad[i], 0600);
        log = load_fails(ERR_KEY);
        ck_assert_msg(strstr(log, "malformed key file") != NULL &&
                          strstr(log, path_of("master-7.key")) != NULL,
                      "case %zu log: %s", i, log);
        /* Never the key bytes themselves. */
        ck_assert_ptr_null(strstr(log, "0102030405"));
    }
    /* Without the newline, and in uppercase, a key is fine. */
    put("master-7.key",
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        0600);
    keyring_free(load_ok());
}
END_TEST

START_TEST(test_keyring_refuses_bad_names)
{
    static const char *bad[] = {
        "master-0.key",          "master-01.key",
        "master-2147483649.key", "master-x.key",
        "master-.key",           "master--1.key",
        "master-+1.key",         "master-99999999999.key",
        "master-1 .key"};
    const char *log;

    put("pepper.key", pepper_hex, 0600);
    put("master-1.key", key_hex, 0600);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put(bad[i], key_hex, 0600);
        log = load_fails(ERR_KEY);
        ck_assert_msg(strstr(log, "bad master key file name") != NULL &&
                          strstr(log, bad[i]) != NULL,
                      "%s: %s", bad[i], log);
        unlink(path_of(bad[i]));
    }
    keyring_free(load_ok());
}
END_TEST

START_TEST(test_keyring_missing_keys)
{
    char want[256];
    const char *log;

    log = load_fails(ERR_KEY);
    snprintf(want, sizeof(want),
             "no master key in %s; run dossier-admin init-dev (development) or keygen-master", dir);
    ck_assert_msg(strstr(log, want) != NULL, "log: %s", log);

    put("pepper.key", pepper_hex, 0600);
    log = load_fails(ERR_KEY);
    ck_assert_ptr_nonnull(strstr(log, want));

    unlink(path_of("pepper.key"));
    put("master-1.key", key_hex, 0600);
    log = load_fails(ERR_KEY);
    ck_assert_ptr_nonnull(strstr(log, "no pepper key"));

    /* A directory that is not there. */
    {
        struct keyring *kr = NULL;

        testutil_capture_begin(base);
        ck_assert_int_eq(keyring_load("/nonexistent/dossier-keys", &kr),
                         ERR_KEY);
        ck_assert_ptr_nonnull(strstr(testutil_capture_end(), "/nonexistent"));
        ck_assert_ptr_null(kr);
    }
}
END_TEST

static const uint8_t person_a[16] = "person-aaaaaaaaa";
static const uint8_t person_b[16] = "person-bbbbbbbbb";

START_TEST(test_keyring_wrap_unwrap)
{
    uint8_t dek[KEYRING_KEY_LEN], back[KEYRING_KEY_LEN];
    struct keyring *kr;
    struct buf w;
    const uint8_t *p;

    put("master-3.key", key_hex, 0600);
    put("master-5.key", pepper_hex, 0600);
    put("pepper.key", pepper_hex, 0600);
    kr = load_ok();
    buf_init(&w);
    ck_assert_int_eq(crypto_random(dek, sizeof(dek)), 0);
    ck_assert_int_eq(buf_append(&w, "x", 1), 0);
    ck_assert_int_eq(keyring_wrap_dek(kr, person_a, 16, dek, &w), 0);
    ck_assert_uint_eq(buf_size(&w), 1 + KEYRING_WRAPPED_LEN);
    ck_assert_uint_eq(KEYRING_WRAPPED_LEN, 65);
    buf_consume(&w, 1);
    p = buf_peek(&w);
    /* The current key id, big-endian, in clear. */
    ck_assert_mem_eq(p, "\0\0\0\5", 4);
    ck_assert_uint_eq(keyring_wrapped_key_id(p, buf_size(&w)), 5);
    ck_assert_uint_eq(keyring_wrapped_key_id(p, buf_size(&w) - 1), 0);
    /* The DEK is not visible in it. */
    ck_assert_ptr_null(memmem(p, buf_size(&w), dek, 8));

    ck_assert_int_eq(
        keyring_unwrap_dek(kr, person_a, 16, p, buf_size(&w), back), 0);
    ck_assert_mem_eq(back, dek, sizeof(dek));

    /* Another person's id: refused, and nothing left in |back|. */
    ck_assert_int_eq(
        keyring_unwrap_dek(kr, person_b, 16, p, buf_size(&w), back),
        ERR_CORRUPT);
    for (size_t i = 0; i < sizeof(back); i++)
        ck_assert_uint_eq(back[i], 0);
    ck_assert_int_eq(
        keyring_unwrap_dek(kr, person_a, 15, p, buf_size(&w), back),
        ERR_CORRUPT);
    ck_assert_int_eq(keyring_unwrap_dek(kr, person_a, 0, p, buf_size(&w), back),
                     ERR_INVALID);
    ck_assert_int_eq(keyring_wrap_dek(kr, person_a, 0, dek, &w), ERR_INVALID);
    ck_assert_int_eq(keyring_wrap_dek(kr, person_a, 65, dek, &w), ERR_INVALID);
    ck_assert_uint_eq(buf_size(&w), KEYRING_WRAPPED_LEN);

    /* Truncated or extended. */
    for (size_t len = 0; len < KEYRING_WRAPPED_LEN; len++)
        ck_assert_int_eq(keyring_unwrap_dek(kr, person_a, 16, p, len, back),
                         ERR_CORRUPT);
    buf_free(&w);
    keyring_free(kr);
}
END_TEST

START_TEST(test_keyring_unwrap_tampered)
{
    uint8_t dek[KEYRING_KEY_LEN], back[KEYRING_KEY_LEN];
    uint8_t wrapped[KEYRING_WRAPPED_LEN];
    struct keyring *kr;
    struct buf w;

    put("master-1.key", pepper_hex, 0600);
    put("master-2.key", key_hex, 0600);
    put("pepper.key", pepper_hex, 0600);
    kr = load_ok();
    buf_init(&w);
    memset(dek, 0x5c, sizeof(dek));
    ck_assert_int_eq(keyring_wrap_dek(kr, person_a, 16, dek, &w), 0);
    memcpy(wrapped, buf_peek(&w), sizeof(wrapped));
    buf_free(&w);

    testutil_capture_begin(base);
    for (size_t i = 0; i < sizeof(wrapped); i++) {
        int rc;

        wrapped[i] ^= 0x01;
        rc = keyring_unwrap_dek(kr, person_a, 16, wrapped, sizeof(wrapped),
                                back);
        if (i < 4) /* the key id: another key, unknown or out of range */
            ck_assert_msg(rc == ERR_CORRUPT || rc == ERR_KEY, "id byte %zu: %d",
                          i, rc);
        else
            ck_assert_msg(rc == ERR_CORRUPT, "byte %zu: %d", i, rc);
        wrapped[i] ^= 0x01;
    }
    testutil_capture_end();

    /* Relabelled with the other loaded key's id: that key cannot open it,
     * and the id is bound in the additional data anyway. */
    wrapped[3] = 1;
    ck_assert_int_eq(
        keyring_unwrap_dek(kr, person_a, 16, wrapped, sizeof(wrapped), back),
        ERR_CORRUPT);
    wrapped[3] = 2;
    ck_assert_int_eq(
        keyring_unwrap_dek(kr, person_a, 16, wrapped, sizeof(wrapped), back),
        0);
    ck_assert_mem_eq(back, dek, sizeof(dek));
    keyring_free(kr);
}
END_TEST

/* Rotation as the header tells it: add master-<N+1>.key, reload, old
 * DEKs still open, new ones use N+1; remove the old key too early and
 * its DEKs fail with ERR_KEY. */
START_TEST(test_keyring_rotation_and_unknown_key)
{
    uint8_t dek[KEYRING_KEY_LEN], back[KEYRING_KEY_LEN];
    struct keyring *kr1, *kr2, *kr3;
    struct buf old, fresh;
    const char *log;

    ck_assert_int_eq(keyring_generate_file(path_of("master-1.key")), 0);
    ck_assert_int_eq(keyring_generate_file(path_of("pepper.key")), 0);
    kr1 = load_ok();
    ck_assert_uint_eq(keyring_master_current_id(kr1), 1);
    buf_init(&old);
    buf_init(&fresh);
    memset(dek, 0x33, sizeof(dek));
    ck_assert_int_eq(keyring_wrap_dek(kr1, person_b, 16, dek, &old), 0);

    ck_assert_int_eq(keyring_generate_file(path_of("master-2.key")), 0);
    kr2 = load_ok();
    ck_assert_uint_eq(keyring_master_current_id(kr2), 2);
    ck_assert_int_eq(keyring_unwrap_dek(kr2, person_b, 16, buf_peek(&old),
                                        buf_size(&old), back),
                     0);
    ck_assert_mem_eq(back, dek, sizeof(dek));
    ck_assert_uint_eq(keyring_wrapped_key_id(buf_peek(&old), buf_size(&old)),
                      1);
    ck_assert_int_eq(keyring_wrap_dek(kr2, person_b, 16, back, &fresh), 0);
    ck_assert_uint_eq(
        keyring_wrapped_key_id(buf_peek(&fresh), buf_size(&fresh)), 2);

    /* The old keyring does not know key 2. */
    testutil_capture_begin(base);
    ck_assert_int_eq(keyring_unwrap_dek(kr1, person_b, 16, buf_peek(&fresh),
                                        buf_size(&fresh), back),
                     ERR_KEY);
    log = testutil_capture_end();
    ck_assert_ptr_nonnull(strstr(log, "master key 2"));

    unlink(path_of("master-1.key"));
    kr3 = load_ok();
    testutil_capture_begin(base);
    ck_assert_int_eq(keyring_unwrap_dek(kr3, person_b, 16, buf_peek(&old),
                                        buf_size(&old), back),
                     ERR_KEY);
    testutil_capture_end();
    ck_assert_int_eq(keyring_unwrap_dek(kr3, person_b, 16, buf_peek(&fresh),
                                        buf_size(&fresh), back),
                     0);
    ck_assert_mem_eq(back, dek, sizeof(dek));

    buf_free(&old);
    buf_free(&fresh);
    keyring_free(kr1);
    keyring_free(kr2);
    keyring_free(kr3);
}
END_TEST

START_TEST(test_keyring_nir_hash)
{
    static const uint8_t pepper[32] = {
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
        0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
        0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
    uint8_t h1[32], h2[32], want[32];
    struct keyring *kr, *other;

    put("master-1.key", key_hex, 0600);
    put("pepper.key", pepper_hex, 0600);
    kr = load_ok();

    /* HMAC-SHA256(pepper, "nir:" || canonical NIR), checked against the
     * definition. */
    ck_assert_int_eq(keyring_nir_hash(kr, "253072A07300443", h1), 0);
    ck_assert_int_eq(
        crypto_hmac_sha256(pepper, 32, "nir:253072A07300443", 19, want), 0);
    ck_assert_mem_eq(h1, want, 32);

    /* One person, one hash, however the number is typed. */
    ck_assert_int_eq(keyring_nir_hash(kr, " 2 53 07 2a 073 004 43", h2), 0);
    ck_assert_mem_eq(h1, h2, 32);

    /* Another number, another hash. */
    ck_assert_int_eq(keyring_nir_hash(kr, "253072B07300470", h2), 0);
    ck_assert(memcmp(h1, h2, 32) != 0);

    /* Not a NIR: refused, output wiped. */
    memset(h2, 0xee, sizeof(h2));
    ck_assert_int_eq(keyring_nir_hash(kr, "253072A07300444", h2), ERR_INVALID);
    for (size_t i = 0; i < 32; i++)
        ck_assert_uint_eq(h2[i], 0);

    /* Another pepper, another hash: the hash depends on the key. */
    put("pepper.key", key_hex, 0600);
    other = load_ok();
    ck_assert_int_eq(keyring_nir_hash(other, "253072A07300443", h2), 0);
    ck_assert(memcmp(h1, h2, 32) != 0);
    keyring_free(kr);
    keyring_free(other);
}
END_TEST

Suite *
suite_keyring(void)
{
    Suite *s = suite_create("keyring");
    TCase *tc = tcase_create("files");

    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_keyring_generate_file);
    tcase_add_test(tc, test_keyring_load_current_is_highest);
    tcase_add_test(tc, test_keyring_load_highest_possible_id);
    tcase_add_test(tc, test_keyring_refuses_open_modes);
    tcase_add_test(tc, test_keyring_refuses_malformed_files);
    tcase_add_test(tc, test_keyring_refuses_bad_names);
    tcase_add_test(tc, test_keyring_missing_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("deks");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_keyring_wrap_unwrap);
    tcase_add_test(tc, test_keyring_unwrap_tampered);
    tcase_add_test(tc, test_keyring_rotation_and_unknown_key);
    tcase_add_test(tc, test_keyring_nir_hash);
    suite_add_tcase(s, tc);
    return s;
}
