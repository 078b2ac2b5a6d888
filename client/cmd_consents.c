/*
 * cmd_consents.c -- `dossier consents grant|revoke|list`: the person's
 * consents to agencies (dossier.v1.Consents), and the receipt the daemon
 * signs for each grant.
 *
 * Agencies are named as people know them from keys/dev or the operator:
 * "agency-cpam-69", "cpam-69" or a full SPIFFE URI; a kind of agency is
 * --agency-kind cpam.  Nothing is decided here: the daemon checks every
 * field and the policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dossier/v1/consents.pb-c.h"

#include "cmds.h"
#include "output.h"

#define LIST_MAX 32

static const char help_grant[] = N_(
    "usage: dossier consents grant (--agency NAME | --agency-kind KIND)\n"
    "           (--types TYPE,... | --documents ID,... | --situation)\n"
    "           --purpose CODE [--purpose-text TEXT] --until DATE\n"
    "           [--one-shot] [--dossier ID] [--receipt FILE] [--json]\n"
    "\n"
    "Lets one agency (or every agency of a kind) read the listed document\n"
    "types, documents or your situation, for one purpose, until DATE.\n"
    "Without a consent no agency reads anything.  --receipt saves the\n"
    "signed receipt of the consent.\n"
    "\n"
    "Example:\n"
    "  dossier consents grant --agency agency-cpam-69 \\\n"
    "      --types attestation-paiement-caf --purpose CSS-INSTRUCTION \\\n"
    "      --purpose-text \"Complementaire sante solidaire\" --until 2027-06-30\n");

static const char help_revoke[] = N_(
    "usage: dossier consents revoke CONSENT-ID [--dossier ID]\n"
    "\n"
    "Withdraws a consent at once: the agency reads nothing more under it.\n"
    "\n"
    "Example:\n"
    "  dossier consents revoke c01HZX...\n");

static const char help_list[] = N_(
    "usage: dossier consents list [--all] [--dossier ID] [--json]\n"
    "\n"
    "Lists the consents in force on your dossier (--all: also the revoked,\n"
    "spent and expired ones).\n"
    "\n"
    "Example:\n"
    "  dossier consents list --all\n");

/* A word for the state of a consent. */
static const char *
consent_state(const Dossier__V1__Consent *c)
{
    if (c->revoked)
        return _("revoked");
    if (c->spent)
        return _("spent");
    if (c->valid_until_unix != 0 && c->valid_until_unix < time(NULL))
        return _("expired");
    return _("in force");
}

static void
json_list(struct jw *w, const char *key, char **v, size_t n)
{
    jw_key(w, key);
    jw_arr(w);
    for (size_t i = 0; i < n; i++)
        jw_str(w, v[i]);
    jw_arr_end(w);
}

static void
consent_json(struct jw *w, const Dossier__V1__Consent *c)
{
    jw_obj(w);
    jw_kstr(w, "consent_id", c->consent_id);
    jw_kstr(w, "dossier_id", c->dossier_id);
    jw_kstr(w, "agency", c->agency);
    jw_kstr(w, "agency_kind", c->agency_kind);
    json_list(w, "document_types", c->document_types, c->n_document_types);
    json_list(w, "fact_types", c->fact_types, c->n_fact_types);
    json_list(w, "document_ids", c->document_ids, c->n_document_ids);
    jw_kbool(w, "situation", c->situation);
    jw_kstr(w, "purpose_code", c->purpose_code);
    jw_kstr(w, "purpose_text", c->purpose_text);
    jw_kstr(w, "case_reference", c->case_reference);
    jw_ktime(w, "valid_from", c->valid_from_unix);
    jw_ktime(w, "valid_until", c->valid_until_unix);
    jw_kbool(w, "one_shot", c->one_shot);
    jw_kbool(w, "revoked", c->revoked);
    jw_kbool(w, "spent", c->spent);
    jw_ktime(w, "granted", c->granted_unix);
    jw_kstr(w, "granted_by", c->granted_by);
    jw_kstr(w, "mandate_id", c->mandate_id);
    jw_ktime(w, "revoked_at", c->revoked_unix);
    jw_kstr(w, "revoked_by", c->revoked_by);
    jw_kstr(w, "state", c->revoked ? "revoked"
                        : c->spent ? "spent"
                        : (c->valid_until_unix != 0 &&
                           c->valid_until_unix < time(NULL))
                            ? "expired"
                            : "active");
    jw_obj_end(w);
}

/* What a consent covers, for a table cell. */
static const char *
consent_what(const Dossier__V1__Consent *c, char *out, size_t outsz)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < c->n_document_types && n + 1 < outsz; i++)
        n += (size_t)snprintf(out + n, outsz - n, "%s%s", n ? "," : "",
                              c->document_types[i]);
    for (size_t i = 0; i < c->n_document_ids && n + 1 < outsz; i++)
        n += (size_t)snprintf(out + n, outsz - n, "%s%s", n ? "," : "",
                              c->document_ids[i]);
    for (size_t i = 0; i < c->n_fact_types && n + 1 < outsz; i++)
        n += (size_t)snprintf(out + n, outsz - n, "%s%s", n ? "," : "",
                              c->fact_types[i]);
    if (c->situation && n + 1 < outsz)
        snprintf(out + n, outsz - n, "%s%s", n ? "," : "", _("situation"));
    return out;
}

static void
consents_table(struct cli *cli, Dossier__V1__Consent **v, size_t n,
               bool show_dossier)
{
    const char *head[] = {_("ID"),      show_dossier ? _("DOSSIER") : _("AGENCY"),
                          _("COVERS"),  _("PURPOSE"),
                          _("UNTIL"),   _("STATE")};
    struct table t;

    table_init(&t, 6, head);
    for (size_t i = 0; i < n; i++) {
        const Dossier__V1__Consent *c = v[i];
        char who[200], what[400], until[32];
        int y, m, d;
        if (show_dossier)
            snprintf(who, sizeof(who), "%s", c->dossier_id);
        else if (c->agency[0])
            cli_principal_label(c->agency, who, sizeof(who));
        else
            snprintf(who, sizeof(who), _("every %s"), c->agency_kind);
        cli_time_day(c->valid_until_unix, &y, &m, &d);
        const char *row[] = {
            c->consent_id,
            who,
            consent_what(c, what, sizeof(what)),
            c->purpose_code,
            c->valid_until_unix
                ? cli_date_short(cli->french, y, m, d, until, sizeof(until))
                : "-",
            consent_state(c)};
        table_row(&t, row);
    }
    table_print(&t, stdout, _("No consent."));
}

int
cmd_consents_grant(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"agency", required_argument, NULL, 'a'},
        {"agency-kind", required_argument, NULL, 'k'},
        {"types", required_argument, NULL, 't'},
        {"facts", required_argument, NULL, 'f'},
        {"documents", required_argument, NULL, 'D'},
        {"situation", no_argument, NULL, 'S'},
        {"purpose", required_argument, NULL, 'P'},
        {"purpose-text", required_argument, NULL, 'T'},
        {"case", required_argument, NULL, 'C'},
        {"until", required_argument, NULL, 'u'},
        {"one-shot", no_argument, NULL, '1'},
        {"dossier", required_argument, NULL, 'd'},
        {"receipt", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "consents grant";
    Dossier__V1__Consent con = DOSSIER__V1__CONSENT__INIT;
    Dossier__V1__GrantConsentRequest req =
        DOSSIER__V1__GRANT_CONSENT_REQUEST__INIT;
    Dossier__V1__GrantConsentResponse *resp = NULL;
    char *types[LIST_MAX], *facts[LIST_MAX], *docs[LIST_MAX];
    char agency[300];
    const char *agency_name = NULL, *receipt = NULL;
    int c, rc, y, m, d;
    bool until_set = false;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_grant));
        case 'a':
            agency_name = optarg;
            break;
        case 'k':
            con.agency_kind = optarg;
            break;
        case 't':
            con.document_types = types;
            con.n_document_types = cli_split_list(optarg, types, LIST_MAX);
            break;
        case 'f':
            con.fact_types = facts;
            con.n_fact_types = cli_split_list(optarg, facts, LIST_MAX);
            break;
        case 'D':
            con.document_ids = docs;
            con.n_document_ids = cli_split_list(optarg, docs, LIST_MAX);
            break;
        case 'S':
            con.situation = true;
            break;
        case 'P':
            con.purpose_code = optarg;
            break;
        case 'T':
            con.purpose_text = optarg;
            break;
        case 'C':
            con.case_reference = optarg;
            break;
        case 'u':
            if (cli_date_parse(optarg, &y, &m, &d) != 0) {
                cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                          "03/12/2026 (see \"dossier %s --help\")."),
                        "--until", optarg, verb);
                return EXIT_USAGE;
            }
            con.valid_until_unix = cli_date_end_unix(y, m, d);
            until_set = true;
            break;
        case '1':
            con.one_shot = true;
            break;
        case 'd':
            con.dossier_id = optarg;
            break;
        case 'r':
            receipt = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if ((agency_name == NULL) == (con.agency_kind[0] == '\0'))
        return cli_usage_error(verb, _("name the agency with --agency NAME "
                                       "or a kind of agency with "
                                       "--agency-kind KIND"));
    if (con.n_document_types + con.n_document_ids + con.n_fact_types == 0 &&
        !con.situation)
        return cli_usage_error(verb, _("say what it may read with --types, "
                                       "--documents or --situation"));
    if (con.purpose_code[0] == '\0')
        return cli_usage_error(verb, _("give the purpose with --purpose "
                                       "CODE"));
    if (con.purpose_text[0] == '\0')
        return cli_usage_error(verb, _("say the purpose in words with "
                                       "--purpose-text TEXT"));
    if (!until_set)
        return cli_usage_error(verb, _("give the last day with --until "
                                       "DATE"));
    if (con.valid_until_unix <= time(NULL)) {
        cli_say(_("--until must be a day in the future; a consent that "
                  "ended already would let nobody read."));
        return EXIT_USAGE;
    }
    if (agency_name != NULL) {
        if (cli_identity(cli) != EXIT_OK)
            return EXIT_CONFIG;
        if (cli_principal_uri(cli, "agency", agency_name, agency,
                              sizeof(agency)) != 0)
            return cli_usage_error(verb, _("'%s' is not an agency name "
                                           "(e.g. agency-cpam-69)"),
                                   agency_name);
        con.agency = agency;
    }
    req.consent = &con;
    rc = cli_unary(cli, "/dossier.v1.Consents/Grant", &req.base,
                   &dossier__v1__grant_consent_response__descriptor,
                   (ProtobufCMessage **)&resp, _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    if (receipt != NULL) {
        FILE *f = fopen(receipt, "wb");
        if (f == NULL || fwrite(resp->receipt.data, 1, resp->receipt.len, f) !=
                             resp->receipt.len ||
            fclose(f) != 0) {
            cli_say(_("the consent %s was granted, but its receipt could not "
                      "be saved to %s; \"dossier consents list\" shows it."),
                    resp->consent->consent_id, receipt);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            return EXIT_FAIL;
        }
    }
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "consent");
        consent_json(&w, resp->consent);
        jw_key(&w, "receipt_sha256");
        jw_hex(&w, resp->receipt_sha256.data, resp->receipt_sha256.len);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        char who[200], day[64];
        cli_time_day(resp->consent->valid_until_unix, &y, &m, &d);
        if (resp->consent->agency[0])
            cli_principal_label(resp->consent->agency, who, sizeof(who));
        else
            snprintf(who, sizeof(who), _("every %s"),
                     resp->consent->agency_kind);
        printf(_("Consent %s granted: %s may read it for %s until %s.\n"),
               resp->consent->consent_id, who, resp->consent->purpose_code,
               cli_date_long(cli->french, y, m, d, day, sizeof(day)));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

int
cmd_consents_revoke(struct cli *cli, int argc, char **argv)
{
    Dossier__V1__RevokeConsentRequest req =
        DOSSIER__V1__REVOKE_CONSENT_REQUEST__INIT;
    const struct revoke_cmd r = {
        .verb = "consents revoke",
        .help = _(help_revoke),
        .need_one = _("give one consent id"),
        .what = _("consent %s"),
        .path = "/dossier.v1.Consents/Revoke",
        .resp = &dossier__v1__revoke_consent_response__descriptor,
        .json_key = "consent_id",
    };
    int rc;

    rc = revoke_run(cli, argc, argv, &r, &req.base, &req.dossier_id,
                    &req.consent_id);
    if (rc == EXIT_OK && !cli->json)
        printf(_("Consent %s revoked: it no longer lets anyone read.\n"),
               req.consent_id);
    return rc;
}

int
consents_list_run(struct cli *cli, const char *dossier, bool all, bool held)
{
    Dossier__V1__ListConsentsRequest req =
        DOSSIER__V1__LIST_CONSENTS_REQUEST__INIT;
    Dossier__V1__ListConsentsResponse *resp = NULL;
    int rc;

    req.dossier_id = (char *)(dossier ? dossier : "");
    req.include_inactive = all;
    rc = cli_unary(cli, "/dossier.v1.Consents/List", &req.base,
                   &dossier__v1__list_consents_response__descriptor,
                   (ProtobufCMessage **)&resp, _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_arr(&w);
        for (size_t i = 0; i < resp->n_consents; i++)
            consent_json(&w, resp->consents[i]);
        jw_arr_end(&w);
        jw_print(&w, stdout);
    } else {
        consents_table(cli, resp->consents, resp->n_consents, held);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

int
cmd_consents_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dossier = NULL;
    bool all = false;
    int c;

    while ((c = cli_getopt(argc, argv, "had:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_list));
        case 'a':
            all = true;
            break;
        case 'd':
            dossier = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("consents list", _("unexpected argument '%s'"),
                               argv[optind]);
    return consents_list_run(cli, dossier, all, false);
}
