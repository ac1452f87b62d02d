/* mongo_watch.c — see mongo_watch.h. */
#include "mongo_watch.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "mongo_init.h"
#include "store_impl.h"   /* rk_store_now_ms: this is the MongoDB backend's */

#define AWAIT_MS 1000          /* a getMore waits this long for a change: also how fast stop() is */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define NOT_REPLICA_SET 40573  /* "The $changeStream stage is only supported on replica sets" */

struct rk_mongo_watch {
    char *uri;
    rk_hub_t *hub;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
};

/* ---- the origin tag --------------------------------------------------------- */

static char origin[25];
static pthread_once_t origin_once = PTHREAD_ONCE_INIT;

static void make_origin(void)
{
    unsigned char b[12];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* No entropy: time and address still tell two processes apart. */
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&b;
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(t >> (8 * (i % 8)) ^ i);
    }
    for (size_t i = 0; i < sizeof b; i++) snprintf(origin + 2 * i, 3, "%02x", b[i]);
}

const char *rk_mongo_origin(void)
{
    pthread_once(&origin_once, make_origin);
    return origin;
}

/* ---- a change as a real-time message ------------------------------------------ */

static const char *str_at(const bson_t *d, const char *dotted)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, d) || !bson_iter_find_descendant(&it, dotted, &f) || !BSON_ITER_HOLDS_UTF8(&f)) return NULL;
    return bson_iter_utf8(&f, NULL);
}

static void copy_str(bson_t *out, const char *key, const bson_t *d, const char *from)
{
    const char *v = str_at(d, from);
    if (v) BSON_APPEND_UTF8(out, key, v);
}

/* The last (or, with back = 1, the one before) element of array `key` of d. */
static int array_from_end(const bson_t *d, const char *key, int back, bson_iter_t *out)
{
    bson_iter_t it, arr;
    if (!bson_iter_init_find(&it, d, key) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) return 0;
    bson_iter_t last, before;   /* (bson_iter_t is over-aligned: no array of them) */
    int n = 0;
    while (bson_iter_next(&arr)) {
        if (n++) before = last;
        last = arr;
    }
    if (n <= back) return 0;
    *out = back ? before : last;
    return 1;
}

static const char *history_field(const bson_t *doc, int back, const char *field)
{
    bson_iter_t h, f;
    if (!array_from_end(doc, "history", back, &h) || !BSON_ITER_HOLDS_DOCUMENT(&h) || !bson_iter_recurse(&h, &f)) return NULL;
    while (bson_iter_next(&f))
        if (strcmp(bson_iter_key(&f), field) == 0 && BSON_ITER_HOLDS_UTF8(&f)) return bson_iter_utf8(&f, NULL);
    return NULL;
}

/* The reasons the raising instance gave, from the alert's doc (JSON text). */
static void append_reasons(bson_t *data, const bson_t *doc)
{
    const char *json = str_at(doc, "doc");
    if (!json) return;
    bson_error_t e;
    bson_t *d = bson_new_from_json((const uint8_t *)json, -1, &e);
    if (!d) return;
    bson_iter_t it;
    if (bson_iter_init_find(&it, d, "reasons") && BSON_ITER_HOLDS_ARRAY(&it)) {
        const uint8_t *buf;
        uint32_t len;
        bson_iter_array(&it, &len, &buf);
        bson_t arr;
        if (bson_init_static(&arr, buf, len)) BSON_APPEND_ARRAY(data, "reasons", &arr);
    }
    bson_destroy(d);
}

/* What the change is: created, status_changed, updated, or NULL (nothing to tell). */
static const char *change_kind(const bson_t *change)
{
    const char *op = str_at(change, "operationType");
    if (!op) return NULL;
    if (strcmp(op, "insert") == 0) return "created";
    if (strcmp(op, "update") != 0 && strcmp(op, "replace") != 0) return NULL;
    bson_iter_t it, f;
    if (bson_iter_init(&it, change) && bson_iter_find_descendant(&it, "updateDescription.updatedFields.status", &f))
        return "status_changed";
    return "updated";
}

char *rk_mongo_watch_message(const void *change_v, int64_t now_ms, size_t *len)
{
    const bson_t *change = change_v;
    const char *kind = change_kind(change);
    bson_iter_t it, id;
    if (!kind || !bson_iter_init_find(&it, change, "fullDocument") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return NULL;
    const uint8_t *buf;
    uint32_t blen;
    bson_iter_document(&it, &blen, &buf);
    bson_t doc;
    if (!bson_init_static(&doc, buf, blen) || !bson_iter_init_find(&id, &doc, "_id") || !BSON_ITER_HOLDS_OID(&id)) return NULL;

    bson_t data = BSON_INITIALIZER;
    char hex[25];
    bson_oid_to_string(bson_iter_oid(&id), hex);
    BSON_APPEND_UTF8(&data, "alert_id", hex);
    copy_str(&data, "user_id", &doc, "user_id");
    copy_str(&data, "severity", &doc, "severity");
    copy_str(&data, "cause", &doc, "cause");
    copy_str(&data, "status", &doc, "status");
    if (strcmp(kind, "status_changed") == 0) {
        const char *by = history_field(&doc, 0, "who"), *note = history_field(&doc, 0, "note");
        const char *prev = history_field(&doc, 1, "status");
        if (prev) BSON_APPEND_UTF8(&data, "previous", prev);
        if (by) BSON_APPEND_UTF8(&data, "by", by);
        if (note) BSON_APPEND_UTF8(&data, "note", note);
    } else {
        bson_iter_t ev;
        if (array_from_end(&doc, "event_ids", 0, &ev) && BSON_ITER_HOLDS_UTF8(&ev))
            BSON_APPEND_UTF8(&data, "event_id", bson_iter_utf8(&ev, NULL));
        if (bson_iter_init_find(&it, &doc, "event_count") && BSON_ITER_HOLDS_NUMBER(&it))
            BSON_APPEND_INT64(&data, "event_count", bson_iter_as_int64(&it));
        append_reasons(&data, &doc);
    }
    copy_str(&data, "origin", &doc, "origin");

    char ts[32];
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Relaxed extended JSON is plain JSON for what data holds (strings,
     * integers, arrays of strings). */
    size_t dlen;
    char *dj = bson_as_relaxed_extended_json(&data, &dlen);
    bson_destroy(&data);
    if (!dj) return NULL;
    size_t cap = dlen + 128;
    char *out = malloc(cap);
    if (out) {
        int n = snprintf(out, cap, "{\"type\":\"%s\",\"topic\":\"alerts\",\"data\":%s,\"ts\":\"%s.%03dZ\"}", kind, dj, ts,
                         (int)(now_ms % 1000));
        if (n < 0 || (size_t)n >= cap) { free(out); out = NULL; }
        else if (len) *len = (size_t)n;
    }
    bson_free(dj);
    return out;
}

/* ---- the thread ------------------------------------------------------------------ */

static int stopping(rk_mongo_watch_t *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* Sleeps ms, or less when stopped. */
static void pause_ms(rk_mongo_watch_t *w, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) { }
    pthread_mutex_unlock(&w->mu);
}

/* Only other instances' changes: this one published its own already. An
 * update that does not set origin (another tool's) is someone else's too. */
static bson_t *pipeline(void)
{
    return BCON_NEW("pipeline", "[", "{", "$match", "{", "$or", "[",
                    "{", "operationType", BCON_UTF8("insert"), "fullDocument.origin", "{", "$ne", BCON_UTF8(rk_mongo_origin()), "}", "}",
                    "{", "operationType", "{", "$in", "[", BCON_UTF8("update"), BCON_UTF8("replace"), "]", "}",
                    "updateDescription.updatedFields.origin", "{", "$ne", BCON_UTF8(rk_mongo_origin()), "}", "}",
                    "]", "}", "}", "]");
}

static void publish(rk_mongo_watch_t *w, const bson_t *change)
{
    if (!rk_hub_subscribers(w->hub, "alerts")) return;   /* as lib/realtime.lua: nobody listens */
    size_t len;
    char *msg = rk_mongo_watch_message(change, rk_store_now_ms(), &len);
    if (!msg) return;
    rk_hub_publish(w->hub, "alerts", 0, msg, len);
    free(msg);
}

/* One change stream, followed until it fails or the watcher stops. Returns
 * the time to wait before the next one; *token keeps where to resume;
 * *delivered is set when a change came. */
static int follow(rk_mongo_watch_t *w, mongoc_collection_t *coll, bson_t **token, int *warned_rs, int *delivered)
{
    bson_t *pipe = pipeline();
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&opts, "fullDocument", "updateLookup");
    BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", AWAIT_MS);
    if (*token) BSON_APPEND_DOCUMENT(&opts, "resumeAfter", *token);
    mongoc_change_stream_t *cs = mongoc_collection_watch(coll, pipe, &opts);
    bson_destroy(pipe);
    bson_destroy(&opts);
    const bson_t *change, *reply = NULL;
    bson_error_t e;
    int wait = RETRY_MIN_MS;
    while (!stopping(w)) {
        if (mongoc_change_stream_next(cs, &change)) {
            publish(w, change);
            *delivered = 1;
            const bson_t *t = mongoc_change_stream_get_resume_token(cs);
            if (t) { if (*token) bson_destroy(*token); *token = bson_copy(t); }
            *warned_rs = 0;
            continue;
        }
        if (!mongoc_change_stream_error_document(cs, &e, &reply)) continue;   /* no change within AWAIT_MS */
        if (e.code == NOT_REPLICA_SET) {
            if (!*warned_rs)
                rk_log_msg(RK_LOG_WARN, "alerts from other instances are not heard: change streams need a replica set"
                           " or a sharded cluster", "error", e.message);
            *warned_rs = 1;
            wait = RETRY_MAX_MS;
        } else {
            rk_log_msg(RK_LOG_WARN, "alert change stream failed; resuming", "error", e.message);
        }
        break;
    }
    mongoc_change_stream_destroy(cs);
    return wait;
}

static void *watch_main(void *arg)
{
    rk_mongo_watch_t *w = arg;
    pthread_setname_np(pthread_self(), "riskd-mwatch");
    bson_error_t e;
    mongoc_uri_t *mu = mongoc_uri_new_with_error(w->uri, &e);
    /* A getMore waits up to AWAIT_MS by design: a shorter socket time-out
     * would fail every quiet one; the default (5 minutes) would let a
     * silent network hold up a shutdown that long. */
    if (mu) mongoc_uri_set_option_as_int32(mu, MONGOC_URI_SOCKETTIMEOUTMS, AWAIT_MS + 4000);
    mongoc_client_t *client = mu ? mongoc_client_new_from_uri(mu) : NULL;
    if (!client) {
        rk_log_msg(RK_LOG_ERROR, "cannot watch alerts", "error", mu ? "cannot create a client" : e.message);
        mongoc_uri_destroy(mu);
        return NULL;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(client, "riskd-watch");
    const char *db = mongoc_uri_get_database(mu);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db ? db : "riskd", "alerts");
    bson_t *token = NULL;
    int warned_rs = 0, backoff = RETRY_MIN_MS;
    while (!stopping(w)) {
        int delivered = 0;
        int wait = follow(w, coll, &token, &warned_rs, &delivered);
        if (stopping(w)) break;
        /* Back off while it keeps failing at once; start again from the
         * shortest wait once a stream delivered something. */
        backoff = delivered ? RETRY_MIN_MS : backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
        pause_ms(w, wait > backoff ? wait : backoff);
    }
    if (token) bson_destroy(token);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(mu);
    return NULL;
}

rk_mongo_watch_t *rk_mongo_watch_start(const char *uri, rk_hub_t *hub, char *err, size_t errlen)
{
    rk_mongo_init();
    rk_mongo_watch_t *w = calloc(1, sizeof *w);
    if (!w || !(w->uri = strdup(uri))) { free(w); snprintf(err, errlen, "out of memory"); return NULL; }
    w->hub = hub;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        snprintf(err, errlen, "cannot start the alert watcher");
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w->uri);
        free(w);
        return NULL;
    }
    return w;
}

void rk_mongo_watch_stop(rk_mongo_watch_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->uri);
    free(w);
}
