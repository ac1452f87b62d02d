/* mongo_init.c — see mongo_init.h. */
#include "mongo_init.h"
#include "log.h"

#include <mongoc/mongoc.h>
#include <pthread.h>

static void to_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)data;
    rk_log_level lvl = level <= MONGOC_LOG_LEVEL_CRITICAL ? RK_LOG_ERROR
                     : level == MONGOC_LOG_LEVEL_WARNING ? RK_LOG_WARN
                     : level <= MONGOC_LOG_LEVEL_INFO ? RK_LOG_INFO : RK_LOG_DEBUG;
    /* the driver's tracing is for its own developers */
    if (level == MONGOC_LOG_LEVEL_TRACE) return;
    rk_log_t e;
    rk_log_begin(&e, lvl, "mongodb driver");
    rk_log_str(&e, "domain", domain ? domain : "");
    rk_log_str(&e, "message", message ? message : "");
    rk_log_end(&e);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    /* before mongoc_init: it may already say something */
    mongoc_log_set_handler(to_log, NULL);
    mongoc_init();
}

void rk_mongo_init(void) { pthread_once(&once, init); }
