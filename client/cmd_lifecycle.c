/*
 * cmd_lifecycle.c -- the life of a dossier: `dossier enrol` (an aidant or
 * the operator opens a person's dossier), `dossier export` (the person
 * takes everything away as one tar archive) and `dossier erase` (the
 * person ends it; asked twice unless --yes).
 *
 * The export streams to a temporary file renamed at the end, with a
 * progress bar on a terminal for large dossiers.  The NIR given to enrol
 * is never printed back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dossier/v1/persons.pb-c.h"

#include "cmds.h"
#include "output.h"
#include "rpc.h"

static const char help_enrol[] = N_(
    "usage: dossier enrol --nir NIR --given-name NAME --family-name NAME\n"
    "                     --birth-date DATE --principal ID [--json]\n"
    "\n"
    "For an aidant or the operator: opens the dossier of a person.  NIR is\n"
    "the 15-character social security number with its key; ID is the id\n"
    "of the person's certificate (spiffe://.../person/ID), so that the\n"
    "person reaches their dossier with it.\n"
    "\n"
    "Example:\n"
    "  dossier --as delegate-france-services-demo enrol \\\n"
    "      --nir 185057800608491 --given-name Camille --family-name Martin \\\n"
    "      --birth-date 1985-05-12 --principal demo\n");

static const char help_export[] = N_(
    "usage: dossier export -o FILE [--dossier ID]\n"
    "\n"
    "Saves your whole dossier (your documents as they were deposited, your\n"
    "situation, a manifest in JSON) as one tar archive.\n"
    "\n"
    "Example:\n"
    "  dossier export -o mon-dossier.tar\n");

static const char help_erase[] = N_(
    "usage: dossier erase [--yes] [--dossier ID]\n"
    "\n"
    "Erases your dossier for good: every document becomes unreadable,\n"
    "backups included; the audit log keeps only that it happened.  Asks\n"
    "for confirmation unless --yes.\n"
    "\n"
    "Example:\n"
    "  dossier erase\n");

int
cmd_enrol(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"nir", required_argument, NULL, 'n'},
        {"given-name", required_argument, NULL, 'g'},
        {"family-name", required_argument, NULL, 'f'},
        {"birth-date", required_argument, NULL, 'b'},
        {"principal", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__EnrolRequest req = DOSSIER__V1__ENROL_REQUEST__INIT;
    Dossier__V1__EnrolResponse *resp = NULL;
    Dossier__V1__Date birth = DOSSIER__V1__DATE__INIT;
    const char *verb = "enrol";
    int c, rc, y, m, d;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_enrol));
        case 'n':
            req.nir = optarg;
            break;
        case 'g':
            req.given_name = optarg;
            break;
        case 'f':
            req.family_name = optarg;
            break;
        case 'b':
            if (cli_date_parse(optarg, &y, &m, &d) != 0) {
                cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                          "03/12/2026 (see \"dossier %s --help\")."),
                        "--birth-date", optarg, verb);
                return EXIT_USAGE;
            }
            birth.year = y;
            birth.month = m;
            birth.day = d;
            req.birth_date = &birth;
            break;
        case 'p':
            req.person_principal_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if (req.nir[0] == '\0' || req.given_name[0] == '\0' ||
        req.family_name[0] == '\0' || req.birth_date == NULL)
        return cli_usage_error(verb, _("give --nir, --given-name, "
                                       "--family-name and --birth-date"));
    if (strlen(req.nir) != 15)
        return cli_usage_error(verb, _("the NIR has 15 characters (13 and "
                                       "its 2-digit key), without spaces"));
    rc = cli_unary(cli, "/dossier.v1.Persons/Enrol", &req.base,
                   &dossier__v1__enrol_response__descriptor,
                   (ProtobufCMessage **)&resp, NULL);
    OPENSSL_cleanse(req.nir, strlen(req.nir));
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
        printf(_("Dossier %s opened.\n"), resp->dossier_id);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

int
cmd_export(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__ExportRequest req = DOSSIER__V1__EXPORT_REQUEST__INIT;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    ProtobufCMessage *m;
    const char *out = NULL;
    char tmp[1100], s[32];
    uint64_t total = 0;
    int c, rc;
    FILE *f;

    while ((c = cli_getopt(argc, argv, "ho:d:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_export));
        case 'o':
            out = optarg;
            break;
        case 'd':
            req.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("export", _("unexpected argument '%s'"),
                               argv[optind]);
    if (out == NULL)
        return cli_usage_error("export", _("say where to save it with -o "
                                           "FILE"));
    if ((g = cli_conn(cli, &rc)) == NULL)
        return rc;
    snprintf(tmp, sizeof(tmp), "%s.part", out);
    if ((f = fopen(tmp, "wb")) == NULL) {
        cli_say(_("cannot write %s (%s); choose another -o FILE."), out,
                strerror(errno));
        return EXIT_USAGE;
    }
    call = grpcc_call_start(g, "/dossier.v1.Persons/Export", 0);
    if (call == NULL) {
        fclose(f);
        unlink(tmp);
        return EXIT_FAIL;
    }
    if (grpcc_call_send(call, &req.base) == 0)
        grpcc_call_close_send(call);
    while (grpcc_call_recv(call, &dossier__v1__export_chunk__descriptor, &m,
                           NULL) == 1) {
        Dossier__V1__ExportChunk *ch = (Dossier__V1__ExportChunk *)m;
        if (fwrite(ch->data.data, 1, ch->data.len, f) != ch->data.len) {
            protobuf_c_message_free_unpacked(m, NULL);
            grpcc_call_finish(call, &st);
            fclose(f);
            unlink(tmp);
            cli_say(_("cannot write %s (%s); free some disk space or choose "
                      "another -o FILE."),
                    out, strerror(errno));
            return EXIT_FAIL;
        }
        total += ch->data.len;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    if (grpcc_call_finish(call, &st) != RPC_OK) {
        fclose(f);
        unlink(tmp);
        return cli_status_report(cli, &st, _("the dossier"));
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
        rename(tmp, out) != 0) {
        cli_say(_("cannot write %s (%s); choose another -o FILE."), out,
                strerror(errno));
        unlink(tmp);
        return EXIT_FAIL;
    }
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_kstr(&w, "file", out);
        jw_kint(&w, "size", (int64_t)total);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        printf(_("Dossier saved to %s (%s, a tar archive: tar xf %s).\n"),
               out, size_human(total, s, sizeof(s)), out);
    }
    return EXIT_OK;
}

int
cmd_erase(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__EraseRequest req = DOSSIER__V1__ERASE_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    bool yes = false;
    int c, rc;

    while ((c = cli_getopt(argc, argv, "hyd:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_erase));
        case 'y':
            yes = true;
            break;
        case 'd':
            req.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("erase", _("unexpected argument '%s'"),
                               argv[optind]);
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            cli_say(_("erasing a dossier cannot be undone: run it on a "
                      "terminal to confirm, or add --yes."));
            return EXIT_USAGE;
        }
        if (!cli_confirm(_("Erase the whole dossier for good? Documents "
                           "cannot be recovered afterwards. Type \"yes\" "
                           "to confirm:"))) {
            printf("%s\n", _("Nothing was erased."));
            return EXIT_FAIL;
        }
    }
    req.confirm = true;
    rc = cli_unary(cli, "/dossier.v1.Persons/Erase", &req.base,
                   &dossier__v1__erase_response__descriptor, &resp,
                   _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (cli->json) {
        printf("{\"erased\":true}\n");
    } else {
        printf("%s\n", _("The dossier was erased: its documents can no "
                         "longer be read by anyone."));
    }
    return EXIT_OK;
}
