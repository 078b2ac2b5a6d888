/*
 * output.h -- what `dossier` prints: aligned tables for people, JSON for
 * scripts (on json.h, the writer the daemon's export uses), and the
 * progress bar of long transfers.
 *
 * Tables are buffered whole and printed with columns as wide as their
 * widest cell (counted in characters, not bytes, so accents align).
 * JSON goes out as one document on stdout, ended by a newline.
 * The progress bar is drawn on stderr only when stderr is a terminal and
 * the transfer is over PROGRESS_MIN bytes; piped runs print no bar.
 */
#ifndef DOSSIER_OUTPUT_H
#define DOSSIER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define TABLE_COLS_MAX 10
#define PROGRESS_MIN (4 * 1024 * 1024)

struct table {
    size_t ncols;
    const char *head[TABLE_COLS_MAX];
    char **cells; /* rows * ncols strings, owned */
    size_t rows, cap;
};

/* A table with |ncols| columns headed |head| (not copied: static text). */
void table_init(struct table *t, size_t ncols, const char *const *head);

/* Appends a row of |t->ncols| cells (copied; NULL is printed "-").
 * Returns 0 or -ENOMEM. */
int table_row(struct table *t, const char *const *cells);

/* Prints the table on |f| (or |empty| when it has no row) and frees it. */
void table_print(struct table *t, FILE *f, const char *empty);

/*
 * A JSON writer that places commas itself.  Values go to |b|;
 * jw_print writes the document and a newline to stdout and frees it.
 * Errors of memory are sticky and reported by jw_print (-ENOMEM).
 */
struct jw {
    struct buf b;
    int depth;
    bool first[32];
    bool after_key;
    int err;
};

void jw_init(struct jw *w);
void jw_obj(struct jw *w);      /* { */
void jw_obj_end(struct jw *w);  /* } */
void jw_arr(struct jw *w);      /* [ */
void jw_arr_end(struct jw *w);  /* ] */
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s); /* NULL: null */
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_hex(struct jw *w, const uint8_t *p, size_t len);
void jw_null(struct jw *w);
/* A key and a string / integer / boolean value. */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kbool(struct jw *w, const char *key, bool v);
/* A dossier.v1.Date as "YYYY-MM-DD" (null when unset). */
void jw_kdate(struct jw *w, const char *key, int y, int m, int d);
/* Unix seconds as an ISO 8601 UTC string (null for 0). */
void jw_ktime(struct jw *w, const char *key, int64_t unix_s);
/* Writes the document to |f|; returns 0 or -ENOMEM. */
int jw_print(struct jw *w, FILE *f);

struct progress {
    bool on;
    uint64_t total, done;
    int64_t last_ms;
    const char *label;
};

/* Starts a bar for |total| bytes labelled |label| (static or outliving
 * the bar); a no-op bar unless stderr is a terminal and |total| is over
 * PROGRESS_MIN. */
void progress_start(struct progress *p, const char *label, uint64_t total);

/* Adds |n| bytes; redraws at most ten times a second. */
void progress_add(struct progress *p, uint64_t n);

/* Draws 100% (if |ok|) and ends the line. */
void progress_end(struct progress *p, bool ok);

/* Human size: "50.0 MiB", "812 KiB", "12 B". */
const char *size_human(uint64_t n, char *out, size_t outsz);

#endif
