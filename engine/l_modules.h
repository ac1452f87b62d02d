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

#endif
