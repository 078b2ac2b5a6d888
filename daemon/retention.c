/*
 * retention.c -- hourly purge of old audit entries (see retention.h).
 *
 * A purge empties at most RETENTION_BATCH entries per writer operation,
 * so that requests queued behind it wait little; it goes on while batches
 * come back full.
 */
#include <stdlib.h>
#include <time.h>

#include "audit.h"
#include "err.h"
#include "log.h"
#include "retention.h"
#include "writer.h"

#define RETENTION_BATCH 1000
#define RETENTION_PERIOD_MS (3600 * 1000)

struct retention {
    uv_timer_t timer;
    struct writer *writer;
    struct audit *audit;
    uint32_t days;
    bool busy;      /* a purge operation is queued */
    bool stopping;
    bool timer_closed;
    /* Written on the writer thread, read in the done callback. */
    int64_t before_ms;
    uint64_t purged;
    uint64_t total;
};

static void retention_submit(struct retention *r);

static void
retention_maybe_free(struct retention *r)
{
    if (r->stopping && !r->busy && r->timer_closed)
        free(r);
}

static int
retention_run(struct store_txn *txn, void *arg)
{
    struct retention *r = arg;

    return audit_purge(r->audit, txn, r->before_ms, RETENTION_BATCH,
                       &r->purged);
}

static void
retention_done(void *arg, int status)
{
    struct retention *r = arg;

    r->busy = false;
    if (r->stopping) {
        retention_maybe_free(r);
        return;
    }
    if (status != 0) {
        log_warnx("audit retention purge failed: %s (tried again in an hour)",
                  err_str(status));
        return;
    }
    r->total += r->purged;
    if (r->purged == RETENTION_BATCH) {
        retention_submit(r);
        return;
    }
    if (r->total > 0)
        log_info("audit entries past retention emptied count=%llu days=%u "
                 "(their hashes stay: proofs still verify)",
                 (unsigned long long)r->total, r->days);
    r->total = 0;
}

static void
retention_submit(struct retention *r)
{
    r->before_ms = ((int64_t)time(NULL) - (int64_t)r->days * 86400) * 1000;
    r->busy = true;
    if (writer_submit(r->writer, retention_run, retention_done, r) != 0)
        r->busy = false;
}

static void
retention_tick(uv_timer_t *t)
{
    struct retention *r = t->data;

    if (!r->busy)
        retention_submit(r);
}

struct retention *
retention_start(uv_loop_t *loop, struct writer *w, struct audit *a,
                uint32_t days)
{
    struct retention *r;

    if (days == 0 || (r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->writer = w;
    r->audit = a;
    r->days = days;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, retention_tick, 0, RETENTION_PERIOD_MS);
    return r;
}

static void
retention_closed(uv_handle_t *h)
{
    struct retention *r = h->data;

    r->timer_closed = true;
    retention_maybe_free(r);
}

void
retention_stop(struct retention *r)
{
    if (r == NULL)
        return;
    r->stopping = true;
    uv_close((uv_handle_t *)&r->timer, retention_closed);
}
