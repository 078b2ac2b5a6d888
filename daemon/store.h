/*
 * store.h -- the daemon's key-value store: one LMDB environment in the data
 * directory, named databases from a fixed list, transactions and cursors.
 *
 * This module is the only one that speaks LMDB.  It opens the environment
 * with safe settings (every commit is synced: no MDB_NOSYNC, MDB_NOMETASYNC
 * or MDB_WRITEMAP), refuses data directories on network filesystems,
 * checks the store's format version, and translates every LMDB code into
 * the project's codes once, here.  It knows nothing of what the bytes
 * mean: records, encryption and indexes belong to vault.c and audit.c, and
 * batching writes into few commits belongs to writer.c.
 *
 * Threads: the environment is opened with MDB_NOTLS, so a read transaction
 * is not tied to the thread that began it: the loop thread and worker
 * threads may each hold read transactions, and may hand one to another
 * thread, as long as one thread at a time uses a given transaction and its
 * cursors.  A write transaction (and its children) must begin, be used and
 * end on one thread, because LMDB's writer lock is a mutex owned by that
 * thread; only one write transaction exists at a time in the process, and
 * beginning a second one blocks until the first ends.  In the daemon only
 * the writer thread (writer.h) begins write transactions.
 *
 * Key lengths are 1 to STORE_KEY_MAX bytes; keys sort bytewise (memcmp,
 * then shorter first), so big-endian integers sort numerically.
 */
#ifndef DOSSIER_STORE_H
#define DOSSIER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The named databases.  Their names, in the table just below, are written
 * in the file: never rename one (a new format may replace one, see
 * STORE_FORMAT_VERSION).  To add a database, add its enum value
 * before STORE_DB_COUNT and its name to STORE_DB_NAMES; an existing store
 * gains the new, empty database the next time it is opened.
 */
enum store_db {
    STORE_DB_META, /* the store's own records (format version) */
    STORE_DB_PERSONS,
    STORE_DB_NIR,
    STORE_DB_SITUATIONS,
    STORE_DB_DOCS,
    STORE_DB_CHUNKS,
    STORE_DB_FACTS,
    STORE_DB_UPLOADS,
    STORE_DB_CONSENTS,
    STORE_DB_MANDATES,
    STORE_DB_AUDIT,
    STORE_DB_EVENTS,
    STORE_DB_AUDIT_TREE, /* Merkle subtree hashes of the audit log */
    STORE_DB_GRANTS,     /* who holds what: agency consents, mandates */
    STORE_DB_COUNT
};

/* The LMDB name of each database, indexed by enum store_db. */
#define STORE_DB_NAMES                                                         \
    {                                                                          \
        [STORE_DB_META] = "meta", [STORE_DB_PERSONS] = "persons",              \
        [STORE_DB_NIR] = "nir", [STORE_DB_SITUATIONS] = "situations",          \
        [STORE_DB_DOCS] = "docs", [STORE_DB_CHUNKS] = "chunks",                \
        [STORE_DB_FACTS] = "facts", [STORE_DB_UPLOADS] = "uploads",            \
        [STORE_DB_CONSENTS] = "consents", [STORE_DB_MANDATES] = "mandates",    \
        [STORE_DB_AUDIT] = "audit", [STORE_DB_EVENTS] = "events",              \
        [STORE_DB_AUDIT_TREE] = "audit-tree", [STORE_DB_GRANTS] = "grants",    \
    }

/*
 * The format of the store's contents.  META["format"] holds it as a 4-byte
 * big-endian integer, written when the store is created and checked at
 * every open.  Raise it when a change makes old data unreadable as is, and
 * convert the older formats in store.c (store_upgrade), in the opening
 * transaction of a read-write open.  A read-only open (backups, status)
 * does not convert: it opens the databases of the store's own format,
 * and the reader of a changed layout asks store_txn_format().
 *  1: the audit log's subtree hashes in "audit-nodes", keyed by level then
 *     index: each level grew at its own end of the tree, so every commit
 *     dirtied a page per level.
 *  2: the same hashes in "audit-tree", keyed so that an append only adds
 *     keys at the end (audit.c, node_key).
 */
#define STORE_FORMAT_VERSION 2
/* The oldest format a read-write open converts. */
#define STORE_FORMAT_UPGRADE_FROM 1
#define STORE_FORMAT_KEY "format"

#define STORE_KEY_MAX 511                   /* LMDB's default key limit */
#define STORE_MAP_SIZE_DEFAULT (1ULL << 30) /* 1 GiB */
/* Read transactions open at once in the process (LMDB reader slots). */
#define STORE_MAX_READERS 512
/* Read transactions kept, once ended, for the next ones to reuse (each
 * holds a reader slot but no snapshot: see store_txn_begin). */
#define STORE_IDLE_READS 4

/*
 * The last pages of the map are a reserve for transactions that delete:
 * LMDB copies pages on write, so a map used to its last page could not
 * even delete.  Once the pages in use reach into the reserve, store_put
 * fails with ERR_FULL in any transaction that has not deleted a record;
 * deletes, and puts in the transactions that deleted, go on.  The reserve
 * is 1/16 of the map, at least 64 pages, at most STORE_RESERVE_MAX, and
 * never more than a quarter of the map.  It is held on disk as well: the
 * data file is kept allocated (fallocate, its size unchanged) up to its
 * high-water mark plus the reserve, so that a filesystem that fills
 * before the map does still leaves deletes the blocks they need; when the
 * filesystem cannot give them, counting the pages free inside the file,
 * puts are refused in the same way until disk space is freed or records
 * are deleted.
 */
#define STORE_RESERVE_MAX (64ULL << 20)

/*
 * The data file is kept written (with zeros) at least STORE_TAIL_AHEAD
 * bytes past the last page in use, extended STORE_TAIL_STEP bytes more at
 * a time when a write transaction begins, up to the map's size: a commit's
 * new pages then overwrite blocks already written inside the file, and its
 * sync need not also make a new file size durable (store.c).  The
 * file's size is therefore no measure of the store: store_stat's
 * high_water is.
 */
#define STORE_TAIL_AHEAD (256u << 10)
#define STORE_TAIL_STEP (256u << 10)

struct store;
struct store_txn;
struct store_cursor;

enum store_txn_mode { STORE_TXN_READ = 0, STORE_TXN_WRITE = 1 };

/* store_put flag: fail with ERR_EXISTS if the key is already set. */
#define STORE_PUT_NOOVERWRITE 0x1u
/* store_put flag: may use the first half of the reserve (the audit log
 * only: reads keep their trail while new deposits are refused). */
#define STORE_PUT_RESERVE 0x2u
/* store_put flag: |key| is past every key of the database (the log's
 * appends), which LMDB then fills page after page, instead of splitting
 * the last page in halves; ERR_EXISTS, changing nothing, if it is not. */
#define STORE_PUT_APPEND 0x4u

/* One record seen through a cursor or store_last().  The pointers are
 * valid until the transaction ends, or in a write transaction until its
 * next put or delete, whichever comes first.  Copy out what must live
 * longer. */
struct store_entry {
    const void *key;
    size_t key_len;
    const void *val;
    size_t val_len;
};

/* Figures for metrics, from store_stat(). */
struct store_stat {
    uint64_t map_size;   /* bytes of address space (the size limit) */
    uint64_t high_water; /* bytes of the file ever used (last page) */
    uint64_t free_bytes; /* of high_water, pages on the free list */
    uint64_t used_bytes; /* high_water - free_bytes */
    uint32_t page_size;
    uint32_t max_readers;   /* reader slots */
    uint32_t readers;       /* reader slots used so far (high-water) */
    uint64_t last_txn;      /* id of the last committed write txn */
    uint64_t reserve_bytes; /* the reserve kept for deletes */
    bool puts_refused;      /* in use reaches the reserve: ERR_FULL */
    uint32_t format;        /* of the contents, as store_txn_format() */
    uint64_t entries[STORE_DB_COUNT]; /* records in each database */
};

/*
 * Opens the store in directory |dir|, creating the directory (mode 0700,
 * its parent must exist) and a fresh store in it if missing.  |map_size|
 * is the most bytes the store may hold (0: STORE_MAP_SIZE_DEFAULT), of
 * which the reserve (see STORE_RESERVE_MAX) is kept for deletes; an
 * existing file larger than that keeps its size.  Refuses a directory on a
 * network filesystem (NFS, SMB/CIFS, AFS, Coda, NCP, 9P, Ceph, FUSE):
 * LMDB's locks and shared memory map are only coherent on a local one.
 * Clears reader slots left by dead processes.  On success |*out| is the
 * store, which the caller owns and ends with store_close().
 *
 * Returns 0, ERR_CONFIG (network filesystem; not a directory; an LMDB
 * environment that is not a dossierd store; a store of another format
 * version), ERR_CORRUPT (the files are not a valid LMDB environment or its
 * format record is malformed), ERR_INVALID (|dir| NULL or empty),
 * ERR_FULL (no space to create the store), or a negative errno (-EACCES,
 * -ENOMEM, -EIO...).  Every failure is logged here with the directory and
 * the reason.  Runs on any thread, once per directory per process: LMDB
 * forbids opening one environment twice in a process.
 */
int store_open(const char *dir, size_t map_size, struct store **out);

/*
 * Opens the store in |dir| read-only: no write transaction may begin
 * (store_txn_begin returns -EROFS), nothing is created, and the map size
 * is the one written in the file.  |dir|/data.mdb must exist.  With
 * |copy| false the lock file is used as by store_open (the live store of a
 * running daemon: its readers are seen, so the daemon never reuses the
 * pages they read); with |copy| true no lock file is used nor made (a
 * backup copy that no other process has open).  Returns as store_open,
 * plus -ENOENT (no data.mdb).  Any thread.
 */
int store_open_readonly(const char *dir, bool copy, struct store **out);

/*
 * Writes a consistent, compacted copy of |s| as |dir|/data.mdb (|dir|
 * must exist; data.mdb must not): a snapshot as of one read transaction,
 * taken while writers go on (LMDB's mdb_env_copy2 with MDB_CP_COMPACT),
 * then synced with its directory.  The copy opens with store_open or
 * store_open_readonly.  Returns 0, ERR_EXISTS (|dir| already holds a
 * data.mdb), ERR_FULL (no space: the partial copy is removed), -EIO or
 * another negative errno (logged).  Any thread; blocks for as long as
 * the copy takes.
 */
int store_backup(struct store *s, const char *dir);

/*
 * Closes the environment and frees |s|.  Every transaction (and so every
 * cursor) must have ended.  Commits are already durable: nothing is synced
 * here.  store_close(NULL) is a no-op.  Any thread.
 */
void store_close(struct store *s);

/* The name of |db| in the file ("persons"...), or "?" if out of range. */
const char *store_db_name(enum store_db db);

/*
 * Begins a transaction on |s|.  With |parent| NULL: a read transaction
 * (|mode| STORE_TXN_READ), a consistent snapshot as of its beginning that
 * never blocks nor is blocked by writes; or a write transaction (|mode|
 * STORE_TXN_WRITE), which waits for any other write transaction to end.
 * With |parent| a write transaction: a nested write transaction (mode
 * must be STORE_TXN_WRITE) whose changes reach |parent| only if it
 * commits, and are dropped if it aborts, leaving |parent| as it was; while
 * a child is open its parent may not be used, only ended (which ends the
 * child too).  Children nest to any depth.
 *
 * On success |*out| is the transaction, ended by exactly one call to
 * store_txn_commit() or store_txn_abort(), which free it.  An ended read
 * transaction is kept (up to STORE_IDLE_READS of them) and renewed by a
 * later begin, as LMDB's mdb_txn_reset/mdb_txn_renew allow: a reader
 * takes neither an allocation nor the reader table's lock, and still sees
 * every commit made before its begin.  Every transaction must have ended
 * before store_close().
 *
 * Returns 0, ERR_INVALID (|parent| not a write transaction, or a read
 * child asked), the error that left |parent| unusable (see store_put), or
 * -EAGAIN (every reader slot taken), -ENOMEM, -EIO (a write transaction,
 * after a top-level commit of this store failed with -EIO or -EROFS: no
 * write is retried once a write or sync failed, see store_io_failed; or
 * the environment hit a fatal I/O error earlier: restart needed).  A write
 * transaction and its children run on the thread that began the outermost one;
 * a read transaction runs on any one thread at a time.
 */
int store_txn_begin(struct store *s, enum store_txn_mode mode,
                    struct store_txn *parent, struct store_txn **out);

/*
 * Commits |t| and frees it, with its open cursors and children (children
 * are aborted).  A top-level write transaction is on disk (synced) when
 * this returns 0; a child's changes become its parent's.  Committing a
 * read transaction just ends it.
 *
 * Returns 0; if an earlier call on |t| failed in a way that left it
 * unusable, |t| is aborted and that error is returned; otherwise ERR_FULL
 * (map or disk full: nothing of |t| was written), -EIO or another negative
 * errno (write or sync failed: nothing of |t| is durable), -ENOMEM.  When
 * a child fails to commit, its parent becomes unusable too and will fail
 * with the same error.  Either way |t| is gone.  On the thread of |t|.
 */
int store_txn_commit(struct store_txn *t);

/* Drops |t|'s changes and frees it, with its cursors and children.
 * store_txn_abort(NULL) is a no-op.  On the thread of |t|. */
void store_txn_abort(struct store_txn *t);

/* Bytes of keys and values put in write transaction |t|, including those
 * of its committed children (the writer bounds its batches with it).  On
 * the thread of |t|. */
uint64_t store_txn_put_bytes(const struct store_txn *t);

/*
 * Looks up |key| (|key_len| bytes) in |db|.  On success |*val| and
 * |*val_len| describe the stored value, which belongs to the store: it is
 * valid until |t| ends, or in a write transaction until its next put or
 * delete, and must not be written to.  Copy it out to keep it.
 *
 * Returns 0, ERR_NOTFOUND, ERR_INVALID (bad |db| or key length),
 * ERR_CORRUPT (damaged file), or the error that made |t| unusable.  On the
 * thread of |t|.
 */
int store_get(struct store_txn *t, enum store_db db, const void *key,
              size_t key_len, const void **val, size_t *val_len);

/*
 * Sets |key| to the |val_len| bytes at |val| (copied) in |db|, in write
 * transaction |t|.  |flags| is 0 (replace any value), or any of
 * STORE_PUT_NOOVERWRITE, STORE_PUT_RESERVE and STORE_PUT_APPEND.
 *
 * Returns 0; ERR_EXISTS (STORE_PUT_NOOVERWRITE and the key is set, or
 * STORE_PUT_APPEND and the key is not past the last: nothing changed);
 * ERR_INVALID (read transaction, bad |db|, key length or flags, value over 4
 * GiB - 1); ERR_FULL (the pages in use reach the reserve and |t| has deleted
 * nothing: nothing changed; or the map or the disk is full); ERR_CORRUPT;
 * -ENOMEM.  ERR_EXISTS, ERR_INVALID and the reserve's ERR_FULL leave |t|
 * usable; after any other error |t| is unusable: every later call on it returns
 * the same error and it can only be aborted (committing it aborts it and
 * returns the error). On the thread of |t|.
 */
int store_put(struct store_txn *t, enum store_db db, const void *key,
              size_t key_len, const void *val, size_t val_len, unsigned flags);

/*
 * The format of the contents |t| reads: STORE_FORMAT_VERSION, or in a
 * read-only open of an older store, that store's format (at least
 * STORE_FORMAT_UPGRADE_FROM).  Any thread.
 */
uint32_t store_txn_format(const struct store_txn *t);

/*
 * Deletes |key| from |db| in write transaction |t|, which may then put
 * even when the store is in its reserve.  Returns 0, ERR_NOTFOUND
 * (nothing changed), ERR_INVALID, or as store_put (deleting takes pages
 * too: ERR_FULL if even the reserve is used up).  On the thread of |t|.
 */
int store_del(struct store_txn *t, enum store_db db, const void *key,
              size_t key_len);

/*
 * Opens a cursor over the records of |db| whose keys start with the
 * |prefix_len| bytes at |prefix| (copied; prefix_len 0: every record), in
 * key order.  On success |*out| is the cursor, ended by
 * store_cursor_close() or at the latest when |t| ends (after which it must
 * not be used nor closed).
 *
 * Returns 0, ERR_INVALID (bad |db|, prefix over STORE_KEY_MAX), -ENOMEM,
 * or the error that made |t| unusable.  On the thread of |t|.
 */
int store_cursor_open(struct store_txn *t, enum store_db db, const void *prefix,
                      size_t prefix_len, struct store_cursor **out);

/*
 * Moves |c| to the first record of its prefix whose key is >= |key|
 * (|key| NULL or |key_len| 0: the first record of the prefix; a key that
 * sorts before the prefix also means the first) and fills |*e|.
 *
 * Returns 0, ERR_NOTFOUND (no such record in the prefix; |c| is then at
 * the end), ERR_INVALID (key over STORE_KEY_MAX), ERR_CORRUPT, or the
 * error that made the transaction unusable.  On the thread of |c|'s txn.
 */
int store_cursor_seek(struct store_cursor *c, const void *key, size_t key_len,
                      struct store_entry *e);

/*
 * Moves |c| to the next record of its prefix and fills |*e|; on a cursor
 * not yet positioned, to the first one, so that
 *     while ((rc = store_cursor_next(c, &e)) == 0) ...
 * visits every record of the prefix.  After store_cursor_del(), moves to
 * the record that followed the deleted one.
 *
 * Returns 0, ERR_NOTFOUND (past the last record of the prefix, and from
 * then on), ERR_CORRUPT, or the error that made the transaction unusable.
 */
int store_cursor_next(struct store_cursor *c, struct store_entry *e);

/*
 * Deletes the record |c| is on (write transactions only).  Returns 0,
 * ERR_INVALID (read transaction, or |c| not on a record), or as
 * store_del().  The entry last returned by |c| is no longer valid.
 */
int store_cursor_del(struct store_cursor *c);

/* Closes |c|; store_cursor_close(NULL) is a no-op. */
void store_cursor_close(struct store_cursor *c);

/*
 * Fills |*e| with the record of |db| that has the greatest key starting
 * with |prefix| (|prefix_len| 0: the greatest key of |db|), e.g. the last
 * entry of a sequence keyed by prefix + big-endian counter.
 *
 * Returns 0, ERR_NOTFOUND (no key with that prefix), ERR_INVALID,
 * ERR_CORRUPT, -ENOMEM, or the error that made |t| unusable.  |*e| is
 * valid as for a cursor.  On the thread of |t|.
 */
int store_last(struct store_txn *t, enum store_db db, const void *prefix,
               size_t prefix_len, struct store_entry *e);

/*
 * Fills |*st| from a read transaction of its own (cost: one walk of the
 * free list).  Returns 0 or as store_txn_begin().  Any thread.
 */
int store_stat(struct store *s, struct store_stat *st);

/*
 * Whether a top-level write commit of |s| failed with an I/O error (-EIO,
 * -EROFS; an injected one too).  From then on every write transaction of
 * |s| is refused with -EIO, until the process restarts; reads go on.  The
 * failure is logged once, here.  Any thread.
 */
bool store_io_failed(struct store *s);

/*
 * For tests (fault injection): the next commit of a top-level write
 * transaction of |s| aborts it instead and returns |err| (0: no fault).
 * The fault fires once.  Any thread.
 */
void store__fault_commit(struct store *s, int err);

/*
 * The name of the network filesystem whose statfs(2) f_type is |f_type|
 * ("NFS", "CIFS"...), or NULL for any other filesystem.  Exposed for
 * tests.
 */
const char *store__fs_network_name(unsigned long f_type);

#endif
