/*
 * descriptors.S -- the FileDescriptorSet of every .proto we serve, embedded
 * in the daemon for server reflection (and the health service's list of
 * known services).
 *
 * build/gen/descriptors.pb is made by `protoc --include_imports
 * --descriptor_set_out` from proto/ (see the Makefile); the Makefile
 * assembles this file with -Ibuild/gen so that .incbin finds it through
 * the include path.  The bytes are read-only and live for the whole
 * process.  This file does not parse them: svc_reflection.c does.
 */

        .section .rodata
        .balign 16
        .globl  dossier_descriptors
        .type   dossier_descriptors, @object
dossier_descriptors:
        .incbin "descriptors.pb"
        .size   dossier_descriptors, . - dossier_descriptors

        .globl  dossier_descriptors_end
        .type   dossier_descriptors_end, @object
dossier_descriptors_end:
        .byte   0       /* a NUL after the set; not part of it */
        .size   dossier_descriptors_end, 1

/* The data is not code: ask for a non-executable stack. */
        .section .note.GNU-stack,"",@progbits
