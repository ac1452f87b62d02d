/* deliver.c — see deliver.h. */
#include "deliver.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "version.h"

struct rk_deliverer {
    rk_deliver_opts_t o;
    char secret[256], ca[1024], host[256];
    rk_store_t *store;              /* NULL for rk_deliverer_new */
    struct event_base *base;        /* the HTTP client's, used by this thread only */
    SSL_CTX *tls;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, threaded;
    int64_t delivered, retried, dead;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the pure parts --------------------------------------------------------- */

void rk_deliver_sign(const char *secret, const char *body, size_t len, char out[RK_DELIVER_SIG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret ? secret : "", (int)(secret ? strlen(secret) : 0), (const unsigned char *)body, len, md, &n);
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < n && i < 32; i++) { out[7 + 2 * i] = hex[md[i] >> 4]; out[8 + 2 * i] = hex[md[i] & 15]; }
    out[RK_DELIVER_SIG_LEN] = '\0';
}

int64_t rk_deliver_next(int attempts, int retry_ms, int64_t now)
{
    int64_t wait = retry_ms > 0 ? retry_ms : 1000;
    for (int i = 1; i < attempts && wait < RK_DELIVER_MAX_BACKOFF_MS; i++) wait *= 2;
    return now + (wait < RK_DELIVER_MAX_BACKOFF_MS ? wait : RK_DELIVER_MAX_BACKOFF_MS);
}

size_t rk_deliver_syslog(char *out, size_t cap, int severity, int64_t ts_ms, const char *host, const char *msgid,
                         const char *msg)
{
    time_t t = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* facility 10 (authpriv): what a SIEM files under security and authorization */
    int pri = 10 * 8 + (severity < 0 ? 0 : severity > 7 ? 7 : severity);
    int n = snprintf(out, cap, "<%d>1 %s.%03dZ %s riskd - %s - %s", pri, when, (int)(ts_ms % 1000),
                     host && *host ? host : "-", msgid && *msgid ? msgid : "-", msg);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int rk_deliver_dest_valid(const char *dest)
{
    if (!dest) return 0;
    if (!strncasecmp(dest, "http://", 7) || !strncasecmp(dest, "https://", 8)) {
        struct evhttp_uri *u = evhttp_uri_parse(dest);
        int ok = u && evhttp_uri_get_host(u) && *evhttp_uri_get_host(u);
        if (u) evhttp_uri_free(u);
        return ok;
    }
    if (!strncasecmp(dest, "udp://", 6) || !strncasecmp(dest, "tcp://", 6)) {
        const char *colon = strrchr(dest + 6, ':');
        return colon && colon > dest + 6 && atoi(colon + 1) > 0 && atoi(colon + 1) < 65536;
    }
    return !strncmp(dest, "file:", 5) && dest[5] != '\0';
}

/* ---- webhooks ---------------------------------------------------------------- */

typedef struct { int done, status; } http_res_t;

static void on_response(struct evhttp_request *req, void *arg)
{
    http_res_t *r = arg;
    r->done = 1;
    r->status = req ? evhttp_request_get_response_code(req) : 0;
}

static int http_post(rk_deliverer_t *d, const rk_outbox_item_t *it, char *err, size_t errlen)
{
    struct evhttp_uri *u = evhttp_uri_parse(it->dest);
    if (!u || !evhttp_uri_get_host(u)) {
        if (u) evhttp_uri_free(u);
        snprintf(err, errlen, "not a URL");
        return -1;
    }
    const char *host = evhttp_uri_get_host(u), *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    int tls = !strcasecmp(evhttp_uri_get_scheme(u), "https");
    int port = evhttp_uri_get_port(u);
    if (port < 0) port = tls ? 443 : 80;
    char target[2048];
    snprintf(target, sizeof target, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
    struct bufferevent *bev;
    if (tls) {
        SSL *ssl = SSL_new(d->tls);
        if (!ssl) { evhttp_uri_free(u); snprintf(err, errlen, "cannot make a TLS session"); return -1; }
        /* the certificate must name the host: its DNS name, or its address */
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
            SSL_set_tlsext_host_name(ssl, host);
            SSL_set1_host(ssl, host);
        }
        bev = bufferevent_openssl_socket_new(d->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
        if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        else SSL_free(ssl);
    } else {
        bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    struct evhttp_connection *c = bev ? evhttp_connection_base_bufferevent_new(d->base, NULL, bev, host, (ev_uint16_t)port) : NULL;
    if (!c) {
        if (bev) bufferevent_free(bev);
        evhttp_uri_free(u);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct timeval tv = { d->o.timeout_ms / 1000, (d->o.timeout_ms % 1000) * 1000 };
    evhttp_connection_set_timeout_tv(c, &tv);
    evhttp_connection_set_retries(c, 0);
    http_res_t r = { 0, 0 };
    struct evhttp_request *req = evhttp_request_new(on_response, &r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char sig[RK_DELIVER_SIG_LEN + 1];
    size_t len = strlen(it->body);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "User-Agent", "riskd/" RK_VERSION);
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "X-Riskd-Delivery", it->id);
    evhttp_add_header(h, "X-Riskd-Kind", it->kind);
    if (d->secret[0]) {
        rk_deliver_sign(d->secret, it->body, len, sig);
        evhttp_add_header(h, "X-Riskd-Signature", sig);
    }
    evbuffer_add(evhttp_request_get_output_buffer(req), it->body, len);
    int rc = -1;
    if (evhttp_make_request(c, req, EVHTTP_REQ_POST, target) != 0) {
        snprintf(err, errlen, "cannot send the request");
    } else {
        while (!r.done) event_base_loop(d->base, EVLOOP_ONCE);
        if (r.status >= 200 && r.status < 300) rc = 0;
        else if (r.status) snprintf(err, errlen, "HTTP %d", r.status);
        else {
            unsigned long e = tls ? bufferevent_get_openssl_error(bev) : 0;
            if (e) snprintf(err, errlen, "TLS: %s", ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error");
            else snprintf(err, errlen, "no answer (the connection failed or timed out)");
        }
    }
    evhttp_connection_free(c);
    evhttp_uri_free(u);
    return rc;
}

/* ---- syslog and files -------------------------------------------------------- */

/* host:port of a udp:// or tcp:// destination into host and port. */
static int split_hostport(const char *rest, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest) return -1;
    const char *h = rest, *he = colon;
    if (*h == '[' && he > h && he[-1] == ']') { h++; he--; }   /* [IPv6]:port */
    snprintf(host, hcap, "%.*s", (int)(he - h), h);
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

static int syslog_send(rk_deliverer_t *d, const rk_outbox_item_t *it, int tcp, char *err, size_t errlen)
{
    char host[256], port[16];
    if (split_hostport(it->dest + 6, host, sizeof host, port, sizeof port) < 0) {
        snprintf(err, errlen, "expected %s://HOST:PORT", tcp ? "tcp" : "udp");
        return -1;
    }
    /* the severity by what it is: an alert 4 (warning), an event 5 (notice) */
    int severity = !strcmp(it->kind, "alert") ? 4 : 5;
    /* the message is written ROOM bytes in, leaving room for TCP's length prefix before it */
    enum { ROOM = 24 };
    size_t cap = strlen(it->body) + 512;
    char *msg = malloc(cap + ROOM);
    if (!msg) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t n = rk_deliver_syslog(msg + ROOM, cap, severity, it->created_ms, d->host, it->kind, it->body);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM }, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai), rc = -1, fd = -1;
    if (gai != 0) snprintf(err, errlen, "%s: %s", host, gai_strerror(gai));
    else if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) < 0) snprintf(err, errlen, "socket: %s", strerror(errno));
    else {
        struct timeval tv = { d->o.timeout_ms / 1000, (d->o.timeout_ms % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const char *out = msg + ROOM;
        size_t len = n;
        if (tcp) {
            /* octet counting (RFC 6587): "LENGTH SP MESSAGE" */
            char pre[24];
            int pl = snprintf(pre, sizeof pre, "%zu ", n);
            out -= pl;
            memcpy((char *)out, pre, (size_t)pl);
            len += (size_t)pl;
        }
        if (tcp && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) snprintf(err, errlen, "connect: %s", strerror(errno));
        else {
            ssize_t w = tcp ? send(fd, out, len, MSG_NOSIGNAL) : sendto(fd, out, len, 0, ai->ai_addr, ai->ai_addrlen);
            if (w == (ssize_t)len) rc = 0;
            else snprintf(err, errlen, "send: %s", w < 0 ? strerror(errno) : "short write");
        }
    }
    if (!n && rc == 0) { rc = -1; snprintf(err, errlen, "the message does not fit"); }
    if (fd >= 0) close(fd);
    if (ai) freeaddrinfo(ai);
    free(msg);
    return rc;
}

static int file_append(const rk_outbox_item_t *it, char *err, size_t errlen)
{
    int fd = open(it->dest + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) { snprintf(err, errlen, "%s: %s", it->dest + 5, strerror(errno)); return -1; }
    size_t len = strlen(it->body);
    char *line = malloc(len + 1);
    if (!line) { close(fd); snprintf(err, errlen, "out of memory"); return -1; }
    memcpy(line, it->body, len);
    line[len] = '\n';
    /* one write of the whole line: O_APPEND keeps lines whole between writers */
    ssize_t w = write(fd, line, len + 1);
    free(line);
    int rc = close(fd);
    if (w != (ssize_t)(len + 1) || rc != 0) { snprintf(err, errlen, "%s: %s", it->dest + 5, strerror(errno)); return -1; }
    return 0;
}

int rk_deliver_once(rk_deliverer_t *d, const rk_outbox_item_t *it, char *err, size_t errlen)
{
    const char *dest = it->dest;
    if (!strncasecmp(dest, "http://", 7) || !strncasecmp(dest, "https://", 8)) return http_post(d, it, err, errlen);
    if (!strncasecmp(dest, "udp://", 6)) return syslog_send(d, it, 0, err, errlen);
    if (!strncasecmp(dest, "tcp://", 6)) return syslog_send(d, it, 1, err, errlen);
    if (!strncmp(dest, "file:", 5)) return file_append(it, err, errlen);
    snprintf(err, errlen, "unknown destination");
    return -1;
}

/* ---- the thread -------------------------------------------------------------- */

static void settle(rk_deliverer_t *d, const rk_outbox_item_t *it, int rc, const char *why)
{
    char err[512];
    int64_t now = now_ms();
    int attempts = it->attempts + 1, stored;
    int64_t *counter;
    if (rc == 0) {
        stored = rk_store_outbox_done(d->store, it->id, now, err, sizeof err);
        counter = &d->delivered;
    } else if (attempts >= d->o.max_attempts) {
        stored = rk_store_outbox_dead(d->store, it->id, attempts, now, why, err, sizeof err);
        counter = &d->dead;
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_WARN, "delivery given up");
        rk_log_str(&e, "id", it->id);
        rk_log_str(&e, "kind", it->kind);
        rk_log_int(&e, "attempts", attempts);
        rk_log_str(&e, "error", why);
        rk_log_end(&e);
    } else {
        stored = rk_store_outbox_retry(d->store, it->id, attempts, rk_deliver_next(attempts, d->o.retry_ms, now), why,
                                       err, sizeof err);
        counter = &d->retried;
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_INFO, "delivery failed, will retry");
        rk_log_str(&e, "id", it->id);
        rk_log_int(&e, "attempts", attempts);
        rk_log_str(&e, "error", why);
        rk_log_end(&e);
    }
    if (stored != 0) rk_log_msg(RK_LOG_WARN, "outbox: cannot record a delivery", "error", err);
    pthread_mutex_lock(&d->mu);
    (*counter)++;
    pthread_mutex_unlock(&d->mu);
}

static void *run(void *arg)
{
    rk_deliverer_t *d = arg;
    /* a claim is held past the longest a batch can take, so another
     * instance never sends the same delivery meanwhile */
    int64_t lease = (int64_t)d->o.timeout_ms * RK_DELIVER_BATCH + 5000;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        pthread_mutex_unlock(&d->mu);
        rk_outbox_item_t *items = NULL;
        size_t n = 0;
        char err[512];
        if (rk_store_outbox_claim(d->store, now_ms(), lease, RK_DELIVER_BATCH, &items, &n, err, sizeof err) != 0)
            rk_log_msg(RK_LOG_WARN, "outbox: cannot read the due deliveries", "error", err);
        for (size_t i = 0; i < n; i++) {
            pthread_mutex_lock(&d->mu);
            int stopping = d->stop;
            pthread_mutex_unlock(&d->mu);
            if (stopping) break;   /* the rest stay claimed until the lease ends, then go again */
            char why[512] = "";
            int rc = rk_deliver_once(d, &items[i], why, sizeof why);
            settle(d, &items[i], rc, why);
        }
        for (size_t i = 0; i < n; i++) rk_store_outbox_item_free(&items[i]);
        free(items);
        pthread_mutex_lock(&d->mu);
        if (n < RK_DELIVER_BATCH && !d->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)RK_DELIVER_POLL_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &until);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

rk_deliverer_t *rk_deliverer_new(const rk_deliver_opts_t *o, char *err, size_t errlen)
{
    rk_deliverer_t *d = calloc(1, sizeof *d);
    if (!d) { snprintf(err, errlen, "out of memory"); return NULL; }
    d->o = *o;
    snprintf(d->secret, sizeof d->secret, "%s", o->secret ? o->secret : "");
    snprintf(d->ca, sizeof d->ca, "%s", o->ca_file ? o->ca_file : "");
    d->o.secret = d->secret;
    d->o.ca_file = d->ca;
    if (d->o.retry_ms <= 0) d->o.retry_ms = 5000;
    if (d->o.max_attempts <= 0) d->o.max_attempts = 12;
    if (d->o.timeout_ms <= 0) d->o.timeout_ms = 10000;
    if (gethostname(d->host, sizeof d->host) != 0) snprintf(d->host, sizeof d->host, "-");
    d->host[sizeof d->host - 1] = '\0';
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->base = event_base_new();
    d->tls = SSL_CTX_new(TLS_client_method());
    if (!d->base || !d->tls) { snprintf(err, errlen, "cannot set up the HTTP client"); rk_deliverer_stop(d); return NULL; }
    SSL_CTX_set_verify(d->tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(d->tls, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(d->tls);
    if (d->ca[0] && SSL_CTX_load_verify_locations(d->tls, d->ca, NULL) != 1) {
        snprintf(err, errlen, "webhook CA file %s: cannot be read as PEM certificates", d->ca);
        rk_deliverer_stop(d);
        return NULL;
    }
    return d;
}

rk_deliverer_t *rk_deliverer_start(const char *uri, const rk_deliver_opts_t *o, int *off, char *err, size_t errlen)
{
    *off = 0;
    err[0] = '\0';
    rk_deliverer_t *d = rk_deliverer_new(o, err, errlen);
    if (!d) return NULL;
    if (!(d->store = rk_store_open(uri, NULL, err, errlen))) { rk_deliverer_stop(d); return NULL; }
    if (!rk_store_keeps_outbox(d->store)) {   /* the memory store: nothing to deliver from */
        rk_deliverer_stop(d);
        *off = 1;
        return NULL;
    }
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        snprintf(err, errlen, "cannot start the delivery thread");
        rk_deliverer_stop(d);
        return NULL;
    }
    d->threaded = 1;
    return d;
}

void rk_deliverer_counts(rk_deliverer_t *d, int64_t *delivered, int64_t *retried, int64_t *dead)
{
    pthread_mutex_lock(&d->mu);
    *delivered = d->delivered;
    *retried = d->retried;
    *dead = d->dead;
    pthread_mutex_unlock(&d->mu);
}

void rk_deliverer_stop(rk_deliverer_t *d)
{
    if (!d) return;
    if (d->threaded) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    if (d->store) rk_store_close(d->store);
    if (d->tls) SSL_CTX_free(d->tls);
    if (d->base) event_base_free(d->base);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
