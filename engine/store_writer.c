/* store_writer.c — see store_writer.h.
 *
 * Two threads: the writer, and a checkpointer with its own connection that
 * copies the WAL back into the database while the writer goes on
 * committing (a PASSIVE checkpoint takes no write lock). Checkpointing on
 * the writer thread stalled every queued request for the length of an
 * fsync; measured, it was most of a commit's time. A passive checkpoint
 * never catches up with a writer that keeps committing, though, and the
 * WAL only starts over once all of it is copied: so after passive rounds
 * that catch up with the writer (catch_up) the checkpointer holds the
 * writer out between two batches (batch_mu) and copies the rest with a
 * RESTART checkpoint, a short stall since the passive ones did the bulk.
 * If the writer outruns the checkpointer anyway (the WAL past
 * RK_WRITER_WAL_CAP_FACTOR times the checkpoint's size), it waits for the
 * running checkpoint before its next batch: a bounded WAL, paid for in
 * latency only when the disk cannot keep up.
 *
 * The larger the WAL between checkpoints, the fewer times a page written
 * again and again (an index's inner pages, the busy summaries and value
 * counts) is copied back: each checkpoint copies it once however many
 * commits rewrote it. */
#include "store_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct rk_writer {
    rk_queue_t q;
    rk_store_t *store, *ckpt_store;
    pthread_t thread, ckpt_thread;
    int ckpt_started;
    int ckpt_pages, cap_pages;       /* when to ask for a checkpoint, and when to wait for it */
    pthread_mutex_t batch_mu;        /* held by the writer for a batch, by the checkpointer for a restart */

    pthread_mutex_t mu;              /* guards stats and the checkpoint request */
    pthread_cond_t ckpt_cv, ckpt_done_cv;
    int ckpt_wanted, stopping;
    uint64_t ckpt_rounds;            /* checkpoints finished, for the writer's wait */
    int failed_restarts;             /* checkpoints in a row that could not restart the WAL */
    rk_writer_stats_t stats;
};

/* One batch: every task as a savepoint of one transaction. */
static void run_batch(rk_writer_t *w, rk_task_t *batch)
{
    char err[256];
    int n = 0, failed = 0;
    if (rk_store_batch_begin(w->store, err, sizeof err) != 0) {
        failed = 1;
    } else {
        for (rk_task_t *t = batch; t; t = t->next) t->run(t, w->store);
        if (rk_store_batch_end(w->store, err, sizeof err) != 0) failed = 1;
    }
    for (rk_task_t *t = batch; t; t = t->next, n++) {
        if (!failed) continue;
        /* Nothing of this batch is on disk: no task may say it is. */
        t->rc = -1;
        snprintf(t->err, sizeof t->err, "%s", err);
    }
    pthread_mutex_lock(&w->mu);
    w->stats.writes += (uint64_t)n;
    w->stats.batches++;
    w->stats.failed_commits += (uint64_t)failed;
    if (n > w->stats.max_batch) w->stats.max_batch = n;
    int pages = rk_store_wal_pages(w->store);
    if (pages >= w->ckpt_pages && !w->ckpt_wanted && w->ckpt_started) {
        w->ckpt_wanted = 1;
        pthread_cond_signal(&w->ckpt_cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (failed) rk_log_msg(RK_LOG_ERROR, "store commit failed", "error", err);
    for (rk_task_t *t = batch, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        rk_mailbox_post(t->reply_to, t);   /* the owner's from here */
    }
}

/* Past the cap, waits for the checkpoint asked for (running or about to
 * run): its restart copies everything committed so far. Not once two in a
 * row could not restart the WAL: a long reader pins it, and waiting would
 * only hold every write back until that reader is done. One failure alone
 * proves nothing: a busy worker's short read can outlast the restart's wait
 * (seen under AddressSanitizer), and giving up the cap then let the WAL
 * grow past it with no long reader at all. */
static void wait_for_checkpoint(rk_writer_t *w)
{
    if (!w->ckpt_started || rk_store_wal_pages(w->store) < w->cap_pages) return;
    pthread_mutex_lock(&w->mu);
    if (w->failed_restarts >= 2) { pthread_mutex_unlock(&w->mu); return; }
    uint64_t round = w->ckpt_rounds;
    w->stats.cap_waits++;
    while (w->ckpt_rounds == round && w->ckpt_wanted) pthread_cond_wait(&w->ckpt_done_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    rk_writer_t *w = arg;
    rk_task_t *batch;
    pthread_setname_np(pthread_self(), "riskd-writer");
    while ((batch = rk_queue_take(&w->q, RK_WRITER_MAX_BATCH)) != NULL) {
        pthread_mutex_lock(&w->batch_mu);
        run_batch(w, batch);
        pthread_mutex_unlock(&w->batch_mu);
        wait_for_checkpoint(w);
    }
    return NULL;
}

/* Passive checkpoints while the writer goes on, until one finds that the
 * writer appended fewer than RK_WRITER_CATCHUP_PAGES pages during the one
 * before (or after RK_WRITER_CATCHUP_ROUNDS): the restart that follows holds
 * every write back for as long as it takes to copy and sync what is left,
 * so each round shrinks that. Measured on the analyze bench: with a single
 * passive round, restarts held writes back 6.5-7.5 ms on average at one
 * connection (copying and syncing; they never waited for a reader) and
 * made the route's p99, 7.9-8.1 ms; with these rounds, a p99 of 4.2-4.5 ms.
 * At 64 connections restarts still take 10-15 ms: there the disk is busy
 * with the WAL and an fsync takes 2-18 ms. */
static int catch_up(rk_writer_t *w, char *err, size_t errlen)
{
    int rc = 0, frames = 0, before = -1;
    for (int round = 0; round < RK_WRITER_CATCHUP_ROUNDS; round++) {
        rc = rk_store_checkpoint(w->ckpt_store, 0, &frames, err, errlen);
        /* The WAL may have started over in between: frames < before. */
        if (rc < 0 || (before >= 0 && frames - before < RK_WRITER_CATCHUP_PAGES)) break;
        before = frames;
    }
    return rc;
}

static void *checkpoint_main(void *arg)
{
    rk_writer_t *w = arg;
    char err[256];
    pthread_setname_np(pthread_self(), "riskd-checkpt");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->ckpt_wanted && !w->stopping) pthread_cond_wait(&w->ckpt_cv, &w->mu);
        if (!w->ckpt_wanted) break;
        pthread_mutex_unlock(&w->mu);
        int rc = catch_up(w, err, sizeof err);
        if (rc >= 0) {
            pthread_mutex_lock(&w->batch_mu);
            rc = rk_store_checkpoint(w->ckpt_store, 1, NULL, err, sizeof err);
            pthread_mutex_unlock(&w->batch_mu);
        }
        if (rc < 0) rk_log_msg(RK_LOG_WARN, "checkpoint failed", "error", err);
        pthread_mutex_lock(&w->mu);
        w->ckpt_wanted = 0;
        w->ckpt_rounds++;
        w->failed_restarts = rc == 0 ? 0 : w->failed_restarts + 1;
        pthread_cond_broadcast(&w->ckpt_done_cv);
        if (rc >= 0) w->stats.checkpoints++;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_free(rk_writer_t *w)
{
    rk_store_close(w->store);
    rk_store_close(w->ckpt_store);
    rk_queue_destroy(&w->q);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->batch_mu);
    pthread_cond_destroy(&w->ckpt_cv);
    pthread_cond_destroy(&w->ckpt_done_cv);
    free(w);
}

void rk_writer_handle_opts(rk_store_opts_t *o) { o->manual_checkpoint = 1; }

rk_writer_t *rk_writer_start(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen)
{
    rk_writer_t *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    rk_queue_init(&w->q);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->batch_mu, NULL);
    pthread_cond_init(&w->ckpt_cv, NULL);
    pthread_cond_init(&w->ckpt_done_cv, NULL);
    rk_store_opts_t so;
    if (o) so = *o; else rk_store_defaults(&so);
    rk_writer_handle_opts(&so);
    if (so.checkpoint_pages <= 0) {
        rk_store_opts_t def;
        rk_store_defaults(&def);
        so.checkpoint_pages = def.checkpoint_pages;
    }
    w->ckpt_pages = so.checkpoint_pages;
    w->cap_pages = so.checkpoint_pages * RK_WRITER_WAL_CAP_FACTOR;
    w->store = rk_store_open(uri, &so, err, errlen);
    if (w->store && rk_store_batches(w->store)) {
        rk_store_opts_t co = so;   /* copies pages, never analyses: not the live state's owner */
        co.live = NULL;
        co.live_owner = 0;
        co.summary_ms = 0;
        w->ckpt_store = rk_store_open(uri, &co, err, errlen);
    }
    if (!w->store || (rk_store_batches(w->store) && !w->ckpt_store)) { writer_free(w); return NULL; }
    if (w->ckpt_store) {
        if (pthread_create(&w->ckpt_thread, NULL, checkpoint_main, w) != 0) {
            snprintf(err, errlen, "cannot start the checkpoint thread");
            writer_free(w);
            return NULL;
        }
        w->ckpt_started = 1;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the store writer");
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_cond_signal(&w->ckpt_cv);
        pthread_mutex_unlock(&w->mu);
        if (w->ckpt_started) pthread_join(w->ckpt_thread, NULL);
        writer_free(w);
        return NULL;
    }
    return w;
}

void rk_writer_submit(rk_writer_t *w, rk_task_t *t) { rk_queue_push(&w->q, t); }

void rk_writer_stats(rk_writer_t *w, rk_writer_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void rk_writer_stop(rk_writer_t *w)
{
    if (!w) return;
    rk_queue_close(&w->q);
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    w->ckpt_wanted = w->ckpt_store != NULL;   /* one last, so the WAL is small for the next start */
    pthread_cond_signal(&w->ckpt_cv);
    pthread_mutex_unlock(&w->mu);
    if (w->ckpt_started) pthread_join(w->ckpt_thread, NULL);
    writer_free(w);
}
