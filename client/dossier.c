/*
 * dossier.c -- `dossier`, the command line of the people who use the
 * dossier service: persons and their aidants, agencies, auditors.
 *
 * `dossier [GLOBAL OPTIONS] GROUP VERB [OPTIONS]`: this file picks the
 * language (cli_i18n_init), reads the settings (settings.c), finds the
 * verb in the table below and runs it; the work is done by one file per
 * job (cmds.h).  The exit status is the verb's (cli.h; dossier(1)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

static const struct job {
    const char *group, *verb; /* verb NULL: the group is the command */
    cmd_fn *run;
} jobs[] = {
    {"documents", "list", cmd_documents_list},
    {"documents", "show", cmd_documents_show},
    {"documents", "get", cmd_documents_get},
    {"documents", "put", cmd_documents_put},
    {"consents", "grant", cmd_consents_grant},
    {"consents", "revoke", cmd_consents_revoke},
    {"consents", "list", cmd_consents_list},
    {"mandates", "grant", cmd_mandates_grant},
    {"mandates", "revoke", cmd_mandates_revoke},
    {"mandates", "list", cmd_mandates_list},
    {"situation", "show", cmd_situation_show},
    {"situation", "update", cmd_situation_update},
    {"situation", "declare", cmd_situation_declare},
    {"history", NULL, cmd_history},
    {"export", NULL, cmd_export},
    {"erase", NULL, cmd_erase},
    {"enrol", NULL, cmd_enrol},
    {"agency", "find", cmd_agency_find},
    {"agency", "deposit", cmd_agency_deposit},
    {"agency", "fetch", cmd_agency_fetch},
    {"agency", "consents", cmd_agency_consents},
    {"agency", "watch", cmd_events_watch},
    {"events", "watch", cmd_events_watch},
    {"audit", "query", cmd_audit_query},
    {"audit", "checkpoint", cmd_audit_checkpoint},
    {"audit", "verify", cmd_audit_verify},
};

static const char usage_text[] = N_(
    "usage: dossier [--as NAME] [--server HOST:PORT] [--json] COMMAND ...\n"
    "\n"
    "Your dossier (person, or aidant with --dossier ID):\n"
    "  documents list|show|get|put   your documents\n"
    "  consents grant|revoke|list    who may read what, why, until when\n"
    "  mandates grant|revoke|list    an aidant acting for you\n"
    "  situation show|update|declare your address, household, life events\n"
    "  history [--html FILE]         who saw my dossier\n"
    "  export -o FILE                everything, as one archive\n"
    "  erase                         end the dossier for good\n"
    "  enrol                         open a person's dossier (aidant)\n"
    "Agencies:\n"
    "  agency find|deposit|fetch|consents, events watch\n"
    "Auditors:\n"
    "  audit query|checkpoint|verify\n"
    "\n"
    "Global options (also DOSSIER_AS, DOSSIER_SERVER, DOSSIER_KEYS,\n"
    "DOSSIER_CERT, DOSSIER_KEY, DOSSIER_CA, and ~/.config/dossier/config):\n"
    "  --as NAME          the principal: keys/dev/NAME.crt and .key\n"
    "                     (default person-demo)\n"
    "  --server HOST:PORT default 127.0.0.1:7443\n"
    "  --keys DIR         default keys/dev\n"
    "  --cert FILE --key FILE --ca FILE\n"
    "  --json             machine-readable output\n"
    "  --timeout SECONDS  default 60\n"
    "\n"
    "\"dossier COMMAND --help\" explains each command with an example;\n"
    "man dossier tells everything.\n"
    "\n"
    "Example:\n"
    "  dossier documents list\n"
    "  dossier --as agency-caf-75 agency find 185057800608491 \\\n"
    "      --purpose RSA-INSTRUCTION --case CAF-2026-118\n");

static bool
is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 ||
           strcmp(s, "help") == 0;
}

/* The verbs of |group|, for a usage error. */
static void
group_verbs(const char *group, char *out, size_t outsz)
{
    size_t k = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
        if (strcmp(jobs[i].group, group) == 0 && jobs[i].verb != NULL &&
            k + 1 < outsz)
            k += (size_t)snprintf(out + k, outsz - k, "%s%s", k ? ", " : "",
                                  jobs[i].verb);
}

int
main(int argc, char **argv)
{
    struct cli cli;
    bool group_known = false;
    int rc;

    memset(&cli, 0, sizeof(cli));
    cli.french = cli_i18n_init();
    if ((rc = cli_settings_load(&cli, &argc, argv)) != EXIT_OK)
        return rc;
    if (argc < 2) {
        fputs(_(usage_text), stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1]))
        return cli_help(_(usage_text));
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        const struct job *j = &jobs[i];
        if (strcmp(argv[1], j->group) != 0)
            continue;
        group_known = true;
        if (j->verb == NULL) {
            /* getopt sees the command as its argv[0]. */
            rc = j->run(&cli, argc - 1, argv + 1);
            goto done;
        }
        if (argc >= 3 && strcmp(argv[2], j->verb) == 0) {
            optind = 1;
            rc = j->run(&cli, argc - 2, argv + 2);
            goto done;
        }
    }
    if (!group_known) {
        cli_say(_("unknown command '%s'; see \"dossier --help\"."), argv[1]);
    } else {
        char verbs[200];
        group_verbs(argv[1], verbs, sizeof(verbs));
        if (argc < 3 || is_help(argv[2])) {
            if (argc >= 3) {
                printf(_("dossier %s: %s; \"dossier %s VERB --help\" "
                         "explains each.\n"),
                       argv[1], verbs, argv[1]);
                return EXIT_OK;
            }
            cli_say(_("\"%s\" needs one of: %s; see \"dossier %s VERB "
                      "--help\"."),
                    argv[1], verbs, argv[1]);
        } else {
            cli_say(_("unknown command '%s %s'; \"%s\" takes: %s."), argv[1],
                    argv[2], argv[1], verbs);
        }
    }
    return EXIT_USAGE;
done:
    fflush(stdout);
    grpcc_free(cli.conn);
    return rc;
}
