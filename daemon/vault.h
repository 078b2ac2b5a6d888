/*
 * vault.h -- the encrypted per-person dossier on top of store.h.
 *
 * Seals every personal value with the person's data key (DEK) before it
 * reaches the store, and opens it on the way out; the additional data of
 * each seal binds it to its person, kind of record, object, version and
 * chunk, so a flipped byte or a record moved to another key is ERR_CORRUPT,
 * never wrong data.  Index keys hold only opaque ids and keyed hashes.
 *
 * DEKs live wrapped by the master key in a separate key store (its own
 * LMDB environment, next to the keys, not in the data directory).  Erasing
 * a person deletes the DEK there first: from then on nothing of the person
 * can be decrypted, from the live data file or from any copy of it.
 *
 * Knows nothing of gRPC or consent: callers decide who may do what.
 * Reads run on the calling thread (the loop) in short read transactions;
 * writes go through the writer (group commit) and complete on the loop.
 */
#ifndef DOSSIER_VAULT_H
#define DOSSIER_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dossier/v1/consents.pb-c.h"
#include "dossier/v1/documents.pb-c.h"
#include "dossier/v1/persons.pb-c.h"

struct catalog;
struct keyring;
struct store;
struct store_txn;
struct writer;
struct vault;
struct vault_upload;

#define VAULT_ID_LEN 16
#define VAULT_ID_STR 28 /* kind letter, 26 base32 digits, NUL */
#define VAULT_CHUNK (64 * 1024) /* plaintext bytes per stored chunk */

struct vault_id {
    uint8_t b[VAULT_ID_LEN];
};

/* An opened person: the DEK in clear, wiped by vault_person_close(). */
struct vault_person {
    struct vault_id id;
    uint8_t dek[32];
    bool open;
};

/* Completion of a write, on the loop thread.  |status| is 0 or an error
 * (ERR_FULL, ERR_EXISTS, ERR_NOTFOUND, -EIO...). */
typedef void vault_done_fn(void *arg, int status);

/*
 * Opens the vault: |data| is the document store, |keys| the DEK store (a
 * second environment), |w| the writer of |data|, |kr| the master and
 * pepper keys, |cat| the catalogue of document types, |max_document| the
 * largest content accepted.  None is owned.  Clears deposits left
 * unfinished by a crash.  Returns 0 or an error (logged).
 */
int vault_open(struct store *data, struct store *keys, struct writer *w,
               struct keyring *kr, const struct catalog *cat,
               uint64_t max_document, struct vault **out);
void vault_close(struct vault *v);

/* Replaces the keyring (after a reload: a new master key).  Not owned.
 * Loop thread: every use of the keyring is on the loop thread. */
void vault_set_keyring(struct vault *v, struct keyring *kr);

/* The printable dossier id ("d" and 26 Crockford base32 characters, e.g.
 * d01hq3...; document ids start with "p", facts with "f") and back.
 * vault_id_parse returns 0 or ERR_INVALID. */
void vault_id_format(const struct vault_id *id, char out[VAULT_ID_STR]);
int vault_id_parse(const char *s, struct vault_id *out);

/* --- changes ---------------------------------------------------------
 *
 * Every write that changes what an agency may need to know (a document
 * version, a situation, a consent granted or revoked, an erasure) tells
 * the change hook, inside its own writer transaction, before it ends: the
 * hook's writes (the event log, events.h) commit or fail with the change,
 * and a hook error drops the change.  The vault knows nothing of who is
 * told; it only says what changed.
 */

enum vault_change_kind {
    VAULT_CHANGE_DOCUMENT,        /* a new document, or a new version */
    VAULT_CHANGE_SITUATION,       /* a new situation revision */
    VAULT_CHANGE_CONSENT_GRANTED, /* |consent| as granted */
    VAULT_CHANGE_CONSENT_REVOKED, /* |consent| as revoked */
    VAULT_CHANGE_ERASURE,         /* the person is being erased */
};

struct vault_change {
    enum vault_change_kind kind;
    const char *object_id;  /* document ("p..."), consent ("c..."), or "" */
    const char *type;       /* document type, or "" */
    int64_t version;        /* document version, situation revision */
    const char *life_event; /* situation: the life event declared, or "" */
    const uint8_t *situation; /* situation: packed dossier.v1.Situation */
    size_t situation_len;
    const Dossier__V1__Consent *consent; /* consent changes */
};

/*
 * The hook: runs on the writer thread in |t|, the change's own (child)
 * transaction, with the opened person |p| (for an erasure: opened just
 * before its DEK goes; |p| is NULL if the DEK could not be opened).
 * Returns 0 to go on, or an error that drops the change and reaches its
 * done callback.
 */
typedef int vault_change_fn(struct store_txn *t, const struct vault_person *p,
                            const struct vault_id *dossier,
                            const struct vault_change *ch, void *arg);

/* Sets the change hook (NULL: none).  Before any write; loop thread. */
void vault_set_change_hook(struct vault *v, vault_change_fn *fn, void *arg);

/* --- persons --------------------------------------------------------- */

/*
 * Enrols a person from |req| (NIR already validated and normalised into
 * |nir|): makes the dossier id and DEK, seals identity and situation.
 * |*id| is filled at once; |done| runs when the enrolment is durable, with
 * ERR_EXISTS if the NIR is already enrolled.
 */
int vault_person_enrol(struct vault *v, const char *nir,
                       const Dossier__V1__EnrolRequest *req,
                       struct vault_id *id, vault_done_fn *done, void *arg);

/* Looks up the dossier of a normalised NIR.  0 or ERR_NOTFOUND. */
int vault_person_find_nir(struct vault *v, const char *nir,
                          struct vault_id *out);

/* The dossier linked to a person's certificate id.  0 or ERR_NOTFOUND. */
int vault_person_find_principal(struct vault *v, const char *principal_id,
                                struct vault_id *out);

/* Unwraps the DEK of |id| into |p|.  Returns 0, ERR_NOTFOUND (no such
 * dossier, or erased), ERR_CORRUPT or ERR_KEY. */
int vault_person_open(struct vault *v, const struct vault_id *id,
                      struct vault_person *p);
void vault_person_close(struct vault_person *p);

/* The current situation (and its history when |history|): a message the
 * caller frees with dossier__v1__get_situation_response__free_unpacked(..,
 * NULL).  Returns 0, ERR_NOTFOUND or ERR_CORRUPT. */
int vault_situation_get(struct vault *v, const struct vault_person *p,
                        bool history, Dossier__V1__GetSituationResponse **out);

/* Records |s| as the next situation revision: |*rev| (which must stay
 * valid until then) is set to it just before |done| runs with 0.
 * Concurrent updates get successive revisions.  |life_event| (copied;
 * NULL or "") names the life event declared with it, for the change
 * hook. */
int vault_situation_put(struct vault *v, const struct vault_person *p,
                        const Dossier__V1__Situation *s, const char *life_event,
                        uint64_t *rev, vault_done_fn *done, void *arg);

/* Crypto-shreds the person: DEK deleted first, then every record; an
 * erasure record (dates only) remains.  ERR_NOTFOUND if unknown.  The
 * change hook runs first, with the person opened here (loop thread). */
int vault_person_erase(struct vault *v, const struct vault_id *id,
                       vault_done_fn *done, void *arg);

/* --- documents ------------------------------------------------------- */

/*
 * Starts a deposit.  |meta| has been validated by the caller (type in the
 * catalogue, dates, names); |issuer| is the depositor's principal URI.  If
 * meta->supersedes names a document of the person, the deposit becomes its
 * next version.  Returns 0 with |*out| set, ERR_INVALID (supersedes is not
 * a document id), ERR_NOTFOUND (no such document in the dossier), or
 * -ENOMEM.
 */
int vault_upload_begin(struct vault *v, const struct vault_person *p,
                       const Dossier__V1__DocumentMeta *meta,
                       const char *issuer, struct vault_upload **out);

/* Adds content; whole chunks are sealed and written by the writer.  |done|
 * runs once per chunk handed to the writer, when it is written, or once at
 * once (from inside this call) if the bytes were only buffered: use it with
 * vault_upload_pending() to bound what is in flight.  Returns 0, ERR_TOOBIG
 * past the configured maximum, or -ENOMEM. */
int vault_upload_write(struct vault_upload *u, const uint8_t *data,
                       size_t len, vault_done_fn *done, void *arg);

/* Bytes accepted by vault_upload_write and not yet written. */
size_t vault_upload_pending(const struct vault_upload *u);

/*
 * Ends the deposit: checks the declared size and SHA-256 (ERR_INVALID with
 * |why| set if they differ), then commits the metadata, making the
 * document visible at once and whole.  |meta_out| (owned by the upload,
 * valid until vault_upload_free) describes the stored document.
 */
int vault_upload_finish(struct vault_upload *u, const char **why,
                        vault_done_fn *done, void *arg);
const Dossier__V1__DocumentMeta *vault_upload_meta(const struct vault_upload *u);

/* Releases the upload; no callback of it runs afterwards.  An unfinished
 * deposit has its chunks removed; one whose commit is in flight is kept if
 * the commit succeeds and removed if it fails. */
void vault_upload_free(struct vault_upload *u);

/* An opened document version: its metadata and where its content is. */
struct vault_doc {
    Dossier__V1__DocumentMeta *meta; /* owned */
    uint8_t blob[VAULT_ID_LEN];
    uint32_t chunks; /* content is chunks 0..chunks-1 */
};

/* Opens document |doc_id| at |version| (0: the latest) into |*out|, which
 * the caller releases with vault_doc_close().  Returns 0, ERR_NOTFOUND,
 * ERR_INVALID (malformed id) or ERR_CORRUPT. */
int vault_doc_open(struct vault *v, const struct vault_person *p,
                   const char *doc_id, uint32_t version, struct vault_doc *out);
void vault_doc_close(struct vault_doc *d);

/* Plaintext bytes of chunk |n| of |d| (every chunk but the last is
 * VAULT_CHUNK), from the sealed size; 0 when |n| is past the end. */
size_t vault_doc_chunk_len(const struct vault_doc *d, uint32_t n);

/* Chunk |n| of |d|'s content, opened into |out|, which has room for
 * vault_doc_chunk_len(d, n) bytes and gets exactly that many (the caller
 * wipes them): the read path decrypts straight into the bytes it sends.
 * Each chunk is sealed with its person, blob and index as associated data
 * and the blob is bound to the sealed metadata, so a chunk that opens is
 * this version's chunk |n|.  Returns 0, ERR_NOTFOUND (missing: the
 * content is not whole) or ERR_CORRUPT (altered, or not of its length:
 * nothing is left in |out|). */
int vault_doc_chunk(struct vault *v, const struct vault_person *p,
                    const struct vault_doc *d, uint32_t n, uint8_t *out);

/* Every document's metadata (latest versions, or all when |all|),
 * optionally of one |type| (NULL: all).  The caller frees the array and
 * each element.  Returns 0 or an error. */
int vault_doc_list(struct vault *v, const struct vault_person *p,
                   const char *type, bool all,
                   Dossier__V1__DocumentMeta ***out, size_t *n);

/* --- agency data ----------------------------------------------------- */

int vault_fact_put(struct vault *v, const struct vault_person *p,
                   const Dossier__V1__AgencyFact *f, const char *issuer,
                   char fact_id[VAULT_ID_STR], vault_done_fn *done, void *arg);
int vault_fact_list(struct vault *v, const struct vault_person *p,
                    const char *type, Dossier__V1__AgencyFact ***out,
                    size_t *n);

/* --- keys ------------------------------------------------------------ */

/* Re-wraps up to |max| DEKs that are not under |kr|'s current master key,
 * in the key-store transaction of the writer's batch, durable before the
 * operation is reported done.  |*done| counts those
 * re-wrapped, |*left| those still to do.  Safe to interrupt at any point.
 * Runs as a writer operation (rotate.c), so that every enrolment queued
 * before it is stored first and seen by its scan; |kr| is read-only and
 * must stay alive while it runs.  Returns 0 or a store or key error. */
int vault_rewrap_step(struct vault *v, const struct keyring *kr, size_t max,
                      size_t *done, size_t *left);

/* === grants: consents and mandates (vault_grants.c) ===================
 *
 * CONSENTS[dossier | consent] and MANDATES[dossier | mandate] hold the
 * dossier.v1.Consent and dossier.v1.Mandate records sealed with the
 * person's DEK.  GRANTS indexes who holds what, with principal URIs,
 * agency kinds and opaque ids only:
 *   GRANTS['a' agency URI 0 | dossier | consent]   consent to one agency
 *   GRANTS['k' agency kind 0 | dossier | consent]  consent to a kind
 *   GRANTS['d' delegate URI 0 | dossier | mandate] mandate
 * (value: valid_until, 8 bytes big-endian).  Records are never deleted
 * by a revocation: they are marked, so that the person keeps the history.
 * This module stores and seals; policy.c decides what a record allows.
 */

struct store_txn;

/*
 * Runs on the writer thread inside the transaction |t| of a grant or a
 * revocation, before anything is written, with the opened person |p| and
 * the record about to be stored (grant) or as stored (revocation): a
 * Dossier__V1__Consent or Dossier__V1__Mandate.  Returns 0 to go on, or
 * an error (ERR_DENIED...) that drops the write and reaches the done
 * callback as is.
 */
typedef int vault_grant_check_fn(struct store_txn *t,
                                 const struct vault_person *p,
                                 const ProtobufCMessage *rec, void *arg);

/* The writer the vault writes with (for operations that must read and
 * decide in the writer's transaction).  Valid until vault_close. */
struct writer *vault_writer(struct vault *v);

/* Begins a read transaction on the dossier store, for reading grants on
 * the calling thread; end it with store_txn_abort().  Returns 0 or as
 * store_txn_begin(). */
int vault_read_begin(struct vault *v, struct store_txn **out);

/* Printable consent ("c...") and mandate ("m...") ids and back; parse
 * returns 0 or ERR_INVALID. */
int vault_consent_id_parse(const char *s, struct vault_id *out);
int vault_mandate_id_parse(const char *s, struct vault_id *out);
int vault_document_id_parse(const char *s, struct vault_id *out);

/* A new consent ("c...") or mandate ("m...") id, for the record to
 * grant.  Returns 0 or the error of crypto_random. */
int vault_consent_id_new(char out[VAULT_ID_STR]);
int vault_mandate_id_new(char out[VAULT_ID_STR]);

/*
 * Stores consent |c| (validated by the caller; consent_id made by
 * vault_consent_id_new; agency or agency_kind set) for |p|, sealed now,
 * and indexes it under its agency or kind.  |check| (may be NULL) runs
 * first in the writer's transaction with |c|, which must stay unchanged
 * until |done| runs, on the loop, with 0 once durable, ERR_EXISTS (the id
 * is taken), |check|'s error, or a store error.  Returns 0 (|done| will
 * run), or ERR_INVALID (bad id, agency URI too long), -ENOMEM,
 * ERR_UNAVAILABLE or -EIO without running it.
 */
int vault_consent_grant(struct vault *v, const struct vault_person *p,
                        const Dossier__V1__Consent *c,
                        vault_grant_check_fn *check, void *check_arg,
                        vault_done_fn *done, void *arg);

/*
 * Marks consent |consent_id| of |p| revoked at the time the writer runs,
 * by principal URI |by| (copied).  |check| (may be NULL) sees the stored
 * record first.  |done| gets 0 once durable (also if it was already
 * revoked: the first revocation's time is kept), ERR_NOTFOUND, |check|'s
 * error, or a store error.  Returns 0, ERR_INVALID (not a consent id;
 * |done| will not run), or as vault_consent_grant.
 */
int vault_consent_revoke(struct vault *v, const struct vault_person *p,
                         const char *consent_id, const char *by,
                         vault_grant_check_fn *check, void *check_arg,
                         vault_done_fn *done, void *arg);

/* As vault_consent_grant, for mandate |m| (mandate_id made by
 * vault_mandate_id_new, delegate set), indexed under its delegate. */
int vault_mandate_grant(struct vault *v, const struct vault_person *p,
                        const Dossier__V1__Mandate *m,
                        vault_grant_check_fn *check, void *check_arg,
                        vault_done_fn *done, void *arg);

/* As vault_consent_revoke, for a mandate. */
int vault_mandate_revoke(struct vault *v, const struct vault_person *p,
                         const char *mandate_id, const char *by,
                         vault_grant_check_fn *check, void *check_arg,
                         vault_done_fn *done, void *arg);

/*
 * In transaction |t| (any thread, the thread of |t|): the consents of
 * |p|'s dossier held by agency |agency_uri| or by its kind |agency_kind|
 * (either may be NULL), opened into |*out| (|*n| of them; the caller
 * frees them with vault_consents_free).  Returns 0, ERR_CORRUPT, -ENOMEM
 * or a store error.
 */
int vault_consents_held_txn(struct store_txn *t, const struct vault_person *p,
                            const char *agency_uri, const char *agency_kind,
                            Dossier__V1__Consent ***out, size_t *n);

/* In |t|: consent |consent_id| of |p| into |*out| (caller frees it with
 * dossier__v1__consent__free_unpacked).  0, ERR_INVALID, ERR_NOTFOUND,
 * ERR_CORRUPT or a store error. */
int vault_consent_get_txn(struct store_txn *t, const struct vault_person *p,
                          const char *consent_id, Dossier__V1__Consent **out);

/* In write transaction |t|: stores |c| again (same id) sealed under |p|,
 * e.g. a one-shot consent marked spent.  0, ERR_INVALID or a store
 * error. */
int vault_consent_put_txn(struct store_txn *t, const struct vault_person *p,
                          const Dossier__V1__Consent *c);

/* In |t|: the mandates of |p|'s dossier held by |delegate_uri|; freed
 * with vault_mandates_free.  As vault_consents_held_txn. */
int vault_mandates_held_txn(struct store_txn *t, const struct vault_person *p,
                            const char *delegate_uri,
                            Dossier__V1__Mandate ***out, size_t *n);

/* In |t|: every consent of |p|'s dossier.  As vault_consents_held_txn. */
int vault_consent_list_txn(struct store_txn *t, const struct vault_person *p,
                           Dossier__V1__Consent ***out, size_t *n);

/* Every consent / mandate of |p|'s dossier (loop thread, own read
 * transaction).  As vault_consents_held_txn. */
int vault_consent_list(struct vault *v, const struct vault_person *p,
                       Dossier__V1__Consent ***out, size_t *n);
int vault_mandate_list(struct vault *v, const struct vault_person *p,
                       Dossier__V1__Mandate ***out, size_t *n);

/*
 * The consents held by |agency_uri| or its kind |agency_kind| across
 * dossiers (only |dossier|'s when not NULL), at most |max|: each person is
 * opened with the keyring, so loop thread only.  Dossiers that were
 * erased (their key is gone) are skipped.  As vault_consents_held_txn.
 */
int vault_consent_list_held(struct vault *v, const char *agency_uri,
                            const char *agency_kind,
                            const struct vault_id *dossier, size_t max,
                            Dossier__V1__Consent ***out, size_t *n);

/* The mandates held by |delegate_uri|, as vault_consent_list_held. */
int vault_mandate_list_held(struct vault *v, const char *delegate_uri,
                            const struct vault_id *dossier, size_t max,
                            Dossier__V1__Mandate ***out, size_t *n);

void vault_consents_free(Dossier__V1__Consent **v, size_t n);
void vault_mandates_free(Dossier__V1__Mandate **v, size_t n);

/*
 * In write transaction |t|: removes every consent and mandate of dossier
 * |id| and their GRANTS entries (for the erasure of the person, in its
 * transaction: sealed under a DEK that is gone, they could not be read
 * anyway, but the index would still say who held what).  Walks the whole
 * index.  Returns 0 or a store error.  On the thread of |t|.
 */
int vault_grants_erase_txn(struct store_txn *t, const struct vault_id *id);

/* === end of grants ==================================================== */

#endif
