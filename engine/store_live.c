/* store_live.c — the analysis's working state in memory (store_live.h). Users,
 * addresses and values are spread over shards, each behind its own mutex,
 * so that two workers meet only when they touch the same shard. */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store_live.h"
#include "log.h"
#include "store_impl.h"

#define NSHARD 16

typedef struct {
    char *name;
    unsigned char *prof;      /* rk_profile_encode's bytes; NULL: not held */
    size_t plen;
    uint64_t seq;             /* the owner's transaction that put it */
    int used;                 /* read or written since the last eviction sweep (second chance) */
    char state[16], *state_by;
    int64_t state_ms;
    GArray *fails;            /* int64 times at or after the horizon, sorted */
} luser_t;

typedef struct {
    uint64_t user;            /* the user's name hashed: distinct users are counted, not named */
    int64_t last;             /* the user's latest time at the address */
} lpair_t;

typedef struct {
    int64_t count;
    uint64_t seq;
    int used;
} lvalue_t;

typedef struct {
    pthread_mutex_t mu;
    GHashTable *map;
} shard_t;

struct rk_live {
    rk_live_limits_t lim;
    shard_t users[NSHARD], ips[NSHARD], values[NSHARD];
    atomic_llong horizon;
    atomic_int on;
    atomic_llong min_ts, max_ts;          /* of the times noted, for moving the horizon */
    atomic_size_t profile_bytes, nvalues, window, profiles;
    atomic_uint_fast64_t open_seq, done_seq, hits, misses;
    atomic_int_fast64_t deferred;
    atomic_flag pruning;
    pthread_mutex_t totals_mu;
    int totals_known;
    int64_t total[RK_PK_COUNT], distinct[RK_PK_COUNT];
};

void rk_live_default_limits(rk_live_limits_t *l)
{
    l->profile_bytes = (size_t)256 << 20;
    l->values = 2000000;
    l->window_entries = 4000000;
}

static void user_free(gpointer p)
{
    luser_t *u = p;
    free(u->name);
    free(u->prof);
    free(u->state_by);
    g_array_free(u->fails, TRUE);
    free(u);
}

static void init_shards(shard_t *s, GDestroyNotify free_value)
{
    for (int i = 0; i < NSHARD; i++) {
        pthread_mutex_init(&s[i].mu, NULL);
        s[i].map = g_hash_table_new_full(g_str_hash, g_str_equal, free_value == user_free ? NULL : free, free_value);
    }
}

static void free_shards(shard_t *s)
{
    for (int i = 0; i < NSHARD; i++) {
        g_hash_table_destroy(s[i].map);
        pthread_mutex_destroy(&s[i].mu);
    }
}

static void array_free(gpointer p) { g_array_free(p, TRUE); }

rk_live_t *rk_live_new(const rk_live_limits_t *l)
{
    rk_live_t *lv = calloc(1, sizeof *lv);
    if (!lv) return NULL;
    if (l) lv->lim = *l; else rk_live_default_limits(&lv->lim);
    init_shards(lv->users, user_free);   /* the key is the user's own name */
    init_shards(lv->ips, array_free);
    init_shards(lv->values, free);
    atomic_store(&lv->horizon, INT64_MAX);
    atomic_store(&lv->on, 1);
    atomic_store(&lv->min_ts, INT64_MAX);
    atomic_store(&lv->max_ts, INT64_MIN);
    atomic_flag_clear(&lv->pruning);
    pthread_mutex_init(&lv->totals_mu, NULL);
    return lv;
}

void rk_live_free(rk_live_t *lv)
{
    if (!lv) return;
    free_shards(lv->users);
    free_shards(lv->ips);
    free_shards(lv->values);
    pthread_mutex_destroy(&lv->totals_mu);
    free(lv);
}

void rk_live_start(rk_live_t *lv, int64_t horizon) { atomic_store(&lv->horizon, horizon); }
size_t rk_live_window_limit(const rk_live_t *lv) { return lv->lim.window_entries; }

void rk_live_raise_horizon(rk_live_t *lv, int64_t h)
{
    long long cur = atomic_load(&lv->horizon);
    while (cur < h && !atomic_compare_exchange_weak(&lv->horizon, &cur, h)) {}
}

void rk_live_off(rk_live_t *lv)
{
    if (atomic_exchange(&lv->on, 0))
        rk_log_msg(RK_LOG_WARN, "the analysis state in memory is off: a write to it was undone",
                   "effect", "every read goes to SQLite until the server restarts");
}
int rk_live_is_on(rk_live_t *lv) { return atomic_load(&lv->on); }

static shard_t *shard_of(shard_t *s, const char *key) { return &s[rk_fnv1a_str(RK_FNV_OFFSET, key) % NSHARD]; }

static luser_t *user_get(shard_t *sh, const char *name, int create)
{
    luser_t *u = g_hash_table_lookup(sh->map, name);
    if (u || !create) return u;
    u = calloc(1, sizeof *u);
    if (!u || !(u->name = strdup(name))) { free(u); return NULL; }
    u->fails = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_hash_table_insert(sh->map, u->name, u);
    return u;
}

/* Index of the first time at or after ts. */
static guint first_at(const GArray *a, int64_t ts)
{
    guint lo = 0, hi = a->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(a, int64_t, mid) < ts) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static void atomic_min(atomic_llong *v, int64_t x)
{
    long long cur = atomic_load(v);
    while (x < cur && !atomic_compare_exchange_weak(v, &cur, x)) {}
}

static void atomic_max(atomic_llong *v, int64_t x)
{
    long long cur = atomic_load(v);
    while (x > cur && !atomic_compare_exchange_weak(v, &cur, x)) {}
}

static int user_unused(const luser_t *u) { return !u->prof && u->fails->len == 0; }

/* Past the window's bound: the horizon moves half way to the newest time
 * noted, and what lies before it is dropped. One thread at a time; the
 * others go on (reads before the new horizon go to SQLite meanwhile). */
static void prune(rk_live_t *lv)
{
    if (atomic_flag_test_and_set(&lv->pruning)) return;
    while (atomic_load(&lv->window) > lv->lim.window_entries) {
        int64_t h = atomic_load(&lv->horizon), lo = atomic_load(&lv->min_ts), hi = atomic_load(&lv->max_ts);
        if (lo > h) h = lo;
        if (hi <= h) break;
        h += (hi - h) / 2 + 1;
        rk_live_raise_horizon(lv, h);
        size_t dropped = 0;
        for (int i = 0; i < NSHARD; i++) {
            shard_t *sh = &lv->users[i];
            pthread_mutex_lock(&sh->mu);
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, sh->map);
            while (g_hash_table_iter_next(&it, &k, &v)) {
                luser_t *u = v;
                guint n = first_at(u->fails, h);
                if (n) { g_array_remove_range(u->fails, 0, n); dropped += n; }
                if (user_unused(u)) g_hash_table_iter_remove(&it);
            }
            pthread_mutex_unlock(&sh->mu);
            sh = &lv->ips[i];
            pthread_mutex_lock(&sh->mu);
            g_hash_table_iter_init(&it, sh->map);
            while (g_hash_table_iter_next(&it, &k, &v)) {
                GArray *a = v;
                for (guint j = a->len; j-- > 0;)
                    if (g_array_index(a, lpair_t, j).last < h) { g_array_remove_index_fast(a, j); dropped++; }
                if (a->len == 0) g_hash_table_iter_remove(&it);
            }
            pthread_mutex_unlock(&sh->mu);
        }
        atomic_fetch_sub(&lv->window, dropped);
        atomic_store(&lv->min_ts, h);
    }
    atomic_flag_clear(&lv->pruning);
}

void rk_live_note(rk_live_t *lv, const char *user, const char *ip, int64_t ts, int success)
{
    if (ts < atomic_load(&lv->horizon)) return;   /* no read from here will ever count it */
    atomic_min(&lv->min_ts, ts);
    atomic_max(&lv->max_ts, ts);
    size_t added = 0;
    if (!success) {
        shard_t *sh = shard_of(lv->users, user);
        pthread_mutex_lock(&sh->mu);
        luser_t *u = user_get(sh, user, 1);
        if (u) {
            guint at = u->fails->len;   /* appends when times come in order */
            while (at > 0 && g_array_index(u->fails, int64_t, at - 1) > ts) at--;
            g_array_insert_val(u->fails, at, ts);
            added++;
        }
        pthread_mutex_unlock(&sh->mu);
    }
    uint64_t who = rk_fnv1a_str(RK_FNV_OFFSET, user);
    shard_t *sh = shard_of(lv->ips, ip);
    pthread_mutex_lock(&sh->mu);
    GArray *a = g_hash_table_lookup(sh->map, ip);
    if (!a) {
        char *key = strdup(ip);
        if (!key) {   /* out of memory: the window would lack this event */
            pthread_mutex_unlock(&sh->mu);
            rk_live_off(lv);
            return;
        }
        a = g_array_new(FALSE, FALSE, sizeof(lpair_t));
        g_hash_table_insert(sh->map, key, a);
    }
    guint j = 0;
    while (j < a->len && g_array_index(a, lpair_t, j).user != who) j++;
    if (j < a->len) {
        lpair_t *p = &g_array_index(a, lpair_t, j);
        if (ts > p->last) p->last = ts;
    } else {
        lpair_t p = { who, ts };
        g_array_append_val(a, p);
        added++;
    }
    pthread_mutex_unlock(&sh->mu);
    if (atomic_fetch_add(&lv->window, added) + added > lv->lim.window_entries) prune(lv);
}

static int miss(rk_live_t *lv)
{
    atomic_fetch_add(&lv->misses, 1);
    return 0;
}

int rk_live_recent(rk_live_t *lv, const char *user, const char *ip, int64_t since,
                   int64_t *user_failures, int64_t *ip_users)
{
    if (!atomic_load(&lv->on) || since < atomic_load(&lv->horizon)) return miss(lv);
    shard_t *sh = shard_of(lv->users, user);
    pthread_mutex_lock(&sh->mu);
    luser_t *u = user_get(sh, user, 0);
    *user_failures = u ? (int64_t)(u->fails->len - first_at(u->fails, since)) : 0;
    pthread_mutex_unlock(&sh->mu);
    sh = shard_of(lv->ips, ip);
    pthread_mutex_lock(&sh->mu);
    GArray *a = g_hash_table_lookup(sh->map, ip);
    int64_t n = 0;
    for (guint j = 0; a && j < a->len; j++) n += g_array_index(a, lpair_t, j).last >= since;
    pthread_mutex_unlock(&sh->mu);
    *ip_users = n;
    /* the horizon may have risen past since while counting: then the counts may lack what was dropped */
    if (since < atomic_load(&lv->horizon)) return miss(lv);
    atomic_fetch_add(&lv->hits, 1);
    return 1;
}

int rk_live_profile_get(rk_live_t *lv, const char *user, rk_profile_t *out)
{
    if (!atomic_load(&lv->on)) return miss(lv);
    shard_t *sh = shard_of(lv->users, user);
    pthread_mutex_lock(&sh->mu);
    luser_t *u = user_get(sh, user, 0);
    int found = u && u->prof;
    if (found) {
        u->used = 1;
        rk_profile_reset(out);
        snprintf(out->user_id, sizeof out->user_id, "%s", user);
        found = rk_profile_decode(out, u->prof, u->plen) == 0;
        snprintf(out->state, sizeof out->state, "%s", u->state);
        snprintf(out->state_by, sizeof out->state_by, "%s", u->state_by ? u->state_by : "");
        out->state_ms = u->state_ms;
    }
    pthread_mutex_unlock(&sh->mu);
    if (!found) return miss(lv);
    atomic_fetch_add(&lv->hits, 1);
    return 1;
}

static void drop_bytes(rk_live_t *lv, luser_t *u)
{
    if (!u->prof) return;
    atomic_fetch_sub(&lv->profile_bytes, u->plen);
    atomic_fetch_sub(&lv->profiles, 1);
    free(u->prof);
    u->prof = NULL;
    u->plen = 0;
}

void rk_live_profile_put(rk_live_t *lv, const rk_profile_t *p, const unsigned char *bytes, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    shard_t *sh = shard_of(lv->users, p->user_id);
    pthread_mutex_lock(&sh->mu);
    luser_t *u = copy ? user_get(sh, p->user_id, 1) : NULL;
    if (!u) {   /* out of memory: what is held would be stale */
        pthread_mutex_unlock(&sh->mu);
        free(copy);
        rk_live_off(lv);
        return;
    }
    /* An analyst's word is kept beside the profile: taken from p when the
     * entry is new, and from then on changed only by rk_live_state, so that
     * a write of the profile never undoes a state set meanwhile. */
    if (!u->prof) {
        atomic_fetch_add(&lv->profiles, 1);
        snprintf(u->state, sizeof u->state, "%s", p->state);
        free(u->state_by);
        u->state_by = p->state_by[0] ? strdup(p->state_by) : NULL;
        u->state_ms = p->state_ms;
    } else {
        atomic_fetch_sub(&lv->profile_bytes, u->plen);
        free(u->prof);
    }
    memcpy(copy, bytes, len);
    u->prof = copy;
    u->plen = len;
    u->seq = atomic_load(&lv->open_seq);
    u->used = 1;
    atomic_fetch_add(&lv->profile_bytes, len);
    pthread_mutex_unlock(&sh->mu);
}

void rk_live_profile_drop(rk_live_t *lv, const char *user)
{
    shard_t *sh = shard_of(lv->users, user);
    pthread_mutex_lock(&sh->mu);
    luser_t *u = user_get(sh, user, 0);
    if (u) {
        drop_bytes(lv, u);
        if (user_unused(u)) g_hash_table_remove(sh->map, user);
    }
    pthread_mutex_unlock(&sh->mu);
}

void rk_live_state(rk_live_t *lv, const char *user, const char *state, const char *by, int64_t ms)
{
    shard_t *sh = shard_of(lv->users, user);
    pthread_mutex_lock(&sh->mu);
    luser_t *u = user_get(sh, user, 0);
    if (u && u->prof) {
        snprintf(u->state, sizeof u->state, "%s", state ? state : "");
        free(u->state_by);
        u->state_by = state && by && by[0] ? strdup(by) : NULL;
        u->state_ms = state ? ms : 0;
    }
    pthread_mutex_unlock(&sh->mu);
}

/* "<kind>\x1f<value>", in buf when it fits (cap 0: always allocated), else
 * allocated; NULL when out of memory. */
static char *value_key(int kind, const char *value, char *buf, size_t cap)
{
    size_t n = strlen(value);
    char *k = n + 3 <= cap ? buf : malloc(n + 3);
    if (!k) return NULL;
    k[0] = (char)('0' + kind);
    k[1] = '\x1f';
    memcpy(k + 2, value, n + 1);
    return k;
}

int rk_live_value_get(rk_live_t *lv, int kind, const char *value, int64_t *count)
{
    if (!atomic_load(&lv->on)) return miss(lv);
    char buf[256];   /* every analysis asks for four or five: the key on the stack when it fits */
    char *key = value_key(kind, value, buf, sizeof buf);
    if (!key) return miss(lv);
    shard_t *sh = shard_of(lv->values, key);
    pthread_mutex_lock(&sh->mu);
    lvalue_t *v = g_hash_table_lookup(sh->map, key);
    if (v) { *count = v->count; v->used = 1; }
    pthread_mutex_unlock(&sh->mu);
    if (key != buf) free(key);
    if (!v) return miss(lv);
    atomic_fetch_add(&lv->hits, 1);
    return 1;
}

void rk_live_value_put(rk_live_t *lv, int kind, const char *value, int64_t count)
{
    char *key = value_key(kind, value, NULL, 0);
    if (!key) { rk_live_off(lv); return; }
    shard_t *sh = shard_of(lv->values, key);
    pthread_mutex_lock(&sh->mu);
    lvalue_t *v = g_hash_table_lookup(sh->map, key);
    if (v) {
        free(key);
    } else if ((v = malloc(sizeof *v))) {
        g_hash_table_insert(sh->map, key, v);
        atomic_fetch_add(&lv->nvalues, 1);
    } else {
        free(key);
        pthread_mutex_unlock(&sh->mu);
        rk_live_off(lv);
        return;
    }
    v->count = count;
    v->seq = atomic_load(&lv->open_seq);
    v->used = 1;
    pthread_mutex_unlock(&sh->mu);
}

void rk_live_value_drop(rk_live_t *lv, int kind, const char *value)
{
    char *key = value_key(kind, value, NULL, 0);
    if (!key) { rk_live_off(lv); return; }
    shard_t *sh = shard_of(lv->values, key);
    pthread_mutex_lock(&sh->mu);
    if (g_hash_table_remove(sh->map, key)) atomic_fetch_sub(&lv->nvalues, 1);
    pthread_mutex_unlock(&sh->mu);
    free(key);
}

int rk_live_totals(rk_live_t *lv, int64_t total[RK_PK_COUNT], int64_t distinct[RK_PK_COUNT])
{
    pthread_mutex_lock(&lv->totals_mu);
    int known = lv->totals_known && atomic_load(&lv->on);
    if (known) {
        memcpy(total, lv->total, sizeof lv->total);
        memcpy(distinct, lv->distinct, sizeof lv->distinct);
    }
    pthread_mutex_unlock(&lv->totals_mu);
    return known;
}

void rk_live_totals_set(rk_live_t *lv, const int64_t total[RK_PK_COUNT], const int64_t distinct[RK_PK_COUNT])
{
    pthread_mutex_lock(&lv->totals_mu);
    memcpy(lv->total, total, sizeof lv->total);
    memcpy(lv->distinct, distinct, sizeof lv->distinct);
    lv->totals_known = 1;
    pthread_mutex_unlock(&lv->totals_mu);
}

void rk_live_totals_add(rk_live_t *lv, int kind, int64_t total, int64_t distinct)
{
    if (kind < 0 || kind >= RK_PK_COUNT) return;
    pthread_mutex_lock(&lv->totals_mu);
    if (!lv->totals_known) { pthread_mutex_unlock(&lv->totals_mu); return; }
    lv->total[kind] += total;
    lv->distinct[kind] += distinct;
    pthread_mutex_unlock(&lv->totals_mu);
}

/* Past a bound, what finished transactions put is evicted down to 90 % of
 * it, sparing on a first pass what was read or written since the last
 * sweep (a clock: the active users stay). */
static void evict(rk_live_t *lv)
{
    size_t pmax = lv->lim.profile_bytes / 10 * 9, vmax = lv->lim.values / 10 * 9;
    uint64_t done = atomic_load(&lv->done_seq);
    for (int pass = 0; pass < 2 && atomic_load(&lv->profile_bytes) > pmax; pass++) {
        for (int i = 0; i < NSHARD && atomic_load(&lv->profile_bytes) > pmax; i++) {
            shard_t *sh = &lv->users[i];
            pthread_mutex_lock(&sh->mu);
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, sh->map);
            while (atomic_load(&lv->profile_bytes) > pmax && g_hash_table_iter_next(&it, &k, &v)) {
                luser_t *u = v;
                if (!u->prof || u->seq > done) continue;
                if (u->used && pass == 0) { u->used = 0; continue; }
                drop_bytes(lv, u);
                if (user_unused(u)) g_hash_table_iter_remove(&it);
            }
            pthread_mutex_unlock(&sh->mu);
        }
    }
    for (int pass = 0; pass < 2 && atomic_load(&lv->nvalues) > vmax; pass++) {
        for (int i = 0; i < NSHARD && atomic_load(&lv->nvalues) > vmax; i++) {
            shard_t *sh = &lv->values[i];
            pthread_mutex_lock(&sh->mu);
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, sh->map);
            while (atomic_load(&lv->nvalues) > vmax && g_hash_table_iter_next(&it, &k, &v)) {
                lvalue_t *x = v;
                if (x->seq > done) continue;
                if (x->used && pass == 0) { x->used = 0; continue; }
                g_hash_table_iter_remove(&it);
                atomic_fetch_sub(&lv->nvalues, 1);
            }
            pthread_mutex_unlock(&sh->mu);
        }
    }
}

void rk_live_write_begin(rk_live_t *lv) { atomic_fetch_add(&lv->open_seq, 1); }

void rk_live_write_done(rk_live_t *lv)
{
    atomic_store(&lv->done_seq, atomic_load(&lv->open_seq));
    if (atomic_load(&lv->profile_bytes) > lv->lim.profile_bytes || atomic_load(&lv->nvalues) > lv->lim.values) evict(lv);
}

void rk_live_stats(rk_live_t *lv, rk_live_stats_t *out)
{
    out->hits = atomic_load(&lv->hits);
    out->misses = atomic_load(&lv->misses);
    out->profiles = atomic_load(&lv->profiles);
    out->profile_bytes = atomic_load(&lv->profile_bytes);
    out->values = atomic_load(&lv->nvalues);
    out->window_entries = atomic_load(&lv->window);
    out->horizon = atomic_load(&lv->horizon);
    out->on = atomic_load(&lv->on);
}

void rk_live_deferred_set(rk_live_t *lv, int64_t n) { atomic_store(&lv->deferred, n); }
int64_t rk_live_deferred(rk_live_t *lv) { return atomic_load(&lv->deferred); }
