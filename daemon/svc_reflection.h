/*
 * svc_reflection.h -- gRPC server reflection (grpc.reflection.v1 and
 * grpc.reflection.v1alpha), so that stock tools (grpcurl, grpc_cli,
 * Postman) discover our services without our .proto files.
 *
 * Two layers.  The descriptor index (refl_index_*) is pure computation: it
 * parses a serialized FileDescriptorSet once and answers "which file is
 * named X", "which file defines symbol Y", "which files does Z need".  The
 * gRPC glue (svc_reflection_register) answers the reflection stream from
 * the index built over the set embedded in the daemon (descriptors.h).
 * Neither layer knows what the services do, and neither layer interprets
 * options, source info or extensions: it hands files out as protoc wrote
 * them.
 */
#ifndef DOSSIER_SVC_REFLECTION_H
#define DOSSIER_SVC_REFLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct refl_index;

/* What a fully-qualified symbol names. */
enum refl_symbol_kind {
    REFL_SYM_PACKAGE = 1, /* "dossier.v1", and each parent, "dossier" */
    REFL_SYM_MESSAGE,     /* "dossier.v1.EchoRequest", nested ones too */
    REFL_SYM_FIELD,       /* "dossier.v1.EchoRequest.payload" */
    REFL_SYM_ONEOF,       /* "...ServerReflectionRequest.message_request" */
    REFL_SYM_ENUM,        /* "...HealthCheckResponse.ServingStatus" */
    REFL_SYM_ENUM_VALUE,  /* in the enum's parent scope, as protoc does:
                           * "grpc.health.v1.HealthCheckResponse.SERVING" */
    REFL_SYM_SERVICE,     /* "dossier.v1.Diag" */
    REFL_SYM_METHOD,      /* "dossier.v1.Diag.Echo" */
    REFL_SYM_EXTENSION,   /* an extension field (we define none today) */
};

/* One service of the set, as the index keeps it.  Every pointer is valid
 * for the index's lifetime. */
struct refl_service {
    const char *name; /* fully qualified: "dossier.v1.Diag" */
    size_t file;      /* number of the file that defines it */
    size_t n_methods;
    const char **methods; /* short names: "Echo", "Download"... */
};

/*
 * Parses the serialized FileDescriptorSet |set| (|len| bytes) and indexes
 * its files and symbols into a new index stored in |*out|.  |set| is not
 * copied: the index hands out slices of it, so it must outlive the index
 * (the embedded set lives for the whole process).  File dependencies that
 * name no file of the set are ignored (a set made with --include_imports
 * has none).  When two files define the same symbol, the first wins.
 *
 * Returns 0, ERR_INVALID if |set| is not a well-formed FileDescriptorSet
 * (or a file in it has no name, or two files share a name), or -ENOMEM.
 * |*out| is untouched on error.  Any thread; the index is read-only once
 * built, so any number of threads may query it at once.
 */
int refl_index_new(const uint8_t *set, size_t len, struct refl_index **out);

/* Frees |idx|.  refl_index_free(NULL) is a no-op. */
void refl_index_free(struct refl_index *idx);

/* The number of files in the index; files are numbered 0..count-1 in the
 * order of the set. */
size_t refl_index_file_count(const struct refl_index *idx);

/* The name of file |file| ("dossier/v1/diag.proto").  Valid for the
 * index's lifetime. */
const char *refl_index_file_name(const struct refl_index *idx, size_t file);

/* The serialized FileDescriptorProto of file |file|, |*len| bytes: a slice
 * of the set given to refl_index_new(), byte for byte as protoc wrote it. */
const uint8_t *refl_index_file_bytes(const struct refl_index *idx, size_t file,
                                     size_t *len);

/*
 * Finds the file named |name| (exactly as in the set, e.g.
 * "grpc/health/v1/health.proto").  Returns its number (>= 0) or
 * ERR_NOTFOUND.
 */
int refl_index_find_file(const struct refl_index *idx, const char *name);

/*
 * Finds the file that defines the fully-qualified symbol |symbol|
 * (without a leading dot; one is tolerated).  Stores what the symbol is in
 * |*kind| if |kind| is not NULL.  Returns the file number (>= 0) or
 * ERR_NOTFOUND.
 */
int refl_index_find_symbol(const struct refl_index *idx, const char *symbol,
                           enum refl_symbol_kind *kind);

/*
 * Writes into |out| the number of file |file| then the numbers of all the
 * files it needs, directly or not, each once, in the order the C++ gRPC
 * server uses (depth first, each file before its dependencies).  |out|
 * must have room for refl_index_file_count() entries.  Returns the number
 * of entries written (at least 1).
 */
size_t refl_index_closure(const struct refl_index *idx, size_t file,
                          size_t *out);

/* The number of services in the set, and service |i| (0..count-1, in the
 * order of the set).  The pointer is valid for the index's lifetime. */
size_t refl_index_service_count(const struct refl_index *idx);
const struct refl_service *refl_index_service(const struct refl_index *idx,
                                              size_t i);

/*
 * The index over the descriptor set embedded in the daemon
 * (descriptors.h), built on the first call and kept until the process
 * exits.  Returns NULL, the reason logged, if the embedded set does not
 * parse (a build error) or memory ran out.  First call on the loop thread
 * (it is not locked); the index it returns may then be read anywhere.
 */
const struct refl_index *refl_index_embedded(void);

/*
 * True when |s| serves |svc|: every service of the embedded set is part of
 * our published API unless server_service_enabled() turns it off (Diag
 * without the diag option).  A method whose module is not written yet is
 * still described, and answers UNIMPLEMENTED.  Loop thread.
 */
bool svc_reflection_served(const struct server *s,
                           const struct refl_service *svc);

/*
 * Registers grpc.reflection.v1.ServerReflection/ServerReflectionInfo and
 * grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo on |s|.
 * Both answer from the embedded index; list_services names every service
 * of the set that svc_reflection_served() says |s| serves.  Returns 0,
 * ERR_INVALID if the embedded set does not parse, ERR_EXISTS if a path is
 * already registered, or -ENOMEM.  Loop thread, before server_run().
 */
int svc_reflection_register(struct server *s);

#endif
