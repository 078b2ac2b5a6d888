/*
 * svc_events.c -- dossier.v1.Events: Watch and DeclareLifeEvent (see
 * svc_events.h).
 *
 * A watch is a small state machine on the loop thread.  It keeps a
 * cursor (the last event examined) and, while its response queue is under
 * the call's low-water mark, reads the next events after the cursor in a
 * short read transaction, keeps those meant for the caller, and sends
 * them through one writer operation that checks each one's consent again
 * and appends each one's audit entry: an event leaves only once both are
 * durable, and one whose consent was revoked meanwhile never leaves.
 * Then it moves the cursor and goes on.  Caught up, it waits for the
 * event log to say new events are readable.  Nothing is buffered beyond
 * one batch and the call's queue, whatever the watcher does: a watcher
 * that does not read stops being fed (its queue stays full) and the log
 * keeps the rest for when it resumes.
 *
 * A scan that skipped many events meant for others tells the watcher
 * where it is with a "heartbeat" event (a cursor, no dossier), at most
 * every WATCH_HEARTBEAT_MS, so that a reconnection does not rescan them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dossier/v1/events.pb-c.h"

#include "audit.h"
#include "call.h"
#include "err.h"
#include "events.h"
#include "lifeevent.h"
#include "log.h"
#include "policy.h"
#include "rpc.h"
#include "server.h"
#include "store.h"
#include "svc.h"
#include "svc_events.h"
#include "writer.h"

#define WATCH_BATCH 32        /* events sent per writer operation */
/* Events examined per read transaction: bounds the loop's time in one
 * scan (each event is opened with its person's key). */
#define WATCH_SCAN_MAX 256
#define WATCH_HEARTBEAT_MS 2000
#define WATCH_CURSOR_MAX 20   /* decimal digits of a uint64 */
#define DECLARE_NOTIFIED_MAX 64

static struct events *svc_events_log;

/* --- Watch ------------------------------------------------------------------- */

struct watch {
    struct call *c;
    struct events_listener listener;
    bool listening;
    bool started; /* the watch's own entry is durable */
    bool busy;    /* a delivery is in the writer */
    bool ended;
    char kind[PRINCIPAL_ID_MAX];
    uint64_t cursor;      /* last event examined */
    uint64_t told_cursor; /* last cursor the client was sent */
    uint64_t told_ms;     /* when */
    struct vault_person cache; /* the last person whose events were opened */
};

/* One event on its way out. */
struct watch_item {
    uint64_t seq;
    struct vault_person p; /* for the consent check; wiped */
    bool recheck;
    bool ok;
    char consent_id[VAULT_ID_STR];
    char purpose[SVC_PURPOSE_MAX + 1];
    char dossier[VAULT_ID_STR];
    char object[96];
    uint8_t *msg; /* the packed dossier.v1.Event */
    size_t len;
};

struct watch_batch {
    struct watch *w;
    struct principal who;
    uint64_t upto; /* the cursor once the batch is sent */
    int64_t now;
    size_t n;
    struct watch_item items[WATCH_BATCH];
};

static void watch_pump(struct watch *w);

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
watch_stop_listening(struct watch *w)
{
    if (w->listening) {
        events_unlisten(svc_events_log, &w->listener);
        w->listening = false;
    }
}

static void
watch_free(void *data)
{
    struct watch *w = data;

    watch_stop_listening(w);
    vault_person_close(&w->cache);
    free(w);
}

static void
watch_end(struct watch *w, int status, const char *msg)
{
    w->ended = true;
    watch_stop_listening(w);
    call_want_writable(w->c, false);
    if (msg != NULL)
        call_finish(w->c, status, "%s", msg);
}

static void
watch_batch_free(struct watch_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        vault_person_close(&b->items[i].p);
        free(b->items[i].msg);
    }
    free(b);
}

/* Writer thread: each event's consent again, then its audit entry. */
static int
watch_deliver_run(struct store_txn *t, void *arg)
{
    struct watch_batch *b = arg;
    int rc;

    for (size_t i = 0; i < b->n; i++) {
        struct watch_item *it = &b->items[i];
        struct audit_entry e;

        it->ok = false;
        if (it->recheck) {
            Dossier__V1__Consent *c = NULL;
            bool in_force;

            rc = vault_consent_get_txn(t, &it->p, it->consent_id, &c);
            if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT)
                continue;
            if (rc != 0)
                return rc;
            in_force = !c->revoked && b->now < c->valid_until_unix;
            dossier__v1__consent__free_unpacked(c, NULL);
            if (!in_force)
                continue; /* revoked or ended: the events stop here */
        }
        memset(&e, 0, sizeof(e));
        e.principal = b->who.uri;
        e.action = "Events.Watch";
        e.dossier_id = it->dossier;
        e.object_id = it->object;
        e.basis = it->consent_id;
        e.purpose_code = it->purpose;
        e.case_reference = "";
        e.on_behalf_of = "";
        e.outcome = AUDIT_GRANTED;
        e.reason = "";
        if ((rc = audit_append(svc__ctx()->audit, t, &e, NULL)) != 0)
            return rc; /* fail closed: nothing of the batch leaves */
        it->ok = true;
    }
    return 0;
}

static void
watch_deliver_done(void *arg, int status)
{
    struct watch_batch *b = arg;
    struct watch *w = b->w;
    struct call *c = w->c;

    w->busy = false;
    if (call_is_done(c) || w->ended) {
        watch_batch_free(b);
        call_unref(c);
        return;
    }
    if (status != 0) {
        log_warnx("events not delivered: %s principal=%s", err_str(status),
                  b->who.uri);
        watch_end(w, status == ERR_FULL ? RPC_RESOURCE_EXHAUSTED
                                        : RPC_UNAVAILABLE,
                  "events cannot be delivered now: their audit entries "
                  "cannot be recorded; resume later from the last cursor "
                  "received");
        watch_batch_free(b);
        call_unref(c);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        struct watch_item *it = &b->items[i];

        if (!it->ok)
            continue;
        if (call_send(c, it->msg, it->len) != 0) {
            /* Out of memory: end the watch rather than skip an event;
             * the client resumes from the last cursor it received. */
            watch_end(w, RPC_UNAVAILABLE,
                      "the server is short of memory; resume from the last "
                      "cursor received");
            watch_batch_free(b);
            call_unref(c);
            return;
        }
        w->told_cursor = it->seq;
        w->told_ms = mono_ms();
    }
    w->cursor = b->upto;
    watch_batch_free(b);
    watch_pump(w);
    call_unref(c);
}

/* Makes the dossier.v1.Event of |it| for the audience entry |a|. */
static int
watch_item_make(struct watch_item *it, const struct events_item *ev,
                const Dossier__Internal__EventAudience *a)
{
    const Dossier__Internal__EventBody *b = ev->body;
    Dossier__V1__Event m = DOSSIER__V1__EVENT__INIT;
    Dossier__V1__Situation *sit = NULL;
    char cursor[24];

    snprintf(cursor, sizeof(cursor), "%" PRIu64, ev->seq);
    vault_id_format(&ev->dossier, it->dossier);
    snprintf(it->consent_id, sizeof(it->consent_id), "%s", a->consent_id);
    snprintf(it->purpose, sizeof(it->purpose), "%s", a->purpose_code);
    if (strcmp(b->kind, "situation") == 0)
        snprintf(it->object, sizeof(it->object), "situation r%" PRId64,
                 b->version);
    else if (strcmp(b->kind, "erasure") == 0)
        snprintf(it->object, sizeof(it->object), "erasure");
    else
        snprintf(it->object, sizeof(it->object), "%s", b->object_id);
    it->seq = ev->seq;
    it->recheck = a->recheck;

    m.cursor = cursor;
    m.dossier_id = it->dossier;
    m.kind = b->kind;
    m.object_id = b->object_id;
    m.type = strcmp(b->kind, "situation") == 0 ? "situation" : b->type;
    m.time_unix = ev->time_unix;
    m.version = b->version;
    m.life_event = b->life_event;
    m.n_expected_document_types = a->n_expected_document_types;
    m.expected_document_types = a->expected_document_types;
    m.consent_id = a->consent_id;
    if (b->situation.len > 0) {
        sit = dossier__v1__situation__unpack(NULL, b->situation.len,
                                             b->situation.data);
        if (sit == NULL)
            return ERR_CORRUPT;
        m.situation = sit;
    }
    it->len = dossier__v1__event__get_packed_size(&m);
    if ((it->msg = malloc(it->len ? it->len : 1)) == NULL) {
        dossier__v1__situation__free_unpacked(sit, NULL);
        return -ENOMEM;
    }
    dossier__v1__event__pack(&m, it->msg);
    dossier__v1__situation__free_unpacked(sit, NULL);
    return 0;
}

/* Tells the client where it is after skipping events meant for others. */
static void
watch_heartbeat(struct watch *w)
{
    Dossier__V1__Event m = DOSSIER__V1__EVENT__INIT;
    char cursor[24];
    uint64_t now = mono_ms();

    if (w->cursor == w->told_cursor || now - w->told_ms < WATCH_HEARTBEAT_MS)
        return;
    snprintf(cursor, sizeof(cursor), "%" PRIu64, w->cursor);
    m.cursor = cursor;
    m.kind = "heartbeat";
    m.time_unix = (int64_t)time(NULL);
    if (call_send_msg(w->c, &m.base) == 0) {
        w->told_cursor = w->cursor;
        w->told_ms = now;
    }
}

/*
 * Reads events after the cursor and sends the next batch meant for the
 * caller, or waits: for room in the queue (on_writable), or for new
 * events (the listener).
 */
static void
watch_pump(struct watch *w)
{
    const struct principal *who;
    struct watch_batch *b = NULL;
    struct store_txn *t = NULL;
    struct events_item ev;
    uint64_t at;
    size_t scanned = 0;
    int rc;

    if (w->ended || w->busy || !w->started || call_is_done(w->c))
        return;
    if (call_send_queued(w->c) >= call_send_low_water(w->c)) {
        call_want_writable(w->c, true); /* the client reads slowly */
        return;
    }
    call_want_writable(w->c, false);
    who = call_principal(w->c);
    if ((b = calloc(1, sizeof(*b))) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    b->w = w;
    b->who = *who;
    if ((rc = vault_read_begin(svc__ctx()->vault, &t)) != 0)
        goto fail;
    at = w->cursor;
    while (b->n < WATCH_BATCH && scanned < WATCH_SCAN_MAX) {
        const Dossier__Internal__EventAudience *a;

        rc = events_next(svc_events_log, t, at, &w->cache, &ev);
        if (rc == ERR_NOTFOUND)
            break;
        if (rc == ERR_CORRUPT) {
            /* One damaged record must not stop every watcher behind it:
             * it is skipped, and said. */
            log_warnx("event %" PRIu64 " fails authentication; skipped",
                      ev.seq > at ? ev.seq : at + 1);
            at = ev.seq > at ? ev.seq : at + 1;
            scanned++;
            continue;
        }
        if (rc != 0)
            goto fail;
        scanned++;
        at = ev.seq;
        a = ev.body != NULL ? events_audience_for(ev.body, who->uri, w->kind)
                            : NULL;
        if (a != NULL) {
            struct watch_item *it = &b->items[b->n];

            if (a->recheck)
                it->p = w->cache; /* the event's person, opened */
            rc = watch_item_make(it, &ev, a);
            if (rc != 0) {
                vault_person_close(&it->p);
                events_item_clear(&ev);
                goto fail;
            }
            b->n++;
        }
        events_item_clear(&ev);
    }
    store_txn_abort(t);
    t = NULL;
    if (b->n == 0) {
        w->cursor = at;
        free(b);
        watch_heartbeat(w);
        if (scanned == WATCH_SCAN_MAX)
            call_want_writable(w->c, true); /* more to read: come back */
        return;
    }
    b->upto = at;
    b->now = (int64_t)time(NULL);
    call_ref(w->c);
    if ((rc = writer_submit(vault_writer(svc__ctx()->vault), watch_deliver_run,
                            watch_deliver_done, b)) != 0) {
        call_unref(w->c);
        goto fail;
    }
    w->busy = true;
    return;
fail:
    store_txn_abort(t);
    if (b != NULL)
        watch_batch_free(b);
    log_warnx("watch failed: %s principal=%s", err_str(rc),
              call_principal(w->c)->uri);
    watch_end(w, RPC_UNAVAILABLE,
              "events cannot be read now; resume later from the last "
              "cursor received");
}

static void
watch_on_events(struct events_listener *l)
{
    struct watch *w = (struct watch *)((char *)l - offsetof(struct watch,
                                                            listener));

    watch_pump(w);
}

static void
watch_started(void *arg, int status)
{
    struct watch *w = arg;
    struct call *c = w->c;

    if (!call_is_done(c) && !w->ended) {
        if (status != 0) {
            watch_end(w, status == ERR_FULL ? RPC_RESOURCE_EXHAUSTED
                                            : RPC_UNAVAILABLE,
                      "the watch cannot be recorded in the audit log now; "
                      "try again later");
        } else {
            w->started = true;
            call_audit_recorded(c);
            watch_pump(w);
        }
    }
    call_unref(c);
}

/* Parses |s| into |*out|: 0, or ERR_INVALID. */
static int
cursor_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > WATCH_CURSOR_MAX)
        return ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ERR_INVALID;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return ERR_INVALID;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static void
events_watch(struct call *c, const uint8_t *msg, size_t len)
{
    const struct principal *who = call_principal(c);
    Dossier__V1__WatchRequest *req;
    struct audit_entry e;
    struct store_txn *t;
    struct watch *w;
    uint64_t purged, last, cursor = 0;
    const char *why = NULL;
    char object[64];
    int rc;

    req = dossier__v1__watch_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "WatchRequest does not parse");
        return;
    }
    if (policy_check(who, POLICY_EVENTS_WATCH, NULL, NULL, &why) != 0) {
        svc__deny(c, POLICY_EVENTS_WATCH, NULL, why);
        goto out;
    }
    if (req->cursor[0] != '\0' && cursor_parse(req->cursor, &cursor) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "cursor: the cursor of an event received (digits), "
                    "\"0\" for the oldest kept, or empty for from now");
        goto out;
    }
    if ((rc = vault_read_begin(svc__ctx()->vault, &t)) != 0) {
        svc__fail(c, rc, "reading the event log");
        goto out;
    }
    rc = events_bounds(t, &purged, &last);
    store_txn_abort(t);
    if (rc != 0) {
        svc__fail(c, rc, "reading the event log");
        goto out;
    }
    if (req->cursor[0] == '\0')
        cursor = last;
    else if (strcmp(req->cursor, "0") == 0)
        cursor = purged;
    if (cursor < purged) {
        call_finish(c, RPC_OUT_OF_RANGE,
                    "cursor %" PRIu64 " is older than the events kept (they "
                    "start after %" PRIu64 "): the events in between are "
                    "gone; resynchronise the dossiers, then watch from now "
                    "(empty cursor)",
                    cursor, purged);
        goto out;
    }
    if (cursor > last) {
        call_finish(c, RPC_OUT_OF_RANGE,
                    "cursor %" PRIu64 " is ahead of the last event (%" PRIu64
                    "): it does not come from this server",
                    cursor, last);
        goto out;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        svc__fail(c, -ENOMEM, "starting the watch");
        goto out;
    }
    w->c = c;
    w->cursor = w->told_cursor = cursor;
    w->told_ms = mono_ms();
    policy_agency_kind(who->id, w->kind, sizeof(w->kind));
    w->listener.fn = watch_on_events;
    call_set_data(c, w, watch_free);
    events_listen(svc_events_log, &w->listener);
    w->listening = true;

    /* The watch itself is recorded before anything flows. */
    snprintf(object, sizeof(object), "from %" PRIu64, cursor);
    memset(&e, 0, sizeof(e));
    e.principal = who->uri;
    e.action = "Events.Watch";
    e.object_id = object;
    e.outcome = AUDIT_GRANTED;
    call_ref(c);
    if ((rc = audit_record(svc__ctx()->audit, &e, watch_started, w)) != 0) {
        call_unref(c);
        watch_end(w, rc == ERR_FULL ? RPC_RESOURCE_EXHAUSTED : RPC_UNAVAILABLE,
                  "the watch cannot be recorded in the audit log now; try "
                  "again later");
    }
out:
    dossier__v1__watch_request__free_unpacked(req, NULL);
}

static void
events_watch_writable(struct call *c)
{
    struct watch *w = call_data(c);

    if (w != NULL)
        watch_pump(w);
}

static void
events_watch_cancel(struct call *c)
{
    struct watch *w = call_data(c);

    if (w != NULL) {
        w->ended = true;
        watch_stop_listening(w);
    }
}

/* --- DeclareLifeEvent -------------------------------------------------------- */

struct declare {
    struct call *c;
    struct vault_person p; /* wiped */
    uint64_t rev;
    Dossier__V1__DeclareLifeEventResponse resp;
    Dossier__V1__NotifiedAgency notified[DECLARE_NOTIFIED_MAX];
    Dossier__V1__NotifiedAgency *notified_v[DECLARE_NOTIFIED_MAX];
    char who[DECLARE_NOTIFIED_MAX][PRINCIPAL_URI_MAX + 8];
    char consent[DECLARE_NOTIFIED_MAX][VAULT_ID_STR];
    const char *expected[DECLARE_NOTIFIED_MAX][LIFEEVENT_EXPECTED_MAX];
    const char *all_expected[LIFEEVENT_EXPECTED_MAX];
    char cursor[24];
};

static void
declare_free(struct declare *d)
{
    vault_person_close(&d->p);
    call_unref(d->c);
    free(d);
}

static void
declare_done(void *arg, int status)
{
    struct declare *d = arg;
    struct store_txn *t;
    uint64_t purged, last;
    char obj[48];

    if (status != 0) {
        svc__fail(d->c, status, "recording the life event");
        declare_free(d);
        return;
    }
    snprintf(obj, sizeof(obj), "situation r%" PRIu64, d->rev);
    call_audit_set(d->c, CALL_AUDIT_OBJECT, obj);
    d->resp.revision = (int64_t)d->rev;
    /* Where the log stands now: the event made is at or before it. */
    if (vault_read_begin(svc__ctx()->vault, &t) == 0) {
        if (events_bounds(t, &purged, &last) == 0) {
            snprintf(d->cursor, sizeof(d->cursor), "%" PRIu64, last);
            d->resp.cursor = d->cursor;
        }
        store_txn_abort(t);
    }
    svc__answer(d->c, &d->resp.base);
    declare_free(d);
}

/* Who will be told, from the consents as they stand (the event itself is
 * decided again in the writer's transaction). */
static int
declare_notified(struct declare *d, const char *life_event)
{
    Dossier__V1__Consent **cs = NULL;
    size_t n = 0, k = 0;
    int64_t now = (int64_t)time(NULL);
    int rc;

    if ((rc = vault_consent_list(svc__ctx()->vault, &d->p, &cs, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n && k < DECLARE_NOTIFIED_MAX; i++) {
        const Dossier__V1__Consent *c = cs[i];
        Dossier__V1__NotifiedAgency *x = &d->notified[k];
        char kind[PRINCIPAL_ID_MAX];
        bool seen = false;

        if (!events_hears_situation(c, now))
            continue;
        if (c->agency[0] != '\0')
            snprintf(d->who[k], sizeof(d->who[k]), "%s", c->agency);
        else
            snprintf(d->who[k], sizeof(d->who[k]), "kind:%s", c->agency_kind);
        /* An agency holding two such consents is told once (events.c's
         * audience), so it is named once. */
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(d->who[j], d->who[k]) == 0;
        if (seen)
            continue;
        dossier__v1__notified_agency__init(x);
        events_holder_kind(c, kind, sizeof(kind));
        snprintf(d->consent[k], sizeof(d->consent[k]), "%s", c->consent_id);
        x->agency = d->who[k];
        x->consent_id = d->consent[k];
        x->n_expected_document_types = lifeevent_expected(
            life_event, kind, d->expected[k], LIFEEVENT_EXPECTED_MAX);
        x->expected_document_types = (char **)d->expected[k];
        d->notified_v[k] = x;
        k++;
    }
    vault_consents_free(cs, n);
    d->resp.n_notified = k;
    d->resp.notified = d->notified_v;
    return 0;
}

static void
events_declare(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__DeclareLifeEventRequest *req;
    Dossier__V1__GetSituationResponse *cur = NULL;
    struct declare *d = NULL;
    struct vault_id id;
    char why[256];
    int rc;

    req = dossier__v1__declare_life_event_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "DeclareLifeEventRequest does not parse");
        return;
    }
    if (svc__dossier(c, req->dossier_id, POLICY_SITUATION_UPDATE, &id) != 0)
        goto out;
    if (!lifeevent_known(req->life_event)) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "life_event: \"%.32s\" is not a life event; expected one "
                    "of %s",
                    svc__str_ok(req->life_event, 32, false) ? req->life_event
                                                            : "?",
                    lifeevent_codes());
        goto out;
    }
    if (req->situation == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "situation: required, the whole situation after the "
                    "event");
        goto out;
    }
    if (svc__situation_check(c, "situation", req->situation) != 0)
        goto out;
    if ((d = calloc(1, sizeof(*d))) == NULL) {
        svc__fail(c, -ENOMEM, "recording the life event");
        goto out;
    }
    d->c = c;
    call_ref(c);
    dossier__v1__declare_life_event_response__init(&d->resp);
    if (svc__open(c, &id, &d->p) != 0)
        goto fail;
    {
        struct policy_request r = {0};
        struct policy_decision dec = {0};

        /* The person, or a delegate under a "declare" mandate for every
         * type. */
        r.act = POLICY_SITUATION_UPDATE;
        r.person = &d->p;
        rc = svc__decide_now(c, &r, &dec);
        policy_decision_clear(&dec);
        if (rc != 0)
            goto fail;
    }
    rc = vault_situation_get(svc__ctx()->vault, &d->p, false, &cur);
    if (rc != 0 && rc != ERR_NOTFOUND) {
        svc__fail(c, rc, "reading the current situation");
        goto fail;
    }
    if (lifeevent_check(req->life_event, cur != NULL ? cur->current : NULL,
                        req->situation, why, sizeof(why)) != 0) {
        call_finish(c, RPC_INVALID_ARGUMENT, "%s", why);
        goto fail;
    }
    if ((rc = declare_notified(d, req->life_event)) != 0) {
        svc__fail(c, rc, "reading the consents");
        goto fail;
    }
    d->resp.n_expected_document_types = lifeevent_expected(
        req->life_event, NULL, d->all_expected, LIFEEVENT_EXPECTED_MAX);
    d->resp.expected_document_types = (char **)d->all_expected;
    rc = vault_situation_put(svc__ctx()->vault, &d->p, req->situation,
                             req->life_event, &d->rev, declare_done, d);
    if (rc != 0) {
        svc__fail(c, rc, "recording the life event");
        goto fail;
    }
    d = NULL; /* declare_done owns it */
    goto out;
fail:
    if (d != NULL)
        declare_free(d);
out:
    if (cur != NULL)
        dossier__v1__get_situation_response__free_unpacked(cur, NULL);
    dossier__v1__declare_life_event_request__free_unpacked(req, NULL);
}

/* --- registration ------------------------------------------------------------ */

static const struct method events_methods[] = {
    {
        .path = "/dossier.v1.Events/Watch",
        .kind = CALL_SERVER_STREAM,
        .audit = CALL_AUDIT_HANDLER, /* the watch and each delivery */
        .on_message = events_watch,
        .on_writable = events_watch_writable,
        .on_cancel = events_watch_cancel,
    },
    {
        .path = "/dossier.v1.Events/DeclareLifeEvent",
        .kind = CALL_UNARY,
        .on_message = events_declare,
    },
};

int
svc_events_register(struct server *s, const struct svc_ctx *ctx,
                    struct events *ev)
{
    int rc;

    svc__ctx_set(ctx);
    svc_events_log = ev;
    for (size_t i = 0; i < sizeof(events_methods) / sizeof(events_methods[0]);
         i++)
        if ((rc = server_register(s, &events_methods[i])) != 0)
            return rc;
    return 0;
}
