/* http_admit.c — see http_admit.h. */
#include "http_admit.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 1024
#define MAX_LINE 2048   /* of a request line read to find its route; longer ones get the default limit */

typedef struct conn {
    struct conn *next;
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    int at_start;       /* the next bytes start a request */
    int counted;        /* holds a place in the worker's and its address's counts */
    int refused;
    char addr[64];
} conn_t;

struct rk_admit {
    size_t body_limit, mail_limit;
    int max_connections, n;
    rk_addrcount_t *per_address;
    char mail_paths[RK_ADMIT_MAX_MAIL_PATHS][128];
    int nmail;
    conn_t *slots[NSLOTS];
};

/* The worker whose loop runs on this thread: the input watcher's arg is
 * the connection's bufferevent, and it finds its worker here. */
static __thread rk_admit_t *tls_admit;

static conn_t **slot_of(rk_admit_t *a, const struct evhttp_connection *evcon)
{
    uintptr_t h = (uintptr_t)evcon;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ULL;
    return &a->slots[(h >> 32) % NSLOTS];
}

static conn_t *find(rk_admit_t *a, const struct evhttp_connection *evcon)
{
    for (conn_t *c = *slot_of(a, evcon); c; c = c->next) if (c->evcon == evcon) return c;
    return NULL;
}

static void forget(rk_admit_t *a, conn_t *c)
{
    for (conn_t **p = slot_of(a, c->evcon); *p; p = &(*p)->next) {
        if (*p != c) continue;
        *p = c->next;
        break;
    }
    if (c->counted) {
        a->n--;
        rk_addrcount_release(a->per_address, c->addr);
    }
    free(c);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    rk_admit_t *a = arg;
    conn_t *c = find(a, evcon);
    if (c) forget(a, c);
}

/* The request starting at the front of buf: its route's body limit on the
 * connection, once its request line is in. */
static void read_route(rk_admit_t *a, conn_t *c, struct evbuffer *buf)
{
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(buf, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (eol.pos < 0) {
        if (evbuffer_get_length(buf) > MAX_LINE) c->at_start = 0;   /* evhttp refuses it, or the default holds */
        return;
    }
    c->at_start = 0;
    size_t limit = a->body_limit;
    char line[MAX_LINE + 1];
    size_t n = (size_t)eol.pos < MAX_LINE ? (size_t)eol.pos : MAX_LINE;
    evbuffer_copyout(buf, line, n);
    line[n] = '\0';
    if (strncmp(line, "POST ", 5) == 0) {
        const char *target = line + 5;
        size_t len = strcspn(target, " ?");
        for (int i = 0; i < a->nmail; i++)
            if (strlen(a->mail_paths[i]) == len && strncmp(target, a->mail_paths[i], len) == 0) limit = a->mail_limit;
    }
    evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)limit);
}

static conn_t *open_conn(rk_admit_t *a, struct evhttp_connection *evcon, struct bufferevent *bev)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->evcon = evcon;
    c->bev = bev;
    c->at_start = 1;
    char *peer = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &peer, &port);
    snprintf(c->addr, sizeof c->addr, "%s", peer ? peer : "");
    if (a->n >= a->max_connections || rk_addrcount_acquire(a->per_address, c->addr) != 0) {
        c->refused = 1;
    } else {
        c->counted = 1;
        a->n++;
    }
    conn_t **head = slot_of(a, evcon);
    c->next = *head;
    *head = c;
    evhttp_connection_set_closecb(evcon, on_close, a);
    return c;
}

/* Bytes arrived on a connection, before evhttp parses them. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    rk_admit_t *a = tls_admit;
    if (!info->n_added || !a) return;
    struct bufferevent *bev = arg;
    void *cbarg = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
    struct evhttp_connection *evcon = cbarg;   /* evhttp's, until a stream takes it over (detach) */
    if (!evcon) return;
    conn_t *c = find(a, evcon);
    if (!c && !(c = open_conn(a, evcon, bev))) return;
    if (c->at_start) read_route(a, c, buf);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);   /* as evhttp makes its own */
    if (bev) evbuffer_add_cb(bufferevent_get_input(bev), on_input, bev);
    return bev;
}

rk_admit_t *rk_admit_new(struct evhttp *http, size_t body_limit, size_t mail_limit, int max_connections,
                         rk_addrcount_t *per_address)
{
    rk_admit_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->body_limit = body_limit;
    /* room for a message sent raw, or escaped inside JSON */
    a->mail_limit = mail_limit + mail_limit / 2 + 65536;
    if (a->mail_limit < body_limit) a->mail_limit = body_limit;
    a->max_connections = max_connections;
    a->per_address = per_address;
    evhttp_set_max_body_size(http, (ev_ssize_t)body_limit);
    evhttp_set_bevcb(http, make_bev, a);
    return a;
}

void rk_admit_free(rk_admit_t *a)
{
    if (!a) return;
    for (int i = 0; i < NSLOTS; i++)
        while (a->slots[i]) forget(a, a->slots[i]);
    if (tls_admit == a) tls_admit = NULL;
    free(a);
}

void rk_admit_bind_thread(rk_admit_t *a) { tls_admit = a; }

void rk_admit_set_mail_paths(rk_admit_t *a, const char *const *paths, int n)
{
    a->nmail = 0;
    for (int i = 0; i < n && a->nmail < RK_ADMIT_MAX_MAIL_PATHS; i++)
        snprintf(a->mail_paths[a->nmail++], sizeof a->mail_paths[0], "%s", paths[i]);
}

int rk_admit_refused(rk_admit_t *a, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn_t *c = evcon ? find(a, evcon) : NULL;
    return c && c->refused;
}

void rk_admit_done(rk_admit_t *a, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn_t *c = evcon ? find(a, evcon) : NULL;
    if (!c) return;
    c->at_start = 1;
    evhttp_connection_set_max_body_size(evcon, (ev_ssize_t)a->body_limit);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in)) read_route(a, c, in);   /* a pipelined request is already here */
}

void rk_admit_detach(rk_admit_t *a, struct evhttp_connection *conn)
{
    conn_t *c = find(a, conn);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    if (bev) evbuffer_remove_cb(bufferevent_get_input(bev), on_input, bev);
    evhttp_connection_set_closecb(conn, NULL, NULL);
    if (c) forget(a, c);
}

int rk_admit_count(const rk_admit_t *a) { return a ? a->n : 0; }
