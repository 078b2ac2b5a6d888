/*
 * rotate.c -- the master-key rotation driver (see rotate.h).
 *
 * Each step re-wraps a bounded batch in one transaction of the key store
 * (vault_rewrap_step) and yields to the loop, so requests keep flowing
 * while a large store is rotated.
 */
#include <stdlib.h>

#include "err.h"
#include "log.h"
#include "rotate.h"
#include "vault.h"

#define ROTATE_BATCH 256

struct rotate {
    uv_timer_t timer;
    struct vault *vault;
    bool running;
    size_t rewrapped; /* in this run */
};

static void
rotate_step(uv_timer_t *t)
{
    struct rotate *r = t->data;
    size_t done = 0, left = 0;
    int rc;

    if ((rc = vault_rewrap_step(r->vault, ROTATE_BATCH, &done, &left)) != 0) {
        log_warnx("master key rotation stopped: %s (it resumes at the next "
                  "start or SIGHUP)",
                  err_str(rc));
        r->running = false;
        return;
    }
    r->rewrapped += done;
    if (left == 0) {
        r->running = false;
        if (r->rewrapped > 0)
            log_info("master key rotation complete count=%zu: older master "
                     "key files are no longer used",
                     r->rewrapped);
        return;
    }
    uv_timer_start(&r->timer, rotate_step, 0, 0);
}

struct rotate *
rotate_new(uv_loop_t *loop, struct vault *v)
{
    struct rotate *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->vault = v;
    return r;
}

void
rotate_start(struct rotate *r)
{
    if (r->running)
        return;
    r->running = true;
    r->rewrapped = 0;
    uv_timer_start(&r->timer, rotate_step, 0, 0);
}

static void
rotate_closed(uv_handle_t *h)
{
    free(h->data);
}

void
rotate_free(struct rotate *r)
{
    if (r == NULL)
        return;
    uv_close((uv_handle_t *)&r->timer, rotate_closed);
}
