/* netaddr.c — see netaddr.h. Parsing is inet_pton's; this file adds CIDR
 * arithmetic and the X-Forwarded-For policy. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rk_ip_parse(const char *s, size_t n, rk_ip_t *out)
{
    char tmp[64];
    while (n > 0 && isspace((unsigned char)*s)) { s++; n--; }
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') { s++; n -= 2; }
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(out, 0, sizeof *out);
    struct in_addr a4;
    if (inet_pton(AF_INET, tmp, &a4) == 1) {
        out->b[10] = 0xff;
        out->b[11] = 0xff;
        memcpy(out->b + 12, &a4, 4);
        out->v4 = 1;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out->b) == 1) {
        /* An IPv4-mapped IPv6 address is the IPv4 address. */
        static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
        out->v4 = memcmp(out->b, mapped, 12) == 0;
        return 0;
    }
    return -1;
}

void rk_ip_format(const rk_ip_t *ip, char *buf, size_t cap)
{
    if (ip->v4) inet_ntop(AF_INET, ip->b + 12, buf, (socklen_t)cap);
    else inet_ntop(AF_INET6, ip->b, buf, (socklen_t)cap);
}

static void mask(rk_ip_t *ip, int bits)
{
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        if (keep >= 8) continue;
        ip->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xFF << (8 - keep));
    }
}

int rk_cidr_parse(const char *s, size_t n, rk_cidr_t *out)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (rk_ip_parse(s, alen, &out->net) < 0) return -1;
    int max = out->net.v4 ? 32 : 128;
    int bits = max;
    if (slash) {
        const char *p = slash + 1, *end = s + n;
        if (p == end) return -1;
        bits = 0;
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p) || bits > 128) return -1;
            bits = bits * 10 + (*p - '0');
        }
        if (bits > max) return -1;
    }
    out->bits = out->net.v4 ? bits + 96 : bits;
    mask(&out->net, out->bits);
    return 0;
}

int rk_cidr_contains(const rk_cidr_t *c, const rk_ip_t *ip)
{
    rk_ip_t x = *ip;
    mask(&x, c->bits);
    return memcmp(x.b, c->net.b, 16) == 0;
}

int rk_cidr_list_parse(rk_cidr_list_t *l, const char *s, char *err, size_t errlen)
{
    l->items = NULL;
    l->n = 0;
    size_t cap = 0;
    const char *p = s;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p)) p++;
        rk_cidr_t c;
        if (rk_cidr_parse(start, (size_t)(p - start), &c) < 0) {
            snprintf(err, errlen, "invalid address or CIDR range '%.*s'", (int)(p - start), start);
            rk_cidr_list_free(l);
            return -1;
        }
        if (l->n == cap) {
            cap = cap ? cap * 2 : 4;
            rk_cidr_t *ni = realloc(l->items, cap * sizeof *ni);
            if (!ni) {
                snprintf(err, errlen, "out of memory");
                rk_cidr_list_free(l);
                return -1;
            }
            l->items = ni;
        }
        l->items[l->n++] = c;
    }
    return 0;
}

int rk_cidr_list_contains(const rk_cidr_list_t *l, const rk_ip_t *ip)
{
    for (size_t i = 0; i < l->n; i++)
        if (rk_cidr_contains(&l->items[i], ip)) return 1;
    return 0;
}

void rk_cidr_list_free(rk_cidr_list_t *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void copy_out(char *out, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;  /* on every request: no snprintf */
    if (n >= cap) n = cap - 1;
    if (n) memcpy(out, s, n);
    out[n] = '\0';
}

/* Appends n bytes of s (and a comma before, when out is not empty). */
static void list_add(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len && *len + 1 < cap) out[(*len)++] = ',';
    if (*len + n >= cap) n = *len < cap ? cap - *len - 1 : 0;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

size_t rk_forwarded_for(const char *fwd, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    const char *p = fwd;
    while (p && *p) {
        /* one element: up to a comma outside quotes */
        const char *e = p;
        int quoted = 0;
        while (*e && (quoted || *e != ',')) { if (*e == '"') quoted = !quoted; e++; }
        const char *val = NULL, *vend = NULL;
        for (const char *q = p; q < e;) {   /* its pairs, split by ';' outside quotes */
            while (q < e && (*q == ' ' || *q == '\t' || *q == ';')) q++;
            const char *pe = q;
            int qq = 0;
            while (pe < e && (qq || *pe != ';')) { if (*pe == '"') qq = !qq; pe++; }
            if (pe - q > 4 && strncasecmp(q, "for=", 4) == 0) { val = q + 4; vend = pe; }
            q = pe;
        }
        if (val) {
            while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
            if (vend - val >= 2 && *val == '"' && vend[-1] == '"') { val++; vend--; }
            if (val < vend && *val == '[') {            /* "[2001:db8::1]:4711" */
                const char *rb = memchr(val, ']', (size_t)(vend - val));
                if (rb) vend = rb + 1;
            } else {                                    /* "192.0.2.1:4711" */
                const char *colon = memchr(val, ':', (size_t)(vend - val));
                if (colon && !memchr(colon + 1, ':', (size_t)(vend - colon - 1))) vend = colon;
            }
            list_add(out, cap, &len, val, (size_t)(vend - val));
        } else {
            list_add(out, cap, &len, "unknown", 7);
        }
        p = *e ? e + 1 : e;
    }
    return len;
}

void rk_client_addr(const rk_cidr_list_t *trusted, const char *peer,
                    const char *xff, char *out, size_t cap)
{
    rk_ip_t ip;
    copy_out(out, cap, peer);
    if (!xff || trusted->n == 0 || !peer) return;
    if (rk_ip_parse(peer, strlen(peer), &ip) < 0 || !rk_cidr_list_contains(trusted, &ip))
        return;
    /* Walk from the right; each hop that is a trusted proxy vouches for the
     * entry to its left. The first untrusted entry is the client. */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',') start--;
        if (rk_ip_parse(start, (size_t)(end - start), &ip) < 0)
            return; /* garbage in the chain: trust nothing past it */
        rk_ip_format(&ip, out, cap);
        if (!rk_cidr_list_contains(trusted, &ip)) return;
        end = start > xff ? start - 1 : xff;
    }
}
