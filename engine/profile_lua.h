/* profile_lua.h — a user's profile (store.h's rk_profile_t) as Lua reads it.
 *
 * A profile is read on every analysis, by a few rules and a few lines of
 * Lua that each look at one or two of its fields. Built as Lua tables it
 * was up to 160 of them per analysis, and the feature extractor turned them
 * back into the struct. A view keeps the struct and builds only what is
 * read:
 *
 *   p.successes, p.attempts, p.failures, p.anomalies, p.high_risk,
 *   p.first_seen, p.last_seen, p.max_risk, p.mean_risk, p.user_id
 *   p.hours[h + 1], p.local_hours[h + 1], p.weekdays[d]   -- fresh tables
 *   p.last_success { ts, ip_address, country, city, latitude, longitude } (or nil)
 *   p.state { state, by, at } (or nil)
 *   p.devices / countries / prefixes / user_agents / asns: item views,
 *     items[value] --> { count, last_seen } (a fresh table) or nil,
 *     pairs(items) --> value, { count, last_seen } in no order
 *   pairs(p) --> every field the profile has
 *
 * Read-only: a view has no __newindex, and the tables it hands out are new
 * at every read, so what one reader does to them no other sees. */
#ifndef RK_PROFILE_LUA_H
#define RK_PROFILE_LUA_H

#include <lua.h>

#include "store.h"

/* Pushes a new view and returns its profile for the caller to fill (the
 * counters and lists start empty). */
rk_profile_t *rk_profile_lua_new(lua_State *L);

/* The profile of the view at idx, or NULL when the value is not a view. */
const rk_profile_t *rk_profile_lua_test(lua_State *L, int idx);

#endif
