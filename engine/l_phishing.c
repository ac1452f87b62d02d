/* l_phishing.c — `riskd.phishing`: the phishing cores (phish.h, textmodel.h,
 * phish_model.h) for Lua.
 *
 *   local ph = require("riskd.phishing")
 *   ph.config{ protected = {...}, shorteners = {...} }  --> cfg | nil, err
 *   ph.parse(raw [, { max_bytes = n, max_parts = n, max_ms = n }])   -- on the
 *       server's pool when called from a request
 *       --> msg | nil, err, code ("too_big", "too_complex", "not_a_message")
 *       msg = { from, from_name, from_count, needless_encoding, reply_to, return_path, to, subject,
 *               message_id, date, text, html, auth = {...},
 *               attachments = { {name, type, size} }, parts, truncated }
 *   ph.analyze(cfg, msg)   -- msg as parse gives it, or built from fields; on the
 *                             server's pool when called from a request
 *       --> { urls = { {url, host, unicode_host, registrable_domain,
 *                       shown_domain, brand, indicators = {...}} },
 *             indicators = { name = true }, urgency_hits, credential_hits,
 *             from_domain, from_brand, from_known_tld, from_cheap_tld, body, dense = {...}, urls_truncated }
 *   ph.encode(text, how [, charset]) --> string | nil, err   (how: base64,
 *                            quoted-printable, header, none; GMime's encoders)
 *   ph.messages(path)      --> iterator: raw, source | false, source, err (one
 *                            unreadable file; go on) — an mbox, a maildir, a
 *                            folder of .eml files or one message file
 *   ph.dense_names()       --> { the model's dense feature names }
 *   ph.current()           --> the live model of the models folder | nil [, err]
 *   ph.load(path)          --> model | nil, err, "invalid_model"
 *   ph.trainer()           --> t; t:add(text, dense, label); t:count();
 *                              t:train{epochs, rate, l2, seed} --> model | nil, err
 *   m:score(text, dense)   --> probability
 *   m:explain(text, dense [, k]) --> { {feature, contribution} } largest first
 *   m:info()               --> { created, metrics = {name = v}, dense = {...}, provenance }
 *   m:set_provenance(text)  where the model comes from, kept in its file
 *   m:set_metric(name, v); m:save(path) --> true | nil, err
 *
 * Every function shares one scratch userdata (upvalue 1) holding the C
 * message, result and feature row, freed at the start of the next call and
 * by __gc: a raise between allocation and return leaks nothing.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "l_modules.h"
#include "phish.h"
#include "phish_mailstore.h"
#include "textmodel.h"
#include "phish_model.h"
#include "vm.h"

#define CFG_T "riskd.phishing.config"
#define MODEL_T "riskd.phishing.model"
#define TRAINER_T "riskd.phishing.trainer"
#define WORK_T "riskd.phishing.work"
#define MAILBOX_T "riskd.phishing.mailbox"

typedef struct {
    rk_phish_msg_t msg;
    rk_phish_result_t res;
    rk_tm_vec_t vec;
    int has_msg;
} work_t;

typedef struct { rk_phish_cfg_t *c; } cfg_ud;
typedef struct { rk_textmodel_t *m; } model_ud;
typedef struct {
    rk_tm_vec_t *rows;
    int *labels;
    size_t n, cap;
    int ndense;
} trainer_ud;

static work_t *scratch(lua_State *L)
{
    work_t *w = lua_touserdata(L, lua_upvalueindex(1));
    if (w->has_msg) { rk_phish_msg_free(&w->msg); w->has_msg = 0; }
    rk_phish_result_free(&w->res);
    return w;
}

static int work_gc(lua_State *L)
{
    work_t *w = luaL_checkudata(L, 1, WORK_T);
    if (w->has_msg) rk_phish_msg_free(&w->msg);
    w->has_msg = 0;
    rk_phish_result_free(&w->res);
    rk_tm_vec_free(&w->vec);
    return 0;
}

static cfg_ud *check_cfg(lua_State *L, int i)
{
    cfg_ud *u = luaL_checkudata(L, i, CFG_T);
    if (!u->c) luaL_error(L, "attempt to use a released phishing config");
    return u;
}

static model_ud *check_model(lua_State *L, int i)
{
    model_ud *u = luaL_checkudata(L, i, MODEL_T);
    if (!u->m) luaL_error(L, "attempt to use a released model");
    return u;
}

static trainer_ud *check_trainer(lua_State *L, int i) { return luaL_checkudata(L, i, TRAINER_T); }

/* ---- config ------------------------------------------------------------ */

/* The strings of t[field] (an array), on the stack, into out (NULL-ended). */
static int string_list(lua_State *L, int t, const char *field, const char **out, int max)
{
    int n = 0;
    if (lua_getfield(L, t, field) == LUA_TTABLE) {
        int len = (int)luaL_len(L, -1);
        for (int i = 1; i <= len && n < max; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_type(L, -1) == LUA_TSTRING) out[n++] = lua_tostring(L, -1);
            lua_pop(L, 1);   /* still referenced by the table */
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "phishing.config: %s must be an array of strings", field);
    }
    out[n] = NULL;
    return n;
}

static int l_config(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *prot[513], *shorts[513];
    string_list(L, 1, "protected", prot, 512);
    string_list(L, 1, "shorteners", shorts, 512);
    cfg_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->c = NULL;
    luaL_setmetatable(L, CFG_T);
    char err[256];
    if (!(u->c = rk_phish_cfg_new(prot, shorts, err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

static int cfg_gc(lua_State *L)
{
    cfg_ud *u = luaL_checkudata(L, 1, CFG_T);
    rk_phish_cfg_free(u->c);
    u->c = NULL;
    return 0;
}

/* ---- messages ---------------------------------------------------------- */

static void set_field(lua_State *L, const char *name, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, name);
}

static void push_msg(lua_State *L, const rk_phish_msg_t *m)
{
    lua_createtable(L, 0, 16);
    set_field(L, "from", m->from_addr);
    set_field(L, "from_name", m->from_name);
    lua_pushinteger(L, m->from_count);
    lua_setfield(L, -2, "from_count");
    lua_pushboolean(L, m->needless_encoding);
    lua_setfield(L, -2, "needless_encoding");
    set_field(L, "reply_to", m->reply_to);
    set_field(L, "return_path", m->return_path);
    set_field(L, "to", m->to);
    set_field(L, "subject", m->subject);
    set_field(L, "message_id", m->message_id);
    set_field(L, "date", m->date);
    set_field(L, "text", m->text);
    set_field(L, "html", m->html);
    lua_createtable(L, m->nauth, 0);
    for (int i = 0; i < m->nauth; i++) { lua_pushstring(L, m->auth[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "auth");
    lua_createtable(L, m->natts, 0);
    for (int i = 0; i < m->natts; i++) {
        lua_createtable(L, 0, 3);
        set_field(L, "name", m->atts[i].name);
        set_field(L, "type", m->atts[i].type);
        lua_pushinteger(L, (lua_Integer)m->atts[i].size);
        lua_setfield(L, -2, "size");
        if (m->atts[i].ncontents > 0) {
            lua_createtable(L, m->atts[i].ncontents, 0);
            for (int k = 0; k < m->atts[i].ncontents; k++) {
                lua_pushstring(L, m->atts[i].contents[k]);
                lua_rawseti(L, -2, k + 1);
            }
            lua_setfield(L, -2, "contents");
        }
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "attachments");
    lua_pushinteger(L, m->nparts);
    lua_setfield(L, -2, "parts");
    lua_pushboolean(L, m->truncated);
    lua_setfield(L, -2, "truncated");
}

/* The answer of a parse: msg, or nil, err, code. */
static int parse_result(lua_State *L, int rc, const char *err, work_t *w)
{
    if (rc != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushstring(L, rc == RK_PHISH_TOO_BIG ? "too_big" : rc == RK_PHISH_TOO_COMPLEX ? "too_complex" : "not_a_message");
        return 3;
    }
    push_msg(L, &w->msg);
    return 1;
}

/* ---- parsing on the pool ----
 * GMime, the decoders and libarchive run for as long as a hostile message
 * makes them (within the limits' bytes and time): in a server that is the
 * pool's time, not the event loop's. */

typedef struct {
    rk_task_t base;
    rk_phish_limits_t lim;
    rk_phish_msg_t msg;
    size_t len;
    char raw[];
} parse_task_t;

static void parse_run(rk_task_t *t, void *ctx)
{
    (void)ctx;
    parse_task_t *p = (parse_task_t *)t;
    t->rc = rk_phish_parse(p->raw, p->len, &p->lim, &p->msg, t->err, sizeof t->err);
}

static void parse_release(rk_task_t *t)
{
    parse_task_t *p = (parse_task_t *)t;
    rk_phish_msg_free(&p->msg);
    free(p);
}

/* After the wait: [done] on top. */
static int parse_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    parse_task_t *p = (parse_task_t *)ctx;
    if (!lua_toboolean(L, -1)) {   /* timed out: the task is released when it comes back */
        luaL_pushfail(L);
        lua_pushliteral(L, "the message was not parsed in time");
        lua_pushliteral(L, "too_complex");
        return 3;
    }
    /* The message moves into the scratch, which frees it whatever happens next. */
    work_t *w = scratch(L);
    w->msg = p->msg;
    w->has_msg = 1;
    memset(&p->msg, 0, sizeof p->msg);
    char err[sizeof p->base.err];
    memcpy(err, p->base.err, sizeof err);
    int rc = p->base.rc;
    parse_release(&p->base);
    return parse_result(L, rc, err, w);
}

static int l_parse(lua_State *L)
{
    size_t len;
    const char *raw = luaL_checklstring(L, 1, &len);
    rk_phish_limits_t lim;
    rk_phish_limits_default(&lim);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "max_bytes") == LUA_TNUMBER) lim.max_bytes = (size_t)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "max_parts") == LUA_TNUMBER) lim.max_parts = (int)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "max_ms") == LUA_TNUMBER) lim.max_ms = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 3);
    }
    if (len <= lim.max_bytes && rk_vm_can_await(L, RK_VM_POOL)) {
        parse_task_t *p = calloc(1, sizeof *p + len);
        if (!p) return luaL_error(L, "not enough memory");
        memcpy(p->raw, raw, len);
        p->len = len;
        p->lim = lim;
        p->base.run = parse_run;
        p->base.release = parse_release;
        return rk_vm_await(L, &p->base, RK_VM_POOL, parse_k);
    }
    work_t *w = scratch(L);
    char err[256];
    w->has_msg = 1;
    int rc = rk_phish_parse(raw, len, &lim, &w->msg, err, sizeof err);
    return parse_result(L, rc, err, w);
}

/* A string field of the table at t into *dst (copied, capped). */
static int copy_field(lua_State *L, int t, const char *name, char **dst, size_t cap)
{
    int rc = 0;
    if (lua_getfield(L, t, name) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        rc = rk_phish_set(dst, s, n, cap);
    }
    lua_pop(L, 1);
    return rc;
}

/* msg (a table) into w->msg. Only reads (lua_getfield on plain tables,
 * rawgeti) happen while C memory is live; it is the scratch's anyway. */
static int read_msg(lua_State *L, int t, work_t *w)
{
    rk_phish_msg_t *m = &w->msg;
    if (rk_phish_msg_init(m) < 0) return -1;
    w->has_msg = 1;
    const size_t big = 256u << 10;
    if (copy_field(L, t, "from", &m->from_addr, 1024) || copy_field(L, t, "from_name", &m->from_name, 1024) ||
        copy_field(L, t, "reply_to", &m->reply_to, 1024) || copy_field(L, t, "return_path", &m->return_path, 1024) ||
        copy_field(L, t, "to", &m->to, 1024) || copy_field(L, t, "subject", &m->subject, 4096) ||
        copy_field(L, t, "text", &m->text, big) || copy_field(L, t, "html", &m->html, big))
        return -1;
    if (lua_getfield(L, t, "auth") == LUA_TTABLE) {
        int n = (int)lua_rawlen(L, -1);
        if (n > 16) n = 16;
        m->auth = calloc((size_t)n + 1, sizeof *m->auth);
        if (!m->auth) return -1;
        for (int i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING) {
                size_t sl;
                const char *s = lua_tolstring(L, -1, &sl);
                if (rk_phish_set(&m->auth[m->nauth], s, sl, 2048) < 0) return -1;
                m->nauth++;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, t, "attachments") == LUA_TTABLE) {
        int n = (int)lua_rawlen(L, -1);
        if (n > 64) n = 64;
        m->atts = calloc((size_t)n + 1, sizeof *m->atts);
        if (!m->atts) return -1;
        for (int i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TTABLE) {
                rk_phish_att_t *a = &m->atts[m->natts++];
                int top = lua_gettop(L);
                if (copy_field(L, top, "name", &a->name, 1024) || copy_field(L, top, "type", &a->type, 256)) return -1;
                if (!a->name && rk_phish_set(&a->name, "", 0, 0) < 0) return -1;
                if (!a->type && rk_phish_set(&a->type, "", 0, 0) < 0) return -1;
                if (lua_getfield(L, top, "size") == LUA_TNUMBER) a->size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                if (lua_getfield(L, top, "contents") == LUA_TTABLE) {   /* names inside an archive */
                    int nc = (int)lua_rawlen(L, -1);
                    if (nc > 256) nc = 256;
                    a->contents = calloc((size_t)nc + 1, sizeof *a->contents);
                    if (!a->contents) return -1;
                    for (int k = 1; k <= nc; k++) {
                        if (lua_rawgeti(L, -1, k) == LUA_TSTRING) {
                            size_t cl;
                            const char *cs = lua_tolstring(L, -1, &cl);
                            if (rk_phish_set(&a->contents[a->ncontents], cs, cl, 1024) < 0) return -1;
                            a->ncontents++;
                        }
                        lua_pop(L, 1);
                    }
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return 0;
}

static void push_flags(lua_State *L, unsigned flags, const char *const *names, int n, int as_set)
{
    lua_newtable(L);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!(flags & (1u << i))) continue;
        if (as_set) { lua_pushboolean(L, 1); lua_setfield(L, -2, names[i]); }
        else { lua_pushstring(L, names[i]); lua_rawseti(L, -2, ++k); }
    }
}

static void set_opt(lua_State *L, const char *name, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, name);
}

/* The analysis in r as the Lua table ph.analyze answers. */
static int push_result(lua_State *L, const rk_phish_result_t *r)
{
    lua_createtable(L, 0, 12);
    lua_createtable(L, r->nurls, 0);
    for (int i = 0; i < r->nurls; i++) {
        const rk_phish_url_t *u = &r->urls[i];
        lua_createtable(L, 0, 7);
        set_opt(L, "url", u->url);
        set_opt(L, "host", u->host);
        set_opt(L, "unicode_host", u->unicode_host);
        set_opt(L, "registrable_domain", u->domain);
        set_opt(L, "shown_domain", u->shown);
        set_opt(L, "brand", u->brand);
        push_flags(L, u->flags, rk_phish_url_flag_names, RK_PU_NFLAGS, 0);
        lua_setfield(L, -2, "indicators");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "urls");
    push_flags(L, r->flags, rk_phish_msg_flag_names, RK_PM_NFLAGS, 1);
    lua_setfield(L, -2, "indicators");
    lua_pushinteger(L, r->urgency_hits);
    lua_setfield(L, -2, "urgency_hits");
    lua_pushinteger(L, r->credential_hits);
    lua_setfield(L, -2, "credential_hits");
    lua_pushinteger(L, r->prize_hits);
    lua_setfield(L, -2, "prize_hits");
    set_opt(L, "from_domain", r->from_domain);
    set_opt(L, "from_brand", r->from_brand);
    lua_pushboolean(L, r->from_known_tld);
    lua_setfield(L, -2, "from_known_tld");
    lua_pushboolean(L, r->from_cheap_tld);
    lua_setfield(L, -2, "from_cheap_tld");
    set_opt(L, "body", r->body_text);
    lua_pushboolean(L, r->truncated_urls);
    lua_setfield(L, -2, "urls_truncated");
    float d[RK_PHISH_NDENSE];
    rk_phish_dense(r, d);
    lua_createtable(L, RK_PHISH_NDENSE, 0);
    for (int i = 0; i < RK_PHISH_NDENSE; i++) { lua_pushnumber(L, d[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "dense");
    return 1;
}

/* ---- analysing on the pool ----
 * The links, senders, HTML and look-alikes of a message take up to some ms
 * of a hostile one: in a server that is the pool's time, as parsing is. */

typedef struct {
    rk_task_t base;
    rk_phish_cfg_t *cfg;        /* retained: the request may stop waiting, its state go away */
    rk_phish_msg_t msg;
    rk_phish_result_t res;
} analyze_task_t;

static void analyze_run(rk_task_t *t, void *ctx)
{
    (void)ctx;
    analyze_task_t *a = (analyze_task_t *)t;
    t->rc = rk_phish_analyze(a->cfg, &a->msg, &a->res, t->err, sizeof t->err);
}

static void analyze_release(rk_task_t *t)
{
    analyze_task_t *a = (analyze_task_t *)t;
    rk_phish_msg_free(&a->msg);
    rk_phish_result_free(&a->res);
    rk_phish_cfg_free(a->cfg);
    free(a);
}

/* After the wait: [done] on top. */
static int analyze_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    analyze_task_t *a = (analyze_task_t *)ctx;
    if (!lua_toboolean(L, -1)) return luaL_error(L, "phishing.analyze: the analysis did not finish in time");
    work_t *w = scratch(L);   /* the result moves here, freed whatever happens next */
    w->res = a->res;
    memset(&a->res, 0, sizeof a->res);
    int rc = a->base.rc;
    char err[sizeof a->base.err];
    memcpy(err, a->base.err, sizeof err);
    analyze_release(&a->base);
    if (rc < 0) return luaL_error(L, "phishing.analyze: %s", err);
    return push_result(L, &w->res);
}

static int l_analyze(lua_State *L)
{
    cfg_ud *c = check_cfg(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    work_t *w = scratch(L);
    char err[256] = "out of memory";
    if (read_msg(L, 2, w) < 0) return luaL_error(L, "phishing.analyze: %s", err);
    if (rk_vm_can_await(L, RK_VM_POOL)) {
        analyze_task_t *a = calloc(1, sizeof *a);
        if (!a) return luaL_error(L, "not enough memory");
        a->msg = w->msg;   /* the message moves to the task */
        memset(&w->msg, 0, sizeof w->msg);
        w->has_msg = 0;
        a->cfg = rk_phish_cfg_retain(c->c);
        a->base.run = analyze_run;
        a->base.release = analyze_release;
        return rk_vm_await(L, &a->base, RK_VM_POOL, analyze_k);
    }
    if (rk_phish_analyze(c->c, &w->msg, &w->res, err, sizeof err) < 0) return luaL_error(L, "phishing.analyze: %s", err);
    return push_result(L, &w->res);
}

static int l_encode(lua_State *L)
{
    size_t len;
    const char *in = luaL_checklstring(L, 1, &len);
    const char *how = luaL_checkstring(L, 2);
    const char *charset = luaL_optstring(L, 3, NULL);
    char *out = NULL;
    size_t n = 0;
    if (rk_phish_encode(in, len, how, charset, &out, &n) < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot encode as %s in %s", how, charset ? charset : "UTF-8");
        return 2;
    }
    /* The one allocation live across a raising call: only Lua's own
     * out-of-memory error can strike here, and ph.encode is for writing
     * test and generated messages, never a request path. */
    luaL_Buffer b;
    char *dst = luaL_buffinitsize(L, &b, n);
    memcpy(dst, out, n);
    free(out);
    luaL_pushresultsize(&b, n);
    return 1;
}

typedef struct { rk_mailstore_t *m; } mailbox_ud;

static int mailbox_gc(lua_State *L)
{
    mailbox_ud *u = luaL_checkudata(L, 1, MAILBOX_T);
    rk_mailstore_close(u->m);
    u->m = NULL;
    return 0;
}

static int mailbox_iter(lua_State *L)
{
    mailbox_ud *u = luaL_checkudata(L, lua_upvalueindex(1), MAILBOX_T);
    if (!u->m) return 0;
    char *raw = NULL, err[512];
    size_t len = 0;
    const char *source = NULL;
    int rc = rk_mailstore_next(u->m, &raw, &len, &source, err, sizeof err);
    if (rc == 0) { rk_mailstore_close(u->m); u->m = NULL; return 0; }
    if (rc < 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, source ? source : "");
        lua_pushstring(L, err);
        return 3;
    }
    /* raw is live across the push: copied into a Lua string at once (an
     * out-of-memory raise would leak this one message). */
    lua_pushlstring(L, raw, len);
    free(raw);
    lua_pushstring(L, source);
    return 2;
}

static int l_messages(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    mailbox_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, MAILBOX_T);
    char err[512];
    if (!(u->m = rk_mailstore_open(path, err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushcclosure(L, mailbox_iter, 1);
    return 1;
}

/* ph.address_entries(value) --> the entries of an address header as written */
static int l_address_entries(lua_State *L)
{
    lua_pushinteger(L, rk_phish_address_entries(luaL_checkstring(L, 1)));
    return 1;
}

static int l_dense_names(lua_State *L)
{
    lua_createtable(L, RK_PHISH_NDENSE, 0);
    for (int i = 0; i < RK_PHISH_NDENSE; i++) { lua_pushstring(L, rk_phish_dense_name(i)); lua_rawseti(L, -2, i + 1); }
    return 1;
}

/* ---- models ------------------------------------------------------------ */

static model_ud *push_model(lua_State *L)
{
    model_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, MODEL_T);
    return u;
}

static int model_gc(lua_State *L)
{
    model_ud *u = luaL_checkudata(L, 1, MODEL_T);
    rk_tm_release(u->m);
    u->m = NULL;
    return 0;
}

static int l_current(lua_State *L)
{
    const rk_vm_host_t *h = rk_vm_host(L);
    const char *dir = h && h->config ? h->config->models : "models";
    model_ud *u = push_model(L);
    char err[512];
    u->m = rk_phish_model_live(dir, err, sizeof err);
    if (!u->m) {
        luaL_pushfail(L);
        if (!err[0]) return 1;
        lua_pushstring(L, err);
        return 2;
    }
    if (err[0]) { lua_pushstring(L, err); return 2; }   /* serving the previous one */
    return 1;
}

static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    model_ud *u = push_model(L);
    char err[512];
    if (!(u->m = rk_tm_load(path, err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "invalid_model");
        return 3;
    }
    return 1;
}

/* dense (an array of numbers at index i, or nil) into d; returns the count. */
static int read_dense(lua_State *L, int i, float *d)
{
    if (lua_isnoneornil(L, i)) return 0;
    luaL_checktype(L, i, LUA_TTABLE);
    int n = (int)lua_rawlen(L, i);
    luaL_argcheck(L, n <= RK_TM_MAX_DENSE, i, "too many dense features");
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        d[k - 1] = (float)luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    return n;
}

static int featurize(lua_State *L, work_t *w, const char *text, const float *d, int nd)
{
    if (rk_tm_featurize(text, d, nd, &w->vec) < 0) return luaL_error(L, "phishing: out of memory");
    return 0;
}

static int model_score(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *text = luaL_checkstring(L, 2);
    float d[RK_TM_MAX_DENSE];
    int nd = read_dense(L, 3, d);
    work_t *w = scratch(L);
    featurize(L, w, text, d, nd);
    lua_pushnumber(L, rk_tm_score(u->m, &w->vec));
    return 1;
}

static int model_explain(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *text = luaL_checkstring(L, 2);
    float d[RK_TM_MAX_DENSE];
    int nd = read_dense(L, 3, d);
    int k = (int)luaL_optinteger(L, 4, 5);
    luaL_argcheck(L, k >= 1 && k <= 32, 4, "between 1 and 32");
    work_t *w = scratch(L);
    featurize(L, w, text, d, nd);
    uint32_t idx[32];
    double contrib[32];
    int n = rk_tm_top(u->m, &w->vec, k, idx, contrib);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        uint32_t f = idx[i];
        const char *name = f >= (1u << RK_TM_BITS) ? rk_tm_dense_name(u->m, (int)(f - (1u << RK_TM_BITS))) : NULL;
        lua_pushstring(L, name ? name : "wording");
        lua_setfield(L, -2, "feature");
        lua_pushnumber(L, contrib[i]);
        lua_setfield(L, -2, "contribution");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int model_info(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)rk_tm_created(u->m));
    lua_setfield(L, -2, "created");
    lua_newtable(L);
    for (int i = 0; i < rk_tm_nmetrics(u->m); i++) {
        double v;
        const char *name = rk_tm_metric(u->m, i, &v);
        lua_pushnumber(L, v);
        lua_setfield(L, -2, name);
    }
    lua_setfield(L, -2, "metrics");
    lua_createtable(L, rk_tm_ndense(u->m), 0);
    for (int i = 0; i < rk_tm_ndense(u->m); i++) { lua_pushstring(L, rk_tm_dense_name(u->m, i)); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "dense");
    lua_pushstring(L, rk_tm_provenance(u->m));
    lua_setfield(L, -2, "provenance");
    return 1;
}

static int model_set_provenance(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    if (rk_tm_set_provenance(u->m, luaL_checkstring(L, 2)) < 0) return luaL_error(L, "the provenance is over 65,535 bytes");
    return 0;
}

static int model_set_metric(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *name = luaL_checkstring(L, 2);
    double v = luaL_checknumber(L, 3);
    if (rk_tm_set_metric(u->m, name, v) < 0) return luaL_error(L, "at most %d metrics", RK_TM_MAX_METRICS);
    lua_pushboolean(L, 1);
    return 1;
}

static int model_save(lua_State *L)
{
    model_ud *u = check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char err[512];
    if (rk_tm_save(u->m, path, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- training ---------------------------------------------------------- */

static int l_trainer(lua_State *L)
{
    trainer_ud *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    t->ndense = -1;
    luaL_setmetatable(L, TRAINER_T);
    return 1;
}

static int trainer_gc(lua_State *L)
{
    trainer_ud *t = check_trainer(L, 1);
    for (size_t i = 0; i < t->n; i++) rk_tm_vec_free(&t->rows[i]);
    free(t->rows);
    free(t->labels);
    memset(t, 0, sizeof *t);
    return 0;
}

static int trainer_add(lua_State *L)
{
    trainer_ud *t = check_trainer(L, 1);
    const char *text = luaL_checkstring(L, 2);
    float d[RK_TM_MAX_DENSE];
    int nd = read_dense(L, 3, d);
    int label = lua_toboolean(L, 4) && !(lua_type(L, 4) == LUA_TNUMBER && lua_tonumber(L, 4) == 0);
    luaL_argcheck(L, t->ndense < 0 || t->ndense == nd, 3, "every row needs the same number of dense features");
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        rk_tm_vec_t *nr = realloc(t->rows, nc * sizeof *nr);
        if (!nr) return luaL_error(L, "phishing: out of memory");
        t->rows = nr;
        int *nl = realloc(t->labels, nc * sizeof *nl);
        if (!nl) return luaL_error(L, "phishing: out of memory");
        t->labels = nl;
        t->cap = nc;
    }
    memset(&t->rows[t->n], 0, sizeof t->rows[t->n]);
    if (rk_tm_featurize(text, d, nd, &t->rows[t->n]) < 0) {
        rk_tm_vec_free(&t->rows[t->n]);
        return luaL_error(L, "phishing: out of memory");
    }
    /* The row's buffers at their size: a corpus of many rows stays small. */
    rk_tm_vec_t *v = &t->rows[t->n];
    if (v->n > 0 && v->n < v->cap) {
        uint32_t *ni = realloc(v->idx, (size_t)v->n * sizeof *ni);
        if (ni) v->idx = ni;
        float *nv = realloc(v->val, (size_t)v->n * sizeof *nv);
        if (nv) v->val = nv;
        if (ni && nv) v->cap = v->n;
    }
    t->labels[t->n++] = label;
    t->ndense = nd;
    return 0;
}

static int trainer_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_trainer(L, 1)->n);
    return 1;
}

static int trainer_train(lua_State *L)
{
    trainer_ud *t = check_trainer(L, 1);
    rk_tm_params_t p;
    rk_tm_defaults(&p);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "epochs") != LUA_TNIL) p.epochs = (int)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "rate") != LUA_TNIL) p.rate = luaL_checknumber(L, -1);
        if (lua_getfield(L, 2, "l2") != LUA_TNIL) p.l2 = luaL_checknumber(L, -1);
        if (lua_getfield(L, 2, "seed") != LUA_TNIL) p.seed = (uint64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 4);
        luaL_argcheck(L, p.epochs >= 1 && p.epochs <= 100, 2, "epochs: 1 to 100");
    }
    int nd = t->ndense < 0 ? 0 : t->ndense;
    const char *names[RK_TM_MAX_DENSE];
    for (int i = 0; i < nd; i++) names[i] = rk_phish_dense_name(i) ? rk_phish_dense_name(i) : "";
    model_ud *u = push_model(L);
    char err[256];
    if (!(u->m = rk_tm_train(t->rows, t->labels, t->n, names, nd, &p, err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

int luaopen_riskd_phishing(lua_State *L)
{
    static const luaL_Reg cfg_meta[] = { { "__gc", cfg_gc }, { "__close", cfg_gc }, { NULL, NULL } };
    static const luaL_Reg model_methods[] = { { "score", model_score }, { "explain", model_explain }, { "info", model_info },
                                              { "set_metric", model_set_metric }, { "set_provenance", model_set_provenance },
                                              { "save", model_save }, { NULL, NULL } };
    static const luaL_Reg model_meta[] = { { "__gc", model_gc }, { "__close", model_gc }, { NULL, NULL } };
    static const luaL_Reg trainer_methods[] = { { "add", trainer_add }, { "count", trainer_count }, { "train", trainer_train },
                                                { NULL, NULL } };
    static const luaL_Reg trainer_meta[] = { { "__gc", trainer_gc }, { "__close", trainer_gc }, { NULL, NULL } };
    static const luaL_Reg fns[] = { { "config", l_config }, { "parse", l_parse }, { "analyze", l_analyze },
                                    { "dense_names", l_dense_names }, { "address_entries", l_address_entries }, { "encode", l_encode }, { "messages", l_messages }, { "current", l_current }, { "load", l_load },
                                    { "trainer", l_trainer }, { NULL, NULL } };
    luaL_newmetatable(L, CFG_T);
    luaL_setfuncs(L, cfg_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, MAILBOX_T);
    lua_pushcfunction(L, mailbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, WORK_T);
    lua_pushcfunction(L, work_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    /* Methods share the scratch too: set them with it as upvalue 1. */
    work_t *w = lua_newuserdatauv(L, sizeof *w, 0);
    memset(w, 0, sizeof *w);
    luaL_setmetatable(L, WORK_T);
    int wi = lua_gettop(L);
    luaL_newmetatable(L, MODEL_T);
    luaL_setfuncs(L, model_meta, 0);
    lua_newtable(L);
    lua_pushvalue(L, wi);
    luaL_setfuncs(L, model_methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, TRAINER_T);
    luaL_setfuncs(L, trainer_meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, trainer_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, wi);
    luaL_setfuncs(L, fns, 1);
    lua_remove(L, wi);
    return 1;
}
