/*
 * testworld.c -- the store, writer and vault of several unit suites (see
 * testworld.h).
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "catalog.h"
#include "keyring.h"
#include "store.h"
#include "testutil.h"
#include "testworld.h"
#include "vault.h"
#include "writer.h"

void
testworld_open(struct testworld *x, const struct testworld_opts *o)
{
    char path[256];

    memset(x, 0, sizeof(*x));
    if (o->again != NULL) {
        snprintf(x->dir, sizeof(x->dir), "%s", o->again);
    } else {
        testutil_mkdtemp(x->dir, sizeof(x->dir), NULL, o->stem);
        snprintf(path, sizeof(path), "%s/master-1.key", x->dir);
        ck_assert_int_eq(keyring_generate_file(path), 0);
        snprintf(path, sizeof(path), "%s/pepper.key", x->dir);
        ck_assert_int_eq(keyring_generate_file(path), 0);
    }
    ck_assert_int_eq(keyring_load(x->dir, &x->kr), 0);
    ck_assert_int_eq(catalog_load("packaging/pieces.tsv", &x->cat), 0);
    ck_assert_int_eq(uv_loop_init(&x->loop), 0);
    snprintf(path, sizeof(path), "%s/data", x->dir);
    ck_assert_int_eq(store_open(path, o->data_map, &x->data), 0);
    snprintf(path, sizeof(path), "%s/keystore", x->dir);
    ck_assert_int_eq(store_open(path, o->keys_map, &x->keys), 0);
    ck_assert_int_eq(writer_new(x->data, &x->loop, &x->w), 0);
    ck_assert_int_eq(writer_watch(x->w, x->keys), 0);
    ck_assert_int_eq(vault_open(x->data, x->keys, x->w, x->kr, x->cat,
                                1u << 20, &x->v),
                     0);
}

void
testworld_on_done(void *arg, int status)
{
    struct testworld *x = arg;

    x->done++;
    x->status = status;
}

int
testworld_wait(struct testworld *x, int n)
{
    int target = x->done + n;

    while (x->done < target)
        uv_run(&x->loop, UV_RUN_ONCE);
    return x->status;
}

void
testworld_stop_writer(struct testworld *x)
{
    writer_free(x->w);
    x->w = NULL;
}

void
testworld_stop(struct testworld *x)
{
    testworld_stop_writer(x);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    vault_close(x->v);
    store_close(x->data);
    store_close(x->keys);
    ck_assert_int_eq(uv_loop_close(&x->loop), 0);
    catalog_free(x->cat);
    keyring_free(x->kr);
}

void
testworld_close(struct testworld *x)
{
    testworld_stop(x);
    testutil_rmtree(x->dir);
}
