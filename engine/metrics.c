/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets in seconds: riskd answers in well under a millisecond, so
 * the resolution is fine at the low end. */
static const double buckets[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5
};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
#define MAX_STATUS 12  /* distinct status codes kept per route */

typedef struct {
    char name[96];
    unsigned long long hist[NBUCKETS + 1]; /* last: +Inf */
    double sum;
    unsigned long long count;
    struct { int code; unsigned long long n; } status[MAX_STATUS];
    int nstatus;
} route_t;

typedef struct {
    pthread_mutex_t mu;
    route_t routes[RK_METRICS_MAX_ROUTES];
    int nroutes;
    atomic_size_t lua_memory;
} slot_t;

typedef struct {
    char name[64];
    atomic_ullong hits, errors;
} rule_ctr_t;

struct rk_metrics {
    int nworkers;
    slot_t *slots;
    atomic_ullong counters[RK_M_COUNTER_COUNT];
    atomic_ullong generation;
    atomic_ullong rule_problems;
    pthread_mutex_t rules_mu;          /* guards adding rules; counting is lock-free */
    rule_ctr_t rules[RK_METRICS_MAX_RULES];
    atomic_int nrules;
};

rk_metrics_t *rk_metrics_new(int nworkers)
{
    rk_metrics_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->slots = calloc((size_t)nworkers, sizeof *m->slots);
    if (!m->slots) { free(m); return NULL; }
    m->nworkers = nworkers;
    for (int i = 0; i < nworkers; i++) pthread_mutex_init(&m->slots[i].mu, NULL);
    pthread_mutex_init(&m->rules_mu, NULL);
    return m;
}

void rk_metrics_free(rk_metrics_t *m)
{
    if (!m) return;
    for (int i = 0; i < m->nworkers; i++) pthread_mutex_destroy(&m->slots[i].mu);
    pthread_mutex_destroy(&m->rules_mu);
    free(m->slots);
    free(m);
}

int rk_metrics_rule_index(rk_metrics_t *m, const char *name)
{
    pthread_mutex_lock(&m->rules_mu);
    int n = atomic_load(&m->nrules), idx = -1;
    for (int i = 0; i < n && idx < 0; i++) if (strcmp(m->rules[i].name, name) == 0) idx = i;
    if (idx < 0 && n < RK_METRICS_MAX_RULES) {
        snprintf(m->rules[n].name, sizeof m->rules[n].name, "%s", name);
        atomic_store(&m->nrules, n + 1);
        idx = n;
    }
    pthread_mutex_unlock(&m->rules_mu);
    return idx;
}

void rk_metrics_rule_count(rk_metrics_t *m, int index, int hit, int error)
{
    if (index < 0 || index >= RK_METRICS_MAX_RULES) return;
    if (hit) atomic_fetch_add(&m->rules[index].hits, 1);
    if (error) atomic_fetch_add(&m->rules[index].errors, 1);
}

void rk_metrics_rule_get(rk_metrics_t *m, int index, unsigned long long *hits, unsigned long long *errors)
{
    *hits = *errors = 0;
    if (index < 0 || index >= atomic_load(&m->nrules)) return;
    *hits = atomic_load(&m->rules[index].hits);
    *errors = atomic_load(&m->rules[index].errors);
}

static route_t *route_slot(slot_t *s, const char *name)
{
    for (int i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].name, name) == 0) return &s->routes[i];
    if (s->nroutes == RK_METRICS_MAX_ROUTES) {
        /* Keep the last slot for everything past the limit. */
        route_t *r = &s->routes[RK_METRICS_MAX_ROUTES - 1];
        snprintf(r->name, sizeof r->name, "other");
        return r;
    }
    route_t *r = &s->routes[s->nroutes++];
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

void rk_metrics_request(rk_metrics_t *m, int worker, const char *route, int status, double seconds)
{
    if (!m || worker < 0 || worker >= m->nworkers) return;
    slot_t *s = &m->slots[worker];
    pthread_mutex_lock(&s->mu);
    route_t *r = route_slot(s, route ? route : "unmatched");
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b]) b++;
    r->hist[b]++;
    r->sum += seconds;
    r->count++;
    int i;
    for (i = 0; i < r->nstatus && r->status[i].code != status; i++) {}
    if (i == r->nstatus && r->nstatus < MAX_STATUS) r->status[r->nstatus++].code = status;
    if (i < MAX_STATUS) r->status[i].n++;
    pthread_mutex_unlock(&s->mu);
}

void rk_metrics_inc(rk_metrics_t *m, rk_metric_counter c)
{
    if (m) atomic_fetch_add(&m->counters[c], 1);
}

unsigned long long rk_metrics_get(const rk_metrics_t *m, rk_metric_counter c)
{
    return m ? atomic_load(&((rk_metrics_t *)m)->counters[c]) : 0;
}

void rk_metrics_set_lua_memory(rk_metrics_t *m, int worker, size_t bytes)
{
    if (m && worker >= 0 && worker < m->nworkers)
        atomic_store(&m->slots[worker].lua_memory, bytes);
}

void rk_metrics_set_generation(rk_metrics_t *m, unsigned long long gen)
{
    if (m) atomic_store(&m->generation, gen);
}

void rk_metrics_set_rule_problems(rk_metrics_t *m, unsigned long long n)
{
    if (m) atomic_store(&m->rule_problems, n);
}

/* A growable output buffer; on allocation failure it stops growing and the
 * scrape is cut short rather than crashing. */
typedef struct { char *p; size_t len, cap; int oom; } out_t;

static void outf(out_t *o, const char *fmt, ...)
{
    for (;;) {
        if (o->oom) return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (o->p && o->len + (size_t)n < o->cap) { o->len += (size_t)n; return; }
        size_t nc = o->cap ? o->cap * 2 : 4096;
        while (nc < o->len + (size_t)n + 1) nc *= 2;
        char *np = realloc(o->p, nc);
        if (!np) { o->oom = 1; return; }
        o->p = np;
        o->cap = nc;
    }
}

/* Label values are escaped as the exposition format asks: \\, \" and \n. */
static void label(out_t *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') outf(o, "\\%c", *s);
        else if (*s == '\n') outf(o, "\\n");
        else outf(o, "%c", *s);
    }
}

/* Sums the routes of every worker into one table (under each worker's lock). */
static int merge(rk_metrics_t *m, route_t **out)
{
    route_t *all = calloc((size_t)m->nworkers * RK_METRICS_MAX_ROUTES, sizeof *all);
    int n = 0;
    if (!all) return -1;
    for (int w = 0; w < m->nworkers; w++) {
        slot_t *s = &m->slots[w];
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->nroutes; i++) {
            route_t *src = &s->routes[i], *dst = NULL;
            for (int j = 0; j < n && !dst; j++)
                if (strcmp(all[j].name, src->name) == 0) dst = &all[j];
            if (!dst) { dst = &all[n++]; memcpy(dst->name, src->name, sizeof dst->name); }
            for (size_t b = 0; b <= NBUCKETS; b++) dst->hist[b] += src->hist[b];
            dst->sum += src->sum;
            dst->count += src->count;
            for (int k = 0; k < src->nstatus; k++) {
                int x;
                for (x = 0; x < dst->nstatus && dst->status[x].code != src->status[k].code; x++) {}
                if (x == dst->nstatus && dst->nstatus < MAX_STATUS) dst->status[dst->nstatus++].code = src->status[k].code;
                if (x < MAX_STATUS) dst->status[x].n += src->status[k].n;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    *out = all;
    return n;
}

char *rk_metrics_render(rk_metrics_t *m, size_t *len)
{
    out_t o = { 0 };
    route_t *all = NULL;
    int n = merge(m, &all);
    if (n < 0) return NULL;

    outf(&o, "# HELP riskd_http_requests_total HTTP requests by route and status.\n"
             "# TYPE riskd_http_requests_total counter\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < all[i].nstatus; k++) {
            outf(&o, "riskd_http_requests_total{route=\"");
            label(&o, all[i].name);
            outf(&o, "\",status=\"%d\"} %llu\n", all[i].status[k].code, all[i].status[k].n);
        }
    outf(&o, "# HELP riskd_http_request_duration_seconds Time from request parsed to response queued.\n"
             "# TYPE riskd_http_request_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        unsigned long long cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            cum += all[i].hist[b];
            outf(&o, "riskd_http_request_duration_seconds_bucket{route=\"");
            label(&o, all[i].name);
            if (b < NBUCKETS) outf(&o, "\",le=\"%g\"} %llu\n", buckets[b], cum);
            else outf(&o, "\",le=\"+Inf\"} %llu\n", cum);
        }
        outf(&o, "riskd_http_request_duration_seconds_sum{route=\"");
        label(&o, all[i].name);
        outf(&o, "\"} %.9f\n", all[i].sum);
        outf(&o, "riskd_http_request_duration_seconds_count{route=\"");
        label(&o, all[i].name);
        outf(&o, "\"} %llu\n", all[i].count);
    }
    free(all);

    static const struct { const char *name, *help; } counters[RK_M_COUNTER_COUNT] = {
        { "riskd_reloads_total", "Script, rule or model sets swapped in by hot reload." },
        { "riskd_reload_failures_total", "Changed sets rejected because they failed to load." },
        { "riskd_lua_errors_total", "Errors raised by Lua handlers." },
        { "riskd_lua_timeouts_total", "Lua calls stopped by the time budget." },
        { "riskd_rule_errors_total", "Risk rules that failed or were stopped (skipped for that attempt)." },
        { "riskd_watchdog_stops_total", "Lua calls the watchdog stopped from outside, past their deadline." },
        { "riskd_lua_stuck_total", "Lua calls still inside C a second past their deadline (logged)." },
    };
    for (int c = 0; c < RK_M_COUNTER_COUNT; c++)
        outf(&o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[c].name, counters[c].help,
             counters[c].name, counters[c].name, rk_metrics_get(m, (rk_metric_counter)c));
    int nr = atomic_load(&m->nrules);
    outf(&o, "# HELP riskd_rule_hits_total Attempts on which a risk rule fired, by rule.\n"
             "# TYPE riskd_rule_hits_total counter\n");
    for (int i = 0; i < nr; i++) {
        outf(&o, "riskd_rule_hits_total{rule=\"");
        label(&o, m->rules[i].name);
        outf(&o, "\"} %llu\n", (unsigned long long)atomic_load(&m->rules[i].hits));
    }
    outf(&o, "# HELP riskd_rule_failures_total Attempts on which a risk rule failed or was stopped, by rule.\n"
             "# TYPE riskd_rule_failures_total counter\n");
    for (int i = 0; i < nr; i++) {
        outf(&o, "riskd_rule_failures_total{rule=\"");
        label(&o, m->rules[i].name);
        outf(&o, "\"} %llu\n", (unsigned long long)atomic_load(&m->rules[i].errors));
    }
    outf(&o, "# HELP riskd_script_generation Generation of the script set being served.\n"
             "# TYPE riskd_script_generation gauge\nriskd_script_generation %llu\n",
         (unsigned long long)atomic_load(&m->generation));
    outf(&o, "# HELP riskd_rule_files_broken Rule files that do not load: left out, or served in an earlier version.\n"
             "# TYPE riskd_rule_files_broken gauge\nriskd_rule_files_broken %llu\n",
         (unsigned long long)atomic_load(&m->rule_problems));
    outf(&o, "# HELP riskd_lua_memory_bytes Memory held by each worker's Lua state.\n"
             "# TYPE riskd_lua_memory_bytes gauge\n");
    for (int w = 0; w < m->nworkers; w++)
        outf(&o, "riskd_lua_memory_bytes{worker=\"%d\"} %zu\n", w,
             atomic_load(&m->slots[w].lua_memory));
    if (o.oom) { free(o.p); return NULL; }
    if (len) *len = o.len;
    return o.p;
}
