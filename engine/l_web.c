/* l_web.c — `riskd.web`: files of the web console folder for Lua.
 *
 *   local web = require("riskd.web")
 *   web.file("app.js" [, root])  --> body, content_type, etag
 *                                 | nil, msg, "not_found"|"forbidden"|"too_big"
 * root defaults to the server's --web folder (web/).
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "config.h"
#include "l_modules.h"
#include "vm.h"
#include "webfile.h"

static int l_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const rk_vm_host_t *h = rk_vm_host(L);
    const char *root = luaL_optstring(L, 2, h && h->config ? h->config->web : "web");
    rk_webfile_t f;
    int rc = rk_webfile_read(root, path, &f);
    if (rc != RK_WEBFILE_OK) {
        static const char *const codes[] = { "ok", "not_found", "forbidden", "too_big" };
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, rc == RK_WEBFILE_FORBIDDEN ? "not a plain path" :
                                           rc == RK_WEBFILE_TOO_BIG ? "too large" : "no such file");
        lua_pushstring(L, codes[rc]);
        return 3;
    }
    lua_pushlstring(L, f.body, f.len);
    free(f.body);
    lua_pushstring(L, f.content_type);
    lua_pushstring(L, f.etag);
    return 3;
}

int luaopen_riskd_web(lua_State *L)
{
    static const luaL_Reg fns[] = { { "file", l_file }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
