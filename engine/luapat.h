/* luapat.h — Lua's pattern matching (the language of string.find, match,
 * gmatch and gsub) with a budget.
 *
 * Lua's own matcher backtracks without limit: a pattern with a few
 * quantifiers can take time that grows with a power of the subject's length,
 * all of it inside one C call where no instruction hook fires. This matcher
 * accepts exactly the same patterns and gives exactly the same matches and
 * captures (tests/test_luapat.c and spec/strings_spec.lua compare it with
 * Lua's), and it counts its work: every so many steps it asks the caller
 * whether to go on, so a deadline holds inside the match too.
 *
 * Pure C: the Lua functions built on it are in l_strings.c.
 */
#ifndef RK_LUAPAT_H
#define RK_LUAPAT_H

#include <stddef.h>
#include <stdint.h>

#define RK_PAT_MAXCAPTURES 32
#define RK_PAT_CAP_POSITION (-2)   /* a () capture: its value is a position */

/* What stopped a match (rk_pat_t.status). */
#define RK_PAT_OK 0
#define RK_PAT_ERROR 1     /* a malformed pattern: errmsg says why, as Lua's would */
#define RK_PAT_STOPPED 2   /* the caller's check said stop */

typedef struct rk_pat {
    const char *src_init, *src_end;   /* the subject */
    const char *p_init, *p_end;       /* the pattern */
    int level;                        /* captures in use */
    int depth;                        /* recursion left */
    struct { const char *init; ptrdiff_t len; } capture[RK_PAT_MAXCAPTURES];
    /* The budget: stop(ud) is asked every RK_PAT_CHECK_EVERY steps; non-zero stops. */
    int (*stop)(void *ud);
    void *ud;
    int64_t steps_left;
    uint64_t steps;                   /* steps taken, for tests */
    int status;
    char errmsg[96];
} rk_pat_t;

#define RK_PAT_CHECK_EVERY 4096

/* Prepares a matcher for subject s (len ls) and pattern p (len lp, after a
 * leading '^' has been taken off by the caller, as Lua does). stop may be
 * NULL (no budget). */
void rk_pat_init(rk_pat_t *ms, const char *s, size_t ls, const char *p, size_t lp,
                 int (*stop)(void *), void *ud);

/* Matches at s (inside the subject): the end of the match, or NULL when the
 * pattern does not match there or ms->status is no longer RK_PAT_OK. The
 * captures are in ms->capture[0 .. ms->level). */
const char *rk_pat_match(rk_pat_t *ms, const char *s);

/* Whether the pattern has none of the special characters (a plain find). */
int rk_pat_is_plain(const char *p, size_t lp);

/* Plain substring search (memmem with Lua's rule for an empty needle). */
const char *rk_pat_memfind(const char *s, size_t ls, const char *p, size_t lp);

#endif
