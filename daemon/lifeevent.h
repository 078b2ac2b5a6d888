/*
 * lifeevent.h -- the life events a person declares once ("déménagement",
 * "naissance", "séparation"): what each one must change in the situation,
 * and which papers the agencies concerned will expect after it.
 *
 * A pure table and checks: no store, no consent.  Events.DeclareLifeEvent
 * (svc_events.c) validates the declared situation here, records it, and
 * the event log (events.c) attaches the expected papers to what each
 * agency is told.
 */
#ifndef DOSSIER_LIFEEVENT_H
#define DOSSIER_LIFEEVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "dossier/v1/persons.pb-c.h"

#define LIFEEVENT_EXPECTED_MAX 8 /* papers listed for one agency, at most */

/* The codes, as in DeclareLifeEventRequest.life_event. */
#define LIFEEVENT_MOVE "demenagement"
#define LIFEEVENT_BIRTH "naissance"
#define LIFEEVENT_SEPARATION "separation"

/* True if |code| names a known life event. */
bool lifeevent_known(const char *code);

/* "demenagement, naissance, separation": for error messages. */
const char *lifeevent_codes(void);

/*
 * The document types (catalogue codes, static strings) that an agency of
 * kind |agency_kind| ("caf", "cpam"...; NULL or unknown: what every
 * agency expects) will expect after life event |code|, into |out| (room
 * for |max|).  Returns how many were written; 0 for an unknown code.
 * Any thread.
 */
size_t lifeevent_expected(const char *code, const char *agency_kind,
                          const char **out, size_t max);

/*
 * Checks that going from situation |before| (NULL: none recorded yet) to
 * |after| is the life event |code|: a move changes the address; a birth
 * adds a household member whose relation is "enfant", with a birth date;
 * a separation removes a member whose relation is "conjoint".  Returns 0,
 * or ERR_INVALID with a sentence in |why| (|len| bytes) naming what is
 * missing, without any personal value.  Any thread.
 */
int lifeevent_check(const char *code, const Dossier__V1__Situation *before,
                    const Dossier__V1__Situation *after, char *why,
                    size_t len);

#endif
