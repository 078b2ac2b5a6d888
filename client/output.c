/*
 * output.c -- tables, JSON and the progress bar (see output.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "output.h"

/* --- tables ---------------------------------------------------------------- */

void
table_init(struct table *t, size_t ncols, const char *const *head)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols < TABLE_COLS_MAX ? ncols : TABLE_COLS_MAX;
    for (size_t i = 0; i < t->ncols; i++)
        t->head[i] = head[i];
}

int
table_row(struct table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, cap * t->ncols * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        t->cells = n;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = cells[i] != NULL && cells[i][0] != '\0' ? cells[i]
                                                                : "-";
        t->cells[t->rows * t->ncols + i] = strdup(s);
    }
    t->rows++;
    return 0;
}

/* Characters of a UTF-8 string (continuation bytes not counted). */
static size_t
width(const char *s)
{
    size_t n = 0;

    for (; s != NULL && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static void
cell_print(FILE *f, const char *s, size_t w, bool last)
{
    fputs(s, f);
    if (!last)
        for (size_t k = width(s); k < w + 2; k++)
            fputc(' ', f);
}

void
table_print(struct table *t, FILE *f, const char *empty)
{
    size_t w[TABLE_COLS_MAX] = {0};

    if (t->rows == 0) {
        if (empty != NULL)
            fprintf(f, "%s\n", empty);
        free(t->cells);
        return;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        w[i] = width(t->head[i]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t k = width(t->cells[r * t->ncols + i]);
            if (k > w[i])
                w[i] = k;
        }
    }
    for (size_t i = 0; i < t->ncols; i++)
        cell_print(f, t->head[i], w[i], i + 1 == t->ncols);
    fputc('\n', f);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t i = 0; i < t->ncols; i++) {
            char *s = t->cells[r * t->ncols + i];
            cell_print(f, s != NULL ? s : "-", w[i], i + 1 == t->ncols);
            free(s);
        }
        fputc('\n', f);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* --- JSON ------------------------------------------------------------------ */

void
jw_init(struct jw *w)
{
    memset(w, 0, sizeof(*w));
    buf_init(&w->b);
    w->first[0] = true;
}

static void
jw_raw(struct jw *w, const char *s)
{
    if (w->err == 0)
        w->err = json_put_raw(&w->b, s);
}

/* The comma before a value or a key, unless it follows a key. */
static void
jw_sep(struct jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        jw_raw(w, ",");
    w->first[w->depth] = false;
}

static void
jw_open(struct jw *w, const char *p)
{
    jw_sep(w);
    jw_raw(w, p);
    if (w->depth + 1 < (int)(sizeof(w->first) / sizeof(w->first[0])))
        w->depth++;
    w->first[w->depth] = true;
}

static void
jw_close(struct jw *w, const char *p)
{
    if (w->depth > 0)
        w->depth--;
    jw_raw(w, p);
}

void jw_obj(struct jw *w) { jw_open(w, "{"); }
void jw_obj_end(struct jw *w) { jw_close(w, "}"); }
void jw_arr(struct jw *w) { jw_open(w, "["); }
void jw_arr_end(struct jw *w) { jw_close(w, "]"); }

void
jw_key(struct jw *w, const char *key)
{
    jw_sep(w);
    if (w->err == 0)
        w->err = json_put_key(&w->b, key);
    w->after_key = true;
}

void
jw_str(struct jw *w, const char *s)
{
    jw_sep(w);
    if (w->err == 0)
        w->err = s != NULL ? json_put_str(&w->b, s)
                           : json_put_raw(&w->b, "null");
}

void
jw_int(struct jw *w, int64_t v)
{
    jw_sep(w);
    if (w->err == 0)
        w->err = json_put_int(&w->b, v);
}

void
jw_bool(struct jw *w, bool v)
{
    jw_sep(w);
    jw_raw(w, v ? "true" : "false");
}

void
jw_null(struct jw *w)
{
    jw_sep(w);
    jw_raw(w, "null");
}

void
jw_hex(struct jw *w, const uint8_t *p, size_t len)
{
    jw_sep(w);
    if (w->err == 0)
        w->err = json_put_hex(&w->b, p, len);
}

void
jw_kstr(struct jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_str(w, s);
}

void
jw_kint(struct jw *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_int(w, v);
}

void
jw_kbool(struct jw *w, const char *key, bool v)
{
    jw_key(w, key);
    jw_bool(w, v);
}

void
jw_kdate(struct jw *w, const char *key, int y, int m, int d)
{
    char s[16];

    jw_key(w, key);
    if (y == 0) {
        jw_null(w);
        return;
    }
    snprintf(s, sizeof(s), "%04d-%02d-%02d", y, m, d);
    jw_str(w, s);
}

void
jw_ktime(struct jw *w, const char *key, int64_t unix_s)
{
    char s[40];

    jw_key(w, key);
    if (unix_s == 0)
        jw_null(w);
    else
        jw_str(w, cli_time_iso(unix_s, s, sizeof(s)));
}

int
jw_print(struct jw *w, FILE *f)
{
    int rc = w->err;

    if (rc == 0) {
        fwrite(buf_peek(&w->b), 1, buf_size(&w->b), f);
        fputc('\n', f);
    }
    buf_free(&w->b);
    return rc;
}

/* --- progress -------------------------------------------------------------- */

const char *
size_human(uint64_t n, char *out, size_t outsz)
{
    /* TRANSLATORS: units of size: French says Mio, Kio, o. */
    if (n >= 1024 * 1024)
        snprintf(out, outsz, "%.1f %s", (double)n / (1024.0 * 1024.0),
                 _("MiB"));
    else if (n >= 1024)
        snprintf(out, outsz, "%.0f %s", (double)n / 1024.0, _("KiB"));
    else
        snprintf(out, outsz, "%llu %s", (unsigned long long)n, _("B"));
    return out;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
progress_draw(struct progress *p)
{
    enum { W = 30 };
    char bar[W + 1], a[32], b[32];
    unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
    size_t fill = p->total ? (size_t)(p->done * W / p->total) : W;

    if (pct > 100)
        pct = 100;
    if (fill > W)
        fill = W;
    memset(bar, '#', fill);
    memset(bar + fill, '.', W - fill);
    bar[W] = '\0';
    fprintf(stderr, "\r%s [%s] %3u%%  %s / %s", p->label, bar, pct,
            size_human(p->done, a, sizeof(a)),
            size_human(p->total, b, sizeof(b)));
    fflush(stderr);
}

void
progress_start(struct progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->total = total;
    p->label = label;
    p->on = total > PROGRESS_MIN && isatty(STDERR_FILENO);
    if (p->on)
        progress_draw(p);
}

void
progress_add(struct progress *p, uint64_t n)
{
    int64_t t;

    p->done += n;
    if (!p->on)
        return;
    t = mono_ms();
    if (t - p->last_ms >= 100) {
        p->last_ms = t;
        progress_draw(p);
    }
}

void
progress_end(struct progress *p, bool ok)
{
    if (!p->on)
        return;
    if (ok)
        p->done = p->total;
    progress_draw(p);
    fputc('\n', stderr);
    p->on = false;
}
