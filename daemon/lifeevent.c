/*
 * lifeevent.c -- life events: the table of expected papers and the checks
 * of the declared change (see lifeevent.h).
 *
 * The expected papers come from the catalogue of pièces justificatives
 * (packaging/pieces.tsv): what a CAF, a CPAM or any agency usually asks
 * for after the event.  The table is data, kept short on purpose: a row
 * per (event, agency kind), the "*" row for every other agency.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "lifeevent.h"

struct expected_row {
    const char *event;
    const char *kind; /* "*": any other agency */
    const char *types[LIFEEVENT_EXPECTED_MAX];
};

static const struct expected_row expected_rows[] = {
    {LIFEEVENT_MOVE, "caf", {"justificatif-domicile", "bail"}},
    {LIFEEVENT_MOVE, "*", {"justificatif-domicile"}},
    {LIFEEVENT_BIRTH, "caf", {"acte-naissance", "livret-famille"}},
    {LIFEEVENT_BIRTH, "cpam", {"acte-naissance"}},
    {LIFEEVENT_BIRTH, "*", {"acte-naissance", "livret-famille"}},
    {LIFEEVENT_SEPARATION, "caf",
     {"jugement-divorce", "justificatif-domicile", "rib"}},
    {LIFEEVENT_SEPARATION, "*", {"jugement-divorce"}},
};

bool
lifeevent_known(const char *code)
{
    return code != NULL && (strcmp(code, LIFEEVENT_MOVE) == 0 ||
                            strcmp(code, LIFEEVENT_BIRTH) == 0 ||
                            strcmp(code, LIFEEVENT_SEPARATION) == 0);
}

const char *
lifeevent_codes(void)
{
    return LIFEEVENT_MOVE ", " LIFEEVENT_BIRTH ", " LIFEEVENT_SEPARATION;
}

size_t
lifeevent_expected(const char *code, const char *agency_kind,
                   const char **out, size_t max)
{
    const struct expected_row *row = NULL;
    size_t n = 0;

    if (!lifeevent_known(code))
        return 0;
    for (size_t i = 0; i < sizeof(expected_rows) / sizeof(expected_rows[0]);
         i++) {
        const struct expected_row *r = &expected_rows[i];

        if (strcmp(r->event, code) != 0)
            continue;
        if (agency_kind != NULL && strcmp(r->kind, agency_kind) == 0) {
            row = r;
            break;
        }
        if (strcmp(r->kind, "*") == 0 && row == NULL)
            row = r;
    }
    if (row == NULL)
        return 0;
    while (n < max && n < LIFEEVENT_EXPECTED_MAX && row->types[n] != NULL) {
        out[n] = row->types[n];
        n++;
    }
    return n;
}

static bool
str_eq(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static bool
address_eq(const Dossier__V1__Address *a, const Dossier__V1__Address *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return str_eq(a->line1, b->line1) && str_eq(a->line2, b->line2) &&
           str_eq(a->postal_code, b->postal_code) && str_eq(a->city, b->city) &&
           str_eq(a->country, b->country);
}

static size_t
count_relation(const Dossier__V1__Situation *s, const char *relation,
               bool need_birth_date)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (size_t i = 0; i < s->n_household; i++) {
        const Dossier__V1__HouseholdMember *m = s->household[i];

        if (!str_eq(m->relation, relation))
            continue;
        if (need_birth_date && (m->birth_date == NULL ||
                                m->birth_date->year == 0))
            continue;
        n++;
    }
    return n;
}

int
lifeevent_check(const char *code, const Dossier__V1__Situation *before,
                const Dossier__V1__Situation *after, char *why, size_t len)
{
    if (!lifeevent_known(code)) {
        snprintf(why, len, "life_event: unknown, expected one of %s",
                 lifeevent_codes());
        return ERR_INVALID;
    }
    if (after == NULL) {
        snprintf(why, len, "situation: required, the situation after the %s",
                 code);
        return ERR_INVALID;
    }
    if (strcmp(code, LIFEEVENT_MOVE) == 0) {
        if (after->address == NULL) {
            snprintf(why, len, "demenagement: situation.address is required "
                               "(the new address)");
            return ERR_INVALID;
        }
        if (before != NULL && address_eq(before->address, after->address)) {
            snprintf(why, len, "demenagement: the new address is the same as "
                               "the current one");
            return ERR_INVALID;
        }
        return 0;
    }
    if (strcmp(code, LIFEEVENT_BIRTH) == 0) {
        if (count_relation(after, "enfant", true) <=
            count_relation(before, "enfant", true)) {
            snprintf(why, len, "naissance: the household must gain a member "
                               "whose relation is \"enfant\", with a "
                               "birth_date");
            return ERR_INVALID;
        }
        return 0;
    }
    if (count_relation(after, "conjoint", false) >=
        count_relation(before, "conjoint", false)) {
        snprintf(why, len, "separation: a member whose relation is "
                           "\"conjoint\" must leave the household");
        return ERR_INVALID;
    }
    return 0;
}
