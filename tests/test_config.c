/* test_config.c — defaults, .env, environment and flags, in that precedence. */
#include "test_util.h"
#include "config.h"
#include "store.h"

static void clear_env(void)
{
    const char *vars[] = { "RISKD_PORT", "RISKD_HOST", "RISKD_DB", "MONGODB_URI", "RISKD_WORKERS",
                           "RISKD_ACCESS_LOG", "RISKD_TEST_DOTENV", "RISKD_TEST_QUOTED", "JWT_SECRET",
                           "RISKD_TOKEN_TTL_S" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void defaults(void **st)
{
    (void)st;
    rk_config_t c;
    rk_config_defaults(&c);
    assert_int_equal(c.port, 5000);
    assert_string_equal(c.host, "127.0.0.1");
    assert_string_equal(c.db, "sqlite:data/riskd.db");
    assert_int_equal(c.body_limit, 1 << 20);
    assert_string_equal(c.scripts, "scripts");
    /* the store's settings come to the store, defaults from the store's own */
    rk_store_opts_t so, def;
    rk_store_defaults(&def);
    assert_int_equal(c.sqlite_checkpoint_pages, def.checkpoint_pages);
    char err[256];
    char *argv[] = { "riskd", "serve", "--sqlite-checkpoint-pages", "16000", "--sqlite-sync", "full" };
    assert_int_equal(rk_config_from_args(&c, 6, argv, 2, err, sizeof err), 0);
    rk_config_store_opts(&c, &so);
    assert_int_equal(so.checkpoint_pages, 16000);
    assert_int_equal(so.sync_full, 1);
    char *small[] = { "riskd", "serve", "--sqlite-checkpoint-pages", "10" };
    assert_int_equal(rk_config_from_args(&c, 4, small, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "sqlite-checkpoint-pages"));
}

static void args_end(void **st)
{
    (void)st;
    char *a[] = { "riskd", "run", "--db", "mem:", "--access-log", "--rules=r", "s.lua", "--db", "x" };
    assert_int_equal(rk_config_args_end(9, a, 2), 6);       /* --db takes a value, --access-log does not */
    char *b[] = { "riskd", "run", "s.lua" };
    assert_int_equal(rk_config_args_end(3, b, 2), 2);
    char *c[] = { "riskd", "run", "--db" };
    assert_int_equal(rk_config_args_end(3, c, 2), 3);       /* a missing value: the parser says so */
    char *d[] = { "riskd", "run", "--nope", "s.lua" };
    assert_int_equal(rk_config_args_end(4, d, 2), 3);       /* unknown: one argument, named by the parser */
}

static void precedence(void **st)
{
    (void)st;
    clear_env();
    char err[256];
    rk_config_t c;
    rk_config_defaults(&c);
    setenv("RISKD_PORT", "6000", 1);
    setenv("MONGODB_URI", "mongodb://db:27017/riskd", 1);
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), 0);
    assert_int_equal(c.port, 6000);
    assert_string_equal(c.db, "mongodb://db:27017/riskd");
    char *argv[] = { "riskd", "serve", "--port", "7000", "--host=0.0.0.0", "--access-log", "--workers", "3" };
    assert_int_equal(rk_config_from_args(&c, 8, argv, 2, err, sizeof err), 0);
    assert_int_equal(c.port, 7000);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.access_log, 1);
    assert_int_equal(c.workers, 3);
    /* RISKD_DB wins over MONGODB_URI. */
    setenv("RISKD_DB", "sqlite:/tmp/x.db", 1);
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), 0);
    assert_string_equal(c.db, "sqlite:/tmp/x.db");
    clear_env();
}

static void bad_values_are_named(void **st)
{
    (void)st;
    clear_env();
    char err[256];
    rk_config_t c;
    rk_config_defaults(&c);
    char *a1[] = { "riskd", "serve", "--port", "70000" };
    assert_int_equal(rk_config_from_args(&c, 4, a1, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "--port"));
    char *a2[] = { "riskd", "serve", "--nope" };
    assert_int_equal(rk_config_from_args(&c, 3, a2, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "--nope"));
    char *a3[] = { "riskd", "serve", "--port" };
    assert_int_equal(rk_config_from_args(&c, 3, a3, 2, err, sizeof err), -1);
    char *a4[] = { "riskd", "serve", "stray" };
    assert_int_equal(rk_config_from_args(&c, 3, a4, 2, err, sizeof err), -1);
    setenv("RISKD_WORKERS", "many", 1);
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "RISKD_WORKERS"));
    clear_env();
}

/* The token secret comes from the environment only, never from a flag. */
static void jwt_secret(void **st)
{
    (void)st;
    clear_env();
    char err[256], big[400];
    rk_config_t c;
    rk_config_defaults(&c);
    assert_string_equal(c.jwt_secret, "");
    assert_int_equal(c.token_ttl_s, 3600);
    setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    setenv("RISKD_TOKEN_TTL_S", "600", 1);
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), 0);
    assert_string_equal(c.jwt_secret, "0123456789abcdef0123456789abcdef");
    assert_int_equal(c.token_ttl_s, 600);
    char *argv[] = { "riskd", "serve", "--jwt-secret", "x" };
    assert_int_equal(rk_config_from_args(&c, 4, argv, 2, err, sizeof err), -1);
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    setenv("JWT_SECRET", big, 1);
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "JWT_SECRET"));
    setenv("RISKD_TOKEN_TTL_S", "5", 1);
    unsetenv("JWT_SECRET");
    assert_int_equal(rk_config_from_env(&c, err, sizeof err), -1);
    clear_env();
}

static void dotenv(void **st)
{
    (void)st;
    clear_env();
    char *d = tmp_dir(), path[1024], err[256];
    write_file(d, ".env", "# comment\n\nexport RISKD_TEST_DOTENV = from-file \nRISKD_TEST_QUOTED=\"a b\"\nRISKD_PORT=1\n");
    snprintf(path, sizeof path, "%s/.env", d);
    setenv("RISKD_PORT", "2", 1);
    assert_int_equal(rk_config_load_dotenv(path, err, sizeof err), 0);
    assert_string_equal(getenv("RISKD_TEST_DOTENV"), "from-file");
    assert_string_equal(getenv("RISKD_TEST_QUOTED"), "a b");
    assert_string_equal(getenv("RISKD_PORT"), "2");  /* never overrides */
    write_file(d, ".env", "GOOD=1\nbroken line\n");
    assert_int_equal(rk_config_load_dotenv(path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2:"));
    assert_int_equal(rk_config_load_dotenv("/nonexistent/.env", err, sizeof err), 0);
    clear_env();
    rm_tree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(precedence),
        cmocka_unit_test(args_end),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(jwt_secret),
        cmocka_unit_test(dotenv),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
