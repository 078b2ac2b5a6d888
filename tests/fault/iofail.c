/*
 * iofail.c -- an LD_PRELOAD shim that makes the Nth write or sync of a
 * chosen file fail, for the failing-I/O tests of tests/fault/.
 *
 * What LMDB 0.9 does with its data file (seen with strace on dossierd):
 * dirty pages go out with writev() and pwrite() on the read-write
 * descriptor, fdatasync() makes them durable, then the meta page is
 * written with pwrite() on a second descriptor opened O_DSYNC.  Key and
 * checkpoint files use write() and fsync().  No msync (no MDB_WRITEMAP).
 * This shim wraps all of those, and msync for completeness.
 *
 * A failing call is made to look like what a dying disk does, at its
 * worst:
 *  - a failed write or writev/pwrite writes nothing;
 *  - a failed fsync/fdatasync also loses every write made to that file
 *    (by any descriptor without O_DSYNC) since its last successful sync:
 *    the shim keeps the old bytes of each such write and puts them back
 *    (and the old file size), as the disk would hold after a power cut.
 *    A daemon that acknowledged a commit whose sync failed would thus
 *    lose it for real at the next start, not only in theory.
 *  - a write through an O_DSYNC descriptor that succeeds is durable.
 *
 * Environment (read once, at the first wrapped call):
 *   IOFAIL_OPS    comma list of the calls counted: fsync, fdatasync,
 *                 write, pwrite, writev, pwritev, msync; "sync" means
 *                 fsync,fdatasync and "all" every one (default: sync)
 *   IOFAIL_PATH   only calls on descriptors whose path contains this
 *                 (default: data.mdb); msync is counted whatever its file
 *   IOFAIL_N      the counted call that fails, from 1 (0 or unset: none
 *                 fails; the calls are only counted)
 *   IOFAIL_MODE   once (only call N fails) or sticky (N and every
 *                 counted call after it fail); default once
 *   IOFAIL_ERRNO  EIO (default), ENOSPC, EROFS or a number
 *   IOFAIL_REPORT a file to which the counts are appended at exit, one
 *                 line "iofail counted=C injected=I fsync=.. ...", for a
 *                 test to learn how many calls a workload makes
 * Every injected failure is told on stderr ("iofail: ...") so that the
 * daemon's log shows it next to the daemon's own reaction, and so is
 * every counted call let through after one ("... after the injected
 * failure"): a daemon that retried a sync, or wrote on, shows there.
 *
 * Which file a descriptor is, is looked up once (its /proc/self/fd link)
 * and forgotten at open, openat and close.  Not a general tool: one
 * process, descriptors below IOFAIL_FD_MAX, the undo journal in memory.  It deliberately does not fake success: a call
 * it lets through is the real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define IOFAIL_FD_MAX 4096

enum iofail_op {
    OP_FSYNC,
    OP_FDATASYNC,
    OP_WRITE,
    OP_PWRITE,
    OP_WRITEV,
    OP_PWRITEV,
    OP_MSYNC,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "fsync", "fdatasync", "write", "pwrite", "writev", "pwritev", "msync",
};

/* One write that may still be undone: the bytes it replaced. */
struct undo {
    struct undo *next;
    off_t off;
    size_t len;   /* bytes written */
    size_t had;   /* of them, bytes that existed before (old file size) */
    char data[];  /* |had| old bytes */
};

/* The writes made to one file since its last successful sync. */
struct journal {
    struct journal *next;
    dev_t dev;
    ino_t ino;
    off_t size0; /* the file's size before the first of them */
    struct undo *undo; /* newest first */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool inited;
static unsigned ops_mask = (1u << OP_FSYNC) | (1u << OP_FDATASYNC);
static char path_sub[PATH_MAX] = "data.mdb";
static unsigned long fail_n;
static bool sticky;
static int fail_errno = EIO;
static char report_path[PATH_MAX];
static unsigned long counted, injected;
static unsigned long per_op[OP_COUNT];
/* Per descriptor: 0 not looked at, 1 matches IOFAIL_PATH, 2 does not. */
static unsigned char fd_state[IOFAIL_FD_MAX];
static struct journal *journals;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_msync)(void *, size_t, int);
static int (*real_close)(int);

/* Says something on stderr without going through the wrapped write(). */
static void
say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    (void)syscall(SYS_write, 2, line, (size_t)n);
}

static void
iofail_report(void)
{
    char line[512];
    int fd, n;

    if (report_path[0] == '\0')
        return;
    pthread_mutex_lock(&mu);
    n = snprintf(line, sizeof(line),
                 "iofail counted=%lu injected=%lu fsync=%lu fdatasync=%lu "
                 "write=%lu pwrite=%lu writev=%lu pwritev=%lu msync=%lu\n",
                 counted, injected, per_op[OP_FSYNC], per_op[OP_FDATASYNC],
                 per_op[OP_WRITE], per_op[OP_PWRITE], per_op[OP_WRITEV],
                 per_op[OP_PWRITEV], per_op[OP_MSYNC]);
    pthread_mutex_unlock(&mu);
    fd = open(report_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    (void)syscall(SYS_write, fd, line, (size_t)n);
    (void)syscall(SYS_close, fd);
}

static void
parse_ops(const char *s)
{
    char buf[256], *tok, *save = NULL;

    ops_mask = 0;
    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0)
            ops_mask = (1u << OP_COUNT) - 1;
        else if (strcmp(tok, "sync") == 0)
            ops_mask |= (1u << OP_FSYNC) | (1u << OP_FDATASYNC);
        else
            for (int i = 0; i < OP_COUNT; i++)
                if (strcmp(tok, op_names[i]) == 0)
                    ops_mask |= 1u << i;
    }
}

/* Under |mu|. */
static void
init_locked(void)
{
    const char *v;

    if (inited)
        return;
    inited = true;
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_msync = dlsym(RTLD_NEXT, "msync");
    real_close = dlsym(RTLD_NEXT, "close");
    if ((v = getenv("IOFAIL_OPS")) != NULL && *v)
        parse_ops(v);
    if ((v = getenv("IOFAIL_PATH")) != NULL)
        snprintf(path_sub, sizeof(path_sub), "%s", v);
    if ((v = getenv("IOFAIL_N")) != NULL)
        fail_n = strtoul(v, NULL, 10);
    if ((v = getenv("IOFAIL_MODE")) != NULL && strcmp(v, "sticky") == 0)
        sticky = true;
    if ((v = getenv("IOFAIL_ERRNO")) != NULL && *v) {
        if (strcmp(v, "EIO") == 0)
            fail_errno = EIO;
        else if (strcmp(v, "ENOSPC") == 0)
            fail_errno = ENOSPC;
        else if (strcmp(v, "EROFS") == 0)
            fail_errno = EROFS;
        else
            fail_errno = atoi(v);
    }
    if ((v = getenv("IOFAIL_REPORT")) != NULL)
        snprintf(report_path, sizeof(report_path), "%s", v);
    if (report_path[0] != '\0')
        atexit(iofail_report);
}

/* Under |mu|: whether |fd| is a descriptor of the watched file. */
static bool
fd_watched(int fd)
{
    char link[64], path[PATH_MAX];
    ssize_t n;

    if (fd < 0 || fd >= IOFAIL_FD_MAX)
        return false;
    if (fd_state[fd] == 0) {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof(path) - 1);
        if (n < 0)
            return false;
        path[n] = '\0';
        fd_state[fd] = strstr(path, path_sub) != NULL ? 1 : 2;
    }
    return fd_state[fd] == 1;
}

/* The path of |fd| into |buf| (for messages), or "?". */
static const char *
fd_path(int fd, char *buf, size_t cap)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = fd < 0 ? -1 : readlink(link, buf, cap - 1);
    if (n < 0)
        return "?";
    buf[n] = '\0';
    return buf;
}

/* Under |mu|: counts a call of |op| on |fd| (-1: any file) and says
 * whether it must fail. */
static bool
should_fail(enum iofail_op op, int fd)
{
    if (!(ops_mask & (1u << op)))
        return false;
    if (fd != -1 && !fd_watched(fd))
        return false;
    counted++;
    per_op[op]++;
    if (fail_n == 0)
        return false;
    if (counted == fail_n || (sticky && counted > fail_n)) {
        injected++;
        return true;
    }
    /* A call let through after a failure: the test may want none (no
     * retried sync, no write after an I/O error). */
    if (injected > 0) {
        char path[PATH_MAX];

        say("iofail: %s call %lu after the injected failure (fd %d, %s)\n",
            op_names[op], counted, fd, fd_path(fd, path, sizeof(path)));
    }
    return false;
}

static struct journal *
journal_find(int fd, bool make)
{
    struct stat st;
    struct journal *j;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    for (j = journals; j; j = j->next)
        if (j->dev == st.st_dev && j->ino == st.st_ino)
            return j;
    if (!make)
        return NULL;
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return NULL;
    j->dev = st.st_dev;
    j->ino = st.st_ino;
    j->size0 = st.st_size;
    j->next = journals;
    journals = j;
    return j;
}

static void
journal_clear(struct journal *j)
{
    struct undo *u;

    while ((u = j->undo) != NULL) {
        j->undo = u->next;
        free(u);
    }
    j->size0 = -1; /* taken again at the next write */
}

/* Under |mu|: before a write of |len| bytes at |off| to watched |fd|,
 * keeps what it will replace, unless |fd| is O_DSYNC (durable at once). */
static void
journal_note(int fd, off_t off, size_t len)
{
    struct journal *j;
    struct undo *u;
    struct stat st;
    size_t had = 0;
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || (fl & (O_DSYNC | O_SYNC)) || len == 0)
        return;
    if ((j = journal_find(fd, true)) == NULL || fstat(fd, &st) != 0)
        return;
    if (j->size0 < 0)
        j->size0 = st.st_size;
    if (off < st.st_size)
        had = (size_t)(st.st_size - off) < len ? (size_t)(st.st_size - off)
                                               : len;
    if ((u = malloc(sizeof(*u) + had)) == NULL)
        return;
    u->off = off;
    u->len = len;
    u->had = had;
    if (had > 0 && pread(fd, u->data, had, off) != (ssize_t)had)
        u->had = 0;
    u->next = j->undo;
    j->undo = u;
}

/* Under |mu|: a sync of |fd| failed: the writes since the last good sync
 * never reached the disk. */
static void
journal_lose(int fd)
{
    struct journal *j = journal_find(fd, false);
    struct undo *u;
    unsigned long n = 0;

    if (j == NULL)
        return;
    for (u = j->undo; u; u = u->next, n++)
        if (u->had > 0)
            (void)syscall(SYS_pwrite64, fd, u->data, u->had, u->off);
    if (j->size0 >= 0)
        (void)ftruncate(fd, j->size0);
    (void)syscall(SYS_fdatasync, fd);
    say("iofail: %lu unsynced writes of fd %d undone (the disk lost them)\n",
        n, fd);
    journal_clear(j);
}

/* Under |mu|: a sync of |fd| succeeded. */
static void
journal_synced(int fd)
{
    struct journal *j = journal_find(fd, false);

    if (j != NULL)
        journal_clear(j);
}

static void
injected_say(enum iofail_op op, int fd)
{
    char path[PATH_MAX];

    int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);

    say("iofail: injected %s into %s call %lu (fd %d, %s%s, %s)\n",
        strerror(fail_errno), op_names[op], counted, fd,
        sticky ? "sticky" : "once",
        fl >= 0 && (fl & (O_DSYNC | O_SYNC)) ? ", dsync" : "",
        fd_path(fd, path, sizeof(path)));
}

static int
sync_common(enum iofail_op op, int fd)
{
    int rc;

    pthread_mutex_lock(&mu);
    init_locked();
    if (should_fail(op, fd)) {
        injected_say(op, fd);
        journal_lose(fd);
        pthread_mutex_unlock(&mu);
        errno = fail_errno;
        return -1;
    }
    rc = op == OP_FSYNC ? real_fsync(fd) : real_fdatasync(fd);
    if (rc == 0 && fd_watched(fd))
        journal_synced(fd);
    pthread_mutex_unlock(&mu);
    return rc;
}

int
fsync(int fd)
{
    return sync_common(OP_FSYNC, fd);
}

int
fdatasync(int fd)
{
    return sync_common(OP_FDATASYNC, fd);
}

static size_t
iov_len_sum(const struct iovec *iov, int cnt)
{
    size_t n = 0;

    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* The common part of every write: count, maybe fail, journal.  |off| -1:
 * at the file position.  Returns true (with errno set) to fail. */
static bool
write_begin(enum iofail_op op, int fd, off_t off, size_t len)
{
    bool fail;

    pthread_mutex_lock(&mu);
    init_locked();
    fail = should_fail(op, fd);
    if (fail) {
        injected_say(op, fd);
    } else if (fd_watched(fd)) {
        if (off < 0)
            off = lseek(fd, 0, SEEK_CUR);
        if (off >= 0)
            journal_note(fd, off, len);
    }
    pthread_mutex_unlock(&mu);
    if (fail)
        errno = fail_errno;
    return fail;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
    if (fd > 2 && write_begin(OP_WRITE, fd, -1, len))
        return -1;
    if (real_write == NULL)
        return syscall(SYS_write, fd, buf, len);
    return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (write_begin(OP_PWRITE, fd, off, len))
        return -1;
    return real_pwrite(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    if (write_begin(OP_PWRITE, fd, off, len))
        return -1;
    return real_pwrite64(fd, buf, len, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    if (fd > 2 && write_begin(OP_WRITEV, fd, -1, iov_len_sum(iov, cnt)))
        return -1;
    return real_writev(fd, iov, cnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (write_begin(OP_PWRITEV, fd, off, iov_len_sum(iov, cnt)))
        return -1;
    return real_pwritev(fd, iov, cnt, off);
}

int
msync(void *addr, size_t len, int flags)
{
    bool fail;

    pthread_mutex_lock(&mu);
    init_locked();
    fail = should_fail(OP_MSYNC, -1);
    if (fail)
        injected_say(OP_MSYNC, -1);
    pthread_mutex_unlock(&mu);
    if (fail) {
        errno = fail_errno;
        return -1;
    }
    return real_msync(addr, len, flags);
}

/* A new descriptor is looked at afresh: its number may have been closed
 * behind our back (by the C library's own close, which is not wrapped)
 * and reused. */
static int
fd_fresh(int fd)
{
    if (fd >= 0 && fd < IOFAIL_FD_MAX) {
        pthread_mutex_lock(&mu);
        fd_state[fd] = 0;
        pthread_mutex_unlock(&mu);
    }
    return fd;
}

int
open(const char *path, int flags, ...)
{
    static int (*real_open)(const char *, int, ...);
    mode_t mode = 0;
    va_list ap;

    if (real_open == NULL)
        real_open = dlsym(RTLD_NEXT, "open");
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return fd_fresh(real_open(path, flags, mode));
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    static int (*real_openat)(int, const char *, int, ...);
    mode_t mode = 0;
    va_list ap;

    if (real_openat == NULL)
        real_openat = dlsym(RTLD_NEXT, "openat");
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return fd_fresh(real_openat(dirfd, path, flags, mode));
}

/* A closed descriptor's number may be reused for another file. */
int
close(int fd)
{
    pthread_mutex_lock(&mu);
    init_locked();
    if (fd >= 0 && fd < IOFAIL_FD_MAX)
        fd_state[fd] = 0;
    pthread_mutex_unlock(&mu);
    return real_close(fd);
}
