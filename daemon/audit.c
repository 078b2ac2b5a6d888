/*
 * audit.c -- the tamper-evident access log (see audit.h).
 *
 * Layout in the store (proto/internal/audit.proto): AUDIT[index] holds the
 * entry and its leaf hash, AUDIT_TREE[last leaf | level] the hash of every
 * complete subtree, META["audit.size"] the number of entries.  An append
 * writes the leaf at level 0 and, while the new leaf closes a subtree
 * (while its index, shifted right by the level, is odd), the parent made
 * of that subtree and the one on its left: on average two node writes per
 * entry, at most 64.  Every root and proof then needs only the O(log n)
 * complete subtrees merkle.c asks for.
 *
 * Both are keyed so that an append only adds keys past the last one
 * (STORE_PUT_APPEND): the entry by its index, a subtree by the index of
 * the last leaf it covers, which is the leaf that completed it, then by
 * its level.  A commit then dirties the last pages of the two trees, not
 * a page for each level of the Merkle tree (store format 1 keyed the
 * subtrees by level first: 42 pages per commit of 29 fetches, against
 * 12, and the sync's time grows with the pages).
 *
 * The store is trusted to be the store, not to be honest: each entry read
 * is checked against its leaf hash, a missing subtree is ERR_CORRUPT, and
 * audit_open compares the log with the last checkpoint handed out, which
 * lives in a file outside the store (see "rollback" in audit.h).
 *
 * This file owns the audit signing key: OpenSSL's Ed25519 calls and their
 * errors stay here (keyring.h leaves the audit key out on purpose).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "be.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "internal/audit.pb-c.h"
#include "log.h"
#include "store.h"
#include "tls.h"

#define META_SIZE "audit.size"
#define META_PURGED "audit.purged"
#define NODE_KEY_LEN 9
#define CHECKPOINT_MAGIC "dossierd checkpoint v1\n"
#define CHECKPOINT_FILE_MAX 1024
#define KEY_HINT "run dossier-admin init-dev (development) or install one"

typedef Dossier__V1__AuditEntry AuditEntry;
typedef Dossier__Internal__AuditRecord AuditRecord;

struct audit {
    struct store *store;
    struct writer *writer;
    EVP_PKEY *key; /* Ed25519 private key */
    uint8_t key_id[AUDIT_KEY_ID_LEN];
    char *cp_path;       /* the checkpoint file, or NULL */
    uv_mutex_t cp_lock;  /* over the file and |remembered| */
    uint64_t remembered; /* tree size in the checkpoint file */
    bool cp_exists;      /* ...if that file exists */
    int64_t now_ms;      /* tests: a fixed clock, 0: the real one */
};

#define NFIELDS 10 /* the strings of struct audit_entry */

/* The strings of |e| in AuditEntry field order, NULL read as "". */
static void
entry_fields(const struct audit_entry *e, const char *f[NFIELDS])
{
    const char *const v[NFIELDS] = {
        e->principal, e->on_behalf_of, e->action,       e->dossier_id,
        e->object_id, e->basis,        e->purpose_code, e->case_reference,
        e->outcome,   e->reason,
    };

    for (size_t i = 0; i < NFIELDS; i++)
        f[i] = v[i] != NULL ? v[i] : "";
}

/* --- small helpers ------------------------------------------------------ */

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int64_t
audit_now(const struct audit *a)
{
    struct timespec ts;

    if (a->now_ms != 0)
        return a->now_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True if the |n| bytes at |s| are well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing past U+10FFFF): proto3 strings must be, or the
 * auditors' clients fail to parse the entries. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], need, min, cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, min = 0x80, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, min = 0x800, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, min = 0x10000, cp = c & 0x07;
        else
            return false;
        if (n - i <= need)
            return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/* Fills |f| with |e|'s strings and checks what audit_append refuses.
 * Not logged: a bad entry is the calling service's bug. */
static int
entry_check(const struct audit_entry *e, const char *f[NFIELDS])
{
    entry_fields(e, f);
    if (f[0][0] == '\0' || f[2][0] == '\0' ||
        (strcmp(f[8], AUDIT_GRANTED) != 0 && strcmp(f[8], AUDIT_DENIED) != 0 &&
         strcmp(f[8], AUDIT_ERROR) != 0))
        return ERR_INVALID;
    for (size_t i = 0; i < NFIELDS; i++) {
        size_t n = strnlen(f[i], AUDIT_FIELD_MAX + 1);

        if (n > AUDIT_FIELD_MAX || !utf8_valid((const unsigned char *)f[i], n))
            return ERR_INVALID;
    }
    return 0;
}

/* --- records ------------------------------------------------------------ */

/* META[|key|] as a big-endian u64 into |*v|; a missing record reads 0. */
static int
meta_get(struct store_txn *txn, const char *key, uint64_t *v)
{
    const void *val;
    size_t len;
    int rc;

    *v = 0;
    rc = store_get(txn, STORE_DB_META, key, strlen(key), &val, &len);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (len != 8) {
        log_warnx("audit log: malformed record meta=%s len=%zu", key, len);
        return ERR_CORRUPT;
    }
    *v = be_get64(val);
    return 0;
}

static int
meta_put(struct store_txn *txn, const char *key, uint64_t v)
{
    uint8_t b[8];

    be_put64(b, v);
    return store_put(txn, STORE_DB_META, key, strlen(key), b, sizeof(b),
                     STORE_PUT_RESERVE);
}

/* The key of subtree |index| of |level| (its leaves: index << level up to
 * ((index + 1) << level) - 1).  Callers ask only for subtrees of a log
 * whose size fits in a u64, whose last leaf therefore does too. */
static void
node_key(uint8_t key[NODE_KEY_LEN], unsigned level, uint64_t index)
{
    be_put64(key, ((index + 1) << level) - 1);
    key[8] = (uint8_t)level;
}

/* The key of that subtree in a store of format 1, which a read-only open
 * (a backup made before format 2) still reads: level, then index. */
static void
node_key_format1(uint8_t key[NODE_KEY_LEN], unsigned level, uint64_t index)
{
    key[0] = (uint8_t)level;
    be_put64(key + 1, index);
}

/* merkle_node_fn over AUDIT_TREE; |arg| is the transaction. */
static int
node_get(void *arg, unsigned level, uint64_t index,
         uint8_t out[MERKLE_HASH_LEN])
{
    uint8_t key[NODE_KEY_LEN];
    const void *val;
    size_t len;
    int rc;

    if (store_txn_format(arg) == 1)
        node_key_format1(key, level, index);
    else
        node_key(key, level, index);
    rc = store_get(arg, STORE_DB_AUDIT_TREE, key, sizeof(key), &val, &len);
    if (rc == 0 && len != MERKLE_HASH_LEN)
        rc = ERR_CORRUPT;
    if (rc == ERR_NOTFOUND)
        rc = ERR_CORRUPT;
    if (rc == ERR_CORRUPT)
        log_warnx("audit log: subtree hash missing or malformed level=%u "
                  "index=%llu",
                  level, (unsigned long long)index);
    if (rc != 0)
        return rc;
    memcpy(out, val, MERKLE_HASH_LEN);
    return 0;
}

static int
node_put(struct store_txn *txn, unsigned level, uint64_t index,
         const uint8_t h[MERKLE_HASH_LEN])
{
    uint8_t key[NODE_KEY_LEN];

    int rc;

    node_key(key, level, index);
    rc = store_put(txn, STORE_DB_AUDIT_TREE, key, sizeof(key), h,
                   MERKLE_HASH_LEN, STORE_PUT_RESERVE | STORE_PUT_APPEND);
    if (rc == ERR_EXISTS) {
        log_warnx("audit log: a subtree hash is stored past the log's end "
                  "level=%u index=%llu",
                  level, (unsigned long long)index);
        rc = ERR_CORRUPT;
    }
    return rc;
}

/* Decodes the record of |index| (stored as |val|, |len|) into |*out|,
 * which the caller frees.  Returns 0, ERR_CORRUPT (logged) or -ENOMEM. */
static int
record_decode(uint64_t index, const void *val, size_t len, AuditRecord **out)
{
    AuditRecord *r = dossier__internal__audit_record__unpack(NULL, len, val);

    *out = NULL;
    if (r == NULL || r->leaf_hash.len != MERKLE_HASH_LEN) {
        dossier__internal__audit_record__free_unpacked(r, NULL);
        log_warnx("audit log: malformed record index=%llu",
                  (unsigned long long)index);
        return ERR_CORRUPT;
    }
    *out = r;
    return 0;
}

/* Reads and decodes record |index|.  Returns as record_decode, or
 * ERR_NOTFOUND, or a store error. */
static int
record_get(struct store_txn *txn, uint64_t index, AuditRecord **out)
{
    uint8_t key[8];
    const void *val;
    size_t len;
    int rc;

    *out = NULL;
    be_put64(key, index);
    if ((rc = store_get(txn, STORE_DB_AUDIT, key, sizeof(key), &val, &len)) !=
        0)
        return rc;
    return record_decode(index, val, len, out);
}

/* The entry of record |r| (of |index|), checked against its leaf hash.
 * Returns 0, ERR_EXPIRED (purged), ERR_CORRUPT (logged) or -ENOMEM. */
static int
record_entry(const AuditRecord *r, uint64_t index, AuditEntry **out)
{
    uint8_t h[MERKLE_HASH_LEN];
    AuditEntry *e;
    int rc;

    *out = NULL;
    if (r->purged_unix_ms != 0 || r->entry.len == 0)
        return ERR_EXPIRED;
    if ((rc = merkle_leaf_hash(r->entry.data, r->entry.len, h)) != 0)
        return rc;
    if (!crypto_equal(h, r->leaf_hash.data, MERKLE_HASH_LEN) ||
        (e = dossier__v1__audit_entry__unpack(NULL, r->entry.len,
                                              r->entry.data)) == NULL) {
        log_warnx("audit log: entry does not match its leaf hash index=%llu",
                  (unsigned long long)index);
        return ERR_CORRUPT;
    }
    if (e->index != index) {
        dossier__v1__audit_entry__free_unpacked(e, NULL);
        log_warnx("audit log: entry stored under another index index=%llu",
                  (unsigned long long)index);
        return ERR_CORRUPT;
    }
    *out = e;
    return 0;
}

/* --- reading the tree ---------------------------------------------------- */

int
audit_size(struct audit *a, struct store_txn *txn, uint64_t *size)
{
    return meta_get(txn, META_SIZE, size);
}

/* Fails with ERR_INVALID unless |size| <= the log's size. */
static int
size_check(struct store_txn *txn, uint64_t size)
{
    uint64_t n;
    int rc;

    if ((rc = meta_get(txn, META_SIZE, &n)) != 0)
        return rc;
    return size <= n ? 0 : ERR_INVALID;
}

int
audit_root(struct audit *a, struct store_txn *txn, uint64_t size,
           uint8_t out[MERKLE_HASH_LEN])
{
    int rc;

    if ((rc = size_check(txn, size)) != 0)
        return rc;
    return merkle_root(node_get, txn, size, out);
}

int
audit_inclusion_proof(struct audit *a, struct store_txn *txn, uint64_t index,
                      uint64_t size, uint8_t path[][MERKLE_HASH_LEN],
                      size_t *len, uint8_t leaf[MERKLE_HASH_LEN])
{
    int rc;

    *len = 0;
    if (index >= size)
        return ERR_INVALID;
    if ((rc = size_check(txn, size)) != 0 ||
        (leaf != NULL && (rc = node_get(txn, 0, index, leaf)) != 0))
        return rc;
    return merkle_inclusion_proof(node_get, txn, index, size, path, len);
}

int
audit_consistency_proof(struct audit *a, struct store_txn *txn,
                        uint64_t old_size, uint64_t new_size,
                        uint8_t path[][MERKLE_HASH_LEN], size_t *len)
{
    int rc;

    *len = 0;
    if (old_size == 0 || old_size > new_size)
        return ERR_INVALID;
    if ((rc = size_check(txn, new_size)) != 0)
        return rc;
    return merkle_consistency_proof(node_get, txn, old_size, new_size, path,
                                    len);
}

/* --- appending ----------------------------------------------------------- */

int
audit_append(struct audit *a, struct store_txn *txn,
             const struct audit_entry *e, uint64_t *index)
{
    AuditEntry msg = DOSSIER__V1__AUDIT_ENTRY__INIT;
    AuditRecord rec = DOSSIER__INTERNAL__AUDIT_RECORD__INIT;
    uint8_t leaf[MERKLE_HASH_LEN], left[MERKLE_HASH_LEN], key[8];
    uint8_t *ebuf = NULL, *rbuf = NULL;
    size_t elen, rlen;
    const char *f[NFIELDS];
    uint64_t n, i;
    unsigned level;
    int rc;

    if ((rc = entry_check(e, f)) != 0 ||
        (rc = meta_get(txn, META_SIZE, &n)) != 0)
        return rc;
    if (n == UINT64_MAX)
        return ERR_FULL;
    /* The entry, as it will be hashed and served (protobuf-c only reads
     * the strings). */
    msg.index = n;
    msg.time_unix_ms = audit_now(a);
    msg.principal = (char *)f[0];
    msg.on_behalf_of = (char *)f[1];
    msg.action = (char *)f[2];
    msg.dossier_id = (char *)f[3];
    msg.object_id = (char *)f[4];
    msg.basis = (char *)f[5];
    msg.purpose_code = (char *)f[6];
    msg.case_reference = (char *)f[7];
    msg.outcome = (char *)f[8];
    msg.reason = (char *)f[9];
    elen = dossier__v1__audit_entry__get_packed_size(&msg);
    if ((ebuf = malloc(elen + 1)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    dossier__v1__audit_entry__pack(&msg, ebuf);
    if ((rc = merkle_leaf_hash(ebuf, elen, leaf)) != 0)
        goto fail;
    /* AUDIT[n] = {leaf hash, entry, time}. */
    rec.leaf_hash.data = leaf;
    rec.leaf_hash.len = sizeof(leaf);
    rec.entry.data = ebuf;
    rec.entry.len = elen;
    rec.time_unix_ms = msg.time_unix_ms;
    rlen = dossier__internal__audit_record__get_packed_size(&rec);
    if ((rbuf = malloc(rlen)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    dossier__internal__audit_record__pack(&rec, rbuf);
    be_put64(key, n);
    /* The trail may use the store's reserve: a read must not fail for
     * want of room that only deposits should lack. */
    rc =
        store_put(txn, STORE_DB_AUDIT, key, sizeof(key), rbuf, rlen,
                  STORE_PUT_NOOVERWRITE | STORE_PUT_RESERVE | STORE_PUT_APPEND);
    if (rc == ERR_EXISTS) {
        log_warnx("audit log: an entry is stored past the log's size "
                  "size=%llu",
                  (unsigned long long)n);
        rc = ERR_CORRUPT;
    }
    if (rc != 0)
        goto fail;
    /* The leaf, then each subtree it completes: while the node is a right
     * child (odd index), hash it with its left sibling into the parent. */
    if ((rc = node_put(txn, 0, n, leaf)) != 0)
        goto fail;
    for (i = n, level = 0; (i & 1) != 0; level++) {
        if ((rc = node_get(txn, level, i - 1, left)) != 0 ||
            (rc = merkle_node_hash(left, leaf, leaf)) != 0)
            goto fail;
        i >>= 1;
        if ((rc = node_put(txn, level + 1, i, leaf)) != 0)
            goto fail;
    }
    if ((rc = meta_put(txn, META_SIZE, n + 1)) != 0)
        goto fail;
    if (index != NULL)
        *index = n;
    rc = 0;
fail:
    free(rbuf);
    free(ebuf);
    return rc;
}

/* audit_record's operation: the entry's strings live after the struct. */
struct record_op {
    struct audit *a;
    struct audit_entry e;
    writer_done_fn *done;
    void *arg;
    char strings[];
};

static int
record_run(struct store_txn *txn, void *arg)
{
    struct record_op *op = arg;

    return audit_append(op->a, txn, &op->e, NULL);
}

static void
record_done(void *arg, int status)
{
    struct record_op *op = arg;

    if (op->done != NULL)
        op->done(op->arg, status);
    free(op);
}

int
audit_record(struct audit *a, const struct audit_entry *e, writer_done_fn *done,
             void *arg)
{
    struct record_op *op;
    const char *f[NFIELDS];
    size_t len[NFIELDS], total = 0;
    char *p;
    int rc;

    if ((rc = entry_check(e, f)) != 0)
        return rc;
    if (a->writer == NULL)
        return ERR_UNAVAILABLE;
    for (size_t i = 0; i < NFIELDS; i++)
        total += (len[i] = strlen(f[i]) + 1);
    if ((op = malloc(sizeof(*op) + total)) == NULL)
        return -ENOMEM;
    op->a = a;
    op->done = done;
    op->arg = arg;
    /* The copies, in the order entry_fields reads them back. */
    p = op->strings;
    for (size_t i = 0; i < NFIELDS; i++) {
        f[i] = memcpy(p, f[i], len[i]);
        p += len[i];
    }
    op->e = (struct audit_entry){f[0], f[1], f[2], f[3], f[4],
                                 f[5], f[6], f[7], f[8], f[9]};
    if ((rc = writer_submit(a->writer, record_run, record_done, op)) != 0)
        free(op);
    return rc;
}

/* --- reading entries ----------------------------------------------------- */

int
audit_get(struct audit *a, struct store_txn *txn, uint64_t index,
          AuditEntry **out)
{
    AuditRecord *r;
    int rc;

    *out = NULL;
    if ((rc = record_get(txn, index, &r)) != 0)
        return rc;
    rc = record_entry(r, index, out);
    dossier__internal__audit_record__free_unpacked(r, NULL);
    return rc;
}

struct audit_query {
    struct audit *a;
    struct store_cursor *c;
    const struct audit_filter *f;
    uint64_t start; /* where the cursor seeks on the first call */
    uint64_t next;  /* the index the next call looks at first */
    bool positioned;
};

int
audit_query_open(struct audit *a, struct store_txn *txn, uint64_t start,
                 const struct audit_filter *f, struct audit_query **out)
{
    struct audit_query *q;
    int rc;

    *out = NULL;
    if ((q = calloc(1, sizeof(*q))) == NULL)
        return -ENOMEM;
    if ((rc = store_cursor_open(txn, STORE_DB_AUDIT, NULL, 0, &q->c)) != 0) {
        free(q);
        return rc;
    }
    q->a = a;
    q->f = f;
    q->start = q->next = start;
    *out = q;
    return 0;
}

static bool
str_match(const char *want, const char *have)
{
    return want == NULL || want[0] == '\0' ||
           (have != NULL && strcmp(want, have) == 0);
}

static bool
filter_match(const struct audit_filter *f, const AuditEntry *e)
{
    if (f == NULL)
        return true;
    return str_match(f->dossier_id, e->dossier_id) &&
           str_match(f->principal, e->principal) &&
           str_match(f->action, e->action) &&
           str_match(f->outcome, e->outcome) &&
           (f->from_ms == 0 || e->time_unix_ms >= f->from_ms) &&
           (f->until_ms == 0 || e->time_unix_ms < f->until_ms);
}

static int query_step(struct audit_query *q, uint32_t max_scan,
                      AuditEntry **out, struct buf *raw);

int
audit_query_next(struct audit_query *q, uint32_t max_scan, AuditEntry **out)
{
    return query_step(q, max_scan, out, NULL);
}

int
audit_query_next_raw(struct audit_query *q, uint32_t max_scan, struct buf *raw)
{
    AuditEntry *e = NULL;
    int rc = query_step(q, max_scan, &e, raw);

    if (e != NULL)
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    return rc;
}

/* The scan behind both: the next matching entry, unpacked into |*out|,
 * and its stored bytes appended to |raw| when not NULL. */
static int
query_step(struct audit_query *q, uint32_t max_scan, AuditEntry **out,
           struct buf *raw)
{
    struct store_entry se;
    uint8_t key[8];
    uint32_t scanned = 0;
    int rc;

    *out = NULL;
    for (;;) {
        AuditRecord *r;
        AuditEntry *e;
        uint64_t index;

        if (max_scan != 0 && scanned == max_scan)
            return -EAGAIN;
        if (!q->positioned) {
            be_put64(key, q->start);
            rc = store_cursor_seek(q->c, key, sizeof(key), &se);
            q->positioned = true;
        } else {
            rc = store_cursor_next(q->c, &se);
        }
        if (rc != 0)
            return rc; /* ERR_NOTFOUND at the end */
        scanned++;
        if (se.key_len != 8) {
            log_warnx("audit log: malformed key len=%zu", se.key_len);
            return ERR_CORRUPT;
        }
        index = be_get64(se.key);
        q->next = index + 1;
        if ((rc = record_decode(index, se.val, se.val_len, &r)) != 0)
            return rc;
        rc = record_entry(r, index, &e);
        if (rc == 0 && filter_match(q->f, e)) {
            /* The exact bytes the leaf hash covers, for verifiers. */
            if (raw != NULL)
                rc = buf_append(raw, r->entry.data, r->entry.len);
            dossier__internal__audit_record__free_unpacked(r, NULL);
            if (rc != 0) {
                dossier__v1__audit_entry__free_unpacked(e, NULL);
                return rc;
            }
            *out = e;
            return 0;
        }
        dossier__internal__audit_record__free_unpacked(r, NULL);
        if (rc == ERR_EXPIRED)
            continue;
        if (rc != 0)
            return rc;
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    }
}

uint64_t
audit_query_position(const struct audit_query *q)
{
    return q->next;
}

void
audit_query_close(struct audit_query *q)
{
    if (q == NULL)
        return;
    store_cursor_close(q->c);
    free(q);
}

/* --- retention and checks ------------------------------------------------ */

int
audit_purge(struct audit *a, struct store_txn *txn, int64_t before_ms,
            uint64_t max, uint64_t *purged)
{
    AuditRecord *r = NULL;
    uint8_t key[8], buf[128]; /* a purged record: hash, two times */
    uint64_t size, i, n = 0;
    int64_t now = audit_now(a);
    int rc;

    if (purged != NULL)
        *purged = 0;
    if ((rc = meta_get(txn, META_SIZE, &size)) != 0 ||
        (rc = meta_get(txn, META_PURGED, &i)) != 0)
        return rc;
    for (; i < size && (max == 0 || n < max); i++) {
        if ((rc = record_get(txn, i, &r)) != 0) {
            if (rc == ERR_NOTFOUND) {
                log_warnx("audit log: entry missing index=%llu",
                          (unsigned long long)i);
                rc = ERR_CORRUPT;
            }
            goto fail;
        }
        if (r->purged_unix_ms == 0 && r->entry.len != 0) {
            if (r->time_unix_ms >= before_ms)
                break;
            /* Keep the leaf hash and the time; drop the entry. */
            r->entry.len = 0;
            r->purged_unix_ms = now;
            if (dossier__internal__audit_record__get_packed_size(r) >
                sizeof(buf)) { /* fields of a later version? */
                rc = ERR_CORRUPT;
                goto fail;
            }
            be_put64(key, i);
            if ((rc = store_put(txn, STORE_DB_AUDIT, key, sizeof(key), buf,
                                dossier__internal__audit_record__pack(r, buf),
                                0)) != 0)
                goto fail;
            n++;
        }
        dossier__internal__audit_record__free_unpacked(r, NULL);
        r = NULL;
    }
    if ((rc = meta_put(txn, META_PURGED, i)) != 0)
        goto fail;
    if (purged != NULL)
        *purged = n;
    if (n > 0)
        log_info("audit entries purged count=%llu next=%llu",
                 (unsigned long long)n, (unsigned long long)i);
fail:
    dossier__internal__audit_record__free_unpacked(r, NULL);
    return rc;
}

/* Checks that the log's last record is that of entry |size| - 1: none
 * missing at the end, none past it.  Returns 0, ERR_CORRUPT (not logged)
 * or a store error. */
static int
tail_check(struct store_txn *txn, uint64_t size)
{
    struct store_entry last;
    int rc = store_last(txn, STORE_DB_AUDIT, NULL, 0, &last);

    if (rc == ERR_NOTFOUND)
        return size == 0 ? 0 : ERR_CORRUPT;
    if (rc != 0)
        return rc;
    return size != 0 && last.key_len == 8 && be_get64(last.key) == size - 1
               ? 0
               : ERR_CORRUPT;
}

static int
verify_bad(uint64_t index, uint64_t *bad, const char *what)
{
    log_warnx("audit log check failed: %s index=%llu", what,
              (unsigned long long)index);
    if (bad != NULL)
        *bad = index;
    return ERR_CORRUPT;
}

int
audit_verify(struct audit *a, struct store_txn *txn, uint64_t *bad)
{
    uint8_t h[MERKLE_HASH_LEN], l[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
    uint64_t size;
    int rc;

    if ((rc = meta_get(txn, META_SIZE, &size)) != 0)
        return rc;
    if ((rc = tail_check(txn, size)) == ERR_CORRUPT)
        return verify_bad(size, bad, "entries missing at or past the end");
    if (rc != 0)
        return rc;
    for (uint64_t i = 0; i < size; i++) {
        AuditRecord *rec;
        AuditEntry *e;

        if ((rc = record_get(txn, i, &rec)) == ERR_NOTFOUND ||
            rc == ERR_CORRUPT)
            return verify_bad(i, bad, "entry missing or malformed");
        if (rc != 0)
            return rc;
        rc = record_entry(rec, i, &e);
        dossier__v1__audit_entry__free_unpacked(e, NULL);
        if (rc == 0 || rc == ERR_EXPIRED) {
            if ((rc = node_get(txn, 0, i, h)) == 0 &&
                !crypto_equal(h, rec->leaf_hash.data, MERKLE_HASH_LEN))
                rc = ERR_CORRUPT;
        }
        dossier__internal__audit_record__free_unpacked(rec, NULL);
        if (rc == ERR_CORRUPT)
            return verify_bad(i, bad, "entry does not match its leaf hash");
        if (rc != 0)
            return rc;
    }
    for (unsigned level = 1; level < 64 && (size >> level) != 0; level++) {
        for (uint64_t i = 0; i < (size >> level); i++) {
            if ((rc = node_get(txn, level - 1, 2 * i, l)) != 0 ||
                (rc = node_get(txn, level - 1, 2 * i + 1, r)) != 0 ||
                (rc = node_get(txn, level, i, h)) != 0 ||
                (rc = merkle_node_hash(l, r, l)) != 0) {
                if (rc == ERR_CORRUPT)
                    return verify_bad(i << level, bad, "subtree missing");
                return rc;
            }
            if (!crypto_equal(h, l, MERKLE_HASH_LEN))
                return verify_bad(i << level, bad, "subtree hash mismatch");
        }
    }
    return 0;
}

void
audit__now_set(struct audit *a, int64_t ms)
{
    a->now_ms = ms;
}

/* --- the signing key ----------------------------------------------------- */

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1; /* an encrypted key is refused, never prompted for */
}

/* Loads the Ed25519 key of |path| into a->key and its id.  Returns 0,
 * ERR_KEY (logged with the hint) or -ENOMEM. */
static int
key_load(struct audit *a, const char *path)
{
    unsigned char *der = NULL;
    uint8_t h[CRYPTO_HASH_LEN];
    struct stat st;
    FILE *f = NULL;
    int rc, n;

    if ((rc = tls_key_file_check(path)) != 0)
        goto fail;
    if ((f = fopen(path, "re")) == NULL) {
        rc = -errno;
        goto fail;
    }
    /* Again on the file opened, which may have been swapped since. */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_mode & 077) != 0) {
        rc = ERR_KEY;
        goto fail;
    }
    a->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    if (a->key == NULL || EVP_PKEY_get_id(a->key) != EVP_PKEY_ED25519) {
        rc = ERR_KEY;
        goto fail;
    }
    if ((n = i2d_PUBKEY(a->key, &der)) <= 0) {
        rc = ERR_KEY;
        goto fail;
    }
    if ((rc = crypto_sha256(der, (size_t)n, h)) != 0)
        goto fail;
    memcpy(a->key_id, h, AUDIT_KEY_ID_LEN);
    OPENSSL_free(der);
    fclose(f);
    return 0;

fail:
    ERR_clear_error();
    OPENSSL_free(der);
    if (f != NULL)
        fclose(f);
    EVP_PKEY_free(a->key);
    a->key = NULL;
    log_warnx("no usable audit key path=%s (%s, an Ed25519 private key in "
              "PEM, mode 0600, is needed): " KEY_HINT,
              path, rc == ERR_KEY ? "unreadable or not Ed25519" : err_str(rc));
    return rc == -ENOMEM ? rc : ERR_KEY;
}

size_t
audit_checkpoint_text(uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
                      int64_t time_ms, char out[AUDIT_CHECKPOINT_TEXT_MAX])
{
    char hex[2 * MERKLE_HASH_LEN + 1];
    int n;

    hex_encode(root, MERKLE_HASH_LEN, hex);
    n = snprintf(out, AUDIT_CHECKPOINT_TEXT_MAX,
                 CHECKPOINT_MAGIC "%llu\n%s\n%lld\n",
                 (unsigned long long)tree_size, hex, (long long)time_ms);
    return (size_t)n;
}

int
audit_sign(struct audit *a, const void *msg, size_t len,
           uint8_t sig[AUDIT_SIG_LEN])
{
    size_t siglen = AUDIT_SIG_LEN;
    EVP_MD_CTX *ctx;
    int rc = 0;

    if ((ctx = EVP_MD_CTX_new()) == NULL)
        return -ENOMEM;
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, a->key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 ||
        siglen != AUDIT_SIG_LEN) {
        unsigned long e = ERR_get_error();
        char text[256];

        ERR_error_string_n(e, text, sizeof(text));
        ERR_clear_error();
        log_warnx("cannot sign with the audit key openssl=\"%s\"", text);
        rc = ERR_KEY;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Signs |cp|'s text into cp->signature.  Returns 0, ERR_KEY or -ENOMEM. */
static int
checkpoint_sign(struct audit *a, struct audit_checkpoint *cp)
{
    char text[AUDIT_CHECKPOINT_TEXT_MAX];
    size_t len =
        audit_checkpoint_text(cp->tree_size, cp->root, cp->time_ms, text);

    return audit_sign(a, text, len, cp->signature);
}

void
audit_checkpoint_pb(const struct audit_checkpoint *cp,
                    Dossier__V1__Checkpoint *msg)
{
    dossier__v1__checkpoint__init(msg);
    msg->tree_size = cp->tree_size;
    msg->root_hash.data = (uint8_t *)cp->root;
    msg->root_hash.len = MERKLE_HASH_LEN;
    msg->time_unix_ms = cp->time_ms;
    msg->signature.data = (uint8_t *)cp->signature;
    msg->signature.len = AUDIT_SIG_LEN;
    msg->key_id.data = (uint8_t *)cp->key_id;
    msg->key_id.len = AUDIT_KEY_ID_LEN;
}

/* --- the checkpoint file ------------------------------------------------- */

/*
 * The file holds the signed text of the last checkpoint handed out, then
 * "key <key id hex>" and "signature <hex>" lines: it is itself a
 * checkpoint an operator can hand to an auditor.  Only the size and the
 * root are read back.
 */

/* Reads |path| into |*size| and |root|.  Returns 0, ERR_NOTFOUND (no
 * file), ERR_CONFIG (unparsable: logged) or a negative errno (logged). */
static int
cp_file_read(const char *path, uint64_t *size, uint8_t root[MERKLE_HASH_LEN])
{
    char buf[CHECKPOINT_FILE_MAX + 1], hex[2 * MERKLE_HASH_LEN + 1];
    unsigned long long v;
    ssize_t n;
    int fd, k = 0, err;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, buf, CHECKPOINT_FILE_MAX);
        err = errno;
        close(fd);
    } else if ((err = errno) == ENOENT) {
        return ERR_NOTFOUND;
    }
    if (fd < 0 || n < 0) {
        log_warnx("cannot read the audit checkpoint file path=%s (%s)", path,
                  strerror(err));
        return -err;
    }
    buf[n] = '\0';
    /* The size in decimal digits only, the root in 64 lowercase ones. */
    if (sscanf(buf, CHECKPOINT_MAGIC "%*[0-9]%n", &k) != 0 || k == 0 ||
        sscanf(buf, CHECKPOINT_MAGIC "%llu\n%64[0-9a-f]%n", &v, hex, &k) != 2 ||
        strlen(hex) != 2 * MERKLE_HASH_LEN || buf[k] != '\n') {
        log_warnx("audit checkpoint file is not a checkpoint path=%s: restore "
                  "it, or move it aside to start without the rollback check",
                  path);
        return ERR_CONFIG;
    }
    for (int i = 0; i < MERKLE_HASH_LEN; i++)
        root[i] =
            (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
    *size = v;
    return 0;
}

/* Replaces |path| by |len| bytes of |text|, atomically and durably.
 * Returns 0 or a negative errno (logged). */
static int
cp_file_write(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0, off = 0;
    int fd, rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)dirlen, path,
                 path + dirlen) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    if ((fd = mkstemp(tmp)) < 0) {
        rc = -errno;
        goto fail;
    }
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)k;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    else
        rc = fsutil_sync_parent(path);
fail:
    if (rc != 0)
        log_warnx("cannot write the audit checkpoint file path=%s (%s)", path,
                  err_str(rc));
    return rc;
}

/* Remembers |cp| in the checkpoint file unless it holds a larger one. */
static int
cp_remember(struct audit *a, const struct audit_checkpoint *cp)
{
    char text[AUDIT_CHECKPOINT_TEXT_MAX + 200], hex[2 * AUDIT_SIG_LEN + 1];
    size_t len;
    int rc = 0;

    if (a->cp_path == NULL)
        return 0;
    uv_mutex_lock(&a->cp_lock);
    if (cp->tree_size > a->remembered || !a->cp_exists) {
        len = audit_checkpoint_text(cp->tree_size, cp->root, cp->time_ms, text);
        hex_encode(cp->key_id, AUDIT_KEY_ID_LEN, hex);
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "key %s\n", hex);
        hex_encode(cp->signature, AUDIT_SIG_LEN, hex);
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "signature %s\n", hex);
        if ((rc = cp_file_write(a->cp_path, text, len)) == 0) {
            a->remembered = cp->tree_size;
            a->cp_exists = true;
        }
    }
    uv_mutex_unlock(&a->cp_lock);
    return rc;
}

int
audit_checkpoint(struct audit *a, struct store_txn *txn,
                 struct audit_checkpoint *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = meta_get(txn, META_SIZE, &out->tree_size)) != 0 ||
        (rc = merkle_root(node_get, txn, out->tree_size, out->root)) != 0)
        return rc;
    out->time_ms = audit_now(a);
    memcpy(out->key_id, a->key_id, AUDIT_KEY_ID_LEN);
    if ((rc = checkpoint_sign(a, out)) != 0 || (rc = cp_remember(a, out)) != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

struct cp_req {
    uv_work_t work;
    struct audit *a;
    audit_checkpoint_fn *cb;
    void *arg;
    int status;
    struct audit_checkpoint cp;
};

static void
cp_req_work(uv_work_t *w)
{
    struct cp_req *r = w->data;
    struct store_txn *txn;

    if ((r->status =
             store_txn_begin(r->a->store, STORE_TXN_READ, NULL, &txn)) != 0)
        return;
    r->status = audit_checkpoint(r->a, txn, &r->cp);
    store_txn_abort(txn);
}

static void
cp_req_after(uv_work_t *w, int status)
{
    struct cp_req *r = w->data;

    r->cb(r->arg, status == UV_ECANCELED ? -ECANCELED : r->status, &r->cp);
    free(r);
}

int
audit_checkpoint_request(struct audit *a, uv_loop_t *loop,
                         audit_checkpoint_fn *cb, void *arg)
{
    struct cp_req *r;
    int rc;

    if ((r = calloc(1, sizeof(*r))) == NULL)
        return -ENOMEM;
    r->work.data = r;
    r->a = a;
    r->cb = cb;
    r->arg = arg;
    if ((rc = uv_queue_work(loop, &r->work, cp_req_work, cp_req_after)) != 0)
        free(r);
    return rc;
}

/* --- open and close ------------------------------------------------------ */

/* Checks, in a read transaction, that the log can be read and that it
 * extends the checkpoint of the file (if any).  Returns 0 or an error,
 * logged. */
static int
audit_check_open(struct audit *a)
{
    uint8_t root[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
    struct store_txn *txn = NULL;
    AuditRecord *rec = NULL;
    uint64_t size, cp_size = 0;
    int rc;

    if ((rc = store_txn_begin(a->store, STORE_TXN_READ, NULL, &txn)) != 0)
        goto unreadable;
    /* The last entry is there and parses, nothing is past it, and the
     * subtrees of the root are all present: O(log n), unlike audit_verify. */
    if ((rc = meta_get(txn, META_SIZE, &size)) != 0 ||
        (rc = tail_check(txn, size)) != 0 ||
        (size > 0 && (rc = record_get(txn, size - 1, &rec)) != 0) ||
        (rc = merkle_root(node_get, txn, size, root)) != 0)
        goto unreadable;
    if (a->cp_path != NULL &&
        (rc = cp_file_read(a->cp_path, &cp_size, want)) == ERR_NOTFOUND) {
        log_info("no audit checkpoint remembered yet path=%s", a->cp_path);
    } else if (a->cp_path != NULL) {
        if (rc != 0)
            goto out;
        a->cp_exists = true;
        if (cp_size > size) {
            log_warnx("audit log is shorter than the last checkpoint handed "
                      "out (store rolled back?) size=%llu checkpoint_size=%llu:"
                      " restore the latest copy of the data or, if this is "
                      "intended, move %s aside",
                      (unsigned long long)size, (unsigned long long)cp_size,
                      a->cp_path);
            rc = ERR_CORRUPT;
            goto out;
        }
        if ((rc = merkle_root(node_get, txn, cp_size, root)) != 0)
            goto unreadable;
        if (!crypto_equal(root, want, MERKLE_HASH_LEN)) {
            log_warnx("audit log does not extend the last checkpoint (fork) "
                      "checkpoint_size=%llu size=%llu: its first entries are "
                      "not those checkpointed; restore the latest copy of the "
                      "data or, if this is intended, move %s aside",
                      (unsigned long long)cp_size, (unsigned long long)size,
                      a->cp_path);
            rc = ERR_CORRUPT;
            goto out;
        }
    }
    rc = 0;
    a->remembered = cp_size;
    log_info("audit log open size=%llu checkpoint_size=%llu",
             (unsigned long long)size, (unsigned long long)cp_size);
    goto out;

unreadable:
    log_warnx("audit log unreadable (%s): the daemon cannot start without "
              "it; restore the latest copy of the data",
              err_str(rc));
    if (rc == ERR_NOTFOUND)
        rc = ERR_CORRUPT;
out:
    dossier__internal__audit_record__free_unpacked(rec, NULL);
    store_txn_abort(txn);
    return rc;
}

int
audit_open(struct store *s, struct writer *w, const char *key_file,
           const char *checkpoint_file, struct audit **out)
{
    struct audit *a;
    int rc;

    *out = NULL;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return -ENOMEM;
    a->store = s;
    a->writer = w;
    if ((rc = uv_mutex_init(&a->cp_lock)) != 0) {
        free(a);
        return rc;
    }
    if (checkpoint_file != NULL &&
        (a->cp_path = strdup(checkpoint_file)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = key_load(a, key_file)) != 0 || (rc = audit_check_open(a)) != 0)
        goto fail;
    *out = a;
    return 0;

fail:
    audit_close(a);
    return rc;
}

void
audit_close(struct audit *a)
{
    if (a == NULL)
        return;
    EVP_PKEY_free(a->key); /* OpenSSL clears private key material */
    free(a->cp_path);
    uv_mutex_destroy(&a->cp_lock);
    free(a);
}
