/*
 * main.c -- dossierd: command line, start-up and shut-down.
 *
 * Reads the options (config.c: the file, then the command line), builds the server, registers the services and runs
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
#include "config.h"
#include "err.h"
#include "keyring.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "events.h"
#include "retention.h"
#include "rotate.h"
#include "server.h"
#include "store.h"
#include "svc.h"
#include "svc_audit.h"
#include "svc_diag.h"
#include "svc_documents.h"
#include "svc_events.h"
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
    char metrics_host[64];         /* "": no metrics endpoint */
    int metrics_port;
    struct events_config events;   /* event log retention */
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
    struct metrics_http *metrics;
    struct events *events;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: dossierd [--config FILE] [--check-config] [options]\n"
            "utilisation : dossierd [--config FICHIER] [--check-config] "
            "[options]\n"
            "\n"
            "  --config FILE          read the options from FILE "
            "(dossierd.conf(5));\n"
            "                         the options below override it\n"
            "  --check-config         check the configuration, print each "
            "error as\n"
            "                         FILE:LINE: reason, and exit (0: valid)\n"
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
            "  --map-size BYTES       data store size limit (default 1G)\n"
            "  --max-document BYTES   largest document (default 50M)\n"
            "  --audit-retention DAYS empty audit entries older than this; "
            "their\n"
            "                         hashes stay (default 0: keep all)\n"
            "  --event-retention DAYS keep change events this long (default "
            "30)\n"
            "  --event-max N          keep at most N change events (default "
            "1000000)\n"
            "  --trust-domain NAME    SPIFFE trust domain (default "
            "dossier.test)\n"
            "  --max-message BYTES    largest gRPC message (default 4M)\n"
            "  --max-streams N        concurrent calls per connection "
            "(default 100)\n"
            "  --max-connections N    open connections (default 20000)\n"
            "  --max-header-list BYTES request headers (default 16K)\n"
            "  --drain-timeout MS     time given to calls on SIGTERM "
            "(default 10000)\n"
            "  --handshake-timeout MS time from accept to the HTTP/2 preface "
            "(default 10000)\n"
            "  --log-level LEVEL      error, warn, info or debug\n"
            "  --diag                 serve dossier.v1.Diag (transport "
            "checks)\n"
            "  --metrics-listen HOST:PORT  Prometheus metrics over plain "
            "HTTP on this\n"
            "                         loopback address (default: off)\n"
            "BYTES take a K, M or G suffix.  See dossierd(8).\n");
}

enum { OPT_SET = 256, OPT_CONFIG, OPT_CHECK, OPT_HELP };

/* Every option of config.c's table, by its command-line name. */
static const struct option long_opts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, OPT_HELP},
    {"listen", required_argument, NULL, OPT_SET},
    {"trust-domain", required_argument, NULL, OPT_SET},
    {"diag", no_argument, NULL, OPT_SET},
    {"keys", required_argument, NULL, OPT_SET},
    {"cert", required_argument, NULL, OPT_SET},
    {"key", required_argument, NULL, OPT_SET},
    {"ca", required_argument, NULL, OPT_SET},
    {"data", required_argument, NULL, OPT_SET},
    {"keystore", required_argument, NULL, OPT_SET},
    {"catalog", required_argument, NULL, OPT_SET},
    {"map-size", required_argument, NULL, OPT_SET},
    {"max-document", required_argument, NULL, OPT_SET},
    {"max-message", required_argument, NULL, OPT_SET},
    {"max-streams", required_argument, NULL, OPT_SET},
    {"max-connections", required_argument, NULL, OPT_SET},
    {"max-header-list", required_argument, NULL, OPT_SET},
    {"handshake-timeout", required_argument, NULL, OPT_SET},
    {"drain-timeout", required_argument, NULL, OPT_SET},
    {"audit-retention", required_argument, NULL, OPT_SET},
    {"event-retention", required_argument, NULL, OPT_SET},
    {"event-max", required_argument, NULL, OPT_SET},
    {"log-level", required_argument, NULL, OPT_SET},
    {"metrics-listen", required_argument, NULL, OPT_SET},
    {NULL, 0, NULL, 0},
};

/* Prints every error of a configuration file as FILE:LINE: reason. */
static void
print_config_errors(const char *path, const struct config_errors *errs)
{
    size_t i, kept = errs->count < CONFIG_MAX_ERRORS ? errs->count
                                                     : CONFIG_MAX_ERRORS;

    for (i = 0; i < kept; i++) {
        if (errs->list[i].line == 0)
            fprintf(stderr, "%s: %s\n", path, errs->list[i].reason);
        else
            fprintf(stderr, "%s:%u: %s\n", path, errs->list[i].line,
                    errs->list[i].reason);
    }
    if (errs->count > kept)
        fprintf(stderr, "%s: %zu more errors / %zu autres erreurs\n", path,
                errs->count - kept, errs->count - kept);
}

/*
 * Builds |c| from the defaults, the file given by --config and the other
 * options, in that order (the command line overrides the file).  Sets
 * |*check| for --check-config.  Returns 0 or ERR_CONFIG, the errors
 * printed.
 */
static int
parse_args(int argc, char **argv, struct config *c, bool *check)
{
    struct config_errors errs;
    const char *file = NULL;
    char reason[256];
    int opt, idx, rc = 0;

    /* First pass: only --config, --check-config and --help. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", long_opts, &idx)) != -1) {
        if (opt == OPT_CONFIG)
            file = optarg;
        else if (opt == OPT_CHECK)
            *check = true;
        else if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
    }
    if (file != NULL && config_load(file, c, &errs) != 0) {
        print_config_errors(file, &errs);
        rc = ERR_CONFIG;
    }
    /* Second pass: the options override the file. */
    opterr = 1;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "", long_opts, &idx)) != -1) {
        if (opt == OPT_CONFIG || opt == OPT_CHECK)
            continue;
        if (opt != OPT_SET) {
            usage(stderr);
            return ERR_CONFIG;
        }
        if (config_option_set(c, long_opts[idx].name, optarg, reason,
                              sizeof(reason)) != 0) {
            fprintf(stderr, "dossierd: --%s: %s\n", long_opts[idx].name,
                    reason);
            rc = ERR_CONFIG;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return ERR_CONFIG;
    }
    if (rc == 0 && config_finish(c, reason, sizeof(reason)) != 0) {
        fprintf(stderr, "dossierd: %s\n", reason);
        rc = ERR_CONFIG;
    }
    return rc;
}

/* Copies the configuration into the server's and the daemon's own. */
static void
config_apply(const struct config *c, struct server_config *cfg,
             struct daemon_opts *d)
{
    server_config_defaults(cfg);
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s",
             c->listen_host);
    cfg->listen_port = c->listen_port;
    snprintf(cfg->trust_domain, sizeof(cfg->trust_domain), "%s",
             c->trust_domain);
    snprintf(cfg->cert_file, sizeof(cfg->cert_file), "%s", c->cert_file);
    snprintf(cfg->key_file, sizeof(cfg->key_file), "%s", c->key_file);
    snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s", c->ca_file);
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", c->data_dir);
    cfg->max_message = (size_t)c->max_message;
    cfg->max_streams = c->max_streams;
    cfg->max_connections = c->max_connections;
    cfg->max_header_list = c->max_header_list;
    cfg->handshake_timeout_ms = c->handshake_timeout_ms;
    cfg->drain_timeout_ms = c->drain_timeout_ms;
    cfg->diag = c->diag;
    snprintf(d->keys_dir, sizeof(d->keys_dir), "%s", c->keys_dir);
    snprintf(d->keystore_dir, sizeof(d->keystore_dir), "%s",
             c->keystore_dir);
    snprintf(d->catalog, sizeof(d->catalog), "%s", c->catalog);
    d->map_size = c->map_size;
    d->max_document = c->max_document;
    d->audit_retention_days = c->audit_retention_days;
    snprintf(d->metrics_host, sizeof(d->metrics_host), "%s",
             c->metrics_host);
    d->metrics_port = c->metrics_port;
    d->events.retention_days = c->event_retention_days;
    d->events.max_events = c->event_max;
    log_set_level((enum log_level)c->log_level);
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

/* A drain stops the metrics endpoint, so that the loop can end. */
static void
daemon_metrics_stop(struct server *s, void *arg)
{
    struct daemon *d = arg;

    metrics_http_stop(d->metrics);
    d->metrics = NULL;
}

/* Starts the metrics endpoint if asked.  Returns 0 or an error, logged. */
static int
daemon_metrics_start(struct daemon *d, struct server *s, uv_loop_t *loop)
{
    struct metrics_sources src = {.writer = d->writer,
                                  .data = d->data,
                                  .keystore = d->keystore,
                                  .keys_dir = d->opts.keys_dir};
    int rc;

    if (d->opts.metrics_host[0] == '\0')
        return 0;
    if ((rc = metrics_http_start(loop, d->opts.metrics_host,
                                 d->opts.metrics_port, &src, &d->metrics)) !=
        0)
        return rc;
    return server_on_drain(s, daemon_metrics_stop, d);
}

/*
 * The key store's size limit: one wrapped DEK is about 130 bytes with
 * its index (measured by make bench), so a fixed 64 MiB filled up near
 * 500,000 persons whatever --map-size said.  It follows the data store
 * instead (an eighth of it, 64 MiB at least); it is only a limit: LMDB
 * uses the disk it writes.
 */
static uint64_t
daemon_keystore_map_size(uint64_t data_map_size)
{
    uint64_t n = data_map_size / 8;

    return n < (64u << 20) ? (64u << 20) : n;
}

/* Opens the stores and the vault.  Returns 0 or an error, logged. */
static int
daemon_open(struct daemon *d, uv_loop_t *loop)
{
    int rc;

    if ((rc = keyring_load(d->opts.keys_dir, &d->keyring)) != 0 ||
        (rc = catalog_load(d->opts.catalog, &d->catalog)) != 0 ||
        (rc = store_open(d->opts.keystore_dir,
                         daemon_keystore_map_size(d->opts.map_size),
                         &d->keystore)) != 0)
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
        /* An I/O error of the key store stops the writes too. */
        (rc = writer_watch(d->writer, d->keystore)) != 0 ||
        /* Fail closed: without a usable log and key, no start. */
        (rc = audit_open(d->data, d->writer, key_file, checkpoint_file,
                         &d->audit)) != 0 ||
        (rc = vault_open(d->data, d->keystore, d->writer, d->keyring,
                         d->catalog, d->opts.max_document, &d->vault)) != 0 ||
        (rc = events_open(loop, d->data, d->writer, d->vault, &d->opts.events,
                          &d->events)) != 0)
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
    if (d->writer != NULL) {
        struct writer_stats st;
        writer_stats(d->writer, &st);
        writer_stats_log(&st); /* for benchmarks (tests/bench) */
        writer_free(d->writer); /* lets queued writes commit */
    }
    events_close(d->events);
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
    static struct config conf; /* 20 KiB of paths: not on the stack */
    struct server_config cfg;
    struct daemon d;
    bool check = false;
    struct svc_ctx ctx;
    struct server *s = NULL;
    uv_loop_t loop;
    int rc;

    metrics_init();
    memset(&d, 0, sizeof(d));
    config_defaults(&conf, CATALOG_DEFAULT);
    if (parse_args(argc, argv, &conf, &check) != 0)
        return 2;
    if (check) {
        printf("dossierd: configuration OK / configuration correcte\n");
        return 0;
    }
    config_apply(&conf, &cfg, &d.opts);
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
        (rc = svc_events_register(s, &ctx, d.events)) != 0 ||
        (rc = server_on_reload(s, daemon_reload_keys, &d)) != 0 ||
        (rc = daemon_metrics_start(&d, s, &loop)) != 0) {
        log_warnx("cannot register services: %s", err_str(rc));
        metrics_http_stop(d.metrics);
        server_free(s);
        daemon_close(&d, &loop);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 1;
    }
    rc = server_run(s);
    metrics_http_stop(d.metrics); /* if the loop ended without a drain */
    server_free(s);
    daemon_close(&d, &loop);
    /* Every handle is closed by now; let their close callbacks run. */
    uv_run(&loop, UV_RUN_DEFAULT);
    metrics_free();
    if (uv_loop_close(&loop) != 0)
        log_warnx("event loop closed with handles still open");
    return rc == 0 ? 0 : 1;
}
