/*
 * buf.c -- growable byte buffer (see buf.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
    memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_wipe(struct buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    buf_free(b);
}

size_t
buf_size(const struct buf *b)
{
    return b->len - b->off;
}

const uint8_t *
buf_peek(const struct buf *b)
{
    /* A buffer that never held anything has no storage: NULL + 0 is
     * undefined behaviour in C, so give NULL itself back. */
    return b->data != NULL ? b->data + b->off : NULL;
}

int
buf_reserve(struct buf *b, size_t n)
{
    size_t used = b->len - b->off;
    size_t want, cap;
    uint8_t *p;

    if (b->cap - b->len >= n)
        return 0;
    /* Slide unread bytes to the front before growing. */
    if (b->off > 0 && b->cap - used >= n) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        return 0;
    }
    if (n > SIZE_MAX - used)
        return -ENOMEM;
    want = used + n;
    cap = b->cap ? b->cap : 256;
    while (cap < want) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    p = malloc(cap);
    if (p == NULL)
        return -ENOMEM;
    if (used > 0)
        memcpy(p, b->data + b->off, used);
    if (b->data != NULL) {
        /* The old bytes may be plaintext: never leave them in freed memory. */
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->off = 0;
    b->len = used;
    b->cap = cap;
    return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    if ((rc = buf_reserve(b, n)) != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

uint8_t *
buf_space(struct buf *b, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return NULL;
    return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t k)
{
    b->len += k;
}

void
buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void
buf_reset(struct buf *b)
{
    b->off = b->len = 0;
}
