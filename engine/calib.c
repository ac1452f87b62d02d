/* calib.c — see calib.h. */
#include "calib.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000.0

struct rk_calib {
    pthread_mutex_t mu;
    double bins[RK_CALIB_BINS];
    double total;
    double thr[RK_CALIB_LEVELS];   /* the published thresholds, once calibrated */
    int calibrated;
    /* The attempts' own time, made monotonic: the sum of the forward steps
     * between consecutive attempts, each at most an hour, so that a replayed
     * history, a late attempt or a stray clock neither stops nor rushes it. */
    int64_t clock_ms, prev_ts;
    int64_t thr_clock;              /* clock_ms at the last recompute */
    unsigned since;                 /* additions since the last recompute */
};

rk_calib_t *rk_calib_new(void)
{
    rk_calib_t *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->mu, NULL);
    return c;
}

void rk_calib_free(rk_calib_t *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int bin_of(double score)
{
    if (!(score > 0)) return 0;                 /* NaN too */
    if (score >= 100) return RK_CALIB_BINS - 1;
    return (int)lround(score * 100);
}

/* The lowest score t such that at most share of the weight is at t or above. */
static double top_threshold(const rk_calib_t *c, double share)
{
    double allowed = share * c->total, acc = 0;
    for (int i = RK_CALIB_BINS - 1; i >= 0; i--) {
        if (acc + c->bins[i] > allowed) return (i + 1) / 100.0;
        acc += c->bins[i];
    }
    return 0;
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static void recompute(rk_calib_t *c, const rk_calib_opts_t *o)
{
    c->since = 0;
    if (c->total < o->min_attempts) { c->calibrated = 0; return; }
    if (!c->calibrated) {
        /* from the fixed thresholds, rising at the allowed pace from now */
        for (int l = 0; l < RK_CALIB_LEVELS; l++) c->thr[l] = o->floor[l];
        c->thr_clock = c->clock_ms;
        c->calibrated = 1;
    }
    double hours = (double)(c->clock_ms - c->thr_clock) / HOUR_MS;
    for (int l = 0; l < RK_CALIB_LEVELS; l++) {
        double target = o->share[l] > 0 ? top_threshold(c, o->share[l]) : o->floor[l];
        target = clamp(target, o->floor[l], o->ceiling[l] > o->floor[l] ? o->ceiling[l] : o->floor[l]);
        if (target > c->thr[l]) {
            double allowed = c->thr[l] + o->max_rise * hours;
            c->thr[l] = target < allowed ? target : allowed;
        } else {
            c->thr[l] = target;
        }
    }
    c->thr_clock = c->clock_ms;
}

void rk_calib_add(rk_calib_t *c, double score, int64_t ts_ms, const rk_calib_opts_t *o)
{
    pthread_mutex_lock(&c->mu);
    c->bins[bin_of(score)] += 1;
    c->total += 1;
    if (o->window > 0 && c->total > o->window) {
        /* forget: recent attempts weigh as much as everything before them */
        c->total = 0;
        for (int i = 0; i < RK_CALIB_BINS; i++) { c->bins[i] /= 2; c->total += c->bins[i]; }
    }
    if (c->prev_ts && ts_ms > c->prev_ts) c->clock_ms += ts_ms - c->prev_ts < (int64_t)HOUR_MS ? ts_ms - c->prev_ts : (int64_t)HOUR_MS;
    c->prev_ts = ts_ms;
    if (++c->since >= RK_CALIB_EVERY || !c->calibrated) recompute(c, o);
    pthread_mutex_unlock(&c->mu);
}

int rk_calib_thresholds(rk_calib_t *c, const rk_calib_opts_t *o, double out[RK_CALIB_LEVELS])
{
    pthread_mutex_lock(&c->mu);
    int cal = c->calibrated;
    for (int l = 0; l < RK_CALIB_LEVELS; l++) {
        double hi = o->ceiling[l] > o->floor[l] ? o->ceiling[l] : o->floor[l];
        out[l] = cal ? clamp(c->thr[l], o->floor[l], hi) : o->floor[l];
    }
    pthread_mutex_unlock(&c->mu);
    return cal;
}

double rk_calib_count(rk_calib_t *c)
{
    pthread_mutex_lock(&c->mu);
    double n = c->total;
    pthread_mutex_unlock(&c->mu);
    return n;
}

double rk_calib_quantile(rk_calib_t *c, double q)
{
    pthread_mutex_lock(&c->mu);
    double v = -1, want = q * c->total, acc = 0;
    if (c->total > 0) {
        for (int i = 0; i < RK_CALIB_BINS; i++) {
            acc += c->bins[i];
            if (acc >= want && c->bins[i] > 0) { v = i / 100.0; break; }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return v;
}

#define MAGIC "riskd-calibration 1"

char *rk_calib_encode(rk_calib_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t cap = 256 + 40 * RK_CALIB_BINS, n = 0;
    char *s = malloc(cap);
    if (s) {
        n += (size_t)snprintf(s + n, cap - n, MAGIC "\n%d %.17g %.17g %lld %lld %lld\n", c->calibrated, c->thr[0], c->thr[1],
                              (long long)c->thr_clock, (long long)c->clock_ms, (long long)c->prev_ts);
        for (int i = 0; i < RK_CALIB_BINS; i++)
            if (c->bins[i] > 0) n += (size_t)snprintf(s + n, cap - n, "%d %.17g\n", i, c->bins[i]);
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

int rk_calib_decode(rk_calib_t *c, const char *text)
{
    size_t m = strlen(MAGIC);
    if (strncmp(text, MAGIC, m) != 0 || text[m] != '\n') return -1;
    const char *p = text + m + 1;
    int cal, used;
    double thr[RK_CALIB_LEVELS];
    long long thr_clock, clock_ms, prev_ts;
    if (sscanf(p, "%d %lf %lf %lld %lld %lld%n", &cal, &thr[0], &thr[1], &thr_clock, &clock_ms, &prev_ts, &used) != 6) return -1;
    p += used;
    double *bins = calloc(RK_CALIB_BINS, sizeof *bins), total = 0;
    if (!bins) return -1;
    int i;
    double v;
    while (sscanf(p, " %d %lf%n", &i, &v, &used) == 2) {
        if (i < 0 || i >= RK_CALIB_BINS || !(v >= 0) || !isfinite(v)) { free(bins); return -1; }
        bins[i] = v;
        total += v;
        p += used;
    }
    while (*p == '\n' || *p == ' ') p++;
    if (*p) { free(bins); return -1; }
    pthread_mutex_lock(&c->mu);
    memcpy(c->bins, bins, sizeof c->bins);
    c->total = total;
    c->calibrated = cal != 0;
    c->thr[0] = thr[0];
    c->thr[1] = thr[1];
    c->thr_clock = thr_clock;
    c->clock_ms = clock_ms;
    c->prev_ts = prev_ts;
    c->since = 0;
    pthread_mutex_unlock(&c->mu);
    free(bins);
    return 0;
}
