/* l_web.c — `riskd.web`: files of the web console folder, and answers that
 * take the connection over, for Lua.
 *
 *   local web = require("riskd.web")
 *   web.file("app.js" [, root])  --> body, content_type, etag
 *                                 | nil, msg, "not_found"|"forbidden"|"too_big"
 *   web.stream(req, { topic, min_level, last_event_id, user, role, pwv, expires })
 *       the answer becomes a Server-Sent Events stream (when the handler answers 200)
 *   web.upgrade(req [, { user, role, pwv, expires }])
 *       the answer becomes a WebSocket (the handshake checked; a caller that
 *       sent no token authenticates with its first message)
 * root defaults to the server's --web folder (web/). stream and upgrade
 * raise outside a server's request.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "l_modules.h"
#include "takeover.h"
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

/* The takeover of the request table at index 1 (its _answer handle). */
static rk_takeover_t *takeover_of(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "_answer");
    rk_takeover_t **box = luaL_testudata(L, -1, RK_TAKEOVER_T);
    lua_pop(L, 1);
    if (!box || !*box) luaL_error(L, "not a request the server is answering");
    return *box;
}

static void opt_field(lua_State *L, int t, const char *name, char *out, size_t cap)
{
    if (lua_getfield(L, t, name) == LUA_TSTRING) snprintf(out, cap, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

static lua_Integer opt_int(lua_State *L, int t, const char *name)
{
    lua_Integer v = 0;
    if (lua_getfield(L, t, name) != LUA_TNIL) v = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* The session fields of the table at index t. */
static void who_of(lua_State *L, int t, rk_session_t *who)
{
    memset(who, 0, sizeof *who);
    if (!lua_istable(L, t)) return;
    opt_field(L, t, "user", who->user, sizeof who->user);
    opt_field(L, t, "role", who->role, sizeof who->role);
    opt_field(L, t, "pwv", who->pwv, sizeof who->pwv);
    who->exp_s = (int64_t)opt_int(L, t, "expires");
}

static int l_stream(lua_State *L)
{
    rk_takeover_t *t = takeover_of(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    memset(t, 0, sizeof *t);
    opt_field(L, 2, "topic", t->topic, sizeof t->topic);
    t->min_level = (int)opt_int(L, 2, "min_level");
    t->last_id = (uint64_t)opt_int(L, 2, "last_event_id");
    who_of(L, 2, &t->who);
    t->kind = RK_TAKEOVER_STREAM;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_upgrade(lua_State *L)
{
    rk_takeover_t *t = takeover_of(L);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    memset(t, 0, sizeof *t);
    who_of(L, 2, &t->who);
    t->kind = RK_TAKEOVER_WEBSOCKET;
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_riskd_web(lua_State *L)
{
    static const luaL_Reg fns[] = { { "file", l_file }, { "stream", l_stream }, { "upgrade", l_upgrade }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
