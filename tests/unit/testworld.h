/*
 * testworld.h -- a real store, key store, writer and vault for the unit
 * suites that need them all (events, vault documents, vault keys): made
 * in a temporary directory with fresh master and pepper keys, run on a
 * libuv loop of its own, and torn down in the daemon's order.
 */
#ifndef DOSSIER_TESTWORLD_H
#define DOSSIER_TESTWORLD_H

#include <stddef.h>

#include <uv.h>

struct catalog;
struct keyring;
struct store;
struct vault;
struct writer;

struct testworld {
    char dir[128];
    uv_loop_t loop;
    struct keyring *kr;
    struct catalog *cat;
    struct store *data, *keys;
    struct writer *w; /* NULL once testworld_stop_writer() ran */
    struct vault *v;
    int done;   /* completions seen by testworld_on_done */
    int status; /* the last one's status */
};

/* What testworld_open makes. */
struct testworld_opts {
    const char *stem;   /* of the new directory's name under /tmp */
    const char *again;  /* non-NULL: reopen this directory, keys kept */
    size_t data_map;    /* map sizes of the two stores */
    size_t keys_map;
};

/* Opens a world as |o| says; fails the running test if it cannot.  The
 * writer watches the key store (writer_watch), as in the daemon. */
void testworld_open(struct testworld *x, const struct testworld_opts *o);

/* A writer_done_fn (and vault completion) whose |arg| is the world:
 * counts the completion and keeps its status. */
void testworld_on_done(void *arg, int status);

/* Runs the loop until |n| more completions reached testworld_on_done;
 * returns the last status. */
int testworld_wait(struct testworld *x, int n);

/* Stops the writer (every queued operation runs and is reported), for a
 * suite that must close a module of its own between the writer and the
 * rest (events_close). */
void testworld_stop_writer(struct testworld *x);

/* Stops the writer if still running and closes everything; the
 * directory stays (for testworld_opts.again). */
void testworld_stop(struct testworld *x);

/* testworld_stop, then removes the directory. */
void testworld_close(struct testworld *x);

#endif
