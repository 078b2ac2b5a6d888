/*
 * test_writer.c -- unit tests of writer.c on a real store in fresh mkdtemp
 * directories, with a libuv loop receiving the completions: 1000
 * operations and their statuses in order, group commit (a held batch makes
 * the rest queue into one), a failing operation amid its batch,
 * repeatable operations sharing a child and running again alone, data
 * visible when done runs, the byte budget splitting a batch, a full store
 * (ERR_FULL, then writes resume after deleting), an injected ERR_FULL
 * commit (not fatal) and -EIO commit (the writer stops), and writer_free
 * draining the queue, also from within a done callback.  Every test ends
 * with uv_loop_close returning 0.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <uv.h>

#include "err.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "writer.h"

static char base[64];
static char dir[128];
static char data[160];

static void
base_setup(void)
{
    testutil_mkdtemp(base, sizeof(base), NULL, "dossier-writer");
}

static void
base_teardown(void)
{
    testutil_rmtree(base);
}

static void
dir_setup(void)
{
    testutil_mkdtemp(dir, sizeof(dir), base, "t");
    snprintf(data, sizeof(data), "%s/data", dir);
}

static void
dir_teardown(void)
{
    testutil_rmtree(dir);
}

/* --- the harness ------------------------------------------------------- */

#define NOPS 1000

struct fx;
typedef void fx_start_fn(struct fx *f);

/* One loop, one store, one writer; |start| runs on the loop (from a
 * timer) to submit the test's operations. */
struct fx {
    uv_loop_t loop;
    uv_timer_t timer;
    struct store *s;
    struct writer *w;
    fx_start_fn *start;
    uv_sem_t hold;    /* a held operation waits on it (writer thread) */
    uv_sem_t running; /* ...after posting this one */
    int done;         /* done callbacks run */
    int next;         /* the index the next done callback must carry */
    bool in_order;
    bool closing; /* writer_free has been called */
    int status[NOPS];
    int n; /* test-specific counter */
    int phase;
};

/* An operation's argument. */
struct item {
    struct fx *f;
    int i;
    int ret;     /* what the op returns after writing */
    bool hold;   /* wait on f->hold first */
    size_t vlen; /* bytes of value to write (0: the key itself) */
    int runs;    /* times the operation ran (writer thread) */
};

static struct item items[NOPS];

static void
fx_on_timer(uv_timer_t *t)
{
    struct fx *f = t->data;

    if (f->start != NULL)
        f->start(f);
}

static void
fx_open(struct fx *f, size_t map_size, fx_start_fn *start)
{
    memset(f, 0, sizeof(*f));
    f->in_order = true;
    f->start = start;
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(uv_sem_init(&f->hold, 0), 0);
    ck_assert_int_eq(uv_sem_init(&f->running, 0), 0);
    ck_assert_int_eq(store_open(data, map_size, &f->s), 0);
    ck_assert_int_eq(writer_new(f->s, &f->loop, &f->w), 0);
    ck_assert_int_eq(uv_timer_init(&f->loop, &f->timer), 0);
    f->timer.data = f;
    ck_assert_int_eq(uv_timer_start(&f->timer, fx_on_timer, 0, 0), 0);
}

/* Runs the loop until nothing is in flight: the writer's handle keeps
 * the loop alive only while operations are. */
static void
fx_run(struct fx *f)
{
    ck_assert_int_eq(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static void
fx_close(struct fx *f)
{
    if (!f->closing)
        writer_free(f->w);
    uv_close((uv_handle_t *)&f->timer, NULL);
    ck_assert_int_eq(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    uv_sem_destroy(&f->hold);
    uv_sem_destroy(&f->running);
    store_close(f->s);
}

static void
key_of(char *key, size_t cap, int i)
{
    snprintf(key, cap, "k%04d", i);
}

/* Writes "k<i>" (value: the key, or vlen zero bytes), then returns
 * item->ret, which drops the write when it is an error. */
static int
op_put(struct store_txn *t, void *arg)
{
    static const uint8_t zeros[1 << 20];
    struct item *it = arg;
    char key[16];
    int rc;

    if (it->hold) {
        uv_sem_post(&it->f->running);
        uv_sem_wait(&it->f->hold);
    }
    it->runs++;
    key_of(key, sizeof(key), it->i);
    if (it->vlen > 0)
        rc = store_put(t, STORE_DB_DOCS, key, strlen(key), zeros, it->vlen, 0);
    else
        rc = store_put(t, STORE_DB_DOCS, key, strlen(key), key, strlen(key), 0);
    return rc != 0 ? rc : it->ret;
}

/* Records the status; checks that reports come in submission order. */
static void
on_done(void *arg, int status)
{
    struct item *it = arg;
    struct fx *f = it->f;

    if (it->i != f->next)
        f->in_order = false;
    f->next = it->i + 1;
    f->status[it->i] = status;
    f->done++;
}

/*
 * Submits a held op 0 and waits until the writer thread runs it: the
 * writer is then inside a batch, and whatever is submitted until
 * release() queues for the next batch, all of it.
 */
static void submit(struct fx *f, int i, int ret, bool hold, size_t vlen);

static void
hold_writer(struct fx *f, size_t vlen)
{
    submit(f, 0, 0, true, vlen);
    uv_sem_wait(&f->running);
}

static void
release(struct fx *f)
{
    uv_sem_post(&f->hold);
}

static void
submit(struct fx *f, int i, int ret, bool hold, size_t vlen)
{
    items[i] =
        (struct item){.f = f, .i = i, .ret = ret, .hold = hold, .vlen = vlen};
    ck_assert_int_eq(writer_submit(f->w, op_put, on_done, &items[i]), 0);
}

/* Whether "k<i>" is in the store, from a read txn of its own. */
static bool
stored(struct store *s, int i)
{
    struct store_txn *t;
    const void *v;
    size_t len;
    char key[16];
    int rc;

    key_of(key, sizeof(key), i);
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_READ, NULL, &t), 0);
    rc = store_get(t, STORE_DB_DOCS, key, strlen(key), &v, &len);
    store_txn_abort(t);
    ck_assert(rc == 0 || rc == ERR_NOTFOUND);
    return rc == 0;
}

/* --- cases ------------------------------------------------------------- */

/* Op i returns ERR_INVALID when i % 10 == 3, -EPERM when i % 10 == 7. */
static int
expected_status(int i)
{
    return i % 10 == 3 ? ERR_INVALID : i % 10 == 7 ? -EPERM : 0;
}

static void
start_thousand(struct fx *f)
{
    for (int i = 0; i < NOPS; i++)
        submit(f, i, expected_status(i), false, 0);
}

START_TEST(test_writer_thousand_ops)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_thousand);
    fx_run(&f);
    ck_assert_int_eq(f.done, NOPS);
    ck_assert(f.in_order);
    for (int i = 0; i < NOPS; i++) {
        ck_assert_int_eq(f.status[i], expected_status(i));
        ck_assert(stored(f.s, i) == (expected_status(i) == 0));
    }
    writer_stats(f.w, &st);
    ck_assert_uint_eq(st.ops, NOPS);
    ck_assert_uint_eq(st.ops_failed, 200);
    ck_assert_uint_ge(st.batches, 1);
    ck_assert_uint_lt(st.batches, NOPS);
    ck_assert_uint_eq(st.commits, st.batches);
    ck_assert_uint_eq(st.commits_failed, 0);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_gt(st.last_commit_ns, 0);
    ck_assert_uint_ge(st.max_commit_ns, st.last_commit_ns);
    ck_assert_uint_ge(st.total_commit_ns, st.max_commit_ns);
    ck_assert(!st.failed);
    fx_close(&f);
}
END_TEST

/* The first op holds the writer thread until every op is queued: the
 * other 999 then share one batch transaction and one sync. */
static void
start_group(struct fx *f)
{
    hold_writer(f, 0);
    for (int i = 1; i < NOPS; i++)
        submit(f, i, 0, false, 0);
    usleep(6000); /* the queued ops wait at least that (writer_stats) */
    release(f);
}

START_TEST(test_writer_group_commit)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_group);
    fx_run(&f);
    ck_assert_int_eq(f.done, NOPS);
    ck_assert(f.in_order);
    for (int i = 0; i < NOPS; i++)
        ck_assert_int_eq(f.status[i], 0);
    writer_stats(f.w, &st);
    ck_assert_uint_eq(st.ops, NOPS);
    ck_assert_uint_lt(st.batches, st.ops);
    ck_assert_uint_eq(st.batches, 2);
    ck_assert_uint_eq(st.commits, 2);
    ck_assert_uint_eq(st.max_batch, NOPS - 1);
    /* The batch sizes seen: one batch of 1 (the held op), one of NOPS-1. */
    {
        uint64_t sum = 0;
        for (int k = 0; k < WRITER_HIST_BUCKETS; k++)
            sum += st.batch_hist[k];
        ck_assert_uint_eq(sum, st.batches);
        ck_assert_uint_eq(st.batch_hist[0], 1);  /* <= 1 */
        ck_assert_uint_eq(st.batch_hist[10], 1); /* 513..1024 */
    }
    /* Where their time went: every op counted once in each histogram;
     * the NOPS-1 queued behind the held op waited over 5 ms. */
    {
        uint64_t waits = 0, reports = 0, waited_long = 0;

        for (int k = 0; k < WRITER_HIST_BUCKETS; k++) {
            waits += st.wait_hist[k];
            reports += st.report_hist[k];
        }
        for (int k = 5; k < WRITER_HIST_BUCKETS; k++) /* > 5000 us */
            waited_long += st.wait_hist[k];
        ck_assert_uint_eq(waits, NOPS);
        ck_assert_uint_eq(reports, NOPS);
        ck_assert_uint_eq(waited_long, NOPS - 1);
        ck_assert_uint_ge(st.total_wait_ns, (uint64_t)(NOPS - 1) * 5000000);
    }
    ck_assert(stored(f.s, 0));
    ck_assert(stored(f.s, NOPS - 1));
    fx_close(&f);
}
END_TEST

/* In one batch: op 4 meets ERR_EXISTS on a key op 2 wrote earlier in the
 * same batch, op 5 writes then fails; their neighbours are committed. */
static int
op_put_exclusive(struct store_txn *t, void *arg)
{
    struct item *it = arg;
    char key[16];

    it->runs++;
    key_of(key, sizeof(key), 2);
    return store_put(t, STORE_DB_DOCS, key, strlen(key), "dup", 3,
                     STORE_PUT_NOOVERWRITE);
}

/* start_neighbours submits ops 1-9 repeatable (but op 6) when set. */
static bool neighbours_repeatable;

static void
start_neighbours(struct fx *f)
{
    hold_writer(f, 0);
    for (int i = 1; i < 10; i++) {
        writer_op_fn *fn = i == 4 ? op_put_exclusive : op_put;

        items[i] =
            (struct item){.f = f, .i = i, .ret = i == 5 ? ERR_INVALID : 0};
        if (neighbours_repeatable && i != 6)
            ck_assert_int_eq(
                writer_submit_repeatable(f->w, fn, on_done, &items[i]), 0);
        else
            ck_assert_int_eq(writer_submit(f->w, fn, on_done, &items[i]), 0);
    }
    release(f);
}

/* Runs start_neighbours and checks the outcomes, the same either way:
 * ops 1..9 in one batch, op 4 ERR_EXISTS, op 5 ERR_INVALID, the others
 * kept, op 2's value standing. */
static void
run_neighbours(struct fx *f, bool repeatable)
{
    struct writer_stats st;
    struct store_txn *t;
    const void *v;
    size_t len;

    neighbours_repeatable = repeatable;
    fx_open(f, 0, start_neighbours);
    fx_run(f);
    ck_assert_int_eq(f->done, 10);
    ck_assert(f->in_order);
    writer_stats(f->w, &st);
    ck_assert_uint_eq(st.batches, 2); /* ops 1..9 shared a batch */
    ck_assert_uint_eq(st.max_batch, 9);
    for (int i = 0; i < 10; i++) {
        int want = i == 4 ? ERR_EXISTS : i == 5 ? ERR_INVALID : 0;

        ck_assert_int_eq(f->status[i], want);
        if (i != 4)
            ck_assert(stored(f->s, i) == (want == 0));
    }
    /* Op 2's value stands, op 4 changed nothing. */
    ck_assert_int_eq(store_txn_begin(f->s, STORE_TXN_READ, NULL, &t), 0);
    ck_assert_int_eq(store_get(t, STORE_DB_DOCS, "k0002", 5, &v, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(v, "k0002", 5);
    ck_assert_int_eq(store_get(t, STORE_DB_DOCS, "k0004", 5, &v, &len),
                     ERR_NOTFOUND);
    store_txn_abort(t);
    ck_assert_uint_eq(st.ops_failed, 2);
}

START_TEST(test_writer_failing_op_spares_neighbours)
{
    struct fx f;

    run_neighbours(&f, false);
    for (int i = 1; i < 10; i++)
        ck_assert_int_eq(items[i].runs, 1);
    fx_close(&f);
}
END_TEST

/*
 * The same operations, repeatable (writer_submit_repeatable) but op 6.
 * Ops 1-5 share a child, dropped at op 4's ERR_EXISTS (it sees op 2's
 * write there too), and ops 1-5 run again one child each; op 6 runs once
 * in its own; ops 7-9 share a child and run once.  The outcomes are those
 * of one child each.
 */
START_TEST(test_writer_repeatable_share_a_child)
{
    struct fx f;

    run_neighbours(&f, true);
    for (int i = 1; i < 10; i++)
        /* Op 5 was not reached in the shared child: op 4 failed first. */
        ck_assert_int_eq(items[i].runs, i <= 4 ? 2 : 1);
    fx_close(&f);
}
END_TEST

/* A failure at the end of a shared child: ops 1-8 repeatable, op 8
 * fails after writing; 1-7 are kept after running twice. */
static void
start_repeatable_last_fails(struct fx *f)
{
    hold_writer(f, 0);
    for (int i = 1; i < 9; i++) {
        items[i] = (struct item){.f = f, .i = i, .ret = i == 8 ? -EPERM : 0};
        ck_assert_int_eq(
            writer_submit_repeatable(f->w, op_put, on_done, &items[i]), 0);
    }
    release(f);
}

START_TEST(test_writer_repeatable_failure_reruns_alone)
{
    struct fx f;

    fx_open(&f, 0, start_repeatable_last_fails);
    fx_run(&f);
    ck_assert_int_eq(f.done, 9);
    ck_assert(f.in_order);
    for (int i = 1; i < 9; i++) {
        ck_assert_int_eq(f.status[i], i == 8 ? -EPERM : 0);
        ck_assert(stored(f.s, i) == (i != 8));
        ck_assert_int_eq(items[i].runs, 2);
    }
    fx_close(&f);
}
END_TEST

/* Each done callback reads its own record back: durable and visible. */
static void
on_done_read(void *arg, int status)
{
    struct item *it = arg;

    ck_assert_int_eq(status, 0);
    ck_assert(stored(it->f->s, it->i));
    /* Not yet submitted: not there. */
    if (it->i + 1 < 50)
        ck_assert(!stored(it->f->s, it->i + 1));
    it->f->done++;
    if (it->i + 1 < 50) {
        items[it->i + 1] = (struct item){.f = it->f, .i = it->i + 1};
        ck_assert_int_eq(
            writer_submit(it->f->w, op_put, on_done_read, &items[it->i + 1]),
            0);
    }
}

static void
start_visible(struct fx *f)
{
    items[0] = (struct item){.f = f, .i = 0};
    ck_assert(!stored(f->s, 0));
    ck_assert_int_eq(writer_submit(f->w, op_put, on_done_read, &items[0]), 0);
}

START_TEST(test_writer_visible_when_done)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_visible);
    fx_run(&f);
    ck_assert_int_eq(f.done, 50);
    writer_stats(f.w, &st);
    ck_assert_uint_eq(st.commits, 50); /* one at a time: chained */
    fx_close(&f);
}
END_TEST

/* 20 ops of 1 MiB: over WRITER_BATCH_BYTES (8 MiB), so the batch is
 * committed in several transactions. */
static void
start_budget(struct fx *f)
{
    hold_writer(f, 1 << 20);
    for (int i = 1; i < 20; i++)
        submit(f, i, 0, false, 1 << 20);
    release(f);
}

START_TEST(test_writer_byte_budget_splits)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_budget);
    fx_run(&f);
    ck_assert_int_eq(f.done, 20);
    ck_assert(f.in_order);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(f.status[i], 0);
        ck_assert(stored(f.s, i));
    }
    writer_stats(f.w, &st);
    /* Op 0 alone, then 19 MiB taken at once: cut after 8 MiB, twice. */
    ck_assert_uint_eq(st.batches, 4);
    ck_assert_uint_eq(st.max_batch, WRITER_BATCH_BYTES >> 20);
    fx_close(&f);
}
END_TEST

/* --- a full store ------------------------------------------------------ */

static char big[1000];

/* Fill: 20 values of 1000 bytes, keys "f<n>" from f->n on. */
static int
op_fill(struct store_txn *t, void *arg)
{
    struct fx *f = arg;
    char key[16];
    int rc;

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "f%06d", f->n + i);
        rc = store_put(t, STORE_DB_CHUNKS, key, strlen(key), big, sizeof(big),
                       0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Deletes the first half of what fill wrote, in one operation. */
static int
op_drop_half(struct store_txn *t, void *arg)
{
    struct fx *f = arg;
    char key[16];
    int rc;

    for (int i = 0; i < f->n / 2; i++) {
        snprintf(key, sizeof(key), "f%06d", i);
        rc = store_del(t, STORE_DB_CHUNKS, key, strlen(key));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Phases: 0 fill until ERR_FULL; 1 fill once more: refused at its first
 * put; 2 drop half; 3 fill again, which works. */
static void
on_full_done(void *arg, int status)
{
    struct fx *f = arg;
    struct store_stat st;
    writer_op_fn *next = op_fill;

    f->done++;
    switch (f->phase) {
    case 0:
        if (status == 0) {
            f->n += 20;
            ck_assert_int_lt(f->n, 5000);
            break;
        }
        ck_assert_int_eq(status, ERR_FULL);
        ck_assert_int_eq(store_stat(f->s, &st), 0);
        ck_assert(st.puts_refused);
        f->phase = 1;
        break;
    case 1:
        ck_assert_int_eq(status, ERR_FULL); /* still full */
        f->phase = 2;
        next = op_drop_half;
        break;
    case 2:
        ck_assert_int_eq(status, 0);
        f->phase = 3;
        break;
    case 3:
        ck_assert_int_eq(status, 0);
        f->phase = 4;
        return;
    }
    ck_assert_int_eq(writer_submit(f->w, next, on_full_done, f), 0);
}

static void
start_full(struct fx *f)
{
    ck_assert_int_eq(writer_submit(f->w, op_fill, on_full_done, f), 0);
}

START_TEST(test_writer_full_then_recovers)
{
    struct fx f;
    struct writer_stats st;
    struct store_stat ss;

    fx_open(&f, 1u << 20, start_full);
    fx_run(&f);
    ck_assert_int_eq(f.phase, 4);
    ck_assert_int_gt(f.n, 300);
    writer_stats(f.w, &st);
    ck_assert(!st.failed);
    ck_assert_uint_eq(st.ops_failed, 2);
    ck_assert_uint_eq(st.commits_failed, 0);
    ck_assert_int_eq(store_stat(f.s, &ss), 0);
    ck_assert(!ss.puts_refused);
    /* Half the fill was dropped, 20 records were added after. */
    ck_assert_uint_eq(ss.entries[STORE_DB_CHUNKS], f.n - f.n / 2 + 20);
    fx_close(&f);
}
END_TEST

/* --- injected commit faults -------------------------------------------- */

/* After an ERR_FULL commit, the next op is tried and commits. */
static void
on_done_then_retry(void *arg, int status)
{
    struct item *it = arg;

    on_done(arg, status);
    if (it->i == 0)
        submit(it->f, 1, 0, false, 0);
}

static void
start_fault_full(struct fx *f)
{
    store__fault_commit(f->s, ERR_FULL);
    items[0] = (struct item){.f = f, .i = 0};
    ck_assert_int_eq(writer_submit(f->w, op_put, on_done_then_retry, &items[0]),
                     0);
}

START_TEST(test_writer_commit_full_not_fatal)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_fault_full);
    fx_run(&f);
    ck_assert_int_eq(f.done, 2);
    ck_assert_int_eq(f.status[0], ERR_FULL);
    ck_assert_int_eq(f.status[1], 0);
    ck_assert(!stored(f.s, 0));
    ck_assert(stored(f.s, 1));
    writer_stats(f.w, &st);
    ck_assert(!st.failed);
    ck_assert_uint_eq(st.commits_failed, 1);
    ck_assert_uint_eq(st.commits, 1);
    fx_close(&f);
}
END_TEST

/* Op 0 holds the writer while 1..4 queue; the commit of op 0's batch
 * fails with -EIO: every op gets -EIO, later submissions fail at once. */
static void
start_fault_eio(struct fx *f)
{
    store__fault_commit(f->s, -EIO);
    hold_writer(f, 0);
    for (int i = 1; i < 5; i++)
        submit(f, i, 0, false, 0);
    release(f);
}

START_TEST(test_writer_io_error_stops_writes)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_fault_eio);
    fx_run(&f);
    ck_assert_int_eq(f.done, 5);
    ck_assert(f.in_order);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(f.status[i], -EIO);
        ck_assert(!stored(f.s, i));
    }
    writer_stats(f.w, &st);
    ck_assert(st.failed);
    ck_assert_uint_eq(st.commits_failed, 1); /* no retried commit */
    ck_assert_uint_eq(st.commits, 0);
    ck_assert_uint_eq(st.ops_failed, 5);
    /* From now on, at once and without a callback. */
    items[5] = (struct item){.f = &f, .i = 5};
    ck_assert_int_eq(writer_submit(f.w, op_put, on_done, &items[5]), -EIO);
    ck_assert_int_eq(uv_run(&f.loop, UV_RUN_NOWAIT), 0);
    ck_assert_int_eq(f.done, 5);
    /* The store itself still reads. */
    ck_assert(!stored(f.s, 5));
    fx_close(&f);
}
END_TEST

/* Bug found by tests/fault/test_iofail.py: a failed sync of the key
 * store, inside an enrolment or an erasure, came back as that operation's
 * -EIO while the batch committed, and the writer went on taking writes
 * (and retrying the key store's fsync at the next enrolment).  Now the
 * key store is watched: its failed commit stops the writer after the
 * batch, whose other ops commit. */
static struct store *other;

static int
op_other(struct store_txn *t, void *arg)
{
    struct store_txn *o;
    int rc;

    (void)t;
    (void)arg;
    if ((rc = store_txn_begin(other, STORE_TXN_WRITE, NULL, &o)) != 0)
        return rc;
    if ((rc = store_put(o, STORE_DB_PERSONS, "dek", 3, "w", 1, 0)) != 0) {
        store_txn_abort(o);
        return rc;
    }
    return store_txn_commit(o);
}

static void
start_other_eio(struct fx *f)
{
    static struct item it;

    hold_writer(f, 0);
    store__fault_commit(other, -EIO);
    it = (struct item){.f = f, .i = 1};
    ck_assert_int_eq(writer_submit(f->w, op_other, on_done, &it), 0);
    submit(f, 2, 0, false, 0);
    release(f);
}

START_TEST(test_writer_watched_store_io_error_stops_writes)
{
    char path[200];
    struct fx f;
    struct writer_stats st;
    struct store_txn *t;

    snprintf(path, sizeof(path), "%s/other", dir);
    ck_assert_int_eq(store_open(path, 0, &other), 0);
    fx_open(&f, 0, start_other_eio);
    ck_assert_int_eq(writer_watch(f.w, other), 0);
    fx_run(&f);
    ck_assert_int_eq(f.done, 3);
    ck_assert_int_eq(f.status[0], 0);
    ck_assert_int_eq(f.status[1], -EIO);
    ck_assert_int_eq(f.status[2], 0);
    ck_assert(stored(f.s, 0));
    ck_assert(stored(f.s, 2));
    writer_stats(f.w, &st);
    ck_assert(st.failed);
    items[3] = (struct item){.f = &f, .i = 3};
    ck_assert_int_eq(writer_submit(f.w, op_put, on_done, &items[3]), -EIO);
    /* The failed store takes no write transaction any more: no retried
     * sync. */
    ck_assert(store_io_failed(other));
    ck_assert_int_eq(store_txn_begin(other, STORE_TXN_WRITE, NULL, &t), -EIO);
    fx_close(&f);
    store_close(other);
}
END_TEST

/* An op's own -EIO (e.g. an OpenSSL failure reported by crypto.c) or
 * another refusal does not stop writes: only a store's failed commit
 * does. */
static void
start_op_refusal(struct fx *f)
{
    submit(f, 0, -EIO, false, 0);
    submit(f, 1, ERR_CORRUPT, false, 0);
    submit(f, 2, 0, false, 0);
}

START_TEST(test_writer_op_error_not_fatal)
{
    struct fx f;
    struct writer_stats st;

    fx_open(&f, 0, start_op_refusal);
    fx_run(&f);
    ck_assert_int_eq(f.done, 3);
    ck_assert_int_eq(f.status[0], -EIO);
    ck_assert_int_eq(f.status[2], 0);
    ck_assert(stored(f.s, 2));
    writer_stats(f.w, &st);
    ck_assert(!st.failed);
    fx_close(&f);
}
END_TEST

/* --- closing ----------------------------------------------------------- */

static void
on_done_closing(void *arg, int status)
{
    struct item *it = arg;
    struct item extra = {.f = it->f, .i = NOPS - 1};

    on_done(arg, status);
    /* Once writer_free has begun, submissions are refused. */
    if (it->f->closing)
        ck_assert_int_eq(writer_submit(it->f->w, op_put, on_done, &extra),
                         ERR_UNAVAILABLE);
}

START_TEST(test_writer_free_drains_queue)
{
    struct fx f;

    fx_open(&f, 0, NULL);
    ck_assert_int_eq(writer_submit(f.w, NULL, on_done, NULL), ERR_INVALID);
    for (int i = 0; i < 100; i++) {
        items[i] = (struct item){.f = &f, .i = i};
        ck_assert_int_eq(writer_submit(f.w, op_put, on_done_closing, &items[i]),
                         0);
    }
    /* The loop never ran: writer_free runs and reports everything. */
    f.closing = true;
    writer_free(f.w);
    ck_assert_int_eq(f.done, 100);
    ck_assert(f.in_order);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(f.status[i], 0);
        ck_assert(stored(f.s, i));
    }
    writer_free(NULL); /* no-op */
    fx_close(&f);
}
END_TEST

/* The done callback of op 10 frees the writer: ops 11.. are still
 * reported, in order, before writer_free returns. */
static void
on_done_free(void *arg, int status)
{
    struct item *it = arg;

    on_done(arg, status);
    if (it->i == 10) {
        it->f->closing = true;
        writer_free(it->f->w);
        ck_assert_int_eq(it->f->done, 30);
    }
}

static void
start_free_in_cb(struct fx *f)
{
    for (int i = 0; i < 30; i++) {
        items[i] = (struct item){.f = f, .i = i};
        ck_assert_int_eq(writer_submit(f->w, op_put, on_done_free, &items[i]),
                         0);
    }
}

START_TEST(test_writer_free_from_done_callback)
{
    struct fx f;

    fx_open(&f, 0, start_free_in_cb);
    fx_run(&f);
    ck_assert_int_eq(f.done, 30);
    ck_assert(f.in_order);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(f.status[i], 0);
    fx_close(&f);
}
END_TEST

/* --- the batch-end hook (the vault's key store commits there) --------- */

struct hook_rec {
    struct store *s;
    int commits, drops;
    int fail_at;        /* the commit call (1-based) that returns fail_err */
    int fail_err;       /* 0: ERR_FULL */
    bool saw_uncommitted; /* k1 (batch 2) not visible when batch 2's
                           * hook runs: called before the commit */
};

static struct hook_rec hook;

static int
hook_end(void *arg, bool commit)
{
    struct hook_rec *h = arg;

    if (!commit) {
        h->drops++;
        return 0;
    }
    h->commits++;
    if (h->commits == 2 && !stored(h->s, 1))
        h->saw_uncommitted = true;
    if (h->commits != h->fail_at)
        return 0;
    return h->fail_err != 0 ? h->fail_err : ERR_FULL;
}

static void
start_hooked(struct fx *f)
{
    writer_on_batch_end(f->w, hook_end, &hook);
    hold_writer(f, 0); /* batch 1: op 0 (hooked: installed before it) */
    for (int i = 1; i < 10; i++)
        submit(f, i, i == 5 ? ERR_INVALID : 0, false, 0);
    release(f); /* batch 2: ops 1..9 */
}

/* The hook runs once per batch, before the commit (the batch's writes are
 * not visible yet), and not for a batch whose every op failed. */
START_TEST(test_writer_batch_end_hook_before_commit)
{
    struct fx f;

    memset(&hook, 0, sizeof(hook));
    fx_open(&f, 0, start_hooked);
    hook.s = f.s;
    fx_run(&f);
    ck_assert_int_eq(f.done, 10);
    ck_assert_int_eq(hook.commits, 2);
    ck_assert_int_eq(hook.drops, 0);
    ck_assert(hook.saw_uncommitted);
    ck_assert(stored(f.s, 1) && stored(f.s, 9) && !stored(f.s, 5));
    fx_close(&f);
}
END_TEST

/* The hook's error fails its whole batch: every op gets it, nothing of
 * the batch is stored, the hook is told to drop; the writer goes on. */
START_TEST(test_writer_batch_end_error_fails_batch)
{
    struct fx f;

    memset(&hook, 0, sizeof(hook));
    hook.fail_at = 2;
    fx_open(&f, 0, start_hooked);
    hook.s = f.s;
    fx_run(&f);
    ck_assert_int_eq(f.done, 10);
    ck_assert_int_eq(f.status[0], 0);
    for (int i = 1; i < 10; i++) {
        ck_assert_int_eq(f.status[i], ERR_FULL);
        ck_assert(!stored(f.s, i));
    }
    ck_assert(stored(f.s, 0));
    ck_assert_int_eq(hook.commits, 2);
    ck_assert_int_eq(hook.drops, 1);
    fx_close(&f);
}
END_TEST

/* The key store's batched commit failing with an I/O error (the hook's
 * -EIO) stops the writer as a failed batch commit does: its batch fails,
 * and every later write is refused at once, never retried. */
START_TEST(test_writer_batch_end_io_error_stops_writes)
{
    struct fx f;
    struct writer_stats st;

    memset(&hook, 0, sizeof(hook));
    hook.fail_at = 2;
    hook.fail_err = -EIO;
    fx_open(&f, 0, start_hooked);
    hook.s = f.s;
    fx_run(&f);
    ck_assert_int_eq(f.done, 10);
    ck_assert_int_eq(f.status[0], 0);
    for (int i = 1; i < 10; i++) {
        ck_assert_int_eq(f.status[i], -EIO);
        ck_assert(!stored(f.s, i));
    }
    writer_stats(f.w, &st);
    ck_assert(st.failed);
    items[10] = (struct item){.f = &f, .i = 10};
    ck_assert_int_eq(writer_submit(f.w, op_put, on_done, &items[10]), -EIO);
    fx_close(&f);
}
END_TEST

static void
start_all_fail(struct fx *f)
{
    writer_on_batch_end(f->w, hook_end, &hook);
    for (int i = 0; i < 3; i++)
        submit(f, i, ERR_INVALID, false, 0);
}

START_TEST(test_writer_batch_end_all_failed_drops)
{
    struct fx f;

    memset(&hook, 0, sizeof(hook));
    fx_open(&f, 0, start_all_fail);
    hook.s = f.s;
    fx_run(&f);
    ck_assert_int_eq(f.done, 3);
    ck_assert_int_eq(hook.commits, 0);
    ck_assert_int_ge(hook.drops, 1);
    fx_close(&f);
}
END_TEST

Suite *
suite_writer(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("batches");

    tcase_set_timeout(tc, 120); /* fsyncs, and valgrind */
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_writer_thousand_ops);
    tcase_add_test(tc, test_writer_group_commit);
    tcase_add_test(tc, test_writer_batch_end_hook_before_commit);
    tcase_add_test(tc, test_writer_batch_end_error_fails_batch);
    tcase_add_test(tc, test_writer_batch_end_io_error_stops_writes);
    tcase_add_test(tc, test_writer_batch_end_all_failed_drops);
    tcase_add_test(tc, test_writer_failing_op_spares_neighbours);
    tcase_add_test(tc, test_writer_repeatable_share_a_child);
    tcase_add_test(tc, test_writer_repeatable_failure_reruns_alone);
    tcase_add_test(tc, test_writer_visible_when_done);
    tcase_add_test(tc, test_writer_byte_budget_splits);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_writer_full_then_recovers);
    tcase_add_test(tc, test_writer_commit_full_not_fatal);
    tcase_add_test(tc, test_writer_io_error_stops_writes);
    tcase_add_test(tc, test_writer_watched_store_io_error_stops_writes);
    tcase_add_test(tc, test_writer_op_error_not_fatal);
    suite_add_tcase(s, tc);

    tc = tcase_create("closing");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_writer_free_drains_queue);
    tcase_add_test(tc, test_writer_free_from_done_callback);
    suite_add_tcase(s, tc);
    return s;
}
