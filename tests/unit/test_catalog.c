/*
 * test_catalog.c -- unit tests of catalog.c: the default catalogue
 * packaging/pieces.tsv (its types, file order, validities), the parsing
 * of validity texts, comments, CRLF and optional notes, and every refusal
 * of a bad file with the log line naming its line.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "err.h"
#include "suites.h"
#include "testutil.h"

static char dir[128];
static char file[192];

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
    testutil_mkdtemp(base, sizeof(base), NULL, "dossier-catalog");
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
    snprintf(file, sizeof(file), "%s/pieces.tsv", dir);
}

static void
dir_teardown(void)
{
    testutil_rmtree(dir);
}

static void
put(const char *content, size_t len)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
}

/* The default catalogue, found from the top of the source tree. */
static void
default_path(char *out, size_t n)
{
    const char *top = getenv("DOSSIER_TOP");

    snprintf(out, n, "%s/packaging/pieces.tsv", top ? top : ".");
}

START_TEST(test_catalog_default_file)
{
    const struct catalog_entry *e;
    struct catalog *cat = NULL;
    char path[512];

    default_path(path, sizeof(path));
    ck_assert_int_eq(catalog_load(path, &cat), 0);
    ck_assert_ptr_nonnull(cat);
    ck_assert_uint_eq(catalog_count(cat), 24);

    e = catalog_find(cat, "avis-imposition");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->code, "avis-imposition");
    ck_assert_str_eq(e->label, "Avis d'imposition sur le revenu");
    ck_assert_str_eq(e->issuer, "DGFiP");
    ck_assert_str_eq(e->validity_text, "until next year's avis");
    ck_assert_int_eq(e->validity, CATALOG_VALIDITY_OTHER);
    ck_assert_uint_eq(e->validity_days, 0);
    ck_assert_str_eq(e->notes, "one per income year; a new year supersedes");

    e = catalog_find(cat, "rib");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->label, "Relevé d'identité bancaire");
    ck_assert_str_eq(e->issuer, "bank");
    ck_assert_int_eq(e->validity, CATALOG_VALIDITY_NONE);

    /* An empty notes column (a trailing tab). */
    e = catalog_find(cat, "justificatif-domicile");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->validity, CATALOG_VALIDITY_DAYS);
    ck_assert_uint_eq(e->validity_days, 90);
    ck_assert_str_eq(e->notes, "");

    ck_assert_uint_eq(
        catalog_find(cat, "attestation-droits-cpam")->validity_days, 365);
    ck_assert_uint_eq(catalog_find(cat, "attestation-urssaf")->validity_days,
                      180);
    ck_assert_int_eq(catalog_find(cat, "bulletin-salaire")->validity,
                     CATALOG_VALIDITY_OTHER);
    ck_assert_int_eq(catalog_find(cat, "certificat-scolarite")->validity,
                     CATALOG_VALIDITY_OTHER);

    /* File order for listings; first and last of the file. */
    ck_assert_str_eq(catalog_entry_at(cat, 0)->code, "identite");
    ck_assert_str_eq(catalog_entry_at(cat, 23)->code, "bail");
    ck_assert_ptr_null(catalog_entry_at(cat, 24));
    /* Every entry is found by its code. */
    for (size_t i = 0; i < catalog_count(cat); i++)
        ck_assert_ptr_eq(catalog_find(cat, catalog_entry_at(cat, i)->code),
                         catalog_entry_at(cat, i));

    ck_assert_ptr_null(catalog_find(cat, "passeport"));
    ck_assert_ptr_null(catalog_find(cat, "RIB"));
    ck_assert_ptr_null(catalog_find(cat, "ri"));
    ck_assert_ptr_null(catalog_find(cat, "ribs"));
    ck_assert_ptr_null(catalog_find(cat, ""));
    ck_assert_ptr_null(catalog_find(cat, NULL));
    catalog_free(cat);
    catalog_free(NULL);
}
END_TEST

START_TEST(test_catalog_validity_texts)
{
    static const struct {
        const char *text;
        enum catalog_validity kind;
        uint32_t days;
    } cases[] = {
        {"3 months", CATALOG_VALIDITY_DAYS, 90},
        {"1 month", CATALOG_VALIDITY_DAYS, 30},
        {"1 year", CATALOG_VALIDITY_DAYS, 365},
        {"2 years", CATALOG_VALIDITY_DAYS, 730},
        {"15 days", CATALOG_VALIDITY_DAYS, 15},
        {"1 day", CATALOG_VALIDITY_DAYS, 1},
        {"2 weeks", CATALOG_VALIDITY_DAYS, 14},
        {"6 mois", CATALOG_VALIDITY_DAYS, 180},
        {"1 an", CATALOG_VALIDITY_DAYS, 365},
        {"3 ann\xc3\xa9"
         "es",
         CATALOG_VALIDITY_DAYS, 1095},
        {"10 jours", CATALOG_VALIDITY_DAYS, 10},
        {"3 Months", CATALOG_VALIDITY_DAYS, 90},
        {"3  months", CATALOG_VALIDITY_DAYS, 90},
        {"1000 days", CATALOG_VALIDITY_DAYS, 1000},
        {"none", CATALOG_VALIDITY_NONE, 0},
        {"None", CATALOG_VALIDITY_NONE, 0},
        {"aucune", CATALOG_VALIDITY_NONE, 0},
        {"", CATALOG_VALIDITY_OTHER, 0},
        {"0 days", CATALOG_VALIDITY_OTHER, 0},
        {"03 months", CATALOG_VALIDITY_OTHER, 0},
        {"1001 days", CATALOG_VALIDITY_OTHER, 0},
        {"3months", CATALOG_VALIDITY_OTHER, 0},
        {"3 months ago", CATALOG_VALIDITY_OTHER, 0},
        {"-3 months", CATALOG_VALIDITY_OTHER, 0},
        {"months", CATALOG_VALIDITY_OTHER, 0},
        {"one per month", CATALOG_VALIDITY_OTHER, 0},
        {"as stated", CATALOG_VALIDITY_OTHER, 0},
        {"99999999999 years", CATALOG_VALIDITY_OTHER, 0},
    };
    char text[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct catalog *cat = NULL;
        const struct catalog_entry *e;
        int n;

        n = snprintf(text, sizeof(text), "x\tLabel\tissuer\t%s\n",
                     cases[i].text);
        put(text, (size_t)n);
        ck_assert_int_eq(catalog_load(file, &cat), 0);
        e = catalog_find(cat, "x");
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(e->validity == cases[i].kind &&
                          e->validity_days == cases[i].days,
                      "\"%s\": kind %d days %u", cases[i].text, e->validity,
                      e->validity_days);
        ck_assert_str_eq(e->validity_text, cases[i].text);
        ck_assert_str_eq(e->notes, "");
        catalog_free(cat);
    }
}
END_TEST

/* Comments, blank lines, CRLF, surrounding spaces, 4 or 5 columns, no
 * final newline. */
START_TEST(test_catalog_forms_accepted)
{
    static const char text[] = "# code\tlabel\tissuer\tvalidity\tnotes\r\n"
                               "\r\n"
                               "   \n"
                               "a-1\tPremier\tmairie\t3 months\tsome notes\r\n"
                               "# another comment\n"
                               "b2\t Second \t\tnone\n"
                               "c\tTroisième\tCAF\t1 year";
    struct catalog *cat = NULL;
    const struct catalog_entry *e;

    put(text, sizeof(text) - 1);
    ck_assert_int_eq(catalog_load(file, &cat), 0);
    ck_assert_uint_eq(catalog_count(cat), 3);
    e = catalog_find(cat, "a-1");
    ck_assert_str_eq(e->notes, "some notes");
    ck_assert_uint_eq(e->validity_days, 90);
    e = catalog_find(cat, "b2");
    ck_assert_str_eq(e->label, "Second");
    ck_assert_str_eq(e->issuer, "");
    ck_assert_int_eq(e->validity, CATALOG_VALIDITY_NONE);
    e = catalog_find(cat, "c");
    ck_assert_str_eq(e->label, "Troisième");
    ck_assert_uint_eq(e->validity_days, 365);
    catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_code_valid)
{
    char long_code[CATALOG_CODE_MAX + 2];

    ck_assert(catalog_code_valid("rib"));
    ck_assert(catalog_code_valid("a"));
    ck_assert(catalog_code_valid("0-9"));
    ck_assert(catalog_code_valid("-"));
    ck_assert(!catalog_code_valid(""));
    ck_assert(!catalog_code_valid(NULL));
    ck_assert(!catalog_code_valid("Rib"));
    ck_assert(!catalog_code_valid("ri b"));
    ck_assert(!catalog_code_valid("ri_b"));
    ck_assert(!catalog_code_valid("pi\xc3\xa8"
                                  "ce"));
    memset(long_code, 'a', sizeof(long_code));
    long_code[CATALOG_CODE_MAX] = '\0';
    ck_assert(catalog_code_valid(long_code));
    long_code[CATALOG_CODE_MAX] = 'a';
    long_code[CATALOG_CODE_MAX + 1] = '\0';
    ck_assert(!catalog_code_valid(long_code));
}
END_TEST

/* Each bad file is refused with ERR_CONFIG and one log line naming the
 * line at fault. */
START_TEST(test_catalog_bad_files)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *want;
    } cases[] = {
        {"# t\na\tA\tx\tnone\n\nb\tB\tx\tnone\na\tA2\tx\tnone\n", 0,
         "line 5: duplicate code a (first on line 2)"},
        {"a\tA\tx\tnone\nRib\tB\tx\tnone\n", 0, "line 2: bad code"},
        {"a\tA\tx\tnone\nri b\tB\tx\tnone\n", 0, "line 2: bad code"},
        {"a\tA\tx\tnone\n\tB\tx\tnone\n", 0, "line 2: bad code"},
        {"a\tA\tx\tnone\n"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "\tB\tx\tnone\n",
         0, "line 2: bad code"},
        {"a\tA\tx\n", 0, "line 1: 3 tab-separated columns"},
        {"a\n", 0, "line 1: 1 tab-separated columns"},
        {"a\tA\tx\tnone\tn\textra\n", 0,
         "line 1: more than 5 tab-separated columns"},
        {"#\n#\na\t\tx\tnone\n", 0, "line 3: empty label for code a"},
        {"a\tA\tx\tnone\nb\tB\xff\tx\tnone\n", 0,
         "line 2: column 2 is not UTF-8"},
        {"a\tA\tx\tnone\nb\tB\tx\tnone\t\xc3(\n", 0,
         "line 2: column 5 is not UTF-8"},
        {"a\tA\tx\tnone\nb\tB\tx\xc0\xaf\tnone\n", 0, /* overlong '/' */
         "line 2: column 3 is not UTF-8"},
        {"a\tA\tx\tnone\nb\tB\x1b[31m\tx\tnone\n", 0,
         "line 2: column 2 is not UTF-8"},
        {"a\tA\tx\tno\0ne\n", 12, "holds a NUL byte"},
        {"", 0, "no document type in the file"},
        {"# only\n# comments\n\n", 0, "no document type in the file"},
    };
    char want[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct catalog *cat = (struct catalog *)&cat;
        const char *log;
        int rc;

        put(cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
        testutil_capture_begin(base);
        rc = catalog_load(file, &cat);
        log = testutil_capture_end();
        ck_assert_msg(rc == ERR_CONFIG, "case %zu: %d", i, rc);
        ck_assert_ptr_null(cat);
        snprintf(want, sizeof(want), "%s %s", file, cases[i].want);
        if (strstr(cases[i].want, "line ") != cases[i].want)
            snprintf(want, sizeof(want), "%s: %s", file, cases[i].want);
        ck_assert_msg(strstr(log, want) != NULL, "case %zu: want \"%s\" in %s",
                      i, want, log);
    }
}
END_TEST

START_TEST(test_catalog_long_line_and_big_file)
{
    struct catalog *cat = NULL;
    size_t n = CATALOG_FILE_MAX + 1;
    char *big = malloc(n);
    const char *log;

    /* One line of 5000 bytes. */
    memset(big, 'x', n);
    memcpy(big, "a\tA\tx\tnone\nb\tB\tx\t", 17);
    big[5017] = '\n';
    put(big, 5018);
    testutil_capture_begin(base);
    ck_assert_int_eq(catalog_load(file, &cat), ERR_CONFIG);
    log = testutil_capture_end();
    ck_assert_ptr_nonnull(strstr(log, "line 2: longer than 4096 bytes"));

    /* Over 1 MiB, refused before parsing. */
    put(big, n);
    testutil_capture_begin(base);
    ck_assert_int_eq(catalog_load(file, &cat), ERR_CONFIG);
    log = testutil_capture_end();
    ck_assert_ptr_nonnull(strstr(log, "larger than"));
    free(big);

    /* Not there. */
    testutil_capture_begin(base);
    ck_assert_int_eq(catalog_load("/nonexistent/pieces.tsv", &cat), ERR_CONFIG);
    log = testutil_capture_end();
    ck_assert_ptr_nonnull(strstr(log, "/nonexistent/pieces.tsv"));
    ck_assert_ptr_null(cat);

    /* A directory. */
    testutil_capture_begin(base);
    ck_assert_int_eq(catalog_load(dir, &cat), ERR_CONFIG);
    testutil_capture_end();
}
END_TEST

Suite *
suite_catalog(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");

    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_catalog_default_file);
    tcase_add_test(tc, test_catalog_validity_texts);
    tcase_add_test(tc, test_catalog_forms_accepted);
    tcase_add_test(tc, test_catalog_code_valid);
    tcase_add_test(tc, test_catalog_bad_files);
    tcase_add_test(tc, test_catalog_long_line_and_big_file);
    suite_add_tcase(s, tc);
    return s;
}
