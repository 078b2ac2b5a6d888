/*
 * server.c -- listener, method registry, signals and drain (see server.h).
 *
 * Drain (SIGTERM or SIGINT): stop accepting, tell every connection a
 * shutdown is coming (GOAWAY notice), half a second later send the final
 * GOAWAY, let calls in flight finish, and close what is left when the drain
 * timeout expires.  The loop ends when the last connection has closed.
 * SIGHUP builds a new TLS context from the same files; new connections use
 * it, established ones keep theirs.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uv.h>

#include "conn.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "server.h"
#include "tls.h"

#define SERVER_MAX_HOOKS 8
#define SERVER_SCRATCH (64 * 1024)
#define SERVER_GOAWAY_DELAY_MS 500

struct server_hook {
    server_hook_fn *fn;
    void *arg;
};

struct server {
    uv_loop_t *loop;
    struct server_config cfg;
    struct tls_ctx *tls;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t goaway_timer, drain_timer;
    uv_prepare_t log_flush; /* the loop's deferred log lines (log_defer) */
    bool listening;
    bool draining;
    bool stopped;
    const struct method **methods;
    size_t nmethods, methods_cap;
    struct conn *conns;
    size_t nconns;
    struct server_hook hooks[SERVER_MAX_HOOKS];
    size_t nhooks;
    struct server_hook reload_hooks[SERVER_MAX_HOOKS];
    size_t nreload_hooks;
    server_audit_fn *audit_fn;
    void *audit_arg;
    uint8_t read_buf[SERVER_SCRATCH];
    uint8_t plain_buf[SERVER_SCRATCH];
};

void
server_config_defaults(struct server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 7443;
    strcpy(cfg->trust_domain, "dossier.test");
    cfg->max_message = 4 * 1024 * 1024;
    cfg->max_streams = 100;
    cfg->max_header_list = 16 * 1024;
    cfg->stream_window = 1024 * 1024;
    cfg->conn_window = 16 * 1024 * 1024;
    cfg->max_connections = 20000;
    cfg->handshake_timeout_ms = 10 * 1000;
    cfg->drain_timeout_ms = 10 * 1000;
}

/* Allows as many descriptors as the hard limit permits: every idle
 * connection holds one. */
static void
server_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct server *
server_new(uv_loop_t *loop, const struct server_config *cfg, int *err)
{
    struct sockaddr_storage addr;
    struct server *s;
    int rc;

    if ((s = calloc(1, sizeof(*s))) == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    s->loop = loop;
    s->cfg = *cfg;
    if ((s->tls = tls_ctx_new_server(cfg->cert_file, cfg->key_file,
                                     cfg->ca_file, cfg->trust_domain, err)) ==
        NULL)
        goto fail;
    if (uv_ip4_addr(cfg->listen_host, cfg->listen_port,
                    (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(cfg->listen_host, cfg->listen_port,
                    (struct sockaddr_in6 *)&addr) != 0) {
        log_warnx("bad listen address host=%s", cfg->listen_host);
        *err = ERR_CONFIG;
        goto fail;
    }
    server_raise_nofile();
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listening = true;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) != 0) {
        log_warnx("cannot bind host=%s port=%d: %s", cfg->listen_host,
                  cfg->listen_port, uv_strerror(rc));
        *err = rc;
        goto fail;
    }
    return s;

fail:
    server_free(s);
    return NULL;
}

int
server_register(struct server *s, const struct method *m)
{
    const struct method **p;

    if (server_method(s, m->path, strlen(m->path)) != NULL)
        return ERR_EXISTS;
    if (s->nmethods == s->methods_cap) {
        size_t cap = s->methods_cap ? s->methods_cap * 2 : 32;
        if ((p = realloc(s->methods, cap * sizeof(*p))) == NULL)
            return -ENOMEM;
        s->methods = p;
        s->methods_cap = cap;
    }
    s->methods[s->nmethods++] = m;
    return 0;
}

const struct method *
server_method(const struct server *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nmethods; i++)
        if (strlen(s->methods[i]->path) == len &&
            memcmp(s->methods[i]->path, path, len) == 0)
            return s->methods[i];
    return NULL;
}

bool
server_service_enabled(const struct server *s, const char *service)
{
    if (strcmp(service, "dossier.v1.Diag") == 0)
        return s->cfg.diag;
    return true;
}

const struct server_config *
server_config(const struct server *s)
{
    return &s->cfg;
}

uv_loop_t *
server_loop(const struct server *s)
{
    return s->loop;
}

bool
server_is_draining(const struct server *s)
{
    return s->draining;
}

void
server_set_audit(struct server *s, server_audit_fn *fn, void *arg)
{
    s->audit_fn = fn;
    s->audit_arg = arg;
}

server_audit_fn *
server_audit(const struct server *s, void **arg)
{
    *arg = s->audit_arg;
    return s->audit_fn;
}

int
server_on_reload(struct server *s, server_hook_fn *fn, void *arg)
{
    if (s->nreload_hooks == SERVER_MAX_HOOKS)
        return -ENOSPC;
    s->reload_hooks[s->nreload_hooks].fn = fn;
    s->reload_hooks[s->nreload_hooks].arg = arg;
    s->nreload_hooks++;
    return 0;
}

int
server_on_drain(struct server *s, server_hook_fn *fn, void *arg)
{
    if (s->nhooks == SERVER_MAX_HOOKS)
        return -ENOSPC;
    s->hooks[s->nhooks].fn = fn;
    s->hooks[s->nhooks].arg = arg;
    s->nhooks++;
    return 0;
}

static void
server_on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    int rc;

    if (status < 0) {
        log_warnx("accept failed: %s", uv_strerror(status));
        return;
    }
    if ((rc = conn_accept(s, listener, s->tls)) != 0)
        log_warnx("accept failed: %s", err_str(rc));
}

/* Closes the signal handlers and timers so that the loop can end. */
static void
server_stop(struct server *s)
{
    if (s->stopped)
        return;
    s->stopped = true;
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    uv_close((uv_handle_t *)&s->goaway_timer, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_close((uv_handle_t *)&s->log_flush, NULL);
    log_info("stopped");
}

/* Before each wait for I/O: the log lines of the pass go out. */
static void
server_log_flush(uv_prepare_t *h)
{
    (void)h;
    log_flush();
}

static void
server_final_goaway(uv_timer_t *t)
{
    struct server *s = t->data;

    for (struct conn *c = s->conns; c != NULL; c = conn_next(c))
        conn_drain(c);
}

static void
server_drain_expired(uv_timer_t *t)
{
    struct server *s = t->data;
    struct conn *c = s->conns;

    if (c != NULL)
        log_warnx("drain timeout, closing connections count=%zu", s->nconns);
    while (c != NULL) {
        struct conn *next = conn_next(c);
        conn_close(c, "drain timeout");
        c = next;
    }
}

static void
server_drain(struct server *s)
{
    struct conn *c, *next;

    if (s->draining)
        return;
    s->draining = true;
    notify_stopping();
    log_info("draining connections=%zu timeout_ms=%llu", s->nconns,
             (unsigned long long)s->cfg.drain_timeout_ms);
    for (size_t i = 0; i < s->nhooks; i++)
        s->hooks[i].fn(s, s->hooks[i].arg);
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    for (c = s->conns; c != NULL; c = next) {
        next = conn_next(c);
        conn_drain(c);
    }
    if (s->nconns == 0) {
        server_stop(s);
        return;
    }
    uv_timer_start(&s->goaway_timer, server_final_goaway,
                   SERVER_GOAWAY_DELAY_MS, 0);
    uv_timer_start(&s->drain_timer, server_drain_expired,
                   s->cfg.drain_timeout_ms, 0);
}

/* The STATUS= line the service manager shows. */
static void
server_status(const struct server *s, char *out, size_t size)
{
    snprintf(out, size, "serving on %s port %d", s->cfg.listen_host,
             s->cfg.listen_port);
}

static void
server_reload(struct server *s)
{
    struct tls_ctx *ctx;
    char status[160];
    int err;

    notify_reloading();
    ctx = tls_ctx_new_server(s->cfg.cert_file, s->cfg.key_file,
                             s->cfg.ca_file, s->cfg.trust_domain, &err);
    if (ctx == NULL) {
        log_warnx("reload failed, keeping the current certificates: %s",
                  err_str(err));
    } else {
        tls_ctx_unref(s->tls);
        s->tls = ctx;
        log_info("reloaded certificates and CA");
    }
    for (size_t i = 0; i < s->nreload_hooks; i++)
        s->reload_hooks[i].fn(s, s->reload_hooks[i].arg);
    server_status(s, status, sizeof(status));
    notify_ready(status);
}

static void
server_on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;

    if (signum == SIGHUP)
        server_reload(s);
    else
        server_drain(s);
}

int
server__loop_slice(void)
{
    struct server_sched_attr a;

    memset(&a, 0, sizeof(a));
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0)
        return -errno;
    if (a.sched_policy != SCHED_OTHER)
        return 0;
    /* The rest as read: the policy, and the nice value an operator may
     * have set (Nice= in the unit). */
    a.size = sizeof(a);
    a.sched_flags = 0;
    a.sched_runtime = SERVER_LOOP_SLICE_NS;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
        return -errno;
    return 0;
}

int
server_run(struct server *s)
{
    int rc;

    if ((rc = server__loop_slice()) != 0)
        log_info("the event loop keeps the scheduler's default slice: %s",
                 err_str(rc));

    if ((rc = uv_listen((uv_stream_t *)&s->listener, 1024,
                        server_on_connection)) != 0) {
        log_warnx("cannot listen: %s", uv_strerror(rc));
        return rc;
    }
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sighup);
    uv_timer_init(s->loop, &s->goaway_timer);
    uv_timer_init(s->loop, &s->drain_timer);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    s->goaway_timer.data = s->drain_timer.data = s;
    uv_signal_start(&s->sigterm, server_on_signal, SIGTERM);
    uv_signal_start(&s->sigint, server_on_signal, SIGINT);
    uv_signal_start(&s->sighup, server_on_signal, SIGHUP);
    /* The loop logs a line per call: one write per pass instead. */
    uv_prepare_init(s->loop, &s->log_flush);
    uv_prepare_start(&s->log_flush, server_log_flush);
    uv_unref((uv_handle_t *)&s->log_flush);
    log_defer(true);
    log_info("listening host=%s port=%d trust_domain=%s", s->cfg.listen_host,
             s->cfg.listen_port, s->cfg.trust_domain);
    {
        char status[160];

        server_status(s, status, sizeof(status));
        notify_ready(status);
    }
    rc = uv_run(s->loop, UV_RUN_DEFAULT);
    log_defer(false); /* writes what is kept */
    return rc;
}

void
server_free(struct server *s)
{
    if (s == NULL)
        return;
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
        uv_run(s->loop, UV_RUN_NOWAIT);
    }
    tls_ctx_unref(s->tls);
    free(s->methods);
    free(s);
}

struct conn **
server__conns(struct server *s)
{
    return &s->conns;
}

void
server__conn_added(struct server *s)
{
    s->nconns++;
    metrics_conn_opened();
}

void
server__conn_gone(struct server *s)
{
    s->nconns--;
    metrics_conn_closed();
    if (s->draining && s->nconns == 0)
        server_stop(s);
}

size_t
server__conn_count(const struct server *s)
{
    return s->nconns;
}

uint8_t *
server__read_buffer(struct server *s)
{
    return s->read_buf;
}

uint8_t *
server__plain_buffer(struct server *s)
{
    return s->plain_buf;
}
