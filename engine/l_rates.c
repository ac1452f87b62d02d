/* l_rates.c — `riskd.rates`: site-wide hourly rates (rates.h) for Lua.
 *
 *   local rates = require("riskd.rates")
 *   rates.hit(name, ts_ms)          --> true | nil, err (table full, name too long)
 *   rates.get(name, ts_ms)          --> { last_hour = n, baseline = x, hours = h }
 *   rates.reset()                   -- forget everything (specs, a new replay)
 * One table per process, shared by every worker.
 */
#include <lauxlib.h>

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

int luaopen_riskd_rates(lua_State *L)
{
    static const luaL_Reg fns[] = { { "hit", l_hit }, { "get", l_get }, { "reset", l_reset }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
