/* http.c — the bridge between an evhttp request and the Lua dispatcher.
 *
 * For each request: collect what C must decide (path, client address) into a
 * request context, then in ONE protected call build the Lua request table and
 * call lib.dispatch's handle(req), which routes it and returns
 * (status, body string, headers table). Building the table inside the
 * protected call matters: under the Lua memory cap any push may raise, and a
 * raise outside lua_pcall would abort the process.
 */
#include <sys/queue.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_admit.h"
#include "log.h"
#include "takeover.h"
#include "store_writer.h"
#include "rt_stream.h"
#include "rt_ws.h"
#include "worker.h"

#define MAX_HEADERS 100      /* more request headers: 431 (STYLE: C caps its inputs) */
#define MAX_HEADER_NAME 128
#define ERR_INTERNAL "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal server error\"}}"

/* One request, from arrival to reply. Lives on the heap because the
 * handler runs as a coroutine that may suspend (vm.h): the C stack of
 * rk_http_handle is gone by the time a store write commits. */
typedef struct reqctx {
    struct evhttp_request *req;
    rk_worker_t *w;
    rk_vm_t *vm;            /* the state it started in (held across reloads) */
    lua_State *co;          /* the handler's coroutine */
    int co_ref, req_ref;    /* it and the request table, anchored in the registry */
    const char *method;
    char *path;             /* percent-decoded, malloc'd */
    size_t pathlen;
    struct evkeyvalq query; /* parsed before the protected call, freed after */
    char client[64];
    uint64_t t0, ran_ns;    /* arrival; time spent running Lua so far */
    rk_task_t *waiting;     /* the task it is suspended on, or NULL */
    int sleeping;           /* waiting is a pause (RK_VM_TIMER): the timer ends it */
    rk_takeover_t takeover; /* a stream or WebSocket the handler asked for (riskd.web) */
    rk_takeover_t **answer; /* req._answer's handle on it, cleared when the request ends */
    struct event *timer;    /* the wait's time-out */
} reqctx_t;

/* Bounded string copy; snprintf("%s") costs ~400 instructions per call on
 * the hot path (callgrind). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}

static int count_headers(const struct evkeyvalq *hdrs)
{
    int n = 0;
    for (const struct evkeyval *kv = hdrs->tqh_first; kv && n <= MAX_HEADERS; kv = kv->next.tqe_next) n++;
    return n;
}

static void push_headers(lua_State *L, struct evkeyvalq *hdrs)
{
    lua_createtable(L, 0, 8);
    int n = 0;
    for (struct evkeyval *kv = hdrs->tqh_first; kv && n < MAX_HEADERS; kv = kv->next.tqe_next, n++) {
        char name[MAX_HEADER_NAME];
        size_t len = strlen(kv->key);
        if (len >= sizeof name) continue;
        for (size_t i = 0; i <= len; i++) name[i] = (char)tolower((unsigned char)kv->key[i]);
        /* Repeated headers are joined with ", " as RFC 9110 allows. */
        if (lua_getfield(L, -1, name) == LUA_TSTRING) {
            lua_pushliteral(L, ", ");
            lua_pushstring(L, kv->value);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, kv->value);
        }
        lua_setfield(L, -2, name);
    }
}

/* The query table. Most requests have none; they share one empty table that
 * refuses writes (see lib/dispatch.lua's EMPTY), saving a table a request. */
static const char EMPTY_KEY = 'e';

static void push_query(lua_State *L, const struct evkeyvalq *kv)
{
    if (kv->tqh_first == NULL) {
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &EMPTY_KEY) == LUA_TTABLE) return;
        lua_pop(L, 1);
        lua_newtable(L);                       /* the shared empty table */
        lua_createtable(L, 0, 2);              /* its metatable */
        luaL_loadstring(L, "error('read-only table', 2)");
        lua_setfield(L, -2, "__newindex");
        lua_pushliteral(L, "read-only");
        lua_setfield(L, -2, "__metatable");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &EMPTY_KEY);
        return;
    }
    lua_createtable(L, 0, 4);
    for (struct evkeyval *e = kv->tqh_first; e; e = e->next.tqe_next) {
        if (lua_getfield(L, -1, e->key) != LUA_TNIL) { lua_pop(L, 1); continue; } /* first wins */
        lua_pop(L, 1);
        lua_pushstring(L, e->value);
        lua_setfield(L, -2, e->key);
    }
}

/* Protected: [ctx] -> req. Kept apart from the handler call so the request
 * table (and the route the router wrote into it) survives a handler error. */
static int build_request(lua_State *L)
{
    reqctx_t *c = lua_touserdata(L, 1);
    struct evhttp_request *req = c->req;
    lua_settop(L, 0);

    lua_createtable(L, 0, 10);
    lua_pushstring(L, c->method);
    lua_setfield(L, -2, "method");
    lua_pushlstring(L, c->path, c->pathlen);
    lua_setfield(L, -2, "path");
    push_query(L, &c->query);
    lua_setfield(L, -2, "query");
    push_headers(L, evhttp_request_get_input_headers(req));
    lua_setfield(L, -2, "headers");
    lua_pushstring(L, c->client);
    lua_setfield(L, -2, "remote_addr");
    /* the handle riskd.web.stream/upgrade fill the takeover through */
    rk_takeover_t **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = &c->takeover;
    c->answer = box;
    luaL_newmetatable(L, RK_TAKEOVER_T);   /* made once per state */
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "_answer");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    if (blen > 0) {
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, blen);
        evbuffer_copyout(in, p, blen);
        luaL_pushresultsize(&b, blen);
        lua_setfield(L, -2, "raw_body");
    }
    return 1;
}

/* Protected: [req] -> req.route */
static int read_route(lua_State *L)
{
    lua_getfield(L, 1, "route");
    return 1;
}

/* An error riskd answers itself, before or without the Lua handler. In a
 * compatibility mode (--compat), every error is {"error": "message"}. */
static void send_json_error(const rk_config_t *cfg, struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *buf = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    char *flat = NULL;
    if (cfg && cfg->compat[0]) {
        json_t *doc = json_loads(body, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        json_t *out = msg ? json_pack("{s:s}", "error", msg) : NULL;
        if (out) flat = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        json_decref(doc);
    }
    if (flat) body = flat;
    if (buf) evbuffer_add(buf, body, strlen(body));
    free(flat);
    evhttp_send_reply(req, status, NULL, buf);
    if (buf) evbuffer_free(buf);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
    rk_worker_t *w = arg;
    w->pending--;
    rk_admit_done(w->admit, req);
}

/* Copies headers from the table at idx (string keys and values only);
 * Content-Type comes separately, already decided by the dispatcher. */
static void set_headers(lua_State *L, int idx, struct evkeyvalq *out)
{
    if (!lua_istable(L, idx)) return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
            /* evhttp refuses CR/LF in values, which blocks header injection. */
            if (strcasecmp(k, "Content-Type") != 0) {
                evhttp_remove_header(out, k);   /* the handler's wins (Cache-Control of static files) */
                evhttp_add_header(out, k, v);
            }
        }
        lua_pop(L, 1);
    }
}

static void decode_path(reqctx_t *c)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!raw || !*raw) raw = "/";
    c->path = evhttp_uridecode(raw, 0, &c->pathlen);
    TAILQ_INIT(&c->query);
    if (q && *q && evhttp_parse_query_str(q, &c->query) < 0) {
        free(c->path);  /* a malformed query string is a malformed request */
        c->path = NULL;
    }
}

/* Every line of header `name`, joined in order with commas: several lines
 * of a list header are one list (RFC 9110 5.3), and a client may send its
 * own line before the proxy's. NULL when there is none. */
static const char *joined_header(struct evkeyvalq *h, const char *name, char *buf, size_t cap)
{
    size_t len = 0;
    int found = 0;
    buf[0] = '\0';
    for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, name) != 0) continue;
        size_t n = strlen(kv->value);
        if (found && len + 1 < cap) buf[len++] = ',';
        if (len + n >= cap) n = cap - len - 1;   /* cut: the rightmost hops are lost, and the walk stops at garbage */
        memcpy(buf + len, kv->value, n);
        len += n;
        buf[len] = '\0';
        found = 1;
    }
    return found ? buf : NULL;
}

static void client_addr(reqctx_t *c)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &port);
    const char *chain = NULL;
    char buf[4096], fwd[4096];
    if (c->w->trusted->n > 0) {
        struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
        if (c->w->proxy_forwarded) {
            const char *f = joined_header(h, "Forwarded", fwd, sizeof fwd);
            if (f) { rk_forwarded_for(f, buf, sizeof buf); chain = buf; }
        } else {
            chain = joined_header(h, "X-Forwarded-For", buf, sizeof buf);
        }
    }
    rk_client_addr(c->w->trusted, peer, chain, c->client, sizeof c->client);
}

static void access_log(const reqctx_t *c, int status, const char *route, double secs)
{
    rk_log_t e;
    rk_log_begin(&e, RK_LOG_INFO, "request");
    rk_log_str(&e, "method", c->method);
    rk_log_strn(&e, "path", c->path, c->pathlen);
    rk_log_str(&e, "route", route);
    rk_log_int(&e, "status", status);
    rk_log_num(&e, "ms", secs * 1e3);
    rk_log_str(&e, "client", c->client);
    rk_log_int(&e, "worker", c->w->id);
    rk_log_end(&e);
}

static void finish(reqctx_t *c, int rc, int nres, const char *err);
static void step(reqctx_t *c, int nargs);

static void free_ctx(reqctx_t *c)
{
    if (c->answer) *c->answer = NULL;   /* a handler that kept req cannot reach a freed request */
    luaL_unref(rk_vm_state(c->vm), LUA_REGISTRYINDEX, c->co_ref);
    luaL_unref(rk_vm_state(c->vm), LUA_REGISTRYINDEX, c->req_ref);
    if (c->timer) event_free(c->timer);
    rk_vm_idle(c->vm);
    rk_vm_release(c->vm);
    free(c->path);
    evhttp_clear_headers(&c->query);
    free(c);
}

/* The task a request waited on came back (on this worker's thread). */
void rk_http_deliver(rk_task_t *t, void *arg)
{
    (void)arg;
    reqctx_t *c = t->owner;
    if (!c) { t->release(t); return; }   /* its request stopped waiting */
    c->waiting = NULL;
    evtimer_del(c->timer);
    lua_pushboolean(c->co, 1);
    step(c, 1);
}

/* The wait took longer than allowed: the request goes on without the
 * result (the handler sees a "timeout" failure); the task, when it comes
 * back, is only released. */
static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    reqctx_t *c = arg;
    if (c->sleeping) {   /* a pause: over, as asked */
        c->sleeping = 0;
        c->waiting->release(c->waiting);
        c->waiting = NULL;
        lua_pushboolean(c->co, 1);
        step(c, 1);
        return;
    }
    c->waiting->owner = NULL;
    c->waiting = NULL;
    lua_pushboolean(c->co, 0);
    step(c, 1);
}

/* Sends the awaited task where it belongs and arms the wait's time-out. */
static int suspend(reqctx_t *c)
{
    rk_worker_t *w = c->w;
    rk_vm_queue q;
    rk_task_t *t = rk_vm_awaited(c->vm, &q);
    if (!c->timer && !(c->timer = evtimer_new(w->base, on_wait_timeout, c))) {
        t->release(t);   /* never sent: ours to free */
        return -1;
    }
    t->owner = c;
    t->reply_to = w->mailbox;
    c->waiting = t;
    int ms = q == RK_VM_WRITER ? w->cfg->store_timeout_ms : q == RK_VM_TIMER ? t->rc : w->cfg->request_timeout_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
    c->sleeping = q == RK_VM_TIMER;
    if (q == RK_VM_TIMER) return 0;
    if (q == RK_VM_WRITER) rk_writer_submit(w->host.writer, t);
    else rk_pool_submit(w->host.pool, t);
    return 0;
}

/* Runs the coroutine until it finishes or suspends. */
static void step(reqctx_t *c, int nargs)
{
    char err[2048];
    int nres = 0;
    uint64_t budget = (uint64_t)c->w->cfg->request_timeout_ms * 1000000ULL;
    uint64_t left = c->ran_ns < budget ? budget - c->ran_ns : 1;
    uint64_t t = rk_now_ns();
    int rc = rk_vm_resume(c->vm, c->co, nargs, &nres, left, err, sizeof err);
    c->ran_ns += rk_now_ns() - t;
    if (rc == RK_VM_WAITING) {
        if (suspend(c) == 0) return;
        rc = RK_VM_ERROR;
        snprintf(err, sizeof err, "out of memory suspending the request");
    }
    finish(c, rc, nres, err);
}

/* The handler asked for a Server-Sent Events stream (riskd.web.stream):
 * the response becomes a stream (rt_stream.c) that no longer holds up a drain.
 * Returns the status answered: 200, or 503 when the worker has too many
 * streams. */
static int start_stream(reqctx_t *c)
{
    rk_worker_t *w = c->w;
    const rk_takeover_t *t = &c->takeover;
    static const char busy[] = "{\"error\":{\"code\":\"too_many_streams\",\"message\":\"too many open streams\"}}";
    if (rk_streams_count(w->streams) >= RK_STREAM_MAX_PER_WORKER) {
        send_json_error(c->w->cfg, c->req, 503, busy);
        return 503;
    }
    evhttp_request_set_on_complete_cb(c->req, NULL, NULL);
    w->pending--;
    rk_admit_detach(w->admit, evhttp_request_get_connection(c->req));
    if (rk_streams_start(w->streams, c->req, t->topic[0] ? t->topic : NULL, t->min_level, t->last_id, &t->who) != 0) {
        send_json_error(c->w->cfg, c->req, 503, busy);
        return 503;
    }
    return 200;
}

/* The handler accepted a WebSocket handshake (riskd.web.upgrade): rt_ws.c
 * takes the connection over. Returns the status answered: 101, or 503 when
 * the worker has too many connections. */
static int start_websocket(reqctx_t *c)
{
    rk_worker_t *w = c->w;
    static const char busy[] = "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many WebSocket connections\"}}";
    if (rk_ws_count(w->ws) >= RK_WS_MAX_PER_WORKER) {
        send_json_error(c->w->cfg, c->req, 503, busy);
        return 503;
    }
    /* never answered through evhttp: it does not hold up a drain */
    evhttp_request_set_on_complete_cb(c->req, NULL, NULL);
    w->pending--;
    rk_admit_detach(w->admit, evhttp_request_get_connection(c->req));
    if (rk_ws_upgrade(w->ws, c->req, &c->takeover.who) != 0) {
        send_json_error(c->w->cfg, c->req, 503, busy);
        return 503;
    }
    return 101;
}

/* Writes the answer from the handler's results (status, body, content
 * type, headers, route on top of co), or a 500. */
static void finish(reqctx_t *c, int rc, int nres, const char *err)
{
    rk_worker_t *w = c->w;
    lua_State *L = rk_vm_state(c->vm), *co = c->co;
    struct evhttp_request *req = c->req;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char route[96] = "unmatched";
    int status = 500;
    int base = rc == RK_VM_DONE ? lua_gettop(co) - nres : 0;   /* results at base+1.. */
    if (rc == RK_VM_DONE && nres >= 5 && lua_type(co, base + 5) == LUA_TSTRING) {
        copy_str(route, sizeof route, lua_tostring(co, base + 5));
    } else if (rc != RK_VM_DONE) {
        /* The handler failed: the router may have named the route in req.
         * Read it protected too, as a field lookup can allocate. */
        int top = lua_gettop(L);
        char rerr[128];
        lua_pushcfunction(L, read_route);
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->req_ref);
        if (rk_vm_call(c->vm, 1, 1, w->cfg->request_timeout_ms, rerr, sizeof rerr) == 0 &&
            lua_type(L, -1) == LUA_TSTRING)
            copy_str(route, sizeof route, lua_tostring(L, -1));
        lua_settop(L, top);
    }
    if (rc != RK_VM_DONE || nres < 4 || !lua_isinteger(co, base + 1) ||
        lua_tointeger(co, base + 1) < 100 || lua_tointeger(co, base + 1) > 599) {
        rk_log_t e;
        rk_metrics_inc(w->metrics, rc == RK_VM_TIMEOUT ? RK_M_LUA_TIMEOUTS : RK_M_LUA_ERRORS);
        rk_log_begin(&e, RK_LOG_ERROR, rc == RK_VM_TIMEOUT ? "handler timed out" : "handler failed");
        rk_log_str(&e, "method", c->method);
        rk_log_strn(&e, "path", c->path, c->pathlen);
        rk_log_str(&e, "error", rc != RK_VM_DONE ? err : "handler returned no valid status");
        rk_log_end(&e);
        send_json_error(w->cfg, req, 500, ERR_INTERNAL);
    } else {
        status = (int)lua_tointeger(co, base + 1);
        set_headers(co, base + 4, out);
        if (status == 200 && c->takeover.kind == RK_TAKEOVER_STREAM) { status = start_stream(c); goto done; }
        if (status == 200 && c->takeover.kind == RK_TAKEOVER_WEBSOCKET) { status = start_websocket(c); goto done; }
        if (lua_type(co, base + 3) == LUA_TSTRING)
            evhttp_add_header(out, "Content-Type", lua_tostring(co, base + 3));
        struct evbuffer *buf = evhttp_request_get_output_buffer(req);
        if (lua_type(co, base + 2) == LUA_TSTRING) {
            size_t blen;
            const char *body = lua_tolstring(co, base + 2, &blen);
            evbuffer_add(buf, body, blen);
        }
        evhttp_send_reply(req, status, NULL, NULL);
    }
done:;
    double secs = (double)(rk_now_ns() - c->t0) / 1e9;
    rk_metrics_request(w->metrics, w->id, route, status, secs);
    rk_metrics_set_lua_memory(w->metrics, w->id, rk_vm_memory(c->vm));
    if (w->cfg->access_log) access_log(c, status, route, secs);
    free_ctx(c);
}

/* Protected on the main state (anchoring allocates): [ctx, handle] -> [].
 * Builds the request table and the coroutine, whose stack is then
 * [handle, req], ready to resume with one argument. */
static int start_request(lua_State *L)
{
    reqctx_t *c = lua_touserdata(L, 1);
    lua_pushcfunction(L, build_request);
    lua_pushlightuserdata(L, c);
    lua_call(L, 1, 1);                 /* 3: req */
    lua_State *co = lua_newthread(L);  /* 4 */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_xmove(L, co, 2);
    c->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->req_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->co = co;
    return 0;
}

void rk_http_handle(struct evhttp_request *req, void *arg)
{
    rk_worker_t *w = arg;
    reqctx_t *c = calloc(1, sizeof *c);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    /* On every answer, errors included: never sniffed into HTML, never
     * cached (risk decisions and tokens are per request). */
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "Cache-Control", "no-store");
    if (!c) { send_json_error(w->cfg, req, 500, ERR_INTERNAL); return; }
    c->t0 = rk_now_ns();
    c->req = req;
    c->w = w;
    c->vm = w->vm;
    c->co_ref = c->req_ref = LUA_NOREF;
    rk_vm_hold(c->vm);
    c->method = method_name(evhttp_request_get_command(req));
    decode_path(c);
    client_addr(c);

    w->pending++;
    evhttp_request_set_on_complete_cb(req, on_complete, w);
    if (w->draining) evhttp_add_header(out, "Connection", "close");

    int refused = 0;
    if (!evhttp_request_get_uri(req) && evhttp_request_get_response_code(req) == 413) {
        /* evhttp refused the body (http_admit.h): it was dropped, never read in */
        refused = 413;
        evhttp_add_header(out, "Connection", "close");
        send_json_error(w->cfg, req, 413, "{\"error\":{\"code\":\"payload_too_large\",\"message\":\"the request body is over "
                                  "this route's limit\"}}");
    } else if (rk_admit_refused(w->admit, req)) {
        refused = 503;
        evhttp_add_header(out, "Connection", "close");
        send_json_error(w->cfg, req, 503, "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open "
                                  "connections from this address or to this worker\"}}");
    } else if (!c->path) {
        refused = 400;
        send_json_error(w->cfg, req, 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed path or query string\"}}");
    } else if (count_headers(evhttp_request_get_input_headers(req)) > MAX_HEADERS) {
        refused = 431;
        send_json_error(w->cfg, req, 431, "{\"error\":{\"code\":\"too_many_headers\",\"message\":\"more than 100 request headers\"}}");
    }
    if (refused) {
        double secs = (double)(rk_now_ns() - c->t0) / 1e9;
        rk_metrics_request(w->metrics, w->id, "unmatched", refused, secs);
        if (w->cfg->access_log) access_log(c, refused, "unmatched", secs);
        free_ctx(c);
        return;
    }

    lua_State *L = rk_vm_state(c->vm);
    char err[2048];
    lua_pushcfunction(L, start_request);
    lua_pushlightuserdata(L, c);
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->handle_ref);
    int rc = rk_vm_call(c->vm, 2, 0, w->cfg->request_timeout_ms, err, sizeof err);
    if (rc != 0) {
        /* No coroutine: only building the request failed (memory cap). */
        rk_metrics_inc(w->metrics, RK_M_LUA_ERRORS);
        rk_log_msg(RK_LOG_ERROR, "handler failed", "error", err);
        send_json_error(w->cfg, req, 500, ERR_INTERNAL);
        rk_metrics_request(w->metrics, w->id, "unmatched", 500, (double)(rk_now_ns() - c->t0) / 1e9);
        free_ctx(c);
        return;
    }
    step(c, 1);
}
