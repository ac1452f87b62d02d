/* test_rt_hub.c — the real-time message bus: numbering, the backlog ring and
 * what a late reader is told it missed, watchers woken on publish from
 * several threads, subscriber counts. */
#include "test_util.h"
#include "rt_hub.h"

#include <pthread.h>

static int woken;
static void wake(void *arg) { __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST); }

static void ring(void **st)
{
    (void)st;
    rk_hub_t *h = rk_hub_new(4);
    assert_non_null(h);
    assert_int_equal(rk_hub_watch(h, wake, &woken), 0);
    rk_hub_msg_t *m[8];
    uint64_t missed;
    assert_int_equal(rk_hub_read(h, 0, m, 8, &missed), 0);
    assert_int_equal(missed, 0);
    for (int i = 1; i <= 6; i++) {
        char js[32];
        int n = snprintf(js, sizeof js, "{\"n\":%d}", i);
        assert_int_equal(rk_hub_publish(h, i % 2 ? "alerts" : "events", i % 4, js, (size_t)n), (uint64_t)i);
    }
    assert_int_equal(woken, 6);
    assert_int_equal(rk_hub_last_id(h), 6);
    /* 4 kept: 3..6; a reader after 1 missed 2 */
    size_t n = rk_hub_read(h, 1, m, 8, &missed);
    assert_int_equal(n, 4);
    assert_int_equal(missed, 1);
    assert_int_equal(m[0]->id, 3);
    assert_string_equal(m[0]->json, "{\"n\":3}");
    assert_string_equal(m[0]->topic, "alerts");
    assert_int_equal(m[3]->level, 2);
    /* a message held by a reader outlives its slot */
    for (int i = 0; i < 4; i++) rk_hub_publish(h, "rules", 0, "{}", 2);
    assert_string_equal(m[1]->json, "{\"n\":4}");
    for (size_t i = 0; i < n; i++) rk_hub_release(m[i]);
    /* up to date: nothing, nothing missed; max respected */
    assert_int_equal(rk_hub_read(h, 10, m, 8, &missed), 0);
    assert_int_equal(missed, 0);
    assert_int_equal(rk_hub_read(h, 7, m, 2, &missed), 2);
    rk_hub_release(m[0]);
    rk_hub_release(m[1]);
    rk_hub_free(h);
}

static void subscribers(void **st)
{
    (void)st;
    rk_hub_t *h = rk_hub_new(8);
    assert_int_equal(rk_hub_topic_index("alerts"), 0);
    assert_int_equal(rk_hub_topic_index("nope"), -1);
    assert_int_equal(rk_hub_topic_index(NULL), -1);
    assert_int_equal(rk_hub_topic_index("models"), RK_TOPIC_MODELS);
    assert_string_equal(rk_hub_topic_name(RK_TOPIC_EVENTS), "events");
    assert_null(rk_hub_topic_name(RK_HUB_NTOPICS));
    assert_null(rk_hub_topic_name(-1));
    assert_int_equal(rk_hub_subscribers(h, "events"), 0);
    rk_hub_subscribers_add(h, "events", 2);
    rk_hub_subscribers_add(h, "events", -1);
    rk_hub_subscribers_add(h, "nope", 5);
    assert_int_equal(rk_hub_subscribers(h, "events"), 1);
    assert_int_equal(rk_hub_subscribers(h, "nope"), 0);
    rk_hub_free(h);
}

static rk_hub_t *shared;
static void *publisher(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) rk_hub_publish(shared, "events", 1, "{\"x\":1}", 7);
    return NULL;
}

/* Four threads publishing at once: ids unique and dense, nothing lost. */
static void threads(void **st)
{
    (void)st;
    int count = 0;
    shared = rk_hub_new(64);
    rk_hub_watch(shared, wake, &count);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, publisher, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(rk_hub_last_id(shared), 40000);
    assert_int_equal(count, 40000);
    rk_hub_msg_t *m[64];
    uint64_t missed;
    size_t n = rk_hub_read(shared, 0, m, 64, &missed);
    assert_int_equal(n, 64);
    assert_int_equal(missed, 40000 - 64);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i]->id, 40000 - 63 + i);
        rk_hub_release(m[i]);
    }
    rk_hub_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring),
        cmocka_unit_test(subscribers),
        cmocka_unit_test(threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
