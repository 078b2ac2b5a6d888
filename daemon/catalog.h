/*
 * catalog.h -- the catalogue of document types (pièces justificatives).
 *
 * Loaded from a tab-separated file the operator can extend (the default,
 * packaging/pieces.tsv, is installed with the daemon).  One type a line:
 *
 *     code <TAB> label (fr) <TAB> typical issuer <TAB> default validity
 *          [<TAB> notes]
 *
 * Lines starting with '#' are comments; empty lines are skipped; a CR
 * before the newline is ignored.  Codes are 1 to 64 characters among
 * a-z 0-9 '-', unique in the file.  Text fields must be valid UTF-8
 * without control characters (they reach clients as protobuf strings).
 * The default validity is free text; common forms are also parsed into
 * days (see struct catalog_entry).
 *
 * The module only reads and answers look-ups: which types a principal may
 * deposit or read is policy's business.  A loaded catalogue is never
 * modified: any number of threads may use it at once.  Reload (SIGHUP)
 * loads a new one and swaps the pointer; the old one is freed once no
 * request uses it.
 */
#ifndef DOSSIER_CATALOG_H
#define DOSSIER_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct catalog;

#define CATALOG_CODE_MAX 64        /* longest code */
#define CATALOG_FILE_MAX (1 << 20) /* largest catalogue file: 1 MiB */

/* What the default validity text says. */
enum catalog_validity {
    /* Free text ("until next year's avis", "as stated"...): not computed;
     * validity_days is 0 and the issuer's dates decide. */
    CATALOG_VALIDITY_OTHER,
    /* "none" (or "aucune"): the document does not expire. */
    CATALOG_VALIDITY_NONE,
    /* "<N> day(s)|week(s)|month(s)|year(s)" (or the French jour(s),
     * semaine(s), mois, an(s)/année(s)), N from 1 to 1000: validity_days
     * holds the length, counting a week as 7 days, a month as 30 and a
     * year as 365.  Approximate by design: a caller needing calendar
     * months ("moins de 3 mois") uses validity_text. */
    CATALOG_VALIDITY_DAYS,
};

/* One document type.  Every string is NUL-terminated, owned by the
 * catalogue and valid until catalog_free; optional ones are "" when
 * absent, never NULL. */
struct catalog_entry {
    const char *code;          /* e.g. "avis-imposition" */
    const char *label;         /* French label, e.g. "Avis d'imposition..." */
    const char *issuer;        /* typical issuer, e.g. "DGFiP" (may be "") */
    const char *validity_text; /* as written, e.g. "3 months" (may be "") */
    const char *notes;         /* may be "" */
    enum catalog_validity validity;
    uint32_t validity_days; /* > 0 only for CATALOG_VALIDITY_DAYS */
};

/*
 * Loads the catalogue file |path| into a new catalogue stored in |*out|
 * (the caller frees it with catalog_free).
 *
 * Returns 0; ERR_CONFIG if the file is not a valid catalogue, with one log
 * line "<path> line <N>: <reason>" naming the first bad line (wrong number
 * of columns, empty or bad code, empty label, invalid UTF-8 or control
 * characters, line over 4096 bytes; duplicates are checked once every line
 * is read, and reported at the second line of the code, naming the
 * first), or "<path>: <reason>" for the file as a whole (larger than
 * CATALOG_FILE_MAX, no entry at all); or ERR_CONFIG too if the file cannot
 * be read (logged with the system's reason).  -ENOMEM if memory ran out.
 * |*out| is NULL on failure.  Any thread; reads a file, so not on the loop
 * thread once serving.
 */
int catalog_load(const char *path, struct catalog **out);

/* Frees |cat| and every entry.  NULL is a no-op. */
void catalog_free(struct catalog *cat);

/*
 * The entry of |code|, or NULL if the catalogue has no such type (also
 * for a NULL or malformed |code|).  Exact, case-sensitive match.  The
 * entry is valid until catalog_free.
 */
const struct catalog_entry *catalog_find(const struct catalog *cat,
                                         const char *code);

/* Number of entries, >= 1. */
size_t catalog_count(const struct catalog *cat);

/* Entry |i| (0 <= i < catalog_count), in file order, for listings.  Valid
 * until catalog_free. */
const struct catalog_entry *catalog_entry_at(const struct catalog *cat,
                                             size_t i);

/* Whether |code| is a well-formed type code: 1 to CATALOG_CODE_MAX
 * characters among a-z 0-9 '-'.  Also the rule for agency fact codes.
 * NULL is not. */
bool catalog_code_valid(const char *code);

#endif
