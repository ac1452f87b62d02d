/* json_check.c — see json_check.h. */
#include "json_check.h"

#include <jansson.h>
#include <stdio.h>

int rk_json_check(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    /* JSON_DECODE_ANY: a bare scalar is valid JSON; whether a route wants an
     * object is the route's business. JSON_ALLOW_NUL stays off: "\u0000"
     * inside a string would cut it short in C. */
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (v) { json_decref(v); return 0; }
    /* Jansson says "unable to decode byte 0xff"; say what that means. */
    snprintf(err, errlen, "%s%s (line %d, column %d)",
             json_error_code(&e) == json_error_invalid_utf8 ? "invalid UTF-8: " : "", e.text, e.line, e.column);
    return -1;
}
