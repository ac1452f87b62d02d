/* mongo_init.h — the MongoDB driver's one-time set-up, shared by the store,
 * the change-stream watcher and the Lua binding: its log messages go to
 * riskd's JSON log (the driver prints plain lines on stderr otherwise, which
 * would break a log of one JSON object per line), then mongoc_init. */
#ifndef RK_MONGO_INIT_H
#define RK_MONGO_INIT_H

/* Safe to call from any thread, any number of times. */
void rk_mongo_init(void);

#endif
