/* rates.c — see rates.h. */
#include "rates.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL

typedef struct {
    char name[32];
    int64_t hour;        /* the current hour (ts / HOUR_MS) */
    double cur, prev;    /* counts of the current and the previous hour */
    double baseline;
    int64_t hours;       /* completed hours folded into the baseline */
    double ucur, uprev;  /* of cur and prev, the hits not yet taken for sharing */
    int seeded;          /* the shared history has been folded in (rk_rates_seed) */
    int resumed;         /* read back from the store: the hours until the next event were not seen */
    int64_t asked;       /* never hit yet: the hour it was last asked about, for sharing */
} rate_t;

struct rk_rates {
    pthread_mutex_t mu;
    rate_t t[RK_RATES_MAX];
    int n;
};

rk_rates_t *rk_rates_new(void)
{
    rk_rates_t *r = calloc(1, sizeof *r);
    if (r) pthread_mutex_init(&r->mu, NULL);
    return r;
}

void rk_rates_free(rk_rates_t *r)
{
    if (!r) return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static rk_rates_t *global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void make_global(void) { global = rk_rates_new(); }

rk_rates_t *rk_rates_global(void)
{
    pthread_once(&global_once, make_global);
    return global;
}

static rate_t *find(rk_rates_t *r, const char *name, int create)
{
    for (int i = 0; i < r->n; i++) if (strcmp(r->t[i].name, name) == 0) return &r->t[i];
    if (!create || r->n == RK_RATES_MAX || strlen(name) >= sizeof r->t[0].name) return NULL;
    rate_t *x = &r->t[r->n++];
    memset(x, 0, sizeof *x);
    strcpy(x->name, name);
    x->hour = INT64_MIN;
    return x;
}

/* Moves x forward to `hour`, folding each completed hour into the baseline. */
static void advance(rate_t *x, int64_t hour)
{
    if (x->hour == INT64_MIN) { x->hour = hour; return; }
    if (hour <= x->hour) return;
    /* The hour that ends, then any empty ones (a long gap converges: cap it).
     * After a restart the hours the process was down are unknown, not
     * empty: folding them as zeros would shrink the baseline and make the
     * first busy hour after a long outage look like a spike. */
    int64_t gap = hour - x->hour, fold = x->resumed ? 1 : gap;
    x->resumed = 0;
    for (int64_t k = 0; k < fold && k < 24 * 30; k++) {
        double c = k == 0 ? x->cur : 0;
        x->baseline = x->hours == 0 ? c : (1 - RK_RATES_ALPHA) * x->baseline + RK_RATES_ALPHA * c;
        x->hours++;
    }
    x->prev = gap == 1 ? x->cur : 0;
    x->uprev = gap == 1 ? x->ucur : 0;
    x->cur = x->ucur = 0;
    x->hour = hour;
}

int rk_rates_hit(rk_rates_t *r, const char *name, int64_t ts_ms)
{
    int64_t hour = ts_ms / HOUR_MS;
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, name, 1);
    if (x) {
        advance(x, hour);
        if (hour == x->hour) { x->cur += 1; x->ucur += 1; }
        else if (hour == x->hour - 1) { x->prev += 1; x->uprev += 1; }   /* a little out of order */
    }
    pthread_mutex_unlock(&r->mu);
    return x ? 0 : -1;
}

void rk_rates_get(rk_rates_t *r, const char *name, int64_t ts_ms, rk_rate_info_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t hour = ts_ms / HOUR_MS;
    pthread_mutex_lock(&r->mu);
    /* Asking registers the name: an instance that never counted it still
     * learns the site's figures from the others (rates_sync.c). */
    rate_t *x = find(r, name, 1);
    if (x && x->hour == INT64_MIN) x->asked = hour;
    if (x && x->hour != INT64_MIN) {
        double cur = x->cur, prev = x->prev, base = x->baseline;
        int64_t hours = x->hours;
        if (hour > x->hour) {   /* asked from a later hour: what advance() would make of it */
            rate_t y = *x;
            advance(&y, hour);
            cur = y.cur, prev = y.prev, base = y.baseline, hours = y.hours;
        }
        /* an attempt a little out of order is judged by the current hour */
        double into = hour < x->hour ? 1 : (double)(ts_ms - hour * HOUR_MS) / (double)HOUR_MS;
        out->last_hour = cur + prev * (1 - into);
        out->baseline = base;
        out->hours = hours;
    }
    pthread_mutex_unlock(&r->mu);
}

void rk_rates_reset(rk_rates_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->n = 0;
    pthread_mutex_unlock(&r->mu);
}

int rk_rates_states(rk_rates_t *r, rk_rate_state_t *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && n < max; i++) {
        const rate_t *x = &r->t[i];
        if (x->hour == INT64_MIN) continue;   /* asked about, never hit: nothing learned */
        rk_rate_state_t *o = &out[n++];
        memcpy(o->name, x->name, sizeof o->name);
        o->hour = x->hour;
        o->cur = x->cur;
        o->prev = x->prev;
        o->baseline = x->baseline;
        o->hours = x->hours;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- kept in the store (one instance) ----------------------------------------- */

#define MAGIC "riskd-rates 1"

char *rk_rates_encode(rk_rates_t *r)
{
    rk_rate_state_t t[RK_RATES_MAX];
    int k = rk_rates_states(r, t, RK_RATES_MAX);
    size_t cap = 64 + (size_t)k * 192, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    n += (size_t)snprintf(s + n, cap - n, MAGIC "\n");
    for (int i = 0; i < k; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s %lld %.17g %.17g %.17g %lld\n", t[i].name, (long long)t[i].hour,
                              t[i].cur, t[i].prev, t[i].baseline, (long long)t[i].hours);
    return s;
}

int rk_rates_decode(rk_rates_t *r, const char *text)
{
    size_t m = strlen(MAGIC);
    if (strncmp(text, MAGIC, m) != 0 || text[m] != '\n') return -1;
    const char *p = text + m + 1;
    rate_t t[RK_RATES_MAX];
    int n = 0, used;
    char name[32];
    long long hour, hours;
    double cur, prev, base;
    while (sscanf(p, " %31s %lld %lf %lf %lf %lld%n", name, &hour, &cur, &prev, &base, &hours, &used) == 6) {
        if (n == RK_RATES_MAX || !(cur >= 0) || !(prev >= 0) || !(base >= 0) || !isfinite(cur) || !isfinite(prev) ||
            !isfinite(base) || hours < 0 || hour == INT64_MIN)
            return -1;
        for (int i = 0; i < n; i++) if (strcmp(t[i].name, name) == 0) return -1;
        memset(&t[n], 0, sizeof t[n]);
        memcpy(t[n].name, name, sizeof name);
        t[n].hour = hour;
        t[n].cur = cur;
        t[n].prev = prev;
        t[n].baseline = base;
        t[n].hours = hours;
        t[n].resumed = 1;
        n++;
        p += used;
    }
    while (*p == '\n' || *p == ' ') p++;
    if (*p) return -1;
    pthread_mutex_lock(&r->mu);
    memcpy(r->t, t, (size_t)n * sizeof t[0]);
    r->n = n;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* ---- sharing (rates_sync.c) ------------------------------------------------- */

int rk_rates_take(rk_rates_t *r, rk_rate_delta_t *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && n < max; i++) {
        rate_t *x = &r->t[i];
        if (x->hour == INT64_MIN && x->asked == 0) continue;
        rk_rate_delta_t *d = &out[n++];
        memcpy(d->name, x->name, sizeof d->name);
        d->hour = x->hour == INT64_MIN ? x->asked : x->hour;
        d->cur = x->ucur;
        d->prev = x->uprev;
        d->seeded = x->seeded;
        x->ucur = x->uprev = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

void rk_rates_untake(rk_rates_t *r, const rk_rate_delta_t *d)
{
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, d->name, 0);
    if (x && x->hour == d->hour) { x->ucur += d->cur; x->uprev += d->prev; }
    else if (x && x->hour == d->hour + 1) x->uprev += d->cur;
    pthread_mutex_unlock(&r->mu);
}

void rk_rates_merge(rk_rates_t *r, const char *name, int64_t hour, double site_cur, double site_prev)
{
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, name, 0);
    if (x && x->hour == INT64_MIN && x->asked == hour) x->hour = hour;   /* asked about, never hit */
    if (x && x->hour == hour) {
        x->cur = site_cur + x->ucur;
        x->prev = site_prev + x->uprev;
    } else if (x && x->hour == hour + 1) {   /* the hour turned while the store answered */
        x->prev = site_cur + x->uprev;
    }
    pthread_mutex_unlock(&r->mu);
}

void rk_rates_seed(rk_rates_t *r, const char *name, int64_t hour, const double *counts, int nhours, int64_t first)
{
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, name, 0);
    if (x && !x->seeded) {
        x->seeded = 1;
        /* counts[i] is hour - nhours + i; the shared history starts at `first` */
        double base = 0;
        int64_t hours = 0;
        for (int i = 0; i < nhours; i++) {
            if (hour - nhours + i < first) continue;
            base = hours == 0 ? counts[i] : (1 - RK_RATES_ALPHA) * base + RK_RATES_ALPHA * counts[i];
            hours++;
        }
        if (hours > x->hours) { x->baseline = base; x->hours = hours; }
    }
    pthread_mutex_unlock(&r->mu);
}
