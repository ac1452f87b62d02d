/* vm.h — one Lua state built from one script snapshot, and the only gate
 * through which C calls into Lua.
 *
 * A state is owned by one thread. It is created from a snapshot (vm_snapshot.h):
 * every file is compiled first, so a syntax error anywhere rejects the whole
 * set, then `lib.dispatch` is required and its `handle` function kept. The
 * state has a memory cap (a counting allocator) and every call has a time
 * budget (an instruction-count hook that checks a monotonic deadline).
 */
#ifndef RK_VM_H
#define RK_VM_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "metrics.h"
#include "vm_snapshot.h"
#include "task.h"

struct rk_config;

/* What the embedding tells the `riskd.engine` module; NULL outside a server. */
struct rk_store;
struct rk_iforest;

typedef struct rk_vm_host {
    rk_metrics_t *metrics;
    int worker;
    const struct rk_config *config;
    struct rk_store *store;       /* this worker's own store handle, or NULL */
    struct rk_geo *geo;           /* the server's IP databases, or NULL (enrichment off) */
    struct rk_writer *writer;     /* the server's store writer (group commit), or NULL: write directly */
    rk_pool_t *pool;              /* threads for slow calls (password hashing), or NULL: call directly */
    struct rk_intel *intel;       /* the threat-intelligence folder, or NULL */
    struct rk_hub *hub;           /* the real-time message bus, or NULL (batch commands) */
    struct rk_rates_syncer *rates_sync;   /* site-wide rates shared through MongoDB, or NULL */
    struct rk_lockout *lockout;   /* the server's sign-in throttle, or NULL (each state keeps its own) */
    struct rk_calib *calib;       /* the server's calibrated levels, or NULL (each state keeps its own) */
    struct rk_xacct *xacct;       /* the server's cross-account memory, or NULL (each state keeps its own) */
    /* What the server serves of rule file path: 1 the content data (len
     * bytes), -1 the file does not load (why filled), 0 neither yet; *gen
     * the generation being served. NULL outside a server. */
    int (*rule_state)(void *server, const char *path, const char *data, size_t len, uint64_t *gen,
                      char *why, size_t whylen);
    void *server;
    struct rk_deliverer *deliverer;   /* the outbox's deliveries (deliver.h), or NULL */
    struct rk_live *live;         /* the embedded store's analysis state in memory (store_live.h), or NULL */
} rk_vm_host_t;

typedef struct rk_vm rk_vm_t;

typedef struct rk_vm_opts {
    rk_snapshot_t *scripts;        /* retained by the vm */
    size_t memory_limit;          /* bytes; 0 = none */
    int load_timeout_ms;          /* budget for compiling and running the entry module */
    const rk_vm_host_t *host;     /* borrowed; must outlive the vm */
    const char *entry;            /* module to require, "lib.dispatch" */
    rk_snapshot_t *rules;          /* risk rules (sandboxed), or NULL; retained */
    uint64_t generation;          /* of the code set, for /healthz and reloads */
    struct rk_iforest *model;     /* the login model, or NULL; retained by the vm */
} rk_vm_opts_t;

rk_vm_t *rk_vm_new(const rk_vm_opts_t *o, char *err, size_t errlen);
void rk_vm_free(rk_vm_t *vm);
lua_State *rk_vm_state(rk_vm_t *vm);
const rk_snapshot_t *rk_vm_scripts(const rk_vm_t *vm);
const rk_snapshot_t *rk_vm_rules(const rk_vm_t *vm);   /* NULL when loaded without rules */
uint64_t rk_vm_generation(const rk_vm_t *vm);
struct rk_iforest *rk_vm_model(const rk_vm_t *vm);   /* borrowed; NULL without a model */
/* Pushes the entry module's value (a table, or the function it returned). [-0,+1,-] */
void rk_vm_push_entry(rk_vm_t *vm);
size_t rk_vm_memory(const rk_vm_t *vm);

/* Calls the function below nargs arguments with a traceback handler and a
 * time budget. On success leaves nresults values; on failure leaves nothing
 * and copies the message (with traceback) into err. Returns 0, -1 on error,
 * or -2 when the budget ran out. [-(nargs+1),+(nresults|0),-] */
int rk_vm_call(rk_vm_t *vm, int nargs, int nresults, int timeout_ms, char *err, size_t errlen);

/* Between two calls: a full collection when the state holds more than half
 * its cap. lauxlib's buffers (string.rep, table.concat) call the allocator
 * without Lua's emergency collection, so garbage left by a failed call would
 * otherwise make the next call fail too. */
void rk_vm_idle(rk_vm_t *vm);

/* Why a limited call stopped (rk_vm_call_limited's return when not 0). */
#define RK_VM_ERROR (-1)
#define RK_VM_TIMEOUT (-2)
#define RK_VM_INSTRUCTIONS (-3)
#define RK_VM_MEMORY (-4)

typedef struct rk_vm_limits {
    int timeout_ms;             /* wall clock; 0 = none */
    long max_instructions;      /* VM instructions, in steps of 10,000; <= 0 = none */
    size_t max_memory;          /* bytes the call may add to the state; 0 = none */
} rk_vm_limits_t;

/* rk_vm_call with every limit; limits nest (the tighter wins) and the outer
 * call's come back afterwards. Returns 0 or one of RK_VM_*. */
int rk_vm_call_limited(rk_vm_t *vm, int nargs, int nresults, const rk_vm_limits_t *lim, char *err, size_t errlen);

/* rk_vm_call_limited on the thread L of the vm's state (a request's
 * coroutine, when a binding running inside one calls back into Lua). */
int rk_vm_pcall(rk_vm_t *vm, lua_State *L, int nargs, int nresults, const rk_vm_limits_t *lim, char *err, size_t errlen);

/* ---- requests as coroutines ----
 * A server request runs in a coroutine of the state so that it can wait —
 * for a store write to commit, a password to hash — without holding its
 * worker: a binding that can hand its work to another thread checks
 * rk_vm_can_await, then suspends with rk_vm_await(L, task, queue, k); the
 * worker sees RK_VM_WAITING, takes the task with rk_vm_awaited, sends it
 * off, and later resumes the coroutine with one boolean pushed: true when
 * the task is done, false when the wait timed out (the task then belongs to
 * whoever receives it; the continuation must not touch it). k gets the task
 * as its lua_KContext. Elsewhere (riskd run, busted, inside a rule, inside
 * a coroutine of the script's own) can_await is 0 and bindings call
 * directly. */
typedef enum { RK_VM_WRITER = 1, RK_VM_POOL = 2, RK_VM_TIMER = 3 } rk_vm_queue;   /* TIMER: the task's rc is ms to wait */
#define RK_VM_DONE 0
#define RK_VM_WAITING 1

/* Resumes co (nargs values pushed on it) with budget_ns of running time.
 * RK_VM_DONE: *nres results on top of co; RK_VM_WAITING; or one of RK_VM_*
 * errors with err filled (message and traceback). */
int rk_vm_resume(rk_vm_t *vm, lua_State *co, int nargs, int *nres, uint64_t budget_ns, char *err, size_t errlen);
int rk_vm_can_await(lua_State *L, rk_vm_queue q);
int rk_vm_await(lua_State *L, rk_task_t *t, rk_vm_queue q, lua_KFunction k);
rk_task_t *rk_vm_awaited(rk_vm_t *vm, rk_vm_queue *q);
/* A suspended request keeps its state alive across a reload: rk_vm_free
 * of a held state waits for the last release. */
void rk_vm_hold(rk_vm_t *vm);
void rk_vm_release(rk_vm_t *vm);

/* Opens the engine's Lua modules into package.preload. Shared with riskd.so. */
void rk_vm_preload(lua_State *L);

/* The vm that owns L, or NULL when L was not made by rk_vm_new (riskd.so
 * loaded by a plain lua interpreter). */
rk_vm_t *rk_vm_of(lua_State *L);

/* The host of the state L (from its registry), or NULL. */
const rk_vm_host_t *rk_vm_host(lua_State *L);


/* For C functions that can run long inside one Lua call (the budgeted
 * pattern matcher): whether the running call's deadline has passed, and
 * the stop, raised as the instruction hook raises it (re-armed so that a
 * pcall in Lua cannot swallow it). rk_vm_expired(NULL) is 0. */
int rk_vm_expired(rk_vm_t *vm);
int rk_vm_stop(lua_State *L, rk_vm_t *vm);

/* The watchdog's fire function (watchdog.h): running is the lua_State a
 * watched thread publishes for its call; the next instruction stops it
 * when its deadline has passed. Signal-safe, as lua.c's Ctrl-C handler. */
void rk_vm_watchdog_fire(void *running);

#endif
