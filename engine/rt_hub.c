/* rt_hub.c — see rt_hub.h. */
#include "rt_hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const topics[RK_HUB_NTOPICS] = { "alerts", "events", "rules", "models" };
#define NTOPICS RK_HUB_NTOPICS

struct rk_hub {
    pthread_mutex_t mu;
    rk_hub_msg_t **ring;
    size_t cap;
    uint64_t last;                 /* id of the newest message */
    struct { void (*fn)(void *); void *arg; } watchers[RK_HUB_MAX_WATCHERS];
    int nwatchers;
    atomic_int subs[NTOPICS];
};

int rk_hub_topic_index(const char *topic)
{
    for (int i = 0; topic && i < NTOPICS; i++) if (!strcmp(topic, topics[i])) return i;
    return -1;
}

const char *rk_hub_topic_name(int index) { return index >= 0 && index < NTOPICS ? topics[index] : NULL; }

rk_hub_t *rk_hub_new(size_t backlog)
{
    rk_hub_t *h = calloc(1, sizeof *h);
    if (!h || !backlog || !(h->ring = calloc(backlog, sizeof *h->ring))) { free(h); return NULL; }
    h->cap = backlog;
    pthread_mutex_init(&h->mu, NULL);
    for (int i = 0; i < NTOPICS; i++) atomic_init(&h->subs[i], 0);
    return h;
}

void rk_hub_release(rk_hub_msg_t *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) free(m);
}

void rk_hub_free(rk_hub_t *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->cap; i++) rk_hub_release(h->ring[i]);
    free(h->ring);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int rk_hub_watch(rk_hub_t *h, void (*notify)(void *), void *arg)
{
    pthread_mutex_lock(&h->mu);
    int ok = h->nwatchers < RK_HUB_MAX_WATCHERS;
    if (ok) {
        h->watchers[h->nwatchers].fn = notify;
        h->watchers[h->nwatchers].arg = arg;
        h->nwatchers++;
    }
    pthread_mutex_unlock(&h->mu);
    return ok ? 0 : -1;
}

uint64_t rk_hub_publish(rk_hub_t *h, const char *topic, int level, const char *json, size_t len)
{
    rk_hub_msg_t *m = malloc(sizeof *m + len + 1);
    if (!m) return 0;
    atomic_init(&m->refs, 1);   /* the ring's */
    strncpy(m->topic, topic, sizeof m->topic - 1);
    m->topic[sizeof m->topic - 1] = '\0';
    m->level = level;
    m->len = len;
    memcpy(m->json, json, len);
    m->json[len] = '\0';
    pthread_mutex_lock(&h->mu);
    uint64_t id = m->id = ++h->last;   /* m may be evicted by another publisher once unlocked */
    size_t slot = (size_t)(id % h->cap);
    rk_hub_msg_t *old = h->ring[slot];
    h->ring[slot] = m;
    int n = h->nwatchers;
    pthread_mutex_unlock(&h->mu);
    rk_hub_release(old);
    /* watchers are only added before the workers start; reading the
     * array without the lock after that is safe */
    for (int i = 0; i < n; i++) h->watchers[i].fn(h->watchers[i].arg);
    return id;
}

size_t rk_hub_read(rk_hub_t *h, uint64_t after, rk_hub_msg_t **out, size_t max, uint64_t *missed)
{
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    uint64_t oldest = h->last >= h->cap ? h->last - h->cap + 1 : 1;
    uint64_t from = after + 1;
    *missed = from < oldest ? oldest - from : 0;
    if (from < oldest) from = oldest;
    for (uint64_t id = from; id <= h->last && n < max; id++) {
        rk_hub_msg_t *m = h->ring[id % h->cap];
        atomic_fetch_add(&m->refs, 1);
        out[n++] = m;
    }
    pthread_mutex_unlock(&h->mu);
    return n;
}

uint64_t rk_hub_last_id(rk_hub_t *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t v = h->last;
    pthread_mutex_unlock(&h->mu);
    return v;
}

void rk_hub_subscribers_add(rk_hub_t *h, const char *topic, int delta)
{
    int i = rk_hub_topic_index(topic);
    if (i >= 0) atomic_fetch_add(&h->subs[i], delta);
}

int rk_hub_subscribers(rk_hub_t *h, const char *topic)
{
    int i = rk_hub_topic_index(topic);
    return i >= 0 ? atomic_load(&h->subs[i]) : 0;
}
