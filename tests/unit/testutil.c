/*
 * testutil.c -- helpers shared by the unit suites (see testutil.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"

void
testutil_mkdtemp(char *out, size_t size, const char *parent, const char *stem)
{
    int n = snprintf(out, size, "%s/%s-XXXXXX", parent ? parent : "/tmp",
                     stem);

    ck_assert_msg(n > 0 && (size_t)n < size, "temporary path too long");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static int
testutil_rm_entry(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
testutil_rmtree(const char *path)
{
    nftw(path, testutil_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int saved_stderr = -1;
static char capture_path[4096];

void
testutil_capture_begin(const char *dir)
{
    int fd;

    snprintf(capture_path, sizeof(capture_path), "%s/log-XXXXXX", dir);
    fd = mkstemp(capture_path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

const char *
testutil_capture_end(void)
{
    static char text[8192];
    int fd;
    ssize_t n;

    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fd = open(capture_path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    unlink(capture_path);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static int strdup_fail_in;

void
testutil_strdup_fail(int n)
{
    strdup_fail_in = n;
}

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);

char *
__wrap_strdup(const char *s)
{
    if (strdup_fail_in > 0 && --strdup_fail_in == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}
