/* store_mem.c — "mem:", the part of the store contract that the analysis of
 * an attempt reads and writes (profiles, recent failures and users per
 * address, global value counts, open alerts), kept in memory for the batch
 * commands (riskd score, eval, train): they replay a file in one thread and
 * throw the store away at the end, so SQLite's event rows, indexes and
 * summaries were most of their time (riskd score: the SQLite store in
 * memory took 170 of 300 us per attempt). It also keeps shared rates
 * (rates_sync.h) for the rate tables of one process, and the held successes
 * until they are settled (store.h, RK_LEARN_*). Everything else (users,
 * event lists, dashboards, phishing) answers "not supported"; `serve`
 * refuses it.
 *
 * The answers are the SQLite backend's, exactly (tests/e2e/test_batch.py
 * compares riskd score on both): failures of a user and distinct users of an
 * address with a time at or after `since` (attempts may come out of order,
 * and SQL has no upper bound either), global counts of successful logins'
 * values, the open alert of a user and cause updated last. One thread at a
 * time; maps from GLib (linked already, through GMime).
 */
#include <glib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

typedef struct {
    int64_t ts;
    struct user_rec *user;
} ip_hit_t;

typedef struct user_rec {
    char *name;
    unsigned char *profile;  /* rk_profile_encode's bytes, NULL before the first event */
    size_t profile_len;
    GArray *failures;        /* int64 times, sorted */
    uint64_t mark;           /* distinct-user counting: the query that last saw it */
    char state[16], *state_by;   /* an analyst's word on the account ("" for none) */
    int64_t state_ms;
} user_rec_t;

/* What finding the open alert needs; severity and event counts have no
 * reader here (alert details are the dashboard's, which mem: does not serve). */
typedef struct {
    char id[RK_STORE_ID_LEN];
    char *key;               /* user \x1f cause */
    int open;
    int64_t updated_ms;
} alert_rec_t;

typedef struct {
    rk_store_t base;
    GHashTable *users;       /* name -> user_rec_t */
    GHashTable *ips;         /* address -> GArray of ip_hit_t, sorted by ts */
    GHashTable *values[RK_PK_COUNT];   /* value -> its count (an int64_t block) */
    int64_t totals[RK_PK_COUNT];
    GHashTable *alerts;      /* id -> alert_rec_t */
    GHashTable *open_by_key; /* user \x1f cause -> the alert of that key updated last */
    GHashTable *rates;       /* "name:hour" -> count (shared rates, rates_sync.h) */
    GSequence *held;         /* held successes (rk_event_dup copies) by learn_at, then id, until settled */
    GHashTable *held_ids;    /* id -> its GSequenceIter in held (for outcomes) */
    uint64_t query;
    rk_profile_t *scratch;
} mem_t;

#define MEM(s) ((mem_t *)(s))

static void user_free(gpointer p)
{
    user_rec_t *u = p;
    g_free(u->name);
    g_free(u->profile);
    g_free(u->state_by);
    g_array_free(u->failures, TRUE);
    g_free(u);
}

static void ip_hits_free(gpointer p) { g_array_free(p, TRUE); }

static void alert_free(gpointer p)
{
    alert_rec_t *a = p;
    g_free(a->key);
    g_free(a);
}

static user_rec_t *user_of(mem_t *m, const char *name, int create)
{
    user_rec_t *u = g_hash_table_lookup(m->users, name);
    if (u || !create) return u;
    u = g_new0(user_rec_t, 1);
    u->name = g_strdup(name);
    u->failures = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_hash_table_insert(m->users, u->name, u);
    return u;
}

/* Index of the first element at or after ts in a sorted array (binary search). */
static guint first_at(const GArray *a, size_t elt, size_t off, int64_t ts)
{
    guint lo = 0, hi = a->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int64_t t;
        memcpy(&t, a->data + (size_t)mid * elt + off, sizeof t);
        if (t < ts) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Inserts keeping the array sorted by the int64 at off: appends in the usual
 * case of attempts in time order. */
static void insert_sorted(GArray *a, size_t elt, size_t off, const void *item)
{
    int64_t ts;
    memcpy(&ts, (const char *)item + off, sizeof ts);
    guint at = a->len;
    while (at > 0) {
        int64_t t;
        memcpy(&t, a->data + (size_t)(at - 1) * elt + off, sizeof t);
        if (t <= ts) break;
        at--;
    }
    g_array_insert_vals(a, at, item, 1);
}

static void mem_close(rk_store_t *s)
{
    mem_t *m = MEM(s);
    g_hash_table_destroy(m->ips);
    g_hash_table_destroy(m->users);
    for (int k = 0; k < RK_PK_COUNT; k++) g_hash_table_destroy(m->values[k]);
    g_hash_table_destroy(m->open_by_key);
    g_hash_table_destroy(m->alerts);
    g_hash_table_destroy(m->rates);
    g_hash_table_destroy(m->held_ids);
    g_sequence_free(m->held);
    free(m->scratch);
    free(m);
}

/* ---- profiles --------------------------------------------------------------- */

static int load(const user_rec_t *u, const char *name, rk_profile_t *p, char *err, size_t errlen)
{
    rk_profile_reset(p);
    snprintf(p->user_id, sizeof p->user_id, "%s", name);
    if (!u || !u->profile) { snprintf(err, errlen, "no profile for '%s'", name); return RK_STORE_NOT_FOUND; }
    if (rk_profile_decode(p, u->profile, u->profile_len) != 0) {
        snprintf(err, errlen, "profile of '%s' is unreadable", name);
        return -1;
    }
    if (u->state[0]) {
        snprintf(p->state, sizeof p->state, "%s", u->state);
        snprintf(p->state_by, sizeof p->state_by, "%s", u->state_by ? u->state_by : "");
        p->state_ms = u->state_ms;
    }
    return 0;
}

static int mem_user_state_set(rk_store_t *s, const char *user_id, const char *state, const char *by, int64_t ts_ms,
                              char *err, size_t errlen)
{
    user_rec_t *u = user_of(MEM(s), user_id, 0);
    if (!u || !u->profile) { snprintf(err, errlen, "no profile for '%s'", user_id); return RK_STORE_NOT_FOUND; }
    snprintf(u->state, sizeof u->state, "%s", state ? state : "");
    g_free(u->state_by);
    u->state_by = state && by ? g_strdup(by) : NULL;
    u->state_ms = state ? ts_ms : 0;
    return 0;
}

static int apply_profile(mem_t *m, const rk_event_t *e, int learn_only, char *err, size_t errlen)
{
    user_rec_t *u = user_of(m, e->user_id, 1);
    rk_profile_t *p = m->scratch;
    if (load(u, e->user_id, p, err, errlen) < 0) return -1;
    if (learn_only) rk_profile_learn(p, e);
    else rk_profile_apply(p, e);
    unsigned char buf[RK_PROFILE_MAX_BYTES];
    size_t len = rk_profile_encode(p, buf, sizeof buf);
    if (!len) { snprintf(err, errlen, "profile of '%s' does not fit", e->user_id); return -1; }
    g_free(u->profile);
    u->profile = g_memdup2(buf, len);
    u->profile_len = len;
    return 0;
}

static int mem_profile_get(rk_store_t *s, const char *user_id, rk_profile_t *p, char *err, size_t errlen)
{
    mem_t *m = MEM(s);
    return load(user_of(m, user_id, 0), user_id, p, err, errlen);
}

static int mem_profile_update(rk_store_t *s, const rk_event_t *e, char *err, size_t errlen)
{
    return apply_profile(MEM(s), e, 0, err, errlen);
}

/* ---- events ----------------------------------------------------------------- */

static void count_values(mem_t *m, const rk_event_t *e)
{
    if (!RK_EVENT_LEARNS(e)) return;
    char prefix[80];
    const char *vals[RK_PK_COUNT];
    rk_profile_values(e, vals, prefix, sizeof prefix);
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        int64_t *n = g_hash_table_lookup(m->values[k], vals[k]);
        if (!n) {
            n = g_new0(int64_t, 1);
            g_hash_table_insert(m->values[k], g_strdup(vals[k]), n);
        }
        (*n)++;
        m->totals[k]++;
    }
}

/* Held successes in the order they come due, as SQLite's ORDER BY learn_at, id. */
static gint by_learn_at(gconstpointer a, gconstpointer b, gpointer data)
{
    (void)data;
    const rk_event_t *x = a, *y = b;
    if (x->learn_at != y->learn_at) return x->learn_at < y->learn_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int mem_event_record(rk_store_t *s, rk_event_t *ev, size_t n, int update_profile, char *err, size_t errlen)
{
    mem_t *m = MEM(s);
    for (size_t i = 0; i < n; i++) if (rk_store_check_event(&ev[i], err, errlen) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        rk_event_t *e = &ev[i];
        rk_store_new_id(e->id);
        user_rec_t *u = user_of(m, e->user_id, 1);
        if (!e->success) insert_sorted(u->failures, sizeof(int64_t), 0, &e->ts_ms);
        GArray *hits = g_hash_table_lookup(m->ips, e->ip);
        if (!hits) {
            hits = g_array_new(FALSE, FALSE, sizeof(ip_hit_t));
            g_hash_table_insert(m->ips, g_strdup(e->ip), hits);
        }
        ip_hit_t h = { e->ts_ms, u };
        insert_sorted(hits, sizeof h, offsetof(ip_hit_t, ts), &h);
        count_values(m, e);
        if (update_profile && apply_profile(m, e, 0, err, errlen) != 0) return -1;
        if (e->success && e->held == RK_LEARN_ON_GRACE) {   /* the others wait for an outcome a batch never gets */
            rk_event_t *c = rk_event_dup(e);
            if (!c) { snprintf(err, errlen, "out of memory"); return -1; }
            g_hash_table_insert(m->held_ids, g_strdup(c->id), g_sequence_insert_sorted(m->held, c, by_learn_at, NULL));
        }
    }
    return 0;
}

static int mem_recent(rk_store_t *s, const char *user_id, const char *ip, int64_t since_ms, int64_t *user_failures,
                      int64_t *ip_users, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    mem_t *m = MEM(s);
    user_rec_t *u = user_of(m, user_id, 0);
    *user_failures = u ? (int64_t)(u->failures->len - first_at(u->failures, sizeof(int64_t), 0, since_ms)) : 0;
    *ip_users = 0;
    GArray *hits = g_hash_table_lookup(m->ips, ip);
    if (!hits) return 0;
    uint64_t q = ++m->query;
    for (guint i = first_at(hits, sizeof(ip_hit_t), offsetof(ip_hit_t, ts), since_ms); i < hits->len; i++) {
        user_rec_t *who = g_array_index(hits, ip_hit_t, i).user;
        if (who->mark != q) { who->mark = q; (*ip_users)++; }
    }
    return 0;
}

static int mem_global_count(rk_store_t *s, rk_profile_kind k, const char *value, rk_global_count_t *out, char *err,
                            size_t errlen)
{
    (void)err; (void)errlen;
    mem_t *m = MEM(s);
    const int64_t *n = value ? g_hash_table_lookup(m->values[k], value) : NULL;
    out->count = n ? *n : 0;
    out->total = m->totals[k];
    out->distinct = g_hash_table_size(m->values[k]);
    return 0;
}

/* ---- alerts ------------------------------------------------------------------ */

static char *alert_key(const char *user_id, const char *cause) { return g_strconcat(user_id, "\x1f", cause, NULL); }

static int mem_alert_insert(rk_store_t *s, rk_alert_t *a, const char *event_id, char *err, size_t errlen)
{
    mem_t *m = MEM(s);
    int lvl = rk_store_level_index(a->severity);
    if (!a->user_id || lvl < 0 || !a->cause) {
        snprintf(err, errlen, "an alert needs user_id, a known severity and a cause");
        return -1;
    }
    if (!a->status) a->status = "open";
    if (rk_store_status_index(a->status) < 0) { snprintf(err, errlen, "unknown status '%s'", a->status); return -1; }
    rk_store_new_id(a->id);
    if (!a->created_ms) a->created_ms = rk_store_now_ms();
    a->updated_ms = a->created_ms;
    a->event_count = event_id ? 1 : 0;
    alert_rec_t *r = g_new0(alert_rec_t, 1);
    memcpy(r->id, a->id, sizeof r->id);
    r->key = alert_key(a->user_id, a->cause);
    r->open = !strcmp(a->status, "open") || !strcmp(a->status, "investigating");
    r->updated_ms = a->updated_ms;
    g_hash_table_insert(m->alerts, r->id, r);
    alert_rec_t *last = g_hash_table_lookup(m->open_by_key, r->key);
    if (!last || last->updated_ms <= r->updated_ms) g_hash_table_insert(m->open_by_key, r->key, r);
    return 0;
}

static int mem_alert_find_open(rk_store_t *s, const char *user_id, const char *cause, int64_t since_ms, char *id,
                               char *err, size_t errlen)
{
    mem_t *m = MEM(s);
    char *key = alert_key(user_id, cause);
    alert_rec_t *r = g_hash_table_lookup(m->open_by_key, key);
    g_free(key);
    if (r && r->open && r->updated_ms >= since_ms) {
        memcpy(id, r->id, RK_STORE_ID_LEN);
        return 0;
    }
    snprintf(err, errlen, "no open alert");
    return RK_STORE_NOT_FOUND;
}

static int mem_alert_add_event(rk_store_t *s, const char *alert_id, const char *event_id, const char *severity,
                               int64_t ts_ms, char *err, size_t errlen)
{
    (void)event_id;
    mem_t *m = MEM(s);
    if (rk_store_level_index(severity) < 0) {
        snprintf(err, errlen, "unknown severity '%s'", severity ? severity : "(null)");
        return -1;
    }
    alert_rec_t *r = g_hash_table_lookup(m->alerts, alert_id);
    if (!r) { snprintf(err, errlen, "no alert '%s'", alert_id); return RK_STORE_NOT_FOUND; }
    if (ts_ms > r->updated_ms) r->updated_ms = ts_ms;
    alert_rec_t *last = g_hash_table_lookup(m->open_by_key, r->key);
    if (last && last != r && last->updated_ms <= r->updated_ms) g_hash_table_insert(m->open_by_key, r->key, r);
    return 0;
}

/* ---- shared rates: the store of several rk_rates tables in one process (tests,
 * riskd run scripts), as MongoDB is for several instances ------------------------ */

static int mem_rate_add(rk_store_t *s, const char *name, int64_t hour, int64_t n, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    mem_t *m = MEM(s);
    char *key = g_strdup_printf("%s:%lld", name, (long long)hour);
    int64_t *c = g_hash_table_lookup(m->rates, key);
    if (c) g_free(key);
    else g_hash_table_insert(m->rates, key, (c = g_new0(int64_t, 1)));
    *c += n;
    return 0;
}

static int mem_rate_counts(rk_store_t *s, const char *name, int64_t from, int64_t to, int64_t *counts, int64_t *first,
                           char *err, size_t errlen)
{
    (void)err; (void)errlen;
    mem_t *m = MEM(s);
    *first = INT64_MAX;
    for (int64_t h = from; h <= to; h++) {
        char key[96];
        snprintf(key, sizeof key, "%s:%lld", name, (long long)h);
        const int64_t *c = g_hash_table_lookup(m->rates, key);
        counts[h - from] = c ? *c : 0;
        if (c && h < *first) *first = h;
    }
    return 0;
}

/* ---- held successes --------------------------------------------------------- */

/* Settles a held copy (removed from the table by the caller): learned when
 * learn is set. */
static int settle_held(mem_t *m, rk_event_t *c, int learn, int *learned, char *err, size_t errlen)
{
    *learned = 0;
    if (!learn) return 0;
    c->held = RK_LEARN_NOW;
    count_values(m, c);
    if (apply_profile(m, c, 1, err, errlen) != 0) return -1;
    *learned = 1;
    return 0;
}

static int mem_event_outcome(rk_store_t *s, const char *id, const char *outcome, int learn, int *learned,
                             char *err, size_t errlen)
{
    (void)outcome;   /* the memory store keeps no events to note it on */
    mem_t *m = MEM(s);
    GSequenceIter *it = g_hash_table_lookup(m->held_ids, id);
    if (!it) { snprintf(err, errlen, "no held event '%s' (the memory store keeps no others)", id); return RK_STORE_NOT_FOUND; }
    int rc = settle_held(m, g_sequence_get(it), learn, learned, err, errlen);
    g_hash_table_remove(m->held_ids, id);
    g_sequence_remove(it);
    return rc;
}

/* The earliest first: each step costs O(log n) however many are held. */
static int mem_events_settle(rk_store_t *s, int64_t now_ms, int batch, int64_t *n, char *err, size_t errlen)
{
    mem_t *m = MEM(s);
    for (int i = 0; i < batch; i++) {
        GSequenceIter *it = g_sequence_get_begin_iter(m->held);
        if (g_sequence_iter_is_end(it)) break;
        rk_event_t *c = g_sequence_get(it);
        if (c->learn_at > now_ms) break;
        int learned;
        int rc = settle_held(m, c, 1, &learned, err, errlen);
        *n += learned;
        g_hash_table_remove(m->held_ids, c->id);
        g_sequence_remove(it);
        if (rc != 0) return rc;
    }
    return 0;
}

static int mem_events_due(rk_store_t *s, int64_t now_ms, int *due, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    GSequenceIter *it = g_sequence_get_begin_iter(MEM(s)->held);
    *due = !g_sequence_iter_is_end(it) && ((const rk_event_t *)g_sequence_get(it))->learn_at <= now_ms;
    return 0;
}

/* ---- the tables: what the memory store does not keep is left NULL ------------ */

static const rk_store_events_t events_ops = {
    .record = mem_event_record, .recent = mem_recent, .profile_get = mem_profile_get, .state_set = mem_user_state_set,
    .profile_update = mem_profile_update, .global_count = mem_global_count,
    .outcome = mem_event_outcome, .settle = mem_events_settle, .due = mem_events_due,
};
static const rk_store_alerts_t alerts_ops = {
    .insert = mem_alert_insert, .find_open = mem_alert_find_open, .add_event = mem_alert_add_event,
};
static const rk_store_rates_t rates_ops = {
    .add = mem_rate_add, .counts = mem_rate_counts,
};

static const rk_store_ops_t ops = {
    .name = "memory", .close = mem_close,
    .drops_docs = 1,
    .events = &events_ops, .alerts = &alerts_ops, .rates = &rates_ops,
};

rk_store_t *rk_store_mem_open(char *err, size_t errlen)
{
    mem_t *m = calloc(1, sizeof *m);
    if (!m || !(m->scratch = malloc(sizeof *m->scratch))) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->base.ops = &ops;
    m->users = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, user_free);
    m->ips = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ip_hits_free);
    for (int k = 0; k < RK_PK_COUNT; k++) m->values[k] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->alerts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, alert_free);
    m->open_by_key = g_hash_table_new(g_str_hash, g_str_equal);
    m->rates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->held = g_sequence_new(free);
    m->held_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return &m->base;
}
