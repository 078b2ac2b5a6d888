/*
 * cmd_documents.c -- `dossier documents list|show|get|put`, and the
 * agency's `dossier agency deposit|fetch`, which are the same calls of
 * dossier.v1.Documents with a dossier named and, for a fetch, the purpose
 * and case reference the audit log records.
 *
 * Deposits stream the file in 256 KiB chunks as it is read, and fetches
 * write the chunks to the output file as they come: neither holds a
 * document in memory.  A fetch writes to a temporary file next to the
 * target and renames it only once the call ended well, so a refused or
 * broken download leaves nothing behind.  Transfers over a few MiB show
 * a progress bar on a terminal (output.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dossier/v1/documents.pb-c.h"

#include "cmds.h"
#include "output.h"
#include "rpc.h"

#define CHUNK (256 * 1024)

static const struct {
    const char *code, *label;
} doc_types[] = {
    {"identite", N_("Identity document")},
    {"acte-naissance", N_("Birth certificate")},
    {"livret-famille", N_("Family record book")},
    {"justificatif-domicile", N_("Proof of address")},
    {"attestation-hebergement", N_("Certificate of accommodation")},
    {"avis-imposition", N_("Tax notice")},
    {"avis-non-imposition", N_("Non-taxation notice")},
    {"rib", N_("Bank details (RIB)")},
    {"bulletin-salaire", N_("Payslip")},
    {"attestation-employeur", N_("Employer's certificate")},
    {"attestation-droits-cpam", N_("Health insurance certificate")},
    {"attestation-paiement-caf", N_("CAF payment certificate")},
    {"attestation-quotient-familial", N_("Family quotient certificate")},
    {"attestation-france-travail", N_("France Travail certificate")},
    {"releve-carriere", N_("Career statement")},
    {"notification-retraite", N_("Pension notification")},
    {"certificat-scolarite", N_("School certificate")},
    {"jugement-divorce", N_("Divorce or separation judgment")},
    {"certificat-deces", N_("Death certificate")},
};

const char *
doc_type_label(const char *code)
{
    for (size_t i = 0; i < sizeof(doc_types) / sizeof(doc_types[0]); i++)
        if (strcmp(doc_types[i].code, code) == 0)
            return _(doc_types[i].label);
    return code;
}

static const char *
date_s(struct cli *cli, const Dossier__V1__Date *d, char *out, size_t n)
{
    if (d == NULL || d->year == 0)
        return "-";
    return cli_date_short(cli->french, d->year, d->month, d->day, out, n);
}

static void
json_date(struct jw *w, const char *key, const Dossier__V1__Date *d)
{
    if (d == NULL)
        jw_kdate(w, key, 0, 0, 0);
    else
        jw_kdate(w, key, d->year, d->month, d->day);
}

static void
json_meta(struct jw *w, const Dossier__V1__DocumentMeta *m)
{
    jw_obj(w);
    jw_kstr(w, "document_id", m->document_id);
    jw_kstr(w, "dossier_id", m->dossier_id);
    jw_kstr(w, "type", m->type);
    jw_kstr(w, "issuer", m->issuer);
    json_date(w, "issued", m->issued);
    json_date(w, "valid_until", m->valid_until);
    jw_kint(w, "version", m->version);
    jw_kstr(w, "supersedes", m->supersedes);
    jw_kstr(w, "media_type", m->media_type);
    jw_kstr(w, "file_name", m->file_name);
    jw_kint(w, "size", m->size);
    jw_key(w, "sha256");
    jw_hex(w, m->sha256.data, m->sha256.len);
    jw_ktime(w, "deposited", m->deposited_unix);
    jw_obj_end(w);
}

/* Reads the Basis options into |b|; returns true if |c| was one. */
static bool
basis_opt(int c, struct basis_opts *b)
{
    switch (c) {
    case 'P':
        b->purpose = optarg;
        return true;
    case 'C':
        b->case_ref = optarg;
        return true;
    case 'K':
        b->consent = optarg;
        return true;
    }
    return false;
}

static Dossier__V1__Basis *
basis_make(const struct basis_opts *o, Dossier__V1__Basis *b)
{
    if (o->purpose == NULL && o->case_ref == NULL && o->consent == NULL)
        return NULL;
    dossier__v1__basis__init(b);
    b->purpose_code = (char *)(o->purpose ? o->purpose : "");
    b->case_reference = (char *)(o->case_ref ? o->case_ref : "");
    b->consent_id = (char *)(o->consent ? o->consent : "");
    return b;
}

#define BASIS_OPTS                                                             \
    {"purpose", required_argument, NULL, 'P'},                                 \
        {"case", required_argument, NULL, 'C'},                                \
        {"consent", required_argument, NULL, 'K'}

/* --- list ------------------------------------------------------------------ */

static const char help_list[] = N_(
    "usage: dossier documents list [--type TYPE] [--all-versions]\n"
    "                              [--dossier ID] [--purpose CODE --case REF]\n"
    "                              [--json]\n"
    "\n"
    "Lists the documents of your dossier (or of the dossier ID, for an\n"
    "aidant or an agency, which must state a purpose).\n"
    "\n"
    "Example:\n"
    "  dossier documents list\n"
    "  dossier --as agency-cpam-69 documents list --dossier d0123... \\\n"
    "      --purpose CSS-INSTRUCTION --case 2026-0042\n");

int
cmd_documents_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"all-versions", no_argument, NULL, 'a'},
        {"dossier", required_argument, NULL, 'd'},
        BASIS_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__ListDocumentsRequest req =
        DOSSIER__V1__LIST_DOCUMENTS_REQUEST__INIT;
    Dossier__V1__ListDocumentsResponse *resp = NULL;
    Dossier__V1__Basis basis;
    struct basis_opts bo = {0};
    int c, rc;

    while ((c = cli_getopt(argc, argv, "ht:ad:", opts)) != -1) {
        if (basis_opt(c, &bo))
            continue;
        switch (c) {
        case 'h':
            return cli_help(_(help_list));
        case 't':
            req.type = optarg;
            break;
        case 'a':
            req.all_versions = true;
            break;
        case 'd':
            req.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("documents list", _("unexpected argument '%s'"),
                               argv[optind]);
    req.basis = basis_make(&bo, &basis);
    rc = cli_unary(cli, "/dossier.v1.Documents/List", &req.base,
                   &dossier__v1__list_documents_response__descriptor,
                   (ProtobufCMessage **)&resp, _("the dossier"));
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_arr(&w);
        for (size_t i = 0; i < resp->n_documents; i++)
            json_meta(&w, resp->documents[i]);
        jw_arr_end(&w);
        jw_print(&w, stdout);
    } else {
        const char *head[] = {_("ID"),   _("TYPE"),    _("ISSUED"),
                              _("VALID UNTIL"), _("V."), _("SIZE"),
                              _("FILE")};
        struct table t;
        table_init(&t, 7, head);
        for (size_t i = 0; i < resp->n_documents; i++) {
            const Dossier__V1__DocumentMeta *m = resp->documents[i];
            char a[32], b[32], v[16], s[32];
            snprintf(v, sizeof(v), "%d", m->version);
            const char *row[] = {m->document_id,
                                 doc_type_label(m->type),
                                 date_s(cli, m->issued, a, sizeof(a)),
                                 date_s(cli, m->valid_until, b, sizeof(b)),
                                 v,
                                 size_human((uint64_t)m->size, s, sizeof(s)),
                                 m->file_name};
            table_row(&t, row);
        }
        table_print(&t, stdout, _("No document."));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

/* --- show ------------------------------------------------------------------ */

static const char help_show[] = N_(
    "usage: dossier documents show DOCUMENT-ID [--dossier ID] [--json]\n"
    "\n"
    "Shows what the dossier knows of one document: type, dates, issuer,\n"
    "version, size and SHA-256 (its content is not fetched).\n"
    "\n"
    "Example:\n"
    "  dossier documents show p01HZX...\n");

int
cmd_documents_show(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dossier", required_argument, NULL, 'd'},
        BASIS_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Dossier__V1__ListDocumentsRequest req =
        DOSSIER__V1__LIST_DOCUMENTS_REQUEST__INIT;
    Dossier__V1__ListDocumentsResponse *resp = NULL;
    Dossier__V1__Basis basis;
    struct basis_opts bo = {0};
    const Dossier__V1__DocumentMeta *m = NULL;
    char what[128];
    int c, rc;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        if (basis_opt(c, &bo))
            continue;
        if (c == 'h')
            return cli_help(_(help_show));
        if (c != 'd')
            return EXIT_USAGE;
        req.dossier_id = optarg;
    }
    if (optind + 1 != argc)
        return cli_usage_error("documents show",
                               _("give one document id"));
    req.all_versions = true;
    req.basis = basis_make(&bo, &basis);
    snprintf(what, sizeof(what), _("document %s"), argv[optind]);
    rc = cli_unary(cli, "/dossier.v1.Documents/List", &req.base,
                   &dossier__v1__list_documents_response__descriptor,
                   (ProtobufCMessage **)&resp, what);
    if (rc != EXIT_OK)
        return rc;
    for (size_t i = 0; i < resp->n_documents; i++)
        if (strcmp(resp->documents[i]->document_id, argv[optind]) == 0)
            m = resp->documents[i];
    if (m == NULL) {
        cli_say(_("document %s is not in this dossier; \"dossier documents "
                  "list\" shows the ids."),
                argv[optind]);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return EXIT_NOTFOUND;
    }
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        json_meta(&w, m);
        jw_print(&w, stdout);
    } else {
        char a[64], s[32], iss[160], hex[65];
        for (size_t i = 0; i < m->sha256.len && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", m->sha256.data[i]);
        hex[m->sha256.len < 32 ? m->sha256.len * 2 : 64] = '\0';
        printf("%-16s %s\n", _("Document:"), m->document_id);
        printf("%-16s %s (%s)\n", _("Type:"), doc_type_label(m->type),
               m->type);
        printf("%-16s %s\n", _("File:"), m->file_name);
        printf("%-16s %s, %s\n", _("Size:"),
               size_human((uint64_t)m->size, s, sizeof(s)), m->media_type);
        if (m->issued != NULL && m->issued->year != 0)
            printf("%-16s %s\n", _("Issued:"),
                   cli_date_long(cli->french, m->issued->year,
                                 m->issued->month, m->issued->day, a,
                                 sizeof(a)));
        if (m->valid_until != NULL && m->valid_until->year != 0)
            printf("%-16s %s\n", _("Valid until:"),
                   cli_date_long(cli->french, m->valid_until->year,
                                 m->valid_until->month, m->valid_until->day,
                                 a, sizeof(a)));
        printf("%-16s %d%s%s\n", _("Version:"), m->version,
               m->supersedes[0] ? " <- " : "", m->supersedes);
        printf("%-16s %s\n", _("Deposited by:"),
               cli_principal_label(m->issuer, iss, sizeof(iss)));
        printf("%-16s %s\n", _("Deposited on:"),
               cli_time_long(cli->french, m->deposited_unix, a, sizeof(a)));
        printf("%-16s %s\n", "SHA-256:", hex);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return EXIT_OK;
}

/* --- get and fetch --------------------------------------------------------- */

static const char help_get[] = N_(
    "usage: dossier documents get DOCUMENT-ID -o FILE [--dossier ID]\n"
    "                             [--purpose CODE --case REF]\n"
    "\n"
    "Downloads a document of the dossier into FILE (\"-\": standard\n"
    "output).  The file appears only once the whole document has arrived.\n"
    "\n"
    "Example:\n"
    "  dossier documents get p01HZX... -o avis-2025.pdf\n");

static const char help_fetch[] = N_(
    "usage: dossier agency fetch DOSSIER-ID (DOCUMENT-ID | --type TYPE)\n"
    "                            --purpose CODE --case REF -o FILE\n"
    "\n"
    "For an agency: fetches a document of a person's dossier under the\n"
    "consent the person gave for this purpose (--type: the latest valid\n"
    "document of that type).  The purpose and your case reference are\n"
    "written to the person's audit log.\n"
    "\n"
    "Example:\n"
    "  dossier --as agency-cpam-69 agency fetch d01HZX... \\\n"
    "      --type attestation-paiement-caf --purpose CSS-INSTRUCTION \\\n"
    "      --case 2026-0042 -o attestation.pdf\n");

static int
get_run(struct cli *cli, const char *dossier, const char *doc,
        const char *type, const struct basis_opts *bo, const char *outpath)
{
    Dossier__V1__GetDocumentRequest greq =
        DOSSIER__V1__GET_DOCUMENT_REQUEST__INIT;
    Dossier__V1__LatestValidRequest lreq =
        DOSSIER__V1__LATEST_VALID_REQUEST__INIT;
    Dossier__V1__Basis basis;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    struct progress pr = {0};
    ProtobufCMessage *m;
    char tmp[1100], what[160];
    int fd = -1, rc;
    bool to_stdout = strcmp(outpath, "-") == 0, ok = true;
    bool have_meta = false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t want[32], got[32];
    size_t want_len = 0;
    uint64_t total = 0;

    if (doc != NULL)
        snprintf(what, sizeof(what), _("document %s"), doc);
    else
        snprintf(what, sizeof(what), _("a valid document of type %s"), type);
    if ((g = cli_conn(cli, &rc)) == NULL) {
        EVP_MD_CTX_free(md);
        return rc;
    }
    if (to_stdout) {
        fd = STDOUT_FILENO;
    } else {
        snprintf(tmp, sizeof(tmp), "%s.part-XXXXXX", outpath);
        fd = mkstemp(tmp);
        if (fd < 0) {
            cli_say(_("cannot write %s (%s); choose another -o FILE."),
                    outpath, strerror(errno));
            EVP_MD_CTX_free(md);
            return EXIT_USAGE;
        }
    }
    if (doc != NULL) {
        greq.dossier_id = (char *)(dossier ? dossier : "");
        greq.document_id = (char *)doc;
        greq.basis = basis_make(bo, &basis);
        call = grpcc_call_start(g, "/dossier.v1.Documents/Get", 0);
        if (call != NULL && grpcc_call_send(call, &greq.base) == 0)
            grpcc_call_close_send(call);
    } else {
        lreq.dossier_id = (char *)(dossier ? dossier : "");
        lreq.type = (char *)type;
        lreq.basis = basis_make(bo, &basis);
        call = grpcc_call_start(g, "/dossier.v1.Documents/LatestValid", 0);
        if (call != NULL && grpcc_call_send(call, &lreq.base) == 0)
            grpcc_call_close_send(call);
    }
    if (call == NULL) {
        cli_say(_("this computer ran out of memory; close other programs "
                  "and try again."));
        rc = EXIT_FAIL;
        goto out;
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while ((rc = grpcc_call_recv(call,
                                 &dossier__v1__get_document_response__descriptor,
                                 &m, NULL)) == 1) {
        Dossier__V1__GetDocumentResponse *r =
            (Dossier__V1__GetDocumentResponse *)m;
        if (r->part_case == DOSSIER__V1__GET_DOCUMENT_RESPONSE__PART_META &&
            !have_meta) {
            have_meta = true;
            total = (uint64_t)r->meta->size;
            if (r->meta->sha256.len == 32) {
                memcpy(want, r->meta->sha256.data, 32);
                want_len = 32;
            }
            progress_start(&pr, _("Downloading"), total);
        } else if (r->part_case ==
                   DOSSIER__V1__GET_DOCUMENT_RESPONSE__PART_CHUNK) {
            const uint8_t *p = r->chunk.data;
            size_t n = r->chunk.len;
            EVP_DigestUpdate(md, p, n);
            while (n > 0 && ok) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    cli_say(_("cannot write %s (%s); free some disk space or "
                              "choose another -o FILE."),
                            outpath, strerror(errno));
                    ok = false;
                    break;
                }
                p += w;
                n -= (size_t)w;
            }
            progress_add(&pr, r->chunk.len);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (!ok)
            break;
    }
    if (!ok) {
        grpcc_call_finish(call, &st);
        progress_end(&pr, false);
        rc = EXIT_FAIL;
        goto out;
    }
    if (grpcc_call_finish(call, &st) != RPC_OK) {
        progress_end(&pr, false);
        rc = cli_status_report(cli, &st, what);
        goto out;
    }
    progress_end(&pr, true);
    EVP_DigestFinal_ex(md, got, NULL);
    if (want_len == 32 && memcmp(want, got, 32) != 0) {
        cli_say(_("the document arrived altered (its SHA-256 differs from "
                  "the one the dossier keeps); nothing was written; try "
                  "again and tell the operator if it persists."));
        rc = EXIT_FAIL;
        goto out;
    }
    if (!to_stdout) {
        if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, outpath) != 0) {
            cli_say(_("cannot write %s (%s); choose another -o FILE."),
                    outpath, strerror(errno));
            fd = -1;
            rc = EXIT_FAIL;
            goto out;
        }
        fd = -1;
        if (!cli->json) {
            char s[32];
            printf(_("Saved %s (%s).\n"), outpath,
                   size_human(total, s, sizeof(s)));
        }
    }
    if (cli->json && !to_stdout) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_kstr(&w, "file", outpath);
        jw_kint(&w, "size", (int64_t)total);
        jw_key(&w, "sha256");
        jw_hex(&w, got, 32);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    }
    rc = EXIT_OK;
out:
    if (!to_stdout && fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (!to_stdout && rc != EXIT_OK) {
        unlink(tmp);
    }
    EVP_MD_CTX_free(md);
    return rc;
}

int
cmd_documents_get(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"dossier", required_argument, NULL, 'd'},
        BASIS_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct basis_opts bo = {0};
    const char *out = NULL, *dossier = NULL;
    int c;

    while ((c = cli_getopt(argc, argv, "ho:d:", opts)) != -1) {
        if (basis_opt(c, &bo))
            continue;
        switch (c) {
        case 'h':
            return cli_help(_(help_get));
        case 'o':
            out = optarg;
            break;
        case 'd':
            dossier = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("documents get", _("give one document id"));
    if (out == NULL)
        return cli_usage_error("documents get",
                               _("say where to save it with -o FILE"));
    return get_run(cli, dossier, argv[optind], NULL, &bo, out);
}

int
cmd_agency_fetch(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"type", required_argument, NULL, 't'},
        BASIS_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct basis_opts bo = {0};
    const char *out = NULL, *type = NULL, *doc = NULL;
    int c;

    while ((c = cli_getopt(argc, argv, "ho:t:", opts)) != -1) {
        if (basis_opt(c, &bo))
            continue;
        switch (c) {
        case 'h':
            return cli_help(_(help_fetch));
        case 'o':
            out = optarg;
            break;
        case 't':
            type = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage_error("agency fetch", _("give the dossier id"));
    if (optind + 1 < argc)
        doc = argv[optind + 1];
    if ((doc == NULL) == (type == NULL) || optind + 2 < argc)
        return cli_usage_error("agency fetch",
                               _("give either a document id or --type TYPE"));
    if (bo.purpose == NULL || bo.case_ref == NULL)
        return cli_usage_error("agency fetch",
                               _("an agency states why it reads: give "
                                 "--purpose CODE and --case REF"));
    if (out == NULL)
        return cli_usage_error("agency fetch",
                               _("say where to save it with -o FILE"));
    return get_run(cli, argv[optind], doc, type, &bo, out);
}

/* --- put and deposit ------------------------------------------------------- */

static const char help_put[] = N_(
    "usage: dossier documents put FILE --type TYPE --issued DATE\n"
    "                             [--valid-until DATE] [--supersedes ID]\n"
    "                             [--media-type TYPE] [--dossier ID] [--json]\n"
    "\n"
    "Deposits FILE in the dossier as a document of the catalogue's TYPE\n"
    "(identite, justificatif-domicile, avis-imposition, rib...).  Dates are\n"
    "written 2026-12-03 or 03/12/2026.  --supersedes names the version it\n"
    "replaces.\n"
    "\n"
    "Example:\n"
    "  dossier documents put facture-edf.pdf --type justificatif-domicile \\\n"
    "      --issued 2026-11-20 --valid-until 2027-02-20\n");

static const char help_deposit[] = N_(
    "usage: dossier agency deposit DOSSIER-ID FILE --type TYPE --issued DATE\n"
    "                              [--valid-until DATE] [--supersedes ID]\n"
    "\n"
    "For an agency: deposits a document it issued (an attestation, a\n"
    "notice) in a person's dossier.\n"
    "\n"
    "Example:\n"
    "  dossier --as agency-caf-75 agency deposit d01HZX... attestation.pdf \\\n"
    "      --type attestation-paiement-caf --issued today --valid-until +90\n");

static const char *
media_guess(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL)
        return "application/octet-stream";
    if (strcasecmp(dot, ".pdf") == 0)
        return "application/pdf";
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
        return "image/jpeg";
    if (strcasecmp(dot, ".png") == 0)
        return "image/png";
    if (strcasecmp(dot, ".txt") == 0)
        return "text/plain";
    return "application/octet-stream";
}

static int
date_opt(const char *verb, const char *name, const char *s,
         Dossier__V1__Date *d)
{
    int y, m, dd;

    if (cli_date_parse(s, &y, &m, &dd) != 0) {
        cli_say(_("%s '%s' is not a date; write it as 2026-12-03 or "
                  "03/12/2026 (see \"dossier %s --help\")."),
                name, s, verb);
        return -1;
    }
    dossier__v1__date__init(d);
    d->year = y;
    d->month = m;
    d->day = dd;
    return 0;
}

static int
put_run(struct cli *cli, int argc, char **argv, bool agency)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"issued", required_argument, NULL, 'i'},
        {"valid-until", required_argument, NULL, 'u'},
        {"supersedes", required_argument, NULL, 's'},
        {"media-type", required_argument, NULL, 'm'},
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = agency ? "agency deposit" : "documents put";
    Dossier__V1__DocumentMeta meta = DOSSIER__V1__DOCUMENT_META__INIT;
    Dossier__V1__PutDocumentRequest req =
        DOSSIER__V1__PUT_DOCUMENT_REQUEST__INIT;
    Dossier__V1__Date issued, until;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    struct progress pr;
    ProtobufCMessage *m = NULL;
    const char *path;
    uint8_t *chunk = NULL;
    struct stat sb;
    int c, fd, rc, sent = 0;

    while ((c = cli_getopt(argc, argv, "ht:i:u:s:m:d:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(agency ? _(help_deposit) : _(help_put));
        case 't':
            meta.type = optarg;
            break;
        case 'i':
            if (date_opt(verb, "--issued", optarg, &issued) != 0)
                return EXIT_USAGE;
            meta.issued = &issued;
            break;
        case 'u':
            if (date_opt(verb, "--valid-until", optarg, &until) != 0)
                return EXIT_USAGE;
            meta.valid_until = &until;
            break;
        case 's':
            meta.supersedes = optarg;
            break;
        case 'm':
            meta.media_type = optarg;
            break;
        case 'd':
            meta.dossier_id = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (agency) {
        if (optind + 2 != argc)
            return cli_usage_error(verb, _("give the dossier id and the file"));
        meta.dossier_id = argv[optind++];
    } else if (optind + 1 != argc) {
        return cli_usage_error(verb, _("give one file to deposit"));
    }
    path = argv[optind];
    if (meta.type[0] == '\0')
        return cli_usage_error(verb, _("say what the document is with --type "
                                       "TYPE (e.g. justificatif-domicile)"));
    if (meta.issued == NULL)
        return cli_usage_error(verb, _("give the date it was issued with "
                                       "--issued DATE"));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0 ||
        !S_ISREG(sb.st_mode)) {
        cli_say(_("cannot read %s (%s); check the file name."), path,
                fd < 0 ? strerror(errno) : _("not a regular file"));
        if (fd >= 0)
            close(fd);
        return EXIT_USAGE;
    }
    {
        const char *base = strrchr(path, '/');
        meta.file_name = (char *)(base ? base + 1 : path);
    }
    if (meta.media_type[0] == '\0')
        meta.media_type = (char *)media_guess(path);
    meta.size = sb.st_size;
    if ((g = cli_conn(cli, &rc)) == NULL) {
        close(fd);
        return rc;
    }
    if ((call = grpcc_call_start(g, "/dossier.v1.Documents/Put", 0)) == NULL ||
        (chunk = malloc(CHUNK)) == NULL) {
        cli_say(_("this computer ran out of memory; close other programs "
                  "and try again."));
        close(fd);
        free(chunk);
        return EXIT_FAIL;
    }
    req.part_case = DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_META;
    req.meta = &meta;
    progress_start(&pr, _("Sending"), (uint64_t)sb.st_size);
    sent = grpcc_call_send(call, &req.base);
    while (sent == 0) {
        ssize_t n = read(fd, chunk, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_say(_("cannot read %s (%s); check the file."), path,
                    strerror(errno));
            close(fd);
            free(chunk);
            progress_end(&pr, false);
            grpcc_call_finish(call, &st);
            return EXIT_USAGE;
        }
        if (n == 0)
            break;
        req.part_case = DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_CHUNK;
        req.chunk.data = chunk;
        req.chunk.len = (size_t)n;
        sent = grpcc_call_send(call, &req.base);
        progress_add(&pr, (uint64_t)n);
    }
    close(fd);
    free(chunk);
    if (sent == 0)
        grpcc_call_close_send(call);
    rc = grpcc_call_recv(call, &dossier__v1__put_document_response__descriptor,
                         &m, NULL);
    if (grpcc_call_finish(call, &st) != RPC_OK || rc != 1) {
        progress_end(&pr, false);
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        if (st.code == RPC_OK) {
            st.code = RPC_INTERNAL;
            snprintf(st.message, sizeof(st.message), "no answer to the deposit");
        }
        return cli_status_report(cli, &st, _("the dossier"));
    }
    progress_end(&pr, true);
    {
        Dossier__V1__PutDocumentResponse *r =
            (Dossier__V1__PutDocumentResponse *)m;
        if (cli->json) {
            struct jw w;
            jw_init(&w);
            json_meta(&w, r->meta);
            jw_print(&w, stdout);
        } else {
            printf(_("Deposited %s as %s (document %s, version %d).\n"),
                   r->meta->file_name, doc_type_label(r->meta->type),
                   r->meta->document_id, r->meta->version);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return EXIT_OK;
}

int
cmd_documents_put(struct cli *cli, int argc, char **argv)
{
    return put_run(cli, argc, argv, false);
}

int
cmd_agency_deposit(struct cli *cli, int argc, char **argv)
{
    return put_run(cli, argc, argv, true);
}
