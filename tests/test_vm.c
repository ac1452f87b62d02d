/* test_vm.c — Lua states from snapshots: validation, the call gate's time
 * budget, the memory cap, and require served from the snapshot. */
#include "test_util.h"
#include "vm.h"

#include <lauxlib.h>

static rk_vm_t *make(const char *dir, size_t mem, char *err, size_t errlen)
{
    rk_snapshot_t *s = rk_snapshot_load(dir, err, errlen);
    assert_non_null(s);
    rk_vm_opts_t o = { s, mem, 500, NULL, "main", NULL, 7, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, errlen);
    rk_snapshot_release(s);   /* the vm holds its own reference */
    return vm;
}

/* Calls entry[name]() and leaves its results. */
static int call(rk_vm_t *vm, const char *name, int nres, int timeout_ms, char *err, size_t errlen)
{
    lua_State *L = rk_vm_state(vm);
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    return rk_vm_call(vm, 0, nres, timeout_ms, err, errlen);
}

static const char *MAIN =
    "local M = {}\n"
    "function M.add() return require('lib.util').add(2, 3) end\n"
    "function M.loop() while true do end end\n"
    "function M.loop_pcall() while true do pcall(function() while true do end end) end end\n"
    "function M.hog() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end end\n"
    "function M.boom() error('kaboom') end\n"
    "function M.big() return #string.rep('x', 3 << 20) end\n"
    "function M.later() return require('lib.later').v end\n"
    "function M.gen() return require('riskd.engine').generation() end\n"
    "function M.net() return require('riskd.net').parse_ip('::ffff:10.0.0.1') end\n"
    "function M.io() return require('lib.fromdisk') end\n"
    "return M\n";

static void loads_and_calls(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[2048];
    write_file(d, "main.lua", MAIN);
    write_file(d, "lib/util.lua", "return { add = function(a, b) return a + b end }");
    write_file(d, "lib/later.lua", "return { v = 'snapshot' }");
    rk_vm_t *vm = make(d, 0, err, sizeof err);
    assert_non_null(vm);
    lua_State *L = rk_vm_state(vm);
    int top = lua_gettop(L);
    assert_int_equal(call(vm, "add", 1, 1000, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(L, -1), 5);
    lua_settop(L, top);

    /* A file changed on disk after the snapshot is not seen by require. */
    write_file(d, "lib/later.lua", "return { v = 'disk' }");
    assert_int_equal(call(vm, "later", 1, 1000, err, sizeof err), 0);
    assert_string_equal(lua_tostring(L, -1), "snapshot");
    lua_settop(L, top);

    /* Lua files outside the snapshot are not reachable through package.path. */
    assert_int_equal(call(vm, "io", 1, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "lib.fromdisk"));

    assert_int_equal(call(vm, "gen", 1, 1000, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(L, -1), 7);
    lua_settop(L, top);
    assert_int_equal(call(vm, "net", 2, 1000, err, sizeof err), 0);
    assert_string_equal(lua_tostring(L, -2), "10.0.0.1");
    assert_string_equal(lua_tostring(L, -1), "ipv4");
    lua_settop(L, top);

    assert_int_equal(call(vm, "boom", 0, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "main.lua:6: kaboom"));
    assert_non_null(strstr(err, "stack traceback"));
    assert_int_equal(lua_gettop(L), top);
    rk_vm_free(vm);
    rm_tree(d);
}

static void time_budget_cannot_be_swallowed(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[2048];
    write_file(d, "main.lua", MAIN);
    rk_vm_t *vm = make(d, 0, err, sizeof err);
    assert_non_null(vm);
    uint64_t t0 = rk_now_ns();
    assert_int_equal(call(vm, "loop", 0, 50, err, sizeof err), -2);
    assert_non_null(strstr(err, "time budget exceeded"));
    assert_int_equal(call(vm, "loop_pcall", 0, 50, err, sizeof err), -2);
    double ms = (double)(rk_now_ns() - t0) / 1e6;
    assert_true(ms < 2000);   /* bounded, not forever: a correctness bound, not a benchmark */
    /* The state still works after a stop. */
    assert_int_equal(call(vm, "boom", 0, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "kaboom"));
    rk_vm_free(vm);
    rm_tree(d);
}

static void memory_cap(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[2048];
    write_file(d, "main.lua", MAIN);
    write_file(d, "lib/util.lua", "return { add = function(a, b) return a + b end }");
    rk_vm_t *vm = make(d, 8u << 20, err, sizeof err);
    assert_non_null(vm);
    assert_int_equal(call(vm, "hog", 0, 10000, err, sizeof err), -1);
    assert_non_null(strstr(err, "not enough memory"));
    /* The next call may need most of the cap: the hog's garbage must not
     * stand in its way once the server has called rk_vm_idle. */
    rk_vm_idle(vm);
    assert_int_equal(call(vm, "big", 1, 1000, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(rk_vm_state(vm), -1), 3 << 20);
    lua_settop(rk_vm_state(vm), 0);
    lua_gc(rk_vm_state(vm), LUA_GCCOLLECT);
    assert_true(rk_vm_memory(vm) < (2u << 20));
    assert_int_equal(call(vm, "add", 1, 1000, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(rk_vm_state(vm), -1), 5);
    rk_vm_free(vm);
    rm_tree(d);
}

/* ---- requests as coroutines ---- */

typedef struct { rk_task_t base; int value; } num_task;
static void num_release(rk_task_t *t) { free(t); }

/* wait(v): suspends on a task; after the wait returns v * 10, or "timeout". */
static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    num_task *t = (num_task *)ctx;
    if (!lua_toboolean(L, -1)) { lua_pushliteral(L, "timeout"); return 1; }
    lua_pushinteger(L, t->value * 10);
    free(t);
    return 1;
}

static int l_wait(lua_State *L)
{
    lua_Integer v = luaL_checkinteger(L, 1);
    if (!rk_vm_can_await(L, RK_VM_POOL)) { lua_pushliteral(L, "inline"); return 1; }
    num_task *t = calloc(1, sizeof *t);
    t->value = (int)v;
    t->base.release = num_release;
    return rk_vm_await(L, &t->base, RK_VM_POOL, wait_k);
}

static lua_State *spawn(rk_vm_t *vm, const char *fn, int *ref)
{
    lua_State *L = rk_vm_state(vm);
    lua_State *co = lua_newthread(L);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_xmove(L, co, 1);
    return co;
}

static void coroutines_wait_and_resume(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[2048];
    write_file(d, "main.lua",
        "local M = {}\n"
        "function M.twice() local a = wait(1); local ok, b = pcall(wait, 2); return a + b end\n"
        "function M.yields() coroutine.yield() end\n"
        "function M.fails() wait(1); error('after the wait') end\n"
        "function M.inner() return table.concat({ wait(3) }), coroutine.wrap(function() return wait(4) end)() end\n"
        "function M.late() return wait(5) end\n"
        "return M\n");
    rk_snapshot_t *sc = rk_snapshot_load(d, err, sizeof err);
    rk_vm_host_t host;
    memset(&host, 0, sizeof host);
    host.pool = (rk_pool_t *)&host;   /* only tested for NULL: the test plays the pool */
    rk_vm_opts_t o = { sc, 0, 500, &host, "main", NULL, 1, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, sizeof err);
    rk_snapshot_release(sc);
    assert_non_null(vm);
    lua_State *L = rk_vm_state(vm);
    lua_register(L, "wait", l_wait);
    int top = lua_gettop(L), ref, nres;
    uint64_t budget = 1000000000ULL;

    /* Two waits, one inside pcall: suspended twice, then the sum. */
    lua_State *co = spawn(vm, "twice", &ref);
    assert_int_equal(rk_vm_resume(vm, co, 0, &nres, budget, err, sizeof err), RK_VM_WAITING);
    num_task *t = (num_task *)rk_vm_awaited(vm, NULL);
    assert_int_equal(t->value, 1);
    lua_pushboolean(co, 1);
    assert_int_equal(rk_vm_resume(vm, co, 1, &nres, budget, err, sizeof err), RK_VM_WAITING);
    rk_vm_queue q;
    t = (num_task *)rk_vm_awaited(vm, &q);
    assert_int_equal(q, RK_VM_POOL);
    assert_int_equal(t->value, 2);
    lua_pushboolean(co, 1);
    assert_int_equal(rk_vm_resume(vm, co, 1, &nres, budget, err, sizeof err), RK_VM_DONE);
    assert_int_equal(nres, 1);
    assert_int_equal(lua_tointeger(co, -1), 30);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);

    /* A handler may not yield by itself. */
    co = spawn(vm, "yields", &ref);
    assert_int_equal(rk_vm_resume(vm, co, 0, &nres, budget, err, sizeof err), RK_VM_ERROR);
    assert_non_null(strstr(err, "may not yield"));
    luaL_unref(L, LUA_REGISTRYINDEX, ref);

    /* An error after a wait: message and the coroutine's traceback. */
    co = spawn(vm, "fails", &ref);
    assert_int_equal(rk_vm_resume(vm, co, 0, &nres, budget, err, sizeof err), RK_VM_WAITING);
    free(rk_vm_awaited(vm, NULL));
    lua_pushboolean(co, 0);   /* timed out: wait_k does not touch the task */
    assert_int_equal(rk_vm_resume(vm, co, 1, &nres, budget, err, sizeof err), RK_VM_ERROR);
    assert_non_null(strstr(err, "after the wait"));
    assert_non_null(strstr(err, "stack traceback"));
    luaL_unref(L, LUA_REGISTRYINDEX, ref);

    /* Where waiting is impossible (a C boundary, a coroutine of the
     * script's own), the binding runs inline. */
    co = spawn(vm, "inner", &ref);
    assert_int_equal(rk_vm_resume(vm, co, 0, &nres, budget, err, sizeof err), RK_VM_WAITING);
    free(rk_vm_awaited(vm, NULL));
    lua_pushboolean(co, 0);
    assert_int_equal(rk_vm_resume(vm, co, 1, &nres, budget, err, sizeof err), RK_VM_DONE);
    assert_string_equal(lua_tostring(co, -2), "timeout");
    assert_string_equal(lua_tostring(co, -1), "inline");
    luaL_unref(L, LUA_REGISTRYINDEX, ref);

    /* Outside a coroutine (a plain call) the binding runs inline too. */
    assert_int_equal(call(vm, "late", 1, 1000, err, sizeof err), 0);
    assert_string_equal(lua_tostring(L, -1), "inline");
    lua_settop(L, top);

    /* A held state outlives rk_vm_free until the last release. */
    co = spawn(vm, "late", &ref);
    assert_int_equal(rk_vm_resume(vm, co, 0, &nres, budget, err, sizeof err), RK_VM_WAITING);
    rk_vm_hold(vm);
    rk_vm_free(vm);   /* deferred: the request still runs here */
    free(rk_vm_awaited(vm, NULL));
    assert_null(rk_vm_awaited(vm, NULL));   /* taken once only */
    lua_pushboolean(co, 0);
    assert_int_equal(rk_vm_resume(vm, co, 1, &nres, budget, err, sizeof err), RK_VM_DONE);
    assert_string_equal(lua_tostring(co, -1), "timeout");
    rk_vm_release(vm);   /* frees it (ASan would see a leak otherwise) */
    rm_tree(d);
}

static void bad_sets_are_rejected(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[2048];
    /* A syntax error in any file, even one nobody requires, with file and line. */
    write_file(d, "main.lua", "return {}");
    write_file(d, "api/broken.lua", "local x = \n\n  = 2");
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "api/broken.lua:3:"));
    write_file(d, "api/broken.lua", "return 1");

    write_file(d, "main.lua", "error('at load')");
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "main.lua:1: at load"));

    write_file(d, "main.lua", "return 42");
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "must return a table or a function"));

    write_file(d, "main.lua", "while true do end");
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "time budget exceeded"));

    /* Bytecode is refused: scripts are text. */
    write_file(d, "main.lua", "\x1bLua");
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "binary"));

    unlink(strcat(strcpy(err, d), "/main.lua"));
    assert_null(make(d, 0, err, sizeof err));
    assert_non_null(strstr(err, "module 'main' not found"));
    rm_tree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_and_calls),
        cmocka_unit_test(time_budget_cannot_be_swallowed),
        cmocka_unit_test(memory_cap),
        cmocka_unit_test(bad_sets_are_rejected),
        cmocka_unit_test(coroutines_wait_and_resume),
    };
    return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
