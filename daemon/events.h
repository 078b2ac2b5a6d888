/*
 * events.h -- the durable, ordered log of the changes agencies are told
 * of (dossier.v1.Events), on top of store.h and the vault's change hook.
 *
 * Every change the vault reports (a document version, a situation, a
 * consent granted or revoked, an erasure: vault.h, "changes") becomes one
 * event in the change's own transaction, EVENTS[seq] with seq 1, 2, 3...
 * never reused: a change is durable with its event or not at all.  Who is
 * told is decided then, from the person's consents read in the same
 * transaction: every agency (or kind of agency) whose standing consent in
 * force covers the change -- the document's type or id, or the situation
 * -- with the consent relied on; a consent granted or revoked is told to
 * its holder.  So an agency hears of a change only from the moment its
 * consent starts.  Delivery (svc_events.c) checks the consent again, in
 * the writer's transaction, before each event leaves: a revocation stops
 * the events at once.
 *
 * Bodies are sealed under the person's DEK: erasing the person shreds
 * their events with the rest (events_next returns them without a body).
 *
 * Retention: events older than the configured days, or beyond the
 * configured count, are deleted from the head by bounded writer
 * operations; the greatest seq purged is kept, so that a watcher whose
 * cursor is older is told so instead of silently missing events.
 *
 * What this module does not do: talk gRPC, write audit entries, or decide
 * a delivery (svc_events.c does).  Threads: the change hook runs on the
 * writer thread; every other call on the loop thread.
 */
#ifndef DOSSIER_EVENTS_H
#define DOSSIER_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "internal/records.pb-c.h"
#include "vault.h"

struct events;
struct store;
struct store_txn;
struct writer;

#define EVENTS_RETENTION_DAYS_DEFAULT 30
#define EVENTS_MAX_DEFAULT 1000000ull

struct events_config {
    uint32_t retention_days; /* events older than this go; 0: no age limit */
    uint64_t max_events;     /* at most this many kept; 0: no count limit */
};

/*
 * Opens the log in |s| (written through |w|) and becomes |v|'s change
 * hook and |w|'s report hook; an hourly timer on |loop| (unreferenced)
 * applies the retention, as does every EVENTS_PURGE_EVERY-th event.  None
 * is owned; all must outlive the log.  Returns 0 with |*out| set,
 * ERR_CORRUPT (the purge record is malformed), -ENOMEM or a store or
 * libuv error.  Loop thread.
 */
int events_open(uv_loop_t *loop, struct store *s, struct writer *w,
                struct vault *v, const struct events_config *cfg,
                struct events **out);

/* Frees |e| once its timer has closed (run the loop after it).  Call it
 * after writer_free(), which runs the hooks of every queued write, and
 * before vault_close().  NULL is a no-op.  Loop thread. */
void events_close(struct events *e);

/* --- watching ----------------------------------------------------------- */

/*
 * A listener is told (|fn|, on the loop thread) each time new events may
 * be readable: after the batch that made them is durable.  It is
 * embedded in the watcher's own struct; listen and unlisten it on the
 * loop thread.  |fn| may unlisten it.
 */
struct events_listener {
    void (*fn)(struct events_listener *l);
    struct events_listener *prev, *next;
};
void events_listen(struct events *e, struct events_listener *l);
void events_unlisten(struct events *e, struct events_listener *l);

/* In |t|: the greatest seq purged (0: none yet) and the greatest made (0:
 * none; never less than |*purged|).  Returns 0, ERR_CORRUPT or a store
 * error.  Any thread of |t|. */
int events_bounds(struct store_txn *t, uint64_t *purged, uint64_t *last);

/* One event read back. */
struct events_item {
    uint64_t seq;
    struct vault_id dossier;
    int64_t time_unix;
    /* Owned; NULL when the body cannot be opened any more (the person
     * was erased since). */
    Dossier__Internal__EventBody *body;
};

/*
 * Reads the first event with seq > |after| in |t| into |*out| (released
 * with events_item_clear).  Bodies are opened with the person's key:
 * |cache| holds the last person opened (start with it zeroed, end with
 * vault_person_close).  Returns 0, ERR_NOTFOUND (nothing after |after|),
 * ERR_CORRUPT (a record fails to parse or to authenticate) or a store
 * error.  Loop thread (opening a person uses the keyring).
 */
int events_next(struct events *e, struct store_txn *t, uint64_t after,
                struct vault_person *cache, struct events_item *out);
void events_item_clear(struct events_item *it);

/* The audience entry of |b| naming agency |uri| (exactly) or its kind
 * |kind|, or NULL: whether that agency is to be told.  Any thread. */
const Dossier__Internal__EventAudience *
events_audience_for(const Dossier__Internal__EventBody *b, const char *uri,
                    const char *kind);

/* Whether consent |c| is to hear of a change of its dossier's situation
 * at |now|: a standing consent, in force, that covers the situation.
 * The rule the event log applies; DeclareLifeEvent's answer says who
 * will be told with it.  Any thread. */
bool events_hears_situation(const Dossier__V1__Consent *c, int64_t now);

/* The agency kind of the holder of |c| into |out|: "caf" for a consent
 * to .../agency/caf-75, the consent's kind for one to a kind.  Any
 * thread. */
void events_holder_kind(const Dossier__V1__Consent *c, char *out, size_t len);

/* --- for tests ----------------------------------------------------------- */

/* The clock of the log, in unix seconds (0: the real clock). */
void events__now_set(struct events *e, int64_t t);

#endif
