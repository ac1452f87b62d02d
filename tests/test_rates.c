/* test_rates.c — site-wide hourly rates: the sliding last hour, the
 * baseline learned from past hours (empty hours included), events a little
 * out of order, the table's limits, and counts from several threads. */
#include "test_util.h"
#include "rates.h"
#include "rates_sync.h"
#include "store_impl.h"

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

/* The text the store keeps: a table read back from it answers every
 * question as the one that wrote it, in its hour and the next; the hours
 * after its last event that it did not see (the server was down) do not
 * lower its baseline; text riskd did not write changes nothing. */
static void kept_as_text(void **st)
{
    (void)st;
    rk_rates_t *r = rk_rates_new(), *back = rk_rates_new();
    for (int h = 0; h < 30; h++)
        for (int k = 0; k <= h % 5; k++) rk_rates_hit(r, "f", T0 + h * H + k * 1000);
    rk_rates_hit(r, "g", T0 + 29 * H + 5);
    rk_rate_info_t i;
    rk_rates_get(r, "asked_only", T0, &i);   /* registered, never hit: not kept */
    char *text = rk_rates_encode(r);
    assert_non_null(text);
    assert_null(strstr(text, "asked_only"));
    rk_rates_hit(back, "stale", T0);
    assert_int_equal(rk_rates_decode(back, text), 0);
    const char *names[] = { "f", "g", "stale" };
    for (int h = 29; h < 31; h++)
        for (int n = 0; n < 3; n++) {
            rk_rate_info_t a, b;
            rk_rates_get(r, names[n], T0 + h * H + H / 3, &a);
            rk_rates_get(back, names[n], T0 + h * H + H / 3, &b);
            assert_true(a.last_hour == b.last_hour && a.baseline == b.baseline && a.hours == b.hours);
        }
    rk_rates_get(back, "stale", T0 + H, &i);   /* the decoded table replaced the old one */
    assert_true(i.last_hour == 0 && i.hours == 0);
    /* back after a week: the week's hours are not folded in as empty ones */
    rk_rate_info_t up, down;
    rk_rates_get(r, "f", T0 + 29 * H, &i);
    rk_rates_get(r, "f", T0 + 200 * H, &up);
    rk_rates_get(back, "f", T0 + 200 * H, &down);
    assert_int_equal(up.hours, i.hours + 171);
    assert_int_equal(down.hours, i.hours + 1);
    double cur = 29 % 5 + 1;   /* hour 29's hits */
    assert_true(fabs(down.baseline - ((1 - RK_RATES_ALPHA) * i.baseline + RK_RATES_ALPHA * cur)) < 1e-9);
    assert_true(up.baseline < down.baseline / 4);
    /* once an event came, the table goes on as any other: later empty hours count */
    rk_rates_hit(back, "f", T0 + 200 * H);
    rk_rates_get(back, "f", T0 + 203 * H, &up);
    assert_int_equal(up.hours, i.hours + 4);
    const char *bad[] = { "", "riskd-rates 2\n", "riskd-rates 1\nf 1 2 3\n", "riskd-rates 1\nf 1 -2 0 0 0\n",
                          "riskd-rates 1\nf 1 nan 0 0 0\n", "riskd-rates 1\nf 1 0 0 0 0\nf 2 0 0 0 0\n",
                          "riskd-rates 1\nf 1 0 0 0 0\njunk" };
    rk_rates_hit(back, "f", T0 + 30 * H);
    rk_rates_get(back, "f", T0 + 30 * H, &i);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(rk_rates_decode(back, bad[k]), -1);
        rk_rate_info_t j;
        rk_rates_get(back, "f", T0 + 30 * H, &j);
        assert_true(j.last_hour == i.last_hour && j.hours == i.hours);
    }
    free(text);
    rk_rates_free(r);
    rk_rates_free(back);
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

/* The sliding last hour at ms into the hour: this hour's count and the rest
 * of the previous one's. */
static int near(double got, double cur, double prev, int64_t ms)
{
    return fabs(got - (cur + prev * (1 - (double)ms / (double)H))) < 1e-9;
}

/* Two instances sharing through one store (mem: shares rates within a
 * process as MongoDB does between instances): each sees the site's hits,
 * its own counted once, and a late third instance starts from the shared
 * history instead of an empty baseline. */
static void shared_between_instances(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = rk_store_open("mem:", NULL, err, sizeof err);
    assert_non_null(s);
    assert_true(rk_store_shares_rates(s));
    rk_rates_t *a = rk_rates_new(), *b = rk_rates_new();
    rk_rate_info_t i;
    /* 30 hours of 2 failures an hour on A, synced each hour; B idle */
    for (int h = 0; h < 30; h++) {
        rk_rates_hit(a, "f", T0 + h * H + 1000);
        rk_rates_hit(a, "f", T0 + h * H + 2000);
        assert_int_equal(rk_rates_sync_once(a, s, err, sizeof err), 0);
    }
    /* B never counted "f": asking registers it, and a sync brings the site's figures and history */
    rk_rates_get(b, "f", T0 + 29 * H + 3000, &i);
    assert_true(i.last_hour == 0 && i.hours == 0);
    assert_int_equal(rk_rates_sync_once(b, s, err, sizeof err), 0);
    rk_rates_get(b, "f", T0 + 29 * H + 3000, &i);
    assert_true(near(i.last_hour, 2, 2, 3000));
    assert_int_equal(i.hours, 29);                    /* hours 0..28: the seed */
    assert_true(fabs(i.baseline - 2) < 1e-9);
    /* a spike split between the two: each sees all of it after a round each */
    for (int k = 0; k < 40; k++) rk_rates_hit(k % 2 ? a : b, "f", T0 + 29 * H + 10000 + k);
    assert_int_equal(rk_rates_sync_once(a, s, err, sizeof err), 0);
    assert_int_equal(rk_rates_sync_once(b, s, err, sizeof err), 0);
    assert_int_equal(rk_rates_sync_once(a, s, err, sizeof err), 0);
    rk_rate_info_t ia, ib;
    rk_rates_get(a, "f", T0 + 29 * H + 20000, &ia);
    rk_rates_get(b, "f", T0 + 29 * H + 20000, &ib);
    assert_true(near(ia.last_hour, 42, 2, 20000) && near(ib.last_hour, 42, 2, 20000));   /* 2 + 40, nothing twice */
    /* hits counted between the take and the merge are kept */
    rk_rate_delta_t d[RK_RATES_MAX];
    assert_int_equal(rk_rates_take(a, d, RK_RATES_MAX), 1);
    rk_rates_hit(a, "f", T0 + 29 * H + 30000);
    rk_rates_merge(a, "f", d[0].hour, 42, 2);
    rk_rates_get(a, "f", T0 + 29 * H + 30000, &ia);
    assert_true(near(ia.last_hour, 43, 2, 30000));
    /* ...and what the store could not take is given back to the next round */
    rk_rates_untake(a, &d[0]);
    assert_int_equal(rk_rates_take(a, d, RK_RATES_MAX), 1);
    assert_true(d[0].cur == 1);
    rk_rates_untake(a, &d[0]);
    assert_int_equal(rk_rates_sync_once(a, s, err, sizeof err), 0);
    int64_t c[2], first;
    assert_int_equal(rk_store_rate_counts(s, "f", T0 / H + 28, T0 / H + 29, c, &first, err, sizeof err), 0);
    assert_true(c[0] == 2 && c[1] == 43 && first == T0 / H + 28);
    /* a third instance, late: its baseline is the site's, not empty */
    rk_rates_t *late = rk_rates_new();
    rk_rates_hit(late, "f", T0 + 29 * H + 40000);
    assert_int_equal(rk_rates_sync_once(late, s, err, sizeof err), 0);
    rk_rates_get(late, "f", T0 + 29 * H + 40000, &i);
    assert_int_equal(i.hours, 29);
    assert_true(near(i.last_hour, 44, 2, 40000));
    /* the hour turns: the baseline folds the site's count of the hour that ended */
    rk_rates_get(late, "f", T0 + 30 * H + 1000, &i);
    assert_int_equal(i.hours, 30);
    assert_true(fabs(i.baseline - (0.95 * 2 + 0.05 * 44)) < 1e-9);
    /* a backend that does not share: the error says so */
    rk_store_t *sq = rk_store_open("sqlite::memory:", NULL, err, sizeof err);
    assert_false(rk_store_shares_rates(sq));
    assert_int_equal(rk_rates_sync_once(late, sq, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not share rates"));
    rk_store_close(sq);
    rk_rates_free(a);
    rk_rates_free(b);
    rk_rates_free(late);
    rk_store_close(s);
}

/* The thread: started only on a backend that shares, rounds counted, a last
 * round at stop so that no counted hit stays unshared. */
static void syncer_thread(void **st)
{
    (void)st;
    char err[512];
    int off = 0;
    rk_rates_t *r = rk_rates_new();
    assert_null(rk_rates_syncer_start(r, "sqlite::memory:", 10, &off, err, sizeof err));
    assert_int_equal(off, 1);
    assert_null(rk_rates_syncer_start(r, "nope:", 10, &off, err, sizeof err));
    assert_int_equal(off, 0);
    assert_non_null(strstr(err, "unknown store"));
    rk_rates_syncer_t *y = rk_rates_syncer_start(r, "mem:", 10, &off, err, sizeof err);
    assert_non_null(y);
    rk_rates_hit(r, "f", T0);
    int64_t rounds = 0, failures = 0;
    for (int k = 0; k < 500 && rounds < 2; k++) { usleep(2000); rk_rates_syncer_counts(y, &rounds, &failures); }
    assert_true(rounds >= 2);
    assert_int_equal(failures, 0);
    rk_rates_syncer_stop(y);
    rk_rates_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sliding_hour), cmocka_unit_test(baseline), cmocka_unit_test(kept_as_text), cmocka_unit_test(limits), cmocka_unit_test(threads),
        cmocka_unit_test(shared_between_instances), cmocka_unit_test(syncer_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
