/*
 * svc_health.c -- grpc.health.v1.Health: Check and Watch.
 *
 * The status of a name is computed when asked, not stored: "" and every
 * service that svc_reflection_served() says the server serves are SERVING,
 * or NOT_SERVING once the server drains; any other name is unknown.  The
 * list of services comes from the embedded descriptor set, so a service
 * added to proto/ and registered is known here without touching this file.
 *
 * Each open Watch is kept in a list, holding a reference on its call.  A
 * watcher leaves the list, and drops its reference, exactly once: when the
 * call is cancelled (on_cancel) or when the drain ends it.  The status is
 * re-evaluated for every watcher whenever it may have changed (today only
 * at drain time) and sent only when it differs from the last one sent.
 *
 * Not done here: per-service health set by other modules (no module needs
 * it yet; health_notify() is where it would plug in).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

#include "call.h"
#include "err.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "svc_health.h"
#include "svc_reflection.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus health_status;

#define ST_SERVING                                                             \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define ST_NOT_SERVING                                                         \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define ST_SERVICE_UNKNOWN                                                     \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

struct watcher;

/* The health state of one server. */
struct health {
    struct server *s;
    const struct refl_index *idx;
    struct watcher *watchers; /* open Watch calls, each holding a ref */
    struct health *next;
};

/* One open Watch; it is the call's data, freed with the call. */
struct watcher {
    struct health *h;
    struct call *c;
    const char *service; /* "" or a name owned by the index; NULL: unknown */
    health_status last;  /* last status sent */
    bool linked;
    struct watcher *prev, *next;
};

/* Every server with a health service.  Normally one; the list lets the
 * handlers find their state from call_server() without a global per
 * server in server.h. */
static struct health *healths;

static struct health *
health_of(const struct server *s)
{
    for (struct health *h = healths; h != NULL; h = h->next)
        if (h->s == s)
            return h;
    return NULL;
}

/*
 * Looks |service| up among the known names.  Returns "" or the index's
 * copy of the name (valid for the process's lifetime), or NULL if the name
 * is unknown.
 */
static const char *
health_known(const struct health *h, const char *service)
{
    if (*service == '\0')
        return "";
    for (size_t i = 0; i < refl_index_service_count(h->idx); i++) {
        const struct refl_service *svc = refl_index_service(h->idx, i);
        if (strcmp(svc->name, service) == 0)
            return svc_reflection_served(h->s, svc) ? svc->name : NULL;
    }
    return NULL;
}

/* The status of a known name (|known| non-NULL), or SERVICE_UNKNOWN. */
static health_status
health_status_of(const struct health *h, const char *known)
{
    if (known == NULL)
        return ST_SERVICE_UNKNOWN;
    return server_is_draining(h->s) ? ST_NOT_SERVING : ST_SERVING;
}

static int
health_send(struct call *c, health_status st)
{
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

    resp.status = st;
    return call_send_msg(c, &resp.base);
}

static Grpc__Health__V1__HealthCheckRequest *
health_unpack(struct call *c, const uint8_t *msg, size_t len)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, len, msg);

    if (req == NULL)
        call_finish(c, RPC_INVALID_ARGUMENT,
                    "HealthCheckRequest does not parse");
    return req;
}

/* --- Check --------------------------------------------------------------- */

static void
health_check(struct call *c, const uint8_t *msg, size_t len)
{
    struct health *h = health_of(call_server(c));
    Grpc__Health__V1__HealthCheckRequest *req;
    const char *known;
    int rc;

    if (h == NULL) {
        call_finish(c, RPC_INTERNAL, "health service not set up");
        return;
    }
    if ((req = health_unpack(c, msg, len)) == NULL)
        return;
    known = health_known(h, req->service);
    if (known == NULL) {
        call_finish(c, RPC_NOT_FOUND, "unknown service: %.200s", req->service);
        goto out;
    }
    rc = health_send(c, health_status_of(h, known));
    if (rc == 0)
        call_finish(c, RPC_OK, NULL);
    else if (rc != -ECANCELED)
        call_fail(c, rc, "health answer failed: %s", err_str(rc));
out:
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

/* --- Watch --------------------------------------------------------------- */

static void
watcher_link(struct health *h, struct watcher *w)
{
    w->prev = NULL;
    w->next = h->watchers;
    if (h->watchers != NULL)
        h->watchers->prev = w;
    h->watchers = w;
    w->linked = true;
}

static void
watcher_unlink(struct watcher *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->h->watchers = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

/*
 * Sends each watcher its status if it changed.  Where the status could
 * change at run time (a module reporting itself down), this is what it
 * would call.
 */
static void
health_notify(struct health *h)
{
    for (struct watcher *w = h->watchers; w != NULL; w = w->next) {
        health_status st = health_status_of(h, w->service);
        if (st != w->last && health_send(w->c, st) == 0)
            w->last = st;
    }
}

static void
health_watch(struct call *c, const uint8_t *msg, size_t len)
{
    struct health *h = health_of(call_server(c));
    Grpc__Health__V1__HealthCheckRequest *req;
    struct watcher *w;
    int rc;

    if (h == NULL) {
        call_finish(c, RPC_INTERNAL, "health service not set up");
        return;
    }
    if ((req = health_unpack(c, msg, len)) == NULL)
        return;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        call_fail(c, -ENOMEM, "out of memory");
        goto out;
    }
    w->h = h;
    w->c = c;
    /* Only known names are kept, and those point into the index: an
     * unknown name of any length costs nothing to watch. */
    w->service = health_known(h, req->service);
    w->last = health_status_of(h, w->service);
    call_set_data(c, w, free);

    rc = health_send(c, w->last);
    if (rc != 0) {
        if (rc != -ECANCELED)
            call_fail(c, rc, "health answer failed: %s", err_str(rc));
        goto out;
    }
    if (server_is_draining(h->s)) {
        /* The drain hook has run already: say NOT_SERVING and end now. */
        if (w->last != ST_NOT_SERVING)
            health_send(c, ST_NOT_SERVING);
        call_finish(c, RPC_OK, NULL);
        goto out;
    }
    if (call_is_done(c))
        goto out; /* ended meanwhile: on_cancel will not come again */
    call_ref(c);
    watcher_link(h, w);
out:
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

static void
health_watch_cancel(struct call *c)
{
    struct watcher *w = call_data(c);

    if (w == NULL || !w->linked)
        return;
    watcher_unlink(w);
    call_unref(c); /* may free the call and |w| with it */
}

/* The client half-closed after its one request: a Watch stays open. */
static void
health_watch_half_close(struct call *c)
{
}

static void
health_drain(struct server *s, void *arg)
{
    struct health *h = arg;
    struct watcher *w;

    health_notify(h); /* every status is now NOT_SERVING or unknown */
    while ((w = h->watchers) != NULL) {
        struct call *c = w->c;

        watcher_unlink(w);
        if (w->last != ST_NOT_SERVING)
            health_send(c, ST_NOT_SERVING);
        call_finish(c, RPC_OK, NULL);
        call_unref(c);
    }
}

static const struct method health_check_method = {
    .path = "/grpc.health.v1.Health/Check",
    .kind = CALL_UNARY,
    .audit = CALL_AUDIT_NONE, /* no dossier data */
    .on_message = health_check,
};

static const struct method health_watch_method = {
    .path = "/grpc.health.v1.Health/Watch",
    .kind = CALL_SERVER_STREAM,
    .audit = CALL_AUDIT_NONE, /* no dossier data */
    .on_message = health_watch,
    .on_half_close = health_watch_half_close,
    .on_cancel = health_watch_cancel,
};

int
svc_health_register(struct server *s)
{
    const struct refl_index *idx = refl_index_embedded();
    struct health *h;
    int rc;

    if (idx == NULL)
        return ERR_INVALID;
    /* A state left by a freed server at the same address is reused:
     * server.h has no hook to tell us a server is gone, and a drained
     * server has no watchers left.  A second registration on a live
     * server fails in server_register() with ERR_EXISTS. */
    if ((h = health_of(s)) == NULL) {
        if ((h = calloc(1, sizeof(*h))) == NULL)
            return -ENOMEM;
        h->s = s;
        h->next = healths;
        healths = h;
    }
    h->idx = idx;
    h->watchers = NULL;
    /* The drain hook cannot be removed once added, so it goes last; on
     * any failure the state stays linked (registered methods use it) and
     * the caller gives up starting. */
    if ((rc = server_register(s, &health_check_method)) != 0 ||
        (rc = server_register(s, &health_watch_method)) != 0 ||
        (rc = server_on_drain(s, health_drain, h)) != 0) {
        log_warnx("cannot register the health service: %s", err_str(rc));
        return rc;
    }
    return 0;
}
