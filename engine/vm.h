/* vm.h — one Lua state built from one script snapshot, and the only gate
 * through which C calls into Lua.
 *
 * A state is owned by one thread. It is created from a snapshot (scripts.h):
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

#include "metrics.h"
#include "scripts.h"

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
} rk_vm_host_t;

typedef struct rk_vm rk_vm_t;

typedef struct rk_vm_opts {
    rk_scripts_t *scripts;        /* retained by the vm */
    size_t memory_limit;          /* bytes; 0 = none */
    int load_timeout_ms;          /* budget for compiling and running the entry module */
    const rk_vm_host_t *host;     /* borrowed; must outlive the vm */
    const char *entry;            /* module to require, "lib.dispatch" */
    rk_scripts_t *rules;          /* risk rules (sandboxed), or NULL; retained */
    uint64_t generation;          /* of the code set, for /healthz and reloads */
    struct rk_iforest *model;     /* the login model, or NULL; retained by the vm */
} rk_vm_opts_t;

rk_vm_t *rk_vm_new(const rk_vm_opts_t *o, char *err, size_t errlen);
void rk_vm_free(rk_vm_t *vm);
lua_State *rk_vm_state(rk_vm_t *vm);
const rk_scripts_t *rk_vm_scripts(const rk_vm_t *vm);
const rk_scripts_t *rk_vm_rules(const rk_vm_t *vm);   /* NULL when loaded without rules */
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

/* Opens the engine's Lua modules into package.preload. Shared with riskd.so. */
void rk_vm_preload(lua_State *L);

/* The vm that owns L, or NULL when L was not made by rk_vm_new (riskd.so
 * loaded by a plain lua interpreter). */
rk_vm_t *rk_vm_of(lua_State *L);

/* The host of the state L (from its registry), or NULL. */
const rk_vm_host_t *rk_vm_host(lua_State *L);

uint64_t rk_now_ns(void);

#endif
