/* l_intel.c — `riskd.intel`: the threat-intelligence folder for Lua.
 *
 *   local intel = require("riskd.intel")
 *   local h = intel.current()          -- the server's folder (hot-reloaded), or nil
 *   local h = intel.open(dir [, state]) -- a handle of one's own (batch scripts, specs); .auto sets in state (dir)
 *   h:contains("tor_exits", ip)        --> true | false [, "no IP set 'tor_exits'"]
 *                                          | nil, msg, "invalid_ip"
 *   h:match("bot_agents", user_agent)  --> the matching pattern | nil
 *   h:password_count(password)         --> times seen (0: never) | nil, msg, "no_index"
 *   h:password_range("21BD1")          --> "SUFFIX:COUNT\r\n..." (the k-anonymity
 *                                          answer), n | nil, msg, "invalid_prefix"|"no_index"
 *   h:confirm(set, ip, ttl_seconds)    --> true | nil, msg   (automatic set NAME.auto)
 *   h:reload()                         --> files with errors
 *   h:info()                           --> { dir, generation, sets = {...}, passwords = {...} | nil }
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intel.h"
#include "l_modules.h"
#include "intel_pwindex.h"
#include "vm.h"

#define INTEL_T "riskd.intel.folder"

typedef struct { rk_intel_t *in; int borrowed; } intel_ud;

static rk_intel_t *check_intel(lua_State *L)
{
    intel_ud *u = luaL_checkudata(L, 1, INTEL_T);
    if (!u->in) luaL_error(L, "attempt to use a closed intel folder");
    return u->in;
}

static int intel_release(lua_State *L)
{
    intel_ud *u = luaL_checkudata(L, 1, INTEL_T);
    if (!u->borrowed) rk_intel_close(u->in);
    u->in = NULL;
    return 0;
}

static void push_handle(lua_State *L, rk_intel_t *in, int borrowed)
{
    intel_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->in = in;
    u->borrowed = borrowed;
    luaL_setmetatable(L, INTEL_T);
}

static int l_open(lua_State *L)
{
    rk_intel_t *in = rk_intel_open(luaL_checkstring(L, 1), luaL_optstring(L, 2, NULL));
    if (!in) return luaL_error(L, "out of memory");
    push_handle(L, in, 0);
    return 1;
}

static int l_current(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->intel) { lua_pushnil(L); return 1; }
    push_handle(L, h->intel, 1);
    return 1;
}

/* The address at idx into ip: 0, or the count of values pushed for the
 * expected failure (nil, msg, "invalid_ip"). */
static int arg_ip(lua_State *L, int idx, rk_ip_t *ip)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    if (rk_ip_parse(s, n, ip) == 0) return 0;
    luaL_pushfail(L);
    lua_pushfstring(L, "'%s' is not an IP address", s);
    lua_pushliteral(L, "invalid_ip");
    return 3;
}

static int l_contains(lua_State *L)
{
    rk_intel_t *in = check_intel(L);
    const char *set = luaL_checkstring(L, 2);
    rk_ip_t ip;
    int bad = arg_ip(L, 3, &ip);
    if (bad) return bad;
    int r = rk_intel_contains(in, set, &ip);
    lua_pushboolean(L, r == 1);
    if (r >= 0) return 1;
    lua_pushfstring(L, "no IP set '%s'", set);
    return 2;
}

static int l_match(lua_State *L)
{
    rk_intel_t *in = check_intel(L);
    const char *set = luaL_checkstring(L, 2);
    size_t n;
    const char *s = luaL_optlstring(L, 3, NULL, &n);
    char pat[256];
    if (!s || rk_intel_match(in, set, s, n, pat, sizeof pat) != 1) { lua_pushnil(L); return 1; }
    lua_pushstring(L, pat);
    return 1;
}

static int no_index(lua_State *L)
{
    luaL_pushfail(L);
    lua_pushliteral(L, "no breached-password index (riskd intel passwords import)");
    lua_pushliteral(L, "no_index");
    return 3;
}

static int l_password_count(lua_State *L)
{
    rk_intel_t *in = check_intel(L);
    size_t n;
    const char *pw = luaL_checklstring(L, 2, &n);
    int64_t c = rk_intel_password_count(in, pw, n);
    if (c < 0) return no_index(L);
    lua_pushinteger(L, (lua_Integer)c);
    return 1;
}

static void add_line(void *ud, const char *suffix, uint32_t count)
{
    luaL_Buffer *b = ud;
    char line[64];
    int len = snprintf(line, sizeof line, "%s:%u\r\n", suffix, count);
    luaL_addlstring(b, line, (size_t)len);
}

static int l_password_range(lua_State *L)
{
    rk_intel_t *in = check_intel(L);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    int64_t prefix = rk_pwindex_parse_prefix(p, n);
    if (prefix < 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the prefix is the first 5 hexadecimal characters of a SHA-1 hash");
        lua_pushliteral(L, "invalid_prefix");
        return 3;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int64_t count = rk_intel_password_range(in, (uint32_t)prefix, add_line, &b);
    luaL_pushresult(&b);
    if (count < 0) return no_index(L);
    lua_pushinteger(L, (lua_Integer)count);
    return 2;
}

static int l_confirm(lua_State *L)
{
    rk_intel_t *in = check_intel(L);
    const char *set = luaL_checkstring(L, 2);
    lua_Integer ttl = luaL_checkinteger(L, 4);
    luaL_argcheck(L, ttl > 0, 4, "the time to live is a positive number of seconds");
    rk_ip_t ip;
    char err[256];
    int bad = arg_ip(L, 3, &ip);
    if (bad) return bad;
    if (rk_intel_confirm(in, set, &ip, (int64_t)time(NULL) + (int64_t)ttl, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_reload(lua_State *L)
{
    lua_pushinteger(L, rk_intel_reload(check_intel(L)));
    return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }
static void set_str(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }

static void push_set(lua_State *L, const rk_intel_set_info_t *s)
{
    lua_createtable(L, 0, 10);
    set_str(L, "name", s->name);
    set_str(L, "file", s->file);
    set_str(L, "kind", s->kind == RK_INTEL_IPS ? "ips" : "patterns");
    set_int(L, "entries", (lua_Integer)s->entries);
    if (s->kind == RK_INTEL_IPS) {
        set_int(L, "ranges_v4", (lua_Integer)s->ranges_v4);
        set_int(L, "ranges_v6", (lua_Integer)s->ranges_v6);
    }
    set_int(L, "memory_bytes", (lua_Integer)s->memory);
    if (s->loaded_ms) set_int(L, "loaded_ms", s->loaded_ms);
    set_int(L, "malformed_lines", (lua_Integer)s->nerrors);
    lua_createtable(L, RK_INTEL_MAX_ERRORS, 0);
    for (size_t i = 0; i < s->nerrors && i < RK_INTEL_MAX_ERRORS; i++) {
        lua_createtable(L, 0, 2);
        set_int(L, "line", s->errors[i].line);
        set_str(L, "message", s->errors[i].message);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "errors");
    if (s->failed[0]) set_str(L, "failed", s->failed);
}

static int l_info(lua_State *L)
{
    rk_intel_info_t info;
    if (rk_intel_info(check_intel(L), &info) != 0) return luaL_error(L, "out of memory");
    lua_createtable(L, 0, 5);
    set_str(L, "dir", info.dir);
    set_int(L, "generation", (lua_Integer)info.generation);
    set_int(L, "reloaded_ms", info.reloaded_ms);
    lua_createtable(L, (int)info.nsets, 0);
    for (size_t i = 0; i < info.nsets; i++) {
        push_set(L, &info.sets[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "sets");
    free(info.sets);
    if (info.has_passwords || info.passwords_failed[0]) {
        lua_createtable(L, 0, 4);
        if (info.has_passwords) {
            set_int(L, "hashes", (lua_Integer)info.password_hashes);
            set_int(L, "bytes", (lua_Integer)info.password_bytes);
            set_int(L, "loaded_ms", info.passwords_loaded_ms);
        }
        if (info.passwords_failed[0]) set_str(L, "failed", info.passwords_failed);
        lua_setfield(L, -2, "passwords");
    }
    return 1;
}

static int l_dir(lua_State *L)
{
    lua_pushstring(L, rk_intel_dir(check_intel(L)));
    return 1;
}

int luaopen_riskd_intel(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "contains", l_contains }, { "match", l_match }, { "password_count", l_password_count },
        { "password_range", l_password_range }, { "confirm", l_confirm }, { "reload", l_reload },
        { "info", l_info }, { "dir", l_dir }, { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", intel_release }, { "__close", intel_release }, { "__index", NULL }, { NULL, NULL },
    };
    static const luaL_Reg fns[] = { { "open", l_open }, { "current", l_current }, { NULL, NULL } };
    luaL_newmetatable(L, INTEL_T);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
