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
#include "dossier/v1/documents.pb-c.h"
#include "dossier/v1/persons.pb-c.h"

struct catalog;
struct keyring;
struct store;
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

/* Records a new situation revision; |*rev| is set at once. */
int vault_situation_put(struct vault *v, const struct vault_person *p,
                        const Dossier__V1__Situation *s, uint64_t *rev,
                        vault_done_fn *done, void *arg);

/* Crypto-shreds the person: DEK deleted first, then every record; an
 * erasure record (dates only) remains.  ERR_NOTFOUND if unknown. */
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

/* Chunk |n| of |d|'s content, opened into |out| (appended; the caller
 * wipes it).  Returns 0, ERR_NOTFOUND (missing: the content is not whole)
 * or ERR_CORRUPT. */
int vault_doc_chunk(struct vault *v, const struct vault_person *p,
                    const struct vault_doc *d, uint32_t n, struct buf *out);

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

/* Re-wraps up to |max| DEKs that are not under the current master key, in
 * one durable transaction of the key store.  |*done| counts those
 * re-wrapped, |*left| those still to do.  Safe to interrupt at any point.
 * Loop thread (it uses the keyring).  Returns 0 or a store error. */
int vault_rewrap_step(struct vault *v, size_t max, size_t *done,
                      size_t *left);

#endif
