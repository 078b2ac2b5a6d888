/*
 * metrics.c -- counters and the Prometheus text exposition (metrics.h).
 *
 * The exposition is built whole into a buffer at each scrape: a few
 * kilobytes, a few microseconds of formatting plus one read transaction
 * per store.  Histograms are written cumulatively (each bucket counts
 * every observation up to its bound, "+Inf" all of them) from the
 * per-bucket counts kept here and in writer_stats.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "store.h"
#include "writer.h"

#define METRICS_STATUSES 17 /* gRPC status codes 0..16 */
/* Call latency buckets, seconds. */
static const double call_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,  0.1,    0.25,  0.5,  1.0,
                                     2.5,   5.0,    10.0};
#define CALL_BUCKETS (sizeof(call_bounds) / sizeof(call_bounds[0]) + 1)

static const char *const status_names[METRICS_STATUSES] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

struct metrics_method {
    char *path;
    uint64_t by_status[METRICS_STATUSES];
    uint64_t buckets[CALL_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    uint64_t sum_ns;
};

static struct {
    struct metrics_method *methods;
    size_t n, cap;
    struct metrics_method other, unknown;
    uint64_t conns_open, conns_total;
    uint64_t scrapes;
    uint64_t source_errors;
    double start_time;
} m;

void
metrics_init(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    m.start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct metrics_method *
metrics_method_get(const char *path)
{
    struct metrics_method *p;

    if (path == NULL)
        return &m.unknown;
    for (size_t i = 0; i < m.n; i++)
        if (strcmp(m.methods[i].path, path) == 0)
            return &m.methods[i];
    if (m.n == METRICS_METHODS_MAX)
        return &m.other;
    if (m.n == m.cap) {
        size_t cap = m.cap ? m.cap * 2 : 32;

        if ((p = realloc(m.methods, cap * sizeof(*p))) == NULL)
            return &m.other;
        m.methods = p;
        m.cap = cap;
    }
    p = &m.methods[m.n];
    memset(p, 0, sizeof(*p));
    if ((p->path = strdup(path)) == NULL)
        return &m.other;
    m.n++;
    return p;
}

void
metrics_call_observe(const char *path, int status, uint64_t ns)
{
    struct metrics_method *mm = metrics_method_get(path);
    double secs = (double)ns / 1e9;
    size_t b = 0;

    if (status < 0 || status >= METRICS_STATUSES)
        status = 2; /* UNKNOWN */
    mm->by_status[status]++;
    while (b < CALL_BUCKETS - 1 && secs > call_bounds[b])
        b++;
    mm->buckets[b]++;
    mm->count++;
    mm->sum_ns += ns;
}

void
metrics_conn_opened(void)
{
    m.conns_open++;
    m.conns_total++;
}

void
metrics_conn_closed(void)
{
    if (m.conns_open > 0)
        m.conns_open--;
}

void
metrics_scrape_counted(void)
{
    m.scrapes++;
}

void
metrics_free(void)
{
    for (size_t i = 0; i < m.n; i++)
        free(m.methods[i].path);
    free(m.methods);
    m.methods = NULL;
    m.n = m.cap = 0;
}

/* --- writing ------------------------------------------------------------ */

struct out {
    struct buf *b;
    int err;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];
    int n;

    if (o->err != 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->err = -ENOMEM; /* no line of ours is that long */
        return;
    }
    if (buf_append(o->b, tmp, (size_t)n) != 0)
        o->err = -ENOMEM;
}

/* The HELP and TYPE lines of a family. */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* |s| as a label value: backslash, double quote and newline escaped, as
 * the text format wants.  Cut at |size| - 1 bytes. */
static const char *
esc(const char *s, char *dst, size_t size)
{
    size_t j = 0;

    for (; *s != '\0' && j + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            dst[j++] = '\\';
            dst[j++] = *s;
        } else if (*s == '\n') {
            dst[j++] = '\\';
            dst[j++] = 'n';
        } else {
            dst[j++] = *s;
        }
    }
    dst[j] = '\0';
    return dst;
}

/* A float as the text format writes it ("+Inf" is not needed here). */
static void
fmt_bound(double v, char out[32])
{
    snprintf(out, 32, "%g", v);
}

static void
render_calls(struct out *o)
{
    struct metrics_method *all[METRICS_METHODS_MAX + 2];
    size_t n = 0;
    char label[600], le[32];

    for (size_t i = 0; i < m.n; i++)
        all[n++] = &m.methods[i];
    all[n] = &m.other;
    if (m.other.count > 0)
        n++;
    all[n] = &m.unknown;
    if (m.unknown.count > 0)
        n++;

    family(o, "dossierd_requests_total", "counter",
           "gRPC calls finished, by method and status code.");
    for (size_t i = 0; i < n; i++) {
        const char *path = all[i] == &m.other     ? "other"
                           : all[i] == &m.unknown ? "unknown"
                                                  : all[i]->path;

        esc(path, label, sizeof(label));
        for (int s = 0; s < METRICS_STATUSES; s++)
            if (all[i]->by_status[s] > 0)
                put(o,
                    "dossierd_requests_total{method=\"%s\",code=\"%s\"} "
                    "%llu\n",
                    label, status_names[s],
                    (unsigned long long)all[i]->by_status[s]);
    }
    family(o, "dossierd_request_duration_seconds", "histogram",
           "Time from a call's request headers to its status, by method.");
    for (size_t i = 0; i < n; i++) {
        const char *path = all[i] == &m.other     ? "other"
                           : all[i] == &m.unknown ? "unknown"
                                                  : all[i]->path;
        uint64_t cum = 0;

        esc(path, label, sizeof(label));
        for (size_t b = 0; b < CALL_BUCKETS; b++) {
            cum += all[i]->buckets[b];
            if (b < CALL_BUCKETS - 1)
                fmt_bound(call_bounds[b], le);
            else
                strcpy(le, "+Inf");
            put(o,
                "dossierd_request_duration_seconds_bucket{method=\"%s\","
                "le=\"%s\"} %llu\n",
                label, le, (unsigned long long)cum);
        }
        put(o, "dossierd_request_duration_seconds_sum{method=\"%s\"} %.9f\n",
            label, (double)all[i]->sum_ns / 1e9);
        put(o, "dossierd_request_duration_seconds_count{method=\"%s\"} %llu\n",
            label, (unsigned long long)all[i]->count);
    }
    family(o, "dossierd_connections_open", "gauge",
           "Client connections open now.");
    put(o, "dossierd_connections_open %llu\n",
        (unsigned long long)m.conns_open);
    family(o, "dossierd_connections_total", "counter",
           "Client connections accepted since the start.");
    put(o, "dossierd_connections_total %llu\n",
        (unsigned long long)m.conns_total);
}

/* A histogram from per-bucket counts with integer bounds. */
static void
render_hist(struct out *o, const char *name, const uint64_t *counts,
            const uint64_t *bounds, double scale, double sum, uint64_t count)
{
    uint64_t cum = 0;
    char le[32];

    for (size_t b = 0; b < WRITER_HIST_BUCKETS; b++) {
        cum += counts[b];
        if (b < WRITER_HIST_BUCKETS - 1)
            fmt_bound((double)bounds[b] * scale, le);
        else
            strcpy(le, "+Inf");
        put(o, "%s_bucket{le=\"%s\"} %llu\n", name, le,
            (unsigned long long)cum);
    }
    put(o, "%s_sum %.9g\n", name, sum);
    put(o, "%s_count %llu\n", name, (unsigned long long)count);
}

/* A histogram of the writer's durations: |hist| counted over
 * WRITER_COMMIT_BOUNDS_US (microseconds), |total_ns| their sum. */
static void
render_writer_time(struct out *o, const char *name, const char *help,
                   const uint64_t *hist, uint64_t total_ns)
{
    static const uint64_t bounds[] = WRITER_COMMIT_BOUNDS_US;
    uint64_t count = 0;

    for (size_t b = 0; b < WRITER_HIST_BUCKETS; b++)
        count += hist[b];
    family(o, name, "histogram", help);
    render_hist(o, name, hist, bounds, 1e-6, (double)total_ns / 1e9, count);
}

static void
render_writer(struct out *o, struct writer *w)
{
    static const uint64_t batch_bounds[] = WRITER_BATCH_BOUNDS;
    struct writer_stats st;

    writer_stats(w, &st);
    family(o, "dossierd_writer_batch_operations", "histogram",
           "Operations (audit entries and other writes) per batch "
           "transaction of the writer: the group commit's batch sizes.");
    render_hist(o, "dossierd_writer_batch_operations", st.batch_hist,
                batch_bounds, 1.0, (double)st.ops, st.batches);
    render_writer_time(o, "dossierd_writer_commit_duration_seconds",
                       "Duration of one batch commit, sync included.",
                       st.commit_hist, st.total_commit_ns);
    render_writer_time(o, "dossierd_writer_queue_wait_seconds",
                       "Time a write waited queued for its batch to begin "
                       "(while the batch before it committed).",
                       st.wait_hist, st.total_wait_ns);
    render_writer_time(o, "dossierd_writer_report_delay_seconds",
                       "Time from the commit of a write's batch to its "
                       "report on the event loop (the loop busy with other "
                       "work).",
                       st.report_hist, st.total_report_ns);
    family(o, "dossierd_writer_commits_failed_total", "counter",
           "Batches that failed whole (nothing of them durable).");
    put(o, "dossierd_writer_commits_failed_total %llu\n",
        (unsigned long long)st.commits_failed);
    family(o, "dossierd_writer_operations_failed_total", "counter",
           "Writer operations that ended with an error.");
    put(o, "dossierd_writer_operations_failed_total %llu\n",
        (unsigned long long)st.ops_failed);
    family(o, "dossierd_writer_queued_operations", "gauge",
           "Operations waiting for the next batch.");
    put(o, "dossierd_writer_queued_operations %u\n", st.queued);
    family(o, "dossierd_writer_stopped", "gauge",
           "1 when writes stopped after an I/O error (restart needed).");
    put(o, "dossierd_writer_stopped %d\n", st.failed ? 1 : 0);
}

static void
render_stores(struct out *o, struct store *data, struct store *keystore)
{
    struct store *stores[2] = {data, keystore};
    static const char *const names[2] = {"data", "keystore"};
    struct store_stat st[2];
    bool ok[2] = {false, false};

    for (int i = 0; i < 2; i++) {
        if (stores[i] == NULL)
            continue;
        if (store_stat(stores[i], &st[i]) == 0)
            ok[i] = true;
        else
            m.source_errors++;
    }
    if (!ok[0] && !ok[1])
        return;
#define EACH_STORE(expr_fmt, expr)                                             \
    for (int i = 0; i < 2; i++)                                                \
        if (ok[i])                                                             \
            put(o, expr_fmt, names[i], expr);
    family(o, "dossierd_store_map_size_bytes", "gauge",
           "The store's size limit (LMDB map size).");
    EACH_STORE("dossierd_store_map_size_bytes{store=\"%s\"} %llu\n",
               (unsigned long long)st[i].map_size)
    family(o, "dossierd_store_used_bytes", "gauge",
           "Bytes of the store in use (pages written minus free pages).");
    EACH_STORE("dossierd_store_used_bytes{store=\"%s\"} %llu\n",
               (unsigned long long)st[i].used_bytes)
    family(o, "dossierd_store_file_bytes", "gauge",
           "Bytes of the store file ever used (its last page).");
    EACH_STORE("dossierd_store_file_bytes{store=\"%s\"} %llu\n",
               (unsigned long long)st[i].high_water)
    family(o, "dossierd_store_reserve_bytes", "gauge",
           "End of the map kept for deletes (store.h).");
    EACH_STORE("dossierd_store_reserve_bytes{store=\"%s\"} %llu\n",
               (unsigned long long)st[i].reserve_bytes)
    family(o, "dossierd_store_map_used_ratio", "gauge",
           "Bytes in use over the map size, 0 to 1.");
    EACH_STORE("dossierd_store_map_used_ratio{store=\"%s\"} %.6f\n",
               st[i].map_size ? (double)st[i].used_bytes /
                                    (double)st[i].map_size
                              : 0.0)
    family(o, "dossierd_store_puts_refused", "gauge",
           "1 when the store is in its reserve: new records are refused.");
    EACH_STORE("dossierd_store_puts_refused{store=\"%s\"} %d\n",
               st[i].puts_refused ? 1 : 0)
    family(o, "dossierd_store_readers", "gauge",
           "LMDB reader slots used (high-water mark).");
    EACH_STORE("dossierd_store_readers{store=\"%s\"} %u\n", st[i].readers)
    family(o, "dossierd_store_entries", "gauge",
           "Records in each database of the store.");
    for (int i = 0; i < 2; i++) {
        if (!ok[i])
            continue;
        for (int db = 0; db < STORE_DB_COUNT; db++)
            put(o, "dossierd_store_entries{store=\"%s\",db=\"%s\"} %llu\n",
                names[i], store_db_name((enum store_db)db),
                (unsigned long long)st[i].entries[db]);
    }
#undef EACH_STORE
}

/* True for the key files whose age is reported: master-N.key,
 * pepper.key, audit.key. */
static bool
key_file_name(const char *name)
{
    size_t n = strlen(name);

    if (strcmp(name, "pepper.key") == 0 || strcmp(name, "audit.key") == 0)
        return true;
    if (n < 12 || strncmp(name, "master-", 7) != 0 ||
        strcmp(name + n - 4, ".key") != 0)
        return false;
    return strspn(name + 7, "0123456789") == n - 11;
}

static void
render_keys(struct out *o, const char *dir)
{
    struct dirent *de;
    struct timespec now;
    char path[4400], label[300];
    unsigned long current = 0;
    DIR *d;

    if ((d = opendir(dir)) == NULL) {
        m.source_errors++;
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    family(o, "dossierd_key_age_seconds", "gauge",
           "Time since each data or audit key file was last written "
           "(master-N.key, pepper.key, audit.key).");
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        if (!key_file_name(de->d_name))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
                (int)sizeof(path) ||
            stat(path, &st) != 0)
            continue;
        if (strncmp(de->d_name, "master-", 7) == 0) {
            unsigned long id = strtoul(de->d_name + 7, NULL, 10);
            if (id > current)
                current = id;
        }
        put(o, "dossierd_key_age_seconds{file=\"%s\"} %.3f\n",
            esc(de->d_name, label, sizeof(label)),
            (double)(now.tv_sec - st.st_mtim.tv_sec) +
                (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9);
    }
    closedir(d);
    family(o, "dossierd_master_key_current_id", "gauge",
           "Id of the newest master key file in the keys directory.");
    put(o, "dossierd_master_key_current_id %lu\n", current);
}

/* Process figures from /proc/self (Linux), as Prometheus clients name
 * them. */
static void
render_process(struct out *o)
{
    char stat[1024], *p;
    unsigned long utime = 0, stime = 0, vsize = 0;
    long rss = 0;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    struct dirent *de;
    size_t n = 0, fds = 0;
    FILE *f;
    DIR *d;

    if ((f = fopen("/proc/self/stat", "re")) != NULL) {
        n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
    }
    stat[n] = '\0';
    /* After the command name in parentheses: field 3 onwards. */
    if ((p = strrchr(stat, ')')) != NULL &&
        sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
               "%*d %*d %*d %*d %*u %lu %ld",
               &utime, &stime, &vsize, &rss) == 4 &&
        tick > 0) {
        family(o, "process_cpu_seconds_total", "counter",
               "User and system CPU time spent, in seconds.");
        put(o, "process_cpu_seconds_total %.2f\n",
            (double)(utime + stime) / (double)tick);
        family(o, "process_virtual_memory_bytes", "gauge",
               "Virtual memory size in bytes.");
        put(o, "process_virtual_memory_bytes %lu\n", vsize);
        family(o, "process_resident_memory_bytes", "gauge",
               "Resident memory size in bytes.");
        put(o, "process_resident_memory_bytes %ld\n", rss * page);
    } else {
        m.source_errors++;
    }
    if ((d = opendir("/proc/self/fd")) != NULL) {
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                fds++;
        closedir(d);
        family(o, "process_open_fds", "gauge",
               "Number of open file descriptors.");
        put(o, "process_open_fds %zu\n", fds > 0 ? fds - 1 : 0);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        family(o, "process_max_fds", "gauge",
               "Maximum number of open file descriptors.");
        put(o, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    family(o, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    put(o, "process_start_time_seconds %.3f\n", m.start_time);
}

int
metrics_render(const struct metrics_sources *src, struct buf *out)
{
    struct out o = {out, 0};

    render_calls(&o);
    if (src->writer != NULL)
        render_writer(&o, src->writer);
    if (src->data != NULL || src->keystore != NULL)
        render_stores(&o, src->data, src->keystore);
    if (src->keys_dir != NULL)
        render_keys(&o, src->keys_dir);
    render_process(&o);
    family(&o, "dossierd_metrics_scrapes_total", "counter",
           "Scrapes of this endpoint answered.");
    put(&o, "dossierd_metrics_scrapes_total %llu\n",
        (unsigned long long)m.scrapes);
    family(&o, "dossierd_metrics_source_errors_total", "counter",
           "Figures that could not be read at a scrape (left out).");
    put(&o, "dossierd_metrics_source_errors_total %llu\n",
        (unsigned long long)m.source_errors);
    return o.err;
}
