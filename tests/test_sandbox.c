/* test_sandbox.c — risk rules in their sandbox: results, every way a rule
 * can misbehave, what a rule cannot reach, and rejection of bad rule sets. */
#include "test_util.h"
#include "sandbox.h"

#include <lauxlib.h>

static char *sdir, *rdir;

static rk_vm_t *make(char *err, size_t errlen)
{
    rk_snapshot_t *s = rk_snapshot_load(sdir, err, errlen);
    rk_snapshot_t *r = rk_snapshot_load(rdir, err, errlen);
    assert_true(s && r);
    rk_vm_opts_t o = { s, 64u << 20, 2000, NULL, "main", r, 3, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, errlen);
    rk_snapshot_release(s);
    rk_snapshot_release(r);
    return vm;
}

static const char *MAIN =
    "local rules = require('riskd.rules')\n"
    "local M = {}\n"
    "function M.run(ctx)\n"
    "  local t0 = os.clock()\n"
    "  local res, errs = rules.evaluate(ctx)\n"
    "  -- the outer call goes on normally after a stopped rule\n"
    "  local n = 0 for i = 1, 100000 do n = n + i end\n"
    "  return res, errs, n, os.clock() - t0\n"
    "end\n"
    "function M.list() return rules.list() end\n"
    "function M.config() return rules.config() end\n"
    "return M\n";

static void setup_dirs(void)
{
    sdir = tmp_dir();
    rdir = tmp_dir();
    write_file(sdir, "main.lua", MAIN);
    write_file(rdir, "config.lua", "return { new_device_score = 40 }");
    write_file(rdir, "a_new_device.lua",
        "return { name = 'new_device', description = 'a device the user never used',\n"
        "  evaluate = function(ctx) if ctx.features.new_device == 1 then\n"
        "    return config.new_device_score, 'new device' end end }");
    write_file(rdir, "b_quiet.lua", "return { name = 'quiet', evaluate = function() return 0 end }");
    write_file(rdir, "c_big.lua", "return { name = 'big', evaluate = function() return 250, 'capped' end }");
}

static void evaluates_and_survives_bad_rules(void **st)
{
    (void)st;
    char err[2048];
    setup_dirs();
    write_file(rdir, "d_errors.lua", "return { name = 'errors', evaluate = function(ctx) return ctx.nothing.deeper end }");
    write_file(rdir, "e_loops.lua", "return { name = 'loops', evaluate = function() while true do end end }");
    write_file(rdir, "f_swallows.lua",
        "return { name = 'swallows', evaluate = function() while true do pcall(function() while true do end end) end end }");
    write_file(rdir, "g_hogs.lua",
        "return { name = 'hogs', evaluate = function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1 << 16) .. i end end }");
    write_file(rdir, "h_badscore.lua", "return { name = 'badscore', evaluate = function() return 'high' end }");
    write_file(rdir, "i_escape.lua",
        "return { name = 'escape', evaluate = function() return io.open('/etc/passwd') end }");
    write_file(rdir, "j_global.lua", "return { name = 'global', evaluate = function() leaked = 1 end }");
    write_file(rdir, "k_os.lua", "return { name = 'os', evaluate = function() return os.execute('true') end }");
    /* What the review found reachable: each is now an error of that rule. */
    write_file(rdir, "l_config.lua", "return { name = 'config', evaluate = function() config.new_device_score = 0 end }");
    write_file(rdir, "m_ctx.lua", "return { name = 'ctx', evaluate = function(ctx) ctx.features.new_device = 0 end }");
    write_file(rdir, "n_dump.lua", "return { name = 'dump', evaluate = function() return #(\"\").dump(error) end }");
    write_file(rdir, "o_utf8.lua", "return { name = 'utf8', evaluate = function() utf8.len = nil; return utf8.char(65) end }");
    write_file(rdir, "p_pattern.lua",
        "return { name = 'pattern', evaluate = function() local s = string.rep(' ', 4000) .. 'x'\n"
        "  return #(s:match('^%s*(.-)%s*<([^>]*)>%s*$') or '') end }");
    rk_vm_t *vm = make(err, sizeof err);
    if (!vm) fail_msg("%s", err);
    lua_State *L = rk_vm_state(vm);
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    assert_int_equal(luaL_dostring(L, "return { features = { new_device = 1 } }"), LUA_OK);
    int rc = rk_vm_call(vm, 1, 4, 10000, err, sizeof err);
    if (rc) fail_msg("run: %s", err);
    /* results */
    assert_int_equal(luaL_len(L, -4), 2);
    lua_geti(L, -4, 1);
    lua_getfield(L, -1, "name");
    assert_string_equal(lua_tostring(L, -1), "new_device");
    lua_getfield(L, -2, "score");
    assert_true(lua_tonumber(L, -1) == 40);
    lua_getfield(L, -3, "reason");
    assert_string_equal(lua_tostring(L, -1), "new device");
    lua_pop(L, 4);
    lua_geti(L, -4, 2);
    lua_getfield(L, -1, "score");
    assert_true(lua_tonumber(L, -1) == 100);   /* capped */
    lua_pop(L, 2);
    /* errors: one per bad rule, each with the reason */
    assert_int_equal(luaL_len(L, -3), 13);
    const char *want[][2] = {
        { "errors", "attempt to index a nil value" }, { "loops", "stopped: " }, { "swallows", "stopped: " },
        { "hogs", "stopped: memory budget exceeded" }, { "badscore", "not a number" },
        { "escape", "unknown global 'io'" }, { "global", "cannot set globals" }, { "os", "attempt to call a nil value" },
        { "config", "read-only" }, { "ctx", "read-only" }, { "dump", "attempt to call a nil value" },
        { "utf8", "not a number" }, { "pattern", "stopped: time budget exceeded" },
    };
    for (int i = 0; i < 13; i++) {
        lua_geti(L, -3, i + 1);
        lua_getfield(L, -1, "rule");
        lua_getfield(L, -2, "error");
        if (strcmp(lua_tostring(L, -2), want[i][0]) || !strstr(lua_tostring(L, -1), want[i][1]))
            fail_msg("error %d: %s: %s (wanted %s: %s)", i, lua_tostring(L, -2), lua_tostring(L, -1), want[i][0], want[i][1]);
        lua_pop(L, 3);
    }
    assert_true(lua_tointeger(L, -2) == 5000050000LL);   /* the outer call finished its work */
    double secs = lua_tonumber(L, -1);
    assert_true(secs < 2.0);                             /* bounded: each bad rule was stopped */
    lua_settop(L, 0);
    /* Counters per rule */
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, "list");
    lua_remove(L, -2);
    assert_int_equal(rk_vm_call(vm, 0, 1, 1000, err, sizeof err), 0);
    assert_int_equal(luaL_len(L, -1), 16);
    lua_geti(L, -1, 1);
    lua_getfield(L, -1, "hits");
    assert_int_equal(lua_tointeger(L, -1), 1);
    lua_getfield(L, -2, "description");
    assert_string_equal(lua_tostring(L, -1), "a device the user never used");
    lua_pop(L, 3);
    lua_geti(L, -1, 4);
    lua_getfield(L, -1, "errors");
    assert_int_equal(lua_tointeger(L, -1), 1);
    lua_getfield(L, -2, "last_error");
    assert_non_null(strstr(lua_tostring(L, -1), "attempt to index"));
    lua_settop(L, 0);
    /* Nothing a rule tried changed what the host or the next request sees. */
    assert_int_equal(luaL_dostring(L, "return require('riskd.rules').config().new_device_score, utf8.len('ab'),"
                                      " type(string.dump), ('').dump"), LUA_OK);
    assert_int_equal(lua_tointeger(L, -4), 40);
    assert_int_equal(lua_tointeger(L, -3), 2);
    assert_string_equal(lua_tostring(L, -2), "function");
    assert_true(lua_isnil(L, -1));
    lua_settop(L, 0);
    rk_vm_free(vm);
    rm_tree(sdir);
    rm_tree(rdir);
}

/* A file that does not load is left out with why (its file and line); the
 * other files load and run. */
static void bad_files_are_left_out(void **st)
{
    (void)st;
    char err[2048];
    struct { const char *file, *text, *msg; } cases[] = {
        { "x.lua", "return { name = 'x', evaluate = function() end", "x.lua:1:" },
        { "x.lua", "return 42", "must return a table" },
        { "x.lua", "return { evaluate = function() end }", "needs a string 'name'" },
        { "x.lua", "return { name = 'x' }", "needs a function 'evaluate'" },
        { "x.lua", "return { name = 'new_device', evaluate = function() end }", "name of another rule" },
        { "x.lua", "require('os')", "no rule library 'os'" },   /* require reads rules/lib/ only */
        { "x.lua", "return { name = 'x', family = {}, evaluate = function() end }", "'family' that is not a string" },
        { "x.lua", "while true do end", "budget exceeded" },
        { "config.lua", "return 1", "config.lua must return a table" },
        { "x.lua", "\x1bLua", "binary" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup_dirs();
        write_file(rdir, cases[i].file, cases[i].text);
        rk_vm_t *vm = make(err, sizeof err);
        if (!vm) fail_msg("case %zu: the set was refused: %s", i, err);
        assert_int_equal(rk_sandbox_broken_count(vm), 1);
        const char *why, *path = rk_sandbox_broken_at(vm, 0, &why);
        if (strcmp(path, cases[i].file) != 0 || !strstr(why, cases[i].msg)) fail_msg("case %zu: %s: %s", i, path, why);
        /* the good files run */
        lua_State *L = rk_vm_state(vm);
        rk_vm_push_entry(vm);
        lua_getfield(L, -1, "list");
        lua_remove(L, -2);
        assert_int_equal(rk_vm_call(vm, 0, 1, 1000, err, sizeof err), 0);
        assert_int_equal(luaL_len(L, -1), 3);   /* new_device, quiet, big */
        lua_settop(L, 0);
        rk_vm_free(vm);
        rm_tree(sdir);
        rm_tree(rdir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evaluates_and_survives_bad_rules),
        cmocka_unit_test(bad_files_are_left_out),
    };
    return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
