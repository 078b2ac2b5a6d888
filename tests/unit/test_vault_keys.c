/*
 * test_vault_keys.c -- the key store of the vault on a real store, writer
 * and keyring: enrolments in flight share one key-store commit per writer
 * batch (vault__keys_begin), and a key store that fills up refuses the
 * enrolments that do not fit with ERR_FULL (never another error), loses
 * none that was acknowledged, does not stop the writer, and takes
 * enrolments again once erasures have freed room.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "nir.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "testworld.h"
#include "vault.h"
#include "writer.h"

#define BURST 64
/* Enrolments in flight while filling a 4 MiB key store: each dirties a
 * leaf page of its own (random ids), and a batch must stay well within
 * the store's delete reserve (64 pages at this size) for erasures to go
 * on on a full store, as the daemon's batches do in its 64 MiB key store
 * (4 MiB of reserve). */
#define FILL_BURST 16


/* One enrolment in flight. */
struct enrolment {
    struct testworld *x;
    struct vault_id id;
    char nir[NIR_STR];
    int status;
    bool answered;
};

static void
on_enrolled(void *arg, int status)
{
    struct enrolment *e = arg;

    e->status = status;
    e->answered = true;
    e->x->done++;
}

static void
world_open(struct testworld *x, size_t keys_map)
{
    const struct testworld_opts o = {.stem = "dossier-vkeys",
                                     .data_map = 64u << 20,
                                     .keys_map = keys_map};

    testworld_open(x, &o);
}

/* A valid NIR, different for every |n| below 1,000,000. */
static void
nir_make(unsigned n, char out[NIR_STR])
{
    char first13[14];

    snprintf(first13, sizeof(first13), "1850575%06u", n);
    snprintf(out, NIR_STR, "%s%02d", first13, nir_key_compute(first13));
}

/* Submits |n| enrolments numbered from |first| at once, then runs the
 * loop until all are answered. */
static void
enrol_burst(struct testworld *x, struct enrolment *es, unsigned first, size_t n)
{
    Dossier__V1__EnrolRequest req = DOSSIER__V1__ENROL_REQUEST__INIT;
    int target = x->done + (int)n;

    req.given_name = "A";
    req.family_name = "B";
    for (size_t i = 0; i < n; i++) {
        es[i].x = x;
        es[i].answered = false;
        nir_make(first + (unsigned)i, es[i].nir);
        req.nir = es[i].nir;
        ck_assert_int_eq(vault_person_enrol(x->v, es[i].nir, &req, &es[i].id,
                                            on_enrolled, &es[i]),
                         0);
    }
    while (x->done < target)
        uv_run(&x->loop, UV_RUN_ONCE);
}

/* Every acknowledged enrolment of |es| has its key, and can be found. */
static void
assert_keys(struct testworld *x, const struct enrolment *es, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct vault_person p;
        struct vault_id found;

        if (es[i].status != 0)
            continue;
        ck_assert_int_eq(vault_person_open(x->v, &es[i].id, &p), 0);
        vault_person_close(&p);
        ck_assert_int_eq(vault_person_find_nir(x->v, es[i].nir, &found), 0);
        ck_assert_mem_eq(found.b, es[i].id.b, VAULT_ID_LEN);
    }
}

/* Enrolments in flight together are batched (fewer commits than
 * enrolments) and every one of them keeps its key. */
START_TEST(test_vault_keys_batched_enrolments)
{
    struct testworld x;
    struct enrolment es[BURST];
    struct writer_stats st;

    world_open(&x, 4u << 20);
    enrol_burst(&x, es, 0, BURST);
    for (size_t i = 0; i < BURST; i++)
        ck_assert_int_eq(es[i].status, 0);
    assert_keys(&x, es, BURST);
    writer_stats(x.w, &st);
    ck_assert_uint_lt(st.commits, BURST);
    testworld_close(&x);
}
END_TEST

/* A full key store refuses the enrolments that do not fit with ERR_FULL
 * (a put refused in an operation's child, or a batch whose key-store
 * commit met the full map); what was acknowledged keeps its key, the
 * writer is not stopped (a full store is no I/O error), and erasing
 * persons makes room for enrolments again. */
START_TEST(test_vault_keys_full_refuses_one_by_one)
{
    struct testworld x;
    static struct enrolment es[BURST];
    unsigned next = 0, ok = 0, full = 0;
    struct writer_stats st;

    world_open(&x, 4u << 20);
    for (int round = 0; round < 4000 && full < 3 * BURST; round++) {
        enrol_burst(&x, es, next, FILL_BURST);
        next += FILL_BURST;
        for (size_t i = 0; i < FILL_BURST; i++) {
            ck_assert_msg(es[i].status == 0 || es[i].status == ERR_FULL,
                          "enrolment %u: %s", next - FILL_BURST + (unsigned)i,
                          err_str(es[i].status));
            if (es[i].status == 0)
                ok++;
            else
                full++;
        }
        assert_keys(&x, es, FILL_BURST);
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert_uint_ge(full, 3 * BURST);
    writer_stats(x.w, &st);
    ck_assert(!st.failed);

    /* Erasing persons frees their keys' room: enrolments fit again.
     * Erasures thin the B-tree's pages out evenly (ids are random), and
     * pages are freed only once they merge: every person is erased. */
    {
        static struct enrolment again[BURST];
        struct enrolment *gone = calloc(ok, sizeof(*gone));
        unsigned n = 0, fit = 0;

        /* In bursts, as the enrolments were: a batch's key-store pages
         * must fit in the reserve. */
        for (unsigned i = 0; i < next && n < ok;) {
            int target = x.done;

            for (; i < next && n < ok && target - x.done < FILL_BURST;
                 i++) {
                nir_make(i, gone[n].nir);
                if (vault_person_find_nir(x.v, gone[n].nir, &gone[n].id) != 0)
                    continue;
                gone[n].x = &x;
                ck_assert_int_eq(vault_person_erase(x.v, &gone[n].id,
                                                    on_enrolled, &gone[n]),
                                 0);
                n++;
                target++;
            }
            while (x.done < target)
                uv_run(&x.loop, UV_RUN_ONCE);
        }
        ck_assert_uint_eq(n, ok);
        for (unsigned i = 0; i < n; i++)
            ck_assert_int_eq(gone[i].status, 0);
        free(gone);
        enrol_burst(&x, again, next, BURST);
        for (size_t i = 0; i < BURST; i++)
            if (again[i].status == 0)
                fit++;
        ck_assert_uint_gt(fit, 0);
        assert_keys(&x, again, BURST);
    }
    testworld_close(&x);
}
END_TEST

Suite *
suite_vault_keys(void)
{
    Suite *s = suite_create("vault_keys");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vault_keys_batched_enrolments);
    tcase_add_test(tc, test_vault_keys_full_refuses_one_by_one);
    suite_add_tcase(s, tc);
    return s;
}
