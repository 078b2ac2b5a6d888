/*
 * cmd_audit.c -- the auditor's `dossier audit query|checkpoint|verify`.
 *
 * query reads the log through Audit.Query with filters, as a table, JSON,
 * or saved raw (--save: each entry with its 5-byte gRPC prefix, exactly
 * the bytes the daemon hashed) for `audit verify`.  checkpoint takes a
 * signed checkpoint (Audit.GetCheckpoint) and keeps it: with --keep DIR,
 * the new one must extend the newest one kept there, proved by
 * Audit.ConsistencyProof and checked here (merkle.h), so a log that
 * shrank or forked between two visits is caught.  verify is the offline
 * verifier (audit_verify.c).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dossier/v1/audit.pb-c.h"

#include "audit_verify.h"
#include "cmds.h"
#include "err.h"
#include "merkle.h"
#include "output.h"
#include "rpc.h"

static const char help_query[] = N_(
    "usage: dossier audit query [--dossier ID] [--agency NAME]\n"
    "           [--from DATE] [--until DATE] [--action ACTION]\n"
    "           [--outcome granted|denied|error] [--start N] [--limit N]\n"
    "           [--save FILE] [--json]\n"
    "\n"
    "Reads the audit log (an auditor reads all of it; a person, the entries\n"
    "of their dossier; an agency, its own).  ACTION is a call such as\n"
    "Documents.Get.  --save writes the entries as received, for \"dossier\n"
    "audit verify\".\n"
    "\n"
    "Example:\n"
    "  dossier --as auditor-cnil-demo audit query --outcome denied\n"
    "  dossier --as auditor-cnil-demo audit query --save log.bin\n");

static const char help_checkpoint[] = N_(
    "usage: dossier audit checkpoint [-o FILE] [--keep DIR] [--json]\n"
    "\n"
    "Takes a checkpoint signed by the daemon (size and root of the log).\n"
    "-o saves it; --keep DIR keeps it in DIR and first checks, with a\n"
    "consistency proof, that it extends the newest checkpoint kept there:\n"
    "a log that shrank or was rewritten is refused.\n"
    "\n"
    "Example:\n"
    "  dossier --as auditor-cnil-demo audit checkpoint --keep ~/checkpoints\n");

static const char help_verify[] = N_(
    "usage: dossier audit verify --entries FILE --checkpoint FILE\n"
    "           [--checkpoint FILE2] --pub audit.pub [--from N]\n"
    "\n"
    "Checks offline, trusting nothing from the daemon, a segment of the log\n"
    "saved by \"audit query --save\" (entry N first, default 0) against one\n"
    "or two checkpoints (the older first): their Ed25519 signatures with\n"
    "the public key audit.pub, each entry's index, the Merkle root of every\n"
    "checkpoint the segment covers, and that the second extends the first.\n"
    "Exit status 0: everything verifies; 1: something does not.\n"
    "\n"
    "Example:\n"
    "  dossier audit verify --entries log.bin --checkpoint cp.pb \\\n"
    "      --pub keys/dev/audit.pub\n");

static const char *
time_ms(struct cli *cli, int64_t ms, char *out, size_t n)
{
    return cli_time_short(cli->french, ms / 1000, out, n);
}

void
audit_entry_json(struct jw *w, const Dossier__V1__AuditEntry *e);

void
audit_entry_json(struct jw *w, const Dossier__V1__AuditEntry *e)
{
    char iso[40];

    jw_obj(w);
    jw_kint(w, "index", (int64_t)e->index);
    jw_kint(w, "time_unix_ms", e->time_unix_ms);
    jw_kstr(w, "time", cli_time_iso(e->time_unix_ms / 1000, iso, sizeof(iso)));
    jw_kstr(w, "principal", e->principal);
    jw_kstr(w, "on_behalf_of", e->on_behalf_of);
    jw_kstr(w, "action", e->action);
    jw_kstr(w, "dossier_id", e->dossier_id);
    jw_kstr(w, "object_id", e->object_id);
    jw_kstr(w, "basis", e->basis);
    jw_kstr(w, "purpose_code", e->purpose_code);
    jw_kstr(w, "case_reference", e->case_reference);
    jw_kstr(w, "outcome", e->outcome);
    jw_kstr(w, "reason", e->reason);
    jw_obj_end(w);
}

int
cmd_audit_query(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dossier", required_argument, NULL, 'd'},
        {"agency", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'F'},
        {"until", required_argument, NULL, 'U'},
        {"action", required_argument, NULL, 'A'},
        {"outcome", required_argument, NULL, 'O'},
        {"start", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"save", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "audit query";
    Dossier__V1__QueryAuditRequest req = DOSSIER__V1__QUERY_AUDIT_REQUEST__INIT;
    const char *save = NULL, *agency = NULL;
    char agency_uri[300];
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    ProtobufCMessage *m;
    struct table t;
    struct jw w;
    struct buf raw;
    FILE *sf = NULL;
    int c, rc, y, mo, d;
    uint64_t n = 0;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            return cli_help(_(help_query));
        case 'd':
            req.dossier_id = optarg;
            break;
        case 'a':
            agency = optarg;
            break;
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
        case 'A':
            req.action = optarg;
            break;
        case 'O':
            if (strcmp(optarg, "granted") != 0 &&
                strcmp(optarg, "denied") != 0 && strcmp(optarg, "error") != 0)
                return cli_usage_error(verb, _("--outcome is granted, denied "
                                               "or error"));
            req.outcome = optarg;
            break;
        case 's':
            req.start_index = strtoull(optarg, &end, 10);
            if (*end != '\0' || optarg[0] < '0' || optarg[0] > '9')
                return cli_usage_error(verb, _("--start takes an entry "
                                               "index from 0"));
            break;
        case 'l': {
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 1000000)
                return cli_usage_error(verb, _("--limit takes a number from "
                                               "1"));
            req.limit = (uint32_t)v;
            break;
        }
        case 'S':
            save = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if (agency != NULL) {
        if (cli_identity(cli) != EXIT_OK)
            return EXIT_CONFIG;
        if (cli_principal_uri(cli, "agency", agency, agency_uri,
                              sizeof(agency_uri)) != 0)
            return cli_usage_error(verb, _("'%s' is not an agency name "
                                           "(e.g. agency-cpam-69)"),
                                   agency);
        req.agency = agency_uri;
    }
    if ((g = cli_conn(cli, &rc)) == NULL)
        return rc;
    if (save != NULL && (sf = fopen(save, "wb")) == NULL) {
        cli_say(_("cannot write %s (%s); choose another --save FILE."), save,
                strerror(errno));
        return EXIT_USAGE;
    }
    if ((call = grpcc_call_start(g, "/dossier.v1.Audit/Query", 0)) == NULL) {
        if (sf != NULL)
            fclose(sf);
        return EXIT_FAIL;
    }
    if (grpcc_call_send(call, &req.base) == 0)
        grpcc_call_close_send(call);
    {
        const char *head[] = {"#",          _("TIME"),    _("WHO"),
                              _("ACTION"),  _("DOSSIER"), _("OBJECT"),
                              _("OUTCOME"), _("PURPOSE")};
        table_init(&t, 8, head);
    }
    jw_init(&w);
    jw_arr(&w);
    buf_init(&raw);
    while (grpcc_call_recv(call, &dossier__v1__audit_entry__descriptor, &m,
                           sf != NULL ? &raw : NULL) == 1) {
        Dossier__V1__AuditEntry *e = (Dossier__V1__AuditEntry *)m;
        if (sf != NULL) {
            uint8_t pfx[RPC_PREFIX_LEN];
            rpc_prefix_encode(pfx, (uint32_t)buf_size(&raw));
            fwrite(pfx, 1, sizeof(pfx), sf);
            fwrite(buf_peek(&raw), 1, buf_size(&raw), sf);
            buf_reset(&raw);
        }
        if (cli->json) {
            audit_entry_json(&w, e);
        } else if (sf == NULL) {
            char idx[24], tm[40], who[200];
            snprintf(idx, sizeof(idx), "%" PRIu64, e->index);
            const char *row[] = {
                idx,
                time_ms(cli, e->time_unix_ms, tm, sizeof(tm)),
                cli_principal_label(e->principal, who, sizeof(who)),
                e->action,
                e->dossier_id,
                e->object_id,
                e->outcome,
                e->purpose_code};
            table_row(&t, row);
        }
        n++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    buf_free(&raw);
    jw_arr_end(&w);
    rc = grpcc_call_finish(call, &st);
    if (sf != NULL && fclose(sf) != 0 && rc == RPC_OK) {
        cli_say(_("cannot write %s (%s); choose another --save FILE."), save,
                strerror(errno));
        table_print(&t, stdout, NULL);
        buf_free(&w.b);
        return EXIT_FAIL;
    }
    if (rc != RPC_OK) {
        t.rows = 0;
        table_print(&t, stdout, NULL);
        buf_free(&w.b);
        return cli_status_report(cli, &st, NULL);
    }
    if (cli->json) {
        jw_print(&w, stdout);
        t.rows = 0;
        table_print(&t, stdout, NULL);
    } else {
        buf_free(&w.b);
        if (sf != NULL)
            printf(_("%" PRIu64 " entries saved to %s.\n"), n, save);
        else
            table_print(&t, stdout, _("No entry."));
    }
    return EXIT_OK;
}

/* --- checkpoints ----------------------------------------------------------- */

/* The newest checkpoint-<size>.pb in |dir|: its size in |*size| and path
 * in |path|.  Returns 1 if there is one, 0 if none, -1 on error. */
static int
kept_newest(const char *dir, uint64_t *size, char *path, size_t pathsz)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d)) != NULL) {
        unsigned long long s;
        char tail[8];
        if (sscanf(de->d_name, "checkpoint-%llu.p%2s", &s, tail) != 2 ||
            strcmp(tail, "b") != 0)
            continue;
        if (!found || s > *size) {
            *size = s;
            snprintf(path, pathsz, "%s/%s", dir, de->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static int
file_read(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    uint8_t tmp[4096];
    size_t n;

    if (f == NULL)
        return -1;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(b, tmp, n);
    fclose(f);
    return 0;
}

static int
file_write(const char *path, const struct buf *b)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    if (fwrite(buf_peek(b), 1, buf_size(b), f) != buf_size(b)) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    out[2 * n] = '\0';
}

int
cmd_audit_checkpoint(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"keep", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "audit checkpoint";
    Dossier__V1__GetCheckpointRequest req =
        DOSSIER__V1__GET_CHECKPOINT_REQUEST__INIT;
    Dossier__V1__Checkpoint *cp = NULL, *old = NULL;
    const char *out = NULL, *keep = NULL;
    struct grpcc_status st;
    struct grpcc_call *call;
    struct grpcc *g;
    struct buf raw, oldraw;
    char oldpath[1200] = "", newpath[1200], root[65], tm[64];
    uint64_t oldsize = 0;
    int c, rc, verified = -1; /* -1 nothing to check, 1 ok */

    while ((c = cli_getopt(argc, argv, "ho:", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_checkpoint));
        case 'o':
            out = optarg;
            break;
        case 'k':
            keep = optarg;
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
    buf_init(&raw);
    buf_init(&oldraw);
    if ((call = grpcc_call_start(g, "/dossier.v1.Audit/GetCheckpoint",
                                 cli->set.timeout_ms)) == NULL)
        return EXIT_FAIL;
    if (grpcc_call_send(call, &req.base) == 0)
        grpcc_call_close_send(call);
    grpcc_call_recv(call, &dossier__v1__checkpoint__descriptor,
                    (ProtobufCMessage **)&cp, &raw);
    if (grpcc_call_finish(call, &st) != RPC_OK || cp == NULL) {
        if (cp != NULL)
            protobuf_c_message_free_unpacked(&cp->base, NULL);
        buf_free(&raw);
        if (st.code == RPC_OK)
            st.code = RPC_INTERNAL;
        return cli_status_report(cli, &st, NULL);
    }
    rc = EXIT_OK;
    if (keep != NULL) {
        if (mkdir(keep, 0700) != 0 && errno != EEXIST) {
            cli_say(_("cannot make the directory %s (%s); choose another "
                      "--keep DIR."),
                    keep, strerror(errno));
            rc = EXIT_USAGE;
            goto out;
        }
        int k = kept_newest(keep, &oldsize, oldpath, sizeof(oldpath));
        if (k < 0) {
            cli_say(_("cannot read the directory %s (%s); choose another "
                      "--keep DIR."),
                    keep, strerror(errno));
            rc = EXIT_USAGE;
            goto out;
        }
        if (k == 1) {
            if (file_read(oldpath, &oldraw) != 0 ||
                (old = dossier__v1__checkpoint__unpack(
                     NULL, buf_size(&oldraw), buf_peek(&oldraw))) == NULL ||
                old->root_hash.len != MERKLE_HASH_LEN ||
                cp->root_hash.len != MERKLE_HASH_LEN) {
                cli_say(_("the kept checkpoint %s cannot be read; move it "
                          "away and keep a new one."),
                        oldpath);
                rc = EXIT_FAIL;
                goto out;
            }
            if (cp->tree_size < old->tree_size) {
                cli_say(_("ALERT: the log shrank: it now has %" PRIu64
                          " entries, fewer than the %" PRIu64
                          " of the checkpoint kept in %s; entries were "
                          "removed: report it to the data protection "
                          "officer."),
                        cp->tree_size, old->tree_size, oldpath);
                rc = EXIT_FAIL;
                goto out;
            }
            if (cp->tree_size == old->tree_size || old->tree_size == 0) {
                verified = (cp->tree_size != old->tree_size ||
                            memcmp(cp->root_hash.data, old->root_hash.data,
                                   MERKLE_HASH_LEN) == 0)
                               ? 1
                               : 0;
            } else {
                Dossier__V1__ConsistencyProofRequest preq =
                    DOSSIER__V1__CONSISTENCY_PROOF_REQUEST__INIT;
                Dossier__V1__ConsistencyProofResponse *pr = NULL;
                uint8_t(*path)[MERKLE_HASH_LEN];
                preq.old_size = old->tree_size;
                preq.new_size = cp->tree_size;
                rc = cli_unary(
                    cli, "/dossier.v1.Audit/ConsistencyProof", &preq.base,
                    &dossier__v1__consistency_proof_response__descriptor,
                    (ProtobufCMessage **)&pr, NULL);
                if (rc != EXIT_OK)
                    goto out;
                path = calloc(pr->n_path + 1, MERKLE_HASH_LEN);
                verified = 1;
                for (size_t i = 0; i < pr->n_path; i++) {
                    if (pr->path[i].len != MERKLE_HASH_LEN)
                        verified = 0;
                    else
                        memcpy(path[i], pr->path[i].data, MERKLE_HASH_LEN);
                }
                if (verified == 1 &&
                    merkle_consistency_verify(
                        old->tree_size, cp->tree_size, old->root_hash.data,
                        cp->root_hash.data,
                        (const uint8_t(*)[MERKLE_HASH_LEN])path,
                        pr->n_path) != 0)
                    verified = 0;
                free(path);
                protobuf_c_message_free_unpacked(&pr->base, NULL);
            }
            if (verified == 0) {
                cli_say(_("ALERT: the log was rewritten: the new checkpoint "
                          "(%" PRIu64 " entries) does not extend the one "
                          "kept in %s; report it to the data protection "
                          "officer."),
                        cp->tree_size, oldpath);
                rc = EXIT_FAIL;
                goto out;
            }
        }
        snprintf(newpath, sizeof(newpath), "%s/checkpoint-%" PRIu64 ".pb",
                 keep, cp->tree_size);
        if (file_write(newpath, &raw) != 0) {
            cli_say(_("cannot write %s (%s); choose another --keep DIR."),
                    newpath, strerror(errno));
            rc = EXIT_FAIL;
            goto out;
        }
    }
    if (out != NULL && file_write(out, &raw) != 0) {
        cli_say(_("cannot write %s (%s); choose another -o FILE."), out,
                strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    hex(cp->root_hash.data,
        cp->root_hash.len < 32 ? cp->root_hash.len : 32, root);
    if (cli->json) {
        struct jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_kint(&w, "tree_size", (int64_t)cp->tree_size);
        jw_kstr(&w, "root_hash", root);
        jw_kint(&w, "time_unix_ms", cp->time_unix_ms);
        jw_key(&w, "key_id");
        jw_hex(&w, cp->key_id.data, cp->key_id.len);
        if (keep != NULL) {
            jw_kstr(&w, "kept", newpath);
            jw_kint(&w, "previous_size", oldpath[0] ? (int64_t)oldsize : -1);
            jw_kbool(&w, "extends_previous", verified == 1);
        }
        jw_obj_end(&w);
        jw_print(&w, stdout);
    } else {
        printf(_("Checkpoint: %" PRIu64 " entries, root %s, signed %s.\n"),
               cp->tree_size, root,
               cli_time_long(cli->french, cp->time_unix_ms / 1000, tm,
                             sizeof(tm)));
        if (keep != NULL && oldpath[0])
            printf(_("It extends the checkpoint kept before (%" PRIu64
                     " entries): verified with a consistency proof.\n"),
                   oldsize);
        if (keep != NULL)
            printf(_("Kept in %s.\n"), newpath);
        if (out != NULL)
            printf(_("Saved to %s.\n"), out);
    }
out:
    if (old != NULL)
        dossier__v1__checkpoint__free_unpacked(old, NULL);
    protobuf_c_message_free_unpacked(&cp->base, NULL);
    buf_free(&raw);
    buf_free(&oldraw);
    return rc;
}

/* --- verify ---------------------------------------------------------------- */

int
cmd_audit_verify(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"entries", required_argument, NULL, 'e'},
        {"checkpoint", required_argument, NULL, 'c'},
        {"pub", required_argument, NULL, 'p'},
        {"from", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = "audit verify";
    struct audit_verify_args a = {.french = cli->french, .out = stdout};
    bool from_seen = false;
    int c, rc;

    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(_(help_verify));
        case 'e':
        case 'p': {
            const char **p = c == 'e' ? &a.entries : &a.pub;
            const char *name = c == 'e' ? "--entries" : "--pub";
            if (*p != NULL)
                return cli_usage_error(verb, _("%s given twice"), name);
            if (*optarg == '\0')
                return cli_usage_error(verb, _("%s needs a file"), name);
            *p = optarg;
            break;
        }
        case 'c':
            if (a.n_checkpoints == AUDIT_VERIFY_CHECKPOINTS_MAX)
                return cli_usage_error(verb, _("at most %d --checkpoint (the "
                                               "older, then the newer)"),
                                       AUDIT_VERIFY_CHECKPOINTS_MAX);
            if (*optarg == '\0')
                return cli_usage_error(verb, _("%s needs a file"),
                                       "--checkpoint");
            a.checkpoints[a.n_checkpoints++] = optarg;
            break;
        case 'f': {
            char *end;
            if (from_seen)
                return cli_usage_error(verb, _("%s given twice"), "--from");
            from_seen = true;
            errno = 0;
            a.from = strtoull(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
                errno != 0)
                return cli_usage_error(verb, _("invalid --from '%s': the "
                                               "index of the segment's first "
                                               "entry, a whole number from 0"),
                                       optarg);
            break;
        }
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(verb, _("unexpected argument '%s'"),
                               argv[optind]);
    if (a.entries == NULL || a.n_checkpoints == 0 || a.pub == NULL)
        return cli_usage_error(verb, _("audit verify needs --%s"),
                               a.entries == NULL       ? "entries"
                               : a.n_checkpoints == 0 ? "checkpoint"
                                                      : "pub");
    rc = audit_verify_run(&a);
    fflush(stdout);
    if (rc == 0)
        return EXIT_OK;
    if (rc == ERR_CORRUPT)
        return EXIT_FAIL;
    /* No verdict: audit_verify_run said why. */
    return EXIT_USAGE;
}
