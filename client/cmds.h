/*
 * cmds.h -- the subcommands of `dossier`, one file per job:
 *
 *   cmd_documents.c  documents list / show / get / put (and the agency's
 *                    deposit and fetch, which are the same calls)
 *   cmd_consents.c   consents grant / revoke / list
 *   cmd_mandates.c   mandates grant / revoke / list
 *   cmd_situation.c  situation show / update / declare (a life event)
 *   cmd_history.c    history: who saw my dossier (table, JSON, --html)
 *   history_html.c   the self-contained HTML page of the history
 *   cmd_lifecycle.c  enrol, export, erase
 *   cmd_agency.c     agency find / consents; events watch
 *   cmd_audit.c      audit query / checkpoint / verify
 *   cmd_revoke.c     what consents revoke and mandates revoke share
 *
 * Each takes the run's context and its own arguments (argv[0] is the
 * verb, for getopt) and returns the exit status (cli.h).
 */
#ifndef DOSSIER_CMDS_H
#define DOSSIER_CMDS_H

#include "cli.h"

typedef int cmd_fn(struct cli *cli, int argc, char **argv);

cmd_fn cmd_documents_list, cmd_documents_show, cmd_documents_get,
    cmd_documents_put, cmd_agency_deposit, cmd_agency_fetch;
cmd_fn cmd_consents_grant, cmd_consents_revoke, cmd_consents_list;
cmd_fn cmd_mandates_grant, cmd_mandates_revoke, cmd_mandates_list;
cmd_fn cmd_situation_show, cmd_situation_update, cmd_situation_declare;
cmd_fn cmd_history;
cmd_fn cmd_enrol, cmd_export, cmd_erase;
cmd_fn cmd_agency_find, cmd_agency_consents, cmd_events_watch;
cmd_fn cmd_audit_query, cmd_audit_checkpoint, cmd_audit_verify;

/* The name of a document type in the person's words, from the
 * catalogue's code ("avis-imposition" -> "Avis d'imposition" /
 * "Tax notice"); the code itself when unknown. */
const char *doc_type_label(const char *code);

/* Lists consents: those of a dossier (the person's own when |dossier| is
 * NULL), or, with |held|, those an agency holds.  Returns the exit
 * status. */
int consents_list_run(struct cli *cli, const char *dossier, bool all,
                      bool held);

/* What tells "consents revoke" from "mandates revoke" (revoke_run). */
struct revoke_cmd {
    const char *verb;     /* "consents revoke", for usage errors */
    const char *help;     /* translated help text */
    const char *need_one; /* translated "give one consent id" */
    const char *what;     /* translated "consent %s" (the id), for reports */
    const char *path;     /* "/dossier.v1.Consents/Revoke" */
    const ProtobufCMessageDescriptor *resp;
    const char *json_key; /* "consent_id" */
};

/*
 * Parses [--dossier ID] ID into the caller's request |req| (through
 * |dossier_id| and |id|, which point into it; the strings into argv),
 * calls r->path, and with --json prints {"<json_key>": ID, "revoked":
 * true}.  Returns EXIT_OK once revoked (the caller then says so in words
 * unless cli->json), or the exit status after the report.
 */
int revoke_run(struct cli *cli, int argc, char **argv,
               const struct revoke_cmd *r, ProtobufCMessage *req,
               char **dossier_id, char **id);

/* A situation as a JSON value (null when |s| is NULL). */
struct jw;
struct Dossier__V1__Situation;
void situation_json(struct jw *w, const struct Dossier__V1__Situation *s);

/*
 * The Basis options shared by reads (--purpose CODE, --case REF,
 * --consent ID): parsed into |b| (strings point into argv).
 */
struct basis_opts {
    const char *purpose, *case_ref, *consent;
};

#endif
