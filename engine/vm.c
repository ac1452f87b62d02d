/* vm.c — see vm.h. The deadline hook follows Redis (script_lua.c): a count
 * hook checks the clock; when time is up it re-arms itself to fire on every
 * instruction and raises, so a Lua pcall cannot swallow the stop. */
#include "vm.h"
#include "hash.h"

#include <lauxlib.h>
#include <pthread.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iforest.h"
#include "l_modules.h"
#include "sandbox.h"
#include "watchdog.h"

#define HOOK_EVERY 10000   /* instructions between clock checks (~20 µs of Lua) */

struct rk_vm {
    lua_State *L;
    rk_snapshot_t *scripts;
    rk_snapshot_t *rules;
    rk_iforest_t *model;
    uint64_t generation;
    size_t mem, mem_limit;
    size_t call_mem_cap;    /* 0, or a ceiling on mem for the innermost limited call */
    uint64_t deadline;      /* 0 = no call in progress */
    int64_t instr_left;     /* < 0: no instruction budget */
    int timed_out;          /* why the hook stopped the call: 0, RK_VM_TIMEOUT or RK_VM_INSTRUCTIONS */
    lua_State *running;     /* the thread of the call in progress, as the watchdog is told */
    int entry_ref;
    const rk_vm_host_t *host;
    /* Requests as coroutines (rk_vm_resume): */
    lua_State *co;          /* the request coroutine running now, or NULL */
    rk_task_t *awaited;     /* what it suspended on */
    rk_vm_queue awaited_q;
    int holds;              /* suspended requests still using this state */
    int doomed;             /* freed while held: the last release frees */
};

static const char HOST_KEY = 'h';
static const char VM_KEY = 'v';

static rk_vm_t *vm_of(lua_State *L) { return *(rk_vm_t **)lua_getextraspace(L); }

/* A counting allocator: refuses growth past the cap, so a runaway script gets
 * "not enough memory" (after Lua's emergency GC) instead of the process. */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rk_vm_t *vm = ud;
    if (ptr == NULL) osize = 0;
    if (nsize == 0) {
        free(ptr);
        vm->mem -= osize;
        return NULL;
    }
    if (nsize > osize && vm->mem_limit && vm->mem + (nsize - osize) > vm->mem_limit)
        return NULL;
    if (nsize > osize && vm->call_mem_cap && vm->mem + (nsize - osize) > vm->call_mem_cap)
        return NULL;
    void *np = realloc(ptr, nsize);
    if (np == NULL) return nsize <= osize ? ptr : NULL; /* Lua assumes shrinking never fails */
    vm->mem = vm->mem - osize + nsize;
    return np;
}

#ifdef RK_LUA_COVERAGE
/* `make coverage` builds with RK_LUA_COVERAGE: every line of Lua the server
 * and the batch commands run is counted (the budgets' count hook also gets
 * line events) and appended at exit to the file RISKD_LUA_COVERAGE names, in
 * tests/luacov.lua's format, so that the e2e suites count for scripts/ and
 * rules/ as the busted specs do. Never in a normal build. */
typedef struct { uint64_t key; char *text; } cov_hit_t;
static cov_hit_t *cov_hits;
static size_t cov_n, cov_cap;
static pthread_mutex_t cov_mu = PTHREAD_MUTEX_INITIALIZER;

static void cov_record(lua_State *L, lua_Debug *ar)
{
    if (!lua_getinfo(L, "S", ar) || ar->source[0] != '@') return;
    uint64_t h = rk_fnv1a_str(RK_FNV_OFFSET, ar->source);
    h ^= (uint64_t)ar->currentline * 0x9E3779B97F4A7C15ULL;
    if (h == 0) h = 1;
    pthread_mutex_lock(&cov_mu);
    if (cov_n * 2 >= cov_cap) {   /* grow the open-addressing table */
        size_t nc = cov_cap ? cov_cap * 2 : 4096;
        cov_hit_t *nt = calloc(nc, sizeof *nt);
        for (size_t i = 0; nt && i < cov_cap; i++) {
            if (!cov_hits[i].key) continue;
            size_t j = cov_hits[i].key & (nc - 1);
            while (nt[j].key) j = (j + 1) & (nc - 1);
            nt[j] = cov_hits[i];
        }
        if (nt) { free(cov_hits); cov_hits = nt; cov_cap = nc; }
    }
    size_t j = h & (cov_cap - 1);
    while (cov_hits[j].key && cov_hits[j].key != h) j = (j + 1) & (cov_cap - 1);
    if (!cov_hits[j].key) {
        char line[1300];
        snprintf(line, sizeof line, "%s\t%d\n", ar->source + 1, ar->currentline);
        cov_hits[j].key = h;
        cov_hits[j].text = strdup(line);
        cov_n++;
    }
    pthread_mutex_unlock(&cov_mu);
}

static void cov_save(void)
{
    const char *out = getenv("RISKD_LUA_COVERAGE");
    FILE *f = out ? fopen(out, "a") : NULL;
    for (size_t i = 0; i < cov_cap; i++) {
        if (f && cov_hits[i].text) fputs(cov_hits[i].text, f);
        free(cov_hits[i].text);
    }
    if (f) fclose(f);
    free(cov_hits);
    cov_hits = NULL;
    cov_n = cov_cap = 0;
}
#define COV_MASK (getenv("RISKD_LUA_COVERAGE") ? LUA_MASKLINE : 0)
#else
#define COV_MASK 0
#endif

static void deadline_hook(lua_State *L, lua_Debug *ar);

/* The budgets' count hook every `count` instructions (0: none). */
static void set_hook(lua_State *L, int count)
{
    int mask = (count ? LUA_MASKCOUNT : 0) | COV_MASK;
    lua_sethook(L, mask ? deadline_hook : NULL, mask, count);
}

static void deadline_hook(lua_State *L, lua_Debug *ar)
{
#ifdef RK_LUA_COVERAGE
    if (ar->event == LUA_HOOKLINE) { cov_record(L, ar); return; }
#endif
    (void)ar;
    rk_vm_t *vm = vm_of(L);
    if (vm->instr_left >= 0 && vm->timed_out != RK_VM_TIMEOUT) {
        vm->instr_left -= HOOK_EVERY;
        if (vm->instr_left < 0) {
            vm->timed_out = RK_VM_INSTRUCTIONS;
            set_hook(L, 1);
            luaL_error(L, "instruction budget exceeded");
        }
    }
    if (vm->timed_out == RK_VM_INSTRUCTIONS) luaL_error(L, "instruction budget exceeded");
    if (vm->deadline == 0 || rk_now_ns() < vm->deadline) return;
    vm->timed_out = RK_VM_TIMEOUT;
    set_hook(L, 1);
    luaL_error(L, "time budget exceeded");
}

/* Set from the watchdog's signal on the running thread: past the deadline
 * the call stops as the count hook would stop it; before it (the call the
 * signal was meant for has ended) the call's own hook comes back. */
static void watchdog_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    rk_vm_t *vm = vm_of(L);
    if (vm->deadline && rk_now_ns() >= vm->deadline) {
        vm->timed_out = RK_VM_TIMEOUT;
        set_hook(L, 1);
        luaL_error(L, "time budget exceeded");
    }
    set_hook(L, vm->deadline || vm->instr_left >= 0 ? HOOK_EVERY : 0);
}

void rk_vm_watchdog_fire(void *running)
{
    lua_sethook(running, watchdog_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

int rk_vm_expired(rk_vm_t *vm)
{
    return vm && vm->deadline && rk_now_ns() >= vm->deadline;
}

int rk_vm_stop(lua_State *L, rk_vm_t *vm)
{
    vm->timed_out = RK_VM_TIMEOUT;
    set_hook(L, 1);
    return luaL_error(L, "time budget exceeded");
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int rk_vm_call(rk_vm_t *vm, int nargs, int nresults, int timeout_ms, char *err, size_t errlen)
{
    rk_vm_limits_t lim = { timeout_ms, -1, 0 };
    int rc = rk_vm_call_limited(vm, nargs, nresults, &lim, err, errlen);
    return rc == RK_VM_TIMEOUT ? -2 : rc < 0 ? -1 : 0;
}

int rk_vm_call_limited(rk_vm_t *vm, int nargs, int nresults, const rk_vm_limits_t *lim, char *err, size_t errlen)
{
    return rk_vm_pcall(vm, vm->L, nargs, nresults, lim, err, errlen);
}

int rk_vm_pcall(rk_vm_t *vm, lua_State *L, int nargs, int nresults, const rk_vm_limits_t *lim, char *err, size_t errlen)
{
    int base = lua_gettop(L) - nargs;   /* index of the function */
    /* Limits nest: an inner call (a rule inside a request) gets the tighter
     * of its own and what is left of the outer call's, and the outer ones
     * come back when it returns. */
    uint64_t outer_deadline = vm->deadline;
    int64_t outer_instr = vm->instr_left;
    size_t outer_cap = vm->call_mem_cap;
    uint64_t dl = lim->timeout_ms > 0 ? rk_now_ns() + (uint64_t)lim->timeout_ms * 1000000ULL : 0;
    if (outer_deadline && (!dl || outer_deadline < dl)) dl = outer_deadline;
    vm->deadline = dl;
    vm->instr_left = lim->max_instructions > 0 ? lim->max_instructions : -1;
    if (lim->max_memory) {
        size_t cap = vm->mem + lim->max_memory;
        vm->call_mem_cap = outer_cap && outer_cap < cap ? outer_cap : cap;
    }
    vm->timed_out = 0;
    lua_State *outer_running = vm->running;
    vm->running = L;
    rk_watchdog_set(vm->deadline, L);
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    if (vm->deadline || vm->instr_left >= 0) set_hook(L, HOOK_EVERY);
    size_t mem_before = vm->mem;
    int rc = lua_pcall(L, nargs, nresults, base);
    vm->running = outer_running;
    rk_watchdog_set(outer_deadline, outer_running);
    int why = vm->timed_out;
    int hit_cap = vm->call_mem_cap && rc == LUA_ERRMEM;
    vm->deadline = outer_deadline;
    vm->instr_left = outer_instr;
    vm->call_mem_cap = outer_cap;
    vm->timed_out = 0;
    if (outer_deadline || outer_instr >= 0) set_hook(L, HOOK_EVERY);
    else set_hook(L, 0);
    (void)mem_before;
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", m ? m : "(no message)");
        lua_settop(L, base - 1);
        if (why) return why;
        if (hit_cap || rc == LUA_ERRMEM || (m && strstr(m, "not enough memory"))) return RK_VM_MEMORY;
        return -1;
    }
    lua_remove(L, base);
    return 0;
}

/* package.searchers entry: serves `require` from the snapshot, so a state
 * never reads a file that changed after its snapshot was taken. */
static int snapshot_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    rk_vm_t *vm = vm_of(L);
    const rk_script_file_t *f = rk_snapshot_find_module(vm->scripts, name);
    if (!f) {
        lua_pushfstring(L, "no script '%s' in %s", name, vm->scripts->root);
        return 1;
    }
    lua_pushfstring(L, "@%s/%s", vm->scripts->root, f->path);
    if (luaL_loadbufferx(L, f->data, f->len, lua_tostring(L, -1), "t") != LUA_OK)
        return lua_error(L);
    lua_insert(L, -2);  /* loader, then its extra argument: the chunk name */
    return 2;
}

static void install_searcher(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    /* Insert at position 2: after package.preload, before the file searchers. */
    lua_Integer n = (lua_Integer)luaL_len(L, -1);
    for (lua_Integer i = n; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, snapshot_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 1);
    /* Lua modules come only from the snapshot; C modules (cjson) from the system. */
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

void rk_vm_preload(lua_State *L)
{
    static const luaL_Reg mods[] = {
        { "riskd", luaopen_riskd },
#define RK_MOD(name, in_umbrella) { "riskd." #name, luaopen_riskd_##name },
        RK_LUA_MODULES(RK_MOD)
#undef RK_MOD
        { NULL, NULL },
    };
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *m = mods; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}

const rk_vm_host_t *rk_vm_host(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
    const rk_vm_host_t *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

rk_vm_t *rk_vm_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &VM_KEY);
    rk_vm_t *vm = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return vm;
}

/* Lua's pattern functions run inside C where no hook fires: the state's
 * `string` table gets the budgeted ones (l_strings.c). Strings' methods come
 * from a copy without `dump`, so ("").dump reaches no bytecode. */
static void budget_strings(lua_State *L)
{
    lua_getglobal(L, "string");
    luaL_requiref(L, "riskd.strings", luaopen_riskd_strings, 0);
    lua_pushnil(L);
    while (lua_next(L, -2)) {           /* string[k] = strings[k] */
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -5);
    }
    lua_pop(L, 1);
    lua_newtable(L);                    /* the methods: string without dump */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 4);
}

/* Compiles every file of the snapshot so that a syntax error in any of them,
 * required yet or not, rejects the set with its file and line. */
static int compile_all(rk_vm_t *vm, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    for (size_t i = 0; i < vm->scripts->n; i++) {
        const rk_script_file_t *f = &vm->scripts->files[i];
        char name[1100];
        snprintf(name, sizeof name, "@%s/%s", vm->scripts->root, f->path);
        if (luaL_loadbufferx(L, f->data, f->len, name, "t") != LUA_OK) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

rk_vm_t *rk_vm_new(const rk_vm_opts_t *o, char *err, size_t errlen)
{
    rk_vm_t *vm = calloc(1, sizeof *vm);
    if (!vm) { snprintf(err, errlen, "out of memory"); return NULL; }
    vm->mem_limit = o->memory_limit;
    vm->host = o->host;
    vm->entry_ref = LUA_NOREF;
    vm->instr_left = -1;
    vm->scripts = rk_snapshot_retain(o->scripts);
    vm->rules = rk_snapshot_retain(o->rules);
    vm->generation = o->generation;
    vm->model = rk_iforest_retain(o->model);
    vm->L = lua_newstate(vm_alloc, vm);
    if (!vm->L) { snprintf(err, errlen, "cannot create a Lua state"); goto fail; }
    *(rk_vm_t **)lua_getextraspace(vm->L) = vm;
#ifdef RK_LUA_COVERAGE
    static int cov_registered;
    if (!cov_registered++) atexit(cov_save);
    set_hook(vm->L, 0);
#endif
    lua_State *L = vm->L;

    luaL_openlibs(L);
    budget_strings(L);
    lua_pushlightuserdata(L, (void *)o->host);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
    lua_pushlightuserdata(L, vm);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &VM_KEY);
    rk_vm_preload(L);
    install_searcher(L);
    if (compile_all(vm, err, errlen) < 0) goto fail;
    if (rk_sandbox_load_rules(vm, o->rules, err, errlen) < 0) goto fail;

    lua_getglobal(L, "require");
    lua_pushstring(L, o->entry);
    if (rk_vm_call(vm, 1, 1, o->load_timeout_ms, err, errlen) != 0) goto fail;
    if (!lua_istable(L, -1) && !lua_isfunction(L, -1)) {
        snprintf(err, errlen, "module '%s' must return a table or a function, not %s",
                 o->entry, luaL_typename(L, -1));
        goto fail;
    }
    vm->entry_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_gc(L, LUA_GCCOLLECT);
    /* Requests make many small objects that die young, and little else:
     * the generational mode collects them for about a third less work per
     * request than the incremental one (measured with callgrind, bench/). */
    lua_gc(L, LUA_GCGEN, 0, 0);
    return vm;
fail:
    rk_vm_free(vm);
    return NULL;
}

void rk_vm_free(rk_vm_t *vm)
{
    if (!vm) return;
    if (vm->holds > 0) { vm->doomed = 1; return; }   /* suspended requests still run here */
    if (vm->L) lua_close(vm->L);
    rk_snapshot_release(vm->scripts);
    rk_snapshot_release(vm->rules);
    rk_iforest_release(vm->model);
    free(vm);
}

void rk_vm_idle(rk_vm_t *vm)
{
    if (vm->mem_limit && vm->mem > vm->mem_limit / 2) lua_gc(vm->L, LUA_GCCOLLECT);
}

lua_State *rk_vm_state(rk_vm_t *vm) { return vm->L; }
const rk_snapshot_t *rk_vm_scripts(const rk_vm_t *vm) { return vm->scripts; }
const rk_snapshot_t *rk_vm_rules(const rk_vm_t *vm) { return vm->rules; }
uint64_t rk_vm_generation(const rk_vm_t *vm) { return vm->generation; }
rk_iforest_t *rk_vm_model(const rk_vm_t *vm) { return vm->model; }
size_t rk_vm_memory(const rk_vm_t *vm) { return vm->mem; }

void rk_vm_push_entry(rk_vm_t *vm)
{
    lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vm->entry_ref);
}

/* ---- requests as coroutines ------------------------------------------------ */

void rk_vm_hold(rk_vm_t *vm) { vm->holds++; }

void rk_vm_release(rk_vm_t *vm)
{
    if (--vm->holds == 0 && vm->doomed) rk_vm_free(vm);
}

/* Protected: [co-as-value, message] -> traceback of the dead coroutine. */
static int co_traceback(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    const char *msg = lua_tostring(L, 2);
    luaL_traceback(L, co, msg ? msg : "(error object is not a string)", 0);
    return 1;
}

int rk_vm_resume(rk_vm_t *vm, lua_State *co, int nargs, int *nres, uint64_t budget_ns, char *err, size_t errlen)
{
    lua_State *outer = vm->co;
    vm->co = co;
    vm->awaited = NULL;
    vm->deadline = rk_now_ns() + (budget_ns ? budget_ns : 1);
    vm->instr_left = -1;
    vm->timed_out = 0;
    lua_State *outer_running = vm->running;
    vm->running = co;
    rk_watchdog_set(vm->deadline, co);
    set_hook(co, HOOK_EVERY);
    int rc = lua_resume(co, vm->L, nargs, nres);
    vm->running = outer_running;
    rk_watchdog_set(0, outer_running);
    int why = vm->timed_out;
    vm->deadline = 0;
    vm->timed_out = 0;
    vm->co = outer;
    if (rc == LUA_OK) { set_hook(co, 0); return RK_VM_DONE; }
    if (rc == LUA_YIELD) {
        set_hook(co, 0);
        if (vm->awaited) { lua_pop(co, *nres); return RK_VM_WAITING; }
        snprintf(err, errlen, "a handler may not yield (coroutine.yield outside a coroutine of its own)");
        return RK_VM_ERROR;
    }
    /* Dead: the error is on top of co's stack. Add co's traceback, built
     * on the main state under protection (it allocates). */
    const char *m = lua_tostring(co, -1);
    snprintf(err, errlen, "%s", m ? m : "(no message)");
    int top = lua_gettop(vm->L);
    if (lua_checkstack(vm->L, 3)) {
        lua_pushcfunction(vm->L, co_traceback);
        lua_pushthread(co);
        lua_xmove(co, vm->L, 1);
        lua_pushstring(vm->L, err);
        if (lua_pcall(vm->L, 2, 1, 0) == LUA_OK) snprintf(err, errlen, "%s", lua_tostring(vm->L, -1));
    }
    lua_settop(vm->L, top);
    if (why) return why;
    if (rc == LUA_ERRMEM || (m && strstr(m, "not enough memory"))) return RK_VM_MEMORY;
    return RK_VM_ERROR;
}

int rk_vm_can_await(lua_State *L, rk_vm_queue q)
{
    rk_vm_t *vm = vm_of(L);
    if (!vm || vm->L == L || vm->co != L || !lua_isyieldable(L) || !vm->host) return 0;
    if (q == RK_VM_TIMER) return vm->host->pool != NULL;   /* a server's worker: its loop keeps the time */
    return q == RK_VM_WRITER ? vm->host->writer != NULL : vm->host->pool != NULL;
}

int rk_vm_await(lua_State *L, rk_task_t *t, rk_vm_queue q, lua_KFunction k)
{
    rk_vm_t *vm = vm_of(L);
    vm->awaited = t;
    vm->awaited_q = q;
    return lua_yieldk(L, 0, (lua_KContext)t, k);
}

rk_task_t *rk_vm_awaited(rk_vm_t *vm, rk_vm_queue *q)
{
    rk_task_t *t = vm->awaited;
    vm->awaited = NULL;
    if (q) *q = vm->awaited_q;
    return t;
}
