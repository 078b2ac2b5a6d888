/*
 * cli.c -- the shared parts of every `dossier` subcommand (see cli.h):
 * language, the connection, and the one sentence said for each failure.
 *
 * Every failure a person can meet is worded here once, in plain words,
 * saying what happened and what to do; the daemon's own detail (English,
 * never personal data) follows in parentheses when it helps.  No library
 * code or error number is ever shown alone.
 */
#include <errno.h>
#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "rpc.h"

/* --- language -------------------------------------------------------------- */

static bool
env_french(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *s = getenv(vars[i]);
        if (s != NULL && *s != '\0')
            return strncmp(s, "fr", 2) == 0;
    }
    return false;
}

bool
cli_i18n_init(void)
{
    bool french = env_french();
    char exe[PATH_MAX], dir[PATH_MAX + 16];
    struct stat st;
    ssize_t n;

    /* The French locale may not be installed (a minimal system): then
     * the messages still come in French through LANGUAGE, on C.UTF-8. */
    if (setlocale(LC_ALL, "") == NULL)
        setlocale(LC_ALL, "C.UTF-8");
    setlocale(LC_NUMERIC, "C");
    if (french)
        setenv("LANGUAGE", "fr", 1);
    else
        unsetenv("LANGUAGE");
    if (french) {
        const char *cur = setlocale(LC_MESSAGES, NULL);
        if (cur == NULL || strcmp(cur, "C") == 0 || strcmp(cur, "POSIX") == 0)
            setlocale(LC_MESSAGES, "C.UTF-8");
    }
    /* The catalogue next to the binary: build/locale in the tree, then
     * PREFIX/share/locale once installed (make install, any PREFIX);
     * else the system's. */
    snprintf(dir, sizeof(dir), "%s", LOCALEDIR);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        static const char *const rel[] = {"../locale", "../share/locale"};
        char *slash;

        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL)
            *slash = '\0';
        for (size_t i = 0; slash != NULL && i < sizeof(rel) / sizeof(rel[0]);
             i++) {
            char near[PATH_MAX + 16];

            snprintf(near, sizeof(near), "%s/%s", exe, rel[i]);
            if (stat(near, &st) == 0 && S_ISDIR(st.st_mode)) {
                snprintf(dir, sizeof(dir), "%s", near);
                break;
            }
        }
    }
    bindtextdomain("dossier", dir);
    bind_textdomain_codeset("dossier", "UTF-8");
    textdomain("dossier");
    return french;
}

void
cli_say(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
cli_help(const char *help)
{
    fputs(help, stdout);
    return EXIT_OK;
}

int
cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    char msg[1024];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_say(_("%s; see \"dossier %s --help\"."), msg, verb);
    return EXIT_USAGE;
}

int
cli_getopt(int argc, char **argv, const char *shortopts,
           const struct option *opts)
{
    int c;

    opterr = 0;
    c = getopt_long(argc, argv, shortopts, opts, NULL);
    if (c == ':') {
        cli_say(_("%s needs a value; see \"dossier %s --help\"."),
                argv[optind - 1], argv[0]);
        return '?';
    }
    if (c == '?') {
        cli_say(_("unknown option %s; see \"dossier %s --help\"."),
                argv[optind - 1], argv[0]);
        return '?';
    }
    return c;
}

/* --- identity and connection ----------------------------------------------- */

/* Says what is wrong with a file the connection needs; 0 if usable. */
static int
file_check(struct cli *cli, const char *path, const char *what, bool secret)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (strcmp(what, "ca") == 0)
            cli_say(_("the CA certificate %s is missing: run \"make run\" "
                      "once to make the development keys, or give --ca "
                      "FILE."),
                    path);
        else if (strcmp(what, "cert") == 0 && stat(cli->set.keys, &st) != 0)
            cli_say(_("no certificate for \"%s\": the keys directory %s does "
                      "not exist; run \"make run\" once to make the "
                      "development keys, or give --keys DIR, or --cert FILE "
                      "and --key FILE."),
                    cli->set.as, cli->set.keys);
        else if (strcmp(what, "cert") == 0)
            cli_say(_("no certificate for \"%s\": %s is missing; pick a "
                      "principal of %s with --as NAME (ls %s), or give "
                      "--cert FILE and --key FILE."),
                    cli->set.as, path, cli->set.keys, cli->set.keys);
        else
            cli_say(_("the private key %s is missing; give --key FILE with "
                      "the key of your certificate."),
                    path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        cli_say(_("%s cannot be read by you (%s); check its owner and "
                  "permissions."),
                path, strerror(errno));
        return -1;
    }
    if (secret && (st.st_mode & 077) != 0) {
        cli_say(_("the private key %s can be read by others; protect it "
                  "with \"chmod 600 %s\" and try again."),
                path, path);
        return -1;
    }
    return 0;
}

/* The URI SAN of |x|, into |out|. */
static int
cert_uri(X509 *x, char *out, size_t outsz)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
                                           NULL);
    int rc = -1;

    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_URI)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        int n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (n > 10 && (size_t)n < outsz &&
            memcmp(p, "spiffe://", 9) == 0) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
            rc = 0;
            break;
        }
    }
    GENERAL_NAMES_free(gens);
    return rc;
}

int
cli_identity(struct cli *cli)
{
    const struct cli_settings *s = &cli->set;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    FILE *f;
    int rc = EXIT_CONFIG;

    if (cli->me[0] != '\0')
        return EXIT_OK;
    if (file_check(cli, s->cert, "cert", false) != 0 ||
        file_check(cli, s->key, "key", true) != 0 ||
        file_check(cli, s->ca, "ca", false) != 0)
        return EXIT_CONFIG;
    if ((f = fopen(s->cert, "r")) != NULL) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (x == NULL) {
        cli_say(_("%s is not a certificate in PEM form; give the .crt file "
                  "that dossier-admin made for you."),
                s->cert);
        goto out;
    }
    if ((f = fopen(s->key, "r")) != NULL) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (k == NULL) {
        cli_say(_("%s is not a private key in PEM form; give the .key file "
                  "of your certificate."),
                s->key);
        goto out;
    }
    if (X509_check_private_key(x, k) != 1) {
        cli_say(_("the key %s does not belong to the certificate %s; give "
                  "the pair made together."),
                s->key, s->cert);
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        cli_say(_("your certificate %s has expired; ask the operator for a "
                  "new one (dossier-admin issue)."),
                s->cert);
        goto out;
    }
    if (cert_uri(x, cli->me, sizeof(cli->me)) != 0) {
        cli_say(_("the certificate %s names no principal "
                  "(spiffe://DOMAIN/KIND/ID); use one made by dossier-admin."),
                s->cert);
        goto out;
    }
    {
        const char *td = cli->me + 9, *sl = strchr(td, '/');
        snprintf(cli->td, sizeof(cli->td), "%.*s",
                 (int)(sl ? sl - td : (long)strlen(td)), td);
    }
    rc = EXIT_OK;
out:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

struct grpcc *
cli_conn(struct cli *cli, int *exit_code)
{
    struct grpcc_conf conf = {0};
    struct grpcc_status st;
    char host[256], *port;

    if (cli->conn != NULL)
        return cli->conn;
    if ((*exit_code = cli_identity(cli)) != EXIT_OK)
        return NULL;
    snprintf(host, sizeof(host), "%s", cli->set.server);
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (end == NULL || end[1] != ':') {
            cli_say(_("--server takes HOST:PORT, e.g. 127.0.0.1:7443, not "
                      "'%s'."),
                    cli->set.server);
            *exit_code = EXIT_USAGE;
            return NULL;
        }
        *end = '\0';
        port = end + 2;
        memmove(host, host + 1, strlen(host));
    } else {
        port = strrchr(host, ':');
        if (port == NULL || port[1] == '\0') {
            cli_say(_("--server takes HOST:PORT, e.g. 127.0.0.1:7443, not "
                      "'%s'."),
                    cli->set.server);
            *exit_code = EXIT_USAGE;
            return NULL;
        }
        *port++ = '\0';
    }
    conf.host = host;
    conf.port = port;
    conf.server_name = host;
    conf.cert = cli->set.cert;
    conf.key = cli->set.key;
    conf.ca = cli->set.ca;
    conf.connect_timeout_ms = cli->set.timeout_ms < 15000
                                  ? cli->set.timeout_ms
                                  : 15000;
    if (grpcc_open(&conf, &cli->conn, &st) != 0) {
        ERR_clear_error();
        *exit_code = cli_status_report(cli, &st, NULL);
        return NULL;
    }
    *exit_code = EXIT_OK;
    return cli->conn;
}

/* The server's detail, if any, in parentheses. */
static const char *
detail(const struct grpcc_status *st, char *out, size_t outsz)
{
    if (st->message[0] == '\0')
        out[0] = '\0';
    else
        snprintf(out, outsz, " (%s)", st->message);
    return out;
}

int
cli_status_report(struct cli *cli, const struct grpcc_status *st,
                  const char *what)
{
    const char *srv = cli->set.server;
    char d[600];

    detail(st, d, sizeof(d));
    switch (st->fail) {
    case GRPCC_OK:
        break;
    case GRPCC_RESOLVE:
        cli_say(_("the server name in \"%s\" is unknown; check --server "
                  "(e.g. 127.0.0.1:7443)."),
                srv);
        return EXIT_UNAVAILABLE;
    case GRPCC_REFUSED:
        cli_say(_("the dossier service does not answer at %s: it is not "
                  "running or listens elsewhere; start it (make run) or "
                  "check --server."),
                srv);
        return EXIT_UNAVAILABLE;
    case GRPCC_UNREACH:
        cli_say(_("the dossier service at %s cannot be reached%s; check "
                  "the network and --server."),
                srv, d);
        return EXIT_UNAVAILABLE;
    case GRPCC_TLS_SETUP:
        cli_say(_("your certificate %s, its key or the CA %s cannot be "
                  "used%s; give the files dossier-admin made."),
                cli->set.cert, cli->set.ca, d);
        return EXIT_CONFIG;
    case GRPCC_TLS:
        cli_say(_("the secure connection to %s failed%s: check that --ca is "
                  "the CA of this server and that your certificate is "
                  "still valid."),
                srv, d);
        return EXIT_CONFIG;
    case GRPCC_CLOSED:
        cli_say(_("the connection to the dossier service was lost%s; try "
                  "again in a moment."),
                d);
        return EXIT_UNAVAILABLE;
    case GRPCC_TIMEOUT:
        cli_say(_("the dossier service did not answer within %d seconds; "
                  "try again, or allow more time with --timeout SECONDS."),
                cli->set.timeout_ms / 1000);
        return EXIT_UNAVAILABLE;
    case GRPCC_PROTO:
        cli_say(_("the dossier service sent an answer this program does "
                  "not understand%s; check that --server is a dossierd of "
                  "the same version."),
                d);
        return EXIT_FAIL;
    case GRPCC_NOMEM:
        cli_say(_("this computer ran out of memory; close other programs "
                  "and try again."));
        return EXIT_FAIL;
    }
    switch (st->code) {
    case RPC_OK:
        return EXIT_OK;
    case RPC_PERMISSION_DENIED:
    case RPC_UNAUTHENTICATED:
        if (strstr(st->message, "no dossier is linked") != NULL) {
            cli_say(_("no dossier is open for your certificate yet; ask a "
                      "France Services aidant or the operator to open it "
                      "(dossier enrol)."));
            return EXIT_DENIED;
        }
        cli_say(_("refused by the dossier service%s: you need a consent or a "
                  "mandate in force that covers this; ask the person "
                  "concerned."),
                d);
        return EXIT_DENIED;
    case RPC_NOT_FOUND:
        if (what != NULL)
            cli_say(_("%s was not found%s; check the identifier with a "
                      "\"list\" command."),
                    what, d);
        else
            cli_say(_("not found%s; check the identifier with a \"list\" "
                      "command."),
                    d);
        return EXIT_NOTFOUND;
    case RPC_INVALID_ARGUMENT:
        cli_say(_("the dossier service refused the request as invalid%s; "
                  "correct it and try again."),
                d);
        return EXIT_USAGE;
    case RPC_RESOURCE_EXHAUSTED:
        if (strncmp(st->message, "size", 4) == 0)
            cli_say(_("the file is too big for the dossier service%s; send "
                      "a smaller file (a scan at a lower resolution, or "
                      "split it)."),
                    d);
        else
            cli_say(_("the dossier service is full or at a limit%s; try "
                      "again later and tell its operator."),
                    d);
        return EXIT_FAIL;
    case RPC_FAILED_PRECONDITION:
        cli_say(_("this cannot be done now%s."), d);
        return EXIT_FAIL;
    case RPC_ALREADY_EXISTS:
        cli_say(_("this already exists%s; nothing was changed."), d);
        return EXIT_FAIL;
    case RPC_DATA_LOSS:
        cli_say(_("the stored copy failed its integrity check%s; tell the "
                  "operator of the service."),
                d);
        return EXIT_FAIL;
    case RPC_UNIMPLEMENTED:
        cli_say(_("this dossier service does not offer this yet%s; it may be "
                  "an older version."),
                d);
        return EXIT_FAIL;
    case RPC_OUT_OF_RANGE:
        cli_say(_("out of range%s; start again from a newer point."), d);
        return EXIT_USAGE;
    case RPC_UNAVAILABLE:
        cli_say(_("the dossier service is stopping or busy%s; try again in "
                  "a moment."),
                d);
        return EXIT_UNAVAILABLE;
    case RPC_DEADLINE_EXCEEDED:
        cli_say(_("the dossier service did not answer within %d seconds; "
                  "try again, or allow more time with --timeout SECONDS."),
                cli->set.timeout_ms / 1000);
        return EXIT_UNAVAILABLE;
    default:
        cli_say(_("the dossier service failed (%s)%s; try again, and tell its "
                  "operator if it goes on."),
                rpc_status_name(st->code), d);
        return EXIT_FAIL;
    }
}

int
cli_unary(struct cli *cli, const char *path, const ProtobufCMessage *req,
          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
          const char *what)
{
    struct grpcc_status st;
    struct grpcc *g;
    int rc;

    *resp = NULL;
    if ((g = cli_conn(cli, &rc)) == NULL)
        return rc;
    if (grpcc_unary(g, path, req, desc, resp, cli->set.timeout_ms, &st) !=
        RPC_OK)
        return cli_status_report(cli, &st, what);
    return EXIT_OK;
}

/* --- principals ------------------------------------------------------------ */

int
cli_principal_uri(struct cli *cli, const char *kind, const char *name,
                  char *out, size_t outsz)
{
    size_t kl = strlen(kind);

    if (strncmp(name, "spiffe://", 9) == 0) {
        snprintf(out, outsz, "%s", name);
        return 0;
    }
    if (cli->td[0] == '\0' && cli_identity(cli) != EXIT_OK)
        return -1;
    /* "agency-cpam-69" (a file name of keys/dev) or "cpam-69". */
    if (strncmp(name, kind, kl) == 0 && name[kl] == '-')
        name += kl + 1;
    if (*name == '\0' || strchr(name, '/') != NULL)
        return -1;
    snprintf(out, outsz, "spiffe://%s/%s/%s", cli->td, kind, name);
    return 0;
}

const char *
cli_principal_label(const char *uri, char *out, size_t outsz)
{
    static const struct {
        const char *kind, *label;
    } kinds[] = {
        {"person", N_("person")},     {"agency", N_("agency")},
        {"delegate", N_("aidant")},   {"auditor", N_("auditor")},
        {"admin", N_("operator")},
    };
    const char *p, *id;

    if (uri == NULL || uri[0] == '\0') {
        snprintf(out, outsz, "-");
        return out;
    }
    if (strncmp(uri, "spiffe://", 9) != 0 ||
        (p = strchr(uri + 9, '/')) == NULL ||
        (id = strchr(p + 1, '/')) == NULL) {
        snprintf(out, outsz, "%s", uri);
        return out;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t kl = strlen(kinds[i].kind);
        if ((size_t)(id - p - 1) == kl && strncmp(p + 1, kinds[i].kind, kl) == 0) {
            snprintf(out, outsz, "%s %s", _(kinds[i].label), id + 1);
            return out;
        }
    }
    snprintf(out, outsz, "%s", uri);
    return out;
}

bool
cli_confirm(const char *question)
{
    char line[64];

    fputs(question, stderr);
    fputs(" ", stderr);
    fflush(stderr);
    if (fgets(line, sizeof(line), stdin) == NULL)
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcasecmp(line, "o") == 0 || strcasecmp(line, "oui") == 0 ||
           strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

size_t
cli_split_list(char *s, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *t = strtok_r(s, ",", &save); t != NULL && n < max;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t != '\0')
            out[n++] = t;
    }
    return n;
}
