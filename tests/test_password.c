/* test_password.c — argon2id hashing, verification and the policy. */
#include "test_util.h"
#include "password.h"

static void policy(void **st)
{
    (void)st;
    char err[256];
    assert_int_equal(rk_password_policy("alice", "correct horse battery", err, sizeof err), 0);
    assert_int_equal(rk_password_policy("alice", "short", err, sizeof err), -1);
    assert_non_null(strstr(err, "at least 12"));
    assert_int_equal(rk_password_policy("alice-the-admin", "alice-the-admin", err, sizeof err), -1);
    assert_non_null(strstr(err, "user name"));
    char big[RK_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(rk_password_policy("a", big, err, sizeof err), -1);
}

static void hash_and_verify(void **st)
{
    (void)st;
    char a[RK_PASSWORD_HASH_MAX], b[RK_PASSWORD_HASH_MAX], err[256];
    assert_int_equal(rk_password_hash("correct horse battery", a, sizeof a, err, sizeof err), 0);
    assert_int_equal(rk_password_hash("correct horse battery", b, sizeof b, err, sizeof err), 0);
    assert_int_equal(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);   /* parameters in the hash */
    assert_string_not_equal(a, b);                                          /* a salt of its own */
    assert_int_equal(rk_password_verify(a, "correct horse battery"), 1);
    assert_int_equal(rk_password_verify(b, "correct horse battery"), 1);
    assert_int_equal(rk_password_verify(a, "correct horse batterx"), 0);
    assert_int_equal(rk_password_verify(a, ""), 0);
    assert_int_equal(rk_password_verify("$2b$12$bcrypt-is-not-argon2id", "x"), -1);
    assert_int_equal(rk_password_verify("$argon2id$garbage", "x"), -1);
    assert_int_equal(rk_password_verify(NULL, "x"), -1);
    char small[16];
    assert_int_equal(rk_password_hash("correct horse battery", small, sizeof small, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy),
        cmocka_unit_test(hash_and_verify),
    };
    return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
