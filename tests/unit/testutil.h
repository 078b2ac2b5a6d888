/*
 * testutil.h -- what several unit suites need: temporary directories that
 * are removed even when a test fails.
 */
#ifndef DOSSIER_TESTUTIL_H
#define DOSSIER_TESTUTIL_H

#include <stddef.h>

/*
 * Makes a fresh directory "<parent>/<stem>-XXXXXX" (parent NULL: /tmp)
 * and writes its path into |out| (|size| bytes).  Fails the running test
 * if it cannot.
 */
void testutil_mkdtemp(char *out, size_t size, const char *parent,
                      const char *stem);

/* Removes |path| and everything below it; silent if it is gone. */
void testutil_rmtree(const char *path);

/* Sends stderr (the daemon's log lines) to a file in |dir| until
 * testutil_capture_end(), which restores it and returns what was written
 * (static storage, up to 8 KiB), so a test can check a log line. */
void testutil_capture_begin(const char *dir);
const char *testutil_capture_end(void);

/* Makes the |n|th call to strdup() from now on, in the daemon's code,
 * fail with ENOMEM (0: none).  The unit tests are linked with
 * -Wl,--wrap=strdup for this. */
void testutil_strdup_fail(int n);

#endif
