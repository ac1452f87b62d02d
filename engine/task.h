/* task.h — work a worker hands to another thread, and the way the result
 * comes back to it. Pure C, no Lua.
 *
 * A worker must never block its event loop: a request whose handler needs a
 * store write or a password hash suspends (vm.h, rk_vm_await) while a task
 * runs elsewhere — on the store writer (store_writer.h), which commits many
 * writes in one transaction, or on a small thread pool (rk_pool, for
 * argon2). When the task is done it is posted to the mailbox it names, whose
 * callback runs on the owner's thread and resumes the request.
 *
 * Ownership: the submitter allocates the task; after delivery the owner's
 * mailbox callback decides (resume the request, or drop a task whose request
 * gave up waiting) and calls release.
 */
#ifndef RK_TASK_H
#define RK_TASK_H

#include <pthread.h>
#include <stdint.h>

struct event_base;
struct event;

typedef struct rk_task rk_task_t;
typedef struct rk_mailbox rk_mailbox_t;

struct rk_task {
    /* On the executing thread. ctx: the writer's store, or NULL on a pool.
     * Sets rc (0 or the store's codes, -1 on error) and err. */
    void (*run)(rk_task_t *t, void *ctx);
    void (*release)(rk_task_t *t);   /* frees the task; on the owner's thread */
    rk_mailbox_t *reply_to;          /* where the finished task is posted */
    void *owner;                     /* the owner's bookkeeping (a suspended request) */
    rk_task_t *next;                 /* queue link, owned by whoever holds the task */
    int rc;
    char err[256];
};

/* ---- mailbox: finished tasks back to their owner's thread ---- */

typedef void (*rk_mailbox_fn)(rk_task_t *t, void *arg);

/* With a base: fn runs on that base's thread for every posted task
 * (libevent must have evthread_use_pthreads). Without (base NULL): tasks
 * wait in the box for rk_mailbox_wait — for tools, tests and benchmarks. */
rk_mailbox_t *rk_mailbox_new(struct event_base *base, rk_mailbox_fn fn, void *arg);
void rk_mailbox_post(rk_mailbox_t *m, rk_task_t *t);   /* any thread */
/* Blocks until a task is posted, takes and returns it (base NULL only). */
rk_task_t *rk_mailbox_wait(rk_mailbox_t *m);
/* Runs fn for what is still in the box (at shutdown), then frees it. A box
 * with a base must outlive every thread that may post to it (the server
 * stops its writer and pool first); a base-less one may be freed once its
 * owner has taken every task it expects. */
void rk_mailbox_free(rk_mailbox_t *m);

/* ---- queue: tasks waiting for a thread (the pool's and the writer's) ---- */

typedef struct rk_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rk_task_t *head, *tail;
    int closed;
} rk_queue_t;

void rk_queue_init(rk_queue_t *q);
void rk_queue_destroy(rk_queue_t *q);
void rk_queue_push(rk_queue_t *q, rk_task_t *t);
/* Waits for work and takes up to max tasks in order (max <= 0: all of
 * them); NULL once the queue is closed and empty. */
rk_task_t *rk_queue_take(rk_queue_t *q, int max);
/* No more pushes are expected; takers drain what is left, then get NULL. */
void rk_queue_close(rk_queue_t *q);

/* ---- pool: a few threads for CPU-heavy calls (password hashing) ---- */

typedef struct rk_pool rk_pool_t;

rk_pool_t *rk_pool_new(int threads, char *err, size_t errlen);
void rk_pool_submit(rk_pool_t *p, rk_task_t *t);
/* Runs what was submitted, then joins the threads. NULL is a no-op. */
void rk_pool_free(rk_pool_t *p);

#endif
