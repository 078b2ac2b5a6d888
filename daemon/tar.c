/*
 * tar.c -- streaming ustar writer (see tar.h).
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "tar.h"

/* Writes |v| in octal, right-aligned in |len|-1 digits and a NUL. */
static void
tar_octal(char *dst, size_t len, uint64_t v)
{
    dst[len - 1] = '\0';
    for (size_t i = len - 1; i-- > 0;) {
        dst[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

int
tar_header_put(struct buf *out, const char *name, uint64_t size,
               int64_t mtime)
{
    uint8_t h[TAR_BLOCK];
    size_t nlen = strlen(name);
    const char *base = name;
    size_t plen = 0;
    unsigned sum = 0;

    if (nlen == 0 || size >= (1ULL << 33))
        return ERR_INVALID;
    if (nlen > 100) {
        /* Split at a '/' so that prefix <= 155 and name <= 100. */
        const char *slash = NULL;
        for (const char *p = name; *p != '\0'; p++)
            if (*p == '/' && (size_t)(p - name) <= 155 &&
                strlen(p + 1) <= 100 && p[1] != '\0')
                slash = p;
        if (slash == NULL)
            return ERR_INVALID;
        plen = (size_t)(slash - name);
        base = slash + 1;
        nlen = strlen(base);
    }
    memset(h, 0, sizeof(h));
    memcpy(h, base, nlen);
    tar_octal((char *)h + 100, 8, 0644);
    tar_octal((char *)h + 108, 8, 0);
    tar_octal((char *)h + 116, 8, 0);
    tar_octal((char *)h + 124, 12, size);
    tar_octal((char *)h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 345, name, plen);
    for (size_t i = 0; i < sizeof(h); i++)
        sum += h[i];
    tar_octal((char *)h + 148, 7, sum);
    h[155] = ' ';
    return buf_append(out, h, sizeof(h));
}

int
tar_pad_put(struct buf *out, uint64_t size)
{
    static const uint8_t zero[TAR_BLOCK];
    size_t rem = (size_t)(size % TAR_BLOCK);

    return rem == 0 ? 0 : buf_append(out, zero, TAR_BLOCK - rem);
}

int
tar_end_put(struct buf *out)
{
    static const uint8_t zero[2 * TAR_BLOCK];

    return buf_append(out, zero, sizeof(zero));
}
