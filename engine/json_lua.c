/* json_lua.c — see json_lua.h. */
#include "json_lua.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "json_out.h"

/* lua-cjson's defaults: nesting, and when an array is too sparse to be one
 * (more than twice as many slots as items, past the first ten). */
#define ENCODE_MAX_DEPTH 1000
#define SPARSE_RATIO 2
#define SPARSE_SAFE 10
static const char EMPTY_ARRAY[] = "@@riskd:empty-array@@";

typedef struct { rk_jbuf_t b; int flags; const char *const *skip; } encoder_t;

static int encode_fail(lua_State *L, int idx, const char *why)
{
    return luaL_error(L, "Cannot serialise %s: %s", luaL_typename(L, idx), why);
}

/* The array length of the table on top, or -1 for an object. */
static lua_Integer array_length(lua_State *L, int flags)
{
    lua_Integer max = 0, items = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        double k;
        if (lua_type(L, -2) == LUA_TNUMBER && (k = lua_tonumber(L, -2)) != 0 && floor(k) == k && k >= 1) {
            if (k > (double)max) max = (lua_Integer)k;
            items++;
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 2);
        return -1;
    }
    if (max > items * SPARSE_RATIO && max > SPARSE_SAFE) {
        if (!(flags & RK_JSON_LUA_SPARSE_CONVERT)) encode_fail(L, -1, "excessively sparse array");
        return -1;
    }
    return max;
}

/* Whether the string key under the value on top is one of skip. */
static int skipped(lua_State *L, const char *const *skip)
{
    size_t n;
    const char *k = lua_tolstring(L, -2, &n);
    for (; *skip; skip++)
        if (strncmp(*skip, k, n) == 0 && (*skip)[n] == '\0') return 1;
    return 0;
}

static void number(lua_State *L, encoder_t *e, int idx)
{
    if (lua_isinteger(L, idx)) { rk_jbuf_int(&e->b, lua_tointeger(L, idx)); return; }
    if (rk_jbuf_double(&e->b, lua_tonumber(L, idx)) != 0) encode_fail(L, idx, "must not be NaN or Inf");
}

/* The value on top, left there. */
static void value(lua_State *L, encoder_t *e, int depth)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if ((e->flags & RK_JSON_LUA_EMPTY_MARKER) && n == sizeof EMPTY_ARRAY - 1 && memcmp(s, EMPTY_ARRAY, n) == 0)
            rk_jbuf_add(&e->b, "[]", 2);
        else
            rk_jbuf_string(&e->b, s, n);
        break;
    }
    case LUA_TNUMBER: number(L, e, -1); break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1)) rk_jbuf_add(&e->b, "true", 4);
        else rk_jbuf_add(&e->b, "false", 5);
        break;
    case LUA_TNIL: rk_jbuf_add(&e->b, "null", 4); break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, -1) == NULL) { rk_jbuf_add(&e->b, "null", 4); break; }
        encode_fail(L, -1, "type not supported");
        break;
    case LUA_TTABLE: {
        if (++depth > ENCODE_MAX_DEPTH || !lua_checkstack(L, 3))
            luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
        lua_Integer n = array_length(L, e->flags);
        if (n > 0) {
            rk_jbuf_addc(&e->b, '[');
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1) rk_jbuf_addc(&e->b, ',');
                lua_rawgeti(L, -1, i);
                value(L, e, depth);
                lua_pop(L, 1);
            }
            rk_jbuf_addc(&e->b, ']');
            break;
        }
        rk_jbuf_addc(&e->b, '{');
        int first = 1;
        const char *const *skip = depth == 1 ? e->skip : NULL;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            int kt = lua_type(L, -2);
            if (skip && kt == LUA_TSTRING && skipped(L, skip)) { lua_pop(L, 1); continue; }
            if (!first) rk_jbuf_addc(&e->b, ',');
            first = 0;
            if (kt == LUA_TNUMBER) {
                rk_jbuf_addc(&e->b, '"');
                number(L, e, -2);
                rk_jbuf_add(&e->b, "\":", 2);
            } else if (kt == LUA_TSTRING) {
                size_t kn;
                const char *k = lua_tolstring(L, -2, &kn);
                rk_jbuf_string(&e->b, k, kn);
                rk_jbuf_addc(&e->b, ':');
            } else {
                encode_fail(L, -2, "table key must be a number or string");
            }
            value(L, e, depth);
            lua_pop(L, 1);
        }
        rk_jbuf_addc(&e->b, '}');
        break;
    }
    default:
        encode_fail(L, -1, "type not supported");
    }
}

static int encoder_gc(lua_State *L)
{
    encoder_t *e = lua_touserdata(L, 1);
    rk_jbuf_free(&e->b);
    return 0;
}

static const char ENCODER_KEY = 'e';   /* registry: the state's encoder (its buffer, reused) */

static encoder_t *state_encoder(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENCODER_KEY) == LUA_TUSERDATA) {
        encoder_t *e = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return e;
    }
    lua_pop(L, 1);
    encoder_t *e = lua_newuserdatauv(L, sizeof *e, 0);
    rk_jbuf_init(&e->b);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, encoder_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ENCODER_KEY);
    return e;
}

void rk_json_lua_encode(lua_State *L, int idx, int flags, const char *const *skip)
{
    idx = lua_absindex(L, idx);
    encoder_t *e = state_encoder(L);
    /* No Lua runs while encoding (raw reads, no metamethods): one buffer
     * per state serves every call, and an error leaves it to the next. */
    rk_jbuf_reset(&e->b);
    e->flags = flags;
    e->skip = skip;
    lua_pushvalue(L, idx);
    value(L, e, 0);
    lua_pop(L, 1);
    if (e->b.oom) luaL_error(L, "not enough memory");
    lua_pushlstring(L, e->b.data ? e->b.data : "", e->b.len);
}
