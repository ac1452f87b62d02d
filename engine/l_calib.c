/* l_calib.c — `riskd.calib`: calibrated risk levels (calib.h) for Lua.
 *
 *   local calib = require("riskd.calib")
 *   local c = calib.current()         -- the server's, shared by its workers; elsewhere this state's own
 *   local c = calib.new()             -- a fresh one (specs)
 *   c:add(score, ts_ms, config)       -- counts an attempt's score
 *   c:thresholds(config)              --> { high = T, critical = T }, calibrated (boolean)
 *   c:count()                         --> the weight of the remembered attempts
 *   c:quantile(q)                     --> the score at quantile q, or nil when empty
 *   c:encode()                        --> text; c:decode(text) --> true | nil, msg, "bad_state"
 *   calib.STATE_KEY                   -- the store state they are kept under (db:state, db:state_put)
 *
 * config is rules/config.lua's table: levels (the fixed thresholds and
 * floors), level_budget, level_ceilings, calibration_min_attempts,
 * calibration_window, calibration_max_rise_per_hour.
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "calib.h"
#include "l_modules.h"
#include "vm.h"

#define CALIB_T "riskd.calib"
static const char OWN_KEY = 'c';

typedef struct { rk_calib_t *c; int borrowed; } calib_ud;

static int calib_gc(lua_State *L)
{
    calib_ud *u = luaL_checkudata(L, 1, CALIB_T);
    if (!u->borrowed) rk_calib_free(u->c);
    u->c = NULL;
    return 0;
}

static rk_calib_t *check(lua_State *L)
{
    calib_ud *u = luaL_checkudata(L, 1, CALIB_T);
    if (!u->c) luaL_error(L, "calibration already released");
    return u->c;
}

static calib_ud *push(lua_State *L)
{
    calib_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->c = NULL;
    u->borrowed = 0;
    luaL_setmetatable(L, CALIB_T);
    return u;
}

static double field(lua_State *L, int t, const char *sub, const char *key, double dflt)
{
    double v = dflt;
    int top = lua_gettop(L);
    if (sub) {
        if (lua_getfield(L, t, sub) != LUA_TTABLE) { lua_settop(L, top); return dflt; }
        t = lua_gettop(L);
    }
    if (lua_getfield(L, t, key) == LUA_TNUMBER) v = lua_tonumber(L, -1);
    lua_settop(L, top);
    return v;
}

/* The options from config.lua's table at idx. */
static void opts_of(lua_State *L, int idx, rk_calib_opts_t *o)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const names[RK_CALIB_LEVELS] = { "high", "critical" };
    for (int l = 0; l < RK_CALIB_LEVELS; l++) {
        o->floor[l] = field(L, idx, "levels", names[l], -1);
        if (o->floor[l] < 0) luaL_error(L, "config.levels.%s is not a score", names[l]);
        o->share[l] = field(L, idx, "level_budget", names[l], 0);
        o->ceiling[l] = field(L, idx, "level_ceilings", names[l], o->floor[l]);
    }
    /* a config.lua without them (an older one) keeps the fixed levels: no
     * budget, no window, no rise */
    o->min_attempts = field(L, idx, NULL, "calibration_min_attempts", 0);
    o->window = field(L, idx, NULL, "calibration_window", 0);
    o->max_rise = field(L, idx, NULL, "calibration_max_rise_per_hour", 0);
}

static int l_new(lua_State *L)
{
    calib_ud *u = push(L);
    if (!(u->c = rk_calib_new())) return luaL_error(L, "not enough memory");
    return 1;
}

static int l_current(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (h && h->calib) {
        calib_ud *u = push(L);
        u->c = h->calib;
        u->borrowed = 1;
        return 1;
    }
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &OWN_KEY) == LUA_TUSERDATA) return 1;
    lua_pop(L, 1);
    l_new(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &OWN_KEY);
    return 1;
}

static int l_add(lua_State *L)
{
    rk_calib_t *c = check(L);
    double score = luaL_checknumber(L, 2);
    lua_Integer ts = luaL_checkinteger(L, 3);
    rk_calib_opts_t o;
    opts_of(L, 4, &o);
    rk_calib_add(c, score, (int64_t)ts, &o);
    return 0;
}

static int l_thresholds(lua_State *L)
{
    rk_calib_t *c = check(L);
    rk_calib_opts_t o;
    opts_of(L, 2, &o);
    double t[RK_CALIB_LEVELS];
    int cal = rk_calib_thresholds(c, &o, t);
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, t[RK_CALIB_HIGH]);
    lua_setfield(L, -2, "high");
    lua_pushnumber(L, t[RK_CALIB_CRITICAL]);
    lua_setfield(L, -2, "critical");
    lua_pushboolean(L, cal);
    return 2;
}

static int l_count(lua_State *L)
{
    lua_pushnumber(L, rk_calib_count(check(L)));
    return 1;
}

static int l_quantile(lua_State *L)
{
    rk_calib_t *c = check(L);
    double q = luaL_checknumber(L, 2);
    luaL_argcheck(L, q >= 0 && q <= 1, 2, "a quantile is between 0 and 1");
    double v = rk_calib_quantile(c, q);
    if (v < 0) lua_pushnil(L); else lua_pushnumber(L, v);
    return 1;
}

static int l_encode(lua_State *L)
{
    char *s = rk_calib_encode(check(L));
    if (!s) return luaL_error(L, "not enough memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_decode(lua_State *L)
{
    rk_calib_t *c = check(L);
    if (rk_calib_decode(c, luaL_checkstring(L, 2)) != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "not a calibration riskd wrote");
        lua_pushliteral(L, "bad_state");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_riskd_calib(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "add", l_add }, { "thresholds", l_thresholds }, { "count", l_count }, { "quantile", l_quantile },
        { "encode", l_encode }, { "decode", l_decode }, { NULL, NULL },
    };
    if (luaL_newmetatable(L, CALIB_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, calib_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = { { "new", l_new }, { "current", l_current }, { NULL, NULL } };
    luaL_newlib(L, fns);
    lua_pushstring(L, RK_CALIB_STATE_KEY);
    lua_setfield(L, -2, "STATE_KEY");
    return 1;
}
