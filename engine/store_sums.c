/* store_sums.c — see store_sums.h. Each map's value holds its own key (the
 * map frees only values). */
#include "store_sums.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int64_t bucket; rk_sums_hour_t h; } hour_e;
typedef struct { rk_sums_user_hour_t u; int64_t bucket; size_t user_at; char key[]; } user_hour_e;   /* key: "bucket\tuser" */
typedef struct { rk_sums_ip_t a; char ip[]; } ip_e;
typedef struct { rk_sums_value_t v; int kind; size_t value_at; char key[]; } value_e;               /* key: "kind\tvalue" */

struct rk_sums {
    GHashTable *hours, *user_hours, *ips, *values;
};

rk_sums_t *rk_sums_new(void)
{
    rk_sums_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hours = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
    s->user_hours = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
    s->ips = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
    s->values = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
    return s;
}

void rk_sums_free(rk_sums_t *s)
{
    if (!s) return;
    g_hash_table_destroy(s->hours);
    g_hash_table_destroy(s->user_hours);
    g_hash_table_destroy(s->ips);
    g_hash_table_destroy(s->values);
    free(s);
}

void rk_sums_clear(rk_sums_t *s)
{
    g_hash_table_remove_all(s->hours);
    g_hash_table_remove_all(s->user_hours);
    g_hash_table_remove_all(s->ips);
    g_hash_table_remove_all(s->values);
}

size_t rk_sums_keys(const rk_sums_t *s)
{
    return (size_t)g_hash_table_size(s->hours) + g_hash_table_size(s->user_hours) + g_hash_table_size(s->ips) +
           g_hash_table_size(s->values);
}

/* malloc that aborts: GLib's maps abort on exhaustion too, and a sum half
 * added cannot be reported to anyone. */
static void *must(size_t n)
{
    void *p = calloc(1, n);
    if (!p) abort();
    return p;
}

/* "n\ttext" (the key of a per-user hour or of a value) in buf when it
 * fits, else in a new block the caller frees; *at: where text starts,
 * *len: the key's size with its NUL. */
static char *joined_key(long long n, const char *text, char *buf, size_t cap, size_t *at, size_t *len)
{
    char head[32];
    int hn = snprintf(head, sizeof head, "%lld\t", n);
    size_t tn = strlen(text);
    *at = (size_t)hn;
    *len = (size_t)hn + tn + 1;
    char *key = *len <= cap ? buf : must(*len);
    memcpy(key, head, (size_t)hn);
    memcpy(key + hn, text, tn + 1);
    return key;
}

void rk_sums_event(rk_sums_t *s, const char *user, const char *ip, int64_t ts_ms, int64_t bucket,
                   int failure, int anomaly, double risk, int level)
{
    hour_e *h = g_hash_table_lookup(s->hours, &bucket);
    if (!h) {
        h = must(sizeof *h);
        h->bucket = bucket;
        g_hash_table_insert(s->hours, &h->bucket, h);
    }
    h->h.attempts++;
    h->h.failures += failure != 0;
    h->h.anomalies += anomaly != 0;
    h->h.risk_sum += risk;
    if (level >= 0 && level < 4) h->h.levels[level]++;

    char stack[256];
    size_t at, len;
    char *key = joined_key(bucket, user, stack, sizeof stack, &at, &len);
    user_hour_e *u = g_hash_table_lookup(s->user_hours, key);
    if (!u) {
        u = must(sizeof *u + len);
        memcpy(u->key, key, len);
        u->bucket = bucket;
        u->user_at = at;
        u->u.max_risk = risk;
        g_hash_table_insert(s->user_hours, u->key, u);
    }
    if (key != stack) free(key);
    u->u.attempts++;
    u->u.risk_sum += risk;
    if (risk > u->u.max_risk) u->u.max_risk = risk;
    u->u.anomalies += anomaly != 0;
    u->u.high += level >= 2;

    ip_e *a = g_hash_table_lookup(s->ips, ip);
    if (!a) {
        size_t n = strlen(ip) + 1;
        a = must(sizeof *a + n);
        memcpy(a->ip, ip, n);
        a->a.first_ms = a->a.last_ms = ts_ms;
        g_hash_table_insert(s->ips, a->ip, a);
    }
    if (ts_ms < a->a.first_ms) a->a.first_ms = ts_ms;
    if (ts_ms > a->a.last_ms) a->a.last_ms = ts_ms;
}

rk_sums_value_t *rk_sums_value(rk_sums_t *s, int kind, const char *value)
{
    char buf[256];
    size_t at, len;
    char *key = joined_key(kind, value, buf, sizeof buf, &at, &len);
    value_e *v = g_hash_table_lookup(s->values, key);
    if (key != buf) free(key);
    return v ? &v->v : NULL;
}

rk_sums_value_t *rk_sums_value_new(rk_sums_t *s, int kind, const char *value, int64_t base)
{
    char buf[256];
    size_t at, len;
    char *key = joined_key(kind, value, buf, sizeof buf, &at, &len);
    value_e *v = must(sizeof *v + len);
    memcpy(v->key, key, len);
    if (key != buf) free(key);
    v->kind = kind;
    v->value_at = at;
    v->v.count = base;
    g_hash_table_replace(s->values, v->key, v);
    return &v->v;
}

int rk_sums_each(rk_sums_t *s, const rk_sums_visit_t *vis, void *arg)
{
    GHashTableIter it;
    gpointer k, val;
    int rc = 0;
    if (vis->hour) {
        g_hash_table_iter_init(&it, s->hours);
        while (!rc && g_hash_table_iter_next(&it, &k, &val)) rc = vis->hour(arg, ((hour_e *)val)->bucket, &((hour_e *)val)->h);
    }
    if (vis->user_hour) {
        g_hash_table_iter_init(&it, s->user_hours);
        while (!rc && g_hash_table_iter_next(&it, &k, &val)) {
            user_hour_e *u = val;
            rc = vis->user_hour(arg, u->key + u->user_at, u->bucket, &u->u);
        }
    }
    if (vis->ip) {
        g_hash_table_iter_init(&it, s->ips);
        while (!rc && g_hash_table_iter_next(&it, &k, &val)) rc = vis->ip(arg, ((ip_e *)val)->ip, &((ip_e *)val)->a);
    }
    if (vis->value) {
        g_hash_table_iter_init(&it, s->values);
        while (!rc && g_hash_table_iter_next(&it, &k, &val)) {
            value_e *v = val;
            rc = vis->value(arg, v->kind, v->key + v->value_at, &v->v);
        }
    }
    return rc;
}
