/*
 * test_metrics.c -- the Prometheus exposition of metrics.c: counters by
 * method and status, cumulative histograms, label escaping, HELP and
 * TYPE lines, store figures.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "metrics.h"
#include "store.h"
#include "suites.h"
#include "testutil.h"

/* The exposition as a NUL-terminated string (caller frees). */
static char *
render(const struct metrics_sources *src)
{
    struct buf b;
    char *s;

    buf_init(&b);
    ck_assert_int_eq(metrics_render(src, &b), 0);
    s = malloc(buf_size(&b) + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, buf_peek(&b), buf_size(&b));
    s[buf_size(&b)] = '\0';
    buf_free(&b);
    return s;
}

/* True when |text| has the line |line|. */
static bool
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

START_TEST(test_metrics_calls_and_histogram)
{
    struct metrics_sources none = {0};
    char *t;

    metrics_free();
    metrics_call_observe("/dossier.v1.Test/A", 0, 500 * 1000);      /* 0.5 ms */
    metrics_call_observe("/dossier.v1.Test/A", 0, 3 * 1000 * 1000); /* 3 ms */
    metrics_call_observe("/dossier.v1.Test/A", 7, 20ull * 1000000000); /* 20s */
    metrics_call_observe("/dossier.v1.Test/A", 99, 1); /* out of range */
    metrics_call_observe(NULL, 12, 1);
    metrics_call_observe("/we\"ird\\path\n", 0, 1);
    metrics_conn_opened();
    metrics_conn_opened();
    metrics_conn_closed();
    t = render(&none);
    ck_assert(has_line(t, "dossierd_requests_total{method=\"/dossier.v1.Test/"
                          "A\",code=\"OK\"} 2"));
    ck_assert(has_line(t, "dossierd_requests_total{method=\"/dossier.v1.Test/"
                          "A\",code=\"PERMISSION_DENIED\"} 1"));
    ck_assert(has_line(t, "dossierd_requests_total{method=\"/dossier.v1.Test/"
                          "A\",code=\"UNKNOWN\"} 1"));
    ck_assert(has_line(t, "dossierd_requests_total{method=\"unknown\","
                          "code=\"UNIMPLEMENTED\"} 1"));
    /* Label values escaped: backslash, quote, newline. */
    ck_assert(has_line(t, "dossierd_requests_total{method=\"/we\\\"ird\\\\"
                          "path\\n\",code=\"OK\"} 1"));
    /* Cumulative buckets. */
    ck_assert(has_line(t, "dossierd_request_duration_seconds_bucket{method="
                          "\"/dossier.v1.Test/A\",le=\"0.001\"} 2"));
    ck_assert(has_line(t, "dossierd_request_duration_seconds_bucket{method="
                          "\"/dossier.v1.Test/A\",le=\"0.005\"} 3"));
    ck_assert(has_line(t, "dossierd_request_duration_seconds_bucket{method="
                          "\"/dossier.v1.Test/A\",le=\"10\"} 3"));
    ck_assert(has_line(t, "dossierd_request_duration_seconds_bucket{method="
                          "\"/dossier.v1.Test/A\",le=\"+Inf\"} 4"));
    ck_assert(has_line(t, "dossierd_request_duration_seconds_count{method="
                          "\"/dossier.v1.Test/A\"} 4"));
    ck_assert(has_line(t, "dossierd_connections_open 1"));
    ck_assert(has_line(t, "dossierd_connections_total 2"));
    ck_assert(has_line(t, "# TYPE dossierd_request_duration_seconds "
                          "histogram"));
    free(t);
    metrics_free();
}
END_TEST

START_TEST(test_metrics_help_and_type_for_every_family)
{
    char dir[128], data[160], keys[160], path[200];
    struct metrics_sources src = {0};
    struct store *s = NULL;
    char *t, *line;
    FILE *f;

    testutil_mkdtemp(dir, sizeof(dir), NULL, "dossier-metrics");
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    ck_assert_int_eq(mkdir(keys, 0700), 0);
    snprintf(path, sizeof(path), "%s/master-12.key", keys);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fclose(f);
    ck_assert_int_eq(store_open(data, 0, &s), 0);
    src.data = s;
    src.keys_dir = keys;
    metrics_free();
    t = render(&src);
    ck_assert(has_line(t, "dossierd_store_entries{store=\"data\",db=\"meta\"} "
                          "1"));
    ck_assert(strstr(t, "dossierd_key_age_seconds{file=\"master-12.key\"} ") !=
              NULL);
    ck_assert(has_line(t, "dossierd_master_key_current_id 12"));
    ck_assert(strstr(t, "process_resident_memory_bytes ") != NULL);
    /* Every sample belongs to a family announced by HELP and TYPE (a
     * histogram's _bucket, _sum and _count lines to the histogram). */
    {
        char *copy = strdup(t);
        size_t samples = 0;

        ck_assert_ptr_nonnull(copy);
        for (line = strtok(copy, "\n"); line != NULL;
             line = strtok(NULL, "\n")) {
            static const char *const sufs[] = {"", "_bucket", "_sum",
                                               "_count"};
            char fam[128], help[160], type[160];
            bool found = false;
            size_t n;

            if (line[0] == '#')
                continue;
            samples++;
            n = strcspn(line, "{ ");
            ck_assert_uint_lt(n, sizeof(fam));
            for (size_t k = 0; k < 4 && !found; k++) {
                size_t l = strlen(sufs[k]);

                if (n <= l || strncmp(line + n - l, sufs[k], l) != 0)
                    continue;
                memcpy(fam, line, n - l);
                fam[n - l] = '\0';
                snprintf(help, sizeof(help), "# HELP %s ", fam);
                snprintf(type, sizeof(type), "# TYPE %s ", fam);
                found = strstr(t, help) != NULL && strstr(t, type) != NULL &&
                        (k == 0 || strstr(t, "histogram") != NULL);
            }
            ck_assert_msg(found, "no HELP/TYPE for the sample %s", line);
        }
        ck_assert_uint_gt(samples, 25);
        free(copy);
    }
    free(t);
    store_close(s);
    testutil_rmtree(dir);
}
END_TEST

Suite *
suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("exposition");

    tcase_add_test(tc, test_metrics_calls_and_histogram);
    tcase_add_test(tc, test_metrics_help_and_type_for_every_family);
    suite_add_tcase(s, tc);
    return s;
}
