/* rates.h — site-wide event rates per hour, each against a baseline it
 * learns, shared by every worker of the process. Pure C, thread-safe.
 *
 * Why: some attacks are only visible in aggregate. A botnet trying stolen
 * passwords sends one attempt per account, each from another address and a
 * browser-like user agent: no account and no address looks odd, but the
 * site sees many more failures from never-seen devices in that hour than it
 * usually does. The rules ask "how busy is this hour against the usual?".
 *
 * Time is the events' own (their timestamps), not the clock, so that a
 * replay (`riskd eval`) sees what the server would have seen. Hours are
 * whole UTC hours; the baseline is an exponentially weighted mean of past
 * hours' counts (RK_RATES_ALPHA per hour, hours without events count as 0);
 * the last-hour figure slides: this hour's count plus the part of the
 * previous hour's count that the sliding window still covers. Events of
 * an hour older than the previous one are not counted. Memory: a fixed
 * table of RK_RATES_MAX names.
 *
 * Several instances on one MongoDB deployment share their rates
 * (rates_sync.c): every few seconds each one takes the hits it counted since
 * the last time (rk_rates_take), adds them to the store's per-hour counts,
 * and merges the site-wide counts of the current and previous hours back
 * (rk_rates_merge), keeping the hits counted meanwhile; the first time, the
 * store's past hours seed the baseline (rk_rates_seed), so that a restarted
 * or new instance does not wait a day to judge spikes.
 */
#ifndef RK_RATES_H
#define RK_RATES_H

#include <stdint.h>

#define RK_RATES_MAX 16
#define RK_RATES_ALPHA 0.05   /* weight of the newest hour: a memory of about 20 hours */

typedef struct rk_rates rk_rates_t;

typedef struct rk_rate_info {
    double last_hour;     /* events in the hour up to ts (sliding) */
    double baseline;      /* the learned mean per hour */
    int64_t hours;        /* hours of history behind the baseline */
} rk_rate_info_t;

/* The process's table (created on first use). */
rk_rates_t *rk_rates_global(void);
rk_rates_t *rk_rates_new(void);
void rk_rates_free(rk_rates_t *r);

/* Counts one event of `name` at ts_ms. -1 when the table is full or the
 * name is longer than 31 bytes. */
int rk_rates_hit(rk_rates_t *r, const char *name, int64_t ts_ms);
/* The figures for `name` at ts_ms (all 0 for a name never hit). */
void rk_rates_get(rk_rates_t *r, const char *name, int64_t ts_ms, rk_rate_info_t *out);
/* Forgets everything (tests, a new replay). */
void rk_rates_reset(rk_rates_t *r);

/* What the table has learned of each name counted so far, at the hour of
 * its latest event (at most max; /metrics). */
typedef struct rk_rate_state {
    char name[32];
    int64_t hour;         /* the name's current hour */
    double cur, prev;     /* counts of that hour and of the one before */
    double baseline;
    int64_t hours;        /* hours of history behind the baseline */
} rk_rate_state_t;
int rk_rates_states(rk_rates_t *r, rk_rate_state_t *out, int max);

/* A text form for the store of a single instance (SQLite), so that a
 * restarted server or a replay that goes on from a store keeps the learned
 * baselines instead of waiting a day (several instances share theirs through
 * rates_sync.c instead). rk_rates_decode replaces the table with the text's,
 * or returns -1, changing nothing, on text rk_rates_encode did not write.
 * The hours between a decoded table's last event and its next one are
 * unknown (the server was down), not empty: they do not lower the baseline. */
#define RK_RATES_STATE_KEY "rates"
char *rk_rates_encode(rk_rates_t *r);   /* free() it; NULL when out of memory */
int rk_rates_decode(rk_rates_t *r, const char *text);

/* Sharing between instances (rates_sync.c). */
typedef struct rk_rate_delta {
    char name[32];
    int64_t hour;         /* the name's current hour */
    double cur, prev;     /* hits of that hour and of the one before, since the last take */
    int seeded;
} rk_rate_delta_t;

/* The hits counted since the last take, per name (at most max); zeroes them. */
int rk_rates_take(rk_rates_t *r, rk_rate_delta_t *out, int max);
/* Gives a delta back (the store could not take it). */
void rk_rates_untake(rk_rates_t *r, const rk_rate_delta_t *d);
/* The site-wide counts of `hour` and the hour before (every instance's
 * taken hits); the hits counted since the take are kept on top. */
void rk_rates_merge(rk_rates_t *r, const char *name, int64_t hour, double site_cur, double site_prev);
/* Once per name: the site-wide counts of the nhours hours before `hour`
 * (counts[0] is hour - nhours), of which those from `first` on are history,
 * become the baseline when that is more history than the instance has. */
void rk_rates_seed(rk_rates_t *r, const char *name, int64_t hour, const double *counts, int nhours, int64_t first);

#endif
