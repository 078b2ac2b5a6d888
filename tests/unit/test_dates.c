/*
 * test_dates.c -- unit tests of client/dates.c: every form of date a
 * person may type (ISO, day first with one or two digits, today, +N),
 * every impossible date refused (13th month, 31 of a 30-day month,
 * 29 February outside leap years, garbage around a good date), and the
 * output forms in both languages.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../client/cli.h"
#include "suites.h"

static const struct {
    const char *in;
    int y, m, d; /* 0: refused */
} parse_cases[] = {
    {"2026-12-03", 2026, 12, 3},
    {"03/12/2026", 2026, 12, 3},
    {"3/12/2026", 2026, 12, 3},
    {"3/2/2027", 2027, 2, 3},
    {"2024-02-29", 2024, 2, 29},
    {"29/02/2000", 2000, 2, 29},
    {"31/12/1999", 1999, 12, 31},
    {"2026-13-01", 0, 0, 0},
    {"2026-00-10", 0, 0, 0},
    {"2026-04-31", 0, 0, 0},
    {"31/04/2026", 0, 0, 0},
    {"2026-02-29", 0, 0, 0},
    {"29/02/1900", 0, 0, 0},
    {"2026-12-03x", 0, 0, 0},
    {" 2026-12-03", 0, 0, 0},
    {"2026/12/03", 0, 0, 0},
    {"12-03-2026", 0, 0, 0},
    {"03/12/26", 0, 0, 0},
    {"demain", 0, 0, 0},
    {"", 0, 0, 0},
    {"+", 0, 0, 0},
    {"+x", 0, 0, 0},
    {"0/12/2026", 0, 0, 0},
};

START_TEST(test_date_parse_table)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
         i++) {
        int y = -1, m = -1, d = -1;
        int rc = cli_date_parse(parse_cases[i].in, &y, &m, &d);

        if (parse_cases[i].y == 0) {
            ck_assert_msg(rc == -1, "'%s' accepted as %d-%d-%d",
                          parse_cases[i].in, y, m, d);
        } else {
            ck_assert_msg(rc == 0, "'%s' refused", parse_cases[i].in);
            ck_assert_int_eq(y, parse_cases[i].y);
            ck_assert_int_eq(m, parse_cases[i].m);
            ck_assert_int_eq(d, parse_cases[i].d);
        }
    }
}
END_TEST

START_TEST(test_date_relative)
{
    int y, m, d, ty, tm, td;

    cli_time_day(time(NULL), &ty, &tm, &td);
    ck_assert_int_eq(cli_date_parse("today", &y, &m, &d), 0);
    ck_assert(y == ty && m == tm && d == td);
    ck_assert_int_eq(cli_date_parse("aujourd'hui", &y, &m, &d), 0);
    ck_assert(y == ty && m == tm && d == td);
    ck_assert_int_eq(cli_date_parse("+0", &y, &m, &d), 0);
    ck_assert(y == ty && m == tm && d == td);
    ck_assert_int_eq(cli_date_parse("+400", &y, &m, &d), 0);
    ck_assert_int_ge(y, ty + 1);
    /* The end of a day is after its start, by a day less a second. */
    ck_assert_int_eq(cli_date_end_unix(2026, 12, 3) -
                         cli_date_start_unix(2026, 12, 3),
                     86399);
}
END_TEST

START_TEST(test_date_output)
{
    char b[64];

    ck_assert_str_eq(cli_date_short(true, 2026, 12, 3, b, sizeof(b)),
                     "03/12/2026");
    ck_assert_str_eq(cli_date_short(false, 2026, 12, 3, b, sizeof(b)),
                     "2026-12-03");
    ck_assert_str_eq(cli_date_short(true, 0, 0, 0, b, sizeof(b)), "-");
    ck_assert_str_eq(cli_date_long(true, 2026, 12, 3, b, sizeof(b)),
                     "3 décembre 2026");
    ck_assert_str_eq(cli_date_long(true, 2026, 8, 1, b, sizeof(b)),
                     "1er août 2026");
    ck_assert_str_eq(cli_date_long(false, 2026, 12, 3, b, sizeof(b)),
                     "3 December 2026");
    ck_assert_str_eq(cli_time_iso(0, b, sizeof(b)), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(cli_time_iso(1796303100, b, sizeof(b)),
                     "2026-12-03T13:05:00Z");
}
END_TEST

Suite *
suite_dates(void)
{
    Suite *s = suite_create("dates");
    TCase *tc = tcase_create("dates");

    /* Local dates in the tests are those of UTC. */
    setenv("TZ", "UTC", 1);
    tzset();
    tcase_add_test(tc, test_date_parse_table);
    tcase_add_test(tc, test_date_relative);
    tcase_add_test(tc, test_date_output);
    suite_add_tcase(s, tc);
    return s;
}
