/*
 * admin_manifest.c -- the backup manifest: text, hashes, signature (see
 * admin_manifest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "admin_manifest.h"
#include "admin_say.h"
#include "crypto.h"
#include "err.h"

static const char *const known_files[] = {"data/data.mdb",
                                          "keystore/data.mdb",
                                          "audit-checkpoint"};

size_t
manifest_format(const struct manifest *m, char *out)
{
    char root[65], kid[17], sha[65];
    size_t n;

    admin_hex(m->root, sizeof(m->root), root);
    admin_hex(m->key_id, sizeof(m->key_id), kid);
    n = (size_t)snprintf(out, MANIFEST_TEXT_MAX,
                         MANIFEST_MAGIC "\ncreated_unix_ms %" PRId64
                                        "\naudit_tree_size %" PRIu64
                                        "\naudit_root %s\naudit_key_id %s\n",
                         m->created_ms, m->tree_size, root, kid);
    for (size_t i = 0; i < m->nfiles && n < MANIFEST_TEXT_MAX; i++) {
        admin_hex(m->files[i].sha256, 32, sha);
        n += (size_t)snprintf(out + n, MANIFEST_TEXT_MAX - n,
                              "file %s %" PRIu64 " %s\n", m->files[i].name,
                              m->files[i].size, sha);
    }
    return n;
}

/* A decimal without sign or leading zeros ("0" itself is fine). */
static bool
parse_dec(const char *s, uint64_t *out)
{
    char *end;

    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
        return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

int
manifest_parse(const char *text, size_t len, struct manifest *m,
               int *bad_line)
{
    char line[256];
    size_t pos = 0;
    int no = 0;

    memset(m, 0, sizeof(*m));
    *bad_line = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l;
        uint64_t v;
        char *sp;

        no++;
        if (nl == NULL || (l = (size_t)(nl - (text + pos))) >= sizeof(line))
            goto bad;
        memcpy(line, text + pos, l);
        line[l] = '\0';
        pos += l + 1;
        if (memchr(line, '\0', l) != NULL)
            goto bad;
        sp = strchr(line, ' ');
        if (no == 1) {
            if (strcmp(line, MANIFEST_MAGIC) != 0)
                goto bad;
            continue;
        }
        if (sp == NULL)
            goto bad;
        *sp++ = '\0';
        if (no == 2 && strcmp(line, "created_unix_ms") == 0 &&
            parse_dec(sp, &v) && v <= INT64_MAX) {
            m->created_ms = (int64_t)v;
        } else if (no == 3 && strcmp(line, "audit_tree_size") == 0 &&
                   parse_dec(sp, &v)) {
            m->tree_size = v;
        } else if (no == 4 && strcmp(line, "audit_root") == 0 &&
                   admin_unhex(sp, 32, m->root)) {
        } else if (no == 5 && strcmp(line, "audit_key_id") == 0 &&
                   admin_unhex(sp, MANIFEST_KEY_ID_LEN, m->key_id)) {
        } else if (no >= 6 && strcmp(line, "file") == 0 &&
                   m->nfiles < MANIFEST_FILES_MAX) {
            struct manifest_file *f = &m->files[m->nfiles];
            char *sp2 = strchr(sp, ' '), *sp3;
            bool known = false;

            if (sp2 == NULL || (sp3 = strchr(sp2 + 1, ' ')) == NULL)
                goto bad;
            *sp2++ = '\0';
            *sp3++ = '\0';
            for (size_t i = 0; i < MANIFEST_FILES_MAX; i++)
                known |= strcmp(sp, known_files[i]) == 0;
            if (!known || manifest_file_find(m, sp) != NULL ||
                !parse_dec(sp2, &f->size) || !admin_unhex(sp3, 32, f->sha256))
                goto bad;
            snprintf(f->name, sizeof(f->name), "%s", sp);
            m->nfiles++;
        } else {
            goto bad;
        }
    }
    if (no < 6 || m->nfiles == 0) {
        no++;
        goto bad;
    }
    return 0;
bad:
    *bad_line = no;
    return ERR_CORRUPT;
}

const struct manifest_file *
manifest_file_find(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i].name, name) == 0)
            return &m->files[i];
    return NULL;
}

int
manifest_file_hash(const char *path, uint64_t *size, uint8_t sha[32])
{
    struct crypto_sha256 h;
    uint8_t *b;
    ssize_t k;
    int fd, rc;

    *size = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if ((b = malloc(1 << 20)) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    if ((rc = crypto_sha256_init(&h)) != 0)
        goto out;
    for (;;) {
        k = read(fd, b, 1 << 20);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0) {
            rc = crypto_sha256_final(&h, sha);
            break;
        }
        *size += (uint64_t)k;
        if ((rc = crypto_sha256_update(&h, b, (size_t)k)) != 0)
            break;
    }
    crypto_sha256_close(&h);
out:
    free(b);
    close(fd);
    return rc;
}

int
manifest_sig_check(const char *pub_path, const void *msg, size_t len,
                   const uint8_t sig[MANIFEST_SIG_LEN],
                   uint8_t key_id[MANIFEST_KEY_ID_LEN])
{
    EVP_PKEY *pub = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *der = NULL;
    uint8_t h[32];
    int dlen, rc = ERR_KEY;
    FILE *f;

    if ((f = fopen(pub_path, "re")) == NULL)
        return -errno;
    pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pub == NULL || EVP_PKEY_id(pub) != EVP_PKEY_ED25519)
        goto out;
    if ((dlen = i2d_PUBKEY(pub, &der)) <= 0 ||
        crypto_sha256(der, (size_t)dlen, h) != 0)
        goto out;
    memcpy(key_id, h, MANIFEST_KEY_ID_LEN);
    rc = 0;
    if (sig == NULL)
        goto out;
    rc = ERR_CORRUPT;
    if ((md = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) == 1 &&
        EVP_DigestVerify(md, sig, MANIFEST_SIG_LEN, msg, len) == 1)
        rc = 0;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    return rc;
}

int
manifest_read_small(const char *path, char *buf, size_t max, size_t *len)
{
    size_t got = 0;
    ssize_t k;
    int fd, rc = 0;

    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    for (;;) {
        k = read(fd, buf + got, max + 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0)
            break;
        got += (size_t)k;
        if (got > max) {
            rc = ERR_TOOBIG;
            break;
        }
    }
    close(fd);
    if (rc == 0) {
        buf[got] = '\0';
        *len = got;
    }
    return rc;
}
