/* l_engine.c — `riskd.engine`: what a handler may know about the server it
 * runs in. Outside a server (riskd.so under busted) the functions that need
 * one return nil, "not running in a server", "no_server". */
#include <lauxlib.h>
#include <unistd.h>
#include <stdlib.h>

#include "config.h"
#include "l_modules.h"
#include "version.h"
#include "vm.h"

static int no_server(lua_State *L)
{
    luaL_pushfail(L);
    lua_pushliteral(L, "not running in a server");
    lua_pushliteral(L, "no_server");
    return 3;
}

/* engine.generation() --> the generation of the script set this state runs. */
static int l_generation(lua_State *L)
{
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return no_server(L);
    lua_pushinteger(L, (lua_Integer)rk_vm_generation(vm));
    return 1;
}

/* engine.worker() --> this worker's index (0-based). */
static int l_worker(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h) return no_server(L);
    lua_pushinteger(L, h->worker);
    return 1;
}

/* A box for a malloc'd C string, so it is freed even if pushing it raises. */
#define CBUF_T "riskd.engine.cbuf"

static int cbuf_release(lua_State *L)
{
    char **p = luaL_checkudata(L, 1, CBUF_T);
    free(*p);
    *p = NULL;
    return 0;
}

/* engine.metrics() --> the Prometheus exposition text. */
static int l_metrics(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->metrics) return no_server(L);
    char **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, CBUF_T);
    size_t len = 0;
    *box = rk_metrics_render(h->metrics, &len);
    if (!*box) {
        luaL_pushfail(L);
        lua_pushliteral(L, "out of memory");
        lua_pushliteral(L, "oom");
        return 3;
    }
    lua_pushlstring(L, *box, len);
    free(*box);
    *box = NULL;
    return 1;
}

/* engine.memory() --> bytes held by this Lua state. */
static int l_memory(lua_State *L)
{
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return no_server(L);
    lua_pushinteger(L, (lua_Integer)rk_vm_memory(vm));
    return 1;
}

/* engine.config() --> the settings a handler may need. */
static int l_config(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->config) return no_server(L);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)h->config->body_limit);
    lua_setfield(L, -2, "body_limit");
    lua_pushinteger(L, h->config->request_timeout_ms);
    lua_setfield(L, -2, "request_timeout_ms");
    lua_pushinteger(L, h->config->workers);
    lua_setfield(L, -2, "workers");
    lua_pushstring(L, h->config->db);
    lua_setfield(L, -2, "db");
    return 1;
}

/* engine.isatty(fd) --> whether fd (0, 1, 2) is a terminal: batch commands
 * show progress only there. */
static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 2, 1, "0, 1 or 2");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

int luaopen_riskd_engine(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "generation", l_generation }, { "worker", l_worker }, { "metrics", l_metrics },
        { "memory", l_memory }, { "config", l_config }, { "isatty", l_isatty }, { NULL, NULL },
    };
    static const luaL_Reg cbuf_meta[] = {
        { "__gc", cbuf_release }, { "__close", cbuf_release }, { NULL, NULL },
    };
    if (luaL_newmetatable(L, CBUF_T)) luaL_setfuncs(L, cbuf_meta, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushliteral(L, RK_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
