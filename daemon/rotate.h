/*
 * rotate.h -- online master-key rotation: re-wraps every person's data key
 * under the current master key, a batch at a time, on the loop.
 *
 * Documents are never re-encrypted: only the small wrapped DEKs in the
 * key store change, each batch in one durable transaction, so a crash at
 * any point leaves every DEK wrapped under either key and the next start
 * finishes the job.  Once it reports completion the old master key file
 * can be removed.
 */
#ifndef DOSSIER_ROTATE_H
#define DOSSIER_ROTATE_H

#include <uv.h>

struct rotate;
struct vault;

/* Creates the driver on |loop| for |v|.  NULL on -ENOMEM. */
struct rotate *rotate_new(uv_loop_t *loop, struct vault *v);

/* Starts (or restarts) re-wrapping; a no-op while a run is going on.  Logs
 * progress and "rotation complete" when every DEK is under the current
 * master key.  Loop thread. */
void rotate_start(struct rotate *r);

/* Stops and frees (the timer closes; run the loop once more).  NULL is a
 * no-op. */
void rotate_free(struct rotate *r);

#endif
