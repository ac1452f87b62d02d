/* test_util.h — helpers shared by the C unit tests (cmocka). */
#ifndef RK_TEST_UTIL_H
#define RK_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes a fresh temporary folder; the caller removes it with rm_tree. */
static inline char *tmp_dir(void)
{
    char *d = strdup("/tmp/riskd-test-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* Create parent folders as needed. */
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p == '/') { *p = '\0'; mkdir(path, 0755); *p = '/'; }
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static inline void rm_tree(char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

#endif
