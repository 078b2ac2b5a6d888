/*
 * cmd_agency.c -- what an agency does with `dossier` beyond documents:
 * `agency find` (a dossier by NIR, with the purpose and case reference
 * the audit log records), `agency consents` (the consents it holds), and
 * `events watch` (alias `agency watch`: the changes of the dossiers it
 * holds standing consents for, from dossier.v1.Events.Watch).
 *
 * A watch runs until interrupted, --count events or --for seconds; each
 * event is one line (one JSON object a line with --json), flushed at once
 * so that a script reading the pipe sees it immediately.  The cursor of
 * the last event is printed so that the next watch resumes after it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dossier/v1/events.pb-c.h"
#include "dossier/v1/persons.pb-c.h"

#include "cmds.h"
#include "output.h"
#include "rpc.h"

static const char help_find[] = N_(
    "usage: dossier agency find NIR --purpose CODE --case REF [--json]\n"
    "\n"
    "For an agency: finds the dossier of the person with this NIR (social\n"
    "security number, 15 characters).  The search is written to the\n"
    "person's audit log with your purpose and case reference.\n"
    "\n"
    "Example:\n"
    "  dossier --as agency-caf-75 agency find 185057800608491 \\\n"
    "      --purpose RSA-INSTRUCTION --case CAF-2026-118\n");

static const char help_consents[] = N_(
    "usage: dossier agency consents [--all] [--json]\n"
    "\n"
    "For an agency: lists the consents persons gave it (--all: also those\n"
    "revoked, spent or expired).\n"
    "\n"
    "Example:\n"
    "  dossier --as agency-cpam-69 agency consents\n");

static const char help_watch[] = N_(
    "usage: dossier events watch [--cursor CURSOR] [--count N]\n"
    "                            [--for SECONDS] [--json]\n"
    "\n"
    "For an agency: prints the changes (new documents, new situations,\n"
    "consents granted or revoked, erasures) of the dossiers whose persons\n"
    "gave it a standing consent, as they happen.  --cursor resumes after\n"
    "an event already received (\"0\": from the oldest kept).\n"
    "\n"
    "Example:\n"
    "  dossier --as agency-cpam-69 events watch --cursor 0 --count 10\n");

int
cmd_agency_find(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"purpose", required_argument, NULL, 'P'},
        {"case", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__FindByNirRequest req = DOSSIER__V1__FIND_BY_NIR_REQUEST__INIT;
    Dossier__V1__Basis basis = DOSSIER__V1__BASIS__INIT;
    Dossier__V1__FindByNirResponse *resp = NULL;
    int c, rc;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_find));
        case 'P':
            basis.purpose_code = optarg;
            break;
        case 'C':
            basis.case_reference = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("agency find", _("give one NIR"));
    if (basis.purpose_code[0] == '\0' || basis.case_reference[0] == '\0')
        return cli_usage_error("agency find",
                               _("an agency states why it reads: give "
                                 "--purpose CODE and --case REF"));
    req.nir = argv[optind];
    req.basis = &basis;
    rc = cli_unary(cli, "/dossier.v1.Persons/FindByNir", &req.base,
                   &dossier__v1__find_by_nir_response__descriptor,
                   (ProtobufCMessage **)&resp, _("a dossier with this NIR"));
    OPENSSL_cleanse(argv[optind], strlen(argv[optind]));
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_kstr(&w, "dossier_id", resp->dossier_id);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        printf(_("Dossier %s\n"), resp->dossier_id);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

int
cmd_agency_consents(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool all = false;
    int c;

    while ((c = cli_getopt(argc, argv, "ha", opts)) != -1) {
        if (c == 'h')
            return cli_help(_(help_consents));
        if (c != 'a')
            return EXIT_USAGE;
        all = true;
    }
    if (optind < argc)
        return cli_usage_error("agency consents", _("unexpected argument '%s'"),
                               argv[optind]);
    return consents_list_run(cli, NULL, all, true);
}

/* --- watch ----------------------------------------------------------------- */

static volatile sig_atomic_t stop_watch;

static void
on_sigint(int sig)
{
    (void)sig;
    stop_watch = 1;
}

static const char *
kind_text(const char *kind)
{
    if (strcmp(kind, "document") == 0)
        return _("new document");
    if (strcmp(kind, "situation") == 0)
        return _("situation changed");
    if (strcmp(kind, "consent-granted") == 0)
        return _("consent granted");
    if (strcmp(kind, "consent-revoked") == 0)
        return _("consent revoked");
    if (strcmp(kind, "erasure") == 0)
        return _("dossier erased");
    return kind;
}

static void
event_print(struct cli *cli, const Dossier__V1__Event *e)
{
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_kstr(&w, "cursor", e->cursor);
        jw_kstr(&w, "dossier_id", e->dossier_id);
        jw_kstr(&w, "kind", e->kind);
        jw_kstr(&w, "object_id", e->object_id);
        jw_kstr(&w, "type", e->type);
        jw_ktime(&w, "time", e->time_unix);
        jw_kint(&w, "version", e->version);
        jw_kstr(&w, "life_event", e->life_event);
        jw_kstr(&w, "consent_id", e->consent_id);
        jw_key(&w, "expected_document_types");
        jw_arr(&w);
        for (size_t i = 0; i < e->n_expected_document_types; i++)
            jw_str(&w, e->expected_document_types[i]);
        jw_arr_end(&w);
        if (e->situation != NULL) {
            jw_key(&w, "situation");
            situation_json(&w, e->situation);
        }
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        char t[64];
        printf("%s  %-18s %s", cli_time_short(cli->french, e->time_unix, t,
                                              sizeof(t)),
               kind_text(e->kind), e->dossier_id);
        if (e->object_id[0])
            printf("  %s", e->object_id);
        if (strcmp(e->kind, "document") == 0 && e->type[0])
            printf("  %s", doc_type_label(e->type));
        if (e->life_event[0])
            printf(_("  (life event: %s)"), e->life_event);
        printf("  [%s]\n", e->cursor);
    }
    fflush(stdout);
}

int
cmd_events_watch(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"cursor", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},
        {"for", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__WatchRequest req = DOSSIER__V1__WATCH_REQUEST__INIT;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    ProtobufCMessage *m;
    long count = 0, secs = 0, seen = 0;
    char last[128] = "";
    int c, rc;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            return cli_help(_(help_watch));
        case 'c':
            req.cursor = optarg;
            break;
        case 'n':
            count = strtol(optarg, &end, 10);
            if (*end != '\0' || count < 1)
                return cli_usage_error("events watch",
                                       _("--count takes a number from 1"));
            break;
        case 'f':
            secs = strtol(optarg, &end, 10);
            if (*end != '\0' || secs < 1 || secs > 86400 * 365)
                return cli_usage_error("events watch",
                                       _("--for takes a number of seconds "
                                         "from 1"));
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("events watch", _("unexpected argument '%s'"),
                               argv[optind]);
    if ((g = cli_conn(cli, &rc)) == NULL)
        return rc;
    call = grpcc_call_start(g, "/dossier.v1.Events/Watch",
                            secs > 0 ? (int)(secs * 1000) : 0);
    if (call == NULL)
        return EXIT_FAIL;
    if (grpcc_call_send(call, &req.base) == 0)
        grpcc_call_close_send(call);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    if (!cli->json && isatty(STDOUT_FILENO))
        fprintf(stderr, "%s\n", _("Watching; Ctrl-C stops."));
    while (!stop_watch &&
           (rc = grpcc_call_recv(call, &dossier__v1__event__descriptor, &m,
                                 NULL)) == 1) {
        Dossier__V1__Event *e = (Dossier__V1__Event *)m;
        snprintf(last, sizeof(last), "%s", e->cursor);
        if (strcmp(e->kind, "heartbeat") != 0) {
            event_print(cli, e);
            seen++;
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (count > 0 && seen >= count)
            break;
    }
    if (stop_watch || (count > 0 && seen >= count)) {
        grpcc_call_cancel(call);
    } else if (grpcc_call_finish(call, &st) != RPC_OK &&
               st.code != RPC_DEADLINE_EXCEEDED) {
        return cli_status_report(cli, &st, NULL);
    }
    if (!cli->json && last[0])
        fprintf(stderr, _("Last cursor: %s (resume with --cursor %s)\n"),
                last, last);
    return EXIT_OK;
}
