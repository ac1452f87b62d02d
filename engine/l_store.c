/* l_store.c — `riskd.store`: the store for Lua, tables in and out.
 *
 *   local store = require("riskd.store")
 *   local db = assert(store.open("sqlite:data/riskd.db", { retention_days = 90 }))
 *   local id = db:record(event [, { profile = true }])   -- event: a flat table
 *   db:event(id), db:events(filter), db:profile(user_id), db:recent(user, ip, since)
 *   db:alert_insert(alert [, event_id]), db:alert(id), db:alerts(filter),
 *   db:alert_find_open(user, cause, since), db:alert_add_event(id, event_id, severity, ts),
 *   db:alert_set_status(id, status, who, note, ts)
 *   db:user_create(u), db:user(name), db:user_set_password(name, hash), db:user_delete(name), db:users()
 *   db:key_issue(name) --> key, record (role service) (the key shown once; the store keeps the hash of its secret)
 *                                | nil, why, "invalid" (a bad name) | nil, msg, "conflict" (a live key has it)
 *   db:key_check(text) --> record | nil, why, "invalid"; db:keys(); db:key_revoke(name, now); db:key_touch(id, now)
 *   db:accounts_generation() --> n | nil  -- changes with any account or key change, in any process
 *                                      -- records: { id, name, role, created, last_used?, revoked? }
 *   db:phish_insert(analysis), db:phish(id), db:phish_list(filter), db:phish_set_alert(id, alert_id)
 *   db:stats(now), db:timeline(since, until, "hour"|"day"), db:top_users(since, limit), db:purge(now, batch)
 *   db:sync()                          -- the summaries those read written first (a server's writer sums them)
 *   db:breakdown(since) --> { levels, countries, rules (each {{key, n}, ...}, most first), counted, sample }
 *   db:batch_begin(), db:batch_end()   -- group commit of the writes between them
 *   db:state(name) --> text | nil, msg, "not_found"; db:state_put(name, text) --> true
 *                                      -- riskd's own small documents (the calibrated levels)
 *   db:user_state(user_id, state | nil, by, ts) -- an analyst's word on an account (store.user_states);
 *                                      db:profile(user_id).state = { state, by, at } while one is set
 *   db:outbox_put(dest, kind, body, now) --> id; db:outbox({status, page, per_page}) --> {items, total};
 *   db:outbox_requeue(id, now)         -- deliveries to webhooks and SIEM targets (deliver.h)
 *   store.levels, store.roles, store.user_states, store.own_prefix (before the user id of riskd's own accounts' sign-ins)
 *   db:backend() --> "sqlite" | "mongodb" | "memory"; db:ping() --> true | nil, msg (the store answers now)
 *
 * Times are integers of UTC milliseconds. An event or alert table keeps every
 * field it was given: the store indexes the typed ones and keeps the whole
 * table as JSON (lua-cjson), so reading it back gives the same table.
 * Expected failures return nil, msg, code with code "not_found", "conflict"
 * or "store_error"; misuse raises.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "deliver.h"
#include "json_lua.h"
#include "l_modules.h"
#include "profile_lua.h"
#include "store.h"
#include "rates_sync.h"
#include "store_writer.h"
#include "vm.h"

#define STORE_T "riskd.store.db"
#define BOX_T "riskd.store.box"

typedef struct { rk_store_t *s; int borrowed; } store_ud;   /* borrowed: the worker's, not ours to close */

static store_ud *check_store(lua_State *L, int i)
{
    store_ud *u = luaL_checkudata(L, i, STORE_T);
    if (!u->s) luaL_error(L, "attempt to use a closed store");
    return u;
}

static int result(lua_State *L, int rc, const char *err)
{
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushstring(L, rc == RK_STORE_NOT_FOUND ? "not_found" : rc == RK_STORE_CONFLICT ? "conflict" : "store_error");
    return 3;
}

/* A box that frees a C record if a push raises before the binding frees it. */
typedef struct { void (*free)(void *); void *p; } box_t;

static int box_gc(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, BOX_T);
    if (b->p) { b->free(b->p); b->p = NULL; }
    return 0;
}

static box_t *push_box(lua_State *L, void (*fn)(void *), void *p)
{
    box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->free = fn;
    b->p = NULL;
    luaL_setmetatable(L, BOX_T);
    b->p = p;
    return b;
}

/* Frees the record now that it has been copied into Lua. */
static void done_box(box_t *b)
{
    if (b->p) { b->free(b->p); b->p = NULL; }
}

/* ---- JSON through lua-cjson ---- */

static void json_call(lua_State *L, const char *fn)
{
    /* [value] -> [result] */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
}

/* ---- table fields ---- */

static const char *opt_str(lua_State *L, int t, const char *k)
{
    int ty = lua_getfield(L, t, k);
    const char *v = NULL;
    if (ty == LUA_TSTRING) v = lua_tostring(L, -1);
    else if (ty != LUA_TNIL) luaL_error(L, "field '%s' must be a string, not %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);   /* the string stays alive: the table holds it */
    return v;
}

static double opt_num(lua_State *L, int t, const char *k, double def, int *present)
{
    int ty = lua_getfield(L, t, k);
    double v = def;
    if (ty == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (ty != LUA_TNIL) luaL_error(L, "field '%s' must be a number, not %s", k, luaL_typename(L, -1));
    if (present) *present = ty == LUA_TNUMBER;
    lua_pop(L, 1);
    return v;
}

static int64_t opt_int(lua_State *L, int t, const char *k, int64_t def)
{
    int ty = lua_getfield(L, t, k);
    int64_t v = def;
    if (ty == LUA_TNUMBER) {
        if (!lua_isinteger(L, -1)) luaL_error(L, "field '%s' must be an integer", k);
        v = lua_tointeger(L, -1);
    } else if (ty != LUA_TNIL) {
        luaL_error(L, "field '%s' must be an integer, not %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int t, const char *k, int def)
{
    int ty = lua_getfield(L, t, k);
    int v = def;
    if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL) luaL_error(L, "field '%s' must be a boolean", k);
    lua_pop(L, 1);
    return v;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }
}

static void set_int(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }
static void set_num(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void set_bool(lua_State *L, const char *k, int v) { lua_pushboolean(L, v); lua_setfield(L, -2, k); }

/* The fields of an event the store keeps as typed fields (columns, BSON
 * fields), which push_event sets over the document when reading: its
 * document leaves them out rather than keep each twice. */
static const char *const EVENT_COLUMNS[] = {
    "user_id", "ts", "ip_address", "success", "risk_score", "risk_level", "action", "is_anomaly",
    "anomaly_score", "country", "city", "device_id", "user_agent", "asn", "ip_prefix", "alert_id", "outcome", NULL
};

/* Reads an event table at t; the strings stay owned by the table. Pushes
 * the event's JSON document, the table less EVENT_COLUMNS (one value on the
 * stack; nil when doc is 0: the store does not keep it, and encoding it was
 * most of riskd score's write). */
static void read_event(lua_State *L, int t, rk_event_t *e, int doc)
{
    memset(e, 0, sizeof *e);
    e->user_id = opt_str(L, t, "user_id");
    e->ip = opt_str(L, t, "ip_address");
    if (!e->user_id || !e->ip) luaL_error(L, "an event needs user_id and ip_address");
    e->ts_ms = opt_int(L, t, "ts", 0);
    e->success = opt_bool(L, t, "success", 1);
    e->country = opt_str(L, t, "country");
    e->city = opt_str(L, t, "city");
    int has_lat, has_lon;
    e->lat = opt_num(L, t, "latitude", 0, &has_lat);
    e->lon = opt_num(L, t, "longitude", 0, &has_lon);
    e->has_geo = has_lat && has_lon;
    e->device_id = opt_str(L, t, "device_id");
    e->user_agent = opt_str(L, t, "user_agent");
    e->asn = opt_str(L, t, "asn");
    e->ip_prefix = opt_str(L, t, "ip_prefix");
    e->risk_score = opt_num(L, t, "risk_score", 0, NULL);
    e->risk_level = opt_str(L, t, "risk_level");
    if (!e->risk_level) e->risk_level = "low";
    e->action = opt_str(L, t, "action");
    e->is_anomaly = opt_bool(L, t, "is_anomaly", 0);
    e->anomaly_score = opt_num(L, t, "anomaly_score", 0, NULL);
    e->alert_id = opt_str(L, t, "alert_id");
    e->outcome = opt_str(L, t, "outcome");
    if (!doc) { lua_pushnil(L); return; }
    rk_json_lua_encode(L, t, 0, EVENT_COLUMNS);   /* as cjson's default instance writes it */
    e->doc = lua_tostring(L, -1);
}

/* Pushes an event as a table: its JSON, then the typed fields over it. */
static void push_event(lua_State *L, const rk_event_t *e)
{
    if (e->doc) { lua_pushstring(L, e->doc); json_call(L, "decode"); }
    if (!lua_istable(L, -1)) { if (e->doc) lua_pop(L, 1); lua_createtable(L, 0, 20); }
    set_str(L, "id", e->id);
    set_str(L, "user_id", e->user_id);
    set_int(L, "ts", e->ts_ms);
    set_str(L, "ip_address", e->ip);
    set_bool(L, "success", e->success);
    set_num(L, "risk_score", e->risk_score);
    set_str(L, "risk_level", e->risk_level);
    set_str(L, "action", e->action);
    set_bool(L, "is_anomaly", e->is_anomaly);
    set_num(L, "anomaly_score", e->anomaly_score);
    set_str(L, "country", e->country);
    set_str(L, "city", e->city);
    if (e->has_geo) { set_num(L, "latitude", e->lat); set_num(L, "longitude", e->lon); }
    set_str(L, "device_id", e->device_id);
    set_str(L, "user_agent", e->user_agent);
    set_str(L, "asn", e->asn);
    set_str(L, "ip_prefix", e->ip_prefix);
    set_str(L, "alert_id", e->alert_id);
    set_str(L, "outcome", e->outcome);
    if (e->held) set_str(L, "held", e->held == RK_LEARN_ON_GRACE ? "grace" : "outcome");
}

/* ---- open / close ---- */

static int l_open(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    rk_store_opts_t o;
    rk_store_defaults(&o);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        o.retention_days = (int)opt_int(L, 2, "retention_days", o.retention_days);
        o.busy_timeout_ms = (int)opt_int(L, 2, "busy_timeout_ms", o.busy_timeout_ms);
    }
    store_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = NULL;
    u->borrowed = 0;
    luaL_setmetatable(L, STORE_T);
    char err[1024];
    u->s = rk_store_open(uri, &o, err, sizeof err);
    if (!u->s) return result(L, -1, err);
    return 1;
}

static int db_close(lua_State *L)
{
    store_ud *u = luaL_checkudata(L, 1, STORE_T);
    if (!u->borrowed) rk_store_close(u->s);
    u->s = NULL;
    return 0;
}

/* store.worker() --> this worker's store (opened by the server with --db),
 * or nil, msg, "no_store" outside a server. One per state, kept. */
static const char WORKER_KEY = 'w';

/* store.valid_dest(dest) --> whether riskd can deliver to dest (deliver.h) */
static int l_valid_dest(lua_State *L)
{
    lua_pushboolean(L, rk_deliver_dest_valid(luaL_checkstring(L, 1)));
    return 1;
}

static int l_worker(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &WORKER_KEY) == LUA_TUSERDATA) return 1;
    lua_pop(L, 1);
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->store) {
        luaL_pushfail(L);
        lua_pushliteral(L, "no store: not running in a server");
        lua_pushliteral(L, "no_store");
        return 3;
    }
    store_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = h->store;
    u->borrowed = 1;
    luaL_setmetatable(L, STORE_T);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &WORKER_KEY);
    return 1;
}

static int db_tostring(lua_State *L)
{
    store_ud *u = luaL_checkudata(L, 1, STORE_T);
    lua_pushfstring(L, STORE_T " (%s)", u->s ? rk_store_backend(u->s) : "closed");
    return 1;
}

/* db:batch_begin() / db:batch_end() --> true | nil, msg, code: the writes
 * between them commit together (each still all-or-nothing by itself), as the
 * server's writer does; batch replays (riskd score, riskd train) use it. */
static int db_batch_begin(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[256];
    if (rk_store_batch_begin(u->s, err, sizeof err) != 0) return result(L, -1, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_batch_end(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[256];
    if (rk_store_batch_end(u->s, err, sizeof err) != 0) return result(L, -1, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_state(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[256], *text = NULL;
    int rc = rk_store_state_get(u->s, luaL_checkstring(L, 2), &text, err, sizeof err);
    if (rc != 0) return result(L, rc, err);
    lua_pushstring(L, text);
    free(text);
    return 1;
}

static int db_state_put(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[256];
    if (rk_store_state_put(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), err, sizeof err) != 0) return result(L, -1, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:ping() --> true, or nil, err: the store answers a read now. */
static int db_ping(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[256];
    if (rk_store_ping(u->s, err, sizeof err) != 0) return result(L, -1, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_backend(lua_State *L)
{
    lua_pushstring(L, rk_store_backend(check_store(L, 1)->s));
    return 1;
}

/* ---- users ---- */

static void user_box_free(void *p) { rk_store_user_free(p); free(p); }

static void push_user(lua_State *L, const rk_user_t *u)
{
    lua_createtable(L, 0, 6);
    set_str(L, "id", u->id);
    set_str(L, "username", u->username);
    set_str(L, "email", u->email);
    set_str(L, "role", u->role);
    set_str(L, "password_hash", u->password_hash);
    set_int(L, "created", u->created_ms);
}

static int db_user_create(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    rk_user_t usr;
    memset(&usr, 0, sizeof usr);
    usr.username = (char *)opt_str(L, 2, "username");
    usr.email = (char *)opt_str(L, 2, "email");
    usr.role = (char *)opt_str(L, 2, "role");
    usr.password_hash = (char *)opt_str(L, 2, "password_hash");
    if (!usr.username || !usr.role) luaL_error(L, "a user needs username and role");
    char err[512];
    int rc = rk_store_user_create(u->s, &usr, err, sizeof err);
    if (rc) return result(L, rc, err);
    push_user(L, &usr);
    return 1;
}

static int db_user(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *name = luaL_checkstring(L, 2);
    rk_user_t *usr = calloc(1, sizeof *usr);
    if (!usr) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, user_box_free, usr);
    char err[512];
    int rc = rk_store_user_get(u->s, name, usr, err, sizeof err);
    if (rc) return result(L, rc, err);
    push_user(L, usr);
    done_box(b);
    return 1;
}

static int db_user_set_password(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_user_set_password(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_user_delete(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_user_delete(u->s, luaL_checkstring(L, 2), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:user_state(user_id, state | nil, by, ts) --> true | nil, msg, "not_found" (no profile) */
static int db_user_state(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *user = luaL_checkstring(L, 2), *state = luaL_optstring(L, 3, NULL);
    luaL_argcheck(L, !state || rk_store_is_user_state(state), 3, "at_risk, compromised, safe or nil");
    char err[512];
    int rc = rk_store_user_state_set(u->s, user, state, luaL_optstring(L, 4, NULL), (int64_t)luaL_checkinteger(L, 5),
                                     err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:breakdown(since_ms) --> { levels = {{key, n}, ...}, countries = ..., rules = ..., counted, sample } */
static void push_top(lua_State *L, const char *field, const rk_count_t *c, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        set_str(L, "key", c[i].key);
        set_int(L, "n", c[i].n);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, field);
}

static int db_breakdown(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_breakdown_t *b = malloc(sizeof *b);
    if (!b) return luaL_error(L, "not enough memory");
    char err[512];
    int rc = rk_store_breakdown(u->s, (int64_t)luaL_checkinteger(L, 2), b, err, sizeof err);
    if (rc) { free(b); return result(L, rc, err); }
    lua_createtable(L, 0, 5);
    push_top(L, "levels", b->levels, b->nlevels);
    push_top(L, "countries", b->countries, b->ncountries);
    push_top(L, "rules", b->rules, b->nrules);
    set_int(L, "counted", b->counted);
    set_int(L, "sample", RK_BREAKDOWN_SAMPLE);
    free(b);
    return 1;
}

/* ---- the outbox ---- */

static void push_item(lua_State *L, const rk_outbox_item_t *it)
{
    lua_createtable(L, 0, 10);
    set_str(L, "id", it->id);
    set_str(L, "dest", it->dest);
    set_str(L, "kind", it->kind);
    set_str(L, "body", it->body);
    set_str(L, "status", it->status);
    set_int(L, "attempts", it->attempts);
    set_int(L, "created", it->created_ms);
    set_int(L, "next", it->next_ms);
    if (it->done_ms) set_int(L, "done", it->done_ms);
    if (it->last_error) set_str(L, "last_error", it->last_error);
}

/* db:outbox_put(dest, kind, body, now) --> id: a delivery (deliver.h), due now */
static int db_outbox_put(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_outbox_item_t it;
    memset(&it, 0, sizeof it);
    it.dest = (char *)luaL_checkstring(L, 2);
    it.kind = (char *)luaL_checkstring(L, 3);
    it.body = (char *)luaL_checkstring(L, 4);
    luaL_argcheck(L, rk_deliver_dest_valid(it.dest), 2, "http(s)://..., udp://HOST:PORT, tcp://HOST:PORT or file:PATH");
    char err[512];
    int rc = rk_store_outbox_put(u->s, &it, (int64_t)luaL_checkinteger(L, 5), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, it.id);
    return 1;
}

static void outbox_list_free(void *p) { rk_store_outbox_list_free(p); free(p); }

/* db:outbox({status =, page =, per_page =}) --> { items = {...}, total = n }, newest first */
static int db_outbox(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_outbox_filter_t f = { NULL, 1, 20 };
    if (lua_istable(L, 2)) {
        f.status = opt_str(L, 2, "status");
        f.page = (int)opt_int(L, 2, "page", 1);
        f.per_page = (int)opt_int(L, 2, "per_page", 20);
    }
    rk_outbox_list_t *l = calloc(1, sizeof *l);
    if (!l) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, outbox_list_free, l);
    char err[512];
    int rc = rk_store_outbox_list(u->s, &f, l, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, 0, 2);
    lua_createtable(L, (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) { push_item(L, &l->items[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    lua_setfield(L, -2, "items");
    set_int(L, "total", l->total);
    done_box(b);
    return 1;
}

/* db:outbox_requeue(id, now) --> true | nil, msg, "not_found" (no dead delivery of that id) */
static int db_outbox_requeue(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_outbox_requeue(u->s, luaL_checkstring(L, 2), (int64_t)luaL_checkinteger(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- API keys ---- */

static void push_key(lua_State *L, const rk_apikey_t *k)
{
    lua_createtable(L, 0, 6);
    set_str(L, "id", k->id);
    set_str(L, "name", k->name);
    set_str(L, "role", k->role);
    set_int(L, "created", k->created_ms);
    if (k->last_used_ms) set_int(L, "last_used", k->last_used_ms);
    if (k->revoked_ms) set_int(L, "revoked", k->revoked_ms);
}

static void key_box_free(void *p) { rk_store_key_free(p); free(p); }

/* db:key_issue(name) --> key, record: the key is shown once, the store keeps its hash */
static int db_key_issue(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *name = luaL_checkstring(L, 2);
    char key[RK_APIKEY_LEN + 1], err[512];
    rk_apikey_t rec;
    if (!rk_apikey_name_valid(name)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "a key's name is 1 to 64 letters, digits, '.', '_' or '-'");
        lua_pushliteral(L, "invalid");
        return 3;
    }
    int rc = rk_apikey_issue(u->s, name, key, &rec, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, key);
    rec.name = (char *)name;
    rec.role = (char *)RK_APIKEY_ROLE;
    push_key(L, &rec);
    return 2;
}

/* db:key_check(text) --> record | nil, why, "invalid" | nil, msg, "store_error" */
static int db_key_check(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    rk_apikey_t *k = calloc(1, sizeof *k);
    if (!k) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, key_box_free, k);
    char err[512];
    int rc = rk_apikey_check(u->s, text, len, k, err, sizeof err);
    if (rc < 0) return result(L, -1, err);
    if (rc == 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid");
        return 3;
    }
    push_key(L, k);
    done_box(b);
    return 1;
}

/* db:accounts_generation() --> integer | nil: changes with every change to
 * an account or a key, in any process (store.h); nil: read them every time. */
static int db_accounts_generation(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    uint64_t gen;
    if (!rk_store_accounts_generation(u->s, &gen)) { lua_pushnil(L); return 1; }
    lua_pushinteger(L, (lua_Integer)gen);
    return 1;
}

static int db_key_revoke(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_key_revoke(u->s, luaL_checkstring(L, 2), (int64_t)luaL_checkinteger(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_key_touch(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_key_touch(u->s, luaL_checkstring(L, 2), (int64_t)luaL_checkinteger(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

typedef struct { rk_apikey_t *v; size_t n; } keys_t;
static void keys_free(void *p)
{
    keys_t *x = p;
    for (size_t i = 0; i < x->n; i++) rk_store_key_free(&x->v[i]);
    free(x->v);
    free(x);
}

static int db_keys(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    keys_t *x = calloc(1, sizeof *x);
    if (!x) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, keys_free, x);
    char err[512];
    int rc = rk_store_key_list(u->s, &x->v, &x->n, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, (int)x->n, 0);
    for (size_t i = 0; i < x->n; i++) { push_key(L, &x->v[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    done_box(b);
    return 1;
}

typedef struct { rk_user_t *v; size_t n; } users_t;
static void users_free(void *p)
{
    users_t *x = p;
    for (size_t i = 0; i < x->n; i++) rk_store_user_free(&x->v[i]);
    free(x->v);
    free(x);
}

static int db_users(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    users_t *x = calloc(1, sizeof *x);
    if (!x) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, users_free, x);
    char err[512];
    int rc = rk_store_user_list(u->s, &x->v, &x->n, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, (int)x->n, 0);
    for (size_t i = 0; i < x->n; i++) { push_user(L, &x->v[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    done_box(b);
    return 1;
}

/* ---- writes through the server's writer ----
 * Inside a server request (rk_vm_can_await) a write is handed to the store
 * writer, which commits it with the other workers' writes of the moment,
 * and the request suspends until the commit: what it returns is on disk.
 * Elsewhere the write runs here on the handle. Results are the same. */

enum { OP_RECORD, OP_ALERT_INSERT, OP_ALERT_ADD, OP_ALERT_STATUS, OP_PHISH_INSERT, OP_PHISH_ALERT, OP_OUTCOME, OP_SETTLE, OP_SYNC };

typedef struct {
    rk_task_t base;
    int op, profile;                 /* OP_RECORD: update the profile; OP_OUTCOME: learn */
    int batch, learned;              /* OP_SETTLE: at most this many; OP_OUTCOME: what it did */
    int64_t settled;                 /* OP_SETTLE: how many were learned */
    rk_event_t *ev;                  /* OP_RECORD: a copy */
    rk_alert_t alert;                /* OP_ALERT_INSERT: strings in buf */
    rk_phish_rec_t phish;            /* OP_PHISH_INSERT: strings in buf */
    const char *arg[5];              /* the other ops' strings, in buf */
    int64_t ts;
    char id[RK_STORE_ID_LEN];        /* the new record's id */
    size_t used;
    char buf[];
} wtask_t;

static void wtask_release(rk_task_t *t)
{
    wtask_t *w = (wtask_t *)t;
    free(w->ev);
    free(w);
}

/* Copies s into the task's buffer (sized by the caller); NULL stays NULL. */
static const char *keep(wtask_t *w, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *at = w->buf + w->used;
    memcpy(at, s, n);
    w->used += n;
    return at;
}

static void wtask_run(rk_task_t *t, void *store)
{
    wtask_t *w = (wtask_t *)t;
    rk_store_t *s = store;
    switch (w->op) {
    case OP_RECORD:
        t->rc = rk_store_event_record(s, w->ev, w->profile, t->err, sizeof t->err);
        memcpy(w->id, w->ev->id, sizeof w->id);
        break;
    case OP_ALERT_INSERT:
        t->rc = rk_store_alert_insert(s, &w->alert, w->arg[0], t->err, sizeof t->err);
        memcpy(w->id, w->alert.id, sizeof w->id);
        break;
    case OP_PHISH_INSERT:
        t->rc = rk_store_phish_insert(s, &w->phish, t->err, sizeof t->err);
        memcpy(w->id, w->phish.id, sizeof w->id);
        break;
    case OP_PHISH_ALERT:
        t->rc = rk_store_phish_set_alert(s, w->arg[0], w->arg[1], t->err, sizeof t->err);
        break;
    case OP_SYNC:
        t->rc = rk_store_sync(s, t->err, sizeof t->err);
        break;
    case OP_SETTLE:
        t->rc = rk_store_events_settle(s, w->ts, w->batch, &w->settled, t->err, sizeof t->err);
        break;
    case OP_OUTCOME:
        t->rc = rk_store_event_outcome(s, w->arg[0], w->arg[1], w->profile, &w->learned, t->err, sizeof t->err);
        break;
    case OP_ALERT_ADD:
        t->rc = rk_store_alert_add_event(s, w->arg[0], w->arg[1], w->arg[2], w->ts, t->err, sizeof t->err);
        break;
    default:
        t->rc = rk_store_alert_set_status(s, w->arg[0], w->arg[1], w->arg[2], w->arg[3], w->ts, t->err, sizeof t->err);
        break;
    }
}

/* After the wait: [done] on top. The task is ours only when done. */
static int wtask_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    wtask_t *w = (wtask_t *)ctx;
    if (!lua_toboolean(L, -1)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the store did not answer in time");
        lua_pushliteral(L, "timeout");
        return 3;
    }
    char err[256], id[RK_STORE_ID_LEN];
    int rc = w->base.rc, op = w->op, learned = w->learned;
    int64_t settled = w->settled;
    memcpy(err, w->base.err, sizeof err);
    memcpy(id, w->id, sizeof id);
    wtask_release(&w->base);
    if (rc) return result(L, rc, err);
    if (op == OP_RECORD || op == OP_ALERT_INSERT || op == OP_PHISH_INSERT) lua_pushstring(L, id);
    else if (op == OP_OUTCOME) { lua_pushboolean(L, 1); lua_pushboolean(L, learned); return 2; }
    else if (op == OP_SETTLE) lua_pushinteger(L, settled);
    else lua_pushboolean(L, 1);
    return 1;
}

/* A task with room for the strings; raises when out of memory (nothing
 * to free yet). */
static wtask_t *wtask_new(lua_State *L, int op, size_t strings)
{
    wtask_t *w = calloc(1, sizeof *w + strings);
    if (!w) luaL_error(L, "not enough memory");
    w->op = op;
    w->base.run = wtask_run;
    w->base.release = wtask_release;
    return w;
}

static size_t slen(const char *s) { return s ? strlen(s) + 1 : 0; }

/* ---- events ---- */

/* db:record(event [, { profile = true, held = "grace"|"outcome", learn_at = ms }])
 * --> id: held, a success teaches the profile only once it is settled
 * (db:outcome, or db:settle after learn_at). */
static int db_record(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int profile = 1, held = RK_LEARN_NOW;
    int64_t learn_at = 0;
    if (!lua_isnoneornil(L, 3)) {
        static const char *const helds[] = { "now", "grace", "outcome", NULL };
        luaL_checktype(L, 3, LUA_TTABLE);
        profile = opt_bool(L, 3, "profile", 1);
        lua_getfield(L, 3, "held");
        held = luaL_checkoption(L, -1, "now", helds);
        lua_pop(L, 1);
        learn_at = opt_int(L, 3, "learn_at", 0);
    }
    rk_event_t e;
    read_event(L, 2, &e, rk_store_keeps_docs(u->s));   /* pushes the JSON */
    if (e.success) { e.held = held; e.learn_at = learn_at; }
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_RECORD, 0);
        if (!(w->ev = rk_event_dup(&e))) { free(w); return luaL_error(L, "not enough memory"); }
        w->profile = profile;
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_event_record(u->s, &e, profile, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, e.id);
    return 1;
}

static void event_box_free(void *p) { rk_store_event_free(p); free(p); }

static int db_event(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2);
    rk_event_t *e = calloc(1, sizeof *e);
    if (!e) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, event_box_free, e);
    char err[512];
    int rc = rk_store_event_get(u->s, id, e, err, sizeof err);
    if (rc) return result(L, rc, err);
    push_event(L, e);
    done_box(b);
    return 1;
}

static void list_box_free(void *p) { rk_store_event_list_free(p); free(p); }

static void read_paging(lua_State *L, int t, int *page, int *per)
{
    *page = (int)opt_int(L, t, "page", 1);
    *per = (int)opt_int(L, t, "per_page", 20);
    if (*page < 1 || *per < 1 || *per > 1000) luaL_error(L, "page must be >= 1 and per_page 1..1000");
}

static int db_events(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 20 };
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        f.user_id = opt_str(L, 2, "user_id");
        f.risk_level = opt_str(L, 2, "risk_level");
        f.min_risk = opt_num(L, 2, "min_risk", -1, NULL);
        f.since_ms = opt_int(L, 2, "since", 0);
        f.until_ms = opt_int(L, 2, "until", 0);
        f.anomaly_only = opt_bool(L, 2, "anomaly", 0);
        f.ip = opt_str(L, 2, "ip_address");
        f.country = opt_str(L, 2, "country");
        f.rule = opt_str(L, 2, "rule");
        read_paging(L, 2, &f.page, &f.per_page);
    }
    rk_event_list_t *l = calloc(1, sizeof *l);
    if (!l) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, list_box_free, l);
    char err[512];
    int rc = rk_store_event_list(u->s, &f, l, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, 0, 4);
    lua_createtable(L, (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) { push_event(L, &l->items[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    lua_setfield(L, -2, "events");
    set_int(L, "total", l->total);
    set_int(L, "page", f.page);
    set_int(L, "per_page", f.per_page);
    done_box(b);
    return 1;
}

static int db_set_event_alert(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char err[512];
    int rc = rk_store_event_set_alert(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_recent(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int64_t fails, users;
    char err[512];
    int rc = rk_store_recent(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), luaL_checkinteger(L, 4),
                             &fails, &users, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushinteger(L, fails);
    lua_pushinteger(L, users);
    return 2;
}

/* ---- profiles ---- */

/* db:profile(user_id) --> a read-only view of the profile (profile_lua.h) */
static int db_profile(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *user = luaL_checkstring(L, 2);
    rk_profile_t *p = rk_profile_lua_new(L);
    char err[512];
    int rc = rk_store_profile_get(u->s, user, p, err, sizeof err);
    if (rc) return result(L, rc, err);
    return 1;
}

/* db:global_counts({ devices = "d1", prefixes = "192.0.2.0/24", ... })
 *   --> { devices = { count, total, distinct }, ... } for the kinds given */
static int db_global_counts(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *vals[RK_PK_COUNT];
    for (int k = 0; k < RK_PK_COUNT; k++) vals[k] = opt_str(L, 2, rk_profile_kind_names[k]);
    rk_global_count_t g[RK_PK_COUNT];
    char err[512];
    int rc = rk_store_global_counts(u->s, vals, g, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_newtable(L);
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        lua_createtable(L, 0, 3);
        set_int(L, "count", g[k].count);
        set_int(L, "total", g[k].total);
        set_int(L, "distinct", g[k].distinct);
        lua_setfield(L, -2, rk_profile_kind_names[k]);
    }
    return 1;
}

static int db_update_profile(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    rk_event_t e;
    read_event(L, 2, &e, 0);   /* a profile needs no document */
    char err[512];
    int rc = rk_store_profile_update(u->s, &e, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- alerts ---- */

static void push_alert(lua_State *L, const rk_alert_t *a)
{
    if (a->doc) { lua_pushstring(L, a->doc); json_call(L, "decode"); }
    if (!lua_istable(L, -1)) { if (a->doc) lua_pop(L, 1); lua_createtable(L, 0, 10); }
    set_str(L, "id", a->id);
    set_str(L, "user_id", a->user_id);
    set_str(L, "severity", a->severity);
    set_str(L, "status", a->status);
    set_str(L, "cause", a->cause);
    set_int(L, "created", a->created_ms);
    set_int(L, "updated", a->updated_ms);
    set_int(L, "event_count", a->event_count);
}

static int db_alert_insert(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *event_id = luaL_optstring(L, 3, NULL);
    rk_alert_t a;
    memset(&a, 0, sizeof a);
    a.user_id = opt_str(L, 2, "user_id");
    a.severity = opt_str(L, 2, "severity");
    a.status = opt_str(L, 2, "status");
    a.cause = opt_str(L, 2, "cause");
    a.created_ms = opt_int(L, 2, "created", 0);
    rk_json_lua_encode(L, 2, 0, NULL);
    a.doc = lua_tostring(L, -1);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_ALERT_INSERT, slen(a.user_id) + slen(a.severity) + slen(a.status) +
                               slen(a.cause) + slen(a.doc) + slen(event_id));
        w->alert = a;
        w->alert.user_id = keep(w, a.user_id);
        w->alert.severity = keep(w, a.severity);
        w->alert.status = keep(w, a.status);
        w->alert.cause = keep(w, a.cause);
        w->alert.doc = keep(w, a.doc);
        w->arg[0] = keep(w, event_id);
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_alert_insert(u->s, &a, event_id, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, a.id);
    return 1;
}

static void detail_free(void *p) { rk_store_alert_detail_free(p); free(p); }

static int db_alert(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2);
    rk_alert_detail_t *d = calloc(1, sizeof *d);
    if (!d) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, detail_free, d);
    char err[512];
    int rc = rk_store_alert_get(u->s, id, d, err, sizeof err);
    if (rc) return result(L, rc, err);
    push_alert(L, &d->alert);
    lua_createtable(L, (int)d->nhistory, 0);
    for (size_t i = 0; i < d->nhistory; i++) {
        lua_createtable(L, 0, 4);
        set_int(L, "ts", d->history[i].ts_ms);
        set_str(L, "status", d->history[i].status);
        set_str(L, "who", d->history[i].who);
        set_str(L, "note", d->history[i].note);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "history");
    lua_createtable(L, (int)d->nevents, 0);
    for (size_t i = 0; i < d->nevents; i++) { lua_pushstring(L, d->event_ids[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    lua_setfield(L, -2, "events");
    done_box(b);
    return 1;
}

static void alist_free(void *p) { rk_store_alert_list_free(p); free(p); }

static int db_alerts(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_alert_filter_t f = { .page = 1, .per_page = 20 };
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        f.status = opt_str(L, 2, "status");
        f.severity = opt_str(L, 2, "severity");
        f.user_id = opt_str(L, 2, "user_id");
        f.since_ms = opt_int(L, 2, "since", 0);
        f.until_ms = opt_int(L, 2, "until", 0);
        read_paging(L, 2, &f.page, &f.per_page);
    }
    rk_alert_list_t *l = calloc(1, sizeof *l);
    if (!l) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, alist_free, l);
    char err[512];
    int rc = rk_store_alert_list(u->s, &f, l, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, 0, 4);
    lua_createtable(L, (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) { push_alert(L, &l->items[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    lua_setfield(L, -2, "alerts");
    set_int(L, "total", l->total);
    set_int(L, "page", f.page);
    set_int(L, "per_page", f.per_page);
    done_box(b);
    return 1;
}

/* ---- phishing analyses ---- */

static void push_phish(lua_State *L, const rk_phish_rec_t *r)
{
    if (r->doc) { lua_pushstring(L, r->doc); json_call(L, "decode"); }
    if (!lua_istable(L, -1)) { if (r->doc) lua_pop(L, 1); lua_createtable(L, 0, 10); }
    set_str(L, "id", r->id);
    set_int(L, "ts", r->ts_ms);
    set_str(L, "verdict", r->verdict);
    set_num(L, "score", r->score);
    set_str(L, "sender", r->sender);
    set_str(L, "recipient", r->recipient);
    set_str(L, "subject", r->subject);
    set_str(L, "message_id", r->message_id);
    set_str(L, "alert_id", r->alert_id);
}

/* The analysis table keeps every field: the typed ones are indexed, the
 * whole table is kept as JSON. In a server, through the writer like the
 * other writes (one write lock on SQLite). */
static int db_phish_insert(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    rk_phish_rec_t r;
    memset(&r, 0, sizeof r);
    r.verdict = opt_str(L, 2, "verdict");
    r.score = opt_num(L, 2, "score", 0, NULL);
    r.sender = opt_str(L, 2, "sender");
    r.recipient = opt_str(L, 2, "recipient");
    r.subject = opt_str(L, 2, "subject");
    r.message_id = opt_str(L, 2, "message_id");
    r.alert_id = opt_str(L, 2, "alert_id");
    r.ts_ms = opt_int(L, 2, "ts", 0);
    rk_json_lua_encode(L, 2, 0, NULL);
    r.doc = lua_tostring(L, -1);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_PHISH_INSERT, slen(r.verdict) + slen(r.sender) + slen(r.recipient) + slen(r.subject) +
                               slen(r.message_id) + slen(r.alert_id) + slen(r.doc));
        w->phish = r;
        w->phish.verdict = keep(w, r.verdict);
        w->phish.sender = keep(w, r.sender);
        w->phish.recipient = keep(w, r.recipient);
        w->phish.subject = keep(w, r.subject);
        w->phish.message_id = keep(w, r.message_id);
        w->phish.alert_id = keep(w, r.alert_id);
        w->phish.doc = keep(w, r.doc);
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_phish_insert(u->s, &r, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, r.id);
    return 1;
}

static void phish_box_free(void *p) { rk_store_phish_free(p); free(p); }

static int db_phish(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2);
    rk_phish_rec_t *r = calloc(1, sizeof *r);
    if (!r) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, phish_box_free, r);
    char err[512];
    int rc = rk_store_phish_get(u->s, id, r, err, sizeof err);
    if (rc) return result(L, rc, err);
    push_phish(L, r);
    done_box(b);
    return 1;
}

static void plist_free(void *p) { rk_store_phish_list_free(p); free(p); }

static int db_phish_list(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_phish_filter_t f = { NULL, NULL, -1, 0, 0, 1, 20 };
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        f.verdict = opt_str(L, 2, "verdict");
        f.sender = opt_str(L, 2, "sender");
        f.min_score = opt_num(L, 2, "min_score", -1, NULL);
        f.since_ms = opt_int(L, 2, "since", 0);
        f.until_ms = opt_int(L, 2, "until", 0);
        read_paging(L, 2, &f.page, &f.per_page);
    }
    rk_phish_list_t *l = calloc(1, sizeof *l);
    if (!l) return luaL_error(L, "not enough memory");
    box_t *b = push_box(L, plist_free, l);
    char err[512];
    int rc = rk_store_phish_list(u->s, &f, l, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, 0, 4);
    lua_createtable(L, (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) { push_phish(L, &l->items[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    lua_setfield(L, -2, "items");
    set_int(L, "total", l->total);
    set_int(L, "page", f.page);
    set_int(L, "per_page", f.per_page);
    done_box(b);
    return 1;
}

static int db_phish_set_alert(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2), *alert_id = luaL_checkstring(L, 3);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_PHISH_ALERT, slen(id) + slen(alert_id));
        w->arg[0] = keep(w, id);
        w->arg[1] = keep(w, alert_id);
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_phish_set_alert(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3), err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:sync(): the summaries the server's writer still sums in memory
 * written first (store.h: rk_store_sync), for a report that reads them. */
static int db_sync(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    if (!rk_store_unflushed(u->s)) { lua_pushboolean(L, 1); return 1; }
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER))
        return rk_vm_await(L, &wtask_new(L, OP_SYNC, 0)->base, RK_VM_WRITER, wtask_k);
    char err[512];
    int rc = rk_store_sync(u->s, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_alert_find_open(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    char id[RK_STORE_ID_LEN], err[512];
    int rc = rk_store_alert_find_open(u->s, luaL_checkstring(L, 2), luaL_checkstring(L, 3),
                                      luaL_optinteger(L, 4, 0), id, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushstring(L, id);
    return 1;
}

static int db_alert_add_event(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2), *ev = luaL_checkstring(L, 3), *sev = luaL_checkstring(L, 4);
    int64_t ts = luaL_checkinteger(L, 5);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_ALERT_ADD, slen(id) + slen(ev) + slen(sev));
        w->arg[0] = keep(w, id);
        w->arg[1] = keep(w, ev);
        w->arg[2] = keep(w, sev);
        w->ts = ts;
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_alert_add_event(u->s, id, ev, sev, ts, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int db_alert_set_status(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2), *status = luaL_checkstring(L, 3), *who = luaL_checkstring(L, 4);
    const char *note = luaL_optstring(L, 5, NULL);
    int64_t ts = luaL_checkinteger(L, 6);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_ALERT_STATUS, slen(id) + slen(status) + slen(who) + slen(note));
        w->arg[0] = keep(w, id);
        w->arg[1] = keep(w, status);
        w->arg[2] = keep(w, who);
        w->arg[3] = keep(w, note);
        w->ts = ts;
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_alert_set_status(u->s, id, status, who, note, ts, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- aggregates ---- */

static void push_counts(lua_State *L, const rk_counts_t *c)
{
    lua_createtable(L, 0, 10);
    set_int(L, "attempts", c->attempts);
    set_int(L, "failures", c->failures);
    set_int(L, "anomalies", c->anomalies);
    set_num(L, "anomaly_rate", c->anomaly_rate);
    set_int(L, "distinct_users", c->distinct_users);
    set_int(L, "distinct_ips", c->distinct_ips);
    lua_createtable(L, 0, RK_LEVELS);
    for (int i = 0; i < RK_LEVELS; i++) set_int(L, rk_store_levels[i], c->by_level[i]);
    lua_setfield(L, -2, "by_level");
    lua_createtable(L, 0, RK_ALERT_STATUSES);
    for (int i = 0; i < RK_ALERT_STATUSES; i++) set_int(L, rk_store_statuses[i], c->alerts_by_status[i]);
    lua_setfield(L, -2, "alerts_by_status");
    lua_createtable(L, 0, RK_SEVERITIES);
    for (int i = 0; i < RK_SEVERITIES; i++) set_int(L, rk_store_levels[i], c->alerts_by_severity[i]);
    lua_setfield(L, -2, "alerts_by_severity");
}

static int db_stats(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    rk_stats_t st;
    char err[512];
    int rc = rk_store_stats(u->s, luaL_checkinteger(L, 2), &st, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_createtable(L, 0, 2);
    push_counts(L, &st.all);
    lua_setfield(L, -2, "all");
    push_counts(L, &st.last_24h);
    lua_setfield(L, -2, "last_24h");
    return 1;
}

static int db_timeline(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int64_t since = luaL_checkinteger(L, 2), until = luaL_checkinteger(L, 3);
    static const char *const names[] = { "hour", "day", NULL };
    int which = luaL_checkoption(L, 4, "hour", names);
    box_t *b = push_box(L, free, NULL);   /* owns the buckets from the start */
    rk_bucket_t *buckets = NULL;
    size_t n = 0;
    char err[512];
    int rc = rk_store_timeline(u->s, since, until, which ? 86400000LL : 3600000LL, &buckets, &n, err, sizeof err);
    b->p = buckets;
    if (rc) return result(L, rc, err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        rk_bucket_t *k = &buckets[i];
        lua_createtable(L, 0, 6);
        set_int(L, "start", k->start_ms);
        set_int(L, "attempts", k->attempts);
        set_int(L, "failures", k->failures);
        set_int(L, "anomalies", k->anomalies);
        set_int(L, "alerts", k->alerts);
        set_num(L, "mean_risk", k->mean_risk);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    done_box(b);
    return 1;
}

static int db_top_users(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int64_t since = luaL_optinteger(L, 2, 0);
    int limit = (int)luaL_optinteger(L, 3, 10);
    luaL_argcheck(L, limit >= 1 && limit <= 1000, 3, "limit must be 1..1000");
    box_t *b = push_box(L, free, NULL);
    rk_top_user_t *top = NULL;
    size_t n = 0;
    char err[512];
    int rc = rk_store_top_users(u->s, since, limit, &top, &n, err, sizeof err);
    b->p = top;
    if (rc) return result(L, rc, err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        set_str(L, "user_id", top[i].user_id);
        set_num(L, "max_risk", top[i].max_risk);
        set_num(L, "mean_risk", top[i].mean_risk);
        set_int(L, "attempts", top[i].attempts);
        set_int(L, "anomalies", top[i].anomalies);
        set_int(L, "high_risk", top[i].high_risk);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    done_box(b);
    return 1;
}

/* db:outcome(id, outcome|nil, learn) --> true, learned: the outcome the
 * service reported; a held success is settled (learned when learn). */
static int db_outcome(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    const char *id = luaL_checkstring(L, 2), *outcome = luaL_optstring(L, 3, NULL);
    int learn = lua_toboolean(L, 4);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_OUTCOME, slen(id) + slen(outcome));
        w->arg[0] = keep(w, id);
        w->arg[1] = keep(w, outcome);
        w->profile = learn;
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int learned = 0;
    int rc = rk_store_event_outcome(u->s, id, outcome, learn, &learned, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, 1);
    lua_pushboolean(L, learned);
    return 2;
}

/* db:settle(now_ms [, batch]) --> n: the held successes whose grace period
 * has ended by now_ms (the attempts' clock), learned. */
static int db_settle(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int64_t now = luaL_checkinteger(L, 2), n = 0;
    int batch = (int)luaL_optinteger(L, 3, 500);
    if (u->borrowed && rk_vm_can_await(L, RK_VM_WRITER)) {
        wtask_t *w = wtask_new(L, OP_SETTLE, 0);
        w->ts = now;
        w->batch = batch;
        return rk_vm_await(L, &w->base, RK_VM_WRITER, wtask_k);
    }
    char err[512];
    int rc = rk_store_events_settle(u->s, now, batch, &n, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushinteger(L, n);
    return 1;
}

/* db:due(now_ms) --> whether a held success's grace period has ended. */
static int db_due(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int due;
    char err[512];
    int rc = rk_store_events_due(u->s, luaL_checkinteger(L, 2), &due, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushboolean(L, due);
    return 1;
}

static int db_purge(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    int64_t deleted;
    char err[512];
    int rc = rk_store_purge(u->s, luaL_checkinteger(L, 2), (int)luaL_optinteger(L, 3, 500), &deleted, err, sizeof err);
    if (rc) return result(L, rc, err);
    lua_pushinteger(L, deleted);
    return 1;
}

/* db:shares_rates() --> whether the backend shares the site-wide rates
 * between processes (store.h): where it does not, a process that outlives a
 * restart keeps them as its own state (db:state, riskd.rates.encode). */
static int db_shares_rates(lua_State *L)
{
    lua_pushboolean(L, rk_store_shares_rates(check_store(L, 1)->s));
    return 1;
}

/* db:sync_rates() --> true, false (the backend does not share rates), or
 * nil, err: one round of sharing the process's site-wide rates (riskd.rates)
 * with the other instances (rates_sync.h); the server runs it in a thread. */
static int db_sync_rates(lua_State *L)
{
    store_ud *u = check_store(L, 1);
    if (!rk_store_shares_rates(u->s)) { lua_pushboolean(L, 0); return 1; }
    char err[512];
    if (rk_rates_sync_once(rk_rates_global(), u->s, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_riskd_store(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "backend", db_backend }, { "ping", db_ping }, { "close", db_close },
        { "batch_begin", db_batch_begin }, { "batch_end", db_batch_end },
        { "state", db_state }, { "state_put", db_state_put },
        { "user_create", db_user_create }, { "user", db_user }, { "user_set_password", db_user_set_password },
        { "user_delete", db_user_delete }, { "users", db_users },
        { "key_issue", db_key_issue }, { "key_check", db_key_check }, { "accounts_generation", db_accounts_generation }, { "key_revoke", db_key_revoke },
        { "key_touch", db_key_touch }, { "keys", db_keys }, { "user_state", db_user_state },
        { "breakdown", db_breakdown }, { "outbox_put", db_outbox_put }, { "outbox", db_outbox }, { "outbox_requeue", db_outbox_requeue },
        { "record", db_record }, { "event", db_event }, { "events", db_events },
        { "set_event_alert", db_set_event_alert }, { "recent", db_recent },
        { "profile", db_profile }, { "update_profile", db_update_profile }, { "global_counts", db_global_counts },
        { "alert_insert", db_alert_insert }, { "alert", db_alert }, { "alerts", db_alerts },
        { "phish_insert", db_phish_insert }, { "phish", db_phish }, { "phish_list", db_phish_list },
        { "phish_set_alert", db_phish_set_alert },
        { "alert_find_open", db_alert_find_open }, { "alert_add_event", db_alert_add_event },
        { "alert_set_status", db_alert_set_status },
        { "sync", db_sync }, { "stats", db_stats }, { "timeline", db_timeline }, { "top_users", db_top_users }, { "purge", db_purge },
        { "outcome", db_outcome }, { "settle", db_settle }, { "due", db_due },
        { "sync_rates", db_sync_rates }, { "shares_rates", db_shares_rates },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", db_close }, { "__close", db_close }, { "__tostring", db_tostring }, { NULL, NULL },
    };
    static const luaL_Reg box_meta[] = { { "__gc", box_gc }, { NULL, NULL } };
    if (luaL_newmetatable(L, STORE_T)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlibtable(L, methods);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BOX_T)) luaL_setfuncs(L, box_meta, 0);
    lua_pop(L, 1);
    static const luaL_Reg fns[] = { { "open", l_open }, { "worker", l_worker }, { "valid_dest", l_valid_dest }, { NULL, NULL } };
    luaL_newlib(L, fns);
    /* the risk levels (lowest first) and the roles, as the engine defines them */
    lua_createtable(L, RK_LEVELS, 0);
    for (int i = 0; i < RK_LEVELS; i++) { lua_pushstring(L, rk_store_levels[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "levels");
    lua_createtable(L, RK_ROLES, 0);
    for (int i = 0; i < RK_ROLES; i++) { lua_pushstring(L, rk_store_roles[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "roles");
    lua_createtable(L, RK_USER_STATES, 0);
    for (int i = 0; i < RK_USER_STATES; i++) { lua_pushstring(L, rk_store_user_states[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "user_states");
    lua_pushliteral(L, RK_STORE_OWN_PREFIX);   /* before riskd's own accounts' sign-ins */
    lua_setfield(L, -2, "own_prefix");
    return 1;
}
