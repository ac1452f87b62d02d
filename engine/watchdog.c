/* watchdog.c — see watchdog.h. */
#include "watchdog.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

typedef struct slot {
    _Atomic int used;
    pthread_t tid;
    char name[16];
    _Atomic uint64_t deadline;
    _Atomic(void *) running;
    uint64_t fired_for, stuck_for;   /* the deadline already signalled / reported (the watchdog's own) */
} slot_t;

struct rk_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    rk_watchdog_fire_fn fire;
    rk_metrics_t *metrics;
    _Atomic unsigned long long fired, stuck;
    slot_t slots[RK_WATCHDOG_MAX_THREADS];
};

/* The watched thread's own place (read in its signal handler: initial-exec TLS). */
static __thread slot_t *my_slot;
static __thread rk_watchdog_t *my_dog;
static int signo;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    slot_t *s = my_slot;
    void *running = s ? atomic_load(&s->running) : NULL;
    uint64_t dl = s ? atomic_load(&s->deadline) : 0;
    if (running && dl && my_dog) my_dog->fire(running);
    errno = saved;
}

static void *loop(void *arg)
{
    rk_watchdog_t *w = arg;
    pthread_setname_np(pthread_self(), "riskd-watchdog");
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += RK_WATCHDOG_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->stopping) break;
        uint64_t now = rk_now_ns();
        for (int i = 0; i < RK_WATCHDOG_MAX_THREADS; i++) {
            slot_t *s = &w->slots[i];
            if (!atomic_load(&s->used)) continue;
            uint64_t dl = atomic_load(&s->deadline);
            if (!dl || now < dl) continue;
            if (s->fired_for != dl) {
                s->fired_for = dl;
                atomic_fetch_add(&w->fired, 1);
                if (w->metrics) rk_metrics_inc(w->metrics, RK_M_WATCHDOG_STOPS);
                pthread_kill(s->tid, signo);
            }
            if (now >= dl + (uint64_t)RK_WATCHDOG_STUCK_MS * 1000000ULL && s->stuck_for != dl) {
                s->stuck_for = dl;
                atomic_fetch_add(&w->stuck, 1);
                if (w->metrics) rk_metrics_inc(w->metrics, RK_M_LUA_STUCK);
                rk_log_t e;
                rk_log_begin(&e, RK_LOG_ERROR, "a Lua call is stuck in C past its deadline");
                rk_log_str(&e, "thread", s->name);
                rk_log_int(&e, "ms_past_deadline", (long long)((now - dl) / 1000000ULL));
                rk_log_end(&e);
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

rk_watchdog_t *rk_watchdog_start(rk_watchdog_fire_fn fire, struct rk_metrics *metrics, char *err, size_t errlen)
{
    rk_watchdog_t *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    w->fire = fire;
    w->metrics = metrics;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* A real-time signal of its own (the C library keeps the first ones). */
    signo = SIGRTMIN + 4;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0 || pthread_create(&w->thread, NULL, loop, w) != 0) {
        snprintf(err, errlen, "cannot start the watchdog: %s", strerror(errno));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void rk_watchdog_stop(rk_watchdog_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int rk_watchdog_join(rk_watchdog_t *w)
{
    for (int i = 0; i < RK_WATCHDOG_MAX_THREADS; i++) {
        slot_t *s = &w->slots[i];
        int expected = 0;
        if (!atomic_compare_exchange_strong(&s->used, &expected, 2)) continue;   /* 2: being set up */
        s->tid = pthread_self();
        if (pthread_getname_np(s->tid, s->name, sizeof s->name) != 0) s->name[0] = '\0';
        atomic_store(&s->deadline, 0);
        atomic_store(&s->running, NULL);
        my_slot = s;
        my_dog = w;
        atomic_store(&s->used, 1);
        return 0;
    }
    return -1;
}

void rk_watchdog_leave(void)
{
    slot_t *s = my_slot;
    if (!s) return;
    my_slot = NULL;
    atomic_store(&s->deadline, 0);
    atomic_store(&s->running, NULL);
    atomic_store(&s->used, 0);
}

void rk_watchdog_set(uint64_t deadline_ns, void *running)
{
    slot_t *s = my_slot;
    if (!s) return;
    /* running first when starting, last when ending: the handler never
     * sees a deadline with another call's state */
    if (deadline_ns) { atomic_store(&s->running, running); atomic_store(&s->deadline, deadline_ns); }
    else { atomic_store(&s->deadline, 0); atomic_store(&s->running, running); }
}

unsigned long long rk_watchdog_fired(const rk_watchdog_t *w) { return w ? atomic_load(&w->fired) : 0; }
unsigned long long rk_watchdog_stuck(const rk_watchdog_t *w) { return w ? atomic_load(&w->stuck) : 0; }
