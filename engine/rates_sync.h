/* rates_sync.h — the site-wide rates (rates.h) shared by the riskd instances
 * of one MongoDB deployment, through the store's per-hour counts. Pure C.
 *
 * Every RK_RATES_SYNC_MS a thread takes the hits this instance counted since
 * the last time, adds them to the store, and merges the site-wide counts of
 * the current and previous hours back; the first time for a name, the store's
 * last RK_RATES_SEED_HOURS hours seed the baseline. So every instance judges a
 * spike by the whole site's traffic, a few seconds late, and a restarted one
 * keeps the learned baseline. With a backend that does not share rates
 * (SQLite: one instance; mem:) nothing is started.
 */
#ifndef RK_RATES_SYNC_H
#define RK_RATES_SYNC_H

#include "rates.h"
#include "store.h"

#define RK_RATES_SYNC_MS 2000
#define RK_RATES_SEED_HOURS 72

/* One round: push, pull, merge. 0, or -1 with err (what was not pushed is
 * given back to the next round). */
int rk_rates_sync_once(rk_rates_t *r, rk_store_t *s, char *err, size_t errlen);

typedef struct rk_rates_syncer rk_rates_syncer_t;

/* Starts the thread with its own store connection to uri, or returns NULL
 * with err; *off set to 1 (and NULL returned, err empty) when the backend does
 * not share rates. */
rk_rates_syncer_t *rk_rates_syncer_start(rk_rates_t *r, const char *uri, int period_ms, int *off, char *err,
                                         size_t errlen);
/* Rounds done and failed so far (for /metrics). */
void rk_rates_syncer_counts(rk_rates_syncer_t *y, int64_t *rounds, int64_t *failures);
/* Stops after a last round, so that no counted hit is lost; frees. */
void rk_rates_syncer_stop(rk_rates_syncer_t *y);

#endif
