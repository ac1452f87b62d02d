/* mongo_watch.h — alerts raised or changed by other riskd instances, heard
 * through a MongoDB change stream and handed to this server's real-time
 * clients (rt_hub.h). Pure C (mongo-c-driver), no Lua.
 *
 * Why: several instances share one MongoDB deployment; an analyst's console
 * is connected to one of them, and must hear of an alert whichever instance
 * raised it. Each instance tags what it writes to an alert with its origin
 * (rk_mongo_origin()); the change stream asks the server only for changes
 * of other origins, since this instance already published its own.
 *
 * Change streams need a replica set or a sharded cluster (a standalone
 * mongod refuses them): the watcher then says so in the log and retries
 * now and then, and the instance works on without the cross-instance feed.
 * A dropped connection or a failover resumes from the last change seen
 * (its resume token), so nothing is missed while the server keeps it.
 */
#ifndef RK_MONGO_WATCH_H
#define RK_MONGO_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rt_hub.h"

typedef struct rk_mongo_watch rk_mongo_watch_t;

/* This process's origin tag: 24 hex digits, random, fixed for its life. */
const char *rk_mongo_origin(void);

/* Starts the watching thread on uri's database (collection alerts). */
rk_mongo_watch_t *rk_mongo_watch_start(const char *uri, rk_hub_t *hub, char *err, size_t errlen);
/* Stops it (within about a second: the longest a getMore waits). */
void rk_mongo_watch_stop(rk_mongo_watch_t *w);

/* The real-time message for one change document, as the instance that made
 * the change published it ({"type","topic":"alerts","data","ts"}; type
 * created, updated or status_changed), malloc'd; NULL when the change is not
 * one to tell (a delete, a document gone since). `change` is the BSON of the
 * change event (const bson_t *, void here to keep libbson out of this header). */
char *rk_mongo_watch_message(const void *change, int64_t now_ms, size_t *len);

#endif
