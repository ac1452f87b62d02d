/* l_xacct.c — `riskd.xacct`: cross-account memory (xacct.h) for Lua.
 *
 *   local xacct = require("riskd.xacct")
 *   local x = xacct.current()          -- the server's, shared by its workers; elsewhere this state's own
 *   local x = xacct.new([slots])       -- a fresh one (specs)
 *   x:note(key, account, ts_ms [, flag ...])   -- flags: "new_device", "new_network", "known_network"
 *   x:others(key, account, since_ms [, flag ...]) --> how many other accounts, with those flags
 */
#include <lauxlib.h>
#include <lua.h>

#include "l_modules.h"
#include "vm.h"
#include "xacct.h"

#define XACCT_T "riskd.xacct"
#define DEFAULT_SLOTS (1u << 16)
static const char OWN_KEY = 'x';

typedef struct { rk_xacct_t *x; int borrowed; } xacct_ud;

static int xacct_gc(lua_State *L)
{
    xacct_ud *u = luaL_checkudata(L, 1, XACCT_T);
    if (!u->borrowed) rk_xacct_free(u->x);
    u->x = NULL;
    return 0;
}

static rk_xacct_t *check(lua_State *L)
{
    xacct_ud *u = luaL_checkudata(L, 1, XACCT_T);
    if (!u->x) luaL_error(L, "cross-account memory already released");
    return u->x;
}

static xacct_ud *push(lua_State *L)
{
    xacct_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->x = NULL;
    u->borrowed = 0;
    luaL_setmetatable(L, XACCT_T);
    return u;
}

static int l_new(lua_State *L)
{
    lua_Integer slots = luaL_optinteger(L, 1, DEFAULT_SLOTS);
    luaL_argcheck(L, slots >= 1 && slots <= (1 << 24), 1, "slots: 1 to 16,777,216");
    xacct_ud *u = push(L);
    if (!(u->x = rk_xacct_new((size_t)slots))) return luaL_error(L, "not enough memory");
    return 1;
}

static int l_current(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (h && h->xacct) {
        xacct_ud *u = push(L);
        u->x = h->xacct;
        u->borrowed = 1;
        return 1;
    }
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &OWN_KEY) == LUA_TUSERDATA) return 1;
    lua_pop(L, 1);
    lua_settop(L, 0);
    l_new(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &OWN_KEY);
    return 1;
}

/* The flag names from argument 5 on (nil ones skipped, so that a caller can
 * pass `cond and "new_device"`). */
static unsigned check_flags(lua_State *L)
{
    static const char *const names[] = { "new_device", "new_network", "known_network", NULL };
    static const unsigned bits[] = { RK_XACCT_NEW_DEVICE, RK_XACCT_NEW_NETWORK, RK_XACCT_KNOWN_NETWORK };
    unsigned flags = 0;
    for (int i = 5, top = lua_gettop(L); i <= top; i++)
        if (!lua_isnoneornil(L, i) && lua_toboolean(L, i)) flags |= bits[luaL_checkoption(L, i, NULL, names)];
    return flags;
}

static int l_note(lua_State *L)
{
    rk_xacct_t *x = check(L);
    rk_xacct_note(x, luaL_checkstring(L, 2), luaL_checkstring(L, 3), (int64_t)luaL_checkinteger(L, 4), check_flags(L));
    return 0;
}

static int l_others(lua_State *L)
{
    rk_xacct_t *x = check(L);
    lua_pushinteger(L, rk_xacct_others(x, luaL_checkstring(L, 2), luaL_checkstring(L, 3), (int64_t)luaL_checkinteger(L, 4),
                                       check_flags(L)));
    return 1;
}

int luaopen_riskd_xacct(lua_State *L)
{
    static const luaL_Reg methods[] = { { "note", l_note }, { "others", l_others }, { NULL, NULL } };
    if (luaL_newmetatable(L, XACCT_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, xacct_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = { { "new", l_new }, { "current", l_current }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
