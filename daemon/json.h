/*
 * json.h -- the little JSON the daemon writes (export manifests).
 *
 * Only output: strings escaped per RFC 8259, numbers, and the caller's own
 * punctuation.  No parser: the daemon never reads JSON.
 */
#ifndef DOSSIER_JSON_H
#define DOSSIER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends |s| as a quoted JSON string (UTF-8 passed through; control
 * characters, '"' and '\\' escaped).  Returns 0 or -ENOMEM. */
int json_put_str(struct buf *out, const char *s);

/* Appends "|key|": (quoted key and colon).  Returns 0 or -ENOMEM. */
int json_put_key(struct buf *out, const char *key);

/* Appends a signed integer.  Returns 0 or -ENOMEM. */
int json_put_int(struct buf *out, int64_t v);

/* Appends |len| bytes as a quoted lowercase hex string.  Returns 0 or
 * -ENOMEM. */
int json_put_hex(struct buf *out, const uint8_t *p, size_t len);

/* Appends the NUL-terminated |s| as is (punctuation).  Returns 0 or
 * -ENOMEM. */
int json_put_raw(struct buf *out, const char *s);

#endif
