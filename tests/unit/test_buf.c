/*
 * test_buf.c -- unit tests of buf.c: appending, consuming, the lazy slide
 * of unread bytes, growth, and the refusals of impossible sizes.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "suites.h"

START_TEST(test_buf_init_empty)
{
    struct buf b;

    memset(&b, 0xa5, sizeof(b));
    buf_init(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_uint_eq(buf_size(&b), 0);
    buf_free(&b); /* freeing an empty buffer is a no-op */
    ck_assert_ptr_null(b.data);
}
END_TEST

/* Found by fuzz_requests under UBSan: buf_peek of a buffer that never
 * held anything computed NULL + 0, undefined in C.  It returns NULL now
 * (a SAN=1 build fails this test on the old code). */
START_TEST(test_buf_peek_empty_is_null)
{
    struct buf b;

    buf_init(&b);
    ck_assert_ptr_null(buf_peek(&b));
    ck_assert_uint_eq(buf_size(&b), 0);
    ck_assert_int_eq(buf_append(&b, "x", 1), 0);
    buf_consume(&b, 1);
    ck_assert_ptr_nonnull(buf_peek(&b));
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_append_peek_consume)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
    ck_assert_int_eq(buf_append(&b, " world", 6), 0);
    ck_assert_uint_eq(buf_size(&b), 11);
    ck_assert_mem_eq(buf_peek(&b), "hello world", 11);

    buf_consume(&b, 6);
    ck_assert_uint_eq(buf_size(&b), 5);
    ck_assert_mem_eq(buf_peek(&b), "world", 5);

    /* Consuming everything puts the offsets back at the start. */
    buf_consume(&b, 5);
    ck_assert_uint_eq(buf_size(&b), 0);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_nonnull(b.data);
    buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_buf_append_zero_allocates_nothing)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(buf_append(&b, NULL, 0), 0);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_buf_reserve_slides_before_growing)
{
    struct buf b;
    uint8_t chunk[200];
    const uint8_t *before;
    size_t cap;

    buf_init(&b);
    memset(chunk, 'x', sizeof(chunk));
    ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
    ck_assert_int_eq(buf_append(&b, "tail", 4), 0);
    cap = b.cap;
    before = b.data;
    buf_consume(&b, sizeof(chunk));

    /* Room for cap - 4 bytes exists only once the 200 consumed bytes are
     * reclaimed: the buffer must slide rather than reallocate. */
    ck_assert_int_eq(buf_reserve(&b, cap - 4), 0);
    ck_assert_ptr_eq(b.data, before);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(buf_size(&b), 4);
    ck_assert_mem_eq(buf_peek(&b), "tail", 4);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_growth_keeps_bytes)
{
    struct buf b;
    uint8_t byte;

    buf_init(&b);
    for (size_t i = 0; i < 10000; i++) {
        byte = (uint8_t)(i * 7);
        ck_assert_int_eq(buf_append(&b, &byte, 1), 0);
    }
    buf_consume(&b, 3);
    ck_assert_int_eq(buf_reserve(&b, 100000), 0);
    ck_assert_uint_ge(b.cap - b.len, 100000);
    ck_assert_uint_eq(buf_size(&b), 9997);
    for (size_t i = 0; i < 9997; i++)
        ck_assert_uint_eq(buf_peek(&b)[i], (uint8_t)((i + 3) * 7));
    buf_wipe(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_uint_eq(buf_size(&b), 0);
}
END_TEST

START_TEST(test_buf_space_commit)
{
    struct buf b;
    uint8_t *p;

    buf_init(&b);
    ck_assert_int_eq(buf_append(&b, "ab", 2), 0);
    p = buf_space(&b, 10);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "cdefghijkl", 10);
    buf_commit(&b, 3); /* commit fewer bytes than asked for */
    ck_assert_uint_eq(buf_size(&b), 5);
    ck_assert_mem_eq(buf_peek(&b), "abcde", 5);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_reset_keeps_allocation)
{
    struct buf b;
    uint8_t *data;
    size_t cap;

    buf_init(&b);
    ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
    data = b.data;
    cap = b.cap;
    buf_reset(&b);
    ck_assert_uint_eq(buf_size(&b), 0);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_int_eq(buf_append(&b, "z", 1), 0);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_mem_eq(buf_peek(&b), "z", 1);
    buf_free(&b);
}
END_TEST

/* Sizes no allocator could give are refused with -ENOMEM before malloc is
 * called, and leave the buffer as it was. */
START_TEST(test_buf_impossible_sizes)
{
    struct buf b;
    uint8_t *data;

    buf_init(&b);
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), -ENOMEM);
    ck_assert_ptr_null(b.data);
    ck_assert_ptr_null(buf_space(&b, SIZE_MAX));

    ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
    data = b.data;
    /* used + n would wrap around. */
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 1), -ENOMEM);
    ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX - 1), -ENOMEM);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(buf_size(&b), 3);
    ck_assert_mem_eq(buf_peek(&b), "abc", 3);
    buf_wipe(&b);
}
END_TEST

Suite *
suite_buf(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_buf_init_empty);
    tcase_add_test(tc, test_buf_peek_empty_is_null);
    tcase_add_test(tc, test_buf_append_peek_consume);
    tcase_add_test(tc, test_buf_append_zero_allocates_nothing);
    tcase_add_test(tc, test_buf_reserve_slides_before_growing);
    tcase_add_test(tc, test_buf_growth_keeps_bytes);
    tcase_add_test(tc, test_buf_space_commit);
    tcase_add_test(tc, test_buf_reset_keeps_allocation);
    tcase_add_test(tc, test_buf_impossible_sizes);
    suite_add_tcase(s, tc);
    return s;
}
