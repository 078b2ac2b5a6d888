/*
 * test_events.c -- unit tests of events.c on a real store, writer and
 * vault: which changes make events and for whom, the order and bounds of
 * sequence numbers, shredding by erasure, a record moved to another seq
 * failing authentication, and retention by count with its purge mark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "events.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "testworld.h"
#include "vault.h"
#include "writer.h"

#define CAF "spiffe://dossier.test/agency/caf-75"

/* A world (testworld.h) with the event log on it. */
struct world {
    struct testworld t;
    struct events *ev;
};

/* Opens a world in a new directory, or in |again|'s (NULL: new). */
static void
world_open_in(struct world *x, const char *again, uint64_t max_events)
{
    struct events_config cfg = {.retention_days = 0, .max_events = max_events};
    const struct testworld_opts o = {.stem = "dossier-events",
                                     .again = again,
                                     .data_map = 16u << 20,
                                     .keys_map = 4u << 20};

    testworld_open(&x->t, &o);
    ck_assert_int_eq(events_open(&x->t.loop, x->t.data, x->t.w, x->t.v, &cfg,
                                 &x->ev),
                     0);
}

static void
world_open(struct world *x, uint64_t max_events)
{
    world_open_in(x, NULL, max_events);
}

static void
world_stop(struct world *x)
{
    testworld_stop_writer(&x->t);
    events_close(x->ev);
    testworld_stop(&x->t);
}

static void
world_close(struct world *x)
{
    world_stop(x);
    testutil_rmtree(x->t.dir);
}

static void
enrol(struct world *x, const char *nir, struct vault_person *p)
{
    Dossier__V1__EnrolRequest req = DOSSIER__V1__ENROL_REQUEST__INIT;
    struct vault_id id;

    req.nir = (char *)nir;
    req.given_name = "A";
    req.family_name = "B";
    ck_assert_int_eq(vault_person_enrol(x->t.v, nir, &req, &id, testworld_on_done, &x->t), 0);
    ck_assert_int_eq(testworld_wait(&x->t, 1), 0);
    ck_assert_int_eq(vault_person_open(x->t.v, &id, p), 0);
}

static void
grant(struct world *x, const struct vault_person *p, const char *type,
      bool one_shot, char id[VAULT_ID_STR])
{
    Dossier__V1__Consent c = DOSSIER__V1__CONSENT__INIT;
    char *types[] = {(char *)type};

    ck_assert_int_eq(vault_consent_id_new(id), 0);
    c.consent_id = id;
    c.agency = CAF;
    c.document_types = types;
    c.n_document_types = 1;
    c.purpose_code = "RSA";
    c.valid_until_unix = (int64_t)time(NULL) + 3600;
    c.one_shot = one_shot;
    ck_assert_int_eq(
        vault_consent_grant(x->t.v, p, &c, NULL, NULL, testworld_on_done, &x->t), 0);
    ck_assert_int_eq(testworld_wait(&x->t, 1), 0);
}

static void
deposit(struct world *x, const struct vault_person *p, const char *type)
{
    Dossier__V1__DocumentMeta m = DOSSIER__V1__DOCUMENT_META__INIT;
    struct vault_upload *u;
    const char *why;
    static const uint8_t content[] = "content";

    m.type = (char *)type;
    m.file_name = "f.pdf";
    m.media_type = "application/pdf";
    m.size = sizeof(content);
    ck_assert_int_eq(vault_upload_begin(x->t.v, p, &m, CAF, &u), 0);
    ck_assert_int_eq(vault_upload_write(u, content, sizeof(content), NULL,
                                        NULL),
                     0);
    ck_assert_int_eq(vault_upload_finish(u, &why, testworld_on_done, &x->t), 0);
    ck_assert_int_eq(testworld_wait(&x->t, 1), 0);
    vault_upload_free(u);
    uv_run(&x->t.loop, UV_RUN_NOWAIT);
}

static void
bounds(struct world *x, uint64_t *purged, uint64_t *last)
{
    struct store_txn *t;

    ck_assert_int_eq(store_txn_begin(x->t.data, STORE_TXN_READ, NULL, &t), 0);
    ck_assert_int_eq(events_bounds(t, purged, last), 0);
    store_txn_abort(t);
}

/* Reads the event after |after| into |it|; returns events_next's code. */
static int
next(struct world *x, uint64_t after, struct vault_person *cache,
     struct events_item *it)
{
    struct store_txn *t;
    int rc;

    ck_assert_int_eq(store_txn_begin(x->t.data, STORE_TXN_READ, NULL, &t), 0);
    rc = events_next(x->ev, t, after, cache, it);
    store_txn_abort(t);
    return rc;
}

START_TEST(test_events_made_for_consent_holders)
{
    struct world x;
    struct vault_person p, q, cache = {0};
    struct events_item it;
    char cid[VAULT_ID_STR], one[VAULT_ID_STR];
    uint64_t purged, last;
    const Dossier__Internal__EventAudience *a;

    world_open(&x, 0);
    enrol(&x, "185057800608491", &p);
    enrol(&x, "285057800608441", &q);
    bounds(&x, &purged, &last);
    ck_assert_uint_eq(last, 0); /* enrolments tell nobody */

    grant(&x, &p, "rib", false, cid);    /* 1: consent-granted, to caf */
    grant(&x, &p, "bail", true, one);    /* 2: consent-granted (one-shot) */
    deposit(&x, &p, "rib");              /* 3: document, caf */
    deposit(&x, &p, "bail");             /* one-shot consent: no event */
    deposit(&x, &p, "avis-imposition");  /* not covered: no event */
    deposit(&x, &q, "rib");              /* no consent: no event */
    bounds(&x, &purged, &last);
    ck_assert_uint_eq(purged, 0);
    ck_assert_uint_eq(last, 3);

    ck_assert_int_eq(next(&x, 0, &cache, &it), 0);
    ck_assert_uint_eq(it.seq, 1);
    ck_assert_str_eq(it.body->kind, "consent-granted");
    ck_assert_str_eq(it.body->object_id, cid);
    events_item_clear(&it);
    ck_assert_int_eq(next(&x, 1, &cache, &it), 0);
    ck_assert_str_eq(it.body->object_id, one);
    events_item_clear(&it);
    ck_assert_int_eq(next(&x, 2, &cache, &it), 0);
    ck_assert_uint_eq(it.seq, 3);
    ck_assert_str_eq(it.body->kind, "document");
    ck_assert_str_eq(it.body->type, "rib");
    ck_assert_int_eq(it.body->version, 1);
    a = events_audience_for(it.body, CAF, "caf");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->consent_id, cid);
    ck_assert(a->recheck);
    ck_assert_ptr_null(
        events_audience_for(it.body, "spiffe://dossier.test/agency/caf-13",
                            "caf"));
    events_item_clear(&it);
    ck_assert_int_eq(next(&x, 3, &cache, &it), ERR_NOTFOUND);
    vault_person_close(&cache);
    vault_person_close(&p);
    vault_person_close(&q);
    world_close(&x);
}
END_TEST

START_TEST(test_events_erasure_shreds_and_tells)
{
    struct world x;
    struct vault_person p, cache = {0};
    struct events_item it;
    char cid[VAULT_ID_STR];
    uint64_t purged, last;

    world_open(&x, 0);
    enrol(&x, "185057800608491", &p);
    grant(&x, &p, "rib", false, cid); /* 1 */
    deposit(&x, &p, "rib");           /* 2 */
    ck_assert_int_eq(vault_person_erase(x.t.v, &p.id, testworld_on_done, &x.t), 0);
    ck_assert_int_eq(testworld_wait(&x.t, 1), 0); /* 3: erasure */
    bounds(&x, &purged, &last);
    ck_assert_uint_eq(last, 3);
    /* Sealed under the DEK that is gone: no body any more. */
    ck_assert_int_eq(next(&x, 1, &cache, &it), 0);
    ck_assert_uint_eq(it.seq, 2);
    ck_assert_ptr_null(it.body);
    events_item_clear(&it);
    /* The erasure itself is readable, and names the consent holder. */
    ck_assert_int_eq(next(&x, 2, &cache, &it), 0);
    ck_assert_str_eq(it.body->kind, "erasure");
    ck_assert_ptr_nonnull(events_audience_for(it.body, CAF, "caf"));
    ck_assert(!events_audience_for(it.body, CAF, "caf")->recheck);
    events_item_clear(&it);
    vault_person_close(&cache);
    vault_person_close(&p);
    world_close(&x);
}
END_TEST

/* Writer op: copies EVENTS[2] to EVENTS[4] (a record moved). */
static int
move_record(struct store_txn *t, void *arg)
{
    uint8_t k2[8] = {0, 0, 0, 0, 0, 0, 0, 2}, k4[8] = {0, 0, 0, 0, 0, 0, 0, 4};
    const void *val;
    size_t vl;
    void *copy;
    int rc;

    if ((rc = store_get(t, STORE_DB_EVENTS, k2, 8, &val, &vl)) != 0)
        return rc;
    if ((copy = malloc(vl)) == NULL)
        return -ENOMEM;
    memcpy(copy, val, vl);
    rc = store_put(t, STORE_DB_EVENTS, k4, 8, copy, vl, 0);
    free(copy);
    return rc;
}

START_TEST(test_events_moved_record_fails)
{
    struct world x;
    struct vault_person p, cache = {0};
    struct events_item it;
    char cid[VAULT_ID_STR];

    world_open(&x, 0);
    enrol(&x, "185057800608491", &p);
    grant(&x, &p, "rib", false, cid); /* 1 */
    deposit(&x, &p, "rib");           /* 2 */
    deposit(&x, &p, "rib");           /* 3 */
    ck_assert_int_eq(writer_submit(x.t.w, move_record, testworld_on_done, &x.t), 0);
    ck_assert_int_eq(testworld_wait(&x.t, 1), 0);
    ck_assert_int_eq(next(&x, 3, &cache, &it), ERR_CORRUPT);
    ck_assert_ptr_null(it.body);
    ck_assert_int_eq(next(&x, 2, &cache, &it), 0); /* the others are fine */
    events_item_clear(&it);
    vault_person_close(&cache);
    vault_person_close(&p);
    world_close(&x);
}
END_TEST

static void
tick_noop(uv_timer_t *t)
{
    (void)t;
}

START_TEST(test_events_retention_by_count)
{
    struct world x, y;
    struct vault_person p, cache = {0};
    struct events_item it;
    char cid[VAULT_ID_STR];
    uint64_t purged, last;

    world_open(&x, 3);
    enrol(&x, "185057800608491", &p);
    grant(&x, &p, "rib", false, cid); /* 1 */
    for (int i = 0; i < 6; i++)       /* 2..7 */
        deposit(&x, &p, "rib");
    world_stop(&x);
    /* Reopened, the log applies its limit at once (the first tick of its
     * timer): of 7 events the last 3 are kept. */
    world_open_in(&y, x.t.dir, 3);
    {
        /* The log's timer is unreferenced: a referenced one keeps the
         * loop turning meanwhile, as the server's handles do. */
        uv_timer_t tick;

        uv_timer_init(&y.t.loop, &tick);
        uv_timer_start(&tick, tick_noop, 5, 5);
        do {
            uv_run(&y.t.loop, UV_RUN_ONCE);
            bounds(&y, &purged, &last);
        } while (purged == 0);
        uv_close((uv_handle_t *)&tick, NULL);
        uv_run(&y.t.loop, UV_RUN_NOWAIT);
    }
    ck_assert_uint_eq(purged, 4);
    ck_assert_uint_eq(last, 7);
    ck_assert_int_eq(next(&y, 0, &cache, &it), 0);
    ck_assert_uint_eq(it.seq, 5);
    events_item_clear(&it);
    /* Numbers never come back: the next event is 8. */
    deposit(&y, &p, "rib");
    bounds(&y, &purged, &last);
    ck_assert_uint_eq(last, 8);
    vault_person_close(&cache);
    vault_person_close(&p);
    world_close(&y);
}
END_TEST

Suite *
suite_events(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_events_made_for_consent_holders);
    tcase_add_test(tc, test_events_erasure_shreds_and_tells);
    tcase_add_test(tc, test_events_moved_record_fails);
    tcase_add_test(tc, test_events_retention_by_count);
    suite_add_tcase(s, tc);
    return s;
}
