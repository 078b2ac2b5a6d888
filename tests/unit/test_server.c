/*
 * test_server.c -- what server.c asks of the kernel for its loop thread:
 * the scheduler slice of server__loop_slice(), with the thread's nice
 * value and policy kept.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server.h"
#include "suites.h"

static struct server_sched_attr
attr_now(void)
{
    struct server_sched_attr a;

    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0), 0);
    return a;
}

static void *
slice_thread(void *arg)
{
    struct server_sched_attr before, after;

    (void)arg;
    /* An operator's Nice= (raising it needs no privilege). */
    ck_assert_int_eq(setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5),
                     0);
    before = attr_now();
    ck_assert_int_eq(server__loop_slice(), 0);
    after = attr_now();
    ck_assert_uint_eq(after.sched_policy, SCHED_OTHER);
    ck_assert_int_eq(after.sched_nice, 5);
    /* A kernel that reports a fair task's slice (EEVDF, Linux 6.12 and
     * later) takes the one asked; an older one reports none and ignores
     * it. */
    if (before.sched_runtime != 0)
        ck_assert_uint_eq(after.sched_runtime, SERVER_LOOP_SLICE_NS);
    return NULL;
}

/* Runs |fn| on a thread of its own: the runner's thread keeps its
 * scheduling settings. */
static void
on_thread(void *(*fn)(void *))
{
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, fn, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}

START_TEST(test_server_loop_slice_keeps_nice)
{
    on_thread(slice_thread);
}
END_TEST

static void *
batch_thread(void *arg)
{
    struct sched_param p = {0};
    struct server_sched_attr before, after;

    (void)arg;
    ck_assert_int_eq(pthread_setschedparam(pthread_self(), SCHED_BATCH, &p),
                     0);
    before = attr_now();
    ck_assert_int_eq(server__loop_slice(), 0);
    after = attr_now();
    ck_assert_uint_eq(after.sched_policy, SCHED_BATCH);
    ck_assert_uint_eq(after.sched_runtime, before.sched_runtime);
    return NULL;
}

/* A thread put under another policy (CPUSchedulingPolicy= in a unit) is
 * left as it is. */
START_TEST(test_server_loop_slice_other_policy_untouched)
{
    on_thread(batch_thread);
}
END_TEST

Suite *
suite_server(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("loop");

    tcase_add_test(tc, test_server_loop_slice_keeps_nice);
    tcase_add_test(tc, test_server_loop_slice_other_policy_untouched);
    suite_add_tcase(s, tc);
    return s;
}
