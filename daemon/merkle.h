/*
 * merkle.h -- RFC 9162 (Certificate Transparency v2) Merkle tree math.
 *
 * The audit log (audit.h) is the list of its entries, and its state at
 * any size n is summed up by the Merkle Tree Hash MTH of the first n
 * entries, as RFC 9162 section 2.1.1 defines it over SHA-256:
 *
 *     MTH({})        = SHA-256()                      (the empty string)
 *     MTH({d0})      = SHA-256(0x00 || d0)            (the leaf hash)
 *     MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
 *                      with k the largest power of two smaller than n
 *
 * This module computes roots, audit paths (section 2.1.3.1) and
 * consistency proofs (section 2.1.4.1), and verifies them with the
 * iterative algorithms of sections 2.1.3.2 and 2.1.4.2.  Generation never
 * walks the leaves: it asks a callback for the hash of the complete
 * subtrees it needs, each named by (level, index): the subtree at level L,
 * index i covers leaves [i * 2^L, (i + 1) * 2^L), so level 0 holds the
 * leaf hashes.  A root or a proof costs O(log n) such calls.  The audit
 * log keeps those hashes in its store; tests and offline tools may use
 * merkle_leaves_node over an array of leaf hashes instead.
 *
 * What it deliberately does not do: store anything, know what an entry
 * holds, sign, or log.  Verification is pure (no store, no state, no
 * callback): an offline verifier links merkle.c and crypto.c only.  Every
 * function may run on any thread.
 */
#ifndef DOSSIER_MERKLE_H
#define DOSSIER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32 /* SHA-256 */
/* Most hashes in a proof: an audit path in a tree of n <= 2^64 - 1 leaves
 * has at most 64, a consistency proof at most 65 (a path, plus the old
 * root's subtree when the old size is not a power of two).  Callers give
 * arrays of this many hashes; verifiers refuse longer proofs. */
#define MERKLE_PATH_MAX 65

/*
 * A source of complete subtree hashes: writes into |out| the hash of the
 * subtree at |level| (0..63) and |index|, i.e. MTH of the leaves [index *
 * 2^level, (index + 1) * 2^level).  It is only asked for subtrees that lie
 * wholly inside the tree size the caller gave.  Returns 0, or an error
 * (any negative code), which the merkle_* call returns as is.
 */
typedef int merkle_node_fn(void *arg, unsigned level, uint64_t index,
                           uint8_t out[MERKLE_HASH_LEN]);

/*
 * The leaf hash of an entry of |len| bytes: SHA-256(0x00 || entry), into
 * |out|.  |entry| may be NULL when |len| is 0.  Returns 0, -ENOMEM or -EIO
 * (logged by crypto.c).
 */
int merkle_leaf_hash(const void *entry, size_t len,
                     uint8_t out[MERKLE_HASH_LEN]);

/*
 * The hash of an inner node: SHA-256(0x01 || left || right), into |out|
 * (which may be |left| or |right|).  Returns 0, -ENOMEM or -EIO.
 */
int merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
                     const uint8_t right[MERKLE_HASH_LEN],
                     uint8_t out[MERKLE_HASH_LEN]);

/* The root of the empty tree, SHA-256 of the empty string, into |out|. */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/*
 * MTH of the first |size| leaves into |out|, from the complete subtrees
 * that |node| gives (one call per bit set in |size|; none for 0, whose
 * root is merkle_empty_root).  Returns 0, or the error of |node| or of
 * hashing.  |out| is unspecified on failure.
 */
int merkle_root(merkle_node_fn *node, void *arg, uint64_t size,
                uint8_t out[MERKLE_HASH_LEN]);

/*
 * The audit path PATH(index, D[size]) of RFC 9162 section 2.1.3.1: the
 * hashes that, with the leaf hash of leaf |index|, rebuild the root of
 * the tree of |size| leaves, leaf end first.  Writes them to |path|
 * (room for MERKLE_PATH_MAX hashes) and their count to |*len| (0 when
 * |size| is 1).
 *
 * Returns 0, ERR_INVALID (|index| >= |size|), or the error of |node| or
 * of hashing (|path| and |*len| then unspecified).
 */
int merkle_inclusion_proof(merkle_node_fn *node, void *arg, uint64_t index,
                           uint64_t size, uint8_t path[][MERKLE_HASH_LEN],
                           size_t *len);

/*
 * The consistency proof PROOF(old_size, D[new_size]) of RFC 9162 section
 * 2.1.4.1: the hashes that show the tree of |new_size| leaves extends the
 * tree of its first |old_size| leaves.  Writes them to |path| (room for
 * MERKLE_PATH_MAX hashes) and their count to |*len|; |old_size| equal to
 * |new_size| gives the empty proof.
 *
 * Returns 0, ERR_INVALID (|old_size| is 0 -- every tree extends the empty
 * one and RFC 9162 defines no proof for it -- or |old_size| > |new_size|),
 * or the error of |node| or of hashing.
 */
int merkle_consistency_proof(merkle_node_fn *node, void *arg,
                             uint64_t old_size, uint64_t new_size,
                             uint8_t path[][MERKLE_HASH_LEN], size_t *len);

/*
 * Verifies, with the algorithm of RFC 9162 section 2.1.3.2, that |path|
 * (|len| hashes) proves that |leaf| (a leaf hash, not the entry) is leaf
 * number |index| of the tree of |size| leaves whose root is |root|.
 *
 * Returns 0 when it does; ERR_CORRUPT when it does not (|index| >= |size|,
 * a path too short, too long or over MERKLE_PATH_MAX, any wrong hash, or
 * a root of another tree); -ENOMEM or -EIO if hashing failed (so any
 * nonzero return means "not proven").  Pure: no state, any thread.
 */
int merkle_inclusion_verify(const uint8_t leaf[MERKLE_HASH_LEN], uint64_t index,
                            uint64_t size, const uint8_t path[][MERKLE_HASH_LEN],
                            size_t len, const uint8_t root[MERKLE_HASH_LEN]);

/*
 * Verifies, with the algorithm of RFC 9162 section 2.1.4.2, that |path|
 * (|len| hashes) proves that the tree of |new_size| leaves with root
 * |new_root| extends the tree of |old_size| leaves with root |old_root|.
 * When |old_size| equals |new_size| the proof must be empty and the roots
 * equal (the RFC covers only old_size < new_size).
 *
 * Returns 0 when it does; ERR_CORRUPT when it does not (an empty proof for
 * different sizes, a proof too short, too long or over MERKLE_PATH_MAX,
 * any wrong hash, roots of other trees); ERR_INVALID (|old_size| 0 or
 * greater than |new_size|); -ENOMEM or -EIO if hashing failed.  Pure.
 */
int merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                              const uint8_t old_root[MERKLE_HASH_LEN],
                              const uint8_t new_root[MERKLE_HASH_LEN],
                              const uint8_t path[][MERKLE_HASH_LEN],
                              size_t len);

/*
 * A merkle_node_fn over leaf hashes held in memory, for tests and offline
 * tools: |arg| is a struct merkle_leaves.  Computes the subtree from its
 * leaves (2^level - 1 node hashes per call: fine for small trees, not for
 * a log of millions).  Returns 0, ERR_INVALID (the subtree reaches past
 * |count| or |level| > 63), -ENOMEM or -EIO.
 */
struct merkle_leaves {
    const uint8_t (*hash)[MERKLE_HASH_LEN]; /* leaf hashes, not copied */
    uint64_t count;
};

int merkle_leaves_node(void *arg, unsigned level, uint64_t index,
                       uint8_t out[MERKLE_HASH_LEN]);

#endif
