/* netaddr.h — IP addresses and CIDR ranges (IPv4 and IPv6).
 *
 * Used to decide whether a peer is a trusted proxy (X-Forwarded-For) and, in
 * Lua, by rules that compare addresses. IPv4 is held as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) so one comparison serves both families.
 */
#ifndef RK_NETADDR_H
#define RK_NETADDR_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_ip {
    uint8_t b[16];
    int v4; /* 1 when the address came from IPv4 text */
} rk_ip_t;

typedef struct rk_cidr {
    rk_ip_t net;   /* address with host bits cleared */
    int bits;      /* prefix length over the 128-bit form */
} rk_cidr_t;

typedef struct rk_cidr_list {
    rk_cidr_t *items;
    size_t n;
} rk_cidr_list_t;

/* Parses "1.2.3.4", "::1", "[::1]" (brackets allowed). 0 or -1. */
int rk_ip_parse(const char *s, size_t n, rk_ip_t *out);
/* Writes the canonical text of ip into buf (at least 46 bytes). */
void rk_ip_format(const rk_ip_t *ip, char *buf, size_t cap);
/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (full-length prefix). */
int rk_cidr_parse(const char *s, size_t n, rk_cidr_t *out);
int rk_cidr_contains(const rk_cidr_t *c, const rk_ip_t *ip);

/* Parses a comma- or space-separated list. On error, fills err with the
 * offending entry and returns -1; the list is left empty. */
int rk_cidr_list_parse(rk_cidr_list_t *l, const char *s, char *err, size_t errlen);
int rk_cidr_list_contains(const rk_cidr_list_t *l, const rk_ip_t *ip);
void rk_cidr_list_free(rk_cidr_list_t *l);

/* The client address of a request: the peer, unless the peer is a trusted
 * proxy and X-Forwarded-For is present, in which case the right-most entry of
 * X-Forwarded-For that is not itself a trusted proxy (the left-most entries
 * are client-supplied and cannot be believed). Writes text into out. */
/* The `for=` addresses of a Forwarded header (RFC 7239) as a comma-separated
 * list for rk_client_addr, in order: quotes, brackets and ports taken off;
 * an element without one, or with an obfuscated identifier ("unknown",
 * "_hidden"), gives a token that is not an address, which stops the walk
 * there. Writes at most cap bytes (NUL included); the list's length. */
size_t rk_forwarded_for(const char *fwd, char *out, size_t cap);

void rk_client_addr(const rk_cidr_list_t *trusted, const char *peer,
                    const char *xff, char *out, size_t cap);

#endif
