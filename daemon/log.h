/*
 * log.h -- one line per event on stderr, for journald.
 *
 * Lines are "level=<l> fn=<function> msg="<text>" key=value...": the free
 * text of a message (what comes before its first key=value token) is
 * quoted as msg, its key=value pairs follow as written, and the errno
 * text of log_warn() comes last as error="...".  Values with blanks must
 * be quoted by the caller (key="a b").  Control bytes are replaced, so an
 * event is always one line.  A line is at most about 1 KiB.  Never pass personal data or key
 * material: log ids (dossier id, key id, principal URI), not contents.
 * The log_* functions are safe from any thread (each line is one write,
 * or, deferred, part of one write of whole lines).  When stderr is a
 * regular file, its write-back to disk is started every 256 KiB written
 * (log.c: a burst of old dirty log pages would stall the store's syncs);
 * nothing is waited for, and errno is left as it was.
 */
#ifndef DOSSIER_LOG_H
#define DOSSIER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the most verbose level printed (default LOG_LVL_INFO). */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 if none. */
int log_level_parse(const char *s);

/*
 * From now on (|on|) or no longer, the calling thread's info and debug
 * lines are kept and written together (up to PIPE_BUF bytes of whole
 * lines per write) by log_flush() or when the next one does not fit,
 * instead of one write(2) each: the event loop, which logs a line per
 * call, flushes before each wait for I/O, so a line waits less than one
 * loop pass.  A warning or an error writes what is kept first, then
 * itself at once.  A crash loses the lines kept (one pass at most).
 */
void log_defer(bool on);

/* Writes the calling thread's kept lines now (see log_defer). */
void log_flush(void);

void log_print(enum log_level level, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like log_print at LOG_LVL_WARN, with ": strerror(errno)" appended. */
void log_print_errno(const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Logs at LOG_LVL_ERROR and exits with status 1. */
void log_fatal(const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Longest message text, before the level and fn are added. */
#define LOG_TEXT_MAX 1024

/* Whether lines of |level| are printed (see log_set_level). */
bool log_enabled(enum log_level level);

/*
 * A message's text built without printf, for the lines written on every
 * call (the event loop's per-call line): each log_kv_* appends to the
 * caller's |buf|, cutting what does not fit and keeping it NUL-terminated,
 * and log_kv_print prints the text as log_print would print the same
 * text.  The builder owns nothing; it lives as long as |buf|.
 */
struct log_kv {
    char *buf;
    size_t cap; /* bytes at buf, the NUL included */
    size_t len; /* text so far */
};

/* Starts a builder on |buf| (|cap| bytes, > 0), whose first |len| bytes
 * are already text (0 for an empty one). */
void log_kv_init(struct log_kv *l, char *buf, size_t cap, size_t len);
/* Appends the |n| bytes at |s| as they are. */
void log_kv_raw(struct log_kv *l, const char *s, size_t n);
/* Appends " key=val" (a blank first, always: start the text with its
 * free words, if any, with log_kv_raw). */
void log_kv_str(struct log_kv *l, const char *key, const char *val);
/* Appends " key=\"val\"": |val| must hold no '"'. */
void log_kv_quoted(struct log_kv *l, const char *key, const char *val);
/* Appends " key=<v in decimal>". */
void log_kv_i64(struct log_kv *l, const char *key, int64_t v);
/* Prints the text of |l| at |level| under |fn|, as log_print would. */
void log_kv_print(enum log_level level, const char *fn,
                  const struct log_kv *l);

#define log_debug(...) log_print(LOG_LVL_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) log_print(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_warnx(...) log_print(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_warn(...) log_print_errno(__func__, __VA_ARGS__)
#define fatalx(...) log_fatal(__func__, __VA_ARGS__)

#endif
