/*
 * fsutil.c -- durable file changes (see fsutil.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

int
fsutil_sync_dir(const char *dir)
{
    int fd, rc = 0;

    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
    /* Some filesystems cannot sync a directory (EINVAL): nothing to do. */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = -errno;
    close(fd);
    return rc;
}

int
fsutil_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL)
        return fsutil_sync_dir(".");
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return fsutil_sync_dir(dir);
}
