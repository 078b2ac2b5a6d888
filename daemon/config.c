/*
 * config.c -- the option table, the configuration file parser and the
 * command-line setter (see config.h).
 *
 * One table names every option once: its section and key in the file,
 * its command-line name, its type, range and place in struct config.  The
 * file parser and the command line both go through opt_set(), so a value
 * is checked the same way wherever it comes from.  The parser works line
 * by line on the caller's buffer, copying each value into a bounded local
 * buffer; it never allocates, so a fuzzer can call it in a loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"

enum opt_type {
    T_PATH,   /* a string kept as given (paths) */
    T_DOMAIN, /* a SPIFFE trust domain */
    T_LISTEN, /* HOST:PORT or [IPv6]:PORT */
    T_BYTES,  /* a number with an optional K, M or G suffix */
    T_NUMBER, /* a plain decimal number */
    T_BOOL,
    T_LEVEL, /* a log level */
};

struct opt {
    const char *section;
    const char *key;
    const char *cli; /* command-line name, without "--" */
    enum opt_type type;
    size_t off;  /* offset in struct config */
    size_t size; /* of the field: string capacity, or 4/8 for numbers */
    uint64_t min, max;
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct opt opts[] = {
    {"server", "listen", "listen", T_LISTEN, F(listen_host), 0, 0},
    {"server", "trust_domain", "trust-domain", T_DOMAIN, F(trust_domain), 0,
     0},
    {"server", "diag", "diag", T_BOOL, F(diag), 0, 1},
    {"keys", "dir", "keys", T_PATH, F(keys_dir), 0, 0},
    {"keys", "cert", "cert", T_PATH, F(cert_file), 0, 0},
    {"keys", "key", "key", T_PATH, F(key_file), 0, 0},
    {"keys", "ca", "ca", T_PATH, F(ca_file), 0, 0},
    {"store", "data", "data", T_PATH, F(data_dir), 0, 0},
    {"store", "keystore", "keystore", T_PATH, F(keystore_dir), 0, 0},
    {"store", "catalog", "catalog", T_PATH, F(catalog), 0, 0},
    {"store", "map_size", "map-size", T_BYTES, F(map_size), 1ull << 20,
     1ull << 40},
    {"store", "max_document", "max-document", T_BYTES, F(max_document), 0,
     1ull << 32},
    {"limits", "max_message", "max-message", T_BYTES, F(max_message), 1024,
     1ull << 30},
    {"limits", "max_streams", "max-streams", T_NUMBER, F(max_streams), 1,
     10000},
    {"limits", "max_connections", "max-connections", T_NUMBER,
     F(max_connections), 1, 1000000},
    {"limits", "max_header_list", "max-header-list", T_BYTES,
     F(max_header_list), 1024, 1u << 20},
    {"limits", "handshake_timeout_ms", "handshake-timeout", T_NUMBER,
     F(handshake_timeout_ms), 100, 600 * 1000},
    {"limits", "drain_timeout_ms", "drain-timeout", T_NUMBER,
     F(drain_timeout_ms), 0, 3600 * 1000},
    {"audit", "retention_days", "audit-retention", T_NUMBER,
     F(audit_retention_days), 0, 36500},
    {"events", "retention_days", "event-retention", T_NUMBER,
     F(event_retention_days), 0, 36500},
    {"events", "max_events", "event-max", T_NUMBER, F(event_max), 0,
     1ull << 40},
    {"log", "level", "log-level", T_LEVEL, F(log_level), 0, 3},
    {"metrics", "listen", "metrics-listen", T_LISTEN, F(metrics_host), 0, 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void
config_defaults(struct config *cfg, const char *catalog_default)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 7443;
    strcpy(cfg->trust_domain, "dossier.test");
    if (catalog_default != NULL &&
        strlen(catalog_default) < sizeof(cfg->catalog))
        strcpy(cfg->catalog, catalog_default);
    cfg->map_size = 1ull << 30;
    cfg->max_document = 50ull << 20;
    cfg->max_message = 4u << 20;
    cfg->max_streams = 100;
    cfg->max_connections = 20000;
    cfg->max_header_list = 16u << 10;
    cfg->handshake_timeout_ms = 10 * 1000;
    cfg->drain_timeout_ms = 10 * 1000;
    cfg->event_retention_days = 30; /* EVENTS_RETENTION_DAYS_DEFAULT */
    cfg->event_max = 1000000;       /* EVENTS_MAX_DEFAULT */
    cfg->log_level = LOG_LVL_INFO;
}

/* Writes "English / français" into |out|: the two formats take the same
 * arguments in the same order. */
static void
reason_vfmt(char *out, size_t size, const char *en, const char *fr,
            va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(out, size, en, ap);
    if (n >= 0 && (size_t)n + 4 < size) {
        memcpy(out + n, " / ", 4);
        vsnprintf(out + n + 3, size - n - 3, fr, ap2);
    }
    va_end(ap2);
}

static void
reason_fmt(char *out, size_t size, const char *en, const char *fr, ...)
{
    va_list ap;

    va_start(ap, fr);
    reason_vfmt(out, size, en, fr, ap);
    va_end(ap);
}

static void
errs_add(struct config_errors *errs, unsigned line, const char *en,
         const char *fr, ...)
{
    va_list ap;
    struct config_error *e;

    if (errs->count++ >= CONFIG_MAX_ERRORS)
        return;
    e = &errs->list[errs->count - 1];
    e->line = line;
    va_start(ap, fr);
    reason_vfmt(e->reason, sizeof(e->reason), en, fr, ap);
    va_end(ap);
}

/* Records an error whose reason is already written. */
static void
errs_add_raw(struct config_errors *errs, unsigned line, const char *reason)
{
    struct config_error *e;

    if (errs->count++ >= CONFIG_MAX_ERRORS)
        return;
    e = &errs->list[errs->count - 1];
    e->line = line;
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

/* A value quoted in a reason: at most 40 bytes, printable ASCII only. */
static const char *
shown(const char *v, char out[48])
{
    size_t i, n = strlen(v);

    for (i = 0; i < n && i < 40; i++)
        out[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
    if (n > 40) {
        memcpy(out + 40, "...", 3);
        i = 43;
    }
    out[i] = '\0';
    return out;
}

/* Decimal digits only, no sign, no overflow; an optional K/M/G suffix
 * (powers of 1024) when |suffix| is true. */
static bool
parse_number(const char *s, bool suffix, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (suffix && *p != '\0' && p[1] == '\0') {
        switch (*p) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        default: return false;
        }
        p++;
    }
    if (*p != '\0' || (v != 0 && v > UINT64_MAX / mul))
        return false;
    *out = v * mul;
    return true;
}

static bool
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

static bool
parse_listen(const char *s, char *host, size_t host_size, int *port_out)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;
    size_t hlen;

    if (colon == NULL || !parse_number(colon + 1, false, &port) ||
        port == 0 || port > 65535)
        return false;
    hlen = (size_t)(colon - s);
    if (hlen > 1 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    } else if (memchr(s, ':', hlen) != NULL) {
        return false; /* an IPv6 address needs its brackets */
    }
    if (hlen == 0 || hlen >= host_size)
        return false;
    for (size_t i = 0; i < hlen; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '[' || s[i] == ']')
            return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port_out = (int)port;
    return true;
}

/* The metrics endpoint has neither TLS nor authentication: loopback
 * addresses only (127.0.0.0/8, ::1). */
static bool
loopback_host(const char *h)
{
    unsigned char a[16];

    if (inet_pton(AF_INET, h, a) == 1)
        return a[0] == 127;
    return inet_pton(AF_INET6, h, a) == 1 && memcmp(a, in6addr_loopback.s6_addr,
                                                   16) == 0;
}

/* A SPIFFE trust domain: letters, digits, '.', '-' and '_'. */
static bool
valid_domain(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
              *s == '_'))
            return false;
    return true;
}

/* Checks |v| against |o| and stores it.  Returns 0 or ERR_CONFIG with the
 * reason in |reason|. */
static int
opt_set(struct config *cfg, const struct opt *o, const char *v,
        char *reason, size_t size)
{
    char *field = (char *)cfg + o->off;
    char sh[48];
    uint64_t n;
    bool b;
    int lvl;

    if (*v == '\0') {
        reason_fmt(reason, size, "empty value for '%s'",
                   "valeur vide pour « %s »", o->key);
        return ERR_CONFIG;
    }
    switch (o->type) {
    case T_DOMAIN:
        if (!valid_domain(v)) {
            reason_fmt(reason, size,
                       "bad trust domain '%s' (letters, digits, '.', '-', "
                       "'_')",
                       "domaine de confiance incorrect « %s » (lettres, "
                       "chiffres, « . », « - », « _ »)",
                       shown(v, sh));
            return ERR_CONFIG;
        }
        /* fall through */
    case T_PATH:
        if (strlen(v) >= o->size) {
            reason_fmt(reason, size, "value too long for '%s' (at most %zu "
                       "bytes)",
                       "valeur trop longue pour « %s » (%zu octets au plus)",
                       o->key, o->size - 1);
            return ERR_CONFIG;
        }
        strcpy(field, v);
        return 0;
    case T_LISTEN:
        if (!parse_listen(v, field, o->size,
                          field == cfg->metrics_host ? &cfg->metrics_port
                                                     : &cfg->listen_port)) {
            reason_fmt(reason, size,
                       "bad listen address '%s' (HOST:PORT or [IPv6]:PORT)",
                       "adresse d'écoute incorrecte « %s » (HÔTE:PORT ou "
                       "[IPv6]:PORT)",
                       shown(v, sh));
            return ERR_CONFIG;
        }
        if (field == cfg->metrics_host && !loopback_host(field)) {
            reason_fmt(reason, size,
                       "metrics address '%s' is not a loopback address "
                       "(127.0.0.1 or [::1]: the endpoint has no TLS)",
                       "adresse des métriques « %s » hors boucle locale "
                       "(127.0.0.1 ou [::1] : le point d'accès n'a pas de "
                       "TLS)",
                       shown(v, sh));
            field[0] = '\0';
            return ERR_CONFIG;
        }
        return 0;
    case T_BOOL:
        if (!parse_bool(v, &b)) {
            reason_fmt(reason, size,
                       "bad boolean '%s' for '%s' (yes or no)",
                       "booléen incorrect « %s » pour « %s » (yes ou no)",
                       shown(v, sh), o->key);
            return ERR_CONFIG;
        }
        *(bool *)field = b;
        return 0;
    case T_LEVEL:
        if ((lvl = log_level_parse(v)) < 0) {
            reason_fmt(reason, size,
                       "bad log level '%s' (error, warn, info or debug)",
                       "niveau de journal incorrect « %s » (error, warn, "
                       "info ou debug)",
                       shown(v, sh));
            return ERR_CONFIG;
        }
        *(int *)field = lvl;
        return 0;
    case T_BYTES:
    case T_NUMBER:
        if (!parse_number(v, o->type == T_BYTES, &n)) {
            if (o->type == T_BYTES)
                reason_fmt(reason, size,
                           "bad number '%s' for '%s' (digits, optionally "
                           "followed by K, M or G)",
                           "nombre incorrect « %s » pour « %s » (chiffres, "
                           "suivis ou non de K, M ou G)",
                           shown(v, sh), o->key);
            else
                reason_fmt(reason, size,
                           "bad number '%s' for '%s' (decimal digits)",
                           "nombre incorrect « %s » pour « %s » (chiffres "
                           "décimaux)",
                           shown(v, sh), o->key);
            return ERR_CONFIG;
        }
        if (n < o->min || n > o->max) {
            reason_fmt(reason, size,
                       "value %s for '%s' out of range (%llu to %llu)",
                       "valeur %s pour « %s » hors limites (%llu à %llu)",
                       shown(v, sh), o->key, (unsigned long long)o->min,
                       (unsigned long long)o->max);
            return ERR_CONFIG;
        }
        if (o->size == sizeof(uint32_t))
            *(uint32_t *)field = (uint32_t)n;
        else
            *(uint64_t *)field = n;
        return 0;
    }
    return ERR_CONFIG;
}

int
config_option_set(struct config *cfg, const char *name, const char *value,
                  char *reason, size_t size)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].cli, name) != 0)
            continue;
        if (value == NULL && opts[i].type == T_BOOL)
            value = "yes";
        if (value == NULL) {
            reason_fmt(reason, size, "--%s needs a value",
                       "--%s demande une valeur", name);
            return ERR_CONFIG;
        }
        return opt_set(cfg, &opts[i], value, reason, size);
    }
    reason_fmt(reason, size, "no option --%s", "pas d'option --%s", name);
    return ERR_NOTFOUND;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* True if the rest of a line, from |p| to |end|, is blank or a comment. */
static bool
rest_is_empty(const char *p, const char *end)
{
    while (p < end && is_blank(*p))
        p++;
    return p == end || *p == '#' || *p == ';';
}

/*
 * Extracts the value that starts at |p| (blanks skipped) into |out|
 * (CONFIG_LINE_MAX + 1 bytes): quoted with \" and \\ escapes, or bare up
 * to a '#' that follows a blank, trailing blanks removed.  Returns 0 or
 * ERR_CONFIG with the reason in |reason|.
 */
static int
value_extract(const char *p, const char *end, char *out, char *reason,
              size_t size)
{
    size_t n = 0;

    while (p < end && is_blank(*p))
        p++;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
                p++;
            out[n++] = *p;
        }
        if (p == end) {
            reason_fmt(reason, size, "unterminated quote",
                       "guillemet non fermé");
            return ERR_CONFIG;
        }
        if (!rest_is_empty(p + 1, end)) {
            reason_fmt(reason, size, "text after the closing quote",
                       "texte après le guillemet fermant");
            return ERR_CONFIG;
        }
        out[n] = '\0';
        return 0;
    }
    for (; p < end; p++) {
        if (*p == '#' && n > 0 && is_blank(out[n - 1]))
            break;
        if (*p == '#' && n == 0)
            break;
        out[n++] = *p;
    }
    while (n > 0 && is_blank(out[n - 1]))
        n--;
    out[n] = '\0';
    return 0;
}

/* Parser state across lines. */
struct parse {
    struct config *cfg;
    struct config_errors *errs;
    const char *section; /* a known section, or NULL */
    bool in_unknown;     /* inside a section already reported unknown */
    unsigned seen[NOPTS]; /* line where each option was set, or 0 */
    char value[CONFIG_LINE_MAX + 1];
    char reason[256];
};

static bool
section_known(const char *name, size_t len, const char **canon)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].section) == len &&
            memcmp(opts[i].section, name, len) == 0) {
            *canon = opts[i].section;
            return true;
        }
    return false;
}

static void
parse_section(struct parse *ps, unsigned line, const char *p,
              const char *end)
{
    const char *name, *close;
    char sh[48];
    size_t len;

    p++; /* '[' */
    while (p < end && is_blank(*p))
        p++;
    name = p;
    while (p < end && is_key_char(*p))
        p++;
    len = (size_t)(p - name);
    while (p < end && is_blank(*p))
        p++;
    close = p;
    if (close == end || *close != ']' || len == 0 ||
        !rest_is_empty(close + 1, end)) {
        errs_add(ps->errs, line,
                 "bad section header (expected [name])",
                 "en-tête de section incorrect ([nom] attendu)");
        ps->section = NULL;
        ps->in_unknown = true;
        return;
    }
    if (!section_known(name, len, &ps->section)) {
        memcpy(ps->value, name, len);
        ps->value[len] = '\0';
        errs_add(ps->errs, line, "unknown section [%s]",
                 "section inconnue [%s]", shown(ps->value, sh));
        ps->section = NULL;
        ps->in_unknown = true;
        return;
    }
    ps->in_unknown = false;
}

static void
parse_assignment(struct parse *ps, unsigned line, const char *p,
                 const char *end)
{
    const char *key = p, *eq;
    char sh[48];
    size_t klen, i;

    while (p < end && is_key_char(*p))
        p++;
    klen = (size_t)(p - key);
    while (p < end && is_blank(*p))
        p++;
    eq = p;
    if (eq == end || *eq != '=') {
        if (memchr(key, '=', (size_t)(end - key)) == NULL)
            errs_add(ps->errs, line, "missing '=' (expected key = value)",
                     "« = » manquant (clé = valeur attendu)");
        else
            errs_add(ps->errs, line,
                     "bad key (letters, digits, '_', '-' and '.')",
                     "clé incorrecte (lettres, chiffres, « _ », « - » et "
                     "« . »)");
        return;
    }
    if (klen == 0) {
        errs_add(ps->errs, line, "missing key before '='",
                 "clé manquante avant « = »");
        return;
    }
    memcpy(ps->value, key, klen);
    ps->value[klen] = '\0';
    if (ps->in_unknown)
        return; /* the section's own error covers its keys */
    if (ps->section == NULL) {
        errs_add(ps->errs, line, "key '%s' outside any [section]",
                 "clé « %s » hors de toute [section]", shown(ps->value, sh));
        return;
    }
    for (i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].section, ps->section) == 0 &&
            strcmp(opts[i].key, ps->value) == 0)
            break;
    if (i == NOPTS) {
        errs_add(ps->errs, line, "unknown key '%s' in [%s]",
                 "clé inconnue « %s » dans [%s]", shown(ps->value, sh),
                 ps->section);
        return;
    }
    if (ps->seen[i] != 0) {
        errs_add(ps->errs, line, "duplicate key '%s' (first set on line %u)",
                 "clé « %s » en double (déjà donnée ligne %u)", opts[i].key,
                 ps->seen[i]);
        return;
    }
    ps->seen[i] = line;
    if (value_extract(eq + 1, end, ps->value, ps->reason,
                      sizeof(ps->reason)) != 0 ||
        opt_set(ps->cfg, &opts[i], ps->value, ps->reason,
                sizeof(ps->reason)) != 0)
        errs_add_raw(ps->errs, line, ps->reason);
}

int
config_parse(const char *text, size_t len, struct config *cfg,
             struct config_errors *errs)
{
    struct parse ps;
    const char *p = text, *end = text + len, *nl, *lend;
    unsigned line = 0;

    memset(errs, 0, sizeof(*errs));
    memset(&ps, 0, sizeof(ps));
    ps.cfg = cfg;
    ps.errs = errs;
    while (p < end) {
        line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        lend = nl != NULL ? nl : end;
        if (lend > p && lend[-1] == '\r')
            lend--;
        if ((size_t)(lend - p) > CONFIG_LINE_MAX)
            errs_add(errs, line, "line longer than %d bytes",
                     "ligne de plus de %d octets", CONFIG_LINE_MAX);
        else if (memchr(p, '\0', (size_t)(lend - p)) != NULL)
            errs_add(errs, line, "NUL byte in the line",
                     "octet NUL dans la ligne");
        else {
            const char *q = p;

            while (q < lend && is_blank(*q))
                q++;
            if (q == lend || *q == '#' || *q == ';')
                ; /* blank or comment */
            else if (*q == '[')
                parse_section(&ps, line, q, lend);
            else
                parse_assignment(&ps, line, q, lend);
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return errs->count == 0 ? 0 : ERR_CONFIG;
}

/* Joins |dir| and |name| into |out| unless |out| is already set. */
static bool
derive(char *out, size_t size, const char *dir, const char *name)
{
    if (out[0] != '\0')
        return true;
    return snprintf(out, size, "%s/%s", dir, name) < (int)size;
}

int
config_finish(struct config *cfg, char *reason, size_t size)
{
    if (cfg->keys_dir[0] == '\0' || cfg->data_dir[0] == '\0') {
        reason_fmt(reason, size,
                   "the keys directory ([keys] dir, --keys) and the data "
                   "directory ([store] data, --data) are required",
                   "le répertoire des clés ([keys] dir, --keys) et celui "
                   "des données ([store] data, --data) sont obligatoires");
        return ERR_CONFIG;
    }
    if (!derive(cfg->cert_file, sizeof(cfg->cert_file), cfg->keys_dir,
                "server.crt") ||
        !derive(cfg->key_file, sizeof(cfg->key_file), cfg->keys_dir,
                "server.key") ||
        !derive(cfg->ca_file, sizeof(cfg->ca_file), cfg->keys_dir,
                "ca.crt") ||
        !derive(cfg->keystore_dir, sizeof(cfg->keystore_dir), cfg->keys_dir,
                "keystore")) {
        reason_fmt(reason, size, "keys directory path too long",
                   "chemin du répertoire des clés trop long");
        return ERR_CONFIG;
    }
    if (cfg->catalog[0] == '\0') {
        reason_fmt(reason, size, "no catalogue of document types "
                   "([store] catalog, --catalog)",
                   "pas de catalogue des types de pièces ([store] catalog, "
                   "--catalog)");
        return ERR_CONFIG;
    }
    return 0;
}

#define CONFIG_FILE_MAX (1u << 20)

int
config_load(const char *path, struct config *cfg,
            struct config_errors *errs)
{
    struct stat st;
    char *text = NULL;
    ssize_t n;
    size_t len = 0;
    int fd, rc;

    memset(errs, 0, sizeof(*errs));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        errs_add(errs, 0, "cannot read the file: %s",
                 "lecture du fichier impossible : %s", strerror(errno));
        return ERR_CONFIG;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errs_add(errs, 0, "not a regular file", "pas un fichier ordinaire");
        close(fd);
        return ERR_CONFIG;
    }
    if ((text = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
        close(fd);
        errs_add(errs, 0, "out of memory", "mémoire insuffisante");
        return ERR_CONFIG;
    }
    while (len <= CONFIG_FILE_MAX &&
           (n = read(fd, text + len, CONFIG_FILE_MAX + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errs_add(errs, 0, "cannot read the file: %s",
                     "lecture du fichier impossible : %s", strerror(errno));
            goto fail;
        }
        len += (size_t)n;
    }
    if (len > CONFIG_FILE_MAX) {
        errs_add(errs, 0, "file larger than 1 MiB",
                 "fichier de plus de 1 Mio");
        goto fail;
    }
    close(fd);
    rc = config_parse(text, len, cfg, errs);
    free(text);
    return rc;
fail:
    close(fd);
    free(text);
    return ERR_CONFIG;
}
