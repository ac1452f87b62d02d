/* l_modules.h — the engine's Lua modules (one binding file each). */
#ifndef RK_L_MODULES_H
#define RK_L_MODULES_H

#include <lua.h>

int luaopen_riskd(lua_State *L);         /* l_riskd.c: the umbrella table */
int luaopen_riskd_log(lua_State *L);     /* l_log.c */
int luaopen_riskd_net(lua_State *L);     /* l_net.c */
int luaopen_riskd_engine(lua_State *L);  /* l_engine.c */
int luaopen_riskd_iforest(lua_State *L); /* l_iforest.c */
int luaopen_riskd_store(lua_State *L);   /* l_store.c */
int luaopen_riskd_mongo(lua_State *L);   /* l_mongo.c */
int luaopen_riskd_features(lua_State *L); /* l_features.c */
int luaopen_riskd_geo(lua_State *L);     /* l_geo.c */
int luaopen_riskd_intel(lua_State *L);   /* l_intel.c */
int luaopen_riskd_web(lua_State *L);     /* l_web.c */
int luaopen_riskd_auth(lua_State *L);    /* l_auth.c */
int luaopen_riskd_json(lua_State *L);    /* l_json.c */
int luaopen_riskd_models(lua_State *L);  /* l_models.c */
int luaopen_riskd_rates(lua_State *L);   /* l_rates.c */
int luaopen_riskd_calib(lua_State *L);   /* l_calib.c */
int luaopen_riskd_xacct(lua_State *L);   /* l_xacct.c */
int luaopen_riskd_phishing(lua_State *L); /* l_phishing.c */
int luaopen_riskd_parallel(lua_State *L); /* l_parallel.c */
int luaopen_riskd_strings(lua_State *L); /* l_strings.c */
/* `require "riskd.rules"` (sandbox.c): rules.evaluate(ctx [, set]),
 * rules.list([set]), rules.config([set]); set is "login" (the default: the
 * folder's top) or "phishing" (its phishing/ folder). */
int luaopen_riskd_rules(lua_State *L);

/* Every module, once: X(name, in_umbrella). riskd.<name> is preloaded in
 * every state (vm.c); those with in_umbrella = 1 are also fields of the
 * `riskd` table (l_riskd.c). */
#define RK_LUA_MODULES(X) \
    X(log, 1) X(net, 1) X(engine, 1) X(iforest, 1) X(store, 1) X(mongo, 1) X(features, 1) X(rules, 0) \
    X(geo, 1) X(intel, 1) X(web, 1) X(auth, 1) X(json, 1) X(models, 1) X(rates, 1) X(calib, 1) X(xacct, 1) \
    X(phishing, 1) X(parallel, 1) X(strings, 0)

#endif
