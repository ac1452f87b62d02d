/* rt_session.h — who holds an open stream (Server-Sent Events, WebSocket), and
 * whether they still may. A REST call is authorised on every request; a
 * stream is authorised once when it opens, so the stream servers check each
 * open one again every second: the token has not expired, the account still
 * exists, with the same role and the password the token was issued under.
 * Changes made by another process (`riskd user ...` against the running
 * server's store) count too: the store is read, nothing is cached across
 * checks. Pure C, no Lua.
 */
#ifndef RK_RT_SESSION_H
#define RK_RT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define RK_SESSION_CHECK_MS 1000

typedef struct rk_session {
    char user[128];      /* "" = not signed in (a WebSocket before its auth message) */
    char role[16];
    char pwv[64];        /* the password's version the token carries */
    int64_t exp_s;       /* when the token expires, Unix seconds */
} rk_session_t;

/* The password's version of an argon2 hash: its salt field (as api/auth.lua's
 * password_version reads it). */
void rk_session_pwv(const char *hash, char *out, size_t cap);

/* One round of checks reads each account once. */
typedef struct rk_session_account {
    char user[128], role[16], pwv[64];
    int state;           /* found, gone, or the store did not answer */
} rk_session_account_t;

typedef struct rk_session_round {
    rk_store_t *store;
    int64_t now_s;
    int n;
    rk_session_account_t seen[32];
} rk_session_round_t;

void rk_session_round_begin(rk_session_round_t *r, rk_store_t *store, int64_t now_s);

/* 0 while s stands; 1 when it must end, with why filled ("the token has
 * expired", "the account no longer exists", "the role changed", "the
 * password changed"). A store that does not answer keeps the session (the
 * next round tries again): an outage must not close every console. */
int rk_session_check(rk_session_round_t *r, const rk_session_t *s, char *why, size_t cap);

#endif
