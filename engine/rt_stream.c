/* rt_stream.c — see rt_stream.h. */
#include "rt_stream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct client {
    struct client *next, *prev;
    rk_streams_t *owner;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    char topic[16];              /* "" = every topic */
    int min_level;
    uint64_t last;               /* id of the last message considered */
    rk_session_t who;            /* checked again every second */
} client_t;

struct rk_streams {
    struct event_base *base;
    rk_hub_t *hub;
    rk_store_t *store;           /* the worker's, to check sessions */
    struct event *wake, *keepalive, *recheck;
    client_t *head;
    int n;
    uint64_t dropped;
};

/* A stream of every topic counts as a listener of each. */
static void count(rk_streams_t *s, const client_t *c, int delta)
{
    if (c->topic[0]) { rk_hub_subscribers_add(s->hub, c->topic, delta); return; }
    for (int i = 0; i < RK_HUB_NTOPICS; i++) rk_hub_subscribers_add(s->hub, rk_hub_topic_name(i), delta);
}

static void unlink_client(client_t *c)
{
    rk_streams_t *s = c->owner;
    if (c->prev) c->prev->next = c->next; else s->head = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n--;
    count(s, c, -1);
    free(c);
}

/* The connection is going away. When the peer closed it while the
 * response was still open, libevent has detached the request from it
 * (evhttp_connection_incoming_fail) and leaves it to us: ending the reply
 * of a detached request frees it. Otherwise (the server is freeing the
 * connection) the connection frees its requests itself. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    client_t *c = arg;
    struct evhttp_request *req = c->req;
    unlink_client(c);
    if (!evhttp_request_get_connection(req)) evhttp_send_reply_end(req);
}

static void end_stream(client_t *c)
{
    evhttp_connection_set_closecb(c->conn, NULL, NULL);
    evhttp_send_reply_end(c->req);
    unlink_client(c);
}

static size_t queued(const client_t *c)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Writes what c has not seen yet; 0, or -1 when c was dropped. */
static int pump(client_t *c)
{
    rk_streams_t *s = c->owner;
    struct evbuffer *out = evbuffer_new();
    if (!out) return 0;
    rk_hub_msg_t *msgs[64];
    uint64_t missed;
    size_t n;
    while ((n = rk_hub_read(s->hub, c->last, msgs, 64, &missed)) > 0 || missed) {
        if (missed)
            evbuffer_add_printf(out, "event: missed\ndata: {\"type\":\"missed\",\"count\":%llu}\n\n",
                                (unsigned long long)missed);
        for (size_t i = 0; i < n; i++) {
            rk_hub_msg_t *m = msgs[i];
            int want = (!c->topic[0] || !strcmp(c->topic, m->topic)) &&
                       (strcmp(m->topic, "events") != 0 || m->level >= c->min_level);
            if (want) evbuffer_add_printf(out, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)m->id, m->topic, m->json);
            c->last = m->id;
            rk_hub_release(m);
        }
        if (!n) break;
    }
    if (evbuffer_get_length(out)) {
        if (queued(c) + evbuffer_get_length(out) > RK_STREAM_MAX_BUFFER) {
            /* it does not read: drop it rather than hold its backlog */
            evbuffer_free(out);
            s->dropped++;
            struct evhttp_connection *conn = c->conn;
            evhttp_connection_set_closecb(conn, NULL, NULL);
            unlink_client(c);
            evhttp_connection_free(conn);
            return -1;
        }
        evhttp_send_reply_chunk(c->req, out);
    }
    evbuffer_free(out);
    return 0;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_streams_t *s = arg;
    for (client_t *c = s->head, *next; c; c = next) {
        next = c->next;
        pump(c);
    }
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_streams_t *s = arg;
    for (client_t *c = s->head; c; c = c->next) {
        struct evbuffer *b = evbuffer_new();
        if (!b) continue;
        evbuffer_add(b, ": keep-alive\n\n", 14);
        evhttp_send_reply_chunk(c->req, b);
        evbuffer_free(b);
    }
}

/* Every second: a stream whose token expired or whose account was deleted
 * or changed gets `event: revoked` with the reason, and ends. */
static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_streams_t *s = arg;
    if (!s->head || !s->store) return;
    rk_session_round_t round;
    rk_session_round_begin(&round, s->store, (int64_t)time(NULL));
    for (client_t *c = s->head, *next; c; c = next) {
        next = c->next;
        char why[160];
        if (!rk_session_check(&round, &c->who, why, sizeof why)) continue;
        struct evbuffer *b = evbuffer_new();
        if (b) {
            json_t *j = json_pack("{s:s, s:s}", "type", "revoked", "reason", why);
            char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
            evbuffer_add_printf(b, "event: revoked\ndata: %s\n\n", text ? text : "{\"type\":\"revoked\"}");
            free(text);
            json_decref(j);
            evhttp_send_reply_chunk(c->req, b);
            evbuffer_free(b);
        }
        end_stream(c);
    }
}

/* Called by the hub on the publishing thread. */
static void notify(void *arg)
{
    event_active(((rk_streams_t *)arg)->wake, EV_READ, 0);
}

rk_streams_t *rk_streams_new(struct event_base *base, rk_hub_t *hub, rk_store_t *store)
{
    rk_streams_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->hub = hub;
    s->wake = event_new(base, -1, 0, on_wake, s);
    s->store = store;
    s->keepalive = event_new(base, -1, EV_PERSIST, on_keepalive, s);
    s->recheck = event_new(base, -1, EV_PERSIST, on_recheck, s);
    struct timeval every = { RK_STREAM_KEEPALIVE_S, 0 };
    struct timeval each = { RK_SESSION_CHECK_MS / 1000, (RK_SESSION_CHECK_MS % 1000) * 1000 };
    if (!s->wake || !s->keepalive || !s->recheck || event_add(s->keepalive, &every) < 0 ||
        event_add(s->recheck, &each) < 0 || rk_hub_watch(hub, notify, s) < 0) {
        rk_streams_free(s);
        return NULL;
    }
    return s;
}

void rk_streams_close_all(rk_streams_t *s)
{
    while (s && s->head) end_stream(s->head);
}

void rk_streams_free(rk_streams_t *s)
{
    if (!s) return;
    rk_streams_close_all(s);
    if (s->wake) event_free(s->wake);
    if (s->keepalive) event_free(s->keepalive);
    if (s->recheck) event_free(s->recheck);
    free(s);
}

int rk_streams_count(const rk_streams_t *s) { return s ? s->n : 0; }
uint64_t rk_streams_dropped(const rk_streams_t *s) { return s ? s->dropped : 0; }

int rk_streams_start(rk_streams_t *s, struct evhttp_request *req, const char *topic, int min_level, uint64_t last_id,
                     const rk_session_t *who)
{
    if (s->n >= RK_STREAM_MAX_PER_WORKER) return -1;
    client_t *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->owner = s;
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    snprintf(c->topic, sizeof c->topic, "%s", topic ? topic : "");
    c->min_level = min_level;
    if (who) c->who = *who;
    c->last = last_id ? last_id : rk_hub_last_id(s->hub);
    c->next = s->head;
    if (s->head) s->head->prev = c;
    s->head = c;
    s->n++;
    count(s, c, 1);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(c->conn, on_close, c);
    /* the retry hint, then whatever the backlog has after last_id */
    struct evbuffer *b = evbuffer_new();
    if (b) {
        evbuffer_add_printf(b, "retry: 2000\n\n");
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
    }
    pump(c);
    return 0;
}
