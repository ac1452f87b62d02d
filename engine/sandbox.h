/* sandbox.h — risk rules: Lua files from rules/, each run in its own
 * sandboxed environment, evaluated one by one under a time, instruction and
 * memory budget. A rule that errors, loops or allocates without end is
 * stopped, skipped and reported; the other rules and the request go on.
 */
#ifndef RK_SANDBOX_H
#define RK_SANDBOX_H

#include <lua.h>

#include "vm_snapshot.h"
#include "vm.h"

#define RK_RULE_TIMEOUT_MS 50
#define RK_RULE_MAX_INSTRUCTIONS 5000000L
#define RK_RULE_MAX_MEMORY (16u << 20)
/* a file's top level, run once when it loads */
#define RK_RULE_LOAD_TIMEOUT_MS 500
#define RK_RULE_LOAD_MAX_INSTRUCTIONS 50000000L
#define RK_RULE_LOAD_MAX_MEMORY (64u << 20)
/* the evidence family of a rule that declares none: each such rule counts
 * as independent evidence (config.lua's families.other) */
#define RK_RULE_FAMILY_DEFAULT "other"

/* Loads every rule of the snapshot into the vm's state (config.lua, if
 * present, is the rules' shared configuration, not a rule). A file that
 * does not compile, fails, returns no rule or takes another rule's name is
 * left out, with why (file and line): the others load. Returns 0. */
int rk_sandbox_load_rules(rk_vm_t *vm, const rk_snapshot_t *rules, char *err, size_t errlen);
/* The files the last load left out: how many, and each path (and why),
 * owned by the vm's state. */
int rk_sandbox_broken_count(rk_vm_t *vm);
/* The server records, in the rules snapshot it vets, the files it left out
 * or replaced, one "file TAB serving TAB error" line each, under this name
 * (not a .lua file: never loaded as a rule). */
#define RK_SANDBOX_PROBLEMS ".problems"
/* Rule libraries: rules/lib/NAME.lua, require("NAME") in a rule. */
#define RK_SANDBOX_LIB_DIR "lib/"
const char *rk_sandbox_broken_at(rk_vm_t *vm, int i, const char **why);


#endif
