/* test_luapat.c — the budgeted pattern matcher: matches and errors as Lua's
 * (the full comparison with Lua is spec/strings_spec.lua), and the budget:
 * a pattern whose work grows with the cube of the subject is asked to stop
 * and stops, where Lua's matcher would run for seconds. */
#include "test_util.h"
#include "luapat.h"

/* Tries p at each start of s as string.find does; the end of the first match. */
static const char *find(rk_pat_t *ms, const char *s, const char *p, int (*stop)(void *), void *ud)
{
    int anchor = *p == '^';
    if (anchor) p++;
    rk_pat_init(ms, s, strlen(s), p, strlen(p), stop, ud);
    const char *s1 = s;
    do {
        const char *e = rk_pat_match(ms, s1);
        if (e || ms->status != RK_PAT_OK) return e;
    } while (s1++ < ms->src_end && !anchor);
    return NULL;
}

static void matches(void **st)
{
    (void)st;
    rk_pat_t ms;
    const char *s = "Alice <alice@example.org>";
    const char *e = find(&ms, s, "^%s*(.-)%s*<([^>]*)>%s*$", NULL, NULL);
    assert_ptr_equal(e, s + strlen(s));
    assert_int_equal(ms.level, 2);
    assert_int_equal(ms.capture[0].len, 5);
    assert_memory_equal(ms.capture[1].init, "alice@example.org", 17);
    assert_null(find(&ms, "abc", "^b", NULL, NULL));
    assert_non_null(find(&ms, "f(a(b)c)", "%b()$", NULL, NULL));
    assert_non_null(find(&ms, "THE (quick) fox", "%f[%a]%a+%f[%A]", NULL, NULL));
    assert_non_null(find(&ms, "xyxy", "^(xy)%1$", NULL, NULL));
    assert_true(rk_pat_is_plain("a.b", 3) == 0);
    assert_true(rk_pat_is_plain("a@b", 3) == 1);
    const char *hay = "abcabd";
    assert_ptr_equal(rk_pat_memfind(hay, 6, "abd", 3), hay + 3);
    assert_ptr_equal(rk_pat_memfind(hay, 6, "", 0), hay);
    assert_null(rk_pat_memfind(hay, 2, "abd", 3));
}

static void errors(void **st)
{
    (void)st;
    struct { const char *p, *msg; } cases[] = {
        { "%", "malformed pattern (ends with '%')" },
        { "[a", "malformed pattern (missing ']')" },
        { "(a", NULL },                      /* unfinished: no error while matching */
        { "a)", "invalid pattern capture" },
        { "%1", "invalid capture index %1" },
        { "%b", "malformed pattern (missing arguments to '%b')" },
        { "%fa", "missing '[' after '%f' in pattern" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_pat_t ms;
        find(&ms, "abc", cases[i].p, NULL, NULL);
        if (!cases[i].msg) { assert_int_equal(ms.status, RK_PAT_OK); continue; }
        assert_int_equal(ms.status, RK_PAT_ERROR);
        assert_string_equal(ms.errmsg, cases[i].msg);
    }
    /* 33 captures */
    char p[80] = "";
    for (int i = 0; i < 33; i++) strcat(p, "(");
    rk_pat_t ms;
    find(&ms, "a", p, NULL, NULL);
    assert_string_equal(ms.errmsg, "too many captures");
    /* recursion deeper than Lua allows */
    char deep[600] = "";
    for (int i = 0; i < 250; i++) strcat(deep, "a?");
    char subj[300];
    memset(subj, 'a', 250);
    subj[250] = 0;
    find(&ms, subj, deep, NULL, NULL);
    assert_string_equal(ms.errmsg, "pattern too complex");
}

static int asked;
static int stop_after_three(void *ud)
{
    (void)ud;
    return ++asked >= 3;
}

static void budget(void **st)
{
    (void)st;
    /* The pattern from the review: 2,000 spaces and no '<' take Lua's
     * matcher seconds. Here the third check stops it. */
    char s[2100];
    memset(s, ' ', 2000);
    strcpy(s + 2000, "x");
    rk_pat_t ms;
    asked = 0;
    assert_null(find(&ms, s, "^%s*(.-)%s*<([^>]*)>%s*$", stop_after_three, NULL));
    assert_int_equal(ms.status, RK_PAT_STOPPED);
    assert_int_equal(asked, 3);
    assert_true(ms.steps < 4 * RK_PAT_CHECK_EVERY + 4000);
    /* Without a stop the same work is counted; it only grows. */
    s[300] = 0;
    assert_null(find(&ms, s, "^%s*(.-)%s*<([^>]*)>%s*$", NULL, NULL));
    assert_int_equal(ms.status, RK_PAT_OK);
    assert_true(ms.steps > 300u * 300u * 300u / 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches),
        cmocka_unit_test(errors),
        cmocka_unit_test(budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
