/* rates.c — see rates.h. */
#include "rates.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL

typedef struct {
    char name[32];
    int64_t hour;        /* the current hour (ts / HOUR_MS) */
    double cur, prev;    /* counts of the current and the previous hour */
    double baseline;
    int64_t hours;       /* completed hours folded into the baseline */
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
    /* The hour that ends, then any empty ones (a long gap converges: cap it). */
    int64_t gap = hour - x->hour;
    for (int64_t k = 0; k < gap && k < 24 * 30; k++) {
        double c = k == 0 ? x->cur : 0;
        x->baseline = x->hours == 0 ? c : (1 - RK_RATES_ALPHA) * x->baseline + RK_RATES_ALPHA * c;
        x->hours++;
    }
    x->prev = gap == 1 ? x->cur : 0;
    x->cur = 0;
    x->hour = hour;
}

int rk_rates_hit(rk_rates_t *r, const char *name, int64_t ts_ms)
{
    int64_t hour = ts_ms / HOUR_MS;
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, name, 1);
    if (x) {
        advance(x, hour);
        if (hour == x->hour) x->cur += 1;
        else if (hour == x->hour - 1) x->prev += 1;   /* a little out of order */
    }
    pthread_mutex_unlock(&r->mu);
    return x ? 0 : -1;
}

void rk_rates_get(rk_rates_t *r, const char *name, int64_t ts_ms, rk_rate_info_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t hour = ts_ms / HOUR_MS;
    pthread_mutex_lock(&r->mu);
    rate_t *x = find(r, name, 0);
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
