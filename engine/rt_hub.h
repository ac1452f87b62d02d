/* rt_hub.h — the server's message bus for real-time clients. Pure C.
 *
 * A handler on any worker publishes a message (a topic — alerts, events,
 * rules, models — a severity level for events, and the JSON text to send);
 * the hub numbers it, keeps the last `backlog` messages in a ring (so that a
 * client that reconnects with Last-Event-ID gets what it missed), and wakes
 * every watcher (one per worker) to hand the new messages to its own
 * connections. Messages are immutable and reference-counted: a worker holds
 * the ones it is still writing without copying them. Thread-safe.
 */
#ifndef RK_RT_HUB_H
#define RK_RT_HUB_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#define RK_HUB_MAX_WATCHERS 64
#define RK_HUB_BACKLOG 1024          /* messages kept for clients that resume */

typedef struct rk_hub rk_hub_t;

typedef struct rk_hub_msg {
    atomic_int refs;
    uint64_t id;               /* 1, 2, 3 ... for the life of the server */
    char topic[16];
    int level;                 /* 0 low .. 3 critical (events), else 0 */
    size_t len;
    char json[];               /* NUL-terminated */
} rk_hub_msg_t;

rk_hub_t *rk_hub_new(size_t backlog);
void rk_hub_free(rk_hub_t *h);

/* notify(arg) is called (from the publishing thread) after each publish. */
int rk_hub_watch(rk_hub_t *h, void (*notify)(void *arg), void *arg);

/* 0 when out of memory, else the message's id. */
uint64_t rk_hub_publish(rk_hub_t *h, const char *topic, int level, const char *json, size_t len);

/* Up to max messages with id > after, oldest first, each with a reference
 * the caller drops with rk_hub_release. *missed is set to the number of
 * messages after `after` that are no longer in the backlog. */
size_t rk_hub_read(rk_hub_t *h, uint64_t after, rk_hub_msg_t **out, size_t max, uint64_t *missed);
void rk_hub_release(rk_hub_msg_t *m);
uint64_t rk_hub_last_id(rk_hub_t *h);

/* Subscribers per topic (kept by the workers), so that publishers can skip
 * encoding a message nobody listens to. */
void rk_hub_subscribers_add(rk_hub_t *h, const char *topic, int delta);
int rk_hub_subscribers(rk_hub_t *h, const char *topic);

/* The topics, by index (for bit sets and per-topic counts). */
enum { RK_TOPIC_ALERTS, RK_TOPIC_EVENTS, RK_TOPIC_RULES, RK_TOPIC_MODELS, RK_HUB_NTOPICS };
int rk_hub_topic_index(const char *topic);   /* -1 when not a topic (or NULL) */
const char *rk_hub_topic_name(int index);

#endif
