/* test_features.c — each feature on hand-made profiles and attempts. */
#include "test_util.h"
#include "features.h"

#include <math.h>

#define H 3600000LL
/* 2023-11-14 (a Tuesday) 09:00 UTC */
#define TUE9 1699952400000LL

static rk_profile_t *habitual(void)
{
    /* 40 successful logins at 08:00-10:00 UTC from Paris, on one laptop and
     * one browser, from 192.0.2.0/24; the last one an hour before TUE9. */
    rk_profile_t *p = calloc(1, sizeof *p);
    p->attempts = 42; p->successes = 40; p->failures = 2;
    p->hours[8] = 15; p->hours[9] = 20; p->hours[10] = 5;
    p->first_ms = TUE9 - 60 * 24 * H;
    p->last_ms = TUE9 - H;
    p->has_last_success = 1;
    p->last_success_ms = TUE9 - H;
    p->last_has_geo = 1;
    p->last_lat = 48.8566; p->last_lon = 2.3522;   /* Paris */
    snprintf(p->items[RK_PK_DEVICE][0].value, 128, "laptop"); p->items[RK_PK_DEVICE][0].count = 40;
    p->nitems[RK_PK_DEVICE] = 1;
    snprintf(p->items[RK_PK_COUNTRY][0].value, 128, "FR"); p->items[RK_PK_COUNTRY][0].count = 40;
    p->nitems[RK_PK_COUNTRY] = 1;
    snprintf(p->items[RK_PK_PREFIX][0].value, 128, "192.0.2.0/24"); p->items[RK_PK_PREFIX][0].count = 40;
    p->nitems[RK_PK_PREFIX] = 1;
    snprintf(p->items[RK_PK_UA][0].value, 128, "Firefox/120"); p->items[RK_PK_UA][0].count = 30;
    snprintf(p->items[RK_PK_UA][1].value, 128, "Firefox/119"); p->items[RK_PK_UA][1].count = 10;
    p->nitems[RK_PK_UA] = 2;
    return p;
}

static rk_attempt_t usual(void)
{
    rk_attempt_t a = { TUE9, "192.0.2.44", 1, "FR", 1, 48.86, 2.35, "laptop", "Firefox/120" };
    return a;
}

static void names_are_stable(void **st)
{
    (void)st;
    assert_int_equal(RK_F_COUNT, 15);
    assert_string_equal(rk_features_names[RK_F_HOUR_SIN], "hour_sin");
    assert_string_equal(rk_features_names[RK_F_SPEED_KMH], "speed_kmh");
    assert_string_equal(rk_features_names[RK_F_LOG_MATURITY], "log_maturity");
}

static void a_usual_login_is_unremarkable(void **st)
{
    (void)st;
    rk_profile_t *p = habitual();
    rk_attempt_t a = usual();
    rk_recent_t r = { 0, 1 };
    double f[RK_F_COUNT];
    rk_features_extract(&a, p, &r, f);
    assert_true(fabs(f[RK_F_HOUR_SIN] - sin(2 * M_PI * 9 / 24)) < 1e-12);
    assert_true(fabs(f[RK_F_HOUR_COS] - cos(2 * M_PI * 9 / 24)) < 1e-12);
    assert_true(f[RK_F_WEEKDAY] == 2);
    assert_true(f[RK_F_WEEKEND] == 0);
    assert_true(f[RK_F_HOUR_SURPRISE] == 0);
    assert_true(f[RK_F_NEW_DEVICE] == 0 && f[RK_F_NEW_COUNTRY] == 0 && f[RK_F_NEW_PREFIX] == 0);
    assert_true(fabs(f[RK_F_UA_NOVELTY] - 0.25) < 1e-12);   /* 30 of 40 logins */
    assert_true(f[RK_F_DISTANCE_KM] < 2);
    assert_true(f[RK_F_SPEED_KMH] < 2);
    assert_true(fabs(f[RK_F_LOG_HOURS_SINCE] - log1p(1)) < 1e-12);
    assert_true(fabs(f[RK_F_LOG_MATURITY] - log1p(40)) < 1e-12);
    assert_true(f[RK_F_IP_USERS_1H] == 1);
    free(p);
}

static void a_takeover_stands_out(void **st)
{
    (void)st;
    rk_profile_t *p = habitual();
    /* 03:00 UTC the same night... from Sydney, a new phone, a new browser. */
    rk_attempt_t a = { TUE9 - 6 * H, "203.0.113.9", 1, "AU", 1, -33.8688, 151.2093, "phone-x", "Chrome/119" };
    rk_recent_t r = { 4, 12 };
    double f[RK_F_COUNT];
    p->last_success_ms = TUE9 - 8 * H;   /* 2 hours earlier in Paris */
    rk_features_extract(&a, p, &r, f);
    /* never at 3 o'clock in 40 logins: 0.5 / 52 against 1/24, about 2.1 bits */
    assert_true(fabs(f[RK_F_HOUR_SURPRISE] - -log2(24 * 0.5 / 52)) < 1e-12);
    assert_true(f[RK_F_NEW_DEVICE] == 1 && f[RK_F_NEW_COUNTRY] == 1 && f[RK_F_NEW_PREFIX] == 1);
    assert_true(f[RK_F_UA_NOVELTY] == 1);
    /* Paris-Sydney is about 16,960 km; in 2 hours. */
    assert_true(fabs(f[RK_F_DISTANCE_KM] - 16960) < 60);
    assert_true(fabs(f[RK_F_SPEED_KMH] - f[RK_F_DISTANCE_KM] / 2) < 1e-6);
    assert_true(f[RK_F_FAILURES_1H] == 4 && f[RK_F_IP_USERS_1H] == 12);
    free(p);
}

static void new_users_are_neutral(void **st)
{
    (void)st;
    rk_attempt_t a = usual();
    double f[RK_F_COUNT];
    rk_features_extract(&a, NULL, NULL, f);
    for (int i = RK_F_HOUR_SURPRISE; i < RK_F_COUNT; i++)
        if (f[i] != 0) fail_msg("%s = %g for a user never seen", rk_features_names[i], f[i]);
    /* A profile with failures only has nothing to be new against either. */
    rk_profile_t *p = calloc(1, sizeof *p);
    p->attempts = 3; p->failures = 3; p->last_ms = TUE9 - H;
    rk_features_extract(&a, p, NULL, f);
    assert_true(f[RK_F_NEW_DEVICE] == 0 && f[RK_F_NEW_COUNTRY] == 0 && f[RK_F_UA_NOVELTY] == 0);
    assert_true(f[RK_F_LOG_MATURITY] == 0);
    assert_true(f[RK_F_LOG_HOURS_SINCE] > 0);
    free(p);
}

static void speed_is_bounded_and_order_free(void **st)
{
    (void)st;
    rk_profile_t *p = habitual();
    rk_attempt_t a = usual();
    double f[RK_F_COUNT];
    /* Same second, 5 km away: at least a minute is assumed. */
    a.ts_ms = p->last_success_ms;
    a.lat = 48.9; a.lon = 2.4;
    rk_features_extract(&a, p, NULL, f);
    assert_true(isfinite(f[RK_F_SPEED_KMH]));
    assert_true(fabs(f[RK_F_SPEED_KMH] - f[RK_F_DISTANCE_KM] * 60) < 1e-6);
    /* An attempt older than the last success (out of order) uses |dt|. */
    a.ts_ms = p->last_success_ms - 2 * H;
    rk_features_extract(&a, p, NULL, f);
    assert_true(fabs(f[RK_F_SPEED_KMH] - f[RK_F_DISTANCE_KM] / 2) < 1e-6);
    /* No location on either side: no distance. */
    a.has_geo = 0;
    rk_features_extract(&a, p, NULL, f);
    assert_true(f[RK_F_DISTANCE_KM] == 0 && f[RK_F_SPEED_KMH] == 0);
    /* IPv6: the /48 is the prefix. */
    a.ip = "2001:db8:1:2::5";
    snprintf(p->items[RK_PK_PREFIX][1].value, 128, "2001:db8:1::/48");
    p->nitems[RK_PK_PREFIX] = 2;
    rk_features_extract(&a, p, NULL, f);
    assert_true(f[RK_F_NEW_PREFIX] == 0);
    free(p);
}

/* Local hours: by the sun at the attempt's longitude, against the user's
 * logins by the local clock where each happened. */
static void local_hours(void **st)
{
    (void)st;
    assert_int_equal(rk_profile_local_hour(TUE9, 0), 9);
    assert_int_equal(rk_profile_local_hour(TUE9, 139.65), 18);     /* Tokyo: 18:18 */
    assert_int_equal(rk_profile_local_hour(TUE9 - 7 * H, -74.0), 21);   /* New York, the day before */
    assert_int_equal(rk_profile_local_hour(TUE9, 180), 21);
    assert_int_equal(rk_profile_local_hour(TUE9, -180), 21);
    assert_int_equal(rk_profile_local_hour(-1, 0), 23);            /* before 1970 */
    rk_profile_t *p = habitual();
    p->local_hours[9] = 15; p->local_hours[10] = 20; p->local_hours[11] = 5;   /* Paris, 09-11 */
    rk_local_hour_t lh;
    /* Tokyo at 00:30 UTC is 09:48 there: a habitual hour, wherever */
    rk_attempt_t a = { TUE9 - 9 * H + H / 2, "203.0.113.9", 1, "JP", 1, 35.68, 139.65, "laptop", "Firefox/120" };
    assert_int_equal(rk_features_local_hour(&a, p, &lh), 1);
    assert_int_equal(lh.hour, 9);
    assert_int_equal(lh.near, 35);          /* 08 + 09 + 10 */
    assert_int_equal(lh.located, 40);
    /* Tokyo at 09:00 UTC (18:18 there): nothing near */
    a.ts_ms = TUE9;
    assert_int_equal(rk_features_local_hour(&a, p, &lh), 1);
    assert_int_equal(lh.hour, 18);
    assert_int_equal(lh.near, 0);
    /* the window wraps around midnight */
    p->local_hours[0] = 2;
    a.lon = 0; a.ts_ms = TUE9 - 9 * H - H;   /* 23:00 */
    assert_int_equal(rk_features_local_hour(&a, p, &lh), 1);
    assert_int_equal(lh.hour, 23);
    assert_int_equal(lh.near, 2);
    /* a new user: the hour, nothing near, nothing located */
    assert_int_equal(rk_features_local_hour(&a, NULL, &lh), 1);
    assert_int_equal(lh.near + lh.located, 0);
    /* no coordinates: nothing */
    a.has_geo = 0;
    assert_int_equal(rk_features_local_hour(&a, p, &lh), 0);
    assert_int_equal(lh.hour + lh.near + lh.located, 0);
    free(p);
}

static void distances(void **st)
{
    (void)st;
    assert_true(rk_features_distance_km(0, 0, 0, 0) == 0);
    assert_true(fabs(rk_features_distance_km(0, 0, 0, 180) - M_PI * 6371.0088) < 1e-6);
    /* London - New York, about 5,570 km */
    assert_true(fabs(rk_features_distance_km(51.5074, -0.1278, 40.7128, -74.0060) - 5570) < 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_stable),
        cmocka_unit_test(a_usual_login_is_unremarkable),
        cmocka_unit_test(a_takeover_stands_out),
        cmocka_unit_test(new_users_are_neutral),
        cmocka_unit_test(speed_is_bounded_and_order_free),
        cmocka_unit_test(local_hours),
        cmocka_unit_test(distances),
    };
    return cmocka_run_group_tests_name("features", tests, NULL, NULL);
}
