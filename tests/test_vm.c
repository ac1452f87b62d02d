/* test_vm.c — Lua states from snapshots: validation, the call gate's time
 * budget, the memory cap, and require served from the snapshot. */
#include "test_util.h"
#include "vm.h"

#include <lauxlib.h>

static rk_vm_t *make(const char *dir, size_t mem, char *err, size_t errlen)
{
    rk_scripts_t *s = rk_scripts_load(dir, err, errlen);
    assert_non_null(s);
    rk_vm_opts_t o = { s, mem, 500, NULL, "main", NULL, 7, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, errlen);
    rk_scripts_release(s);   /* the vm holds its own reference */
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
    };
    return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
