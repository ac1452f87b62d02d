/* store_sums.h — what the embedded store's writer has added to its
 * summaries (the hourly rows, the per-user hourly rows, the addresses seen,
 * the global value counts) and not yet written: one entry per key, summed.
 *
 * Writing each analysis's share of them one statement at a time was half
 * of the writer's work, and most of it rewrote the same rows (this hour,
 * this country, this browser) again and again. The writer adds events here
 * and writes each key once per flush (store_sqlite.c says when, and how a
 * crash before a flush is replayed). Pure C; maps from GLib. */
#ifndef RK_STORE_SUMS_H
#define RK_STORE_SUMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_sums rk_sums_t;

typedef struct rk_sums_hour {
    int64_t attempts, failures, anomalies, levels[4];   /* levels: low, medium, high, critical */
    double risk_sum;
} rk_sums_hour_t;

typedef struct rk_sums_user_hour {
    int64_t attempts, anomalies, high;
    double risk_sum, max_risk;
} rk_sums_user_hour_t;

typedef struct rk_sums_ip {
    int64_t first_ms, last_ms;
} rk_sums_ip_t;

typedef struct rk_sums_value {
    int64_t count;    /* how many successful logins had it, written and not */
    int64_t delta;    /* of which not written yet */
} rk_sums_value_t;

/* NULL when out of memory. */
rk_sums_t *rk_sums_new(void);
void rk_sums_free(rk_sums_t *s);
void rk_sums_clear(rk_sums_t *s);
/* Keys held (each written once by the next flush). */
size_t rk_sums_keys(const rk_sums_t *s);

/* One event's share of the hourly, per-user hourly and address rows
 * (level: 0 low .. 3 critical, -1 none). */
void rk_sums_event(rk_sums_t *s, const char *user, const char *ip, int64_t ts_ms, int64_t bucket,
                   int failure, int anomaly, double risk, int level);

/* The entry of a value, NULL when not held. */
rk_sums_value_t *rk_sums_value(rk_sums_t *s, int kind, const char *value);
/* A new entry for a value that counted base logins before (delta 0). */
rk_sums_value_t *rk_sums_value_new(rk_sums_t *s, int kind, const char *value, int64_t base);

/* Every key, by kind of row; a visitor returning non-zero stops the walk
 * and that is returned. A NULL visitor skips its rows. */
typedef struct rk_sums_visit {
    int (*hour)(void *arg, int64_t bucket, const rk_sums_hour_t *h);
    int (*user_hour)(void *arg, const char *user, int64_t bucket, const rk_sums_user_hour_t *u);
    int (*ip)(void *arg, const char *ip, const rk_sums_ip_t *a);
    int (*value)(void *arg, int kind, const char *value, const rk_sums_value_t *v);
} rk_sums_visit_t;
int rk_sums_each(rk_sums_t *s, const rk_sums_visit_t *v, void *arg);

#endif
