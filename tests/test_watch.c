/* test_watch.c — inotify watches see edits, new files, new folders, deletes. */
#include "test_util.h"
#include "watch.h"

#include <poll.h>

/* Waits up to 2 s for events and returns the drained tag mask. */
static unsigned wait_tags(rk_watch_t *w)
{
    struct pollfd p = { rk_watch_fd(w), POLLIN, 0 };
    if (poll(&p, 1, 2000) <= 0) return 0;
    usleep(20000); /* let the burst finish */
    return rk_watch_drain(w);
}

static void sees_changes_in_the_tree(void **st)
{
    (void)st;
    char *a = tmp_dir(), *b = tmp_dir(), err[256], path[1024];
    write_file(a, "x.lua", "1");
    rk_watch_t *w = rk_watch_new(err, sizeof err);
    assert_non_null(w);
    assert_int_equal(rk_watch_add_tree(w, a, 1, err, sizeof err), 0);
    assert_int_equal(rk_watch_add_tree(w, b, 2, err, sizeof err), 0);
    assert_int_equal(rk_watch_drain(w), 0);

    write_file(a, "x.lua", "2");
    assert_int_equal(wait_tags(w), 1);
    write_file(b, "new.lua", "new");
    assert_int_equal(wait_tags(w), 2);
    /* A folder created later is watched too. */
    snprintf(path, sizeof path, "%s/sub", a);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(wait_tags(w), 1);
    write_file(a, "sub/y.lua", "y");
    assert_int_equal(wait_tags(w), 1);
    snprintf(path, sizeof path, "%s/x.lua", a);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(wait_tags(w), 1);
    /* Editor lock files are not changes. */
    write_file(b, ".#lock", "");
    assert_int_equal(wait_tags(w), 0);

    rk_watch_free(w);
    rm_tree(a);
    rm_tree(b);
}

static void missing_root_is_an_error(void **st)
{
    (void)st;
    char err[256] = "";
    rk_watch_t *w = rk_watch_new(err, sizeof err);
    assert_int_equal(rk_watch_add_tree(w, "/nonexistent/riskd", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/riskd"));
    rk_watch_free(w);
    rk_watch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sees_changes_in_the_tree),
        cmocka_unit_test(missing_root_is_an_error),
    };
    return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
