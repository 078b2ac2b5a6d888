/*
 * main.c -- dossierd: command line, start-up and shut-down.
 *
 * Reads the options, builds the server, registers the services and runs
 * the loop until a drain completes.  Everything else lives in its module.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "audit.h"
#include "catalog.h"
#include "err.h"
#include "keyring.h"
#include "log.h"
#include "retention.h"
#include "rotate.h"
#include "server.h"
#include "store.h"
#include "svc.h"
#include "svc_audit.h"
#include "svc_diag.h"
#include "svc_documents.h"
#include "svc_grants.h"
#include "svc_health.h"
#include "svc_persons.h"
#include "svc_reflection.h"
#include "vault.h"
#include "writer.h"

#ifndef CATALOG_DEFAULT
#define CATALOG_DEFAULT "packaging/pieces.tsv"
#endif

/* What the daemon keeps besides the server's own configuration. */
struct daemon_opts {
    char keys_dir[4096];     /* master-N.key, pepper.key */
    char keystore_dir[4096]; /* the DEK store (LMDB), default keys/keystore */
    char catalog[4096];      /* pieces.tsv */
    uint64_t map_size;       /* data store map size */
    uint64_t max_document;   /* largest document content */
    uint32_t audit_retention_days; /* 0: keep entry bodies forever */
};

/* Everything started, in start order; stopped in reverse. */
struct daemon {
    struct daemon_opts opts;
    struct keyring *keyring;
    /* Keyrings replaced by a reload: kept until the end, since a rotation
     * step or a queued operation may still read them. */
    struct keyring *retired[16];
    size_t nretired;
    struct store *data;
    struct store *keystore;
    struct catalog *catalog;
    struct writer *writer;
    struct vault *vault;
    struct rotate *rotate;
    struct audit *audit;
    struct retention *retention;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: dossierd [options]\n"
            "utilisation : dossierd [options]\n"
            "\n"
            "  --listen HOST:PORT     address to serve (default 127.0.0.1:7443)\n"
            "  --keys DIR             take server.crt, server.key and ca.crt "
            "from DIR\n"
            "  --cert FILE            server certificate chain (PEM)\n"
            "  --key FILE             server private key (PEM, mode 0600)\n"
            "  --ca FILE              CA of the client certificates (PEM)\n"
            "  --data DIR             data directory (LMDB)\n"
            "  --keystore DIR         data-key store (default KEYS/keystore)\n"
            "  --catalog FILE         document types (default " CATALOG_DEFAULT
            ")\n"
            "  --map-size BYTES       data store size limit (default 1 GiB)\n"
            "  --max-document BYTES   largest document (default 50 MiB)\n"
            "  --audit-retention DAYS empty audit entries older than this; "
            "their\n"
            "                         hashes stay (default 0: keep all)\n"
            "  --trust-domain NAME    SPIFFE trust domain (default "
            "dossier.test)\n"
            "  --max-message BYTES    largest gRPC message (default 4194304)\n"
            "  --drain-timeout MS     time given to calls on SIGTERM "
            "(default 10000)\n"
            "  --handshake-timeout MS time from accept to the HTTP/2 preface "
            "(default 10000)\n"
            "  --log-level LEVEL      error, warn, info or debug\n"
            "  --diag                 serve dossier.v1.Diag (transport "
            "checks)\n");
}

/* Copies |src| into the fixed-size |dst|; false if it does not fit. */
static bool
copy_opt(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool
parse_listen(const char *s, struct server_config *cfg)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;
    size_t hlen;

    if (colon == NULL || !parse_u64(colon + 1, &port) || port == 0 ||
        port > 65535)
        return false;
    hlen = (size_t)(colon - s);
    if (hlen > 1 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(cfg->listen_host))
        return false;
    memcpy(cfg->listen_host, s, hlen);
    cfg->listen_host[hlen] = '\0';
    cfg->listen_port = (int)port;
    return true;
}

static bool
keys_dir(struct server_config *cfg, const char *dir)
{
    return snprintf(cfg->cert_file, sizeof(cfg->cert_file), "%s/server.crt",
                    dir) < (int)sizeof(cfg->cert_file) &&
           snprintf(cfg->key_file, sizeof(cfg->key_file), "%s/server.key",
                    dir) < (int)sizeof(cfg->key_file) &&
           snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s/ca.crt", dir) <
               (int)sizeof(cfg->ca_file);
}

enum {
    OPT_LISTEN = 256,
    OPT_KEYS,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_DATA,
    OPT_TRUST,
    OPT_MAXMSG,
    OPT_DRAIN,
    OPT_HANDSHAKE,
    OPT_LOG,
    OPT_DIAG,
    OPT_KEYSTORE,
    OPT_CATALOG,
    OPT_MAPSIZE,
    OPT_MAXDOC,
    OPT_RETENTION,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"ca", required_argument, NULL, OPT_CA},
    {"data", required_argument, NULL, OPT_DATA},
    {"trust-domain", required_argument, NULL, OPT_TRUST},
    {"max-message", required_argument, NULL, OPT_MAXMSG},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"diag", no_argument, NULL, OPT_DIAG},
    {"keystore", required_argument, NULL, OPT_KEYSTORE},
    {"catalog", required_argument, NULL, OPT_CATALOG},
    {"map-size", required_argument, NULL, OPT_MAPSIZE},
    {"max-document", required_argument, NULL, OPT_MAXDOC},
    {"audit-retention", required_argument, NULL, OPT_RETENTION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int
parse_args(int argc, char **argv, struct server_config *cfg,
           struct daemon_opts *d)
{
    uint64_t v;
    int opt, lvl;
    bool ok;

    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            ok = parse_listen(optarg, cfg);
            break;
        case OPT_KEYS:
            ok = keys_dir(cfg, optarg) &&
                 copy_opt(d->keys_dir, sizeof(d->keys_dir), optarg);
            break;
        case OPT_KEYSTORE:
            ok = copy_opt(d->keystore_dir, sizeof(d->keystore_dir), optarg);
            break;
        case OPT_CATALOG:
            ok = copy_opt(d->catalog, sizeof(d->catalog), optarg);
            break;
        case OPT_MAPSIZE:
            ok = parse_u64(optarg, &v) && v >= (1u << 20) && v <= (1ull << 40);
            d->map_size = v;
            break;
        case OPT_RETENTION:
            ok = parse_u64(optarg, &v) && v <= 36500;
            d->audit_retention_days = (uint32_t)v;
            break;
        case OPT_MAXDOC:
            ok = parse_u64(optarg, &v) && v <= (1ull << 32);
            d->max_document = v;
            break;
        case OPT_CERT:
            ok = copy_opt(cfg->cert_file, sizeof(cfg->cert_file), optarg);
            break;
        case OPT_KEY:
            ok = copy_opt(cfg->key_file, sizeof(cfg->key_file), optarg);
            break;
        case OPT_CA:
            ok = copy_opt(cfg->ca_file, sizeof(cfg->ca_file), optarg);
            break;
        case OPT_DATA:
            ok = copy_opt(cfg->data_dir, sizeof(cfg->data_dir), optarg);
            break;
        case OPT_TRUST:
            ok = copy_opt(cfg->trust_domain, sizeof(cfg->trust_domain),
                          optarg);
            break;
        case OPT_MAXMSG:
            ok = parse_u64(optarg, &v) && v >= 1024 && v <= (1u << 30);
            cfg->max_message = (size_t)v;
            break;
        case OPT_DRAIN:
            ok = parse_u64(optarg, &v) && v <= 3600 * 1000;
            cfg->drain_timeout_ms = v;
            break;
        case OPT_HANDSHAKE:
            ok = parse_u64(optarg, &v) && v >= 100 && v <= 600 * 1000;
            cfg->handshake_timeout_ms = v;
            break;
        case OPT_LOG:
            ok = (lvl = log_level_parse(optarg)) >= 0;
            if (ok)
                log_set_level((enum log_level)lvl);
            break;
        case OPT_DIAG:
            cfg->diag = ok = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return ERR_CONFIG;
        }
        if (!ok) {
            fprintf(stderr,
                    "dossierd: bad value for --%s: %s\n"
                    "dossierd : valeur incorrecte pour --%s : %s\n",
                    long_opts[opt - OPT_LISTEN].name, optarg,
                    long_opts[opt - OPT_LISTEN].name, optarg);
            return ERR_CONFIG;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return ERR_CONFIG;
    }
    if (d->keys_dir[0] == '\0' || cfg->data_dir[0] == '\0') {
        fprintf(stderr, "dossierd: --keys DIR and --data DIR are required\n"
                        "dossierd : --keys DIR et --data DIR sont "
                        "obligatoires\n");
        return ERR_CONFIG;
    }
    if (d->keystore_dir[0] == '\0' &&
        snprintf(d->keystore_dir, sizeof(d->keystore_dir), "%s/keystore",
                 d->keys_dir) >= (int)sizeof(d->keystore_dir))
        return ERR_CONFIG;
    if (cfg->cert_file[0] == '\0' || cfg->key_file[0] == '\0' ||
        cfg->ca_file[0] == '\0') {
        fprintf(stderr, "dossierd: --keys DIR (or --cert, --key and --ca) is "
                        "required\n"
                        "dossierd : --keys DIR (ou --cert, --key et --ca) est "
                        "obligatoire\n");
        return ERR_CONFIG;
    }
    return 0;
}

/* SIGHUP: a new master key may have been added; re-wrap under it. */
static void
daemon_reload_keys(struct server *s, void *arg)
{
    struct daemon *d = arg;
    struct keyring *kr;

    if (d->nretired == sizeof(d->retired) / sizeof(d->retired[0])) {
        log_warnx("key reload refused: too many reloads since the start; "
                  "restart dossierd");
        return;
    }
    if (keyring_load(d->opts.keys_dir, &kr) != 0) {
        log_warnx("key reload failed, keeping the current keys");
        return;
    }
    vault_set_keyring(d->vault, kr);
    d->retired[d->nretired++] = d->keyring;
    d->keyring = kr;
    rotate_start(d->rotate, kr);
}

/* Opens the stores and the vault.  Returns 0 or an error, logged. */
static int
daemon_open(struct daemon *d, uv_loop_t *loop)
{
    int rc;

    if ((rc = keyring_load(d->opts.keys_dir, &d->keyring)) != 0 ||
        (rc = catalog_load(d->opts.catalog, &d->catalog)) != 0 ||
        (rc = store_open(d->opts.keystore_dir, 64u << 20, &d->keystore)) != 0)
        return rc;
    return 0;
}

static int
daemon_open_data(struct daemon *d, const char *data_dir, uv_loop_t *loop)
{
    int rc;

    char key_file[4200], checkpoint_file[4200];

    snprintf(key_file, sizeof(key_file), "%s/" AUDIT_KEY_FILE,
             d->opts.keys_dir);
    snprintf(checkpoint_file, sizeof(checkpoint_file),
             "%s/" AUDIT_CHECKPOINT_FILE, d->opts.keys_dir);
    if ((rc = store_open(data_dir, d->opts.map_size, &d->data)) != 0 ||
        (rc = writer_new(d->data, loop, &d->writer)) != 0 ||
        /* Fail closed: without a usable log and key, no start. */
        (rc = audit_open(d->data, d->writer, key_file, checkpoint_file,
                         &d->audit)) != 0 ||
        (rc = vault_open(d->data, d->keystore, d->writer, d->keyring,
                         d->catalog, d->opts.max_document, &d->vault)) != 0)
        return rc;
    if ((d->rotate = rotate_new(d->writer, d->vault)) == NULL)
        return -ENOMEM;
    /* A rotation interrupted by a stop resumes here. */
    rotate_start(d->rotate, d->keyring);
    d->retention = retention_start(loop, d->writer, d->audit,
                                   d->opts.audit_retention_days);
    return 0;
}

static void
daemon_close(struct daemon *d, uv_loop_t *loop)
{
    rotate_free(d->rotate);
    retention_stop(d->retention);
    if (d->writer != NULL)
        writer_free(d->writer); /* lets queued writes commit */
    uv_run(loop, UV_RUN_NOWAIT);
    audit_close(d->audit);
    vault_close(d->vault);
    store_close(d->data);
    store_close(d->keystore);
    catalog_free(d->catalog);
    keyring_free(d->keyring);
    for (size_t i = 0; i < d->nretired; i++)
        keyring_free(d->retired[i]);
}

int
main(int argc, char **argv)
{
    struct server_config cfg;
    struct daemon d;
    struct svc_ctx ctx;
    struct server *s = NULL;
    uv_loop_t loop;
    int rc;

    server_config_defaults(&cfg);
    memset(&d, 0, sizeof(d));
    snprintf(d.opts.catalog, sizeof(d.opts.catalog), "%s", CATALOG_DEFAULT);
    d.opts.map_size = STORE_MAP_SIZE_DEFAULT;
    d.opts.max_document = SVC_MAX_DOCUMENT_DEFAULT;
    if (parse_args(argc, argv, &cfg, &d.opts) != 0)
        return 2;
    /* A peer closing its socket must not kill us while we write. */
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0)
        fatalx("cannot create the event loop");
    if ((rc = daemon_open(&d, &loop)) != 0 ||
        (rc = daemon_open_data(&d, cfg.data_dir, &loop)) != 0 ||
        (s = server_new(&loop, &cfg, &rc)) == NULL) {
        fprintf(stderr, "dossierd: cannot start: %s (see the log above)\n"
                        "dossierd : démarrage impossible : %s (voir le "
                        "journal ci-dessus)\n",
                err_str(rc), err_str(rc));
        daemon_close(&d, &loop);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 1;
    }
    ctx.vault = d.vault;
    ctx.catalog = d.catalog;
    ctx.audit = d.audit;
    ctx.max_document = d.opts.max_document;
    if ((rc = svc_health_register(s)) != 0 ||
        (rc = svc_reflection_register(s)) != 0 ||
        (rc = svc_diag_register(s)) != 0 ||
        (rc = svc_persons_register(s, &ctx)) != 0 ||
        (rc = svc_documents_register(s, &ctx)) != 0 ||
        (rc = svc_audit_register(s, d.audit, d.data, d.vault)) != 0 ||
        (rc = svc_grants_register(s, &ctx, d.opts.keys_dir)) != 0 ||
        (rc = server_on_reload(s, daemon_reload_keys, &d)) != 0) {
        log_warnx("cannot register services: %s", err_str(rc));
        server_free(s);
        daemon_close(&d, &loop);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 1;
    }
    rc = server_run(s);
    server_free(s);
    daemon_close(&d, &loop);
    /* Every handle is closed by now; let their close callbacks run. */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        log_warnx("event loop closed with handles still open");
    return rc == 0 ? 0 : 1;
}
