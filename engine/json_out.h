/* json_out.h — the pieces of JSON text riskd writes: a growable buffer,
 * strings escaped and numbers formatted exactly as lua-cjson 2.1.0 writes
 * them (its default precision, "%.14g"; "/" escaped as "\/"), so answers and
 * stored documents read the same whichever writes them.
 *
 * Why not lua-cjson alone: it formats every number through snprintf, which
 * was two thirds of encoding an analysis's answer and its stored document.
 * Numbers that are whole and shorter than 15 digits (counts, flags, hours,
 * milliseconds) are written here digit by digit, with the same text
 * snprintf gives; the others still go through snprintf. Pure C, no Lua.
 */
#ifndef RK_JSON_OUT_H
#define RK_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_jbuf {
    char *data;
    size_t len, cap;
    int oom;            /* a growth failed: the text is incomplete */
} rk_jbuf_t;

void rk_jbuf_init(rk_jbuf_t *b);
void rk_jbuf_free(rk_jbuf_t *b);
/* Empties the buffer, keeping its memory (shrunk when it grew very large). */
void rk_jbuf_reset(rk_jbuf_t *b);
void rk_jbuf_add(rk_jbuf_t *b, const char *s, size_t n);
void rk_jbuf_addc(rk_jbuf_t *b, char c);

/* A JSON string: quotes and escapes. */
void rk_jbuf_string(rk_jbuf_t *b, const char *s, size_t n);
/* A number as "%.14g" writes it; -1 (nothing written) for NaN and infinities. */
int rk_jbuf_double(rk_jbuf_t *b, double x);
/* An integer: digits when shorter than 15, else as the double it rounds to. */
void rk_jbuf_int(rk_jbuf_t *b, int64_t i);

#endif
