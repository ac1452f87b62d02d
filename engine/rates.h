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
 * table of RK_RATES_MAX names. One instance only: several riskd instances
 * each keep their own rates (MongoDB does not share them).
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

#endif
