/* worker.h — one server thread: its own event_base, evhttp and Lua state.
 * Shared by server.c (life cycle, reload, shutdown) and http.c (requests). */
#ifndef RK_WORKER_H
#define RK_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "netaddr.h"
#include "vm.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct event;

typedef struct rk_worker {
    int id;
    const rk_config_t *cfg;
    const rk_cidr_list_t *trusted;
    int proxy_forwarded;          /* the proxies' header: 1 Forwarded (RFC 7239), 0 X-Forwarded-For */
    rk_metrics_t *metrics;
    void *server;                     /* rk_server_t, for reloads */

    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *reload_ev, *stop_ev, *drain_ev;

    rk_vm_t *vm;                      /* only this thread touches it */
    rk_vm_host_t host;
    int handle_ref;                   /* dispatch.handle in the vm's registry */

    rk_mailbox_t *mailbox;            /* finished tasks of suspended requests */
    struct rk_streams *streams;       /* this worker's Server-Sent Events clients */
    struct rk_wsserver *ws;           /* and its WebSocket connections */
    struct rk_admit *admit;           /* body limits and connection caps (http_admit.h) */

    int pending;                      /* responses queued but not yet written */
    int draining;
    uint64_t drain_deadline;
} rk_worker_t;

/* evhttp's generic callback: every request of a worker goes through here. */
struct evhttp_request;
void rk_http_handle(struct evhttp_request *req, void *worker);
/* The mailbox callback: resumes the request that waited on t. */
void rk_http_deliver(rk_task_t *t, void *worker);

#endif
