/*
 * svc_export.h -- Persons.Export, split from svc_persons.c: the whole
 * dossier as one POSIX tar archive, streamed in bounded memory.
 *
 * The archive holds manifest.json (dossier id, export time, every
 * document version's metadata with its SHA-256 in hex and its path in the
 * archive, the facts, the situation history), situation.json (the current
 * situation) and documents/<document_id>-v<version>-<file name> with the
 * original bytes.  File names are sanitised ('/', '\\', control characters
 * and ".." cannot survive) and shortened to fit the ustar name field.
 * At most one stored chunk (64 KiB) of plaintext is held at a time, and
 * only while the call's queue is under its low-water mark.
 */
#ifndef DOSSIER_SVC_EXPORT_H
#define DOSSIER_SVC_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct call;

/* The handlers of /dossier.v1.Persons/Export (for svc_persons.c). */
void svc__export_start(struct call *c, const uint8_t *msg, size_t len);
void svc__export_writable(struct call *c);
void svc__export_cancel(struct call *c);

#endif
