/*
 * rpc.c -- gRPC framing, statuses, grpc-message and grpc-timeout (see
 * rpc.h).
 *
 * Pure computation on bytes: the 5-byte prefix parser, the percent-encoding
 * of grpc-message, and the grpc-timeout grammar, all as written in
 * PROTOCOL-HTTP2.md.  Nothing here reads a socket, logs, or knows which
 * method a message belongs to; the caller (call.c, the clients, the
 * fuzzers) decides what an error means for the stream.
 */
#include <errno.h>
#include <string.h>

#include "be.h"
#include "err.h"
#include "rpc.h"

/*
 * A message buffer larger than this is released after each message rather
 * than kept for the next one: a stream that once carried a 4 MiB upload
 * should not pin 4 MiB for the rest of its life.
 */
#define RPC_READER_KEEP (64 * 1024)

/* 100000000 seconds, the largest timeout we honour, in milliseconds. */
#define RPC_TIMEOUT_MAX_MS (100000000ULL * 1000)

static const char *const rpc_status_names[] = {
    [RPC_OK] = "OK",
    [RPC_CANCELLED] = "CANCELLED",
    [RPC_UNKNOWN] = "UNKNOWN",
    [RPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [RPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [RPC_NOT_FOUND] = "NOT_FOUND",
    [RPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [RPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [RPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [RPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [RPC_ABORTED] = "ABORTED",
    [RPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [RPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [RPC_INTERNAL] = "INTERNAL",
    [RPC_UNAVAILABLE] = "UNAVAILABLE",
    [RPC_DATA_LOSS] = "DATA_LOSS",
    [RPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *
rpc_status_name(int status)
{
    if (status < 0 ||
        (size_t)status >= sizeof(rpc_status_names) / sizeof(*rpc_status_names))
        return "UNKNOWN";
    return rpc_status_names[status];
}

enum rpc_status
rpc_status_from_err(int err)
{
    switch (err) {
    case 0:
        return RPC_OK;
    case ERR_INVALID:
        return RPC_INVALID_ARGUMENT;
    case ERR_NOTFOUND:
        return RPC_NOT_FOUND;
    case ERR_EXISTS:
        return RPC_ALREADY_EXISTS;
    case ERR_DENIED:
        return RPC_PERMISSION_DENIED;
    case ERR_CORRUPT:
        return RPC_DATA_LOSS;
    case ERR_TOOBIG:
    case ERR_FULL:
    case -ENOSPC:
        return RPC_RESOURCE_EXHAUSTED;
    case ERR_EXPIRED:
        return RPC_FAILED_PRECONDITION;
    case ERR_COMPRESSED:
        return RPC_UNIMPLEMENTED;
    case ERR_UNAVAILABLE:
        return RPC_UNAVAILABLE;
    case -ECANCELED:
        return RPC_CANCELLED;
    case -ETIMEDOUT:
        return RPC_DEADLINE_EXCEEDED;
    default:
        /* Everything else is our fault or the transport's, and the gRPC
         * spec asks for INTERNAL rather than a guess. */
        return RPC_INTERNAL;
    }
}

/* --- length-prefixed messages ------------------------------------------ */

void
rpc_reader_init(struct rpc_reader *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
    buf_init(&r->msg);
}

void
rpc_reader_close(struct rpc_reader *r)
{
    buf_wipe(&r->msg);
    r->prefix_got = 0;
    r->msg_len = 0;
}

bool
rpc_reader_idle(const struct rpc_reader *r)
{
    /* prefix_got stays at RPC_PREFIX_LEN while the body is read, and goes
     * back to 0 only once the message has been delivered. */
    return r->prefix_got == 0;
}

/*
 * Checks what is known of the current prefix.  Called after each prefix
 * byte arrives and again at the start of every feed, so that a reader fed
 * after an error reports the same error instead of reading past it (and
 * never reserves memory for a length it refused).
 */
static int
rpc_reader_check(struct rpc_reader *r)
{
    if (r->prefix_got >= 1) {
        if (r->prefix[0] == 1)
            return ERR_COMPRESSED;
        if (r->prefix[0] != 0)
            return ERR_PROTO;
    }
    if (r->prefix_got == RPC_PREFIX_LEN && r->msg_len > r->max)
        return ERR_TOOBIG;
    return 0;
}

/*
 * Hands one complete message to |cb| and makes the reader idle again.  The
 * state is reset before the call so that a callback error leaves the
 * reader between messages; the buffer is released only after it, since
 * |msg| may point into it.
 */
static int
rpc_reader_deliver(struct rpc_reader *r, const uint8_t *msg, size_t len,
                   rpc_reader_msg_fn *cb, void *arg)
{
    static const uint8_t empty[1];
    int rc;

    r->prefix_got = 0;
    r->msg_len = 0;
    r->messages++;
    rc = cb(arg, len > 0 ? msg : empty, len);
    if (r->msg.cap > RPC_READER_KEEP)
        buf_wipe(&r->msg);
    else
        buf_reset(&r->msg);
    return rc;
}

int
rpc_reader_feed(struct rpc_reader *r, const uint8_t *data, size_t len,
                rpc_reader_msg_fn *cb, void *arg)
{
    int rc;

    if ((rc = rpc_reader_check(r)) != 0)
        return rc;
    while (len > 0) {
        size_t have, n;

        if (r->prefix_got < RPC_PREFIX_LEN) {
            n = RPC_PREFIX_LEN - r->prefix_got;
            if (n > len)
                n = len;
            memcpy(r->prefix + r->prefix_got, data, n);
            r->prefix_got += n;
            data += n;
            len -= n;
            if (r->prefix_got == RPC_PREFIX_LEN)
                r->msg_len = be_get32(r->prefix + 1);
            /* The length is bounded here, before anything is reserved. */
            if ((rc = rpc_reader_check(r)) != 0)
                return rc;
            if (r->prefix_got < RPC_PREFIX_LEN)
                return 0;
            if (r->msg_len == 0) {
                rc = rpc_reader_deliver(r, NULL, 0, cb, arg);
                if (rc != 0)
                    return rc;
            }
            continue;
        }

        have = buf_size(&r->msg);
        if (have == 0 && len >= r->msg_len) {
            /* The whole message is in |data|: no copy. */
            n = r->msg_len;
            rc = rpc_reader_deliver(r, data, n, cb, arg);
            data += n;
            len -= n;
            if (rc != 0)
                return rc;
            continue;
        }

        /* Part of a message: gather it.  The first piece reserves room for
         * the whole message at once (msg_len <= max, checked above), so a
         * big message is never copied by repeated growth. */
        if (have == 0 && (rc = buf_reserve(&r->msg, r->msg_len)) != 0)
            return rc;
        n = r->msg_len - have;
        if (n > len)
            n = len;
        if ((rc = buf_append(&r->msg, data, n)) != 0)
            return rc;
        data += n;
        len -= n;
        if (buf_size(&r->msg) == r->msg_len) {
            rc = rpc_reader_deliver(r, buf_peek(&r->msg), r->msg_len, cb, arg);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

void
rpc_prefix_encode(uint8_t out[RPC_PREFIX_LEN], uint32_t len)
{
    out[0] = 0;
    be_put32(out + 1, len);
}

/* --- grpc-message percent-encoding ------------------------------------- */

static bool
rpc_pct_plain(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '%';
}

static int
rpc_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The number of bytes a UTF-8 sequence starting with |lead| announces; 1
 * for ASCII and for anything that cannot start a sequence. */
static size_t
rpc_utf8_announced(unsigned char lead)
{
    if ((lead & 0xe0) == 0xc0)
        return 2;
    if ((lead & 0xf0) == 0xe0)
        return 3;
    if ((lead & 0xf8) == 0xf0)
        return 4;
    return 1;
}

/*
 * The length of the character at |s| (NUL-terminated): the whole UTF-8
 * sequence when it is complete, else 1, so that invalid input is still
 * consumed one byte at a time.  Never reads past the NUL, since NUL is not
 * a continuation byte.
 */
static size_t
rpc_utf8_len(const unsigned char *s)
{
    size_t n = rpc_utf8_announced(s[0]);

    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

size_t
rpc_pct_encode(const char *in, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;

    if (outsz == 0)
        return 0;
    while (*s != '\0') {
        size_t n = rpc_utf8_len(s), need = 0;

        for (size_t i = 0; i < n; i++)
            need += rpc_pct_plain(s[i]) ? 1 : 3;
        /* Keep one byte for the NUL; never cut a character in two. */
        if (need >= outsz - o)
            break;
        for (size_t i = 0; i < n; i++) {
            if (rpc_pct_plain(s[i])) {
                out[o++] = (char)s[i];
            } else {
                out[o++] = '%';
                out[o++] = hex[s[i] >> 4];
                out[o++] = hex[s[i] & 0xf];
            }
        }
        s += n;
    }
    out[o] = '\0';
    return o;
}

size_t
rpc_pct_decode(const char *in, char *out, size_t outsz)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *d = (unsigned char *)out;
    size_t o = 0;
    bool cut = false;

    if (outsz == 0)
        return 0;
    while (*s != '\0') {
        int hi, lo;
        unsigned char c = *s;
        size_t n = 1;

        /* s[2] is read only when s[1] is a hex digit, hence not the NUL. */
        if (c == '%' && (hi = rpc_hex_value(s[1])) >= 0 &&
            (lo = rpc_hex_value(s[2])) >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            n = 3;
        }
        if (o + 1 >= outsz) {
            cut = true;
            break;
        }
        d[o++] = c;
        s += n;
    }
    if (cut && o > 0) {
        /* Drop a UTF-8 sequence the cut left incomplete. */
        size_t k = o;

        while (k > 0 && o - k < 3 && (d[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && rpc_utf8_announced(d[k - 1]) > o - (k - 1))
            o = k - 1;
    }
    d[o] = '\0';
    return o;
}

/* --- grpc-timeout ------------------------------------------------------ */

int
rpc_timeout_parse(const char *s, size_t len, uint64_t *ms)
{
    uint64_t v = 0, t;

    /* TimeoutValue is 1 to 8 ASCII digits, then exactly one unit. */
    if (s == NULL || len < 2 || len > 9)
        return ERR_INVALID;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ERR_INVALID;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    /* v < 10^8, so none of these products overflows 64 bits. */
    switch (s[len - 1]) {
    case 'H':
        t = v * 3600 * 1000;
        break;
    case 'M':
        t = v * 60 * 1000;
        break;
    case 'S':
        t = v * 1000;
        break;
    case 'm':
        t = v;
        break;
    case 'u':
        t = (v + 999) / 1000;
        break;
    case 'n':
        t = (v + 999999) / 1000000;
        break;
    default:
        return ERR_INVALID;
    }
    *ms = t < RPC_TIMEOUT_MAX_MS ? t : RPC_TIMEOUT_MAX_MS;
    return 0;
}
