/*
 * testutil.c -- helpers shared by the unit suites (see testutil.h).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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
