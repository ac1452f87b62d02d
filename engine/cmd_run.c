/* cmd_run.c — `riskd run SCRIPT.lua [ARGS...]`: a Lua script with everything
 * a request handler has — the scripts (require "lib.analyze"), the sandboxed
 * rules, the live model, and a store handle (riskd.store.worker()) — but no
 * HTTP: batch analyses, replays, maintenance. Settings come from the
 * environment and .env as for `riskd serve` (RISKD_DB, RISKD_SCRIPTS, ...).
 * `riskd run --db URI ... SCRIPT.lua` takes the server's settings before the
 * script, and says on stderr which store it opened.
 * The script gets its arguments in `arg` and as `...`; its return value, if
 * an integer, is the exit status. No time budget: batch work may take long.
 *
 * The batch commands (`riskd generate`, `train`, `score`, `retrain`) are
 * the same thing with a module from the scripts folder, scripts/cli/<name>.lua,
 * so that they can be read and changed like the handlers.
 */
#include "cmd_run.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "features.h"
#include "geo.h"
#include "intel.h"
#include "iforest.h"
#include "log.h"
#include "models.h"
#include "vm_snapshot.h"
#include "store.h"
#include "vm.h"

/* module NULL: argv[2] is a script file and its arguments follow; else the
 * module's function gets argv[2...]. */
static int run_lua(int argc, char **argv, const char *module)
{
    const char *cmd = module ? argv[1] : "run";
    rk_config_t cfg;
    char err[2048];
    int status = 1;
    rk_snapshot_t *scripts = NULL, *rules = NULL;
    rk_iforest_t *model = NULL;
    rk_store_t *store = NULL;
    rk_geo_t *geo = NULL;
    rk_intel_t *intel = NULL;
    rk_vm_t *vm = NULL;
    /* riskd run takes the server's settings before the script (--db URI, --rules DIR, ...) */
    int script = module ? 2 : rk_config_args_end(argc, argv, 2);
    if (rk_config_load(&cfg, script, argv, 2, err, sizeof err) < 0) { fprintf(stderr, "riskd %s: %s\n", cmd, err); return 2; }
    if (!module && script >= argc) { fprintf(stderr, "riskd run: no script given\n"); return 2; }
    if (!(scripts = rk_snapshot_load(cfg.scripts, err, sizeof err))) goto fail;
    struct stat st;
    if (stat(cfg.rules, &st) == 0 && S_ISDIR(st.st_mode) && !(rules = rk_snapshot_load(cfg.rules, err, sizeof err))) goto fail;
    char path[1200];
    int mrc = rk_models_active(cfg.models, path, sizeof path, err, sizeof err);
    if (mrc < 0 || (mrc == 0 && !(model = rk_iforest_load(path, rk_features_names, RK_F_COUNT, err, sizeof err)))) goto fail;
    rk_store_opts_t so;
    rk_config_store_opts(&cfg, &so);
    /* The batch commands open the stores they are told to (--db, or one in
     * memory); `riskd run` scripts get the configured one. */
    if (!module) {
        if (!(store = rk_store_open(cfg.db, &so, err, sizeof err))) goto fail;
        char shown[1100];
        rk_store_uri_display(cfg.db, shown, sizeof shown);
        fprintf(stderr, "riskd run: store %s (%s)\n", shown, rk_store_backend(store));
    }
    err[0] = '\0';
    if (!(geo = rk_geo_open(cfg.geoip_db, cfg.asn_db, err, sizeof err)) && err[0]) goto fail;
    if (!(intel = rk_intel_open(cfg.intel, cfg.state))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    rk_vm_host_t host = { NULL, 0, &cfg, store, geo, NULL, NULL, intel, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };   /* batch: writes and hashes run inline */
    rk_vm_opts_t o = { scripts, 0, 5000, &host, "lib.dispatch", rules, 1, model };
    if (!(vm = rk_vm_new(&o, err, sizeof err))) goto fail;

    lua_State *L = rk_vm_state(vm);
    int first = module ? 2 : script + 1;   /* the first argument for the script */
    lua_createtable(L, argc - first, 1);
    lua_pushstring(L, module ? module : argv[script]);
    lua_rawseti(L, -2, 0);
    for (int i = first; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i - first + 1); }
    lua_setglobal(L, "arg");
    if (module) {
        /* require(module) returns the command's function. */
        lua_getglobal(L, "require");
        lua_pushstring(L, module);
        if (rk_vm_call(vm, 1, 1, 0, err, sizeof err) != 0) goto fail;
        if (!lua_isfunction(L, -1)) { snprintf(err, sizeof err, "%s must return a function", module); goto fail; }
    } else if (luaL_loadfilex(L, argv[script], "t") != LUA_OK) {
        snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
        goto fail;
    }
    for (int i = first; i < argc; i++) lua_pushstring(L, argv[i]);
    if (rk_vm_call(vm, argc - first, 1, 0, err, sizeof err) != 0) goto fail;
    status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    goto done;
fail:
    fprintf(stderr, "riskd %s: %s\n", cmd, err);
    status = 1;
done:
    rk_vm_free(vm);
    rk_store_close(store);
    rk_geo_close(geo);
    rk_intel_close(intel);
    rk_iforest_release(model);
    rk_snapshot_release(rules);
    rk_snapshot_release(scripts);
    return status;
}

int rk_cmd_run(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
        fprintf(stderr, "usage: riskd run [--db URI] [--SETTING VALUE ...] SCRIPT.lua [ARGS...]\n"
                        "runs a Lua script with the scripts, rules, model and store of the configuration, no HTTP;\n"
                        "the settings are riskd serve's (riskd serve --help), before the script\n");
        return 2;
    }
    return run_lua(argc, argv, NULL);
}

int rk_cmd_script(int argc, char **argv, const char *module)
{
    return run_lua(argc, argv, module);
}
