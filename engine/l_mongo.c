/* l_mongo.c — `riskd.mongo`: MongoDB for scripts that need their own queries,
 * through mongo-c-driver, with an exact Lua table <-> BSON conversion.
 *
 *   local mongo = require("riskd.mongo")
 *   local client = assert(mongo.client("mongodb://localhost/riskd"))
 *   local coll = client:collection("riskd", "notes")
 *   local id = assert(coll:insert_one({ user = "alice", n = 1 }))
 *   for doc in coll:find({ user = "alice" }, { sort = { n = -1 }, limit = 10 }) do ... end
 *   coll:find_one(f), coll:update_one(f, u [, opts]), coll:update_many(f, u [, opts]),
 *   coll:delete_one(f), coll:delete_many(f), coll:count(f), coll:aggregate(pipeline),
 *   coll:create_index(keys [, { unique = true, name = "..." }]), coll:insert_many(docs)
 *   (sort specs and index keys keep their order when given as pairs:
 *   { {"user", 1}, {"ts", -1} })
 *   mongo.encode(t) --> BSON bytes, mongo.decode(bytes) --> t, mongo.to_json(t) --> canonical extended JSON
 *
 * Conversion, exact both ways:
 *   integer <-> int64 (int32 reads as an integer too), float <-> double,
 *   string <-> UTF-8 string (invalid UTF-8 raises), boolean <-> bool,
 *   mongo.null <-> null, mongo.oid(hex) <-> ObjectId, mongo.date(ms) <-> UTC datetime,
 *   a table with keys 1..n <-> array, and any table marked by mongo.array(t)
 *   (arrays read back are marked, so an empty array stays an array); other
 *   tables <-> documents with string keys. Binary reads as a string, decimal128
 *   and regular expressions as their text, timestamps as integers.
 * Server failures return nil, msg, code ("duplicate_key", "timeout", "mongo_error").
 */
#include <lauxlib.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <string.h>

#include "l_modules.h"
#include "mongo_init.h"

#define CLIENT_T "riskd.mongo.client"
#define COLL_T "riskd.mongo.collection"
#define CURSOR_T "riskd.mongo.cursor"
#define OID_T "riskd.mongo.oid"
#define DATE_T "riskd.mongo.date"
#define DOC_T "riskd.mongo.bson"
#define MAX_DEPTH 100

static const char NULL_KEY = 'n';    /* registry: the mongo.null sentinel */
static const char ARRAY_MT = 'a';    /* registry: the metatable that marks arrays */


typedef struct { mongoc_client_t *c; } client_ud;
typedef struct { mongoc_collection_t *c; } coll_ud;
typedef struct { mongoc_cursor_t *c; } cursor_ud;
typedef struct { bson_oid_t oid; } oid_ud;
typedef struct { int64_t ms; } date_ud;
/* A bson_t inside a GC'd userdata: a document being built, or a reply the
 * driver fills, is freed even if a Lua call raises before the end. */
typedef struct { bson_t b; int live; } doc_ud;

/* ---- small types ---------------------------------------------------------- */

static void push_oid(lua_State *L, const bson_oid_t *oid)
{
    oid_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    bson_oid_copy(oid, &u->oid);
    luaL_setmetatable(L, OID_T);
}

static void push_date(lua_State *L, int64_t ms)
{
    date_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->ms = ms;
    luaL_setmetatable(L, DATE_T);
}

/* mongo.oid([hex]) */
static int l_oid(lua_State *L)
{
    bson_oid_t oid;
    if (lua_isnoneornil(L, 1)) {
        bson_oid_init(&oid, NULL);
    } else {
        const char *hex = luaL_checkstring(L, 1);
        if (!bson_oid_is_valid(hex, strlen(hex))) return luaL_argerror(L, 1, "not 24 hex digits");
        bson_oid_init_from_string(&oid, hex);
    }
    push_oid(L, &oid);
    return 1;
}

static int oid_tostring(lua_State *L)
{
    oid_ud *u = luaL_checkudata(L, 1, OID_T);
    char hex[25];
    bson_oid_to_string(&u->oid, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int oid_eq(lua_State *L)
{
    oid_ud *a = luaL_checkudata(L, 1, OID_T), *b = luaL_checkudata(L, 2, OID_T);
    lua_pushboolean(L, bson_oid_equal(&a->oid, &b->oid));
    return 1;
}

/* mongo.date([ms]) — now when no argument */
static int l_date(lua_State *L)
{
    int64_t ms;
    if (lua_isnoneornil(L, 1)) {
        struct timeval tv;
        bson_gettimeofday(&tv);
        ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    } else {
        ms = luaL_checkinteger(L, 1);
    }
    push_date(L, ms);
    return 1;
}

static int date_ms(lua_State *L)
{
    lua_pushinteger(L, ((date_ud *)luaL_checkudata(L, 1, DATE_T))->ms);
    return 1;
}

static int date_tostring(lua_State *L)
{
    int64_t ms = ((date_ud *)luaL_checkudata(L, 1, DATE_T))->ms;
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(((ms % 1000) + 1000) % 1000));
    lua_pushstring(L, buf);
    return 1;
}

static int date_eq(lua_State *L)
{
    lua_pushboolean(L, ((date_ud *)luaL_checkudata(L, 1, DATE_T))->ms == ((date_ud *)luaL_checkudata(L, 2, DATE_T))->ms);
    return 1;
}

/* mongo.array(t) — marks t as an array (returns t) */
static int l_array(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
    lua_setmetatable(L, 1);
    return 1;
}

/* ---- Lua -> BSON ------------------------------------------------------------ */

static int is_null(lua_State *L, int idx)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY);
    int r = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return r;
}

/* 1 when the table at idx is an array: marked, or keys exactly 1..n (n >= 1). */
static int table_is_array(lua_State *L, int idx)
{
    if (lua_getmetatable(L, idx)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
        int marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (marked) return 1;
    }
    lua_Integer n = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return 0; }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) { lua_pop(L, 1); return 0; }
        if (k > max) max = k;
        n++;
    }
    return n > 0 && n == max;
}

static void append_table(lua_State *L, int idx, bson_t *b, int depth);

static void append_value(lua_State *L, bson_t *b, const char *key, int klen, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) bson_append_int64(b, key, klen, lua_tointeger(L, idx));
        else bson_append_double(b, key, klen, lua_tonumber(L, idx));
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!bson_utf8_validate(s, n, true))   /* BSON strings are counted: NUL is fine */ luaL_error(L, "field '%s': string is not valid UTF-8", key);
        bson_append_utf8(b, key, klen, s, (int)n);
        return;
    }
    case LUA_TBOOLEAN:
        bson_append_bool(b, key, klen, lua_toboolean(L, idx));
        return;
    case LUA_TTABLE: {
        if (depth >= MAX_DEPTH) luaL_error(L, "nesting deeper than %d (a cycle?)", MAX_DEPTH);
        bson_t child;
        int arr = table_is_array(L, idx);
        if (arr) bson_append_array_begin(b, key, klen, &child);
        else bson_append_document_begin(b, key, klen, &child);
        append_table(L, idx, &child, depth + 1);
        if (arr) bson_append_array_end(b, &child);
        else bson_append_document_end(b, &child);
        return;
    }
    case LUA_TUSERDATA: {
        oid_ud *o = luaL_testudata(L, idx, OID_T);
        if (o) { bson_append_oid(b, key, klen, &o->oid); return; }
        date_ud *d = luaL_testudata(L, idx, DATE_T);
        if (d) { bson_append_date_time(b, key, klen, d->ms); return; }
        break;
    }
    case LUA_TLIGHTUSERDATA:
        if (is_null(L, idx)) { bson_append_null(b, key, klen); return; }
        break;
    default:
        break;
    }
    luaL_error(L, "field '%s': cannot store a %s in BSON", key, luaL_typename(L, idx));
}

/* Appends the entries of the table at idx to b (a document or an array). */
static void append_table(lua_State *L, int idx, bson_t *b, int depth)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 6, "BSON nesting");
    if (table_is_array(L, idx)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            char kbuf[24];
            const char *k;
            size_t kl = bson_uint32_to_string((uint32_t)(i - 1), &k, kbuf, sizeof kbuf);
            lua_rawgeti(L, idx, i);
            if (lua_isnil(L, -1)) luaL_error(L, "array has a hole at %d", (int)i);
            append_value(L, b, k, (int)kl, -1, depth);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "document keys must be strings, not %s", luaL_typename(L, -2));
        size_t kl;
        const char *k = lua_tolstring(L, -2, &kl);
        if (memchr(k, '\0', kl)) luaL_error(L, "document key holds a NUL byte");
        append_value(L, b, k, (int)kl, -1, depth);
        lua_pop(L, 1);
    }
}

static int doc_gc(lua_State *L)
{
    doc_ud *u = luaL_checkudata(L, 1, DOC_T);
    if (u->live) { bson_destroy(&u->b); u->live = 0; }
    return 0;
}

/* Pushes a box; when init, its bson_t is an empty document, else it is left
 * for a driver call to initialise (mark it live right after). [-0,+1,m] */
static doc_ud *push_doc(lua_State *L, int init)
{
    doc_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->live = 0;
    luaL_setmetatable(L, DOC_T);
    if (init) { bson_init(&u->b); u->live = 1; }
    return u;
}

/* Converts the table at idx (nil or none: an empty document) into a boxed
 * bson_t, which is pushed. [-0,+1,e] */
static bson_t *to_bson(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    int has = !lua_isnoneornil(L, idx);
    if (has) luaL_checktype(L, idx, LUA_TTABLE);
    doc_ud *u = push_doc(L, 1);
    if (has) append_table(L, idx, &u->b, 0);
    return &u->b;
}

/* ---- BSON -> Lua ------------------------------------------------------------ */

static void push_document(lua_State *L, bson_iter_t *it, int array, int depth);

static void push_value(lua_State *L, bson_iter_t *it, int depth)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE: lua_pushnumber(L, bson_iter_double(it)); return;
    case BSON_TYPE_INT32: lua_pushinteger(L, bson_iter_int32(it)); return;
    case BSON_TYPE_INT64: lua_pushinteger(L, bson_iter_int64(it)); return;
    case BSON_TYPE_BOOL: lua_pushboolean(L, bson_iter_bool(it)); return;
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        lua_pushlstring(L, s, n);
        return;
    }
    case BSON_TYPE_NULL: case BSON_TYPE_UNDEFINED: lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY); return;
    case BSON_TYPE_OID: push_oid(L, bson_iter_oid(it)); return;
    case BSON_TYPE_DATE_TIME: push_date(L, bson_iter_date_time(it)); return;
    case BSON_TYPE_DOCUMENT: case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (depth >= MAX_DEPTH || !bson_iter_recurse(it, &child)) luaL_error(L, "BSON nesting too deep");
        push_document(L, &child, bson_iter_type(it) == BSON_TYPE_ARRAY, depth + 1);
        return;
    }
    case BSON_TYPE_BINARY: {
        bson_subtype_t st;
        uint32_t n;
        const uint8_t *p;
        bson_iter_binary(it, &st, &n, &p);
        lua_pushlstring(L, (const char *)p, n);
        return;
    }
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t d;
        char buf[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &d);
        bson_decimal128_to_string(&d, buf);
        lua_pushstring(L, buf);
        return;
    }
    case BSON_TYPE_REGEX: {
        const char *opts;
        const char *re = bson_iter_regex(it, &opts);
        lua_pushfstring(L, "/%s/%s", re, opts);
        return;
    }
    case BSON_TYPE_TIMESTAMP: {
        uint32_t ts, inc;
        bson_iter_timestamp(it, &ts, &inc);
        lua_pushinteger(L, ((lua_Integer)ts << 32) | inc);
        return;
    }
    default:
        lua_pushnil(L);   /* code, symbols, min/max keys: not data riskd keeps */
        return;
    }
}

static void push_document(lua_State *L, bson_iter_t *it, int array, int depth)
{
    luaL_checkstack(L, 4, "BSON nesting");
    lua_newtable(L);
    lua_Integer i = 0;
    while (bson_iter_next(it)) {
        push_value(L, it, depth);
        if (array) lua_rawseti(L, -2, ++i);
        else lua_setfield(L, -2, bson_iter_key(it));
    }
    if (array) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
        lua_setmetatable(L, -2);
    }
}

static void push_bson(lua_State *L, const bson_t *b)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, b)) luaL_error(L, "malformed BSON");
    push_document(L, &it, 0, 0);
}

/* mongo.encode(t) --> bytes */
static int l_encode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bson_t *b = to_bson(L, 1);
    lua_pushlstring(L, (const char *)bson_get_data(b), b->len);
    return 1;
}

/* mongo.decode(bytes) --> t | nil, msg, "invalid_bson" */
static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    bson_t b;
    size_t off;
    if (!bson_init_static(&b, (const uint8_t *)s, n) || !bson_validate(&b, BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL, &off)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "malformed BSON");
        lua_pushliteral(L, "invalid_bson");
        return 3;
    }
    push_bson(L, &b);
    return 1;
}

/* A box for a string the driver allocated, freed even if pushing it raises. */
#define STR_T "riskd.mongo.str"

static int str_gc(lua_State *L)
{
    char **p = luaL_checkudata(L, 1, STR_T);
    bson_free(*p);
    *p = NULL;
    return 0;
}

/* mongo.to_json(t) --> canonical extended JSON */
static int l_to_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bson_t *b = to_bson(L, 1);
    char **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, STR_T);
    size_t n;
    *box = bson_as_canonical_extended_json(b, &n);
    if (!*box) return luaL_error(L, "cannot render BSON as JSON");
    lua_pushlstring(L, *box, n);
    return 1;
}

/* ---- errors ---- */

static int push_error(lua_State *L, const bson_error_t *e)
{
    luaL_pushfail(L);
    lua_pushstring(L, e->message);
    const char *code = "mongo_error";
    if (e->code == 11000 || e->code == 11001) code = "duplicate_key";
    else if (e->domain == MONGOC_ERROR_STREAM || e->domain == MONGOC_ERROR_SERVER_SELECTION) code = "unavailable";
    if (strstr(e->message, "timed out") || strstr(e->message, "Timed out")) code = "timeout";
    lua_pushstring(L, code);
    return 3;
}

/* ---- client ---- */

static client_ud *check_client(lua_State *L, int i)
{
    client_ud *u = luaL_checkudata(L, i, CLIENT_T);
    if (!u->c) luaL_error(L, "attempt to use a closed client");
    return u;
}

/* mongo.client(uri) --> client | nil, msg, "invalid_uri" */
static int l_client(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    rk_mongo_init();
    client_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->c = NULL;
    luaL_setmetatable(L, CLIENT_T);
    bson_error_t e;
    mongoc_uri_t *mu = mongoc_uri_new_with_error(uri, &e);
    if (!mu) {
        luaL_pushfail(L);
        lua_pushstring(L, e.message);
        lua_pushliteral(L, "invalid_uri");
        return 3;
    }
    u->c = mongoc_client_new_from_uri(mu);
    mongoc_uri_destroy(mu);
    if (!u->c) return luaL_error(L, "cannot create a MongoDB client");
    mongoc_client_set_appname(u->c, "riskd");
    return 1;
}

static int client_close(lua_State *L)
{
    client_ud *u = luaL_checkudata(L, 1, CLIENT_T);
    if (u->c) { mongoc_client_destroy(u->c); u->c = NULL; }
    return 0;
}

/* client:collection(db, name) --> collection (keeps the client alive) */
static int client_collection(lua_State *L)
{
    client_ud *cl = check_client(L, 1);
    const char *db = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
    coll_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->c = NULL;
    luaL_setmetatable(L, COLL_T);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    u->c = mongoc_client_get_collection(cl->c, db, name);
    return 1;
}

/* client:command(db, cmd) --> reply */
static int client_command(lua_State *L)
{
    client_ud *cl = check_client(L, 1);
    const char *db = luaL_checkstring(L, 2);
    bson_t *cmd = to_bson(L, 3);
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = mongoc_client_command_simple(cl->c, db, cmd, NULL, &reply->b, &e);
    reply->live = 1;   /* the driver initialises the reply in every case */
    if (!ok) return push_error(L, &e);
    push_bson(L, &reply->b);
    return 1;
}

/* ---- collections ---- */

static coll_ud *check_coll(lua_State *L, int i)
{
    coll_ud *u = luaL_checkudata(L, i, COLL_T);
    if (!u->c) luaL_error(L, "attempt to use a released collection");
    lua_getiuservalue(L, i, 1);
    check_client(L, -1);   /* a closed client makes its collections unusable */
    lua_pop(L, 1);
    return u;
}

static int coll_gc(lua_State *L)
{
    coll_ud *u = luaL_checkudata(L, 1, COLL_T);
    if (u->c) { mongoc_collection_destroy(u->c); u->c = NULL; }
    return 0;
}



/* coll:insert_one(doc) --> _id */
static int coll_insert_one(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    /* Give the document an _id here, so it can be returned. */
    lua_getfield(L, 2, "_id");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        push_oid(L, &oid);
        lua_pushvalue(L, -1);
        lua_setfield(L, 2, "_id");
    }
    int id_idx = lua_gettop(L);
    bson_t *doc = to_bson(L, 2);
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(c->c, doc, NULL, &reply->b, &e);
    reply->live = 1;
    if (!ok) return push_error(L, &e);
    lua_pushvalue(L, id_idx);
    return 1;
}

/* coll:insert_many(docs) --> count inserted */
static int coll_insert_many(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = (lua_Integer)luaL_len(L, 2);
    luaL_argcheck(L, n > 0, 2, "no documents");
    const bson_t **docs = lua_newuserdatauv(L, (size_t)n * sizeof *docs, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        docs[i - 1] = to_bson(L, -1);   /* each box stays on the stack */
        lua_remove(L, -2);
    }
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = mongoc_collection_insert_many(c->c, docs, (size_t)n, NULL, &reply->b, &e);
    reply->live = 1;
    if (!ok) return push_error(L, &e);
    bson_iter_t it;
    lua_Integer inserted = n;
    if (bson_iter_init_find(&it, &reply->b, "insertedCount")) inserted = bson_iter_as_int64(&it);
    lua_pushinteger(L, inserted);
    return 1;
}

/* Key order matters for sorts and compound indexes, and Lua tables have
 * none: such a spec may be given as an array of pairs, { {"user", 1},
 * {"ts", -1} }, kept in order; a plain table is taken as it iterates. */
static void append_ordered(lua_State *L, bson_t *b, const char *key, int idx)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx) || !table_is_array(L, idx)) { append_value(L, b, key, -1, idx, 0); return; }
    bson_t child;
    bson_append_document_begin(b, key, -1, &child);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (!lua_istable(L, -1)) luaL_error(L, "%s: expected pairs like {\"field\", 1}", key);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        const char *f = lua_tostring(L, -2);
        if (!f) luaL_error(L, "%s: pair %d has no field name", key, (int)i);
        append_value(L, &child, f, -1, -1, 0);
        lua_pop(L, 3);
    }
    bson_append_document_end(b, &child);
}

/* Builds find options from { sort, limit, skip, projection }. */
static bson_t *find_opts(lua_State *L, int idx)
{
    bson_t *o = &push_doc(L, 1)->b;
    if (lua_isnoneornil(L, idx)) return o;
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const keys[] = { "sort", "projection", "limit", "skip", "batchSize", "maxTimeMS", NULL };
    for (int i = 0; keys[i]; i++) {
        lua_getfield(L, idx, keys[i]);
        if (!lua_isnil(L, -1)) {
            if (i == 0) append_ordered(L, o, keys[i], -1);
            else append_value(L, o, keys[i], -1, -1, 0);
        }
        lua_pop(L, 1);
    }
    return o;
}

static void push_cursor(lua_State *L, mongoc_cursor_t *cur, int coll_idx)
{
    cursor_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->c = cur;
    luaL_setmetatable(L, CURSOR_T);
    lua_pushvalue(L, coll_idx);
    lua_setiuservalue(L, -2, 1);
}

/* The iterator function of a cursor: returns the next document, or nil at
 * the end; a server error at any point raises (inside a for loop, there is
 * nowhere to return it). */
static int cursor_next(lua_State *L)
{
    cursor_ud *u = luaL_checkudata(L, 1, CURSOR_T);
    const bson_t *doc;
    if (!u->c) return 0;
    if (mongoc_cursor_next(u->c, &doc)) { push_bson(L, doc); return 1; }
    bson_error_t e;
    if (mongoc_cursor_error(u->c, &e)) return luaL_error(L, "cursor: %s", e.message);
    return 0;
}

static int cursor_gc(lua_State *L)
{
    cursor_ud *u = luaL_checkudata(L, 1, CURSOR_T);
    if (u->c) { mongoc_cursor_destroy(u->c); u->c = NULL; }
    return 0;
}

/* coll:find(filter [, opts]) --> iterator, cursor */
static int coll_find(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    lua_settop(L, 3);
    bson_t *filter = to_bson(L, 2);
    bson_t *opts = find_opts(L, 3);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->c, filter, opts, NULL);
    lua_pushcfunction(L, cursor_next);
    push_cursor(L, cur, 1);
    return 2;
}

/* coll:find_one(filter [, opts]) --> doc | nil */
static int coll_find_one(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    lua_settop(L, 3);
    bson_t *filter = to_bson(L, 2);
    bson_t *opts = find_opts(L, 3);
    BSON_APPEND_INT64(opts, "limit", 1);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->c, filter, opts, NULL);
    push_cursor(L, cur, 1);
    const bson_t *doc;
    if (mongoc_cursor_next(cur, &doc)) { push_bson(L, doc); return 1; }
    bson_error_t e;
    if (mongoc_cursor_error(cur, &e)) return push_error(L, &e);
    lua_pushnil(L);
    return 1;
}

static int update(lua_State *L, int many)
{
    coll_ud *c = check_coll(L, 1);
    lua_settop(L, 4);
    bson_t *filter = to_bson(L, 2);
    bson_t *upd = to_bson(L, 3);
    bson_t *opts = &push_doc(L, 1)->b;
    if (!lua_isnil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_getfield(L, 4, "upsert");
        if (lua_toboolean(L, -1)) BSON_APPEND_BOOL(opts, "upsert", true);
        lua_pop(L, 1);
    }
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = many ? mongoc_collection_update_many(c->c, filter, upd, opts, &reply->b, &e)
                   : mongoc_collection_update_one(c->c, filter, upd, opts, &reply->b, &e);
    reply->live = 1;
    if (!ok) return push_error(L, &e);
    push_bson(L, &reply->b);   /* { matchedCount, modifiedCount, upsertedId? } */
    return 1;
}

static int coll_update_one(lua_State *L) { return update(L, 0); }
static int coll_update_many(lua_State *L) { return update(L, 1); }

static int delete(lua_State *L, int many)
{
    coll_ud *c = check_coll(L, 1);
    bson_t *filter = to_bson(L, 2);
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = many ? mongoc_collection_delete_many(c->c, filter, NULL, &reply->b, &e)
                   : mongoc_collection_delete_one(c->c, filter, NULL, &reply->b, &e);
    reply->live = 1;
    if (!ok) return push_error(L, &e);
    bson_iter_t it;
    lua_Integer n = 0;
    if (bson_iter_init_find(&it, &reply->b, "deletedCount")) n = bson_iter_as_int64(&it);
    lua_pushinteger(L, n);
    return 1;
}

static int coll_delete_one(lua_State *L) { return delete(L, 0); }
static int coll_delete_many(lua_State *L) { return delete(L, 1); }

/* coll:count(filter) --> n */
static int coll_count(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    bson_t *filter = to_bson(L, 2);
    bson_error_t e;
    int64_t n = mongoc_collection_count_documents(c->c, filter, NULL, NULL, NULL, &e);
    if (n < 0) return push_error(L, &e);
    lua_pushinteger(L, n);
    return 1;
}

/* coll:aggregate(pipeline) --> iterator, cursor */
static int coll_aggregate(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    bson_t *wrap = &push_doc(L, 1)->b;   /* { pipeline: [...] }: an array even when empty */
    bson_t arr;
    bson_append_array_begin(wrap, "pipeline", -1, &arr);
    append_table(L, 2, &arr, 1);
    bson_append_array_end(wrap, &arr);
    mongoc_cursor_t *cur = mongoc_collection_aggregate(c->c, MONGOC_QUERY_NONE, wrap, NULL, NULL);
    lua_pushcfunction(L, cursor_next);
    push_cursor(L, cur, 1);
    return 2;
}

/* coll:create_index(keys [, { unique, name }]) --> true */
static int coll_create_index(lua_State *L)
{
    coll_ud *c = check_coll(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 3);
    bson_t *spec = &push_doc(L, 1)->b;   /* { key: {...} } in the given order */
    append_ordered(L, spec, "key", 2);
    bson_iter_t kit;
    bson_t keys_doc;
    uint32_t klen;
    const uint8_t *kdata;
    bson_iter_init_find(&kit, spec, "key");
    bson_iter_document(&kit, &klen, &kdata);
    bson_init_static(&keys_doc, kdata, klen);
    bson_t *keys = &keys_doc;
    bson_t *cmd = &push_doc(L, 1)->b;
    char **namebox = lua_newuserdatauv(L, sizeof *namebox, 0);
    *namebox = NULL;
    luaL_setmetatable(L, STR_T);
    *namebox = mongoc_collection_keys_to_index_string(keys);
    const char *name = *namebox;
    BSON_APPEND_UTF8(cmd, "createIndexes", mongoc_collection_get_name(c->c));
    bson_t arr, idx;
    BSON_APPEND_ARRAY_BEGIN(cmd, "indexes", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &idx);
    BSON_APPEND_DOCUMENT(&idx, "key", keys);
    const char *given = NULL;
    if (!lua_isnil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "unique");
        if (lua_toboolean(L, -1)) BSON_APPEND_BOOL(&idx, "unique", true);
        lua_getfield(L, 3, "name");
        given = lua_tostring(L, -1);
    }
    BSON_APPEND_UTF8(&idx, "name", given ? given : name);
    bson_append_document_end(&arr, &idx);
    bson_append_array_end(cmd, &arr);
    doc_ud *reply = push_doc(L, 0);
    bson_error_t e;
    bool ok = mongoc_collection_write_command_with_opts(c->c, cmd, NULL, &reply->b, &e);
    reply->live = 1;
    if (!ok) return push_error(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static void new_type(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

int luaopen_riskd_mongo(lua_State *L)
{
    static const luaL_Reg client_meta[] = { { "__gc", client_close }, { "__close", client_close }, { NULL, NULL } };
    static const luaL_Reg client_methods[] = {
        { "collection", client_collection }, { "command", client_command }, { "close", client_close }, { NULL, NULL },
    };
    static const luaL_Reg coll_meta[] = { { "__gc", coll_gc }, { NULL, NULL } };
    static const luaL_Reg coll_methods[] = {
        { "insert_one", coll_insert_one }, { "insert_many", coll_insert_many }, { "find", coll_find },
        { "find_one", coll_find_one }, { "update_one", coll_update_one }, { "update_many", coll_update_many },
        { "delete_one", coll_delete_one }, { "delete_many", coll_delete_many }, { "count", coll_count },
        { "aggregate", coll_aggregate }, { "create_index", coll_create_index }, { NULL, NULL },
    };
    static const luaL_Reg cursor_meta[] = { { "__gc", cursor_gc }, { "__close", cursor_gc }, { NULL, NULL } };
    static const luaL_Reg oid_meta[] = { { "__tostring", oid_tostring }, { "__eq", oid_eq }, { NULL, NULL } };
    static const luaL_Reg date_meta[] = { { "__tostring", date_tostring }, { "__eq", date_eq }, { NULL, NULL } };
    static const luaL_Reg date_methods[] = { { "ms", date_ms }, { NULL, NULL } };
    static const luaL_Reg doc_meta[] = { { "__gc", doc_gc }, { NULL, NULL } };
    static const luaL_Reg str_meta[] = { { "__gc", str_gc }, { NULL, NULL } };
    new_type(L, CLIENT_T, client_meta, client_methods);
    new_type(L, COLL_T, coll_meta, coll_methods);
    new_type(L, CURSOR_T, cursor_meta, NULL);
    new_type(L, OID_T, oid_meta, NULL);
    new_type(L, DATE_T, date_meta, date_methods);
    new_type(L, DOC_T, doc_meta, NULL);
    new_type(L, STR_T, str_meta, NULL);
    /* The array marker and the null sentinel, one per state. */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushliteral(L, "bson array");
        lua_setfield(L, -2, "__name");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
    } else {
        lua_pop(L, 1);
    }
    static const luaL_Reg fns[] = {
        { "client", l_client }, { "oid", l_oid }, { "date", l_date }, { "array", l_array },
        { "encode", l_encode }, { "decode", l_decode }, { "to_json", l_to_json }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, (void *)&NULL_KEY);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &NULL_KEY);
    lua_setfield(L, -2, "null");
    return 1;
}
