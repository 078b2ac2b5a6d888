/*
 * audit.h -- the tamper-evident access log, on top of store.h.
 *
 * Every access to a dossier (granted, denied or failed) becomes one entry
 * of an append-only log whose entries are the leaves of an RFC 9162 Merkle
 * tree (merkle.h).  The log keeps, in the same LMDB store as the data,
 * each entry (a serialised dossier.v1.AuditEntry) with its leaf hash, and
 * the hash of every complete subtree, so that roots and proofs of any
 * tree size cost O(log n) reads.  It signs checkpoints (tree size, root,
 * time) with an Ed25519 key, serves inclusion and consistency proofs, and
 * answers filtered scans.  The formats of the stored records are in
 * proto/internal/audit.proto.
 *
 * Fail closed.  audit_append writes in the caller's write transaction: the
 * writer op that reads a document appends its entry in the same child
 * transaction, so if the append fails the op fails, and if the batch does
 * not commit neither the entry nor anything else of the op is durable;
 * the answer goes out only from the done callback, after the commit.
 * Without a usable audit key or with an unreadable log, audit_open fails
 * and the daemon must not start.
 *
 * Rollback and fork protection.  A store copied back from an old backup,
 * or rebuilt with other entries, would still be a well-formed log.  So
 * the log remembers, in a small file outside the store (the checkpoint
 * file, e.g. <keys dir>/audit-checkpoint), the last checkpoint it handed
 * out, and audit_open refuses a store whose log is shorter than that
 * checkpoint (rolled back) or whose first entries do not hash to its root
 * (forked).  Auditors keep checkpoints too and check consistency proofs:
 * this is the daemon's own early warning, not the only defence.
 *
 * Retention.  audit_purge drops the bytes of old entries and keeps their
 * leaf hashes: every root, checkpoint and proof stays valid, only the
 * contents of the purged entries are gone.
 *
 * What this module does not do: decide who may read the log or which
 * entries a caller may see beyond the filter it is given (the audit
 * service does, per role), nor talk gRPC.  It never logs entry contents,
 * only indexes and sizes.
 *
 * Threads: a struct audit is read-only after audit_open, except for the
 * remembered checkpoint (behind a mutex), so its calls may run on any
 * thread, each with a transaction of that thread.  Writes (audit_append,
 * audit_purge) run on the writer thread inside writer ops; reads run on
 * any thread in read transactions; audit_checkpoint writes and syncs a
 * file, so it runs off the loop (audit_checkpoint_request does that).
 */
#ifndef DOSSIER_AUDIT_H
#define DOSSIER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "dossier/v1/audit.pb-c.h"
#include "buf.h"
#include "merkle.h"
#include "writer.h"

struct audit;
struct audit_query;
struct store;
struct store_txn;

/* File names in the keys directory. */
#define AUDIT_KEY_FILE "audit.key"               /* Ed25519, PKCS#8 PEM */
#define AUDIT_PUB_FILE "audit.pub"               /* its public key, PEM */
#define AUDIT_CHECKPOINT_FILE "audit-checkpoint" /* the last handed out */

#define AUDIT_FIELD_MAX 1024 /* bytes of one string field of an entry */
#define AUDIT_KEY_ID_LEN 8
#define AUDIT_SIG_LEN 64 /* Ed25519 */
/* The signed text of a checkpoint, at most, with its NUL: 23 + 21 + 65 +
 * 21 + 1 = 131 bytes for the largest size and time. */
#define AUDIT_CHECKPOINT_TEXT_MAX 160

/* The values of audit_entry.outcome. */
#define AUDIT_GRANTED "granted"
#define AUDIT_DENIED "denied"
#define AUDIT_ERROR "error"

/*
 * What happened, as the service saw it.  Plain NUL-terminated UTF-8
 * strings of at most AUDIT_FIELD_MAX bytes; NULL reads as "".  Never a
 * name, a NIR or a document's content: ids and codes only.
 */
struct audit_entry {
    const char *principal;      /* the caller's URI (required) */
    const char *on_behalf_of;   /* mandate chain "delegate-uri>dossier", "" */
    const char *action;         /* the RPC, "Documents.Get" (required) */
    const char *dossier_id;     /* pseudonymous dossier id, or "" */
    const char *object_id;      /* document, consent... id, or "" */
    const char *basis;          /* consent or mandate id, or "" */
    const char *purpose_code;   /* finalité code, or "" */
    const char *case_reference; /* the agency's case reference, or "" */
    const char *outcome;        /* AUDIT_GRANTED, AUDIT_DENIED, AUDIT_ERROR */
    const char *reason;         /* why denied or failed, or "" */
};

/*
 * A signed checkpoint.  The signature is Ed25519 over the text that
 * audit_checkpoint_text() writes -- exactly these bytes, four lines each
 * ended by "\n", numbers in decimal without leading zeros, the root in
 * lowercase hex:
 *
 *     dossierd checkpoint v1
 *     <tree_size>
 *     <root, 64 hex digits>
 *     <time_ms, milliseconds since 1970-01-01 UTC>
 *
 * A verifier rebuilds that text from the checkpoint's fields and checks
 * the signature with the audit public key (audit.pub); |key_id| is the
 * first 8 bytes of SHA-256 of that key's DER SubjectPublicKeyInfo, to
 * tell keys apart.
 */
struct audit_checkpoint {
    uint64_t tree_size;
    uint8_t root[MERKLE_HASH_LEN];
    int64_t time_ms;
    uint8_t key_id[AUDIT_KEY_ID_LEN];
    uint8_t signature[AUDIT_SIG_LEN];
};

/*
 * Opens the log kept in |s|.  Loads the Ed25519 signing key from
 * |key_file| (PKCS#8 PEM, mode 0600 or stricter, as tls_key_file_check
 * wants); checks that the log is readable (its size record, its last
 * entry, the subtrees of its root); then, if |checkpoint_file| exists,
 * that the log extends the checkpoint remembered there.  |w| is the
 * writer of |s|, used by audit_record only (NULL: audit_record is
 * refused).  Neither |s| nor |w| is owned; both must outlive the log.
 * |checkpoint_file| (copied) should be set in the daemon; NULL turns the
 * rollback check off (tests, offline tools).
 *
 * Returns 0 with |*out| set (free it with audit_close), or, each logged
 * once with the file or the index concerned:
 *   ERR_KEY      no usable audit key (missing, mode too open, not an
 *                Ed25519 private key): "run dossier-admin init-dev";
 *   ERR_CORRUPT  the log is unreadable (a record or subtree missing or
 *                malformed); or the log is shorter than the remembered
 *                checkpoint (the store was rolled back: restore the latest
 *                copy of the data, or move the checkpoint file aside if
 *                this is intended); or its first entries do not hash to
 *                the remembered root (a fork);
 *   ERR_CONFIG   the checkpoint file exists but cannot be parsed;
 *   -ENOMEM, -EIO, -EACCES (the files), or an error of store_txn_begin.
 * Any thread (reads files: at start-up, before serving).
 */
int audit_open(struct store *s, struct writer *w, const char *key_file,
               const char *checkpoint_file, struct audit **out);

/*
 * Signs |len| bytes of |msg| with the audit key (Ed25519) into |sig|: the
 * daemon's word on a checkpoint, and on the consent receipts people keep
 * (verifiable with audit.pub).  Returns 0, ERR_KEY (logged) or -ENOMEM.
 * Any thread (the key is read-only).
 */
int audit_sign(struct audit *a, const void *msg, size_t len,
               uint8_t sig[AUDIT_SIG_LEN]);

/* Wipes the key and frees |a|.  audit_close(NULL) is a no-op.  No call on
 * |a| may be running nor queued (stop the writer first). */
void audit_close(struct audit *a);

/*
 * Appends |e| to the log in write transaction |txn|: serialises it as a
 * dossier.v1.AuditEntry with its index (the log's size before the call)
 * and the current time, stores it with its leaf hash, stores the hash of
 * every complete subtree the new leaf completes, and the new size.  On
 * success |*index| (may be NULL) is the entry's index.  Nothing is
 * durable until |txn|'s outermost transaction commits.
 *
 * Returns 0; ERR_INVALID (|e| without principal or action, an outcome
 * other than the three, a field over AUDIT_FIELD_MAX bytes or not UTF-8);
 * ERR_CORRUPT (the stored log is inconsistent: logged); ERR_FULL, -ENOMEM
 * or another error of store_put.  On error |txn| may hold part of the
 * entry and must be aborted: a writer op returns the error, which aborts
 * its child transaction; the log is then as it was.
 * On the writer thread, inside a writer op (the thread of |txn|).
 */
int audit_append(struct audit *a, struct store_txn *txn,
                 const struct audit_entry *e, uint64_t *index);

/*
 * Appends |e| through the writer: copies |e|, submits a writer op that
 * only calls audit_append, and calls |done| (may be NULL) with |arg| on
 * the loop thread once the outcome is final: 0 when the entry is durable
 * (its batch committed), else the error of audit_append or of the commit.
 *
 * Returns 0 (|done| will run exactly once), or without running |done|:
 * ERR_INVALID (as audit_append: checked here already), ERR_UNAVAILABLE
 * (no writer, or the writer is stopping), -EIO (writes stopped after an
 * I/O error), -ENOMEM.  On the loop thread.
 */
int audit_record(struct audit *a, const struct audit_entry *e,
                 writer_done_fn *done, void *arg);

/*
 * The number of entries of the log as |txn| sees it, into |*size|.
 * Returns 0, ERR_CORRUPT (malformed size record) or an error of
 * store_get.  Any thread of |txn|; likewise for every reading call below.
 */
int audit_size(struct audit *a, struct store_txn *txn, uint64_t *size);

/*
 * The Merkle root of the first |size| entries into |out| (size 0: the
 * empty tree's root).  Returns 0, ERR_INVALID (|size| beyond the log),
 * ERR_CORRUPT (a subtree hash missing or malformed: logged) or an error
 * of store_get.
 */
int audit_root(struct audit *a, struct store_txn *txn, uint64_t size,
               uint8_t out[MERKLE_HASH_LEN]);

/*
 * The audit path of entry |index| in the tree of the first |size| entries
 * into |path| (room for MERKLE_PATH_MAX hashes; leaf end first, as RFC
 * 9162), its length into |*len|, and the entry's leaf hash into |leaf|
 * (may be NULL).  merkle_inclusion_verify(leaf, index, size, path, *len,
 * root of size) then holds.  Returns 0, ERR_INVALID (|index| >= |size|,
 * or |size| beyond the log), ERR_CORRUPT or an error of store_get.
 */
int audit_inclusion_proof(struct audit *a, struct store_txn *txn,
                          uint64_t index, uint64_t size,
                          uint8_t path[][MERKLE_HASH_LEN], size_t *len,
                          uint8_t leaf[MERKLE_HASH_LEN]);

/*
 * The consistency proof from the tree of the first |old_size| entries to
 * the tree of the first |new_size| into |path| (room for MERKLE_PATH_MAX
 * hashes), its length into |*len|.  Returns 0, ERR_INVALID (|old_size| 0
 * or > |new_size|, or |new_size| beyond the log), ERR_CORRUPT or an error
 * of store_get.
 */
int audit_consistency_proof(struct audit *a, struct store_txn *txn,
                            uint64_t old_size, uint64_t new_size,
                            uint8_t path[][MERKLE_HASH_LEN], size_t *len);

/*
 * Reads entry |index| into |*out|, which the caller frees with
 * dossier__v1__audit_entry__free_unpacked(*out, NULL); it holds no
 * pointer into the store.  The stored bytes are checked against the
 * entry's leaf hash first.  Returns 0, ERR_NOTFOUND (|index| beyond the
 * log), ERR_EXPIRED (purged under the retention rule: only its hash
 * remains), ERR_CORRUPT (bytes that do not match their leaf hash, or do
 * not parse: logged), -ENOMEM or an error of store_get.
 */
int audit_get(struct audit *a, struct store_txn *txn, uint64_t index,
              Dossier__V1__AuditEntry **out);

/*
 * A filter for audit_query: every field set must match (strings exactly);
 * NULL or "" strings and zero times match anything.
 */
struct audit_filter {
    const char *dossier_id;
    const char *principal; /* the entry's principal (an agency's own) */
    const char *action;
    const char *outcome;
    int64_t from_ms;  /* time >= from_ms, when nonzero */
    int64_t until_ms; /* time < until_ms, when nonzero */
};

/*
 * Starts a scan of the entries of |txn|'s log from index |start|, in
 * index order, returning those that match |f| (may be NULL: all).  |f|
 * and its strings are not copied: they must outlive the query.  Purged
 * entries are skipped.  On success |*out| is the query, ended by
 * audit_query_close() before |txn| ends.  Returns 0, -ENOMEM or an error
 * of store_cursor_open.
 */
int audit_query_open(struct audit *a, struct store_txn *txn, uint64_t start,
                     const struct audit_filter *f, struct audit_query **out);

/*
 * The next matching entry into |*out| (freed by the caller as for
 * audit_get).  Looks at no more than |max_scan| entries (0: no bound)
 * before giving up with -EAGAIN, so that a filter that matches little
 * does not hold the loop: call again (same transaction) or, in a later
 * transaction, open a new query from audit_query_position().
 * Returns 0, ERR_NOTFOUND (no more entries), -EAGAIN, ERR_CORRUPT (an
 * entry that fails its leaf hash: logged), -ENOMEM or a store error.
 */
int audit_query_next(struct audit_query *q, uint32_t max_scan,
                     Dossier__V1__AuditEntry **out);

/*
 * As audit_query_next, but appends the matching entry's stored bytes (the
 * serialized dossier.v1.AuditEntry its leaf hash covers) to |raw| instead
 * of returning it unpacked: what the Query service streams, so that a
 * verifier hashes exactly what the log hashed.  Same returns.
 */
int audit_query_next_raw(struct audit_query *q, uint32_t max_scan,
                         struct buf *raw);

/* The index the next audit_query_next will look at first. */
uint64_t audit_query_position(const struct audit_query *q);

/* Ends |q|; audit_query_close(NULL) is a no-op.  Before |q|'s txn ends. */
void audit_query_close(struct audit_query *q);

/*
 * Signs a checkpoint of the log as |txn| sees it (use a read transaction:
 * what it sees is committed, hence durable): its size, root, the current
 * time, into |*out|.  Before returning it, remembers it in the checkpoint
 * file (written under a temporary name, synced, renamed over the old one,
 * directory synced), unless the file already holds a checkpoint at least
 * as large: the remembered size never goes back.  A checkpoint that could
 * not be remembered is not returned.
 *
 * Returns 0, ERR_CORRUPT (as audit_root), ERR_KEY (signing failed:
 * logged), -EIO, -ENOSPC or another negative errno (the file could not be
 * written: logged), -ENOMEM.  Blocks on disk: any thread but the loop.
 */
int audit_checkpoint(struct audit *a, struct store_txn *txn,
                     struct audit_checkpoint *out);

/* Called on the loop thread with the outcome of audit_checkpoint_request:
 * |status| as audit_checkpoint (or -ECANCELED if libuv cancelled the
 * work); |cp| is valid only during the call. */
typedef void audit_checkpoint_fn(void *arg, int status,
                                 const struct audit_checkpoint *cp);

/*
 * Runs audit_checkpoint in a read transaction of its own on libuv's
 * thread pool and calls |cb| with |arg| on |loop|.  Returns 0 (|cb| will
 * run exactly once), or -ENOMEM or a libuv error without running |cb|.
 * On the loop thread.
 */
int audit_checkpoint_request(struct audit *a, uv_loop_t *loop,
                             audit_checkpoint_fn *cb, void *arg);

/*
 * Writes the signed text of a checkpoint (see struct audit_checkpoint)
 * into |out| with its NUL, and returns its length (without the NUL).
 * Pure; any thread.
 */
size_t audit_checkpoint_text(uint64_t tree_size,
                             const uint8_t root[MERKLE_HASH_LEN],
                             int64_t time_ms,
                             char out[AUDIT_CHECKPOINT_TEXT_MAX]);

/*
 * Points the fields of |msg| (initialised here) at those of |cp|: valid as
 * long as |cp| is, nothing to free.  Any thread.
 */
void audit_checkpoint_pb(const struct audit_checkpoint *cp,
                         Dossier__V1__Checkpoint *msg);

/*
 * Retention: replaces by nothing the bytes of the entries older than
 * |before_ms| (time < before_ms), oldest first, keeping their leaf hashes,
 * so every root and proof still verifies.  Stops at the first entry not
 * that old (so an entry written while the clock was set back waits for
 * the next purge that reaches past its neighbours), or after |max|
 * entries (0: no bound; bound it to keep writer ops short), and resumes
 * there next time.  |*purged| (may be NULL) gets the number of entries
 * emptied.  Returns 0, ERR_CORRUPT (a malformed record: logged) or an
 * error of store_get/store_put; on error |txn| must be aborted, as for
 * audit_append.  On the writer thread, inside a writer op.
 */
int audit_purge(struct audit *a, struct store_txn *txn, int64_t before_ms,
                uint64_t max, uint64_t *purged);

/*
 * Checks the whole log in |txn|, O(n): every unpurged entry against its
 * leaf hash, every stored subtree hash against its children.  Returns 0,
 * ERR_CORRUPT (with |*bad|, if not NULL, the index of the first entry
 * concerned: logged) or a store error.  For dossier-admin and tests; far
 * too slow for each start of a big log.  Any thread of |txn|.
 */
int audit_verify(struct audit *a, struct store_txn *txn, uint64_t *bad);

/* For tests: the time entries and checkpoints get, in ms since the epoch
 * (0: the real clock).  Set before the ops that use it are submitted. */
void audit__now_set(struct audit *a, int64_t ms);

#endif
