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

#include "err.h"
#include "log.h"
#include "server.h"
#include "svc_diag.h"
#include "svc_health.h"
#include "svc_reflection.h"

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
            "  --data DIR             data directory\n"
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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int
parse_args(int argc, char **argv, struct server_config *cfg)
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
            ok = keys_dir(cfg, optarg);
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

int
main(int argc, char **argv)
{
    struct server_config cfg;
    struct server *s;
    uv_loop_t loop;
    int rc;

    server_config_defaults(&cfg);
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    /* A peer closing its socket must not kill us while we write. */
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0)
        fatalx("cannot create the event loop");
    if ((s = server_new(&loop, &cfg, &rc)) == NULL) {
        uv_loop_close(&loop);
        fprintf(stderr, "dossierd: cannot start: %s (see the log above)\n",
                err_str(rc));
        return 1;
    }
    if ((rc = svc_health_register(s)) != 0 ||
        (rc = svc_reflection_register(s)) != 0 ||
        (rc = svc_diag_register(s)) != 0) {
        log_warnx("cannot register services: %s", err_str(rc));
        server_free(s);
        uv_loop_close(&loop);
        return 1;
    }
    rc = server_run(s);
    server_free(s);
    /* Every handle is closed by now; let their close callbacks run. */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        log_warnx("event loop closed with handles still open");
    return rc == 0 ? 0 : 1;
}
