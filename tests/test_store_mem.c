/* test_store_mem.c — the memory store (mem:) against the SQLite backend on
 * the same events: the analysis's reads (profiles, recent failures and
 * users per address, global counts, open alerts) must give the same answers,
 * attempts out of time order included; what mem: does not keep is refused
 * with a message, never answered wrongly. */
#include "test_util.h"
#include "store_impl.h"
#include "store_reads.h"

#define H 3600000LL
#define T0 (1700000000000LL / H * H)

static rk_store_t *open_uri(const char *uri)
{
    char err[512];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    if (!s) fail_msg("open %s: %s", uri, err);
    return s;
}

/* 3,000 events over 12 users, 6 addresses, devices, countries and agents,
 * a third of them failures, a tenth arriving up to two hours late, on
 * whole minutes; after
 * each one, the reads of a random user and address agree. */
static void the_same_answers_as_sqlite(void **st)
{
    (void)st;
    char *dir = tmp_dir(), uri[1100], err[512];
    snprintf(uri, sizeof uri, "sqlite:%s/ref.db", dir);
    rk_store_t *sq = open_uri(uri), *mem = open_uri("mem:");
    assert_string_equal(rk_store_backend(mem), "memory");
    assert_false(rk_store_keeps_docs(mem));
    assert_true(rk_store_keeps_docs(sq));
    static const char *countries[] = { "FR", "DE", "US" }, *uas[] = { "UA/1", "UA/2", "UA/3" };
    assert_int_equal(rk_store_batch_begin(sq, err, sizeof err), 0);
    int64_t t = T0;
    for (int i = 0; i < 3000; i++) {
        char user[16], ip[32], dev[16];
        snprintf(user, sizeof user, "u%u", next(12));
        snprintf(ip, sizeof ip, "10.0.%u.%u", next(3), 1 + next(2));
        snprintf(dev, sizeof dev, "dev%u", next(5));
        /* whole minutes, so that times fall exactly on `since` too */
        t += 60000LL * next(10);
        int64_t ts = next(10) == 0 ? t - 60000LL * next(120) : t;
        rk_event_t e;
        memset(&e, 0, sizeof e);
        e.user_id = user;
        e.ip = ip;
        e.ts_ms = ts;
        e.success = next(3) != 0;
        e.country = countries[next(3)];
        e.device_id = dev;
        e.user_agent = uas[next(3)];
        e.has_geo = (int)next(2);
        e.lat = 48.8;
        e.lon = (double)next(360) - 180;
        e.risk_score = next(100);
        e.risk_level = "low";
        rk_event_t e2 = e;
        assert_int_equal(rk_store_event_record(sq, &e, 1, err, sizeof err), 0);
        assert_int_equal(rk_store_event_record(mem, &e2, 1, err, sizeof err), 0);
        assert_true(strlen(e2.id) > 0);
        char u2[16], ip2[32];
        snprintf(u2, sizeof u2, "u%u", next(13));   /* u12 never appears */
        snprintf(ip2, sizeof ip2, "10.0.%u.%u", next(3), 1 + next(3));
        static const char *const vals[RK_PK_COUNT] = { "dev1", "FR", "10.0.1.0/24", "UA/1", NULL };
        same_reads(sq, mem, u2, ip2, ts - H, vals);
    }
    assert_int_equal(rk_store_batch_end(sq, err, sizeof err), 0);
    rk_store_close(sq);
    rk_store_close(mem);
    rm_tree(dir);
}

/* An alert joins the open one of its user and cause updated within the
 * window, as the pipeline asks (lib/analyze.lua raise_alert). */
static void open_alerts(void **st)
{
    (void)st;
    rk_store_t *m = open_uri("mem:");
    char err[512], id[RK_STORE_ID_LEN];
    assert_int_equal(rk_store_alert_find_open(m, "bob", "brute_force", 0, id, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_alert_t a = { .user_id = "bob", .severity = "high", .cause = "brute_force", .created_ms = T0 };
    assert_int_equal(rk_store_alert_insert(m, &a, "e1", err, sizeof err), 0);
    assert_int_equal(rk_store_alert_find_open(m, "bob", "brute_force", T0 - 600000, id, err, sizeof err), 0);
    assert_string_equal(id, a.id);
    assert_int_equal(rk_store_alert_find_open(m, "bob", "new_device", T0 - 600000, id, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_alert_find_open(m, "bo", "b\x1f" "brute_force", 0, id, err, sizeof err), RK_STORE_NOT_FOUND);
    /* a later event keeps it open longer; an earlier one does not move it back */
    assert_int_equal(rk_store_alert_add_event(m, a.id, "e2", "critical", T0 + 20 * 60000, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_add_event(m, a.id, "e3", "low", T0 - H, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_find_open(m, "bob", "brute_force", T0 + 15 * 60000, id, err, sizeof err), 0);
    assert_int_equal(rk_store_alert_find_open(m, "bob", "brute_force", T0 + 21 * 60000, id, err, sizeof err), RK_STORE_NOT_FOUND);
    /* a new alert of the same cause after the window is the one found */
    rk_alert_t b = { .user_id = "bob", .severity = "high", .cause = "brute_force", .created_ms = T0 + 3 * H };
    assert_int_equal(rk_store_alert_insert(m, &b, "e4", err, sizeof err), 0);
    assert_int_equal(rk_store_alert_find_open(m, "bob", "brute_force", T0 + 2 * H, id, err, sizeof err), 0);
    assert_string_equal(id, b.id);
    assert_int_equal(rk_store_alert_add_event(m, "nope", "e5", "high", T0, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_alert_add_event(m, b.id, "e5", "severe", T0, err, sizeof err), -1);
    rk_alert_t bad = { .user_id = "bob", .severity = "severe", .cause = "x" };
    assert_int_equal(rk_store_alert_insert(m, &bad, NULL, err, sizeof err), -1);
    rk_store_close(m);
}

/* What mem: does not keep is an error that says so, and bad events are refused. */
static void the_rest_is_refused(void **st)
{
    (void)st;
    rk_store_t *m = open_uri("mem:");
    char err[512];
    rk_user_t u;
    assert_int_equal(rk_store_user_get(m, "alice", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "not kept by the memory store"));
    rk_event_list_t l;
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 20 };
    assert_int_equal(rk_store_event_list(m, &f, &l, err, sizeof err), -1);
    rk_stats_t stats;
    assert_int_equal(rk_store_stats(m, T0, &stats, err, sizeof err), -1);
    assert_non_null(strstr(err, "stats"));
    int64_t purged = 7;
    assert_int_equal(rk_store_purge(m, T0, 100, &purged, err, sizeof err), 0);
    assert_int_equal(purged, 0);
    rk_event_t e;
    memset(&e, 0, sizeof e);
    e.user_id = "alice";
    e.ip = "192.0.2.1";
    e.risk_level = "severe";
    assert_int_equal(rk_store_event_record(m, &e, 1, err, sizeof err), -1);
    e.risk_level = "low";
    e.ip = NULL;
    assert_int_equal(rk_store_event_record(m, &e, 1, err, sizeof err), -1);
    rk_profile_t *p = malloc(sizeof *p);
    assert_int_equal(rk_store_profile_get(m, "alice", p, err, sizeof err), RK_STORE_NOT_FOUND);
    e.ip = "192.0.2.1";
    assert_int_equal(rk_store_profile_update(m, &e, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(m, "alice", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 1);
    free(p);
    rk_store_close(m);
    assert_null(rk_store_open("mem:x", NULL, err, sizeof err));
    assert_non_null(strstr(err, "mem:"));
}

/* An analyst's word on an account, as the other stores keep it. */
static void user_state(void **st)
{
    (void)st;
    char err[256];
    rk_store_t *m = open_uri("mem:");
    assert_int_equal(rk_store_user_state_set(m, "sue", "at_risk", "ana", 5, err, sizeof err), RK_STORE_NOT_FOUND);
    rk_event_t e = { .user_id = "sue", .ts_ms = 1700000000000, .ip = "192.0.2.1", .success = 1, .risk_level = "low" };
    assert_int_equal(rk_store_event_record(m, &e, 1, err, sizeof err), 0);
    assert_int_equal(rk_store_user_state_set(m, "sue", "at_risk", "ana", 5, err, sizeof err), 0);
    static rk_profile_t p;
    assert_int_equal(rk_store_profile_get(m, "sue", &p, err, sizeof err), 0);
    assert_string_equal(p.state, "at_risk");
    assert_string_equal(p.state_by, "ana");
    assert_int_equal(p.state_ms, 5);
    assert_int_equal(rk_store_user_state_set(m, "sue", NULL, NULL, 6, err, sizeof err), 0);
    assert_int_equal(rk_store_profile_get(m, "sue", &p, err, sizeof err), 0);
    assert_string_equal(p.state, "");
    rk_store_close(m);
}

/* Held successes: kept until settled, learned once, oldest first; the ones
 * waiting for an outcome a batch never gets are not kept. */
static void held_successes(void **st)
{
    (void)st;
    char err[256];
    rk_store_t *m = rk_store_open("mem:", NULL, err, sizeof err);
    assert_non_null(m);
    const char *devs[] = { "d-grace-late", "d-grace", "d-outcome" };
    int64_t learn_at[] = { T0 + 20 * 60000, T0 + 10 * 60000, 0 };
    char ids[3][RK_STORE_ID_LEN];
    for (int i = 0; i < 3; i++) {
        rk_event_t e;
        memset(&e, 0, sizeof e);
        e.user_id = "hal";
        e.ip = "192.0.2.9";
        e.ts_ms = T0 + i * 1000;
        e.success = 1;
        e.risk_level = "medium";
        e.device_id = devs[i];
        e.held = i < 2 ? RK_LEARN_ON_GRACE : RK_LEARN_ON_OUTCOME;
        e.learn_at = learn_at[i];
        assert_int_equal(rk_store_event_record(m, &e, 1, err, sizeof err), 0);
        memcpy(ids[i], e.id, sizeof ids[i]);
    }
    rk_profile_t *p = malloc(sizeof *p);
    assert_int_equal(rk_store_profile_get(m, "hal", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 3);
    assert_int_equal(p->successes, 0);
    int due = -1;
    int64_t n = -1;
    assert_int_equal(rk_store_events_due(m, T0 + 5 * 60000, &due, err, sizeof err), 0);
    assert_int_equal(due, 0);
    assert_int_equal(rk_store_events_due(m, T0 + 10 * 60000, &due, err, sizeof err), 0);
    assert_int_equal(due, 1);
    assert_int_equal(rk_store_events_settle(m, T0 + 10 * 60000, 100, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rk_store_profile_get(m, "hal", p, err, sizeof err), 0);
    assert_int_equal(p->successes, 1);
    assert_string_equal(p->items[RK_PK_DEVICE][0].value, "d-grace");
    rk_global_count_t g;
    assert_int_equal(rk_store_global_count(m, RK_PK_DEVICE, "d-grace", &g, err, sizeof err), 0);
    assert_int_equal(g.count, 1);
    /* An outcome first: learned then, and never again by the grace period. */
    int learned = -1;
    assert_int_equal(rk_store_event_outcome(m, ids[0], "passed_challenge", 1, &learned, err, sizeof err), 0);
    assert_int_equal(learned, 1);
    assert_int_equal(rk_store_events_settle(m, T0 + 60 * 60000, 100, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(rk_store_event_outcome(m, ids[0], "passed_challenge", 1, &learned, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_event_outcome(m, ids[2], "blocked", 0, &learned, err, sizeof err), RK_STORE_NOT_FOUND);
    assert_int_equal(rk_store_profile_get(m, "hal", p, err, sizeof err), 0);
    assert_int_equal(p->successes, 2);
    assert_int_equal(p->nitems[RK_PK_DEVICE], 2);
    /* Held and never settled: freed with the store (ASan checks). */
    rk_event_t e;
    memset(&e, 0, sizeof e);
    e.user_id = "hal";
    e.ip = "192.0.2.9";
    e.success = 1;
    e.risk_level = "medium";
    e.held = RK_LEARN_ON_GRACE;
    e.learn_at = T0 + 99 * 60000;
    assert_int_equal(rk_store_event_record(m, &e, 1, err, sizeof err), 0);
    free(p);
    rk_store_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_same_answers_as_sqlite),
        cmocka_unit_test(held_successes),
        cmocka_unit_test(user_state),
        cmocka_unit_test(open_alerts),
        cmocka_unit_test(the_rest_is_refused),
    };
    return cmocka_run_group_tests_name("store (mem:)", tests, NULL, NULL);
}
