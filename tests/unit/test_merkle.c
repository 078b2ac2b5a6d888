/*
 * test_merkle.c -- unit tests of merkle.c against an independent reference.
 *
 * tests/unit/merkle_ref.py computes, from the recursive definitions of RFC
 * 9162 and with Python's hashlib only, the roots of the trees of 0 to 1000
 * entries ("entry-0", "entry-1"...) and a spread of audit paths and
 * consistency proofs.  Every one must match what merkle.c computes from
 * complete subtree hashes, must verify, and must stop verifying when
 * anything is off: another index, another size (with that size's root),
 * a flipped byte anywhere in the path, a hash missing or added, another
 * leaf, another root.  Then the edges: invalid arguments, errors of the
 * node source passed through, and trees of close to 2^64 leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "merkle.h"
#include "suites.h"

#define H MERKLE_HASH_LEN
#define NLEAVES 1000
#define LEVELS 10 /* 2^9 <= 1000 < 2^10 */

/* --- the tree of the reference entries, every complete subtree ------- */

static uint8_t leaves[NLEAVES][H];
static uint8_t *nodes[LEVELS]; /* nodes[l][i * H]: subtree (l, i) */
static int node_calls;

static void
tree_build(void)
{
    char entry[32];

    if (nodes[0] != NULL)
        return;
    for (int i = 0; i < NLEAVES; i++) {
        int n = snprintf(entry, sizeof(entry), "entry-%d", i);

        ck_assert_int_eq(merkle_leaf_hash(entry, (size_t)n, leaves[i]), 0);
    }
    for (int l = 0; l < LEVELS; l++) {
        int count = NLEAVES >> l;

        nodes[l] = malloc((size_t)count * H + 1);
        ck_assert_ptr_nonnull(nodes[l]);
        for (int i = 0; i < count; i++) {
            if (l == 0)
                memcpy(nodes[0] + i * H, leaves[i], H);
            else
                ck_assert_int_eq(
                    merkle_node_hash(nodes[l - 1] + 2 * i * H,
                                     nodes[l - 1] + (2 * i + 1) * H,
                                     nodes[l] + i * H),
                    0);
        }
    }
}

/* A merkle_node_fn over the table; |arg| is the tree size asked about, so
 * that a request for a subtree past it fails the test. */
static int
table_node(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{
    uint64_t size = *(const uint64_t *)arg;

    node_calls++;
    ck_assert_uint_lt(level, LEVELS);
    ck_assert_uint_le((index + 1) << level, size);
    memcpy(out, nodes[level] + index * H, H);
    return 0;
}

/* --- the reference's output --------------------------------------------- */

struct ref_proof {
    uint64_t a, b; /* index and size, or old and new size */
    size_t n;
    uint8_t (*h)[H];
};

struct ref {
    uint8_t roots[NLEAVES + 1][H];
    struct ref_proof *incl, *cons;
    size_t nincl, ncons;
};

static struct ref ref;
static bool ref_loaded;

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses 64 hex digits at |s| into |out|; returns the end or NULL. */
static const char *
hex_hash(const char *s, uint8_t out[H])
{
    for (int i = 0; i < H; i++) {
        int hi = hex_digit(s[2 * i]),
            lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return NULL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return s + 2 * H;
}

static void
ref_proof_parse(const char *line, struct ref_proof **arr, size_t *n)
{
    unsigned long long a, b;
    struct ref_proof *p;
    const char *s;
    int off = 0;

    ck_assert_int_eq(sscanf(line, "%*s %llu %llu %n", &a, &b, &off), 2);
    ck_assert_int_gt(off, 0);
    *arr = realloc(*arr, (*n + 1) * sizeof(**arr));
    ck_assert_ptr_nonnull(*arr);
    p = &(*arr)[(*n)++];
    p->a = a;
    p->b = b;
    p->n = 0;
    p->h = malloc(MERKLE_PATH_MAX * H);
    ck_assert_ptr_nonnull(p->h);
    s = line + off;
    if (*s == '-')
        return;
    for (;;) {
        ck_assert_uint_lt(p->n, MERKLE_PATH_MAX);
        s = hex_hash(s, p->h[p->n++]);
        ck_assert_msg(s != NULL, "bad hash in reference line: %s", line);
        if (*s != ',')
            break;
        s++;
    }
}

/* Runs merkle_ref.py (from $DOSSIER_TOP, or the current directory) once
 * per process and reads everything it prints. */
static void
ref_load(void)
{
    const char *top = getenv("DOSSIER_TOP");
    char cmd[4200], line[8192];
    bool end = false;
    int roots = 0;
    FILE *f;

    if (ref_loaded)
        return;
    tree_build();
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s%stests/unit/merkle_ref.py",
             top != NULL ? top : "", top != NULL ? "/" : "");
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long size;
        int off = 0;

        ck_assert_msg(strchr(line, '\n') != NULL, "reference line too long");
        if (strncmp(line, "root ", 5) == 0) {
            ck_assert_int_eq(sscanf(line, "root %llu %n", &size, &off), 1);
            ck_assert_uint_eq(size, (unsigned long long)roots);
            ck_assert_ptr_nonnull(hex_hash(line + off, ref.roots[roots]));
            roots++;
        } else if (strncmp(line, "incl ", 5) == 0) {
            ref_proof_parse(line, &ref.incl, &ref.nincl);
        } else if (strncmp(line, "cons ", 5) == 0) {
            ref_proof_parse(line, &ref.cons, &ref.ncons);
        } else if (strncmp(line, "leaves ", 7) == 0) {
            ck_assert_int_eq(atoi(line + 7), NLEAVES);
        } else if (strcmp(line, "end\n") == 0) {
            end = true;
        } else {
            ck_abort_msg("unexpected reference line: %s", line);
        }
    }
    ck_assert_msg(pclose(f) == 0,
                  "%s failed: run the tests from the top "
                  "directory or set DOSSIER_TOP",
                  cmd);
    ck_assert_msg(end, "merkle_ref.py output cut short");
    ck_assert_int_eq(roots, NLEAVES + 1);
    ck_assert_uint_gt(ref.nincl, 900);
    ck_assert_uint_gt(ref.ncons, 900);
    ref_loaded = true;
}

/* --- tests ------------------------------------------------------------- */

static void
hex_to(const char *hex, uint8_t out[H])
{
    ck_assert_ptr_nonnull(hex_hash(hex, out));
}

START_TEST(test_hashes)
{
    uint8_t h[H], want[H], l[H], r[H], big[3000];

    /* RFC 9162 hashes with domain separation, against plain SHA-256. */
    merkle_empty_root(h);
    hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           want);
    ck_assert_mem_eq(h, want, H);
    ck_assert_int_eq(merkle_leaf_hash(NULL, 0, h), 0);
    hex_to("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
           want);
    ck_assert_mem_eq(h, want, H);
    /* A leaf over 1 KiB takes the streaming path; same result. */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(merkle_leaf_hash(big + 1, sizeof(big) - 1, h), 0);
    big[0] = 0x00;
    ck_assert_int_eq(crypto_sha256(big, sizeof(big), want), 0);
    ck_assert_mem_eq(h, want, H);
    ck_assert_int_eq(merkle_leaf_hash(big + 1, 1022, h), 0);
    ck_assert_int_eq(crypto_sha256(big, 1023, want), 0);
    ck_assert_mem_eq(h, want, H);
    /* Node: 0x01 || left || right; |out| may alias an input. */
    memset(l, 0xaa, H);
    memset(r, 0x55, H);
    big[0] = 0x01;
    memcpy(big + 1, l, H);
    memcpy(big + 1 + H, r, H);
    ck_assert_int_eq(crypto_sha256(big, 1 + 2 * H, want), 0);
    ck_assert_int_eq(merkle_node_hash(l, r, h), 0);
    ck_assert_mem_eq(h, want, H);
    ck_assert_int_eq(merkle_node_hash(l, r, r), 0);
    ck_assert_mem_eq(r, want, H);
}
END_TEST

START_TEST(test_roots_match_reference)
{
    uint8_t root[H], again[H];

    ref_load();
    for (uint64_t size = 0; size <= NLEAVES; size++) {
        struct merkle_leaves lv = {.hash = (const uint8_t(*)[H])leaves,
                                   .count = size};

        node_calls = 0;
        ck_assert_int_eq(merkle_root(table_node, &size, size, root), 0);
        ck_assert_msg(memcmp(root, ref.roots[size], H) == 0,
                      "root of size %llu differs from the reference",
                      (unsigned long long)size);
        /* One stored subtree per bit of the size: O(log n). */
        ck_assert_int_eq(node_calls, __builtin_popcountll(size));
        if (size % 37 == 0 || size < 20) {
            ck_assert_int_eq(merkle_root(merkle_leaves_node, &lv, size, again),
                             0);
            ck_assert_mem_eq(again, root, H);
        }
    }
}
END_TEST

/* Flips one byte of each hash of |p| in turn; |check| must then fail. */
#define EACH_TAMPERED(p, n, check)                                             \
    for (size_t t_ = 0; t_ < (n); t_++) {                                      \
        (p)[t_][t_ % H] ^= 0x01;                                               \
        ck_assert_int_ne((check), 0);                                          \
        (p)[t_][t_ % H] ^= 0x01;                                               \
    }

START_TEST(test_inclusion_match_reference)
{
    uint8_t path[MERKLE_PATH_MAX + 1][H], other[H];
    size_t len;

    ref_load();
    for (size_t k = 0; k < ref.nincl; k++) {
        const struct ref_proof *rp = &ref.incl[k];
        uint64_t i = rp->a, size = rp->b;
        const uint8_t *leaf = leaves[i], *root = ref.roots[size];

        ck_assert_int_eq(
            merkle_inclusion_proof(table_node, &size, i, size, path, &len), 0);
        ck_assert_msg(len == rp->n && memcmp(path, rp->h, len * H) == 0,
                      "path of %llu in %llu differs from the reference",
                      (unsigned long long)i, (unsigned long long)size);
        ck_assert_int_eq(
            merkle_inclusion_verify(leaf, i, size, path, len, root), 0);

        /* Another index, and an index past the tree. */
        for (uint64_t j = 0; j < size + 2; j++)
            if (j != i &&
                (size <= 64 || j + 40 > i || j == 0 || j + 3 > size) &&
                (j < i + 40 || j + 3 > size))
                ck_assert_msg(merkle_inclusion_verify(leaf, j, size, path, len,
                                                      root) != 0,
                              "path of %llu in %llu verified as index %llu",
                              (unsigned long long)i, (unsigned long long)size,
                              (unsigned long long)j);
        /* Another size, with the root of that size. */
        for (uint64_t s2 = i + 1; s2 <= NLEAVES && s2 <= size + 3; s2++)
            if (s2 != size)
                ck_assert_int_ne(merkle_inclusion_verify(leaf, i, s2, path, len,
                                                         ref.roots[s2]),
                                 0);
        /* A tampered path; one hash short; one hash more. */
        EACH_TAMPERED(path, len,
                      merkle_inclusion_verify(leaf, i, size, path, len, root));
        if (len > 0)
            ck_assert_int_ne(
                merkle_inclusion_verify(leaf, i, size, path, len - 1, root), 0);
        memcpy(path[len], leaves[0], H);
        ck_assert_int_ne(
            merkle_inclusion_verify(leaf, i, size, path, len + 1, root), 0);
        /* Another leaf; another root. */
        ck_assert_int_ne(merkle_inclusion_verify(leaves[(i + 1) % NLEAVES], i,
                                                 size, path, len, root),
                         0);
        memcpy(other, root, H);
        other[H - 1] ^= 0x80;
        ck_assert_int_ne(
            merkle_inclusion_verify(leaf, i, size, path, len, other), 0);
        ck_assert_int_ne(merkle_inclusion_verify(leaf, i, size, path, len,
                                                 ref.roots[size - 1]),
                         0);
    }
}
END_TEST

START_TEST(test_consistency_match_reference)
{
    uint8_t path[MERKLE_PATH_MAX + 1][H];
    size_t len;

    ref_load();
    for (size_t k = 0; k < ref.ncons; k++) {
        const struct ref_proof *rp = &ref.cons[k];
        uint64_t m = rp->a, n = rp->b;
        const uint8_t *r1 = ref.roots[m], *r2 = ref.roots[n];

        ck_assert_int_eq(
            merkle_consistency_proof(table_node, &n, m, n, path, &len), 0);
        ck_assert_msg(len == rp->n && memcmp(path, rp->h, len * H) == 0,
                      "proof from %llu to %llu differs from the reference",
                      (unsigned long long)m, (unsigned long long)n);
        ck_assert_int_eq(merkle_consistency_verify(m, n, r1, r2, path, len), 0);

        /* Other old sizes and new sizes, each with its own root. */
        for (uint64_t m2 = m > 3 ? m - 3 : 1; m2 <= n && m2 <= m + 3; m2++)
            if (m2 != m)
                ck_assert_msg(merkle_consistency_verify(m2, n, ref.roots[m2],
                                                        r2, path, len) != 0,
                              "proof %llu..%llu verified for %llu",
                              (unsigned long long)m, (unsigned long long)n,
                              (unsigned long long)m2);
        for (uint64_t n2 = m; n2 <= NLEAVES && n2 <= n + 3; n2++)
            if (n2 != n)
                ck_assert_int_ne(merkle_consistency_verify(
                                     m, n2, r1, ref.roots[n2], path, len),
                                 0);
        /* Tampered, short, long; roots swapped or of other trees. */
        EACH_TAMPERED(path, len,
                      merkle_consistency_verify(m, n, r1, r2, path, len));
        if (len > 0)
            ck_assert_int_ne(
                merkle_consistency_verify(m, n, r1, r2, path, len - 1), 0);
        memcpy(path[len], leaves[3], H);
        ck_assert_int_ne(merkle_consistency_verify(m, n, r1, r2, path, len + 1),
                         0);
        if (m != n) {
            ck_assert_int_ne(merkle_consistency_verify(m, n, r2, r1, path, len),
                             0);
            ck_assert_int_ne(merkle_consistency_verify(m, n, ref.roots[m - 1],
                                                       r2, path, len),
                             0);
        }
        ck_assert_int_ne(
            merkle_consistency_verify(m, n, r1, ref.roots[n - 1], path, len),
            0);
    }
}
END_TEST

static int
failing_node(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{
    int *left = arg;

    if (--*left < 0)
        return -EIO;
    memset(out, (int)(level + index), H);
    return 0;
}

START_TEST(test_invalid_and_errors)
{
    uint8_t path[MERKLE_PATH_MAX + 1][H], root[H];
    struct merkle_leaves lv = {.hash = (const uint8_t(*)[H])leaves, .count = 5};
    uint64_t size = 5;
    size_t len = 99;
    int budget;

    tree_build();
    ck_assert_int_eq(
        merkle_inclusion_proof(table_node, &size, 5, 5, path, &len),
        ERR_INVALID);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(
        merkle_inclusion_proof(table_node, &size, 0, 0, path, &len),
        ERR_INVALID);
    ck_assert_int_eq(
        merkle_consistency_proof(table_node, &size, 0, 5, path, &len),
        ERR_INVALID);
    ck_assert_int_eq(
        merkle_consistency_proof(table_node, &size, 6, 5, path, &len),
        ERR_INVALID);
    ck_assert_int_eq(
        merkle_consistency_proof(table_node, &size, 5, 5, path, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(
        merkle_inclusion_proof(table_node, &size, 0, 1, path, &len), 0);
    ck_assert_uint_eq(len, 0);

    /* The one-leaf tree: its root is the leaf, its path empty. */
    ck_assert_int_eq(
        merkle_inclusion_verify(leaves[0], 0, 1, path, 0, leaves[0]), 0);
    ck_assert_int_eq(
        merkle_inclusion_verify(leaves[0], 0, 0, path, 0, leaves[0]),
        ERR_CORRUPT);
    /* Consistency edges. */
    merkle_empty_root(root);
    ck_assert_int_eq(merkle_consistency_verify(0, 3, root, root, path, 0),
                     ERR_INVALID);
    ck_assert_int_eq(merkle_consistency_verify(4, 3, root, root, path, 0),
                     ERR_INVALID);
    ck_assert_int_eq(merkle_consistency_verify(3, 3, root, root, path, 0), 0);
    ck_assert_int_eq(merkle_consistency_verify(3, 3, root, leaves[0], path, 0),
                     ERR_CORRUPT);
    ck_assert_int_eq(merkle_consistency_verify(3, 3, root, root, path, 1),
                     ERR_CORRUPT);
    ck_assert_int_eq(merkle_consistency_verify(3, 4, root, root, path, 0),
                     ERR_CORRUPT);
    /* Over-long proofs are refused before any hashing. */
    ck_assert_int_eq(merkle_inclusion_verify(leaves[0], 0, 5, path,
                                             MERKLE_PATH_MAX + 1, root),
                     ERR_CORRUPT);
    ck_assert_int_eq(
        merkle_consistency_verify(2, 5, root, root, path, MERKLE_PATH_MAX + 1),
        ERR_CORRUPT);

    /* The node source's error comes back as is, at any call. */
    for (int fail_at = 0; fail_at < 3; fail_at++) {
        budget = fail_at;
        ck_assert_int_eq(merkle_root(failing_node, &budget, 7, root), -EIO);
        budget = fail_at;
        ck_assert_int_eq(
            merkle_inclusion_proof(failing_node, &budget, 2, 7, path, &len),
            -EIO);
        budget = fail_at;
        ck_assert_int_eq(
            merkle_consistency_proof(failing_node, &budget, 3, 7, path, &len),
            -EIO);
    }

    /* merkle_leaves_node refuses subtrees past its leaves. */
    ck_assert_int_eq(merkle_leaves_node(&lv, 0, 4, root), 0);
    ck_assert_mem_eq(root, leaves[4], H);
    ck_assert_int_eq(merkle_leaves_node(&lv, 0, 5, root), ERR_INVALID);
    ck_assert_int_eq(merkle_leaves_node(&lv, 2, 0, root), 0);
    ck_assert_mem_eq(root, nodes[2], H);
    ck_assert_int_eq(merkle_leaves_node(&lv, 2, 1, root), ERR_INVALID);
    ck_assert_int_eq(merkle_leaves_node(&lv, 3, 0, root), ERR_INVALID);
    ck_assert_int_eq(merkle_leaves_node(&lv, 64, 0, root), ERR_INVALID);
}
END_TEST

/* A tree of up to 2^64 - 1 equal leaves: every subtree of a level has the
 * same hash, so any subtree is O(1) and the 64-bit arithmetic is what is
 * tested (shifts, the split point, lengths of proofs). */
static uint8_t uniform[64][H];

static int
uniform_node(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{
    ck_assert_uint_lt(level, 64);
    memcpy(out, uniform[level], H);
    return 0;
}

START_TEST(test_huge_trees)
{
    static const uint64_t sizes[] = {UINT64_MAX, UINT64_MAX - 1,
                                     (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1,
                                     ((uint64_t)1 << 40) + 12345};
    uint8_t path[MERKLE_PATH_MAX + 1][H], root[H], old_root[H];
    size_t len;

    ck_assert_int_eq(merkle_leaf_hash("x", 1, uniform[0]), 0);
    for (int l = 1; l < 64; l++)
        ck_assert_int_eq(
            merkle_node_hash(uniform[l - 1], uniform[l - 1], uniform[l]), 0);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint64_t n = sizes[k];
        const uint64_t idx[] = {0, 1, n / 2, n - 2, n - 1};
        const uint64_t olds[] = {1, 2, 3, n / 3, n / 2, n - 1, n};

        ck_assert_int_eq(merkle_root(uniform_node, NULL, n, root), 0);
        for (size_t j = 0; j < 5; j++) {
            ck_assert_int_eq(merkle_inclusion_proof(uniform_node, NULL, idx[j],
                                                    n, path, &len),
                             0);
            /* The leftmost leaf is at the full depth, ceil(log2 n). */
            ck_assert_uint_le(len, 64);
            if (idx[j] == 0)
                ck_assert_uint_eq(len, 64 - __builtin_clzll(n - 1));
            ck_assert_int_eq(
                merkle_inclusion_verify(uniform[0], idx[j], n, path, len, root),
                0);
            ck_assert_int_ne(merkle_inclusion_verify(uniform[0], idx[j], n,
                                                     path, len - 1, root),
                             0);
        }
        for (size_t j = 0; j < 7; j++) {
            ck_assert_int_eq(merkle_root(uniform_node, NULL, olds[j], old_root),
                             0);
            ck_assert_int_eq(merkle_consistency_proof(uniform_node, NULL,
                                                      olds[j], n, path, &len),
                             0);
            ck_assert_uint_le(len, MERKLE_PATH_MAX);
            ck_assert_int_eq(merkle_consistency_verify(olds[j], n, old_root,
                                                       root, path, len),
                             0);
        }
    }
}
END_TEST

Suite *
suite_merkle(void)
{
    Suite *s = suite_create("merkle");
    TCase *tc = tcase_create("merkle");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hashes);
    tcase_add_test(tc, test_roots_match_reference);
    tcase_add_test(tc, test_inclusion_match_reference);
    tcase_add_test(tc, test_consistency_match_reference);
    tcase_add_test(tc, test_invalid_and_errors);
    tcase_add_test(tc, test_huge_trees);
    suite_add_tcase(s, tc);
    return s;
}
