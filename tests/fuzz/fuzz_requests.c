/*
 * fuzz_requests.c -- libFuzzer harness of the decoding and handling of
 * every request message of every RPC, in process, against a real store.
 *
 * The daemon is driver.h's: real keys (dossier-admin init-dev), real
 * LMDB, the writer thread, the audit log, every service registered as
 * main.c does; each input is one call through the real path (an HTTP/2
 * request into h2.c, call.c's framing and checks, the handler, the
 * writer, the audit hook, the answer back out through nghttp2).
 *
 * Layout of an input:
 *   byte 0    the method (index into drv_methods, modulo their count);
 *   byte 1    the caller (enum drv_who, modulo DRV_WHO_COUNT);
 *   the rest  request messages, each a 2-byte big-endian length then that
 *             many bytes (cut to what is left), framed by the driver;
 *             "@@D0"... placeholders name the fixtures (driver.h).
 * Every call must end: with a grpc-status, an HTTP error status or a
 * stream reset; a Watch may stay open.  The daemon is reopened fresh
 * every DRV_REOPEN inputs, so that state (erased fixtures, a growing
 * log) does not drift far from what a crash input will meet when it is
 * replayed alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "log.h"

#define DRV_REOPEN 2000
#define MAX_MSGS 64

static struct drv *drv;
static unsigned inputs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer ends with exit(): take the temporary directory with us. */
static void
cleanup(void)
{
    drv_close(drv);
    drv = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* The daemon's log lines would drown libFuzzer's (DOSSIER_FUZZ_LOG=1
     * shows them). */
    if (getenv("DOSSIER_FUZZ_LOG") == NULL)
        log_set_level(LOG_LVL_ERROR);
    if (drv_open(NULL, &drv) != 0)
        abort();
    drv_set_idle(drv, 50);
    atexit(cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct drv_msg msgs[MAX_MSGS];
    struct drv_result res;
    const char *path;
    enum drv_who who;
    int n;

    if ((n = drv_input_parse(data, size, &path, &who, msgs, MAX_MSGS)) < 0)
        return 0;
    if (++inputs % DRV_REOPEN == 0) {
        drv_close(drv);
        if (drv_open(NULL, &drv) != 0)
            abort();
        drv_set_idle(drv, 50);
    }
    if (drv_call(drv, path, who, msgs, (size_t)n, &res) != 0)
        return 0;
    if (getenv("DOSSIER_FUZZ_LOG") != NULL)
        fprintf(stderr,
                "fuzz_requests: %s as %d: status %d \"%s\" http %d, %zu "
                "messages%s%s%s\n",
                path, (int)who, res.status, res.message, res.http_status,
                res.messages, res.reset ? ", reset" : "",
                res.open ? ", left open" : "",
                res.conn_error ? ", connection error" : "");
    if (!res.open && !res.reset && !res.conn_error && res.status < 0 &&
        res.http_status == 0) {
        fprintf(stderr, "fuzz_requests: %s ended without a status\n", path);
        abort();
    }
    if (res.status > 16)
        abort();
    return 0;
}
