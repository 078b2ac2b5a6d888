/*
 * svc_documents.h -- dossier.v1.Documents (proto/dossier/v1/documents.proto):
 * deposit, read, list and check documents (pièces justificatives), and
 * publish and read agency facts.
 *
 * Who may do what is policy.c's decision; what is stored is vault.c's.
 * Content moves in bounded memory both ways: a deposit pauses the client
 * while the writer is behind, a read produces one stored chunk at a time
 * as the client reads.  Writes are answered only once durable.  Error
 * messages and logs name fields, ids and type codes, never file names or
 * values.
 */
#ifndef DOSSIER_SVC_DOCUMENTS_H
#define DOSSIER_SVC_DOCUMENTS_H

struct server;
struct svc_ctx;

/* A deposit is paused while more than this many bytes wait for the
 * writer. */
#define SVC_PUT_PENDING_MAX (4u * 1024 * 1024)

/*
 * Registers the Documents methods on |s|, working on |ctx| (copied; its
 * vault and catalogue must outlive the server).
 *
 *   Put             client stream: DocumentMeta first (dossier, catalogue
 *                   type, issued and optional valid_until dates, file name,
 *                   media type, declared size up to ctx->max_document,
 *                   optional SHA-256), then content chunks; answered with
 *                   the stored metadata once durable.  The issuer is the
 *                   caller's principal URI, whatever the request says.
 *   Get             server stream: the latest version's metadata, then its
 *                   content, one stored chunk (64 KiB) per message;
 *                   DATA_LOSS if a chunk fails its integrity check.  An
 *                   agency's request carries a Basis with its purpose
 *                   (INVALID_ARGUMENT "basis.purpose_code" otherwise) and
 *                   reads only under a consent in force for that purpose
 *                   covering the type or the document (policy.h);
 *                   PERMISSION_DENIED saying what is missing otherwise.
 *   List            unary: metadata of the documents the caller may read
 *                   (an agency: with a type filter, only if a consent
 *                   covers that type).
 *   LatestValid     server stream, as Get, for the newest document of a
 *                   type; FAILED_PRECONDITION "the latest <type> expired
 *                   on YYYY-MM-DD" if it has expired (after the policy).
 *   CheckIntegrity  unary: recomputes the SHA-256 of every chunk;
 *                   intact=false (not an error) if it differs or a chunk
 *                   fails to open.
 *   PutFact         unary, agency: a fact, answered with its id once
 *                   durable.
 *   GetFacts        unary: the facts the caller may read (an agency: of
 *                   the fact types its consents cover).
 *
 * Returns 0, ERR_EXISTS if a path is already registered, or -ENOMEM.
 * Loop thread, before server_run().
 */
int svc_documents_register(struct server *s, const struct svc_ctx *ctx);

#endif
