/*
 * buf.h -- a growable byte buffer with a read offset.
 *
 * Bytes are appended at the end and consumed from the front; consumed space
 * is reclaimed lazily when appending would otherwise grow the allocation.
 * Not thread-safe: one owner at a time.
 */
#ifndef DOSSIER_BUF_H
#define DOSSIER_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t off; /* first unread byte */
    size_t len; /* end of the bytes held (data[off..len) is unread) */
    size_t cap;
};

/* Zeroes |b|; no allocation. */
void buf_init(struct buf *b);

/* Frees the storage of |b| and re-initialises it.  buf_wipe() first clears
 * the bytes with OPENSSL_cleanse: use it for secrets and plaintext. */
void buf_free(struct buf *b);
void buf_wipe(struct buf *b);

/* Number of unread bytes, and a pointer to them (valid until the next
 * modifying call). */
size_t buf_size(const struct buf *b);
const uint8_t *buf_peek(const struct buf *b);

/* Makes room for |n| more bytes; returns 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);

/* Appends |n| bytes; returns 0 or -ENOMEM (|b| unchanged on failure). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Pointer to |n| writable bytes at the end, committed by buf_commit(b, k)
 * with k <= n.  Returns NULL on -ENOMEM. */
uint8_t *buf_space(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t k);

/* Drops |n| unread bytes from the front (n <= buf_size). */
void buf_consume(struct buf *b, size_t n);

/* Forgets every byte but keeps the allocation. */
void buf_reset(struct buf *b);

#endif
