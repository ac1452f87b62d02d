/* l_riskd.c — `require "riskd"`: a table holding every engine module, so that
 * busted specs can load the whole engine from riskd.so with one require. */
#include <lauxlib.h>

#include "l_modules.h"
#include "version.h"
#include "vm.h"

int luaopen_riskd(lua_State *L)
{
    static const struct { const char *field, *module; lua_CFunction open; int in; } subs[] = {
#define RK_SUB(name, in_umbrella) { #name, "riskd." #name, luaopen_riskd_##name, in_umbrella },
        RK_LUA_MODULES(RK_SUB)
#undef RK_SUB
    };
    lua_newtable(L);
    lua_pushliteral(L, RK_VERSION);
    lua_setfield(L, -2, "version");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (!subs[i].in) continue;
        /* Through require, so riskd.net and riskd["net"] are one table. */
        luaL_requiref(L, subs[i].module, subs[i].open, 0);
        lua_setfield(L, -2, subs[i].field);
    }
    return 1;
}
