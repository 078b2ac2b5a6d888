/*
 * test_audit.c -- unit tests of audit.c on a real store and writer, in
 * fresh mkdtemp directories, with an Ed25519 key made here.
 *
 * Entries go in through the writer (audit_record) and through writer ops
 * of the test's own (audit_append inside an op that then fails: the entry
 * is gone); every root and proof of the stored tree must equal merkle.c's
 * over leaf hashes the test computes itself from the entries it asked for.
 * Then: filtered queries, retention (purged entries are gone, every root
 * and proof still verifies), checkpoints (the signature verifies with
 * OpenSSL over text built here), refusals at open (no key, a key too
 * open or not Ed25519, an unreadable log, a store rolled back to an
 * earlier copy, a store with other entries: a fork).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <uv.h>

#include "audit.h"
#include "be.h"
#include "crypto.h"
#include "err.h"
#include "internal/audit.pb-c.h"
#include "merkle.h"
#include "store.h"
#include "suites.h"
#include "writer.h"

#define H MERKLE_HASH_LEN
#define T0 1700000000000LL /* the tests' clock, ms */
#define MAXN 200

static char base[64];
static char data_dir[128], data2_dir[128], data3_dir[128];
static char key_path[128], cp_path[128];
static EVP_PKEY *key;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
key_write(const char *path, EVP_PKEY *k, mode_t mode)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
    strcpy(base, "/tmp/dossier-audit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(data_dir, sizeof(data_dir), "%s/data", base);
    snprintf(data2_dir, sizeof(data2_dir), "%s/data2", base);
    snprintf(data3_dir, sizeof(data3_dir), "%s/data3", base);
    snprintf(key_path, sizeof(key_path), "%s/" AUDIT_KEY_FILE, base);
    snprintf(cp_path, sizeof(cp_path), "%s/" AUDIT_CHECKPOINT_FILE, base);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(key);
    key_write(key_path, key, 0600);
}

static void
teardown(void)
{
    EVP_PKEY_free(key);
    key = NULL;
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the harness: a loop, a store, its writer, the log --------------- */

struct fx {
    uv_loop_t loop;
    struct store *s;
    struct writer *w;
    struct audit *a;
    int done;
    int status[MAXN];
};

/* Opens |dir| with the checkpoint file |cp| (may be NULL); returns what
 * audit_open returned (f->a NULL on failure, the rest open). */
static int
fx_open(struct fx *f, const char *dir, const char *cp)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(store_open(dir, 0, &f->s), 0);
    ck_assert_int_eq(writer_new(f->s, &f->loop, &f->w), 0);
    return audit_open(f->s, f->w, key_path, cp, &f->a);
}

static void
fx_close(struct fx *f)
{
    writer_free(f->w);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    audit_close(f->a);
    store_close(f->s);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static struct store_txn *
fx_read(struct fx *f)
{
    struct store_txn *t;

    ck_assert_int_eq(store_txn_begin(f->s, STORE_TXN_READ, NULL, &t), 0);
    return t;
}

/* Entry |i| of the tests: a few principals, dossiers, actions, outcomes. */
struct ent {
    char principal[64], dossier[40], object[32], reason[32];
    struct audit_entry e;
};

static const char *const actions[] = {"Documents.Get", "Documents.List",
                                      "Consents.Grant"};

static void
ent_make(struct ent *x, int i, const char *tag)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->principal, sizeof(x->principal),
             "spiffe://dossier.test/agency/%s-%d", tag, i % 3);
    snprintf(x->dossier, sizeof(x->dossier), "d%026d", i % 4);
    snprintf(x->object, sizeof(x->object), "p%d", i);
    strcpy(x->reason, i % 5 == 0 ? "no consent" : "");
    x->e.principal = x->principal;
    x->e.on_behalf_of =
        i % 7 == 0 ? "spiffe://dossier.test/delegate/fs>d1" : "";
    x->e.action = actions[i % 3];
    x->e.dossier_id = x->dossier;
    x->e.object_id = x->object;
    x->e.basis = "c0123";
    x->e.purpose_code = "RSA";
    x->e.case_reference = "CASE-42 é";
    x->e.outcome = i % 5 == 0 ? AUDIT_DENIED : AUDIT_GRANTED;
    x->e.reason = x->reason;
}

/* The leaf hash of entry |i| (made with |tag|) at |time|, computed here
 * from the contract: SHA-256(0x00 || dossier.v1.AuditEntry). */
static void
ent_leaf(int i, const char *tag, int64_t time, uint8_t out[H])
{
    Dossier__V1__AuditEntry m = DOSSIER__V1__AUDIT_ENTRY__INIT;
    struct ent x;
    uint8_t buf[2048];
    size_t n;

    ent_make(&x, i, tag);
    m.index = (uint64_t)i;
    m.time_unix_ms = time;
    m.principal = (char *)x.e.principal;
    m.on_behalf_of = (char *)x.e.on_behalf_of;
    m.action = (char *)x.e.action;
    m.dossier_id = (char *)x.e.dossier_id;
    m.object_id = (char *)x.e.object_id;
    m.basis = (char *)x.e.basis;
    m.purpose_code = (char *)x.e.purpose_code;
    m.case_reference = (char *)x.e.case_reference;
    m.outcome = (char *)x.e.outcome;
    m.reason = (char *)x.e.reason;
    n = dossier__v1__audit_entry__get_packed_size(&m);
    ck_assert_uint_lt(n, sizeof(buf));
    dossier__v1__audit_entry__pack(&m, buf);
    ck_assert_int_eq(merkle_leaf_hash(buf, n, out), 0);
}

static void
on_done(void *arg, int status)
{
    struct fx *f = arg;

    ck_assert_int_lt(f->done, MAXN);
    f->status[f->done++] = status;
}

/* Records entries [first, first + n) made with |tag| at |time| through
 * audit_record, runs the loop until all are done, and checks each. */
static void
record_n(struct fx *f, int first, int n, const char *tag, int64_t time)
{
    struct ent x;

    audit__now_set(f->a, time);
    f->done = 0;
    for (int i = first; i < first + n; i++) {
        ent_make(&x, i, tag);
        ck_assert_int_eq(audit_record(f->a, &x.e, on_done, f), 0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f->done, n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(f->status[i], 0);
}

static uint64_t
log_size(struct fx *f)
{
    struct store_txn *t = fx_read(f);
    uint64_t n;

    ck_assert_int_eq(audit_size(f->a, t, &n), 0);
    store_txn_abort(t);
    return n;
}

/* Checks every root, and proofs for a spread of sizes, of |f|'s log
 * against merkle.c over |leaves| (|n| of them). */
static void
tree_check(struct fx *f, uint8_t (*leaves)[H], uint64_t n)
{
    static const uint64_t sizes[] = {1, 2, 3, 7, 8, 9, 16, 33, 64, 100, 150};
    uint8_t root[H], want[H], p1[MERKLE_PATH_MAX][H], p2[MERKLE_PATH_MAX][H];
    uint8_t leaf[H], old_root[H];
    struct merkle_leaves lv = {.hash = (const uint8_t(*)[H])leaves};
    struct store_txn *t = fx_read(f);
    size_t l1, l2;

    for (uint64_t size = 0; size <= n; size++) {
        lv.count = size;
        ck_assert_int_eq(audit_root(f->a, t, size, root), 0);
        ck_assert_int_eq(merkle_root(merkle_leaves_node, &lv, size, want), 0);
        ck_assert_mem_eq(root, want, H);
    }
    lv.count = n;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint64_t size = sizes[k];

        if (size > n)
            break;
        ck_assert_int_eq(audit_root(f->a, t, size, root), 0);
        for (uint64_t i = 0; i < size; i++) {
            ck_assert_int_eq(
                audit_inclusion_proof(f->a, t, i, size, p1, &l1, leaf), 0);
            ck_assert_int_eq(merkle_inclusion_proof(merkle_leaves_node, &lv, i,
                                                    size, p2, &l2),
                             0);
            ck_assert_uint_eq(l1, l2);
            ck_assert_mem_eq(p1, p2, l1 * H);
            ck_assert_mem_eq(leaf, leaves[i], H);
            ck_assert_int_eq(
                merkle_inclusion_verify(leaf, i, size, p1, l1, root), 0);
        }
        for (uint64_t m = 1; m <= size; m++) {
            ck_assert_int_eq(audit_root(f->a, t, m, old_root), 0);
            ck_assert_int_eq(audit_consistency_proof(f->a, t, m, size, p1, &l1),
                             0);
            ck_assert_int_eq(merkle_consistency_proof(merkle_leaves_node, &lv,
                                                      m, size, p2, &l2),
                             0);
            ck_assert_uint_eq(l1, l2);
            ck_assert_mem_eq(p1, p2, l1 * H);
            ck_assert_int_eq(
                merkle_consistency_verify(m, size, old_root, root, p1, l1), 0);
        }
    }
    store_txn_abort(t);
}

/* --- tests ------------------------------------------------------------- */

START_TEST(test_key_refused)
{
    struct store *s;
    struct audit *a = (struct audit *)1;
    EVP_PKEY *ec;
    FILE *fp;

    ck_assert_int_eq(store_open(data_dir, 0, &s), 0);
    /* No file. */
    ck_assert_int_eq(unlink(key_path), 0);
    ck_assert_int_eq(audit_open(s, NULL, key_path, NULL, &a), ERR_KEY);
    ck_assert_ptr_null(a);
    /* Readable by others. */
    key_write(key_path, key, 0644);
    ck_assert_int_eq(audit_open(s, NULL, key_path, NULL, &a), ERR_KEY);
    /* Not a key. */
    ck_assert_int_eq(chmod(key_path, 0600), 0);
    ck_assert_ptr_nonnull(fp = fopen(key_path, "w"));
    fputs("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", fp);
    fclose(fp);
    ck_assert_int_eq(audit_open(s, NULL, key_path, NULL, &a), ERR_KEY);
    /* A key, but not Ed25519. */
    ck_assert_ptr_nonnull(ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    unlink(key_path);
    key_write(key_path, ec, 0600);
    EVP_PKEY_free(ec);
    ck_assert_int_eq(audit_open(s, NULL, key_path, NULL, &a), ERR_KEY);
    /* The right one. */
    unlink(key_path);
    key_write(key_path, key, 0600);
    ck_assert_int_eq(audit_open(s, NULL, key_path, NULL, &a), 0);
    /* Without a writer, audit_record is refused, done never runs. */
    {
        struct ent x;

        ent_make(&x, 1, "caf");
        ck_assert_int_eq(audit_record(a, &x.e, NULL, NULL), ERR_UNAVAILABLE);
    }
    audit_close(a);
    audit_close(NULL);
    store_close(s);
}
END_TEST

START_TEST(test_append_roots_proofs)
{
    static uint8_t leaves[MAXN][H];
    Dossier__V1__AuditEntry *e;
    struct store_stat st;
    struct store_txn *t;
    uint8_t path[MERKLE_PATH_MAX][H], root[H];
    struct fx f;
    struct ent x;
    size_t len;
    const int n = 150;

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    ck_assert_uint_eq(log_size(&f), 0);
    record_n(&f, 0, 60, "caf", T0);
    record_n(&f, 60, 60, "caf", T0 + 1000);
    record_n(&f, 120, n - 120, "caf", T0 + 2000);
    ck_assert_uint_eq(log_size(&f), (uint64_t)n);
    for (int i = 0; i < n; i++)
        ent_leaf(i, "caf", T0 + 1000 * (i / 60), leaves[i]);
    tree_check(&f, leaves, (uint64_t)n);

    /* Each entry reads back as recorded; one node per complete subtree. */
    t = fx_read(&f);
    for (int i = 0; i < n; i++) {
        ent_make(&x, i, "caf");
        ck_assert_int_eq(audit_get(f.a, t, (uint64_t)i, &e), 0);
        ck_assert_uint_eq(e->index, (uint64_t)i);
        ck_assert_int_eq(e->time_unix_ms, T0 + 1000 * (i / 60));
        ck_assert_str_eq(e->principal, x.e.principal);
        ck_assert_str_eq(e->on_behalf_of, x.e.on_behalf_of);
        ck_assert_str_eq(e->action, x.e.action);
        ck_assert_str_eq(e->dossier_id, x.e.dossier_id);
        ck_assert_str_eq(e->object_id, x.e.object_id);
        ck_assert_str_eq(e->case_reference, "CASE-42 é");
        ck_assert_str_eq(e->outcome, x.e.outcome);
        ck_assert_str_eq(e->reason, x.e.reason);
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    }
    ck_assert_int_eq(audit_get(f.a, t, (uint64_t)n, &e), ERR_NOTFOUND);
    ck_assert_int_eq(audit_verify(f.a, t, NULL), 0);
    /* Beyond the log, or not a proof. */
    ck_assert_int_eq(audit_root(f.a, t, (uint64_t)n + 1, root), ERR_INVALID);
    ck_assert_int_eq(audit_inclusion_proof(f.a, t, 5, 5, path, &len, NULL),
                     ERR_INVALID);
    ck_assert_int_eq(
        audit_inclusion_proof(f.a, t, 5, (uint64_t)n + 1, path, &len, NULL),
        ERR_INVALID);
    ck_assert_int_eq(audit_consistency_proof(f.a, t, 0, 5, path, &len),
                     ERR_INVALID);
    ck_assert_int_eq(audit_consistency_proof(f.a, t, 6, 5, path, &len),
                     ERR_INVALID);
    ck_assert_int_eq(
        audit_consistency_proof(f.a, t, 5, (uint64_t)n + 1, path, &len),
        ERR_INVALID);
    store_txn_abort(t);
    ck_assert_int_eq(store_stat(f.s, &st), 0);
    ck_assert_uint_eq(st.entries[STORE_DB_AUDIT], (uint64_t)n);
    ck_assert_uint_eq(st.entries[STORE_DB_AUDIT_TREE],
                      2 * (uint64_t)n - (uint64_t)__builtin_popcount(n));
    fx_close(&f);
}
END_TEST

/* Writer ops of the test: append |k| entries, then return |ret|. */
struct op_arg {
    struct fx *f;
    struct audit *a;
    int first, k, ret, append_rc;
};

static int
op_append(struct store_txn *txn, void *arg)
{
    struct op_arg *o = arg;
    struct ent x;

    for (int i = o->first; i < o->first + o->k; i++) {
        ent_make(&x, i, "caf");
        if (o->ret == ERR_INVALID)
            x.e.outcome = "maybe";
        if ((o->append_rc = audit_append(o->a, txn, &x.e, NULL)) != 0)
            return o->append_rc;
    }
    return o->ret;
}

static void
op_done(void *arg, int status)
{
    struct op_arg *o = arg;

    on_done(o->f, status);
}

static void
run_op(struct fx *f, struct op_arg *o)
{
    f->done = 0;
    o->f = f;
    o->a = f->a;
    ck_assert_int_eq(writer_submit(f->w, op_append, op_done, o), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f->done, 1);
}

START_TEST(test_append_fail_closed)
{
    static uint8_t leaves[MAXN][H];
    struct op_arg o;
    struct store_txn *t;
    struct fx f;
    struct ent x;
    static const char *const bad_outcome = "perhaps";
    char big[AUDIT_FIELD_MAX + 2];

    ck_assert_int_eq(fx_open(&f, data_dir, NULL), 0);
    audit__now_set(f.a, T0);
    /* Two appends in one op: both there. */
    o = (struct op_arg){.a = f.a, .first = 0, .k = 2, .ret = 0};
    run_op(&f, &o);
    ck_assert_int_eq(f.status[0], 0);
    ck_assert_uint_eq(log_size(&f), 2);
    /* The op fails after its append (a document that could not be read):
     * the entry goes with it. */
    o = (struct op_arg){.a = f.a, .first = 2, .k = 1, .ret = ERR_CORRUPT};
    run_op(&f, &o);
    ck_assert_int_eq(f.status[0], ERR_CORRUPT);
    ck_assert_uint_eq(log_size(&f), 2);
    /* An entry audit_append refuses fails the op. */
    o = (struct op_arg){.a = f.a, .first = 2, .k = 1, .ret = ERR_INVALID};
    run_op(&f, &o);
    ck_assert_int_eq(o.append_rc, ERR_INVALID);
    ck_assert_int_eq(f.status[0], ERR_INVALID);
    /* The batch commit fails: the entry is not durable, done says so. */
    store__fault_commit(f.s, ERR_FULL);
    ent_make(&x, 2, "caf");
    f.done = 0;
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.status[0], ERR_FULL);
    ck_assert_uint_eq(log_size(&f), 2);
    /* Then the log goes on with no gap. */
    record_n(&f, 2, 3, "caf", T0);
    ck_assert_uint_eq(log_size(&f), 5);
    for (int i = 0; i < 5; i++)
        ent_leaf(i, "caf", T0, leaves[i]);
    tree_check(&f, leaves, 5);
    t = fx_read(&f);
    ck_assert_int_eq(audit_verify(f.a, t, NULL), 0);
    store_txn_abort(t);

    /* Refused before anything is queued: done never runs. */
    f.done = 0;
    x.e.outcome = bad_outcome;
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    ent_make(&x, 2, "caf");
    x.e.principal = "";
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    ent_make(&x, 2, "caf");
    x.e.action = NULL;
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    ent_make(&x, 2, "caf");
    x.e.reason = "bad \xc3\x28 utf-8";
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    x.e.reason = "surrogate \xed\xa0\x80";
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    x.e.reason = big;
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), ERR_INVALID);
    big[AUDIT_FIELD_MAX] = '\0';
    x.e.reason = big;
    x.e.on_behalf_of = NULL; /* NULL reads as "" */
    ck_assert_int_eq(audit_record(f.a, &x.e, on_done, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.status[0], 0);
    ck_assert_uint_eq(log_size(&f), 6);
    fx_close(&f);
}
END_TEST

/* Runs |filter| from |start| and returns the indexes found in |out|. */
static int
query(struct fx *f, uint64_t start, const struct audit_filter *flt,
      uint64_t *out, int max)
{
    struct store_txn *t = fx_read(f);
    struct audit_query *q;
    Dossier__V1__AuditEntry *e;
    int n = 0, rc;

    ck_assert_int_eq(audit_query_open(f->a, t, start, flt, &q), 0);
    while ((rc = audit_query_next(q, 0, &e)) == 0) {
        ck_assert_int_lt(n, max);
        out[n++] = e->index;
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    }
    ck_assert_int_eq(rc, ERR_NOTFOUND);
    audit_query_close(q);
    store_txn_abort(t);
    return n;
}

START_TEST(test_query)
{
    struct audit_filter flt;
    Dossier__V1__AuditEntry *e;
    struct audit_query *q;
    struct store_txn *t;
    uint64_t got[MAXN];
    struct fx f;
    int n;

    ck_assert_int_eq(fx_open(&f, data_dir, NULL), 0);
    for (int b = 0; b < 4; b++)
        record_n(&f, 10 * b, 10, "caf", T0 + 1000 * b);
    /* Everything, from 0 and from 35. */
    ck_assert_int_eq(query(&f, 0, NULL, got, MAXN), 40);
    for (int i = 0; i < 40; i++)
        ck_assert_uint_eq(got[i], (uint64_t)i);
    ck_assert_int_eq(query(&f, 35, NULL, got, MAXN), 5);
    ck_assert_uint_eq(got[0], 35);
    ck_assert_int_eq(query(&f, 40, NULL, got, MAXN), 0);
    /* Each field. */
    memset(&flt, 0, sizeof(flt));
    flt.dossier_id = "d00000000000000000000000001";
    n = query(&f, 0, &flt, got, MAXN);
    ck_assert_int_eq(n, 10);
    for (int i = 0; i < n; i++)
        ck_assert_uint_eq(got[i] % 4, 1);
    memset(&flt, 0, sizeof(flt));
    flt.principal = "spiffe://dossier.test/agency/caf-2";
    flt.outcome = AUDIT_DENIED;
    n = query(&f, 0, &flt, got, MAXN);
    for (int i = 0; i < n; i++)
        ck_assert(got[i] % 3 == 2 && got[i] % 5 == 0);
    ck_assert_int_eq(n, 3); /* 5, 20, 35 */
    memset(&flt, 0, sizeof(flt));
    flt.action = "Consents.Grant";
    flt.from_ms = T0 + 1000;
    flt.until_ms = T0 + 3000;
    n = query(&f, 0, &flt, got, MAXN);
    for (int i = 0; i < n; i++)
        ck_assert(got[i] % 3 == 2 && got[i] >= 10 && got[i] < 30);
    ck_assert_int_eq(n, 7);
    memset(&flt, 0, sizeof(flt));
    flt.dossier_id = "nobody";
    ck_assert_int_eq(query(&f, 0, &flt, got, MAXN), 0);

    /* A bounded scan gives up with -EAGAIN and resumes where it was. */
    memset(&flt, 0, sizeof(flt));
    t = fx_read(&f);
    flt.action = "Documents.Get";
    flt.from_ms = T0 + 3000; /* the first match is entry 30 */
    ck_assert_int_eq(audit_query_open(f.a, t, 0, &flt, &q), 0);
    ck_assert_int_eq(audit_query_next(q, 16, &e), -EAGAIN);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(audit_query_position(q), 16);
    ck_assert_int_eq(audit_query_next(q, 16, &e), 0);
    ck_assert_uint_eq(e->index, 30);
    dossier__v1__audit_entry__free_unpacked(e, NULL);
    ck_assert_uint_eq(audit_query_position(q), 31);
    audit_query_close(q);
    /* ...or in a new query from that position. */
    ck_assert_int_eq(audit_query_open(f.a, t, 31, &flt, &q), 0);
    ck_assert_int_eq(audit_query_next(q, 0, &e), 0);
    ck_assert_uint_eq(e->index, 33);
    dossier__v1__audit_entry__free_unpacked(e, NULL);
    audit_query_close(q);
    audit_query_close(NULL);
    store_txn_abort(t);
    fx_close(&f);
}
END_TEST

/* A writer op that purges. */
struct purge_arg {
    struct fx *f;
    struct audit *a;
    int64_t before;
    uint64_t max, purged;
};

static int
op_purge(struct store_txn *txn, void *arg)
{
    struct purge_arg *p = arg;

    return audit_purge(p->a, txn, p->before, p->max, &p->purged);
}

static void
purge_done(void *arg, int status)
{
    struct purge_arg *p = arg;

    on_done(p->f, status);
}

static uint64_t
purge(struct fx *f, int64_t before, uint64_t max)
{
    struct purge_arg p = {.f = f, .a = f->a, .before = before, .max = max};

    f->done = 0;
    ck_assert_int_eq(writer_submit(f->w, op_purge, purge_done, &p), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->status[0], 0);
    return p.purged;
}

START_TEST(test_purge)
{
    static uint8_t leaves[MAXN][H];
    uint8_t roots[21][H], root[H];
    Dossier__V1__AuditEntry *e;
    struct store_txn *t;
    uint64_t got[MAXN];
    struct fx f;

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    for (int i = 0; i < 20; i++) {
        record_n(&f, i, 1, "caf", T0 + i);
        ent_leaf(i, "caf", T0 + i, leaves[i]);
    }
    t = fx_read(&f);
    for (int s = 0; s <= 20; s++)
        ck_assert_int_eq(audit_root(f.a, t, (uint64_t)s, roots[s]), 0);
    store_txn_abort(t);
    /* Older than T0 + 10: entries 0..9, four at a time at most. */
    audit__now_set(f.a, T0 + 99999);
    ck_assert_uint_eq(purge(&f, T0 + 10, 4), 4);
    ck_assert_uint_eq(purge(&f, T0 + 10, 4), 4);
    ck_assert_uint_eq(purge(&f, T0 + 10, 4), 2);
    ck_assert_uint_eq(purge(&f, T0 + 10, 4), 0);
    ck_assert_uint_eq(purge(&f, T0 + 10, 0), 0);

    t = fx_read(&f);
    for (int i = 0; i < 20; i++) {
        int rc = audit_get(f.a, t, (uint64_t)i, &e);

        ck_assert_int_eq(rc, i < 10 ? ERR_EXPIRED : 0);
        ck_assert(i < 10 ? e == NULL : e->index == (uint64_t)i);
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    }
    /* Every root is what it was; the purged leaves are still provable. */
    for (int s = 0; s <= 20; s++) {
        ck_assert_int_eq(audit_root(f.a, t, (uint64_t)s, root), 0);
        ck_assert_mem_eq(root, roots[s], H);
    }
    ck_assert_int_eq(audit_verify(f.a, t, NULL), 0);
    store_txn_abort(t);
    tree_check(&f, leaves, 20);
    ck_assert_int_eq(query(&f, 0, NULL, got, MAXN), 10);
    ck_assert_uint_eq(got[0], 10);
    /* The rest goes with a later date; the log grows on. */
    ck_assert_uint_eq(purge(&f, T0 + 1000, 0), 10);
    record_n(&f, 20, 2, "caf", T0 + 5000);
    ck_assert_int_eq(query(&f, 0, NULL, got, MAXN), 2);
    fx_close(&f);
    /* And the log opens again, checkpoint and all. */
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    fx_close(&f);
}
END_TEST

struct cp_got {
    int calls, status;
    struct audit_checkpoint cp;
};

static void
on_checkpoint(void *arg, int status, const struct audit_checkpoint *cp)
{
    struct cp_got *g = arg;

    g->calls++;
    g->status = status;
    g->cp = *cp;
}

static struct audit_checkpoint
checkpoint(struct fx *f)
{
    struct cp_got g = {0};

    ck_assert_int_eq(
        audit_checkpoint_request(f->a, &f->loop, on_checkpoint, &g), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(g.calls, 1);
    ck_assert_int_eq(g.status, 0);
    return g.cp;
}

/* Verifies |cp| with OpenSSL and the test's public key, over text built
 * here; returns 1 if the signature holds. */
static int
cp_verify(const struct audit_checkpoint *cp, uint64_t size, int64_t time)
{
    char text[256], hex[2 * H + 1];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int n, ok;

    for (int i = 0; i < H; i++)
        sprintf(hex + 2 * i, "%02x", cp->root[i]);
    n = snprintf(text, sizeof(text), "dossierd checkpoint v1\n%llu\n%s\n%lld\n",
                 (unsigned long long)size, hex, (long long)time);
    ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key), 1);
    ok = EVP_DigestVerify(ctx, cp->signature, AUDIT_SIG_LEN,
                          (const unsigned char *)text, (size_t)n);
    EVP_MD_CTX_free(ctx);
    return ok == 1;
}

START_TEST(test_checkpoint)
{
    struct audit_checkpoint cp, cp2;
    Dossier__V1__Checkpoint msg;
    unsigned char *der = NULL;
    uint8_t h[H], root[H];
    char text[AUDIT_CHECKPOINT_TEXT_MAX], longest[AUDIT_CHECKPOINT_TEXT_MAX];
    char file[1024];
    struct store_txn *t;
    struct fx f;
    FILE *fp;
    size_t n;
    int len;

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    /* The empty log has a checkpoint too. */
    audit__now_set(f.a, T0);
    cp = checkpoint(&f);
    ck_assert_uint_eq(cp.tree_size, 0);
    merkle_empty_root(root);
    ck_assert_mem_eq(cp.root, root, H);
    ck_assert(cp_verify(&cp, 0, T0));

    record_n(&f, 0, 5, "caf", T0 + 7);
    audit__now_set(f.a, T0 + 42);
    cp = checkpoint(&f);
    ck_assert_uint_eq(cp.tree_size, 5);
    ck_assert_int_eq(cp.time_ms, T0 + 42);
    t = fx_read(&f);
    ck_assert_int_eq(audit_root(f.a, t, 5, root), 0);
    store_txn_abort(t);
    ck_assert_mem_eq(cp.root, root, H);
    ck_assert(cp_verify(&cp, 5, T0 + 42));
    ck_assert(!cp_verify(&cp, 6, T0 + 42));
    ck_assert(!cp_verify(&cp, 5, T0 + 43));
    /* The key id: SHA-256 of the public key's DER, first 8 bytes. */
    len = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(crypto_sha256(der, (size_t)len, h), 0);
    OPENSSL_free(der);
    ck_assert_mem_eq(cp.key_id, h, AUDIT_KEY_ID_LEN);
    /* The text form, and the message. */
    n = audit_checkpoint_text(cp.tree_size, cp.root, cp.time_ms, text);
    ck_assert_uint_eq(n, strlen(text));
    ck_assert_str_eq(strchr(text, '\n') + 1 + 2 + 65,
                     "1700000000042\n"); /* "5\n" + root + "\n" */
    /* The longest text fits. */
    ck_assert_uint_eq(
        audit_checkpoint_text(UINT64_MAX, cp.root, INT64_MIN, longest), 130);
    ck_assert_uint_eq(strlen(longest), 130);
    audit_checkpoint_pb(&cp, &msg);
    ck_assert_uint_eq(msg.tree_size, 5);
    ck_assert_uint_eq(msg.root_hash.len, H);
    ck_assert_mem_eq(msg.root_hash.data, cp.root, H);
    ck_assert_uint_eq(msg.signature.len, AUDIT_SIG_LEN);
    ck_assert_uint_eq(msg.key_id.len, AUDIT_KEY_ID_LEN);
    ck_assert_int_eq(msg.time_unix_ms, T0 + 42);
    /* The file remembers it: the signed text, then key and signature. */
    ck_assert_ptr_nonnull(fp = fopen(cp_path, "r"));
    n = fread(file, 1, sizeof(file) - 1, fp);
    fclose(fp);
    file[n] = '\0';
    ck_assert_int_eq(strncmp(file, text, strlen(text)), 0);
    ck_assert_ptr_nonnull(strstr(file, "\nsignature "));
    /* Straight from a transaction of the caller's, too. */
    t = fx_read(&f);
    ck_assert_int_eq(audit_checkpoint(f.a, t, &cp2), 0);
    store_txn_abort(t);
    ck_assert_uint_eq(cp2.tree_size, 5);
    ck_assert(cp_verify(&cp2, 5, T0 + 42));
    fx_close(&f);
}
END_TEST

/* Copies the file |from| to |to|. */
static void
file_copy(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

START_TEST(test_rollback_refused)
{
    char mdb[200], saved[200], aside[200];
    struct fx f;

    snprintf(mdb, sizeof(mdb), "%s/data.mdb", data_dir);
    snprintf(saved, sizeof(saved), "%s/saved.mdb", base);
    snprintf(aside, sizeof(aside), "%s.aside", cp_path);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 0, 10, "caf", T0);
    checkpoint(&f);
    fx_close(&f);
    file_copy(mdb, saved); /* the backup, at size 10 */

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 10, 5, "caf", T0 + 1);
    ck_assert_uint_eq(checkpoint(&f).tree_size, 15);
    fx_close(&f);
    /* Restoring the old copy loses entries a checkpoint covered. */
    file_copy(saved, mdb);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), ERR_CORRUPT);
    ck_assert_ptr_null(f.a);
    fx_close(&f);
    /* Moved aside on purpose, the log opens at size 10. */
    ck_assert_int_eq(rename(cp_path, aside), 0);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    ck_assert_uint_eq(log_size(&f), 10);
    /* The file is made again by the next checkpoint. */
    ck_assert_uint_eq(checkpoint(&f).tree_size, 10);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    fx_close(&f);
}
END_TEST

START_TEST(test_fork_refused)
{
    struct fx f;

    /* Store A, checkpointed at 10. */
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 0, 10, "caf", T0);
    checkpoint(&f);
    fx_close(&f);
    /* Store B: other entries, the same size, then a longer log. */
    ck_assert_int_eq(fx_open(&f, data2_dir, NULL), 0);
    record_n(&f, 0, 10, "cpam", T0);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data2_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data2_dir, NULL), 0);
    record_n(&f, 10, 4, "cpam", T0);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data2_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    /* The same entries at another time are another log too. */
    ck_assert_int_eq(fx_open(&f, data3_dir, NULL), 0);
    record_n(&f, 0, 10, "caf", T0 + 1);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data3_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    /* A grown by more entries extends its checkpoint: fine. */
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 10, 7, "caf", T0 + 5);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    ck_assert_uint_eq(log_size(&f), 17);
    fx_close(&f);
}
END_TEST

/* Changes the store of |dir| directly (no writer, no audit): |key| of
 * |db| set to |val| (|len| bytes), or deleted when |val| is NULL. */
static void
store_poke(const char *dir, enum store_db db, const void *k, size_t klen,
           const void *val, size_t len)
{
    struct store *s;
    struct store_txn *t;

    ck_assert_int_eq(store_open(dir, 0, &s), 0);
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_WRITE, NULL, &t), 0);
    if (val == NULL)
        ck_assert_int_eq(store_del(t, db, k, klen), 0);
    else
        ck_assert_int_eq(store_put(t, db, k, klen, val, len, 0), 0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    store_close(s);
}

START_TEST(test_unreadable_refused)
{
    /* Subtree 0 of level 2: leaves 0 to 3, keyed by its last leaf. */
    static const uint8_t node20[9] = {0, 0, 0, 0, 0, 0, 0, 3, 2};
    static const uint8_t idx1[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t five[8] = {0, 0, 0, 0, 0, 0, 0, 5},
            four[8] = {0, 0, 0, 0, 0, 0, 0, 4};
    Dossier__Internal__AuditRecord *r;
    Dossier__V1__AuditEntry *e;
    uint8_t h[H], buf[4096], saved[H], rec1[4096];
    size_t rec1_len;
    struct store_txn *t;
    const void *val;
    uint64_t bad = 99;
    size_t len;
    struct fx f;
    FILE *fp;

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 0, 4, "caf", T0);
    checkpoint(&f);
    /* Save node (2, 0), the root, and record 1, to tamper with below. */
    t = fx_read(&f);
    ck_assert_int_eq(store_get(t, STORE_DB_AUDIT_TREE, node20, 9, &val, &len),
                     0);
    memcpy(saved, val, H);
    ck_assert_int_eq(store_get(t, STORE_DB_AUDIT, idx1, 8, &val, &len), 0);
    ck_assert_uint_lt(len, sizeof(rec1));
    memcpy(rec1, val, len);
    rec1_len = len;
    ck_assert_ptr_nonnull(
        r = dossier__internal__audit_record__unpack(NULL, len, val));
    store_txn_abort(t);
    fx_close(&f);

    /* A subtree of the root gone. */
    store_poke(data_dir, STORE_DB_AUDIT_TREE, node20, 9, NULL, 0);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    store_poke(data_dir, STORE_DB_AUDIT_TREE, node20, 9, saved, H);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    fx_close(&f);
    /* A size past the entries. */
    store_poke(data_dir, STORE_DB_META, "audit.size", 10, five, 8);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    store_poke(data_dir, STORE_DB_META, "audit.size", 10, four, 8);

    /* An entry rewritten in place (same leaf hash): open does not read
     * every entry, but reading it, and the full check, catch it. */
    r->entry.data[r->entry.len - 1] ^= 0x01;
    len = dossier__internal__audit_record__pack(r, buf);
    store_poke(data_dir, STORE_DB_AUDIT, idx1, 8, buf, len);
    dossier__internal__audit_record__free_unpacked(r, NULL);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    t = fx_read(&f);
    ck_assert_int_eq(audit_get(f.a, t, 1, &e), ERR_CORRUPT);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(audit_get(f.a, t, 2, &e), 0);
    dossier__v1__audit_entry__free_unpacked(e, NULL);
    ck_assert_int_eq(audit_verify(f.a, t, &bad), ERR_CORRUPT);
    ck_assert_uint_eq(bad, 1);
    store_txn_abort(t);
    fx_close(&f);
    store_poke(data_dir, STORE_DB_AUDIT, idx1, 8, rec1, rec1_len);
    /* A subtree hash changed: the root no longer matches the checkpoint
     * (and the full check finds which). */
    memset(h, 0x5a, H);
    store_poke(data_dir, STORE_DB_AUDIT_TREE, node20, 9, h, H);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), ERR_CORRUPT);
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, data_dir, NULL), 0);
    t = fx_read(&f);
    ck_assert_int_eq(audit_verify(f.a, t, &bad), ERR_CORRUPT);
    ck_assert_uint_eq(bad, 0);
    store_txn_abort(t);
    fx_close(&f);
    /* A checkpoint file that is not one. */
    ck_assert_ptr_nonnull(fp = fopen(cp_path, "w"));
    fputs("dossierd checkpoint v1\n4\nzz\n", fp);
    fclose(fp);
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), ERR_CONFIG);
    fx_close(&f);
}
END_TEST

/*
 * Rewrites the store of |dir| the way store format 1 held the log's
 * subtree hashes, with LMDB itself: in "audit-nodes", keyed by level then
 * index, "audit-tree" deleted, META["format"] = 1.  With |bad|, also one
 * key of the wrong length.
 */
static void
store_to_format1(const char *dir, bool bad)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi tree, nodes, meta;
    MDB_cursor *c;
    MDB_val k, v, ok = {sizeof(STORE_FORMAT_KEY) - 1, STORE_FORMAT_KEY},
                  ov = {4, "\0\0\0\1"};
    uint8_t old[9];
    int rc;

    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_set_mapsize(env, STORE_MAP_SIZE_DEFAULT), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "audit-tree", 0, &tree), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "audit-nodes", MDB_CREATE, &nodes), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ck_assert_int_eq(mdb_cursor_open(txn, tree, &c), 0);
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        const uint8_t *p = k.mv_data;
        MDB_val nk = {sizeof(old), old};

        ck_assert_uint_eq(k.mv_size, 9);
        old[0] = p[8];
        be_put64(old + 1, ((be_get64(p) + 1) >> p[8]) - 1);
        ck_assert_int_eq(mdb_put(txn, nodes, &nk, &v, MDB_NOOVERWRITE), 0);
    }
    ck_assert_int_eq(rc, MDB_NOTFOUND);
    mdb_cursor_close(c);
    if (bad) {
        MDB_val bk = {8, "badkey!!"};

        ck_assert_int_eq(mdb_put(txn, nodes, &bk, &v, 0), 0);
    }
    ck_assert_int_eq(mdb_drop(txn, tree, 1), 0);
    ck_assert_int_eq(mdb_put(txn, meta, &ok, &ov, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The format record of the store of |dir|, and whether it still has an
 * "audit-nodes" database, read with LMDB itself. */
static uint32_t
store_format_of(const char *dir, bool *has_old)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, nodes;
    MDB_val k = {sizeof(STORE_FORMAT_KEY) - 1, STORE_FORMAT_KEY}, v;
    uint32_t version;

    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ck_assert_int_eq(mdb_get(txn, meta, &k, &v), 0);
    ck_assert_uint_eq(v.mv_size, 4);
    version = be_get32(v.mv_data);
    *has_old = mdb_dbi_open(txn, "audit-nodes", 0, &nodes) == 0;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

/* A store of format 1 (subtree hashes keyed by level first) is converted
 * at its first read-write open: the same roots and proofs, the checkpoint
 * handed out before still matching, appends going on after; a read-only
 * open reads it as it is, untouched; a damaged one is refused and left as
 * is. */
START_TEST(test_format1_converted)
{
    static uint8_t leaves[MAXN][H];
    struct store_stat st;
    struct store *s = NULL;
    struct store_txn *t;
    bool has_old;
    const int n = 37, more = 28;
    struct fx f;

    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    record_n(&f, 0, n, "caf", T0);
    checkpoint(&f);
    fx_close(&f);
    for (int i = 0; i < n; i++)
        ent_leaf(i, "caf", T0, leaves[i]);
    store_to_format1(data_dir, false);
    ck_assert_uint_eq(store_format_of(data_dir, &has_old), 1);
    ck_assert(has_old);

    /* Read-only (status, a backup made before format 2): read as it is,
     * the same roots, proofs and full check, and left unchanged. */
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(store_open_readonly(data_dir, true, &f.s), 0);
    ck_assert_int_eq(store_stat(f.s, &st), 0);
    ck_assert_uint_eq(st.format, 1);
    ck_assert_int_eq(audit_open(f.s, NULL, key_path, cp_path, &f.a), 0);
    tree_check(&f, leaves, (uint64_t)n);
    t = fx_read(&f);
    ck_assert_int_eq(audit_verify(f.a, t, NULL), 0);
    store_txn_abort(t);
    audit_close(f.a);
    store_close(f.s);
    ck_assert_uint_eq(store_format_of(data_dir, &has_old), 1);
    ck_assert(has_old);

    /* The checkpoint's root is found again: open compares them. */
    ck_assert_int_eq(fx_open(&f, data_dir, cp_path), 0);
    ck_assert_uint_eq(store_format_of(data_dir, &has_old),
                      STORE_FORMAT_VERSION);
    ck_assert(!has_old);
    tree_check(&f, leaves, (uint64_t)n);
    record_n(&f, n, more, "caf", T0 + 1000);
    for (int i = n; i < n + more; i++)
        ent_leaf(i, "caf", T0 + 1000, leaves[i]);
    tree_check(&f, leaves, (uint64_t)(n + more));
    ck_assert_int_eq(store_stat(f.s, &st), 0);
    ck_assert_uint_eq(st.format, STORE_FORMAT_VERSION);
    ck_assert_uint_eq(st.entries[STORE_DB_AUDIT_TREE],
                      2 * (uint64_t)(n + more) -
                          (uint64_t)__builtin_popcount(n + more));
    checkpoint(&f);
    fx_close(&f);

    /* A malformed key: refused, nothing converted. */
    store_to_format1(data_dir, true);
    ck_assert_int_eq(store_open(data_dir, 0, &s), ERR_CORRUPT);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(store_format_of(data_dir, &has_old), 1);
    ck_assert(has_old);
}
END_TEST

Suite *
suite_audit(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_key_refused);
    tcase_add_test(tc, test_append_roots_proofs);
    tcase_add_test(tc, test_append_fail_closed);
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_purge);
    tcase_add_test(tc, test_checkpoint);
    tcase_add_test(tc, test_rollback_refused);
    tcase_add_test(tc, test_fork_refused);
    tcase_add_test(tc, test_unreadable_refused);
    tcase_add_test(tc, test_format1_converted);
    suite_add_tcase(s, tc);
    return s;
}
