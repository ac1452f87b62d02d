/* intel_ipset.c — see intel_ipset.h. */
#include "intel_ipset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t hi, lo; } u128;
typedef struct { uint32_t lo, hi; } r4;
typedef struct { u128 lo, hi; } r6;

struct rk_ipset_builder {
    r4 *v4; size_t n4, cap4;
    r6 *v6; size_t n6, cap6;
    size_t entries;
};

#define TOP_SLOTS 65536

struct rk_ipset {
    /* IPv4: interval starts and ends, sorted and disjoint, and for each /16
     * the index of the first interval starting at or after it. */
    uint32_t *lo4, *hi4;
    uint32_t *top;          /* TOP_SLOTS + 1 entries */
    size_t n4;
    /* IPv6: the intervals, and the same kind of table over the span of
     * their starts' upper 64 bits (split into TOP_SLOTS equal slices, so it
     * adapts to lists clustered in a few allocations). */
    r6 *v6;
    size_t n6;
    uint32_t *top6;         /* TOP_SLOTS + 1 entries */
    uint64_t min6;
    int shift6;
    size_t entries;
};

rk_ipset_builder_t *rk_ipset_builder_new(void) { return calloc(1, sizeof(rk_ipset_builder_t)); }

void rk_ipset_builder_free(rk_ipset_builder_t *b)
{
    if (!b) return;
    free(b->v4);
    free(b->v6);
    free(b);
}

size_t rk_ipset_builder_count(const rk_ipset_builder_t *b) { return b->entries; }

static uint32_t ip4(const rk_ip_t *ip)
{
    return (uint32_t)ip->b[12] << 24 | (uint32_t)ip->b[13] << 16 | (uint32_t)ip->b[14] << 8 | ip->b[15];
}

static u128 ip6(const rk_ip_t *ip)
{
    u128 v = { 0, 0 };
    for (int i = 0; i < 8; i++) v.hi = v.hi << 8 | ip->b[i];
    for (int i = 8; i < 16; i++) v.lo = v.lo << 8 | ip->b[i];
    return v;
}

static int cmp128(u128 a, u128 b) { return a.hi != b.hi ? (a.hi < b.hi ? -1 : 1) : (a.lo < b.lo ? -1 : a.lo > b.lo); }

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

int rk_ipset_builder_add(rk_ipset_builder_t *b, const rk_ip_t *lo, const rk_ip_t *hi)
{
    if (lo->v4 != hi->v4) return -1;
    if (lo->v4) {
        r4 r = { ip4(lo), ip4(hi) };
        if (r.lo > r.hi || grow((void **)&b->v4, &b->cap4, b->n4, sizeof *b->v4)) return -1;
        b->v4[b->n4++] = r;
    } else {
        r6 r = { ip6(lo), ip6(hi) };
        if (cmp128(r.lo, r.hi) > 0 || grow((void **)&b->v6, &b->cap6, b->n6, sizeof *b->v6)) return -1;
        b->v6[b->n6++] = r;
    }
    b->entries++;
    return 0;
}

/* The last address of a CIDR range: its network with the host bits set. */
static rk_ip_t last_of(const rk_cidr_t *c)
{
    rk_ip_t hi = c->net;
    for (int i = c->bits; i < 128; i++) hi.b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
    return hi;
}

static int add_token(rk_ipset_builder_t *b, const char *s, size_t n, char *err, size_t errlen)
{
    const char *dash = memchr(s, '-', n);
    rk_ip_t lo, hi;
    if (dash) {
        /* "first-last" (FireHOL's ipset form) */
        if (rk_ip_parse(s, (size_t)(dash - s), &lo) < 0 || rk_ip_parse(dash + 1, n - (size_t)(dash - s) - 1, &hi) < 0) {
            snprintf(err, errlen, "'%.*s' is not an address range", (int)(n > 64 ? 64 : n), s);
            return -1;
        }
        if (lo.v4 != hi.v4 || memcmp(lo.b, hi.b, 16) > 0) {
            snprintf(err, errlen, "'%.*s': the range ends before it starts or mixes families", (int)(n > 64 ? 64 : n), s);
            return -1;
        }
    } else {
        rk_cidr_t c;
        if (rk_cidr_parse(s, n, &c) < 0) {
            snprintf(err, errlen, "'%.*s' is not an address or CIDR range", (int)(n > 64 ? 64 : n), s);
            return -1;
        }
        lo = c.net;
        hi = last_of(&c);
    }
    if (rk_ipset_builder_add(b, &lo, &hi) < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    return 1;
}

static const char *field(const char **p, const char *end, size_t *len)
{
    while (*p < end && isspace((unsigned char)**p)) (*p)++;
    const char *start = *p;
    while (*p < end && !isspace((unsigned char)**p)) (*p)++;
    *len = (size_t)(*p - start);
    return *len ? start : NULL;
}

int rk_ipset_builder_line(rk_ipset_builder_t *b, const char *line, size_t n, int expiring, int64_t now_s,
                          char *err, size_t errlen)
{
    const char *end = line, *stop = line + n;
    while (end < stop && *end != '#' && *end != ';') end++;
    const char *p = line;
    size_t len;
    const char *tok = field(&p, end, &len);
    if (!tok) return 0;
    /* The Tor project's exit-addresses file: only ExitAddress lines carry
     * an address (the second field); ExitNode, Published and LastStatus
     * describe the relay. */
    if (len == 11 && memcmp(tok, "ExitAddress", 11) == 0) {
        if (!(tok = field(&p, end, &len))) { snprintf(err, errlen, "ExitAddress without an address"); return -1; }
        return add_token(b, tok, len, err, errlen);
    }
    if ((len == 8 && memcmp(tok, "ExitNode", 8) == 0) || (len == 9 && memcmp(tok, "Published", 9) == 0) ||
        (len == 10 && memcmp(tok, "LastStatus", 10) == 0))
        return 0;
    size_t elen;
    const char *exp = field(&p, end, &elen);
    if (expiring) {
        char num[24];
        char *e;
        if (!exp || elen >= sizeof num) { snprintf(err, errlen, "an expiring entry needs its expiry (Unix seconds)"); return -1; }
        memcpy(num, exp, elen);
        num[elen] = '\0';
        long long t = strtoll(num, &e, 10);
        if (*e || t <= 0) { snprintf(err, errlen, "'%s' is not an expiry in Unix seconds", num); return -1; }
        if (t <= now_s) return 0;
    } else if (exp) {
        rk_cidr_t c;
        if (!memchr(tok, '-', len) && rk_cidr_parse(tok, len, &c) < 0)
            snprintf(err, errlen, "'%.*s' is not an address or CIDR range", (int)(len > 64 ? 64 : len), tok);
        else
            snprintf(err, errlen, "one address or range per line ('%.*s' follows it)", (int)(elen > 32 ? 32 : elen), exp);
        return -1;
    }
    return add_token(b, tok, len, err, errlen);
}

static int cmp_r4(const void *a, const void *b)
{
    const r4 *x = a, *y = b;
    return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

static int cmp_r6(const void *a, const void *b)
{
    const r6 *x = a, *y = b;
    int c = cmp128(x->lo, y->lo);
    return c ? c : cmp128(x->hi, y->hi);
}

static u128 inc128(u128 v)
{
    v.lo++;
    if (v.lo == 0) v.hi++;
    return v;
}

/* Sorts and merges overlapping and adjacent intervals in place. */
static size_t merge4(r4 *v, size_t n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_r4);
    size_t m = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[m].hi == UINT32_MAX || v[i].lo <= v[m].hi + 1) {
            if (v[i].hi > v[m].hi) v[m].hi = v[i].hi;
        } else {
            v[++m] = v[i];
        }
    }
    return m + 1;
}

static size_t merge6(r6 *v, size_t n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_r6);
    size_t m = 0;
    for (size_t i = 1; i < n; i++) {
        int full = v[m].hi.hi == UINT64_MAX && v[m].hi.lo == UINT64_MAX;
        if (full || cmp128(v[i].lo, inc128(v[m].hi)) <= 0) {
            if (cmp128(v[i].hi, v[m].hi) > 0) v[m].hi = v[i].hi;
        } else {
            v[++m] = v[i];
        }
    }
    return m + 1;
}

static size_t slice6(const rk_ipset_t *s, uint64_t hi) { return (size_t)((hi - s->min6) >> s->shift6); }

static int build_top6(rk_ipset_t *s)
{
    if (!(s->top6 = malloc((TOP_SLOTS + 1) * sizeof *s->top6))) return -1;
    s->min6 = s->v6[0].lo.hi;
    uint64_t span = s->v6[s->n6 - 1].lo.hi - s->min6;
    s->shift6 = 0;
    while ((span >> s->shift6) >= TOP_SLOTS) s->shift6++;
    size_t i = 0;
    for (size_t t = 0; t <= TOP_SLOTS; t++) {
        while (i < s->n6 && slice6(s, s->v6[i].lo.hi) < t) i++;
        s->top6[t] = (uint32_t)i;
    }
    return 0;
}

rk_ipset_t *rk_ipset_build(rk_ipset_builder_t *b)
{
    rk_ipset_t *s = calloc(1, sizeof *s);
    if (!s) { rk_ipset_builder_free(b); return NULL; }
    s->entries = b->entries;
    s->n4 = merge4(b->v4, b->n4);
    s->n6 = merge6(b->v6, b->n6);
    s->lo4 = malloc((s->n4 + 1) * sizeof *s->lo4);
    s->hi4 = malloc((s->n4 + 1) * sizeof *s->hi4);
    s->top = malloc((TOP_SLOTS + 1) * sizeof *s->top);
    s->v6 = b->v6;   /* merged in place; keep the buffer */
    b->v6 = NULL;
    if (!s->lo4 || !s->hi4 || !s->top) { rk_ipset_builder_free(b); rk_ipset_free(s); return NULL; }
    for (size_t i = 0; i < s->n4; i++) { s->lo4[i] = b->v4[i].lo; s->hi4[i] = b->v4[i].hi; }
    size_t i = 0;
    for (uint32_t t = 0; t <= TOP_SLOTS; t++) {
        uint64_t start = (uint64_t)t << 16;
        while (i < s->n4 && s->lo4[i] < start) i++;
        s->top[t] = (uint32_t)i;
    }
    if (s->n6 && build_top6(s) < 0) { rk_ipset_builder_free(b); rk_ipset_free(s); return NULL; }
    rk_ipset_builder_free(b);
    return s;
}

void rk_ipset_free(rk_ipset_t *s)
{
    if (!s) return;
    free(s->lo4);
    free(s->hi4);
    free(s->top);
    free(s->v6);
    free(s->top6);
    free(s);
}

int rk_ipset_contains_v4(const rk_ipset_t *s, uint32_t a)
{
    /* Intervals starting in a's /16 are lo4[top[t] .. top[t+1]); the one
     * that holds a, if any, is the last one starting at or before a, which
     * may also have started in an earlier /16 (index top[t] - 1). */
    uint32_t t = a >> 16;
    size_t lo = s->top[t], hi = s->top[t + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lo4[mid] <= a) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && s->hi4[lo - 1] >= a;
}

static int contains_v6(const rk_ipset_t *s, u128 a)
{
    if (!s->n6 || a.hi < s->min6) return 0;
    /* intervals of a's slice start at top6[t]; the one holding a is the
     * last starting at or before it, possibly from an earlier slice */
    size_t t = slice6(s, a.hi), lo, hi;
    if (t >= TOP_SLOTS) { lo = s->top6[TOP_SLOTS - 1]; hi = s->n6; }
    else { lo = s->top6[t]; hi = s->top6[t + 1]; }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp128(s->v6[mid].lo, a) <= 0) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && cmp128(s->v6[lo - 1].hi, a) >= 0;
}

int rk_ipset_contains(const rk_ipset_t *s, const rk_ip_t *ip)
{
    return ip->v4 ? rk_ipset_contains_v4(s, ip4(ip)) : contains_v6(s, ip6(ip));
}

void rk_ipset_info(const rk_ipset_t *s, rk_ipset_info_t *out)
{
    out->entries = s->entries;
    out->ranges_v4 = s->n4;
    out->ranges_v6 = s->n6;
    out->memory = sizeof *s + (s->n4 + 1) * 8 + (TOP_SLOTS + 1) * sizeof *s->top + s->n6 * sizeof *s->v6 +
                  (s->top6 ? (TOP_SLOTS + 1) * sizeof *s->top6 : 0);
}
