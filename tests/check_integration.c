/*
 * check_integration.c -- integration tests as libcheck cases.
 *
 * Each case runs one script of tests/interop/ against a real dossierd that
 * the script starts itself (fresh temporary directory, fresh keys, a free
 * port on 127.0.0.1), with real clients: python3-grpcio, grpc-js, raw TLS
 * and HTTP/2.  The script's exit status is the verdict; its output says
 * what it checked.  DOSSIER_TOP is the repository root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "suites.h"

static void
run_script(const char *cmd)
{
    const char *top = getenv("DOSSIER_TOP");
    char line[1024];
    int rc;

    snprintf(line, sizeof(line), "cd '%s' && %s", top ? top : ".", cmd);
    fflush(stdout);
    rc = system(line);
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "%s failed (status %d)", cmd, rc);
}

START_TEST(test_interop_grpcio)
{
    run_script("/usr/bin/python3 tests/interop/test_grpcio.py");
}
END_TEST

START_TEST(test_interop_grpcjs)
{
    run_script("/usr/bin/python3 tests/interop/run_node.py");
}
END_TEST

START_TEST(test_tls_refusals)
{
    run_script("/usr/bin/python3 tests/interop/test_tls_refusals.py");
}
END_TEST

START_TEST(test_lifecycle)
{
    run_script("/usr/bin/python3 tests/interop/test_lifecycle.py");
}
END_TEST

START_TEST(test_dossier)
{
    run_script("/usr/bin/python3 tests/interop/test_dossier.py");
}
END_TEST

START_TEST(test_consent)
{
    run_script("/usr/bin/python3 tests/interop/test_consent.py");
}
END_TEST

START_TEST(test_audit)
{
    run_script("/usr/bin/python3 tests/interop/test_audit.py");
}
END_TEST

START_TEST(test_audit_verify)
{
    run_script("/usr/bin/python3 tests/interop/test_verify.py");
}
END_TEST

START_TEST(test_config_files)
{
    run_script("/usr/bin/python3 tests/interop/test_config.py");
}
END_TEST

START_TEST(test_events)
{
    run_script("/usr/bin/python3 tests/interop/test_events.py");
}
END_TEST

START_TEST(test_cli)
{
    run_script("/usr/bin/python3 tests/interop/test_cli.py");
}
END_TEST

START_TEST(test_package)
{
    run_script("/usr/bin/python3 tests/interop/test_package.py");
}
END_TEST

START_TEST(test_hostile_h2)
{
    run_script("/usr/bin/python3 tests/interop/test_hostile.py");
}
END_TEST

/* Failing I/O: the Nth write or sync of the store fails (LD_PRELOAD). */
START_TEST(test_fault_iofail)
{
    run_script("/usr/bin/python3 tests/fault/test_iofail.py");
}
END_TEST

/* The release daemon under valgrind's memcheck: no leak, no memory error
 * (tests/fault/valgrind-dossierd exits 99 otherwise). */
START_TEST(test_valgrind)
{
    run_script("DOSSIERD=tests/fault/valgrind-dossierd /usr/bin/python3 "
               "tests/interop/test_grpcio.py && "
               "DOSSIERD=tests/fault/valgrind-dossierd /usr/bin/python3 "
               "tests/interop/test_events.py two resume revoke erase audit "
               "aidant cursor");
}
END_TEST

START_TEST(test_backup)
{
    run_script("/usr/bin/python3 tests/interop/test_backup.py");
}
END_TEST

START_TEST(test_metrics)
{
    run_script("/usr/bin/python3 tests/interop/test_metrics.py");
}
END_TEST

START_TEST(test_admin)
{
    run_script("/usr/bin/python3 tests/interop/test_admin.py");
}
END_TEST

/* The store on a full tmpfs, and in a full map. */
START_TEST(test_fault_diskfull)
{
    run_script("/usr/bin/python3 tests/fault/test_diskfull.py");
}
END_TEST

/* make crash: 30 rounds of SIGKILL under load, restart, check. */
START_TEST(test_fault_crash)
{
    run_script("/usr/bin/python3 tests/fault/crash.py --rounds 30");
}
END_TEST

/* Enrolments and erasures share one key-store commit per batch, and a
 * SIGKILL loses no acknowledged key (nor keeps an erased one). */
START_TEST(test_keystore_batch)
{
    run_script("/usr/bin/python3 tests/interop/test_keystore_batch.py");
}
END_TEST

/* The benchmark harness with tiny counts: every scenario of make bench
 * runs and every request succeeds; no speed is asserted. */
START_TEST(test_bench_quick)
{
    run_script("/usr/bin/python3 tests/bench/bench.py --quick");
}
END_TEST

Suite *
suite_integration(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("daemon");

    /* Real daemons, real clients, 100 MiB streams under ASan. */
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_interop_grpcio);
    tcase_add_test(tc, test_interop_grpcjs);
    tcase_add_test(tc, test_tls_refusals);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_dossier);
    tcase_add_test(tc, test_consent);
    tcase_add_test(tc, test_audit);
    tcase_add_test(tc, test_audit_verify);
    tcase_add_test(tc, test_config_files);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_package);
    tcase_add_test(tc, test_hostile_h2);
    tcase_add_test(tc, test_valgrind);
    tcase_add_test(tc, test_fault_iofail);
    tcase_add_test(tc, test_backup);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_admin);
    tcase_add_test(tc, test_fault_diskfull);
    tcase_add_test(tc, test_fault_crash);
    tcase_add_test(tc, test_keystore_batch);
    tcase_add_test(tc, test_bench_quick);
    suite_add_tcase(s, tc);
    return s;
}
