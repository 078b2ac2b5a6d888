/*
 * svc_audit.c -- the audit log at the gRPC edge: the hook that records
 * every call of the dossier services, and the dossier.v1.Audit service
 * (query, signed checkpoint, inclusion and consistency proofs).
 *
 * Who sees what: an auditor every entry, with filters; a person every
 * entry about their own dossier, denied attempts included; an agency its
 * own accesses.  Proofs and checkpoints carry only hashes and are open to
 * every principal, so anyone holding an entry can check it is in the log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "call.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "store.h"
#include "svc_audit.h"
#include "vault.h"
#include "dossier/v1/audit.pb-c.h"

#define QUERY_LIMIT_DEFAULT 1000
#define QUERY_LIMIT_MAX 100000
#define QUERY_SCAN_STEP 512 /* entries looked at per loop turn */

static struct {
    struct audit *audit;
    struct store *store;
    struct vault *vault;
} ctx;

/* --- the hook: one entry per call -------------------------------------- */

struct hook_op {
    struct call *call;
    server_audit_done_fn *done;
};

static const char *
hook_outcome(int status)
{
    switch (status) {
    case RPC_OK:
        return AUDIT_GRANTED;
    case RPC_PERMISSION_DENIED:
    case RPC_UNAUTHENTICATED:
        return AUDIT_DENIED;
    default:
        return AUDIT_ERROR;
    }
}

/* "/dossier.v1.Documents/Get" -> "Documents.Get" (static buffer: the
 * entry is serialised before the next call). */
static const char *
hook_action(const char *path, char *out, size_t size)
{
    const char *svc = strrchr(path, '.');
    const char *slash = strrchr(path, '/');

    if (svc == NULL || slash == NULL || slash < svc) {
        snprintf(out, size, "%s", path);
        return out;
    }
    snprintf(out, size, "%.*s.%s", (int)(slash - svc - 1), svc + 1,
             slash + 1);
    return out;
}

static void
hook_done(void *arg, int status)
{
    struct hook_op *op = arg;

    op->done(op->call, status);
    free(op);
}

void
svc_audit__entry(struct call *c, const char *outcome, const char *reason,
                 struct audit_entry *e, char *action, size_t action_size)
{
    memset(e, 0, sizeof(*e));
    e->principal = call_principal(c)->uri;
    e->on_behalf_of = call_audit_get(c, CALL_AUDIT_ON_BEHALF_OF);
    e->action = hook_action(call_method(c)->path, action, action_size);
    e->dossier_id = call_audit_get(c, CALL_AUDIT_DOSSIER);
    e->object_id = call_audit_get(c, CALL_AUDIT_OBJECT);
    e->basis = call_audit_get(c, CALL_AUDIT_BASIS);
    e->purpose_code = call_audit_get(c, CALL_AUDIT_PURPOSE);
    e->case_reference = call_audit_get(c, CALL_AUDIT_CASE);
    e->outcome = outcome;
    e->reason = reason != NULL ? reason : "";
}

static int
hook_record(void *arg, struct call *c, int status, const char *message,
            server_audit_done_fn *done)
{
    struct hook_op *op = malloc(sizeof(*op));
    struct audit_entry e;
    char action[128];
    int rc;

    if (op == NULL)
        return -ENOMEM;
    op->call = c;
    op->done = done;
    svc_audit__entry(c, hook_outcome(status),
                     status == RPC_OK ? "" : message, &e, action,
                     sizeof(action));
    if ((rc = audit_record(ctx.audit, &e, hook_done, op)) != 0)
        free(op);
    return rc;
}

/* --- Audit.Query --------------------------------------------------------- */

struct query {
    Dossier__V1__QueryAuditRequest *req;
    struct audit_filter filter;
    char dossier[VAULT_ID_STR];
    uint64_t position; /* next index to scan */
    uint32_t left;     /* entries still to send */
    bool started;
};

static void
query_free(void *p)
{
    struct query *q = p;

    if (q->req != NULL)
        dossier__v1__query_audit_request__free_unpacked(q->req, NULL);
    free(q);
}

/* Sends matches until the queue is full, the limit is reached or the log
 * ends.  Each turn uses a fresh read transaction. */
static void
query_pump(struct call *c)
{
    struct query *q = call_data(c);
    struct store_txn *t;
    struct audit_query *aq;
    int rc = 0;

    while (!call_is_done(c) && q->left > 0 &&
           call_send_queued(c) < call_send_low_water(c)) {
        struct buf raw;

        if ((rc = store_txn_begin(ctx.store, STORE_TXN_READ, NULL, &t)) != 0)
            break;
        if ((rc = audit_query_open(ctx.audit, t, q->position, &q->filter,
                                   &aq)) != 0) {
            store_txn_abort(t);
            break;
        }
        buf_init(&raw);
        /* The stored bytes, not a re-serialisation: a verifier hashes
         * exactly what the log's leaf hash covers. */
        rc = audit_query_next_raw(aq, QUERY_SCAN_STEP, &raw);
        q->position = audit_query_position(aq);
        audit_query_close(aq);
        store_txn_abort(t);
        if (rc == 0)
            rc = call_send(c, buf_peek(&raw), buf_size(&raw));
        buf_free(&raw);
        if (rc == -EAGAIN)
            continue; /* nothing in this stretch: scan the next one */
        if (rc != 0)
            break;
        q->left--;
    }
    if (call_is_done(c))
        return;
    if (rc == ERR_NOTFOUND || q->left == 0) {
        call_finish(c, RPC_OK, NULL);
    } else if (rc != 0) {
        call_fail(c, rc, "the audit log could not be read");
    } else {
        call_want_writable(c, true);
    }
}

/* The Query call itself is recorded before any entry leaves. */
static void
query_recorded(void *arg, int status)
{
    struct call *c = arg;

    if (status != 0) {
        call_finish(c, RPC_UNAVAILABLE,
                    "the access could not be recorded in the audit log");
    } else if (!call_is_done(c)) {
        call_audit_recorded(c);
        query_pump(c);
    }
    call_unref(c);
}

static void
query_message(struct call *c, const uint8_t *msg, size_t len)
{
    const struct principal *who = call_principal(c);
    struct query *q;
    struct audit_entry e;
    char action[128];
    struct vault_id id;

    if ((q = calloc(1, sizeof(*q))) == NULL) {
        call_fail(c, -ENOMEM, "out of memory");
        return;
    }
    call_set_data(c, q, query_free);
    q->req = dossier__v1__query_audit_request__unpack(NULL, len, msg);
    if (q->req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "QueryAuditRequest does not parse");
        return;
    }
    q->filter.action = q->req->action[0] ? q->req->action : NULL;
    q->filter.outcome = q->req->outcome[0] ? q->req->outcome : NULL;
    q->filter.from_ms = q->req->from_unix_ms;
    q->filter.until_ms = q->req->until_unix_ms;
    switch (who->kind) {
    case PRINCIPAL_AUDITOR:
        q->filter.dossier_id = q->req->dossier_id[0] ? q->req->dossier_id
                                                     : NULL;
        q->filter.principal = q->req->agency[0] ? q->req->agency : NULL;
        break;
    case PRINCIPAL_PERSON:
        /* Their own dossier, whatever they asked. */
        if (vault_person_find_principal(ctx.vault, who->id, &id) != 0) {
            call_finish(c, RPC_NOT_FOUND,
                        "no dossier is linked to this certificate");
            return;
        }
        vault_id_format(&id, q->dossier);
        if (q->req->dossier_id[0] && strcmp(q->req->dossier_id, q->dossier)) {
            call_finish(c, RPC_PERMISSION_DENIED,
                        "a person sees the entries of their own dossier "
                        "only");
            return;
        }
        q->filter.dossier_id = q->dossier;
        call_audit_set(c, CALL_AUDIT_DOSSIER, q->dossier);
        break;
    case PRINCIPAL_AGENCY:
        /* Its own accesses only. */
        q->filter.principal = who->uri;
        q->filter.dossier_id = q->req->dossier_id[0] ? q->req->dossier_id
                                                     : NULL;
        break;
    default:
        call_finish(c, RPC_PERMISSION_DENIED,
                    "only auditors, persons and agencies read the audit log");
        return;
    }
    q->position = q->req->start_index;
    q->left = q->req->limit ? q->req->limit : QUERY_LIMIT_DEFAULT;
    if (q->left > QUERY_LIMIT_MAX)
        q->left = QUERY_LIMIT_MAX;
    svc_audit__entry(c, AUDIT_GRANTED, "", &e, action, sizeof(action));
    call_ref(c);
    if (audit_record(ctx.audit, &e, query_recorded, c) != 0) {
        call_unref(c);
        call_finish(c, RPC_UNAVAILABLE,
                    "the access could not be recorded in the audit log");
    }
}

/* --- checkpoints and proofs ---------------------------------------------- */

static void
checkpoint_ready(void *arg, int status, const struct audit_checkpoint *cp)
{
    struct call *c = arg;
    Dossier__V1__Checkpoint m = DOSSIER__V1__CHECKPOINT__INIT;

    if (status != 0) {
        call_fail(c, status, "no checkpoint could be made");
    } else {
        m.tree_size = cp->tree_size;
        m.root_hash.data = (uint8_t *)cp->root;
        m.root_hash.len = MERKLE_HASH_LEN;
        m.time_unix_ms = cp->time_ms;
        m.signature.data = (uint8_t *)cp->signature;
        m.signature.len = AUDIT_SIG_LEN;
        m.key_id.data = (uint8_t *)cp->key_id;
        m.key_id.len = AUDIT_KEY_ID_LEN;
        call_send_msg(c, &m.base);
        call_finish(c, RPC_OK, NULL);
    }
    call_unref(c);
}

static void
checkpoint_message(struct call *c, const uint8_t *msg, size_t len)
{
    int rc;

    call_ref(c);
    if ((rc = audit_checkpoint_request(ctx.audit,
                                       server_loop(call_server(c)),
                                       checkpoint_ready, c)) != 0) {
        call_unref(c);
        call_fail(c, rc, "no checkpoint could be made");
    }
}

static void
inclusion_message(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__InclusionProofRequest *req;
    Dossier__V1__InclusionProofResponse resp =
        DOSSIER__V1__INCLUSION_PROOF_RESPONSE__INIT;
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
    ProtobufCBinaryData items[MERKLE_PATH_MAX];
    struct store_txn *t;
    size_t n = 0;
    int rc;

    req = dossier__v1__inclusion_proof_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "InclusionProofRequest does not parse");
        return;
    }
    if ((rc = store_txn_begin(ctx.store, STORE_TXN_READ, NULL, &t)) == 0) {
        rc = audit_inclusion_proof(ctx.audit, t, req->index, req->tree_size,
                                   path, &n, leaf);
        store_txn_abort(t);
    }
    if (rc == ERR_INVALID) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "index %llu is not below tree_size %llu, or tree_size "
                    "is past the log's end",
                    (unsigned long long)req->index,
                    (unsigned long long)req->tree_size);
    } else if (rc != 0) {
        call_fail(c, rc, "no inclusion proof could be made");
    } else {
        for (size_t i = 0; i < n; i++) {
            items[i].data = path[i];
            items[i].len = MERKLE_HASH_LEN;
        }
        resp.n_path = n;
        resp.path = items;
        resp.leaf_hash.data = leaf;
        resp.leaf_hash.len = MERKLE_HASH_LEN;
        call_send_msg(c, &resp.base);
        call_finish(c, RPC_OK, NULL);
    }
    dossier__v1__inclusion_proof_request__free_unpacked(req, NULL);
}

static void
consistency_message(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ConsistencyProofRequest *req;
    Dossier__V1__ConsistencyProofResponse resp =
        DOSSIER__V1__CONSISTENCY_PROOF_RESPONSE__INIT;
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN];
    ProtobufCBinaryData items[MERKLE_PATH_MAX];
    struct store_txn *t;
    size_t n = 0;
    int rc;

    req = dossier__v1__consistency_proof_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "ConsistencyProofRequest does not parse");
        return;
    }
    if ((rc = store_txn_begin(ctx.store, STORE_TXN_READ, NULL, &t)) == 0) {
        rc = audit_consistency_proof(ctx.audit, t, req->old_size,
                                     req->new_size, path, &n);
        store_txn_abort(t);
    }
    if (rc == ERR_INVALID) {
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "old_size %llu must not exceed new_size %llu, nor "
                    "new_size the log's size",
                    (unsigned long long)req->old_size,
                    (unsigned long long)req->new_size);
    } else if (rc != 0) {
        call_fail(c, rc, "no consistency proof could be made");
    } else {
        for (size_t i = 0; i < n; i++) {
            items[i].data = path[i];
            items[i].len = MERKLE_HASH_LEN;
        }
        resp.n_path = n;
        resp.path = items;
        call_send_msg(c, &resp.base);
        call_finish(c, RPC_OK, NULL);
    }
    dossier__v1__consistency_proof_request__free_unpacked(req, NULL);
}

static const struct method audit_methods[] = {
    {.path = "/dossier.v1.Audit/Query",
     .kind = CALL_SERVER_STREAM,
     .audit = CALL_AUDIT_HANDLER,
     .on_message = query_message,
     .on_writable = query_pump},
    {.path = "/dossier.v1.Audit/GetCheckpoint",
     .kind = CALL_UNARY,
     .on_message = checkpoint_message},
    {.path = "/dossier.v1.Audit/InclusionProof",
     .kind = CALL_UNARY,
     .on_message = inclusion_message},
    {.path = "/dossier.v1.Audit/ConsistencyProof",
     .kind = CALL_UNARY,
     .on_message = consistency_message},
};

int
svc_audit_register(struct server *s, struct audit *a, struct store *store,
                   struct vault *v)
{
    int rc;

    ctx.audit = a;
    ctx.store = store;
    ctx.vault = v;
    for (size_t i = 0; i < sizeof(audit_methods) / sizeof(audit_methods[0]);
         i++)
        if ((rc = server_register(s, &audit_methods[i])) != 0)
            return rc;
    server_set_audit(s, hook_record, NULL);
    return 0;
}
