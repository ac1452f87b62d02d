/* test_csv.c — numeric CSV: numbers parsed exactly, errors located. */
#include "test_util.h"
#include "csv.h"

#include <math.h>

static void numbers(void **st)
{
    (void)st;
    const char *cases[] = { "0", "1", "-2.5", "3.14159", "1e3", "-1.5E-4", "0.1", "123456789012345",
                            "1234567890.123456789", "1e-300", "+7", ".5", "5.", "2.2250738585072014e-308" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v;
        const char *s = cases[i], *e = s + strlen(s);
        assert_ptr_equal(rk_csv_number(s, e, &v), e);
        if (v != strtod(s, NULL)) fail_msg("%s: %.17g, strtod %.17g", s, v, strtod(s, NULL));
    }
    const char *bad[] = { "", "-", "x", "nan", "1e", "." };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        assert_null(rk_csv_number(bad[i], bad[i] + strlen(bad[i]), &v));
    }
    char buf[32];
    assert_int_equal(rk_csv_format_unit(0.5, buf), 17);
    buf[17] = 0;
    assert_string_equal(buf, "0.500000000000000");
    rk_csv_format_unit(1.0, buf);
    assert_string_equal(buf, "1.000000000000000");
    rk_csv_format_unit(0.123456789012345678, buf);
    assert_string_equal(buf, "0.123456789012346");
}

static char *dir;

static int read_text(const char *text, const char *label, rk_csv_t *t, char *err)
{
    write_file(dir, "t.csv", text);
    char path[1024];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    return rk_csv_read(path, label, t, err, 512);
}

static void tables(void **st)
{
    (void)st;
    dir = tmp_dir();
    char err[512];
    rk_csv_t t;
    assert_int_equal(read_text("a, \"b c\",label\r\n1,2,0\r\n\r\n3, 4.5 ,1\n", "label", &t, err), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.d, 2);
    assert_string_equal(t.names[1], "b c");
    assert_true(t.X[3] == 4.5);
    assert_int_equal(t.labels[1], 1);
    rk_csv_free(&t);
    assert_int_equal(read_text("a,b\n1,2", NULL, &t, err), 0);   /* no final newline */
    assert_null(t.labels);
    rk_csv_free(&t);

    struct { const char *text, *label, *msg; } bad[] = {
        { "", NULL, "empty file" },
        { "\n1,2\n", NULL, ":1: empty header row" },
        { "a,b\n", NULL, "no data rows" },
        { "a,b\n1,2\n3\n", NULL, ":3: expected 2 columns, got 1" },
        { "a,b\n1,2,3\n", NULL, ":2: expected 2 columns, got 3" },
        { "a,b\n1,x\n", NULL, ":2:2: not a number: 'x'" },
        { "a,b\n1,\n", NULL, ":2:2: empty cell" },
        { "a,b\n1,2\n", "label", ":1: no column 'label' in the header" },
        { "label\n1\n", "label", "no feature columns" },
        { "a,,b\n1,2,3\n", NULL, ":1:2: empty column name" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(read_text(bad[i].text, bad[i].label, &t, err), -1);
        if (!strstr(err, bad[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
        assert_null(t.X);
    }
    assert_int_equal(rk_csv_read("/nonexistent.csv", NULL, &t, err, sizeof err), -1);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),
        cmocka_unit_test(tables),
    };
    return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
