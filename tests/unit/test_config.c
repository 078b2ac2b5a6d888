/*
 * test_config.c -- unit tests of config.c: a file setting every option,
 * comments, quotes, CRLF and size suffixes; the table of bad files, each
 * with the line and the reason it must be reported with; several errors
 * in one file; the command-line setter; derived paths; config_load on a
 * missing, a directory and a too-large file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "suites.h"
#include "testutil.h"

static int
parse_str(const char *text, struct config *c, struct config_errors *e)
{
    config_defaults(c, "cat.tsv");
    return config_parse(text, strlen(text), c, e);
}

START_TEST(test_config_defaults)
{
    struct config c;

    config_defaults(&c, "packaging/pieces.tsv");
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 7443);
    ck_assert_str_eq(c.trust_domain, "dossier.test");
    ck_assert_str_eq(c.catalog, "packaging/pieces.tsv");
    ck_assert_uint_eq(c.map_size, 1ull << 30);
    ck_assert_uint_eq(c.max_document, 50ull << 20);
    ck_assert_uint_eq(c.max_message, 4u << 20);
    ck_assert_uint_eq(c.drain_timeout_ms, 10000);
    ck_assert_uint_eq(c.handshake_timeout_ms, 10000);
    ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
    ck_assert(!c.diag);
    ck_assert_str_eq(c.keys_dir, "");
}
END_TEST

static const char every_option[] =
    "# dossierd.conf: every option\n"
    "; another comment style\n"
    "\n"
    "[server]\n"
    "listen = [::1]:8443\n"
    "trust_domain = caf.example\n"
    "diag = yes   # trailing comment\n"
    "[keys]\n"
    "dir = /var/lib/dossierd/keys\n"
    "cert = \"/etc/ssl/a b#c.crt\"\n"
    "key=/etc/ssl/x.key\n"
    "ca\t=\t/etc/ssl/ca.crt\r\n"
    "[store]\n"
    "data = /var/lib/dossierd/data\n"
    "keystore = /var/lib/dossierd/keystore\n"
    "catalog = /usr/share/dossierd/pieces.tsv\n"
    "map_size = 2G\n"
    "max_document = 10M\n"
    "  [ limits ]  \n"
    "max_message = 64k\n"
    "max_streams = 50\n"
    "max_connections = 1000\n"
    "max_header_list = 32K\n"
    "handshake_timeout_ms = 5000\n"
    "drain_timeout_ms = 0\n"
    "[audit]\n"
    "retention_days = 365\n"
    "[log]\n"
    "level = debug\n"
    "[metrics]\n"
    "listen = 127.0.0.1:9464";

START_TEST(test_config_every_option)
{
    struct config c;
    struct config_errors e;

    ck_assert_int_eq(parse_str(every_option, &c, &e), 0);
    ck_assert_uint_eq(e.count, 0);
    ck_assert_str_eq(c.listen_host, "::1");
    ck_assert_int_eq(c.listen_port, 8443);
    ck_assert_str_eq(c.trust_domain, "caf.example");
    ck_assert(c.diag);
    ck_assert_str_eq(c.keys_dir, "/var/lib/dossierd/keys");
    ck_assert_str_eq(c.cert_file, "/etc/ssl/a b#c.crt");
    ck_assert_str_eq(c.key_file, "/etc/ssl/x.key");
    ck_assert_str_eq(c.ca_file, "/etc/ssl/ca.crt");
    ck_assert_str_eq(c.data_dir, "/var/lib/dossierd/data");
    ck_assert_str_eq(c.keystore_dir, "/var/lib/dossierd/keystore");
    ck_assert_str_eq(c.catalog, "/usr/share/dossierd/pieces.tsv");
    ck_assert_uint_eq(c.map_size, 2ull << 30);
    ck_assert_uint_eq(c.max_document, 10ull << 20);
    ck_assert_uint_eq(c.max_message, 64u << 10);
    ck_assert_uint_eq(c.max_streams, 50);
    ck_assert_uint_eq(c.max_connections, 1000);
    ck_assert_uint_eq(c.max_header_list, 32u << 10);
    ck_assert_uint_eq(c.handshake_timeout_ms, 5000);
    ck_assert_uint_eq(c.drain_timeout_ms, 0);
    ck_assert_uint_eq(c.audit_retention_days, 365);
    ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
    ck_assert_str_eq(c.metrics_host, "127.0.0.1");
    ck_assert_int_eq(c.metrics_port, 9464);
    /* The server's own address is untouched by the metrics one. */
    ck_assert_str_eq(c.listen_host, "::1");
}
END_TEST

START_TEST(test_config_quotes_and_blanks)
{
    struct config c;
    struct config_errors e;

    ck_assert_int_eq(parse_str("[keys]\ndir = \"  /k \\\"q\\\" \\\\ \"  "
                               "# c\n[store]\ndata = /d#not-a-comment\n",
                               &c, &e),
                     0);
    ck_assert_str_eq(c.keys_dir, "  /k \"q\" \\ ");
    ck_assert_str_eq(c.data_dir, "/d#not-a-comment");
    /* An empty file and a file of comments set nothing. */
    ck_assert_int_eq(parse_str("", &c, &e), 0);
    ck_assert_int_eq(parse_str("# only\n\n   \n;x\n", &c, &e), 0);
    ck_assert_int_eq(c.listen_port, 7443);
}
END_TEST

/* A bad file, the line its (first) error must be reported on, and words
 * its reason must contain. */
struct bad_file {
    const char *text;
    unsigned line;
    const char *reason;
};

static const struct bad_file bad_files[] = {
    {"[server]\nlisten\n", 2, "missing '='"},
    {"[server]\n\n# c\nlisten 127.0.0.1:1\n", 4, "missing '='"},
    {"[server]\n= 127.0.0.1:1\n", 2, "missing key"},
    {"[server]\nlis ten = 1\n", 2, "bad key"},
    {"listen = 127.0.0.1:1\n", 1, "outside any [section]"},
    {"[nosuch]\nlisten = 1\n", 1, "unknown section [nosuch]"},
    {"[server\n", 1, "bad section header"},
    {"[]\n", 1, "bad section header"},
    {"[server] x\n", 1, "bad section header"},
    {"[server]\nlissten = 127.0.0.1:1\n", 2, "unknown key 'lissten' in "
                                             "[server]"},
    {"[store]\nlisten = 127.0.0.1:1\n", 2, "unknown key 'listen' in [store]"},
    {"[server]\nlisten = 127.0.0.1:1\n[log]\n[server]\nlisten = "
     "127.0.0.1:2\n",
     5, "duplicate key 'listen' (first set on line 2)"},
    {"[server]\nlisten =\n", 2, "empty value for 'listen'"},
    {"[server]\nlisten = # nothing\n", 2, "empty value"},
    {"[server]\nlisten = \"\"\n", 2, "empty value"},
    {"[server]\nlisten = 127.0.0.1\n", 2, "bad listen address"},
    {"[server]\nlisten = 127.0.0.1:0\n", 2, "bad listen address"},
    {"[server]\nlisten = 127.0.0.1:65536\n", 2, "bad listen address"},
    {"[server]\nlisten = ::1:80\n", 2, "bad listen address"},
    {"[server]\nlisten = :80\n", 2, "bad listen address"},
    {"[server]\ntrust_domain = a/b\n", 2, "bad trust domain"},
    {"[server]\ndiag = maybe\n", 2, "bad boolean 'maybe' for 'diag'"},
    {"[store]\nmap_size = 12Q\n", 2, "bad number '12Q' for 'map_size'"},
    {"[store]\nmap_size = -1\n", 2, "bad number"},
    {"[store]\nmap_size = 0x100000\n", 2, "bad number"},
    {"[store]\nmap_size = 1 G\n", 2, "bad number"},
    {"[store]\nmap_size = 99999999999999999999\n", 2, "bad number"},
    {"[store]\nmap_size = 16777216T\n", 2, "bad number"},
    {"[store]\nmap_size = 1023K\n", 2, "out of range (1048576 to "
                                      "1099511627776)"},
    {"[store]\nmap_size = 2048G\n", 2, "out of range"},
    {"[store]\nmax_document = 5G\n", 2, "out of range"},
    {"[limits]\nmax_message = 1000\n", 2, "value 1000 for 'max_message' out "
                                          "of range (1024 to 1073741824)"},
    {"[limits]\nmax_streams = 0\n", 2, "out of range"},
    {"[limits]\nmax_streams = 10K\n", 2, "bad number '10K'"},
    {"[limits]\nmax_connections = 1000001\n", 2, "out of range"},
    {"[limits]\nhandshake_timeout_ms = 99\n", 2, "out of range"},
    {"[limits]\ndrain_timeout_ms = 3600001\n", 2, "out of range"},
    {"[audit]\nretention_days = 36501\n", 2, "out of range"},
    {"[log]\nlevel = loud\n", 2, "bad log level 'loud'"},
    {"[log]\nlevel = INFO\n", 2, "bad log level"},
    {"[keys]\ndir = \"/k\n", 2, "unterminated quote"},
    {"[keys]\ndir = \"/k\" x\n", 2, "text after the closing quote"},
    {"[keys]\r\ndir = /k\r\n\r\nca = \r\n", 4, "empty value for 'ca'"},
    {"[metrics]\nlisten = 0.0.0.0:9464\n", 2, "not a loopback address"},
    {"[metrics]\nlisten = [::]:9464\n", 2, "not a loopback address"},
    {"[metrics]\nlisten = localhost\n", 2, "bad listen address"},
};

START_TEST(test_config_bad_file)
{
    const struct bad_file *b = &bad_files[_i];
    struct config c;
    struct config_errors e;

    ck_assert_int_eq(parse_str(b->text, &c, &e), ERR_CONFIG);
    ck_assert_msg(e.count >= 1, "case %d: no error", _i);
    ck_assert_msg(e.list[0].line == b->line, "case %d: line %u, want %u (%s)",
                  _i, e.list[0].line, b->line, e.list[0].reason);
    ck_assert_msg(strstr(e.list[0].reason, b->reason) != NULL,
                  "case %d: reason '%s' lacks '%s'", _i, e.list[0].reason,
                  b->reason);
    /* Every reason is given in English and in French. */
    ck_assert_msg(strstr(e.list[0].reason, " / ") != NULL,
                  "case %d: no French half in '%s'", _i, e.list[0].reason);
}
END_TEST

START_TEST(test_config_nul_and_long_lines)
{
    static char text[CONFIG_LINE_MAX + 64];
    struct config c;
    struct config_errors e;
    size_t n;

    memcpy(text, "[keys]\ndir = /a\0b\n", 18);
    ck_assert_int_eq(config_parse(text, 18, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.count, 1);
    ck_assert_uint_eq(e.list[0].line, 2);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "NUL byte"));

    n = (size_t)snprintf(text, sizeof(text), "[keys]\ndir = ");
    memset(text + n, 'a', CONFIG_LINE_MAX);
    n += CONFIG_LINE_MAX;
    config_defaults(&c, NULL);
    ck_assert_int_eq(config_parse(text, n, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.list[0].line, 2);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "line longer than"));

    /* A line that fits but a value longer than the field. */
    n = (size_t)snprintf(text, sizeof(text), "[keys]\ndir = ");
    memset(text + n, 'a', CONFIG_PATH_MAX);
    n += CONFIG_PATH_MAX;
    config_defaults(&c, NULL);
    ck_assert_int_eq(config_parse(text, n, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.list[0].line, 2);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "value too long"));
    ck_assert_str_eq(c.keys_dir, "");
}
END_TEST

/* One parse reports every error, each on its line, and applies none of
 * the values in error. */
START_TEST(test_config_every_error_reported)
{
    static const char text[] = "[server]\n"              /* 1 */
                               "listen = 127.0.0.1:1\n"  /* 2 */
                               "listen = x\n"            /* 3 */
                               "[bogus]\n"               /* 4 */
                               "whatever = 1\n"          /* 5: covered */
                               "[store]\n"               /* 6 */
                               "map_size = big\n"        /* 7 */
                               "noequals\n"              /* 8 */
                               "[log]\n"                 /* 9 */
                               "level = warn\n";         /* 10 */
    static const unsigned want[] = {3, 4, 7, 8};
    struct config c;
    struct config_errors e;

    ck_assert_int_eq(parse_str(text, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.count, 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(e.list[i].line, want[i]);
    ck_assert_int_eq(c.listen_port, 1);
    ck_assert_uint_eq(c.map_size, 1ull << 30);
    ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
}
END_TEST

START_TEST(test_config_error_cap)
{
    static char text[4096];
    struct config c;
    struct config_errors e;
    size_t n = 0;

    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "bad%d\n", i);
    ck_assert_int_eq(parse_str(text, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.count, 40);
    ck_assert_uint_eq(e.list[CONFIG_MAX_ERRORS - 1].line, CONFIG_MAX_ERRORS);
}
END_TEST

START_TEST(test_config_option_set)
{
    struct config c;
    char reason[256];

    config_defaults(&c, NULL);
    ck_assert_int_eq(config_option_set(&c, "listen", "0.0.0.0:9", reason,
                                       sizeof(reason)),
                     0);
    ck_assert_str_eq(c.listen_host, "0.0.0.0");
    ck_assert_int_eq(config_option_set(&c, "diag", NULL, reason,
                                       sizeof(reason)),
                     0);
    ck_assert(c.diag);
    ck_assert_int_eq(config_option_set(&c, "map-size", "3G", reason,
                                       sizeof(reason)),
                     0);
    ck_assert_uint_eq(c.map_size, 3ull << 30);
    ck_assert_int_eq(config_option_set(&c, "max-message", "3", reason,
                                       sizeof(reason)),
                     ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(reason, "out of range"));
    ck_assert_int_eq(config_option_set(&c, "listen", NULL, reason,
                                       sizeof(reason)),
                     ERR_CONFIG);
    ck_assert_int_eq(config_option_set(&c, "nosuch", "1", reason,
                                       sizeof(reason)),
                     ERR_NOTFOUND);
}
END_TEST

START_TEST(test_config_finish)
{
    struct config c;
    char reason[256];

    config_defaults(&c, "cat.tsv");
    ck_assert_int_eq(config_finish(&c, reason, sizeof(reason)), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(reason, "required"));
    strcpy(c.keys_dir, "/k");
    strcpy(c.data_dir, "/d");
    strcpy(c.ca_file, "/other/ca.crt");
    ck_assert_int_eq(config_finish(&c, reason, sizeof(reason)), 0);
    ck_assert_str_eq(c.cert_file, "/k/server.crt");
    ck_assert_str_eq(c.key_file, "/k/server.key");
    ck_assert_str_eq(c.ca_file, "/other/ca.crt");
    ck_assert_str_eq(c.keystore_dir, "/k/keystore");
}
END_TEST

START_TEST(test_config_load)
{
    char dir[128], path[192];
    struct config c;
    struct config_errors e;
    int fd;

    testutil_mkdtemp(dir, sizeof(dir), NULL, "dossier-config");
    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    config_defaults(&c, NULL);
    ck_assert_int_eq(config_load(path, &c, &e), ERR_CONFIG);
    ck_assert_uint_eq(e.count, 1);
    ck_assert_uint_eq(e.list[0].line, 0);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "cannot read"));
    ck_assert_int_eq(config_load(dir, &c, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "not a regular file"));

    snprintf(path, sizeof(path), "%s/ok.conf", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "[log]\nlevel = error\n", 20), 20);
    close(fd);
    ck_assert_int_eq(config_load(path, &c, &e), 0);
    ck_assert_int_eq(c.log_level, LOG_LVL_ERROR);

    /* Larger than 1 MiB: refused whole. */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (1 << 20) + 1), 0);
    close(fd);
    ck_assert_int_eq(config_load(path, &c, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.list[0].reason, "larger than 1 MiB"));
    testutil_rmtree(dir);
}
END_TEST

Suite *
suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_every_option);
    tcase_add_test(tc, test_config_quotes_and_blanks);
    tcase_add_loop_test(tc, test_config_bad_file, 0,
                        sizeof(bad_files) / sizeof(bad_files[0]));
    tcase_add_test(tc, test_config_nul_and_long_lines);
    tcase_add_test(tc, test_config_every_error_reported);
    tcase_add_test(tc, test_config_error_cap);
    tcase_add_test(tc, test_config_option_set);
    tcase_add_test(tc, test_config_finish);
    tcase_add_test(tc, test_config_load);
    suite_add_tcase(s, tc);
    return s;
}
