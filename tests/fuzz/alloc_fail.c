/*
 * alloc_fail.c -- `make alloc-fail`: the Nth allocation of a request
 * fails, for every N, for the request path of every RPC.
 *
 * Linked with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup
 * over static copies of libuv, LMDB, protobuf-c, OpenSSL and nghttp2, so
 * that their allocations fail too, not only ours; built with ASan and
 * UBSan.  Each request is a fuzz_requests seed (tests/fuzz/corpus/
 * fuzz_requests/seed-*: a method, a caller and its messages) run by the
 * in-process daemon of driver.h.  For one request:
 *   1. a clean run counts the allocations made from the first request
 *      byte until the daemon is idle again (A of them);
 *   2. for N = 1, 1 + S, 1 + 2S... up to A (S = 1 unless a bound on the
 *      N values tried is given), the same request runs with the Nth
 *      allocation failing (once), and then:
 *        - the call must have ended (a status, a reset or a lost
 *          connection: the client is told), not be left hanging;
 *        - LeakSanitizer must find nothing unreachable (a recoverable
 *          leak check after each run);
 *        - the daemon must still answer a health check.
 * Each request runs in a child process with a daemon of its own, so a
 * crash (ASan, UBSan, a signal) is counted with the N that caused it and
 * the other requests still run.  The summary comes last: one line per
 * request, then the totals; the exit status is 1 if anything was found.
 *
 * With -p, every allocation from the Nth on fails (persistent), not only
 * the Nth: error paths that allocate are then failing too.  Nothing can
 * be answered then (nghttp2 cannot make a frame), so calls left hanging
 * are counted but not failures there; crashes and leaks are.
 *
 * Usage: alloc-fail [-p] [-m MAX_N_PER_REQUEST] SEED...
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

#include "driver.h"
#include "log.h"

/* --- the failing allocator ------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_bool counting;   /* between the hooks of a request */
static atomic_long allocations; /* made while counting */
static atomic_long fail_at;     /* 0: none fails */
static atomic_long failures;    /* allocations made to fail */
static bool trace;              /* ALLOC_FAIL_TRACE: print each failure's stack */
static bool persistent;         /* -p: fail from the Nth on */

static bool
alloc_fails(void)
{
    long n;

    /* The driver's own client is not the daemon: it never fails. */
    if (!atomic_load_explicit(&counting, memory_order_relaxed) ||
        drv_in_client)
        return false;
    n = atomic_fetch_add(&allocations, 1) + 1;
    if (atomic_load(&fail_at) == 0 ||
        (persistent ? n < atomic_load(&fail_at) : n != atomic_load(&fail_at)))
        return false;
    atomic_fetch_add(&failures, 1);
    if (trace)
        __sanitizer_print_stack_trace();
    errno = ENOMEM;
    return true;
}

void *
__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t k, size_t n)
{
    return alloc_fails() ? NULL : __real_calloc(k, n);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
    return alloc_fails() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
    return alloc_fails() ? NULL : __real_strndup(s, n);
}

static void
hook_before(void)
{
    atomic_store(&allocations, 0);
    atomic_store(&failures, 0);
    atomic_store(&counting, true);
}

static void
hook_after(void)
{
    atomic_store(&counting, false);
}

/* --- one request, in a child ----------------------------------------- */

/* What a child reports, in memory shared with the parent. */
struct report {
    long allocations; /* of the clean run */
    long tried;       /* N values tried */
    long n_now;       /* the N being tried (for a crash) */
    long errors;      /* calls answered with an error status */
    long oks;         /* calls that still succeeded */
    long closed;      /* reset or connection lost */
    long hung;        /* left open, when the clean run was not */
    long leaks;       /* 1 if LSan found a leak (checks stop there: a
                       * leak is reported again by every later check) */
    long leak_at;     /* the N after which it was found (0: the clean run) */
    long broken;      /* health checks that failed afterwards */
    int clean_status;
    bool done;
    char path[128];   /* the method */
};

#define MAX_MSGS 64

static int
load(const char *file, uint8_t **data, size_t *size)
{
    FILE *f = fopen(file, "rb");
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (*data = malloc((size_t)n + 1)) == NULL ||
        fread(*data, 1, (size_t)n, f) != (size_t)n) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    *size = (size_t)n;
    return 0;
}

static void
child(const char *file, long max_n, struct report *rep)
{
    static const struct drv_msg empty = {(const uint8_t *)"", 0};
    struct drv_msg msgs[MAX_MSGS];
    struct drv_result clean, res, health;
    const char *path;
    enum drv_who who;
    struct drv *d;
    uint8_t *data;
    size_t size;
    long stride, total;
    int n;

    log_set_level(LOG_LVL_ERROR);
    if (load(file, &data, &size) != 0 ||
        (n = drv_input_parse(data, size, &path, &who, msgs, MAX_MSGS)) < 0 ||
        drv_open(NULL, &d) != 0)
        _exit(3);
    snprintf(rep->path, sizeof(rep->path), "%s", path);
    drv_set_hooks(d, hook_before, hook_after);
    if (drv_call(d, path, who, msgs, (size_t)n, &clean) != 0)
        _exit(3);
    total = atomic_load(&allocations);
    rep->allocations = total;
    rep->clean_status = clean.status;
    if (__lsan_do_recoverable_leak_check() != 0) {
        rep->leaks = 1;
        rep->leak_at = 0;
    }
    stride = max_n > 0 && total > max_n ? (total + max_n - 1) / max_n : 1;
    for (long k = 1; k <= total; k += stride) {
        rep->n_now = k;
        atomic_store(&fail_at, k);
        if (drv_call(d, path, who, msgs, (size_t)n, &res) != 0)
            _exit(3);
        atomic_store(&fail_at, 0);
        rep->tried++;
        if (getenv("ALLOC_FAIL_VERBOSE") != NULL)
            fprintf(stderr, "alloc-fail: %s N=%ld: status %d \"%s\"%s%s%s\n",
                    path, k, res.status, res.message, res.reset ? " reset" : "",
                    res.conn_error ? " connection-error" : "",
                    res.open ? " open" : "");
        if (res.open && !clean.open) {
            rep->hung++;
            fprintf(stderr, "alloc-fail: %s: the call was left hanging when "
                    "allocation %ld failed\n", path, k);
        }
        else if (res.reset || res.conn_error)
            rep->closed++;
        else if (res.status == 0)
            rep->oks++;
        else
            rep->errors++;
        if (rep->leaks == 0 && __lsan_do_recoverable_leak_check() != 0) {
            rep->leaks = 1;
            rep->leak_at = k;
        }
        drv_set_hooks(d, NULL, NULL);
        if (drv_call(d, "/grpc.health.v1.Health/Check", DRV_AGENCY, &empty, 1,
                     &health) != 0 ||
            health.status != 0)
            rep->broken++;
        drv_set_hooks(d, hook_before, hook_after);
    }
    drv_close(d);
    free(data);
    rep->done = true;
    _exit(0);
}

/* --- the parent --------------------------------------------------------- */

/* A global, so that the children's leak checks see it as reachable. */
static char **lines;

int
main(int argc, char **argv)
{
    long max_n = 0, tried = 0, crashes = 0, leaks = 0, hung = 0, broken = 0;
    int first = 1, failed = 0, nreq, rpcs = 0;
    struct report *reps;

    trace = getenv("ALLOC_FAIL_TRACE") != NULL;
    if (argc > first && strcmp(argv[first], "-p") == 0) {
        persistent = true;
        first++;
    }
    if (argc > first + 1 && strcmp(argv[first], "-m") == 0) {
        max_n = atol(argv[first + 1]);
        first += 2;
    }
    nreq = argc - first;
    if (nreq <= 0) {
        fprintf(stderr, "usage: alloc-fail [-p] [-m MAX_N] SEED...\n");
        return 2;
    }
    reps = mmap(NULL, sizeof(*reps) * (size_t)nreq, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    lines = calloc((size_t)nreq, sizeof(*lines));
    if (reps == MAP_FAILED || lines == NULL)
        return 2;
    memset(reps, 0, sizeof(*reps) * (size_t)nreq);
    for (int i = 0; i < nreq; i++) {
        const char *file = argv[first + i];
        const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
        struct report *r = &reps[i];
        char leak_note[64];
        int status = 0;
        bool crashed;
        pid_t pid;

        fflush(stdout);
        if ((pid = fork()) == 0)
            child(file, max_n, r);
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
            return 2;
        crashed = !r->done;
        leak_note[0] = '\0';
        if (r->leaks)
            snprintf(leak_note, sizeof(leak_note),
                     " (leak found after N=%ld, report above)", r->leak_at);
        printf("alloc-fail: %s: %ld allocations, %ld N tried%s\n", name,
               r->allocations, r->tried,
               crashed ? ", CRASHED (see above)" : "");
        tried += r->tried;
        leaks += r->leaks;
        hung += r->hung;
        broken += r->broken;
        if (crashed) {
            crashes++;
            failed = 1;
        }
        /* With -p nothing can be sent once memory stays exhausted: a
         * stalled call is then expected, only crashes and leaks count. */
        if (r->leaks || (r->hung && !persistent) || r->broken)
            failed = 1;
        if (asprintf(&lines[i],
                     "alloc-fail summary: %-26s clean=%-3d A=%-5ld N=%-5ld "
                     "errors=%ld ok=%ld closed=%ld hung=%ld leaks=%ld "
                     "broken=%ld crashes=%d%s",
                     name, r->clean_status, r->allocations, r->tried,
                     r->errors, r->oks, r->closed, r->hung, r->leaks,
                     r->broken, crashed ? 1 : 0, leak_note) < 0)
            return 2;
        if (crashed) {
            char *l;
            if (asprintf(&l, "%s (at N=%ld, exit status 0x%x)", lines[i],
                         r->n_now, status) >= 0) {
                free(lines[i]);
                lines[i] = l;
            }
        }
    }
    for (int i = 0; i < nreq; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    for (int i = 0; i < nreq; i++) {
        bool seen = reps[i].path[0] == '\0';
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(reps[i].path, reps[j].path) == 0;
        if (!seen)
            rpcs++;
    }
    printf("alloc-fail total: %d requests of %d RPCs, %ld N values tried, "
           "%ld crashes, %ld leaks, %ld hung, %ld broken afterwards%s%s\n",
           nreq, rpcs, tried, crashes, leaks, hung, broken,
           max_n > 0 ? " (bounded)" : "",
           persistent ? " (failing from N on)" : "");
    return failed;
}
