/* addrcount.h — open connections per client address, shared by the
 * workers: a cap that one address cannot pass however the kernel spreads
 * its connections over the workers. Pure C, thread-safe, bounded (an
 * address's record goes when its last connection does). */
#ifndef RK_ADDRCOUNT_H
#define RK_ADDRCOUNT_H

typedef struct rk_addrcount rk_addrcount_t;

rk_addrcount_t *rk_addrcount_new(int max_per_address);   /* NULL when out of memory */
void rk_addrcount_free(rk_addrcount_t *c);
/* Counts one more connection of addr: 0, or -1 (not counted) when addr
 * already has max_per_address or memory ran out. */
int rk_addrcount_acquire(rk_addrcount_t *c, const char *addr);
void rk_addrcount_release(rk_addrcount_t *c, const char *addr);
int rk_addrcount_get(rk_addrcount_t *c, const char *addr);

#endif
