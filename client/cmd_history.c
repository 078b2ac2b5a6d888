/*
 * cmd_history.c -- `dossier history`: who saw my dossier.
 *
 * Reads the audit entries of the person's dossier (Audit.Query answers a
 * person with their own dossier's entries only, refused attempts
 * included) and tells each one as a dated sentence; --json gives the
 * entries themselves, --html FILE one page to look at (history_html.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dossier/v1/audit.pb-c.h"

#include "cmds.h"
#include "history.h"
#include "output.h"
#include "rpc.h"

#define HISTORY_MAX 100000

static const char help_history[] = N_(
    "usage: dossier history [--from DATE] [--until DATE] [--denied]\n"
    "                       [--html FILE] [--dossier ID] [--json]\n"
    "\n"
    "Who saw my dossier: every deposit, reading, search, consent and\n"
    "refused attempt on your dossier, oldest first, from the audit log.\n"
    "--denied shows only the refused attempts; --html FILE also writes a\n"
    "page with the timeline, to open in a browser.\n"
    "\n"
    "Example:\n"
    "  dossier history\n"
    "  dossier history --html historique.html\n");

void audit_entry_json(struct jw *w, const Dossier__V1__AuditEntry *e);

enum history_kind
history_kind_of(const Dossier__V1__AuditEntry *e)
{
    const char *a = e->action;

    if (strcmp(e->outcome, "denied") == 0)
        return HK_DENIED;
    if (strcmp(a, "Documents.Put") == 0 || strcmp(a, "Documents.PutFact") == 0)
        return HK_DEPOSIT;
    if (strncmp(a, "Consents.", 9) == 0 || strncmp(a, "Mandates.", 9) == 0)
        return HK_CONSENT;
    if (strcmp(a, "Documents.Get") == 0 ||
        strcmp(a, "Documents.LatestValid") == 0 ||
        strcmp(a, "Documents.List") == 0 ||
        strcmp(a, "Documents.GetFacts") == 0 ||
        strcmp(a, "Documents.CheckIntegrity") == 0 ||
        strcmp(a, "Persons.FindByNir") == 0 ||
        strcmp(a, "Persons.GetSituation") == 0 ||
        strcmp(a, "Audit.Query") == 0)
        return HK_ACCESS;
    if (strncmp(a, "Events.", 7) == 0 || strncmp(a, "Persons.", 8) == 0)
        return HK_EVENT;
    return HK_OTHER;
}

const char *
history_kind_name(enum history_kind k)
{
    switch (k) {
    case HK_DEPOSIT:
        return _("Deposits");
    case HK_CONSENT:
        return _("Consents and mandates");
    case HK_ACCESS:
        return _("Readings");
    case HK_DENIED:
        return _("Refused");
    case HK_EVENT:
        return _("Life of the dossier");
    default:
        return _("Other");
    }
}

/* The verb phrase of an action: "read document %s". */
static const char *
action_phrase(const char *a)
{
    static const struct {
        const char *action, *phrase;
    } t[] = {
        {"Documents.Put", N_("deposited document %s")},
        {"Documents.Get", N_("read document %s")},
        {"Documents.LatestValid", N_("read document %s")},
        {"Documents.List", N_("listed the documents")},
        {"Documents.CheckIntegrity", N_("checked document %s")},
        {"Documents.PutFact", N_("recorded a fact %s")},
        {"Documents.GetFacts", N_("read the facts")},
        {"Persons.Enrol", N_("opened the dossier")},
        {"Persons.FindByNir", N_("looked the dossier up by NIR")},
        {"Persons.GetSituation", N_("read the situation")},
        {"Persons.UpdateSituation", N_("changed the situation")},
        {"Persons.Export", N_("exported the dossier")},
        {"Persons.Erase", N_("erased the dossier")},
        {"Consents.Grant", N_("granted consent %s")},
        {"Consents.Revoke", N_("revoked consent %s")},
        {"Consents.List", N_("listed the consents")},
        {"Mandates.Grant", N_("granted mandate %s")},
        {"Mandates.Revoke", N_("revoked mandate %s")},
        {"Mandates.List", N_("listed the mandates")},
        {"Events.Watch", N_("was told of change %s")},
        {"Events.DeclareLifeEvent", N_("declared a life event")},
        {"Audit.Query", N_("read this history")},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(t[i].action, a) == 0)
            return _(t[i].phrase);
    return NULL;
}

const char *
history_describe(const Dossier__V1__AuditEntry *e, char *out, size_t outsz)
{
    char who[200], what[300], tail[400] = "";
    const char *ph = action_phrase(e->action);
    size_t k = 0;

    cli_principal_label(e->principal, who, sizeof(who));
    if (ph != NULL)
        snprintf(what, sizeof(what), ph, e->object_id[0] ? e->object_id : "");
    else
        snprintf(what, sizeof(what), _("called %s"), e->action);
    /* Remove a dangling space left by an empty object id. */
    k = strlen(what);
    while (k > 0 && what[k - 1] == ' ')
        what[--k] = '\0';
    k = 0;
    if (e->on_behalf_of[0] && strcmp(e->on_behalf_of, e->principal) != 0) {
        char o[200];
        k += (size_t)snprintf(tail + k, sizeof(tail) - k, _(", for %s"),
                              cli_principal_label(e->on_behalf_of, o,
                                                  sizeof(o)));
    }
    if (e->purpose_code[0] && k < sizeof(tail))
        k += (size_t)snprintf(tail + k, sizeof(tail) - k, _(", purpose %s"),
                              e->purpose_code);
    if (e->case_reference[0] && k < sizeof(tail))
        k += (size_t)snprintf(tail + k, sizeof(tail) - k, _(", case %s"),
                              e->case_reference);
    if (strcmp(e->outcome, "denied") == 0)
        snprintf(out, outsz, _("%s was refused: %s%s (%s)"), who, what, tail,
                 e->reason[0] ? e->reason : _("no reason given"));
    else if (strcmp(e->outcome, "error") == 0)
        snprintf(out, outsz, _("%s tried, without success: %s%s (%s)"), who,
                 what, tail, e->reason[0] ? e->reason : "-");
    else
        snprintf(out, outsz, "%s %s%s", who, what, tail);
    return out;
}

int
cmd_history(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'F'},
        {"until", required_argument, NULL, 'U'},
        {"denied", no_argument, NULL, 'D'},
        {"html", required_argument, NULL, 'H'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "history";
    Dossier__V1__QueryAuditRequest req = DOSSIER__V1__QUERY_AUDIT_REQUEST__INIT;
    Dossier__V1__AuditEntry **v = NULL;
    size_t n = 0, cap = 0;
    const char *html = NULL;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    ProtobufCMessage *m;
    int c, rc, y, mo, d;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_history));
        case 'F':
        case 'U':
            if (cli_date_parse(optarg, &y, &mo, &d) != 0) {
                cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                          "03/12/2026 (see \"dossier %s --help\")."),
                        c == 'F' ? "--from" : "--until", optarg, verb);
                return EXIT_USAGE;
            }
            if (c == 'F')
                req.from_unix_ms = cli_date_start_unix(y, mo, d) * 1000;
            else
                req.until_unix_ms = cli_date_end_unix(y, mo, d) * 1000 + 999;
            break;
        case 'D':
            req.outcome = "denied";
            break;
        case 'H':
            html = optarg;
            break;
        case 'd':
            req.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if ((g = cli_conn(cli, &rc)) == NULL)
        return rc;
    if ((call = grpcc_call_start(g, "/dossier.v1.Audit/Query", 0)) == NULL)
        return EXIT_FAIL;
    req.limit = HISTORY_MAX;
    if (grpcc_call_send(call, &req.base) == 0)
        grpcc_call_close_send(call);
    while (grpcc_call_recv(call, &dossier__v1__audit_entry__descriptor, &m,
                           NULL) == 1) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            void *nv = realloc(v, nc * sizeof(*v));
            if (nv == NULL) {
                protobuf_c_message_free_unpacked(m, NULL);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = (Dossier__V1__AuditEntry *)m;
    }
    rc = EXIT_OK;
    if (grpcc_call_finish(call, &st) != RPC_OK) {
        rc = cli_status_report(cli, &st, _("your dossier"));
        goto out;
    }
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_arr(&w);
        for (size_t i = 0; i < n; i++) {
            jw_obj(&w);
            jw_key(&w, "entry");
            audit_entry_json(&w, v[i]);
            {
                char s[1200];
                jw_kstr(&w, "text", history_describe(v[i], s, sizeof(s)));
            }
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_print(&w, stdout);
    } else {
        int py = 0, pm = 0, pd = 0;
        if (n == 0)
            printf("%s\n", _("Nothing recorded yet on this dossier."));
        for (size_t i = 0; i < n; i++) {
            char day[64], s[1200];
            int64_t t = v[i]->time_unix_ms / 1000;
            cli_time_day(t, &y, &mo, &d);
            if (y != py || mo != pm || d != pd) {
                printf("%s%s\n", i ? "\n" : "",
                       cli_date_long(cli->french, y, mo, d, day, sizeof(day)));
                py = y, pm = mo, pd = d;
            }
            cli_time_short(cli->french, t, day, sizeof(day));
            printf("  %s  %s%s\n", day + strlen(day) - 5,
                   history_kind_of(v[i]) == HK_DENIED ? "[!] " : "",
                   history_describe(v[i], s, sizeof(s)));
        }
    }
    if (html != NULL) {
        FILE *f = fopen(html, "w");
        if (f == NULL || history_html_write(cli, f, v, n) != 0 ||
            fclose(f) != 0) {
            cli_say(_("cannot write %s (%s); choose another --html FILE."),
                    html, strerror(errno));
            rc = EXIT_FAIL;
            goto out;
        }
        if (!cli->json)
            printf(_("\nPage written to %s: open it in a browser.\n"), html);
    }
out:
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(&v[i]->base, NULL);
    free(v);
    return rc;
}
