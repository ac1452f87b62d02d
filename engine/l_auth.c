/* l_auth.c — `riskd.auth`: passwords and session tokens for Lua.
 *
 *   local auth = require("riskd.auth")
 *   auth.policy(user, pw)          --> true | nil, msg, "weak_password"
 *   auth.hash(pw)                  --> "$argon2id$..." | nil, msg, "hash_failed"
 *   auth.verify_password(hash, pw) --> true | false (| nil, msg, "timeout" in a server, when the pool is saturated)
 *   auth.issue(user, role [, { ttl = s, pwv = version, secret = s }])
 *                                  --> token, { sub, role, jti, pwv, iat, exp } | nil, msg, "no_secret"
 *   auth.verify(token [, secret])  --> { sub, role, jti, pwv, iat, exp } | nil, msg, "invalid_token"
 *   auth.ttl()                     --> the server's session lifetime in seconds
 *   auth.lockout_wait(account, addr [, now])  --> seconds to wait, why ("address",
 *                                  "address_for_account", "account") | 0: verify now
 *   auth.lockout_failed(account, addr [, now]); auth.lockout_succeeded(account, addr [, now])
 *                                  sign-in throttling (lockout.h): the server's, shared
 *                                  by its workers and kept across reloads; elsewhere the
 *                                  state's own, with the default settings
 *
 * The secret is the server's JWT_SECRET; outside a server (specs, `riskd
 * run`) it is the optional last argument. It is never given to Lua.
 *
 * Hashing and verifying take ~40 ms of argon2id each: inside a server
 * request they run on the server's pool (task.h) while the request is
 * suspended, so one sign-in never stalls the other requests of its worker.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jwt.h"
#include "l_modules.h"
#include "lockout.h"
#include "password.h"
#include "vm.h"

#define DEFAULT_TTL_S 3600

static const char *server_secret(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    return h && h->config && h->config->jwt_secret[0] ? h->config->jwt_secret : NULL;
}

static int fail(lua_State *L, const char *msg, const char *code)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

static int server_ttl(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    return h && h->config && h->config->token_ttl_s > 0 ? h->config->token_ttl_s : DEFAULT_TTL_S;
}

static void push_claims(lua_State *L, const rk_jwt_claims_t *c)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, c->sub);
    lua_setfield(L, -2, "sub");
    lua_pushstring(L, c->role);
    lua_setfield(L, -2, "role");
    lua_pushstring(L, c->jti);
    lua_setfield(L, -2, "jti");
    lua_pushstring(L, c->pwv);
    lua_setfield(L, -2, "pwv");
    lua_pushinteger(L, (lua_Integer)c->iat);
    lua_setfield(L, -2, "iat");
    lua_pushinteger(L, (lua_Integer)c->exp);
    lua_setfield(L, -2, "exp");
}

static int l_policy(lua_State *L)
{
    const char *user = luaL_checkstring(L, 1), *pw = luaL_checkstring(L, 2);
    char err[256];
    if (rk_password_policy(user, pw, err, sizeof err) < 0) return fail(L, err, "weak_password");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- argon2 on the pool ---- */

typedef struct {
    rk_task_t base;
    int verify;                        /* 0: hash pw; 1: verify pw against hash */
    int ok;                            /* verify's answer */
    char out[RK_PASSWORD_HASH_MAX];    /* hash's answer */
    char *hash, *pw;                   /* in buf */
    size_t pwlen;
    char buf[];
} pwtask_t;

static void pw_run(rk_task_t *t, void *ctx)
{
    (void)ctx;
    pwtask_t *p = (pwtask_t *)t;
    if (p->verify) p->ok = rk_password_verify(p->hash, p->pw) == 1;
    else t->rc = rk_password_hash(p->pw, p->out, sizeof p->out, t->err, sizeof t->err);
    /* The password leaves memory as soon as it is used. */
    explicit_bzero(p->pw, p->pwlen);
}

static void pw_release(rk_task_t *t)
{
    pwtask_t *p = (pwtask_t *)t;
    explicit_bzero(p->pw, p->pwlen);
    free(p);
}

/* After the wait: [done] on top. */
static int pw_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    pwtask_t *p = (pwtask_t *)ctx;
    if (!lua_toboolean(L, -1)) {
        /* Timed out: the task is released when it comes back. A verify
         * that did not run is neither true nor false. */
        return fail(L, p->verify ? "the password check did not finish in time" : "password hashing did not finish in time",
                    p->verify ? "timeout" : "hash_failed");
    }
    int verify = p->verify, ok = p->ok, rc = p->base.rc;
    char out[RK_PASSWORD_HASH_MAX], err[256];
    memcpy(out, p->out, sizeof out);
    memcpy(err, p->base.err, sizeof err);
    pw_release(&p->base);
    if (verify) { lua_pushboolean(L, ok); return 1; }
    if (rc < 0) return fail(L, err, "hash_failed");
    lua_pushstring(L, out);
    return 1;
}

/* Suspends the request while the pool hashes or verifies. */
static int pw_await(lua_State *L, int verify, const char *hash, const char *pw, size_t pwlen)
{
    size_t hlen = hash ? strlen(hash) + 1 : 0;
    pwtask_t *p = calloc(1, sizeof *p + hlen + pwlen + 1);
    if (!p) return luaL_error(L, "not enough memory");
    p->verify = verify;
    p->hash = p->buf;
    if (hash) memcpy(p->hash, hash, hlen);
    p->pw = p->buf + hlen;
    memcpy(p->pw, pw, pwlen);
    p->pw[pwlen] = '\0';
    p->pwlen = pwlen;
    p->base.run = pw_run;
    p->base.release = pw_release;
    return rk_vm_await(L, &p->base, RK_VM_POOL, pw_k);
}

static int l_hash(lua_State *L)
{
    size_t n;
    const char *pw = luaL_checklstring(L, 1, &n);
    if (rk_vm_can_await(L, RK_VM_POOL)) return pw_await(L, 0, NULL, pw, n);
    char out[RK_PASSWORD_HASH_MAX], err[256];
    if (rk_password_hash(pw, out, sizeof out, err, sizeof err) < 0) return fail(L, err, "hash_failed");
    lua_pushstring(L, out);
    return 1;
}

static int l_verify_password(lua_State *L)
{
    size_t n;
    const char *hash = luaL_checkstring(L, 1), *pw = luaL_checklstring(L, 2, &n);
    if (rk_vm_can_await(L, RK_VM_POOL)) return pw_await(L, 1, hash, pw, n);
    lua_pushboolean(L, rk_password_verify(hash, pw) == 1);
    return 1;
}

static int l_issue(lua_State *L)
{
    size_t nsub, nrole;
    const char *sub = luaL_checklstring(L, 1, &nsub), *role = luaL_checklstring(L, 2, &nrole);
    lua_Integer ttl = server_ttl(L);
    const char *secret = server_secret(L), *pwv = "";
    size_t npwv = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (lua_getfield(L, 3, "ttl") != LUA_TNIL) ttl = luaL_checkinteger(L, -1);
        if (lua_getfield(L, 3, "secret") != LUA_TNIL) secret = luaL_checkstring(L, -1);
        if (lua_getfield(L, 3, "pwv") != LUA_TNIL) pwv = luaL_checklstring(L, -1, &npwv);
        /* the strings stay referenced by the options table during the call */
    }
    luaL_argcheck(L, npwv < sizeof ((rk_jwt_claims_t *)0)->pwv, 3, "pwv too long");
    luaL_argcheck(L, nsub > 0 && nsub < sizeof ((rk_jwt_claims_t *)0)->sub, 1, "user name length");
    luaL_argcheck(L, nrole > 0 && nrole < sizeof ((rk_jwt_claims_t *)0)->role, 2, "role length");
    luaL_argcheck(L, ttl > 0, 3, "ttl must be positive");
    if (!secret) return fail(L, "JWT_SECRET is not configured", "no_secret");
    rk_jwt_claims_t c;
    memset(&c, 0, sizeof c);
    memcpy(c.sub, sub, nsub);
    memcpy(c.role, role, nrole);
    memcpy(c.pwv, pwv, npwv);
    char tok[RK_JWT_MAX], err[256];
    if (rk_jwt_issue(secret, &c, (int64_t)time(NULL), (int64_t)ttl, tok, sizeof tok, err, sizeof err) < 0)
        return fail(L, err, "no_secret");
    lua_pushstring(L, tok);
    push_claims(L, &c);
    return 2;
}

static int l_verify(lua_State *L)
{
    const char *tok = luaL_checkstring(L, 1);
    const char *secret = lua_isnoneornil(L, 2) ? server_secret(L) : luaL_checkstring(L, 2);
    if (!secret) return fail(L, "JWT_SECRET is not configured", "no_secret");
    rk_jwt_claims_t c;
    char err[256];
    if (rk_jwt_verify(secret, tok, (int64_t)time(NULL), &c, err, sizeof err) < 0) return fail(L, err, "invalid_token");
    push_claims(L, &c);
    return 1;
}

static int l_ttl(lua_State *L)
{
    lua_pushinteger(L, server_ttl(L));
    return 1;
}

/* ---- sign-in throttling ---- */

#define LOCKOUT_T "riskd.auth.lockout"
static const char LOCKOUT_KEY = 'l';

static int lockout_gc(lua_State *L)
{
    rk_lockout_t **u = luaL_checkudata(L, 1, LOCKOUT_T);
    rk_lockout_free(*u);
    *u = NULL;
    return 0;
}

/* The server's throttle, or this state's own (made on first use). */
static rk_lockout_t *lockout_of(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    if (h && h->lockout) return h->lockout;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LOCKOUT_KEY) == LUA_TUSERDATA) {
        rk_lockout_t *l = *(rk_lockout_t **)lua_touserdata(L, -1);
        lua_pop(L, 1);
        return l;
    }
    lua_pop(L, 1);
    rk_lockout_t **u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = NULL;
    if (luaL_newmetatable(L, LOCKOUT_T)) {
        lua_pushcfunction(L, lockout_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    rk_lockout_cfg_t c;
    rk_lockout_defaults(&c);
    if (!(*u = rk_lockout_new(&c))) luaL_error(L, "not enough memory");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &LOCKOUT_KEY);
    return *u;
}

static int64_t opt_now(lua_State *L, int i)
{
    return lua_isnoneornil(L, i) ? (int64_t)time(NULL) : (int64_t)luaL_checkinteger(L, i);
}

static int l_lockout_wait(lua_State *L)
{
    const char *account = luaL_checkstring(L, 1), *addr = luaL_optstring(L, 2, "");
    const char *why = NULL;
    int wait = rk_lockout_wait(lockout_of(L), account, addr, opt_now(L, 3), &why);
    lua_pushinteger(L, wait);
    if (!wait) return 1;
    lua_pushstring(L, why);
    return 2;
}

static int l_lockout_failed(lua_State *L)
{
    rk_lockout_failed(lockout_of(L), luaL_checkstring(L, 1), luaL_optstring(L, 2, ""), opt_now(L, 3));
    return 0;
}

static int l_lockout_succeeded(lua_State *L)
{
    rk_lockout_succeeded(lockout_of(L), luaL_checkstring(L, 1), luaL_optstring(L, 2, ""), opt_now(L, 3));
    return 0;
}

int luaopen_riskd_auth(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "policy", l_policy }, { "hash", l_hash }, { "verify_password", l_verify_password },
        { "issue", l_issue }, { "verify", l_verify }, { "ttl", l_ttl }, { "lockout_wait", l_lockout_wait },
        { "lockout_failed", l_lockout_failed }, { "lockout_succeeded", l_lockout_succeeded }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
