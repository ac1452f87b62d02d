/* profile_lua.c — see profile_lua.h. */
#include "profile_lua.h"

#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#define PROFILE_T "riskd.profile"
#define ITEMS_T "riskd.profile_items"

/* An item view: one kind's list, its profile view kept as the user value. */
typedef struct { const rk_profile_item_t *items; int n; } items_ud;

static void set_int(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }
static void set_num(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void set_str(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }

static void push_counts(lua_State *L, const int64_t *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) { lua_pushinteger(L, v[i]); lua_rawseti(L, -2, i + 1); }
}

static void push_item(lua_State *L, const rk_profile_item_t *it)
{
    lua_createtable(L, 0, 2);
    set_int(L, "count", it->count);
    set_int(L, "last_seen", it->last_ms);
}

/* The fields a view answers, in the order pairs() walks them. */
enum { F_USER_ID, F_ATTEMPTS, F_SUCCESSES, F_FAILURES, F_ANOMALIES, F_HIGH_RISK, F_FIRST_SEEN, F_LAST_SEEN,
       F_MAX_RISK, F_MEAN_RISK, F_HOURS, F_LOCAL_HOURS, F_WEEKDAYS, F_LAST_SUCCESS, F_STATE, F_KINDS };
static const char *const FIELDS[] = { "user_id", "attempts", "successes", "failures", "anomalies", "high_risk",
                                      "first_seen", "last_seen", "max_risk", "mean_risk", "hours", "local_hours",
                                      "weekdays", "last_success", "state" };
#define NFIELDS (F_KINDS + RK_PK_COUNT)

static int field_of(const char *k)
{
    for (int i = 0; i < F_KINDS; i++) if (strcmp(k, FIELDS[i]) == 0) return i;
    for (int i = 0; i < RK_PK_COUNT; i++) if (strcmp(k, rk_profile_kind_names[i]) == 0) return F_KINDS + i;
    return -1;
}

static const char *field_name(int f) { return f < F_KINDS ? FIELDS[f] : rk_profile_kind_names[f - F_KINDS]; }

/* Pushes field f of the profile of the view at idx; returns 0 (nothing
 * pushed) when the profile has none (no last success, no state). */
static int push_field(lua_State *L, int idx, const rk_profile_t *p, int f)
{
    switch (f) {
    case F_USER_ID: lua_pushstring(L, p->user_id); return 1;
    case F_ATTEMPTS: lua_pushinteger(L, p->attempts); return 1;
    case F_SUCCESSES: lua_pushinteger(L, p->successes); return 1;
    case F_FAILURES: lua_pushinteger(L, p->failures); return 1;
    case F_ANOMALIES: lua_pushinteger(L, p->anomalies); return 1;
    case F_HIGH_RISK: lua_pushinteger(L, p->high_risk); return 1;
    case F_FIRST_SEEN: lua_pushinteger(L, p->first_ms); return 1;
    case F_LAST_SEEN: lua_pushinteger(L, p->last_ms); return 1;
    case F_MAX_RISK: lua_pushnumber(L, p->max_risk); return 1;
    case F_MEAN_RISK: lua_pushnumber(L, p->attempts ? p->risk_sum / (double)p->attempts : 0); return 1;
    case F_HOURS: push_counts(L, p->hours, 24); return 1;             /* successes in UTC hour h */
    case F_LOCAL_HOURS: push_counts(L, p->local_hours, 24); return 1; /* by local solar hour */
    case F_WEEKDAYS: push_counts(L, p->weekdays, 7); return 1;        /* [1] = Sunday */
    case F_LAST_SUCCESS:
        if (!p->has_last_success) return 0;
        lua_createtable(L, 0, 6);
        set_int(L, "ts", p->last_success_ms);
        set_str(L, "ip_address", p->last_ip);
        if (p->last_country[0]) set_str(L, "country", p->last_country);
        if (p->last_city[0]) set_str(L, "city", p->last_city);
        if (p->last_has_geo) { set_num(L, "latitude", p->last_lat); set_num(L, "longitude", p->last_lon); }
        return 1;
    case F_STATE:   /* what an analyst says of the account */
        if (!p->state[0]) return 0;
        lua_createtable(L, 0, 3);
        set_str(L, "state", p->state);
        if (p->state_by[0]) set_str(L, "by", p->state_by);
        set_int(L, "at", p->state_ms);
        return 1;
    default: {
        int k = f - F_KINDS;
        items_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
        u->items = p->items[k];
        u->n = p->nitems[k];
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, -2, 1);   /* the items live in the profile view */
        luaL_setmetatable(L, ITEMS_T);
        return 1;
    }
    }
}

static int profile_index(lua_State *L)
{
    const rk_profile_t *p = luaL_checkudata(L, 1, PROFILE_T);
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    int f = k ? field_of(k) : -1;
    if (f < 0 || !push_field(L, 1, p, f)) lua_pushnil(L);
    return 1;
}

/* pairs(p): the fields after the one named by the control value. */
static int profile_next(lua_State *L)
{
    const rk_profile_t *p = luaL_checkudata(L, 1, PROFILE_T);
    int f = 0;
    if (!lua_isnil(L, 2)) {
        f = field_of(luaL_checkstring(L, 2));
        if (f < 0) return luaL_error(L, "invalid key to 'next'");
        f++;
    }
    for (; f < NFIELDS; f++) {
        lua_pushstring(L, field_name(f));
        if (push_field(L, 1, p, f)) return 2;
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    return 1;
}

/* pairs(v) for a view of type tname: next, v, nil. */
static int pairs_of(lua_State *L, const char *tname, lua_CFunction next)
{
    luaL_checkudata(L, 1, tname);
    lua_pushcfunction(L, next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int profile_pairs(lua_State *L) { return pairs_of(L, PROFILE_T, profile_next); }

static int items_index(lua_State *L)
{
    const items_ud *u = luaL_checkudata(L, 1, ITEMS_T);
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    for (int i = 0; k && i < u->n; i++)
        if (strcmp(u->items[i].value, k) == 0) { push_item(L, &u->items[i]); return 1; }
    lua_pushnil(L);
    return 1;
}

/* pairs(items): the items in the order the profile keeps them; the control
 * value is the last value given, found again by a scan (at most
 * RK_PROFILE_MAX_ITEMS). */
static int items_next(lua_State *L)
{
    const items_ud *u = luaL_checkudata(L, 1, ITEMS_T);
    int i = 0;
    if (!lua_isnil(L, 2)) {
        const char *k = luaL_checkstring(L, 2);
        while (i < u->n && strcmp(u->items[i].value, k) != 0) i++;
        i++;
    }
    if (i >= u->n) { lua_pushnil(L); return 1; }
    lua_pushstring(L, u->items[i].value);
    push_item(L, &u->items[i]);
    return 2;
}

static int items_pairs(lua_State *L) { return pairs_of(L, ITEMS_T, items_next); }

static int read_only(lua_State *L)
{
    return luaL_error(L, "a profile is read-only ('%s')", luaL_optstring(L, 2, "?"));
}

/* Makes the metatable of a view type, with no way to write or reach it. */
static void new_meta(lua_State *L, const char *tname, lua_CFunction index, lua_CFunction pairs)
{
    luaL_newmetatable(L, tname);
    const luaL_Reg meta[] = { { "__index", index }, { "__newindex", read_only }, { "__pairs", pairs }, { NULL, NULL } };
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "read-only");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

rk_profile_t *rk_profile_lua_new(lua_State *L)
{
    rk_profile_t *p = lua_newuserdatauv(L, sizeof *p, 0);
    /* the stores fill what they keep; the rest starts empty */
    memset(p, 0, offsetof(rk_profile_t, items));
    memset(p->nitems, 0, sizeof p->nitems);
    if (luaL_getmetatable(L, PROFILE_T) == LUA_TNIL) {   /* the state's first profile: both types' */
        lua_pop(L, 1);
        new_meta(L, ITEMS_T, items_index, items_pairs);
        new_meta(L, PROFILE_T, profile_index, profile_pairs);
        luaL_getmetatable(L, PROFILE_T);
    }
    lua_setmetatable(L, -2);
    return p;
}

const rk_profile_t *rk_profile_lua_test(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, PROFILE_T);
}
