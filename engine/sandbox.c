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

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two sets of rules share the folder: login rules at its top, phishing
 * rules in phishing/ (each set with its own config.lua). */
static const char RULES_KEY = 'r';    /* registry: array of login rule tables */
static const char CONFIG_KEY = 'c';   /* registry: the login rules' config table */
static const char PH_RULES_KEY = 'p'; /* the same for phishing/ */
static const char PH_CONFIG_KEY = 'q';
static const char BROKEN_KEY = 'b';   /* registry: files left out, { {file, error}, ... } */

typedef struct { const char *prefix; const void *rules_key, *config_key; } rule_set_t;
static const rule_set_t SETS[] = { { "", &RULES_KEY, &CONFIG_KEY }, { "phishing/", &PH_RULES_KEY, &PH_CONFIG_KEY } };

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
 * request. A view is an empty table whose metatable reads through to the
 * real one, wrapping tables in views of their own, and raises on a write.
 * The registry keeps view -> table and table -> view, both weak, so a
 * table has one view while it lives. */
static const char VIEW_OF_KEY = 'w';    /* table -> view (weak keys) */
static const char TABLE_OF_KEY = 't';   /* view -> table (weak keys) */
static const char VIEW_META_KEY = 'm';  /* the views' shared metatable */

static void push_view(lua_State *L, int idx);

/* The table behind the view at idx (which must be one). [-0,+1,-] */
static void push_target(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &TABLE_OF_KEY);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

/* Replaces a table on top with its view. */
static void wrap_top(lua_State *L)
{
    if (lua_type(L, -1) != LUA_TTABLE) return;
    push_view(L, -1);
    lua_remove(L, -2);
}

static int view_index(lua_State *L)
{
    push_target(L, 1);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    wrap_top(L);
    return 1;
}

static int view_newindex(lua_State *L)
{
    return luaL_error(L, "rules cannot change '%s': config and ctx are read-only", luaL_optstring(L, 2, "?"));
}

static int view_len(lua_State *L)
{
    push_target(L, 1);
    lua_len(L, -1);
    return 1;
}

/* next over the table, values wrapped: the iterator of __pairs. */
static int view_next(lua_State *L)
{
    push_target(L, 1);
    lua_pushvalue(L, 2);
    if (!lua_next(L, -2)) { lua_pushnil(L); return 1; }
    wrap_top(L);
    return 2;
}

static int view_pairs(lua_State *L)
{
    lua_pushcfunction(L, view_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static void push_weak_table(lua_State *L, const void *key)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* Pushes the view of the table at idx, made on first use. [-0,+1,m] */
static void push_view(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &VIEW_OF_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        push_weak_table(L, &VIEW_OF_KEY);
        push_weak_table(L, &TABLE_OF_KEY);
        static const luaL_Reg meta[] = { { "__index", view_index }, { "__newindex", view_newindex },
                                         { "__len", view_len }, { "__pairs", view_pairs }, { NULL, NULL } };
        luaL_newlib(L, meta);
        lua_pushliteral(L, "read-only");
        lua_setfield(L, -2, "__metatable");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &VIEW_META_KEY);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &VIEW_OF_KEY);
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TTABLE) { lua_remove(L, -2); return; }
    lua_pop(L, 1);
    lua_newtable(L);                                   /* [view_of, view] */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &VIEW_META_KEY);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);                                 /* view_of[t] = view */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &TABLE_OF_KEY);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);                                 /* table_of[view] = t */
    lua_pop(L, 1);
    lua_remove(L, -2);
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

/* Pushes a fresh sandbox environment whose `config` is the table under
 * config_key (the rule set's config.lua). */
static void push_env(lua_State *L, const void *config_key)
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
    static const char *const utf8_ok[] = { "char", "charpattern", "codes", "codepoint", "len", "offset", NULL };
    copy_fields(L, "utf8", utf8_ok);
    lua_setfield(L, -2, "utf8");
    lua_rawgetp(L, LUA_REGISTRYINDEX, config_key);
    if (lua_istable(L, -1)) wrap_top(L);
    lua_setfield(L, -2, "config");
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
}

/* Whether f belongs to the set: directly in its folder, not deeper. */
static int in_set(const rule_set_t *set, const rk_script_file_t *f)
{
    size_t n = strlen(set->prefix);
    return strncmp(f->path, set->prefix, n) == 0 && !strchr(f->path + n, '/');
}

static int is_config(const rule_set_t *set, const rk_script_file_t *f)
{
    size_t n = strlen(set->prefix);
    return strncmp(f->path, set->prefix, n) == 0 && strcmp(f->path + n, "config.lua") == 0;
}

/* Compiles and runs one file in a fresh sandbox; leaves its result. */
static int run_file(rk_vm_t *vm, const rk_scripts_t *rules, const rule_set_t *set, const rk_script_file_t *f,
                    char *err, size_t errlen)
{
    lua_State *L = rk_vm_state(vm);
    char name[1100];
    snprintf(name, sizeof name, "@%s/%s", rules->root, f->path);
    if (luaL_loadbufferx(L, f->data, f->len, name, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    push_env(L, set->config_key);
    lua_setupvalue(L, -2, 1);   /* the chunk's _ENV */
    rk_vm_limits_t lim = { RK_RULE_LOAD_TIMEOUT_MS, RK_RULE_LOAD_MAX_INSTRUCTIONS, RK_RULE_LOAD_MAX_MEMORY };
    if (rk_vm_call_limited(vm, 0, 1, &lim, err, errlen) != 0) return -1;
    return 0;
}

/* A file that does not load — does not compile, fails, returns no rule,
 * takes another rule's name — is left out and remembered with why
 * (rules.broken(), rk_sandbox_broken): the other files load. */
static void note_broken(lua_State *L, const char *path, const char *why)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &BROKEN_KEY);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "file");
    lua_pushstring(L, why);
    lua_setfield(L, -2, "error");
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

static int is_lua(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".lua") == 0;
}

/* Checks the rule table on top (from file f, of set): NULL when good, else why. */
static const char *bad_rule(lua_State *L, int names)
{
    const char *why = NULL;
    int top = lua_gettop(L);
    if (!lua_istable(L, top)) why = "must return a table";
    else if (lua_getfield(L, top, "name") != LUA_TSTRING) why = "needs a string 'name'";
    else if (lua_getfield(L, top, "evaluate") != LUA_TFUNCTION) why = "needs a function 'evaluate'";
    else if (names && lua_getfield(L, names, lua_tostring(L, top + 1)) != LUA_TNIL) why = "has the name of another rule";
    lua_settop(L, top);
    return why;
}

static void load_set(rk_vm_t *vm, const rk_scripts_t *rules, const rule_set_t *set)
{
    lua_State *L = rk_vm_state(vm);
    char err[1024];
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, set->config_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, set->rules_key);
    if (!rules) return;
    char cfg_path[64];
    snprintf(cfg_path, sizeof cfg_path, "%sconfig.lua", set->prefix);
    const rk_script_file_t *cfg = rk_scripts_find(rules, cfg_path);
    if (cfg) {
        if (run_file(vm, rules, set, cfg, err, sizeof err) < 0) {
            note_broken(L, cfg_path, err);
        } else if (!lua_istable(L, -1)) {
            note_broken(L, cfg_path, "config.lua must return a table");
            lua_pop(L, 1);
        } else {
            lua_rawsetp(L, LUA_REGISTRYINDEX, set->config_key);
        }
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, set->rules_key);
    int list = lua_gettop(L);
    lua_newtable(L);   /* names seen */
    int n = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const rk_script_file_t *f = &rules->files[i];
        if (!in_set(set, f) || is_config(set, f) || !is_lua(f->path)) continue;
        if (run_file(vm, rules, set, f, err, sizeof err) < 0) { note_broken(L, f->path, err); continue; }
        const char *why = bad_rule(L, list + 1);
        if (why) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s/%s: a rule %s", rules->root, f->path, why);
            note_broken(L, f->path, msg);
            lua_pop(L, 1);
            continue;
        }
        lua_getfield(L, -1, "name");
        lua_pushboolean(L, 1);
        lua_setfield(L, list + 1, lua_tostring(L, -2));   /* names[name] = true */
        lua_pop(L, 1);
        /* Per-rule counters live beside the rule, in its table; in a server
         * they are the server's (metrics.h), found by the index kept here. */
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "_hits");
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "_errors");
        const rk_vm_host_t *host = rk_vm_host(L);
        if (host && host->metrics) {
            lua_getfield(L, -1, "name");
            char mname[160];   /* phishing rules count as "phishing/<name>" */
            snprintf(mname, sizeof mname, "%s%s", set->prefix, lua_tostring(L, -1));
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

int rk_sandbox_load_rules(rk_vm_t *vm, const rk_scripts_t *rules, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    lua_State *L = rk_vm_state(vm);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &BROKEN_KEY);
    for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++) load_set(vm, rules, &SETS[i]);
    return 0;
}

int rk_sandbox_broken_count(rk_vm_t *vm)
{
    lua_State *L = rk_vm_state(vm);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &BROKEN_KEY);
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

const char *rk_sandbox_broken_at(rk_vm_t *vm, int i, const char **why)
{
    lua_State *L = rk_vm_state(vm);
    const char *path = NULL;
    *why = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &BROKEN_KEY);
    if (lua_rawgeti(L, -1, i + 1) == LUA_TTABLE) {
        lua_getfield(L, -1, "file");
        lua_getfield(L, -2, "error");
        path = lua_tostring(L, -2);   /* the strings live in the registry's table */
        *why = lua_tostring(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 2);
    return path;
}

/* The set an optional argument names: "login" (the default) or "phishing". */
static const rule_set_t *check_set(lua_State *L, int i)
{
    static const char *const names[] = { "login", "phishing", NULL };
    return &SETS[luaL_checkoption(L, i, "login", names)];
}

/* rules.evaluate(ctx) --> results, errors
 *   results: { {name, score, reason}, ... } for the rules that fired (score > 0)
 *   errors:  { {rule, error}, ... } for the rules that failed or were stopped */
/* The rule at index 5 fired (hit) or failed: its count in this state and,
 * in a server, the server's. */
static void rule_count(lua_State *L, const rk_vm_host_t *host, int hit)
{
    const char *field = hit ? "_hits" : "_errors";
    lua_getfield(L, 5, field);
    lua_pushinteger(L, lua_tointeger(L, -1) + 1);
    lua_setfield(L, 5, field);
    lua_pop(L, 1);
    if (!host || !host->metrics) return;
    if (!hit) rk_metrics_inc(host->metrics, RK_M_RULE_ERRORS);
    lua_getfield(L, 5, "_ctr");
    if (lua_isinteger(L, -1)) rk_metrics_rule_count(host->metrics, (int)lua_tointeger(L, -1), hit, !hit);
    lua_pop(L, 1);
}

static int l_evaluate(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const rule_set_t *set = check_set(L, 2);
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return luaL_error(L, "rules run inside riskd only");
    const rk_vm_host_t *host = rk_vm_host(L);   /* once per call: a registry read */
    lua_settop(L, 1);
    wrap_top(L);                                     /* 1: ctx, read-only */
    lua_rawgetp(L, LUA_REGISTRYINDEX, set->rules_key);   /* 2 */
    lua_newtable(L);                                 /* 3: results */
    lua_newtable(L);                                 /* 4: errors */
    int nres = 0, nerr = 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);                        /* 5: rule */
        lua_getfield(L, 5, "evaluate");
        lua_pushvalue(L, 1);
        char err[512];
        rk_vm_limits_t lim = { RK_RULE_TIMEOUT_MS, RK_RULE_MAX_INSTRUCTIONS, RK_RULE_MAX_MEMORY };
        int rc = rk_vm_pcall(vm, L, 1, 2, &lim, err, sizeof err);
        const char *bad = NULL;
        if (rc == 0) {
            /* [5 rule, 6 score, 7 reason] */
            if (!lua_isnil(L, 6) && !lua_isnumber(L, 6)) bad = "evaluate returned a score that is not a number";
            else if (!lua_isnil(L, 7) && !lua_isstring(L, 7)) bad = "evaluate returned a reason that is not a string";
        }
        if (rc != 0 || bad) {
            const char *what = rc == RK_VM_TIMEOUT ? "stopped: time budget exceeded"
                             : rc == RK_VM_INSTRUCTIONS ? "stopped: instruction budget exceeded"
                             : rc == RK_VM_MEMORY ? "stopped: memory budget exceeded" : NULL;
            lua_settop(L, 5);
            lua_createtable(L, 0, 2);
            lua_getfield(L, 5, "name");
            lua_setfield(L, -2, "rule");
            lua_pushstring(L, what ? what : bad ? bad : err);
            lua_setfield(L, -2, "error");
            lua_rawseti(L, 4, ++nerr);
            lua_pushstring(L, what ? what : bad ? bad : err);
            lua_setfield(L, 5, "_last_error");
            rule_count(L, host, 0);
            lua_settop(L, 4);   /* the rule */
            continue;
        }
        double score = lua_isnil(L, 6) ? 0 : lua_tonumber(L, 6);
        if (score > 0) {
            if (score > 100) score = 100;
            lua_createtable(L, 0, 3);
            lua_getfield(L, 5, "name");
            lua_setfield(L, -2, "name");
            lua_pushnumber(L, score);
            lua_setfield(L, -2, "score");
            lua_pushvalue(L, 7);
            lua_setfield(L, -2, "reason");
            lua_rawseti(L, 3, ++nres);
            rule_count(L, host, 1);
        }
        lua_settop(L, 4);
    }
    return 2;
}

/* rules.list() --> { {name, description, file, hits, errors, last_error}, ... }
 * hits and errors are the server's (every worker's) in a server; last_error
 * is this worker's last. */
static int l_list(lua_State *L)
{
    const rule_set_t *set = check_set(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, set->rules_key);
    if (!lua_istable(L, -1)) { lua_newtable(L); return 1; }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    lua_createtable(L, (int)n, 0);
    static const char *const fields[][2] = { { "name", "name" }, { "description", "description" }, { "_file", "file" },
                                             { "_hits", "hits" }, { "_errors", "errors" }, { "_last_error", "last_error" } };
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_createtable(L, 0, 6);
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            lua_getfield(L, -2, fields[k][0]);
            lua_setfield(L, -2, fields[k][1]);
        }
        const rk_vm_host_t *host = rk_vm_host(L);
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

/* rules.config() --> the table config.lua returned (empty without one) */
static int l_config(lua_State *L)
{
    const rule_set_t *set = check_set(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, set->config_key) != LUA_TTABLE) { lua_pop(L, 1); lua_newtable(L); }
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
 * Whether source, saved as path ("x.lua", "config.lua", "phishing/x.lua"),
 * would load: compiled and run as the server loads rules (the same sandbox
 * and budgets), returning a rule whose name no other file of its set has
 * (or, for config.lua, a table). Nothing is kept. */
static int l_check(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *src = luaL_checklstring(L, 2, &len);
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return luaL_error(L, "rules.check runs inside riskd only");
    const rule_set_t *set = strncmp(path, SETS[1].prefix, strlen(SETS[1].prefix)) == 0 ? &SETS[1] : &SETS[0];
    const char *base = path + strlen(set->prefix);
    if (strchr(base, '/') || !is_lua(path)) return check_failed(L, "a rule file is NAME.lua in the rules folder or in phishing/");
    const rk_scripts_t *cur = rk_vm_rules(vm);
    char name[1100], err[1024];
    snprintf(name, sizeof name, "@%s/%s", cur ? cur->root : "rules", path);
    lua_settop(L, 2);
    if (luaL_loadbufferx(L, src, len, name, "t") != LUA_OK) return check_failed(L, lua_tostring(L, -1));
    push_env(L, set->config_key);
    lua_setupvalue(L, -2, 1);
    rk_vm_limits_t lim = { RK_RULE_LOAD_TIMEOUT_MS, RK_RULE_LOAD_MAX_INSTRUCTIONS, RK_RULE_LOAD_MAX_MEMORY };
    if (rk_vm_pcall(vm, L, 0, 1, &lim, err, sizeof err) != 0) return check_failed(L, err);
    if (strcmp(base, "config.lua") == 0) {
        if (!lua_istable(L, -1)) return check_failed(L, "config.lua must return a table");
        lua_pushboolean(L, 1);
        return 1;
    }
    /* the names of the other files' rules */
    lua_newtable(L);                                             /* 4 */
    lua_rawgetp(L, LUA_REGISTRYINDEX, set->rules_key);           /* 5 */
    for (lua_Integer i = 1; lua_rawgeti(L, 5, i) == LUA_TTABLE; i++) {
        lua_getfield(L, -1, "_file");
        if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), path) != 0) {
            lua_getfield(L, -2, "name");
            lua_pushboolean(L, 1);
            lua_settable(L, 4);
        }
        lua_pop(L, 2);
    }
    lua_settop(L, 4);
    lua_pushvalue(L, 3);
    const char *why = bad_rule(L, 4);
    if (why) {
        lua_pushfstring(L, "%s: a rule %s", name + 1, why);
        return check_failed(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* rules.broken() --> { {file, error, serving}, ... }: the files left out
 * of the rules this state runs. serving says what runs in a file's place:
 * "previous" (its last version that loaded), "history" (a saved version,
 * at start-up) or "none". */
static int l_broken(lua_State *L)
{
    lua_newtable(L);
    int n = 0;
    rk_vm_t *vm = rk_vm_of(L);
    const rk_scripts_t *cur = vm ? rk_vm_rules(vm) : NULL;
    const rk_script_file_t *pf = cur ? rk_scripts_find(cur, RK_SANDBOX_PROBLEMS) : NULL;
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
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &BROKEN_KEY) == LUA_TTABLE) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
            lua_pushliteral(L, "none");
            lua_setfield(L, -2, "serving");
            lua_rawseti(L, -3, ++n);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

int luaopen_riskd_rules(lua_State *L)
{
    static const luaL_Reg fns[] = { { "evaluate", l_evaluate }, { "list", l_list }, { "config", l_config },
                                    { "check", l_check }, { "broken", l_broken }, { NULL, NULL } };
    luaL_newlib(L, fns);
    return 1;
}
