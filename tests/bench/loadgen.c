/*
 * loadgen.c -- dossier-loadgen: options, worker threads, pacing, report.
 *
 * Closed loop (default): every connection keeps M streams in flight until
 * the request count (-n) is reached or the duration (-D) is over.  Open
 * loop (--rate R): requests are due at fixed intervals whatever the
 * server does, and each latency counts from the time its request was due
 * (a request waiting for a free stream is late, and that lateness is part
 * of its latency), so a slow server cannot hide its queueing.  --hold S
 * opens the connections and holds them idle for S seconds.
 *
 * Latencies go into one log-linear histogram per thread (hist.h), merged
 * at the end.  See usage() for the options; the report is a few lines of
 * text and, with --json, one JSON object on the last line.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "loadgen.h"

/* Open loop: the shortest wait between two wake-ups to send (see
 * worker_main). */
#define LG_TICK_NS 200000ull

_Atomic int64_t lg_remaining;
static _Atomic int lg_ready_total;
static _Atomic int lg_failed_total;
static pthread_barrier_t lg_barrier;
static uint64_t lg_start_ns; /* set by worker 0 between two barriers */
static uint64_t lg_end_submit_ns;
static bool lg_json;
static const char *lg_label = "";

static char lg_tfd_marker; /* epoll data of a worker's timerfd */

uint64_t
lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
lg_worker_error(struct lg_worker *w, const char *fmt, ...)
{
    va_list ap;

    if (w->first_error[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
    va_end(ap);
}

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: dossier-loadgen --connect HOST:PORT --ca FILE --cert FILE "
        "--key FILE\n"
        "         (--grpc PATH --body FILE... | --grpc PATH --frames FILE | "
        "--get PATH)\n"
        "         [-c CONNS] [-m STREAMS] [-t THREADS] [-n REQUESTS | -D "
        "SECONDS]\n"
        "         [--rate REQ_PER_S] [--warmup SECONDS] [--hold SECONDS] "
        "[--json]\n"
        "utilisation : les mêmes options (générateur de charge HTTP/2 sur "
        "TLS mutuel)\n"
        "\n"
        "  --connect HOST:PORT   server (IPv4 address)\n"
        "  --sni NAME            TLS server name, checked against the "
        "certificate (localhost)\n"
        "  --ca --cert --key     server CA, client certificate and key (PEM)\n"
        "  --grpc PATH           gRPC method (/pkg.Service/Method)\n"
        "  --body FILE           one protobuf message (raw bytes), framed by "
        "the tool;\n"
        "                        repeat for several messages in one request "
        "(client stream)\n"
        "  --frames FILE         gRPC-framed messages, one per request, used "
        "in turn\n"
        "  --frames-per-request K  K consecutive messages of --frames make "
        "one request (1)\n"
        "  --get PATH            plain GET instead of gRPC\n"
        "  -c, --connections N   connections (1)\n"
        "  -m, --streams M       concurrent streams per connection (1)\n"
        "  -t, --threads T       threads, each with its own connections (1)\n"
        "  -n, --requests N      requests to complete (default: by "
        "duration)\n"
        "  -D, --duration S      seconds of load (default 5)\n"
        "  --warmup S            seconds at the start not recorded\n"
        "  --rate R              open loop: R requests/s in total\n"
        "  --hold S              open the connections, hold them idle S "
        "seconds\n"
        "                        (prints \"ready N\" once N are up)\n"
        "  --window-bits N       our HTTP/2 windows: 2^N-1 (24)\n"
        "  --connect-parallel N  handshakes in flight per thread (64)\n"
        "  --save FILE           append the DATA of every successful "
        "response to\n"
        "                        FILE.N (N: thread number)\n"
        "  --json                also print one JSON line\n"
        "  --label TEXT          label of the JSON line\n");
}

/* --- the worker ----------------------------------------------------------- */

static bool
worker_take(void)
{
    return atomic_fetch_sub(&lg_remaining, 1) > 0;
}

static void
backlog_push(struct lg_worker *w, uint64_t t)
{
    if (w->bl_len == w->bl_cap) {
        w->dropped++;
        return;
    }
    w->backlog[(w->bl_head + w->bl_len) % w->bl_cap] = t;
    w->bl_len++;
}

/* Open loop: starts due requests while some connection has a free
 * stream. */
static void
worker_dispatch(struct lg_worker *w)
{
    while (w->bl_len > 0) {
        bool sent = false;
        for (int k = 0; k < w->nconns; k++) {
            struct lg_conn *c = &w->conns[(w->rr + k) % w->nconns];
            if (lg_conn_submit(c, w->backlog[w->bl_head])) {
                w->rr = (w->rr + k + 1) % w->nconns;
                sent = true;
                break;
            }
        }
        if (!sent)
            return;
        w->bl_head = (w->bl_head + 1) % w->bl_cap;
        w->bl_len--;
    }
}

/* Closed loop: fills |c| up to its stream limit. */
static void
worker_fill(struct lg_worker *w, struct lg_conn *c)
{
    while (w->submitting && c->state == LG_READY &&
           c->active < c->max_streams) {
        if (w->cfg->requests == 0 && lg_now_ns() >= lg_end_submit_ns) {
            w->submitting = false;
            return;
        }
        if (!worker_take()) {
            w->submitting = false;
            return;
        }
        if (!lg_conn_submit(c, lg_now_ns())) {
            atomic_fetch_add(&lg_remaining, 1);
            return;
        }
    }
}

void
lg_worker_stream_done(struct lg_worker *w, struct lg_stream *s,
                      uint32_t error_code)
{
    const struct lg_config *cfg = w->cfg;
    uint64_t now = lg_now_ns();
    bool ok = false;

    if (error_code != 0) {
        w->n.fail_reset++;
        lg_worker_error(w, "stream reset (HTTP/2 error %u)", error_code);
    } else if (s->http != 200) {
        w->n.fail_http++;
        lg_worker_error(w, "HTTP status %d", s->http);
    } else if (cfg->grpc && s->grpc != 0) {
        w->n.fail_grpc++;
        lg_worker_error(w, "grpc-status %d (grpc-message: %s)", s->grpc,
                        w->grpc_message);
    } else {
        ok = true;
        w->n.ok++;
    }
    if (ok && w->save != NULL && s->keeplen > 0)
        fwrite(s->keep, 1, s->keeplen, w->save);
    s->keeplen = 0;
    if (ok && s->t0 >= w->measure_from && w->measure_from != 0) {
        hist_record(&w->hist, now > s->t0 ? now - s->t0 : 0);
        hist_record(&w->send_hist, s->sent > s->t0 ? s->sent - s->t0 : 0);
        w->n.recorded++;
        w->n.rx_bytes += s->rx;
        w->n.tx_bytes += s->body ? s->body->len : 0;
        w->n.last_done_ns = now;
    }
    if (cfg->rate > 0)
        worker_dispatch(w);
    else if (s->conn->state == LG_READY)
        worker_fill(w, s->conn);
}

void
lg_worker_conn_ready(struct lg_worker *w, struct lg_conn *c)
{
    w->nready++;
    w->nconnecting--;
}

void
lg_worker_conn_closed(struct lg_worker *w, struct lg_conn *c)
{
    w->n.fail_conn++;
    w->nfailed++;
    if (c->was_ready)
        w->nready--;
    else
        w->nconnecting--;
}

/* Starts handshakes up to the parallel limit. */
static void
worker_connect_more(struct lg_worker *w)
{
    while (w->nnext < w->nconns &&
           w->nconnecting < w->cfg->connect_parallel) {
        struct lg_conn *c = &w->conns[w->nnext++];
        w->nconnecting++;
        lg_conn_start(w, c);
    }
}

static void
worker_flush_dirty(struct lg_worker *w)
{
    for (int i = 0; i < w->ndirty; i++) {
        struct lg_conn *c = w->dirty[i];
        c->dirty = false;
        lg_conn_flush(c);
    }
    w->ndirty = 0;
}

static void
worker_timer_arm(struct lg_worker *w, uint64_t at)
{
    struct itimerspec its = {0};

    if (at == w->timer_at)
        return; /* armed already: no syscall per event */
    w->timer_at = at;

    its.it_value.tv_sec = (time_t)(at / 1000000000ull);
    its.it_value.tv_nsec = (long)(at % 1000000000ull);
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* One pass of the epoll loop, waiting at most |ms|. */
static void
worker_poll(struct lg_worker *w, int ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(w->epfd, ev, 256, ms);

    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == &lg_tfd_marker) {
            uint64_t x;
            if (read(w->tfd, &x, sizeof(x)) < 0) {
                /* spurious */
            }
            continue;
        }
        lg_conn_on_event(ev[i].data.ptr, ev[i].events);
    }
    worker_flush_dirty(w);
}

static int
worker_active(const struct lg_worker *w)
{
    int a = 0;

    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state != LG_CLOSED)
            a += w->conns[i].active;
    return a;
}

static void *
worker_main(void *arg)
{
    struct lg_worker *w = arg;
    const struct lg_config *cfg = w->cfg;
    struct epoll_event e;
    uint64_t next = 0, interval = 0, grace_end, stopped_at = 0;

    prctl(PR_SET_TIMERSLACK, 1UL);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    e.events = EPOLLIN;
    e.data.ptr = &lg_tfd_marker;
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &e);

    /* Connect everything first; the clock starts once all are up. */
    worker_connect_more(w);
    while (w->nready + w->nfailed < w->nconns) {
        worker_poll(w, 100);
        worker_connect_more(w);
    }
    atomic_fetch_add(&lg_ready_total, w->nready);
    atomic_fetch_add(&lg_failed_total, w->nfailed);
    pthread_barrier_wait(&lg_barrier);
    if (w->id == 0) {
        lg_start_ns = lg_now_ns();
        lg_end_submit_ns =
            lg_start_ns + (uint64_t)((cfg->warmup + cfg->duration) * 1e9);
        if (cfg->hold > 0) {
            printf("ready %d\n", atomic_load(&lg_ready_total));
            fflush(stdout);
        }
    }
    pthread_barrier_wait(&lg_barrier);

    if (cfg->hold > 0) {
        uint64_t end = lg_start_ns + (uint64_t)(cfg->hold * 1e9);
        while (lg_now_ns() < end)
            worker_poll(w, 100);
        return NULL;
    }

    w->measure_from = lg_start_ns + (uint64_t)(cfg->warmup * 1e9);
    if (w->measure_from == 0)
        w->measure_from = 1;
    w->submitting = true;
    if (cfg->rate > 0) {
        interval = (uint64_t)(1e9 * cfg->threads / cfg->rate);
        if (interval == 0)
            interval = 1;
        /* Threads start out of phase, so that their requests interleave. */
        next = lg_start_ns + interval * (uint64_t)w->id / (uint64_t)cfg->threads;
        worker_timer_arm(w, next);
    } else {
        for (int i = 0; i < w->nconns; i++)
            worker_fill(w, &w->conns[i]);
        worker_flush_dirty(w);
    }
    for (;;) {
        if (cfg->rate > 0 && w->submitting) {
            uint64_t now = lg_now_ns();
            while (next <= now && w->submitting) {
                if ((cfg->requests == 0 && next >= lg_end_submit_ns) ||
                    !worker_take()) {
                    w->submitting = false;
                    break;
                }
                backlog_push(w, next);
                next += interval;
            }
            worker_dispatch(w);
            worker_flush_dirty(w);
            /* The next wake-up at the next due time, but no sooner than
             * a tick after this one: requests due within a tick go out
             * together, one write per connection, instead of one timer
             * expiry, one TLS record and one syscall each, which made
             * this tool take most of a core away from the server it
             * measures.  A request sent late by the tick counts that
             * lateness in its latency (it is timed from when it was due). */
            if (w->submitting)
                worker_timer_arm(w, next > now + LG_TICK_NS ? next
                                                             : now + LG_TICK_NS);
        }
        if (!w->submitting && w->bl_len == 0 && worker_active(w) == 0)
            break;
        if (w->nready == 0 || w->nfailed >= w->nconns)
            break;
        if (cfg->rate == 0 && w->submitting && cfg->requests == 0 &&
            lg_now_ns() >= lg_end_submit_ns)
            w->submitting = false;
        if (!w->submitting && stopped_at == 0)
            stopped_at = lg_now_ns();
        if (!w->submitting && lg_now_ns() > stopped_at + 30000000000ull) {
            /* 30 s after the last request started: the rest count as
             * failed (timed out), not as silently missing. */
            w->n.fail_timeout += (uint64_t)worker_active(w) + w->bl_len;
            lg_worker_error(w, "%d requests without an answer 30 s after "
                            "the last one was sent", worker_active(w));
            break;
        }
        worker_poll(w, 50);
    }
    grace_end = lg_now_ns();
    (void)grace_end;
    return NULL;
}

/* --- options and inputs --------------------------------------------------- */

static int
read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *p;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "dossier-loadgen: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    p = malloc((size_t)st.st_size + 1);
    if (p == NULL || fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "dossier-loadgen: cannot read %s\n", path);
        free(p);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = p;
    *len = (size_t)st.st_size;
    return 0;
}

/* Appends message |m| with its 5-byte gRPC prefix to |b|. */
static int
body_append_framed(struct lg_body *b, const uint8_t *m, size_t n)
{
    uint8_t *p = realloc(b->data, b->len + 5 + n);

    if (p == NULL || n > UINT32_MAX)
        return -1;
    p[b->len] = 0;
    p[b->len + 1] = (uint8_t)(n >> 24);
    p[b->len + 2] = (uint8_t)(n >> 16);
    p[b->len + 3] = (uint8_t)(n >> 8);
    p[b->len + 4] = (uint8_t)n;
    memcpy(p + b->len + 5, m, n);
    b->data = p;
    b->len += 5 + n;
    return 0;
}

/* Splits a file of gRPC-framed messages into one body per message. */
static int
frames_load(const char *path, size_t per, struct lg_config *cfg)
{
    uint8_t *d;
    size_t len, off = 0, n = 0;

    if (read_file(path, &d, &len) != 0)
        return -1;
    while (off + 5 <= len) {
        size_t m = ((size_t)d[off + 1] << 24) | ((size_t)d[off + 2] << 16) |
                   ((size_t)d[off + 3] << 8) | d[off + 4];
        if (off + 5 + m > len)
            break;
        off += 5 + m;
        n++;
    }
    if (off != len || n == 0 || n % per != 0) {
        fprintf(stderr, "dossier-loadgen: %s: not a sequence of gRPC-framed "
                        "messages, %zu per request (%zu messages, %zu of "
                        "%zu bytes read)\n", path, per, n, off, len);
        free(d);
        return -1;
    }
    cfg->bodies = calloc(n / per, sizeof(*cfg->bodies));
    if (cfg->bodies == NULL)
        return -1;
    off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = ((size_t)d[off + 1] << 24) | ((size_t)d[off + 2] << 16) |
                   ((size_t)d[off + 3] << 8) | d[off + 4];
        /* The file stays allocated: bodies point into it. */
        if (i % per == 0)
            cfg->bodies[i / per].data = d + off;
        cfg->bodies[i / per].len += 5 + m;
        off += 5 + m;
    }
    cfg->nbodies = n / per;
    return 0;
}

static SSL_CTX *
tls_ctx_new(const char *ca, const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = "\x02h2";

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_set_alpn_protos(ctx, alpn, 3) != 0) {
        unsigned long e = ERR_get_error();
        fprintf(stderr, "dossier-loadgen: TLS set-up failed (%s, %s, %s): "
                        "%s\n", ca, cert, key,
                e ? ERR_reason_error_string(e) : "?");
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* No session cache: every connection makes a full handshake. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

enum {
    O_CONNECT = 256, O_SNI, O_CA, O_CERT, O_KEY, O_GRPC, O_BODY, O_FRAMES,
    O_GET, O_SAVE, O_PER, O_WARMUP, O_RATE, O_HOLD, O_WINDOW, O_PARALLEL, O_JSON, O_LABEL,
    O_HELP,
};

static const struct option opts[] = {
    {"connect", required_argument, NULL, O_CONNECT},
    {"sni", required_argument, NULL, O_SNI},
    {"ca", required_argument, NULL, O_CA},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"grpc", required_argument, NULL, O_GRPC},
    {"body", required_argument, NULL, O_BODY},
    {"frames", required_argument, NULL, O_FRAMES},
    {"get", required_argument, NULL, O_GET},
    {"connections", required_argument, NULL, 'c'},
    {"streams", required_argument, NULL, 'm'},
    {"threads", required_argument, NULL, 't'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'D'},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"rate", required_argument, NULL, O_RATE},
    {"hold", required_argument, NULL, O_HOLD},
    {"window-bits", required_argument, NULL, O_WINDOW},
    {"connect-parallel", required_argument, NULL, O_PARALLEL},
    {"json", no_argument, NULL, O_JSON},
    {"save", required_argument, NULL, O_SAVE},
    {"frames-per-request", required_argument, NULL, O_PER},
    {"label", required_argument, NULL, O_LABEL},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static bool
num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static int
parse(int argc, char **argv, struct lg_config *cfg, const char **ca,
      const char **cert, const char **key)
{
    struct lg_body one = {0};
    const char *frames = NULL;
    bool have_body = false;
    size_t per = 1;
    double v;
    int o;

    memset(cfg, 0, sizeof(*cfg));
    cfg->conns = cfg->streams = cfg->threads = 1;
    cfg->duration = 5;
    cfg->window_bits = 24;
    cfg->connect_parallel = 64;
    snprintf(cfg->sni, sizeof(cfg->sni), "localhost");
    while ((o = getopt_long(argc, argv, "c:m:t:n:D:", opts, NULL)) != -1) {
        bool ok = true;
        switch (o) {
        case O_CONNECT: {
            const char *colon = strrchr(optarg, ':');
            ok = colon != NULL && (size_t)(colon - optarg) < sizeof(cfg->host) &&
                 num(colon + 1, 1, 65535, &v);
            if (ok) {
                memcpy(cfg->host, optarg, (size_t)(colon - optarg));
                cfg->host[colon - optarg] = '\0';
                cfg->port = (int)v;
            }
            break;
        }
        case O_SNI:
            snprintf(cfg->sni, sizeof(cfg->sni), "%s", optarg);
            break;
        case O_CA: *ca = optarg; break;
        case O_CERT: *cert = optarg; break;
        case O_KEY: *key = optarg; break;
        case O_GRPC:
        case O_GET:
            ok = optarg[0] == '/' && strlen(optarg) < sizeof(cfg->path);
            snprintf(cfg->path, sizeof(cfg->path), "%s", optarg);
            cfg->grpc = o == O_GRPC;
            break;
        case O_BODY: {
            uint8_t *d;
            size_t n;
            ok = read_file(optarg, &d, &n) == 0 &&
                 body_append_framed(&one, d, n) == 0;
            if (ok)
                free(d);
            have_body = true;
            break;
        }
        case O_FRAMES: frames = optarg; break;
        case 'c': ok = num(optarg, 1, 100000, &v); cfg->conns = (int)v; break;
        case 'm': ok = num(optarg, 1, 1000, &v); cfg->streams = (int)v; break;
        case 't': ok = num(optarg, 1, 256, &v); cfg->threads = (int)v; break;
        case 'n': ok = num(optarg, 1, 1e12, &v); cfg->requests = (uint64_t)v; break;
        case 'D': ok = num(optarg, 0.01, 1e6, &cfg->duration); break;
        case O_WARMUP: ok = num(optarg, 0, 1e6, &cfg->warmup); break;
        case O_RATE: ok = num(optarg, 0.001, 1e8, &cfg->rate); break;
        case O_HOLD: ok = num(optarg, 0.001, 1e6, &cfg->hold); break;
        case O_WINDOW: ok = num(optarg, 16, 30, &v); cfg->window_bits = (int)v; break;
        case O_PARALLEL: ok = num(optarg, 1, 100000, &v); cfg->connect_parallel = (int)v; break;
        case O_JSON: lg_json = true; break;
        case O_SAVE: cfg->save = optarg; break;
        case O_PER: ok = num(optarg, 1, 1e6, &v); per = (size_t)v; break;
        case O_LABEL: lg_label = optarg; break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (!ok) {
            fprintf(stderr, "dossier-loadgen: bad value for --%s: %s\n"
                            "dossier-loadgen : valeur incorrecte pour --%s : "
                            "%s\n", argv[optind - 1], optarg,
                    argv[optind - 1], optarg);
            return -1;
        }
    }
    if (optind != argc || cfg->host[0] == '\0' || *ca == NULL ||
        *cert == NULL || *key == NULL ||
        (cfg->path[0] == '\0' && cfg->hold == 0)) {
        fprintf(stderr, "dossier-loadgen: --connect, --ca, --cert, --key and "
                        "--grpc or --get are required (--help)\n"
                        "dossier-loadgen : --connect, --ca, --cert, --key et "
                        "--grpc ou --get sont obligatoires (--help)\n");
        return -1;
    }
    if (cfg->grpc) {
        if (frames != NULL) {
            if (have_body || frames_load(frames, per, cfg) != 0) {
                fprintf(stderr, "dossier-loadgen: give --body or --frames, "
                                "not both\n");
                return -1;
            }
        } else {
            if (!have_body) /* an empty message */
                body_append_framed(&one, NULL, 0);
            cfg->bodies = calloc(1, sizeof(*cfg->bodies));
            if (cfg->bodies == NULL)
                return -1;
            cfg->bodies[0] = one;
            cfg->nbodies = 1;
        }
    }
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    snprintf(cfg->authority, sizeof(cfg->authority), "%s:%d", cfg->sni,
             cfg->port);
    return 0;
}

/* --- main and report ------------------------------------------------------ */

int
main(int argc, char **argv)
{
    struct lg_config cfg;
    const char *ca = NULL, *cert = NULL, *key = NULL;
    struct lg_worker **ws;
    struct lg_counts tot = {0};
    struct hist *h, *sh;
    struct rlimit rl;
    uint64_t measure_from, end = 0, dropped = 0;
    double secs;
    char err[256] = "";
    int rc = 0;

    signal(SIGPIPE, SIG_IGN);
    if (parse(argc, argv, &cfg, &ca, &cert, &key) != 0)
        return 2;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((cfg.ssl_ctx = tls_ctx_new(ca, cert, key)) == NULL)
        return 2;
    atomic_store(&lg_remaining,
                 cfg.requests ? (int64_t)cfg.requests : INT64_MAX / 2);
    pthread_barrier_init(&lg_barrier, NULL, (unsigned)cfg.threads);
    ws = calloc((size_t)cfg.threads, sizeof(*ws));
    h = malloc(sizeof(*h));
    sh = malloc(sizeof(*sh));
    if (ws == NULL || h == NULL || sh == NULL)
        return 2;
    hist_init(h);
    hist_init(sh);
    for (int i = 0; i < cfg.threads; i++) {
        struct lg_worker *w = calloc(1, sizeof(*w));
        if (w == NULL)
            return 2;
        w->id = i;
        w->cfg = &cfg;
        w->nconns = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);
        w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
        w->dirty = calloc((size_t)w->nconns, sizeof(*w->dirty));
        w->bl_cap = 1u << 20;
        w->backlog = cfg.rate > 0 ? calloc(w->bl_cap, sizeof(uint64_t)) : NULL;
        if (w->conns == NULL || w->dirty == NULL ||
            (cfg.rate > 0 && w->backlog == NULL))
            return 2;
        hist_init(&w->hist);
        hist_init(&w->send_hist);
        if (cfg.save != NULL) {
            char name[4200];
            snprintf(name, sizeof(name), "%s.%d", cfg.save, i);
            if ((w->save = fopen(name, "wb")) == NULL) {
                fprintf(stderr, "dossier-loadgen: %s: %s\n", name,
                        strerror(errno));
                return 2;
            }
        }
        ws[i] = w;
    }
    pthread_t *th = calloc((size_t)cfg.threads, sizeof(*th));
    if (th == NULL)
        return 2;
    for (int i = 0; i < cfg.threads; i++) {
        if (pthread_create(&th[i], NULL, worker_main, ws[i]) != 0) {
            fprintf(stderr, "dossier-loadgen: cannot start a thread\n");
            return 2;
        }
    }
    for (int i = 0; i < cfg.threads; i++)
        pthread_join(th[i], NULL);

    measure_from = lg_start_ns + (uint64_t)(cfg.warmup * 1e9);
    for (int i = 0; i < cfg.threads; i++) {
        struct lg_worker *w = ws[i];
        tot.started += w->n.started;
        tot.ok += w->n.ok;
        tot.fail_http += w->n.fail_http;
        tot.fail_grpc += w->n.fail_grpc;
        tot.fail_reset += w->n.fail_reset;
        tot.fail_timeout += w->n.fail_timeout;
        tot.recorded += w->n.recorded;
        tot.rx_bytes += w->n.rx_bytes;
        tot.tx_bytes += w->n.tx_bytes;
        if (w->n.last_done_ns > end)
            end = w->n.last_done_ns;
        dropped += w->dropped;
        hist_merge(h, &w->hist);
        hist_merge(sh, &w->send_hist);
        if (w->save != NULL && fclose(w->save) != 0) {
            fprintf(stderr, "dossier-loadgen: --save: write failed\n");
            rc = 1;
        }
        if (err[0] == '\0' && w->first_error[0] != '\0')
            snprintf(err, sizeof(err), "%s", w->first_error);
    }
    int ready = atomic_load(&lg_ready_total);
    int failed_conns = atomic_load(&lg_failed_total);
    uint64_t failed =
        tot.fail_http + tot.fail_grpc + tot.fail_reset + tot.fail_timeout;
    if (cfg.hold > 0) {
        printf("held %d connections for %.1f s (%d failed)\n", ready,
               cfg.hold, failed_conns);
        if (err[0])
            printf("first error: %s\n", err);
        if (lg_json)
            printf("{\"label\":\"%s\",\"held\":%d,\"failed_conns\":%d}\n",
                   lg_label, ready, failed_conns);
        return failed_conns ? 1 : 0;
    }
    secs = end > measure_from ? (double)(end - measure_from) / 1e9 : 0;
    double rps = secs > 0 ? (double)tot.recorded / secs : 0;
    double rx = secs > 0 ? (double)tot.rx_bytes / secs / 1e6 : 0;
    double tx = secs > 0 ? (double)tot.tx_bytes / secs / 1e6 : 0;
    double us = 1e3;
    printf("%s %s: %d connections x %d streams, %d threads%s\n",
           cfg.grpc ? "gRPC" : "GET", cfg.path, ready, cfg.streams,
           cfg.threads, cfg.rate > 0 ? " (open loop)" : "");
    if (cfg.rate > 0)
        printf("target rate: %.0f req/s; late beyond the backlog: %llu\n",
               cfg.rate, (unsigned long long)dropped);
    printf("requests: %llu started, %llu ok, %llu failed (http %llu, grpc "
           "%llu, reset %llu, no answer %llu); connections failed: %d\n",
           (unsigned long long)tot.started, (unsigned long long)tot.ok,
           (unsigned long long)failed, (unsigned long long)tot.fail_http,
           (unsigned long long)tot.fail_grpc,
           (unsigned long long)tot.fail_reset,
           (unsigned long long)tot.fail_timeout, failed_conns);
    printf("measured: %llu requests in %.3f s: %.1f req/s, %.2f MB/s in, "
           "%.2f MB/s out\n",
           (unsigned long long)tot.recorded, secs, rps, rx, tx);
    printf("latency (us): min %.0f  p50 %.0f  p90 %.0f  p99 %.0f  "
           "p99.9 %.0f  max %.0f  mean %.0f\n",
           h->count ? h->min / us : 0, hist_quantile(h, 0.5) / us,
           hist_quantile(h, 0.9) / us, hist_quantile(h, 0.99) / us,
           hist_quantile(h, 0.999) / us, h->max / us, hist_mean(h) / us);
    /* Open loop: how late this tool handed requests over (its tick, its
     * own waits for a CPU, no free stream), a part of the latency above
     * that is not the server's. */
    if (cfg.rate > 0)
        printf("sent after due (us): p50 %.0f  p99 %.0f  p99.9 %.0f  max "
               "%.0f\n",
               hist_quantile(sh, 0.5) / us, hist_quantile(sh, 0.99) / us,
               hist_quantile(sh, 0.999) / us, sh->max / us);
    if (err[0])
        printf("first error: %s\n", err);
    if (lg_json)
        printf("{\"label\":\"%s\",\"requests\":%llu,\"ok\":%llu,"
               "\"failed\":%llu,\"failed_conns\":%d,\"seconds\":%.6f,"
               "\"rps\":%.2f,\"rx_mbps\":%.3f,\"tx_mbps\":%.3f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
               "\"p999_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f,"
               "\"send_p50_us\":%.1f,\"send_p99_us\":%.1f,"
               "\"late\":%llu,\"error\":\"%s\"}\n",
               lg_label, (unsigned long long)tot.recorded,
               (unsigned long long)tot.ok, (unsigned long long)failed,
               failed_conns, secs, rps, rx, tx, hist_quantile(h, 0.5) / us,
               hist_quantile(h, 0.9) / us, hist_quantile(h, 0.99) / us,
               hist_quantile(h, 0.999) / us, h->max / us, hist_mean(h) / us,
               hist_quantile(sh, 0.5) / us, hist_quantile(sh, 0.99) / us,
               (unsigned long long)dropped, failed || failed_conns ? "see text" : "");
    if (failed > 0 || failed_conns > 0 || tot.recorded == 0)
        rc = 1;
    return rc;
}
