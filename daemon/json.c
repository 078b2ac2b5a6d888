/*
 * json.c -- JSON output helpers (see json.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

int
json_put_raw(struct buf *out, const char *s)
{
    return buf_append(out, s, strlen(s));
}

int
json_put_str(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append(out, "\"", 1);

    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p;
         p++) {
        char esc[7];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            rc = buf_append(out, esc, 2);
        } else if (*p < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            rc = buf_append(out, esc, 6);
        } else {
            rc = buf_append(out, p, 1);
        }
    }
    return rc != 0 ? rc : buf_append(out, "\"", 1);
}

int
json_put_key(struct buf *out, const char *key)
{
    int rc = json_put_str(out, key);

    return rc != 0 ? rc : buf_append(out, ":", 1);
}

int
json_put_int(struct buf *out, int64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);

    return buf_append(out, num, (size_t)n);
}

int
json_put_hex(struct buf *out, const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append(out, "\"", 1);

    for (size_t i = 0; rc == 0 && i < len; i++) {
        char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        rc = buf_append(out, h, 2);
    }
    return rc != 0 ? rc : buf_append(out, "\"", 1);
}
