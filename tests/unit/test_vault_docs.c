/*
 * test_vault_docs.c -- reading a document's content on a real store,
 * writer and vault: the length of each chunk (vault_doc_chunk_len), each
 * chunk opened in place to exactly its length and bytes, and a chunk put
 * in another's place (another index, another length) refused as
 * ERR_CORRUPT with nothing left in the caller's buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"
#include "testworld.h"
#include "vault.h"
#include "writer.h"

#define CAF "spiffe://dossier.test/agency/caf-75"
#define TAIL 100 /* bytes of the second, last chunk */

static void
world_open(struct testworld *x)
{
    const struct testworld_opts o = {.stem = "dossier-vdocs",
                                     .data_map = 16u << 20,
                                     .keys_map = 4u << 20};

    testworld_open(x, &o);
}

/* Enrols a person and deposits |content| (|len| bytes, SHA-256 not
 * declared); opens the stored document into |d|. */
static void
deposit(struct testworld *x, const uint8_t *content, size_t len,
        struct vault_person *p, struct vault_doc *d)
{
    Dossier__V1__EnrolRequest req = DOSSIER__V1__ENROL_REQUEST__INIT;
    Dossier__V1__DocumentMeta m = DOSSIER__V1__DOCUMENT_META__INIT;
    struct vault_upload *u;
    struct vault_id id;
    const char *why;
    char doc_id[VAULT_ID_STR];

    req.nir = "185057800608491";
    req.given_name = "A";
    req.family_name = "B";
    ck_assert_int_eq(vault_person_enrol(x->v, req.nir, &req, &id, testworld_on_done, x),
                     0);
    ck_assert_int_eq(testworld_wait(x, 1), 0);
    ck_assert_int_eq(vault_person_open(x->v, &id, p), 0);
    m.type = "identite";
    m.file_name = "f.pdf";
    m.media_type = "application/pdf";
    m.size = (int64_t)len;
    ck_assert_int_eq(vault_upload_begin(x->v, p, &m, CAF, &u), 0);
    ck_assert_int_eq(vault_upload_write(u, content, len, NULL, NULL), 0);
    ck_assert_int_eq(vault_upload_finish(u, &why, testworld_on_done, x), 0);
    ck_assert_int_eq(testworld_wait(x, 1), 0);
    snprintf(doc_id, sizeof(doc_id), "%s", vault_upload_meta(u)->document_id);
    vault_upload_free(u);
    uv_run(&x->loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(vault_doc_open(x->v, p, doc_id, 0, d), 0);
}

/* Swaps the stored values of the person's first two chunks. */
static void
swap_chunks(struct testworld *x, const struct vault_person *p)
{
    struct store_txn *t;
    struct store_cursor *cur;
    struct store_entry e;
    uint8_t *key[2], *val[2];
    size_t klen[2], vlen[2];

    ck_assert_int_eq(store_txn_begin(x->data, STORE_TXN_WRITE, NULL, &t), 0);
    ck_assert_int_eq(store_cursor_open(t, STORE_DB_CHUNKS, p->id.b,
                                       VAULT_ID_LEN, &cur),
                     0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(store_cursor_next(cur, &e), 0);
        klen[i] = e.key_len;
        vlen[i] = e.val_len;
        key[i] = malloc(klen[i]);
        val[i] = malloc(vlen[i]);
        ck_assert_ptr_nonnull(key[i]);
        ck_assert_ptr_nonnull(val[i]);
        memcpy(key[i], e.key, klen[i]);
        memcpy(val[i], e.val, vlen[i]);
    }
    store_cursor_close(cur);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(store_put(t, STORE_DB_CHUNKS, key[i], klen[i],
                                   val[1 - i], vlen[1 - i], 0),
                         0);
    ck_assert_int_eq(store_txn_commit(t), 0);
    for (int i = 0; i < 2; i++) {
        free(key[i]);
        free(val[i]);
    }
}

START_TEST(test_vault_docs_chunks_open_in_place)
{
    static uint8_t content[VAULT_CHUNK + TAIL];
    static uint8_t out[VAULT_CHUNK];
    struct testworld x;
    struct vault_person p;
    struct vault_doc d;

    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 7 + 3);
    world_open(&x);
    deposit(&x, content, sizeof(content), &p, &d);
    ck_assert_uint_eq(d.chunks, 2);
    ck_assert_uint_eq(vault_doc_chunk_len(&d, 0), VAULT_CHUNK);
    ck_assert_uint_eq(vault_doc_chunk_len(&d, 1), TAIL);
    ck_assert_uint_eq(vault_doc_chunk_len(&d, 2), 0);

    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 0, out), 0);
    ck_assert_mem_eq(out, content, VAULT_CHUNK);
    memset(out, 0xAA, sizeof(out));
    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 1, out), 0);
    ck_assert_mem_eq(out, content + VAULT_CHUNK, TAIL);
    /* Exactly its length: the byte after the last chunk is untouched. */
    ck_assert_uint_eq(out[TAIL], 0xAA);
    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 2, out), ERR_NOTFOUND);

    /* Each chunk in the other's place: neither opens (another index, and
     * another length), and nothing of them is left in |out|. */
    swap_chunks(&x, &p);
    memset(out, 0, sizeof(out));
    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 0, out), ERR_CORRUPT);
    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 1, out), ERR_CORRUPT);
    for (size_t i = 0; i < sizeof(out); i++)
        ck_assert_uint_eq(out[i], 0);

    vault_doc_close(&d);
    vault_person_close(&p);
    testworld_close(&x);
}
END_TEST

START_TEST(test_vault_docs_empty_has_no_chunk)
{
    static const uint8_t none[1];
    uint8_t out[1] = {0x55};
    struct testworld x;
    struct vault_person p;
    struct vault_doc d;

    world_open(&x);
    deposit(&x, none, 0, &p, &d);
    ck_assert_uint_eq(d.chunks, 0);
    ck_assert_uint_eq(vault_doc_chunk_len(&d, 0), 0);
    ck_assert_int_eq(vault_doc_chunk(x.v, &p, &d, 0, out), ERR_NOTFOUND);
    ck_assert_uint_eq(out[0], 0x55);
    vault_doc_close(&d);
    vault_person_close(&p);
    testworld_close(&x);
}
END_TEST

Suite *
suite_vault_docs(void)
{
    Suite *s = suite_create("vault_docs");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_vault_docs_chunks_open_in_place);
    tcase_add_test(tc, test_vault_docs_empty_has_no_chunk);
    suite_add_tcase(s, tc);
    return s;
}
