/* l_riskd.c — `require "riskd"`: a table holding every engine module, so that
 * busted specs can load the whole engine from riskd.so with one require. */
#include <lauxlib.h>

#include "l_modules.h"
#include "version.h"
#include "vm.h"

int luaopen_riskd(lua_State *L)
{
    static const struct { const char *field, *module; lua_CFunction open; } subs[] = {
        { "log", "riskd.log", luaopen_riskd_log },
        { "net", "riskd.net", luaopen_riskd_net },
        { "engine", "riskd.engine", luaopen_riskd_engine },
        { "iforest", "riskd.iforest", luaopen_riskd_iforest },
        { "store", "riskd.store", luaopen_riskd_store },
        { "mongo", "riskd.mongo", luaopen_riskd_mongo },
        { "features", "riskd.features", luaopen_riskd_features },
        { "geo", "riskd.geo", luaopen_riskd_geo },
        { "intel", "riskd.intel", luaopen_riskd_intel },
        { "web", "riskd.web", luaopen_riskd_web },
        { "auth", "riskd.auth", luaopen_riskd_auth },
        { "json", "riskd.json", luaopen_riskd_json },
        { "models", "riskd.models", luaopen_riskd_models },
        { "rates", "riskd.rates", luaopen_riskd_rates },
        { "calib", "riskd.calib", luaopen_riskd_calib },
        { "xacct", "riskd.xacct", luaopen_riskd_xacct },
        { "phishing", "riskd.phishing", luaopen_riskd_phishing },
        { "parallel", "riskd.parallel", luaopen_riskd_parallel },
    };
    lua_newtable(L);
    lua_pushliteral(L, RK_VERSION);
    lua_setfield(L, -2, "version");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        /* Through require, so riskd.net and riskd["net"] are one table. */
        luaL_requiref(L, subs[i].module, subs[i].open, 0);
        lua_setfield(L, -2, subs[i].field);
    }
    return 1;
}
