/* test_calib.c — calibrated levels: the quantiles, warm-up, floors,
 * ceilings, the pace of a rise, and the stored form. */
#include "test_util.h"
#include "calib.h"

#include <math.h>

#define HOUR 3600000LL

static rk_calib_opts_t opts(void)
{
    rk_calib_opts_t o = { .share = { 0.005, 0.001 }, .floor = { 60, 80 }, .ceiling = { 75, 90 },
                          .min_attempts = 1000, .window = 1e9, .max_rise = 2 };
    return o;
}

/* A deterministic spread of scores in [0, 100). */
static double score_at(unsigned i) { return (double)((i % 10000u) * 5761u % 10000u) / 100.0; }   /* 5761 is prime to 10,000 */

static void quantiles_are_exact_to_a_step(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new();
    rk_calib_opts_t o = opts();
    assert_true(rk_calib_quantile(c, 0.5) < 0);      /* empty */
    for (unsigned i = 0; i < 10000; i++) rk_calib_add(c, score_at(i), 0, &o);
    assert_true(fabs(rk_calib_count(c) - 10000) < 1e-9);
    /* 10,000 distinct scores 0.00 .. 99.99: the q-quantile is 100q, to one step */
    for (double q = 0.1; q < 1; q += 0.1) assert_true(fabs(rk_calib_quantile(c, q) - 100 * q) <= 0.011);
    /* out of range and NaN land in the end bins */
    rk_calib_add(c, -5, 0, &o);
    rk_calib_add(c, 250, 0, &o);
    rk_calib_add(c, NAN, 0, &o);
    assert_true(rk_calib_quantile(c, 0) == 0);
    assert_true(rk_calib_quantile(c, 1) == 100);
    rk_calib_free(c);
}

static void warm_up_floors_and_budget(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new();
    rk_calib_opts_t o = opts();
    double t[RK_CALIB_LEVELS];
    /* before min_attempts: the fixed thresholds */
    for (int i = 0; i < 999; i++) rk_calib_add(c, 70, 0, &o);
    assert_int_equal(rk_calib_thresholds(c, &o, t), 0);
    assert_true(t[0] == 60 && t[1] == 80);
    /* a quiet site (scores under 20): the floors hold */
    rk_calib_t *q = rk_calib_new();
    for (unsigned i = 0; i < 5000; i++) rk_calib_add(q, score_at(i) / 5, (long long)i * 60000, &o);
    assert_int_equal(rk_calib_thresholds(q, &o, t), 1);
    assert_true(t[0] == 60 && t[1] == 80);
    rk_calib_free(q);
    /* a noisy site, a tenth of everything at 70, over days: high rises just
     * above 70, the share of the budget */
    rk_calib_t *n = rk_calib_new();
    for (unsigned i = 0; i < 20000; i++) rk_calib_add(n, i % 10 ? score_at(i) / 2 : 70, (long long)i * 60000, &o);
    assert_int_equal(rk_calib_thresholds(n, &o, t), 1);
    assert_true(fabs(t[0] - 70.01) < 1e-9);
    assert_true(t[1] == 80);          /* 70.01 is under the critical floor */
    /* ... and at 85, it stops at the ceiling: a score of 75 always reaches high */
    for (unsigned i = 0; i < 20000; i++) rk_calib_add(n, i % 10 ? score_at(i) / 2 : 85, (long long)(20000 + i) * 60000, &o);
    rk_calib_thresholds(n, &o, t);
    assert_true(t[0] == 75);
    assert_true(fabs(t[1] - 85.01) < 1e-9);
    rk_calib_free(n);
    /* the budget itself: scores 0-99.99 spread evenly, high at the top 0.5 % */
    rk_calib_opts_t wide = o;
    wide.ceiling[0] = wide.ceiling[1] = 100;
    wide.floor[0] = wide.floor[1] = 10;
    rk_calib_t *e = rk_calib_new();
    for (unsigned i = 0; i < 100000; i++) rk_calib_add(e, score_at(i), (long long)i * 60000, &wide);
    rk_calib_thresholds(e, &wide, t);
    assert_true(fabs(t[0] - 99.5) <= 0.011 && fabs(t[1] - 99.9) <= 0.011);
    rk_calib_free(e);
    rk_calib_free(c);
}

/* An attack wave of high scores: the thresholds rise at most max_rise
 * points an hour, so the wave stays above them while it lasts. */
static void an_attack_wave_cannot_hide_itself(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new();
    rk_calib_opts_t o = opts();
    o.window = 50000;
    double t[RK_CALIB_LEVELS];
    long long ts = 0;
    for (unsigned i = 0; i < 20000; i++, ts += 60000) rk_calib_add(c, score_at(i) / 2, ts, &o);   /* all under 50 */
    rk_calib_thresholds(c, &o, t);
    assert_true(t[0] == 60);
    /* one hour of a wave: 5,000 attempts at 72 */
    long long start = ts;
    for (unsigned i = 0; i < 5000; i++, ts += 720) rk_calib_add(c, 72, ts, &o);
    rk_calib_thresholds(c, &o, t);
    assert_true(t[0] <= 60 + 2 * (double)(ts - start) / HOUR + 1e-9);
    assert_true(t[0] < 72);           /* the wave still reaches high */
    /* the wave ends: the threshold falls back at once */
    for (unsigned i = 0; i < 200000; i++, ts += 60000) rk_calib_add(c, score_at(i) / 2, ts, &o);
    rk_calib_thresholds(c, &o, t);
    assert_true(t[0] == 60);
    rk_calib_free(c);
}

/* The pace follows the attempts' own steps: a stray timestamp far ahead
 * (a sign-in stamped now inside a replayed history) neither stops the
 * clock nor lets the thresholds jump. */
static void a_stray_clock(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new();
    rk_calib_opts_t o = opts();
    double t[RK_CALIB_LEVELS];
    long long ts = 1000000000000LL;
    for (unsigned i = 0; i < 2000; i++, ts += 60000) rk_calib_add(c, score_at(i) / 2, ts, &o);
    rk_calib_add(c, 85, ts + 365LL * 24 * HOUR, &o);                        /* a year ahead */
    for (unsigned i = 0; i < 64; i++, ts += 1000) rk_calib_add(c, 85, ts, &o);   /* a burst, one minute */
    rk_calib_thresholds(c, &o, t);
    assert_true(t[0] < 60 + 2 * 3.2);   /* the stray step counts an hour at most (plus the two last hours of steps) */
    for (unsigned i = 0; i < 20000; i++, ts += 60000) rk_calib_add(c, i % 10 ? score_at(i) / 2 : 70, ts, &o);
    rk_calib_thresholds(c, &o, t);
    assert_true(fabs(t[0] - 70.01) < 1e-9);   /* and the history goes on moving it */
    rk_calib_free(c);
}

static void the_window_forgets(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new();
    rk_calib_opts_t o = opts();
    o.window = 1000;
    for (int i = 0; i < 5000; i++) rk_calib_add(c, 10, 0, &o);
    assert_true(rk_calib_count(c) <= 1000);
    for (int i = 0; i < 5000; i++) rk_calib_add(c, 40, 0, &o);
    assert_true(rk_calib_quantile(c, 0.5) == 40);   /* the old scores have faded */
    rk_calib_free(c);
}

static void stored_form(void **st)
{
    (void)st;
    rk_calib_t *c = rk_calib_new(), *d = rk_calib_new();
    rk_calib_opts_t o = opts();
    for (unsigned i = 0; i < 30000; i++) rk_calib_add(c, i % 3 ? score_at(i) / 2 : 71, (long long)i * 60000, &o);
    char *s = rk_calib_encode(c);
    assert_non_null(s);
    assert_int_equal(rk_calib_decode(d, s), 0);
    double a[RK_CALIB_LEVELS], b[RK_CALIB_LEVELS];
    assert_int_equal(rk_calib_thresholds(c, &o, a), rk_calib_thresholds(d, &o, b));
    assert_true(a[0] == b[0] && a[1] == b[1]);
    assert_true(rk_calib_count(c) == rk_calib_count(d));
    assert_true(rk_calib_quantile(c, 0.9) == rk_calib_quantile(d, 0.9));
    free(s);
    assert_int_equal(rk_calib_decode(d, "garbage"), -1);
    assert_int_equal(rk_calib_decode(d, "riskd-calibration 1\n1 60 80 0 0 0\n20000 5\n"), -1);   /* no such bin */
    assert_int_equal(rk_calib_decode(d, "riskd-calibration 1\n1 60 80 0 0 0\n5 -1\n"), -1);
    assert_int_equal(rk_calib_decode(d, "riskd-calibration 1\n1 60 80 0 0 0\n5 1\nx\n"), -1);
    assert_true(rk_calib_count(d) == rk_calib_count(c));   /* a refused text changes nothing */
    rk_calib_free(c);
    rk_calib_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantiles_are_exact_to_a_step),
        cmocka_unit_test(warm_up_floors_and_budget),
        cmocka_unit_test(an_attack_wave_cannot_hide_itself),
        cmocka_unit_test(a_stray_clock),
        cmocka_unit_test(the_window_forgets),
        cmocka_unit_test(stored_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
