/* task.c — see task.h. */
#include "task.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- queue ---- */

void rk_queue_init(rk_queue_t *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = q->tail = NULL;
    q->closed = 0;
}

void rk_queue_destroy(rk_queue_t *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

void rk_queue_push(rk_queue_t *q, rk_task_t *t)
{
    t->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail) q->tail->next = t; else q->head = t;
    q->tail = t;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

rk_task_t *rk_queue_take(rk_queue_t *q, int max)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
    rk_task_t *first = q->head, *last = first;
    for (int n = 1; last && (max <= 0 || n < max) && last->next; n++) last = last->next;
    if (last) {
        q->head = last->next;
        if (!q->head) q->tail = NULL;
        last->next = NULL;
    }
    /* Others may be waiting too (the pool's threads). */
    if (q->head) pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return first;
}

void rk_queue_close(rk_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* ---- mailbox ---- */

struct rk_mailbox {
    rk_queue_t q;
    struct event *ev;        /* activated on post; NULL without a base */
    rk_mailbox_fn fn;
    void *arg;
};

/* On the owner's thread: everything posted so far. */
static void on_mail(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_mailbox_t *m = arg;
    pthread_mutex_lock(&m->q.mu);
    rk_task_t *t = m->q.head;
    m->q.head = m->q.tail = NULL;
    pthread_mutex_unlock(&m->q.mu);
    while (t) {
        rk_task_t *next = t->next;
        t->next = NULL;
        m->fn(t, m->arg);
        t = next;
    }
}

rk_mailbox_t *rk_mailbox_new(struct event_base *base, rk_mailbox_fn fn, void *arg)
{
    rk_mailbox_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    rk_queue_init(&m->q);
    m->fn = fn;
    m->arg = arg;
    if (base && !(m->ev = event_new(base, -1, 0, on_mail, m))) {
        rk_queue_destroy(&m->q);
        free(m);
        return NULL;
    }
    return m;
}

void rk_mailbox_post(rk_mailbox_t *m, rk_task_t *t)
{
    /* Read before the push: once the task is in, its owner may take it and,
     * if it was the last, free a base-less mailbox (found by ASan). */
    struct event *ev = m->ev;
    rk_queue_push(&m->q, t);
    /* Activating an already active event is a no-op: one wake-up drains
     * every task posted before it runs. */
    if (ev) event_active(ev, EV_READ, 0);
}

rk_task_t *rk_mailbox_wait(rk_mailbox_t *m)
{
    return rk_queue_take(&m->q, 1);
}

void rk_mailbox_free(rk_mailbox_t *m)
{
    if (!m) return;
    if (m->fn) on_mail(-1, 0, m);
    else
        for (rk_task_t *t = m->q.head, *n; t; t = n) { n = t->next; t->release(t); }
    if (m->ev) event_free(m->ev);
    rk_queue_destroy(&m->q);
    free(m);
}

/* ---- pool ---- */

struct rk_pool {
    rk_queue_t q;
    int n;
    pthread_t *threads;
};

static void *pool_main(void *arg)
{
    rk_pool_t *p = arg;
    rk_task_t *t;
    pthread_setname_np(pthread_self(), "riskd-pool");
    while ((t = rk_queue_take(&p->q, 1)) != NULL) {
        rk_mailbox_t *to = t->reply_to;
        t->run(t, NULL);
        rk_mailbox_post(to, t);   /* t belongs to the owner from here */
    }
    return NULL;
}

rk_pool_t *rk_pool_new(int threads, char *err, size_t errlen)
{
    rk_pool_t *p = calloc(1, sizeof *p);
    if (p) p->threads = calloc((size_t)threads, sizeof *p->threads);
    if (!p || !p->threads) { free(p); snprintf(err, errlen, "out of memory"); return NULL; }
    rk_queue_init(&p->q);
    for (; p->n < threads; p->n++) {
        if (pthread_create(&p->threads[p->n], NULL, pool_main, p) != 0) {
            snprintf(err, errlen, "cannot start a pool thread");
            rk_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void rk_pool_submit(rk_pool_t *p, rk_task_t *t) { rk_queue_push(&p->q, t); }

void rk_pool_free(rk_pool_t *p)
{
    if (!p) return;
    rk_queue_close(&p->q);
    for (int i = 0; i < p->n; i++) pthread_join(p->threads[i], NULL);
    rk_queue_destroy(&p->q);
    free(p->threads);
    free(p);
}
