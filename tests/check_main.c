/*
 * check_main.c -- the one libcheck runner of `make check`.
 *
 * Runs every unit suite, then (unless DOSSIER_UNIT_ONLY is set) the
 * integration suite, whose cases drive the real daemon with real clients.
 * Its last line is libcheck's summary, which CI reads.
 */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
    SRunner *sr = srunner_create(suite_buf());
    int failed;

    srunner_add_suite(sr, suite_rpc());
    srunner_add_suite(sr, suite_principal());
    srunner_add_suite(sr, suite_svc_reflection());
    srunner_add_suite(sr, suite_crypto());
    srunner_add_suite(sr, suite_keyring());
    srunner_add_suite(sr, suite_nir());
    srunner_add_suite(sr, suite_catalog());
    srunner_add_suite(sr, suite_store());
    srunner_add_suite(sr, suite_writer());
    srunner_add_suite(sr, suite_merkle());
    srunner_add_suite(sr, suite_audit());
    srunner_add_suite(sr, suite_policy());
    srunner_add_suite(sr, suite_config());
    srunner_add_suite(sr, suite_lifeevent());
    srunner_add_suite(sr, suite_events());
    srunner_add_suite(sr, suite_vault_keys());
    srunner_add_suite(sr, suite_vault_ids());
    srunner_add_suite(sr, suite_vault_docs());
    srunner_add_suite(sr, suite_metrics());
    srunner_add_suite(sr, suite_dates());
    srunner_add_suite(sr, suite_output());
    srunner_add_suite(sr, suite_notify());
    srunner_add_suite(sr, suite_log());
    srunner_add_suite(sr, suite_hist());
    srunner_add_suite(sr, suite_server());
    if (getenv("DOSSIER_UNIT_ONLY") == NULL)
        srunner_add_suite(sr, suite_integration());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
