/* http_admit.h — what a worker lets in before a request is read.
 *
 * Bodies. A request's body limit is its route's: the mail limit for the
 * routes the dispatcher declares body = "mail" (POST, exact path), the
 * server's body limit for every other. libevent 2.1 has no hook between a
 * request's line and its body, so the worker makes each connection's
 * bufferevent (evhttp_set_bevcb) and watches its input: when a request
 * starts, its request line says the route, and the connection's body limit
 * is set before evhttp reads on. evhttp then refuses a Content-Length over
 * it at once and a chunked body when it passes it, with 413: the rest is
 * read and dropped (lingering close), never buffered, and no handler or
 * authentication runs. The limit goes back to the default when the request
 * is answered.
 *
 * Connections. Counted from a connection's first bytes to its close, per
 * worker and per client address (over all workers, addrcount.h); a request
 * on a connection over either cap is answered 503 too_many_connections and
 * the connection closed. A stream or WebSocket that takes a connection over
 * leaves these counts for its own caps (rt_stream.h, rt_ws.h). A connection that
 * never sends a byte is not counted: the idle time-out closes it.
 */
#ifndef RK_HTTP_ADMIT_H
#define RK_HTTP_ADMIT_H

#include <stddef.h>

#include "addrcount.h"

struct evhttp;
struct evhttp_request;
struct evhttp_connection;

#define RK_ADMIT_MAX_MAIL_PATHS 8

typedef struct rk_admit rk_admit_t;

/* Sets itself up on http (its bevcb and default body limit). */
rk_admit_t *rk_admit_new(struct evhttp *http, size_t body_limit, size_t mail_limit, int max_connections,
                         rk_addrcount_t *per_address);
/* After evhttp_free (whose connections report their close here). */
void rk_admit_free(rk_admit_t *a);
/* The calling thread is a's worker: the input watcher finds it here. */
void rk_admit_bind_thread(rk_admit_t *a);
/* The routes that take mail-sized bodies (exact paths, POST), from the live code. */
void rk_admit_set_mail_paths(rk_admit_t *a, const char *const *paths, int n);

/* 1 when req's connection is over a cap: answer 503 and close it. */
int rk_admit_refused(rk_admit_t *a, struct evhttp_request *req);
/* req was answered: its connection's next request starts at the default limit. */
void rk_admit_done(rk_admit_t *a, struct evhttp_request *req);
/* A stream or WebSocket takes conn over: it leaves the counts and is no longer watched. */
void rk_admit_detach(rk_admit_t *a, struct evhttp_connection *conn);

int rk_admit_count(const rk_admit_t *a);

#endif
