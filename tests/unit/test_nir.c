/*
 * test_nir.c -- unit tests of nir.c: published numbers, numbers built here
 * with their key computed by a second, independent method (Horner's rule
 * mod 97 over the digits), Corsica, every wrong key, every single-digit
 * typo, and each refusal with its reason.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "nir.h"
#include "suites.h"

/* The key by the test's own method: the number mod 97 digit by digit,
 * Corsica's 2A / 2B read as 19 / 18. */
static int
ref_key(const char *first13)
{
    char d[14];
    unsigned r = 0;

    memcpy(d, first13, 13);
    d[13] = '\0';
    if (d[5] == '2' && (d[6] == 'A' || d[6] == 'B')) {
        d[6] = d[6] == 'A' ? '9' : '8';
        d[5] = '1';
    }
    for (int i = 0; i < 13; i++)
        r = (r * 10 + (unsigned)(d[i] - '0')) % 97;
    return (int)(97 - r);
}

/* Writes first13 followed by its reference key into |out| (16 bytes). */
static void
with_key(const char *first13, char *out)
{
    snprintf(out, NIR_STR, "%.13s%02d", first13, ref_key(first13));
}

static int
check(const char *in, const char **why)
{
    char out[NIR_STR];

    *why = NULL;
    return nir_normalize(in, out, why);
}

/* Numbers published with their key (python-stdnum's documentation, a
 * widely quoted Paris example). */
START_TEST(test_nir_published_numbers)
{
    static const struct {
        const char *in, *canon;
    } ok[] = {
        {"2 95 10 99 126 111 93", "295109912611193"},
        {"253072B07300470", "253072B07300470"},
        {"253072A07300443", "253072A07300443"},
        {"1 00 01 75 101 001 51", "100017510100151"},
    };
    char out[NIR_STR];
    const char *why = "unset";

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(nir_normalize(ok[i].in, out, &why) == 0, "refused %s: %s",
                      ok[i].in, why);
        ck_assert_str_eq(out, ok[i].canon);
    }
    ck_assert_str_eq(why, "unset"); /* untouched on success */
    ck_assert_int_eq(nir_key_compute("2951099126111"), 93);
    ck_assert_int_eq(nir_key_compute("253072B073004"), 70);
    ck_assert_int_eq(nir_key_compute("253072A073004"), 43);
    ck_assert_int_eq(nir_key_compute("253072a073004"), 43);
}
END_TEST

/* Every sex digit, month range edge and kind of département, keys from
 * the reference method. */
START_TEST(test_nir_built_numbers)
{
    static const char *sexes = "123478";
    static const char *months[] = {"01", "06", "12", "20", "30",
                                   "42", "50", "75", "99"};
    static const char *depts[] = {"01", "13", "20", "2A", "2B",
                                  "75", "95", "97", "99"};
    char first[14], nir[NIR_STR], out[NIR_STR];
    const char *why;
    int n = 0;

    for (const char *s = sexes; *s != '\0'; s++)
        for (size_t m = 0; m < sizeof(months) / sizeof(months[0]); m++)
            for (size_t d = 0; d < sizeof(depts) / sizeof(depts[0]); d++) {
                snprintf(first, sizeof(first), "%c84%s%s%03d%03d", *s,
                         months[m], depts[d], (int)(m * 97 + d) % 1000,
                         (int)(d * 31 + 1) % 1000);
                with_key(first, nir);
                ck_assert_int_eq(nir_key_compute(first), ref_key(first));
                ck_assert_msg(nir_normalize(nir, out, &why) == 0,
                              "refused built %s: %s", nir, why);
                ck_assert_str_eq(out, nir);
                n++;
            }
    ck_assert_int_eq(n, 6 * 9 * 9);
}
END_TEST

/* The two methods agree on many numbers (a simple generator). */
START_TEST(test_nir_key_agrees_with_reference)
{
    uint32_t x = 12345;
    char first[14];

    for (int i = 0; i < 5000; i++) {
        for (int k = 0; k < 13; k++) {
            x = x * 1103515245u + 12345u;
            first[k] = (char)('0' + (x >> 16) % 10);
        }
        if (i % 3 == 0) {
            first[5] = '2';
            first[6] = i % 2 ? 'A' : 'B';
        }
        first[13] = '\0';
        ck_assert_int_eq(nir_key_compute(first), ref_key(first));
    }
    ck_assert_int_eq(nir_key_compute("000000000000"), ERR_INVALID);
    ck_assert_int_eq(nir_key_compute("18412764510x9"), ERR_INVALID);
    ck_assert_int_eq(nir_key_compute("184122C451089"), ERR_INVALID);
    ck_assert_int_eq(nir_key_compute("1841A76451089"), ERR_INVALID);
}
END_TEST

START_TEST(test_nir_spaces_and_corsica_case)
{
    char out[NIR_STR];

    ck_assert_int_eq(nir_normalize("  2 53 07 2a 073 004 43  ", out, NULL), 0);
    ck_assert_str_eq(out, "253072A07300443");
    ck_assert_int_eq(nir_normalize("253072b07300470", out, NULL), 0);
    ck_assert_str_eq(out, "253072B07300470");
    ck_assert_int_eq(nir_normalize("2951099126111 93", NULL, NULL), 0);
    /* Spaces only: not tabs, dots or dashes. */
    ck_assert_int_eq(nir_normalize("2\t95 10 99 126 111 93", out, NULL),
                     ERR_INVALID);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(nir_normalize("2.95.10.99.126.111.93", out, NULL),
                     ERR_INVALID);
    ck_assert_int_eq(nir_normalize("2-95-10-99-126-111-93", out, NULL),
                     ERR_INVALID);
}
END_TEST

/* Of the 97 possible keys exactly one is accepted; 00, 98 and 99 are not
 * keys at all. */
START_TEST(test_nir_every_wrong_key)
{
    static const char *firsts[] = {"2951099126111", "253072A073004",
                                   "253072B073004", "1000175101001"};
    char nir[NIR_STR];
    const char *why;

    for (size_t f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++) {
        int good = ref_key(firsts[f]), accepted = 0;

        for (int k = 0; k <= 99; k++) {
            snprintf(nir, sizeof(nir), "%s%02d", firsts[f], k);
            if (check(nir, &why) == 0) {
                accepted++;
                ck_assert_int_eq(k, good);
            } else if (k == 0 || k > 97) {
                ck_assert_str_eq(why,
                                 "NIR control key must be between 01 and 97");
            } else {
                ck_assert_str_eq(why, "NIR control key does not match");
            }
        }
        ck_assert_int_eq(accepted, 1);
    }
}
END_TEST

/* Mod 97 catches every single-digit change of the 13 digits. */
START_TEST(test_nir_single_digit_typos_caught)
{
    char nir[NIR_STR] = "100017510100151";
    const char *why;

    for (int i = 0; i < 13; i++) {
        char orig = nir[i];

        for (char c = '0'; c <= '9'; c++) {
            if (c == orig)
                continue;
            nir[i] = c;
            ck_assert_msg(check(nir, &why) == ERR_INVALID,
                          "typo at %d accepted", i);
        }
        nir[i] = orig;
    }
    ck_assert_int_eq(check(nir, &why), 0);
}
END_TEST

START_TEST(test_nir_refusals_with_reason)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "NIR must have 15 characters"},
        {"   ", "NIR must have 15 characters"},
        {"29510991261119", "NIR must have 15 characters"},
        {"2951099126111930", "NIR must have 15 characters"},
        {"2 95 10 99 126 111 9", "NIR must have 15 characters"},
        {"2951099126111931234567890", "NIR must have 15 characters"},
        {"095109912611193", "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)"},
        {"595109912611193", "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)"},
        {"695109912611193", "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)"},
        {"995109912611193", "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)"},
        {"A95109912611193", "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)"},
        {"2X5109912611193", "NIR year of birth must be two digits"},
        {"295009912611193", "NIR month is invalid"},
        {"295139912611193", "NIR month is invalid"},
        {"295199912611193", "NIR month is invalid"},
        {"295439912611193", "NIR month is invalid"},
        {"295499912611193", "NIR month is invalid"},
        {"2951X9912611193", "NIR month is invalid"},
        {"295102C12611193", "NIR department must be two digits, 2A or 2B"},
        {"295103A12611193", "NIR department must be two digits, 2A or 2B"},
        {"29510A212611193", "NIR department must be two digits, 2A or 2B"},
        {"2951099A2611193", "NIR commune must be three digits"},
        {"29510991261O193", "NIR order number must be three digits"},
        {"2951099126111A3", "NIR control key must be two digits"},
        {"2951099126111 9x", "NIR control key must be two digits"},
        {"295109912611194", "NIR control key does not match"},
        {"29510991261119\xc3\xa9", "NIR must have 15 characters"},
        {"2951099126111\xc3\xa9", "NIR control key must be two digits"},
    };
    char out[NIR_STR];
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 'x', sizeof(out));
        why = NULL;
        ck_assert_msg(nir_normalize(bad[i].in, out, &why) == ERR_INVALID,
                      "accepted \"%s\"", bad[i].in);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strcmp(why, bad[i].why) == 0, "\"%s\": got \"%s\"",
                      bad[i].in, why);
        ck_assert_str_eq(out, "");
    }
    /* A NULL |why| is allowed. */
    ck_assert_int_eq(nir_normalize("x", out, NULL), ERR_INVALID);
}
END_TEST

Suite *
suite_nir(void)
{
    Suite *s = suite_create("nir");
    TCase *tc = tcase_create("nir");

    tcase_add_test(tc, test_nir_published_numbers);
    tcase_add_test(tc, test_nir_built_numbers);
    tcase_add_test(tc, test_nir_key_agrees_with_reference);
    tcase_add_test(tc, test_nir_spaces_and_corsica_case);
    tcase_add_test(tc, test_nir_every_wrong_key);
    tcase_add_test(tc, test_nir_single_digit_typos_caught);
    tcase_add_test(tc, test_nir_refusals_with_reason);
    suite_add_tcase(s, tc);
    return s;
}
