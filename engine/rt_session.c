/* rt_session.c — see rt_session.h. */
#include "rt_session.h"

#include <stdio.h>
#include <string.h>

void rk_session_pwv(const char *hash, char *out, size_t cap)
{
    const char *h = hash ? hash : "", *last = strrchr(h, '$'), *salt = NULL;
    for (const char *p = h; last && p < last; p++) if (*p == '$') salt = p + 1;
    size_t n = salt ? (size_t)(last - salt) : 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, salt ? salt : "", n);
    out[n] = '\0';
}

void rk_session_round_begin(rk_session_round_t *r, rk_store_t *store, int64_t now_s)
{
    r->store = store;
    r->now_s = now_s;
    r->n = 0;
}

enum { ACCOUNT_ERROR = -1, ACCOUNT_FOUND = 0, ACCOUNT_GONE = 1 };

static void read_account(rk_store_t *store, const char *user, rk_session_account_t *a)
{
    rk_user_t u;
    memset(&u, 0, sizeof u);
    char err[256];
    int rc = rk_store_user_get(store, user, &u, err, sizeof err);
    a->state = rc == 0 ? ACCOUNT_FOUND : rc == RK_STORE_NOT_FOUND ? ACCOUNT_GONE : ACCOUNT_ERROR;
    snprintf(a->user, sizeof a->user, "%s", user);
    snprintf(a->role, sizeof a->role, "%s", u.role ? u.role : "");
    rk_session_pwv(u.password_hash, a->pwv, sizeof a->pwv);
    rk_store_user_free(&u);
}

int rk_session_check(rk_session_round_t *r, const rk_session_t *s, char *why, size_t cap)
{
    if (!s->user[0]) return 0;
    if (s->exp_s && r->now_s >= s->exp_s) { snprintf(why, cap, "the token has expired; sign in again"); return 1; }
    rk_session_account_t *a = NULL, spare;
    for (int i = 0; i < r->n && !a; i++) if (strcmp(r->seen[i].user, s->user) == 0) a = &r->seen[i];
    if (!a) {   /* not read yet this round; past the round's room, read for this one alone */
        a = r->n < (int)(sizeof r->seen / sizeof r->seen[0]) ? &r->seen[r->n++] : &spare;
        read_account(r->store, s->user, a);
    }
    if (a->state == ACCOUNT_ERROR) return 0;
    if (a->state == ACCOUNT_GONE) { snprintf(why, cap, "the account no longer exists"); return 1; }
    if (strcmp(a->role, s->role) != 0) { snprintf(why, cap, "the account's role changed; sign in again"); return 1; }
    if (strcmp(a->pwv, s->pwv) != 0) { snprintf(why, cap, "the password changed; sign in again"); return 1; }
    return 0;
}
