/*
 * rpc.h -- gRPC over HTTP/2, the parts that are pure computation.
 *
 * The 5-byte length-prefixed message framing, status codes, the
 * percent-encoding of grpc-message and the grpc-timeout header.  Knows
 * nothing of sockets, TLS or nghttp2, so that the daemon, the clients and
 * the fuzzers share it.  See
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */
#ifndef DOSSIER_RPC_H
#define DOSSIER_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* gRPC status codes, with their wire values. */
enum rpc_status {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_UNKNOWN = 2,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_ALREADY_EXISTS = 6,
    RPC_PERMISSION_DENIED = 7,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_FAILED_PRECONDITION = 9,
    RPC_ABORTED = 10,
    RPC_OUT_OF_RANGE = 11,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
    RPC_DATA_LOSS = 15,
    RPC_UNAUTHENTICATED = 16,
};

#define RPC_PREFIX_LEN 5

/* The canonical upper-case name of |status| ("NOT_FOUND"); "UNKNOWN" for a
 * value out of range. */
const char *rpc_status_name(int status);

/*
 * The status a caller sees for the project error |err| (err.h): RPC_OK for
 * 0; ERR_INVALID -> INVALID_ARGUMENT, ERR_NOTFOUND -> NOT_FOUND, ERR_EXISTS
 * -> ALREADY_EXISTS, ERR_DENIED -> PERMISSION_DENIED, ERR_CORRUPT ->
 * DATA_LOSS, ERR_TOOBIG, ERR_FULL and -ENOSPC -> RESOURCE_EXHAUSTED,
 * ERR_EXPIRED -> FAILED_PRECONDITION, ERR_COMPRESSED -> UNIMPLEMENTED,
 * ERR_UNAVAILABLE -> UNAVAILABLE, -ECANCELED -> CANCELLED, -ETIMEDOUT ->
 * DEADLINE_EXCEEDED; anything else -> INTERNAL.
 */
enum rpc_status rpc_status_from_err(int err);

/*
 * Incremental parser of length-prefixed messages.  Feed it the DATA bytes
 * of one stream as they come, in pieces of any size; it calls back once
 * per complete message.  The length is checked against |max| before any
 * memory is reserved for the message.
 */
struct rpc_reader {
    size_t max;               /* largest message accepted */
    uint8_t prefix[RPC_PREFIX_LEN];
    size_t prefix_got;        /* bytes of prefix[] filled */
    uint32_t msg_len;         /* length of the message being read */
    struct buf msg;           /* its bytes so far */
    uint64_t messages;        /* complete messages delivered */
};

/*
 * Called for each complete message.  |msg| (|len| bytes, possibly 0) is
 * valid only during the call.  Return 0 to go on, or a negative code that
 * rpc_reader_feed() then returns at once.
 */
typedef int rpc_reader_msg_fn(void *arg, const uint8_t *msg, size_t len);

/* Sets up |r| for messages of at most |max| bytes.  No allocation. */
void rpc_reader_init(struct rpc_reader *r, size_t max);

/* Frees what |r| holds (wiping it: messages may carry personal data). */
void rpc_reader_close(struct rpc_reader *r);

/*
 * Parses |len| bytes of |data|, calling |cb| for each message completed.
 * Returns 0; ERR_TOOBIG when a prefix announces more than |max| bytes;
 * ERR_COMPRESSED when a prefix has the compressed flag set; ERR_PROTO
 * when the flag byte is neither 0 nor 1; -ENOMEM; or the callback's
 * code.  The flag is judged as soon as its byte arrives.  On ERR_TOOBIG,
 * |r->msg_len| holds the announced length, for the error message.
 * After an error the reader must not be fed again (if it is, a framing
 * error is returned again; nothing past it is read or reserved).
 */
int rpc_reader_feed(struct rpc_reader *r, const uint8_t *data, size_t len,
                    rpc_reader_msg_fn *cb, void *arg);

/* True when the reader is between messages (no partial prefix or body):
 * the only state in which a stream may legitimately end. */
bool rpc_reader_idle(const struct rpc_reader *r);

/* Writes the 5-byte prefix of an uncompressed message of |len| bytes. */
void rpc_prefix_encode(uint8_t out[RPC_PREFIX_LEN], uint32_t len);

/*
 * Percent-encodes |in| for the grpc-message header into |out| (|outsz|
 * bytes, NUL-terminated): every byte outside 0x20..0x7e, and '%', becomes
 * %XX.  Truncates at a character boundary (never inside an escape or a
 * UTF-8 sequence) if |out| is too small.  Returns the length written
 * (without the NUL); 0, writing nothing, when |outsz| is 0.
 */
size_t rpc_pct_encode(const char *in, char *out, size_t outsz);

/*
 * Decodes a percent-encoded grpc-message into |out| (|outsz| bytes,
 * NUL-terminated).  A malformed escape is kept as it is, as the gRPC spec
 * asks; hex digits may be of either case.  Truncates at a UTF-8 character
 * boundary if |out| is too small.  Returns the length written (without the
 * NUL; "%00" decodes to a NUL byte inside that length); 0, writing
 * nothing, when |outsz| is 0.
 */
size_t rpc_pct_decode(const char *in, char *out, size_t outsz);

/*
 * Parses a grpc-timeout value ("1H", "30S", "100m", "250u", "10n"; at most
 * 8 digits then one unit of H M S m u n) into |*ms|, rounded up to whole
 * milliseconds and capped at 100000000 seconds' worth.  Returns 0 or
 * ERR_INVALID (|*ms| untouched).
 */
int rpc_timeout_parse(const char *s, size_t len, uint64_t *ms);

#endif
