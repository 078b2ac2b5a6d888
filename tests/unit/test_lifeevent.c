/*
 * test_lifeevent.c -- unit tests of lifeevent.c: the papers expected per
 * agency kind, and the check of every life event against situations that
 * are and are not that event.
 */
#include <string.h>

#include "err.h"
#include "lifeevent.h"
#include "suites.h"

static Dossier__V1__Address addr_a = DOSSIER__V1__ADDRESS__INIT;
static Dossier__V1__Address addr_b = DOSSIER__V1__ADDRESS__INIT;
static Dossier__V1__Date born = DOSSIER__V1__DATE__INIT;
static Dossier__V1__HouseholdMember spouse = DOSSIER__V1__HOUSEHOLD_MEMBER__INIT;
static Dossier__V1__HouseholdMember child = DOSSIER__V1__HOUSEHOLD_MEMBER__INIT;
static Dossier__V1__HouseholdMember child_nodate =
    DOSSIER__V1__HOUSEHOLD_MEMBER__INIT;

static void
setup(void)
{
    addr_a.line1 = "1 rue A";
    addr_a.city = "Lyon";
    addr_b.line1 = "2 rue B";
    addr_b.city = "Lyon";
    born.year = 2026;
    born.month = 11;
    born.day = 2;
    spouse.relation = "conjoint";
    child.relation = "enfant";
    child.birth_date = &born;
    child_nodate.relation = "enfant";
}

static void
situation(Dossier__V1__Situation *s, Dossier__V1__Address *a,
          Dossier__V1__HouseholdMember **members, size_t n)
{
    dossier__v1__situation__init(s);
    s->address = a;
    s->household = members;
    s->n_household = n;
}

START_TEST(test_expected_by_kind)
{
    const char *out[LIFEEVENT_EXPECTED_MAX];
    size_t n;

    n = lifeevent_expected(LIFEEVENT_MOVE, "caf", out, LIFEEVENT_EXPECTED_MAX);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(out[0], "justificatif-domicile");
    ck_assert_str_eq(out[1], "bail");
    /* An agency without a row of its own gets the common one. */
    n = lifeevent_expected(LIFEEVENT_MOVE, "mdph", out, LIFEEVENT_EXPECTED_MAX);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(out[0], "justificatif-domicile");
    n = lifeevent_expected(LIFEEVENT_MOVE, NULL, out, LIFEEVENT_EXPECTED_MAX);
    ck_assert_uint_eq(n, 1);
    n = lifeevent_expected(LIFEEVENT_BIRTH, "cpam", out, LIFEEVENT_EXPECTED_MAX);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(out[0], "acte-naissance");
    n = lifeevent_expected(LIFEEVENT_SEPARATION, "caf", out, 2);
    ck_assert_uint_eq(n, 2); /* |max| bounds the list */
    ck_assert_uint_eq(lifeevent_expected("mariage", "caf", out, 8), 0);
    ck_assert_uint_eq(lifeevent_expected(NULL, "caf", out, 8), 0);
}
END_TEST

START_TEST(test_known)
{
    ck_assert(lifeevent_known("demenagement"));
    ck_assert(lifeevent_known("naissance"));
    ck_assert(lifeevent_known("separation"));
    ck_assert(!lifeevent_known("Demenagement"));
    ck_assert(!lifeevent_known(""));
    ck_assert(!lifeevent_known(NULL));
}
END_TEST

START_TEST(test_move)
{
    Dossier__V1__Situation before, after;
    char why[256];

    situation(&before, &addr_a, NULL, 0);
    situation(&after, &addr_b, NULL, 0);
    ck_assert_int_eq(lifeevent_check("demenagement", &before, &after, why,
                                     sizeof(why)),
                     0);
    /* A first address is a move too. */
    ck_assert_int_eq(
        lifeevent_check("demenagement", NULL, &after, why, sizeof(why)), 0);
    ck_assert_int_eq(lifeevent_check("demenagement", &before, &before, why,
                                     sizeof(why)),
                     ERR_INVALID);
    ck_assert(strstr(why, "same") != NULL);
    situation(&after, NULL, NULL, 0);
    ck_assert_int_eq(lifeevent_check("demenagement", &before, &after, why,
                                     sizeof(why)),
                     ERR_INVALID);
    ck_assert(strstr(why, "address") != NULL);
    /* No personal value in the sentence. */
    ck_assert(strstr(why, "rue") == NULL);
}
END_TEST

START_TEST(test_birth)
{
    Dossier__V1__HouseholdMember *one[] = {&spouse};
    Dossier__V1__HouseholdMember *two[] = {&spouse, &child};
    Dossier__V1__HouseholdMember *nodate[] = {&spouse, &child_nodate};
    Dossier__V1__Situation before, after;
    char why[256];

    situation(&before, &addr_a, one, 1);
    situation(&after, &addr_a, two, 2);
    ck_assert_int_eq(
        lifeevent_check("naissance", &before, &after, why, sizeof(why)), 0);
    ck_assert_int_eq(
        lifeevent_check("naissance", &after, &after, why, sizeof(why)),
        ERR_INVALID);
    ck_assert(strstr(why, "enfant") != NULL);
    situation(&after, &addr_a, nodate, 2);
    ck_assert_int_eq(
        lifeevent_check("naissance", &before, &after, why, sizeof(why)),
        ERR_INVALID);
}
END_TEST

START_TEST(test_separation)
{
    Dossier__V1__HouseholdMember *with[] = {&spouse, &child};
    Dossier__V1__HouseholdMember *without[] = {&child};
    Dossier__V1__Situation before, after;
    char why[256];

    situation(&before, &addr_a, with, 2);
    situation(&after, &addr_b, without, 1);
    ck_assert_int_eq(
        lifeevent_check("separation", &before, &after, why, sizeof(why)), 0);
    ck_assert_int_eq(
        lifeevent_check("separation", &after, &before, why, sizeof(why)),
        ERR_INVALID);
    ck_assert(strstr(why, "conjoint") != NULL);
    ck_assert_int_eq(lifeevent_check("separation", NULL, &after, why,
                                     sizeof(why)),
                     ERR_INVALID);
    ck_assert_int_eq(
        lifeevent_check("mariage", &before, &after, why, sizeof(why)),
        ERR_INVALID);
    ck_assert(strstr(why, "demenagement") != NULL);
    ck_assert_int_eq(
        lifeevent_check("separation", &before, NULL, why, sizeof(why)),
        ERR_INVALID);
}
END_TEST

Suite *
suite_lifeevent(void)
{
    Suite *s = suite_create("lifeevent");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_expected_by_kind);
    tcase_add_test(tc, test_known);
    tcase_add_test(tc, test_move);
    tcase_add_test(tc, test_birth);
    tcase_add_test(tc, test_separation);
    suite_add_tcase(s, tc);
    return s;
}
