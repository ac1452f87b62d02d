/* test_store_writer.c — group commit: writes from several threads land, in
 * fewer transactions than writes; a failing write undoes only itself; a
 * full WAL is checkpointed off the writer thread; stop drains the queue. */
#include "test_util.h"
#include "store_live.h"
#include "store_writer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

static char uri[1200];
static char *dir;

static int setup(void **st)
{
    (void)st;
    dir = tmp_dir();
    snprintf(uri, sizeof uri, "sqlite:%s/w.db", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    rm_tree(dir);
    return 0;
}

/* A task recording one event, or (alert) adding an event to an alert. */
typedef struct {
    rk_task_t base;
    rk_event_t *ev;
    const char *alert;
} wtask;

static void run_record(rk_task_t *t, void *ctx)
{
    wtask *w = (wtask *)t;
    if (w->alert)
        t->rc = rk_store_alert_add_event(ctx, w->alert, "ev-x", "high", 1000, t->err, sizeof t->err);
    else
        t->rc = rk_store_event_record(ctx, w->ev, 1, t->err, sizeof t->err);
}

static void release(rk_task_t *t)
{
    wtask *w = (wtask *)t;
    free(w->ev);
    free(w);
}

static wtask *new_task(const char *user, int64_t ts, rk_mailbox_t *box)
{
    rk_event_t e;
    memset(&e, 0, sizeof e);
    e.user_id = user;
    e.ip = "10.0.0.1";
    e.ts_ms = ts;
    e.success = 1;
    e.country = "FR";
    e.device_id = "laptop";
    e.risk_level = "low";
    e.risk_score = 1.5;
    e.doc = "{\"reasons\":[]}";
    wtask *w = calloc(1, sizeof *w);
    w->ev = rk_event_dup(&e);
    w->base.run = run_record;
    w->base.release = release;
    w->base.reply_to = box;
    return w;
}

typedef struct { rk_writer_t *w; int id, n, window; int ok; int users; } client_t;

/* Keeps `window` writes in flight, as a worker with many connections does. */
static void *client(void *arg)
{
    client_t *c = arg;
    rk_mailbox_t *box = rk_mailbox_new(NULL, NULL, NULL);
    char user[32];
    int sent = 0, got = 0;
    while (got < c->n) {
        while (sent < c->n && sent - got < c->window) {
            snprintf(user, sizeof user, "u%d-%d", c->id, (sent * 7919) % (c->users ? c->users : 50));
            rk_writer_submit(c->w, &new_task(user, 1700000000000LL + sent * 1000, box)->base);
            sent++;
        }
        rk_task_t *t = rk_mailbox_wait(box);
        if (t->rc == 0) c->ok++;
        t->release(t);
        got++;
    }
    rk_mailbox_free(box);
    return NULL;
}

static int64_t count_events(void)
{
    char err[256];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    assert_non_null(s);
    rk_event_filter_t f = { .min_risk = -1, .page = 1, .per_page = 1 };
    rk_event_list_t l;
    assert_int_equal(rk_store_event_list(s, &f, &l, err, sizeof err), 0);
    int64_t n = l.total;
    rk_store_event_list_free(&l);
    rk_store_close(s);
    return n;
}

static void many_threads_fewer_commits(void **st)
{
    (void)st;
    char err[256];
    rk_writer_t *w = rk_writer_start(uri, NULL, err, sizeof err);
    assert_non_null(w);
    client_t c[2] = { { w, 0, 3000, 64, 0, 0 }, { w, 1, 3000, 64, 0, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, client, &c[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_int_equal(c[0].ok + c[1].ok, 6000);
    rk_writer_stats_t s;
    rk_writer_stats(w, &s);
    assert_int_equal(s.writes, 6000);
    assert_int_equal(s.failed_commits, 0);
    /* Group commit happened: far fewer transactions than writes. */
    assert_true(s.batches < 3000);
    assert_true(s.max_batch > 1 && s.max_batch <= RK_WRITER_MAX_BATCH);
    rk_writer_stop(w);
    assert_int_equal(count_events(), 6000);
    /* Profiles were updated in the same transactions: 50 users per thread. */
    rk_store_t *db = rk_store_open(uri, NULL, err, sizeof err);
    rk_profile_t *p = malloc(sizeof *p);
    assert_int_equal(rk_store_profile_get(db, "u1-7", p, err, sizeof err), 0);
    assert_int_equal(p->attempts, 60);
    free(p);
    rk_store_close(db);
}

/* In one batch: a good write, a write that fails half-way (its savepoint is
 * rolled back), another good write. */
static void a_failing_write_undoes_only_itself(void **st)
{
    (void)st;
    char err[256];
    rk_writer_t *w = rk_writer_start(uri, NULL, err, sizeof err);
    assert_non_null(w);
    rk_mailbox_t *box = rk_mailbox_new(NULL, NULL, NULL);
    wtask *a = new_task("alice", 1700000000000LL, box), *bad = new_task("bob", 1700000001000LL, box),
          *b = new_task("carol", 1700000002000LL, box);
    bad->alert = "no-such-alert";
    /* Queued together before the writer can take the first. */
    rk_writer_submit(w, &a->base);
    rk_writer_submit(w, &bad->base);
    rk_writer_submit(w, &b->base);
    int ok = 0, missing = 0;
    for (int i = 0; i < 3; i++) {
        rk_task_t *t = rk_mailbox_wait(box);
        if (t->rc == 0) ok++;
        if (t->rc == RK_STORE_NOT_FOUND) missing++;
        t->release(t);
    }
    assert_int_equal(ok, 2);
    assert_int_equal(missing, 1);
    rk_mailbox_free(box);
    rk_writer_stop(w);
    assert_int_equal(count_events(), 2);
}

/* A server restarting on a store with recent failures counts each of them
 * once in its state in memory: only the writer's own handle loads them (the
 * checkpointer's handle, which never analyses, once loaded them too, and a
 * user's failures counted double for an hour after a restart). */
static void a_restart_counts_recent_failures_once(void **st)
{
    (void)st;
    char err[512];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    assert_non_null(s);
    int64_t t0 = 1700000000000LL;
    for (int i = 0; i < 3; i++) {
        rk_event_t e = { .user_id = "restarted", .ts_ms = t0 + i * 60000, .ip = "192.0.2.7", .risk_score = 5,
                         .risk_level = "low", .action = "allow" };
        assert_int_equal(rk_store_event_record(s, &e, 1, err, sizeof err), 0);
    }
    rk_store_close(s);
    rk_live_t *lv = rk_live_new(NULL);
    rk_store_opts_t o;
    rk_store_defaults(&o);
    o.live = lv;
    o.live_owner = 1;
    rk_writer_t *w = rk_writer_start(uri, &o, err, sizeof err);
    assert_non_null(w);
    int64_t failures = -1, users = -1;
    assert_int_equal(rk_live_recent(lv, "restarted", "192.0.2.7", t0 - 1, &failures, &users), 1);
    assert_int_equal(failures, 3);
    assert_int_equal(users, 1);
    rk_writer_stop(w);
    rk_live_free(lv);
}

/* Stop answers every queued task before it returns. */
static void stop_drains_the_queue(void **st)
{
    (void)st;
    char err[256];
    rk_writer_t *w = rk_writer_start(uri, NULL, err, sizeof err);
    rk_mailbox_t *box = rk_mailbox_new(NULL, NULL, NULL);
    for (int i = 0; i < 200; i++) rk_writer_submit(w, &new_task("dave", 1700000000000LL + i, box)->base);
    rk_writer_stop(w);
    for (int i = 0; i < 200; i++) {
        rk_task_t *t = rk_mailbox_wait(box);
        assert_int_equal(t->rc, 0);
        t->release(t);
    }
    rk_mailbox_free(box);
    assert_int_equal(count_events(), 200);
}

/* A worker's reads meanwhile: short read transactions, one after another. */
typedef struct { volatile int stop; int reads; } reader_t;

static void *reader(void *arg)
{
    reader_t *r = arg;
    char err[256];
    rk_store_t *s = rk_store_open(uri, NULL, err, sizeof err);
    assert_non_null(s);
    while (!r->stop) {
        rk_profile_t p;
        rk_store_profile_get(s, "u3-1", &p, err, sizeof err);
        r->reads++;
    }
    rk_store_close(s);
    return NULL;
}

static off_t wal_size(void)
{
    char path[1300];
    struct stat sb;
    snprintf(path, sizeof path, "%s/w.db-wal", dir);
    return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* The writer with a set WAL size between checkpoints, whatever the
 * default, so that the tests of the cap keep their size and time. */
#define TEST_CKPT_PAGES 4000
#define TEST_CAP_PAGES (TEST_CKPT_PAGES * RK_WRITER_WAL_CAP_FACTOR)
static rk_writer_t *small_wal_writer(char *err, size_t errlen)
{
    rk_store_opts_t o;
    rk_store_defaults(&o);
    o.checkpoint_pages = TEST_CKPT_PAGES;
    return rk_writer_start(uri, &o, err, errlen);
}

/* Many small commits (two clients with 4 writes in flight each, as busy
 * workers make them) to many users' pages, with a reader busy all the
 * while: the checkpoint thread copies the WAL back and it starts over, so
 * the file stays under the cap. (With passive checkpoints alone it never
 * started over under steady commits: 116 MB here, 3 GB in 25 s of the
 * analyze bench.) */
static void the_wal_is_checkpointed(void **st)
{
    (void)st;
    char err[256];
    rk_writer_t *w = small_wal_writer(err, sizeof err);
    reader_t r = { 0, 0 };
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, reader, &r), 0);
    client_t c[2] = { { w, 3, 25000, 4, 0, 20000 }, { w, 4, 25000, 4, 0, 20000 } };
    pthread_t ct;
    assert_int_equal(pthread_create(&ct, NULL, client, &c[0]), 0);
    client(&c[1]);
    pthread_join(ct, NULL);
    r.stop = 1;
    pthread_join(rt, NULL);
    assert_int_equal(c[0].ok + c[1].ok, 50000);
    assert_true(r.reads > 0);
    rk_writer_stats_t s;
    rk_writer_stats(w, &s);
    assert_true(s.checkpoints >= 3);
    /* the cap, and one batch (at most 8 writes of a few pages each here);
     * a WAL is a 32-byte header and frames of a 24-byte header and a page */
    off_t bound = 32 + (off_t)(TEST_CAP_PAGES + 2000) * (24 + 4096);
    printf("# WAL %lld bytes after %d writes in %llu commits, %llu checkpoints, %llu waits (bound %lld)\n",
           (long long)wal_size(), c[0].ok + c[1].ok, (unsigned long long)s.batches, (unsigned long long)s.checkpoints,
           (unsigned long long)s.cap_waits, (long long)bound);
    assert_true(wal_size() < bound);
    rk_writer_stop(w);
    assert_int_equal(count_events(), 50000);
}

/* A reader that keeps one snapshot for the whole run (an export, `riskd
 * retrain` on the same file) pins the WAL: no checkpoint can copy past its
 * snapshot, so the WAL outgrows the cap. The writer must not then wait for
 * every checkpoint (each would give up after a short wait), holding every
 * write back until the reader is done: it waits at most for the first two
 * (one failed restart can be a short reader's; two in a row, a pinned WAL). */
static void a_long_reader_does_not_hold_writes_back(void **st)
{
    (void)st;
    char err[256], path[1300];
    rk_writer_t *w = small_wal_writer(err, sizeof err);
    assert_non_null(w);
    snprintf(path, sizeof path, "%s/w.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM events;", NULL, NULL, NULL), SQLITE_OK);
    /* enough writes to take the WAL well past its cap while the reader holds it */
    client_t c[2] = { { w, 5, 8000, 64, 0, 20000 }, { w, 6, 8000, 64, 0, 20000 } };
    pthread_t ct;
    assert_int_equal(pthread_create(&ct, NULL, client, &c[0]), 0);
    client(&c[1]);
    pthread_join(ct, NULL);
    assert_int_equal(c[0].ok + c[1].ok, 16000);
    rk_writer_stats_t s;
    rk_writer_stats(w, &s);
    printf("# pinned WAL: %lld bytes after %llu commits, %llu checkpoints, %llu waits\n", (long long)wal_size(),
           (unsigned long long)s.batches, (unsigned long long)s.checkpoints, (unsigned long long)s.cap_waits);
    assert_true(wal_size() > (off_t)TEST_CAP_PAGES * 4096);   /* the reader did pin it */
    assert_true(s.cap_waits <= 2);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    rk_writer_stop(w);
    assert_int_equal(count_events(), 16000);
}

/* The bare pool: tasks run on its threads and come back through the box. */
static void square(rk_task_t *t, void *ctx)
{
    assert_null(ctx);
    t->rc = t->rc * t->rc;
}

static void pool_runs_tasks(void **st)
{
    (void)st;
    char err[256];
    rk_pool_t *p = rk_pool_new(2, err, sizeof err);
    assert_non_null(p);
    rk_mailbox_t *box = rk_mailbox_new(NULL, NULL, NULL);
    rk_task_t t[10];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 10; i++) { t[i].run = square; t[i].rc = i; t[i].reply_to = box; rk_pool_submit(p, &t[i]); }
    int sum = 0;
    for (int i = 0; i < 10; i++) sum += rk_mailbox_wait(box)->rc;
    assert_int_equal(sum, 285);
    rk_pool_free(p);
    rk_mailbox_free(box);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(many_threads_fewer_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failing_write_undoes_only_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_drains_the_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(a_restart_counts_recent_failures_once, setup, teardown),
        cmocka_unit_test_setup_teardown(the_wal_is_checkpointed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_long_reader_does_not_hold_writes_back, setup, teardown),
        cmocka_unit_test(pool_runs_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
