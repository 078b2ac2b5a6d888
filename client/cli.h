/*
 * cli.h -- what every `dossier` subcommand shares: the settings of the
 * run, the connection to dossierd, the words said to people, the exit
 * status.
 *
 * A subcommand file (cmd_*.c) parses its own options with cli_getopt,
 * calls the daemon through cli_unary or a grpcc call on cli_conn(), and
 * hands every failure to cli_status_report, which prints one sentence
 * (what happened, what to do) in the person's language and returns the
 * exit status.  Nothing here is specific to one job.
 */
#ifndef DOSSIER_CLI_H
#define DOSSIER_CLI_H

#include <getopt.h>
#include <libintl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "grpcc.h"

#define PROG "dossier"
#define _(s) gettext(s)
#define N_(s) (s)

/* Exit statuses (dossier(1), EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,        /* failed for another reason; verify: altered */
    EXIT_USAGE = 2,       /* bad command line, bad value, bad local file */
    EXIT_DENIED = 3,      /* refused by the service (no consent...) */
    EXIT_NOTFOUND = 4,    /* no such dossier, document, consent... */
    EXIT_UNAVAILABLE = 5, /* the service cannot be reached or is draining */
    EXIT_CONFIG = 6,      /* certificate, key or CA missing or unusable */
};

/* The settings of one run (settings.c): flags, then environment, then the
 * configuration file, then the defaults. */
struct cli_settings {
    char server[256]; /* HOST:PORT */
    char as[128];     /* principal file name: "agency-caf-75" */
    char keys[1024];  /* directory of the development keys */
    char cert[1024], key[1024], ca[1024];
    char config_path[1024]; /* the file read, or "" */
    int timeout_ms;
};

struct cli {
    struct cli_settings set;
    bool french;
    bool json;    /* --json: machine output on stdout */
    bool quiet;
    struct grpcc *conn;
    char me[256];  /* our own principal URI (from the certificate) */
    char td[128];  /* its trust domain */
};

/* --- settings.c -------------------------------------------------------- */

/*
 * Applies the global options found anywhere on the command line
 * (--server, --as, --keys, --cert, --key, --ca, --config, --json,
 * --timeout) and removes them from |argv| (|*argc| updated); then fills
 * the rest from DOSSIER_SERVER, DOSSIER_AS, DOSSIER_KEYS, DOSSIER_CERT,
 * DOSSIER_KEY, DOSSIER_CA, DOSSIER_CONFIG, then the configuration file
 * ($XDG_CONFIG_HOME/dossier/config, default ~/.config/dossier/config;
 * "name = value" lines), then the defaults (127.0.0.1:7443, person-demo,
 * keys/dev of the working directory or of the source tree the binary was
 * built in).  Returns EXIT_OK or EXIT_USAGE after saying what is wrong.
 */
int cli_settings_load(struct cli *cli, int *argc, char **argv);

/* --- cli.c ------------------------------------------------------------- */

/* Picks the language (LC_ALL, LC_MESSAGES, LANG: "fr..." is French) and
 * binds the gettext catalogue next to the binary (../locale) or in the
 * system's.  Returns true for French. */
bool cli_i18n_init(void);

/* Says |fmt| (already translated) on stderr, "dossier: " first, then a
 * newline.  For usage errors and every sentence about a failure. */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The connection to dossierd, opened at the first use: checks the
 * certificate, key and CA files first (saying which is missing and how to
 * get one).  Returns NULL after saying why; |*exit_code| is then the exit
 * status to return.
 */
struct grpcc *cli_conn(struct cli *cli, int *exit_code);

/*
 * Says what a failed call means for the person -- one sentence in their
 * language: what happened and what to do -- with the server's detail in
 * parentheses where it helps; |what| names the object ("document
 * p123...") or is NULL.  Returns the exit status for |st|.
 */
int cli_status_report(struct cli *cli, const struct grpcc_status *st,
                      const char *what);

/*
 * One unary call on the connection, reported on failure.  Returns
 * EXIT_OK with |*resp| set (free with protobuf_c_message_free_unpacked),
 * or the exit status after the report.
 */
int cli_unary(struct cli *cli, const char *path, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
              const char *what);

/*
 * getopt_long over a subcommand's options (argv[0] is the verb) with
 * "--help"/"-h" handled: prints |help| (translated) and returns 'h'.
 * Unknown options and missing values are said once; returns '?' then.
 */
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *opts);

/* Loads our certificate to learn our principal URI (cli->me, cli->td),
 * without connecting.  Returns EXIT_OK or the exit status after saying
 * why the certificate cannot be used. */
int cli_identity(struct cli *cli);

/* The exit status after a usage error of the verb |verb| ("documents put"):
 * says "try dossier VERB --help". */
int cli_usage_error(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints |help| on stdout; returns EXIT_OK. */
int cli_help(const char *help);

/*
 * Resolves a principal given on the command line to its URI: a URI is
 * kept; "agency-cpam-69" or "cpam-69" with |kind| "agency" becomes
 * spiffe://<trust domain of our own certificate>/agency/cpam-69.  Returns
 * 0 or -1 (not a principal name).
 */
int cli_principal_uri(struct cli *cli, const char *kind, const char *name,
                      char *out, size_t outsz);

/* A short human name of a principal URI: "agency cpam-69" ("organisme
 * cpam-69" in French).  |out| of |outsz| bytes. */
const char *cli_principal_label(const char *uri, char *out, size_t outsz);

/* Confirms on the terminal: prints |question| and reads a line; true when
 * the answer is yes ("o", "oui", "y", "yes"). */
bool cli_confirm(const char *question);

/* Splits a comma list into |out| (at most |max|); the string is modified. */
size_t cli_split_list(char *s, char **out, size_t max);

/* --- dates.c ----------------------------------------------------------- */

/*
 * Parses a date written 2026-12-03, 03/12/2026 or 3/12/2026, or "today",
 * "+N" (N days from today).  Returns 0 or -1 (not a date of the calendar).
 */
int cli_date_parse(const char *s, int *y, int *m, int *d);

/* Unix seconds of the end of day |y-m-d| in local time (23:59:59). */
int64_t cli_date_end_unix(int y, int m, int d);

/* Unix seconds of the start of day |y-m-d| in local time. */
int64_t cli_date_start_unix(int y, int m, int d);

/* A date for a table: 03/12/2026 (French) or 2026-12-03.  "-" for 0. */
const char *cli_date_short(bool french, int y, int m, int d, char *out,
                           size_t outsz);

/* A date for a sentence: "3 décembre 2026" or "3 December 2026". */
const char *cli_date_long(bool french, int y, int m, int d, char *out,
                          size_t outsz);

/* Unix seconds as a local date and time for a table: "03/12/2026 14:05"
 * or "2026-12-03 14:05"; "-" for 0. */
const char *cli_time_short(bool french, int64_t unix_s, char *out,
                           size_t outsz);

/* Unix seconds as "3 décembre 2026 à 14:05" / "3 December 2026, 14:05". */
const char *cli_time_long(bool french, int64_t unix_s, char *out,
                          size_t outsz);

/* ISO 8601 UTC for JSON: "2026-12-03T13:05:00Z". */
const char *cli_time_iso(int64_t unix_s, char *out, size_t outsz);

/* Splits unix seconds into the local y-m-d. */
void cli_time_day(int64_t unix_s, int *y, int *m, int *d);

#endif
