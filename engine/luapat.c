/* luapat.c — see luapat.h. The algorithm is Lua 5.4's (lstrlib.c), so that
 * every pattern means what the Lua manual says it means; what is added is
 * the step count, and errors that unwind by return values instead of a
 * longjmp, so the caller decides how to report them.
 *
 * Subject and pattern must be followed by a NUL byte, as Lua strings are:
 * like Lua's matcher, this one reads the byte just past either end in a few
 * places (a frontier at the end of the subject sees '\0'). */
#include "luapat.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CAP_UNFINISHED (-1)
#define MAX_DEPTH 200          /* Lua's MAXCCALLS for patterns: "pattern too complex" */
#define L_ESC '%'
#define SPECIALS "^$*+?.([%-"

#define uchar(c) ((unsigned char)(c))

static const char *match(rk_pat_t *ms, const char *s, const char *p);

static void fail(rk_pat_t *ms, int status, const char *fmt, ...)
{
    if (ms->status != RK_PAT_OK) return;   /* the first reason stands */
    ms->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ms->errmsg, sizeof ms->errmsg, fmt, ap);
    va_end(ap);
}

/* Counts n steps of work; asks the caller every RK_PAT_CHECK_EVERY. */
static int step(rk_pat_t *ms, int64_t n)
{
    ms->steps += (uint64_t)n;
    ms->steps_left -= n;
    if (ms->steps_left < 0) {
        ms->steps_left = RK_PAT_CHECK_EVERY;
        if (ms->stop && ms->stop(ms->ud)) fail(ms, RK_PAT_STOPPED, "time budget exceeded");
    }
    return ms->status == RK_PAT_OK;
}

void rk_pat_init(rk_pat_t *ms, const char *s, size_t ls, const char *p, size_t lp,
                 int (*stop)(void *), void *ud)
{
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_init = p;
    ms->p_end = p + lp;
    ms->level = 0;
    ms->depth = MAX_DEPTH;
    ms->stop = stop;
    ms->ud = ud;
    ms->steps_left = RK_PAT_CHECK_EVERY;
    ms->steps = 0;
    ms->status = RK_PAT_OK;
    ms->errmsg[0] = '\0';
}

const char *rk_pat_match(rk_pat_t *ms, const char *s)
{
    if (ms->status != RK_PAT_OK) return NULL;
    ms->level = 0;
    ms->depth = MAX_DEPTH;
    return match(ms, s, ms->p_init);
}

int rk_pat_is_plain(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(SPECIALS, p[i])) return 0;
    return 1;
}

const char *rk_pat_memfind(const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0) return s;   /* the empty string is everywhere */
    if (lp > ls) return NULL;
    return memmem(s, ls, p, lp);   /* linear (two-way), unlike a naive scan */
}

/* ---- the matcher ---------------------------------------------------------- */

static int check_capture(rk_pat_t *ms, int l)
{
    l -= '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED) {
        fail(ms, RK_PAT_ERROR, "invalid capture index %%%d", l + 1);
        return -1;
    }
    return l;
}

static int capture_to_close(rk_pat_t *ms)
{
    for (int level = ms->level - 1; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED) return level;
    fail(ms, RK_PAT_ERROR, "invalid pattern capture");
    return -1;
}

/* The end of the single-character class at p, or NULL (malformed). */
static const char *class_end(rk_pat_t *ms, const char *p)
{
    switch (*p++) {
    case L_ESC:
        if (p == ms->p_end) { fail(ms, RK_PAT_ERROR, "malformed pattern (ends with '%%')"); return NULL; }
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do {   /* look for the ']' */
            if (p == ms->p_end) { fail(ms, RK_PAT_ERROR, "malformed pattern (missing ']')"); return NULL; }
            if (*(p++) == L_ESC && p < ms->p_end) p++;   /* an escape such as '%]' */
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int match_class(int c, int cl)
{
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    case 'z': res = c == 0; break;   /* deprecated in Lua, still accepted */
    default: return cl == c;
    }
    if (isupper(cl)) res = !res;
    return res;
}

/* c against the set [p .. ec] (p at '[', ec at ']'). */
static int match_bracket_class(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (*(p + 1) == '^') { sig = 0; p++; }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, uchar(*p))) return sig;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return sig;
        } else if (uchar(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

static int single_match(rk_pat_t *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end) return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case L_ESC: return match_class(c, uchar(*(p + 1)));
    case '[': return match_bracket_class(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

static const char *match_balance(rk_pat_t *ms, const char *s, const char *p)
{
    if (p >= ms->p_end - 1) {
        fail(ms, RK_PAT_ERROR, "malformed pattern (missing arguments to '%%b')");
        return NULL;
    }
    if (s >= ms->src_end || *s != *p) return NULL;
    int b = *p, e = *(p + 1), cont = 1;
    const char *from = s;
    while (++s < ms->src_end) {
        if (*s == e) {
            if (--cont == 0) { step(ms, s - from); return ms->status == RK_PAT_OK ? s + 1 : NULL; }
        } else if (*s == b) {
            cont++;
        }
    }
    step(ms, s - from);
    return NULL;   /* the subject ends out of balance */
}

static const char *max_expand(rk_pat_t *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (single_match(ms, s + i, p, ep)) i++;
    if (!step(ms, i)) return NULL;
    for (; i >= 0 && ms->status == RK_PAT_OK; i--) {   /* the most repetitions first */
        const char *res = match(ms, s + i, ep + 1);
        if (res) return res;
    }
    return NULL;
}

static const char *min_expand(rk_pat_t *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res) return res;
        if (ms->status != RK_PAT_OK || !single_match(ms, s, p, ep)) return NULL;
        s++;   /* one more repetition */
    }
}

static const char *start_capture(rk_pat_t *ms, const char *s, const char *p, ptrdiff_t what)
{
    int level = ms->level;
    if (level >= RK_PAT_MAXCAPTURES) { fail(ms, RK_PAT_ERROR, "too many captures"); return NULL; }
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->level--;   /* undo the capture */
    return res;
}

static const char *end_capture(rk_pat_t *ms, const char *s, const char *p)
{
    int l = capture_to_close(ms);
    if (l < 0) return NULL;
    ms->capture[l].len = s - ms->capture[l].init;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(rk_pat_t *ms, const char *s, int l)
{
    l = check_capture(ms, l);
    if (l < 0) return NULL;
    size_t len = (size_t)ms->capture[l].len;
    if (!step(ms, (int64_t)len)) return NULL;
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0) return s + len;
    return NULL;
}

static const char *match(rk_pat_t *ms, const char *s, const char *p)
{
    if (!step(ms, 1)) return NULL;
    if (ms->depth-- == 0) {
        fail(ms, RK_PAT_ERROR, "pattern too complex");
        return NULL;
    }
init:   /* a goto for tail calls, as in Lua */
    if (p != ms->p_end) {
        switch (*p) {
        case '(':
            if (*(p + 1) == ')') s = start_capture(ms, s, p + 2, RK_PAT_CAP_POSITION);
            else s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        case ')':
            s = end_capture(ms, s, p + 1);
            break;
        case '$':
            if (p + 1 != ms->p_end) goto dflt;   /* a '$' inside the pattern is literal */
            s = s == ms->src_end ? s : NULL;
            break;
        case L_ESC:
            switch (*(p + 1)) {
            case 'b':
                s = match_balance(ms, s, p + 2);
                if (s != NULL) { p += 4; goto init; }
                break;
            case 'f': {
                p += 2;
                if (*p != '[') {
                    fail(ms, RK_PAT_ERROR, "missing '[' after '%%f' in pattern");
                    s = NULL;
                    break;
                }
                const char *ep = class_end(ms, p);
                if (!ep) { s = NULL; break; }
                char previous = s == ms->src_init ? '\0' : *(s - 1);
                if (!match_bracket_class(uchar(previous), p, ep - 1) && match_bracket_class(uchar(*s), p, ep - 1)) {
                    p = ep;
                    goto init;
                }
                s = NULL;
                break;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = match_capture(ms, s, uchar(*(p + 1)));
                if (s != NULL) { p += 2; goto init; }
                break;
            default:
                goto dflt;
            }
            break;
        default:
        dflt: {   /* a single-character class and its optional suffix */
            const char *ep = class_end(ms, p);
            if (!ep) { s = NULL; break; }
            if (!single_match(ms, s, p, ep)) {
                if (*ep == '*' || *ep == '?' || *ep == '-') { p = ep + 1; goto init; }   /* may be empty */
                s = NULL;
            } else {
                switch (*ep) {
                case '?': {
                    const char *res = match(ms, s + 1, ep + 1);
                    if (res != NULL) s = res;
                    else if (ms->status != RK_PAT_OK) s = NULL;
                    else { p = ep + 1; goto init; }
                    break;
                }
                case '+':
                    s++;   /* one is matched already */
                    /* fall through */
                case '*':
                    s = max_expand(ms, s, p, ep);
                    break;
                case '-':
                    s = min_expand(ms, s, p, ep);
                    break;
                default:
                    s++;
                    p = ep;
                    goto init;
                }
            }
            break;
        }
        }
    }
    ms->depth++;
    return ms->status == RK_PAT_OK ? s : NULL;
}
