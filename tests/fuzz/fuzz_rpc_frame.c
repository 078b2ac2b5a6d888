/*
 * fuzz_rpc_frame.c -- libFuzzer harness of the gRPC framing (rpc.c).
 *
 * The input is the DATA of one request stream.  It is fed to an
 * rpc_reader twice: once whole, once cut at points the input itself
 * chooses, and both runs must deliver the same messages with the same
 * lengths and end in the same state: a reader's verdict may never depend
 * on how TCP, TLS or HTTP/2 happened to cut the bytes.  The same bytes
 * also go through the grpc-message percent-encoding (encode then decode
 * must give the input back, up to truncation) and the grpc-timeout parser.
 *
 * Layout of an input: byte 0 picks the message limit (max = byte * 64,
 * so that the ERR_TOOBIG path is reached), byte 1 seeds the cut points,
 * the rest is the stream.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rpc.h"

#define MAX_MSGS 4096

struct seen {
    size_t n;
    size_t len[MAX_MSGS];
    uint64_t sum[MAX_MSGS]; /* a cheap digest of each message's bytes */
    int stop_at;            /* return an error from the callback at this
                             * message (-1: never) */
};

static int
on_msg(void *arg, const uint8_t *msg, size_t len)
{
    struct seen *s = arg;
    uint64_t h = 1469598103934665603ull;

    if (s->n < MAX_MSGS) {
        for (size_t i = 0; i < len; i++)
            h = (h ^ msg[i]) * 1099511628211ull;
        s->len[s->n] = len;
        s->sum[s->n] = h;
    }
    s->n++;
    if (s->stop_at >= 0 && s->n == (size_t)s->stop_at)
        return -12345;
    return 0;
}

static void
check_pct(const uint8_t *data, size_t size)
{
    char in[512], enc[3 * 512 + 1], dec[512];
    size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
    size_t elen, dlen;

    memcpy(in, data, n);
    in[n] = '\0';
    elen = rpc_pct_encode(in, enc, sizeof(enc));
    if (elen >= sizeof(enc) || enc[elen] != '\0')
        abort();
    for (size_t i = 0; i < elen; i++)
        if ((unsigned char)enc[i] < 0x20 || (unsigned char)enc[i] > 0x7e)
            abort();
    dlen = rpc_pct_decode(enc, dec, sizeof(dec));
    /* Big enough buffers: the round trip is exact. */
    if (dlen != strlen(in) || memcmp(dec, in, dlen) != 0)
        abort();
    /* Small buffers truncate, never overflow. */
    for (size_t cap = 0; cap < 8; cap++) {
        char small[8];
        size_t k = rpc_pct_encode(in, small, cap);
        if (cap == 0 ? k != 0 : k >= cap)
            abort();
        k = rpc_pct_decode((const char *)enc, small, cap);
        if (cap == 0 ? k != 0 : k >= cap)
            abort();
    }
    /* Decoding arbitrary text (malformed escapes kept as they are). */
    dlen = rpc_pct_decode(in, dec, sizeof(dec));
    if (dlen >= sizeof(dec))
        abort();
}

static void
check_timeout(const uint8_t *data, size_t size)
{
    uint64_t ms = 42;
    size_t n = size < 16 ? size : 16;

    if (rpc_timeout_parse((const char *)data, n, &ms) == 0) {
        if (ms > 100000000ull * 1000)
            abort();
    } else if (ms != 42) {
        abort(); /* untouched on error */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, cut;
    struct rpc_reader r;
    uint32_t seed;
    size_t max;
    int rc1, rc2;

    if (size < 2)
        return 0;
    check_pct(data, size);
    check_timeout(data + 2, size - 2);
    max = (size_t)data[0] * 64;
    seed = data[1];
    data += 2;
    size -= 2;

    memset(&whole, 0, sizeof(whole));
    memset(&cut, 0, sizeof(cut));
    whole.stop_at = cut.stop_at = (seed & 0x80) ? (int)(seed & 7) : -1;

    rpc_reader_init(&r, max);
    rc1 = rpc_reader_feed(&r, data, size, on_msg, &whole);
    /* Fed again after an error, the reader repeats it and reads nothing. */
    if (rc1 != 0 && rc1 != -12345) {
        size_t before = whole.n;
        if (rpc_reader_feed(&r, data, size, on_msg, &whole) != rc1 ||
            whole.n != before)
            abort();
    }
    bool idle1 = rpc_reader_idle(&r);
    rpc_reader_close(&r);

    rpc_reader_init(&r, max);
    rc2 = 0;
    for (size_t off = 0; off < size && rc2 == 0;) {
        size_t step;
        seed = seed * 1103515245u + 12345u;
        step = 1 + (seed >> 16) % 9;
        if (step > size - off)
            step = size - off;
        rc2 = rpc_reader_feed(&r, data + off, step, on_msg, &cut);
        off += step;
    }
    if (size == 0)
        rc2 = rpc_reader_feed(&r, data, 0, on_msg, &cut);
    bool idle2 = rpc_reader_idle(&r);
    rpc_reader_close(&r);

    if (rc1 != rc2 || whole.n != cut.n)
        abort();
    for (size_t i = 0; i < whole.n && i < MAX_MSGS; i++) {
        if (whole.len[i] != cut.len[i] || whole.sum[i] != cut.sum[i])
            abort();
        if (whole.len[i] > max)
            abort();
    }
    if (rc1 == 0 && idle1 != idle2)
        abort();
    if (rc1 != 0 && rc1 != -12345 && rc1 != ERR_TOOBIG &&
        rc1 != ERR_COMPRESSED && rc1 != ERR_PROTO && rc1 != -ENOMEM)
        abort();
    return 0;
}
