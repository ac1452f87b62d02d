/* l_iforest.c — `riskd.iforest`: the Isolation Forest for Lua.
 *
 *   local iforest = require("riskd.iforest")
 *   local m = iforest.train(rows, { trees = 100, sample_size = 256, seed = 1,
 *                                   names = { "hour", "km" } })
 *   m:score({ 3, 12.5 })  or  m:score({ hour = 3, km = 12.5 })  --> 0.61
 *   m:score_many(rows)                  --> { 0.61, ... }
 *   m:explain(row)                      --> { hour = 0.02, km = 0.11 }, expected, score
 *   m:save(path)                        --> true | nil, msg, "io"
 *   iforest.load(path [, names])        --> model | nil, msg, "invalid_model"
 *   m:info()                            --> { trees, sample_size, ..., metrics = {} }
 *   m:set_metric(name, value)           -- saved with the model
 *   iforest.auc(scores, labels)         --> ROC AUC | nil (one class only)
 *   iforest.matrix(n, d) / iforest.matrix(rows)   -- rows kept on the C side
 *   iforest.read_csv(path [, label])    --> matrix, names, labels | nil, msg, "invalid_csv"
 *
 * Rows are arrays of numbers (booleans count as 1 and 0) or, for a model with
 * feature names, tables keyed by name. A matrix userdata carries large data
 * without a Lua number per cell. Misuse raises; bad data returns nil, msg, code.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "iforest.h"
#include "l_modules.h"
#include "roc.h"
#include "vm.h"

#define MODEL_T "riskd.iforest.model"
#define MATRIX_T "riskd.iforest.matrix"

typedef struct { rk_iforest_t *m; } model_ud;
typedef struct { double *data; size_t n; int d; } matrix_ud;

static model_ud *check_model(lua_State *L, int i)
{
    model_ud *u = luaL_checkudata(L, i, MODEL_T);
    if (!u->m) luaL_error(L, "attempt to use a released model");
    return u;
}

static matrix_ud *check_matrix(lua_State *L, int i)
{
    matrix_ud *u = luaL_checkudata(L, i, MATRIX_T);
    if (!u->data) luaL_error(L, "attempt to use a released matrix");
    return u;
}

static int fail(lua_State *L, const char *msg, const char *code)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

/* ---- matrices ------------------------------------------------------------ */

/* Pushes an n×d matrix userdata (zeroed). [-0,+1,m] */
static matrix_ud *push_matrix(lua_State *L, size_t n, int d)
{
    matrix_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->data = NULL;
    u->n = 0;
    u->d = 0;
    luaL_setmetatable(L, MATRIX_T);
    if (n == 0 || d < 1 || n > ((size_t)1 << 40) / (size_t)d) luaL_error(L, "bad matrix size %d × %d", (int)n, d);
    u->data = calloc(n * (size_t)d, sizeof *u->data);
    if (!u->data) luaL_error(L, "not enough memory for a %d × %d matrix", (int)n, d);
    u->n = n;
    u->d = d;
    return u;
}

static double cell(lua_State *L, int row, int col)
{
    /* [-1,+0]: pops the value at the top */
    int t = lua_type(L, -1);
    double v;
    if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (t == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
    else return luaL_error(L, "row %d, column %d: expected a number, got %s", row, col, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* Reads one row (array, or keyed by the model's names) into x. */
static void read_row(lua_State *L, int idx, int row, int d, const rk_iforest_t *m, double *x)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) luaL_error(L, "row %d: expected a table, got %s", row, luaL_typename(L, idx));
    int keyed = lua_geti(L, idx, 1) == LUA_TNIL && m && rk_iforest_name(m, 0);
    lua_pop(L, 1);
    for (int j = 0; j < d; j++) {
        if (keyed) {
            if (lua_getfield(L, idx, rk_iforest_name(m, j)) == LUA_TNIL)
                luaL_error(L, "row %d: missing feature '%s'", row, rk_iforest_name(m, j));
        } else if (lua_geti(L, idx, j + 1) == LUA_TNIL) {
            luaL_error(L, "row %d: expected %d values, got %d", row, d, j);
        }
        x[j] = cell(L, row, j + 1);
    }
}

/* The rows at idx as a matrix: the matrix itself, or a temporary one built
 * from a Lua array of rows (pushed, so the GC owns it). [-0,+1] */
static matrix_ud *rows_arg(lua_State *L, int idx, int d, const rk_iforest_t *m)
{
    matrix_ud *mx = luaL_testudata(L, idx, MATRIX_T);
    if (mx) {
        if (!mx->data) luaL_error(L, "attempt to use a released matrix");
        if (d > 0 && mx->d != d) luaL_error(L, "matrix has %d columns, the model %d", mx->d, d);
        lua_pushvalue(L, idx);
        return mx;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, idx);
    if (n == 0) luaL_argerror(L, idx, "no rows");
    if (d <= 0) {
        lua_geti(L, idx, 1);
        if (!lua_istable(L, -1)) luaL_error(L, "row 1: expected a table");
        d = (int)luaL_len(L, -1);
        lua_pop(L, 1);
        if (d < 1) luaL_error(L, "row 1 is empty");
    }
    mx = push_matrix(L, n, d);
    for (size_t i = 0; i < n; i++) {
        lua_geti(L, idx, (lua_Integer)i + 1);
        read_row(L, -1, (int)i + 1, d, m, mx->data + i * (size_t)d);
        lua_pop(L, 1);
    }
    return mx;
}

static int l_matrix(lua_State *L)
{
    if (lua_istable(L, 1)) { rows_arg(L, 1, 0, NULL); return 1; }
    lua_Integer n = luaL_checkinteger(L, 1), d = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0, 1, "rows must be positive");
    luaL_argcheck(L, d > 0 && d <= RK_IFOREST_MAX_FEATURES, 2, "columns out of range");
    push_matrix(L, (size_t)n, (int)d);
    return 1;
}

static size_t index_arg(lua_State *L, int i, size_t max)
{
    lua_Integer v = luaL_checkinteger(L, i);
    luaL_argcheck(L, v >= 1 && (size_t)v <= max, i, "index out of range");
    return (size_t)v - 1;
}

static int matrix_get(lua_State *L)
{
    matrix_ud *u = check_matrix(L, 1);
    size_t r = index_arg(L, 2, u->n), c = index_arg(L, 3, (size_t)u->d);
    lua_pushnumber(L, u->data[r * (size_t)u->d + c]);
    return 1;
}

static int matrix_set(lua_State *L)
{
    matrix_ud *u = check_matrix(L, 1);
    size_t r = index_arg(L, 2, u->n), c = index_arg(L, 3, (size_t)u->d);
    u->data[r * (size_t)u->d + c] = luaL_checknumber(L, 4);
    return 0;
}

static int matrix_size(lua_State *L)
{
    matrix_ud *u = check_matrix(L, 1);
    lua_pushinteger(L, (lua_Integer)u->n);
    lua_pushinteger(L, u->d);
    return 2;
}

static int matrix_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_matrix(L, 1)->n);
    return 1;
}

static int matrix_release(lua_State *L)
{
    matrix_ud *u = luaL_checkudata(L, 1, MATRIX_T);
    free(u->data);
    u->data = NULL;
    return 0;
}

static int matrix_tostring(lua_State *L)
{
    matrix_ud *u = luaL_checkudata(L, 1, MATRIX_T);
    if (u->data) lua_pushfstring(L, MATRIX_T " (%d × %d)", (int)u->n, u->d);
    else lua_pushliteral(L, MATRIX_T " (released)");
    return 1;
}

/* A parsed CSV table boxed for the GC, so nothing leaks if a push raises. */
#define CSV_T "riskd.iforest.csv"

static int csv_release(lua_State *L)
{
    rk_csv_free(luaL_checkudata(L, 1, CSV_T));  /* idempotent: it zeroes the table */
    return 0;
}

/* iforest.read_csv(path [, label]) --> matrix, names, labels|nil */
static int l_read_csv(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *label = luaL_optstring(L, 2, NULL);
    char err[1024];
    rk_csv_t *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, CSV_T);
    if (rk_csv_read(path, label, t, err, sizeof err) < 0) return fail(L, err, "invalid_csv");
    matrix_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->data = NULL;
    luaL_setmetatable(L, MATRIX_T);
    u->data = t->X;   /* the matrix takes the numbers */
    u->n = t->n;
    u->d = t->d;
    t->X = NULL;
    lua_createtable(L, t->d, 0);
    for (int i = 0; i < t->d; i++) { lua_pushstring(L, t->names[i]); lua_rawseti(L, -2, i + 1); }
    if (t->labels) {
        lua_createtable(L, (int)t->n, 0);
        for (size_t i = 0; i < t->n; i++) { lua_pushinteger(L, t->labels[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
    } else {
        lua_pushnil(L);
    }
    return 3;
}

/* ---- models -------------------------------------------------------------- */

static model_ud *push_model(lua_State *L)
{
    model_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, MODEL_T);
    return u;
}

/* iforest.current() --> the server's login model, or nil when none is loaded */
static int l_current(lua_State *L)
{
    rk_vm_t *vm = rk_vm_of(L);
    rk_iforest_t *m = vm ? rk_vm_model(vm) : NULL;
    if (!m) { lua_pushnil(L); return 1; }
    model_ud *u = push_model(L);
    u->m = rk_iforest_retain(m);   /* shared: each userdata holds a reference */
    return 1;
}

static int opt_int(lua_State *L, int t, const char *k, int def, int lo, int hi)
{
    int v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) luaL_error(L, "option '%s' must be an integer", k);
        lua_Integer x = lua_tointeger(L, -1);
        if (x < lo || x > hi) luaL_error(L, "option '%s' must be from %d to %d", k, lo, hi);
        v = (int)x;
    }
    lua_pop(L, 1);
    return v;
}

/* iforest.train(rows_or_matrix [, opts]) --> model | nil, msg, "invalid_data" */
static int l_train(lua_State *L)
{
    rk_iforest_params_t p;
    rk_iforest_defaults(&p);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        p.trees = opt_int(L, 2, "trees", p.trees, 1, 100000);
        p.sample_size = opt_int(L, 2, "sample_size", p.sample_size, 2, 1 << 24);
        p.max_depth = opt_int(L, 2, "max_depth", 0, 0, 64);
        p.threads = opt_int(L, 2, "threads", 0, 0, 256);
        p.baseline = opt_int(L, 2, "baseline", p.baseline, 1, 4096);
        if (lua_getfield(L, 2, "seed") != LUA_TNIL) {
            if (!lua_isinteger(L, -1)) luaL_error(L, "option 'seed' must be an integer");
            p.seed = (uint64_t)lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
    }
    matrix_ud *mx = rows_arg(L, 1, 0, NULL);      /* +1 */
    /* Names, as borrowed strings kept alive by the options table. */
    const char **names = NULL;
    if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "names") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        if ((int)luaL_len(L, -1) != mx->d) luaL_error(L, "names: %d given for %d columns", (int)luaL_len(L, -1), mx->d);
        names = lua_newuserdatauv(L, (size_t)mx->d * sizeof *names, 0);   /* GC-owned */
        for (int j = 0; j < mx->d; j++) {
            lua_geti(L, -2, j + 1);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "names[%d] must be a string", j + 1);
            names[j] = lua_tostring(L, -1);
            lua_pop(L, 1);   /* still referenced by the names table */
        }
    }
    model_ud *u = push_model(L);
    char err[512];
    u->m = rk_iforest_train(mx->data, mx->n, mx->d, names, &p, err, sizeof err);
    if (!u->m) return fail(L, err, "invalid_data");
    return 1;
}

/* iforest.load(path [, names]) --> model | nil, msg, "invalid_model" */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char **names = NULL;
    int nnames = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        nnames = (int)luaL_len(L, 2);
        names = lua_newuserdatauv(L, (size_t)(nnames + 1) * sizeof *names, 0);
        for (int j = 0; j < nnames; j++) {
            lua_geti(L, 2, j + 1);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "names[%d] must be a string", j + 1);
            names[j] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    model_ud *u = push_model(L);
    char err[1024];
    u->m = rk_iforest_load(path, names, nnames, err, sizeof err);
    if (!u->m) return fail(L, err, "invalid_model");
    return 1;
}

static int check_nan(lua_State *L, const rk_iforest_t *m, const double *x)
{
    for (int j = 0; j < rk_iforest_features(m); j++) {
        if (isnan(x[j])) {
            const char *n = rk_iforest_name(m, j);
            if (n) lua_pushfstring(L, "feature '%s' is NaN", n);
            else lua_pushfstring(L, "feature %d is NaN", j + 1);
            luaL_pushfail(L);
            lua_insert(L, -2);
            lua_pushliteral(L, "nan");
            return 3;
        }
    }
    return 0;
}

/* model:score(row) --> score | nil, msg, "nan" */
static int model_score(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    double x[RK_IFOREST_EXPLAIN_MAX_FEATURES];
    int d = rk_iforest_features(u->m);
    double *row = x;
    if (d > RK_IFOREST_EXPLAIN_MAX_FEATURES) row = lua_newuserdatauv(L, (size_t)d * sizeof *row, 0);
    read_row(L, 2, 1, d, u->m, row);
    int r = check_nan(L, u->m, row);
    if (r) return r;
    lua_pushnumber(L, rk_iforest_score_row(u->m, row));
    return 1;
}

/* model:score_many(rows_or_matrix [, threads]) --> { scores } | nil, msg, "nan" */
static int model_score_many(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    int threads = (int)luaL_optinteger(L, 3, 0);
    matrix_ud *mx = rows_arg(L, 2, rk_iforest_features(u->m), u->m);
    double *out = lua_newuserdatauv(L, mx->n * sizeof *out, 0);
    char err[256];
    if (rk_iforest_score(u->m, mx->data, mx->n, out, threads, err, sizeof err) < 0) return fail(L, err, "nan");
    lua_createtable(L, (int)mx->n, 0);
    for (size_t i = 0; i < mx->n; i++) {
        lua_pushnumber(L, out[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* model:explain(row) --> contributions, expected, score */
/* Pushes phi (by name or position), the expected score and x's score. */
static int push_explanation(lua_State *L, const rk_iforest_t *m, const double *x, const double *phi)
{
    int d = rk_iforest_features(m);
    lua_createtable(L, rk_iforest_name(m, 0) ? 0 : d, rk_iforest_name(m, 0) ? d : 0);
    for (int j = 0; j < d; j++) {
        lua_pushnumber(L, phi[j]);
        if (rk_iforest_name(m, j)) lua_setfield(L, -2, rk_iforest_name(m, j));
        else lua_rawseti(L, -2, j + 1);
    }
    lua_pushnumber(L, rk_iforest_expected(m));
    lua_pushnumber(L, rk_iforest_score_row(m, x));
    return 3;
}

/* An exact explanation costs milliseconds to tens of milliseconds (2^k
 * subsets per baseline row, k up to the number of features): inside a
 * server request it runs on the pool while the request waits. The task
 * holds its own reference to the model, which is immutable. */
typedef struct {
    rk_task_t base;
    rk_iforest_t *m;
    double x[RK_IFOREST_EXPLAIN_MAX_FEATURES], phi[RK_IFOREST_EXPLAIN_MAX_FEATURES];
} explain_task;

static void explain_run(rk_task_t *t, void *ctx)
{
    (void)ctx;
    explain_task *e = (explain_task *)t;
    t->rc = rk_iforest_explain(e->m, e->x, e->phi, t->err, sizeof t->err);
}

static void explain_release(rk_task_t *t)
{
    rk_iforest_release(((explain_task *)t)->m);
    free(t);
}

static int explain_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    explain_task *e = (explain_task *)ctx;
    if (!lua_toboolean(L, -1)) return fail(L, "the explanation did not finish in time", "timeout");
    lua_pop(L, 1);
    if (e->base.rc < 0) {
        char err[256];
        memcpy(err, e->base.err, sizeof err);
        explain_release(&e->base);
        return fail(L, err, "explain_failed");
    }
    /* Free the task even if a push raises: copy what is needed first. */
    explain_task copy = *e;
    rk_iforest_t *m = e->m;
    free(e);
    int n = push_explanation(L, m, copy.x, copy.phi);
    rk_iforest_release(m);
    return n;
}

static int model_explain(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    int d = rk_iforest_features(u->m);
    if (d > RK_IFOREST_EXPLAIN_MAX_FEATURES)
        return fail(L, "explanations need at most 16 features", "too_many_features");
    double x[RK_IFOREST_EXPLAIN_MAX_FEATURES], phi[RK_IFOREST_EXPLAIN_MAX_FEATURES];
    read_row(L, 2, 1, d, u->m, x);
    int r = check_nan(L, u->m, x);
    if (r) return r;
    if (rk_vm_can_await(L, RK_VM_POOL)) {
        explain_task *e = calloc(1, sizeof *e);
        if (!e) return luaL_error(L, "not enough memory");
        e->m = rk_iforest_retain(u->m);
        memcpy(e->x, x, sizeof x);
        e->base.run = explain_run;
        e->base.release = explain_release;
        return rk_vm_await(L, &e->base, RK_VM_POOL, explain_k);
    }
    char err[256];
    if (rk_iforest_explain(u->m, x, phi, err, sizeof err) < 0) return fail(L, err, "explain_failed");
    return push_explanation(L, u->m, x, phi);
}

/* model:save(path) --> true | nil, msg, "io" */
static int model_save(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char err[1024];
    if (rk_iforest_save(u->m, path, err, sizeof err) < 0) return fail(L, err, "io");
    lua_pushboolean(L, 1);
    return 1;
}

/* model:set_metric(name, value) --> true: kept in the model file (evaluation
 * results travel with the model). Raises past RK_IFOREST_MAX_METRICS. */
static int model_set_metric(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *name = luaL_checkstring(L, 2);
    double v = luaL_checknumber(L, 3);
    if (rk_iforest_set_metric(u->m, name, v) < 0) return luaL_error(L, "too many metrics (at most %d)", RK_IFOREST_MAX_METRICS);
    lua_pushboolean(L, 1);
    return 1;
}

/* iforest.auc(scores, labels) --> ROC AUC of scores (higher = more anomalous)
 * against 0/1 (or boolean) labels; nil when a class is missing. */
static int l_auc(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 1);
    luaL_argcheck(L, (size_t)luaL_len(L, 2) == n, 2, "as many labels as scores");
    double *s = lua_newuserdatauv(L, (n ? n : 1) * sizeof *s, 0);   /* GC-owned */
    int *y = lua_newuserdatauv(L, (n ? n : 1) * sizeof *y, 0);
    int pos = 0;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        if (!lua_isnumber(L, -2)) luaL_error(L, "scores[%d] is not a number", (int)i + 1);
        s[i] = lua_tonumber(L, -2);
        y[i] = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : lua_tointeger(L, -1) != 0;
        pos += y[i];
        lua_pop(L, 2);
    }
    if (pos == 0 || (size_t)pos == n) { luaL_pushfail(L); return 1; }
    lua_pushnumber(L, rk_roc_auc(s, y, n));
    return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }

/* model:info() --> table */
static int model_info(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    rk_iforest_info_t in;
    rk_iforest_info(u->m, &in);
    lua_createtable(L, 0, 12);
    set_int(L, "features", in.d);
    set_int(L, "trees", in.trees);
    set_int(L, "sample_size", in.sample_size);
    set_int(L, "max_depth", in.max_depth);
    set_int(L, "seed", (lua_Integer)in.seed);
    set_int(L, "train_rows", (lua_Integer)in.train_rows);
    set_int(L, "created_at", in.created_at);
    set_int(L, "nodes", (lua_Integer)in.nodes);
    set_int(L, "baseline_rows", in.baseline_rows);
    lua_pushnumber(L, in.expected_score);
    lua_setfield(L, -2, "expected_score");
    if (rk_iforest_name(u->m, 0)) {
        lua_createtable(L, in.d, 0);
        for (int j = 0; j < in.d; j++) { lua_pushstring(L, rk_iforest_name(u->m, j)); lua_rawseti(L, -2, j + 1); }
        lua_setfield(L, -2, "names");
    }
    lua_createtable(L, 0, in.nmetrics);
    for (int i = 0; i < in.nmetrics; i++) { lua_pushnumber(L, in.metric_values[i]); lua_setfield(L, -2, in.metric_names[i]); }
    lua_setfield(L, -2, "metrics");
    return 1;
}

static int model_release(lua_State *L)
{
    model_ud *u = luaL_checkudata(L, 1, MODEL_T);
    rk_iforest_release(u->m);
    u->m = NULL;
    return 0;
}

static int model_tostring(lua_State *L)
{
    model_ud *u = luaL_checkudata(L, 1, MODEL_T);
    if (!u->m) { lua_pushliteral(L, MODEL_T " (released)"); return 1; }
    rk_iforest_info_t in;
    rk_iforest_info(u->m, &in);
    lua_pushfstring(L, MODEL_T " (%d trees, %d features)", in.trees, in.d);
    return 1;
}

static void new_type(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) {
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

int luaopen_riskd_iforest(lua_State *L)
{
    static const luaL_Reg model_methods[] = {
        { "score", model_score }, { "score_many", model_score_many }, { "explain", model_explain },
        { "save", model_save }, { "info", model_info }, { "set_metric", model_set_metric }, { NULL, NULL },
    };
    static const luaL_Reg model_meta[] = {
        { "__gc", model_release }, { "__close", model_release }, { "__tostring", model_tostring },
        { NULL, NULL },
    };
    static const luaL_Reg matrix_methods[] = {
        { "get", matrix_get }, { "set", matrix_set }, { "size", matrix_size }, { NULL, NULL },
    };
    static const luaL_Reg matrix_meta[] = {
        { "__gc", matrix_release }, { "__close", matrix_release }, { "__len", matrix_len },
        { "__tostring", matrix_tostring }, { NULL, NULL },
    };
    static const luaL_Reg fns[] = {
        { "train", l_train }, { "load", l_load }, { "matrix", l_matrix }, { "read_csv", l_read_csv },
        { "current", l_current }, { "auc", l_auc },
        { NULL, NULL },
    };
    new_type(L, MODEL_T, model_meta, model_methods);
    new_type(L, MATRIX_T, matrix_meta, matrix_methods);
    static const luaL_Reg csv_meta[] = { { "__gc", csv_release }, { NULL, NULL } };
    if (luaL_newmetatable(L, CSV_T)) luaL_setfuncs(L, csv_meta, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
