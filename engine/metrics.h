/* metrics.h — request counters, latency histograms and engine gauges,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * Each worker records into its own slot under its own mutex, so the hot path
 * never contends with another worker; only a scrape takes every mutex in turn.
 */
#ifndef RK_METRICS_H
#define RK_METRICS_H

#include <stddef.h>

typedef struct rk_metrics rk_metrics_t;

typedef enum {
    RK_M_RELOADS = 0,          /* script/rule/model sets swapped in */
    RK_M_RELOAD_FAILURES,      /* candidate sets rejected */
    RK_M_LUA_ERRORS,           /* Lua errors raised by handlers */
    RK_M_LUA_TIMEOUTS,         /* Lua calls stopped by the instruction budget */
    RK_M_RULE_ERRORS,          /* risk rules that failed or were stopped */
    RK_M_WATCHDOG_STOPS,       /* Lua calls the watchdog signalled past their deadline */
    RK_M_LUA_STUCK,            /* Lua calls found inside C a second past their deadline */
    RK_M_COUNTER_COUNT
} rk_metric_counter;

#define RK_METRICS_MAX_ROUTES 128  /* routes per worker; more fold into "other" */

rk_metrics_t *rk_metrics_new(int nworkers);
void rk_metrics_free(rk_metrics_t *m);

/* route: the matched pattern ("/api/login/events/:id"), or "unmatched". */
void rk_metrics_request(rk_metrics_t *m, int worker, const char *route, int status, double seconds);
void rk_metrics_inc(rk_metrics_t *m, rk_metric_counter c);
unsigned long long rk_metrics_get(const rk_metrics_t *m, rk_metric_counter c);
void rk_metrics_set_lua_memory(rk_metrics_t *m, int worker, size_t bytes);
void rk_metrics_set_generation(rk_metrics_t *m, unsigned long long gen);
void rk_metrics_set_rule_problems(rk_metrics_t *m, unsigned long long n);

/* Per-rule counters shared by every worker (a rule's hits and errors are
 * the server's, not one worker's). A rule gets its index once, when a state
 * loads it (the same name keeps its counters across reloads); counting is
 * then one atomic add. -1 when the table is full (RK_METRICS_MAX_RULES). */
#define RK_METRICS_MAX_RULES 128
int rk_metrics_rule_index(rk_metrics_t *m, const char *name);
void rk_metrics_rule_count(rk_metrics_t *m, int index, int hit, int error);
void rk_metrics_rule_get(rk_metrics_t *m, int index, unsigned long long *hits, unsigned long long *errors);

/* Renders every metric; returns a malloc'd NUL-terminated string. */
char *rk_metrics_render(rk_metrics_t *m, size_t *len);

#endif
