/*
 * store.c -- LMDB behind the store.h contract.
 *
 * The one place that includes <lmdb.h>: it opens the environment with
 * safe settings, keeps the handles of the named databases, wraps LMDB
 * transactions and cursors so that callers never see an MDB_* value, and
 * translates LMDB's return codes into the project's (store_err).  It does
 * not batch writes (writer.c), nor know what any record means.
 *
 * LMDB facts this file leans on (checked by tests/unit/test_store.c):
 *  - A failed put (MDB_MAP_FULL...) flags the transaction as failed; LMDB
 *    then refuses every call but abort, and committing a failed child
 *    also marks its parent failed.  We remember the first such error in
 *    the store_txn, return it from later calls, and abort instead of
 *    committing, so that a failed child never takes its parent down: the
 *    writer runs each operation in a child and relies on this.
 *  - Aborting a child restores its parent exactly, including pages the
 *    child allocated, so a child that hit MDB_MAP_FULL leaves a parent
 *    that still commits.
 *  - Values returned by mdb_get and cursors point into the map (or into
 *    dirty pages of a write txn): valid until the txn ends or writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "be.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"

static const char *const store_db_names[] = STORE_DB_NAMES;
_Static_assert(sizeof(store_db_names) / sizeof(store_db_names[0]) ==
                   STORE_DB_COUNT,
               "STORE_DB_NAMES must name every enum store_db value");

/* LMDB's handle of the free-page database (FREE_DBI in mdb.c): readable
 * through a cursor in a read txn; its values are page lists whose first
 * word is their length. */
#define STORE_FREE_DBI 0

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_DB_COUNT];
    uint64_t map_pages;     /* the map, in pages */
    uint64_t reserve_pages; /* the last pages, kept for deleting */
    uint32_t page_size;
    _Atomic bool audit_over;  /* used pages reach the reserve's second half:
                                 even the audit log's puts are refused */
    _Atomic bool over;        /* used pages reach into the reserve: puts
                               * of growing txns fail with ERR_FULL */
    _Atomic bool full_logged; /* MDB_MAP_FULL logged since the last commit */
    /* The reserve on disk (store_disk_room): bytes of the data file known
     * to be allocated, and the filesystem's verdicts.  Writer thread. */
    uint64_t disk_alloc;
    bool disk_unsupported;    /* no fallocate here: the map's reserve only */
    _Atomic bool disk_over;   /* no room on disk for the reserve */
    bool disk_audit_over;     /* not even for half of it */
    /* The written tail (store_tail_write): bytes of the data file known
     * written, zeros past LMDB's last page.  Under LMDB's writer lock. */
    uint64_t tail_written;
    bool tail_failed; /* a write of the tail failed: not tried again */
    _Atomic int fault_commit; /* store__fault_commit */
    _Atomic bool io_failed;   /* a commit failed with an I/O error */
    bool readonly;            /* store_open_readonly: no write txns */
    /* Read txns ended and kept reset (mdb_txn_reset) for the next
     * store_txn_begin to renew: no allocation, no reader-table lock. */
    pthread_mutex_t idle_mu;
    struct store_txn *idle[STORE_IDLE_READS];
    unsigned n_idle;
    uint32_t
        format; /* of the contents: STORE_FORMAT_VERSION unless read-only */
};

struct store_txn {
    struct store *store;
    struct store_txn *parent;
    struct store_txn *child;      /* open child, ended with us */
    struct store_cursor *cursors; /* open cursors, closed with us */
    MDB_txn *txn;
    int err;            /* first error that made the txn unusable */
    uint64_t put_bytes; /* keys and values put, children included */
    bool deleted;       /* deleted a record, or a child did */
    bool write;
};

struct store_cursor {
    struct store_txn *txn;
    struct store_cursor *next, **pprev; /* in txn->cursors */
    MDB_cursor *cur;
    bool positioned; /* seek or next has run */
    bool on_record;  /* the cursor sits on a record of the prefix */
    bool at_end;     /* past the last record of the prefix */
    size_t prefix_len;
    uint8_t prefix[STORE_KEY_MAX];
};

/* Network filesystems, by statfs(2) f_type (linux/magic.h and the kernel
 * sources; some are missing from older headers, hence the numbers). */
static const struct {
    uint32_t magic;
    const char *name;
} store_netfs[] = {
    {0x6969, "NFS"},      {0x517b, "SMB"},      {0xff534d42, "CIFS"},
    {0xfe534d42, "SMB2"}, {0x5346414f, "AFS"},  {0x6b414653, "AFS"},
    {0x73757245, "Coda"}, {0x564c, "NCP"},      {0x01021997, "9P"},
    {0x00c36400, "Ceph"}, {0x65735546, "FUSE"},
};

const char *
store__fs_network_name(unsigned long f_type)
{
    for (size_t i = 0; i < sizeof(store_netfs) / sizeof(store_netfs[0]); i++)
        if ((uint32_t)f_type == store_netfs[i].magic)
            return store_netfs[i].name;
    return NULL;
}

const char *
store_db_name(enum store_db db)
{
    if ((unsigned)db >= STORE_DB_COUNT)
        return "?";
    return store_db_names[db];
}

/*
 * Translates an LMDB return code (an MDB_* code or a positive errno) into
 * 0, a project code or a negative errno.  The one translation table.
 */
static int
store_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return ERR_NOTFOUND;
    case MDB_KEYEXIST:
        return ERR_EXISTS;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case ENOSPC:
    case EDQUOT:
        return ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE: /* a name is a plain key, or flags changed */
    case MDB_PAGE_FULL:    /* "internal error": a damaged page */
    case MDB_CURSOR_FULL:  /* tree deeper than possible: a damaged tree */
        return ERR_CORRUPT;
    case MDB_BAD_VALSIZE:
    case MDB_BAD_TXN:
    case MDB_BAD_DBI:
    case MDB_BAD_RSLOT:
    case MDB_DBS_FULL:
        return ERR_INVALID;
    case MDB_PANIC: /* the environment hit a fatal error earlier */
        return -EIO;
    case MDB_READERS_FULL:
    case MDB_TLS_FULL:
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    default:
        if (rc > 0 && rc < 4096)
            return -rc;
        return -EIO; /* an LMDB code we do not know */
    }
}

/*
 * store_err() for calls whose failure is unexpected: damage and unknown
 * codes are logged with LMDB's own words, once, here.  Expected outcomes
 * (not found, exists, full) are left to the caller to report.
 */
static int
store_fail(const char *fn, const char *what, int rc)
{
    int err = store_err(rc);

    if (err == ERR_CORRUPT || err == -EIO || err == ERR_INVALID)
        log_print(LOG_LVL_ERROR, fn, "%s failed: %s", what, mdb_strerror(rc));
    return err;
}

/* Whether an LMDB error from a data call leaves the txn usable: a refusal
 * before anything changed does; anything else flags the LMDB txn. */
static bool
store_err_clean(int rc)
{
    return rc == MDB_NOTFOUND || rc == MDB_KEYEXIST || rc == MDB_BAD_VALSIZE ||
           rc == EINVAL || rc == EACCES || rc == MDB_BAD_TXN;
}

/* Logs a full map once until the next successful commit: every put of a
 * busy daemon would meet it. */
static void
store_note_map_full(struct store *s)
{
    if (!atomic_exchange(&s->full_logged, true))
        log_warnx("store full: the map of %llu bytes is used up; writes fail "
                  "until records are deleted or map_size is raised",
                  (unsigned long long)(s->map_pages * s->page_size));
}

/*
 * Whether a commit that failed with EIO or ENOSPC met a full filesystem
 * (otherwise ENOSPC came from a sync, and is an I/O error).  LMDB 0.9
 * turns a short write of its pages (what write(2) does when the disk
 * fills in the middle) into EIO ("short write, filesystem full?" in
 * mdb.c), which would otherwise stop every write for good.  A short write
 * leaves no sync failed and no committed page touched (the txn is
 * abandoned, its pages were free ones), so treating it as ERR_FULL is
 * safe.  It is taken for one when the filesystem has less room left than
 * the transaction tried to write (twice its puts, for the copied pages,
 * and at least 1 MiB): a genuine EIO on a disk with room stays fatal.
 */
static bool
store_disk_full(struct store *s, uint64_t put_bytes)
{
    struct statvfs sv;
    uint64_t avail, need = put_bytes * 2;
    int fd;

    if (mdb_env_get_fd(s->env, &fd) != 0 || fstatvfs(fd, &sv) != 0)
        return false;
    /* The blocks kept for root count when the daemon runs as root. */
    avail = (uint64_t)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
    if (need < (1u << 20))
        need = 1u << 20;
    return avail < need;
}

/* Records |rc| (an LMDB error from a data call on |t|) and translates it. */
static int
store_txn_failed(struct store_txn *t, const char *fn, int rc)
{
    int err = store_fail(fn, "LMDB call", rc);

    if (rc == MDB_MAP_FULL)
        store_note_map_full(t->store);

    if (!store_err_clean(rc) && t->err == 0)
        t->err = err;
    return err;
}

static bool
store_key_ok(size_t len)
{
    return len >= 1 && len <= STORE_KEY_MAX;
}

/* Bytewise order of LMDB's default comparison: memcmp, then length. */
static int
store_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* --- room ------------------------------------------------------------- */

/*
 * Why a reserve.  LMDB copies on write: deleting a record writes new
 * copies of its page and of the pages above it, and a commit records the
 * pages it freed in the free list, which takes pages too; and pages freed
 * by a commit are reusable only two commits later.  So a map used up to
 * its last page cannot even delete (a known LMDB trap: "MDB_MAP_FULL
 * doesn't allow deletions"), and only a restart with a larger map_size
 * would get it out.  Hence the last pages of the map are kept for
 * transactions that delete: once the pages in use reach into the reserve,
 * a put fails with ERR_FULL unless its transaction has deleted something,
 * so deletes (with the small records written alongside) still commit, and
 * puts are accepted again as soon as the pages in use are back under the
 * limit.  A transaction that begins under the limit may overshoot into
 * the reserve by its own growth; the writer bounds a batch's bytes
 * (WRITER_BATCH_BYTES) well under STORE_RESERVE_MAX for that reason.
 */

/* Pages on the free list, as `mdb_stat -f` counts them. */
static int
store_free_pages(MDB_txn *txn, uint64_t *pages)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n;
    int rc;

    *pages = 0;
    rc = mdb_cursor_open(txn, STORE_FREE_DBI, &cur);
    if (rc != 0)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size < sizeof(n))
            continue;
        memcpy(&n, v.mv_data, sizeof(n));
        *pages += n;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* fallocate(2) of [from, to) kept in the file's size; 0 or an errno. */
static int
store_fallocate(int fd, uint64_t from, uint64_t to)
{
    int rc;

    do
        rc =
            fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from));
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
}

/*
 * The reserve on disk.  The map's reserve is address space: on a
 * filesystem that fills before the map does, LMDB's file could not grow
 * by the pages a delete needs, and a full disk could not even erase.  So
 * the data file is kept allocated (fallocate, FALLOC_FL_KEEP_SIZE: the
 * blocks are held, the size does not change) up to its high-water mark
 * plus the reserve; LMDB's later writes past the end of the file land in
 * those blocks.  When the filesystem cannot give them, the pages free
 * inside the file count as reserve too; if there is still not enough,
 * puts are refused as for a full map (|*over|), and past half of the
 * reserve even the audit log's (|*audit_over|).  Filesystems without
 * fallocate keep the map's reserve only (and the EIO of a short write is
 * then taken for a full disk: store_disk_full).
 *
 * store_disk_alloc holds the file's blocks up to |pages|.  The
 * high-water mark moves at almost every commit (the audit log only
 * grows), and a fallocate walks every extent of the range it is given:
 * so only the range not yet held is asked for, and an eighth of the
 * reserve ahead of need, which makes it one call every few thousand
 * commits instead of one each (it was a quarter of the writer's time).
 * When the filesystem cannot give the range ahead, exactly what is
 * needed is asked for.
 */
static bool
store_disk_alloc(struct store *s, int fd, uint64_t pages)
{
    uint64_t bytes = pages * s->page_size;
    uint64_t map_bytes = s->map_pages * s->page_size;
    uint64_t ahead = bytes + s->reserve_pages * s->page_size / 8;
    int err;

    if (bytes <= s->disk_alloc)
        return true;
    if (ahead > map_bytes)
        ahead = map_bytes;
    err = ahead > bytes ? store_fallocate(fd, s->disk_alloc, ahead) : ENOSPC;
    if (err == 0) {
        s->disk_alloc = ahead;
        return true;
    }
    if (err == ENOSPC || err == EDQUOT)
        err = store_fallocate(fd, s->disk_alloc, bytes);
    if (err == 0) {
        s->disk_alloc = bytes;
        return true;
    }
    if (err != ENOSPC && err != EDQUOT) {
        /* EOPNOTSUPP and the like: the reserve stays in the map only. */
        s->disk_unsupported = true;
        log_info("the store's filesystem cannot preallocate (%s): the "
                 "delete reserve is kept in the map only",
                 strerror(err));
        return true;
    }
    return false;
}

static void
store_disk_room(struct store *s, uint64_t hw, bool *over, bool *audit_over)
{
    MDB_txn *txn;
    uint64_t free_pages = 0, want, half;
    int fd, rc;

    *over = *audit_over = false;
    if (s->readonly || s->disk_unsupported || mdb_env_get_fd(s->env, &fd) != 0)
        return;
    want = hw + s->reserve_pages;
    if (want > s->map_pages)
        want = s->map_pages;
    if (store_disk_alloc(s, fd, want))
        return;
    /* No room on the disk for the whole reserve past the high-water
     * mark: count the free pages inside the file as reserve too. */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = store_free_pages(txn, &free_pages);
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        *over = atomic_load(&s->disk_over); /* keep the last verdict */
        *audit_over = s->disk_audit_over;
        return;
    }
    want = hw +
           (s->reserve_pages > free_pages ? s->reserve_pages - free_pages : 0);
    half = hw + (s->reserve_pages / 2 > free_pages
                     ? s->reserve_pages / 2 - free_pages
                     : 0);
    if (store_disk_alloc(s, fd, want))
        return;
    *over = true;
    *audit_over = !store_disk_alloc(s, fd, half);
}

/* After an I/O error |rc| (of a commit, or of the written tail), every
 * later write transaction is refused (writer.h, "fsyncgate"); said once,
 * as |fn|'s. */
static void
store_stop_writes(struct store *s, const char *fn, int rc)
{
    if (!atomic_exchange(&s->io_failed, true))
        log_print(LOG_LVL_ERROR, fn,
                  "write transactions refused from now on after an I/O "
                  "error (err=\"%s\")",
                  err_str(rc));
}

/*
 * The written tail (STORE_TAIL_AHEAD, store.h).  A commit whose pages land
 * past the end of the data file changes the file's size (and turns the
 * blocks fallocate held into written ones), so its fdatasync must also
 * make that metadata durable, not only flush the pages: a journal commit
 * on a journaling filesystem, a synchronous write of the inode on one
 * without (the ext4 of make bench's machine has no journal).  The audit
 * log grows the file at almost every commit (about one page per commit
 * at 13,000 fetches/s), so every commit paid that: syncing 8 pages took
 * 300 us when they extended the file and 160 us when they overwrote
 * written blocks, and the writer's mean commit went from 816 to 573 us
 * with the tail.  Only the commit after a step pays for the metadata (and
 * the step's zeros, whose write-back starts at once); steps are small so
 * that it is not much slower than the others.
 *
 * The zeros are written when a top-level write transaction begins, so
 * under LMDB's writer lock: no commit, of this process or another, writes
 * pages meanwhile.  They go only past both LMDB's last page and the end of
 * the file, so nothing LMDB wrote is touched; LMDB never reads past its
 * last page.  A full disk (ENOSPC, EDQUOT, EFBIG) costs speed only: the
 * tail is not tried again until the store is reopened.  Any other failure
 * is an I/O error, and fails the transaction like a failed commit would
 * (writer.h): what the page cache holds is then unknown.
 *
 * Called with a top-level write txn begun: LMDB's writer lock held.
 */
static int
store_tail_write(struct store *s)
{
    static const uint8_t zeros[64 << 10];
    MDB_envinfo info;
    struct stat st;
    uint64_t from, to, map_bytes = s->map_pages * s->page_size;
    int fd, err = 0;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_get_fd(s->env, &fd) != 0)
        return 0;
    from = ((uint64_t)info.me_last_pgno + 1) * s->page_size;
    if (from + STORE_TAIL_AHEAD <= s->tail_written)
        return 0;
    if (fstat(fd, &st) != 0)
        return -errno;
    if ((uint64_t)st.st_size > from)
        from = (uint64_t)st.st_size;
    to = from + STORE_TAIL_AHEAD + STORE_TAIL_STEP;
    to -= to % s->page_size;
    if (to > map_bytes)
        to = map_bytes;
    for (uint64_t off = from; off < to && err == 0;) {
        size_t n = to - off < sizeof(zeros) ? (size_t)(to - off)
                                             : sizeof(zeros);
        ssize_t w = pwrite(fd, zeros, n, (off_t)off);

        if (w > 0)
            off += (uint64_t)w;
        else if (w == 0)
            err = ENOSPC;
        else if (errno != EINTR)
            err = errno;
    }
    if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
        s->tail_failed = true;
        log_info("no room to write the store's file ahead of its pages "
                 "(%s): commits that grow it also sync its new size",
                 strerror(err));
        return 0;
    }
    if (err != 0)
        return -err;
    if (to > from)
        (void)sync_file_range(fd, (off_t)from, (off_t)(to - from),
                              SYNC_FILE_RANGE_WRITE);
    s->tail_written = to > from ? to : from;
    return 0;
}

/*
 * Recomputes |s->over| from the last committed state.  The free list is
 * walked (in a read txn of its own) only when the file's high-water mark
 * is past the limit, which a store that never came near full never pays.
 * Runs after every top-level write commit, on the writer's thread.
 */
static void
store_room_update(struct store *s)
{
    MDB_envinfo info;
    MDB_txn *txn;
    uint64_t limit = s->map_pages - s->reserve_pages;
    uint64_t hw, used, free_pages = 0;
    bool over, was, disk_over, disk_audit_over;
    int rc;

    if (mdb_env_info(s->env, &info) != 0)
        return;
    hw = (uint64_t)info.me_last_pgno + 1;
    used = hw;
    if (hw > limit) {
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc == 0) {
            rc = store_free_pages(txn, &free_pages);
            mdb_txn_abort(txn);
        }
        if (rc != 0)
            return; /* e.g. no reader slot now: keep the last verdict */
        used = hw > free_pages ? hw - free_pages : 0;
    }
    store_disk_room(s, hw, &disk_over, &disk_audit_over);
    was = atomic_exchange(&s->disk_over, disk_over);
    s->disk_audit_over = disk_audit_over;
    if (disk_over && !was)
        log_warnx("store nearly full: no room left on the filesystem for "
                  "the delete reserve of %llu bytes; new records fail with "
                  "\"%s\" until disk space is freed or records are deleted",
                  (unsigned long long)(s->reserve_pages * s->page_size),
                  err_str(ERR_FULL));
    else if (!disk_over && was)
        log_info("the store's filesystem has room again for the delete "
                 "reserve");
    over = used > limit || disk_over;
    atomic_store(&s->audit_over,
                 used > limit + s->reserve_pages / 2 || disk_audit_over);
    was = atomic_exchange(&s->over, over);
    if (disk_over)
        return; /* said above */
    if (over && !was)
        log_warnx("store nearly full: %llu of %llu bytes in use; new "
                  "records fail with \"%s\" until records are deleted or "
                  "map_size is raised",
                  (unsigned long long)(used * s->page_size),
                  (unsigned long long)(s->map_pages * s->page_size),
                  err_str(ERR_FULL));
    else if (!over && was)
        log_info("store has room again: %llu of %llu bytes in use",
                 (unsigned long long)(used * s->page_size),
                 (unsigned long long)(s->map_pages * s->page_size));
}

/* Sizes the reserve: 1/16 of the map, at least 64 pages, at most
 * STORE_RESERVE_MAX, never more than a quarter of the map. */
static void
store_room_init(struct store *s)
{
    MDB_envinfo info;
    MDB_stat ms;
    uint64_t r;

    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &ms);
    s->page_size = ms.ms_psize;
    s->map_pages = info.me_mapsize / ms.ms_psize;
    r = s->map_pages / 16;
    if (r < 64)
        r = 64;
    if (r > STORE_RESERVE_MAX / ms.ms_psize)
        r = STORE_RESERVE_MAX / ms.ms_psize;
    if (r > s->map_pages / 4)
        r = s->map_pages / 4;
    s->reserve_pages = r;
    store_room_update(s);
}

/* --- opening ----------------------------------------------------------- */

/*
 * Makes sure |dir| is a directory on a local filesystem, creating it with
 * mode 0700 if missing.
 */
static int
store_dir_prepare(const char *dir)
{
    struct stat st;
    struct statfs sf;
    const char *netfs;
    int rc;

    if (mkdir(dir, 0700) == 0) {
        log_info("created data directory %s", dir);
    } else if (errno != EEXIST) {
        rc = -errno;
        log_warn("cannot create data directory %s", dir);
        return rc;
    }
    if (stat(dir, &st) != 0) {
        rc = -errno;
        log_warn("cannot stat data directory %s", dir);
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_warnx("data directory %s is not a directory", dir);
        return ERR_CONFIG;
    }
    if ((st.st_mode & 077) != 0)
        log_warnx("data directory %s is open to group or others (mode %03o); "
                  "chmod 700 it",
                  dir, (unsigned)(st.st_mode & 0777));
    if (statfs(dir, &sf) != 0) {
        rc = -errno;
        log_warn("cannot statfs data directory %s", dir);
        return rc;
    }
    netfs = store__fs_network_name((unsigned long)sf.f_type);
    if (netfs != NULL) {
        log_warnx("data directory %s is on a network filesystem (%s); "
                  "LMDB's locks and memory map need a local filesystem: "
                  "use a local disk",
                  dir, netfs);
        return ERR_CONFIG;
    }
    return 0;
}

/* The LMDB name of database |i| in a store of format |version|: the
 * current one, except in a read-only open of an older format, which reads
 * the databases that format had (format 1: "audit-nodes"). */
static const char *
store_db_name_in(int i, uint32_t version, bool readonly)
{
    if (readonly && version == 1 && i == STORE_DB_AUDIT_TREE)
        return "audit-nodes";
    return store_db_names[i];
}

/* Writes |version| as the format record (in the opening txn). */
static int
store_format_put(struct store *s, MDB_txn *txn, uint32_t version,
                 unsigned flags)
{
    uint8_t be[4];
    MDB_val k = {sizeof(STORE_FORMAT_KEY) - 1, (void *)STORE_FORMAT_KEY};
    MDB_val v = {sizeof(be), be};
    int rc;

    be_put32(be, version);
    rc = mdb_put(txn, s->dbi[STORE_DB_META], &k, &v, flags);
    if (rc != 0)
        return store_fail(__func__, "writing the format record", rc);
    return 0;
}

/* Writes the format record of a fresh store, or checks an existing one:
 * |*version| is then its format, which a read-write open converts when
 * older (store_upgrade) and a read-only open reads as it is. */
static int
store_format_check(struct store *s, MDB_txn *txn, const char *dir, bool fresh,
                   uint32_t *version_out)
{
    uint8_t be[4];
    uint32_t version;
    MDB_val k = {sizeof(STORE_FORMAT_KEY) - 1, (void *)STORE_FORMAT_KEY};
    MDB_val v;
    int rc;

    *version_out = STORE_FORMAT_VERSION;
    if (fresh)
        return store_format_put(s, txn, STORE_FORMAT_VERSION, MDB_NOOVERWRITE);
    rc = mdb_get(txn, s->dbi[STORE_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        log_warnx("data directory %s holds an LMDB store without a format "
                  "record: not a dossierd store, or a damaged one",
                  dir);
        return ERR_CONFIG;
    }
    if (rc != 0)
        return store_fail(__func__, "reading the format record", rc);
    if (v.mv_size != sizeof(be)) {
        log_warnx("data directory %s: format record of %zu bytes, not 4: "
                  "damaged store",
                  dir, v.mv_size);
        return ERR_CORRUPT;
    }
    memcpy(be, v.mv_data, sizeof(be));
    version = be_get32(be);
    if (version > STORE_FORMAT_VERSION) {
        log_warnx("data directory %s holds store format %u, newer than the "
                  "format %u this dossierd reads: run a newer dossierd",
                  dir, version, STORE_FORMAT_VERSION);
        return ERR_CONFIG;
    }
    if (version < STORE_FORMAT_UPGRADE_FROM) {
        log_warnx("data directory %s holds store format %u, which this "
                  "dossierd (format %u) cannot read and no migration "
                  "converts",
                  dir, version, STORE_FORMAT_VERSION);
        return ERR_CONFIG;
    }
    *version_out = version;
    return 0;
}

/*
 * Format 1 -> 2: the audit log's subtree hashes move from "audit-nodes",
 * keyed by level (1 byte) then the subtree's index at that level
 * (big-endian u64), to "audit-tree", keyed by the index of the last leaf
 * the subtree covers, ((index + 1) << level) - 1 (big-endian u64), then
 * the level (audit.c, node_key); "audit-nodes" is then deleted.  The
 * hashes themselves are unchanged.  In the opening transaction: a crash
 * leaves the store in format 1, to be converted at the next open.
 */
static int
store_upgrade_audit_tree(struct store *s, MDB_txn *txn, const char *dir)
{
    MDB_cursor *cur = NULL;
    MDB_dbi old;
    MDB_val k, v, nk;
    uint8_t key[9];
    uint64_t moved = 0;
    int rc;

    rc = mdb_dbi_open(txn, "audit-nodes", 0, &old);
    if (rc == MDB_NOTFOUND)
        return 0; /* nothing to move */
    if (rc != 0)
        return store_fail(__func__, "opening audit-nodes", rc);
    if ((rc = mdb_cursor_open(txn, old, &cur)) != 0)
        return store_fail(__func__, "reading audit-nodes", rc);
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        const uint8_t *p = k.mv_data;
        unsigned level;
        uint64_t index;

        if (k.mv_size != sizeof(key) || p[0] >= 64 ||
            be_get64(p + 1) >= UINT64_MAX >> p[0]) {
            mdb_cursor_close(cur);
            log_warnx("data directory %s: malformed audit subtree key in "
                      "format 1 (%zu bytes): damaged store, not converted",
                      dir, k.mv_size);
            return ERR_CORRUPT;
        }
        level = p[0];
        index = be_get64(p + 1);
        be_put64(key, ((index + 1) << level) - 1);
        key[8] = (uint8_t)level;
        nk.mv_size = sizeof(key);
        nk.mv_data = key;
        rc =
            mdb_put(txn, s->dbi[STORE_DB_AUDIT_TREE], &nk, &v, MDB_NOOVERWRITE);
        if (rc != 0)
            break;
        moved++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return store_fail(__func__, "moving the audit subtree hashes", rc);
    if ((rc = mdb_drop(txn, old, 1)) != 0)
        return store_fail(__func__, "deleting audit-nodes", rc);
    log_info("store format converted dir=%s from=1 to=2 "
             "subtree_hashes=%llu",
             dir, (unsigned long long)moved);
    return 0;
}

/* Converts a store of format |version| (older than STORE_FORMAT_VERSION,
 * at least STORE_FORMAT_UPGRADE_FROM) to the current one, in the opening
 * transaction, every database being open. */
static int
store_upgrade(struct store *s, MDB_txn *txn, const char *dir, uint32_t version)
{
    int rc = 0;

    if (version == 1)
        rc = store_upgrade_audit_tree(s, txn, dir);
    if (rc == 0)
        rc = store_format_put(s, txn, STORE_FORMAT_VERSION, 0);
    return rc;
}

/*
 * Opens (creating as needed) every named database in one write txn, and
 * writes or checks the format record.  A store is fresh when its main
 * database is empty: no named database exists yet.  An existing store
 * must have META before anything is created in it, so that a foreign or
 * newer environment is refused untouched.
 */
static int
store_dbs_open(struct store *s, const char *dir)
{
    MDB_txn *txn = NULL;
    MDB_dbi main_dbi;
    MDB_stat ms;
    uint32_t version = STORE_FORMAT_VERSION;
    bool fresh;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        rc = store_fail(__func__, "beginning the opening txn", rc);
        txn = NULL;
        goto fail;
    }
    rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc == 0)
        rc = mdb_stat(txn, main_dbi, &ms);
    if (rc != 0) {
        rc = store_fail(__func__, "reading the main database", rc);
        goto fail;
    }
    fresh = ms.ms_entries == 0;
    if (fresh && s->readonly) {
        log_warnx("%s holds no dossierd store (empty environment)", dir);
        rc = ERR_CONFIG;
        goto fail;
    }
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        /* META first (index 0): without MDB_CREATE unless fresh; a
         * read-only store creates nothing. */
        unsigned flags =
            (fresh || i != STORE_DB_META) && !s->readonly ? MDB_CREATE : 0;

        if (store_db_names[i] == NULL) {
            log_warnx("store database %d has no name in STORE_DB_NAMES", i);
            rc = ERR_INVALID;
            goto fail;
        }
        rc = mdb_dbi_open(txn, store_db_name_in(i, version, s->readonly), flags,
                          &s->dbi[i]);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            log_warnx("data directory %s holds an LMDB environment that is "
                      "not a dossierd store (no \"%s\" database)",
                      dir, store_db_name_in(i, version, s->readonly));
            rc = ERR_CONFIG;
            goto fail;
        }
        if (rc != 0) {
            rc = store_fail(__func__, "opening a database", rc);
            goto fail;
        }
        if (i == STORE_DB_META) {
            rc = store_format_check(s, txn, dir, fresh, &version);
            if (rc != 0)
                goto fail;
        }
    }
    if (version != STORE_FORMAT_VERSION && !s->readonly) {
        if ((rc = store_upgrade(s, txn, dir, version)) != 0)
            goto fail;
        version = STORE_FORMAT_VERSION;
    }
    s->format = version;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = store_fail(__func__, "committing the opening txn", rc);
        if (rc == ERR_FULL)
            log_warnx("no space to create the store in %s", dir);
        goto fail;
    }
    if (fresh)
        log_info("created store dir=%s format=%u", dir, STORE_FORMAT_VERSION);
    return 0;

fail:
    mdb_txn_abort(txn); /* also closes the handles opened in it */
    return rc;
}

/* Opens |dir| as store_open, or read-only (|readonly|: the directory
 * and its data.mdb must exist; |nolock| too: no lock file is used nor
 * made, for a copy no other process opens). */
static int
store_open_env(const char *dir, size_t map_size, bool readonly, bool nolock,
               struct store **out)
{
    struct store *s = NULL;
    MDB_envinfo info;
    unsigned env_flags = MDB_NOTLS;
    int dead = 0;
    int rc;

    *out = NULL;
    if (dir == NULL || *dir == '\0')
        return ERR_INVALID;
    if (map_size == 0)
        map_size = STORE_MAP_SIZE_DEFAULT;
    if (readonly) {
        char path[4200];
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
            (int)sizeof(path))
            return -ENAMETOOLONG;
        if (stat(path, &st) != 0) {
            rc = -errno;
            log_warnx("no store in %s: %s", dir, err_str(rc));
            return rc;
        }
        env_flags |= MDB_RDONLY | (nolock ? MDB_NOLOCK : 0);
    } else {
        rc = store_dir_prepare(dir);
        if (rc != 0)
            goto fail;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    s->readonly = readonly;
    pthread_mutex_init(&s->idle_mu, NULL);
    rc = mdb_env_create(&s->env);
    if (rc != 0) {
        s->env = NULL;
        rc = store_fail(__func__, "creating the environment", rc);
        goto fail;
    }
    if (mdb_env_get_maxkeysize(s->env) < STORE_KEY_MAX) {
        log_warnx("this LMDB build takes keys of %d bytes at most; "
                  "dossierd needs %d",
                  mdb_env_get_maxkeysize(s->env), STORE_KEY_MAX);
        rc = ERR_CONFIG;
        goto fail;
    }
    /* A read-only store takes the map size written in its file. */
    rc = readonly ? 0 : mdb_env_set_mapsize(s->env, map_size);
    /* One more than ours: the database a format upgrade empties and
     * deletes (store_upgrade). */
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, STORE_DB_COUNT + 1);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS);
    if (rc != 0) {
        rc = store_fail(__func__, "configuring the environment", rc);
        goto fail;
    }
    /* MDB_NOTLS: read txns are not bound to threads (see store.h).  No
     * MDB_NOSYNC, MDB_NOMETASYNC, MDB_WRITEMAP or MDB_MAPASYNC: a commit
     * returns only once its pages and meta page are synced, and a stray
     * pointer cannot write into the map. */
    rc = mdb_env_open(s->env, dir, env_flags, 0600);
    if (rc != 0) {
        log_warnx("cannot open the store in %s: %s", dir, mdb_strerror(rc));
        rc = store_err(rc);
        goto fail;
    }
    if (!(readonly && nolock) && mdb_reader_check(s->env, &dead) == 0 &&
        dead > 0)
        log_info("cleared %d reader slots left by dead processes in %s", dead,
                 dir);
    rc = store_dbs_open(s, dir);
    if (rc != 0)
        goto fail;
    store_room_init(s);
    if (!readonly) {
        /* The tail from the start, so that a disk that fails it stops
         * the opening, not a later write. */
        MDB_txn *txn;

        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc != 0) {
            rc = store_fail(__func__, "beginning a txn", rc);
            goto fail;
        }
        rc = store_tail_write(s);
        mdb_txn_abort(txn);
        if (rc != 0) {
            log_warnx("cannot write the store's file in %s: %s", dir,
                      err_str(rc));
            goto fail;
        }
    }
    if (mdb_env_info(s->env, &info) == 0)
        log_info("store open dir=%s map_size=%zu last_txn=%zu", dir,
                 info.me_mapsize, info.me_last_txnid);
    *out = s;
    return 0;

fail:
    if (s != NULL) {
        if (s->env != NULL)
            mdb_env_close(s->env);
        pthread_mutex_destroy(&s->idle_mu);
    }
    free(s);
    return rc;
}

int
store_open(const char *dir, size_t map_size, struct store **out)
{
    return store_open_env(dir, map_size, false, false, out);
}

int
store_open_readonly(const char *dir, bool copy, struct store **out)
{
    return store_open_env(dir, 0, true, copy, out);
}

int
store_backup(struct store *s, const char *dir)
{
    char path[4200];
    int fd, rc;

    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    if (access(path, F_OK) == 0) {
        log_warnx("backup target %s already holds a store", dir);
        return ERR_EXISTS;
    }
    /* A compacting copy runs in one read transaction: a consistent
     * snapshot that never blocks the writer, with free pages left out. */
    rc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    if (rc != 0) {
        log_warnx("cannot copy the store to %s: %s", dir, mdb_strerror(rc));
        rc = store_err(rc);
        (void)unlink(path);
        return rc;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        return rc;
    }
    rc = fsync(fd) != 0 ? -errno : 0;
    close(fd);
    if (rc == 0)
        rc = fsutil_sync_dir(dir);
    if (rc != 0)
        log_warnx("cannot sync the copy in %s: %s", dir, err_str(rc));
    return rc;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    /* Every txn has ended (store.h): only the idle ones are left. */
    while (s->n_idle > 0) {
        struct store_txn *t = s->idle[--s->n_idle];

        mdb_txn_abort(t->txn);
        free(t);
    }
    pthread_mutex_destroy(&s->idle_mu);
    mdb_env_close(s->env);
    free(s);
}

uint64_t
store_txn_put_bytes(const struct store_txn *t)
{
    return t->put_bytes;
}

bool
store_io_failed(struct store *s)
{
    return atomic_load(&s->io_failed);
}

void
store__fault_commit(struct store *s, int err)
{
    atomic_store(&s->fault_commit, err);
}

/* --- transactions ------------------------------------------------------ */

/* An idle read txn of |s| renewed as a fresh snapshot, or NULL (none
 * idle, or the renewal failed: the caller begins one). */
static struct store_txn *
store_idle_take(struct store *s)
{
    struct store_txn *t = NULL;

    pthread_mutex_lock(&s->idle_mu);
    if (s->n_idle > 0)
        t = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->idle_mu);
    if (t != NULL && mdb_txn_renew(t->txn) != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        t = NULL;
    }
    return t;
}

/* Ends read txn |t|, whose cursors are closed: kept reset for the next
 * read while fewer than STORE_IDLE_READS are, freed otherwise. */
static void
store_read_end(struct store_txn *t)
{
    struct store *s = t->store;
    bool kept = false;

    mdb_txn_reset(t->txn);
    t->err = 0;
    pthread_mutex_lock(&s->idle_mu);
    if (s->n_idle < STORE_IDLE_READS) {
        s->idle[s->n_idle++] = t;
        kept = true;
    }
    pthread_mutex_unlock(&s->idle_mu);
    if (!kept) {
        mdb_txn_abort(t->txn);
        free(t);
    }
}

int
store_txn_begin(struct store *s, enum store_txn_mode mode,
                struct store_txn *parent, struct store_txn **out)
{
    struct store_txn *t;
    int rc;

    *out = NULL;
    if (mode != STORE_TXN_READ && mode != STORE_TXN_WRITE)
        return ERR_INVALID;
    if (mode == STORE_TXN_WRITE && s->readonly)
        return -EROFS;
    if (parent != NULL) {
        if (mode != STORE_TXN_WRITE || !parent->write || parent->store != s ||
            parent->child != NULL)
            return ERR_INVALID;
        if (parent->err != 0)
            return parent->err;
    }
    /* After a failed write or sync, no write transaction may retry:
     * what the page cache holds is unknown (writer.h, "fsyncgate"). */
    if (mode == STORE_TXN_WRITE && parent == NULL && atomic_load(&s->io_failed))
        return -EIO;
    /* Space freed on the disk by others shows in no commit of ours:
     * look again before each batch while the disk refuses puts. */
    if (mode == STORE_TXN_WRITE && parent == NULL && atomic_load(&s->disk_over))
        store_room_update(s);
    if (mode == STORE_TXN_READ && (t = store_idle_take(s)) != NULL) {
        *out = t;
        return 0;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    rc = mdb_txn_begin(s->env, parent != NULL ? parent->txn : NULL,
                       mode == STORE_TXN_READ ? MDB_RDONLY : 0, &t->txn);
    if (rc != 0) {
        free(t);
        return store_fail(__func__, "beginning a txn", rc);
    }
    if (mode == STORE_TXN_WRITE && parent == NULL && !s->tail_failed &&
        !atomic_load(&s->disk_over) &&
        (rc = store_tail_write(s)) != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        store_stop_writes(s, __func__, rc);
        return -EIO;
    }
    t->store = s;
    t->parent = parent;
    t->write = mode == STORE_TXN_WRITE;
    if (parent != NULL)
        parent->child = t;
    *out = t;
    return 0;
}

static void
store_cursor_free(struct store_cursor *c)
{
    *c->pprev = c->next;
    if (c->next != NULL)
        c->next->pprev = c->pprev;
    mdb_cursor_close(c->cur);
    free(c);
}

/* Closes the cursors of |t| and aborts its child, before |t| ends: LMDB
 * frees a write txn's cursors itself, but not our wrappers, and never a
 * read txn's cursors. */
static void
store_txn_release(struct store_txn *t)
{
    if (t->child != NULL)
        store_txn_abort(t->child);
    while (t->cursors != NULL)
        store_cursor_free(t->cursors);
    if (t->parent != NULL)
        t->parent->child = NULL;
}

int
store_txn_commit(struct store_txn *t)
{
    int fault = 0;
    int rc;

    store_txn_release(t);
    if (!t->write) {
        /* Nothing to commit: a read txn only ends. */
        rc = t->err;
        store_read_end(t);
        return rc;
    }
    if (t->err != 0) {
        rc = t->err;
        mdb_txn_abort(t->txn);
        goto out;
    }
    if (t->write && t->parent == NULL)
        fault = atomic_exchange(&t->store->fault_commit, 0);
    if (fault != 0) {
        mdb_txn_abort(t->txn);
        rc = fault;
        goto out;
    }
    /* mdb_txn_commit frees the LMDB txn whatever it returns. */
    rc = mdb_txn_commit(t->txn);
    if ((rc == EIO || rc == ENOSPC) && t->write && t->parent == NULL &&
        store_disk_full(t->store, t->put_bytes)) {
        if (!atomic_exchange(&t->store->full_logged, true))
            log_warnx("store full: no space left on the filesystem of the "
                      "store; writes fail until space is freed");
        rc = ERR_FULL;
    } else if (rc == ENOSPC && t->write && t->parent == NULL) {
        /* "No space" while the filesystem has room: a sync that lost
         * its write-back (thin provisioning, a network block device),
         * not a full disk.  An I/O error: writes must stop, not retry. */
        log_print(LOG_LVL_ERROR, __func__,
                  "commit failed: no space reported while the filesystem "
                  "has room (a failed write-back)");
        rc = -EIO;
    } else if (rc != 0) {
        if (rc == MDB_MAP_FULL)
            store_note_map_full(t->store);
        rc = store_fail(__func__, "commit", rc);
        /* LMDB may have merged part of a child into its parent before
         * failing: the parent cannot be trusted any more. */
        if (t->parent != NULL && t->parent->err == 0)
            t->parent->err = rc;
    } else if (t->parent != NULL) {
        t->parent->put_bytes += t->put_bytes;
        t->parent->deleted |= t->deleted;
    } else if (t->write) {
        atomic_store(&t->store->full_logged, false);
        store_room_update(t->store);
    }
out:
    if (t->write && t->parent == NULL && (rc == -EIO || rc == -EROFS))
        store_stop_writes(t->store, __func__, rc);
    free(t);
    return rc;
}

void
store_txn_abort(struct store_txn *t)
{
    if (t == NULL)
        return;
    store_txn_release(t);
    if (!t->write) {
        store_read_end(t);
        return;
    }
    mdb_txn_abort(t->txn);
    free(t);
}

/* The checks every data call makes on its txn: LMDB forbids using a
 * parent while its child is open, and a failed txn can only be aborted. */
static int
store_txn_ready(struct store_txn *t)
{
    if (t->child != NULL)
        return ERR_INVALID;
    return t->err;
}

static int
store_txn_usable(struct store_txn *t, enum store_db db)
{
    if ((unsigned)db >= STORE_DB_COUNT)
        return ERR_INVALID;
    return store_txn_ready(t);
}

int
store_get(struct store_txn *t, enum store_db db, const void *key,
          size_t key_len, const void **val, size_t *val_len)
{
    MDB_val k = {key_len, (void *)key};
    MDB_val v;
    int rc;

    rc = store_txn_usable(t, db);
    if (rc != 0)
        return rc;
    if (!store_key_ok(key_len))
        return ERR_INVALID;
    rc = mdb_get(t->txn, t->store->dbi[db], &k, &v);
    if (rc != 0)
        return store_txn_failed(t, __func__, rc);
    *val = v.mv_data;
    *val_len = v.mv_size;
    return 0;
}

uint32_t
store_txn_format(const struct store_txn *t)
{
    return t->store->format;
}

int
store_put(struct store_txn *t, enum store_db db, const void *key,
          size_t key_len, const void *val, size_t val_len, unsigned flags)
{
    MDB_val k = {key_len, (void *)key};
    MDB_val v = {val_len, (void *)val};
    int rc;

    rc = store_txn_usable(t, db);
    if (rc != 0)
        return rc;
    if (!t->write || !store_key_ok(key_len) || val_len > UINT32_MAX ||
        (flags &
         ~(STORE_PUT_NOOVERWRITE | STORE_PUT_RESERVE | STORE_PUT_APPEND)) != 0)
        return ERR_INVALID;
    /* In the reserve only transactions that delete may write (see the
     * room section above), and the audit log in its first half, so that
     * reads keep their trail (and keep working) when deposits are refused.
     * A refusal changes nothing: |t| stays usable. */
    if (!t->deleted && atomic_load(&t->store->over) &&
        (!(flags & STORE_PUT_RESERVE) || atomic_load(&t->store->audit_over)))
        return ERR_FULL;
    rc = mdb_put(t->txn, t->store->dbi[db], &k, &v,
                 ((flags & STORE_PUT_NOOVERWRITE) ? MDB_NOOVERWRITE : 0) |
                     ((flags & STORE_PUT_APPEND) ? MDB_APPEND : 0));
    if (rc != 0)
        return store_txn_failed(t, __func__, rc);
    t->put_bytes += key_len + val_len;
    return 0;
}

int
store_del(struct store_txn *t, enum store_db db, const void *key,
          size_t key_len)
{
    MDB_val k = {key_len, (void *)key};
    int rc;

    rc = store_txn_usable(t, db);
    if (rc != 0)
        return rc;
    if (!t->write || !store_key_ok(key_len))
        return ERR_INVALID;
    rc = mdb_del(t->txn, t->store->dbi[db], &k, NULL);
    if (rc != 0)
        return store_txn_failed(t, __func__, rc);
    t->deleted = true;
    return 0;
}

/* --- cursors ----------------------------------------------------------- */

int
store_cursor_open(struct store_txn *t, enum store_db db, const void *prefix,
                  size_t prefix_len, struct store_cursor **out)
{
    struct store_cursor *c;
    int rc;

    *out = NULL;
    rc = store_txn_usable(t, db);
    if (rc != 0)
        return rc;
    if (prefix_len > STORE_KEY_MAX || (prefix == NULL && prefix_len != 0))
        return ERR_INVALID;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    rc = mdb_cursor_open(t->txn, t->store->dbi[db], &c->cur);
    if (rc != 0) {
        free(c);
        return store_txn_failed(t, __func__, rc);
    }
    if (prefix_len > 0)
        memcpy(c->prefix, prefix, prefix_len);
    c->prefix_len = prefix_len;
    c->txn = t;
    c->next = t->cursors;
    if (c->next != NULL)
        c->next->pprev = &c->next;
    c->pprev = &t->cursors;
    t->cursors = c;
    *out = c;
    return 0;
}

/* Turns the result |rc| of a cursor move into an entry of the prefix, or
 * ERR_NOTFOUND once the cursor has left the prefix. */
static int
store_cursor_yield(struct store_cursor *c, int rc, const MDB_val *k,
                   const MDB_val *v, struct store_entry *e)
{
    c->positioned = true;
    c->on_record = false;
    if (rc == MDB_NOTFOUND ||
        (rc == 0 && (k->mv_size < c->prefix_len ||
                     memcmp(k->mv_data, c->prefix, c->prefix_len) != 0))) {
        c->at_end = true;
        return ERR_NOTFOUND;
    }
    if (rc != 0)
        return store_txn_failed(c->txn, __func__, rc);
    c->at_end = false;
    c->on_record = true;
    e->key = k->mv_data;
    e->key_len = k->mv_size;
    e->val = v->mv_data;
    e->val_len = v->mv_size;
    return 0;
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t key_len,
                  struct store_entry *e)
{
    MDB_val k, v;
    int rc;

    rc = store_txn_ready(c->txn);
    if (rc != 0)
        return rc;
    if (key_len > STORE_KEY_MAX)
        return ERR_INVALID;
    if (key == NULL || key_len == 0 ||
        store_key_cmp(key, key_len, c->prefix, c->prefix_len) < 0) {
        key = c->prefix;
        key_len = c->prefix_len;
    }
    k.mv_size = key_len;
    k.mv_data = (void *)key;
    /* LMDB refuses an empty key for MDB_SET_RANGE: the first record of
     * the database is MDB_FIRST. */
    rc = mdb_cursor_get(c->cur, &k, &v,
                        key_len == 0 ? MDB_FIRST : MDB_SET_RANGE);
    return store_cursor_yield(c, rc, &k, &v, e);
}

int
store_cursor_next(struct store_cursor *c, struct store_entry *e)
{
    MDB_val k, v;
    int rc;

    if (!c->positioned)
        return store_cursor_seek(c, NULL, 0, e);
    rc = store_txn_ready(c->txn);
    if (rc != 0)
        return rc;
    if (c->at_end)
        return ERR_NOTFOUND;
    /* After mdb_cursor_del the cursor already sits on the following
     * record, flagged so that MDB_NEXT returns it rather than skip it. */
    rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT);
    return store_cursor_yield(c, rc, &k, &v, e);
}

int
store_cursor_del(struct store_cursor *c)
{
    int rc;

    rc = store_txn_ready(c->txn);
    if (rc != 0)
        return rc;
    if (!c->txn->write || !c->on_record)
        return ERR_INVALID;
    rc = mdb_cursor_del(c->cur, 0);
    c->on_record = false;
    if (rc != 0)
        return store_txn_failed(c->txn, __func__, rc);
    c->txn->deleted = true;
    return 0;
}

void
store_cursor_close(struct store_cursor *c)
{
    if (c != NULL)
        store_cursor_free(c);
}

int
store_last(struct store_txn *t, enum store_db db, const void *prefix,
           size_t prefix_len, struct store_entry *e)
{
    uint8_t upper[STORE_KEY_MAX];
    size_t n = prefix_len;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    rc = store_txn_usable(t, db);
    if (rc != 0)
        return rc;
    if (prefix_len > STORE_KEY_MAX || (prefix == NULL && prefix_len != 0))
        return ERR_INVALID;
    rc = mdb_cursor_open(t->txn, t->store->dbi[db], &cur);
    if (rc != 0)
        return store_txn_failed(t, __func__, rc);
    /* The smallest key above every key with the prefix: the prefix with
     * trailing 0xff bytes dropped and its last byte incremented.  The
     * answer is the record just before it.  A prefix of only 0xff bytes
     * (or none) has no such bound: the answer is then the last record. */
    if (n > 0)
        memcpy(upper, prefix, n);
    while (n > 0 && upper[n - 1] == 0xff)
        n--;
    if (n == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else {
        upper[n - 1]++;
        k.mv_size = n;
        k.mv_data = upper;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (rc != 0) {
        rc = store_txn_failed(t, __func__, rc);
        goto out;
    }
    if (k.mv_size < prefix_len ||
        (prefix_len > 0 && memcmp(k.mv_data, prefix, prefix_len) != 0)) {
        rc = ERR_NOTFOUND;
        goto out;
    }
    e->key = k.mv_data;
    e->key_len = k.mv_size;
    e->val = v.mv_data;
    e->val_len = v.mv_size;
out:
    mdb_cursor_close(cur);
    return rc;
}

/* --- statistics -------------------------------------------------------- */

int
store_stat(struct store *s, struct store_stat *st)
{
    MDB_txn *txn = NULL;
    MDB_envinfo info;
    MDB_stat ms;
    uint64_t free_pages;
    int rc;

    memset(st, 0, sizeof(*st));
    st->format = s->format;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        txn = NULL;
        goto fail;
    }
    rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &ms);
    if (rc != 0)
        goto fail;
    st->map_size = info.me_mapsize;
    st->page_size = ms.ms_psize;
    st->high_water = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    st->max_readers = info.me_maxreaders;
    st->readers = info.me_numreaders;
    st->last_txn = info.me_last_txnid;
    rc = store_free_pages(txn, &free_pages);
    if (rc != 0)
        goto fail;
    st->free_bytes = free_pages * ms.ms_psize;
    st->used_bytes =
        st->high_water > st->free_bytes ? st->high_water - st->free_bytes : 0;
    st->reserve_bytes = s->reserve_pages * s->page_size;
    st->puts_refused = atomic_load(&s->over);
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        rc = mdb_stat(txn, s->dbi[i], &ms);
        if (rc != 0)
            goto fail;
        st->entries[i] = ms.ms_entries;
    }
    mdb_txn_abort(txn);
    return 0;

fail:
    mdb_txn_abort(txn);
    return store_fail(__func__, "reading statistics", rc);
}
