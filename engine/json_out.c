/* json_out.c — see json_out.h. */
#include "json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this, a reset gives the memory back: one huge answer (an export)
 * should not pin its buffer for the life of the worker. */
#define RK_JBUF_KEEP (1u << 20)

void rk_jbuf_init(rk_jbuf_t *b) { memset(b, 0, sizeof *b); }

void rk_jbuf_free(rk_jbuf_t *b)
{
    free(b->data);
    rk_jbuf_init(b);
}

void rk_jbuf_reset(rk_jbuf_t *b)
{
    if (b->cap > RK_JBUF_KEEP) rk_jbuf_free(b);
    b->len = 0;
    b->oom = 0;
}

static int grow(rk_jbuf_t *b, size_t more)
{
    if (b->oom) return -1;
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) { b->oom = 1; return -1; }
    b->data = d;
    b->cap = cap;
    return 0;
}

void rk_jbuf_add(rk_jbuf_t *b, const char *s, size_t n)
{
    if (grow(b, n) != 0) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void rk_jbuf_addc(rk_jbuf_t *b, char c)
{
    if (grow(b, 1) != 0) return;
    b->data[b->len++] = c;
}

/* lua-cjson's escapes: the short ones, \u00XX for the other control
 * characters and DEL, "\/" for the slash; bytes from 0x80 pass as they are. */
static const char *escape_of(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '/': return "\\/";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:
        if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, 8, "\\u%04x", c);
            return tmp;
        }
        return NULL;
    }
}

void rk_jbuf_string(rk_jbuf_t *b, const char *s, size_t n)
{
    /* at most six bytes out per byte in, and the quotes */
    if (grow(b, n * 6 + 2) != 0) return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        const char *e = c >= 0x20 && c != '"' && c != '\\' && c != '/' && c != 0x7f ? NULL : escape_of(c, tmp);
        if (!e) { *o++ = (char)c; continue; }
        size_t k = strlen(e);
        memcpy(o, e, k);
        o += k;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

/* Below this a whole number has at most 14 digits, and "%.14g" writes it
 * as its digits. */
#define RK_JSON_WHOLE_LIMIT 1e14

static void digits(rk_jbuf_t *b, int64_t i)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (i < 0) *--p = '-';
    rk_jbuf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

int rk_jbuf_double(rk_jbuf_t *b, double x)
{
    if (isnan(x) || isinf(x)) return -1;
    if (x == 0) {
        if (signbit(x)) rk_jbuf_add(b, "-0", 2);
        else rk_jbuf_addc(b, '0');
        return 0;
    }
    if (fabs(x) < RK_JSON_WHOLE_LIMIT && x == floor(x)) {
        digits(b, (int64_t)x);
        return 0;
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.14g", x);
    rk_jbuf_add(b, tmp, (size_t)n);
    return 0;
}

void rk_jbuf_int(rk_jbuf_t *b, int64_t i)
{
    if (i > -(int64_t)RK_JSON_WHOLE_LIMIT && i < (int64_t)RK_JSON_WHOLE_LIMIT) digits(b, i);
    else rk_jbuf_double(b, (double)i);
}
