/* l_geo.c — `riskd.geo`: IP enrichment for Lua.
 *
 *   local geo = require("riskd.geo")
 *   local g = geo.current()           -- the server's databases, or nil when enrichment is off
 *   geo.enabled()                     --> whether the server enriches (no handle made)
 *   local g = geo.open(city_path, asn_path)   -- or nil, msg, "invalid_mmdb"
 *   g:lookup("198.51.100.7")  --> { country, city, latitude, longitude, asn = "AS64500", asn_org }
 *                                 (fields it does not know are absent) | nil, msg, "invalid_ip"
 *   g:info()                  --> { city = "GeoLite2-City", asn = "GeoLite2-ASN" }
 */
#include <lauxlib.h>
#include <string.h>

#include "geo.h"
#include "l_modules.h"
#include "vm.h"

#define GEO_T "riskd.geo.db"

typedef struct { rk_geo_t *g; int borrowed; } geo_ud;

static geo_ud *check_geo(lua_State *L, int i)
{
    geo_ud *u = luaL_checkudata(L, i, GEO_T);
    if (!u->g) luaL_error(L, "attempt to use a closed geo database");
    return u;
}

static int geo_release(lua_State *L)
{
    geo_ud *u = luaL_checkudata(L, 1, GEO_T);
    if (!u->borrowed) rk_geo_close(u->g);
    u->g = NULL;
    return 0;
}

static int l_open(lua_State *L)
{
    const char *city = luaL_optstring(L, 1, NULL), *asn = luaL_optstring(L, 2, NULL);
    geo_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    u->borrowed = 0;
    luaL_setmetatable(L, GEO_T);
    char err[512] = "no database given";
    u->g = rk_geo_open(city, asn, err, sizeof err);
    if (!u->g) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid_mmdb");
        return 3;
    }
    return 1;
}

static int l_current(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->geo) { lua_pushnil(L); return 1; }
    geo_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = h->geo;
    u->borrowed = 1;
    luaL_setmetatable(L, GEO_T);
    return 1;
}

static int geo_lookup(lua_State *L)
{
    geo_ud *u = check_geo(L, 1);
    const char *ip = luaL_checkstring(L, 2);
    rk_geo_result_t r;
    char err[256];
    if (rk_geo_lookup(u->g, ip, &r, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid_ip");
        return 3;
    }
    lua_createtable(L, 0, 6);
    if (r.country[0]) { lua_pushstring(L, r.country); lua_setfield(L, -2, "country"); }
    if (r.city[0]) { lua_pushstring(L, r.city); lua_setfield(L, -2, "city"); }
    if (r.has_location) {
        lua_pushnumber(L, r.latitude);
        lua_setfield(L, -2, "latitude");
        lua_pushnumber(L, r.longitude);
        lua_setfield(L, -2, "longitude");
    }
    if (r.has_asn) { lua_pushfstring(L, "AS%d", (int)r.asn); lua_setfield(L, -2, "asn"); }
    if (r.asn_org[0]) { lua_pushstring(L, r.asn_org); lua_setfield(L, -2, "asn_org"); }
    return 1;
}

static int geo_info(lua_State *L)
{
    geo_ud *u = check_geo(L, 1);
    lua_createtable(L, 0, 2);
    const char *c = rk_geo_city_type(u->g), *a = rk_geo_asn_type(u->g);
    if (c) { lua_pushstring(L, c); lua_setfield(L, -2, "city"); }
    if (a) { lua_pushstring(L, a); lua_setfield(L, -2, "asn"); }
    return 1;
}

/* Whether the server enriches, without making a handle (for /healthz). */
static int l_enabled(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    lua_pushboolean(L, h && h->geo);
    return 1;
}

int luaopen_riskd_geo(lua_State *L)
{
    static const luaL_Reg methods[] = { { "lookup", geo_lookup }, { "info", geo_info }, { NULL, NULL } };
    static const luaL_Reg meta[] = { { "__gc", geo_release }, { "__close", geo_release }, { NULL, NULL } };
    if (luaL_newmetatable(L, GEO_T)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = { { "open", l_open }, { "current", l_current }, { "enabled", l_enabled }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
