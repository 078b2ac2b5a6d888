/*
 * fuzz_audit_verify.c -- libFuzzer harness of the offline audit verifier
 * (client/audit_verify.c): its reading of an exported segment (gRPC
 * length-prefixed AuditEntry messages) and of signed checkpoints, and the
 * checks it makes from them.
 *
 * The harness owns an Ed25519 audit key made at start-up (its public half
 * is the verifier's audit.pub), so that it can sign what the input holds:
 * the signature checks are then passed and the code behind them (roots,
 * extension, index checks) is reached, as it is with a real export.
 *
 * Layout of an input:
 *   byte 0      flags: bit 0 two checkpoints; bit 1 sign checkpoint 1;
 *               bit 2 sign checkpoint 2; bit 3 put in each signed
 *               checkpoint the real root of the entries it covers; bit 4
 *               report in French; bits 5-7 the segment's first index;
 *   2 bytes     length L1 (little-endian, at most 1024), then L1 bytes of
 *               checkpoint 1 (a serialised dossier.v1.Checkpoint);
 *   2 bytes     L2, then checkpoint 2;
 *   the rest    the segment file.
 * A checkpoint to sign that does not parse is written as it is.  The
 * verifier must return 0, ERR_CORRUPT or -ENOMEM, and never crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "audit.h"
#include "audit_verify.h"
#include "dossier/v1/audit.pb-c.h"
#include "err.h"
#include "merkle.h"
#include "rpc.h"

#define CP_MAX 1024
#define LEAVES_MAX 4096

static char dir[256], pub_path[300], seg_path[300], cp_path[2][300];
static EVP_PKEY *key;
static uint8_t key_id[AUDIT_KEY_ID_LEN];
static FILE *devnull;

static void
die(const char *what)
{
    fprintf(stderr, "fuzz_audit_verify: %s\n", what);
    abort();
}

static void
write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "we");

    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die("cannot write a temporary file");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer ends with exit(): take the temporary directory with us. */
static void
cleanup(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    unsigned char *der = NULL;
    uint8_t h[SHA256_DIGEST_LENGTH];
    FILE *f;
    int n;

    if (access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    snprintf(dir, sizeof(dir), "%s/fuzz-audit-verify-XXXXXX",
             tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    atexit(cleanup);
    snprintf(pub_path, sizeof(pub_path), "%s/audit.pub", dir);
    snprintf(seg_path, sizeof(seg_path), "%s/log.bin", dir);
    snprintf(cp_path[0], sizeof(cp_path[0]), "%s/cp1.pb", dir);
    snprintf(cp_path[1], sizeof(cp_path[1]), "%s/cp2.pb", dir);
    if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
        die("keygen");
    if ((f = fopen(pub_path, "we")) == NULL ||
        PEM_write_PUBKEY(f, key) != 1 || fclose(f) != 0)
        die("cannot write audit.pub");
    if ((n = i2d_PUBKEY(key, &der)) <= 0)
        die("i2d_PUBKEY");
    SHA256(der, (size_t)n, h);
    OPENSSL_free(der);
    memcpy(key_id, h, AUDIT_KEY_ID_LEN);
    if ((devnull = fopen("/dev/null", "we")) == NULL)
        die("/dev/null");
    return 0;
}

/* The leaf hashes of the framed messages of the segment, as many as
 * parse (up to LEAVES_MAX). */
struct leaves {
    uint8_t (*hash)[MERKLE_HASH_LEN];
    uint64_t n;
};

static int
leaf_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct leaves *lv = arg;

    if (lv->n == LEAVES_MAX)
        return -1;
    if (merkle_leaf_hash(msg, len, lv->hash[lv->n]) != 0)
        abort();
    lv->n++;
    return 0;
}

static void
leaves_of(const uint8_t *seg, size_t n, struct leaves *lv)
{
    struct rpc_reader r;

    lv->n = 0;
    rpc_reader_init(&r, 1u << 20);
    (void)rpc_reader_feed(&r, seg, n, leaf_cb, lv);
    rpc_reader_close(&r);
}

/* Re-signs checkpoint |cp| (|n| bytes) into |out| with the harness's key;
 * returns the new length, or 0 if |cp| does not parse. */
static size_t
resign(const uint8_t *cp, size_t n, bool fix_root, uint64_t from,
       const struct leaves *lv, uint8_t *out, size_t outsz)
{
    Dossier__V1__Checkpoint *m = dossier__v1__checkpoint__unpack(NULL, n, cp);
    uint8_t root[MERKLE_HASH_LEN] = {0}, sig[AUDIT_SIG_LEN];
    char text[AUDIT_CHECKPOINT_TEXT_MAX];
    size_t tlen, siglen = sizeof(sig), len;
    ProtobufCBinaryData saved[3];
    EVP_MD_CTX *md;

    if (m == NULL)
        return 0;
    if (m->root_hash.len == MERKLE_HASH_LEN)
        memcpy(root, m->root_hash.data, MERKLE_HASH_LEN);
    if (fix_root && from == 0 && m->tree_size <= lv->n) {
        struct merkle_leaves ml = {(const void *)lv->hash, lv->n};
        if (merkle_root(merkle_leaves_node, &ml, m->tree_size, root) != 0)
            abort();
    }
    tlen = audit_checkpoint_text(m->tree_size, root, m->time_unix_ms, text);
    if ((md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const uint8_t *)text, tlen) != 1)
        die("sign");
    EVP_MD_CTX_free(md);
    saved[0] = m->root_hash;
    saved[1] = m->signature;
    saved[2] = m->key_id;
    m->root_hash.data = root;
    m->root_hash.len = MERKLE_HASH_LEN;
    m->signature.data = sig;
    m->signature.len = siglen;
    m->key_id.data = key_id;
    m->key_id.len = AUDIT_KEY_ID_LEN;
    len = dossier__v1__checkpoint__get_packed_size(m);
    if (len > outsz) {
        len = 0;
    } else {
        dossier__v1__checkpoint__pack(m, out);
    }
    /* The fields point at our buffers: give back what protobuf-c
     * allocated before freeing. */
    m->root_hash = saved[0];
    m->signature = saved[1];
    m->key_id = saved[2];
    dossier__v1__checkpoint__free_unpacked(m, NULL);
    return len;
}

static size_t
take_len(const uint8_t **p, size_t *n)
{
    size_t v;

    if (*n < 2) {
        *n = 0;
        return 0;
    }
    v = ((size_t)(*p)[0] | (size_t)(*p)[1] << 8) % (CP_MAX + 1);
    *p += 2;
    *n -= 2;
    if (v > *n)
        v = *n;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t (*hashes)[MERKLE_HASH_LEN];
    struct audit_verify_args a;
    struct leaves lv;
    const uint8_t *cp[2];
    size_t cplen[2];
    uint8_t signed_cp[2][CP_MAX + 256];
    uint8_t flags;
    uint64_t from;
    int rc;

    if (size < 1)
        return 0;
    if (hashes == NULL &&
        (hashes = malloc(LEAVES_MAX * sizeof(*hashes))) == NULL)
        abort();
    flags = data[0];
    data++;
    size--;
    from = flags >> 5;
    for (int i = 0; i < 2; i++) {
        cplen[i] = take_len(&data, &size);
        cp[i] = data;
        data += cplen[i];
        size -= cplen[i];
    }
    lv.hash = hashes;
    leaves_of(data, size, &lv);
    for (int i = 0; i < 2; i++) {
        if (flags & (2 << i)) {
            size_t k = resign(cp[i], cplen[i], flags & 8, from, &lv,
                              signed_cp[i], sizeof(signed_cp[i]));
            if (k > 0) {
                cp[i] = signed_cp[i];
                cplen[i] = k;
            }
        }
        write_file(cp_path[i], cp[i], cplen[i]);
    }
    write_file(seg_path, data, size);

    memset(&a, 0, sizeof(a));
    a.entries = seg_path;
    a.checkpoints[0] = cp_path[0];
    a.checkpoints[1] = cp_path[1];
    a.n_checkpoints = (flags & 1) ? 2 : 1;
    a.pub = pub_path;
    a.from = from;
    a.french = flags & 16;
    a.out = devnull;
    rc = audit_verify_run(&a);
    if (rc != 0 && rc != ERR_CORRUPT && rc != -ENOMEM)
        abort();
    return 0;
}
