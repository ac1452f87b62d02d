/* rt_ws.h — WebSocket (RFC 6455) at GET /api/ws on a worker: the upgrade and
 * the wiring are riskd's, the framing is wslay's.
 *
 * api/ws.lua checks the handshake headers (and the Bearer token when the
 * client sent one); engine/http.c then hands the request here. The
 * connection's bufferevent is taken over from evhttp (its callbacks and
 * time-outs replaced; evhttp keeps the unanswered request and frees both
 * when the connection is freed), the 101 answer is written, and from then
 * on wslay parses and builds frames over it.
 *
 * Protocol (JSON text messages):
 *   client {"type":"auth","token":T}        first message within 2 s when
 *                                            the upgrade carried no token
 *          {"type":"subscribe","topic":T[,"min_level":L]}  alerts, events
 *                                            (analyst, admin), rules, models (admin)
 *          {"type":"unsubscribe","topic":T}  {"type":"ping"}
 *   server {"type","topic","data","ts"}     hub messages (rt_hub.h), and
 *          {"type":"auth"|"subscribed"|"unsubscribed"|"pong"|"error",...}
 * Limits: messages over 64 KiB close with 1009, invalid UTF-8 with 1007,
 * binary messages with 1003, no authentication in time with 1008; a client
 * whose unsent data passes 1 MiB is dropped (1013 when it can still be
 * told); pings every 30 s, and no pong for 75 s closes; at shutdown 1001.
 */
#ifndef RK_RT_WS_H
#define RK_RT_WS_H

#include "config.h"
#include "rt_hub.h"
#include "rt_session.h"
#include "store.h"

#define RK_WS_MAX_MESSAGE (64 * 1024)
#define RK_WS_MAX_BUFFER (1 << 20)
#define RK_WS_MAX_PER_WORKER 1000
#define RK_WS_AUTH_TIMEOUT_S 2
#define RK_WS_PING_S 30
#define RK_WS_PONG_TIMEOUT_S 75

struct event_base;
struct evhttp_request;
typedef struct rk_wsserver rk_wsserver_t;

rk_wsserver_t *rk_ws_new(struct event_base *base, rk_hub_t *hub, const rk_config_t *cfg, rk_store_t *store);
/* Closes every connection with 1001 (going away): at shutdown. */
void rk_ws_close_all(rk_wsserver_t *s);
void rk_ws_free(rk_wsserver_t *s);
int rk_ws_count(const rk_wsserver_t *s);

/* The Sec-WebSocket-Accept value of a key (29 bytes with the NUL). */
void rk_ws_accept_key(const char *key, char out[29]);

/* Takes req over (see above). role and user are "" when the client will
 * authenticate in its first message. -1 when the worker has too many
 * connections: the caller answers 503. */
int rk_ws_upgrade(rk_wsserver_t *s, struct evhttp_request *req, const rk_session_t *who);

#endif
