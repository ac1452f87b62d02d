/* rt_ws.c — see rt_ws.h. */
#include "rt_ws.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <wslay/wslay.h>

#include "jwt.h"
#include "intel_pwindex.h"

typedef struct ws {
    struct ws *next, *prev;
    rk_wsserver_t *srv;
    struct evhttp_connection *conn;   /* evhttp's, freed with the socket */
    struct bufferevent *bev;          /* taken over from evhttp */
    wslay_event_context_ptr ctx;
    struct event *timer;
    rk_session_t who;                 /* who.user "" until authenticated; checked every second */
    unsigned topics;                  /* bit i: rk_hub_topic_name(i) */
    int min_level;                    /* for events */
    uint64_t last;                    /* last hub message considered */
    int64_t last_pong;
    int dropping;                     /* freed once the current callback returns */
    int closing;                      /* a close frame is queued: the peer has 5 s to answer */
} ws_t;

struct rk_wsserver {
    struct event_base *base;
    rk_hub_t *hub;
    const rk_config_t *cfg;
    rk_store_t *store;
    struct event *wake, *recheck;
    ws_t *head;
    int n;
    uint64_t last;                    /* the last hub message handed out by this worker */
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

void rk_ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    uint8_t sha[20];
    int n = snprintf(buf, sizeof buf, "%s%s", key, guid);
    rk_sha1(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, 20);   /* 28 characters and a NUL */
}

/* ---- life of a connection -------------------------------------------------- */

static void count(ws_t *c, unsigned topics, int delta)
{
    for (int i = 0; i < RK_HUB_NTOPICS; i++)
        if (topics & (1u << i)) rk_hub_subscribers_add(c->srv->hub, rk_hub_topic_name(i), delta);
}

static void destroy(ws_t *c)
{
    rk_wsserver_t *s = c->srv;
    if (c->prev) c->prev->next = c->next; else s->head = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n--;
    count(c, c->topics, -1);
    if (c->timer) event_free(c->timer);
    if (c->ctx) wslay_event_context_free(c->ctx);
    /* what is still queued (a close frame at shutdown, when the loop will
     * not run again) goes out now, as far as the socket takes it */
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->dropping && evbuffer_get_length(out)) {
        char tail[256];
        evbuffer_unfreeze(out, 1);   /* a socket bufferevent lets only itself drain its output */
        int n = evbuffer_remove(out, tail, sizeof tail);
        if (n > 0 && send(bufferevent_getfd(c->bev), tail, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) { /* gone anyway */ }
    }
    /* frees the socket, the bufferevent and the request evhttp still holds */
    evhttp_connection_set_closecb(c->conn, NULL, NULL);
    evhttp_connection_free(c->conn);
    free(c);
}

/* Sends what wslay has queued; destroys the connection when it is over
 * (both sides closed, an I/O error, or a client that does not read).
 * Returns -1 when c is gone. */
static int flush(ws_t *c)
{
    if (!c->dropping && wslay_event_send(c->ctx) != 0) c->dropping = 1;
    if (c->dropping || (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx) &&
                        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)) {
        destroy(c);
        return -1;
    }
    return 0;
}

static void send_text(ws_t *c, const char *text, size_t n)
{
    struct wslay_event_msg m = { WSLAY_TEXT_FRAME, (const uint8_t *)text, n };
    if (wslay_event_queue_msg(c->ctx, &m) != 0) c->dropping = 1;
}

static void send_json(ws_t *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) { c->dropping = 1; return; }
    send_text(c, s, strlen(s));
    free(s);
}

static void send_error(ws_t *c, const char *code, const char *message)
{
    send_json(c, json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "data", "code", code, "message", message));
}

static void close_with(ws_t *c, uint16_t code, const char *reason)
{
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, strlen(reason));
    if (!c->closing && c->timer) {
        c->closing = 1;
        /* a stranger's connection holds its slot no longer than it must */
        struct timeval grace = { c->who.user[0] ? 5 : 1, 0 };
        event_add(c->timer, &grace);
    }
}

/* ---- what the client says ---------------------------------------------------- */

/* The token as the REST API checks it: signature, issuer, expiry, and an
 * account that still exists with the password the token was issued under;
 * the role is the account's own. */
static int authenticate(ws_t *c, const char *token, char *why, size_t cap)
{
    rk_jwt_claims_t cl;
    if (rk_jwt_verify(c->srv->cfg->jwt_secret, token, now_s(), &cl, why, cap) != 0) return -1;
    rk_user_t u;
    memset(&u, 0, sizeof u);
    if (rk_store_user_get(c->srv->store, cl.sub, &u, why, cap) != 0) { snprintf(why, cap, "the account no longer exists"); return -1; }
    /* the password's version: the salt field of the argon2 hash, as api/auth.lua reads it */
    char pwv[64];
    rk_session_pwv(u.password_hash, pwv, sizeof pwv);
    int same = strcmp(pwv, cl.pwv) == 0;
    if (same) {
        snprintf(c->who.role, sizeof c->who.role, "%s", u.role ? u.role : "");
        snprintf(c->who.user, sizeof c->who.user, "%s", cl.sub);
        snprintf(c->who.pwv, sizeof c->who.pwv, "%s", cl.pwv);
        c->who.exp_s = cl.exp;
    }
    rk_store_user_free(&u);
    if (!same) { snprintf(why, cap, "the password has changed since this token was issued; sign in again"); return -1; }
    return 0;
}

static int level_index(const char *l) { return rk_store_level_index(l); }

static int staff(const ws_t *c) { return !strcmp(c->who.role, "admin") || !strcmp(c->who.role, "analyst"); }

static void on_message(ws_t *c, const char *text, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(text, n, 0, &e);
    if (!j) {
        if (json_error_code(&e) == json_error_invalid_utf8) { close_with(c, 1007, "invalid UTF-8"); return; }
        send_error(c, "bad_message", "messages are JSON objects");
        return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) {
        send_error(c, "bad_message", "a message needs a string \"type\"");
    } else if (!strcmp(type, "auth")) {
        char why[256];
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (c->who.user[0]) send_error(c, "bad_message", "already authenticated");
        else if (!tok || authenticate(c, tok, why, sizeof why) != 0) close_with(c, 1008, tok ? why : "auth needs a token");
        else if (!staff(c)) { close_with(c, 1008, "the console is for analysts and admins"); c->who.user[0] = '\0'; }
        else send_json(c, json_pack("{s:s, s:{s:s, s:s}}", "type", "auth", "data", "user", c->who.user, "role", c->who.role));
    } else if (!c->who.user[0]) {
        close_with(c, 1008, "authenticate first: {\"type\":\"auth\",\"token\":...}");
    } else if (!strcmp(type, "subscribe") || !strcmp(type, "unsubscribe")) {
        const char *topic = json_string_value(json_object_get(j, "topic"));
        int t = rk_hub_topic_index(topic), sub = type[0] == 's';
        json_t *ml = json_object_get(j, "min_level");
        int lvl = ml ? level_index(json_string_value(ml)) : 0;
        if (t < 0) send_error(c, "bad_topic", "topic must be alerts, events, rules or models");
        else if (sub && lvl < 0) send_error(c, "bad_level", "min_level must be low, medium, high or critical");
        else if (sub && (t == RK_TOPIC_RULES || t == RK_TOPIC_MODELS) && strcmp(c->who.role, "admin") != 0) send_error(c, "forbidden", "rules and models are for admins");
        else {
            unsigned bit = 1u << t, had = c->topics & bit;
            if (sub && !had) { c->topics |= bit; count(c, bit, 1); }
            if (!sub && had) { c->topics &= ~bit; count(c, bit, -1); }
            if (sub && t == RK_TOPIC_EVENTS) c->min_level = lvl;
            if (sub && !c->last) c->last = rk_hub_last_id(c->srv->hub);
            send_json(c, json_pack("{s:s, s:s}", "type", sub ? "subscribed" : "unsubscribed", "topic", topic));
        }
    } else if (!strcmp(type, "ping")) {
        send_json(c, json_pack("{s:s}", "type", "pong"));
    } else {
        send_error(c, "bad_message", "type must be auth, subscribe, unsubscribe or ping");
    }
    json_decref(j);
}

/* ---- wslay callbacks -------------------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
    (void)flags;
    ws_t *c = arg;
    int n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
    if (n <= 0) { wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK); return -1; }
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)flags;
    ws_t *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) + len > RK_WS_MAX_BUFFER) {
        /* a client that does not read: it goes, instead of the memory */
        c->dropping = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (evbuffer_add(out, data, len) != 0) { wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); return -1; }
    return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
    (void)ctx;
    ws_t *c = arg;
    if (a->opcode == WSLAY_TEXT_FRAME) on_message(c, (const char *)a->msg, a->msg_length);
    else if (a->opcode == WSLAY_BINARY_FRAME) close_with(c, 1003, "text messages only");
    else if (a->opcode == WSLAY_PONG) c->last_pong = now_s();
}

/* ---- libevent callbacks ---------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ws_t *c = arg;
    if (wslay_event_recv(c->ctx) != 0) c->dropping = 1;
    flush(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    flush(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) destroy(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    ws_t *c = arg;
    if (c->closing) {
        c->dropping = 1;                /* it never answered our close */
    } else if (!c->who.user[0]) {
        close_with(c, 1008, "no authentication in time");
    } else if (now_s() - c->last_pong > RK_WS_PONG_TIMEOUT_S) {
        c->dropping = 1;                /* gone without a word */
    } else {
        struct wslay_event_msg m = { WSLAY_PING, (const uint8_t *)"", 0 };
        wslay_event_queue_msg(c->ctx, &m);
        struct timeval every = { RK_WS_PING_S, 0 };
        event_add(c->timer, &every);
    }
    flush(c);
}

/* ---- fan-out ------------------------------------------------------------------- */

/* A hub message framed once per worker (by wslay's frame encoder: a server's
 * frames are unmasked, so the bytes are the same for every client) and
 * written to each subscriber's socket (or added by reference to its output
 * buffer): one encoding and no copy per connection, where a wslay_event
 * queue per connection copied every message once more for each of them. */
typedef struct frame {
    atomic_int refs;
    size_t len;
    uint8_t data[];
} frame_t;

static void frame_unref(const void *data, size_t len, void *arg)
{
    (void)data; (void)len;
    frame_t *f = arg;
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) free(f);
}

typedef struct { uint8_t *p; size_t len, cap; } framebuf_t;

static ssize_t frame_out(const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)flags;
    framebuf_t *b = arg;
    if (len > b->cap - b->len) return WSLAY_ERR_INVALID_CALLBACK;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return (ssize_t)len;
}

static frame_t *frame_new(const rk_hub_msg_t *m)
{
    frame_t *f = malloc(sizeof *f + m->len + 14);   /* the longest header: 2 + 8 bytes of length (+ 4 of mask, unused) */
    if (!f) return NULL;
    framebuf_t b = { f->data, 0, m->len + 14 };
    static const struct wslay_frame_callbacks cbs = { frame_out, NULL, NULL };
    wslay_frame_context_ptr fc;
    if (wslay_frame_context_init(&fc, &cbs, &b) != 0) { free(f); return NULL; }
    struct wslay_frame_iocb io = { 1, WSLAY_RSV_NONE, WSLAY_TEXT_FRAME, m->len, 0, (const uint8_t *)m->json, m->len };
    while (io.data_length > 0) {
        ssize_t r = wslay_frame_send(fc, &io);
        if (r <= 0) { wslay_frame_context_free(fc); free(f); return NULL; }
        io.data += r;
        io.data_length -= (size_t)r;
    }
    wslay_frame_context_free(fc);
    atomic_init(&f->refs, 1);   /* the batch's own */
    f->len = b.len;
    return f;
}

static void send_frame(ws_t *c, frame_t *f)
{
    if (c->dropping || c->closing || wslay_event_get_close_sent(c->ctx)) return;
    /* what wslay holds (a reply, a pong) goes first: it writes whole frames
     * into the buffer, so after this nothing of its is half sent */
    if (wslay_event_send(c->ctx) != 0) { c->dropping = 1; return; }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t off = 0;
    if (evbuffer_get_length(out) == 0) {
        /* Nothing waiting: straight to the socket. Through the bufferevent,
         * each message cost two epoll_ctl calls (arm and disarm the write
         * event) and a trip round the loop per connection (measured: with
         * 1,000 subscribers those were the largest part of the kernel's time). */
        ssize_t w = send(bufferevent_getfd(c->bev), f->data, f->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w == (ssize_t)f->len) return;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { c->dropping = 1; return; }
        off = w > 0 ? (size_t)w : 0;   /* the rest waits in the buffer for the socket */
    }
    if (evbuffer_get_length(out) + f->len - off > RK_WS_MAX_BUFFER) { c->dropping = 1; return; }   /* a client that does not read */
    atomic_fetch_add(&f->refs, 1);
    if (evbuffer_add_reference(out, f->data + off, f->len - off, frame_unref, f) != 0) { frame_unref(NULL, 0, f); c->dropping = 1; }
}

static int wants(const ws_t *c, const rk_hub_msg_t *m)
{
    int t = rk_hub_topic_index(m->topic);
    return t >= 0 && (c->topics & (1u << t)) && (t != RK_TOPIC_EVENTS || m->level >= c->min_level);
}

/* The batch msgs[0..n) to one connection: what it subscribed to and has
 * not had yet (a connection that subscribed after some of them started
 * past them). frames are made on first use. */
static void deliver(ws_t *c, rk_hub_msg_t **msgs, frame_t **frames, size_t n)
{
    if (c->last && c->last + 1 < msgs[0]->id) {
        /* gone from the backlog before this worker read them */
        char note[96];
        int len = snprintf(note, sizeof note, "{\"type\":\"missed\",\"data\":{\"count\":%llu}}",
                           (unsigned long long)(msgs[0]->id - 1 - c->last));
        send_text(c, note, (size_t)len);
    }
    for (size_t i = 0; i < n && !c->dropping; i++) {
        if (msgs[i]->id <= c->last) continue;
        c->last = msgs[i]->id;
        if (!wants(c, msgs[i])) continue;
        if (!frames[i] && !(frames[i] = frame_new(msgs[i]))) { c->dropping = 1; break; }
        send_frame(c, frames[i]);
    }
}

/* The hub has news: every message after this worker's cursor, read once,
 * to every subscribed connection of the worker. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_wsserver_t *s = arg;
    rk_hub_msg_t *msgs[64];
    frame_t *frames[64];
    uint64_t missed;
    size_t n;
    while ((n = rk_hub_read(s->hub, s->last, msgs, 64, &missed)) > 0) {
        memset(frames, 0, sizeof frames);
        for (ws_t *c = s->head; c; c = c->next)
            if (c->topics) deliver(c, msgs, frames, n);
        s->last = msgs[n - 1]->id;
        for (size_t i = 0; i < n; i++) {
            frame_unref(NULL, 0, frames[i]);
            rk_hub_release(msgs[i]);
        }
    }
    for (ws_t *c = s->head, *next; c; c = next) {
        next = c->next;
        if (c->topics || c->dropping) flush(c);
    }
}

static void notify(void *arg) { event_active(((rk_wsserver_t *)arg)->wake, EV_READ, 0); }

/* ---- the server's side ------------------------------------------------------------ */

/* Every second: a connection whose token expired or whose account was
 * deleted or changed is closed (1008, with the reason). */
static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_wsserver_t *s = arg;
    if (!s->head) return;
    rk_session_round_t round;
    rk_session_round_begin(&round, s->store, now_s());
    for (ws_t *c = s->head, *next; c; c = next) {
        next = c->next;
        char why[120];   /* a close frame's reason fits in 123 bytes */
        if (c->closing || !rk_session_check(&round, &c->who, why, sizeof why)) continue;
        close_with(c, 1008, why);
        flush(c);
    }
}

rk_wsserver_t *rk_ws_new(struct event_base *base, rk_hub_t *hub, const rk_config_t *cfg, rk_store_t *store)
{
    rk_wsserver_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->hub = hub;
    s->cfg = cfg;
    s->store = store;
    s->last = rk_hub_last_id(hub);
    struct timeval each = { RK_SESSION_CHECK_MS / 1000, (RK_SESSION_CHECK_MS % 1000) * 1000 };
    if (!(s->wake = event_new(base, -1, 0, on_wake, s)) || !(s->recheck = event_new(base, -1, EV_PERSIST, on_recheck, s)) ||
        event_add(s->recheck, &each) < 0 || rk_hub_watch(hub, notify, s) < 0) {
        rk_ws_free(s);
        return NULL;
    }
    return s;
}

void rk_ws_close_all(rk_wsserver_t *s)
{
    for (ws_t *c = s ? s->head : NULL, *next; c; c = next) {
        next = c->next;
        close_with(c, 1001, "the server is shutting down");
        flush(c);
    }
}

void rk_ws_free(rk_wsserver_t *s)
{
    if (!s) return;
    while (s->head) destroy(s->head);
    if (s->wake) event_free(s->wake);
    if (s->recheck) event_free(s->recheck);
    free(s);
}

int rk_ws_count(const rk_wsserver_t *s) { return s ? s->n : 0; }

int rk_ws_upgrade(rk_wsserver_t *s, struct evhttp_request *req, const rk_session_t *who)
{
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(req), "Sec-WebSocket-Key");
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    if (s->n >= RK_WS_MAX_PER_WORKER || !key || !bev) return -1;
    ws_t *c = calloc(1, sizeof *c);
    static const struct wslay_event_callbacks cbs = { recv_cb, send_cb, NULL, NULL, NULL, NULL, msg_cb };
    if (!c || wslay_event_context_server_init(&c->ctx, &cbs, c) != 0) { free(c); return -1; }
    c->srv = s;
    c->conn = conn;
    c->bev = bev;
    c->last_pong = now_s();
    if (who) c->who = *who;
    c->timer = event_new(s->base, -1, 0, on_timer, c);
    wslay_event_config_set_max_recv_msg_length(c->ctx, RK_WS_MAX_MESSAGE);
    c->next = s->head;
    if (s->head) s->head->prev = c;
    s->head = c;
    s->n++;
    /* From here the socket is ours: evhttp's callbacks and idle time-out
     * go, the request it holds stays unanswered until destroy(). */
    evhttp_connection_set_closecb(conn, NULL, NULL);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(bev, NULL, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    char accept[29];
    rk_ws_accept_key(key, accept);
    evbuffer_add_printf(bufferevent_get_output(bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    struct timeval first = { c->who.user[0] ? RK_WS_PING_S : RK_WS_AUTH_TIMEOUT_S, 0 };
    if (!c->timer || event_add(c->timer, &first) < 0) { destroy(c); return 0; }
    if (c->who.user[0])
        send_json(c, json_pack("{s:s, s:{s:s, s:s}}", "type", "auth", "data", "user", c->who.user, "role", c->who.role));
    /* bytes the client sent after its handshake are already buffered */
    if (evbuffer_get_length(bufferevent_get_input(bev))) on_read(bev, c);
    else flush(c);
    return 0;
}
