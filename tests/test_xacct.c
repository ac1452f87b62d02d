/* test_xacct.c — cross-account memory: other accounts, the window, the
 * flags (new device, newcomers and regulars of a network), bounded slots and ways, and many threads at once. */
#include "test_util.h"
#include "xacct.h"

#include <pthread.h>

static void counts_other_accounts(void **st)
{
    (void)st;
    rk_xacct_t *x = rk_xacct_new(1024);
    assert_non_null(x);
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "alice", 0, 0), 0);
    rk_xacct_note(x, "n:203.0.113", "alice", 1000, RK_XACCT_NEW_DEVICE);
    rk_xacct_note(x, "n:203.0.113", "bob", 2000, 0);
    rk_xacct_note(x, "n:203.0.113", "bob", 2500, 0);   /* the same account once */
    rk_xacct_note(x, "n:203.0.113", "carol", 3000, RK_XACCT_NEW_DEVICE);
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "alice", 0, 0), 2);          /* bob, carol */
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "dave", 0, 0), 3);
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "dave", 0, RK_XACCT_NEW_DEVICE), 2);   /* alice, carol */
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "dave", 2600, 0), 1);      /* only carol since */
    assert_int_equal(rk_xacct_others(x, "n:198.51.100", "dave", 0, 0), 0);        /* another key */
    /* a later new-device sign-in marks the account */
    rk_xacct_note(x, "n:203.0.113", "bob", 4000, RK_XACCT_NEW_DEVICE);
    assert_int_equal(rk_xacct_others(x, "n:203.0.113", "dave", 0, RK_XACCT_NEW_DEVICE), 3);
    rk_xacct_free(x);
    rk_xacct_free(NULL);
}

static void regulars_and_newcomers(void **st)
{
    (void)st;
    rk_xacct_t *x = rk_xacct_new(64);
    /* an exit: two victims, each for the first time */
    rk_xacct_note(x, "n:exit", "v1", 1000, RK_XACCT_NEW_DEVICE | RK_XACCT_NEW_NETWORK);
    rk_xacct_note(x, "n:exit", "v2", 2000, RK_XACCT_NEW_DEVICE | RK_XACCT_NEW_NETWORK);
    assert_int_equal(rk_xacct_others(x, "n:exit", "v3", 0, RK_XACCT_NEW_NETWORK), 2);
    assert_int_equal(rk_xacct_others(x, "n:exit", "v3", 0, RK_XACCT_KNOWN_NETWORK), 0);
    /* both flags at once: an account counts only with both */
    assert_int_equal(rk_xacct_others(x, "n:exit", "v3", 0, RK_XACCT_NEW_DEVICE | RK_XACCT_NEW_NETWORK), 2);
    /* an office: a newcomer who comes back is a regular from then on */
    rk_xacct_note(x, "n:office", "amy", 1000, RK_XACCT_NEW_NETWORK);
    assert_int_equal(rk_xacct_others(x, "n:office", "ben", 0, RK_XACCT_KNOWN_NETWORK), 0);
    rk_xacct_note(x, "n:office", "amy", 5000, RK_XACCT_KNOWN_NETWORK);
    assert_int_equal(rk_xacct_others(x, "n:office", "ben", 0, RK_XACCT_KNOWN_NETWORK), 1);
    assert_int_equal(rk_xacct_others(x, "n:office", "ben", 0, RK_XACCT_NEW_NETWORK), 1);
    assert_int_equal(rk_xacct_others(x, "n:office", "amy", 0, RK_XACCT_KNOWN_NETWORK), 0);   /* never oneself */
    rk_xacct_free(x);
}

static void bounded(void **st)
{
    (void)st;
    rk_xacct_t *x = rk_xacct_new(1);   /* one slot: every key takes it over */
    rk_xacct_note(x, "a", "u1", 1, 0);
    rk_xacct_note(x, "b", "u2", 2, 0);
    assert_int_equal(rk_xacct_others(x, "a", "z", 0, 0), 0);   /* forgotten, never mixed with b */
    assert_int_equal(rk_xacct_others(x, "b", "z", 0, 0), 1);
    char name[32];
    for (int i = 0; i < 3 * RK_XACCT_WAYS; i++) {
        snprintf(name, sizeof name, "user%d", i);
        rk_xacct_note(x, "b", name, 100 + i, 0);
    }
    assert_int_equal(rk_xacct_others(x, "b", "z", 0, 0), RK_XACCT_WAYS);   /* the most recent ones */
    assert_int_equal(rk_xacct_others(x, "b", "z", 100 + 2 * RK_XACCT_WAYS, 0), RK_XACCT_WAYS);
    rk_xacct_free(x);
}

static rk_xacct_t *shared;

static void *hammer(void *arg)
{
    char user[32], key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(user, sizeof user, "t%ld-u%d", (long)(intptr_t)arg, i % 50);
        snprintf(key, sizeof key, "n:%d", i % 300);
        rk_xacct_note(shared, key, user, i, (unsigned)(i & 1));
        (void)rk_xacct_others(shared, key, user, 0, 0);
    }
    return NULL;
}

static void many_threads(void **st)
{
    (void)st;
    shared = rk_xacct_new(256);
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int k = 0; k < 300; k++) {   /* a key may have been taken over by another: never more than the ways */
        char key[32];
        snprintf(key, sizeof key, "n:%d", k);
        int n = rk_xacct_others(shared, key, "nobody", 0, 0);
        assert_true(n >= 0 && n <= RK_XACCT_WAYS);
    }
    rk_xacct_note(shared, "n:after", "u", 1, 0);
    assert_int_equal(rk_xacct_others(shared, "n:after", "nobody", 0, 0), 1);
    rk_xacct_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_other_accounts),
        cmocka_unit_test(regulars_and_newcomers),
        cmocka_unit_test(bounded),
        cmocka_unit_test(many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
