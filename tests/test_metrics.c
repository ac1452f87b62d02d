/* test_metrics.c — counts, histograms and the exposition text. */
#include "test_util.h"
#include "metrics.h"

#include <pthread.h>

static void renders_requests_by_route_and_status(void **st)
{
    (void)st;
    rk_metrics_t *m = rk_metrics_new(2);
    rk_metrics_request(m, 0, "/healthz", 200, 0.0002);
    rk_metrics_request(m, 1, "/healthz", 200, 0.003);
    rk_metrics_request(m, 1, "/healthz", 500, 2.0);
    rk_metrics_request(m, 0, NULL, 404, 0.0001);
    rk_metrics_request(m, 0, "a\"b\\c", 200, 0.0001);
    rk_metrics_request(m, 7, "/ignored", 200, 0.1); /* out of range worker */
    rk_metrics_inc(m, RK_M_RELOADS);
    rk_metrics_inc(m, RK_M_RELOADS);
    rk_metrics_set_lua_memory(m, 1, 12345);
    rk_metrics_set_generation(m, 3);
    size_t len;
    char *t = rk_metrics_render(m, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    assert_non_null(strstr(t, "riskd_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n"));
    assert_non_null(strstr(t, "riskd_http_requests_total{route=\"/healthz\",status=\"500\"} 1\n"));
    assert_non_null(strstr(t, "riskd_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    assert_non_null(strstr(t, "route=\"a\\\"b\\\\c\""));
    assert_null(strstr(t, "/ignored"));
    /* Buckets are cumulative: 0.0002 s lands in le=0.00025 and every later one. */
    assert_non_null(strstr(t, "riskd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(t, "riskd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t, "riskd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "riskd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "riskd_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"));
    assert_non_null(strstr(t, "riskd_reloads_total 2\n"));
    assert_non_null(strstr(t, "riskd_reload_failures_total 0\n"));
    assert_non_null(strstr(t, "riskd_lua_memory_bytes{worker=\"1\"} 12345\n"));
    assert_non_null(strstr(t, "riskd_script_generation 3\n"));
    assert_int_equal(rk_metrics_get(m, RK_M_RELOADS), 2);
    free(t);
    rk_metrics_free(m);
    rk_metrics_free(NULL);
}

static void too_many_routes_fold_into_other(void **st)
{
    (void)st;
    rk_metrics_t *m = rk_metrics_new(1);
    char name[32];
    for (int i = 0; i < RK_METRICS_MAX_ROUTES + 10; i++) {
        snprintf(name, sizeof name, "/r%d", i);
        rk_metrics_request(m, 0, name, 200, 0.001);
    }
    char *t = rk_metrics_render(m, NULL);
    assert_non_null(strstr(t, "route=\"other\",status=\"200\"} 11\n"));
    free(t);
    rk_metrics_free(m);
}

typedef struct { rk_metrics_t *m; int w; } arg_t;

static void *hammer(void *p)
{
    arg_t *a = p;
    for (int i = 0; i < 20000; i++) rk_metrics_request(a->m, a->w, "/x", 200, 0.0001);
    return NULL;
}

static void concurrent_workers_lose_nothing(void **st)
{
    (void)st;
    rk_metrics_t *m = rk_metrics_new(4);
    pthread_t th[4];
    arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (arg_t){ m, i };
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    /* Scrape while they write. */
    for (int i = 0; i < 20; i++) free(rk_metrics_render(m, NULL));
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    char *t = rk_metrics_render(m, NULL);
    assert_non_null(strstr(t, "riskd_http_requests_total{route=\"/x\",status=\"200\"} 80000\n"));
    free(t);
    rk_metrics_free(m);
}

/* Rule counters: one index per name (kept across reloads), counted from
 * any thread, rendered by rule; a full table gives -1 and counts nothing. */
static void rule_counters(void **st)
{
    (void)st;
    rk_metrics_t *m = rk_metrics_new(2);
    int a = rk_metrics_rule_index(m, "brute_force"), b = rk_metrics_rule_index(m, "new \"device\"");
    assert_int_equal(rk_metrics_rule_index(m, "brute_force"), a);   /* same name, same counters */
    assert_int_not_equal(a, b);
    rk_metrics_rule_count(m, a, 1, 0);
    rk_metrics_rule_count(m, a, 1, 0);
    rk_metrics_rule_count(m, b, 0, 1);
    rk_metrics_rule_count(m, -1, 1, 1);   /* no index: ignored */
    unsigned long long hits, errors;
    rk_metrics_rule_get(m, a, &hits, &errors);
    assert_true(hits == 2 && errors == 0);
    rk_metrics_rule_get(m, b, &hits, &errors);
    assert_true(hits == 0 && errors == 1);
    size_t len;
    char *text = rk_metrics_render(m, &len);
    assert_non_null(strstr(text, "riskd_rule_hits_total{rule=\"brute_force\"} 2\n"));
    assert_non_null(strstr(text, "riskd_rule_failures_total{rule=\"new \\\"device\\\"\"} 1\n"));
    free(text);
    char name[32];
    int last = 0;
    for (int i = 0; i < RK_METRICS_MAX_RULES + 5; i++) {
        snprintf(name, sizeof name, "rule%d", i);
        last = rk_metrics_rule_index(m, name);
    }
    assert_int_equal(last, -1);
    rk_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_requests_by_route_and_status),
        cmocka_unit_test(too_many_routes_fold_into_other),
        cmocka_unit_test(concurrent_workers_lose_nothing),
        cmocka_unit_test(rule_counters),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
