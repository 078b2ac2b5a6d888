/*
 * fuzz_merkle_verify.c -- libFuzzer harness of the audit proof verifiers
 * (merkle.c: merkle_inclusion_verify, merkle_consistency_verify).
 *
 * Two modes, chosen by the first byte:
 *  raw          index, sizes, path length, path hashes and roots all come
 *               from the input, sizes up to 2^64 - 1: the verifiers must
 *               return one of their documented codes and never read past
 *               the path they were given;
 *  differential a tree of 1 to 300 leaves made from the input, its real
 *               root, inclusion and consistency proofs from merkle.c's own
 *               generators: every genuine proof must verify, and the same
 *               proof with one bit flipped (in the leaf, a path hash or a
 *               root), one hash dropped or one hash added must not.
 * An abort() is a finding: libFuzzer saves the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "merkle.h"

#define MAX_LEAVES 300

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t
take(struct in *in, size_t bytes)
{
    uint64_t v = 0;

    for (size_t i = 0; i < bytes; i++) {
        v <<= 8;
        if (in->n > 0) {
            v |= *in->p++;
            in->n--;
        }
    }
    return v;
}

static void
take_hash(struct in *in, uint8_t out[MERKLE_HASH_LEN])
{
    for (size_t i = 0; i < MERKLE_HASH_LEN; i++)
        out[i] = (uint8_t)take(in, 1);
}

static bool
code_ok(int rc)
{
    return rc == 0 || rc == ERR_CORRUPT || rc == ERR_INVALID ||
           rc == -ENOMEM || rc == -EIO;
}

static void
fuzz_raw(struct in *in)
{
    /* Exactly |len| hashes are allocated, so that ASan catches a read of
     * one more. */
    uint8_t leaf[MERKLE_HASH_LEN], root[MERKLE_HASH_LEN], root2[MERKLE_HASH_LEN];
    uint64_t index = take(in, 8), size = take(in, 8), old = take(in, 8);
    size_t len = (size_t)take(in, 1) % (MERKLE_PATH_MAX + 3);
    uint8_t(*path)[MERKLE_HASH_LEN] = malloc((len ? len : 1) * MERKLE_HASH_LEN);
    int rc;

    if (path == NULL)
        return;
    take_hash(in, leaf);
    take_hash(in, root);
    take_hash(in, root2);
    for (size_t i = 0; i < len; i++)
        take_hash(in, path[i]);
    rc = merkle_inclusion_verify(leaf, index, size, (const void *)path, len,
                                 root);
    if (!code_ok(rc) || rc == ERR_INVALID)
        abort();
    rc = merkle_consistency_verify(old, size, root, root2, (const void *)path,
                                   len);
    if (!code_ok(rc))
        abort();
    if ((old == 0 || old > size) != (rc == ERR_INVALID))
        abort();
    free(path);
}

static uint8_t (*leaves)[MERKLE_HASH_LEN];

static void
flip(uint8_t h[MERKLE_HASH_LEN], unsigned bit)
{
    h[(bit / 8) % MERKLE_HASH_LEN] ^= (uint8_t)(1u << (bit % 8));
}

static void
fuzz_differential(struct in *in)
{
    uint64_t n = 1 + take(in, 2) % MAX_LEAVES;
    uint64_t index = take(in, 2) % n;
    uint64_t old = 1 + take(in, 2) % n;
    unsigned bit = (unsigned)take(in, 1);
    unsigned what = (unsigned)take(in, 1);
    struct merkle_leaves lv;
    uint8_t root[MERKLE_HASH_LEN], old_root[MERKLE_HASH_LEN];
    uint8_t path[MERKLE_PATH_MAX + 1][MERKLE_HASH_LEN];
    uint8_t bad[MERKLE_HASH_LEN];
    size_t len;

    if (leaves == NULL &&
        (leaves = malloc(MAX_LEAVES * sizeof(*leaves))) == NULL)
        abort();
    /* Leaves from the input; what is left over repeats. */
    for (uint64_t i = 0; i < n; i++) {
        uint8_t entry[4] = {(uint8_t)take(in, 1), (uint8_t)i,
                            (uint8_t)(i >> 8), 0};
        if (merkle_leaf_hash(entry, (size_t)(1 + (i % 4)), leaves[i]) != 0)
            abort();
    }
    lv.hash = (const void *)leaves;
    lv.count = n;
    if (merkle_root(merkle_leaves_node, &lv, n, root) != 0 ||
        merkle_root(merkle_leaves_node, &lv, old, old_root) != 0)
        abort();

    /* Inclusion: the genuine proof verifies... */
    if (merkle_inclusion_proof(merkle_leaves_node, &lv, index, n, path,
                               &len) != 0 ||
        len > MERKLE_PATH_MAX)
        abort();
    if (merkle_inclusion_verify(leaves[index], index, n, (const void *)path,
                                len, root) != 0)
        abort();
    /* ...and no altered one does. */
    switch (what % 4) {
    case 0:
        memcpy(bad, leaves[index], MERKLE_HASH_LEN);
        flip(bad, bit);
        if (merkle_inclusion_verify(bad, index, n, (const void *)path, len,
                                    root) == 0)
            abort();
        break;
    case 1:
        memcpy(bad, root, MERKLE_HASH_LEN);
        flip(bad, bit);
        if (merkle_inclusion_verify(leaves[index], index, n,
                                    (const void *)path, len, bad) == 0)
            abort();
        break;
    case 2:
        if (len > 0) {
            flip(path[bit % len], bit);
            if (merkle_inclusion_verify(leaves[index], index, n,
                                        (const void *)path, len, root) == 0)
                abort();
            flip(path[bit % len], bit);
        }
        break;
    case 3:
        if (len > 0 && merkle_inclusion_verify(leaves[index], index, n,
                                               (const void *)path, len - 1,
                                               root) == 0)
            abort();
        memcpy(path[len], root, MERKLE_HASH_LEN);
        if (merkle_inclusion_verify(leaves[index], index, n,
                                    (const void *)path, len + 1, root) == 0)
            abort();
        break;
    }

    /* Consistency between the first |old| leaves and all |n|. */
    if (merkle_consistency_proof(merkle_leaves_node, &lv, old, n, path,
                                 &len) != 0 ||
        len > MERKLE_PATH_MAX)
        abort();
    if (merkle_consistency_verify(old, n, old_root, root, (const void *)path,
                                  len) != 0)
        abort();
    switch ((what / 4) % 4) {
    case 0:
        memcpy(bad, old_root, MERKLE_HASH_LEN);
        flip(bad, bit);
        if (merkle_consistency_verify(old, n, bad, root, (const void *)path,
                                      len) == 0)
            abort();
        break;
    case 1:
        memcpy(bad, root, MERKLE_HASH_LEN);
        flip(bad, bit);
        if (merkle_consistency_verify(old, n, old_root, bad,
                                      (const void *)path, len) == 0)
            abort();
        break;
    case 2:
        if (len > 0) {
            flip(path[bit % len], bit);
            if (merkle_consistency_verify(old, n, old_root, root,
                                          (const void *)path, len) == 0)
                abort();
        }
        break;
    case 3:
        if (len > 0 && merkle_consistency_verify(old, n, old_root, root,
                                                 (const void *)path,
                                                 len - 1) == 0)
            abort();
        if (old < n) {
            memcpy(path[len], root, MERKLE_HASH_LEN);
            if (merkle_consistency_verify(old, n, old_root, root,
                                          (const void *)path, len + 1) == 0)
                abort();
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};

    if (size == 0)
        return 0;
    if (take(&in, 1) & 1)
        fuzz_differential(&in);
    else
        fuzz_raw(&in);
    return 0;
}
