/* l_parallel.c — `riskd.parallel`: helper threads for batch commands, each
 * with a Lua state of its own, so that the work of a replay that does not
 * depend on order (parsing lines, encoding answers) runs beside the work that
 * does (profiles, rules), on another core.
 *
 *   local parallel = require("riskd.parallel")
 *   local g, err = parallel.start("lib.replay_stage", n)   -- n helper threads
 *   g:send(i, value)          -- to helper i (1..n), which calls its module's
 *                             -- function with a copy of value
 *   local v, err = g:recv(i)  -- the next answer of helper i, in the order
 *                             -- sent; nil, message when that call failed
 *   g:close()                 -- also on collection; pending work is dropped
 *   parallel.cpus()           -- online processors
 *   parallel.thread_clock()   -- CPU seconds of the calling thread
 *   parallel.monotonic()      -- seconds of a monotonic wall clock
 *
 * No Lua value crosses threads (docs/style.md): values are copied into bytes and
 * rebuilt on the other side. What copies: nil, booleans, numbers (integers
 * stay integers), strings, cjson.null, and tables of these (metatables are
 * not copied; depth at most RK_PAR_MAX_DEPTH). Anything else is a
 * programming error and raises. A helper's state is built like `riskd run`'s
 * (the same script snapshot and configuration) with the module as its
 * entry; it has no store, model or rules: the order-dependent work stays on
 * the caller's thread. start() returns nil, message outside riskd (riskd.so
 * in a plain interpreter has no snapshot to build states from).
 */
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binfile.h"
#include "l_modules.h"
#include "task.h"
#include "vm.h"

#define GROUP_T "riskd.parallel.group"
#define BOX_T "riskd.parallel.box"
#define RK_PAR_MAX_DEPTH 64
#define RK_PAR_MAX_THREADS 64

/* ---- values as bytes ------------------------------------------------------ */

enum { V_NIL, V_FALSE, V_TRUE, V_INT, V_FLOAT, V_STRING, V_TABLE, V_END, V_NULL };

static void put_tag(rk_wbuf_t *b, int tag) { unsigned char t = (unsigned char)tag; rk_wbuf_put(b, &t, 1); }

/* Appends the value at idx; NULL, or why it cannot be copied (a static
 * message). Uses at most 3 stack slots per level. */
static const char *dump(lua_State *L, int idx, rk_wbuf_t *b, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: put_tag(b, V_NIL); return NULL;
    case LUA_TBOOLEAN: put_tag(b, lua_toboolean(L, idx) ? V_TRUE : V_FALSE); return NULL;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            lua_Integer i = lua_tointeger(L, idx);
            put_tag(b, V_INT);
            rk_wbuf_put(b, &i, sizeof i);
        } else {
            lua_Number d = lua_tonumber(L, idx);
            put_tag(b, V_FLOAT);
            rk_wbuf_put(b, &d, sizeof d);
        }
        return NULL;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        uint64_t len = n;
        put_tag(b, V_STRING);
        rk_wbuf_put(b, &len, sizeof len);
        rk_wbuf_put(b, s, n);
        return NULL;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL) return "a light userdata other than cjson.null cannot be copied";
        put_tag(b, V_NULL);
        return NULL;
    case LUA_TTABLE: {
        if (depth >= RK_PAR_MAX_DEPTH) return "tables nested too deep (or a cycle) cannot be copied";
        if (!lua_checkstack(L, 3)) return "tables nested too deep cannot be copied";
        uint32_t narr = (uint32_t)lua_rawlen(L, idx);
        put_tag(b, V_TABLE);
        rk_wbuf_put(b, &narr, sizeof narr);   /* a size hint for the rebuilt table */
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            const char *why = dump(L, -2, b, depth + 1);
            if (!why) why = dump(L, -1, b, depth + 1);
            if (why) { lua_pop(L, 2); return why; }
            lua_pop(L, 1);
        }
        put_tag(b, V_END);
        return NULL;
    }
    default:
        return "only nil, booleans, numbers, strings, cjson.null and tables of these can be copied";
    }
}

/* Pushes the next value (or, for V_END, nothing and returns 1). -1 on
 * malformed bytes, which only a bug here can produce. */
static int load(lua_State *L, rk_rbuf_t *r, int depth)
{
    unsigned char tag;
    if (rk_rbuf_get(r, &tag, 1) < 0 || depth > RK_PAR_MAX_DEPTH + 1 || !lua_checkstack(L, 3)) return -1;
    switch (tag) {
    case V_NIL: lua_pushnil(L); return 0;
    case V_FALSE: lua_pushboolean(L, 0); return 0;
    case V_TRUE: lua_pushboolean(L, 1); return 0;
    case V_NULL: lua_pushlightuserdata(L, NULL); return 0;
    case V_END: return 1;
    case V_INT: {
        lua_Integer i;
        if (rk_rbuf_get(r, &i, sizeof i) < 0) return -1;
        lua_pushinteger(L, i);
        return 0;
    }
    case V_FLOAT: {
        lua_Number d;
        if (rk_rbuf_get(r, &d, sizeof d) < 0) return -1;
        lua_pushnumber(L, d);
        return 0;
    }
    case V_STRING: {
        uint64_t n;
        if (rk_rbuf_get(r, &n, sizeof n) < 0 || r->left < n) return -1;
        lua_pushlstring(L, (const char *)r->p, (size_t)n);
        r->p += n;
        r->left -= (size_t)n;
        return 0;
    }
    case V_TABLE: {
        uint32_t narr;
        if (rk_rbuf_get(r, &narr, sizeof narr) < 0) return -1;
        lua_createtable(L, (int)(narr > 1u << 20 ? 1u << 20 : narr), 0);
        for (;;) {
            int rc = load(L, r, depth + 1);
            if (rc < 0) return -1;
            if (rc == 1) return 0;
            if (load(L, r, depth + 1) != 0 || lua_isnil(L, -2)) return -1;
            lua_rawset(L, -3);
        }
    }
    default: return -1;
    }
}

/* ---- messages ---------------------------------------------------------------
 * Tasks on the engine's queues (task.h), the helper's in and its out: the
 * run/release/reply_to part of a task goes unused, only the queue link. */

typedef struct {
    rk_task_t base;
    unsigned char *data;
    size_t len;
    int failed;              /* data is an error message */
} msg_t;

static void msg_free(msg_t *m)
{
    if (!m) return;
    free(m->data);
    free(m);
}

/* The next message on q, waiting for one; NULL once q is closed and empty. */
static msg_t *msg_take(rk_queue_t *q) { return (msg_t *)rk_queue_take(q, 1); }

/* Frees what is left on a closed queue, then the queue. */
static void queue_drop(rk_queue_t *q)
{
    rk_task_t *t = rk_queue_take(q, 0);
    while (t) {
        rk_task_t *next = t->next;
        msg_free((msg_t *)t);
        t = next;
    }
    rk_queue_destroy(q);
}

static msg_t *msg_text(const char *text)
{
    msg_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->len = strlen(text);
    m->data = (unsigned char *)strdup(text);
    m->failed = 1;
    if (!m->data) { free(m); return NULL; }
    return m;
}

/* ---- helper threads ------------------------------------------------------------ */

typedef struct {
    pthread_t thread;
    int started;
    atomic_int stopping;     /* set at close: what is still queued is dropped, not run */
    rk_queue_t in, out;
    rk_snapshot_t *scripts;   /* retained */
    rk_vm_host_t host;       /* the configuration only */
    char module[128];
} helper_t;

typedef struct {
    int n;
    helper_t *h;
} group_t;

/* In the helper's protected call: the entry module's function called with
 * the message's value, its answer dumped into c->out. */
typedef struct {
    const msg_t *in;
    rk_wbuf_t out;
    const char *why;
} call_t;

static int helper_call(lua_State *L)
{
    call_t *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    rk_vm_push_entry(rk_vm_of(L));
    rk_rbuf_t r = { c->in->data, c->in->len };
    if (load(L, &r, 0) != 0) return luaL_error(L, "riskd.parallel: malformed message");
    lua_call(L, 1, 1);
    c->why = dump(L, -1, &c->out, 0);
    return 0;
}

/* The answer to one message (or the error) as a message; NULL when out of memory. */
static msg_t *serve_one(rk_vm_t *vm, const msg_t *in)
{
    lua_State *L = rk_vm_state(vm);
    char err[2048];
    call_t c = { in, { 0 }, NULL };
    lua_pushcfunction(L, helper_call);
    lua_pushlightuserdata(L, &c);
    int rc = rk_vm_call(vm, 1, 0, 0, err, sizeof err);
    lua_settop(L, 0);
    rk_vm_idle(vm);
    if (rc != 0 || c.why || c.out.oom) {
        free(c.out.p);
        return msg_text(rc != 0 ? err : c.why ? c.why : "out of memory");
    }
    msg_t *m = calloc(1, sizeof *m);
    if (!m) { free(c.out.p); return NULL; }
    m->data = c.out.p;
    m->len = c.out.len;
    return m;
}

static void *helper_main(void *arg)
{
    helper_t *h = arg;
    char err[2048];
    rk_vm_opts_t o = { h->scripts, 0, 5000, &h->host, h->module, NULL, 0, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, sizeof err);
    msg_t *m;
    while ((m = msg_take(&h->in))) {
        msg_t *reply = atomic_load(&h->stopping) ? NULL : vm ? serve_one(vm, m) : msg_text(err);
        msg_free(m);
        if (reply) rk_queue_push(&h->out, &reply->base);
        else if (!atomic_load(&h->stopping)) { rk_queue_close(&h->out); break; }   /* out of memory: recv says so */
    }
    rk_vm_free(vm);
    return NULL;
}

static void group_stop(group_t *g)
{
    if (!g->h) return;
    for (int i = 0; i < g->n; i++) {
        atomic_store(&g->h[i].stopping, 1);
        rk_queue_close(&g->h[i].in);
    }
    for (int i = 0; i < g->n; i++) {
        helper_t *h = &g->h[i];
        if (h->started) pthread_join(h->thread, NULL);
        rk_queue_close(&h->out);
        queue_drop(&h->in);
        queue_drop(&h->out);
        rk_snapshot_release(h->scripts);
    }
    free(g->h);
    g->h = NULL;
    g->n = 0;
}

static group_t *check_group(lua_State *L, int i)
{
    group_t *g = luaL_checkudata(L, i, GROUP_T);
    if (!g->h) luaL_error(L, "the helper threads are closed");
    return g;
}

static helper_t *check_helper(lua_State *L, group_t *g, int i)
{
    lua_Integer k = luaL_checkinteger(L, i);
    luaL_argcheck(L, k >= 1 && k <= g->n, i, "no such helper");
    return &g->h[k - 1];
}

/* parallel.start(module, n) --> group | nil, msg  [-2,+1|2,e] */
static int l_start(lua_State *L)
{
    size_t mlen;
    const char *module = luaL_checklstring(L, 1, &mlen);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, mlen > 0 && mlen < sizeof ((helper_t *)0)->module, 1, "bad module name");
    luaL_argcheck(L, n >= 1 && n <= RK_PAR_MAX_THREADS, 2, "between 1 and 64 helpers");
    rk_vm_t *vm = rk_vm_of(L);
    const rk_vm_host_t *host = rk_vm_host(L);
    if (!vm || !host) {
        luaL_pushfail(L);
        lua_pushliteral(L, "helper threads need riskd (riskd run and the batch commands)");
        return 2;
    }
    group_t *g = lua_newuserdatauv(L, sizeof *g, 0);
    g->n = 0;
    g->h = NULL;
    luaL_setmetatable(L, GROUP_T);
    if (!(g->h = calloc((size_t)n, sizeof *g->h))) return luaL_error(L, "out of memory");
    for (int i = 0; i < n; i++) {
        helper_t *h = &g->h[i];
        rk_queue_init(&h->in);
        rk_queue_init(&h->out);
        h->scripts = rk_snapshot_retain((rk_snapshot_t *)rk_vm_scripts(vm));
        h->host = (rk_vm_host_t){ .config = host->config };
        memcpy(h->module, module, mlen + 1);
        g->n = i + 1;
        if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
            group_stop(g);
            luaL_pushfail(L);
            lua_pushliteral(L, "cannot start a helper thread");
            return 2;
        }
        h->started = 1;
    }
    return 1;
}

/* g:send(i, value)  [-0,+0,e] */
static int l_send(lua_State *L)
{
    group_t *g = check_group(L, 1);
    helper_t *h = check_helper(L, g, 2);
    luaL_checkany(L, 3);
    rk_wbuf_t b = { 0 };
    const char *why = dump(L, 3, &b, 0);
    msg_t *m = why || b.oom ? NULL : calloc(1, sizeof *m);
    if (!m) {
        free(b.p);
        return why ? luaL_argerror(L, 3, why) : luaL_error(L, "out of memory");
    }
    m->data = b.p;
    m->len = b.len;
    rk_queue_push(&h->in, &m->base);
    return 0;
}

/* A received message, freed by __gc if rebuilding its value raises. */
typedef struct {
    msg_t *m;
} box_t;

static int box_release(lua_State *L)
{
    box_t *b = lua_touserdata(L, 1);
    msg_free(b->m);
    b->m = NULL;
    return 0;
}

/* g:recv(i) --> value | nil, msg  [-0,+1|2,e]: waits for helper i's next answer. */
static int l_recv(lua_State *L)
{
    group_t *g = check_group(L, 1);
    helper_t *h = check_helper(L, g, 2);
    box_t *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->m = NULL;
    luaL_setmetatable(L, BOX_T);
    if (!(box->m = msg_take(&h->out))) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the helper thread stopped (out of memory)");
        return 2;
    }
    if (box->m->failed) {
        luaL_pushfail(L);
        lua_pushlstring(L, (const char *)box->m->data, box->m->len);
    } else {
        rk_rbuf_t r = { box->m->data, box->m->len };
        if (load(L, &r, 0) != 0) return luaL_error(L, "riskd.parallel: malformed answer");
    }
    int n = box->m->failed ? 2 : 1;
    lua_pushcfunction(L, box_release);
    lua_pushvalue(L, -n - 2);
    lua_call(L, 1, 0);
    return n;
}

/* g:size() --> n */
static int l_size(lua_State *L)
{
    lua_pushinteger(L, check_group(L, 1)->n);
    return 1;
}

static int group_release(lua_State *L)
{
    group_stop(luaL_checkudata(L, 1, GROUP_T));
    return 0;
}

static int l_cpus(lua_State *L)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

static int l_thread_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int l_monotonic(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)rk_now_ns() / 1e9);
    return 1;
}

int luaopen_riskd_parallel(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "start", l_start }, { "cpus", l_cpus }, { "thread_clock", l_thread_clock }, { "monotonic", l_monotonic },
        { NULL, NULL },
    };
    static const luaL_Reg group_methods[] = {
        { "send", l_send }, { "recv", l_recv }, { "size", l_size }, { "close", group_release }, { NULL, NULL },
    };
    static const luaL_Reg group_meta[] = {
        { "__index", NULL }, { "__gc", group_release }, { "__close", group_release }, { NULL, NULL },
    };
    if (luaL_newmetatable(L, GROUP_T)) {
        luaL_setfuncs(L, group_meta, 0);
        luaL_newlib(L, group_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BOX_T)) {
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
