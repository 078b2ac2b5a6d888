/*
 * keyring.c -- master and pepper keys from the keys directory (see
 * keyring.h).
 *
 * Key bytes live in one heap allocation per keyring (the masters array)
 * and in the struct itself (the pepper); keyring_free wipes both.  Files
 * are read into stack buffers that are wiped before returning, on every
 * path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "keyring.h"
#include "log.h"
#include "nir.h"
#include "tls.h"

#define KEY_HEX_LEN (2 * KEYRING_KEY_LEN)
#define MASTER_PREFIX "master-"
#define MASTER_SUFFIX ".key"
#define PEPPER_NAME "pepper.key"
#define HINT "run dossier-admin init-dev (development) or keygen-master"

/* Domain label of a wrapped DEK's additional data, so a wrapped DEK can
 * never be mistaken for any other value sealed under a master key. */
static const char dek_label[] = "dossierd-dek-v1";
#define PERSON_MAX 64
#define DEK_AAD_MAX (sizeof(dek_label) + 4 + PERSON_MAX)

struct keyring_master {
    uint32_t id;
    uint8_t key[KEYRING_KEY_LEN];
};

struct keyring {
    struct keyring_master *masters; /* sorted by id, ascending */
    size_t nmasters;
    size_t cap;
    uint8_t pepper[KEYRING_KEY_LEN];
    bool have_pepper;
};

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Reads the key file |path| into |key|.  Returns 0 or ERR_KEY (logged).
 * The file must pass tls_key_file_check, and again once open (fstat), so
 * that a file swapped in between is checked too.
 */
static int
keyring_read_key(const char *path, uint8_t key[KEYRING_KEY_LEN])
{
    char text[KEY_HEX_LEN + 2]; /* the digits, a newline, one byte more */
    struct stat st;
    size_t n = 0;
    int fd = -1, rc;

    if ((rc = tls_key_file_check(path)) != 0) {
        /* tls_key_file_check logged ERR_KEY itself; errno cases not. */
        if (rc != ERR_KEY)
            log_warnx("cannot read key file path=%s: %s", path, err_str(rc));
        rc = ERR_KEY;
        goto done;
    }
    rc = ERR_KEY;
    /* O_NONBLOCK: a FIFO swapped in after the check must not hang us. */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        log_warn("cannot open key file path=%s", path);
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        log_warn("cannot stat key file path=%s", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        log_warnx("key file changed while being opened path=%s mode=%04o", path,
                  (unsigned)(st.st_mode & 07777));
        goto done;
    }
    while (n < sizeof(text)) {
        ssize_t k = read(fd, text + n, sizeof(text) - n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            log_warn("cannot read key file path=%s", path);
            goto done;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (!(n == KEY_HEX_LEN || (n == KEY_HEX_LEN + 1 && text[n - 1] == '\n')))
        goto malformed;
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            goto malformed;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    rc = 0;
    goto done;

malformed:
    log_warnx("malformed key file path=%s (want %d hex digits and a "
              "newline; make one with dossier-admin keygen-master)",
              path, KEY_HEX_LEN);
    rc = ERR_KEY;
done:
    if (rc != 0)
        OPENSSL_cleanse(key, KEYRING_KEY_LEN);
    OPENSSL_cleanse(text, sizeof(text));
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * Parses the id of a master key file name: "master-<N>.key" with N
 * decimal, 1..2^31, no sign or leading zero.  Returns 1 and sets |*id| if
 * |name| has that form, 0 if it is not a master key name at all, -1 if it
 * is one with a bad id.
 */
static int
master_name_id(const char *name, uint32_t *id)
{
    size_t len = strlen(name), plen = strlen(MASTER_PREFIX),
           slen = strlen(MASTER_SUFFIX);
    const char *p, *end;
    uint64_t v = 0;

    if (len < plen + slen || strncmp(name, MASTER_PREFIX, plen) != 0 ||
        strcmp(name + len - slen, MASTER_SUFFIX) != 0)
        return 0;
    p = name + plen;
    end = name + len - slen;
    if (p == end || *p == '0' || end - p > 10)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < 1 || v > KEYRING_ID_MAX)
        return -1;
    *id = (uint32_t)v;
    return 1;
}

static int
master_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct keyring_master *)a)->id;
    uint32_t y = ((const struct keyring_master *)b)->id;

    return x < y ? -1 : x > y;
}

static const struct keyring_master *
keyring_master_find(const struct keyring *kr, uint32_t id)
{
    struct keyring_master k = {.id = id};

    return bsearch(&k, kr->masters, kr->nmasters, sizeof(*kr->masters),
                   master_cmp);
}

/* Adds master key |id| read from |path|.  0, ERR_KEY or -ENOMEM. */
static int
keyring_add_master(struct keyring *kr, uint32_t id, const char *path)
{
    struct keyring_master *m;
    int rc;

    if (kr->nmasters == kr->cap) {
        size_t cap = kr->cap ? 2 * kr->cap : 4;

        /* Not realloc: the old array holds keys and must be wiped. */
        if ((m = calloc(cap, sizeof(*m))) == NULL)
            return -ENOMEM;
        if (kr->nmasters > 0)
            memcpy(m, kr->masters, kr->nmasters * sizeof(*m));
        if (kr->masters != NULL) {
            OPENSSL_cleanse(kr->masters, kr->cap * sizeof(*m));
            free(kr->masters);
        }
        kr->masters = m;
        kr->cap = cap;
    }
    m = &kr->masters[kr->nmasters];
    if ((rc = keyring_read_key(path, m->key)) != 0)
        return rc;
    m->id = id;
    kr->nmasters++;
    return 0;
}

int
keyring_load(const char *dir, struct keyring **out)
{
    struct keyring *kr = NULL;
    struct dirent *de;
    char path[PATH_MAX];
    DIR *d = NULL;
    int rc;

    *out = NULL;
    if ((d = opendir(dir)) == NULL) {
        log_warn("cannot open keys directory dir=%s", dir);
        rc = ERR_KEY;
        goto fail;
    }
    if ((kr = calloc(1, sizeof(*kr))) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    for (;;) {
        uint32_t id;
        int kind;

        errno = 0;
        if ((de = readdir(d)) == NULL) {
            if (errno != 0) {
                log_warn("cannot list keys directory dir=%s", dir);
                rc = ERR_KEY;
                goto fail;
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        kind = master_name_id(de->d_name, &id);
        if (kind == 0 && strcmp(de->d_name, PEPPER_NAME) != 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
            sizeof(path)) {
            log_warnx("key file path too long dir=%s", dir);
            rc = ERR_KEY;
            goto fail;
        }
        if (kind < 0) {
            log_warnx("bad master key file name path=%s (want master-<N>.key, "
                      "N from 1 to %u without leading zeros)",
                      path, KEYRING_ID_MAX);
            rc = ERR_KEY;
            goto fail;
        }
        if (kind > 0)
            rc = keyring_add_master(kr, id, path);
        else if ((rc = keyring_read_key(path, kr->pepper)) == 0)
            kr->have_pepper = true;
        if (rc != 0)
            goto fail;
    }
    if (kr->nmasters == 0) {
        log_warnx("no master key in %s; " HINT, dir);
        rc = ERR_KEY;
        goto fail;
    }
    if (!kr->have_pepper) {
        log_warnx("no pepper key (" PEPPER_NAME ") in %s; " HINT, dir);
        rc = ERR_KEY;
        goto fail;
    }
    qsort(kr->masters, kr->nmasters, sizeof(*kr->masters), master_cmp);
    closedir(d);
    log_info("keys loaded dir=%s master_keys=%zu current_key_id=%u", dir,
             kr->nmasters, keyring_master_current_id(kr));
    *out = kr;
    return 0;

fail:
    keyring_free(kr);
    if (d != NULL)
        closedir(d);
    return rc;
}

void
keyring_free(struct keyring *kr)
{
    if (kr == NULL)
        return;
    if (kr->masters != NULL) {
        OPENSSL_cleanse(kr->masters, kr->cap * sizeof(*kr->masters));
        free(kr->masters);
    }
    OPENSSL_cleanse(kr, sizeof(*kr));
    free(kr);
}

uint32_t
keyring_master_current_id(const struct keyring *kr)
{
    return kr->masters[kr->nmasters - 1].id;
}

bool
keyring_has_master(const struct keyring *kr, uint32_t id)
{
    return keyring_master_find(kr, id) != NULL;
}

size_t
keyring_master_count(const struct keyring *kr)
{
    return kr->nmasters;
}

/* The additional data of a wrapped DEK: label, key id, person.  Returns
 * its length; |aad| holds DEK_AAD_MAX bytes. */
static size_t
dek_aad(uint8_t *aad, uint32_t id, const void *person, size_t personlen)
{
    memcpy(aad, dek_label, sizeof(dek_label)); /* with its NUL */
    be_put32(aad + sizeof(dek_label), id);
    memcpy(aad + sizeof(dek_label) + 4, person, personlen);
    return sizeof(dek_label) + 4 + personlen;
}

int
keyring_wrap_dek(const struct keyring *kr, const void *person, size_t personlen,
                 const uint8_t dek[KEYRING_KEY_LEN], struct buf *out)
{
    const struct keyring_master *m = &kr->masters[kr->nmasters - 1];
    uint8_t aad[DEK_AAD_MAX];
    size_t aadlen;
    uint8_t *p;
    int rc;

    if (personlen < 1 || personlen > PERSON_MAX)
        return ERR_INVALID;
    if ((p = buf_space(out, KEYRING_WRAPPED_LEN)) == NULL)
        return -ENOMEM;
    aadlen = dek_aad(aad, m->id, person, personlen);
    be_put32(p, m->id);
    if ((rc = crypto_seal(m->key, aad, aadlen, dek, KEYRING_KEY_LEN, p + 4)) !=
        0)
        return rc;
    buf_commit(out, KEYRING_WRAPPED_LEN);
    return 0;
}

uint32_t
keyring_wrapped_key_id(const void *wrapped, size_t len)
{
    uint32_t id;

    if (len != KEYRING_WRAPPED_LEN)
        return 0;
    id = be_get32(wrapped);
    return id <= KEYRING_ID_MAX ? id : 0;
}

int
keyring_unwrap_dek(const struct keyring *kr, const void *person,
                   size_t personlen, const void *wrapped, size_t len,
                   uint8_t dek[KEYRING_KEY_LEN])
{
    const struct keyring_master *m;
    uint8_t aad[DEK_AAD_MAX];
    size_t aadlen;
    uint32_t id;
    int rc;

    OPENSSL_cleanse(dek, KEYRING_KEY_LEN);
    if (personlen < 1 || personlen > PERSON_MAX)
        return ERR_INVALID;
    if ((id = keyring_wrapped_key_id(wrapped, len)) == 0)
        return ERR_CORRUPT;
    if ((m = keyring_master_find(kr, id)) == NULL) {
        log_warnx("data key wrapped by master key %u, which is not loaded "
                  "(was master-%u.key removed before re-wrapping ended?)",
                  id, id);
        return ERR_KEY;
    }
    aadlen = dek_aad(aad, id, person, personlen);
    rc = crypto_open(m->key, aad, aadlen, (const uint8_t *)wrapped + 4, len - 4,
                     dek, NULL);
    /* crypto_open wiped |dek| on failure. */
    return rc;
}

int
keyring_nir_hash(const struct keyring *kr, const char *nir,
                 uint8_t out[CRYPTO_HASH_LEN])
{
    char msg[4 + NIR_STR];
    int rc;

    memcpy(msg, "nir:", 4);
    if ((rc = nir_normalize(nir, msg + 4, NULL)) != 0)
        goto done;
    rc = crypto_hmac_sha256(kr->pepper, KEYRING_KEY_LEN, msg, 4 + NIR_LEN, out);
done:
    if (rc != 0)
        OPENSSL_cleanse(out, CRYPTO_HASH_LEN);
    OPENSSL_cleanse(msg, sizeof(msg));
    return rc;
}
/* Moves |from| to |to| unless |to| exists.  Returns 0 or -errno (-EEXIST
 * if |to| exists). */
static int
move_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without RENAME_NOREPLACE: link(2) refuses to replace
     * too, atomically. */
    if (link(from, to) != 0)
        return -errno;
    (void)unlink(from);
    return 0;
}

int
keyring_generate_file(const char *path)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t key[KEYRING_KEY_LEN];
    char text[KEY_HEX_LEN + 1];
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0, off = 0;
    struct stat st;
    int fd = -1, rc;

    tmp[0] = '\0';
    if (*base == '\0' ||
        dirlen + strlen(base) + sizeof("/..XXXXXX") > sizeof(tmp)) {
        log_warnx("bad key file path=%s", path);
        return -EINVAL;
    }
    /* Early and friendly; the no-replace move below is what guarantees. */
    if (lstat(path, &st) == 0) {
        rc = ERR_EXISTS;
        goto fail;
    }
    memcpy(tmp, path, dirlen);
    snprintf(tmp + dirlen, sizeof(tmp) - dirlen, ".%s.XXXXXX", base);
    /* mkstemp creates the file 0600; fchmod makes sure whatever the
     * libc. */
    if ((fd = mkstemp(tmp)) < 0) {
        rc = -errno;
        tmp[0] = '\0';
        goto fail;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = crypto_random(key, sizeof(key))) != 0)
        goto fail;
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++) {
        text[2 * i] = hex[key[i] >> 4];
        text[2 * i + 1] = hex[key[i] & 15];
    }
    text[KEY_HEX_LEN] = '\n';
    while (off < sizeof(text)) {
        ssize_t k = write(fd, text + off, sizeof(text) - off);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            goto fail;
        }
        off += (size_t)k;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = move_noreplace(tmp, path)) != 0) {
        if (rc == -EEXIST)
            rc = ERR_EXISTS;
        goto fail;
    }
    tmp[0] = '\0';
    if ((rc = fsutil_sync_parent(path)) != 0)
        goto fail;
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(text, sizeof(text));
    log_info("key file made path=%s", path);
    return 0;

fail:
    if (rc == ERR_EXISTS)
        log_warnx("refusing to overwrite key file path=%s", path);
    else
        log_warnx("cannot make key file path=%s: %s", path, err_str(rc));
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        (void)unlink(tmp);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

int
keyring_lookup_hash(const struct keyring *kr, const char *label,
                    const char *value, uint8_t out[CRYPTO_HASH_LEN])
{
    size_t llen = strlen(label), vlen = strlen(value);
    char *msg;
    int rc;

    if (llen == 0 || strchr(label, ':') != NULL || strcmp(label, "nir") == 0)
        return ERR_INVALID;
    if ((msg = malloc(llen + 1 + vlen)) == NULL)
        return -ENOMEM;
    memcpy(msg, label, llen);
    msg[llen] = ':';
    memcpy(msg + llen + 1, value, vlen);
    rc = crypto_hmac_sha256(kr->pepper, KEYRING_KEY_LEN, msg, llen + 1 + vlen,
                            out);
    if (rc != 0)
        OPENSSL_cleanse(out, CRYPTO_HASH_LEN);
    OPENSSL_cleanse(msg, llen + 1 + vlen);
    free(msg);
    return rc;
}
