/*
 * merkle.c -- RFC 9162 Merkle tree hashes, proofs and their verification
 * (see merkle.h).
 *
 * Generation follows the recursive definitions of the RFC, unrolled into
 * loops that walk from the root down: each step halves the range [lo, hi)
 * of leaves it looks at and records the hash of the half it leaves aside.
 * The hashes come out root end first; the RFC lists them leaf end first,
 * so the array is reversed at the end.
 *
 * Every range the recursion sets aside is either a complete subtree
 * (a power of two of leaves, aligned on its size) or the right edge of the
 * tree, whose MTH is the complete subtrees of its binary decomposition
 * folded from the right.  That holds because each range [lo, hi) visited
 * starts at a multiple of a power of two at least as large as hi - lo (true
 * for [0, n); a split at k keeps it for both halves), so range_hash never
 * needs more than the complete subtrees merkle_node_fn gives.
 */
#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "merkle.h"

/* SHA-256 of the empty string. */
static const uint8_t empty_root[MERKLE_HASH_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

int
merkle_leaf_hash(const void *entry, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
    static const uint8_t prefix = 0x00;
    struct crypto_sha256 h;
    int rc;

    /* Small entries (every audit entry) hash in one call. */
    if (len < 1024) {
        uint8_t buf[1024];

        buf[0] = prefix;
        if (len > 0)
            memcpy(buf + 1, entry, len);
        return crypto_sha256(buf, len + 1, out);
    }
    if ((rc = crypto_sha256_init(&h)) != 0)
        return rc;
    if ((rc = crypto_sha256_update(&h, &prefix, 1)) != 0 ||
        (rc = crypto_sha256_update(&h, entry, len)) != 0 ||
        (rc = crypto_sha256_final(&h, out)) != 0)
        goto fail;
    return 0;

fail:
    crypto_sha256_close(&h);
    return rc;
}

int
merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
                 const uint8_t right[MERKLE_HASH_LEN],
                 uint8_t out[MERKLE_HASH_LEN])
{
    uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH_LEN);
    memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
    return crypto_sha256(buf, sizeof(buf), out);
}

void
merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
    memcpy(out, empty_root, MERKLE_HASH_LEN);
}

/* The largest power of two smaller than |n|, for n >= 2 (the RFC's k). */
static uint64_t
split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH of leaves [lo, hi), hi > lo, lo a multiple of a power of two >= hi -
 * lo (see the top of the file): the complete subtrees of the binary
 * decomposition of hi - lo, largest (leftmost) first, folded from the
 * right as the RFC's split at the largest power of two does.
 */
static int
range_hash(merkle_node_fn *node, void *arg, uint64_t lo, uint64_t hi,
           uint8_t out[MERKLE_HASH_LEN])
{
    uint8_t h[MERKLE_HASH_LEN];
    uint64_t n = hi - lo, end = hi;
    int rc, first = 1;

    while (n != 0) {
        unsigned level = (unsigned)__builtin_ctzll(n);
        uint64_t start = end - ((uint64_t)1 << level);

        if ((rc = node(arg, level, start >> level, first ? out : h)) != 0)
            return rc;
        if (!first && (rc = merkle_node_hash(h, out, out)) != 0)
            return rc;
        first = 0;
        end = start;
        n &= n - 1;
    }
    return 0;
}

int
merkle_root(merkle_node_fn *node, void *arg, uint64_t size,
            uint8_t out[MERKLE_HASH_LEN])
{
    if (size == 0) {
        merkle_empty_root(out);
        return 0;
    }
    return range_hash(node, arg, 0, size, out);
}

/* Reverses the |n| hashes of |path|: root-first to the RFC's leaf-first. */
static void
path_reverse(uint8_t path[][MERKLE_HASH_LEN], size_t n)
{
    uint8_t t[MERKLE_HASH_LEN];

    for (size_t i = 0; i < n / 2; i++) {
        memcpy(t, path[i], MERKLE_HASH_LEN);
        memcpy(path[i], path[n - 1 - i], MERKLE_HASH_LEN);
        memcpy(path[n - 1 - i], t, MERKLE_HASH_LEN);
    }
}

int
merkle_inclusion_proof(merkle_node_fn *node, void *arg, uint64_t index,
                       uint64_t size, uint8_t path[][MERKLE_HASH_LEN],
                       size_t *len)
{
    uint64_t lo = 0, hi = size;
    size_t n = 0;
    int rc;

    *len = 0;
    if (index >= size)
        return ERR_INVALID;
    /* PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi]) when m is
     * in the left half, else PATH(m, D[lo+k:hi]) : MTH(D[lo:lo+k]). */
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);

        if (index < lo + k) {
            rc = range_hash(node, arg, lo + k, hi, path[n]);
            hi = lo + k;
        } else {
            rc = range_hash(node, arg, lo, lo + k, path[n]);
            lo += k;
        }
        if (rc != 0)
            return rc;
        n++;
    }
    path_reverse(path, n);
    *len = n;
    return 0;
}

int
merkle_consistency_proof(merkle_node_fn *node, void *arg, uint64_t old_size,
                         uint64_t new_size, uint8_t path[][MERKLE_HASH_LEN],
                         size_t *len)
{
    uint64_t lo = 0, hi = new_size;
    size_t n = 0;
    int rc, whole = 1; /* the RFC's b: the old tree is a left subtree */

    *len = 0;
    if (old_size == 0 || old_size > new_size)
        return ERR_INVALID;
    /* SUBPROOF(m, D[lo:hi], b), m counted from leaf 0. */
    for (;;) {
        uint64_t size = hi - lo, m = old_size - lo, k;

        if (m == size) {
            if (!whole) {
                if ((rc = range_hash(node, arg, lo, hi, path[n])) != 0)
                    return rc;
                n++;
            }
            break;
        }
        k = split_point(size);
        if (m <= k) {
            rc = range_hash(node, arg, lo + k, hi, path[n]);
            hi = lo + k;
        } else {
            rc = range_hash(node, arg, lo, lo + k, path[n]);
            lo += k;
            whole = 0;
        }
        if (rc != 0)
            return rc;
        n++;
    }
    path_reverse(path, n);
    *len = n;
    return 0;
}

/* Shifts |fn| and |sn| right together until fn's lowest bit is set or fn
 * is 0: the steps of both algorithms where a node is a right edge. */
static void
shift_to_odd(uint64_t *fn, uint64_t *sn)
{
    while ((*fn & 1) == 0 && *fn != 0) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

int
merkle_inclusion_verify(const uint8_t leaf[MERKLE_HASH_LEN], uint64_t index,
                        uint64_t size, const uint8_t path[][MERKLE_HASH_LEN],
                        size_t len, const uint8_t root[MERKLE_HASH_LEN])
{
    uint8_t r[MERKLE_HASH_LEN];
    uint64_t fn, sn;
    int rc;

    /* Step 1. */
    if (index >= size || len > MERKLE_PATH_MAX)
        return ERR_CORRUPT;
    /* Steps 2 and 3. */
    fn = index;
    sn = size - 1;
    memcpy(r, leaf, MERKLE_HASH_LEN);
    /* Step 4. */
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return ERR_CORRUPT;
        if ((fn & 1) != 0 || fn == sn) {
            if ((rc = merkle_node_hash(path[i], r, r)) != 0)
                return rc;
            if ((fn & 1) == 0)
                shift_to_odd(&fn, &sn);
        } else if ((rc = merkle_node_hash(r, path[i], r)) != 0) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 5. */
    if (sn != 0 || !crypto_equal(r, root, MERKLE_HASH_LEN))
        return ERR_CORRUPT;
    return 0;
}

int
merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                          const uint8_t old_root[MERKLE_HASH_LEN],
                          const uint8_t new_root[MERKLE_HASH_LEN],
                          const uint8_t path[][MERKLE_HASH_LEN], size_t len)
{
    uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
    const uint8_t *c;
    uint64_t fn, sn;
    size_t i;
    int rc, prepend;

    if (old_size == 0 || old_size > new_size)
        return ERR_INVALID;
    if (len > MERKLE_PATH_MAX)
        return ERR_CORRUPT;
    if (old_size == new_size)
        return len == 0 && crypto_equal(old_root, new_root, MERKLE_HASH_LEN)
                   ? 0
                   : ERR_CORRUPT;
    /* Step 1. */
    if (len == 0)
        return ERR_CORRUPT;
    /* Step 2: the proof is read as if old_root were prepended when the
     * old size is a power of two (the proof then leaves it out). */
    prepend = (old_size & (old_size - 1)) == 0;
    /* Steps 3 and 4. */
    fn = old_size - 1;
    sn = new_size - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 5. */
    c = prepend ? old_root : path[0];
    memcpy(fr, c, MERKLE_HASH_LEN);
    memcpy(sr, c, MERKLE_HASH_LEN);
    /* Step 6, over the values after the first. */
    for (i = prepend ? 0 : 1; i < len; i++) {
        c = path[i];
        if (sn == 0)
            return ERR_CORRUPT;
        if ((fn & 1) != 0 || fn == sn) {
            if ((rc = merkle_node_hash(c, fr, fr)) != 0 ||
                (rc = merkle_node_hash(c, sr, sr)) != 0)
                return rc;
            if ((fn & 1) == 0)
                shift_to_odd(&fn, &sn);
        } else if ((rc = merkle_node_hash(sr, c, sr)) != 0) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 7. */
    if (sn != 0 || !crypto_equal(fr, old_root, MERKLE_HASH_LEN) ||
        !crypto_equal(sr, new_root, MERKLE_HASH_LEN))
        return ERR_CORRUPT;
    return 0;
}

int
merkle_leaves_node(void *arg, unsigned level, uint64_t index,
                   uint8_t out[MERKLE_HASH_LEN])
{
    const struct merkle_leaves *lv = arg;
    uint8_t left[MERKLE_HASH_LEN];
    int rc;

    /* count >> level complete subtrees exist at |level|. */
    if (level > 63 || index >= (lv->count >> level))
        return ERR_INVALID;
    if (level == 0) {
        memcpy(out, lv->hash[index], MERKLE_HASH_LEN);
        return 0;
    }
    if ((rc = merkle_leaves_node(arg, level - 1, 2 * index, left)) != 0 ||
        (rc = merkle_leaves_node(arg, level - 1, 2 * index + 1, out)) != 0)
        return rc;
    return merkle_node_hash(left, out, out);
}
