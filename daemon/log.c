/*
 * log.c -- key=value lines on stderr (see log.h).
 *
 * Each line is formatted in a local buffer and written with one write(2),
 * so lines from several threads never interleave; a thread that defers
 * (log_defer) writes its info and debug lines PIPE_BUF bytes of whole
 * lines at a time, still atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_max = LOG_LVL_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* The deferred lines of this thread (log_defer). */
static __thread bool log_deferring;
static __thread char log_pending[PIPE_BUF];
static __thread size_t log_pending_len;

/*
 * When stderr is a regular file, the kernel's write-back of its dirty
 * pages is started every LOG_WRITEBACK_BYTES written (sync_file_range,
 * SYNC_FILE_RANGE_WRITE: it starts writing and does not wait).  Left to
 * itself the kernel writes a file's pages back 30 s after they were
 * dirtied, tens of megabytes at once at a few thousand calls a second,
 * and every fdatasync of the store on the same disk waits behind that
 * burst (BENCHMARKS.md, scenario 5).  Written a little at a time, the
 * log never queues much more than this ahead of a sync.  Nothing is made
 * durable here: a log line is not an acknowledgement.
 */
#define LOG_WRITEBACK_BYTES (256u << 10)

static void
log_writeback(size_t n)
{
    static atomic_size_t since;
    struct stat st;
    int saved;

    if (atomic_fetch_add_explicit(&since, n, memory_order_relaxed) + n <
        LOG_WRITEBACK_BYTES)
        return;
    /* Two threads crossing the mark together both start write-back:
     * harmless, the second finds nothing left to start.  Looked at each
     * time (once per LOG_WRITEBACK_BYTES), not once: stderr may be
     * redirected while the process runs. */
    atomic_store_explicit(&since, 0, memory_order_relaxed);
    saved = errno; /* logging leaves errno as it found it */
    if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode))
        (void)sync_file_range(STDERR_FILENO, 0, 0, SYNC_FILE_RANGE_WRITE);
    errno = saved;
}

/* One write of |n| bytes, again after a signal. */
static void
log_write(const char *p, size_t n)
{
    size_t len = n;

    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to say it */
        p += w;
        n -= (size_t)w;
    }
    log_writeback(len);
}

void
log_defer(bool on)
{
    log_flush();
    log_deferring = on;
}

void
log_flush(void)
{
    if (log_pending_len > 0) {
        int saved = errno;

        log_write(log_pending, log_pending_len);
        log_pending_len = 0;
        errno = saved;
    }
}

void
log_set_level(enum log_level level)
{
    log_max = level;
}

int
log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

/* True if |p| starts a key=value token: [a-z0-9_.]+ then '='. */
static bool
log_is_pair(const char *p)
{
    const char *q = p;

    while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
           *q == '_' || *q == '.')
        q++;
    return q > p && *q == '=';
}

/* Appends |s| to |line| at |*n| (bounded by |size|), quoted for msg= and
 * error=: '"' and '\' escaped, control bytes as '?'. */
static void
log_put_quoted(char *line, size_t size, size_t *n, const char *s, size_t len)
{
    if (*n + 1 < size)
        line[(*n)++] = '"';
    for (size_t i = 0; i < len && *n + 3 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            line[(*n)++] = '\\';
        line[(*n)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (*n + 1 < size)
        line[(*n)++] = '"';
}

/* Appends the |len| bytes at |s| to |line| at |*n|, bounded by |size|. */
static void
log_put(char *line, size_t size, size_t *n, const char *s, size_t len)
{
    if (len > size - *n)
        len = size - *n;
    memcpy(line + *n, s, len);
    *n += len;
}

/*
 * Writes one line: "level=L fn=F msg="<text>" k=v... error="<suffix>"",
 * from the |tlen| bytes of message |text|.  The free text before the
 * first key=value token of the message becomes msg="..."; the pairs
 * follow as written.  Control bytes never reach the output, so one event
 * is always one line.
 */
static void
log_emit(enum log_level level, const char *fn, const char *suffix,
         const char *text, size_t tlen)
{
    char line[1280];
    size_t n = 0, split;

    for (split = 0; split < tlen; split++)
        if ((split == 0 || text[split - 1] == ' ') &&
            log_is_pair(text + split))
            break;
    /* The prefix takes at most half the line: fn is a function's name. */
    log_put(line, sizeof(line) / 2, &n, "level=", 6);
    log_put(line, sizeof(line) / 2, &n, level_names[level],
            strlen(level_names[level]));
    log_put(line, sizeof(line) / 2, &n, " fn=", 4);
    log_put(line, sizeof(line) / 2, &n, fn, strlen(fn));
    if (split > 0) {
        size_t mlen = split;

        while (mlen > 0 && text[mlen - 1] == ' ')
            mlen--;
        memcpy(line + n, " msg=", 5);
        n += 5;
        log_put_quoted(line, sizeof(line) - 1, &n, text, mlen);
    }
    if (split < tlen && n + 3 < sizeof(line)) {
        /* The pairs as written, cut to fit (room kept for the newline),
         * copied whole, then their control bytes replaced. */
        size_t k = tlen - split, room = sizeof(line) - 2 - (n + 1);

        line[n++] = ' ';
        if (k > room)
            k = room;
        memcpy(line + n, text + split, k);
        for (size_t i = n; i < n + k; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                line[i] = '?';
        n += k;
    }
    if (suffix != NULL && n + 10 < sizeof(line)) {
        memcpy(line + n, " error=", 7);
        n += 7;
        log_put_quoted(line, sizeof(line) - 1, &n, suffix, strlen(suffix));
    }
    line[n++] = '\n';
    if (log_deferring && level >= LOG_LVL_INFO && n <= sizeof(log_pending)) {
        if (log_pending_len + n > sizeof(log_pending))
            log_flush();
        memcpy(log_pending + log_pending_len, line, n);
        log_pending_len += n;
        return;
    }
    log_flush(); /* in order: what was deferred, then this */
    log_write(line, n);
}

static void
log_vprint(enum log_level level, const char *fn, const char *suffix,
           const char *fmt, va_list ap)
{
    char text[LOG_TEXT_MAX];
    int m;

    if (level > log_max)
        return;
    m = vsnprintf(text, sizeof(text), fmt, ap);
    if (m < 0)
        return;
    log_emit(level, fn, suffix, text,
             (size_t)m < sizeof(text) ? (size_t)m : sizeof(text) - 1);
}

bool
log_enabled(enum log_level level)
{
    return level <= log_max;
}

void
log_kv_init(struct log_kv *l, char *buf, size_t cap, size_t len)
{
    l->buf = buf;
    l->cap = cap;
    l->len = len < cap ? len : cap - 1;
    l->buf[l->len] = '\0';
}

void
log_kv_raw(struct log_kv *l, const char *s, size_t n)
{
    if (n > l->cap - 1 - l->len)
        n = l->cap - 1 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

/* Appends " key=". */
static void
log_kv_key(struct log_kv *l, const char *key)
{
    log_kv_raw(l, " ", 1);
    log_kv_raw(l, key, strlen(key));
    log_kv_raw(l, "=", 1);
}

void
log_kv_str(struct log_kv *l, const char *key, const char *val)
{
    log_kv_key(l, key);
    log_kv_raw(l, val, strlen(val));
}

void
log_kv_quoted(struct log_kv *l, const char *key, const char *val)
{
    log_kv_key(l, key);
    log_kv_raw(l, "\"", 1);
    log_kv_raw(l, val, strlen(val));
    log_kv_raw(l, "\"", 1);
}

void
log_kv_i64(struct log_kv *l, const char *key, int64_t v)
{
    char digits[24];
    size_t n = sizeof(digits);
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--n] = '-';
    log_kv_key(l, key);
    log_kv_raw(l, digits + n, sizeof(digits) - n);
}

void
log_kv_print(enum log_level level, const char *fn, const struct log_kv *l)
{
    if (level > log_max)
        return;
    log_emit(level, fn, NULL, l->buf, l->len);
}

void
log_print(enum log_level level, const char *fn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vprint(level, fn, NULL, fmt, ap);
    va_end(ap);
}

void
log_print_errno(const char *fn, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vprint(LOG_LVL_WARN, fn, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void
log_fatal(const char *fn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vprint(LOG_LVL_ERROR, fn, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
