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

/* sched_getattr(2)'s first layout, as server.c's. */
struct attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

static struct attr
attr_now(void)
{
    struct attr a;

    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0), 0);
    return a;
}

/* On a thread of its own: the runner's thread keeps its settings. */
static void *
slice_thread(void *arg)
{
    struct attr before, after;

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

START_TEST(test_server_loop_slice_keeps_nice)
{
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, slice_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}
END_TEST

static void *
batch_thread(void *arg)
{
    struct sched_param p = {0};
    struct attr before, after;

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
    pthread_t th;

    ck_assert_int_eq(pthread_create(&th, NULL, batch_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
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
