/* test_vm_snapshot.c — script snapshots: what is read, lookups, digests, refs. */
#include "test_util.h"
#include "vm_snapshot.h"

static void reads_lua_files_only(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[256];
    write_file(d, "routes.lua", "return {}");
    write_file(d, "api/health.lua", "return {}");
    write_file(d, "lib/x/init.lua", "return 1");
    write_file(d, "README.md", "not a script");
    write_file(d, ".#routes.lua", "editor lock file");
    write_file(d, ".git/hooks.lua", "hidden folder");
    rk_snapshot_t *s = rk_snapshot_load(d, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->n, 3);
    assert_string_equal(s->files[0].path, "api/health.lua");   /* sorted */
    assert_string_equal(s->files[1].path, "lib/x/init.lua");
    assert_string_equal(s->files[2].path, "routes.lua");
    assert_non_null(rk_snapshot_find(s, "routes.lua"));
    assert_null(rk_snapshot_find(s, "README.md"));
    assert_ptr_equal(rk_snapshot_find_module(s, "api.health"), &s->files[0]);
    assert_ptr_equal(rk_snapshot_find_module(s, "lib.x"), &s->files[1]);
    assert_null(rk_snapshot_find_module(s, "api.nothing"));
    assert_null(rk_snapshot_find_module(s, ".api"));
    assert_null(rk_snapshot_find_module(s, "api..health"));
    assert_null(rk_snapshot_find_module(s, ""));
    assert_string_equal(s->files[2].data, "return {}");
    rk_snapshot_release(s);
    rm_tree(d);
}

static void digest_follows_content(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[256];
    write_file(d, "a.lua", "return 1");
    rk_snapshot_t *a = rk_snapshot_load(d, err, sizeof err);
    rk_snapshot_t *b = rk_snapshot_load(d, err, sizeof err);
    write_file(d, "a.lua", "return 2");
    rk_snapshot_t *c = rk_snapshot_load(d, err, sizeof err);
    assert_true(a && b && c);
    assert_true(a->digest == b->digest);
    assert_true(a->digest != c->digest);
    rk_snapshot_release(a);
    rk_snapshot_release(b);
    rk_snapshot_release(c);
    rm_tree(d);
}

static void missing_folder_is_an_error(void **st)
{
    (void)st;
    char err[256] = "";
    assert_null(rk_snapshot_load("/nonexistent/riskd", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/riskd"));
}

static void refcount(void **st)
{
    (void)st;
    char *d = tmp_dir(), err[256];
    write_file(d, "a.lua", "return 1");
    rk_snapshot_t *s = rk_snapshot_load(d, err, sizeof err);
    assert_ptr_equal(rk_snapshot_retain(s), s);
    rk_snapshot_release(s);
    assert_int_equal(atomic_load(&s->refs), 1);
    rk_snapshot_release(s);   /* freed here; ASan reports a leak or double free */
    rk_snapshot_release(NULL);
    rm_tree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_lua_files_only),
        cmocka_unit_test(digest_follows_content),
        cmocka_unit_test(missing_folder_is_an_error),
        cmocka_unit_test(refcount),
    };
    return cmocka_run_group_tests_name("scripts", tests, NULL, NULL);
}
