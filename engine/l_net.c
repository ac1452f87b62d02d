/* l_net.c — `riskd.net`: IP addresses and CIDR sets for Lua.
 *
 *   net.parse_ip("::ffff:10.0.0.1")      --> "10.0.0.1", "ipv4"  | nil, msg, "invalid_ip"
 *   local set = net.cidrs("10.0.0.0/8, 2001:db8::/32")   -- or nil, msg, "invalid_cidr"
 *   set:contains("10.1.2.3")             --> true            | nil, msg, "invalid_ip"
 *   net.client_addr(peer, xff, set)      --> the address X-Forwarded-For policy picks
 */
#include <lauxlib.h>
#include <string.h>

#include "l_modules.h"
#include "netaddr.h"

#define CIDRS_T "riskd.net.cidrs"

/* The list is held inline; live is 0 until parsed and after release. */
typedef struct { rk_cidr_list_t list; int live; } cidrs_ud;

static cidrs_ud *check_cidrs(lua_State *L, int i)
{
    cidrs_ud *u = luaL_checkudata(L, i, CIDRS_T);
    if (!u->live) luaL_error(L, "attempt to use a released cidr set");
    return u;
}

static int l_parse_ip(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    rk_ip_t ip;
    char buf[64];
    if (rk_ip_parse(s, n, &ip) < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "invalid IP address '%s'", s);
        lua_pushliteral(L, "invalid_ip");
        return 3;
    }
    rk_ip_format(&ip, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_pushstring(L, ip.v4 ? "ipv4" : "ipv6");
    return 2;
}

static int l_cidrs(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    /* Push the userdata empty first: if parsing raises, __gc sees NULL. */
    cidrs_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->live = 0;
    u->list.items = NULL;
    u->list.n = 0;
    luaL_setmetatable(L, CIDRS_T);
    char err[256];
    /* Parsing allocates but never raises; the userdata owns the result. */
    if (rk_cidr_list_parse(&u->list, spec, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid_cidr");
        return 3;
    }
    u->live = 1;
    return 1;
}

static int cidrs_contains(lua_State *L)
{
    cidrs_ud *u = check_cidrs(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    rk_ip_t ip;
    if (rk_ip_parse(s, n, &ip) < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "invalid IP address '%s'", s);
        lua_pushliteral(L, "invalid_ip");
        return 3;
    }
    lua_pushboolean(L, rk_cidr_list_contains(&u->list, &ip));
    return 1;
}

static int cidrs_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_cidrs(L, 1)->list.n);
    return 1;
}

static int cidrs_release(lua_State *L)
{
    cidrs_ud *u = luaL_checkudata(L, 1, CIDRS_T);
    rk_cidr_list_free(&u->list);  /* idempotent: items is NULL after */
    u->live = 0;
    return 0;
}

static int cidrs_tostring(lua_State *L)
{
    cidrs_ud *u = luaL_checkudata(L, 1, CIDRS_T);
    if (u->live) lua_pushfstring(L, CIDRS_T " (%d ranges)", (int)u->list.n);
    else lua_pushliteral(L, CIDRS_T " (released)");
    return 1;
}

static int l_client_addr(lua_State *L)
{
    const char *peer = luaL_checkstring(L, 1);
    const char *xff = luaL_optstring(L, 2, NULL);
    rk_cidr_list_t none = { NULL, 0 };
    const rk_cidr_list_t *trusted = lua_isnoneornil(L, 3) ? &none : &check_cidrs(L, 3)->list;
    char out[64];
    rk_client_addr(trusted, peer, xff, out, sizeof out);
    lua_pushstring(L, out);
    return 1;
}

int luaopen_riskd_net(lua_State *L)
{
    static const luaL_Reg cidrs_methods[] = {
        { "contains", cidrs_contains }, { NULL, NULL },
    };
    static const luaL_Reg cidrs_meta[] = {
        { "__gc", cidrs_release }, { "__close", cidrs_release },
        { "__len", cidrs_len }, { "__tostring", cidrs_tostring },
        { "__index", NULL }, { NULL, NULL },
    };
    static const luaL_Reg fns[] = {
        { "parse_ip", l_parse_ip }, { "cidrs", l_cidrs }, { "client_addr", l_client_addr },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, CIDRS_T)) {
        luaL_setfuncs(L, cidrs_meta, 0);
        luaL_newlib(L, cidrs_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
