/* calib.h — calibrated risk levels: the score thresholds of the levels kept
 * from the recent distribution of scores, so that no more than a declared
 * share of attempts reaches each level. Pure C.
 *
 * The distribution is a histogram over the score's whole range (0-100, in
 * steps of 0.01), so a quantile is exact to one step and memory is fixed.
 * It forgets: once it holds a window's worth of attempts, every count is
 * halved. One calibration is shared by a server's workers (a mutex guards
 * it); thresholds are recomputed at most every RK_CALIB_EVERY additions.
 *
 * What keeps an attack from hiding itself by raising the thresholds:
 * callers leave out failed attempts and known attackers; a threshold never
 * rises above its ceiling (a score that high always reaches the level);
 * and it rises at most max_rise points per hour of the attempts' own time,
 * while it may fall at once. A burst of high scores therefore moves the
 * thresholds slowly and never past the ceilings. */
#ifndef RK_CALIB_H
#define RK_CALIB_H

#include <stddef.h>
#include <stdint.h>

#define RK_CALIB_BINS 10001
#define RK_CALIB_EVERY 64
/* The store state (rk_store_state_put) the thresholds are kept under, by the
 * server and by riskd score --db, so that neither starts a warm-up again. */
#define RK_CALIB_STATE_KEY "calibration"

enum { RK_CALIB_HIGH = 0, RK_CALIB_CRITICAL = 1, RK_CALIB_LEVELS = 2 };

typedef struct rk_calib_opts {
    double share[RK_CALIB_LEVELS];     /* at most this share of attempts at the level or above; 0: fixed */
    double floor[RK_CALIB_LEVELS];     /* the fixed thresholds: used until min_attempts, never gone below */
    double ceiling[RK_CALIB_LEVELS];   /* never gone above */
    double min_attempts;               /* history needed before thresholds move */
    double window;                     /* attempts remembered (counts halve past it) */
    double max_rise;                   /* points per hour a threshold may rise */
} rk_calib_opts_t;

typedef struct rk_calib rk_calib_t;

rk_calib_t *rk_calib_new(void);
void rk_calib_free(rk_calib_t *c);
/* Counts a score (clamped to 0-100) seen at ts_ms. Any thread. */
void rk_calib_add(rk_calib_t *c, double score, int64_t ts_ms, const rk_calib_opts_t *o);
/* The thresholds into out; 1 when calibrated, 0 while warming up (out =
 * the floors). Any thread. */
int rk_calib_thresholds(rk_calib_t *c, const rk_calib_opts_t *o, double out[RK_CALIB_LEVELS]);
/* The weight of the remembered attempts. */
double rk_calib_count(rk_calib_t *c);
/* The score at quantile q (0-1) of the remembered attempts, exact to one step; -1 when empty. */
double rk_calib_quantile(rk_calib_t *c, double q);

/* A text form for the store: the counts that are not zero, the thresholds
 * and the time; rk_calib_decode returns -1 on text it did not write. */
char *rk_calib_encode(rk_calib_t *c);   /* free() it; NULL when out of memory */
int rk_calib_decode(rk_calib_t *c, const char *text);

#endif
