/*
 * vault_int.h -- what vault.c, vault_docs.c, vault_grants.c and events.c
 * share (events.c seals its bodies under the person's DEK like the vault's
 * own records).  Not for other modules: they use vault.h.
 */
#ifndef DOSSIER_VAULT_INT_H
#define DOSSIER_VAULT_INT_H

#include <protobuf-c/protobuf-c.h>

#include "internal/records.pb-c.h"
#include "store.h"
#include "vault.h"

struct vault {
    struct store *data;
    struct store *keys;
    struct writer *writer;
    struct keyring *keyring;
    const struct catalog *catalog;
    uint64_t max_document;
    vault_change_fn *change_fn;
    void *change_arg;
    /* Writer thread only: the key-store write transaction of the batch
     * being run, begun by the first operation that writes a key and
     * committed just before the batch (vault__keys_begin). */
    struct store_txn *keys_batch;
};

/* Tells the change hook, if any, of |ch| (writer thread, in |t|). */
int vault__changed(struct vault *v, struct store_txn *t,
                   const struct vault_person *p, const struct vault_id *dossier,
                   const struct vault_change *ch);

/* The printable form of an id: |kind| ('d' dossier, 'p' pièce, 'f' fact)
 * then 26 Crockford base32 digits.  Parse returns 0 or ERR_INVALID. */
void vault__id_format(const struct vault_id *id, char kind,
                      char out[VAULT_ID_STR]);
int vault__id_parse(const char *s, char kind, struct vault_id *out);

/* Builds a store key: |id| then |a| then |b|; returns its length.  |key|
 * must hold VAULT_ID_LEN + alen + blen bytes. */
size_t vault__key(uint8_t *key, const struct vault_id *id, const void *a,
                  size_t alen, const void *b, size_t blen);

/* Builds additional data: a one-letter record tag, then as vault__key. */
size_t vault__aad(uint8_t *aad, char tag, const struct vault_id *id,
                  const void *a, size_t alen, const void *b, size_t blen);

int64_t vault__now(void);

/* Packs |m| and seals it under |p|'s DEK into |out|.  0 or an error. */
int vault__seal_msg(const struct vault_person *p, const uint8_t *aad,
                    size_t aadlen, const ProtobufCMessage *m, struct buf *out);

/* Opens and unpacks a sealed message; the caller frees |*out| with
 * protobuf_c_message_free_unpacked.  0, ERR_CORRUPT or -ENOMEM. */
int vault__open_msg(const struct vault_person *p, const uint8_t *aad,
                    size_t aadlen, const void *sealed, size_t len,
                    const ProtobufCMessageDescriptor *desc,
                    ProtobufCMessage **out);

/* Deletes every key of |db| that starts with |prefix|. */
int vault__del_prefix(struct store_txn *t, enum store_db db,
                      const uint8_t *prefix, size_t plen);

/* Reads the PersonRecord of |id|; the caller frees it. */
int vault__person_record(struct store_txn *t, const struct vault_id *id,
                         Dossier__Internal__PersonRecord **out);

/* Stores a wrapped DEK in the key store, in the key-store transaction
 * of the batch (vault__keys_begin): durable before the batch's records.
 * Writer thread. */
int vault__keys_put(struct vault *v, const struct vault_id *id,
                    const void *wrapped, size_t len);

/*
 * Begins, in |*out|, a transaction for one operation's key-store writes:
 * a child of the key-store transaction of the writer's current batch
 * (begun here if none is).  That batch transaction is committed (one
 * sync) just before the batch's own commit, by the writer's batch-end
 * hook, so a DEK is always durable before the records sealed with it,
 * and a DEK deleted by an erasure is gone before the erasure's records.
 * End the child with vault__keys_end() before anything else touches the
 * key store: a refused key-store write (a full key store) then fails only
 * its operation, not the batch; a batch whose key-store commit finds the
 * map full fails whole with ERR_FULL, as a full data store's commit
 * does.  Writes kept by vault__keys_end stay even if the operation fails
 * afterwards (a DEK nothing refers to, or a DEK deleted by an erasure
 * that did not happen, as when each operation committed its own
 * transaction).  Writer thread.  Returns 0 or as
 * store_txn_begin().
 */
int vault__keys_begin(struct vault *v, struct store_txn **out);

/* Ends |t| from vault__keys_begin(): keeps its writes in the batch's
 * key-store transaction if |rc| is 0, drops them otherwise.  Returns
 * |rc|, or the error of keeping them. */
int vault__keys_end(struct store_txn *t, int rc);

#endif
