/* test_netaddr.c — IP parsing, CIDR matching, X-Forwarded-For policy. */
#include "test_util.h"
#include "netaddr.h"

static rk_ip_t ip(const char *s)
{
    rk_ip_t x;
    assert_int_equal(rk_ip_parse(s, strlen(s), &x), 0);
    return x;
}

static void parses_both_families(void **st)
{
    (void)st;
    rk_ip_t a = ip("192.0.2.1"), b = ip("::ffff:192.0.2.1"), c = ip("[2001:db8::1]");
    char buf[64];
    assert_true(a.v4);
    assert_true(b.v4);
    assert_memory_equal(a.b, b.b, 16);
    assert_false(c.v4);
    rk_ip_format(&c, buf, sizeof buf);
    assert_string_equal(buf, "2001:db8::1");
    rk_ip_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.1");
    rk_ip_t x;
    assert_int_equal(rk_ip_parse("300.1.1.1", 9, &x), -1);
    assert_int_equal(rk_ip_parse("", 0, &x), -1);
    assert_int_equal(rk_ip_parse("1.2.3", 5, &x), -1);
    assert_int_equal(rk_ip_parse("not-an-ip", 9, &x), -1);
}

static void cidr_contains(void **st)
{
    (void)st;
    rk_cidr_t c;
    rk_ip_t in = ip("10.1.2.3"), out = ip("11.0.0.1");
    assert_int_equal(rk_cidr_parse("10.0.0.0/8", 10, &c), 0);
    assert_true(rk_cidr_contains(&c, &in));
    assert_false(rk_cidr_contains(&c, &out));
    /* Host bits in the network are cleared, as routers do. */
    assert_int_equal(rk_cidr_parse("10.9.9.9/8", 10, &c), 0);
    assert_true(rk_cidr_contains(&c, &in));
    assert_int_equal(rk_cidr_parse("2001:db8::/32", 13, &c), 0);
    rk_ip_t v6 = ip("2001:db8:ffff::1"), v6out = ip("2001:db9::1");
    assert_true(rk_cidr_contains(&c, &v6));
    assert_false(rk_cidr_contains(&c, &v6out));
    assert_false(rk_cidr_contains(&c, &in));
    /* /0 of IPv4 holds every IPv4 address and no IPv6 one. */
    assert_int_equal(rk_cidr_parse("0.0.0.0/0", 9, &c), 0);
    assert_true(rk_cidr_contains(&c, &out));
    assert_false(rk_cidr_contains(&c, &v6));
    /* A bare address is a full-length prefix; a /7 on a /3 boundary too. */
    assert_int_equal(rk_cidr_parse("11.0.0.1", 8, &c), 0);
    assert_true(rk_cidr_contains(&c, &out));
    assert_int_equal(rk_cidr_parse("10.0.0.0/33", 11, &c), -1);
    assert_int_equal(rk_cidr_parse("10.0.0.0/", 9, &c), -1);
    assert_int_equal(rk_cidr_parse("10.0.0.0/x", 10, &c), -1);
    assert_int_equal(rk_cidr_parse("::/129", 6, &c), -1);
}

static void cidr_list(void **st)
{
    (void)st;
    rk_cidr_list_t l;
    char err[128];
    assert_int_equal(rk_cidr_list_parse(&l, " 10.0.0.0/8, 192.168.0.0/16 ::1", err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    rk_ip_t a = ip("192.168.4.4"), b = ip("::1"), c = ip("172.16.0.1");
    assert_true(rk_cidr_list_contains(&l, &a));
    assert_true(rk_cidr_list_contains(&l, &b));
    assert_false(rk_cidr_list_contains(&l, &c));
    rk_cidr_list_free(&l);
    assert_int_equal(rk_cidr_list_parse(&l, "10.0.0.0/8,bogus", err, sizeof err), -1);
    assert_non_null(strstr(err, "bogus"));
    assert_null(l.items);
    assert_int_equal(rk_cidr_list_parse(&l, "", err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    rk_cidr_list_free(&l);
}

static void forwarded_for(void **st)
{
    (void)st;
    rk_cidr_list_t t;
    char err[128], out[64];
    assert_int_equal(rk_cidr_list_parse(&t, "10.0.0.0/8", err, sizeof err), 0);
    /* Untrusted peer: the header is ignored, whatever it claims. */
    rk_client_addr(&t, "203.0.113.9", "1.1.1.1", out, sizeof out);
    assert_string_equal(out, "203.0.113.9");
    /* Trusted peer: the right-most untrusted entry is the client. */
    rk_client_addr(&t, "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5", out, sizeof out);
    assert_string_equal(out, "198.51.100.7");
    /* Trusted peer without the header. */
    rk_client_addr(&t, "10.0.0.2", NULL, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    /* Garbage stops the walk: nothing left of it is believed. */
    rk_client_addr(&t, "10.0.0.2", "6.6.6.6, junk", out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    /* No trusted proxies at all: never read the header. */
    rk_cidr_list_t none = { NULL, 0 };
    rk_client_addr(&none, "10.0.0.2", "6.6.6.6", out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    rk_cidr_list_free(&t);
}

/* RFC 7239: for= of each element, in order; what is not an address stops the walk. */
static void forwarded_header(void **st)
{
    (void)st;
    char list[256], out[64], err[128];
    rk_forwarded_for("for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\", for=\"198.51.100.9:80\"",
                     list, sizeof list);
    assert_string_equal(list, "192.0.2.60,[2001:db8:cafe::17],198.51.100.9");
    rk_forwarded_for("proto=https, for=_hidden;by=x, for=unknown", list, sizeof list);
    assert_string_equal(list, "unknown,_hidden,unknown");
    rk_forwarded_for("", list, sizeof list);
    assert_string_equal(list, "");
    rk_cidr_list_t t = { NULL, 0 };
    assert_int_equal(rk_cidr_list_parse(&t, "10.0.0.0/8", err, sizeof err), 0);
    rk_forwarded_for("for=6.6.6.6, for=203.0.113.5;proto=https", list, sizeof list);
    rk_client_addr(&t, "10.0.0.2", list, out, sizeof out);
    assert_string_equal(out, "203.0.113.5");
    rk_forwarded_for("for=6.6.6.6, for=_proxy1", list, sizeof list);
    rk_client_addr(&t, "10.0.0.2", list, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    /* a cut list never ends inside a name: the tail is dropped */
    rk_forwarded_for("for=192.0.2.60, for=192.0.2.61", list, 16);
    assert_string_equal(list, "192.0.2.60,192.");
    rk_cidr_list_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_both_families),
        cmocka_unit_test(cidr_contains),
        cmocka_unit_test(cidr_list),
        cmocka_unit_test(forwarded_for),
        cmocka_unit_test(forwarded_header),
    };
    return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
