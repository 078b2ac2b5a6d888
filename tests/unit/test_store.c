/*
 * test_store.c -- unit tests of store.c in fresh mkdtemp directories:
 * creation (directory mode, format record, every database), put/get/del,
 * no-overwrite, argument refusals, cursors (order, prefix bounds, seek,
 * delete while iterating), store_last, nested transactions (abort keeps
 * the parent, failed child leaves the parent usable), the format version
 * check, a tiny map filling up (ERR_FULL, reads still work, writes resume
 * after deleting), snapshots and read transactions on another thread
 * (MDB_NOTLS), statistics, injected commit faults, and the table of
 * network filesystems.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be.h"
#include "err.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"

/*
 * Each test works in its own directory |dir| inside |base|, one base per
 * test case; the store lives in |data| = |dir|/data, which store_open
 * creates.  The base is removed by an unchecked teardown, which runs in
 * the runner even when a test fails.
 */
static char base[64];
static char dir[128];
static char data[160];

static void
base_setup(void)
{
    testutil_mkdtemp(base, sizeof(base), NULL, "dossier-store");
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

/* --- helpers ----------------------------------------------------------- */

static struct store *
open_ok(size_t map_size)
{
    struct store *s = NULL;

    ck_assert_int_eq(store_open(data, map_size, &s), 0);
    ck_assert_ptr_nonnull(s);
    return s;
}

static struct store_txn *
begin(struct store *s, enum store_txn_mode mode, struct store_txn *parent)
{
    struct store_txn *t = NULL;

    ck_assert_int_eq(store_txn_begin(s, mode, parent, &t), 0);
    ck_assert_ptr_nonnull(t);
    return t;
}

static int
put_str(struct store_txn *t, enum store_db db, const char *k, const char *v,
        unsigned flags)
{
    return store_put(t, db, k, strlen(k), v, strlen(v), flags);
}

/* Asserts that |k| holds the string |want| (NULL: absent) in |t|. */
static void
expect(struct store_txn *t, enum store_db db, const char *k, const char *want)
{
    const void *v = NULL;
    size_t len = 0;
    int rc = store_get(t, db, k, strlen(k), &v, &len);

    if (want == NULL) {
        ck_assert_msg(rc == ERR_NOTFOUND, "%s: got rc %d, want ERR_NOTFOUND", k,
                      rc);
        return;
    }
    ck_assert_msg(rc == 0, "%s: rc %d", k, rc);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(v, want, len);
}

/* Same, in a read transaction of its own. */
static void
expect_committed(struct store *s, enum store_db db, const char *k,
                 const char *want)
{
    struct store_txn *t = begin(s, STORE_TXN_READ, NULL);

    expect(t, db, k, want);
    store_txn_abort(t);
}

/* Collects the keys a cursor of |prefix| visits, "," separated, into
 * |out|; returns how many. */
static int
list_keys(struct store_txn *t, enum store_db db, const char *prefix, char *out,
          size_t cap)
{
    struct store_cursor *c = NULL;
    struct store_entry e;
    int n = 0;
    int rc;

    out[0] = '\0';
    ck_assert_int_eq(store_cursor_open(t, db, prefix, strlen(prefix), &c), 0);
    while ((rc = store_cursor_next(c, &e)) == 0) {
        size_t len = strlen(out);

        ck_assert_uint_lt(len + e.key_len + 2, cap);
        if (n > 0)
            out[len++] = ',';
        memcpy(out + len, e.key, e.key_len);
        out[len + e.key_len] = '\0';
        n++;
    }
    ck_assert_int_eq(rc, ERR_NOTFOUND);
    /* Past the end it stays at the end. */
    ck_assert_int_eq(store_cursor_next(c, &e), ERR_NOTFOUND);
    store_cursor_close(c);
    return n;
}

/* --- opening ----------------------------------------------------------- */

START_TEST(test_store_open_creates_dir_and_format)
{
    struct store *s;
    struct store_stat st;
    struct store_txn *t;
    const void *v;
    size_t len;
    struct stat sb;
    char path[256];

    ck_assert_int_eq(stat(data, &sb), -1); /* not there yet */
    s = open_ok(0);
    ck_assert_int_eq(stat(data, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/data.mdb", data);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);

    /* The format record, big-endian, and nothing else anywhere. */
    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_get(t, STORE_DB_META, STORE_FORMAT_KEY,
                               strlen(STORE_FORMAT_KEY), &v, &len),
                     0);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(v, "\0\0\0\2", 4);
    store_txn_abort(t);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_eq(st.map_size, STORE_MAP_SIZE_DEFAULT);
    ck_assert_uint_eq(st.entries[STORE_DB_META], 1);
    for (int i = 1; i < STORE_DB_COUNT; i++)
        ck_assert_uint_eq(st.entries[i], 0);
    store_close(s);

    /* Reopening finds the same store and writes nothing new. */
    s = open_ok(0);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_eq(st.entries[STORE_DB_META], 1);
    store_close(s);
    store_close(NULL); /* no-op */
}
END_TEST

START_TEST(test_store_db_names)
{
    ck_assert_str_eq(store_db_name(STORE_DB_META), "meta");
    ck_assert_str_eq(store_db_name(STORE_DB_PERSONS), "persons");
    ck_assert_str_eq(store_db_name(STORE_DB_EVENTS), "events");
    ck_assert_str_eq(store_db_name(STORE_DB_COUNT), "?");
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        ck_assert_str_ne(store_db_name(i), "?");
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(store_db_name(i), store_db_name(j));
    }
}
END_TEST

START_TEST(test_store_open_refuses_non_directory)
{
    struct store *s = (struct store *)1;
    FILE *f = fopen(data, "w");

    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(store_open(data, 0, &s), ERR_CONFIG);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(store_open("", 0, &s), ERR_INVALID);
    /* The parent must exist: only the last component is created. */
    snprintf(data, sizeof(data), "%s/no/such", dir);
    ck_assert_int_eq(store_open(data, 0, &s), -ENOENT);
}
END_TEST

/* Writes |bytes| as the format record, then checks store_open's answer. */
static void
format_case(const void *bytes, size_t len, bool del, int want)
{
    struct store *s;
    struct store_txn *t;

    dir_teardown();
    dir_setup();
    s = open_ok(0);
    t = begin(s, STORE_TXN_WRITE, NULL);
    if (del)
        ck_assert_int_eq(store_del(t, STORE_DB_META, STORE_FORMAT_KEY,
                                   strlen(STORE_FORMAT_KEY)),
                         0);
    else
        ck_assert_int_eq(store_put(t, STORE_DB_META, STORE_FORMAT_KEY,
                                   strlen(STORE_FORMAT_KEY), bytes, len, 0),
                         0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    store_close(s);
    s = (struct store *)1;
    ck_assert_int_eq(store_open(data, 0, &s), want);
    if (want == 0)
        store_close(s);
    else
        ck_assert_ptr_null(s);
}

START_TEST(test_store_format_version_checked)
{
    struct store *s;
    struct store_txn *t;
    const void *v;
    size_t len;

    format_case("\0\0\0\3", 4, false, ERR_CONFIG); /* newer */
    format_case("\0\0\1\0", 4, false, ERR_CONFIG); /* much newer */
    format_case("\0\0\0\0", 4, false, ERR_CONFIG); /* older, unknown */
    format_case("\0\0\1", 3, false, ERR_CORRUPT);  /* malformed */
    format_case(NULL, 0, true, ERR_CONFIG);        /* missing */
    format_case("\0\0\0\2", 4, false, 0);          /* ours */
    /* Format 1 (test_audit: test_format1_converted) is converted, and
     * says so in its record. */
    format_case("\0\0\0\1", 4, false, 0);
    s = open_ok(0);
    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_get(t, STORE_DB_META, STORE_FORMAT_KEY,
                               strlen(STORE_FORMAT_KEY), &v, &len),
                     0);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(v, "\0\0\0\2", 4);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_store_netfs_names)
{
    ck_assert_str_eq(store__fs_network_name(0x6969), "NFS");
    ck_assert_str_eq(store__fs_network_name(0xff534d42UL), "CIFS");
    ck_assert_str_eq(store__fs_network_name(0xfe534d42UL), "SMB2");
    ck_assert_str_eq(store__fs_network_name(0x517b), "SMB");
    ck_assert_str_eq(store__fs_network_name(0x65735546), "FUSE");
    ck_assert_str_eq(store__fs_network_name(0x01021997), "9P");
    ck_assert_str_eq(store__fs_network_name(0x00c36400), "Ceph");
    ck_assert_str_eq(store__fs_network_name(0x73757245), "Coda");
    ck_assert_str_eq(store__fs_network_name(0x564c), "NCP");
    ck_assert_str_eq(store__fs_network_name(0x5346414f), "AFS");
    /* statfs's f_type is a signed long: CIFS may come sign-extended. */
    ck_assert_str_eq(
        store__fs_network_name((unsigned long)(long)(int)0xff534d42U), "CIFS");
    ck_assert_ptr_null(store__fs_network_name(0xef53));     /* ext4 */
    ck_assert_ptr_null(store__fs_network_name(0x58465342)); /* XFS */
    ck_assert_ptr_null(store__fs_network_name(0x9123683e)); /* Btrfs */
    ck_assert_ptr_null(store__fs_network_name(0x01021994)); /* tmpfs */
}
END_TEST

/* --- records ----------------------------------------------------------- */

START_TEST(test_store_put_get_del)
{
    struct store *s = open_ok(0);
    struct store_txn *t;

    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "alice", "one", 0), 0);
    ck_assert_int_eq(put_str(t, STORE_DB_DOCS, "alice", "other db", 0), 0);
    expect(t, STORE_DB_PERSONS, "alice", "one"); /* own writes visible */
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "empty", "", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);

    expect_committed(s, STORE_DB_PERSONS, "alice", "one");
    expect_committed(s, STORE_DB_DOCS, "alice", "other db");
    expect_committed(s, STORE_DB_PERSONS, "empty", "");
    expect_committed(s, STORE_DB_PERSONS, "bob", NULL);
    expect_committed(s, STORE_DB_NIR, "alice", NULL); /* databases apart */

    /* Overwrite, then delete. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "alice", "two!", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    expect_committed(s, STORE_DB_PERSONS, "alice", "two!");
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_del(t, STORE_DB_PERSONS, "alice", 5), 0);
    ck_assert_int_eq(store_del(t, STORE_DB_PERSONS, "alice", 5), ERR_NOTFOUND);
    /* ERR_NOTFOUND leaves the txn usable. */
    ck_assert_int_eq(store_txn_commit(t), 0);
    expect_committed(s, STORE_DB_PERSONS, "alice", NULL);
    expect_committed(s, STORE_DB_DOCS, "alice", "other db");

    /* An aborted write txn leaves nothing. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "ghost", "x", 0), 0);
    store_txn_abort(t);
    expect_committed(s, STORE_DB_PERSONS, "ghost", NULL);
    store_txn_abort(NULL); /* no-op */
    store_close(s);
}
END_TEST

START_TEST(test_store_nooverwrite)
{
    struct store *s = open_ok(0);
    struct store_txn *t;

    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(
        put_str(t, STORE_DB_NIR, "k", "first", STORE_PUT_NOOVERWRITE), 0);
    ck_assert_int_eq(
        put_str(t, STORE_DB_NIR, "k", "second", STORE_PUT_NOOVERWRITE),
        ERR_EXISTS);
    expect(t, STORE_DB_NIR, "k", "first");
    /* ERR_EXISTS leaves the txn usable and committable. */
    ck_assert_int_eq(put_str(t, STORE_DB_NIR, "j", "other", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    expect_committed(s, STORE_DB_NIR, "k", "first");
    expect_committed(s, STORE_DB_NIR, "j", "other");

    /* Against a committed value too; without the flag it replaces. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(
        put_str(t, STORE_DB_NIR, "k", "third", STORE_PUT_NOOVERWRITE),
        ERR_EXISTS);
    ck_assert_int_eq(put_str(t, STORE_DB_NIR, "k", "fourth", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    expect_committed(s, STORE_DB_NIR, "k", "fourth");
    store_close(s);
}
END_TEST

/* STORE_PUT_APPEND: keys past the last one only. */
START_TEST(test_store_append)
{
    struct store *s = open_ok(0);
    struct store_stat st1;
    struct store_txn *t, *c;
    uint8_t key[8], val[100];
    const void *got;
    size_t len;
    const int n = 2000;

    memset(val, 0xab, sizeof(val));
    t = begin(s, STORE_TXN_WRITE, NULL);
    for (int i = 0; i < n; i++) {
        be_put64(key, (uint64_t)i);
        ck_assert_int_eq(store_put(t, STORE_DB_AUDIT, key, 8, val, sizeof(val),
                                   STORE_PUT_APPEND),
                         0);
        ck_assert_int_eq(
            store_put(t, STORE_DB_EVENTS, key, 8, val, sizeof(val), 0), 0);
    }
    /* Not past the last: refused, nothing changed, the txn usable. */
    ck_assert_int_eq(
        store_put(t, STORE_DB_AUDIT, key, 8, "x", 1, STORE_PUT_APPEND),
        ERR_EXISTS);
    be_put64(key, 7);
    ck_assert_int_eq(
        store_put(t, STORE_DB_AUDIT, key, 8, "x", 1, STORE_PUT_APPEND),
        ERR_EXISTS);
    ck_assert_int_eq(store_get(t, STORE_DB_AUDIT, key, 8, &got, &len), 0);
    ck_assert_uint_eq(len, sizeof(val));
    /* In a child transaction too, which then sees its parent's last key. */
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_WRITE, t, &c), 0);
    be_put64(key, (uint64_t)n);
    ck_assert_int_eq(
        store_put(c, STORE_DB_AUDIT, key, 8, "y", 1, STORE_PUT_APPEND), 0);
    ck_assert_int_eq(store_txn_commit(c), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    ck_assert_int_eq(store_stat(s, &st1), 0);
    ck_assert_uint_eq(st1.entries[STORE_DB_AUDIT], (uint64_t)n + 1);
    ck_assert_uint_eq(st1.entries[STORE_DB_EVENTS], (uint64_t)n);
    store_close(s);
}
END_TEST

START_TEST(test_store_bad_arguments)
{
    struct store *s = open_ok(0);
    struct store_txn *r, *w, *c, *x = NULL;
    struct store_cursor *cur = NULL;
    struct store_entry e;
    uint8_t key[STORE_KEY_MAX + 1];
    const void *v;
    size_t len;

    memset(key, 'k', sizeof(key));
    r = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_put(r, STORE_DB_META, "a", 1, "b", 1, 0),
                     ERR_INVALID);
    ck_assert_int_eq(store_del(r, STORE_DB_META, "a", 1), ERR_INVALID);
    ck_assert_int_eq(store_get(r, STORE_DB_META, key, 0, &v, &len),
                     ERR_INVALID);
    ck_assert_int_eq(
        store_get(r, STORE_DB_META, key, STORE_KEY_MAX + 1, &v, &len),
        ERR_INVALID);
    ck_assert_int_eq(store_get(r, STORE_DB_COUNT, "a", 1, &v, &len),
                     ERR_INVALID);
    /* A read txn has no children; a child must be a write txn. */
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_WRITE, r, &x), ERR_INVALID);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(
        store_cursor_open(r, STORE_DB_META, key, STORE_KEY_MAX + 1, &cur),
        ERR_INVALID);
    ck_assert_ptr_null(cur);
    ck_assert_int_eq(store_last(r, STORE_DB_META, NULL, 1, &e), ERR_INVALID);
    store_txn_abort(r);

    w = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_put(w, STORE_DB_META, key, 0, "v", 1, 0),
                     ERR_INVALID);
    ck_assert_int_eq(
        store_put(w, STORE_DB_META, key, STORE_KEY_MAX + 1, "v", 1, 0),
        ERR_INVALID);
    ck_assert_int_eq(store_put(w, STORE_DB_META, "a", 1, "v", 1, 0x80),
                     ERR_INVALID);
    /* The longest key works; refusals left the txn usable. */
    ck_assert_int_eq(
        store_put(w, STORE_DB_PERSONS, key, STORE_KEY_MAX, "v", 1, 0), 0);
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_READ, w, &x), ERR_INVALID);
    c = begin(s, STORE_TXN_WRITE, w);
    /* A parent with an open child cannot be used, nor get a second. */
    ck_assert_int_eq(
        store_get(w, STORE_DB_PERSONS, key, STORE_KEY_MAX, &v, &len),
        ERR_INVALID);
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_WRITE, w, &x), ERR_INVALID);
    ck_assert_int_eq(
        store_get(c, STORE_DB_PERSONS, key, STORE_KEY_MAX, &v, &len), 0);
    ck_assert_int_eq(store_txn_commit(c), 0);
    ck_assert_int_eq(store_txn_commit(w), 0);
    store_close(s);
}
END_TEST

/* --- cursors ----------------------------------------------------------- */

static void
put_keys(struct store *s, enum store_db db, const char *const *keys)
{
    struct store_txn *t = begin(s, STORE_TXN_WRITE, NULL);

    for (int i = 0; keys[i] != NULL; i++)
        ck_assert_int_eq(put_str(t, db, keys[i], keys[i], 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
}

START_TEST(test_store_cursor_order_and_prefix)
{
    static const char *const keys[] = {"b/2", "a",  "b/10", "c",  "b/1",
                                       "b",   "b0", "b/",   "ba", NULL};
    struct store *s = open_ok(0);
    struct store_txn *t;
    char out[256];

    put_keys(s, STORE_DB_DOCS, keys);
    t = begin(s, STORE_TXN_READ, NULL);
    /* Bytewise order: '/' (0x2f) < '0' (0x30) < 'a'; shorter first. */
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "", out, sizeof(out)), 9);
    ck_assert_str_eq(out, "a,b,b/,b/1,b/10,b/2,b0,ba,c");
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "b/", out, sizeof(out)), 4);
    ck_assert_str_eq(out, "b/,b/1,b/10,b/2");
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "b/1", out, sizeof(out)), 2);
    ck_assert_str_eq(out, "b/1,b/10");
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "b", out, sizeof(out)), 7);
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "c", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "c");
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "bb", out, sizeof(out)), 0);
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "d", out, sizeof(out)), 0);
    ck_assert_int_eq(list_keys(t, STORE_DB_DOCS, "0", out, sizeof(out)), 0);
    /* Another database is empty. */
    ck_assert_int_eq(list_keys(t, STORE_DB_CHUNKS, "", out, sizeof(out)), 0);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_store_cursor_seek)
{
    static const char *const keys[] = {"a", "b/1", "b/3", "b/5", "c", NULL};
    struct store *s = open_ok(0);
    struct store_txn *t;
    struct store_cursor *c;
    struct store_entry e;

    put_keys(s, STORE_DB_EVENTS, keys);
    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_EVENTS, "b/", 2, &c), 0);
    /* Between two keys: the next one. */
    ck_assert_int_eq(store_cursor_seek(c, "b/2", 3, &e), 0);
    ck_assert_mem_eq(e.key, "b/3", 3);
    ck_assert_uint_eq(e.val_len, 3);
    ck_assert_mem_eq(e.val, "b/3", 3);
    ck_assert_int_eq(store_cursor_next(c, &e), 0);
    ck_assert_mem_eq(e.key, "b/5", 3);
    ck_assert_int_eq(store_cursor_next(c, &e), ERR_NOTFOUND); /* not "c" */
    /* Exact key; then seeking back after the end works. */
    ck_assert_int_eq(store_cursor_seek(c, "b/1", 3, &e), 0);
    ck_assert_mem_eq(e.key, "b/1", 3);
    /* A key before the prefix means its first record, not "a". */
    ck_assert_int_eq(store_cursor_seek(c, "a", 1, &e), 0);
    ck_assert_mem_eq(e.key, "b/1", 3);
    ck_assert_int_eq(store_cursor_seek(c, NULL, 0, &e), 0);
    ck_assert_mem_eq(e.key, "b/1", 3);
    /* Past the prefix's last key, and past the prefix itself. */
    ck_assert_int_eq(store_cursor_seek(c, "b/6", 3, &e), ERR_NOTFOUND);
    ck_assert_int_eq(store_cursor_seek(c, "bz", 2, &e), ERR_NOTFOUND);
    ck_assert_int_eq(store_cursor_next(c, &e), ERR_NOTFOUND);
    store_cursor_close(c);
    store_cursor_close(NULL); /* no-op */

    /* A cursor left open is closed with its txn (no leak under ASan). */
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_EVENTS, NULL, 0, &c), 0);
    ck_assert_int_eq(store_cursor_next(c, &e), 0);
    ck_assert_mem_eq(e.key, "a", 1);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_store_cursor_del_prefix)
{
    static const char *const keys[] = {"p/0", "p/1", "p/2", "p/3", "p/4",
                                       "p",   "q",   "o/9", NULL};
    struct store *s = open_ok(0);
    struct store_txn *t;
    struct store_cursor *c;
    struct store_entry e;
    char out[256];
    int rc, seen = 0;

    put_keys(s, STORE_DB_CHUNKS, keys);
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_CHUNKS, "p/", 2, &c), 0);
    ck_assert_int_eq(store_cursor_del(c), ERR_INVALID); /* not on a record */
    /* Deleting every other record while walking: next() after a delete
     * goes to the record that followed, not the one after that. */
    while ((rc = store_cursor_next(c, &e)) == 0) {
        char k[4];

        ck_assert_uint_eq(e.key_len, 3);
        memcpy(k, e.key, 3);
        k[3] = '\0';
        ck_assert_int_eq(k[2], '0' + seen);
        if (seen % 2 == 0)
            ck_assert_int_eq(store_cursor_del(c), 0);
        seen++;
    }
    ck_assert_int_eq(rc, ERR_NOTFOUND);
    ck_assert_int_eq(seen, 5);
    store_cursor_close(c);
    ck_assert_int_eq(store_txn_commit(t), 0);

    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(list_keys(t, STORE_DB_CHUNKS, "", out, sizeof(out)), 5);
    ck_assert_str_eq(out, "o/9,p,p/1,p/3,q");
    store_txn_abort(t);

    /* Deleting the whole prefix, last record of the database included. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_CHUNKS, "p", 1, &c), 0);
    seen = 0;
    while ((rc = store_cursor_next(c, &e)) == 0) {
        ck_assert_int_eq(store_cursor_del(c), 0);
        seen++;
    }
    ck_assert_int_eq(rc, ERR_NOTFOUND);
    ck_assert_int_eq(seen, 3);
    /* The txn is left open with its cursor: commit closes it. */
    ck_assert_int_eq(store_txn_commit(t), 0);
    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(list_keys(t, STORE_DB_CHUNKS, "", out, sizeof(out)), 2);
    ck_assert_str_eq(out, "o/9,q");
    /* A read txn refuses deletes. */
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_CHUNKS, NULL, 0, &c), 0);
    ck_assert_int_eq(store_cursor_next(c, &e), 0);
    ck_assert_int_eq(store_cursor_del(c), ERR_INVALID);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

static void
be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

START_TEST(test_store_last)
{
    struct store *s = open_ok(0);
    struct store_txn *t;
    struct store_entry e;
    uint8_t key[9];

    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, NULL, 0, &e),
                     ERR_NOTFOUND); /* empty database */
    /* An audit-like sequence: one-byte prefix + big-endian counter,
     * under prefixes 'a', 'b' and 0xff. */
    for (uint64_t i = 1; i <= 300; i++) {
        key[0] = 'a';
        be64(key + 1, i);
        ck_assert_int_eq(store_put(t, STORE_DB_AUDIT, key, 9, "", 0, 0), 0);
        if (i <= 5) {
            key[0] = 0xff;
            ck_assert_int_eq(store_put(t, STORE_DB_AUDIT, key, 9, "", 0, 0), 0);
        }
    }
    key[0] = 'b';
    be64(key + 1, 7);
    ck_assert_int_eq(store_put(t, STORE_DB_AUDIT, key, 9, "b7", 2, 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);

    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "a", 1, &e), 0);
    key[0] = 'a';
    be64(key + 1, 300);
    ck_assert_uint_eq(e.key_len, 9);
    ck_assert_mem_eq(e.key, key, 9);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "b", 1, &e), 0);
    ck_assert_uint_eq(e.val_len, 2);
    ck_assert_mem_eq(e.val, "b7", 2);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "c", 1, &e), ERR_NOTFOUND);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "0", 1, &e), ERR_NOTFOUND);
    /* A prefix of 0xff bytes has no upper bound: the database's end. */
    key[0] = 0xff;
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "\xff", 1, &e), 0);
    be64(key + 1, 5);
    ck_assert_mem_eq(e.key, key, 9);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, NULL, 0, &e), 0);
    ck_assert_mem_eq(e.key, key, 9);
    /* A prefix ending in 0xff: "a" 00 .. 00 01 ff matches nothing... */
    ck_assert_int_eq(
        store_last(t, STORE_DB_AUDIT, "a\0\0\0\0\0\0\1\xff", 9, &e),
        ERR_NOTFOUND);
    /* ...and "a" 00 00 00 00 00 00 01 is the prefix of 256..300. */
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "a\0\0\0\0\0\0\1", 8, &e),
                     0);
    key[0] = 'a';
    be64(key + 1, 300);
    ck_assert_mem_eq(e.key, key, 9);
    ck_assert_int_eq(store_last(t, STORE_DB_AUDIT, "a\0\0\0\0\0\0\0", 8, &e),
                     0);
    be64(key + 1, 255);
    ck_assert_mem_eq(e.key, key, 9);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

/* --- transactions ------------------------------------------------------ */

START_TEST(test_store_nested_abort_keeps_parent)
{
    struct store *s = open_ok(0);
    struct store_txn *p, *c, *g;

    p = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(p, STORE_DB_FACTS, "a", "parent", 0), 0);

    /* A child that overwrites, adds and deletes, then aborts. */
    c = begin(s, STORE_TXN_WRITE, p);
    expect(c, STORE_DB_FACTS, "a", "parent"); /* sees the parent */
    ck_assert_int_eq(put_str(c, STORE_DB_FACTS, "a", "child", 0), 0);
    ck_assert_int_eq(put_str(c, STORE_DB_FACTS, "b", "child", 0), 0);
    expect(c, STORE_DB_FACTS, "a", "child");
    store_txn_abort(c);
    expect(p, STORE_DB_FACTS, "a", "parent");
    expect(p, STORE_DB_FACTS, "b", NULL);

    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(store_del(c, STORE_DB_FACTS, "a", 1), 0);
    store_txn_abort(c);
    expect(p, STORE_DB_FACTS, "a", "parent");

    /* A child that commits; its own child aborts. */
    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(put_str(c, STORE_DB_FACTS, "c", "kept", 0), 0);
    g = begin(s, STORE_TXN_WRITE, c);
    ck_assert_int_eq(put_str(g, STORE_DB_FACTS, "d", "grandchild", 0), 0);
    store_txn_abort(g);
    ck_assert_int_eq(store_txn_commit(c), 0);
    expect(p, STORE_DB_FACTS, "c", "kept");
    expect(p, STORE_DB_FACTS, "d", NULL);

    /* Nothing is visible outside before the parent commits. */
    expect_committed(s, STORE_DB_FACTS, "a", NULL);
    ck_assert_int_eq(store_txn_commit(p), 0);
    expect_committed(s, STORE_DB_FACTS, "a", "parent");
    expect_committed(s, STORE_DB_FACTS, "b", NULL);
    expect_committed(s, STORE_DB_FACTS, "c", "kept");
    expect_committed(s, STORE_DB_FACTS, "d", NULL);

    /* Aborting a parent drops what its committed children wrote, and
     * ends a child still open (no leak under ASan). */
    p = begin(s, STORE_TXN_WRITE, NULL);
    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(put_str(c, STORE_DB_FACTS, "e", "gone", 0), 0);
    ck_assert_int_eq(store_txn_commit(c), 0);
    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(put_str(c, STORE_DB_FACTS, "f", "gone", 0), 0);
    store_txn_abort(p);
    expect_committed(s, STORE_DB_FACTS, "e", NULL);
    expect_committed(s, STORE_DB_FACTS, "f", NULL);
    store_close(s);
}
END_TEST

struct reader_arg {
    struct store_txn *t;
    int rc;
    char val[16];
};

static void *
reader_thread(void *p)
{
    struct reader_arg *a = p;
    const void *v;
    size_t len;

    a->rc = store_get(a->t, STORE_DB_PERSONS, "k", 1, &v, &len);
    if (a->rc == 0 && len < sizeof(a->val))
        memcpy(a->val, v, len);
    return NULL;
}

START_TEST(test_store_snapshot_and_threads)
{
    struct store *s = open_ok(0);
    struct store_txn *old, *w, *t;
    struct reader_arg a = {0};
    pthread_t th;

    w = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(w, STORE_DB_PERSONS, "k", "v1", 0), 0);
    ck_assert_int_eq(store_txn_commit(w), 0);

    old = begin(s, STORE_TXN_READ, NULL);
    w = begin(s, STORE_TXN_WRITE, NULL); /* same thread: MDB_NOTLS */
    ck_assert_int_eq(put_str(w, STORE_DB_PERSONS, "k", "v2", 0), 0);
    ck_assert_int_eq(store_txn_commit(w), 0);
    expect(old, STORE_DB_PERSONS, "k", "v1"); /* its snapshot */
    expect_committed(s, STORE_DB_PERSONS, "k", "v2");

    /* A read txn begun here is used on another thread, then ended here. */
    t = begin(s, STORE_TXN_READ, NULL);
    a.t = t;
    ck_assert_int_eq(pthread_create(&th, NULL, reader_thread, &a), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_str_eq(a.val, "v2");
    ck_assert_int_eq(store_txn_commit(t), 0); /* ends a read txn */
    /* The old snapshot, handed over too. */
    a.t = old;
    memset(a.val, 0, sizeof(a.val));
    ck_assert_int_eq(pthread_create(&th, NULL, reader_thread, &a), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_str_eq(a.val, "v1");
    store_txn_abort(old);
    store_close(s);
}
END_TEST

/* Ended read txns are kept reset and renewed by later begins: a renewed
 * one sees every commit made before its begin, cursors left open are
 * closed first, and the kept ones hold no snapshot (pages that later
 * commits free are reused, so the file does not grow). */
START_TEST(test_store_reused_reads)
{
    struct store *s = open_ok(0);
    struct store_txn *w, *r[STORE_IDLE_READS + 2];
    struct store_cursor *c = NULL;
    struct store_stat st;
    uint64_t high;
    char val[3000], want[16];

    memset(val, 'a', sizeof(val));
    w = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_put(w, STORE_DB_PERSONS, "k", 1, val, sizeof(val),
                               0),
                     0);
    ck_assert_int_eq(put_str(w, STORE_DB_PERSONS, "n", "0", 0), 0);
    ck_assert_int_eq(store_txn_commit(w), 0);
    /* More at once than are kept: the rest are freed. */
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        r[i] = begin(s, STORE_TXN_READ, NULL);
        expect(r[i], STORE_DB_PERSONS, "n", "0");
    }
    ck_assert_int_eq(store_cursor_open(r[0], STORE_DB_PERSONS, NULL, 0, &c),
                     0);
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        if (i % 2 == 0)
            store_txn_abort(r[i]);
        else
            ck_assert_int_eq(store_txn_commit(r[i]), 0);
    }
    ck_assert_int_eq(store_stat(s, &st), 0);
    high = st.high_water;
    for (int i = 1; i <= 300; i++) {
        val[0] = (char)('a' + i % 26);
        snprintf(want, sizeof(want), "%d", i);
        w = begin(s, STORE_TXN_WRITE, NULL);
        ck_assert_int_eq(store_put(w, STORE_DB_PERSONS, "k", 1, val,
                                   sizeof(val), 0),
                         0);
        ck_assert_int_eq(put_str(w, STORE_DB_PERSONS, "n", want, 0), 0);
        ck_assert_int_eq(store_txn_commit(w), 0);
        /* Each read renews a kept txn: the commit just made is seen. */
        expect_committed(s, STORE_DB_PERSONS, "n", want);
    }
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_msg(st.high_water - high < 64 * (uint64_t)st.page_size,
                  "the file grew by %llu pages: a kept read pins pages",
                  (unsigned long long)((st.high_water - high) / st.page_size));
    store_close(s);
}
END_TEST

START_TEST(test_store_fault_commit)
{
    struct store *s = open_ok(0);
    struct store_txn *p, *c;

    /* Injected on the top-level commit only; a child commits as usual. */
    store__fault_commit(s, -EIO);
    p = begin(s, STORE_TXN_WRITE, NULL);
    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(put_str(c, STORE_DB_PERSONS, "x", "1", 0), 0);
    ck_assert_int_eq(store_txn_commit(c), 0);
    ck_assert_int_eq(store_txn_commit(p), -EIO);
    expect_committed(s, STORE_DB_PERSONS, "x", NULL);
    /* After an I/O error no write transaction is taken any more (no
     * retried sync); reads go on. */
    ck_assert(store_io_failed(s));
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_WRITE, NULL, &p), -EIO);
    expect_committed(s, STORE_DB_PERSONS, "x", NULL);
    store_close(s);
    /* The injection fires once: a full store is not such an error. */
    s = open_ok(0);
    store__fault_commit(s, ERR_FULL);
    p = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(p, STORE_DB_PERSONS, "x", "1", 0), 0);
    ck_assert_int_eq(store_txn_commit(p), ERR_FULL);
    ck_assert(!store_io_failed(s));
    p = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(p, STORE_DB_PERSONS, "x", "2", 0), 0);
    ck_assert_int_eq(store_txn_commit(p), 0);
    expect_committed(s, STORE_DB_PERSONS, "x", "2");
    store_close(s);
}
END_TEST

START_TEST(test_store_stat_counts)
{
    struct store *s = open_ok(4u << 20);
    struct store_txn *t;
    struct store_stat st, st2;
    char key[16];
    static char val[2000];

    t = begin(s, STORE_TXN_WRITE, NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        ck_assert_int_eq(store_put(t, STORE_DB_CHUNKS, key, strlen(key), val,
                                   sizeof(val), 0),
                         0);
    }
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "p", "x", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_eq(st.map_size, 4u << 20);
    ck_assert_uint_eq(st.page_size, (uint32_t)sysconf(_SC_PAGESIZE));
    ck_assert_uint_eq(st.entries[STORE_DB_CHUNKS], 100);
    ck_assert_uint_eq(st.entries[STORE_DB_PERSONS], 1);
    ck_assert_uint_eq(st.entries[STORE_DB_META], 1);
    ck_assert_uint_ge(st.used_bytes, 100 * sizeof(val));
    ck_assert_uint_le(st.high_water, st.map_size);
    ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.high_water);
    ck_assert_uint_eq(st.max_readers, STORE_MAX_READERS);
    ck_assert_uint_ge(st.last_txn, 2);

    /* Deleting frees pages (onto the free list) and lowers used bytes. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        ck_assert_int_eq(store_del(t, STORE_DB_CHUNKS, key, strlen(key)), 0);
    }
    ck_assert_int_eq(store_txn_commit(t), 0);
    ck_assert_int_eq(store_stat(s, &st2), 0);
    ck_assert_uint_eq(st2.entries[STORE_DB_CHUNKS], 0);
    ck_assert_uint_gt(st2.free_bytes, st.free_bytes);
    ck_assert_uint_lt(st2.used_bytes, st.used_bytes);
    ck_assert_uint_eq(st2.last_txn, st.last_txn + 1);
    store_close(s);
}
END_TEST

/* --- a full map -------------------------------------------------------- */

#define TINY_MAP (1u << 20)

/* Puts |per_txn| values of |vlen| bytes per txn, keys "f<n>", until a
 * put or a commit fails with ERR_FULL.  Returns how many records were
 * committed; the txn that failed is aborted. */
static int
fill(struct store *s, int per_txn, size_t vlen)
{
    static char val[4096];
    struct store_txn *t;
    char key[16];
    int n = 0, rc = 0;

    ck_assert_uint_le(vlen, sizeof(val));
    for (int round = 0; round < 10000 && rc == 0; round++) {
        int i;

        t = begin(s, STORE_TXN_WRITE, NULL);
        for (i = 0; i < per_txn && rc == 0; i++) {
            snprintf(key, sizeof(key), "f%06d", n + i);
            rc = store_put(t, STORE_DB_CHUNKS, key, strlen(key), val, vlen, 0);
        }
        if (rc != 0) {
            store_txn_abort(t);
            break;
        }
        rc = store_txn_commit(t);
        if (rc == 0)
            n += per_txn;
    }
    ck_assert_int_eq(rc, ERR_FULL);
    return n;
}

static int
count(struct store *s, enum store_db db, const char *prefix)
{
    struct store_txn *t = begin(s, STORE_TXN_READ, NULL);
    struct store_cursor *c;
    struct store_entry e;
    int n = 0, rc;

    ck_assert_int_eq(store_cursor_open(t, db, prefix, strlen(prefix), &c), 0);
    while ((rc = store_cursor_next(c, &e)) == 0)
        n++;
    ck_assert_int_eq(rc, ERR_NOTFOUND);
    store_txn_abort(t);
    return n;
}

/* The data file's size, and (|zeros| not NULL) whether its bytes from
 * |from| on are all zeros. */
static uint64_t
data_file_size(uint64_t from, bool *zeros)
{
    char path[200];
    struct stat sb;
    FILE *f;
    int c;

    snprintf(path, sizeof(path), "%s/data.mdb", data);
    ck_assert_int_eq(stat(path, &sb), 0);
    if (zeros == NULL)
        return (uint64_t)sb.st_size;
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseeko(f, (off_t)from, SEEK_SET), 0);
    *zeros = true;
    while ((c = fgetc(f)) != EOF)
        if (c != 0)
            *zeros = false;
    fclose(f);
    return (uint64_t)sb.st_size;
}

/* The data file is kept written past its last page (STORE_TAIL_AHEAD), so
 * that a commit's new pages overwrite and its sync needs no journal commit
 * for a new size; the tail is zeros, never reaches past the map, and a
 * reopened store reads everything back. */
START_TEST(test_store_tail_written_ahead)
{
    struct store *s = open_ok(0);
    struct store_txn *t;
    struct store_stat st;
    static char val[3000];
    char key[16];
    uint64_t size, last_size = 0;
    bool zeros;
    int grew = 0;

    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(store_stat(s, &st), 0);
        t = begin(s, STORE_TXN_WRITE, NULL);
        /* Written ahead of the last page when the write txn begins. */
        zeros = true;
        size = data_file_size(st.high_water, i % 50 == 0 ? &zeros : NULL);
        ck_assert_msg(size >= st.high_water + STORE_TAIL_AHEAD,
                      "txn %d: file of %llu bytes, last page ends at %llu",
                      i, (unsigned long long)size,
                      (unsigned long long)st.high_water);
        ck_assert_msg(zeros, "txn %d: the tail is not zeros", i);
        snprintf(key, sizeof(key), "k%05d", i);
        ck_assert_int_eq(
            store_put(t, STORE_DB_AUDIT, key, strlen(key), val, sizeof(val), 0),
            0);
        ck_assert_int_eq(store_txn_commit(t), 0);
        if (size > last_size && last_size != 0)
            grew++;
        last_size = size;
    }
    /* 1.2 MB put: the tail moved ahead of the pages a step at a time. */
    ck_assert_int_ge(grew, 3);
    store_close(s);

    s = open_ok(0);
    t = begin(s, STORE_TXN_READ, NULL);
    for (int i = 0; i < 400; i += 57) {
        const void *v;
        size_t len;

        snprintf(key, sizeof(key), "k%05d", i);
        ck_assert_int_eq(store_get(t, STORE_DB_AUDIT, key, strlen(key), &v,
                                   &len),
                         0);
        ck_assert_uint_eq(len, sizeof(val));
        ck_assert_mem_eq(v, val, len);
    }
    store_txn_abort(t);
    store_close(s);
}
END_TEST

/* A map smaller than the tail: the file stops at the map's size. */
START_TEST(test_store_tail_stops_at_map)
{
    struct store *s = open_ok(TINY_MAP);
    struct store_stat st;
    bool zeros;

    fill(s, 1, 1000);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_le(data_file_size(st.high_water, &zeros), TINY_MAP);
    ck_assert(zeros);
    store_close(s);
}
END_TEST

START_TEST(test_store_map_full_then_recovers)
{
    struct store *s = open_ok(TINY_MAP);
    struct store_txn *t;
    struct store_stat st;
    const void *v;
    size_t len;
    char key[16];
    static char val[1000];
    int n;

    n = fill(s, 20, 1000);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_eq(st.map_size, TINY_MAP);
    /* The reserve: 64 pages (a quarter of this tiny map) kept free. */
    ck_assert_uint_eq(st.reserve_bytes, 64 * st.page_size);
    ck_assert(st.puts_refused);
    ck_assert_uint_gt(st.used_bytes, TINY_MAP - st.reserve_bytes);
    ck_assert_uint_le(st.high_water, TINY_MAP);
    /* 1000-byte values, 4 to a page: most of the rest was used. */
    ck_assert_int_gt(n, 400);
    ck_assert_uint_eq(st.entries[STORE_DB_CHUNKS], (uint64_t)n);

    /* Reads still work, and see exactly what was committed. */
    ck_assert_int_eq(count(s, STORE_DB_CHUNKS, "f"), n);
    t = begin(s, STORE_TXN_READ, NULL);
    ck_assert_int_eq(store_get(t, STORE_DB_META, STORE_FORMAT_KEY,
                               strlen(STORE_FORMAT_KEY), &v, &len),
                     0);
    ck_assert_mem_eq(v, "\0\0\0\2", 4);
    snprintf(key, sizeof(key), "f%06d", n - 1);
    ck_assert_int_eq(store_get(t, STORE_DB_CHUNKS, key, strlen(key), &v, &len),
                     0);
    ck_assert_uint_eq(len, 1000);
    snprintf(key, sizeof(key), "f%06d", n);
    ck_assert_int_eq(store_get(t, STORE_DB_CHUNKS, key, strlen(key), &v, &len),
                     ERR_NOTFOUND);
    store_txn_abort(t);

    /* A put is refused, even a small one, and the refusal leaves the
     * txn usable. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "small", "x", 0), ERR_FULL);
    expect(t, STORE_DB_PERSONS, "small", NULL);
    ck_assert_int_eq(store_txn_commit(t), 0);

    /* A txn that deletes may write its bookkeeping record. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(store_del(t, STORE_DB_CHUNKS, "f000000", 7), 0);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "erased", "f000000", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    expect_committed(s, STORE_DB_PERSONS, "erased", "f000000");

    /* Deleting half the data in one txn commits (in a map used to its
     * last page LMDB would fail it with MDB_MAP_FULL: copy-on-write needs
     * pages to delete), and writes work again. */
    t = begin(s, STORE_TXN_WRITE, NULL);
    for (int i = 1; i < n / 2; i++) {
        snprintf(key, sizeof(key), "f%06d", i);
        ck_assert_int_eq(store_del(t, STORE_DB_CHUNKS, key, strlen(key)), 0);
    }
    ck_assert_int_eq(store_txn_commit(t), 0);
    ck_assert_int_eq(count(s, STORE_DB_CHUNKS, "f"), n - n / 2);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert(!st.puts_refused);
    t = begin(s, STORE_TXN_WRITE, NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "g%06d", i);
        ck_assert_int_eq(store_put(t, STORE_DB_CHUNKS, key, strlen(key), val,
                                   sizeof(val), 0),
                         0);
    }
    ck_assert_int_eq(store_txn_commit(t), 0);
    ck_assert_int_eq(count(s, STORE_DB_CHUNKS, "g"), 100);
    store_close(s);

    /* A larger map on reopen lifts the limit; the data is intact. */
    s = open_ok(4 * TINY_MAP);
    ck_assert_int_eq(store_stat(s, &st), 0);
    ck_assert_uint_eq(st.map_size, 4 * TINY_MAP);
    ck_assert(!st.puts_refused);
    ck_assert_int_eq(count(s, STORE_DB_CHUNKS, "f"), n - n / 2);
    store_close(s);
}
END_TEST

START_TEST(test_store_full_child_leaves_parent_usable)
{
    struct store *s = open_ok(TINY_MAP);
    struct store_txn *p, *c;
    static char big[4096];
    char key[16];
    int rc = 0, i;

    p = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(p, STORE_DB_PERSONS, "before", "1", 0), 0);
    /* A child fills the map and fails... */
    c = begin(s, STORE_TXN_WRITE, p);
    for (i = 0; i < 1000 && rc == 0; i++) {
        snprintf(key, sizeof(key), "c%06d", i);
        rc = store_put(c, STORE_DB_CHUNKS, key, strlen(key), big, sizeof(big),
                       0);
    }
    ck_assert_int_eq(rc, ERR_FULL);
    ck_assert_int_gt(i, 100);
    /* ...committing it aborts it and reports the error, and the parent
     * is not marked failed for it (LMDB would mark it if the failed
     * child were committed: store.c aborts it instead). */
    ck_assert_int_eq(store_txn_commit(c), ERR_FULL);
    expect(p, STORE_DB_PERSONS, "before", "1");
    expect(p, STORE_DB_CHUNKS, "c000000", NULL);
    /* The pages the child took are given back: the parent writes on. */
    c = begin(s, STORE_TXN_WRITE, p);
    ck_assert_int_eq(put_str(c, STORE_DB_PERSONS, "after", "2", 0), 0);
    ck_assert_int_eq(store_txn_commit(c), 0);
    ck_assert_int_eq(store_txn_commit(p), 0);
    expect_committed(s, STORE_DB_PERSONS, "before", "1");
    expect_committed(s, STORE_DB_PERSONS, "after", "2");
    ck_assert_int_eq(count(s, STORE_DB_CHUNKS, ""), 0);
    store_close(s);
}
END_TEST

/* --- backups ------------------------------------------------------------ */

START_TEST(test_store_backup_and_readonly_copy)
{
    struct store *s = open_ok(0), *c = NULL, *live = NULL;
    struct store_txn *t, *w = NULL;
    char copy[200], lock[240];
    struct stat st;

    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "alice", "one", 0), 0);
    ck_assert_int_eq(put_str(t, STORE_DB_DOCS, "doc", "content", 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);

    /* A read transaction of the live store is a snapshot: a write made
     * while the copy runs is not in it, nor does it block the copy. */
    snprintf(copy, sizeof(copy), "%s/copy", dir);
    ck_assert_int_eq(mkdir(copy, 0700), 0);
    t = begin(s, STORE_TXN_WRITE, NULL);
    ck_assert_int_eq(put_str(t, STORE_DB_PERSONS, "bob", "later", 0), 0);
    ck_assert_int_eq(store_backup(s, copy), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    /* A second copy into the same place is refused. */
    ck_assert_int_eq(store_backup(s, copy), ERR_EXISTS);

    /* The copy opens read-only, without a lock file, and holds what was
     * committed before the copy began. */
    ck_assert_int_eq(store_open_readonly(copy, true, &c), 0);
    snprintf(lock, sizeof(lock), "%s/lock.mdb", copy);
    ck_assert_int_ne(stat(lock, &st), 0);
    expect_committed(c, STORE_DB_PERSONS, "alice", "one");
    expect_committed(c, STORE_DB_DOCS, "doc", "content");
    expect_committed(c, STORE_DB_PERSONS, "bob", NULL);
    ck_assert_int_eq(store_txn_begin(c, STORE_TXN_WRITE, NULL, &w), -EROFS);
    ck_assert_ptr_null(w);
    store_close(c);

    /* The live store opened read-only from "another process" sees the
     * latest commits through the shared lock file. */
    ck_assert_int_eq(store_open_readonly(data, false, &live), 0);
    expect_committed(live, STORE_DB_PERSONS, "bob", "later");
    store_close(live);
    store_close(s);

    /* No store there: refused, nothing created. */
    ck_assert_int_eq(store_open_readonly(dir, true, &c), -ENOENT);
    ck_assert_ptr_null(c);
}
END_TEST

Suite *
suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("open");

    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_store_open_creates_dir_and_format);
    tcase_add_test(tc, test_store_db_names);
    tcase_add_test(tc, test_store_open_refuses_non_directory);
    tcase_add_test(tc, test_store_format_version_checked);
    tcase_add_test(tc, test_store_netfs_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("records");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_store_put_get_del);
    tcase_add_test(tc, test_store_nooverwrite);
    tcase_add_test(tc, test_store_append);
    tcase_add_test(tc, test_store_bad_arguments);
    tcase_add_test(tc, test_store_cursor_order_and_prefix);
    tcase_add_test(tc, test_store_cursor_seek);
    tcase_add_test(tc, test_store_cursor_del_prefix);
    tcase_add_test(tc, test_store_last);
    suite_add_tcase(s, tc);

    tc = tcase_create("txns");
    tcase_set_timeout(tc, 60); /* fsyncs, and valgrind */
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, test_store_nested_abort_keeps_parent);
    tcase_add_test(tc, test_store_snapshot_and_threads);
    tcase_add_test(tc, test_store_reused_reads);
    tcase_add_test(tc, test_store_fault_commit);
    tcase_add_test(tc, test_store_stat_counts);
    tcase_add_test(tc, test_store_tail_written_ahead);
    tcase_add_test(tc, test_store_tail_stops_at_map);
    tcase_add_test(tc, test_store_map_full_then_recovers);
    tcase_add_test(tc, test_store_full_child_leaves_parent_usable);
    tcase_add_test(tc, test_store_backup_and_readonly_copy);
    suite_add_tcase(s, tc);
    return s;
}
