/*
 * writer.c -- the writer thread and its group commit (see writer.h).
 *
 * Two lists cross threads, both under |mu|: |queue| (submitted, waiting
 * for a batch; filled by the loop thread, emptied by the writer thread)
 * and |done| (run, waiting to be reported; filled by the writer thread,
 * emptied by the loop thread when |async| fires).  An operation is in
 * exactly one list, or in the batch the writer thread is running, or in
 * |ready| (loop thread only) while its done callback is due.  The writer
 * thread never holds |mu| while it runs operations or commits, so a
 * submission waits at most for a list splice.
 *
 * The writer does not decide what an error means for a request; it only
 * decides whether writing may go on (writer_err_fatal).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "writer.h"

struct writer_op {
    struct writer_op *next;
    writer_op_fn *op;
    writer_done_fn *done;
    void *arg;
    int status;
    bool repeatable;       /* writer_submit_repeatable */
    uint64_t submitted_ns; /* uv_hrtime() at writer_submit */
    uint64_t posted_ns;    /* at the end of its batch (writer_post) */
};

/* A FIFO of operations. */
struct writer_list {
    struct writer_op *head;
    struct writer_op **tail;
};

struct writer {
    struct store *store;
    uv_loop_t *loop;
    uv_async_t async;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond; /* the writer thread waits on it for work */

    /* Under mu. */
    struct writer_list queue;
    uint32_t queued;
    struct writer_list done;
    bool closing; /* writer_free has begun: refuse, drain, stop */
    bool failed;  /* an I/O error stopped the writes */
    struct writer_stats stats;
    writer_batch_end_fn *batch_end; /* see writer_on_batch_end */
    void *batch_end_arg;

    /* Other stores the operations write (writer_watch); set before any
     * submission, then only read. */
    struct store *watched[WRITER_WATCH_MAX];
    size_t nwatched;

    /* Loop thread only. */
    struct writer_list ready; /* being reported (see writer_deliver) */
    size_t inflight;          /* submitted and not yet reported */
    writer_reported_fn *reported_fn;
    void *reported_arg;
};

static void
writer_list_init(struct writer_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void
writer_list_push(struct writer_list *l, struct writer_op *op)
{
    op->next = NULL;
    *l->tail = op;
    l->tail = &op->next;
}

/* Moves every operation of |from| to the end of |to|. */
static void
writer_list_splice(struct writer_list *to, struct writer_list *from)
{
    if (from->head == NULL)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    writer_list_init(from);
}

/*
 * Whether a commit error means the disk can no longer be trusted: an I/O
 * error from write or fsync, a filesystem gone read-only, a damaged file.
 * A full map or disk, a lack of memory, or a busy reader table are not:
 * writes are tried again in the next batch.
 */
static bool
writer_err_fatal(int err)
{
    if (err == ERR_CORRUPT)
        return true;
    return err < 0 && err > -4096 && err != -ENOMEM && err != -EAGAIN &&
           err != -EINVAL;
}

/*
 * Runs the operations from |first| up to |end| (excluded) in one child
 * transaction of |parent|: one operation, or a run of repeatable ones,
 * which then copy each page they touch once instead of once each (LMDB
 * copies a page into every child that writes it, and frees the parent's
 * copy at the child's commit, so each child's pages came from malloc,
 * zeroed).  Returns 0 with their writes kept, or the first error, with
 * none of them kept.
 */
static int
writer_child_run(struct writer *w, struct store_txn *parent,
                 struct writer_op *first, struct writer_op *end)
{
    struct store_txn *child;
    struct writer_op *op;
    int rc;

    if ((rc = store_txn_begin(w->store, STORE_TXN_WRITE, parent, &child)) !=
        0)
        return rc;
    for (op = first; op != end && rc == 0; op = op->next)
        rc = op->op(child, op->arg);
    if (rc == 0)
        return store_txn_commit(child);
    store_txn_abort(child);
    return rc;
}

/*
 * Runs operations from |ops| on, each in a child transaction of one batch
 * transaction (a run of repeatable ones in a shared child first, see
 * writer_child_run), until they end or the batch has put WRITER_BATCH_BYTES,
 * and commits the batch.  Sets the status of each operation run; cuts the
 * list after the last one run, sets |*rest| to the operations left and
 * |*n| to the number run.  Returns the error that failed every operation
 * run (0 if none), with the commit's duration in |*commit_ns| (0 if
 * nothing was committed).
 */
static int
writer_txn_run(struct writer *w, struct writer_op *ops, struct writer_op **rest,
               uint32_t *n, uint64_t *commit_ns)
{
    struct store_txn *parent = NULL;
    struct writer_op *op, *last = NULL;
    writer_batch_end_fn *end;
    void *end_arg;
    size_t kept = 0;
    uint64_t t0;
    int rc;

    *n = 0;
    *commit_ns = 0;
    uv_mutex_lock(&w->mu);
    end = w->batch_end;
    end_arg = w->batch_end_arg;
    uv_mutex_unlock(&w->mu);
    rc = store_txn_begin(w->store, STORE_TXN_WRITE, NULL, &parent);
    if (rc != 0) {
        /* Every operation left would fail the same way. */
        for (op = ops; op != NULL; op = op->next)
            (*n)++;
        *rest = NULL;
        return rc;
    }
    for (op = ops; op != NULL;) {
        struct writer_op *end_op = op->next;
        bool grouped = false;
        size_t k = 1;

        /* A run of repeatable operations shares one child, and runs
         * again one child each if any of them fails. */
        while (op->repeatable && end_op != NULL && end_op->repeatable &&
               k < WRITER_GROUP_MAX) {
            end_op = end_op->next;
            k++;
        }
        if (k > 1)
            grouped = writer_child_run(w, parent, op, end_op) == 0;
        for (; op != end_op; op = op->next) {
            rc = grouped ? 0 : writer_child_run(w, parent, op, op->next);
            op->status = rc;
            if (rc == 0)
                kept++;
            (*n)++;
            last = op;
        }
        /* A bounded batch bounds the memory of its dirty pages, the
         * latency of its commit, and how far it can reach into the
         * store's reserve (store.h). */
        if (store_txn_put_bytes(parent) >= WRITER_BATCH_BYTES)
            break;
    }
    *rest = op;
    last->next = NULL;
    if (kept == 0) {
        /* Every operation failed: nothing to sync. */
        if (end != NULL)
            end(end_arg, false);
        store_txn_abort(parent);
        return 0;
    }
    t0 = uv_hrtime();
    if (end != NULL && (rc = end(end_arg, true)) != 0) {
        end(end_arg, false);
        store_txn_abort(parent);
        *commit_ns = uv_hrtime() - t0;
        return rc;
    }
    rc = store_txn_commit(parent);
    *commit_ns = uv_hrtime() - t0;
    return rc;
}

static const uint64_t batch_bounds[WRITER_HIST_BUCKETS - 1] =
    WRITER_BATCH_BOUNDS;
static const uint64_t commit_bounds_us[WRITER_HIST_BUCKETS - 1] =
    WRITER_COMMIT_BOUNDS_US;

/* The histogram bucket of |v|: the first whose bound is >= |v|. */
static size_t
writer_bucket(const uint64_t *bounds, uint64_t v)
{
    size_t i = 0;

    while (i < WRITER_HIST_BUCKETS - 1 && v > bounds[i])
        i++;
    return i;
}

/* Records the outcome of |n| operations run in one batch transaction and
 * hands them to the loop thread.  Returns whether the writer has failed. */
static bool
writer_post(struct writer *w, struct writer_op *ops, uint32_t n, int rc,
            uint64_t commit_ns, uint64_t begun_ns, bool failed)
{
    struct writer_list done;
    struct writer_op *op;
    uint64_t op_failed = 0, now = uv_hrtime();
    uint64_t wait_hist[WRITER_HIST_BUCKETS] = {0}, wait_ns = 0;
    int fatal = writer_err_fatal(rc) ? rc : 0;

    writer_list_init(&done);
    while ((op = ops) != NULL) {
        uint64_t waited = begun_ns - op->submitted_ns;

        ops = op->next;
        if (rc != 0)
            op->status = rc;
        if (op->status != 0)
            op_failed++;
        wait_hist[writer_bucket(commit_bounds_us, waited / 1000)]++;
        wait_ns += waited;
        op->posted_ns = now;
        writer_list_push(&done, op);
    }
    /* A store written by the operations themselves (the key store) whose
     * commit failed with an I/O error stops the writer too: going on
     * would retry writes there (store_io_failed). */
    for (size_t i = 0; fatal == 0 && i < w->nwatched; i++)
        if (store_io_failed(w->watched[i]))
            fatal = -EIO;
    if (!failed && fatal != 0)
        log_print(LOG_LVL_ERROR, __func__,
                  "store writes stopped after an I/O error; restart "
                  "dossierd after checking the disk (err=\"%s\")",
                  err_str(fatal));

    uv_mutex_lock(&w->mu);
    for (size_t b = 0; b < WRITER_HIST_BUCKETS; b++)
        w->stats.wait_hist[b] += wait_hist[b];
    w->stats.total_wait_ns += wait_ns;
    w->stats.batch_hist[writer_bucket(batch_bounds, n)]++;
    w->stats.batches++;
    w->stats.ops += n;
    w->stats.ops_failed += op_failed;
    if (n > w->stats.max_batch)
        w->stats.max_batch = n;
    if (commit_ns != 0 && rc == 0) {
        w->stats.commits++;
        w->stats.last_commit_ns = commit_ns;
        w->stats.total_commit_ns += commit_ns;
        w->stats.commit_hist[writer_bucket(commit_bounds_us,
                                           commit_ns / 1000)]++;
        if (commit_ns > w->stats.max_commit_ns)
            w->stats.max_commit_ns = commit_ns;
    } else if (rc != 0 && !failed) {
        w->stats.commits_failed++;
    }
    if (!failed && fatal != 0)
        w->failed = true;
    failed = w->failed;
    w->stats.failed = failed;
    writer_list_splice(&w->done, &done);
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    return failed;
}

/* Runs the operations taken from the queue, in as many batch
 * transactions as the byte budget needs. */
static void
writer_batch(struct writer *w, struct writer_op *ops, bool failed)
{
    struct writer_op *rest, *op;
    uint64_t commit_ns, begun_ns;
    uint32_t n;
    int rc;

    while (ops != NULL) {
        begun_ns = uv_hrtime(); /* the queued time of |ops| ends here */
        if (failed) {
            /* Stopped: nothing more reaches the disk. */
            for (n = 0, op = ops; op != NULL; op = op->next)
                n++;
            rest = NULL;
            rc = -EIO;
            commit_ns = 0;
        } else {
            rc = writer_txn_run(w, ops, &rest, &n, &commit_ns);
        }
        failed = writer_post(w, ops, n, rc, commit_ns, begun_ns, failed);
        ops = rest;
    }
}

static void
writer_main(void *arg)
{
    struct writer *w = arg;
    struct writer_op *batch, *op;
    uint32_t n;
    bool failed;

    pthread_setname_np(pthread_self(), "dossierd-writer");
    for (;;) {
        uv_mutex_lock(&w->mu);
        while (w->queue.head == NULL && !w->closing)
            uv_cond_wait(&w->cond, &w->mu);
        if (w->queue.head == NULL) {
            /* Closing, and every queued operation has been run. */
            uv_mutex_unlock(&w->mu);
            break;
        }
        /* Take the first WRITER_BATCH_MAX operations, in order. */
        batch = w->queue.head;
        op = batch;
        for (n = 1; n < WRITER_BATCH_MAX && op->next != NULL; n++)
            op = op->next;
        w->queue.head = op->next;
        if (w->queue.head == NULL)
            w->queue.tail = &w->queue.head;
        op->next = NULL;
        w->queued -= n;
        failed = w->failed;
        uv_mutex_unlock(&w->mu);

        writer_batch(w, batch, failed);
    }
}

/*
 * Reports every operation the writer thread has finished, in order.  The
 * |ready| list lives in |w| so that a done callback that calls
 * writer_free (which reports too) does not reorder the reports.
 */
static void
writer_deliver(struct writer *w)
{
    struct writer_op *op;
    bool reported = false;
    uint64_t now = uv_hrtime();

    uv_mutex_lock(&w->mu);
    writer_list_splice(&w->ready, &w->done);
    /* Every operation about to be reported waited for the loop from its
     * batch's end until now (its callback runs now, or after those before
     * it in this pass, whose time is theirs).  Counted once: a callback
     * may re-enter (writer_free reports too). */
    for (op = w->ready.head; op != NULL; op = op->next) {
        if (op->posted_ns == 0)
            continue;
        w->stats.report_hist[writer_bucket(commit_bounds_us,
                                           (now - op->posted_ns) / 1000)]++;
        w->stats.total_report_ns += now - op->posted_ns;
        op->posted_ns = 0;
    }
    uv_mutex_unlock(&w->mu);
    while ((op = w->ready.head) != NULL) {
        w->ready.head = op->next;
        if (w->ready.head == NULL)
            w->ready.tail = &w->ready.head;
        w->inflight--;
        if (op->done != NULL)
            op->done(op->arg, op->status);
        free(op);
        reported = true;
    }
    if (reported && w->reported_fn != NULL)
        w->reported_fn(w->reported_arg);
    if (w->inflight == 0 && !uv_is_closing((uv_handle_t *)&w->async))
        uv_unref((uv_handle_t *)&w->async);
}

static void
writer_on_async(uv_async_t *async)
{
    writer_deliver(async->data);
}

int
writer_new(struct store *s, uv_loop_t *loop, struct writer **out)
{
    struct writer *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->store = s;
    w->loop = loop;
    writer_list_init(&w->queue);
    writer_list_init(&w->done);
    writer_list_init(&w->ready);
    rc = uv_mutex_init(&w->mu);
    if (rc != 0)
        goto fail_free;
    rc = uv_cond_init(&w->cond);
    if (rc != 0)
        goto fail_mutex;
    rc = uv_thread_create(&w->thread, writer_main, w);
    if (rc != 0) {
        log_warnx("cannot start the writer thread: %s", uv_strerror(rc));
        goto fail_cond;
    }
    /* After the thread: if this fails the thread is stopped and joined,
     * whereas a handle, once initialised, could only be freed later, in
     * a close callback. */
    rc = uv_async_init(loop, &w->async, writer_on_async);
    if (rc != 0) {
        log_warnx("cannot create the writer's wake-up handle: %s",
                  uv_strerror(rc));
        goto fail_thread;
    }
    w->async.data = w;
    uv_unref((uv_handle_t *)&w->async);
    *out = w;
    return 0;

fail_thread:
    uv_mutex_lock(&w->mu);
    w->closing = true;
    uv_cond_signal(&w->cond);
    uv_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
fail_cond:
    uv_cond_destroy(&w->cond);
fail_mutex:
    uv_mutex_destroy(&w->mu);
fail_free:
    free(w);
    return rc;
}

static int
writer_queue(struct writer *w, writer_op_fn *op, writer_done_fn *done,
             void *arg, bool repeatable)
{
    struct writer_op *o;
    int rc = 0;

    if (op == NULL)
        return ERR_INVALID;
    o = malloc(sizeof(*o));
    if (o == NULL)
        return -ENOMEM;
    o->op = op;
    o->done = done;
    o->arg = arg;
    o->status = 0;
    o->repeatable = repeatable;
    o->submitted_ns = uv_hrtime();

    uv_mutex_lock(&w->mu);
    if (w->closing) {
        rc = ERR_UNAVAILABLE;
    } else if (w->failed) {
        rc = -EIO;
    } else {
        writer_list_push(&w->queue, o);
        w->queued++;
        /* Signalled on every submission: cheap when the writer is busy
         * (nobody waits), and the batch forms from whatever has queued
         * by the time the writer thread takes the mutex. */
        uv_cond_signal(&w->cond);
    }
    uv_mutex_unlock(&w->mu);
    if (rc != 0) {
        free(o);
        return rc;
    }
    if (w->inflight++ == 0)
        uv_ref((uv_handle_t *)&w->async);
    return 0;
}

int
writer_submit(struct writer *w, writer_op_fn *op, writer_done_fn *done,
              void *arg)
{
    return writer_queue(w, op, done, arg, false);
}

int
writer_submit_repeatable(struct writer *w, writer_op_fn *op,
                         writer_done_fn *done, void *arg)
{
    return writer_queue(w, op, done, arg, true);
}

void
writer_on_reported(struct writer *w, writer_reported_fn *fn, void *arg)
{
    w->reported_fn = fn;
    w->reported_arg = arg;
}

int
writer_watch(struct writer *w, struct store *s)
{
    if (s == NULL || w->nwatched == WRITER_WATCH_MAX)
        return ERR_INVALID;
    w->watched[w->nwatched++] = s;
    return 0;
}

void
writer_stats(struct writer *w, struct writer_stats *out)
{
    uv_mutex_lock(&w->mu);
    *out = w->stats;
    out->queued = w->queued;
    out->failed = w->failed;
    uv_mutex_unlock(&w->mu);
}

static void
writer_on_close(uv_handle_t *h)
{
    struct writer *w = h->data;

    uv_cond_destroy(&w->cond);
    uv_mutex_destroy(&w->mu);
    free(w);
}

void
writer_free(struct writer *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->mu);
    w->closing = true;
    uv_cond_signal(&w->cond);
    uv_mutex_unlock(&w->mu);
    /* The thread runs what is queued, then returns. */
    uv_thread_join(&w->thread);
    uv_close((uv_handle_t *)&w->async, writer_on_close);
    writer_deliver(w);
}

/* Appends "<=B:N" for every non-empty bucket of |hist| to |out|. */
static void
writer_hist_format(char *out, size_t cap, const uint64_t *hist,
                   const uint64_t *bounds)
{
    size_t len = 0;
    int m;

    out[0] = '\0';
    for (size_t i = 0; i < WRITER_HIST_BUCKETS; i++) {
        if (hist[i] == 0)
            continue;
        if (i + 1 < WRITER_HIST_BUCKETS)
            m = snprintf(out + len, cap - len, "%s<=%llu:%llu",
                         len ? "," : "", (unsigned long long)bounds[i],
                         (unsigned long long)hist[i]);
        else
            m = snprintf(out + len, cap - len, "%s>%llu:%llu",
                         len ? "," : "", (unsigned long long)bounds[i - 1],
                         (unsigned long long)hist[i]);
        if (m < 0 || (size_t)m >= cap - len)
            break;
        len += (size_t)m;
    }
    if (len == 0)
        snprintf(out, cap, "-");
}

void
writer_on_batch_end(struct writer *w, writer_batch_end_fn *fn, void *arg)
{
    uv_mutex_lock(&w->mu);
    w->batch_end = fn;
    w->batch_end_arg = arg;
    uv_mutex_unlock(&w->mu);
}

void
writer_stats_log(const struct writer_stats *st)
{
    char sizes[WRITER_HIST_BUCKETS * 32], commits[WRITER_HIST_BUCKETS * 32];
    char waits[WRITER_HIST_BUCKETS * 32], reports[WRITER_HIST_BUCKETS * 32];
    uint64_t reported = 0;

    for (size_t b = 0; b < WRITER_HIST_BUCKETS; b++)
        reported += st->report_hist[b];

    writer_hist_format(sizes, sizeof(sizes), st->batch_hist, batch_bounds);
    writer_hist_format(commits, sizeof(commits), st->commit_hist,
                       commit_bounds_us);
    writer_hist_format(waits, sizeof(waits), st->wait_hist, commit_bounds_us);
    writer_hist_format(reports, sizeof(reports), st->report_hist,
                       commit_bounds_us);
    log_info("writer stats batches=%llu commits=%llu commits_failed=%llu "
             "ops=%llu ops_failed=%llu max_batch=%u mean_batch=%.1f "
             "mean_commit_us=%.0f max_commit_us=%.0f batch_sizes=%s "
             "commit_us=%s mean_wait_us=%.0f wait_us=%s mean_report_us=%.0f "
             "report_us=%s",
             (unsigned long long)st->batches,
             (unsigned long long)st->commits,
             (unsigned long long)st->commits_failed,
             (unsigned long long)st->ops, (unsigned long long)st->ops_failed,
             st->max_batch,
             st->batches ? (double)st->ops / (double)st->batches : 0.0,
             st->commits ? (double)st->total_commit_ns / 1e3 /
                               (double)st->commits
                         : 0.0,
             (double)st->max_commit_ns / 1e3, sizes, commits,
             st->ops ? (double)st->total_wait_ns / 1e3 / (double)st->ops
                     : 0.0,
             waits,
             reported ? (double)st->total_report_ns / 1e3 / (double)reported
                      : 0.0,
             reports);
}
