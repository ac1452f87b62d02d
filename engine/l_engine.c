/* l_engine.c — `riskd.engine`: what a handler may know about the server it
 * runs in. Outside a server (riskd.so under busted) the functions that need
 * one return nil, "not running in a server", "no_server". */
#include <lauxlib.h>
#include <spawn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>

#include "config.h"
#include "rt_hub.h"
#include "deliver.h"
#include "store_live.h"
#include "l_modules.h"
#include "rates_sync.h"
#include "store_writer.h"
#include "version.h"
#include "vm.h"

static int no_server(lua_State *L)
{
    luaL_pushfail(L);
    lua_pushliteral(L, "not running in a server");
    lua_pushliteral(L, "no_server");
    return 3;
}

/* engine.generation() --> the generation of the script set this state runs. */
static int l_generation(lua_State *L)
{
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return no_server(L);
    lua_pushinteger(L, (lua_Integer)rk_vm_generation(vm));
    return 1;
}

/* engine.sleep(ms): a pause. In a server's request the request waits on
 * its worker's clock and the worker serves others meanwhile; elsewhere the
 * thread sleeps. */
static void sleep_release(rk_task_t *t) { free(t); }
static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)L; (void)status; (void)ctx;
    return 0;
}

static int l_sleep(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 60000, 1, "0 to 60000 ms");
    if (rk_vm_can_await(L, RK_VM_TIMER)) {
        rk_task_t *t = calloc(1, sizeof *t);
        if (!t) return luaL_error(L, "not enough memory");
        t->rc = (int)ms;
        t->release = sleep_release;
        return rk_vm_await(L, t, RK_VM_TIMER, sleep_k);
    }
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    return 0;
}

/* engine.rule_state(path [, source]) --> state, generation [, why]
 * What the server serves of the rule file at path (relative to the rules
 * folder): "live" when it serves source, "broken" when the file does not
 * load (why says where and what; an earlier version or none serves in its
 * place), "pending" otherwise; and the generation it serves. */
static int l_rule_state(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len = 0;
    const char *src = luaL_optlstring(L, 2, NULL, &len);
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->rule_state) return no_server(L);
    uint64_t gen = 0;
    char why[1024] = "";
    int st = h->rule_state(h->server, path, src, len, &gen, why, sizeof why);
    lua_pushstring(L, st > 0 ? "live" : st < 0 ? "broken" : "pending");
    lua_pushinteger(L, (lua_Integer)gen);
    if (st >= 0) return 2;
    lua_pushstring(L, why);
    return 3;
}

/* engine.worker() --> this worker's index (0-based). */
static int l_worker(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h) return no_server(L);
    lua_pushinteger(L, h->worker);
    return 1;
}

/* A box for a malloc'd C string, so it is freed even if pushing it raises. */
#define CBUF_T "riskd.engine.cbuf"

static int cbuf_release(lua_State *L)
{
    char **p = luaL_checkudata(L, 1, CBUF_T);
    free(*p);
    *p = NULL;
    return 0;
}

/* engine.metrics() --> the Prometheus exposition text. */
static int l_metrics(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->metrics) return no_server(L);
    char **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, CBUF_T);
    size_t len = 0;
    *box = rk_metrics_render(h->metrics, &len);
    if (!*box) {
        luaL_pushfail(L);
        lua_pushliteral(L, "out of memory");
        lua_pushliteral(L, "oom");
        return 3;
    }
    lua_pushlstring(L, *box, len);
    free(*box);
    *box = NULL;
    {   /* rates.h: what the spike rules judge an hour against, and how much history is behind it */
        rk_rate_state_t t[RK_RATES_MAX];
        int n = rk_rates_states(rk_rates_global(), t, RK_RATES_MAX);
        if (n > 0) {
            lua_pushliteral(L,
                "# HELP riskd_site_rate_baseline A site-wide rate's learned events per hour (of the events' own time).\n"
                "# TYPE riskd_site_rate_baseline gauge\n");
            lua_concat(L, 2);
            for (int i = 0; i < n; i++) {
                lua_pushfstring(L, "riskd_site_rate_baseline{name=\"%s\"} %f\n", t[i].name, t[i].baseline);
                lua_concat(L, 2);
            }
            lua_pushliteral(L,
                "# HELP riskd_site_rate_history_hours Hours of history behind a site-wide rate's baseline.\n"
                "# TYPE riskd_site_rate_history_hours gauge\n");
            lua_concat(L, 2);
            for (int i = 0; i < n; i++) {
                lua_pushfstring(L, "riskd_site_rate_history_hours{name=\"%s\"} %I\n", t[i].name, (lua_Integer)t[i].hours);
                lua_concat(L, 2);
            }
        }
    }
    if (h->rates_sync) {   /* rates_sync.h */
        int64_t rounds, failures;
        rk_rates_syncer_counts(h->rates_sync, &rounds, &failures);
        lua_pushfstring(L,
            "# HELP riskd_rates_sync_rounds_total Rounds of sharing the site-wide rates with the other instances.\n"
            "# TYPE riskd_rates_sync_rounds_total counter\nriskd_rates_sync_rounds_total %I\n"
            "# HELP riskd_rates_sync_failures_total Rounds that failed (the hits are shared at the next one).\n"
            "# TYPE riskd_rates_sync_failures_total counter\nriskd_rates_sync_failures_total %I\n",
            (lua_Integer)rounds, (lua_Integer)failures);
        lua_concat(L, 2);
    }
    if (h->deliverer) {   /* deliver.h */
        int64_t delivered, retried, dead;
        rk_deliverer_counts(h->deliverer, &delivered, &retried, &dead);
        lua_pushfstring(L,
            "# HELP riskd_deliveries_total Deliveries to webhooks and SIEM targets, by how each attempt ended.\n"
            "# TYPE riskd_deliveries_total counter\n"
            "riskd_deliveries_total{result=\"delivered\"} %I\nriskd_deliveries_total{result=\"retried\"} %I\n"
            "riskd_deliveries_total{result=\"dead\"} %I\n",
            (lua_Integer)delivered, (lua_Integer)retried, (lua_Integer)dead);
        lua_concat(L, 2);
    }
    if (h->live) {   /* store_live.h */
        rk_live_stats_t ls;
        rk_live_stats(h->live, &ls);
        lua_pushfstring(L,
            "# HELP riskd_live_reads_total The analysis's reads of the store, by where they were answered.\n"
            "# TYPE riskd_live_reads_total counter\n"
            "riskd_live_reads_total{from=\"memory\"} %I\nriskd_live_reads_total{from=\"sqlite\"} %I\n"
            "# HELP riskd_live_bytes Bytes of encoded profiles held in memory.\n"
            "# TYPE riskd_live_bytes gauge\nriskd_live_bytes %I\n"
            "# HELP riskd_live_entries What the state in memory holds, by kind.\n"
            "# TYPE riskd_live_entries gauge\n"
            "riskd_live_entries{kind=\"profiles\"} %I\nriskd_live_entries{kind=\"values\"} %I\n"
            "riskd_live_entries{kind=\"window\"} %I\n"
            "# HELP riskd_live_on 1 while the state in memory answers (0 once a failed write turned it off).\n"
            "# TYPE riskd_live_on gauge\nriskd_live_on %d\n",
            (lua_Integer)ls.hits, (lua_Integer)ls.misses, (lua_Integer)ls.profile_bytes, (lua_Integer)ls.profiles,
            (lua_Integer)ls.values, (lua_Integer)ls.window_entries, ls.on);
        lua_concat(L, 2);
    }
    if (!h->writer) return 1;
    /* The group commit: how many writes each commit carries, and whether
     * the WAL outran the checkpoints (store_writer.c). */
    rk_writer_stats_t ws;
    rk_writer_stats(h->writer, &ws);
    lua_pushfstring(L,
        "# HELP riskd_store_writes_total Writes committed by the store writer (group commit).\n"
        "# TYPE riskd_store_writes_total counter\nriskd_store_writes_total %I\n"
        "# HELP riskd_store_commits_total Transactions the store writer committed, each holding many writes.\n"
        "# TYPE riskd_store_commits_total counter\nriskd_store_commits_total %I\n"
        "# HELP riskd_store_commit_failures_total Commits that failed (every write in them was answered with the error).\n"
        "# TYPE riskd_store_commit_failures_total counter\nriskd_store_commit_failures_total %I\n"
        "# HELP riskd_store_largest_commit Most writes one commit has held.\n"
        "# TYPE riskd_store_largest_commit gauge\nriskd_store_largest_commit %I\n"
        "# HELP riskd_store_checkpoints_total WAL checkpoints (SQLite).\n"
        "# TYPE riskd_store_checkpoints_total counter\nriskd_store_checkpoints_total %I\n"
        "# HELP riskd_store_checkpoint_waits_total Times the writer waited for a checkpoint, the WAL past its cap.\n"
        "# TYPE riskd_store_checkpoint_waits_total counter\nriskd_store_checkpoint_waits_total %I\n",
        (lua_Integer)ws.writes, (lua_Integer)ws.batches, (lua_Integer)ws.failed_commits, (lua_Integer)ws.max_batch,
        (lua_Integer)ws.checkpoints, (lua_Integer)ws.cap_waits);
    lua_concat(L, 2);
    return 1;
}

/* engine.memory() --> bytes held by this Lua state. */
static int l_memory(lua_State *L)
{
    rk_vm_t *vm = rk_vm_of(L);
    if (!vm) return no_server(L);
    lua_pushinteger(L, (lua_Integer)rk_vm_memory(vm));
    return 1;
}

/* engine.config() --> the settings a handler may need. */
static int l_config(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->config) return no_server(L);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)h->config->body_limit);
    lua_setfield(L, -2, "body_limit");
    lua_pushinteger(L, (lua_Integer)h->config->mail_limit);
    lua_setfield(L, -2, "mail_limit");
    lua_pushinteger(L, h->config->request_timeout_ms);
    lua_setfield(L, -2, "request_timeout_ms");
    lua_pushinteger(L, h->config->workers);
    lua_setfield(L, -2, "workers");
    lua_pushstring(L, h->config->db);
    lua_setfield(L, -2, "db");
    lua_pushstring(L, h->config->models);
    lua_setfield(L, -2, "models");
    lua_pushstring(L, h->config->scripts);
    lua_setfield(L, -2, "scripts");
    lua_pushstring(L, h->config->rules);
    lua_setfield(L, -2, "rules");
    lua_pushboolean(L, h->config->open_registration);
    lua_setfield(L, -2, "open_registration");
    lua_pushboolean(L, h->config->metrics_public);
    lua_setfield(L, -2, "metrics_public");
    lua_pushstring(L, h->config->compat);
    lua_setfield(L, -2, "compat");
    lua_pushstring(L, h->config->cors_origins);
    lua_setfield(L, -2, "cors_origins");
    lua_pushstring(L, h->config->webhooks);   /* never the webhooks' secret */
    lua_setfield(L, -2, "webhooks");
    lua_pushstring(L, h->config->siem);
    lua_setfield(L, -2, "siem");
    lua_pushboolean(L, h->config->webhook_secret[0] != '\0');
    lua_setfield(L, -2, "webhooks_signed");
    lua_pushboolean(L, h->deliverer != NULL);
    lua_setfield(L, -2, "delivering");
    return 1;
}

/* engine.isatty(fd) --> whether fd (0, 1, 2) is a terminal: batch commands
 * show progress only there. */
static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 2, 1, "0, 1 or 2");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

/* engine.spawn(args [, env]) --> pid | nil, msg, "spawn_failed": starts
 * this riskd binary with args (a list of strings) in the background, env
 * (name = value) added to the environment. For long jobs a request must
 * not run itself (riskd retrain); the job reports through files. */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n < 64, 1, "1 to 63 arguments");
    const char *argv[66];
    argv[0] = "riskd";
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        argv[i] = luaL_checkstring(L, -1);   /* kept alive by the table */
        lua_pop(L, 1);
    }
    argv[n + 1] = NULL;
    /* environ plus the overrides, built in GC-owned memory */
    extern char **environ;
    int ne = 0, nadd = 0;
    while (environ[ne]) ne++;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) { nadd++; lua_pop(L, 1); }
    }
    const char **envp = lua_newuserdatauv(L, (size_t)(ne + nadd + 1) * sizeof *envp, 0);
    int k = 0;
    for (int i = 0; i < ne; i++) envp[k++] = environ[i];
    if (nadd) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushfstring(L, "%s=%s", luaL_checkstring(L, -2), luaL_checkstring(L, -1));
            lua_rawsetp(L, LUA_REGISTRYINDEX, &envp[k]);   /* keep the string alive until the spawn */
            lua_rawgetp(L, LUA_REGISTRYINDEX, &envp[k]);
            envp[k++] = lua_tostring(L, -1);
            lua_pop(L, 2);
        }
    }
    envp[k] = NULL;
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, (char *const *)argv, (char *const *)envp);
    for (int i = ne; i < k; i++) { lua_pushnil(L); lua_rawsetp(L, LUA_REGISTRYINDEX, &envp[i]); }
    if (rc != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, strerror(rc));
        lua_pushliteral(L, "spawn_failed");
        return 3;
    }
    lua_pushinteger(L, pid);
    return 1;
}

/* engine.publish(topic, json_text [, level]) --> id | nil, msg, "no_server":
 * hands a message to every real-time client of the server (lib/realtime.lua
 * builds the text). topic: alerts, events, rules or models. */
static int l_publish(lua_State *L)
{
    const char *topic = luaL_checkstring(L, 1);
    size_t n;
    const char *json = luaL_checklstring(L, 2, &n);
    lua_Integer level = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, rk_hub_topic_index(topic) >= 0, 1, "topic must be alerts, events, rules or models");
    const rk_vm_host_t *h = rk_vm_host(L);
    if (!h || !h->hub) return no_server(L);
    uint64_t id = rk_hub_publish(h->hub, topic, (int)level, json, n);
    if (!id) return luaL_error(L, "out of memory");
    lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

/* engine.listeners(topic) --> how many streams of the whole server want it
 * (0 outside a server), so that nobody pays for messages nobody reads. */
static int l_listeners(lua_State *L)
{
    const char *topic = luaL_checkstring(L, 1);
    const rk_vm_host_t *h = rk_vm_host(L);
    lua_pushinteger(L, h && h->hub ? rk_hub_subscribers(h->hub, topic) : 0);
    return 1;
}

int luaopen_riskd_engine(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "generation", l_generation }, { "worker", l_worker }, { "metrics", l_metrics },
        { "sleep", l_sleep }, { "rule_state", l_rule_state },
        { "memory", l_memory }, { "config", l_config }, { "isatty", l_isatty },
        { "spawn", l_spawn }, { "publish", l_publish }, { "listeners", l_listeners }, { NULL, NULL },
    };
    static const luaL_Reg cbuf_meta[] = {
        { "__gc", cbuf_release }, { "__close", cbuf_release }, { NULL, NULL },
    };
    if (luaL_newmetatable(L, CBUF_T)) luaL_setfuncs(L, cbuf_meta, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushliteral(L, RK_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
