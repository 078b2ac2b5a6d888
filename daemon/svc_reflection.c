/*
 * svc_reflection.c -- gRPC server reflection over the embedded descriptor
 * set.
 *
 * The index is built once: the FileDescriptorSet is walked at the wire
 * level so that each file's FileDescriptorProto is kept as the exact slice
 * of bytes protoc wrote (nothing is re-packed, so what a client receives
 * is what protoc produced), and each file is unpacked once with
 * protobuf-c to collect its name, its dependencies and the symbols it
 * defines.  Queries are then a binary search (symbols) or a short linear
 * scan (a dozen files).
 *
 * The stream handler answers each request as it arrives and keeps no
 * state between requests.  grpc.reflection.v1 and v1alpha have the same
 * messages with the same field numbers, so both paths are served by one
 * handler that unpacks and packs with the v1 generated descriptors: the
 * bytes on the wire are identical either way.
 *
 * What it deliberately does not do: resolve type names inside the files
 * (clients do that from the files they get), serve extensions (we define
 * none), or hide the files of a disabled service (only list_services
 * filters; the files are public knowledge anyway).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

#include "call.h"
#include "descriptors.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "svc_reflection.h"

struct refl_file {
    char *name;
    const uint8_t *data; /* slice of the set */
    size_t len;
    size_t n_deps;
    size_t *deps; /* file numbers */
};

struct refl_sym {
    char *name;
    size_t file;
    size_t seq; /* insertion order, so that the first definition wins */
    enum refl_symbol_kind kind;
};

struct refl_index {
    struct refl_file *files;
    size_t n_files;
    struct refl_sym *syms; /* sorted by name once built */
    size_t n_syms, cap_syms;
    struct refl_service *services;
    size_t n_services, cap_services;
};

/* --- wire-level walk of the FileDescriptorSet ------------------------- */

/* Reads a varint at |*p| (before |end|).  Returns 0 or ERR_INVALID. */
static int
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return ERR_INVALID;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return ERR_INVALID;
}

/*
 * Calls |fn| for each field 1 (repeated FileDescriptorProto file) of the
 * set, with the bytes of that file; skips any other field.  Returns 0,
 * ERR_INVALID, or the first non-zero code of |fn|.
 */
typedef int file_slice_fn(void *arg, const uint8_t *data, size_t len);

static int
wire_each_file(const uint8_t *set, size_t len, file_slice_fn *fn, void *arg)
{
    const uint8_t *p = set, *end = set + len;

    while (p < end) {
        uint64_t key, v;
        int rc;

        if ((rc = wire_varint(&p, end, &key)) != 0)
            return rc;
        switch (key & 7) {
        case 0: /* varint */
            if ((rc = wire_varint(&p, end, &v)) != 0)
                return rc;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return ERR_INVALID;
            p += 8;
            break;
        case 2: /* length-delimited */
            if ((rc = wire_varint(&p, end, &v)) != 0)
                return rc;
            if (v > (uint64_t)(end - p))
                return ERR_INVALID;
            if (key >> 3 == 1 && (rc = fn(arg, p, (size_t)v)) != 0)
                return rc;
            p += v;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return ERR_INVALID;
            p += 4;
            break;
        default: /* groups (3, 4) and invalid wire types */
            return ERR_INVALID;
        }
    }
    return 0;
}

/* --- building the index ----------------------------------------------- */

/* |scope| "." |name|, or |name| alone when |scope| is empty. */
static char *
qualify(const char *scope, const char *name)
{
    size_t sl = strlen(scope), nl = strlen(name);
    char *s = malloc(sl + 1 + nl + 1);

    if (s == NULL)
        return NULL;
    if (sl == 0) {
        memcpy(s, name, nl + 1);
    } else {
        memcpy(s, scope, sl);
        s[sl] = '.';
        memcpy(s + sl + 1, name, nl + 1);
    }
    return s;
}

/* Adds symbol |name| (ownership taken, even on failure). */
static int
sym_add_owned(struct refl_index *idx, char *name, size_t file,
              enum refl_symbol_kind kind)
{
    if (name == NULL)
        return -ENOMEM;
    if (idx->n_syms == idx->cap_syms) {
        size_t cap = idx->cap_syms ? idx->cap_syms * 2 : 256;
        struct refl_sym *n = realloc(idx->syms, cap * sizeof(*n));
        if (n == NULL) {
            free(name);
            return -ENOMEM;
        }
        idx->syms = n;
        idx->cap_syms = cap;
    }
    idx->syms[idx->n_syms] = (struct refl_sym){
        .name = name, .file = file, .seq = idx->n_syms, .kind = kind};
    idx->n_syms++;
    return 0;
}

static int
sym_add(struct refl_index *idx, const char *scope, const char *name,
        size_t file, enum refl_symbol_kind kind)
{
    if (name == NULL || *name == '\0')
        return ERR_INVALID;
    return sym_add_owned(idx, qualify(scope, name), file, kind);
}

/* An enum and its values; the values live in the enum's parent scope. */
static int
index_enum(struct refl_index *idx, const char *scope, size_t file,
           const Google__Protobuf__EnumDescriptorProto *e)
{
    int rc;

    if ((rc = sym_add(idx, scope, e->name, file, REFL_SYM_ENUM)) != 0)
        return rc;
    for (size_t i = 0; i < e->n_value; i++)
        if ((rc = sym_add(idx, scope, e->value[i]->name, file,
                          REFL_SYM_ENUM_VALUE)) != 0)
            return rc;
    return 0;
}

static int
index_message(struct refl_index *idx, const char *scope, size_t file,
              const Google__Protobuf__DescriptorProto *m)
{
    char *full;
    int rc;
    size_t i;

    if (m->name == NULL || *m->name == '\0')
        return ERR_INVALID;
    if ((full = qualify(scope, m->name)) == NULL)
        return -ENOMEM;
    if ((rc = sym_add(idx, scope, m->name, file, REFL_SYM_MESSAGE)) != 0)
        goto out;
    for (i = 0; i < m->n_field; i++)
        if ((rc = sym_add(idx, full, m->field[i]->name, file,
                          REFL_SYM_FIELD)) != 0)
            goto out;
    for (i = 0; i < m->n_oneof_decl; i++)
        if ((rc = sym_add(idx, full, m->oneof_decl[i]->name, file,
                          REFL_SYM_ONEOF)) != 0)
            goto out;
    for (i = 0; i < m->n_extension; i++)
        if ((rc = sym_add(idx, full, m->extension[i]->name, file,
                          REFL_SYM_EXTENSION)) != 0)
            goto out;
    for (i = 0; i < m->n_enum_type; i++)
        if ((rc = index_enum(idx, full, file, m->enum_type[i])) != 0)
            goto out;
    for (i = 0; i < m->n_nested_type; i++)
        if ((rc = index_message(idx, full, file, m->nested_type[i])) != 0)
            goto out;
out:
    free(full);
    return rc;
}

static int
index_service(struct refl_index *idx, const char *pkg, size_t file,
              const Google__Protobuf__ServiceDescriptorProto *sd)
{
    struct refl_service *svc;
    char *full = NULL;
    int rc;

    if (sd->name == NULL || *sd->name == '\0')
        return ERR_INVALID;
    if (idx->n_services == idx->cap_services) {
        size_t cap = idx->cap_services ? idx->cap_services * 2 : 16;
        struct refl_service *n = realloc(idx->services, cap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        idx->services = n;
        idx->cap_services = cap;
    }
    svc = &idx->services[idx->n_services];
    memset(svc, 0, sizeof(*svc));
    if ((full = qualify(pkg, sd->name)) == NULL)
        return -ENOMEM;
    if ((rc = sym_add(idx, pkg, sd->name, file, REFL_SYM_SERVICE)) != 0)
        goto fail;
    svc->methods =
        calloc(sd->n_method ? sd->n_method : 1, sizeof(*svc->methods));
    if (svc->methods == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    /* Counted in as soon as it owns something, so that refl_index_free()
     * releases what it holds if a later step fails. */
    svc->name = full;
    svc->file = file;
    idx->n_services++;
    for (size_t i = 0; i < sd->n_method; i++) {
        const char *mname = sd->method[i]->name;
        if ((rc = sym_add(idx, full, mname, file, REFL_SYM_METHOD)) != 0)
            return rc;
        if ((svc->methods[i] = strdup(mname)) == NULL)
            return -ENOMEM;
        svc->n_methods++;
    }
    return 0;
fail:
    free(full);
    return rc;
}

/* The package and each of its parents ("dossier", "dossier.v1"). */
static int
index_package(struct refl_index *idx, const char *pkg, size_t file)
{
    for (const char *dot = pkg;; dot++) {
        dot = strchr(dot, '.');
        size_t n = dot ? (size_t)(dot - pkg) : strlen(pkg);
        int rc = sym_add_owned(idx, strndup(pkg, n), file, REFL_SYM_PACKAGE);
        if (rc != 0)
            return rc;
        if (dot == NULL)
            return 0;
    }
}

static int
index_file(struct refl_index *idx, size_t file,
           const Google__Protobuf__FileDescriptorProto *fd)
{
    const char *pkg = fd->package ? fd->package : "";
    size_t i;
    int rc;

    if (*pkg != '\0' && (rc = index_package(idx, pkg, file)) != 0)
        return rc;
    for (i = 0; i < fd->n_message_type; i++)
        if ((rc = index_message(idx, pkg, file, fd->message_type[i])) != 0)
            return rc;
    for (i = 0; i < fd->n_enum_type; i++)
        if ((rc = index_enum(idx, pkg, file, fd->enum_type[i])) != 0)
            return rc;
    for (i = 0; i < fd->n_extension; i++)
        if ((rc = sym_add(idx, pkg, fd->extension[i]->name, file,
                          REFL_SYM_EXTENSION)) != 0)
            return rc;
    for (i = 0; i < fd->n_service; i++)
        if ((rc = index_service(idx, pkg, file, fd->service[i])) != 0)
            return rc;
    return 0;
}

/* State of the build: the unpacked files are kept until every file is
 * known, to resolve dependencies by name. */
struct build {
    struct refl_index *idx;
    Google__Protobuf__FileDescriptorProto **fds;
    size_t cap;
};

static int
build_file(void *arg, const uint8_t *data, size_t len)
{
    struct build *b = arg;
    struct refl_index *idx = b->idx;
    Google__Protobuf__FileDescriptorProto *fd;
    size_t n = idx->n_files;

    if (n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        void *f = realloc(idx->files, cap * sizeof(*idx->files));
        if (f == NULL)
            return -ENOMEM;
        idx->files = f;
        void *d = realloc(b->fds, cap * sizeof(*b->fds));
        if (d == NULL)
            return -ENOMEM;
        b->fds = d;
        b->cap = cap;
    }
    fd = google__protobuf__file_descriptor_proto__unpack(NULL, len, data);
    if (fd == NULL)
        return ERR_INVALID; /* or out of memory: protobuf-c cannot tell */
    if (fd->name == NULL || *fd->name == '\0' ||
        refl_index_find_file(idx, fd->name) >= 0) {
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
        return ERR_INVALID;
    }
    memset(&idx->files[n], 0, sizeof(idx->files[n]));
    if ((idx->files[n].name = strdup(fd->name)) == NULL) {
        google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
        return -ENOMEM;
    }
    idx->files[n].data = data;
    idx->files[n].len = len;
    b->fds[n] = fd;
    idx->n_files++;
    return index_file(idx, n, fd);
}

static int
build_deps(struct refl_index *idx, size_t file,
           const Google__Protobuf__FileDescriptorProto *fd)
{
    struct refl_file *f = &idx->files[file];

    f->deps = calloc(fd->n_dependency ? fd->n_dependency : 1, sizeof(*f->deps));
    if (f->deps == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < fd->n_dependency; i++) {
        int d = refl_index_find_file(idx, fd->dependency[i]);
        if (d >= 0)
            f->deps[f->n_deps++] = (size_t)d;
    }
    return 0;
}

static int
sym_cmp(const void *a, const void *b)
{
    const struct refl_sym *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the symbols and drops the later definitions of a name. */
static void
syms_finish(struct refl_index *idx)
{
    size_t out = 0;

    if (idx->n_syms == 0)
        return;
    qsort(idx->syms, idx->n_syms, sizeof(*idx->syms), sym_cmp);
    for (size_t i = 0; i < idx->n_syms; i++) {
        if (out > 0 &&
            strcmp(idx->syms[out - 1].name, idx->syms[i].name) == 0) {
            free(idx->syms[i].name);
            continue;
        }
        idx->syms[out++] = idx->syms[i];
    }
    idx->n_syms = out;
}

int
refl_index_new(const uint8_t *set, size_t len, struct refl_index **out)
{
    struct build b = {0};
    int rc;

    if ((b.idx = calloc(1, sizeof(*b.idx))) == NULL)
        return -ENOMEM;
    if ((rc = wire_each_file(set, len, build_file, &b)) != 0)
        goto fail;
    for (size_t i = 0; i < b.idx->n_files; i++)
        if ((rc = build_deps(b.idx, i, b.fds[i])) != 0)
            goto fail;
    syms_finish(b.idx);
    for (size_t i = 0; i < b.idx->n_files; i++)
        google__protobuf__file_descriptor_proto__free_unpacked(b.fds[i], NULL);
    free(b.fds);
    *out = b.idx;
    return 0;
fail:
    for (size_t i = 0; i < b.idx->n_files; i++)
        google__protobuf__file_descriptor_proto__free_unpacked(b.fds[i], NULL);
    free(b.fds);
    refl_index_free(b.idx);
    return rc;
}

void
refl_index_free(struct refl_index *idx)
{
    size_t i, j;

    if (idx == NULL)
        return;
    for (i = 0; i < idx->n_files; i++) {
        free(idx->files[i].name);
        free(idx->files[i].deps);
    }
    free(idx->files);
    for (i = 0; i < idx->n_syms; i++)
        free(idx->syms[i].name);
    free(idx->syms);
    for (i = 0; i < idx->n_services; i++) {
        for (j = 0; j < idx->services[i].n_methods; j++)
            free((char *)idx->services[i].methods[j]);
        free(idx->services[i].methods);
        free((char *)idx->services[i].name);
    }
    free(idx->services);
    free(idx);
}

/* --- queries ------------------------------------------------------------ */

size_t
refl_index_file_count(const struct refl_index *idx)
{
    return idx->n_files;
}

const char *
refl_index_file_name(const struct refl_index *idx, size_t file)
{
    return idx->files[file].name;
}

const uint8_t *
refl_index_file_bytes(const struct refl_index *idx, size_t file, size_t *len)
{
    *len = idx->files[file].len;
    return idx->files[file].data;
}

int
refl_index_find_file(const struct refl_index *idx, const char *name)
{
    for (size_t i = 0; i < idx->n_files; i++)
        if (strcmp(idx->files[i].name, name) == 0)
            return (int)i;
    return ERR_NOTFOUND;
}

int
refl_index_find_symbol(const struct refl_index *idx, const char *symbol,
                       enum refl_symbol_kind *kind)
{
    size_t lo = 0, hi = idx->n_syms;

    if (*symbol == '.')
        symbol++;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(symbol, idx->syms[mid].name);
        if (c == 0) {
            if (kind != NULL)
                *kind = idx->syms[mid].kind;
            return (int)idx->syms[mid].file;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return ERR_NOTFOUND;
}

static void
closure_visit(const struct refl_index *idx, size_t file, size_t *out, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (out[i] == file)
            return;
    out[(*n)++] = file;
    for (size_t i = 0; i < idx->files[file].n_deps; i++)
        closure_visit(idx, idx->files[file].deps[i], out, n);
}

size_t
refl_index_closure(const struct refl_index *idx, size_t file, size_t *out)
{
    size_t n = 0;

    /* Depth first, pre-order: the recursion is at most as deep as the
     * number of files, and the "seen" test keeps it finite even if a
     * malformed set had a cycle. */
    closure_visit(idx, file, out, &n);
    return n;
}

size_t
refl_index_service_count(const struct refl_index *idx)
{
    return idx->n_services;
}

const struct refl_service *
refl_index_service(const struct refl_index *idx, size_t i)
{
    return &idx->services[i];
}

const struct refl_index *
refl_index_embedded(void)
{
    static struct refl_index *embedded;
    static int failed;
    int rc;

    if (embedded != NULL || failed)
        return embedded;
    rc = refl_index_new(dossier_descriptors, descriptors_size(), &embedded);
    if (rc != 0) {
        log_warnx("embedded descriptor set unusable: %s", err_str(rc));
        failed = rc;
        return NULL;
    }
    return embedded;
}

bool
svc_reflection_served(const struct server *s, const struct refl_service *svc)
{
    return server_service_enabled(s, svc->name);
}

/* --- the gRPC stream ---------------------------------------------------- */

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_request;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_response;

/* The oneof cases, shortened. */
#define REQ_CASE(x)                                                            \
    GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x
#define RESP_CASE(x)                                                           \
    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x

static int
send_error(struct call *c, refl_response *resp, int code, const char *msg)
{
    Grpc__Reflection__V1__ErrorResponse er =
        GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;

    er.error_code = code;
    er.error_message = (char *)msg;
    resp->message_response_case = RESP_CASE(ERROR_RESPONSE);
    resp->error_response = &er;
    return call_send_msg(c, &resp->base);
}

/* Sends file |file| and everything it needs. */
static int
send_files(struct call *c, const struct refl_index *idx, refl_response *resp,
           size_t file)
{
    Grpc__Reflection__V1__FileDescriptorResponse fr =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    size_t nf = refl_index_file_count(idx), n;
    size_t *order = malloc(nf * sizeof(*order));
    ProtobufCBinaryData *bin = malloc(nf * sizeof(*bin));
    int rc;

    if (order == NULL || bin == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    n = refl_index_closure(idx, file, order);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = refl_index_file_bytes(idx, order[i], &bin[i].len);
        /* protobuf-c wants a mutable pointer; it only reads it to pack. */
        bin[i].data = (uint8_t *)data;
    }
    fr.n_file_descriptor_proto = n;
    fr.file_descriptor_proto = bin;
    resp->message_response_case = RESP_CASE(FILE_DESCRIPTOR_RESPONSE);
    resp->file_descriptor_response = &fr;
    rc = call_send_msg(c, &resp->base);
out:
    free(bin);
    free(order);
    return rc;
}

static int
send_services(struct call *c, const struct refl_index *idx, refl_response *resp)
{
    Grpc__Reflection__V1__ListServiceResponse lr =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    size_t ns = refl_index_service_count(idx);
    Grpc__Reflection__V1__ServiceResponse *svcs =
        calloc(ns ? ns : 1, sizeof(*svcs));
    Grpc__Reflection__V1__ServiceResponse **ptrs =
        calloc(ns ? ns : 1, sizeof(*ptrs));
    struct server *s = call_server(c);
    int rc;

    if (svcs == NULL || ptrs == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ns; i++) {
        const struct refl_service *svc = refl_index_service(idx, i);
        if (!svc_reflection_served(s, svc))
            continue;
        grpc__reflection__v1__service_response__init(&svcs[lr.n_service]);
        svcs[lr.n_service].name = (char *)svc->name;
        ptrs[lr.n_service] = &svcs[lr.n_service];
        lr.n_service++;
    }
    lr.service = ptrs;
    resp->message_response_case = RESP_CASE(LIST_SERVICES_RESPONSE);
    resp->list_services_response = &lr;
    rc = call_send_msg(c, &resp->base);
out:
    free(ptrs);
    free(svcs);
    return rc;
}

static int
answer(struct call *c, const struct refl_index *idx, refl_request *req)
{
    refl_response resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__ExtensionNumberResponse xr =
        GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    enum refl_symbol_kind kind;
    char msg[256];
    int f;

    resp.valid_host = req->host;
    resp.original_request = req;

    switch (req->message_request_case) {
    case REQ_CASE(LIST_SERVICES):
        return send_services(c, idx, &resp);

    case REQ_CASE(FILE_BY_FILENAME):
        if ((f = refl_index_find_file(idx, req->file_by_filename)) < 0) {
            snprintf(msg, sizeof(msg), "file not found: %.200s",
                     req->file_by_filename);
            return send_error(c, &resp, RPC_NOT_FOUND, msg);
        }
        return send_files(c, idx, &resp, (size_t)f);

    case REQ_CASE(FILE_CONTAINING_SYMBOL):
        f = refl_index_find_symbol(idx, req->file_containing_symbol, NULL);
        if (f < 0) {
            snprintf(msg, sizeof(msg), "symbol not found: %.200s",
                     req->file_containing_symbol);
            return send_error(c, &resp, RPC_NOT_FOUND, msg);
        }
        return send_files(c, idx, &resp, (size_t)f);

    case REQ_CASE(FILE_CONTAINING_EXTENSION):
        snprintf(msg, sizeof(msg), "extension not found: %.200s %d",
                 req->file_containing_extension &&
                         req->file_containing_extension->containing_type
                     ? req->file_containing_extension->containing_type
                     : "",
                 req->file_containing_extension
                     ? req->file_containing_extension->extension_number
                     : 0);
        return send_error(c, &resp, RPC_NOT_FOUND, msg);

    case REQ_CASE(ALL_EXTENSION_NUMBERS_OF_TYPE):
        f = refl_index_find_symbol(idx, req->all_extension_numbers_of_type,
                                   &kind);
        if (f < 0 || kind != REFL_SYM_MESSAGE) {
            snprintf(msg, sizeof(msg), "message type not found: %.200s",
                     req->all_extension_numbers_of_type);
            return send_error(c, &resp, RPC_NOT_FOUND, msg);
        }
        /* A known message: we define no extensions, so the list is empty. */
        xr.base_type_name = req->all_extension_numbers_of_type;
        if (*xr.base_type_name == '.')
            xr.base_type_name++;
        resp.message_response_case = RESP_CASE(ALL_EXTENSION_NUMBERS_RESPONSE);
        resp.all_extension_numbers_response = &xr;
        return call_send_msg(c, &resp.base);

    default:
        /* No query, or one newer than this server knows (an unknown
         * field): the C++ server answers UNIMPLEMENTED and goes on. */
        return send_error(c, &resp, RPC_UNIMPLEMENTED,
                          "reflection request names no query this server "
                          "supports");
    }
}

static void
refl_on_message(struct call *c, const uint8_t *msg, size_t len)
{
    const struct refl_index *idx = refl_index_embedded();
    refl_request *req;
    int rc;

    if (call_is_done(c))
        return;
    if (idx == NULL) {
        call_finish(c, RPC_INTERNAL, "reflection data unavailable");
        return;
    }
    req =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ServerReflectionRequest does not parse");
        return;
    }
    rc = answer(c, idx, req);
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
    if (rc != 0 && rc != -ECANCELED) {
        log_warnx("reflection answer failed: %s", err_str(rc));
        call_fail(c, rc, "reflection answer failed: %s", err_str(rc));
    }
}

static void
refl_on_half_close(struct call *c)
{
    if (!call_is_done(c))
        call_finish(c, RPC_OK, NULL);
}

static const struct method refl_v1 = {
    .path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    .kind = CALL_BIDI,
    .audit = CALL_AUDIT_NONE, /* no dossier data */
    .on_message = refl_on_message,
    .on_half_close = refl_on_half_close,
};

static const struct method refl_v1alpha = {
    .path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    .kind = CALL_BIDI,
    .audit = CALL_AUDIT_NONE, /* no dossier data */
    .on_message = refl_on_message,
    .on_half_close = refl_on_half_close,
};

int
svc_reflection_register(struct server *s)
{
    int rc;

    if (refl_index_embedded() == NULL)
        return ERR_INVALID;
    if ((rc = server_register(s, &refl_v1)) != 0)
        return rc;
    return server_register(s, &refl_v1alpha);
}
