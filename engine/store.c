/* store.c — what every backend shares: choosing one by URI, ids, the names
 * of levels and statuses, and how an event changes a profile (the SQLite
 * backend applies it in C inside its write transaction; MongoDB will do the
 * same with $inc and friends on the server). */
#include "store_impl.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netaddr.h"

const char *const rk_store_levels[RK_LEVELS] = { "low", "medium", "high", "critical" };
const char *const rk_store_roles[RK_ROLES] = { "admin", "analyst", "service" };

const char *const rk_store_user_states[RK_USER_STATES] = { "at_risk", "compromised", "safe" };

int rk_store_is_user_state(const char *state)
{
    for (int i = 0; state && i < RK_USER_STATES; i++) if (strcmp(state, rk_store_user_states[i]) == 0) return 1;
    return 0;
}

int rk_store_is_role(const char *role)
{
    for (int i = 0; role && i < RK_ROLES; i++) if (strcmp(role, rk_store_roles[i]) == 0) return 1;
    return 0;
}
const char *const rk_store_statuses[RK_ALERT_STATUSES] = { "open", "investigating", "resolved", "false_positive" };

static int index_of(const char *const *names, int n, const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < n; i++) if (strcmp(names[i], s) == 0) return i;
    return -1;
}

int rk_store_level_index(const char *level) { return index_of(rk_store_levels, RK_LEVELS, level); }
int rk_store_status_index(const char *status) { return index_of(rk_store_statuses, RK_ALERT_STATUSES, status); }

void rk_store_defaults(rk_store_opts_t *o)
{
    *o = (rk_store_opts_t){ .busy_timeout_ms = 5000, .retention_days = 90, .checkpoint_pages = 4000 };
}

int64_t rk_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 12 hex digits of milliseconds, then 12 of a per-process sequence that
 * starts at a random point: ids sort by creation time, and two processes
 * writing one database do not collide. */
void rk_store_new_id(char out[RK_STORE_ID_LEN])
{
    static atomic_uint_fast64_t seq;
    static atomic_int seeded;
    if (!atomic_exchange(&seeded, 1)) {
        uint64_t r = (uint64_t)rk_store_now_ms() ^ ((uint64_t)getpid() << 32);
        FILE *f = fopen("/dev/urandom", "rb");
        if (f) { if (fread(&r, sizeof r, 1, f) != 1) r ^= (uint64_t)(uintptr_t)&r; fclose(f); }
        atomic_store(&seq, r & 0xffffffffffULL);
    }
    uint64_t ms = (uint64_t)rk_store_now_ms() & 0xffffffffffffULL;
    uint64_t n = atomic_fetch_add(&seq, 1) & 0xffffffffffffULL;
    snprintf(out, RK_STORE_ID_LEN, "%012llx%012llx", (unsigned long long)ms, (unsigned long long)n);
}

rk_store_t *rk_store_open(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen)
{
    rk_store_opts_t def;
    if (!o) { rk_store_defaults(&def); o = &def; }
    if (strncmp(uri, "sqlite:", 7) == 0) return rk_store_sqlite_open(uri + 7, o, err, errlen);
    if (strcmp(uri, "mem:") == 0) return rk_store_mem_open(err, errlen);
    if (strncmp(uri, "mongodb://", 10) == 0 || strncmp(uri, "mongodb+srv://", 14) == 0)
        return rk_store_mongo_open(uri, o, err, errlen);
    snprintf(err, errlen, "unknown store '%s': expected sqlite:PATH, a mongodb:// URI or mem:", uri);
    return NULL;
}

/* ---- profiles ------------------------------------------------------------ */

/* Counts a value seen at ms; when full, the least recently seen item goes. */
static void bump(rk_profile_t *p, rk_profile_kind k, const char *value, int64_t ms)
{
    if (!value || !*value) return;
    rk_profile_item_t *items = p->items[k];
    int n = p->nitems[k], at = -1;
    for (int i = 0; i < n; i++) if (strcmp(items[i].value, value) == 0) { at = i; break; }
    if (at < 0) {
        if (n < RK_PROFILE_MAX_ITEMS) {
            at = p->nitems[k]++;
        } else {
            at = 0;
            for (int i = 1; i < n; i++) if (items[i].last_ms < items[at].last_ms) at = i;
        }
        snprintf(items[at].value, sizeof items[at].value, "%s", value);
        items[at].count = 0;
        items[at].last_ms = ms;
    }
    items[at].count++;
    if (ms > items[at].last_ms) items[at].last_ms = ms;
}

void rk_profile_ip_prefix(const char *ip, char *out, size_t cap)
{
    rk_ip_t a;
    out[0] = '\0';
    if (!ip || rk_ip_parse(ip, strlen(ip), &a) < 0) return;
    rk_cidr_t c;
    c.net = a;
    c.bits = a.v4 ? 96 + 24 : 48;
    for (int i = c.bits / 8; i < 16; i++) c.net.b[i] = 0;
    char txt[64];
    rk_ip_format(&c.net, txt, sizeof txt);
    snprintf(out, cap, "%s/%d", txt, a.v4 ? 24 : 48);
}

const char *const rk_profile_kind_names[RK_PK_COUNT] = { "devices", "countries", "prefixes", "user_agents", "asns" };

void rk_profile_values(const rk_event_t *e, const char *vals[RK_PK_COUNT], char *buf, size_t cap)
{
    const char *pf = e->ip_prefix;
    if (!pf || !*pf) { rk_profile_ip_prefix(e->ip, buf, cap); pf = buf; }
    vals[RK_PK_DEVICE] = e->device_id;
    vals[RK_PK_COUNTRY] = e->country;
    vals[RK_PK_PREFIX] = pf;
    vals[RK_PK_UA] = e->user_agent;
    vals[RK_PK_ASN] = e->asn;
    for (int k = 0; k < RK_PK_COUNT; k++) if (vals[k] && !*vals[k]) vals[k] = NULL;
}

int rk_profile_local_hour(int64_t ts_ms, double lon)
{
    int64_t day_ms = 86400000;
    int64_t ms = ((ts_ms + (int64_t)(lon / 15.0 * 3600000.0)) % day_ms + day_ms) % day_ms;
    return (int)(ms / 3600000);
}

void rk_profile_reset(rk_profile_t *p)
{
    memset(p, 0, offsetof(rk_profile_t, items));
    memset(p->nitems, 0, sizeof p->nitems);
}

void rk_profile_delta(const rk_event_t *e, rk_profile_delta_t *d)
{
    d->success = e->success != 0;
    d->learn = RK_EVENT_LEARNS(e);
    d->anomaly = e->is_anomaly != 0;
    d->high_risk = rk_store_level_index(e->risk_level) >= 2;
    time_t t = (time_t)(e->ts_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    d->hour = tm.tm_hour;
    d->weekday = tm.tm_wday;
    d->local_hour = e->has_geo ? rk_profile_local_hour(e->ts_ms, e->lon) : -1;
    rk_profile_values(e, d->vals, d->prefix, sizeof d->prefix);
}

static void learn(rk_profile_t *p, const rk_event_t *e, const rk_profile_delta_t *d)
{
    int64_t ms = e->ts_ms;
    p->successes++;
    p->hours[d->hour]++;
    p->weekdays[d->weekday]++;
    if (d->local_hour >= 0) p->local_hours[d->local_hour]++;
    for (int k = 0; k < RK_PK_COUNT; k++) bump(p, (rk_profile_kind)k, d->vals[k], ms);
    /* Attempts can arrive out of order: only a later success moves "last". */
    if (!p->has_last_success || ms >= p->last_success_ms) {
        p->has_last_success = 1;
        p->last_success_ms = ms;
        snprintf(p->last_ip, sizeof p->last_ip, "%s", e->ip ? e->ip : "");
        snprintf(p->last_country, sizeof p->last_country, "%s", e->country ? e->country : "");
        snprintf(p->last_city, sizeof p->last_city, "%s", e->city ? e->city : "");
        p->last_has_geo = e->has_geo;
        p->last_lat = e->lat;
        p->last_lon = e->lon;
    }
}

void rk_profile_apply(rk_profile_t *p, const rk_event_t *e)
{
    int64_t ms = e->ts_ms;
    rk_profile_delta_t d;
    rk_profile_delta(e, &d);
    if (p->attempts == 0 || ms < p->first_ms) p->first_ms = ms;
    if (ms > p->last_ms) p->last_ms = ms;
    p->attempts++;
    p->risk_sum += e->risk_score;
    if (e->risk_score > p->max_risk) p->max_risk = e->risk_score;
    p->anomalies += d.anomaly;
    p->high_risk += d.high_risk;
    if (!d.success) { p->failures++; return; }
    if (d.learn) learn(p, e, &d);
}

void rk_profile_learn(rk_profile_t *p, const rk_event_t *e)
{
    rk_profile_delta_t d;
    rk_profile_delta(e, &d);
    learn(p, e, &d);
}

/* ---- the compact profile encoding (SQLite keeps it as a BLOB) ----------- */

typedef struct { unsigned char *p; size_t len, cap; } buf_t;

static int put(buf_t *b, const void *v, size_t n)
{
    if (b->len + n > b->cap) return -1;
    memcpy(b->p + b->len, v, n);
    b->len += n;
    return 0;
}

static int put_str(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char l = (unsigned char)(n > 255 ? 255 : n);
    return put(b, &l, 1) || put(b, s, l);
}

/* Format 2 added local_hours after weekdays; format 1 (no local hours)
 * still decodes, with them at zero. */
#define PROFILE_FORMAT 2

size_t rk_profile_encode(const rk_profile_t *p, unsigned char *out, size_t cap)
{
    buf_t b = { out, 0, cap };
    unsigned char ver = PROFILE_FORMAT;
    int bad = put(&b, &ver, 1) || put(&b, &p->attempts, 8) || put(&b, &p->successes, 8) ||
              put(&b, &p->failures, 8) || put(&b, &p->anomalies, 8) || put(&b, &p->first_ms, 8) ||
              put(&b, &p->last_ms, 8) || put(&b, p->hours, sizeof p->hours) ||
              put(&b, p->weekdays, sizeof p->weekdays) || put(&b, p->local_hours, sizeof p->local_hours) ||
              put(&b, &p->has_last_success, 4) ||
              put(&b, &p->last_success_ms, 8) || put_str(&b, p->last_ip) || put_str(&b, p->last_country) ||
              put_str(&b, p->last_city) || put(&b, &p->last_has_geo, 4) || put(&b, &p->last_lat, 8) ||
              put(&b, &p->last_lon, 8) || put(&b, &p->risk_sum, 8) || put(&b, &p->max_risk, 8) || put(&b, &p->high_risk, 8);
    for (int k = 0; k < RK_PK_COUNT && !bad; k++) {
        unsigned char n = (unsigned char)p->nitems[k];
        bad = put(&b, &n, 1);
        for (int i = 0; i < p->nitems[k] && !bad; i++)
            bad = put_str(&b, p->items[k][i].value) || put(&b, &p->items[k][i].count, 8) ||
                  put(&b, &p->items[k][i].last_ms, 8);
    }
    return bad ? 0 : b.len;
}

typedef struct { const unsigned char *p; size_t left; } rd_t;

static int get(rd_t *r, void *v, size_t n)
{
    if (r->left < n) return -1;
    memcpy(v, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

static int get_str(rd_t *r, char *out, size_t cap)
{
    unsigned char l;
    if (get(r, &l, 1) || r->left < l) return -1;
    size_t n = l < cap - 1 ? l : cap - 1;
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += l;
    r->left -= l;
    return 0;
}

int rk_profile_decode(rk_profile_t *p, const unsigned char *data, size_t len)
{
    rd_t r = { data, len };
    unsigned char ver;
    if (get(&r, &ver, 1) || ver < 1 || ver > PROFILE_FORMAT) return -1;
    if (get(&r, &p->attempts, 8) || get(&r, &p->successes, 8) || get(&r, &p->failures, 8) ||
        get(&r, &p->anomalies, 8) || get(&r, &p->first_ms, 8) || get(&r, &p->last_ms, 8) ||
        get(&r, p->hours, sizeof p->hours) || get(&r, p->weekdays, sizeof p->weekdays) ||
        (ver >= 2 ? get(&r, p->local_hours, sizeof p->local_hours)
                  : (memset(p->local_hours, 0, sizeof p->local_hours), 0)) ||
        get(&r, &p->has_last_success, 4) || get(&r, &p->last_success_ms, 8) ||
        get_str(&r, p->last_ip, sizeof p->last_ip) || get_str(&r, p->last_country, sizeof p->last_country) ||
        get_str(&r, p->last_city, sizeof p->last_city) || get(&r, &p->last_has_geo, 4) ||
        get(&r, &p->last_lat, 8) || get(&r, &p->last_lon, 8) || get(&r, &p->risk_sum, 8) ||
        get(&r, &p->max_risk, 8) || get(&r, &p->high_risk, 8))
        return -1;
    for (int k = 0; k < RK_PK_COUNT; k++) {
        unsigned char n;
        if (get(&r, &n, 1) || n > RK_PROFILE_MAX_ITEMS) return -1;
        p->nitems[k] = n;
        for (int i = 0; i < n; i++)
            if (get_str(&r, p->items[k][i].value, sizeof p->items[k][i].value) ||
                get(&r, &p->items[k][i].count, 8) || get(&r, &p->items[k][i].last_ms, 8))
                return -1;
    }
    return r.left == 0 ? 0 : -1;
}

/* ---- dispatch ------------------------------------------------------------- */

void rk_store_close(rk_store_t *s) { if (s) s->ops->close(s); }
const char *rk_store_backend(const rk_store_t *s) { return s->ops->name; }

void rk_store_uri_display(const char *uri, char *out, size_t cap)
{
    const char *scheme = strstr(uri, "://");
    const char *host = scheme ? scheme + 3 : NULL;
    const char *at = host ? strchr(host, '@') : NULL;
    const char *slash = host ? strchr(host, '/') : NULL;
    const char *colon = host ? memchr(host, ':', at ? (size_t)(at - host) : 0) : NULL;
    if (strncmp(uri, "mongodb", 7) != 0 || !at || (slash && slash < at) || !colon) {
        snprintf(out, cap, "%s", uri);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - uri), uri, at);
}

int rk_store_ping(rk_store_t *s, char *err, size_t errlen)
{
    return s->ops->ping ? s->ops->ping(s, err, errlen) : 0;
}
int rk_store_check_event(const rk_event_t *e, char *err, size_t errlen)
{
    if (!e->user_id || !*e->user_id || !e->ip || !*e->ip) { snprintf(err, errlen, "an event needs user_id and ip"); return -1; }
    if (rk_store_level_index(e->risk_level) < 0) {
        snprintf(err, errlen, "unknown risk level '%s'", e->risk_level ? e->risk_level : "(null)");
        return -1;
    }
    return 0;
}

int rk_store_keeps_docs(const rk_store_t *s) { return !s->ops->drops_docs; }
int rk_store_shares_rates(const rk_store_t *s) { return s->ops->rates != NULL; }
int rk_store_keeps_outbox(const rk_store_t *s) { return s->ops->outbox != NULL; }

static int not_kept(const rk_store_t *s, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: not kept by the %s store", what, s->ops->name);
    return -1;
}

/* A call of one domain, or "not kept" when the backend leaves it out. */
#define CALL(dom, what, fn, ...) \
    return s->ops->dom && s->ops->dom->fn ? s->ops->dom->fn(s, __VA_ARGS__) : not_kept(s, what, err, errlen)

int rk_store_rate_add(rk_store_t *s, const char *name, int64_t hour, int64_t n, char *err, size_t errlen)
{
    if (!s->ops->rates) { snprintf(err, errlen, "the %s store does not share rates", s->ops->name); return -1; }
    return s->ops->rates->add(s, name, hour, n, err, errlen);
}

int rk_store_rate_counts(rk_store_t *s, const char *name, int64_t from_hour, int64_t to_hour, int64_t *counts,
                         int64_t *first, char *err, size_t errlen)
{
    if (!s->ops->rates) { snprintf(err, errlen, "the %s store does not share rates", s->ops->name); return -1; }
    if (to_hour < from_hour || to_hour - from_hour > 24 * 30) { snprintf(err, errlen, "rates: bad hour range"); return -1; }
    return s->ops->rates->counts(s, name, from_hour, to_hour, counts, first, err, errlen);
}

int rk_store_user_create(rk_store_t *s, rk_user_t *u, char *err, size_t errlen) { CALL(accounts, "users", create, u, err, errlen); }
int rk_store_user_get(rk_store_t *s, const char *n, rk_user_t *o, char *err, size_t errlen) { CALL(accounts, "users", get, n, o, err, errlen); }
int rk_store_user_set_password(rk_store_t *s, const char *n, const char *h, char *err, size_t errlen) { CALL(accounts, "users", set_password, n, h, err, errlen); }
int rk_store_user_delete(rk_store_t *s, const char *n, char *err, size_t errlen) { CALL(accounts, "users", remove, n, err, errlen); }
int rk_store_user_list(rk_store_t *s, rk_user_t **o, size_t *n, char *err, size_t errlen) { CALL(accounts, "users", list, o, n, err, errlen); }
int rk_store_key_create(rk_store_t *s, rk_apikey_t *k, char *err, size_t errlen) { CALL(accounts, "API keys", key_create, k, err, errlen); }
int rk_store_key_get(rk_store_t *s, const char *id, rk_apikey_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    CALL(accounts, "API keys", key_get, id, o, err, errlen);
}
int rk_store_key_list(rk_store_t *s, rk_apikey_t **o, size_t *n, char *err, size_t errlen) { *o = NULL; *n = 0; CALL(accounts, "API keys", key_list, o, n, err, errlen); }
int rk_store_key_revoke(rk_store_t *s, const char *name, int64_t now, char *err, size_t errlen) { CALL(accounts, "API keys", key_revoke, name, now, err, errlen); }
int rk_store_key_touch(rk_store_t *s, const char *id, int64_t now, char *err, size_t errlen) { CALL(accounts, "API keys", key_touch, id, now, err, errlen); }
int rk_store_event_record(rk_store_t *s, rk_event_t *e, int up, char *err, size_t errlen) { CALL(events, "events", record, e, 1, up, err, errlen); }
int rk_store_event_record_many(rk_store_t *s, rk_event_t *e, size_t n, int up, char *err, size_t errlen) { CALL(events, "events", record, e, n, up, err, errlen); }
int rk_store_event_get(rk_store_t *s, const char *id, rk_event_t *o, char *err, size_t errlen) { CALL(events, "events", get, id, o, err, errlen); }
int rk_store_event_list(rk_store_t *s, const rk_event_filter_t *f, rk_event_list_t *o, char *err, size_t errlen) { CALL(events, "events", list, f, o, err, errlen); }
int rk_store_event_set_alert(rk_store_t *s, const char *e, const char *a, char *err, size_t errlen) { CALL(events, "events", set_alert, e, a, err, errlen); }
int rk_store_recent(rk_store_t *s, const char *u, const char *ip, int64_t since, int64_t *uf, int64_t *iu, char *err, size_t errlen) { CALL(events, "events", recent, u, ip, since, uf, iu, err, errlen); }
int rk_store_profile_get(rk_store_t *s, const char *u, rk_profile_t *o, char *err, size_t errlen) { CALL(events, "profiles", profile_get, u, o, err, errlen); }
int rk_store_profile_update(rk_store_t *s, const rk_event_t *e, char *err, size_t errlen) { CALL(events, "profiles", profile_update, e, err, errlen); }
int rk_store_user_state_set(rk_store_t *s, const char *user_id, const char *state, const char *by, int64_t ts_ms,
                            char *err, size_t errlen)
{
    if (state && !rk_store_is_user_state(state)) { snprintf(err, errlen, "unknown user state '%s'", state); return -1; }
    CALL(events, "user states", state_set, user_id, state, by, ts_ms, err, errlen);
}
int rk_store_global_count(rk_store_t *s, rk_profile_kind k, const char *v, rk_global_count_t *o, char *err, size_t errlen) { CALL(events, "profiles", global_count, k, v, o, err, errlen); }
int rk_store_alert_insert(rk_store_t *s, rk_alert_t *a, const char *ev, char *err, size_t errlen) { CALL(alerts, "alerts", insert, a, ev, err, errlen); }
int rk_store_alert_get(rk_store_t *s, const char *id, rk_alert_detail_t *o, char *err, size_t errlen) { CALL(alerts, "alert details", get, id, o, err, errlen); }
int rk_store_alert_list(rk_store_t *s, const rk_alert_filter_t *f, rk_alert_list_t *o, char *err, size_t errlen) { CALL(alerts, "alert lists", list, f, o, err, errlen); }
int rk_store_alert_find_open(rk_store_t *s, const char *u, const char *c, int64_t since, char id[RK_STORE_ID_LEN], char *err, size_t errlen) { CALL(alerts, "alerts", find_open, u, c, since, id, err, errlen); }
int rk_store_alert_add_event(rk_store_t *s, const char *a, const char *e, const char *sev, int64_t ts, char *err, size_t errlen) { CALL(alerts, "alerts", add_event, a, e, sev, ts, err, errlen); }
int rk_store_alert_set_status(rk_store_t *s, const char *id, const char *st, const char *who, const char *note, int64_t ts, char *err, size_t errlen) { CALL(alerts, "alert triage", set_status, id, st, who, note, ts, err, errlen); }
int rk_store_stats(rk_store_t *s, int64_t now, rk_stats_t *o, char *err, size_t errlen) { CALL(reports, "stats", stats, now, o, err, errlen); }
int rk_store_timeline(rk_store_t *s, int64_t a, int64_t b, int64_t bk, rk_bucket_t **o, size_t *n, char *err, size_t errlen) { CALL(reports, "timelines", timeline, a, b, bk, o, n, err, errlen); }
int rk_store_top_users(rk_store_t *s, int64_t since, int lim, rk_top_user_t **o, size_t *n, char *err, size_t errlen) { CALL(reports, "top users", top_users, since, lim, o, n, err, errlen); }
int rk_store_phish_insert(rk_store_t *s, rk_phish_rec_t *r, char *err, size_t errlen) { CALL(phishing, "phishing analyses", insert, r, err, errlen); }
int rk_store_phish_get(rk_store_t *s, const char *id, rk_phish_rec_t *r, char *err, size_t errlen) { CALL(phishing, "phishing analyses", get, id, r, err, errlen); }
int rk_store_phish_list(rk_store_t *s, const rk_phish_filter_t *f, rk_phish_list_t *o, char *err, size_t errlen) { CALL(phishing, "phishing analyses", list, f, o, err, errlen); }
int rk_store_phish_set_alert(rk_store_t *s, const char *id, const char *a, char *err, size_t errlen) { CALL(phishing, "phishing analyses", set_alert, id, a, err, errlen); }

int rk_store_state_get(rk_store_t *s, const char *k, char **v, char *err, size_t errlen) { *v = NULL; CALL(state, "state", get, k, v, err, errlen); }
int rk_store_state_put(rk_store_t *s, const char *k, const char *v, char *err, size_t errlen) { CALL(state, "state", put, k, v, err, errlen); }

int rk_store_event_outcome(rk_store_t *s, const char *id, const char *outcome, int learn, int *learned,
                           char *err, size_t errlen)
{
    int dummy;
    if (!learned) learned = &dummy;
    *learned = 0;
    CALL(events, "login events", outcome, id, outcome, learn, learned, err, errlen);
}

int rk_store_events_settle(rk_store_t *s, int64_t now, int batch, int64_t *n, char *err, size_t errlen)
{
    *n = 0;
    return s->ops->events && s->ops->events->settle ? s->ops->events->settle(s, now, batch, n, err, errlen) : 0;
}

int rk_store_events_due(rk_store_t *s, int64_t now, int *due, char *err, size_t errlen)
{
    *due = 0;
    return s->ops->events && s->ops->events->due ? s->ops->events->due(s, now, due, err, errlen) : 0;
}

int rk_store_purge(rk_store_t *s, int64_t now, int batch, int64_t *del, char *err, size_t errlen)
{
    *del = 0;
    return s->ops->events && s->ops->events->purge ? s->ops->events->purge(s, now, batch, del, err, errlen) : 0;
}
int rk_store_global_counts(rk_store_t *s, const char *const vals[RK_PK_COUNT], rk_global_count_t out[RK_PK_COUNT],
                           char *err, size_t errlen)
{
    if (s->ops->events && s->ops->events->global_counts) return s->ops->events->global_counts(s, vals, out, err, errlen);
    memset(out, 0, sizeof *out * RK_PK_COUNT);
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        int rc = rk_store_global_count(s, (rk_profile_kind)k, vals[k], &out[k], err, errlen);
        if (rc) return rc;
    }
    return 0;
}

/* ---- group commit and the WAL (the writer thread's) ---- */

static const rk_store_writes_t *writes(const rk_store_t *s) { return s->ops->writes; }
int rk_store_batches(const rk_store_t *s) { return writes(s) && writes(s)->batch_begin; }
int rk_store_batch_begin(rk_store_t *s, char *err, size_t errlen) { return rk_store_batches(s) ? writes(s)->batch_begin(s, err, errlen) : 0; }
int rk_store_batch_end(rk_store_t *s, char *err, size_t errlen) { return rk_store_batches(s) ? writes(s)->batch_end(s, err, errlen) : 0; }
int rk_store_checkpoint(rk_store_t *s, int restart, int *frames, char *err, size_t errlen)
{
    if (frames) *frames = 0;
    return writes(s) && writes(s)->checkpoint ? writes(s)->checkpoint(s, restart, frames, err, errlen) : 0;
}
int rk_store_wal_pages(rk_store_t *s) { return writes(s) && writes(s)->wal_pages ? writes(s)->wal_pages(s) : 0; }
int rk_store_accounts_generation(rk_store_t *s, uint64_t *gen)
{
    const rk_store_accounts_t *a = s->ops->accounts;
    return a && a->generation ? a->generation(s, gen) : 0;
}
int rk_store_sync(rk_store_t *s, char *err, size_t errlen) { return writes(s) && writes(s)->sync ? writes(s)->sync(s, err, errlen) : 0; }
int rk_store_unflushed(rk_store_t *s) { return writes(s) && writes(s)->unflushed ? writes(s)->unflushed(s) > 0 : 0; }

/* ---- copies ---- */

static void dup_str(const char **f, char **at)
{
    if (!*f) return;
    size_t n = strlen(*f) + 1;
    memcpy(*at, *f, n);
    *f = *at;
    *at += n;
}

rk_event_t *rk_event_dup(const rk_event_t *e)
{
    const char *const strs[] = { e->user_id, e->ip, e->country, e->city, e->device_id, e->user_agent,
                                 e->asn, e->ip_prefix, e->risk_level, e->action, e->alert_id, e->doc, e->outcome };
    size_t len = sizeof *e;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) if (strs[i]) len += strlen(strs[i]) + 1;
    rk_event_t *c = malloc(len);
    if (!c) return NULL;
    *c = *e;
    c->owned = NULL;
    char *at = (char *)(c + 1);
    dup_str(&c->user_id, &at); dup_str(&c->ip, &at); dup_str(&c->country, &at); dup_str(&c->city, &at);
    dup_str(&c->device_id, &at); dup_str(&c->user_agent, &at); dup_str(&c->asn, &at); dup_str(&c->ip_prefix, &at);
    dup_str(&c->risk_level, &at); dup_str(&c->action, &at); dup_str(&c->alert_id, &at); dup_str(&c->doc, &at);
    dup_str(&c->outcome, &at);
    return c;
}

/* ---- freeing records -------------------------------------------------------- */

void rk_store_user_free(rk_user_t *u)
{
    if (!u) return;
    free(u->username); free(u->email); free(u->role); free(u->password_hash);
    u->username = u->email = u->role = u->password_hash = NULL;
}

int rk_store_outbox_put(rk_store_t *s, rk_outbox_item_t *it, int64_t now, char *err, size_t errlen)
{
    if (!it->dest || !*it->dest || !it->kind || !it->body) { snprintf(err, errlen, "a delivery needs dest, kind and body"); return -1; }
    CALL(outbox, "the outbox", put, it, now, err, errlen);
}
int rk_store_outbox_claim(rk_store_t *s, int64_t now, int64_t lease, int max, rk_outbox_item_t **out, size_t *n,
                          char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    CALL(outbox, "the outbox", claim, now, lease, max, out, n, err, errlen);
}
int rk_store_outbox_done(rk_store_t *s, const char *id, int64_t now, char *err, size_t errlen) { CALL(outbox, "the outbox", done, id, now, err, errlen); }
int rk_store_outbox_retry(rk_store_t *s, const char *id, int attempts, int64_t next, const char *error, char *err, size_t errlen)
{
    CALL(outbox, "the outbox", retry, id, attempts, next, error, err, errlen);
}
int rk_store_outbox_dead(rk_store_t *s, const char *id, int attempts, int64_t now, const char *error, char *err, size_t errlen)
{
    CALL(outbox, "the outbox", dead, id, attempts, now, error, err, errlen);
}
int rk_store_outbox_list(rk_store_t *s, const rk_outbox_filter_t *f, rk_outbox_list_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    CALL(outbox, "the outbox", list, f, out, err, errlen);
}
int rk_store_outbox_requeue(rk_store_t *s, const char *id, int64_t now, char *err, size_t errlen) { CALL(outbox, "the outbox", requeue, id, now, err, errlen); }

int rk_store_breakdown(rk_store_t *s, int64_t since_ms, rk_breakdown_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    CALL(reports, "breakdowns", breakdown, since_ms, out, err, errlen);
}

void rk_store_outbox_item_free(rk_outbox_item_t *it)
{
    if (!it) return;
    free(it->dest); free(it->kind); free(it->body); free(it->status); free(it->last_error);
    it->dest = it->kind = it->body = it->status = it->last_error = NULL;
}

void rk_store_outbox_list_free(rk_outbox_list_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) rk_store_outbox_item_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void rk_store_key_free(rk_apikey_t *k)
{
    if (!k) return;
    free(k->name); free(k->role); free(k->hash);
    k->name = k->role = k->hash = NULL;
}

void rk_store_event_free(rk_event_t *e) { if (e) { free(e->owned); e->owned = NULL; } }

void rk_store_event_list_free(rk_event_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) rk_store_event_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void rk_store_phish_free(rk_phish_rec_t *r) { if (r) { free(r->owned); r->owned = NULL; } }

void rk_store_phish_list_free(rk_phish_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) rk_store_phish_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* The verdicts a phishing analysis may have. */
int rk_store_verdict_valid(const char *v)
{
    return v && (strcmp(v, "clean") == 0 || strcmp(v, "suspicious") == 0 || strcmp(v, "phishing") == 0);
}

void rk_store_alert_free(rk_alert_t *a) { if (a) { free(a->owned); a->owned = NULL; } }

void rk_store_alert_list_free(rk_alert_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) rk_store_alert_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void rk_store_alert_detail_free(rk_alert_detail_t *d)
{
    rk_store_alert_free(&d->alert);
    for (size_t i = 0; i < d->nhistory; i++) free(d->history[i].note);
    free(d->history);
    free(d->event_ids);
    memset(d, 0, sizeof *d);
}
