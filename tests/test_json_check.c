/* test_json_check.c — the strict JSON check in front of cjson. */
#include "test_util.h"
#include "json_check.h"

static int ok(const char *s) { char err[256]; return rk_json_check(s, strlen(s), err, sizeof err) == 0; }

static void accepts_json(void **st)
{
    (void)st;
    assert_true(ok("{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":\"\\u00e9t\\u00e9 \xc3\xa9\"}"));
    assert_true(ok("\"a bare string\""));
    assert_true(ok("{\"a\":{\"x\":1},\"b\":{\"x\":2}}"));   /* the same key in two objects */
    assert_true(ok("1.5e300"));
}

static void refuses_the_rest(void **st)
{
    (void)st;
    char err[256];
    const char *dup = "{\"a\":1,\"a\":2}";
    assert_int_equal(rk_json_check(dup, strlen(dup), err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
    assert_non_null(strstr(err, "column"));
    const char *utf = "{\"a\":\"\xff\"}";
    assert_int_equal(rk_json_check(utf, strlen(utf), err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid UTF-8"));
    assert_false(ok("{\"a\":\"\xc0\xaf\"}"));       /* overlong */
    assert_false(ok("{\"a\":\"\\ud800\"}"));        /* lone surrogate */
    assert_false(ok("{\"a\":\"x\\u0000y\"}"));      /* NUL */
    assert_false(ok("NaN"));
    assert_false(ok("[Infinity]"));
    assert_false(ok("[0x10]"));
    assert_false(ok("[1e400]"));
    assert_false(ok("{\"a\":1,}"));
    assert_false(ok("{\"a\":1} trailing"));
    assert_false(ok(""));
    /* Embedded NUL in the text itself: the length, not strlen, counts. */
    assert_int_equal(rk_json_check("{}\0{}", 5, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_json),
        cmocka_unit_test(refuses_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
