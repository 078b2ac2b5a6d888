/*
 * config.h -- dossierd's configuration: every option, its default, its
 * range, and the INI-style file that sets them (dossierd.conf(5)).
 *
 * The file is read as lines of "[section]", "key = value", blank lines
 * and comments ("#" or ";" as the first character that is not blank, or a
 * "#" after a blank on a value line).  A value may be written in double
 * quotes to keep blanks or a "#"; inside quotes, \" and \\ stand for " and
 * \.  Byte sizes take an optional K, M or G suffix (powers of 1024);
 * booleans are yes/no, true/false, on/off or 1/0.
 *
 * config_parse() is a pure function over a buffer (no I/O, no allocation,
 * no global state, no logging) so that it can be fuzzed and tested by
 * tables; config_load() is the only function here that touches a file.
 * This module knows nothing of what the daemon does with the values:
 * main.c copies them into the server and the stores.
 */
#ifndef DOSSIER_CONFIG_H
#define DOSSIER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest path kept (the size of the path fields below, NUL included). */
#define CONFIG_PATH_MAX 4096
/* At most this many errors are kept by one parse; more are counted. */
#define CONFIG_MAX_ERRORS 32
/* Longest line accepted, without its newline. */
#define CONFIG_LINE_MAX 8192

struct config {
    /* [server] */
    char listen_host[64];       /* "127.0.0.1" (IPv6 without brackets) */
    int listen_port;            /* 7443 */
    char trust_domain[128];     /* "dossier.test" */
    bool diag;                  /* serve dossier.v1.Diag */
    /* [keys] */
    char keys_dir[CONFIG_PATH_MAX];  /* server.crt/.key, ca.crt, data keys */
    char cert_file[CONFIG_PATH_MAX]; /* "": KEYS/server.crt */
    char key_file[CONFIG_PATH_MAX];  /* "": KEYS/server.key */
    char ca_file[CONFIG_PATH_MAX];   /* "": KEYS/ca.crt */
    /* [store] */
    char data_dir[CONFIG_PATH_MAX];     /* the LMDB store of dossiers */
    char keystore_dir[CONFIG_PATH_MAX]; /* "": KEYS/keystore */
    char catalog[CONFIG_PATH_MAX];      /* document types (pieces.tsv) */
    uint64_t map_size;                  /* 1 GiB; 1 MiB .. 1 TiB */
    uint64_t max_document;              /* 50 MiB; 0 .. 4 GiB */
    /* [limits] */
    uint64_t max_message;           /* 4 MiB; 1 KiB .. 1 GiB */
    uint32_t max_streams;           /* 100 per connection; 1 .. 10000 */
    uint32_t max_connections;       /* 20000; 1 .. 1000000 */
    uint32_t max_header_list;       /* 16 KiB; 1 KiB .. 1 MiB */
    uint64_t handshake_timeout_ms;  /* 10000; 100 .. 600000 */
    uint64_t drain_timeout_ms;      /* 10000; 0 .. 3600000 */
    /* [audit] */
    uint32_t audit_retention_days;  /* 0 (keep all); 0 .. 36500 */
    /* [events] */
    uint32_t event_retention_days;  /* 30; 0 (no age limit) .. 36500 */
    uint64_t event_max;             /* 1000000; 0 (no count limit) .. 2^40 */
    /* [log] */
    int log_level;                  /* enum log_level, LOG_LVL_INFO */
    /* [metrics] */
    char metrics_host[64];          /* "": off; a loopback address */
    int metrics_port;
};

struct config_error {
    unsigned line;      /* 1-based; 0 when the error is not on a line */
    char reason[256];   /* "English / français", no secret; may quote a value */
};

struct config_errors {
    size_t count;       /* errors found, possibly more than kept */
    struct config_error list[CONFIG_MAX_ERRORS]; /* the first ones */
};

/* Fills |cfg| with the defaults listed above (no paths: keys_dir and
 * data_dir empty, catalog |catalog_default|, which may be NULL for ""). */
void config_defaults(struct config *cfg, const char *catalog_default);

/*
 * Parses the |len| bytes at |text| (not NUL-terminated; any byte may
 * appear) as a configuration file and sets the options it names in |cfg|,
 * which the caller has filled (config_defaults) and owns.  Options the
 * file does not name keep their value.
 *
 * Every error is recorded in |errs| (reset first) with its line and
 * reason: a line without '=' or not a section header, an unknown section,
 * an unknown key or one outside any section, a key given twice, an empty
 * value, a bad number, boolean, level or address, a value out of range or
 * too long, an unterminated quote, a NUL byte, a line longer than
 * CONFIG_LINE_MAX.  The parse goes on after an error, so one call reports
 * them all; values of lines in error are not applied.
 *
 * Returns 0 when the text has no error, or ERR_CONFIG (|errs->count| > 0;
 * |cfg| may then hold part of the file's values).  Never allocates, never
 * logs; safe from any thread on distinct arguments.
 */
int config_parse(const char *text, size_t len, struct config *cfg,
                 struct config_errors *errs);

/*
 * Sets the option named by its command-line name |name| (e.g. "listen",
 * "max-message", "diag"; the list is dossierd(8)'s) to |value| (NULL for
 * the boolean "diag", which it turns on), with the same checks as the
 * file.  Returns 0, or ERR_CONFIG with the reason written into |reason|
 * (|size| bytes) or ERR_NOTFOUND if no option has that name.
 */
int config_option_set(struct config *cfg, const char *name,
                      const char *value, char *reason, size_t size);

/*
 * Completes |cfg| once every source is read: cert, key, ca and keystore
 * default to their place in the keys directory.  Returns 0, or ERR_CONFIG
 * with the reason in |reason| (|size| bytes) when the keys or data
 * directory is missing or a derived path is too long.
 */
int config_finish(struct config *cfg, char *reason, size_t size);

/*
 * Reads the file |path| and parses it into |cfg| like config_parse().
 * An unreadable file, or one larger than 1 MiB, is recorded in |errs| as
 * one error on line 0.  Returns 0 or ERR_CONFIG.  Blocks on the read.
 */
int config_load(const char *path, struct config *cfg,
                struct config_errors *errs);

#endif
