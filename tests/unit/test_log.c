/*
 * test_log.c -- unit tests of log.c: the key=value line (free text quoted
 * as msg, pairs as written, errno text as error), quotes and control
 * bytes escaped so that an event stays one line, levels filtered, and a
 * message longer than a line cut, still ending in a newline; deferred
 * lines (log_defer) kept until log_flush, a warning writing them first,
 * and none lost or reordered when they overflow the buffer; a log file
 * larger than the write-back step (log.c) keeps every line, in order,
 * and errno survives the lines that start its write-back; the line
 * log_kv builds without printf is the one log_print makes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"
#include "testutil.h"

static char dir[128];

static void
setup(void)
{
    testutil_mkdtemp(dir, sizeof(dir), NULL, "dossier-log");
    log_set_level(LOG_LVL_INFO);
}

static void
teardown(void)
{
    log_set_level(LOG_LVL_INFO);
    testutil_rmtree(dir);
}

START_TEST(test_log_pairs)
{
    const char *got;

    testutil_capture_begin(dir);
    log_info("listening host=%s port=%d", "127.0.0.1", 7443);
    log_info("port=%d only", 1);
    log_info("no pairs at all");
    got = testutil_capture_end();
    ck_assert_str_eq(got,
                     "level=info fn=test_log_pairs_fn msg=\"listening\" "
                     "host=127.0.0.1 port=7443\n"
                     "level=info fn=test_log_pairs_fn port=1 only\n"
                     "level=info fn=test_log_pairs_fn msg=\"no pairs at "
                     "all\"\n");
}
END_TEST

START_TEST(test_log_escapes)
{
    const char *got;

    testutil_capture_begin(dir);
    log_warnx("a \"quoted\" \\ word\nsecond line k=v\r\n");
    errno = ENOENT;
    log_warn("cannot open path=%s", "/x");
    got = testutil_capture_end();
    ck_assert_str_eq(got,
                     "level=warn fn=test_log_escapes_fn msg=\"a \\\"quoted\\\" "
                     "\\\\ word?second line\" k=v??\n"
                     "level=warn fn=test_log_escapes_fn msg=\"cannot open\" "
                     "path=/x error=\"No such file or directory\"\n");
}
END_TEST

START_TEST(test_log_levels_and_length)
{
    static char big[4000];
    const char *got;

    memset(big, 'x', sizeof(big) - 1);
    testutil_capture_begin(dir);
    log_debug("hidden at info");
    log_set_level(LOG_LVL_ERROR);
    log_warnx("hidden at error");
    log_set_level(LOG_LVL_DEBUG);
    log_debug("shown k=%s", big);
    got = testutil_capture_end();
    ck_assert_ptr_null(strstr(got, "hidden"));
    ck_assert_msg(strncmp(got, "level=debug fn=", 15) == 0, "%s", got);
    ck_assert_int_lt(strlen(got), 1400);
    ck_assert_int_eq(got[strlen(got) - 1], '\n');
    ck_assert_ptr_eq(strchr(got, '\n'), got + strlen(got) - 1);
}
END_TEST

/* log_kv builds the same line as log_print without printf: integers of
 * both signs, quoted values, control bytes replaced, a text cut to its
 * buffer and still NUL-terminated, notes appended to existing text. */
START_TEST(test_log_kv)
{
    char text[LOG_TEXT_MAX], small[16];
    struct log_kv l;
    const char *got;

    testutil_capture_begin(dir);
    log_kv_init(&l, text, sizeof(text), 0);
    log_kv_raw(&l, "call", 4);
    log_kv_str(&l, "method", "/a.B/C");
    log_kv_i64(&l, "code", 0);
    log_kv_i64(&l, "min", INT64_MIN);
    log_kv_i64(&l, "max", INT64_MAX);
    log_kv_quoted(&l, "under", "consent c1");
    log_kv_str(&l, "bad", "a\nb");
    log_kv_print(LOG_LVL_INFO, "call", &l);
    log_info("call method=%s code=%d min=%lld max=%lld under=\"%s\" bad=%s",
             "/a.B/C", 0, (long long)INT64_MIN, (long long)INT64_MAX,
             "consent c1", "a\nb");
    log_kv_print(LOG_LVL_DEBUG, "call", &l); /* below the level: nothing */
    got = testutil_capture_end();
    ck_assert_str_eq(got,
                     "level=info fn=call msg=\"call\" method=/a.B/C code=0 "
                     "min=-9223372036854775808 max=9223372036854775807 "
                     "under=\"consent c1\" bad=a?b\n"
                     "level=info fn=test_log_kv_fn msg=\"call\" "
                     "method=/a.B/C code=0 min=-9223372036854775808 "
                     "max=9223372036854775807 under=\"consent c1\" "
                     "bad=a?b\n");

    /* Cut to fit, NUL-terminated; appended to the text already there. */
    memcpy(small, " a=1", 5);
    log_kv_init(&l, small, sizeof(small), 4);
    log_kv_str(&l, "dossier", "d1234567890");
    ck_assert_uint_eq(l.len, sizeof(small) - 1);
    ck_assert_str_eq(small, " a=1 dossier=d1");
    log_kv_i64(&l, "more", 7);
    ck_assert_str_eq(small, " a=1 dossier=d1");
}
END_TEST

START_TEST(test_log_deferred)
{
    const char *got;
    char want[64];

    testutil_capture_begin(dir);
    log_defer(true);
    log_info("first k=1");
    log_debug("not printed at info");
    log_info("second k=2");
    got = testutil_capture_end();
    ck_assert_str_eq(got, ""); /* kept, not written */

    testutil_capture_begin(dir);
    log_flush();
    log_info("third k=3");
    log_warnx("a warning k=4"); /* writes the kept line first */
    got = testutil_capture_end();
    ck_assert_str_eq(got,
                     "level=info fn=test_log_deferred_fn msg=\"first\" k=1\n"
                     "level=info fn=test_log_deferred_fn msg=\"second\" k=2\n"
                     "level=info fn=test_log_deferred_fn msg=\"third\" k=3\n"
                     "level=warn fn=test_log_deferred_fn msg=\"a warning\" "
                     "k=4\n");

    /* More than the buffer holds (PIPE_BUF, 4 KiB; the capture keeps
     * 8 KiB): written as it fills, in order. */
    testutil_capture_begin(dir);
    for (int i = 0; i < 120; i++)
        log_info("line n=%d", i);
    log_defer(false); /* writes the rest */
    got = testutil_capture_end();
    for (int i = 0; i < 120; i++) {
        const char *at;

        snprintf(want, sizeof(want), "msg=\"line\" n=%d\n", i);
        at = strstr(got, want);
        ck_assert_msg(at != NULL, "line %d lost", i);
        got = at + strlen(want);
    }
    ck_assert_str_eq(got, "");
}
END_TEST

/* More than 256 KiB of lines into a regular file: log.c starts the
 * file's write-back on the way (sync_file_range), which must neither
 * lose, cut nor reorder a line, nor change errno. */
START_TEST(test_log_file_writeback)
{
    enum { LINES = 6000 };
    char path[256], want[64];
    char *text, *at;
    struct stat st;
    int fd, saved, err = EAGAIN;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/big.log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    for (int i = 0; i < LINES && err == EAGAIN; i++) {
        errno = EAGAIN;
        log_info("a line of some length, as a call line is k=%d "
                 "path=/dossier.v1.Documents/Get status=0",
                 i);
        err = errno;
    }
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_eq(err, EAGAIN);

    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_size, 256 * 1024);
    text = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(text);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    n = read(fd, text, (size_t)st.st_size);
    close(fd);
    ck_assert_int_eq(n, st.st_size);
    text[n] = '\0';
    at = text;
    for (int i = 0; i < LINES; i++) {
        int m = snprintf(want, sizeof(want), "k=%d path=", i);

        ck_assert_msg(strncmp(at, "level=info fn=", 14) == 0,
                      "line %d does not start a line", i);
        at = strchr(at, '\n');
        ck_assert_ptr_nonnull(at);
        ck_assert_msg(memmem(at - 60, 60, want, (size_t)m) != NULL,
                      "line %d lost or out of order", i);
        at++;
    }
    ck_assert_str_eq(at, "");
    free(text);
}
END_TEST

Suite *
suite_log(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("lines");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_pairs);
    tcase_add_test(tc, test_log_escapes);
    tcase_add_test(tc, test_log_kv);
    tcase_add_test(tc, test_log_levels_and_length);
    tcase_add_test(tc, test_log_deferred);
    tcase_add_test(tc, test_log_file_writeback);
    suite_add_tcase(s, tc);
    return s;
}
