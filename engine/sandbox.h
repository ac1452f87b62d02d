/* sandbox.h — risk rules: Lua files from rules/, each run in its own
 * sandboxed environment, evaluated one by one under a time, instruction and
 * memory budget. A rule that errors, loops or allocates without end is
 * stopped, skipped and reported; the other rules and the request go on.
 */
#ifndef RK_SANDBOX_H
#define RK_SANDBOX_H

#include <lua.h>

#include "scripts.h"
#include "vm.h"

#define RK_RULE_TIMEOUT_MS 50
#define RK_RULE_MAX_INSTRUCTIONS 5000000L
#define RK_RULE_MAX_MEMORY (16u << 20)

/* Loads every rule of the snapshot into the vm's state (config.lua, if
 * present, is the rules' shared configuration, not a rule). Any file that
 * fails to compile or to return a valid rule rejects the whole set, with
 * its file and line in err. */
int rk_sandbox_load_rules(rk_vm_t *vm, const rk_scripts_t *rules, char *err, size_t errlen);

/* `require "riskd.rules"`: rules.evaluate(ctx [, set]), rules.list([set]),
 * rules.config([set]); set is "login" (the default: the folder's top) or
 * "phishing" (its phishing/ folder). */
int luaopen_riskd_rules(lua_State *L);

#endif
