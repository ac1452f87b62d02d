/* rates_sync.c — see rates_sync.h. */
#include "rates_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int rk_rates_sync_once(rk_rates_t *r, rk_store_t *s, char *err, size_t errlen)
{
    rk_rate_delta_t d[RK_RATES_MAX];
    int n = rk_rates_take(r, d, RK_RATES_MAX), rc = 0;
    for (int i = 0; i < n; i++) {
        /* push: what this instance counted since the last round */
        if ((d[i].cur > 0 && rk_store_rate_add(s, d[i].name, d[i].hour, (int64_t)d[i].cur, err, errlen) != 0) ||
            (d[i].prev > 0 && rk_store_rate_add(s, d[i].name, d[i].hour - 1, (int64_t)d[i].prev, err, errlen) != 0)) {
            for (int j = i; j < n; j++) rk_rates_untake(r, &d[j]);   /* a partial push may count twice: rare, harmless */
            return -1;
        }
        /* pull: the site's counts (the seed's window once, then two hours) */
        int64_t counts[RK_RATES_SEED_HOURS + 1], first;
        int64_t from = d[i].seeded ? d[i].hour - 1 : d[i].hour - RK_RATES_SEED_HOURS;
        if (rk_store_rate_counts(s, d[i].name, from, d[i].hour, counts, &first, err, errlen) != 0) { rc = -1; continue; }
        int64_t span = d[i].hour - from;
        if (!d[i].seeded) {
            double past[RK_RATES_SEED_HOURS];
            for (int64_t h = 0; h < span; h++) past[h] = (double)counts[h];
            rk_rates_seed(r, d[i].name, d[i].hour, past, (int)span, first);
        }
        rk_rates_merge(r, d[i].name, d[i].hour, (double)counts[span], (double)counts[span - 1]);
    }
    return rc;
}

struct rk_rates_syncer {
    rk_rates_t *rates;
    rk_store_t *store;
    int period_ms, stop;
    int64_t rounds, failures;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *run(void *arg)
{
    rk_rates_syncer_t *y = arg;
    pthread_mutex_lock(&y->mu);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += y->period_ms / 1000;
        until.tv_nsec += (long)(y->period_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        while (!y->stop && pthread_cond_timedwait(&y->cv, &y->mu, &until) != ETIMEDOUT) {}
        int last = y->stop;
        pthread_mutex_unlock(&y->mu);
        char err[512];
        int rc = rk_rates_sync_once(y->rates, y->store, err, sizeof err);
        pthread_mutex_lock(&y->mu);
        y->rounds++;
        if (rc != 0) {
            y->failures++;
            rk_log_msg(RK_LOG_WARN, "shared rates: sync failed", "error", err);
        }
        if (last) break;
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

rk_rates_syncer_t *rk_rates_syncer_start(rk_rates_t *r, const char *uri, int period_ms, int *off, char *err,
                                         size_t errlen)
{
    *off = 0;
    err[0] = '\0';
    rk_rates_syncer_t *y = calloc(1, sizeof *y);
    if (!y) { snprintf(err, errlen, "out of memory"); return NULL; }
    y->rates = r;
    y->period_ms = period_ms > 0 ? period_ms : RK_RATES_SYNC_MS;
    if (!(y->store = rk_store_open(uri, NULL, err, errlen))) { free(y); return NULL; }
    if (!rk_store_shares_rates(y->store)) {
        rk_store_close(y->store);
        free(y);
        *off = 1;
        return NULL;
    }
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
    if (pthread_create(&y->thread, NULL, run, y) != 0) {
        snprintf(err, errlen, "cannot start the rates thread");
        pthread_cond_destroy(&y->cv);
        pthread_mutex_destroy(&y->mu);
        rk_store_close(y->store);
        free(y);
        return NULL;
    }
    return y;
}

void rk_rates_syncer_counts(rk_rates_syncer_t *y, int64_t *rounds, int64_t *failures)
{
    pthread_mutex_lock(&y->mu);
    *rounds = y->rounds;
    *failures = y->failures;
    pthread_mutex_unlock(&y->mu);
}

void rk_rates_syncer_stop(rk_rates_syncer_t *y)
{
    if (!y) return;
    pthread_mutex_lock(&y->mu);
    y->stop = 1;
    pthread_cond_signal(&y->cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->thread, NULL);
    pthread_cond_destroy(&y->cv);
    pthread_mutex_destroy(&y->mu);
    rk_store_close(y->store);
    free(y);
}
