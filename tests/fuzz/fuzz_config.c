/*
 * fuzz_config.c -- libFuzzer harness of the configuration file parser
 * (daemon/config.c, config_parse).
 *
 * The input is a dossierd.conf, any bytes.  The parser must return 0 or
 * ERR_CONFIG, with at least one recorded error exactly when it returns
 * ERR_CONFIG; keep every recorded line number within the file; leave
 * every string field NUL-terminated within its array; keep numbers in
 * their documented ranges when the file parsed; and give the same verdict
 * whether the file is read once or twice (no hidden state).  The input
 * is copied into a buffer of exactly its size, so that ASan sees any read
 * past the end (the text is not NUL-terminated).  A file that parses
 * clean also goes through config_finish().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static void
check_strings(const struct config *c)
{
    if (!TERMINATED(c->listen_host) || !TERMINATED(c->trust_domain) ||
        !TERMINATED(c->keys_dir) || !TERMINATED(c->cert_file) ||
        !TERMINATED(c->key_file) || !TERMINATED(c->ca_file) ||
        !TERMINATED(c->data_dir) || !TERMINATED(c->keystore_dir) ||
        !TERMINATED(c->catalog))
        abort();
}

static void
check_ranges(const struct config *c)
{
    if (c->listen_port < 0 || c->listen_port > 65535 ||
        c->map_size < (1u << 20) || c->map_size > (1ull << 40) ||
        c->max_document > (4ull << 30) || c->max_message < 1024 ||
        c->max_message > (1u << 30) || c->max_streams < 1 ||
        c->max_streams > 10000 || c->max_connections < 1 ||
        c->max_connections > 1000000 || c->max_header_list < 1024 ||
        c->max_header_list > (1u << 20) || c->handshake_timeout_ms < 100 ||
        c->handshake_timeout_ms > 600000 ||
        c->drain_timeout_ms > 3600000 || c->audit_retention_days > 36500)
        abort();
}

static unsigned
lines_of(const uint8_t *p, size_t n)
{
    unsigned lines = 1;

    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n')
            lines++;
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config a, b;
    static struct config_errors ea, eb;
    char *text = malloc(size ? size : 1);
    char reason[256];
    unsigned lines = lines_of(data, size);
    int rc1, rc2;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    config_defaults(&a, "packaging/pieces.tsv");
    config_defaults(&b, "packaging/pieces.tsv");
    rc1 = config_parse(text, size, &a, &ea);
    rc2 = config_parse(text, size, &b, &eb);
    if (rc1 != rc2 || ea.count != eb.count || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    if (rc1 != 0 && rc1 != ERR_CONFIG)
        abort();
    if ((rc1 == ERR_CONFIG) != (ea.count > 0))
        abort();
    for (size_t i = 0; i < ea.count && i < CONFIG_MAX_ERRORS; i++) {
        if (ea.list[i].line > lines ||
            !TERMINATED(ea.list[i].reason) || ea.list[i].reason[0] == '\0')
            abort();
    }
    check_strings(&a);
    if (rc1 == 0) {
        check_ranges(&a);
        reason[0] = '\0';
        if (config_finish(&a, reason, sizeof(reason)) != 0 &&
            !TERMINATED(reason))
            abort();
        check_strings(&a);
    }
    free(text);
    return 0;
}
