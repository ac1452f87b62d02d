/* fuzz_request.c — libFuzzer target: a request body on its way to the
 * features, as POST /api/login/analyze takes it: the strict JSON check
 * (json_check.c), lua-cjson's decode with the dispatcher's settings, the
 * validation of lib/analyze.lua, and feature extraction (features.c) with
 * and without a profile.
 *
 * The oracle, besides the sanitizers: none of these may raise. A body is
 * either refused (invalid JSON, a field named as bad) or turned into
 * features; a Lua error on the way is a bug, and the harness aborts on it.
 * Run from the repository root (it loads scripts/). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "vm_snapshot.h"
#include "vm.h"

static rk_vm_t *vm;
static int fn_ref;

static const char *HARNESS =
    "local cjson = require('cjson').new()\n"
    "cjson.decode_max_depth(64)\n"
    "cjson.decode_invalid_numbers(false)\n"
    "local analyze = require('lib.analyze')\n"
    "local time = require('lib.time')\n"
    "local features = require('riskd.features')\n"
    "local db = assert(require('riskd.store').open('sqlite::memory:'))\n"
    "for i = 1, 30 do\n"
    "  assert(db:record({ user_id = 'alice', ip_address = '192.0.2.' .. (i % 4), ts = 1700000000000 + i * 3600000,\n"
    "    country = i % 7 == 0 and 'DE' or 'FR', city = 'Paris', latitude = 48.85, longitude = 2.35,\n"
    "    device_id = 'laptop' .. (i % 2), user_agent = 'Firefox/120', success = i % 5 ~= 0 }))\n"
    "end\n"
    "local profile = assert(db:profile('alice'))\n"
    "return function(s)\n"
    "  local ok, body = pcall(cjson.decode, s)\n"
    "  if not ok then return end\n"
    "  local a = analyze.validate(body, 1700000000000, time.parse)\n"
    "  if not a then return end\n"
    "  features.extract(a, nil, { failures = 0, ip_users = 0 })\n"
    "  features.extract(a, profile, { failures = 3, ip_users = 2 })\n"
    "end\n";

static void setup(void)
{
    char err[2048];
    rk_snapshot_t *s = rk_snapshot_load("scripts", err, sizeof err);
    if (!s) { fprintf(stderr, "fuzz_request: %s (run from the repository root)\n", err); abort(); }
    rk_vm_opts_t o = { s, 256u << 20, 2000, NULL, "lib.analyze", NULL, 1, NULL };
    vm = rk_vm_new(&o, err, sizeof err);
    rk_snapshot_release(s);
    if (!vm) { fprintf(stderr, "fuzz_request: %s\n", err); abort(); }
    lua_State *L = rk_vm_state(vm);
    if (luaL_loadstring(L, HARNESS) != LUA_OK || rk_vm_call(vm, 0, 1, 5000, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_request: harness: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : err);
        abort();
    }
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vm) setup();
    char err[2048];
    if (rk_json_check((const char *)data, size, err, sizeof err) < 0) return 0;   /* refused: a 400 */
    lua_State *L = rk_vm_state(vm);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
    lua_pushlstring(L, (const char *)data, size);
    int rc = rk_vm_call(vm, 1, 0, 1000, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "fuzz_request: the pipeline raised on a body that passed the JSON check:\n%s\n", err);
        abort();
    }
    rk_vm_idle(vm);
    return 0;
}
