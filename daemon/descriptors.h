/*
 * descriptors.h -- the serialized FileDescriptorSet embedded in the daemon
 * (descriptors.S).
 *
 * It holds every file under proto/ (dossier.v1, grpc.health.v1,
 * grpc.reflection.v1 and v1alpha) and, through protoc --include_imports,
 * every file they import.  This header only names the bytes; svc_reflection.h
 * indexes them.
 */
#ifndef DOSSIER_DESCRIPTORS_H
#define DOSSIER_DESCRIPTORS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The set runs from dossier_descriptors up to, not including,
 * dossier_descriptors_end: a google.protobuf.FileDescriptorSet in protobuf
 * wire format.  Read-only (.rodata), valid for the process's lifetime, not
 * NUL-terminated as far as protobuf is concerned.  Any thread may read it.
 */
extern const uint8_t dossier_descriptors[];
extern const uint8_t dossier_descriptors_end[];

/* The size of the set in bytes. */
static inline size_t
descriptors_size(void)
{
    return (size_t)(dossier_descriptors_end - dossier_descriptors);
}

#endif
