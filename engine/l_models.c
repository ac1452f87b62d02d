/* l_models.c — `riskd.models`: the model versions in a models folder.
 *
 *   local models = require("riskd.models")
 *   models.list(dir)            --> { { file, size, mtime, active }, ... } (newest first)
 *   models.active(dir)          --> path | nil, msg, "no_model"
 *   models.activate(dir, file)  --> true | nil, msg, "invalid_model"
 *   models.dir()                --> the server's (or the command's) models folder
 *
 * Activating writes models/ACTIVE; a running server sees the change and
 * swaps the model without a restart (models.h).
 */
#include <dirent.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "l_modules.h"
#include "models.h"
#include "vm.h"

static int fail(lua_State *L, const char *msg, const char *code)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

typedef struct { char name[256]; long long size, mtime; } entry_t;   /* valid names are at most 128 */

static int by_mtime(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int l_list(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    char active[1200], err[256], path[1200];
    int arc = rk_models_active(dir, active, sizeof active, err, sizeof err);
    DIR *d = opendir(dir);
    if (!d) { lua_newtable(L); return 1; }
    entry_t *e = lua_newuserdatauv(L, 256 * sizeof *e, 0);   /* GC-owned: no leak if a push raises */
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        struct stat st;
        if (!rk_models_valid_name(de->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
        e[n].size = (long long)st.st_size;
        e[n].mtime = (long long)st.st_mtime;
        n++;
    }
    closedir(d);
    qsort(e, (size_t)n, sizeof *e, by_mtime);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, e[i].name);
        lua_setfield(L, -2, "file");
        lua_pushinteger(L, e[i].size);
        lua_setfield(L, -2, "size");
        lua_pushinteger(L, e[i].mtime);
        lua_setfield(L, -2, "mtime");
        snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
        lua_pushboolean(L, arc == 0 && strcmp(path, active) == 0);
        lua_setfield(L, -2, "active");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_active(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    char path[1200], err[256];
    int rc = rk_models_active(dir, path, sizeof path, err, sizeof err);
    if (rc < 0) return fail(L, err, "invalid_model");
    if (rc > 0) return fail(L, "no model in the models folder", "no_model");
    lua_pushstring(L, path);
    return 1;
}

static int l_activate(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1), *file = luaL_checkstring(L, 2);
    char err[1400];
    if (rk_models_activate(dir, file, err, sizeof err) < 0) return fail(L, err, "invalid_model");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_dir(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    lua_pushstring(L, h && h->config ? h->config->models : "models");
    return 1;
}

int luaopen_riskd_models(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "list", l_list }, { "active", l_active }, { "activate", l_activate }, { "dir", l_dir }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
