/* test_webfile.c — files of the console folder: content types, ETags that
 * change with the file, folders' index.html, and every way out of the
 * folder refused (.., hidden segments, a link pointing outside). */
#include "test_util.h"
#include "webfile.h"

#include <time.h>
#include <unistd.h>

static void files(void **st)
{
    (void)st;
    char *dir = tmp_dir(), outside[1100], link[1100];
    write_file(dir, "index.html", "<!doctype html>");
    write_file(dir, "js/app.js", "console.log(1)");
    write_file(dir, "docs/index.html", "docs");
    write_file(dir, ".secret", "no");
    rk_webfile_t f;
    assert_int_equal(rk_webfile_read(dir, "", &f), RK_WEBFILE_OK);
    assert_string_equal(f.content_type, "text/html; charset=utf-8");
    assert_int_equal(f.len, 15);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", f.etag);
    free(f.body);
    assert_int_equal(rk_webfile_read(dir, "js/app.js", &f), RK_WEBFILE_OK);
    assert_string_equal(f.content_type, "text/javascript; charset=utf-8");
    assert_memory_equal(f.body, "console.log(1)", 14);
    free(f.body);
    assert_int_equal(rk_webfile_read(dir, "docs", &f), RK_WEBFILE_OK);
    assert_memory_equal(f.body, "docs", 4);
    free(f.body);
    /* an edit changes the ETag */
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    write_file(dir, "index.html", "<!doctype html><p>");
    assert_int_equal(rk_webfile_read(dir, "index.html", &f), RK_WEBFILE_OK);
    assert_string_not_equal(f.etag, etag);
    free(f.body);
    /* the ways out */
    const char *bad[] = { "../etc/passwd", "js/../../x", ".secret", "js/.hidden", "a//b", "js\\app.js", "js/", "./index.html" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rk_webfile_read(dir, bad[i], &f) != RK_WEBFILE_FORBIDDEN) fail_msg("%s was not refused", bad[i]);
    snprintf(outside, sizeof outside, "%s-outside", dir);
    FILE *o = fopen(outside, "w");
    fputs("secret", o);
    fclose(o);
    snprintf(link, sizeof link, "%s/leak.txt", dir);
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(rk_webfile_read(dir, "leak.txt", &f), RK_WEBFILE_NOT_FOUND);
    assert_int_equal(rk_webfile_read(dir, "missing.js", &f), RK_WEBFILE_NOT_FOUND);
    assert_int_equal(rk_webfile_read("/nonexistent", "index.html", &f), RK_WEBFILE_NOT_FOUND);
    assert_string_equal(rk_webfile_type("a/b.css"), "text/css; charset=utf-8");
    assert_string_equal(rk_webfile_type("a.b/noext"), "application/octet-stream");
    unlink(outside);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(files) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
