/*
 * test_output.c -- unit tests of client/output.c: the JSON writer places
 * its commas right at every depth and escapes what it must (the output
 * is then parsed back by the interop test), tables align columns by
 * characters, not bytes, and sizes read as people read them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/output.h"
#include "suites.h"

/* Runs |w| into a string (the caller frees it). */
static char *
jw_text(struct jw *w)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);

    ck_assert_int_eq(jw_print(w, f), 0);
    fclose(f);
    return s;
}

START_TEST(test_jw_nesting)
{
    struct jw w;
    char *s;

    jw_init(&w);
    jw_arr(&w);
    jw_obj(&w);
    jw_kstr(&w, "a", "x\"y\\z\n");
    jw_kint(&w, "n", -42);
    jw_key(&w, "l");
    jw_arr(&w);
    jw_str(&w, "1");
    jw_str(&w, NULL);
    jw_bool(&w, true);
    jw_arr_end(&w);
    jw_kdate(&w, "d", 2026, 12, 3);
    jw_kdate(&w, "e", 0, 0, 0);
    jw_ktime(&w, "t", 0);
    jw_obj_end(&w);
    jw_obj(&w);
    jw_obj_end(&w);
    jw_arr(&w);
    jw_arr_end(&w);
    jw_arr_end(&w);
    s = jw_text(&w);
    ck_assert_str_eq(s, "[{\"a\":\"x\\\"y\\\\z\\u000a\",\"n\":-42,"
                        "\"l\":[\"1\",null,true],\"d\":\"2026-12-03\","
                        "\"e\":null,\"t\":null},{},[]]\n");
    free(s);
}
END_TEST

START_TEST(test_jw_hex)
{
    struct jw w;
    const uint8_t b[] = {0x00, 0xab, 0xff};
    char *s;

    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "h");
    jw_hex(&w, b, sizeof(b));
    jw_obj_end(&w);
    s = jw_text(&w);
    ck_assert_str_eq(s, "{\"h\":\"00abff\"}\n");
    free(s);
}
END_TEST

START_TEST(test_table_align)
{
    const char *head[] = {"TYPE", "DATE"};
    struct table t;
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);

    table_init(&t, 2, head);
    ck_assert_int_eq(table_row(&t, (const char *[]){"Pièce d'identité",
                                                     "03/12/2026"}),
                     0);
    ck_assert_int_eq(table_row(&t, (const char *[]){"RIB", NULL}), 0);
    table_print(&t, f, "none");
    fclose(f);
    /* "Pièce d'identité" is 16 characters (17 bytes): the second column
     * starts at character 18 on every line. */
    ck_assert_str_eq(s, "TYPE              DATE\n"
                        "Pièce d'identité  03/12/2026\n"
                        "RIB               -\n");
    free(s);
}
END_TEST

START_TEST(test_table_empty)
{
    const char *head[] = {"A"};
    struct table t;
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);

    table_init(&t, 1, head);
    table_print(&t, f, "No document.");
    fclose(f);
    ck_assert_str_eq(s, "No document.\n");
    free(s);
}
END_TEST

START_TEST(test_size_human)
{
    char b[32];

    ck_assert_str_eq(size_human(12, b, sizeof(b)), "12 B");
    ck_assert_str_eq(size_human(4096, b, sizeof(b)), "4 KiB");
    ck_assert_str_eq(size_human(50u * 1024 * 1024, b, sizeof(b)), "50.0 MiB");
}
END_TEST

Suite *
suite_output(void)
{
    Suite *s = suite_create("output");
    TCase *tc = tcase_create("output");

    tcase_add_test(tc, test_jw_nesting);
    tcase_add_test(tc, test_jw_hex);
    tcase_add_test(tc, test_table_align);
    tcase_add_test(tc, test_table_empty);
    tcase_add_test(tc, test_size_human);
    suite_add_tcase(s, tc);
    return s;
}
