/*
 * cmd_situation.c -- `dossier situation show|update|declare`: the
 * person's address and household (Persons.GetSituation and
 * UpdateSituation), and a life event declared once for every agency
 * that holds consent (Events.DeclareLifeEvent).
 *
 * update and declare start from the current situation and change only
 * what the options say, since the daemon stores whole situations: a
 * person moving house gives the new address, not the household again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dossier/v1/events.pb-c.h"
#include "dossier/v1/persons.pb-c.h"

#include "cmds.h"
#include "output.h"

#define MEMBERS_MAX 32

static const char help_show[] = N_(
    "usage: dossier situation show [--history] [--dossier ID]\n"
    "                              [--purpose CODE --case REF] [--json]\n"
    "\n"
    "Shows your address and household as the dossier knows them\n"
    "(--history: every earlier version too).\n"
    "\n"
    "Example:\n"
    "  dossier situation show --history\n");

static const char help_update[] = N_(
    "usage: dossier situation update [--line1 TEXT] [--line2 TEXT]\n"
    "           [--postal-code CODE] [--city CITY] [--country CODE]\n"
    "           [--add-member GIVEN,FAMILY,DATE,RELATION]...\n"
    "           [--remove-member GIVEN]... [--effective DATE]\n"
    "           [--event EVENT] [--dossier ID] [--json]\n"
    "\n"
    "Changes your address or household; what you do not give stays as it\n"
    "was.\n"
    "\n"
    "Example:\n"
    "  dossier situation update --line1 \"3 rue des Lilas\" \\\n"
    "      --postal-code 69003 --city Lyon --effective 2026-12-01\n");

static const char help_declare[] = N_(
    "usage: dossier situation declare EVENT [the options of update]\n"
    "\n"
    "Declares a life event once: demenagement (new address), naissance (a\n"
    "child joins the household), separation (a member leaves it).  Every\n"
    "agency holding your consent to the situation is told, and the papers\n"
    "they will expect are listed.\n"
    "\n"
    "Example:\n"
    "  dossier situation declare naissance \\\n"
    "      --add-member \"Lina,Martin,2026-11-28,enfant\"\n");

static void
date_json(struct jw *w, const char *key, const Dossier__V1__Date *d)
{
    if (d == NULL)
        jw_kdate(w, key, 0, 0, 0);
    else
        jw_kdate(w, key, d->year, d->month, d->day);
}

void
situation_json(struct jw *w, const Dossier__V1__Situation *s)
{
    if (s == NULL) {
        jw_null(w);
        return;
    }
    jw_obj(w);
    jw_kint(w, "revision", s->revision);
    date_json(w, "effective", s->effective);
    jw_key(w, "address");
    if (s->address == NULL) {
        jw_null(w);
    } else {
        jw_obj(w);
        jw_kstr(w, "line1", s->address->line1);
        jw_kstr(w, "line2", s->address->line2);
        jw_kstr(w, "postal_code", s->address->postal_code);
        jw_kstr(w, "city", s->address->city);
        jw_kstr(w, "country", s->address->country);
        jw_obj_end(w);
    }
    jw_key(w, "household");
    jw_arr(w);
    for (size_t i = 0; i < s->n_household; i++) {
        const Dossier__V1__HouseholdMember *m = s->household[i];
        jw_obj(w);
        jw_kstr(w, "given_name", m->given_name);
        jw_kstr(w, "family_name", m->family_name);
        date_json(w, "birth_date", m->birth_date);
        jw_kstr(w, "relation", m->relation);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

static void
situation_print(struct cli *cli, const Dossier__V1__Situation *s)
{
    char day[64];

    if (s == NULL) {
        printf("%s\n", _("No situation recorded."));
        return;
    }
    if (s->effective != NULL && s->effective->year != 0)
        printf(_("Situation %lld, since %s\n"), (long long)s->revision,
               cli_date_long(cli->french, s->effective->year,
                             s->effective->month, s->effective->day, day,
                             sizeof(day)));
    else
        printf(_("Situation %lld\n"), (long long)s->revision);
    if (s->address != NULL) {
        const Dossier__V1__Address *a = s->address;
        printf("  %-12s %s%s%s, %s %s%s%s\n", _("Address:"), a->line1,
               a->line2[0] ? ", " : "", a->line2, a->postal_code, a->city,
               a->country[0] ? ", " : "", a->country);
    }
    if (s->n_household == 0)
        printf("  %-12s %s\n", _("Household:"), _("no one else"));
    for (size_t i = 0; i < s->n_household; i++) {
        const Dossier__V1__HouseholdMember *m = s->household[i];
        char b[64] = "";
        if (m->birth_date != NULL && m->birth_date->year != 0)
            cli_date_long(cli->french, m->birth_date->year,
                          m->birth_date->month, m->birth_date->day, b,
                          sizeof(b));
        printf("  %-12s %s %s (%s)%s%s\n", i == 0 ? _("Household:") : "",
               m->given_name, m->family_name, m->relation, b[0] ? ", " : "",
               b);
    }
}

/* GetSituation; |*out| freed by the caller. */
static int
situation_get(struct cli *cli, const char *dossier, bool history,
              const char *purpose, const char *case_ref,
              Dossier__V1__GetSituationResponse **out)
{
    Dossier__V1__GetSituationRequest req =
        DOSSIER__V1__GET_SITUATION_REQUEST__INIT;
    Dossier__V1__Basis basis = DOSSIER__V1__BASIS__INIT;

    req.dossier_id = (char *)(dossier ? dossier : "");
    req.with_history = history;
    if (purpose != NULL || case_ref != NULL) {
        basis.purpose_code = (char *)(purpose ? purpose : "");
        basis.case_reference = (char *)(case_ref ? case_ref : "");
        req.basis = &basis;
    }
    return cli_unary(cli, "/dossier.v1.Persons/GetSituation", &req.base,
                     &dossier__v1__get_situation_response__descriptor,
                     (ProtobufCMessage **)out, _("the dossier"));
}

int
cmd_situation_show(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"history", no_argument, NULL, 'H'},
        {"dossier", required_argument, NULL, 'd'},
        {"purpose", required_argument, NULL, 'P'},
        {"case", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__GetSituationResponse *resp = NULL;
    const char *dossier = NULL, *purpose = NULL, *case_ref = NULL;
    bool history = false;
    int c, rc;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_show));
        case 'H':
            history = true;
            break;
        case 'd':
            dossier = optarg;
            break;
        case 'P':
            purpose = optarg;
            break;
        case 'C':
            case_ref = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("situation show", _("unexpected argument '%s'"),
                               argv[optind]);
    rc = situation_get(cli, dossier, history, purpose, case_ref, &resp);
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "current");
        situation_json(&w, resp->current);
        jw_key(&w, "history");
        jw_arr(&w);
        for (size_t i = 0; i < resp->n_history; i++)
            situation_json(&w, resp->history[i]);
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        situation_print(cli, resp->current);
        for (size_t i = 0; i < resp->n_history; i++) {
            if (resp->current != NULL &&
                resp->history[i]->revision == resp->current->revision)
                continue;
            printf("\n");
            situation_print(cli, resp->history[i]);
        }
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

/* The changes asked for, applied to a copy of the current situation. */
struct change {
    const char *line1, *line2, *postal, *city, *country, *event, *dossier;
    Dossier__V1__Date effective;
    bool have_effective;
    char *add[MEMBERS_MAX];
    size_t n_add;
    const char *remove[MEMBERS_MAX];
    size_t n_remove;
};

static int
change_parse(struct cli *cli, int argc, char **argv, const char *verb,
             const char *help, struct change *ch)
{
    static const struct option opts[] = {
        {"line1", required_argument, NULL, '1'},
        {"line2", required_argument, NULL, '2'},
        {"postal-code", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"country", required_argument, NULL, 'C'},
        {"add-member", required_argument, NULL, 'a'},
        {"remove-member", required_argument, NULL, 'r'},
        {"effective", required_argument, NULL, 'e'},
        {"event", required_argument, NULL, 'E'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, y, m, d;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        switch (c) {
        case 'h':
            cli_help(help);
            return 1;
        case '1':
            ch->line1 = optarg;
            break;
        case '2':
            ch->line2 = optarg;
            break;
        case 'p':
            ch->postal = optarg;
            break;
        case 'c':
            ch->city = optarg;
            break;
        case 'C':
            ch->country = optarg;
            break;
        case 'a':
            if (ch->n_add == MEMBERS_MAX)
                return cli_usage_error(verb, _("too many --add-member"));
            ch->add[ch->n_add++] = optarg;
            break;
        case 'r':
            if (ch->n_remove == MEMBERS_MAX)
                return cli_usage_error(verb, _("too many --remove-member"));
            ch->remove[ch->n_remove++] = optarg;
            break;
        case 'e':
            if (cli_date_parse(optarg, &y, &m, &d) != 0) {
                cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                          "03/12/2026 (see \"dossier %s --help\")."),
                        "--effective", optarg, verb);
                return EXIT_USAGE;
            }
            dossier__v1__date__init(&ch->effective);
            ch->effective.year = y;
            ch->effective.month = m;
            ch->effective.day = d;
            ch->have_effective = true;
            break;
        case 'E':
            ch->event = optarg;
            break;
        case 'd':
            ch->dossier = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    (void)cli;
    return 0;
}

/* Storage for the new situation built from the old one. */
struct newsit {
    Dossier__V1__Situation s;
    Dossier__V1__Address a;
    Dossier__V1__HouseholdMember *members[MEMBERS_MAX * 2];
    Dossier__V1__HouseholdMember added[MEMBERS_MAX];
    Dossier__V1__Date births[MEMBERS_MAX];
};

static int
newsit_build(const char *verb, const struct change *ch,
             const Dossier__V1__Situation *old, struct newsit *n)
{
    size_t k = 0;

    dossier__v1__situation__init(&n->s);
    dossier__v1__address__init(&n->a);
    if (old != NULL && old->address != NULL)
        n->a = *old->address;
    if (ch->line1) n->a.line1 = (char *)ch->line1;
    if (ch->line2) n->a.line2 = (char *)ch->line2;
    if (ch->postal) n->a.postal_code = (char *)ch->postal;
    if (ch->city) n->a.city = (char *)ch->city;
    if (ch->country) n->a.country = (char *)ch->country;
    n->s.address = &n->a;
    for (size_t i = 0; old != NULL && i < old->n_household; i++) {
        bool gone = false;
        for (size_t r = 0; r < ch->n_remove; r++)
            if (strcmp(old->household[i]->given_name, ch->remove[r]) == 0)
                gone = true;
        if (!gone && k < MEMBERS_MAX)
            n->members[k++] = old->household[i];
    }
    for (size_t i = 0; i < ch->n_add; i++) {
        char *f[4] = {0};
        size_t nf = cli_split_list(ch->add[i], f, 4);
        int y, m, d;
        if (nf != 4 || cli_date_parse(f[2], &y, &m, &d) != 0) {
            cli_say(_("--add-member takes GIVEN,FAMILY,DATE,RELATION, e.g. "
                      "\"Lina,Martin,2026-11-28,enfant\" (see \"dossier %s "
                      "--help\")."),
                    verb);
            return -1;
        }
        dossier__v1__household_member__init(&n->added[i]);
        dossier__v1__date__init(&n->births[i]);
        n->births[i].year = y;
        n->births[i].month = m;
        n->births[i].day = d;
        n->added[i].given_name = f[0];
        n->added[i].family_name = f[1];
        n->added[i].birth_date = &n->births[i];
        n->added[i].relation = f[3];
        n->members[k++] = &n->added[i];
    }
    n->s.household = n->members;
    n->s.n_household = k;
    if (ch->have_effective)
        n->s.effective = (Dossier__V1__Date *)&ch->effective;
    return 0;
}

static int
change_run(struct cli *cli, int argc, char **argv, bool declare)
{
    const char *verb = declare ? "situation declare" : "situation update";
    struct change ch = {0};
    struct newsit *n = calloc(1, sizeof(*n));
    Dossier__V1__GetSituationResponse *cur = NULL;
    const char *event = NULL;
    int rc;

    if (n == NULL)
        return EXIT_FAIL;
    rc = change_parse(cli, argc, argv, verb,
                      declare ? _(help_declare) : _(help_update), &ch);
    if (rc != 0) {
        free(n);
        return rc == 1 ? EXIT_OK : rc;
    }
    if (declare) {
        static const char *const events[] = {"demenagement", "naissance",
                                             "separation"};
        bool known = false;
        if (optind + 1 != argc) {
            free(n);
            return cli_usage_error(verb, _("name the event: demenagement, "
                                           "naissance or separation"));
        }
        event = argv[optind];
        for (size_t i = 0; i < 3; i++)
            known |= strcmp(event, events[i]) == 0;
        if (!known) {
            free(n);
            return cli_usage_error(verb, _("'%s' is not a life event; say "
                                           "demenagement, naissance or "
                                           "separation"),
                                   event);
        }
    } else if (optind < argc) {
        free(n);
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    }
    rc = situation_get(cli, ch.dossier, false, NULL, NULL, &cur);
    if (rc != EXIT_OK) {
        free(n);
        return rc;
    }
    if (newsit_build(verb, &ch, cur->current, n) != 0) {
        protobuf_c_message_free_unpacked(&cur->base, NULL);
        free(n);
        return EXIT_USAGE;
    }
    if (!declare) {
        Dossier__V1__UpdateSituationRequest req =
            DOSSIER__V1__UPDATE_SITUATION_REQUEST__INIT;
        Dossier__V1__UpdateSituationResponse *resp = NULL;
        req.dossier_id = (char *)(ch.dossier ? ch.dossier : "");
        req.situation = &n->s;
        req.life_event = (char *)(ch.event ? ch.event : "");
        rc = cli_unary(cli, "/dossier.v1.Persons/UpdateSituation", &req.base,
                       &dossier__v1__update_situation_response__descriptor,
                       (ProtobufCMessage **)&resp, _("the dossier"));
        if (rc == EXIT_OK) {
            if (cli->json) {
                struct jw w;
                jw_init(&w);
                jw_obj(&w);
                jw_kint(&w, "revision", resp->revision);
                jw_obj_end(&w);
                jw_print(&w, stdout);
            } else {
                printf(_("Situation updated (version %lld).\n"),
                       (long long)resp->revision);
            }
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    } else {
        Dossier__V1__DeclareLifeEventRequest req =
            DOSSIER__V1__DECLARE_LIFE_EVENT_REQUEST__INIT;
        Dossier__V1__DeclareLifeEventResponse *resp = NULL;
        req.dossier_id = (char *)(ch.dossier ? ch.dossier : "");
        req.life_event = (char *)event;
        req.situation = &n->s;
        rc = cli_unary(cli, "/dossier.v1.Events/DeclareLifeEvent", &req.base,
                       &dossier__v1__declare_life_event_response__descriptor,
                       (ProtobufCMessage **)&resp, _("the dossier"));
        if (rc == EXIT_OK) {
            if (cli->json) {
                struct jw w;
                jw_init(&w);
                jw_obj(&w);
                jw_kint(&w, "revision", resp->revision);
                jw_kstr(&w, "cursor", resp->cursor);
                jw_key(&w, "expected_document_types");
                jw_arr(&w);
                for (size_t i = 0; i < resp->n_expected_document_types; i++)
                    jw_str(&w, resp->expected_document_types[i]);
                jw_arr_end(&w);
                jw_key(&w, "notified");
                jw_arr(&w);
                for (size_t i = 0; i < resp->n_notified; i++) {
                    jw_obj(&w);
                    jw_kstr(&w, "agency", resp->notified[i]->agency);
                    jw_kstr(&w, "consent_id", resp->notified[i]->consent_id);
                    jw_obj_end(&w);
                }
                jw_arr_end(&w);
                jw_obj_end(&w);
                jw_print(&w, stdout);
            } else {
                char lbl[200];
                printf(_("Life event \"%s\" declared (situation version "
                         "%lld).\n"),
                       event, (long long)resp->revision);
                if (resp->n_notified == 0)
                    printf("%s\n", _("No agency holds your consent to the "
                                     "situation: none is told."));
                for (size_t i = 0; i < resp->n_notified; i++) {
                    const char *a = resp->notified[i]->agency;
                    if (strncmp(a, "kind:", 5) == 0)
                        snprintf(lbl, sizeof(lbl), _("every %s"), a + 5);
                    else
                        cli_principal_label(a, lbl, sizeof(lbl));
                    printf(_("  told: %s (consent %s)\n"), lbl,
                           resp->notified[i]->consent_id);
                }
                for (size_t i = 0; i < resp->n_expected_document_types; i++)
                    printf(_("  expected paper: %s\n"),
                           doc_type_label(resp->expected_document_types[i]));
            }
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    }
    protobuf_c_message_free_unpacked(&cur->base, NULL);
    free(n);
    return rc;
}

int
cmd_situation_update(struct cli *cli, int argc, char **argv)
{
    return change_run(cli, argc, argv, false);
}

int
cmd_situation_declare(struct cli *cli, int argc, char **argv)
{
    return change_run(cli, argc, argv, true);
}
