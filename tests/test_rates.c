/* test_rates.c — site-wide hourly rates: the sliding last hour, the
 * baseline learned from past hours (empty hours included), events a little
 * out of order, the table's limits, and counts from several threads. */
#include "test_util.h"
#include "rates.h"

#include <math.h>
#include <pthread.h>

#define H 3600000LL
#define T0 (480000LL * H)   /* a whole hour */

static void sliding_hour(void **st)
{
    (void)st;
    rk_rates_t *r = rk_rates_new();
    rk_rate_info_t i;
    rk_rates_get(r, "x", T0, &i);
    assert_true(i.last_hour == 0 && i.baseline == 0 && i.hours == 0);
    for (int k = 0; k < 10; k++) assert_int_equal(rk_rates_hit(r, "x", T0 + k * 60000), 0);
    rk_rates_get(r, "x", T0 + 30 * 60000, &i);
    assert_true(i.last_hour == 10 && i.hours == 0);
    /* a quarter into the next hour: 4 new, and 3/4 of the previous hour's 10 */
    for (int k = 0; k < 4; k++) rk_rates_hit(r, "x", T0 + H + k * 1000);
    rk_rates_get(r, "x", T0 + H + H / 4, &i);
    assert_true(fabs(i.last_hour - (4 + 7.5)) < 1e-9);
    assert_true(i.hours == 1 && i.baseline == 10);   /* the first hour seeds the baseline */
    /* one late event for the previous hour still counts there */
    rk_rates_hit(r, "x", T0 + H - 1);
    rk_rates_get(r, "x", T0 + H, &i);
    assert_true(fabs(i.last_hour - 15) < 1e-9);
    /* far older: not counted */
    rk_rates_hit(r, "x", T0 - 5 * H);
    rk_rates_get(r, "x", T0 + H, &i);
    assert_true(fabs(i.last_hour - 15) < 1e-9);
    rk_rates_free(r);
}

static void baseline(void **st)
{
    (void)st;
    rk_rates_t *r = rk_rates_new();
    rk_rate_info_t i;
    /* 2 an hour for 100 hours: the baseline settles at 2 */
    for (int h = 0; h < 100; h++) { rk_rates_hit(r, "f", T0 + h * H); rk_rates_hit(r, "f", T0 + h * H + 10); }
    rk_rates_get(r, "f", T0 + 99 * H + H / 2, &i);
    assert_int_equal(i.hours, 99);
    assert_true(fabs(i.baseline - 2) < 1e-6);
    /* ten empty hours pull it down by (1 - alpha)^10, and the window is empty */
    rk_rates_get(r, "f", T0 + 110 * H, &i);
    assert_int_equal(i.hours, 110);
    assert_true(i.last_hour == 0);
    double want = (1 - RK_RATES_ALPHA) * 2 + RK_RATES_ALPHA * 2;   /* hour 99's 2, then ten empty ones */
    for (int k = 0; k < 10; k++) want *= 1 - RK_RATES_ALPHA;
    assert_true(fabs(i.baseline - want) < 1e-6);
    /* asking did not move it: a hit at hour 110 does the same */
    rk_rates_hit(r, "f", T0 + 110 * H);
    rk_rates_get(r, "f", T0 + 110 * H, &i);
    assert_true(fabs(i.baseline - want) < 1e-6 && i.last_hour == 1);
    /* a burst of 60 in an hour stands out against it */
    for (int k = 0; k < 60; k++) rk_rates_hit(r, "f", T0 + 111 * H + k * 1000);
    rk_rates_get(r, "f", T0 + 111 * H + 60000, &i);
    assert_true(i.last_hour / i.baseline > 30);
    rk_rates_free(r);
}

static void limits(void **st)
{
    (void)st;
    rk_rates_t *r = rk_rates_new();
    char name[40];
    for (int k = 0; k < RK_RATES_MAX; k++) {
        snprintf(name, sizeof name, "n%d", k);
        assert_int_equal(rk_rates_hit(r, name, T0), 0);
    }
    assert_int_equal(rk_rates_hit(r, "one too many", T0), -1);
    assert_int_equal(rk_rates_hit(r, "n3", T0), 0);     /* known names still count */
    rk_rates_reset(r);
    assert_int_equal(rk_rates_hit(r, "a-name-of-exactly-thirty-two-by", T0), 0);   /* 31 bytes */
    assert_int_equal(rk_rates_hit(r, "a-name-of-exactly-thirty-two-byt", T0), -1);
    assert_true(rk_rates_global() == rk_rates_global());
    rk_rates_free(r);
}

static void *hammer(void *arg)
{
    for (int k = 0; k < 10000; k++) rk_rates_hit(arg, "t", T0 + k % 1000);
    return NULL;
}

static void threads(void **st)
{
    (void)st;
    rk_rates_t *r = rk_rates_new();
    pthread_t th[4];
    for (int k = 0; k < 4; k++) pthread_create(&th[k], NULL, hammer, r);
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    rk_rate_info_t i;
    rk_rates_get(r, "t", T0 + 1000, &i);
    assert_true(i.last_hour == 40000);
    rk_rates_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sliding_hour), cmocka_unit_test(baseline), cmocka_unit_test(limits), cmocka_unit_test(threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
