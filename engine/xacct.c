/* xacct.c — see xacct.h. */
#include "xacct.h"

#include <pthread.h>
#include <stdlib.h>

#include "hash.h"

#define LOCKS 64

typedef struct { uint64_t account; int64_t ts; unsigned flags; } way_t;
typedef struct { uint64_t key; way_t w[RK_XACCT_WAYS]; } slot_t;

struct rk_xacct {
    size_t mask;
    slot_t *slots;
    pthread_mutex_t locks[LOCKS];
};

rk_xacct_t *rk_xacct_new(size_t slots)
{
    size_t n = 1;
    while (n < slots) n <<= 1;
    rk_xacct_t *x = calloc(1, sizeof *x);
    if (!x || !(x->slots = calloc(n, sizeof *x->slots))) { free(x); return NULL; }
    x->mask = n - 1;
    for (int i = 0; i < LOCKS; i++) pthread_mutex_init(&x->locks[i], NULL);
    return x;
}

void rk_xacct_free(rk_xacct_t *x)
{
    if (!x) return;
    for (int i = 0; i < LOCKS; i++) pthread_mutex_destroy(&x->locks[i]);
    free(x->slots);
    free(x);
}

/* 0 stands for an empty slot or way: a hash of 0 becomes 1. */
static uint64_t hash_of(const char *s)
{
    uint64_t h = rk_fnv1a_str(RK_FNV_OFFSET, s);
    return h ? h : 1;
}

void rk_xacct_note(rk_xacct_t *x, const char *key, const char *account, int64_t ts_ms, unsigned flags)
{
    uint64_t k = hash_of(key), a = hash_of(account);
    size_t i = (size_t)k & x->mask;
    pthread_mutex_t *mu = &x->locks[i % LOCKS];
    pthread_mutex_lock(mu);
    slot_t *s = &x->slots[i];
    if (s->key != k) {   /* empty, or another key's: taken over */
        for (int j = 0; j < RK_XACCT_WAYS; j++) s->w[j] = (way_t){ 0, 0, 0 };
        s->key = k;
    }
    int at = -1;
    for (int j = 0; j < RK_XACCT_WAYS && at < 0; j++) if (s->w[j].account == a) at = j;
    if (at < 0) {
        /* a free way, or the account seen longest ago gives way */
        at = 0;
        for (int j = 0; j < RK_XACCT_WAYS; j++) {
            if (!s->w[j].account) { at = j; break; }
            if (s->w[j].ts < s->w[at].ts) at = j;
        }
        s->w[at] = (way_t){ a, ts_ms, flags };
    } else {
        if (ts_ms > s->w[at].ts) s->w[at].ts = ts_ms;
        s->w[at].flags |= flags;
    }
    pthread_mutex_unlock(mu);
}

int rk_xacct_others(rk_xacct_t *x, const char *key, const char *account, int64_t since_ms, unsigned flags)
{
    uint64_t k = hash_of(key), a = hash_of(account);
    size_t i = (size_t)k & x->mask;
    pthread_mutex_t *mu = &x->locks[i % LOCKS];
    int n = 0;
    pthread_mutex_lock(mu);
    const slot_t *s = &x->slots[i];
    if (s->key == k)
        for (int j = 0; j < RK_XACCT_WAYS; j++) {
            const way_t *w = &s->w[j];
            n += w->account && w->account != a && w->ts >= since_ms && (w->flags & flags) == flags;
        }
    pthread_mutex_unlock(mu);
    return n;
}
