/*
 * rotate.c -- the master-key rotation driver (see rotate.h).
 *
 * Each step re-wraps a bounded batch of DEKs in one transaction of the key
 * store.  Steps run as writer operations: the writer runs operations in
 * order, so an enrolment whose DEK was wrapped under the old key just
 * before the reload is stored before the next step scans, and rotation
 * never reports "complete" while such a DEK is still on its way.
 */
#include <stdlib.h>

#include "err.h"
#include "log.h"
#include "rotate.h"
#include "vault.h"
#include "writer.h"

#define ROTATE_BATCH 256

struct rotate {
    struct writer *writer;
    struct vault *vault;
    const struct keyring *keyring; /* the one to rotate to */
    bool running;
    bool again;       /* a reload came during the run */
    bool closing;
    bool step_queued;
    size_t rewrapped; /* in this run */
    /* Results of the step, written on the writer thread and read in its
     * done callback on the loop (the writer orders the two). */
    size_t done, left;
};

static void rotate_submit(struct rotate *r);

static int
rotate_step_run(struct store_txn *txn, void *arg)
{
    struct rotate *r = arg;

    return vault_rewrap_step(r->vault, r->keyring, ROTATE_BATCH, &r->done,
                             &r->left);
}

static void
rotate_step_done(void *arg, int status)
{
    struct rotate *r = arg;

    r->step_queued = false;
    if (r->closing) {
        free(r);
        return;
    }
    if (status != 0) {
        log_warnx("master key rotation stopped: %s (it resumes at the next "
                  "start or SIGHUP)",
                  err_str(status));
        r->running = false;
        return;
    }
    r->rewrapped += r->done;
    if (r->left > 0 || r->again) {
        r->again = false;
        rotate_submit(r);
        return;
    }
    r->running = false;
    if (r->rewrapped > 0)
        log_info("master key rotation complete count=%zu: older master key "
                 "files are no longer used",
                 r->rewrapped);
}

static void
rotate_submit(struct rotate *r)
{
    int rc;

    r->step_queued = true;
    if ((rc = writer_submit(r->writer, rotate_step_run, rotate_step_done,
                            r)) != 0) {
        r->step_queued = false;
        r->running = false;
        log_warnx("master key rotation not started: %s", err_str(rc));
    }
}

struct rotate *
rotate_new(struct writer *w, struct vault *v)
{
    struct rotate *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->writer = w;
    r->vault = v;
    return r;
}

void
rotate_start(struct rotate *r, const struct keyring *kr)
{
    r->keyring = kr;
    if (r->running) {
        r->again = true;
        return;
    }
    r->running = true;
    r->rewrapped = 0;
    rotate_submit(r);
}

void
rotate_free(struct rotate *r)
{
    if (r == NULL)
        return;
    /* A step in flight owns |r| until its done callback. */
    if (r->step_queued)
        r->closing = true;
    else
        free(r);
}
