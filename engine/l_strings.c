/* l_strings.c — `riskd.strings`: string.find, match, gmatch and gsub on the
 * budgeted matcher (luapat.h), with Lua 5.4's arguments, results and error
 * messages. Every state the engine makes (vm.c) uses these in place of
 * Lua's own, through the `string` table and the strings' metatable, so a
 * pattern on hostile input stops at the call's deadline like any loop. */
#include <lauxlib.h>
#include <string.h>

#include "l_modules.h"
#include "luapat.h"
#include "vm.h"

#define L_ESC_CHAR '%'

static int time_up(void *ud) { return rk_vm_expired(ud); }

/* Raises the matcher's error: a malformed pattern as Lua would, or the stop. */
static int raise(lua_State *L, rk_vm_t *vm, const rk_pat_t *ms)
{
    if (ms->status == RK_PAT_STOPPED) return rk_vm_stop(L, vm);
    return luaL_error(L, "%s", ms->errmsg);
}

static void prepare(lua_State *L, rk_pat_t *ms, const char *s, size_t ls, const char *p, size_t lp)
{
    rk_vm_t *vm = rk_vm_of(L);
    rk_pat_init(ms, s, ls, p, lp, vm ? time_up : NULL, vm);
}

static const char *matched(lua_State *L, rk_pat_t *ms, const char *s)
{
    const char *e = rk_pat_match(ms, s);
    if (ms->status != RK_PAT_OK) raise(L, rk_vm_of(L), ms);
    return e;
}

/* Lua's posrelatI: a 1-based start, negative from the end, clipped at 1. */
static size_t start_of(lua_Integer pos, size_t len)
{
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

/* Capture i, or the whole match [s, e) when there are none and i is 0.
 * Pushes a position capture and returns RK_PAT_CAP_POSITION. */
static ptrdiff_t get_capture(lua_State *L, const rk_pat_t *ms, int i, const char *s, const char *e, const char **cap)
{
    if (i >= ms->level) {
        if (i != 0) luaL_error(L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t len = ms->capture[i].len;
    *cap = ms->capture[i].init;
    if (len == -1) luaL_error(L, "unfinished capture");
    else if (len == RK_PAT_CAP_POSITION) lua_pushinteger(L, (ms->capture[i].init - ms->src_init) + 1);
    return len;
}

static void push_capture(lua_State *L, const rk_pat_t *ms, int i, const char *s, const char *e)
{
    const char *cap;
    ptrdiff_t len = get_capture(L, ms, i, s, e, &cap);
    if (len != RK_PAT_CAP_POSITION) lua_pushlstring(L, cap, (size_t)len);
}

/* The captures, or the whole match when there are none (s not NULL). */
static int push_captures(lua_State *L, const rk_pat_t *ms, const char *s, const char *e)
{
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(L, ms, i, s, e);
    return n;
}

static int find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_of(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) { luaL_pushfail(L); return 1; }
    if (find && (lua_toboolean(L, 4) || rk_pat_is_plain(p, lp))) {
        const char *s2 = rk_pat_memfind(s + init, ls - init, p, lp);
        if (s2) {
            lua_pushinteger(L, (s2 - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(s2 - s) + lp));
            return 2;
        }
    } else {
        rk_pat_t ms;
        const char *s1 = s + init;
        int anchor = *p == '^';
        if (anchor) { p++; lp--; }
        prepare(L, &ms, s, ls, p, lp);
        do {
            const char *res = matched(L, &ms, s1);
            if (res) {
                if (!find) return push_captures(L, &ms, s1, res);
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, res - s);
                return push_captures(L, &ms, NULL, NULL) + 2;
            }
        } while (s1++ < ms.src_end && !anchor);
    }
    luaL_pushfail(L);
    return 1;
}

static int l_find(lua_State *L) { return find_aux(L, 1); }
static int l_match(lua_State *L) { return find_aux(L, 0); }

typedef struct {
    const char *src, *lastmatch;
    rk_pat_t ms;
} gmatch_t;

/* The iterator: [upvalues: subject, pattern, state]. */
static int gmatch_next(lua_State *L)
{
    gmatch_t *gm = lua_touserdata(L, lua_upvalueindex(3));
    /* The deadline is the caller's at each step, not the one of the call that made the iterator. */
    rk_vm_t *vm = rk_vm_of(L);
    gm->ms.stop = vm ? time_up : NULL;
    gm->ms.ud = vm;
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        const char *e = matched(L, &gm->ms, src);
        if (e != NULL && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(L, &gm->ms, src, e);
        }
    }
    return 0;
}

static int l_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_of(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);   /* the strings stay alive as the closure's upvalues */
    gmatch_t *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls) init = ls + 1;
    rk_pat_init(&gm->ms, s, ls, p, lp, NULL, NULL);
    gm->src = s + init;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* A replacement string: %0-%9 and %%. */
static void add_s(lua_State *L, const rk_pat_t *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = memchr(news, L_ESC_CHAR, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (*p == L_ESC_CHAR) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (*p >= '1' && *p <= '9') {
            const char *cap;
            ptrdiff_t len = get_capture(L, ms, *p - '1', s, e, &cap);
            if (len == RK_PAT_CAP_POSITION) luaL_addvalue(b);
            else luaL_addlstring(b, cap, (size_t)len);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", L_ESC_CHAR);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* Adds the replacement of the match [s, e); whether anything changed. */
static int add_value(lua_State *L, const rk_pat_t *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    switch (tr) {
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(L, ms, s, e);
        lua_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:
        push_capture(L, ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    default:
        add_s(L, ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {   /* nil or false: keep the original text */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1)) return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int l_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    int anchor = *p == '^';
    lua_Integer n = 0;
    int changed = 0;
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (anchor) { p++; lp--; }
    rk_pat_t ms;
    prepare(L, &ms, src, srcl, p, lp);
    while (n < max_s) {
        const char *e = matched(L, &ms, src);
        if (e != NULL && e != lastmatch) {
            n++;
            changed = add_value(L, &ms, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

int luaopen_riskd_strings(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "find", l_find }, { "match", l_match }, { "gmatch", l_gmatch }, { "gsub", l_gsub }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
