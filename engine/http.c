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
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker.h"

#define MAX_HEADERS 100      /* more request headers are dropped (STYLE: C caps its inputs) */
#define MAX_HEADER_NAME 128
#define ERR_INTERNAL "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal server error\"}}"

typedef struct {
    struct evhttp_request *req;
    rk_worker_t *w;
    const char *method;
    char *path;             /* percent-decoded, malloc'd */
    size_t pathlen;
    struct evkeyvalq query; /* parsed before the protected call, freed after */
    char client[64];
} reqctx_t;

/* Bounded string copy; snprintf("%s") costs ~400 instructions per call on
 * the hot path (callgrind). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
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

static void send_json_error(struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *buf = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (buf) evbuffer_add(buf, body, strlen(body));
    evhttp_send_reply(req, status, NULL, buf);
    if (buf) evbuffer_free(buf);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    rk_worker_t *w = arg;
    w->pending--;
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
            if (strcasecmp(k, "Content-Type") != 0) evhttp_add_header(out, k, v);
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

static void client_addr(reqctx_t *c)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &port);
    const char *xff = evhttp_find_header(evhttp_request_get_input_headers(c->req), "X-Forwarded-For");
    rk_client_addr(c->w->trusted, peer, xff, c->client, sizeof c->client);
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

void rk_http_handle(struct evhttp_request *req, void *arg)
{
    rk_worker_t *w = arg;
    uint64_t t0 = rk_now_ns();
    reqctx_t c;
    memset(&c, 0, sizeof c);
    c.req = req;
    c.w = w;
    c.method = method_name(evhttp_request_get_command(req));
    decode_path(&c);
    client_addr(&c);

    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    int status = 500;
    char route[96] = "unmatched";
    char err[2048];
    lua_State *L = rk_vm_state(w->vm);
    int top = lua_gettop(L);

    /* On every answer, errors included: never sniffed into HTML, never
     * cached (risk decisions and tokens are per request). */
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "Cache-Control", "no-store");

    w->pending++;
    evhttp_request_set_on_complete_cb(req, on_complete, w);
    if (w->draining) evhttp_add_header(out, "Connection", "close");

    if (!c.path) {
        status = 400;
        send_json_error(req, status, "{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed path or query string\"}}");
        goto done;
    }

    lua_pushcfunction(L, build_request);
    lua_pushlightuserdata(L, &c);
    int rc = rk_vm_call(w->vm, 1, 1, w->cfg->request_timeout_ms, err, sizeof err);
    if (rc == 0) {  /* [req] -> [req, status, body, ctype, headers, route] */
        lua_rawgeti(L, LUA_REGISTRYINDEX, w->handle_ref);
        lua_pushvalue(L, top + 1);
        rc = rk_vm_call(w->vm, 1, 5, w->cfg->request_timeout_ms, err, sizeof err);
    }
    if (rc == 0 && lua_type(L, top + 6) == LUA_TSTRING) {
        copy_str(route, sizeof route, lua_tostring(L, top + 6));
    } else if (rc != 0 && lua_gettop(L) > top) {
        /* The handler failed: the router may have named the route in req.
         * Read it protected too, as a field lookup can allocate. */
        int after = lua_gettop(L);
        lua_pushcfunction(L, read_route);
        lua_pushvalue(L, top + 1);
        if (rk_vm_call(w->vm, 1, 1, w->cfg->request_timeout_ms, route, sizeof route) == 0 &&
            lua_type(L, -1) == LUA_TSTRING)
            copy_str(route, sizeof route, lua_tostring(L, -1));
        else
            copy_str(route, sizeof route, "unmatched");
        lua_settop(L, after);
    }
    if (rc != 0 || !lua_isinteger(L, top + 2) ||
        lua_tointeger(L, top + 2) < 100 || lua_tointeger(L, top + 2) > 599) {
        rk_log_t e;
        rk_metrics_inc(w->metrics, rc == -2 ? RK_M_LUA_TIMEOUTS : RK_M_LUA_ERRORS);
        rk_log_begin(&e, RK_LOG_ERROR, rc == -2 ? "handler timed out" : "handler failed");
        rk_log_str(&e, "method", c.method);
        rk_log_strn(&e, "path", c.path, c.pathlen);
        rk_log_str(&e, "error", rc != 0 ? err : "handler returned no valid status");
        rk_log_end(&e);
        status = 500;
        send_json_error(req, status, ERR_INTERNAL);
        goto done;
    }
    status = (int)lua_tointeger(L, top + 2);
    set_headers(L, top + 5, out);
    if (lua_type(L, top + 4) == LUA_TSTRING)
        evhttp_add_header(out, "Content-Type", lua_tostring(L, top + 4));
    struct evbuffer *buf = evhttp_request_get_output_buffer(req);
    if (lua_type(L, top + 3) == LUA_TSTRING) {
        size_t blen;
        const char *body = lua_tolstring(L, top + 3, &blen);
        evbuffer_add(buf, body, blen);
    }
    evhttp_send_reply(req, status, NULL, NULL);

done:
    lua_settop(L, top);
    rk_vm_idle(w->vm);
    double secs = (double)(rk_now_ns() - t0) / 1e9;
    rk_metrics_request(w->metrics, w->id, route, status, secs);
    rk_metrics_set_lua_memory(w->metrics, w->id, rk_vm_memory(w->vm));
    if (w->cfg->access_log) access_log(&c, status, route, secs);
    free(c.path);
    evhttp_clear_headers(&c.query);
}
