/* test_store_live.c — the analysis's state in memory (store_live.h): on its own (the
 * recent counts against a naive count, the horizon, the bounds and what
 * they may evict), and in the SQLite store, where every read through it
 * must give what SQLite alone gives on the same events: held successes
 * settled, outcomes, analysts' states, a purge and other connections'
 * writes included. */
#include <pthread.h>
#include <sqlite3.h>

#include "test_util.h"
#include "store_live.h"
#include "store_impl.h"
#include "store_reads.h"

#define H 3600000LL
#define T0 (1700000000000LL / H * H)

typedef struct { char user[8], ip[16]; int64_t ts; int success; } ev_t;

static void naive(const ev_t *ev, int n, const char *user, const char *ip, int64_t since, int64_t *uf, int64_t *iu)
{
    *uf = 0;
    *iu = 0;
    char seen[64][8];
    int nseen = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].ts < since) continue;
        if (!ev[i].success && strcmp(ev[i].user, user) == 0) (*uf)++;
        if (strcmp(ev[i].ip, ip) != 0) continue;
        int j = 0;
        while (j < nseen && strcmp(seen[j], ev[i].user) != 0) j++;
        if (j == nseen) { snprintf(seen[nseen++], 8, "%s", ev[i].user); (*iu)++; }
    }
}

/* Out-of-order times; every answer it gives is the naive count, and it
 * answers whenever since is at or after the horizon. */
static void recent_counts(void **st)
{
    (void)st;
    rk_live_t *lv = rk_live_new(NULL);
    int64_t uf, iu, nuf, niu;
    assert_int_equal(rk_live_recent(lv, "u", "ip", T0, &uf, &iu), 0);   /* not started: says nothing */
    rk_live_start(lv, INT64_MIN);
    static ev_t ev[2000];
    int64_t t = T0;
    for (int i = 0; i < 2000; i++) {
        snprintf(ev[i].user, sizeof ev[i].user, "u%u", next(10));
        snprintf(ev[i].ip, sizeof ev[i].ip, "10.0.0.%u", next(6));
        t += 60000LL * next(5);
        ev[i].ts = next(8) == 0 ? t - 60000LL * next(90) : t;
        ev[i].success = next(3) != 0;
        rk_live_note(lv, ev[i].user, ev[i].ip, ev[i].ts, ev[i].success);
        char u[8], ip[16];
        snprintf(u, sizeof u, "u%u", next(11));
        snprintf(ip, sizeof ip, "10.0.0.%u", next(7));
        int64_t since = ev[i].ts - H + 60000LL * (int64_t)next(3);
        assert_int_equal(rk_live_recent(lv, u, ip, since, &uf, &iu), 1);
        naive(ev, i + 1, u, ip, since, &nuf, &niu);
        assert_int_equal(uf, nuf);
        assert_int_equal(iu, niu);
    }
    /* a raised horizon: earlier since goes elsewhere, later is still right */
    rk_live_raise_horizon(lv, t - H / 2);
    rk_live_raise_horizon(lv, T0);   /* never lowered */
    assert_int_equal(rk_live_recent(lv, "u1", "10.0.0.1", t - H, &uf, &iu), 0);
    assert_int_equal(rk_live_recent(lv, "u1", "10.0.0.1", t - H / 4, &uf, &iu), 1);
    naive(ev, 2000, "u1", "10.0.0.1", t - H / 4, &nuf, &niu);
    assert_int_equal(uf, nuf);
    assert_int_equal(iu, niu);
    rk_live_stats_t s;
    rk_live_stats(lv, &s);
    assert_true(s.hits >= 2000 && s.misses >= 2);
    assert_int_equal(s.horizon, t - H / 2);
    rk_live_off(lv);
    assert_int_equal(rk_live_recent(lv, "u1", "10.0.0.1", t, &uf, &iu), 0);
    rk_live_free(lv);
}

/* Past its bound the window drops its oldest half and raises the horizon:
 * still never a wrong answer, and memory stays near the bound. */
static void bounded_window(void **st)
{
    (void)st;
    rk_live_limits_t lim;
    rk_live_default_limits(&lim);
    lim.window_entries = 200;
    rk_live_t *lv = rk_live_new(&lim);
    rk_live_start(lv, INT64_MIN);
    static ev_t ev[3000];
    int answered = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(ev[i].user, sizeof ev[i].user, "u%u", next(40));
        snprintf(ev[i].ip, sizeof ev[i].ip, "10.0.0.%u", next(30));
        ev[i].ts = T0 + 60000LL * i;
        ev[i].success = next(2);
        rk_live_note(lv, ev[i].user, ev[i].ip, ev[i].ts, ev[i].success);
        int64_t uf, iu, nuf, niu, since = ev[i].ts - 60000LL * next(400);
        if (!rk_live_recent(lv, ev[i].user, ev[i].ip, since, &uf, &iu)) continue;
        answered++;
        naive(ev, i + 1, ev[i].user, ev[i].ip, since, &nuf, &niu);
        assert_int_equal(uf, nuf);
        assert_int_equal(iu, niu);
    }
    rk_live_stats_t s;
    rk_live_stats(lv, &s);
    assert_true(s.window_entries <= 200);
    assert_true(s.horizon > T0);
    assert_true(answered > 500);   /* the recent part still answers */
    rk_live_free(lv);
}

static void put_profile(rk_live_t *lv, const char *user, int64_t attempts)
{
    static rk_profile_t p;
    static unsigned char buf[RK_PROFILE_MAX_BYTES];
    rk_profile_reset(&p);
    snprintf(p.user_id, sizeof p.user_id, "%s", user);
    p.attempts = attempts;
    rk_live_profile_put(lv, &p, buf, rk_profile_encode(&p, buf, sizeof buf));
}

/* Profiles and value counts: what the owner put is read back; past the
 * bound only what a finished transaction put is evicted. */
static void profiles_and_values(void **st)
{
    (void)st;
    rk_live_limits_t lim;
    rk_live_default_limits(&lim);
    lim.profile_bytes = 16 * 2000;   /* a few small profiles per shard */
    lim.values = 16 * 4;
    rk_live_t *lv = rk_live_new(&lim);
    rk_live_start(lv, INT64_MIN);
    static rk_profile_t out;
    assert_int_equal(rk_live_profile_get(lv, "ann", &out), 0);
    rk_live_write_begin(lv);
    for (int i = 0; i < 400; i++) {
        char u[16];
        snprintf(u, sizeof u, "user%d", i);
        put_profile(lv, u, i + 1);
        rk_live_value_put(lv, RK_PK_DEVICE, u, i + 1);
    }
    /* nothing finished yet: nothing may go */
    rk_live_stats_t s;
    rk_live_stats(lv, &s);
    assert_int_equal(s.profiles, 400);
    assert_int_equal(s.values, 400);
    for (int i = 0; i < 400; i++) {
        char u[16];
        snprintf(u, sizeof u, "user%d", i);
        assert_int_equal(rk_live_profile_get(lv, u, &out), 1);
        assert_int_equal(out.attempts, i + 1);
        assert_string_equal(out.user_id, u);
        int64_t c;
        assert_int_equal(rk_live_value_get(lv, RK_PK_DEVICE, u, &c), 1);
        assert_int_equal(c, i + 1);
        assert_int_equal(rk_live_value_get(lv, RK_PK_COUNTRY, u, &c), 0);
    }
    rk_live_write_done(lv);   /* finished: now past the bounds, evicted */
    rk_live_stats(lv, &s);
    assert_true(s.profile_bytes <= lim.profile_bytes);
    assert_true(s.profiles > 0);
    assert_true(s.values <= lim.values && s.values > 0);
    rk_live_write_begin(lv);
    put_profile(lv, "late", 7);
    rk_live_value_put(lv, RK_PK_DEVICE, "late", 7);
    rk_live_write_done(lv);
    rk_live_write_begin(lv);
    assert_int_equal(rk_live_profile_get(lv, "late", &out), 1);   /* the unfinished one stays */
    int64_t c;
    assert_int_equal(rk_live_value_get(lv, RK_PK_DEVICE, "late", &c), 1);
    /* an analyst's word is read with the profile; a drop forgets it */
    rk_live_state(lv, "late", "at_risk", "ana", 5);
    assert_int_equal(rk_live_profile_get(lv, "late", &out), 1);
    assert_string_equal(out.state, "at_risk");
    assert_string_equal(out.state_by, "ana");
    put_profile(lv, "late", 8);   /* a later write of the profile keeps it */
    assert_int_equal(rk_live_profile_get(lv, "late", &out), 1);
    assert_int_equal(out.attempts, 8);
    assert_string_equal(out.state, "at_risk");
    rk_live_state(lv, "late", NULL, NULL, 0);
    assert_int_equal(rk_live_profile_get(lv, "late", &out), 1);
    assert_string_equal(out.state, "");
    rk_live_profile_drop(lv, "late");
    rk_live_value_drop(lv, RK_PK_DEVICE, "late");
    assert_int_equal(rk_live_profile_get(lv, "late", &out), 0);
    assert_int_equal(rk_live_value_get(lv, RK_PK_DEVICE, "late", &c), 0);
    /* totals: unknown until set, then added to */
    int64_t t[RK_PK_COUNT], d[RK_PK_COUNT], z[RK_PK_COUNT] = { 0 };
    rk_live_totals_add(lv, 0, 1, 1);
    assert_int_equal(rk_live_totals(lv, t, d), 0);
    rk_live_totals_set(lv, z, z);
    rk_live_totals_add(lv, 0, 2, 1);
    assert_int_equal(rk_live_totals(lv, t, d), 1);
    assert_int_equal(t[0], 2);
    assert_int_equal(d[0], 1);
    rk_live_off(lv);
    assert_int_equal(rk_live_totals(lv, t, d), 0);
    assert_int_equal(rk_live_profile_get(lv, "user399", &out), 0);
    rk_live_free(lv);
}

/* Workers read while the writer notes and puts (TSan/ASan find the races). */
static rk_live_t *shared;
static void *reader(void *arg)
{
    (void)arg;
    static __thread rk_profile_t p;
    for (int i = 0; i < 20000; i++) {
        int64_t uf, iu, c;
        char u[16];
        snprintf(u, sizeof u, "u%d", i % 50);
        rk_live_recent(shared, u, "10.0.0.1", T0, &uf, &iu);
        rk_live_profile_get(shared, u, &p);
        rk_live_value_get(shared, RK_PK_DEVICE, u, &c);
    }
    return NULL;
}

static void threads(void **st)
{
    (void)st;
    rk_live_limits_t lim;
    rk_live_default_limits(&lim);
    lim.window_entries = 1000;
    shared = rk_live_new(&lim);
    rk_live_start(shared, INT64_MIN);
    pthread_t r[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&r[i], NULL, reader, NULL), 0);
    for (int i = 0; i < 20000; i++) {
        char u[16];
        snprintf(u, sizeof u, "u%d", i % 50);
        if (i % 100 == 0) { rk_live_write_done(shared); rk_live_write_begin(shared); }
        rk_live_note(shared, u, i % 3 ? "10.0.0.1" : "10.0.0.2", T0 + i, i % 4 == 0);
        if (i % 10 == 0) put_profile(shared, u, i);
        rk_live_value_put(shared, RK_PK_DEVICE, u, i);
    }
    for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
    rk_live_free(shared);
}

/* ---- in the SQLite store ---- */

static rk_store_t *open_db(const char *uri, rk_live_t *lv, int owner)
{
    rk_store_opts_t o;
    rk_store_defaults(&o);
    o.live = lv;
    o.live_owner = owner;
    o.retention_days = 1;
    char err[512];
    rk_store_t *s = rk_store_open(uri, &o, err, sizeof err);
    if (!s) fail_msg("open %s: %s", uri, err);
    return s;
}

/* The reads of a and b agree, global counts of random values included. */
static void agree(rk_store_t *a, rk_store_t *b, const char *user, const char *ip, int64_t since)
{
    char dev[16], prefix[32];
    snprintf(dev, sizeof dev, "dev%u", next(6));
    snprintf(prefix, sizeof prefix, "10.0.%u.0/24", next(4));
    const char *vals[RK_PK_COUNT] = { dev, "FR", prefix, "UA/1", NULL };
    same_reads(a, b, user, ip, since, vals);
    char err[512];
    rk_global_count_t one_a, one_b;
    assert_int_equal(rk_store_global_count(a, RK_PK_DEVICE, dev, &one_a, err, sizeof err), 0);
    assert_int_equal(rk_store_global_count(b, RK_PK_DEVICE, dev, &one_b, err, sizeof err), 0);
    assert_int_equal(one_a.count, one_b.count);
    assert_int_equal(one_a.total, one_b.total);
}

static void random_event(rk_event_t *e, char *user, char *ip, char *dev, int64_t ts)
{
    static const char *countries[] = { "FR", "DE", "US" }, *uas[] = { "UA/1", "UA/2", "UA/3" };
    memset(e, 0, sizeof *e);
    snprintf(user, 16, "u%u", next(12));
    snprintf(ip, 32, "10.0.%u.%u", next(4), 1 + next(2));
    snprintf(dev, 16, "dev%u", next(6));
    e->user_id = user;
    e->ip = ip;
    e->ts_ms = ts;
    e->success = next(3) != 0;
    e->country = countries[next(3)];
    e->device_id = dev;
    e->user_agent = uas[next(3)];
    e->has_geo = (int)next(2);
    e->lat = 48.8;
    e->lon = (double)next(360) - 180;
    e->risk_score = next(100);
    e->risk_level = "low";
    if (e->success && next(5) == 0) {
        e->held = next(2) ? RK_LEARN_ON_GRACE : RK_LEARN_ON_OUTCOME;
        e->learn_at = ts + 10 * 60000;
    }
}

/* The server's shape: the writer's handle owns the state and writes in
 * batches; a worker's handle reads through it. Against a store without
 * it fed the same events: the owner agrees at every step (its connection
 * sees its own batch), the worker once each batch is committed. Along the
 * way: settling held successes, outcomes, an analyst's word from the
 * worker's handle, a write from the worker's handle, and a purge. */
static void the_same_answers_as_sqlite_alone(void **st)
{
    (void)st;
    char *dir = tmp_dir(), uri[1100], ref_uri[1100], err[512];
    snprintf(uri, sizeof uri, "sqlite:%s/live.db", dir);
    snprintf(ref_uri, sizeof ref_uri, "sqlite:%s/ref.db", dir);
    /* a first event on disk before the state starts: its window begins an hour and a margin before it, with it */
    rk_store_t *ref = open_db(ref_uri, NULL, 0), *pre = open_db(uri, NULL, 0);
    char user[16], ip[32], dev[16];
    rk_event_t e, e2;
    random_event(&e, user, ip, dev, T0 - 30 * 60000);
    e.held = RK_LEARN_NOW;
    e2 = e;
    assert_int_equal(rk_store_event_record(pre, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_event_record(ref, &e2, 1, err, sizeof err), 0);
    rk_store_close(pre);

    rk_live_t *lv = rk_live_new(NULL);
    rk_store_t *owner = open_db(uri, lv, 1), *worker = open_db(uri, lv, 0);
    rk_live_stats_t s;
    rk_live_stats(lv, &s);
    assert_int_equal(s.horizon, T0 - 30 * 60000 - H - 5 * 60000);
    assert_int_equal(s.window_entries, e.success ? 1 : 2);
    char held_ids[64][RK_STORE_ID_LEN], held_ref[64][RK_STORE_ID_LEN];
    int nheld = 0;
    int64_t t = T0;
    for (int b = 0; b < 40; b++) {
        assert_int_equal(rk_store_batch_begin(owner, err, sizeof err), 0);
        for (int i = 0; i < 50; i++) {
            t += 60000LL * next(4);
            int64_t ts = next(10) == 0 ? t - 60000LL * next(120) : t;
            random_event(&e, user, ip, dev, ts);
            e2 = e;
            assert_int_equal(rk_store_event_record(owner, &e, 1, err, sizeof err), 0);
            assert_int_equal(rk_store_event_record(ref, &e2, 1, err, sizeof err), 0);
            if (e.held == RK_LEARN_ON_OUTCOME && nheld < 64) {
                memcpy(held_ids[nheld], e.id, RK_STORE_ID_LEN);
                memcpy(held_ref[nheld++], e2.id, RK_STORE_ID_LEN);
            }
            char u2[16], ip2[32];
            snprintf(u2, sizeof u2, "u%u", next(13));
            snprintf(ip2, sizeof ip2, "10.0.%u.%u", next(4), 1 + next(3));
            agree(owner, ref, u2, ip2, ts - H);
        }
        if (b % 5 == 4) {   /* the grace periods that have run out, in the same batch */
            int64_t n1 = 0, n2 = 0;
            assert_int_equal(rk_store_events_settle(owner, t, 1000, &n1, err, sizeof err), 0);
            assert_int_equal(rk_store_events_settle(ref, t, 1000, &n2, err, sizeof err), 0);
            assert_int_equal(n1, n2);
        }
        assert_int_equal(rk_store_batch_end(owner, err, sizeof err), 0);
        for (int i = 0; i < 12; i++) {
            char u2[16], ip2[32];
            snprintf(u2, sizeof u2, "u%d", i);
            snprintf(ip2, sizeof ip2, "10.0.%u.%u", next(4), 1 + next(2));
            agree(worker, ref, u2, ip2, t - H + 60000LL * next(30));
        }
        if (b == 10) {   /* an analyst's word, written on the worker's handle */
            assert_int_equal(rk_store_user_state_set(worker, "u3", "at_risk", "ana", t, err, sizeof err), 0);
            assert_int_equal(rk_store_user_state_set(ref, "u3", "at_risk", "ana", t, err, sizeof err), 0);
        }
        if (b == 20) {   /* outcomes reported, through the worker's handle */
            for (int i = 0; i < nheld; i++) {
                int l1 = 0, l2 = 0;
                assert_int_equal(rk_store_event_outcome(worker, held_ids[i], "passed_challenge", 1, &l1, err, sizeof err), 0);
                assert_int_equal(rk_store_event_outcome(ref, held_ref[i], "passed_challenge", 1, &l2, err, sizeof err), 0);
                assert_int_equal(l1, l2);
            }
        }
        if (b == 30) {   /* an event recorded on the worker's handle */
            random_event(&e, user, ip, dev, t);
            e.held = RK_LEARN_NOW;
            e.success = 1;
            e2 = e;
            assert_int_equal(rk_store_event_record(worker, &e, 1, err, sizeof err), 0);
            assert_int_equal(rk_store_event_record(ref, &e2, 1, err, sizeof err), 0);
        }
    }
    for (int i = 0; i < 13; i++) {
        char u2[16];
        snprintf(u2, sizeof u2, "u%d", i);
        agree(worker, ref, u2, "10.0.1.1", t - H);
        agree(owner, ref, u2, "10.0.2.2", t - 2 * H);
    }
    rk_live_stats(lv, &s);
    assert_true(s.on);
    assert_true(s.hits > 1000);
    assert_true(s.profiles > 0 && s.values > 0);
    /* A restart: a new state on the same file holds the last hour again, and
     * answers from memory at once. */
    rk_store_close(worker);
    rk_store_close(owner);
    rk_live_free(lv);
    lv = rk_live_new(NULL);
    owner = open_db(uri, lv, 1);
    worker = open_db(uri, lv, 0);
    rk_live_stats(lv, &s);
    assert_true(s.horizon < t - H && s.window_entries > 0);
    uint64_t hits = s.hits;
    for (int i = 0; i < 13; i++) {
        char u2[16];
        snprintf(u2, sizeof u2, "u%d", i);
        agree(worker, ref, u2, "10.0.1.1", t - H + 60000LL * i);
    }
    rk_live_stats(lv, &s);
    assert_true(s.hits >= hits + 13);
    /* A purge (retention: one day, from a clock two days on) deletes every
     * event: the window must not count them any more. */
    int64_t gone1 = 0, gone2 = 0;
    assert_int_equal(rk_store_purge(worker, t + 2 * 24 * H, 100000, &gone1, err, sizeof err), 0);
    assert_int_equal(rk_store_purge(ref, t + 2 * 24 * H, 100000, &gone2, err, sizeof err), 0);
    assert_int_equal(gone1, gone2);
    agree(worker, ref, "u1", "10.0.1.1", t - H);
    rk_live_stats(lv, &s);
    assert_true(s.on);
    rk_store_close(worker);
    rk_store_close(owner);
    rk_store_close(ref);
    rk_live_free(lv);
    rm_tree(dir);
}

/* A write undone after it fed the state turns the state off: every read
 * from then on is SQLite's. The profile write of user "boom" fails (a
 * trigger), after the event itself was written and noted. */
static void undone_write_turns_it_off(void **st)
{
    (void)st;
    char *dir = tmp_dir(), uri[1100], path[1100], err[512];
    snprintf(uri, sizeof uri, "sqlite:%s/live.db", dir);
    snprintf(path, sizeof path, "%s/live.db", dir);
    rk_live_t *lv = rk_live_new(NULL);
    rk_store_t *owner = open_db(uri, lv, 1);
    char user[16], ip[32], dev[16];
    rk_event_t ev[2];
    random_event(&ev[0], user, ip, dev, T0);
    ev[0].held = RK_LEARN_NOW;
    ev[1] = ev[0];
    ev[1].risk_level = "severe";   /* refused before anything is written */
    assert_int_not_equal(rk_store_event_record_many(owner, ev, 2, 1, err, sizeof err), 0);
    rk_live_stats_t s;
    rk_live_stats(lv, &s);
    assert_true(s.on);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON profiles WHEN NEW.user_id = 'boom'"
                                      " BEGIN SELECT RAISE(ABORT, 'boom'); END;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    random_event(&ev[0], user, ip, dev, T0 + 1);
    ev[0].user_id = "boom";
    ev[0].success = 0;
    assert_int_not_equal(rk_store_event_record(owner, &ev[0], 1, err, sizeof err), 0);
    rk_live_stats(lv, &s);
    assert_false(s.on);
    int64_t uf = -1, iu = -1;
    assert_int_equal(rk_store_recent(owner, "boom", ip, T0, &uf, &iu, err, sizeof err), 0);   /* SQLite's answer */
    assert_int_equal(uf, 0);
    rk_store_close(owner);
    rk_live_free(lv);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recent_counts),
        cmocka_unit_test(bounded_window),
        cmocka_unit_test(profiles_and_values),
        cmocka_unit_test(threads),
        cmocka_unit_test(the_same_answers_as_sqlite_alone),
        cmocka_unit_test(undone_write_turns_it_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
