/*
 * cmd_revoke.c -- what "consents revoke" and "mandates revoke" share:
 * one id and an optional --dossier, one unary call, the JSON answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmds.h"
#include "output.h"

int
revoke_run(struct cli *cli, int argc, char **argv, const struct revoke_cmd *r,
           ProtobufCMessage *req, char **dossier_id, char **id)
{
    static const struct option opts[] = {
        {"dossier", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ProtobufCMessage *resp = NULL;
    char what[160];
    int c, rc;

    while ((c = cli_getopt(argc, argv, "hd:", opts)) != -1) {
        if (c == 'h')
            return cli_help(r->help);
        if (c != 'd')
            return EXIT_USAGE;
        *dossier_id = optarg;
    }
    if (optind + 1 != argc)
        return cli_usage_error(r->verb, "%s", r->need_one);
    *id = argv[optind];
    snprintf(what, sizeof(what), r->what, *id);
    rc = cli_unary(cli, r->path, req, r->resp, &resp, what);
    if (rc != EXIT_OK)
        return rc;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (cli->json) {
        struct jw w;

        jw_init(&w);
        jw_obj(&w);
        jw_kstr(&w, r->json_key, *id);
        jw_kbool(&w, "revoked", true);
        jw_obj_end(&w);
        jw_print(&w, stdout);
    }
    return EXIT_OK;
}
