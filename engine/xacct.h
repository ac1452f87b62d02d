/* xacct.h — cross-account memory: which accounts signed in from a network
 * or an address in the last days, and whether with a device new to them.
 * What no single profile shows: a proxy exit reused across a few victims,
 * a stolen session cookie replayed by buyers who share exits. Pure C.
 *
 * Bounded: a fixed table of keys (a power of two), each remembering its
 * RK_XACCT_WAYS most recent accounts; a key that lands on a slot another
 * key holds takes it over (the older key is forgotten, never mixed in).
 * Accounts are kept as hashes. Shared by a server's workers: the slots are
 * guarded by striped locks. */
#ifndef RK_XACCT_H
#define RK_XACCT_H

#include <stddef.h>
#include <stdint.h>

#define RK_XACCT_WAYS 8
/* What one sign-in said about the account and the key. A network is new to
 * the account, or one it already used (a regular's); an account with no
 * history says neither. Attackers' exits have only newcomers; offices, VPN
 * exits and carriers have regulars. */
#define RK_XACCT_NEW_DEVICE 1u
#define RK_XACCT_NEW_NETWORK 2u
#define RK_XACCT_KNOWN_NETWORK 4u

typedef struct rk_xacct rk_xacct_t;

/* slots: how many keys are remembered (rounded up to a power of two). */
rk_xacct_t *rk_xacct_new(size_t slots);
void rk_xacct_free(rk_xacct_t *x);
/* Notes that account signed in from key at ts_ms (flags: RK_XACCT_*, added
 * to what the account's earlier sign-ins from key said). */
void rk_xacct_note(rk_xacct_t *x, const char *key, const char *account, int64_t ts_ms, unsigned flags);
/* How many accounts other than account signed in from key since since_ms,
 * with every flag of flags set in at least one of their sign-ins. */
int rk_xacct_others(rk_xacct_t *x, const char *key, const char *account, int64_t since_ms, unsigned flags);

#endif
