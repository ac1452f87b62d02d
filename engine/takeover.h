/* takeover.h — what a handler asks of its answer beyond a status and a
 * body: that the connection become a Server-Sent Events stream or a
 * WebSocket. A handler says so with riskd.web.stream(req, ...) or
 * riskd.web.upgrade(req, ...) (l_web.c), which fill the request's takeover;
 * the server (http.c) acts on it when the handler answers 200. */
#ifndef RK_TAKEOVER_H
#define RK_TAKEOVER_H

#include <stdint.h>

#include "rt_session.h"

enum { RK_TAKEOVER_NONE = 0, RK_TAKEOVER_STREAM, RK_TAKEOVER_WEBSOCKET };

typedef struct rk_takeover {
    int kind;
    char topic[16];          /* a stream's topic; "" = every topic */
    int min_level;           /* of the events topic */
    uint64_t last_id;        /* resume after this message (Last-Event-ID) */
    rk_session_t who;        /* checked again every second (rt_session.h) */
} rk_takeover_t;

/* The Lua type of the request's handle on its takeover (req._answer). */
#define RK_TAKEOVER_T "riskd.web.answer"

#endif
