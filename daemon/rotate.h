/*
 * rotate.h -- online master-key rotation: re-wraps every person's data key
 * under the current master key, a batch at a time, on the writer thread.
 *
 * Documents are never re-encrypted: only the small wrapped DEKs in the
 * key store change, each batch in one durable transaction, so a crash at
 * any point leaves every DEK wrapped under either key and the next start
 * finishes the job.  Once it reports completion the old master key file
 * can be removed.
 */
#ifndef DOSSIER_ROTATE_H
#define DOSSIER_ROTATE_H

struct keyring;
struct rotate;
struct vault;
struct writer;

/* Creates the driver, whose steps go through |w|.  NULL on -ENOMEM. */
struct rotate *rotate_new(struct writer *w, struct vault *v);

/* Starts re-wrapping every DEK under |kr|'s current master key (or, during
 * a run, makes the run go on with |kr|).  |kr| must stay alive until the
 * daemon stops: a step may be using it on the writer thread.  Logs progress
 * and "rotation complete" when every DEK is under the current master key.
 * Loop thread. */
void rotate_start(struct rotate *r, const struct keyring *kr);

/* Frees the driver, at once or when a step in flight reports.  Call before
 * writer_free(), which runs that report.  NULL is a no-op. */
void rotate_free(struct rotate *r);

#endif
