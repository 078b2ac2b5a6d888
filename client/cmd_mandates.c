/*
 * cmd_mandates.c -- `dossier mandates grant|revoke|list`: the person's
 * mandates to an aidant (dossier.v1.Mandates): what the aidant may do
 * (read, deposit, grant-consent), on which document types, for how long
 * (one day to one year; the daemon checks).
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
    "usage: dossier mandates grant --delegate NAME --actions ACTION,...\n"
    "           [--types TYPE,...] (--days N | --until DATE) [--json]\n"
    "\n"
    "Lets an aidant (France Services agent, social worker) act for you:\n"
    "ACTION is read, deposit, grant-consent or declare (life events);\n"
    "--types limits it to some document types (default: every type,\n"
    "\"*\"); from one day to one year.\n"
    "\n"
    "Example:\n"
    "  dossier mandates grant --delegate france-services-demo \\\n"
    "      --actions read,deposit --days 30\n");

static const char help_revoke[] = N_(
    "usage: dossier mandates revoke MANDATE-ID [--dossier ID]\n"
    "\n"
    "Ends a mandate at once (an aidant may also give up its own).\n"
    "\n"
    "Example:\n"
    "  dossier mandates revoke m01HZX...\n");

static const char help_list[] = N_(
    "usage: dossier mandates list [--all] [--json]\n"
    "\n"
    "Lists the mandates on your dossier (for an aidant: the mandates it\n"
    "holds); --all also shows revoked and expired ones.\n"
    "\n"
    "Example:\n"
    "  dossier mandates list\n");

static const char *
mandate_state(const Dossier__V1__Mandate *m)
{
    if (m->revoked)
        return _("revoked");
    if (m->valid_until_unix != 0 && m->valid_until_unix < time(NULL))
        return _("expired");
    return _("in force");
}

static void
mandate_json(struct jw *w, const Dossier__V1__Mandate *m)
{
    jw_obj(w);
    jw_kstr(w, "mandate_id", m->mandate_id);
    jw_kstr(w, "dossier_id", m->dossier_id);
    jw_kstr(w, "delegate", m->delegate);
    jw_key(w, "actions");
    jw_arr(w);
    for (size_t i = 0; i < m->n_actions; i++)
        jw_str(w, m->actions[i]);
    jw_arr_end(w);
    jw_key(w, "document_types");
    jw_arr(w);
    for (size_t i = 0; i < m->n_document_types; i++)
        jw_str(w, m->document_types[i]);
    jw_arr_end(w);
    jw_ktime(w, "valid_from", m->valid_from_unix);
    jw_ktime(w, "valid_until", m->valid_until_unix);
    jw_kbool(w, "revoked", m->revoked);
    jw_ktime(w, "granted", m->granted_unix);
    jw_ktime(w, "revoked_at", m->revoked_unix);
    jw_kstr(w, "revoked_by", m->revoked_by);
    jw_obj_end(w);
}

static const char *
join(char **v, size_t n, char *out, size_t outsz)
{
    size_t k = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && k + 1 < outsz; i++)
        k += (size_t)snprintf(out + k, outsz - k, "%s%s", i ? "," : "", v[i]);
    return out;
}

int
cmd_mandates_grant(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"delegate", required_argument, NULL, 'D'},
        {"actions", required_argument, NULL, 'a'},
        {"types", required_argument, NULL, 't'},
        {"days", required_argument, NULL, 'n'},
        {"until", required_argument, NULL, 'u'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "mandates grant";
    Dossier__V1__Mandate man = DOSSIER__V1__MANDATE__INIT;
    Dossier__V1__GrantMandateRequest req =
        DOSSIER__V1__GRANT_MANDATE_REQUEST__INIT;
    Dossier__V1__GrantMandateResponse *resp = NULL;
    char *actions[LIST_MAX], *types[LIST_MAX], delegate[300];
    static char *every[] = {"*"};
    const char *who = NULL;
    int c, rc, y, m, d;
    long days = 0;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_grant));
        case 'D':
            who = optarg;
            break;
        case 'a':
            man.actions = actions;
            man.n_actions = cli_split_list(optarg, actions, LIST_MAX);
            break;
        case 't':
            man.document_types = types;
            man.n_document_types = cli_split_list(optarg, types, LIST_MAX);
            break;
        case 'n': {
            char *end;
            days = strtol(optarg, &end, 10);
            if (*end != '\0' || days < 1 || days > 366) {
                cli_say(_("--days takes a number of days from 1 to 366, not "
                          "'%s'."),
                        optarg);
                return EXIT_USAGE;
            }
            man.valid_until_unix = time(NULL) + days * 86400 - 60;
            break;
        }
        case 'u':
            if (cli_date_parse(optarg, &y, &m, &d) != 0) {
                cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                          "03/12/2026 (see \"dossier %s --help\")."),
                        "--until", optarg, verb);
                return EXIT_USAGE;
            }
            man.valid_until_unix = cli_date_end_unix(y, m, d);
            break;
        case 'd':
            man.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if (who == NULL)
        return cli_usage_error(verb, _("name the aidant with --delegate "
                                       "NAME"));
    if (man.n_actions == 0)
        return cli_usage_error(verb, _("say what the aidant may do with "
                                       "--actions read,deposit,grant-consent,declare"));
    if (man.valid_until_unix == 0)
        return cli_usage_error(verb, _("give the duration with --days N or "
                                       "--until DATE"));
    if (man.n_document_types == 0) {
        man.document_types = every;
        man.n_document_types = 1;
    }
    if (cli_identity(cli) != EXIT_OK)
        return EXIT_CONFIG;
    if (cli_principal_uri(cli, "delegate", who, delegate, sizeof(delegate)) !=
        0)
        return cli_usage_error(verb, _("'%s' is not an aidant name (e.g. "
                                       "france-services-demo)"),
                               who);
    man.delegate = delegate;
    req.mandate = &man;
    rc = cli_unary(cli, "/dossier.v1.Mandates/Grant", &req.base,
                   &dossier__v1__grant_mandate_response__descriptor,
                   (ProtobufCMessage **)&resp, _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        mandate_json(&w, resp->mandate);
        jw_print(&w, stdout);
    } else {
        char lbl[200], day[64], acts[200];
        cli_time_day(resp->mandate->valid_until_unix, &y, &m, &d);
        printf(_("Mandate %s granted: %s may %s until %s.\n"),
               resp->mandate->mandate_id,
               cli_principal_label(resp->mandate->delegate, lbl, sizeof(lbl)),
               join(resp->mandate->actions, resp->mandate->n_actions, acts,
                    sizeof(acts)),
               cli_date_long(cli->french, y, m, d, day, sizeof(day)));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

int
cmd_mandates_revoke(struct cli *cli, int argc, char **argv)
{
    Dossier__V1__RevokeMandateRequest req =
        DOSSIER__V1__REVOKE_MANDATE_REQUEST__INIT;
    const struct revoke_cmd r = {
        .verb = "mandates revoke",
        .help = _(help_revoke),
        .need_one = _("give one mandate id"),
        .what = _("mandate %s"),
        .path = "/dossier.v1.Mandates/Revoke",
        .resp = &dossier__v1__revoke_mandate_response__descriptor,
        .json_key = "mandate_id",
    };
    int rc;

    rc = revoke_run(cli, argc, argv, &r, &req.base, &req.dossier_id,
                    &req.mandate_id);
    if (rc == EXIT_OK && !cli->json)
        printf(_("Mandate %s revoked.\n"), req.mandate_id);
    return rc;
}

int
cmd_mandates_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__ListMandatesRequest req =
        DOSSIER__V1__LIST_MANDATES_REQUEST__INIT;
    Dossier__V1__ListMandatesResponse *resp = NULL;
    int c, rc;

    while ((c = cli_getopt(argc, argv, "had:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_list));
        case 'a':
            req.include_inactive = true;
            break;
        case 'd':
            req.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("mandates list", _("unexpected argument '%s'"),
                               argv[optind]);
    rc = cli_unary(cli, "/dossier.v1.Mandates/List", &req.base,
                   &dossier__v1__list_mandates_response__descriptor,
                   (ProtobufCMessage **)&resp, _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_arr(&w);
        for (size_t i = 0; i < resp->n_mandates; i++)
            mandate_json(&w, resp->mandates[i]);
        jw_arr_end(&w);
        jw_print(&w, stdout);
    } else {
        const char *head[] = {_("ID"),    _("AIDANT"), _("ACTIONS"),
                              _("TYPES"), _("UNTIL"),  _("STATE")};
        struct table t;
        table_init(&t, 6, head);
        for (size_t i = 0; i < resp->n_mandates; i++) {
            const Dossier__V1__Mandate *mm = resp->mandates[i];
            char lbl[200], acts[200], types[300], day[32];
            int y, m, d;
            cli_time_day(mm->valid_until_unix, &y, &m, &d);
            const char *row[] = {
                mm->mandate_id,
                cli_principal_label(mm->delegate, lbl, sizeof(lbl)),
                join(mm->actions, mm->n_actions, acts, sizeof(acts)),
                join(mm->document_types, mm->n_document_types, types,
                     sizeof(types)),
                cli_date_short(cli->french, y, m, d, day, sizeof(day)),
                mandate_state(mm)};
            table_row(&t, row);
        }
        table_print(&t, stdout, _("No mandate."));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}
