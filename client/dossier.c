/*
 * dossier.c -- `dossier`, the command line of the people who use the
 * dossier service: auditors first, agents and persons later.
 *
 * A small dispatcher by job: `dossier GROUP VERB [OPTIONS]`, each verb in
 * the table below with its own option parser, its work done by a module
 * of its own (audit verify: audit_verify.c).  This file reads the command
 * line, picks the language of the report (LC_ALL, LC_MESSAGES, LANG
 * starting with "fr": French; else English), and turns the outcome into
 * the exit status: 0 success (everything verifies), 1 failure (something
 * does not), 2 usage error or a file that cannot be read.
 *
 * Usage and usage errors are said in both languages, English then French,
 * as dossier-admin does; reports in the language picked.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_verify.h"
#include "err.h"

#define PROG "dossier"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: " PROG " GROUP COMMAND [OPTIONS]\n"
    "utilisation : " PROG " GROUPE COMMANDE [OPTIONS]\n"
    "\n"
    "  audit verify --entries FILE --checkpoint FILE [--checkpoint FILE2]\n"
    "               --pub audit.pub [--from N]\n"
    "      Check offline, trusting nothing from the daemon, a segment of the\n"
    "      audit log exported by Audit.Query (FILE: gRPC length-prefixed\n"
    "      dossier.v1.AuditEntry messages, entry N first, default 0) against\n"
    "      one or two checkpoints of Audit.GetCheckpoint (serialised\n"
    "      dossier.v1.Checkpoint, the older first): their Ed25519 signatures\n"
    "      and key ids with the public key audit.pub, each entry's index,\n"
    "      the Merkle root of every checkpoint the segment covers from\n"
    "      entry 0, and that the second checkpoint extends the first.\n"
    "      Vérifie hors ligne, sans rien croire du démon, un segment du\n"
    "      journal d'audit exporté par Audit.Query (FILE : messages\n"
    "      dossier.v1.AuditEntry préfixés par leur longueur comme en gRPC,\n"
    "      l'entrée N d'abord, 0 par défaut) avec un ou deux points de\n"
    "      contrôle d'Audit.GetCheckpoint (dossier.v1.Checkpoint sérialisé,\n"
    "      le plus ancien d'abord) : leurs signatures Ed25519 et identifiants\n"
    "      de clé avec la clé publique audit.pub, l'index de chaque entrée,\n"
    "      la racine de Merkle de chaque point de contrôle que le segment\n"
    "      couvre depuis l'entrée 0, et que le second prolonge le premier.\n"
    "\n"
    "The report is in French when LC_ALL, LC_MESSAGES or LANG starts with\n"
    "\"fr\", else in English. / Le rapport est en français si LC_ALL,\n"
    "LC_MESSAGES ou LANG commence par « fr », sinon en anglais.\n"
    "Exit status / code de sortie : 0 everything verifies / tout est\n"
    "vérifié, 1 something does not / une vérification échoue, 2 usage error\n"
    "or unreadable file / erreur d'utilisation ou fichier illisible.\n";

static void complain(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* One usage error on stderr: the English sentence, " / ", the French one,
 * with positional arguments (%1$s) used in both. */
static void
complain(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The language of messages, as setlocale would pick LC_MESSAGES: the first
 * of LC_ALL, LC_MESSAGES, LANG that is set and not empty. */
static bool
lang_french(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *s = getenv(vars[i]);

        if (s != NULL && *s != '\0')
            return strncmp(s, "fr", 2) == 0;
    }
    return false;
}

/* --- audit verify --------------------------------------------------------- */

enum { OPT_ENTRIES = 1, OPT_CHECKPOINT, OPT_PUB, OPT_FROM, OPT_HELP };

static const struct option verify_opts[] = {
    {"entries", required_argument, NULL, OPT_ENTRIES},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"pub", required_argument, NULL, OPT_PUB},
    {"from", required_argument, NULL, OPT_FROM},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* An entry index: decimal digits only (no sign, no space), below 2^64. */
static bool
index_parse(const char *s, uint64_t *out)
{
    unsigned long long n;
    char *end;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

/* Parses the options of `audit verify` (|argv|[0] is "verify") into |a|.
 * Returns 0, 1 for --help, or -1 after saying what is wrong. */
static int
verify_opts_parse(int argc, char **argv, struct audit_verify_args *a)
{
    bool from_seen = false;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", verify_opts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP:
            return 1;
        case ':':
            complain("%1$s needs a value / %1$s attend une valeur",
                     argv[optind - 1]);
            return -1;
        case '?':
            complain("unknown option %1$s; try " PROG " --help / "
                     "option %1$s inconnue ; essayez " PROG " --help",
                     argv[optind - 1]);
            return -1;
        case OPT_ENTRIES:
        case OPT_PUB: {
            const char **p = c == OPT_ENTRIES ? &a->entries : &a->pub;

            if (*p != NULL) {
                complain("--%1$s given twice / --%1$s donné deux fois",
                         verify_opts[c - 1].name);
                return -1;
            }
            if (*optarg == '\0') {
                complain("--%1$s needs a file / --%1$s attend un fichier",
                         verify_opts[c - 1].name);
                return -1;
            }
            *p = optarg;
            break;
        }
        case OPT_CHECKPOINT:
            if (a->n_checkpoints == AUDIT_VERIFY_CHECKPOINTS_MAX) {
                complain("at most %1$d --checkpoint (the older, then the "
                         "newer) / au plus %1$d --checkpoint (le plus "
                         "ancien, puis le plus récent)",
                         AUDIT_VERIFY_CHECKPOINTS_MAX);
                return -1;
            }
            if (*optarg == '\0') {
                complain("--checkpoint needs a file / --checkpoint attend un "
                         "fichier");
                return -1;
            }
            a->checkpoints[a->n_checkpoints++] = optarg;
            break;
        case OPT_FROM:
            if (from_seen) {
                complain("--from given twice / --from donné deux fois");
                return -1;
            }
            from_seen = true;
            if (!index_parse(optarg, &a->from)) {
                complain("invalid --from '%1$s': the index of the segment's "
                         "first entry, a whole number from 0 / --from "
                         "'%1$s' invalide : l'index de la première entrée "
                         "du segment, un nombre entier à partir de 0",
                         optarg);
                return -1;
            }
            break;
        }
    }
    if (optind < argc) {
        complain("unexpected argument '%1$s' / argument inattendu '%1$s'",
                 argv[optind]);
        return -1;
    }
    if (a->entries == NULL || a->n_checkpoints == 0 || a->pub == NULL) {
        complain("audit verify needs --%1$s / audit verify exige --%1$s",
                 a->entries == NULL      ? "entries"
                 : a->n_checkpoints == 0 ? "checkpoint"
                                         : "pub");
        return -1;
    }
    return 0;
}

static int
cmd_audit_verify(int argc, char **argv, bool french)
{
    struct audit_verify_args a = {.french = french, .out = stdout};
    int rc;

    rc = verify_opts_parse(argc, argv, &a);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (rc < 0)
        return EXIT_USAGE;
    rc = audit_verify_run(&a);
    fflush(stdout);
    if (rc == 0)
        return EXIT_OK;
    if (rc == ERR_CORRUPT)
        return EXIT_FAIL;
    /* No verdict: audit_verify_run said why. */
    return EXIT_USAGE;
}

/* --- dispatch ------------------------------------------------------------- */

static const struct job {
    const char *group, *verb;
    int (*run)(int argc, char **argv, bool french); /* returns exit status */
} jobs[] = {
    {"audit", "verify", cmd_audit_verify},
};

static bool
is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 ||
           strcmp(s, "help") == 0;
}

int
main(int argc, char **argv)
{
    bool group_known = false;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        if (strcmp(argv[1], jobs[i].group) != 0)
            continue;
        group_known = true;
        if (argc >= 3 && is_help(argv[2])) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (argc >= 3 && strcmp(argv[2], jobs[i].verb) == 0)
            /* getopt sees the verb as its argv[0]. */
            return jobs[i].run(argc - 2, argv + 2, lang_french());
    }
    if (!group_known)
        complain("unknown command '%1$s'; try " PROG " --help / "
                 "commande '%1$s' inconnue ; essayez " PROG " --help",
                 argv[1]);
    else if (argc < 3)
        complain("%1$s needs a command; try " PROG " --help / "
                 "%1$s attend une commande ; essayez " PROG " --help",
                 argv[1]);
    else
        complain("unknown command '%1$s %2$s'; try " PROG " --help / "
                 "commande '%1$s %2$s' inconnue ; essayez " PROG " --help",
                 argv[1], argv[2]);
    return EXIT_USAGE;
}
