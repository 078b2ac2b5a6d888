/*
 * fsutil.h -- making file changes durable, the way every key file and
 * checkpoint file of the project is written (temporary file, fsync,
 * rename, then fsync of the directory).
 */
#ifndef DOSSIER_FSUTIL_H
#define DOSSIER_FSUTIL_H

/* fsyncs directory |dir|, so that a rename or creation in it survives a
 * crash.  Returns 0 or a negative errno.  Any thread; blocks on disk. */
int fsutil_sync_dir(const char *dir);

/* fsyncs the directory that holds |path| ("." when |path| has no '/').
 * Returns 0 or a negative errno (-ENAMETOOLONG for an overlong path). */
int fsutil_sync_parent(const char *path);

#endif
