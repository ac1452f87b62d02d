/* intel_ipset.h — a set of IP addresses and ranges (IPv4 and IPv6) compiled for
 * fast membership tests. Pure C.
 *
 * A builder takes the lines of a list file (one address, CIDR range or
 * "first-last" range per line, '#' or ';' comments, the FireHOL .netset
 * format and the Tor exit list in both its bulk and "ExitAddress" forms),
 * then compiles them into sorted, merged, disjoint intervals per family.
 * IPv4 look-ups go through a table indexed by the address's top 16 bits, so
 * a test is one table read and a binary search over the few intervals that
 * start in that /16 (measured in `make bench`). The two families are
 * separate: an IPv6 range never matches an IPv4 address (an IPv4-mapped
 * IPv6 address is the IPv4 address). A compiled set is read-only and safe to
 * share between threads.
 */
#ifndef RK_INTEL_IPSET_H
#define RK_INTEL_IPSET_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

typedef struct rk_ipset rk_ipset_t;
typedef struct rk_ipset_builder rk_ipset_builder_t;

rk_ipset_builder_t *rk_ipset_builder_new(void);
void rk_ipset_builder_free(rk_ipset_builder_t *b);

/* One line of a list file. Returns 1 when an entry was added, 0 for a line
 * with nothing to add (blank, comment, a Tor list's other fields, an entry
 * whose expiry has passed) and -1, with err, for a malformed line. With
 * expiring, a second field is required: the entry's expiry in Unix seconds,
 * compared with now_s (the automatic sets riskd writes itself). */
int rk_ipset_builder_line(rk_ipset_builder_t *b, const char *line, size_t n, int expiring, int64_t now_s,
                          char *err, size_t errlen);
/* Adds the inclusive range lo..hi (same family, lo <= hi); -1 otherwise. */
int rk_ipset_builder_add(rk_ipset_builder_t *b, const rk_ip_t *lo, const rk_ip_t *hi);
/* Entries added so far (before merging). */
size_t rk_ipset_builder_count(const rk_ipset_builder_t *b);

/* Compiles and frees the builder; NULL when out of memory. */
rk_ipset_t *rk_ipset_build(rk_ipset_builder_t *b);
void rk_ipset_free(rk_ipset_t *s);

int rk_ipset_contains(const rk_ipset_t *s, const rk_ip_t *ip);
/* addr in host byte order */
int rk_ipset_contains_v4(const rk_ipset_t *s, uint32_t addr);

typedef struct rk_ipset_info {
    size_t entries;        /* lines that added something */
    size_t ranges_v4, ranges_v6;   /* disjoint intervals after merging */
    size_t memory;         /* bytes held by the compiled set */
} rk_ipset_info_t;
void rk_ipset_info(const rk_ipset_t *s, rk_ipset_info_t *out);

#endif
