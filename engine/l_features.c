/* l_features.c — `riskd.features`: feature extraction for Lua.
 *
 *   local features = require("riskd.features")
 *   local byname, row = features.extract(attempt, profile, recent)
 *     attempt: { ts, ip_address, success, country, latitude, longitude, device_id, user_agent }
 *     profile: what riskd.store's db:profile() returns (a view, profile_lua.h), a
 *              table of the same fields, or nil for a new user
 *     recent:  { failures = n, ip_users = n } (failures of the user and users of the
 *              address in the hour before), or nil
 *     byname:  { hour_sin = ..., ... }; row: the same values in model column order
 *              (for rules, when the attempt has coordinates, byname also has
 *              local_hour, local_hour_logins and located_logins: features.h)
 *   features.names  --> the names in column order
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"
#include "l_modules.h"
#include "profile_lua.h"
#include "store.h"

static const char *field_str(lua_State *L, int t, const char *k)
{
    int ty = lua_getfield(L, t, k);
    const char *v = ty == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (ty != LUA_TNIL && ty != LUA_TSTRING) luaL_error(L, "field '%s' must be a string", k);
    lua_pop(L, 1);   /* kept alive by the table */
    return v;
}

static double field_num(lua_State *L, int t, const char *k, double def, int *present)
{
    int ty = lua_getfield(L, t, k);
    double v = def;
    if (ty == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (ty != LUA_TNIL) luaL_error(L, "field '%s' must be a number", k);
    if (present) *present = ty == LUA_TNUMBER;
    lua_pop(L, 1);
    return v;
}

/* The profile table back into the C struct the extractor reads. */
static void read_profile(lua_State *L, int t, rk_profile_t *p)
{
    memset(p, 0, sizeof *p);
    p->attempts = (int64_t)field_num(L, t, "attempts", 0, NULL);
    p->successes = (int64_t)field_num(L, t, "successes", 0, NULL);
    p->failures = (int64_t)field_num(L, t, "failures", 0, NULL);
    p->first_ms = (int64_t)field_num(L, t, "first_seen", 0, NULL);
    p->last_ms = (int64_t)field_num(L, t, "last_seen", 0, NULL);
    if (lua_getfield(L, t, "hours") == LUA_TTABLE)
        for (int h = 0; h < 24; h++) { lua_rawgeti(L, -1, h + 1); p->hours[h] = (int64_t)lua_tonumber(L, -1); lua_pop(L, 1); }
    lua_pop(L, 1);
    if (lua_getfield(L, t, "local_hours") == LUA_TTABLE)
        for (int h = 0; h < 24; h++) {
            lua_rawgeti(L, -1, h + 1);
            p->local_hours[h] = (int64_t)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    lua_pop(L, 1);
    if (lua_getfield(L, t, "last_success") == LUA_TTABLE) {
        int ls = lua_gettop(L), has_lat, has_lon;
        p->has_last_success = 1;
        p->last_success_ms = (int64_t)field_num(L, ls, "ts", 0, NULL);
        p->last_lat = field_num(L, ls, "latitude", 0, &has_lat);
        p->last_lon = field_num(L, ls, "longitude", 0, &has_lon);
        p->last_has_geo = has_lat && has_lon;
    }
    lua_pop(L, 1);
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (lua_getfield(L, t, rk_profile_kind_names[k]) == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, -2) && p->nitems[k] < RK_PROFILE_MAX_ITEMS) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
                    rk_profile_item_t *it = &p->items[k][p->nitems[k]++];
                    snprintf(it->value, sizeof it->value, "%s", lua_tostring(L, -2));
                    it->count = (int64_t)field_num(L, lua_gettop(L), "count", 0, NULL);
                    it->last_ms = (int64_t)field_num(L, lua_gettop(L), "last_seen", 0, NULL);
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}

static int l_extract(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    rk_attempt_t a;
    memset(&a, 0, sizeof a);
    a.ip = field_str(L, 1, "ip_address");
    if (!a.ip) return luaL_error(L, "attempt needs ip_address");
    lua_getfield(L, 1, "ts");
    if (!lua_isinteger(L, -1)) return luaL_error(L, "attempt needs ts (integer milliseconds)");
    a.ts_ms = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "success");
    a.success = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    a.country = field_str(L, 1, "country");
    a.device_id = field_str(L, 1, "device_id");
    a.user_agent = field_str(L, 1, "user_agent");
    int has_lat, has_lon;
    a.lat = field_num(L, 1, "latitude", 0, &has_lat);
    a.lon = field_num(L, 1, "longitude", 0, &has_lon);
    a.has_geo = has_lat && has_lon;

    /* The profile struct is ~24 KiB: a scratch per Lua state (the module's
     * upvalue), neither the C stack nor a fresh block per call. */
    const rk_profile_t *p = NULL;
    if (!lua_isnoneornil(L, 2) && !(p = rk_profile_lua_test(L, 2))) {   /* a store's view: its struct as it is */
        luaL_checktype(L, 2, LUA_TTABLE);
        rk_profile_t *scratch = lua_touserdata(L, lua_upvalueindex(1));
        read_profile(L, 2, scratch);
        p = scratch;
    }
    rk_recent_t r = { 0, 0 };
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        r.user_failures_1h = (int64_t)field_num(L, 3, "failures", 0, NULL);
        r.ip_users_1h = (int64_t)field_num(L, 3, "ip_users", 0, NULL);
    }
    double f[RK_F_COUNT];
    rk_features_extract(&a, p, &r, f);
    lua_createtable(L, 0, RK_F_COUNT);
    lua_createtable(L, RK_F_COUNT, 0);
    for (int i = 0; i < RK_F_COUNT; i++) {
        lua_pushnumber(L, f[i]);
        lua_setfield(L, -3, rk_features_names[i]);
        lua_pushnumber(L, f[i]);
        lua_rawseti(L, -2, i + 1);
    }
    rk_local_hour_t lh;
    if (rk_features_local_hour(&a, p, &lh)) {
        lua_pushinteger(L, lh.hour);
        lua_setfield(L, -3, "local_hour");
        lua_pushinteger(L, lh.near);
        lua_setfield(L, -3, "local_hour_logins");
        lua_pushinteger(L, lh.located);
        lua_setfield(L, -3, "located_logins");
    }
    return 2;
}

static int l_distance(lua_State *L)
{
    lua_pushnumber(L, rk_features_distance_km(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                                              luaL_checknumber(L, 3), luaL_checknumber(L, 4)));
    return 1;
}

/* features.ip_prefix(ip) --> "a.b.c.0/24" or "x:x:x::/48", or nil for garbage */
static int l_ip_prefix(lua_State *L)
{
    char out[80];
    rk_profile_ip_prefix(luaL_checkstring(L, 1), out, sizeof out);
    if (!out[0]) { lua_pushnil(L); return 1; }
    lua_pushstring(L, out);
    return 1;
}

int luaopen_riskd_features(lua_State *L)
{
    static const luaL_Reg fns[] = { { "extract", l_extract }, { "distance_km", l_distance },
                                    { "ip_prefix", l_ip_prefix }, { NULL, NULL } };
    luaL_newlibtable(L, fns);
    lua_newuserdatauv(L, sizeof(rk_profile_t), 0);   /* extract's scratch */
    luaL_setfuncs(L, fns, 1);
    lua_createtable(L, RK_F_COUNT, 0);
    for (int i = 0; i < RK_F_COUNT; i++) { lua_pushstring(L, rk_features_names[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "names");
    return 1;
}
