/* store_writer.h — the one thread of a server that writes to the store,
 * committing many requests' writes in one transaction (group commit).
 *
 * Why: SQLite has one write lock, and each commit writes every page it
 * dirtied to the WAL; with each worker committing its own event, two
 * workers could never have more than two events per commit and spent most
 * of their time in commits. The workers now hand writes to this thread as
 * tasks (task.h) and serve other requests meanwhile; the writer takes
 * whatever is queued (up to RK_WRITER_MAX_BATCH), runs each as its own
 * savepoint inside one transaction, commits, and only then posts every
 * task back: an acknowledged write is in the WAL. If the commit fails, every
 * task of the batch is answered with that error.
 *
 * The writer also checkpoints the WAL (the server's connections have
 * automatic checkpoints off), so no request ever waits for one.
 */
#ifndef RK_STORE_WRITER_H
#define RK_STORE_WRITER_H

#include "store.h"
#include "task.h"

#define RK_WRITER_MAX_BATCH 512
/* A checkpoint is asked for once the WAL holds rk_store_opts_t.checkpoint_pages;
 * past this many times that, the writer waits for it. */
#define RK_WRITER_WAL_CAP_FACTOR 4
#define RK_WRITER_CATCHUP_PAGES 256       /* passive rounds go on while the writer appends this many during one */
#define RK_WRITER_CATCHUP_ROUNDS 8        /* and stop after this many in any case */

typedef struct rk_writer rk_writer_t;

typedef struct rk_writer_stats {
    uint64_t writes, batches, failed_commits, checkpoints, cap_waits;
    int max_batch;
} rk_writer_stats_t;

/* The options every other handle on the store a writer serves opens with:
 * no checkpoint on commit, since the writer's own thread does them. */
void rk_writer_handle_opts(rk_store_opts_t *o);
/* Opens its own store handle from uri and starts the thread. */
rk_writer_t *rk_writer_start(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen);
/* Queues t; its run(t, store) is called on the writer thread, then it is
 * posted to t->reply_to. Any thread. */
void rk_writer_submit(rk_writer_t *w, rk_task_t *t);
void rk_writer_stats(rk_writer_t *w, rk_writer_stats_t *out);
/* Finishes every queued task, then stops the thread and closes the store. */
void rk_writer_stop(rk_writer_t *w);

#endif
