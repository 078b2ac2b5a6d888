/*
 * svc_put.h -- Documents.Put, split from svc_documents.c: a deposit as a
 * client stream (metadata, then content) written in bounded memory.
 */
#ifndef DOSSIER_SVC_PUT_H
#define DOSSIER_SVC_PUT_H

#include <stddef.h>
#include <stdint.h>

struct call;

/* The handlers of /dossier.v1.Documents/Put (for svc_documents.c). */
void svc__put_message(struct call *c, const uint8_t *msg, size_t len);
void svc__put_half_close(struct call *c);
void svc__put_cancel(struct call *c);

#endif
