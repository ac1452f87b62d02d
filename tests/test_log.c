/* test_log.c — log lines are single, valid JSON objects, the MongoDB
 * driver's included. */
#include "test_util.h"
#include "log.h"
#include "mongo_init.h"

#include <mongoc/mongoc.h>

static char *capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    rk_log_set_fd(fds[1]);
    fn();
    rk_log_set_fd(2);
    close(fds[1]);
    char *buf = calloc(1, 65536);
    ssize_t n = read(fds[0], buf, 65535);
    assert_true(n >= 0);
    close(fds[0]);
    return buf;
}

static void emit_fields(void)
{
    rk_log_t e;
    rk_log_begin(&e, RK_LOG_INFO, "hello");
    rk_log_str(&e, "s", "quote\" back\\ nl\n tab\t ctl\x01 bad\xff ok\xc3\xa9");
    rk_log_int(&e, "i", -42);
    rk_log_num(&e, "x", 0.5);
    rk_log_bool(&e, "b", 1);
    rk_log_str(&e, "null", NULL);
    rk_log_end(&e);
}

static void emit_driver(void)
{
    rk_mongo_init();
    mongoc_log(MONGOC_LOG_LEVEL_WARNING, "counters", "Falling back to malloc for counters.");
    mongoc_log(MONGOC_LOG_LEVEL_TRACE, "cluster", "entering a function");
}

/* The driver prints plain lines on stderr unless told otherwise: in a log
 * of one JSON object a line they would break readers (and did, in CI). */
static void mongo_driver_logs_as_json(void **st)
{
    (void)st;
    char *out = capture(emit_driver);
    assert_non_null(strstr(out, "\"level\":\"warn\""));
    assert_non_null(strstr(out, "\"msg\":\"mongodb driver\""));
    assert_non_null(strstr(out, "\"domain\":\"counters\",\"message\":\"Falling back to malloc for counters.\""));
    assert_null(strstr(out, "entering a function"));   /* its tracing is not ours to log */
    /* one line, the warning's, and JSON from its first byte */
    assert_int_equal(out[0], '{');
    assert_ptr_equal(strchr(out, '\n') + 1, out + strlen(out));
    free(out);
}

static void fields_are_escaped(void **st)
{
    (void)st;
    char *out = capture(emit_fields);
    assert_non_null(strstr(out, "\"level\":\"info\",\"msg\":\"hello\""));
    assert_non_null(strstr(out, "\"s\":\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 bad\\ufffd ok\xc3\xa9\""));
    assert_non_null(strstr(out, "\"i\":-42,\"x\":0.5,\"b\":true,\"null\":null}\n"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    free(out);
}

static void emit_below_level(void)
{
    rk_log_set_level(RK_LOG_WARN);
    rk_log_msg(RK_LOG_INFO, "quiet", NULL, NULL);
    rk_log_msg(RK_LOG_ERROR, "loud", "k", "v");
    rk_log_set_level(RK_LOG_INFO);
}

static void level_filters(void **st)
{
    (void)st;
    char *out = capture(emit_below_level);
    assert_null(strstr(out, "quiet"));
    assert_non_null(strstr(out, "\"level\":\"error\",\"msg\":\"loud\",\"k\":\"v\"}"));
    free(out);
    rk_log_level l;
    assert_int_equal(rk_log_parse_level("debug", &l), 0);
    assert_int_equal(l, RK_LOG_DEBUG);
    assert_int_equal(rk_log_parse_level("loud", &l), -1);
}

static void emit_huge(void)
{
    static char big[10000];
    memset(big, 'a', sizeof big - 1);
    rk_log_t e;
    rk_log_begin(&e, RK_LOG_INFO, "big");
    rk_log_str(&e, "v", big);
    rk_log_int(&e, "after", 1);
    rk_log_end(&e);
}

static void long_lines_are_cut_not_broken(void **st)
{
    (void)st;
    char *out = capture(emit_huge);
    size_t n = strlen(out);
    assert_true(n <= RK_LOG_LINE_MAX);
    assert_string_equal(out + n - 19, ",\"truncated\":true}\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mongo_driver_logs_as_json),
        cmocka_unit_test(fields_are_escaped),
        cmocka_unit_test(level_filters),
        cmocka_unit_test(long_lines_are_cut_not_broken),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
