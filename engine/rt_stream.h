/* rt_stream.h — Server-Sent Events on a worker: long-lived responses fed by
 * the hub (rt_hub.h). Each worker owns the streams of its own connections and
 * is woken by the hub when a message is published on any worker; it then
 * writes the messages each stream wants (topic, minimum level) as SSE
 * records ("id:", "event:", "data:"). A client that reconnects with
 * Last-Event-ID resumes from the hub's backlog (and is told how many
 * messages it missed when the backlog no longer has them). A client that
 * does not read is dropped once RK_STREAM_MAX_BUFFER bytes wait for it,
 * instead of growing the server's memory. Comments keep idle streams alive
 * through proxies. Each stream's session (rt_session.h) is checked every
 * second: a revoked one gets `event: revoked` with the reason, and ends. */
#ifndef RK_RT_STREAM_H
#define RK_RT_STREAM_H

#include <stdint.h>

#include "rt_hub.h"
#include "rt_session.h"

#define RK_STREAM_MAX_BUFFER (1 << 20)
#define RK_STREAM_KEEPALIVE_S 15
#define RK_STREAM_MAX_PER_WORKER 1000

struct event_base;
struct evhttp_request;
typedef struct rk_streams rk_streams_t;

rk_streams_t *rk_streams_new(struct event_base *base, rk_hub_t *hub, rk_store_t *store);
/* Ends every stream (shutdown) */
void rk_streams_close_all(rk_streams_t *s);
void rk_streams_free(rk_streams_t *s);
int rk_streams_count(const rk_streams_t *s);
uint64_t rk_streams_dropped(const rk_streams_t *s);

/* Answers req with 200 text/event-stream and keeps it open. topic NULL:
 * every topic. min_level applies to "events". last_id 0: only what is
 * published from now on. -1 when the worker has too many streams (the
 * caller answers 503). */
int rk_streams_start(rk_streams_t *s, struct evhttp_request *req, const char *topic, int min_level, uint64_t last_id,
                     const rk_session_t *who);

#endif
