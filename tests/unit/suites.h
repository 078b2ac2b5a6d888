/*
 * suites.h -- every libcheck suite of the project, one per module
 * (tests/unit/test_<module>.c defines suite_<module>).  tests/check_main.c
 * runs them all, then the integration suite.
 */
#ifndef DOSSIER_SUITES_H
#define DOSSIER_SUITES_H

#include <check.h>

Suite *suite_buf(void);
Suite *suite_rpc(void);
Suite *suite_principal(void);
Suite *suite_svc_reflection(void);
Suite *suite_crypto(void);
Suite *suite_keyring(void);
Suite *suite_nir(void);
Suite *suite_catalog(void);
Suite *suite_store(void);
Suite *suite_writer(void);
Suite *suite_merkle(void);
Suite *suite_audit(void);
Suite *suite_policy(void);
Suite *suite_config(void);
Suite *suite_lifeevent(void);
Suite *suite_events(void);
Suite *suite_vault_keys(void);
Suite *suite_vault_ids(void);
Suite *suite_vault_docs(void);
Suite *suite_metrics(void);
Suite *suite_dates(void);
Suite *suite_output(void);
Suite *suite_notify(void);
Suite *suite_log(void);
Suite *suite_hist(void);
Suite *suite_server(void);
Suite *suite_integration(void);

#endif
