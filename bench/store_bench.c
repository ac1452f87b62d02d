/* store_bench.c — `make bench`: acknowledged event inserts per second on the
 * SQLite store (one event per transaction, as the API records them, from two
 * threads; BENCH_INSERTS of them), then the database is filled to
 * BENCH_EVENTS (1,000,000) in batches and the latency of stats, timeline, top
 * users and event lists is measured at that size. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "config.h"
#include "store.h"
#include "store_writer.h"

#define H 3600000LL
static const char *uri;
static long per_thread;
static int64_t t_end;
static int batch = 1;

/* An analysis's stored document as the server writes it (one rule fired,
 * the features; the fields kept as columns are not in it): its size
 * decides how rows sit in pages. */
#define DOC "{\"rule_errors\":{},\"rules\":[{\"reason\":\"new network\",\"name\":\"new_network\",\"score\":10," \
    "\"family\":\"network_novelty\"}],\"features\":{\"weekday\":4,\"ua_novelty\":0," \
    "\"local_hour_logins\":1,\"log_maturity\":0.69314718055995,\"log_hours_since\":0.49062291644847,\"ip_users_1h\":0," \
    "\"hour_surprise\":0,\"local_hour\":9,\"weekend\":0,\"located_logins\":1,\"new_prefix\":1,\"failures_1h\":0," \
    "\"hour_sin\":0.69779045984168,\"speed_kmh\":0,\"hour_cos\":-0.71630194342465,\"distance_km\":0,\"new_country\":0," \
    "\"new_device\":0},\"latitude\":51.5074,\"longitude\":-0.1278,\"reasons\":[\"new network\"]}"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static rk_writer_t *group;   /* set: submit to the server's writer thread */
#define WINDOW 64            /* writes in flight per thread, as a worker with 64 connections */

typedef struct { rk_task_t base; rk_event_t *ev; } rec_task;
static void rec_run(rk_task_t *t, void *store)
{
    t->rc = rk_store_event_record(store, ((rec_task *)t)->ev, 1, t->err, sizeof t->err);
}
static void rec_release(rk_task_t *t) { free(((rec_task *)t)->ev); free(t); }

/* Hands e to the writer; keeps at most WINDOW unanswered. */
static void submit(rk_mailbox_t *box, const rk_event_t *e, int *inflight, int drain)
{
    if (e) {
        rec_task *t = calloc(1, sizeof *t);
        t->ev = rk_event_dup(e);
        t->base.run = rec_run;
        t->base.release = rec_release;
        t->base.reply_to = box;
        rk_writer_submit(group, &t->base);
        (*inflight)++;
    }
    while (*inflight >= WINDOW || (drain && *inflight > 0)) {
        rk_task_t *t = rk_mailbox_wait(box);
        if (t->rc) { fprintf(stderr, "%s\n", t->err); exit(1); }
        t->release(t);
        (*inflight)--;
    }
}

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    char err[256];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    if (!s) { fprintf(stderr, "%s\n", err); exit(1); }
    rk_mailbox_t *box = group ? rk_mailbox_new(NULL, NULL, NULL) : NULL;
    int inflight = 0;
    uint64_t seed = (uint64_t)id * 7919 + 1;
    static const char *levels[] = { "low", "low", "low", "medium", "medium", "high", "critical" };
    static const char *countries[] = { "FR", "DE", "US", "GB", "BR", "IN", "JP" };
    rk_event_t *pending = calloc((size_t)batch, sizeof *pending);
    char (*users)[32] = calloc((size_t)batch, 32), (*ips)[48] = calloc((size_t)batch, 48), (*devs)[32] = calloc((size_t)batch, 32);
    int np = 0;
    for (long i = 0; i < per_thread; i++) {
        char *user = users[np], *ip = ips[np], *dev = devs[np];
        int u = (int)(rnd(&seed) % 20000);
        snprintf(user, 32, "user%05d", u);
        snprintf(ip, 48, "10.%d.%d.%d", u % 200, (int)(rnd(&seed) % 250), (int)(rnd(&seed) % 250));
        snprintf(dev, 32, "dev-%d-%d", u, (int)(rnd(&seed) % 3));
        rk_event_t e;
        memset(&e, 0, sizeof e);
        e.user_id = user;
        e.ip = ip;
        /* 30 days of traffic arriving in time order, as it does, with jitter */
        e.ts_ms = t_end - 30 * 24 * H + (int64_t)((double)i / (double)per_thread * 30 * 24 * H) - (int64_t)(rnd(&seed) % 60000);
        e.success = rnd(&seed) % 10 != 0;
        e.country = countries[u % 7];
        e.device_id = dev;
        e.risk_level = levels[rnd(&seed) % 7];
        e.risk_score = (double)(rnd(&seed) % 10000) / 100;
        e.is_anomaly = rnd(&seed) % 50 == 0;
        e.anomaly_score = 0.5;
        e.action = "allow";
        e.doc = DOC;
        if (group) { submit(box, &e, &inflight, 0); continue; }
        pending[np++] = e;
        if (np == batch || i == per_thread - 1) {
            int rc = batch == 1 ? rk_store_event_record(s, pending, 1, err, sizeof err)
                                : rk_store_event_record_many(s, pending, (size_t)np, 1, err, sizeof err);
            if (rc != 0) { fprintf(stderr, "%s\n", err); exit(1); }
            np = 0;
        }
    }
    if (group) { submit(box, NULL, &inflight, 1); rk_mailbox_free(box); }
    free(pending); free(users); free(ips); free(devs);
    rk_store_close(s);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define REPS 21

static void timeit(const char *name, rk_store_t *s, int which)
{
    double t[REPS];
    char err[256];
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        int rc = 0;
        if (which == 0) { rk_stats_t st; rc = rk_store_stats(s, t_end, &st, err, sizeof err); }
        else if (which == 1 || which == 2) {
            rk_bucket_t *b; size_t n;
            int64_t span = which == 1 ? 24 * H : 30 * 24 * H;
            rc = rk_store_timeline(s, t_end - span, t_end, which == 1 ? H : 24 * H, &b, &n, err, sizeof err);
            if (!rc) free(b);
        } else if (which == 3 || which == 4) {
            rk_top_user_t *u; size_t n;
            rc = rk_store_top_users(s, which == 3 ? 0 : t_end - 24 * H, 10, &u, &n, err, sizeof err);
            if (!rc) free(u);
        } else if (which >= 9) {
            rk_alert_filter_t f = { .page = 1, .per_page = 50 };
            if (which == 10) { f.status = "open"; f.severity = "high"; }
            if (which == 11) f.user_id = "user00042";
            if (which == 12) f.since_ms = t_end - 24 * H;
            rk_alert_list_t l;
            rc = rk_store_alert_list(s, &f, &l, err, sizeof err);
            if (!rc) rk_store_alert_list_free(&l);
        } else {
            rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 50 };
            if (which == 6) f.user_id = "user00042";
            if (which == 7) f.risk_level = "critical";
            if (which == 8) { f.anomaly_only = 1; f.since_ms = t_end - 24 * H; }
            rk_event_list_t l;
            rc = rk_store_event_list(s, &f, &l, err, sizeof err);
            if (!rc) rk_store_event_list_free(&l);
        }
        if (rc) { fprintf(stderr, "%s: %s\n", name, err); exit(1); }
        t[r] = (now() - t0) * 1000;
    }
    qsort(t, REPS, sizeof *t, cmp);
    printf("  %-44s median %7.2f ms   max %7.2f ms\n", name, t[REPS / 2], t[REPS - 1]);
}

int main(void)
{
    long total = getenv("BENCH_EVENTS") ? atol(getenv("BENCH_EVENTS")) : 1000000;
    long inserts = getenv("BENCH_INSERTS") ? atol(getenv("BENCH_INSERTS")) : 20000;
    char path[] = "/tmp/riskd-store-bench-XXXXXX";
    if (!mkdtemp(path)) return 1;
    char u[256];
    snprintf(u, sizeof u, "sqlite:%s/bench.db", path);
    uri = u;
    t_end = (int64_t)time(NULL) * 1000;
    int writers = getenv("BENCH_WRITERS") ? atoi(getenv("BENCH_WRITERS")) : 2;
    if (writers < 1 || writers > 2) writers = 2;
    per_thread = inserts / writers;
    pthread_t th[2];
    double t0 = now(), secs;
    printf("\nSQLite store (%s), 20,000 users, 2 threads:\n", path);
    if (!getenv("BENCH_GROUP_ONLY")) {   /* for quick iterations on the group commit */
        for (long i = 0; i < writers; i++) pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
        for (int i = 0; i < writers; i++) pthread_join(th[i], NULL);
        secs = now() - t0;
        printf("  %-44s %9.0f /s\n", "acknowledged inserts, own transaction each", (double)(per_thread * writers) / secs);
    }
    /* As the server records them: each event its own write, acknowledged
     * after its commit, many in flight, committed together by the writer;
     * with the summaries written by every commit, then summed for the
     * server's --sqlite-summary-ms (store.h: rk_store_sync). */
    rk_config_t cfg;
    rk_config_defaults(&cfg);
    for (int summed = 0; summed < 2; summed++) {
        char err0[256], label[64];
        rk_store_opts_t wo;
        rk_store_defaults(&wo);
        wo.live_owner = 1;
        wo.summary_ms = summed ? cfg.sqlite_summary_ms : 0;
        group = rk_writer_start(uri, &wo, err0, sizeof err0);
        if (!group) { fprintf(stderr, "%s\n", err0); return 1; }
        struct rusage ru0, ru1;
        getrusage(RUSAGE_SELF, &ru0);
        t0 = now();
        for (long i = 0; i < writers; i++) pthread_create(&th[i], NULL, writer, (void *)(intptr_t)(i + 4 + 2 * summed));
        for (int i = 0; i < writers; i++) pthread_join(th[i], NULL);
        secs = now() - t0;
        rk_writer_stats_t ws;
        rk_writer_stats(group, &ws);
        rk_writer_stop(group);
        group = NULL;
        getrusage(RUSAGE_SELF, &ru1);
        double n_ev = (double)(per_thread * writers);
#define TV(a, b) ((double)((b).tv_sec - (a).tv_sec) + (double)((b).tv_usec - (a).tv_usec) / 1e6)
        snprintf(label, sizeof label, "acknowledged inserts, group commit, %s", summed ? "summaries summed" : "summaries per commit");
        printf("  %-44s %9.0f /s   (target 30,000; %.1f events per commit; CPU per event %.0f us user, %.0f us system)\n",
               label, n_ev / secs, (double)ws.writes / (double)(ws.batches ? ws.batches : 1),
               TV(ru0.ru_utime, ru1.ru_utime) / n_ev * 1e6, TV(ru0.ru_stime, ru1.ru_stime) / n_ev * 1e6);
    }
    inserts += per_thread * writers;   /* the second group commit run */
    if (!getenv("BENCH_GROUP_ONLY")) inserts += per_thread * writers;
    /* Fill up to the full size in batches of 1000 per transaction. */
    per_thread = (total - inserts) / 2;
    batch = 1000;
    t0 = now();
    for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, writer, (void *)(intptr_t)(i + 2));
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    secs = now() - t0;
    printf("  %-44s %9.0f /s   (%ld events, 1000 per transaction)\n", "batch inserts (import, replay)",
           (double)(per_thread * 2) / secs, per_thread * 2);
    char err[256];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    if (!s) { fprintf(stderr, "%s\n", err); return 1; }
    printf("latency at %ld events (target: stats, timeline, top users under 50 ms):\n", inserts + per_thread * 2);
    timeit("stats (all time and last 24 h)", s, 0);
    timeit("timeline, 24 h by hour", s, 1);
    timeit("timeline, 30 days by day", s, 2);
    timeit("top users, all time", s, 3);
    timeit("top users, last 24 h", s, 4);
    timeit("events, first page of 50, no filter", s, 5);
    timeit("events, one user", s, 6);
    timeit("events, risk level critical", s, 7);
    timeit("events, anomalies in the last 24 h", s, 8);
    /* 10,000 alerts over the 30 days, then their listing. */
    static const char *sev[] = { "high", "critical" }, *causes[] = { "new_country", "brute_force", "impossible_travel" };
    static const char *status[] = { "open", "investigating", "resolved", "false_positive" };
    for (int i = 0; i < 10000; i++) {
        char user[32];
        snprintf(user, sizeof user, "user%05d", (i * 7) % 20000);
        rk_alert_t a = { .user_id = user, .severity = sev[i % 2], .cause = causes[i % 3], .status = status[i % 4],
                         .created_ms = t_end - 30 * 24 * H + (int64_t)i * (30 * 24 * H / 10000) };
        if (rk_store_alert_insert(s, &a, NULL, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    }
    printf("with 10,000 alerts (target: alert listing with filters under 20 ms):\n");
    timeit("alerts, first page", s, 9);
    timeit("alerts, open and high", s, 10);
    timeit("alerts, one user", s, 11);
    timeit("alerts, last 24 h", s, 12);
    timeit("stats (with the alerts)", s, 0);
    rk_store_close(s);
    if (getenv("BENCH_KEEP")) { printf("kept %s\n", path); return 0; }   /* to look inside (dbstat) */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd) == 0 ? 0 : 1;
}
