/*
 * events.c -- the event log: made by the vault's change hook, read by
 * watchers, trimmed by retention (see events.h).
 *
 * Layout.  EVENTS[seq as 8 bytes big-endian] holds a
 * dossier.internal.EventRecord: the dossier id and time in clear, the
 * body sealed under the person's DEK with additional data 'E' | dossier |
 * seq (so a record moved to another seq or person fails to open), except
 * for an erasure, whose body is in clear because the key is going.
 * META["events-purged"] holds the greatest seq deleted by retention.
 * Sequence numbers only grow: the next one is one more than the greatest
 * of the last record and the purge mark, so a purge that emptied the log
 * never lets a number come back.
 *
 * A change nobody is to be told of makes no event: the log holds only
 * what some agency may receive.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "be.h"
#include "err.h"
#include "events.h"
#include "lifeevent.h"
#include "log.h"
#include "policy.h"
#include "store.h"
#include "vault_int.h"
#include "writer.h"

#define EVENTS_PURGED_KEY "events-purged"
#define EVENTS_PURGE_BATCH 1000
/* Appends between two looks at the limits. */
#define EVENTS_PURGE_EVERY 256
#define EVENTS_PURGE_PERIOD_MS (3600 * 1000)
#define EVENTS_AUDIENCE_MAX 256 /* agencies told of one change, at most */

struct events {
    struct store *store;
    struct writer *writer;
    struct vault *vault;
    struct events_config cfg;
    struct events_listener *listeners;
    uv_timer_t timer;
    bool purge_busy;
    bool closing;
    bool timer_closed;
    uint64_t purged_now; /* writer thread: what the last purge op did */
    /* Written on the writer thread, read on the loop. */
    _Atomic uint64_t appended;
    _Atomic int64_t now_override;
    uint64_t appended_seen;  /* loop: |appended| at the last wake */
    bool wake_again;         /* loop: wake in the next round too */
    uint64_t appended_check; /* loop: |appended| at the last purge check */
};

static int64_t
events_now(struct events *e)
{
    int64_t t = atomic_load(&e->now_override);

    return t != 0 ? t : (int64_t)time(NULL);
}

void
events__now_set(struct events *e, int64_t t)
{
    atomic_store(&e->now_override, t);
}

static size_t
event_aad(uint8_t *aad, const struct vault_id *dossier, uint64_t seq)
{
    uint8_t be[8];

    be_put64(be, seq);
    return vault__aad(aad, 'E', dossier, be, 8, NULL, 0);
}

int
events_bounds(struct store_txn *t, uint64_t *purged, uint64_t *last)
{
    struct store_entry e;
    const void *val;
    size_t vl;
    int rc;

    *purged = 0;
    rc = store_get(t, STORE_DB_META, EVENTS_PURGED_KEY,
                   sizeof(EVENTS_PURGED_KEY) - 1, &val, &vl);
    if (rc == 0) {
        if (vl != 8)
            return ERR_CORRUPT;
        *purged = be_get64(val);
    } else if (rc != ERR_NOTFOUND)
        return rc;
    *last = *purged;
    rc = store_last(t, STORE_DB_EVENTS, NULL, 0, &e);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (e.key_len != 8)
        return ERR_CORRUPT;
    if (be_get64(e.key) > *last)
        *last = be_get64(e.key);
    return 0;
}

/* --- making events (writer thread) ---------------------------------------- */

/* The audience being built for one change. */
struct audience {
    Dossier__Internal__EventAudience *v[EVENTS_AUDIENCE_MAX];
    Dossier__Internal__EventAudience a[EVENTS_AUDIENCE_MAX];
    const char *expected[EVENTS_AUDIENCE_MAX][LIFEEVENT_EXPECTED_MAX];
    size_t n;
};

/* The kind of the agency |uri| names ("caf" for .../agency/caf-75). */
static void
uri_kind(const char *uri, char *out, size_t len)
{
    const char *id = strrchr(uri, '/');

    policy_agency_kind(id != NULL ? id + 1 : uri, out, len);
}

void
events_holder_kind(const Dossier__V1__Consent *c, char *out, size_t len)
{
    if (c->agency != NULL && c->agency[0] != '\0')
        uri_kind(c->agency, out, len);
    else
        snprintf(out, len, "%s", c->agency_kind != NULL ? c->agency_kind : "");
}

/* Whether |c| is standing and in force at |now|. */
static bool
consent_standing(const Dossier__V1__Consent *c, int64_t now)
{
    return !c->revoked && !c->one_shot && now < c->valid_until_unix &&
           now >= c->valid_from_unix;
}

bool
events_hears_situation(const Dossier__V1__Consent *c, int64_t now)
{
    return consent_standing(c, now) && c->situation;
}

/* Adds the holder of |c| unless it is there already. */
static void
audience_add(struct audience *au, const Dossier__V1__Consent *c, bool recheck,
             const char *life_event)
{
    const char *agency = c->agency != NULL ? c->agency : "";
    const char *akind = c->agency_kind != NULL ? c->agency_kind : "";
    Dossier__Internal__EventAudience *x;
    char kind[64];

    for (size_t i = 0; i < au->n; i++)
        if (strcmp(au->a[i].agency, agency) == 0 &&
            strcmp(au->a[i].agency_kind, akind) == 0)
            return;
    if (au->n == EVENTS_AUDIENCE_MAX)
        return;
    x = &au->a[au->n];
    dossier__internal__event_audience__init(x);
    x->agency = (char *)agency;
    x->agency_kind = (char *)akind;
    x->consent_id = c->consent_id;
    x->purpose_code = c->purpose_code;
    x->recheck = recheck;
    if (life_event != NULL && life_event[0] != '\0') {
        events_holder_kind(c, kind, sizeof(kind));
        x->n_expected_document_types =
            lifeevent_expected(life_event, kind, au->expected[au->n],
                               LIFEEVENT_EXPECTED_MAX);
        x->expected_document_types = (char **)au->expected[au->n];
    }
    au->v[au->n] = x;
    au->n++;
}

/* Whether standing consent |c| in force at |now| is to hear of |ch|. */
static bool
consent_hears(const Dossier__V1__Consent *c, const struct vault_change *ch,
              int64_t now)
{
    struct policy_object o = {false, ch->type, ch->object_id};

    if (!consent_standing(c, now))
        return false;
    switch (ch->kind) {
    case VAULT_CHANGE_DOCUMENT:
        return policy_consent_covers(c, &o);
    case VAULT_CHANGE_SITUATION:
        return c->situation;
    case VAULT_CHANGE_ERASURE:
        return true;
    default:
        return false;
    }
}

static const char *
change_kind_name(enum vault_change_kind k)
{
    switch (k) {
    case VAULT_CHANGE_DOCUMENT:
        return "document";
    case VAULT_CHANGE_SITUATION:
        return "situation";
    case VAULT_CHANGE_CONSENT_GRANTED:
        return "consent-granted";
    case VAULT_CHANGE_CONSENT_REVOKED:
        return "consent-revoked";
    case VAULT_CHANGE_ERASURE:
        return "erasure";
    }
    return "?";
}

static int
events_change(struct store_txn *t, const struct vault_person *p,
              const struct vault_id *dossier, const struct vault_change *ch,
              void *arg)
{
    struct events *e = arg;
    Dossier__Internal__EventBody body = DOSSIER__INTERNAL__EVENT_BODY__INIT;
    Dossier__Internal__EventRecord rec = DOSSIER__INTERNAL__EVENT_RECORD__INIT;
    Dossier__V1__Consent **cs = NULL;
    struct audience *au;
    struct buf sealed;
    uint64_t purged, last, seq;
    uint8_t key[8], aad[64], *packed = NULL;
    size_t ncs = 0, n, alen;
    int64_t now = events_now(e);
    int rc;

    if ((au = calloc(1, sizeof(*au))) == NULL)
        return -ENOMEM;
    buf_init(&sealed);
    if (ch->kind == VAULT_CHANGE_CONSENT_GRANTED ||
        ch->kind == VAULT_CHANGE_CONSENT_REVOKED) {
        /* Told to its holder, whatever it covers. */
        audience_add(au, ch->consent, false, NULL);
    } else if (p != NULL) {
        if ((rc = vault_consent_list_txn(t, p, &cs, &ncs)) != 0)
            goto out;
        for (size_t i = 0; i < ncs; i++)
            if (consent_hears(cs[i], ch, now))
                audience_add(au, cs[i], ch->kind != VAULT_CHANGE_ERASURE,
                             ch->life_event);
    }
    rc = 0;
    if (au->n == 0)
        goto out; /* nobody to tell: no event */

    body.kind = (char *)change_kind_name(ch->kind);
    body.object_id = (char *)(ch->object_id != NULL ? ch->object_id : "");
    body.type = (char *)(ch->type != NULL ? ch->type : "");
    body.version = ch->version;
    body.life_event = (char *)(ch->life_event != NULL ? ch->life_event : "");
    body.situation.data = (uint8_t *)ch->situation;
    body.situation.len = ch->situation_len;
    body.n_audience = au->n;
    body.audience = au->v;

    if ((rc = events_bounds(t, &purged, &last)) != 0)
        goto out;
    seq = last + 1;
    rec.dossier.data = (uint8_t *)dossier->b;
    rec.dossier.len = VAULT_ID_LEN;
    rec.time_unix = now;
    if (ch->kind == VAULT_CHANGE_ERASURE) {
        rec.clear_body = &body;
    } else {
        if (p == NULL) {
            rc = ERR_INVALID;
            goto out;
        }
        alen = event_aad(aad, dossier, seq);
        if ((rc = vault__seal_msg(p, aad, alen, &body.base, &sealed)) != 0)
            goto out;
        rec.sealed_body.data = (uint8_t *)buf_peek(&sealed);
        rec.sealed_body.len = buf_size(&sealed);
    }
    n = dossier__internal__event_record__get_packed_size(&rec);
    if ((packed = malloc(n ? n : 1)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    dossier__internal__event_record__pack(&rec, packed);
    be_put64(key, seq);
    rc = store_put(t, STORE_DB_EVENTS, key, 8, packed, n, STORE_PUT_NOOVERWRITE);
    if (rc == 0)
        atomic_fetch_add(&e->appended, 1);
out:
    free(packed);
    buf_free(&sealed);
    vault_consents_free(cs, ncs);
    free(au);
    return rc;
}

/* --- retention -------------------------------------------------------------- */

static void events_purge_submit(struct events *e);
static void events_maybe_free(struct events *e);

/* Writer thread: deletes up to EVENTS_PURGE_BATCH events from the head
 * while the log is over a limit, and moves the purge mark. */
static int
events_purge_run(struct store_txn *t, void *arg)
{
    struct events *e = arg;
    struct store_cursor *cur;
    struct store_entry en;
    uint64_t purged, last, mark = 0;
    int64_t cutoff = e->cfg.retention_days > 0
                         ? events_now(e) - (int64_t)e->cfg.retention_days * 86400
                         : INT64_MIN;
    uint8_t be[8];
    int rc;

    e->purged_now = 0;
    if ((rc = events_bounds(t, &purged, &last)) != 0)
        return rc;
    if ((rc = store_cursor_open(t, STORE_DB_EVENTS, NULL, 0, &cur)) != 0)
        return rc;
    while (e->purged_now < EVENTS_PURGE_BATCH &&
           (rc = store_cursor_next(cur, &en)) == 0) {
        Dossier__Internal__EventRecord *rec;
        uint64_t seq;
        bool old;

        if (en.key_len != 8) {
            rc = ERR_CORRUPT;
            break;
        }
        seq = be_get64(en.key);
        rec = dossier__internal__event_record__unpack(NULL, en.val_len,
                                                       en.val);
        /* A record that does not parse is dropped all the same: it could
         * never be delivered. */
        old = rec == NULL || rec->time_unix < cutoff;
        dossier__internal__event_record__free_unpacked(rec, NULL);
        if (!old && (e->cfg.max_events == 0 || last - seq < e->cfg.max_events))
            break;
        if ((rc = store_cursor_del(cur)) != 0)
            break;
        mark = seq;
        e->purged_now++;
    }
    store_cursor_close(cur);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return rc;
    if (mark == 0)
        return 0;
    be_put64(be, mark);
    return store_put(t, STORE_DB_META, EVENTS_PURGED_KEY,
                     sizeof(EVENTS_PURGED_KEY) - 1, be, 8, 0);
}

static void
events_purge_done(void *arg, int status)
{
    struct events *e = arg;

    e->purge_busy = false;
    if (e->closing) {
        events_maybe_free(e);
        return;
    }
    if (status != 0) {
        log_warnx("event retention purge failed: %s (tried again later)",
                  err_str(status));
        return;
    }
    if (e->purged_now == EVENTS_PURGE_BATCH)
        events_purge_submit(e);
}

static void
events_purge_submit(struct events *e)
{
    if (e->purge_busy || e->closing ||
        (e->cfg.retention_days == 0 && e->cfg.max_events == 0))
        return;
    e->purge_busy = true;
    if (writer_submit(e->writer, events_purge_run, events_purge_done, e) != 0)
        e->purge_busy = false;
}

static void
events_tick(uv_timer_t *t)
{
    events_purge_submit(t->data);
}

/* --- waking watchers ---------------------------------------------------------- */

static void
events_reported(void *arg)
{
    struct events *e = arg;
    uint64_t now = atomic_load(&e->appended);
    struct events_listener *l, *next;

    /* An event is counted when its operation runs, before its batch
     * commits; a report round of an earlier batch may see the count
     * first.  So a change of the count wakes the watchers in this round
     * and again in the next one, which is at the latest the round of the
     * batch that made the event. */
    if (now == e->appended_seen && !e->wake_again)
        return;
    e->wake_again = now != e->appended_seen;
    e->appended_seen = now;
    for (l = e->listeners; l != NULL; l = next) {
        next = l->next;
        l->fn(l);
    }
    if (now - e->appended_check >= EVENTS_PURGE_EVERY) {
        e->appended_check = now;
        events_purge_submit(e);
    }
}

void
events_listen(struct events *e, struct events_listener *l)
{
    l->prev = NULL;
    l->next = e->listeners;
    if (e->listeners != NULL)
        e->listeners->prev = l;
    e->listeners = l;
}

void
events_unlisten(struct events *e, struct events_listener *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else if (e->listeners == l)
        e->listeners = l->next;
    else
        return; /* not listening */
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

/* --- reading -------------------------------------------------------------------- */

int
events_next(struct events *e, struct store_txn *t, uint64_t after,
            struct vault_person *cache, struct events_item *out)
{
    Dossier__Internal__EventRecord *rec = NULL;
    struct store_cursor *cur;
    struct store_entry en;
    uint8_t key[8], aad[64];
    size_t alen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (after == UINT64_MAX)
        return ERR_NOTFOUND;
    be_put64(key, after + 1);
    if ((rc = store_cursor_open(t, STORE_DB_EVENTS, NULL, 0, &cur)) != 0)
        return rc;
    rc = store_cursor_seek(cur, key, 8, &en);
    if (rc != 0)
        goto out;
    if (en.key_len != 8) {
        rc = ERR_CORRUPT;
        goto out;
    }
    out->seq = be_get64(en.key);
    rec = dossier__internal__event_record__unpack(NULL, en.val_len, en.val);
    if (rec == NULL || rec->dossier.len != VAULT_ID_LEN) {
        rc = ERR_CORRUPT;
        goto out;
    }
    memcpy(out->dossier.b, rec->dossier.data, VAULT_ID_LEN);
    out->time_unix = rec->time_unix;
    if (rec->clear_body != NULL) {
        out->body = rec->clear_body; /* detached: freed on its own */
        rec->clear_body = NULL;
        goto out;
    }
    if (!cache->open ||
        memcmp(cache->id.b, out->dossier.b, VAULT_ID_LEN) != 0) {
        vault_person_close(cache);
        rc = vault_person_open(e->vault, &out->dossier, cache);
        if (rc == ERR_NOTFOUND) {
            vault_person_close(cache);
            rc = 0; /* erased since: the event is shredded with it */
            goto out;
        }
        if (rc != 0) {
            vault_person_close(cache);
            goto out;
        }
    }
    alen = event_aad(aad, &out->dossier, out->seq);
    rc = vault__open_msg(cache, aad, alen, rec->sealed_body.data,
                         rec->sealed_body.len,
                         &dossier__internal__event_body__descriptor,
                         (ProtobufCMessage **)&out->body);
out:
    dossier__internal__event_record__free_unpacked(rec, NULL);
    store_cursor_close(cur);
    if (rc != 0)
        events_item_clear(out);
    return rc;
}

void
events_item_clear(struct events_item *it)
{
    if (it->body != NULL)
        dossier__internal__event_body__free_unpacked(it->body, NULL);
    it->body = NULL;
}

const Dossier__Internal__EventAudience *
events_audience_for(const Dossier__Internal__EventBody *b, const char *uri,
                    const char *kind)
{
    for (size_t i = 0; i < b->n_audience; i++) {
        const Dossier__Internal__EventAudience *a = b->audience[i];

        if (a->agency[0] != '\0' ? strcmp(a->agency, uri) == 0
                                 : strcmp(a->agency_kind, kind) == 0)
            return a;
    }
    return NULL;
}

/* --- life cycle ----------------------------------------------------------------- */

int
events_open(uv_loop_t *loop, struct store *s, struct writer *w,
            struct vault *v, const struct events_config *cfg,
            struct events **out)
{
    struct events *e;
    struct store_txn *t;
    uint64_t purged, last;
    int rc;

    if ((rc = store_txn_begin(s, STORE_TXN_READ, NULL, &t)) != 0)
        return rc;
    rc = events_bounds(t, &purged, &last);
    store_txn_abort(t);
    if (rc != 0) {
        log_warnx("the event log is unreadable: %s", err_str(rc));
        return rc;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return -ENOMEM;
    e->store = s;
    e->writer = w;
    e->vault = v;
    e->cfg = *cfg;
    if ((rc = uv_timer_init(loop, &e->timer)) != 0) {
        free(e);
        return rc;
    }
    e->timer.data = e;
    uv_unref((uv_handle_t *)&e->timer);
    uv_timer_start(&e->timer, events_tick, 0, EVENTS_PURGE_PERIOD_MS);
    vault_set_change_hook(v, events_change, e);
    writer_on_reported(w, events_reported, e);
    log_info("event log open: last=%llu purged=%llu retention_days=%u "
             "max=%llu",
             (unsigned long long)last, (unsigned long long)purged,
             cfg->retention_days, (unsigned long long)cfg->max_events);
    *out = e;
    return 0;
}

static void
events_maybe_free(struct events *e)
{
    if (e->closing && !e->purge_busy && e->timer_closed)
        free(e);
}

static void
events_timer_closed(uv_handle_t *h)
{
    struct events *e = h->data;

    e->timer_closed = true;
    events_maybe_free(e);
}

void
events_close(struct events *e)
{
    if (e == NULL)
        return;
    /* The writer has stopped (writer_free ran): the hooks cannot run any
     * more, and the writer must not be touched. */
    e->closing = true;
    e->purge_busy = false;
    uv_close((uv_handle_t *)&e->timer, events_timer_closed);
}
