/* l_log.c — `riskd.log`: structured logging from Lua.
 *
 *   log.info("user locked", { user = "alice", attempts = 5 })
 *
 * Fields are a flat table of strings, numbers and booleans; other values are
 * logged by type name. Lines go through log.c, like the engine's own. */
#include <lauxlib.h>

#include "l_modules.h"
#include "log.h"

static int log_at(lua_State *L, rk_log_level lvl)
{
    const char *msg = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    rk_log_t e;
    rk_log_begin(&e, lvl, msg);
    if (!e.skip && lua_istable(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *k = lua_tostring(L, -2);
                size_t n;
                switch (lua_type(L, -1)) {
                case LUA_TNUMBER:
                    if (lua_isinteger(L, -1)) rk_log_int(&e, k, lua_tointeger(L, -1));
                    else rk_log_num(&e, k, lua_tonumber(L, -1));
                    break;
                case LUA_TBOOLEAN: rk_log_bool(&e, k, lua_toboolean(L, -1)); break;
                case LUA_TSTRING: {
                    const char *s = lua_tolstring(L, -1, &n);
                    rk_log_strn(&e, k, s, n);
                    break;
                }
                default: rk_log_str(&e, k, luaL_typename(L, -1)); break;
                }
            }
            lua_pop(L, 1);
        }
    }
    rk_log_end(&e);
    return 0;
}

static int l_debug(lua_State *L) { return log_at(L, RK_LOG_DEBUG); }
static int l_info(lua_State *L) { return log_at(L, RK_LOG_INFO); }
static int l_warn(lua_State *L) { return log_at(L, RK_LOG_WARN); }
static int l_error(lua_State *L) { return log_at(L, RK_LOG_ERROR); }

int luaopen_riskd_log(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "debug", l_debug }, { "info", l_info }, { "warn", l_warn }, { "error", l_error },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
