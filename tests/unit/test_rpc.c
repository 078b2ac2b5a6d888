/*
 * test_rpc.c -- unit tests of rpc.c: the length-prefixed framing fed in
 * every possible split, its refusals, statuses, grpc-message
 * percent-encoding and grpc-timeout parsing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rpc.h"
#include "suites.h"

/* --- a recording callback ----------------------------------------------- */

#define REC_MAX 16

struct rec {
    size_t n;            /* messages seen */
    size_t len[REC_MAX]; /* their lengths */
    uint8_t *msg[REC_MAX];
    size_t fail_at; /* return |fail_rc| on this message (1-based), 0: never */
    int fail_rc;
    const struct rpc_reader *reader; /* to look at the state during the call */
    bool idle_in_cb;
};

static int
rec_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct rec *r = arg;

    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_lt(r->n, REC_MAX);
    r->len[r->n] = len;
    r->msg[r->n] = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(r->msg[r->n]);
    memcpy(r->msg[r->n], msg, len);
    r->n++;
    if (r->reader != NULL)
        r->idle_in_cb = rpc_reader_idle(r->reader);
    if (r->fail_at != 0 && r->n == r->fail_at)
        return r->fail_rc;
    return 0;
}

static void
rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->msg[i]);
    memset(r, 0, sizeof(*r));
}

/* Appends one framed message of |len| bytes, byte i being |seed| + i. */
static size_t
frame(uint8_t *out, uint32_t len, uint8_t seed)
{
    rpc_prefix_encode(out, len);
    for (uint32_t i = 0; i < len; i++)
        out[RPC_PREFIX_LEN + i] = (uint8_t)(seed + i);
    return RPC_PREFIX_LEN + len;
}

static void
rec_check_msg(const struct rec *r, size_t i, uint32_t len, uint8_t seed)
{
    ck_assert_uint_lt(i, r->n);
    ck_assert_uint_eq(r->len[i], len);
    for (uint32_t k = 0; k < len; k++)
        ck_assert_uint_eq(r->msg[i][k], (uint8_t)(seed + k));
}

/* The stream the split tests cut up: an empty message, a 1-byte one, one
 * that is longer than the prefix, and a 300-byte one. */
static const uint32_t stream_lens[] = {0, 1, 7, 300};
#define STREAM_N (sizeof(stream_lens) / sizeof(*stream_lens))

static size_t
stream_build(uint8_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < STREAM_N; i++)
        n += frame(out + n, stream_lens[i], (uint8_t)(i * 50));
    return n;
}

static void
stream_check(const struct rec *r)
{
    ck_assert_uint_eq(r->n, STREAM_N);
    for (size_t i = 0; i < STREAM_N; i++)
        rec_check_msg(r, i, stream_lens[i], (uint8_t)(i * 50));
}

/* --- framing ------------------------------------------------------------ */

START_TEST(test_rpc_prefix_encode)
{
    static const struct {
        uint32_t len;
        uint8_t want[RPC_PREFIX_LEN];
    } cases[] = {
        {0, {0, 0, 0, 0, 0}},
        {1, {0, 0, 0, 0, 1}},
        {0x01020304, {0, 1, 2, 3, 4}},
        {0xffffffff, {0, 0xff, 0xff, 0xff, 0xff}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        uint8_t out[RPC_PREFIX_LEN];

        memset(out, 0xaa, sizeof(out));
        rpc_prefix_encode(out, cases[i].len);
        ck_assert_mem_eq(out, cases[i].want, RPC_PREFIX_LEN);
    }
}
END_TEST

/* The whole stream cut in two at every byte position, prefixes included. */
START_TEST(test_rpc_split_every_byte)
{
    uint8_t data[512];
    size_t total = stream_build(data);

    for (size_t cut = 0; cut <= total; cut++) {
        struct rpc_reader r;
        struct rec rec = {0};

        rpc_reader_init(&r, 1024);
        ck_assert_int_eq(rpc_reader_feed(&r, data, cut, rec_cb, &rec), 0);
        ck_assert_int_eq(
            rpc_reader_feed(&r, data + cut, total - cut, rec_cb, &rec), 0);
        stream_check(&rec);
        ck_assert_uint_eq(r.messages, STREAM_N);
        ck_assert(rpc_reader_idle(&r));
        rpc_reader_close(&r);
        rec_free(&rec);
    }
}
END_TEST

/* Cut in three at every pair of positions (a smaller stream). */
START_TEST(test_rpc_split_every_pair)
{
    uint8_t data[128];
    size_t total = 0;

    total += frame(data + total, 0, 0);
    total += frame(data + total, 3, 10);
    total += frame(data + total, 9, 20);
    for (size_t a = 0; a <= total; a++) {
        for (size_t b = a; b <= total; b++) {
            struct rpc_reader r;
            struct rec rec = {0};

            rpc_reader_init(&r, 64);
            ck_assert_int_eq(rpc_reader_feed(&r, data, a, rec_cb, &rec), 0);
            ck_assert_int_eq(rpc_reader_feed(&r, data + a, b - a, rec_cb, &rec),
                             0);
            ck_assert_int_eq(
                rpc_reader_feed(&r, data + b, total - b, rec_cb, &rec), 0);
            ck_assert_uint_eq(rec.n, 3);
            rec_check_msg(&rec, 0, 0, 0);
            rec_check_msg(&rec, 1, 3, 10);
            rec_check_msg(&rec, 2, 9, 20);
            ck_assert(rpc_reader_idle(&r));
            rpc_reader_close(&r);
            rec_free(&rec);
        }
    }
}
END_TEST

START_TEST(test_rpc_one_byte_at_a_time)
{
    uint8_t data[512];
    size_t total = stream_build(data);
    struct rpc_reader r;
    struct rec rec = {0};

    rpc_reader_init(&r, 1024);
    for (size_t i = 0; i < total; i++)
        ck_assert_int_eq(rpc_reader_feed(&r, data + i, 1, rec_cb, &rec), 0);
    stream_check(&rec);
    ck_assert(rpc_reader_idle(&r));
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

START_TEST(test_rpc_several_in_one_feed)
{
    uint8_t data[512];
    size_t total = stream_build(data);
    struct rpc_reader r;
    struct rec rec = {0};

    rpc_reader_init(&r, 1024);
    ck_assert_int_eq(rpc_reader_feed(&r, data, total, rec_cb, &rec), 0);
    stream_check(&rec);
    ck_assert_uint_eq(r.messages, STREAM_N);
    ck_assert(rpc_reader_idle(&r));
    /* An empty feed changes nothing. */
    ck_assert_int_eq(rpc_reader_feed(&r, data, 0, rec_cb, &rec), 0);
    ck_assert_uint_eq(rec.n, STREAM_N);
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

START_TEST(test_rpc_zero_length)
{
    uint8_t data[2 * RPC_PREFIX_LEN];
    struct rpc_reader r;
    struct rec rec = {0};

    frame(data, 0, 0);
    frame(data + RPC_PREFIX_LEN, 0, 0);
    rpc_reader_init(&r, 16);
    rec.reader = &r;
    ck_assert_int_eq(rpc_reader_feed(&r, data, RPC_PREFIX_LEN, rec_cb, &rec),
                     0);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert_uint_eq(rec.len[0], 0);
    ck_assert(rec.idle_in_cb);
    ck_assert(rpc_reader_idle(&r));
    /* The last byte of a prefix alone completes an empty message. */
    ck_assert_int_eq(rpc_reader_feed(&r, data + RPC_PREFIX_LEN,
                                     RPC_PREFIX_LEN - 1, rec_cb, &rec),
                     0);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert(!rpc_reader_idle(&r));
    ck_assert_int_eq(
        rpc_reader_feed(&r, data + 2 * RPC_PREFIX_LEN - 1, 1, rec_cb, &rec), 0);
    ck_assert_uint_eq(rec.n, 2);
    ck_assert_uint_eq(rec.len[1], 0);
    ck_assert_uint_eq(r.messages, 2);
    /* Nothing was ever allocated for empty messages. */
    ck_assert_ptr_null(r.msg.data);
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

START_TEST(test_rpc_idle_states)
{
    uint8_t data[RPC_PREFIX_LEN + 4];
    struct rpc_reader r;
    struct rec rec = {0};

    frame(data, 4, 1);
    rpc_reader_init(&r, 16);
    ck_assert(rpc_reader_idle(&r));
    ck_assert_int_eq(rpc_reader_feed(&r, data, 1, rec_cb, &rec), 0);
    ck_assert(!rpc_reader_idle(&r)); /* inside the prefix */
    ck_assert_int_eq(rpc_reader_feed(&r, data + 1, 4, rec_cb, &rec), 0);
    ck_assert(!rpc_reader_idle(&r)); /* prefix done, no body yet */
    ck_assert_int_eq(rpc_reader_feed(&r, data + 5, 3, rec_cb, &rec), 0);
    ck_assert(!rpc_reader_idle(&r)); /* inside the body */
    ck_assert_uint_eq(rec.n, 0);
    ck_assert_int_eq(rpc_reader_feed(&r, data + 8, 1, rec_cb, &rec), 0);
    ck_assert(rpc_reader_idle(&r));
    ck_assert_uint_eq(rec.n, 1);
    rec_check_msg(&rec, 0, 4, 1);
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

/* A prefix announcing 4 GiB - 1 is refused from the prefix alone, before a
 * byte is reserved, and the announced length is left for the error
 * message. */
START_TEST(test_rpc_oversized_refused_before_allocation)
{
    static const uint8_t prefix[] = {0, 0xff, 0xff, 0xff, 0xff};
    struct rpc_reader r;
    struct rec rec = {0};

    rpc_reader_init(&r, 4 * 1024 * 1024);
    ck_assert_int_eq(rpc_reader_feed(&r, prefix, sizeof(prefix), rec_cb, &rec),
                     ERR_TOOBIG);
    ck_assert_uint_eq(r.msg_len, 0xffffffffu);
    ck_assert_ptr_null(r.msg.data);
    ck_assert_uint_eq(r.msg.cap, 0);
    ck_assert_uint_eq(rec.n, 0);
    /* Fed again by mistake, it still refuses and still reserves nothing. */
    ck_assert_int_eq(rpc_reader_feed(&r, prefix, 1, rec_cb, &rec), ERR_TOOBIG);
    ck_assert_ptr_null(r.msg.data);
    rpc_reader_close(&r);
}
END_TEST

/* The limit is inclusive: max bytes pass, max + 1 do not. */
START_TEST(test_rpc_limit_inclusive)
{
    uint8_t data[64];
    struct rpc_reader r;
    struct rec rec = {0};
    size_t n;

    n = frame(data, 16, 3);
    rpc_reader_init(&r, 16);
    ck_assert_int_eq(rpc_reader_feed(&r, data, n, rec_cb, &rec), 0);
    ck_assert_uint_eq(rec.n, 1);
    rec_check_msg(&rec, 0, 16, 3);
    n = frame(data, 17, 3);
    ck_assert_int_eq(rpc_reader_feed(&r, data, n, rec_cb, &rec), ERR_TOOBIG);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert_uint_eq(r.msg_len, 17);
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

/* Flag bytes: 1 is compression (which we do not speak), anything but 0 or
 * 1 breaks the protocol; either is seen as soon as the flag byte comes. */
static const struct {
    uint8_t flag;
    int want;
} flag_cases[] = {
    {1, ERR_COMPRESSED}, {2, ERR_PROTO},    {0x80, ERR_PROTO},
    {0x81, ERR_PROTO},   {0xff, ERR_PROTO},
};

START_TEST(test_rpc_bad_flag)
{
    uint8_t data[RPC_PREFIX_LEN + 2];
    struct rpc_reader r;
    struct rec rec = {0};

    frame(data, 2, 0);
    data[0] = flag_cases[_i].flag;

    /* The whole message at once. */
    rpc_reader_init(&r, 16);
    ck_assert_int_eq(rpc_reader_feed(&r, data, sizeof(data), rec_cb, &rec),
                     flag_cases[_i].want);
    ck_assert_uint_eq(rec.n, 0);
    rpc_reader_close(&r);

    /* The flag byte alone, after a good message. */
    rpc_reader_init(&r, 16);
    frame(data, 2, 0);
    ck_assert_int_eq(rpc_reader_feed(&r, data, sizeof(data), rec_cb, &rec), 0);
    data[0] = flag_cases[_i].flag;
    ck_assert_int_eq(rpc_reader_feed(&r, data, 1, rec_cb, &rec),
                     flag_cases[_i].want);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert_uint_eq(r.messages, 1);
    ck_assert(!rpc_reader_idle(&r));
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

/* A callback error stops the feed at once: later messages of the same
 * feed are not delivered, and its code is returned as is. */
START_TEST(test_rpc_callback_error)
{
    static const int codes[] = {-EIO, ERR_DENIED, -ECANCELED};
    uint8_t data[512];
    size_t total = stream_build(data);

    for (size_t c = 0; c < sizeof(codes) / sizeof(*codes); c++) {
        for (size_t at = 1; at <= STREAM_N; at++) {
            struct rpc_reader r;
            struct rec rec = {0};

            rec.fail_at = at;
            rec.fail_rc = codes[c];
            rpc_reader_init(&r, 1024);
            ck_assert_int_eq(rpc_reader_feed(&r, data, total, rec_cb, &rec),
                             codes[c]);
            ck_assert_uint_eq(rec.n, at);
            ck_assert_uint_eq(r.messages, at);
            rpc_reader_close(&r);
            rec_free(&rec);
        }
    }
}
END_TEST

/* Same, with the failing message gathered in the buffer (split feeds). */
START_TEST(test_rpc_callback_error_buffered)
{
    uint8_t data[64];
    size_t n = frame(data, 10, 7);
    struct rpc_reader r;
    struct rec rec = {0};

    rec.fail_at = 1;
    rec.fail_rc = -EPIPE;
    rpc_reader_init(&r, 64);
    ck_assert_int_eq(rpc_reader_feed(&r, data, 8, rec_cb, &rec), 0);
    ck_assert_uint_eq(rec.n, 0);
    ck_assert_int_eq(rpc_reader_feed(&r, data + 8, n - 8, rec_cb, &rec),
                     -EPIPE);
    ck_assert_uint_eq(rec.n, 1);
    rec_check_msg(&rec, 0, 10, 7);
    rpc_reader_close(&r);
    rec_free(&rec);
}
END_TEST

struct big {
    struct rpc_reader *r;
    size_t n;
    size_t len;
    uint8_t sum;
};

static int
big_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct big *b = arg;

    b->n++;
    b->len = len;
    for (size_t i = 0; i < len; i++)
        b->sum = (uint8_t)(b->sum + msg[i]);
    return 0;
}

/* A big message fed in small pieces reserves its whole length with the
 * first body byte, and the buffer never moves or grows afterwards. */
START_TEST(test_rpc_big_message_reserved_once)
{
    const uint32_t len = 1024 * 1024 + 3;
    uint8_t *data = malloc(RPC_PREFIX_LEN + len);
    struct rpc_reader r;
    struct big big = {0};
    const uint8_t *storage;
    size_t cap, off;
    uint8_t sum = 0;

    ck_assert_ptr_nonnull(data);
    frame(data, len, 0);
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + data[RPC_PREFIX_LEN + i]);

    rpc_reader_init(&r, 4 * 1024 * 1024);
    big.r = &r;
    ck_assert_int_eq(rpc_reader_feed(&r, data, RPC_PREFIX_LEN, big_cb, &big),
                     0);
    ck_assert_ptr_null(r.msg.data); /* a prefix alone commits no memory */
    ck_assert_int_eq(
        rpc_reader_feed(&r, data + RPC_PREFIX_LEN, 1, big_cb, &big), 0);
    ck_assert_ptr_nonnull(r.msg.data);
    ck_assert_uint_ge(r.msg.cap, len);
    storage = r.msg.data;
    cap = r.msg.cap;
    for (off = RPC_PREFIX_LEN + 1; off + 4096 < RPC_PREFIX_LEN + len;
         off += 4096) {
        ck_assert_int_eq(rpc_reader_feed(&r, data + off, 4096, big_cb, &big),
                         0);
        ck_assert_ptr_eq(r.msg.data, storage);
        ck_assert_uint_eq(r.msg.cap, cap);
    }
    ck_assert_uint_eq(big.n, 0);
    ck_assert_int_eq(rpc_reader_feed(&r, data + off, RPC_PREFIX_LEN + len - off,
                                     big_cb, &big),
                     0);
    ck_assert_uint_eq(big.n, 1);
    ck_assert_uint_eq(big.len, len);
    ck_assert_uint_eq(big.sum, sum);
    ck_assert(rpc_reader_idle(&r));
    /* A buffer this large is not kept once the message is delivered. */
    ck_assert_ptr_null(r.msg.data);
    rpc_reader_close(&r);
    free(data);
}
END_TEST

START_TEST(test_rpc_close_releases)
{
    uint8_t data[64];
    struct rpc_reader r;
    struct rec rec = {0};

    frame(data, 20, 0);
    rpc_reader_init(&r, 64);
    ck_assert_int_eq(rpc_reader_feed(&r, data, 12, rec_cb, &rec), 0);
    ck_assert_ptr_nonnull(r.msg.data);
    rpc_reader_close(&r);
    ck_assert_ptr_null(r.msg.data);
    ck_assert_uint_eq(r.msg.cap, 0);
    ck_assert(rpc_reader_idle(&r));
    rpc_reader_close(&r); /* twice is harmless */
    ck_assert_uint_eq(rec.n, 0);
}
END_TEST

/* --- statuses ----------------------------------------------------------- */

START_TEST(test_rpc_status_names)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };

    for (int i = 0; i <= RPC_UNAUTHENTICATED; i++)
        ck_assert_str_eq(rpc_status_name(i), names[i]);
    ck_assert_str_eq(rpc_status_name(RPC_NOT_FOUND), "NOT_FOUND");
    ck_assert_str_eq(rpc_status_name(-1), "UNKNOWN");
    ck_assert_str_eq(rpc_status_name(17), "UNKNOWN");
    ck_assert_str_eq(rpc_status_name(1 << 30), "UNKNOWN");
}
END_TEST

START_TEST(test_rpc_status_from_err)
{
    static const struct {
        int err;
        enum rpc_status want;
    } cases[] = {
        {0, RPC_OK},
        {ERR_INVALID, RPC_INVALID_ARGUMENT},
        {ERR_NOTFOUND, RPC_NOT_FOUND},
        {ERR_EXISTS, RPC_ALREADY_EXISTS},
        {ERR_DENIED, RPC_PERMISSION_DENIED},
        {ERR_CORRUPT, RPC_DATA_LOSS},
        {ERR_TOOBIG, RPC_RESOURCE_EXHAUSTED},
        {ERR_FULL, RPC_RESOURCE_EXHAUSTED},
        {-ENOSPC, RPC_RESOURCE_EXHAUSTED},
        {ERR_EXPIRED, RPC_FAILED_PRECONDITION},
        {ERR_COMPRESSED, RPC_UNIMPLEMENTED},
        {ERR_UNAVAILABLE, RPC_UNAVAILABLE},
        {-ECANCELED, RPC_CANCELLED},
        {-ETIMEDOUT, RPC_DEADLINE_EXCEEDED},
        {ERR_TLS, RPC_INTERNAL},
        {ERR_PROTO, RPC_INTERNAL},
        {ERR_KEY, RPC_INTERNAL},
        {ERR_CONFIG, RPC_INTERNAL},
        {-ENOMEM, RPC_INTERNAL},
        {-EIO, RPC_INTERNAL},
        {ERR_BASE, RPC_INTERNAL},
        {ERR_LAST, RPC_INTERNAL},
        {12345, RPC_INTERNAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        ck_assert_msg(rpc_status_from_err(cases[i].err) == cases[i].want,
                      "err %d (%s): got %s, want %s", cases[i].err,
                      err_str(cases[i].err),
                      rpc_status_name(rpc_status_from_err(cases[i].err)),
                      rpc_status_name(cases[i].want));
}
END_TEST

/* --- grpc-message ------------------------------------------------------- */

static const struct {
    const char *plain;
    const char *encoded;
} pct_cases[] = {
    {"", ""},
    {"plain ASCII, with spaces ~!", "plain ASCII, with spaces ~!"},
    {"Acc\xc3\xa8s refus\xc3\xa9", "Acc%C3%A8s refus%C3%A9"},
    {"100%", "100%25"},
    {"%%", "%25%25"},
    {"%41", "%2541"},
    {"tab\there\nnew\rline", "tab%09here%0Anew%0Dline"},
    {"\x01\x1f\x7f", "%01%1F%7F"},
    {"\xe2\x82\xac 5", "%E2%82%AC 5"},                   /* euro sign */
    {"\xf0\x9f\x94\x92", "%F0%9F%94%92"},                /* 4-byte UTF-8 */
    {"\xff\xfe bad UTF-8 \xc3", "%FF%FE bad UTF-8 %C3"}, /* kept bytewise */
};

START_TEST(test_rpc_pct_round_trip)
{
    char enc[256], dec[256];
    size_t n;

    n = rpc_pct_encode(pct_cases[_i].plain, enc, sizeof(enc));
    ck_assert_str_eq(enc, pct_cases[_i].encoded);
    ck_assert_uint_eq(n, strlen(pct_cases[_i].encoded));
    n = rpc_pct_decode(enc, dec, sizeof(dec));
    ck_assert_str_eq(dec, pct_cases[_i].plain);
    ck_assert_uint_eq(n, strlen(pct_cases[_i].plain));
    /* Every encoded byte is one a header value may carry. */
    for (const char *p = enc; *p != '\0'; p++)
        ck_assert(*p >= 0x20 && *p <= 0x7e);
}
END_TEST

static const struct {
    const char *in;
    const char *out;
} pct_decode_cases[] = {
    {"%", "%"},
    {"abc%", "abc%"},
    {"abc%4", "abc%4"},
    {"%G1", "%G1"},
    {"%1G", "%1G"},
    {"%%41", "%A"},
    {"%c3%a8", "\xc3\xa8"}, /* lower-case hex is accepted */
    {"%C3%a8", "\xc3\xa8"},
    {"50% off", "50% off"},
    {"% 41", "% 41"},
    {"%2", "%2"},
    {"%252", "%2"}, /* decoded once, not twice */
};

START_TEST(test_rpc_pct_decode_malformed)
{
    char out[64];
    size_t n;

    n = rpc_pct_decode(pct_decode_cases[_i].in, out, sizeof(out));
    ck_assert_str_eq(out, pct_decode_cases[_i].out);
    ck_assert_uint_eq(n, strlen(pct_decode_cases[_i].out));
}
END_TEST

START_TEST(test_rpc_pct_decode_nul)
{
    char out[16];

    memset(out, 'x', sizeof(out));
    ck_assert_uint_eq(rpc_pct_decode("a%00b", out, sizeof(out)), 3);
    ck_assert_mem_eq(out, "a\0b\0", 4);
}
END_TEST

/* Truncating the encoding at every buffer size: the result is always a
 * NUL-terminated prefix of the full encoding that ends on a character
 * boundary, so that it decodes to a prefix of the input made of whole
 * characters. */
START_TEST(test_rpc_pct_encode_truncation)
{
    const char *plain = pct_cases[_i].plain;
    const char *full = pct_cases[_i].encoded;
    size_t full_len = strlen(full);

    for (size_t sz = 0; sz <= full_len + 1; sz++) {
        char out[256], dec[256];
        const char *pct;
        size_t n, d;

        memset(out, '#', sizeof(out));
        n = rpc_pct_encode(plain, out, sz);
        if (sz == 0) {
            ck_assert_uint_eq(n, 0);
            ck_assert_int_eq(out[0], '#'); /* nothing written */
            continue;
        }
        ck_assert_uint_lt(n, sz);
        ck_assert_int_eq(out[n], '\0');
        ck_assert_int_eq(out[sz], '#'); /* nothing past the buffer */
        ck_assert_msg(strncmp(out, full, n) == 0, "size %zu: \"%s\"", sz, out);
        if (sz > full_len)
            ck_assert_uint_eq(n, full_len);
        /* Never inside an escape (every '%' of |full| starts one)... */
        pct = strrchr(out, '%');
        ck_assert_msg(pct == NULL || n - (size_t)(pct - out) >= 3,
                      "size %zu cuts an escape: \"%s\"", sz, out);
        d = rpc_pct_decode(out, dec, sizeof(dec));
        ck_assert_uint_le(d, strlen(plain));
        ck_assert(strncmp(dec, plain, d) == 0);
        /* ...nor inside a UTF-8 character. */
        ck_assert_msg(((unsigned char)plain[d] & 0xc0) != 0x80,
                      "size %zu cuts a character: \"%s\"", sz, out);
    }
}
END_TEST

START_TEST(test_rpc_pct_encode_small_buffer)
{
    char out[8];

    /* "Acc" fits; "%C3%A8" (one character) does not fit in what is left. */
    ck_assert_uint_eq(rpc_pct_encode("Acc\xc3\xa8s", out, 8), 3);
    ck_assert_str_eq(out, "Acc");
    ck_assert_uint_eq(rpc_pct_encode("Acc\xc3\xa8s", out, 4), 3);
    ck_assert_str_eq(out, "Acc");
    ck_assert_uint_eq(rpc_pct_encode("ab%", out, 5), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(rpc_pct_encode("ab%", out, 6), 5);
    ck_assert_str_eq(out, "ab%25");
    ck_assert_uint_eq(rpc_pct_encode("abc", out, 1), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_rpc_pct_decode_small_buffer)
{
    char out[16];

    memset(out, '#', sizeof(out));
    ck_assert_uint_eq(rpc_pct_decode("Acc%C3%A8s", out, 6), 5);
    ck_assert_str_eq(out, "Acc\xc3\xa8");
    /* Room for 4 bytes: "Acc" and half of the e-grave, which is dropped. */
    ck_assert_uint_eq(rpc_pct_decode("Acc%C3%A8s", out, 5), 3);
    ck_assert_str_eq(out, "Acc");
    ck_assert_uint_eq(rpc_pct_decode("%F0%9F%94%92!", out, 4), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(rpc_pct_decode("%F0%9F%94%92!", out, 5), 4);
    ck_assert_str_eq(out, "\xf0\x9f\x94\x92");
    ck_assert_uint_eq(rpc_pct_decode("abcdef", out, 4), 3);
    ck_assert_str_eq(out, "abc");
    out[0] = '#';
    ck_assert_uint_eq(rpc_pct_decode("abc", out, 0), 0);
    ck_assert_int_eq(out[0], '#');
}
END_TEST

/* --- grpc-timeout ------------------------------------------------------- */

static const struct {
    const char *s;
    uint64_t ms;
} timeout_ok[] = {
    {"1H", 3600000},
    {"2M", 120000},
    {"30S", 30000},
    {"0S", 0},
    {"100m", 100},
    {"1m", 1},
    {"0m", 0},
    {"1u", 1}, /* sub-millisecond rounds up */
    {"999u", 1},
    {"1000u", 1},
    {"1001u", 2},
    {"250000u", 250},
    {"1n", 1},
    {"0n", 0},
    {"1000000n", 1},
    {"1000001n", 2},
    {"99999999n", 100},
    {"99999999u", 100000},
    {"00000001S", 1000},
    {"99999999m", 99999999},
    {"99999999S", 99999999000ULL},
    {"99999999M", 100000000000ULL}, /* capped at 1e8 s */
    {"99999999H", 100000000000ULL},
    {"27778H", 100000000000ULL},
    {"27777H", 99997200000ULL},
};

START_TEST(test_rpc_timeout_valid)
{
    uint64_t ms = 12345;
    const char *s = timeout_ok[_i].s;

    ck_assert_msg(rpc_timeout_parse(s, strlen(s), &ms) == 0, "\"%s\"", s);
    ck_assert_msg(ms == timeout_ok[_i].ms, "\"%s\": %llu ms", s,
                  (unsigned long long)ms);
}
END_TEST

static const struct {
    const char *s;
    size_t len; /* 0: strlen */
} timeout_bad[] = {
    {"", 0},           {"S", 0},          {"1", 0},         {"12", 0},
    {"123456789S", 0}, {"000000000S", 0}, {"-1S", 0},       {"+1S", 0},
    {" 1S", 0},        {"1S ", 0},        {"1 S", 0},       {"1s", 0},
    {"1h", 0},         {"1x", 0},         {"1SS", 0},       {"1.5S", 0},
    {"0x1S", 0},       {"1e3m", 0},       {"\xd9\xa1S", 0}, {"1\0S", 3},
    {"1S\0", 3},       {"30S", 2},        {"1:S", 0},       {"/1S", 0},
};

START_TEST(test_rpc_timeout_invalid)
{
    uint64_t ms = 12345;
    const char *s = timeout_bad[_i].s;
    size_t len = timeout_bad[_i].len ? timeout_bad[_i].len : strlen(s);

    ck_assert_msg(rpc_timeout_parse(s, len, &ms) == ERR_INVALID,
                  "\"%.*s\" accepted", (int)len, s);
    ck_assert_uint_eq(ms, 12345); /* untouched */
}
END_TEST

START_TEST(test_rpc_timeout_len_bounds_input)
{
    uint64_t ms = 0;

    /* Only |len| bytes are read: no NUL needed, trailing bytes ignored. */
    ck_assert_int_eq(rpc_timeout_parse("30Sxyz", 3, &ms), 0);
    ck_assert_uint_eq(ms, 30000);
    ck_assert_int_eq(rpc_timeout_parse("5mXXXX", 2, &ms), 0);
    ck_assert_uint_eq(ms, 5);
    ck_assert_int_eq(rpc_timeout_parse(NULL, 0, &ms), ERR_INVALID);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof(*(a))))

Suite *
suite_rpc(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc;

    tc = tcase_create("framing");
    tcase_add_test(tc, test_rpc_prefix_encode);
    tcase_add_test(tc, test_rpc_split_every_byte);
    tcase_add_test(tc, test_rpc_split_every_pair);
    tcase_add_test(tc, test_rpc_one_byte_at_a_time);
    tcase_add_test(tc, test_rpc_several_in_one_feed);
    tcase_add_test(tc, test_rpc_zero_length);
    tcase_add_test(tc, test_rpc_idle_states);
    tcase_add_test(tc, test_rpc_oversized_refused_before_allocation);
    tcase_add_test(tc, test_rpc_limit_inclusive);
    tcase_add_loop_test(tc, test_rpc_bad_flag, 0, N(flag_cases));
    tcase_add_test(tc, test_rpc_callback_error);
    tcase_add_test(tc, test_rpc_callback_error_buffered);
    tcase_add_test(tc, test_rpc_big_message_reserved_once);
    tcase_add_test(tc, test_rpc_close_releases);
    suite_add_tcase(s, tc);

    tc = tcase_create("status");
    tcase_add_test(tc, test_rpc_status_names);
    tcase_add_test(tc, test_rpc_status_from_err);
    suite_add_tcase(s, tc);

    tc = tcase_create("grpc-message");
    tcase_add_loop_test(tc, test_rpc_pct_round_trip, 0, N(pct_cases));
    tcase_add_loop_test(tc, test_rpc_pct_decode_malformed, 0,
                        N(pct_decode_cases));
    tcase_add_test(tc, test_rpc_pct_decode_nul);
    tcase_add_loop_test(tc, test_rpc_pct_encode_truncation, 0, N(pct_cases));
    tcase_add_test(tc, test_rpc_pct_encode_small_buffer);
    tcase_add_test(tc, test_rpc_pct_decode_small_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("grpc-timeout");
    tcase_add_loop_test(tc, test_rpc_timeout_valid, 0, N(timeout_ok));
    tcase_add_loop_test(tc, test_rpc_timeout_invalid, 0, N(timeout_bad));
    tcase_add_test(tc, test_rpc_timeout_len_bounds_input);
    suite_add_tcase(s, tc);
    return s;
}
