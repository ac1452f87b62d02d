/* sandbox.c — see sandbox.h.
 *
 * The sandbox is data (after Redis's script_lua.c): each rule file runs with
 * a fresh _ENV holding only an allow-list — no io, no debug, no load or
 * require, of os only time, date and clock — whose metatable raises on a read
 * or write of any other global, so a typo is an error, not a silent nil.
 * Files are loaded as text only (no bytecode) under the chunk name
 * @rules/<file>. The shared configuration (config.lua) is visible to rules as
 * the global `config`.
 */
#include "sandbox.h"
#include "l_modules.h"
#include "log.h"
#include "store.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A rule set is a Lua table: for each kind (login rules at the folder's
 * top, phishing rules in phishing/, each with its own config.lua) the array
 * of rule tables and the config table, the files left out and why, and the
 * folder it came from. The state's own set (the server's, `riskd run`'s) is
 * in the registry; rules.load makes others. */
static const char DEFAULT_SET_KEY = 'r';   /* registry: the state's own set */
static const char SET_META_KEY = 's';      /* registry: the metatable of loaded sets */

typedef struct { const char *prefix, *rules, *config; } kind_t;
static const kind_t KINDS[] = { { "", "_login_rules", "_login_config" }, { "phishing/", "_phishing_rules", "_phishing_config" } };

static int env_index(lua_State *L)
{
    return luaL_error(L, "unknown global '%s' (rules run in a sandbox)", luaL_optstring(L, 2, "?"));
}

static int env_newindex(lua_State *L)
{
    return luaL_error(L, "rules cannot set globals ('%s'); use local", luaL_optstring(L, 2, "?"));
}

/* ---- read-only views ------------------------------------------------------
 * Rules read `config` and `ctx` and must not change them: config is shared
 * by every later request of the state, ctx by every later rule of the
 * request. A view is a userdata whose metatable reads through to the real
 * table (its first user value) and raises on a write; a table read through
 * a view comes back as a view of its own, kept in the parent's second user
 * value under its key, so a rule that reads ctx.features twenty times makes
 * one view and finds it again by a string key. Only the outermost views
 * (ctx, config) are found from their table, in a weak registry table: a
 * lookup keyed by a table is a generic hash look-up, which dominated the
 * rules' time when every read did two of them. */
static const char VIEW_OF_KEY = 'w';    /* table -> outermost view (weak keys) */
static const char VIEW_META_KEY = 'm';  /* the views' shared metatable */

enum { UV_TARGET = 1, UV_CHILDREN = 2 };

static int view_index(lua_State *L);
static int view_newindex(lua_State *L);
static int view_len(lua_State *L);
static int view_pairs(lua_State *L);

/* A new view of the table at idx. [-0,+1,m] */
static void new_view(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newuserdatauv(L, 0, 2);
    lua_pushvalue(L, idx);
    lua_setiuservalue(L, -2, UV_TARGET);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &VIEW_META_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        static const luaL_Reg meta[] = { { "__index", view_index }, { "__newindex", view_newindex },
                                         { "__len", view_len }, { "__pairs", view_pairs }, { NULL, NULL } };
        luaL_newlib(L, meta);
        lua_pushliteral(L, "read-only");
        lua_setfield(L, -2, "__metatable");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &VIEW_META_KEY);
    }
    lua_setmetatable(L, -2);
}

/* Replaces the value on top, read from the view at index view under the key
 * at index key, by its view when it is a table: the one made before for
 * that key when it still shows the same table. [-1,+1,m] */
static void wrap_child(lua_State *L, int view, int key)
{
    if (lua_type(L, -1) != LUA_TTABLE) return;
    int v = lua_gettop(L);
    if (lua_getiuservalue(L, view, UV_CHILDREN) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, view, UV_CHILDREN);
    }
    int children = v + 1;
    lua_pushvalue(L, key);
    if (lua_rawget(L, children) == LUA_TUSERDATA) {
        lua_getiuservalue(L, -1, UV_TARGET);
        int same = lua_rawequal(L, -1, v);
        lua_pop(L, 1);
        if (same) { lua_replace(L, v); lua_settop(L, v); return; }
    }
    lua_pop(L, 1);
    new_view(L, v);
    lua_pushvalue(L, key);
    lua_pushvalue(L, -2);
    lua_rawset(L, children);                           /* children[key] = view */
    lua_replace(L, v);
    lua_settop(L, v);
}

/* Replaces a table on top with its outermost view, made on first use. */
static void wrap_top(lua_State *L)
{
    if (lua_type(L, -1) != LUA_TTABLE) return;
    int t = lua_gettop(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &VIEW_OF_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &VIEW_OF_KEY);
    }
    lua_pushvalue(L, t);
    if (lua_rawget(L, -2) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        new_view(L, t);
        lua_pushvalue(L, t);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);                             /* view_of[t] = view */
    }
    lua_replace(L, t);
    lua_settop(L, t);
}

static int view_index(lua_State *L)
{
    lua_getiuservalue(L, 1, UV_TARGET);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    wrap_child(L, 1, 2);
    return 1;
}

static int view_newindex(lua_State *L)
{
    return luaL_error(L, "rules cannot change '%s': config and ctx are read-only", luaL_optstring(L, 2, "?"));
}

static int view_len(lua_State *L)
{
    lua_getiuservalue(L, 1, UV_TARGET);
    lua_len(L, -1);
    return 1;
}

/* next over the table, values wrapped: the iterator of __pairs. */
static int view_next(lua_State *L)
{
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, UV_TARGET);
    lua_pushvalue(L, 2);
    if (!lua_next(L, 3)) { lua_pushnil(L); return 1; }
    wrap_child(L, 1, 4);
    return 2;
}

static int view_pairs(lua_State *L)
{
    lua_pushcfunction(L, view_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Copies the named fields of global table `lib` into a new table. */
static void copy_fields(lua_State *L, const char *lib, const char *const *names)
{
    lua_newtable(L);
    lua_getglobal(L, lib);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
    lua_pop(L, 1);
}

static int l_require(lua_State *L);

/* Pushes a fresh sandbox environment whose `config` is the kind's config
 * of the set at index set (a read-only view), and whose `require` loads the
 * set's rule libraries (rules/lib/NAME.lua). */
static void push_env(lua_State *L, int set, const kind_t *kind)
{
    static const char *const basics[] = { "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
                                          "tonumber", "tostring", "type", "xpcall", "rawequal", "rawlen", "rawget", NULL };
    static const char *const os_ok[] = { "time", "date", "clock", NULL };
    static const char *const string_ok[] = { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
                                             "match", "rep", "reverse", "sub", "upper", NULL };
    static const char *const table_ok[] = { "concat", "insert", "remove", "sort", "unpack", "move", NULL };
    static const char *const math_ok[] = { "abs", "ceil", "floor", "max", "min", "sqrt", "exp", "log", "huge", "pi",
                                           "fmod", "modf", "tointeger", "type", "maxinteger", "mininteger", "sin",
                                           "cos", "atan", NULL };
    static const char *const utf8_ok[] = { "char", "charpattern", "codes", "codepoint", "len", "offset", NULL };
    set = lua_absindex(L, set);
    lua_createtable(L, 0, 24);
    for (const char *const *n = basics; *n; n++) { lua_getglobal(L, *n); lua_setfield(L, -2, *n); }
    copy_fields(L, "os", os_ok);
    lua_setfield(L, -2, "os");
    copy_fields(L, "string", string_ok);
    lua_setfield(L, -2, "string");
    copy_fields(L, "table", table_ok);
    lua_setfield(L, -2, "table");
    copy_fields(L, "math", math_ok);
    lua_setfield(L, -2, "math");
    copy_fields(L, "utf8", utf8_ok);
    lua_setfield(L, -2, "utf8");
    lua_getfield(L, set, kind->config);
    if (lua_istable(L, -1)) wrap_top(L);
    lua_setfield(L, -2, "config");
    lua_pushvalue(L, set);
    lua_pushinteger(L, kind == &KINDS[0] ? 0 : 1);
    lua_pushcclosure(L, l_require, 2);
    lua_setfield(L, -2, "require");
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
}

/* Whether f belongs to the kind: directly in its folder, not deeper. */
static int in_kind(const kind_t *kind, const char *path)
{
    size_t n = strlen(kind->prefix);
    return strncmp(path, kind->prefix, n) == 0 && !strchr(path + n, '/');
}

static int is_config(const kind_t *kind, const char *path)
{
    size_t n = strlen(kind->prefix);
    return strncmp(path, kind->prefix, n) == 0 && strcmp(path + n, "config.lua") == 0;
}

static const kind_t *kind_of(const char *path)
{
    return strncmp(path, KINDS[1].prefix, strlen(KINDS[1].prefix)) == 0 ? &KINDS[1] : &KINDS[0];
}

static int is_lua(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".lua") == 0;
}

static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Calls the function below nargs arguments under lim: the vm's gate (its
 * budgets) in riskd, a plain protected call where there is no vm (riskd.so
 * under busted: the same code and environment, without the budgets). */
static int call(lua_State *L, rk_vm_t *vm, int nargs, int nres, const rk_vm_limits_t *lim, char *err, size_t errlen)
{
    if (vm) return rk_vm_pcall(vm, L, nargs, nres, lim, err, errlen);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nres, base);
    if (rc != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
        lua_settop(L, base - 1);
        return RK_VM_ERROR;
    }
    lua_remove(L, base);
    return 0;
}

/* Compiles and runs source as the file path of the set at index set (its
 * folder root), in a fresh sandbox; leaves its result, or returns -1. */
static int run_source(lua_State *L, rk_vm_t *vm, int set, const char *root, const char *path, const char *data,
                      size_t len, char *err, size_t errlen)
{
    set = lua_absindex(L, set);
    char name[1100];
    snprintf(name, sizeof name, "@%s/%s", root, path);
    if (luaL_loadbufferx(L, data, len, name, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    push_env(L, set, kind_of(path));
    lua_setupvalue(L, -2, 1);   /* the chunk's _ENV */
    rk_vm_limits_t lim = { RK_RULE_LOAD_TIMEOUT_MS, RK_RULE_LOAD_MAX_INSTRUCTIONS, RK_RULE_LOAD_MAX_MEMORY };
    return call(L, vm, 0, 1, &lim, err, errlen) != 0 ? -1 : 0;
}

/* A file that does not load — does not compile, fails, returns no rule,
 * takes another rule's name — is left out and remembered with why: the
 * other files load. */
static void note_broken(lua_State *L, int set, const char *path, const char *why)
{
    lua_getfield(L, set, "_broken");
    lua_createtable(L, 0, 2);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "file");
    lua_pushstring(L, why);
    lua_setfield(L, -2, "error");
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

/* Checks the rule table on top: NULL when good, else why. names (a table
 * index, or 0) holds the names taken by other files. */
static const char *bad_rule(lua_State *L, int names)
{
    const char *why = NULL;
    int top = lua_gettop(L);
    if (!lua_istable(L, top)) why = "must return a table";
    else if (lua_getfield(L, top, "name") != LUA_TSTRING) why = "needs a string 'name'";
    else if (lua_getfield(L, top, "evaluate") != LUA_TFUNCTION) why = "needs a function 'evaluate'";
    else if (lua_getfield(L, top, "family") != LUA_TNIL && lua_type(L, -1) != LUA_TSTRING)
        why = "has a 'family' that is not a string";
    else if (names && lua_getfield(L, names, lua_tostring(L, top + 1)) != LUA_TNIL) why = "has the name of another rule";
    lua_settop(L, top);
    return why;
}

/* A rule's default weights: `weight = N` (under the rule's name) or
 * `weights = { name = N, ... }` in its file. config.lua's `weights` only
 * overrides them: a key config sets keeps config's value; the others get
 * the rule's, so every rule reads config.weights.<name> either way. */
static void merge_weights(lua_State *L, int set, const kind_t *kind, int rule)
{
    lua_getfield(L, set, kind->config);                        /* config */
    if (lua_getfield(L, -1, "weights") != LUA_TTABLE) {        /* config.weights */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "weights");
    }
    int weights = lua_gettop(L);
    if (lua_getfield(L, rule, "weight") == LUA_TNUMBER) {
        lua_getfield(L, rule, "name");
        if (lua_rawget(L, weights) == LUA_TNIL) {               /* weights[name] unset */
            lua_pop(L, 1);
            lua_getfield(L, rule, "name");
            lua_pushvalue(L, -2);
            lua_rawset(L, weights);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, rule, "weights") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            if (lua_rawget(L, weights) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, weights);
            } else {
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 3);
}

/* Loads one kind of the snapshot into the set at index set. counted: the
 * state's own set in a server, whose rules count into the server's metrics. */
static void load_kind(lua_State *L, rk_vm_t *vm, const rk_snapshot_t *rules, int set, const kind_t *kind, int counted)
{
    char err[1024];
    set = lua_absindex(L, set);
    lua_newtable(L);
    lua_setfield(L, set, kind->config);
    lua_newtable(L);
    lua_setfield(L, set, kind->rules);
    if (!rules) return;
    char cfg_path[64];
    snprintf(cfg_path, sizeof cfg_path, "%sconfig.lua", kind->prefix);
    const rk_script_file_t *cfg = rk_snapshot_find(rules, cfg_path);
    if (cfg) {
        if (run_source(L, vm, set, rules->root, cfg->path, cfg->data, cfg->len, err, sizeof err) < 0) {
            note_broken(L, set, cfg_path, err);
        } else if (!lua_istable(L, -1)) {
            note_broken(L, set, cfg_path, "config.lua must return a table");
            lua_pop(L, 1);
        } else {
            lua_setfield(L, set, kind->config);
        }
    }
    lua_getfield(L, set, kind->rules);
    int list = lua_gettop(L);
    lua_newtable(L);   /* names seen */
    int n = 0;
    const rk_vm_host_t *host = counted ? rk_vm_host(L) : NULL;
    for (size_t i = 0; i < rules->n; i++) {
        const rk_script_file_t *f = &rules->files[i];
        if (!in_kind(kind, f->path) || is_config(kind, f->path) || !is_lua(f->path)) continue;
        if (run_source(L, vm, set, rules->root, f->path, f->data, f->len, err, sizeof err) < 0) {
            note_broken(L, set, f->path, err);
            continue;
        }
        const char *why = bad_rule(L, list + 1);
        if (why) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s/%s: a rule %s", rules->root, f->path, why);
            note_broken(L, set, f->path, msg);
            lua_pop(L, 1);
            continue;
        }
        lua_getfield(L, -1, "name");
        lua_pushboolean(L, 1);
        lua_setfield(L, list + 1, lua_tostring(L, -2));   /* names[name] = true */
        lua_pop(L, 1);
        merge_weights(L, set, kind, lua_gettop(L));
        /* Per-rule counters live beside the rule, in its table; in a server
         * they are the server's (metrics.h), found by the index kept here. */
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "_hits");
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "_errors");
        if (host && host->metrics) {
            lua_getfield(L, -1, "name");
            char mname[160];   /* phishing rules count as "phishing/<name>" */
            snprintf(mname, sizeof mname, "%s%s", kind->prefix, lua_tostring(L, -1));
            lua_pushinteger(L, rk_metrics_rule_index(host->metrics, mname));
            lua_setfield(L, -3, "_ctr");
            lua_pop(L, 1);
        }
        lua_pushstring(L, f->path);
        lua_setfield(L, -2, "_file");
        lua_rawseti(L, list, ++n);
    }
    lua_settop(L, list - 1);
}

/* Pushes a new set loaded from the snapshot. */
static void push_loaded_set(lua_State *L, rk_vm_t *vm, const rk_snapshot_t *rules, int counted)
{
    lua_createtable(L, 0, 8);
    int set = lua_gettop(L);
    lua_newtable(L);
    lua_setfield(L, set, "_broken");
    /* the rule libraries: name -> source, loaded when a rule requires them */
    lua_newtable(L);
    for (size_t i = 0; rules && i < rules->n; i++) {
        const char *p = rules->files[i].path;
        size_t n = strlen(p);
        if (strncmp(p, RK_SANDBOX_LIB_DIR, strlen(RK_SANDBOX_LIB_DIR)) != 0 || !is_lua(p) ||
            strchr(p + strlen(RK_SANDBOX_LIB_DIR), '/'))
            continue;
        lua_pushlstring(L, p + strlen(RK_SANDBOX_LIB_DIR), n - strlen(RK_SANDBOX_LIB_DIR) - 4);
        lua_pushlstring(L, rules->files[i].data, rules->files[i].len);
        lua_settable(L, -3);
    }
    lua_setfield(L, set, "_libs");
    lua_newtable(L);
    lua_setfield(L, set, "_libs_loaded");
    lua_pushstring(L, rules ? rules->root : "");
    lua_setfield(L, set, "_root");
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) load_kind(L, vm, rules, set, &KINDS[i], counted);
}

int rk_sandbox_load_rules(rk_vm_t *vm, const rk_snapshot_t *rules, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    lua_State *L = rk_vm_state(vm);
    push_loaded_set(L, vm, rules, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &DEFAULT_SET_KEY);
    return 0;
}

/* Pushes the state's own set (an empty one when none was loaded). */
static void push_default(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &DEFAULT_SET_KEY) == LUA_TTABLE) return;
    lua_pop(L, 1);
    push_loaded_set(L, NULL, NULL, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &DEFAULT_SET_KEY);
}

int rk_sandbox_broken_count(rk_vm_t *vm)
{
    lua_State *L = rk_vm_state(vm);
    push_default(L);
    lua_getfield(L, -1, "_broken");
    int n = (int)lua_rawlen(L, -1);
    lua_pop(L, 2);
    return n;
}

const char *rk_sandbox_broken_at(rk_vm_t *vm, int i, const char **why)
{
    lua_State *L = rk_vm_state(vm);
    const char *path = NULL;
    *why = NULL;
    push_default(L);
    lua_getfield(L, -1, "_broken");
    if (lua_rawgeti(L, -1, i + 1) == LUA_TTABLE) {
        lua_getfield(L, -1, "file");
        lua_getfield(L, -2, "error");
        path = lua_tostring(L, -2);   /* the strings live in the set's table */
        *why = lua_tostring(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 3);
    return path;
}

/* require(name) in a rule: the rule library rules/lib/NAME.lua, run once
 * per set and kind in the same sandbox (upvalues: the set, the kind). */
static int l_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int set = lua_upvalueindex(1);
    const kind_t *kind = &KINDS[lua_tointeger(L, lua_upvalueindex(2))];
    lua_settop(L, 1);
    lua_getfield(L, set, "_libs_loaded");                       /* 2 */
    lua_pushfstring(L, "%s%s", kind->prefix, name);             /* 3: the cache key */
    if (lua_rawget(L, 2) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    lua_getfield(L, set, "_libs");
    if (lua_getfield(L, -1, name) != LUA_TSTRING)
        return luaL_error(L, "no rule library '%s' (%s%s.lua)", name, RK_SANDBOX_LIB_DIR, name);
    size_t len;
    const char *src = lua_tolstring(L, -1, &len);
    lua_getfield(L, set, "_root");
    char path[256], err[1024];
    snprintf(path, sizeof path, "%s%s%s.lua", kind->prefix, RK_SANDBOX_LIB_DIR, name);
    /* loaded with the requiring kind's config, then cached for it */
    if (run_source(L, rk_vm_of(L), set, lua_tostring(L, -1), path, src, len, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_pushboolean(L, 1); }
    lua_pushfstring(L, "%s%s", kind->prefix, name);
    lua_pushvalue(L, -2);
    lua_rawset(L, 2);
    return 1;
}

/* ---- the Lua API ------------------------------------------------------------ */

/* The set a function works on: a loaded set passed as self (arg 1), or the
 * state's own. Pushes it on top and returns the index of the first argument
 * after it; *top (when not NULL) gets the number of arguments given. */
static int which_set_n(lua_State *L, int *top)
{
    if (top) *top = lua_gettop(L);
    if (lua_type(L, lua_upvalueindex(1)) == LUA_TTABLE) {   /* a loaded set's own function: set.evaluate(ctx) */
        int self = lua_rawequal(L, 1, lua_upvalueindex(1));   /* or set:evaluate(ctx) */
        lua_pushvalue(L, lua_upvalueindex(1));
        return self ? 2 : 1;
    }
    if (lua_getmetatable(L, 1)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &SET_META_KEY);
        int loaded = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (loaded) { lua_pushvalue(L, 1); return 2; }
    }
    push_default(L);
    return 1;
}

/* The kind an optional argument i (of top given) names: "login" (the
 * default) or "phishing". */
static const kind_t *check_kind(lua_State *L, int i, int top)
{
    static const char *const names[] = { "login", "phishing", NULL };
    if (i > top || lua_isnil(L, i)) return &KINDS[0];
    return &KINDS[luaL_checkoption(L, i, "login", names)];
}

/* The rule at index rule fired (hit) or failed: its count in this state and,
 * in a server, the server's. */
static void rule_count(lua_State *L, int rule, const rk_vm_host_t *host, int hit)
{
    const char *field = hit ? "_hits" : "_errors";
    lua_getfield(L, rule, field);
    lua_pushinteger(L, lua_tointeger(L, -1) + 1);
    lua_setfield(L, rule, field);
    lua_pop(L, 1);
    if (!host || !host->metrics) return;
    if (!hit) rk_metrics_inc(host->metrics, RK_M_RULE_ERRORS);
    lua_getfield(L, rule, "_ctr");
    if (lua_isinteger(L, -1)) rk_metrics_rule_count(host->metrics, (int)lua_tointeger(L, -1), hit, !hit);
    lua_pop(L, 1);
}

/* A rule's table answer at index t, { score = N } or { lr = N } (a
 * likelihood ratio, attacker against this user, worth the score
 * 100 * (1 - 1/N); see combine in lib/analyze.lua), with an optional
 * at_least = "<level>": the least level the attempt gets when the rule fires,
 * whatever the calibrated thresholds (evidence a site always wants to see).
 * Replaces the table by the score and the nil on top by the level. */
static int raw_field(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    return lua_rawget(L, t);
}

/* Read raw: the answer is read after the rule's budgets are off, so no
 * metamethod may run then (the sandbox gives rules no setmetatable today). */
static int table_result(lua_State *L, int t, char *err, size_t errlen)
{
    int tl = raw_field(L, t, "lr"), ts = raw_field(L, t, "score");
    double lr = lua_tonumber(L, -2), score = lua_tonumber(L, -1);
    lua_pop(L, 2);
    if ((tl == LUA_TNIL) == (ts == LUA_TNIL)) {
        snprintf(err, errlen, "evaluate returned a table with neither or both of 'score' and 'lr'");
        return -1;
    }
    if (tl != LUA_TNIL && (tl != LUA_TNUMBER || !(lr >= 1))) {
        snprintf(err, errlen, "evaluate returned a likelihood ratio 'lr' that is not a number of at least 1");
        return -1;
    }
    if (ts != LUA_TNIL && ts != LUA_TNUMBER) {
        snprintf(err, errlen, "evaluate returned a score that is not a number");
        return -1;
    }
    if (raw_field(L, t, "at_least") != LUA_TNIL) {
        const char *lv = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; lv && i < RK_LEVELS; i++) ok |= strcmp(lv, rk_store_levels[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "evaluate returned an 'at_least' that is not low, medium, high or critical");
            lua_pop(L, 1);
            return -1;
        }
        lua_replace(L, t + 2);
    } else {
        lua_pop(L, 1);
    }
    lua_pushnumber(L, tl != LUA_TNIL ? 100.0 * (1.0 - 1.0 / lr) : score);
    lua_replace(L, t);
    return 0;
}

/* Runs the rule at index rule on the view at index ctx with a rule's
 * budgets: 0 with score, reason and at_least (a level or nil) pushed, or -1
 * with why in err. */
static int run_rule(lua_State *L, rk_vm_t *vm, int rule, int ctx, char *err, size_t errlen)
{
    lua_getfield(L, rule, "evaluate");
    lua_pushvalue(L, ctx);
    rk_vm_limits_t lim = { RK_RULE_TIMEOUT_MS, RK_RULE_MAX_INSTRUCTIONS, RK_RULE_MAX_MEMORY };
    int rc = call(L, vm, 1, 2, &lim, err, errlen);
    if (rc != 0) {
        const char *what = rc == RK_VM_TIMEOUT ? "stopped: time budget exceeded"
                         : rc == RK_VM_INSTRUCTIONS ? "stopped: instruction budget exceeded"
                         : rc == RK_VM_MEMORY ? "stopped: memory budget exceeded" : NULL;
        if (what) snprintf(err, errlen, "%s", what);
        return -1;
    }
    int top = lua_gettop(L);
    lua_pushnil(L);                                   /* at_least: none unless the table names one */
    if (lua_istable(L, top - 1) && table_result(L, top - 1, err, errlen) != 0) {
        lua_pop(L, 3);
        return -1;
    }
    if (!lua_isnil(L, top - 1) && !lua_isnumber(L, top - 1)) {
        snprintf(err, errlen, "evaluate returned a score that is not a number");
        lua_pop(L, 3);
        return -1;
    }
    if (!lua_isnil(L, top) && !lua_isstring(L, top)) {
        snprintf(err, errlen, "evaluate returned a reason that is not a string");
        lua_pop(L, 3);
        return -1;
    }
    return 0;
}

/* What an answer says of a rule's error: its first line, with the folder of
 * a leading "path/file.lua:LINE:" left out. Answers go to the caller; the
 * whole message, traceback and paths, stays in the rule's last_error (the
 * admin view) and the log. */
static void push_short_error(lua_State *L, const char *err)
{
    size_t n = strcspn(err, "\n");
    const char *colon = memchr(err, ':', n), *start = err;
    if (colon) {
        for (const char *p = err; p < colon; p++) if (*p == '/') start = p + 1;
    }
    lua_pushlstring(L, start, n - (size_t)(start - err));
}

/* [set:]evaluate(ctx [, kind]) --> results, errors
 *   results: { {name, family, score, reason, at_least}, ... } for the rules that fired (score > 0)
 *   errors:  { {rule, error}, ... } for the rules that failed or were stopped, each
 *            error its first line without the rule file's folder
 * Every rule sees ctx through a read-only view and runs with a rule's
 * budgets (50 ms, 5 million instructions, 16 MiB) where riskd runs it. */
static int l_evaluate(lua_State *L)
{
    int top;
    int a = which_set_n(L, &top);                      /* the set on top */
    luaL_checktype(L, a, LUA_TTABLE);
    const kind_t *kind = check_kind(L, a + 1, top);
    rk_vm_t *vm = rk_vm_of(L);
    int own = a == 1;   /* the state's own set counts into the server's metrics */
    const rk_vm_host_t *host = own ? rk_vm_host(L) : NULL;
    int set = lua_gettop(L);
    lua_pushvalue(L, a);
    wrap_top(L);
    int ctx = lua_gettop(L);                           /* ctx, read-only */
    lua_getfield(L, set, kind->rules);
    int rules = lua_gettop(L);
    lua_newtable(L);
    int results = lua_gettop(L);
    lua_newtable(L);
    int errors = results + 1;
    int nres = 0, nerr = 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, rules);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, rules, i);
        int rule = lua_gettop(L);
        char err[512];
        if (run_rule(L, vm, rule, ctx, err, sizeof err) != 0) {
            lua_createtable(L, 0, 2);
            lua_getfield(L, rule, "name");
            lua_setfield(L, -2, "rule");
            push_short_error(L, err);
            lua_setfield(L, -2, "error");
            lua_rawseti(L, errors, ++nerr);
            /* logged whole when it is new for the rule, not at every attempt */
            lua_getfield(L, rule, "_last_error");
            const char *last = lua_tostring(L, -1);
            if (!last || strcmp(last, err) != 0) {
                rk_log_t e;
                rk_log_begin(&e, RK_LOG_WARN, "rule failed");
                lua_getfield(L, rule, "name");
                rk_log_str(&e, "rule", lua_tostring(L, -1));
                lua_pop(L, 1);
                rk_log_str(&e, "error", err);
                rk_log_end(&e);
            }
            lua_pop(L, 1);
            lua_pushstring(L, err);
            lua_setfield(L, rule, "_last_error");
            rule_count(L, rule, host, 0);
            lua_settop(L, errors);
            continue;
        }
        double score = lua_isnil(L, rule + 1) ? 0 : lua_tonumber(L, rule + 1);
        if (score > 0) {
            if (score > 100) score = 100;
            lua_createtable(L, 0, 5);
            lua_getfield(L, rule, "name");
            lua_setfield(L, -2, "name");
            if (lua_getfield(L, rule, "family") != LUA_TSTRING) { lua_pop(L, 1); lua_pushstring(L, RK_RULE_FAMILY_DEFAULT); }
            lua_setfield(L, -2, "family");
            lua_pushnumber(L, score);
            lua_setfield(L, -2, "score");
            lua_pushvalue(L, rule + 2);
            lua_setfield(L, -2, "reason");
            lua_pushvalue(L, rule + 3);
            lua_setfield(L, -2, "at_least");
            lua_rawseti(L, results, ++nres);
            rule_count(L, rule, host, 1);
        }
        lua_settop(L, errors);
    }
    return 2;
}

/* set:run(name, ctx [, kind]) --> score, reason, at_least: one rule, exactly as
 * evaluate runs it (the read-only view, the budgets); its error raised.
 * For specs and back-tests of a single rule. */
static int l_run(lua_State *L)
{
    int top;
    int a = which_set_n(L, &top);
    const char *name = luaL_checkstring(L, a);
    luaL_checktype(L, a + 1, LUA_TTABLE);
    const kind_t *kind = check_kind(L, a + 2, top);
    int set = lua_gettop(L);
    lua_pushvalue(L, a + 1);
    wrap_top(L);
    int ctx = lua_gettop(L);
    lua_getfield(L, set, kind->rules);
    int rules = lua_gettop(L);
    for (lua_Integer i = 1; lua_rawgeti(L, rules, i) == LUA_TTABLE; i++) {
        lua_getfield(L, -1, "name");
        int match = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (!match) { lua_pop(L, 1); continue; }
        char err[512];
        if (run_rule(L, rk_vm_of(L), lua_gettop(L), ctx, err, sizeof err) != 0) return luaL_error(L, "%s", err);
        return 3;
    }
    return luaL_error(L, "no %s rule named '%s'", kind == &KINDS[0] ? "login" : "phishing", name);
}

/* [set:]list([kind]) --> { {name, description, family, file, hits, errors, last_error}, ... }
 * hits and errors are the server's (every worker's) for the server's own
 * set; last_error is this state's last. */
static int l_list(lua_State *L)
{
    int top;
    int a = which_set_n(L, &top);
    const kind_t *kind = check_kind(L, a, top);
    int set = lua_gettop(L);
    const rk_vm_host_t *host = a == 1 ? rk_vm_host(L) : NULL;
    lua_getfield(L, set, kind->rules);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    lua_createtable(L, (int)n, 0);
    static const char *const fields[][2] = { { "name", "name" }, { "description", "description" }, { "_file", "file" },
                                             { "_hits", "hits" }, { "_errors", "errors" }, { "_last_error", "last_error" } };
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_createtable(L, 0, 7);
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            lua_getfield(L, -2, fields[k][0]);
            lua_setfield(L, -2, fields[k][1]);
        }
        if (lua_getfield(L, -2, "family") != LUA_TSTRING) { lua_pop(L, 1); lua_pushstring(L, RK_RULE_FAMILY_DEFAULT); }
        lua_setfield(L, -2, "family");
        if (host && host->metrics) {
            if (lua_getfield(L, -2, "_ctr") == LUA_TNUMBER) {   /* [rule, entry, ctr] */
                unsigned long long hits, errors;
                rk_metrics_rule_get(host->metrics, (int)lua_tointeger(L, -1), &hits, &errors);
                lua_pushinteger(L, (lua_Integer)hits);
                lua_setfield(L, -3, "hits");
                lua_pushinteger(L, (lua_Integer)errors);
                lua_setfield(L, -3, "errors");
            }
            lua_pop(L, 1);
        }
        lua_rawseti(L, -3, i);
        lua_pop(L, 1);
    }
    return 1;
}

/* [set:]config([kind]) --> the table config.lua returned (empty without one) */
static int l_config(lua_State *L)
{
    int top;
    int a = which_set_n(L, &top);
    const kind_t *kind = check_kind(L, a, top);
    lua_getfield(L, -1, kind->config);
    return 1;
}

/* The line a load or run error names ("@rules/x.lua:12: ..."), or 0. */
static int line_of(const char *msg)
{
    const char *p = strstr(msg, ".lua:");
    return p ? atoi(p + 5) : 0;
}

static int check_failed(lua_State *L, const char *msg)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushinteger(L, line_of(msg));
    return 3;
}

/* rules.check(path, source) --> true | nil, message, line
 * Whether source, saved as path ("x.lua", "config.lua", "phishing/x.lua")
 * in the state's own set, would load: compiled and run as the server loads
 * rules (the same sandbox and budgets), returning a rule whose name no other
 * file of its kind has (or, for config.lua, a table). Nothing is kept. */
static int l_check(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *src = luaL_checklstring(L, 2, &len);
    const kind_t *kind = kind_of(path);
    const char *base = path + strlen(kind->prefix);
    if (strchr(base, '/') || !is_lua(path)) return check_failed(L, "a rule file is NAME.lua in the rules folder or in phishing/");
    lua_settop(L, 2);
    push_default(L);                                              /* 3 */
    lua_getfield(L, 3, "_root");
    const char *root = lua_tostring(L, -1)[0] ? lua_tostring(L, -1) : "rules";
    char err[1024];
    if (run_source(L, rk_vm_of(L), 3, root, path, src, len, err, sizeof err) < 0) return check_failed(L, err);
    int result = lua_gettop(L);
    if (strcmp(base, "config.lua") == 0) {
        if (!lua_istable(L, result)) return check_failed(L, "config.lua must return a table");
        lua_pushboolean(L, 1);
        return 1;
    }
    /* the names of the other files' rules */
    lua_newtable(L);
    int names = lua_gettop(L);
    lua_getfield(L, 3, kind->rules);
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
        lua_getfield(L, -1, "_file");
        if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), path) != 0) {
            lua_getfield(L, -2, "name");
            lua_pushboolean(L, 1);
            lua_settable(L, names);
        }
        lua_pop(L, 2);
    }
    lua_settop(L, names);
    lua_pushvalue(L, result);
    const char *why = bad_rule(L, names);
    if (why) {
        lua_pushfstring(L, "%s/%s: a rule %s", root, path, why);
        return check_failed(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* [set:]broken() --> { {file, error, serving}, ... }: the files left out of
 * the rules this set runs. serving says what runs in a file's place:
 * "previous" (its last version that loaded), "history" (a saved version, at
 * start-up) or "none". In a server, the server vetted the folder and its
 * snapshot says (RK_SANDBOX_PROBLEMS); a set loaded here says itself. */
static int l_broken(lua_State *L)
{
    int a = which_set_n(L, NULL);
    int set = lua_gettop(L);
    lua_newtable(L);
    int n = 0;
    rk_vm_t *vm = rk_vm_of(L);
    const rk_snapshot_t *cur = vm && a == 1 ? rk_vm_rules(vm) : NULL;
    const rk_script_file_t *pf = cur ? rk_snapshot_find(cur, RK_SANDBOX_PROBLEMS) : NULL;
    for (const char *line = pf ? pf->data : NULL; line && *line;) {   /* file TAB serving TAB error NL */
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        const char *t1 = memchr(line, '\t', ll), *t2 = t1 ? memchr(t1 + 1, '\t', ll - (size_t)(t1 + 1 - line)) : NULL;
        if (t1 && t2) {
            lua_createtable(L, 0, 3);
            lua_pushlstring(L, line, (size_t)(t1 - line));
            lua_setfield(L, -2, "file");
            lua_pushlstring(L, t1 + 1, (size_t)(t2 - t1 - 1));
            lua_setfield(L, -2, "serving");
            lua_pushlstring(L, t2 + 1, ll - (size_t)(t2 + 1 - line));
            lua_setfield(L, -2, "error");
            lua_rawseti(L, -2, ++n);
        }
        line = end ? end + 1 : NULL;
    }
    lua_getfield(L, set, "_broken");
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
        lua_createtable(L, 0, 3);
        lua_getfield(L, -2, "file");
        lua_setfield(L, -2, "file");
        lua_getfield(L, -2, "error");
        lua_setfield(L, -2, "error");
        lua_pushliteral(L, "none");
        lua_setfield(L, -2, "serving");
        lua_rawseti(L, -4, ++n);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return 1;
}

/* rules.load(dir [, extra]) --> set
 * The rules of a folder as the server loads them: the same sandbox, the
 * same read-only config and ctx, and, inside riskd (`riskd run`), the same
 * budgets. extra, { ["name.lua"] = source, ... }, adds files or replaces
 * the folder's (a candidate rule for a back-test). The set has evaluate,
 * run, list, config and broken, as the module has for the state's own. */
static int l_load(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    char err[512];
    rk_snapshot_t *snap = rk_snapshot_load(dir, err, sizeof err);
    if (!snap) { luaL_pushfail(L); lua_pushstring(L, err); return 2; }
    if (!lua_isnoneornil(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            size_t len;
            const char *path = lua_tostring(L, -2), *src = lua_tolstring(L, -1, &len);
            rk_snapshot_t *next = path && src ? rk_snapshot_with(snap, path, src, len) : NULL;
            lua_pop(L, 1);
            if (!next) {
                rk_snapshot_release(snap);
                return luaL_error(L, "rules.load: extra must map file names to sources");
            }
            rk_snapshot_release(snap);
            snap = next;
        }
    }
    push_loaded_set(L, rk_vm_of(L), snap, 0);
    rk_snapshot_release(snap);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &SET_META_KEY);
    lua_setmetatable(L, -2);
    /* its functions, bound to it: set.evaluate(ctx) as the module's rules.evaluate(ctx) */
    static const luaL_Reg bound[] = { { "evaluate", l_evaluate }, { "run", l_run }, { "list", l_list },
                                      { "config", l_config }, { "broken", l_broken }, { NULL, NULL } };
    for (const luaL_Reg *r = bound; r->name; r++) {
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, r->func, 1);
        lua_setfield(L, -2, r->name);
    }
    return 1;
}

int luaopen_riskd_rules(lua_State *L)
{
    static const luaL_Reg methods[] = { { "evaluate", l_evaluate }, { "run", l_run }, { "list", l_list },
                                        { "config", l_config }, { "broken", l_broken }, { NULL, NULL } };
    static const luaL_Reg fns[] = { { "evaluate", l_evaluate }, { "run", l_run }, { "list", l_list },
                                    { "config", l_config }, { "broken", l_broken }, { "check", l_check },
                                    { "load", l_load }, { NULL, NULL } };
    lua_createtable(L, 0, 2);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SET_META_KEY);
    luaL_newlib(L, fns);
    return 1;
}
