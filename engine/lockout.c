/* lockout.c — see lockout.h. One mutex around a chained hash of records;
 * a sign-in takes it twice (the wait, then the outcome), which is nothing
 * beside the argon2 verification between them. */
#include "lockout.h"
#include "hash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { PAIR, ACCOUNT, ADDRESS };

#define ACCOUNT_KEEP_S (30 * 86400)   /* an account's known addresses are kept this long after its last sign-in */
#define ADDR_LEN 48

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int kind, n;
    int64_t first, until, last, next_slot;
    char known[RK_LOCKOUT_KNOWN][ADDR_LEN];   /* ACCOUNT: addresses it signed in from, latest first */
    char key[];
} entry_t;

struct rk_lockout {
    pthread_mutex_t mu;
    rk_lockout_cfg_t cfg;
    entry_t **slots;
    size_t nslots, n;
};

void rk_lockout_defaults(rk_lockout_cfg_t *c)
{
    c->pair_after = 5;
    c->pair_base_s = 30;
    c->pair_max_s = 900;
    c->account_ceiling = 20;
    c->account_window_s = 900;
    c->account_slow_s = 10;
    c->ip_max = 100;
    c->ip_window_s = 600;
    c->max_entries = 100000;
}

rk_lockout_t *rk_lockout_new(const rk_lockout_cfg_t *c)
{
    rk_lockout_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = *c;
    l->nslots = 4096;
    while (l->nslots < (size_t)c->max_entries / 2) l->nslots *= 2;
    l->slots = calloc(l->nslots, sizeof *l->slots);
    if (!l->slots) { free(l); return NULL; }
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void rk_lockout_free(rk_lockout_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nslots; i++)
        for (entry_t *e = l->slots[i], *next; e; e = next) { next = e->next; free(e); }
    free(l->slots);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The key: kind, account and address, each ended by a NUL. */
static size_t make_key(char *buf, size_t cap, int kind, const char *account, const char *addr)
{
    size_t a = strlen(account), b = strlen(addr);
    if (a > 200) a = 200;
    if (b > ADDR_LEN - 1) b = ADDR_LEN - 1;
    if (3 + a + b > cap) return 0;
    buf[0] = (char)('0' + kind);
    memcpy(buf + 1, account, a);
    buf[1 + a] = '\0';
    memcpy(buf + 2 + a, addr, b);
    buf[2 + a + b] = '\0';
    return 3 + a + b;
}

static uint64_t hash_of(const char *k, size_t n) { return rk_fnv1a(k, n); }

static int expired(const rk_lockout_t *l, const entry_t *e, int64_t now)
{
    switch (e->kind) {
    case PAIR: return e->until <= now && e->last + l->cfg.pair_max_s <= now;
    case ADDRESS: return e->first + l->cfg.ip_window_s <= now;
    default: return e->last + ACCOUNT_KEEP_S <= now && e->next_slot <= now;
    }
}

static void sweep(rk_lockout_t *l, int64_t now)
{
    for (size_t i = 0; i < l->nslots; i++)
        for (entry_t **p = &l->slots[i]; *p;) {
            if (expired(l, *p, now)) { entry_t *e = *p; *p = e->next; free(e); l->n--; }
            else p = &(*p)->next;
        }
}

/* The record of (kind, account, addr); made when create is set and there is
 * room (NULL otherwise). */
static entry_t *find(rk_lockout_t *l, int kind, const char *account, const char *addr, int64_t now, int create)
{
    char key[260];
    size_t n = make_key(key, sizeof key, kind, account, addr);
    if (!n) return NULL;
    uint64_t h = hash_of(key, n);
    entry_t **head = &l->slots[h & (l->nslots - 1)];
    for (entry_t *e = *head; e; e = e->next)
        if (e->hash == h && memcmp(e->key, key, n) == 0) return e;
    if (!create) return NULL;
    if (l->n >= (size_t)l->cfg.max_entries) sweep(l, now);
    if (l->n >= (size_t)l->cfg.max_entries) return NULL;
    entry_t *e = calloc(1, sizeof *e + n);
    if (!e) return NULL;
    e->hash = h;
    e->kind = kind;
    e->first = e->last = now;
    memcpy(e->key, key, n);
    e->next = *head;
    *head = e;
    l->n++;
    return e;
}

static int known(const entry_t *acct, const char *addr)
{
    for (int i = 0; i < RK_LOCKOUT_KNOWN; i++)
        if (acct->known[i][0] && strncmp(acct->known[i], addr, ADDR_LEN - 1) == 0) return 1;
    return 0;
}

/* A fixed window: counting starts again once it has passed. */
static void window(entry_t *e, int64_t now, int len)
{
    if (e->first + len <= now) { e->first = now; e->n = 0; }
}

int rk_lockout_wait(rk_lockout_t *l, const char *account, const char *addr, int64_t now, const char **why)
{
    if (!addr) addr = "";
    int64_t wait = 0;
    const char *reason = NULL;
    pthread_mutex_lock(&l->mu);
    entry_t *ip = addr[0] ? find(l, ADDRESS, "", addr, now, 0) : NULL;
    if (ip && ip->first + l->cfg.ip_window_s > now && ip->n >= l->cfg.ip_max) {
        wait = ip->first + l->cfg.ip_window_s - now;
        reason = "address";
    }
    entry_t *pair = find(l, PAIR, account, addr, now, 0);
    if (pair && pair->until > now && pair->until - now > wait) {
        wait = pair->until - now;
        reason = "address_for_account";
    }
    entry_t *acct = find(l, ACCOUNT, account, "", now, 0);
    if (!wait && acct && acct->first + l->cfg.account_window_s > now && acct->n >= l->cfg.account_ceiling &&
        !known(acct, addr)) {
        /* slowed: one try at a time for every address the account does not know */
        if (acct->next_slot > now) { wait = acct->next_slot - now; reason = "account"; }
        else acct->next_slot = now + l->cfg.account_slow_s;
    }
    pthread_mutex_unlock(&l->mu);
    if (why) *why = reason;
    return (int)wait;
}

void rk_lockout_failed(rk_lockout_t *l, const char *account, const char *addr, int64_t now)
{
    if (!addr) addr = "";
    pthread_mutex_lock(&l->mu);
    entry_t *ip = addr[0] ? find(l, ADDRESS, "", addr, now, 1) : NULL;
    if (ip) { window(ip, now, l->cfg.ip_window_s); ip->n++; ip->last = now; }
    entry_t *pair = find(l, PAIR, account, addr, now, 1);
    if (pair) {
        pair->n++;
        pair->last = now;
        if (pair->n >= l->cfg.pair_after) {
            int shift = pair->n - l->cfg.pair_after;
            int64_t w = shift >= 20 ? l->cfg.pair_max_s : (int64_t)l->cfg.pair_base_s << shift;
            pair->until = now + (w < l->cfg.pair_max_s ? w : l->cfg.pair_max_s);
        }
    }
    entry_t *acct = find(l, ACCOUNT, account, "", now, 1);
    if (acct && !known(acct, addr)) {   /* the owner's typos from home do not count against the account */
        window(acct, now, l->cfg.account_window_s);
        acct->n++;
        acct->last = now;
    }
    pthread_mutex_unlock(&l->mu);
}

void rk_lockout_succeeded(rk_lockout_t *l, const char *account, const char *addr, int64_t now)
{
    if (!addr) addr = "";
    pthread_mutex_lock(&l->mu);
    entry_t *pair = find(l, PAIR, account, addr, now, 0);
    if (pair) { pair->n = 0; pair->until = 0; }
    entry_t *acct = addr[0] ? find(l, ACCOUNT, account, "", now, 1) : NULL;
    if (acct) {
        int i = 0;
        while (i < RK_LOCKOUT_KNOWN - 1 && strncmp(acct->known[i], addr, ADDR_LEN - 1) != 0) i++;
        memmove(acct->known[1], acct->known[0], (size_t)i * ADDR_LEN);   /* to the front, the oldest out */
        strncpy(acct->known[0], addr, ADDR_LEN - 1);
        acct->known[0][ADDR_LEN - 1] = '\0';
        acct->last = now;
    }
    pthread_mutex_unlock(&l->mu);
}
