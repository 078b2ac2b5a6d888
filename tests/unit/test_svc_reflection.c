/*
 * test_svc_reflection.c -- the descriptor index behind server reflection:
 * files, symbols and transitive dependencies, over the set embedded in
 * the daemon and over small hand-made sets (nested types, diamonds,
 * duplicates, malformed input).  The gRPC glue is exercised by the
 * interop tests.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "google/protobuf/descriptor.pb-c.h"

#include "descriptors.h"
#include "err.h"
#include "suites.h"
#include "svc_reflection.h"

/* --- the embedded set ------------------------------------------------- */

static struct refl_index *emb;

static void
emb_setup(void)
{
    ck_assert_int_eq(
        refl_index_new(dossier_descriptors, descriptors_size(), &emb), 0);
}

static void
emb_teardown(void)
{
    refl_index_free(emb);
    emb = NULL;
}

START_TEST(test_embedded_files)
{
    static const char *const want[] = {
        "dossier/v1/common.proto",
        "dossier/v1/persons.proto",
        "dossier/v1/documents.proto",
        "dossier/v1/consents.proto",
        "dossier/v1/events.proto",
        "dossier/v1/audit.proto",
        "dossier/v1/diag.proto",
        "grpc/health/v1/health.proto",
        "grpc/reflection/v1/reflection.proto",
        "grpc/reflection/v1alpha/reflection.proto",
    };

    ck_assert_uint_ge(refl_index_file_count(emb), 10);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int f = refl_index_find_file(emb, want[i]);
        ck_assert_msg(f >= 0, "%s not found", want[i]);
        ck_assert_str_eq(refl_index_file_name(emb, (size_t)f), want[i]);
    }
    ck_assert_int_eq(refl_index_find_file(emb, "dossier/v1/nope.proto"),
                     ERR_NOTFOUND);
    ck_assert_int_eq(refl_index_find_file(emb, ""), ERR_NOTFOUND);
    /* Names are exact: no leading slash, no case folding. */
    ck_assert_int_eq(refl_index_find_file(emb, "/dossier/v1/diag.proto"),
                     ERR_NOTFOUND);
    ck_assert_int_eq(refl_index_find_file(emb, "Dossier/v1/diag.proto"),
                     ERR_NOTFOUND);
}
END_TEST

/* The bytes handed out are a whole FileDescriptorProto of that file. */
START_TEST(test_embedded_bytes)
{
    for (size_t i = 0; i < refl_index_file_count(emb); i++) {
        size_t len;
        const uint8_t *p = refl_index_file_bytes(emb, i, &len);
        Google__Protobuf__FileDescriptorProto *fd;

        ck_assert_ptr_nonnull(p);
        ck_assert_uint_gt(len, 0);
        /* A slice of the embedded set, not a copy. */
        ck_assert(p >= dossier_descriptors &&
                  p + len <= dossier_descriptors_end);
        fd = google__protobuf__file_descriptor_proto__unpack(NULL, len, p);
        ck_assert_ptr_nonnull(fd);
        ck_assert_str_eq(fd->name, refl_index_file_name(emb, i));
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
    }
}
END_TEST

static const struct {
    const char *symbol;
    const char *file;
    enum refl_symbol_kind kind;
} emb_symbols[] = {
    {"dossier.v1.Diag", "dossier/v1/diag.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Diag.Echo", "dossier/v1/diag.proto", REFL_SYM_METHOD},
    {"dossier.v1.Diag.EchoStream", "dossier/v1/diag.proto", REFL_SYM_METHOD},
    {"dossier.v1.EchoRequest", "dossier/v1/diag.proto", REFL_SYM_MESSAGE},
    {".dossier.v1.EchoRequest", "dossier/v1/diag.proto", REFL_SYM_MESSAGE},
    {"dossier.v1.EchoRequest.delay_ms", "dossier/v1/diag.proto",
     REFL_SYM_FIELD},
    {"dossier.v1.Date", "dossier/v1/common.proto", REFL_SYM_MESSAGE},
    {"grpc.health.v1.Health", "grpc/health/v1/health.proto", REFL_SYM_SERVICE},
    {"grpc.health.v1.Health.Watch", "grpc/health/v1/health.proto",
     REFL_SYM_METHOD},
    {"grpc.health.v1.HealthCheckResponse.ServingStatus",
     "grpc/health/v1/health.proto", REFL_SYM_ENUM},
    /* Enum values are siblings of their enum, as in C++. */
    {"grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN",
     "grpc/health/v1/health.proto", REFL_SYM_ENUM_VALUE},
    {"grpc.health.v1", "grpc/health/v1/health.proto", REFL_SYM_PACKAGE},
    {"grpc.reflection.v1.ServerReflection",
     "grpc/reflection/v1/reflection.proto", REFL_SYM_SERVICE},
    {"grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
     "grpc/reflection/v1alpha/reflection.proto", REFL_SYM_METHOD},
    {"grpc.reflection.v1.ServerReflectionRequest.message_request",
     "grpc/reflection/v1/reflection.proto", REFL_SYM_ONEOF},
    {"dossier.v1.Persons", "dossier/v1/persons.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Documents", "dossier/v1/documents.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Consents", "dossier/v1/consents.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Mandates", "dossier/v1/consents.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Events", "dossier/v1/events.proto", REFL_SYM_SERVICE},
    {"dossier.v1.Audit", "dossier/v1/audit.proto", REFL_SYM_SERVICE},
};

START_TEST(test_embedded_symbols)
{
    enum refl_symbol_kind kind = 0;
    int f = refl_index_find_symbol(emb, emb_symbols[_i].symbol, &kind);

    ck_assert_msg(f >= 0, "%s not found", emb_symbols[_i].symbol);
    ck_assert_str_eq(refl_index_file_name(emb, (size_t)f),
                     emb_symbols[_i].file);
    ck_assert_int_eq(kind, emb_symbols[_i].kind);
}
END_TEST

START_TEST(test_embedded_unknown_symbols)
{
    static const char *const bad[] = {
        "",
        ".",
        "dossier.v1.Nope",
        "dossier.v1.Diag.Nope",
        "dossier.v1.Diag.Echo.x",
        "Dossier.v1.Diag",
        "dossier.v1.Diag.",
        "dossier.v1.EchoRequest.ServingStatus", /* right name, wrong scope */
        "dossier.v1.diag",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(refl_index_find_symbol(emb, bad[i], NULL) == ERR_NOTFOUND,
                      "'%s' found", bad[i]);
}
END_TEST

START_TEST(test_embedded_closure)
{
    size_t n, *out = calloc(refl_index_file_count(emb), sizeof(*out));
    int docs = refl_index_find_file(emb, "dossier/v1/documents.proto");
    int common = refl_index_find_file(emb, "dossier/v1/common.proto");
    int diag = refl_index_find_file(emb, "dossier/v1/diag.proto");

    ck_assert_ptr_nonnull(out);
    ck_assert_int_ge(docs, 0);
    ck_assert_int_ge(common, 0);
    n = refl_index_closure(emb, (size_t)docs, out);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(out[0], (size_t)docs); /* the file first */
    ck_assert_uint_eq(out[1], (size_t)common);
    /* diag.proto imports nothing. */
    n = refl_index_closure(emb, (size_t)diag, out);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(out[0], (size_t)diag);
    free(out);
}
END_TEST

START_TEST(test_embedded_services)
{
    static const char *const want[] = {
        "dossier.v1.Persons",
        "dossier.v1.Documents",
        "dossier.v1.Consents",
        "dossier.v1.Mandates",
        "dossier.v1.Events",
        "dossier.v1.Audit",
        "dossier.v1.Diag",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    };
    size_t ns = refl_index_service_count(emb);

    ck_assert_uint_eq(ns, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t j;
        for (j = 0; j < ns; j++)
            if (strcmp(refl_index_service(emb, j)->name, want[i]) == 0)
                break;
        ck_assert_msg(j < ns, "service %s missing", want[i]);
        if (strcmp(want[i], "dossier.v1.Diag") == 0) {
            const struct refl_service *s = refl_index_service(emb, j);
            ck_assert_uint_eq(s->n_methods, 4);
            ck_assert_str_eq(s->methods[0], "Echo");
            ck_assert_str_eq(s->methods[3], "EchoStream");
            ck_assert_str_eq(refl_index_file_name(emb, s->file),
                             "dossier/v1/diag.proto");
        }
    }
}
END_TEST

/* The process-wide index is built once and then shared. */
START_TEST(test_embedded_singleton)
{
    const struct refl_index *a = refl_index_embedded();

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(refl_index_embedded(), a);
    ck_assert_int_ge(refl_index_find_symbol(a, "dossier.v1.Diag", NULL), 0);
}
END_TEST

/* --- hand-made sets ----------------------------------------------------- */

/*
 * Packs a FileDescriptorSet of |n| files.  Each file is given by its name,
 * its package, a NULL-terminated list of dependencies and, optionally, one
 * top-level message |msg| with a nested message "Inner" holding a nested
 * enum "Kind" { K0 }.
 */
struct tfile {
    const char *name;
    const char *package;
    const char *deps[4];
    const char *msg;
};

static uint8_t *
pack_set(const struct tfile *tf, size_t n, size_t *len)
{
    Google__Protobuf__FileDescriptorSet set =
        GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    Google__Protobuf__FileDescriptorProto fds[8], *fdp[8];
    Google__Protobuf__DescriptorProto outer[8], inner[8], *outerp[8],
        *innerp[8];
    Google__Protobuf__EnumDescriptorProto en[8], *enp[8];
    Google__Protobuf__EnumValueDescriptorProto ev[8], *evp[8];
    uint8_t *buf;

    ck_assert_uint_le(n, 8);
    for (size_t i = 0; i < n; i++) {
        size_t nd = 0;

        google__protobuf__file_descriptor_proto__init(&fds[i]);
        fds[i].name = (char *)tf[i].name;
        fds[i].package = (char *)tf[i].package;
        while (nd < 4 && tf[i].deps[nd] != NULL)
            nd++;
        fds[i].n_dependency = nd;
        fds[i].dependency = (char **)tf[i].deps;
        if (tf[i].msg != NULL) {
            google__protobuf__enum_value_descriptor_proto__init(&ev[i]);
            ev[i].name = "K0";
            ev[i].has_number = 1;
            evp[i] = &ev[i];
            google__protobuf__enum_descriptor_proto__init(&en[i]);
            en[i].name = "Kind";
            en[i].n_value = 1;
            en[i].value = &evp[i];
            enp[i] = &en[i];
            google__protobuf__descriptor_proto__init(&inner[i]);
            inner[i].name = "Inner";
            inner[i].n_enum_type = 1;
            inner[i].enum_type = &enp[i];
            innerp[i] = &inner[i];
            google__protobuf__descriptor_proto__init(&outer[i]);
            outer[i].name = (char *)tf[i].msg;
            outer[i].n_nested_type = 1;
            outer[i].nested_type = &innerp[i];
            outerp[i] = &outer[i];
            fds[i].n_message_type = 1;
            fds[i].message_type = &outerp[i];
        }
        fdp[i] = &fds[i];
    }
    set.n_file = n;
    set.file = fdp;
    *len = google__protobuf__file_descriptor_set__get_packed_size(&set);
    buf = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(buf);
    google__protobuf__file_descriptor_set__pack(&set, buf);
    return buf;
}

/* A diamond: a -> b, a -> c, b -> c, c -> d.  Depth first from a gives
 * a b c d, each once. */
START_TEST(test_closure_diamond)
{
    static const struct tfile tf[] = {
        {"d.proto", "t", {NULL}, NULL},
        {"c.proto", "t", {"d.proto", NULL}, NULL},
        {"b.proto", "t", {"c.proto", NULL}, NULL},
        {"a.proto", "t", {"b.proto", "c.proto", NULL}, "A"},
    };
    struct refl_index *idx;
    size_t len, n, out[4];
    uint8_t *set = pack_set(tf, 4, &len);

    ck_assert_int_eq(refl_index_new(set, len, &idx), 0);
    ck_assert_uint_eq(refl_index_file_count(idx), 4);
    n = refl_index_closure(idx, 3, out);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(refl_index_file_name(idx, out[0]), "a.proto");
    ck_assert_str_eq(refl_index_file_name(idx, out[1]), "b.proto");
    ck_assert_str_eq(refl_index_file_name(idx, out[2]), "c.proto");
    ck_assert_str_eq(refl_index_file_name(idx, out[3]), "d.proto");
    n = refl_index_closure(idx, 1, out);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(refl_index_file_name(idx, out[0]), "c.proto");
    ck_assert_str_eq(refl_index_file_name(idx, out[1]), "d.proto");
    refl_index_free(idx);
    free(set);
}
END_TEST

/* Nested messages and enums get their full scope; packages and their
 * parents are symbols; a dependency outside the set is ignored. */
START_TEST(test_nested_symbols)
{
    static const struct tfile tf[] = {
        {"x.proto", "org.ex.v2", {"missing.proto", NULL}, "Outer"},
    };
    struct refl_index *idx;
    enum refl_symbol_kind kind;
    size_t len, out[1];
    uint8_t *set = pack_set(tf, 1, &len);

    ck_assert_int_eq(refl_index_new(set, len, &idx), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org.ex.v2.Outer", &kind), 0);
    ck_assert_int_eq(kind, REFL_SYM_MESSAGE);
    ck_assert_int_eq(
        refl_index_find_symbol(idx, "org.ex.v2.Outer.Inner", &kind), 0);
    ck_assert_int_eq(kind, REFL_SYM_MESSAGE);
    ck_assert_int_eq(
        refl_index_find_symbol(idx, "org.ex.v2.Outer.Inner.Kind", &kind), 0);
    ck_assert_int_eq(kind, REFL_SYM_ENUM);
    ck_assert_int_eq(
        refl_index_find_symbol(idx, "org.ex.v2.Outer.Inner.K0", &kind), 0);
    ck_assert_int_eq(kind, REFL_SYM_ENUM_VALUE);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org", &kind), 0);
    ck_assert_int_eq(kind, REFL_SYM_PACKAGE);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org.ex", &kind), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org.ex.v2", &kind), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org.ex.v", NULL),
                     ERR_NOTFOUND);
    ck_assert_int_eq(refl_index_find_symbol(idx, "Outer", NULL), ERR_NOTFOUND);
    ck_assert_int_eq(refl_index_find_symbol(idx, "org.ex.v2.Inner", NULL),
                     ERR_NOTFOUND);
    ck_assert_uint_eq(refl_index_closure(idx, 0, out), 1);
    ck_assert_uint_eq(refl_index_service_count(idx), 0);
    refl_index_free(idx);
    free(set);
}
END_TEST

/* Two files defining the same symbol: the first one wins. */
START_TEST(test_duplicate_symbol_first_wins)
{
    static const struct tfile tf[] = {
        {"one.proto", "p", {NULL}, "M"},
        {"two.proto", "p", {NULL}, "M"},
    };
    struct refl_index *idx;
    size_t len;
    uint8_t *set = pack_set(tf, 2, &len);

    ck_assert_int_eq(refl_index_new(set, len, &idx), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "p.M", NULL), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "p.M.Inner", NULL), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "p", NULL), 0);
    refl_index_free(idx);
    free(set);
}
END_TEST

START_TEST(test_empty_set)
{
    struct refl_index *idx;

    ck_assert_int_eq(refl_index_new((const uint8_t *)"", 0, &idx), 0);
    ck_assert_uint_eq(refl_index_file_count(idx), 0);
    ck_assert_uint_eq(refl_index_service_count(idx), 0);
    ck_assert_int_eq(refl_index_find_symbol(idx, "a", NULL), ERR_NOTFOUND);
    ck_assert_int_eq(refl_index_find_file(idx, "a"), ERR_NOTFOUND);
    refl_index_free(idx);
    refl_index_free(NULL);
}
END_TEST

START_TEST(test_duplicate_file_name)
{
    static const struct tfile tf[] = {
        {"same.proto", "p", {NULL}, NULL},
        {"same.proto", "q", {NULL}, NULL},
    };
    struct refl_index *idx = (struct refl_index *)&idx;
    size_t len;
    uint8_t *set = pack_set(tf, 2, &len);

    ck_assert_int_eq(refl_index_new(set, len, &idx), ERR_INVALID);
    ck_assert_ptr_eq(idx, (struct refl_index *)&idx); /* untouched */
    free(set);
}
END_TEST

/* Every proper prefix of a valid set, and a few broken ones, are refused
 * without a crash (or accepted when the cut falls between two files). */
START_TEST(test_malformed)
{
    static const uint8_t bad[][8] = {
        {0x0a, 0x05, 0x0a, 0x01}, /* length past the end */
        {0x0a},                   /* no length */
        {0x0b, 0x00},             /* a group */
        {0x0f, 0x00},             /* wire type 7 */
        {0x0a, 0x02, 0xff, 0xff}, /* a file that does not parse */
        {0x0a, 0x00},             /* a file without a name */
        {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* huge varint */
    };
    static const size_t bad_len[] = {4, 1, 2, 2, 4, 2, 8};
    struct refl_index *idx;
    size_t len = descriptors_size();

    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
        ck_assert_msg(refl_index_new(bad[i], bad_len[i], &idx) == ERR_INVALID,
                      "bad set %zu accepted", i);
    for (size_t cut = 1; cut < len; cut += 97) {
        int rc = refl_index_new(dossier_descriptors, cut, &idx);
        ck_assert(rc == 0 || rc == ERR_INVALID);
        if (rc == 0)
            refl_index_free(idx);
    }
}
END_TEST

Suite *
suite_svc_reflection(void)
{
    Suite *s = suite_create("svc_reflection");
    TCase *tc = tcase_create("embedded");

    tcase_add_checked_fixture(tc, emb_setup, emb_teardown);
    tcase_add_test(tc, test_embedded_files);
    tcase_add_test(tc, test_embedded_bytes);
    tcase_add_loop_test(tc, test_embedded_symbols, 0,
                        sizeof(emb_symbols) / sizeof(emb_symbols[0]));
    tcase_add_test(tc, test_embedded_unknown_symbols);
    tcase_add_test(tc, test_embedded_closure);
    tcase_add_test(tc, test_embedded_services);
    tcase_add_test(tc, test_embedded_singleton);
    suite_add_tcase(s, tc);

    tc = tcase_create("index");
    tcase_add_test(tc, test_closure_diamond);
    tcase_add_test(tc, test_nested_symbols);
    tcase_add_test(tc, test_duplicate_symbol_first_wins);
    tcase_add_test(tc, test_empty_set);
    tcase_add_test(tc, test_duplicate_file_name);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}
