/*
 * catalog.c -- the catalogue of document types (see catalog.h).
 *
 * The whole file is read into one allocation and split in place: entries
 * point into it, so a catalogue is three allocations whatever its size.
 * Look-ups go through an array of entry pointers sorted by code; the
 * entries themselves stay in file order for listings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "err.h"
#include "log.h"

#define LINE_MAX_LEN 4096
#define COLUMNS_MIN 4
#define COLUMNS_MAX 5
#define VALIDITY_N_MAX 1000

struct catalog {
    char *text;                           /* the file, split in place */
    struct catalog_entry *entries;        /* file order */
    const struct catalog_entry **by_code; /* sorted by code */
    size_t n;
};

/* State of one load, for error messages. */
struct load {
    const char *path;
    size_t line;
    size_t *lines; /* line of each entry, for duplicate reports */
};

static void load_error(const struct load *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs "<path> line <N>: <reason>" (or "<path>: <reason>" when no line
 * is concerned), the one line a bad catalogue gets. */
static void
load_error(const struct load *l, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (l->line > 0)
        log_warnx("%s line %zu: %s", l->path, l->line, reason);
    else
        log_warnx("%s: %s", l->path, reason);
}

bool
catalog_code_valid(const char *code)
{
    size_t i;

    if (code == NULL)
        return false;
    for (i = 0; code[i] != '\0'; i++) {
        char c = code[i];

        if (i == CATALOG_CODE_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return i > 0;
}

/*
 * Whether |s| is valid UTF-8 (no overlong forms, no surrogates, nothing
 * past U+10FFFF) without control characters (C0, DEL; tabs and newlines
 * cannot occur in a field).
 */
static bool
text_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned c = *p, need, min;
        uint32_t cp;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        p++;
        for (unsigned i = 0; i < need; i++, p++) {
            if ((*p & 0xc0) != 0x80) /* also stops at the NUL */
                return false;
            cp = cp << 6 | (*p & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

/* Strips spaces at both ends of |s|, in place; returns the new start. */
static char *
trim(char *s)
{
    size_t n;

    while (*s == ' ')
        s++;
    n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* Days in one |unit| (English or French, any ASCII case), or 0. */
static uint32_t
unit_days(const char *unit)
{
    static const struct {
        const char *name;
        uint32_t days;
    } units[] = {
        {"day", 1},      {"days", 1},    {"jour", 1},    {"jours", 1},
        {"week", 7},     {"weeks", 7},   {"semaine", 7}, {"semaines", 7},
        {"month", 30},   {"months", 30}, {"mois", 30},   {"year", 365},
        {"years", 365},  {"an", 365},    {"ans", 365},   {"année", 365},
        {"années", 365},
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcasecmp(unit, units[i].name) == 0)
            return units[i].days;
    return 0;
}

/* Fills the parsed validity of |e| from e->validity_text. */
static void
validity_parse(struct catalog_entry *e)
{
    const char *s = e->validity_text;
    uint32_t n = 0, days;

    e->validity = CATALOG_VALIDITY_OTHER;
    e->validity_days = 0;
    if (strcasecmp(s, "none") == 0 || strcasecmp(s, "aucune") == 0 ||
        strcasecmp(s, "aucun") == 0) {
        e->validity = CATALOG_VALIDITY_NONE;
        return;
    }
    if (*s < '1' || *s > '9')
        return;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (uint32_t)(*s - '0');
        if (n > VALIDITY_N_MAX)
            return;
    }
    if (*s != ' ')
        return;
    while (*s == ' ')
        s++;
    if ((days = unit_days(s)) == 0)
        return;
    e->validity = CATALOG_VALIDITY_DAYS;
    e->validity_days = n * days;
}

static int
entry_cmp(const void *a, const void *b)
{
    const struct catalog_entry *x = *(const struct catalog_entry *const *)a;
    const struct catalog_entry *y = *(const struct catalog_entry *const *)b;
    int c = strcmp(x->code, y->code);

    /* Equal codes: file order, so a duplicate is reported at its later
     * line.  Entries are one array, so addresses follow the file. */
    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

/* Reads |path| whole into a NUL-terminated allocation.  0, ERR_CONFIG
 * (logged) or -ENOMEM. */
static int
read_file(struct load *l, char **out, size_t *len)
{
    struct stat st;
    char *text = NULL;
    size_t n = 0;
    int fd, rc = ERR_CONFIG;

    if ((fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        log_warn("cannot open catalogue path=%s", l->path);
        return ERR_CONFIG;
    }
    if (fstat(fd, &st) != 0) {
        log_warn("cannot stat catalogue path=%s", l->path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        load_error(l, "not a regular file");
        goto fail;
    }
    if (st.st_size > CATALOG_FILE_MAX) {
        load_error(l, "larger than %d bytes", CATALOG_FILE_MAX);
        goto fail;
    }
    if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    /* Read to EOF, but never past the size checked above (the file may
     * grow meanwhile). */
    for (;;) {
        ssize_t k = read(fd, text + n, (size_t)st.st_size + 1 - n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            log_warn("cannot read catalogue path=%s", l->path);
            goto fail;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > (size_t)st.st_size) {
            load_error(l, "changed while being read");
            goto fail;
        }
    }
    text[n] = '\0';
    close(fd);
    *out = text;
    *len = n;
    return 0;

fail:
    free(text);
    close(fd);
    return rc;
}

/*
 * Parses one non-comment line |s| (NUL-terminated, no newline) into
 * |e|.  Returns 0 or ERR_CONFIG (logged).
 */
static int
parse_line(struct load *l, char *s, struct catalog_entry *e)
{
    char *col[COLUMNS_MAX];
    size_t ncol = 0;
    char *p = s;

    for (;;) {
        char *tab = strchr(p, '\t');

        col[ncol++] = p;
        if (tab == NULL)
            break;
        if (ncol == COLUMNS_MAX) {
            load_error(l, "more than %d tab-separated columns", COLUMNS_MAX);
            return ERR_CONFIG;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (ncol < COLUMNS_MIN) {
        load_error(l,
                   "%zu tab-separated columns, want %d or %d (code, "
                   "label, issuer, validity[, notes])",
                   ncol, COLUMNS_MIN, COLUMNS_MAX);
        return ERR_CONFIG;
    }
    for (size_t i = 0; i < ncol; i++) {
        if (!text_valid(col[i])) {
            load_error(l,
                       "column %zu is not UTF-8 text without control "
                       "characters",
                       i + 1);
            return ERR_CONFIG;
        }
        col[i] = trim(col[i]);
    }
    /* The bad code is not echoed: it may hold anything. */
    if (!catalog_code_valid(col[0])) {
        load_error(l,
                   "bad code (want 1 to %d characters among a-z, 0-9 "
                   "and -)",
                   CATALOG_CODE_MAX);
        return ERR_CONFIG;
    }
    if (col[1][0] == '\0') {
        load_error(l, "empty label for code %s", col[0]);
        return ERR_CONFIG;
    }
    e->code = col[0];
    e->label = col[1];
    e->issuer = col[2];
    e->validity_text = col[3];
    e->notes = ncol > 4 ? col[4] : "";
    validity_parse(e);
    return 0;
}

/* Whether line |s| is blank (spaces and tabs only). */
static bool
blank(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

int
catalog_load(const char *path, struct catalog **out)
{
    struct load l = {.path = path};
    struct catalog *cat = NULL;
    char *p, *end;
    size_t len, cap = 0;
    int rc;

    *out = NULL;
    if ((cat = calloc(1, sizeof(*cat))) == NULL)
        return -ENOMEM;
    if ((rc = read_file(&l, &cat->text, &len)) != 0)
        goto fail;
    if (memchr(cat->text, '\0', len) != NULL) {
        load_error(&l, "holds a NUL byte");
        rc = ERR_CONFIG;
        goto fail;
    }
    p = cat->text;
    end = cat->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line = p;
        size_t n;

        l.line++;
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = end;
        }
        n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n > LINE_MAX_LEN) {
            load_error(&l, "longer than %d bytes", LINE_MAX_LEN);
            rc = ERR_CONFIG;
            goto fail;
        }
        if (line[0] == '#' || blank(line))
            continue;
        if (cat->n == cap) {
            size_t ncap = cap ? 2 * cap : 32;
            struct catalog_entry *e;
            size_t *lines;

            if ((e = realloc(cat->entries, ncap * sizeof(*e))) == NULL) {
                rc = -ENOMEM;
                goto fail;
            }
            cat->entries = e;
            if ((lines = realloc(l.lines, ncap * sizeof(*lines))) == NULL) {
                rc = -ENOMEM;
                goto fail;
            }
            l.lines = lines;
            cap = ncap;
        }
        if ((rc = parse_line(&l, line, &cat->entries[cat->n])) != 0)
            goto fail;
        l.lines[cat->n++] = l.line;
    }
    l.line = 0;
    if (cat->n == 0) {
        load_error(&l, "no document type in the file");
        rc = ERR_CONFIG;
        goto fail;
    }
    if ((cat->by_code = malloc(cat->n * sizeof(*cat->by_code))) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < cat->n; i++)
        cat->by_code[i] = &cat->entries[i];
    qsort(cat->by_code, cat->n, sizeof(*cat->by_code), entry_cmp);
    for (size_t i = 1; i < cat->n; i++) {
        const struct catalog_entry *a = cat->by_code[i - 1];
        const struct catalog_entry *b = cat->by_code[i];

        if (strcmp(a->code, b->code) == 0) {
            l.line = l.lines[b - cat->entries];
            load_error(&l, "duplicate code %s (first on line %zu)", b->code,
                       l.lines[a - cat->entries]);
            rc = ERR_CONFIG;
            goto fail;
        }
    }
    free(l.lines);
    log_info("catalogue loaded path=%s types=%zu", path, cat->n);
    *out = cat;
    return 0;

fail:
    free(l.lines);
    catalog_free(cat);
    return rc;
}

void
catalog_free(struct catalog *cat)
{
    if (cat == NULL)
        return;
    free(cat->by_code);
    free(cat->entries);
    free(cat->text);
    free(cat);
}

static int
code_cmp(const void *key, const void *elem)
{
    const struct catalog_entry *e = *(const struct catalog_entry *const *)elem;

    return strcmp(key, e->code);
}

const struct catalog_entry *
catalog_find(const struct catalog *cat, const char *code)
{
    const struct catalog_entry *const *e;

    if (!catalog_code_valid(code))
        return NULL;
    e = bsearch(code, cat->by_code, cat->n, sizeof(*cat->by_code), code_cmp);
    return e != NULL ? *e : NULL;
}

size_t
catalog_count(const struct catalog *cat)
{
    return cat->n;
}

const struct catalog_entry *
catalog_entry_at(const struct catalog *cat, size_t i)
{
    return i < cat->n ? &cat->entries[i] : NULL;
}
