/*
 * driver.c -- an in-process dossierd for fuzzers and fault loops (see
 * driver.h).
 *
 * Also the stand-in for conn.c: h2.c and call.c only ask a connection for
 * its principal and to be woken when output is ready, and server.c only
 * walks the list of connections (empty here, since nothing is accepted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "audit.h"
#include "buf.h"
#include "catalog.h"
#include "conn.h"
#include "driver.h"
#include "dossier/v1/consents.pb-c.h"
#include "dossier/v1/documents.pb-c.h"
#include "dossier/v1/persons.pb-c.h"
#include "err.h"
#include "events.h"
#include "h2.h"
#include "keyring.h"
#include "log.h"
#include "principal.h"
#include "rpc.h"
#include "server.h"
#include "store.h"
#include "svc.h"
#include "svc_audit.h"
#include "svc_diag.h"
#include "svc_documents.h"
#include "svc_events.h"
#include "svc_grants.h"
#include "svc_health.h"
#include "svc_persons.h"
#include "svc_reflection.h"
#include "vault.h"
#include "writer.h"

#define DRV_ID_LEN (VAULT_ID_STR - 1)
#define DRV_ROUNDS_MAX 1000000
/* A call with nothing to exchange for this long is taken as one that
 * waits for its client or a long timer (a Watch, a delayed Echo): the
 * driver then closes the connection, as a client would. */
#define DRV_IDLE_MS 300
/* Response bytes after which the driver stops reading (a 1 GiB
 * Diag.Download) and closes the connection. */
#define DRV_ANSWER_MAX (4u << 20)

_Thread_local int drv_in_client;

const char *const drv_methods[] = {
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/dossier.v1.Diag/Echo",
    "/dossier.v1.Diag/Download",
    "/dossier.v1.Diag/Upload",
    "/dossier.v1.Diag/EchoStream",
    "/dossier.v1.Persons/Enrol",
    "/dossier.v1.Persons/FindByNir",
    "/dossier.v1.Persons/GetSituation",
    "/dossier.v1.Persons/UpdateSituation",
    "/dossier.v1.Persons/Export",
    "/dossier.v1.Persons/Erase",
    "/dossier.v1.Documents/Put",
    "/dossier.v1.Documents/Get",
    "/dossier.v1.Documents/List",
    "/dossier.v1.Documents/LatestValid",
    "/dossier.v1.Documents/CheckIntegrity",
    "/dossier.v1.Documents/PutFact",
    "/dossier.v1.Documents/GetFacts",
    "/dossier.v1.Consents/Grant",
    "/dossier.v1.Consents/Revoke",
    "/dossier.v1.Consents/List",
    "/dossier.v1.Mandates/Grant",
    "/dossier.v1.Mandates/Revoke",
    "/dossier.v1.Mandates/List",
    "/dossier.v1.Audit/Query",
    "/dossier.v1.Audit/GetCheckpoint",
    "/dossier.v1.Audit/InclusionProof",
    "/dossier.v1.Audit/ConsistencyProof",
    "/dossier.v1.Events/Watch",
    "/dossier.v1.Events/DeclareLifeEvent",
};
const size_t drv_nmethods = sizeof(drv_methods) / sizeof(drv_methods[0]);

static const struct {
    enum principal_kind kind;
    const char *id;
} drv_who_names[DRV_WHO_COUNT] = {
    [DRV_PERSON] = {PRINCIPAL_PERSON, "demo"},
    [DRV_AGENCY] = {PRINCIPAL_AGENCY, "caf-75"},
    [DRV_AGENCY2] = {PRINCIPAL_AGENCY, "cpam-69"},
    [DRV_DELEGATE] = {PRINCIPAL_DELEGATE, "france-services-demo"},
    [DRV_AUDITOR] = {PRINCIPAL_AUDITOR, "cnil-demo"},
    [DRV_ADMIN] = {PRINCIPAL_ADMIN, "ops"},
    [DRV_STRANGER] = {PRINCIPAL_PERSON, "nobody"},
};

/* --- the connection shim (conn.h) ------------------------------------ */

struct conn {
    struct server *server;
    struct principal principal;
    bool woken;
};

int
conn_accept(struct server *s, uv_stream_t *listener, struct tls_ctx *ctx)
{
    return -ENOTSUP;
}

void
conn_wake(struct conn *c)
{
    c->woken = true;
}

void
conn_drain(struct conn *c)
{
}

void
conn_close(struct conn *c, const char *why)
{
}

const struct principal *
conn_principal(const struct conn *c)
{
    return &c->principal;
}

struct conn *
conn_next(const struct conn *c)
{
    return NULL;
}

struct server *
conn_server(const struct conn *c)
{
    return c->server;
}

/* --- the daemon -------------------------------------------------------- */

struct drv {
    char dir[256];
    char keys[300];
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop while a call waits */
    struct keyring *keyring;
    struct catalog *catalog;
    struct store *keystore, *data;
    struct writer *writer;
    struct audit *audit;
    struct vault *vault;
    struct events *events;
    struct server *server;
    unsigned idle_ms;
    bool loop_open;
    char ids[5][VAULT_ID_STR]; /* D0 D1 C0 K0 M0 */
    void (*before)(void);
    void (*after)(void);
};

void
drv_set_idle(struct drv *d, unsigned ms)
{
    d->idle_ms = ms;
}

void
drv_set_hooks(struct drv *d, void (*before)(void), void (*after)(void))
{
    d->before = before;
    d->after = after;
}

static int
drv_run(const char *cmd)
{
    int rc = system(cmd);

    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -EIO;
}

static int
drv_rmtree(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return drv_run(cmd);
}

static void
drv_tick(uv_timer_t *t)
{
}

/* --- one call ---------------------------------------------------------- */

struct drv_client {
    nghttp2_session *session;
    int32_t stream;
    struct buf body;    /* framed request messages */
    struct buf answer;  /* response DATA */
    struct drv_result *res;
    bool closed;
};

static ssize_t
cli_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
         uint32_t *flags, nghttp2_data_source *src, void *user_data)
{
    struct drv_client *cl = user_data;
    size_t n = buf_size(&cl->body);

    if (n > length)
        n = length;
    if (n > 0) {
        memcpy(buf, buf_peek(&cl->body), n);
        buf_consume(&cl->body, n);
    }
    if (buf_size(&cl->body) == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int
cli_header(nghttp2_session *s, const nghttp2_frame *frame,
           const uint8_t *name, size_t namelen, const uint8_t *value,
           size_t valuelen, uint8_t flags, void *user_data)
{
    struct drv_client *cl = user_data;
    char v[16];
    size_t n = valuelen < sizeof(v) - 1 ? valuelen : sizeof(v) - 1;

    memcpy(v, value, n);
    v[n] = '\0';
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        cl->res->status = atoi(v);
    else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(cl->res->message, sizeof(cl->res->message), "%.*s",
                 (int)valuelen, (const char *)value);
    else if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        cl->res->http_status = atoi(v);
    return 0;
}

static int
cli_data(nghttp2_session *s, uint8_t flags, int32_t stream_id,
         const uint8_t *data, size_t len, void *user_data)
{
    struct drv_client *cl = user_data;

    return buf_append(&cl->answer, data, len) == 0
               ? 0
               : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int
cli_frame(nghttp2_session *s, const nghttp2_frame *frame, void *user_data)
{
    struct drv_client *cl = user_data;

    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->hd.stream_id == cl->stream)
        cl->res->reset = true;
    return 0;
}

static int
cli_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
          void *user_data)
{
    struct drv_client *cl = user_data;

    if (stream_id == cl->stream) {
        cl->closed = true;
        if (error_code != 0)
            cl->res->reset = true;
    }
    return 0;
}

static int
cli_message(void *arg, const uint8_t *msg, size_t len)
{
    struct drv_result *res = arg;

    if (res->messages++ == 0) {
        res->first_len = len < sizeof(res->first) ? len : sizeof(res->first);
        memcpy(res->first, msg, res->first_len);
    }
    return 0;
}

/* Replaces the placeholders of |m| in place. */
static void
drv_substitute(const struct drv *d, uint8_t *m, size_t len)
{
    static const char tags[5][2] = {"D0", "D1", "C0", "K0", "M0"};

    for (size_t i = 0; i + DRV_ID_LEN <= len; i++) {
        if (m[i] != '@' || m[i + 1] != '@')
            continue;
        for (int t = 0; t < 5; t++) {
            if (m[i + 2] == tags[t][0] && m[i + 3] == tags[t][1] &&
                d->ids[t][0] != '\0') {
                memcpy(m + i, d->ids[t], DRV_ID_LEN);
                i += DRV_ID_LEN - 1;
                break;
            }
        }
    }
}

#define NV(n, v)                                                               \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),                  \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

int
drv_call(struct drv *d, const char *path, enum drv_who who,
         const struct drv_msg *msgs, size_t n, struct drv_result *res)
{
    nghttp2_session_callbacks *cbs = NULL;
    struct drv_client cl;
    struct conn conn;
    struct h2 *h2 = NULL;
    struct rpc_reader rd;
    nghttp2_data_provider prd;
    uint64_t idle_since = 0;
    int rc = -ENOMEM;
    nghttp2_nv hdrs[] = {
        NV(":method", "POST"),        NV(":scheme", "https"),
        NV(":path", path),            NV(":authority", "localhost"),
        NV("content-type", "application/grpc"), NV("te", "trailers"),
    };

    memset(res, 0, sizeof(*res));
    res->status = -1;
    memset(&cl, 0, sizeof(cl));
    cl.res = res;
    buf_init(&cl.body);
    buf_init(&cl.answer);
    memset(&conn, 0, sizeof(conn));
    conn.server = d->server;
    conn.principal.kind = drv_who_names[who].kind;
    snprintf(conn.principal.id, sizeof(conn.principal.id), "%s",
             drv_who_names[who].id);
    snprintf(conn.principal.uri, sizeof(conn.principal.uri),
             "spiffe://dossier.test/%s/%s",
             principal_kind_name(conn.principal.kind), conn.principal.id);

    for (size_t i = 0; i < n; i++) {
        uint8_t prefix[RPC_PREFIX_LEN], *p;
        rpc_prefix_encode(prefix, (uint32_t)msgs[i].len);
        if (buf_append(&cl.body, prefix, sizeof(prefix)) != 0 ||
            (p = buf_space(&cl.body, msgs[i].len + 1)) == NULL)
            goto out;
        if (msgs[i].len > 0)
            memcpy(p, msgs[i].data, msgs[i].len);
        drv_substitute(d, p, msgs[i].len);
        buf_commit(&cl.body, msgs[i].len);
    }

    if (nghttp2_session_callbacks_new(&cbs) != 0)
        goto out;
    nghttp2_session_callbacks_set_on_header_callback(cbs, cli_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cli_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cli_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cli_close);
    rc = nghttp2_session_client_new(&cl.session, cbs, &cl);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) {
        rc = -ENOMEM;
        goto out;
    }
    nghttp2_submit_settings(cl.session, NGHTTP2_FLAG_NONE, NULL, 0);
    prd.source.ptr = NULL;
    prd.read_callback = cli_read;
    cl.stream = nghttp2_submit_request(cl.session, NULL, hdrs,
                                       sizeof(hdrs) / sizeof(hdrs[0]), &prd,
                                       NULL);
    if (cl.stream < 0) {
        rc = -ENOMEM;
        goto out;
    }

    if (d->before != NULL)
        d->before();
    if ((h2 = h2_new(&conn, d->server)) == NULL) {
        res->conn_error = true;
        goto done;
    }
    uv_timer_start(&d->tick, drv_tick, 2, 2);
    for (int round = 0; round < DRV_ROUNDS_MAX && !cl.closed; round++) {
        const uint8_t *p;
        ssize_t k;
        bool progress = false;

        for (;;) {
            drv_in_client++;
            k = nghttp2_session_mem_send(cl.session, &p);
            drv_in_client--;
            if (k <= 0)
                break;
            progress = true;
            if (h2_feed(h2, p, (size_t)k) != 0) {
                res->conn_error = true;
                break;
            }
        }
        if (res->conn_error)
            break;
        conn.woken = false;
        while ((k = h2_produce(h2, &p)) > 0) {
            progress = true;
            drv_in_client++;
            k = nghttp2_session_mem_recv(cl.session, p, (size_t)k);
            drv_in_client--;
            if (k < 0) {
                k = 0;
                break;
            }
        }
        if (k < 0) {
            res->conn_error = true;
            break;
        }
        h2_run_writable(h2);
        if (cl.closed)
            break;
        /* As conn.c does: a session that wants neither to read nor to
         * write is over, and the connection is closed. */
        if (!h2_alive(h2)) {
            res->conn_error = true;
            break;
        }
        if (buf_size(&cl.answer) > DRV_ANSWER_MAX)
            break;
        if (progress || conn.woken) {
            idle_since = 0;
            continue;
        }
        /* Nothing to exchange: wait for the writer, a timer or the tick. */
        uv_update_time(&d->loop);
        if (idle_since == 0)
            idle_since = uv_now(&d->loop);
        else if (uv_now(&d->loop) - idle_since > d->idle_ms)
            break;
        uv_run(&d->loop, UV_RUN_ONCE);
    }
    if (!cl.closed && !res->conn_error)
        res->open = true;
done:
    uv_timer_stop(&d->tick);
    h2_free(h2);
    /* Let what the call left in flight (writer operations) complete. */
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->after != NULL)
        d->after();
    rpc_reader_init(&rd, 64u << 20);
    (void)rpc_reader_feed(&rd, buf_peek(&cl.answer), buf_size(&cl.answer),
                          cli_message, res);
    rpc_reader_close(&rd);
    rc = 0;
out:
    nghttp2_session_del(cl.session);
    buf_free(&cl.body);
    buf_wipe(&cl.answer);
    return rc;
}

int
drv_input_parse(const uint8_t *data, size_t size, const char **path,
                enum drv_who *who, struct drv_msg *msgs, size_t max)
{
    size_t n = 0;

    if (size < 2)
        return -1;
    *path = drv_methods[data[0] % drv_nmethods];
    *who = (enum drv_who)(data[1] % DRV_WHO_COUNT);
    data += 2;
    size -= 2;
    while (size >= 2 && n < max) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        msgs[n].data = data;
        msgs[n].len = len;
        n++;
        data += len;
        size -= len;
    }
    return (int)n;
}

/* --- fixtures ---------------------------------------------------------- */

static int
drv_call_msg(struct drv *d, const char *path, enum drv_who who,
             const ProtobufCMessage *m, struct drv_result *res)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(len + 1);
    struct drv_msg msg = {p, len};
    int rc;

    if (p == NULL)
        return -ENOMEM;
    protobuf_c_message_pack(m, p);
    rc = drv_call(d, path, who, &msg, 1, res);
    free(p);
    if (rc == 0 && res->status != 0) {
        fprintf(stderr, "driver: fixture %s answered %d %s\n", path,
                res->status, res->message);
        rc = -EIO;
    }
    return rc;
}

static void
drv_copy_id(char out[VAULT_ID_STR], const char *id)
{
    snprintf(out, VAULT_ID_STR, "%s", id ? id : "");
}

static int
drv_enrol(struct drv *d, const char *nir, const char *principal_id,
          char out[VAULT_ID_STR])
{
    Dossier__V1__EnrolRequest req = DOSSIER__V1__ENROL_REQUEST__INIT;
    Dossier__V1__Date birth = DOSSIER__V1__DATE__INIT;
    Dossier__V1__EnrolResponse *resp;
    struct drv_result res;
    int rc;

    birth.year = 1985;
    birth.month = 5;
    birth.day = 12;
    req.nir = (char *)nir;
    req.given_name = "Camille";
    req.family_name = "Martin";
    req.birth_date = &birth;
    req.person_principal_id = (char *)principal_id;
    if ((rc = drv_call_msg(d, "/dossier.v1.Persons/Enrol", DRV_ADMIN,
                           &req.base, &res)) != 0)
        return rc;
    if ((resp = dossier__v1__enrol_response__unpack(NULL, res.first_len,
                                                    res.first)) == NULL)
        return -EIO;
    drv_copy_id(out, resp->dossier_id);
    dossier__v1__enrol_response__free_unpacked(resp, NULL);
    return 0;
}

static int
drv_fixtures(struct drv *d)
{
    static const uint8_t content[] = "%PDF-1.4 fuzz fixture";
    Dossier__V1__PutDocumentRequest put = DOSSIER__V1__PUT_DOCUMENT_REQUEST__INIT;
    Dossier__V1__PutDocumentRequest chunk =
        DOSSIER__V1__PUT_DOCUMENT_REQUEST__INIT;
    Dossier__V1__DocumentMeta meta = DOSSIER__V1__DOCUMENT_META__INIT;
    Dossier__V1__Date issued = DOSSIER__V1__DATE__INIT;
    Dossier__V1__PutDocumentResponse *pr;
    Dossier__V1__GrantConsentRequest gc = DOSSIER__V1__GRANT_CONSENT_REQUEST__INIT;
    Dossier__V1__Consent consent = DOSSIER__V1__CONSENT__INIT;
    Dossier__V1__GrantConsentResponse *gcr;
    Dossier__V1__GrantMandateRequest gm = DOSSIER__V1__GRANT_MANDATE_REQUEST__INIT;
    Dossier__V1__Mandate mandate = DOSSIER__V1__MANDATE__INIT;
    Dossier__V1__GrantMandateResponse *gmr;
    char *types[] = {"justificatif-domicile"};
    char *all[] = {"*"};
    char *actions[] = {"deposit", "read", "grant-consent"};
    uint8_t m1[512], m2[128];
    struct drv_msg msgs[2];
    struct drv_result res;
    time_t now = time(NULL);
    int rc;

    if ((rc = drv_enrol(d, "185057800608491", "demo", d->ids[0])) != 0 ||
        (rc = drv_enrol(d, "295109912611193", "", d->ids[1])) != 0)
        return rc;

    issued.year = 2026;
    issued.month = 1;
    issued.day = 15;
    meta.dossier_id = d->ids[0];
    meta.type = "justificatif-domicile";
    meta.issued = &issued;
    meta.media_type = "application/pdf";
    meta.file_name = "facture.pdf";
    meta.size = sizeof(content) - 1;
    put.part_case = DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_META;
    put.meta = &meta;
    chunk.part_case = DOSSIER__V1__PUT_DOCUMENT_REQUEST__PART_CHUNK;
    chunk.chunk.data = (uint8_t *)content;
    chunk.chunk.len = sizeof(content) - 1;
    if (dossier__v1__put_document_request__get_packed_size(&put) > sizeof(m1))
        return -EIO;
    msgs[0].data = m1;
    msgs[0].len = dossier__v1__put_document_request__pack(&put, m1);
    msgs[1].data = m2;
    msgs[1].len = dossier__v1__put_document_request__pack(&chunk, m2);
    if ((rc = drv_call(d, "/dossier.v1.Documents/Put", DRV_AGENCY, msgs, 2,
                       &res)) != 0)
        return rc;
    if (res.status != 0) {
        fprintf(stderr, "driver: fixture Put answered %d %s\n", res.status,
                res.message);
        return -EIO;
    }
    if ((pr = dossier__v1__put_document_response__unpack(NULL, res.first_len,
                                                         res.first)) == NULL)
        return -EIO;
    drv_copy_id(d->ids[2], pr->meta ? pr->meta->document_id : NULL);
    dossier__v1__put_document_response__free_unpacked(pr, NULL);

    consent.agency = "spiffe://dossier.test/agency/caf-75";
    consent.n_document_types = 1;
    consent.document_types = types;
    consent.purpose_code = "RSA-INSTRUCTION";
    consent.purpose_text = "instruction du RSA";
    consent.valid_until_unix = now + 30 * 86400;
    gc.consent = &consent;
    if ((rc = drv_call_msg(d, "/dossier.v1.Consents/Grant", DRV_PERSON,
                           &gc.base, &res)) != 0)
        return rc;
    if ((gcr = dossier__v1__grant_consent_response__unpack(
             NULL, res.first_len, res.first)) == NULL)
        return -EIO;
    drv_copy_id(d->ids[3], gcr->consent ? gcr->consent->consent_id : NULL);
    dossier__v1__grant_consent_response__free_unpacked(gcr, NULL);

    mandate.delegate = "spiffe://dossier.test/delegate/france-services-demo";
    mandate.n_actions = 3;
    mandate.actions = actions;
    mandate.n_document_types = 1;
    mandate.document_types = all;
    mandate.valid_until_unix = now + 30 * 86400;
    gm.mandate = &mandate;
    if ((rc = drv_call_msg(d, "/dossier.v1.Mandates/Grant", DRV_PERSON,
                           &gm.base, &res)) != 0)
        return rc;
    if ((gmr = dossier__v1__grant_mandate_response__unpack(
             NULL, res.first_len, res.first)) == NULL)
        return -EIO;
    drv_copy_id(d->ids[4], gmr->mandate ? gmr->mandate->mandate_id : NULL);
    dossier__v1__grant_mandate_response__free_unpacked(gmr, NULL);
    return 0;
}

/* --- open and close ---------------------------------------------------- */

int
drv_open(const char *admin, struct drv **out)
{
    struct server_config cfg;
    struct svc_ctx ctx;
    struct drv *d;
    char path[700], cmd[900];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    int rc;

    *out = NULL;
    if (admin == NULL && (admin = getenv("DOSSIER_ADMIN")) == NULL)
        admin = "build/bin/dossier-admin";
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return -ENOMEM;
    snprintf(d->dir, sizeof(d->dir), "%s/dossier-drv-XXXXXX", base);
    if (mkdtemp(d->dir) == NULL) {
        free(d);
        return -errno;
    }
    snprintf(d->keys, sizeof(d->keys), "%s/keys", d->dir);
    d->idle_ms = DRV_IDLE_MS;
    snprintf(cmd, sizeof(cmd), "'%s' init-dev --dir '%s' >/dev/null 2>&1",
             admin, d->keys);
    if (drv_run(cmd) != 0) {
        fprintf(stderr, "driver: %s init-dev failed\n", admin);
        rc = -EIO;
        goto fail;
    }
    if ((rc = uv_loop_init(&d->loop)) != 0)
        goto fail;
    uv_timer_init(&d->loop, &d->tick);
    d->loop_open = true;
    snprintf(path, sizeof(path), "%s/keystore", d->keys);
    if ((rc = keyring_load(d->keys, &d->keyring)) != 0 ||
        (rc = catalog_load(getenv("DOSSIER_CATALOG")
                               ? getenv("DOSSIER_CATALOG")
                               : "packaging/pieces.tsv",
                           &d->catalog)) != 0 ||
        (rc = store_open(path, 64u << 20, &d->keystore)) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/data", d->dir);
    if ((rc = store_open(path, 256u << 20, &d->data)) != 0 ||
        (rc = writer_new(d->data, &d->loop, &d->writer)) != 0)
        goto fail;
    {
        char key[400], cp[400];
        snprintf(key, sizeof(key), "%s/" AUDIT_KEY_FILE, d->keys);
        snprintf(cp, sizeof(cp), "%s/" AUDIT_CHECKPOINT_FILE, d->keys);
        if ((rc = audit_open(d->data, d->writer, key, cp, &d->audit)) != 0)
            goto fail;
    }
    if ((rc = vault_open(d->data, d->keystore, d->writer, d->keyring,
                         d->catalog, 1u << 20, &d->vault)) != 0)
        goto fail;
    {
        struct events_config ec = {EVENTS_RETENTION_DAYS_DEFAULT,
                                   EVENTS_MAX_DEFAULT};
        if ((rc = events_open(&d->loop, d->data, d->writer, d->vault, &ec,
                              &d->events)) != 0)
            goto fail;
    }

    server_config_defaults(&cfg);
    cfg.listen_port = 0;
    cfg.diag = true;
    snprintf(cfg.cert_file, sizeof(cfg.cert_file), "%s/server.crt", d->keys);
    snprintf(cfg.key_file, sizeof(cfg.key_file), "%s/server.key", d->keys);
    snprintf(cfg.ca_file, sizeof(cfg.ca_file), "%s/ca.crt", d->keys);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/data", d->dir);
    cfg.max_message = 256 * 1024;
    if ((d->server = server_new(&d->loop, &cfg, &rc)) == NULL)
        goto fail;
    ctx.vault = d->vault;
    ctx.catalog = d->catalog;
    ctx.audit = d->audit;
    ctx.max_document = 1u << 20;
    if ((rc = svc_health_register(d->server)) != 0 ||
        (rc = svc_reflection_register(d->server)) != 0 ||
        (rc = svc_diag_register(d->server)) != 0 ||
        (rc = svc_persons_register(d->server, &ctx)) != 0 ||
        (rc = svc_documents_register(d->server, &ctx)) != 0 ||
        (rc = svc_audit_register(d->server, d->audit, d->data, d->vault)) !=
            0 ||
        (rc = svc_grants_register(d->server, &ctx, d->keys)) != 0 ||
        (rc = svc_events_register(d->server, &ctx, d->events)) != 0)
        goto fail;
    if ((rc = drv_fixtures(d)) != 0)
        goto fail;
    *out = d;
    return 0;

fail:
    fprintf(stderr, "driver: cannot open the daemon: %s\n", err_str(rc));
    drv_close(d);
    return rc;
}

void
drv_close(struct drv *d)
{
    if (d == NULL)
        return;
    server_free(d->server);
    if (d->writer != NULL)
        writer_free(d->writer);
    events_close(d->events);
    if (d->loop_open) {
        uv_close((uv_handle_t *)&d->tick, NULL);
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    audit_close(d->audit);
    vault_close(d->vault);
    store_close(d->data);
    store_close(d->keystore);
    catalog_free(d->catalog);
    keyring_free(d->keyring);
    if (d->loop_open)
        uv_loop_close(&d->loop);
    drv_rmtree(d->dir);
    free(d);
}
