/* l_rates.c — `riskd.rates`: site-wide hourly rates (rates.h) for Lua.
 *
 *   local rates = require("riskd.rates")
 *   rates.hit(name, ts_ms)          --> true | nil, err (table full, name too long)
 *   rates.get(name, ts_ms)          --> { last_hour = n, baseline = x, hours = h }
 *   rates.reset()                   -- forget everything (specs, a new replay)
 *   rates.encode()                  --> text (the table, for db:state_put)
 *   rates.decode(text)              --> true | nil, err (text encode did not write; nothing changed)
 *   rates.STATE_KEY                 -- the store state they are kept under
 * One table per process, shared by every worker.
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "l_modules.h"
#include "rates.h"

static int l_hit(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_Integer ts = luaL_checkinteger(L, 2);
    if (rk_rates_hit(rk_rates_global(), name, (int64_t)ts) != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "rates: cannot count '%s' (at most %d names of at most 31 bytes)", name, RK_RATES_MAX);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_get(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_Integer ts = luaL_checkinteger(L, 2);
    rk_rate_info_t i;
    rk_rates_get(rk_rates_global(), name, (int64_t)ts, &i);
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, i.last_hour);
    lua_setfield(L, -2, "last_hour");
    lua_pushnumber(L, i.baseline);
    lua_setfield(L, -2, "baseline");
    lua_pushinteger(L, (lua_Integer)i.hours);
    lua_setfield(L, -2, "hours");
    return 1;
}

static int l_reset(lua_State *L)
{
    (void)L;
    rk_rates_reset(rk_rates_global());
    return 0;
}

static int l_encode(lua_State *L)
{
    char *text = rk_rates_encode(rk_rates_global());
    if (!text) return luaL_error(L, "rates: out of memory");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

static int l_decode(lua_State *L)
{
    if (rk_rates_decode(rk_rates_global(), luaL_checkstring(L, 1)) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, "rates: not a text rates.encode wrote");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_riskd_rates(lua_State *L)
{
    static const luaL_Reg fns[] = { { "hit", l_hit },       { "get", l_get },       { "reset", l_reset },
                                    { "encode", l_encode }, { "decode", l_decode }, { NULL, NULL } };
    luaL_newlib(L, fns);
    lua_pushstring(L, RK_RATES_STATE_KEY);
    lua_setfield(L, -2, "STATE_KEY");
    return 1;
}
