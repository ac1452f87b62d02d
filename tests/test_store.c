/* test_store.c — the store contract, run against SQLite always and against
 * MongoDB when MONGODB_URI is set (said as skipped otherwise). Aggregates are
 * checked against values computed by hand. */
#include "test_util.h"
#include "apikey.h"
#include "store_impl.h"
#include "store_live.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/wait.h>

static char uri[1200];
static char *dir;
#define H 3600000LL
#define T0 (1700000000000LL / H * H)   /* an hour boundary in Nov 2023 */

static int on_mongo;   /* the contract runs against MONGODB_URI too */
static int mongo_seq;

/* A fresh, empty store: a new SQLite file, or a new MongoDB database. */
static void fresh_store(void)
{
    if (!on_mongo) {
        snprintf(uri, sizeof uri, "sqlite:%s/riskd-%d.db", dir, mongo_seq++);
        return;
    }
    const char *base = getenv("MONGODB_URI");
    const char *q = strchr(base, '?');
    const char *slash = strchr(base + strlen("mongodb://"), '/');
    int hostlen = (int)((slash && (!q || slash < q) ? slash : q ? q : base + strlen(base)) - base);
    snprintf(uri, sizeof uri, "%.*s/riskd_test_%d_%d%s", hostlen, base, (int)getpid(), mongo_seq++, q ? q : "");
}

static int setup(void **st)
{
    (void)st;
    dir = tmp_dir();
    fresh_store();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    rm_tree(dir);
    return 0;
}

static rk_store_t *open_store(void)
{
    char err[512];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    if (!s) fail_msg("open %s: %s", uri, err);
    return s;
}

static rk_event_t ev(const char *user, int64_t ts, const char *ip, int success, double risk,
                     const char *level, int anomaly)
{
    rk_event_t e;
    memset(&e, 0, sizeof e);
    e.user_id = user;
    e.ts_ms = ts;
    e.ip = ip;
    e.success = success;
    e.risk_score = risk;
    e.risk_level = level;
    e.is_anomaly = anomaly;
    e.anomaly_score = anomaly ? 0.7 : 0.4;
    e.action = "allow";
    return e;
}

static void uri_display(void **st)
{
    (void)st;
    char out[256];
    rk_store_uri_display("mongodb://ops:s3cret@db1:27017,db2/riskd?replicaSet=rs", out, sizeof out);
    assert_string_equal(out, "mongodb://ops:***@db1:27017,db2/riskd?replicaSet=rs");
    rk_store_uri_display("mongodb+srv://ops:p@cluster.example/riskd", out, sizeof out);
    assert_string_equal(out, "mongodb+srv://ops:***@cluster.example/riskd");
    rk_store_uri_display("mongodb://db1:27017/riskd?x=a@b", out, sizeof out);   /* an @ past the host is not a password */
    assert_string_equal(out, "mongodb://db1:27017/riskd?x=a@b");
    rk_store_uri_display("mongodb://ops@db1/riskd", out, sizeof out);             /* no password */
    assert_string_equal(out, "mongodb://ops@db1/riskd");
    rk_store_uri_display("sqlite:data/riskd.db", out, sizeof out);
    assert_string_equal(out, "sqlite:data/riskd.db");
}

static void users(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = open_store();
    rk_user_t u = { .username = "bob", .email = "bob@example.com", .role = "analyst", .password_hash = "$argon2id$x" };
    assert_int_equal(rk_store_user_create(s, &u, err, sizeof err), 0);
    assert_int_equal(strlen(u.id), 24);
    rk_user_t a = { .username = "alice", .role = "admin", .password_hash = "h" };
    assert_int_equal(rk_store_user_create(s, &a, err, sizeof err), 0);
    rk_user_t dup = { .username = "bob", .role = "admin" };
    assert_int_equal(rk_store_user_create(s, &dup, err, sizeof err), RK_STORE_CONFLICT);
    rk_user_t got;
    assert_int_equal(rk_store_user_get(s, "bob", &got, err, sizeof err), 0);
    assert_string_equal(got.email, "bob@example.com");
    assert_string_equal(got.role, "analyst");
    assert_string_equal(got.id, u.id);
    rk_store_user_free(&got);
    assert_int_equal(rk_store_user_set_password(s, "bob", "$argon2id$y", err, sizeof err), 0);
    assert_int_equal(rk_store_user_get(s, "bob", &got, err, sizeof err), 0);
    assert_string_equal(got.password_hash, "$argon2id$y");
    rk_store_user_free(&got);
    assert_int_equal(rk_store_user_set_password(s, "carol", "x", err, sizeof err), RK_STORE_NOT_FOUND);
    rk_user_t *list;
    size_t n;
    assert_int_equal(rk_store_user_list(s, &list, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].username, "alice");   /* sorted by name */
    for (size_t i = 0; i < n; i++) rk_store_user_free(&list[i]);
    free(list);
    assert_int_equal(rk_store_user_delete(s, "alice", err, sizeof err), 0);
    assert_int_equal(rk_store_user_delete(s, "alice", err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_user_get(s, "alice", &got, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_store_close(s);
}

/* API keys: made and checked (apikey.h), one live key per name, revoked at
 * once, last use kept; the key itself is never stored. */
static void api_keys(void **st)
{
    (void)st;
    char err[512], key[RK_APIKEY_LEN + 1], key2[RK_APIKEY_LEN + 1];
    rk_store_t *s = open_store();
    rk_apikey_t rec, got;
    assert_int_equal(rk_apikey_issue(s, "checkout", key, &rec, err, sizeof err), 0);
    assert_int_equal(strlen(key), RK_APIKEY_LEN);
    assert_int_equal(strncmp(key, "rk_", 3), 0);
    assert_int_equal(strncmp(key + 3, rec.id, RK_APIKEY_ID_LEN), 0);
    assert_true(rec.created_ms > 0);
    assert_int_equal(rk_apikey_issue(s, "checkout", key2, &rec, err, sizeof err), RK_STORE_CONFLICT);
    assert_int_equal(rk_apikey_check(s, key, strlen(key), &got, err, sizeof err), 1);
    assert_string_equal(got.name, "checkout");
    assert_string_equal(got.role, RK_APIKEY_ROLE);
    assert_null(strstr(got.hash, key + 4 + RK_APIKEY_ID_LEN));   /* the hash, not the secret */
    assert_int_equal(got.last_used_ms, 0);
    char id[RK_STORE_ID_LEN];
    snprintf(id, sizeof id, "%s", got.id);
    rk_store_key_free(&got);
    /* one changed digit of the secret, a made-up id, not a key at all */
    char bad[RK_APIKEY_LEN + 1];
    memcpy(bad, key, sizeof bad);
    bad[RK_APIKEY_LEN - 1] = bad[RK_APIKEY_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(rk_apikey_check(s, bad, strlen(bad), &got, err, sizeof err), 0);
    assert_string_equal(err, "unknown API key");
    memcpy(bad, key, sizeof bad);
    bad[3] = bad[3] == '0' ? '1' : '0';
    assert_int_equal(rk_apikey_check(s, bad, strlen(bad), &got, err, sizeof err), 0);
    assert_int_equal(rk_apikey_check(s, "rk_nope", 7, &got, err, sizeof err), 0);
    assert_string_equal(err, "not an API key");
    assert_int_equal(rk_apikey_check(s, key, strlen(key) - 1, &got, err, sizeof err), 0);
    /* last use only moves forward */
    assert_int_equal(rk_store_key_touch(s, id, 2000, err, sizeof err), 0);
    assert_int_equal(rk_store_key_touch(s, id, 1000, err, sizeof err), 0);
    assert_int_equal(rk_store_key_get(s, id, &got, err, sizeof err), 0);
    assert_int_equal(got.last_used_ms, 2000);
    rk_store_key_free(&got);
    assert_int_equal(rk_store_key_touch(s, "0000000000000000", 1, err, sizeof err), RK_STORE_NOT_FOUND);
    /* revoked: refused at once; the name is free for a new key */
    assert_int_equal(rk_store_key_revoke(s, "checkout", 3000, err, sizeof err), 0);
    assert_int_equal(rk_apikey_check(s, key, strlen(key), &got, err, sizeof err), 0);
    assert_string_equal(err, "the API key was revoked");
    assert_int_equal(rk_store_key_revoke(s, "checkout", 3001, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_apikey_issue(s, "checkout", key2, &rec, err, sizeof err), 0);
    assert_int_equal(rk_apikey_check(s, key2, strlen(key2), &got, err, sizeof err), 1);
    rk_store_key_free(&got);
    assert_int_equal(rk_apikey_issue(s, "batch", key2, &rec, err, sizeof err), 0);
    rk_apikey_t *list;
    size_t n;
    assert_int_equal(rk_store_key_list(s, &list, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "batch");                  /* by name, the live key first */
    assert_string_equal(list[1].name, "checkout");
    assert_int_equal(list[1].revoked_ms, 0);
    assert_int_equal(list[2].revoked_ms, 3000);
    assert_int_equal(list[2].last_used_ms, 2000);
    for (size_t i = 0; i < n; i++) rk_store_key_free(&list[i]);
    free(list);
    rk_store_close(s);
}

/* An analyst's word on an account: kept beside the profile, read with it,
 * untouched by the analyses that rewrite the profile, cleared with NULL. */
static void user_states(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = open_store();
    assert_int_equal(rk_store_user_state_set(s, "sue", "compromised", "ana", 1000, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_event_t e = ev("sue", T0, "192.0.2.1", 1, 10.0, "low", 0);
    assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_user_state_set(s, "sue", "compromised", "ana", 1000, err, sizeof err), 0);
    assert_int_equal(rk_store_user_state_set(s, "sue", "hacked", "ana", 1000, err, sizeof err), -1);
    rk_profile_t *p = calloc(1, sizeof *p);
    assert_int_equal(rk_store_profile_get(s, "sue", p, err, sizeof err), 0);
    assert_string_equal(p->state, "compromised");
    assert_string_equal(p->state_by, "ana");
    assert_int_equal(p->state_ms, 1000);
    rk_event_t e2 = ev("sue", T0 + 60000, "192.0.2.1", 1, 10.0, "low", 0);
    assert_int_equal(rk_store_event_record(s, &e2, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(s, "sue", p, err, sizeof err), 0);
    assert_string_equal(p->state, "compromised");                  /* an analysis leaves it */
    assert_int_equal(p->successes, 2);
    assert_int_equal(rk_store_user_state_set(s, "sue", NULL, "ana", 2000, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(s, "sue", p, err, sizeof err), 0);
    assert_string_equal(p->state, "");
    free(p);
    rk_store_close(s);
}

/* The outbox: due deliveries claimed once (a lease keeps the others off),
 * retried later, done, dead, listed, and a dead one sent again. */
static void outbox(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = open_store();
    const int64_t t = 1700000000000;
    rk_outbox_item_t it = { .dest = "http://127.0.0.1:9/hook", .kind = "alert", .body = "{\"n\":1}" };
    char ids[3][RK_STORE_ID_LEN];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rk_store_outbox_put(s, &it, t + i, err, sizeof err), 0);
        snprintf(ids[i], sizeof ids[i], "%s", it.id);
    }
    rk_outbox_item_t *got;
    size_t n;
    assert_int_equal(rk_store_outbox_claim(s, t + 10, 60000, 2, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].id, ids[0]);                          /* the oldest due first */
    assert_string_equal(got[0].body, "{\"n\":1}");
    assert_string_equal(got[0].status, "pending");
    for (size_t i = 0; i < n; i++) rk_store_outbox_item_free(&got[i]);
    free(got);
    assert_int_equal(rk_store_outbox_claim(s, t + 10, 60000, 5, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);                                          /* the two claimed are held */
    assert_string_equal(got[0].id, ids[2]);
    rk_store_outbox_item_free(&got[0]);
    free(got);
    assert_int_equal(rk_store_outbox_claim(s, t + 20, 60000, 5, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(got);
    /* settled: one delivered, one retried later, one dead */
    assert_int_equal(rk_store_outbox_done(s, ids[0], t + 30, err, sizeof err), 0);
    assert_int_equal(rk_store_outbox_retry(s, ids[1], 1, t + 5000, "HTTP 500", err, sizeof err), 0);
    assert_int_equal(rk_store_outbox_dead(s, ids[2], 4, t + 40, "no answer", err, sizeof err), 0);
    assert_int_equal(rk_store_outbox_done(s, "nope", t, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_outbox_claim(s, t + 4999, 60000, 5, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);                                          /* not due yet */
    free(got);
    assert_int_equal(rk_store_outbox_claim(s, t + 5000, 60000, 5, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempts, 1);
    assert_string_equal(got[0].last_error, "HTTP 500");
    rk_store_outbox_item_free(&got[0]);
    free(got);
    rk_outbox_list_t l;
    rk_outbox_filter_t f = { "dead", 1, 10 };
    assert_int_equal(rk_store_outbox_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 1);
    assert_string_equal(l.items[0].id, ids[2]);
    assert_int_equal(l.items[0].attempts, 4);
    assert_int_equal(l.items[0].done_ms, t + 40);
    rk_store_outbox_list_free(&l);
    f.status = NULL;
    assert_int_equal(rk_store_outbox_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 3);
    assert_string_equal(l.items[0].id, ids[2]);                      /* newest first */
    rk_store_outbox_list_free(&l);
    f.status = "delivered";
    assert_int_equal(rk_store_outbox_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].attempts, 1);
    rk_store_outbox_list_free(&l);
    /* an admin sends the dead one again: due at once */
    assert_int_equal(rk_store_outbox_requeue(s, ids[2], t + 100, err, sizeof err), 0);
    assert_int_equal(rk_store_outbox_requeue(s, ids[2], t + 100, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_outbox_claim(s, t + 100, 60000, 5, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, ids[2]);
    rk_store_outbox_item_free(&got[0]);
    free(got);
    rk_outbox_item_t bad = { .dest = "", .kind = "alert", .body = "{}" };
    assert_int_equal(rk_store_outbox_put(s, &bad, t, err, sizeof err), -1);
    rk_store_close(s);
}

static void api_key_format(void **st)
{
    (void)st;
    char key[RK_APIKEY_LEN + 1], other[RK_APIKEY_LEN + 1], id[RK_APIKEY_ID_LEN + 1], hash[RK_APIKEY_HASH_LEN + 1];
    char id2[RK_APIKEY_ID_LEN + 1], hash2[RK_APIKEY_HASH_LEN + 1];
    assert_int_equal(rk_apikey_new(key, id, hash), 0);
    assert_int_equal(rk_apikey_new(other, id2, hash2), 0);
    assert_string_not_equal(key, other);
    assert_int_equal(rk_apikey_parse(key, strlen(key), id2, hash2), 1);
    assert_string_equal(id2, id);
    assert_true(rk_apikey_hash_equal(hash, hash2));
    assert_false(rk_apikey_hash_equal(hash, "short"));
    key[10] = 'G';                                                /* not hex */
    assert_int_equal(rk_apikey_parse(key, strlen(key), id2, hash2), 0);
    assert_true(rk_apikey_name_valid("checkout-eu.1_a"));
    assert_false(rk_apikey_name_valid(""));
    assert_false(rk_apikey_name_valid("a b"));
    assert_false(rk_apikey_name_valid("x/../y"));
}

/* 30 events: u1 and u2, hours T0..T0+5, levels cycling, every 3rd failed,
 * every 5th an anomaly, recorded out of time order. */
static void fill(rk_store_t *s, char ids[30][RK_STORE_ID_LEN])
{
    char err[512];
    static const char *levels[] = { "low", "medium", "high", "critical" };
    for (int k = 0; k < 30; k++) {
        int i = (k * 7) % 30;   /* a permutation: out of order */
        rk_event_t e = ev(i % 2 ? "u2" : "u1", T0 + (i % 6) * H + i * 1000, i % 4 ? "10.0.0.1" : "2001:db8::7",
                          i % 3 != 0, i * 3.0, levels[i % 4], i % 5 == 0);
        e.country = i < 15 ? "FR" : "DE";
        e.device_id = i % 2 ? "phone" : "laptop";
        e.has_geo = 1;
        e.lat = 48.85;
        e.lon = 2.35;
        e.doc = i % 3 == 0 ? "{\"reasons\":[\"new device\"],\"rules\":[{\"name\":\"new_device\",\"score\":25}]}"
                           : "{\"reasons\":[\"new device\"]}";
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
        memcpy(ids[i], e.id, RK_STORE_ID_LEN);
    }
}

static void events_and_filters(void **st)
{
    (void)st;
    char err[512], ids[30][RK_STORE_ID_LEN];
    rk_store_t *s = open_store();
    fill(s, ids);
    rk_event_t got;
    assert_int_equal(rk_store_event_get(s, ids[7], &got, err, sizeof err), 0);
    assert_string_equal(got.user_id, "u2");
    assert_true(got.ts_ms == T0 + 1 * H + 7000);
    assert_string_equal(got.risk_level, "critical");
    assert_true(got.risk_score == 21.0);
    assert_string_equal(got.doc, "{\"reasons\":[\"new device\"]}");
    assert_string_equal(got.country, "FR");
    assert_true(got.has_geo && got.lat == 48.85);
    assert_null(got.alert_id);
    rk_store_event_free(&got);
    assert_int_equal(rk_store_event_get(s, "nope", &got, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_event_t bad = ev("u1", T0, NULL, 1, 1, "low", 0);
    assert_int_equal(rk_store_event_record(s, &bad, 0, err, sizeof err), -1);
    bad = ev("u1", T0, "1.2.3.4", 1, 1, "severe", 0);
    assert_int_equal(rk_store_event_record(s, &bad, 0, err, sizeof err), -1);

    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 7 };
    rk_event_list_t l;
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 30);
    assert_int_equal(l.n, 7);
    for (size_t i = 1; i < l.n; i++) assert_true(l.items[i - 1].ts_ms >= l.items[i].ts_ms);  /* newest first */
    assert_true(l.items[0].ts_ms == T0 + 5 * H + 29000);
    rk_store_event_list_free(&l);
    f.page = 5;   /* 28 + 2 */
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    rk_store_event_list_free(&l);
    f.page = 6;   /* past the end */
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.total, 30);
    rk_store_event_list_free(&l);

    struct { rk_event_filter_t f; int64_t want; } cases[] = {
        { { .user_id = "u1", .min_risk = -1, .page = 1, .per_page = 100 }, 15 },
        { { .risk_level = "high", .min_risk = -1, .page = 1, .per_page = 100 }, 7 },          /* i % 4 == 2: 2,6,...,26 */
        { { .min_risk = 60, .page = 1, .per_page = 100 }, 10 },                               /* i*3 >= 60: i >= 20 */
        { { .min_risk = -1, .since_ms = T0 + 2 * H, .until_ms = T0 + 4 * H, .page = 1, .per_page = 100 }, 10 },  /* i % 6 in {2,3} */
        { { .min_risk = -1, .anomaly_only = 1, .page = 1, .per_page = 100 }, 6 },            /* i % 5 == 0 */
        /* odd i with i % 4 == 3 and i >= 10: 11, 15, 19, 23, 27 */
        { { .user_id = "u2", .risk_level = "critical", .min_risk = 30, .page = 1, .per_page = 100 }, 5 },
        { { .ip = "2001:db8::7", .min_risk = -1, .page = 1, .per_page = 100 }, 8 },          /* i % 4 == 0 */
        { { .country = "DE", .since_ms = T0, .min_risk = -1, .page = 1, .per_page = 100 }, 15 },   /* i >= 15 */
        { { .rule = "new_device", .since_ms = T0, .min_risk = -1, .page = 1, .per_page = 100 }, 10 },   /* i % 3 == 0 */
        { { .rule = "new_device", .country = "FR", .since_ms = T0, .min_risk = -1, .page = 1, .per_page = 100 }, 5 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(rk_store_event_list(s, &cases[c].f, &l, err, sizeof err), 0);
        if (l.total != cases[c].want) fail_msg("case %zu: total %lld, want %lld", c, (long long)l.total, (long long)cases[c].want);
        assert_int_equal(l.n, (size_t)cases[c].want);
        rk_store_event_list_free(&l);
    }
    /* country and rule have no index: only within a time range */
    rk_event_filter_t open_ended = { .country = "DE", .min_risk = -1, .page = 1, .per_page = 10 };
    assert_int_equal(rk_store_event_list(s, &open_ended, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs since"));
    int64_t fails, ipusers;
    assert_int_equal(rk_store_recent(s, "u1", "10.0.0.1", T0 + 3 * H, &fails, &ipusers, err, sizeof err), 0);
    /* u1 = even i; failed = i % 3 == 0; hour >= 3: i % 6 in {3,4,5} -> even: i%6==4 -> i=4,10,16,22,28, none %3==0 -> wait 4%3,10%3,... */
    int64_t want = 0, want_users = 0;
    int seen[2] = { 0, 0 };
    for (int i = 0; i < 30; i++) {
        int64_t ts = T0 + (i % 6) * H + i * 1000;
        if (i % 2 == 0 && ts >= T0 + 3 * H && i % 3 == 0) want++;
        if (i % 4 && ts >= T0 + 3 * H) seen[i % 2] = 1;
    }
    want_users = seen[0] + seen[1];
    assert_int_equal(fails, want);
    assert_int_equal(ipusers, want_users);
    rk_store_close(s);
}

static void profiles(void **st)
{
    (void)st;
    char err[512], id[RK_STORE_ID_LEN];
    (void)id;
    rk_store_t *s = open_store();
    rk_profile_t *p = malloc(sizeof *p);
    assert_int_equal(rk_store_profile_get(s, "ghost", p, err, sizeof err), RK_STORE_NOT_FOUND);
    /* 40 devices: the 8 least recent are evicted. */
    for (int i = 0; i < 40; i++) {
        char dev[16];
        snprintf(dev, sizeof dev, "dev%02d", i);
        rk_event_t e = ev("pat", T0 + i * 60000, "192.0.2.77", 1, 10, "low", 0);
        e.device_id = dev;
        e.country = "NZ";
        e.city = "Paris";
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    }
    /* A failure, and an older success that arrives late. */
    rk_event_t f = ev("pat", T0 + 50 * 60000, "198.51.100.1", 0, 70, "high", 1);
    assert_int_equal(rk_store_event_record(s, &f, 1, err, sizeof err), 0);
    rk_event_t late = ev("pat", T0 - 3 * H, "203.0.113.5", 1, 5, "low", 0);
    late.country = "US";
    late.has_geo = 1;
    late.lat = 40.71;
    late.lon = -74.0;   /* New York: local hours are UTC - 4 h 56 min */
    assert_int_equal(rk_store_event_record(s, &late, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(s, "pat", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 42);
    assert_int_equal(p->successes, 41);
    assert_int_equal(p->failures, 1);
    assert_int_equal(p->anomalies, 1);
    assert_int_equal(p->high_risk, 1);
    assert_true(p->max_risk == 70);
    assert_true(p->first_ms == T0 - 3 * H);
    assert_true(p->last_ms == T0 + 50 * 60000);
    assert_int_equal(p->nitems[RK_PK_DEVICE], RK_PROFILE_MAX_ITEMS);
    int has00 = 0, has39 = 0;
    for (int i = 0; i < p->nitems[RK_PK_DEVICE]; i++) {
        has00 |= !strcmp(p->items[RK_PK_DEVICE][i].value, "dev00");
        has39 |= !strcmp(p->items[RK_PK_DEVICE][i].value, "dev39");
    }
    assert_false(has00);
    assert_true(has39);
    assert_int_equal(p->nitems[RK_PK_COUNTRY], 2);   /* NZ and US */
    assert_int_equal(p->nitems[RK_PK_PREFIX], 2);
    assert_string_equal(p->items[RK_PK_PREFIX][0].value, "192.0.2.0/24");
    /* The late, older success did not become the last one. */
    assert_true(p->has_last_success);
    assert_true(p->last_success_ms == T0 + 39 * 60000);
    assert_string_equal(p->last_ip, "192.0.2.77");
    assert_string_equal(p->last_city, "Paris");
    int64_t hours = 0;
    for (int h = 0; h < 24; h++) hours += p->hours[h];
    assert_int_equal(hours, 41);
    /* Only the located success counts by local hour, at New York's. */
    int lh = rk_profile_local_hour(T0 - 3 * H, -74.0);
    assert_int_equal(lh, (int)(((T0 - 3 * H) / H + 24 - 5) % 24));
    for (int h = 0; h < 24; h++) assert_int_equal(p->local_hours[h], h == lh);
    /* Global counts (other tests' users count too, hence the >=). */
    rk_global_count_t g;
    assert_int_equal(rk_store_global_count(s, RK_PK_COUNTRY, "NZ", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 40);
    assert_true(g.total >= 41 && g.distinct >= 2);
    assert_int_equal(rk_store_global_count(s, RK_PK_DEVICE, "dev07", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 1);
    assert_true(g.distinct >= 40);
    assert_int_equal(rk_store_global_count(s, RK_PK_DEVICE, "never", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 0);
    /* All kinds at once give what each kind alone gives. */
    const char *vals[RK_PK_COUNT] = { "dev07", "NZ", NULL, NULL, NULL };
    rk_global_count_t all[RK_PK_COUNT], one;
    assert_int_equal(rk_store_global_counts(s, vals, all, err, sizeof err), 0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(rk_store_global_count(s, (rk_profile_kind)k, vals[k], &one, err, sizeof err), 0);
        assert_memory_equal(&all[k], &one, sizeof one);
    }
    assert_int_equal(all[RK_PK_PREFIX].count + all[RK_PK_PREFIX].total, 0);   /* skipped kinds are zero */
    free(p);
    rk_store_close(s);
}

/* A held success is an attempt, not yet a habit: its outcome (or the end
 * of its grace period) decides whether the profile and the site's value
 * counts learn it, once. */
static void held_successes_learn_once_settled(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = open_store();
    rk_profile_t *p = malloc(sizeof *p);
    rk_global_count_t g;
    const char *devs[] = { "held-pass", "held-block", "held-grace", "held-late" };
    char ids[4][RK_STORE_ID_LEN];
    for (int i = 0; i < 4; i++) {
        rk_event_t e = ev("hana", T0 + i * 60000, "192.0.2.90", 1, 50, "medium", 0);
        e.device_id = devs[i];
        e.action = "challenge";
        e.held = i == 2 || i == 3 ? RK_LEARN_ON_GRACE : RK_LEARN_ON_OUTCOME;
        e.learn_at = i == 2 ? T0 + H : T0 + 100 * H;
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
        memcpy(ids[i], e.id, sizeof ids[i]);
    }
    assert_int_equal(rk_store_profile_get(s, "hana", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 4);
    assert_int_equal(p->successes + p->failures, 0);
    assert_int_equal(p->nitems[RK_PK_DEVICE], 0);
    assert_int_equal(rk_store_global_count(s, RK_PK_DEVICE, "held-pass", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 0);

    int learned = -1;
    assert_int_equal(rk_store_event_outcome(s, ids[0], "passed_challenge", 1, &learned, err, sizeof err), 0);
    assert_int_equal(learned, 1);
    assert_int_equal(rk_store_event_outcome(s, ids[0], "passed_challenge", 1, &learned, err, sizeof err), 0);
    assert_int_equal(learned, 0);                       /* settled already: learned once */
    assert_int_equal(rk_store_event_outcome(s, ids[1], "blocked", 0, &learned, err, sizeof err), 0);
    assert_int_equal(learned, 0);
    assert_int_equal(rk_store_event_outcome(s, "0123456789abcdef01234567", "blocked", 0, &learned, err, sizeof err),
                     RK_STORE_NOT_FOUND);

    int64_t n = -1;
    int due = -1;
    assert_int_equal(rk_store_events_due(s, T0 + H - 1, &due, err, sizeof err), 0);
    assert_int_equal(due, 0);
    assert_int_equal(rk_store_events_due(s, T0 + 2 * H, &due, err, sizeof err), 0);
    assert_int_equal(due, 1);
    assert_int_equal(rk_store_events_settle(s, T0 + 2 * H, 100, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);                             /* held-grace; held-late's grace runs on */
    assert_int_equal(rk_store_events_due(s, T0 + 2 * H, &due, err, sizeof err), 0);
    assert_int_equal(due, 0);
    assert_int_equal(rk_store_events_settle(s, T0 + 2 * H, 100, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);

    assert_int_equal(rk_store_profile_get(s, "hana", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 4);
    assert_int_equal(p->successes, 2);
    assert_int_equal(p->nitems[RK_PK_DEVICE], 2);
    for (int i = 0; i < p->nitems[RK_PK_DEVICE]; i++)
        assert_true(!strcmp(p->items[RK_PK_DEVICE][i].value, "held-pass") || !strcmp(p->items[RK_PK_DEVICE][i].value, "held-grace"));
    assert_int_equal(rk_store_global_count(s, RK_PK_DEVICE, "held-pass", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 1);
    assert_int_equal(rk_store_global_count(s, RK_PK_DEVICE, "held-block", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 0);

    rk_event_t back;
    assert_int_equal(rk_store_event_get(s, ids[1], &back, err, sizeof err), 0);
    assert_string_equal(back.outcome, "blocked");
    assert_int_equal(back.held, 0);
    rk_store_event_free(&back);
    assert_int_equal(rk_store_event_get(s, ids[3], &back, err, sizeof err), 0);
    assert_null(back.outcome);
    assert_int_equal(back.held, RK_LEARN_ON_GRACE);
    assert_true(back.learn_at == T0 + 100 * H);
    rk_store_event_free(&back);
    free(p);
    rk_store_close(s);
}

/* Profiles written before local hours (format 1) still read, with none. */
static void profile_format_1_still_decodes(void **st)
{
    (void)st;
    rk_profile_t *p = calloc(1, sizeof *p), *q = calloc(1, sizeof *q);
    p->attempts = 3; p->successes = 2; p->hours[7] = 2; p->weekdays[2] = 2; p->local_hours[8] = 2;
    p->risk_sum = 12.5; p->high_risk = 1;
    snprintf(p->items[RK_PK_DEVICE][0].value, 128, "laptop");
    p->items[RK_PK_DEVICE][0].count = 2;
    p->nitems[RK_PK_DEVICE] = 1;
    unsigned char v2[RK_PROFILE_MAX_BYTES], v1[RK_PROFILE_MAX_BYTES];
    size_t n = rk_profile_encode(p, v2, sizeof v2);
    assert_true(n > 0);
    assert_int_equal(rk_profile_decode(q, v2, n), 0);
    assert_memory_equal(q->local_hours, p->local_hours, sizeof p->local_hours);
    /* format 1: the same bytes without local_hours, which followed the
     * version, six counters, hours and weekdays */
    size_t at = 1 + 6 * 8 + sizeof p->hours + sizeof p->weekdays;
    memcpy(v1, v2, at);
    memcpy(v1 + at, v2 + at + sizeof p->local_hours, n - at - sizeof p->local_hours);
    v1[0] = 1;
    memset(q, 0xff, sizeof *q);
    assert_int_equal(rk_profile_decode(q, v1, n - sizeof p->local_hours), 0);
    for (int h = 0; h < 24; h++) assert_int_equal(q->local_hours[h], 0);
    assert_int_equal(q->hours[7], 2);
    assert_true(q->risk_sum == 12.5);
    assert_int_equal(q->high_risk, 1);
    assert_string_equal(q->items[RK_PK_DEVICE][0].value, "laptop");
    /* an unknown format, or a truncated one, is refused */
    v2[0] = 3;
    assert_int_equal(rk_profile_decode(q, v2, n), -1);
    v2[0] = 2;
    assert_int_equal(rk_profile_decode(q, v2, n - 1), -1);
    free(p);
    free(q);
}

static void alerts(void **st)
{
    (void)st;
    char err[512], id[RK_STORE_ID_LEN];
    rk_store_t *s = open_store();
    rk_event_t e1 = ev("vic", T0 + 10 * H, "203.0.113.9", 1, 85, "critical", 1);
    rk_event_t e2 = ev("vic", T0 + 10 * H + 60000, "203.0.113.9", 1, 65, "high", 1);
    assert_int_equal(rk_store_event_record(s, &e1, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_event_record(s, &e2, 1, err, sizeof err), 0);
    rk_alert_t a = { .user_id = "vic", .severity = "high", .cause = "new_country", .created_ms = T0 + 10 * H,
                     .doc = "{\"reasons\":[\"new country\"]}" };
    assert_int_equal(rk_store_alert_insert(s, &a, e2.id, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_find_open(s, "vic", "new_country", T0 + 9 * H, id, err, sizeof err), 0);
    assert_string_equal(id, a.id);
    assert_int_equal(rk_store_alert_find_open(s, "vic", "other", 0, id, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_alert_add_event(s, a.id, e1.id, "critical", T0 + 10 * H + 120000, err, sizeof err), 0);
    rk_event_t got;
    assert_int_equal(rk_store_event_get(s, e1.id, &got, err, sizeof err), 0);
    assert_string_equal(got.alert_id, a.id);
    rk_store_event_free(&got);
    assert_int_equal(rk_store_alert_set_status(s, a.id, "investigating", "ann", "looking", T0 + 11 * H, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_set_status(s, a.id, "bogus", "ann", NULL, T0 + 11 * H, err, sizeof err), -1);
    assert_int_equal(rk_store_alert_set_status(s, "nope", "open", "ann", NULL, T0, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_alert_detail_t d;
    assert_int_equal(rk_store_alert_get(s, a.id, &d, err, sizeof err), 0);
    assert_string_equal(d.alert.status, "investigating");
    assert_string_equal(d.alert.severity, "critical");   /* raised by the second event */
    assert_int_equal(d.alert.event_count, 2);
    assert_int_equal(d.nevents, 2);
    assert_int_equal(d.nhistory, 2);
    assert_string_equal(d.history[0].status, "open");
    assert_string_equal(d.history[1].who, "ann");
    assert_string_equal(d.history[1].note, "looking");
    assert_string_equal(d.alert.doc, "{\"reasons\":[\"new country\"]}");
    rk_store_alert_detail_free(&d);
    assert_int_equal(rk_store_alert_get(s, "nope", &d, err, sizeof err), RK_STORE_NOT_FOUND);
    /* Two more alerts; list filters and paging. */
    rk_alert_t b = { .user_id = "zed", .severity = "medium", .cause = "brute_force", .created_ms = T0 + 12 * H };
    rk_alert_t c = { .user_id = "vic", .severity = "high", .cause = "travel", .created_ms = T0 + 13 * H };
    assert_int_equal(rk_store_alert_insert(s, &b, NULL, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_insert(s, &c, NULL, err, sizeof err), 0);
    rk_alert_filter_t f = { .page = 1, .per_page = 2 };
    rk_alert_list_t l;
    assert_int_equal(rk_store_alert_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 3);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].id, c.id);   /* newest first */
    rk_store_alert_list_free(&l);
    rk_alert_filter_t f2 = { .status = "open", .user_id = "vic", .page = 1, .per_page = 10 };
    assert_int_equal(rk_store_alert_list(s, &f2, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 1);
    assert_string_equal(l.items[0].cause, "travel");
    rk_store_alert_list_free(&l);
    rk_alert_filter_t f3 = { .severity = "medium", .since_ms = T0 + 12 * H, .page = 1, .per_page = 10 };
    assert_int_equal(rk_store_alert_list(s, &f3, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 1);
    rk_store_alert_list_free(&l);
    f3.until_ms = T0 + 12 * H;                       /* a range that ends where it starts: none */
    assert_int_equal(rk_store_alert_list(s, &f3, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 0);
    rk_store_alert_list_free(&l);
    rk_store_close(s);
}

static void aggregates(void **st)
{
    (void)st;
    char err[512], ids[30][RK_STORE_ID_LEN];
    /* A fresh database so that the numbers are ours alone. */
    fresh_store();
    rk_store_t *s = open_store();
    fill(s, ids);
    rk_alert_t a = { .user_id = "u1", .severity = "high", .cause = "x", .created_ms = T0 + 2 * H };
    assert_int_equal(rk_store_alert_insert(s, &a, ids[0], err, sizeof err), 0);
    rk_stats_t stats;
    assert_int_equal(rk_store_stats(s, T0 + 5 * H + 1, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.attempts, 30);
    assert_int_equal(stats.all.failures, 10);
    assert_int_equal(stats.all.anomalies, 6);
    assert_true(fabs(stats.all.anomaly_rate - 0.2) < 1e-12);
    assert_int_equal(stats.all.by_level[0], 8);   /* i % 4 == 0: 0..28 */
    assert_int_equal(stats.all.by_level[3], 7);
    assert_int_equal(stats.all.distinct_users, 2);
    assert_int_equal(stats.all.distinct_ips, 2);
    assert_int_equal(stats.all.alerts_by_status[0], 1);
    assert_int_equal(stats.all.alerts_by_severity[2], 1);
    assert_int_equal(stats.last_24h.attempts, 30);
    /* A day later, nothing in the last 24 h but the totals stay. */
    assert_int_equal(rk_store_stats(s, T0 + 40 * H, &stats, err, sizeof err), 0);
    assert_int_equal(stats.last_24h.attempts, 0);
    assert_int_equal(stats.last_24h.distinct_users, 0);
    assert_int_equal(stats.all.attempts, 30);

    rk_bucket_t *b;
    size_t n;
    assert_int_equal(rk_store_timeline(s, T0 - H, T0 + 8 * H, H, &b, &n, err, sizeof err), 0);
    assert_int_equal(n, 9);
    assert_int_equal(b[0].attempts, 0);            /* every bucket present */
    assert_int_equal(b[1].attempts, 5);            /* i % 6 == 0 */
    assert_int_equal(b[3].alerts, 1);
    /* hour 0: i = 0, 6, 12, 18, 24: mean risk 3 * 12 = 36; failures: 0,6,12,18,24 all %3==0 */
    assert_true(fabs(b[1].mean_risk - 36.0) < 1e-9);
    assert_int_equal(b[1].failures, 5);
    assert_true(b[8].start_ms == T0 + 7 * H);
    free(b);
    assert_int_equal(rk_store_timeline(s, T0, T0 + 48 * H, 24 * H, &b, &n, err, sizeof err), 0);
    assert_int_equal(n, 2 + (T0 % (24 * H) != 0));
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) total += b[i].attempts;
    assert_int_equal(total, 30);
    free(b);
    assert_int_equal(rk_store_timeline(s, T0, T0, H, &b, &n, err, sizeof err), -1);

    rk_top_user_t *top;
    assert_int_equal(rk_store_top_users(s, 0, 10, &top, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(top[0].user_id, "u2");    /* max risk 87 (i = 29) */
    assert_true(top[0].max_risk == 87);
    assert_int_equal(top[0].attempts, 15);
    free(top);
    assert_int_equal(rk_store_top_users(s, T0 + 5 * H, 10, &top, &n, err, sizeof err), 0);
    /* hour 5: i % 6 == 5: 5, 11, 17, 23, 29 -> all u2 */
    assert_int_equal(n, 1);
    assert_true(top[0].max_risk == 87);
    assert_int_equal(top[0].attempts, 5);
    free(top);

    /* Retention: with 90 days, nothing goes; 200 days later all does. */
    int64_t del;
    assert_int_equal(rk_store_purge(s, T0 + 10 * H, 1000, &del, err, sizeof err), 0);
    assert_int_equal(del, 0);
    assert_int_equal(rk_store_purge(s, T0 + 200 * 24 * H, 7, &del, err, sizeof err), 0);
    assert_int_equal(del, 7);
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 100 };
    rk_event_list_t l;
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 23);
    assert_int_equal(l.n, 23);
    rk_store_event_list_free(&l);
    while (rk_store_purge(s, T0 + 200 * 24 * H, 7, &del, err, sizeof err) == 0 && del > 0) {}
    assert_int_equal(rk_store_stats(s, T0 + 5 * H, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.attempts, 30);       /* summaries outlive the events */
    assert_int_equal(stats.all.distinct_ips, 0);    /* addresses do not */
    rk_store_close(s);
}

/* Buckets across midnight and a month end, from one event each side. */
static void timeline_edges(void **st)
{
    (void)st;
    char err[512];
    fresh_store();
    rk_store_t *s = open_store();
    int64_t oct31_23h = 1698793200000LL;   /* 2023-10-31T23:00:00Z */
    rk_event_t a = ev("edge", oct31_23h + 30 * 60000, "192.0.2.1", 1, 10, "low", 0);   /* 23:30 */
    rk_event_t b = ev("edge", oct31_23h + 90 * 60000, "192.0.2.1", 0, 50, "medium", 1); /* 00:30 next day */
    assert_int_equal(rk_store_event_record(s, &a, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_event_record(s, &b, 1, err, sizeof err), 0);
    rk_bucket_t *k;
    size_t n;
    assert_int_equal(rk_store_timeline(s, oct31_23h - H, oct31_23h + 2 * H, H, &k, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_true(k[0].attempts == 0 && k[1].attempts == 1 && k[2].attempts == 1);
    assert_true(k[2].start_ms == oct31_23h + H && k[2].failures == 1 && k[2].anomalies == 1);
    assert_true(k[2].mean_risk == 50);
    free(k);
    /* By day: October 31 and November 1 are two buckets, one event each. */
    assert_int_equal(rk_store_timeline(s, oct31_23h - 23 * H, oct31_23h + 25 * H, 24 * H, &k, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_true(k[0].start_ms == oct31_23h - 23 * H && k[0].attempts == 1 && k[1].attempts == 1);
    assert_true(k[0].mean_risk == 10 && k[1].mean_risk == 50);
    free(k);
    /* One event's stats. */
    rk_stats_t stats;
    assert_int_equal(rk_store_stats(s, oct31_23h + 2 * H, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.attempts, 2);
    assert_int_equal(stats.last_24h.attempts, 2);
    assert_true(fabs(stats.all.anomaly_rate - 0.5) < 1e-12);
    rk_store_close(s);
}

/* The schema of a table as SQLite stores it (empty when there is none). */
static void table_sql(const char *t, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    out[0] = '\0';
    assert_int_equal(sqlite3_open(uri + 7, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st,
                                        NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, t, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Runs sql on the store's file over a connection of its own. */
static void exec_sql(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(uri + 7, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, 0, 0, &msg) != SQLITE_OK) fail_msg("%s", msg);
    sqlite3_close(db);
}

/* Whether the name that name starts with (up to a space) is a table of the store. */
static int is_table(const char *name)
{
    char t[128], sql[4096];
    size_t n = strcspn(name, " ");
    snprintf(t, sizeof t, "%.*s", (int)n, name);
    table_sql(t, sql, sizeof sql);
    return sql[0] != '\0';
}

static void no_full_scans(void **st)
{
    (void)st;
    rk_store_t *s = open_store();
    char *plans = malloc(1 << 20);
    assert_int_equal(rk_store_sqlite_plans(s, plans, 1 << 20), 0);
    int lines = 0;
    for (char *line = strtok(plans, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        const char *plan = strchr(line, '\t');
        assert_non_null(plan);
        /* "SCAN t" alone reads the whole table; "SCAN t USING ... INDEX" walks
         * an index in order and stops at the LIMIT, or scans a partial index;
         * a scan of what is not a table (a LIMITed subquery) reads its bounded result. */
        if (strncmp(plan + 1, "SCAN ", 5) == 0 && !strstr(plan, "INDEX") && !strstr(plan, "CONSTANT ROW") &&
            is_table(plan + 6))
            fail_msg("full scan: %s", line);
    }
    print_message("# %d plan steps checked\n", lines);
    assert_true(lines > 150);
    free(plans);
    rk_store_close(s);
}

/* A database of schema 2 (user_hourly keyed by user, profiles_last, no
 * users counter) is brought to the current schema at open, keeping its
 * figures. The old shape is made from a current database by hand. */
static void migration_from_schema_2(void **st)
{
    (void)st;
    fresh_store();
    rk_store_t *s = open_store();
    char err[512];
    for (int i = 0; i < 30; i++) {
        char user[16];
        snprintf(user, sizeof user, "mig%d", i % 3);
        rk_event_t e = ev(user, T0 + i * 60000, "192.0.2.1", 1, 10.0 * (i % 3), "low", 0);
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    }
    rk_store_close(s);
    const char *old =
        "BEGIN;"
        "CREATE TABLE uh(user_id TEXT NOT NULL, bucket INTEGER NOT NULL, attempts INTEGER NOT NULL,"
        "  risk_sum REAL NOT NULL, max_risk REAL NOT NULL, anomalies INTEGER NOT NULL, high INTEGER NOT NULL,"
        "  PRIMARY KEY(user_id, bucket)) WITHOUT ROWID;"
        "INSERT INTO uh SELECT user_id, bucket, attempts, risk_sum, max_risk, anomalies, high FROM user_hourly;"
        "DROP TABLE user_hourly; ALTER TABLE uh RENAME TO user_hourly;"
        "CREATE INDEX user_hourly_bucket ON user_hourly(bucket, user_id, max_risk, risk_sum, attempts, anomalies, high);"
        "CREATE INDEX profiles_last ON profiles(last_ms);"
        "DELETE FROM meta WHERE key = 'users';"
        "DROP TABLE phishing;"   /* schema 4's */
        "DROP INDEX events_held; ALTER TABLE events DROP COLUMN held;"   /* schema 5's */
        "ALTER TABLE events DROP COLUMN learn_at; ALTER TABLE events DROP COLUMN outcome;"
        "DROP TABLE api_keys;"   /* schema 6's */
        "DROP TABLE user_states;"   /* schema 7's */
        "DROP TABLE outbox;"   /* schema 8's */
        "UPDATE meta SET value = '2' WHERE key = 'schema_version';"
        "COMMIT;";
    exec_sql(old);
    s = open_store();
    rk_stats_t stats;
    assert_int_equal(rk_store_stats(s, T0 + 3600000, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.distinct_users, 3);
    assert_int_equal(stats.last_24h.distinct_users, 3);
    assert_int_equal(stats.all.attempts, 30);
    rk_top_user_t *top;
    size_t n;
    assert_int_equal(rk_store_top_users(s, T0, 10, &top, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(top[0].user_id, "mig2");
    assert_int_equal(top[0].attempts, 10);
    free(top);
    /* New users after the migration are counted on. */
    rk_event_t e = ev("mig-new", T0 + 10, "192.0.2.1", 1, 1, "low", 0);
    assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_stats(s, T0 + 3600000, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.distinct_users, 4);
    rk_store_close(s);
}

/* A database of schema 8 (events and profiles WITHOUT ROWID, whose large
 * rows spill to overflow pages) becomes rowid tables at open, keeping every
 * event, profile and answer; the old shape is made from a current database. */
static void migration_to_rowid_tables(void **st)
{
    (void)st;
    fresh_store();
    rk_store_t *s = open_store();
    char err[512], ids[30][RK_STORE_ID_LEN], sql[2048];
    fill(s, ids);
    rk_store_close(s);
    const char *old =
        "BEGIN;"
        "CREATE TABLE e8(id TEXT PRIMARY KEY, user_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
        "  ip TEXT NOT NULL, success INTEGER NOT NULL, risk_score REAL NOT NULL, risk_level TEXT NOT NULL,"
        "  is_anomaly INTEGER NOT NULL, anomaly_score REAL, action TEXT, country TEXT, city TEXT,"
        "  has_geo INTEGER NOT NULL DEFAULT 0, lat REAL, lon REAL, device_id TEXT, user_agent TEXT,"
        "  asn TEXT, ip_prefix TEXT, alert_id TEXT, doc TEXT, held INTEGER NOT NULL DEFAULT 0, learn_at INTEGER,"
        "  outcome TEXT) WITHOUT ROWID;"
        "INSERT INTO e8 SELECT * FROM events; DROP TABLE events; ALTER TABLE e8 RENAME TO events;"
        "CREATE INDEX events_ts ON events(ts_ms); CREATE INDEX events_user_ts ON events(user_id, ts_ms);"
        "CREATE INDEX events_ip_ts ON events(ip, ts_ms); CREATE INDEX events_level_ts ON events(risk_level, ts_ms);"
        "CREATE INDEX events_anomaly_ts ON events(ts_ms) WHERE is_anomaly = 1;"
        "CREATE INDEX events_risk ON events(risk_score); CREATE INDEX events_held ON events(learn_at) WHERE held = 1;"
        "CREATE TABLE p8(user_id TEXT PRIMARY KEY, last_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,"
        "  anomalies INTEGER NOT NULL, risk_sum REAL NOT NULL, max_risk REAL NOT NULL, high INTEGER NOT NULL,"
        "  data BLOB NOT NULL) WITHOUT ROWID;"
        "INSERT INTO p8 SELECT * FROM profiles; DROP TABLE profiles; ALTER TABLE p8 RENAME TO profiles;"
        "CREATE INDEX profiles_risk ON profiles(max_risk);"
        "UPDATE meta SET value = '8' WHERE key = 'schema_version';"
        "COMMIT;";
    exec_sql(old);
    table_sql("events", sql, sizeof sql);
    assert_non_null(strstr(sql, "WITHOUT ROWID"));   /* the old shape, really */

    s = open_store();
    table_sql("events", sql, sizeof sql);
    assert_null(strstr(sql, "WITHOUT ROWID"));
    table_sql("profiles", sql, sizeof sql);
    assert_null(strstr(sql, "WITHOUT ROWID"));
    rk_event_t got;
    assert_int_equal(rk_store_event_get(s, ids[7], &got, err, sizeof err), 0);
    assert_string_equal(got.user_id, "u2");
    assert_string_equal(got.doc, "{\"reasons\":[\"new device\"]}");
    rk_store_event_free(&got);
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 50 };
    rk_event_list_t l;
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 30);
    rk_store_event_list_free(&l);
    rk_profile_t *p = calloc(1, sizeof *p);
    assert_int_equal(rk_store_profile_get(s, "u2", p, err, sizeof err), 0);
    int64_t attempts = p->attempts;
    assert_true(attempts > 0);
    /* Writes go on: a new event, and the profile's upsert on its unique key. */
    rk_event_t e = ev("u2", T0 + 5 * H, "192.0.2.1", 1, 1, "low", 0);
    assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(s, "u2", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, attempts + 1);
    assert_int_equal(rk_store_event_get(s, e.id, &got, err, sizeof err), 0);
    rk_store_event_free(&got);
    free(p);
    rk_store_close(s);
}

/* Inside a batch a reader on the same connection sees the batch's writes,
 * counters included (they are added up in memory until the commit). */
static void batch_reads_its_own_writes(void **st)
{
    (void)st;
    fresh_store();
    rk_store_t *s = open_store();
    char err[512];
    assert_int_equal(rk_store_batch_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        rk_event_t e = ev(i == 2 ? "bat2" : "bat1", T0 + i, "198.51.100.1", 1, 5, "low", 0);
        e.country = "PT";
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    }
    const char *vals[RK_PK_COUNT] = { NULL, "PT", NULL, NULL, NULL };
    rk_global_count_t g[RK_PK_COUNT];
    assert_int_equal(rk_store_global_counts(s, vals, g, err, sizeof err), 0);
    assert_int_equal(g[RK_PK_COUNTRY].count, 3);
    assert_int_equal(g[RK_PK_COUNTRY].total, 3);
    assert_int_equal(g[RK_PK_COUNTRY].distinct, 1);
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 10 };
    rk_event_list_t l;
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.total, 3);
    assert_int_equal(l.n, 3);
    rk_store_event_list_free(&l);
    rk_stats_t stats;
    assert_int_equal(rk_store_stats(s, T0 + 10, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.distinct_users, 2);
    assert_int_equal(rk_store_batch_end(s, err, sizeof err), 0);
    /* and after the commit, from the counters themselves */
    assert_int_equal(rk_store_global_counts(s, vals, g, err, sizeof err), 0);
    assert_int_equal(g[RK_PK_COUNTRY].total, 3);
    assert_int_equal(rk_store_stats(s, T0 + 10, &stats, err, sizeof err), 0);
    assert_int_equal(stats.all.distinct_users, 2);
    rk_store_close(s);
}

/* With manual checkpoints (the server's writer): commits leave the WAL to
 * the checkpointer; a checkpoint says how many pages the WAL held, so that
 * the writer's checkpointer can tell whether another passive round is worth
 * it; and a restart lets the next commit write the WAL from its start. */
static void checkpoints_report_the_wal(void **st)
{
    (void)st;
    fresh_store();
    char err[512];
    rk_store_opts_t o;
    rk_store_defaults(&o);
    o.manual_checkpoint = 1;
    rk_store_t *s = rk_store_open(uri, &o, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < 50; i++) {
        char user[16];
        snprintf(user, sizeof user, "wal%d", i);
        rk_event_t e = ev(user, T0 + i, "198.51.100.7", 1, 5, "low", 0);
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    }
    int pages = rk_store_wal_pages(s), frames = -1;
    assert_true(pages > 50);   /* 50 commits, each several pages: nothing checkpointed them */
    assert_int_equal(rk_store_checkpoint(s, 0, &frames, err, sizeof err), 0);
    assert_int_equal(frames, pages);
    assert_int_equal(rk_store_checkpoint(s, 0, NULL, err, sizeof err), 0);   /* frames may be NULL */
    assert_int_equal(rk_store_checkpoint(s, 1, &frames, err, sizeof err), 0);
    rk_event_t e = ev("wal-after", T0 + 100, "198.51.100.7", 1, 5, "low", 0);
    assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_checkpoint(s, 0, &frames, err, sizeof err), 0);
    assert_true(frames > 0 && frames < pages / 10);   /* the WAL started over */
    rk_store_close(s);
}

typedef struct { int n; int ok; } thr_arg_t;

static void *writer(void *p)
{
    thr_arg_t *a = p;
    char err[512];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    a->ok = s != NULL;
    for (int i = 0; s && i < a->n; i++) {
        rk_event_t e = ev("shared", T0 + i, "198.51.100.9", 1, 1, "low", 0);
        if (rk_store_event_record(s, &e, 1, err, sizeof err) != 0) { a->ok = 0; break; }
    }
    rk_store_close(s);
    return NULL;
}

static void concurrent_profile_updates_lose_nothing(void **st)
{
    (void)st;
    char err[512];
    pthread_t th[2];
    thr_arg_t args[2] = { { 400, 0 }, { 400, 0 } };
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, writer, &args[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_true(args[0].ok && args[1].ok);
    rk_store_t *s = open_store();
    rk_profile_t *p = malloc(sizeof *p);
    assert_int_equal(rk_store_profile_get(s, "shared", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 800);
    free(p);
    rk_store_close(s);
}

static void kill_9_loses_nothing_acknowledged(void **st)
{
    (void)st;
    char err[512];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child records events and acknowledges each id on the pipe
         * only after the store returned, as the API answers the client. */
        close(fds[0]);
        rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
        for (int i = 0; s; i++) {
            rk_event_t e = ev("k9", T0 + i, "192.0.2.1", 1, 1, "low", 0);
            if (rk_store_event_record(s, &e, 1, err, sizeof err) != 0) _exit(1);
            if (write(fds[1], e.id, RK_STORE_ID_LEN) != RK_STORE_ID_LEN) _exit(1);
        }
        _exit(1);
    }
    close(fds[1]);
    char (*acked)[RK_STORE_ID_LEN] = malloc(100000 * RK_STORE_ID_LEN);
    size_t n = 0;
    while (n < 300) {
        if (read(fds[0], acked[n], RK_STORE_ID_LEN) != RK_STORE_ID_LEN) break;
        n++;
    }
    kill(pid, SIGKILL);
    while (n < 100000 && read(fds[0], acked[n], RK_STORE_ID_LEN) == RK_STORE_ID_LEN) n++;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    assert_true(n >= 300);
    rk_store_t *s = open_store();
    for (size_t i = 0; i < n; i++) {
        rk_event_t got;
        if (rk_store_event_get(s, acked[i], &got, err, sizeof err) != 0) fail_msg("acknowledged event %s lost", acked[i]);
        rk_store_event_free(&got);
    }
    print_message("# %zu acknowledged events all present after kill -9\n", n);
    free(acked);
    rk_store_close(s);
}

/* The summaries as text: every row of the tables the writer sums, and the
 * counters beside them, read from path over a connection of its own. */
static void summaries_text(const char *path, char *out, size_t cap)
{
    static const char *const q[] = {
        "SELECT group_concat(x, ';') FROM (SELECT bucket || ',' || attempts || ',' || failures || ',' || anomalies || ','"
        " || risk_sum || ',' || low || ',' || medium || ',' || high || ',' || critical || ',' || alerts AS x"
        " FROM hourly ORDER BY bucket)",
        "SELECT group_concat(x, ';') FROM (SELECT bucket || ',' || user_id || ',' || attempts || ',' || risk_sum || ','"
        " || max_risk || ',' || anomalies || ',' || high AS x FROM user_hourly ORDER BY bucket, user_id)",
        "SELECT group_concat(x, ';') FROM (SELECT ip || ',' || last_ms AS x FROM ips ORDER BY ip)",
        "SELECT group_concat(x, ';') FROM (SELECT kind || ',' || value || ',' || count AS x FROM value_counts"
        " ORDER BY kind, value)",
        "SELECT group_concat(x, ';') FROM (SELECT key || '=' || value AS x FROM meta"
        " WHERE key IN ('events', 'ips', 'users') OR key LIKE 'vc:%' ORDER BY key)",
    };
    sqlite3 *db;
    size_t used = 0;
    out[0] = '\0';
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, q[i], -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        const unsigned char *t = sqlite3_column_text(st, 0);
        used += (size_t)snprintf(out + used, cap - used, "%s\n", t ? (const char *)t : "");
        sqlite3_finalize(st);
    }
    assert_true(used < cap - 1);
    sqlite3_close(db);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

/* One step of the scripted traffic below, on s (in batches when batched). */
static void sums_traffic(rk_store_t *s, int batched)
{
    char err[512], ids[60][RK_STORE_ID_LEN];
    static const char *const countries[] = { "PT", "FR", "JP" };
    static const char *const ips[] = { "192.0.2.1", "192.0.2.2", "198.51.100.7", "203.0.113.9", "192.0.2.1" };
    char devs[60][16];
    for (int part = 0; part < 3; part++) {
        if (batched) assert_int_equal(rk_store_batch_begin(s, err, sizeof err), 0);
        for (int i = part * 20; i < part * 20 + 20; i++) {
            if (i == part * 20 + 12) {
                /* Outcomes of this part's held attempts, and of an earlier
                 * part's: a passed challenge learned, a blocked one dropped. */
                int learned;
                for (int j = 4; j < i; j += 10) {
                    assert_int_equal(rk_store_event_outcome(s, ids[j], "passed_challenge", 1, &learned, err, sizeof err), 0);
                    if (j + 5 < i) assert_int_equal(rk_store_event_outcome(s, ids[j + 5], "blocked", 0, &learned, err, sizeof err), 0);
                }
                int64_t n = 0;
                assert_int_equal(rk_store_events_settle(s, T0 + (part * 20 + 10) * 60000, 100, &n, err, sizeof err), 0);
            }
            rk_event_t e = ev((const char *[]){ "su0", "su1", "su2", "su3" }[i % 4], T0 + i * 60000, ips[i % 5], i % 6 != 0,
                              (double)(i * 7 % 100), (const char *[]){ "low", "medium", "high", "critical" }[i * 7 % 100 / 25],
                              i % 9 == 0);
            snprintf(devs[i], sizeof devs[i], "dev-%d", i % 7);
            e.device_id = devs[i];
            e.country = countries[i % 3];
            if (i % 5 == 3) { e.held = RK_LEARN_ON_GRACE; e.learn_at = T0 + i * 60000 + 10 * 60000; }
            if (i % 5 == 4) e.held = RK_LEARN_ON_OUTCOME;
            assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
            memcpy(ids[i], e.id, sizeof ids[i]);
        }
        if (batched) assert_int_equal(rk_store_batch_end(s, err, sizeof err), 0);
    }
}

/* A server's writer sums the summaries in memory and writes each key once
 * (summary_ms): until then a reader's handle says they are unwritten, and
 * rk_store_sync writes them; what a crash leaves unwritten, the next owner
 * replays from the events. Either way the tables hold what writing every
 * event at once would have. */
static void summed_summaries_survive_a_crash(void **st)
{
    (void)st;
    char err[512], path_ref[1300], path_b[1300], path_c[1300], wal_b[1310], wal_c[1310];
    size_t cap = 1 << 16;
    char *want = malloc(cap), *got = malloc(cap);

    fresh_store();
    snprintf(path_ref, sizeof path_ref, "%s", uri + 7);
    rk_store_t *ref = open_store();
    sums_traffic(ref, 0);
    rk_store_close(ref);
    summaries_text(path_ref, want, cap);
    assert_non_null(strstr(want, "dev-"));

    fresh_store();
    snprintf(path_b, sizeof path_b, "%s", uri + 7);
    rk_live_t *lv = rk_live_new(NULL);
    rk_store_opts_t o;
    rk_store_defaults(&o);
    o.live = lv;
    o.live_owner = 1;
    o.summary_ms = 600000;
    rk_store_t *b = rk_store_open(uri, &o, err, sizeof err);
    assert_non_null(b);
    rk_store_opts_t ro;
    rk_store_defaults(&ro);
    ro.live = lv;
    rk_store_t *reader = rk_store_open(uri, &ro, err, sizeof err);
    assert_non_null(reader);
    assert_int_equal(rk_store_unflushed(reader), 0);
    sums_traffic(b, 1);
    assert_int_equal(rk_store_unflushed(b), 1);
    assert_int_equal(rk_store_unflushed(reader), 1);
    summaries_text(path_b, got, cap);
    assert_string_not_equal(got, want);     /* not written yet */

    /* kill -9 now: the files as they are */
    snprintf(path_c, sizeof path_c, "%s/crashed.db", dir);
    snprintf(wal_b, sizeof wal_b, "%s-wal", path_b);
    snprintf(wal_c, sizeof wal_c, "%s-wal", path_c);
    copy_file(path_b, path_c);
    copy_file(wal_b, wal_c);

    assert_int_equal(rk_store_sync(b, err, sizeof err), 0);
    assert_int_equal(rk_store_unflushed(b), 0);
    assert_int_equal(rk_store_unflushed(reader), 0);
    summaries_text(path_b, got, cap);
    assert_string_equal(got, want);
    rk_store_close(reader);
    rk_store_close(b);
    rk_live_free(lv);

    char curi[1310];
    snprintf(curi, sizeof curi, "sqlite:%s", path_c);
    rk_store_opts_t co;
    rk_store_defaults(&co);
    co.live_owner = 1;
    co.summary_ms = 600000;
    rk_store_t *c = rk_store_open(curi, &co, err, sizeof err);
    if (!c) fail_msg("reopen after the crash: %s", err);
    summaries_text(path_c, got, cap);
    assert_string_equal(got, want);         /* replayed, exactly once */
    rk_store_close(c);
    c = rk_store_open(curi, &co, err, sizeof err);
    assert_non_null(c);
    rk_store_close(c);
    summaries_text(path_c, got, cap);
    assert_string_equal(got, want);         /* and not again */
    free(want);
    free(got);
}

/* Every committed change to an account or a key moves the accounts'
 * generation as every other handle on the file sees it (another process
 * maps the same counter); reads and failed changes do not. */
static void accounts_generation_moves_with_every_change(void **st)
{
    (void)st;
    char err[512];
    fresh_store();
    rk_store_t *a = open_store(), *b = open_store();
    uint64_t g0, g;
    assert_int_equal(rk_store_accounts_generation(b, &g0), 1);
    rk_user_t u = { .username = "gen", .role = "analyst", .password_hash = "h1" };
    assert_int_equal(rk_store_user_create(a, &u, err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(b, &g), 1);
    assert_true(g != g0);
    g0 = g;
    rk_user_t got;
    assert_int_equal(rk_store_user_get(a, "gen", &got, err, sizeof err), 0);
    rk_store_user_free(&got);
    assert_int_equal(rk_store_user_set_password(a, "nobody", "h", err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_accounts_generation(b, &g), 1);
    assert_true(g == g0);                    /* a read, a change that found nothing */
    assert_int_equal(rk_store_user_set_password(a, "gen", "h2", err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(b, &g), 1);
    assert_true(g != g0);
    g0 = g;
    rk_apikey_t k = { .id = "genkey0123456789", .name = "gen-svc", .role = "service", .hash = "x" };
    assert_int_equal(rk_store_key_create(a, &k, err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(b, &g), 1);
    assert_true(g != g0);
    g0 = g;
    assert_int_equal(rk_store_key_touch(a, "genkey0123456789", T0, err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(b, &g), 1);
    assert_true(g == g0);                    /* a key's last use is not a change of it */
    assert_int_equal(rk_store_key_revoke(a, "gen-svc", T0, err, sizeof err), 0);
    assert_int_equal(rk_store_user_delete(b, "gen", err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(a, &g), 1);
    assert_true(g == g0 + 2);
    rk_store_close(a);
    rk_store_close(b);
    /* Where the counter cannot be had, account changes are refused (a
     * running server would keep a deleted account in its cache), reads go on. */
    fresh_store();
    char side[1300];
    snprintf(side, sizeof side, "%s-accounts", uri + 7);
    assert_int_equal(mkdir(side, 0700), 0);
    a = open_store();
    assert_int_equal(rk_store_accounts_generation(a, &g), 0);
    rk_user_t v = { .username = "nogen", .role = "analyst", .password_hash = "h" };
    assert_int_equal(rk_store_user_create(a, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "-accounts"));
    assert_int_equal(rk_store_user_get(a, "nogen", &got, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_store_close(a);
}

/* An in-memory database has no file beside it (no ":memory:-accounts" in
 * the working directory), and its account changes still count. */
static void in_memory_store_keeps_no_accounts_file(void **st)
{
    (void)st;
    char err[512];
    unlink(":memory:-accounts");
    rk_store_t *m = rk_store_open("sqlite::memory:", NULL, err, sizeof err);
    assert_non_null(m);
    uint64_t g0, g;
    assert_int_equal(rk_store_accounts_generation(m, &g0), 1);
    rk_user_t u = { .username = "mem", .role = "analyst", .password_hash = "h1" };
    assert_int_equal(rk_store_user_create(m, &u, err, sizeof err), 0);
    assert_int_equal(rk_store_accounts_generation(m, &g), 1);
    assert_true(g != g0);
    rk_store_close(m);
    assert_int_equal(access(":memory:-accounts", F_OK), -1);
}

static void bad_uris(void **st)
{
    (void)st;
    char err[512];
    assert_null(rk_store_open("postgres://x", NULL, err, sizeof err));
    assert_non_null(strstr(err, "unknown store"));
    assert_null(rk_store_open("sqlite:/nonexistent/dir/x.db", NULL, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_display),
        cmocka_unit_test(api_key_format),
        cmocka_unit_test(api_keys),
        cmocka_unit_test(outbox),
        cmocka_unit_test(users),
        cmocka_unit_test(events_and_filters),
        cmocka_unit_test(profiles),
        cmocka_unit_test(held_successes_learn_once_settled),
        cmocka_unit_test(profile_format_1_still_decodes),
        cmocka_unit_test(alerts),
        cmocka_unit_test(aggregates),
        cmocka_unit_test(timeline_edges),
        cmocka_unit_test(no_full_scans),
        cmocka_unit_test(migration_from_schema_2),
        cmocka_unit_test(migration_to_rowid_tables),
        cmocka_unit_test(batch_reads_its_own_writes),
        cmocka_unit_test(checkpoints_report_the_wal),
        cmocka_unit_test(concurrent_profile_updates_lose_nothing),
        cmocka_unit_test(kill_9_loses_nothing_acknowledged),
        cmocka_unit_test(summed_summaries_survive_a_crash),
        cmocka_unit_test(accounts_generation_moves_with_every_change),
        cmocka_unit_test(in_memory_store_keeps_no_accounts_file),
        cmocka_unit_test(bad_uris),
        cmocka_unit_test(user_states),   /* last: its events would count in the others' totals */
    };
    int rc = cmocka_run_group_tests_name("store (sqlite)", tests, setup, teardown);
    if (!getenv("MONGODB_URI")) {
        print_message("# store contract on MongoDB: skipped (MONGODB_URI not set); "
                      "tests/e2e/test_store_mongo_wire.py checks the backend's commands against MockupDB\n");
        return rc;
    }
    /* The same contract on a real deployment (SQLite-only checks left out:
     * query plans, the file after kill -9, paths). */
    on_mongo = 1;
    const struct CMUnitTest mongo_tests[] = {
        cmocka_unit_test(users),
        cmocka_unit_test(events_and_filters),
        cmocka_unit_test(profiles),
        cmocka_unit_test(held_successes_learn_once_settled),
        cmocka_unit_test(alerts),
        cmocka_unit_test(aggregates),
        cmocka_unit_test(timeline_edges),
        cmocka_unit_test(concurrent_profile_updates_lose_nothing),
    };
    return rc | cmocka_run_group_tests_name("store (mongodb)", mongo_tests, setup, teardown);
}
