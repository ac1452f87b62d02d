/* test_jwt.c — tokens: round trip, expiry, tampering, "none", wrong secrets. */
#include "test_util.h"
#include "jwt.h"

#include <jwt.h>

#define SECRET "0123456789abcdef0123456789abcdef-test"

static void round_trip(void **st)
{
    (void)st;
    char tok[RK_JWT_MAX], err[256];
    rk_jwt_claims_t c = { .sub = "ana", .role = "analyst", .pwv = "salt1" }, out;
    assert_int_equal(rk_jwt_issue(SECRET, &c, 1700000000, 3600, tok, sizeof tok, err, sizeof err), 0);
    assert_int_equal(strlen(c.jti), 32);
    assert_int_equal(rk_jwt_verify(SECRET, tok, 1700000100, &out, err, sizeof err), 0);
    assert_string_equal(out.sub, "ana");
    assert_string_equal(out.pwv, "salt1");
    assert_string_equal(out.role, "analyst");
    assert_string_equal(out.jti, c.jti);
    assert_true(out.iat == 1700000000 && out.exp == 1700003600);
    rk_jwt_claims_t c2 = { .sub = "ana", .role = "analyst" };
    char tok2[RK_JWT_MAX];
    assert_int_equal(rk_jwt_issue(SECRET, &c2, 1700000000, 3600, tok2, sizeof tok2, err, sizeof err), 0);
    assert_string_not_equal(c.jti, c2.jti);   /* every token its own id */
}

static void refusals(void **st)
{
    (void)st;
    char tok[RK_JWT_MAX], err[256];
    rk_jwt_claims_t c = { .sub = "ana", .role = "admin" }, out;
    assert_int_equal(rk_jwt_issue("short", &c, 1700000000, 60, tok, sizeof tok, err, sizeof err), -1);
    assert_non_null(strstr(err, "at least 32"));
    assert_int_equal(rk_jwt_issue(SECRET, &c, 1700000000, 60, tok, sizeof tok, err, sizeof err), 0);
    /* expired */
    assert_int_equal(rk_jwt_verify(SECRET, tok, 1700000060, &out, err, sizeof err), -1);
    assert_string_equal(err, "token expired");
    /* another secret */
    assert_int_equal(rk_jwt_verify(SECRET "x", tok, 1700000001, &out, err, sizeof err), -1);
    /* a flipped character in the payload */
    char bad[RK_JWT_MAX];
    strcpy(bad, tok);
    char *dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(rk_jwt_verify(SECRET, bad, 1700000001, &out, err, sizeof err), -1);
    /* alg "none", made with libjwt itself */
    jwt_t *j;
    jwt_new(&j);
    jwt_add_grant(j, "sub", "mallory");
    jwt_add_grant(j, "role", "admin");
    jwt_add_grant(j, "jti", "x");
    jwt_add_grant_int(j, "exp", 1800000000);
    char *none = jwt_encode_str(j);
    assert_int_equal(rk_jwt_verify(SECRET, none, 1700000001, &out, err, sizeof err), -1);
    free(none);
    jwt_free(j);
    /* garbage */
    assert_int_equal(rk_jwt_verify(SECRET, "a.b.c", 1700000001, &out, err, sizeof err), -1);
    assert_int_equal(rk_jwt_verify(SECRET, "", 1700000001, &out, err, sizeof err), -1);
    assert_int_equal(rk_jwt_verify(SECRET, NULL, 1700000001, &out, err, sizeof err), -1);
    /* issued in the future (beyond the leeway) */
    assert_int_equal(rk_jwt_verify(SECRET, tok, 1700000000 - RK_JWT_LEEWAY_S - 1, &out, err, sizeof err), -1);
    assert_string_equal(err, "token not yet valid");
    assert_int_equal(rk_jwt_verify(SECRET, tok, 1700000000 - RK_JWT_LEEWAY_S, &out, err, sizeof err), 0);
}

/* A token signed with our secret and algorithm but another issuer, or
 * without the password version, is still refused. */
static void claims_are_checked(void **st)
{
    (void)st;
    char err[256];
    rk_jwt_claims_t out;
    const char *issuers[] = { "someone-else", NULL };
    for (int k = 0; k < 2; k++) {
        jwt_t *j;
        jwt_new(&j);
        jwt_add_grant(j, "sub", "mallory");
        jwt_add_grant(j, "role", "admin");
        jwt_add_grant(j, "jti", "x");
        jwt_add_grant(j, "pwv", "p");
        if (issuers[k]) jwt_add_grant(j, "iss", issuers[k]);
        jwt_add_grant_int(j, "iat", 1700000000);
        jwt_add_grant_int(j, "exp", 1800000000);
        jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
        char *t = jwt_encode_str(j);
        assert_int_equal(rk_jwt_verify(SECRET, t, 1700000001, &out, err, sizeof err), -1);
        assert_string_equal(err, "token from another issuer");
        free(t);
        jwt_free(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
        cmocka_unit_test(claims_are_checked),
    };
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
