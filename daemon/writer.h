/*
 * writer.h -- the single writer of the store, with group commit.
 *
 * One thread owns every write transaction of a store.  Code on the libuv
 * loop thread submits operations; the writer thread takes every operation
 * queued when it wakes (up to WRITER_BATCH_MAX), runs each in a child
 * transaction of one batch transaction (consecutive repeatable ones in a
 * shared child, see writer_submit_repeatable), commits the batch once (one
 * sync for all of them; a batch that puts over WRITER_BATCH_BYTES is split in
 * several), and only then reports each operation's outcome back on the
 * loop thread.  Operations run, and are reported, in submission order.  While
 * one batch is being synced, the next one queues: the busier the daemon, the
 * more operations share a sync.
 *
 * The writer does not know what operations write, nor retry them.  After
 * a commit fails with an I/O error it stops for good: with the page cache
 * in an unknown state after a failed write or fsync (PostgreSQL's
 * "fsyncgate"), retrying could report as durable data that is not, so
 * only a restart after checking the disk resumes writes.  A failed
 * commit of another store that operations write themselves (the key
 * store, see writer_watch) stops the writer the same way, after its batch.  A full store is not such an error: writes fail with ERR_FULL
 * while it lasts and succeed again once space is freed.
 */
#ifndef DOSSIER_WRITER_H
#define DOSSIER_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct store;
struct store_txn;
struct writer;

#define WRITER_BATCH_MAX 1024 /* operations taken from the queue at once */
/* Bytes (keys and values put) after which a batch transaction is committed
 * and the operations left of the batch go on in a new one: bounds the
 * dirty pages held in memory, a commit's latency, and how far one commit
 * can reach into the store's reserve (STORE_RESERVE_MAX, store.h). */
#define WRITER_BATCH_BYTES (8u << 20)
/* Repeatable operations sharing one child transaction at most
 * (writer_submit_repeatable); the batch's bytes are checked after them. */
#define WRITER_GROUP_MAX 64

/*
 * An operation: writes through |txn| (a child write transaction of the
 * batch) with store_put/store_del/cursors, reading what it needs in the
 * same txn.  It sees the effects of every operation committed before it,
 * including earlier ones of its batch.  Runs on the writer thread, so it
 * must not touch loop-thread state or block for long (every operation of
 * the batch waits for it); whatever |arg| holds that the op reads must stay
 * unchanged until done runs.
 *
 * Returns 0 to keep its writes, or an error (ERR_EXISTS, ERR_NOTFOUND,
 * ERR_FULL, any project code or negative errno) to drop them: only this
 * operation's child transaction is aborted, the batch goes on.  The value
 * reaches the done callback as is.
 */
typedef int writer_op_fn(struct store_txn *txn, void *arg);

/*
 * Called on the loop thread once the operation's outcome is final:
 * |status| is 0 when its writes are durable (the batch was committed and
 * synced); the operation's own error (its writes dropped); or, when the
 * batch commit failed, that commit's error for every operation of the
 * batch, none of which is durable then: ERR_FULL, -EIO (the writer has
 * stopped, see writer_submit), -ENOMEM...  It may call writer_submit().
 */
typedef void writer_done_fn(void *arg, int status);

/* Histogram buckets of writer_stats: upper bounds, the last bucket taking
 * everything above the last bound (+Inf).  Counts are per bucket, not
 * cumulative. */
#define WRITER_HIST_BUCKETS 12
/* Operations in one batch transaction. */
#define WRITER_BATCH_BOUNDS {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
/* Duration of one commit with its sync, in microseconds. */
#define WRITER_COMMIT_BOUNDS_US                                                \
    {250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000}

/* Figures for metrics and benchmarks, from writer_stats(). */
struct writer_stats {
    uint64_t batches;        /* batch transactions run */
    uint64_t commits;        /* batches committed (synced) */
    uint64_t commits_failed; /* batches failed whole (begin or commit) */
    uint64_t ops;            /* operations run */
    uint64_t ops_failed;     /* operations completed with status != 0 */
    uint32_t max_batch;      /* most operations in one batch */
    uint32_t queued;         /* operations waiting for a batch now */
    uint64_t last_commit_ns; /* duration of the last commit (with sync) */
    uint64_t max_commit_ns;
    uint64_t total_commit_ns; /* over |commits| */
    bool failed;              /* stopped after an I/O error */
    uint64_t batch_hist[WRITER_HIST_BUCKETS];  /* batches by operations */
    uint64_t commit_hist[WRITER_HIST_BUCKETS]; /* commits by duration */
    /* Where an operation's time goes besides its batch's run and commit,
     * in microseconds (WRITER_COMMIT_BOUNDS_US), over every operation
     * reported: queued, from writer_submit to the start of its batch
     * transaction (waiting for the one before to commit); reported, from
     * the end of its batch to its done callback on the loop thread
     * (waiting for the loop).  Sums in nanoseconds. */
    uint64_t wait_hist[WRITER_HIST_BUCKETS];
    uint64_t report_hist[WRITER_HIST_BUCKETS];
    uint64_t total_wait_ns, total_report_ns;
};

/*
 * Logs |st| as one info line (batches, operations, commit times, the
 * batch sizes seen), for benchmarks and operators: dossierd logs it at
 * exit.  Any thread.
 */
void writer_stats_log(const struct writer_stats *st);

/*
 * Starts the writer of |s| with its thread; completions are delivered on
 * |loop|.  The writer keeps |loop| alive only while operations are in
 * flight (its uv_async_t is unreferenced when idle).  Neither |s| nor
 * |loop| is owned; both must outlive the writer.  In the process, nothing
 * else should begin write transactions on |s| while the writer runs: they
 * would stall it (LMDB allows one writer at a time).
 *
 * Returns 0 with |*out| set, or -ENOMEM, -EAGAIN (no thread), or another
 * negative errno from libuv.  On the loop thread.
 */
int writer_new(struct store *s, uv_loop_t *loop, struct writer **out);

/*
 * Queues operation |op| with |arg|; |done| (may be NULL) runs later on the
 * loop thread with its status.  The small queue entry is allocated here
 * and freed after |done| ran.  Never blocks for long: it only takes the
 * queue's mutex, which the writer thread holds briefly (never during a
 * commit or an operation).
 *
 * Returns 0 (|done| will run exactly once), or, without ever running
 * |done|: ERR_INVALID (|op| NULL), ERR_UNAVAILABLE (writer_free has
 * begun), -EIO (the writer stopped after an I/O error: "store writes
 * stopped after an I/O error", logged once when it happened), -ENOMEM.
 * On the loop thread only.
 */
int writer_submit(struct writer *w, writer_op_fn *op, writer_done_fn *done,
                  void *arg);

/*
 * Like writer_submit, for an operation that may run more than once: it
 * leaves nothing between runs but its writes in |txn| (dropped when a run
 * is not kept), and each run starts over from what the loop thread put in
 * |arg|, replacing what an earlier run left there.  Consecutive
 * repeatable operations of a batch (up to WRITER_GROUP_MAX) share one
 * child transaction, so each page they write is copied once, not once per
 * operation; if one of them fails, that child is dropped and each of them
 * runs again in a child of its own, as writer_submit's would.  What each
 * sees and reports is the same either way.  The audited reads' decisions
 * are such operations.
 */
int writer_submit_repeatable(struct writer *w, writer_op_fn *op,
                             writer_done_fn *done, void *arg);

/*
 * Called on the loop thread after each round of done callbacks: by then
 * every operation of the batches just reported is durable or failed, so a
 * reader beginning a transaction sees what they wrote (the event log
 * wakes its watchers with it).  May call writer_submit().
 */
typedef void writer_reported_fn(void *arg);

/* Sets (|fn| NULL: clears) the function run after each round of reports.
 * Loop thread. */
void writer_on_reported(struct writer *w, writer_reported_fn *fn, void *arg);

/* Most stores writer_watch() takes. */
#define WRITER_WATCH_MAX 4

/*
 * Makes the writer stop, as after a failed commit of its own store, once
 * a top-level commit of |s| has failed with an I/O error
 * (store_io_failed): for a store that operations write in their own
 * transactions, such as the key store.  Checked after every batch.  |s|
 * is not owned and must outlive the writer.  Returns 0, or ERR_INVALID
 * (|s| NULL, or WRITER_WATCH_MAX stores watched already).  On the loop
 * thread, before the first writer_submit().
 */
int writer_watch(struct writer *w, struct store *s);

/*
 * Called on the writer thread at the end of each batch transaction that
 * ran operations: with |commit| true just before the batch commits (an
 * error then fails the whole batch: nothing of it is committed and every
 * operation of it gets that error), with |commit| false when the batch is
 * dropped instead (every operation failed, or the hook's own error).  It
 * lets a module that writes a second store from inside operations (the
 * vault's key store) make those writes durable once per batch, before
 * the batch that depends on them, instead of once per operation.
 */
typedef int writer_batch_end_fn(void *arg, bool commit);

/*
 * Installs |fn| (NULL: none) with |arg| as the batch-end hook of |w|; one
 * hook per writer.  Takes effect from the next batch.  Loop thread.
 */
void writer_on_batch_end(struct writer *w, writer_batch_end_fn *fn, void *arg);

/*
 * Copies the writer's counters into |*out|.  Any thread (takes the queue's
 * mutex briefly).
 */
void writer_stats(struct writer *w, struct writer_stats *out);

/*
 * Stops |w|: refuses new submissions, lets the writer thread run and
 * commit every operation still queued, joins the thread, then calls the
 * done callback of every operation not yet reported, from within this
 * call, before returning.  It blocks the loop for as long as the last
 * batches take.  The memory of |w| is released by the close callback of
 * its uv_async_t: run |loop| once more (as anyway needed before
 * uv_loop_close) after this call; it works whether or not the loop was
 * still running.  |w| must not be used after this call.
 * writer_free(NULL) is a no-op.  On the loop thread; may be called from a
 * done callback.
 */
void writer_free(struct writer *w);

#endif
