/*
 * metrics.h -- the daemon's figures in the Prometheus text exposition
 * format (version 0.0.4).
 *
 * Keeps the counters only the transport sees (requests by method and
 * gRPC status, their latency, connections) and, when a scrape asks,
 * gathers the rest from the modules that own them: the writer's batch
 * and commit histograms (writer_stats), the stores' size and map use
 * (store_stat), the ages of the key files, and the process's CPU time,
 * memory and descriptors.  Every metric has its HELP and TYPE lines and
 * every label value is escaped, so `promtool check metrics` accepts the
 * output.
 *
 * What it does not do: serve HTTP (metrics_http.h does), or keep any
 * personal data: labels are method paths, status names, store, database
 * and key-file names.
 *
 * Threads: every call runs on the loop thread (calls finish there, and
 * scrapes are answered there), so the counters need no lock.
 */
#ifndef DOSSIER_METRICS_H
#define DOSSIER_METRICS_H

#include <stdint.h>

#include "buf.h"

struct store;
struct writer;

/* Where a scrape takes the figures the metrics module does not keep.
 * Any pointer may be NULL (that family is left out).  Not owned: they
 * must outlive every scrape. */
struct metrics_sources {
    struct writer *writer;
    struct store *data;
    struct store *keystore;
    const char *keys_dir; /* master-N.key, pepper.key, audit.key */
};

/* The most distinct method paths counted; calls of further methods are
 * counted under method="other" (the registered methods are far fewer). */
#define METRICS_METHODS_MAX 128

/* Notes the process start time (call once, early in main). */
void metrics_init(void);

/*
 * Counts one call of method |path| (a registered method's path, or NULL
 * for a path no method serves: counted as "unknown") that ended with gRPC
 * status |status| (0..16; other values count as UNKNOWN) after |ns|
 * nanoseconds from its headers to its status.  -ENOMEM is ignored (the
 * call is counted under "other").  Loop thread.
 */
void metrics_call_observe(const char *path, int status, uint64_t ns);

/* A connection was accepted / has closed.  Loop thread. */
void metrics_conn_opened(void);
void metrics_conn_closed(void);

/* A metrics scrape was answered (counted in the exposition). */
void metrics_scrape_counted(void);

/*
 * Appends the whole exposition to |out|: the counters kept here, then
 * those read from |src| at this moment.  A source that cannot be read
 * (store_stat failing) leaves its family out and sets
 * dossierd_metrics_source_errors_total.  Returns 0 or -ENOMEM.  Loop
 * thread; reads the stores (a read transaction each) and a few small
 * files under /proc and the keys directory.
 */
int metrics_render(const struct metrics_sources *src, struct buf *out);

/* Frees what metrics_call_observe allocated (at exit, for leak checks). */
void metrics_free(void);

#endif
