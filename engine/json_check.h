/* json_check.h — strict validation of a JSON text before it is decoded.
 *
 * lua-cjson, which decodes request bodies into Lua, is lenient where a
 * security service must not be: it keeps the last of duplicate keys (so two
 * readers of one body can see different values), passes invalid UTF-8
 * through into the store and the answers, and accepts NaN, Infinity and hex
 * numbers. Jansson refuses all of these, so every body is checked with it
 * first (it stays cjson that builds the Lua tables: the check is a few
 * microseconds for a login attempt). Pure C, no Lua.
 */
#ifndef RK_JSON_CHECK_H
#define RK_JSON_CHECK_H

#include <stddef.h>

/* 0 when text is one strict JSON value; -1 with a message saying what and
 * where (line, column) otherwise. */
int rk_json_check(const char *text, size_t len, char *err, size_t errlen);

#endif
