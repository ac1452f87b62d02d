/* lockout.h — sign-in throttling that an attacker cannot aim at someone
 * else. Pure C, thread-safe: one per server, shared by its workers and kept
 * across reloads (the Lua states come and go, this does not).
 *
 * Three counters, after the way Auth0 and Okta separate "block this address
 * for this account" from "lock the account":
 *  - (account, address): from the pair_after-th failure in a row, that
 *    address waits before its next try for this account, pair_base_s
 *    doubling per further failure up to pair_max_s. Only that address.
 *  - the account: past account_ceiling failures within account_window_s
 *    from addresses it never signed in from, such addresses together get
 *    one try per account_slow_s. The account is slowed, never locked, and
 *    an address it signed in from before (one of its last RK_LOCKOUT_KNOWN)
 *    is not slowed at all: the owner still signs in.
 *  - the address: ip_max failures within ip_window_s (over all accounts:
 *    password spraying) and it waits for the window's end.
 * Attempts that wait are refused unverified and change nothing. Memory is
 * bounded: at most max_entries records, expired ones swept when full.
 */
#ifndef RK_LOCKOUT_H
#define RK_LOCKOUT_H

#include <stdint.h>

#define RK_LOCKOUT_KNOWN 4

typedef struct rk_lockout_cfg {
    int pair_after, pair_base_s, pair_max_s;
    int account_ceiling, account_window_s, account_slow_s;
    int ip_max, ip_window_s;
    int max_entries;
} rk_lockout_cfg_t;

void rk_lockout_defaults(rk_lockout_cfg_t *c);

typedef struct rk_lockout rk_lockout_t;

rk_lockout_t *rk_lockout_new(const rk_lockout_cfg_t *c);   /* NULL when out of memory */
void rk_lockout_free(rk_lockout_t *l);

/* Seconds this attempt must wait before it may be verified; 0: verify it
 * now. why (when not NULL) names the counter: "address", "account" or
 * "address_for_account". */
int rk_lockout_wait(rk_lockout_t *l, const char *account, const char *addr, int64_t now, const char **why);
void rk_lockout_failed(rk_lockout_t *l, const char *account, const char *addr, int64_t now);
/* A good password: the pair's count is cleared and the address becomes one
 * the account signs in from. */
void rk_lockout_succeeded(rk_lockout_t *l, const char *account, const char *addr, int64_t now);

#endif
