/*
 * audit_verify.c -- `dossier audit verify`, the auditor's offline check of
 * a segment of the audit log against signed checkpoints (audit_verify.h).
 *
 * Nothing the daemon says is taken on trust: the signed text of a
 * checkpoint is rebuilt here from its fields, by the format audit.h
 * documents (not by the daemon's own code), and checked with the public
 * key the auditor holds; each leaf hash is SHA-256(0x00 || the entry's
 * bytes exactly as they were exported), never of a re-serialised entry;
 * the roots are folded by merkle.c from those leaves.
 *
 * The segment is read once, as a stream.  Entries are parsed (to check
 * their index), hashed and dropped; what is kept is the right edge of the
 * tree of the leaves read so far -- the complete subtrees of the binary
 * decomposition of their count, at most 64 hashes -- which is exactly what
 * merkle_root asks for when the count reaches a checkpoint's size.  The
 * checkpoints are read first, so the sizes at which to take a root are
 * known before the first entry.
 *
 * Every finding is one report line, in the language chosen; a failure
 * never stops the other checks, except in the segment: after a framing
 * error (bad flag, impossible length, truncated message) nothing further
 * can be told apart, so reading stops there.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "audit_verify.h"
#include "crypto.h"
#include "dossier/v1/audit.pb-c.h"
#include "err.h"
#include "merkle.h"
#include "rpc.h"

#define PROG "dossier"

/* The largest serialised AuditEntry: ten strings of at most
 * AUDIT_FIELD_MAX bytes (1 tag byte, 2 length bytes each), an index and a
 * time (1 + 10 bytes each).  A prefix announcing more is not an entry. */
#define ENTRY_MAX (10 * (AUDIT_FIELD_MAX + 3) + 2 * 11)
/* A serialised Checkpoint is about 120 bytes; a file much larger is some
 * other file given by mistake, not read whole. */
#define CHECKPOINT_FILE_MAX 4096
/* Entry problems listed one by one before the rest are only counted: a
 * segment shifted by one missing entry must not print a line per entry. */
#define ENTRY_PROBLEMS_SHOWN 20
#define READ_CHUNK (64 * 1024)
/* "dossierd checkpoint v1\n" + 20 + 1 + 64 + 1 + 20 + 1 digits/newlines. */
#define SIGNED_TEXT_MAX 160

/* Both languages side by side at each call, so that the compiler checks
 * both formats against the same arguments. */
#define TR(v, en, fr) ((v)->args->french ? (fr) : (en))

enum mark { MARK_OK, MARK_FAIL, MARK_SKIP, MARK_NOTE };

/* What is known of one checkpoint. */
struct cp {
    const char *path;
    uint8_t file[CHECKPOINT_FILE_MAX + 1]; /* its bytes, one more to tell */
    size_t file_len;
    char label[64]; /* "checkpoint size 40" (or "checkpoint 2 (size 40)") */
    bool usable;    /* parsed, every field of the right length */
    uint64_t size;
    uint8_t root[MERKLE_HASH_LEN];
    int64_t time_ms;
    uint8_t key_id[AUDIT_KEY_ID_LEN];
    uint8_t sig[AUDIT_SIG_LEN];
    bool computed; /* |computed_root| holds the root of the entries */
    uint8_t computed_root[MERKLE_HASH_LEN];
    bool root_ok; /* computed and equal to |root| */
};

/*
 * The right edge of the tree of the leaves read so far: node[0] is the
 * largest complete subtree, each next one smaller; their levels are the
 * bits set in |count|, high to low.  65 slots: one more than the bits of
 * a count, for the leaf just pushed before it merges.
 */
struct edge {
    uint64_t count;
    unsigned n;
    struct {
        unsigned level;
        uint8_t hash[MERKLE_HASH_LEN];
    } node[65];
};

struct verify {
    const struct audit_verify_args *args;
    EVP_PKEY *pub;
    uint8_t key_id[AUDIT_KEY_ID_LEN];
    struct cp cp[AUDIT_VERIFY_CHECKPOINTS_MAX];
    size_t n_cp;
    /* The segment. */
    struct edge edge;
    uint64_t position;   /* index the next entry stands at */
    uint64_t expect;     /* index its field should say */
    uint64_t last_index; /* what the previous entry's field said */
    bool have_last;
    uint64_t offset; /* byte offset of the next message in the file */
    uint64_t entry_problems;
    bool broken; /* framing error: not read past |position| */
    /* The report. */
    unsigned ok, failed, skipped;
};

/* --- the report ----------------------------------------------------------- */

static void say(struct verify *v, enum mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One report line, prefixed by what it is, counted in the verdict. */
static void
say(struct verify *v, enum mark m, const char *fmt, ...)
{
    static const char *const en[] = {"ok: ", "FAILED: ", "not checked: ", ""};
    static const char *const fr[] = {"ok : ", "ÉCHEC : ", "non vérifié : ", ""};
    va_list ap;

    fputs((v->args->french ? fr : en)[m], v->args->out);
    va_start(ap, fmt);
    vfprintf(v->args->out, fmt, ap);
    va_end(ap);
    fputc('\n', v->args->out);
    if (m == MARK_OK)
        v->ok++;
    else if (m == MARK_FAIL)
        v->failed++;
    else if (m == MARK_SKIP)
        v->skipped++;
}

static void complain(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A reason why no verdict can be given, on stderr. */
static void
complain(struct verify *v, const char *fmt, ...)
{
    va_list ap;

    (void)v;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *
errno_text(struct verify *v, int rc)
{
    if (!v->args->french)
        return err_str(rc);
    switch (rc) {
    case -ENOENT:
        return "fichier absent";
    case -EACCES:
    case -EPERM:
        return "permission refusée";
    case -EISDIR:
        return "c'est un répertoire";
    case -ENOMEM:
        return "mémoire insuffisante";
    case -EIO:
        return "erreur d'entrée-sortie";
    default:
        return err_str(rc);
    }
}

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* |ms| since the epoch as "2024-05-01T10:00:00.123Z" (UTC), or the bare
 * number when it is out of gmtime's range. */
static const char *
time_text(int64_t ms, char out[48])
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    struct tm tm;
    time_t t;

    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, 48, "%" PRId64 " ms", ms);
        return out;
    }
    snprintf(out + strlen(out), 48 - strlen(out), ".%03dZ", (int)rem);
    return out;
}

/* --- files ---------------------------------------------------------------- */

/* Loads the Ed25519 public key at |path| and its key id: the first
 * AUDIT_KEY_ID_LEN bytes of SHA-256 of its DER SubjectPublicKeyInfo, as
 * audit.h defines it.  Returns 0, ERR_KEY, -ENOMEM or a negative errno,
 * said. */
static int
pub_load(struct verify *v, const char *path)
{
    uint8_t h[CRYPTO_HASH_LEN], *der = NULL;
    FILE *f;
    int rc, n;

    if ((f = fopen(path, "re")) == NULL) {
        rc = -errno;
        complain(v,
                 TR(v, "cannot read the public key %s: %s",
                    "impossible de lire la clé publique %s : %s"),
                 path, errno_text(v, rc));
        return rc;
    }
    v->pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (v->pub == NULL || EVP_PKEY_get_id(v->pub) != EVP_PKEY_ED25519) {
        complain(v,
                 TR(v,
                    "%s holds no Ed25519 public key in PEM (the "
                    "daemon's keys/audit.pub)",
                    "%s ne contient pas de clé publique Ed25519 en PEM "
                    "(le keys/audit.pub du démon)"),
                 path);
        rc = ERR_KEY;
        goto fail;
    }
    if ((n = i2d_PUBKEY(v->pub, &der)) <= 0) {
        rc = ERR_KEY;
        complain(v,
                 TR(v, "cannot encode the public key of %s",
                    "impossible d'encoder la clé publique de %s"),
                 path);
        goto fail;
    }
    rc = crypto_sha256(der, (size_t)n, h);
    OPENSSL_free(der);
    if (rc != 0)
        goto fail;
    memcpy(v->key_id, h, AUDIT_KEY_ID_LEN);
    return 0;
fail:
    ERR_clear_error();
    EVP_PKEY_free(v->pub);
    v->pub = NULL;
    return rc;
}

/* Reads the checkpoint file at |c->path| into |c->file|.  Returns 0 or
 * a negative errno, said: without its checkpoints there is no verdict. */
static int
cp_read(struct verify *v, struct cp *c)
{
    FILE *f;
    int rc;

    if ((f = fopen(c->path, "re")) == NULL) {
        rc = -errno;
        goto fail;
    }
    c->file_len = fread(c->file, 1, sizeof(c->file), f);
    rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc == 0)
        return 0;
fail:
    complain(v,
             TR(v, "cannot read the checkpoint %s: %s",
                "impossible de lire le point de contrôle %s : %s"),
             c->path, errno_text(v, rc));
    return rc;
}

/* Parses |c->file|.  One that is no well-formed Checkpoint is a failed
 * check, said; |c->usable| tells. */
static void
cp_parse(struct verify *v, struct cp *c)
{
    Dossier__V1__Checkpoint *m;

    if (c->file_len > CHECKPOINT_FILE_MAX) {
        say(v, MARK_FAIL,
            TR(v,
               "checkpoint %s: more than %d bytes: not a "
               "dossier.v1.Checkpoint",
               "point de contrôle %s : plus de %d octets : ce n'est pas un "
               "dossier.v1.Checkpoint"),
            c->path, CHECKPOINT_FILE_MAX);
        return;
    }
    m = dossier__v1__checkpoint__unpack(NULL, c->file_len, c->file);
    if (m == NULL) {
        say(v, MARK_FAIL,
            TR(v, "checkpoint %s: does not parse as a dossier.v1.Checkpoint",
               "point de contrôle %s : illisible comme "
               "dossier.v1.Checkpoint"),
            c->path);
        return;
    }
    c->size = m->tree_size;
    c->time_ms = m->time_unix_ms;
    if (m->root_hash.len != MERKLE_HASH_LEN ||
        m->signature.len != AUDIT_SIG_LEN ||
        m->key_id.len != AUDIT_KEY_ID_LEN) {
        say(v, MARK_FAIL,
            TR(v,
               "checkpoint %s: root_hash, signature, key_id have %zu, "
               "%zu, %zu bytes, want %d, %d, %d",
               "point de contrôle %s : root_hash, signature, key_id ont "
               "%zu, %zu, %zu octets au lieu de %d, %d, %d"),
            c->path, m->root_hash.len, m->signature.len, m->key_id.len,
            MERKLE_HASH_LEN, AUDIT_SIG_LEN, AUDIT_KEY_ID_LEN);
    } else {
        memcpy(c->root, m->root_hash.data, MERKLE_HASH_LEN);
        memcpy(c->sig, m->signature.data, AUDIT_SIG_LEN);
        memcpy(c->key_id, m->key_id.data, AUDIT_KEY_ID_LEN);
        c->usable = true;
    }
    dossier__v1__checkpoint__free_unpacked(m, NULL);
}

/* --- signatures ----------------------------------------------------------- */

/* The signed text of a checkpoint, as audit.h documents it: four lines,
 * decimal numbers without leading zeros, the root in lowercase hex. */
static size_t
signed_text(const struct cp *c, char out[SIGNED_TEXT_MAX])
{
    char hex[2 * MERKLE_HASH_LEN + 1];
    int n;

    hex_encode(c->root, MERKLE_HASH_LEN, hex);
    n = snprintf(out, SIGNED_TEXT_MAX,
                 "dossierd checkpoint v1\n%" PRIu64 "\n%s\n%" PRId64 "\n",
                 c->size, hex, c->time_ms);
    return n > 0 && n < SIGNED_TEXT_MAX ? (size_t)n : 0;
}

/* 1 if |c|'s signature verifies with the given key, 0 if not, or -ENOMEM. */
static int
signature_verifies(struct verify *v, const struct cp *c)
{
    char text[SIGNED_TEXT_MAX];
    size_t len = signed_text(c, text);
    EVP_MD_CTX *ctx;
    int ok;

    if ((ctx = EVP_MD_CTX_new()) == NULL)
        return -ENOMEM;
    ok = len > 0 && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->pub) == 1 &&
         EVP_DigestVerify(ctx, c->sig, AUDIT_SIG_LEN, (const uint8_t *)text,
                          len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 1 : 0;
}

/* Key id, then signature, of every usable checkpoint. */
static int
cp_check_signatures(struct verify *v)
{
    char want[2 * AUDIT_KEY_ID_LEN + 1], got[2 * AUDIT_KEY_ID_LEN + 1];
    char when[48];
    int rc;

    hex_encode(v->key_id, AUDIT_KEY_ID_LEN, want);
    for (size_t i = 0; i < v->n_cp; i++) {
        struct cp *c = &v->cp[i];
        bool key_ok;

        if (!c->usable)
            continue;
        hex_encode(c->key_id, AUDIT_KEY_ID_LEN, got);
        key_ok = memcmp(c->key_id, v->key_id, AUDIT_KEY_ID_LEN) == 0;
        if (!key_ok)
            say(v, MARK_FAIL,
                TR(v, "%s: key id %s is not that of the given key (%s)",
                   "%s : l'identifiant de clé %s n'est pas celui de la clé "
                   "donnée (%s)"),
                c->label, got, want);
        if ((rc = signature_verifies(v, c)) < 0)
            return rc;
        time_text(c->time_ms, when);
        if (rc == 1)
            say(v, MARK_OK,
                TR(v, "%s: signature verifies (key %s, signed %s, %s)",
                   "%s : la signature est valide (clé %s, signé le %s, %s)"),
                c->label, want, when, c->path);
        else
            say(v, MARK_FAIL,
                TR(v,
                   "%s: signature does not verify with key %s (%s: the "
                   "checkpoint was altered, or signed by another key)",
                   "%s : la signature n'est pas valide avec la clé %s (%s : "
                   "point de contrôle modifié, ou signé par une autre "
                   "clé)"),
                c->label, want, c->path);
    }
    return 0;
}

/* The second checkpoint must be the newer: no smaller, and not dated
 * before the first.  Returns true when the order holds (or cannot be
 * judged: a checkpoint is unusable). */
static bool
cp_check_order(struct verify *v)
{
    const struct cp *a = &v->cp[0], *b = &v->cp[1];
    bool ok = true;

    if (v->n_cp < 2 || !a->usable || !b->usable)
        return true;
    if (b->size < a->size) {
        say(v, MARK_FAIL,
            TR(v,
               "the second checkpoint (size %" PRIu64 ") is smaller than "
               "the first (size %" PRIu64 "): it cannot extend it (an "
               "older checkpoint presented as newer?)",
               "le second point de contrôle (taille %" PRIu64 ") est plus "
               "petit que le premier (taille %" PRIu64 ") : il ne peut pas "
               "le prolonger (un point de contrôle plus ancien présenté "
               "comme plus récent ?)"),
            b->size, a->size);
        ok = false;
    }
    if (b->time_ms < a->time_ms) {
        char ta[48], tb[48];

        say(v, MARK_FAIL,
            TR(v,
               "the second checkpoint (signed %s) is dated before the "
               "first (signed %s) (an older checkpoint presented as "
               "newer?)",
               "le second point de contrôle (signé le %s) est antérieur au "
               "premier (signé le %s) (un point de contrôle plus ancien "
               "présenté comme plus récent ?)"),
            time_text(b->time_ms, tb), time_text(a->time_ms, ta));
        ok = false;
    }
    return ok;
}

/* --- the right edge of the tree ------------------------------------------- */

/* Adds one leaf; merges the subtrees it completes.  Returns 0 or an
 * error of hashing. */
static int
edge_push(struct edge *e, const uint8_t leaf[MERKLE_HASH_LEN])
{
    int rc;

    memcpy(e->node[e->n].hash, leaf, MERKLE_HASH_LEN);
    e->node[e->n].level = 0;
    e->n++;
    while (e->n >= 2 && e->node[e->n - 1].level == e->node[e->n - 2].level) {
        if ((rc = merkle_node_hash(e->node[e->n - 2].hash,
                                   e->node[e->n - 1].hash,
                                   e->node[e->n - 2].hash)) != 0)
            return rc;
        e->node[e->n - 2].level++;
        e->n--;
    }
    e->count++;
    return 0;
}

/* merkle_node_fn over the edge: the only complete subtrees merkle_root
 * asks for, for a size equal to e->count, are those the edge holds. */
static int
edge_node(void *arg, unsigned level, uint64_t index,
          uint8_t out[MERKLE_HASH_LEN])
{
    const struct edge *e = arg;
    uint64_t start = 0;

    for (unsigned i = 0; i < e->n; i++) {
        if (e->node[i].level == level) {
            if (index != start >> level)
                break;
            memcpy(out, e->node[i].hash, MERKLE_HASH_LEN);
            return 0;
        }
        start += (uint64_t)1 << e->node[i].level;
    }
    return ERR_INVALID;
}

/* When the segment starts at 0 and has reached a checkpoint's size, takes
 * the root there. */
static int
roots_take(struct verify *v)
{
    int rc;

    if (v->args->from != 0)
        return 0;
    for (size_t i = 0; i < v->n_cp; i++) {
        struct cp *c = &v->cp[i];

        if (!c->usable || c->computed || c->size != v->edge.count)
            continue;
        if ((rc = merkle_root(edge_node, &v->edge, c->size,
                              c->computed_root)) != 0)
            return rc;
        c->computed = true;
    }
    return 0;
}

/* --- the segment ---------------------------------------------------------- */

static void entry_problem(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failed check of one entry; past ENTRY_PROBLEMS_SHOWN only counted. */
static void
entry_problem(struct verify *v, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    v->entry_problems++;
    if (v->entry_problems > ENTRY_PROBLEMS_SHOWN) {
        v->failed++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    say(v, MARK_FAIL, "%s", line);
}

/*
 * The index field of the entry at |v->position| says |index|.  Entries
 * must follow each other one by one; after a gap the count resumes from
 * the index found, so one missing entry is one line, and a duplicate or
 * an entry out of place does not move what the next ones should say.
 */
static void
entry_index_check(struct verify *v, uint64_t index)
{
    uint64_t p = v->position, want = v->expect;

    if (index == want) {
        v->expect = index + 1;
    } else if (index > want) {
        if (index - want == 1)
            entry_problem(v,
                          TR(v,
                             "entry %" PRIu64 ": index field says %" PRIu64
                             " (entry %" PRIu64 " missing?)",
                             "entrée %" PRIu64 " : le champ index indique "
                             "%" PRIu64 " (entrée %" PRIu64 " manquante ?)"),
                          p, index, want);
        else
            entry_problem(v,
                          TR(v,
                             "entry %" PRIu64 ": index field says %" PRIu64
                             " (entries %" PRIu64 " to %" PRIu64 " missing?)",
                             "entrée %" PRIu64 " : le champ index indique "
                             "%" PRIu64 " (entrées %" PRIu64 " à %" PRIu64
                             " manquantes ?)"),
                          p, index, want, index - 1);
        v->expect = index + 1;
    } else if (v->have_last && index == v->last_index) {
        entry_problem(v,
                      TR(v,
                         "entry %" PRIu64 ": index field says %" PRIu64
                         " (a duplicate of the entry before)",
                         "entrée %" PRIu64 " : le champ index indique "
                         "%" PRIu64 " (doublon de l'entrée précédente)"),
                      p, index);
    } else {
        entry_problem(v,
                      TR(v,
                         "entry %" PRIu64 ": index field says %" PRIu64
                         " (out of order)",
                         "entrée %" PRIu64 " : le champ index indique "
                         "%" PRIu64 " (hors d'ordre)"),
                      p, index);
    }
    v->last_index = index;
    v->have_last = true;
}

/* rpc_reader_msg_fn: one exported entry, |len| bytes. */
static int
entry_message(void *arg, const uint8_t *msg, size_t len)
{
    struct verify *v = arg;
    uint8_t leaf[MERKLE_HASH_LEN];
    Dossier__V1__AuditEntry *e;
    int rc;

    e = dossier__v1__audit_entry__unpack(NULL, len, msg);
    if (e == NULL) {
        entry_problem(v,
                      TR(v,
                         "entry %" PRIu64 ": does not parse as a "
                         "dossier.v1.AuditEntry (altered?)",
                         "entrée %" PRIu64 " : illisible comme "
                         "dossier.v1.AuditEntry (modifiée ?)"),
                      v->position);
        /* Counted as the entry expected, whatever it was. */
        v->expect++;
        v->have_last = false;
    } else {
        entry_index_check(v, e->index);
        dossier__v1__audit_entry__free_unpacked(e, NULL);
    }
    /* The leaf is the bytes as exported, parsed or not. */
    if (v->args->from == 0) {
        if (v->edge.count == UINT64_MAX)
            return -EOVERFLOW;
        if ((rc = merkle_leaf_hash(msg, len, leaf)) != 0 ||
            (rc = edge_push(&v->edge, leaf)) != 0 || (rc = roots_take(v)) != 0)
            return rc;
    }
    v->position++;
    v->offset += RPC_PREFIX_LEN + len;
    return 0;
}

/* Reads the whole segment from |f|.  Framing errors are failed checks;
 * returns 0, or an error without verdict (read error, hashing). */
static int
segment_read(struct verify *v, FILE *f)
{
    struct rpc_reader r;
    uint8_t *chunk;
    size_t n;
    int rc = 0;

    if ((chunk = malloc(READ_CHUNK)) == NULL)
        return -ENOMEM;
    rpc_reader_init(&r, ENTRY_MAX);
    v->expect = v->args->from;
    v->position = v->args->from;
    while ((n = fread(chunk, 1, READ_CHUNK, f)) > 0) {
        rc = rpc_reader_feed(&r, chunk, n, entry_message, v);
        if (rc == ERR_TOOBIG) {
            say(v, MARK_FAIL,
                TR(v,
                   "entry %" PRIu64 " (byte %" PRIu64 " of %s): its "
                   "prefix announces %" PRIu32 " bytes, more than an "
                   "entry can hold (%d): not an exported segment, or "
                   "altered",
                   "entrée %" PRIu64 " (octet %" PRIu64 " de %s) : son "
                   "préfixe annonce %" PRIu32 " octets, plus qu'une entrée "
                   "ne peut en contenir (%d) : pas un segment exporté, ou "
                   "modifié"),
                v->position, v->offset, v->args->entries, r.msg_len, ENTRY_MAX);
            v->broken = true;
            rc = 0;
            goto done;
        }
        if (rc == ERR_COMPRESSED || rc == ERR_PROTO) {
            say(v, MARK_FAIL,
                TR(v,
                   "entry %" PRIu64 " (byte %" PRIu64 " of %s): flag "
                   "byte %u, want 0: not an exported segment, or altered",
                   "entrée %" PRIu64 " (octet %" PRIu64 " de %s) : octet "
                   "d'option %u au lieu de 0 : pas un segment exporté, ou "
                   "modifié"),
                v->position, v->offset, v->args->entries,
                (unsigned)r.prefix[0]);
            v->broken = true;
            rc = 0;
            goto done;
        }
        if (rc != 0)
            goto done;
    }
    if (ferror(f)) {
        rc = -EIO;
        complain(v, TR(v, "cannot read %s: %s", "impossible de lire %s : %s"),
                 v->args->entries, errno_text(v, rc));
        goto done;
    }
    if (!rpc_reader_idle(&r)) {
        v->broken = true;
        say(v, MARK_FAIL,
            TR(v,
               "the segment ends inside entry %" PRIu64 " (byte %" PRIu64
               " of %s): truncated?",
               "le segment s'arrête au milieu de l'entrée %" PRIu64
               " (octet %" PRIu64 " de %s) : tronqué ?"),
            v->position, v->offset, v->args->entries);
    }
done:
    rpc_reader_close(&r);
    free(chunk);
    return rc;
}

/* The summary of the segment's own checks. */
static void
segment_report(struct verify *v)
{
    uint64_t n = v->position - v->args->from;

    if (v->entry_problems > ENTRY_PROBLEMS_SHOWN)
        fprintf(v->args->out,
                TR(v,
                   "... and %" PRIu64 " more problems with entries, not "
                   "listed\n",
                   "... et %" PRIu64 " autres problèmes d'entrées, non "
                   "listés\n"),
                v->entry_problems - ENTRY_PROBLEMS_SHOWN);
    if (n == 0)
        say(v, MARK_NOTE,
            TR(v, "the segment %s holds no entry",
               "le segment %s ne contient aucune entrée"),
            v->args->entries);
    else if (v->entry_problems == 0)
        say(v, MARK_OK,
            TR(v,
               "entries %" PRIu64 " to %" PRIu64 " (%" PRIu64 "): every "
               "index field matches its position",
               "entrées %" PRIu64 " à %" PRIu64 " (%" PRIu64 ") : chaque "
               "champ index correspond à sa position"),
            v->args->from, v->position - 1, n);
}

/* --- roots and extension -------------------------------------------------- */

static void
cp_check_roots(struct verify *v)
{
    for (size_t i = 0; i < v->n_cp; i++) {
        struct cp *c = &v->cp[i];

        if (!c->usable)
            continue;
        if (c->size == 0) {
            /* Known without any entry. */
            merkle_empty_root(c->computed_root);
            c->computed = true;
        }
        if (c->computed) {
            c->root_ok =
                memcmp(c->computed_root, c->root, MERKLE_HASH_LEN) == 0;
            if (c->root_ok && c->size == 0)
                say(v, MARK_OK,
                    TR(v, "%s: root is that of the empty log",
                       "%s : la racine est celle du journal vide"),
                    c->label);
            else if (c->root_ok)
                say(v, MARK_OK,
                    TR(v, "%s: root matches entries 0 to %" PRIu64,
                       "%s : la racine correspond aux entrées 0 à %" PRIu64),
                    c->label, c->size - 1);
            else
                say(v, MARK_FAIL,
                    TR(v,
                       "%s: root does not match the entries (log "
                       "altered?)",
                       "%s : la racine ne correspond pas aux entrées "
                       "(journal modifié ?)"),
                    c->label);
        } else if (v->args->from != 0) {
            say(v, MARK_SKIP,
                TR(v,
                   "%s: root: the segment starts at entry %" PRIu64
                   ", and the root needs every entry from 0",
                   "%s : racine : le segment commence à l'entrée %" PRIu64
                   ", et la racine exige toutes les entrées depuis 0"),
                c->label, v->args->from);
        } else if (v->broken) {
            say(v, MARK_FAIL,
                TR(v,
                   "%s: root not checked: the segment cannot be read "
                   "past entry %" PRIu64 " (see above)",
                   "%s : racine non vérifiée : le segment est illisible "
                   "après l'entrée %" PRIu64 " (voir plus haut)"),
                c->label, v->position);
        } else {
            /* It starts at 0 and stops short: entries the checkpoint
             * counts were not exported. */
            say(v, MARK_FAIL,
                TR(v,
                   "%s: the segment stops at %" PRIu64 " entries: "
                   "entries %" PRIu64 " to %" PRIu64 " are missing "
                   "(truncated?)",
                   "%s : le segment s'arrête à %" PRIu64 " entrées : les "
                   "entrées %" PRIu64 " à %" PRIu64 " manquent "
                   "(tronqué ?)"),
                c->label, v->position, v->position, c->size - 1);
        }
    }
}

/* That the second checkpoint extends the first: both roots recomputed
 * from the same entries, or equal roots at equal sizes. */
static void
cp_check_extension(struct verify *v)
{
    const struct cp *a = &v->cp[0], *b = &v->cp[1];

    if (a->computed && b->computed) {
        if (a->root_ok && b->root_ok)
            say(v, MARK_OK,
                TR(v,
                   "%s extends %s (both roots recomputed from the same "
                   "entries)",
                   "%s prolonge %s (les deux racines recalculées à partir "
                   "des mêmes entrées)"),
                b->label, a->label);
        else if (a->root_ok || b->root_ok)
            say(v, MARK_FAIL,
                TR(v,
                   "%s does not extend %s: the entries match the root of "
                   "one and not the other (history rewritten?)",
                   "%s ne prolonge pas %s : les entrées correspondent à la "
                   "racine de l'un et pas de l'autre (historique "
                   "réécrit ?)"),
                b->label, a->label);
        else
            say(v, MARK_FAIL,
                TR(v,
                   "%s extends %s: not established, neither root matches "
                   "the entries",
                   "%s prolonge %s : non établi, aucune des deux racines ne "
                   "correspond aux entrées"),
                b->label, a->label);
    } else if (a->size == b->size) {
        if (memcmp(a->root, b->root, MERKLE_HASH_LEN) == 0)
            say(v, MARK_OK,
                TR(v, "%s and %s: same size, same root",
                   "%s et %s : même taille, même racine"),
                a->label, b->label);
        else
            say(v, MARK_FAIL,
                TR(v,
                   "%s and %s: same size, different roots (the log was "
                   "forked)",
                   "%s et %s : même taille, racines différentes (le journal "
                   "a bifurqué)"),
                a->label, b->label);
    } else {
        say(v, MARK_SKIP,
            TR(v,
               "%s extends %s: the segment does not hold entries 0 to "
               "%" PRIu64 " (ask the daemon for Audit.ConsistencyProof)",
               "%s prolonge %s : le segment ne contient pas les entrées 0 "
               "à %" PRIu64 " (demandez Audit.ConsistencyProof au démon)"),
            b->label, a->label, b->size - 1);
    }
}

/* --- the run -------------------------------------------------------------- */

static void
cp_labels(struct verify *v)
{
    bool same = v->n_cp == 2 && v->cp[0].usable && v->cp[1].usable &&
                v->cp[0].size == v->cp[1].size;

    for (size_t i = 0; i < v->n_cp; i++) {
        struct cp *c = &v->cp[i];

        if (same)
            snprintf(c->label, sizeof(c->label),
                     TR(v, "checkpoint %zu (size %" PRIu64 ")",
                        "point de contrôle %zu (taille %" PRIu64 ")"),
                     i + 1, c->size);
        else
            snprintf(c->label, sizeof(c->label),
                     TR(v, "checkpoint size %" PRIu64,
                        "point de contrôle taille %" PRIu64),
                     c->size);
    }
}

static void
verdict(struct verify *v)
{
    FILE *out = v->args->out;

    if (v->failed > 0)
        fprintf(out,
                TR(v,
                   "verdict: FAILED: %u problem(s), see above; %u "
                   "check(s) passed\n",
                   "verdict : ÉCHEC : %u problème(s), voir ci-dessus ; "
                   "%u vérification(s) réussie(s)\n"),
                v->failed, v->ok);
    else if (v->skipped > 0)
        fprintf(out,
                TR(v,
                   "verdict: every check made verifies (%u); %u could not "
                   "be made with this segment (see above)\n",
                   "verdict : toutes les vérifications faites sont réussies "
                   "(%u) ; %u impossibles avec ce segment (voir "
                   "ci-dessus)\n"),
                v->ok, v->skipped);
    else
        fprintf(out,
                TR(v, "verdict: everything verifies (%u checks)\n",
                   "verdict : tout est vérifié (%u vérifications)\n"),
                v->ok);
}

int
audit_verify_run(const struct audit_verify_args *a)
{
    struct verify *v;
    char kid[2 * AUDIT_KEY_ID_LEN + 1];
    FILE *f = NULL;
    bool ordered;
    int rc;

    if (a->n_checkpoints < 1 || a->n_checkpoints > AUDIT_VERIFY_CHECKPOINTS_MAX)
        return ERR_INVALID;
    /* Some KiB (the edge, the checkpoint files): on the heap. */
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return -ENOMEM;
    v->args = a;
    v->n_cp = a->n_checkpoints;
    for (size_t i = 0; i < v->n_cp; i++)
        v->cp[i].path = a->checkpoints[i];

    /* Every file is opened before the first report line, so that an
     * unreadable one gives no half report. */
    if ((rc = pub_load(v, a->pub)) != 0)
        goto out;
    if ((f = fopen(a->entries, "re")) == NULL) {
        rc = -errno;
        complain(v,
                 TR(v, "cannot read the entries %s: %s",
                    "impossible de lire les entrées %s : %s"),
                 a->entries, errno_text(v, rc));
        goto out;
    }
    for (size_t i = 0; i < v->n_cp; i++)
        if ((rc = cp_read(v, &v->cp[i])) != 0)
            goto out;

    hex_encode(v->key_id, AUDIT_KEY_ID_LEN, kid);
    say(v, MARK_NOTE,
        TR(v, "public key %s: Ed25519, key id %s",
           "clé publique %s : Ed25519, identifiant %s"),
        a->pub, kid);
    for (size_t i = 0; i < v->n_cp; i++)
        cp_parse(v, &v->cp[i]);
    cp_labels(v);
    if ((rc = cp_check_signatures(v)) != 0)
        goto out;
    ordered = cp_check_order(v);

    /* Size-0 checkpoints have their root before any entry. */
    if ((rc = roots_take(v)) != 0 || (rc = segment_read(v, f)) != 0)
        goto out;
    segment_report(v);
    cp_check_roots(v);
    if (v->n_cp == 2 && ordered && v->cp[0].usable && v->cp[1].usable)
        cp_check_extension(v);
    verdict(v);
    fflush(a->out);
    rc = v->failed > 0 ? ERR_CORRUPT : 0;
out:
    if (f != NULL)
        fclose(f);
    EVP_PKEY_free(v->pub);
    free(v);
    return rc;
}
