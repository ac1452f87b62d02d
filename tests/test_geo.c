/* test_geo.c — MaxMind look-ups on small databases written by
 * tests/data/make_mmdb.pl (Debian's libmaxmind-db-writer-perl). */
#include "test_util.h"
#include "geo.h"

#include <math.h>

static char *dir, city[1100], asn[1100];

static int setup(void **st)
{
    (void)st;
    dir = tmp_dir();
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "perl tests/data/make_mmdb.pl '%s'", dir);
    if (system(cmd) != 0) return -1;
    snprintf(city, sizeof city, "%s/city.mmdb", dir);
    snprintf(asn, sizeof asn, "%s/asn.mmdb", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    rm_tree(dir);
    return 0;
}

static void lookups(void **st)
{
    (void)st;
    char err[512];
    rk_geo_t *g = rk_geo_open(city, asn, err, sizeof err);
    assert_non_null(g);
    assert_string_equal(rk_geo_city_type(g), "GeoLite2-City");
    assert_string_equal(rk_geo_asn_type(g), "GeoLite2-ASN");
    rk_geo_result_t r;
    assert_int_equal(rk_geo_lookup(g, "198.51.100.7", &r, err, sizeof err), 0);
    assert_true(r.found);
    assert_string_equal(r.country, "AU");
    assert_string_equal(r.city, "Sydney");
    assert_true(r.has_location && fabs(r.latitude + 33.8688) < 1e-9 && fabs(r.longitude - 151.2093) < 1e-9);
    assert_true(r.has_asn && r.asn == 64500);
    assert_string_equal(r.asn_org, "Example Hosting");
    assert_int_equal(rk_geo_lookup(g, "2001:db8::1", &r, err, sizeof err), 0);
    assert_string_equal(r.country, "JP");
    assert_false(r.has_asn);
    assert_int_equal(rk_geo_lookup(g, "192.0.2.1", &r, err, sizeof err), 0);
    assert_false(r.found);
    assert_false(r.has_asn);
    assert_int_equal(rk_geo_lookup(g, "not-an-ip", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "not-an-ip"));
    rk_geo_close(g);
}

static void partial_and_missing(void **st)
{
    (void)st;
    char err[512] = "";
    assert_null(rk_geo_open(NULL, "", err, sizeof err));   /* enrichment off: no error */
    assert_string_equal(err, "");
    rk_geo_t *g = rk_geo_open(NULL, asn, err, sizeof err);  /* ASN only */
    rk_geo_result_t r;
    assert_int_equal(rk_geo_lookup(g, "203.0.113.5", &r, err, sizeof err), 0);
    assert_false(r.found);
    assert_true(r.has_asn && r.asn == 64501);
    assert_null(rk_geo_city_type(g));
    rk_geo_close(g);
    assert_null(rk_geo_open("/nonexistent.mmdb", NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent.mmdb"));
    assert_null(rk_geo_open(city, "/nonexistent.mmdb", err, sizeof err));
    rk_geo_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups),
        cmocka_unit_test(partial_and_missing),
    };
    return cmocka_run_group_tests_name("geo", tests, setup, teardown);
}
