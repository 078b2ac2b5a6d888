/*
 * admin_say.h -- how dossier-admin speaks to the operator.
 *
 * One error line on stderr per problem, where it is found: the English
 * sentence, " / ", then the French one, with positional arguments (%1$s)
 * used in both.  Shared by the files of dossier-admin (one role each).
 */
#ifndef DOSSIER_ADMIN_SAY_H
#define DOSSIER_ADMIN_SAY_H

#include <stdbool.h>
#include <stddef.h>

#define ADMIN_PROG "dossier-admin"

/* "dossier-admin: " then the formatted message and a newline, on
 * stderr. */
void admin_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lower-case hex of |n| bytes into |out| (2n + 1 bytes). */
void admin_hex(const void *p, size_t n, char *out);

/* Parses exactly 2n hex digits of |s| into |out|; false otherwise. */
bool admin_unhex(const char *s, size_t n, void *out);

#endif
