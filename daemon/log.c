/*
 * log.c -- key=value lines on stderr (see log.h).
 *
 * Each line is formatted in a local buffer and written with one write(2),
 * so lines from several threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_max = LOG_LVL_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(enum log_level level)
{
    log_max = level;
}

int
log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static void
log_vprint(enum log_level level, const char *fn, const char *suffix,
           const char *fmt, va_list ap)
{
    char line[1024];
    int n;

    if (level > log_max)
        return;
    n = snprintf(line, sizeof(line), "level=%s fn=%s ", level_names[level],
                 fn);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if ((size_t)n >= sizeof(line) - 2)
        n = sizeof(line) - 2;
    if (suffix != NULL)
        n += snprintf(line + n, sizeof(line) - n, ": %s", suffix);
    if ((size_t)n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, n);
}

void
log_print(enum log_level level, const char *fn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vprint(level, fn, NULL, fmt, ap);
    va_end(ap);
}

void
log_print_errno(const char *fn, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vprint(LOG_LVL_WARN, fn, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void
log_fatal(const char *fn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vprint(LOG_LVL_ERROR, fn, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
