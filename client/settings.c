/*
 * settings.c -- where `dossier` connects and as whom (see cli.h).
 *
 * Each setting is taken from the first of: a command-line flag, an
 * environment variable, the configuration file, a default.  The defaults
 * are those of `make run`: the daemon on 127.0.0.1:7443, the development
 * keys in keys/dev/ (of the working directory, else of the source tree
 * this binary sits in: build/bin/dossier -> keys/dev), the CA keys/dev/ca.crt,
 * and the principal person-demo.  `--as NAME` picks keys/dev/NAME.crt and
 * .key; --cert and --key name other files.  A certificate given at a
 * stronger level than --as wins over it, and the other way round.
 *
 * It knows nothing of the daemon: it only fills struct cli_settings.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { LVL_NONE, LVL_DEFAULT, LVL_CONFIG, LVL_ENV, LVL_FLAG };

enum { S_SERVER, S_AS, S_KEYS, S_CERT, S_KEY, S_CA, S_TIMEOUT, S_CONFIG, S_N };

static const struct {
    const char *flag, *env, *conf;
} names[S_N] = {
    [S_SERVER] = {"--server", "DOSSIER_SERVER", "server"},
    [S_AS] = {"--as", "DOSSIER_AS", "as"},
    [S_KEYS] = {"--keys", "DOSSIER_KEYS", "keys"},
    [S_CERT] = {"--cert", "DOSSIER_CERT", "cert"},
    [S_KEY] = {"--key", "DOSSIER_KEY", "key"},
    [S_CA] = {"--ca", "DOSSIER_CA", "ca"},
    [S_TIMEOUT] = {"--timeout", "DOSSIER_TIMEOUT", "timeout"},
    [S_CONFIG] = {"--config", "DOSSIER_CONFIG", NULL},
};

struct val {
    char v[1024];
    int level;
};

static void
val_set(struct val *s, const char *v, int level)
{
    if (level <= s->level)
        return;
    snprintf(s->v, sizeof(s->v), "%s", v);
    s->level = level;
}

static bool
is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* keys/dev of the working directory, else of the tree of the binary. */
static void
default_keys(char *out, size_t outsz)
{
    char exe[PATH_MAX];
    ssize_t n;

    if (is_dir("keys/dev")) {
        snprintf(out, outsz, "keys/dev");
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* .../build/bin/dossier -> .../keys/dev */
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash == NULL)
                break;
            *slash = '\0';
        }
        snprintf(out, outsz, "%.1000s/keys/dev", exe);
        if (is_dir(out))
            return;
    }
    snprintf(out, outsz, "keys/dev");
}

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                     e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Reads "name = value" lines; '#' starts a comment.  A missing file is
 * fine; a line that names no setting is an error, said once. */
static int
config_read(const char *path, struct val *v, bool must_exist)
{
    char line[1200];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    if (f == NULL) {
        if (!must_exist && errno == ENOENT)
            return 0;
        cli_say(_("cannot read the configuration file %s (%s); check its "
                  "path or remove --config."),
                path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = trim(line), *eq, *name, *value;
        size_t i;

        lineno++;
        if (*s == '\0' || *s == '#')
            continue;
        if ((eq = strchr(s, '=')) == NULL)
            goto bad;
        *eq = '\0';
        name = trim(s);
        value = trim(eq + 1);
        for (i = 0; i < S_N; i++)
            if (names[i].conf != NULL && strcmp(names[i].conf, name) == 0)
                break;
        if (i == S_N)
            goto bad;
        val_set(&v[i], value, LVL_CONFIG);
        continue;
    bad:
        cli_say(_("line %d of %s is not \"name = value\" with a name among "
                  "server, as, keys, cert, key, ca, timeout; correct it."),
                lineno, path);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int
cli_settings_load(struct cli *cli, int *argc, char **argv)
{
    struct val v[S_N];
    struct cli_settings *set = &cli->set;
    int out = 1;
    char conf[1024];

    memset(v, 0, sizeof(v));
    /* Flags, anywhere after the program name; "--" ends them. */
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        size_t k;
        bool matched = false;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
            continue;
        }
        for (k = 0; k < S_N; k++) {
            size_t n = strlen(names[k].flag);
            if (strncmp(a, names[k].flag, n) != 0)
                continue;
            if (a[n] == '=') {
                val_set(&v[k], a + n + 1, LVL_FLAG);
                matched = true;
            } else if (a[n] == '\0') {
                if (i + 1 >= *argc) {
                    cli_say(_("%s needs a value; see dossier --help."), a);
                    return EXIT_USAGE;
                }
                val_set(&v[k], argv[++i], LVL_FLAG);
                matched = true;
            }
            break;
        }
        if (!matched)
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;

    for (size_t k = 0; k < S_N; k++) {
        const char *e = getenv(names[k].env);
        if (e != NULL && *e != '\0')
            val_set(&v[k], e, LVL_ENV);
    }
    if (v[S_CONFIG].level != LVL_NONE) {
        if (config_read(v[S_CONFIG].v, v, true) != 0)
            return EXIT_USAGE;
        snprintf(set->config_path, sizeof(set->config_path), "%s",
                 v[S_CONFIG].v);
    } else {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        conf[0] = '\0';
        if (xdg != NULL && *xdg == '/')
            snprintf(conf, sizeof(conf), "%s/dossier/config", xdg);
        else if (home != NULL && *home != '\0')
            snprintf(conf, sizeof(conf), "%s/.config/dossier/config", home);
        if (conf[0] != '\0') {
            if (config_read(conf, v, false) != 0)
                return EXIT_USAGE;
            if (access(conf, R_OK) == 0)
                snprintf(set->config_path, sizeof(set->config_path), "%s",
                         conf);
        }
    }

    val_set(&v[S_SERVER], "127.0.0.1:7443", LVL_DEFAULT);
    val_set(&v[S_AS], "person-demo", LVL_DEFAULT);
    if (v[S_KEYS].level == LVL_NONE) {
        char dk[1024];
        default_keys(dk, sizeof(dk));
        val_set(&v[S_KEYS], dk, LVL_DEFAULT);
    }
    val_set(&v[S_TIMEOUT], "60", LVL_DEFAULT);

    snprintf(set->server, sizeof(set->server), "%.255s", v[S_SERVER].v);
    snprintf(set->as, sizeof(set->as), "%.127s", v[S_AS].v);
    snprintf(set->keys, sizeof(set->keys), "%s", v[S_KEYS].v);
    if (strchr(set->as, '/') != NULL || set->as[0] == '.') {
        cli_say(_("--as takes a principal name such as agency-caf-75, not a "
                  "path; use --cert and --key for files."));
        return EXIT_USAGE;
    }
    /* The certificate: --cert/--key if given at a level at least as
     * strong as --as, else the files of --as in the keys directory. */
    if (v[S_CERT].level >= v[S_AS].level && v[S_CERT].level != LVL_NONE) {
        snprintf(set->cert, sizeof(set->cert), "%s", v[S_CERT].v);
        if (v[S_KEY].level != LVL_NONE)
            snprintf(set->key, sizeof(set->key), "%s", v[S_KEY].v);
        else {
            /* x.crt -> x.key */
            snprintf(set->key, sizeof(set->key), "%s", v[S_CERT].v);
            size_t n = strlen(set->key);
            if (n > 4 && strcmp(set->key + n - 4, ".crt") == 0)
                memcpy(set->key + n - 4, ".key", 4);
        }
    } else {
        snprintf(set->cert, sizeof(set->cert), "%.890s/%.120s.crt", set->keys,
                 set->as);
        snprintf(set->key, sizeof(set->key), "%.890s/%.120s.key", set->keys,
                 set->as);
    }
    if (v[S_CA].level != LVL_NONE)
        snprintf(set->ca, sizeof(set->ca), "%s", v[S_CA].v);
    else
        snprintf(set->ca, sizeof(set->ca), "%.1000s/ca.crt", set->keys);
    {
        char *end;
        long t = strtol(v[S_TIMEOUT].v, &end, 10);
        if (*end != '\0' || t < 1 || t > 86400) {
            cli_say(_("--timeout takes a number of seconds from 1 to 86400, "
                      "not '%s'."),
                    v[S_TIMEOUT].v);
            return EXIT_USAGE;
        }
        set->timeout_ms = (int)t * 1000;
    }
    return EXIT_OK;
}
