/* test_deliver.c — the delivery's pure parts: the signature (RFC 4231's
 * HMAC-SHA256 vector), the back-off, syslog's RFC 5424 form, which
 * destinations are valid, and a delivery to a file (whole lines). */
#include "test_util.h"
#include "deliver.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void signature(void **st)
{
    (void)st;
    char sig[RK_DELIVER_SIG_LEN + 1];
    /* RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?" */
    rk_deliver_sign("Jefe", "what do ya want for nothing?", 28, sig);
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    char other[RK_DELIVER_SIG_LEN + 1];
    rk_deliver_sign("Jefe", "what do ya want for nothing!", 28, other);
    assert_string_not_equal(sig, other);
}

static void backoff(void **st)
{
    (void)st;
    assert_int_equal(rk_deliver_next(1, 5000, 1000), 6000);
    assert_int_equal(rk_deliver_next(2, 5000, 1000), 11000);
    assert_int_equal(rk_deliver_next(4, 5000, 0), 40000);
    assert_int_equal(rk_deliver_next(30, 5000, 0), RK_DELIVER_MAX_BACKOFF_MS);   /* at most an hour */
}

static void syslog_form(void **st)
{
    (void)st;
    char out[256];
    size_t n = rk_deliver_syslog(out, sizeof out, 4, 1700000000123LL, "edge1", "alert", "{\"a\":1}");
    assert_string_equal(out, "<84>1 2023-11-14T22:13:20.123Z edge1 riskd - alert - {\"a\":1}");
    assert_int_equal(n, strlen(out));
    assert_int_equal(rk_deliver_syslog(out, 20, 4, 0, "h", "alert", "{\"a\":1}"), 0);   /* does not fit */
    rk_deliver_syslog(out, sizeof out, 9, 0, "", "", "x");
    assert_string_equal(out, "<87>1 1970-01-01T00:00:00.000Z - riskd - - - x");     /* clamped, nil values */
}

static void destinations(void **st)
{
    (void)st;
    assert_true(rk_deliver_dest_valid("https://hooks.example/a?b=c"));
    assert_true(rk_deliver_dest_valid("http://127.0.0.1:8080/x"));
    assert_true(rk_deliver_dest_valid("udp://siem.example:514"));
    assert_true(rk_deliver_dest_valid("tcp://[2001:db8::1]:601"));
    assert_true(rk_deliver_dest_valid("file:/var/log/riskd/alerts.jsonl"));
    assert_false(rk_deliver_dest_valid("ftp://x/y"));
    assert_false(rk_deliver_dest_valid("udp://siem.example"));
    assert_false(rk_deliver_dest_valid("tcp://x:70000"));
    assert_false(rk_deliver_dest_valid("file:"));
    assert_false(rk_deliver_dest_valid("http://"));
    assert_false(rk_deliver_dest_valid(NULL));
}

static void to_a_file(void **st)
{
    (void)st;
    char dir[] = "/tmp/riskd-deliver-XXXXXX", dest[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(dest, sizeof dest, "file:%s/siem.jsonl", dir);
    rk_deliver_opts_t o = { "", "", 1000, 3, 1000 };
    rk_deliverer_t *d = rk_deliverer_new(&o, err, sizeof err);
    assert_non_null(d);
    rk_outbox_item_t it = { .dest = dest, .kind = "event", .body = "{\"n\":1}" };
    assert_int_equal(rk_deliver_once(d, &it, err, sizeof err), 0);
    it.body = "{\"n\":2}";
    assert_int_equal(rk_deliver_once(d, &it, err, sizeof err), 0);
    char buf[64] = { 0 };
    int fd = open(dest + 5, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof buf - 1), 16);
    close(fd);
    assert_string_equal(buf, "{\"n\":1}\n{\"n\":2}\n");
    /* what cannot be delivered says why */
    snprintf(dest, sizeof dest, "file:%s/no/such/folder/x", dir);
    assert_int_equal(rk_deliver_once(d, &it, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    it.dest = "http://127.0.0.1:1/closed";
    assert_int_equal(rk_deliver_once(d, &it, err, sizeof err), -1);
    assert_non_null(strstr(err, "no answer"));
    it.dest = "gopher://x";
    assert_int_equal(rk_deliver_once(d, &it, err, sizeof err), -1);
    assert_string_equal(err, "unknown destination");
    rk_deliverer_stop(d);
    snprintf(dest, sizeof dest, "rm -rf %s", dir);
    assert_int_equal(system(dest), 0);
    /* the memory store keeps no outbox: nothing starts, and that is no error */
    int off = 0;
    assert_null(rk_deliverer_start("mem:", &o, &off, err, sizeof err));
    assert_int_equal(off, 1);
    assert_string_equal(err, "");
    /* a CA file that is not one is refused at start */
    rk_deliver_opts_t bad = { "", "/nonexistent/ca.pem", 1000, 3, 1000 };
    assert_null(rk_deliverer_new(&bad, err, sizeof err));
    assert_non_null(strstr(err, "CA file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signature),
        cmocka_unit_test(backoff),
        cmocka_unit_test(syslog_form),
        cmocka_unit_test(destinations),
        cmocka_unit_test(to_a_file),
    };
    return cmocka_run_group_tests_name("deliver", tests, NULL, NULL);
}
