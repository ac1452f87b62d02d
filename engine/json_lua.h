/* json_lua.h — Lua values written as JSON text, as lua-cjson 2.1.0 writes
 * them, byte for byte, with its errors: a table whose keys are the integers
 * 1..n (holes as null) is an array, unless so sparse that it is an object
 * (RK_JSON_LUA_SPARSE_CONVERT, the dispatcher's encode_sparse_array(true))
 * or an error (cjson's default); any other table, the empty one too, is an
 * object whose keys are written in lua_next order; nil and cjson.null are
 * null; no metamethod is called. With RK_JSON_LUA_EMPTY_MARKER the string
 * lib/response.lua marks an empty list with (response.EMPTY_ARRAY) is
 * written as [], which the dispatcher used to fix in the text afterwards.
 * The strings and numbers themselves: json_out.h. */
#ifndef RK_JSON_LUA_H
#define RK_JSON_LUA_H

#include <lua.h>

enum { RK_JSON_LUA_SPARSE_CONVERT = 1, RK_JSON_LUA_EMPTY_MARKER = 2 };

/* Pushes the text of the value at idx; raises cjson's errors. skip (NULL,
 * or NULL-terminated): keys left out of the value's own fields when it is
 * an object (a stored event's document, whose columns hold them). */
void rk_json_lua_encode(lua_State *L, int idx, int flags, const char *const *skip);

#endif
