/*
 * tar.h -- a streaming writer of POSIX ustar archives.
 *
 * The export of a dossier is one tar archive (an open format every system
 * reads) produced piece by piece: a header, the file's bytes as they come,
 * padding, and the two zero blocks at the end.  Pure computation: the
 * caller moves the bytes wherever it wants.
 */
#ifndef DOSSIER_TAR_H
#define DOSSIER_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define TAR_BLOCK 512

/*
 * Appends to |out| the header of a regular file named |name| (at most 100
 * bytes, or 255 split at a '/' into prefix and name), of |size| bytes,
 * mode 0644, modified at |mtime| (Unix seconds).  Returns 0, ERR_INVALID
 * (name too long or not splittable) or -ENOMEM.
 */
int tar_header_put(struct buf *out, const char *name, uint64_t size,
                   int64_t mtime);

/* Appends the zero padding that follows a file of |size| bytes.  Returns 0
 * or -ENOMEM. */
int tar_pad_put(struct buf *out, uint64_t size);

/* Appends the end-of-archive marker (two zero blocks).  Returns 0 or
 * -ENOMEM. */
int tar_end_put(struct buf *out);

#endif
