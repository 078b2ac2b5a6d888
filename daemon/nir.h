/*
 * nir.h -- the French NIR ("numéro de sécurité sociale"): form and key.
 *
 * The NIR (numéro d'inscription au répertoire) is 13 characters and a
 * 2-digit control key:
 *
 *     S YY MM DD CCC OOO KK      e.g. 2 95 10 99 126 111 93
 *
 *     S    sex: 1 or 2; 3, 4, 7 or 8 for provisional numbers
 *     YY   year of birth, 2 digits
 *     MM   month 01-12, or 20-42 / 50-99 (unknown or special months)
 *     DD   département of birth: 2 digits, or 2A / 2B for Corsica
 *     CCC  commune, 3 digits     OOO  order number, 3 digits
 *     KK   97 - (the 13-character number mod 97), 01-97
 *
 * For the key only, Corsica's 2A counts as 19 and 2B as 18 (the INSEE
 * rule; equivalently A and B count as 0 and 1 000 000 or 2 000 000 is
 * subtracted from the 13-digit number).
 *
 * This module checks form and key and gives the canonical form, which is
 * what keyring_nir_hash() hashes.  It does not check that the number was
 * ever issued, nor that month and département agree with a birth date.
 * A NIR is personal data: nothing here logs, and callers must never log
 * one.  Pure functions, no state: any thread.
 */
#ifndef DOSSIER_NIR_H
#define DOSSIER_NIR_H

#define NIR_LEN 15
#define NIR_STR (NIR_LEN + 1) /* with the NUL */

/*
 * Checks |in| and writes its canonical form to |out|: the 15 characters
 * without spaces, Corsica's letter uppercased, NUL-terminated.  Spaces
 * anywhere in |in| are ignored; nothing else is.  |out| may be NULL to
 * only check.  |why|, if not NULL, receives on failure a static English
 * sentence naming the first problem found ("NIR must have 15 characters",
 * "NIR control key does not match"...), fit to show the person typing it
 * (it never contains the number).
 *
 * Returns 0, or ERR_INVALID (|out| then holds an empty string).
 */
int nir_normalize(const char *in, char out[NIR_STR], const char **why);

/*
 * The control key of the 13 first characters of a NIR, |first13| (no
 * spaces; 2A / 2B accepted in positions 6-7, either case).  Used by the
 * checks above and to make demo numbers.
 *
 * Returns the key, 1..97, or ERR_INVALID if |first13| is not 13 digits
 * (with the Corsica exception).  Does not check sex, month or the rest.
 */
int nir_key_compute(const char *first13);

#endif
