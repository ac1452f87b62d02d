/* store_live.h — the analysis's working state of the embedded (SQLite) store,
 * held in memory and shared by a server's threads: each user's profile,
 * recent failures per user and users per address, the global value counts
 * and their totals. Every analysis reads these; from SQLite they cost index
 * searches, page reads and, for the recent counts, scans that grow with
 * history, on every request of every worker.
 *
 * SQLite stays the record. The thread that owns the writes (the server's
 * store writer) feeds what it writes in the order it writes it, and the
 * readers (the workers) take from here what is held and ask SQLite for the
 * rest, so every answer is one SQLite would give:
 *   - recent counts are complete for times at or after a horizon: when the
 *     state starts, an hour and a margin before the newest event on disk
 *     (the owner loads those events), raised when the window outgrows its
 *     bound or a purge deletes events; an earlier `since` is answered by
 *     SQLite;
 *   - profiles and value counts are put only by the owner, which reads them
 *     on its own connection, and evicted only once that write is committed,
 *     so a miss read from disk is never older than a hit would be;
 *   - other connections' writes drop what they change (profiles, values) or
 *     add to it (failures, totals);
 *   - a write that is rolled back after feeding turns the state off: from
 *     then on every read goes to SQLite (the server logs it).
 * Pure C; maps from GLib. */
#ifndef RK_STORE_LIVE_H
#define RK_STORE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct rk_live rk_live_t;

typedef struct rk_live_limits {
    size_t profile_bytes;    /* encoded profiles held; past it, committed ones are evicted */
    size_t values;           /* global value counts held; the same */
    size_t window_entries;   /* failure times and address-user pairs; past it the horizon rises */
} rk_live_limits_t;

typedef struct rk_live_stats {
    uint64_t hits, misses;           /* reads answered here, and passed to SQLite */
    size_t profiles, profile_bytes, values, window_entries;
    int64_t horizon;
    int on;
} rk_live_stats_t;

void rk_live_default_limits(rk_live_limits_t *l);
/* A state that answers nothing until rk_live_start. */
rk_live_t *rk_live_new(const rk_live_limits_t *l);
void rk_live_free(rk_live_t *lv);

/* Sets the first horizon (INT64_MIN: the store holds no event yet). The
 * events on disk from it on must then be noted before anything reads. */
void rk_live_start(rk_live_t *lv, int64_t horizon);
/* How many entries the recent window may hold. */
size_t rk_live_window_limit(const rk_live_t *lv);
/* Raises the horizon to at least h (never lowers it). */
void rk_live_raise_horizon(rk_live_t *lv, int64_t h);
/* Turns the state off for good: every read goes to SQLite. */
void rk_live_off(rk_live_t *lv);
int rk_live_is_on(rk_live_t *lv);

/* ---- recent activity ---- */
/* An event recorded: a failure counts for its user, and the user for the address. */
void rk_live_note(rk_live_t *lv, const char *user, const char *ip, int64_t ts, int success);
/* Failures of user and distinct users of ip at or after since; 0 when this
 * state cannot say (since before the horizon, or off). */
int rk_live_recent(rk_live_t *lv, const char *user, const char *ip, int64_t since,
                   int64_t *user_failures, int64_t *ip_users);

/* ---- profiles ---- */
/* 1 and *out filled (state included) when held, 0 otherwise. */
int rk_live_profile_get(rk_live_t *lv, const char *user, rk_profile_t *out);
/* The owner's write of p, encoded as bytes, in its current transaction. */
void rk_live_profile_put(rk_live_t *lv, const rk_profile_t *p, const unsigned char *bytes, size_t len);
void rk_live_profile_drop(rk_live_t *lv, const char *user);
/* What an analyst says of the account (state "" or NULL: nothing), when held. */
void rk_live_state(rk_live_t *lv, const char *user, const char *state, const char *by, int64_t ms);

/* ---- global value counts ---- */
int rk_live_value_get(rk_live_t *lv, int kind, const char *value, int64_t *count);
void rk_live_value_put(rk_live_t *lv, int kind, const char *value, int64_t count);
void rk_live_value_drop(rk_live_t *lv, int kind, const char *value);
/* 1 and the per-kind totals and distinct counts when known. */
int rk_live_totals(rk_live_t *lv, int64_t total[RK_PK_COUNT], int64_t distinct[RK_PK_COUNT]);
void rk_live_totals_set(rk_live_t *lv, const int64_t total[RK_PK_COUNT], const int64_t distinct[RK_PK_COUNT]);
/* Adds to the totals when known. */
void rk_live_totals_add(rk_live_t *lv, int kind, int64_t total, int64_t distinct);

/* ---- the owner's transactions ---- */
/* A new transaction of the owner: what it puts is evictable once done. */
void rk_live_write_begin(rk_live_t *lv);
void rk_live_write_done(rk_live_t *lv);

void rk_live_stats(rk_live_t *lv, rk_live_stats_t *out);

/* Whether the owner holds summaries it has not written (rk_store_sync). */
void rk_live_deferred_set(rk_live_t *lv, int64_t n);
int64_t rk_live_deferred(rk_live_t *lv);

#endif
