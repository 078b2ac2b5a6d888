/*
 * retention.h -- the audit log's retention: entries older than the
 * configured period lose their bodies (audit_purge), while their leaf
 * hashes stay, so every checkpoint and proof still verifies.
 *
 * Runs at start and then every hour, as bounded writer operations.
 */
#ifndef DOSSIER_RETENTION_H
#define DOSSIER_RETENTION_H

#include <stdint.h>

#include <uv.h>

struct audit;
struct retention;
struct writer;

/* Starts purging entries older than |days| days (0: keep everything, and
 * then nothing is started).  Returns the driver (NULL if |days| is 0 or on
 * -ENOMEM).  Loop thread. */
struct retention *retention_start(uv_loop_t *loop, struct writer *w,
                                  struct audit *a, uint32_t days);

/* Stops the timer; frees the driver once its timer has closed and any
 * purge in flight has reported (run the loop, and call before
 * writer_free()).  NULL is a no-op. */
void retention_stop(struct retention *r);

#endif
