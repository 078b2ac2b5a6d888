/*
 * dates.c -- dates read and written the way people write them (cli.h).
 *
 * Input: ISO 2026-12-03, the French 03/12/2026 (day first, always: this
 * is a French public service), "today" / "aujourd'hui", "+N" days.
 * Output: in French 03/12/2026 in tables and "3 décembre 2026" in
 * sentences; in English ISO dates in tables and "3 December 2026".
 * Month names are our own tables rather than strftime's, so that the
 * output does not depend on which locales the system has installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *const months_fr[] = {
    "janvier", "février", "mars",      "avril",   "mai",      "juin",
    "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};
static const char *const months_en[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
date_valid(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && leap(y));
}

/* Reads 1..|max| digits at |*s| into |*v|. */
static bool
digits(const char **s, int max, int *v)
{
    int n = 0, k = 0;

    while (**s >= '0' && **s <= '9' && k < max) {
        n = n * 10 + (**s - '0');
        (*s)++;
        k++;
    }
    *v = n;
    return k > 0;
}

void
cli_time_day(int64_t unix_s, int *y, int *m, int *d)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    localtime_r(&t, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
}

int
cli_date_parse(const char *s, int *y, int *m, int *d)
{
    const char *p = s;
    int a, b, c;

    if (strcmp(s, "today") == 0 || strcmp(s, "aujourd'hui") == 0) {
        cli_time_day(time(NULL), y, m, d);
        return 0;
    }
    if (s[0] == '+') {
        p = s + 1;
        if (!digits(&p, 5, &a) || *p != '\0')
            return -1;
        cli_time_day(time(NULL) + (int64_t)a * 86400, y, m, d);
        return 0;
    }
    if (!digits(&p, 4, &a))
        return -1;
    if (*p == '-' && p - s == 4) {
        p++;
        if (!digits(&p, 2, &b) || *p++ != '-' || !digits(&p, 2, &c) ||
            *p != '\0' || !date_valid(a, b, c))
            return -1;
        *y = a, *m = b, *d = c;
        return 0;
    }
    if (*p == '/' && p - s <= 2) {
        p++;
        if (!digits(&p, 2, &b) || *p++ != '/' || !digits(&p, 4, &c) ||
            *p != '\0' || !date_valid(c, b, a))
            return -1;
        *y = c, *m = b, *d = a;
        return 0;
    }
    return -1;
}

static int64_t
day_unix(int y, int m, int d, int h, int mi, int sec)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = m - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec,
                    .tm_isdst = -1};

    return (int64_t)mktime(&tm);
}

int64_t
cli_date_end_unix(int y, int m, int d)
{
    return day_unix(y, m, d, 23, 59, 59);
}

int64_t
cli_date_start_unix(int y, int m, int d)
{
    return day_unix(y, m, d, 0, 0, 0);
}

const char *
cli_date_short(bool french, int y, int m, int d, char *out, size_t outsz)
{
    if (y == 0)
        snprintf(out, outsz, "-");
    else if (french)
        snprintf(out, outsz, "%02d/%02d/%04d", d, m, y);
    else
        snprintf(out, outsz, "%04d-%02d-%02d", y, m, d);
    return out;
}

const char *
cli_date_long(bool french, int y, int m, int d, char *out, size_t outsz)
{
    if (y == 0 || m < 1 || m > 12)
        snprintf(out, outsz, "-");
    else if (french)
        snprintf(out, outsz, "%d%s %s %d", d, d == 1 ? "er" : "",
                 months_fr[m - 1], y);
    else
        snprintf(out, outsz, "%d %s %d", d, months_en[m - 1], y);
    return out;
}

const char *
cli_time_short(bool french, int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (unix_s == 0) {
        snprintf(out, outsz, "-");
        return out;
    }
    localtime_r(&t, &tm);
    if (french)
        snprintf(out, outsz, "%02d/%02d/%04d %02d:%02d", tm.tm_mday,
                 tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
    else
        snprintf(out, outsz, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    return out;
}

const char *
cli_time_long(bool french, int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    char day[64];

    localtime_r(&t, &tm);
    cli_date_long(french, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, day,
                  sizeof(day));
    if (french)
        snprintf(out, outsz, "%s à %02d:%02d", day, tm.tm_hour, tm.tm_min);
    else
        snprintf(out, outsz, "%s, %02d:%02d", day, tm.tm_hour, tm.tm_min);
    return out;
}

const char *
cli_time_iso(int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}
