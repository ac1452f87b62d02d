/* l_json.c — `riskd.json`: strict checks of JSON texts (json_check.h), and
 * the encoder of riskd's answers (json_lua.h).
 *
 *   local json = require("riskd.json")
 *   json.check(text) --> true | nil, msg, "invalid_json"
 *   json.encode(value) --> text
 *
 * check: duplicate keys, invalid UTF-8, NaN/Infinity and other non-JSON
 * are refused with a message naming the line and column.
 *
 * encode writes what the dispatcher's lua-cjson instance wrote
 * (encode_sparse_array(true)) followed by response.fix_empty: json_lua.h.
 */
#include <lauxlib.h>

#include "json_check.h"
#include "json_lua.h"
#include "l_modules.h"

static int l_check(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char err[256];
    if (rk_json_check(text, len, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid_json");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    rk_json_lua_encode(L, 1, RK_JSON_LUA_SPARSE_CONVERT | RK_JSON_LUA_EMPTY_MARKER, NULL);
    return 1;
}

int luaopen_riskd_json(lua_State *L)
{
    static const luaL_Reg fns[] = { { "check", l_check }, { "encode", l_encode }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
