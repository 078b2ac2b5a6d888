/*
 * test_vault_ids.c -- the text form of the vault's ids: a kind letter and
 * 26 Crockford base32 digits of the 128-bit id (big-endian, the two top
 * bits of the 130 zero), known vectors, round trips, and every malformed
 * form refused.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "suites.h"
#include "vault.h"
#include "vault_int.h"

static struct vault_id
id_of(const unsigned char bytes[16])
{
    struct vault_id id;

    memcpy(id.b, bytes, 16);
    return id;
}

START_TEST(test_vault_ids_known_vectors)
{
    static const unsigned char zero_one[16] = {[15] = 1};
    unsigned char count[16], ones[16];
    char s[VAULT_ID_STR];
    struct vault_id id;

    for (int i = 0; i < 16; i++)
        count[i] = (unsigned char)i;
    memset(ones, 0xff, sizeof(ones));
    id = id_of(count);
    vault__id_format(&id, 'd', s);
    ck_assert_str_eq(s, "d00041061050r3gg28a1c60t3gf");
    id = id_of(ones);
    vault__id_format(&id, 'c', s);
    ck_assert_str_eq(s, "c7zzzzzzzzzzzzzzzzzzzzzzzzz");
    id = id_of(zero_one);
    vault_id_format(&id, s);
    ck_assert_str_eq(s, "d00000000000000000000000001");
}
END_TEST

START_TEST(test_vault_ids_round_trip)
{
    char s[VAULT_ID_STR];
    struct vault_id id, back;

    srand(9);
    for (int n = 0; n < 1000; n++) {
        for (int i = 0; i < 16; i++)
            id.b[i] = (uint8_t)rand();
        vault__id_format(&id, 'm', s);
        ck_assert_uint_eq(strlen(s), VAULT_ID_STR - 1);
        ck_assert_int_eq(vault__id_parse(s, 'm', &back), 0);
        ck_assert_mem_eq(back.b, id.b, 16);
    }
}
END_TEST

START_TEST(test_vault_ids_malformed_refused)
{
    static const char *bad[] = {
        "",
        "d",
        "d0000000000000000000000000",   /* 25 digits */
        "d000000000000000000000000000", /* 27 digits */
        "x00000000000000000000000001",  /* another kind */
        "D00000000000000000000000001",  /* kind in upper case */
        "d80000000000000000000000000",  /* 131st bit set */
        "dz0000000000000000000000000",
        "d0000000000000000000000000A",  /* upper case */
        "d0000000000000000000000000i",  /* not Crockford: i l o u */
        "d0000000000000000000000000l",
        "d0000000000000000000000000o",
        "d0000000000000000000000000u",
        "d0000000000000000000000000-",
        "d0000000000000 00000000000001",
    };
    struct vault_id id;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(vault__id_parse(bad[i], 'd', &id) == ERR_INVALID,
                      "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(vault__id_parse(NULL, 'd', &id), ERR_INVALID);
    ck_assert_int_eq(vault_id_parse("d7zzzzzzzzzzzzzzzzzzzzzzzzz", &id), 0);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(id.b[i], 0xff);
}
END_TEST

/* Every byte value in the last digit's place: exactly the 32 digits of
 * the alphabet are taken, with their values; every other byte (upper
 * case, the four letters Crockford leaves out, bytes over 0x7f) is
 * refused. */
START_TEST(test_vault_ids_every_byte)
{
    static const char digits[] = "0123456789abcdefghjkmnpqrstvwxyz";
    char s[VAULT_ID_STR];
    struct vault_id id;
    int taken = 0;

    for (int c = 1; c < 256; c++) {
        const char *d = memchr(digits, c, sizeof(digits) - 1);
        int rc;

        memset(s, '0', sizeof(s));
        s[0] = 'd';
        s[VAULT_ID_STR - 2] = (char)c;
        s[VAULT_ID_STR - 1] = '\0';
        rc = vault__id_parse(s, 'd', &id);
        if (d == NULL) {
            ck_assert_msg(rc == ERR_INVALID, "accepted byte 0x%02x", c);
            continue;
        }
        ck_assert_msg(rc == 0, "refused digit '%c'", c);
        ck_assert_uint_eq(id.b[15], (unsigned)(d - digits));
        taken++;
    }
    ck_assert_int_eq(taken, 32);
}
END_TEST

Suite *
suite_vault_ids(void)
{
    Suite *s = suite_create("vault_ids");
    TCase *tc = tcase_create("ids");

    tcase_add_test(tc, test_vault_ids_known_vectors);
    tcase_add_test(tc, test_vault_ids_round_trip);
    tcase_add_test(tc, test_vault_ids_malformed_refused);
    tcase_add_test(tc, test_vault_ids_every_byte);
    suite_add_tcase(s, tc);
    return s;
}
