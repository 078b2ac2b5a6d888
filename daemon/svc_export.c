/*
 * svc_export.c -- Persons.Export: the whole dossier as one tar archive
 * (see svc_export.h for what the archive holds).
 *
 * The export is a little state machine kept as the call's data.  At the
 * start it lists every document version, the facts and the situation
 * history, and writes manifest.json and situation.json; then, each time
 * the call's queue is under its low-water mark, it produces the next step
 * (one document's tar header, one stored chunk of its content, its
 * padding, the end of the archive) into |out| and sends |out| in
 * ExportChunk pieces.  A step runs only once |out| is empty, so at most
 * one chunk of plaintext is held; |out| is wiped each time it empties.
 *
 * The tar header of a document announces the size recorded in its
 * metadata; content that does not add up to it (a missing or altered
 * chunk) ends the call with DATA_LOSS rather than a broken archive that
 * looks whole.  The person's key is wiped when the call is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "dossier/v1/persons.pb-c.h"

#include "audit.h"
#include "call.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "rpc.h"
#include "svc.h"
#include "svc_audit.h"
#include "svc_export.h"
#include "tar.h"

#define EXPORT_PIECE (64 * 1024) /* bytes of archive per ExportChunk */
#define TAR_NAME_MAX 100         /* ustar name field, after the prefix */

enum export_stage {
    EXPORT_DOCS, /* documents[di]: header, chunks, padding */
    EXPORT_END,  /* the two zero blocks */
    EXPORT_DONE, /* everything produced: finish once |out| is sent */
};

struct export
{
    struct vault_person p;
    struct vault_id id;
    enum export_stage stage;
    struct buf out; /* archive bytes produced and not yet sent */

    Dossier__V1__DocumentMeta **docs; /* every version */
    size_t ndocs;
    size_t di;            /* document being written */
    struct vault_doc doc; /* documents[di], opened */
    bool doc_open;
    uint32_t chunk;     /* next chunk of doc */
    uint64_t doc_bytes; /* content bytes of doc produced so far */
};

static void
export_free(void *data)
{
    struct export *e = data;

    if (e->doc_open)
        vault_doc_close(&e->doc);
    for (size_t i = 0; i < e->ndocs; i++)
        protobuf_c_message_free_unpacked(&e->docs[i]->base, NULL);
    free(e->docs);
    buf_wipe(&e->out);
    vault_person_close(&e->p);
    free(e);
}

/* --- names ----------------------------------------------------------- */

/* Length of the longest prefix of |s| of at most |max| bytes that does not
 * end inside a UTF-8 sequence. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/*
 * Writes the archive path of document version |m| into |out|:
 * documents/<id>-v<version>-<name>, the name with '/', '\\', control
 * characters and the second dot of any ".." replaced by '_', and shortened
 * (keeping a short extension) so that everything after "documents/" fits
 * the 100-byte ustar name field.
 */
static void
export_doc_path(const Dossier__V1__DocumentMeta *m, char *out, size_t outsz)
{
    char clean[256], stem[TAR_NAME_MAX + 1];
    const char *ext;
    size_t n = 0, room, elen, slen;
    int head;

    for (const char *p = m->file_name; *p != '\0' && n < sizeof(clean) - 1;
         p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\' ||
            (ch == '.' && n > 0 && clean[n - 1] == '.'))
            ch = '_';
        clean[n++] = (char)ch;
    }
    if (n == 0)
        clean[n++] = '_';
    clean[n] = '\0';

    head = snprintf(stem, sizeof(stem), "%s-v%d-", m->document_id, m->version);
    room = head > 0 && (size_t)head < TAR_NAME_MAX ? TAR_NAME_MAX - head : 1;
    if (n > room) {
        /* Keep an extension of up to 10 bytes, cut the rest. */
        ext = strrchr(clean, '.');
        elen = ext != NULL ? strlen(ext) : 0;
        if (elen > 10 || elen >= room)
            elen = 0;
        slen = utf8_cut(clean, n - elen, room - elen);
        memmove(clean + slen, clean + n - elen, elen);
        clean[slen + elen] = '\0';
        /* The cut may leave a dot just before the extension's. */
        if (elen > 0 && slen > 0 && clean[slen - 1] == '.')
            clean[slen - 1] = '_';
    }
    snprintf(out, outsz, "documents/%s%s", stem, clean);
}

/* --- JSON ------------------------------------------------------------ */

/* Appends a date as "YYYY-MM-DD", or null when unset. */
static int
json_date(struct buf *b, const Dossier__V1__Date *d)
{
    char s[32];

    if (svc__date_unset(d))
        return json_put_raw(b, "null");
    snprintf(s, sizeof(s), "%04d-%02d-%02d", d->year, d->month, d->day);
    return json_put_str(b, s);
}

/* Appends ,"key":"value" (or without the comma when |first|). */
static int
json_field_str(struct buf *b, bool first, const char *key, const char *v)
{
    int rc = first ? 0 : json_put_raw(b, ",");

    if (rc == 0)
        rc = json_put_key(b, key);
    return rc != 0 ? rc : json_put_str(b, v != NULL ? v : "");
}

static int
json_field_int(struct buf *b, const char *key, int64_t v)
{
    int rc = json_put_raw(b, ",");

    if (rc == 0)
        rc = json_put_key(b, key);
    return rc != 0 ? rc : json_put_int(b, v);
}

static int
json_field_date(struct buf *b, const char *key, const Dossier__V1__Date *d)
{
    int rc = json_put_raw(b, ",");

    if (rc == 0)
        rc = json_put_key(b, key);
    return rc != 0 ? rc : json_date(b, d);
}

static int
json_situation(struct buf *b, const Dossier__V1__Situation *s)
{
    const Dossier__V1__Address *a = s->address;
    int rc;

    if ((rc = json_put_raw(b, "{")) != 0 ||
        (rc = json_put_key(b, "revision")) != 0 ||
        (rc = json_put_int(b, s->revision)) != 0 ||
        (rc = json_field_date(b, "effective", s->effective)) != 0 ||
        (rc = json_put_raw(b, ",\"address\":")) != 0)
        return rc;
    if (a == NULL) {
        rc = json_put_raw(b, "null");
    } else if ((rc = json_put_raw(b, "{")) == 0 &&
               (rc = json_field_str(b, true, "line1", a->line1)) == 0 &&
               (rc = json_field_str(b, false, "line2", a->line2)) == 0 &&
               (rc = json_field_str(b, false, "postal_code", a->postal_code)) ==
                   0 &&
               (rc = json_field_str(b, false, "city", a->city)) == 0 &&
               (rc = json_field_str(b, false, "country", a->country)) == 0) {
        rc = json_put_raw(b, "}");
    }
    if (rc != 0 || (rc = json_put_raw(b, ",\"household\":[")) != 0)
        return rc;
    for (size_t i = 0; i < s->n_household; i++) {
        const Dossier__V1__HouseholdMember *m = s->household[i];

        if ((rc = json_put_raw(b, i > 0 ? ",{" : "{")) != 0 ||
            (rc = json_field_str(b, true, "given_name", m->given_name)) != 0 ||
            (rc = json_field_str(b, false, "family_name", m->family_name)) !=
                0 ||
            (rc = json_field_date(b, "birth_date", m->birth_date)) != 0 ||
            (rc = json_field_str(b, false, "relation", m->relation)) != 0 ||
            (rc = json_put_raw(b, "}")) != 0)
            return rc;
    }
    return json_put_raw(b, "]}");
}

static int
json_document(struct buf *b, const Dossier__V1__DocumentMeta *m)
{
    char path[TAR_NAME_MAX + 32];
    int rc;

    export_doc_path(m, path, sizeof(path));
    if ((rc = json_put_raw(b, "{")) != 0 ||
        (rc = json_field_str(b, true, "document_id", m->document_id)) != 0 ||
        (rc = json_field_int(b, "version", m->version)) != 0 ||
        (rc = json_field_str(b, false, "type", m->type)) != 0 ||
        (rc = json_field_str(b, false, "issuer", m->issuer)) != 0 ||
        (rc = json_field_date(b, "issued", m->issued)) != 0 ||
        (rc = json_field_date(b, "valid_until", m->valid_until)) != 0 ||
        (rc = json_field_str(b, false, "supersedes", m->supersedes)) != 0 ||
        (rc = json_field_str(b, false, "media_type", m->media_type)) != 0 ||
        (rc = json_field_str(b, false, "file_name", m->file_name)) != 0 ||
        (rc = json_field_int(b, "size", m->size)) != 0 ||
        (rc = json_put_raw(b, ",\"sha256\":")) != 0 ||
        (rc = json_put_hex(b, m->sha256.data, m->sha256.len)) != 0 ||
        (rc = json_field_int(b, "deposited_unix", m->deposited_unix)) != 0 ||
        (rc = json_field_str(b, false, "path", path)) != 0)
        return rc;
    return json_put_raw(b, "}");
}

static int
json_fact(struct buf *b, const Dossier__V1__AgencyFact *f)
{
    int rc;

    if ((rc = json_put_raw(b, "{")) != 0 ||
        (rc = json_field_str(b, true, "type", f->type)) != 0 ||
        (rc = json_field_str(b, false, "value", f->value)) != 0 ||
        (rc = json_field_date(b, "effective", f->effective)) != 0 ||
        (rc = json_field_date(b, "valid_until", f->valid_until)) != 0 ||
        (rc = json_field_str(b, false, "issuer", f->issuer)) != 0)
        return rc;
    return json_put_raw(b, "}");
}

/* Builds manifest.json into |b|. */
static int
export_manifest(struct buf *b, const struct export *e, int64_t now,
                const Dossier__V1__GetSituationResponse *sit,
                Dossier__V1__AgencyFact *const *facts, size_t nfacts)
{
    char id[VAULT_ID_STR], when[32];
    time_t t = (time_t)now;
    struct tm tm;
    int rc;

    vault_id_format(&e->id, id);
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((rc = json_put_raw(b, "{")) != 0 ||
        (rc = json_field_str(b, true, "format", "dossierd-export-1")) != 0 ||
        (rc = json_field_str(b, false, "dossier_id", id)) != 0 ||
        (rc = json_field_str(b, false, "exported_at", when)) != 0 ||
        (rc = json_field_int(b, "exported_unix", now)) != 0 ||
        (rc = json_put_raw(b, ",\"documents\":[")) != 0)
        return rc;
    for (size_t i = 0; i < e->ndocs; i++)
        if ((i > 0 && (rc = json_put_raw(b, ",")) != 0) ||
            (rc = json_document(b, e->docs[i])) != 0)
            return rc;
    if ((rc = json_put_raw(b, "],\"facts\":[")) != 0)
        return rc;
    for (size_t i = 0; i < nfacts; i++)
        if ((i > 0 && (rc = json_put_raw(b, ",")) != 0) ||
            (rc = json_fact(b, facts[i])) != 0)
            return rc;
    if ((rc = json_put_raw(b, "],\"situation_history\":[")) != 0)
        return rc;
    /* Every revision, oldest first: the earlier ones, then the current. */
    for (size_t i = 0; sit != NULL && i < sit->n_history; i++)
        if ((i > 0 && (rc = json_put_raw(b, ",")) != 0) ||
            (rc = json_situation(b, sit->history[i])) != 0)
            return rc;
    if (sit != NULL && sit->current != NULL &&
        ((sit->n_history > 0 && (rc = json_put_raw(b, ",")) != 0) ||
         (rc = json_situation(b, sit->current)) != 0))
        return rc;
    return json_put_raw(b, "]}\n");
}

/* Appends one whole archive member |name| holding |content|. */
static int
export_member(struct buf *out, const char *name, const struct buf *content,
              int64_t mtime)
{
    int rc;

    if ((rc = tar_header_put(out, name, buf_size(content), mtime)) != 0 ||
        (rc = buf_append(out, buf_peek(content), buf_size(content))) != 0)
        return rc;
    return tar_pad_put(out, buf_size(content));
}

/*
 * Reads what the archive's first members need and writes them into
 * e->out: manifest.json and situation.json.  Returns 0 or an error.
 */
static int
export_begin(struct export *e, const char **what)
{
    struct vault *v = svc__ctx()->vault;
    Dossier__V1__GetSituationResponse *sit = NULL;
    Dossier__V1__AgencyFact **facts = NULL;
    size_t nfacts = 0;
    struct buf json;
    int64_t now = (int64_t)time(NULL);
    int rc;

    buf_init(&json);
    *what = "listing the documents";
    if ((rc = vault_doc_list(v, &e->p, NULL, true, &e->docs, &e->ndocs)) != 0)
        goto out;
    *what = "listing the facts";
    if ((rc = vault_fact_list(v, &e->p, NULL, &facts, &nfacts)) != 0)
        goto out;
    *what = "reading the situation";
    rc = vault_situation_get(v, &e->p, true, &sit);
    if (rc == ERR_NOTFOUND)
        sit = NULL;
    else if (rc != 0)
        goto out;
    *what = "writing the manifest";
    if ((rc = export_manifest(&json, e, now, sit, facts, nfacts)) != 0 ||
        (rc = export_member(&e->out, "manifest.json", &json, now)) != 0)
        goto out;
    buf_wipe(&json);
    if (sit != NULL && sit->current != NULL)
        rc = json_situation(&json, sit->current);
    else
        rc = json_put_raw(&json, "null");
    if (rc != 0 || (rc = json_put_raw(&json, "\n")) != 0 ||
        (rc = export_member(&e->out, "situation.json", &json, now)) != 0)
        goto out;
    rc = 0;
out:
    buf_wipe(&json);
    if (sit != NULL)
        dossier__v1__get_situation_response__free_unpacked(sit, NULL);
    for (size_t i = 0; i < nfacts; i++)
        protobuf_c_message_free_unpacked(&facts[i]->base, NULL);
    free(facts);
    return rc;
}

/* --- the pump -------------------------------------------------------- */

/*
 * Produces the next step of the archive into e->out.  Returns 0, or an
 * error after which the call has been finished.
 */
static int
export_step(struct call *c, struct export *e)
{
    struct vault *v = svc__ctx()->vault;
    const Dossier__V1__DocumentMeta *m;
    char path[TAR_NAME_MAX + 32];
    int rc;

    if (e->stage == EXPORT_END) {
        if ((rc = tar_end_put(&e->out)) != 0)
            return svc__fail(c, rc, "ending the archive");
        e->stage = EXPORT_DONE;
        return 0;
    }
    if (e->di == e->ndocs) {
        e->stage = EXPORT_END;
        return 0;
    }
    m = e->docs[e->di];
    if (!e->doc_open) {
        rc = vault_doc_open(v, &e->p, m->document_id, (uint32_t)m->version,
                            &e->doc);
        if (rc != 0)
            return svc__fail(c, rc, "opening a document");
        e->doc_open = true;
        e->chunk = 0;
        e->doc_bytes = 0;
        export_doc_path(e->doc.meta, path, sizeof(path));
        rc = tar_header_put(&e->out, path, (uint64_t)e->doc.meta->size,
                            e->doc.meta->deposited_unix);
        return rc != 0 ? svc__fail(c, rc, "writing the archive") : 0;
    }
    if (e->chunk < e->doc.chunks) {
        size_t len = vault_doc_chunk_len(&e->doc, e->chunk);
        uint8_t *p = buf_space(&e->out, len);

        rc = p != NULL ? vault_doc_chunk(v, &e->p, &e->doc, e->chunk, p)
                       : -ENOMEM;
        if (rc == ERR_CORRUPT || rc == ERR_NOTFOUND) {
            log_warnx("document=%s version=%d chunk=%u failed its "
                      "integrity check",
                      m->document_id, m->version, e->chunk);
            call_finish(c, RPC_DATA_LOSS,
                        "document %s failed its integrity check",
                        m->document_id);
            return ERR_CORRUPT;
        }
        if (rc != 0)
            return svc__fail(c, rc, "reading a document");
        buf_commit(&e->out, len);
        e->doc_bytes += len;
        e->chunk++;
        if (e->doc_bytes > (uint64_t)e->doc.meta->size)
            goto short_doc;
        return 0;
    }
    if (e->doc_bytes != (uint64_t)e->doc.meta->size)
        goto short_doc;
    if ((rc = tar_pad_put(&e->out, e->doc_bytes)) != 0)
        return svc__fail(c, rc, "writing the archive");
    vault_doc_close(&e->doc);
    e->doc_open = false;
    e->di++;
    return 0;
short_doc:
    log_warnx("document=%s version=%d content does not match its size",
              m->document_id, m->version);
    call_finish(c, RPC_DATA_LOSS, "document %s failed its integrity check",
                m->document_id);
    return ERR_CORRUPT;
}

/* Sends e->out in pieces, producing more while the queue is low. */
static void
export_pump(struct call *c)
{
    struct export *e = call_data(c);
    Dossier__V1__ExportChunk msg = DOSSIER__V1__EXPORT_CHUNK__INIT;
    size_t n;
    int rc;

    if (e == NULL || call_is_done(c))
        return;
    while (call_send_queued(c) < call_send_low_water(c)) {
        if (buf_size(&e->out) == 0) {
            /* Everything produced so far is sent: wipe what held it. */
            if (e->out.data != NULL)
                OPENSSL_cleanse(e->out.data, e->out.cap);
            buf_reset(&e->out);
            if (e->stage == EXPORT_DONE) {
                call_want_writable(c, false);
                call_finish(c, RPC_OK, NULL);
                return;
            }
            if (export_step(c, e) != 0) {
                call_want_writable(c, false);
                return;
            }
            continue;
        }
        n = buf_size(&e->out) < EXPORT_PIECE ? buf_size(&e->out) : EXPORT_PIECE;
        msg.data.data = (uint8_t *)buf_peek(&e->out);
        msg.data.len = n;
        if ((rc = call_send_msg(c, &msg.base)) != 0) {
            call_want_writable(c, false);
            svc__fail(c, rc, "sending the archive");
            return;
        }
        buf_consume(&e->out, n);
    }
    call_want_writable(c, true);
}

/* The export's audit entry is durable (or not): start, or refuse. */
static void
export_recorded(void *arg, int status)
{
    struct call *c = arg;

    if (status != 0)
        call_finish(c, RPC_UNAVAILABLE, "the export could not be recorded "
                                        "in the audit log; retry later");
    else if (!call_is_done(c)) {
        call_audit_recorded(c);
        export_pump(c);
    }
    call_unref(c);
}

void
svc__export_start(struct call *c, const uint8_t *msg, size_t len)
{
    Dossier__V1__ExportRequest *req;
    struct export *e = NULL;
    const char *what = "";
    char id[VAULT_ID_STR];
    int rc;

    req = dossier__v1__export_request__unpack(NULL, len, msg);
    if (req == NULL) {
        call_finish(c, RPC_INVALID_ARGUMENT, "ExportRequest does not parse");
        return;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL) {
        svc__fail(c, -ENOMEM, "starting the export");
        goto out;
    }
    buf_init(&e->out);
    e->stage = EXPORT_DOCS;
    call_set_data(c, e, export_free);
    if (svc__dossier(c, req->dossier_id, POLICY_EXPORT, &e->id) != 0 ||
        svc__open(c, &e->id, &e->p) != 0)
        goto out;
    if ((rc = export_begin(e, &what)) != 0) {
        svc__fail(c, rc, what);
        goto out;
    }
    vault_id_format(&e->id, id);
    log_info("export dossier=%s documents=%zu by=%s", id, e->ndocs,
             call_principal(c)->uri);
    /* The export is recorded, durably, before its first byte leaves. */
    call_audit_set(c, CALL_AUDIT_DOSSIER, id);
    {
        struct audit_entry ae;
        char action[64];

        svc_audit__entry(c, AUDIT_GRANTED, "", &ae, action, sizeof(action));
        call_ref(c);
        if ((rc = audit_record(svc__ctx()->audit, &ae, export_recorded, c)) !=
            0) {
            call_unref(c);
            call_finish(c, RPC_UNAVAILABLE, "the export could not be recorded "
                                            "in the audit log; retry later");
        }
    }
out:
    dossier__v1__export_request__free_unpacked(req, NULL);
}

void
svc__export_writable(struct call *c)
{
    export_pump(c);
}

void
svc__export_cancel(struct call *c)
{
    call_want_writable(c, false);
}
